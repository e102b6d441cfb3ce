//! Prints `idle`, then sleeps for the input's number of milliseconds in a
//! host call (a WASI clock wait) without touching the sandbox: an idle
//! agent, for measuring what each one costs the host.
#![allow(clippy::print_stdout, reason = "the line tells the benchmark the agent is up and idle")]
use openshell_sandbox_guest::{Guest, export};

struct Idle;

impl Guest for Idle {
    fn run(input: String) -> Result<String, String> {
        let ms: u64 = input.trim().parse().map_err(|_| format!("the input must be milliseconds, not {input:?}"))?;
        println!("idle");
        let started = std::time::Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(ms));
        Ok(format!("slept_ms={}", started.elapsed().as_millis()))
    }
}

export!(Idle);
