//! Commands: run one to completion, or start one and talk to it by id (the
//! Agents SDK's `exec_command` / `write_stdin` pattern).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::time::Instant;
use wasmtime::component::Resource;

use super::{ToolError, text_field};
use crate::interfaces::ProcessHandle;
use crate::interfaces::bindings::openshell::sandbox::process::{
    self as wit, Host as _, HostProcess as _, ProcessEvent, RunOptions, Signal, SpawnOptions, TerminalSize,
};
use crate::mcp::session::Bound;

pub(super) const RUN_COMMAND: &str = "Run a command in the sandbox and wait for it to finish. Give `command` as a \
    shell string (run with `sh -c`) or as an argv array. Returns the exit code, stdout and stderr (cut at \
    `max_output_bytes`, with a flag when cut) and whether it timed out. A non-zero exit is a result, not an error. \
    For commands that run long or need input, use exec_command.";
pub(super) const EXEC_COMMAND: &str = "Start a command in the sandbox and return its output after `yield_time_ms`. \
    If it is still running, the result carries a `session_id`: pass it to write_stdin to send input or just to \
    read more output, and to kill_command to stop it. Output is stdout and stderr interleaved.";
pub(super) const WRITE_STDIN: &str = "Write `chars` to the stdin of a command started with exec_command (an \
    empty string only polls), then return the output that arrives within `yield_time_ms`, and its exit code once \
    it has exited.";
pub(super) const KILL_COMMAND: &str = "Stop a command started with exec_command and return its exit status.";

/// Output returned per call when the caller does not say.
const DEFAULT_OUTPUT_BYTES: u64 = 64 * 1024;
/// The most output one exec_command or write_stdin call returns.
const MAX_OUTPUT_BYTES: u64 = 1024 * 1024;
const DEFAULT_YIELD_MS: u32 = 10_000;
const MAX_YIELD_MS: u32 = 300_000;

/// A command: a shell string or an argv array.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub(crate) enum Command {
    /// Run with `sh -c`, e.g. `"ls -la | head"`.
    Shell(String),
    /// The program and its arguments, run without a shell, e.g. `["python3", "main.py"]`.
    Argv(Vec<String>),
}

impl Command {
    fn argv(self) -> Vec<String> {
        match self {
            Command::Shell(s) => vec!["sh".into(), "-c".into(), s],
            Command::Argv(v) => v,
        }
    }
}

/// Arguments of run_command.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunCommand {
    /// The command: a shell string or an argv array.
    command: Command,
    /// Working directory (default: the sandbox's workdir; relative paths are under it).
    #[serde(default)]
    cwd: Option<String>,
    /// Extra environment variables.
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// Text written to the command's stdin (then closed).
    #[serde(default)]
    stdin: Option<String>,
    /// Stop the command after this many milliseconds (default and upper bound: the host policy's).
    #[serde(default)]
    timeout_ms: Option<u32>,
    /// Keep at most this many bytes of stdout and of stderr (default and upper bound: the host policy's).
    #[serde(default)]
    max_output_bytes: Option<u64>,
    /// The sandbox to run in (default: this session's).
    #[serde(default)]
    sandbox: Option<String>,
}

pub(super) async fn run_command(b: &mut Bound, a: RunCommand) -> Result<Value, ToolError> {
    let sb = b.sandbox(a.sandbox.as_deref()).await?;
    let options = RunOptions {
        cwd: a.cwd,
        env: a.env.into_iter().collect(),
        stdin: a.stdin.map(String::into_bytes),
        timeout_ms: a.timeout_ms,
        max_output_bytes: a.max_output_bytes,
    };
    let out = b.view().run(sb, a.command.argv(), options).await?;
    let mut result = Map::new();
    result.insert("exit_code".into(), json!(out.exit_code));
    text_field(&mut result, "stdout", &out.stdout);
    text_field(&mut result, "stderr", &out.stderr);
    result.insert("stdout_truncated".into(), json!(out.stdout_truncated));
    result.insert("stderr_truncated".into(), json!(out.stderr_truncated));
    result.insert("timed_out".into(), json!(out.timed_out));
    result.insert("duration_ms".into(), json!(out.duration_ms));
    Ok(Value::Object(result))
}

