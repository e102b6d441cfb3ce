//! The error every sandbox operation returns, and the one place where other
//! error types (I/O, gRPC, policy) are turned into it.
//!
//! [`SandboxError`] mirrors the WIT `types.error` record field for field, so
//! converting it for the guest is mechanical (see `interfaces::convert`), and
//! it is what backends return: no generated type ever crosses the backend
//! trait.

use std::fmt;
use std::io;

/// What kind of failure an operation hit. Mirrors the WIT `error-code`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The target does not exist.
    NotFound,
    /// The host policy does not grant the operation.
    PermissionDenied,
    /// A deadline expired.
    Timeout,
    /// A size limit was exceeded.
    TooLarge,
    /// An argument was malformed.
    InvalidArgument,
    /// The backend is temporarily unreachable; retrying may help.
    Unavailable,
    /// The target's state prevents the operation.
    Conflict,
    /// The backend cannot do this at all.
    Unsupported,
    /// Any other backend failure, with a short kind.
    Backend(String),
}

impl ErrorCode {
    /// A stable snake_case name, used in `--json` output and logs.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::NotFound => "not_found",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::Timeout => "timeout",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::Backend(kind) => kind,
        }
    }
}

/// A failed sandbox operation: what kind, which operation, and a message that
/// says what to do. Messages never contain credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxError {
    /// The kind of failure.
    pub code: ErrorCode,
    /// The operation, as `interface.function` (e.g. `fs.write-file`).
    pub operation: String,
    /// Human-readable detail.
    pub message: String,
    /// Whether retrying unchanged may succeed.
    pub retryable: bool,
}

impl SandboxError {
    /// A new error; `retryable` defaults to true only for `Unavailable`.
    pub fn new(code: ErrorCode, operation: impl Into<String>, message: impl Into<String>) -> Self {
        let retryable = code == ErrorCode::Unavailable;
        SandboxError { code, operation: operation.into(), message: message.into(), retryable }
    }

    /// Shorthand for [`ErrorCode::NotFound`].
    pub fn not_found(op: impl Into<String>, msg: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, op, msg)
    }
    /// Shorthand for [`ErrorCode::PermissionDenied`].
    pub fn denied(op: impl Into<String>, msg: impl Into<String>) -> Self {
        Self::new(ErrorCode::PermissionDenied, op, msg)
    }
    /// Shorthand for [`ErrorCode::InvalidArgument`].
    pub fn invalid(op: impl Into<String>, msg: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, op, msg)
    }
    /// Shorthand for [`ErrorCode::Unavailable`] (retryable).
    pub fn unavailable(op: impl Into<String>, msg: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, op, msg)
    }
    /// Shorthand for [`ErrorCode::Conflict`].
    pub fn conflict(op: impl Into<String>, msg: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, op, msg)
    }
    /// Shorthand for [`ErrorCode::Unsupported`].
    pub fn unsupported(op: impl Into<String>, msg: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unsupported, op, msg)
    }
    /// Shorthand for [`ErrorCode::TooLarge`].
    pub fn too_large(op: impl Into<String>, msg: impl Into<String>) -> Self {
        Self::new(ErrorCode::TooLarge, op, msg)
    }
    /// Shorthand for [`ErrorCode::Timeout`].
    pub fn timeout(op: impl Into<String>, msg: impl Into<String>) -> Self {
        Self::new(ErrorCode::Timeout, op, msg)
    }
    /// Shorthand for [`ErrorCode::Backend`] with a kind such as `internal`.
    pub fn backend(op: impl Into<String>, kind: &str, msg: impl Into<String>) -> Self {
        Self::new(ErrorCode::Backend(kind.to_string()), op, msg)
    }

    /// The same error, attributed to another operation. Backends report
    /// their own operation names; the guest-facing layer renames them to the
    /// WIT function the guest called.
    pub fn with_operation(mut self, op: impl Into<String>) -> Self {
        self.operation = op.into();
        self
    }

    /// The same error with context prepended to its message.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// Map an I/O error from an operation on `path`.
    pub fn from_io(op: impl Into<String>, path: &str, err: &io::Error) -> Self {
        let op = op.into();
        let code = match err.kind() {
            io::ErrorKind::NotFound => ErrorCode::NotFound,
            io::ErrorKind::PermissionDenied => {
                // A permission error from the OS inside the workspace is not a
                // host-policy denial; report it as a backend error so guests
                // do not confuse it with a missing grant.
                return SandboxError::backend(op, "io", format!("{path}: permission denied by the filesystem"));
            }
            io::ErrorKind::AlreadyExists => ErrorCode::Conflict,
            io::ErrorKind::DirectoryNotEmpty => ErrorCode::Conflict,
            io::ErrorKind::IsADirectory => ErrorCode::Conflict,
            io::ErrorKind::NotADirectory => ErrorCode::Conflict,
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidFilename => ErrorCode::InvalidArgument,
            io::ErrorKind::TimedOut => ErrorCode::Timeout,
            io::ErrorKind::StorageFull | io::ErrorKind::FileTooLarge | io::ErrorKind::QuotaExceeded => {
                ErrorCode::TooLarge
            }
            _ => ErrorCode::Backend("io".into()),
        };
        SandboxError::new(code, op, format!("{path}: {err}"))
    }

    /// An operation `op` that needed a fresh id could not get one.
    pub fn from_id(op: impl Into<String>, err: &crate::ids::IdError) -> Self {
        SandboxError::backend(op, "internal", err.to_string())
    }
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed ({}): {}", self.operation, self.code.as_str(), self.message)
    }
}

impl std::error::Error for SandboxError {}

/// Result alias for sandbox operations.
pub type Result<T, E = SandboxError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unavailable_is_retryable_by_default() {
        assert!(SandboxError::unavailable("x", "y").retryable);
        assert!(!SandboxError::not_found("x", "y").retryable);
        assert!(!SandboxError::backend("x", "internal", "y").retryable);
    }

    #[test]
    fn io_errors_map_to_codes() {
        let e = SandboxError::from_io("fs.stat", "/w/a", &io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(e.code, ErrorCode::NotFound);
        assert!(e.message.starts_with("/w/a"));
        let e = SandboxError::from_io("fs.stat", "/w/a", &io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(e.code, ErrorCode::Backend("io".into()));
    }

    #[test]
    fn display_names_operation_and_code() {
        let e = SandboxError::denied("process.run", "command `curl` is not on the allowlist");
        assert_eq!(e.to_string(), "process.run failed (permission_denied): command `curl` is not on the allowlist");
    }
}
