//! Figure 8: what leaves the host on a guest's behalf, against the scripted
//! model server on loopback (on its own thread and runtime, as the test
//! gateway runs in `fixtures`). Every side opens a fresh HTTP/1.1
//! connection per request, as the host's connector does: the native
//! baseline is hyper's client used the same way (connect, no Nagle,
//! handshake, send, read the body).
//!
//! - 8a: `GET /bytes/64` from a guest (`bench_http`: plain `wasi:http`
//!   calls, nothing else between requests) vs from the native client, per
//!   request. The guest's share is its own loop time over N requests, so
//!   instantiation and the run's fixed costs stay outside it.
//! - 8b: a 16 MiB response body (`GET /bytes/16777216`) the same two ways,
//!   as throughput. The guest reads it into its memory in pieces of up to
//!   1 MiB; the native client only counts the bytes.
//! - 8c: time to the first streamed token: the host's model path called
//!   from Rust (`ModelCtx::stream` then `next` until the first text delta:
//!   budget, request body, credential file, connection, SSE parsing, the
//!   pump task and its channel; everything a guest's
//!   `complete-streaming` + `next` does except the two component calls)
//!   vs the native client reading server-sent events to the first content
//!   piece. The server sends the whole answer at once (no chunk delay), so
//!   both times are request to first token. Held to an absolute overhead.
//! - 8d: a whole streamed answer through a guest (`model_probe`, per call,
//!   by the same difference of runs as 8a) vs the native client reading it
//!   to `[DONE]`: the path 8c times the start of, with the guest's
//!   component calls (one per delta) on top. Reported, no target.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Incoming};
use hyper_util::rt::TokioIo;
use openshell_test_model::{ModelServer, Reply, Script, Step, Usage};
use openshell_wasm::backend::Backend;
use openshell_wasm::backend::local::LocalBackend;
use openshell_wasm::egress::Connector;
use openshell_wasm::model::{ChatRequest, Delta, Message, ModelCtx, Role};
use openshell_wasm::policy::Policy;
use openshell_wasm::runtime::{Agent, Host, RunRequest};

use crate::fixtures::Background;
use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::Options;
use crate::figure::{Figure, Goal};
use crate::fixtures;
use crate::measure::{Samples, ms};

/// Every chat request gets this text, cut by the server into small pieces.
const ANSWER: &str = "Hello from the benchmark model.";

/// The key the host reads from a file per call; the native client sends it
/// as is.
const KEY: &str = "bench-key";

/// The body of 8b.
const LARGE: u64 = 16 << 20;

