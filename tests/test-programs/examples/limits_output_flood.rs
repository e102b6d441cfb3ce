//! Prints without end (the output cap drops the excess; the wall-clock
//! limit ends the run), or prints N lines when the input is a number.
#![allow(clippy::print_stdout, clippy::print_stderr, reason = "this guest exists to print; the host caps it")]

use openshell_sandbox_guest::{Guest, export};

struct Flood;

impl Guest for Flood {
    fn run(input: String) -> Result<String, String> {
        let line = "x".repeat(1023);
        match input.trim().parse::<u64>() {
            Ok(n) => {
                for _ in 0..n {
                    println!("{line}");
                }
                Ok(format!("printed {n} KiB"))
            }
            Err(_) => loop {
                println!("{line}");
                eprintln!("{line}");
            },
        }
    }
}

export!(Flood);
