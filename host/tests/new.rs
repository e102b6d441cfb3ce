//! `openshell-wasm new --lang rust|python|js|c DIR`: each project builds with
//! its own `build.sh`, as its README says, and the component runs through
//! the binary on the local backend under the project's policy.
//!
//! The Python and JavaScript builds install their tools for real (a venv
//! with componentize-py, `npm ci` of the pinned lock file) from the
//! download caches `./scripts/test.sh` fills in `.tools/`; the Rust and C
//! builds share one Cargo target directory across runs.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

fn openshell_wasm(state: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_openshell-wasm"));
    for (var, dir) in [("XDG_STATE_HOME", "state"), ("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache")] {
        c.env(var, state.join(dir));
    }
    c.env_remove("OPENSHELL_GATEWAY")
        .env_remove("OPENSHELL_GATEWAY_ENDPOINT")
        .env_remove("OPENSHELL_WASM_BACKEND")
        .env_remove("RUST_LOG");
    c
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

/// `new`, `./build.sh`, `run`: the README's steps.
fn new_project_builds_and_runs(lang: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join(format!("my-{lang}-agent"));
    let state = tmp.path().join("host");

    let out = openshell_wasm(&state).args(["new", "--lang", lang]).arg(&project).output().unwrap();
    check("openshell-wasm new", &out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("./build.sh"), "{said}");
    for file in ["build.sh", "README.md", "policy.toml", "wit/world.wit"] {
        assert!(project.join(file).is_file(), "{lang}: no {file}");
    }
    // A second `new` into the same directory is refused.
    let again = openshell_wasm(&state).args(["new", "--lang", lang]).arg(&project).output().unwrap();
    assert_eq!(again.status.code(), Some(2));

    let root = root();
    let build = Command::new(project.join("build.sh"))
        .current_dir(&project)
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
    check(&format!("{lang}: ./build.sh"), &build);
    let component = project.join("agent.wasm");
    assert!(component.is_file(), "{lang}: build.sh wrote no agent.wasm");

    let run = openshell_wasm(&state)
        .args(["run", "--backend", "local", "--input", "hello sandbox world", "--policy"])
        .arg(project.join("policy.toml"))
        .arg(&component)
        .output()
        .unwrap();
    check(&format!("{lang}: openshell-wasm run"), &run);
    assert_eq!(String::from_utf8_lossy(&run.stdout), "3 input.txt\n", "{lang}");
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
fn unknown_languages_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = openshell_wasm(tmp.path()).args(["new", "--lang", "go"]).arg(tmp.path().join("x")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!tmp.path().join("x").exists());
}
