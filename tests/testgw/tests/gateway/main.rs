//! The test gateway over real sockets: one gateway per test on
//! `127.0.0.1:0`, tonic clients of both wire generations.

mod binary;
mod common;
mod faults;
mod tls;
mod v0_0;
mod v0_1;
