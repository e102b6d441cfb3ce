//! Replay the checked-in fuzz corpus (`fuzz/corpus/<target>/`, written by
//! `scripts/fuzz.sh`) through the fuzz entry points, so `cargo test` keeps
//! every input fuzzing found interesting, crash reproducers included,
//! passing without cargo-fuzz or a nightly compiler.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use openshell_wasm::fuzzing;

/// Feed every file of `fuzz/corpus/<target>` (smallest first) to `entry`.
/// A missing or empty folder fails: the corpus is the test.
fn replay(target: &str, entry: fn(&[u8])) {
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
    for (_, path) in &files {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Name the input that failed; the entry point's own message says why.
        if catch_unwind(AssertUnwindSafe(|| entry(&data))).is_err() {
            panic!("{target}: {} fails (reproduce: cargo fuzz run {target} {0})", path.display());
        }
    }
}

/// One test per fuzz target, named after it.
macro_rules! replay_tests {
    ($($target:ident),* $(,)?) => {$(
        #[test]
        fn $target() {
            replay(stringify!($target), fuzzing::$target);
        }
    )*};
}

replay_tests!(archive, member_name, guest_path, policy, session_replies, session_request, exec_output, component);
