use openshell_testgw::testing::Rng;

use super::*;

/// Random rules using every field a `protocol` gateway carries; the wire
/// tests convert the same documents.
pub(crate) fn arbitrary_rules(rng: &mut Rng, protocol: Protocol) -> BTreeMap<String, RuleDoc> {
    (0..rng.range(0, 3)).map(|i| (format!("rule-{i}"), arbitrary_rule(rng, protocol))).collect()
}

fn word(rng: &mut Rng) -> String {
    const WORDS: &[&str] = &["api", "*.github.com", "/repos/*", "x y", "é", "GET", "10.0.0.0/8", "q:1", "yes", "1"];
    WORDS[rng.below(WORDS.len() as u64) as usize].to_string()
}

fn maybe_word(rng: &mut Rng) -> String {
    if rng.chance(50) { word(rng) } else { String::new() }
}

fn words(rng: &mut Rng) -> Vec<String> {
    (0..rng.range(0, 2)).map(|_| word(rng)).collect()
}

fn pick<T: Copy>(rng: &mut Rng, from: &[T]) -> Option<T> {
    let i = rng.below(from.len() as u64 + 1) as usize;
    from.get(i).copied()
}

fn matchers(rng: &mut Rng) -> BTreeMap<String, MatcherDoc> {
    (0..rng.range(0, 2)).map(|_| (word(rng), MatcherDoc { glob: maybe_word(rng), any: words(rng) })).collect()
}

fn l7(rng: &mut Rng) -> L7Doc {
    L7Doc {
        method: maybe_word(rng),
        path: maybe_word(rng),
        command: maybe_word(rng),
        query: matchers(rng),
        operation_type: maybe_word(rng),
        operation_name: maybe_word(rng),
        fields: words(rng),
        params: matchers(rng),
    }
}

fn arbitrary_rule(rng: &mut Rng, protocol: Protocol) -> RuleDoc {
    let endpoints = (0..rng.range(0, 2)).map(|_| arbitrary_endpoint(rng, protocol)).collect();
    let binaries = (0..rng.range(0, 2))
        .map(|i| BinaryDoc { path: format!("/usr/bin/tool{i}"), harness: protocol == Protocol::V0_0 && rng.chance(30) })
        .collect();
    RuleDoc { name: rng.chance(20).then(|| maybe_word(rng)), endpoints, binaries }
}

fn arbitrary_endpoint(rng: &mut Rng, protocol: Protocol) -> EndpointDoc {
    let v01 = protocol == Protocol::V0_1;
    EndpointDoc {
        host: word(rng),
        port: if rng.chance(30) { rng.range(1, 65535) as u16 } else { 0 },
        ports: (0..rng.range(0, 2)).map(|_| rng.range(1, 65535) as u16).collect(),
        protocol: pick(rng, forms::PROTOCOLS).unwrap_or_default().to_string(),
        tls: pick(rng, &[Tls::Skip, Tls::Terminate, Tls::Passthrough]),
        enforcement: pick(rng, &[Enforcement::Enforce, Enforcement::Audit]),
        access: pick(rng, &[Access::ReadOnly, Access::ReadWrite, Access::Full]),
        rules: (0..rng.range(0, 2)).map(|_| L7RuleDoc { allow: rng.chance(90).then(|| l7(rng)) }).collect(),
        allowed_ips: words(rng),
        deny_rules: (0..rng.range(0, 2)).map(|_| l7(rng)).collect(),
        allow_encoded_slash: rng.chance(50),
        persisted_queries: pick(rng, &["deny", "allow_registered"]).unwrap_or_default().to_string(),
        graphql_persisted_queries: (0..rng.range(0, 2))
            .map(|_| {
                let op = GraphqlOperationDoc {
                    operation_type: maybe_word(rng),
                    operation_name: maybe_word(rng),
                    fields: words(rng),
                };
                (word(rng), op)
            })
            .collect(),
        graphql_max_body_bytes: rng.range(0, 1 << 20) as u32,
        path: maybe_word(rng),
        websocket_credential_rewrite: rng.chance(50),
        request_body_credential_rewrite: rng.chance(50),
        advisor_proposed: rng.chance(50),
        credential_signing: pick(rng, &["sigv4"]).unwrap_or_default().to_string(),
        signing_service: maybe_word(rng),
        signing_region: maybe_word(rng),
        json_rpc_max_body_bytes: rng.range(0, 1 << 20) as u32,
        mcp: rng.chance(50).then(|| McpDoc {
            strict_tool_names: pick(rng, &[true, false]),
            allow_all_known_mcp_methods: pick(rng, &[true, false]),
            versions: if v01 { words(rng) } else { Vec::new() },
        }),
        credential_binding: rng.chance(50).then(|| CredentialBindingDoc { provider: maybe_word(rng) }),
        allow_uninspected_credentials: rng.chance(50),
        provider_credentialed: rng.chance(50),
        token_grant_owner: if v01 { maybe_word(rng) } else { String::new() },
    }
}

