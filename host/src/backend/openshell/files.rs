//! Files, over exec: each operation is one of the fixed scripts in
//! [`super::script`], run with the path as an argument, with output that
//! is NUL-separated (file names may hold any byte but `/` and NUL) and
//! produced with `LC_ALL=C` (locale-proof).
//!
//! Reads stream the file's bytes raw from stdout; the host counts them
//! against the announced size and the sandbox checks that the file did not
//! change while it was read (a torn read is an error, not data). Writes go
//! to a temporary file beside the target, are checked against the size the
//! host sent (nothing incomplete is ever committed), and are renamed into
//! place only then. Every path is
//! resolved inside the sandbox and refused if it leads outside the
//! workspace.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::channel::{self, Slot};
use super::exec::{self, MAX_FRAME};
use super::script::{self, code};
use super::status::to_error;
use super::wire::{Event, Events, Target, Wire};
use crate::archive::Excludes;
use crate::backend::{
    ByteStream, DirEntry, ExecEvent, ExecInput, ExecRequest, ExecSession, FileKind, FileRead, FileSink, FileStat,
    Stdin, WriteOptions,
};
use crate::error::{Result, SandboxError};

/// Deadline for one file operation's exec.
const OP_TIMEOUT: Duration = Duration::from_secs(300);
/// Most output a metadata operation (stat, list) may produce.
const MAX_META_OUTPUT: usize = 64 << 20;

/// Runs file scripts in one sandbox: through its session channel when
/// there is one, else one exec each.
#[derive(Debug, Clone)]
pub struct Files {
    pub(super) wire: Arc<dyn Wire>,
    pub(super) target: Target,
    /// The workspace root every path must stay in.
    pub(super) root: String,
    /// The sandbox's session channel, unless it is turned off.
    pub(super) channel: Option<Arc<Slot>>,
}

/// Operations that may run again when the channel failed after sending
/// them (re-running the others could fail or repeat their effect).
const IDEMPOTENT: &[&str] = &["stat", "list", "read", "realpath", "chmod", "list_tree", "write_abort"];

/// The result of a script.
#[derive(Debug)]
struct Output {
    code: i32,
    stdout: Bytes,
    stderr: String,
}

/// What a failed script's exit code means.
fn script_error(op: &str, code: i32, stderr: &str) -> SandboxError {
    let msg = stderr.trim().lines().last().unwrap_or("").to_string();
    let msg = if msg.is_empty() { format!("exited with {code}") } else { msg };
    match code {
        code::NOT_FOUND => SandboxError::not_found(op, msg),
        code::OUTSIDE => SandboxError::denied(op, msg),
        code::CONFLICT => SandboxError::conflict(op, msg),
        code::INVALID => SandboxError::invalid(op, msg),
        code::CORRUPT => {
            let mut e = SandboxError::backend(op, "corrupt", msg);
            e.retryable = true;
            e
        }
        code::WRAPPER => SandboxError::backend(
            op,
            "wrapper",
            format!(
                "the sandbox could not run openshell-wasm's helper script (it needs sh, base64, mkfifo, dd): {msg}"
            ),
        ),
        _ => SandboxError::backend(op, "exec", format!("exited with {code}: {msg}")),
    }
}

impl Files {
    fn request(&self, parts: &[&str], args: &[&str], stdin: Stdin) -> ExecRequest {
        let mut argv = vec!["sh".to_string(), "-c".into(), script::FILE_BOOTSTRAP.into(), "sh".into()];
        argv.extend(args.iter().map(|a| a.to_string()));
        let env = BTreeMap::from([
            ("OW_FS".to_string(), script::encoded(parts)),
            ("OW_ROOT".to_string(), self.root.clone()),
            ("LC_ALL".to_string(), "C".to_string()),
        ]);
        ExecRequest { argv, cwd: self.root.clone(), env, stdin, pty: None, timeout: OP_TIMEOUT }
    }

