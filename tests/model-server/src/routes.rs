//! Routing and answers: the scripted chat completions, plus the routes that
//! work without a script (model list, raw bytes, body sizes, redirects,
//! header echo).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::{self, BoxStream};
use http::{HeaderMap, Method, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Empty, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming, SizeHint};
use serde_json::{Value, json};

use crate::script::Reply;
use crate::server::{Options, RecordedRequest, Shared};
use crate::wire::{self, Answer, Message};

/// Every response body.
type Body = UnsyncBoxBody<Bytes, Infallible>;

/// The largest chat-completions body read; a bigger one is refused (413)
/// rather than buffered. Large bodies belong on `/echo-size`.
const MAX_CHAT_BODY: usize = 32 * 1024 * 1024;

/// `/bytes/N` sends this buffer over and over.
static LETTERS: [u8; 64 * 1024] = [b'a'; 64 * 1024];

/// Answers one request on any route.
pub(crate) async fn handle(shared: &Shared, request: http::Request<Incoming>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path_and_query().map_or_else(|| parts.uri.path().to_string(), ToString::to_string),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect(),
        body: None,
        step: None,
        stream: false,
        mismatch: None,
    };
    let path = parts.uri.path();
    if parts.method == Method::POST && path == "/v1/chat/completions" {
        return chat(shared, recorded, body).await;
    }
    shared.record(recorded);
    match (&parts.method, path) {
        (&Method::GET, "/v1/models") => {
            let model =
                json!({"id": shared.options.model, "object": "model", "created": now(), "owned_by": "openshell"});
            json_response(StatusCode::OK, json!({"object": "list", "data": [model]}).to_string())
        }
        (&Method::GET, "/headers") => json_response(StatusCode::OK, headers_json(&parts.headers).to_string()),
        (&Method::GET, "/redirect") => redirect(parts.uri.query().unwrap_or("")),
        (&Method::POST, "/echo-size") => echo_size(body).await,
        (&Method::GET, _) if path.starts_with("/bytes/") => match path["/bytes/".len()..].parse::<u64>() {
            Ok(size) => build(StatusCode::OK, &[("content-type", "application/octet-stream")], Repeat { left: size }),
            Err(_) => text(StatusCode::BAD_REQUEST, "GET /bytes/N takes a byte count".to_string()),
        },
        _ => error_response(StatusCode::NOT_FOUND, &format!("no route for {} {path}", parts.method)),
    }
}

/// `POST /v1/chat/completions`: consume a step and answer it.
async fn chat(shared: &Shared, mut recorded: RecordedRequest, body: Incoming) -> Response<Body> {
    let Ok(collected) = Limited::new(body, MAX_CHAT_BODY).collect().await else {
        recorded.mismatch = Some(format!("the request body is unreadable or over {MAX_CHAT_BODY} bytes"));
        shared.record(recorded);
        return error_response(StatusCode::PAYLOAD_TOO_LARGE, "the request body is unreadable or too large");
    };
    let body: Option<Value> = serde_json::from_slice(&collected.to_bytes()).ok().filter(Value::is_object);
    let stream = body.as_ref().is_some_and(|body| body["stream"] == true);
    let model = body.as_ref().and_then(|body| body["model"].as_str()).unwrap_or(&shared.options.model).to_string();
    recorded.body = body;
    recorded.stream = stream;
    let taken = shared.take_step(recorded);
    let index = match taken.step {
        Ok(index) => index,
        Err(why) => return error_response(StatusCode::BAD_REQUEST, &why),
    };
    let answer = Answer { id: format!("chatcmpl-openshell-{}", taken.serial), created: now(), model: &model };
    match &shared.steps[index].reply {
        Reply::Message { content, tool_calls, finish_reason, usage } => {
            let message = Message {
                content: content.as_deref(),
                tool_calls,
                finish_reason: finish_reason.as_deref(),
                usage: *usage,
            };
            if stream {
                sse(&wire::chunks(&answer, &message), &shared.options, false)
            } else {
                json_response(StatusCode::OK, wire::completion(&answer, &message).to_string())
            }
        }
        Reply::Status { status, retry_after, body } => {
            let Ok(status) = StatusCode::from_u16(*status) else {
                return error_response(StatusCode::INTERNAL_SERVER_ERROR, &format!("script step {index}: bad status"));
            };
            let body = if body.is_empty() {
                wire::error(&format!("scripted status {}", status.as_u16()), error_kind(status))
            } else {
                body.clone()
            };
            let mut headers = vec![("content-type", "application/json")];
            if let Some(after) = retry_after {
                headers.push(("retry-after", after));
            }
            build(status, &headers, Full::new(Bytes::from(body)))
        }
        Reply::Body { status, content_type, body } => match StatusCode::from_u16(*status) {
            Ok(status) => build(status, &[("content-type", content_type)], Full::new(Bytes::from(body.clone()))),
            Err(_) => error_response(StatusCode::INTERNAL_SERVER_ERROR, &format!("script step {index}: bad status")),
        },
        Reply::Stall { chunks } if stream => sse(&wire::stalled_chunks(&answer, *chunks), &shared.options, true),
        Reply::Stall { .. } => build(
            StatusCode::OK,
            &[("content-type", "application/json")],
            StreamBody::new(stream::pending::<Result<Frame<Bytes>, Infallible>>()),
        ),
    }
}

