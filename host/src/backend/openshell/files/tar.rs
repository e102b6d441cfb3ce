//! Snapshots' archives: `tar -c` streamed out, and a checked archive
//! streamed into `tar -x` (after clearing what a replace removes).

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::super::exec::MAX_FRAME;
use super::{Files, collect, exec, keep_stderr, script, script_error, split_nul};
use crate::archive::Excludes;
use crate::backend::{ByteStream, ExecEvent, ExecInput, Stdin};
use crate::error::{Result, SandboxError};

impl Files {
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
            // Bounded: a sandbox can write to stderr without end.
            let mut stderr = Vec::new();
            while let Some(ev) = events.recv().await {
                match ev {
                    ExecEvent::Stdout(b) => {
                        if tx.send(Ok(b)).await.is_err() {
                            return;
                        }
                    }
                    ExecEvent::Stderr(b) => keep_stderr(&mut stderr, &b),
                    ExecEvent::Exit(e) => {
                        if e.code != 0 {
                            let stderr = String::from_utf8_lossy(&stderr);
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
