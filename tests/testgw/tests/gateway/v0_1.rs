//! The 0.1.x generation, through a tonic client over real sockets.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use openshell_proto::v0_1::openshell::datamodel::v1 as dm;
use openshell_proto::v0_1::openshell::v1 as pb;
use openshell_testgw::Protocol;
use tonic::Code;
use tonic::transport::Channel;

use crate::common::{Event, Gw, Output, argv, assert_status, collect, eventually};

pub type Client = pb::open_shell_client::OpenShellClient<Channel>;

pub async fn client(gw: &Gw) -> Client {
    Client::new(gw.channel().await)
}

fn view(event: pb::ExecSandboxEvent) -> Event {
    use pb::exec_sandbox_event::Payload;
    match event.payload {
        Some(Payload::Stdout(o)) => Event::Stdout(o.data),
        Some(Payload::Stderr(e)) => Event::Stderr(e.data),
        Some(Payload::Exit(x)) => Event::Exit(x.exit_code),
        None => Event::Empty,
    }
}

fn phase(s: &pb::Sandbox) -> pb::SandboxPhase {
    s.status.as_ref().expect("status").phase()
}

fn default_scope() -> Option<dm::WorkspaceSelector> {
    Some(dm::WorkspaceSelector { selection: Some(dm::workspace_selector::Selection::Workspace("default".into())) })
}

pub async fn create(c: &mut Client, name: &str) -> pb::Sandbox {
    let req = pb::CreateSandboxRequest {
        spec: Some(pb::SandboxSpec::default()),
        name: name.into(),
        workspace_scope: default_scope(),
        ..Default::default()
    };
    c.create_sandbox(req).await.expect("create").into_inner().sandbox.expect("sandbox")
}

pub async fn wait_ready(c: &mut Client, name: &str) -> pb::Sandbox {
    eventually(Duration::from_secs(10), || {
        let mut c = c.clone();
        let name = name.to_string();
        async move {
            let s = c.get_sandbox(pb::GetSandboxRequest { name, workspace_scope: default_scope() }).await.ok()?;
            let s = s.into_inner().sandbox?;
            (phase(&s) == pb::SandboxPhase::Ready).then_some(s)
        }
    })
    .await
}

pub fn request(name: &str, words: &[&str]) -> pb::ExecSandboxRequest {
    pb::ExecSandboxRequest { sandbox: name.into(), command: argv(words), ..Default::default() }
}

pub async fn exec(c: &mut Client, req: pb::ExecSandboxRequest) -> Output {
    let stream = c.exec_sandbox(req).await.expect("exec starts").into_inner();
    collect(stream, view).await
}

