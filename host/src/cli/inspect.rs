//! `openshell-wasm inspect`: what a component imports and exports, which
//! world it targets, and what this host would be missing to run it. Reads
//! the component's sections only; nothing is compiled or run.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use wasmparser::{ComponentExternalKind, Parser, Payload};

use super::{exit, out, out_json, report};
use crate::runtime::provided_import;

/// Arguments of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The component to inspect.
    component: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// What `inspect` finds.
#[derive(Debug, Default, serde::Serialize)]
pub struct Inspection {
    /// Top-level imports, with whether this host provides each.
    pub imports: Vec<(String, bool)>,
    /// Top-level exports with their kind.
    pub exports: Vec<(String, String)>,
    /// `openshell:sandbox/agent`, `wasi:cli/command`, or `none`.
    pub world: String,
    /// Imports this host lacks.
    pub missing: Vec<String>,
    /// Whether the component uses the openshell:sandbox interfaces.
    pub uses_sandbox: bool,
}

/// Inspect component bytes.
pub fn inspect(bytes: &[u8]) -> Result<Inspection, String> {
    crate::runtime::agent::check_is_component(bytes).map_err(|e| e.to_string())?;
    let mut out = Inspection::default();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| format!("malformed component: {e}"))?;
        match payload {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    let import = import.map_err(|e| format!("malformed import section: {e}"))?;
                    let name = import.name.name.to_string();
                    out.imports.push((name.clone(), provided_import(&name)));
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    let export = export.map_err(|e| format!("malformed export section: {e}"))?;
                    let kind = match export.kind {
                        ComponentExternalKind::Func => "func",
                        ComponentExternalKind::Instance => "instance",
                        ComponentExternalKind::Component => "component",
                        ComponentExternalKind::Module => "module",
                        ComponentExternalKind::Type => "type",
                        ComponentExternalKind::Value => "value",
                    };
                    out.exports.push((export.name.name.to_string(), kind.to_string()));
                }
            }
            _ => {}
        }
    }
    out.world = if out.exports.iter().any(|(n, k)| n == "run" && k == "func") {
        "openshell:sandbox/agent".into()
    } else if out.exports.iter().any(|(n, k)| n.starts_with("wasi:cli/run@0.2") && k == "instance") {
        "wasi:cli/command".into()
    } else {
        "none".into()
    };
    out.missing = out.imports.iter().filter(|(_, ok)| !ok).map(|(n, _)| n.clone()).collect();
    out.uses_sandbox = out.imports.iter().any(|(n, _)| n.starts_with("openshell:sandbox/"));
    Ok(out)
}

impl InspectArgs {
    pub(super) async fn execute(self) -> u8 {
        let bytes = match tokio::fs::read(&self.component).await {
            Ok(b) => b,
            Err(e) => {
                report(&format!("cannot read {}: {e}", self.component.display()));
                return exit::USAGE;
            }
        };
        let found = match inspect(&bytes) {
            Ok(i) => i,
            Err(e) => {
                report(&format!("{}: {e}", self.component.display()));
                return exit::USAGE;
            }
        };
        let runnable = found.world != "none" && found.missing.is_empty();
        if self.json {
            out_json(&json!({
                "component": self.component,
                "size": bytes.len(),
                "sha256": crate::runtime::agent::sha256_hex(&bytes),
                "world": found.world,
                "runnable": runnable,
                "uses_sandbox": found.uses_sandbox,
                "imports": found.imports.iter().map(|(n, ok)| json!({"name": n, "provided": ok})).collect::<Vec<_>>(),
                "exports": found.exports.iter().map(|(n, k)| json!({"name": n, "kind": k})).collect::<Vec<_>>(),
                "missing": found.missing,
            }));
        } else {
            out(&format!("component: {} ({} bytes)", self.component.display(), bytes.len()));
            out(&format!("world:     {}", found.world));
            out("imports:");
            for (n, ok) in &found.imports {
                out(&format!("  {} {n}", if *ok { "ok     " } else { "MISSING" }));
            }
            out("exports:");
            for (n, k) in &found.exports {
                out(&format!("  {n} ({k})"));
            }
            if found.world == "none" && !found.exports.is_empty() {
                out(
                    "no entry point for `run`: serve its functions as tools with `openshell-wasm mcp --component FILE`",
                );
            } else if found.world == "none" {
                out(
                    "cannot run: export `run: func(string) -> result<string, string>` (world openshell:sandbox/agent) or `wasi:cli/run`",
                );
            } else if !found.missing.is_empty() {
                out(&format!("cannot run here: this host does not provide {}", found.missing.join(", ")));
            } else {
                out("runnable: yes");
            }
        }
        if runnable { exit::OK } else { exit::AGENT_ERROR }
    }
}
