//! ExecSandbox and ExecSandboxInteractive (fact sheet §3.3, §3.4).
//!
//! Validation happens before the response stream opens, so its errors are
//! the call status. Then one task per exec sleeps the configured setup
//! cost, runs `bash -lc <command string>` in the local sandbox and relays
//! its output in events of at most 4096 bytes, then exactly one exit event.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use openshell_wasm::backend::{Backend as _, ExecEvent, ExecInput, ExecRequest, ExecSession, Stdin, TermSize};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tonic::Status;

use super::model::{Phase, Target};
use super::{Gateway, SANDBOX_WORKDIR, shell, validate};

/// The largest output event: the supervisor reads child output 4096 bytes
/// at a time and forwards each read as one event.
pub(crate) const MAX_EVENT_BYTES: usize = 4096;

/// What the gateway says when a relay ends without an exit status.
pub(crate) const RELAY_CLOSED: &str = "exec relay closed before the command reported an exit status";

/// The interactive PTY size when the start message leaves it at 0.
const DEFAULT_TERM: TermSize = TermSize { cols: 80, rows: 24 };

/// Events buffered towards the client before the command is paused.
const EVENT_BUFFER: usize = 32;

/// An exec request, either generation.
#[derive(Debug, Clone)]
pub(crate) struct ExecSpec {
    pub target: Target,
    pub command: Vec<String>,
    pub workdir: String,
    pub environment: BTreeMap<String, String>,
    /// `None`: no server-side limit.
    pub timeout: Option<Duration>,
    /// Delivered then EOF (ignored for interactive exec).
    pub stdin: Bytes,
    pub tty: bool,
    pub cols: u32,
    pub rows: u32,
    /// `bash -lc` (the default) rather than `bash -c` (0.1 `no_login_shell`).
    pub login_shell: bool,
}

/// One event towards the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExecOutput {
    Stdout(Bytes),
    Stderr(Bytes),
    Exit(i32),
}

/// The response stream of an exec: events, or a final error status.
pub(crate) type ExecEvents = mpsc::Receiver<Result<ExecOutput, Status>>;

/// One client message of an interactive exec after the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientFrame {
    /// A further `start`: ignored.
    Start,
    Stdin(Bytes),
    Resize {
        cols: u32,
        rows: u32,
    },
}

/// The client's remaining interactive messages.
type Frames = Pin<Box<dyn Stream<Item = Result<ClientFrame, Status>> + Send>>;

/// A validated exec, ready to run.
#[derive(Debug)]
struct Prepared {
    /// The gateway's id of the sandbox (for the `error_ends_execs` fault).
    sandbox_id: String,
    local_name: String,
    argv: Vec<String>,
    pty: Option<TermSize>,
    timeout: Option<Duration>,
    stdin: Stdin,
}

fn term_size(cols: u32, rows: u32) -> TermSize {
    TermSize { cols: u16::try_from(cols).unwrap_or(u16::MAX), rows: u16::try_from(rows).unwrap_or(u16::MAX) }
}

impl Gateway {
    /// ExecSandbox. The caller has checked that the sandbox reference is
    /// not empty (its message names the generation's field).
    pub(crate) fn exec(&self, spec: ExecSpec) -> Result<ExecEvents, Status> {
        let prepared = self.prepare(spec, false)?;
        let (tx, rx) = mpsc::channel(EVENT_BUFFER);
        tokio::spawn(self.clone().run(prepared, None, tx));
        Ok(rx)
    }

    /// ExecSandboxInteractive, after the adapter read the `start` message:
    /// `frames` are the client's later messages.
    pub(crate) fn exec_interactive(
        &self,
        spec: ExecSpec,
        frames: impl Stream<Item = Result<ClientFrame, Status>> + Send + 'static,
    ) -> Result<ExecEvents, Status> {
        let prepared = self.prepare(spec, true)?;
        let (tx, rx) = mpsc::channel(EVENT_BUFFER);
        tokio::spawn(self.clone().run(prepared, Some(Box::pin(frames)), tx));
        Ok(rx)
    }

