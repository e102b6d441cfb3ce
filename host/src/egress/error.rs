//! Why a request could not be sent or completed, and how that reads for a
//! `wasi:http` guest (its error codes) and for a model call (the sandbox
//! error the WIT functions return).

use wasmtime_wasi_http::Error as HttpError;

use crate::error::SandboxError;

/// A failed outgoing request. Messages never hold credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    /// No rule allows the request.
    #[error("{0}")]
    Denied(String),
    /// The name resolved only to addresses no rule names (loopback, private,
    /// link-local, metadata).
    #[error("{0}")]
    AddressProhibited(String),
    /// A per-run budget is spent (the message names the policy key).
    #[error("{0}")]
    Budget(String),
    /// The request body is over `http.max-request-body`.
    #[error("the request body is over {limit} bytes (policy {key})")]
    RequestTooLarge {
        /// The cap.
        limit: u64,
        /// The policy key.
        key: &'static str,
    },
    /// The response body is over its cap.
    #[error("the response body is over {limit} bytes (policy {key})")]
    ResponseTooLarge {
        /// The cap.
        limit: u64,
        /// The policy key.
        key: &'static str,
    },
    /// The host has no value for a credential the rule names.
    #[error("{0}")]
    Credential(String),
    /// The name did not resolve.
    #[error("{0}")]
    Dns(String),
    /// No connection could be made.
    #[error("{0}")]
    Connect(String),
    /// A deadline passed.
    #[error("{0}")]
    Timeout(String),
    /// The TLS handshake failed.
    #[error("{0}")]
    Tls(String),
    /// The peer broke the HTTP protocol or the connection.
    #[error("{0}")]
    Protocol(String),
}

impl EgressError {
    /// The `wasi:http` error a guest sees. Codes without a message carry
    /// none; the host logs the message.
    pub fn to_wasi(&self) -> HttpError {
        match self {
            EgressError::Denied(_) => HttpError::HttpRequestDenied,
            EgressError::AddressProhibited(_) => HttpError::DestinationIpProhibited,
            EgressError::Budget(m) | EgressError::Credential(m) => HttpError::InternalError(Some(m.clone())),
            EgressError::RequestTooLarge { limit, .. } => HttpError::HttpRequestBodySize(Some(*limit)),
            EgressError::ResponseTooLarge { limit, .. } => HttpError::HttpResponseBodySize(Some(*limit)),
            EgressError::Dns(m) => HttpError::DnsError { rcode: Some(m.clone()), info_code: None },
            EgressError::Connect(_) => HttpError::ConnectionRefused,
            EgressError::Timeout(_) => HttpError::ConnectionTimeout,
            EgressError::Tls(_) => HttpError::TlsProtocolError,
            EgressError::Protocol(_) => HttpError::HttpProtocolError,
        }
    }

    /// The sandbox error a model call returns.
    pub fn to_sandbox(&self, op: &str) -> SandboxError {
        let m = self.to_string();
        match self {
            EgressError::Denied(_) | EgressError::AddressProhibited(_) | EgressError::Credential(_) => {
                SandboxError::denied(op, m)
            }
            EgressError::Budget(_) | EgressError::RequestTooLarge { .. } | EgressError::ResponseTooLarge { .. } => {
                SandboxError::too_large(op, m)
            }
            EgressError::Timeout(_) => SandboxError::timeout(op, m),
            EgressError::Dns(_) | EgressError::Connect(_) | EgressError::Tls(_) | EgressError::Protocol(_) => {
                SandboxError::unavailable(op, m)
            }
        }
    }

    /// Whether a model call may be retried after this error.
    pub fn transient(&self) -> bool {
        matches!(self, EgressError::Connect(_) | EgressError::Protocol(_) | EgressError::Dns(_))
    }
}
