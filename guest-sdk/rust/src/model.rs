//! Language models, called through the host: a [`ChatRequest`] builder, whole
//! answers with [`Model::complete`], and streamed ones with [`Model::stream`].
//!
//! The guest names a model by an alias from the host policy and never sees
//! the endpoint or its credentials. JSON-shaped values (tool parameters,
//! tool-call arguments, extra request fields) are JSON text, so this crate
//! needs no JSON library; parse them with whatever the agent already uses.

use crate::bindings::openshell::sandbox::model::{self, CompletionStream, Request};
use crate::bindings::openshell::sandbox::types;
use crate::{Budget, Completion, Delta, Error, ErrorCode, Message, Result, Role, Tool, ToolCall, ToolChoice};

/// A model, named by its alias in the host policy (`[model.aliases.NAME]`).
///
/// [`Model::default`] is the empty alias, which the host resolves to the
/// policy's default model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Model {
    alias: String,
}

impl Model {
    /// The model the policy calls `alias`; `""` means the policy's default.
    pub fn new(alias: impl Into<String>) -> Self {
        Model { alias: alias.into() }
    }

    /// The alias this model is called by.
    pub fn alias(&self) -> &str {
        &self.alias
    }

    /// Send `request` and wait for the whole answer.
    ///
    /// Fails with `too-large` past the run's model budget (the message names
    /// the policy key), `not-found` for an alias the policy does not define,
    /// `timeout`, `unavailable`, or `backend("http-NNN")`.
    pub fn complete(&self, request: &ChatRequest) -> Result<Completion> {
        Ok(model::complete(&request.to_wit(&self.alias))?)
    }

    /// Send `request` and receive the answer as it is produced; see
    /// [`Stream`]. Fails as [`Model::complete`] does.
    pub fn stream(&self, request: &ChatRequest) -> Result<Stream> {
        let stream = model::complete_streaming(&request.to_wit(&self.alias))?;
        Ok(Stream { stream: Some(stream) })
    }

    /// The aliases this guest may name; the first is the default.
    pub fn aliases() -> Vec<String> {
        model::aliases()
    }

    /// What is left of the run's model budget.
    pub fn remaining() -> Budget {
        model::remaining()
    }
}

/// A conversation to send to a [`Model`], with the tools it may call and
/// sampling options. Build it once and [`push`](ChatRequest::push) messages
/// as the conversation goes on.
#[derive(Debug, Clone, Default)]
pub struct ChatRequest {
    messages: Vec<Message>,
    tools: Vec<Tool>,
    tool_choice: Option<ToolChoice>,
    temperature: Option<f32>,
    max_tokens: Option<u32>,
    stop: Vec<String>,
    extra: Option<String>,
}

impl ChatRequest {
    /// An empty request: no messages, no tools, the provider's defaults.
    pub fn new() -> Self {
        ChatRequest::default()
    }
    /// Add a message.
    pub fn message(mut self, message: Message) -> Self {
        self.messages.push(message);
        self
    }
    /// Add messages.
    pub fn messages(mut self, messages: impl IntoIterator<Item = Message>) -> Self {
        self.messages.extend(messages);
        self
    }
    /// Add a tool the model may call.
    pub fn tool(mut self, tool: Tool) -> Self {
        self.tools.push(tool);
        self
    }
    /// Add tools the model may call.
    pub fn tools(mut self, tools: impl IntoIterator<Item = Tool>) -> Self {
        self.tools.extend(tools);
        self
    }
    /// Whether and which tools the model must call (the model decides if
    /// unset).
    pub fn tool_choice(mut self, choice: ToolChoice) -> Self {
        self.tool_choice = Some(choice);
        self
    }
    /// Sampling temperature.
    pub fn temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }
    /// The most tokens the answer may have; the host lowers it to what is
    /// left of the run's token budget.
    pub fn max_tokens(mut self, tokens: u32) -> Self {
        self.max_tokens = Some(tokens);
        self
    }
    /// Add a sequence at which the model stops.
    pub fn stop(mut self, sequence: impl Into<String>) -> Self {
        self.stop.push(sequence.into());
        self
    }
    /// More request fields for the provider, as the text of a JSON object
    /// (for example `{"top_p":0.9}`). Fields the host sets itself cannot be
    /// overridden.
    pub fn extra(mut self, json_object: impl Into<String>) -> Self {
        self.extra = Some(json_object.into());
        self
    }

    /// Append a message to the conversation (for agent loops, which add the
    /// model's answer and the tool results after each call).
    pub fn push(&mut self, message: Message) {
        self.messages.push(message);
    }
    /// The conversation so far.
    pub fn conversation(&self) -> &[Message] {
        &self.messages
    }
    /// The tools the model may call.
    pub fn tool_list(&self) -> &[Tool] {
        &self.tools
    }

    /// The WIT request for `alias`. It copies the conversation: the import
    /// borrows the request, but the alias belongs to the [`Model`], not here.
    fn to_wit(&self, alias: &str) -> Request {
        Request {
            model: alias.to_string(),
            messages: self.messages.clone(),
            tools: self.tools.clone(),
            tool_choice: self.tool_choice.clone(),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            stop: self.stop.clone(),
            extra: self.extra.clone(),
        }
    }
}

