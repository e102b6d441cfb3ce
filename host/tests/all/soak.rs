//! A bounded soak: many short `openshell-wasm run` processes against a test
//! gateway whose faults change at random while they run, some of the
//! processes interrupted with SIGINT or SIGTERM at random moments, then a
//! check for leaks.
//!
//! Everything random comes from one seed, printed first (a fixed default;
//! `OPENSHELL_WASM_SOAK_SEED=<n>` replays another): the runs (guest, input,
//! whether and when a signal is sent, which one) and the gateway's epochs
//! (every few seconds the gateway is restarted on the same port and state,
//! cleanly or by a crash, with a new fault: latency, a warm-up of
//! UNAVAILABLE, exec streams dropped after N events or N bytes of upload,
//! sandboxes that go to ERROR mid-run or never get READY, a per-exec cost).
//! Timing is not replayed exactly, so a seed reproduces the plan, not every
//! interleaving.
//!
//! What must hold:
//! - every process ends within its bound (no hang) with a documented exit
//!   code: 0, 1 (the agent saw a fault), 3 (the host or gateway failed),
//!   4, 5, or 130/143 only for the signal that was sent; a signal that
//!   arrives before the CLI installed its handler ends the process by that
//!   signal (the shell's 130/143), counted as an early kill;
//! - a run that reports success returned exactly what a clean run returns
//!   (the file guest's report checks a 3 MiB streamed write byte for byte
//!   and that an abandoned writer left nothing, so no temporary file was
//!   ever presented as a finished one);
//! - afterwards no sandbox the host created is left on the gateway (`sandbox
//!   list --json`) or in its backing store, except ones a run reported it
//!   could not delete (those `sandbox sweep` must remove).
//!
//! It prints one summary line: runs, outcomes, signals, gateway epochs and
//! crashes, leftovers.

#![allow(clippy::print_stdout, reason = "the seed and the summary line are the soak's report")]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use openshell_testgw::testing::{Restartable, Rng, isolated};
use openshell_testgw::{Config, Faults, Protocol};
use test_artifacts as guests;

use crate::BIN;

/// The seed used unless `OPENSHELL_WASM_SOAK_SEED` gives another.
const DEFAULT_SEED: u64 = 0x5eed_0004;
/// Runs planned.
const RUNS: usize = 60;
/// Runs at once (the machine has 2 cores).
const CONCURRENCY: usize = 4;
/// No run is launched after this.
const LAUNCH_BUDGET: Duration = Duration::from_secs(75);
/// A process still running after this is hung.
const HANG: Duration = Duration::from_secs(60);
/// The CLI's call deadline.
const RPC_TIMEOUT_SECS: &str = "5";
/// The guests' limits: a hang inside the guest ends as exit 4 well before
/// [`HANG`]; a sandbox that never gets READY fails its run in 3 s.
const POLICY: &str = "[guest]\nwall-time = \"40s\"\n\n[sandbox]\nready-timeout = \"3s\"\n";

fn seed() -> u64 {
    match std::env::var("OPENSHELL_WASM_SOAK_SEED") {
        Ok(s) => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("OPENSHELL_WASM_SOAK_SEED={s} is not a number"))
        }
        Err(_) => DEFAULT_SEED,
    }
}

/// A guest of the soak and what a clean run of it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guest {
    /// `smoke_echo`: echoes its input.
    Echo,
    /// `fs_roundtrip`: every file operation, a 3 MiB streamed write read
    /// back, an abandoned writer.
    Files,
    /// `snapshot_cycle`: persist, change, hydrate, compare.
    Snapshot,
    /// `bench_exec_loop` with 20 commands.
    Commands,
}

impl Guest {
    const ALL: [Guest; 4] = [Guest::Echo, Guest::Files, Guest::Snapshot, Guest::Commands];

    fn path(self) -> &'static str {
        match self {
            Guest::Echo => guests::SMOKE_ECHO.path(),
            Guest::Files => guests::FS_ROUNDTRIP.path(),
            Guest::Snapshot => guests::SNAPSHOT_CYCLE.path(),
            Guest::Commands => guests::BENCH_EXEC_LOOP.path(),
        }
    }

    fn input(self, run: usize) -> String {
        match self {
            Guest::Echo => format!("soak run {run}"),
            Guest::Commands => "20".into(),
            Guest::Files | Guest::Snapshot => String::new(),
        }
    }

    /// Whether `result` is what a clean run returns (`reference`: a clean
    /// run's result, for the guests whose report does not vary).
    fn correct(self, run: usize, result: &str, reference: &str) -> bool {
        match self {
            Guest::Echo => result == format!("soak run {run}\n"),
            // The loop also reports its duration.
            Guest::Commands => result.starts_with("ok=20 us="),
            Guest::Files | Guest::Snapshot => result == reference,
        }
    }
}

