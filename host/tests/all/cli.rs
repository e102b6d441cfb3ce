//! The `openshell-wasm` binary end to end: exit codes, JSON output, the
//! compiled-component cache across processes, seeding and collecting,
//! sandbox management, signals, and the small subcommands.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use openshell_testgw::testing::CliEnv;
use test_artifacts as guests;

use crate::BIN;

/// Per-test state, cache and data directories, so tests never share them.
struct Env(CliEnv);

impl Env {
    fn new() -> Env {
        Env(CliEnv::new())
    }
    fn path(&self, p: &str) -> PathBuf {
        self.0.path(p)
    }
    fn cmd(&self) -> Command {
        self.0.command(BIN)
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }
    fn json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let v = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code().unwrap(), v)
    }
    fn sandboxes(&self) -> Vec<String> {
        let out = self.run(&["sandbox", "list", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect()
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn second_run_skips_compilation() {
    let env = Env::new();
    let (code, first) = env.json(&["run", guests::RUST_AGENT.path(), "--input", "one", "--json"]);
    assert_eq!(code, 0, "{first:#}");
    assert_eq!(first["stats"]["code"], "compiled");
    let (code, second) = env.json(&["run", guests::RUST_AGENT.path(), "--input", "two", "--json"]);
    assert_eq!(code, 0, "{second:#}");
    assert_eq!(second["stats"]["code"], "cache", "the second process must load the compiled component from the cache");
    let report: serde_json::Value = serde_json::from_str(second["result"].as_str().unwrap()).unwrap();
    assert_eq!(report["ok"], true);
    assert!(second["stats"]["load_ms"].as_f64().unwrap() < first["stats"]["load_ms"].as_f64().unwrap());
    assert!(env.sandboxes().is_empty(), "ephemeral sandboxes are deleted");
}

#[test]
fn the_cache_keeps_to_its_bound_evicting_the_least_recently_used() {
    let env = Env::new();
    let entries = || -> Vec<PathBuf> {
        let dir = env.path("cache/openshell-wasm/components");
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
            .collect()
    };
    let compile = |component: &str| {
        let out = env.run(&["compile", component, "--cache-max-size", "1 B"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    compile(guests::SMOKE_ECHO.path());
    let first = entries();
    assert_eq!(first.len(), 1, "the entry just written stays, over the bound or not");
    compile(guests::RUST_AGENT.path());
    let second = entries();
    assert_eq!(second.len(), 1, "the older entry made room: {second:?}");
    assert_ne!(first, second);
    assert!(compile(guests::SMOKE_ECHO.path()).contains("compiled"), "the evicted component is compiled again");
    // Without a bound given, the default (1 GiB) keeps both.
    let out = env.run(&["compile", guests::RUST_AGENT.path()]);
    assert!(out.status.success());
    assert_eq!(entries().len(), 2);
}

#[test]
fn plain_output_is_the_result() {
    let env = Env::new();
    let out = env.run(&["run", guests::SMOKE_ECHO.path(), "--input", "plain text"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "plain text\n");
}

#[test]
fn exit_codes_separate_failures() {
    let env = Env::new();
    let policy = env.path("short.toml");
    write(&policy, "[guest]\nwall-time = \"2s\"\ncpu-time = \"1s\"\nmemory = \"32 MiB\"\n");
    let p = policy.to_str().unwrap();

    let (code, v) = env.json(&["run", guests::TRAP_PANIC.path(), "--input", "err", "--json"]);
    assert_eq!((code, &v["error"]["kind"]), (1, &serde_json::json!("agent")));
    let (code, v) = env.json(&["run", guests::TRAP_PANIC.path(), "--json"]);
    assert_eq!((code, &v["error"]["kind"]), (5, &serde_json::json!("trap")));
    let (code, v) = env.json(&["run", guests::LIMITS_LOOP.path(), "--policy", p, "--json"]);
    assert_eq!((code, &v["error"]["kind"]), (4, &serde_json::json!("limit")));
    assert_eq!(v["error"]["limit"]["kind"], "cpu_time");
    let (code, v) = env.json(&["run", guests::LIMITS_MEMORY.path(), "--input", "grow-4g", "--policy", p, "--json"]);
    assert_eq!((code, &v["error"]["limit"]["kind"]), (4, &serde_json::json!("memory")));
    let (code, v) = env.json(&["run", guests::LIMITS_SLEEP_IN_HOST.path(), "--policy", p, "--json"]);
    assert_eq!((code, &v["error"]["limit"]["kind"]), (4, &serde_json::json!("wall_time")));
    let (code, v) = env.json(&["run", guests::SMOKE_ECHO.path(), "--sandbox", "does-not-exist", "--json"]);
    assert_eq!((code, &v["error"]["kind"]), (3, &serde_json::json!("backend")));
    assert!(env.sandboxes().is_empty());
}

#[test]
fn bad_inputs_are_usage_errors() {
    let env = Env::new();
    let bad_policy = env.path("bad.toml");
    write(&bad_policy, "[guest]\nmemory = \"64 MiB\"\ncpu-time = \"soon\"\n");
    let out = env.run(&["run", guests::SMOKE_ECHO.path(), "--policy", bad_policy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:3:"), "the error must point at the line: {err}");

    let not_wasm = env.path("x.wasm");
    write(&not_wasm, "definitely not wasm");
    let out = env.run(&["run", not_wasm.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a WebAssembly file"));

    let core = env.path("core.wasm");
    std::fs::write(&core, [0u8, b'a', b's', b'm', 1, 0, 0, 0]).unwrap();
    let out = env.run(&["run", core.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("core WebAssembly module"));

    let out = env.run(&["run", "/nonexistent/agent.wasm"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.run(&["run", guests::SMOKE_ECHO.path(), "--collect", "no-colon"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn seed_and_collect_move_files_in_and_out() {
    let env = Env::new();
    write(&env.path("project/src/main.txt"), "hello seed\n");
    write(&env.path("project/notes.md"), "notes\n");
    write(&env.path("single.txt"), "single file\n");
    let manifest = env.path("manifest.toml");
    write(
        &manifest,
        &format!("[[seed]]\nhost = {:?}\nsandbox = \"in/single.txt\"\n", env.path("single.txt").display().to_string()),
    );
    let input =
        "sh\n-c\nmkdir -p out && cat project/src/main.txt in/single.txt > out/combined.txt && cp -r project out/copy";
    let out = env.run(&[
        "run",
        guests::PROCESS_RUN_REPORT.path(),
        "--input",
        input,
        "--seed",
        env.path("project").to_str().unwrap(),
        "--manifest",
        manifest.to_str().unwrap(),
        "--collect",
        &format!("out:{}", env.path("results").display()),
        "--collect",
        &format!("out/combined.txt:{}", env.path("one/combined.txt").display()),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("exit=0"));
    assert_eq!(std::fs::read_to_string(env.path("results/combined.txt")).unwrap(), "hello seed\nsingle file\n");
    assert_eq!(std::fs::read_to_string(env.path("results/copy/notes.md")).unwrap(), "notes\n");
    assert_eq!(std::fs::read_to_string(env.path("one/combined.txt")).unwrap(), "hello seed\nsingle file\n");
}

#[test]
fn keep_attach_and_sweep() {
    let env = Env::new();
    let (code, v) = env.json(&["run", guests::SMOKE_ECHO.path(), "--input", "x", "--keep", "--json"]);
    assert_eq!(code, 0);
    let kept = v["sandbox"]["name"].as_str().unwrap().to_string();
    assert_eq!(env.sandboxes(), vec![kept.clone()]);
    // Attach to it: files persist across runs.
    let out = env.run(&[
        "run",
        guests::PROCESS_RUN_REPORT.path(),
        "--sandbox",
        &kept,
        "--input",
        "sh\n-c\necho persisted > f.txt",
    ]);
    assert!(out.status.success());
    let out = env.run(&["run", guests::PROCESS_RUN_REPORT.path(), "--sandbox", &kept, "--input", "cat\nf.txt"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("persisted"), "{}", String::from_utf8_lossy(&out.stdout));
    // Sweep leaves kept sandboxes alone unless asked.
    let out = env.run(&["sandbox", "sweep"]);
    assert!(out.status.success());
    assert_eq!(env.sandboxes(), vec![kept.clone()]);
    let out = env.run(&["sandbox", "sweep", "--include-kept", "--dry-run"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("would delete {kept}")));
    let out = env.run(&["sandbox", "sweep", "--include-kept"]);
    assert!(out.status.success());
    assert!(env.sandboxes().is_empty());
}

#[test]
fn sandbox_create_and_delete() {
    let env = Env::new();
    let out = env.run(&["sandbox", "create", "my-box"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "my-box");
    assert_eq!(env.sandboxes(), vec!["my-box".to_string()]);
    let out = env.run(&["sandbox", "create", "my-box"]);
    assert_eq!(out.status.code(), Some(3), "duplicate names are refused");
    let out = env.run(&["sandbox", "create", "Bad_Name"]);
    assert_eq!(out.status.code(), Some(3));
    let out = env.run(&["sandbox", "delete", "my-box"]);
    assert!(out.status.success());
    let out = env.run(&["sandbox", "delete", "my-box"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(env.sandboxes().is_empty());
}

#[test]
fn sigint_stops_the_agent_and_cleans_up() {
    let env = Env::new();
    let mut child = env.cmd().args(["run", guests::LIMITS_SLEEP_IN_HOST.path()]).spawn().unwrap();
    // Wait until the run's sandbox exists, then interrupt.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while env.sandboxes().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the run never created its sandbox");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    rustix::process::kill_process(rustix::process::Pid::from_child(&child), rustix::process::Signal::INT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(env.sandboxes().is_empty(), "the interrupted run must delete its sandbox");
}

#[test]
fn snapshot_commands() {
    let env = Env::new();
    let out = env.run(&["run", guests::SNAPSHOT_CYCLE.path()]);
    assert!(out.status.success());
    let out = env.run(&["snapshot", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = list[0]["id"].as_str().unwrap().to_string();
    assert_eq!(list[0]["sha256"].as_str().unwrap().len(), 64);
    let out = env.run(&["snapshot", "delete", &id]);
    assert!(out.status.success());
    let out = env.run(&["snapshot", "delete", &id]);
    assert_eq!(out.status.code(), Some(3));
    let out = env.run(&["snapshot", "delete", "../../etc/passwd"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn inspect_reports_worlds_and_missing_imports() {
    let env = Env::new();
    let (code, v) = env.json(&["inspect", guests::RUST_AGENT.path(), "--json"]);
    assert_eq!(code, 0);
    assert_eq!(v["world"], "openshell:sandbox/agent");
    assert_eq!(v["runnable"], true);
    assert!(v["imports"].as_array().unwrap().iter().any(|i| i["name"] == "openshell:sandbox/snapshot@0.1.2"));
    let (code, v) = env.json(&["inspect", guests::COMMAND_ECHO.path(), "--json"]);
    assert_eq!((code, &v["world"]), (0, &serde_json::json!("wasi:cli/command")));
    let out = env.run(&["inspect", "/nonexistent.wasm"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn policy_check_and_wit() {
    let env = Env::new();
    let good = env.path("good.toml");
    write(&good, "[host]\ntcp-connect = [\"127.0.0.1:8080\", \"[::1]:*\"]\n[exec]\nallow = [\"git\"]\n");
    let out = env.run(&["policy", "check", good.to_str().unwrap()]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("allow [\"git\"]"), "{stdout}");
    assert!(stdout.contains(r#"tcp ["127.0.0.1:8080", "[::1]:*"]"#), "grants print as written: {stdout}");
    let bad = env.path("bad.toml");
    write(&bad, "[exec]\nallow = \"git\"\n");
    let out = env.run(&["policy", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.toml:2:"));

    // Sandbox policies: OpenShell's spelling, L7 rules, errors with the
    // line and column, and the fields a generation lacks.
    let sandbox = env.path("sandbox.yaml");
    write(
        &sandbox,
        "version: 1\nfilesystem_policy:\n  include_workdir: true\nnetwork_policies:\n  github:\n    endpoints:\n      - host: api.github.com\n        port: 443\n        protocol: rest\n        token_grant_owner: ci\n        rules:\n          - allow: {method: GET, path: /repos/*}\n    binaries:\n      - path: /usr/bin/git\n",
    );
    let out = env.run(&["policy", "check", "--sandbox", sandbox.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("api.github.com:443 (1 allow, 0 deny L7 rules) for /usr/bin/git"), "{stdout}");
    let out = env.run(&["policy", "check", "--sandbox", "--protocol", "0.0", sandbox.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("token_grant_owner"));
    write(&sandbox, "network_policies:\n  x:\n    endpoints:\n      - host: h\n        tls: mutual\n");
    let out = env.run(&["policy", "check", "--sandbox", sandbox.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 5 column 14"), "{out:?}");

    let out = env.run(&["wit", env.path("wit").to_str().unwrap()]);
    assert!(out.status.success());
    let repo_wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    for entry in std::fs::read_dir(&repo_wit).unwrap() {
        let entry = entry.unwrap();
        let written = std::fs::read_to_string(env.path("wit").join(entry.file_name())).unwrap();
        assert_eq!(written, std::fs::read_to_string(entry.path()).unwrap(), "{:?}", entry.file_name());
    }
    let out = env.run(&["wit", env.path("wit").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "existing files are not overwritten without --force");
}
