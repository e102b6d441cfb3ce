//! The one shell string the real gateway builds for an exec, and runs as
//! `bash -lc <string>`: env assignments sorted by key, then the quoted argv,
//! optionally prefixed with `cd <workdir> && `.
//!
//! Reproducing it exactly matters: it is why argv entries cannot contain
//! newlines, why env only applies to the command (not to the `cd`), and why
//! a login shell's profile output can appear in every exec.

use std::collections::BTreeMap;

use tonic::Status;

/// The assembled string's limit.
pub(crate) const MAX_COMMAND_BYTES: usize = 256 * 1024;

/// Quotes one word: bare if it is made only of `[A-Za-z0-9./_-]`, `''` if
/// empty, else single-quoted with each `'` written as `'"'"'`.
pub(crate) fn quote(word: &str) -> String {
    if word.is_empty() {
        return "''".to_string();
    }
    if word.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '_' | '-')) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r#"'"'"'"#))
}

/// The full command string, or INVALID_ARGUMENT when it exceeds 256 KiB.
pub(crate) fn command_string(
    command: &[String],
    workdir: &str,
    env: &BTreeMap<String, String>,
) -> Result<String, Status> {
    let mut words: Vec<String> = env.iter().map(|(k, v)| format!("{k}={}", quote(v))).collect();
    words.extend(command.iter().map(|w| quote(w)));
    let mut line = words.join(" ");
    if !workdir.is_empty() {
        line = format!("cd {} && {line}", quote(workdir));
    }
    if line.len() > MAX_COMMAND_BYTES {
        return Err(Status::invalid_argument(format!(
            "command construction failed: command is {} bytes, the limit is {MAX_COMMAND_BYTES} bytes",
            line.len()
        )));
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("ls"), "ls");
        assert_eq!(quote("/usr/bin/env"), "/usr/bin/env");
        assert_eq!(quote("a-b_c.d"), "a-b_c.d");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r#"'it'"'"'s'"#);
        assert_eq!(quote("A=1"), "'A=1'");
        assert_eq!(quote("$HOME"), "'$HOME'");
    }

    #[test]
    fn assembly_order() {
        let env = BTreeMap::from([("B".to_string(), "two words".to_string()), ("A".to_string(), String::new())]);
        let argv = vec!["echo".to_string(), "hi there".to_string()];
        assert_eq!(command_string(&argv, "", &env).unwrap(), "A='' B='two words' echo 'hi there'");
        assert_eq!(
            command_string(&argv, "/sandbox/my dir", &BTreeMap::new()).unwrap(),
            "cd '/sandbox/my dir' && echo 'hi there'"
        );
    }

    #[test]
    fn limit() {
        let argv = vec!["x".repeat(30 * 1024); 9];
        assert!(command_string(&argv, "", &BTreeMap::new()).is_err());
    }
}
