//! The session channel: one long-lived `ExecSandboxInteractive` per
//! sandbox running a small request loop (the Python server in
//! `channel_server.py`, or the bash one in [`script::server`]), carrying
//! the host's small operations (stat, list, small reads and writes, mkdir,
//! remove, rename, realpath, short commands) without paying for a new
//! relay and login shell each time.
//!
//! Requests and responses are length-prefixed (see the server's docs), so
//! no file content can forge a frame. Requests are pipelined: they are
//! written as they come and answered in order, matched by id. A channel
//! that dies (stream error, a response that does not arrive in time) fails
//! its pending requests with `unavailable`; the caller falls back to a
//! per-call exec, and the next operation opens a new channel.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

pub use super::config::SessionChannel as Mode;
use super::exec::MAX_FRAME;
use super::script::{self, Op, code};
use super::status::exec_error;
use super::wire::{Event, ExecCall, Input, Target, Wire};
use crate::error::{Result, SandboxError};

/// Largest stdin payload sent through the channel; larger payloads use
/// their own exec. Requests are cut into frames that fit the gateway's
/// message limit, so this only bounds what the server buffers at once.
pub const MAX_IN: usize = 1 << 20;
/// Largest file read through the channel; larger files stream through
/// their own exec.
pub const MAX_READ: u64 = 1 << 20;
/// Largest response the host accepts (a listing of a huge tree); a larger
/// one ends the channel, and the operation runs in its own exec, which has
/// its own limit.
const MAX_REPLY: usize = 64 << 20;
/// How long to leave the channel off after it could not be opened.
const BACKOFF: Duration = Duration::from_secs(30);
/// How long the server may take to start and print its banner.
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one operation may take before the channel is abandoned.
const OP_TIMEOUT: Duration = Duration::from_secs(60);
/// Banner the server prints when it is ready, then `sh` or `py` and a
/// newline.
const BANNER: &[u8] = b"OWCH1 ";
/// The Python server (see the file's header).
const PYTHON_SERVER: &str = include_str!("channel_server.py");
/// Runs the Python server when there is a `python3` (it exits with
/// `USE_SHELL` before reading anything when it cannot serve), else the
/// shell server. Exit codes are filled in by [`script::fill`].
const PYTHON_BOOTSTRAP: &str = "if command -v python3 >/dev/null 2>&1; then python3 -c \"$(printf '%s' \"$OW_PY\" | base64 -d)\"; rc=$?; [ \"$rc\" = @USE_SHELL@ ] || exit \"$rc\"; fi; eval \"$(printf '%s' \"$OW_SCRIPT\" | base64 -d)\"";

/// The result of one operation.
#[derive(Debug)]
pub struct Reply {
    /// Exit status of the operation's subshell.
    pub code: i32,
    /// Its stdout.
    pub stdout: Bytes,
    /// Its stderr.
    pub stderr: String,
}

/// Why an operation got no reply.
#[derive(Debug)]
pub struct CallError {
    /// What went wrong.
    pub error: SandboxError,
    /// Whether the request reached the server, so that the operation may
    /// have taken effect (only idempotent operations are then re-run).
    pub maybe_ran: bool,
}

type Responder = oneshot::Sender<std::result::Result<Reply, SandboxError>>;

struct Job {
    op: Op,
    args: Vec<String>,
    stdin: Bytes,
    reply: Responder,
}

/// A session channel to one sandbox.
#[derive(Debug)]
pub struct SessionChannel {
    jobs: mpsc::Sender<Job>,
    dead: Arc<AtomicBool>,
    server: Server,
}

/// Which server a channel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// The Python server.
    Python,
    /// The shell server.
    Shell,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("op", &self.op).finish_non_exhaustive()
    }
}

