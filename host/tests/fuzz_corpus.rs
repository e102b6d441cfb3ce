//! Replay the checked-in fuzz corpus (`fuzz/corpus/<target>/`, written by
//! `scripts/fuzz.sh`) through the fuzz entry points, so `cargo test` keeps
//! every input fuzzing found interesting, crash reproducers included,
//! passing without cargo-fuzz or a nightly compiler.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use openshell_wasm::fuzzing;

/// Feed up to `cap` files of `fuzz/corpus/<target>` (smallest first) to
/// `entry`. A missing or empty folder fails: the corpus is the test.
fn replay(target: &str, entry: fn(&[u8]), cap: usize) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let listing = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<(u64, PathBuf)> = listing
        .map(|e| {
            let e = e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            (e.metadata().map(|m| m.len()).unwrap_or(0), e.path())
        })
        .collect();
    assert!(!files.is_empty(), "{} holds no inputs", dir.display());
    files.sort();
    for (_, path) in files.iter().take(cap) {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Name the input that failed; the entry point's own message says why.
        if catch_unwind(AssertUnwindSafe(|| entry(&data))).is_err() {
            panic!("{target}: {} fails (reproduce: cargo fuzz run {target} {0})", path.display());
        }
    }
}

#[test]
fn archive() {
    replay("archive", fuzzing::archive, usize::MAX);
}

#[test]
fn member_name() {
    replay("member_name", fuzzing::member_name, usize::MAX);
}

#[test]
fn guest_path() {
    replay("guest_path", fuzzing::guest_path, usize::MAX);
}

#[test]
fn policy() {
    replay("policy", fuzzing::policy, usize::MAX);
}

#[test]
fn session_replies() {
    replay("session_replies", fuzzing::session_replies, usize::MAX);
}

#[test]
fn session_request() {
    replay("session_request", fuzzing::session_request, usize::MAX);
}

#[test]
fn exec_output() {
    replay("exec_output", fuzzing::exec_output, usize::MAX);
}

#[test]
fn component() {
    replay("component", fuzzing::component, usize::MAX);
}