/// A signal the soak sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sig {
    Int,
    Term,
}

impl Sig {
    fn number(self) -> i32 {
        match self {
            Sig::Int => 2,
            Sig::Term => 15,
        }
    }

    /// The documented exit code of a run it interrupts.
    fn exit_code(self) -> i32 {
        128 + self.number()
    }

    fn send(self, pid: u32) {
        let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else { return };
        let signal = match self {
            Sig::Int => rustix::process::Signal::INT,
            Sig::Term => rustix::process::Signal::TERM,
        };
        // The process may have just exited (not yet reaped, so the pid is
        // still its own).
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// One planned run.
#[derive(Debug, Clone)]
struct RunPlan {
    index: usize,
    guest: Guest,
    /// A signal to send this long after the start.
    kill: Option<(Duration, Sig)>,
}

/// One gateway epoch: from `at` on, the gateway runs with `faults`; it was
/// restarted by a crash (`crash`) or a graceful stop.
#[derive(Debug, Clone)]
struct Epoch {
    at: Duration,
    faults: Faults,
    exec_setup: Duration,
    crash: bool,
    /// How long the gateway stays down between the old and the new one.
    down: Duration,
}

/// A random fault configuration (a third of the epochs are clean).
fn random_faults(rng: &mut Rng) -> (Faults, Duration, String) {
    let mut f = Faults::default();
    let mut setup = Duration::ZERO;
    let name = match rng.range(0, 11) {
        0..=3 => "none".to_string(),
        4 => {
            f.delay = Duration::from_millis(rng.range(20, 300));
            format!("delay {}ms", f.delay.as_millis())
        }
        5 => {
            f.unavailable_first = rng.range(1, 4) as u32;
            format!("unavailable-first {}", f.unavailable_first)
        }
        6 => {
            let n = rng.range(5, 200) as u32;
            f.drop_exec_after = Some(n);
            format!("drop-exec-after {n} events")
        }
        7 => {
            let n = rng.range(256, 4096) << 10;
            f.drop_exec_after_input = Some(n);
            format!("drop-exec-after {}KiB stdin", n >> 10)
        }
        8 => {
            let ms = rng.range(300, 3000);
            f.error_after = Some(Duration::from_millis(ms));
            f.error_ends_execs = true;
            format!("error-after {ms}ms")
        }
        9 => {
            f.never_ready = true;
            "never-ready".to_string()
        }
        _ => {
            setup = Duration::from_millis(rng.range(10, 60));
            format!("exec-setup {}ms", setup.as_millis())
        }
    };
    (f, setup, name)
}

/// The whole plan: runs and epochs.
fn plan(seed: u64) -> (Vec<RunPlan>, Vec<(Epoch, String)>) {
    let mut rng = Rng::new(seed);
    let runs = (0..RUNS)
        .map(|index| {
            let guest = Guest::ALL[rng.range(0, 3) as usize];
            // A run takes about a second: signals land from the start
            // (before the handler exists) to the cleanup.
            let kill = rng.chance(40).then(|| {
                let sig = if rng.chance(50) { Sig::Int } else { Sig::Term };
                (Duration::from_millis(rng.range(0, 1500)), sig)
            });
            RunPlan { index, guest, kill }
        })
        .collect();
    let mut epochs = Vec::new();
    let mut at = Duration::ZERO;
    while at < LAUNCH_BUDGET + HANG {
        at += Duration::from_millis(rng.range(1500, 4000));
        let (faults, exec_setup, name) = random_faults(&mut rng);
        let crash = rng.chance(50);
        let down = Duration::from_millis(rng.range(50, 800));
        epochs.push((Epoch { at, faults, exec_setup, crash, down }, name));
    }
    (runs, epochs)
}

/// The gateway, restarted on one address and state directory.
struct Gateway(Restartable);

impl Gateway {
    fn new(state: PathBuf) -> Gateway {
        Gateway(Restartable::new(state))
    }

    fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    fn config(&self, faults: Faults, exec_setup: Duration) -> Config {
        let mut c = Config::new(Protocol::V0_1, self.0.state());
        c.ready_delay = Duration::from_millis(100);
        c.deleting_linger = Duration::from_millis(50);
        c.faults = faults;
        c.exec_setup_cost = exec_setup;
        c
    }

    async fn start(&mut self, faults: Faults, exec_setup: Duration) {
        let config = self.config(faults, exec_setup);
        self.0.start(config).await;
    }

    /// Ends the running gateway: a crash, or a graceful stop.
    async fn end(&mut self, crash: bool) {
        if crash {
            self.0.kill();
        } else {
            // A delayed call may keep it busy; then it is killed anyway.
            let _ = self.0.stop().await;
        }
    }
}

/// What one process did.
#[derive(Debug)]
struct RunRecord {
    plan: RunPlan,
    /// `None`: hung and killed.
    status: Option<ExitStatus>,
    /// When the signal was sent, if it was (the process may have been done).
    signalled: Option<Duration>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    /// Wall-clock start, ms since the epoch (to match sandboxes' creation
    /// times).
    started_ms: u64,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Directories and the command line every process shares.
struct Env {
    dir: tempfile::TempDir,
    policy: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("soak-policy.toml");
        std::fs::write(&policy, POLICY).unwrap();
        Env { dir, policy }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn command(&self) -> tokio::process::Command {
        let mut c = tokio::process::Command::from(isolated(BIN, self.dir.path()));
        c.env("OPENSHELL_WASM_CACHE_DIR", self.path("compiled"))
            .env("OPENSHELL_WASM_SNAPSHOT_DIR", self.path("snapshots"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    }

    fn gateway_args(addr: SocketAddr) -> Vec<String> {
        ["--backend", "openshell", "--gateway", &format!("http://{addr}"), "--rpc-timeout", RPC_TIMEOUT_SECS]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// `openshell-wasm run GUEST --json` against the gateway, with `kill`
    /// sent while it runs, bounded by [`HANG`].
    async fn run(&self, addr: SocketAddr, plan: RunPlan) -> RunRecord {
        let mut c = self.command();
        c.arg("run").arg(plan.guest.path()).arg("--input").arg(plan.guest.input(plan.index));
        c.args(Self::gateway_args(addr)).arg("--policy").arg(&self.policy).arg("--json");
        let started = Instant::now();
        let started_ms = now_ms();
        let child = c.spawn().expect("spawn openshell-wasm");
        let pid = child.id().expect("a running child has a pid");
        let output = child.wait_with_output();
        tokio::pin!(output);
        let mut signalled = None;
        let waited = tokio::time::timeout(HANG, async {
            if let Some((after, sig)) = plan.kill {
                tokio::select! {
                    out = &mut output => return out,
                    () = tokio::time::sleep(after) => {
                        sig.send(pid);
                        signalled = Some(started.elapsed());
                    }
                }
            }
            output.await
        })
        .await;
        let elapsed = started.elapsed();
        match waited {
            Ok(out) => {
                let out = out.expect("wait for openshell-wasm");
                RunRecord {
                    plan,
                    status: Some(out.status),
                    signalled,
                    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                    elapsed,
                    started_ms,
                }
            }
            // Dropping the child kills it (kill_on_drop).
            Err(_) => RunRecord {
                plan,
                status: None,
                signalled,
                stdout: String::new(),
                stderr: String::new(),
                elapsed,
                started_ms,
            },
        }
    }

    /// `openshell-wasm sandbox ARGS...` against the gateway.
    async fn sandbox(&self, addr: SocketAddr, args: &[&str]) -> std::process::Output {
        let mut c = self.command();
        c.arg("sandbox").args(args).args(Self::gateway_args(addr));
        let out = tokio::time::timeout(HANG, c.output()).await.expect("sandbox command in time");
        out.expect("run openshell-wasm sandbox")
    }

    /// The sandboxes on the gateway (`sandbox list --json`).
    async fn list(&self, addr: SocketAddr) -> Vec<serde_json::Value> {
        let out = self.sandbox(addr, &["list", "--json"]).await;
        assert!(out.status.success(), "sandbox list failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().cloned().unwrap_or_default()
    }
}

fn owned(s: &serde_json::Value) -> bool {
    s["labels"]["openshell-wasm/owner"] == "openshell-wasm"
}

/// How a run ended, judged against the documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ending {
    Ok,
    AgentError,
    HostError,
    Limit,
    Trap,
    Interrupted(i32),
    /// Ended by the sent signal itself, before the CLI handled it.
    EarlyKill(i32),
}

/// The run's ending, or why it breaks the contract.
fn judge(r: &RunRecord, references: &BTreeMap<&'static str, String>) -> Result<Ending, String> {
    use std::os::unix::process::ExitStatusExt as _;
    let what = format!("run {} ({:?}, signal {:?})", r.plan.index, r.plan.guest, r.plan.kill);
    let Some(status) = r.status else {
        return Err(format!("{what}: still running after {HANG:?} (hang)\nstderr: {}", r.stderr));
    };
    let sent = r.signalled.and(r.plan.kill.map(|(_, s)| s));
    let json = || serde_json::from_str::<serde_json::Value>(r.stdout.trim()).ok();
    let ending = match (status.code(), status.signal()) {
        (Some(0), _) => {
            let v = json().ok_or_else(|| format!("{what}: exit 0 without its JSON: {}", r.stdout))?;
            let result = v["result"].as_str().unwrap_or_default();
            let reference = references.get(r.plan.guest.path()).map(String::as_str).unwrap_or_default();
            if !r.plan.guest.correct(r.plan.index, result, reference) {
                return Err(format!("{what}: exit 0 but its result differs from a clean run's:\n{result}"));
            }
            Ending::Ok
        }
        (Some(1), _) => Ending::AgentError,
        (Some(3), _) => Ending::HostError,
        (Some(4), _) => Ending::Limit,
        (Some(5), _) => Ending::Trap,
        (Some(code @ (130 | 143)), _) => {
            if sent.map(Sig::exit_code) != Some(code) {
                return Err(format!("{what}: exit {code}, but the signal sent was {sent:?}"));
            }
            Ending::Interrupted(code)
        }
        (None, Some(signal)) if sent.map(Sig::number) == Some(signal) => Ending::EarlyKill(128 + signal),
        (code, signal) => {
            return Err(format!(
                "{what}: undocumented ending (exit {code:?}, signal {signal:?})\nstderr: {}",
                r.stderr
            ));
        }
    };
    Ok(ending)
}

/// Clean runs of the guests whose reports do not vary, before the soak
/// (they also fill the compiled-component cache).
async fn references(env: &Env, addr: SocketAddr) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    for (i, guest) in Guest::ALL.into_iter().enumerate() {
        let r = env.run(addr, RunPlan { index: 10_000 + i, guest, kill: None }).await;
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim())
            .unwrap_or_else(|_| panic!("clean run of {guest:?}: no JSON\n{}\n{}", r.stdout, r.stderr));
        assert_eq!(v["exit_code"], 0, "clean run of {guest:?} failed: {v:#}\n{}", r.stderr);
        out.insert(guest.path(), v["result"].as_str().unwrap_or_default().to_string());
    }
    out
}

/// Runs the epochs until `done` fires: each restarts the gateway (a crash
/// or a graceful stop, a moment down) with its faults. Returns how many
/// epochs and crashes happened.
async fn drive_gateway(
    gw: &mut Gateway,
    epochs: &[(Epoch, String)],
    start: Instant,
    done: &tokio::sync::Notify,
) -> (usize, usize, Vec<String>) {
    let (mut count, mut crashes, mut names) = (0, 0, Vec::new());
    for (epoch, name) in epochs {
        tokio::select! {
            () = done.notified() => break,
            () = tokio::time::sleep(epoch.at.saturating_sub(start.elapsed())) => {}
        }
        gw.end(epoch.crash).await;
        tokio::time::sleep(epoch.down).await;
        gw.start(epoch.faults.clone(), epoch.exec_setup).await;
        count += 1;
        crashes += usize::from(epoch.crash);
        names.push(format!("{:.1}s {}{name}", epoch.at.as_secs_f64(), if epoch.crash { "crash→" } else { "" }));
    }
    (count, crashes, names)
}

/// Runs the plan, [`CONCURRENCY`] at a time, until it is done or the launch
/// budget is spent; `done` fires at the end.
async fn launch_all(env: &Env, addr: SocketAddr, runs: Vec<RunPlan>, done: &tokio::sync::Notify) -> Vec<RunRecord> {
    let started = Instant::now();
    let mut records = Vec::new();
    let mut pending = futures::stream::FuturesUnordered::new();
    let mut queue = runs.into_iter();
    loop {
        while pending.len() < CONCURRENCY && started.elapsed() < LAUNCH_BUDGET {
            let Some(plan) = queue.next() else { break };
            pending.push(env.run(addr, plan));
        }
        match futures::StreamExt::next(&mut pending).await {
            Some(record) => records.push(record),
            None => break,
        }
    }
    done.notify_one();
    records
}

/// What is left after the soak, on a clean gateway.
#[derive(Debug, Default)]
struct Leftovers {
    /// Host-owned sandboxes still there.
    owned: usize,
    /// Of those, ones a run said it could not delete.
    reported: usize,
    /// Sandboxes without the owner label (none are expected).
    foreign: usize,
    /// Host-owned sandboxes after `sandbox sweep`.
    after_sweep: usize,
    /// Sandboxes in the gateway's backing store after the sweep.
    backing: usize,
    /// Silent leftovers and other breaches, described.
    problems: Vec<String>,
}

/// Lists what is left once deletions the restarted gateway resumed have
/// finished, attributes each host-owned sandbox (reported by its run, or
/// silent: then names the runs alive when it was created), then sweeps.
async fn leftovers(env: &Env, gw: &Gateway, records: &[RunRecord]) -> Leftovers {
    let settle = Instant::now() + Duration::from_secs(15);
    let mut left = env.list(gw.addr()).await;
    while left.iter().any(|s| s["phase"] == "deleting") && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(200)).await;
        left = env.list(gw.addr()).await;
    }
    let mut out = Leftovers::default();
    for s in left.iter().filter(|s| owned(s)) {
        out.owned += 1;
        let name = s["name"].as_str().unwrap_or_default();
        // Names are reused, so a run reported this one only if it said it
        // could not delete it.
        let told = format!("could not delete sandbox `{name}`");
        if records.iter().any(|r| r.stderr.contains(&told) || r.stdout.contains(&told)) {
            out.reported += 1;
            continue;
        }
        let created = s["created_ms"].as_u64().unwrap_or_default();
        let suspects: Vec<String> = records
            .iter()
            .filter(|r| (r.started_ms..=r.started_ms + r.elapsed.as_millis() as u64).contains(&created))
            .map(|r| {
                let sig = r.plan.kill.map(|(_, s)| s);
                format!(
                    "run {} ({:?}, {sig:?} sent at {:?}, ended {:?})",
                    r.plan.index, r.plan.guest, r.signalled, r.status
                )
            })
            .collect();
        out.problems.push(format!(
            "sandbox `{name}` ({}, labels {}) was left behind silently; runs alive at its creation: {}",
            s["phase"],
            s["labels"],
            suspects.join("; ")
        ));
    }
    out.foreign = left.len() - out.owned;
    let swept = env.sandbox(gw.addr(), &["sweep"]).await;
    assert!(swept.status.success(), "sweep failed: {}", String::from_utf8_lossy(&swept.stderr));
    out.after_sweep = env.list(gw.addr()).await.into_iter().filter(owned).count();
    if out.after_sweep != 0 {
        out.problems.push(format!("{} sandboxes survived `sandbox sweep`", out.after_sweep));
    }
    let backing = openshell_wasm::backend::local::LocalBackend::new(gw.0.state().join("sandboxes")).unwrap();
    out.backing = openshell_wasm::backend::Backend::list(&backing, &[]).await.unwrap().len();
    if out.backing != 0 {
        out.problems.push(format!("{} backing sandboxes remain in the gateway's store", out.backing));
    }
    out
}

/// The one-line summary.
fn summary(
    seed: u64,
    records: &[RunRecord],
    endings: &BTreeMap<Ending, usize>,
    epochs: (usize, usize),
    left: &Leftovers,
    took: Duration,
) -> String {
    let count = |f: fn(&Ending) -> bool| endings.iter().filter(|(e, _)| f(e)).map(|(_, n)| n).sum::<usize>();
    let signals_sent = records.iter().filter(|r| r.signalled.is_some()).count();
    let longest = records.iter().map(|r| r.elapsed).max().unwrap_or_default();
    format!(
        "soak: seed={seed:#x} runs={} in {:.1}s (longest {:.1}s): ok={} agent-error={} host-error={} limit={} trap={} \
         interrupted={} (130: {}, 143: {}) early-kill={}; signals sent={signals_sent}; gateway epochs={} (crashes={}); \
         leftovers={} (reported {}, silent {}), foreign={}, after sweep={}, backing={}",
        records.len(),
        took.as_secs_f64(),
        longest.as_secs_f64(),
        count(|e| *e == Ending::Ok),
        count(|e| *e == Ending::AgentError),
        count(|e| *e == Ending::HostError),
        count(|e| *e == Ending::Limit),
        count(|e| *e == Ending::Trap),
        count(|e| matches!(e, Ending::Interrupted(_))),
        count(|e| *e == Ending::Interrupted(130)),
        count(|e| *e == Ending::Interrupted(143)),
        count(|e| matches!(e, Ending::EarlyKill(_))),
        epochs.0,
        epochs.1,
        left.owned,
        left.reported,
        left.owned - left.reported,
        left.foreign,
        left.after_sweep,
        left.backing,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_random_faults_and_kills_leave_nothing_behind() {
    let seed = seed();
    println!("soak: seed={seed:#x} (OPENSHELL_WASM_SOAK_SEED overrides)");
    let (runs, epochs) = plan(seed);
    let env = Env::new();
    let mut gw = Gateway::new(env.path("gateway"));
    gw.start(Faults::default(), Duration::ZERO).await;
    let addr = gw.addr();
    let references = references(&env, addr).await;

    // The runs, while the gateway changes under them.
    let started = Instant::now();
    let done = tokio::sync::Notify::new();
    let (records, (epoch_count, crashes, epoch_names)) =
        tokio::join!(launch_all(&env, addr, runs, &done), drive_gateway(&mut gw, &epochs, started, &done));
    let took = started.elapsed();
    println!("soak: epochs: {}", epoch_names.join(", "));

    let mut problems = Vec::new();
    let mut endings: BTreeMap<Ending, usize> = BTreeMap::new();
    for r in &records {
        match judge(r, &references) {
            Ok(e) => *endings.entry(e).or_default() += 1,
            Err(m) => problems.push(m),
        }
    }
    // A clean gateway for the leak check.
    gw.end(true).await;
    gw.start(Faults::default(), Duration::ZERO).await;
    let left = leftovers(&env, &gw, &records).await;
    problems.extend(left.problems.iter().cloned());
    gw.end(false).await;

    println!("{}", summary(seed, &records, &endings, (epoch_count, crashes), &left, took));
    assert!(records.len() >= RUNS / 2, "only {} runs fit in the time budget", records.len());
    assert!(problems.is_empty(), "seed {seed:#x}: {} problems:\n{}", problems.len(), problems.join("\n"));
}

/// The plan is a function of the seed (what makes a failure replayable).
#[test]
fn the_plan_depends_on_the_seed_only() {
    let show = |(runs, epochs): (Vec<RunPlan>, Vec<(Epoch, String)>)| {
        let r: Vec<String> = runs.iter().map(|r| format!("{:?}{:?}", r.guest, r.kill)).collect();
        let e: Vec<String> = epochs.iter().map(|(e, n)| format!("{:?}{n}{}", e.at, e.crash)).collect();
        (r, e)
    };
    assert_eq!(show(plan(7)), show(plan(7)));
    assert_ne!(show(plan(7)), show(plan(8)));
    let (runs, _) = plan(DEFAULT_SEED);
    assert!(runs.iter().any(|r| r.kill.is_some()) && runs.iter().any(|r| r.kill.is_none()));
}

/// The soak's first finding, pinned: a run interrupted while its sandbox
/// is still being created (here: it is slow to get READY) must delete the
/// sandbox, as every other interrupted run does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_interrupted_while_its_sandbox_is_created_deletes_it() {
    let env = Env::new();
    for sig in [Sig::Int, Sig::Term] {
        let mut gw = Gateway::new(env.path("slow-gateway"));
        let mut config = gw.config(Faults::default(), Duration::ZERO);
        config.ready_delay = Duration::from_secs(20);
        gw.0.start(config).await;
        let mut c = env.command();
        c.arg("run").arg(guests::SMOKE_ECHO.path()).args(Env::gateway_args(gw.addr())).arg("--json");
        let child = c.spawn().unwrap();
        let pid = child.id().unwrap();
        // Wait until the sandbox exists (PROVISIONING), then interrupt.
        let deadline = Instant::now() + Duration::from_secs(30);
        while env.list(gw.addr()).await.is_empty() {
            assert!(Instant::now() < deadline, "the run never created its sandbox");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        sig.send(pid);
        let out = tokio::time::timeout(HANG, child.wait_with_output()).await.expect("no hang").unwrap();
        assert_eq!(out.status.code(), Some(sig.exit_code()), "{}", String::from_utf8_lossy(&out.stderr));
        let left: Vec<String> =
            env.list(gw.addr()).await.iter().map(|s| format!("{} ({})", s["name"], s["phase"])).collect();
        assert!(left.is_empty(), "{sig:?} during creation left {left:?}");
        gw.end(false).await;
    }
}