impl SessionChannel {
    /// Start the server in `target` (workspace `root`) and wait for its
    /// banner. Fails when the sandbox cannot run it (no bash, policy).
    pub async fn open(wire: Arc<dyn Wire>, target: Target, root: &str, mode: Mode) -> Result<SessionChannel> {
        let op = "session.open";
        let mut env = BTreeMap::from([
            ("OW_SCRIPT".to_string(), script::server()),
            ("OW_ROOT".to_string(), root.to_string()),
            ("LC_ALL".to_string(), "C".to_string()),
        ]);
        let bootstrap = match mode {
            Mode::Auto => {
                env.insert("OW_PY".into(), STANDARD.encode(PYTHON_SERVER));
                env.extend(python_env());
                script::fill(PYTHON_BOOTSTRAP)
            }
            Mode::Shell | Mode::Off => script::BOOTSTRAP.to_string(),
        };
        let call = ExecCall {
            argv: vec!["bash".into(), "-c".into(), bootstrap, "bash".into()],
            workdir: root.to_string(),
            env,
            ..ExecCall::default()
        };
        let (input_tx, input_rx) = mpsc::channel::<Input>(16);
        // The stream lives as long as the sandbox is used; its deadline is
        // only a backstop.
        let mut events = wire
            .exec_interactive(&target, call, input_rx, Duration::from_secs(7 * 24 * 3600))
            .await
            .map_err(|s| exec_error(op, &s))?;
        let mut buf = BytesMut::new();
        let opened = tokio::time::timeout(OPEN_TIMEOUT, async {
            loop {
                match events.next().await {
                    Some(Ok(Event::Stdout(b))) => {
                        buf.extend_from_slice(&b);
                        if let Some(i) = find(&buf, BANNER)
                            && let Some(nl) = buf[i..].iter().position(|c| *c == b'\n')
                        {
                            // Discard whatever came first (a login profile).
                            let kind = match &buf[i + BANNER.len()..i + nl] {
                                b"py" => Server::Python,
                                _ => Server::Shell,
                            };
                            buf.advance(i + nl + 1);
                            return Ok(kind);
                        }
                    }
                    Some(Ok(Event::Stderr(_))) => {}
                    Some(Ok(Event::Exit(code))) => {
                        return Err(SandboxError::unsupported(op, format!("the session server exited with {code}")));
                    }
                    Some(Err(s)) => return Err(exec_error(op, &s)),
                    None => return Err(SandboxError::unavailable(op, "the session stream closed")),
                }
            }
        })
        .await;
        let server = match opened {
            Ok(Ok(kind)) => kind,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(SandboxError::timeout(op, "the session server did not start in time")),
        };
        let (jobs, jobs_rx) = mpsc::channel::<Job>(64);
        let dead = Arc::new(AtomicBool::new(false));
        tokio::spawn(run(events, buf, input_tx, jobs_rx, dead.clone()));
        Ok(SessionChannel { jobs, dead, server })
    }

    /// Which server runs.
    pub fn server(&self) -> Server {
        self.server
    }

    /// Whether the channel has failed and should be replaced.
    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst) || self.jobs.is_closed()
    }

    /// Run operation `op` with `args` and `stdin`.
    pub async fn call(&self, op: Op, args: Vec<String>, stdin: Bytes) -> std::result::Result<Reply, CallError> {
        let (reply, rx) = oneshot::channel();
        let not_sent = |why: &str| CallError {
            error: SandboxError::unavailable("session.call", why.to_string()),
            maybe_ran: false,
        };
        self.jobs.send(Job { op, args, stdin, reply }).await.map_err(|_| not_sent("the session channel is closed"))?;
        match tokio::time::timeout(OP_TIMEOUT, rx).await {
            Ok(Ok(Ok(r))) => Ok(r),
            // Failed after it was written.
            Ok(Ok(Err(error))) => Err(CallError { error, maybe_ran: true }),
            // Dropped from the queue before it was written.
            Ok(Err(_)) => Err(not_sent("the session channel closed")),
            Err(_) => {
                self.dead.store(true, Ordering::SeqCst);
                Err(CallError {
                    error: SandboxError::timeout(
                        "session.call",
                        format!("`{}` got no answer in {OP_TIMEOUT:?}", op.name()),
                    ),
                    maybe_ran: true,
                })
            }
        }
    }
}

/// The session channel of one sandbox: opened on first use, reopened after
/// it dies, and left off for a while when it cannot be opened (the
/// operations then run one exec each).
#[derive(Debug)]
pub struct Slot {
    wire: Arc<dyn Wire>,
    target: Target,
    root: String,
    mode: Mode,
    state: tokio::sync::Mutex<State>,
}

#[derive(Debug)]
enum State {
    Closed,
    Open(Arc<SessionChannel>),
    Off(Instant),
}

impl Slot {
    /// A slot for the sandbox `target` with workspace `root`; nothing is
    /// started yet.
    pub fn new(wire: Arc<dyn Wire>, target: Target, root: String, mode: Mode) -> Slot {
        Slot { wire, target, root, mode, state: tokio::sync::Mutex::new(State::Closed) }
    }

    /// The sandbox's name.
    pub fn name(&self) -> &str {
        &self.target.name
    }

