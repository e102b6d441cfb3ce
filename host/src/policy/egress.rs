//! The policy of what leaves the host: outgoing HTTP requests from guests
//! (`[http]`) and model calls (`[model]`), and the credentials the host adds
//! to them. The types here are the parsed, checked form; `file.rs` reads
//! them from TOML through the `*File` structs at the bottom.

use std::net::IpAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::PolicyError;
use super::units::{ByteSize, Span};

/// Outgoing HTTP (`wasi:http`) from the guest: denied unless a rule allows
/// the request.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct HttpPolicy {
    /// The rules; a request must match one.
    pub allow: Vec<HttpRule>,
    /// Most requests per run (`http.max-requests`).
    pub max_requests: u64,
    /// Most request and response body bytes per run (`http.max-bytes`).
    pub max_bytes: u64,
    /// Largest request body (`http.max-request-body`).
    pub max_request_body: u64,
    /// Largest response body (`http.max-response-body`).
    pub max_response_body: u64,
    /// Deadline for one request, from sending it to its last body byte
    /// (`http.timeout`).
    pub timeout: Duration,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        HttpPolicy {
            allow: Vec::new(),
            max_requests: 1000,
            max_bytes: 256 << 20,
            max_request_body: 16 << 20,
            max_response_body: 64 << 20,
            timeout: Duration::from_secs(60),
        }
    }
}

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// The scheme's default port.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// The host part of a rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(into = "String")]
pub enum HostPattern {
    /// Any host (`*`): what a browsing agent needs. Addresses that are not
    /// public stay refused unless another rule names them.
    Any,
    /// One name, lowercase (`api.github.com`).
    Name(String),
    /// Any name below a domain (`*.github.com` matches `api.github.com`, not
    /// `github.com`), lowercase, stored without the `*.`.
    Subdomains(String),
    /// An IP address; naming one explicitly is what allows a loopback or
    /// private address.
    Ip(IpAddr),
}

impl HostPattern {
    /// Parse `*`, `name`, `*.domain` or an IP literal (`[...]` for IPv6).
    pub fn parse(s: &str) -> Result<HostPattern, String> {
        let t = s.trim();
        if t == "*" {
            return Ok(HostPattern::Any);
        }
        let unbracketed = t.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(t);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(HostPattern::Ip(ip));
        }
        let (sub, name) = match t.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        if !valid {
            return Err(format!("`{s}` is not a host: use a DNS name, `*.domain`, `*` or an IP address"));
        }
        let name = name.to_ascii_lowercase();
        Ok(if sub { HostPattern::Subdomains(name) } else { HostPattern::Name(name) })
    }

    /// Whether the request's host (lowercase, IPv6 without brackets)
    /// matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Any => true,
            HostPattern::Name(n) => n == host,
            HostPattern::Subdomains(d) => {
                host.len() > d.len() + 1 && host.ends_with(d.as_str()) && {
                    let cut = host.len() - d.len() - 1;
                    host.as_bytes()[cut] == b'.'
                }
            }
            HostPattern::Ip(ip) => host.parse::<IpAddr>().is_ok_and(|h| h == *ip),
        }
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostPattern::Any => f.write_str("*"),
            HostPattern::Name(n) => f.write_str(n),
            HostPattern::Subdomains(d) => write!(f, "*.{d}"),
            HostPattern::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl From<HostPattern> for String {
    fn from(h: HostPattern) -> String {
        h.to_string()
    }
}

/// One `[[http.allow]]` rule, in OpenShell's shape: scheme, host and port,
/// then optionally methods and path globs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HttpRule {
    /// `http` or `https` (default).
    pub scheme: Scheme,
    /// Which hosts.
    pub host: HostPattern,
    /// The port (default: the scheme's).
    pub port: u16,
    /// Allowed methods, uppercase; empty allows any.
    pub methods: Vec<String>,
    /// Allowed path globs (`*` one segment, `**` any number); empty allows
    /// any path.
    pub paths: Vec<String>,
    /// Credentials the host adds to matching requests.
    pub credentials: Vec<Credential>,
    /// An extra CA certificate (PEM) trusted for this rule's TLS
    /// connections, besides the system roots.
    pub ca: Option<PathBuf>,
}

