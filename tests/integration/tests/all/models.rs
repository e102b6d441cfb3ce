//! Model calls through the host (`openshell:sandbox/model`) against the
//! scripted OpenAI-compatible server over real HTTP: whole and streamed
//! answers, awkward chunking, retries, deadlines, budgets, credentials;
//! and the coding agents, in Rust and Python, fixing a failing test in a
//! sandbox on every backend.

use std::path::Path;
use std::time::{Duration, Instant};

use openshell_test_model::{Expect, ModelServer, Options, Reply, Script, ServerHandle, Step, ToolCall, Usage};
use openshell_wasm::runtime::{Collect, RunRequest, Seed};
use serde_json::{Value, json};
use test_artifacts as guests;

use crate::harness::{Fixture, Target, fixture, policy};

/// A policy with one alias, `test`, at `server`, whose key is in `key_file`.
fn model_policy(server: &ServerHandle, key_file: &Path, extra: &str) -> String {
    format!(
        "[model]\ntimeout = \"20s\"\n{extra}\n[model.aliases.test]\nurl = \"{}\"\nmodel = \"scripted-model\"\n\
         credentials = [{{ header = \"authorization\", prefix = \"Bearer \", file = {:?} }}]\n",
        server.base_url(),
        key_file.display().to_string()
    )
}

fn key_file(dir: &tempfile::TempDir, key: &str) -> std::path::PathBuf {
    let path = dir.path().join("model-key");
    std::fs::write(&path, key).unwrap();
    path
}

fn say(text: &str) -> Step {
    Step {
        expect: Expect::default(),
        reply: Reply::Message {
            content: Some(text.into()),
            tool_calls: vec![],
            finish_reason: None,
            usage: Some(Usage { prompt_tokens: 11, completion_tokens: 3 }),
        },
    }
}

fn call_tool(name: &str, arguments: &Value) -> Step {
    Step {
        expect: Expect::default(),
        reply: Reply::Message {
            content: None,
            tool_calls: vec![ToolCall {
                id: format!("call-{name}"),
                name: name.into(),
                arguments: arguments.to_string(),
            }],
            finish_reason: None,
            usage: Some(Usage { prompt_tokens: 20, completion_tokens: 9 }),
        },
    }
}

