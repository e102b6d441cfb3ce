//! Rust bindings for the NVIDIA OpenShell gateway gRPC protocol, generated
//! from our own `.proto` files (written from the protocol fact sheet, not
//! copied from OpenShell).
//!
//! # Two wire generations
//!
//! The gateway's protocol exists in two generations that share package names,
//! the service name `openshell.v1.OpenShell` and every method path, but **not**
//! their field numbers and types:
//!
//! - [`v0_0`] — gateways `0.0.x`. Exec, watch, logs, SSH sessions, TCP
//!   forwarding and `GetSandboxConfig` address a sandbox by **id**; the other
//!   sandbox RPCs by name plus a `workspace` string. Times are `int64`
//!   milliseconds, timeouts `uint32` seconds, lists page with `limit`/`offset`,
//!   deletes answer with a `deleted` bool.
//! - [`v0_1`] — gateways `0.1.x` (schema of 0.1.5). Every sandbox RPC takes the
//!   sandbox **name** plus a `WorkspaceSelector`; times are
//!   `google.protobuf.Timestamp`/`Duration` at the old field number + 100;
//!   lists page with `page_size`/`page_token`; deletes answer with a
//!   `DeletionOutcome`; several fields were renamed, retyped or reused.
//!
//! A client built for one generation silently mis-talks to a gateway of the
//! other one (a 0.1 request can create a sandbox on a 0.0 gateway and then
//! fail on the next call). So pick the generation **before the first mutating
//! call**: call `Health` (its request and response are identical in both
//! generations, so either module's client works) and look at
//! `HealthResponse.version`: a version starting with [`v0_0::VERSION_PREFIX`]
//! (`"0.0."`) means [`v0_0`], one starting with [`v0_1::VERSION_PREFIX`]
//! (`"0.1."`) means [`v0_1`]. [`Generation::from_version`] does exactly that.
//!
//! # Layout
//!
//! Each generation module mirrors the proto packages, so the generated
//! cross-package paths resolve:
//!
//! - `vX_Y::openshell::v1` — the `OpenShell` service (client in
//!   `open_shell_client`, server in `open_shell_server`) and most messages;
//! - `vX_Y::openshell::sandbox::v1` — policy, settings and config messages;
//! - `vX_Y::openshell::datamodel::v1` — `ObjectMeta`, `Workspace`, `Provider`
//!   and (0.1 only) `WorkspaceSelector`.
//!
//! The generated server traits have default method bodies that answer
//! `UNIMPLEMENTED`, so a test double only implements the RPCs it needs.

/// Generation S: the wire schema of OpenShell gateways `0.0.x`.
pub mod v0_0 {
    /// Prefix of `HealthResponse.version` for gateways speaking this generation.
    pub const VERSION_PREFIX: &str = "0.0.";

    /// Proto packages `openshell.*`.
    pub mod openshell {
        /// Package `openshell.v1`: the `OpenShell` service and its messages.
        #[allow(
            unused_qualifications,
            clippy::allow_attributes_without_reason,
            clippy::large_enum_variant,
            reason = "generated code"
        )]
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/v0_0/openshell.v1.rs"));
        }
        /// Package `openshell.sandbox.v1`.
        pub mod sandbox {
            /// Package `openshell.sandbox.v1`: policy, settings and config messages.
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/v0_0/openshell.sandbox.v1.rs"));
            }
        }
        /// Package `openshell.datamodel.v1`.
        pub mod datamodel {
            /// Package `openshell.datamodel.v1`: shared resource types.
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/v0_0/openshell.datamodel.v1.rs"));
            }
        }
    }
}

/// Generation W: the wire schema of OpenShell gateways `0.1.x` (0.1.5).
pub mod v0_1 {
    /// Prefix of `HealthResponse.version` for gateways speaking this generation.
    pub const VERSION_PREFIX: &str = "0.1.";

