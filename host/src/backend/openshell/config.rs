//! Where the gateway is and how to authenticate, found the way OpenShell's
//! own clients find it:
//!
//! 1. an explicit URL (`--gateway`, or [`GatewayConfig::new`]);
//! 2. `$OPENSHELL_GATEWAY_ENDPOINT` (a URL);
//! 3. a gateway name: `--gateway-name`, else `$OPENSHELL_GATEWAY`, else the
//!    `active_gateway` file; its record is `gateways/<name>/metadata.json`.
//!
//! All files live under `$XDG_CONFIG_HOME/openshell` (else
//! `~/.config/openshell`). For `https` endpoints the strongest TLS material
//! in `gateways/<name>/mtls/` is used (CA + client certificate + key, or CA
//! only, or the system roots); with `auth_mode = "oidc"` the access token in
//! `oidc_token.json` is sent as a bearer token. Every error names the file
//! or variable that was read and what was wrong with it. Secrets are never
//! put into errors or logs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::SandboxError;

/// The wire generation to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Protocol {
    /// Gateways 0.0.x.
    V0_0,
    /// Gateways 0.1.x.
    V0_1,
}

impl Protocol {
    /// Parse `0.0` / `0.1`.
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.trim() {
            "0.0" | "0.0.x" => Some(Protocol::V0_0),
            "0.1" | "0.1.x" => Some(Protocol::V0_1),
            _ => None,
        }
    }

    /// The generation a gateway version belongs to.
    pub fn from_version(version: &str) -> Option<Protocol> {
        let v = version.trim().trim_start_matches('v');
        if v.starts_with(openshell_proto::v0_0::VERSION_PREFIX) {
            Some(Protocol::V0_0)
        } else if v.starts_with(openshell_proto::v0_1::VERSION_PREFIX) {
            Some(Protocol::V0_1)
        } else {
            None
        }
    }

    /// `0.0` or `0.1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::V0_0 => "0.0",
            Protocol::V0_1 => "0.1",
        }
    }
}

/// A secret string: shown as `<redacted>` in `Debug`, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself; only the transport reads it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// TLS material (PEM).
#[derive(Debug, Clone, Default)]
pub struct TlsMaterial {
    /// CA that signed the gateway's certificate (else the system roots).
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate for mTLS.
    pub cert_pem: Option<Vec<u8>>,
    /// Client key for mTLS.
    pub key_pem: Option<Secret>,
}

/// Everything needed to talk to one gateway.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `http://host:port` or `https://host:port`.
    pub endpoint: String,
    /// Gateway name, when found through discovery.
    pub name: Option<String>,
    /// TLS material for `https`.
    pub tls: TlsMaterial,
    /// Bearer token.
    pub token: Option<Secret>,
    /// Workspace (OpenShell's tenant scope).
    pub workspace: String,
    /// Force a wire generation instead of detecting it from `Health`.
    pub protocol: Option<Protocol>,
    /// Deadline for unary calls.
    pub rpc_timeout: Duration,
    /// Deadline for the connection to come up.
    pub connect_timeout: Duration,
    /// The workspace directory inside sandboxes.
    pub workdir: String,
    /// How the configuration was found, for `-v` logs and errors.
    pub source: String,
    /// Whether small file operations travel over one long-lived exec per
    /// sandbox (the session channel) instead of one exec each. The results
    /// are the same either way, only the speed differs.
    pub session_channel: SessionChannel,
}

/// How the session channel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionChannel {
    /// Its Python server when the sandbox has Python 3.10+ (every operation
    /// in one process), else its shell server.
    #[default]
    Auto,
    /// Always the shell server (bash and coreutils only).
    Shell,
    /// No channel: one exec per operation.
    Off,
}

impl SessionChannel {
    /// Parse `auto`, `shell` or `off`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(SessionChannel::Auto),
            "shell" => Some(SessionChannel::Shell),
            "off" => Some(SessionChannel::Off),
            _ => None,
        }
    }
}

