//! Matching a request against the `[[http.allow]]` rules.

use super::EgressError;
use crate::glob;
use crate::policy::{HttpRule, Scheme};

/// What a rule is matched against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestLine<'a> {
    pub scheme: Scheme,
    /// Lowercase; IPv6 without brackets.
    pub host: &'a str,
    pub port: u16,
    /// Uppercase.
    pub method: &'a str,
    /// The path, without the query.
    pub path: &'a str,
}

/// The first rule that allows the request, or why none does (naming the
/// closest rule's restriction, so the operator sees what to change).
pub(crate) fn find<'r>(rules: &'r [HttpRule], req: &RequestLine<'_>) -> Result<&'r HttpRule, EgressError> {
    let dest = format!("{}://{}:{}", req.scheme.as_str(), req.host, req.port);
    let for_dest: Vec<&HttpRule> =
        rules.iter().filter(|r| r.scheme == req.scheme && r.port == req.port && r.host.matches(req.host)).collect();
    if for_dest.is_empty() {
        return Err(EgressError::Denied(format!("no [[http.allow]] rule allows {dest}")));
    }
    let for_method: Vec<&HttpRule> =
        for_dest.into_iter().filter(|r| r.methods.is_empty() || r.methods.iter().any(|m| m == req.method)).collect();
    if for_method.is_empty() {
        return Err(EgressError::Denied(format!("no [[http.allow]] rule allows method {} to {dest}", req.method)));
    }
    let needs_path = for_method.iter().any(|r| !r.paths.is_empty());
    if needs_path && !plain_path(req.path) {
        return Err(EgressError::Denied(format!(
            "{dest}: the path {:?} has `.` or `..` segments or encoded separators, which path rules refuse",
            req.path
        )));
    }
    for_method
        .into_iter()
        .find(|r| r.paths.is_empty() || r.paths.iter().any(|p| path_matches(p, req.path)))
        .ok_or_else(|| EgressError::Denied(format!("no [[http.allow]] rule allows {} {dest}{}", req.method, req.path)))
}

/// Whether a path is free of tricks that would let it match one glob and
/// mean another to the server: dot segments, empty segments (servers merge
/// `//`), `;` parameters (`/a/..;/b` is `..` to some servers), and encoded
/// `/`, `\` or `.`.
fn plain_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let inner = path.strip_prefix('/').unwrap_or(path);
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    (inner.is_empty() || !inner.split('/').any(|s| s.is_empty() || s == "." || s == ".."))
        && !path.contains(['\\', ';'])
        && !lower.contains("%2f")
        && !lower.contains("%5c")
        && !lower.contains("%2e")
}

/// OpenShell's path globs: `*` matches within one segment, `**` any number
/// of segments (none included). Time is bounded by pattern segments times
/// path segments, whatever the pattern: each pair is tried once.
pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let s: Vec<&str> = path.split('/').collect();
    // reach[j]: the first i pattern segments can match the first j path
    // segments.
    let mut reach = vec![false; s.len() + 1];
    reach[0] = true;
    for seg in &p {
        let mut next = vec![false; s.len() + 1];
        if *seg == "**" {
            // Any number of segments: reachable from any earlier point.
            let mut any = false;
            for j in 0..=s.len() {
                any |= reach[j];
                next[j] = any;
            }
        } else {
            for j in 0..s.len() {
                if reach[j] && glob::matches(seg, s[j]) {
                    next[j + 1] = true;
                }
            }
        }
        reach = next;
        if !reach.contains(&true) {
            return false;
        }
    }
    reach[s.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::HostPattern;

    fn rule(host: &str, methods: &[&str], paths: &[&str]) -> HttpRule {
        HttpRule {
            scheme: Scheme::Https,
            host: HostPattern::parse(host).unwrap(),
            port: 443,
            methods: methods.iter().map(|m| m.to_string()).collect(),
            paths: paths.iter().map(|m| m.to_string()).collect(),
            credentials: Vec::new(),
            ca: None,
        }
    }

    fn line<'a>(host: &'a str, method: &'a str, path: &'a str) -> RequestLine<'a> {
        RequestLine { scheme: Scheme::Https, host, port: 443, method, path }
    }

    #[test]
    fn globs() {
        assert!(path_matches("/v1/chat/completions", "/v1/chat/completions"));
        assert!(path_matches("/repos/*/contents/**", "/repos/me/contents/a/b/c"));
        assert!(path_matches("/repos/*/contents/**", "/repos/me/contents"));
        assert!(!path_matches("/repos/*/contents/**", "/repos/me/x/contents/a"));
        assert!(path_matches("/**", "/anything/at/all"));
        assert!(!path_matches("/v1/*", "/v1/a/b"));
        assert!(path_matches("/**/v1/**/x.json", "/a/b/v1/c/x.json"));
        assert!(!path_matches("/**/v1/**/x.json", "/a/b/v1/c/y.json"));
        // A long path against a pattern with several `**` stays linear in
        // each: this would take hours with plain backtracking.
        let long = "/a".repeat(30_000);
        assert!(!path_matches("/**/v1/**/**/x.json", &long));
    }

    #[test]
    fn rules_say_why() {
        let rules = [rule("api.github.com", &["GET"], &["/repos/**"]), rule("*.example.com", &[], &[])];
        assert!(find(&rules, &line("api.github.com", "GET", "/repos/a")).is_ok());
        assert!(plain_path("/") && plain_path("/repos/a/") && !plain_path("/repos//a"));
        assert!(find(&rules, &line("x.example.com", "DELETE", "/")).is_ok());
        let e = find(&rules, &line("evil.com", "GET", "/")).unwrap_err().to_string();
        assert!(e.contains("no [[http.allow]] rule allows https://evil.com:443"), "{e}");
        let e = find(&rules, &line("api.github.com", "POST", "/repos/a")).unwrap_err().to_string();
        assert!(e.contains("method POST"), "{e}");
        let e = find(&rules, &line("api.github.com", "GET", "/user")).unwrap_err().to_string();
        assert!(e.contains("GET https://api.github.com:443/user"), "{e}");
        for tricky in ["/repos/../admin", "/repos/a%2F..%2Fb", "/repos/%2e%2e/x", "/repos/..;/admin", "/repos//a"] {
            assert!(find(&rules, &line("api.github.com", "GET", tricky)).is_err(), "{tricky}");
        }
    }
}
