//! The test kit every suite shares: gateways run in the test's own
//! process (for as long as a value lives, or restartable on one address),
//! the certificates a TLS or mTLS gateway and its clients need, the
//! `openshell-wasm` command line isolated from the user's environment, a
//! seeded generator and content hashes.

mod cli;
mod pki;
mod restartable;
mod rng;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use cli::{CliEnv, isolated};
pub use pki::Pki;
pub use restartable::Restartable;
pub use rng::Rng;

use crate::{Config, serve};

/// The compiled-component cache the suites share (entries are written
/// atomically, so concurrent tests and test binaries are safe).
pub fn component_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-component-cache")
}

/// SHA-256 of `data`, in hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(data))
}

/// A gateway serving in the current runtime until dropped.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Running {
    /// Bind 127.0.0.1:0 and serve `config` there.
    ///
    /// # Panics
    /// If the port cannot be bound, or later if the gateway fails (a test
    /// should stop at once then).
    pub async fn start(config: Config) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("the bound address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            if let Err(e) = serve(listener, config, async {
                let _ = stopped.await;
            })
            .await
            {
                panic!("the test gateway failed: {e:#}");
            }
        });
        Running { addr, stop: Some(stop) }
    }

    /// `http://ADDR` (or `https://localhost:PORT` with `tls`).
    pub fn url(&self, tls: bool) -> String {
        if tls { format!("https://localhost:{}", self.addr.port()) } else { format!("http://{}", self.addr) }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
