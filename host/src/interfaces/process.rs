//! `process`: buffered `run` and streaming `spawn`, with the policy's
//! allowlist, timeouts and output caps applied uniformly on every backend.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc::error::TryRecvError;
use wasmtime::component::Resource;

use super::bindings::openshell::sandbox::process;
use super::{CallResult, SandboxCtxView, SandboxHandle, convert};
use crate::backend::{ExecEvent, ExecInput, ExecRequest, ExecSession, ExitInfo, SandboxInfo, Stdin};
use crate::error::SandboxError;
use crate::policy::paths;

/// Largest chunk `next-event` returns; smaller backend chunks of the same
/// stream are merged up to this size.
const MAX_EVENT_BYTES: usize = 64 * 1024;
/// How long past a command's own timeout the host waits for the backend to
/// report it before giving up on the command itself.
const TIMEOUT_GRACE: Duration = Duration::from_secs(10);

/// A spawned process, as the guest holds it.
#[derive(Debug)]
pub struct ProcessHandle {
    id: u32,
    session: ExecSession,
    stash: Option<ExecEvent>,
    exit: Option<ExitInfo>,
    stdin_open: bool,
    pty: bool,
    deadline: Instant,
    counted: bool,
}

/// Names of environment variables: `[A-Za-z_][A-Za-z0-9_]*`.
pub(super) fn check_env_name(name: &str, op: &str) -> Result<(), SandboxError> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric());
    if !ok {
        return Err(SandboxError::invalid(op, format!("`{name}` is not a valid environment variable name")));
    }
    Ok(())
}

/// Whether `argv0` is on the allowlist: exact names match the program or
/// its file name, `/` paths match exactly, and `*`/`?` are wildcards.
fn allowed_command(allow: &[String], argv0: &str) -> bool {
    let base = argv0.rsplit('/').next().unwrap_or(argv0);
    allow.iter().any(|pat| {
        if pat.contains('/') {
            crate::glob::matches(pat, argv0)
        } else {
            crate::glob::matches(pat, base) && (argv0 == base || argv0.starts_with('/'))
        }
    })
}

struct Prepared {
    request: ExecRequest,
    timeout: Duration,
}

impl SandboxCtxView<'_> {
    fn prepare(
        &self,
        sb: &SandboxInfo,
        argv: Vec<String>,
        cwd: Option<String>,
        env: Vec<(String, String)>,
        timeout_ms: Option<u32>,
        op: &str,
    ) -> Result<Prepared, SandboxError> {
        let policy = &self.ctx.policy;
        let Some(argv0) = argv.first() else {
            return Err(SandboxError::invalid(op, "argv is empty; give at least the program to run"));
        };
        if argv0.is_empty() {
            return Err(SandboxError::invalid(op, "argv[0] is empty"));
        }
        if let Some(i) = argv.iter().position(|a| a.contains('\0')) {
            return Err(SandboxError::invalid(op, format!("argv[{i}] contains a NUL byte")));
        }
        if let Some(allow) = &policy.exec.allow
            && !allowed_command(allow, argv0)
        {
            return Err(SandboxError::denied(
                op,
                format!("command `{argv0}` is not on the allowlist (policy exec.allow)"),
            ));
        }
        let mut env_map = std::collections::BTreeMap::new();
        for (k, v) in env {
            check_env_name(&k, op)?;
            if v.contains('\0') {
                return Err(SandboxError::invalid(op, format!("the value of {k} contains a NUL byte")));
            }
            env_map.insert(k, v);
        }
        let cwd = match cwd {
            None => sb.workdir.clone(),
            Some(c) => paths::normalize(&sb.workdir, &c).map_err(|m| SandboxError::invalid(op, format!("cwd: {m}")))?,
        };
        let timeout = match timeout_ms {
            None => policy.exec.default_timeout,
            Some(0) => return Err(SandboxError::invalid(op, "timeout-ms must be more than 0")),
            Some(ms) => Duration::from_millis(u64::from(ms)).min(policy.exec.max_timeout),
        };
        Ok(Prepared {
            request: ExecRequest { argv, cwd, env: env_map, stdin: Stdin::Interactive, pty: None, timeout },
            timeout,
        })
    }
}

