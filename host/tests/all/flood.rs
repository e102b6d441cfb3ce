//! A command that prints gigabytes: the buffered `process.run` keeps only
//! the policy's cap, says the output was truncated, and the host process's
//! memory stays bounded (measured as the CLI child's peak RSS), on the
//! local backend and through the test gateway.

use std::process::Stdio;

use openshell_testgw::testing::isolated;
use test_artifacts as guests;

use crate::BIN;

/// Run the CLI with `args`; returns its stdout and its peak RSS in bytes
/// (the kernel's high-water mark, `VmHWM`, polled until it exits).
fn run_measured(args: &[String], home: &std::path::Path) -> (String, u64) {
    let mut child = isolated(BIN, home).args(args).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).unwrap();
        s
    });
    let mut peak = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kb) = text.lines().find_map(|l| l.strip_prefix("VmHWM:"))
        {
            peak = peak.max(kb.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap_or(0) * 1024);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "the CLI failed: {status}");
    assert!(peak > 0, "the peak RSS was never read");
    (reader.join().unwrap(), peak)
}

fn check(out: &str, rss: u64, what: &str) {
    let v: serde_json::Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{what}: {e}"));
    let report = v["result"].as_str().unwrap_or_else(|| panic!("{what}: no result in {}", &out[..out.len().min(500)]));
    let head = report.lines().next().unwrap_or_default();
    assert!(
        head.contains("exit=0") && head.contains("out_trunc=true") && head.contains("out_len=65536"),
        "{what}: {head}"
    );
    // The whole host stays far below the output's size (which would be
    // gigabytes if it were kept).
    assert!(rss < 300 << 20, "{what}: peak RSS {} MiB", rss >> 20);
}

fn args(backend: &[&str], bytes: u64) -> Vec<String> {
    let mut a: Vec<String> =
        ["run", guests::PROCESS_RUN_REPORT.path(), "--json", "--input"].iter().map(|s| s.to_string()).collect();
    a.push(format!("timeout=600000\nmax=65536\nhead\n-c\n{bytes}\n/dev/zero"));
    a.extend(backend.iter().map(|s| s.to_string()));
    a
}

#[test]
fn gigabytes_of_output_on_the_local_backend() {
    let home = tempfile::tempdir().unwrap();
    let (out, rss) = run_measured(&args(&["--backend", "local"], 2_000_000_000), home.path());
    check(&out, rss, "local");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gigabytes_of_output_through_the_gateway() {
    let home = tempfile::tempdir().unwrap();
    let config = openshell_testgw::Config::new(openshell_testgw::Protocol::V0_1, home.path().join("gateway"));
    let gw = openshell_testgw::testing::Running::start(config).await;
    let gateway = gw.url(false);
    let a = args(&["--backend", "openshell", "--gateway", &gateway], 1_000_000_000);
    let dir = home.path().to_path_buf();
    let (out, rss) = tokio::task::spawn_blocking(move || run_measured(&a, &dir)).await.unwrap();
    check(&out, rss, "gateway");
    drop(gw);
}
