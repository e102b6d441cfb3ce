//! Spawns a command that prints five lines with pauses, and reports how
//! the output arrived: the number of stdout events (more than one proves
//! streaming), the lines in order, and the exit status.
use openshell_sandbox_guest::{Command, Event, Guest, Sandbox, export};

struct Stream;

impl Guest for Stream {
    fn run(_input: String) -> Result<String, String> {
        let p = Command::shell("for i in 1 2 3 4 5; do echo line $i; echo err $i >&2; sleep 0.1; done; exit 3")
            .spawn(&Sandbox::current())
            .map_err(|e| e.to_string())?;
        let (mut events, mut out, mut err) = (0, String::new(), String::new());
        let mut exit = None;
        for ev in p.events() {
            match ev.map_err(|e| e.to_string())? {
                Event::Stdout(b) => {
                    events += 1;
                    out.push_str(&String::from_utf8_lossy(&b));
                }
                Event::Stderr(b) => err.push_str(&String::from_utf8_lossy(&b)),
                Event::Exited(s) => exit = Some(s),
            }
        }
        let exit = exit.ok_or("no exit event")?;
        Ok(format!(
            "events={events} exit={} killed={} timed_out={}\n{out}{err}",
            exit.exit_code, exit.killed, exit.timed_out
        ))
    }
}

export!(Stream);
