//! `openshell-wasm approvals`: the operator's side of guests' requests for
//! network access. The run that asked waits for the answer and adds the
//! rule itself; this command only records the decision.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use super::{exit, out, out_json, report};
use crate::approvals::{ApprovalStore, Decision, Entry};
use crate::backend::local::now_ms;
use crate::error::ErrorCode;

/// Approval subcommands.
#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// List requests: pending ones, or all with `--all`.
    List {
        /// Include answered requests.
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The requests' directory.
        #[arg(long, env = "OPENSHELL_WASM_APPROVALS_DIR", value_name = "DIR")]
        approvals_dir: Option<PathBuf>,
    },
    /// Grant a request: its run adds the rule to the sandbox's policy.
    Approve(Decide),
    /// Refuse a request.
    Reject(Decide),
}

/// One decision.
#[derive(Debug, clap::Args)]
pub struct Decide {
    /// The request's id (`acc-…`).
    id: String,
    /// A note for the agent.
    #[arg(long, default_value = "")]
    note: String,
    /// The requests' directory.
    #[arg(long, env = "OPENSHELL_WASM_APPROVALS_DIR", value_name = "DIR")]
    approvals_dir: Option<PathBuf>,
}

fn store(dir: Option<PathBuf>) -> ApprovalStore {
    ApprovalStore::new(dir.unwrap_or_else(ApprovalStore::default_dir))
}

/// One line for a person: who asks what, and why.
fn line(e: &Entry) -> String {
    let r = &e.request;
    let narrowed = match (&r.method, &r.path) {
        (None, None) => String::new(),
        (m, p) => format!(" {} {}", m.as_deref().unwrap_or("*"), p.as_deref().unwrap_or("/**")),
    };
    let state = match (&e.answer, e.decision()) {
        (Some(a), d) => format!("{} ({})", d.as_str(), a.note),
        (None, _) => format!("pending, {}s left", r.expires_ms.saturating_sub(now_ms()) / 1000),
    };
    format!(
        // The reason is the guest's text: quoted and escaped, so it cannot
        // pass itself off as another request's line.
        "{}  {}:{}{}  sandbox {} ({})  run {}  {}\n    reason: {:?}",
        r.id, r.host, r.port, narrowed, r.sandbox, r.backend, r.run_id, state, r.reason
    )
}

impl ApprovalsCommand {
    pub(super) fn execute(self) -> u8 {
        match self {
            ApprovalsCommand::List { all, json, approvals_dir } => match store(approvals_dir).list() {
                Ok(list) => {
                    let shown: Vec<&Entry> =
                        list.iter().filter(|e| all || (e.answer.is_none() && !e.request.expired())).collect();
                    if json {
                        out_json(&json!(shown));
                    } else {
                        for e in shown {
                            out(&line(e));
                        }
                    }
                    exit::OK
                }
                Err(e) => {
                    report(&e.to_string());
                    exit::BACKEND
                }
            },
            ApprovalsCommand::Approve(d) => decide(d, Decision::Approved),
            ApprovalsCommand::Reject(d) => decide(d, Decision::Rejected),
        }
    }
}

fn decide(d: Decide, decision: Decision) -> u8 {
    match store(d.approvals_dir).decide(&d.id, decision, &d.note) {
        Ok(e) => {
            out(&line(&e));
            exit::OK
        }
        Err(e) => {
            report(&e.to_string());
            match e.code {
                ErrorCode::NotFound | ErrorCode::InvalidArgument | ErrorCode::Conflict => exit::USAGE,
                _ => exit::BACKEND,
            }
        }
    }
}
