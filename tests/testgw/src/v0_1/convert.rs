//! 0.1 messages to and from the core's types.

use std::time::Duration;

use bytes::Bytes;
use openshell_proto::v0_1::openshell::datamodel::v1 as dm;
use openshell_proto::v0_1::openshell::sandbox::v1 as sb;
use openshell_proto::v0_1::openshell::v1 as pb;
use prost::Message as _;
use tonic::Status;

use crate::gateway::{
    ClientFrame, DEFAULT_WORKSPACE, Endpoint, ExecOutput, ExecSpec, Phase, PolicyRevision, PolicyState, Sandbox, Scope,
    SettingValue, Target, Workspace,
};
use crate::wire::timestamp;

/// The image recorded when a spec names none.
pub(super) const DEFAULT_IMAGE: &str = "openshell-testgw/bubblewrap:local";

/// The one workspace a selector names; none (or an empty name) means
/// `default`. "All workspaces" only makes sense for lists.
pub(super) fn workspace(selector: Option<&dm::WorkspaceSelector>) -> Result<String, Status> {
    use dm::workspace_selector::Selection;
    match selector.and_then(|s| s.selection.as_ref()) {
        None => Ok(DEFAULT_WORKSPACE.to_string()),
        Some(Selection::Workspace(ws)) if ws.is_empty() => Ok(DEFAULT_WORKSPACE.to_string()),
        Some(Selection::Workspace(ws)) => Ok(ws.clone()),
        Some(Selection::AllWorkspaces(_)) => {
            Err(Status::invalid_argument("all_workspaces is only valid for list requests"))
        }
    }
}

/// The workspaces a list selector covers.
pub(super) fn scope(selector: Option<&dm::WorkspaceSelector>) -> Result<Scope, Status> {
    use dm::workspace_selector::Selection;
    match selector.and_then(|s| s.selection.as_ref()) {
        Some(Selection::AllWorkspaces(_)) => Ok(Scope::All),
        _ => workspace(selector).map(Scope::One),
    }
}

/// A sandbox addressed by name within the selected workspace.
pub(super) fn by_name(selector: Option<&dm::WorkspaceSelector>, name: String) -> Result<Target, Status> {
    Ok(Target::Name { workspace: workspace(selector)?, name })
}

/// The gateway's spec defaults: `/bin/bash -l` with a PTY when no command
/// is given, and the default image.
pub(super) fn default_spec(spec: &mut pb::SandboxSpec) {
    if spec.command.is_empty() {
        spec.command = vec!["/bin/bash".into(), "-l".into()];
        spec.tty = true;
    }
    let template = spec.template.get_or_insert_with(Default::default);
    if template.image.is_empty() {
        template.image = DEFAULT_IMAGE.into();
    }
}

fn phase(p: Phase) -> pb::SandboxPhase {
    match p {
        Phase::Provisioning => pb::SandboxPhase::Provisioning,
        Phase::Ready => pb::SandboxPhase::Ready,
        Phase::Error => pb::SandboxPhase::Error,
        Phase::Deleting => pb::SandboxPhase::Deleting,
        Phase::Stopping => pb::SandboxPhase::Stopping,
        Phase::Stopped => pb::SandboxPhase::Stopped,
        Phase::Starting => pb::SandboxPhase::Starting,
    }
}

fn meta(id: &str, name: &str, workspace: &str, created_ms: i64, resource_version: u64) -> dm::ObjectMeta {
    dm::ObjectMeta {
        id: id.into(),
        name: name.into(),
        workspace: workspace.into(),
        resource_version,
        created_time: Some(timestamp(created_ms)),
        ..Default::default()
    }
}

/// A sandbox record as a `Sandbox` message.
pub(super) fn sandbox(s: &Sandbox) -> pb::Sandbox {
    let mut metadata = meta(&s.id, &s.name, &s.workspace, s.created_ms, s.resource_version);
    metadata.labels = s.labels.clone();
    metadata.annotations = s.annotations.clone();
    metadata.deletion_time = (s.deletion_ms != 0).then(|| timestamp(s.deletion_ms));
    pb::Sandbox {
        metadata: Some(metadata),
        spec: Some(pb::SandboxSpec::decode(s.spec.as_slice()).unwrap_or_default()),
        status: Some(pb::SandboxStatus {
            agent_pod: s.local_name.clone(),
            conditions: s
                .conditions
                .iter()
                .map(|c| pb::SandboxCondition {
                    r#type: c.kind.clone(),
                    status: c.status.clone(),
                    reason: c.reason.clone(),
                    message: c.message.clone(),
                    transition_time: None,
                })
                .collect(),
            phase: phase(s.phase).into(),
            current_policy_version: s.active_policy,
            exit_code: s.exit_code,
            ..Default::default()
        }),
        host_key_fingerprint: String::new(),
        created_from_workload_template: None,
    }
}

