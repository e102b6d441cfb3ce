//! The example agent in four languages — Rust, Python (componentize-py),
//! JavaScript (jco, QuickJS) and C (wit-bindgen-c, wasip1 + adapter), each
//! built from source by the test build — run end to end on every backend
//! target. They do the same steps, so their reports must be identical but
//! for the `agent` field. Also: every component's compiled code comes from
//! the cache on its second load, in a new host.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openshell_test_model::{Expect, ModelServer, Reply, Script, Step};
use openshell_testgw::testing::component_cache;
use openshell_wasm::backend::Backend;
use openshell_wasm::runtime::{CodeSource, Host, Pooling};
use test_artifacts as guests;

use crate::harness::{Target, fixture};

/// Each agent's language (its report's `agent` field) and component.
const AGENTS: [(&str, guests::Artifact); 4] =
    [("rust", guests::RUST_AGENT), ("python", guests::PYTHON_AGENT), ("js", guests::JS_AGENT), ("c", guests::C_AGENT)];

/// A second host on `backend` with the harness's engine settings (so the
/// cache key matches) and the shared cache.
fn second_host(backend: Arc<dyn Backend>) -> Host {
    Host::builder().backend(backend).cache_dir(Some(component_cache())).pooling(Pooling::Off).build().unwrap()
}

/// Print a line on the test's stderr (shown with `--nocapture`).
fn note(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Only one test compiles at a time: the Python and JavaScript components
/// take seconds of Cranelift on two cores, and the tests on the other
/// targets then find them in the cache instead of compiling them again.
static LOADING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn same_report_everywhere(target: Target) {
    // Each agent asks the model once ("pong"); the JavaScript (QuickJS,
    // no fetch) and C (no HTTP library) agents through the same host
    // interface as the others.
    let pong =
        Step::new(Reply::text(" pong\n")).expecting(Expect { last_contains: vec!["pong".into()], ..Expect::default() });
    let server = ModelServer::start(Script::new(vec![pong; AGENTS.len()])).await.unwrap();
    let text = format!("[model.aliases.tiny]\nurl = \"{}\"\nmodel = \"scripted\"\n", server.base_url());
    let f = fixture(target, crate::harness::policy(&text)).await;
    let mut loads = Vec::new();
    {
        let _one_at_a_time = LOADING.lock().await;
        let again = second_host(f.backend.clone());
        for (lang, agent) in AGENTS {
            let path = agent.path();
            let first = f.host.load_file(path.as_ref()).await.unwrap();
            let second = again.load_file(path.as_ref()).await.unwrap();
            assert_eq!(second.code_source(), CodeSource::Cache, "{lang}: a new host must load it from the cache");
            let third = f.host.load_file(path.as_ref()).await.unwrap();
            assert!(matches!(third.code_source(), CodeSource::Memory | CodeSource::Cache), "{lang}");
            loads.push(format!(
                "{lang} {:.1} ms ({:?}), then {:.1} ms (cache)",
                first.load_time().as_secs_f64() * 1e3,
                first.code_source(),
                second.load_time().as_secs_f64() * 1e3
            ));
        }
    }
    note(&format!("polyglot {target:?} loads: {}", loads.join("; ")));

    let input = "refactor";
    let rust = f.ok(guests::RUST_AGENT.path(), input).await;
    let report: serde_json::Value = serde_json::from_str(&rust).unwrap();
    assert_eq!(report["agent"], "rust");
    assert_eq!(report["ok"], true, "{report:#}");
    for step in ["exec", "stream", "files", "snapshot", "mutate", "hydrate", "network"] {
        assert_eq!(report[step]["ok"], true, "{step}: {report:#}");
    }
    assert_eq!(report["model"], "pong", "{report:#}");
    assert_eq!(report["sandbox"]["workdir"], target.workdir());
    for (lang, agent) in &AGENTS[1..] {
        let other = f.ok(agent.path(), input).await;
        let v: serde_json::Value =
            serde_json::from_str(&other).unwrap_or_else(|e| panic!("{lang}: not JSON ({e}): {other}"));
        assert_eq!(v["agent"], *lang);
        assert_eq!(v["ok"], true, "{lang}: {v:#}");
        // Byte for byte: same keys, same order, same values.
        let expected = rust.replacen("\"agent\":\"rust\"", &format!("\"agent\":\"{lang}\""), 1);
        assert_eq!(other, expected, "{lang}'s report differs from the Rust agent's");
    }
    assert!(f.leftovers().await.is_empty());
    let strays: Vec<String> = server.requests().into_iter().filter_map(|r| r.mismatch).collect();
    assert!(strays.is_empty() && server.unused_steps() == 0, "one model call per agent: {strays:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local() {
    same_report_everywhere(Target::Local).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_v0_0() {
    same_report_everywhere(Target::Gateway(openshell_testgw::Protocol::V0_0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_v0_1() {
    same_report_everywhere(Target::Gateway(openshell_testgw::Protocol::V0_1)).await;
}

/// A heavy guest: the Python component (about 18 MB, CPython inside)
/// compiles once; a new host, as in a new process, loads the compiled code
/// from the on-disk cache in milliseconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_loads_from_the_disk_cache_in_a_new_host() {
    let cache = tempfile::tempdir().unwrap();
    let f = fixture(Target::Local, Default::default()).await;
    let host = |backend| {
        Host::builder().backend(backend).cache_dir(Some(cache.path().to_path_buf())).pooling(Pooling::Off).build()
    };
    let compile = {
        let _one_at_a_time = LOADING.lock().await;
        let agent = host(f.backend.clone()).unwrap().load_file(guests::PYTHON_AGENT.path().as_ref()).await.unwrap();
        assert_eq!(agent.code_source(), CodeSource::Compiled);
        agent.load_time()
    };
    let fresh = host(f.backend.clone()).unwrap();
    let agent = fresh.load_file(guests::PYTHON_AGENT.path().as_ref()).await.unwrap();
    assert_eq!(agent.code_source(), CodeSource::Cache);
    let cached = agent.load_time();
    note(&format!(
        "python ({} bytes): compile {compile:?}, load from the disk cache in a new host {cached:?}",
        agent.size()
    ));
    assert!(cached * 5 < compile, "a cached load ({cached:?}) must be far cheaper than compiling ({compile:?})");
    assert!(cached < Duration::from_secs(2), "{cached:?}");
    // And the cached code runs.
    let outcome = fresh.run(&agent, openshell_wasm::runtime::RunRequest::new("cached")).await.unwrap();
    let report: serde_json::Value = serde_json::from_str(outcome.result.as_ref().unwrap()).unwrap();
    assert_eq!(report["ok"], true, "{report:#}");
}

/// The policy files the example agents ship grant what they need.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_run_under_their_policy_files() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../guest-examples");
    for (lang, path, dir) in [
        ("python", guests::PYTHON_AGENT.path(), "python-agent"),
        ("js", guests::JS_AGENT.path(), "js-agent"),
        ("c", guests::C_AGENT.path(), "c-agent"),
    ] {
        let text = std::fs::read_to_string(examples.join(dir).join("policy.toml")).unwrap();
        let f = fixture(Target::Local, crate::harness::policy(&text)).await;
        let report: serde_json::Value = {
            let _one_at_a_time = LOADING.lock().await;
            serde_json::from_str(&f.ok(path, "policy").await).unwrap()
        };
        assert_eq!(report["ok"], true, "{lang}: {report:#}");
    }
}
