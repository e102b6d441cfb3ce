//! Guests' own HTTP requests (`wasi:http`) through the host's egress
//! policy, against a real HTTP server on loopback: deny by default, rules
//! by host, port, method and path, addresses checked after resolution,
//! redirects left to the guest, credentials added by the host, limits.
//! Egress leaves from the host whatever the sandbox backend, so these run
//! on the local backend.

use std::net::ToSocketAddrs;

use openshell_test_model::{ModelServer, Script};
use serde_json::{Value, json};
use test_artifacts as guests;

use crate::harness::{Fixture, Target, fixture, policy};

/// Run the probe with `requests` under `policy_text`; the per-request
/// results and the run's HTTP stats.
async fn probe(f: &Fixture, requests: Value) -> (Vec<Value>, Value) {
    let out =
        f.run(guests::HTTP_PROBE.path(), &requests.to_string()).await.unwrap_or_else(|e| panic!("run failed: {e}"));
    let results: Vec<Value> = serde_json::from_str(&out.result.unwrap()).unwrap();
    (results, serde_json::to_value(&out.stats.http).unwrap())
}

fn get(url: &str) -> Value {
    json!({"method": "GET", "url": url})
}

fn rule(port: u16, extra: &str) -> String {
    format!("[[http.allow]]\nscheme = \"http\"\nhost = \"127.0.0.1\"\nport = {port}\n{extra}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_is_denied_by_default() {
    let server = ModelServer::start(Script::default()).await.unwrap();
    let f = fixture(Target::Local, Default::default()).await;
    let (r, stats) = probe(&f, json!([get(&format!("http://{}/bytes/10", server.addr()))])).await;
    assert_eq!(r[0]["error"], "http-request-denied", "{r:?}");
    assert_eq!(stats[0]["denied"], 1, "{stats}");
    assert!(server.requests().is_empty(), "nothing may reach the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_match_host_port_method_and_path() {
    let server = ModelServer::start(Script::default()).await.unwrap();
    let port = server.addr().port();
    let text = rule(port, "methods = [\"GET\"]\npaths = [\"/bytes/*\"]");
    let f = fixture(Target::Local, policy(&text)).await;
    let base = format!("http://127.0.0.1:{port}");
    let (r, stats) = probe(
        &f,
        json!([
            get(&format!("{base}/bytes/10")),
            {"method": "POST", "url": format!("{base}/bytes/10")},
            get(&format!("{base}/headers")),
            get(&format!("{base}/bytes/../headers")),
            get(&format!("http://localhost:{port}/bytes/10")),
            get(&format!("http://127.0.0.1:{}/bytes/10", port.wrapping_add(1).max(1))),
            get(&format!("https://127.0.0.1:{port}/bytes/10")),
        ]),
    )
    .await;
    assert_eq!((r[0]["status"].as_u64(), r[0]["bytes"].as_u64()), (Some(200), Some(10)), "{r:?}");
    for (i, why) in [(1, "method"), (2, "path"), (3, "dot segments"), (4, "host"), (5, "port"), (6, "scheme")] {
        assert_eq!(r[i]["error"], "http-request-denied", "{why}: {:?}", r[i]);
    }
    assert_eq!(server.requests().len(), 1, "only the allowed request may reach the server");
    let mine =
        stats.as_array().unwrap().iter().find(|d| d["destination"] == format!("http://127.0.0.1:{port}")).unwrap();
    assert_eq!((mine["requests"].as_u64(), mine["denied"].as_u64()), (Some(1), Some(3)), "{stats}");
    assert_eq!(mine["bytes_received"], 10, "{stats}");
}

/// A name this machine resolves to a loopback address that is not the
/// literal `localhost` (rules naming `localhost` allow loopback on purpose).
fn loopback_name() -> String {
    let mut candidates: Vec<String> = ["ip6-localhost", "ip6-loopback"].iter().map(|s| s.to_string()).collect();
    if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
        candidates.insert(0, h.trim().to_string());
    }
    if let Ok(hosts) = std::fs::read_to_string("/etc/hosts") {
        for line in hosts.lines().filter(|l| l.starts_with("127.") || l.starts_with("::1")) {
            candidates.extend(line.split_whitespace().skip(1).map(str::to_string));
        }
    }
    candidates
        .into_iter()
        .filter(|c| c != "localhost" && !c.is_empty())
        .find(|c| (c.as_str(), 80).to_socket_addrs().is_ok_and(|mut a| a.next().is_some_and(|a| a.ip().is_loopback())))
        .expect("this test needs a host name other than `localhost` that resolves to loopback (/etc/hosts)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_addresses_that_are_not_public_are_refused() {
    let server = ModelServer::start(Script::default()).await.unwrap();
    let port = server.addr().port();
    // Any host: only public addresses.
    let text = format!(
        "[[http.allow]]\nscheme = \"http\"\nhost = \"*\"\nport = {port}\n[[http.allow]]\nscheme = \"http\"\nhost = \"*\"\nport = 80\n"
    );
    let f = fixture(Target::Local, policy(&text)).await;
    let name = loopback_name();
    let (r, _) = probe(
        &f,
        json!([
            get(&format!("http://{name}:{port}/bytes/1")),
            get(&format!("http://127.0.0.1:{port}/bytes/1")),
            get(&format!("http://[::ffff:127.0.0.1]:{port}/bytes/1")),
            get("http://169.254.169.254/latest/meta-data/"),
            get("http://10.0.0.1/"),
        ]),
    )
    .await;
    for (i, what) in
        ["a name resolving to loopback", "loopback", "IPv4-mapped loopback", "metadata", "private"].iter().enumerate()
    {
        assert_eq!(r[i]["error"], "destination-ip-prohibited", "{what}: {:?}", r[i]);
    }
    assert!(server.requests().is_empty());

    // Naming the address explicitly allows it.
    let f = fixture(Target::Local, policy(&rule(port, ""))).await;
    let (r, _) = probe(&f, json!([get(&format!("http://127.0.0.1:{port}/bytes/3"))])).await;
    assert_eq!(r[0]["bytes"], 3, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_the_guests_to_follow_and_each_is_checked() {
    let allowed = ModelServer::start(Script::default()).await.unwrap();
    let other = ModelServer::start(Script::default()).await.unwrap();
    let text = rule(allowed.addr().port(), "paths = [\"/redirect\"]");
    let f = fixture(Target::Local, policy(&text)).await;
    let target = format!("http://{}/bytes/5", other.addr());
    let (r, _) =
        probe(&f, json!([get(&format!("http://{}/redirect?to={target}", allowed.addr())), get(&target)])).await;
    assert_eq!(r[0]["status"], 302, "the redirect is not followed by the host: {r:?}");
    let location = r[0]["headers"].as_array().unwrap().iter().find(|h| h[0] == "location").unwrap();
    assert_eq!(location[1], target);
    assert_eq!(r[1]["error"], "http-request-denied", "following it is a new request, refused: {r:?}");
    assert!(other.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_counts_and_time_are_capped() {
    let server = ModelServer::start(Script::default()).await.unwrap();
    let port = server.addr().port();
    let base = format!("http://127.0.0.1:{port}");
    let text = format!(
        "[http]\nmax-request-body = \"1 KiB\"\nmax-response-body = \"2 KiB\"\nmax-requests = 3\n{}",
        rule(port, "")
    );
    let f = fixture(Target::Local, policy(&text)).await;
    let (r, _) = probe(
        &f,
        json!([
            {"method": "POST", "url": format!("{base}/echo-size"), "body_len": 1024},
            {"method": "POST", "url": format!("{base}/echo-size"), "body_len": 5000},
            get(&format!("{base}/bytes/5000")),
            get(&format!("{base}/bytes/1")),
        ]),
    )
    .await;
    assert_eq!(r[0]["body"], "1024", "a body at the cap passes: {r:?}");
    let over = format!("{} {}", r[1]["error"], r[1]["write_error"]);
    assert!(over.contains("http-request-body-size"), "request body over the cap: {r:?}");
    let body_error = r[2]["body_error"].as_str().unwrap_or_default();
    assert!(body_error.contains("response-body-size") || body_error.contains("response body size"), "{r:?}");
    let fourth = r[3]["error"].as_str().unwrap_or_default();
    assert!(fourth.starts_with("internal-error") && fourth.contains("http.max-requests"), "{r:?}");

    // A server that never answers: the request's deadline ends it.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let text = format!("[http]\ntimeout = \"1s\"\n{}", rule(silent_port, ""));
    let f = fixture(Target::Local, policy(&text)).await;
    let started = std::time::Instant::now();
    let (r, _) = probe(&f, json!([get(&format!("http://127.0.0.1:{silent_port}/"))])).await;
    assert_eq!(r[0]["error"], "connection-timeout", "{r:?}");
    assert!(started.elapsed().as_secs() < 30, "the deadline must end the request");
    hold.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_and_connect_are_never_sent() {
    let server = ModelServer::start(Script::default()).await.unwrap();
    let port = server.addr().port();
    let f = fixture(Target::Local, policy(&rule(port, ""))).await;
    let url = format!("http://127.0.0.1:{port}/bytes/1");
    let (r, _) =
        probe(&f, json!([{"method": "TRACE", "url": url}, {"method": "CONNECT", "url": url}, get(&url)])).await;
    assert_eq!(
        (&r[0]["error"], &r[1]["error"]),
        (&json!("http-request-denied"), &json!("http-request-denied")),
        "{r:?}"
    );
    assert_eq!(r[2]["bytes"], 1, "{r:?}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_added_by_the_host_and_replace_the_guests() {
    let server = ModelServer::start(Script::default()).await.unwrap();
    let port = server.addr().port();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, "sk-file-credential-7f3a\n").unwrap();
    let text = rule(
        port,
        &format!(
            "credentials = [{{ header = \"authorization\", prefix = \"Bearer \", file = {:?} }}, {{ query = \"key\", file = {:?} }}]",
            key_file.display().to_string(),
            key_file.display().to_string()
        ),
    );
    let f = fixture(Target::Local, policy(&text)).await;
    let (r, _) = probe(
        &f,
        json!([{"method": "GET", "url": format!("http://127.0.0.1:{port}/bytes/2?key=guest&x=1"),
                "headers": [["authorization", "Bearer guest-made"]]}]),
    )
    .await;
    assert_eq!(r[0]["bytes"], 2, "{r:?}");
    let seen = &server.requests()[0];
    let auth: Vec<&str> =
        seen.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.as_str()).collect();
    assert_eq!(auth, ["Bearer sk-file-credential-7f3a"], "exactly the host's credential");
    assert_eq!(seen.path, "/bytes/2?x=1&key=sk-file-credential-7f3a");
    assert!(!r[0].to_string().contains("sk-file-credential"), "the guest saw nothing of it: {r:?}");
}
