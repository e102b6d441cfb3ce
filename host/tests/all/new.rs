//! `openshell-wasm new --lang rust|python|js|c [--template agent] DIR`:
//! each project builds with its own `build.sh`, as its README says, and the
//! component runs through the binary on the local backend under the
//! project's policy; the coding agents against a scripted model.
//!
//! The Python and JavaScript builds install their tools for real (a venv
//! with componentize-py, `npm ci` of the pinned lock file) from the
//! download caches `./scripts/test.sh` fills in `.tools/`; the Rust and C
//! builds share one Cargo target directory across runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use openshell_test_model::{Expect, ModelServer, Reply, Script, Step, ToolCall};
use openshell_testgw::testing::isolated;
use serde_json::{Value, json};

use crate::BIN;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

fn openshell_wasm(state: &Path) -> Command {
    isolated(BIN, state)
}

fn check(what: &str, out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `new ARGS DIR` and `./build.sh`, as the README says; `DIR/agent.wasm`
/// is the component.
fn new_project_builds(project: &Path, state: &Path, args: &[&str]) {
    let out = openshell_wasm(state).arg("new").args(args).arg(project).output().unwrap();
    check("openshell-wasm new", &out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("./build.sh"), "{said}");
    for file in ["build.sh", "README.md", "policy.toml", "wit/world.wit"] {
        assert!(project.join(file).is_file(), "{args:?}: no {file}");
    }
    // A second `new` into the same directory is refused.
    let again = openshell_wasm(state).arg("new").args(args).arg(project).output().unwrap();
    assert_eq!(again.status.code(), Some(2));

    let root = root();
    let build = Command::new(project.join("build.sh"))
        .current_dir(project)
        .env("PIP_CACHE_DIR", root.join(".tools/pip-cache"))
        .env("npm_config_cache", root.join(".tools/npm-cache"))
        .env("npm_config_prefer_offline", "true")
        .env("CARGO_TARGET_DIR", root.join("target/new-projects"))
        // What the outer `cargo test` set is for the host's build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("CFLAGS")
        .output()
        .unwrap();
    check(&format!("{args:?}: ./build.sh"), &build);
    assert!(project.join("agent.wasm").is_file(), "{args:?}: build.sh wrote no agent.wasm");
}

/// `new`, `./build.sh`, `run`: the README's steps.
fn new_project_builds_and_runs(lang: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join(format!("my-{lang}-agent"));
    let state = tmp.path().join("host");
    new_project_builds(&project, &state, &["--lang", lang]);

    let run = openshell_wasm(&state)
        .args(["run", "--backend", "local", "--input", "hello sandbox world", "--policy"])
        .arg(project.join("policy.toml"))
        .arg(project.join("agent.wasm"))
        .output()
        .unwrap();
    check(&format!("{lang}: openshell-wasm run"), &run);
    assert_eq!(String::from_utf8_lossy(&run.stdout), "3 input.txt\n", "{lang}");
}

/// The endpoint the coding agents' policies name.
const OPENAI: &str = "https://api.openai.com/v1";

/// `new --template agent`, `./build.sh`, and the README's run, with the
/// policy's alias pointed at a scripted model as the README says for a
/// server of one's own: the agent fixes a failing test in the seeded
/// project, and the key reaches the model from the host's environment.
fn new_coding_agent_fixes_a_test(lang: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join(format!("my-{lang}-coding-agent"));
    let state = tmp.path().join("host");
    new_project_builds(&project, &state, &["--lang", lang, "--template", "agent"]);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ModelServer::start(fixing_script())).unwrap();
    let policy = std::fs::read_to_string(project.join("policy.toml")).unwrap();
    assert!(policy.contains(OPENAI), "{lang}: the policy names no OpenAI endpoint:\n{policy}");
    std::fs::write(project.join("policy.toml"), policy.replace(OPENAI, &server.base_url())).unwrap();

    let work = tmp.path().join("project");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(work.join("calc.py"), "def add(a, b):\n    return a - b\n").unwrap();
    std::fs::write(work.join("test_calc.py"), "from calc import add\n\nassert add(2, 3) == 5\nprint(\"OK\")\n")
        .unwrap();
    let fixed = tmp.path().join("calc-after.py");
    let run = openshell_wasm(&state)
        .current_dir(&project)
        .env("OPENAI_API_KEY", "sk-only-in-the-host")
        .args(["run", "--backend", "local", "agent.wasm", "--policy", "policy.toml", "--seed"])
        .arg(format!("{}:.", work.display()))
        .arg("--collect")
        .arg(format!("calc.py:{}", fixed.display()))
        .args(["--input", "make the failing test pass"])
        .output()
        .unwrap();
    check(&format!("{lang}: openshell-wasm run"), &run);

    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    let strayed: Vec<String> = server.requests().into_iter().filter_map(|r| r.mismatch).collect();
    assert!(strayed.is_empty(), "{lang}: the agent strayed from the script: {strayed:?}\n{report:#}");
    assert_eq!(report["ok"], true, "{lang}: {report:#}");
    assert_eq!(report["stopped"], "finish", "{lang}: {report:#}");
    assert_eq!(report["files_changed"], json!(["calc.py"]), "{lang}: {report:#}");
    assert_eq!(std::fs::read_to_string(&fixed).unwrap(), "def add(a, b):\n    return a + b\n", "{lang}");
    assert_eq!(server.requests()[0].header("authorization"), Some("Bearer sk-only-in-the-host"));
}

