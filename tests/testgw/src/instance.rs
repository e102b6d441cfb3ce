//! A gateway on a runtime of its own, so a test can kill it the way a crash
//! would and start it again on the same address and state directory.
//!
//! [`serve`](crate::serve) on the test's own runtime cannot crash: its
//! connection tasks outlive an aborted server task, and its graceful
//! shutdown ends streams politely. Here [`Instance::kill`] shuts the whole
//! runtime down at once: every connection is cut mid-stream, every exec's
//! command is killed with its session, and nothing is flushed except what
//! the gateway had already saved (its registry is rewritten atomically
//! after every change, so a restart knows every sandbox).
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use openshell_testgw::{Config, Instance, Protocol};
//!
//! let config = Config::new(Protocol::V0_1, "/tmp/testgw-state");
//! let gw = Instance::start("127.0.0.1:0".parse()?, config.clone()).await?;
//! let addr = gw.addr();
//! // ... a client starts a long operation on http://{addr} ...
//! gw.kill();
//! let gw = Instance::start(addr, config).await?; // same port, same sandboxes
//! gw.stop().await?;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::sync::oneshot;

use crate::config::Config;

/// How long a restart keeps trying to bind the previous address (the old
/// listener's port is released as its runtime winds down).
const REBIND_FOR: Duration = Duration::from_secs(5);

/// A gateway serving on its own runtime until stopped, killed or dropped
/// (dropping kills).
#[derive(Debug)]
pub struct Instance {
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<oneshot::Sender<()>>,
    served: Option<oneshot::Receiver<anyhow::Result<()>>>,
}

impl Instance {
    /// Serves `config` on `addr`: port 0 picks a free port; an address a
    /// previous instance had is bound again, retrying for a few seconds.
    ///
    /// # Errors
    ///
    /// Fails if the address stays taken or the runtime cannot start;
    /// errors of the server itself are returned by [`Instance::stop`].
    pub async fn start(addr: SocketAddr, config: Config) -> anyhow::Result<Instance> {
        let listener = bind(addr).await?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("testgw-instance")
            .enable_all()
            .build()
            .context("cannot start the gateway's runtime")?;
        let listener = {
            let _inside = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let (done, served) = oneshot::channel();
        runtime.spawn(async move {
            let result = crate::serve(listener, config, async {
                let _ = stopped.await;
            })
            .await;
            let _ = done.send(result);
        });
        Ok(Instance { addr, runtime: Some(runtime), stop: Some(stop), served: Some(served) })
    }

    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Crash: drop every task now. Open streams end with a transport error
    /// (not the gateway's polite UNAVAILABLE), commands die, the port is
    /// released.
    pub fn kill(mut self) {
        self.shut_down();
    }

    /// Graceful stop: open exec and watch streams end with UNAVAILABLE
    /// "gateway is shutting down", connections drain, then the runtime ends.
    ///
    /// # Errors
    ///
    /// The server's own error, or a timeout if it did not stop in 10 s.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = match self.served.take() {
            Some(served) => match tokio::time::timeout(Duration::from_secs(10), served).await {
                Ok(Ok(result)) => result,
                Ok(Err(_)) => Err(anyhow::anyhow!("the gateway's server task ended without a result")),
                Err(_) => Err(anyhow::anyhow!("the gateway did not stop within 10 s")),
            },
            None => Ok(()),
        };
        self.shut_down();
        result
    }

    fn shut_down(&mut self) {
        self.stop.take();
        if let Some(runtime) = self.runtime.take() {
            // Never blocks, so it is safe inside the caller's runtime.
            runtime.shutdown_background();
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Binds `addr` (std's bind sets `SO_REUSEADDR`, so connections left in
/// TIME_WAIT by a killed instance do not block a restart), retrying while
/// the port is still held.
async fn bind(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let deadline = Instant::now() + REBIND_FOR;
    loop {
        match std::net::TcpListener::bind(addr) {
            Ok(listener) => {
                listener.set_nonblocking(true)?;
                return Ok(listener);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e).with_context(|| format!("cannot listen on {addr}")),
        }
    }
}
