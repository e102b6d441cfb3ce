//! Components as tools: each `--component` becomes one tool. An agent
//! component's tool takes `input` (the string its `run` gets); a command
//! component's takes `input` as its stdin and `args`. A call is a run of
//! the component (instantiated from the cached `InstancePre`, under the
//! host's policy and limits) bound to the session's sandbox.

use std::path::PathBuf;
use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::ToolError;
use crate::runtime::{Agent, AgentKind, Host, RunRequest};

/// A component offered as a tool.
#[derive(Debug)]
pub(crate) struct ComponentTool {
    name: String,
    agent: Agent,
    host: Arc<Host>,
}

/// The server's component tools, loading in the background.
#[derive(Debug)]
pub(crate) struct Components {
    loaded: watch::Receiver<Option<Arc<Vec<Arc<ComponentTool>>>>>,
}

/// Arguments of a component tool.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct AgentArgs {
    /// The input: the string an agent's `run` receives, or a command's stdin.
    #[serde(default)]
    input: String,
    /// Command-line arguments (command components only).
    #[serde(default)]
    args: Vec<String>,
}

impl Components {
    /// Start loading `paths`; a component that fails to load is logged and
    /// left out.
    pub(crate) fn load(host: Arc<Host>, paths: Vec<PathBuf>) -> Self {
        let (tx, rx) = watch::channel(None);
        tokio::spawn(async move {
            let mut tools: Vec<Arc<ComponentTool>> = Vec::new();
            for path in paths {
                match host.load_file(&path).await {
                    Ok(agent) => {
                        let name = tool_name(agent.name());
                        if super::tools::has(&name) || tools.iter().any(|t| t.name == name) {
                            tracing::error!(component = %path.display(), "a tool named `{name}` exists already; rename the component file");
                            continue;
                        }
                        tracing::info!(component = %path.display(), tool = %name, "component tool loaded");
                        tools.push(Arc::new(ComponentTool { name, agent, host: host.clone() }));
                    }
                    Err(e) => tracing::error!(component = %path.display(), "component not offered as a tool: {e}"),
                }
            }
            let _ = tx.send(Some(Arc::new(tools)));
        });
        Components { loaded: rx }
    }

    async fn all(&self) -> Arc<Vec<Arc<ComponentTool>>> {
        let mut rx = self.loaded.clone();
        match rx.wait_for(Option::is_some).await {
            Ok(v) => v.clone().unwrap_or_default(),
            // The loader is gone without a result: no component tools.
            Err(_) => Arc::default(),
        }
    }

    /// The tools' descriptions.
    pub(crate) async fn tools(&self) -> Vec<Tool> {
        self.all().await.iter().map(|t| t.describe()).collect()
    }

    /// The tool called `name`.
    pub(crate) async fn find(&self, name: &str) -> Option<Arc<ComponentTool>> {
        self.all().await.iter().find(|t| t.name == name).cloned()
    }
}

/// A tool name from a component's file stem: letters, digits, `_` and `-`.
fn tool_name(stem: &str) -> String {
    stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).take(64).collect()
}

impl ComponentTool {
    fn describe(&self) -> Tool {
        let what = match self.agent.kind() {
            AgentKind::Agent => "the agent component",
            AgentKind::Command => "the command component",
        };
        let description = format!(
            "Run {what} `{}` (WebAssembly, sha256 {}) with `input`, against this session's sandbox, and return its \
             result.",
            self.agent.name(),
            &self.agent.hash()[..12]
        );
        let schema = rmcp::handler::server::common::schema_for_type::<AgentArgs>();
        Tool::new(self.name.clone(), description, schema)
            .with_annotations(ToolAnnotations::new().read_only(false).destructive(true).open_world(false))
    }

    /// Run the component once against `sandbox`.
    pub(crate) async fn call(
        &self,
        args: JsonObject,
        sandbox: String,
        cancel: CancellationToken,
    ) -> Result<Value, ToolError> {
        let a: AgentArgs = serde_json::from_value(Value::Object(args)).map_err(|e| {
            ToolError::Arguments(format!("the arguments of {} do not fit its input schema: {e}", self.name))
        })?;
        if !a.args.is_empty() && self.agent.kind() == AgentKind::Agent {
            return Err(ToolError::Arguments(format!("{} is an agent component; it takes no `args`", self.name)));
        }
        let request = RunRequest::new(a.input).args(a.args).attach(sandbox).cancel_token(cancel);
        match self.host.run(&self.agent, request).await {
            Ok(outcome) => {
                let (ok, text) = match outcome.result {
                    Ok(r) => (true, r),
                    Err(e) => (false, e),
                };
                if !ok {
                    return Err(ToolError::Component(format!("{} reported an error: {text}", self.name)));
                }
                Ok(json!({
                    "result": text,
                    "stderr": String::from_utf8_lossy(&outcome.output.stderr),
                    "call_ms": outcome.stats.call_ms,
                }))
            }
            Err(failure) => Err(ToolError::Component(format!("{} failed: {failure}", self.name))),
        }
    }
}
