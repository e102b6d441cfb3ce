//! Injected faults, authentication, restarts and shutdown.

use std::time::{Duration, Instant};

use openshell_proto::v0_0::openshell::v1 as pb;
use openshell_testgw::Protocol;
use tonic::Code;
use tonic::metadata::MetadataValue;

use crate::common::{Gw, assert_status, eventually};
use crate::v0_0::{client, create, exec, ready, request, wait_ready};

#[tokio::test]
async fn first_calls_answer_unavailable() {
    let gw = Gw::start_with(Protocol::V0_0, |c| c.faults.unavailable_first = 2).await;
    let mut c = client(&gw).await;
    for _ in 0..2 {
        assert_status(c.health(pb::HealthRequest {}).await, Code::Unavailable, "warming up");
    }
    assert!(c.health(pb::HealthRequest {}).await.is_ok());
    gw.stop().await;
}

#[tokio::test]
async fn delay_applies_to_every_call() {
    let gw = Gw::start_with(Protocol::V0_0, |c| c.faults.delay = Duration::from_millis(150)).await;
    let mut c = client(&gw).await;
    let started = Instant::now();
    c.health(pb::HealthRequest {}).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
    gw.stop().await;
}

#[tokio::test]
async fn exec_relay_drops_after_n_events() {
    let gw = Gw::start_with(Protocol::V0_0, |c| c.faults.drop_exec_after = Some(1)).await;
    let mut c = client(&gw).await;
    let id = ready(&mut c, "flaky").await;
    let out = exec(&mut c, request(&id, &["sh", "-c", "echo one; sleep 0.2; echo two"])).await;
    assert_eq!(out.stdout(), "one\n");
    assert_eq!(out.exit, None);
    assert_status(out.end, Code::Unavailable, "exec relay closed before the command reported an exit status");
    gw.stop().await;
}

#[tokio::test]
async fn never_ready_stays_provisioning() {
    let gw = Gw::start_with(Protocol::V0_0, |c| c.faults.never_ready = true).await;
    let mut c = client(&gw).await;
    let id = create(&mut c, "stuck").await.metadata.unwrap().id;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let get = pb::GetSandboxRequest { name: "stuck".into(), ..Default::default() };
    let s = c.get_sandbox(get).await.unwrap().into_inner().sandbox.unwrap();
    assert_eq!(s.status.unwrap().phase(), pb::SandboxPhase::Provisioning);
    let early = c.exec_sandbox(request(&id, &["true"])).await.map(|_| ());
    assert_status(early, Code::FailedPrecondition, "sandbox is not ready");
    gw.stop().await;
}

