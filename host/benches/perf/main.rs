//! openshell-wasm's benchmarks: every figure is a ratio against a baseline
//! measured in the same run, because these machines are noisy. Prints a
//! table, then one JSON line.
//!
//! ```sh
//! scripts/bench.sh                 # everything (makes the SDK venv first)
//! cargo bench -p openshell-wasm --bench perf -- --quick --only 2,5
//! ```
//!
//! Figures: 1 exec overhead, 2 small ops over the session channel, 3 file
//! transfer, 4 snapshots, 5 start-up, 6 concurrency and memory, 7 the
//! official Python SDK as a peer, 8 egress (guests' HTTP and model calls), 9
//! MCP server mode.
//! See each module.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a benchmark's report is its output")]

mod concurrency;
mod egress;
mod exec;
mod figure;
mod fixtures;
mod mcp;
mod measure;
mod peer;
mod small_ops;
mod snapshots;
mod start;
mod transfer;

use figure::Figure;

/// Command-line options.
#[derive(Debug, Default)]
pub struct Options {
    /// Smaller sizes and fewer rounds: a smoke run, not a measurement.
    pub quick: bool,
    /// Only these figures (by number).
    pub only: Option<Vec<u32>>,
}

fn parse() -> Result<(Options, Option<usize>), String> {
    let mut opts = Options::default();
    let mut child = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => opts.quick = true,
            "--only" => {
                let v = args.next().ok_or("--only needs a list such as 1,2,5")?;
                let nums = v
                    .split(',')
                    .map(|n| n.trim().parse::<u32>().map_err(|_| format!("--only: `{n}` is not a figure number")));
                opts.only = Some(nums.collect::<Result<_, _>>()?);
            }
            "--child-idle" => {
                child = Some(args.next().and_then(|n| n.parse().ok()).ok_or("--child-idle needs a count")?);
            }
            // `cargo bench` passes `--bench`.
            "--bench" => {}
            "-h" | "--help" => {
                println!("usage: perf [--quick] [--only 1,2,...]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}` (try --help)")),
        }
    }
    Ok((opts, child))
}

fn machine() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:")).map(|m| m.trim().to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    serde_json::json!({
        "cpu": model,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "memory": mem_kb,
        "kernel": kernel.trim(),
        "profile": if cfg!(debug_assertions) { "debug" } else { "optimized" },
    })
}

fn print_table(figures: &[Figure]) {
    println!();
    println!("{:<4} {:<86} {:>9} {:>9} {:<4}", "fig", "what", "ratio", "target", "met");
    for f in figures {
        println!(
            "{:<4} {:<86} {:>9.2} {:>9} {:<4}",
            f.id,
            f.name,
            f.ratio,
            f.target(),
            if f.met { "yes" } else { "NO" }
        );
        println!("     ours: {}; baseline: {} ({})", f.ours, f.baseline, f.ratio_means);
    }
}

fn main() {
    let (opts, child) = match parse() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("perf: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    if let Some(n) = child {
        rt.block_on(concurrency::idle_child(n));
        return;
    }
    let wanted = |n: u32| opts.only.as_ref().is_none_or(|o| o.contains(&n));
    let mut figures: Vec<Figure> = Vec::new();
    rt.block_on(async {
        let steps: [(u32, &str); 9] = [
            (1, "exec overhead"),
            (2, "small operations"),
            (3, "file transfer"),
            (4, "snapshots"),
            (5, "start-up"),
            (6, "concurrency"),
            (7, "Python SDK peer"),
            (8, "egress"),
            (9, "MCP server"),
        ];
        for (n, what) in steps {
            if !wanted(n) {
                continue;
            }
            eprintln!("perf: figure {n}, {what}...");
            let started = std::time::Instant::now();
            let got = match n {
                1 => exec::run(&opts).await,
                2 => small_ops::run(&opts).await,
                3 => transfer::run(&opts).await,
                4 => snapshots::run(&opts).await,
                5 => start::run(&opts).await,
                6 => concurrency::run(&opts).await,
                7 => peer::run(&opts).await,
                8 => egress::run(&opts).await,
                _ => mcp::run(&opts).await,
            };
            eprintln!("perf: figure {n} took {:.1} s", started.elapsed().as_secs_f64());
            figures.extend(got);
        }
    });
    print_table(&figures);
    let all_met = figures.iter().all(|f| f.met);
    println!(
        "{}",
        serde_json::json!({
            "benchmark": "openshell-wasm",
            "quick": opts.quick,
            "machine": machine(),
            "figures": figures,
            "all_targets_met": all_met,
        })
    );
}