    /// Run channel operation `name` through the session channel; `None`
    /// when it has to run in its own exec instead.
    async fn via_channel(&self, op: &str, name: &'static str, args: &[&str], stdin: &Bytes) -> Option<Result<Output>> {
        let slot = self.channel.as_ref()?;
        if stdin.len() > channel::MAX_IN {
            return None;
        }
        let ch = slot.get().await?;
        match ch.call(name, args.iter().map(|a| a.to_string()).collect(), stdin.clone()).await {
            Ok(r) => Some(Ok(Output { code: r.code, stdout: r.stdout, stderr: r.stderr })),
            Err(f) if f.maybe_ran && !IDEMPOTENT.contains(&name) => Some(Err(f.error.context(format!(
                "the session channel failed during {op}, which may or may not have taken effect; check and retry"
            )))),
            Err(f) => {
                tracing::debug!(op, "session channel failed, running in its own exec: {}", f.error);
                None
            }
        }
    }

    /// Run channel operation `name` and collect its output.
    async fn run(&self, op: &'static str, name: &'static str, args: &[&str], stdin: Bytes) -> Result<Output> {
        if let Some(out) = self.via_channel(op, name, args, &stdin).await {
            return out;
        }
        let parts = script::channel_op(name);
        let session = exec::start_internal(
            self.wire.clone(),
            self.target.clone(),
            self.request(parts, args, Stdin::Bytes(stdin)),
            op,
        )
        .await?;
        collect(session.events, op).await
    }

    /// Run channel operation `name`, which must succeed.
    async fn ok(&self, op: &'static str, name: &'static str, args: &[&str], stdin: Bytes) -> Result<Bytes> {
        let out = self.run(op, name, args, stdin).await?;
        if out.code != 0 {
            return Err(script_error(op, out.code, &out.stderr));
        }
        Ok(out.stdout)
    }

    /// `lstat`.
    pub async fn stat(&self, path: &str) -> Result<FileStat> {
        let out = self.ok("fs.stat", "stat", &[path], Bytes::new()).await?;
        parse_stat(path, &out).ok_or_else(|| malformed("fs.stat"))
    }

    /// Directory listing, sorted by name.
    pub async fn list(&self, path: &str) -> Result<Vec<DirEntry>> {
        let out = self.ok("fs.list-dir", "list", &[path], Bytes::new()).await?;
        parse_list(&out).ok_or_else(|| malformed("fs.list-dir"))
    }

    /// `mkdir` / `mkdir -p`.
    pub async fn mkdir(&self, path: &str, parents: bool) -> Result<()> {
        self.ok("fs.mkdir", "mkdir", &[path, flag(parents)], Bytes::new()).await.map(|_| ())
    }

    /// Remove, never following symlinks.
    pub async fn remove(&self, path: &str, recursive: bool) -> Result<()> {
        self.ok("fs.remove", "remove", &[path, flag(recursive)], Bytes::new()).await.map(|_| ())
    }

