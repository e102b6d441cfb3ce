//! The engine itself: the pooling allocator, and many runs at once.

use std::sync::Arc;

use openshell_wasm::backend::local::LocalBackend;
use openshell_wasm::runtime::{Host, Pooling, RunRequest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooling_allocator_runs_agents_concurrently() {
    let dirs = tempfile::tempdir().unwrap();
    let host = Arc::new(
        Host::builder()
            .backend(Arc::new(LocalBackend::new(dirs.path().join("state")).unwrap()))
            .snapshot_dir(dirs.path().join("snapshots"))
            .cache_dir(None)
            .pooling(Pooling::On)
            .max_instances(8)
            .build()
            .unwrap(),
    );
    assert!(host.pooling());
    let agent = host.load_file(test_artifacts::SMOKE_ECHO.path().as_ref()).await.unwrap();
    // More runs than pool slots: slots are returned and reused.
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (host, agent) = (host.clone(), agent.clone());
        tasks.push(tokio::spawn(async move { host.run(&agent, RunRequest::new(format!("run {i}"))).await }));
        if tasks.len() == 6 {
            for t in tasks.drain(..) {
                assert!(t.await.unwrap().unwrap().result.unwrap().starts_with("run "));
            }
        }
    }
    for t in tasks {
        assert!(t.await.unwrap().unwrap().result.is_ok());
    }
}

/// A component built against `openshell:sandbox@0.1.0` (before `model`)
/// loads and runs on this host, which provides 0.1.2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_of_the_0_1_0_package_run_unchanged() {
    let f = crate::harness::fixture(crate::harness::Target::Local, Default::default()).await;
    let component = openshell_wasm::wasmtime::component::Component::from_file(
        f.host.engine(),
        test_artifacts::COMPAT_V0_1_0.path(),
    )
    .unwrap();
    let imports: Vec<String> = component
        .component_type()
        .imports(f.host.engine())
        .map(|(name, _)| name.to_string())
        .filter(|name| name.starts_with("openshell:sandbox/"))
        .collect();
    assert!(!imports.is_empty() && imports.iter().all(|i| i.ends_with("@0.1.0")), "{imports:?}");
    assert!(!imports.iter().any(|i| i.contains("/model@")), "{imports:?}");
    assert_eq!(f.ok(test_artifacts::COMPAT_V0_1_0.path(), "still here").await, "still here\n");
}
