//! The 0.0.x generation, through a tonic client over real sockets.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use openshell_proto::v0_0::openshell::sandbox::v1 as sb;
use openshell_proto::v0_0::openshell::v1 as pb;
use openshell_testgw::Protocol;
use tonic::Code;
use tonic::transport::Channel;

use crate::common::{Event, Gw, Output, argv, assert_status, collect, eventually};

pub type Client = pb::open_shell_client::OpenShellClient<Channel>;

pub async fn client(gw: &Gw) -> Client {
    Client::new(gw.channel().await)
}

pub fn view(event: pb::ExecSandboxEvent) -> Event {
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

fn id(s: &pb::Sandbox) -> String {
    s.metadata.as_ref().expect("metadata").id.clone()
}

pub async fn create(c: &mut Client, name: &str) -> pb::Sandbox {
    let req =
        pb::CreateSandboxRequest { spec: Some(pb::SandboxSpec::default()), name: name.into(), ..Default::default() };
    c.create_sandbox(req).await.expect("create").into_inner().sandbox.expect("sandbox")
}

pub async fn wait_ready(c: &mut Client, name: &str) -> pb::Sandbox {
    eventually(Duration::from_secs(10), || {
        let mut c = c.clone();
        let name = name.to_string();
        async move {
            let s = c.get_sandbox(pb::GetSandboxRequest { name, ..Default::default() }).await.ok()?;
            let s = s.into_inner().sandbox?;
            (phase(&s) == pb::SandboxPhase::Ready).then_some(s)
        }
    })
    .await
}

/// A READY sandbox; returns its id.
pub async fn ready(c: &mut Client, name: &str) -> String {
    create(c, name).await;
    id(&wait_ready(c, name).await)
}

pub fn request(id: &str, words: &[&str]) -> pb::ExecSandboxRequest {
    pb::ExecSandboxRequest { sandbox_id: id.into(), command: argv(words), ..Default::default() }
}

pub async fn exec(c: &mut Client, req: pb::ExecSandboxRequest) -> Output {
    let stream = c.exec_sandbox(req).await.expect("exec starts").into_inner();
    collect(stream, view).await
}

#[tokio::test]
async fn create_provisioning_then_ready() {
    let gw = Gw::start(Protocol::V0_0).await;
    let mut c = client(&gw).await;
    let health = c.health(pb::HealthRequest {}).await.unwrap().into_inner();
    assert_eq!(health.version, "0.0.116");
    assert_eq!(health.status(), pb::ServiceStatus::Healthy);

    let req = pb::CreateSandboxRequest {
        spec: Some(pb::SandboxSpec::default()),
        name: "box-one".into(),
        labels: BTreeMap::from([("team".into(), "a".into())]),
        ..Default::default()
    };
    let created = c.create_sandbox(req.clone()).await.unwrap().into_inner().sandbox.unwrap();
    assert_eq!(phase(&created), pb::SandboxPhase::Provisioning);
    let meta = created.metadata.clone().unwrap();
    assert_eq!(meta.id.len(), 36, "UUID-shaped id: {}", meta.id);
    assert!(meta.created_at_ms > 0);
    assert_eq!(meta.workspace, "default");
    assert_eq!(meta.labels.get("team").map(String::as_str), Some("a"));
    let spec = created.spec.clone().unwrap();
    assert_eq!(spec.command, ["/bin/bash", "-l"], "default command");
    assert!(spec.tty);
    let waiting = &created.status.as_ref().unwrap().conditions[0];
    assert_eq!((waiting.status.as_str(), waiting.reason.as_str()), ("False", "SupervisorNotConnected"));

    let ready = wait_ready(&mut c, "box-one").await;
    assert_eq!(id(&ready), meta.id);
    assert_eq!(ready.status.unwrap().conditions[0].status, "True");

    assert_status(c.create_sandbox(req).await, Code::AlreadyExists, "sandbox 'box-one' already exists");
    let no_spec = pb::CreateSandboxRequest { name: "x".into(), ..Default::default() };
    assert_status(c.create_sandbox(no_spec).await, Code::InvalidArgument, "spec is required");
    for bad in ["Upper", "this-name-is-too-long", "a--b"] {
        let req = pb::CreateSandboxRequest { spec: Some(Default::default()), name: bad.into(), ..Default::default() };
        assert_status(c.create_sandbox(req).await, Code::InvalidArgument, "invalid name");
    }
    let generated = create(&mut c, "").await.metadata.unwrap().name;
    assert!(generated.len() <= 19 && generated.contains('-'), "petname: {generated}");

    assert_status(c.get_sandbox(pb::GetSandboxRequest::default()).await, Code::InvalidArgument, "name is required");
    let missing = pb::GetSandboxRequest { name: "nope".into(), ..Default::default() };
    assert_status(c.get_sandbox(missing).await, Code::NotFound, "sandbox not found");
    let elsewhere = pb::GetSandboxRequest { name: "box-one".into(), workspace: "other".into() };
    assert_status(c.get_sandbox(elsewhere).await, Code::NotFound, "workspace 'other' not found");
    gw.stop().await;
}

#[tokio::test]
async fn exec_output_env_workdir_stdin_and_exit_codes() {
    let gw = Gw::start(Protocol::V0_0).await;
    let mut c = client(&gw).await;
    let create = pb::CreateSandboxRequest {
        spec: Some(pb::SandboxSpec {
            environment: BTreeMap::from([("SPEC_VAR".into(), "from-spec".into())]),
            ..Default::default()
        }),
        name: "exec".into(),
        ..Default::default()
    };
    c.create_sandbox(create).await.unwrap();
    let id = id(&wait_ready(&mut c, "exec").await);

    let out = exec(&mut c, request(&id, &["echo", "hello"])).await;
    assert_eq!((out.exit_ok(), out.stdout().as_str()), (0, "hello\n"));

    let mut req = request(&id, &["sh", "-c", r#"echo "$GREETING|$SPEC_VAR|$(pwd)|$(id -u)""#]);
    req.environment = BTreeMap::from([("GREETING".into(), "it's a 'quoted' value".into())]);
    let out = exec(&mut c, req).await;
    assert_eq!(out.exit_ok(), 0, "stderr: {}", out.stderr());
    assert_eq!(out.stdout(), "it's a 'quoted' value|from-spec|/sandbox|1000\n");

    exec(&mut c, request(&id, &["mkdir", "-p", "sub dir"])).await.exit_ok();
    let mut req = request(&id, &["pwd"]);
    req.workdir = "/sandbox/sub dir".into();
    assert_eq!(exec(&mut c, req).await.stdout(), "/sandbox/sub dir\n");

    let mut req = request(&id, &["cat"]);
    req.stdin = b"piped input".to_vec();
    assert_eq!(exec(&mut c, req).await.stdout(), "piped input");
    // Without stdin the command still sees EOF at once.
    let out = exec(&mut c, request(&id, &["cat"])).await;
    assert_eq!((out.exit_ok(), out.stdout.len()), (0, 0));

    assert_eq!(exec(&mut c, request(&id, &["sh", "-c", "exit 3"])).await.exit_ok(), 3);
    let out = exec(&mut c, request(&id, &["no-such-program"])).await;
    assert_eq!(out.exit_ok(), 127);
    assert!(out.stderr().contains("no-such-program"), "bash explains: {}", out.stderr());
    let out = exec(&mut c, request(&id, &["sh", "-c", "echo out; echo err >&2"])).await;
    assert_eq!((out.stdout().as_str(), out.stderr().as_str()), ("out\n", "err\n"));
    // The command string runs in a login shell (`bash -lc`).
    assert_eq!(exec(&mut c, request(&id, &["shopt", "-q", "login_shell"])).await.exit_ok(), 0);
    gw.stop().await;
}

#[tokio::test]
async fn timeout_is_exit_124_and_ok() {
    let gw = Gw::start(Protocol::V0_0).await;
    let mut c = client(&gw).await;
    let id = ready(&mut c, "slow").await;
    let mut req = request(&id, &["sh", "-c", "echo started; sleep 5; echo never"]);
    req.timeout_seconds = 1;
    let started = Instant::now();
    let out = exec(&mut c, req).await;
    assert_eq!(out.exit_ok(), 124);
    assert_eq!(out.stdout(), "started\n");
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    gw.stop().await;
}

#[tokio::test]
async fn output_arrives_in_events_of_at_most_4096_bytes() {
    let gw = Gw::start(Protocol::V0_0).await;
    let mut c = client(&gw).await;
    let id = ready(&mut c, "big").await;
    let out = exec(&mut c, request(&id, &["sh", "-c", "yes abcdefg | head -c 300000"])).await;
    assert_eq!(out.exit_ok(), 0);
    assert_eq!(out.stdout.len(), 300_000);
    assert!(out.chunks.iter().all(|n| *n <= 4096 && *n > 0), "chunk sizes {:?}", out.chunks);
    assert!(out.chunks.len() >= 300_000 / 4096, "{} events", out.chunks.len());
    gw.stop().await;
}

#[tokio::test]
async fn exec_validation_in_the_gateway_order() {
    let gw = Gw::start_with(Protocol::V0_0, |c| c.ready_delay = Duration::from_secs(30)).await;
    let mut c = client(&gw).await;
    let id = id(&create(&mut c, "early").await);

    let code = |r: pb::ExecSandboxRequest| {
        let mut c = c.clone();
        async move { c.exec_sandbox(r).await.map(|_| ()) }
    };
    assert_status(code(request("", &["true"])).await, Code::InvalidArgument, "sandbox_id is required");
    assert_status(code(request("", &[])).await, Code::InvalidArgument, "sandbox_id is required");
    assert_status(code(request(&id, &[])).await, Code::InvalidArgument, "command is required");
    assert_status(code(request(&id, &["echo", "a\nb"])).await, Code::InvalidArgument, "newline");
    let mut req = request(&id, &["true"]);
    req.environment = BTreeMap::from([("OPENSHELL_TOKEN".into(), "x".into())]);
    assert_status(code(req).await, Code::InvalidArgument, "reserved");
    let mut req = request(&id, &["true"]);
    req.environment = BTreeMap::from([("1BAD".into(), "x".into())]);
    assert_status(code(req).await, Code::InvalidArgument, "is invalid");
    let mut req = request(&id, &["true"]);
    req.workdir = "/tmp\n".into();
    assert_status(code(req).await, Code::InvalidArgument, "workdir");
    // Validation comes before the lookup...
    assert_status(code(request("unknown-id", &[])).await, Code::InvalidArgument, "command is required");
    // ...which comes before the phase check.
    assert_status(code(request("unknown-id", &["true"])).await, Code::NotFound, "sandbox not found");
    let mut req = request(&id, &["true"]);
    req.environment = BTreeMap::from([("OPENSHELL_PYFUNC_B64".into(), "x".into())]);
    assert_status(code(req).await, Code::FailedPrecondition, "sandbox is not ready");
    let huge = "x".repeat(30 * 1024);
    let words: Vec<&str> = std::iter::repeat_n(huge.as_str(), 9).collect();
    assert_status(code(request(&id, &words)).await, Code::FailedPrecondition, "sandbox is not ready");
    gw.stop().await;
}

#[tokio::test]
async fn command_string_limit_and_inbound_message_limit() {
    let gw = Gw::start(Protocol::V0_0).await;
    let mut c = client(&gw).await;
    let id = ready(&mut c, "limits").await;
    let huge = "x".repeat(30 * 1024);
    let words: Vec<&str> = std::iter::repeat_n(huge.as_str(), 9).collect();
    let too_long = c.exec_sandbox(request(&id, &words)).await.map(|_| ());
    assert_status(too_long, Code::InvalidArgument, "command construction failed");

    let mut req = request(&id, &["wc", "-c"]);
    req.stdin = vec![b'a'; 1000 * 1024];
    assert_eq!(exec(&mut c, req).await.stdout().trim(), "1024000");
    let mut req = request(&id, &["wc", "-c"]);
    req.stdin = vec![b'a'; 2 * 1024 * 1024];
    assert_status(c.exec_sandbox(req).await.map(|_| ()), Code::OutOfRange, "decoded message length too large");
    gw.stop().await;
}

fn start(id: &str, words: &[&str], tty: bool) -> pb::ExecSandboxInput {
    let mut req = request(id, words);
    req.tty = tty;
    req.stdin = b"ignored start stdin\n".to_vec();
    pb::ExecSandboxInput { payload: Some(pb::exec_sandbox_input::Payload::Start(req)) }
}

fn stdin(data: &[u8]) -> pb::ExecSandboxInput {
    pb::ExecSandboxInput { payload: Some(pb::exec_sandbox_input::Payload::Stdin(data.to_vec())) }
}

/// Runs an interactive exec: sends `frames` after `first`, keeps the
/// request stream open until the response ends, and collects the output.
async fn interactive(c: &mut Client, first: pb::ExecSandboxInput, frames: Vec<pb::ExecSandboxInput>) -> Output {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tx.send(first).await.unwrap();
    for f in frames {
        tx.send(f).await.unwrap();
    }
    let stream = c.exec_sandbox_interactive(tokio_stream::wrappers::ReceiverStream::new(rx)).await.unwrap();
    let out = collect(stream.into_inner(), view).await;
    drop(tx);
    out
}

#[tokio::test]
async fn interactive_exec_with_stdin_frames_and_tty() {
    let gw = Gw::start(Protocol::V0_0).await;
    let mut c = client(&gw).await;
    let id = ready(&mut c, "inter").await;

    let first = start(&id, &["sh", "-c", "read line; echo got:$line"], false);
    let out = interactive(&mut c, first, vec![stdin(b"hel"), stdin(b"lo\n")]).await;
    assert_eq!((out.exit_ok(), out.stdout().as_str()), (0, "got:hello\n"));

    let probe = "if [ -t 0 ]; then echo tty; else echo notty; fi";
    let out = interactive(&mut c, start(&id, &["sh", "-c", probe], true), vec![]).await;
    assert!(out.stdout().contains("tty") && !out.stdout().contains("notty"), "{:?}", out.stdout());
    let out = interactive(&mut c, start(&id, &["sh", "-c", probe], false), vec![]).await;
    assert_eq!(out.stdout(), "notty\n");

    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(stdin(b"x")).await.unwrap();
    let first_not_start = c.exec_sandbox_interactive(tokio_stream::wrappers::ReceiverStream::new(rx)).await;
    assert_status(first_not_start.map(|_| ()), Code::InvalidArgument, "first message must be a start payload");
    drop(tx);
    let empty = c.exec_sandbox_interactive(tokio_stream::iter(Vec::<pb::ExecSandboxInput>::new())).await;
    assert_status(empty.map(|_| ()), Code::InvalidArgument, "empty stream: expected start message");
    gw.stop().await;
}

#[tokio::test]
async fn delete_then_not_found() {
    let gw = Gw::start(Protocol::V0_0).await;
    let mut c = client(&gw).await;
    let id = ready(&mut c, "doomed").await;
    let del = pb::DeleteSandboxRequest { name: "doomed".into(), ..Default::default() };
    assert!(c.delete_sandbox(del.clone()).await.unwrap().into_inner().deleted);
    eventually(Duration::from_secs(5), || {
        let mut c = c.clone();
        async move {
            let r = c.get_sandbox(pb::GetSandboxRequest { name: "doomed".into(), ..Default::default() }).await;
            match r {
                Err(s) if s.code() == Code::NotFound => Some(()),
                Ok(s) => {
                    assert_eq!(phase(&s.into_inner().sandbox.unwrap()), pb::SandboxPhase::Deleting);
                    None
                }
                Err(other) => panic!("{other:?}"),
            }
        }
    })
    .await;
    assert_status(c.delete_sandbox(del).await, Code::NotFound, "sandbox not found");
    assert_status(c.exec_sandbox(request(&id, &["true"])).await.map(|_| ()), Code::NotFound, "sandbox not found");
    gw.stop().await;
}

#[tokio::test]
async fn list_with_label_selector_and_paging() {
    let gw = Gw::start(Protocol::V0_0).await;
    let mut c = client(&gw).await;
    for (name, team) in [("l-a", "red"), ("l-b", "blue"), ("l-c", "red")] {
        let req = pb::CreateSandboxRequest {
            spec: Some(Default::default()),
            name: name.into(),
            labels: BTreeMap::from([("team".into(), team.into()), ("owner".into(), "me".into())]),
            ..Default::default()
        };
        c.create_sandbox(req).await.unwrap();
    }
    let names = |r: pb::ListSandboxesResponse| -> Vec<String> {
        r.sandboxes.into_iter().map(|s| s.metadata.unwrap().name).collect()
    };
    let list = |selector: &str, limit, offset| pb::ListSandboxesRequest {
        label_selector: selector.into(),
        limit,
        offset,
        ..Default::default()
    };
    assert_eq!(names(c.list_sandboxes(list("", 0, 0)).await.unwrap().into_inner()), ["l-a", "l-b", "l-c"]);
    assert_eq!(names(c.list_sandboxes(list("team=red", 0, 0)).await.unwrap().into_inner()), ["l-a", "l-c"]);
    assert_eq!(names(c.list_sandboxes(list("team=red,owner=me", 1, 1)).await.unwrap().into_inner()), ["l-c"]);
    assert!(names(c.list_sandboxes(list("team=green", 0, 0)).await.unwrap().into_inner()).is_empty());
    assert_status(c.list_sandboxes(list("team", 0, 0)).await, Code::InvalidArgument, "label selector");
    gw.stop().await;
}

#[tokio::test]
async fn watch_follows_status_until_ready_and_ends_on_delete() {
    use futures::StreamExt as _;
    let gw = Gw::start(Protocol::V0_0).await;
    let mut c = client(&gw).await;
    let id = id(&create(&mut c, "watched").await);
    let watch = |stop_on_terminal| pb::WatchSandboxRequest {
        id: id.clone(),
        follow_status: true,
        stop_on_terminal,
        ..Default::default()
    };
    let stream = c.watch_sandbox(watch(true)).await.unwrap().into_inner();
    let phases: Vec<pb::SandboxPhase> = stream
        .map(|e| match e.expect("watch event").payload {
            Some(pb::sandbox_stream_event::Payload::Sandbox(s)) => phase(&s),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
        .await;
    assert_eq!(phases.first(), Some(&pb::SandboxPhase::Provisioning));
    assert_eq!(phases.last(), Some(&pb::SandboxPhase::Ready));

    let mut stream = c.watch_sandbox(watch(false)).await.unwrap().into_inner();
    assert!(stream.next().await.unwrap().is_ok(), "snapshot at once");
    c.delete_sandbox(pb::DeleteSandboxRequest { name: "watched".into(), ..Default::default() }).await.unwrap();
    let rest: Vec<_> = tokio::time::timeout(Duration::from_secs(5), stream.collect::<Vec<_>>()).await.unwrap();
    assert!(rest.iter().all(Result::is_ok), "ends OK on deletion: {rest:?}");

    let unknown = pb::WatchSandboxRequest { id: "nope".into(), ..Default::default() };
    assert_status(c.watch_sandbox(unknown).await.map(|_| ()), Code::NotFound, "sandbox not found");
    gw.stop().await;
}

fn rule(host: &str, port: u32) -> sb::NetworkPolicyRule {
    sb::NetworkPolicyRule {
        name: String::new(),
        endpoints: vec![sb::NetworkEndpoint { host: host.into(), port, ..Default::default() }],
        binaries: vec![sb::NetworkBinary { path: "/usr/bin/curl".into(), ..Default::default() }],
    }
}

#[tokio::test]
async fn policy_revisions_and_config() {
    let gw = Gw::start(Protocol::V0_0).await;
    let mut c = client(&gw).await;
    let policy = sb::SandboxPolicy {
        version: 1,
        filesystem: Some(sb::FilesystemPolicy { include_workdir: true, ..Default::default() }),
        network_policies: BTreeMap::from([("github".into(), rule("github.com", 443))]),
        ..Default::default()
    };
    let req = pb::CreateSandboxRequest {
        spec: Some(pb::SandboxSpec { policy: Some(policy.clone()), ..Default::default() }),
        name: "pol".into(),
        ..Default::default()
    };
    c.create_sandbox(req).await.unwrap();
    let status = |version| pb::GetSandboxPolicyStatusRequest { name: "pol".into(), version, ..Default::default() };
    let first = c.get_sandbox_policy_status(status(0)).await.unwrap().into_inner();
    assert_eq!(first.revision.as_ref().unwrap().version, 1);
    let id = id(&wait_ready(&mut c, "pol").await);
    let loaded = c.get_sandbox_policy_status(status(1)).await.unwrap().into_inner();
    assert_eq!(loaded.revision.unwrap().status(), pb::PolicyStatus::Loaded);
    assert_eq!(loaded.active_version, 1);

    let merge = pb::UpdateConfigRequest {
        name: "pol".into(),
        merge_operations: vec![pb::PolicyMergeOperation {
            operation: Some(pb::policy_merge_operation::Operation::AddRule(pb::AddNetworkRule {
                rule_name: "pypi".into(),
                rule: Some(rule("pypi.org", 443)),
            })),
        }],
        ..Default::default()
    };
    let updated = c.update_config(merge).await.unwrap().into_inner();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.policy_hash.len(), 64);
    let now = c.get_sandbox_policy_status(status(0)).await.unwrap().into_inner();
    assert_eq!((now.revision.unwrap().status(), now.active_version), (pb::PolicyStatus::Loaded, 2));
    let old = c.get_sandbox_policy_status(status(1)).await.unwrap().into_inner();
    assert_eq!(old.revision.unwrap().status(), pb::PolicyStatus::Superseded);

    let config = c.get_sandbox_config(sb::GetSandboxConfigRequest { sandbox_id: id }).await.unwrap().into_inner();
    assert_eq!(config.version, 2);
    let rules = config.policy.unwrap().network_policies;
    assert!(rules.contains_key("github") && rules.contains_key("pypi"));

    // Only network sections may change after version 1.
    let mut changed = policy.clone();
    changed.filesystem = None;
    let replace = pb::UpdateConfigRequest { name: "pol".into(), policy: Some(changed), ..Default::default() };
    assert_status(c.update_config(replace).await, Code::InvalidArgument, "must equal policy version 1");
    let both = pb::UpdateConfigRequest {
        name: "pol".into(),
        policy: Some(policy),
        setting_key: "k".into(),
        ..Default::default()
    };
    assert_status(c.update_config(both).await, Code::InvalidArgument, "exactly one of");
    let neither = pb::UpdateConfigRequest { name: "pol".into(), ..Default::default() };
    assert_status(c.update_config(neither).await, Code::InvalidArgument, "exactly one of");

    create(&mut c, "nopol").await;
    let none = pb::GetSandboxPolicyStatusRequest { name: "nopol".into(), ..Default::default() };
    assert_status(c.get_sandbox_policy_status(none).await, Code::NotFound, "no policy revision found for this sandbox");
    gw.stop().await;
}

#[tokio::test]
async fn service_endpoints() {
    let gw = Gw::start(Protocol::V0_0).await;
    let mut c = client(&gw).await;
    create(&mut c, "web").await;
    let expose = pb::ExposeServiceRequest {
        sandbox: "web".into(),
        service: "api".into(),
        target_port: 8080,
        ..Default::default()
    };
    let exposed = c.expose_service(expose).await.unwrap().into_inner();
    assert_eq!(exposed.url, "http://127.0.0.1:8080/");
    assert_eq!(exposed.endpoint.unwrap().service_name, "api");
    let get = pb::GetServiceRequest { sandbox: "web".into(), service: "api".into(), ..Default::default() };
    assert_eq!(c.get_service(get.clone()).await.unwrap().into_inner().endpoint.unwrap().target_port, 8080);
    let listed = c.list_services(pb::ListServicesRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.services.len(), 1);
    let delete = pb::DeleteServiceRequest { sandbox: "web".into(), service: "api".into(), ..Default::default() };
    assert!(c.delete_service(delete).await.unwrap().into_inner().deleted);
    assert_status(c.get_service(get).await, Code::NotFound, "service endpoint not found");
    let orphan = pb::ExposeServiceRequest { sandbox: "ghost".into(), target_port: 80, ..Default::default() };
    assert_status(c.expose_service(orphan).await, Code::NotFound, "sandbox not found");
    gw.stop().await;
}

#[tokio::test]
async fn stop_and_start_follow_the_phase_rules() {
    let gw = Gw::start(Protocol::V0_0).await;
    let mut c = client(&gw).await;
    create(&mut c, "pausable").await;
    let stop = pb::StopSandboxRequest { name: "pausable".into(), ..Default::default() };
    let start = pb::StartSandboxRequest { name: "pausable".into(), ..Default::default() };
    assert_status(c.stop_sandbox(stop.clone()).await, Code::FailedPrecondition, "sandbox must be Ready to stop");
    let id = id(&wait_ready(&mut c, "pausable").await);
    // Starting a READY sandbox returns it unchanged.
    let unchanged = c.start_sandbox(start.clone()).await.unwrap().into_inner().sandbox.unwrap();
    assert_eq!(phase(&unchanged), pb::SandboxPhase::Ready);
    let stopping = c.stop_sandbox(stop).await.unwrap().into_inner().sandbox.unwrap();
    assert_eq!(phase(&stopping), pb::SandboxPhase::Stopping);
    eventually(Duration::from_secs(5), || {
        let mut c = c.clone();
        async move {
            let s = c.get_sandbox(pb::GetSandboxRequest { name: "pausable".into(), ..Default::default() }).await;
            (phase(&s.ok()?.into_inner().sandbox?) == pb::SandboxPhase::Stopped).then_some(())
        }
    })
    .await;
    let stopped_exec = c.exec_sandbox(request(&id, &["true"])).await.map(|_| ());
    assert_status(stopped_exec, Code::FailedPrecondition, "sandbox is not ready");
    let starting = c.start_sandbox(start).await.unwrap().into_inner().sandbox.unwrap();
    assert_eq!(phase(&starting), pb::SandboxPhase::Starting);
    wait_ready(&mut c, "pausable").await;
    assert_eq!(exec(&mut c, request(&id, &["true"])).await.exit_ok(), 0);
    gw.stop().await;
}

#[tokio::test]
async fn interactive_frames_over_the_inbound_limit_end_the_stream() {
    let gw = Gw::start(Protocol::V0_0).await;
    let mut c = client(&gw).await;
    let id = ready(&mut c, "bigframe").await;
    let oversize = stdin(&vec![b'x'; 2 * 1024 * 1024]);
    let out = interactive(&mut c, start(&id, &["cat"], false), vec![oversize]).await;
    assert_status(out.end, Code::OutOfRange, "decoded message length too large");
    gw.stop().await;
}
