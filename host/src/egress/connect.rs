//! Opening a connection to a checked address: resolve the name, drop every
//! address the caller may not reach, connect to one that is left, and
//! speak TLS (system roots plus an optional CA per rule) and HTTP/1.1.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hyper::body::{Body, Incoming};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::EgressError;
use crate::policy::Scheme;

/// Where one request goes, and which addresses it may reach.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// The host name or IP literal (IPv6 without brackets), lowercase.
    pub host: String,
    /// The port.
    pub port: u16,
    /// Addresses that are not public (loopback, private, link-local,
    /// metadata) this request may still reach because the policy names
    /// them; `None` allows every address (an operator-written model URL).
    pub internal_allowed: Option<Vec<IpAddr>>,
    /// An extra CA (PEM) to trust besides the system roots.
    pub ca: Option<PathBuf>,
    /// Most time to resolve, connect and finish the TLS and HTTP
    /// handshakes (within the request's own deadline).
    pub connect_timeout: Option<std::time::Duration>,
}

impl Target {
    /// `scheme://host:port`, as stats and logs name a destination.
    pub fn destination(&self) -> String {
        format!("{}://{}:{}", self.scheme.as_str(), crate::policy::url_host(&self.host), self.port)
    }
}

/// Opens connections for every run of a host; holds the TLS
/// configurations (loading the system roots once).
#[derive(Debug, Default)]
pub struct Connector {
    tls: Mutex<HashMap<Option<PathBuf>, Arc<rustls::ClientConfig>>>,
}

impl Connector {
    /// A connector; TLS roots load on first use.
    pub fn new() -> Connector {
        Connector::default()
    }