/// Arguments of exec_command.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExecCommand {
    /// The command: a shell string or an argv array.
    command: Command,
    /// Working directory (default: the sandbox's workdir).
    #[serde(default)]
    cwd: Option<String>,
    /// Extra environment variables.
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// Run under a pseudo-terminal (for programs that want one, such as REPLs).
    #[serde(default)]
    tty: bool,
    /// How long to wait for output before returning, in milliseconds (default 10000, at most 300000).
    #[serde(default)]
    yield_time_ms: Option<u32>,
    /// Return at most this many bytes of output (default 65536, at most 1048576).
    #[serde(default)]
    max_output_bytes: Option<u64>,
    /// Stop the command after this many milliseconds (default and upper bound: the host policy's).
    #[serde(default)]
    timeout_ms: Option<u32>,
    /// The sandbox to run in (default: this session's).
    #[serde(default)]
    sandbox: Option<String>,
}

pub(super) async fn exec_command(b: &mut Bound, a: ExecCommand) -> Result<Value, ToolError> {
    let sb = b.sandbox(a.sandbox.as_deref()).await?;
    let options = SpawnOptions {
        cwd: a.cwd,
        env: a.env.into_iter().collect(),
        timeout_ms: a.timeout_ms,
        pty: a.tty.then_some(TerminalSize { cols: 120, rows: 40 }),
    };
    let handle = b.view().spawn(sb, a.command.argv(), options).await?;
    collect(b, handle, a.yield_time_ms, a.max_output_bytes).await
}

/// Arguments of write_stdin.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WriteStdin {
    /// The `session_id` exec_command returned.
    session_id: u32,
    /// Text to write to the command's stdin (empty: only read output).
    #[serde(default)]
    chars: String,
    /// Close stdin after writing (the command then sees end of input).
    #[serde(default)]
    close_stdin: bool,
    /// How long to wait for output before returning, in milliseconds (default 10000, at most 300000).
    #[serde(default)]
    yield_time_ms: Option<u32>,
    /// Return at most this many bytes of output (default 65536, at most 1048576).
    #[serde(default)]
    max_output_bytes: Option<u64>,
}

pub(super) async fn write_stdin(b: &mut Bound, a: WriteStdin) -> Result<Value, ToolError> {
    let handle = take(b, a.session_id)?;
    let rep = handle.rep();
    let mut view = b.view();
    let written = async {
        if !a.chars.is_empty() {
            view.write_stdin(Resource::new_borrow(rep), a.chars.into_bytes()).await?;
        }
        if a.close_stdin {
            view.close_stdin(Resource::new_borrow(rep)).await?;
        }
        Ok::<_, ToolError>(())
    }
    .await;
    if let Err(e) = written {
        b.processes.insert(a.session_id, handle);
        return Err(e);
    }
    collect(b, handle, a.yield_time_ms, a.max_output_bytes).await
}

/// Arguments of kill_command.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct KillCommand {
    /// The `session_id` exec_command returned.
    session_id: u32,
    /// The signal: `kill` (default), `terminate`, `interrupt` or `hangup`.
    #[serde(default)]
    signal: Option<SignalName>,
}

/// A signal's name.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SignalName {
    Interrupt,
    Terminate,
    Kill,
    Hangup,
}

/// How long kill_command waits for the command to exit.
const KILL_WAIT: Duration = Duration::from_secs(10);

