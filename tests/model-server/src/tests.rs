//! The server over real HTTP, driven by a bare hyper client.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::{Expect, ModelServer, Options, Reply, Script, ServerHandle, Step, ToolCall, Usage};

const LONG: Duration = Duration::from_secs(10);

/// Sends one request on a fresh connection and returns the response head.
async fn open(server: &ServerHandle, method: &str, path: &str, body: impl Into<Bytes>) -> http::Response<Incoming> {
    let stream = TcpStream::connect(server.addr()).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", server.addr().to_string())
        .header("content-type", "application/json")
        .header("authorization", "Bearer host-secret")
        .body(Full::new(body.into()))
        .unwrap();
    tokio::time::timeout(LONG, sender.send_request(request)).await.expect("response head in time").unwrap()
}

/// Sends one request and reads the whole response.
async fn send(
    server: &ServerHandle,
    method: &str,
    path: &str,
    body: impl Into<Bytes>,
) -> (StatusCode, HeaderMap, Bytes) {
    let response = open(server, method, path, body).await;
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(LONG, body.collect()).await.expect("body in time").unwrap().to_bytes();
    (parts.status, parts.headers, body)
}

async fn chat(server: &ServerHandle, body: &Value) -> (StatusCode, HeaderMap, Bytes) {
    send(server, "POST", "/v1/chat/completions", body.to_string()).await
}

