//! `openshell-wasm policy check`: validate a policy file.

use std::path::PathBuf;

use clap::Subcommand;

use super::{exit, out, report};
use crate::policy::Policy;

/// Policy subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check a policy file and print the effective policy.
    Check {
        /// The policy file.
        file: PathBuf,
    },
}

impl PolicyCommand {
    pub(super) fn execute(self) -> u8 {
        match self {
            PolicyCommand::Check { file } => match Policy::from_file(&file) {
                Ok(p) => {
                    out(&format!("{}: ok", file.display()));
                    for line in p.summary() {
                        out(&format!("  {line}"));
                    }
                    exit::OK
                }
                Err(e) => {
                    report(&e.to_string());
                    exit::USAGE
                }
            },
        }
    }
}
