//! TLS and mutual TLS.

use openshell_proto::v0_1::openshell::v1 as pb;
use openshell_testgw::{Protocol, TlsFiles};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use crate::common::Gw;

/// A CA, a server certificate for `localhost` and a client certificate,
/// written as PEM files into `dir`.
struct Pki {
    ca: String,
    client_cert: String,
    client_key: String,
}

fn pki(dir: &std::path::Path) -> (Pki, TlsFiles) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&server_key, &ca).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(vec!["client".to_string()]).unwrap().signed_by(&client_key, &ca).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let files = TlsFiles {
        cert: write("server.pem", &server.pem()),
        key: write("server.key", &server_key.serialize_pem()),
        client_ca: Some(write("ca.pem", &ca.pem())),
    };
    (Pki { ca: ca.pem(), client_cert: client.pem(), client_key: client_key.serialize_pem() }, files)
}

async fn health(gw: &Gw, tls: ClientTlsConfig) -> Result<pb::HealthResponse, String> {
    let channel = Channel::from_shared(format!("https://{}", gw.addr))
        .unwrap()
        .tls_config(tls.domain_name("localhost"))
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let mut c = pb::open_shell_client::OpenShellClient::new(channel);
    c.health(pb::HealthRequest {}).await.map(tonic::Response::into_inner).map_err(|e| e.to_string())
}

#[tokio::test]
async fn tls_and_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (pki, files) = pki(dir.path());
    let trust = || ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&pki.ca));

    let server_only = TlsFiles { client_ca: None, ..files.clone() };
    let gw = Gw::start_with(Protocol::V0_1, |c| c.tls = Some(server_only)).await;
    assert_eq!(health(&gw, trust()).await.expect("TLS health").version, "0.1.5");
    gw.stop().await;

    let gw = Gw::start_with(Protocol::V0_1, |c| c.tls = Some(files)).await;
    assert!(health(&gw, trust()).await.is_err(), "mTLS needs a client certificate");
    let identity = Identity::from_pem(&pki.client_cert, &pki.client_key);
    assert!(health(&gw, trust().identity(identity)).await.is_ok());
    gw.stop().await;
}
