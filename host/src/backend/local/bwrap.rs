//! The bubblewrap command line every local command runs under.
//!
//! Each command gets fresh user, PID, network, IPC, UTS and cgroup
//! namespaces; the host's system directories read-only; a curated, read-only
//! `/etc` (no `shadow`, no host `passwd`); its own `/proc`, `/dev` and a
//! private `/tmp`; the sandbox's workspace as the only writable persistent
//! path; a cleared environment; no capabilities; uid/gid 1000; and only a
//! loopback network interface. When the command exits every process it left
//! behind is killed with its PID namespace.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::SandboxError;

/// The path commands see as their workspace, unless configured otherwise.
pub const WORKDIR: &str = "/workspace";

/// Host directories bound read-only when they exist (as directories; on
/// merged-/usr systems the top-level ones are symlinks and are recreated as
/// symlinks instead).
const SYSTEM_DIRS: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt"];

/// The parts of `/etc` programs need to run (dynamic linker, TLS roots,
/// time zone, name service config, tool defaults). Secrets (`shadow`,
/// `gshadow`, `sudoers`, ssh keys, host credentials) are never among them.
const ETC_ENTRIES: &[&str] = &[
    "alternatives",
    "bash.bashrc",
    "ca-certificates",
    "ca-certificates.conf",
    "debian_version",
    "gai.conf",
    "host.conf",
    "inputrc",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "locale.alias",
    "locale.gen",
    "localtime",
    "lsb-release",
    "magic",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "perl",
    "profile",
    "protocols",
    "python3",
    "python3.11",
    "python3.12",
    "python3.13",
    "services",
    "ssl",
    "terminfo",
    "timezone",
    "vim",
    "xdg",
];

/// The `passwd`, `group` and `hosts` files of every sandbox.
fn passwd(workdir: &str) -> String {
    format!(
        "root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:1000:1000:sandbox:{workdir}:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
}
const GROUP: &str = "root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n";
const HOSTS: &str = "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost\n";

/// Find `bwrap`: `$OPENSHELL_WASM_BWRAP`, else the first `bwrap` on `PATH`.
pub fn find_bwrap() -> Result<PathBuf, SandboxError> {
    if let Some(p) = std::env::var_os("OPENSHELL_WASM_BWRAP") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(SandboxError::unavailable(
            "local.init",
            format!("OPENSHELL_WASM_BWRAP points at {}, which is not a file", p.display()),
        ));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")]) {
        let candidate = dir.join("bwrap");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(SandboxError::unsupported(
        "local.init",
        "bubblewrap (`bwrap`) is not installed, and the local backend runs every command under it. \
         Install it: `sudo apt-get install bubblewrap` (Debian/Ubuntu), `sudo dnf install bubblewrap` \
         (Fedora), `sudo pacman -S bubblewrap` (Arch); or set OPENSHELL_WASM_BWRAP to its path",
    ))
}

/// Everything needed to build one command line.
#[derive(Debug)]
pub struct Invocation<'a> {
    /// Host directory bound as the workdir.
    pub workspace: &'a Path,
    /// Where the workspace appears inside (usually [`WORKDIR`]).
    pub workdir: &'a str,
    /// Host directory holding the sandbox's `passwd`, `group`, `hosts`.
    pub etc_overlay: &'a Path,
    /// Working directory inside (absolute).
    pub cwd: &'a str,
    /// Environment (sandbox spec env, then request env).
    pub env: &'a BTreeMap<String, String>,
    /// Allocate a controlling terminal (stdin must be the PTY).
    pub pty: bool,
    /// The command.
    pub argv: &'a [String],
}

/// Write the per-sandbox `/etc` overlay files.
pub fn write_etc_overlay(dir: &Path, workdir: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("passwd"), passwd(workdir))?;
    std::fs::write(dir.join("group"), GROUP)?;
    std::fs::write(dir.join("hosts"), HOSTS)?;
    std::fs::write(dir.join("hostname"), "sandbox\n")?;
    Ok(())
}

