//! The fixed POSIX shell scripts the OpenShell backend runs in sandboxes.
//!
//! No script is ever built from guest input: guest values (paths, argv,
//! environment) travel only as positional arguments or base64 environment
//! values, and every script here is a constant. The gateway rejects CR and
//! LF in argv, environment values and the workdir, and runs commands
//! through `bash -lc`, so scripts are sent base64-encoded in `OW_SCRIPT`
//! and started by a one-line bootstrap.
//!
//! Exit codes the file scripts use to report failures precisely:
//! 44 not found, 45 outside the workspace, 46 conflict (exists, not a
//! directory, not empty), 47 invalid, 48 integrity check failed, 125 the
//! wrapper itself failed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// `sh -c BOOTSTRAP sh ARGS...` runs the wrapper in `OW_SCRIPT` with ARGS.
pub const BOOTSTRAP: &str = "eval \"$(printf '%s' \"$OW_SCRIPT\" | base64 -d)\"";

/// `sh -c FILE_BOOTSTRAP sh ARGS...` runs the file script in `OW_FS`; a
/// separate variable, so a file script can itself run inside the wrapper
/// (when its arguments needed encoding).
pub const FILE_BOOTSTRAP: &str = "eval \"$(printf '%s' \"$OW_FS\" | base64 -d)\"";

/// Exit codes of the scripts.
pub mod code {
    /// Not found.
    pub const NOT_FOUND: i32 = 44;
    /// Leads outside the workspace.
    pub const OUTSIDE: i32 = 45;
    /// Conflict.
    pub const CONFLICT: i32 = 46;
    /// Invalid.
    pub const INVALID: i32 = 47;
    /// Integrity check failed.
    pub const CORRUPT: i32 = 48;
    /// Too large for the session channel; use a streaming exec.
    pub const TOO_BIG: i32 = 49;
    /// The wrapper failed (base64 or fifo missing).
    pub const WRAPPER: i32 = 125;
}

/// Runs a command whose argv, environment or cwd the gateway cannot carry
/// verbatim, and gives it stdin in one of three modes (`OW_MODE`):
/// `exec` (stdin as delivered), `sized:N` (exactly N bytes, then
/// end-of-file, so a stream can stay open for the exit status), or
/// `framed` (stdin frames `<len>\n<bytes>`, `E` for end-of-file, `S<SIG>`
/// to signal the command's process group).
pub const WRAPPER: &str = r#"set -u
if [ -n "${OW_AC:-}" ]; then
  n=$OW_AC; unset OW_AC; i=0; set --
  while [ "$i" -lt "$n" ]; do
    eval "v=\${OW_A$i}"; unset "OW_A$i"
    a=$(printf '%s' "$v" | base64 -d && printf x) || exit 125
    set -- "$@" "${a%x}"; i=$((i + 1))
  done
fi
if [ -n "${OW_EC:-}" ]; then
  n=$OW_EC; unset OW_EC; i=0
  while [ "$i" -lt "$n" ]; do
    eval "v=\${OW_E$i}"; unset "OW_E$i"
    kv=$(printf '%s' "$v" | base64 -d && printf x) || exit 125
    kv=${kv%x}; export "${kv%%=*}=${kv#*=}"; i=$((i + 1))
  done
fi
if [ -n "${OW_CWD:-}" ]; then
  d=$(printf '%s' "$OW_CWD" | base64 -d && printf x) || exit 125
  unset OW_CWD; cd "${d%x}" || exit 125
fi
mode=${OW_MODE:-exec}; unset OW_MODE OW_SCRIPT
case $mode in
  exec) exec "$@" ;;
  sized:*) head -c "${mode#sized:}" | "$@"; exit $? ;;
  framed)
    f=$(mktemp -u "${TMPDIR:-/tmp}/ow-stdin.XXXXXXXXXX") && mkfifo -m 600 "$f" || exit 125
    if command -v setsid >/dev/null 2>&1; then setsid "$@" < "$f" & else "$@" < "$f" & fi
    cpid=$!
    exec 4<&0
    {
      exec 3>"$f"; rm -f "$f"
      while IFS= read -r h <&4; do
        case $h in
          E) exec 3>&- ;;
          S*) kill -s "${h#S}" -- "-$cpid" 2>/dev/null || kill -s "${h#S}" "$cpid" 2>/dev/null ;;
          ''|*[!0-9]*) ;;
          *) dd bs="$h" count=1 iflag=fullblock status=none <&4 >&3 2>/dev/null || exec 3>&- ;;
        esac
      done
    } &
    rpid=$!
    wait "$cpid"; st=$?
    kill "$rpid" 2>/dev/null
    exit "$st" ;;
  *) exit 125 ;;
