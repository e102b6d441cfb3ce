//! 0.0 messages to and from the core's types.

use std::time::Duration;

use bytes::Bytes;
use openshell_proto::v0_0::openshell::datamodel::v1 as dm;
use openshell_proto::v0_0::openshell::sandbox::v1 as sb;
use openshell_proto::v0_0::openshell::v1 as pb;
use prost::Message as _;

use crate::gateway::{
    ClientFrame, DEFAULT_WORKSPACE, Endpoint, ExecOutput, ExecSpec, Phase, PolicyRevision, PolicyState, Sandbox,
    SettingValue, Target, Workspace,
};

/// The image recorded when a spec names none.
pub(super) const DEFAULT_IMAGE: &str = "openshell-testgw/bubblewrap:local";

/// A request's `workspace` string; empty means `default`.
pub(super) fn workspace(ws: &str) -> String {
    if ws.is_empty() { DEFAULT_WORKSPACE.to_string() } else { ws.to_string() }
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

/// A sandbox record as a `Sandbox` message.
pub(super) fn sandbox(s: &Sandbox) -> pb::Sandbox {
    pb::Sandbox {
        metadata: Some(dm::ObjectMeta {
            id: s.id.clone(),
            name: s.name.clone(),
            created_at_ms: s.created_ms,
            labels: s.labels.clone(),
            resource_version: s.resource_version,
            annotations: s.annotations.clone(),
            workspace: s.workspace.clone(),
            deletion_timestamp_ms: s.deletion_ms,
        }),
        spec: Some(pb::SandboxSpec::decode(s.spec.as_slice()).unwrap_or_default()),
        status: Some(pb::SandboxStatus {
            sandbox_name: s.local_name.clone(),
            agent_pod: s.local_name.clone(),
            agent_fd: String::new(),
            sandbox_fd: String::new(),
            conditions: s
                .conditions
                .iter()
                .map(|c| pb::SandboxCondition {
                    r#type: c.kind.clone(),
                    status: c.status.clone(),
                    reason: c.reason.clone(),
                    message: c.message.clone(),
                    last_transition_time: String::new(),
                })
                .collect(),
            phase: phase(s.phase).into(),
            current_policy_version: s.active_policy,
            main_process_instance_id: String::new(),
            exit_code: s.exit_code,
        }),
    }
}

/// An exec request (plain, or the `start` of an interactive one).
pub(super) fn exec_spec(req: pb::ExecSandboxRequest) -> ExecSpec {
    ExecSpec {
        target: Target::Id(req.sandbox_id),
        command: req.command,
        workdir: req.workdir,
        environment: req.environment,
        timeout: (req.timeout_seconds > 0).then(|| Duration::from_secs(u64::from(req.timeout_seconds))),
        stdin: Bytes::from(req.stdin),
        tty: req.tty,
        cols: req.cols,
        rows: req.rows,
        login_shell: true,
    }
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

/// One watch event.
pub(super) fn watch_event(s: &Sandbox) -> pb::SandboxStreamEvent {
    pb::SandboxStreamEvent { payload: Some(pb::sandbox_stream_event::Payload::Sandbox(sandbox(s))) }
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
        created_at_ms: r.created_ms,
        loaded_at_ms: r.loaded_ms,
        policy: with_policy.then(|| sb::SandboxPolicy::decode(r.policy.as_slice()).unwrap_or_default()),
        provenance: r.provenance.clone(),
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
    pb::ServiceEndpointResponse {
        endpoint: Some(pb::ServiceEndpoint {
            metadata: Some(dm::ObjectMeta {
                id: e.id.clone(),
                name: format!("{}--{}", e.sandbox, e.service),
                created_at_ms: e.created_ms,
                resource_version: e.resource_version,
                workspace: e.workspace.clone(),
                ..Default::default()
            }),
            sandbox_id: e.sandbox_id.clone(),
            sandbox_name: e.sandbox.clone(),
            service_name: e.service.clone(),
            target_port: e.target_port,
            domain: e.domain,
        }),
        url: e.url(),
    }
}

/// A workspace.
pub(super) fn workspace_msg(w: &Workspace) -> dm::Workspace {
    dm::Workspace {
        metadata: Some(dm::ObjectMeta {
            id: w.id.clone(),
            name: w.name.clone(),
            created_at_ms: w.created_ms,
            labels: w.labels.clone(),
            resource_version: 1,
            ..Default::default()
        }),
        status: Some(dm::WorkspaceStatus { phase: dm::WorkspacePhase::Active.into() }),
    }
}

crate::shared::alike!();
