//! Commands over the gateway: a [`crate::backend::ExecRequest`] becomes an
//! `ExecSandbox` call (the fast path) or an `ExecSandboxInteractive` stream
//! (large stdin, interactive stdin, terminals), and its events become an
//! [`ExecSession`].
//!
//! Four things the gateway does not do for us, and how they are handled:
//! - **Newlines in argv, environment values or the cwd** are rejected by the
//!   gateway; such values travel base64-encoded in `OW_*` variables and the
//!   wrapper script (see [`script::WRAPPER`]) rebuilds them. No shell string
//!   is ever built from guest input.
//! - **Stdin over 1 MiB** does not fit the gateway's inbound message limit:
//!   it is streamed in frames through an interactive exec, with the
//!   wrapper reading exactly that many bytes (`sized:N`), so the stream
//!   stays open until the exit status arrives (closing it early would cut
//!   the command's output).
//! - **Interactive stdin with end-of-file and signals** (the gateway has no
//!   such frames): the wrapper's `framed` mode.
//! - **Timeout vs. exit 124**: the gateway reports its timeout as a normal
//!   exit 124. The host knows what timeout it asked for, so it decides
//!   `timed_out` itself, and also enforces the timeout with its own timer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{Notify, mpsc};

use super::script;
use super::status::exec_error;
use super::wire::{Event, Events, ExecCall, Input, Target, Wire};
use crate::backend::{ExecEvent, ExecInput, ExecRequest, ExecSession, ExitInfo, Signal, Stdin};
use crate::error::{Result, SandboxError};

/// Largest stdin carried by one request or frame: the gateway refuses
/// inbound messages over 1 MiB, and the rest of the message needs room.
pub const MAX_FRAME: usize = 960 * 1024;
/// The most bytes of a guest's interactive stdin behind one frame header:
/// what the wrapper's frame reader (`dd`) holds in memory at once.
pub const STDIN_FRAME: usize = 4 << 20;
/// Largest single argv entry or environment value the gateway accepts.
const MAX_VALUE: usize = 32 * 1024;
/// Events buffered per command before the stream is paused.
const EVENT_DEPTH: usize = 16;
/// How long past its timeout an exec stream may run before the host gives
/// up on the gateway reporting it.
const STREAM_SLACK: Duration = Duration::from_secs(30);

/// How stdin reaches the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// `ExecSandbox` with stdin inline.
    Direct,
    /// Interactive, the wrapper reads exactly N bytes.
    Sized(u64),
    /// Interactive, framed stdin with EOF and signals.
    Framed,
    /// Interactive, the same frames (without signals) read by the command
    /// itself: one of the host's scripts.
    Frames,
    /// Interactive with a terminal.
    Pty,
}

/// Whether the gateway would refuse this value in argv, env or workdir.
fn needs_encoding(s: &str) -> bool {
    s.contains(['\n', '\r'])
}

/// Whose command an exec runs: what is encoded, and how interactive stdin
/// is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A guest's: every `OW_*` variable is encoded, so none can steer the
    /// wrapper.
    Guest,
    /// One of the host's own scripts: its `OW_*` variables are its own,
    /// and only values the gateway would refuse are encoded.
    Host,
    /// One of the host's scripts that reads the frames of its interactive
    /// stdin itself ([`Mode::Frames`]).
    HostReadingFrames,
}

