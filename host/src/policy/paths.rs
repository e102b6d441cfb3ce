//! Sandbox paths: lexical normalization and the policy's prefix checks.
//!
//! This is the first of two walls (the second is the backend refusing to
//! follow symlinks out of the sandbox): a path the policy does not allow is
//! refused before any backend sees it.

/// Normalize `path` (relative ones against `workdir`) to an absolute path
/// without `.`, `..` or repeated `/`. `..` never climbs above `/`.
pub fn normalize(workdir: &str, path: &str) -> Result<String, String> {
    if path.is_empty() {
        return Err("empty path".into());
    }
    if path.contains('\0') {
        return Err("path contains a NUL byte".into());
    }
    let joined = if path.starts_with('/') { path.to_string() } else { format!("{workdir}/{path}") };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// Whether `path` (normalized) is `prefix` or below it.
pub fn is_within(path: &str, prefix: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    path == prefix || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

/// Resolve the policy's prefixes (relative ones against `workdir`).
pub fn resolve_prefixes(workdir: &str, prefixes: &[String]) -> Vec<String> {
    prefixes.iter().filter_map(|p| normalize(workdir, p).ok()).collect()
}

/// Whether the normalized `path` is inside any of the resolved `prefixes`.
pub fn allowed(path: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| is_within(path, p))
}

/// The path relative to `root` (`""` for the root itself), if inside it.
pub fn relative_to<'a>(path: &'a str, root: &str) -> Option<&'a str> {
    if !is_within(path, root) {
        return None;
    }
    if root == "/" {
        return Some(path.trim_start_matches('/'));
    }
    Some(path[root.len()..].trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization() {
        assert_eq!(normalize("/workspace", "a/./b//c").unwrap(), "/workspace/a/b/c");
        assert_eq!(normalize("/workspace", "../etc/passwd").unwrap(), "/etc/passwd");
        assert_eq!(normalize("/workspace", "/../../x").unwrap(), "/x");
        assert_eq!(normalize("/workspace", ".").unwrap(), "/workspace");
        assert!(normalize("/workspace", "").is_err());
        assert!(normalize("/workspace", "a\0b").is_err());
    }

    #[test]
    fn prefixes() {
        let p = resolve_prefixes("/workspace", &[".".into(), "/tmp/x".into()]);
        assert!(allowed("/workspace", &p));
        assert!(allowed("/workspace/a", &p));
        assert!(!allowed("/workspace2", &p));
        assert!(allowed("/tmp/x/y", &p));
        assert!(!allowed("/tmp", &p));
        assert!(!allowed("/etc/passwd", &p));
        assert_eq!(relative_to("/workspace/a/b", "/workspace"), Some("a/b"));
        assert_eq!(relative_to("/workspace", "/workspace"), Some(""));
        assert_eq!(relative_to("/work", "/workspace"), None);
    }
}