    /// Proto packages `openshell.*`.
    pub mod openshell {
        /// Package `openshell.v1`: the `OpenShell` service and its messages.
        #[allow(
            unused_qualifications,
            clippy::allow_attributes_without_reason,
            clippy::large_enum_variant,
            reason = "generated code"
        )]
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/v0_1/openshell.v1.rs"));
        }
        /// Package `openshell.sandbox.v1`.
        pub mod sandbox {
            /// Package `openshell.sandbox.v1`: policy, settings and config messages.
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/v0_1/openshell.sandbox.v1.rs"));
            }
        }
        /// Package `openshell.datamodel.v1`.
        pub mod datamodel {
            /// Package `openshell.datamodel.v1`: shared resource types.
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/v0_1/openshell.datamodel.v1.rs"));
            }
        }
    }
}

/// The wire generation a gateway speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Generation {
    /// Gateways `0.0.x`: use [`v0_0`].
    V0_0,
    /// Gateways `0.1.x`: use [`v0_1`].
    V0_1,
}

impl Generation {
    /// Picks the generation from `HealthResponse.version`, or `None` for a
    /// version this crate has no schema for.
    #[must_use]
    pub fn from_version(version: &str) -> Option<Self> {
        let version = version.trim().trim_start_matches('v');
        if version.starts_with(v0_0::VERSION_PREFIX) {
            Some(Self::V0_0)
        } else if version.starts_with(v0_1::VERSION_PREFIX) {
            Some(Self::V0_1)
        } else {
            None
        }
    }

    /// The `HealthResponse.version` prefix of this generation.
    #[must_use]
    pub const fn version_prefix(self) -> &'static str {
        match self {
            Self::V0_0 => v0_0::VERSION_PREFIX,
            Self::V0_1 => v0_1::VERSION_PREFIX,
        }
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::{Generation, v0_0, v0_1};

    /// Protobuf wire types.
    const VARINT: u32 = 0;
    const LEN: u32 = 2;

