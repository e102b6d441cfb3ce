//! Every conversion between our plain types and the generated WIT types, in
//! one place.

use super::bindings::openshell::sandbox::{fs, network, process, providers, snapshot, types};
use crate::backend::{
    self, DirEntry, ExitInfo, FileKind, FileStat, Phase, PolicyLoadState, ProviderReadiness, SandboxInfo,
};
use crate::error::{ErrorCode, SandboxError};
use crate::policy::Policy;
use crate::snapshot_store::SnapshotMeta;

pub(super) fn error(e: SandboxError) -> types::Error {
    let code = match e.code {
        ErrorCode::NotFound => types::ErrorCode::NotFound,
        ErrorCode::PermissionDenied => types::ErrorCode::PermissionDenied,
        ErrorCode::Timeout => types::ErrorCode::Timeout,
        ErrorCode::TooLarge => types::ErrorCode::TooLarge,
        ErrorCode::InvalidArgument => types::ErrorCode::InvalidArgument,
        ErrorCode::Unavailable => types::ErrorCode::Unavailable,
        ErrorCode::Conflict => types::ErrorCode::Conflict,
        ErrorCode::Unsupported => types::ErrorCode::Unsupported,
        ErrorCode::Backend(kind) => types::ErrorCode::Backend(kind),
    };
    types::Error { code, operation: e.operation, message: e.message, retryable: e.retryable }
}

pub(super) fn sandbox_info(info: &SandboxInfo, owned: bool) -> types::SandboxInfo {
    types::SandboxInfo {
        name: info.name.clone(),
        id: info.id.clone(),
        backend: info.backend.clone(),
        phase: match info.phase {
            Phase::Provisioning => types::SandboxPhase::Provisioning,
            Phase::Ready => types::SandboxPhase::Ready,
            Phase::Error => types::SandboxPhase::Error,
            Phase::Deleting => types::SandboxPhase::Deleting,
            Phase::Stopped => types::SandboxPhase::Stopped,
            Phase::Unknown => types::SandboxPhase::Unknown,
        },
        message: info.message.clone(),
        workdir: info.workdir.clone(),
        labels: info.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        created_ms: info.created_ms,
        owned,
    }
}

pub(super) fn capabilities(f: backend::Features, p: &Policy) -> types::Capabilities {
    types::Capabilities {
        streaming: f.streaming,
        interactive_stdin: f.interactive_stdin,
        pty: f.pty,
        signals: f.signals,
        snapshots: f.snapshots && (p.snapshot.persist || p.snapshot.hydrate),
        network_policy: f.network_policy && p.network.read_policy,
        network_policy_write: f.network_policy && p.network.update_policy,
        ports: f.ports && !p.network.expose_ports.is_empty(),
        create_sandboxes: f.lifecycle && p.sandbox.create,
        delete_sandboxes: f.lifecycle && p.sandbox.delete,
        limits: types::Limits {
            default_timeout_ms: clamp_ms(p.exec.default_timeout),
            max_timeout_ms: clamp_ms(p.exec.max_timeout),
            max_output_bytes: p.exec.max_output_bytes,
            max_read_bytes: p.fs.max_read_bytes,
            max_write_bytes: p.fs.max_write_bytes,
        },
    }
}

