//! Spawns `sleep <input>` without end: it keeps every process it can, and
//! when the host refuses one (too many running), drops them all and starts
//! over. Only a limit stops it; every dropped or abandoned process must be
//! killed.
use openshell_sandbox_guest::{Command, Guest, Sandbox, export};

struct SpawnFlood;

impl Guest for SpawnFlood {
    fn run(input: String) -> Result<String, String> {
        let sb = Sandbox::current();
        let mut running = Vec::new();
        loop {
            match Command::new("sleep").arg(input.trim()).spawn(&sb) {
                Ok(p) => running.push(p),
                Err(_) => running.clear(),
            }
        }
    }
}

export!(SpawnFlood);