    /// The real gateway's checks, in its order, then the command string.
    fn prepare(&self, spec: ExecSpec, interactive: bool) -> Result<Prepared, Status> {
        if spec.command.is_empty() {
            return Err(Status::invalid_argument("command is required"));
        }
        validate::exec_fields(&spec.command, &spec.workdir, &spec.environment)?;
        let sandbox = self.get(&spec.target)?;
        if sandbox.phase != Phase::Ready {
            return Err(Status::failed_precondition("sandbox is not ready"));
        }
        let line = shell::command_string(&spec.command, &spec.workdir, &spec.environment)?;
        let flag = if spec.login_shell { "-lc" } else { "-c" };
        let pty = spec.tty.then(|| match (interactive, spec.cols, spec.rows) {
            (true, 0, 0) => DEFAULT_TERM,
            (true, cols, rows) => term_size(
                if cols == 0 { u32::from(DEFAULT_TERM.cols) } else { cols },
                if rows == 0 { u32::from(DEFAULT_TERM.rows) } else { rows },
            ),
            // Non-interactive PTYs are requested as given (0x0 by default).
            (false, cols, rows) => term_size(cols, rows),
        });
        Ok(Prepared {
            sandbox_id: sandbox.id,
            local_name: sandbox.local_name,
            argv: vec!["/bin/bash".into(), flag.into(), line],
            pty,
            timeout: spec.timeout.filter(|t| !t.is_zero()),
            stdin: if interactive { Stdin::Interactive } else { Stdin::Bytes(spec.stdin) },
        })
    }

    async fn start_session(&self, p: &Prepared) -> Result<ExecSession, Status> {
        let relay_failed = |e: openshell_wasm::error::SandboxError| {
            Status::unavailable(format!("supervisor relay failed: {}", e.message))
        };
        let backend = &self.inner.backend;
        let info = backend.get(&p.local_name).await.map_err(relay_failed)?;
        // The gateway's own timer ends the stream; the backend's limit only
        // guarantees that an abandoned command does not run forever.
        let backstop = p.timeout.map_or(Duration::from_secs(24 * 3600), |t| t + Duration::from_secs(5));
        let mut request = ExecRequest::new(&p.argv, SANDBOX_WORKDIR, backstop);
        request.stdin = p.stdin.clone();
        request.pty = p.pty;
        backend.open(&info).exec(request).await.map_err(relay_failed)
    }

