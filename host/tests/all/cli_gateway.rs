//! The `openshell-wasm` binary against an OpenShell test gateway: gateway
//! discovery from OpenShell's own config files, `--backend auto`, forced
//! protocols, sweeping leftovers, and cleanup when interrupted.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use openshell_testgw::testing::CliEnv;
use test_artifacts as guests;

use crate::BIN;

/// A gateway on 127.0.0.1:0 plus per-test config, state and cache dirs.
struct Setup {
    env: CliEnv,
    addr: std::net::SocketAddr,
    _gateway: openshell_testgw::testing::Running,
}

impl Setup {
    async fn new(protocol: openshell_testgw::Protocol) -> Setup {
        Setup::with_faults(protocol, openshell_testgw::Faults::default()).await
    }

    async fn with_faults(protocol: openshell_testgw::Protocol, faults: openshell_testgw::Faults) -> Setup {
        let env = CliEnv::new();
        let mut config = openshell_testgw::Config::new(protocol, env.path("gateway"));
        config.faults = faults;
        let gateway = openshell_testgw::testing::Running::start(config).await;
        Setup { env, addr: gateway.addr, _gateway: gateway }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.env.path(p)
    }

    /// Register the gateway the way `openshell gateway add` does.
    fn register(&self, name: &str) {
        let root = self.path("config/openshell");
        let gw = root.join("gateways").join(name);
        std::fs::create_dir_all(&gw).unwrap();
        std::fs::write(
            gw.join("metadata.json"),
            format!(r#"{{"name":"{name}","gateway_endpoint":"http://{}","auth_mode":"plaintext"}}"#, self.addr),
        )
        .unwrap();
        std::fs::write(root.join("active_gateway"), format!("{name}\n")).unwrap();
    }

    fn cmd(&self) -> Command {
        self.env.command(BIN)
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut c = self.cmd();
        c.args(args);
        tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap()
    }

    async fn sandboxes(&self) -> Vec<String> {
        let out = self.run(&["sandbox", "list", "--json"]).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_discovers_the_active_gateway_and_says_so() {
    let s = Setup::new(openshell_testgw::Protocol::V0_1).await;
    // Nothing configured: auto means local.
    let out = s.run(&["run", guests::SMOKE_ECHO.path(), "--input", "here"]).await;
    assert!(text(&out.stderr).contains("using the local backend"), "{}", text(&out.stderr));
    s.register("testgw");
    let out = s.run(&["run", guests::RUST_AGENT.path(), "--input", "remote", "--json"]).await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("using the OpenShell backend") && stderr.contains("testgw"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sandbox"]["backend"], "openshell");
    let report: serde_json::Value = serde_json::from_str(v["result"].as_str().unwrap()).unwrap();
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["sandbox"]["workdir"], "/sandbox");
    assert_eq!(report["network"]["policy"], "none", "no policy revision yet: {report:#}");
    assert!(s.sandboxes().await.is_empty(), "the run's sandbox is deleted on the gateway");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_gateway_and_protocol_checks() {
    let s = Setup::new(openshell_testgw::Protocol::V0_0).await;
    let url = format!("http://{}", s.addr);
    let out = s.run(&["run", guests::SMOKE_ECHO.path(), "--gateway", &url, "--input", "zero"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "zero\n");
    let out = s.run(&["run", guests::SMOKE_ECHO.path(), "--gateway", &url, "--protocol", "0.1"]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("reports version 0.0.116"), "{}", text(&out.stderr));
    let out = s.run(&["run", guests::SMOKE_ECHO.path(), "--backend", "openshell", "--gateway-name", "missing"]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("metadata.json"), "the error names the file: {}", text(&out.stderr));
}

/// Run the binary with `args`, killing it if it outlives `guard`: a hang
/// guard for tests whose failure mode is waiting too long.
async fn run_guarded(s: &Setup, args: &[&str], guard: Duration) -> Output {
    let mut c = tokio::process::Command::from(s.cmd());
    c.args(args).kill_on_drop(true);
    tokio::time::timeout(guard, c.output())
        .await
        .unwrap_or_else(|_| panic!("`openshell-wasm {}` still running after {guard:?}", args.join(" ")))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_first_connection_fails_in_seconds() {
    let s = Setup::new(openshell_testgw::Protocol::V0_1).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    // Calls retry for 30 s by default; a connection refused before anything
    // was created gives up after about a second. 15 s guards against the
    // 30 s retry coming back; it is not a speed test.
    let out = run_guarded(&s, &["run", guests::SMOKE_ECHO.path(), "--gateway", &url], Duration::from_secs(15)).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("cannot reach the OpenShell gateway at {url}")), "{stderr}");
    assert!(stderr.contains("is it running?"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_answering_unavailable_at_first_is_waited_for() {
    let faults = openshell_testgw::Faults { unavailable_first: 2, ..Default::default() };
    let s = Setup::with_faults(openshell_testgw::Protocol::V0_1, faults).await;
    let url = format!("http://{}", s.addr);
    let out = run_guarded(
        &s,
        &["run", guests::SMOKE_ECHO.path(), "--gateway", &url, "--input", "warm"],
        Duration::from_secs(120),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "warm\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_then_sweep_on_the_gateway() {
    let s = Setup::new(openshell_testgw::Protocol::V0_1).await;
    s.register("gw");
    let out = s.run(&["run", guests::SMOKE_ECHO.path(), "--keep", "--json"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kept = v["sandbox"]["name"].as_str().unwrap().to_string();
    assert_eq!(s.sandboxes().await, vec![kept.clone()]);
    let out = s
        .run(&[
            "run",
            guests::PROCESS_RUN_REPORT.path(),
            "--sandbox",
            &kept,
            "--input",
            "sh\n-c\necho on-gw > f && cat f",
        ])
        .await;
    assert!(text(&out.stdout).contains("on-gw"), "{}", text(&out.stdout));
    let out = s.run(&["sandbox", "sweep", "--include-kept"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(s.sandboxes().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_runs_delete_their_gateway_sandbox() {
    let s = Setup::new(openshell_testgw::Protocol::V0_0).await;
    s.register("gw");
    let mut c = s.cmd();
    c.args(["run", guests::LIMITS_SLEEP_IN_HOST.path()]);
    let child = c.spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while s.sandboxes().await.is_empty() {
        assert!(std::time::Instant::now() < deadline, "the run never created its sandbox");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    rustix::process::kill_process(rustix::process::Pid::from_child(&child), rustix::process::Signal::TERM).unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert_eq!(out.status.code(), Some(143));
    assert!(s.sandboxes().await.is_empty(), "SIGTERM must still clean up the gateway sandbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_policy_and_spec_flags_reach_the_gateway() {
    let s = Setup::new(openshell_testgw::Protocol::V0_1).await;
    s.register("gw");
    let policy = s.path("policy.yaml");
    std::fs::write(
        &policy,
        "version: 1\nnetwork_policies:\n  pypi:\n    endpoints:\n      - host: pypi.org\n        ports: [443]\n",
    )
    .unwrap();
    let out = s
        .run(&[
            "sandbox",
            "create",
            "with-policy",
            "--sandbox-policy",
            policy.to_str().unwrap(),
            "--sandbox-env",
            "GREETING=hello gateway",
        ])
        .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = s
        .run(&[
            "run",
            guests::PROCESS_RUN_REPORT.path(),
            "--sandbox",
            "with-policy",
            "--input",
            "sh\n-c\necho $GREETING",
        ])
        .await;
    assert!(text(&out.stdout).contains("hello gateway"), "{}", text(&out.stdout));
    let bad = s.path("bad.yaml");
    std::fs::write(&bad, "network_policies:\n  x:\n    endpoints:\n      - host: h\n        access: everything\n")
        .unwrap();
    let out = s.run(&["sandbox", "create", "bad-policy", "--sandbox-policy", bad.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = s.run(&["sandbox", "delete", "with-policy"]).await;
    assert!(out.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_answers_access_requests_from_the_command_line() {
    let s = Setup::new(openshell_testgw::Protocol::V0_1).await;
    s.register("testgw");
    let policy = s.path("policy.toml");
    std::fs::write(&policy, "[network]\nrequest-access = true\naccess-timeout = \"60s\"\n").unwrap();
    let policy = policy.to_str().unwrap();
    let input = "api.github.com 443 100 GET /repos/*";
    let args = ["run", guests::ACCESS_REQUEST.path(), "--policy", policy, "--input", input];
    let agent = s.run(&args);
    let operator = async {
        loop {
            let out = s.run(&["approvals", "list", "--json"]).await;
            assert!(out.status.success(), "{}", text(&out.stderr));
            let pending: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            if let Some(id) = pending[0]["id"].as_str() {
                assert_eq!(pending[0]["host"], "api.github.com");
                assert_eq!(pending[0]["reason"], "the tests need to fetch from it");
                let out = s.run(&["approvals", "approve", id, "--note", "ok"]).await;
                assert!(out.status.success(), "{}", text(&out.stderr));
                // The first answer stands.
                let again = s.run(&["approvals", "reject", id]).await;
                assert_eq!(again.status.code(), Some(2));
                assert!(text(&again.stderr).contains("already approved"), "{}", text(&again.stderr));
                return id.to_string();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let (out, id) = tokio::join!(agent, operator);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains(&format!("final=AccessDecision::Approved rule=approved-{id} note=ok")), "{stdout}");
    assert!(stdout.contains("policy-has-host=true") && stdout.contains("policy-has-path=true"), "{stdout}");
    // Answered requests leave the pending list and stay in the full one.
    let out = s.run(&["approvals", "list", "--json"]).await;
    assert_eq!(text(&out.stdout).trim(), "[]");
    let out = s.run(&["approvals", "list", "--all"]).await;
    assert!(text(&out.stdout).contains(&format!("{id}  api.github.com:443 GET /repos/*")), "{}", text(&out.stdout));
    assert!(s.sandboxes().await.is_empty(), "the run's sandbox is gone");
}
