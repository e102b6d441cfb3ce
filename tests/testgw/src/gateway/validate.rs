//! Request validation with the real gateway's limits (fact sheet §6.1).
//! Every failure is INVALID_ARGUMENT.

use std::collections::BTreeMap;

use tonic::Status;

/// Exec argv entries.
pub(crate) const MAX_ARGV: usize = 1024;
/// One argv entry or exec env value.
pub(crate) const MAX_ARG_BYTES: usize = 32 * 1024;
/// Exec workdir.
pub(crate) const MAX_WORKDIR_BYTES: usize = 4096;
/// Spec-level environment: entries, key and value bytes.
const MAX_SPEC_ENV: usize = 128;
const MAX_SPEC_KEY: usize = 256;
const MAX_SPEC_VALUE: usize = 8192;
/// Pairs in a label selector.
const MAX_SELECTOR_PAIRS: usize = 64;

/// Sandbox, workspace and service names: lowercase DNS-1123 labels of at
/// most 19 characters (so `ws--sandbox--service` fits a 63-char label).
pub(crate) fn sandbox_name(name: &str) -> Result<(), Status> {
    dns_label(name, 19).map_err(|why| Status::invalid_argument(format!("invalid name '{name}': {why}")))
}

fn dns_label(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err("must consist of lowercase letters, digits and '-'".into());
    }
    if name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        return Err("must not start or end with '-' or contain '--'".into());
    }
    Ok(())
}

/// Kubernetes label rules: key `[prefix/]name`, name ≤63 of alphanumerics
/// and `-_.` with alphanumeric ends, prefix a DNS subdomain ≤253; value
/// empty or like a name.
pub(crate) fn labels(labels: &BTreeMap<String, String>) -> Result<(), Status> {
    for (key, value) in labels {
        let (prefix, name) = match key.split_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, key.as_str()),
        };
        let prefix_ok = prefix
            .is_none_or(|p| p.len() <= 253 && !p.is_empty() && p.split('.').all(|part| dns_label(part, 63).is_ok()));
        if !prefix_ok || !label_segment(name) || name.is_empty() {
            return Err(Status::invalid_argument(format!("invalid label key '{key}'")));
        }
        if !value.is_empty() && !label_segment(value) {
            return Err(Status::invalid_argument(format!("invalid label value '{value}' for key '{key}'")));
        }
    }
    Ok(())
}

fn label_segment(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    s.len() <= 63
        && s.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
        && s.chars().next().is_none_or(alnum)
        && s.chars().last().is_none_or(alnum)
}

/// Parses `k=v,k2=v2` (empty = everything).
pub(crate) fn label_selector(selector: &str) -> Result<Vec<(String, String)>, Status> {
    let mut pairs = Vec::new();
    for part in selector.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = part.split_once('=').filter(|(k, _)| !k.trim().is_empty()) else {
            return Err(Status::invalid_argument(format!("invalid label selector '{selector}': expected k=v pairs")));
        };
        pairs.push((k.trim().to_string(), v.trim().to_string()));
    }
    if pairs.len() > MAX_SELECTOR_PAIRS {
        return Err(Status::invalid_argument(format!("label selector has more than {MAX_SELECTOR_PAIRS} pairs")));
    }
    Ok(pairs)
}

/// The sandbox spec's environment map.
pub(crate) fn spec_environment(env: &BTreeMap<String, String>) -> Result<(), Status> {
    if env.len() > MAX_SPEC_ENV {
        return Err(Status::invalid_argument(format!("spec.environment has more than {MAX_SPEC_ENV} entries")));
    }
    for (k, v) in env {
        if k.is_empty() || k.len() > MAX_SPEC_KEY {
            return Err(Status::invalid_argument(format!("spec.environment key '{k}' must be 1-{MAX_SPEC_KEY} bytes")));
        }
        if v.len() > MAX_SPEC_VALUE {
            return Err(Status::invalid_argument(format!(
                "spec.environment value for '{k}' exceeds {MAX_SPEC_VALUE} bytes"
            )));
        }
    }
    Ok(())
}

/// Whether `s` holds NUL, CR or LF: such strings cannot travel inside the
/// one-line shell command the gateway builds.
fn has_control(s: &str) -> bool {
    s.contains(['\0', '\r', '\n'])
}

