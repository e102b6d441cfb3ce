//! `openshell-wasm mcp` with real clients: the official MCP Python SDK over
//! stdio and Streamable HTTP, on the local backend and on the test gateway
//! in both generations (`tests/python/mcp_client.py`), and the transport's
//! guards (loopback, bearer token, Host header) from raw HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};

use openshell_testgw::testing::{CliEnv, Running};
use test_artifacts as guests;

use crate::BIN;

/// A Python with the official `mcp` and `openai-agents` packages.
pub(crate) fn mcp_python() -> PathBuf {
    match std::env::var_os("OPENSHELL_TEST_MCP_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "set OPENSHELL_TEST_MCP_PYTHON to a Python that has the official `mcp` and `openai-agents` packages \
             (./scripts/test.sh does), for example:\n  python3 -m venv .venv-mcp && .venv-mcp/bin/pip install \
             mcp openai-agents\n  OPENSHELL_TEST_MCP_PYTHON=$PWD/.venv-mcp/bin/python cargo test -p openshell-wasm mcp"
        ),
    }
}

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("the repository").to_path_buf()
}

/// The server's policy: the grants the script uses.
const POLICY: &str = "version = 1\n[sandbox]\ncreate = true\ndelete = true\nlist = true\n\
                      [network]\nupdate-policy = true\nexpose-ports = [8080]\n";
/// The looping component's own policy, beside it: little CPU time.
const LOOP_POLICY: &str = "version = 1\n[guest]\ncpu-time = \"1s\"\n";

/// Run the MCP client script with `transport` against `backend_args`.
async fn official_client(transport: &str, backend_args: &[String]) {
    let env = CliEnv::new();
    std::fs::write(env.path("policy.toml"), POLICY).unwrap();
    let mut server_args: Vec<String> = backend_args.to_vec();
    server_args.extend(["--policy".into(), env.path("policy.toml").display().to_string()]);
    // A directory of components, one with its own policy.
    let tools = env.path("tools");
    std::fs::create_dir_all(&tools).unwrap();
    for (c, name) in [
        (&guests::SMOKE_ECHO, "smoke_echo"),
        (&guests::TRAP_PANIC, "trap_panic"),
        (&guests::LIMITS_LOOP, "limits_loop"),
        (&guests::TYPED_TOOLS, "typed_tools"),
    ] {
        std::fs::copy(c.path(), tools.join(format!("{name}.wasm"))).unwrap();
    }
    std::fs::write(tools.join("limits_loop.policy.toml"), LOOP_POLICY).unwrap();
    // The typed component's WIT, for its doc comments.
    std::fs::copy(repo().join("tests/test-programs/wit/typed-tools.wit"), tools.join("typed_tools.wit")).unwrap();
    server_args.extend(["--component".into(), tools.display().to_string()]);
    let config = serde_json::json!({
        "bin": BIN,
        "transport": transport,
        "server_args": server_args,
        "list_args": backend_args,
        "component_tool": "smoke_echo",
        "trap_tool": "trap_panic",
        "loop_tool": "limits_loop",
        "typed_prefix": "typed_tools_",
    });
    let mut c = env.command(mcp_python());
    c.arg(repo().join("tests/python/mcp_client.py")).arg(config.to_string());
    let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(" checks passed"),
        "the MCP Python SDK over {transport} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn local() -> Vec<String> {
    vec!["--backend".into(), "local".into()]
}