/// The full argument list for `bwrap` (not including the binary itself).
pub fn args(inv: &Invocation<'_>) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::new();
    let mut push = |items: &[&str]| a.extend(items.iter().map(OsString::from));
    push(&[
        "--unshare-user",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--disable-userns",
        "--die-with-parent",
        "--hostname",
        "sandbox",
        "--uid",
        "1000",
        "--gid",
        "1000",
        "--cap-drop",
        "ALL",
        "--clearenv",
    ]);
    if !inv.pty {
        // A new session detaches from any controlling terminal, so a
        // sandboxed process cannot inject input into the host's terminal
        // (TIOCSTI). With a PTY the terminal is our own.
        push(&["--new-session"]);
    }
    for dir in SYSTEM_DIRS {
        let p = Path::new(dir);
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(p) {
                    a.push("--symlink".into());
                    a.push(target.into_os_string());
                    a.push((*dir).into());
                }
            }
            Ok(m) if m.is_dir() => {
                a.push("--ro-bind".into());
                a.push((*dir).into());
                a.push((*dir).into());
            }
            _ => {}
        }
    }
    for entry in ETC_ENTRIES {
        let host = Path::new("/etc").join(entry);
        if host.exists() {
            a.push("--ro-bind".into());
            a.push(host.clone().into_os_string());
            a.push(host.into_os_string());
        }
    }
    for file in ["passwd", "group", "hosts", "hostname"] {
        a.push("--ro-bind".into());
        a.push(inv.etc_overlay.join(file).into_os_string());
        a.push(format!("/etc/{file}").into());
    }
    let mut push = |items: &[&str]| a.extend(items.iter().map(OsString::from));
    push(&[
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        "268435456",
        "--tmpfs",
        "/tmp",
        "--symlink",
        "/tmp",
        "/var/tmp",
    ]);
    a.push("--bind".into());
    a.push(inv.workspace.as_os_str().to_owned());
    a.push(inv.workdir.into());
    // Everything not mounted above (the root itself, /etc, /var, ...) is
    // read-only: the workspace and the private /tmp are the only writable
    // places.
    a.push("--remount-ro".into());
    a.push("/".into());
    a.push("--chdir".into());
    a.push(inv.cwd.into());
    let term = if inv.pty { "xterm-256color" } else { "dumb" };
    let base: [(&str, &str); 6] = [
        ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        ("HOME", inv.workdir),
        ("USER", "sandbox"),
        ("LOGNAME", "sandbox"),
        ("LANG", "C.UTF-8"),
        ("TERM", term),
    ];
    for (k, v) in base {
        if !inv.env.contains_key(k) {
            a.push("--setenv".into());
            a.push(k.into());
            a.push(v.into());
        }
    }
    for (k, v) in inv.env {
        a.push("--setenv".into());
        a.push(k.into());
        a.push(v.into());
    }
    a.push("--".into());
    if inv.pty && Path::new("/usr/bin/setsid").exists() {
        // Make the PTY the session's controlling terminal, so Ctrl-C and
        // job control reach the foreground process group.
        a.push("/usr/bin/setsid".into());
        a.push("--ctty".into());
    }
    a.extend(inv.argv.iter().map(OsString::from));
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_flags_are_always_present() {
        let env = BTreeMap::from([("A".to_string(), "1".to_string())]);
        let argv = vec!["echo".to_string(), "hi".to_string()];
        let args = args(&Invocation {
            workspace: Path::new("/state/ws"),
            workdir: "/workspace",
            etc_overlay: Path::new("/state/etc"),
            cwd: "/workspace",
            env: &env,
            pty: false,
            argv: &argv,
        });
        let s: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        for flag in
            ["--unshare-user", "--unshare-net", "--unshare-pid", "--clearenv", "--new-session", "--die-with-parent"]
        {
            assert!(s.contains(&flag.to_string()), "missing {flag}");
        }
        let cap = s.iter().position(|x| x == "--cap-drop").unwrap();
        assert_eq!(s[cap + 1], "ALL");
        assert!(!s.iter().any(|x| x == "/etc/shadow"));
        let sep = s.iter().position(|x| x == "--").unwrap();
        assert_eq!(&s[sep + 1..], ["echo", "hi"]);
        // The workspace is the only writable bind.
        let binds: Vec<usize> = s.iter().enumerate().filter(|(_, x)| *x == "--bind").map(|(i, _)| i).collect();
        assert_eq!(binds.len(), 1);
        assert_eq!(s[binds[0] + 2], "/workspace");
    }
}
