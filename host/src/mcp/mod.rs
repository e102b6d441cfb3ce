//! MCP server mode: sandboxes and agent components as tools for any Model
//! Context Protocol client, over stdio or Streamable HTTP, built on the
//! official Rust SDK (`rmcp`).
//!
//! Every MCP session gets a sandbox of its own, bound on its first tool
//! call exactly as `run` binds one (fresh and labelled, or the sandbox named
//! with [`McpServerBuilder::target`]), and the sandbox tools call the same
//! host functions a guest calls, so the host [`Policy`](crate::policy::Policy)
//! applies unchanged. What a session created is deleted when it ends: stdio
//! end of input, an HTTP session's `DELETE` or idle timeout, the server's
//! shutdown; a crash leaves only labelled sandboxes `sandbox sweep` removes.
//!
//! ```no_run
//! # async fn demo(host: std::sync::Arc<openshell_wasm::runtime::Host>) -> std::io::Result<()> {
//! use openshell_wasm::mcp::McpServer;
//!
//! let server = McpServer::builder(host).build();
//! // One session on this process's stdin and stdout.
//! server.serve_stdio(std::future::pending()).await
//! # }
//! ```

mod components;
mod handler;
mod http;
mod session;
mod tools;
mod wit_docs;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::ServiceExt as _;
use tokio_util::task::TaskTracker;

use self::components::Components;
pub use self::http::HttpOptions;
use self::session::Session;
use crate::backend::SandboxSpec;
use crate::error::SandboxError;
use crate::interfaces::CallError;
use crate::runtime::{Host, SandboxTarget};

/// Why a tool call failed.
#[derive(Debug)]
pub(crate) enum ToolError {
    /// What a guest would have seen: the operation, a code, a message.
    Sandbox(SandboxError),
    /// Arguments that do not fit the tool.
    Arguments(String),
    /// A component tool's run failed (trap, limit, load).
    Component(String),
    /// The call was cancelled by the client.
    Cancelled,
    /// The session has ended.
    Closed,
    /// A broken contract inside the host.
    Host(String),
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToolError::Sandbox(e) => e.fmt(f),
            ToolError::Arguments(m) | ToolError::Component(m) => f.write_str(m),
            ToolError::Cancelled => f.write_str("the call was cancelled"),
            ToolError::Closed => f.write_str("the MCP session has ended; open a new one"),
            ToolError::Host(m) => write!(f, "host error: {m}"),
        }
    }
}

impl From<SandboxError> for ToolError {
    fn from(e: SandboxError) -> Self {
        ToolError::Sandbox(e)
    }
}

impl From<CallError> for ToolError {
    fn from(e: CallError) -> Self {
        match e.into_sandbox_error() {
            Ok(e) => ToolError::Sandbox(e),
            Err(trap) => ToolError::Host(format!("{trap:#}")),
        }
    }
}

/// An MCP server over one [`Host`]: its sandbox tools, its component
/// tools, and the sessions it serves. Cheap to clone.
#[derive(Clone, Debug)]
pub struct McpServer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    host: Arc<Host>,
    target: SandboxTarget,
    keep: bool,
    components: Components,
    /// Live sessions, closed at shutdown if their transport has not
    /// closed them.
    sessions: Mutex<Vec<std::sync::Weak<Session>>>,
    /// Session closes in flight; shutdown waits for them.
    closing: TaskTracker,
}

/// Configures an [`McpServer`].
#[derive(Debug)]
pub struct McpServerBuilder {
    host: Arc<Host>,
    target: SandboxTarget,
    keep: bool,
    components: Vec<PathBuf>,
}

impl McpServer {
    /// Start configuring a server over `host`.
    pub fn builder(host: Arc<Host>) -> McpServerBuilder {
        McpServerBuilder {
            host,
            target: SandboxTarget::Ephemeral(SandboxSpec::default()),
            keep: false,
            components: Vec::new(),
        }
    }

