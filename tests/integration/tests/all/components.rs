//! Real components through the host: one test per test guest (the
//! `foreach_guest!` check below fails to compile if a guest has no test),
//! plus the example agent. The suite is a macro over the backend target so
//! it runs unchanged on every backend.

/// Generate the component suite for `$target`.
macro_rules! component_suite {
    ($target:expr) => {
        use std::time::Duration;

        use openshell_wasm::runtime::{LimitExceeded, RunError, RunRequest};
        use test_artifacts as guests;

        use crate::archives;
        use crate::harness::{Target, field, fixture, policy};
        use super::processes_with_arg;

        const TARGET: Target = $target;

        macro_rules! assert_test_exists {
            ($name:ident) => {
                #[expect(unused_imports, reason = "only proves the test exists")]
                use self::$name as _;
            };
        }
        test_artifacts::foreach_guest!(assert_test_exists);

        fn short_limits() -> openshell_wasm::policy::Policy {
            policy("[guest]\ncpu-time = \"1s\"\nwall-time = \"4s\"\nmemory = \"64 MiB\"\noutput = \"64 KiB\"\nlog-lines = 100\n")
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn smoke_echo() {
            let f = fixture(TARGET, Default::default()).await;
            assert_eq!(f.ok(guests::SMOKE_ECHO.path(), "hello  world").await, "hello  world\n");
            assert!(f.leftovers().await.is_empty(), "the run's sandbox must be deleted");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn bench_exec_loop() {
            let f = fixture(TARGET, Default::default()).await;
            let r = f.ok(guests::BENCH_EXEC_LOOP.path(), "5").await;
            assert_eq!(field(&r, "ok"), "5", "{r}");
            let r = f.ok(guests::BENCH_EXEC_LOOP.path(), "0").await;
            assert_eq!(field(&r, "ok"), "0", "{r}");
            let bad = f.run(guests::BENCH_EXEC_LOOP.path(), "many").await.unwrap().result.unwrap_err();
            assert!(bad.contains("must be a count"), "{bad}");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn bench_http() {
            let server = openshell_test_model::ModelServer::start(Default::default()).await.unwrap();
            let port = server.addr().port();
            let text = format!("[[http.allow]]\nscheme = \"http\"\nhost = \"127.0.0.1\"\nport = {port}\n");
            let f = fixture(TARGET, policy(&text)).await;
            let r = f.ok(guests::BENCH_HTTP.path(), &format!("http://127.0.0.1:{port}/bytes/100 3")).await;
            assert_eq!((field(&r, "ok"), field(&r, "bytes")), ("3", "300"), "{r}");
            let denied = f.run(guests::BENCH_HTTP.path(), "http://127.0.0.2:1/ 1").await.unwrap().result.unwrap_err();
            assert_eq!(denied, "http-request-denied");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn bench_idle() {
            let f = fixture(TARGET, Default::default()).await;
            let out = f.run(guests::BENCH_IDLE.path(), "30").await.unwrap();
            let r = out.result.unwrap();
            assert!(field(&r, "slept_ms").parse::<u64>().unwrap() >= 30, "{r}");
            assert_eq!(out.output.stdout, b"idle\n");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn bench_snapshot() {
            let f = fixture(TARGET, Default::default()).await;
            let seed = tempfile::tempdir().unwrap();
            for i in 0..3 {
                std::fs::write(seed.path().join(format!("f{i}")), vec![b'x'; 5000]).unwrap();
            }
            std::fs::create_dir_all(seed.path().join("node_modules/m")).unwrap();
            std::fs::write(seed.path().join("node_modules/m/index.js"), vec![b'y'; 20_000]).unwrap();
            let request = |input: &str| {
                RunRequest::new(input)
                    .seed(openshell_wasm::runtime::Seed { host: seed.path().to_path_buf(), sandbox: "proj".into() })
            };
            let r = f.run_request(guests::BENCH_SNAPSHOT.path(), request("proj")).await.unwrap().result.unwrap();
            assert!(field(&r, "size").parse::<u64>().unwrap() > 35_000, "{r}");
            assert!(field(&r, "entries").parse::<u64>().unwrap() >= 6, "{r}");
            let r = f.run_request(guests::BENCH_SNAPSHOT.path(), request("proj merge")).await.unwrap().result.unwrap();
            assert!(field(&r, "size").parse::<u64>().unwrap() > 35_000, "{r}");
            let input = "proj replace exclude=node_modules";
            let r = f.run_request(guests::BENCH_SNAPSHOT.path(), request(input)).await.unwrap().result.unwrap();
            let size = field(&r, "size").parse::<u64>().unwrap();
            assert!((15_000..35_000).contains(&size), "node_modules left out: {r}");
            let bad = f.run_request(guests::BENCH_SNAPSHOT.path(), request("proj sideways")).await.unwrap().result.unwrap_err();
            assert!(bad.contains("unknown word"), "{bad}");
            assert!(f.host.snapshots().list().unwrap().is_empty(), "the snapshot must be deleted");
        }

        /// Random binary files of every boundary size (up to 64 MiB) with
        /// hostile names, written in random pieces and read back identical.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn files_survive_any_size_and_name() {
            use crate::integrity::{boundary_sizes, file_name, read, seeded_rng, sha, write};
            let f = fixture(TARGET, Default::default()).await;
            let spec = openshell_wasm::backend::SandboxSpec::default().with_ready_timeout(Duration::from_secs(30));
            let sb = f.backend.create(&spec).await.unwrap();
            let b = &*f.backend;
            let mut rng = seeded_rng();
            let mut sizes = boundary_sizes();
            sizes.extend((0..6).map(|_| rng.below(3 << 20) as usize));
            let dir = format!("{}/odd dir/é", sb.workdir);
            for (i, size) in sizes.iter().enumerate() {
                let name = file_name(&mut rng, i);
                let path = format!("{dir}/{name}");
                let data = rng.bytes(*size);
                write(b, &sb, &path, &data, 0o640, &mut rng).await;
                let back = read(b, &sb, &path).await;
                assert!(back.len() == data.len() && sha(&back) == sha(&data), "{name:?} ({size} bytes) came back different");
                let st = b.open(&sb).stat(&path).await.unwrap();
                assert_eq!((st.size, st.mode), (*size as u64, 0o640), "{name:?}");
            }
            assert_eq!(b.open(&sb).list_dir(&dir).await.unwrap().len(), sizes.len());
            b.delete(&sb.name).await.unwrap();
        }

        /// A random tree (modes, nested and empty directories, symlinks,
        /// hostile names) persisted, changed in every way, and hydrated
        /// back exactly.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn snapshot_restore() {
            use crate::integrity::{file_name, manifest, run, seeded_rng, write};
            let f = fixture(TARGET, Default::default()).await;
            let spec = openshell_wasm::backend::SandboxSpec::default().with_ready_timeout(Duration::from_secs(30));
            let sb = f.backend.create(&spec).await.unwrap();
            let b = &*f.backend;
            let root = format!("{}/tree", sb.workdir);
            let mut rng = seeded_rng();
            let mut files = Vec::new();
            for i in 0..24 {
                let depth = rng.below(3);
                let dir: Vec<String> = (0..depth).map(|_| format!("d{}", rng.below(3))).collect();
                let name = file_name(&mut rng, i);
                let path = if dir.is_empty() { format!("{root}/{name}") } else { format!("{root}/{}/{name}", dir.join("/")) };
                let mode = [0o644, 0o600, 0o755, 0o640][rng.below(4) as usize];
                let size = rng.below(200_000) as usize;
                write(b, &sb, &path, &rng.bytes(size), mode, &mut rng).await;
                files.push(path);
            }
            b.open(&sb).mkdir(&format!("{root}/empty dir"), true).await.unwrap();
            run(b, &sb, &["ln", "-s", "d0", &format!("{root}/link to d0")]).await;
            run(b, &sb, &["ln", "-s", "missing-target", &format!("{root}/dangling")]).await;
            let before = manifest(b, &sb, &root).await;
            assert!(before.len() > 25, "{before:?}");

            let run_guest = |input: String| {
                let f = &f;
                let sb = &sb;
                async move {
                    let r = f.run_request(guests::SNAPSHOT_RESTORE.path(), RunRequest::new(input).attach(&sb.name)).await;
                    r.unwrap().result.unwrap()
                }
            };
            let id = run_guest("persist tree".into()).await;

            // Change it every way: remove, rewrite, chmod, add, and turn a
            // directory into a file.
            b.open(&sb).remove(&files[0], false).await.unwrap();
            write(b, &sb, &files[1], b"rewritten", 0o600, &mut rng).await;
            b.open(&sb).chmod(&files[2], 0o700).await.unwrap();
            write(b, &sb, &format!("{root}/new file"), b"new", 0o644, &mut rng).await;
            b.open(&sb).remove(&format!("{root}/empty dir"), true).await.unwrap();
            write(b, &sb, &format!("{root}/empty dir"), b"now a file", 0o644, &mut rng).await;
            b.open(&sb).remove(&format!("{root}/link to d0"), false).await.unwrap();
            assert_ne!(manifest(b, &sb, &root).await, before);

            assert_eq!(run_guest(format!("hydrate {id} tree")).await, "restored");
            let after = manifest(b, &sb, &root).await;
            for (path, entry) in &before {
                assert_eq!(after.get(path), Some(entry), "{path:?} was not restored");
            }
            assert_eq!(after.len(), before.len(), "extra entries: {after:?}");
            b.delete(&sb.name).await.unwrap();
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn process_run_report() {
            let f = fixture(TARGET, Default::default()).await;
            let r = f.ok(guests::PROCESS_RUN_REPORT.path(), "sh\n-c\necho out; echo err >&2; exit 42").await;
            assert_eq!(field(&r, "exit"), "42", "{r}");
            assert!(r.contains("stdout=\"out\\n\"") && r.contains("stderr=\"err\\n\""), "{r}");

            // The host's timeout, reported as such (not just exit 124).
            let r = f.ok(guests::PROCESS_RUN_REPORT.path(), "timeout=300\nsleep\n30").await;
            assert_eq!((field(&r, "timed_out"), field(&r, "exit")), ("true", "124"), "{r}");
            // A command that exits 124 itself is not a timeout.
            let r = f.ok(guests::PROCESS_RUN_REPORT.path(), "sh\n-c\nexit 124").await;
            assert_eq!((field(&r, "timed_out"), field(&r, "exit")), ("false", "124"), "{r}");

            // Output caps: kept up to the cap, flagged.
            let r = f.ok(guests::PROCESS_RUN_REPORT.path(), "max=1000\nsh\n-c\nhead -c 5000000 /dev/zero; head -c 10 /dev/zero >&2").await;
            assert_eq!((field(&r, "out_trunc"), field(&r, "out_len")), ("true", "1000"), "{r}");
            assert_eq!((field(&r, "err_trunc"), field(&r, "err_len")), ("false", "10"), "{r}");

            // cwd, env, stdin.
            let r = f.ok(guests::PROCESS_RUN_REPORT.path(), "env=GREETING=hi there\ncwd=/tmp\nsh\n-c\necho \"$GREETING\" \"$(pwd)\"").await;
            assert!(r.contains("stdout=\"hi there /tmp\\n\""), "{r}");
            let r = f.ok(guests::PROCESS_RUN_REPORT.path(), "stdin=line one\\nline two\\n\nwc\n-l").await;
            assert!(r.contains("stdout=\"2\\n\""), "{r}");

            // A missing program is exit 127 with the shell's message, not a host error.
            let r = f.ok(guests::PROCESS_RUN_REPORT.path(), "sh\n-c\nno-such-program").await;
            assert_eq!(field(&r, "exit"), "127", "{r}");

            // Arguments with newlines and quotes pass through verbatim.
            let r = f.ok(guests::PROCESS_RUN_REPORT.path(), "printf\n%s|\na'b\"c\n$HOME").await;
            assert!(r.contains("stdout=\"a'b\\\"c|$HOME|\""), "{r}");

            // Bad requests fail cleanly.
            let err = f.run(guests::PROCESS_RUN_REPORT.path(), "env=1BAD=x\ntrue").await.unwrap().result.unwrap_err();
            assert_eq!(err, "invalid-argument:process.run");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sandbox_isolation_inside_bwrap() {
            let f = fixture(TARGET, Default::default()).await;
            // No network inside the sandbox.
            let r = f.ok(guests::PROCESS_RUN_REPORT.path(), "bash\n-c\nexec 3<>/dev/tcp/1.1.1.1/80 && echo CONNECTED").await;
            assert_ne!(field(&r, "exit"), "0", "{r}");
            assert!(!r.contains("CONNECTED"), "{r}");
            // Nothing writable outside the workspace (and /tmp, private).
            for path in ["/usr/evil", "/etc/evil", "/opt/evil", "/evil"] {
                let r = f.ok(guests::PROCESS_RUN_REPORT.path(), &format!("touch\n{path}")).await;
                assert_ne!(field(&r, "exit"), "0", "writing {path} must fail: {r}");
            }
            // Unprivileged, no capabilities, no host secrets.
            let r = f.ok(guests::PROCESS_RUN_REPORT.path(), "sh\n-c\nid -u; grep CapEff /proc/self/status; test -e /etc/shadow && echo SHADOW; echo ${HOME}").await;
            assert!(r.contains("1000\\n"), "{r}");
            assert!(r.contains("CapEff:\\t0000000000000000"), "{r}");
            assert!(!r.contains("SHADOW"), "{r}");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn process_stream() {
            let f = fixture(TARGET, Default::default()).await;
            let r = f.ok(guests::PROCESS_STREAM.path(), "").await;
            let events: u32 = field(&r, "events").parse().unwrap();
            assert!(events >= 2, "output must arrive as it is produced, got {events} event(s):\n{r}");
            assert_eq!(field(&r, "exit"), "3", "{r}");
            assert!(r.contains("line 1\nline 2\nline 3\nline 4\nline 5\n"), "{r}");
            assert!(r.contains("err 1\nerr 2\nerr 3\nerr 4\nerr 5\n"), "{r}");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn process_stdin() {
            let f = fixture(TARGET, Default::default()).await;
            let r = f.ok(guests::PROCESS_STDIN.path(), "some input for cat to copy").await;
            assert_eq!(r, "some input for cat to copy\nwrite-after-exit=conflict:process.write-stdin");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn process_pty() {
            let f = fixture(TARGET, Default::default()).await;
            let r = f.ok(guests::PROCESS_PTY.path(), "").await;
            assert_eq!(r, "tty=true resized=true interrupted=true slept_through=false exit=7");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn process_kill() {
            let f = fixture(TARGET, Default::default()).await;
            let r = f.ok(guests::PROCESS_KILL.path(), "").await;
            assert_eq!(r, "term: exit=143 killed=false\nkill: exit=137 killed=true");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fs_roundtrip() {
            let f = fixture(TARGET, Default::default()).await;
            let r = f.ok(guests::FS_ROUNDTRIP.path(), "").await;
            let w = TARGET.workdir();
            let write_line = format!("write size=5 kind=FileKind::File mode=644 path={w}/dir/a.txt");
            let realpath_line = format!("realpath={w}/dir/sub/b.txt");
            let expected = [
                write_line.as_str(),
                "read=alpha",
                "mode=755",
                "exclusive-existing=conflict:fs.write-file",
                "missing-parent=not-found:fs.write-file",
                "mkdir-existing=conflict:fs.mkdir",
                "exists-old=false exists-new=true",
                "list=exec.sh:FileKind::File,sub:FileKind::Directory",
                "chmod=600",
                realpath_line.as_str(),
                "rm-nonempty=conflict:fs.remove",
                "after-rm=false",
                "read-missing=not-found:fs.read-file",
                "read-dir=conflict:fs.read-file",
                "rm-workdir=permission-denied:fs.remove",
                "before-finish-exists=false",
                "stream size=3145728 reader-size=3145728 identical=true",
                "abandoned-exists=false",
                "files-in-root=1",
            ];
            assert_eq!(r.lines().collect::<Vec<_>>(), expected);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fs_deny_paths() {
            let f = fixture(TARGET, Default::default()).await;
            let r = f.ok(guests::FS_DENY_PATHS.path(), "").await;
            assert_eq!(field(&r, "escapes"), "0", "{r}");
            for line in r.lines().filter(|l| !l.starts_with("lstat") && !l.starts_with("escapes")) {
                let (what, outcome) = line.split_once('=').unwrap();
                assert!(
                    outcome.starts_with("permission-denied") || outcome.starts_with("not-found") || outcome.starts_with("conflict"),
                    "{what} was not refused: {outcome}"
                );
            }
            assert_eq!(field(&r, "etc-intact"), "true");
            assert_eq!((field(&r, "lstat-link"), field(&r, "unlink-link")), ("ok", "ok"));
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fs_extract() {
            let f = fixture(TARGET, Default::default()).await;
            let r = f.ok(guests::FS_EXTRACT.path(), &archives::hex(&archives::good())).await;
            assert!(r.starts_with("ok files=2 dirs=1 links=1 bytes=11"), "{r}");
            assert!(r.contains("./out/pkg/a.txt ./out/pkg/link ./out/pkg/sub ./out/pkg/sub/b.txt"), "{r}");
            let r = f.ok(guests::FS_EXTRACT.path(), &archives::hex(&archives::gzip(&archives::good()))).await;
            assert!(r.starts_with("ok files=2"), "gzip: {r}");
            for (name, data, code) in archives::hostile() {
                let input = if name == "too-many-members" {
                    format!("max-members=1000\n{}", archives::hex(&data))
                } else {
                    archives::hex(&data)
                };
                let r = f.ok(guests::FS_EXTRACT.path(), &input).await;
                assert!(r.starts_with(code), "{name}: expected {code}, got {r}");
                // A refused archive writes nothing.
                assert!(!r.contains("./out"), "{name} wrote something: {r}");
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn snapshot_cycle() {
            let f = fixture(TARGET, Default::default()).await;
            let r = f.ok(guests::SNAPSHOT_CYCLE.path(), "").await;
            let head = r.lines().next().unwrap();
            assert_eq!(field(head, "restored"), "true", "{r}");
            assert_eq!(field(head, "changed_differs"), "true", "{r}");
            assert_eq!(field(head, "listed"), "true", "{r}");
            assert_eq!(field(head, "sha256_len"), "64", "{r}");
            assert_eq!(field(head, "entries"), "5", "{r}");
            assert_eq!(field(head, "bogus"), "not-found:snapshot.hydrate", "{r}");
            assert!(head.contains("excluded_kept=\"changed but excluded\""), "{r}");
            assert!(r.contains("./link-to-b 777 l sub/b.txt"), "symlink restored as a link: {r}");
            assert!(r.contains("./run.sh 755 f") && r.contains("./sub/b.txt 600 f"), "modes restored: {r}");
            assert_eq!(f.host.snapshots().list().unwrap().len(), 1);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn limits_loop() {
            let f = fixture(TARGET, short_limits()).await;
            let err = f.run(guests::LIMITS_LOOP.path(), "").await.unwrap_err();
            match err.error {
                RunError::Limit(LimitExceeded::CpuTime { limit }) => assert_eq!(limit, Duration::from_secs(1)),
                other => panic!("expected the CPU limit, got {other}"),
            }
            assert!(err.error.to_string().contains("guest.cpu-time"));
            assert!(f.leftovers().await.is_empty());
            // Without a CPU budget to hit first, the wall clock stops it.
            let f = fixture(TARGET, policy("[guest]\ncpu-time = \"1h\"\nwall-time = \"2s\"\n")).await;
            let err = f.run(guests::LIMITS_LOOP.path(), "").await.unwrap_err();
            assert!(matches!(err.error, RunError::Limit(LimitExceeded::WallTime { .. })), "{}", err.error);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn limits_memory() {
            let f = fixture(TARGET, short_limits()).await;
            let err = f.run(guests::LIMITS_MEMORY.path(), "grow-4g").await.unwrap_err();
            match err.error {
                RunError::Limit(LimitExceeded::Memory { limit, requested }) => {
                    assert_eq!(limit, 64 << 20);
                    assert_eq!(requested, 4 << 30);
                }
                other => panic!("expected the memory limit, got {other}"),
            }
            let err = f.run(guests::LIMITS_MEMORY.path(), "200").await.unwrap_err();
            assert!(matches!(err.error, RunError::Limit(LimitExceeded::Memory { .. })), "{}", err.error);
            // Under the limit it works.
            assert_eq!(f.ok(guests::LIMITS_MEMORY.path(), "16").await, "allocated 16 MiB");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn limits_sleep_in_host() {
            let f = fixture(TARGET, short_limits()).await;
            let started = std::time::Instant::now();
            let err = f.run(guests::LIMITS_SLEEP_IN_HOST.path(), "").await.unwrap_err();
            assert!(matches!(err.error, RunError::Limit(LimitExceeded::WallTime { .. })), "{}", err.error);
            assert!(started.elapsed() < Duration::from_secs(30), "stopped long after the deadline");
            assert!(f.leftovers().await.is_empty(), "the sandbox must be cleaned up after a limit stop");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn limits_spawn_flood() {
            let f = fixture(TARGET, short_limits()).await;
            // A sandbox that outlives the run, to prove it still works after.
            let spec = openshell_wasm::backend::SandboxSpec::default().with_ready_timeout(Duration::from_secs(30));
            let sb = f.backend.create(&spec).await.unwrap();
            // A `sleep` argument no other test uses, to find its processes.
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
            let marker = format!("7777.{nanos:09}");
            let err = f.run_request(guests::LIMITS_SPAWN_FLOOD.path(), RunRequest::new(&marker).attach(&sb.name)).await.unwrap_err();
            assert!(matches!(err.error, RunError::Limit(_)), "{}", err.error);
            assert!(err.error.to_string().contains("guest."), "the error names the limit: {}", err.error);
            // Every process it started is gone: dropped ones were killed at
            // once, the rest when the run ended.
            let deadline = std::time::Instant::now() + Duration::from_secs(15);
            loop {
                let left = processes_with_arg(&marker);
                if left == 0 {
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "{left} `sleep {marker}` processes outlived the run");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // And the sandbox still works.
            let out = f.run_request(guests::SMOKE_ECHO.path(), RunRequest::new("still here").attach(&sb.name)).await.unwrap();
            assert_eq!(out.result.unwrap(), "still here\n");
            f.backend.delete(&sb.name).await.unwrap();
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn limits_output_flood() {
            let f = fixture(TARGET, short_limits()).await;
            let o = f.run(guests::LIMITS_OUTPUT_FLOOD.path(), "500").await.unwrap();
            assert_eq!(o.result.unwrap(), "printed 500 KiB");
            assert!(o.output.truncated);
            assert_eq!(o.output.stdout.len(), 64 << 10);
            assert_eq!(o.output.dropped_bytes, (500 << 10) - (64 << 10));
            // Without end: stopped by a limit, output still capped.
            let err = f.run(guests::LIMITS_OUTPUT_FLOOD.path(), "forever").await.unwrap_err();
            assert!(matches!(err.error, RunError::Limit(_)), "{}", err.error);
            assert_eq!(err.output.stdout.len() + err.output.stderr.len(), 64 << 10);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn limits_log_flood() {
            let f = fixture(TARGET, short_limits()).await;
            let o = f.run(guests::LIMITS_LOG_FLOOD.path(), "5000").await.unwrap();
            assert_eq!(o.result.unwrap(), "logged 5000");
            assert_eq!(o.stats.log_lines_dropped, 4900);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn typed_tools() {
            use openshell_wasm::runtime::{AgentKind, FunctionCall};
            use serde_json::json;

            let f = fixture(TARGET, Default::default()).await;
            let agent = f.host.load_file(std::path::Path::new(guests::TYPED_TOOLS.path())).await.unwrap();
            assert_eq!(agent.kind(), AgentKind::Functions);
            let names: Vec<&str> = agent.functions().iter().map(|f| f.name.as_str()).collect();
            assert_eq!(names, ["version", "area", "bounds", "render", "crash"]);
            let iface = agent.functions()[1].interface.clone();
            assert_eq!(iface.as_deref(), Some("test:typed/shapes@0.1.0"));
            let call = |function: &str, args: serde_json::Value| {
                let interface = if function == "version" { None } else { iface.clone() };
                let args = args.as_object().unwrap().clone();
                RunRequest::new("").call(FunctionCall { interface, function: function.into(), args })
            };
            let square = json!({"shape": {"polygon": [{"x": 0, "y": 0}, {"x": 2, "y": 0}, {"x": 2, "y": 2}, {"x": 0, "y": 2}]}, "unit": "metres"});
            let o = f.host.run(&agent, call("area", square)).await.unwrap();
            assert_eq!(o.result, Ok("4.0".to_string()));
            let o = f.host.run(&agent, call("area", json!({"shape": "empty", "unit": "feet"}))).await.unwrap();
            assert_eq!(o.result, Err(r#""an empty shape has no area""#.to_string()), "a result's err");
            let o = f.host.run(&agent, call("bounds", json!({"points": [{"x": 1, "y": 9}]}))).await.unwrap();
            assert_eq!(o.result, Ok(r#"[{"x":1,"y":9},{"x":1,"y":9}]"#.to_string()));
            let o = f.host.run(&agent, call("version", json!({}))).await.unwrap();
            assert_eq!(o.result, Ok(r#""typed-tools 1""#.to_string()));
            // Bad calls fail before any sandbox exists.
            for (function, args, says) in [
                ("area", json!({"shape": "empty"}), "unit: missing"),
                ("area", json!({"shape": "empty", "unit": "yards"}), "`yards` is not one of"),
                ("area", json!({"shape": "empty", "unit": "feet", "colour": 1}), "no parameter `colour`"),
                ("perimeter", json!({}), "no function `perimeter`"),
            ] {
                let err = f.host.run(&agent, call(function, args)).await.unwrap_err();
                assert!(err.error.to_string().contains(says), "{function}: {}", err.error);
                assert!(err.sandbox.is_none(), "no sandbox for a bad call");
            }
            let err = f.host.run(&agent, RunRequest::new("")).await.unwrap_err();
            assert!(err.error.to_string().contains("say which to call"), "{}", err.error);
            match f.host.run(&agent, call("crash", json!({}))).await.unwrap_err().error {
                RunError::Trap(msg) => assert!(msg.contains("unreachable"), "{msg}"),
                other => panic!("expected a trap, got {other}"),
            }
            assert!(f.leftovers().await.is_empty());
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn trap_panic() {
            let f = fixture(TARGET, Default::default()).await;
            let err = f.run(guests::TRAP_PANIC.path(), "").await.unwrap_err();
            match &err.error {
                RunError::Trap(msg) => assert!(msg.contains("unreachable"), "{msg}"),
                other => panic!("expected a trap, got {other}"),
            }
            assert!(String::from_utf8_lossy(&err.output.stderr).contains("deliberate panic"));
            assert!(f.leftovers().await.is_empty());
            // An agent's own error is a result, not a failure of the run.
            let o = f.run(guests::TRAP_PANIC.path(), "err").await.unwrap();
            assert_eq!(o.result.unwrap_err(), "the agent chose to fail");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn http_probe() {
            // A guest's own HTTP leaves from the host whatever the backend:
            // what a rule allows arrives, the rest is refused.
            let server = openshell_test_model::ModelServer::start(Default::default()).await.unwrap();
            let port = server.addr().port();
            let text = format!("[[http.allow]]\nscheme = \"http\"\nhost = \"127.0.0.1\"\nport = {port}\n");
            let f = fixture(TARGET, policy(&text)).await;
            let requests = serde_json::json!([
                {"method": "GET", "url": format!("http://127.0.0.1:{port}/bytes/3")},
                {"method": "GET", "url": "http://127.0.0.2:9/"},
            ]);
            let v: serde_json::Value = serde_json::from_str(&f.ok(guests::HTTP_PROBE.path(), &requests.to_string()).await).unwrap();
            assert_eq!(v[0]["bytes"], 3, "{v}");
            assert_eq!(v[1]["error"], "http-request-denied", "{v}");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn model_probe() {
            use openshell_test_model::{Expect, ModelServer, Reply, Script, Step};
            let reply = Reply::Message { content: Some("pong".into()), tool_calls: vec![], finish_reason: None, usage: None };
            let server = ModelServer::start(Script { steps: vec![Step { expect: Expect::default(), reply }] }).await.unwrap();
            let text = format!("[model.aliases.m]\nurl = \"{}\"\nmodel = \"x\"\n", server.base_url());
            let f = fixture(TARGET, policy(&text)).await;
            let v: serde_json::Value = serde_json::from_str(&f.ok(guests::MODEL_PROBE.path(), "[{\"user\": \"ping\"}]").await).unwrap();
            assert_eq!(v["calls"][0]["content"], "pong", "{v}");
            assert_eq!(v["calls"][0]["usage"][2], true, "no usage reported: estimated: {v}");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn secret_hunt() {
            use openshell_test_model::{Expect, ModelServer, Reply, Script, Step};
            let key = format!("sk-hunt-{}", openshell_wasm::runtime::new_run_id().unwrap());
            // A provider that quotes the key it was sent in its error.
            let quoted = format!("{{\"error\":{{\"message\":\"Incorrect API key provided: {key}\"}}}}");
            let steps = (0..2)
                .map(|_| Step { expect: Expect::default(), reply: Reply::Status { status: 401, retry_after: None, body: quoted.clone() } })
                .collect();
            let server = ModelServer::start(Script { steps }).await.unwrap();
            let port = server.addr().port();
            let dir = tempfile::tempdir().unwrap();
            let key_file = dir.path().join("key");
            std::fs::write(&key_file, &key).unwrap();
            let cred = format!("credentials = [{{ header = \"authorization\", prefix = \"Bearer \", file = {:?} }}]", key_file.display().to_string());
            let text = format!(
                "[[http.allow]]\nscheme = \"http\"\nhost = \"127.0.0.1\"\nport = {port}\npaths = [\"/bytes/*\"]\n{cred}\n\
                 [model.aliases.m]\nurl = \"{}\"\nmodel = \"x\"\n{cred}\n",
                server.base_url()
            );
            let f = fixture(TARGET, policy(&text)).await;
            let mask = |s: &str| s.bytes().map(|b| format!("{:02x}", b ^ 0x5a)).collect::<String>();
            let input = serde_json::json!({
                "allowed": format!("http://127.0.0.1:{port}/bytes/4"),
                "denied": format!("http://127.0.0.1:{port}/headers"),
                "masked": mask(&key),
                "canary": mask("canary-0123456789"),
            });
            let out = f.run(guests::SECRET_HUNT.path(), &input.to_string()).await.unwrap();
            let report = out.result.clone().unwrap();
            let v: serde_json::Value = serde_json::from_str(&report).unwrap();
            assert!(v["canary_hits"].as_u64().unwrap() >= 1, "the memory scan works: {v}");
            assert_eq!(v["memory_hits"], 0, "the key never reached guest memory");
            assert!(!report.contains(&key), "the guest learned the key: {report}");
            assert!(report.contains("[redacted]"), "the provider's quote of the key is scrubbed: {report}");
            let everything = format!(
                "{report}{}{}{}",
                String::from_utf8_lossy(&out.output.stdout),
                String::from_utf8_lossy(&out.output.stderr),
                serde_json::to_string(&out.stats).unwrap()
            );
            assert!(!everything.contains(&key), "the key leaked into the run's output or stats");
            // It was used: the server received it, from the host.
            let sent: Vec<String> =
                server.requests().iter().filter_map(|r| r.header("authorization").map(str::to_string)).collect();
            assert!(sent.iter().all(|a| *a == format!("Bearer {key}")) && sent.len() >= 2, "{sent:?}");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn policy_denied() {
            let f = fixture(TARGET, policy("[exec]\nallow = [\"echo\"]\n[snapshot]\npersist = false\n")).await;
            let r = f.ok(guests::POLICY_DENIED.path(), "").await;
            for key in ["create", "attach", "list", "delete-current", "update-policy", "expose-port", "exec-curl", "snapshot-persist", "delete-foreign-snapshot"] {
                assert!(field(&r, key).starts_with("permission-denied:"), "{key}: {r}");
            }
            assert_eq!(field(&r, "exec-allowed"), "ok");
            assert_eq!(field(&r, "exec-via-path"), "ok");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn lifecycle_manage() {
            let f = fixture(TARGET, policy("[sandbox]\ncreate = true\ndelete = true\nlist = true\n")).await;
            let r = f.ok(guests::LIFECYCLE_MANAGE.path(), "").await;
            assert!(field(&r, "owned") == "true" && field(&r, "phase") == "SandboxPhase::Ready", "{r}");
            assert!(r.contains("out=hello from env"), "{r}");
            for key in ["isolated", "listed-second", "listed-current"] {
                assert_eq!(field(&r, key), "true", "{key}: {r}");
            }
            assert_eq!(field(&r, "attach-read"), "hello", "{r}");
            assert_eq!(field(&r, "invalid-name"), "invalid-argument:lifecycle.create");
            assert_eq!(field(&r, "duplicate"), "conflict:lifecycle.create");
            assert_eq!(field(&r, "delete-current"), "permission-denied:lifecycle.delete");
            assert!(f.leftovers().await.is_empty());
            // A sandbox the guest created and did not delete is deleted when
            // the run ends.
            let r = f.ok(guests::LIFECYCLE_MANAGE.path(), "keep-second").await;
            assert!(r.contains("second=guest-made-"), "{r}");
            assert!(f.leftovers().await.is_empty(), "guest-created sandbox left behind");
            // With --keep, both stay.
            let o = f.run_request(guests::LIFECYCLE_MANAGE.path(), RunRequest::new("keep-second").keep(true)).await.unwrap();
            assert!(o.result.is_ok() && o.sandbox_kept);
            assert_eq!(f.leftovers().await.len(), 2);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn access_request() {
            use openshell_wasm::approvals::{ApprovalStore, Decision, Entry};
            let f = fixture(TARGET, Default::default()).await;
            let r = f.ok(guests::ACCESS_REQUEST.path(), "example.com 443 0").await;
            assert_eq!(field(&r, "request"), "permission-denied:network.request-access", "{r}");
            let grant = |timeout: &str| policy(&format!("[network]\nrequest-access = true\naccess-timeout = \"{timeout}\"\n"));
            let f = fixture(TARGET, grant("30s")).await;
            if matches!(TARGET, Target::Local) {
                let r = f.ok(guests::ACCESS_REQUEST.path(), "example.com 443 0").await;
                assert_eq!(field(&r, "request"), "unsupported:network.request-access", "{r}");
                assert!(f.approvals().list().unwrap().is_empty(), "nothing recorded");
                return;
            }
            // The operator answers the first pending request it sees, as
            // `openshell-wasm approvals approve|reject` does.
            async fn operator(store: ApprovalStore, decision: Decision, note: &str) -> Entry {
                loop {
                    if let Some(e) = store.list().unwrap().into_iter().find(|e| e.answer.is_none()) {
                        return store.decide(&e.request.id, decision, note).unwrap();
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            let (r, asked) = tokio::join!(
                f.ok(guests::ACCESS_REQUEST.path(), "api.github.com 443 100 GET /repos/*"),
                operator(f.approvals(), Decision::Approved, "go ahead"),
            );
            let id = &asked.request.id;
            assert_eq!((asked.request.host.as_str(), asked.request.port), ("api.github.com", 443));
            assert_eq!((asked.request.method.as_deref(), asked.request.path.as_deref()), (Some("GET"), Some("/repos/*")));
            assert_eq!(asked.request.reason, "the tests need to fetch from it");
            assert_eq!(field(&r, "id"), id.as_str(), "{r}");
            assert_eq!(field(&r, "final"), "AccessDecision::Approved", "{r}");
            assert_eq!(field(&r, "rule"), format!("approved-{id}"), "{r}");
            assert_eq!(field(&r, "note"), "go_ahead", "{r}");
            assert_eq!((field(&r, "policy-has-host"), field(&r, "policy-has-path")), ("true", "true"), "{r}");
            assert_eq!(field(&r, "other-id"), "not-found:network.check-access", "{r}");

            // The sandbox's supervisor proposed a rule for pypi.org:443 (a
            // draft chunk). A person's answer is recorded there too.
            let drafts = |sandbox: &openshell_wasm::backend::SandboxInfo| {
                let sb = f.backend.open(sandbox);
                async move {
                    let chunks = sb.draft_chunks("").await.unwrap();
                    chunks.into_iter().map(|c| (c.rule_name, c.status)).collect::<Vec<_>>()
                }
            };
            let keep = |input: &str| openshell_wasm::runtime::RunRequest::new(input).keep(true);
            let (o, _) = tokio::join!(
                f.run_request(guests::ACCESS_REQUEST.path(), keep("pypi.org 443 100")),
                operator(f.approvals(), Decision::Rejected, "not today"),
            );
            let o = o.unwrap();
            let r = o.result.clone().unwrap();
            assert_eq!((field(&r, "final"), field(&r, "note")), ("AccessDecision::Rejected", "not_today"), "{r}");
            assert_eq!(field(&r, "policy-has-host"), "false", "{r}");
            assert_eq!(drafts(&o.sandbox).await, [("allow_pypi_org_443".to_string(), "rejected".to_string())]);
            f.backend.delete(&o.sandbox.name).await.unwrap();
            // Approving exactly what the supervisor proposed approves its
            // chunk: OpenShell merges the rule, and it is the grant.
            let (o, _) = tokio::join!(
                f.run_request(guests::ACCESS_REQUEST.path(), keep("pypi.org 443 100")),
                operator(f.approvals(), Decision::Approved, "fine"),
            );
            let o = o.unwrap();
            let r = o.result.clone().unwrap();
            assert_eq!((field(&r, "final"), field(&r, "rule")), ("AccessDecision::Approved", "allow_pypi_org_443"), "{r}");
            assert_eq!(field(&r, "policy-has-host"), "true", "{r}");
            assert_eq!(drafts(&o.sandbox).await, [("allow_pypi_org_443".to_string(), "approved".to_string())]);
            f.backend.delete(&o.sandbox.name).await.unwrap();

            // A run cannot bury the operator in requests.
            let r = f.ok(guests::ACCESS_REQUEST.path(), "example.com 443 0 flood").await;
            assert_eq!(r, "taken=32 then=too-large:network.request-access");

            // Nobody answers: rejected when the policy's time runs out; the
            // draft chunk stays for a person to decide in OpenShell.
            let f = fixture(TARGET, grant("1s")).await;
            let o = f.run_request(guests::ACCESS_REQUEST.path(), keep("pypi.org 443 100")).await.unwrap();
            let r = o.result.clone().unwrap();
            assert_eq!((field(&r, "final"), field(&r, "note")), ("AccessDecision::Rejected", "nobody_answered_in_time"), "{r}");
            assert_eq!(field(&r, "policy-has-host"), "false", "{r}");
            let sb = f.backend.open(&o.sandbox);
            let statuses: Vec<String> = sb.draft_chunks("").await.unwrap().into_iter().map(|c| c.status).collect();
            assert_eq!(statuses, ["pending"]);
            f.backend.delete(&o.sandbox.name).await.unwrap();
            assert!(f.leftovers().await.is_empty());
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sandbox_options() {
            use crate::harness::PROVIDER_SECRET;
            let grants = "[sandbox]\ncreate = true\npolicy = true\nproviders = [\"github\", \"gitlab*\"]\ngpu = true\nmax-cpu = \"1\"\nmax-memory = \"1Gi\"\n";
            let f = fixture(TARGET, policy(grants)).await;
            let r = f.ok(guests::SANDBOX_OPTIONS.path(), "").await;
            assert_eq!(field(&r, "bad-policy"), "invalid-argument:lifecycle.create-with", "{r}");
            if matches!(TARGET, Target::Local) {
                // The local backend has none of these: refused, not dropped.
                assert_eq!(field(&r, "create"), "unsupported:lifecycle.create-with", "{r}");
                assert_eq!(field(&r, "attach-current"), "unsupported:providers.attach", "{r}");
            } else {
                assert_eq!(field(&r, "create"), "ok", "{r}");
                assert_eq!((field(&r, "policy-l7"), field(&r, "policy-binding")), ("true", "true"), "{r}");
                let providers = r.lines().find(|l| l.starts_with("providers=")).unwrap_or_default();
                assert!(providers.contains("name: \"github\", kind: \"github\", credential-names: [\"GITHUB_TOKEN\"]"), "{r}");
                // 0.0 gateways do not report readiness; 0.1 ones do, and the
                // sandbox is ready.
                let readiness = if matches!(TARGET, Target::Gateway(openshell_testgw::Protocol::V0_0)) { "Unknown" } else { "Ready" };
                assert!(providers.contains(&format!("readiness: Readiness::{readiness}")), "{r}");
                assert_eq!((field(&r, "attach-gitlab"), field(&r, "attach-gitlab-again")), ("true", "false"), "{r}");
                assert_eq!(field(&r, "attach-other"), "permission-denied:providers.attach", "{r}");
                assert_eq!(field(&r, "attach-unknown"), "conflict:providers.attach", "{r}");
                assert_eq!(field(&r, "names"), "github,gitlab", "{r}");
                assert_eq!(field(&r, "detach-bound"), "conflict:providers.detach", "{r}");
                assert_eq!((field(&r, "detach-gitlab"), field(&r, "detach-gitlab-again")), ("true", "false"), "{r}");
            }
            assert!(!r.contains(PROVIDER_SECRET) && !r.contains("glpat-"), "a credential value reached the guest: {r}");
            assert!(f.leftovers().await.is_empty());

            // Without the grants, each option is refused before anything
            // is created.
            let f = fixture(TARGET, policy("[sandbox]\ncreate = true\n")).await;
            let r = f.ok(guests::SANDBOX_OPTIONS.path(), "denied").await;
            for key in ["policy", "provider", "gpu", "cpu", "memory"] {
                assert_eq!(field(&r, key), "permission-denied:lifecycle.create-with", "{key}: {r}");
            }
            assert_eq!(field(&r, "bad-cpu"), "invalid-argument:lifecycle.create-with", "{r}");
            assert_eq!(field(&r, "bad-memory"), "invalid-argument:lifecycle.create-with", "{r}");
            assert_eq!(field(&r, "attach"), "permission-denied:providers.attach", "{r}");
            assert!(f.leftovers().await.is_empty());
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn host_isolation() {
            // SAFETY-free canary: an environment variable only the host has.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let f = fixture(TARGET, Default::default()).await;
            let r = f.ok(guests::HOST_ISOLATION.path(), &addr.to_string()).await;
            assert_eq!(field(&r, "env"), "[]", "{r}");
            assert_eq!(field(&r, "canary"), "None", "{r}");
            // Commands in the sandbox get no host variables either (the
            // test process has CARGO_* set by cargo, and
            // OPENSHELL_WASM_CANARY when run by scripts/test.sh).
            assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
            assert_ne!(field(&r, "sandbox_env_lines"), "0", "{r}");
            assert_eq!(field(&r, "sandbox_leaked"), "[]", "{r}");
            assert_eq!(field(&r, "etc"), "false", "{r}");
            assert!(field(&r, "tcp").starts_with("refused"), "{r}");
            // Granted explicitly, each becomes visible.
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("hello.txt"), "granted file").unwrap();
            let p = policy(&format!(
                "[host]\nenv = [\"PATH\"]\ntcp-connect = [\"{addr}\"]\ndirs = [{{ host = {:?}, guest = \"/granted\" }}]\n",
                dir.path().display().to_string()
            ));
            let f = fixture(TARGET, p).await;
            let r = f.ok(guests::HOST_ISOLATION.path(), &addr.to_string()).await;
            assert_eq!(field(&r, "env"), "[\"PATH\"]", "{r}");
            assert_eq!(field(&r, "tcp"), "connected", "{r}");
            assert!(r.contains("granted=Some(\"granted file\")"), "{r}");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn command_world() {
            let f = fixture(TARGET, Default::default()).await;
            let o = f.run(guests::COMMAND_ECHO.path(), "shout this").await.unwrap();
            assert_eq!(o.result.unwrap(), "SHOUT THIS");
            let o = f.run_request(guests::COMMAND_ECHO.path(), RunRequest::new("x").args(vec!["3".into()])).await.unwrap();
            let err = o.result.unwrap_err();
            assert!(err.contains("exiting with 3 as asked"), "{err}");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn rust_agent() {
            let f = fixture(TARGET, Default::default()).await;
            let report: serde_json::Value = serde_json::from_str(&f.ok(guests::RUST_AGENT.path(), "refactor").await).unwrap();
            assert_eq!(report["ok"], true, "{report:#}");
            for step in ["exec", "stream", "files", "snapshot", "mutate", "hydrate", "network"] {
                assert_eq!(report[step]["ok"], true, "{step}: {report:#}");
            }
            assert_eq!(report["exec"]["stdout"], "hello from refactor");
            assert_eq!(report["files"]["listed"], serde_json::json!(["README.md", "data.bin", "src"]));
            assert!(f.leftovers().await.is_empty());
        }
    };
}

/// Host processes whose argv holds `arg` (sandboxed processes of both
/// backends are host processes in their own PID namespaces).
pub fn processes_with_arg(arg: &str) -> usize {
    let needle = format!("\0{arg}\0");
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
                .filter(|c| {
                    let mut c = c.clone();
                    c.insert(0, 0);
                    String::from_utf8_lossy(&c).contains(&needle)
                })
                .count()
        })
        .unwrap_or(0)
}

mod local {
    component_suite!(Target::Local);
}

/// The same suite over real gRPC to the test gateway, 0.0 generation.
mod gateway_v0_0 {
    component_suite!(Target::Gateway(openshell_testgw::Protocol::V0_0));
}

/// The same suite over real gRPC to the test gateway, 0.1 generation.
mod gateway_v0_1 {
    component_suite!(Target::Gateway(openshell_testgw::Protocol::V0_1));
}

/// The 0.1 suite again with the session channel off: the per-exec path
/// must give the same results.
mod gateway_v0_1_per_exec {
    component_suite!(Target::GatewayPerExec(openshell_testgw::Protocol::V0_1));
}
