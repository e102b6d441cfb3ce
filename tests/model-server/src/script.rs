//! The script: what each request must look like, and what it gets back.
//!
//! Request `n` to `/v1/chat/completions` consumes `steps[n]`, whatever
//! happens: a step whose [`Expect`] fails is spent on the 400 it causes, so
//! request and step numbers never drift apart.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The answers a server gives, one step per chat-completions request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// In the order requests consume them.
    pub steps: Vec<Step>,
}

impl Script {
    /// A script of `steps`.
    pub fn new(steps: impl IntoIterator<Item = Step>) -> Script {
        Script { steps: steps.into_iter().collect() }
    }

    /// Parses the JSON form (`{"steps": [...]}`, see the crate docs).
    ///
    /// # Errors
    /// If `text` is not a script; unknown fields are errors, so a typo
    /// does not silently drop a check.
    pub fn from_json(text: &str) -> anyhow::Result<Script> {
        serde_json::from_str(text).context("not a model-server script")
    }
}

/// One request's check and answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// What the request must carry; the default checks nothing.
    #[serde(default)]
    pub expect: Expect,
    /// What the server answers when the request passes.
    pub reply: Reply,
}

impl Step {
    /// A step that answers `reply` to any request.
    pub fn new(reply: Reply) -> Step {
        Step { expect: Expect::default(), reply }
    }

    /// The same step, answering only requests that meet `expect`.
    #[must_use]
    pub fn expecting(self, expect: Expect) -> Step {
        Step { expect, ..self }
    }
}

/// Checks on an incoming request. Every field is optional; a failed check
/// answers HTTP 400 with an OpenAI-style error saying what differed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Expect {
    /// The role of the last message (`"user"`, `"tool"`, ...).
    pub last_role: Option<String>,
    /// Substrings the last message's text must contain (its `content`
    /// string, or the `text` of its content parts joined).
    pub last_contains: Vec<String>,
    /// Tool names that must be among the request's `tools`.
    pub tools: Vec<String>,
    /// The request's `model` field.
    pub model: Option<String>,
}

impl Expect {
    /// `Ok` when `request` (a chat-completions body) passes every check,
    /// else the first failure as "expected ..., got ...".
    pub(crate) fn check(&self, request: &Value) -> Result<(), String> {
        if let Some(model) = &self.model
            && request["model"].as_str() != Some(model)
        {
            return Err(format!("expected model {model:?}, got {}", request["model"]));
        }
        let last = request["messages"].as_array().and_then(|messages| messages.last()).unwrap_or(&Value::Null);
        if let Some(role) = &self.last_role
            && last["role"].as_str() != Some(role)
        {
            return Err(format!("expected the last message's role {role:?}, got {}", last["role"]));
        }
        let text = message_text(last);
        if let Some(missing) = self.last_contains.iter().find(|needle| !text.contains(needle.as_str())) {
            return Err(format!("expected the last message to contain {missing:?}, got {text:?}"));
        }
        let offered: Vec<&str> = request["tools"]
            .as_array()
            .map(|tools| tools.iter().filter_map(|tool| tool["function"]["name"].as_str()).collect())
            .unwrap_or_default();
        if let Some(missing) = self.tools.iter().find(|tool| !offered.contains(&tool.as_str())) {
            return Err(format!("expected the tool {missing:?} to be offered, got {offered:?}"));
        }
        Ok(())
    }
}

/// A message's text: its `content` string, or its content parts' texts.
fn message_text(message: &Value) -> String {
    match &message["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts.iter().filter_map(|part| part["text"].as_str()).collect(),
        _ => String::new(),
    }
}

/// What a step answers. In JSON, externally tagged in snake case:
/// `{"message": {...}}`, `{"status": {...}}`, `{"body": {...}}`,
/// `{"stall": {...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Reply {
    /// An assistant message, as a `chat.completion` or, when the request
    /// asks to stream, as `chat.completion.chunk` events.
    Message {
        /// The text; `None` is sent as `null`.
        #[serde(default)]
        content: Option<String>,
        /// The tool calls; none are sent when empty.
        #[serde(default)]
        tool_calls: Vec<ToolCall>,
        /// Default: `"tool_calls"` when there are tool calls, else `"stop"`.
        #[serde(default)]
        finish_reason: Option<String>,
        /// Token counts; `None` leaves `usage` out of the answer entirely.
        #[serde(default)]
        usage: Option<Usage>,
    },
    /// An HTTP error, such as 429 or 500. Retrying clients get the next
    /// step on their next attempt.
    Status {
        /// The HTTP status.
        status: u16,
        /// The `Retry-After` header's value, if any (`"1"`).
        #[serde(default)]
        retry_after: Option<String>,
        /// The JSON body; empty means an OpenAI-style error naming the
        /// status.
        #[serde(default)]
        body: String,
    },
    /// Any response at all, for malformed provider answers.
    Body {
        /// The HTTP status.
        status: u16,
        /// The `Content-Type` header.
        content_type: String,
        /// The body, sent as is.
        body: String,
    },
    /// A provider that stops mid-answer: streamed, the role chunk and
    /// `chunks` content chunks, then nothing; not streamed, the headers,
    /// then nothing. The connection stays open until the client leaves or
    /// the server shuts down.
    Stall {
        /// Content chunks sent before the stream goes quiet.
        #[serde(default)]
        chunks: usize,
    },
}

