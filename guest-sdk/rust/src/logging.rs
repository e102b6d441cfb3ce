//! Log lines to the host.

pub use crate::bindings::openshell::sandbox::log::Level;

/// Send one log line with fields to the host's logs.
pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    crate::bindings::openshell::sandbox::log::log(level, message, &fields);
}
