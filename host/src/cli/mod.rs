//! The `openshell-wasm` command line: argument parsing and output, over the
//! library. Every subcommand lives in its own module with an `execute`.
//!
//! Exit codes (stable, documented in the README):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the agent reported an error (or the command exited non-zero) |
//! | 2 | bad usage or input: flags, policy file, component file |
//! | 3 | a host or backend error: sandbox setup, gateway, seeding, cleanup |
//! | 4 | the guest exceeded a limit (memory, CPU time, wall-clock) |
//! | 5 | the guest trapped |
//! | 130 | interrupted (SIGINT); 143 for SIGTERM |

mod approvals;
mod backend_args;
mod compile;
mod host_args;
mod inspect;
mod mcp;
mod new;
mod policy_cmd;
mod run;
mod sandbox;
mod snapshot;
mod wit;

use clap::{Parser, Subcommand};

pub use backend_args::{BackendArgs, SpecArgs};

/// Exit codes.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The agent reported an error.
    pub const AGENT_ERROR: u8 = 1;
    /// Bad usage or input.
    pub const USAGE: u8 = 2;
    /// Host or backend error.
    pub const BACKEND: u8 = 3;
    /// A guest limit was exceeded.
    pub const LIMIT: u8 = 4;
    /// The guest trapped.
    pub const TRAP: u8 = 5;
    /// Interrupted by SIGINT.
    pub const INTERRUPTED: u8 = 130;
    /// Terminated by SIGTERM.
    pub const TERMINATED: u8 = 143;
}

/// Run WebAssembly agent components against OpenShell sandboxes, or against
/// an isolated local workspace.
#[derive(Debug, Parser)]
#[command(name = "openshell-wasm", version, about, long_about = None)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace). RUST_LOG
    /// overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    log_json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant, reason = "parsed once per process; boxing the variants buys nothing")]
enum Command {
    /// Run an agent component once and print its result.
    Run(run::RunArgs),
    /// Show a component's imports and exports and whether this host can run it.
    Inspect(inspect::InspectArgs),
    /// Compile components into the cache, so later runs start at once.
    Compile(compile::CompileArgs),
    /// Write the openshell:sandbox WIT package to a directory, for guest authors.
    Wit(wit::WitArgs),
    /// Start an agent project: `new --lang rust|python|js|c [--template minimal|agent] DIR`.
    New(new::NewArgs),
    /// Manage sandboxes.
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
    /// Manage stored snapshots.
    #[command(subcommand)]
    Snapshot(snapshot::SnapshotCommand),
    /// Work with policy files.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Serve sandboxes and components as tools to MCP clients (stdio, or
    /// Streamable HTTP with --listen).
    Mcp(mcp::McpArgs),
    /// Answer guests' requests for network access.
    #[command(subcommand)]
    Approvals(approvals::ApprovalsCommand),
}

/// Parse arguments, set up logging, run the command; returns the exit code.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            report(&format!("cannot start the async runtime: {e}"));
            return std::process::ExitCode::from(exit::BACKEND);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Run(a) => a.execute().await,
            Command::Inspect(a) => a.execute().await,
            Command::Compile(a) => a.execute().await,
            Command::Wit(a) => a.execute(),
            Command::New(a) => a.execute(),
            Command::Sandbox(c) => c.execute().await,
            Command::Snapshot(c) => c.execute(),
            Command::Policy(c) => c.execute(),
            Command::Approvals(c) => c.execute(),
            Command::Mcp(a) => a.execute().await,
        }
    });
    // Do not wait for stray blocking tasks (e.g. a reader of a killed
    // process) at exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    std::process::ExitCode::from(code)
}

fn init_logging(verbose: u8, json: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

/// Print an error line for the user on stderr.
pub(crate) fn report(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "error: {msg}");
}

/// Print a line on stdout.
pub(crate) fn out(line: &str) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{line}");
}

/// Print a JSON value on stdout.
pub(crate) fn out_json(v: &serde_json::Value) {
    out(&serde_json::to_string(v).unwrap_or_else(|_| "{}".into()));
}
