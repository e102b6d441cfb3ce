//! The fault matrix: every fault the test gateway can inject, against every
//! operation the OpenShell backend builds over exec (a command, small and
//! large reads and writes, snapshot persist and hydrate), in the 0.1 wire
//! generation and, for a representative subset, 0.0. Then the same faults
//! through guests, where the run's cleanup is what is at stake.
//!
//! One cell (fault × operation) runs on a gateway of its own:
//!
//! 1. A clean gateway (an [`Instance`](openshell_testgw::Instance), on its own runtime so it can be
//!    killed like a process) on 127.0.0.1:0; the backend connects, creates
//!    a sandbox and opens its session channel. The sandbox's files are
//!    seeded on disk, around the gateway.
//! 2. The fault: the gateway is replaced by a faulty one on the same port
//!    and state directory (or just stopped: "not listening"), or, for faults
//!    that strike mid-operation, the operation pauses after partial progress
//!    while the sandbox goes to ERROR or the gateway is killed and restarted.
//! 3. The operation runs under a hang detector (`tokio::time::timeout`, a
//!    generous bound: the deadlines involved plus slack; not a speed test).
//!    Its outcome must be the cell's: success (after the host's own
//!    retries), a specific error code whose message names the failure, or a
//!    retryable error that the caller's retry cures. Whatever succeeds is
//!    checked byte for byte (sha256).
//! 4. The truth on disk, read around the gateway through the local backend
//!    that holds the sandbox's files: a write target holds exactly its old
//!    or its new content, never a mix or a temporary file's content.
//! 5. A clean gateway again: the same operation now succeeds (a sandbox in
//!    ERROR instead says it is not ready); the temporary file of a failed
//!    write is gone (the host removes it once the gateway lets it; in a
//!    sandbox that died it stays, and is counted); the sandbox is deleted,
//!    and nothing is left: not on the gateway (with or without the owner
//!    label) and not in its backing store.
//!
//! The matrix (`Fault::expect`; U = `unavailable`, T = `timeout`, "→ ok":
//! the caller's retry succeeds; every failure leaves a write's target whole
//! and is followed by a successful attempt on a clean gateway, except in a
//! sandbox that died, where the next attempt says it is not ready):
//!
//! | fault | exec | read 16 KiB | read 8 MiB | write 16 KiB | write 3 MiB | persist | hydrate |
//! |---|---|---|---|---|---|---|---|
//! | not listening | U | U (retried) | U (retried) | U | U | U | U |
//! | first 2 calls UNAVAILABLE | U → ok | ok | ok | U → ok | U → ok | U → ok | U → ok |
//! | stream dropped after 12 events | U | ok | U | ok | ok | U | ok |
//! | upload dropped after 1.5 MiB | ok | ok | ok | ok | U | ok | U |
//! | 10 s delays, 3 s deadline | T | T | T | T | T | T | T |
//! | never READY (existing sandbox) | ok | ok | ok | ok | ok | ok | ok |
//! | ERROR mid-operation | U | U not ready | U | U not ready | U | U | U |
//! | killed and restarted mid-operation | U | ok | U | ok | U | U | U |
//!
//! Through guests: a run whose sandbox never gets READY fails at creation
//! with a timeout and the sandbox is deleted; one whose create outlives its
//! deadline fails and nothing is created later; one whose sandbox goes to
//! ERROR, or whose gateway is killed and restarted, ends with the agent's
//! error and its sandbox deleted.
//!
//! The existing single-fault tests in `gateway.rs` (gateway down at
//! connect, UNAVAILABLE retried at connect, 20 s delay at connect, dropped
//! stream, never READY, ERROR with its reason) stay; this file crosses the
//! faults with the operations.

#![allow(clippy::print_stdout, reason = "one summary line per cell: the matrix's record of what each fault did")]

use std::collections::BTreeMap;
use std::io::Read as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use openshell_testgw::testing::{Restartable, component_cache, sha256_hex as sha};
use openshell_testgw::{Config, Protocol as Gw};
use openshell_wasm::backend::local::LocalBackend;
use openshell_wasm::backend::openshell::OpenShellBackend;
use openshell_wasm::backend::openshell::config::GatewayConfig;
use openshell_wasm::backend::{
    Backend, ByteStream, ExecEvent, ExecRequest, OWNER_LABEL, OWNER_VALUE, Phase, Sandbox, SandboxInfo, SandboxSpec,
    WriteOptions,
};
use openshell_wasm::error::{ErrorCode, SandboxError};
use openshell_wasm::runtime::{Host, Pooling, RunError, RunRequest};
use test_artifacts as guests;

/// Deadline of every unary gateway call (and the retry budget of the calls
/// the backend repeats).
const RPC_TIMEOUT: Duration = Duration::from_secs(3);
/// When the sandbox goes to ERROR after the faulty gateway starts: long
/// enough for every operation to reach its midpoint first, even on a
/// loaded machine.
const ERROR_AFTER: Duration = Duration::from_secs(3);
/// How long a gateway stays down when it is restarted (killed, or stopped
/// to swap in a faulty one): a restart is never instant, and the client
/// sees the old gateway go before the new one answers.
const DOWN_FOR: Duration = Duration::from_millis(300);

const TARGET: &str = "/sandbox/data/target.bin";
const SMALL_FILE: &str = "/sandbox/data/small.bin";
const LARGE_FILE: &str = "/sandbox/data/large.bin";
const PROJ: &str = "/sandbox/proj";
const RESTORE: &str = "/sandbox/restore";
/// The exec command waits for this file (at most 5 s) between its two
/// halves, so a fault can strike while it runs.
const GO: &str = "/sandbox/go";
const EXEC_SCRIPT: &str = "seq 1 10000; i=0; while [ ! -e /sandbox/go ] && [ $i -lt 100 ]; do sleep 0.05; \
                           i=$((i+1)); done; seq 10001 30000";

