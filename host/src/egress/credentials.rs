//! Adding the host's credentials to a request. Values are read when the
//! request is sent (so a rotated key is picked up), held as secrets, and
//! only ever written into the outgoing request.

use http::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use super::EgressError;
use crate::policy::{Credential, CredentialTarget, SecretSource};

/// Read one credential's value from the host.
fn read(source: &SecretSource) -> Result<SecretString, EgressError> {
    let value = match source {
        SecretSource::Env(name) => std::env::var(name).map_err(|_| {
            EgressError::Credential(format!(
                "the host has no value for a credential: environment variable {name} is not set (or not UTF-8); \
                 set it where openshell-wasm runs"
            ))
        })?,
        SecretSource::File(path) => std::fs::read_to_string(path).map_err(|e| {
            EgressError::Credential(format!("the host cannot read a credential from {}: {}", path.display(), e.kind()))
        })?,
    };
    let value = value.trim_end_matches(['\r', '\n']).to_string();
    if value.is_empty() {
        return Err(EgressError::Credential(format!("the credential in {source} is empty")));
    }
    Ok(SecretString::from(value))
}

/// Put `credentials` into the request, replacing any header or query
/// parameter of the same name the guest set. Returns the values, so
/// callers can scrub them from provider messages.
pub fn apply_credentials(
    parts: &mut http::request::Parts,
    credentials: &[Credential],
) -> Result<Vec<SecretString>, EgressError> {
    let mut used = Vec::new();
    for c in credentials {
        let secret = read(&c.source)?;
        match &c.target {
            CredentialTarget::Header(name) => {
                let name = http::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| EgressError::Credential(format!("`{name}` is not a header name")))?;
                let mut value =
                    HeaderValue::from_str(&format!("{}{}", c.prefix, secret.expose_secret())).map_err(|_| {
                        EgressError::Credential(format!("the credential in {} is not a valid header value", c.source))
                    })?;
                value.set_sensitive(true);
                parts.headers.remove(&name);
                parts.headers.insert(name, value);
            }
            CredentialTarget::Query(param) => {
                let value = format!("{}{}", c.prefix, secret.expose_secret());
                let path = parts.uri.path().to_string();
                let mut pairs: Vec<String> = parts
                    .uri
                    .query()
                    .unwrap_or("")
                    .split('&')
                    .filter(|p| !p.is_empty() && percent_decode(p.split('=').next().unwrap_or("")) != *param)
                    .map(str::to_string)
                    .collect();
                pairs.push(format!("{}={}", percent_encode(param), percent_encode(&value)));
                let mut uri = http::uri::Builder::new().path_and_query(format!("{path}?{}", pairs.join("&")));
                if let Some(s) = parts.uri.scheme() {
                    uri = uri.scheme(s.clone());
                }
                if let Some(a) = parts.uri.authority() {
                    uri = uri.authority(a.clone());
                }
                parts.uri = uri
                    .build()
                    .map_err(|_| EgressError::Credential("cannot add a credential to the request's query".into()))?;
            }
        }
        used.push(secret);
    }
    Ok(used)
}

/// `text` with every secret value replaced by `[redacted]`: a provider's
/// error message may quote what it was sent.
pub fn redact(text: &str, secrets: &[SecretString]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        let v = s.expose_secret();
        if v.len() >= 4 {
            // As sent in a header, and as sent in a query.
            out = out.replace(v, "[redacted]").replace(&percent_encode(v), "[redacted]");
        }
    }
    out
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str) -> http::request::Parts {
        let (mut p, ()) = http::Request::get(uri).body(()).unwrap().into_parts();
        p.headers.insert("authorization", HeaderValue::from_static("Bearer guest-made"));
        p
    }

    #[test]
    fn headers_and_queries_are_replaced() {
        // A variable no environment sets.
        let name = "OPENSHELL_WASM_TEST_CRED_9f3a";
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "file-secret-1234\n").unwrap();
        let creds = [
            Credential {
                target: CredentialTarget::Header("authorization".into()),
                prefix: "Bearer ".into(),
                source: SecretSource::File(file.path().to_path_buf()),
            },
            Credential {
                target: CredentialTarget::Query("key".into()),
                prefix: String::new(),
                source: SecretSource::File(file.path().to_path_buf()),
            },
        ];
        let mut p = parts("https://x.example/v1/a?key=guest&b=1");
        let used = apply_credentials(&mut p, &creds).unwrap();
        assert_eq!(used.len(), 2);
        assert_eq!(p.headers.get_all("authorization").iter().count(), 1);
        assert_eq!(p.headers["authorization"], "Bearer file-secret-1234");
        assert!(p.headers["authorization"].is_sensitive());
        assert_eq!(p.uri.to_string(), "https://x.example/v1/a?b=1&key=file-secret-1234");
        assert_eq!(redact("bad key file-secret-1234!", &used), "bad key [redacted]!");

        let missing = [Credential {
            target: CredentialTarget::Header("x-api-key".into()),
            prefix: String::new(),
            source: SecretSource::Env(name.into()),
        }];
        let e = apply_credentials(&mut parts("https://x/"), &missing).unwrap_err();
        assert!(e.to_string().contains(name), "{e}");
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(percent_encode("a b&c=d"), "a%20b%26c%3Dd");
        assert_eq!(percent_decode("a%20b%26"), "a b&");
        assert_eq!(percent_decode("%zz%2"), "%zz%2");
    }
}
