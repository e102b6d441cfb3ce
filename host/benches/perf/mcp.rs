//! Figure 9: MCP server mode (local backend). 9a: a `run_command` of
//! `true` through `openshell-wasm mcp` over stdio (JSON-RPC lines to the
//! child process and back) vs the same exec through the library, in the
//! same sandbox. 9b: 50 Streamable HTTP sessions at once, 20 commands each,
//! vs 50 library sessions doing the same (create, 20 execs, delete); every
//! call must succeed and no sandbox may be left behind.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use openshell_wasm::backend::local::LocalBackend;
use openshell_wasm::backend::{Backend, SandboxSpec};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

use crate::Options;
use crate::figure::{Figure, Goal};
use crate::fixtures;
use crate::measure::{interleave, ms, time};

const BIN: &str = env!("CARGO_BIN_EXE_openshell-wasm");
const INIT: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

fn call(id: u64) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": "run_command", "arguments": {"command": ["true"]}}})
    .to_string()
}

/// The server binary, isolated in `home`.
fn server(home: &std::path::Path, args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(BIN);
    for (var, dir) in [("XDG_CONFIG_HOME", "config"), ("XDG_STATE_HOME", "state"), ("XDG_CACHE_HOME", "cache")] {
        c.env(var, home.join(dir));
    }
    c.env_remove("RUST_LOG").arg("mcp").args(args).kill_on_drop(true);
    c
}

fn exit_code(reply: &Value) -> i64 {
    reply["result"]["structuredContent"]["exit_code"].as_i64().unwrap_or_else(|| panic!("tool call failed: {reply}"))
}

pub async fn run(opts: &Options) -> Vec<Figure> {
    let home = tempfile::tempdir().expect("temporary directory");
    let state = home.path().join("local");
    let state_arg = state.display().to_string();
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(state.clone()).expect("bubblewrap"));
    let sb = fixtures::sandbox(&*backend).await;

    // 9a: one stdio session attached to the sandbox the library uses.
    let mut child = server(home.path(), &["--backend", "local", "--state-dir", &state_arg, "--sandbox", &sb.name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start openshell-wasm mcp");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    stdin.write_all(format!("{INIT}\n{INITIALIZED}\n").as_bytes()).await.expect("initialize");
    stdout.next_line().await.expect("initialize reply").expect("a reply");
    let stdin = tokio::sync::Mutex::new(stdin);
    let stdout = tokio::sync::Mutex::new(stdout);
    let next_id = std::sync::atomic::AtomicU64::new(1);
    let rounds = if opts.quick { 20 } else { 200 };
    let (ours, base) = interleave(
        rounds,
        || async {
            let id = next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            stdin.lock().await.write_all(format!("{}\n", call(id)).as_bytes()).await.expect("send");
            let line = stdout.lock().await.next_line().await.expect("read").expect("a reply");
            let reply: Value = serde_json::from_str(&line).expect("JSON");
            assert_eq!(exit_code(&reply), 0);
        },
        || async {
            assert_eq!(fixtures::exec(&*backend, &sb, &["true"]).await.0, 0);
        },
    )
    .await;
    drop(stdin);
    let _ = child.wait().await;
    let (o, b) = (ours.median(), base.median());
    let mut figures = vec![Figure::new(
        "9a",
        "run_command `true` through MCP over stdio vs the same exec through the library",
        format!("{:.2} ms median", ms(o)),
        format!("{:.2} ms median", ms(b)),
        o.as_secs_f64() / b.as_secs_f64(),
        "MCP / library",
        Goal::AtMost(1.3),
    )];
    backend.delete(&sb.name).await.expect("delete the sandbox");

    // 9b: many sessions at once over Streamable HTTP.
    let (sessions, commands) = if opts.quick { (10, 5) } else { (50, 20) };
    let mut child = server(home.path(), &["--backend", "local", "--state-dir", &state_arg, "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start openshell-wasm mcp --listen");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let line = stderr.next_line().await.expect("read").expect("the listening line");
    let addr = line.split("http://").nth(1).and_then(|r| r.strip_suffix("/mcp")).expect(&line).to_string();
    let (d_mcp, results) = time(futures::future::join_all((0..sessions).map(|_| http_session(&addr, commands)))).await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    let (d_lib, ()) = time(async {
        futures::future::join_all((0..sessions).map(|_| async {
            let sb = backend.create(&SandboxSpec::default()).await.expect("create");
            for _ in 0..commands {
                assert_eq!(fixtures::exec(&*backend, &sb, &["true"]).await.0, 0);
            }
            backend.delete(&sb.name).await.expect("delete");
        }))
        .await;
    })
    .await;
    // Each session's DELETE closes it in the background: wait for that.
    let mut left = usize::MAX;
    for _ in 0..100 {
        left = backend.list(&[]).await.expect("list").len();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill().await;
    assert_eq!(
        failed,
        0,
        "MCP sessions failed: {:?}",
        results.iter().filter_map(|r| r.as_ref().err()).collect::<Vec<_>>()
    );
    assert_eq!(left, 0, "sandboxes were left behind");
    figures.push(Figure::new(
        "9b",
        &format!("{sessions} MCP HTTP sessions at once x {commands} commands vs the same through the library"),
        format!("{:.0} ms, 0 errors, 0 sandboxes left", ms(d_mcp)),
        format!("{:.0} ms", ms(d_lib)),
        d_mcp.as_secs_f64() / d_lib.as_secs_f64(),
        "MCP / library",
        Goal::Report,
    ));
    figures
}

/// One Streamable HTTP session: initialize, `commands` calls, DELETE.
async fn http_session(addr: &str, commands: u64) -> Result<(), String> {
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut session: Option<String> = None;
    let mut post = async |body: String, session: &Option<String>| -> Result<(http::HeaderMap, String), String> {
        let mut req = http::Request::post("/mcp")
            .header("host", addr)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25");
        if let Some(s) = session {
            req = req.header("mcp-session-id", s);
        }
        let req = req.body(Full::new(Bytes::from(body))).map_err(|e| e.to_string())?;
        // HTTP/1.1: the previous exchange must be done before the next.
        sender.ready().await.map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let headers = resp.headers().clone();
        let status = resp.status();
        let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        let text = String::from_utf8_lossy(&body).into_owned();
        if !status.is_success() {
            return Err(format!("{status}: {text}"));
        }
        Ok((headers, text))
    };
    let (headers, _) = post(INIT.into(), &session).await.map_err(|e| format!("initialize: {e}"))?;
    session = headers.get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    post(INITIALIZED.into(), &session).await.map_err(|e| format!("initialized: {e}"))?;
    for id in 1..=commands {
        let (_, text) = post(call(id), &session).await.map_err(|e| format!("call {id}: {e}"))?;
        // An SSE stream: the reply is the `data:` line with our id.
        let reply = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|v| v["id"] == id)
            .ok_or_else(|| format!("no reply to call {id}: {text}"))?;
        if reply["result"]["structuredContent"]["exit_code"] != 0 {
            return Err(format!("call {id}: {reply}"));
        }
    }
    let req = http::Request::delete("/mcp")
        .header("host", addr)
        .header("mcp-session-id", session.unwrap_or_default())
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    sender.ready().await.map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| format!("DELETE: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("DELETE: {}", resp.status()));
    }
    Ok(())
}