    /// Send `request` to `target` and return the response head; its body
    /// arrives as it is read. `deadline` bounds the connection and the
    /// response head; the connection task ends with the response body or
    /// at `body_deadline`.
    pub async fn send<B>(
        &self,
        target: &Target,
        request: http::Request<B>,
        deadline: Instant,
        body_deadline: Instant,
    ) -> Result<http::Response<Incoming>, EgressError>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let what = target.destination();
        let connect = async {
            let stream = self.open(target).await?;
            let io: Box<dyn IoStream> = match target.scheme {
                Scheme::Http => Box::new(stream),
                Scheme::Https => Box::new(self.tls_handshake(target, stream).await?),
            };
            hyper::client::conn::http1::handshake(TokioIo::new(io))
                .await
                .map_err(|e| EgressError::Protocol(format!("HTTP handshake with {what} failed: {e}")))
        };
        let work = async {
            let connected = match target.connect_timeout {
                Some(t) => tokio::time::timeout(t, connect).await.map_err(|_| {
                    EgressError::Timeout(format!("no connection to {what} within the request's connect timeout"))
                })?,
                None => connect.await,
            };
            let (mut sender, conn) = connected?;
            // The connection lives until the response body is read or
            // dropped, and never past the request's deadline.
            tokio::spawn(async move {
                let _ = tokio::time::timeout_at(body_deadline, conn).await;
            });
            sender.send_request(request).await.map_err(|e| {
                // The connection task ends at the body deadline, which may
                // be this deadline too: a connection closed then is a
                // timeout, whichever of the two fired first.
                if e.is_timeout() || Instant::now() >= deadline.min(body_deadline) {
                    EgressError::Timeout(format!("{what} did not answer in time"))
                } else {
                    EgressError::Protocol(format!("{what}: {e}"))
                }
            })
        };
        match tokio::time::timeout_at(deadline, work).await {
            Ok(r) => r,
            Err(_) => Err(EgressError::Timeout(format!("{what} did not answer before the request's deadline"))),
        }
    }

    /// Resolve, check and connect.
    async fn open(&self, target: &Target) -> Result<TcpStream, EgressError> {
        let addrs: Vec<SocketAddr> = match target.host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, target.port)],
            Err(_) => tokio::net::lookup_host((target.host.as_str(), target.port))
                .await
                .map_err(|e| EgressError::Dns(format!("cannot resolve {}: {e}", target.host)))?
                .collect(),
        };
        let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = addrs.into_iter().partition(|a| {
            let ip = canonical(a.ip());
            !is_internal(ip) || target.internal_allowed.as_ref().is_none_or(|list| list.contains(&ip))
        });
        if allowed.is_empty() {
            let list: Vec<String> = refused.iter().map(|a| a.ip().to_string()).collect();
            return Err(EgressError::AddressProhibited(format!(
                "{} resolves only to addresses that are not public ({}); a rule must name such an address \
                 explicitly (host = \"<ip>\") to allow it",
                target.host,
                list.join(", ")
            )));
        }
        let mut last = None;
        for addr in allowed {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Err(e) => last = Some(format!("cannot connect to {} ({addr}): {e}", target.host)),
            }
        }
        Err(EgressError::Connect(last.unwrap_or_default()))
    }

    async fn tls_handshake(
        &self,
        target: &Target,
        stream: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, EgressError> {
        let config = self.tls_config(target.ca.as_deref())?;
        let name = match target.host.parse::<IpAddr>() {
            Ok(ip) => ServerName::from(ip),
            Err(_) => ServerName::try_from(target.host.clone())
                .map_err(|e| EgressError::Tls(format!("`{}` is not a TLS server name: {e}", target.host)))?,
        };
        tokio_rustls::TlsConnector::from(config)
            .connect(name, stream)
            .await
            .map_err(|e| EgressError::Tls(format!("TLS with {} failed: {e}", target.host)))
    }

    /// The TLS configuration for an extra CA (or none), built once.
    fn tls_config(&self, ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, EgressError> {
        let key = ca.map(Path::to_path_buf);
        if let Some(c) = self.tls.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(c.clone());
        }
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(path) = ca {
            let pem = std::fs::read(path)
                .map_err(|e| EgressError::Tls(format!("cannot read the CA file {}: {e}", path.display())))?;
            let mut n = 0;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert =
                    cert.map_err(|e| EgressError::Tls(format!("the CA file {} is not PEM: {e}", path.display())))?;
                roots.add(cert).map_err(|e| {
                    EgressError::Tls(format!("the CA file {} holds a bad certificate: {e}", path.display()))
                })?;
                n += 1;
            }
            if n == 0 {
                return Err(EgressError::Tls(format!("the CA file {} holds no certificate", path.display())));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| EgressError::Tls(format!("TLS setup failed: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let config = Arc::new(config);
        self.tls.lock().unwrap_or_else(|p| p.into_inner()).insert(key, config.clone());
        Ok(config)
    }
}

trait IoStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> IoStream for T {}

/// An IPv4 address mapped into IPv6 is checked as the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether an address is not on the public internet: loopback, private,
/// shared (CGNAT), link-local (where cloud metadata services live,
/// 169.254.169.254), unique-local IPv6 (AWS's fd00:ec2::254), unspecified,
/// broadcast, multicast or documentation ranges.
pub(crate) fn is_internal(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || a >= 240
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || first == 0x0064 && v6.segments()[1] == 0xff9b
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TLS server on loopback with a certificate from a private CA: it
    /// answers one request per connection with `200 ok`.
    async fn tls_server(pki: &openshell_testgw::testing::Pki) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let certs: Vec<_> = rustls_pemfile::certs(&mut std::fs::read(&pki.server.cert).unwrap().as_slice())
            .collect::<Result<_, _>>()
            .unwrap();
        let key =
            rustls_pemfile::private_key(&mut std::fs::read(&pki.server.key).unwrap().as_slice()).unwrap().unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let mut buf = vec![0u8; 4096];
                    let _ = tls.read(&mut buf).await;
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn tls_trusts_the_system_roots_plus_a_rules_ca() {
        let dir = tempfile::tempdir().unwrap();
        let pki = openshell_testgw::testing::Pki::generate(dir.path());
        let port = tls_server(&pki).await;
        let connector = Connector::new();
        let send = |ca: Option<PathBuf>| {
            let target = Target {
                scheme: Scheme::Https,
                host: "localhost".into(),
                port,
                internal_allowed: None,
                ca,
                connect_timeout: None,
            };
            let request = http::Request::get("/")
                .header(http::header::HOST, "localhost")
                .body(http_body_util::Empty::<Bytes>::new())
                .unwrap();
            let deadline = Instant::now() + std::time::Duration::from_secs(10);
            let connector = &connector;
            async move { connector.send(&target, request, deadline, deadline).await }
        };
        match send(None).await {
            Err(EgressError::Tls(m)) => assert!(m.contains("localhost"), "{m}"),
            other => panic!("a private CA is not trusted by default: {other:?}"),
        }
        let response = send(Some(pki.ca_file.clone())).await.unwrap();
        assert_eq!(response.status(), 200);
        match send(Some(dir.path().join("missing.pem"))).await {
            Err(EgressError::Tls(m)) => assert!(m.contains("missing.pem"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn internal_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "224.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }
}
