//! What the figures run against: the test gateway on its own thread and
//! runtime (so its work is scheduled apart from the client's, as a real
//! gateway's would be), our backends, a raw tonic client of the same
//! gateway as the baseline, and hosts.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use openshell_proto::v0_1::openshell::datamodel::v1::{WorkspaceSelector, workspace_selector::Selection};
use openshell_proto::v0_1::openshell::v1 as pb;
use openshell_wasm::backend::openshell::OpenShellBackend;
use openshell_wasm::backend::openshell::config::{GatewayConfig, SessionChannel};
use openshell_wasm::backend::{Backend, ExecEvent, ExecRequest, SandboxInfo, SandboxSpec};
use openshell_wasm::policy::Policy;
use openshell_wasm::runtime::{Host, Pooling};
use pb::open_shell_client::OpenShellClient;
use tokio::sync::mpsc;

/// A server on 127.0.0.1 with its own thread and runtime (so its work is
/// scheduled apart from the client's), serving until dropped.
pub struct Background {
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Bind 127.0.0.1:0 and run `serve(listener, shutdown)` on the thread.
    pub fn start<F, Fut>(serve: F) -> Background
    where
        F: FnOnce(tokio::net::TcpListener, futures::future::BoxFuture<'static, ()>) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("the server's runtime");
            rt.block_on(async move {
                listener.set_nonblocking(true).expect("non-blocking listener");
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let shutdown = Box::pin(async {
                    let _ = stopped.await;
                });
                serve(listener, shutdown).await;
            });
        });
        Background { addr, stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A test gateway (0.1 generation) serving on 127.0.0.1 from its own
/// thread until dropped.
pub struct Gateway {
    pub addr: std::net::SocketAddr,
    _server: Background,
    _state: tempfile::TempDir,
}

impl Gateway {
    /// Start one whose every exec first waits `exec_cost` (a real
    /// gateway's relay and login shell).
    pub fn start(exec_cost: Duration) -> Gateway {
        let state = tempfile::tempdir().expect("a temporary directory");
        let mut config = openshell_testgw::Config::new(openshell_testgw::Protocol::V0_1, state.path());
        config.exec_setup_cost = exec_cost;
        let server = Background::start(move |listener, shutdown| async move {
            if let Err(e) = openshell_testgw::serve(listener, config, shutdown).await {
                eprintln!("the test gateway failed: {e:#}");
            }
        });
        Gateway { addr: server.addr, _server: server, _state: state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Our OpenShell backend for this gateway.
    pub async fn backend(&self, session_channel: SessionChannel) -> OpenShellBackend {
        let mut cfg = GatewayConfig::new(self.url());
        cfg.session_channel = session_channel;
        OpenShellBackend::connect(cfg).await.expect("connect to the test gateway")
    }

    /// A raw tonic client: the baseline.
    pub async fn raw(&self) -> Raw {
        let channel = tonic::transport::Endpoint::from_shared(self.url())
            .expect("endpoint")
            .connect()
            .await
            .expect("connect the raw client");
        Raw { client: OpenShellClient::new(channel).max_decoding_message_size(8 << 20) }
    }
}

/// A real gateway's cost per exec (a relay and a login shell), as
/// OpenShell's authors measured it on a small machine.
pub const REAL_EXEC_COST: Duration = Duration::from_millis(17);

/// A gateway whose per-exec cost is at least [`REAL_EXEC_COST`]: the test
/// gateway's own cost (a bubblewrap sandbox and a login shell per exec) is
/// measured first, and only the difference is added. Returns the gateway,
/// its own cost and what was added.
pub async fn realistic_gateway() -> (Gateway, Duration, Duration) {
    let gw = Gateway::start(Duration::ZERO);
    let own = {
        let backend = gw.backend(SessionChannel::Off).await;
        let sb = sandbox(&backend).await;
        let raw = gw.raw().await;
        let mut s = crate::measure::Samples::default();
        for _ in 0..15 {
            s.push(crate::measure::time(raw.exec(&sb.name, &["true"], false)).await.0);
        }
        backend.delete(&sb.name).await.expect("delete the calibration sandbox");
        s.median()
    };
    let added = REAL_EXEC_COST.saturating_sub(own);
    if added.is_zero() {
        return (gw, own, added);
    }
    drop(gw);
    (Gateway::start(added), own, added)
}

/// A sandbox, created and READY.
pub async fn sandbox(backend: &dyn Backend) -> SandboxInfo {
    backend.create(&SandboxSpec::default().with_ready_timeout(Duration::from_secs(60))).await.expect("create a sandbox")
}

/// The generated client, used the way any gRPC user would.
#[derive(Clone)]
pub struct Raw {
    client: OpenShellClient<tonic::transport::Channel>,
}

fn scope() -> Option<WorkspaceSelector> {
    Some(WorkspaceSelector { selection: Some(Selection::Workspace("default".into())) })
}

fn request(sandbox: &str, argv: &[&str], stdin: Vec<u8>) -> pb::ExecSandboxRequest {
    pb::ExecSandboxRequest {
        sandbox: sandbox.to_string(),
        command: argv.iter().map(|s| s.to_string()).collect(),
        workdir: "/sandbox".into(),
        stdin,
        execution_timeout: Some(prost_types::Duration { seconds: 300, nanos: 0 }),
        workspace_scope: scope(),
        ..Default::default()
    }
}

impl Raw {
    /// `ExecSandbox`: returns the exit code and the stdout byte count
    /// (`keep` collects stdout too).
    pub async fn exec(&self, sandbox: &str, argv: &[&str], keep: bool) -> (i32, u64, Vec<u8>) {
        let mut c = self.client.clone();
        let mut stream = c.exec_sandbox(request(sandbox, argv, Vec::new())).await.expect("ExecSandbox").into_inner();
        let (mut n, mut out) = (0u64, Vec::new());
        while let Some(ev) = stream.next().await {
            match ev.expect("exec stream").payload {
                Some(pb::exec_sandbox_event::Payload::Stdout(o)) => {
                    n += o.data.len() as u64;
                    if keep {
                        out.extend_from_slice(&o.data);
                    }
                }
                Some(pb::exec_sandbox_event::Payload::Exit(x)) => return (x.exit_code, n, out),
                _ => {}
            }
        }
        panic!("the raw exec stream ended without an exit status")
    }

    /// `ExecSandboxInteractive` of `sh -c SCRIPT` fed `chunks` as stdin
    /// frames; the request stream stays open until the exit status comes.
    pub async fn exec_stdin(&self, sandbox: &str, script: &str, chunks: &[Bytes]) -> i32 {
        use pb::exec_sandbox_input::Payload;
        let (tx, rx) = mpsc::channel::<pb::ExecSandboxInput>(8);
        let start =
            pb::ExecSandboxInput { payload: Some(Payload::Start(request(sandbox, &["sh", "-c", script], Vec::new()))) };
        tx.send(start).await.expect("start frame");
        let mut c = self.client.clone();
        let call = c.exec_sandbox_interactive(tokio_stream::wrappers::ReceiverStream::new(rx));
        let feed = {
            let chunks = chunks.to_vec();
            async move {
                for ch in chunks {
                    if tx.send(pb::ExecSandboxInput { payload: Some(Payload::Stdin(ch.to_vec())) }).await.is_err() {
                        break;
                    }
                }
                tx
            }
        };
        let (resp, tx) = tokio::join!(call, feed);
        let mut stream = resp.expect("ExecSandboxInteractive").into_inner();
        let mut code = None;
        while let Some(ev) = stream.next().await {
            if let Some(pb::exec_sandbox_event::Payload::Exit(x)) = ev.expect("interactive stream").payload {
                code = Some(x.exit_code);
                break;
            }
        }
        drop(tx);
        code.expect("the raw interactive stream ended without an exit status")
    }
}

/// Run a command through our backend and return (exit code, stdout).
pub async fn exec(backend: &dyn Backend, sb: &SandboxInfo, argv: &[&str]) -> (i32, Vec<u8>) {
    let req = ExecRequest::new(argv, sb.workdir.clone(), Duration::from_secs(300));
    let mut s = backend.open(sb).exec(req).await.expect("exec");
    let mut out = Vec::new();
    while let Some(ev) = s.events.recv().await {
        match ev {
            ExecEvent::Stdout(b) => out.extend_from_slice(&b),
            ExecEvent::Exit(e) => return (e.code, out),
            ExecEvent::Failed(e) => panic!("exec failed: {e}"),
            ExecEvent::Stderr(_) => {}
        }
    }
    panic!("the exec ended without an exit status")
}

/// A host over `backend` with `policy`, its own snapshot store and the
/// compiled-component cache in `cache` (none: always compile).
pub fn host(backend: Arc<dyn Backend>, policy: Policy, state: &Path, cache: Option<PathBuf>) -> Host {
    Host::builder()
        .backend(backend)
        .policy(policy)
        .snapshot_dir(state.join("snapshots"))
        .cache_dir(cache)
        .pooling(Pooling::Auto)
        .max_instances(256)
        .build()
        .expect("a host")
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Deterministic incompressible bytes.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}
