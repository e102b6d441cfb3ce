//! Exercises every file operation once and reports each outcome.
use std::io::Read;

use openshell_sandbox_guest::{FileKind, Guest, Sandbox, export};

struct Files;

impl Guest for Files {
    fn run(_input: String) -> Result<String, String> {
        let sb = Sandbox::current();
        let e = |e: openshell_sandbox_guest::Error| e.to_string();
        let mut report = Vec::new();

        let st = sb.write("dir/a.txt", "alpha").map_err(e)?;
        report.push(format!("write size={} kind={:?} mode={:o} path={}", st.size, st.kind, st.mode, st.path));
        report.push(format!("read={}", sb.read_string("dir/a.txt").map_err(e)?));
        sb.write_with("dir/exec.sh", "#!/bin/sh\necho hi\n", Some(0o755), false, false).map_err(e)?;
        report.push(format!("mode={:o}", sb.stat("dir/exec.sh").map_err(e)?.mode));
        let excl = sb.write_with("dir/a.txt", "x", None, false, true);
        report.push(format!("exclusive-existing={}", test_programs::outcome(&excl)));
        let noparent = sb.write_with("missing/x.txt", "x", None, false, false);
        report.push(format!("missing-parent={}", test_programs::outcome(&noparent)));

        sb.mkdir_all("dir/sub/deeper").map_err(e)?;
        report.push(format!("mkdir-existing={}", test_programs::outcome(&sb.mkdir("dir/sub"))));
        sb.rename("dir/a.txt", "dir/sub/b.txt").map_err(e)?;
        report.push(format!(
            "exists-old={} exists-new={}",
            sb.exists("dir/a.txt").map_err(e)?,
            sb.exists("dir/sub/b.txt").map_err(e)?
        ));
        let names: Vec<String> =
            sb.list_dir("dir").map_err(e)?.into_iter().map(|d| format!("{}:{:?}", d.name, d.kind)).collect();
        report.push(format!("list={}", names.join(",")));
        sb.chmod("dir/sub/b.txt", 0o600).map_err(e)?;
        report.push(format!("chmod={:o}", sb.stat("dir/sub/b.txt").map_err(e)?.mode));
        report.push(format!("realpath={}", sb.realpath("dir/sub/../sub/b.txt").map_err(e)?));
        report.push(format!("rm-nonempty={}", test_programs::outcome(&sb.remove("dir/sub"))));
        sb.remove_all("dir/sub").map_err(e)?;
        report.push(format!("after-rm={}", sb.exists("dir/sub").map_err(e)?));
        report.push(format!("read-missing={}", test_programs::outcome(&sb.read("nope"))));
        report.push(format!("read-dir={}", test_programs::outcome(&sb.read("dir"))));
        report.push(format!("rm-workdir={}", test_programs::outcome(&sb.remove_all("."))));

        // Streaming: 3 MiB in 64 KiB pieces, read back in pieces.
        let w = sb.open_write("big.bin").map_err(e)?;
        let chunk: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
        for _ in 0..48 {
            w.write_chunk(&chunk).map_err(e)?;
        }
        report.push(format!("before-finish-exists={}", sb.exists("big.bin").map_err(e)?));
        let st = w.finish().map_err(e)?;
        let mut r = sb.open_read("big.bin").map_err(e)?;
        let mut back = Vec::new();
        r.read_to_end(&mut back).map_err(|e| e.to_string())?;
        let same = back.len() == 48 * 65536 && back.chunks(65536).all(|c| c == &chunk[..]);
        report.push(format!("stream size={} reader-size={} identical={same}", st.size, r.size()));

        // An abandoned writer leaves nothing behind.
        {
            let w = sb.open_write("abandoned.txt").map_err(e)?;
            w.write_chunk(b"partial").map_err(e)?;
        }
        report.push(format!("abandoned-exists={}", sb.exists("abandoned.txt").map_err(e)?));
        let kinds = sb.list_dir(".").map_err(e)?.iter().filter(|d| d.kind == FileKind::File).count();
        report.push(format!("files-in-root={kinds}"));
        Ok(report.join("\n"))
    }
}

export!(Files);