pub async fn run(opts: &Options) -> Vec<Figure> {
    let q = opts.quick;
    // (requests per guest run, rounds): short runs and many rounds, so
    // that load from elsewhere on the machine hits both sides alike.
    let (small_n, small_rounds) = if q { (20, 9) } else { (50, 41) };
    let (large_n, large_rounds) = if q { (1, 5) } else { (1, 21) };
    let first_rounds = if q { 30 } else { 300 };
    let (whole_n, whole_rounds) = if q { (10, 5) } else { (20, 31) };
    // One step per chat request: each side's warm-up and rounds.
    let chats = 2 * (first_rounds + 1) + 2 * whole_n * (whole_rounds + 1);
    let script = Script::new(std::iter::repeat_with(answer).take(chats));
    let server = Background::start(move |listener, shutdown| async move {
        ModelServer::new(script, Default::default()).serve(listener, shutdown).await;
    });
    let addr = server.addr;

    let state = tempfile::tempdir().expect("temporary directory");
    let key = state.path().join("model-key");
    std::fs::write(&key, KEY).expect("write the model key");
    let policy = policy(addr, &key);
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(state.path().join("local")).expect("bubblewrap"));
    let sb = fixtures::sandbox(&*backend).await;
    let host = fixtures::host(backend.clone(), policy.clone(), state.path(), None);
    let bench_http = host.load_file(Path::new(test_artifacts::BENCH_HTTP.path())).await.expect("load bench_http");
    let model_probe = host.load_file(Path::new(test_artifacts::MODEL_PROBE.path())).await.expect("load model_probe");
    let guest = Guest { host: &host, sandbox: &sb.name };
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mut figures = Vec::new();

    // 8a
    let (o, b) = http_pair(&guest, &bench_http, addr, 64, small_n, small_rounds).await;
    figures.push(Figure::new(
        "8a",
        "GET /bytes/64: a guest's wasi:http (per request in one run) vs a native hyper client",
        format!("{:.0} µs per request ({small_n} per run)", us(o)),
        format!("{:.0} µs per request", us(b)),
        o.as_secs_f64() / b.as_secs_f64(),
        "guest / native (time per request, fresh connection each)",
        Goal::AtMost(1.2),
    ));

    // 8b
    let (o, b) = http_pair(&guest, &bench_http, addr, LARGE, large_n, large_rounds).await;
    let mib = LARGE as f64 / f64::from(1 << 20);
    let rate = |d: Duration| format!("{:.1} ms, {:.0} MiB/s", ms(d), mib / d.as_secs_f64());
    figures.push(Figure::new(
        "8b",
        &format!("{mib:.0} MiB response body: read by a guest (wasi:http) vs a native hyper client"),
        rate(o),
        rate(b),
        b.as_secs_f64() / o.as_secs_f64(),
        "guest throughput / native throughput",
        Goal::AtLeast(0.8),
    ));

    // 8c
    let ctx = ModelCtx::new(Arc::new(policy), Arc::new(Connector::new()));
    let (ours, base) = alternate(first_rounds, || first_token(&ctx), || native_stream(addr)).await;
    let (o, b) = (ours.median(), base.median());
    figures.push(Figure::new(
        "8c",
        "first streamed token: host model path (ModelCtx::stream + next) vs a native SSE client",
        format!("{:.0} µs", us(o)),
        format!("{:.0} µs", us(b)),
        ms(o) - ms(b),
        "ours - native, ms (an overhead, not a ratio)",
        Goal::AtMost(1.0),
    ));

    // 8d
    let calls = Value::Array(vec![json!({"stream": true, "user": "hello"}); whole_n]).to_string();
    let (ours, base) = alternate(
        whole_rounds,
        || async {
            let (with, report) = guest.run(&model_probe, &calls).await;
            let report: Value = serde_json::from_str(&report).expect("the probe's report");
            let calls = report["calls"].as_array().expect("the calls");
            assert!(calls.len() == whole_n && calls.iter().all(|c| c["streamed_text"] == ANSWER), "{report}");
            let (without, _) = guest.run(&model_probe, "[]").await;
            with.saturating_sub(without) / whole_n as u32
        },
        || async {
            let started = Instant::now();
            for _ in 0..whole_n {
                native_stream(addr).await;
            }
            started.elapsed() / whole_n as u32
        },
    )
    .await;
    let (o, b) = (ours.median(), base.median());
    figures.push(Figure::new(
        "8d",
        "whole streamed answer: guest model calls (per call in one run) vs a native SSE client",
        format!("{:.0} µs per call ({whole_n} per run)", us(o)),
        format!("{:.0} µs per call", us(b)),
        o.as_secs_f64() / b.as_secs_f64(),
        "guest / native (time per call)",
        Goal::Report,
    ));

    backend.delete(&sb.name).await.expect("delete the sandbox");
    figures
}

/// A short text answer with usage (so the host estimates nothing).
fn answer() -> Step {
    let usage = Some(Usage { prompt_tokens: 8, completion_tokens: 7 });
    Step::new(Reply::Message { content: Some(ANSWER.into()), tool_calls: Vec::new(), finish_reason: None, usage })
}

/// GETs of `/bytes/*` on the server, and one model alias there whose key
/// the host reads from `key`; limits far above what the figures use.
fn policy(addr: SocketAddr, key: &Path) -> Policy {
    let port = addr.port();
    let text = format!(
        r#"
[http]
max-requests = 1000000
max-bytes = "1 TiB"
max-response-body = "64 MiB"

[[http.allow]]
scheme = "http"
host = "127.0.0.1"
port = {port}
methods = ["GET"]
paths = ["/bytes/*"]

[model]
max-requests = 1000000
max-tokens = 1000000000
timeout = "30s"

[model.aliases.bench]
url = "http://127.0.0.1:{port}/v1"
model = "bench-model"
credentials = [{{ header = "authorization", prefix = "Bearer ", file = {key:?} }}]
"#
    );
    openshell_wasm::policy::parse(&text, "bench-policy.toml").expect("the benchmark's policy")
}

/// Runs of a guest in one sandbox.
struct Guest<'a> {
    host: &'a Host,
    sandbox: &'a str,
}

impl Guest<'_> {
    /// The guest call's time (instantiation included) and its result.
    async fn run(&self, agent: &Agent, input: &str) -> (Duration, String) {
        let out = self.host.run(agent, RunRequest::new(input).attach(self.sandbox)).await.expect("the guest ran");
        let result = out.result.unwrap_or_else(|e| panic!("the guest failed: {e}"));
        (Duration::from_secs_f64(out.stats.call_ms / 1e3), result)
    }
}

