//! One sandbox on the gateway, opened: its address and its file channel
//! (the session channel, shared with every other handle to the sandbox)
//! are looked up once.

use std::time::Duration;

use async_trait::async_trait;

use super::files::Files;
use super::wire::Revision;
use super::{OpenShellBackend, exec};

use super::policy;
use super::status::{retry, to_error};
use crate::backend::{
    ByteStream, DirEntry, DraftChunk, ExecRequest, ExecSession, ExposedPort, FileRead, FileSink, FileStat,
    PolicyStatus, ProviderInfo, Sandbox, SandboxInfo, WriteOptions,
};
use crate::error::{ErrorCode, Result, SandboxError};
use crate::retry::{self, Backoff, GaveUp, Verdict};

/// A sandbox on the gateway.
#[derive(Debug)]
pub(super) struct OpenShellSandbox {
    backend: OpenShellBackend,
    info: SandboxInfo,
    files: Files,
}

impl OpenShellSandbox {
    pub(super) fn new(backend: OpenShellBackend, info: SandboxInfo) -> OpenShellSandbox {
        let files = backend.files(&info);
        OpenShellSandbox { backend, info, files }
    }
}

#[async_trait]
impl Sandbox for OpenShellSandbox {
    fn info(&self) -> &SandboxInfo {
        &self.info
    }

    async fn exec(&self, request: ExecRequest) -> Result<ExecSession> {
        exec::start(self.backend.wire.clone(), self.files.target.clone(), request, exec::Caller::Guest, "process.run")
            .await
    }

    async fn read_file(&self, path: &str) -> Result<FileRead> {
        let files = &self.files;
        retry("fs.read-file", self.backend.cfg.rpc_timeout, || files.read(path)).await
    }

    async fn write_file(&self, path: &str, options: WriteOptions) -> Result<Box<dyn FileSink>> {
        Ok(Box::new(self.files.writer(path, options)))
    }

    async fn stat(&self, path: &str) -> Result<FileStat> {
        let files = &self.files;
        retry("fs.stat", self.backend.cfg.rpc_timeout, || files.stat(path)).await
    }

    async fn list_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let files = &self.files;
        retry("fs.list-dir", self.backend.cfg.rpc_timeout, || files.list(path)).await
    }

    async fn mkdir(&self, path: &str, parents: bool) -> Result<()> {
        self.files.mkdir(path, parents).await
    }

    async fn remove(&self, path: &str, recursive: bool) -> Result<()> {
        self.files.remove(path, recursive).await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.files.rename(from, to).await
    }

    async fn realpath(&self, path: &str) -> Result<String> {
        let files = &self.files;
        retry("fs.realpath", self.backend.cfg.rpc_timeout, || files.realpath(path)).await
    }

    async fn chmod(&self, path: &str, mode: u32) -> Result<()> {
        self.files.chmod(path, mode).await
    }

    async fn export_tar(&self, root: &str, excludes: &[String]) -> Result<ByteStream> {
        self.files.export_tar(root, excludes).await
    }

    async fn import_tar(&self, root: &str, archive: ByteStream, clear_except: Option<&[String]>) -> Result<()> {
        self.files.import_tar(root, archive, clear_except).await
    }

    async fn network_policy(&self) -> Result<PolicyStatus> {
        let op = "network.get-policy";
        let target = &self.files.target;
        let rev = retry(op, self.backend.cfg.rpc_timeout, || async {
            self.backend.wire.policy_status(target, 0).await.map_err(|s| to_error(op, &s))
        })
        .await?;
        policy_status(op, rev)
    }

    async fn update_network_policy(&self, rules_yaml: &str) -> Result<PolicyStatus> {
        let op = "network.update-policy";
        let rules = policy::parse_rules(rules_yaml)?;
        policy::check_generation(&rules, self.backend.wire.protocol()).map_err(|e| e.with_operation(op))?;
        let target = &self.files.target;
        let version = self.backend.wire.update_rules(target, &rules).await.map_err(|s| to_error(op, &s))?;
        // Wait briefly for the sandbox to load the revision: a pending
        // revision (`Ok` in the error slot) is polled again, and is the
        // answer when time runs out.
        let polled = retry::retry(
            &Backoff::constant(Duration::from_millis(200)).within(Duration::from_secs(10)),
            |_| async {
                let rev = self.backend.wire.policy_status(target, version).await.map_err(|s| Err(to_error(op, &s)))?;
                if matches!(rev.state, crate::backend::PolicyLoadState::Pending) { Err(Ok(rev)) } else { Ok(rev) }
            },
            |e| if e.is_ok() { Verdict::Retry } else { Verdict::Stop },
        )
        .await;
        let rev = match polled {
            Ok(rev) | Err(GaveUp { error: Ok(rev), .. }) => rev,
            Err(GaveUp { error: Err(e), .. }) => return Err(e),
        };
        policy_status(op, rev)
    }

    async fn draft_chunks(&self, status: &str) -> Result<Vec<DraftChunk>> {
        let op = "network.draft-policy";
        let target = &self.files.target;
        retry(op, self.backend.cfg.rpc_timeout, || async {
            self.backend.wire.draft_chunks(target, status).await.map_err(|s| to_error(op, &s))
        })
        .await
    }

    async fn decide_draft(&self, chunk_id: &str, approve: bool, reason: &str) -> Result<()> {
        let op = if approve { "network.approve-draft" } else { "network.reject-draft" };
        self.backend
            .wire
            .decide_draft(&self.files.target, chunk_id, approve, reason)
            .await
            .map_err(|s| to_error(op, &s))
    }

    async fn providers(&self) -> Result<Vec<ProviderInfo>> {
        let op = "providers.list-providers";
        let target = &self.files.target;
        retry(op, self.backend.cfg.rpc_timeout, || async {
            self.backend.wire.providers(target).await.map_err(|s| to_error(op, &s))
        })
        .await
    }

    async fn attach_provider(&self, name: &str) -> Result<bool> {
        let op = "providers.attach";
        self.backend.wire.attach_provider(&self.files.target, name).await.map_err(|s| to_error(op, &s))
    }

    async fn detach_provider(&self, name: &str) -> Result<bool> {
        let op = "providers.detach";
        self.backend.wire.detach_provider(&self.files.target, name).await.map_err(|s| to_error(op, &s))
    }

    async fn expose_port(&self, port: u16, name: &str) -> Result<ExposedPort> {
        let op = "network.expose-port";
        self.backend.wire.expose(&self.files.target, port, name).await.map_err(|s| {
            let e = to_error(op, &s);
            if e.code == ErrorCode::Unsupported { e.context("this gateway does not expose services") } else { e }
        })
    }
}

/// What the guest sees of a policy revision.
fn policy_status(op: &str, rev: Revision) -> Result<PolicyStatus> {
    let rules = rev.rules.map_err(|m| SandboxError::new(ErrorCode::Unsupported, op, m))?;
    Ok(PolicyStatus {
        version: rev.version,
        active_version: rev.active_version,
        state: rev.state,
        policy_hash: rev.hash,
        load_error: rev.load_error,
        rules_yaml: policy::render_rules(&rules),
    })
}
