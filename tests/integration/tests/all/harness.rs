//! Shared test setup: a host on a chosen backend target, with its own
//! state, snapshot store and a shared compiled-component cache.

use std::sync::Arc;

use openshell_testgw::testing::component_cache;
use openshell_wasm::backend::Backend;
use openshell_wasm::backend::local::LocalBackend;
use openshell_wasm::backend::openshell::OpenShellBackend;
use openshell_wasm::backend::openshell::config::{GatewayConfig, SessionChannel};
use openshell_wasm::policy::Policy;
use openshell_wasm::runtime::{Host, Pooling, RunFailure, RunOutcome, RunRequest};

/// Where sandboxes live for a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The local bubblewrap backend.
    Local,
    /// The OpenShell backend, talking to `openshell-testgw` over real gRPC
    /// in the given wire generation.
    Gateway(openshell_testgw::Protocol),
    /// The same, with the session channel turned off: every file operation
    /// runs in its own exec (results must not differ).
    GatewayPerExec(openshell_testgw::Protocol),
}

impl Target {
    /// The workspace path inside this target's sandboxes.
    pub fn workdir(self) -> &'static str {
        match self {
            Target::Local => "/workspace",
            Target::Gateway(_) | Target::GatewayPerExec(_) => "/sandbox",
        }
    }
}

/// A test gateway serving on 127.0.0.1:0 until dropped.
pub type Gateway = openshell_testgw::testing::Running;

/// Start a test gateway; `tweak` adjusts its configuration (faults, TLS).
pub async fn start_gateway(
    protocol: openshell_testgw::Protocol,
    state: &std::path::Path,
    tweak: impl FnOnce(&mut openshell_testgw::Config),
) -> Gateway {
    let mut config = openshell_testgw::Config::new(protocol, state);
    tweak(&mut config);
    Gateway::start(config).await
}

/// The value of the credential the test gateway's `github` provider holds:
/// guests must never see it.
pub const PROVIDER_SECRET: &str = "ghp-testgw-credential-value";

/// The host every component test gateway's sandboxes start with a pending
/// draft rule for, as if they had tried to reach it and been denied.
pub const DRAFT_HOST: &str = "pypi.org";

/// The credential providers every component test gateway has.
fn providers() -> Vec<openshell_testgw::ProviderSeed> {
    let seed = |name: &str, key: &str, value: &str| openshell_testgw::ProviderSeed {
        name: name.into(),
        kind: name.into(),
        credentials: [(key.to_string(), value.to_string())].into(),
    };
    vec![
        seed("github", "GITHUB_TOKEN", PROVIDER_SECRET),
        seed("gitlab", "GITLAB_TOKEN", "glpat-testgw-credential-value"),
        seed("other", "OTHER_TOKEN", "other-credential-value"),
    ]
}

/// One test's host and the directories it owns.
pub struct Fixture {
    pub host: Host,
    pub backend: Arc<dyn Backend>,
    _gateway: Option<Gateway>,
    _state: tempfile::TempDir,
    _snapshots: tempfile::TempDir,
    approvals: tempfile::TempDir,
}

/// Parse policy text (panics on errors: tests write valid policies).
pub fn policy(text: &str) -> Policy {
    openshell_wasm::policy::parse(text, "test-policy.toml").unwrap()
}

/// A backend for `target` (and the gateway behind it, if any).
pub async fn backend(target: Target, state: &std::path::Path) -> (Arc<dyn Backend>, Option<Gateway>) {
    match target {
        Target::Local => (Arc::new(LocalBackend::new(state).expect("bubblewrap is required for the tests")), None),
        Target::Gateway(protocol) | Target::GatewayPerExec(protocol) => {
            let gw = start_gateway(protocol, state, |c| {
                c.providers = providers();
                c.draft_proposals = vec![openshell_testgw::DraftProposal {
                    host: DRAFT_HOST.into(),
                    port: 443,
                    binary: "/usr/bin/curl".into(),
                }];
            })
            .await;
            let mut cfg = GatewayConfig::new(format!("http://{}", gw.addr));
            cfg.session_channel =
                if matches!(target, Target::Gateway(_)) { SessionChannel::Auto } else { SessionChannel::Off };
            let backend = OpenShellBackend::connect(cfg).await.expect("connect to the test gateway");
            (Arc::new(backend), Some(gw))
        }
    }
}

/// A host for `target` with `policy`.
pub async fn fixture(target: Target, policy: Policy) -> Fixture {
    let state = tempfile::tempdir().unwrap();
    let snapshots = tempfile::tempdir().unwrap();
    let approvals = tempfile::tempdir().unwrap();
    let (backend, gateway) = backend(target, state.path()).await;
    // Each test has its own engine; on-demand allocation keeps dozens of
    // parallel tests from reserving terabytes of address space (the pool
    // has its own test).
    let host = Host::builder()
        .backend(backend.clone())
        .policy(policy)
        .snapshot_dir(snapshots.path())
        .approvals_dir(approvals.path())
        .cache_dir(Some(component_cache()))
        .pooling(Pooling::Off)
        .build()
        .unwrap();
    Fixture { host, backend, _gateway: gateway, _state: state, _snapshots: snapshots, approvals }
}

impl Fixture {
    /// Where this host's access requests wait (what `openshell-wasm
    /// approvals` would be pointed at).
    pub fn approvals(&self) -> openshell_wasm::approvals::ApprovalStore {
        openshell_wasm::approvals::ApprovalStore::new(self.approvals.path())
    }

    /// Run the component at `path` with `input` in a fresh sandbox.
    pub async fn run(&self, path: &str, input: &str) -> Result<RunOutcome, RunFailure> {
        self.run_request(path, RunRequest::new(input)).await
    }

    /// Run with a full request.
    pub async fn run_request(&self, path: &str, request: RunRequest) -> Result<RunOutcome, RunFailure> {
        let agent = self.host.load_file(std::path::Path::new(path)).await.expect("component loads");
        self.host.run(&agent, request).await
    }

    /// Run and return the agent's `Ok` result, failing the test otherwise.
    pub async fn ok(&self, path: &str, input: &str) -> String {
        match self.run(path, input).await {
            Ok(o) => match o.result {
                Ok(r) => r,
                Err(e) => panic!("the agent failed: {e}\nguest stderr: {}", String::from_utf8_lossy(&o.output.stderr)),
            },
            Err(f) => panic!("the run failed: {f}\nguest stderr: {}", String::from_utf8_lossy(&f.output.stderr)),
        }
    }

    /// Sandboxes still present on the backend.
    pub async fn leftovers(&self) -> Vec<String> {
        self.backend.list(&[]).await.unwrap().into_iter().map(|s| s.name).collect()
    }
}

/// The `key=value` field of a report line.
pub fn field<'a>(report: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key}=");
    report
        .split(['\n', ' '])
        .find_map(|w| w.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no `{key}` in report:\n{report}"))
}
