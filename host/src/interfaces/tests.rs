//! Host functions called directly, without a guest: the policy checks,
//! limits and error codes of each interface, on a real local sandbox.

use std::sync::Arc;

use wasmtime::component::{Resource, ResourceTable};

use super::bindings::openshell::sandbox::types::ErrorCode;
use super::bindings::openshell::sandbox::{fs, lifecycle, log, process, snapshot, types};
use super::{CallError, ReaderHandle, SandboxCtx, SandboxCtxView, SandboxHandle};
use crate::backend::local::LocalBackend;
use crate::backend::{Backend, SandboxSpec};
use crate::policy::Policy;
use crate::snapshot_store::SnapshotStore;

struct Fixture {
    ctx: SandboxCtx,
    table: ResourceTable,
    _dirs: tempfile::TempDir,
}

impl Fixture {
    async fn new(policy: &str) -> Fixture {
        let dirs = tempfile::tempdir().unwrap();
        let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(dirs.path().join("state")).unwrap());
        let current = backend.create(&SandboxSpec::default()).await.unwrap();
        let ctx = SandboxCtx::builder(backend, current)
            .policy(Arc::new(crate::policy::parse(policy, "p").unwrap()))
            .snapshots(SnapshotStore::open(dirs.path().join("snapshots")).unwrap())
            .build()
            .unwrap();
        Fixture { ctx, table: ResourceTable::new(), _dirs: dirs }
    }

    fn view(&mut self) -> SandboxCtxView<'_> {
        SandboxCtxView { ctx: &mut self.ctx, table: &mut self.table }
    }

    async fn sandbox(&mut self) -> Resource<SandboxHandle> {
        lifecycle::Host::current(&mut self.view()).await.unwrap()
    }
}

/// The guest-visible error of a failed call.
fn guest_error(view: &mut SandboxCtxView<'_>, err: CallError) -> types::Error {
    types::Host::convert_error(view, err).expect("a guest error, not a trap")
}

