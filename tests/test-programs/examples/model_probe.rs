//! Calls the host's `model` interface as its input says (a JSON array of
//! `{"stream", "model", "user", "tools", "max_tokens", "extra"}`) and
//! returns, per call, the completion (and for streamed calls what the
//! deltas added up to), or the error; then the aliases and what is left of
//! the budget.
use openshell_sandbox_guest::bindings::openshell::sandbox::model::{
    self, Completion, Delta, FinishReason, Message, Request, Role, Tool,
};
use openshell_sandbox_guest::{Guest, export};
use serde_json::{Value, json};

struct Probe;

fn completion(c: &Completion) -> Value {
    let finish = match &c.finish_reason {
        FinishReason::Stop => "stop".to_string(),
        FinishReason::Length => "length".to_string(),
        FinishReason::ToolCalls => "tool-calls".to_string(),
        FinishReason::ContentFilter => "content-filter".to_string(),
        FinishReason::Other(s) => format!("other:{s}"),
    };
    json!({
        "content": c.message.content,
        "tool_calls": c.message.tool_calls.iter().map(|t| json!([t.id, t.name, t.arguments])).collect::<Vec<_>>(),
        "finish": finish,
        "usage": [c.usage.prompt_tokens, c.usage.completion_tokens, c.usage.estimated],
        "model": c.model,
    })
}

fn error(e: &openshell_sandbox_guest::bindings::openshell::sandbox::types::Error) -> Value {
    json!({ "error": test_programs::code(&openshell_sandbox_guest::Error::from(e.clone())), "message": e.message })
}

fn call(spec: &Value) -> Value {
    let tools = spec["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| Tool {
            name: t["name"].as_str().unwrap_or_default().into(),
            description: t["description"].as_str().unwrap_or_default().into(),
            parameters: t["parameters"].to_string(),
        })
        .collect();
    let request = Request {
        model: spec["model"].as_str().unwrap_or_default().into(),
        messages: vec![Message {
            role: Role::User,
            content: Some(spec["user"].as_str().unwrap_or("hello").into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }],
        tools,
        tool_choice: None,
        temperature: spec["temperature"].as_f64().map(|t| t as f32),
        max_tokens: spec["max_tokens"].as_u64().map(|n| n as u32),
        stop: Vec::new(),
        extra: spec.get("extra").map(Value::to_string),
    };
    if !spec["stream"].as_bool().unwrap_or(false) {
        return match model::complete(&request) {
            Ok(c) => completion(&c),
            Err(e) => error(&e),
        };
    }
    let stream = match model::complete_streaming(&request) {
        Ok(s) => s,
        Err(e) => return error(&e),
    };
    let (mut text, mut args, mut pieces) = (String::new(), Vec::<String>::new(), 0u32);
    loop {
        match stream.next() {
            Ok(Some(Delta::Text(t))) => {
                pieces += 1;
                text.push_str(&t);
            }
            Ok(Some(Delta::ToolCall(c))) => {
                pieces += 1;
                let i = c.index as usize;
                if args.len() <= i {
                    args.resize(i + 1, String::new());
                }
                args[i].push_str(&c.arguments);
            }
            Ok(Some(Delta::Done(c))) => {
                let mut v = completion(&c);
                v["streamed_text"] = json!(text);
                v["streamed_args"] = json!(args);
                v["pieces"] = json!(pieces);
                // After `done` the stream is over.
                v["after_done"] = json!(matches!(stream.next(), Ok(None)));
                return v;
            }
            Ok(None) => return json!({ "error": "ended without done" }),
            Err(e) => {
                let mut v = error(&e);
                v["pieces"] = json!(pieces);
                return v;
            }
        }
    }
}

impl Guest for Probe {
    fn run(input: String) -> Result<String, String> {
        let specs: Value = serde_json::from_str(&input).map_err(|e| format!("input: {e}"))?;
        let calls: Vec<Value> = specs.as_array().ok_or("input: a JSON array")?.iter().map(call).collect();
        let left = model::remaining();
        Ok(json!({
            "calls": calls,
            "aliases": model::aliases(),
            "remaining": [left.requests, left.tokens],
        })
        .to_string())
    }
}

export!(Probe);
