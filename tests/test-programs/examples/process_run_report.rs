//! Runs the argv given as input (one argument per line; a first line
//! `timeout=MS` or `max=BYTES` sets options) and reports the whole result.
use openshell_sandbox_guest::{Command, Guest, Sandbox, export};

struct Report;

impl Guest for Report {
    fn run(input: String) -> Result<String, String> {
        let mut cmd: Option<Command> = None;
        let mut pending: Vec<Box<dyn Fn(Command) -> Command>> = Vec::new();
        for line in input.lines() {
            if cmd.is_none() {
                if let Some(ms) = line.strip_prefix("timeout=") {
                    let ms: u64 = ms.parse().map_err(|_| "bad timeout")?;
                    pending.push(Box::new(move |c| c.timeout(std::time::Duration::from_millis(ms))));
                    continue;
                }
                if let Some(max) = line.strip_prefix("max=") {
                    let max: u64 = max.parse().map_err(|_| "bad max")?;
                    pending.push(Box::new(move |c| c.max_output(max)));
                    continue;
                }
                if let Some(dir) = line.strip_prefix("cwd=") {
                    let dir = dir.to_string();
                    pending.push(Box::new(move |c| c.cwd(dir.clone())));
                    continue;
                }
                if let Some(kv) = line.strip_prefix("env=") {
                    let (k, v) = kv.split_once('=').ok_or("bad env")?;
                    let (k, v) = (k.to_string(), v.to_string());
                    pending.push(Box::new(move |c| c.env(k.clone(), v.clone())));
                    continue;
                }
                if let Some(data) = line.strip_prefix("stdin=") {
                    let data = data.replace("\\n", "\n");
                    pending.push(Box::new(move |c| c.stdin(data.clone().into_bytes())));
                    continue;
                }
                cmd = Some(Command::new(line));
            } else if let Some(c) = cmd.take() {
                cmd = Some(c.arg(line));
            }
        }
        let mut cmd = cmd.ok_or("empty argv")?;
        for p in &pending {
            cmd = p(cmd);
        }
        match cmd.run(&Sandbox::current()) {
            Ok(out) => Ok(format!(
                "exit={} timed_out={} out_trunc={} err_trunc={} out_len={} err_len={}\nstdout={:?}\nstderr={:?}",
                out.exit_code,
                out.timed_out,
                out.stdout_truncated,
                out.stderr_truncated,
                out.stdout.len(),
                out.stderr.len(),
                out.stdout_string(),
                out.stderr_string()
            )),
            Err(e) => Err(test_programs::code(&e)),
        }
    }
}

export!(Report);