/// Through the session channel (at most 1 MiB).
const SMALL: usize = 16 << 10;
/// Over the 4 MiB HTTP/2 stream window: a read or an export of this size
/// cannot finish before the client has taken most of it, so a fault that
/// strikes after the first chunk finds it in flight.
const LARGE: usize = 8 << 20;
/// A streamed upload (over the 960 KiB whole-write limit).
const LARGE_WRITE: usize = 3 << 20;
/// The write target's content before the fault.
const OLD: usize = 64 << 10;
/// A streamed write or hydrate sends this much before the fault strikes.
const FIRST_PART: usize = 1 << 20;

/// Deterministic bytes; `seed` tells contents apart.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed).collect()
}

/// What the exec command prints.
fn exec_output() -> Vec<u8> {
    (1..=30000).map(|i| format!("{i}\n")).collect::<String>().into_bytes()
}

/// The tree persisted from `PROJ` and hydrated into `RESTORE`: relative
/// path → content.
fn tree() -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([
        ("a.txt".to_string(), b"alpha\n".to_vec()),
        ("sub/b.txt".to_string(), pattern(5000, 3)),
        ("big.bin".to_string(), pattern(LARGE, 4)),
    ])
}

/// [`tree`] as a tar archive (directories first), as hydrate receives it.
fn tree_archive() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    builder.append_data(&mut dir, "sub/", std::io::empty()).unwrap();
    for (path, data) in tree() {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        builder.append_data(&mut h, &path, data.as_slice()).unwrap();
    }
    builder.into_inner().unwrap()
}

/// The regular files of a tar archive: relative path → sha256.
fn archive_files(archive: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut a = tar::Archive::new(archive);
    for entry in a.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path().map_err(|e| e.to_string())?.to_string_lossy().trim_start_matches("./").to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(|e| e.to_string())?;
        out.insert(path, sha(&data));
    }
    Ok(out)
}

fn tree_shas() -> BTreeMap<String, String> {
    tree().into_iter().map(|(p, d)| (p, sha(&d))).collect()
}

/// An operation of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// A command with 170 KB of output in two halves.
    Exec,
    /// A 16 KiB read (session channel).
    ReadSmall,
    /// An 8 MiB read (its own streamed exec).
    ReadLarge,
    /// A 16 KiB write replacing the target (session channel).
    WriteSmall,
    /// A 3 MiB write replacing the target (temp file, streamed upload,
    /// size check, rename).
    WriteLarge,
    /// `export_tar` of a tree holding an 8 MiB file.
    Persist,
    /// `import_tar` of that tree, replacing what was there.
    Hydrate,
}

const ALL_OPS: [Op; 7] =
    [Op::Exec, Op::ReadSmall, Op::ReadLarge, Op::WriteSmall, Op::WriteLarge, Op::Persist, Op::Hydrate];
/// The 0.0 generation runs one operation of each kind.
const SUBSET: [Op; 4] = [Op::Exec, Op::ReadLarge, Op::WriteLarge, Op::Hydrate];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Exec => "exec",
            Op::ReadSmall => "read-16KiB",
            Op::ReadLarge => "read-8MiB",
            Op::WriteSmall => "write-16KiB",
            Op::WriteLarge => "write-3MiB",
            Op::Persist => "persist",
            Op::Hydrate => "hydrate",
        }
    }

    fn is_write(self) -> bool {
        matches!(self, Op::WriteSmall | Op::WriteLarge)
    }

    /// The content a successful write leaves.
    fn new_content(self) -> Vec<u8> {
        match self {
            Op::WriteSmall => pattern(SMALL, 2),
            _ => pattern(LARGE_WRITE, 2),
        }
    }
}

/// A fault of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The gateway is stopped before the operation and not restarted.
    NotListening,
    /// A restarted gateway answers its first N calls UNAVAILABLE.
    Unavailable(u32),
    /// Exec streams (the session channel too) drop after N output events.
    DropAfterEvents(u32),
    /// Interactive exec streams drop once the client sent N bytes of stdin
    /// (an upload cut mid-way).
    DropAfterInput(u64),
    /// Every call waits this long first (longer than `RPC_TIMEOUT`).
    Delay(Duration),
    /// New sandboxes never become READY (existing ones stay READY).
    NeverReady,
    /// The sandbox goes to ERROR while the operation runs, and its running
    /// execs die with it.
    ErrorMidRun,
    /// The gateway is killed while the operation runs (every connection
    /// cut) and restarted on the same port and state.
    KilledAndRestarted,
}

/// Where the fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strike {
    /// Before the operation (the faulty gateway is already in place).
    Before,
    /// After the operation's first chunk: wait until the sandbox is ERROR.
    SandboxErrors,
    /// After the operation's first chunk: kill the gateway, restart it.
    GatewayCrashes,
}

