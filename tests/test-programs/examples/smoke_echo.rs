//! The smallest agent: runs `echo` with the input and returns its stdout.
use openshell_sandbox_guest::{Command, Guest, Sandbox, export};

struct Smoke;

impl Guest for Smoke {
    fn run(input: String) -> Result<String, String> {
        let out = Command::new("echo").arg(&input).run(&Sandbox::current()).map_err(|e| e.to_string())?;
        Ok(out.stdout_string())
    }
}

export!(Smoke);