    /// A new session and the handler that serves it.
    fn open_session(&self) -> Result<handler::Handler, SandboxError> {
        let id = crate::ids::random_id("mcp").map_err(|e| SandboxError::from_id("mcp.session", &e))?;
        let session = Arc::new(Session::new(self.inner.host.clone(), id, self.inner.target.clone(), self.inner.keep));
        let mut live = self.inner.sessions.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|s| s.strong_count() > 0);
        live.push(Arc::downgrade(&session));
        Ok(handler::Handler::new(self.clone(), session))
    }

    /// Close a session in the background (its handler is gone); shutdown
    /// waits for it.
    fn close_later(&self, session: Arc<Session>) {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                self.inner.closing.spawn_on(
                    async move {
                        session.close().await;
                    },
                    &runtime,
                );
            }
            // Only when the runtime is already gone; the session's
            // sandboxes carry its label for `sandbox sweep`.
            Err(_) => tracing::error!(session = session.id(), "MCP session dropped outside a runtime; not closed"),
        }
    }

    /// Close every session still open and wait until all are closed.
    async fn close_all(&self) {
        let live: Vec<_> = std::mem::take(&mut *self.inner.sessions.lock().unwrap_or_else(|p| p.into_inner()));
        for s in live.iter().filter_map(std::sync::Weak::upgrade) {
            s.close().await;
        }
        self.inner.closing.close();
        self.inner.closing.wait().await;
    }

    /// Serve one session on stdin and stdout until the client closes
    /// stdin or `shutdown` completes, then delete the session's sandboxes.
    /// Logs must not go to stdout (it carries the protocol).
    pub async fn serve_stdio(&self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let handler = self.open_session().map_err(std::io::Error::other)?;
        let ct = tokio_util::sync::CancellationToken::new();
        let served = async {
            let running = handler
                .serve_with_ct(rmcp::transport::stdio(), ct.clone())
                .await
                .map_err(|e| std::io::Error::other(format!("MCP initialization failed: {e}")))?;
            let _ = running.waiting().await;
            Ok::<_, std::io::Error>(())
        };
        let result = tokio::select! {
            r = served => r,
            () = shutdown => {
                ct.cancel();
                Ok(())
            }
        };
        self.close_all().await;
        result
    }

    /// Serve Streamable HTTP on `listener` until `shutdown` completes, then
    /// close every session and delete its sandboxes. See [`HttpOptions`]
    /// for the host, origin and token checks.
    pub async fn serve_http(
        &self,
        listener: tokio::net::TcpListener,
        options: HttpOptions,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let result = http::serve(self.clone(), listener, options, shutdown).await;
        self.close_all().await;
        result
    }
}

impl McpServerBuilder {
    /// The sandbox each session binds: a new one per session from a spec
    /// (the default: the policy's image and defaults), or one existing
    /// sandbox every session shares (never deleted).
    pub fn target(mut self, target: SandboxTarget) -> Self {
        self.target = target;
        self
    }

    /// Keep the sandboxes sessions create instead of deleting them.
    pub fn keep(mut self, keep: bool) -> Self {
        self.keep = keep;
        self
    }

    /// Offer this component as a tool (loaded in the background once the
    /// server runs; `tools/list` waits for loading to finish).
    pub fn component(mut self, path: impl Into<PathBuf>) -> Self {
        self.components.push(path.into());
        self
    }

    /// Build the server; component loading starts now, so call this
    /// within a Tokio runtime.
    pub fn build(self) -> McpServer {
        let components = Components::load(self.host.clone(), self.components);
        McpServer {
            inner: Arc::new(Inner {
                host: self.host,
                target: self.target,
                keep: self.keep,
                components,
                sessions: Mutex::new(Vec::new()),
                closing: TaskTracker::new(),
            }),
        }
    }
}

/// How long an HTTP session may stay idle before it is closed and its
/// sandboxes deleted, unless configured.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
