//! What a gateway is started with: the wire generation, where its state
//! lives, timings, injected faults and transport security.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// The wire generation the gateway speaks (see `openshell_proto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Gateways `0.0.x`: sandboxes addressed by id for exec/watch/config.
    V0_0,
    /// Gateways `0.1.x` (schema of 0.1.5): everything addressed by name.
    V0_1,
}

impl Protocol {
    /// The `HealthResponse.version` a real gateway of this generation would
    /// report; clients pick their generation from its prefix.
    #[must_use]
    pub fn default_version(self) -> &'static str {
        match self {
            Protocol::V0_0 => "0.0.116",
            Protocol::V0_1 => "0.1.5",
        }
    }
}

impl FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().trim_start_matches('v') {
            "0.0" | "0_0" | "0.0.x" => Ok(Protocol::V0_0),
            "0.1" | "0_1" | "0.1.x" => Ok(Protocol::V0_1),
            other => Err(format!("unknown protocol generation `{other}`: use 0.0 or 0.1")),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::V0_0 => "0.0",
            Protocol::V0_1 => "0.1",
        })
    }
}

/// Faults injected on purpose, so clients can be tested against a gateway
/// that misbehaves the way real ones do (cold starts, dropped relays,
/// sandboxes that never come up or die later).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Added before every RPC is handled (network and gateway latency).
    pub delay: Duration,
    /// The first N RPCs (of any method, Health included) answer
    /// UNAVAILABLE "gateway warming up (injected fault)".
    pub unavailable_first: u32,
    /// Exec streams (plain and interactive) end with UNAVAILABLE "exec relay
    /// closed before the command reported an exit status" instead of
    /// sending their (N+1)th event, as when a supervisor relay drops.
    pub drop_exec_after: Option<u32>,
    /// Sandboxes stay PROVISIONING forever (supervisor never connects).
    pub never_ready: bool,
    /// READY sandboxes go to ERROR this long after becoming READY, as when
    /// their main process exits.
    pub error_after: Option<Duration>,
    /// Interactive exec streams end with the same UNAVAILABLE as
    /// `drop_exec_after` once the client has sent more than N bytes of
    /// stdin, and the command is killed: a relay that drops in the middle
    /// of an upload (which `drop_exec_after` cannot reach, since an upload
    /// produces no output events until it ends).
    pub drop_exec_after_input: Option<u64>,
    /// When a sandbox leaves READY (goes to ERROR under `error_after`, or
    /// is stopped or deleted), its running exec streams end with that
    /// UNAVAILABLE and their commands are killed, as when the relays die
    /// with the main process. Off, commands already running finish.
    pub error_ends_execs: bool,
}

/// Certificate files for TLS. With `client_ca`, clients must present a
/// certificate signed by it (mTLS), like a gateway configured with a client CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM server certificate chain.
    pub cert: PathBuf,
    /// PEM private key of `cert`.
    pub key: PathBuf,
    /// PEM CA that client certificates must chain to.
    pub client_ca: Option<PathBuf>,
}

/// Everything [`serve`](crate::serve) needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The wire generation to speak.
    pub protocol: Protocol,
    /// Where the registry (`gateway.json`) and the sandboxes' files live. A
    /// gateway restarted on the same directory knows its sandboxes again.
    pub state_dir: PathBuf,
    /// `HealthResponse.version`; defaults to [`Protocol::default_version`].
    pub version: String,
    /// Injected faults.
    pub faults: Faults,
    /// Slept before each exec starts: a real gateway opens a supervisor
    /// relay and a login shell per exec (about 17 ms on a small machine).
    pub exec_setup_cost: Duration,
    /// How long a new (or restarted) sandbox stays PROVISIONING before it
    /// turns READY; also the STOPPING and STARTING time.
    pub ready_delay: Duration,
    /// How long a deleted sandbox stays visible in phase DELETING after
    /// DeleteSandbox returned, so clients have to poll for NOT_FOUND as they
    /// must with a real gateway.
    pub deleting_linger: Duration,
    /// After an interactive exec's client half-closes its request stream,
    /// how long the gateway still relays output before it closes the
    /// channel. The real gateway sends EOF and closes at once, so output the
    /// command produces later is lost and the stream ends UNAVAILABLE.
    pub half_close_grace: Duration,
    /// Serve TLS (mTLS with a client CA) instead of plaintext.
    pub tls: Option<TlsFiles>,
    /// Require `authorization: Bearer <token>` on every RPC except Health.
    pub bearer_token: Option<String>,
    /// Counters a test can read while the gateway runs.
    pub stats: Stats,
    /// Credential providers that exist in every workspace (the real
    /// gateway's `CreateProvider` is not modelled).
    pub providers: Vec<ProviderSeed>,
    /// Rules the supervisor of every new sandbox proposes at once, as the
    /// real one does after connections its policy denied (the test
    /// gateway has no egress proxy to deny them).
    pub draft_proposals: Vec<DraftProposal>,
}

/// A rule a sandbox's supervisor proposes: access to `host:port` for
/// `binary`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DraftProposal {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The binary that made the denied connections.
    pub binary: String,
}

/// A credential provider the gateway knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderSeed {
    /// Its name.
    pub name: String,
    /// Its type (`github`, `claude`, ...).
    pub kind: String,
    /// Credential names and values; `ListSandboxProviders` returns them
    /// as the gateway stores them, so tests can check a client never
    /// passes the values on.
    pub credentials: std::collections::BTreeMap<String, String>,
}

/// What the gateway has done so far, shared by every clone of a
/// [`Config`] (so a test keeps one and reads it while serving).
#[derive(Debug, Clone, Default)]
pub struct Stats {
    execs: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Stats {
    /// Exec calls started (`ExecSandbox` and `ExecSandboxInteractive`).
    pub fn execs(&self) -> u64 {
        self.execs.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn count_exec(&self) {
        self.execs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Two configurations share counters only when they are clones.
impl PartialEq for Stats {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.execs, &other.execs)
    }
}

impl Eq for Stats {}

impl Config {
    /// A plaintext gateway of `protocol` keeping its state in `state_dir`,
    /// with no faults, READY after 200 ms and no extra exec cost.
    pub fn new(protocol: Protocol, state_dir: impl Into<PathBuf>) -> Self {
        Config {
            protocol,
            state_dir: state_dir.into(),
            version: protocol.default_version().to_string(),
            faults: Faults::default(),
            exec_setup_cost: Duration::ZERO,
            ready_delay: Duration::from_millis(200),
            deleting_linger: Duration::from_millis(100),
            half_close_grace: Duration::from_millis(100),
            tls: None,
            bearer_token: None,
            stats: Stats::default(),
            providers: Vec::new(),
            draft_proposals: Vec::new(),
        }
    }
}
