//! Snapshots' archives: `tar -c` streamed out, and a checked archive
//! streamed into `tar -x` (after clearing what a replace removes).

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::super::exec::MAX_FRAME;
use super::{Files, Op, collect, exec, keep_stderr, script_error, split_nul};
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
        let session = exec::start(
            self.wire.clone(),
            self.target.clone(),
            self.request(Op::ExportTar, &arg_refs, Stdin::Bytes(Bytes::new())),
            exec::Caller::Host,
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
            let listing = self.ok(op, Op::ListTree, &[root], Bytes::new()).await?;
            let paths: Vec<String> =
                split_nul(&listing).into_iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect();
            let doomed = deletions(&paths, &keep);
            if !doomed.is_empty() {
                let mut list = Vec::new();
                for d in doomed {
                    list.extend_from_slice(d.as_bytes());
                    list.push(0);
                }
                self.ok(op, Op::RemoveList, &[root], Bytes::from(list)).await?;
            }
        }
        let session = exec::start(
            self.wire.clone(),
            self.target.clone(),
            self.request(Op::ImportTar, &[root], Stdin::Interactive),
            exec::Caller::Host,
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
/// kept, never a path below one already deleted. Sorted.
///
/// O(n log n) with no allocation per comparison, because a replace that
/// keeps a large excluded tree (`node_modules` in every package) lists
/// tens of thousands of paths. In [`component_order`] every path's subtree
/// directly follows it, so "is a kept path below `p`" asks only the next
/// kept path, and "is `p` below a deleted path" only the last one deleted.
fn deletions(paths: &[String], keep: &Excludes) -> Vec<String> {
    let mut order: Vec<&str> = paths.iter().map(String::as_str).collect();
    order.sort_unstable_by(|a, b| component_order(a, b));
    let kept: Vec<bool> = order.iter().map(|p| keep.matches(p)).collect();
    // `next_kept[i]`: the first kept path at position `i` or after it.
    let mut next_kept: Vec<Option<&str>> = vec![None; order.len() + 1];
    for i in (0..order.len()).rev() {
        next_kept[i] = if kept[i] { Some(order[i]) } else { next_kept[i + 1] };
    }
    let mut out: Vec<String> = Vec::new();
    let mut last_deleted: Option<&str> = None;
    for (i, &p) in order.iter().enumerate() {
        let doomed = !kept[i]
            && !last_deleted.is_some_and(|d| is_below(p, d))
            && !next_kept[i + 1].is_some_and(|k| is_below(k, p));
        if doomed {
            last_deleted = Some(p);
            out.push(p.to_string());
        }
    }
    out.sort_unstable();
    out
}

/// Whether `path` lies below the directory `dir`.
fn is_below(path: &str, dir: &str) -> bool {
    path.len() > dir.len() && path.as_bytes()[dir.len()] == b'/' && path.starts_with(dir)
}

/// Byte order with `/` before every other byte, so that `a`, `a/b`, `a-b`
/// sort in that order (plain string order puts `a-b` between `a` and
/// `a/b`) and each path's subtree follows it without a gap.
fn component_order(a: &str, b: &str) -> std::cmp::Ordering {
    let key = |c: u8| if c == b'/' { 0 } else { u16::from(c) + 1 };
    a.bytes().map(key).cmp(b.bytes().map(key))
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
    fn deletions_are_not_fooled_by_names_that_sort_between_a_directory_and_its_children() {
        // In string order `a-b` and `a.c` come between `a` and `a/...`.
        let paths: Vec<String> =
            ["a/x", "a-b", "a", "a.c/keep", "a.c", "a/keep", "a-b/y"].iter().map(|s| s.to_string()).collect();
        let keep = Excludes::new(&["keep".to_string()]).unwrap();
        assert_eq!(deletions(&paths, &keep), vec!["a-b", "a/x"]);
        assert_eq!(deletions(&paths, &Excludes::default()), vec!["a", "a-b", "a.c"]);
    }

    /// The algorithm `deletions` replaced: quadratic, but plainly right.
    fn deletions_by_scanning(paths: &[String], keep: &Excludes) -> Vec<String> {
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

    proptest::proptest! {
        /// Any listing (parents missing, duplicates, odd slashes) and any
        /// of a few keep lists: the same deletions as the old algorithm.
        #[test]
        fn deletions_match_the_scanning_algorithm(
            paths in proptest::collection::vec("(|a|b|a-b|a\\.b|node_modules|x)(/(a|b|a-b|node_modules|x|)){0,4}", 0..60),
            which in 0usize..5,
        ) {
            let keep: &[&str] = [&[][..], &["node_modules"], &["a/b"], &["*-b", "x"], &["b/node_modules/"]][which];
            let keep = Excludes::new(&keep.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
            proptest::prop_assert_eq!(deletions(&paths, &keep), deletions_by_scanning(&paths, &keep));
        }
    }

    #[test]
    fn deletions_of_a_large_kept_tree_match_the_scanning_algorithm() {
        // The case that was quadratic: a kept tree in every directory, so
        // every other file is deleted on its own.
        let mut paths = Vec::new();
        for d in 0..20 {
            paths.push(format!("d{d}"));
            paths.push(format!("d{d}/node_modules"));
            for f in 0..50 {
                paths.push(format!("d{d}/f{f}.rs"));
                paths.push(format!("d{d}/node_modules/m{f}"));
                paths.push(format!("d{d}/node_modules/m{f}/index.js"));
            }
        }
        let keep = Excludes::new(&["node_modules".to_string()]).unwrap();
        let got = deletions(&paths, &keep);
        assert_eq!(got.len(), 20 * 50);
        assert_eq!(got, deletions_by_scanning(&paths, &keep));
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
