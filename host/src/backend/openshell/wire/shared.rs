//! What both generations convert alike. Their generated types are distinct
//! (one module tree each), so the conversions spelled the same way over
//! both are written once, as a macro expanded in each generation's module.

use std::collections::BTreeMap;

/// `{"requests": {...}, "limits": {...}}` for the template's resources.
pub(super) fn resources(cpu: &Option<String>, memory: &Option<String>) -> Option<prost_types::Struct> {
    use prost_types::value::Kind;
    let mut fields = BTreeMap::new();
    if let Some(c) = cpu {
        fields.insert("cpu".to_string(), prost_types::Value { kind: Some(Kind::StringValue(c.clone())) });
    }
    if let Some(m) = memory {
        fields.insert("memory".to_string(), prost_types::Value { kind: Some(Kind::StringValue(m.clone())) });
    }
    if fields.is_empty() {
        return None;
    }
    let inner = prost_types::Value { kind: Some(Kind::StructValue(prost_types::Struct { fields })) };
    Some(prost_types::Struct {
        fields: BTreeMap::from([("requests".to_string(), inner.clone()), ("limits".to_string(), inner)]),
    })
}

/// Exec events, the network rules of a sandbox policy and the policy
/// itself, for the generation whose modules are in scope as `pb` (the API)
/// and `sb` (sandbox policies). The generation supplies how it spells an
/// endpoint's settings and a binary: `tls_to_pb`/`tls_from_pb`,
/// `enforcement_to_pb`/`enforcement_from_pb`, `access_to_pb`/`access_from_pb`
/// and `binary_to_pb`.
macro_rules! conversions {
    () => {
        fn events(stream: tonic::Streaming<pb::ExecSandboxEvent>) -> Events {
            Box::pin(stream.filter_map(|item| async move {
                match item {
                    Err(s) => Some(Err(s)),
                    Ok(ev) => match ev.payload {
                        Some(pb::exec_sandbox_event::Payload::Stdout(o)) => Some(Ok(Event::Stdout(o.data.into()))),
                        Some(pb::exec_sandbox_event::Payload::Stderr(e)) => Some(Ok(Event::Stderr(e.data.into()))),
                        Some(pb::exec_sandbox_event::Payload::Exit(x)) => Some(Ok(Event::Exit(x.exit_code))),
                        None => None,
                    },
                }
            }))
        }

        fn rules_to_pb(rules: &BTreeMap<String, RuleDoc>) -> HashMap<String, sb::NetworkPolicyRule> {
            rules
                .iter()
                .map(|(name, r)| {
                    let rule = sb::NetworkPolicyRule {
                        name: name.clone(),
                        endpoints: r
                            .endpoints
                            .iter()
                            .map(|e| sb::NetworkEndpoint {
                                host: e.host.clone(),
                                ports: e.ports.clone(),
                                protocol: e.protocol.clone(),
                                tls: tls_to_pb(&e.tls),
                                enforcement: enforcement_to_pb(&e.enforcement),
                                access: access_to_pb(&e.access),
                                allowed_ips: e.allowed_ips.clone(),
                                path: e.path.clone(),
                                ..Default::default()
                            })
                            .collect(),
                        binaries: r.binaries.iter().map(|b| binary_to_pb(b)).collect(),
                    };
                    (name.clone(), rule)
                })
                .collect()
        }

        fn rules_from_pb(rules: HashMap<String, sb::NetworkPolicyRule>) -> BTreeMap<String, RuleDoc> {
            use crate::backend::openshell::policy::EndpointDoc;
            rules
                .into_iter()
                .map(|(name, r)| {
                    let doc = RuleDoc {
                        endpoints: r
                            .endpoints
                            .into_iter()
                            .map(|e| EndpointDoc {
                                host: e.host,
                                ports: if e.ports.is_empty() && e.port != 0 { vec![e.port] } else { e.ports },
                                protocol: e.protocol,
                                tls: tls_from_pb(e.tls),
                                enforcement: enforcement_from_pb(e.enforcement),
                                access: access_from_pb(e.access),
                                allowed_ips: e.allowed_ips,
                                path: e.path,
                            })
                            .collect(),
                        binaries: r.binaries.into_iter().map(|b| b.path).collect(),
                    };
                    (name, doc)
                })
                .collect()
        }

        fn policy_to_pb(p: &PolicyDoc) -> sb::SandboxPolicy {
            sb::SandboxPolicy {
                version: p.version.unwrap_or(1),
                filesystem: p.filesystem.as_ref().map(|f| sb::FilesystemPolicy {
                    include_workdir: f.include_workdir,
                    read_only: f.read_only.clone(),
                    read_write: f.read_write.clone(),
                }),
                landlock: p.landlock.as_ref().map(|l| sb::LandlockPolicy { compatibility: l.compatibility.clone() }),
                process: p.process.as_ref().map(|x| sb::ProcessPolicy {
                    run_as_user: x.run_as_user.clone(),
                    run_as_group: x.run_as_group.clone(),
                }),
                network_policies: rules_to_pb(&p.network_policies),
                ..Default::default()
            }
        }
    };
}

pub(super) use conversions;