esac
"#;

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
const PRELUDE: &str = r#"set -u
die() { printf '%s\n' "$2" >&2; exit "$1"; }
root=$(realpath -e -- "$OW_ROOT" 2>/dev/null) || die 44 "the workspace $OW_ROOT does not exist"
inside() { case "$1" in "$root"|"$root"/*) return 0 ;; *) return 1 ;; esac; }
# Enter the resolved directory $1 (for $2) and check where we really are.
enter() {
  cd -P -- "$1" 2>/dev/null || die 44 "$2 does not exist"
  here=$(pwd -P) && inside "$here" || die 45 "$2 leads outside the workspace"
}
# Enter the parent of $1: sets rd (its real path) and b (last component).
parent_of() {
  b=${1##*/}; d=${1%/*}; [ -n "$d" ] || d=/
  rd=$(realpath -e -- "$d" 2>/dev/null) || die 44 "$d does not exist"
  inside "$rd" || die 45 "$1 leads outside the workspace"
  enter "$rd" "$1"; rd=$here
}
# Check that the file open on descriptor $1 is inside (for $2).
fd_inside() {
  r=$(readlink "/proc/self/fd/$1") || die 45 "cannot check where $2 is (is /proc mounted?)"
  inside "$r" || die 45 "$2 leads outside the workspace"
}
exists() { [ -e "$1" ] || [ -L "$1" ]; }
stat_of() { find "$1" -maxdepth 0 -printf '%y\0%s\0%m\0%T@\0%l\0'; }
"#;

/// `lstat` of `$1`.
pub const STAT: &str = r#"p=$1
if [ "$p" = "$OW_ROOT" ]; then t=$root; else parent_of "$p"; t="./$b"; fi
exists "$t" || die 44 "$p does not exist"
stat_of "$t"
"#;

/// List directory `$1` (following a final symlink that stays inside).
pub const LIST: &str = r#"t=$(realpath -e -- "$1" 2>/dev/null) || die 44 "$1 does not exist"
inside "$t" || die 45 "$1 leads outside the workspace"
[ -d "$t" ] || die 46 "$1 is not a directory"
enter "$t" "$1"
find . -mindepth 1 -maxdepth 1 -printf '%f\0%y\0%s\0%m\0%T@\0'
"#;

/// Stream file `$1`: its size and a newline on stdout, then its bytes.
/// Exit 48 if the file changed while it was read (device, inode, size and
/// mtime compared before and after; the host also counts the bytes). With
/// `$2`, refuse (exit 49) files larger than `$2` bytes (the session
/// channel's small reads).
pub const READ: &str = r#"t=$(realpath -e -- "$1" 2>/dev/null) || die 44 "$1 does not exist"
inside "$t" || die 45 "$1 leads outside the workspace"
[ -d "$t" ] && die 46 "$1 is a directory"
[ -f "$t" ] || die 46 "$1 is not a regular file"
exec 3< "$t" || die 46 "cannot read $1"
fd_inside 3 "$1"
[ -f /proc/self/fd/3 ] || die 46 "$1 is not a regular file"
s=$(find -L /proc/self/fd/3 -maxdepth 0 -printf '%D:%i:%s:%T@') || die 46 "cannot read $1"
n=${s#*:*:}; n=${n%%:*}
[ -n "${2:-}" ] && [ "$n" -gt "$2" ] && die 49 "$1 is too large for one message"
printf '%s\n' "$n"
cat <&3 || exit 1
[ "$(find -L /proc/self/fd/3 -maxdepth 0 -printf '%D:%i:%s:%T@')" = "$s" ] || die 48 "$1 changed while it was read; read it again"
"#;

// The write scripts share their arguments: `$1` target, `$2` create
// parents (0/1), `$3` exclusive (0/1), `$4` octal mode, `$5` expected
// size, `$6` the temporary file (streamed writes).

/// Check the target of a write and create its parents if asked.
const WRITE_PREPARE: &str = r#"p=$1
if [ "$2" = 1 ]; then
  d=${p%/*}; [ -n "$d" ] || d=/
  m=$(realpath -m -- "$d") && inside "$m" || die 45 "$p leads outside the workspace"
  mkdir -p -- "$d" 2>/dev/null || die 46 "cannot create the parent of $p"
fi
parent_of "$p"; t="./$b"
[ -d "$t" ] && [ ! -L "$t" ] && die 46 "$p is a directory"
[ "$3" = 1 ] && exists "$t" && die 46 "$p already exists"
tmp=$(mktemp "./.ow-tmp-XXXXXXXX") || die 46 "cannot create a file in the parent of $p"
"#;

/// Check the temporary file holds all `$5` bytes (the stream that filled
/// it ended with success, so it holds exactly what was sent), then move it
/// into place (or link it, for exclusive writes, so an existing file is
/// never replaced) and print the new file's stat.
const WRITE_COMMIT: &str = r#"n=$(stat -c %s -- "$tmp")
[ "$n" = "$5" ] || { rm -f -- "$tmp"; die 48 "$p: $n of $5 bytes arrived; nothing was written"; }
chmod "$4" -- "$tmp"
if [ "$3" = 1 ]; then
  ln -- "$tmp" "$t" 2>/dev/null || { rm -f -- "$tmp"; die 46 "$p already exists"; }
  rm -f -- "$tmp"
else
  mv -f -T -- "$tmp" "$t" || { rm -f -- "$tmp"; die 46 "cannot replace $p"; }
fi
stat_of "$t"
"#;

/// Write stdin to the target atomically, in one exec.
pub const WRITE_WHOLE: &[&str] = &[WRITE_PREPARE, "cat > \"$tmp\" || { rm -f -- \"$tmp\"; exit 1; }\n", WRITE_COMMIT];

/// Start a streamed write: print the temporary file's path (NUL-terminated).
pub const WRITE_OPEN: &[&str] = &[WRITE_PREPARE, "printf '%s/%s\\0' \"$rd\" \"${tmp#./}\"\n"];

/// Append stdin to the temporary file of a streamed write (`$1`).
pub const WRITE_APPEND: &str = r#"case "$1" in */.ow-tmp-*) ;; *) die 47 "not a write in progress" ;; esac
parent_of "$1"
[ -f "./$b" ] && [ ! -L "./$b" ] || die 44 "the write in progress was lost"
exec 3>> "./$b" || die 44 "the write in progress was lost"
fd_inside 3 "$1"
cat >&3
"#;

