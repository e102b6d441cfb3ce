//! OpenAI's Chat Completions wire format: the `chat.completion` object,
//! the `chat.completion.chunk` events of a stream, and error bodies.
//!
//! Fields the `openai` packages always see from the real service are sent
//! too, even where they are `null` (`refusal`, `logprobs`, and `usage` on
//! every chunk of a stream that reports usage), so clients are tested
//! against what they will really meet.

use serde_json::{Value, json};

use crate::script::{ToolCall, Usage};

/// Byte lengths that tool-call arguments are cut into, in turn (moved to
/// the next character boundary). Uneven on purpose: the pieces end inside
/// keys, strings, numbers and escapes.
const ARGUMENT_PIECES: [usize; 7] = [1, 4, 2, 7, 3, 5, 6];

/// Byte lengths that streamed content is cut into, in turn.
const CONTENT_PIECES: [usize; 5] = [3, 8, 1, 5, 12];

/// What every completion and chunk of one answer shares.
#[derive(Debug)]
pub(crate) struct Answer<'a> {
    pub id: String,
    pub created: u64,
    pub model: &'a str,
}

/// One assistant message, as the script says.
#[derive(Debug)]
pub(crate) struct Message<'a> {
    pub content: Option<&'a str>,
    pub tool_calls: &'a [ToolCall],
    pub finish_reason: Option<&'a str>,
    pub usage: Option<Usage>,
}

impl Message<'_> {
    fn finish_reason(&self) -> &str {
        match self.finish_reason {
            Some(reason) => reason,
            None if self.tool_calls.is_empty() => "stop",
            None => "tool_calls",
        }
    }
}

/// The whole answer as one `chat.completion` object.
pub(crate) fn completion(answer: &Answer<'_>, message: &Message<'_>) -> Value {
    let mut body = json!({"role": "assistant", "content": message.content, "refusal": null});
    if !message.tool_calls.is_empty() {
        let calls: Vec<Value> = message
            .tool_calls
            .iter()
            .map(|call| {
                let function = json!({"name": call.name, "arguments": call.arguments});
                json!({"id": call.id, "type": "function", "function": function})
            })
            .collect();
        body["tool_calls"] = Value::Array(calls);
    }
    let mut completion = json!({
        "id": answer.id,
        "object": "chat.completion",
        "created": answer.created,
        "model": answer.model,
        "system_fingerprint": "fp_openshell",
        "choices": [{"index": 0, "message": body, "logprobs": null, "finish_reason": message.finish_reason()}],
    });
    if let Some(usage) = message.usage {
        completion["usage"] = usage_json(usage);
    }
    completion
}

/// The answer as the data of successive stream events: the role, the
/// content in small pieces, each tool call (its first fragment with id,
/// type and name, then its arguments 1 to 7 bytes at a time), the finish
/// reason, and the usage when the script has some. `[DONE]` is not among
/// them.
pub(crate) fn chunks(answer: &Answer<'_>, message: &Message<'_>) -> Vec<Value> {
    let with_usage = message.usage.is_some();
    let chunk = |delta: Value, finish_reason: Option<&str>| {
        let mut chunk = json!({
            "id": answer.id,
            "object": "chat.completion.chunk",
            "created": answer.created,
            "model": answer.model,
            "system_fingerprint": "fp_openshell",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
        });
        if with_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    };
    let mut chunks = vec![chunk(json!({"role": "assistant", "content": "", "refusal": null}), None)];
    for piece in split(message.content.unwrap_or(""), &CONTENT_PIECES) {
        chunks.push(chunk(json!({"content": piece}), None));
    }
    for (index, call) in message.tool_calls.iter().enumerate() {
        let mut pieces = split(&call.arguments, &ARGUMENT_PIECES).into_iter();
        // Even calls start with empty arguments, odd ones with a piece:
        // providers do both.
        let first = if index % 2 == 0 { "" } else { pieces.next().unwrap_or("") };
        let function = json!({"name": call.name, "arguments": first});
        let head = json!({"index": index, "id": call.id, "type": "function", "function": function});
        chunks.push(chunk(json!({"tool_calls": [head]}), None));
        for piece in pieces {
            chunks.push(chunk(json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}), None));
        }
    }
    chunks.push(chunk(json!({}), Some(message.finish_reason())));
    if let Some(usage) = message.usage {
        let mut last = chunk(Value::Null, None);
        last["choices"] = json!([]);
        last["usage"] = usage_json(usage);
        chunks.push(last);
    }
    chunks
}

