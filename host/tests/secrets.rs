//! Secrets never appear in what the host prints: bearer tokens, mTLS
//! private keys and credentials passed into sandboxes stay out of logs (at
//! trace level, plain and JSON), error messages and `--json` output, on
//! success and on failure.

use std::process::{Command, Output};

use test_artifacts as guests;

/// A value nobody else uses, so a match can only be a leak.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}-{nanos:x}-{}", std::process::id())
}

struct Files {
    dir: tempfile::TempDir,
    key_pem: String,
}

impl Files {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

fn certificates() -> (Files, openshell_testgw::TlsFiles) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&server_key, &ca).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(vec!["client".to_string()]).unwrap().signed_by(&client_key, &ca).unwrap();
    let write = |n: &str, s: &str| {
        let p = dir.path().join(n);
        std::fs::write(&p, s).unwrap();
        p
    };
    let tls = openshell_testgw::TlsFiles {
        cert: write("server.crt", &server.pem()),
        key: write("server.key", &server_key.serialize_pem()),
        client_ca: Some(write("ca.crt", &ca.pem())),
    };
    write("client.crt", &client.pem());
    let key_pem = client_key.serialize_pem();
    write("client.key", &key_pem);
    (Files { dir, key_pem }, tls)
}

fn cli(files: &Files, port: u16, token_file: &str, args: &[&str], json_logs: bool) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_openshell-wasm"));
    c.arg("-vvv");
    if json_logs {
        c.arg("--log-json");
    }
    c.args(args)
        .args(["--backend", "openshell", "--gateway", &format!("https://localhost:{port}")])
        .args(["--tls-ca", &files.path("ca.crt"), "--tls-cert", &files.path("client.crt")])
        .args(["--tls-key", &files.path("client.key"), "--token-file", token_file, "--rpc-timeout", "10"])
        .env("XDG_CACHE_HOME", files.dir.path().join("cache"))
        .env("XDG_DATA_HOME", files.dir.path().join("data"))
        .env("XDG_STATE_HOME", files.dir.path().join("state"))
        .env("RUST_LOG", "trace");
    c.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_keys_and_credentials_never_appear_in_output() {
    let (files, tls) = certificates();
    let token = unique("tok");
    let credential = unique("sk-live");
    let state = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut config = openshell_testgw::Config::new(openshell_testgw::Protocol::V0_1, state.path());
    config.tls = Some(tls);
    config.bearer_token = Some(token.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        openshell_testgw::serve(listener, config, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    std::fs::write(files.path("token"), format!("{token}\n")).unwrap();
    std::fs::write(files.path("wrong-token"), unique("wrong")).unwrap();
    let env_arg = format!("API_KEY={credential}");

    let mut outputs: Vec<(String, Output)> = Vec::new();
    for json_logs in [false, true] {
        // Blocking calls on one worker; the gateway runs on the other.
        let arg_refs = ["run", guests::SMOKE_ECHO, "--input", "hello", "--json", "--sandbox-env", &env_arg];
        let token_file = files.path("token");
        let ok = cli(&files, port, &token_file, &arg_refs, json_logs);
        assert!(ok.status.success(), "the run failed: {}", String::from_utf8_lossy(&ok.stderr));
        assert!(String::from_utf8_lossy(&ok.stdout).contains("hello"), "{}", String::from_utf8_lossy(&ok.stdout));
        outputs.push((format!("run, json logs {json_logs}"), ok));
        let denied = cli(&files, port, &files.path("wrong-token"), &arg_refs, json_logs);
        assert!(!denied.status.success(), "a wrong token must be refused");
        outputs.push((format!("wrong token, json logs {json_logs}"), denied));
        let list = cli(&files, port, &files.path("token"), &["sandbox", "list", "--json"], json_logs);
        assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
        outputs.push((format!("list, json logs {json_logs}"), list));
    }
    // A line of the private key's body: any of them would be a leak.
    let key_line = files.key_pem.lines().nth(1).unwrap().to_string();
    for (what, out) in &outputs {
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(all.lines().count() > 10, "{what}: trace logging printed almost nothing:\n{all}");
        for (secret, name) in
            [(&token, "the bearer token"), (&key_line, "the mTLS key"), (&credential, "the credential")]
        {
            assert!(!all.contains(secret.as_str()), "{what}: {name} appears in the output");
        }
        assert!(!all.contains("PRIVATE KEY"), "{what}: a private key appears in the output");
    }
    let _ = stop.send(());
}
