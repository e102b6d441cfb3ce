//! Spawns `cat`, writes to its stdin in two pieces, closes stdin, and
//! returns what came back.
use openshell_sandbox_guest::{Command, Event, Guest, Sandbox, export};

struct Stdin;

impl Guest for Stdin {
    fn run(input: String) -> Result<String, String> {
        let p = Command::new("cat").spawn(&Sandbox::current()).map_err(|e| e.to_string())?;
        let (a, b) = input.split_at(input.len() / 2);
        p.write_stdin(a.as_bytes()).map_err(|e| e.to_string())?;
        p.write_stdin(b.as_bytes()).map_err(|e| e.to_string())?;
        p.close_stdin().map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for ev in p.events() {
            if let Event::Stdout(b) = ev.map_err(|e| e.to_string())? {
                out.extend(b);
            }
        }
        let after = match p.write_stdin(b"late") {
            Ok(()) => "accepted".to_string(),
            Err(e) => test_programs::code(&e),
        };
        Ok(format!("{}\nwrite-after-exit={after}", String::from_utf8_lossy(&out)))
    }
}

export!(Stdin);
