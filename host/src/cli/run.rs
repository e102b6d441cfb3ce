//! `openshell-wasm run`: run an agent once.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::host_args::{BindArgs, HostArgs};
use super::{exit, out, out_json, report};
use crate::runtime::{AgentKind, Collect, RunError, RunFailure, RunOutcome, RunRequest, Seed};

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The component (.wasm) to run.
    component: PathBuf,

    /// The agent's input (the string passed to `run`; a command's stdin).
    #[arg(long, conflicts_with = "input_file")]
    input: Option<String>,

    /// Read the input from a file (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    input_file: Option<PathBuf>,

    #[command(flatten)]
    host: HostArgs,

    #[command(flatten)]
    bind: BindArgs,

    /// Copy a host file or directory into the sandbox first
    /// (HOST_PATH[:SANDBOX_PATH]; default destination: its name in the workdir).
    #[arg(long, value_name = "HOST[:SANDBOX]")]
    seed: Vec<String>,

    /// Copy a sandbox path to the host after the run (SANDBOX_PATH:HOST_PATH).
    #[arg(long, value_name = "SANDBOX:HOST")]
    collect: Vec<String>,

    /// A TOML manifest with [[seed]] {host, sandbox} and [[collect]]
    /// {sandbox, host} entries.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,

    /// Print one JSON object (result, sandbox, stats, guest output) on stdout.
    #[arg(long)]
    json: bool,

    /// Arguments passed to a command component (after `--`).
    #[arg(last = true)]
    args: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    #[serde(default)]
    seed: Vec<ManifestSeed>,
    #[serde(default)]
    collect: Vec<ManifestCollect>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestSeed {
    host: PathBuf,
    sandbox: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestCollect {
    sandbox: String,
    host: PathBuf,
}

/// Parse `HOST[:SANDBOX]`.
fn parse_seed(s: &str) -> Seed {
    match s.split_once(':') {
        Some((host, sandbox)) if !sandbox.is_empty() => {
            Seed { host: PathBuf::from(host), sandbox: sandbox.to_string() }
        }
        _ => {
            let host = PathBuf::from(s.trim_end_matches(':'));
            let name = host.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| ".".into());
            Seed { host, sandbox: name }
        }
    }
}

/// Parse `SANDBOX:HOST`.
fn parse_collect(s: &str) -> Result<Collect, String> {
    match s.split_once(':') {
        Some((sandbox, host)) if !sandbox.is_empty() && !host.is_empty() => {
            Ok(Collect { sandbox: sandbox.to_string(), host: PathBuf::from(host) })
        }
        _ => Err(format!("--collect {s:?}: expected SANDBOX_PATH:HOST_PATH")),
    }
}

fn read_manifest(path: &Path) -> Result<Manifest, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read the manifest {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        let at = e
            .span()
            .map(|s| format!(":{}", text[..s.start.min(text.len())].matches('\n').count() + 1))
            .unwrap_or_default();
        format!("{}{at}: {}", path.display(), e.message().trim())
    })
}

impl RunArgs {
    pub(super) async fn execute(self) -> u8 {
        match self.try_execute().await {
            Ok(code) => code,
            Err((code, msg)) => {
                if self.json {
                    out_json(&json!({ "ok": false, "exit_code": code, "error": { "kind": "usage", "message": msg } }));
                }
                report(&msg);
                code
            }
        }
    }

    async fn try_execute(&self) -> Result<u8, (u8, String)> {
        let input = match (&self.input, &self.input_file) {
            (Some(s), _) => s.clone(),
            (None, Some(f)) if f.as_os_str() == "-" => {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                    .map_err(|e| (exit::USAGE, format!("cannot read stdin: {e}")))?;
                s
            }
            (None, Some(f)) => {
                std::fs::read_to_string(f).map_err(|e| (exit::USAGE, format!("cannot read {}: {e}", f.display())))?
            }
            (None, None) => String::new(),
        };
        let mut seeds: Vec<Seed> = self.seed.iter().map(|s| parse_seed(s)).collect();
        let mut collects: Vec<Collect> =
            self.collect.iter().map(|s| parse_collect(s)).collect::<Result<_, _>>().map_err(|m| (exit::USAGE, m))?;
        if let Some(m) = &self.manifest {
            let manifest = read_manifest(m).map_err(|msg| (exit::USAGE, msg))?;
            for s in manifest.seed {
                let sandbox = s.sandbox.unwrap_or_else(|| {
                    s.host.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| ".".into())
                });
                seeds.push(Seed { host: s.host, sandbox });
            }
            collects.extend(manifest.collect.into_iter().map(|c| Collect { sandbox: c.sandbox, host: c.host }));
        }
        for s in &seeds {
            if !s.host.exists() {
                return Err((exit::USAGE, format!("--seed: {} does not exist", s.host.display())));
            }
        }

        let host = self.host.build().await?;
        let agent = host
            .load_file(&self.component)
            .await
            .map_err(|e| (exit::USAGE, format!("{}: {e}", self.component.display())))?;
        if agent.kind() == AgentKind::Functions {
            let names: Vec<&str> = agent.functions().iter().map(|f| f.name.as_str()).collect();
            return Err((
                exit::USAGE,
                format!(
                    "{} has no entry point to run; it exports functions ({}): serve them as tools with \
                     `openshell-wasm mcp --component {}`",
                    self.component.display(),
                    names.join(", "),
                    self.component.display()
                ),
            ));
        }
        tracing::info!(
            component = agent.name(),
            code = ?agent.code_source(),
            load_ms = agent.load_time().as_millis() as u64,
            "component loaded"
        );

