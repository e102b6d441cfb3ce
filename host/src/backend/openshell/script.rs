//! The sandbox file protocol, defined once: its operations ([`Op`]), the
//! exit codes they fail with ([`code`]), and the POSIX shell scripts that
//! implement them (`scripts/*.sh`).
//!
//! The protocol has two implementations in the sandbox, and both take
//! their tables from here:
//! - the shell scripts: one exec per operation, and the bash session
//!   server, whose functions and dispatch are generated from [`Op`]; the
//!   exit codes are `@NAME@` placeholders in the files, filled in from
//!   [`code`] by [`fill`];
//! - the Python session server (`channel_server.py`): the host passes it
//!   the operation names and exit codes in its environment when it starts
//!   it (see `channel.rs`), and it refuses to start (so the shell server
//!   takes over) when it lacks an operation.
//!
//! No script is ever built from guest input: guest values (paths, argv,
//! environment) travel only as positional arguments or base64 environment
//! values, and every script is a fixed file. The gateway rejects CR and LF
//! in argv, environment values and the workdir, and runs commands through
//! `bash -lc`, so scripts are sent base64-encoded in `OW_SCRIPT` or
//! `OW_FS` and started by a one-line bootstrap.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Declares [`Op`] with [`Op::ALL`] and [`Op::name`] from one list.
macro_rules! operations {
    ($(#[$attr:meta])* pub enum Op { $($(#[doc = $doc:literal])* $op:ident = $name:literal,)* }) => {
        $(#[$attr])*
        pub enum Op { $($(#[doc = $doc])* $op,)* }

        impl Op {
            /// Every operation.
            pub const ALL: &[Op] = &[$(Op::$op),*];

            /// Its name in session channel requests, in the servers'
            /// tables and of its script, `scripts/<name>.sh`.
            pub const fn name(self) -> &'static str {
                match self { $(Op::$op => $name,)* }
            }
        }
    };
}

operations! {
    /// An operation of the file protocol: a script run with its arguments
    /// as `$1`, `$2`, ... and its input on stdin, or the same request over
    /// the session channel. Output is NUL-separated (file names may hold
    /// any byte but `/` and NUL) and produced with `LC_ALL=C`.
    ///
    /// The write operations share their arguments: `$1` target, `$2`
    /// create parents (`0`/`1`), `$3` exclusive (`0`/`1`), `$4` octal
    /// mode, `$5` expected size, `$6` the temporary file (streamed writes).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Op {
        /// `lstat` of `$1`: `type\0size\0mode\0mtime\0target\0`.
        Stat = "stat",
        /// List directory `$1` (following a final symlink that stays inside):
        /// `name\0type\0size\0mode\0mtime\0` per entry.
        List = "list",
        /// File `$1`: its size and a newline, then its bytes. Fails with
        /// [`code::CORRUPT`] if the file changed while it was read (device,
        /// inode, size and mtime compared before and after; the host also
        /// counts the bytes). With `$2`, refuses files larger than `$2` bytes
        /// with [`code::TOO_BIG`] (the session channel's small reads).
        Read = "read",
        /// Write stdin to the target atomically and print its stat.
        Write = "write",
        /// Start a streamed write: print the temporary file's path
        /// (NUL-terminated).
        WriteOpen = "write_open",
        /// Append the frames on stdin (`N` and a newline, then N bytes; `E`
        /// and a newline at the end) to the temporary file `$1` of a
        /// streamed write. Through its own exec only: it reads the frames
        /// itself, so the upload's bytes pass through one process.
        WriteAppend = "write_append",
        /// Finish a streamed write whose temporary file is `$6`: check that it
        /// holds all `$5` bytes (the stream that filled it ended with success,
        /// so it holds exactly what was sent), move it into place (or link it,
        /// for exclusive writes, so an existing file is never replaced) and
        /// print the new file's stat.
        WriteFinish = "write_finish",
        /// Discard a streamed write's temporary file `$1`.
        WriteAbort = "write_abort",
        /// `mkdir` of `$1`; `$2` = `1` for `-p`.
        Mkdir = "mkdir",
        /// Remove `$1`; `$2` = `1` for recursive. Never follows symlinks.
        Remove = "remove",
        /// Rename `$1` to `$2`.
        Rename = "rename",
        /// Canonical path of `$1` (NUL-terminated).
        Realpath = "realpath",
        /// `chmod $2 $1` (octal).
        Chmod = "chmod",
        /// All paths below directory `$1`, relative, NUL-separated.
        ListTree = "list_tree",
        /// Remove the relative paths on stdin (NUL-separated) below `$1`.
        RemoveList = "remove_list",
        /// A tar archive of directory `$1` on stdout; the other arguments are
        /// `tar` exclude options.
        ExportTar = "export_tar",
        /// Unpack the (already checked) tar archive on stdin into `$1`.
        ImportTar = "import_tar",
    }
}

impl Op {
    /// Whether running it again has the effect of running it once, so that
    /// it may run again (in its own exec) when the session channel failed
    /// after sending it; running the others again could fail or repeat
    /// their effect.
    pub const fn idempotent(self) -> bool {
        matches!(
            self,
            Op::Stat | Op::List | Op::Read | Op::Realpath | Op::Chmod | Op::ListTree | Op::WriteAbort | Op::ExportTar
        )
    }

    /// Whether the session channel carries it: both session servers serve
    /// exactly these. The archives and uploads stream through their own
    /// exec.
    pub const fn in_channel(self) -> bool {
        !matches!(self, Op::ExportTar | Op::ImportTar | Op::WriteAppend)
    }

    /// The operations the session channel carries.
    pub fn channel() -> impl Iterator<Item = Op> {
        Op::ALL.iter().copied().filter(|op| op.in_channel())
    }

    /// The shell files its script is joined from, after the prelude (the
    /// write scripts share their first and last steps).
    const fn sources(self) -> &'static [&'static str] {
        match self {
            Op::Stat => &[include_str!("scripts/stat.sh")],
            Op::List => &[include_str!("scripts/list.sh")],
            Op::Read => &[include_str!("scripts/read.sh")],
            Op::Write => &[WRITE_PREPARE, include_str!("scripts/write.sh"), WRITE_COMMIT],
            Op::WriteOpen => &[WRITE_PREPARE, include_str!("scripts/write_open.sh")],
            Op::WriteAppend => &[include_str!("scripts/write_append.sh")],
            Op::WriteFinish => &[include_str!("scripts/write_finish.sh"), WRITE_COMMIT],
            Op::WriteAbort => &[include_str!("scripts/write_abort.sh")],
            Op::Mkdir => &[include_str!("scripts/mkdir.sh")],
            Op::Remove => &[include_str!("scripts/remove.sh")],
            Op::Rename => &[include_str!("scripts/rename.sh")],
            Op::Realpath => &[include_str!("scripts/realpath.sh")],
            Op::Chmod => &[include_str!("scripts/chmod.sh")],
            Op::ListTree => &[include_str!("scripts/list_tree.sh")],
            Op::RemoveList => &[include_str!("scripts/remove_list.sh")],
            Op::ExportTar => &[include_str!("scripts/export_tar.sh")],
            Op::ImportTar => &[include_str!("scripts/import_tar.sh")],
        }
    }

    /// Its script after the prelude, exit codes filled in.
    fn script(self) -> String {
        fill(&self.sources().concat())
    }
}

/// Declares the exit codes and [`code::ALL`], the table that fills them
/// into the scripts and is passed to the Python server, from one list.
macro_rules! exit_codes {
    ($($(#[doc = $doc:literal])* $name:ident = $value:literal;)*) => {
        $($(#[doc = $doc])* pub const $name: i32 = $value;)*
        /// Every code by name: `@NAME@` in a script stands for it.
        pub const ALL: &[(&str, i32)] = &[$((stringify!($name), $name)),*];
    };
}

/// Exit codes that report a failure precisely; any other non-zero code is
/// a plain failure, with the reason on stderr.
pub mod code {
    exit_codes! {
        /// Not found.
        NOT_FOUND = 44;
        /// Leads outside the workspace.
        OUTSIDE = 45;
        /// Conflict (exists, not a directory, not empty).
        CONFLICT = 46;
        /// Invalid (including a malformed or unknown session request).
        INVALID = 47;
        /// Integrity check failed.
        CORRUPT = 48;
        /// Too large for the session channel; use a streaming exec.
        TOO_BIG = 49;
        /// The wrapper failed (base64 or fifo missing).
        WRAPPER = 125;
        /// The Python session server cannot serve here (Python older than
        /// 3.10, or it lacks an operation): the shell server takes over.
        USE_SHELL = 3;
    }
}

/// `text` with every `@NAME@` of [`code::ALL`] replaced by its code. Done
/// per use, not cached: it costs microseconds, next to an exec's
/// milliseconds.
pub fn fill(text: &str) -> String {
    let mut out = text.to_string();
    for (name, value) in code::ALL {
        out = out.replace(&format!("@{name}@"), &value.to_string());
    }
    out
}

/// `sh -c BOOTSTRAP sh ARGS...` runs the wrapper in `OW_SCRIPT` with ARGS.
pub const BOOTSTRAP: &str = "eval \"$(printf '%s' \"$OW_SCRIPT\" | base64 -d)\"";

/// `sh -c FILE_BOOTSTRAP sh ARGS...` runs the file script in `OW_FS`; a
/// separate variable, so a file script can itself run inside the wrapper
/// (when its arguments needed encoding).
pub const FILE_BOOTSTRAP: &str = "eval \"$(printf '%s' \"$OW_FS\" | base64 -d)\"";

/// Runs a command whose argv, environment or cwd the gateway cannot carry
/// verbatim, and gives it stdin in one of three modes (`OW_MODE`):
/// `exec` (stdin as delivered), `sized:N` (exactly N bytes, then
/// end-of-file, so a stream can stay open for the exit status), or
/// `framed` (stdin frames `<len>\n<bytes>`, `E` for end-of-file, `S<SIG>`
/// to signal the command's process group). Send it with [`wrapper`],
/// which fills in its exit code.
pub const WRAPPER: &str = include_str!("scripts/wrapper.sh");

/// Helpers every file script starts with. `OW_ROOT` is the workspace; a
/// path is acceptable when its resolved form is the workspace or below.
///
/// Check, then use without a window: scripts `cd` into the directory they
/// act in and check where they really are (`pwd -P`), then use names
/// relative to it, so a directory swapped for a symlink after the check
/// cannot redirect them; files are opened first and the open descriptor's
/// real path (`/proc/self/fd`) is checked before a byte is read. What the
/// shell cannot pin (a rename's target directory, nested paths in a
/// removal list, `mkdir -p`) is resolved and checked just before use; the
/// Python server closes those windows too (see `channel_server.py`).
const PRELUDE: &str = include_str!("scripts/prelude.sh");

/// The first step of [`Op::Write`] and [`Op::WriteOpen`]: check the
/// target, create its parents if asked, and make the temporary file.
const WRITE_PREPARE: &str = include_str!("scripts/write_prepare.sh");

/// The last step of [`Op::Write`] and [`Op::WriteFinish`] (see the
/// latter).
const WRITE_COMMIT: &str = include_str!("scripts/write_commit.sh");

/// The session channel's request loop (bash: the gateway runs every exec
/// through bash, and its builtins read exact byte counts without a fork
/// per field). `@OPS@` is the `|`-separated names of the operations it
/// serves, each an `op_<name>` function.
///
/// Protocol, all lengths in bytes, no sentinel that data could forge:
/// - the server first prints `OWCH1 sh\n` (`py` for the Python server;
///   anything before it, such as a login profile's output, is discarded by
///   the host);
/// - request: `<id> <op> <argc> <stdin-len>\n`, then per argument
///   `<len>\n<bytes>`, then `<stdin-len>` bytes of stdin;
/// - response: `A <id> <status> <stdout-len> <stderr-len>\n`, then exactly
///   that many bytes of stdout and of stderr.
///
/// Each operation runs in its own subshell, so nothing (cwd, variables,
/// `exit`) leaks into the next; requests are answered in order.
const SERVER_LOOP: &str = include_str!("scripts/server.sh");

/// The session channel's server script, base64-encoded for `OW_SCRIPT`.
pub fn server() -> String {
    STANDARD.encode(server_text())
}

/// The server script: the prelude, an `op_<name>` function per channel
/// operation, and the request loop that dispatches to them.
fn server_text() -> String {
    let mut s = fill(PRELUDE);
    for op in Op::channel() {
        s.push_str(&format!("op_{}() {{\n{}}}\n", op.name(), op.script()));
    }
    let names: Vec<&str> = Op::channel().map(Op::name).collect();
    s.push_str(&fill(SERVER_LOOP).replace("@OPS@", &names.join("|")));
    s
}

/// The script of `op` with its prelude, base64-encoded for `OW_FS`.
pub fn encoded(op: Op) -> String {
    STANDARD.encode(file_script(op))
}

/// The script that runs `op` on its own.
fn file_script(op: Op) -> String {
    fill(PRELUDE) + &op.script()
}

/// The wrapper, base64-encoded for `OW_SCRIPT`.
pub fn wrapper() -> String {
    STANDARD.encode(fill(WRAPPER))
}

/// Base64 of arbitrary bytes (for `OW_A*`/`OW_E*`/`OW_CWD`).
pub fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every script the host sends, by name.
    fn all_scripts() -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> =
            Op::ALL.iter().map(|op| (op.name().to_string(), file_script(*op))).collect();
        out.push(("wrapper".into(), fill(WRAPPER)));
        out.push(("server".into(), server_text()));
        out
    }

    /// Every script must parse: the file scripts and the wrapper under
    /// POSIX `sh` (dash on Debian), the server under bash.
    #[test]
    fn scripts_are_valid_posix_sh() {
        for (name, body) in all_scripts() {
            let shell = if name == "server" { "bash" } else { "sh" };
            let out = std::process::Command::new(shell).arg("-n").arg("-c").arg(&body).output().unwrap();
            assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        }
        assert!(!BOOTSTRAP.contains('\n') && !FILE_BOOTSTRAP.contains('\n'));
    }

    /// A placeholder left unfilled (a typo, or a code missing from
    /// `code::ALL`) would reach the sandbox as a word where a number
    /// belongs.
    #[test]
    fn every_placeholder_is_filled() {
        for (name, body) in all_scripts() {
            // The text between two `@`s; `find -printf '%T@'` holds a
            // lone one.
            let between: Vec<&str> = body.split('@').collect();
            let inner = &between[1..between.len().saturating_sub(1).max(1)];
            let left = inner.iter().find(|w| !w.is_empty() && w.bytes().all(|c| c.is_ascii_uppercase() || c == b'_'));
            assert_eq!(left, None, "{name} still holds a placeholder");
        }
    }

    /// Each operation has its own script, and the session server defines
    /// and dispatches exactly the channel's operations.
    #[test]
    fn the_server_serves_the_channel_operations() {
        let server = server_text();
        for op in Op::ALL {
            assert!(!op.script().trim().is_empty(), "{}", op.name());
            let defined = server.contains(&format!("\nop_{}() {{\n", op.name()));
            assert_eq!(defined, op.in_channel(), "{}", op.name());
        }
        let names: Vec<&str> = Op::channel().map(Op::name).collect();
        assert!(server.contains(&format!("\n    {})\n", names.join("|"))));
        let mut all: Vec<&str> = Op::ALL.iter().map(|op| op.name()).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), Op::ALL.len(), "operation names must be unique");
    }

    /// shellcheck on the joined scripts, where a variable one piece sets
    /// and another uses is visible (`.ci/run` installs shellcheck and lints
    /// the pieces; this runs where it is installed).
    #[test]
    fn joined_scripts_pass_shellcheck() {
        if std::process::Command::new("shellcheck").arg("--version").output().is_err() {
            // Optional on a developer's machine, never skipped in CI.
            assert!(std::env::var_os("CI").is_none(), "shellcheck is not installed (`.ci/run` installs it)");
            return;
        }
        for (name, body) in all_scripts() {
            let shell = if name == "server" { "bash" } else { "sh" };
            // SC2034: a file script need not use every variable the
            // prelude's helpers set. SC2015: see scripts/.shellcheckrc.
            let out = std::process::Command::new("shellcheck")
                .args(["--norc", "-s", shell, "-e", "SC2034,SC2015", "-"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .and_then(|mut c| {
                    use std::io::Write;
                    c.stdin.take().unwrap().write_all(body.as_bytes())?;
                    c.wait_with_output()
                })
                .unwrap();
            assert!(out.status.success(), "{name}:\n{}", String::from_utf8_lossy(&out.stdout));
        }
    }
}
