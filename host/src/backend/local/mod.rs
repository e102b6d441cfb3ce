//! The local backend, the embedded default: every sandbox is a workspace
//! directory on this machine and every command runs in it under bubblewrap
//! (see [`bwrap`] for exactly what is isolated).
//!
//! State lives under a root directory (by default
//! `$XDG_STATE_HOME/openshell-wasm/local`), one folder per sandbox:
//! `workspace/` (what commands see as `/workspace`), `etc/` (the sandbox's
//! `passwd`, `group`, `hosts`) and `sandbox.json` (name, labels,
//! environment). Sandboxes therefore outlive the process that created them,
//! so `--sandbox NAME` and `openshell-wasm sandbox list` work across runs.

pub(crate) mod bwrap;
mod exec;
mod files;
mod sandbox;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use tokio::process::Command;
use tokio::sync::watch;

use self::files::blocking;
use self::sandbox::LocalSandbox;
use super::{Backend, Features, Phase, Sandbox, SandboxInfo, SandboxSpec};
use crate::error::{Result, SandboxError};

/// Where a local sandbox's files are.
#[derive(Debug, Clone)]
struct Layout {
    dir: PathBuf,
}

impl Layout {
    fn workspace(&self) -> PathBuf {
        self.dir.join("workspace")
    }
    fn etc(&self) -> PathBuf {
        self.dir.join("etc")
    }
    fn meta(&self) -> PathBuf {
        self.dir.join("sandbox.json")
    }
}

/// What `sandbox.json` holds.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Meta {
    name: String,
    labels: BTreeMap<String, String>,
    environment: BTreeMap<String, String>,
    created_ms: u64,
}

/// The local bubblewrap backend. Cheap to clone (shares state).
#[derive(Debug, Clone)]
pub struct LocalBackend {
    root: PathBuf,
    bwrap: PathBuf,
    /// Where the workspace appears inside sandboxes.
    workdir: String,
    /// Per-sandbox cancellation: set when a sandbox is deleted so its
    /// running commands are killed.
    cancels: Arc<Mutex<HashMap<String, watch::Sender<bool>>>>,
}

