//! `model`: completions through the host, whole or streamed. The work is
//! in [`crate::model`]; this module converts between its types and the
//! generated WIT types.

use wasmtime::component::Resource;

use super::bindings::openshell::sandbox::model as wit;
use super::{CallResult, SandboxCtxView};
use crate::model::{self as m, CompletionStream};

/// A guest's handle to a streamed answer.
#[derive(Debug)]
pub struct ModelStreamHandle(CompletionStream);

impl wit::Host for SandboxCtxView<'_> {
    async fn aliases(&mut self) -> wasmtime::Result<Vec<String>> {
        Ok(self.ctx.model.aliases())
    }

    async fn remaining(&mut self) -> wasmtime::Result<wit::Budget> {
        let b = self.ctx.model.remaining();
        Ok(wit::Budget { requests: b.requests, tokens: b.tokens, time_ms: b.time_ms })
    }

    async fn complete(&mut self, request: wit::Request) -> CallResult<wit::Completion> {
        let completion = self.ctx.model.complete(request_from(request)).await?;
        Ok(completion_to(completion))
    }

    async fn complete_streaming(&mut self, request: wit::Request) -> CallResult<Resource<ModelStreamHandle>> {
        let stream = self.ctx.model.stream(request_from(request)).await?;
        Ok(self.table.push(ModelStreamHandle(stream))?)
    }
}

impl wit::HostCompletionStream for SandboxCtxView<'_> {
    async fn next(&mut self, handle: Resource<ModelStreamHandle>) -> CallResult<Option<wit::Delta>> {
        let stream = &mut self.table.get_mut(&handle)?.0;
        Ok(stream.next().await?.map(delta_to))
    }

    async fn drop(&mut self, handle: Resource<ModelStreamHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

fn request_from(r: wit::Request) -> m::ChatRequest {
    m::ChatRequest {
        model: r.model,
        messages: r.messages.into_iter().map(message_from).collect(),
        tools: r
            .tools
            .into_iter()
            .map(|t| m::Tool { name: t.name, description: t.description, parameters: t.parameters })
            .collect(),
        tool_choice: r.tool_choice.map(|c| match c {
            wit::ToolChoice::Auto => m::ToolChoice::Auto,
            wit::ToolChoice::None => m::ToolChoice::None,
            wit::ToolChoice::Required => m::ToolChoice::Required,
            wit::ToolChoice::Named(n) => m::ToolChoice::Named(n),
        }),
        temperature: r.temperature,
        max_tokens: r.max_tokens,
        stop: r.stop,
        extra: r.extra,
    }
}

fn message_from(msg: wit::Message) -> m::Message {
    m::Message {
        role: match msg.role {
            wit::Role::System => m::Role::System,
            wit::Role::User => m::Role::User,
            wit::Role::Assistant => m::Role::Assistant,
            wit::Role::Tool => m::Role::Tool,
        },
        content: msg.content,
        tool_calls: msg.tool_calls.into_iter().map(call_from).collect(),
        tool_call_id: msg.tool_call_id,
    }
}

fn call_from(c: wit::ToolCall) -> m::ToolCall {
    m::ToolCall { id: c.id, name: c.name, arguments: c.arguments }
}

fn call_to(c: m::ToolCall) -> wit::ToolCall {
    wit::ToolCall { id: c.id, name: c.name, arguments: c.arguments }
}

fn message_to(msg: m::Message) -> wit::Message {
    wit::Message {
        role: match msg.role {
            m::Role::System => wit::Role::System,
            m::Role::User => wit::Role::User,
            m::Role::Assistant => wit::Role::Assistant,
            m::Role::Tool => wit::Role::Tool,
        },
        content: msg.content,
        tool_calls: msg.tool_calls.into_iter().map(call_to).collect(),
        tool_call_id: msg.tool_call_id,
    }
}

fn completion_to(c: m::Completion) -> wit::Completion {
    wit::Completion {
        message: message_to(c.message),
        finish_reason: match c.finish_reason {
            m::FinishReason::Stop => wit::FinishReason::Stop,
            m::FinishReason::Length => wit::FinishReason::Length,
            m::FinishReason::ToolCalls => wit::FinishReason::ToolCalls,
            m::FinishReason::ContentFilter => wit::FinishReason::ContentFilter,
            m::FinishReason::Other(s) => wit::FinishReason::Other(s),
        },
        usage: wit::Usage {
            prompt_tokens: c.usage.prompt_tokens,
            completion_tokens: c.usage.completion_tokens,
            estimated: c.usage.estimated,
        },
        model: c.model,
    }
}

fn delta_to(d: m::Delta) -> wit::Delta {
    match d {
        m::Delta::Text(t) => wit::Delta::Text(t),
        m::Delta::ToolCall(c) => {
            wit::Delta::ToolCall(wit::ToolCallDelta { index: c.index, id: c.id, name: c.name, arguments: c.arguments })
        }
        m::Delta::Done(c) => wit::Delta::Done(completion_to(c)),
    }
}
