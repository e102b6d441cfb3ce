//! A gateway that a test stops, crashes and restarts on one address and
//! state directory, as an operator's gateway restarts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::{Config, Instance};

/// A gateway that can be stopped, killed and started again; its address
/// stays the same once first bound (start with port 0 to pick one).
#[derive(Debug)]
pub struct Restartable {
    state: PathBuf,
    addr: SocketAddr,
    instance: Option<Instance>,
}

impl Restartable {
    /// Not running yet; it keeps its sandboxes in `state` and first binds
    /// 127.0.0.1:0.
    pub fn new(state: impl Into<PathBuf>) -> Restartable {
        Restartable { state: state.into(), addr: SocketAddr::from(([127, 0, 0, 1], 0)), instance: None }
    }

    /// The state directory, for [`Config::new`].
    pub fn state(&self) -> &Path {
        &self.state
    }

    /// Where it listens (port 0 until first started).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether it runs now.
    pub fn is_running(&self) -> bool {
        self.instance.is_some()
    }

    /// Start serving `config` on the address.
    ///
    /// # Panics
    /// If it already runs or cannot start (a test should stop at once then).
    pub async fn start(&mut self, config: Config) {
        assert!(self.instance.is_none(), "a gateway is already running");
        let gw = Instance::start(self.addr, config).await.expect("the test gateway starts");
        self.addr = gw.addr();
        self.instance = Some(gw);
    }

    /// A graceful stop; an error says it did not stop cleanly.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        match self.instance.take() {
            Some(gw) => gw.stop().await,
            None => Ok(()),
        }
    }

    /// A crash: connections break, nothing is shut down.
    pub fn kill(&mut self) {
        if let Some(gw) = self.instance.take() {
            gw.kill();
        }
    }
}