impl LocalBackend {
    /// A backend keeping its sandboxes under `root` (created if missing).
    /// Fails with a clear message if bubblewrap is not installed.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let bwrap = bwrap::find_bwrap()?;
        std::fs::create_dir_all(&root).map_err(|e| {
            SandboxError::backend(
                "local.init",
                "io",
                format!("cannot create the state directory {}: {e}", root.display()),
            )
        })?;
        Ok(LocalBackend { root, bwrap, workdir: bwrap::WORKDIR.to_string(), cancels: Arc::default() })
    }

    /// Show the workspace at `workdir` inside sandboxes instead of
    /// `/workspace` (an OpenShell-compatible gateway uses `/sandbox`).
    pub fn with_workdir(mut self, workdir: &str) -> Self {
        self.workdir = workdir.to_string();
        self
    }

    /// The default state directory: `$XDG_STATE_HOME/openshell-wasm/local`,
    /// else `~/.local/state/openshell-wasm/local`.
    pub fn default_root() -> PathBuf {
        crate::dirs::ours(crate::dirs::Base::State, "local")
    }

    /// The state directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Check once that bubblewrap can create its namespaces here, so a
    /// kernel that forbids unprivileged user namespaces fails with advice
    /// rather than an obscure error from the first command.
    pub async fn probe(&self) -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| {
            SandboxError::backend("local.probe", "io", format!("cannot create a temporary directory: {e}"))
        })?;
        let etc = tmp.path().join("etc");
        bwrap::write_etc_overlay(&etc, &self.workdir)
            .map_err(|e| SandboxError::backend("local.probe", "io", e.to_string()))?;
        let env = BTreeMap::new();
        let argv = vec!["true".to_string()];
        let args = bwrap::args(&bwrap::Invocation {
            workspace: tmp.path(),
            workdir: &self.workdir,
            etc_overlay: &etc,
            cwd: &self.workdir,
            env: &env,
            pty: false,
            argv: &argv,
        });
        let out = Command::new(&self.bwrap).args(args).env_clear().output().await.map_err(|e| {
            SandboxError::unavailable("local.probe", format!("cannot run {}: {e}", self.bwrap.display()))
        })?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(SandboxError::unsupported(
            "local.probe",
            format!(
                "bubblewrap cannot create a sandbox here: {}. It needs unprivileged user namespaces: check \
                 `sysctl kernel.unprivileged_userns_clone` (must be 1) and, on Ubuntu 24.04+, \
                 `sysctl kernel.apparmor_restrict_unprivileged_userns` (set 0 or add an AppArmor profile for bwrap); \
                 inside containers, run with user namespaces allowed",
                stderr.trim()
            ),
        ))
    }

    fn layout(&self, name: &str) -> Layout {
        Layout { dir: self.root.join(name) }
    }

    fn read_meta(&self, name: &str) -> Result<Meta> {
        if validate_name(name).is_err() {
            return Err(SandboxError::not_found("sandbox.get", format!("no local sandbox named `{name}`")));
        }
        let layout = self.layout(name);
        let text = std::fs::read_to_string(layout.meta()).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                SandboxError::not_found("sandbox.get", format!("no local sandbox named `{name}`"))
            } else {
                SandboxError::backend("sandbox.get", "io", format!("cannot read {}: {e}", layout.meta().display()))
            }
        })?;
        serde_json::from_str(&text).map_err(|e| {
            SandboxError::backend("sandbox.get", "corrupt", format!("{} is not valid: {e}", layout.meta().display()))
        })
    }

    fn info(&self, meta: Meta) -> SandboxInfo {
        SandboxInfo {
            id: meta.name.clone(),
            name: meta.name,
            backend: "local".into(),
            phase: Phase::Ready,
            message: String::new(),
            workdir: self.workdir.clone(),
            labels: meta.labels,
            created_ms: Some(meta.created_ms),
        }
    }

    fn cancel_receiver(&self, name: &str) -> watch::Receiver<bool> {
        let mut map = self.cancels.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(name.to_string()).or_insert_with(|| watch::channel(false).0).subscribe()
    }
}

/// Names follow OpenShell's rule (a DNS label of at most 19 characters), so
/// an agent that works locally works against a gateway too.
pub fn validate_name(name: &str) -> std::result::Result<(), String> {
    let ok_chars = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if name.is_empty()
        || name.len() > 19
        || !ok_chars
        || name.starts_with('-')
        || name.ends_with('-')
        || name.contains("--")
    {
        return Err(format!(
            "`{name}` is not a valid sandbox name: use 1-19 characters of a-z, 0-9 and single `-`, not at either end"
        ));
    }
    Ok(())
}

/// A random name like `ow-3f9a2c1b5e6d7a8c` (19 characters, the most a
/// name may have).
pub fn generate_name() -> std::result::Result<String, crate::ids::IdError> {
    crate::ids::random_id("ow")
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Remove a directory tree even where it contains directories without
/// write permission (commands may `chmod 555` their own folders).
fn force_remove(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            make_writable(dir);
            std::fs::remove_dir_all(dir)
        }
    }
}

fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                make_writable(&e.path());
            }
        }
    }
}

