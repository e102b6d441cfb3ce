//! One test binary for every end-to-end suite (one link, shared setup).

mod archives;
mod components;
mod egress;
mod engine;
mod faults;
mod gateway;
mod harness;
mod integrity;
mod models;
mod polyglot;
mod session;
mod toctou;
