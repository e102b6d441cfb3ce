//! `URL N`: makes N plain `wasi:http` GET requests to URL, reading each
//! body to its end, with no work of its own between them, and reports how
//! many succeeded, the bytes read and how long the loop took inside the
//! guest: the host's cost per request, as benchmark figure 8a measures it.
use openshell_sandbox_guest::{Guest, export};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasip2::io::streams::StreamError;

struct BenchHttp;

fn get(authority: &str, path: &str) -> Result<u64, String> {
    let req = OutgoingRequest::new(Fields::new());
    req.set_method(&Method::Get).map_err(|()| "method")?;
    req.set_scheme(Some(&Scheme::Http)).map_err(|()| "scheme")?;
    req.set_authority(Some(authority)).map_err(|()| "authority")?;
    req.set_path_with_query(Some(path)).map_err(|()| "path")?;
    let body = req.body().map_err(|()| "body")?;
    let future = outgoing_handler::handle(req, None).map_err(|e| test_programs::http::code_name(&e))?;
    OutgoingBody::finish(body, None).map_err(|e| test_programs::http::code_name(&e))?;
    let response = loop {
        match future.get() {
            Some(r) => break r,
            None => future.subscribe().block(),
        }
    };
    let response = response.map_err(|()| "taken")?.map_err(|e| test_programs::http::code_name(&e))?;
    let incoming = response.consume().map_err(|()| "consume")?;
    let stream = incoming.stream().map_err(|()| "stream")?;
    let mut n = 0u64;
    loop {
        match stream.blocking_read(1 << 20) {
            Ok(chunk) => n += chunk.len() as u64,
            Err(StreamError::Closed) => return Ok(n),
            Err(e) => return Err(format!("{e:?}")),
        }
    }
}

impl Guest for BenchHttp {
    fn run(input: String) -> Result<String, String> {
        let (url, n) = input.trim().rsplit_once(' ').ok_or("input: `http://HOST:PORT/PATH N`")?;
        let n: u32 = n.parse().map_err(|_| format!("input: {n:?} is not a count"))?;
        let rest = url.strip_prefix("http://").ok_or("input: an http:// URL")?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };
        let started = std::time::Instant::now();
        let mut bytes = 0;
        for _ in 0..n {
            bytes += get(authority, path)?;
        }
        Ok(format!("ok={n} bytes={bytes} us={}", started.elapsed().as_micros()))
    }
}

export!(BenchHttp);
