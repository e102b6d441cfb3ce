//! `openshell-wasm sandbox`: list, create, delete and sweep sandboxes.

use std::time::Duration;

use clap::Subcommand;
use serde_json::json;

use super::run::KEEP_LABEL;
use super::{BackendArgs, SpecArgs, exit, out, out_json, report};
use crate::backend::{OWNER_LABEL, OWNER_VALUE};
use crate::policy::units::parse_duration;

/// Sandbox subcommands.
#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// List sandboxes.
    List {
        #[command(flatten)]
        backend: BackendArgs,
        /// Only those created by openshell-wasm.
        #[arg(long)]
        owned: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a sandbox and print its name.
    Create {
        #[command(flatten)]
        backend: BackendArgs,
        /// Name (generated when omitted).
        name: Option<String>,
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Delete sandboxes.
    Delete {
        #[command(flatten)]
        backend: BackendArgs,
        /// Names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Delete sandboxes openshell-wasm created and left behind (after a
    /// crash, say). Sandboxes kept with `run --keep` are left alone unless
    /// `--include-kept`.
    Sweep {
        #[command(flatten)]
        backend: BackendArgs,
        /// Only sandboxes older than this (e.g. `10m`), so running agents'
        /// sandboxes are not swept.
        #[arg(long, default_value = "0s")]
        older_than: String,
        /// Also delete sandboxes kept with `run --keep`.
        #[arg(long)]
        include_kept: bool,
        /// Only list what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
}

impl SandboxCommand {
    pub(super) async fn execute(self) -> u8 {
        match self {
            SandboxCommand::List { backend, owned, json } => {
                let b = match backend.build(false).await {
                    Ok(b) => b,
                    Err(e) => return fail(&e.to_string()),
                };
                let filter: Vec<(String, String)> =
                    if owned { vec![(OWNER_LABEL.into(), OWNER_VALUE.into())] } else { Vec::new() };
                match b.list(&filter).await {
                    Ok(list) if json => {
                        out_json(&json!(list));
                        exit::OK
                    }
                    Ok(list) => {
                        for s in list {
                            let mine = if s.is_host_owned() { " (openshell-wasm)" } else { "" };
                            out(&format!("{}  {:?}  {}{mine}", s.name, s.phase, s.workdir));
                        }
                        exit::OK
                    }
                    Err(e) => fail(&e.to_string()),
                }
            }
            SandboxCommand::Create { backend, name, spec } => {
                let mut spec = match spec.spec() {
                    Ok(s) => s,
                    Err(m) => {
                        report(&m);
                        return exit::USAGE;
                    }
                };
                spec.name = name;
                spec.ready_timeout = Duration::from_secs(300);
                let b = match backend.build(true).await {
                    Ok(b) => b,
                    Err(e) => return fail(&e.to_string()),
                };
                spec.labels.insert(OWNER_LABEL.into(), OWNER_VALUE.into());
                spec.labels.insert(KEEP_LABEL.into(), "true".into());
                match b.create(&spec).await {
                    Ok(info) => {
                        out(&info.name);
                        exit::OK
                    }
                    Err(e) => fail(&e.to_string()),
                }
            }
            SandboxCommand::Delete { backend, names } => {
                let b = match backend.build(false).await {
                    Ok(b) => b,
                    Err(e) => return fail(&e.to_string()),
                };
                let mut code = exit::OK;
                for n in names {
                    match b.delete(&n).await {
                        Ok(()) => out(&format!("deleted {n}")),
                        Err(e) => {
                            report(&e.to_string());
                            code = exit::BACKEND;
                        }
                    }
                }
                code
            }
            SandboxCommand::Sweep { backend, older_than, include_kept, dry_run } => {
                let age = match parse_duration(&older_than) {
                    Ok(d) => d,
                    Err(e) => {
                        report(&format!("--older-than: {e}"));
                        return exit::USAGE;
                    }
                };
                let b = match backend.build(false).await {
                    Ok(b) => b,
                    Err(e) => return fail(&e.to_string()),
                };
                let list = match b.list(&[(OWNER_LABEL.into(), OWNER_VALUE.into())]).await {
                    Ok(l) => l,
                    Err(e) => return fail(&e.to_string()),
                };
                let now = crate::backend::local::now_ms();
                let mut code = exit::OK;
                for s in list {
                    let kept = s.labels.get(KEEP_LABEL).map(String::as_str) == Some("true");
                    let old_enough = s.created_ms.is_none_or(|c| now.saturating_sub(c) >= age.as_millis() as u64);
                    if (kept && !include_kept) || !old_enough {
                        continue;
                    }
                    if dry_run {
                        out(&format!("would delete {}", s.name));
                        continue;
                    }
                    match b.delete(&s.name).await {
                        Ok(()) => out(&format!("deleted {}", s.name)),
                        Err(e) => {
                            report(&e.to_string());
                            code = exit::BACKEND;
                        }
                    }
                }
                code
            }
        }
    }
}

fn fail(msg: &str) -> u8 {
    report(msg);
    exit::BACKEND
}