/// Finish a streamed write whose temporary file is `$6`.
pub const WRITE_FINISH: &[&str] = &[
    r#"case "$6" in */.ow-tmp-*) ;; *) die 47 "not a write in progress" ;; esac
parent_of "$1"; t="./$b"; p=$1
# The temporary file was made beside the target: look it up there.
tmp="./${6##*/}"
[ -f "$tmp" ] && [ ! -L "$tmp" ] || die 44 "the write in progress was lost"
"#,
    WRITE_COMMIT,
];

/// Discard a streamed write's temporary file `$1`.
pub const WRITE_ABORT: &str = r#"case "$1" in */.ow-tmp-*) parent_of "$1"; rm -f -- "./$b" ;; esac
"#;

/// `mkdir` of `$1`; `$2` = 1 for `-p`.
pub const MKDIR: &str = r#"p=$1
if [ "$2" = 1 ]; then
  m=$(realpath -m -- "$p") && inside "$m" || die 45 "$p leads outside the workspace"
  [ -d "$m" ] && exit 0
  mkdir -p -- "$p" 2>/dev/null || die 46 "cannot create $p (a component is not a directory?)"
  m=$(realpath -e -- "$p") && inside "$m" || die 45 "$p leads outside the workspace"
else
  parent_of "$p"; t="./$b"
  exists "$t" && die 46 "$p already exists"
  mkdir -- "$t" || die 46 "cannot create $p"
fi
"#;

/// Remove `$1`; `$2` = 1 for recursive. Never follows symlinks.
pub const REMOVE: &str = r#"p=$1
parent_of "$p"; t="./$b"
exists "$t" || die 44 "$p does not exist"
if [ -d "$t" ] && [ ! -L "$t" ]; then
  if [ "$2" = 1 ]; then rm -rf -- "$t"; else rmdir -- "$t" 2>/dev/null || die 46 "$p is a non-empty directory; remove it with recursive"; fi
else
  rm -f -- "$t"
fi
"#;

/// Rename `$1` to `$2`.
pub const RENAME: &str = r#"parent_of "$2"; t="$rd/$b"
parent_of "$1"; s="./$b"
exists "$s" || die 44 "$1 does not exist"
mv -f -T -- "$s" "$t" 2>/dev/null || die 46 "cannot rename $1 to $2"
"#;

