//! `openshell-wasm snapshot`: list and delete stored snapshots.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use super::{exit, out, out_json, report};
use crate::snapshot_store::SnapshotStore;

/// Snapshot subcommands.
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// List snapshots, newest first.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Snapshot store directory.
        #[arg(long, env = "OPENSHELL_WASM_SNAPSHOT_DIR", value_name = "DIR")]
        snapshot_dir: Option<PathBuf>,
    },
    /// Delete snapshots.
    Delete {
        /// Snapshot ids.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Snapshot store directory.
        #[arg(long, env = "OPENSHELL_WASM_SNAPSHOT_DIR", value_name = "DIR")]
        snapshot_dir: Option<PathBuf>,
    },
}

fn open(dir: Option<PathBuf>) -> Result<SnapshotStore, u8> {
    SnapshotStore::open(dir.unwrap_or_else(SnapshotStore::default_dir)).map_err(|e| {
        report(&e.to_string());
        exit::BACKEND
    })
}

impl SnapshotCommand {
    pub(super) fn execute(self) -> u8 {
        match self {
            SnapshotCommand::List { json, snapshot_dir } => {
                let store = match open(snapshot_dir) {
                    Ok(s) => s,
                    Err(c) => return c,
                };
                match store.list() {
                    Ok(list) if json => {
                        out_json(&json!(list));
                        exit::OK
                    }
                    Ok(list) => {
                        for s in list {
                            out(&format!(
                                "{}  {:>10} B  {:>6} entries  {}:{}  sha256 {}",
                                s.id,
                                s.size,
                                s.entries,
                                s.sandbox,
                                s.root,
                                &s.sha256[..16]
                            ));
                        }
                        exit::OK
                    }
                    Err(e) => {
                        report(&e.to_string());
                        exit::BACKEND
                    }
                }
            }
            SnapshotCommand::Delete { ids, snapshot_dir } => {
                let store = match open(snapshot_dir) {
                    Ok(s) => s,
                    Err(c) => return c,
                };
                let mut code = exit::OK;
                for id in ids {
                    match store.delete(&id) {
                        Ok(()) => out(&format!("deleted {id}")),
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