impl process::Host for SandboxCtxView<'_> {
    async fn run(
        &mut self,
        sandbox: Resource<SandboxHandle>,
        argv: Vec<String>,
        options: process::RunOptions,
    ) -> CallResult<process::RunOutput> {
        let op = "process.run";
        let sb = self.sandbox_of(&sandbox)?;
        let mut prepared = self.prepare(sb.info(), argv, options.cwd, options.env, options.timeout_ms, op)?;
        prepared.request.stdin = Stdin::Bytes(Bytes::from(options.stdin.unwrap_or_default()));
        let cap = options
            .max_output_bytes
            .unwrap_or(self.ctx.policy.exec.max_output_bytes)
            .min(self.ctx.policy.exec.max_output_bytes);
        let started = Instant::now();
        let mut session = sb.exec(prepared.request).await.map_err(|e| e.with_operation(op))?;
        let deadline = tokio::time::Instant::now() + prepared.timeout + TIMEOUT_GRACE;
        let (mut stdout, mut stderr) = (Capped::new(cap), Capped::new(cap));
        let exit = loop {
            let event = match tokio::time::timeout_at(deadline, session.events.recv()).await {
                Ok(e) => e,
                Err(_) => {
                    // The backend did not report the timeout it was asked to
                    // enforce; dropping the session stops the command.
                    tracing::warn!("backend missed a command timeout; abandoning the command");
                    break ExitInfo { code: 124, timed_out: true, killed: false };
                }
            };
            match event {
                Some(ExecEvent::Stdout(b)) => stdout.push(&b),
                Some(ExecEvent::Stderr(b)) => stderr.push(&b),
                Some(ExecEvent::Exit(e)) => break e,
                Some(ExecEvent::Failed(e)) => return Err(e.with_operation(op).into()),
                None => {
                    return Err(SandboxError::unavailable(
                        op,
                        "the backend lost the command before it reported an exit status",
                    )
                    .into());
                }
            }
        };
        Ok(process::RunOutput {
            exit_code: exit.code,
            stdout_truncated: stdout.truncated,
            stderr_truncated: stderr.truncated,
            stdout: stdout.data,
            stderr: stderr.data,
            timed_out: exit.timed_out,
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }

    async fn spawn(
        &mut self,
        sandbox: Resource<SandboxHandle>,
        argv: Vec<String>,
        options: process::SpawnOptions,
    ) -> CallResult<Resource<ProcessHandle>> {
        let op = "process.spawn";
        let sb = self.sandbox_of(&sandbox)?;
        let features = self.ctx.backend.features();
        if options.pty.is_some() && !features.pty {
            return Err(SandboxError::unsupported(
                op,
                format!("the {} backend has no pseudo-terminals", self.ctx.backend.name()),
            )
            .into());
        }
        let max = self.ctx.policy.exec.max_processes;
        if self.ctx.live_processes >= max {
            return Err(SandboxError::too_large(
                op,
                format!("{max} processes are already running (policy exec.max-processes)"),
            )
            .into());
        }
        let mut prepared = self.prepare(sb.info(), argv, options.cwd, options.env, options.timeout_ms, op)?;
        prepared.request.pty = options.pty.map(convert::term_size);
        let pty = prepared.request.pty.is_some();
        let session = sb.exec(prepared.request).await.map_err(|e| e.with_operation(op))?;
        let id = self.ctx.next_process_id;
        self.ctx.next_process_id += 1;
        self.ctx.live_processes += 1;
        let handle = ProcessHandle {
            id,
            session,
            stash: None,
            exit: None,
            stdin_open: true,
            pty,
            deadline: Instant::now() + prepared.timeout + TIMEOUT_GRACE,
            counted: true,
        };
        Ok(self.table.push_child(handle, &sandbox)?)
    }
}

/// Bytes kept up to a cap, with a flag when more arrived.
struct Capped {
    data: Vec<u8>,
    cap: u64,
    truncated: bool,
}

impl Capped {
    fn new(cap: u64) -> Self {
        Capped { data: Vec::new(), cap, truncated: false }
    }
    fn push(&mut self, b: &[u8]) {
        let room = self.cap.saturating_sub(self.data.len() as u64) as usize;
        let keep = room.min(b.len());
        self.data.extend_from_slice(&b[..keep]);
        if keep < b.len() {
            self.truncated = true;
        }
    }
}

enum Wait {
    Forever,
    Until(tokio::time::Instant),
    Poll,
}

impl ProcessHandle {
    /// Receive the next backend event, respecting `wait` and the process's
    /// own deadline. `Ok(None)` means nothing arrived in time.
    async fn recv(&mut self, wait: Wait) -> Result<Option<ExecEvent>, SandboxError> {
        if let Some(e) = self.stash.take() {
            return Ok(Some(e));
        }
        let hard = tokio::time::Instant::from_std(self.deadline);
        let until = match wait {
            Wait::Poll => {
                return match self.session.events.try_recv() {
                    Ok(e) => Ok(Some(e)),
                    Err(TryRecvError::Empty) => Ok(None),
                    Err(TryRecvError::Disconnected) => Err(lost()),
                };
            }
            Wait::Forever => hard,
            Wait::Until(t) => t.min(hard),
        };
        match tokio::time::timeout_at(until, self.session.events.recv()).await {
            Ok(Some(e)) => Ok(Some(e)),
            Ok(None) => Err(lost()),
            Err(_) if until >= hard => {
                // Past the command's timeout plus grace: the backend never
                // reported the timeout, so report it ourselves.
                Ok(Some(ExecEvent::Exit(ExitInfo { code: 124, timed_out: true, killed: false })))
            }
            Err(_) => Ok(None),
        }
    }

    /// Merge further ready chunks of the same stream into `first`.
    fn coalesce(&mut self, first: &[u8], stderr: bool) -> Bytes {
        let mut buf = BytesMut::from(first);
        while buf.len() < MAX_EVENT_BYTES {
            match self.session.events.try_recv() {
                Ok(ExecEvent::Stdout(b)) if !stderr && buf.len() + b.len() <= MAX_EVENT_BYTES => {
                    buf.extend_from_slice(&b);
                }
                Ok(ExecEvent::Stderr(b)) if stderr && buf.len() + b.len() <= MAX_EVENT_BYTES => {
                    buf.extend_from_slice(&b);
                }
                Ok(other) => {
                    self.stash = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        buf.freeze()
    }
}

fn lost() -> SandboxError {
    SandboxError::unavailable("process.next-event", "the backend lost the process before it reported an exit status")
}

impl SandboxCtxView<'_> {
    fn mark_exited(&mut self, handle: &Resource<ProcessHandle>, exit: ExitInfo) -> wasmtime::Result<()> {
        let p = self.table.get_mut(handle)?;
        p.exit = Some(exit);
        p.stdin_open = false;
        if std::mem::take(&mut p.counted) {
            self.ctx.live_processes = self.ctx.live_processes.saturating_sub(1);
        }
        Ok(())
    }
}

impl process::HostProcess for SandboxCtxView<'_> {
    async fn id(&mut self, handle: Resource<ProcessHandle>) -> wasmtime::Result<u32> {
        Ok(self.table.get(&handle)?.id)
    }

    async fn next_event(
        &mut self,
        handle: Resource<ProcessHandle>,
        timeout_ms: Option<u32>,
    ) -> CallResult<process::ProcessEvent> {
        let p = self.table.get_mut(&handle)?;
        if let Some(exit) = p.exit {
            return Ok(process::ProcessEvent::Exited(convert::exit_status(exit)));
        }
        let wait = match timeout_ms {
            None => Wait::Forever,
            Some(0) => Wait::Poll,
            Some(ms) => Wait::Until(tokio::time::Instant::now() + Duration::from_millis(u64::from(ms))),
        };
        let event = p.recv(wait).await.map_err(|e| e.with_operation("process.next-event"))?;
        Ok(match event {
            None => process::ProcessEvent::Pending,
            Some(ExecEvent::Stdout(b)) => process::ProcessEvent::Stdout(p.coalesce(&b, false).to_vec()),
            Some(ExecEvent::Stderr(b)) => process::ProcessEvent::Stderr(p.coalesce(&b, true).to_vec()),
            Some(ExecEvent::Exit(exit)) => {
                self.mark_exited(&handle, exit)?;
                process::ProcessEvent::Exited(convert::exit_status(exit))
            }
            Some(ExecEvent::Failed(e)) => return Err(e.with_operation("process.next-event").into()),
        })
    }

    async fn write_stdin(&mut self, handle: Resource<ProcessHandle>, data: Vec<u8>) -> CallResult<()> {
        let op = "process.write-stdin";
        let p = self.table.get_mut(&handle)?;
        if !p.stdin_open {
            return Err(
                SandboxError::conflict(op, "stdin is closed (close-stdin was called or the process exited)").into()
            );
        }
        let send = p.session.input.send(ExecInput::Stdin(Bytes::from(data)));
        match tokio::time::timeout_at(tokio::time::Instant::from_std(p.deadline), send).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(SandboxError::conflict(op, "the process has exited").into()),
            Err(_) => Err(SandboxError::timeout(op, "the process stopped reading stdin until its timeout").into()),
        }
    }

    async fn close_stdin(&mut self, handle: Resource<ProcessHandle>) -> CallResult<()> {
        let p = self.table.get_mut(&handle)?;
        if std::mem::take(&mut p.stdin_open) {
            let _ = p.session.input.send(ExecInput::CloseStdin).await;
        }
        Ok(())
    }

    async fn resize(&mut self, handle: Resource<ProcessHandle>, size: process::TerminalSize) -> CallResult<()> {
        let p = self.table.get_mut(&handle)?;
        if !p.pty {
            return Err(
                SandboxError::invalid("process.resize", "the process has no terminal (spawn it with pty)").into()
            );
        }
        let _ = p.session.input.send(ExecInput::Resize(convert::term_size(size))).await;
        Ok(())
    }

    async fn kill(&mut self, handle: Resource<ProcessHandle>, signal: process::Signal) -> CallResult<()> {
        if !self.ctx.backend.features().signals {
            return Err(SandboxError::unsupported(
                "process.kill",
                format!("the {} backend cannot deliver signals", self.ctx.backend.name()),
            )
            .into());
        }
        let p = self.table.get_mut(&handle)?;
        if p.exit.is_none() {
            let _ = p.session.input.send(ExecInput::Signal(convert::signal(signal))).await;
        }
        Ok(())
    }

    async fn wait(&mut self, handle: Resource<ProcessHandle>) -> CallResult<process::ExitStatus> {
        loop {
            let p = self.table.get_mut(&handle)?;
            if let Some(exit) = p.exit {
                return Ok(convert::exit_status(exit));
            }
            match p.recv(Wait::Forever).await.map_err(|e| e.with_operation("process.wait"))? {
                Some(ExecEvent::Exit(exit)) => self.mark_exited(&handle, exit)?,
                Some(ExecEvent::Failed(e)) => return Err(e.with_operation("process.wait").into()),
                // Output the guest chose not to read is discarded.
                Some(_) | None => {}
            }
        }
    }

    async fn drop(&mut self, handle: Resource<ProcessHandle>) -> wasmtime::Result<()> {
        let p = self.table.delete(handle)?;
        if p.counted {
            self.ctx.live_processes = self.ctx.live_processes.saturating_sub(1);
        }
        // Dropping the session closes its channels; the backend kills a
        // command nobody listens to any more.
        drop(p);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_matching() {
        let allow = vec!["git".to_string(), "/usr/bin/python3".to_string(), "py*".to_string()];
        assert!(allowed_command(&allow, "git"));
        assert!(allowed_command(&allow, "/usr/bin/git"));
        assert!(allowed_command(&allow, "/usr/bin/python3"));
        assert!(allowed_command(&allow, "pytest"));
        let strict = vec!["/usr/bin/python3".to_string()];
        assert!(!allowed_command(&strict, "python3"), "a path entry does not allow the bare name");
        assert!(!allowed_command(&allow, "./git"), "relative paths to other binaries are not the allowed program");
        assert!(!allowed_command(&allow, "curl"));
    }

    #[test]
    fn env_names() {
        assert!(check_env_name("PATH", "x").is_ok());
        assert!(check_env_name("_a1", "x").is_ok());
        assert!(check_env_name("1A", "x").is_err());
        assert!(check_env_name("A-B", "x").is_err());
        assert!(check_env_name("", "x").is_err());
    }
}
