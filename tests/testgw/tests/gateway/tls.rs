//! TLS and mutual TLS.

use openshell_proto::v0_1::openshell::v1 as pb;
use openshell_testgw::testing::Pki;
use openshell_testgw::{Protocol, TlsFiles};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use crate::common::Gw;

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
    let pki = Pki::generate(dir.path());
    let files = pki.server.clone();
    let trust = || ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&pki.ca_pem));

    let server_only = TlsFiles { client_ca: None, ..files.clone() };
    let gw = Gw::start_with(Protocol::V0_1, |c| c.tls = Some(server_only)).await;
    assert_eq!(health(&gw, trust()).await.expect("TLS health").version, "0.1.5");
    gw.stop().await;

    let gw = Gw::start_with(Protocol::V0_1, |c| c.tls = Some(files)).await;
    assert!(health(&gw, trust()).await.is_err(), "mTLS needs a client certificate");
    let identity = Identity::from_pem(&pki.client_cert_pem, &pki.client_key_pem);
    assert!(health(&gw, trust().identity(identity)).await.is_ok());
    gw.stop().await;
}