impl GatewayConfig {
    /// A gateway at `endpoint` with defaults (no TLS material, no token,
    /// workspace `default`, generation detected, 30 s calls).
    pub fn new(endpoint: impl Into<String>) -> Self {
        GatewayConfig {
            endpoint: endpoint.into(),
            name: None,
            tls: TlsMaterial::default(),
            token: None,
            workspace: std::env::var("OPENSHELL_WORKSPACE")
                .ok()
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "default".into()),
            protocol: None,
            rpc_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            workdir: "/sandbox".into(),
            source: "explicit URL".into(),
            session_channel: SessionChannel::Auto,
        }
    }

    /// Validate the endpoint URL.
    pub fn check(&self) -> Result<(), SandboxError> {
        let e = &self.endpoint;
        let rest = e.strip_prefix("http://").or_else(|| e.strip_prefix("https://")).ok_or_else(|| {
            SandboxError::invalid(
                "gateway.config",
                format!("gateway endpoint `{e}` ({}) must start with http:// or https://", self.source),
            )
        })?;
        if rest.trim_end_matches('/').is_empty() {
            return Err(SandboxError::invalid(
                "gateway.config",
                format!("gateway endpoint `{e}` ({}) has no host", self.source),
            ));
        }
        Ok(())
    }

    /// Whether the endpoint uses TLS.
    pub fn is_tls(&self) -> bool {
        self.endpoint.starts_with("https://")
    }
}

/// `$XDG_CONFIG_HOME/openshell`, else `~/.config/openshell`.
pub fn config_root() -> Option<PathBuf> {
    crate::dirs::openshell_config()
}

/// Whether a gateway is configured at all (for `--backend auto`), and how.
pub fn configured() -> Option<String> {
    if std::env::var("OPENSHELL_GATEWAY_ENDPOINT").is_ok_and(|v| !v.is_empty()) {
        return Some("$OPENSHELL_GATEWAY_ENDPOINT is set".into());
    }
    if std::env::var("OPENSHELL_GATEWAY").is_ok_and(|v| !v.is_empty()) {
        return Some("$OPENSHELL_GATEWAY is set".into());
    }
    let active = config_root()?.join("active_gateway");
    let name = std::fs::read_to_string(&active).ok()?;
    (!name.trim().is_empty()).then(|| format!("{} names gateway `{}`", active.display(), name.trim()))
}

/// Find the gateway: `explicit` URL, else the environment, else the
/// active gateway's files (see the module docs). `name` picks a gateway by
/// name instead of the active one.
pub fn discover(explicit: Option<&str>, name: Option<&str>) -> Result<GatewayConfig, SandboxError> {
    let cfg = locate(explicit, name)?;
    refuse_insecure(&cfg, std::env::var("OPENSHELL_GATEWAY_INSECURE").ok().as_deref())?;
    Ok(cfg)
}

/// OpenShell's CLI skips TLS verification when
/// `$OPENSHELL_GATEWAY_INSECURE` is set; we never do (a guest's commands and
/// files would go to whoever answers). Ignoring the variable would only
/// trade the user's intent for a puzzling certificate error, so say so.
fn refuse_insecure(cfg: &GatewayConfig, insecure: Option<&str>) -> Result<(), SandboxError> {
    let set = insecure.is_some_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false" | "no"));
    if set && cfg.is_tls() {
        return Err(SandboxError::invalid(
            "gateway.discover",
            format!(
                "$OPENSHELL_GATEWAY_INSECURE is set, but openshell-wasm always verifies the TLS certificate of {} ({}): \
                 put the gateway's CA certificate in gateways/<name>/mtls/ca.crt under the OpenShell config directory, \
                 then unset $OPENSHELL_GATEWAY_INSECURE",
                cfg.endpoint, cfg.source
            ),
        ));
    }
    Ok(())
}

/// [`discover`] without the insecure-transport check.
fn locate(explicit: Option<&str>, name: Option<&str>) -> Result<GatewayConfig, SandboxError> {
    let op = "gateway.discover";
    if let Some(url) = explicit {
        let cfg = GatewayConfig::new(url);
        cfg.check()?;
        return Ok(cfg);
    }
    if name.is_none()
        && let Ok(url) = std::env::var("OPENSHELL_GATEWAY_ENDPOINT")
        && !url.is_empty()
    {
        let mut cfg = GatewayConfig::new(url);
        cfg.source = "$OPENSHELL_GATEWAY_ENDPOINT".into();
        cfg.check()?;
        return Ok(cfg);
    }
    let root = config_root().ok_or_else(|| {
        SandboxError::invalid(
            op,
            "cannot find the OpenShell config directory: neither $XDG_CONFIG_HOME nor $HOME is set",
        )
    })?;
    let (name, from) = match name {
        Some(n) => (n.to_string(), "--gateway-name".to_string()),
        None => match std::env::var("OPENSHELL_GATEWAY") {
            Ok(n) if !n.is_empty() => (n, "$OPENSHELL_GATEWAY".to_string()),
            _ => {
                let active = root.join("active_gateway");
                let text = std::fs::read_to_string(&active).map_err(|e| {
                    SandboxError::not_found(
                        op,
                        format!(
                            "no gateway configured: give --gateway URL, set $OPENSHELL_GATEWAY_ENDPOINT or $OPENSHELL_GATEWAY, \
                             or select one with `openshell gateway select` ({} could not be read: {e})",
                            active.display()
                        ),
                    )
                })?;
                let n = text.trim().to_string();
                if n.is_empty() {
                    return Err(SandboxError::not_found(
                        op,
                        format!("{} is empty: no active gateway", active.display()),
                    ));
                }
                (n, active.display().to_string())
            }
        },
    };
    if name.contains('/') || name == "." || name == ".." {
        return Err(SandboxError::invalid(
            op,
            format!("gateway name `{name}` (from {from}) is not a single path component"),
        ));
    }
    load_named(&root, &name, &from)
}