/// Run the model probe with `calls`; its report and the run's model stats.
async fn probe(f: &Fixture, calls: Value) -> (Value, Value) {
    let out = f.run(guests::MODEL_PROBE.path(), &calls.to_string()).await.unwrap_or_else(|e| panic!("run failed: {e}"));
    let report: Value = serde_json::from_str(&out.result.unwrap()).unwrap();
    (report, serde_json::to_value(&out.stats.model).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_and_streamed_answers_agree() {
    for options in [Options::default(), Options { crlf: true, keepalive_comments: true, ..Options::default() }] {
        let args = json!({"path": "src/main.rs", "note": "quote \" backslash \\ é ✓"});
        let script = Script {
            steps: vec![call_tool("read_file", &args), call_tool("read_file", &args), {
                let mut s = say("Hello, streamed world");
                if let Reply::Message { usage, .. } = &mut s.reply {
                    *usage = None;
                }
                s
            }],
        };
        let server = ModelServer::start_with(script, options.clone()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let f = fixture(Target::Local, policy(&model_policy(&server, &key_file(&dir, "k-1234"), ""))).await;
        let (r, stats) = probe(&f, json!([{"stream": false}, {"stream": true}, {"stream": true}])).await;
        let calls = r["calls"].as_array().unwrap();
        let whole = &calls[0]["tool_calls"][0];
        assert_eq!(whole[1], "read_file", "{r}");
        assert_eq!(serde_json::from_str::<Value>(whole[2].as_str().unwrap()).unwrap(), args);
        assert_eq!(calls[0]["finish"], "tool-calls");
        assert_eq!(calls[0]["usage"], json!([20, 9, false]));
        assert_eq!(calls[0]["model"], "scripted-model");
        assert_eq!(calls[1]["tool_calls"], calls[0]["tool_calls"], "streamed == whole ({options:?})");
        assert_eq!(calls[1]["streamed_args"][0], whole[2], "the fragments add up to the arguments");
        assert!(calls[1]["pieces"].as_u64().unwrap() >= 4, "arguments arrive in pieces: {r}");
        assert_eq!(calls[1]["after_done"], true);
        assert_eq!(calls[2]["content"], "Hello, streamed world");
        assert_eq!(calls[2]["streamed_text"], "Hello, streamed world");
        assert_eq!(calls[2]["usage"][2], true, "no usage from the provider: estimated, and said so");
        assert_eq!(r["aliases"], json!(["test"]));
        assert_eq!(stats["calls"], 3, "{stats}");
        assert!(stats["per_call"][1]["first_delta_ms"].is_u64(), "{stats}");
        for req in server.requests() {
            let body = req.body.as_ref().expect("a chat request");
            assert_eq!(body["model"], "scripted-model", "the guest names the alias, the host the model");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried() {
    let script = Script {
        steps: vec![
            Step {
                expect: Expect::default(),
                reply: Reply::Status {
                    status: 429,
                    retry_after: Some("1".into()),
                    body: "{\"error\":{\"message\":\"slow down\"}}".into(),
                },
            },
            say("after 429"),
            Step {
                expect: Expect::default(),
                reply: Reply::Status { status: 500, retry_after: None, body: "oops".into() },
            },
            say("after 500"),
            Step {
                expect: Expect::default(),
                reply: Reply::Status {
                    status: 400,
                    retry_after: None,
                    body: "{\"error\":{\"message\":\"bad request here\"}}".into(),
                },
            },
        ],
    };
    let server = ModelServer::start(script).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(Target::Local, policy(&model_policy(&server, &key_file(&dir, "k-1234"), ""))).await;
    let started = Instant::now();
    let (r, stats) = probe(&f, json!([{}, {"stream": true}, {}])).await;
    assert_eq!(r["calls"][0]["content"], "after 429", "{r}");
    assert_eq!(r["calls"][1]["content"], "after 500", "{r}");
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After is honoured");
    assert_eq!(stats["per_call"][0]["attempts"], 2, "{stats}");
    assert_eq!(stats["per_call"][1]["attempts"], 2, "{stats}");
    assert_eq!(r["calls"][2]["error"], "backend:http-400:model.complete", "{r}");
    assert!(r["calls"][2]["message"].as_str().unwrap().contains("bad request here"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_stream_ends_at_the_deadline() {
    let script = Script { steps: vec![Step { expect: Expect::default(), reply: Reply::Stall { chunks: 2 } }] };
    let server = ModelServer::start(script).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = model_policy(&server, &key_file(&dir, "k-1234"), "").replace("timeout = \"20s\"", "timeout = \"2s\"");
    let f = fixture(Target::Local, policy(&text)).await;
    let started = Instant::now();
    let (r, stats) = probe(&f, json!([{"stream": true}])).await;
    assert_eq!(r["calls"][0]["error"], "timeout:model.complete-streaming", "{r}");
    assert!(r["calls"][0]["pieces"].as_u64().unwrap() >= 1, "deltas before the stall arrive: {r}");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(stats["per_call"][0]["outcome"], "timeout", "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_stop_calls_and_name_the_policy_key() {
    let script = Script { steps: (0..6).map(|i| say(&format!("answer {i}"))).collect() };
    let server = ModelServer::start(script).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(&dir, "k-1234");
    let f = fixture(Target::Local, policy(&model_policy(&server, &key, "max-requests = 2"))).await;
    let (r, _) = probe(&f, json!([{}, {}, {}])).await;
    assert_eq!(r["calls"][1]["content"], "answer 1");
    assert_eq!(r["calls"][2]["error"], "too-large:model.complete", "{r}");
    assert!(r["calls"][2]["message"].as_str().unwrap().contains("model.max-requests"), "{r}");
    assert_eq!(r["remaining"][0], 0);

    // 14 tokens a call: the third call finds the 20-token budget spent.
    let f = fixture(Target::Local, policy(&model_policy(&server, &key, "max-tokens = 20"))).await;
    let (r, _) = probe(&f, json!([{}, {}, {}])).await;
    assert!(r["calls"][1]["content"].is_string(), "{r}");
    assert!(r["calls"][2]["message"].as_str().unwrap().contains("model.max-tokens"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_come_from_the_policy_only() {
    let f = fixture(Target::Local, Default::default()).await;
    let (r, _) = probe(&f, json!([{}])).await;
    assert_eq!(r["aliases"], json!([]));
    assert_eq!(r["calls"][0]["error"], "not-found:model.complete", "{r}");

    let server = ModelServer::start(Script { steps: vec![say("hi")] }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(Target::Local, policy(&model_policy(&server, &key_file(&dir, "sk-only-host-9"), ""))).await;
    let (r, _) = probe(&f, json!([{"model": "gpt-4"}, {"model": "test"}])).await;
    assert_eq!(r["calls"][0]["error"], "not-found:model.complete", "only aliases, never provider names: {r}");
    assert_eq!(r["calls"][1]["content"], "hi");
    let requests = server.requests();
    assert_eq!(requests[0].header("authorization"), Some("Bearer sk-only-host-9"));
}

/// The seeded project: a failing test.
fn seed_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("calc.py"), "def add(a, b):\n    return a - b\n").unwrap();
    std::fs::write(
        dir.path().join("test_calc.py"),
        "from calc import add\n\nassert add(2, 3) == 5, f\"add(2, 3) == {add(2, 3)}\"\nprint(\"OK\")\n",
    )
    .unwrap();
    dir
}

/// The conversation the coding agents hold to fix it. (`-B`: the fix keeps
/// the file's size and lands in the same second, so Python would trust
/// the bytecode it cached on the first run.)
fn fixing_script() -> Script {
    let expect = |role: &str, contains: &[&str]| Expect {
        last_role: Some(role.into()),
        last_contains: contains.iter().map(|s| s.to_string()).collect(),
        tools: vec!["run_command".into(), "read_file".into(), "edit_file".into(), "finish".into()],
        model: Some("scripted-model".into()),
    };
    let mut steps = vec![
        call_tool("run_command", &json!({"command": "python3 -B test_calc.py"})),
        call_tool("read_file", &json!({"path": "calc.py"})),
        call_tool("edit_file", &json!({"path": "calc.py", "old": "return a - b", "new": "return a + b"})),
        call_tool("run_command", &json!({"command": "python3 -B test_calc.py"})),
        call_tool("finish", &json!({"summary": "fixed add() in calc.py"})),
    ];
    let expects = [
        expect("user", &[]),
        expect("tool", &["exit code: 1", "AssertionError"]),
        expect("tool", &["return a - b"]),
        expect("tool", &["edited calc.py"]),
        expect("tool", &["exit code: 0", "OK"]),
    ];
    for (s, e) in steps.iter_mut().zip(expects) {
        s.expect = e;
    }
    Script { steps }
}

async fn coding_agent_fixes_the_test(agent: &str, target: Target, stream: bool) {
    let server = ModelServer::start(fixing_script()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{}\n[exec]\nallow = [\"sh\"]\n", model_policy(&server, &key_file(&dir, "k-1234"), ""));
    let f = fixture(target, policy(&text)).await;
    let project = seed_project();
    let out_dir = tempfile::tempdir().unwrap();
    let input = json!({"task": "The test in test_calc.py fails. Make it pass.", "stream": stream}).to_string();
    let request = RunRequest::new(input)
        .seed(Seed { host: project.path().to_path_buf(), sandbox: ".".into() })
        .collect(Collect { sandbox: "calc.py".into(), host: out_dir.path().join("calc.py") });
    let out = f.run_request(agent, request).await.unwrap_or_else(|e| panic!("{target:?}: run failed: {e}"));
    let report: Value = serde_json::from_str(&out.result.clone().unwrap()).unwrap();
    let mismatches: Vec<String> = server.requests().into_iter().filter_map(|r| r.mismatch).collect();
    assert!(mismatches.is_empty(), "{target:?}: the agent strayed from the script: {mismatches:?}\n{report:#}");
    assert_eq!(report["ok"], true, "{target:?}: {report:#}");
    assert_eq!(report["stopped"], "finish");
    assert_eq!(report["steps"], 5);
    assert_eq!(report["tool_calls"], 5);
    assert_eq!(report["tools"], json!({"edit_file": 1, "finish": 1, "read_file": 1, "run_command": 2}));
    assert_eq!(report["files_changed"], json!(["calc.py"]));
    assert_eq!(report["usage"]["prompt_tokens"], 100);
    let fixed = std::fs::read_to_string(out_dir.path().join("calc.py")).unwrap();
    assert_eq!(fixed, "def add(a, b):\n    return a + b\n", "the sandbox's file is fixed");
    assert_eq!(out.stats.model.calls, 5);
    assert!(f.leftovers().await.is_empty());
}

macro_rules! coding_agent_tests {
    ($($name:ident: $agent:expr, $target:expr, $stream:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            coding_agent_fixes_the_test($agent, $target, $stream).await;
        }
    )*};
}

use openshell_testgw::Protocol;

coding_agent_tests! {
    rust_coding_agent_local: guests::CODING_AGENT.path(), Target::Local, false;
    rust_coding_agent_gateway_0_0: guests::CODING_AGENT.path(), Target::Gateway(Protocol::V0_0), true;
    rust_coding_agent_gateway_0_1: guests::CODING_AGENT.path(), Target::Gateway(Protocol::V0_1), false;
    python_coding_agent_local: guests::PYTHON_CODING_AGENT.path(), Target::Local, true;
    python_coding_agent_gateway_0_0: guests::PYTHON_CODING_AGENT.path(), Target::Gateway(Protocol::V0_0), false;
    python_coding_agent_gateway_0_1: guests::PYTHON_CODING_AGENT.path(), Target::Gateway(Protocol::V0_1), true;
}
