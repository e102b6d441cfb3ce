//! Files, over exec: each operation is one of the protocol's operations
//! ([`Op`]), run with the path as an argument, with output that is
//! NUL-separated (file names may hold any byte but `/` and NUL) and
//! produced with `LC_ALL=C` (locale-proof).
//!
//! Reads stream the file's bytes raw from stdout; the host counts them
//! against the announced size and the sandbox checks that the file did not
//! change while it was read (a torn read is an error, not data). Writes go
//! to a temporary file beside the target, are checked against the size the
//! host sent (nothing incomplete is ever committed), and are renamed into
//! place only then. Every path is resolved inside the sandbox and refused
//! if it leads outside the workspace.
//!
//! - this module: the operations that answer in one go (stat, list, mkdir,
//!   remove, rename, realpath, chmod), through the session channel or one
//!   exec each;
//! - `read`, `write`: streamed file transfers;
//! - `tar`: snapshots' archives in and out;
//! - `parse`: the scripts' NUL-separated output.

mod parse;
mod read;
mod tar;
mod write;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use self::parse::split_nul;
pub(crate) use self::parse::{parse_list, parse_stat};
use super::channel::{self, Slot};
use super::exec;
use super::script::{self, Op, code};
use super::wire::{Target, Wire};
use crate::backend::{DirEntry, ExecEvent, ExecRequest, FileStat, Stdin};
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
    /// The exec that runs `script` on its own.
    fn request(&self, script: Op, args: &[&str], stdin: Stdin) -> ExecRequest {
        let mut argv = vec!["sh".to_string(), "-c".into(), script::FILE_BOOTSTRAP.into(), "sh".into()];
        argv.extend(args.iter().map(|a| a.to_string()));
        let env = BTreeMap::from([
            ("OW_FS".to_string(), script::encoded(script)),
            ("OW_ROOT".to_string(), self.root.clone()),
            ("LC_ALL".to_string(), "C".to_string()),
        ]);
        ExecRequest { argv, cwd: self.root.clone(), env, stdin, pty: None, timeout: OP_TIMEOUT }
    }

    /// Run `script` through the session channel; `None` when it has to
    /// run in its own exec instead.
    async fn via_channel(&self, op: &str, script: Op, args: &[&str], stdin: &Bytes) -> Option<Result<Output>> {
        let slot = self.channel.as_ref()?;
        if stdin.len() > channel::MAX_IN {
            return None;
        }
        let ch = slot.get().await?;
        match ch.call(script, args.iter().map(|a| a.to_string()).collect(), stdin.clone()).await {
            Ok(r) => Some(Ok(Output { code: r.code, stdout: r.stdout, stderr: r.stderr })),
            Err(f) if f.maybe_ran && !script.idempotent() => Some(Err(f.error.context(format!(
                "the session channel failed during {op}, which may or may not have taken effect; check and retry"
            )))),
            Err(f) => {
                tracing::debug!(op, "session channel failed, running in its own exec: {}", f.error);
                None
            }
        }
    }

    /// Run `script` and collect its output.
    async fn run(&self, op: &'static str, script: Op, args: &[&str], stdin: Bytes) -> Result<Output> {
        if let Some(out) = self.via_channel(op, script, args, &stdin).await {
            return out;
        }
        let session = exec::start(
            self.wire.clone(),
            self.target.clone(),
            self.request(script, args, Stdin::Bytes(stdin)),
            exec::Caller::Host,
            op,
        )
        .await?;
        collect(session.events, op).await
    }

    /// Run `script`, which must succeed.
    async fn ok(&self, op: &'static str, script: Op, args: &[&str], stdin: Bytes) -> Result<Bytes> {
        let out = self.run(op, script, args, stdin).await?;
        if out.code != 0 {
            return Err(script_error(op, out.code, &out.stderr));
        }
        Ok(out.stdout)
    }

    /// `lstat`.
    pub async fn stat(&self, path: &str) -> Result<FileStat> {
        let out = self.ok("fs.stat", Op::Stat, &[path], Bytes::new()).await?;
        parse_stat(path, &out).ok_or_else(|| malformed("fs.stat"))
    }

    /// Directory listing, sorted by name.
    pub async fn list(&self, path: &str) -> Result<Vec<DirEntry>> {
        let out = self.ok("fs.list-dir", Op::List, &[path], Bytes::new()).await?;
        parse_list(&out).ok_or_else(|| malformed("fs.list-dir"))
    }

    /// `mkdir` / `mkdir -p`.
    pub async fn mkdir(&self, path: &str, parents: bool) -> Result<()> {
        self.ok("fs.mkdir", Op::Mkdir, &[path, flag(parents)], Bytes::new()).await.map(|_| ())
    }

    /// Remove, never following symlinks.
    pub async fn remove(&self, path: &str, recursive: bool) -> Result<()> {
        self.ok("fs.remove", Op::Remove, &[path, flag(recursive)], Bytes::new()).await.map(|_| ())
    }

    /// `rename`.
    pub async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.ok("fs.rename", Op::Rename, &[from, to], Bytes::new()).await.map(|_| ())
    }

    /// `realpath -e`.
    pub async fn realpath(&self, path: &str) -> Result<String> {
        let out = self.ok("fs.realpath", Op::Realpath, &[path], Bytes::new()).await?;
        split_nul(&out).first().map(|p| String::from_utf8_lossy(p).into_owned()).ok_or_else(|| malformed("fs.realpath"))
    }

    /// `chmod`.
    pub async fn chmod(&self, path: &str, mode: u32) -> Result<()> {
        self.ok("fs.chmod", Op::Chmod, &[path, &format!("{:o}", mode & 0o7777)], Bytes::new()).await.map(|_| ())
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
            ExecEvent::Stderr(b) => keep_stderr(&mut stderr, &b),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_become_error_codes() {
        use crate::error::ErrorCode;
        assert_eq!(script_error("x", code::NOT_FOUND, "a\nb missing\n").code, ErrorCode::NotFound);
        assert_eq!(script_error("x", code::NOT_FOUND, "a\nb missing\n").message, "b missing");
        assert_eq!(script_error("x", code::OUTSIDE, "").code, ErrorCode::PermissionDenied);
        assert_eq!(script_error("x", code::CONFLICT, "").code, ErrorCode::Conflict);
        assert!(script_error("x", code::CORRUPT, "").retryable);
    }
}
