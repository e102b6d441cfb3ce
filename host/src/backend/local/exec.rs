//! Running one command under bubblewrap and streaming its events.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use rustix::process::{Pid, Signal as RSignal, kill_process};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{mpsc, watch};

use crate::backend::{ExecEvent, ExecInput, ExecSession, ExitInfo, Signal, Stdin, TermSize};
use crate::error::{Result, SandboxError};

/// Read size for command output; events carry at most this much.
const READ_CHUNK: usize = 64 * 1024;
/// Events buffered per command before the command is paused.
const EVENT_DEPTH: usize = 16;

/// What the caller prepared: the full `bwrap` command and how stdin works.
pub(super) struct Prepared {
    pub command: Command,
    pub stdin: Stdin,
    pub pty: Option<TermSize>,
    pub timeout: Duration,
    /// Fires when the sandbox is deleted.
    pub cancel: watch::Receiver<bool>,
}

/// Start the command and return its session.
pub(super) fn start(mut p: Prepared) -> Result<ExecSession> {
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_DEPTH);
    let (in_tx, in_rx) = mpsc::channel(EVENT_DEPTH);
    p.command.kill_on_drop(true).env_clear();

    let (child, io) = match p.pty {
        None => {
            p.command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
            let mut child = p.command.spawn().map_err(|e| spawn_error(&e))?;
            let stdin = child.stdin.take();
            let stdout = child.stdout.take();
            let stderr = child.stderr.take();
            (child, Io::Pipes { stdin, stdout, stderr })
        }
        Some(size) => {
            let (master, slave) =
                open_pty(size).map_err(|e| SandboxError::backend("process.spawn", "pty", e.to_string()))?;
            let out = slave.try_clone().map_err(|e| SandboxError::backend("process.spawn", "pty", e.to_string()))?;
            let err = slave.try_clone().map_err(|e| SandboxError::backend("process.spawn", "pty", e.to_string()))?;
            p.command.stdin(Stdio::from(slave)).stdout(Stdio::from(out)).stderr(Stdio::from(err));
            let child = p.command.spawn().map_err(|e| spawn_error(&e))?;
            // Our copies of the slave side are gone with the command, so the
            // master reads EOF (EIO) once the sandbox exits.
            drop(p.command);
            (child, Io::Pty { master: Arc::new(master) })
        }
    };

    let pid = child.id().and_then(|id| Pid::from_raw(id as i32));
    let killed = Arc::new(AtomicBool::new(false));
    let (readers, writer) = io.split(ev_tx.clone(), p.stdin);
    tokio::spawn(handle_input(in_rx, writer, pid, killed.clone()));
    tokio::spawn(drive(child, pid, readers, ev_tx, p.timeout, p.cancel, killed));
    Ok(ExecSession { events: ev_rx, input: in_tx })
}

fn spawn_error(e: &std::io::Error) -> SandboxError {
    SandboxError::backend("process.spawn", "spawn", format!("could not start bubblewrap: {e}"))
}

enum Io {
    Pipes {
        stdin: Option<ChildStdin>,
        stdout: Option<tokio::process::ChildStdout>,
        stderr: Option<tokio::process::ChildStderr>,
    },
    Pty {
        master: Arc<File>,
    },
}

/// Where stdin goes.
enum StdinWriter {
    Pipe(Option<ChildStdin>),
    Pty(Arc<File>),
}

impl Io {
    /// Start the output readers and return them with the stdin writer.
    fn split(self, ev: mpsc::Sender<ExecEvent>, stdin: Stdin) -> (Vec<tokio::task::JoinHandle<()>>, StdinWriter) {
        match self {
            Io::Pipes { stdin: child_stdin, stdout, stderr } => {
                let mut readers = Vec::new();
                if let Some(out) = stdout {
                    readers.push(tokio::spawn(pump(out, ev.clone(), false)));
                }
                if let Some(err) = stderr {
                    readers.push(tokio::spawn(pump(err, ev, true)));
                }
                let writer = match stdin {
                    Stdin::Bytes(data) => {
                        // Feed the bytes, then EOF, without blocking anything else.
                        if let Some(mut s) = child_stdin {
                            tokio::spawn(async move {
                                let _ = s.write_all(&data).await;
                                let _ = s.shutdown().await;
                            });
                        }
                        StdinWriter::Pipe(None)
                    }
                    Stdin::Interactive => StdinWriter::Pipe(child_stdin),
                };
                (readers, writer)
            }
            Io::Pty { master } => {
                let reader = master.clone();
                let handle = tokio::task::spawn_blocking(move || pump_pty(&reader, &ev));
                let readers = vec![tokio::spawn(async move {
                    let _ = handle.await;
                })];
                if let Stdin::Bytes(data) = stdin {
                    let m = master.clone();
                    tokio::task::spawn_blocking(move || {
                        let _ = (&*m).write_all(&data);
                        // End-of-file on a terminal is Ctrl-D at line start.
                        let _ = (&*m).write_all(b"\x04");
                    });
                }
                (readers, StdinWriter::Pty(master))
            }
        }
    }
}