fn run_opts() -> process::RunOptions {
    process::RunOptions { cwd: None, env: vec![], stdin: None, timeout_ms: None, max_output_bytes: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_validates_before_reaching_the_backend() {
    let mut f = Fixture::new("[exec]\nallow = [\"echo\"]\n").await;
    let sb = f.sandbox().await;
    let mut v = f.view();
    let err = process::Host::run(&mut v, Resource::new_borrow(sb.rep()), vec![], run_opts()).await.unwrap_err();
    let e = guest_error(&mut v, err);
    assert_eq!((e.code, e.operation.as_str()), (ErrorCode::InvalidArgument, "process.run"));
    let err =
        process::Host::run(&mut v, Resource::new_borrow(sb.rep()), vec!["cat".into()], run_opts()).await.unwrap_err();
    let e = guest_error(&mut v, err);
    assert_eq!(e.code, ErrorCode::PermissionDenied);
    assert!(e.message.contains("exec.allow"), "{}", e.message);
    let mut opts = run_opts();
    opts.timeout_ms = Some(0);
    let err = process::Host::run(&mut v, Resource::new_borrow(sb.rep()), vec!["echo".into()], opts).await.unwrap_err();
    assert_eq!(guest_error(&mut v, err).code, ErrorCode::InvalidArgument);
    let out = process::Host::run(&mut v, Resource::new_borrow(sb.rep()), vec!["echo".into(), "ok".into()], run_opts())
        .await
        .unwrap();
    assert_eq!((out.exit_code, out.stdout.as_slice()), (0, &b"ok\n"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_paths_and_sizes_follow_the_policy() {
    let mut f = Fixture::new("[fs]\nread = [\".\"]\nwrite = [\"out\"]\nmax-write = 16\nmax-read = 8\n").await;
    let sb = f.sandbox().await;
    let mut v = f.view();
    let wo = fs::WriteOptions { mode: None, create_parents: true, exclusive: false };
    let b = || Resource::new_borrow(sb.rep());

    let err = fs::Host::write_file(&mut v, b(), "notes.txt".into(), b"x".to_vec(), wo).await.unwrap_err();
    let e = guest_error(&mut v, err);
    assert_eq!(e.code, ErrorCode::PermissionDenied, "writes outside fs.write: {}", e.message);
    let err = fs::Host::write_file(&mut v, b(), "out/big".into(), vec![0; 17], wo).await.unwrap_err();
    assert_eq!(guest_error(&mut v, err).code, ErrorCode::TooLarge);
    let st = fs::Host::write_file(&mut v, b(), "out/ok".into(), b"0123456789".to_vec(), wo).await.unwrap();
    assert_eq!((st.path.as_str(), st.size), ("/workspace/out/ok", 10));
    let err = fs::Host::read_file(&mut v, b(), "out/ok".into(), None).await.unwrap_err();
    assert_eq!(guest_error(&mut v, err).code, ErrorCode::TooLarge, "over fs.max-read");
    let data = fs::Host::read_file(&mut v, b(), "out/../out/ok".into(), Some(4)).await;
    assert!(data.is_err(), "an explicit max below the size is also too large");
    let err = fs::Host::read_file(&mut v, b(), "/etc/passwd".into(), None).await.unwrap_err();
    assert_eq!(guest_error(&mut v, err).code, ErrorCode::PermissionDenied);
    let err = fs::Host::read_file(&mut v, b(), "a\0b".into(), None).await.unwrap_err();
    assert_eq!(guest_error(&mut v, err).code, ErrorCode::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_and_network_are_denied_by_default() {
    let mut f = Fixture::new("").await;
    let mut v = f.view();
    let spec =
        lifecycle::SandboxSpec { name: None, image: None, environment: vec![], labels: vec![], ready_timeout_ms: None };
    let err = lifecycle::Host::create(&mut v, spec).await.unwrap_err();
    assert_eq!(guest_error(&mut v, err).code, ErrorCode::PermissionDenied);
    let err = lifecycle::Host::list_sandboxes(&mut v).await.unwrap_err();
    assert_eq!(guest_error(&mut v, err).code, ErrorCode::PermissionDenied);
    let err = lifecycle::Host::attach(&mut v, "other".into()).await.unwrap_err();
    assert_eq!(guest_error(&mut v, err).code, ErrorCode::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_quota_is_enforced() {
    let mut f = Fixture::new("[snapshot]\nquota = 4096\n").await;
    let sb = f.sandbox().await;
    let mut v = f.view();
    let wo = fs::WriteOptions { mode: None, create_parents: true, exclusive: false };
    fs::Host::write_file(&mut v, Resource::new_borrow(sb.rep()), "big.bin".into(), vec![7; 10_000], wo).await.unwrap();
    let err = snapshot::Host::persist(&mut v, Resource::new_borrow(sb.rep()), ".".into(), vec![]).await.unwrap_err();
    let e = guest_error(&mut v, err);
    assert_eq!(e.code, ErrorCode::TooLarge);
    assert!(e.message.contains("snapshot.quota"), "{}", e.message);
    assert!(snapshot::Host::list_snapshots(&mut v).await.unwrap().is_empty(), "nothing is stored past the quota");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_past_the_cap_are_counted_not_kept() {
    let mut f = Fixture::new("[guest]\nlog-lines = 3\n").await;
    let mut v = f.view();
    for i in 0..10 {
        log::Host::log(&mut v, log::Level::Info, format!("line {i}"), vec![]).await.unwrap();
    }
    assert_eq!(f.ctx.log_dropped(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_sandbox_with_live_children_does_not_trap() {
    let mut f = Fixture::new("").await;
    let sb = f.sandbox().await;
    let mut v = f.view();
    let opts = process::SpawnOptions { cwd: None, env: vec![], timeout_ms: None, pty: None };
    let p = process::Host::spawn(&mut v, Resource::new_borrow(sb.rep()), vec!["sleep".into(), "30".into()], opts)
        .await
        .unwrap();
    types::HostSandbox::drop(&mut v, sb).await.unwrap();
    // The process is still usable and its drop releases it.
    assert!(process::HostProcess::id(&mut v, Resource::new_borrow(p.rep())).await.unwrap() > 0);
    process::HostProcess::drop(&mut v, p).await.unwrap();
    assert_eq!(f.ctx.live_processes, 0);
}

#[test]
fn stale_handles_trap() {
    let err: CallError = wasmtime::component::ResourceTableError::NotPresent.into();
    let mut table = ResourceTable::new();
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(dir.path()).unwrap());
    let info = crate::backend::SandboxInfo {
        name: "x".into(),
        id: "x".into(),
        backend: "local".into(),
        phase: crate::backend::Phase::Ready,
        message: String::new(),
        workdir: "/workspace".into(),
        labels: Default::default(),
        created_ms: None,
    };
    let mut ctx = SandboxCtx::builder(backend, info)
        .policy(Arc::new(Policy::default()))
        .snapshots(SnapshotStore::open(dir.path().join("s")).unwrap())
        .build()
        .unwrap();
    let mut v = SandboxCtxView { ctx: &mut ctx, table: &mut table };
    assert!(types::Host::convert_error(&mut v, err).is_err(), "a bad handle is a trap");
}

/// Read `reader` to its end, `max` bytes at a time: the pieces.
async fn read_pieces(v: &mut SandboxCtxView<'_>, reader: &Resource<ReaderHandle>, max: u32) -> Vec<Vec<u8>> {
    let mut pieces = Vec::new();
    while let Some(piece) = fs::HostFileReader::read(v, Resource::new_borrow(reader.rep()), max).await.unwrap() {
        pieces.push(piece);
    }
    pieces
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_reads_fill_up_to_max_bytes_from_what_has_arrived() {
    // 8 MiB as the OpenShell backend delivers it: 4 KiB pieces, here all
    // arrived before the first read.
    let data: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
    let pieces: Vec<Result<bytes::Bytes, crate::error::SandboxError>> =
        data.chunks(4096).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect();
    let mut f = Fixture::new("").await;
    let mut v = f.view();
    let reader = v.table.push(ReaderHandle::new(data.len() as u64, Box::pin(futures::stream::iter(pieces)))).unwrap();
    let got = read_pieces(&mut v, &reader, 1 << 20).await;
    let sizes: Vec<usize> = got.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![1 << 20; 8], "8 reads of 1 MiB, not 2,048 of 4 KiB");
    assert!(got.concat() == data, "the bytes arrive whole and in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_read_waits_for_one_piece_only() {
    use futures::StreamExt;
    let mut f = Fixture::new("").await;
    let mut v = f.view();
    // One piece, then nothing more for now (a slow sandbox).
    let stream = futures::stream::iter([Ok(bytes::Bytes::from_static(b"first"))]).chain(futures::stream::pending());
    let reader = v.table.push(ReaderHandle::new(100, Box::pin(stream))).unwrap();
    // A hang guard, not a speed test: the read must not wait for more.
    let read = fs::HostFileReader::read(&mut v, Resource::new_borrow(reader.rep()), 1 << 20);
    let got = tokio::time::timeout(std::time::Duration::from_secs(15), read).await.expect("no hang").unwrap();
    assert_eq!(got.as_deref(), Some(&b"first"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_error_after_gathered_bytes_comes_with_the_next_read() {
    let mut f = Fixture::new("").await;
    let mut v = f.view();
    let pieces = [
        Ok(bytes::Bytes::from_static(b"ab")),
        Ok(bytes::Bytes::from_static(b"cd")),
        Err(crate::error::SandboxError::unavailable("fs.read-file", "the exec stream ended early")),
    ];
    let reader = v.table.push(ReaderHandle::new(10, Box::pin(futures::stream::iter(pieces)))).unwrap();
    let r = || Resource::new_borrow(reader.rep());
    assert_eq!(fs::HostFileReader::read(&mut v, r(), 3).await.unwrap().as_deref(), Some(&b"abc"[..]));
    let last = fs::HostFileReader::read(&mut v, r(), 3).await.unwrap();
    assert_eq!(last.as_deref(), Some(&b"d"[..]), "what arrived comes before the error");
    let err = fs::HostFileReader::read(&mut v, r(), 3).await.unwrap_err();
    let e = guest_error(&mut v, err);
    assert_eq!((e.code, e.operation.as_str()), (ErrorCode::Unavailable, "fs.file-reader.read"));
    assert_eq!(fs::HostFileReader::read(&mut v, r(), 3).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_files_read_back_whole_in_pieces_of_at_most_max_bytes() {
    let mut f = Fixture::new("").await;
    let sb = f.sandbox().await;
    let mut v = f.view();
    let data: Vec<u8> = (0..3u32 << 20).map(|i| (i % 253) as u8).collect();
    let wo = fs::WriteOptions { mode: None, create_parents: true, exclusive: false };
    fs::Host::write_file(&mut v, Resource::new_borrow(sb.rep()), "big.bin".into(), data.clone(), wo).await.unwrap();
    let reader = fs::Host::open_read(&mut v, Resource::new_borrow(sb.rep()), "big.bin".into()).await.unwrap();
    let got = read_pieces(&mut v, &reader, 1 << 20).await;
    assert!(
        got.iter().all(|p| !p.is_empty() && p.len() <= 1 << 20),
        "{:?}",
        got.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert!(got.concat() == data, "the file reads back whole");
}
