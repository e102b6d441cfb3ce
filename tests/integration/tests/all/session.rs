//! The OpenShell backend's session channel against the test gateway: small
//! file operations share one long-lived exec, give the same results with
//! the Python server, the shell server and one exec each, run pipelined,
//! and survive the channel being dropped.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use openshell_testgw::Protocol as Gw;
use openshell_wasm::backend::openshell::OpenShellBackend;
use openshell_wasm::backend::openshell::SessionServer;
use openshell_wasm::backend::openshell::config::{GatewayConfig, SessionChannel};
use openshell_wasm::backend::{Backend, FileKind, SandboxInfo, SandboxSpec, WriteOptions};
use openshell_wasm::error::ErrorCode;

use crate::harness::start_gateway;

async fn connect(addr: std::net::SocketAddr, channel: SessionChannel) -> OpenShellBackend {
    let mut c = GatewayConfig::new(format!("http://{addr}"));
    c.rpc_timeout = Duration::from_secs(5);
    c.session_channel = channel;
    OpenShellBackend::connect(c).await.unwrap()
}

async fn sandbox(b: &OpenShellBackend) -> SandboxInfo {
    b.create(&SandboxSpec::default().with_ready_timeout(Duration::from_secs(30))).await.unwrap()
}

async fn write(b: &OpenShellBackend, sb: &SandboxInfo, path: &str, data: &[u8]) -> openshell_wasm::error::Result<u64> {
    let mut sink =
        b.open(sb).write_file(path, WriteOptions { create_parents: true, ..WriteOptions::default() }).await?;
    sink.write(Bytes::copy_from_slice(data)).await?;
    Ok(sink.finish().await?.size)
}

