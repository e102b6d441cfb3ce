//! Running commands: a builder for `run`/`spawn`, and streamed processes.

use std::time::Duration;

use crate::bindings::openshell::sandbox::process::{self, ProcessEvent, RunOptions, RunOutput, SpawnOptions};
use crate::{ExitStatus, Result, Sandbox, Signal, TerminalSize};

/// A command to run in a sandbox: an argv, never a shell string.
#[derive(Debug, Clone, Default)]
pub struct Command {
    argv: Vec<String>,
    cwd: Option<String>,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    timeout_ms: Option<u32>,
    max_output: Option<u64>,
    pty: Option<TerminalSize>,
}

impl Command {
    /// Run `program` (looked up on the sandbox's `PATH`).
    pub fn new(program: impl Into<String>) -> Self {
        Command { argv: vec![program.into()], ..Command::default() }
    }
    /// `sh -c script`, for when shell syntax is really wanted.
    pub fn shell(script: impl Into<String>) -> Self {
        Command::new("sh").arg("-c").arg(script)
    }
    /// Add an argument.
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.argv.push(a.into());
        self
    }
    /// Add arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.argv.extend(args.into_iter().map(Into::into));
        self
    }
    /// Working directory (relative to the sandbox's workdir).
    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.cwd = Some(dir.into());
        self
    }
    /// Set an environment variable.
    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
    /// Bytes for stdin (`run` only).
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }
    /// Timeout.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout_ms = Some(u32::try_from(d.as_millis()).unwrap_or(u32::MAX).max(1));
        self
    }
    /// Keep at most this many bytes of stdout and of stderr (`run` only).
    pub fn max_output(mut self, bytes: u64) -> Self {
        self.max_output = Some(bytes);
        self
    }
    /// Allocate a terminal of this size (`spawn` only).
    pub fn pty(mut self, cols: u16, rows: u16) -> Self {
        self.pty = Some(TerminalSize { cols, rows });
        self
    }

    /// Run to completion and return the output. A non-zero exit is not an
    /// error; check [`RunOutput::success`].
    pub fn run(&self, sandbox: &Sandbox) -> Result<RunOutput> {
        let options = RunOptions {
            cwd: self.cwd.clone(),
            env: self.env.clone(),
            stdin: self.stdin.clone(),
            timeout_ms: self.timeout_ms,
            max_output_bytes: self.max_output,
        };
        Ok(process::run(&sandbox.0, &self.argv, &options)?)
    }

    /// Start and return at once; read output with [`Process::events`].
    pub fn spawn(&self, sandbox: &Sandbox) -> Result<Process> {
        let options =
            SpawnOptions { cwd: self.cwd.clone(), env: self.env.clone(), timeout_ms: self.timeout_ms, pty: self.pty };
        Ok(Process(process::spawn(&sandbox.0, &self.argv, &options)?))
    }
}

impl RunOutput {
    /// Exit code 0 and no timeout.
    pub fn success(&self) -> bool {
        self.exit_code == 0 && !self.timed_out
    }
    /// stdout as text (lossy).
    pub fn stdout_string(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    /// stderr as text (lossy).
    pub fn stderr_string(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Something a running process did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Output on stdout (or the terminal).
    Stdout(Vec<u8>),
    /// Output on stderr.
    Stderr(Vec<u8>),
    /// It ended.
    Exited(ExitStatus),
}

/// A running process.
#[derive(Debug)]
pub struct Process(process::Process);

impl Process {
    /// Host-assigned id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }
    /// Wait up to `timeout` (forever if `None`) for the next event;
    /// `Ok(None)` if nothing happened in time.
    pub fn next_event(&self, timeout: Option<Duration>) -> Result<Option<Event>> {
        let ms = timeout.map(|d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX));
        Ok(match self.0.next_event(ms)? {
            ProcessEvent::Stdout(b) => Some(Event::Stdout(b)),
            ProcessEvent::Stderr(b) => Some(Event::Stderr(b)),
            ProcessEvent::Exited(s) => Some(Event::Exited(s)),
            ProcessEvent::Pending => None,
        })
    }
    /// Events until (and including) the exit.
    pub fn events(&self) -> Events<'_> {
        Events { process: self, done: false }
    }
    /// Write to stdin.
    pub fn write_stdin(&self, data: &[u8]) -> Result<()> {
        Ok(self.0.write_stdin(data)?)
    }
    /// Close stdin.
    pub fn close_stdin(&self) -> Result<()> {
        Ok(self.0.close_stdin()?)
    }
    /// Resize the terminal.
    pub fn resize(&self, cols: u16, rows: u16) -> Result<()> {
        Ok(self.0.resize(TerminalSize { cols, rows })?)
    }
    /// Send a signal.
    pub fn kill(&self, signal: Signal) -> Result<()> {
        Ok(self.0.kill(signal)?)
    }
    /// Wait for the end, discarding unread output.
    pub fn wait(&self) -> Result<ExitStatus> {
        Ok(self.0.wait()?)
    }
}

/// Iterator over a process's events; see [`Process::events`].
#[derive(Debug)]
pub struct Events<'a> {
    process: &'a Process,
    done: bool,
}

impl Iterator for Events<'_> {
    type Item = Result<Event>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.process.next_event(None) {
            Ok(Some(e)) => {
                if matches!(e, Event::Exited(_)) {
                    self.done = true;
                }
                Some(Ok(e))
            }
            Ok(None) => self.next(),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
