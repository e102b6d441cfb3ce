//! `openshell-wasm mcp`: serve sandboxes and components to MCP clients.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use secrecy::SecretString;

use super::host_args::{BindArgs, HostArgs};
use super::{exit, report};
use crate::mcp::{HttpOptions, McpServer};
use crate::policy::units::parse_duration;

/// The environment variable holding the bearer token HTTP clients must
/// send (not a flag: command lines are visible to every local user).
const TOKEN_ENV: &str = "OPENSHELL_WASM_MCP_TOKEN";

#[derive(Debug, Args)]
pub(super) struct McpArgs {
    #[command(flatten)]
    host: HostArgs,

    /// Serve Streamable HTTP on this address (e.g. 127.0.0.1:8765) instead
    /// of stdio. Addresses other than loopback need a bearer token in
    /// OPENSHELL_WASM_MCP_TOKEN and `--allow-host`.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,

    /// A `Host` header value to accept over HTTP, besides the loopback
    /// names (repeatable).
    #[arg(long, value_name = "HOST")]
    allow_host: Vec<String>,

    /// A browser origin to accept over HTTP (`https://app.example:443`,
    /// `:*` for any port), besides loopback origins (repeatable).
    #[arg(long, value_name = "ORIGIN")]
    allow_origin: Vec<String>,

    /// Close an HTTP session idle this long and delete its sandboxes.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    idle_timeout: Duration,

    /// Offer a component (.wasm) as a tool; a directory offers every
    /// .wasm in it (repeatable).
    #[arg(long, value_name = "PATH")]
    component: Vec<PathBuf>,

    // Which sandbox each session binds (`--sandbox NAME`: every session
    // shares that one) and whether the ones sessions create are kept.
    #[command(flatten)]
    bind: BindArgs,
}

impl McpArgs {
    pub(super) async fn execute(self) -> u8 {
        match self.try_execute().await {
            Ok(code) => code,
            Err((code, msg)) => {
                report(&msg);
                code
            }
        }
    }

    async fn try_execute(&self) -> Result<u8, (u8, String)> {
        let components = component_paths(&self.component).map_err(|m| (exit::USAGE, m))?;
        let http = match self.listen {
            Some(addr) => Some((addr, self.http_options(addr)?)),
            None => None,
        };
        let target = self.bind.target()?;
        let host = Arc::new(self.host.build().await?);
        let mut builder = McpServer::builder(host).keep(self.bind.keep).target(target);
        for c in components {
            builder = builder.component(c);
        }
        let server = builder.build();
        let cancel = tokio_util::sync::CancellationToken::new();
        let signal = super::run::watch_signals(cancel.clone());
        let served = match http {
            None => server.serve_stdio(cancel.cancelled()).await,
            Some((addr, options)) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| (exit::BACKEND, format!("cannot listen on {addr}: {e}")))?;
                let local = listener.local_addr().map_err(|e| (exit::BACKEND, e.to_string()))?;
                // Scripts wait for this line.
                let _ = writeln!(std::io::stderr(), "MCP server listening on http://{local}/mcp");
                server.serve_http(listener, options, cancel.cancelled()).await
            }
        };
        served.map_err(|e| (exit::BACKEND, format!("the MCP server failed: {e}")))?;
        Ok(signal.get().unwrap_or(exit::OK))
    }

    fn http_options(&self, addr: SocketAddr) -> Result<HttpOptions, (u8, String)> {
        let mut options = HttpOptions { idle_timeout: self.idle_timeout, ..HttpOptions::default() };
        options.allowed_hosts.extend(self.allow_host.iter().cloned());
        options.allowed_origins.extend(self.allow_origin.iter().cloned());
        options.token = match std::env::var(TOKEN_ENV) {
            Ok(t) if !t.is_empty() => Some(SecretString::from(t)),
            _ => None,
        };
        if !addr.ip().is_loopback() {
            if options.token.is_none() {
                return Err((
                    exit::USAGE,
                    format!(
                        "--listen {addr} is reachable from other machines; set a bearer token in {TOKEN_ENV} (clients \
                         send it as `Authorization: Bearer ...`) or listen on 127.0.0.1"
                    ),
                ));
            }
            if self.allow_host.is_empty() {
                return Err((
                    exit::USAGE,
                    format!("--listen {addr}: name the host names clients use with --allow-host (DNS rebinding guard)"),
                ));
            }
        }
        Ok(options)
    }
}

/// The component files: each path as given, or the .wasm files in a
/// directory, sorted.
fn component_paths(given: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in given {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("--component {}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "wasm") && f.is_file())
                .collect();
            found.sort();
            out.extend(found);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!("--component {}: no such file or directory", p.display()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn component_dirs_expand_to_their_wasm_files() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["b.wasm", "a.wasm", "notes.txt"] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        let found = component_paths(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<_> = found.iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(names, ["a.wasm", "b.wasm"]);
        assert!(component_paths(&[Path::new("/nonexistent/x.wasm").to_path_buf()]).is_err());
    }
}
