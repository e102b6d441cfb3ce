//! Figure 5: start-up. 5a: a warm instantiate + run of a trivial agent
//! (instantiate from the pre-linked component, call `run`, return; the
//! pooling allocator and copy-on-write memory images make this cheap) vs
//! loading it cold (validate, compile, link). 5b: the whole warm
//! `Host::run` around it (attach the sandbox, WASI context, policy,
//! output capture, cleanup) against the same cold load. 5c: a second
//! `openshell-wasm run` of the same component vs the first (the
//! compiled-component cache).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use openshell_wasm::backend::Backend;
use openshell_wasm::backend::local::LocalBackend;
use openshell_wasm::runtime::RunRequest;

use crate::Options;
use crate::figure::{Figure, Goal};
use crate::fixtures;
use crate::measure::{Samples, ms, time};

pub async fn run(opts: &Options) -> Vec<Figure> {
    let state = tempfile::tempdir().expect("temporary directory");
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(state.path().join("local")).expect("bubblewrap"));
    let sb = fixtures::sandbox(&*backend).await;
    let bytes = std::fs::read(test_artifacts::BENCH_EXEC_LOOP.path()).expect("the guest");

    // Cold: a fresh host without a cache each time.
    let mut cold = Samples::default();
    for _ in 0..if opts.quick { 2 } else { 5 } {
        let host = fixtures::host(backend.clone(), Default::default(), state.path(), None);
        let (d, agent) = time(host.load_bytes("bench_exec_loop", bytes.clone())).await;
        agent.expect("load");
        cold.push(d);
    }

    // Warm: one host, the agent loaded once, many runs.
    let host = fixtures::host(backend.clone(), Default::default(), state.path(), None);
    let agent = host.load_bytes("bench_exec_loop", bytes.clone()).await.expect("load");
    let (mut warm, mut inst, mut call) = (Samples::default(), Samples::default(), Samples::default());
    for i in 0..if opts.quick { 50 } else { 300 } {
        let (d, out) = time(host.run(&agent, RunRequest::new("0").attach(&sb.name))).await;
        let out = out.expect("run");
        assert_eq!(out.result.as_deref().map(|r| r.starts_with("ok=0 ")), Ok(true));
        if i >= 10 {
            warm.push(d);
            inst.push(Duration::from_secs_f64(out.stats.instantiate_us / 1e6));
            call.push(Duration::from_secs_f64(out.stats.call_ms / 1e3));
        }
    }
    backend.delete(&sb.name).await.expect("delete the sandbox");
    let (c, w, r) = (cold.median(), warm.median(), call.median());
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mut figures = vec![
        Figure::new(
            "5a",
            "trivial agent: warm instantiate + run vs cold load (compile)",
            format!("{:.0} µs (instantiate {:.0} µs)", us(r), us(inst.median())),
            format!("{:.0} ms", ms(c)),
            c.as_secs_f64() / r.as_secs_f64(),
            "cold / warm (speed-up)",
            Goal::AtLeast(1000.0),
        ),
        Figure::new(
            "5b",
            "trivial agent: the whole warm Host::run (attach, WASI, policy, cleanup) vs cold load",
            format!("{:.0} µs", us(w)),
            format!("{:.0} ms", ms(c)),
            c.as_secs_f64() / w.as_secs_f64(),
            "cold / warm (speed-up)",
            Goal::Report,
        ),
    ];

    // 5c: the CLI twice with a fresh cache.
    let cache = tempfile::tempdir().expect("temporary directory");
    let cli = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_openshell-wasm"));
        c.args(["run", test_artifacts::BENCH_EXEC_LOOP.path(), "--input", "0", "--backend", "local"])
            .arg("--cache-dir")
            .arg(cache.path())
            .arg("--state-dir")
            .arg(state.path().join("cli"))
            .arg("--snapshot-dir")
            .arg(state.path().join("cli-snapshots"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let t = std::time::Instant::now();
        let out = c.output().expect("run the CLI");
        assert!(out.status.success(), "the CLI failed: {}", String::from_utf8_lossy(&out.stderr));
        t.elapsed()
    };
    let first = cli();
    let mut again = Samples::default();
    for _ in 0..3 {
        again.push(cli());
    }
    let a = again.median();
    assert!(Path::new(cache.path()).read_dir().map(|mut d| d.next().is_some()).unwrap_or(false), "nothing was cached");
    figures.push(Figure::new(
        "5c",
        "`openshell-wasm run` (local backend): first run vs later runs (cache hit)",
        format!("{:.0} ms later", ms(a)),
        format!("{:.0} ms first", ms(first)),
        first.as_secs_f64() / a.as_secs_f64(),
        "first / later (speed-up)",
        Goal::Report,
    ));
    figures
}
