//! One MCP session's protocol handler: the tool list, and a tool call with
//! its progress notifications, cancellation and error reporting.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, JsonObject, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ProgressToken, ProtocolVersion, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler};
use serde_json::{Value, json};

use super::session::Session;
use super::{McpServer, ToolError, tools};

/// The most JSON a tool call's arguments may take. Bigger payloads (a large
/// file) belong in several calls; the policy's own limits still apply.
pub(crate) const MAX_ARGUMENT_BYTES: usize = 8 * 1024 * 1024;
/// How often a long call reports progress to a client that asked for it.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

const INSTRUCTIONS: &str = "Tools that act on an isolated sandbox (a Linux workspace): run commands, read and write \
    files, snapshots, network policy. This session gets its own sandbox on the first call, deleted when the session \
    ends. Paths are relative to the sandbox's workdir unless absolute.";

/// Serves one session; dropping it (the transport closed) closes the
/// session in the background.
pub(crate) struct Handler {
    server: McpServer,
    session: Arc<Session>,
}

impl Handler {
    pub(crate) fn new(server: McpServer, session: Arc<Session>) -> Self {
        Handler { server, session }
    }

    async fn dispatch(
        &self,
        name: &str,
        args: JsonObject,
        ct: &tokio_util::sync::CancellationToken,
    ) -> Result<Value, ToolError> {
        if tools::has(name) {
            return tools::call(&self.session, name, args).await.unwrap_or_else(|| Err(unknown(name)));
        }
        match self.server.inner.components.find(name).await {
            Some(tool) => {
                let sandbox = self.session.lock().await?.current().name.clone();
                tool.call(args, sandbox, ct.child_token()).await
            }
            None => Err(unknown(name)),
        }
    }
}

fn unknown(name: &str) -> ToolError {
    ToolError::Arguments(format!("there is no tool named `{name}`; tools/list lists them"))
}

impl Drop for Handler {
    fn drop(&mut self) {
        self.server.close_later(self.session.clone());
    }
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("openshell-wasm", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    /// Versions with sessions: a session owns its sandboxes, and the
    /// sessionless 2026-07-28 protocol would leave nothing to own them.
    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::known_up_to(&ProtocolVersion::V_2025_11_25))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut all = tools::list();
        all.extend(self.server.inner.components.tools().await);
        Ok(ListToolsResult::with_all_items(all))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        if !tools::has(&name) && self.server.inner.components.find(&name).await.is_none() {
            // An unknown tool is a protocol error (the spec's -32602).
            return Err(ErrorData::invalid_params(unknown(&name).to_string(), None));
        }
        let args = request.arguments.unwrap_or_default();
        let size = serde_json::to_vec(&args).map(|v| v.len()).unwrap_or(usize::MAX);
        let started = Instant::now();
        let result = if size > MAX_ARGUMENT_BYTES {
            Err(ToolError::Arguments(format!(
                "the arguments are {size} bytes, over the {MAX_ARGUMENT_BYTES} byte limit; send large content in \
                 several calls"
            )))
        } else {
            let _progress =
                context.meta.get_progress_token().map(|t| Progress::start(context.peer.clone(), t, name.clone()));
            tokio::select! {
                r = self.dispatch(&name, args, &context.ct) => r,
                () = context.ct.cancelled() => Err(ToolError::Cancelled),
            }
        };
        tracing::debug!(session = self.session.id(), tool = %name, ms = started.elapsed().as_millis() as u64, ok = result.is_ok(), "tool call");
        Ok(match result {
            Ok(value) => CallToolResult::structured(value),
            Err(e) => error_result(&e),
        }
        .into())
    }
}

/// A failed call as the model should see it: a readable line, and the
/// same error as structured content.
fn error_result(e: &ToolError) -> CallToolResult {
    let (code, operation, retryable) = match e {
        ToolError::Sandbox(s) => (s.code.as_str(), s.operation.as_str(), s.retryable),
        ToolError::Arguments(_) => ("invalid_argument", "", false),
        ToolError::Component(_) => ("component_failed", "", false),
        ToolError::Cancelled => ("cancelled", "", false),
        ToolError::Closed => ("closed", "", false),
        ToolError::Host(_) => ("host_error", "", false),
    };
    let mut result = CallToolResult::error(vec![ContentBlock::text(e.to_string())]);
    result.structured_content = Some(json!({
        "error": { "code": code, "operation": operation, "message": e.to_string(), "retryable": retryable }
    }));
    result
}

/// Sends a progress notification every [`PROGRESS_EVERY`] until dropped.
struct Progress(tokio::task::JoinHandle<()>);

impl Progress {
    fn start(peer: Peer<RoleServer>, token: ProgressToken, tool: String) -> Self {
        Progress(tokio::spawn(async move {
            let started = Instant::now();
            loop {
                tokio::time::sleep(PROGRESS_EVERY).await;
                let secs = started.elapsed().as_secs_f64().floor();
                let mut p = ProgressNotificationParam::new(token.clone(), secs);
                p.message = Some(format!("{tool}: running for {secs} s"));
                if peer.notify_progress(p).await.is_err() {
                    return;
                }
            }
        }))
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.abort();
    }
}
