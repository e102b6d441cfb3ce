//! Tries every way a guest has to learn a credential the host adds to its
//! requests, and reports everything it saw. The host test checks the
//! credential is in none of it, and that it never reached this guest's
//! memory: the guest scans its whole linear memory for the credential,
//! which it is given only masked (XOR 0x5a), comparing byte by byte without
//! ever unmasking it. A canary it does unmask proves the scan works.
//!
//! Input: `{"allowed": URL, "denied": URL, "masked": HEX, "canary": HEX}`.
use openshell_sandbox_guest::bindings::openshell::sandbox::model::{self, Message, Request, Role};
use openshell_sandbox_guest::{Guest, export};
use serde_json::{Value, json};
use wasip2::http::types::{Fields, OutgoingRequest};

struct Hunt;

const MASK: u8 = 0x5a;

/// How many times the masked needle occurs (unmasked) in linear memory.
#[allow(unsafe_code, reason = "reading our own linear memory is the point of the scan")]
fn scan_memory(masked: &[u8]) -> usize {
    let size = core::arch::wasm32::memory_size(0) * 65536;
    let needle_len = masked.len();
    if needle_len == 0 {
        return 0;
    }
    let mut hits = 0;
    // Address 0 holds nothing; starting at 1 keeps the reads off null.
    for start in 1..size.saturating_sub(needle_len) {
        let mut j = 0;
        while j < needle_len {
            // SAFETY: every address below memory_size * 64 KiB is mapped.
            let b = unsafe { core::ptr::read_volatile((start + j) as *const u8) };
            if b != masked[j] ^ MASK {
                break;
            }
            j += 1;
        }
        if j == needle_len {
            hits += 1;
        }
    }
    hits
}

impl Guest for Hunt {
    fn run(input: String) -> Result<String, String> {
        let spec: Value = serde_json::from_str(&input).map_err(|e| format!("input: {e}"))?;
        let masked = test_programs::unhex(spec["masked"].as_str().unwrap_or_default());
        let mut seen: Vec<Value> = Vec::new();

        // 1. The environment.
        seen.push(json!(std::env::vars().collect::<Vec<_>>()));

        // 2. Its own request object, with the credential's header set by
        //    the guest: it can only read back what it set itself.
        let headers = Fields::new();
        let _ = headers.append("authorization", b"Bearer guest-made");
        let req = OutgoingRequest::new(headers);
        seen.push(json!(
            req.headers()
                .entries()
                .iter()
                .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
                .collect::<Vec<_>>()
        ));
        drop(req);

        // 3. Requests: an allowed one (the host adds the credential), one
        //    the policy refuses, and the headers and bodies that came back.
        for url in [&spec["allowed"], &spec["denied"]] {
            let r = test_programs::http::request(&json!({
                "method": "GET", "url": url, "headers": [["authorization", "Bearer guest-made"], ["x-api-key", "guest"]],
            }));
            seen.push(r);
        }

        // 4. Model calls: a provider that quotes the key in its error.
        let request = Request {
            model: String::new(),
            messages: vec![Message {
                role: Role::User,
                content: Some("hi".into()),
                tool_calls: vec![],
                tool_call_id: None,
            }],
            tools: vec![],
            tool_choice: None,
            temperature: None,
            max_tokens: None,
            stop: vec![],
            extra: None,
        };
        for _ in 0..2 {
            match model::complete(&request) {
                Ok(c) => seen.push(json!(c.message.content)),
                Err(e) => seen.push(json!([e.operation, e.message])),
            }
        }

        // 5. Its own memory, with a positive control.
        let memory_hits = scan_memory(&masked);
        let canary_masked = test_programs::unhex(spec["canary"].as_str().unwrap_or_default());
        let canary: Vec<u8> = canary_masked.iter().map(|b| b ^ MASK).collect();
        let canary_hits = scan_memory(&canary_masked);
        std::hint::black_box(&canary);
        Ok(json!({ "seen": seen, "memory_hits": memory_hits, "canary_hits": canary_hits }).to_string())
    }
}

export!(Hunt);