/// The conversation that fixes `add()`: test, read, edit, test, finish,
/// each step checking what the agent sent. (`-B`: the fix keeps the file's
/// size and lands in the same second, so Python would trust the bytecode
/// it cached on the first run.)
fn fixing_script() -> Script {
    let step = |name: &str, arguments: Value, role: &str, contains: &[&str]| {
        Step::new(Reply::tool_calls([ToolCall::new(format!("call-{name}"), name, arguments.to_string())])).expecting(
            Expect {
                last_role: Some(role.into()),
                last_contains: contains.iter().map(|s| s.to_string()).collect(),
                tools: ["run_command", "read_file", "edit_file", "finish"].map(String::from).to_vec(),
                model: None,
            },
        )
    };
    let test = json!({"command": "python3 -B test_calc.py"});
    Script::new([
        step("run_command", test.clone(), "user", &["make the failing test pass"]),
        step("read_file", json!({"path": "calc.py"}), "tool", &["exit code: 1", "AssertionError"]),
        step("edit_file", json!({"path": "calc.py", "old": "a - b", "new": "a + b"}), "tool", &["return a - b"]),
        step("run_command", test, "tool", &["edited calc.py"]),
        step("finish", json!({"summary": "fixed add() in calc.py"}), "tool", &["exit code: 0", "OK"]),
    ])
}

#[test]
fn new_rust_agent() {
    new_project_builds_and_runs("rust");
}

#[test]
fn new_python_agent() {
    new_project_builds_and_runs("python");
}

#[test]
fn new_js_agent() {
    new_project_builds_and_runs("js");
}

#[test]
fn new_c_agent() {
    new_project_builds_and_runs("c");
}

#[test]
fn new_rust_coding_agent() {
    new_coding_agent_fixes_a_test("rust");
}

#[test]
fn new_python_coding_agent() {
    new_coding_agent_fixes_a_test("python");
}

#[test]
fn the_agent_template_is_for_rust_and_python() {
    let tmp = tempfile::tempdir().unwrap();
    for lang in ["js", "c"] {
        let dir = tmp.path().join(lang);
        let out =
            openshell_wasm(tmp.path()).args(["new", "--lang", lang, "--template", "agent"]).arg(&dir).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{lang}");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains("--lang rust or --lang python"), "{lang}: {said}");
        assert!(!dir.exists(), "{lang}");
    }
}

#[test]
fn unknown_languages_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = openshell_wasm(tmp.path()).args(["new", "--lang", "go"]).arg(tmp.path().join("x")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!tmp.path().join("x").exists());
}
