//! Model calls for guests (`openshell:sandbox/model`): the guest names an
//! alias from the policy, the host sends the request to that alias's
//! OpenAI-compatible endpoint with the credentials the policy names, and
//! every call counts against the run's budget.
//!
//! The types here mirror the WIT records in plain Rust; `interfaces::model`
//! converts between them and the generated bindings.

mod budget;
mod call;
mod openai;
mod sse;

use std::sync::Arc;

pub use budget::{ModelCallStats, ModelStats};
pub use call::CompletionStream;

use crate::egress::Connector;
use crate::error::SandboxError;
use crate::policy::{ModelAlias, Policy};
use budget::BudgetState;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Instructions.
    System,
    /// The user.
    User,
    /// The model.
    Assistant,
    /// A tool's result.
    Tool,
}

/// A tool call the model made.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolCall {
    /// The provider's id.
    pub id: String,
    /// The tool.
    pub name: String,
    /// Its arguments, JSON text.
    pub arguments: String,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// Its text.
    pub content: Option<String>,
    /// Tool calls (assistant messages).
    pub tool_calls: Vec<ToolCall>,
    /// The call a tool message answers.
    pub tool_call_id: Option<String>,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// JSON Schema of the arguments, JSON text.
    pub parameters: String,
}

/// Whether and which tools the model must call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tools.
    None,
    /// At least one tool.
    Required,
    /// This tool.
    Named(String),
}

/// A completion request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// The alias (empty: the default).
    pub model: String,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Tools.
    pub tools: Vec<Tool>,
    /// Tool choice.
    pub tool_choice: Option<ToolChoice>,
    /// Temperature.
    pub temperature: Option<f32>,
    /// Most answer tokens.
    pub max_tokens: Option<u32>,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// More body members, a JSON object.
    pub extra: Option<String>,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    /// Natural end.
    Stop,
    /// Token limit.
    Length,
    /// Tool calls.
    ToolCalls,
    /// Content filter.
    ContentFilter,
    /// Anything else.
    Other(String),
}

/// Tokens one call used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Completion tokens.
    pub completion_tokens: u32,
    /// Estimated by the host (the provider reported none).
    pub estimated: bool,
}

/// A finished completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The answer.
    pub message: Message,
    /// Why it stopped.
    pub finish_reason: FinishReason,
    /// Usage.
    pub usage: Usage,
    /// The model the provider named.
    pub model: String,
}

/// A piece of a tool call in a streamed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCallDelta {
    /// Which call.
    pub index: u32,
    /// Its id, in the first piece.
    pub id: Option<String>,
    /// Its name, in the first piece.
    pub name: Option<String>,
    /// The next piece of its arguments.
    pub arguments: String,
}

/// What a streamed answer delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delta {
    /// Text.
    Text(String),
    /// A tool-call piece.
    ToolCall(ToolCallDelta),
    /// The end.
    Done(Completion),
}

/// What is left of a run's model budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Calls.
    pub requests: u64,
    /// Tokens.
    pub tokens: u64,
    /// Milliseconds.
    pub time_ms: u64,
}

/// The model state of one run: the policy's aliases and budget, and what
/// the run has used.
#[derive(Debug, Clone)]
pub struct ModelCtx {
    policy: Arc<Policy>,
    connector: Arc<Connector>,
    budget: Arc<BudgetState>,
}

impl ModelCtx {
    /// A run's model state under `policy`.
    pub fn new(policy: Arc<Policy>, connector: Arc<Connector>) -> ModelCtx {
        ModelCtx { policy, connector, budget: Arc::default() }
    }

    /// The aliases, the default first.
    pub fn aliases(&self) -> Vec<String> {
        self.policy.model.aliases.iter().map(|a| a.name.clone()).collect()
    }

    /// What is left of the budget.
    pub fn remaining(&self) -> Budget {
        self.budget.remaining(&self.policy.model)
    }

    /// What the run's model calls used.
    pub fn stats(&self) -> ModelStats {
        self.budget.stats()
    }

    /// Send `request` and wait for the whole answer.
    pub async fn complete(&self, request: ChatRequest) -> Result<Completion, SandboxError> {
        let op = "model.complete";
        let alias = self.alias(&request.model, op)?;
        call::complete(self.call_ctx(alias), request, op).await
    }

    /// Send `request` and receive the answer as it is produced.
    pub async fn stream(&self, request: ChatRequest) -> Result<CompletionStream, SandboxError> {
        let op = "model.complete-streaming";
        let alias = self.alias(&request.model, op)?;
        call::stream(self.call_ctx(alias), request, op).await
    }

    fn call_ctx(&self, alias: ModelAlias) -> call::CallCtx {
        call::CallCtx {
            alias,
            limits: self.policy.model.clone(),
            connector: self.connector.clone(),
            budget: self.budget.clone(),
        }
    }

    fn alias(&self, name: &str, op: &str) -> Result<ModelAlias, SandboxError> {
        let aliases = &self.policy.model.aliases;
        let found = if name.is_empty() { aliases.first() } else { aliases.iter().find(|a| a.name == name) };
        found.cloned().ok_or_else(|| {
            let known: Vec<&str> = aliases.iter().map(|a| a.name.as_str()).collect();
            if known.is_empty() {
                SandboxError::not_found(
                    op,
                    "this host defines no model aliases; the operator adds one to the policy ([model.aliases.NAME] \
                     with url, model and credentials)",
                )
            } else {
                SandboxError::not_found(op, format!("no model alias `{name}`; this policy defines {known:?}"))
            }
        })
    }
}
