//! What every call goes through before its handler, in this order: the
//! injected delay, the injected warm-up UNAVAILABLE, and the bearer token
//! check (Health exempt, as on the real gateway).
//!
//! It wraps the generated HTTP service rather than being a tonic
//! interceptor because it needs the method path, which interceptors do not
//! see, and because it must also cover methods answered UNIMPLEMENTED (the
//! real gateway authenticates before it finds out a method is unknown).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::Status;
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;

/// Calls that need no credentials.
const UNAUTHENTICATED_PATHS: &[&str] = &["/openshell.v1.OpenShell/Health"];

/// The gate's settings and its call counter.
#[derive(Debug)]
pub(crate) struct Admission {
    delay: Duration,
    unavailable_first: u32,
    /// Calls seen so far (for `unavailable_first`).
    seen: AtomicU32,
    /// The full expected header value, `Bearer <token>`.
    authorization: Option<String>,
}

impl Admission {
    pub(crate) fn new(delay: Duration, unavailable_first: u32, bearer_token: Option<&str>) -> Self {
        Admission {
            delay,
            unavailable_first,
            seen: AtomicU32::new(0),
            authorization: bearer_token.map(|t| format!("Bearer {t}")),
        }
    }

    async fn admit(&self, path: &str, headers: &http::HeaderMap) -> Result<(), Status> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        if n < self.unavailable_first {
            return Err(Status::unavailable("gateway warming up (injected fault)"));
        }
        let Some(expected) = &self.authorization else { return Ok(()) };
        if UNAUTHENTICATED_PATHS.contains(&path) {
            return Ok(());
        }
        match headers.get(http::header::AUTHORIZATION) {
            None => Err(Status::unauthenticated("missing authorization header")),
            Some(value) if value.as_bytes() == expected.as_bytes() => Ok(()),
            Some(_) => Err(Status::unauthenticated("invalid bearer token")),
        }
    }
}

/// The generated service `S` behind the gate.
#[derive(Debug, Clone)]
pub(crate) struct Gate<S> {
    inner: S,
    admission: Arc<Admission>,
}

impl<S> Gate<S> {
    pub(crate) fn new(inner: S, admission: Admission) -> Self {
        Gate { inner, admission: Arc::new(admission) }
    }
}

impl<S> Service<http::Request<Body>> for Gate<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The clone is not yet ready; swap so the ready one handles this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let admission = self.admission.clone();
        Box::pin(async move {
            if let Err(status) = admission.admit(request.uri().path(), request.headers()).await {
                return Ok(status.into_http());
            }
            inner.call(request).await
        })
    }
}

impl<S: NamedService> NamedService for Gate<S> {
    const NAME: &'static str = S::NAME;
}
