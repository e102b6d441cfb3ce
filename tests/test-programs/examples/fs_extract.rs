//! Extracts the hex-encoded archive given as input into `out/` and
//! reports the summary (or the error code), then lists what exists.
use openshell_sandbox_guest::{ExtractLimits, Guest, Sandbox, export};

struct Extract;

impl Guest for Extract {
    fn run(input: String) -> Result<String, String> {
        let sb = Sandbox::current();
        let (limits, hex) = match input.split_once('\n') {
            Some((first, rest)) if first.starts_with("max-members=") => {
                let n: u32 = first["max-members=".len()..].parse().map_err(|_| "bad limit")?;
                (ExtractLimits { max_members: Some(n), ..ExtractLimits::default() }, rest)
            }
            _ => (ExtractLimits::default(), input.as_str()),
        };
        let archive = test_programs::unhex(hex);
        let result = match sb.extract_bytes(&archive, "out", limits) {
            Ok(s) => format!("ok files={} dirs={} links={} bytes={}", s.files, s.directories, s.symlinks, s.bytes),
            Err(e) => format!("{}: {e}", test_programs::code(&e)),
        };
        let listing = openshell_sandbox_guest::Command::shell("find . -mindepth 1 | sort | tr '\\n' ' '")
            .run(&sb)
            .map(|o| o.stdout_string())
            .unwrap_or_default();
        Ok(format!("{result}\n{listing}"))
    }
}

export!(Extract);