    /// Encodes `value` as a protobuf varint (written here independently of prost).
    fn varint(mut value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = u8::try_from(value & 0x7f).expect("seven bits fit a byte");
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    /// The key bytes of a field: varint of `(field_number << 3) | wire_type`.
    fn key(field: u32, wire_type: u32) -> Vec<u8> {
        varint(u64::from((field << 3) | wire_type))
    }

    /// Concatenates byte pieces.
    fn cat(pieces: &[&[u8]]) -> Vec<u8> {
        pieces.concat()
    }

    #[test]
    fn key_helper_matches_hand_computed_bytes() {
        assert_eq!(key(5, VARINT), [0x28]);
        assert_eq!(key(7, LEN), [0x3a]);
        assert_eq!(key(103, LEN), [0xba, 0x06]);
        assert_eq!(key(105, LEN), [0xca, 0x06]);
    }

    #[test]
    fn v0_0_exec_timeout_seconds_is_field_5_varint() {
        let req = v0_0::openshell::v1::ExecSandboxRequest { timeout_seconds: 30, ..Default::default() };
        assert_eq!(req.encode_to_vec(), cat(&[&key(5, VARINT), &[30]]));
    }

    #[test]
    fn v0_1_exec_execution_timeout_is_field_105_duration() {
        let req = v0_1::openshell::v1::ExecSandboxRequest {
            execution_timeout: Some(prost_types::Duration { seconds: 30, nanos: 0 }),
            ..Default::default()
        };
        // Duration { seconds = 1 (varint) } nested as a length-delimited field.
        let duration = cat(&[&key(1, VARINT), &[30]]);
        let expected = cat(&[&key(105, LEN), &[2], &duration]);
        assert_eq!(expected, [0xca, 0x06, 0x02, 0x08, 0x1e]);
        assert_eq!(req.encode_to_vec(), expected);
    }

    #[test]
    fn v0_1_exec_new_fields_and_name_slot() {
        let req = v0_1::openshell::v1::ExecSandboxRequest {
            sandbox: "box".into(),
            no_login_shell: true,
            request_id: "r".into(),
            ..Default::default()
        };
        let expected = cat(&[&key(1, LEN), &[3], b"box", &key(10, VARINT), &[1], &key(11, LEN), &[1], b"r"]);
        assert_eq!(req.encode_to_vec(), expected);

        // The same slot #1 held the sandbox id in 0.0.x.
        let old =
            v0_0::openshell::v1::ExecSandboxRequest::decode(expected.as_slice()).expect("0.0 decodes the 0.1 bytes");
        assert_eq!(old.sandbox_id, "box");
        assert_eq!(old.timeout_seconds, 0);
    }

    #[test]
    fn v0_1_exec_workspace_scope_is_field_12() {
        use v0_1::openshell::datamodel::v1::{WorkspaceSelector, workspace_selector::Selection};
        let req = v0_1::openshell::v1::ExecSandboxRequest {
            workspace_scope: Some(WorkspaceSelector { selection: Some(Selection::Workspace("w".into())) }),
            ..Default::default()
        };
        let selector = cat(&[&key(1, LEN), &[1], b"w"]);
        assert_eq!(req.encode_to_vec(), cat(&[&key(12, LEN), &[3], &selector]));
    }

    #[test]
    fn v0_1_create_workspace_scope_is_field_7() {
        use v0_1::openshell::datamodel::v1::{WorkspaceSelector, workspace_selector::Selection};
        let req = v0_1::openshell::v1::CreateSandboxRequest {
            workspace_scope: Some(WorkspaceSelector { selection: Some(Selection::Workspace("default".into())) }),
            ..Default::default()
        };
        let selector = cat(&[&key(1, LEN), &[7], b"default"]);
        let expected = cat(&[&key(7, LEN), &[9], &selector]);
        assert_eq!(expected[0], 0x3a);
        assert_eq!(req.encode_to_vec(), expected);
    }

    #[test]
    fn v0_1_all_workspaces_is_selector_field_2() {
        use v0_1::openshell::datamodel::v1::{AllWorkspaces, WorkspaceSelector, workspace_selector::Selection};
        let selector = WorkspaceSelector { selection: Some(Selection::AllWorkspaces(AllWorkspaces {})) };
        assert_eq!(selector.encode_to_vec(), cat(&[&key(2, LEN), &[0]]));
    }

    #[test]
    fn create_field_5_changed_type_between_generations() {
        // 0.0.x: workspace string at #5.
        let old = v0_0::openshell::v1::CreateSandboxRequest { workspace: "ws".into(), ..Default::default() };
        assert_eq!(old.encode_to_vec(), cat(&[&key(5, LEN), &[2], b"ws"]));

        // 0.1.x: await_main_process_attachment bool at #5.
        let new =
            v0_1::openshell::v1::CreateSandboxRequest { await_main_process_attachment: true, ..Default::default() };
        let bytes = new.encode_to_vec();
        assert_eq!(bytes, cat(&[&key(5, VARINT), &[1]]));

        // Same number, different wire type: prost refuses to decode across.
        assert!(v0_0::openshell::v1::CreateSandboxRequest::decode(bytes.as_slice()).is_err());
    }

    #[test]
    fn v0_1_selector_read_by_v0_0_gateway_is_a_garbled_string() {
        // Reproduces the field observation "workspace '\ndefault' not found".
        use v0_1::openshell::datamodel::v1::{WorkspaceSelector, workspace_selector::Selection};
        let req = v0_1::openshell::v1::GetSandboxRequest {
            name: "box".into(),
            workspace_scope: Some(WorkspaceSelector { selection: Some(Selection::Workspace("default".into())) }),
        };
        let old = v0_0::openshell::v1::GetSandboxRequest::decode(req.encode_to_vec().as_slice())
            .expect("both are length-delimited at #2");
        assert_eq!(old.name, "box");
        assert_eq!(old.workspace, "\n\u{7}default");
    }

    #[test]
    fn delete_response_deleted_1_vs_outcome_2() {
        let old = v0_0::openshell::v1::DeleteSandboxResponse { deleted: true };
        let old_bytes = old.encode_to_vec();
        assert_eq!(old_bytes, cat(&[&key(1, VARINT), &[1]]));

        let new = v0_1::openshell::v1::DeleteSandboxResponse {
            outcome: v0_1::openshell::v1::DeletionOutcome::Accepted.into(),
            sandbox_id: "id".into(),
        };
        assert_eq!(new.encode_to_vec(), cat(&[&key(2, VARINT), &[2], &key(3, LEN), &[2], b"id"]));

        // A 0.0 answer read as 0.1 has no outcome at all (field 1 is skipped).
        let read = v0_1::openshell::v1::DeleteSandboxResponse::decode(old_bytes.as_slice())
            .expect("unknown field 1 is skipped");
        assert_eq!(read.outcome(), v0_1::openshell::v1::DeletionOutcome::Unspecified);
    }

    #[test]
    fn object_meta_created_at_ms_3_vs_created_time_103() {
        let old = v0_0::openshell::datamodel::v1::ObjectMeta { created_at_ms: 1, ..Default::default() };
        let old_bytes = old.encode_to_vec();
        assert_eq!(old_bytes, cat(&[&key(3, VARINT), &[1]]));

        let new = v0_1::openshell::datamodel::v1::ObjectMeta {
            created_time: Some(prost_types::Timestamp { seconds: 1, nanos: 0 }),
            ..Default::default()
        };
        let timestamp = cat(&[&key(1, VARINT), &[1]]);
        let expected = cat(&[&key(103, LEN), &[2], &timestamp]);
        assert_eq!(expected[..2], [0xba, 0x06]);
        assert_eq!(new.encode_to_vec(), expected);

        // Old bytes on the new schema: field 3 is reserved there and skipped.
        let read = v0_1::openshell::datamodel::v1::ObjectMeta::decode(old_bytes.as_slice())
            .expect("unknown field 3 is skipped");
        assert_eq!(read.created_time, None);
    }

    #[test]
    fn network_endpoint_tls_string_vs_enum_at_4() {
        let old = v0_0::openshell::sandbox::v1::NetworkEndpoint { tls: "terminate".into(), ..Default::default() };
        assert_eq!(old.encode_to_vec(), cat(&[&key(4, LEN), &[9], b"terminate"]));

        let new = v0_1::openshell::sandbox::v1::NetworkEndpoint {
            tls: v0_1::openshell::sandbox::v1::NetworkTlsMode::Terminate.into(),
            enforcement: v0_1::openshell::sandbox::v1::NetworkEnforcementMode::Enforce.into(),
            access: v0_1::openshell::sandbox::v1::NetworkAccessPreset::Full.into(),
            ..Default::default()
        };
        assert_eq!(new.encode_to_vec(), cat(&[&key(4, VARINT), &[2], &key(5, VARINT), &[1], &key(6, VARINT), &[3]]));
    }

    #[test]
    fn stream_event_cursor_6_is_outside_the_oneof() {
        use v0_1::openshell::v1::{SandboxStreamEvent, SandboxStreamWarning, sandbox_stream_event};
        let event = SandboxStreamEvent {
            payload: Some(sandbox_stream_event::Payload::Warning(SandboxStreamWarning { message: "m".into() })),
            cursor: "c".into(),
        };
        let warning = cat(&[&key(1, LEN), &[1], b"m"]);
        assert_eq!(event.encode_to_vec(), cat(&[&key(4, LEN), &[3], &warning, &key(6, LEN), &[1], b"c"]));
    }

    #[test]
    fn phases_and_watch_fields() {
        assert_eq!(v0_0::openshell::v1::SandboxPhase::Starting as i32, 8);
        assert_eq!(v0_1::openshell::v1::SandboxPhase::Completed as i32, 9);

        let watch = v0_1::openshell::v1::WatchSandboxRequest {
            sandbox: "box".into(),
            resume_after_cursor: "c".into(),
            ..Default::default()
        };
        assert_eq!(watch.encode_to_vec(), cat(&[&key(1, LEN), &[3], b"box", &key(12, LEN), &[1], b"c"]));
    }

    #[test]
    fn service_name_and_version_selection() {
        assert_eq!(v0_0::openshell::v1::open_shell_server::SERVICE_NAME, "openshell.v1.OpenShell");
        assert_eq!(v0_1::openshell::v1::open_shell_server::SERVICE_NAME, "openshell.v1.OpenShell");
        assert_eq!(Generation::from_version("0.0.111"), Some(Generation::V0_0));
        assert_eq!(Generation::from_version("0.0.112-dev"), Some(Generation::V0_0));
        assert_eq!(Generation::from_version("0.1.5"), Some(Generation::V0_1));
        assert_eq!(Generation::from_version("v0.1.5"), Some(Generation::V0_1));
        assert_eq!(Generation::from_version("0.10.0"), None);
        assert_eq!(Generation::from_version("1.0.0"), None);
        assert_eq!(Generation::V0_1.version_prefix(), "0.1.");
    }
}
