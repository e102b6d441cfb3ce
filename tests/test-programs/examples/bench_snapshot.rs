//! Persists the directory named by the input (`DIR [merge|replace]
//! [exclude=PATTERN]...`, replace when no mode is given), restores it in
//! place, deletes the snapshot, and reports the archive's size and entries
//! and how long each step took inside the guest.
use openshell_sandbox_guest::{Guest, HydrateMode, Sandbox, delete_snapshot, export};

struct SnapshotBench;

impl Guest for SnapshotBench {
    fn run(input: String) -> Result<String, String> {
        let mut words = input.split_whitespace();
        let root = words.next().ok_or("no directory given")?;
        let (mut mode, mut excludes) = (HydrateMode::Replace, Vec::new());
        for w in words {
            match w {
                "merge" => mode = HydrateMode::Merge,
                "replace" => mode = HydrateMode::Replace,
                _ => match w.strip_prefix("exclude=") {
                    Some(pattern) => excludes.push(pattern),
                    None => return Err(format!("unknown word {w:?} (merge, replace or exclude=PATTERN)")),
                },
            }
        }
        let sb = Sandbox::current();
        let e = |e: openshell_sandbox_guest::Error| test_programs::code(&e);
        let t = std::time::Instant::now();
        let snap = sb.persist(root, &excludes).map_err(e)?;
        let persist_us = t.elapsed().as_micros();
        let t = std::time::Instant::now();
        sb.hydrate(&snap.id, root, mode).map_err(e)?;
        let hydrate_us = t.elapsed().as_micros();
        delete_snapshot(&snap.id).map_err(e)?;
        Ok(format!("entries={} size={} persist_us={persist_us} hydrate_us={hydrate_us}", snap.entries, snap.size))
    }
}

export!(SnapshotBench);