async fn pump(mut r: impl AsyncRead + Unpin, ev: mpsc::Sender<ExecEvent>, stderr: bool) {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let chunk = Bytes::copy_from_slice(&buf[..n]);
                let event = if stderr { ExecEvent::Stderr(chunk) } else { ExecEvent::Stdout(chunk) };
                if ev.send(event).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn pump_pty(master: &File, ev: &mpsc::Sender<ExecEvent>) {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut reader = master;
    loop {
        match reader.read(&mut buf) {
            // EIO means every slave fd is closed: the terminal's EOF.
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if ev.blocking_send(ExecEvent::Stdout(Bytes::copy_from_slice(&buf[..n]))).is_err() {
                    return;
                }
            }
        }
    }
}

async fn handle_input(
    mut rx: mpsc::Receiver<ExecInput>,
    mut writer: StdinWriter,
    pid: Option<Pid>,
    killed: Arc<AtomicBool>,
) {
    while let Some(input) = rx.recv().await {
        match input {
            ExecInput::Stdin(data) => match &mut writer {
                StdinWriter::Pipe(Some(s)) => {
                    if s.write_all(&data).await.is_err() {
                        writer = StdinWriter::Pipe(None);
                    }
                }
                StdinWriter::Pipe(None) => {}
                StdinWriter::Pty(m) => {
                    let m = m.clone();
                    let _ = tokio::task::spawn_blocking(move || (&*m).write_all(&data)).await;
                }
            },
            ExecInput::CloseStdin => match &mut writer {
                StdinWriter::Pipe(s) => {
                    if let Some(mut s) = s.take() {
                        let _ = s.shutdown().await;
                    }
                }
                StdinWriter::Pty(m) => {
                    let m = m.clone();
                    let _ = tokio::task::spawn_blocking(move || (&*m).write_all(b"\x04")).await;
                }
            },
            ExecInput::Resize(size) => {
                if let StdinWriter::Pty(m) = &writer {
                    let _ = rustix::termios::tcsetwinsize(&**m, winsize(size));
                }
            }
            ExecInput::Signal(sig) => {
                if let (Signal::Interrupt, StdinWriter::Pty(m)) = (sig, &writer) {
                    // The terminal turns ^C into SIGINT for the foreground group.
                    let m = m.clone();
                    let _ = tokio::task::spawn_blocking(move || (&*m).write_all(b"\x03")).await;
                    continue;
                }
                if let Some(pid) = pid {
                    if sig == Signal::Kill {
                        killed.store(true, Ordering::SeqCst);
                        kill_tree(pid);
                    } else {
                        // A command in its first moments has no process
                        // below bubblewrap's init yet: retry briefly rather
                        // than lose the signal.
                        for _ in 0..250 {
                            if signal_descendants(pid, sig) > 0 || !alive(pid) {
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }
        }
    }
}

/// Wait for the command, enforcing its timeout, and send the exit event
/// once all output has been delivered.
async fn drive(
    mut child: Child,
    pid: Option<Pid>,
    readers: Vec<tokio::task::JoinHandle<()>>,
    ev: mpsc::Sender<ExecEvent>,
    timeout: Duration,
    mut cancel: watch::Receiver<bool>,
    killed: Arc<AtomicBool>,
) {
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut timed_out = false;
    let status = tokio::select! {
        s = child.wait() => s,
        () = &mut deadline => {
            timed_out = true;
            stop(&mut child, pid);
            child.wait().await
        }
        () = ev.closed() => {
            // Nobody is listening any more: stop the command.
            stop(&mut child, pid);
            let _ = child.wait().await;
            return;
        }
        () = deleted(&mut cancel) => {
            stop(&mut child, pid);
            let _ = child.wait().await;
            let _ = ev.send(ExecEvent::Failed(SandboxError::not_found("process.wait", "the sandbox was deleted while the command ran"))).await;
            return;
        }
    };
    // The PID namespace is gone, so every pipe writer is gone and the
    // readers reach EOF promptly; the bound is a guard, not the norm.
    for r in readers {
        let _ = tokio::time::timeout(Duration::from_secs(10), r).await;
    }
    let event = match status {
        Ok(status) => {
            use std::os::unix::process::ExitStatusExt;
            let code = status.code().or_else(|| status.signal().map(|s| 128 + s)).unwrap_or(1);
            ExitInfo { code: if timed_out { 124 } else { code }, timed_out, killed: killed.load(Ordering::SeqCst) }
        }
        Err(e) => {
            let _ = ev.send(ExecEvent::Failed(SandboxError::backend("process.wait", "io", e.to_string()))).await;
            return;
        }
    };
    let _ = ev.send(ExecEvent::Exit(event)).await;
}

/// Resolves when the sandbox is marked deleted (never, if the marker goes
/// away without being set).
async fn deleted(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Kill the command and everything it started.
fn stop(child: &mut Child, pid: Option<Pid>) {
    match pid {
        Some(pid) => kill_tree(pid),
        None => {
            let _ = child.start_kill();
        }
    }
}

/// SIGKILL `root` (bubblewrap's monitor) and every process below it.
///
/// Killing the monitor alone is not enough: bubblewrap's init inside the
/// sandbox dies with it only once it has armed its parent-death signal, and
/// a command killed in its first milliseconds (a guest that spawns and
/// drops processes in a loop) can leave init and its child running forever.
/// So the monitor is stopped first (it cannot fork any more), then every
/// descendant is killed (init's death ends its PID namespace), then the
/// monitor itself.
fn kill_tree(root: Pid) {
    let _ = kill_process(root, RSignal::STOP);
    // The stop is asynchronous: a fork in progress completes first. Scan
    // only once the monitor is really stopped (or gone).
    for _ in 0..1000 {
        match proc_state(root.as_raw_nonzero().get()) {
            Some(state) if !matches!(state, 'T' | 't') => std::thread::yield_now(),
            _ => break,
        }
    }
    let parents = process_parents();
    for pid in descendants(&parents, root.as_raw_nonzero().get()) {
        if let Some(pid) = Pid::from_raw(pid) {
            let _ = kill_process(pid, RSignal::KILL);
        }
    }
    let _ = kill_process(root, RSignal::KILL);
}

/// Every process below `root`, nearest first.
fn descendants(parents: &std::collections::HashMap<i32, i32>, root: i32) -> Vec<i32> {
    let mut below: Vec<i32> = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (&child, &parent) in parents {
            if parent == p {
                below.push(child);
                frontier.push(child);
            }
        }
    }
    below
}

/// Whether process `pid` still exists (and is not a zombie).
fn alive(pid: Pid) -> bool {
    proc_state(pid.as_raw_nonzero().get()).is_some_and(|state| !matches!(state, 'Z' | 'X'))
}

/// The fields of `/proc/<pid>/stat` after `(comm)` (state, ppid, ...):
/// comm may contain spaces and `)`, so split at the last `)`.
fn stat_fields(stat: &str) -> Option<std::str::SplitWhitespace<'_>> {
    stat.rfind(')').map(|i| stat[i + 1..].split_whitespace())
}

/// Process `pid`'s state letter, or `None` once it is gone.
fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_fields(&stat)?.next()?.chars().next()
}

/// Send `sig` to every process below `root` (bubblewrap's monitor), except
/// bubblewrap's own init process, which would only forward nothing.
/// Returns how many were signalled.
fn signal_descendants(root: Pid, sig: Signal) -> usize {
    let sig = match sig {
        Signal::Interrupt => RSignal::INT,
        Signal::Terminate => RSignal::TERM,
        Signal::Hangup => RSignal::HUP,
        Signal::Kill => RSignal::KILL,
    };
    let parents = process_parents();
    let root = root.as_raw_nonzero().get();
    let below = descendants(&parents, root);
    // The first level is bubblewrap's init (pid 1 inside); skip it.
    let init: Vec<i32> = parents.iter().filter(|&(_, &p)| p == root).map(|(&c, _)| c).collect();
    let mut sent = 0;
    for pid in below.into_iter().filter(|p| !init.contains(p)) {
        if let Some(pid) = Pid::from_raw(pid)
            && kill_process(pid, sig).is_ok()
        {
            sent += 1;
        }
    }
    sent
}

/// pid -> parent pid, from `/proc/*/stat`.
fn process_parents() -> std::collections::HashMap<i32, i32> {
    let mut map = std::collections::HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else { return map };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        if let Some(ppid) = stat_fields(&stat).and_then(|mut f| f.nth(1)).and_then(|s| s.parse().ok()) {
            map.insert(pid, ppid);
        }
    }
    map
}

fn winsize(size: TermSize) -> rustix::termios::Winsize {
    rustix::termios::Winsize { ws_row: size.rows, ws_col: size.cols, ws_xpixel: 0, ws_ypixel: 0 }
}

/// Open a pseudo-terminal pair of the given size.
fn open_pty(size: TermSize) -> std::io::Result<(File, File)> {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master: OwnedFd = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    let name = ptsname(&master, Vec::new())?;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(name.as_bytes()));
    let slave = std::fs::OpenOptions::new().read(true).write(true).custom_flags(libc::O_NOCTTY).open(path)?;
    rustix::termios::tcsetwinsize(&master, winsize(size))?;
    Ok((File::from(master), slave))
}
