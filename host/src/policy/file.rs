//! The policy file format (TOML) and its validation.

use std::ops::Range;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::egress::{HttpSection, ModelSection, parse_http, parse_model};
use super::units::{self, ByteSize, Span};
use super::{DirGrant, Policy, PolicyError};
use crate::runtime::net::AddrPattern;

/// The only format version so far.
const VERSION: i64 = 1;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PolicyFile {
    version: Option<Spanned<i64>>,
    #[serde(default)]
    guest: GuestSection,
    #[serde(default)]
    host: HostSection,
    #[serde(default)]
    exec: ExecSection,
    #[serde(default)]
    fs: FsSection,
    #[serde(default)]
    sandbox: SandboxSection,
    #[serde(default)]
    network: NetworkSection,
    #[serde(default)]
    snapshot: SnapshotSection,
    #[serde(default)]
    http: HttpSection,
    #[serde(default)]
    model: ModelSection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct GuestSection {
    memory: Option<Spanned<ByteSize>>,
    cpu_time: Option<Spanned<Span>>,
    wall_time: Option<Spanned<Span>>,
    output: Option<ByteSize>,
    log_lines: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct HostSection {
    env: Option<Vec<Spanned<String>>>,
    dirs: Option<Vec<Spanned<DirEntry>>>,
    tcp_connect: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct DirEntry {
    host: String,
    guest: String,
    #[serde(default)]
    write: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ExecSection {
    default_timeout: Option<Spanned<Span>>,
    max_timeout: Option<Spanned<Span>>,
    max_output: Option<ByteSize>,
    allow: Option<Vec<Spanned<String>>>,
    max_processes: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FsSection {
    read: Option<Vec<Spanned<String>>>,
    write: Option<Vec<Spanned<String>>>,
    max_read: Option<ByteSize>,
    max_write: Option<ByteSize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct SandboxSection {
    create: Option<bool>,
    delete: Option<bool>,
    list: Option<bool>,
    attach: Option<Vec<Spanned<String>>>,
    max_created: Option<u32>,
    image: Option<String>,
    ready_timeout: Option<Span>,
    policy: Option<bool>,
    providers: Option<Vec<Spanned<String>>>,
    gpu: Option<bool>,
    max_cpu: Option<Spanned<String>>,
    max_memory: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct NetworkSection {
    read_policy: Option<bool>,
    update_policy: Option<bool>,
    expose_ports: Option<Vec<Spanned<i64>>>,
    request_access: Option<bool>,
    access_timeout: Option<Span>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct SnapshotSection {
    persist: Option<bool>,
    hydrate: Option<bool>,
    list: Option<bool>,
    delete_any: Option<bool>,
    quota: Option<ByteSize>,
    max_count: Option<u32>,
}

/// Parse policy text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Policy, PolicyError> {
    let doc: PolicyFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        PolicyError { file: file.to_string(), line, column, message: e.message().trim().to_string() }
    })?;
    let err = |span: Range<usize>, message: String| {
        let (line, column) = line_col(text, span.start);
        PolicyError { file: file.to_string(), line, column, message }
    };

    if let Some(v) = &doc.version
        && *v.get_ref() != VERSION
    {
        return Err(err(
            v.span(),
            format!("unsupported policy version {}; this host reads version {VERSION}", v.get_ref()),
        ));
    }

    let mut p = Policy::default();

    // [guest]
    let g = doc.guest;
    if let Some(m) = g.memory {
        let bytes = m.get_ref().0;
        if bytes < (1 << 20) {
            return Err(err(m.span(), "guest memory must be at least 1 MiB".into()));
        }
        if bytes > (4 << 30) {
            return Err(err(m.span(), "guest memory cannot exceed 4 GiB (32-bit linear memories)".into()));
        }
        p.guest.memory_bytes = bytes;
    }
    if let Some(c) = g.cpu_time {
        if c.get_ref().0.as_millis() < 10 {
            return Err(err(c.span(), "cpu-time must be at least 10ms (one epoch tick)".into()));
        }
        p.guest.cpu_time = c.get_ref().0;
    }
    if let Some(w) = g.wall_time {
        if w.get_ref().0.is_zero() {
            return Err(err(w.span(), "wall-time must be more than 0".into()));
        }
        p.guest.wall_time = w.get_ref().0;
    }
    if let Some(o) = g.output {
        p.guest.output_bytes = o.0;
    }
    if let Some(l) = g.log_lines {
        p.guest.log_lines = l;
    }

    // [host]
    if let Some(env) = doc.host.env {
        p.host.env = Vec::new();
        for name in env {
            if !is_env_name(name.get_ref()) {
                return Err(err(name.span(), format!("`{}` is not an environment variable name", name.get_ref())));
            }
            p.host.env.push(name.into_inner());
        }
    }
    if let Some(dirs) = doc.host.dirs {
        for d in dirs {
            let span = d.span();
            let d = d.into_inner();
            if d.host.is_empty() || d.guest.is_empty() {
                return Err(err(span, "host and guest paths must not be empty".into()));
            }
            p.host.dirs.push(DirGrant { host: PathBuf::from(d.host), guest: d.guest, write: d.write });
        }
    }
    if let Some(addrs) = doc.host.tcp_connect {
        for a in addrs {
            let pattern = AddrPattern::parse(a.get_ref()).map_err(|m| err(a.span(), m))?;
            p.host.tcp_connect.push(pattern);
        }
    }

    // [exec]
    let e = doc.exec;
    if let Some(t) = &e.default_timeout {
        p.exec.default_timeout = t.get_ref().0;
    }
    if let Some(t) = &e.max_timeout {
        p.exec.max_timeout = t.get_ref().0;
    }
    if p.exec.default_timeout > p.exec.max_timeout {
        let span = e.default_timeout.as_ref().or(e.max_timeout.as_ref()).map(Spanned::span).unwrap_or(0..0);
        return Err(err(span, "default-timeout is longer than max-timeout".into()));
    }
    if p.exec.default_timeout.is_zero() {
        let span = e.default_timeout.as_ref().map(Spanned::span).unwrap_or(0..0);
        return Err(err(span, "default-timeout must be more than 0".into()));
    }
    if let Some(o) = e.max_output {
        p.exec.max_output_bytes = o.0;
    }
    if let Some(allow) = e.allow {
        let mut list = Vec::new();
        for a in allow {
            if a.get_ref().is_empty() {
                return Err(err(a.span(), "empty command in exec.allow".into()));
            }
            list.push(a.into_inner());
        }
        p.exec.allow = Some(list);
    }
    if let Some(n) = e.max_processes {
        p.exec.max_processes = n;
    }

    // [fs]
    if let Some(read) = doc.fs.read {
        p.fs.read = check_prefixes(read, &err)?;
    }
    if let Some(write) = doc.fs.write {
        p.fs.write = check_prefixes(write, &err)?;
    }
    if let Some(m) = doc.fs.max_read {
        p.fs.max_read_bytes = m.0;
    }
    if let Some(m) = doc.fs.max_write {
        p.fs.max_write_bytes = m.0;
    }

    // [sandbox]
    let s = doc.sandbox;
    p.sandbox.create = s.create.unwrap_or(p.sandbox.create);
    p.sandbox.delete = s.delete.unwrap_or(p.sandbox.delete);
    p.sandbox.list = s.list.unwrap_or(p.sandbox.list);
    if let Some(attach) = s.attach {
        p.sandbox.attach = attach.into_iter().map(Spanned::into_inner).collect();
    }
    p.sandbox.max_created = s.max_created.unwrap_or(p.sandbox.max_created);
    p.sandbox.image = s.image.or(p.sandbox.image);
    if let Some(t) = s.ready_timeout {
        p.sandbox.ready_timeout = t.0;
    }
    p.sandbox.policy = s.policy.unwrap_or(p.sandbox.policy);
    if let Some(providers) = s.providers {
        p.sandbox.providers = providers.into_iter().map(Spanned::into_inner).collect();
    }
    p.sandbox.gpu = s.gpu.unwrap_or(p.sandbox.gpu);
    if let Some(cpu) = s.max_cpu {
        p.sandbox.max_cpu_millis = Some(units::parse_cpu(cpu.get_ref()).map_err(|m| err(cpu.span(), m))?);
    }
    if let Some(memory) = s.max_memory {
        p.sandbox.max_memory_bytes = Some(units::parse_memory(memory.get_ref()).map_err(|m| err(memory.span(), m))?);
    }

    // [network]
    let n = doc.network;
    p.network.read_policy = n.read_policy.unwrap_or(p.network.read_policy);
    p.network.update_policy = n.update_policy.unwrap_or(p.network.update_policy);
    p.network.request_access = n.request_access.unwrap_or(p.network.request_access);
    if let Some(t) = n.access_timeout {
        p.network.access_timeout = t.0;
    }
    if let Some(ports) = n.expose_ports {
        for port in ports {
            match u16::try_from(*port.get_ref()) {
                Ok(v) if v > 0 => p.network.expose_ports.push(v),
                _ => return Err(err(port.span(), format!("{} is not a TCP port (1-65535)", port.get_ref()))),
            }
        }
    }

    // [snapshot]
    let sn = doc.snapshot;
    p.snapshot.persist = sn.persist.unwrap_or(p.snapshot.persist);
    p.snapshot.hydrate = sn.hydrate.unwrap_or(p.snapshot.hydrate);
    p.snapshot.list = sn.list.unwrap_or(p.snapshot.list);
    p.snapshot.delete_any = sn.delete_any.unwrap_or(p.snapshot.delete_any);
    if let Some(q) = sn.quota {
        p.snapshot.quota_bytes = q.0;
    }
    p.snapshot.max_count = sn.max_count.unwrap_or(p.snapshot.max_count);

    // [http] and [model]
    p.http = parse_http(doc.http, &err)?;
    p.model = parse_model(doc.model, &err)?;

    Ok(p)
}

fn check_prefixes(
    list: Vec<Spanned<String>>,
    err: &impl Fn(Range<usize>, String) -> PolicyError,
) -> Result<Vec<String>, PolicyError> {
    let mut out = Vec::new();
    for item in list {
        let v = item.get_ref();
        if v.is_empty() || v.contains('\0') {
            return Err(err(item.span(), "path prefixes must be non-empty and contain no NUL".into()));
        }
        if v.split('/').any(|c| c == "..") {
            return Err(err(item.span(), format!("path prefix `{v}` contains `..`")));
        }
        out.push(item.into_inner());
    }
    Ok(out)
}

pub(super) fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// 1-based line and column of byte offset `at`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn empty_file_is_the_default_policy() {
        assert_eq!(parse("", "p.toml").unwrap(), Policy::default());
    }

    #[test]
    fn full_file_parses() {
        let p = parse(
            r#"
version = 1
[guest]
memory = "64 MiB"
cpu-time = "5s"
wall-time = 30
[host]
env = ["LANG"]
tcp-connect = ["127.0.0.1:8080"]
[exec]
default-timeout = "10s"
max-timeout = "1m"
allow = ["git", "/usr/bin/python3"]
[fs]
read = [".", "/etc/os-release"]
max-write = "10 MB"
[sandbox]
create = true
attach = ["ci-*"]
policy = true
providers = ["github", "gitlab-*"]
gpu = true
max-cpu = "1500m"
max-memory = "2Gi"
[network]
expose-ports = [8080]
[snapshot]
quota = "100 MiB"
"#,
            "p.toml",
        )
        .unwrap();
        assert_eq!(p.guest.memory_bytes, 64 << 20);
        assert_eq!(p.guest.wall_time, Duration::from_secs(30));
        assert_eq!(p.exec.allow.as_deref().unwrap().len(), 2);
        assert_eq!(p.fs.max_write_bytes, 10_000_000);
        assert!(p.sandbox.create && p.sandbox.policy && p.sandbox.gpu);
        assert_eq!(p.sandbox.providers, ["github", "gitlab-*"]);
        assert_eq!((p.sandbox.max_cpu_millis, p.sandbox.max_memory_bytes), (Some(1500), Some(2 << 30)));
        assert_eq!(p.network.expose_ports, vec![8080]);
        assert_eq!(p.snapshot.quota_bytes, 100 << 20);
    }

    #[test]
    fn errors_point_at_the_line() {
        let e = parse("[guest]\nmemory = \"lots\"\n", "p.toml").unwrap_err();
        assert_eq!((e.line, e.file.as_str()), (2, "p.toml"));
        assert!(e.message.contains("not a size"), "{e}");

        let e = parse("[exec]\ndefault-timeout = \"5m\"\nmax-timeout = \"1m\"\n", "p.toml").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("longer than max-timeout"));

        let e = parse("[fs]\nreed = []\n", "p.toml").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("unknown field"), "{e}");

        let e = parse("version = 2\n", "p.toml").unwrap_err();
        assert_eq!(e.line, 1);

        let e = parse("[network]\nexpose-ports = [80, 70000]\n", "p.toml").unwrap_err();
        assert_eq!((e.line, e.column), (2, 21), "{e}");

        let e = parse("[sandbox]\nmax-cpu = \"2\"\nmax-memory = \"2 GiB\"\n", "p.toml").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("not a memory quantity"), "{e}");

        let e = parse("[guest\n", "p.toml").unwrap_err();
        assert_eq!(e.line, 1, "{e}");
        assert!(e.to_string().starts_with("p.toml:1:"), "{e}");
    }

    #[test]
    fn tcp_grants_are_parsed_once_and_print_as_written() {
        let p = parse("[host]\ntcp-connect = [\"127.0.0.1:8080\", \"[::1]:*\"]\n", "p").unwrap();
        let want = [AddrPattern::parse("127.0.0.1:8080").unwrap(), AddrPattern::parse("[::1]:*").unwrap()];
        assert_eq!(p.host.tcp_connect, want);
        assert!(p.summary().iter().any(|l| l.contains(r#"tcp ["127.0.0.1:8080", "[::1]:*"]"#)), "{:?}", p.summary());
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["host"]["tcp_connect"], serde_json::json!(["127.0.0.1:8080", "[::1]:*"]));

        let e = parse("[host]\nenv = []\ntcp-connect = [\"127.0.0.1:80\", \"example.com:80\"]\n", "p").unwrap_err();
        assert_eq!((e.line, e.column), (3, 32), "{e}");
        assert!(e.message.contains("`example.com:80` is not an address pattern"), "{e}");
    }

    #[test]
    fn host_grants_are_validated() {
        assert!(parse("[host]\nenv = [\"1BAD\"]\n", "p").is_err());
        assert!(parse("[host]\ntcp-connect = [\"example.com:80\"]\n", "p").is_err());
        assert!(parse("[fs]\nwrite = [\"../up\"]\n", "p").is_err());
        assert!(parse("[guest]\nmemory = \"8 GiB\"\n", "p").is_err());
    }
}
