//! The server: shared state, the accept loop, and a handle for tests.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::routes;
use crate::script::{Script, Step};

/// How the server frames its streams.
#[derive(Clone, Debug)]
pub struct Options {
    /// End SSE lines in `\r\n` instead of `\n` (both are valid SSE).
    pub crlf: bool,
    /// Send a `: keep-alive` comment before every SSE event, as proxies
    /// and some providers do; clients must skip it.
    pub keepalive_comments: bool,
    /// Pause before each SSE event after the first.
    pub chunk_delay: Duration,
    /// The one model `GET /v1/models` lists.
    pub model: String,
}

impl Default for Options {
    /// `\n` line ends, no comments, no delay, model `openshell-test-model`.
    fn default() -> Options {
        Options {
            crlf: false,
            keepalive_comments: false,
            chunk_delay: Duration::ZERO,
            model: "openshell-test-model".to_string(),
        }
    }
}

/// One request the server received, on any route.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path and query, as sent (`/v1/chat/completions`).
    pub path: String,
    /// Every header, names lowercase, in the order received.
    pub headers: Vec<(String, String)>,
    /// A chat-completions request's JSON body (`None` on other routes or
    /// when the body was not JSON).
    pub body: Option<Value>,
    /// The script step the request consumed, if any.
    pub step: Option<usize>,
    /// Whether the request asked for a stream (`"stream": true`).
    pub stream: bool,
    /// Why the request was refused with 400: its step's failed
    /// expectation, an exhausted script, or a body that was not JSON.
    pub mismatch: Option<String>,
}

impl RecordedRequest {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A scripted server's state. Clones share it: serve one, read the
/// requests from another.
#[derive(Clone, Debug)]
pub struct ModelServer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) steps: Vec<Step>,
    pub(crate) options: Options,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The step the next chat request consumes.
    next: usize,
    requests: Vec<RecordedRequest>,
}

/// What [`Shared::take_step`] hands a chat request.
#[derive(Debug)]
pub(crate) struct Taken {
    /// The request's number (for ids), counting every route.
    pub(crate) serial: usize,
    /// The step consumed and whether its expectation held.
    pub(crate) step: Result<usize, String>,
}

/// Wait this long after a failed `accept` (out of file descriptors, say)
/// before trying again, rather than spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

impl ModelServer {
    /// A server that will answer with `script`, framed as `options` say.
    pub fn new(script: Script, options: Options) -> ModelServer {
        let shared = Shared { steps: script.steps, options, state: Mutex::new(State::default()) };
        ModelServer { shared: Arc::new(shared) }
    }

    /// Serves HTTP/1.1 on `listener` until `shutdown` resolves. Open
    /// connections, stalled streams included, are then closed, and the
    /// function returns once they are gone. A failing connection only ends
    /// itself.
    pub async fn serve(&self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut connections = JoinSet::new();
        loop {
            let accepted = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => accepted,
            };
            while connections.try_join_next().is_some() {}
            let Ok((stream, _)) = accepted else {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            };
            // Small SSE events would otherwise wait on Nagle's algorithm.
            let _ = stream.set_nodelay(true);
            let shared = Arc::clone(&self.shared);
            connections.spawn(async move {
                let service = service_fn(move |request| {
                    let shared = Arc::clone(&shared);
                    async move { Ok::<_, Infallible>(routes::handle(&shared, request).await) }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
        connections.shutdown().await;
    }

    /// Binds `127.0.0.1:0` and serves `script` with default [`Options`]
    /// until the handle is dropped.
    ///
    /// # Errors
    /// If the port cannot be bound.
    pub async fn start(script: Script) -> anyhow::Result<ServerHandle> {
        ModelServer::start_with(script, Options::default()).await
    }

    /// [`ModelServer::start`] with `options`.
    ///
    /// # Errors
    /// If the port cannot be bound.
    pub async fn start_with(script: Script, options: Options) -> anyhow::Result<ServerHandle> {
        let listener = TcpListener::bind("127.0.0.1:0").await.context("cannot bind 127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let server = ModelServer::new(script, options);
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = server.clone();
        tokio::spawn(async move {
            serving
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(ServerHandle { addr, server, stop: Some(stop) })
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// How many script steps no request has consumed yet.
    pub fn unused_steps(&self) -> usize {
        self.shared.steps.len().saturating_sub(self.shared.lock().next)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not turn every later request into one.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a request that uses no script step.
    pub(crate) fn record(&self, request: RecordedRequest) {
        self.lock().requests.push(request);
    }

    /// Records a chat request, consuming the next step (if any is left)
    /// and checking its expectation.
    pub(crate) fn take_step(&self, mut request: RecordedRequest) -> Taken {
        let mut state = self.lock();
        let serial = state.requests.len();
        let step = match (self.steps.get(state.next), &request.body) {
            (None, _) => Err(format!("script exhausted: all {} steps were used", self.steps.len())),
            (Some(step), Some(body)) => {
                let index = state.next;
                state.next += 1;
                request.step = Some(index);
                step.expect.check(body).map(|()| index).map_err(|why| format!("script step {index}: {why}"))
            }
            // Not consumed: the body was not JSON, which no script expects.
            (Some(_), None) => Err("the request body is not a JSON object".to_string()),
        };
        request.mismatch = step.as_ref().err().cloned();
        state.requests.push(request);
        Taken { serial, step }
    }
}

/// A server running in the current runtime until dropped.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    server: ModelServer,
    stop: Option<oneshot::Sender<()>>,
}

impl ServerHandle {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/v1`, the base URL OpenAI clients take.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://127.0.0.1:PORT` followed by `path` (`"/bytes/1024"`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The server's state (requests, unused steps).
    pub fn server(&self) -> &ModelServer {
        &self.server
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// How many script steps no request has consumed yet.
    pub fn unused_steps(&self) -> usize {
        self.server.unused_steps()
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
