//! gRPC statuses as sandbox errors, and retries for idempotent calls.
//!
//! Statuses are classified by their code, by which call they answer, and by
//! the errors in their source chain; never by their message, which the
//! gateway, tonic and hyper word as they like.

use std::future::Future;
use std::time::Duration;

use tonic::{Code, Status};

use crate::error::{ErrorCode, SandboxError};
use crate::retry::{Backoff, if_retryable, retry_notify};

/// Between attempts of an idempotent call: 100 ms, 200 ms, ... up to 2 s.
const BACKOFF: Backoff = Backoff::exponential(Duration::from_millis(100), 2, Duration::from_secs(2));

/// Map a gateway status for operation `op`, keeping the gateway's message.
/// For statuses from `ExecSandbox` and `ExecSandboxInteractive` use
/// [`exec_error`].
pub fn to_error(op: &str, s: &Status) -> SandboxError {
    classify(op, s, false)
}

/// Map a status that answered an exec call (or ended its stream).
///
/// The gateway answers an exec with FAILED_PRECONDITION for one reason
/// only: the sandbox's phase is not READY (OpenShell's `handle_exec_sandbox`
/// and `handle_exec_sandbox_interactive` check the phase and return
/// `failed_precondition("sandbox is not ready")`; every other refusal there
/// is INVALID_ARGUMENT, NOT_FOUND or UNAVAILABLE). A sandbox that is not
/// ready yet may become so, so that is `unavailable`, not a conflict. The
/// test gateway models the same check.
pub fn exec_error(op: &str, s: &Status) -> SandboxError {
    classify(op, s, true)
}

fn classify(op: &str, s: &Status, exec: bool) -> SandboxError {
    let msg = format!("gateway: {} ({:?})", s.message(), s.code());
    let code = match s.code() {
        Code::NotFound => ErrorCode::NotFound,
        Code::InvalidArgument => ErrorCode::InvalidArgument,
        Code::OutOfRange => ErrorCode::TooLarge,
        Code::AlreadyExists | Code::Aborted => ErrorCode::Conflict,
        Code::FailedPrecondition if exec => ErrorCode::Unavailable,
        // Elsewhere (stop, start, create with a missing provider, ...) the
        // sandbox's state or the gateway's contradicts the call.
        Code::FailedPrecondition => ErrorCode::Conflict,
        // tonic reports its own deadline (the grpc-timeout we set) as
        // CANCELLED with a `TimeoutExpired` source: a timeout, not something
        // to retry (a create that timed out may still complete).
        Code::Cancelled if has_source::<tonic::TimeoutExpired>(s) => ErrorCode::Timeout,
        Code::Unavailable | Code::ResourceExhausted | Code::Cancelled => ErrorCode::Unavailable,
        Code::DeadlineExceeded => ErrorCode::Timeout,
        Code::Unimplemented => ErrorCode::Unsupported,
        Code::Unauthenticated => ErrorCode::Backend("unauthenticated".into()),
        Code::PermissionDenied => ErrorCode::Backend("forbidden".into()),
        Code::Internal | Code::Unknown | Code::DataLoss => {
            // Transport failures (connection refused, reset, closed) arrive
            // as UNKNOWN/INTERNAL built by tonic from a local error; they
            // are retryable. One the gateway sent is its own failure.
            if is_transport(s) { ErrorCode::Unavailable } else { ErrorCode::Backend("internal".into()) }
        }
        Code::Ok => ErrorCode::Backend("internal".into()),
    };
    SandboxError::new(code, op, msg)
}

/// The errors in the status's source chain, the status itself excluded.
fn sources(s: &Status) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(std::error::Error::source(s), |e| e.source())
}

fn has_source<E: std::error::Error + 'static>(s: &Status) -> bool {
    sources(s).any(|e| e.is::<E>())
}

/// Whether the status came from the connection rather than the gateway:
/// tonic made it from an HTTP/2 or socket error (a status received from the
/// gateway has no source).
fn is_transport(s: &Status) -> bool {
    sources(s).any(|e| e.is::<std::io::Error>() || e.is::<hyper::Error>() || e.is::<tonic::transport::Error>())
}

/// Whether the connection was refused: nothing listens at the gateway's
/// address. Read from the I/O error in the status's source chain, not from
/// its message, which tonic and hyper word as they like.
pub fn connection_refused(s: &Status) -> bool {
    sources(s).any(|e| {
        e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    })
}