/// A credential the host adds to a request; the guest never holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Credential {
    /// Where it goes.
    pub target: CredentialTarget,
    /// Text before the value (`Bearer `).
    pub prefix: String,
    /// Where the host reads the value from.
    pub source: SecretSource,
}

/// Where a credential goes in the request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialTarget {
    /// A header, lowercase; one the guest set of the same name is replaced.
    Header(String),
    /// A query parameter; one the guest set of the same name is replaced.
    Query(String),
}

/// Where a secret lives on the host. Only the name of the variable or file
/// is ever printed, never the value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretSource {
    /// A host environment variable.
    Env(String),
    /// A file (its content, without a trailing newline).
    File(PathBuf),
}

impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Env(name) => write!(f, "environment variable {name}"),
            SecretSource::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// Model calls (`openshell:sandbox/model`): the aliases a guest may name,
/// and the run's budget.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct ModelPolicy {
    /// The aliases, the default first.
    pub aliases: Vec<ModelAlias>,
    /// Most model calls per run (`model.max-requests`).
    pub max_requests: u64,
    /// Most prompt plus completion tokens per run (`model.max-tokens`).
    pub max_tokens: u64,
    /// Most time spent waiting for models per run (`model.max-time`).
    pub max_time: Duration,
    /// Deadline for one call, retries included (`model.timeout`).
    pub timeout: Duration,
    /// Most retries of one call after a 429, a 5xx or a broken connection
    /// (`model.retries`).
    pub retries: u32,
    /// Largest answer body (`model.max-response`).
    pub max_response_bytes: u64,
}

impl Default for ModelPolicy {
    fn default() -> Self {
        ModelPolicy {
            aliases: Vec::new(),
            max_requests: 100,
            max_tokens: 1_000_000,
            max_time: Duration::from_secs(15 * 60),
            timeout: Duration::from_secs(120),
            retries: 4,
            max_response_bytes: 16 << 20,
        }
    }
}

/// One `[model.aliases.NAME]`: where requests naming `NAME` go.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelAlias {
    /// The name guests use.
    pub name: String,
    /// The scheme of the base URL.
    pub scheme: Scheme,
    /// The host of the base URL, lowercase (IPv6 without brackets).
    pub host: String,
    /// The port of the base URL.
    pub port: u16,
    /// The path of the base URL without a trailing `/` (`/v1`); requests go
    /// to `{path}/chat/completions`.
    pub path: String,
    /// The model name sent to the provider.
    pub model: String,
    /// Credentials the host adds.
    pub credentials: Vec<Credential>,
    /// An extra CA certificate (PEM) for the endpoint.
    pub ca: Option<PathBuf>,
}

impl ModelAlias {
    /// `scheme://host:port/path`, for logs and errors.
    pub fn base_url(&self) -> String {
        format!("{}://{}:{}{}", self.scheme.as_str(), url_host(&self.host), self.port, self.path)
    }
}

/// A host as a URL writes it: IPv6 addresses in brackets.
pub fn url_host(host: &str) -> std::borrow::Cow<'_, str> {
    if host.contains(':') { format!("[{host}]").into() } else { host.into() }
}

