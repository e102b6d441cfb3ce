//! `openshell-testgw`: parse flags, bind, announce the address, serve until
//! SIGINT/SIGTERM. Everything else is in the library.

use std::io::Write as _;

use anyhow::Context as _;
use clap::Parser as _;
use openshell_testgw::cli::Args;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .init();

    // Without --state-dir, a temporary directory kept until the server stops.
    let (state_dir, _temp) = match &args.state_dir {
        Some(dir) => (dir.clone(), None),
        None => {
            let temp = tempfile::Builder::new().prefix("openshell-testgw-").tempdir()?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let config = args.config(state_dir);

    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // The first stdout line is the contract with whoever started us.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{addr}")?;
    stdout.flush()?;
    drop(stdout);

    openshell_testgw::serve(listener, config, shutdown_signal()).await
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
