//! Secrets never appear in what the host prints: bearer tokens, mTLS
//! private keys and credentials passed into sandboxes stay out of logs (at
//! trace level, plain and JSON), error messages and `--json` output, on
//! success and on failure.

use std::process::Output;

use openshell_testgw::testing::{Pki, Running, isolated};
use test_artifacts as guests;

use crate::BIN;

/// A value nobody else uses, so a match can only be a leak.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}-{nanos:x}-{}", std::process::id())
}

fn cli(home: &std::path::Path, pki: &Pki, port: u16, token_file: &str, args: &[&str], json_logs: bool) -> Output {
    let mut c = isolated(BIN, home);
    c.arg("-vvv");
    if json_logs {
        c.arg("--log-json");
    }
    c.args(args)
        .args(["--backend", "openshell", "--gateway", &format!("https://localhost:{port}")])
        .arg("--tls-ca")
        .arg(&pki.ca_file)
        .arg("--tls-cert")
        .arg(&pki.client_cert_file)
        .arg("--tls-key")
        .arg(&pki.client_key_file)
        .args(["--token-file", token_file, "--rpc-timeout", "10"])
        .env("RUST_LOG", "trace");
    c.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_keys_and_credentials_never_appear_in_output() {
    let home = tempfile::tempdir().unwrap();
    let pki = Pki::generate(home.path());
    let token = unique("tok");
    let credential = unique("sk-live");
    let provider_credential = unique("ghp");
    let mut config = openshell_testgw::Config::new(openshell_testgw::Protocol::V0_1, home.path().join("gateway"));
    config.tls = Some(pki.server.clone());
    config.bearer_token = Some(token.clone());
    // Credential providers, whose values the gateway returns as it stores
    // them: the host must not pass them on or log them.
    config.providers = ["github", "gitlab", "other"]
        .map(|name| openshell_testgw::ProviderSeed {
            name: name.into(),
            kind: name.into(),
            credentials: [("TOKEN".to_string(), provider_credential.clone())].into(),
        })
        .into();
    let gw = Running::start(config).await;
    let port = gw.addr.port();
    let path = |name: &str| home.path().join(name).display().to_string();
    std::fs::write(path("token"), format!("{token}\n")).unwrap();
    std::fs::write(path("wrong-token"), unique("wrong")).unwrap();
    let env_arg = format!("API_KEY={credential}");
    std::fs::write(
        path("providers.toml"),
        "[sandbox]\ncreate = true\npolicy = true\nproviders = [\"github\", \"gitlab*\"]\ngpu = true\nmax-cpu = \"1\"\nmax-memory = \"1Gi\"\n",
    )
    .unwrap();
    let providers_policy = path("providers.toml");

    let mut outputs: Vec<(String, Output)> = Vec::new();
    for json_logs in [false, true] {
        // Blocking calls on one worker; the gateway runs on the other.
        let arg_refs = ["run", guests::SMOKE_ECHO.path(), "--input", "hello", "--json", "--sandbox-env", &env_arg];
        let ok = cli(home.path(), &pki, port, &path("token"), &arg_refs, json_logs);
        assert!(ok.status.success(), "the run failed: {}", String::from_utf8_lossy(&ok.stderr));
        assert!(String::from_utf8_lossy(&ok.stdout).contains("hello"), "{}", String::from_utf8_lossy(&ok.stdout));
        outputs.push((format!("run, json logs {json_logs}"), ok));
        let denied = cli(home.path(), &pki, port, &path("wrong-token"), &arg_refs, json_logs);
        assert!(!denied.status.success(), "a wrong token must be refused");
        outputs.push((format!("wrong token, json logs {json_logs}"), denied));
        // A guest that creates a sandbox with a provider, lists, attaches
        // and detaches providers.
        let args = ["run", guests::SANDBOX_OPTIONS.path(), "--json", "--policy", &providers_policy];
        let providers = cli(home.path(), &pki, port, &path("token"), &args, json_logs);
        assert!(providers.status.success(), "{}", String::from_utf8_lossy(&providers.stderr));
        assert!(String::from_utf8_lossy(&providers.stdout).contains("names=github,gitlab"));
        outputs.push((format!("providers, json logs {json_logs}"), providers));
        let list = cli(home.path(), &pki, port, &path("token"), &["sandbox", "list", "--json"], json_logs);
        assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
        outputs.push((format!("list, json logs {json_logs}"), list));
    }
    // A line of the private key's body: any of them would be a leak.
    let key_line = pki.client_key_pem.lines().nth(1).unwrap().to_string();
    for (what, out) in &outputs {
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(all.lines().count() > 10, "{what}: trace logging printed almost nothing:\n{all}");
        for (secret, name) in [
            (&token, "the bearer token"),
            (&key_line, "the mTLS key"),
            (&credential, "the credential"),
            (&provider_credential, "a provider's credential"),
        ] {
            assert!(!all.contains(secret.as_str()), "{what}: {name} appears in the output");
        }
        assert!(!all.contains("PRIVATE KEY"), "{what}: a private key appears in the output");
    }
    drop(gw);
}

/// The credentials of model aliases and HTTP rules, which the host adds to
/// a guest's requests, never appear in what the host prints: not at trace
/// level (hyper and rustls included), not in JSON logs, not in `--json`,
/// not when the provider quotes the key back in an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_and_http_credentials_never_appear_in_output() {
    use openshell_test_model::{ModelServer, Reply, Script, Step};
    let home = tempfile::tempdir().unwrap();
    let key = unique("sk-model");
    let quoted = format!("{{\"error\":{{\"message\":\"Incorrect API key provided: {key}\"}}}}");
    let steps = [false, true].iter().flat_map(|_| {
        [
            Step::new(Reply::Status { status: 401, retry_after: None, body: quoted.clone() }),
            Step::new(Reply::text("fine")),
        ]
    });
    let server = ModelServer::start(Script::new(steps)).await.unwrap();
    let port = server.addr().port();
    let policy = home.path().join("policy.toml");
    let cred = "credentials = [{ header = \"authorization\", prefix = \"Bearer \", env = \"OW_TEST_MODEL_KEY\" }]";
    std::fs::write(
        &policy,
        format!(
            "[[http.allow]]\nscheme = \"http\"\nhost = \"127.0.0.1\"\nport = {port}\n{cred}\n\
             [model.aliases.m]\nurl = \"{}\"\nmodel = \"x\"\n{cred}\n",
            server.base_url()
        ),
    )
    .unwrap();
    let input = format!(
        "[{{\"method\": \"GET\", \"url\": \"http://127.0.0.1:{port}/bytes/3\"}}, \
          {{\"method\": \"GET\", \"url\": \"http://127.0.0.1:{port}/bytes/4\", \"headers\": [[\"authorization\", \"guest\"]]}}]"
    );
    for json_logs in [false, true] {
        let run = |component: &str, input: &str| {
            let mut c = isolated(BIN, home.path());
            c.arg("-vvv");
            if json_logs {
                c.arg("--log-json");
            }
            c.args(["run", component, "--backend", "local", "--json", "--input", input])
                .arg("--policy")
                .arg(&policy)
                .env("OW_TEST_MODEL_KEY", &key)
                .env("RUST_LOG", "trace");
            c.output().unwrap()
        };
        let outputs = [
            ("http", run(guests::HTTP_PROBE.path(), &input)),
            ("model", run(guests::MODEL_PROBE.path(), "[{\"user\": \"a\"}, {\"user\": \"b\", \"stream\": true}]")),
        ];
        for (what, out) in outputs {
            let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success(), "{what}: {all}");
            assert!(all.lines().count() > 10, "{what}: trace logging printed almost nothing:\n{all}");
            assert!(!all.contains(&key), "{what} (json logs {json_logs}): the credential appears in the output");
        }
    }
    let sent: Vec<String> =
        server.requests().iter().filter_map(|r| r.header("authorization").map(str::to_string)).collect();
    assert!(sent.len() >= 8 && sent.iter().all(|a| *a == format!("Bearer {key}")), "{sent:?}");
}
