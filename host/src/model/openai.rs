//! The OpenAI Chat Completions wire format: the request body, a whole
//! answer, and streamed chunks assembled into the same answer.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{ChatRequest, Completion, Delta, FinishReason, Message, Role, ToolCall, ToolCallDelta, ToolChoice, Usage};

/// Members the host sets itself; `extra` cannot override them.
/// (`max_completion_tokens` and `n` too: they would let a call spend past
/// the token budget the host lowers `max_tokens` to.)
const RESERVED: &[&str] = &[
    "model",
    "messages",
    "tools",
    "tool_choice",
    "stream",
    "stream_options",
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "stop",
];

/// The request body for `model` (the provider's name). `max_tokens` is
/// the guest's, already lowered to what the budget leaves.
pub(crate) fn request_body(
    req: &ChatRequest,
    model: &str,
    max_tokens: Option<u32>,
    stream: bool,
) -> Result<Vec<u8>, String> {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(req.messages.iter().map(message_json).collect()));
    if !req.tools.is_empty() {
        let mut tools = Vec::new();
        for t in &req.tools {
            let parameters: Value = serde_json::from_str(&t.parameters)
                .map_err(|e| format!("the parameters of tool `{}` are not JSON: {e}", t.name))?;
            if !parameters.is_object() {
                return Err(format!("the parameters of tool `{}` must be a JSON Schema object", t.name));
            }
            tools.push(json!({"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": parameters}}));
        }
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &req.tool_choice {
        let v = match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Named(name) => json!({"type": "function", "function": {"name": name}}),
        };
        body.insert("tool_choice".into(), v);
    }
    if let Some(t) = req.temperature {
        if !t.is_finite() {
            return Err("temperature must be a finite number".into());
        }
        body.insert("temperature".into(), json!(t));
    }
    if let Some(n) = max_tokens {
        body.insert("max_tokens".into(), json!(n));
    }
    if !req.stop.is_empty() {
        body.insert("stop".into(), json!(req.stop));
    }
    if stream {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(extra) = &req.extra {
        let Ok(Value::Object(extra)) = serde_json::from_str::<Value>(extra) else {
            return Err("`extra` must be a JSON object".into());
        };
        for (k, v) in extra {
            if RESERVED.contains(&k.as_str()) {
                return Err(format!("`extra` cannot set `{k}`; use the request's own field"));
            }
            body.insert(k, v);
        }
    }
    serde_json::to_vec(&Value::Object(body)).map_err(|e| e.to_string())
}

fn message_json(m: &Message) -> Value {
    let role = match m.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let mut v = Map::new();
    v.insert("role".into(), json!(role));
    v.insert("content".into(), m.content.as_ref().map_or(Value::Null, |c| json!(c)));
    if !m.tool_calls.is_empty() {
        let calls: Vec<Value> = m
            .tool_calls
            .iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
            .collect();
        v.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(id) = &m.tool_call_id {
        v.insert("tool_call_id".into(), json!(id));
    }
    Value::Object(v)
}

fn finish_reason(s: Option<&str>) -> FinishReason {
    match s {
        Some("stop") | None => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some("tool_calls") | Some("function_call") => FinishReason::ToolCalls,
        Some("content_filter") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_string()),
    }
}