/// The role chunk and `count` content chunks of an answer that never ends.
pub(crate) fn stalled_chunks(answer: &Answer<'_>, count: usize) -> Vec<Value> {
    let message = Message { content: None, tool_calls: &[], finish_reason: None, usage: None };
    let mut stalled = chunks(answer, &message);
    stalled.truncate(1);
    for n in 0..count {
        let mut chunk = stalled[0].clone();
        chunk["choices"][0]["delta"] = json!({"content": format!("part {n} ")});
        stalled.push(chunk);
    }
    stalled
}

/// One `data:` event; `crlf` ends its lines in CR LF.
pub(crate) fn event(data: &str, crlf: bool) -> String {
    if crlf { format!("data: {data}\r\n\r\n") } else { format!("data: {data}\n\n") }
}

/// A comment line that SSE clients skip, as proxies send to keep a quiet
/// connection open.
pub(crate) fn keepalive(crlf: bool) -> &'static str {
    if crlf { ": keep-alive\r\n\r\n" } else { ": keep-alive\n\n" }
}

/// OpenAI's error body.
pub(crate) fn error(message: &str, kind: &str) -> String {
    json!({"error": {"message": message, "type": kind, "param": null, "code": null}}).to_string()
}

fn usage_json(usage: Usage) -> Value {
    json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens.saturating_add(usage.completion_tokens),
    })
}

/// Cuts `text` into pieces of `sizes[0]`, `sizes[1]`, ... bytes (cycling),
/// each stretched to a character boundary, and always ends a piece right
/// after a backslash so that escape sequences are cut in two.
fn split<'a>(text: &'a str, sizes: &[usize]) -> Vec<&'a str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for &size in sizes.iter().cycle() {
        if start >= text.len() {
            break;
        }
        let mut end = (start + size.max(1)).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        if let Some(slash) = text[start..end].find('\\') {
            end = start + slash + 1;
        }
        pieces.push(&text[start..end]);
        start = end;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_cuts_escapes_and_keeps_characters_whole() {
        let text = r#"{"path":"naïve \"名前\".txt","n":[1,2]}"#;
        let pieces = split(text, &ARGUMENT_PIECES);
        assert_eq!(pieces.concat(), text);
        assert!(pieces.iter().all(|p| !p.is_empty() && p.len() <= 7 + 2), "{pieces:?}");
        // Every backslash ends a piece, so its escaped character starts the next.
        assert!(pieces.iter().filter(|p| p.contains('\\')).all(|p| p.ends_with('\\')), "{pieces:?}");
        assert!(pieces.iter().any(|p| p.ends_with('\\')));
        assert!(split("", &ARGUMENT_PIECES).is_empty());
    }

    #[test]
    fn chunks_carry_usage_last_and_null_before() {
        let answer = Answer { id: "chatcmpl-1".into(), created: 1, model: "m" };
        let calls = [ToolCall::new("c0", "a", r#"{"x":1}"#), ToolCall::new("c1", "b", r#"{"y":"\u00e9"}"#)];
        let message = Message {
            content: Some("hello"),
            tool_calls: &calls,
            finish_reason: None,
            usage: Some(Usage { prompt_tokens: 3, completion_tokens: 4 }),
        };
        let chunks = chunks(&answer, &message);
        let last = chunks.last().unwrap();
        assert_eq!(last["choices"], json!([]));
        assert_eq!(last["usage"]["total_tokens"], 7);
        assert!(chunks[..chunks.len() - 1].iter().all(|c| c["usage"].is_null()));
        let finish = &chunks[chunks.len() - 2]["choices"][0];
        assert_eq!((&finish["delta"], &finish["finish_reason"]), (&json!({}), &json!("tool_calls")));
        let heads: Vec<&Value> =
            chunks.iter().filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0].get("id")).collect();
        assert_eq!(heads, [&json!("c0"), &json!("c1")]);
    }
}