/// The outcome a cell must have.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// Success, after whatever retries the host makes itself.
    Ok,
    /// An error with this code whose message contains this text.
    Err(ErrorCode, &'static str),
    /// That error, marked retryable, and the same operation retried by the
    /// caller then succeeds.
    RetryOk(ErrorCode, &'static str),
}

impl Fault {
    fn name(self) -> String {
        match self {
            Fault::NotListening => "not-listening".into(),
            Fault::Unavailable(n) => format!("unavailable-first-{n}"),
            Fault::DropAfterEvents(n) => format!("drop-after-{n}-events"),
            Fault::DropAfterInput(n) => format!("drop-after-{}KiB-stdin", n >> 10),
            Fault::Delay(d) => format!("delay-{}s", d.as_secs()),
            Fault::NeverReady => "never-ready".into(),
            Fault::ErrorMidRun => "error-mid-run".into(),
            Fault::KilledAndRestarted => "killed-and-restarted".into(),
        }
    }

    /// The faulty gateway's configuration.
    fn apply(self, c: &mut Config) {
        match self {
            Fault::Unavailable(n) => c.faults.unavailable_first = n,
            Fault::DropAfterEvents(n) => c.faults.drop_exec_after = Some(n),
            Fault::DropAfterInput(n) => c.faults.drop_exec_after_input = Some(n),
            Fault::Delay(d) => c.faults.delay = d,
            Fault::NeverReady => c.faults.never_ready = true,
            Fault::ErrorMidRun => {
                c.faults.error_after = Some(ERROR_AFTER);
                c.faults.error_ends_execs = true;
            }
            Fault::NotListening | Fault::KilledAndRestarted => {}
        }
    }

    fn strike(self) -> Strike {
        match self {
            Fault::ErrorMidRun => Strike::SandboxErrors,
            Fault::KilledAndRestarted => Strike::GatewayCrashes,
            _ => Strike::Before,
        }
    }

    /// The hang detector's bound for one attempt: the deadlines the
    /// operation can meet under this fault, plus generous slack.
    fn bound(self) -> Duration {
        let slack = Duration::from_secs(20);
        match self {
            // Up to three delayed calls in a row (channel, exec, commit).
            Fault::Delay(d) => d * 3 + slack,
            Fault::ErrorMidRun => ERROR_AFTER + RPC_TIMEOUT + slack,
            _ => RPC_TIMEOUT * 2 + slack,
        }
    }

    /// The matrix: what each operation must do under this fault.
    fn expect(self, op: Op) -> Expect {
        use ErrorCode::Unavailable;
        match (self, op) {
            // Nothing answers: every operation fails as unavailable (reads
            // after retrying until their budget ran out).
            (Fault::NotListening, _) => Expect::Err(Unavailable, "gateway"),
            // Reads are retried by the backend; everything else may have
            // an effect, so it fails at once, retryable, and the caller's
            // retry works once the warm-up is over.
            (Fault::Unavailable(_), Op::ReadSmall | Op::ReadLarge) => Expect::Ok,
            (Fault::Unavailable(_), _) => Expect::RetryOk(Unavailable, "warming up"),
            // Only streams with many output events are cut: the command,
            // the 8 MiB read and the export. The small read survives the
            // channel dropping (re-run in its own exec); writes and hydrate
            // produce almost no output.
            (Fault::DropAfterEvents(_), Op::Exec | Op::ReadLarge | Op::Persist) => {
                Expect::Err(Unavailable, "exit status")
            }
            (Fault::DropAfterEvents(_), _) => Expect::Ok,
            // Only the streamed upload and the hydrated archive send that
            // much stdin through an interactive exec.
            (Fault::DropAfterInput(_), Op::WriteLarge | Op::Hydrate) => Expect::Err(Unavailable, "exit status"),
            (Fault::DropAfterInput(_), _) => Expect::Ok,
            // Opening any call, streams included, has the unary deadline:
            // every operation fails in seconds rather than waiting out the
            // delay (and, checked separately, has no late effect).
            (Fault::Delay(_), _) => Expect::Err(ErrorCode::Timeout, "no answer within"),
            // Only creation is affected (see the guest tests below).
            (Fault::NeverReady, _) => Expect::Ok,
            // Small operations start after the ERROR: the sandbox is not
            // ready. The others are cut mid-stream.
            (Fault::ErrorMidRun, Op::ReadSmall | Op::WriteSmall) => Expect::Err(Unavailable, "not ready"),
            (Fault::ErrorMidRun, _) => Expect::Err(Unavailable, "exit status"),
            // Small operations run after the restart, on a new channel.
            (Fault::KilledAndRestarted, Op::ReadSmall | Op::WriteSmall) => Expect::Ok,
            (Fault::KilledAndRestarted, _) => Expect::Err(Unavailable, "gateway"),
        }
    }
}

/// The gateway of one cell: started, stopped, killed and restarted on one
/// address and state directory.
struct GatewayCtl {
    protocol: Gw,
    gw: Restartable,
}

impl GatewayCtl {
    fn new(protocol: Gw, state: PathBuf) -> GatewayCtl {
        GatewayCtl { protocol, gw: Restartable::new(state) }
    }

    fn addr(&self) -> SocketAddr {
        self.gw.addr()
    }

    /// A clean gateway's configuration (fast phases).
    fn config(&self) -> Config {
        let mut c = Config::new(self.protocol, self.gw.state());
        c.ready_delay = Duration::from_millis(100);
        c.deleting_linger = Duration::from_millis(50);
        c
    }

    /// Starts a gateway (with `fault`'s configuration) on the address.
    async fn start(&mut self, fault: Option<Fault>) {
        let mut config = self.config();
        if let Some(f) = fault {
            f.apply(&mut config);
        }
        self.gw.start(config).await;
    }

    /// Graceful stop.
    async fn stop(&mut self) {
        self.gw.stop().await.expect("the test gateway stops cleanly");
    }

    /// Crash.
    fn kill(&mut self) {
        self.gw.kill();
    }

    /// Replaces the running gateway by one with `fault` (or a clean one):
    /// a graceful stop, a moment down, a start.
    async fn swap(&mut self, fault: Option<Fault>) {
        self.stop().await;
        tokio::time::sleep(DOWN_FOR).await;
        self.start(fault).await;
    }

    /// A clean gateway, whatever ran before (a faulty one may be stuck in
    /// its delay, so it is killed rather than drained).
    async fn restore(&mut self) {
        self.kill();
        tokio::time::sleep(DOWN_FOR).await;
        self.start(None).await;
    }
}

/// The sandbox's files as they are on disk, read and written around the
/// gateway through the local backend that holds them (the test gateway
/// labels each backing sandbox with its id).
struct Disk {
    local: LocalBackend,
    sandbox: Arc<dyn Sandbox>,
}

impl Disk {
    async fn open(state: &Path, gateway_id: &str) -> Disk {
        let local = LocalBackend::new(state.join("sandboxes")).unwrap().with_workdir("/sandbox");
        let found = local.list(&[("openshell-testgw/id".to_string(), gateway_id.to_string())]).await.unwrap();
        let sandbox = found.into_iter().next().expect("the gateway's backing sandbox");
        Disk { sandbox: local.open(&sandbox), local }
    }

    async fn put(&self, path: &str, data: &[u8]) {
        let opts = WriteOptions { create_parents: true, ..WriteOptions::default() };
        let mut sink = self.sandbox.write_file(path, opts).await.unwrap();
        sink.write(Bytes::copy_from_slice(data)).await.unwrap();
        sink.finish().await.unwrap();
    }

    /// The file's content, `None` if it does not exist.
    async fn get(&self, path: &str) -> Option<Vec<u8>> {
        match self.sandbox.read_file(path).await {
            Ok(r) => Some(r.content.map(|c| c.unwrap().to_vec()).concat().await),
            Err(e) if e.code == ErrorCode::NotFound => None,
            Err(e) => panic!("cannot read {path} on disk: {e}"),
        }
    }

    async fn remove(&self, path: &str) {
        match self.sandbox.remove(path, true).await {
            Ok(()) => {}
            Err(e) if e.code == ErrorCode::NotFound => {}
            Err(e) => panic!("cannot remove {path} on disk: {e}"),
        }
    }

    async fn names(&self, dir: &str) -> Vec<String> {
        self.sandbox.list_dir(dir).await.unwrap().into_iter().map(|e| e.name).collect()
    }

    /// Every regular file under `root`: relative path → sha256.
    async fn files(&self, root: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut dirs = vec![String::new()];
        while let Some(rel) = dirs.pop() {
            let dir = if rel.is_empty() { root.to_string() } else { format!("{root}/{rel}") };
            for e in self.sandbox.list_dir(&dir).await.unwrap() {
                let path = if rel.is_empty() { e.name.clone() } else { format!("{rel}/{}", e.name) };
                match e.kind {
                    openshell_wasm::backend::FileKind::Directory => dirs.push(path),
                    _ => {
                        let data = self.get(&format!("{root}/{path}")).await.unwrap_or_default();
                        out.insert(path, sha(&data));
                    }
                }
            }
        }
        out
    }
}

/// One cell's gateway, backend and sandbox.
struct Lab {
    _dir: tempfile::TempDir,
    gw: GatewayCtl,
    backend: OpenShellBackend,
    sandbox: SandboxInfo,
    disk: Disk,
}

impl Lab {
    /// A clean gateway, a connected backend, a READY sandbox with its
    /// session channel open, and the files `op` needs.
    async fn new(protocol: Gw, op: Op) -> Lab {
        let (dir, gw, backend) = connected(protocol, None).await;
        let mut spec = SandboxSpec::default().with_ready_timeout(Duration::from_secs(30));
        spec.labels = BTreeMap::from([(OWNER_LABEL.to_string(), OWNER_VALUE.to_string())]);
        let sandbox = backend.create(&spec).await.unwrap();
        let disk = Disk::open(gw.gw.state(), &sandbox.id).await;
        match op {
            Op::ReadSmall => disk.put(SMALL_FILE, &pattern(SMALL, 1)).await,
            Op::ReadLarge => disk.put(LARGE_FILE, &pattern(LARGE, 1)).await,
            Op::WriteSmall | Op::WriteLarge => disk.put(TARGET, &pattern(OLD, 9)).await,
            Op::Persist => {
                for (path, data) in tree() {
                    disk.put(&format!("{PROJ}/{path}"), &data).await;
                }
            }
            Op::Hydrate => disk.put(&format!("{RESTORE}/stale.txt"), b"to be replaced\n").await,
            Op::Exec => {}
        }
        // The session channel is open when the fault arrives.
        backend.open(&sandbox).stat("/sandbox").await.unwrap();
        Lab { _dir: dir, gw, backend, sandbox, disk }
    }
}

/// Carries out a strike once, at the operation's midpoint (or before it).
struct Striker<'a> {
    kind: Strike,
    gw: &'a mut GatewayCtl,
    probe: &'a OpenShellBackend,
    sandbox: &'a str,
    done: bool,
}

