//! Figure 1: the cost of our exec path over the gateway's own.
//!
//! 1a: `Backend::exec` of `true` against a raw tonic `ExecSandbox` of the
//! same command to the same gateway. 1b: the same, driven from a guest
//! (`bench_exec_loop`), against the same number of raw calls in a row.

use std::sync::Arc;

use openshell_wasm::backend::Backend;
use openshell_wasm::runtime::RunRequest;

use openshell_wasm::backend::openshell::config::SessionChannel;

use crate::Options;
use crate::figure::{Figure, Goal};
use crate::fixtures::{self, Gateway};
use crate::measure::{interleave, ms, time};

pub async fn run(opts: &Options) -> Vec<Figure> {
    let gw = Gateway::start(std::time::Duration::ZERO);
    let backend = Arc::new(gw.backend(SessionChannel::Auto).await);
    let raw = gw.raw().await;
    let sb = fixtures::sandbox(&*backend).await;
    let rounds = if opts.quick { 20 } else { 150 };
    let (ours, base) = interleave(
        rounds,
        || async {
            let (code, _) = fixtures::exec(&*backend, &sb, &["true"]).await;
            assert_eq!(code, 0);
        },
        || async {
            let (code, _, _) = raw.exec(&sb.name, &["true"], false).await;
            assert_eq!(code, 0);
        },
    )
    .await;
    let (o, b) = (ours.median(), base.median());
    let mut figures = vec![Figure::new(
        "1a",
        "exec `true`: host backend vs raw tonic ExecSandbox",
        format!("{:.2} ms median", ms(o)),
        format!("{:.2} ms median", ms(b)),
        o.as_secs_f64() / b.as_secs_f64(),
        "ours / raw",
        Goal::AtMost(1.10),
    )];

    // 1b: from a guest.
    let state = tempfile::tempdir().expect("temporary directory");
    let host = fixtures::host(backend.clone(), Default::default(), state.path(), None);
    let agent =
        host.load_file(std::path::Path::new(test_artifacts::BENCH_EXEC_LOOP.path())).await.expect("load the guest");
    let n = if opts.quick { 20 } else { 100 };
    let mut guest_times = crate::measure::Samples::default();
    let mut raw_times = crate::measure::Samples::default();
    for _ in 0..3 {
        let (d, out) = time(host.run(&agent, RunRequest::new(n.to_string()).attach(&sb.name))).await;
        let out = out.expect("the guest ran");
        assert_eq!(out.result.as_deref().map(|r| r.starts_with(&format!("ok={n} "))), Ok(true), "{:?}", out.result);
        guest_times.push(d);
        let (d, ()) = time(async {
            for _ in 0..n {
                raw.exec(&sb.name, &["true"], false).await;
            }
        })
        .await;
        raw_times.push(d);
    }
    let (o, b) = (guest_times.median(), raw_times.median());
    figures.push(Figure::new(
        "1b",
        &format!("{n} execs from a guest (whole run) vs {n} raw calls"),
        format!("{:.1} ms", ms(o)),
        format!("{:.1} ms", ms(b)),
        o.as_secs_f64() / b.as_secs_f64(),
        "ours / raw",
        Goal::Report,
    ));
    backend.delete(&sb.name).await.expect("delete the sandbox");
    figures
}
