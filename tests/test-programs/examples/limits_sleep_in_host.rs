//! Waits in a host call forever (a command that never ends, with the
//! longest timeout allowed): the wall-clock limit must stop the run.
use openshell_sandbox_guest::{Command, Guest, Sandbox, export};

struct Sleeper;

impl Guest for Sleeper {
    fn run(_input: String) -> Result<String, String> {
        let out = Command::new("sleep")
            .arg("100000")
            .timeout(std::time::Duration::from_secs(100_000))
            .run(&Sandbox::current());
        Ok(format!("sleep returned: {:?}", out.map(|o| o.exit_code)))
    }
}

export!(Sleeper);