#[async_trait]
impl Backend for LocalBackend {
    fn name(&self) -> &'static str {
        "local"
    }

    fn features(&self) -> Features {
        Features {
            streaming: true,
            interactive_stdin: true,
            pty: true,
            signals: true,
            snapshots: true,
            network_policy: false,
            ports: false,
            lifecycle: true,
        }
    }

    async fn create(&self, spec: &SandboxSpec) -> Result<SandboxInfo> {
        // What only a gateway's sandbox has is refused, never dropped.
        let remote_only = [
            (spec.policy_yaml.is_some(), "sandbox policies"),
            (!spec.providers.is_empty(), "credential providers"),
            (spec.gpu.is_some(), "GPUs"),
            (spec.cpu.is_some() || spec.memory.is_some(), "CPU and memory requests"),
        ];
        if let Some((_, what)) = remote_only.iter().find(|(asked, _)| *asked) {
            return Err(SandboxError::unsupported(
                "sandbox.create",
                format!("the local backend has no {what}; create the sandbox on an OpenShell gateway"),
            ));
        }
        let name = match &spec.name {
            Some(n) => {
                validate_name(n).map_err(|m| SandboxError::invalid("sandbox.create", m))?;
                n.clone()
            }
            None => generate_name().map_err(|e| SandboxError::from_id("sandbox.create", &e))?,
        };
        let layout = self.layout(&name);
        let workdir = self.workdir.clone();
        let meta = Meta {
            name: name.clone(),
            labels: spec.labels.clone(),
            environment: spec.environment.clone(),
            created_ms: now_ms(),
        };
        blocking("sandbox.create", move || {
            // `create_dir` (not `_all`) on the sandbox folder is the atomic
            // claim on the name.
            match std::fs::create_dir(&layout.dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(SandboxError::conflict(
                        "sandbox.create",
                        format!("sandbox `{}` already exists", meta.name),
                    ));
                }
                Err(e) => return Err(SandboxError::backend("sandbox.create", "io", e.to_string())),
            }
            let result = (|| -> std::io::Result<()> {
                std::fs::create_dir(layout.workspace())?;
                bwrap::write_etc_overlay(&layout.etc(), &workdir)?;
                let json = serde_json::to_vec_pretty(&meta).map_err(std::io::Error::other)?;
                crate::atomic_write::write(&layout.meta(), &json, crate::atomic_write::Durability::Relaxed)
            })();
            if let Err(e) = result {
                let _ = force_remove(&layout.dir);
                return Err(SandboxError::backend("sandbox.create", "io", e.to_string()));
            }
            Ok(())
        })
        .await?;
        self.get(&name).await
    }

    async fn get(&self, name: &str) -> Result<SandboxInfo> {
        let this = self.clone();
        let name = name.to_string();
        blocking("sandbox.get", move || this.read_meta(&name).map(|m| this.info(m))).await
    }

    async fn list(&self, labels: &[(String, String)]) -> Result<Vec<SandboxInfo>> {
        let this = self.clone();
        let labels = labels.to_vec();
        blocking("sandbox.list", move || {
            let mut out = Vec::new();
            let entries = std::fs::read_dir(&this.root)
                .map_err(|e| SandboxError::backend("sandbox.list", "io", e.to_string()))?;
            for e in entries.flatten() {
                let Some(name) = e.file_name().to_str().map(str::to_string) else { continue };
                let Ok(meta) = this.read_meta(&name) else { continue };
                if labels.iter().all(|(k, v)| meta.labels.get(k) == Some(v)) {
                    out.push(this.info(meta));
                }
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        })
        .await
    }

    async fn delete(&self, name: &str) -> Result<()> {
        // Kill whatever still runs in it first.
        if let Some(tx) = self.cancels.lock().unwrap_or_else(|p| p.into_inner()).remove(name) {
            let _ = tx.send(true);
        }
        let this = self.clone();
        let name = name.to_string();
        blocking("sandbox.delete", move || {
            this.read_meta(&name).map_err(|e| e.with_operation("sandbox.delete"))?;
            let layout = this.layout(&name);
            // Remove the metadata first: a half-deleted sandbox is then
            // simply gone, never listed with a broken workspace.
            let _ = std::fs::remove_file(layout.meta());
            force_remove(&layout.dir).map_err(|e| SandboxError::backend("sandbox.delete", "io", e.to_string()))
        })
        .await
    }

    fn open(&self, sandbox: &SandboxInfo) -> Arc<dyn Sandbox> {
        Arc::new(LocalSandbox::new(self.clone(), sandbox.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_are_valid_names() {
        // 16 random hex digits bring a name to the 19-character maximum.
        let name = generate_name().unwrap();
        assert_eq!(name.len(), 19, "{name}");
        assert_eq!(validate_name(&name), Ok(()));
    }
}