impl Striker<'_> {
    async fn hit(&mut self) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        match self.kind {
            Strike::Before => {}
            Strike::SandboxErrors => {
                let deadline = Instant::now() + ERROR_AFTER + Duration::from_secs(10);
                loop {
                    if let Ok(info) = self.probe.get(self.sandbox).await
                        && info.phase == Phase::Error
                    {
                        return;
                    }
                    assert!(Instant::now() < deadline, "the sandbox never went to ERROR");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            Strike::GatewayCrashes => {
                self.gw.kill();
                tokio::time::sleep(DOWN_FOR).await;
                self.gw.start(None).await;
            }
        }
    }
}

/// What a successful operation produced.
#[derive(Debug)]
enum Done {
    /// Command output or file content.
    Bytes(Vec<u8>),
    /// A write's reported size.
    Written(u64),
    /// An exported archive.
    Archive(Vec<u8>),
    Hydrated,
}

/// Runs `op`, striking at its midpoint (after its first chunk), or before
/// it for operations that have none.
async fn perform(
    op: Op,
    b: &OpenShellBackend,
    sb: &SandboxInfo,
    disk: &Disk,
    striker: &mut Striker<'_>,
) -> Result<Done, SandboxError> {
    if matches!(op, Op::ReadSmall | Op::WriteSmall) {
        striker.hit().await;
    }
    let done = match op {
        Op::Exec => exec(b, sb, disk, striker).await,
        Op::ReadSmall => read(b, sb, SMALL_FILE, striker).await,
        Op::ReadLarge => read(b, sb, LARGE_FILE, striker).await,
        Op::WriteSmall | Op::WriteLarge => write(b, sb, &op.new_content(), striker).await,
        Op::Persist => persist(b, sb, striker).await,
        Op::Hydrate => hydrate(b, sb, striker).await,
    };
    // An operation that failed before its midpoint still gets its fault,
    // so what follows sees the same gateway either way.
    striker.hit().await;
    done
}

async fn exec(
    b: &OpenShellBackend,
    sb: &SandboxInfo,
    disk: &Disk,
    striker: &mut Striker<'_>,
) -> Result<Done, SandboxError> {
    disk.remove(GO).await;
    let req = ExecRequest::new(["sh", "-c", EXEC_SCRIPT], sb.workdir.clone(), Duration::from_secs(30));
    let mut s = b.open(sb).exec(req).await?;
    let mut out = Vec::new();
    let mut released = false;
    loop {
        match s.events.recv().await {
            Some(ExecEvent::Stdout(data)) => {
                out.extend_from_slice(&data);
                if !released {
                    released = true;
                    striker.hit().await;
                    disk.put(GO, b"").await;
                }
            }
            Some(ExecEvent::Stderr(_)) => {}
            Some(ExecEvent::Exit(e)) if e.code == 0 => return Ok(Done::Bytes(out)),
            Some(ExecEvent::Exit(e)) => {
                return Err(SandboxError::backend("test.exec", "exit", format!("the command exited with {}", e.code)));
            }
            Some(ExecEvent::Failed(e)) => return Err(e),
            None => panic!("the exec stream ended without an exit status or a failure"),
        }
    }
}