async fn read(b: &OpenShellBackend, sb: &SandboxInfo, path: &str) -> openshell_wasm::error::Result<Vec<u8>> {
    let r = b.open(sb).read_file(path).await?;
    let mut out = Vec::new();
    let mut content = r.content;
    while let Some(chunk) = content.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// Every kind of small operation, with file content that looks like the
/// channel's own framing; returns a transcript to compare between paths.
async fn workload(b: &OpenShellBackend, sb: &SandboxInfo) -> Vec<String> {
    let w = &sb.workdir;
    let mut t = Vec::new();
    let forged = b"A 1 0 5 0\nhello\nOWCH1\n\x00\xff";
    let big: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 253) as u8).collect();
    b.open(sb).mkdir(&format!("{w}/d/e"), true).await.unwrap();
    t.push(format!("write {}", write(b, sb, &format!("{w}/d/a\nb.txt"), forged).await.unwrap()));
    t.push(format!("write big {}", write(b, sb, &format!("{w}/d/big"), &big).await.unwrap()));
    t.push(format!("read {:?}", read(b, sb, &format!("{w}/d/a\nb.txt")).await.unwrap()));
    assert!(read(b, sb, &format!("{w}/d/big")).await.unwrap() == big, "the 3 MiB file came back different");
    let st = b.open(sb).stat(&format!("{w}/d/a\nb.txt")).await.unwrap();
    t.push(format!("stat {:?} {} {:o}", st.kind, st.size, st.mode));
    b.open(sb).rename(&format!("{w}/d/a\nb.txt"), &format!("{w}/d/e/c")).await.unwrap();
    b.open(sb).chmod(&format!("{w}/d/e/c"), 0o600).await.unwrap();
    let names: Vec<String> = b
        .open(sb)
        .list_dir(&format!("{w}/d"))
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{}:{:?}", e.name, e.kind))
        .collect();
    t.push(format!("list {names:?}"));
    t.push(format!("realpath {}", b.open(sb).realpath(&format!("{w}/d/e/../e/c")).await.unwrap()));
    t.push(format!("stat {:o}", b.open(sb).stat(&format!("{w}/d/e/c")).await.unwrap().mode));
    for (what, e) in [
        ("missing", b.open(sb).stat(&format!("{w}/nope")).await.unwrap_err()),
        ("outside", read(b, sb, "/etc/passwd").await.unwrap_err()),
        ("not empty", b.open(sb).remove(&format!("{w}/d"), false).await.unwrap_err()),
        ("exists", b.open(sb).mkdir(&format!("{w}/d"), false).await.unwrap_err()),
    ] {
        t.push(format!("{what}: {:?}", e.code));
    }
    b.open(sb).remove(&format!("{w}/d"), true).await.unwrap();
    t.push(format!("gone {:?}", b.open(sb).stat(&format!("{w}/d")).await.unwrap_err().code));
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_operations_share_one_exec_and_match_the_per_exec_path() {
    for protocol in [Gw::V0_0, Gw::V0_1] {
        let state = tempfile::tempdir().unwrap();
        let stats = openshell_testgw::Stats::default();
        let gw = start_gateway(protocol, state.path(), |c| c.stats = stats.clone()).await;

        let off = connect(gw.addr, SessionChannel::Off).await;
        let sb = sandbox(&off).await;
        let before = stats.execs();
        let per_exec = workload(&off, &sb).await;
        let plain_execs = stats.execs() - before;
        assert!(per_exec.iter().any(|l| l == "missing: NotFound"), "{per_exec:?}");
        assert!(per_exec.iter().any(|l| l == "outside: PermissionDenied"), "{per_exec:?}");
        assert!(plain_execs >= 18, "{protocol:?}: only {plain_execs} execs without the channel");

        for (mode, server) in
            [(SessionChannel::Auto, SessionServer::Python), (SessionChannel::Shell, SessionServer::Shell)]
        {
            let on = connect(gw.addr, mode).await;
            let before = stats.execs();
            assert_eq!(on.session_server(&sb).await, Some(server), "{mode:?}");
            let with_channel = workload(&on, &sb).await;
            let channel_execs = stats.execs() - before;
            assert_eq!(with_channel, per_exec, "{protocol:?}: {mode:?} and one exec each disagree");
            // One exec for the channel; the 3 MiB file streams up through
            // one exec and down through another (too large for the channel).
            assert_eq!(channel_execs, 3, "{protocol:?} {mode:?}: execs with the channel");
        }
        off.delete(&sb.name).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_are_pipelined_over_one_channel() {
    let state = tempfile::tempdir().unwrap();
    let stats = openshell_testgw::Stats::default();
    let gw = start_gateway(Gw::V0_1, state.path(), |c| c.stats = stats.clone()).await;
    let b = connect(gw.addr, SessionChannel::Auto).await;
    let sb = sandbox(&b).await;
    let before = stats.execs();
    let writes = (0..32).map(|i| {
        let (b, sb) = (&b, &sb);
        async move { write(b, sb, &format!("{}/f{i}", sb.workdir), format!("file {i}").as_bytes()).await }
    });
    for r in futures::future::join_all(writes).await {
        r.unwrap();
    }
    let reads = (0..32).map(|i| {
        let (b, sb) = (&b, &sb);
        async move { (i, read(b, sb, &format!("{}/f{i}", sb.workdir)).await.unwrap()) }
    });
    for (i, content) in futures::future::join_all(reads).await {
        assert_eq!(content, format!("file {i}").into_bytes());
    }
    assert_eq!(stats.execs() - before, 1, "64 concurrent operations should share one channel");
    b.delete(&sb.name).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_channel_is_replaced_without_losing_operations() {
    let state = tempfile::tempdir().unwrap();
    let stats = openshell_testgw::Stats::default();
    // Every exec stream, the channel included, drops after 12 events.
    let gw = start_gateway(Gw::V0_1, state.path(), |c| {
        c.faults.drop_exec_after = Some(12);
        c.stats = stats.clone();
    })
    .await;
    let b = connect(gw.addr, SessionChannel::Auto).await;
    let sb = sandbox(&b).await;
    let path = format!("{}/kept", sb.workdir);
    write(&b, &sb, &path, b"still here").await.unwrap();
    let before = stats.execs();
    for _ in 0..40 {
        assert_eq!(b.open(&sb).stat(&path).await.unwrap().kind, FileKind::File);
        assert_eq!(read(&b, &sb, &path).await.unwrap(), b"still here");
    }
    // 80 operations with the stream dropping every few answers: the channel
    // was reopened (more than one exec) yet far fewer than one per call.
    let used = stats.execs() - before;
    assert!((2..80).contains(&used), "{used} execs");
    // A write either lands or says it may not have.
    for i in 0..10 {
        match write(&b, &sb, &format!("{}/w{i}", sb.workdir), b"x").await {
            Ok(size) => assert_eq!(size, 1),
            Err(e) => assert!(
                e.code == ErrorCode::Unavailable && e.to_string().contains("may or may not"),
                "unexpected error: {e}"
            ),
        }
    }
    b.delete(&sb.name).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_sandbox_closes_its_channel() {
    let state = tempfile::tempdir().unwrap();
    let gw = start_gateway(Gw::V0_1, state.path(), |_| {}).await;
    let b = connect(gw.addr, SessionChannel::Auto).await;
    let sb = sandbox(&b).await;
    write(&b, &sb, &format!("{}/a", sb.workdir), b"1").await.unwrap();
    b.delete(&sb.name).await.unwrap();
    // A new sandbox of the same name gets a new channel, not the old one.
    let mut spec = SandboxSpec::default().with_ready_timeout(Duration::from_secs(30));
    spec.name = Some(sb.name.clone());
    let again = b.create(&spec).await.unwrap();
    let e = b.open(&again).stat(&format!("{}/a", again.workdir)).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound, "{e}");
    write(&b, &again, &format!("{}/b", again.workdir), b"2").await.unwrap();
    assert_eq!(read(&b, &again, &format!("{}/b", again.workdir)).await.unwrap(), b"2");
    b.delete(&again.name).await.unwrap();
}