impl Reply {
    /// A plain text answer without usage.
    pub fn text(content: impl Into<String>) -> Reply {
        Reply::Message { content: Some(content.into()), tool_calls: Vec::new(), finish_reason: None, usage: None }
    }

    /// An answer that calls `calls`, without text or usage.
    pub fn tool_calls(calls: impl IntoIterator<Item = ToolCall>) -> Reply {
        Reply::Message { content: None, tool_calls: calls.into_iter().collect(), finish_reason: None, usage: None }
    }

    /// HTTP `status` with the default error body and no `Retry-After`.
    pub fn status(status: u16) -> Reply {
        Reply::Status { status, retry_after: None, body: String::new() }
    }
}

/// A tool call in an assistant message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// The call's id (`"call_1"`).
    pub id: String,
    /// The function's name.
    pub name: String,
    /// The arguments as JSON text, sent exactly as written (it need not be
    /// valid JSON, to test how clients cope).
    pub arguments: String,
}

impl ToolCall {
    /// A call of `name` with `arguments` (JSON text).
    pub fn new(id: impl Into<String>, name: impl Into<String>, arguments: impl Into<String>) -> ToolCall {
        ToolCall { id: id.into(), name: name.into(), arguments: arguments.into() }
    }
}

/// Token counts; `total_tokens` is their sum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    /// Tokens in the request.
    pub prompt_tokens: u64,
    /// Tokens in the answer.
    pub completion_tokens: u64,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_json_form_parses_and_rejects_typos() {
        let script = Script::from_json(
            r#"{"steps": [
                {"expect": {"last_role": "user", "tools": ["read"]},
                 "reply": {"message": {"tool_calls": [{"id": "c1", "name": "read", "arguments": "{}"}]}}},
                {"reply": {"status": {"status": 429, "retry_after": "1"}}},
                {"reply": {"stall": {"chunks": 2}}}
            ]}"#,
        )
        .unwrap();
        assert_eq!(script.steps.len(), 3);
        assert_eq!(script.steps[0].expect.tools, ["read"]);
        assert_eq!(
            script.steps[1].reply,
            Reply::Status { status: 429, retry_after: Some("1".into()), body: String::new() }
        );
        let typo = Script::from_json(r#"{"steps": [{"reply": {"message": {"contents": "hi"}}}]}"#);
        assert!(typo.is_err());
        assert!(Script::from_json(r#"{"steps": [{"expect": {"role": "user"}, "reply": {"stall": {}}}]}"#).is_err());
    }

    #[test]
    fn the_crate_docs_example_parses() {
        let docs = include_str!("lib.rs");
        let start = docs.find("//! ```json\n").unwrap() + "//! ```json\n".len();
        let end = start + docs[start..].find("//! ```").unwrap();
        let json: String = docs[start..end].lines().map(|line| line.trim_start_matches("//!")).collect();
        assert_eq!(Script::from_json(&json).unwrap().steps.len(), 5);
    }

    #[test]
    fn expect_says_what_differed() {
        let request = json!({
            "model": "m",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hello "}, {"type": "text", "text": "there"}]},
            ],
            "tools": [{"type": "function", "function": {"name": "read"}}],
        });
        let pass = Expect {
            last_role: Some("user".into()),
            last_contains: vec!["hello there".into()],
            tools: vec!["read".into()],
            model: Some("m".into()),
        };
        assert_eq!(pass.check(&request), Ok(()));
        let role = Expect { last_role: Some("tool".into()), ..Expect::default() };
        assert_eq!(role.check(&request).unwrap_err(), r#"expected the last message's role "tool", got "user""#);
        let tool = Expect { tools: vec!["write".into()], ..Expect::default() };
        assert_eq!(tool.check(&request).unwrap_err(), r#"expected the tool "write" to be offered, got ["read"]"#);
        // Garbage is a failed check, not a panic.
        assert!(pass.check(&json!([1, 2])).is_err());
    }
}
