//! For tests that run a gateway in their own process: start one on
//! 127.0.0.1:0 for as long as a value lives, and make the certificates a
//! TLS or mTLS gateway and its clients need.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::{Config, TlsFiles, serve};

/// A gateway serving in the current runtime until dropped.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Running {
    /// Bind 127.0.0.1:0 and serve `config` there.
    ///
    /// # Panics
    /// If the port cannot be bound, or later if the gateway fails (a test
    /// should stop at once then).
    pub async fn start(config: Config) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("the bound address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            if let Err(e) = serve(listener, config, async {
                let _ = stopped.await;
            })
            .await
            {
                panic!("the test gateway failed: {e:#}");
            }
        });
        Running { addr, stop: Some(stop) }
    }

    /// `http://ADDR` (or `https://localhost:PORT` with `tls`).
    pub fn url(&self, tls: bool) -> String {
        if tls { format!("https://localhost:{}", self.addr.port()) } else { format!("http://{}", self.addr) }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A CA, a server certificate for `localhost` and a client certificate,
/// as PEM text and as files.
#[derive(Debug)]
pub struct Pki {
    /// The CA certificate.
    pub ca_pem: String,
    /// The client certificate and its key.
    pub client_cert_pem: String,
    /// The client's private key.
    pub client_key_pem: String,
    /// The server's files, for [`Config::tls`] (with the CA as client CA).
    pub server: TlsFiles,
    /// `ca.pem`, `client.pem`, `client.key` in the directory.
    pub ca_file: PathBuf,
    /// The client certificate file.
    pub client_cert_file: PathBuf,
    /// The client key file.
    pub client_key_file: PathBuf,
}

impl Pki {
    /// Generate everything and write the files into `dir`.
    ///
    /// # Panics
    /// If key generation or a write fails.
    pub fn generate(dir: &Path) -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("a key")).expect("the CA");
        let server_key = KeyPair::generate().expect("a key");
        let server = CertificateParams::new(vec!["localhost".to_string()])
            .and_then(|p| p.signed_by(&server_key, &ca))
            .expect("the server certificate");
        let client_key = KeyPair::generate().expect("a key");
        let client = CertificateParams::new(vec!["client".to_string()])
            .and_then(|p| p.signed_by(&client_key, &ca))
            .expect("the client certificate");
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write a certificate file");
            path
        };
        let ca_file = write("ca.pem", &ca.pem());
        Pki {
            ca_pem: ca.pem(),
            client_cert_pem: client.pem(),
            client_key_pem: client_key.serialize_pem(),
            server: TlsFiles {
                cert: write("server.pem", &server.pem()),
                key: write("server.key", &server_key.serialize_pem()),
                client_ca: Some(ca_file.clone()),
            },
            ca_file,
            client_cert_file: write("client.pem", &client.pem()),
            client_key_file: write("client.key", &client_key.serialize_pem()),
        }
    }
}
