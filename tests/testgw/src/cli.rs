//! The `openshell-testgw` command line: flags that map onto [`Config`].

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::config::{Config, Faults, Protocol, TlsFiles};

/// An OpenShell-compatible gRPC test gateway that runs sandboxes with
/// bubblewrap. Prints the bound address (`host:port`) as its first line on
/// stdout, then serves until SIGINT or SIGTERM.
#[derive(Debug, Clone, Parser)]
#[command(name = "openshell-testgw")]
pub struct Args {
    /// Wire generation to speak: 0.0 (gateways 0.0.x) or 0.1 (gateways 0.1.x).
    #[arg(long, default_value = "0.1")]
    pub protocol: Protocol,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Where the registry and sandboxes live; a restart on the same
    /// directory resumes them. Default: a temporary directory removed on exit.
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// `HealthResponse.version` (default 0.0.116 or 0.1.5 by protocol).
    #[arg(long, alias = "gateway-version", value_name = "V")]
    pub version: Option<String>,
    /// Latency added before every RPC, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub delay_ms: u64,
    /// The first N RPCs answer UNAVAILABLE.
    #[arg(long, default_value_t = 0)]
    pub unavailable_first: u32,
    /// End exec streams with UNAVAILABLE after N events.
    #[arg(long)]
    pub drop_exec_after: Option<u32>,
    /// Sandboxes never become READY.
    #[arg(long)]
    pub never_ready: bool,
    /// READY sandboxes go to ERROR after this many milliseconds.
    #[arg(long)]
    pub error_after_ms: Option<u64>,
    /// End interactive exec streams with UNAVAILABLE once the client has
    /// sent more than N bytes of stdin (a relay dropping mid-upload).
    #[arg(long, value_name = "N")]
    pub drop_exec_after_input_bytes: Option<u64>,
    /// End a sandbox's running exec streams when it leaves READY (with
    /// --error-after-ms: the relays die with the main process).
    #[arg(long)]
    pub error_ends_execs: bool,
    /// Sleep before each exec starts, in milliseconds (a real gateway's
    /// relay and login shell cost about 17).
    #[arg(long, default_value_t = 0)]
    pub exec_setup_ms: u64,
    /// How long new sandboxes stay PROVISIONING, in milliseconds.
    #[arg(long, default_value_t = 200)]
    pub ready_delay_ms: u64,
    /// PEM certificate: serve TLS.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA for client certificates: require mTLS.
    #[arg(long, requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,
    /// Require `authorization: Bearer <T>` on every RPC except Health.
    #[arg(long, value_name = "T")]
    pub token: Option<String>,
}

impl Args {
    /// The gateway configuration these flags describe, with its state in
    /// `state_dir` (the flag's, or a directory the caller made).
    pub fn config(&self, state_dir: PathBuf) -> Config {
        let mut config = Config::new(self.protocol, state_dir);
        if let Some(version) = &self.version {
            config.version.clone_from(version);
        }
        config.faults = Faults {
            delay: Duration::from_millis(self.delay_ms),
            unavailable_first: self.unavailable_first,
            drop_exec_after: self.drop_exec_after,
            never_ready: self.never_ready,
            error_after: self.error_after_ms.map(Duration::from_millis),
            drop_exec_after_input: self.drop_exec_after_input_bytes,
            error_ends_execs: self.error_ends_execs,
        };
        config.exec_setup_cost = Duration::from_millis(self.exec_setup_ms);
        config.ready_delay = Duration::from_millis(self.ready_delay_ms);
        config.tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                Some(TlsFiles { cert: cert.clone(), key: key.clone(), client_ca: self.client_ca.clone() })
            }
            _ => None,
        };
        config.bearer_token.clone_from(&self.token);
        config
    }
}
