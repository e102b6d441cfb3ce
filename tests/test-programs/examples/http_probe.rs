//! Makes the `wasi:http` requests its input lists (a JSON array of
//! `{"method", "url", "headers", "body_len", "read"}`) and returns what
//! happened to each: status, body bytes and text, or the wasi:http error.
use openshell_sandbox_guest::{Guest, export};

struct Probe;

impl Guest for Probe {
    fn run(input: String) -> Result<String, String> {
        let specs: serde_json::Value = serde_json::from_str(&input).map_err(|e| format!("input: {e}"))?;
        let results: Vec<serde_json::Value> =
            specs.as_array().ok_or("input: a JSON array")?.iter().map(test_programs::http::request).collect();
        Ok(serde_json::Value::Array(results).to_string())
    }
}

export!(Probe);
