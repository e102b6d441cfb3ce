//! Bodies with limits: a cap per body, the run's byte budget shared by all
//! its requests, and the request's deadline. Every byte is counted for the
//! run's stats as it passes.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::Error as HttpError;

use super::EgressError;
use super::stats::Counter;

/// Which way a body goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Guest to destination.
    Sent,
    /// Destination to guest.
    Received,
}

/// The limits one body runs under.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Cap on this body, and the policy key that sets it.
    pub cap: (u64, &'static str),
    /// Bytes the run has moved so far, and its budget (`http.max-bytes`).
    pub run: (Arc<AtomicU64>, u64),
    /// The request's deadline.
    pub deadline: Instant,
    /// Where the first limit hit is recorded, so the caller can report it
    /// precisely after hyper has wrapped the body's error in its own.
    pub exceeded: Arc<Mutex<Option<EgressError>>>,
}

/// A body passed through with [`Limits`].
pub(crate) struct Limited<B> {
    inner: B,
    seen: u64,
    direction: Direction,
    limits: Limits,
    counter: Arc<Counter>,
    sleep: Pin<Box<Sleep>>,
}

impl<B> Limited<B> {
    pub(crate) fn new(inner: B, direction: Direction, limits: Limits, counter: Arc<Counter>) -> Self {
        let sleep = Box::pin(tokio::time::sleep_until(limits.deadline));
        Limited { inner, seen: 0, direction, limits, counter, sleep }
    }

    fn fail(&self, e: EgressError) -> HttpError {
        tracing::warn!(target: "egress", "{e}");
        let wasi = e.to_wasi();
        let mut slot = self.limits.exceeded.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
        wasi
    }
}

impl<B> Body for Limited<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<HttpError>,
{
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(f) => f,
            Poll::Pending => {
                if this.sleep.as_mut().poll(cx).is_ready() {
                    let what = match this.direction {
                        Direction::Sent => "sending the request body",
                        Direction::Received => "receiving the response body",
                    };
                    let e =
                        EgressError::Timeout(format!("the request's deadline passed while {what} (policy timeout)"));
                    return Poll::Ready(Some(Err(this.fail(e))));
                }
                return Poll::Pending;
            }
        };
        match frame {
            None => Poll::Ready(None),
            // The connection is closed at the deadline too: say why.
            Some(Err(_)) if Instant::now() >= this.limits.deadline => {
                let e = EgressError::Timeout("the request's deadline passed (policy http.timeout)".into());
                Poll::Ready(Some(Err(this.fail(e))))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(e.into()))),
            Some(Ok(frame)) => {
                let n = frame.data_ref().map_or(0, |d| d.len() as u64);
                this.seen += n;
                let (cap, key) = this.limits.cap;
                if this.seen > cap {
                    let e = match this.direction {
                        Direction::Sent => EgressError::RequestTooLarge { limit: cap, key },
                        Direction::Received => EgressError::ResponseTooLarge { limit: cap, key },
                    };
                    return Poll::Ready(Some(Err(this.fail(e))));
                }
                let (run, budget) = &this.limits.run;
                if run.fetch_add(n, Ordering::Relaxed) + n > *budget {
                    let e = EgressError::Budget(format!(
                        "this run has moved its {budget} bytes of HTTP bodies (policy http.max-bytes)"
                    ));
                    return Poll::Ready(Some(Err(this.fail(e))));
                }
                this.counter.add(this.direction, n);
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
