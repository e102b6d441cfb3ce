//! A `wasi:cli/command` that uses the sandbox: reads its stdin, runs `tr`
//! in the sandbox to upper-case it, prints the result, and exits with the
//! code given as its first argument (default 0).
#![allow(clippy::print_stderr, reason = "a command reports problems on stderr")]

use std::io::{Read, Write};

use openshell_sandbox_guest::{Command, Sandbox};

fn main() {
    let mut input = String::new();
    let _ = std::io::stdin().read_to_string(&mut input);
    let code: i32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(0);
    let sb = Sandbox::current();
    match Command::new("tr").arg("a-z").arg("A-Z").stdin(input.into_bytes()).run(&sb) {
        Ok(out) => {
            let _ = std::io::stdout().write_all(&out.stdout);
        }
        Err(e) => {
            eprintln!("sandbox error: {e}");
            std::process::exit(9);
        }
    }
    if code != 0 {
        eprintln!("exiting with {code} as asked");
    }
    std::process::exit(code);
}
