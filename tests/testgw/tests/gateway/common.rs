//! Starting gateways on `127.0.0.1:0` and small client helpers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use openshell_testgw::{Config, Protocol, serve};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// A gateway serving on a free loopback port, stopped on [`Gw::stop`].
pub struct Gw {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
    /// Owns the state directory unless the test supplied one.
    _temp: Option<tempfile::TempDir>,
}

impl Gw {
    /// A gateway with test-friendly timings (READY after 100 ms).
    pub async fn start(protocol: Protocol) -> Gw {
        Gw::start_with(protocol, |_| {}).await
    }

    /// A gateway whose config `adjust` may change.
    pub async fn start_with(protocol: Protocol, adjust: impl FnOnce(&mut Config)) -> Gw {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut gw = Gw::start_in(protocol, temp.path().to_path_buf(), adjust).await;
        gw._temp = Some(temp);
        gw
    }

    /// A gateway on an existing state directory.
    pub async fn start_in(protocol: Protocol, state_dir: PathBuf, adjust: impl FnOnce(&mut Config)) -> Gw {
        let mut config = Config::new(protocol, &state_dir);
        config.ready_delay = Duration::from_millis(100);
        config.deleting_linger = Duration::from_millis(50);
        adjust(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, config, async {
            let _ = stopped.await;
        }));
        Gw { addr, stop: Some(stop), task, _temp: None }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url()).expect("url").connect().await.expect("connect")
    }

    /// Stops the gateway and waits for `serve` to return (bounded).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let served = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
        served.expect("serve returns after shutdown").expect("serve task").expect("serve ok");
    }
}

/// Polls `check` every 20 ms until it returns `Some`, failing after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(start.elapsed() < limit, "condition not reached within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What one exec produced.
#[derive(Debug)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit: Option<i32>,
    /// Sizes of every output event, in order.
    pub chunks: Vec<usize>,
    /// Events after the exit event (must stay 0).
    pub after_exit: usize,
    /// The status the stream ended with (`Ok` = OK).
    pub end: Result<(), tonic::Status>,
}

impl Output {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// A clean run: exactly one exit event, then OK.
    pub fn exit_ok(&self) -> i32 {
        assert!(self.end.is_ok(), "stream ended with {:?}", self.end);
        assert_eq!(self.after_exit, 0, "events after the exit event");
        self.exit.expect("an exit event")
    }
}

/// Generation-independent view of an exec event.
pub enum Event {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit(i32),
    Empty,
}

/// Drains an exec stream into an [`Output`].
pub async fn collect<S, E>(mut stream: S, view: fn(E) -> Event) -> Output
where
    S: futures::Stream<Item = Result<E, tonic::Status>> + Unpin,
{
    use futures::StreamExt as _;
    let mut out = Output { stdout: vec![], stderr: vec![], exit: None, chunks: vec![], after_exit: 0, end: Ok(()) };
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => {
                if out.exit.is_some() {
                    out.after_exit += 1;
                }
                match view(event) {
                    Event::Stdout(d) => {
                        out.chunks.push(d.len());
                        out.stdout.extend(d);
                    }
                    Event::Stderr(d) => {
                        out.chunks.push(d.len());
                        out.stderr.extend(d);
                    }
                    Event::Exit(code) => out.exit = Some(code),
                    Event::Empty => {}
                }
            }
            Err(status) => {
                out.end = Err(status);
                break;
            }
        }
    }
    out
}

/// Asserts a call failed with `code` and a message containing `text`.
#[track_caller]
pub fn assert_status<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: tonic::Code, text: &str) {
    match result {
        Ok(value) => panic!("expected {code:?} `{text}`, got Ok({value:?})"),
        Err(status) => {
            assert_eq!(status.code(), code, "unexpected status: {status:?}");
            assert!(status.message().contains(text), "message `{}` lacks `{text}`", status.message());
        }
    }
}

/// Strings as argv.
pub fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_string()).collect()
}
