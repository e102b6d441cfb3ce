//! One HTTP/2 channel per gateway (tonic over rustls), with the bearer token
//! attached to every call by an interceptor.

use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::config::GatewayConfig;
use crate::error::SandboxError;

/// Adds `authorization: Bearer <token>` (marked sensitive) to every request.
#[derive(Clone, Default)]
pub struct Auth {
    header: Option<MetadataValue<Ascii>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("bearer", &self.header.is_some()).finish()
    }
}

impl Interceptor for Auth {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(h) = &self.header {
            request.metadata_mut().insert("authorization", h.clone());
        }
        Ok(request)
    }
}

/// The channel and the interceptor for `cfg`. The connection is made
/// lazily, on the first call, so a gateway that is down surfaces as an
/// `unavailable` error from that call (and is retried where safe).
pub fn connect(cfg: &GatewayConfig) -> Result<(Channel, Auth), SandboxError> {
    let op = "gateway.connect";
    cfg.check()?;
    let mut endpoint = Endpoint::from_shared(cfg.endpoint.clone())
        .map_err(|e| SandboxError::invalid(op, format!("gateway endpoint `{}`: {e}", cfg.endpoint)))?
        .connect_timeout(cfg.connect_timeout)
        .tcp_nodelay(true)
        // Fixed windows: the adaptive (BDP) window halved download
        // throughput on a local gateway (figure 3 of the benchmarks).
        .initial_stream_window_size(Some(4 << 20))
        .initial_connection_window_size(Some(8 << 20))
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(20))
        .keep_alive_while_idle(true);
    if cfg.is_tls() {
        let mut tls = ClientTlsConfig::new();
        tls = match &cfg.tls.ca_pem {
            Some(ca) => tls.ca_certificate(Certificate::from_pem(ca)),
            None => tls.with_native_roots(),
        };
        if let (Some(cert), Some(key)) = (&cfg.tls.cert_pem, &cfg.tls.key_pem) {
            tls = tls.identity(Identity::from_pem(cert, key.expose()));
        }
        endpoint = endpoint.tls_config(tls).map_err(|e| {
            SandboxError::invalid(op, format!("TLS settings for {} ({}): {e}", cfg.endpoint, cfg.source))
        })?;
    } else if cfg.tls.cert_pem.is_some() {
        return Err(SandboxError::invalid(
            op,
            format!("client certificates were given but {} is plaintext (http://); use https://", cfg.endpoint),
        ));
    }
    let header = match &cfg.token {
        Some(t) => {
            let mut v: MetadataValue<Ascii> = format!("Bearer {}", t.expose()).parse().map_err(|_| {
                SandboxError::invalid(op, "the bearer token contains characters not allowed in a header")
            })?;
            v.set_sensitive(true);
            Some(v)
        }
        None => None,
    };
    Ok((endpoint.connect_lazy(), Auth { header }))
}
