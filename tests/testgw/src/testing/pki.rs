//! Certificates for TLS and mTLS gateways and their clients.

use std::path::{Path, PathBuf};

use crate::TlsFiles;

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
