//! `openshell-test-model`: a scripted OpenAI-compatible Chat Completions
//! server over real HTTP/1.1, for tests and benchmarks of agents that call
//! models.
//!
//! Each `POST /v1/chat/completions` consumes the next [`Step`] of a
//! [`Script`]: the request is checked against the step's [`Expect`] (a
//! failure answers 400 with an OpenAI error body saying what differed, and
//! is recorded), then answered with its [`Reply`] in OpenAI's wire format —
//! a `chat.completion` object, or, for `"stream": true`, server-sent
//! `chat.completion.chunk` events with content and tool-call arguments cut
//! into awkward pieces, usage last, then `data: [DONE]`. Every request on
//! every route is recorded with its headers, so tests can check what a host
//! injected. The official `openai` Python package parses all of it
//! (`tests/python/openai_proof.py`).
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use openshell_test_model::{Expect, ModelServer, Reply, Script, Step, ToolCall};
//!
//! let script = Script::new([
//!     Step::new(Reply::tool_calls([ToolCall::new("call_1", "read_file", r#"{"path":"a.txt"}"#)]))
//!         .expecting(Expect { tools: vec!["read_file".into()], ..Expect::default() }),
//!     Step::new(Reply::status(429)),
//!     Step::new(Reply::text("The file says hello.")),
//! ]);
//! let server = ModelServer::start(script).await?;
//! // ... point an agent at server.base_url() ("http://127.0.0.1:PORT/v1") ...
//! let first = &server.requests()[0];
//! assert_eq!(first.header("authorization"), Some("Bearer the-host-secret"));
//! assert_eq!(server.unused_steps(), 0);
//! # Ok(()) }
//! ```
//!
//! # Script files
//!
//! The binary reads the same script as JSON; every field of `expect` is
//! optional, and unknown fields are errors:
//!
//! ```json
//! {"steps": [
//!   {"expect": {"last_role": "user", "last_contains": ["weather"], "tools": ["get_weather"], "model": "m"},
//!    "reply": {"message": {
//!      "tool_calls": [{"id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Zürich\"}"}],
//!      "usage": {"prompt_tokens": 20, "completion_tokens": 7}}}},
//!   {"reply": {"status": {"status": 429, "retry_after": "1"}}},
//!   {"expect": {"last_role": "tool"}, "reply": {"message": {"content": "Sunny.", "finish_reason": "stop"}}},
//!   {"reply": {"body": {"status": 200, "content_type": "application/json", "body": "{\"choices\": 7}"}}},
//!   {"reply": {"stall": {"chunks": 2}}}
//! ]}
//! ```
//!
//! # Routes
//!
//! - `POST /v1/chat/completions`: the script, as above. A request after the
//!   last step gets 400 "script exhausted".
//! - `GET /v1/models`: one model, [`Options::model`].
//! - `GET /bytes/N`: N bytes of `a`, with a `Content-Length`, streamed.
//! - `POST /echo-size`: the request body's length, as text.
//! - `GET /redirect?to=URL`: 302 to URL.
//! - `GET /headers`: the request's headers as a JSON object, as an echo
//!   endpoint would reveal whatever a proxy added.
//! - Anything else: 404.
//!
//! The last four ignore the script, for `wasi:http` benchmarks and limit
//! tests.
//!
//! # Layout
//!
//! - `script`: [`Script`], [`Step`], [`Expect`] (and its check), [`Reply`].
//! - `wire`: the OpenAI JSON and SSE framing, and how streams are cut.
//! - `server`: [`ModelServer`], [`Options`], [`ServerHandle`], the records.
//! - `routes`: one function per route.

#![deny(missing_docs)]

mod routes;
mod script;
mod server;
mod wire;

#[cfg(test)]
mod tests;

pub use script::{Expect, Reply, Script, Step, ToolCall, Usage};
pub use server::{ModelServer, Options, RecordedRequest, ServerHandle};
