//! Helpers shared by the test guests.
//!
//! Every file in `examples/` is one agent component with one behaviour,
//! named `<suite>_<case>` (built as a `cdylib`, so it exports `run`).
//! Files in `src/bin/` are `wasi:cli/command` components. The integration
//! tests run each through the host; a guest reports what it saw and the
//! host test asserts on it.

pub use openshell_sandbox_guest as sdk;

pub mod http;

use openshell_sandbox_guest::Error;

/// Render an error as `code:operation`, the form host tests match on.
pub fn code(e: &Error) -> String {
    let code = match e.code() {
        sdk::ErrorCode::NotFound => "not-found".to_string(),
        sdk::ErrorCode::PermissionDenied => "permission-denied".to_string(),
        sdk::ErrorCode::Timeout => "timeout".to_string(),
        sdk::ErrorCode::TooLarge => "too-large".to_string(),
        sdk::ErrorCode::InvalidArgument => "invalid-argument".to_string(),
        sdk::ErrorCode::Unavailable => "unavailable".to_string(),
        sdk::ErrorCode::Conflict => "conflict".to_string(),
        sdk::ErrorCode::Unsupported => "unsupported".to_string(),
        sdk::ErrorCode::Backend(k) => format!("backend:{k}"),
    };
    format!("{code}:{}", e.operation())
}

/// `ok` or the error's code, for one step of a report.
pub fn outcome<T>(r: &Result<T, Error>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => code(e),
    }
}

/// Decode lowercase hex (how hosts pass bytes through the string input).
pub fn unhex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len() / 2).filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()).collect()
}
