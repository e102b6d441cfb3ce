//! Data integrity helpers for the component suite: seeded random files and
//! trees, written through a backend and compared byte for byte (SHA-256)
//! with what comes back. The seed is fixed so a failure reproduces; set
//! `OPENSHELL_WASM_INTEGRITY_SEED` to explore others.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::StreamExt;
pub use openshell_testgw::testing::{Rng, sha256_hex as sha};
use openshell_wasm::backend::{Backend, ExecEvent, ExecRequest, FileKind, SandboxInfo, WriteOptions};

/// The seeded generator of the test kit, with the seed from
/// `OPENSHELL_WASM_INTEGRITY_SEED` so a failure can be replayed.
pub fn seeded_rng() -> Rng {
    Rng::new(std::env::var("OPENSHELL_WASM_INTEGRITY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed))
}

/// The `i`th file name: with the characters that break naive shell code.
pub fn file_name(rng: &mut Rng, i: usize) -> String {
    const PARTS: &[&str] = &[
        "plain",
        "with space",
        "it's",
        "\"quoted\"",
        "new\nline",
        "tab\there",
        "é-ü-漢字",
        "-dash",
        "$(x)",
        "*?[",
        ".ow-tmp-look",
        "back\\slash",
        "semi;colon",
        "🦀",
    ];
    let a = PARTS[rng.below(PARTS.len() as u64) as usize];
    let b = PARTS[rng.below(PARTS.len() as u64) as usize];
    format!("{a}{i}{b}")
}

/// Sizes at and around every boundary the transports use, plus 64 MiB.
pub fn boundary_sizes() -> Vec<usize> {
    let mut v = vec![0, 1, 2, 4095, 4096, 4097, 65535, 65536, 65537];
    for edge in [960 << 10, 1 << 20] {
        v.extend([edge - 1, edge, edge + 1]);
    }
    v.extend([(3 << 20) + 17, 64 << 20]);
    v
}

/// Write `data` in randomly sized pieces.
pub async fn write(b: &dyn Backend, sb: &SandboxInfo, path: &str, data: &[u8], mode: u32, rng: &mut Rng) {
    let opts = WriteOptions { create_parents: true, mode, ..WriteOptions::default() };
    let mut sink = b.open(sb).write_file(path, opts).await.unwrap_or_else(|e| panic!("open {path:?}: {e}"));
    let mut at = 0;
    while at < data.len() {
        let n = (1 + rng.below(2 << 20) as usize).min(data.len() - at);
        sink.write(Bytes::copy_from_slice(&data[at..at + n])).await.unwrap_or_else(|e| panic!("write {path:?}: {e}"));
        at += n;
    }
    let st = sink.finish().await.unwrap_or_else(|e| panic!("finish {path:?}: {e}"));
    assert_eq!((st.kind, st.size), (FileKind::File, data.len() as u64), "{path:?}");
}

pub async fn read(b: &dyn Backend, sb: &SandboxInfo, path: &str) -> Vec<u8> {
    let r = b.open(sb).read_file(path).await.unwrap_or_else(|e| panic!("read {path:?}: {e}"));
    let mut out = Vec::with_capacity(r.size as usize);
    let mut content = r.content;
    while let Some(c) = content.next().await {
        out.extend_from_slice(&c.unwrap_or_else(|e| panic!("read {path:?}: {e}")));
    }
    assert_eq!(out.len() as u64, r.size, "{path:?}: announced size");
    out
}

/// Run argv (no shell) and require success.
pub async fn run(b: &dyn Backend, sb: &SandboxInfo, argv: &[&str]) {
    let req = ExecRequest::new(argv, sb.workdir.clone(), std::time::Duration::from_secs(60));
    let mut s = b.open(sb).exec(req).await.unwrap();
    while let Some(ev) = s.events.recv().await {
        match ev {
            ExecEvent::Exit(e) => {
                assert_eq!(e.code, 0, "{argv:?}");
                return;
            }
            ExecEvent::Failed(e) => panic!("{argv:?}: {e}"),
            _ => {}
        }
    }
    panic!("{argv:?}: the stream ended without an exit status")
}

/// Everything below `root`: relative path -> (kind, mode, size, content
/// SHA-256 or symlink target), read through the backend's own API.
pub async fn manifest(b: &dyn Backend, sb: &SandboxInfo, root: &str) -> BTreeMap<String, (FileKind, u32, u64, String)> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![String::new()];
    while let Some(rel) = dirs.pop() {
        let dir = if rel.is_empty() { root.to_string() } else { format!("{root}/{rel}") };
        for e in b.open(sb).list_dir(&dir).await.unwrap_or_else(|e| panic!("list {dir:?}: {e}")) {
            let r = if rel.is_empty() { e.name.clone() } else { format!("{rel}/{}", e.name) };
            let full = format!("{root}/{r}");
            let what = match e.kind {
                FileKind::File => sha(&read(b, sb, &full).await),
                FileKind::Symlink => b.open(sb).stat(&full).await.unwrap().symlink_target.unwrap_or_default(),
                FileKind::Directory => {
                    dirs.push(r.clone());
                    String::new()
                }
                FileKind::Other => String::new(),
            };
            let size = if e.kind == FileKind::File { e.size } else { 0 };
            out.insert(r, (e.kind, e.mode, size, what));
        }
    }
    out
}
