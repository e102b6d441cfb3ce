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

/// Exec events, providers, draft chunks, a new sandbox's spec, the network
/// rules of a sandbox policy (every field) and the policy itself, for the
/// generation whose modules are in scope as `pb` (the API), `dm` (the data
/// model) and `sb` (sandbox policies). The generation supplies what it
/// spells its own way: `tls_to_pb`/`tls_from_pb`,
/// `enforcement_to_pb`/`enforcement_from_pb`, `access_to_pb`/`access_from_pb`,
/// `binary_to_pb`/`binary_from_pb`, `mcp_to_pb`/`mcp_from_pb`, and
/// `extra_to_pb`/`extra_from_pb` for endpoint fields only it has.
macro_rules! conversions {
    ($protocol:expr) => {
        use crate::backend::openshell::policy::{
            CredentialBindingDoc, EndpointDoc, GraphqlOperationDoc, L7Doc, L7RuleDoc, MatcherDoc,
        };

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

        /// A draft chunk, its rule read without loss or not at all.
        fn chunk(c: pb::PolicyChunk) -> DraftChunk {
            let rule = c.proposed_rule.and_then(|r| {
                let mut rules = rules_from_pb(BTreeMap::from([(c.rule_name.clone(), r)])).ok()?;
                rules.remove(&c.rule_name)
            });
            DraftChunk { id: c.id, status: c.status, rule_name: c.rule_name, rule }
        }

        /// What a guest may see of a provider: never a credential value.
        fn provider(p: dm::Provider) -> ProviderInfo {
            ProviderInfo {
                name: p.metadata.map(|m| m.name).unwrap_or_default(),
                kind: p.r#type,
                credential_names: p.credentials.into_keys().collect(),
                readiness: ProviderReadiness::Unknown,
                reason: String::new(),
            }
        }

        fn matchers_to_pb(m: &BTreeMap<String, MatcherDoc>) -> BTreeMap<String, sb::L7QueryMatcher> {
            m.iter()
                .map(|(k, v)| (k.clone(), sb::L7QueryMatcher { glob: v.glob.clone(), any: v.any.clone() }))
                .collect()
        }

        fn matchers_from_pb(m: BTreeMap<String, sb::L7QueryMatcher>) -> BTreeMap<String, MatcherDoc> {
            m.into_iter().map(|(k, v)| (k, MatcherDoc { glob: v.glob, any: v.any })).collect()
        }

        // `L7Allow` and `L7DenyRule` have the same fields.
        macro_rules! l7_to_pb {
            ($ty:ident, $d:expr) => {{
                let d: &L7Doc = $d;
                sb::$ty {
                    method: d.method.clone(),
                    path: d.path.clone(),
                    command: d.command.clone(),
                    query: matchers_to_pb(&d.query),
                    operation_type: d.operation_type.clone(),
                    operation_name: d.operation_name.clone(),
                    fields: d.fields.clone(),
                    params: matchers_to_pb(&d.params),
                }
            }};
        }
        macro_rules! l7_from_pb {
            ($r:expr) => {{
                let r = $r;
                L7Doc {
                    method: r.method,
                    path: r.path,
                    command: r.command,
                    query: matchers_from_pb(r.query),
                    operation_type: r.operation_type,
                    operation_name: r.operation_name,
                    fields: r.fields,
                    params: matchers_from_pb(r.params),
                }
            }};
        }

        #[allow(clippy::needless_update, reason = "0.1 has a field 0.0 lacks; `extra_to_pb` sets it")]
        fn endpoint_to_pb(e: &EndpointDoc) -> sb::NetworkEndpoint {
            let mut ep = sb::NetworkEndpoint {
                host: e.host.clone(),
                port: u32::from(e.port),
                protocol: e.protocol.clone(),
                tls: tls_to_pb(e.tls),
                enforcement: enforcement_to_pb(e.enforcement),
                access: access_to_pb(e.access),
                rules: e
                    .rules
                    .iter()
                    .map(|r| sb::L7Rule { allow: r.allow.as_ref().map(|a| l7_to_pb!(L7Allow, a)) })
                    .collect(),
                allowed_ips: e.allowed_ips.clone(),
                ports: e.ports.iter().map(|p| u32::from(*p)).collect(),
                deny_rules: e.deny_rules.iter().map(|d| l7_to_pb!(L7DenyRule, d)).collect(),
                allow_encoded_slash: e.allow_encoded_slash,
                persisted_queries: e.persisted_queries.clone(),
                graphql_persisted_queries: e
                    .graphql_persisted_queries
                    .iter()
                    .map(|(k, o)| {
                        let op = sb::GraphqlOperation {
                            operation_type: o.operation_type.clone(),
                            operation_name: o.operation_name.clone(),
                            fields: o.fields.clone(),
                        };
                        (k.clone(), op)
                    })
                    .collect(),
                graphql_max_body_bytes: e.graphql_max_body_bytes,
                path: e.path.clone(),
                websocket_credential_rewrite: e.websocket_credential_rewrite,
                request_body_credential_rewrite: e.request_body_credential_rewrite,
                advisor_proposed: e.advisor_proposed,
                credential_signing: e.credential_signing.clone(),
                signing_service: e.signing_service.clone(),
                signing_region: e.signing_region.clone(),
                json_rpc_max_body_bytes: e.json_rpc_max_body_bytes,
                mcp: e.mcp.as_ref().map(mcp_to_pb),
                credential_binding: e
                    .credential_binding
                    .as_ref()
                    .map(|c| sb::NetworkCredentialBinding { provider: c.provider.clone() }),
                allow_uninspected_credentials: e.allow_uninspected_credentials,
                provider_credentialed: e.provider_credentialed,
                ..Default::default()
            };
            extra_to_pb(e, &mut ep);
            ep
        }

        fn endpoint_from_pb(ep: &sb::NetworkEndpoint) -> Result<EndpointDoc, String> {
            let port = |p: u32| u16::try_from(p).map_err(|_| format!("the gateway's policy has port {p}"));
            let mut e = EndpointDoc {
                host: ep.host.clone(),
                port: port(ep.port)?,
                ports: ep.ports.iter().map(|p| port(*p)).collect::<Result<_, _>>()?,
                protocol: ep.protocol.clone(),
                tls: tls_from_pb(&ep.tls)?,
                enforcement: enforcement_from_pb(&ep.enforcement)?,
                access: access_from_pb(&ep.access)?,
                rules: ep.rules.iter().map(|r| L7RuleDoc { allow: r.allow.clone().map(|a| l7_from_pb!(a)) }).collect(),
                allowed_ips: ep.allowed_ips.clone(),
                deny_rules: ep.deny_rules.iter().map(|d| l7_from_pb!(d.clone())).collect(),
                allow_encoded_slash: ep.allow_encoded_slash,
                persisted_queries: ep.persisted_queries.clone(),
                graphql_persisted_queries: ep
                    .graphql_persisted_queries
                    .iter()
                    .map(|(k, o)| {
                        let op = GraphqlOperationDoc {
                            operation_type: o.operation_type.clone(),
                            operation_name: o.operation_name.clone(),
                            fields: o.fields.clone(),
                        };
                        (k.clone(), op)
                    })
                    .collect(),
                graphql_max_body_bytes: ep.graphql_max_body_bytes,
                path: ep.path.clone(),
                websocket_credential_rewrite: ep.websocket_credential_rewrite,
                request_body_credential_rewrite: ep.request_body_credential_rewrite,
                advisor_proposed: ep.advisor_proposed,
                credential_signing: ep.credential_signing.clone(),
                signing_service: ep.signing_service.clone(),
                signing_region: ep.signing_region.clone(),
                json_rpc_max_body_bytes: ep.json_rpc_max_body_bytes,
                mcp: ep.mcp.clone().map(mcp_from_pb),
                credential_binding: ep
                    .credential_binding
                    .clone()
                    .map(|c| CredentialBindingDoc { provider: c.provider }),
                allow_uninspected_credentials: ep.allow_uninspected_credentials,
                provider_credentialed: ep.provider_credentialed,
                ..Default::default()
            };
            extra_from_pb(ep, &mut e);
            Ok(e)
        }

        fn rules_to_pb(rules: &BTreeMap<String, RuleDoc>) -> BTreeMap<String, sb::NetworkPolicyRule> {
            rules
                .iter()
                .map(|(key, r)| {
                    let rule = sb::NetworkPolicyRule {
                        name: r.name.clone().unwrap_or_else(|| key.clone()),
                        endpoints: r.endpoints.iter().map(endpoint_to_pb).collect(),
                        binaries: r.binaries.iter().map(binary_to_pb).collect(),
                    };
                    (key.clone(), rule)
                })
                .collect()
        }

        /// Every field the gateway sent, or an error naming a value this
        /// host cannot represent (never a silently dropped restriction).
        fn rules_from_pb(rules: BTreeMap<String, sb::NetworkPolicyRule>) -> Result<BTreeMap<String, RuleDoc>, String> {
            rules
                .into_iter()
                .map(|(key, r)| {
                    let doc = RuleDoc {
                        name: (r.name != key).then_some(r.name),
                        endpoints: r
                            .endpoints
                            .iter()
                            .map(endpoint_from_pb)
                            .collect::<Result<_, _>>()
                            .map_err(|e| format!("rule `{key}`: {e}"))?,
                        binaries: r.binaries.into_iter().map(binary_from_pb).collect(),
                    };
                    Ok((key, doc))
                })
                .collect()
        }

        /// What a new sandbox is made of: template, policy, providers,
        /// resources.
        fn spec_to_pb(req: &CreateRequest) -> pb::SandboxSpec {
            pb::SandboxSpec {
                environment: req.environment.clone().into_iter().collect(),
                template: Some(pb::SandboxTemplate {
                    image: req.image.clone(),
                    resources: shared::resources(&req.cpu, &req.memory),
                    ..Default::default()
                }),
                policy: req.policy.as_ref().map(policy_to_pb),
                providers: req.providers.clone(),
                resource_requirements: req.gpu.map(|n| pb::ResourceRequirements {
                    gpu: Some(pb::GpuResourceRequirements { count: (n > 0).then_some(n) }),
                }),
                ..Default::default()
            }
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

        #[cfg(test)]
        mod conversion_tests {
            use openshell_testgw::testing::Rng;
            use prost::Message;

            use super::*;
            use crate::backend::openshell::policy::tests::arbitrary_rules;

            #[test]
            fn rules_cross_the_wire_and_back_unchanged() {
                for seed in 0..400 {
                    let rules = arbitrary_rules(&mut Rng::new(seed), $protocol);
                    let pb = rules_to_pb(&rules);
                    let back = rules_from_pb(pb.clone()).unwrap();
                    assert_eq!(back, rules, "seed {seed}");
                    // And what the gateway holds is what goes back to it.
                    for (key, rule) in rules_to_pb(&back) {
                        assert_eq!(rule.encode_to_vec(), pb[&key].encode_to_vec(), "seed {seed}, rule {key}");
                    }
                }
            }

            #[test]
            fn every_endpoint_field_is_carried() {
                // Seeds until one endpoint of each generated set has set
                // every field: its encoding then holds every field number.
                let max = if $protocol == Protocol::V0_1 { 27 } else { 26 };
                let mut seen = std::collections::BTreeSet::new();
                for seed in 0..400 {
                    for rule in rules_to_pb(&arbitrary_rules(&mut Rng::new(seed), $protocol)).values() {
                        for ep in &rule.endpoints {
                            seen.extend(field_numbers(&ep.encode_to_vec()));
                        }
                    }
                }
                assert_eq!(seen, (1..=max).collect(), "fields the conversion never sets");
            }

            /// Field numbers present at the top level of an encoded message.
            fn field_numbers(mut b: &[u8]) -> Vec<u32> {
                let mut out = Vec::new();
                while !b.is_empty() {
                    let key = prost::encoding::decode_varint(&mut b).unwrap();
                    let wire = key & 7;
                    out.push((key >> 3) as u32);
                    match wire {
                        0 => drop(prost::encoding::decode_varint(&mut b).unwrap()),
                        2 => {
                            let n = prost::encoding::decode_varint(&mut b).unwrap() as usize;
                            b = &b[n..];
                        }
                        other => panic!("wire type {other}"),
                    }
                }
                out
            }

            #[test]
            fn values_this_host_does_not_know_are_errors() {
                let mut ep = endpoint_to_pb(&EndpointDoc { host: "h".into(), ..Default::default() });
                ep.ports = vec![70_000];
                let e = rules_from_pb(BTreeMap::from([(
                    "r".to_string(),
                    sb::NetworkPolicyRule { name: "r".into(), endpoints: vec![ep], binaries: vec![] },
                )]))
                .unwrap_err();
                assert!(e.contains("rule `r`") && e.contains("70000"), "{e}");
            }
        }
    };
}

pub(super) use conversions;