#[derive(serde::Deserialize)]
struct Metadata {
    gateway_endpoint: Option<String>,
    auth_mode: Option<String>,
}

#[derive(serde::Deserialize)]
struct OidcToken {
    access_token: Option<String>,
    expires_at: Option<i64>,
}

fn load_named(root: &Path, name: &str, from: &str) -> Result<GatewayConfig, SandboxError> {
    let op = "gateway.discover";
    let dir = root.join("gateways").join(name);
    let meta_path = dir.join("metadata.json");
    let text = std::fs::read_to_string(&meta_path).map_err(|e| {
        SandboxError::not_found(
            op,
            format!("gateway `{name}` (from {from}) not found: cannot read {}: {e}", meta_path.display()),
        )
    })?;
    let meta: Metadata = serde_json::from_str(&text).map_err(|e| {
        SandboxError::invalid(op, format!("{} is not valid gateway metadata: {e}", meta_path.display()))
    })?;
    let endpoint = meta
        .gateway_endpoint
        .filter(|e| !e.is_empty())
        .ok_or_else(|| SandboxError::invalid(op, format!("{} has no `gateway_endpoint`", meta_path.display())))?;
    let mut cfg = GatewayConfig::new(endpoint);
    cfg.name = Some(name.to_string());
    cfg.source = format!("gateway `{name}` from {from} ({})", meta_path.display());
    cfg.check()?;
    let auth_mode = meta.auth_mode.unwrap_or_else(|| "mtls".into());
    match auth_mode.as_str() {
        "mtls" | "plaintext" | "oidc" => {}
        "cloudflare_jwt" => {
            return Err(SandboxError::unsupported(
                op,
                format!(
                    "gateway `{name}` uses auth_mode cloudflare_jwt (edge tunnel), which openshell-wasm does not support; use a direct endpoint"
                ),
            ));
        }
        other => {
            return Err(SandboxError::invalid(op, format!("{}: unknown auth_mode `{other}`", meta_path.display())));
        }
    }
    if cfg.is_tls() {
        let mtls = dir.join("mtls");
        let read = |f: &str| std::fs::read(mtls.join(f)).ok();
        cfg.tls.ca_pem = read("ca.crt");
        let (cert, key) = (read("tls.crt"), read("tls.key"));
        match (cert, key) {
            (Some(c), Some(k)) => {
                cfg.tls.cert_pem = Some(c);
                cfg.tls.key_pem = Some(Secret::new(String::from_utf8(k).map_err(|_| {
                    SandboxError::invalid(op, format!("{} is not PEM text", mtls.join("tls.key").display()))
                })?));
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(SandboxError::invalid(
                    op,
                    format!("{} holds only one of tls.crt and tls.key; mTLS needs both", mtls.display()),
                ));
            }
            (None, None) => {}
        }
    }
    if auth_mode == "oidc" {
        let token_path = dir.join("oidc_token.json");
        let text = std::fs::read_to_string(&token_path).map_err(|e| {
            SandboxError::not_found(
                op,
                format!(
                    "gateway `{name}` uses OIDC but {} cannot be read: {e}; log in with `openshell login`",
                    token_path.display()
                ),
            )
        })?;
        let tok: OidcToken = serde_json::from_str(&text).map_err(|e| {
            SandboxError::invalid(op, format!("{} is not a valid token file: {e}", token_path.display()))
        })?;
        let access = tok
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SandboxError::invalid(op, format!("{} has no access_token", token_path.display())))?;
        if let Some(exp) = tok.expires_at {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            // Stale 30 s before expiry, like OpenShell's clients.
            if exp - 30 <= now {
                return Err(SandboxError::denied(
                    op,
                    format!(
                        "the OIDC token in {} has expired; refresh it with `openshell login` (openshell-wasm does not refresh tokens)",
                        token_path.display()
                    ),
                ));
            }
        }
        cfg.token = Some(Secret::new(access));
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, s: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, s).unwrap();
    }

    #[test]
    fn named_gateway_with_mtls_and_oidc() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("gateways/prod");
        write(
            &dir.join("metadata.json"),
            r#"{"name":"prod","gateway_endpoint":"https://gw.example:17670","auth_mode":"oidc"}"#,
        );
        write(&dir.join("mtls/ca.crt"), "CA");
        write(&dir.join("mtls/tls.crt"), "CERT");
        write(&dir.join("mtls/tls.key"), "KEY");
        write(&dir.join("oidc_token.json"), r#"{"access_token":"tok-123","expires_at":99999999999}"#);
        let cfg = load_named(root.path(), "prod", "test").unwrap();
        assert_eq!(cfg.endpoint, "https://gw.example:17670");
        assert_eq!(cfg.tls.ca_pem.as_deref(), Some(&b"CA"[..]));
        assert!(cfg.tls.cert_pem.is_some() && cfg.tls.key_pem.is_some());
        assert_eq!(cfg.token.as_ref().unwrap().expose(), "tok-123");
        assert!(!format!("{cfg:?}").contains("tok-123"), "secrets must not appear in Debug");
        assert!(!format!("{cfg:?}").contains("KEY"));
    }

    #[test]
    fn errors_name_the_file() {
        let root = tempfile::tempdir().unwrap();
        let e = load_named(root.path(), "nope", "test").unwrap_err();
        assert!(e.message.contains("metadata.json"), "{e}");
        write(&root.path().join("gateways/bad/metadata.json"), "{not json");
        let e = load_named(root.path(), "bad", "test").unwrap_err();
        assert!(e.message.contains("not valid gateway metadata"), "{e}");
        write(&root.path().join("gateways/half/metadata.json"), r#"{"gateway_endpoint":"https://x:1"}"#);
        write(&root.path().join("gateways/half/mtls/tls.crt"), "C");
        let e = load_named(root.path(), "half", "test").unwrap_err();
        assert!(e.message.contains("only one of tls.crt and tls.key"), "{e}");
        write(
            &root.path().join("gateways/exp/metadata.json"),
            r#"{"gateway_endpoint":"http://x:1","auth_mode":"oidc"}"#,
        );
        write(&root.path().join("gateways/exp/oidc_token.json"), r#"{"access_token":"t","expires_at":1}"#);
        let e = load_named(root.path(), "exp", "test").unwrap_err();
        assert!(e.message.contains("expired"), "{e}");
        write(
            &root.path().join("gateways/edge/metadata.json"),
            r#"{"gateway_endpoint":"https://x:1","auth_mode":"cloudflare_jwt"}"#,
        );
        assert!(load_named(root.path(), "edge", "test").is_err());
    }

    #[test]
    fn skipping_tls_verification_is_refused_not_ignored() {
        let tls = GatewayConfig::new("https://gw.example:17670");
        let plain = GatewayConfig::new("http://127.0.0.1:1");
        for on in ["1", "true", "YES"] {
            let e = refuse_insecure(&tls, Some(on)).unwrap_err();
            assert!(e.message.contains("OPENSHELL_GATEWAY_INSECURE") && e.message.contains("ca.crt"), "{e}");
            assert!(refuse_insecure(&plain, Some(on)).is_ok(), "plaintext has nothing to verify");
        }
        for off in [None, Some(""), Some("0"), Some("false")] {
            assert!(refuse_insecure(&tls, off).is_ok(), "{off:?}");
        }
    }

    #[test]
    fn protocol_from_version() {
        assert_eq!(Protocol::from_version("0.0.116"), Some(Protocol::V0_0));
        assert_eq!(Protocol::from_version("v0.1.5"), Some(Protocol::V0_1));
        assert_eq!(Protocol::from_version("dev"), None);
        assert!(GatewayConfig::new("ftp://x").check().is_err());
        assert!(GatewayConfig::new("http://").check().is_err());
    }
}