/// Canonical path of `$1` (NUL-terminated).
pub const REALPATH: &str = r#"t=$(realpath -e -- "$1" 2>/dev/null) || die 44 "$1 does not exist"
inside "$t" || die 45 "$1 leads outside the workspace"
printf '%s\0' "$t"
"#;

/// `chmod $2 $1` (octal).
pub const CHMOD: &str = r#"[ -L "$1" ] && die 47 "$1 is a symlink; symlinks have no permissions of their own"
t=$(realpath -e -- "$1" 2>/dev/null) || die 44 "$1 does not exist"
inside "$t" || die 45 "$1 leads outside the workspace"
if [ "$t" != "$root" ]; then
  enter "${t%/*}" "$1"; t="./${t##*/}"
  [ -L "$t" ] && die 47 "$1 is a symlink; symlinks have no permissions of their own"
fi
# Change the inode that was opened and checked, not whatever the name
# points to a moment later (GNU chmod always follows symlinks).
exec 3< "$t" 2>/dev/null || die 46 "cannot open $1 to change its mode safely (it is not readable)"
fd_inside 3 "$1"
chmod "$2" /proc/self/fd/3
"#;

/// A tar archive of directory `$1` on stdout; the other arguments are
/// `tar` exclude options.
pub const EXPORT_TAR: &str = r#"t=$(realpath -e -- "$1" 2>/dev/null) || die 44 "$1 does not exist"
inside "$t" || die 45 "$1 leads outside the workspace"
[ -d "$t" ] || die 46 "$1 is not a directory"
enter "$t" "$1"
shift
exec tar --format=gnu --numeric-owner --no-wildcards-match-slash -cf - "$@" .
"#;

/// All paths below directory `$1`, relative, NUL-separated.
pub const LIST_TREE: &str = r#"t=$(realpath -m -- "$1") && inside "$t" || die 45 "$1 leads outside the workspace"
[ -d "$t" ] || exit 0
enter "$t" "$1"
find . -mindepth 1 -printf '%P\0'
"#;

/// Remove the relative paths on stdin (NUL-separated) below `$1`.
pub const REMOVE_LIST: &str = r#"t=$(realpath -e -- "$1" 2>/dev/null) || die 44 "$1 does not exist"
inside "$t" || die 45 "$1 leads outside the workspace"
enter "$t" "$1"
xargs -0 -r rm -rf --
"#;

/// Unpack the (already checked) tar archive on stdin into `$1`.
pub const IMPORT_TAR: &str = r#"m=$(realpath -m -- "$1") && inside "$m" || die 45 "$1 leads outside the workspace"
mkdir -p -- "$1" 2>/dev/null || die 46 "cannot create $1"
enter "$m" "$1"
exec tar --no-same-owner --delay-directory-restore -xpf -
"#;

/// The operations of the session channel, by name.
pub const CHANNEL_OPS: &[(&str, &[&str])] = &[
    ("stat", &[STAT]),
    ("list", &[LIST]),
    ("read", &[READ]),
    ("write", WRITE_WHOLE),
    ("write_open", WRITE_OPEN),
    ("write_append", &[WRITE_APPEND]),
    ("write_finish", WRITE_FINISH),
    ("write_abort", &[WRITE_ABORT]),
    ("mkdir", &[MKDIR]),
    ("remove", &[REMOVE]),
    ("rename", &[RENAME]),
    ("realpath", &[REALPATH]),
    ("chmod", &[CHMOD]),
    ("list_tree", &[LIST_TREE]),
    ("remove_list", &[REMOVE_LIST]),
];

