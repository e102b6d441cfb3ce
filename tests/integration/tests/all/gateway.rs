//! The OpenShell backend against the test gateway: the official Python
//! SDK proves the gateway speaks the protocol; then generation detection,
//! authentication, TLS, large and odd data, network policy, and injected
//! faults (each ends in a retry that works or a clear error, never a hang).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use openshell_testgw::Protocol as Gw;
use openshell_wasm::backend::openshell::OpenShellBackend;
use openshell_wasm::backend::openshell::config::{GatewayConfig, Protocol, Secret};
use openshell_wasm::backend::{
    Backend, ExecEvent, ExecRequest, FileKind, Phase, SandboxInfo, SandboxSpec, Stdin, WriteOptions,
};
use openshell_wasm::error::ErrorCode;

use crate::harness::start_gateway;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cfg(addr: std::net::SocketAddr) -> GatewayConfig {
    let mut c = GatewayConfig::new(format!("http://{addr}"));
    c.rpc_timeout = Duration::from_secs(5);
    c
}

/// Run a command and collect (exit code, timed out, stdout, stderr).
async fn run(
    b: &dyn Backend,
    sb: &SandboxInfo,
    argv: &[&str],
    stdin: Bytes,
    env: &[(&str, &str)],
) -> (i32, bool, Vec<u8>, Vec<u8>) {
    let mut req = ExecRequest::new(argv, sb.workdir.clone(), Duration::from_secs(30));
    req.env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    req.stdin = Stdin::Bytes(stdin);
    let mut s = b.open(sb).exec(req).await.unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    loop {
        match tokio::time::timeout(Duration::from_secs(60), s.events.recv()).await.expect("no hang") {
            Some(ExecEvent::Stdout(b)) => out.extend_from_slice(&b),
            Some(ExecEvent::Stderr(b)) => err.extend_from_slice(&b),
            Some(ExecEvent::Exit(e)) => return (e.code, e.timed_out, out, err),
            Some(ExecEvent::Failed(e)) => panic!("exec failed: {e}"),
            None => panic!("stream ended without exit"),
        }
    }
}

/// Run one of `tests/python`'s scripts with the official SDK of
/// `generation` against `addr`; its stdout, which starts with OK.
async fn sdk_script(script: &str, addr: std::net::SocketAddr, generation: &str) -> String {
    let python = repo().join(format!(".venv-openshell-{generation}/bin/python"));
    assert!(
        python.exists(),
        "{} is missing: ./scripts/test.sh creates it (python3 -m venv .venv-openshell-{generation} && pip install openshell=={})",
        python.display(),
        if generation == "0.0" { "0.0.116" } else { "0.1.5" }
    );
    let out = tokio::process::Command::new(python)
        .arg(repo().join("tests/python").join(script))
        .arg(addr.to_string())
        .arg(generation)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the official SDK failed against the test gateway:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("OK"), "{stdout}");
    stdout
}

