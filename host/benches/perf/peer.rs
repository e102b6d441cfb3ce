//! Figure 7: the same loops through the official OpenShell Python SDK
//! (PyPI `openshell` 0.1.x, run by `peer.py`) against the same test
//! gateway. 7a: 100 execs of `true` (no added exec cost: what differs is
//! the client). 7b: 20 rounds of five small file operations on a gateway
//! that costs at least a real gateway's per exec (the SDK has no file API,
//! so one exec each).

use std::path::PathBuf;
use std::time::Duration;

use openshell_wasm::backend::openshell::config::SessionChannel;

use crate::Options;
use crate::figure::{Figure, Goal};
use crate::fixtures::{self, Gateway};
use crate::measure::{Samples, ms, time};
use crate::small_ops::round;

/// The Python with the SDK: `$OPENSHELL_WASM_PEER_PYTHON`, else the venv
/// `scripts/bench.sh` (and `scripts/test.sh`) create.
fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OPENSHELL_WASM_PEER_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = fixtures::repo().join(".venv-openshell-0.1/bin/python");
    venv.is_file().then_some(venv)
}

fn peer(python: &PathBuf, gw: &Gateway, sandbox: &str, mode: &str, count: usize) -> Result<Duration, String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/perf/peer.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .args([gw.addr.to_string(), sandbox.to_string(), mode.to_string(), count.to_string()])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!("peer.py failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("peer.py output: {e}"))?;
    v["seconds"].as_f64().map(Duration::from_secs_f64).ok_or_else(|| "peer.py printed no seconds".into())
}

fn failed(id: &str, name: &str, why: String) -> Figure {
    let mut f = Figure::new(id, name, why, "-".into(), f64::NAN, "SDK time / our time", Goal::AtLeast(1.0));
    f.met = false;
    f
}

pub async fn run(opts: &Options) -> Vec<Figure> {
    let names =
        ["exec `true` x100: ours vs official Python SDK", "20 rounds of 5 small file ops: ours vs official Python SDK"];
    let Some(python) = python() else {
        let why =
            "no Python with the OpenShell SDK: run scripts/bench.sh, or set OPENSHELL_WASM_PEER_PYTHON".to_string();
        return vec![failed("7a", names[0], why.clone()), failed("7b", names[1], why)];
    };
    let repeats = if opts.quick { 1 } else { 3 };
    let mut figures = Vec::new();
    for (id, name, mode, count) in [("7a", names[0], "exec", 100usize), ("7b", names[1], "files", 20usize)] {
        let (gw, own, added) = if mode == "exec" {
            (Gateway::start(Duration::ZERO), Duration::ZERO, Duration::ZERO)
        } else {
            fixtures::realistic_gateway().await
        };
        let cost = own + added;
        let backend = gw.backend(SessionChannel::Auto).await;
        let sb = fixtures::sandbox(&backend).await;
        let opened = backend.open(&sb);
        let (mut ours, mut theirs) = (Samples::default(), Samples::default());
        let mut error = None;
        // Warm-up of our side, like peer.py's.
        if mode == "exec" {
            fixtures::exec(&backend, &sb, &["true"]).await;
        } else {
            round(&*opened, 0).await;
        }
        for _ in 0..repeats {
            let (d, ()) = time(async {
                for i in 0..count {
                    if mode == "exec" {
                        assert_eq!(fixtures::exec(&backend, &sb, &["true"]).await.0, 0);
                    } else {
                        round(&*opened, i).await;
                    }
                }
            })
            .await;
            ours.push(d);
            let (gw_ref, sandbox) = (&gw, sb.name.clone());
            match peer(&python, gw_ref, &sandbox, mode, count) {
                Ok(d) => theirs.push(d),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        use openshell_wasm::backend::Backend as _;
        backend.delete(&sb.name).await.expect("delete the sandbox");
        if let Some(e) = error {
            figures.push(failed(id, name, e));
            continue;
        }
        let (o, t) = (ours.median(), theirs.median());
        figures.push(Figure::new(
            id,
            &format!(
                "{name}{}",
                if cost.is_zero() { String::new() } else { format!(" ({:.0} ms per exec)", ms(cost)) }
            ),
            format!("{:.0} ms", ms(o)),
            format!("{:.0} ms (SDK)", ms(t)),
            t.as_secs_f64() / o.as_secs_f64(),
            "SDK time / our time (speed-up)",
            Goal::AtLeast(1.0),
        ));
    }
    figures
}
