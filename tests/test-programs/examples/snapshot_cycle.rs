//! Persist a tree, change it, hydrate it back, and check it is exactly as
//! it was: contents, modes, symlinks, and the removal of new files.
use openshell_sandbox_guest::{Command, Guest, HydrateMode, Sandbox, export};

struct Cycle;

fn tree(sb: &Sandbox) -> Result<String, String> {
    Command::shell("cd proj && find . -mindepth 1 -printf '%p %m %y %l\\n' | sort && cat a.txt sub/b.txt")
        .run(sb)
        .map(|o| o.stdout_string())
        .map_err(|e| e.to_string())
}

impl Guest for Cycle {
    fn run(_input: String) -> Result<String, String> {
        let sb = Sandbox::current();
        let e = |e: openshell_sandbox_guest::Error| e.to_string();
        sb.write("proj/a.txt", "version one\n").map_err(e)?;
        sb.write_with("proj/sub/b.txt", "bee\n", Some(0o600), true, false).map_err(e)?;
        sb.write_with("proj/run.sh", "#!/bin/sh\n", Some(0o755), true, false).map_err(e)?;
        sb.write("proj/node_modules/big.js", "excluded\n").map_err(e)?;
        Command::shell("cd proj && ln -s sub/b.txt link-to-b").run(&sb).map_err(e)?;
        let before = tree(&sb)?;
        let snap = sb.persist("proj", &["node_modules"]).map_err(e)?;

        sb.write("proj/a.txt", "version two\n").map_err(e)?;
        sb.write("proj/new.txt", "new\n").map_err(e)?;
        sb.remove("proj/sub/b.txt").map_err(e)?;
        sb.chmod("proj/run.sh", 0o644).map_err(e)?;
        sb.remove("proj/link-to-b").map_err(e)?;
        sb.write("proj/node_modules/big.js", "changed but excluded\n").map_err(e)?;
        let changed = tree(&sb)?;

        sb.hydrate(&snap.id, "proj", HydrateMode::Replace).map_err(e)?;
        let after = tree(&sb)?;
        let excluded_kept = sb.read_string("proj/node_modules/big.js").map_err(e)?;
        let listed = openshell_sandbox_guest::snapshots().map_err(e)?.iter().any(|s| s.id == snap.id);
        let bogus = test_programs::outcome(&sb.hydrate("snap-0-00000000", "proj", HydrateMode::Replace));
        Ok(format!(
            "entries={} size={} sha256_len={} listed={listed} restored={} changed_differs={} excluded_kept={:?} bogus={bogus}\n{after}",
            snap.entries,
            snap.size,
            snap.sha256.len(),
            before == after,
            before != changed,
            excluded_kept.trim(),
        ))
    }
}

export!(Cycle);