async fn python_sdk(protocol: Gw, generation: &str) {
    let state = tempfile::tempdir().unwrap();
    let gw = start_gateway(protocol, state.path(), |c| {
        c.providers = vec![openshell_testgw::ProviderSeed {
            name: "github".into(),
            kind: "github".into(),
            credentials: [("GITHUB_TOKEN".to_string(), "ghp-sdk-proof".to_string())].into(),
        }];
        c.draft_proposals =
            vec![openshell_testgw::DraftProposal { host: "pypi.org".into(), port: 443, binary: "/usr/bin/pip".into() }];
    })
    .await;
    sdk_script("sdk_proof.py", gw.addr, generation).await;

    // The provider and draft-policy calls, with the SDK's own stubs.
    sdk_script("sdk_providers_drafts.py", gw.addr, generation).await;

    // A sandbox the SDK created with an L7 policy reads back unchanged.
    let out = sdk_script("sdk_l7_policy.py", gw.addr, generation).await;
    let name = out.trim().strip_prefix("OK ").unwrap();
    let b = OpenShellBackend::connect(cfg(gw.addr)).await.unwrap();
    let sb = b.get(name).await.unwrap();
    let got = b.open(&sb).network_policy().await.unwrap();
    let (tls, enforcement) = ("terminate", "enforce");
    let want = format!(
        "github:
  endpoints:
    - host: api.github.com
      port: 443
      ports: [443]
      protocol: rest
      tls: {tls}
      enforcement: {enforcement}
      rules:
        - allow: {{method: GET, path: /repos/*, query: {{per_page: '1*'}}}}
      deny_rules:
        - {{method: DELETE, path: /repos/**}}
      allow_encoded_slash: true
      credential_binding: {{provider: github}}
  binaries: [/usr/bin/git]
"
    );
    use openshell_wasm::backend::openshell::policy::parse_rules;
    assert_eq!(parse_rules(&got.rules_yaml).unwrap(), parse_rules(&want).unwrap(), "{}", got.rules_yaml);
    b.delete(name).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_0_0_116() {
    python_sdk(Gw::V0_0, "0.0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_0_1_5() {
    python_sdk(Gw::V0_1, "0.1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generation_is_detected_and_a_mismatch_refused() {
    let state = tempfile::tempdir().unwrap();
    let gw = start_gateway(Gw::V0_0, state.path(), |_| {}).await;
    let b = OpenShellBackend::connect(cfg(gw.addr)).await.unwrap();
    assert_eq!((b.protocol(), b.gateway_version()), (Protocol::V0_0, "0.0.116"));
    let mut forced = cfg(gw.addr);
    forced.protocol = Some(Protocol::V0_1);
    let e = OpenShellBackend::connect(forced).await.unwrap_err();
    assert!(e.message.contains("reports version 0.0.116") && e.message.contains("--protocol"), "{e}");
    // Nothing was created by the refused client.
    assert!(b.list(&[]).await.unwrap().is_empty());

    let gw = start_gateway(Gw::V0_1, state.path().join("x").as_path(), |c| c.version = "dev-build".into()).await;
    let e = OpenShellBackend::connect(cfg(gw.addr)).await.unwrap_err();
    assert!(e.message.contains("give --protocol"), "{e}");
    let mut forced = cfg(gw.addr);
    forced.protocol = Some(Protocol::V0_1);
    assert_eq!(OpenShellBackend::connect(forced).await.unwrap().protocol(), Protocol::V0_1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_is_down_fails_fast_and_clearly() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    // The default settings: calls retry for 30 s, but a refused first
    // connection gives up after a second or so. The bound is a hang guard
    // that the 30 s retry would trip, not a speed test.
    let c = GatewayConfig::new(format!("http://{addr}"));
    assert_eq!(c.rpc_timeout, Duration::from_secs(30));
    let e = tokio::time::timeout(Duration::from_secs(15), OpenShellBackend::connect(c))
        .await
        .expect("a refused connection fails without waiting out the retry budget")
        .unwrap_err();
    assert!(e.message.contains("cannot reach the OpenShell gateway"), "{e}");
    assert_eq!(e.code, ErrorCode::Unavailable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_answers_unavailable_at_first_is_retried_at_connect() {
    // UNAVAILABLE from a gateway that answered is not a refusal: the
    // first connection keeps retrying it, with the default settings.
    let state = tempfile::tempdir().unwrap();
    let gw = start_gateway(Gw::V0_1, state.path(), |c| c.faults.unavailable_first = 2).await;
    let c = GatewayConfig::new(format!("http://{}", gw.addr));
    let b = tokio::time::timeout(Duration::from_secs(60), OpenShellBackend::connect(c)).await.expect("no hang");
    assert_eq!(b.unwrap().protocol(), Protocol::V0_1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_calls_are_retried() {
    let state = tempfile::tempdir().unwrap();
    let gw = start_gateway(Gw::V0_1, state.path(), |c| c.faults.unavailable_first = 3).await;
    let b = OpenShellBackend::connect(cfg(gw.addr)).await.unwrap();
    let sb = b.create(&SandboxSpec::default().with_ready_timeout(Duration::from_secs(30))).await.unwrap();
    assert_eq!(run(&b, &sb, &["echo", "ok"], Bytes::new(), &[]).await.2, b"ok\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_gateways_hit_the_deadline() {
    let state = tempfile::tempdir().unwrap();
    let gw = start_gateway(Gw::V0_1, state.path(), |c| c.faults.delay = Duration::from_secs(20)).await;
    let mut c = cfg(gw.addr);
    c.rpc_timeout = Duration::from_secs(1);
    let started = Instant::now();
    let e = OpenShellBackend::connect(c).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "no hang: {:?}", started.elapsed());
    assert!(matches!(e.code, ErrorCode::Timeout | ErrorCode::Unavailable), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_exec_stream_is_an_error_not_a_hang() {
    let state = tempfile::tempdir().unwrap();
    let gw = start_gateway(Gw::V0_0, state.path(), |c| c.faults.drop_exec_after = Some(3)).await;
    let b = OpenShellBackend::connect(cfg(gw.addr)).await.unwrap();
    let sb = b.create(&SandboxSpec::default().with_ready_timeout(Duration::from_secs(30))).await.unwrap();
    let req = ExecRequest::new(["seq", "1", "200000"], sb.workdir.clone(), Duration::from_secs(30));
    let mut s = b.open(&sb).exec(req).await.unwrap();
    let failure = loop {
        match tokio::time::timeout(Duration::from_secs(20), s.events.recv()).await.expect("no hang") {
            Some(ExecEvent::Failed(e)) => break e,
            Some(ExecEvent::Exit(_)) | None => panic!("the dropped stream must be reported"),
            Some(_) => {}
        }
    };
    assert_eq!(failure.code, ErrorCode::Unavailable, "{failure}");
    assert!(failure.message.contains("exit status"), "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_that_never_gets_ready_is_deleted() {
    let state = tempfile::tempdir().unwrap();
    let gw = start_gateway(Gw::V0_1, state.path(), |c| c.faults.never_ready = true).await;
    let b = OpenShellBackend::connect(cfg(gw.addr)).await.unwrap();
    let started = Instant::now();
    let e = b.create(&SandboxSpec::default().with_ready_timeout(Duration::from_secs(2))).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Timeout, "{e}");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(b.list(&[]).await.unwrap().is_empty(), "the half-created sandbox must be deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_going_to_error_is_reported_with_its_reason() {
    let state = tempfile::tempdir().unwrap();
    let gw = start_gateway(Gw::V0_0, state.path(), |c| c.faults.error_after = Some(Duration::from_millis(800))).await;
    let b = OpenShellBackend::connect(cfg(gw.addr)).await.unwrap();
    let sb = b.create(&SandboxSpec::default().with_ready_timeout(Duration::from_secs(30))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let info = b.get(&sb.name).await.unwrap();
    assert_eq!(info.phase, Phase::Error);
    assert!(info.message.contains("MainProcessExited"), "{}", info.message);
    let req = ExecRequest::new(["true"], sb.workdir.clone(), Duration::from_secs(5));
    let e = b.open(&sb).exec(req).await.map(|_| ()).unwrap_err();
    assert!(e.message.contains("not ready"), "{e}");
    b.delete(&sb.name).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_are_sent_and_never_shown() {
    let state = tempfile::tempdir().unwrap();
    let gw = start_gateway(Gw::V0_1, state.path(), |c| c.bearer_token = Some("s3cret-token".into())).await;
    // Health needs no token, so connecting works; the first real call fails.
    let b = OpenShellBackend::connect(cfg(gw.addr)).await.unwrap();
    let e = b.list(&[]).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Backend("unauthenticated".into()), "{e}");
    let mut wrong = cfg(gw.addr);
    wrong.token = Some(Secret::new("wrong"));
    let e = OpenShellBackend::connect(wrong).await.unwrap().list(&[]).await.unwrap_err();
    assert!(!e.to_string().contains("wrong") || e.to_string().contains("wrong token"), "{e}");
    let mut right = cfg(gw.addr);
    right.token = Some(Secret::new("s3cret-token"));
    assert!(!format!("{right:?}").contains("s3cret"));
    let b = OpenShellBackend::connect(right).await.unwrap();
    assert!(b.list(&[]).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = openshell_testgw::testing::Pki::generate(dir.path());
    let tls = pki.server.clone();
    let gw = start_gateway(Gw::V0_1, &dir.path().join("state"), |c| c.tls = Some(tls)).await;
    let mut c = GatewayConfig::new(format!("https://localhost:{}", gw.addr.port()));
    c.rpc_timeout = Duration::from_secs(5);
    c.tls.ca_pem = Some(pki.ca_pem.clone().into_bytes());
    // Without a client certificate the handshake is refused.
    assert!(OpenShellBackend::connect(c.clone()).await.is_err());
    c.tls.cert_pem = Some(pki.client_cert_pem.clone().into_bytes());
    c.tls.key_pem = Some(Secret::new(pki.client_key_pem.clone()));
    let b = OpenShellBackend::connect(c).await.unwrap();
    assert_eq!(b.protocol(), Protocol::V0_1);
    assert!(b.list(&[]).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_and_odd_data_travel_intact() {
    use futures::StreamExt;
    use sha2::{Digest, Sha256};
    for protocol in [Gw::V0_0, Gw::V0_1] {
        let state = tempfile::tempdir().unwrap();
        let gw = start_gateway(protocol, state.path(), |_| {}).await;
        let b = OpenShellBackend::connect(cfg(gw.addr)).await.unwrap();
        let sb = b.create(&SandboxSpec::default().with_ready_timeout(Duration::from_secs(30))).await.unwrap();

        // 3 MiB of stdin: over the 1 MiB request limit, so streamed.
        let data: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let (code, _, out, _) = run(&b, &sb, &["sha256sum"], Bytes::from(data.clone()), &[]).await;
        assert_eq!(code, 0);
        assert_eq!(String::from_utf8_lossy(&out[..64]), hex::encode(Sha256::digest(&data)));

        // Newlines in argv and env, and OPENSHELL_* names, which the
        // gateway refuses raw.
        let (code, _, out, _) =
            run(&b, &sb, &["printf", "%s|%s|%s", "a\nb", "c\r\nd", "$(x)"], Bytes::new(), &[("OPENSHELL_X", "1")])
                .await;
        assert_eq!((code, out.as_slice()), (0, &b"a\nb|c\r\nd|$(x)"[..]));
        let (_, _, out, _) = run(
            &b,
            &sb,
            &["sh", "-c", "printf %s \"$V|$OPENSHELL_X\""],
            Bytes::new(),
            &[("V", "x\ny"), ("OPENSHELL_X", "ok")],
        )
        .await;
        assert_eq!(out, b"x\ny|ok");

        // Files: binary, chunk-boundary sizes, odd names.
        for (name, size) in
            [("empty", 0usize), ("one", 1), ("edge", 960 * 1024), ("edge+1", 960 * 1024 + 1), ("big", 5 << 20)]
        {
            let odd = format!("{}/dir with space/'q' \"d\" é\nnl-{name}", sb.workdir);
            let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let mut sink = b
                .open(&sb)
                .write_file(&odd, WriteOptions { create_parents: true, ..WriteOptions::default() })
                .await
                .unwrap();
            // Pieces of every kind: gathered small ones, ones sent as they
            // are, some larger than a message.
            let (mut at, mut sizes) = (0, [700_000, 1, 4096, 3 << 20, 131_071, 131_072].iter().cycle());
            while at < size {
                let end = (at + sizes.next().unwrap()).min(size);
                sink.write(Bytes::copy_from_slice(&body[at..end])).await.unwrap();
                at = end;
            }
            let st = sink.finish().await.unwrap();
            assert_eq!((st.size, st.kind), (size as u64, FileKind::File), "{name}");
            let read = b.open(&sb).read_file(&odd).await.unwrap();
            assert_eq!(read.size, size as u64);
            let back: Vec<u8> = read.content.map(|c| c.unwrap().to_vec()).concat().await;
            assert!(back == body, "{name}: {} bytes back of {size}", back.len());
        }
        let names: Vec<String> = b
            .open(&sb)
            .list_dir(&format!("{}/dir with space", sb.workdir))
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert!(names.iter().any(|n| n.ends_with("é\nnl-edge+1")), "{names:?}");
        b.delete(&sb.name).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_told_apart_from_exit_124() {
    let state = tempfile::tempdir().unwrap();
    let gw = start_gateway(Gw::V0_1, state.path(), |_| {}).await;
    let b = OpenShellBackend::connect(cfg(gw.addr)).await.unwrap();
    let sb = b.create(&SandboxSpec::default().with_ready_timeout(Duration::from_secs(30))).await.unwrap();
    for (argv, timed_out) in [(vec!["sleep", "30"], true), (vec!["sh", "-c", "exit 124"], false)] {
        let req = ExecRequest::new(&argv, sb.workdir.clone(), Duration::from_millis(1500));
        let mut s = b.open(&sb).exec(req).await.unwrap();
        let exit = loop {
            match tokio::time::timeout(Duration::from_secs(30), s.events.recv()).await.unwrap() {
                Some(ExecEvent::Exit(e)) => break e,
                Some(ExecEvent::Failed(e)) => panic!("{e}"),
                None => panic!("no exit"),
                Some(_) => {}
            }
        };
        assert_eq!((exit.code, exit.timed_out), (124, timed_out), "{argv:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_policy_and_ports() {
    for protocol in [Gw::V0_0, Gw::V0_1] {
        let state = tempfile::tempdir().unwrap();
        let gw = start_gateway(protocol, state.path(), |_| {}).await;
        let b = OpenShellBackend::connect(cfg(gw.addr)).await.unwrap();
        let mut spec = SandboxSpec::default().with_ready_timeout(Duration::from_secs(30));
        spec.policy_yaml = Some(
            "version: 1\nnetwork_policies:\n  pypi:\n    endpoints:\n      - host: pypi.org\n        ports: [443]\n"
                .into(),
        );
        let sb = b.create(&spec).await.unwrap();
        let p = b.open(&sb).network_policy().await.unwrap();
        assert!(p.rules_yaml.contains("pypi.org"), "{protocol:?}: {p:?}");
        let rules = "github:\n  endpoints:\n    - host: api.github.com\n      ports: [443]\n      access: read-only\n      enforcement: enforce\n  binaries: [/usr/bin/git]\n";
        let updated = b.open(&sb).update_network_policy(rules).await.unwrap();
        assert!(updated.version > p.version, "{updated:?}");
        let now = b.open(&sb).network_policy().await.unwrap();
        assert!(now.rules_yaml.contains("api.github.com") && !now.rules_yaml.contains("pypi.org"), "{now:?}");
        assert!(
            now.rules_yaml.contains("read-only") && now.rules_yaml.contains("enforce"),
            "enum fields survive: {now:?}"
        );
        assert_eq!(
            b.open(&sb).update_network_policy("x:\n  endpoints:\n    - host: ''\n").await.unwrap_err().code,
            ErrorCode::InvalidArgument
        );
        let port = b.open(&sb).expose_port(8080, "web").await.unwrap();
        assert!(port.url.contains("8080"), "{port:?}");
        b.delete(&sb.name).await.unwrap();
    }
}

/// Every field of a network rule, as the generation spells it.
fn full_rules(protocol: Gw) -> String {
    let only = match protocol {
        Gw::V0_0 => ("", "      - {path: /usr/bin/legacy, harness: true}\n"),
        _ => (
            "        token_grant_owner: ci-bot\n        mcp: {strict_tool_names: true, versions: ['2025-06-18']}\n",
            "",
        ),
    };
    format!(
        "network_policies:
  github:
    endpoints:
      - host: api.github.com
        port: 443
        ports: [443, 8443]
        protocol: rest
        tls: terminate
        enforcement: enforce
        rules:
          - allow:
              method: GET
              path: /repos/*
              query: {{per_page: '1*', sort: {{any: [created, updated]}}}}
        deny_rules:
          - {{method: DELETE, path: '/repos/*/hooks/**'}}
        allowed_ips: [10.0.0.0/8]
        allow_encoded_slash: true
        path: /repos/**
        websocket_credential_rewrite: true
        request_body_credential_rewrite: true
        credential_signing: sigv4
        signing_service: execute-api
        signing_region: eu-west-1
        credential_binding: {{provider: github}}
        allow_uninspected_credentials: true
{}    binaries:
      - /usr/bin/git
{}  graph:
    name: graph-rule
    endpoints:
      - host: '**.example.com'
        protocol: graphql
        persisted_queries: allow_registered
        graphql_persisted_queries:
          abc123: {{operation_type: query, operation_name: Viewer, fields: [viewer]}}
        graphql_max_body_bytes: 4096
        rules:
          - allow: {{operation_type: query, fields: [viewer, repository]}}
      - host: mcp.internal
        protocol: mcp
        json_rpc_max_body_bytes: 8192
        advisor_proposed: true
        provider_credentialed: true
        rules:
          - allow: {{method: tools/call, params: {{name: 'search_*'}}}}
",
        only.0, only.1
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_rules_cross_both_generations_without_loss() {
    use openshell_wasm::backend::openshell::policy::parse_rules;
    for protocol in [Gw::V0_0, Gw::V0_1] {
        let state = tempfile::tempdir().unwrap();
        let gw = start_gateway(protocol, state.path(), |_| {}).await;
        let b = OpenShellBackend::connect(cfg(gw.addr)).await.unwrap();
        let sb = b.create(&SandboxSpec::default().with_ready_timeout(Duration::from_secs(30))).await.unwrap();
        let text = full_rules(protocol);
        let set = b.open(&sb).update_network_policy(&text).await.unwrap();
        let got = b.open(&sb).network_policy().await.unwrap();
        assert_eq!(
            parse_rules(&got.rules_yaml).unwrap(),
            parse_rules(&text).unwrap(),
            "{protocol:?}:\n{}",
            got.rules_yaml
        );
        assert!(got.rules_yaml.contains("/repos/*") && got.rules_yaml.contains("DELETE"), "{}", got.rules_yaml);

        // Writing back what was read is the same policy to the gateway:
        // same hash, so no new revision.
        let again = b.open(&sb).update_network_policy(&got.rules_yaml).await.unwrap();
        assert_eq!((again.version, &again.policy_hash), (set.version, &set.policy_hash), "{protocol:?}");

        // A field the other generation has is refused by name, not dropped.
        let foreign = match protocol {
            Gw::V0_0 => "x:\n  endpoints:\n    - {host: h, token_grant_owner: me}\n",
            _ => "x:\n  binaries: [{path: /bin/a, harness: true}]\n",
        };
        let e = b.open(&sb).update_network_policy(foreign).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument, "{e}");
        assert!(e.message.contains("token_grant_owner") || e.message.contains("harness"), "{e}");
        assert_eq!(
            b.open(&sb).network_policy().await.unwrap().version,
            set.version,
            "the refused update changed nothing"
        );
        b.delete(&sb.name).await.unwrap();
    }
}
