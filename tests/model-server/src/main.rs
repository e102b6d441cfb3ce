//! `openshell-test-model`: read a script, bind, announce the base URL, serve
//! until stdin closes or SIGINT/SIGTERM. Everything else is in the library.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use openshell_test_model::{ModelServer, Options, Script};

/// A scripted OpenAI-compatible Chat Completions server. Prints its base URL
/// (`http://ADDR/v1`) as the first line on stdout, then serves until stdin
/// closes or it gets SIGINT or SIGTERM. Requests a script step refused are
/// listed on stderr at the end.
#[derive(Debug, Parser)]
#[command(name = "openshell-test-model")]
struct Args {
    /// The script, as JSON (`{"steps": [...]}`).
    #[arg(long, value_name = "FILE.json")]
    script: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// End SSE lines in CR LF.
    #[arg(long)]
    crlf: bool,
    /// Send `: keep-alive` comments before every SSE event.
    #[arg(long)]
    keepalive: bool,
    /// Pause between SSE events, in milliseconds.
    #[arg(long, default_value_t = 0)]
    chunk_delay_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let text =
        std::fs::read_to_string(&args.script).with_context(|| format!("cannot read {}", args.script.display()))?;
    let script = Script::from_json(&text).with_context(|| format!("in {}", args.script.display()))?;
    let options = Options {
        crlf: args.crlf,
        keepalive_comments: args.keepalive,
        chunk_delay: Duration::from_millis(args.chunk_delay_ms),
        ..Options::default()
    };
    // Signal handlers first: whoever started us may signal as soon as it
    // reads the address.
    let shutdown = shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // The first stdout line is the contract with whoever started us.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "http://{addr}/v1")?;
    stdout.flush()?;
    drop(stdout);

    let server = ModelServer::new(script, options);
    server.serve(listener, shutdown).await;
    let mut stderr = std::io::stderr().lock();
    for request in server.requests() {
        if let Some(why) = &request.mismatch {
            writeln!(stderr, "openshell-test-model: {} {} refused: {why}", request.method, request.path)?;
        }
    }
    Ok(())
}

/// Resolves on stdin reaching its end, SIGINT or SIGTERM; the handlers are
/// installed before it returns.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    // A plain thread: tokio's stdin read cannot be cancelled and would keep
    // the runtime from shutting down after a signal.
    let (closed, stdin_closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = closed.send(());
    });
    Ok(async move {
        tokio::select! {
            _ = stdin_closed => {}
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
