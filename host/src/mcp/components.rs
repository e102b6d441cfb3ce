//! Components as tools. An agent component is one tool taking `input`
//! (the string its `run` gets); a command component's tool takes `input`
//! as its stdin and `args`; a component that exports functions gives one
//! tool per function, with input and output schemas from its WIT types
//! (`crate::wit_json`) and doc comments from the WIT beside it
//! (`super::wit_docs`). A call is a run of the component (instantiated
//! from the cached `InstancePre`, under the policy file beside it or the
//! server's, with its limits) bound to the session's sandbox.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::ToolError;
use super::wit_docs::{FunctionDocs, WitDocs};
use crate::policy::Policy;
use crate::runtime::{Agent, AgentKind, ExportedFunction, FunctionCall, Host, RunError, RunFailure, RunRequest};

/// A component, or one of its functions, offered as a tool.
#[derive(Debug)]
pub(crate) struct ComponentTool {
    name: String,
    agent: Agent,
    /// The exported function this tool calls (by position in
    /// `agent.functions()`); `None` for an agent or command's entry point.
    function: Option<usize>,
    /// Doc comments from the component's WIT, if it came with one.
    docs: Option<FunctionDocs>,
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
                match load_one(&host, &path).await {
                    Ok(found) => {
                        for tool in found {
                            let name = &tool.name;
                            if super::tools::has(name) || tools.iter().any(|t| &t.name == name) {
                                tracing::error!(component = %path.display(), "a tool named `{name}` exists already; rename the component file");
                                continue;
                            }
                            tracing::info!(component = %path.display(), tool = %name, "component tool loaded");
                            tools.push(Arc::new(tool));
                        }
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

/// The tools of the component at `path`: one for an agent or command, one
/// per exported function otherwise.
async fn load_one(server: &Arc<Host>, path: &Path) -> Result<Vec<ComponentTool>, String> {
    let host = own_host(server, path)?;
    let agent = host.load_file(path).await.map_err(|e| e.to_string())?;
    let stem = tool_name(agent.name());
    if matches!(agent.kind(), AgentKind::Agent | AgentKind::Command) {
        return Ok(vec![ComponentTool { name: stem, agent, function: None, docs: None, host }]);
    }
    let docs = WitDocs::beside(path).unwrap_or_else(|e| {
        tracing::warn!(component = %path.display(), "its WIT was not read, so its tools have no doc comments: {e}");
        WitDocs::default()
    });
    Ok(agent
        .functions()
        .iter()
        .enumerate()
        .map(|(i, f)| ComponentTool {
            name: tool_name(&format!("{stem}_{}", f.name)),
            agent: agent.clone(),
            function: Some(i),
            docs: docs.get(f.interface.as_deref(), &f.name).cloned(),
            host: host.clone(),
        })
        .collect())
}

/// The host a component runs on: the server's, or one under the policy
/// file beside the component (`tool.wasm` → `tool.policy.toml`).
fn own_host(server: &Arc<Host>, component: &Path) -> Result<Arc<Host>, String> {
    let file = component.with_extension("policy.toml");
    if !file.exists() {
        return Ok(server.clone());
    }
    let policy = Policy::from_file(&file).map_err(|e| e.to_string())?;
    let host = server.with_policy(policy).map_err(|e| format!("{}: {e}", file.display()))?;
    tracing::info!(component = %component.display(), policy = %file.display(), "component runs under its own policy");
    Ok(Arc::new(host))
}

/// A tool name: letters, digits and `_` (what OpenAI's function names
/// allow too), at most 64 characters.
fn tool_name(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).take(64).collect()
}

impl ComponentTool {
    fn describe(&self) -> Tool {
        let annotations = ToolAnnotations::new().read_only(false).destructive(true).open_world(false);
        let short_hash = &self.agent.hash()[..12];
        if let Some(f) = self.exported() {
            let iface = f.interface.as_deref().map(|i| format!(" of `{i}`")).unwrap_or_default();
            let mut description = format!(
                "Call `{}`{iface} in the WebAssembly component `{}` (sha256 {short_hash}), against this session's \
                 sandbox. Arguments and result follow the WIT types: variants as {{\"case\": payload}} or the case \
                 name, options as null or the value, flags as a list of names.",
                f.signature(),
                self.agent.name(),
            );
            let mut input = f.params_schema().unwrap_or_else(|_| json!({"type": "object"}));
            if let Some(docs) = &self.docs {
                if let Some(d) = &docs.docs {
                    description = format!("{d}\n\n{description}");
                }
                for (param, d) in &docs.params {
                    if let Some(p) = input["properties"].get_mut(param).and_then(Value::as_object_mut) {
                        p.insert("description".into(), Value::String(d.clone()));
                    }
                }
            }
            let output = json!({"type": "object", "properties": {"result": f.result_schema()}, "required": ["result"]});
            let as_object = |v: Value| match v {
                Value::Object(o) => Arc::new(o),
                _ => Arc::new(JsonObject::new()),
            };
            return Tool::new(self.name.clone(), description, as_object(input))
                .with_raw_output_schema(as_object(output))
                .with_annotations(annotations);
        }
        let what = match self.agent.kind() {
            AgentKind::Command => "the command component",
            AgentKind::Agent | AgentKind::Functions => "the agent component",
        };
        let description = format!(
            "Run {what} `{}` (WebAssembly, sha256 {short_hash}) with `input`, against this session's sandbox, and \
             return its result.",
            self.agent.name(),
        );
        let schema = rmcp::handler::server::common::schema_for_type::<AgentArgs>();
        Tool::new(self.name.clone(), description, schema).with_annotations(annotations)
    }

    fn exported(&self) -> Option<&ExportedFunction> {
        self.function.and_then(|i| self.agent.functions().get(i))
    }

    /// Run the component once against `sandbox`.
    pub(crate) async fn call(
        &self,
        args: JsonObject,
        sandbox: String,
        cancel: CancellationToken,
    ) -> Result<Value, ToolError> {
        let request = match self.exported() {
            Some(f) => RunRequest::new("").call(FunctionCall {
                interface: f.interface.clone(),
                function: f.name.clone(),
                args,
            }),
            None => {
                let a: AgentArgs = serde_json::from_value(Value::Object(args)).map_err(|e| {
                    ToolError::Arguments(format!("the arguments of {} do not fit its input schema: {e}", self.name))
                })?;
                if !a.args.is_empty() && self.agent.kind() == AgentKind::Agent {
                    return Err(ToolError::Arguments(format!(
                        "{} is an agent component; it takes no `args`",
                        self.name
                    )));
                }
                RunRequest::new(a.input).args(a.args)
            }
        };
        let outcome = match self.host.run(&self.agent, request.attach(sandbox).cancel_token(cancel)).await {
            Ok(outcome) => outcome,
            Err(RunFailure { error: RunError::Sandbox(e), .. }) if e.operation == "component.call" => {
                return Err(ToolError::Sandbox(e));
            }
            Err(failure) => return Err(ToolError::Component(format!("{} failed: {failure}", self.name))),
        };
        let text = match outcome.result {
            Ok(text) => text,
            Err(e) => return Err(ToolError::Component(format!("{} returned an error: {e}", self.name))),
        };
        let result = match self.function {
            // The function's result, already JSON.
            Some(_) => serde_json::from_str(&text).map_err(|e| ToolError::Host(format!("result is not JSON: {e}")))?,
            None => Value::String(text),
        };
        Ok(json!({
            "result": result,
            "stderr": String::from_utf8_lossy(&outcome.output.stderr),
            "call_ms": outcome.stats.call_ms,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_fit_every_client() {
        assert_eq!(tool_name("typed-tools_count-words"), "typed_tools_count_words");
        assert_eq!(tool_name("agent.v2"), "agent_v2");
        assert_eq!(tool_name(&"x".repeat(100)).len(), 64);
    }
}
