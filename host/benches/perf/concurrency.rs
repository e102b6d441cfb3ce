//! Figure 6: many agents in one host process (local backend, each with
//! its own sandbox). 6a: 64 agents each doing 100 execs: errors and
//! throughput against one agent doing 100. 6b: host memory per idle agent,
//! measured in a fresh child process so memory the allocator kept from
//! earlier figures cannot hide it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use openshell_wasm::backend::Backend;
use openshell_wasm::backend::local::LocalBackend;
use openshell_wasm::runtime::{GuestStream, RunRequest};

use crate::Options;
use crate::figure::{Figure, Goal};
use crate::fixtures;
use crate::measure::{rss_bytes, time};

pub async fn run(opts: &Options) -> Vec<Figure> {
    let (agents, execs) = if opts.quick { (16, 20) } else { (64, 100) };
    let state = tempfile::tempdir().expect("temporary directory");
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(state.path().join("local")).expect("bubblewrap"));
    let host = Arc::new(fixtures::host(backend, Default::default(), state.path(), None));
    let agent = host.load_file(std::path::Path::new(test_artifacts::BENCH_EXEC_LOOP.path())).await.expect("load");
    let one = |host: Arc<openshell_wasm::runtime::Host>, agent: openshell_wasm::runtime::Agent| async move {
        match host.run(&agent, RunRequest::new(execs.to_string())).await {
            Ok(out) if out.result.as_deref().is_ok_and(|r| r.starts_with(&format!("ok={execs} "))) => 0usize,
            Ok(out) => {
                eprintln!("agent result: {:?}", out.result);
                1
            }
            Err(e) => {
                eprintln!("agent failed: {e}");
                1
            }
        }
    };
    let (t1, e1) = time(one(host.clone(), agent.clone())).await;
    let (tn, errors) = time(async {
        let runs: Vec<_> = (0..agents).map(|_| tokio::spawn(one(host.clone(), agent.clone()))).collect();
        let mut errors = 0;
        for r in runs {
            errors += r.await.unwrap_or(1);
        }
        errors
    })
    .await;
    let thr1 = execs as f64 / t1.as_secs_f64();
    let thrn = (agents * execs) as f64 / tn.as_secs_f64();
    let mut figures = vec![Figure::new(
        "6a",
        &format!("{agents} agents x {execs} execs in one host: errors {}, throughput vs 1 agent", errors + e1),
        format!("{thrn:.0} execs/s ({:.1} s)", tn.as_secs_f64()),
        format!("{thr1:.0} execs/s (1 agent)"),
        thrn / thr1,
        "throughput ratio (2 cores)",
        Goal::Report,
    )];
    if errors + e1 > 0 {
        figures[0].met = false;
    }

    let child = std::process::Command::new(std::env::current_exe().expect("this binary"))
        .args(["--child-idle", &agents.to_string()])
        .output()
        .expect("run the idle-memory child");
    let text = String::from_utf8_lossy(&child.stdout);
    let per_agent =
        text.lines().find_map(|l| l.strip_prefix("per-agent-bytes ")).and_then(|v| v.trim().parse::<f64>().ok());
    match per_agent {
        Some(b) => figures.push(Figure::new(
            "6b",
            &format!("host memory per idle agent ({agents} agents sleeping in a host call)"),
            format!("{:.2} MiB", b / (1 << 20) as f64),
            "2 MiB target".into(),
            b / (1 << 20) as f64,
            "MiB per idle agent",
            Goal::AtMost(2.0),
        )),
        None => {
            let mut f = Figure::new(
                "6b",
                "host memory per idle agent",
                format!("the child failed: {}", String::from_utf8_lossy(&child.stderr).trim()),
                "-".into(),
                f64::NAN,
                "MiB per idle agent",
                Goal::AtMost(2.0),
            );
            f.met = false;
            figures.push(f);
        }
    }
    figures
}

/// The child: RSS before and while `n` agents idle; prints
/// `per-agent-bytes B`.
pub async fn idle_child(n: usize) {
    let state = tempfile::tempdir().expect("temporary directory");
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(state.path().join("local")).expect("bubblewrap"));
    let host = Arc::new(fixtures::host(backend, Default::default(), state.path(), None));
    let agent = host.load_file(std::path::Path::new(test_artifacts::BENCH_IDLE.path())).await.expect("load");
    // One run first, so code, engine and runtime are all in memory.
    host.run(&agent, RunRequest::new("0")).await.expect("warm-up run");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_bytes();
    let started = Arc::new(AtomicUsize::new(0));
    let runs: Vec<_> = (0..n)
        .map(|_| {
            let (host, agent, started) = (host.clone(), agent.clone(), started.clone());
            tokio::spawn(async move {
                let forward = Arc::new(move |s: GuestStream, d: &[u8]| {
                    if s == GuestStream::Stdout && d.starts_with(b"idle") {
                        started.fetch_add(1, Ordering::SeqCst);
                    }
                });
                host.run(&agent, RunRequest::new("4000").forward(forward)).await
            })
        })
        .collect();
    while started.load(Ordering::SeqCst) < n {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let during = rss_bytes();
    for r in runs {
        r.await.expect("join").expect("idle run");
    }
    println!(
        "rss-before {before}\nrss-idle {during}\nper-agent-bytes {}",
        during.saturating_sub(before) as f64 / n as f64
    );
}
