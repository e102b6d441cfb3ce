//! Spawns `sleep 60`, terminates it, and reports how it ended; then does
//! the same with `kill`.
use openshell_sandbox_guest::{Command, Guest, Sandbox, Signal, export};

struct Kill;

impl Guest for Kill {
    fn run(_input: String) -> Result<String, String> {
        let sb = Sandbox::current();
        let p = Command::new("sleep").arg("60").spawn(&sb).map_err(|e| e.to_string())?;
        std::thread::sleep(std::time::Duration::from_millis(200));
        p.kill(Signal::Terminate).map_err(|e| e.to_string())?;
        let a = p.wait().map_err(|e| e.to_string())?;
        let q = Command::new("sleep").arg("60").spawn(&sb).map_err(|e| e.to_string())?;
        q.kill(Signal::Kill).map_err(|e| e.to_string())?;
        let b = q.wait().map_err(|e| e.to_string())?;
        Ok(format!("term: exit={} killed={}\nkill: exit={} killed={}", a.exit_code, a.killed, b.exit_code, b.killed))
    }
}

export!(Kill);