async fn read(
    b: &OpenShellBackend,
    sb: &SandboxInfo,
    path: &str,
    striker: &mut Striker<'_>,
) -> Result<Done, SandboxError> {
    let r = b.open(sb).read_file(path).await?;
    let mut content = r.content;
    let mut data = Vec::new();
    while let Some(chunk) = content.next().await {
        data.extend_from_slice(&chunk?);
        striker.hit().await;
    }
    if data.len() as u64 != r.size {
        return Err(SandboxError::backend(
            "test.read",
            "short",
            format!("{} of {} bytes, and no error", data.len(), r.size),
        ));
    }
    Ok(Done::Bytes(data))
}

async fn write(
    b: &OpenShellBackend,
    sb: &SandboxInfo,
    data: &[u8],
    striker: &mut Striker<'_>,
) -> Result<Done, SandboxError> {
    let opts = WriteOptions { create_parents: true, ..WriteOptions::default() };
    let mut sink = b.open(sb).write_file(TARGET, opts).await?;
    let split = FIRST_PART.min(data.len());
    sink.write(Bytes::copy_from_slice(&data[..split])).await?;
    striker.hit().await;
    for chunk in data[split..].chunks(FIRST_PART) {
        sink.write(Bytes::copy_from_slice(chunk)).await?;
    }
    Ok(Done::Written(sink.finish().await?.size))
}

async fn persist(b: &OpenShellBackend, sb: &SandboxInfo, striker: &mut Striker<'_>) -> Result<Done, SandboxError> {
    let mut stream = b.open(sb).export_tar(PROJ, &[]).await?;
    let mut archive = Vec::new();
    while let Some(chunk) = stream.next().await {
        archive.extend_from_slice(&chunk?);
        striker.hit().await;
    }
    Ok(Done::Archive(archive))
}

async fn hydrate(b: &OpenShellBackend, sb: &SandboxInfo, striker: &mut Striker<'_>) -> Result<Done, SandboxError> {
    let archive = Bytes::from(tree_archive());
    let (tx, rx) = tokio::sync::mpsc::channel::<openshell_wasm::error::Result<Bytes>>(1);
    let stream: ByteStream =
        Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) }));
    let feed = async {
        let _ = tx.send(Ok(archive.slice(..FIRST_PART))).await;
        // Capacity again: the first part was taken, so the import runs.
        drop(tx.reserve().await);
        striker.hit().await;
        for start in (FIRST_PART..archive.len()).step_by(FIRST_PART) {
            if tx.send(Ok(archive.slice(start..(start + FIRST_PART).min(archive.len())))).await.is_err() {
                break;
            }
        }
        drop(tx);
    };
    let opened = b.open(sb);
    let (imported, ()) = tokio::join!(opened.import_tar(RESTORE, stream, Some(&[])), feed);
    imported.map(|()| Done::Hydrated)
}

/// Checks what a successful operation produced (on the gateway's word) and
/// what it left on disk.
async fn check_success(op: Op, done: &Done, disk: &Disk) -> Result<(), String> {
    let ok = match (op, done) {
        (Op::Exec, Done::Bytes(out)) => sha(out) == sha(&exec_output()),
        (Op::ReadSmall, Done::Bytes(data)) => sha(data) == sha(&pattern(SMALL, 1)),
        (Op::ReadLarge, Done::Bytes(data)) => sha(data) == sha(&pattern(LARGE, 1)),
        (Op::WriteSmall | Op::WriteLarge, Done::Written(size)) => {
            let on_disk = disk.get(TARGET).await.unwrap_or_default();
            *size == op.new_content().len() as u64 && sha(&on_disk) == sha(&op.new_content())
        }
        (Op::Persist, Done::Archive(archive)) => archive_files(archive)? == tree_shas(),
        (Op::Hydrate, Done::Hydrated) => disk.files(RESTORE).await == tree_shas(),
        _ => false,
    };
    if ok { Ok(()) } else { Err(format!("{} reported success but its result is not byte-identical", op.name())) }
}

/// A write that failed left its target whole: the old content, or (only
/// when the error says the commit may have happened) the new one.
async fn check_failed_write(op: Op, e: &SandboxError, disk: &Disk) -> Result<(), String> {
    let on_disk = disk.get(TARGET).await.ok_or("the failed write removed its target")?;
    let old = sha(&pattern(OLD, 9));
    let new = sha(&op.new_content());
    let now = sha(&on_disk);
    if now == old || (now == new && e.message.contains("may or may not")) {
        Ok(())
    } else {
        Err(format!(
            "after the failed write ({e}) the target holds {} bytes matching neither old nor new",
            on_disk.len()
        ))
    }
}

/// After an operation failed: its target is as it was before.
async fn no_late_effect(op: Op, disk: &Disk) -> Result<(), String> {
    match op {
        Op::WriteSmall | Op::WriteLarge => {
            let now = disk.get(TARGET).await.map(|d| sha(&d));
            if now != Some(sha(&pattern(OLD, 9))) {
                return Err("the write that timed out changed its target later".into());
            }
        }
        Op::Hydrate => {
            let names = disk.names(RESTORE).await;
            if names != ["stale.txt"] {
                return Err(format!("the hydrate that timed out changed its root later: {names:?}"));
            }
        }
        Op::Exec | Op::ReadSmall | Op::ReadLarge | Op::Persist => {}
    }
    Ok(())
}