    /// `rename`.
    pub async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.ok("fs.rename", "rename", &[from, to], Bytes::new()).await.map(|_| ())
    }

    /// `realpath -e`.
    pub async fn realpath(&self, path: &str) -> Result<String> {
        let out = self.ok("fs.realpath", "realpath", &[path], Bytes::new()).await?;
        split_nul(&out).first().map(|p| String::from_utf8_lossy(p).into_owned()).ok_or_else(|| malformed("fs.realpath"))
    }

    /// `chmod`.
    pub async fn chmod(&self, path: &str, mode: u32) -> Result<()> {
        self.ok("fs.chmod", "chmod", &[path, &format!("{:o}", mode & 0o7777)], Bytes::new()).await.map(|_| ())
    }

    /// Open a file for reading: its size comes first, then its bytes, and
    /// the stream's last step checks length and SHA-256.
    pub async fn read(&self, path: &str) -> Result<FileRead> {
        let op = "fs.read-file";
        let max = channel::MAX_READ.to_string();
        match self.via_channel(op, "read", &[path, &max], &Bytes::new()).await {
            Some(Ok(out)) if out.code == code::TOO_BIG => {}
            Some(Ok(out)) => return small_read(op, &out),
            Some(Err(e)) => return Err(e),
            None => {}
        }
        // The content is polled straight from the gateway's stream (no
        // relay task in between: a hop per chunk costs more than the copy).
        let (call, _) = exec::prepare(&self.request(&[script::READ], &[path], Stdin::Bytes(Bytes::new())), op, true)?;
        let mut events = self.wire.exec(&self.target, call, OP_TIMEOUT).await.map_err(|s| to_error(op, &s))?;
        // The header line: the size.
        let mut head = BytesMut::new();
        let mut stderr = Vec::new();
        let (size, rest) = loop {
            match events.next().await {
                Some(Ok(Event::Stdout(b))) => {
                    head.extend_from_slice(&b);
                    if let Some(i) = head.iter().position(|c| *c == b'\n') {
                        let size = num(&head[..i]).ok_or_else(|| malformed(op))?;
                        break (size, head.split_off(i + 1).freeze());
                    }
                    if head.len() > 64 {
                        return Err(malformed(op));
                    }
                }
                Some(Ok(Event::Stderr(b))) => keep_stderr(&mut stderr, &b),
                Some(Ok(Event::Exit(code))) => return Err(script_error(op, code, &String::from_utf8_lossy(&stderr))),
                Some(Err(s)) => return Err(to_error(op, &s)),
                None => return Err(SandboxError::unavailable(op, "the exec stream ended early")),
            }
        };
        let state = Download {
            events,
            size,
            got: rest.len() as u64,
            first: (!rest.is_empty()).then_some(rest),
            stderr,
            done: false,
        };
        if state.got > size {
            return Err(incomplete(op, state.got, size));
        }
        let content: ByteStream = Box::pin(futures::stream::unfold(state, move |mut st| async move {
            let item = st.next(op).await?;
            Some((item, st))
        }));
        Ok(FileRead { size, content })
    }

    /// A writer for `path`.
    pub fn writer(&self, path: &str, options: WriteOptions) -> OpenShellSink {
        OpenShellSink {
            files: self.clone(),
            path: path.to_string(),
            options,
            buffer: BytesMut::new(),
            size: 0,
            temp: None,
            upload: None,
        }
    }

    /// A tar archive of `root` with `excludes` left out.
    pub async fn export_tar(&self, root: &str, excludes: &[String]) -> Result<ByteStream> {
        let op = "snapshot.persist";
        Excludes::new(excludes).map_err(|m| SandboxError::invalid(op, m))?;
        let mut args: Vec<String> = vec![root.to_string()];
        args.extend(tar_exclude_args(excludes));
        let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let session = exec::start_internal(
            self.wire.clone(),
            self.target.clone(),
            self.request(&[script::EXPORT_TAR], &arg_refs, Stdin::Bytes(Bytes::new())),
            op,
        )
        .await?;
        let mut events = session.events;
        let (tx, rx) = mpsc::channel::<Result<Bytes>>(8);
        tokio::spawn(async move {
            let mut stderr = String::new();
            while let Some(ev) = events.recv().await {
                match ev {
                    ExecEvent::Stdout(b) => {
                        if tx.send(Ok(b)).await.is_err() {
                            return;
                        }
                    }
                    ExecEvent::Stderr(b) => stderr.push_str(&String::from_utf8_lossy(&b)),
                    ExecEvent::Exit(e) => {
                        if e.code != 0 {
                            let _ = tx.send(Err(script_error(op, e.code, &stderr))).await;
                        }
                        return;
                    }
                    ExecEvent::Failed(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
            let _ = tx
                .send(Err(SandboxError::unavailable(op, "the exec stream ended before the archive was complete")))
                .await;
        });
        Ok(Box::pin(ReceiverStream::new(rx)))
    }

    /// Unpack a checked archive into `root`; with `clear_except`, first
    /// remove everything there that the patterns do not keep.
    pub async fn import_tar(&self, root: &str, mut archive: ByteStream, clear_except: Option<&[String]>) -> Result<()> {
        let op = "snapshot.hydrate";
        if let Some(keep) = clear_except {
            let keep = Excludes::new(keep).map_err(|m| SandboxError::invalid(op, m))?;
            let listing = self.ok(op, "list_tree", &[root], Bytes::new()).await?;
            let paths: Vec<String> =
                split_nul(&listing).into_iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect();
            let doomed = deletions(&paths, &keep);
            if !doomed.is_empty() {
                let mut list = Vec::new();
                for d in doomed {
                    list.extend_from_slice(d.as_bytes());
                    list.push(0);
                }
                self.ok(op, "remove_list", &[root], Bytes::from(list)).await?;
            }
        }
        let session = exec::start_internal(
            self.wire.clone(),
            self.target.clone(),
            self.request(&[script::IMPORT_TAR], &[root], Stdin::Interactive),
            op,
        )
        .await?;
        let input = session.input.clone();
        let feeder = tokio::spawn(async move {
            // Gather the archive's pieces into frames of up to MAX_FRAME:
            // each frame costs the sandbox a `dd`, and archives come in
            // small pieces.
            let mut frame = BytesMut::new();
            while let Some(chunk) = archive.next().await {
                frame.extend_from_slice(&chunk?);
                if frame.len() >= MAX_FRAME && input.send(ExecInput::Stdin(frame.split().freeze())).await.is_err() {
                    return Ok(());
                }
            }
            if !frame.is_empty() && input.send(ExecInput::Stdin(frame.freeze())).await.is_err() {
                return Ok(());
            }
            let _ = input.send(ExecInput::CloseStdin).await;
            Ok(())
        });
        let out = collect(session.events, op).await;
        let fed = feeder.await.map_err(|e| SandboxError::backend(op, "internal", e.to_string()))?;
        fed?;
        let out = out?;
        if out.code != 0 {
            return Err(script_error(op, out.code, &out.stderr));
        }
        Ok(())
    }
}

/// A whole file read through the session channel: `SIZE\n` and the bytes,
/// checked against the size.
fn small_read(op: &str, out: &Output) -> Result<FileRead> {
    if out.code != 0 {
        return Err(script_error(op, out.code, &out.stderr));
    }
    let nl = out.stdout.iter().position(|c| *c == b'\n').ok_or_else(|| malformed(op))?;
    let size = num(&out.stdout[..nl]).ok_or_else(|| malformed(op))?;
    let content = out.stdout.slice(nl + 1..);
    if content.len() as u64 != size {
        return Err(incomplete(op, content.len() as u64, size));
    }
    let content: ByteStream = if content.is_empty() {
        Box::pin(futures::stream::empty())
    } else {
        Box::pin(futures::stream::once(async move { Ok(content) }))
    };
    Ok(FileRead { size, content })
}

/// A streamed read after its header: the file's bytes, then a check that
/// all of them came and the file did not change meanwhile.
struct Download {
    events: Events,
    size: u64,
    got: u64,
    first: Option<Bytes>,
    stderr: Vec<u8>,
    done: bool,
}

impl Download {
    /// The next piece, the final error, or `None` at a clean end.
    async fn next(&mut self, op: &str) -> Option<Result<Bytes>> {
        if self.done {
            return None;
        }
        if let Some(b) = self.first.take() {
            return Some(Ok(b));
        }
        loop {
            let failed = match self.events.next().await {
                Some(Ok(Event::Stdout(b))) => {
                    self.got += b.len() as u64;
                    if self.got <= self.size {
                        return Some(Ok(b));
                    }
                    SandboxError::backend(op, "corrupt", "the file grew while it was read; read it again")
                }
                Some(Ok(Event::Stderr(b))) => {
                    keep_stderr(&mut self.stderr, &b);
                    continue;
                }
                Some(Ok(Event::Exit(0))) if self.got == self.size => {
                    self.done = true;
                    return None;
                }
                Some(Ok(Event::Exit(0))) => incomplete(op, self.got, self.size),
                Some(Ok(Event::Exit(code))) => script_error(op, code, &String::from_utf8_lossy(&self.stderr)),
                Some(Err(s)) => to_error(op, &s),
                None => SandboxError::unavailable(op, "the exec stream ended before the file was complete"),
            };
            self.done = true;
            return Some(Err(failed));
        }
    }
}

/// Keep the first 64 KiB of a script's stderr.
fn keep_stderr(buf: &mut Vec<u8>, b: &[u8]) {
    let room = (64 * 1024usize).saturating_sub(buf.len());
    buf.extend_from_slice(&b[..b.len().min(room)]);
}

/// Collect a command's events.
async fn collect(mut events: mpsc::Receiver<ExecEvent>, op: &str) -> Result<Output> {
    let mut stdout = BytesMut::new();
    let mut stderr = Vec::new();
    while let Some(ev) = events.recv().await {
        match ev {
            ExecEvent::Stdout(b) => {
                if stdout.len() + b.len() > MAX_META_OUTPUT {
                    return Err(SandboxError::too_large(op, "the operation produced more output than expected"));
                }
                stdout.extend_from_slice(&b);
            }
            ExecEvent::Stderr(b) => {
                if stderr.len() < 64 * 1024 {
                    stderr.extend_from_slice(&b);
                }
            }
            ExecEvent::Exit(e) => {
                return Ok(Output {
                    code: e.code,
                    stdout: stdout.freeze(),
                    stderr: String::from_utf8_lossy(&stderr).into_owned(),
                });
            }
            ExecEvent::Failed(e) => return Err(e),
        }
    }
    Err(SandboxError::unavailable(op, "the exec stream ended without an exit status"))
}

/// The relative paths to delete so that only what `keep` matches (and the
/// directories holding it) remains: whole subtrees when nothing inside is
/// kept, never a path below one already deleted.
fn deletions(paths: &[String], keep: &Excludes) -> Vec<String> {
    let kept: Vec<&String> = paths.iter().filter(|p| keep.matches(p)).collect();
    let mut sorted: Vec<&String> = paths.iter().collect();
    sorted.sort();
    let mut out: Vec<String> = Vec::new();
    for p in sorted {
        if keep.matches(p) || out.iter().any(|d| p.starts_with(&format!("{d}/"))) {
            continue;
        }
        let prefix = format!("{p}/");
        if kept.iter().any(|k| k.starts_with(&prefix)) {
            continue;
        }
        out.push(p.clone());
    }
    out
}

/// GNU tar options that exclude what [`Excludes`] excludes: names at any
/// depth (`--no-anchored`), paths from the root (`--anchored`), `*` never
/// crossing `/` (set by the export script).
fn tar_exclude_args(excludes: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for p in excludes {
        let t = p.trim_end_matches('/');
        if t.is_empty() || t == "." {
            continue;
        }
        if t.contains('/') {
            out.push("--anchored".into());
            out.push(format!("--exclude=./{}", t.trim_start_matches('/')));
        } else {
            out.push("--no-anchored".into());
            out.push(format!("--exclude={t}"));
        }
    }
    out
}

fn flag(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

/// A read that did not deliver the size it announced.
fn incomplete(op: &str, got: u64, size: u64) -> SandboxError {
    let mut e = SandboxError::backend(
        op,
        "corrupt",
        format!("{got} of {size} bytes arrived (the file changed while it was read?); read it again"),
    );
    e.retryable = true;
    e
}

fn malformed(op: &str) -> SandboxError {
    SandboxError::backend(
        op,
        "protocol",
        "the sandbox's answer could not be parsed (are GNU coreutils and findutils installed?)",
    )
}

fn split_nul(b: &[u8]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = b.split(|c| *c == 0).collect();
    if v.last().is_some_and(|l| l.is_empty()) {
        v.pop();
    }
    v
}

fn num(b: &[u8]) -> Option<u64> {
    std::str::from_utf8(b).ok()?.trim().parse().ok()
}

fn octal(b: &[u8]) -> Option<u32> {
    u32::from_str_radix(std::str::from_utf8(b).ok()?.trim(), 8).ok().map(|m| m & 0o7777)
}

fn mtime(b: &[u8]) -> Option<i64> {
    let secs: f64 = std::str::from_utf8(b).ok()?.trim().parse().ok()?;
    Some((secs * 1000.0) as i64)
}

fn kind(b: &[u8]) -> FileKind {
    match b {
        b"f" => FileKind::File,
        b"d" => FileKind::Directory,
        b"l" => FileKind::Symlink,
        _ => FileKind::Other,
    }
}

/// Parse a listing: `name\0type\0size\0mode\0mtime\0` per entry; sorted by
/// name.
pub(crate) fn parse_list(out: &[u8]) -> Option<Vec<DirEntry>> {
    let fields: Vec<&[u8]> = split_nul(out);
    if !fields.len().is_multiple_of(5) {
        return None;
    }
    let mut entries = Vec::new();
    for f in fields.chunks(5) {
        entries.push(DirEntry {
            name: String::from_utf8_lossy(f[0]).into_owned(),
            kind: kind(f[1]),
            size: num(f[2])?,
            mode: octal(f[3])?,
            mtime_ms: mtime(f[4])?,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Some(entries)
}

/// Parse `type\0size\0mode\0mtime\0target\0`.
pub(crate) fn parse_stat(path: &str, out: &[u8]) -> Option<FileStat> {
    let f = split_nul(out);
    // A symlink-free stat ends with an empty target field.
    if f.len() < 4 {
        return None;
    }
    let k = kind(f[0]);
    Some(FileStat {
        path: path.to_string(),
        kind: k,
        size: num(f[1])?,
        mode: octal(f[2])?,
        mtime_ms: mtime(f[3])?,
        symlink_target: (k == FileKind::Symlink)
            .then(|| f.get(4).map(|t| String::from_utf8_lossy(t).into_owned()).unwrap_or_default()),
    })
}

/// Below this a write is sent in one operation when it finishes.
const WHOLE_WRITE: usize = MAX_FRAME;
/// Deadline of a streamed upload's exec: a guest may write a large file
/// slowly, and the upload ends anyway when the guest drops its stream.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(3600);

/// A file being written over exec: small files in one operation at
/// `finish`; larger ones streamed into a temporary file through one
/// interactive exec, committed at `finish` after the checksum matches.
pub struct OpenShellSink {
    files: Files,
    path: String,
    options: WriteOptions,
    buffer: BytesMut,
    size: u64,
    temp: Option<String>,
    upload: Option<ExecSession>,
}

impl std::fmt::Debug for OpenShellSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenShellSink").field("path", &self.path).field("size", &self.size).finish_non_exhaustive()
    }
}

impl OpenShellSink {
    fn args(&self) -> Vec<String> {
        vec![
            self.path.clone(),
            flag(self.options.create_parents).into(),
            flag(self.options.exclusive).into(),
            format!("{:o}", self.options.mode & 0o7777),
        ]
    }

    /// Send the buffer into the upload, starting it first if needed.
    async fn flush(&mut self) -> Result<()> {
        let op = "fs.write-file";
        if self.temp.is_none() {
            let args = self.args();
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = self.files.ok(op, "write_open", &refs, Bytes::new()).await?;
            let tmp = split_nul(&out)
                .first()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .ok_or_else(|| malformed(op))?;
            self.temp = Some(tmp);
        }
        if self.upload.is_none() {
            let tmp = self.temp.clone().unwrap_or_default();
            let mut req = self.files.request(&[script::WRITE_APPEND], &[&tmp], Stdin::Interactive);
            req.timeout = UPLOAD_TIMEOUT;
            self.upload =
                Some(exec::start_internal(self.files.wire.clone(), self.files.target.clone(), req, op).await?);
        }
        if self.buffer.is_empty() {
            return Ok(());
        }
        let data = self.buffer.split().freeze();
        let upload = self.upload.as_mut().ok_or_else(|| malformed(op))?;
        if upload.input.send(ExecInput::Stdin(data)).await.is_err() {
            // The upload ended early: its exit status says why.
            return Err(self.end_upload().await.err().unwrap_or_else(|| {
                SandboxError::unavailable(op, "the upload stream closed before all data was sent")
            }));
        }
        Ok(())
    }

    /// Close the upload's stdin and wait for it to succeed.
    async fn end_upload(&mut self) -> Result<()> {
        let op = "fs.write-file";
        let Some(upload) = self.upload.take() else { return Ok(()) };
        let _ = upload.input.send(ExecInput::CloseStdin).await;
        let out = collect(upload.events, op).await?;
        if out.code != 0 {
            return Err(script_error(op, out.code, &out.stderr));
        }
        Ok(())
    }
}

impl Drop for OpenShellSink {
    fn drop(&mut self) {
        // Unfinished: end the upload and remove the temporary file (best
        // effort).
        self.upload.take();
        if let Some(tmp) = self.temp.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let files = self.files.clone();
            rt.spawn(async move {
                let _ = files.ok("fs.write-file", "write_abort", &[&tmp], Bytes::new()).await;
            });
        }
    }
}

#[async_trait]
impl FileSink for OpenShellSink {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.size += data.len() as u64;
        self.buffer.extend_from_slice(&data);
        if self.buffer.len() >= WHOLE_WRITE {
            self.flush().await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<FileStat> {
        let op = "fs.write-file";
        let mut args = self.args();
        args.push(self.size.to_string());
        let out = if self.temp.is_none() {
            let data = self.buffer.split().freeze();
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            self.files.ok(op, "write", &refs, data).await?
        } else {
            self.flush().await?;
            self.end_upload().await?;
            let tmp = self.temp.take().unwrap_or_default();
            args.push(tmp.clone());
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = self.files.ok(op, "write_finish", &refs, Bytes::new()).await;
            if out.is_err() {
                // A failed commit removes its temporary file, but one that
                // never ran (the channel failed) would not.
                self.temp = Some(tmp);
            }
            out?
        };
        parse_stat(&self.path, &out).ok_or_else(|| malformed(op))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_output_is_parsed() {
        let s = parse_stat("/sandbox/a", b"f\x0012\x00644\x001700000000.5000000000\x00\x00").unwrap();
        assert_eq!((s.kind, s.size, s.mode, s.mtime_ms), (FileKind::File, 12, 0o644, 1_700_000_000_500));
        assert_eq!(s.symlink_target, None);
        let l = parse_stat("/sandbox/l", b"l\x005\x00777\x001.0\x00a\nb c\x00").unwrap();
        assert_eq!(l.symlink_target.as_deref(), Some("a\nb c"));
        assert!(parse_stat("/x", b"garbage").is_none());
    }

    #[test]
    fn deletions_keep_excluded_paths_and_their_parents() {
        let paths: Vec<String> = ["a", "a/b", "a/node_modules", "a/node_modules/x", "c", "c/d", "e.txt"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let keep = Excludes::new(&["node_modules".to_string()]).unwrap();
        assert_eq!(deletions(&paths, &keep), vec!["a/b", "c", "e.txt"]);
        assert_eq!(deletions(&paths, &Excludes::default()), vec!["a", "c", "e.txt"]);
    }

    #[test]
    fn excludes_become_tar_options() {
        let args = tar_exclude_args(&["node_modules".into(), "/dist/".into(), "build/cache".into(), ".".into()]);
        assert_eq!(
            args,
            [
                "--no-anchored",
                "--exclude=node_modules",
                "--anchored",
                "--exclude=./dist",
                "--anchored",
                "--exclude=./build/cache"
            ]
        );
    }

    #[test]
    fn exit_codes_become_error_codes() {
        use crate::error::ErrorCode;
        assert_eq!(script_error("x", 44, "a\nb missing\n").code, ErrorCode::NotFound);
        assert_eq!(script_error("x", 44, "a\nb missing\n").message, "b missing");
        assert_eq!(script_error("x", 45, "").code, ErrorCode::PermissionDenied);
        assert_eq!(script_error("x", 46, "").code, ErrorCode::Conflict);
        assert!(script_error("x", 48, "").retryable);
    }
}