#[tokio::test]
async fn lifecycle_and_exec_by_name() {
    let gw = Gw::start(Protocol::V0_1).await;
    let mut c = client(&gw).await;
    assert_eq!(c.health(pb::HealthRequest {}).await.unwrap().into_inner().version, "0.1.5");

    let req = pb::CreateSandboxRequest {
        spec: Some(pb::SandboxSpec {
            environment: BTreeMap::from([("SPEC_VAR".into(), "spec".into())]),
            ..Default::default()
        }),
        name: "w-box".into(),
        service_exposures: vec![pb::SandboxServiceExposure {
            service: "ui".into(),
            target_port: 3000,
            ..Default::default()
        }],
        ..Default::default()
    };
    let created = c.create_sandbox(req).await.unwrap().into_inner();
    let sandbox = created.sandbox.unwrap();
    assert_eq!(phase(&sandbox), pb::SandboxPhase::Provisioning);
    let meta = sandbox.metadata.unwrap();
    assert!(meta.created_time.unwrap().seconds > 1_600_000_000, "created_time #103 is set");
    assert_eq!(meta.workspace, "default");
    assert_eq!(created.service_urls.get("ui").map(String::as_str), Some("http://127.0.0.1:3000/"));

    // Exec before READY.
    let early = c.exec_sandbox(request("w-box", &["true"])).await.map(|_| ());
    assert_status(early, Code::FailedPrecondition, "sandbox is not ready");
    wait_ready(&mut c, "w-box").await;

    let mut req = request("w-box", &["sh", "-c", r#"echo "$A $SPEC_VAR"; cat"#]);
    req.environment = BTreeMap::from([("A".into(), "x y".into())]);
    req.stdin = b"in".to_vec();
    req.workspace_scope = default_scope();
    let out = exec(&mut c, req).await;
    assert_eq!((out.exit_ok(), out.stdout().as_str()), (0, "x y spec\nin"));

    assert_eq!(exec(&mut c, request("w-box", &["shopt", "-q", "login_shell"])).await.exit_ok(), 0);
    let mut req = request("w-box", &["shopt", "-q", "login_shell"]);
    req.no_login_shell = true;
    assert_eq!(exec(&mut c, req).await.exit_ok(), 1, "no_login_shell runs bash -c");

    let mut req = request("w-box", &["sleep", "5"]);
    req.execution_timeout = Some(prost_types::Duration { seconds: 1, nanos: 0 });
    let started = Instant::now();
    assert_eq!(exec(&mut c, req).await.exit_ok(), 124);
    assert!(started.elapsed() < Duration::from_secs(4));

    assert_eq!(exec(&mut c, request("w-box", &["false"])).await.exit_ok(), 1);
    gw.stop().await;
}

#[tokio::test]
async fn validation_and_workspaces() {
    let gw = Gw::start(Protocol::V0_1).await;
    let mut c = client(&gw).await;
    create(&mut c, "valid").await;
    wait_ready(&mut c, "valid").await;
    let err = |r: pb::ExecSandboxRequest| {
        let mut c = c.clone();
        async move { c.exec_sandbox(r).await.map(|_| ()) }
    };
    assert_status(err(request("", &["true"])).await, Code::InvalidArgument, "sandbox is required");
    assert_status(err(request("valid", &[])).await, Code::InvalidArgument, "command is required");
    assert_status(err(request("valid", &["printf", "a\rb"])).await, Code::InvalidArgument, "carriage return");
    assert_status(err(request("ghost", &["true"])).await, Code::NotFound, "sandbox not found");
    let mut req = request("valid", &["true"]);
    req.workspace_scope =
        Some(dm::WorkspaceSelector { selection: Some(dm::workspace_selector::Selection::Workspace("team".into())) });
    assert_status(err(req.clone()).await, Code::NotFound, "workspace 'team' not found");

    let mut admin = c.clone();
    admin.create_workspace(pb::CreateWorkspaceRequest { name: "team".into(), ..Default::default() }).await.unwrap();
    assert_status(err(req).await, Code::NotFound, "sandbox not found");
    let listed = admin.list_workspaces(pb::ListWorkspacesRequest::default()).await.unwrap().into_inner();
    let names: Vec<_> = listed.workspaces.into_iter().map(|w| w.metadata.unwrap().name).collect();
    assert_eq!(names, ["default", "team"]);
    gw.stop().await;
}

#[tokio::test]
async fn delete_outcomes() {
    let gw = Gw::start(Protocol::V0_1).await;
    let mut c = client(&gw).await;
    let id = create(&mut c, "gone").await.metadata.unwrap().id;
    let delete = |allow_missing| pb::DeleteSandboxRequest { name: "gone".into(), allow_missing, ..Default::default() };
    let first = c.delete_sandbox(delete(false)).await.unwrap().into_inner();
    assert_eq!((first.outcome(), first.sandbox_id.as_str()), (pb::DeletionOutcome::Completed, id.as_str()));
    eventually(Duration::from_secs(5), || {
        let mut c = c.clone();
        async move {
            let r = c.get_sandbox(pb::GetSandboxRequest { name: "gone".into(), ..Default::default() }).await;
            matches!(r, Err(s) if s.code() == Code::NotFound).then_some(())
        }
    })
    .await;
    let absent = c.delete_sandbox(delete(true)).await.unwrap().into_inner();
    assert_eq!(absent.outcome(), pb::DeletionOutcome::AlreadyAbsent);
    assert_status(c.delete_sandbox(delete(false)).await, Code::NotFound, "sandbox not found");
    gw.stop().await;
}

#[tokio::test]
async fn list_pages_with_tokens() {
    let gw = Gw::start(Protocol::V0_1).await;
    let mut c = client(&gw).await;
    for name in ["p-1", "p-2", "p-3"] {
        let req = pb::CreateSandboxRequest {
            spec: Some(Default::default()),
            name: name.into(),
            labels: BTreeMap::from([("kind".into(), "page".into())]),
            ..Default::default()
        };
        c.create_sandbox(req).await.unwrap();
    }
    create(&mut c, "other").await;
    let list = |page_token: String| pb::ListSandboxesRequest {
        page_size: 2,
        page_token,
        label_selector: "kind=page".into(),
        ..Default::default()
    };
    let first = c.list_sandboxes(list(String::new())).await.unwrap().into_inner();
    assert_eq!(first.sandboxes.len(), 2);
    assert!(!first.next_page_token.is_empty());
    let second = c.list_sandboxes(list(first.next_page_token)).await.unwrap().into_inner();
    let names: Vec<_> = second.sandboxes.into_iter().map(|s| s.metadata.unwrap().name).collect();
    assert_eq!(names, ["p-3"]);
    assert!(second.next_page_token.is_empty());
    assert_status(c.list_sandboxes(list("garbage".into())).await, Code::InvalidArgument, "page_token");
    gw.stop().await;
}

fn start(words: &[&str], tty: bool, cols: u32, rows: u32) -> pb::ExecSandboxInput {
    let mut req = request("term", words);
    (req.tty, req.cols, req.rows) = (tty, cols, rows);
    pb::ExecSandboxInput { payload: Some(pb::exec_sandbox_input::Payload::Start(req)) }
}

fn frame(payload: pb::exec_sandbox_input::Payload) -> pb::ExecSandboxInput {
    pb::ExecSandboxInput { payload: Some(payload) }
}

#[tokio::test]
async fn interactive_tty_resize_and_half_close() {
    use pb::exec_sandbox_input::Payload;
    let gw = Gw::start_with(Protocol::V0_1, |c| c.half_close_grace = Duration::from_secs(5)).await;
    let mut c = client(&gw).await;
    create(&mut c, "term").await;
    wait_ready(&mut c, "term").await;

    // Resize applies with a tty; the request stream stays open until the end.
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tx.send(start(&["sh", "-c", "stty size; read go; stty size"], true, 100, 30)).await.unwrap();
    let mut stream =
        c.exec_sandbox_interactive(tokio_stream::wrappers::ReceiverStream::new(rx)).await.unwrap().into_inner();
    let mut before = String::new();
    while !before.contains("30 100") {
        match view(stream.message().await.unwrap().expect("output before the resize")) {
            Event::Stdout(data) => before.push_str(&String::from_utf8_lossy(&data)),
            _ => panic!("unexpected event before the resize"),
        }
    }
    tx.send(frame(Payload::Resize(pb::ExecSandboxWindowResize { cols: 120, rows: 40 }))).await.unwrap();
    tx.send(frame(Payload::Stdin(b"go\n".to_vec()))).await.unwrap();
    let out = collect(stream, view).await;
    drop(tx);
    assert_eq!(out.exit_ok(), 0);
    assert!(out.stdout().contains("40 120"), "{:?}", out.stdout());

    // Half-closing the request stream closes stdin: `cat` ends and, within
    // the configured grace, its output and exit still arrive.
    let frames = vec![start(&["cat"], false, 0, 0), frame(Payload::Stdin(b"echoed".to_vec()))];
    let stream = c.exec_sandbox_interactive(tokio_stream::iter(frames)).await.unwrap();
    let out = collect(stream.into_inner(), view).await;
    assert_eq!((out.exit_ok(), out.stdout().as_str()), (0, "echoed"));
    gw.stop().await;
}

#[tokio::test]
async fn half_close_cuts_a_command_that_keeps_running() {
    let gw = Gw::start_with(Protocol::V0_1, |c| c.half_close_grace = Duration::from_millis(100)).await;
    let mut c = client(&gw).await;
    create(&mut c, "term").await;
    wait_ready(&mut c, "term").await;
    let started = Instant::now();
    let stream = c.exec_sandbox_interactive(tokio_stream::iter(vec![start(&["sleep", "5"], false, 0, 0)])).await;
    let out = collect(stream.unwrap().into_inner(), view).await;
    assert_status(out.end, Code::Unavailable, "exec relay closed before the command reported an exit status");
    assert!(started.elapsed() < Duration::from_secs(3));
    gw.stop().await;
}

#[tokio::test]
async fn watch_by_name_with_cursor() {
    use futures::StreamExt as _;
    let gw = Gw::start(Protocol::V0_1).await;
    let mut c = client(&gw).await;
    create(&mut c, "seen").await;
    let req = pb::WatchSandboxRequest {
        sandbox: "seen".into(),
        follow_status: true,
        stop_on_terminal: true,
        ..Default::default()
    };
    let events: Vec<pb::SandboxStreamEvent> =
        c.watch_sandbox(req).await.unwrap().into_inner().map(|e| e.expect("event")).collect().await;
    assert!(events.iter().all(|e| !e.cursor.is_empty()));
    let last = match &events.last().unwrap().payload {
        Some(pb::sandbox_stream_event::Payload::Sandbox(s)) => phase(s),
        other => panic!("{other:?}"),
    };
    assert_eq!(last, pb::SandboxPhase::Ready);
    let missing = pb::WatchSandboxRequest { sandbox: String::new(), ..Default::default() };
    assert_status(c.watch_sandbox(missing).await.map(|_| ()), Code::InvalidArgument, "sandbox is required");
    gw.stop().await;
}

#[tokio::test]
async fn policy_by_name_and_services() {
    use openshell_proto::v0_1::openshell::sandbox::v1 as sb;
    let gw = Gw::start(Protocol::V0_1).await;
    let mut c = client(&gw).await;
    create(&mut c, "cfg").await;
    wait_ready(&mut c, "cfg").await;
    let policy = sb::SandboxPolicy {
        network_policies: BTreeMap::from([(
            "api".into(),
            sb::NetworkPolicyRule {
                name: "api".into(),
                endpoints: vec![sb::NetworkEndpoint {
                    host: "api.example.com".into(),
                    port: 443,
                    tls: sb::NetworkTlsMode::Terminate.into(),
                    ..Default::default()
                }],
                binaries: vec![],
            },
        )]),
        ..Default::default()
    };
    let update = pb::UpdateConfigRequest { sandbox: "cfg".into(), policy: Some(policy), ..Default::default() };
    assert_eq!(c.update_config(update).await.unwrap().into_inner().version, 1);
    let status = pb::GetSandboxPolicyStatusRequest { sandbox: "cfg".into(), ..Default::default() };
    let status = c.get_sandbox_policy_status(status).await.unwrap().into_inner();
    assert_eq!((status.revision.unwrap().status(), status.active_version), (pb::PolicyStatus::Loaded, 1));
    let config = c.get_sandbox_config(sb::GetSandboxConfigRequest { name: "cfg".into(), ..Default::default() });
    let config = config.await.unwrap().into_inner();
    let endpoint = &config.policy.unwrap().network_policies["api"].endpoints[0];
    assert_eq!(endpoint.tls(), sb::NetworkTlsMode::Terminate);

    let setting = pb::UpdateConfigRequest {
        sandbox: "cfg".into(),
        setting_key: "log_level".into(),
        setting_value: Some(sb::SettingValue { value: Some(sb::setting_value::Value::StringValue("debug".into())) }),
        ..Default::default()
    };
    assert_eq!(c.update_config(setting).await.unwrap().into_inner().settings_revision, 1);

    let expose =
        pb::ExposeServiceRequest { sandbox: "cfg".into(), name: "svc".into(), target_port: 9000, ..Default::default() };
    c.expose_service(expose).await.unwrap();
    let delete = |allow_missing| pb::DeleteServiceRequest {
        sandbox: "cfg".into(),
        name: "svc".into(),
        allow_missing,
        ..Default::default()
    };
    assert_eq!(c.delete_service(delete(false)).await.unwrap().into_inner().outcome(), pb::DeletionOutcome::Completed);
    let again = c.delete_service(delete(true)).await.unwrap().into_inner();
    assert_eq!(again.outcome(), pb::DeletionOutcome::AlreadyAbsent);
    gw.stop().await;
}
