//! The `openshell-testgw` binary: first stdout line, serving, SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use openshell_proto::v0_0::openshell::v1 as pb;
use tokio::io::{AsyncBufReadExt as _, BufReader};

#[tokio::test]
async fn binary_prints_its_address_and_serves_until_sigterm() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_openshell-testgw"))
        .args(["--protocol", "0.0", "--listen", "127.0.0.1:0", "--version", "0.0.112-dev"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the gateway");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.expect("address in time");
    let addr = first.expect("read").expect("a first line");
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");

    let mut c = pb::open_shell_client::OpenShellClient::connect(format!("http://{addr}")).await.expect("connect");
    let health = c.health(pb::HealthRequest {}).await.expect("health").into_inner();
    assert_eq!((health.status(), health.version.as_str()), (pb::ServiceStatus::Healthy, "0.0.112-dev"));

    let pid = child.id().expect("pid").to_string();
    let killed = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("exits").expect("wait");
    assert!(status.success(), "clean exit on SIGTERM: {status}");
}