/// The session channel's request loop (bash: the gateway runs every exec
/// through bash, and its builtins read exact byte counts without a fork
/// per field).
///
/// Protocol, all lengths in bytes, no sentinel that data could forge:
/// - the server first prints `OWCH1 sh\n` (`py` for the Python server;
///   anything before it, such as a login
///   profile's output, is discarded by the host);
/// - request: `<id> <op> <argc> <stdin-len>\n`, then per argument
///   `<len>\n<bytes>`, then `<stdin-len>` bytes of stdin;
/// - response: `A <id> <status> <stdout-len> <stderr-len>\n`, then exactly
///   that many bytes of stdout and of stderr.
///
/// Each operation runs in its own subshell, so nothing (cwd, variables,
/// `exit`) leaks into the next; requests are answered in order.
const SERVER_LOOP: &str = r#"export LC_ALL=C
T=$(mktemp -d "${TMPDIR:-/tmp}/ow-ch.XXXXXXXX") || exit 125
trap 'rm -rf "$T"' EXIT
printf 'OWCH1 sh\n'
while IFS=' ' read -r id op argc inlen; do
  case "$argc$inlen" in ''|*[!0-9]*) exit 47 ;; esac
  set --
  i=0
  while [ "$i" -lt "$argc" ]; do
    IFS= read -r alen || exit 0
    case "$alen" in ''|*[!0-9]*) exit 47 ;; esac
    a=
    [ "$alen" -gt 0 ] && { IFS= read -r -N "$alen" a || exit 0; }
    set -- "$@" "$a"
    i=$((i + 1))
  done
  if [ "$inlen" -gt 0 ]; then
    dd bs="$inlen" count=1 iflag=fullblock status=none > "$T/in" || exit 0
  else
    : > "$T/in"
  fi
  case "$op" in
    @OPS@)
      ( "op_$op" "$@" ) < "$T/in" > "$T/out" 2> "$T/err"; rc=$? ;;
    *) printf 'unknown operation %s\n' "$op" > "$T/err"; : > "$T/out"; rc=47 ;;
  esac
  set -- $(stat -c %s "$T/out" "$T/err")
  printf 'A %s %s %s %s\n' "$id" "$rc" "$1" "$2"
  cat "$T/out" "$T/err"
done
"#;

/// The parts of channel operation `name` (after the prelude), for running
/// it in its own exec instead.
pub fn channel_op(name: &str) -> &'static [&'static str] {
    CHANNEL_OPS.iter().find(|(n, _)| *n == name).map(|(_, p)| *p).unwrap_or(&[])
}

/// The session channel's server script, base64-encoded for `OW_SCRIPT`.
pub fn server() -> String {
    let mut s = String::from(PRELUDE);
    for (name, parts) in CHANNEL_OPS {
        s.push_str(&format!("op_{name}() {{\n"));
        for p in *parts {
            s.push_str(p);
        }
        s.push_str("}\n");
    }
    let names: Vec<&str> = CHANNEL_OPS.iter().map(|(n, _)| *n).collect();
    s.push_str(&SERVER_LOOP.replace("@OPS@", &names.join("|")));
    STANDARD.encode(s)
}

/// A file script (its parts after the prelude), base64-encoded for `OW_FS`.
pub fn encoded(parts: &[&str]) -> String {
    let mut s = String::from(PRELUDE);
    for p in parts {
        s.push_str(p);
    }
    STANDARD.encode(s)
}

/// The wrapper, base64-encoded for `OW_SCRIPT`.
pub fn wrapper() -> String {
    STANDARD.encode(WRAPPER)
}

/// Base64 of arbitrary bytes (for `OW_A*`/`OW_E*`/`OW_CWD`).
pub fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every script must parse under POSIX `sh` (dash on Debian).
    #[test]
    fn scripts_are_valid_posix_sh() {
        for (name, body) in [
            ("wrapper", WRAPPER.to_string()),
            ("stat", format!("{PRELUDE}{STAT}")),
            ("list", format!("{PRELUDE}{LIST}")),
            ("read", format!("{PRELUDE}{READ}")),
            ("write-whole", format!("{PRELUDE}{}", WRITE_WHOLE.concat())),
            ("write-open", format!("{PRELUDE}{}", WRITE_OPEN.concat())),
            ("write-append", format!("{PRELUDE}{WRITE_APPEND}")),
            ("write-finish", format!("{PRELUDE}{}", WRITE_FINISH.concat())),
            ("mkdir", format!("{PRELUDE}{MKDIR}")),
            ("remove", format!("{PRELUDE}{REMOVE}")),
            ("rename", format!("{PRELUDE}{RENAME}")),
            ("realpath", format!("{PRELUDE}{REALPATH}")),
            ("chmod", format!("{PRELUDE}{CHMOD}")),
            ("export", format!("{PRELUDE}{EXPORT_TAR}")),
            ("list-tree", format!("{PRELUDE}{LIST_TREE}")),
            ("remove-list", format!("{PRELUDE}{REMOVE_LIST}")),
            ("import", format!("{PRELUDE}{IMPORT_TAR}")),
        ] {
            let out = std::process::Command::new("sh").arg("-n").arg("-c").arg(&body).output().unwrap();
            assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        }
        assert!(!BOOTSTRAP.contains('\n') && !FILE_BOOTSTRAP.contains('\n'));
        let server = String::from_utf8(STANDARD.decode(server()).unwrap()).unwrap();
        let out = std::process::Command::new("bash").arg("-n").arg("-c").arg(&server).output().unwrap();
        assert!(out.status.success(), "server: {}", String::from_utf8_lossy(&out.stderr));
    }
}