fn request(stream: bool) -> Value {
    json!({
        "model": "test-model",
        "stream": stream,
        "messages": [{"role": "user", "content": "read the file"}],
        "tools": [{"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}}],
    })
}

fn tool_reply() -> Reply {
    Reply::Message {
        content: Some("Reading it — ünïcode first.".into()),
        tool_calls: vec![
            ToolCall::new("call_a", "read_file", r#"{"path":"dir/naïve \"名前\".txt","lines":[1,20]}"#),
            ToolCall::new("call_b", "read_file", r#"{"path":"C:\\tmp\\x","note":"\u00e9\n"}"#),
        ],
        finish_reason: None,
        usage: Some(Usage { prompt_tokens: 12, completion_tokens: 30 }),
    }
}

/// The `data:` payloads of an SSE body, whatever its line ends, without
/// comments.
fn sse_data(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8(body.to_vec()).unwrap().replace("\r\n", "\n");
    assert!(text.ends_with("\n\n"), "every event ends with a blank line: {text:?}");
    text.lines().filter_map(|line| line.strip_prefix("data: ")).map(str::to_string).collect()
}

#[tokio::test]
async fn a_plain_reply_is_a_chat_completion() {
    let server = ModelServer::start(Script::new([Step::new(tool_reply())])).await.unwrap();
    let (status, headers, body) = chat(&server, &request(false)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((&body["object"], &body["model"]), (&json!("chat.completion"), &json!("test-model")));
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Reading it — ünïcode first.");
    let call = &choice["message"]["tool_calls"][1];
    assert_eq!(
        (&call["id"], &call["type"], &call["function"]["name"]),
        (&json!("call_b"), &json!("function"), &json!("read_file"))
    );
    assert_eq!(call["function"]["arguments"], r#"{"path":"C:\\tmp\\x","note":"\u00e9\n"}"#);
    assert_eq!(body["usage"], json!({"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42}));

    let recorded = &server.requests()[0];
    assert_eq!((recorded.method.as_str(), recorded.path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(recorded.header("Authorization"), Some("Bearer host-secret"));
    assert_eq!((recorded.step, recorded.stream, &recorded.mismatch), (Some(0), false, &None));
    assert_eq!(recorded.body.as_ref().unwrap()["messages"][0]["content"], "read the file");
    assert_eq!(server.unused_steps(), 0);
}

#[tokio::test]
async fn no_usage_and_no_tool_calls_are_left_out() {
    let server = ModelServer::start(Script::new([Step::new(Reply::tool_calls([])), Step::new(Reply::text("hi"))]))
        .await
        .unwrap();
    let (_, _, body) = chat(&server, &request(false)).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert!(body.get("usage").is_none() && body["choices"][0]["message"].get("tool_calls").is_none(), "{body}");
    assert_eq!(
        (&body["choices"][0]["message"]["content"], &body["choices"][0]["finish_reason"]),
        (&Value::Null, &json!("stop"))
    );
    let (_, _, body) = chat(&server, &request(true)).await;
    let data = sse_data(&body);
    assert!(data.iter().all(|d| !d.contains("usage")), "{data:?}");
}

/// Reassembles a stream the way clients do; returns the content, each
/// call's (id, name, arguments), the finish reason and the usage.
fn reassemble(data: &[String]) -> (String, Vec<(String, String, String)>, String, Value) {
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let (mut content, mut calls, mut finish, mut usage) =
        (String::new(), Vec::<(String, String, String)>::new(), String::new(), Value::Null);
    for chunk in &data[..data.len() - 1] {
        let chunk: Value = serde_json::from_str(chunk).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        if !chunk["usage"].is_null() {
            usage = chunk["usage"].clone();
            assert_eq!(chunk["choices"], json!([]));
            continue;
        }
        let choice = &chunk["choices"][0];
        if let Some(reason) = choice["finish_reason"].as_str() {
            finish = reason.to_string();
        }
        content += choice["delta"]["content"].as_str().unwrap_or("");
        for fragment in choice["delta"]["tool_calls"].as_array().into_iter().flatten() {
            let index = fragment["index"].as_u64().unwrap() as usize;
            if let Some(id) = fragment["id"].as_str() {
                assert_eq!(index, calls.len(), "a call's first fragment carries its id");
                calls.push((id.to_string(), fragment["function"]["name"].as_str().unwrap().to_string(), String::new()));
            }
            calls[index].2 += fragment["function"]["arguments"].as_str().unwrap();
        }
    }
    (content, calls, finish, usage)
}

#[tokio::test]
async fn a_streamed_reply_reassembles_to_the_script() {
    for options in [
        Options::default(),
        Options { crlf: true, keepalive_comments: true, chunk_delay: Duration::from_millis(1), ..Options::default() },
    ] {
        let server = ModelServer::start_with(Script::new([Step::new(tool_reply())]), options.clone()).await.unwrap();
        let (status, headers, body) = chat(&server, &request(true)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "text/event-stream");
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert_eq!(text.contains("\r\n"), options.crlf);
        assert_eq!(text.contains(": keep-alive"), options.keepalive_comments);
        let data = sse_data(&body);
        let first: Value = serde_json::from_str(&data[0]).unwrap();
        assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
        let (content, calls, finish, usage) = reassemble(&data);
        let Reply::Message { content: Some(want), tool_calls, .. } = tool_reply() else { unreachable!() };
        assert_eq!(content, want);
        let want: Vec<_> = tool_calls.into_iter().map(|c| (c.id, c.name, c.arguments)).collect();
        assert_eq!(calls, want);
        assert_eq!(finish, "tool_calls");
        assert_eq!(usage["total_tokens"], 42);
        // The arguments really came in small pieces.
        assert!(data.iter().filter(|d| d.contains(r#""arguments""#)).count() > 12, "{data:?}");
        assert!(server.requests()[0].stream);
    }
}

#[tokio::test]
async fn a_failed_expectation_is_a_400_that_says_why_and_spends_the_step() {
    let expect = Expect { last_role: Some("tool".into()), ..Expect::default() };
    let script = Script::new([Step::new(Reply::text("a")).expecting(expect), Step::new(Reply::text("b"))]);
    let server = ModelServer::start(script).await.unwrap();
    let (status, _, body) = chat(&server, &request(false)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["message"], r#"script step 0: expected the last message's role "tool", got "user""#);
    assert_eq!(server.requests()[0].mismatch.as_deref(), body["error"]["message"].as_str());
    let (status, _, body) = chat(&server, &request(false)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["choices"][0]["message"]["content"], "b");
}

#[tokio::test]
async fn a_status_step_sends_retry_after_and_the_next_request_moves_on() {
    let script = Script::new([
        Step::new(Reply::Status { status: 429, retry_after: Some("1".into()), body: String::new() }),
        Step::new(Reply::status(500)),
        Step::new(Reply::text("done")),
    ]);
    let server = ModelServer::start(script).await.unwrap();
    let (status, headers, body) = chat(&server, &request(true)).await;
    assert_eq!(
        (status, &headers["retry-after"]),
        (StatusCode::TOO_MANY_REQUESTS, &"1".parse::<http::HeaderValue>().unwrap())
    );
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["error"]["type"], "rate_limit_exceeded");
    let (status, headers, _) = chat(&server, &request(false)).await;
    assert!(status == StatusCode::INTERNAL_SERVER_ERROR && headers.get("retry-after").is_none());
    assert_eq!(chat(&server, &request(false)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn an_exhausted_script_and_bad_bodies_are_400s() {
    let server = ModelServer::start(Script::new([Step::new(Reply::text("only"))])).await.unwrap();
    let (status, _, body) = send(&server, "POST", "/v1/chat/completions", "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}");
    assert_eq!(server.unused_steps(), 1, "a body that is not JSON spends no step");
    assert_eq!(chat(&server, &request(false)).await.0, StatusCode::OK);
    let (status, _, body) = chat(&server, &request(false)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = serde_json::from_slice::<Value>(&body).unwrap()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.starts_with("script exhausted"), "{message}");

    // Garbage on the socket ends that connection and nothing else.
    let mut raw = TcpStream::connect(server.addr()).await.unwrap();
    raw.write_all(b"\x00\x01 NOT HTTP\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(LONG, raw.read_to_end(&mut answer)).await.expect("the connection ends");
    assert_eq!(send(&server, "GET", "/v1/models", "").await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_script_free_routes() {
    let server = ModelServer::start(Script::default()).await.unwrap();
    let (status, headers, body) = send(&server, "GET", "/bytes/200000", "").await;
    assert_eq!((status, &headers["content-length"]), (StatusCode::OK, &"200000".parse::<http::HeaderValue>().unwrap()));
    assert!(body.len() == 200_000 && body.iter().all(|&b| b == b'a'));
    assert_eq!(send(&server, "GET", "/bytes/0", "").await.2.len(), 0);
    assert_eq!(send(&server, "GET", "/bytes/many", "").await.0, StatusCode::BAD_REQUEST);

    let (status, _, body) = send(&server, "POST", "/echo-size", vec![7u8; 3_000_000]).await;
    assert_eq!((status, body.as_ref()), (StatusCode::OK, b"3000000".as_ref()));

    let (status, headers, _) = send(&server, "GET", "/redirect?to=http%3A%2F%2F10.0.0.1%2Fx%3Fa%3Db", "").await;
    assert_eq!(
        (status, &headers["location"]),
        (StatusCode::FOUND, &"http://10.0.0.1/x?a=b".parse::<http::HeaderValue>().unwrap())
    );
    let (_, _, body) = send(&server, "GET", "/headers", "").await;
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["authorization"], "Bearer host-secret");
    let (_, _, body) = send(&server, "GET", "/v1/models", "").await;
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["data"][0]["id"], "openshell-test-model");
    assert_eq!(send(&server, "GET", "/nowhere", "").await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(&server, "GET", "/v1/chat/completions", "").await.0, StatusCode::NOT_FOUND);

    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths[0], "/bytes/200000");
    assert_eq!(paths.len(), 9);
    assert_eq!(server.unused_steps(), 0);
}

#[tokio::test]
async fn a_stall_goes_quiet_until_shutdown() {
    let script = Script::new([Step::new(Reply::Stall { chunks: 2 }), Step::new(Reply::Stall { chunks: 0 })]);
    let server = ModelServer::start(script).await.unwrap();
    let mut body = open(&server, "POST", "/v1/chat/completions", request(true).to_string()).await.into_body();
    let mut data = Vec::new();
    while data.windows(2).filter(|w| w == b"\n\n").count() < 3 {
        let frame = tokio::time::timeout(LONG, body.frame()).await.expect("three events").unwrap().unwrap();
        data.extend_from_slice(frame.data_ref().unwrap());
    }
    let data = sse_data(&data);
    assert_eq!(data.len(), 3);
    assert_eq!(reassemble_partial(&data), "part 0 part 1 ");
    assert!(tokio::time::timeout(Duration::from_millis(300), body.frame()).await.is_err(), "nothing after the stall");

    let response = open(&server, "POST", "/v1/chat/completions", request(false).to_string()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut quiet = response.into_body();
    assert!(tokio::time::timeout(Duration::from_millis(300), quiet.frame()).await.is_err(), "headers, then nothing");

    // Shutting down closes stalled connections: both bodies end.
    drop(server);
    let ended = tokio::time::timeout(LONG, body.collect()).await.expect("the stream ends on shutdown");
    assert!(ended.is_err(), "a stalled stream ends in an error, not a clean end");
    assert!(tokio::time::timeout(LONG, quiet.collect()).await.expect("the body ends on shutdown").is_err());
}

fn reassemble_partial(data: &[String]) -> String {
    data.iter()
        .map(|d| {
            serde_json::from_str::<Value>(d).unwrap()["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn serve_returns_when_shutdown_fires() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = ModelServer::new(Script::new([Step::new(Reply::Stall { chunks: 1 })]), Options::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn({
        let server = server.clone();
        async move {
            server
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await;
        }
    });
    // A stalled connection is open when the shutdown comes.
    let mut raw = TcpStream::connect(addr).await.unwrap();
    let body = request(true).to_string();
    let head = format!("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n", body.len());
    raw.write_all(format!("{head}{body}").as_bytes()).await.unwrap();
    let mut first = [0u8; 64];
    let n = raw.read(&mut first).await.unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&first[..n]));
    stop.send(()).unwrap();
    tokio::time::timeout(LONG, serving).await.expect("serve returns").unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed");
    assert_eq!(server.requests().len(), 1);
}
