//! One local sandbox, opened: its layout and workspace path are derived
//! once; every file operation opens the workspace as a capability root on a
//! blocking thread (so a sandbox deleted meanwhile fails with `not-found`
//! instead of writing into a removed directory).

use std::path::PathBuf;

use async_trait::async_trait;
use cap_std::fs::Dir;
use tokio::process::Command;

use super::files::{self, LocalSink, blocking, open_root, rel};
use super::{Layout, LocalBackend, bwrap, exec};
use crate::archive::{self, Excludes};
use crate::backend::{
    ByteStream, DirEntry, ExecRequest, ExecSession, FileRead, FileSink, FileStat, Sandbox, SandboxInfo, WriteOptions,
};
use crate::error::{Result, SandboxError};
use crate::stream::{StreamReader, blocking_stream};

/// A local sandbox bound to its directory.
#[derive(Debug)]
pub(super) struct LocalSandbox {
    backend: LocalBackend,
    info: SandboxInfo,
    layout: Layout,
    workspace: PathBuf,
}

impl LocalSandbox {
    pub(super) fn new(backend: LocalBackend, info: SandboxInfo) -> LocalSandbox {
        let layout = backend.layout(&info.name);
        let workspace = layout.workspace();
        LocalSandbox { backend, info, layout, workspace }
    }

    /// Run `f` on a blocking thread with the workspace opened as a
    /// capability root, `path` as given and `path` relative to the root.
    async fn at<T: Send + 'static>(
        &self,
        op: &'static str,
        path: &str,
        f: impl FnOnce(Dir, &str, &str) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let ws = self.workspace.clone();
        let (path, r) = (path.to_string(), rel(op, &self.backend.workdir, path)?);
        blocking(op, move || f(open_root(op, &ws)?, &path, &r)).await
    }

    /// `root` inside the workspace, as a directory.
    fn open_dir(op: &'static str, ws: Dir, root: &str, r: &str) -> Result<Dir> {
        if r.is_empty() { Ok(ws) } else { ws.open_dir(r).map_err(|e| files::map_err(op, root, &e)) }
    }
}

#[async_trait]
impl Sandbox for LocalSandbox {
    fn info(&self) -> &SandboxInfo {
        &self.info
    }

    async fn exec(&self, request: ExecRequest) -> Result<ExecSession> {
        let meta = {
            let this = self.backend.clone();
            let name = self.info.name.clone();
            blocking("process.spawn", move || this.read_meta(&name)).await?
        };
        let mut env = meta.environment;
        env.extend(request.env.clone());
        let args = bwrap::args(&bwrap::Invocation {
            workspace: &self.workspace,
            workdir: &self.backend.workdir,
            etc_overlay: &self.layout.etc(),
            cwd: &request.cwd,
            env: &env,
            pty: request.pty.is_some(),
            argv: &request.argv,
        });
        let mut command = Command::new(&self.backend.bwrap);
        command.args(args);
        exec::start(exec::Prepared {
            command,
            stdin: request.stdin,
            pty: request.pty,
            timeout: request.timeout,
            cancel: self.backend.cancel_receiver(&self.info.name),
        })
    }

    async fn read_file(&self, path: &str) -> Result<FileRead> {
        self.at("fs.read-file", path, |root, path, r| files::open_read(&root, path, r)).await
    }

    async fn write_file(&self, path: &str, options: WriteOptions) -> Result<Box<dyn FileSink>> {
        let sink = self.at("fs.write-file", path, move |root, path, r| LocalSink::open(root, path, r, options)).await?;
        Ok(Box::new(sink))
    }

    async fn stat(&self, path: &str) -> Result<FileStat> {
        self.at("fs.stat", path, |root, path, r| files::stat(&root, path, r)).await
    }

    async fn list_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        self.at("fs.list-dir", path, |root, path, r| files::list_dir(&root, path, r)).await
    }

    async fn mkdir(&self, path: &str, parents: bool) -> Result<()> {
        self.at("fs.mkdir", path, move |root, path, r| files::mkdir(&root, path, r, parents)).await
    }

    async fn remove(&self, path: &str, recursive: bool) -> Result<()> {
        self.at("fs.remove", path, move |root, path, r| files::remove(&root, path, r, recursive)).await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        // `from` is checked first, as `at` would.
        rel("fs.rename", &self.backend.workdir, from)?;
        let (to, rt) = (to.to_string(), rel("fs.rename", &self.backend.workdir, to)?);
        self.at("fs.rename", from, move |root, from, rf| files::rename(&root, (from, rf), (&to, &rt))).await
    }

    async fn realpath(&self, path: &str) -> Result<String> {
        let workdir = self.backend.workdir.clone();
        self.at("fs.realpath", path, move |root, path, r| files::realpath(&root, &workdir, path, r)).await
    }

    async fn chmod(&self, path: &str, mode: u32) -> Result<()> {
        self.at("fs.chmod", path, move |root, path, r| files::chmod(&root, path, r, mode)).await
    }

    async fn export_tar(&self, root: &str, excludes: &[String]) -> Result<ByteStream> {
        let op = "snapshot.persist";
        let excludes = Excludes::new(excludes).map_err(|m| SandboxError::invalid(op, m))?;
        let dir = self
            .at(op, root, move |ws, root, r| {
                let meta = ws
                    .symlink_metadata(if r.is_empty() { "." } else { r })
                    .map_err(|e| files::map_err(op, root, &e))?;
                if !meta.is_dir() {
                    return Err(SandboxError::conflict(op, format!("{root} is not a directory")));
                }
                Self::open_dir(op, ws, root, r)
            })
            .await?;
        Ok(blocking_stream(op, move |w| archive::pack_dir(&dir, &excludes, w).map(|_| ())))
    }

    async fn import_tar(&self, root: &str, archive: ByteStream, clear_except: Option<&[String]>) -> Result<()> {
        let op = "snapshot.hydrate";
        let keep = match clear_except {
            Some(ex) => Some(Excludes::new(ex).map_err(|m| SandboxError::invalid(op, m))?),
            None => None,
        };
        let mut reader = StreamReader::new(archive);
        self.at(op, root, move |ws, root, r| {
            if !r.is_empty() {
                ws.create_dir_all(r).map_err(|e| files::map_err(op, root, &e))?;
            }
            let dir = Self::open_dir(op, ws, root, r)?;
            if let Some(keep) = &keep {
                archive::unpack::clear_dir(&dir, keep).map_err(|e| files::map_err(op, root, &e))?;
            }
            let result = archive::unpack::unpack_clean(&mut reader, &dir);
            if let Some(e) = reader.take_error() {
                return Err(e.with_operation(op));
            }
            result.map(|_| ()).map_err(|e| e.into_sandbox_error(op))
        })
        .await
    }
}