/// Asserts `got` is the outcome `expect` names (for `RetryOk`: its first
/// failure).
fn judge(expect: &Expect, got: &Result<Done, SandboxError>) -> Result<(), String> {
    match (expect, got) {
        (Expect::Ok, Ok(_)) => Ok(()),
        (Expect::Ok, Err(e)) => Err(format!("expected success, got {:?}: {e}", e.code)),
        (Expect::Err(code, text) | Expect::RetryOk(code, text), Err(e)) => {
            if e.code != *code || !e.message.contains(text) {
                return Err(format!("expected {code:?} saying `{text}`, got {:?}: {e}", e.code));
            }
            if matches!(expect, Expect::RetryOk(..)) && !e.retryable {
                return Err(format!("the error must be marked retryable: {e}"));
            }
            Ok(())
        }
        (_, Ok(done)) => Err(format!("expected {expect:?}, but it succeeded ({})", describe(done))),
    }
}

fn describe(done: &Done) -> String {
    match done {
        Done::Bytes(b) | Done::Archive(b) => format!("{} bytes", b.len()),
        Done::Written(n) => format!("{n} bytes written"),
        Done::Hydrated => "hydrated".into(),
    }
}

impl Lab {
    /// Puts the cell's fault in place (for faults that strike mid-operation,
    /// nothing yet).
    async fn bring(&mut self, fault: Fault) {
        match fault {
            Fault::NotListening => self.gw.stop().await,
            Fault::KilledAndRestarted => {}
            _ => self.gw.swap(Some(fault)).await,
        }
    }

    /// One attempt at `op` with `strike`, under the hang detector (`None`:
    /// it hung for `bound`).
    async fn attempt(&mut self, op: Op, strike: Strike, bound: Duration) -> Option<Result<Done, SandboxError>> {
        let Lab { gw, backend, sandbox, disk, .. } = self;
        let mut striker = Striker { kind: strike, gw, probe: backend, sandbox: &sandbox.name, done: false };
        tokio::time::timeout(bound, perform(op, backend, sandbox, disk, &mut striker)).await.ok()
    }