/// Build the gateway call for `req` from `caller`.
pub(super) fn prepare(req: &ExecRequest, op: &str, caller: Caller) -> Result<(ExecCall, Mode)> {
    if let Some(i) = req.argv.iter().position(|a| a.len() > MAX_VALUE) {
        return Err(SandboxError::invalid(
            op,
            format!("argv[{i}] is over {MAX_VALUE} bytes, the gateway's limit per argument"),
        ));
    }
    if let Some((k, _)) = req.env.iter().find(|(_, v)| v.len() > MAX_VALUE / 2) {
        return Err(SandboxError::invalid(op, format!("the value of {k} is over {} bytes", MAX_VALUE / 2)));
    }
    let mode = match (&req.stdin, req.pty) {
        (_, Some(_)) => Mode::Pty,
        (Stdin::Interactive, None) if caller == Caller::HostReadingFrames => Mode::Frames,
        (Stdin::Interactive, None) => Mode::Framed,
        (Stdin::Bytes(b), None) if b.len() <= MAX_FRAME => Mode::Direct,
        (Stdin::Bytes(b), None) => Mode::Sized(b.len() as u64),
    };
    let encode_argv = req.argv.iter().any(|a| needs_encoding(a));
    let encode_env: Vec<(&String, &String)> = req
        .env
        .iter()
        .filter(|(k, v)| {
            needs_encoding(v) || k.starts_with("OPENSHELL_") || (caller == Caller::Guest && k.starts_with("OW_"))
        })
        .collect();
    let encode_cwd = needs_encoding(&req.cwd);
    // Frames go to the command as they arrive, so only the stdin modes the
    // wrapper implements need it.
    let wrap = matches!(mode, Mode::Sized(_) | Mode::Framed) || encode_argv || !encode_env.is_empty() || encode_cwd;

    let stdin = match (&req.stdin, mode) {
        (Stdin::Bytes(b), Mode::Direct) => b.to_vec(),
        _ => Vec::new(),
    };
    let mut call = ExecCall {
        argv: req.argv.clone(),
        workdir: req.cwd.clone(),
        env: req.env.clone(),
        stdin,
        timeout: Some(req.timeout),
        tty: req.pty.is_some(),
        cols: req.pty.map(|p| u32::from(p.cols)).unwrap_or(0),
        rows: req.pty.map(|p| u32::from(p.rows)).unwrap_or(0),
    };
    if !wrap {
        return Ok((call, mode));
    }
    let mut env: BTreeMap<String, String> = req
        .env
        .iter()
        .filter(|(k, _)| !encode_env.iter().any(|(ek, _)| ek == k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    env.insert("OW_SCRIPT".into(), script::wrapper());
    env.insert(
        "OW_MODE".into(),
        match mode {
            Mode::Sized(n) => format!("sized:{n}"),
            Mode::Framed => "framed".into(),
            Mode::Direct | Mode::Pty | Mode::Frames => "exec".into(),
        },
    );
    let mut argv = vec!["sh".to_string(), "-c".into(), script::BOOTSTRAP.into(), "sh".into()];
    if encode_argv {
        env.insert("OW_AC".into(), req.argv.len().to_string());
        for (i, a) in req.argv.iter().enumerate() {
            env.insert(format!("OW_A{i}"), script::b64(a.as_bytes()));
        }
    } else {
        argv.extend(req.argv.iter().cloned());
    }
    if !encode_env.is_empty() {
        env.insert("OW_EC".into(), encode_env.len().to_string());
        for (i, (k, v)) in encode_env.iter().enumerate() {
            env.insert(format!("OW_E{i}"), script::b64(format!("{k}={v}").as_bytes()));
        }
    }
    if encode_cwd {
        env.insert("OW_CWD".into(), script::b64(req.cwd.as_bytes()));
        call.workdir = String::new();
    }
    call.argv = argv;
    call.env = env;
    Ok((call, mode))
}

/// Start `req` from `caller` in sandbox `target`.
///
/// A script reading its frames itself ([`Caller::HostReadingFrames`]) gets
/// them straight from the gateway (`N` and a newline, then N bytes; `E` and
/// a newline at the end), with no frame reader and pipe in between, so an
/// upload's bytes pass through one process in the sandbox, as they do
/// through a plain `head -c N > file`.
pub async fn start(
    wire: Arc<dyn Wire>,
    target: Target,
    req: ExecRequest,
    caller: Caller,
    op: &'static str,
) -> Result<ExecSession> {
    let prepared = prepare(&req, op, caller)?;
    if caller == Caller::HostReadingFrames && prepared.1 != Mode::Frames {
        return Err(SandboxError::backend(
            op,
            "internal",
            "a script reading frames needs interactive stdin and no terminal",
        ));
    }
    launch(wire, target, req, prepared, op).await
}

async fn launch(
    wire: Arc<dyn Wire>,
    target: Target,
    req: ExecRequest,
    (call, mode): (ExecCall, Mode),
    op: &'static str,
) -> Result<ExecSession> {
    let timeout = req.timeout;
    let stream_deadline = timeout + STREAM_SLACK;
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_DEPTH);
    let (in_tx, in_rx) = mpsc::channel::<ExecInput>(EVENT_DEPTH);
    let abort = Arc::new(Notify::new());
    let killed = Arc::new(AtomicBool::new(false));

    let (events, wire_input) = if mode == Mode::Direct {
        (wire.exec(&target, call, stream_deadline).await.map_err(|s| exec_error(op, &s))?, None)
    } else {
        let (wtx, wrx) = mpsc::channel::<Input>(4);
        let events =
            wire.exec_interactive(&target, call, wrx, stream_deadline).await.map_err(|s| exec_error(op, &s))?;
        (events, Some(wtx))
    };

    // Feed stdin that is known up front (sized mode).
    if let (Mode::Sized(_), Stdin::Bytes(data), Some(w)) = (mode, &req.stdin, &wire_input) {
        let (w, data) = (w.clone(), data.clone());
        tokio::spawn(async move {
            for i in (0..data.len()).step_by(MAX_FRAME) {
                if w.send(Input::Stdin(data.slice(i..(i + MAX_FRAME).min(data.len())))).await.is_err() {
                    return;
                }
            }
        });
    }
    tokio::spawn(forward_input(in_rx, wire_input.clone(), mode, abort.clone(), killed.clone()));
    tokio::spawn(drive(events, ev_tx, timeout, abort, killed, wire_input, mode, op));
    Ok(ExecSession { events: ev_rx, input: in_tx })
}

/// Translate the guest's input into gateway frames for `mode`.
async fn forward_input(
    mut rx: mpsc::Receiver<ExecInput>,
    wire: Option<mpsc::Sender<Input>>,
    mode: Mode,
    abort: Arc<Notify>,
    killed: Arc<AtomicBool>,
) {
    // An input taken from the queue while gathering a frame, handled next.
    let mut next = None;
    loop {
        let input = match next.take() {
            Some(input) => input,
            None => match rx.recv().await {
                Some(input) => input,
                None => return,
            },
        };
        let Some(w) = &wire else { continue };
        let frame = match (mode, input) {
            (Mode::Framed, ExecInput::Stdin(data)) => {
                // The wrapper reads a frame with one `dd`, which holds it
                // in memory: frames of at most STDIN_FRAME bytes.
                let frames =
                    (0..data.len()).step_by(STDIN_FRAME).map(|i| data.slice(i..(i + STDIN_FRAME).min(data.len())));
                if !send_frames(w, frames.map(|f| vec![f])).await {
                    return;
                }
                continue;
            }
            (Mode::Frames, ExecInput::Stdin(data)) => {
                // The script copies a frame with one `head`, which streams
                // it: every piece already queued joins this frame, so a
                // fast writer pays the sandbox a process per batch, not
                // per piece, and a slow one waits for nothing.
                let mut pieces = vec![data];
                loop {
                    match rx.try_recv() {
                        Ok(ExecInput::Stdin(more)) => pieces.push(more),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                if !send_frames(w, std::iter::once(pieces)).await {
                    return;
                }
                continue;
            }
            (Mode::Framed | Mode::Frames, ExecInput::CloseStdin) => Input::Stdin(Bytes::from_static(b"E\n")),
            (Mode::Framed, ExecInput::Signal(sig)) => {
                if sig == Signal::Kill {
                    killed.store(true, Ordering::SeqCst);
                }
                Input::Stdin(Bytes::from(format!("S{}\n", sig.name())))
            }
            (Mode::Pty, ExecInput::Stdin(data)) => Input::Stdin(data),
            (Mode::Pty, ExecInput::CloseStdin) => Input::Stdin(Bytes::from_static(b"\x04")),
            (Mode::Pty, ExecInput::Resize(s)) => Input::Resize(u32::from(s.cols), u32::from(s.rows)),
            (Mode::Pty, ExecInput::Signal(Signal::Interrupt)) => Input::Stdin(Bytes::from_static(b"\x03")),
            (Mode::Pty, ExecInput::Signal(_)) => {
                // No way to signal a terminal session in-band beyond ^C:
                // closing the stream hangs up the terminal (SIGHUP).
                killed.store(true, Ordering::SeqCst);
                abort.notify_one();
                return;
            }
            _ => continue,
        };
        if w.send(frame).await.is_err() {
            return;
        }
    }
}

/// Send each frame (its pieces, not copied): its size line, then its bytes
/// in messages of at most MAX_FRAME. An empty frame is not sent. False
/// once the stream is gone.
async fn send_frames(w: &mpsc::Sender<Input>, frames: impl Iterator<Item = Vec<Bytes>>) -> bool {
    for pieces in frames {
        let len: usize = pieces.iter().map(Bytes::len).sum();
        if len == 0 {
            continue;
        }
        if w.send(Input::Stdin(Bytes::from(format!("{len}\n")))).await.is_err() {
            return false;
        }
        for piece in pieces {
            for i in (0..piece.len()).step_by(MAX_FRAME) {
                if w.send(Input::Stdin(piece.slice(i..(i + MAX_FRAME).min(piece.len())))).await.is_err() {
                    return false;
                }
            }
        }
    }
    true
}

/// Tell the framed wrapper to kill the command (the other modes have no
/// channel for it; ending the stream is all they get).
async fn skill(mode: Mode, wire_input: &Option<mpsc::Sender<Input>>) {
    if let (Mode::Framed, Some(w)) = (mode, wire_input) {
        let _ = w.send(Input::Stdin(Bytes::from_static(b"SKILL\n"))).await;
    }
}

/// Relay the gateway's events, enforce the timeout, and send exactly one
/// exit (or failure) event.
#[allow(clippy::too_many_arguments, reason = "one task's whole state, passed once")]
async fn drive(
    mut events: Events,
    tx: mpsc::Sender<ExecEvent>,
    timeout: Duration,
    abort: Arc<Notify>,
    killed: Arc<AtomicBool>,
    wire_input: Option<mpsc::Sender<Input>>,
    mode: Mode,
    op: &'static str,
) {
    let started = Instant::now();
    let timer = tokio::time::sleep(timeout);
    tokio::pin!(timer);
    loop {
        tokio::select! {
            ev = events.next() => {
                let out = match ev {
                    Some(Ok(Event::Stdout(b))) => ExecEvent::Stdout(b),
                    Some(Ok(Event::Stderr(b))) => ExecEvent::Stderr(b),
                    Some(Ok(Event::Exit(code))) => {
                        // A 124 at (or past) the deadline is the gateway's
                        // timeout; before it, the command's own exit code.
                        let timed_out = code == 124 && started.elapsed() + Duration::from_millis(50) >= timeout;
                        let _ = tx.send(ExecEvent::Exit(ExitInfo { code, timed_out, killed: killed.load(Ordering::SeqCst) })).await;
                        return;
                    }
                    Some(Err(status)) => {
                        let _ = tx.send(ExecEvent::Failed(exec_error(op, &status))).await;
                        return;
                    }
                    None => {
                        let e = SandboxError::unavailable(op, "the gateway closed the exec stream before the command reported an exit status");
                        let _ = tx.send(ExecEvent::Failed(e)).await;
                        return;
                    }
                };
                if tx.send(out).await.is_err() {
                    // The guest dropped the process: stop it where we can.
                    skill(mode, &wire_input).await;
                    return;
                }
            }
            () = tx.closed() => {
                // The guest dropped the process (or its run ended) while
                // the command was quiet: stop it, and end the stream, which
                // makes the gateway end the command too.
                skill(mode, &wire_input).await;
                return;
            }
            () = &mut timer => {
                skill(mode, &wire_input).await;
                let _ = tx.send(ExecEvent::Exit(ExitInfo { code: 124, timed_out: true, killed: false })).await;
                return;
            }
            () = abort.notified() => {
                // Hang up: dropping the stream closes the terminal.
                let _ = tx.send(ExecEvent::Exit(ExitInfo { code: 129, timed_out: false, killed: true })).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::TermSize;

    fn req(argv: &[&str], stdin: Stdin) -> ExecRequest {
        ExecRequest {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            cwd: "/sandbox".into(),
            env: BTreeMap::new(),
            stdin,
            pty: None,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn plain_commands_take_the_fast_path() {
        let (call, mode) =
            prepare(&req(&["echo", "hi"], Stdin::Bytes(Bytes::from_static(b"x"))), "t", Caller::Guest).unwrap();
        assert_eq!(mode, Mode::Direct);
        assert_eq!(call.argv, vec!["echo", "hi"]);
        assert_eq!(call.stdin, b"x");
    }

    #[test]
    fn newlines_are_never_sent_raw() {
        let mut r = req(&["printf", "a\nb"], Stdin::Bytes(Bytes::new()));
        r.env.insert("MULTI".into(), "x\ny".into());
        r.env.insert("OPENSHELL_TOKEN".into(), "v".into());
        r.cwd = "/sandbox/dir\nname".into();
        let (call, mode) = prepare(&r, "t", Caller::Guest).unwrap();
        assert_eq!(mode, Mode::Direct);
        for a in &call.argv {
            assert!(!a.contains('\n'), "raw newline in argv: {a:?}");
        }
        for (k, v) in &call.env {
            assert!(!v.contains('\n') && !k.starts_with("OPENSHELL_"), "{k}={v:?}");
        }
        assert!(call.workdir.is_empty());
        assert_eq!(call.env["OW_AC"], "2");
        assert_eq!(call.argv[..4], ["sh", "-c", script::BOOTSTRAP, "sh"]);
    }

    #[test]
    fn modes_follow_stdin_and_pty() {
        let big = Bytes::from(vec![0u8; MAX_FRAME + 1]);
        assert_eq!(
            prepare(&req(&["cat"], Stdin::Bytes(big)), "t", Caller::Guest).unwrap().1,
            Mode::Sized(MAX_FRAME as u64 + 1)
        );
        assert_eq!(prepare(&req(&["cat"], Stdin::Interactive), "t", Caller::Guest).unwrap().1, Mode::Framed);
        let mut p = req(&["sh"], Stdin::Interactive);
        p.pty = Some(TermSize { cols: 100, rows: 30 });
        let (call, mode) = prepare(&p, "t", Caller::Guest).unwrap();
        assert_eq!((mode, call.tty, call.cols, call.rows), (Mode::Pty, true, 100, 30));
        assert_eq!(call.argv, vec!["sh"]);
        // A script reading its own frames runs as it is, unless its
        // arguments need the wrapper, which then passes stdin through.
        let (call, mode) =
            prepare(&req(&["sh", "-c", "s"], Stdin::Interactive), "t", Caller::HostReadingFrames).unwrap();
        assert_eq!((mode, call.argv.as_slice()), (Mode::Frames, &["sh", "-c", "s"].map(String::from)[..]));
        let (call, mode) =
            prepare(&req(&["sh", "-c", "s", "a\nb"], Stdin::Interactive), "t", Caller::HostReadingFrames).unwrap();
        assert_eq!(
            (mode, call.argv[..4].to_vec(), call.env["OW_MODE"].as_str()),
            (Mode::Frames, vec!["sh".to_string(), "-c".into(), script::BOOTSTRAP.into(), "sh".into()], "exec")
        );
        let huge = "x".repeat(MAX_VALUE + 1);
        assert!(prepare(&req(&["echo", &huge], Stdin::Bytes(Bytes::new())), "t", Caller::Guest).is_err());
    }

    /// The wrapper, run by a real `sh`, rebuilds argv, env and cwd exactly
    /// and honours the framed stdin protocol.
    #[test]
    fn wrapper_runs_under_sh() {
        let tmp = tempfile::tempdir().unwrap();
        let odd_dir = tmp.path().join("odd\ndir");
        std::fs::create_dir(&odd_dir).unwrap();
        let mut r = req(
            &["sh", "-c", "printf '[%s]' \"$1\" \"$V\" \"$(pwd)\"; cat", "x", "line1\nline2 'q' \"d\""],
            Stdin::Interactive,
        );
        r.env.insert("V".into(), "multi\nline".into());
        r.cwd = odd_dir.to_string_lossy().into_owned();
        let (call, mode) = prepare(&r, "t", Caller::Guest).unwrap();
        assert_eq!(mode, Mode::Framed);
        let mut cmd = std::process::Command::new(&call.argv[0]);
        cmd.args(&call.argv[1..])
            .envs(&call.env)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        {
            use std::io::Write;
            let stdin = child.stdin.as_mut().unwrap();
            stdin.write_all(b"5\nhello6\n world").unwrap();
            stdin.write_all(b"E\n").unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text, format!("[line1\nline2 'q' \"d\"][multi\nline][{}]hello world", odd_dir.display()));
        assert!(out.status.success());
    }
}