/// An env key the gateway accepts: `^[A-Za-z_][A-Za-z0-9_]*$`, and not in
/// the reserved `OPENSHELL_` namespace (except `OPENSHELL_PYFUNC_B64`, which
/// the Python SDK's `exec_python` uses).
fn env_key(key: &str) -> Result<(), Status> {
    let mut chars = key.chars();
    let shape = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !shape {
        return Err(Status::invalid_argument(format!(
            "environment key '{key}' is invalid: keys must match ^[A-Za-z_][A-Za-z0-9_]*$"
        )));
    }
    if key.starts_with("OPENSHELL_") && key != "OPENSHELL_PYFUNC_B64" {
        return Err(Status::invalid_argument(format!(
            "environment key '{key}' is reserved: OPENSHELL_* variables are set by the gateway"
        )));
    }
    Ok(())
}

/// The command, workdir and environment of an exec request (after the
/// sandbox id and empty-command checks, before the sandbox lookup).
pub(crate) fn exec_fields(command: &[String], workdir: &str, env: &BTreeMap<String, String>) -> Result<(), Status> {
    if command.len() > MAX_ARGV {
        return Err(Status::invalid_argument(format!("command has more than {MAX_ARGV} arguments")));
    }
    for (i, arg) in command.iter().enumerate() {
        if arg.len() > MAX_ARG_BYTES {
            return Err(Status::invalid_argument(format!("command argument {i} exceeds {MAX_ARG_BYTES} bytes")));
        }
        if has_control(arg) {
            return Err(Status::invalid_argument(format!(
                "command argument {i} contains a NUL, carriage return or newline character"
            )));
        }
    }
    if workdir.len() > MAX_WORKDIR_BYTES {
        return Err(Status::invalid_argument(format!("workdir exceeds {MAX_WORKDIR_BYTES} bytes")));
    }
    if has_control(workdir) {
        return Err(Status::invalid_argument("workdir contains a NUL, carriage return or newline character"));
    }
    for (key, value) in env {
        env_key(key)?;
        if value.len() > MAX_ARG_BYTES {
            return Err(Status::invalid_argument(format!(
                "environment value for '{key}' exceeds {MAX_ARG_BYTES} bytes"
            )));
        }
        if has_control(value) {
            return Err(Status::invalid_argument(format!(
                "environment value for '{key}' contains a NUL, carriage return or newline character"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dns_labels_of_19() {
        assert!(sandbox_name("feasible-retriever").is_ok());
        assert!(sandbox_name("a").is_ok());
        for bad in ["", "Upper", "a--b", "-a", "a-", "a_b", "twenty-chars-long-xx"] {
            assert!(sandbox_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kubernetes_labels() {
        let ok = BTreeMap::from([("openshell-wasm/owner".to_string(), "openshell-wasm".to_string())]);
        assert!(labels(&ok).is_ok());
        let empty_value = BTreeMap::from([("k".to_string(), String::new())]);
        assert!(labels(&empty_value).is_ok());
        let bad_key = BTreeMap::from([("-k".to_string(), "v".to_string())]);
        assert!(labels(&bad_key).is_err());
        let bad_value = BTreeMap::from([("k".to_string(), "a b".to_string())]);
        assert!(labels(&bad_value).is_err());
    }

    #[test]
    fn selectors() {
        assert_eq!(label_selector("").unwrap(), vec![]);
        assert_eq!(
            label_selector("a=1, b=2").unwrap(),
            vec![("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())]
        );
        assert!(label_selector("a").is_err());
    }

    #[test]
    fn exec_checks() {
        let env = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        let argv = vec!["echo".to_string()];
        assert!(exec_fields(&argv, "", &env("OPENSHELL_PYFUNC_B64", "x")).is_ok());
        assert!(exec_fields(&argv, "", &env("OPENSHELL_TOKEN", "x")).is_err());
        assert!(exec_fields(&argv, "", &env("1A", "x")).is_err());
        assert!(exec_fields(&argv, "", &env("A", "x\ny")).is_err());
        assert!(exec_fields(&["a\nb".to_string()], "", &BTreeMap::new()).is_err());
        assert!(exec_fields(&argv, "/tmp\r", &BTreeMap::new()).is_err());
        assert!(exec_fields(&vec!["x".to_string(); MAX_ARGV + 1], "", &BTreeMap::new()).is_err());
    }
}