        let cancel = CancellationToken::new();
        let signal = watch_signals(cancel.clone());
        let mut request = RunRequest::new(input).keep(self.bind.keep).args(self.args.clone()).cancel_token(cancel);
        request.sandbox = self.bind.target()?;
        request.seeds = seeds;
        request.collects = collects;
        request.forward = Some(Arc::new(|_, data: &[u8]| {
            let mut e = std::io::stderr().lock();
            let _ = e.write_all(data);
        }));
        let result = host.run(&agent, request).await;
        let interrupted_by = signal.get();
        Ok(match result {
            Ok(outcome) => self.print_outcome(&outcome),
            Err(failure) => self.print_failure(&failure, interrupted_by),
        })
    }

    fn print_outcome(&self, o: &RunOutcome) -> u8 {
        let code = if o.result.is_ok() { exit::OK } else { exit::AGENT_ERROR };
        if self.json {
            let (result, error) = match &o.result {
                Ok(r) => (json!(r), json!(null)),
                Err(e) => (json!(null), json!({ "kind": "agent", "message": e })),
            };
            out_json(&json!({
                "ok": o.result.is_ok(),
                "exit_code": code,
                "result": result,
                "error": error,
                "sandbox": o.sandbox,
                "sandbox_kept": o.sandbox_kept,
                "stats": o.stats,
                "guest_output": guest_output_json(&o.output),
                "cleanup_errors": o.cleanup_errors,
            }));
        } else {
            match &o.result {
                Ok(r) => out(r.strip_suffix('\n').unwrap_or(r)),
                Err(e) => report(&format!("the agent failed: {e}")),
            }
            if o.output.truncated {
                tracing::warn!(
                    dropped = o.output.dropped_bytes,
                    "guest output passed its cap and was truncated (policy guest.output)"
                );
            }
            if o.sandbox_kept && self.bind.keep {
                let _ = writeln!(std::io::stderr(), "kept sandbox `{}`", o.sandbox.name);
            }
        }
        if !o.cleanup_errors.is_empty() && code == exit::OK {
            return exit::BACKEND;
        }
        code
    }

    fn print_failure(&self, f: &RunFailure, signal: Option<u8>) -> u8 {
        let (code, kind) = match &f.error {
            RunError::Load(_) => (exit::USAGE, "load"),
            RunError::Sandbox(_) | RunError::Host(_) => (exit::BACKEND, "backend"),
            RunError::Limit(_) => (exit::LIMIT, "limit"),
            RunError::Trap(_) => (exit::TRAP, "trap"),
            RunError::Interrupted => (signal.unwrap_or(exit::INTERRUPTED), "interrupted"),
        };
        if self.json {
            let limit = match &f.error {
                RunError::Limit(l) => serde_json::to_value(l).unwrap_or_default(),
                _ => json!(null),
            };
            out_json(&json!({
                "ok": false,
                "exit_code": code,
                "result": null,
                "error": { "kind": kind, "message": f.error.to_string(), "limit": limit },
                "sandbox": f.sandbox,
                "stats": f.stats,
                "guest_output": guest_output_json(&f.output),
                "cleanup_errors": f.cleanup_errors,
            }));
        }
        report(&f.error.to_string());
        for e in &f.cleanup_errors {
            report(e);
        }
        code
    }
}

/// Label on sandboxes created with `--keep`; `sandbox sweep` leaves them
/// alone unless asked.
pub(crate) const KEEP_LABEL: &str = "openshell-wasm/keep";

fn guest_output_json(o: &crate::runtime::CapturedOutput) -> serde_json::Value {
    json!({
        "stdout": String::from_utf8_lossy(&o.stdout),
        "stderr": String::from_utf8_lossy(&o.stderr),
        "truncated": o.truncated,
        "dropped_bytes": o.dropped_bytes,
    })
}

/// Which signal ended the run, if any.
pub(super) struct SignalSeen(Arc<std::sync::Mutex<Option<u8>>>);

impl SignalSeen {
    pub(super) fn get(&self) -> Option<u8> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Cancel `token` on SIGINT or SIGTERM; the run then cleans up and returns.
/// The handlers are installed before this returns (not in the task), so a
/// signal that arrives once the run has started is never the default
/// action, which would exit without cleaning up.
pub(super) fn watch_signals(token: CancellationToken) -> SignalSeen {
    use tokio::signal::unix::{SignalKind, signal};
    let seen = Arc::new(std::sync::Mutex::new(None));
    let s = seen.clone();
    let handlers = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()));
    tokio::spawn(async move {
        let (Ok(mut int), Ok(mut term)) = handlers else {
            return;
        };
        let code = tokio::select! {
            _ = int.recv() => exit::INTERRUPTED,
            _ = term.recv() => exit::TERMINATED,
        };
        *s.lock().unwrap_or_else(|p| p.into_inner()) = Some(code);
        let _ = writeln!(std::io::stderr(), "interrupted: stopping and cleaning up the sandboxes");
        token.cancel();
    });
    SignalSeen(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_and_collect_specs() {
        let s = parse_seed("./proj");
        assert_eq!((s.host, s.sandbox.as_str()), (PathBuf::from("./proj"), "proj"));
        let s = parse_seed("data/in.csv:inputs/in.csv");
        assert_eq!(s.sandbox, "inputs/in.csv");
        let c = parse_collect("out:./results").unwrap();
        assert_eq!((c.sandbox.as_str(), c.host), ("out", PathBuf::from("./results")));
        assert!(parse_collect("out").is_err());
        assert!(parse_collect(":x").is_err());
    }
}
