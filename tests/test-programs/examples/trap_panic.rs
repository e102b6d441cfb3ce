//! Panics (a trap) after doing some work.
use openshell_sandbox_guest::{Guest, export};

struct Crash;

impl Guest for Crash {
    fn run(input: String) -> Result<String, String> {
        if input == "err" {
            return Err("the agent chose to fail".into());
        }
        panic!("deliberate panic for the trap test");
    }
}

export!(Crash);
