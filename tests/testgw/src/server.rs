//! Serving the gateway on a bound listener until a shutdown future
//! resolves (the mini-redis shape: the caller binds, so tests can bind
//! `127.0.0.1:0` and learn the port before serving).

use std::future::Future;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use crate::config::{Config, Protocol, TlsFiles};
use crate::gate::{Admission, Gate};
use crate::gateway::Gateway;
use crate::{v0_0, v0_1};

/// The gateway's inbound message limit. Bigger requests (and bigger
/// client-stream frames) fail with OUT_OF_RANGE, worded by tonic exactly
/// as the real gateway's error.
pub const MAX_INBOUND_MESSAGE: usize = 1024 * 1024;

/// Serves the OpenShell API of `config.protocol` on `listener` until
/// `shutdown` resolves. Open exec and watch streams then end with
/// UNAVAILABLE, connections drain, and the function returns.
///
/// The registry and sandboxes live in `config.state_dir`; calling `serve`
/// again with the same directory resumes them.
///
/// # Errors
///
/// Fails if the state directory cannot be used, bubblewrap is missing, the
/// TLS files cannot be read, or the server fails.
pub async fn serve(listener: TcpListener, config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let mut builder = Server::builder()
        // The real gateway pings every 20 s and gives up after 10 s.
        .http2_keepalive_interval(Some(Duration::from_secs(20)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)));
    if let Some(tls) = &config.tls {
        builder = builder.tls_config(tls_config(tls)?)?;
    }
    let admission =
        Admission::new(config.faults.delay, config.faults.unavailable_first, config.bearer_token.as_deref());
    let protocol = config.protocol;
    let gateway = Gateway::open(config)?;

    // Small exec round trips would otherwise wait on Nagle's algorithm.
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        conn.inspect(|stream| {
            let _ = stream.set_nodelay(true);
        })
    });
    let signal = {
        let gateway = gateway.clone();
        async move {
            shutdown.await;
            gateway.begin_shutdown();
        }
    };
    let router = match protocol {
        Protocol::V0_0 => builder.add_service(Gate::new(v0_0::server(gateway.clone(), MAX_INBOUND_MESSAGE), admission)),
        Protocol::V0_1 => builder.add_service(Gate::new(v0_1::server(gateway.clone(), MAX_INBOUND_MESSAGE), admission)),
    };
    let served = router.serve_with_incoming_shutdown(incoming, signal).await;
    gateway.close();
    served.context("the gRPC server failed")
}

fn tls_config(files: &TlsFiles) -> anyhow::Result<ServerTlsConfig> {
    let read = |path: &std::path::Path| std::fs::read(path).with_context(|| format!("cannot read {}", path.display()));
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(read(&files.cert)?, read(&files.key)?));
    if let Some(ca) = &files.client_ca {
        tls = tls.client_ca_root(Certificate::from_pem(read(ca)?));
    }
    Ok(tls)
}
