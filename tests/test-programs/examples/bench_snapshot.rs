//! Persists the directory named by the input (`DIR` or `DIR merge`),
//! restores it in place (replace mode, or merge), deletes the snapshot,
//! and reports the archive's size and entries and how long each step took
//! inside the guest.
use openshell_sandbox_guest::{Guest, HydrateMode, Sandbox, delete_snapshot, export};

struct SnapshotBench;

impl Guest for SnapshotBench {
    fn run(input: String) -> Result<String, String> {
        let (root, mode) = match input.trim().split_once(' ') {
            Some((root, "merge")) => (root, HydrateMode::Merge),
            Some((_, other)) => return Err(format!("unknown mode {other:?} (merge, or nothing for replace)")),
            None => (input.trim(), HydrateMode::Replace),
        };
        let sb = Sandbox::current();
        let e = |e: openshell_sandbox_guest::Error| test_programs::code(&e);
        let t = std::time::Instant::now();
        let snap = sb.persist(root, &[]).map_err(e)?;
        let persist_us = t.elapsed().as_micros();
        let t = std::time::Instant::now();
        sb.hydrate(&snap.id, root, mode).map_err(e)?;
        let hydrate_us = t.elapsed().as_micros();
        delete_snapshot(&snap.id).map_err(e)?;
        Ok(format!("entries={} size={} persist_us={persist_us} hydrate_us={hydrate_us}", snap.entries, snap.size))
    }
}

export!(SnapshotBench);