/// An exec request (plain, or the `start` of an interactive one).
pub(super) fn exec_spec(req: pb::ExecSandboxRequest) -> Result<ExecSpec, Status> {
    let timeout = match req.execution_timeout {
        None => None,
        Some(d) if d.seconds < 0 || d.nanos < 0 => {
            return Err(Status::invalid_argument("execution_timeout must not be negative"));
        }
        Some(d) => Some(
            Duration::from_secs(u64::try_from(d.seconds).unwrap_or(0))
                + Duration::from_nanos(u64::try_from(d.nanos).unwrap_or(0)),
        ),
    };
    Ok(ExecSpec {
        target: by_name(req.workspace_scope.as_ref(), req.sandbox)?,
        command: req.command,
        workdir: req.workdir,
        environment: req.environment,
        timeout,
        stdin: Bytes::from(req.stdin),
        tty: req.tty,
        cols: req.cols,
        rows: req.rows,
        login_shell: !req.no_login_shell,
    })
}

/// A later interactive message (`None` payloads carry nothing).
pub(super) fn client_frame(input: pb::ExecSandboxInput) -> ClientFrame {
    use pb::exec_sandbox_input::Payload;
    match input.payload {
        Some(Payload::Stdin(data)) => ClientFrame::Stdin(Bytes::from(data)),
        Some(Payload::Resize(r)) => ClientFrame::Resize { cols: r.cols, rows: r.rows },
        Some(Payload::Start(_)) | None => ClientFrame::Start,
    }
}

/// One exec event.
pub(super) fn exec_event(out: &ExecOutput) -> pb::ExecSandboxEvent {
    use pb::exec_sandbox_event::Payload;
    let payload = match out {
        ExecOutput::Stdout(data) => Payload::Stdout(pb::ExecSandboxStdout { data: data.to_vec() }),
        ExecOutput::Stderr(data) => Payload::Stderr(pb::ExecSandboxStderr { data: data.to_vec() }),
        ExecOutput::Exit(exit_code) => Payload::Exit(pb::ExecSandboxExit { exit_code: *exit_code }),
    };
    pb::ExecSandboxEvent { payload: Some(payload) }
}

/// One watch event; the cursor is the snapshot's resource version.
pub(super) fn watch_event(s: &Sandbox) -> pb::SandboxStreamEvent {
    pb::SandboxStreamEvent {
        cursor: s.resource_version.to_string(),
        payload: Some(pb::sandbox_stream_event::Payload::Sandbox(sandbox(s))),
    }
}

/// A policy revision, with the policy itself only when asked for.
pub(super) fn policy_revision(r: &PolicyRevision, with_policy: bool) -> pb::SandboxPolicyRevision {
    pb::SandboxPolicyRevision {
        version: r.version,
        policy_hash: r.hash.clone(),
        status: match r.state {
            PolicyState::Pending => pb::PolicyStatus::Pending,
            PolicyState::Loaded => pb::PolicyStatus::Loaded,
            PolicyState::Superseded => pb::PolicyStatus::Superseded,
        }
        .into(),
        load_error: String::new(),
        policy: with_policy.then(|| sb::SandboxPolicy::decode(r.policy.as_slice()).unwrap_or_default()),
        provenance: r.provenance.clone(),
        created_time: Some(timestamp(r.created_ms)),
        loaded_time: (r.loaded_ms != 0).then(|| timestamp(r.loaded_ms)),
    }
}

/// A setting value from a request (`None` when its oneof is empty).
pub(super) fn setting_in(v: sb::SettingValue) -> Option<SettingValue> {
    use sb::setting_value::Value;
    Some(match v.value? {
        Value::StringValue(s) => SettingValue::String(s),
        Value::BoolValue(b) => SettingValue::Bool(b),
        Value::IntValue(i) => SettingValue::Int(i),
        Value::BytesValue(b) => SettingValue::Bytes(b),
    })
}

/// A stored setting value.
pub(super) fn setting_out(v: &SettingValue) -> sb::SettingValue {
    use sb::setting_value::Value;
    let value = match v {
        SettingValue::String(s) => Value::StringValue(s.clone()),
        SettingValue::Bool(b) => Value::BoolValue(*b),
        SettingValue::Int(i) => Value::IntValue(*i),
        SettingValue::Bytes(b) => Value::BytesValue(b.clone()),
    };
    sb::SettingValue { value: Some(value) }
}

/// A service endpoint and its URL.
pub(super) fn endpoint(e: &Endpoint) -> pb::ServiceEndpointResponse {
    let name = format!("{}--{}", e.sandbox, e.service);
    pb::ServiceEndpointResponse {
        endpoint: Some(pb::ServiceEndpoint {
            metadata: Some(meta(&e.id, &name, &e.workspace, e.created_ms, e.resource_version)),
            sandbox_id: e.sandbox_id.clone(),
            sandbox: e.sandbox.clone(),
            name: e.service.clone(),
            target_port: e.target_port,
            domain: e.domain,
            authorization_mode: e.authorization_mode,
        }),
        url: e.url(),
    }
}

/// A workspace.
pub(super) fn workspace_msg(w: &Workspace) -> dm::Workspace {
    let mut metadata = meta(&w.id, &w.name, "", w.created_ms, 1);
    metadata.labels = w.labels.clone();
    dm::Workspace {
        metadata: Some(metadata),
        status: Some(dm::WorkspaceStatus { phase: dm::WorkspacePhase::Active.into() }),
    }
}

crate::shared::alike!();
