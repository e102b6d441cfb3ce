//! The `openshell-test-model` binary, and the official `openai` Python
//! package against it (`tests/python/openai_proof.py`).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The binary, started on the proof's script; killed if a test fails
/// before it exits.
struct Server {
    child: Child,
    /// Kept open: the server stops when its stdin closes.
    stdout: BufReader<ChildStdout>,
    base_url: String,
}

impl Server {
    fn start(flags: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_openshell-test-model"))
            .arg("--script")
            .arg(repo().join("tests/python/openai_proof_script.json"))
            .args(flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start openshell-test-model");
        let mut stdout = BufReader::new(child.stdout.take().expect("its stdout"));
        let mut base_url = String::new();
        stdout.read_line(&mut base_url).expect("the first line");
        let base_url = base_url.trim_end().to_string();
        assert!(base_url.starts_with("http://127.0.0.1:") && base_url.ends_with("/v1"), "first line {base_url:?}");
        Server { child, stdout, base_url }
    }

    fn addr(&self) -> String {
        self.base_url.trim_start_matches("http://").trim_end_matches("/v1").to_string()
    }

    /// Closes stdin and waits for the exit; returns the status and stderr.
    fn stop(mut self) -> (ExitStatus, String) {
        drop(self.child.stdin.take());
        let status = wait(&mut self.child);
        let mut rest = String::new();
        let _ = self.stdout.read_to_string(&mut rest);
        let mut stderr = String::new();
        self.child.stderr.take().expect("its stderr").read_to_string(&mut stderr).expect("read stderr");
        (status, stderr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn wait(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "openshell-test-model did not exit within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
}

#[test]
fn the_binary_serves_until_stdin_closes_or_sigterm() {
    let server = Server::start(&[]);
    let answer = get(&server.addr(), "/v1/models");
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains(r#""id":"openshell-test-model""#), "{answer}");
    let (status, stderr) = server.stop();
    assert!(status.success() && stderr.is_empty(), "{status}: {stderr}");

    let mut server = Server::start(&["--crlf", "--keepalive", "--chunk-delay-ms", "1"]);
    let killed = Command::new("kill").arg("-TERM").arg(server.child.id().to_string()).status().expect("run kill");
    assert!(killed.success());
    let status = wait(&mut server.child);
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
}

#[test]
fn the_official_openai_python_package_parses_everything() {
    let Some(python) = std::env::var_os("OPENSHELL_TEST_OPENAI_PYTHON") else {
        panic!(
            "set OPENSHELL_TEST_OPENAI_PYTHON to a Python that has the official `openai` package \
             (./scripts/test.sh does), for example:\n  python3 -m venv .venv-openai && \
             .venv-openai/bin/pip install openai\n  OPENSHELL_TEST_OPENAI_PYTHON=$PWD/.venv-openai/bin/python \
             cargo test -p openshell-test-model"
        );
    };
    let plain = Server::start(&[]);
    let crlf = Server::start(&["--crlf", "--keepalive", "--chunk-delay-ms", "2"]);
    let out = Command::new(&python)
        .arg(repo().join("tests/python/openai_proof.py"))
        .arg(&plain.base_url)
        .arg(&crlf.base_url)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", Path::new(&python).display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the openai package failed against openshell-test-model:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("openai proof: ") && stdout.trim_end().ends_with(" checks passed"), "{stdout}");

    // The two refusals the proof provokes, and nothing else.
    let (status, stderr) = plain.stop();
    assert!(status.success(), "{status}");
    let refused: Vec<&str> = stderr.lines().collect();
    assert_eq!(refused.len(), 2, "{stderr}");
    assert!(refused[0].contains(r#"script step 5: expected model "proof-model", got "other-model""#), "{stderr}");
    assert!(refused[1].contains("script exhausted"), "{stderr}");
    let (status, stderr) = crlf.stop();
    assert!(status.success() && stderr.is_empty(), "{status}: {stderr}");
}