fn usage(v: &Value) -> Option<Usage> {
    let u = v.get("usage")?.as_object()?;
    let n = |k: &str| u.get(k).and_then(Value::as_u64).map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    Some(Usage {
        prompt_tokens: n("prompt_tokens")?,
        completion_tokens: n("completion_tokens").unwrap_or(0),
        estimated: false,
    })
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A whole (non-streamed) answer. `None` usage means the provider sent
/// none; the caller estimates it.
pub(crate) fn parse_completion(body: &[u8]) -> Result<(Completion, bool), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let choice =
        v.get("choices").and_then(Value::as_array).and_then(|c| c.first()).ok_or("the answer has no `choices`")?;
    let m = choice.get("message").ok_or("the answer's choice has no `message`")?;
    let mut tool_calls = Vec::new();
    for c in m.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
        let f = c.get("function").ok_or("a tool call has no `function`")?;
        tool_calls.push(ToolCall {
            id: str_of(c, "id").unwrap_or_default().to_string(),
            name: str_of(f, "name").ok_or("a tool call has no name")?.to_string(),
            arguments: str_of(f, "arguments").unwrap_or("{}").to_string(),
        });
    }
    let message = Message {
        role: Role::Assistant,
        content: str_of(m, "content").map(str::to_string),
        tool_calls,
        tool_call_id: None,
    };
    let u = usage(&v);
    let completion = Completion {
        message,
        finish_reason: finish_reason(str_of(choice, "finish_reason")),
        usage: u.unwrap_or_default(),
        model: str_of(&v, "model").unwrap_or_default().to_string(),
    };
    Ok((completion, u.is_some()))
}

/// Puts a streamed answer together from its chunks.
#[derive(Debug, Default)]
pub(crate) struct Assembler {
    content: Option<String>,
    calls: BTreeMap<u32, ToolCall>,
    finish: Option<String>,
    usage: Option<Usage>,
    model: String,
}

impl Assembler {
    /// One chunk's JSON text; returns the deltas it carries.
    pub(crate) fn chunk(&mut self, data: &str) -> Result<Vec<Delta>, String> {
        let v: Value = serde_json::from_str(data).map_err(|e| format!("a streamed chunk is not JSON: {e}"))?;
        if let Some(e) = v.get("error") {
            let msg = str_of(e, "message").unwrap_or("the provider reported an error mid-stream");
            return Err(msg.to_string());
        }
        if let Some(m) = str_of(&v, "model") {
            self.model = m.to_string();
        }
        if let Some(u) = usage(&v) {
            self.usage = Some(u);
        }
        let mut out = Vec::new();
        let Some(choice) = v.get("choices").and_then(Value::as_array).and_then(|c| c.first()) else {
            return Ok(out);
        };
        if let Some(r) = str_of(choice, "finish_reason") {
            self.finish = Some(r.to_string());
        }
        let Some(delta) = choice.get("delta") else { return Ok(out) };
        if let Some(text) = str_of(delta, "content")
            && !text.is_empty()
        {
            self.content.get_or_insert_with(String::new).push_str(text);
            out.push(Delta::Text(text.to_string()));
        }
        for c in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
            let index = c.get("index").and_then(Value::as_u64).map_or(0, |i| u32::try_from(i).unwrap_or(u32::MAX));
            let f = c.get("function");
            let id = str_of(c, "id").map(str::to_string);
            let name = f.and_then(|f| str_of(f, "name")).map(str::to_string);
            let args = f.and_then(|f| str_of(f, "arguments")).unwrap_or_default().to_string();
            let call = self.calls.entry(index).or_default();
            if let Some(id) = &id {
                call.id = id.clone();
            }
            if let Some(name) = &name {
                call.name.push_str(name);
            }
            call.arguments.push_str(&args);
            out.push(Delta::ToolCall(ToolCallDelta { index, id, name, arguments: args }));
        }
        Ok(out)
    }

    /// The whole answer, and whether the provider sent usage.
    pub(crate) fn finish(self) -> (Completion, bool) {
        let message = Message {
            role: Role::Assistant,
            content: self.content,
            tool_calls: self.calls.into_values().collect(),
            tool_call_id: None,
        };
        let completion = Completion {
            message,
            finish_reason: finish_reason(self.finish.as_deref()),
            usage: self.usage.unwrap_or_default(),
            model: self.model,
        };
        (completion, self.usage.is_some())
    }
}

/// About four bytes per token, when the provider reports no usage.
pub(crate) fn estimate(prompt_bytes: usize, completion: &Completion) -> Usage {
    let answer: usize = completion.message.content.as_deref().map_or(0, str::len)
        + completion.message.tool_calls.iter().map(|c| c.name.len() + c.arguments.len()).sum::<usize>();
    let tokens = |bytes: usize| u32::try_from(bytes.div_ceil(4)).unwrap_or(u32::MAX);
    Usage { prompt_tokens: tokens(prompt_bytes), completion_tokens: tokens(answer).max(1), estimated: true }
}