/// `count` GETs of `/bytes/{size}` per round, from the probe (a run with
/// them minus a run with none) and from the native client (in a row);
/// the medians of the time per request.
async fn http_pair(
    guest: &Guest<'_>,
    bench: &Agent,
    addr: SocketAddr,
    size: u64,
    count: usize,
    rounds: usize,
) -> (Duration, Duration) {
    let path = format!("/bytes/{size}");
    let input = format!("http://{addr}{path} {count}");
    let (ours, base) = alternate(
        rounds,
        || async {
            // The loop's own time inside the guest: instantiation and the
            // run's fixed costs are outside it.
            let (_, report) = guest.run(bench, &input).await;
            let field = |k: &str| {
                report.split(' ').find_map(|w| w.strip_prefix(k)?.strip_prefix('=')).unwrap_or_default().to_string()
            };
            assert_eq!(
                (field("ok"), field("bytes")),
                (count.to_string(), (size * count as u64).to_string()),
                "{report}"
            );
            let us: u64 = field("us").parse().expect("the loop's time");
            Duration::from_micros(us) / count as u32
        },
        || async {
            let started = Instant::now();
            for _ in 0..count {
                assert_eq!(native_get(addr, &path).await, size);
            }
            started.elapsed() / count as u32
        },
    )
    .await;
    (ours.median(), base.median())
}

/// Runs `ours` and `base` alternately `rounds` times after one warm-up of
/// each, as `measure::interleave` does; each returns its own sample (a
/// difference of runs, or part of a call).
async fn alternate<A, B, FA, FB>(rounds: usize, mut ours: A, mut base: B) -> (Samples, Samples)
where
    A: FnMut() -> FA,
    B: FnMut() -> FB,
    FA: Future<Output = Duration>,
    FB: Future<Output = Duration>,
{
    ours().await;
    base().await;
    let (mut a, mut b) = (Samples::default(), Samples::default());
    for i in 0..rounds {
        if i % 2 == 0 {
            a.push(ours().await);
            b.push(base().await);
        } else {
            b.push(base().await);
            a.push(ours().await);
        }
    }
    (a, b)
}

/// Send `request` over a fresh connection and return the response head.
async fn native_send<B>(addr: SocketAddr, request: http::Request<B>) -> http::Response<Incoming>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(addr).await.expect("connect to the server");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    sender.send_request(request).await.expect("send the request")
}

/// `GET path` from the native client; the body's length.
async fn native_get(addr: SocketAddr, path: &str) -> u64 {
    let request =
        http::Request::get(path).header(header::HOST, addr.to_string()).body(Empty::<Bytes>::new()).expect("a request");
    let response = native_send(addr, request).await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut n = 0;
    while let Some(frame) = body.frame().await {
        n += frame.expect("the body").data_ref().map_or(0, |d| d.len() as u64);
    }
    n
}

/// A streamed chat call from the native client: the body the host sends
/// for the same request, then the events read as they arrive, each one's
/// JSON parsed, to `[DONE]`. Returns the time from sending to the first
/// content piece.
async fn native_stream(addr: SocketAddr) -> Duration {
    let started = Instant::now();
    let body = json!({
        "model": "bench-model",
        "messages": [{"role": "user", "content": "hello"}],
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    let request = http::Request::post("/v1/chat/completions")
        .header(header::HOST, addr.to_string())
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "text/event-stream")
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a request");
    let response = native_send(addr, request).await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let (mut pending, mut text, mut first) = (Vec::new(), String::new(), None);
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.expect("the answer").into_data() else { continue };
        pending.extend_from_slice(&data);
        while let Some(end) = pending.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = pending.drain(..end + 2).collect();
            let event = std::str::from_utf8(&event).expect("UTF-8 events");
            let Some(data) = event.trim().strip_prefix("data:").map(str::trim) else { continue };
            if data == "[DONE]" {
                assert_eq!(text, ANSWER);
                return first.expect("a content piece");
            }
            let chunk: Value = serde_json::from_str(data).expect("a JSON chunk");
            if let Some(piece) = chunk["choices"][0]["delta"]["content"].as_str().filter(|p| !p.is_empty()) {
                first.get_or_insert_with(|| started.elapsed());
                text.push_str(piece);
            }
        }
    }
    panic!("the stream ended without [DONE]")
}

/// The host's streamed call to the first text delta (timed), then the
/// rest of the answer (not timed).
async fn first_token(ctx: &ModelCtx) -> Duration {
    let started = Instant::now();
    let request = ChatRequest {
        messages: vec![Message {
            role: Role::User,
            content: Some("hello".into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }],
        ..ChatRequest::default()
    };
    let mut stream = ctx.stream(request).await.expect("a streamed call");
    let first = stream.next().await.expect("the first delta");
    let elapsed = started.elapsed();
    assert!(matches!(&first, Some(Delta::Text(t)) if ANSWER.starts_with(t.as_str())), "{first:?}");
    loop {
        match stream.next().await.expect("the answer") {
            Some(Delta::Done(c)) => {
                assert_eq!(c.message.content.as_deref(), Some(ANSWER));
                return elapsed;
            }
            Some(_) => {}
            None => panic!("the answer ended without its final message"),
        }
    }
}