    /// The caller's retries after a retryable failure, a moment apart:
    /// the first success and how many attempts it took in all.
    async fn retry_until_ok(&mut self, op: Op, bound: Duration) -> Result<(Done, u32), String> {
        let mut attempts = 1;
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            attempts += 1;
            match self.attempt(op, Strike::Before, bound).await {
                None => return Err(format!("retry {attempts} hung")),
                Some(Ok(done)) => return Ok((done, attempts)),
                Some(Err(e)) if attempts >= 6 => return Err(format!("still failing after {attempts} attempts: {e}")),
                Some(Err(_)) => {}
            }
        }
    }

    /// A clean gateway again: the next attempt succeeds byte for byte (in
    /// a sandbox that died, it fails saying the sandbox is not ready).
    /// Returns what happened and how many temporary files failed writes
    /// left beside the target (see [`Lab::temps`]).
    async fn recover(&mut self, fault: Fault, op: Op) -> Result<(&'static str, usize), String> {
        // A killed gateway came back clean; killing it again could cut the
        // host's own cleanup of the failed operation short.
        if fault != Fault::KilledAndRestarted {
            self.gw.restore().await;
        }
        let next = self.attempt(op, Strike::Before, Fault::NotListening.bound()).await;
        let next = next.ok_or("the attempt after the fault hung")?;
        let temps = if op.is_write() { self.temps(fault != Fault::ErrorMidRun).await? } else { 0 };
        if fault == Fault::ErrorMidRun {
            judge(&Expect::Err(ErrorCode::Unavailable, "not ready"), &next)
                .map_err(|m| format!("next attempt: {m}"))?;
            return Ok(("next: not ready", temps));
        }
        let done = next.map_err(|e| format!("the attempt after the fault failed: {e}"))?;
        check_success(op, &done, &self.disk).await.map_err(|m| format!("next attempt: {m}"))?;
        Ok(("next: ok", temps))
    }

    /// How many temporary files are beside the write target. A failed
    /// write's file is removed by the host in the background once the
    /// gateway lets it: where the sandbox is alive (`must_go`) they must
    /// all be gone within a few seconds. In a sandbox that died they stay
    /// (reported, not asserted).
    async fn temps(&self, must_go: bool) -> Result<usize, String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let names = self.disk.names("/sandbox/data").await;
            let n = names.iter().filter(|n| n.starts_with(".ow-tmp-")).count();
            if n == 0 || !must_go {
                return Ok(n);
            }
            if Instant::now() >= deadline {
                return Err(format!("temporary files of the failed write are still there: {names:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Deletes the sandbox and checks nothing is left: not on the gateway
    /// (owned by the host or not), not in its backing store.
    async fn nothing_left(&self) -> Result<(), String> {
        self.backend.delete(&self.sandbox.name).await.map_err(|e| format!("delete: {e}"))?;
        let owner = [(OWNER_LABEL.to_string(), OWNER_VALUE.to_string())];
        let owned = self.backend.list(&owner).await.map_err(|e| e.to_string())?;
        let all = self.backend.list(&[]).await.map_err(|e| e.to_string())?;
        let backing = self.disk.local.list(&[]).await.map_err(|e| e.to_string())?;
        if owned.is_empty() && all.is_empty() && backing.is_empty() {
            Ok(())
        } else {
            Err(format!("left behind: {} owned, {} in all, {} backing", owned.len(), all.len(), backing.len()))
        }
    }
}

/// The truth on disk after the operation: what a success produced is
/// byte-identical; a failed write left its target whole.
async fn check_disk(op: Op, last: &Result<Done, SandboxError>, disk: &Disk) -> Result<(), String> {
    match last {
        Ok(done) => check_success(op, done, disk).await,
        Err(e) if op.is_write() => check_failed_write(op, e, disk).await,
        Err(_) => Ok(()),
    }
}

fn describe_result(r: &Result<Done, SandboxError>) -> String {
    match r {
        Ok(done) => format!("ok ({})", describe(done)),
        Err(e) => format!("{} {} `{}`", e.operation, e.code.as_str(), e.message),
    }
}

/// One cell; returns its summary line, or what went wrong.
async fn cell(protocol: Gw, fault: Fault, op: Op) -> Result<String, String> {
    let label = format!("{protocol} {} × {}", fault.name(), op.name());
    let fail = |m: String| format!("{label}: {m}");
    let mut lab = Lab::new(protocol, op).await;
    lab.bring(fault).await;

    let started = Instant::now();
    let first = lab.attempt(op, fault.strike(), fault.bound()).await;
    let first = first.ok_or_else(|| fail(format!("hung for {:?}", fault.bound())))?;
    let elapsed = started.elapsed();
    let expect = fault.expect(op);
    judge(&expect, &first).map_err(fail)?;
    let mut outcome = describe_result(&first);
    let last = match expect {
        Expect::RetryOk(..) => {
            let (done, attempts) = lab.retry_until_ok(op, fault.bound()).await.map_err(fail)?;
            outcome.push_str(&format!(", then ok on attempt {attempts}"));
            Ok(done)
        }
        _ => first,
    };
    if let Fault::Delay(d) = fault {
        // The calls the client gave up on (the last one just now) must not
        // run when their delay is over.
        tokio::time::sleep(d + Duration::from_secs(2)).await;
        no_late_effect(op, &lab.disk).await.map_err(fail)?;
    }
    check_disk(op, &last, &lab.disk).await.map_err(fail)?;
    // Hydrate is not atomic: a failed one says so, and leaves whatever it
    // had cleared and unpacked (reported, not asserted).
    if let (Op::Hydrate, Err(_)) = (op, &last) {
        outcome.push_str(&format!(" (left {} files in the root)", lab.disk.files(RESTORE).await.len()));
    }

    let (recovered, temps) = lab.recover(fault, op).await.map_err(fail)?;
    lab.nothing_left().await.map_err(fail)?;
    lab.gw.stop().await;
    Ok(format!(
        "{label}: {outcome} in {:.1}s; {recovered}; {temps} temp files left beside the target; nothing left",
        elapsed.as_secs_f64()
    ))
}

/// Runs the cells of `fault` × `ops` at once and fails with every cell
/// that went wrong.
async fn matrix(protocol: Gw, fault: Fault, ops: &[Op]) {
    let results = futures::future::join_all(ops.iter().map(|op| cell(protocol, fault, *op))).await;
    let mut failed = Vec::new();
    for r in results {
        match r {
            Ok(line) => println!("faults: {line}"),
            Err(e) => failed.push(e),
        }
    }
    assert!(failed.is_empty(), "{} cells failed:\n{}", failed.len(), failed.join("\n"));
}

macro_rules! matrix_tests {
    ($($name:ident: $protocol:expr, $fault:expr, $ops:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            matrix($protocol, $fault, &$ops).await;
        }
    )*};
}

matrix_tests! {
    not_listening_0_1: Gw::V0_1, Fault::NotListening, ALL_OPS;
    unavailable_for_n_calls_0_1: Gw::V0_1, Fault::Unavailable(2), ALL_OPS;
    stream_dropped_after_n_events_0_1: Gw::V0_1, Fault::DropAfterEvents(12), ALL_OPS;
    upload_dropped_after_n_bytes_0_1: Gw::V0_1, Fault::DropAfterInput(1536 << 10), ALL_OPS;
    ten_second_delays_0_1: Gw::V0_1, Fault::Delay(Duration::from_secs(10)), ALL_OPS;
    never_ready_0_1: Gw::V0_1, Fault::NeverReady, ALL_OPS;
    error_mid_run_0_1: Gw::V0_1, Fault::ErrorMidRun, ALL_OPS;
    killed_and_restarted_0_1: Gw::V0_1, Fault::KilledAndRestarted, ALL_OPS;
    unavailable_for_n_calls_0_0: Gw::V0_0, Fault::Unavailable(2), SUBSET;
    stream_dropped_after_n_events_0_0: Gw::V0_0, Fault::DropAfterEvents(12), SUBSET;
    error_mid_run_0_0: Gw::V0_0, Fault::ErrorMidRun, SUBSET;
    killed_and_restarted_0_0: Gw::V0_0, Fault::KilledAndRestarted, SUBSET;
}

// Through guests: the run ends (never hangs) and deletes its sandbox, or
// never gets one.

/// A gateway (with `fault`, applied after connecting) and a backend
/// connected to it.
async fn connected(protocol: Gw, fault: Option<Fault>) -> (tempfile::TempDir, GatewayCtl, OpenShellBackend) {
    let dir = tempfile::tempdir().unwrap();
    let mut gw = GatewayCtl::new(protocol, dir.path().join("gateway"));
    gw.start(None).await;
    let mut cfg = GatewayConfig::new(format!("http://{}", gw.addr()));
    cfg.rpc_timeout = RPC_TIMEOUT;
    let backend = OpenShellBackend::connect(cfg).await.unwrap();
    if fault.is_some() {
        gw.swap(fault).await;
    }
    (dir, gw, backend)
}

/// Runs the guest at `path` once, on a host over `backend` with `policy`,
/// under the hang detector.
async fn run_guest(
    backend: &OpenShellBackend,
    policy: &str,
    path: &str,
    input: &str,
    bound: Duration,
) -> Result<openshell_wasm::runtime::RunOutcome, openshell_wasm::runtime::RunFailure> {
    let snapshots = tempfile::tempdir().unwrap();
    let host = Host::builder()
        .backend(Arc::new(backend.clone()))
        .policy(crate::harness::policy(policy))
        .snapshot_dir(snapshots.path())
        .cache_dir(Some(component_cache()))
        .pooling(Pooling::Off)
        .build()
        .unwrap();
    let agent = host.load_file(Path::new(path)).await.expect("component loads");
    match tokio::time::timeout(bound, host.run(&agent, RunRequest::new(input))).await {
        Ok(result) => result,
        Err(_) => panic!("the run of {path} hung for {bound:?}"),
    }
}

/// Every sandbox on the gateway (the host's own carry the owner label).
async fn all_sandboxes(b: &OpenShellBackend) -> Vec<String> {
    let owned = b.list(&[(OWNER_LABEL.to_string(), OWNER_VALUE.to_string())]).await.unwrap();
    let all = b.list(&[]).await.unwrap();
    owned.into_iter().chain(all).map(|s| s.name).collect()
}

/// A run that loses its sandbox to ERROR (its commands cut, then refused)
/// ends with the agent's error, and its sandbox is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_that_errors_mid_run_ends_the_run_and_is_deleted() {
    let (_dir, mut gw, b) = connected(Gw::V0_1, Some(Fault::ErrorMidRun)).await;
    let started = Instant::now();
    let outcome = run_guest(&b, "", guests::BENCH_EXEC_LOOP.path(), "100000", ERROR_AFTER + Duration::from_secs(40))
        .await
        .expect("the run completes; its agent reports the failure");
    let error = outcome.result.expect_err("the commands fail once the sandbox is in ERROR");
    assert!(error.starts_with("unavailable:process.run"), "{error}");
    assert!(outcome.cleanup_errors.is_empty(), "{:?}", outcome.cleanup_errors);
    assert!(all_sandboxes(&b).await.is_empty(), "the ERROR sandbox must be deleted");
    println!(
        "faults: guest in a sandbox that goes to ERROR: agent error `{error}` after {:?}; deleted",
        started.elapsed()
    );
    gw.stop().await;
}