/// Call `f` until it succeeds, fails with something not retryable, or
/// `budget` runs out; backing off 100 ms, 200 ms, ... up to 2 s between
/// attempts. Only for calls that are safe to repeat.
pub async fn retry<T, F, Fut>(op: &str, budget: Duration, mut f: F) -> Result<T, SandboxError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SandboxError>>,
{
    retry_notify(
        &BACKOFF.within(budget),
        |_| f(),
        if_retryable,
        |e, attempt, _| {
            tracing::debug!(op, attempt, "retrying after: {e}");
        },
    )
    .await
    .map_err(|g| if g.attempts > 1 { g.error.context(format!("after {} attempts", g.attempts)) } else { g.error })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_codes() {
        assert_eq!(to_error("x", &Status::not_found("sandbox not found")).code, ErrorCode::NotFound);
        let e = to_error("x", &Status::unavailable("down"));
        assert!(e.retryable && e.message.contains("down"));
        assert_eq!(to_error("x", &Status::already_exists("dup")).code, ErrorCode::Conflict);
        assert_eq!(to_error("x", &Status::out_of_range("too big")).code, ErrorCode::TooLarge);
        // tonic's own deadline, as tonic builds it.
        let t = to_error("x", &Status::from_error(Box::new(tonic::TimeoutExpired(()))));
        assert_eq!(t.code, ErrorCode::Timeout, "{t}");
        assert!(!t.retryable, "a deadline is not retried: {t}");
        assert_eq!(to_error("x", &Status::cancelled("client went away")).code, ErrorCode::Unavailable);
    }

    #[test]
    fn failed_preconditions_are_read_by_call_not_by_message() {
        // An exec refused because the sandbox is not READY (yet) may pass.
        let e = exec_error("x", &Status::failed_precondition("sandbox is not ready"));
        assert!(e.code == ErrorCode::Unavailable && e.retryable, "{e}");
        assert_eq!(exec_error("x", &Status::failed_precondition("worded otherwise")).code, ErrorCode::Unavailable);
        // Elsewhere the state contradicts the call, whatever the wording.
        assert_eq!(to_error("x", &Status::failed_precondition("sandbox is not ready")).code, ErrorCode::Conflict);
        assert_eq!(
            to_error("x", &Status::failed_precondition("sandbox must be Ready to stop")).code,
            ErrorCode::Conflict
        );
        // Messages that merely mention a timeout are not tonic's deadline.
        assert_eq!(to_error("x", &Status::cancelled("Timeout expired")).code, ErrorCode::Unavailable);
    }

    #[test]
    fn transport_failures_are_found_in_the_source_chain_not_the_message() {
        let io = |kind| Status::from_error(Box::new(std::io::Error::from(kind)));
        for kind in [std::io::ErrorKind::ConnectionReset, std::io::ErrorKind::BrokenPipe] {
            let e = to_error("x", &io(kind));
            assert!(e.code == ErrorCode::Unavailable && e.retryable, "{kind:?}: {e}");
        }
        // The gateway's own INTERNAL/UNKNOWN, however worded, is not retried.
        for s in [Status::unknown("transport error: connection refused"), Status::internal("broken pipe")] {
            assert_eq!(to_error("x", &s).code, ErrorCode::Backend("internal".into()), "{s:?}");
        }
    }

    #[test]
    fn refusals_are_found_in_the_source_chain_not_the_message() {
        /// A wrapper like hyper's and tonic's connect errors.
        #[derive(Debug)]
        struct Wrapped(std::io::Error);
        impl std::fmt::Display for Wrapped {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("tcp connect error")
            }
        }
        impl std::error::Error for Wrapped {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let refused = || std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(connection_refused(&Status::from_error(Box::new(Wrapped(refused())))));
        assert!(connection_refused(&Status::from_error(Box::new(refused()))));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(!connection_refused(&Status::from_error(Box::new(Wrapped(reset)))));
        assert!(!connection_refused(&Status::unavailable("connection refused")), "the message is not evidence");
    }

    #[tokio::test]
    async fn retries_only_retryable_errors() {
        let mut n = 0;
        let r: Result<u32, _> = retry("x", Duration::from_secs(5), || {
            n += 1;
            let k = n;
            async move { if k < 3 { Err(SandboxError::unavailable("x", "down")) } else { Ok(k) } }
        })
        .await;
        assert_eq!(r.unwrap(), 3);
        let mut m = 0;
        let r: Result<u32, _> = retry("x", Duration::from_secs(5), || {
            m += 1;
            async { Err(SandboxError::not_found("x", "gone")) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(m, 1);
    }
}