    /// Relays one exec until its exit, its timeout, an injected drop, the
    /// client going away or the gateway shutting down. Dropping the session
    /// at the end kills whatever still runs.
    async fn run(self, p: Prepared, frames: Option<Frames>, tx: mpsc::Sender<Result<ExecOutput, Status>>) {
        let mut relay = Relay { tx, sent: 0, drop_after: self.config().faults.drop_exec_after };
        let stopping = self.stopping();
        tokio::pin!(stopping);
        let sandbox_died = self.left_ready(&p.sandbox_id);
        tokio::pin!(sandbox_died);
        self.config().stats.count_exec();
        let setup = self.config().exec_setup_cost;
        if !setup.is_zero() {
            tokio::time::sleep(setup).await;
        }
        let ExecSession { mut events, input } = match self.start_session(&p).await {
            Ok(session) => session,
            Err(status) => return relay.fail(status).await,
        };
        let (mut half_closed, _forwarder) = match frames {
            Some(frames) => {
                let (closed_tx, closed_rx) = oneshot::channel();
                let limit = self.config().faults.drop_exec_after_input;
                let task = tokio::spawn(forward_input(frames, input.clone(), p.pty.is_some(), limit, closed_tx));
                (Some(closed_rx), Some(AbortOnDrop(task)))
            }
            None => (None, None),
        };
        let deadline = p.timeout.map(|t| Instant::now() + t);
        let mut grace: Option<Instant> = None;
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Some(ExecEvent::Stdout(data)) => {
                        if relay.output(data, false).await.is_err() { return }
                    }
                    Some(ExecEvent::Stderr(data)) => {
                        if relay.output(data, true).await.is_err() { return }
                    }
                    Some(ExecEvent::Exit(exit)) => {
                        let _ = relay.send(ExecOutput::Exit(exit.code)).await;
                        return;
                    }
                    Some(ExecEvent::Failed(_)) | None => return relay.fail(Status::unavailable(RELAY_CLOSED)).await,
                },
                () = sleep_until(deadline) => {
                    // Timeout is an ordinary exit 124, and the stream ends OK.
                    let _ = relay.send(ExecOutput::Exit(124)).await;
                    return;
                }
                closed = next_close(&mut half_closed) => match closed {
                    Ok(()) => grace = Some(Instant::now() + self.config().half_close_grace),
                    Err(status) => return relay.fail(status).await,
                },
                () = sleep_until(grace) => return relay.fail(Status::unavailable(RELAY_CLOSED)).await,
                () = relay.tx.closed() => return,
                () = &mut stopping => return relay.fail(Status::unavailable("gateway is shutting down")).await,
                () = &mut sandbox_died => return relay.fail(Status::unavailable(RELAY_CLOSED)).await,
            }
        }
    }

    /// Resolves once sandbox `id` is no longer READY, under the
    /// `error_ends_execs` fault; never without it (commands outlive their
    /// sandbox's phase changes, as before the fault existed).
    fn left_ready(&self, id: &str) -> impl Future<Output = ()> + Send + 'static {
        let enabled = self.config().faults.error_ends_execs;
        let mut changes = self.inner.changes.subscribe();
        let (this, id) = (self.clone(), id.to_string());
        async move {
            if !enabled {
                return std::future::pending().await;
            }
            loop {
                let ready = this.read(|reg| reg.sandboxes.get(&id).is_some_and(|s| s.phase == Phase::Ready));
                if !ready {
                    return;
                }
                if changes.changed().await.is_err() {
                    return std::future::pending().await;
                }
            }
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// How the client's request stream ended: half-closed, or with an error
/// (cancelled, or a frame over the size limit).
type ClientEnd = Result<(), Status>;

/// Waits for the end of the client's request stream; pending forever for a
/// non-interactive exec or once it was seen.
async fn next_close(rx: &mut Option<oneshot::Receiver<ClientEnd>>) -> ClientEnd {
    let Some(inner) = rx.as_mut() else { return std::future::pending().await };
    let end = inner.await.unwrap_or_else(|_| Err(Status::cancelled("client stream closed")));
    *rx = None;
    end
}

/// Feeds interactive client messages to the command: stdin frames, resize
/// (only with a PTY), a later `start` ignored. At the end of the client's
/// stream, stdin is closed and `closed` says how the stream ended. Past
/// `input_limit` bytes of stdin (the `drop_exec_after_input` fault) the
/// relay "drops": `closed` gets the relay's UNAVAILABLE and the frame that
/// crossed the limit is not delivered.
async fn forward_input(
    mut frames: Frames,
    input: mpsc::Sender<ExecInput>,
    pty: bool,
    input_limit: Option<u64>,
    closed: oneshot::Sender<ClientEnd>,
) {
    let mut received = 0u64;
    while let Some(frame) = frames.next().await {
        let sent = match frame {
            Ok(ClientFrame::Stdin(data)) => {
                received = received.saturating_add(data.len() as u64);
                if input_limit.is_some_and(|limit| received > limit) {
                    let _ = closed.send(Err(Status::unavailable(RELAY_CLOSED)));
                    return;
                }
                input.send(ExecInput::Stdin(data)).await
            }
            Ok(ClientFrame::Resize { cols, rows }) if pty => input.send(ExecInput::Resize(term_size(cols, rows))).await,
            Ok(ClientFrame::Resize { .. } | ClientFrame::Start) => Ok(()),
            Err(status) => {
                let _ = closed.send(Err(status));
                return;
            }
        };
        if sent.is_err() {
            break;
        }
    }
    let _ = input.send(ExecInput::CloseStdin).await;
    let _ = closed.send(Ok(()));
}

/// Aborts a task when dropped.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The stream has ended (client gone or an injected drop).
#[derive(Debug)]
struct Ended;

/// The response side of one exec.
#[derive(Debug)]
struct Relay {
    tx: mpsc::Sender<Result<ExecOutput, Status>>,
    /// Events sent so far.
    sent: u32,
    /// The `drop_exec_after` fault.
    drop_after: Option<u32>,
}

impl Relay {
    /// Sends one event, or the injected UNAVAILABLE in its place.
    async fn send(&mut self, event: ExecOutput) -> Result<(), Ended> {
        if self.drop_after.is_some_and(|n| self.sent >= n) {
            self.fail(Status::unavailable(RELAY_CLOSED)).await;
            return Err(Ended);
        }
        self.tx.send(Ok(event)).await.map_err(|_| Ended)?;
        self.sent += 1;
        Ok(())
    }

    /// Sends output in events of at most [`MAX_EVENT_BYTES`].
    async fn output(&mut self, data: Bytes, stderr: bool) -> Result<(), Ended> {
        let mut start = 0;
        while start < data.len() {
            let end = (start + MAX_EVENT_BYTES).min(data.len());
            let chunk = data.slice(start..end);
            self.send(if stderr { ExecOutput::Stderr(chunk) } else { ExecOutput::Stdout(chunk) }).await?;
            start = end;
        }
        Ok(())
    }

    /// Ends the stream with `status`.
    async fn fail(&mut self, status: Status) {
        let _ = self.tx.send(Err(status)).await;
    }
}