/// The provider's own message from an error body, if it has one.
pub(crate) fn error_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let msg = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| str_of(e, "message").or_else(|| e.as_str())).map(str::to_string))
        .unwrap_or_else(|| text.trim().to_string());
    if msg.is_empty() { "(no message)".into() } else { msg }
}

/// `text` cut to `max` characters, for messages from providers (after any
/// redaction, so a cut cannot leave part of a secret unredacted).
pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_everything() {
        let req = ChatRequest {
            model: "alias".into(),
            messages: vec![
                Message { role: Role::User, content: Some("hi".into()), tool_calls: vec![], tool_call_id: None },
                Message {
                    role: Role::Assistant,
                    content: None,
                    tool_calls: vec![ToolCall { id: "c1".into(), name: "ls".into(), arguments: "{}".into() }],
                    tool_call_id: None,
                },
                Message {
                    role: Role::Tool,
                    content: Some("a\nb".into()),
                    tool_calls: vec![],
                    tool_call_id: Some("c1".into()),
                },
            ],
            tools: vec![super::super::Tool {
                name: "ls".into(),
                description: "list".into(),
                parameters: r#"{"type":"object"}"#.into(),
            }],
            tool_choice: Some(ToolChoice::Named("ls".into())),
            temperature: Some(0.5),
            max_tokens: None,
            stop: vec![],
            extra: Some(r#"{"top_p":0.9}"#.into()),
        };
        let v: Value = serde_json::from_slice(&request_body(&req, "gpt-x", Some(10), true).unwrap()).unwrap();
        assert_eq!(v["model"], "gpt-x");
        assert_eq!(v["messages"][1]["tool_calls"][0]["function"]["name"], "ls");
        assert_eq!(v["messages"][1]["content"], Value::Null);
        assert_eq!(v["messages"][2]["tool_call_id"], "c1");
        assert_eq!(v["tools"][0]["function"]["parameters"]["type"], "object");
        assert_eq!(v["tool_choice"]["function"]["name"], "ls");
        assert_eq!(v["max_tokens"], 10);
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert_eq!(v["top_p"], 0.9);

        let bad = ChatRequest { extra: Some(r#"{"model":"other"}"#.into()), ..req.clone() };
        assert!(request_body(&bad, "m", None, false).unwrap_err().contains("cannot set `model`"));
        let mut bad = req;
        bad.tools[0].parameters = "not json".into();
        assert!(request_body(&bad, "m", None, false).is_err());
    }

    #[test]
    fn streamed_and_whole_answers_agree() {
        let whole = br#"{"model":"m1","choices":[{"message":{"role":"assistant","content":null,
            "tool_calls":[{"id":"c1","type":"function","function":{"name":"run","arguments":"{\"x\":\"\\u00e9\"}"}}]},
            "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}"#;
        let (a, has_usage) = parse_completion(whole).unwrap();
        assert!(has_usage);
        let mut asm = Assembler::default();
        for chunk in [
            r#"{"model":"m1","choices":[{"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"run","arguments":""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":\"\\u00"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"e9\"}"}}]}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}"#,
        ] {
            asm.chunk(chunk).unwrap();
        }
        let (b, has_usage) = asm.finish();
        assert!(has_usage);
        assert_eq!(a, b);
        assert_eq!(b.message.tool_calls[0].arguments, "{\"x\":\"\\u00e9\"}");
    }

    #[test]
    fn errors_are_read() {
        assert_eq!(error_message(br#"{"error":{"message":"bad key","type":"x"}}"#), "bad key");
        assert_eq!(error_message(b"plain text\n"), "plain text");
        assert!(Assembler::default().chunk(r#"{"error":{"message":"overloaded"}}"#).is_err());
        assert!(parse_completion(b"{}").is_err());
    }
}