/// A gateway killed while a guest runs commands and restarted on the same
/// port: the run ends with the agent's error, and the cleanup reaches the
/// restarted gateway and deletes the sandbox.
async fn gateway_killed_mid_run(protocol: Gw) {
    let (_dir, mut gw, b) = connected(protocol, None).await;
    let run = run_guest(&b, "", guests::BENCH_EXEC_LOOP.path(), "100000", Duration::from_secs(60));
    let crash = async {
        let deadline = Instant::now() + Duration::from_secs(30);
        while all_sandboxes(&b).await.is_empty() {
            assert!(Instant::now() < deadline, "the run never created its sandbox");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Commands are running now.
        tokio::time::sleep(Duration::from_millis(500)).await;
        gw.kill();
        tokio::time::sleep(DOWN_FOR).await;
        gw.start(None).await;
    };
    let (result, ()) = tokio::join!(run, crash);
    let outcome = result.expect("the run completes; its agent reports the failure");
    let error = outcome.result.expect_err("a command fails when the gateway dies");
    assert!(error.starts_with("unavailable:process.run"), "{error}");
    assert!(
        outcome.cleanup_errors.is_empty(),
        "cleanup must reach the restarted gateway: {:?}",
        outcome.cleanup_errors
    );
    assert!(all_sandboxes(&b).await.is_empty(), "the run's sandbox must be deleted");
    println!(
        "faults: {protocol} guest during a gateway crash: agent error `{error}`; sandbox deleted after the restart"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_mid_run_still_gets_the_sandbox_deleted_0_1() {
    gateway_killed_mid_run(Gw::V0_1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_mid_run_still_gets_the_sandbox_deleted_0_0() {
    gateway_killed_mid_run(Gw::V0_0).await;
}

/// Sandboxes that never become READY: creation fails with a timeout that
/// names the sandbox, no guest runs, and the half-created sandbox is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_ready_sandboxes_fail_their_runs_at_creation_and_are_deleted() {
    let (_dir, mut gw, b) = connected(Gw::V0_1, Some(Fault::NeverReady)).await;
    let policy = "[sandbox]\nready-timeout = \"2s\"\n";
    let runs = [guests::SMOKE_ECHO.path(), guests::FS_ROUNDTRIP.path(), guests::SNAPSHOT_CYCLE.path()].map(|path| {
        let b = &b;
        async move {
            let started = Instant::now();
            (path, run_guest(b, policy, path, "x", Duration::from_secs(30)).await, started.elapsed())
        }
    });
    for (path, result, elapsed) in futures::future::join_all(runs).await {
        let failure = result.expect_err("no sandbox, no run");
        match &failure.error {
            RunError::Sandbox(e) => {
                assert_eq!(e.code, ErrorCode::Timeout, "{path}: {e}");
                assert!(e.message.contains("did not become ready") && e.message.contains("deleted"), "{path}: {e}");
            }
            other => panic!("{path}: expected a sandbox timeout, got {other}"),
        }
        assert!(failure.sandbox.is_none(), "{path}: no sandbox was bound");
        let name = Path::new(path).file_stem().unwrap_or_default().to_string_lossy();
        println!("faults: never-ready × run {name}: {} after {elapsed:?}", failure.error);
    }
    assert!(all_sandboxes(&b).await.is_empty(), "the half-created sandboxes must be deleted");
    gw.stop().await;
}

/// A gateway slower than the call deadline: the run fails at creation in
/// seconds, and the create it gave up on does not happen later. (The
/// gateway enforces the call's `grpc-timeout` itself, a second before the
/// client's own timer, and answers CANCELLED "Timeout expired", which the
/// host reports as a `timeout`, not a retryable `unavailable`: a create
/// retried after its deadline could make a second sandbox.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_past_its_deadline_fails_the_run_and_creates_nothing_later() {
    let delay = Duration::from_secs(10);
    let (dir, mut gw, b) = connected(Gw::V0_1, Some(Fault::Delay(delay))).await;
    let started = Instant::now();
    let failure = run_guest(&b, "", guests::SMOKE_ECHO.path(), "x", Duration::from_secs(30))
        .await
        .expect_err("the create cannot answer in time");
    match &failure.error {
        RunError::Sandbox(e) => {
            assert_eq!(e.code, ErrorCode::Timeout, "{e}");
            assert!(!e.retryable, "{e}");
            assert!(e.operation == "sandbox.create" && e.message.contains("Timeout expired"), "{e}");
        }
        other => panic!("expected a sandbox timeout, got {other}"),
    }
    let failed_after = started.elapsed();
    tokio::time::sleep(delay + Duration::from_secs(2)).await;
    let local = LocalBackend::new(dir.path().join("gateway/sandboxes")).unwrap();
    assert!(local.list(&[]).await.unwrap().is_empty(), "the abandoned create ran after all");
    gw.restore().await;
    assert!(all_sandboxes(&b).await.is_empty(), "the abandoned create left a record");
    println!("faults: delay-10s × run: {} after {failed_after:?}; nothing created later", failure.error);
    gw.stop().await;
}
