//! The guest's `wasi:http/outgoing-handler`: wasmtime-wasi-http builds the
//! request from the guest's resources and hands it to [`HttpHooks`], which
//! checks it against the policy and sends it through the [`Connector`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use http_body_util::BodyExt;
use tokio::time::Instant;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::body::{Direction, Limited, Limits};
use super::rules::{self, RequestLine};
use super::{EgressError, EgressRun, Target, apply_credentials};
use crate::policy::{HostPattern, Scheme};

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type SendFuture = Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>;

/// The `wasi:http` hooks of one run: every request goes through the run's
/// egress policy.
#[derive(Debug, Clone)]
pub struct HttpHooks {
    run: Arc<EgressRun>,
}

impl HttpHooks {
    /// Hooks that send through `run`.
    pub fn new(run: Arc<EgressRun>) -> HttpHooks {
        HttpHooks { run }
    }
}

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> SendFuture {
        let run = self.run.clone();
        Box::new(async move {
            let response = send(&run, request, options).await.map_err(|e| e.to_wasi())?;
            // The connection is driven by its own task (see `Connector::send`).
            Ok((response, Box::new(async { Ok(()) }) as IoFuture))
        })
    }
}

async fn send(
    run: &EgressRun,
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<http::Response<WasiBody>, EgressError> {
    let policy = &run.policy.http;
    let (mut parts, body) = request.into_parts();
    let scheme = match parts.uri.scheme_str() {
        Some("https") => Scheme::Https,
        Some("http") => Scheme::Http,
        other => return Err(EgressError::Denied(format!("scheme {other:?} is not http or https"))),
    };
    let authority = parts.uri.authority().ok_or_else(|| EgressError::Denied("the request names no host".into()))?;
    let host = authority.host();
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host).to_ascii_lowercase();
    let port = authority.port_u16().unwrap_or(scheme.default_port());
    let method = parts.method.as_str().to_ascii_uppercase();
    let path = parts.uri.path().to_string();
    let target_name = format!("{}://{}:{port}", scheme.as_str(), authority.host());
    let counter = run.stats.counter(&target_name);

    let line = RequestLine { scheme, host: &host, port, method: &method, path: &path };
    // Every attempt counts against the run's requests, refused ones too, so
    // a guest cannot loop on refusals without end. TRACE echoes the request
    // (with any credential the host added) and CONNECT opens a tunnel past
    // the rules: never allowed.
    let rule = run.take_request().and_then(|()| match method.as_str() {
        "TRACE" | "CONNECT" => Err(EgressError::Denied(format!("method {method} is never allowed"))),
        _ => rules::find(&policy.allow, &line),
    });
    let rule = match rule {
        Ok(rule) => rule,
        Err(e) => {
            counter.deny();
            run.log_refusal(&method, &target_name, &path, &e);
            return Err(e);
        }
    };
    if let Some(n) = parts.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && n > policy.max_request_body
    {
        counter.deny();
        return Err(EgressError::RequestTooLarge { limit: policy.max_request_body, key: "http.max-request-body" });
    }
    if let Err(e) = apply_credentials(&mut parts, &rule.credentials) {
        run.log_refusal(&method, &target_name, &path, &e);
        return Err(e);
    }
    counter.request();

    let internal_allowed = match &rule.host {
        HostPattern::Ip(ip) => vec![*ip],
        HostPattern::Name(n) if n == "localhost" => {
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)]
        }
        _ => Vec::new(),
    };
    let target = Target {
        scheme,
        host,
        port,
        internal_allowed: Some(internal_allowed),
        ca: rule.ca.clone(),
        connect_timeout: options.and_then(|o| o.connect_timeout),
    };

    let started = Instant::now();
    let body_deadline = started + policy.timeout;
    // The guest may ask for less time (`request-options`): to connect, and
    // for the response head; never for more than the policy's deadline.
    let head_deadline = match options.and_then(|o| o.first_byte_timeout) {
        Some(first_byte) => body_deadline.min(started + guest_connect_timeout(options) + first_byte),
        None => body_deadline,
    };
    let exceeded = Arc::new(Mutex::new(None));
    let limits = |cap: (u64, &'static str)| Limits {
        cap,
        run: (run.bytes.clone(), policy.max_bytes),
        deadline: body_deadline,
        exceeded: exceeded.clone(),
    };
    // The request line the server sees is origin-form: just the path.
    let origin = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    parts.uri = origin.parse().map_err(|_| EgressError::Denied("the request's path is not valid".into()))?;
    let body = Limited::new(
        body,
        Direction::Sent,
        limits((policy.max_request_body, "http.max-request-body")),
        counter.clone(),
    );
    let request = http::Request::from_parts(parts, body);

    let response = match run.connector.send(&target, request, head_deadline, body_deadline).await {
        Ok(r) => r,
        Err(e) => {
            let e = exceeded.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or(e);
            run.log_refusal(&method, &target_name, &path, &e);
            return Err(e);
        }
    };
    tracing::info!(target: "egress", %method, destination = %target_name, %path, status = response.status().as_u16(),
        head_ms = started.elapsed().as_millis() as u64, "HTTP request");
    let (head, incoming) = response.into_parts();
    let body = Limited::new(
        incoming,
        Direction::Received,
        limits((policy.max_response_body, "http.max-response-body")),
        counter,
    );
    Ok(http::Response::from_parts(head, body.boxed_unsync()))
}

/// The guest's connect timeout, or none (zero) when it set none.
fn guest_connect_timeout(options: Option<RequestOptions>) -> std::time::Duration {
    options.and_then(|o| o.connect_timeout).unwrap_or_default()
}
