//! Logs N lines through the log interface and returns; the host keeps at
//! most its cap.
use openshell_sandbox_guest::{Guest, Level, export, log};

struct Logs;

impl Guest for Logs {
    fn run(input: String) -> Result<String, String> {
        let n: u64 = input.trim().parse().unwrap_or(100_000);
        for i in 0..n {
            log(Level::Info, "flood", &[("i", &i.to_string())]);
        }
        Ok(format!("logged {n}"))
    }
}

export!(Logs);
