//! Plain `wasi:http` requests, as a guest with its own HTTP client makes
//! them (the host's policy decides what goes out).

use serde_json::{Value, json};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{self, ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasip2::io::streams::StreamError;

/// One request: `{"method", "url", "headers": [[name, value]], "body_len", "read"}`.
pub fn request(spec: &Value) -> Value {
    match send(spec) {
        Ok(v) => v,
        Err(e) => json!({ "error": e }),
    }
}

/// A wasi:http error code as tests match it: its variant name in kebab
/// case, with any payload after a colon.
pub fn code_name(e: &ErrorCode) -> String {
    let debug = format!("{e:?}");
    let (name, rest) = debug.split_once('(').map_or((debug.as_str(), ""), |(n, r)| (n, r.trim_end_matches(')')));
    // `ErrorCode::HttpRequestDenied` -> `HttpRequestDenied`.
    let name = name.rsplit("::").next().unwrap_or(name);
    let mut kebab = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            kebab.push('-');
        }
        kebab.push(c.to_ascii_lowercase());
    }
    if rest.is_empty() { kebab } else { format!("{kebab}:{rest}") }
}

fn send(spec: &Value) -> Result<Value, String> {
    let url = spec["url"].as_str().ok_or("no url")?;
    let (scheme, rest) = url.split_once("://").ok_or("no scheme")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let headers = Fields::new();
    for h in spec["headers"].as_array().into_iter().flatten() {
        let name = h[0].as_str().unwrap_or_default().to_string();
        let value = h[1].as_str().unwrap_or_default().as_bytes().to_vec();
        headers.append(&name, &value).map_err(|e| format!("header {name}: {e:?}"))?;
    }
    let req = OutgoingRequest::new(headers);
    let method = match spec["method"].as_str().unwrap_or("GET") {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        other => Method::Other(other.to_string()),
    };
    req.set_method(&method).map_err(|()| "bad method")?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_string()),
    };
    req.set_scheme(Some(&scheme)).map_err(|()| "bad scheme")?;
    req.set_authority(Some(authority)).map_err(|()| "bad authority")?;
    req.set_path_with_query(Some(path)).map_err(|()| "bad path")?;
    let body = req.body().map_err(|()| "no body")?;
    let future = outgoing_handler::handle(req, None).map_err(|e| code_name(&e))?;

    let body_len = spec["body_len"].as_u64().unwrap_or(0);
    let mut write_error = None;
    {
        let out = body.write().map_err(|()| "no body stream")?;
        let chunk = vec![b'b'; 4096];
        let mut left = body_len;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            if let Err(e) = out.blocking_write_and_flush(&chunk[..n]) {
                write_error = Some(stream_error(e));
                break;
            }
            left -= n as u64;
        }
    }
    if write_error.is_none()
        && let Err(e) = OutgoingBody::finish(body, None)
    {
        write_error = Some(code_name(&e));
    }

    let response = loop {
        match future.get() {
            Some(r) => break r,
            None => future.subscribe().block(),
        }
    };
    let response = match response {
        Ok(Ok(r)) => r,
        // A body the host stopped shows up as a closed stream; the
        // response's error says why.
        Ok(Err(e)) => return Err(write_error.filter(|w| w != "closed").unwrap_or_else(|| code_name(&e))),
        Err(()) => return Err("response taken twice".into()),
    };
    let status = response.status();
    let resp_headers: Vec<Value> =
        response.headers().entries().into_iter().map(|(k, v)| json!([k, String::from_utf8_lossy(&v)])).collect();
    let mut received = 0u64;
    let mut text = Vec::new();
    let mut body_error = None;
    if spec["read"].as_bool().unwrap_or(true) {
        let incoming = response.consume().map_err(|()| "no response body")?;
        let stream = incoming.stream().map_err(|()| "no response stream")?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    received += chunk.len() as u64;
                    if text.len() < 4096 {
                        text.extend_from_slice(&chunk[..chunk.len().min(4096 - text.len())]);
                    }
                }
                Err(StreamError::Closed) => break,
                Err(e) => {
                    body_error = Some(stream_error(e));
                    break;
                }
            }
        }
    }
    Ok(json!({
        "status": status,
        "bytes": received,
        "body": String::from_utf8_lossy(&text),
        "headers": resp_headers,
        "body_error": body_error,
        "write_error": write_error,
    }))
}

fn stream_error(e: StreamError) -> String {
    match e {
        StreamError::Closed => "closed".into(),
        StreamError::LastOperationFailed(err) => match types::http_error_code(&err) {
            Some(code) => code_name(&code),
            None => err.to_debug_string(),
        },
    }
}