    /// The open channel, opening one if there is none; `None` while the
    /// channel is off.
    pub async fn get(&self) -> Option<Arc<SessionChannel>> {
        let mut state = self.state.lock().await;
        match &*state {
            State::Open(c) if !c.is_dead() => return Some(c.clone()),
            State::Off(until) if Instant::now() < *until => return None,
            _ => {}
        }
        match SessionChannel::open(self.wire.clone(), self.target.clone(), &self.root, self.mode).await {
            Ok(c) => {
                tracing::debug!(sandbox = %self.target.name, server = ?c.server(), "session channel open");
                let c = Arc::new(c);
                *state = State::Open(c.clone());
                Some(c)
            }
            Err(e) => {
                tracing::debug!(sandbox = %self.target.name, "session channel unavailable, using one exec per operation for {BACKOFF:?}: {e}");
                *state = State::Off(Instant::now() + BACKOFF);
                None
            }
        }
    }
}

/// What the Python server needs from the protocol's one definition
/// ([`script`]): the names of the operations it must serve (`OW_OPS`) and
/// the exit codes (`OW_CODES`, `NAME=N` words).
pub(crate) fn python_env() -> [(String, String); 2] {
    let ops: Vec<&str> = Op::channel().map(Op::name).collect();
    let codes: Vec<String> = code::ALL.iter().map(|(name, value)| format!("{name}={value}")).collect();
    [("OW_OPS".into(), ops.join(" ")), ("OW_CODES".into(), codes.join(" "))]
}

