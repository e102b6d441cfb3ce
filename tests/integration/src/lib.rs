//! End-to-end test suites live in `tests/all`; this crate has no library code.
