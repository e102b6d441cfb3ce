//! gRPC statuses as sandbox errors, and retries for idempotent calls.

use std::future::Future;
use std::time::Duration;

use tonic::{Code, Status};

use crate::error::{ErrorCode, SandboxError};
use crate::retry::{Backoff, if_retryable, retry_notify};

/// Between attempts of an idempotent call: 100 ms, 200 ms, ... up to 2 s.
const BACKOFF: Backoff = Backoff::exponential(Duration::from_millis(100), 2, Duration::from_secs(2));

/// Map a gateway status for operation `op`, keeping the gateway's message.
pub fn to_error(op: &str, s: &Status) -> SandboxError {
    let msg = format!("gateway: {} ({:?})", s.message(), s.code());
    let code = match s.code() {
        Code::NotFound => ErrorCode::NotFound,
        Code::InvalidArgument => ErrorCode::InvalidArgument,
        Code::OutOfRange => ErrorCode::TooLarge,
        Code::AlreadyExists | Code::Aborted => ErrorCode::Conflict,
        Code::FailedPrecondition if s.message().contains("not ready") => ErrorCode::Unavailable,
        Code::FailedPrecondition => ErrorCode::Conflict,
        // tonic reports its own deadline (the grpc-timeout we set) as
        // CANCELLED "Timeout expired": a timeout, not something to retry
        // (a create that timed out may still complete).
        Code::Cancelled if s.message().contains("Timeout expired") => ErrorCode::Timeout,
        Code::Unavailable | Code::ResourceExhausted | Code::Cancelled => ErrorCode::Unavailable,
        Code::DeadlineExceeded => ErrorCode::Timeout,
        Code::Unimplemented => ErrorCode::Unsupported,
        Code::Unauthenticated => ErrorCode::Backend("unauthenticated".into()),
        Code::PermissionDenied => ErrorCode::Backend("forbidden".into()),
        Code::Internal | Code::Unknown | Code::DataLoss => {
            // Transport failures (connection refused, reset) arrive as
            // UNKNOWN/INTERNAL with a hyper message; they are retryable.
            if is_transport(s) { ErrorCode::Unavailable } else { ErrorCode::Backend("internal".into()) }
        }
        Code::Ok => ErrorCode::Backend("internal".into()),
    };
    SandboxError::new(code, op, msg)
}

/// Whether the status came from the connection rather than the gateway.
fn is_transport(s: &Status) -> bool {
    let m = s.message().to_ascii_lowercase();
    m.contains("transport error") || m.contains("connection") || m.contains("broken pipe") || m.contains("tcp connect")
}

/// Whether the connection was refused: nothing listens at the gateway's
/// address. Read from the I/O error in the status's source chain, not from
/// its message, which tonic and hyper word as they like.
pub fn connection_refused(s: &Status) -> bool {
    let mut source = std::error::Error::source(s);
    while let Some(e) = source {
        if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused) {
            return true;
        }
        source = e.source();
    }
    false
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
        assert_eq!(to_error("x", &Status::failed_precondition("sandbox is not ready")).code, ErrorCode::Unavailable);
        assert_eq!(to_error("x", &Status::already_exists("dup")).code, ErrorCode::Conflict);
        assert_eq!(to_error("x", &Status::out_of_range("too big")).code, ErrorCode::TooLarge);
        assert_eq!(to_error("x", &Status::unknown("transport error: connection refused")).code, ErrorCode::Unavailable);
        let t = to_error("x", &Status::cancelled("Timeout expired"));
        assert!(t.code == ErrorCode::Timeout && !t.retryable, "a deadline is not retried: {t}");
        assert_eq!(to_error("x", &Status::cancelled("client went away")).code, ErrorCode::Unavailable);
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