/// Encode one request (cut into gateway-sized frames by the caller). It
/// takes any name, not just an [`Op`]'s, so that the fuzzer and the tests
/// can send names no host sends.
pub(crate) fn frame(id: u64, op: &str, args: &[String], stdin: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    out.extend_from_slice(format!("{id} {op} {} {}\n", args.len(), stdin.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("{}\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
    }
    out.extend_from_slice(stdin);
    out.freeze()
}

/// A parsed response header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) id: u64,
    pub(crate) code: i32,
    pub(crate) out: usize,
    pub(crate) err: usize,
}

/// Parse `A <id> <code> <out> <err>\n` at the start of `buf`; `Ok(None)`
/// if incomplete.
pub(crate) fn parse_header(buf: &[u8]) -> std::result::Result<Option<(Header, usize)>, String> {
    let Some(nl) = buf.iter().position(|c| *c == b'\n') else {
        return if buf.len() > 128 { Err("response header too long".into()) } else { Ok(None) };
    };
    let line = std::str::from_utf8(&buf[..nl]).map_err(|_| "response header is not text".to_string())?;
    let mut f = line.split(' ');
    let bad = || format!("malformed response header {line:?}");
    if f.next() != Some("A") {
        return Err(bad());
    }
    let mut num = || f.next().and_then(|s| s.parse::<u64>().ok()).ok_or_else(bad);
    let (id, code, out, err) = (num()?, num()?, num()?, num()?);
    Ok(Some((
        Header { id, code: i32::try_from(code).map_err(|_| bad())?, out: out as usize, err: err as usize },
        nl + 1,
    )))
}

/// Requests written and not yet answered, oldest first.
type Pending = Arc<std::sync::Mutex<VecDeque<(u64, Responder)>>>;

/// Fail every pending request and mark the channel dead.
fn fail(pending: &Pending, dead: &AtomicBool, why: &str) {
    dead.store(true, Ordering::SeqCst);
    let drained: Vec<_> = pending.lock().map(|mut p| p.drain(..).collect()).unwrap_or_default();
    for (_, tx) in drained {
        let _ = tx.send(Err(SandboxError::unavailable("session.call", why.to_string())));
    }
}

/// The channel's tasks: one writes requests, the other reads responses
/// and matches them up, so a large request being written never stops
/// responses from being read (which could otherwise deadlock on flow
/// control).
async fn run(
    events: super::wire::Events,
    buf: BytesMut,
    input: mpsc::Sender<Input>,
    mut jobs: mpsc::Receiver<Job>,
    dead: Arc<AtomicBool>,
) {
    let pending: Pending = Arc::default();
    let reader = tokio::spawn(read_replies(events, buf, pending.clone(), dead.clone()));
    let mut next_id = 1u64;
    while let Some(job) = jobs.recv().await {
        if dead.load(Ordering::SeqCst) {
            // The reader failed everything pending; the job's responder
            // is dropped unsent, so its caller knows it never ran.
            break;
        }
        let id = next_id;
        next_id += 1;
        let f = frame(id, job.op.name(), &job.args, &job.stdin);
        if let Ok(mut p) = pending.lock() {
            p.push_back((id, job.reply));
        }
        if dead.load(Ordering::SeqCst) {
            // The reader failed between the check above and the push.
            fail(&pending, &dead, "the session channel failed");
            break;
        }
        for i in (0..f.len()).step_by(MAX_FRAME) {
            if input.send(Input::Stdin(f.slice(i..(i + MAX_FRAME).min(f.len())))).await.is_err() {
                fail(&pending, &dead, "the session stream is closed");
                reader.abort();
                return;
            }
        }
    }
    dead.store(true, Ordering::SeqCst);
    // Dropping `input` ends the server's stdin, so it exits.
    drop(input);
    reader.abort();
}

/// Read responses and answer pending requests in order.
async fn read_replies(mut events: super::wire::Events, mut buf: BytesMut, pending: Pending, dead: Arc<AtomicBool>) {
    loop {
        // Answer every complete response in the buffer.
        loop {
            match parse_header(&buf) {
                Ok(Some((h, _))) if h.out.saturating_add(h.err) > MAX_REPLY => {
                    return fail(&pending, &dead, "the answer is too large for the session channel");
                }
                Ok(Some((h, len))) if buf.len() >= len + h.out + h.err => {
                    buf.advance(len);
                    let stdout = buf.split_to(h.out).freeze();
                    let stderr = String::from_utf8_lossy(&buf.split_to(h.err)).into_owned();
                    let next = pending.lock().ok().and_then(|mut p| p.pop_front());
                    match next {
                        Some((id, tx)) if id == h.id => {
                            let _ = tx.send(Ok(Reply { code: h.code, stdout, stderr }));
                        }
                        _ => return fail(&pending, &dead, "the session channel answered out of order"),
                    }
                }
                Ok(_) => break,
                Err(why) => return fail(&pending, &dead, &why),
            }
        }
        match events.next().await {
            Some(Ok(Event::Stdout(b))) => buf.extend_from_slice(&b),
            Some(Ok(Event::Stderr(_))) => {}
            Some(Ok(Event::Exit(code))) => {
                return fail(&pending, &dead, &format!("the session server exited with {code}"));
            }
            Some(Err(s)) => return fail(&pending, &dead, &format!("the session stream failed: {}", s.message())),
            None => return fail(&pending, &dead, "the session stream ended"),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_length_prefixed() {
        let f = frame(7, "stat", &["a\nb c".to_string(), String::new()], b"\x00bin");
        assert_eq!(&f[..], b"7 stat 2 4\n5\na\nb c0\n\x00bin");
    }

    #[test]
    fn response_headers() {
        assert_eq!(parse_header(b"A 3 0 5 2\nhello"), Ok(Some((Header { id: 3, code: 0, out: 5, err: 2 }, 10))));
        assert_eq!(parse_header(b"A 3 0 5"), Ok(None));
        assert!(parse_header(b"B 1 2 3 4\n").is_err());
        assert!(parse_header(b"A x 0 0 0\n").is_err());
        assert!(parse_header(&[b'A'; 200]).is_err());
    }

    /// The real server script under bash: pipelined requests with odd
    /// arguments and binary stdin, answered in order and unambiguously.
    #[test]
    fn the_server_answers_framed_requests() {
        use base64::Engine as _;
        let root = tempfile::tempdir().unwrap();
        let server = String::from_utf8(STANDARD.decode(script::server()).unwrap()).unwrap();
        let file = format!("{}/odd name\nA 1 0 0 0\n.txt", root.path().display());
        let mut input = Vec::new();
        // A write whose content looks like a response header, then a read.
        let content = b"A 99 0 3 0\nfake\x00\xff";
        let args = vec![file.clone(), "0".into(), "0".into(), "644".into(), content.len().to_string()];
        input.extend_from_slice(&frame(1, Op::Write.name(), &args, content));
        input.extend_from_slice(&frame(2, Op::Read.name(), std::slice::from_ref(&file), b""));
        input.extend_from_slice(&frame(3, "nope", &[], b""));
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&server)
            .env("OW_ROOT", root.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(&input)?;
                c.wait_with_output()
            })
            .unwrap();
        let mut buf = BytesMut::from(&out.stdout[..]);
        let start = find(&buf, b"OWCH1 sh\n").unwrap();
        buf.advance(start + 9);
        let mut replies = Vec::new();
        while let Ok(Some((h, len))) = parse_header(&buf) {
            buf.advance(len);
            let o = buf.split_to(h.out);
            let e = buf.split_to(h.err);
            replies.push((h.id, h.code, o.to_vec(), String::from_utf8_lossy(&e).into_owned()));
        }
        assert_eq!(replies.len(), 3, "{replies:?}");
        assert_eq!((replies[0].0, replies[0].1), (1, 0), "write: {}", replies[0].3);
        assert_eq!(replies[1].1, 0, "read: {}", replies[1].3);
        let mut expected = format!("{}\n", content.len()).into_bytes();
        expected.extend_from_slice(content);
        assert_eq!(replies[1].2, expected);
        assert_eq!((replies[2].0, replies[2].1), (3, code::INVALID));
    }
}
