//! Runs `true` N times (N is the input; 0 makes it the trivial agent the
//! start benchmark uses) and reports how many succeeded and how long the
//! loop took inside the guest.
use openshell_sandbox_guest::{Command, Guest, Sandbox, export};

struct ExecLoop;

impl Guest for ExecLoop {
    fn run(input: String) -> Result<String, String> {
        let n: u32 = input.trim().parse().map_err(|_| format!("the input must be a count, not {input:?}"))?;
        let sb = Sandbox::current();
        let started = std::time::Instant::now();
        let mut ok = 0;
        for _ in 0..n {
            let out = Command::new("true").run(&sb).map_err(|e| test_programs::code(&e))?;
            if out.exit_code == 0 {
                ok += 1;
            }
        }
        Ok(format!("ok={ok} us={}", started.elapsed().as_micros()))
    }
}

export!(ExecLoop);