fn clamp_ms(d: std::time::Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

pub(super) fn exit_status(e: ExitInfo) -> process::ExitStatus {
    process::ExitStatus { exit_code: e.code, timed_out: e.timed_out, killed: e.killed }
}

pub(super) fn signal(s: process::Signal) -> backend::Signal {
    match s {
        process::Signal::Interrupt => backend::Signal::Interrupt,
        process::Signal::Terminate => backend::Signal::Terminate,
        process::Signal::Kill => backend::Signal::Kill,
        process::Signal::Hangup => backend::Signal::Hangup,
    }
}

pub(super) fn term_size(t: process::TerminalSize) -> backend::TermSize {
    backend::TermSize { cols: t.cols.max(1), rows: t.rows.max(1) }
}

fn file_kind(k: FileKind) -> fs::FileKind {
    match k {
        FileKind::File => fs::FileKind::File,
        FileKind::Directory => fs::FileKind::Directory,
        FileKind::Symlink => fs::FileKind::Symlink,
        FileKind::Other => fs::FileKind::Other,
    }
}

pub(super) fn file_stat(s: FileStat) -> fs::FileStat {
    fs::FileStat {
        path: s.path,
        kind: file_kind(s.kind),
        size: s.size,
        mode: s.mode,
        mtime_ms: s.mtime_ms,
        symlink_target: s.symlink_target,
    }
}

pub(super) fn dir_entry(e: DirEntry) -> fs::DirEntry {
    fs::DirEntry { name: e.name, kind: file_kind(e.kind), size: e.size, mode: e.mode, mtime_ms: e.mtime_ms }
}

pub(super) fn write_options(o: fs::WriteOptions) -> backend::WriteOptions {
    backend::WriteOptions {
        mode: o.mode.unwrap_or(0o644) & 0o7777,
        create_parents: o.create_parents,
        exclusive: o.exclusive,
    }
}

pub(super) fn archive_format(f: fs::ArchiveFormat) -> crate::archive::Format {
    match f {
        fs::ArchiveFormat::Auto => crate::archive::Format::Auto,
        fs::ArchiveFormat::Tar => crate::archive::Format::Tar,
        fs::ArchiveFormat::TarGzip => crate::archive::Format::TarGzip,
    }
}

pub(super) fn extract_summary(s: crate::archive::Summary) -> fs::ExtractSummary {
    let c = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    fs::ExtractSummary { files: c(s.files), directories: c(s.directories), symlinks: c(s.symlinks), bytes: s.bytes }
}

pub(super) fn snapshot_info(m: SnapshotMeta) -> snapshot::SnapshotInfo {
    snapshot::SnapshotInfo {
        id: m.id,
        sha256: m.sha256,
        size: m.size,
        created_ms: m.created_ms,
        sandbox: m.sandbox,
        root: m.root,
        excludes: m.excludes,
        entries: u32::try_from(m.entries).unwrap_or(u32::MAX),
    }
}

pub(super) fn policy_status(s: backend::PolicyStatus) -> network::PolicyStatus {
    network::PolicyStatus {
        version: s.version,
        active_version: s.active_version,
        state: match s.state {
            PolicyLoadState::Pending => network::PolicyLoadState::Pending,
            PolicyLoadState::Loaded => network::PolicyLoadState::Loaded,
            PolicyLoadState::Failed => network::PolicyLoadState::Failed,
            PolicyLoadState::Superseded => network::PolicyLoadState::Superseded,
            PolicyLoadState::Unknown => network::PolicyLoadState::Unknown,
        },
        policy_hash: s.policy_hash,
        load_error: s.load_error,
        rules_yaml: s.rules_yaml,
    }
}

pub(super) fn provider(p: backend::ProviderInfo) -> providers::Provider {
    providers::Provider {
        name: p.name,
        kind: p.kind,
        credential_names: p.credential_names,
        readiness: match p.readiness {
            ProviderReadiness::Pending => providers::Readiness::Pending,
            ProviderReadiness::Ready => providers::Readiness::Ready,
            ProviderReadiness::Withheld => providers::Readiness::Withheld,
            ProviderReadiness::Revoked => providers::Readiness::Revoked,
            ProviderReadiness::Failed => providers::Readiness::Failed,
            ProviderReadiness::Unknown => providers::Readiness::Unknown,
        },
        reason: p.reason,
    }
}

pub(super) fn exposed_port(p: backend::ExposedPort) -> network::ExposedPort {
    network::ExposedPort { port: p.port, name: p.name, url: p.url }
}
