//! Paths of the test guests and example agents, built from source by this
//! crate's build script (see `build.rs`).

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
