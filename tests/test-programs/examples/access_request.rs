//! Ask a person for network access and wait for the answer.
//!
//! Input: `HOST PORT WAIT_MS [METHOD PATH | flood]`. Prints the first answer, then
//! asks again until the request is decided, then the final answer and
//! whether the sandbox's network policy now names the host (and path).
use openshell_sandbox_guest::{AccessDecision, AccessRequest, ErrorCode, Guest, Sandbox, export};
use test_programs::outcome;

struct Access;

impl Guest for Access {
    fn run(input: String) -> Result<String, String> {
        let e = |e: openshell_sandbox_guest::Error| e.to_string();
        let words: Vec<&str> = input.split_whitespace().collect();
        let [host, port, wait, rest @ ..] = words.as_slice() else { return Err("want HOST PORT WAIT_MS".into()) };
        let request = AccessRequest {
            host: host.to_string(),
            port: port.parse().map_err(|_| "bad port")?,
            method: rest.first().map(|s| s.to_string()),
            path: rest.get(1).map(|s| s.to_string()),
            reason: "the tests need to fetch from it".into(),
        };
        let sb = Sandbox::current();
        let wait: u32 = wait.parse().map_err(|_| "bad wait")?;
        if rest.first() == Some(&"flood") {
            // Ask until refused; report how many were taken.
            let request = AccessRequest { method: None, path: None, ..request };
            let mut taken = 0;
            loop {
                match sb.request_access(&request, 0) {
                    Ok(_) => taken += 1,
                    Err(err) => return Ok(format!("taken={taken} then={}", outcome::<()>(&Err(err)))),
                }
            }
        }
        let mut lines = Vec::new();
        let mut status = match sb.request_access(&request, wait) {
            Ok(s) => s,
            Err(err) => return Ok(format!("request={}", outcome::<()>(&Err(err)))),
        };
        lines.push(format!("id={} first={:?}", status.id, status.decision));
        let mut asks = 0;
        while status.decision == AccessDecision::Pending && asks < 120 {
            status = sb.check_access(&status.id, 1000).map_err(e)?;
            asks += 1;
        }
        lines.push(format!("final={:?} rule={} note={}", status.decision, status.rule, status.note.replace(' ', "_")));
        lines.push(format!("other-id={}", outcome(&sb.check_access("acc-0000000000000000", 0))));
        // A sandbox created without a policy has no revision until a rule
        // is added.
        let rules = match sb.network_policy() {
            Ok(p) => p.rules_yaml,
            Err(err) if err.0.code == ErrorCode::NotFound => String::new(),
            Err(err) => return Err(e(err)),
        };
        lines.push(format!("policy-has-host={}", rules.contains(&format!("host: {host}"))));
        if let Some(path) = rest.get(1) {
            lines.push(format!("policy-has-path={}", rules.contains(path)));
        }
        Ok(lines.join("\n"))
    }
}

export!(Access);