#[tokio::test]
async fn ready_sandboxes_fail_after_error_after() {
    let gw = Gw::start_with(Protocol::V0_0, |c| c.faults.error_after = Some(Duration::from_millis(300))).await;
    let mut c = client(&gw).await;
    let id = ready(&mut c, "mortal").await;
    let failed = eventually(Duration::from_secs(5), || {
        let mut c = c.clone();
        async move {
            let get = pb::GetSandboxRequest { name: "mortal".into(), ..Default::default() };
            let s = c.get_sandbox(get).await.ok()?.into_inner().sandbox?;
            let status = s.status?;
            (status.phase() == pb::SandboxPhase::Error).then_some(status)
        }
    })
    .await;
    assert_eq!(failed.exit_code, Some(1));
    let ready = &failed.conditions[0];
    assert_eq!((ready.r#type.as_str(), ready.status.as_str()), ("Ready", "False"));
    assert_eq!(ready.reason, "MainProcessExited");
    let exec = c.exec_sandbox(request(&id, &["true"])).await.map(|_| ());
    assert_status(exec, Code::FailedPrecondition, "sandbox is not ready");
    gw.stop().await;
}

#[tokio::test]
async fn bearer_token_required_except_for_health() {
    let gw = Gw::start_with(Protocol::V0_0, |c| c.bearer_token = Some("s3cret".into())).await;
    let mut anonymous = client(&gw).await;
    assert!(anonymous.health(pb::HealthRequest {}).await.is_ok());
    let list = anonymous.list_sandboxes(pb::ListSandboxesRequest::default()).await;
    assert_status(list, Code::Unauthenticated, "missing authorization header");
    // Unknown methods are authenticated first, as on the real gateway.
    let logs = anonymous.get_sandbox_logs(pb::GetSandboxLogsRequest::default()).await;
    assert_status(logs, Code::Unauthenticated, "missing authorization header");

    let token = |value: &'static str| {
        move |mut req: tonic::Request<()>| {
            req.metadata_mut().insert("authorization", MetadataValue::from_static(value));
            Ok(req)
        }
    };
    let mut wrong = pb::open_shell_client::OpenShellClient::with_interceptor(gw.channel().await, token("Bearer nope"));
    let list = wrong.list_sandboxes(pb::ListSandboxesRequest::default()).await;
    assert_status(list, Code::Unauthenticated, "invalid");
    let mut right =
        pb::open_shell_client::OpenShellClient::with_interceptor(gw.channel().await, token("Bearer s3cret"));
    assert!(right.list_sandboxes(pb::ListSandboxesRequest::default()).await.is_ok());
    let logs = right.get_sandbox_logs(pb::GetSandboxLogsRequest::default()).await;
    assert_status(logs, Code::Unimplemented, "");
    gw.stop().await;
}

#[tokio::test]
async fn restart_on_the_same_state_dir_keeps_sandboxes() {
    let state = tempfile::tempdir().unwrap();
    let gw = Gw::start_in(Protocol::V0_0, state.path().to_path_buf(), |_| {}).await;
    let mut c = client(&gw).await;
    let id = ready(&mut c, "durable").await;
    exec(&mut c, request(&id, &["sh", "-c", "echo kept > note.txt"])).await.exit_ok();
    create(&mut c, "pending").await;
    gw.stop().await;

    let gw = Gw::start_in(Protocol::V0_0, state.path().to_path_buf(), |_| {}).await;
    let mut c = client(&gw).await;
    let get = pb::GetSandboxRequest { name: "durable".into(), ..Default::default() };
    let s = c.get_sandbox(get).await.unwrap().into_inner().sandbox.unwrap();
    assert_eq!(s.metadata.unwrap().id, id);
    assert_eq!(s.status.unwrap().phase(), pb::SandboxPhase::Ready);
    assert_eq!(exec(&mut c, request(&id, &["cat", "note.txt"])).await.stdout(), "kept\n");
    // A sandbox still provisioning when the gateway died comes up later.
    wait_ready(&mut c, "pending").await;
    gw.stop().await;
}

#[tokio::test]
async fn shutdown_ends_open_exec_streams() {
    let gw = Gw::start(Protocol::V0_0).await;
    let mut c = client(&gw).await;
    let id = ready(&mut c, "longrun").await;
    let mut stream = c.exec_sandbox(request(&id, &["sleep", "60"])).await.unwrap().into_inner();
    let stopped = Instant::now();
    let (end, ()) = tokio::join!(stream.message(), gw.stop());
    assert!(stopped.elapsed() < Duration::from_secs(5), "shutdown took {:?}", stopped.elapsed());
    assert_status(end, Code::Unavailable, "shutting down");
}

#[tokio::test]
async fn exec_setup_cost_is_paid_per_exec() {
    let gw = Gw::start_with(Protocol::V0_0, |c| c.exec_setup_cost = Duration::from_millis(150)).await;
    let mut c = client(&gw).await;
    let id = ready(&mut c, "costly").await;
    let started = Instant::now();
    exec(&mut c, request(&id, &["true"])).await.exit_ok();
    assert!(started.elapsed() >= Duration::from_millis(150));
    gw.stop().await;
}

/// An interactive exec `cat` fed `frames` on a request stream kept open
/// until the response ends (so only the fault, never a half-close, can end
/// it), bounded by 20 s.
async fn interactive_cat(gw: &Gw, id: &str, frames: &[&[u8]]) -> crate::common::Output {
    use pb::exec_sandbox_input::Payload;
    let mut c = client(gw).await;
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tx.send(pb::ExecSandboxInput { payload: Some(Payload::Start(request(id, &["cat"]))) }).await.unwrap();
    for data in frames {
        tx.send(pb::ExecSandboxInput { payload: Some(Payload::Stdin(data.to_vec())) }).await.unwrap();
    }
    let stream = c.exec_sandbox_interactive(tokio_stream::wrappers::ReceiverStream::new(rx)).await.unwrap();
    let out =
        tokio::time::timeout(Duration::from_secs(20), crate::common::collect(stream.into_inner(), crate::v0_0::view))
            .await
            .expect("the stream ends (no hang)");
    drop(tx);
    out
}

#[tokio::test]
async fn interactive_exec_relay_drops_after_n_input_bytes() {
    let gw = Gw::start_with(Protocol::V0_0, |c| c.faults.drop_exec_after_input = Some(10)).await;
    let mut c = client(&gw).await;
    let id = ready(&mut c, "upload").await;
    // 5 + 7 bytes: the second frame crosses the limit and is not delivered.
    let out = interactive_cat(&gw, &id, &[b"hello", b"world!!"]).await;
    assert_eq!(out.exit, None, "the command never reports an exit: {:?}", out.stdout());
    assert!(!out.stdout().contains("world"), "the frame over the limit reached the command: {:?}", out.stdout());
    assert_status(out.end, Code::Unavailable, "exec relay closed before the command reported an exit status");
    // Plain exec stdin is not an upload through the relay: not counted.
    let mut req = request(&id, &["wc", "-c"]);
    req.stdin = vec![b'x'; 100];
    assert_eq!(exec(&mut c, req).await.stdout().trim(), "100");
    gw.stop().await;
}

#[tokio::test]
async fn running_execs_end_when_the_sandbox_errors_only_under_error_ends_execs() {
    for ends in [false, true] {
        let gw = Gw::start_with(Protocol::V0_0, |c| {
            c.faults.error_after = Some(Duration::from_millis(500));
            c.faults.error_ends_execs = ends;
        })
        .await;
        let mut c = client(&gw).await;
        let id = ready(&mut c, "dying").await;
        let started = Instant::now();
        let out = exec(&mut c, request(&id, &["sh", "-c", "sleep 2; echo survived"])).await;
        if ends {
            assert_eq!(out.exit, None, "{:?}", out.stdout());
            assert_status(out.end, Code::Unavailable, "exec relay closed");
            assert!(
                started.elapsed() < Duration::from_millis(1900),
                "cut at ERROR, not at the end: {:?}",
                started.elapsed()
            );
        } else {
            // The default: a command already running outlives the phase change.
            assert_eq!((out.exit_ok(), out.stdout().as_str()), (0, "survived\n"));
        }
        gw.stop().await;
    }
}

#[tokio::test]
async fn a_killed_instance_cuts_streams_and_restarts_on_the_same_port() {
    let state = tempfile::tempdir().unwrap();
    let config = openshell_testgw::Config::new(Protocol::V0_0, state.path());
    let gw = openshell_testgw::Instance::start("127.0.0.1:0".parse().unwrap(), config.clone()).await.unwrap();
    let addr = gw.addr();
    let url = format!("http://{addr}");
    let mut c = pb::open_shell_client::OpenShellClient::connect(url.clone()).await.unwrap();
    let id = ready(&mut c, "survivor").await;
    exec(&mut c, request(&id, &["sh", "-c", "echo kept > note.txt"])).await.exit_ok();
    let mut long = c.exec_sandbox(request(&id, &["sleep", "60"])).await.unwrap().into_inner();
    gw.kill();
    let end = tokio::time::timeout(Duration::from_secs(10), long.message()).await.expect("the stream ends at once");
    let status = end.expect_err("a killed gateway sends no exit");
    assert!(!status.message().contains("shutting down"), "a crash is not a polite shutdown: {status:?}");

    let gw = openshell_testgw::Instance::start(addr, config).await.unwrap();
    assert_eq!(gw.addr(), addr);
    let mut c = pb::open_shell_client::OpenShellClient::connect(url).await.unwrap();
    assert_eq!(exec(&mut c, request(&id, &["cat", "note.txt"])).await.stdout(), "kept\n");
    gw.stop().await.unwrap();
}
