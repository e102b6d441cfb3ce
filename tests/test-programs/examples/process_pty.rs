//! Spawns a shell on a terminal: checks it is a TTY, resizes it, reads the
//! new size, and interrupts a sleeping child with Ctrl-C.
use std::time::Duration;

use openshell_sandbox_guest::{Command, Event, Guest, Sandbox, Signal, export};

struct Pty;

fn read_until(p: &openshell_sandbox_guest::Process, needle: &str, out: &mut String) -> Result<bool, String> {
    for _ in 0..100 {
        match p.next_event(Some(Duration::from_millis(100))).map_err(|e| e.to_string())? {
            Some(Event::Stdout(b)) => out.push_str(&String::from_utf8_lossy(&b)),
            Some(Event::Exited(_)) => return Ok(out.contains(needle)),
            _ => {}
        }
        if out.contains(needle) {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Guest for Pty {
    fn run(_input: String) -> Result<String, String> {
        let p = Command::new("sh").pty(80, 24).spawn(&Sandbox::current()).map_err(|e| e.to_string())?;
        let mut out = String::new();
        p.write_stdin(b"[ -t 0 ] && [ -t 1 ] && echo IS-A\"\"-TTY\n").map_err(|e| e.to_string())?;
        // Markers are typed as `A""-B` so the terminal's echo of the
        // command line never matches what the command prints.
        let tty = read_until(&p, "IS-A-TTY\r\n", &mut out)?;
        p.resize(100, 40).map_err(|e| e.to_string())?;
        p.write_stdin(b"stty size\n").map_err(|e| e.to_string())?;
        let size = read_until(&p, "40 100", &mut out)?;
        p.write_stdin(b"sleep 30 && echo AFTER\"\"-SLEEP\n").map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(300));
        p.kill(Signal::Interrupt).map_err(|e| e.to_string())?;
        p.write_stdin(b"echo INTERRUPTED\"\"-OK\n").map_err(|e| e.to_string())?;
        let interrupted = read_until(&p, "INTERRUPTED-OK\r\n", &mut out)?;
        p.write_stdin(b"exit 7\n").map_err(|e| e.to_string())?;
        let status = p.wait().map_err(|e| e.to_string())?;
        Ok(format!(
            "tty={tty} resized={size} interrupted={interrupted} slept_through={} exit={}",
            out.contains("AFTER-SLEEP\r\n"),
            status.exit_code
        ))
    }
}

export!(Pty);