async fn gateway(protocol: openshell_testgw::Protocol) -> (Running, CliEnv, Vec<String>) {
    let env = CliEnv::new();
    let gw = Running::start(openshell_testgw::Config::new(protocol, env.path("gateway"))).await;
    let args = vec!["--backend".into(), "openshell".into(), "--gateway".into(), gw.url(false)];
    (gw, env, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_policy_may_not_outgrow_the_servers() {
    use openshell_wasm::backend::local::LocalBackend;
    use openshell_wasm::policy::Policy;
    use openshell_wasm::runtime::Host;

    let env = CliEnv::new();
    let backend = std::sync::Arc::new(LocalBackend::new(env.path("state")).unwrap());
    let host = Host::builder().backend(backend).snapshot_dir(env.path("snapshots")).cache_dir(None).build().unwrap();
    let policy = |memory: &str| {
        let file = env.path(&format!("{memory}.toml"));
        std::fs::write(&file, format!("version = 1\n[guest]\nmemory = \"{memory}\"\n")).unwrap();
        Policy::from_file(&file).unwrap()
    };
    let small = policy("16 MiB");
    assert_eq!(host.with_policy(small).unwrap().policy().guest.memory_bytes, 16 << 20);
    let big = policy("1 GiB");
    let err = host.with_policy(big).unwrap_err().to_string();
    assert!(err.contains("raise that policy's [guest] memory"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_over_stdio_on_local() {
    official_client("stdio", &local()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_over_http_on_local() {
    official_client("http", &local()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_over_stdio_on_the_gateway_v0_0() {
    let (_gw, _env, args) = gateway(openshell_testgw::Protocol::V0_0).await;
    official_client("stdio", &args).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_over_http_on_the_gateway_v0_1() {
    let (_gw, _env, args) = gateway(openshell_testgw::Protocol::V0_1).await;
    official_client("http", &args).await;
}

const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

/// `openshell-wasm mcp --listen` on a free loopback port, with `token`.
struct HttpServer {
    child: Child,
    addr: String,
    _env: CliEnv,
}

impl HttpServer {
    fn start(token: Option<&str>) -> HttpServer {
        HttpServer::with_args(token, &[])
    }

    fn with_args(token: Option<&str>, args: &[&str]) -> HttpServer {
        let env = CliEnv::new();
        let mut c = env.command(BIN);
        c.args(["mcp", "--backend", "local", "--listen", "127.0.0.1:0"]).args(args).stderr(Stdio::piped());
        if let Some(t) = token {
            c.env("OPENSHELL_WASM_MCP_TOKEN", t);
        }
        let mut child = c.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.as_mut().unwrap()).read_line(&mut line).unwrap();
        let addr = line.split("http://").nth(1).and_then(|r| r.strip_suffix("/mcp\n")).expect(&line).to_string();
        HttpServer { child, addr, _env: env }
    }

    /// POST an `initialize` request with `headers`; the status line and body.
    fn initialize(&self, headers: &str) -> String {
        self.post(INITIALIZE, headers)
    }

    /// POST `body` with `headers`; the whole answer.
    fn post(&self, body: &str, headers: &str) -> String {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "POST /mcp HTTP/1.1\r\n{headers}content-type: application/json\r\naccept: application/json, \
             text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let _ = s.read_to_string(&mut answer);
        answer
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn http_checks_the_host_header_and_the_bearer_token() {
    let open = HttpServer::start(None);
    let local = format!("host: {}\r\n", open.addr);
    assert!(open.initialize(&local).starts_with("HTTP/1.1 200"), "{}", open.initialize(&local));
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1.
    let rebound = open.initialize("host: evil.example\r\n");
    assert!(rebound.starts_with("HTTP/1.1 403"), "{rebound}");
    let cross = open.initialize(&format!("{local}origin: https://evil.example\r\n"));
    assert!(cross.starts_with("HTTP/1.1 403"), "{cross}");

    let guarded = HttpServer::start(Some("s3cret-token"));
    let local = format!("host: {}\r\n", guarded.addr);
    let none = guarded.initialize(&local);
    assert!(none.starts_with("HTTP/1.1 401") && !none.contains("s3cret"), "{none}");
    let wrong = guarded.initialize(&format!("{local}authorization: Bearer s3cret-tokeX\r\n"));
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
    let right = guarded.initialize(&format!("{local}authorization: Bearer s3cret-token\r\n"));
    assert!(right.starts_with("HTTP/1.1 200"), "{right}");
}

#[test]
fn an_idle_http_session_is_closed_and_its_sandbox_deleted() {
    let server = HttpServer::with_args(None, &["--idle-timeout", "2s"]);
    let host = format!("host: {}\r\n", server.addr);
    let answer = server.initialize(&host);
    let session = answer
        .lines()
        .find_map(|l| l.strip_prefix("mcp-session-id: "))
        .unwrap_or_else(|| panic!("no session id: {answer}"))
        .trim()
        .to_string();
    let headers = format!("{host}mcp-session-id: {session}\r\nmcp-protocol-version: 2025-11-25\r\n");
    assert!(server.post(INITIALIZED, &headers).starts_with("HTTP/1.1 202"));
    let call = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"sandbox_info","arguments":{}}}"#;
    let answer = server.post(call, &headers);
    assert!(answer.contains(r#""owned":true"#), "{answer}");
    let list = || {
        let out = server._env.command(BIN).args(["sandbox", "list", "--json", "--backend", "local"]).output().unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().len()
    };
    assert_eq!(list(), 1);
    // Idle past the timeout: the session closes and its sandbox goes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while list() != 0 {
        assert!(std::time::Instant::now() < deadline, "the idle session's sandbox is still there");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let answer = server.post(call, &headers);
    assert!(answer.starts_with("HTTP/1.1 404"), "the session is gone: {answer}");
}

#[test]
fn listening_beyond_loopback_needs_a_token_and_host_names() {
    let env = CliEnv::new();
    let out = env.command(BIN).args(["mcp", "--backend", "local", "--listen", "0.0.0.0:0"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("OPENSHELL_WASM_MCP_TOKEN"), "{stderr}");
    let out = env
        .command(BIN)
        .args(["mcp", "--backend", "local", "--listen", "0.0.0.0:0"])
        .env("OPENSHELL_WASM_MCP_TOKEN", "t")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--allow-host"), "{stderr}");
}

#[test]
fn stdio_logs_stay_off_stdout() {
    // The protocol owns stdout: even at trace level, nothing else is there.
    let env = CliEnv::new();
    let mut child = env
        .command(BIN)
        .args(["-vvv", "mcp", "--backend", "local"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let lines = [
        INITIALIZE,
        INITIALIZED,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"run_command","arguments":{"command":"echo hi"}}}"#,
    ];
    for l in lines {
        writeln!(stdin, "{l}").unwrap();
    }
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut replies = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        replies.push(serde_json::from_str::<serde_json::Value>(&line).expect(&line));
    }
    drop(stdin);
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(status.success() && rest.is_empty(), "{status}: {rest}");
    assert_eq!(replies[0]["result"]["serverInfo"]["name"], "openshell-wasm");
    assert_eq!(replies[1]["result"]["structuredContent"]["stdout"], "hi\n", "{:?}", replies[1]);
    assert!(stderr.contains("MCP session bound its sandbox"), "logs go to stderr: {stderr}");
    // Closing stdin ended the session and deleted its sandbox.
    let out = env.command(BIN).args(["sandbox", "list", "--json", "--backend", "local"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openai_agents_sdk_completes_a_coding_task_through_mcp() {
    use openshell_test_model::{Expect, ModelServer, Reply, Script, Step, ToolCall};
    use openshell_wasm::backend::local::LocalBackend;
    use openshell_wasm::backend::{Backend, SandboxSpec};

    let env = CliEnv::new();
    // A sandbox of the caller's, so its files can be checked afterwards.
    let state = env.path("local-state");
    let backend = LocalBackend::new(state.clone()).unwrap();
    let sandbox = backend.create(&SandboxSpec::default()).await.unwrap();

    let tools = |names: &[&str]| Expect { tools: names.iter().map(|s| s.to_string()).collect(), ..Expect::default() };
    let after_tool = |contains: &[&str]| Expect {
        last_role: Some("tool".into()),
        last_contains: contains.iter().map(|s| s.to_string()).collect(),
        ..Expect::default()
    };
    let script = Script::new([
        Step::new(Reply::tool_calls([ToolCall::new(
            "call_1",
            "write_file",
            r#"{"path":"answer.sh","content":"echo $((6*7)) > answer.txt\n"}"#,
        )]))
        .expecting(tools(&["write_file", "run_command", "read_file", "exec_command"])),
        Step::new(Reply::tool_calls([ToolCall::new("call_2", "run_command", r#"{"command":"sh answer.sh"}"#)]))
            .expecting(after_tool(&["answer.sh"])),
        Step::new(Reply::tool_calls([ToolCall::new("call_3", "read_file", r#"{"path":"answer.txt"}"#)]))
            .expecting(after_tool(&[r#""exit_code":0"#])),
        Step::new(Reply::text("answer.txt says 42.")).expecting(after_tool(&["42"])),
    ]);
    let model = ModelServer::start(script).await.unwrap();
    let config = serde_json::json!({
        "bin": BIN,
        "server_args": ["--backend", "local", "--state-dir", state, "--sandbox", sandbox.name],
        "base_url": model.base_url(),
        "model": "openshell-test-model",
    });
    let mut c = env.command(mcp_python());
    c.arg(repo().join("tests/python/mcp_agents.py")).arg(config.to_string());
    let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the Agents SDK run failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).expect(&stdout);
    assert_eq!(result["final_output"], "answer.txt says 42.");
    assert_eq!(model.unused_steps(), 0, "every step was used: {:?}", model.requests());
    assert!(model.requests().iter().all(|r| r.step.is_some()), "no request was refused: {:?}", model.requests());

    // The work is in the sandbox, which the server left alone (attached, not owned).
    let opened = backend.open(&backend.get(&sandbox.name).await.unwrap());
    let read = opened.read_file(&format!("{}/answer.txt", sandbox.workdir)).await.unwrap();
    let mut content = Vec::new();
    let mut stream = read.content;
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        content.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(content, b"42\n");
    backend.delete(&sandbox.name).await.unwrap();
}

#[test]
fn a_killed_server_leaves_only_labelled_sandboxes_that_sweep_removes() {
    let env = CliEnv::new();
    let mut child = env
        .command(BIN)
        .args(["mcp", "--backend", "local"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let call = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"sandbox_info","arguments":{}}}"#;
    writeln!(stdin, "{INITIALIZE}\n{INITIALIZED}\n{call}").unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    for _ in 0..2 {
        line.clear();
        stdout.read_line(&mut line).unwrap();
    }
    let reply: serde_json::Value = serde_json::from_str(&line).expect(&line);
    let name = reply["result"]["structuredContent"]["name"].as_str().expect(&line).to_string();
    child.kill().unwrap();
    child.wait().unwrap();

    let list = || {
        let out = env.command(BIN).args(["sandbox", "list", "--json", "--backend", "local"]).output().unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let left = list();
    assert_eq!(left[0]["name"], name.as_str(), "{left}");
    assert!(left[0]["labels"]["openshell-wasm/run"].as_str().unwrap().starts_with("mcp-"), "{left}");
    let out = env.command(BIN).args(["sandbox", "sweep", "--backend", "local"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(list(), serde_json::json!([]));
}