impl Message {
    /// Instructions for the model.
    pub fn system(text: impl Into<String>) -> Self {
        Message::plain(Role::System, text.into())
    }
    /// The user's words.
    pub fn user(text: impl Into<String>) -> Self {
        Message::plain(Role::User, text.into())
    }
    /// An earlier answer of the model's (text only; to replay an answer with
    /// tool calls, push [`Completion::message`] itself).
    pub fn assistant(text: impl Into<String>) -> Self {
        Message::plain(Role::Assistant, text.into())
    }
    /// The result of the tool call whose id is `call_id`.
    pub fn tool(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Message { tool_call_id: Some(call_id.into()), ..Message::plain(Role::Tool, content.into()) }
    }
    /// The message's text, or `""` if it has none.
    pub fn content_str(&self) -> &str {
        self.content.as_deref().unwrap_or("")
    }

    fn plain(role: Role, content: String) -> Self {
        Message { role, content: Some(content), tool_calls: Vec::new(), tool_call_id: None }
    }
}

impl Tool {
    /// A tool named `name` (letters, digits, `_` and `-`), described for the
    /// model, whose arguments follow the JSON Schema `parameters` (JSON text).
    pub fn new(name: impl Into<String>, description: impl Into<String>, parameters: impl Into<String>) -> Self {
        Tool { name: name.into(), description: description.into(), parameters: parameters.into() }
    }
}

impl Completion {
    /// The answer's text, or `""` if it only calls tools.
    pub fn text(&self) -> &str {
        self.message.content_str()
    }
    /// The tools the answer calls, in order.
    pub fn tool_calls(&self) -> &[ToolCall] {
        &self.message.tool_calls
    }
}

/// A streamed answer: an iterator over its [`Delta`]s that ends after
/// [`Delta::Done`] (which carries the whole answer) or after the first
/// error. Dropping it stops the request.
#[derive(Debug)]
pub struct Stream {
    /// `None` once the stream has ended, so the host resource is released
    /// as soon as the answer is complete.
    stream: Option<CompletionStream>,
}

impl Stream {
    /// Read the remaining deltas and return the whole answer from
    /// [`Delta::Done`]. Fails with the stream's error, or `unavailable` if
    /// it ended without a `done`.
    pub fn into_completion(self) -> Result<Completion> {
        for delta in self {
            if let Delta::Done(completion) = delta? {
                return Ok(completion);
            }
        }
        Err(Error(types::Error {
            code: ErrorCode::Unavailable,
            operation: "model.completion-stream.next".to_string(),
            message: "the answer ended without `done`".to_string(),
            retryable: true,
        }))
    }
}

impl Iterator for Stream {
    type Item = Result<Delta>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.stream.as_ref()?.next();
        // Nothing follows `done`, an error, or the end; drop the resource.
        if !matches!(item, Ok(Some(Delta::Text(_) | Delta::ToolCall(_)))) {
            self.stream = None;
        }
        item.map_err(Error::from).transpose()
    }
}
