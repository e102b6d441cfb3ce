//! An openshell-wasm agent in Rust.
//!
//! `run` gets the text given to `openshell-wasm run --input` and returns the
//! run's result. This one writes the input to a file in its sandbox, counts
//! its words with `wc -w` there, and returns what `wc` printed. Everything
//! it can do is in `wit/` (the `openshell:sandbox/agent` world).

wit_bindgen::generate!({
    path: "wit",
    world: "openshell:sandbox/agent",
    generate_all,
});

use openshell::sandbox::{fs, lifecycle, log, process, types};

struct Agent;

/// `fs.write-file failed: ...`
fn describe(e: types::Error) -> String {
    format!("{} failed: {}", e.operation, e.message)
}

impl Guest for Agent {
    fn run(input: String) -> Result<String, String> {
        // The sandbox the host bound to this run.
        let sandbox = lifecycle::current();

        // Paths are relative to the sandbox's workdir.
        let options = fs::WriteOptions { mode: None, create_parents: true, exclusive: false };
        fs::write_file(&sandbox, "input.txt", input.as_bytes(), options).map_err(describe)?;

        // Commands are argv lists, never shell strings.
        let argv = ["wc", "-w", "input.txt"].map(String::from);
        let options = process::RunOptions { cwd: None, env: vec![], stdin: None, timeout_ms: None, max_output_bytes: None };
        let out = process::run(&sandbox, &argv, &options).map_err(describe)?;
        log::log(log::Level::Info, "counted words", &[("exit_code".into(), out.exit_code.to_string())]);
        if out.exit_code != 0 {
            return Err(format!("wc failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

export!(Agent);