// ---------------------------------------------------------------------------
// The file format.

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct HttpSection {
    allow: Option<Vec<Spanned<RuleFile>>>,
    max_requests: Option<u64>,
    max_bytes: Option<ByteSize>,
    max_request_body: Option<ByteSize>,
    max_response_body: Option<ByteSize>,
    timeout: Option<Spanned<Span>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RuleFile {
    scheme: Option<Spanned<String>>,
    host: Spanned<String>,
    port: Option<Spanned<i64>>,
    methods: Option<Vec<Spanned<String>>>,
    paths: Option<Vec<Spanned<String>>>,
    credentials: Option<Vec<Spanned<CredentialFile>>>,
    ca: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CredentialFile {
    header: Option<String>,
    query: Option<String>,
    #[serde(default)]
    prefix: String,
    env: Option<String>,
    file: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct ModelSection {
    default_alias: Option<Spanned<String>>,
    aliases: Option<std::collections::BTreeMap<String, Spanned<AliasFile>>>,
    max_requests: Option<u64>,
    max_tokens: Option<u64>,
    max_time: Option<Spanned<Span>>,
    timeout: Option<Spanned<Span>>,
    retries: Option<u32>,
    max_response: Option<ByteSize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AliasFile {
    url: Spanned<String>,
    model: Spanned<String>,
    credentials: Option<Vec<Spanned<CredentialFile>>>,
    ca: Option<String>,
}

/// Builds a [`PolicyError`] at a span of the file.
pub(super) type ErrAt<'a> = &'a dyn Fn(Range<usize>, String) -> PolicyError;

pub(super) fn parse_http(s: HttpSection, err: ErrAt<'_>) -> Result<HttpPolicy, PolicyError> {
    let mut p = HttpPolicy::default();
    for rule in s.allow.unwrap_or_default() {
        let span = rule.span();
        p.allow.push(parse_rule(rule.into_inner(), span, err)?);
    }
    p.max_requests = s.max_requests.unwrap_or(p.max_requests);
    p.max_bytes = s.max_bytes.map_or(p.max_bytes, |b| b.0);
    p.max_request_body = s.max_request_body.map_or(p.max_request_body, |b| b.0);
    p.max_response_body = s.max_response_body.map_or(p.max_response_body, |b| b.0);
    if let Some(t) = s.timeout {
        if t.get_ref().0.is_zero() {
            return Err(err(t.span(), "http.timeout must be more than 0".into()));
        }
        p.timeout = t.get_ref().0;
    }
    Ok(p)
}

fn parse_rule(r: RuleFile, span: Range<usize>, err: ErrAt<'_>) -> Result<HttpRule, PolicyError> {
    let scheme = match &r.scheme {
        None => Scheme::Https,
        Some(s) => match s.get_ref().to_ascii_lowercase().as_str() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            other => return Err(err(s.span(), format!("scheme `{other}` is not http or https"))),
        },
    };
    let host = HostPattern::parse(r.host.get_ref()).map_err(|m| err(r.host.span(), m))?;
    let port = match &r.port {
        None => scheme.default_port(),
        Some(p) => match u16::try_from(*p.get_ref()) {
            Ok(v) if v > 0 => v,
            _ => return Err(err(p.span(), format!("{} is not a TCP port (1-65535)", p.get_ref()))),
        },
    };
    let mut methods = Vec::new();
    for m in r.methods.unwrap_or_default() {
        let v = m.get_ref().trim().to_ascii_uppercase();
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(err(m.span(), format!("`{}` is not an HTTP method", m.get_ref())));
        }
        methods.push(v);
    }
    let mut paths = Vec::new();
    for p in r.paths.unwrap_or_default() {
        let v = p.get_ref();
        if !v.starts_with('/') || v.contains(['?', '#']) {
            return Err(err(p.span(), format!("path glob `{v}` must start with `/` and hold no query or fragment")));
        }
        paths.push(v.clone());
    }
    let credentials = parse_credentials(r.credentials, err)?;
    if !credentials.is_empty() && matches!(host, HostPattern::Any | HostPattern::Subdomains(_)) {
        // The guest picks the name under `*` or `*.domain`; a credential
        // must go to one host the operator named.
        return Err(err(
            r.host.span(),
            format!(
                "credentials need a rule for one host, not `{host}`: the guest could pick a host that collects them"
            ),
        ));
    }
    if !credentials.is_empty() && scheme == Scheme::Http && !matches!(host, HostPattern::Ip(ip) if ip.is_loopback()) {
        let is_localhost = matches!(&host, HostPattern::Name(n) if n == "localhost");
        if !is_localhost {
            return Err(err(
                span,
                "credentials on a plain-http rule would travel unencrypted: use scheme = \"https\" (plain http \
                 with credentials is allowed only to loopback)"
                    .into(),
            ));
        }
    }
    Ok(HttpRule { scheme, host, port, methods, paths, credentials, ca: r.ca.map(PathBuf::from) })
}

fn parse_credentials(
    list: Option<Vec<Spanned<CredentialFile>>>,
    err: ErrAt<'_>,
) -> Result<Vec<Credential>, PolicyError> {
    let mut out = Vec::new();
    for c in list.unwrap_or_default() {
        let span = c.span();
        let c = c.into_inner();
        let target = match (c.header, c.query) {
            (Some(h), None) => {
                let h = h.trim().to_ascii_lowercase();
                if http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                    return Err(err(span, format!("`{h}` is not a header name")));
                }
                CredentialTarget::Header(h)
            }
            (None, Some(q)) if !q.is_empty() => CredentialTarget::Query(q),
            _ => return Err(err(span, "a credential names exactly one of `header` or `query`".into())),
        };
        let source = match (c.env, c.file) {
            (Some(e), None) if super::file::is_env_name(&e) => SecretSource::Env(e),
            (Some(e), None) => return Err(err(span, format!("`{e}` is not an environment variable name"))),
            (None, Some(f)) if !f.is_empty() => SecretSource::File(PathBuf::from(f)),
            _ => return Err(err(span, "a credential reads its value from exactly one of `env` or `file`".into())),
        };
        if c.prefix.contains(['\r', '\n']) {
            return Err(err(span, "a credential prefix cannot hold line breaks".into()));
        }
        out.push(Credential { target, prefix: c.prefix, source });
    }
    Ok(out)
}

pub(super) fn parse_model(s: ModelSection, err: ErrAt<'_>) -> Result<ModelPolicy, PolicyError> {
    let mut p = ModelPolicy::default();
    for (name, alias) in s.aliases.unwrap_or_default() {
        let span = alias.span();
        let a = alias.into_inner();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            return Err(err(span, format!("model alias `{name}`: use letters, digits, `-`, `_` and `.`")));
        }
        let (scheme, host, port, path) = parse_base_url(a.url.get_ref()).map_err(|m| err(a.url.span(), m))?;
        if a.model.get_ref().is_empty() {
            return Err(err(
                a.model.span(),
                format!("model alias `{name}`: `model` (the provider's model name) is empty"),
            ));
        }
        let credentials = parse_credentials(a.credentials, err)?;
        if !credentials.is_empty() && scheme == Scheme::Http && !is_loopback_host(&host) {
            return Err(err(
                a.url.span(),
                format!(
                    "model alias `{name}`: credentials would travel unencrypted to {host}; use an https URL (plain \
                     http with credentials is allowed only to loopback)"
                ),
            ));
        }
        p.aliases.push(ModelAlias {
            name,
            scheme,
            host,
            port,
            path,
            model: a.model.into_inner(),
            credentials,
            ca: a.ca.map(PathBuf::from),
        });
    }
    if let Some(d) = s.default_alias {
        let Some(i) = p.aliases.iter().position(|a| a.name == *d.get_ref()) else {
            return Err(err(d.span(), format!("default-alias `{}` is not one of [model.aliases]", d.get_ref())));
        };
        let alias = p.aliases.remove(i);
        p.aliases.insert(0, alias);
    }
    p.max_requests = s.max_requests.unwrap_or(p.max_requests);
    p.max_tokens = s.max_tokens.unwrap_or(p.max_tokens);
    p.retries = s.retries.unwrap_or(p.retries);
    p.max_response_bytes = s.max_response.map_or(p.max_response_bytes, |b| b.0);
    for (key, value, slot) in [("max-time", s.max_time, &mut p.max_time), ("timeout", s.timeout, &mut p.timeout)] {
        if let Some(v) = value {
            if v.get_ref().0.is_zero() {
                return Err(err(v.span(), format!("model.{key} must be more than 0")));
            }
            *slot = v.get_ref().0;
        }
    }
    Ok(p)
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Split `http(s)://host[:port][/path]` into its parts.
fn parse_base_url(url: &str) -> Result<(Scheme, String, u16, String), String> {
    let bad = || format!("`{url}` is not a base URL like https://api.openai.com/v1 or http://127.0.0.1:8000/v1");
    let uri: http::Uri = url.parse().map_err(|_| bad())?;
    let scheme = match uri.scheme_str() {
        Some("https") => Scheme::Https,
        Some("http") => Scheme::Http,
        _ => return Err(bad()),
    };
    if uri.query().is_some() || url.contains('@') {
        return Err(format!("`{url}`: a base URL holds no query and no user info (put credentials in `credentials`)"));
    }
    let host = uri.host().ok_or_else(bad)?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host).to_ascii_lowercase();
    HostPattern::parse(&host).map_err(|_| bad())?;
    let port = uri.port_u16().unwrap_or(scheme.default_port());
    let path = uri.path().trim_end_matches('/').to_string();
    Ok((scheme, host, port, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns() {
        let sub = HostPattern::parse("*.Example.com").unwrap();
        assert!(sub.matches("api.example.com"));
        assert!(sub.matches("a.b.example.com"));
        assert!(!sub.matches("example.com"));
        assert!(!sub.matches("evilexample.com"));
        let exact = HostPattern::parse("api.github.com").unwrap();
        assert!(exact.matches("api.github.com") && !exact.matches("x.api.github.com"));
        let ip = HostPattern::parse("[::1]").unwrap();
        assert!(ip.matches("::1"));
        assert!(HostPattern::parse("bad host").is_err());
        assert!(HostPattern::parse("*.").is_err());
        assert!(HostPattern::parse("a..b").is_err());
    }

    #[test]
    fn sections_parse_and_errors_point_at_the_line() {
        let p = super::super::parse(
            r#"
[http]
max-requests = 5
max-response-body = "1 MiB"
timeout = "5s"

[[http.allow]]
host = "api.github.com"
methods = ["get", "HEAD"]
paths = ["/repos/*/contents/**"]
credentials = [{ header = "Authorization", prefix = "Bearer ", env = "GITHUB_TOKEN" }]

[[http.allow]]
scheme = "http"
host = "127.0.0.1"
port = 8080

[model]
default-alias = "local"
max-tokens = 1000
[model.aliases.cloud]
url = "https://api.openai.com/v1/"
model = "gpt-4.1-mini"
credentials = [{ header = "authorization", prefix = "Bearer ", file = "/run/secrets/openai" }]
[model.aliases.local]
url = "http://127.0.0.1:11434/v1"
model = "qwen3"
"#,
            "p.toml",
        )
        .unwrap();
        assert_eq!(p.http.max_requests, 5);
        assert_eq!(p.http.timeout, Duration::from_secs(5));
        let gh = &p.http.allow[0];
        assert_eq!((gh.scheme, gh.port, gh.methods.clone()), (Scheme::Https, 443, vec!["GET".into(), "HEAD".into()]));
        assert_eq!(gh.credentials[0].target, CredentialTarget::Header("authorization".into()));
        assert_eq!(p.http.allow[1].host, HostPattern::Ip("127.0.0.1".parse().unwrap()));
        let names: Vec<&str> = p.model.aliases.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["local", "cloud"], "the default first");
        assert_eq!(p.model.aliases[1].path, "/v1");
        assert_eq!(p.model.max_tokens, 1000);

        for (text, line, needle) in [
            ("[[http.allow]]\nhost = \"bad host\"\n", 2, "not a host"),
            ("[[http.allow]]\nhost = \"x.com\"\nmethods = [\"G-T\"]\n", 3, "not an HTTP method"),
            ("[[http.allow]]\nhost = \"x.com\"\npaths = [\"v1\"]\n", 3, "must start with `/`"),
            (
                "[[http.allow]]\nscheme = \"http\"\nhost = \"x.com\"\ncredentials = [{ header = \"a\", env = \"K\" }]\n",
                1,
                "unencrypted",
            ),
            (
                "[[http.allow]]\nhost = \"x.com\"\ncredentials = [{ header = \"a\" }]\n",
                3,
                "exactly one of `env` or `file`",
            ),
            ("[model.aliases.a]\nurl = \"ftp://x\"\nmodel = \"m\"\n", 2, "not a base URL"),
            ("[model]\ndefault-alias = \"nope\"\n", 2, "not one of"),
            (
                "[[http.allow]]\nhost = \"*.github.io\"\ncredentials = [{ header = \"a\", env = \"K\" }]\n",
                2,
                "credentials need a rule for one host",
            ),
            ("[model]\nmax-time = \"0s\"\n", 2, "must be more than 0"),
            ("[http]\nallowed = []\n", 2, "unknown field"),
        ] {
            let e = super::super::parse(text, "p.toml").unwrap_err();
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.message.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            parse_base_url("https://api.openai.com/v1/").unwrap(),
            (Scheme::Https, "api.openai.com".into(), 443, "/v1".into())
        );
        assert_eq!(parse_base_url("http://[::1]:8000").unwrap(), (Scheme::Http, "::1".into(), 8000, "".into()));
        assert!(parse_base_url("ftp://x/v1").is_err());
        assert!(parse_base_url("https://user:pw@x/v1").is_err());
        assert!(parse_base_url("https://x/v1?key=1").is_err());
    }
}
