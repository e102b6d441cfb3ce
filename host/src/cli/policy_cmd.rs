//! `openshell-wasm policy check`: validate a host policy file, or with
//! `--sandbox` an OpenShell sandbox policy file.

use std::path::PathBuf;

use clap::Subcommand;

use super::{exit, out, report};
use crate::backend::openshell::config::Protocol;
use crate::backend::openshell::policy::{self as sandbox_policy, PolicyDoc};
use crate::policy::Policy;

/// Policy subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check a policy file and print what it grants; errors name the line
    /// and column.
    Check {
        /// The policy file.
        file: PathBuf,
        /// The file is an OpenShell sandbox policy (what `--sandbox-policy`
        /// takes), not a host policy.
        #[arg(long)]
        sandbox: bool,
        /// With `--sandbox`: also check that a gateway of this generation
        /// (`0.0` or `0.1`) can carry every field.
        #[arg(long, requires = "sandbox", value_parser = parse_protocol)]
        protocol: Option<Protocol>,
    },
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    Protocol::parse(s).ok_or_else(|| format!("unknown protocol {s:?}: expected 0.0 or 0.1"))
}

impl PolicyCommand {
    pub(super) fn execute(self) -> u8 {
        let PolicyCommand::Check { file, sandbox, protocol } = self;
        let checked = if sandbox { check_sandbox(&file, protocol) } else { check_host(&file) };
        match checked {
            Ok(lines) => {
                out(&format!("{}: ok", file.display()));
                for line in lines {
                    out(&format!("  {line}"));
                }
                exit::OK
            }
            Err(e) => {
                report(&e);
                exit::USAGE
            }
        }
    }
}

fn check_host(file: &std::path::Path) -> Result<Vec<String>, String> {
    Policy::from_file(file).map(|p| p.summary()).map_err(|e| e.to_string())
}

fn check_sandbox(file: &std::path::Path, protocol: Option<Protocol>) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let doc = sandbox_policy::parse_policy(&text, &file.display().to_string()).map_err(|e| e.message)?;
    if let Some(p) = protocol {
        sandbox_policy::check_generation(&doc.network_policies, p).map_err(|e| e.message)?;
    }
    Ok(summary(&doc))
}

/// One line per network rule: its hosts and ports, and what narrows it.
fn summary(doc: &PolicyDoc) -> Vec<String> {
    if doc.network_policies.is_empty() {
        return vec!["network: no rules (all egress denied)".into()];
    }
    doc.network_policies
        .iter()
        .map(|(name, rule)| {
            let endpoints: Vec<String> = rule
                .endpoints
                .iter()
                .map(|e| {
                    let ports: Vec<String> =
                        e.effective_ports().iter().filter(|p| **p != 0).map(u16::to_string).collect();
                    let mut s =
                        if ports.is_empty() { e.host.clone() } else { format!("{}:{}", e.host, ports.join(",")) };
                    if !e.rules.is_empty() || !e.deny_rules.is_empty() {
                        s += &format!(" ({} allow, {} deny L7 rules)", e.rules.len(), e.deny_rules.len());
                    }
                    s
                })
                .collect();
            let binaries = if rule.binaries.is_empty() {
                "any binary".to_string()
            } else {
                rule.binaries.iter().map(|b| b.path.as_str()).collect::<Vec<_>>().join(", ")
            };
            format!("network rule `{name}`: {} for {binaries}", endpoints.join("; "))
        })
        .collect()
}
