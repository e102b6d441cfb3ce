//! The Streamable HTTP transport: rmcp's session-keeping service behind
//! our listener, with Host and Origin checks against DNS rebinding, an
//! optional bearer token, and an idle timeout per session.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use super::McpServer;

/// The checks and limits of the HTTP transport.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// `Host` header values accepted (hostnames match any port). Default:
    /// `localhost`, `127.0.0.1`, `::1`.
    pub allowed_hosts: Vec<String>,
    /// Browser origins accepted (`scheme://host:port`, `:*` for any port).
    /// Requests without an `Origin` header (not from a browser) pass.
    /// Default: loopback origins on any port.
    pub allowed_origins: Vec<String>,
    /// If set, every request must carry `Authorization: Bearer <token>`.
    pub token: Option<SecretString>,
    /// A session with no request for this long is closed and its
    /// sandboxes deleted.
    pub idle_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            allowed_origins: vec!["http://localhost:*".into(), "http://127.0.0.1:*".into(), "http://[::1]:*".into()],
            token: None,
            idle_timeout: super::DEFAULT_IDLE_TIMEOUT,
        }
    }
}

type Body = BoxBody<Bytes, Infallible>;

/// The largest request body: rmcp's limit for one stdio message.
const MAX_REQUEST_BYTES: usize = rmcp::transport::async_rw::DEFAULT_MAX_LINE_LENGTH;

pub(super) async fn serve(
    server: McpServer,
    listener: tokio::net::TcpListener,
    options: HttpOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let ct = CancellationToken::new();
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(options.allowed_hosts.clone())
        .with_allowed_origins(options.allowed_origins.clone())
        .enforce_origin_validation()
        // As much as a stdio line may carry, so arguments over
        // MAX_ARGUMENT_BYTES get the same tool error on both transports.
        .with_max_request_body_bytes(MAX_REQUEST_BYTES)
        .with_cancellation_token(ct.child_token());
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(options.idle_timeout);
    let factory = server.clone();
    let service = Arc::new(StreamableHttpService::new(
        move || factory.open_session().map_err(std::io::Error::other),
        Arc::new(sessions),
        config,
    ));
    let token = options.token.map(Arc::new);
    let connections = tokio_util::task::TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: keep serving.
                    tracing::warn!("accepting an MCP connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = service.clone();
        let token = token.clone();
        let stop = ct.clone();
        connections.spawn(async move {
            let handle = service_fn(move |req: Request<Incoming>| {
                let service = service.clone();
                let token = token.clone();
                async move {
                    if let Some(expected) = &token
                        && !bearer_matches(req.headers(), expected.expose_secret())
                    {
                        return Ok::<_, Infallible>(unauthorized());
                    }
                    Ok(service.handle(req).await.map(|b| b.boxed()))
                }
            });
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), handle);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => if let Err(e) = r { tracing::debug!(%peer, "MCP connection ended: {e}") },
                () = stop.cancelled() => conn.as_mut().graceful_shutdown(),
            }
        });
    }
    // Ending the sessions drops their handlers, which close them; the
    // caller then waits for every close.
    ct.cancel();
    connections.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), connections.wait()).await;
    Ok(())
}

fn bearer_matches(headers: &http::HeaderMap, expected: &str) -> bool {
    let Some(given) = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(given) = given.strip_prefix("Bearer ") else {
        return false;
    };
    // Compare in time independent of where the strings differ.
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

fn unauthorized() -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from_static(b"missing or wrong bearer token (Authorization: Bearer ...)\n")).boxed(),
    );
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    r.headers_mut().insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_match_exactly() {
        let with = |v: &str| {
            let mut h = http::HeaderMap::new();
            h.insert(http::header::AUTHORIZATION, http::HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(bearer_matches(&with("Bearer s3cret"), "s3cret"));
        assert!(!bearer_matches(&with("Bearer s3cre"), "s3cret"));
        assert!(!bearer_matches(&with("Bearer s3cretX"), "s3cret"));
        assert!(!bearer_matches(&with("Basic s3cret"), "s3cret"));
        assert!(!bearer_matches(&with("s3cret"), "s3cret"));
        assert!(!bearer_matches(&http::HeaderMap::new(), "s3cret"));
    }
}