/// The events as an SSE response: each is one write, preceded by a
/// keep-alive comment when the options ask, and `data: [DONE]` follows
/// them unless the stream `stalls` (then it stays open, silent).
fn sse(events: &[Value], options: &Options, stalls: bool) -> Response<Body> {
    let (crlf, delay) = (options.crlf, options.chunk_delay);
    let mut data: Vec<String> = events.iter().map(Value::to_string).collect();
    if !stalls {
        data.push("[DONE]".to_string());
    }
    // (pause first?, bytes): a comment right after the previous event, then
    // the pause, then the next event, as a proxy keeping a slow stream alive.
    let mut writes = Vec::new();
    for (n, data) in data.iter().enumerate() {
        if options.keepalive_comments {
            writes.push((false, Bytes::from_static(wire::keepalive(crlf).as_bytes())));
        }
        writes.push((n > 0, Bytes::from(wire::event(data, crlf))));
    }
    let tail: BoxStream<'static, Bytes> = if stalls { stream::pending().boxed() } else { stream::empty().boxed() };
    let frames = stream::iter(writes)
        .then(move |(pause, bytes)| pause_then(pause, delay, bytes))
        .chain(tail)
        .map(|bytes| Ok::<_, Infallible>(Frame::data(bytes)));
    build(
        StatusCode::OK,
        &[("content-type", "text/event-stream"), ("cache-control", "no-cache")],
        StreamBody::new(frames),
    )
}

async fn pause_then(pause: bool, delay: Duration, bytes: Bytes) -> Bytes {
    if pause && !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    bytes
}

/// `POST /echo-size`: the body's length in bytes, as text, without
/// keeping the body.
async fn echo_size(mut body: Incoming) -> Response<Body> {
    let mut size: u64 = 0;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => size += frame.data_ref().map_or(0, |data| data.len() as u64),
            Err(_) => return text(StatusCode::BAD_REQUEST, "the request body could not be read".to_string()),
        }
    }
    text(StatusCode::OK, size.to_string())
}

/// `GET /redirect?to=URL`: 302 to the (percent-decoded) URL.
fn redirect(query: &str) -> Response<Body> {
    let target = query.split('&').find_map(|pair| pair.strip_prefix("to=")).map(percent_decode);
    match target {
        Some(target) => build(StatusCode::FOUND, &[("location", &target)], Empty::new()),
        None => text(StatusCode::BAD_REQUEST, "GET /redirect takes ?to=URL".to_string()),
    }
}

/// The request headers as a JSON object; repeated names join with ", ".
fn headers_json(headers: &HeaderMap) -> Value {
    let mut object = serde_json::Map::new();
    for name in headers.keys() {
        let values: Vec<String> =
            headers.get_all(name).iter().map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned()).collect();
        object.insert(name.as_str().to_string(), Value::String(values.join(", ")));
    }
    Value::Object(object)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// OpenAI's error `type` for a status.
fn error_kind(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 404 | 413 | 422 => "invalid_request_error",
        401 | 403 => "authentication_error",
        429 => "rate_limit_exceeded",
        _ => "server_error",
    }
}

fn error_response(status: StatusCode, message: &str) -> Response<Body> {
    json_response(status, wire::error(message, error_kind(status)))
}

fn json_response(status: StatusCode, body: String) -> Response<Body> {
    build(status, &[("content-type", "application/json")], Full::new(Bytes::from(body)))
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    build(status, &[("content-type", "text/plain")], Full::new(Bytes::from(body)))
}

/// A response; headers the script made invalid turn it into a 500 that
/// says so.
fn build<B>(status: StatusCode, headers: &[(&str, &str)], body: B) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes, Error = Infallible> + Send + 'static,
{
    let mut response = Response::builder().status(status);
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response.body(body.boxed_unsync()).unwrap_or_else(|e| {
        let body = Full::new(Bytes::from(wire::error(
            &format!("the script's response is not valid HTTP: {e}"),
            "server_error",
        )));
        let mut response = Response::new(body.boxed_unsync());
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        response.headers_mut().insert(header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        response
    })
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

/// `size` bytes of `a`, with an exact length, made without allocating.
#[derive(Debug)]
struct Repeat {
    left: u64,
}

impl hyper::body::Body for Repeat {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let n = usize::try_from(self.left).unwrap_or(usize::MAX).min(LETTERS.len());
        if n == 0 {
            return Poll::Ready(None);
        }
        self.left -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&LETTERS[..n])))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}