pub(super) async fn kill_command(b: &mut Bound, a: KillCommand) -> Result<Value, ToolError> {
    let handle = take(b, a.session_id)?;
    let signal = match a.signal.unwrap_or(SignalName::Kill) {
        SignalName::Interrupt => Signal::Interrupt,
        SignalName::Terminate => Signal::Terminate,
        SignalName::Kill => Signal::Kill,
        SignalName::Hangup => Signal::Hangup,
    };
    let rep = handle.rep();
    if let Err(e) = b.view().kill(Resource::new_borrow(rep), signal).await {
        b.processes.insert(a.session_id, handle);
        return Err(e.into());
    }
    let waited = tokio::time::timeout(KILL_WAIT, b.view().wait(Resource::new_borrow(rep))).await;
    // Dropping the handle ends the command even if it ignored the signal.
    let _ = wit::HostProcess::drop(&mut b.view(), handle).await;
    match waited {
        Ok(exit) => {
            let exit = exit?;
            Ok(json!({ "exit_code": exit.exit_code, "killed": exit.killed, "timed_out": exit.timed_out }))
        }
        Err(_) => Ok(json!({ "exit_code": null, "killed": true, "timed_out": false })),
    }
}

fn take(b: &mut Bound, id: u32) -> Result<Resource<ProcessHandle>, ToolError> {
    b.processes.remove(&id).ok_or_else(|| {
        ToolError::Arguments(format!(
            "no running command has session_id {id}; it exited already or was never started (exec_command starts one)"
        ))
    })
}

/// Gather output until the command exits, `yield_ms` pass or the output
/// cap is reached. A command still running is kept under its id.
async fn collect(
    b: &mut Bound,
    handle: Resource<ProcessHandle>,
    yield_ms: Option<u32>,
    max_bytes: Option<u64>,
) -> Result<Value, ToolError> {
    let rep = handle.rep();
    let yield_ms = yield_ms.unwrap_or(DEFAULT_YIELD_MS).min(MAX_YIELD_MS);
    let cap = max_bytes.unwrap_or(DEFAULT_OUTPUT_BYTES).min(MAX_OUTPUT_BYTES) as usize;
    let deadline = Instant::now() + Duration::from_millis(u64::from(yield_ms));
    let mut view = b.view();
    let id = view.id(Resource::new_borrow(rep)).await.map_err(|e| ToolError::Host(format!("{e:#}")))?;
    let mut output = Vec::new();
    let mut truncated = false;
    let mut exit = None;
    while output.len() < cap {
        let left = deadline.saturating_duration_since(Instant::now()).as_millis() as u32;
        match view.next_event(Resource::new_borrow(rep), Some(left)).await {
            Ok(ProcessEvent::Stdout(d) | ProcessEvent::Stderr(d)) => {
                let room = cap - output.len();
                truncated |= d.len() > room;
                output.extend_from_slice(&d[..d.len().min(room)]);
            }
            Ok(ProcessEvent::Exited(e)) => {
                exit = Some(e);
                break;
            }
            Ok(ProcessEvent::Pending) => break,
            Err(e) => {
                let _ = wit::HostProcess::drop(&mut b.view(), handle).await;
                return Err(e.into());
            }
        }
        if left == 0 {
            break;
        }
    }
    let mut result = Map::new();
    text_field(&mut result, "output", &output);
    result.insert("output_truncated".into(), json!(truncated));
    match exit {
        Some(e) => {
            let _ = wit::HostProcess::drop(&mut b.view(), handle).await;
            exit_fields(&mut result, &e);
        }
        None => {
            b.processes.insert(id, handle);
            result.insert("session_id".into(), json!(id));
            result.insert("running".into(), json!(true));
        }
    }
    Ok(Value::Object(result))
}

fn exit_fields(result: &mut Map<String, Value>, e: &wit::ExitStatus) {
    result.insert("running".into(), json!(false));
    result.insert("exit_code".into(), json!(e.exit_code));
    result.insert("timed_out".into(), json!(e.timed_out));
    result.insert("killed".into(), json!(e.killed));
}
