//! Helpers both wire adapters share: paging arithmetic and turning the
//! core's channels into response streams.

use tokio::sync::mpsc;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tonic::codegen::BoxStream;

/// Page size when a list request gives none.
const DEFAULT_PAGE: usize = 100;
/// The largest page served.
const MAX_PAGE: usize = 1000;

/// 0.0 paging: `limit` 0 → 100, clamped to 1000; plain `offset`.
/// Returns `(offset, limit)`.
pub(crate) fn limit_offset(limit: u32, offset: u32) -> (usize, usize) {
    let limit = usize::try_from(limit).unwrap_or(MAX_PAGE);
    let limit = if limit == 0 { DEFAULT_PAGE } else { limit.min(MAX_PAGE) };
    (usize::try_from(offset).unwrap_or(usize::MAX), limit)
}

/// 0.1 paging: `page_size` 0 → 100, clamped to 1000; `page_token` is the
/// opaque token a previous page returned. Returns `(offset, limit)`.
pub(crate) fn page_token(page_size: i32, token: &str) -> Result<(usize, usize), Status> {
    let size = usize::try_from(page_size).map_err(|_| Status::invalid_argument("page_size must not be negative"))?;
    let limit = if size == 0 { DEFAULT_PAGE } else { size.min(MAX_PAGE) };
    let offset = if token.is_empty() {
        0
    } else {
        token
            .strip_prefix("offset-")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| Status::invalid_argument("invalid page_token"))?
    };
    Ok((offset, limit))
}

/// The `next_page_token` after a page of `count` items from `offset`.
pub(crate) fn next_page_token(offset: usize, count: usize, more: bool) -> String {
    if more { format!("offset-{}", offset + count) } else { String::new() }
}

/// A core channel as a response stream, converting each item.
pub(crate) fn stream<T, U>(rx: mpsc::Receiver<Result<T, Status>>, convert: fn(&T) -> U) -> BoxStream<U>
where
    T: Send + 'static,
    U: Send + 'static,
{
    Box::pin(ReceiverStream::new(rx).map(move |item| item.map(|t| convert(&t))))
}

/// Milliseconds since the epoch as a protobuf timestamp.
pub(crate) fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: i32::try_from(ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging() {
        assert_eq!(limit_offset(0, 5), (5, 100));
        assert_eq!(limit_offset(5000, 0), (0, 1000));
        assert_eq!(page_token(0, "").unwrap(), (0, 100));
        assert_eq!(page_token(2, "offset-4").unwrap(), (4, 2));
        assert!(page_token(-1, "").is_err());
        assert!(page_token(1, "bogus").is_err());
        assert_eq!(next_page_token(4, 2, true), "offset-6");
        assert_eq!(next_page_token(4, 2, false), "");
    }
}