#[test]
fn every_generated_document_renders_and_reads_back_unchanged() {
    for seed in 0..400 {
        let mut rng = Rng::new(seed);
        let protocol = if seed % 2 == 0 { Protocol::V0_0 } else { Protocol::V0_1 };
        let rules = arbitrary_rules(&mut rng, protocol);
        let text = render_rules(&rules);
        let again = parse_rules(&text).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
        assert_eq!(rules, again, "seed {seed}:\n{text}");
        check_generation(&rules, protocol).unwrap();
    }
}

#[test]
fn an_l7_restriction_survives_a_read_and_write() {
    let text = "github:\n  endpoints:\n    - host: api.github.com\n      port: 443\n      protocol: rest\n      tls: terminate\n      enforcement: enforce\n      rules:\n        - allow:\n            method: GET\n            path: /repos/*\n            query:\n              per_page: '1*'\n              sort: {any: [created, updated]}\n      deny_rules:\n        - method: DELETE\n          path: /**\n  binaries:\n    - /usr/bin/git\n    - {path: /usr/bin/curl}\n";
    let rules = parse_rules(text).unwrap();
    let ep = &rules["github"].endpoints[0];
    assert_eq!((ep.port, ep.protocol.as_str(), ep.tls), (443, "rest", Some(Tls::Terminate)));
    let allow = ep.rules[0].allow.as_ref().unwrap();
    assert_eq!((allow.method.as_str(), allow.path.as_str()), ("GET", "/repos/*"));
    assert_eq!(allow.query["sort"].any, ["created", "updated"]);
    assert_eq!(ep.deny_rules[0].method, "DELETE");
    assert_eq!(rules["github"].binaries[1].path, "/usr/bin/curl");
    let rendered = render_rules(&rules);
    assert!(rendered.contains("/repos/*") && rendered.contains("DELETE"), "{rendered}");
    assert_eq!(parse_rules(&rendered).unwrap(), rules);
}

#[test]
fn bad_values_are_refused_with_their_line_and_column() {
    for (text, says) in [
        ("x:\n  endpoints:\n    - host: h\n      access: everything\n", "line 4 column 15"),
        ("x:\n  endpoints:\n    - host: ''\n", "line 3 column"),
        ("x:\n  endpoints:\n    - host: h\n      ports: [443, 0]\n", "line 4 column"),
        ("x:\n  endpoints:\n    - host: h\n      port: 70000\n", "line 4 column"),
        ("x:\n  endpoints:\n    - host: h\n      protocol: resst\n", "line 4 column"),
        ("x:\n  endpoints:\n    - host: h\n      credential_signing: sigv2\n", "line 4 column"),
        ("x:\n  endpoints:\n    - host: h\n      rules:\n        - allow: {mehtod: GET}\n", "line 5 column"),
        ("x:\n  binaries: [git]\n", "line 2 column"),
        ("not: [valid, rules", "line 1 column"),
    ] {
        let e = parse_rules(text).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::InvalidArgument);
        assert!(e.message.contains(says), "{text:?}: {e}");
    }
}

#[test]
fn a_whole_policy_reads_openshells_spelling_too() {
    let p =
        parse_policy("version: 1\nfilesystem_policy:\n  include_workdir: true\nnetwork_policies: {}\n", "f").unwrap();
    assert!(p.filesystem.unwrap().include_workdir);
    let e = parse_policy("versoin: 1\n", "f").unwrap_err();
    assert!(e.message.contains("line 1 column 1"), "{e}");
}

#[test]
fn fields_a_generation_lacks_are_refused_not_dropped() {
    let v01_only = parse_rules("x:\n  endpoints:\n    - host: h\n      token_grant_owner: me\n").unwrap();
    let e = check_generation(&v01_only, Protocol::V0_0).unwrap_err();
    assert!(e.message.contains("token_grant_owner") && e.message.contains("0.0"), "{e}");
    check_generation(&v01_only, Protocol::V0_1).unwrap();
    let versions = parse_rules("x:\n  endpoints:\n    - host: h\n      mcp: {versions: ['2025-06-18']}\n").unwrap();
    assert!(check_generation(&versions, Protocol::V0_0).unwrap_err().message.contains("mcp.versions"));
    let harness = parse_rules("x:\n  binaries: [{path: /bin/a, harness: true}]\n").unwrap();
    assert!(check_generation(&harness, Protocol::V0_1).unwrap_err().message.contains("harness"));
    check_generation(&harness, Protocol::V0_0).unwrap();
}

#[test]
fn unknown_settings_from_the_gateway_are_errors_not_unset() {
    assert_eq!(setting_from_str::<Tls>("tls", "").unwrap(), None);
    assert_eq!(setting_from_str::<Access>("access", "read-only").unwrap(), Some(Access::ReadOnly));
    assert!(setting_from_str::<Enforcement>("enforcement", "block").unwrap_err().contains("`block`"));
}
