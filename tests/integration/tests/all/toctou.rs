//! Check-then-use races: a process in the sandbox keeps swapping a file and
//! a directory for symlinks that point outside the workspace while the host
//! reads, writes, lists, stats, chmods and removes through them. Zero
//! escapes are allowed: no read returns outside content, no listing or stat
//! shows outside entries, and nothing outside changes. On the local backend
//! and on all three OpenShell paths (Python server, shell server, one exec
//! per operation).

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use openshell_testgw::Protocol as Gw;
use openshell_wasm::backend::openshell::OpenShellBackend;
use openshell_wasm::backend::openshell::config::{GatewayConfig, SessionChannel};
use openshell_wasm::backend::{Backend, ExecEvent, ExecRequest, SandboxInfo, SandboxSpec, WriteOptions};

use crate::harness::{Gateway, start_gateway};

const SECRET: &str = "TOP-SECRET";
/// Swap rounds the attacker makes (a few seconds).
const ROUNDS: u32 = 400;

fn request(sb: &SandboxInfo, script: &str) -> ExecRequest {
    ExecRequest::new(["sh", "-c", script], sb.workdir.clone(), Duration::from_secs(120))
}

async fn sh(b: &dyn Backend, sb: &SandboxInfo, script: &str) -> String {
    let mut s = b.open(sb).exec(request(sb, script)).await.unwrap();
    let mut out = Vec::new();
    while let Some(ev) = s.events.recv().await {
        match ev {
            ExecEvent::Stdout(d) => out.extend_from_slice(&d),
            ExecEvent::Exit(e) => {
                assert_eq!(e.code, 0, "{script}: {}", String::from_utf8_lossy(&out));
                return String::from_utf8_lossy(&out).into_owned();
            }
            ExecEvent::Failed(e) => panic!("{script}: {e}"),
            ExecEvent::Stderr(_) => {}
        }
    }
    panic!("{script}: no exit")
}

async fn read(b: &dyn Backend, sb: &SandboxInfo, path: &str) -> Option<String> {
    let r = b.open(sb).read_file(path).await.ok()?;
    let mut content = r.content;
    let mut out = Vec::new();
    while let Some(c) = content.next().await {
        out.extend_from_slice(&c.ok()?);
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// What the host got away with while the attacker ran.
#[derive(Debug, Default)]
struct Tally {
    attempts: u32,
    /// Operations that succeeded on the inside file (the race was real).
    inside: u32,
    escapes: Vec<String>,
}

/// Race the host's operations against the attacker in `sb`, whose workspace
/// `w` holds `f` and `d/s`, swapped for symlinks to `outside`.
async fn race(b: &dyn Backend, sb: &SandboxInfo, outside: &str) -> Tally {
    let s = b.open(sb);
    let w = &sb.workdir;
    let attack = format!(
        "cd {w} && i=0; while [ $i -lt {ROUNDS} ]; do rm -rf f d; echo inside > f; mkdir d; echo inside > d/s; \
         rm -rf f d; ln -s {outside}/secret.txt f; ln -s {outside} d; i=$((i+1)); done; \
         rm -rf f d; echo done"
    );
    let mut attacker = s.exec(request(sb, &attack)).await.unwrap();
    let mut t = Tally::default();
    let mut done = false;
    while !done {
        t.attempts += 1;
        for path in [format!("{w}/f"), format!("{w}/d/s"), format!("{w}/d/secret.txt")] {
            match read(b, sb, &path).await {
                Some(c) if c.contains(SECRET) => t.escapes.push(format!("read {path}")),
                Some(c) if c.contains("inside") => t.inside += 1,
                _ => {}
            }
        }
        if let Ok(st) = s.stat(&format!("{w}/d/secret.txt")).await {
            t.escapes.push(format!("stat d/secret.txt: {st:?}"));
        }
        if let Ok(entries) = s.list_dir(&format!("{w}/d")).await
            && entries.iter().any(|e| e.name == "secret.txt" || e.name == "victim")
        {
            t.escapes.push("list d".into());
        }
        let opts = WriteOptions { create_parents: false, ..WriteOptions::default() };
        if let Ok(mut sink) = s.write_file(&format!("{w}/d/planted"), opts).await {
            let _ = sink.write(Bytes::from_static(b"planted")).await;
            if sink.finish().await.is_ok() {
                t.inside += 1;
            }
        }
        let _ = s.chmod(&format!("{w}/d/s"), 0o777).await;
        let _ = s.chmod(&format!("{w}/f"), 0o777).await;
        let _ = s.remove(&format!("{w}/d/victim"), true).await;
        if s.rename(&format!("{w}/d/secret.txt"), &format!("{w}/stolen")).await.is_ok() {
            t.escapes.push("rename d/secret.txt".into());
        }
        // Has the attacker finished?
        while let Ok(ev) = attacker.events.try_recv() {
            match ev {
                ExecEvent::Exit(e) => {
                    assert_eq!(e.code, 0, "the attacker failed");
                    done = true;
                }
                ExecEvent::Failed(e) => panic!("the attacker failed: {e}"),
                _ => {}
            }
        }
        if attacker.events.is_closed() && attacker.events.is_empty() {
            done = true;
        }
    }
    t
}

/// What is outside must be as it was.
fn check_outside(listing: &str, t: &Tally, what: &str) {
    assert!(t.escapes.is_empty(), "{what}: {} escapes: {:?}", t.escapes.len(), t.escapes);
    assert!(t.inside > 0, "{what}: the race never hit the inside files ({} rounds)", t.attempts);
    assert!(listing.contains(&format!("secret.txt {SECRET} 644")), "{what}: the secret changed: {listing}");
    assert!(listing.contains("victim"), "{what}: the victim was removed: {listing}");
    assert!(!listing.contains("planted"), "{what}: a file was planted outside: {listing}");
}

/// A test gateway and a sandbox whose workspace is `/sandbox/ws`, so that
/// the sandbox has a writable, observable place outside it; with the
/// sandbox as seen from `/sandbox` (for setting up and inspecting).
async fn workspace_below_sandbox(
    mode: SessionChannel,
) -> (tempfile::TempDir, Gateway, OpenShellBackend, SandboxInfo, SandboxInfo) {
    let state = tempfile::tempdir().unwrap();
    let gw = start_gateway(Gw::V0_1, state.path(), |_| {}).await;
    let mut cfg = GatewayConfig::new(format!("http://{}", gw.addr));
    cfg.session_channel = mode;
    cfg.workdir = "/sandbox/ws".into();
    let b = OpenShellBackend::connect(cfg).await.unwrap();
    let sb = b.create(&SandboxSpec::default().with_ready_timeout(Duration::from_secs(30))).await;
    let sb = sb.unwrap();
    let setup = SandboxInfo { workdir: "/sandbox".into(), ..sb.clone() };
    (state, gw, b, sb, setup)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_paths_never_escape() {
    for mode in [SessionChannel::Auto, SessionChannel::Shell, SessionChannel::Off] {
        let (_state, _gw, b, sb, setup) = workspace_below_sandbox(mode).await;
        sh(
            &b,
            &setup,
            &format!(
                "mkdir -p ws outside/victim && printf {SECRET} > outside/secret.txt && chmod 644 outside/secret.txt"
            ),
        )
        .await;
        let t = race(&b, &sb, "/sandbox/outside").await;
        let listing = sh(
            &b,
            &setup,
            "cd outside && for f in *; do printf '%s %s %s\\n' \"$f\" \"$(cat \"$f\" 2>/dev/null)\" \"$(stat -c %a \"$f\")\"; done",
        )
        .await;
        check_outside(&listing, &t, &format!("{mode:?}"));
        b.delete(&sb.name).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_backend_never_escapes() {
    use openshell_wasm::backend::local::LocalBackend;
    let state = tempfile::tempdir().unwrap();
    // Outside: a directory of the host. The attacker's symlinks name it;
    // the host resolves them (the sandbox itself cannot even see it).
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), SECRET).unwrap();
    std::fs::create_dir(outside.path().join("victim")).unwrap();
    let b = LocalBackend::new(state.path()).unwrap();
    let sb = b.create(&SandboxSpec::default()).await.unwrap();
    let t = race(&b, &sb, &outside.path().display().to_string()).await;
    let mut listing = String::new();
    for e in std::fs::read_dir(outside.path()).unwrap() {
        let e = e.unwrap();
        let content = std::fs::read_to_string(e.path()).unwrap_or_default();
        let mode = {
            use std::os::unix::fs::PermissionsExt;
            e.metadata().unwrap().permissions().mode() & 0o777
        };
        listing.push_str(&format!("{} {content} {mode:o}\n", e.file_name().to_string_lossy()));
    }
    check_outside(&listing, &t, "local");
    b.delete(&sb.name).await.unwrap();
}

/// A checked archive holding only `pl/x` (no entry for `pl` itself).
fn archive_through_planted_link() -> openshell_wasm::backend::ByteStream {
    let mut raw = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    raw.append_data(&mut h, "pl/x", &b"owned"[..]).unwrap();
    let raw = raw.into_inner().unwrap();
    let mut clean = Vec::new();
    openshell_wasm::archive::sanitize(std::io::Cursor::new(raw), &Default::default(), Some(&mut clean)).unwrap();
    Box::pin(futures::stream::once(async move { Ok(Bytes::from(clean)) }))
}

/// A symlink planted where an archive has a directory is replaced, never
/// written through (GNU tar follows an existing symlink to a directory
/// unless the archive names the directory itself, which the checked copy
/// always does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extraction_replaces_planted_symlinks() {
    for mode in [SessionChannel::Auto, SessionChannel::Off] {
        let (_state, _gw, b, sb, setup) = workspace_below_sandbox(mode).await;
        sh(&b, &setup, "mkdir -p ws outside && ln -s /sandbox/outside ws/pl").await;
        b.open(&sb).import_tar("/sandbox/ws", archive_through_planted_link(), None).await.unwrap();
        let seen = sh(&b, &setup, "ls outside; echo; ls -l ws | grep -c '^l' || true; cat ws/pl/x").await;
        assert!(!seen.starts_with('x'), "{mode:?}: the archive wrote through the planted link: {seen:?}");
        assert!(seen.ends_with("owned"), "{mode:?}: {seen:?}");
        b.delete(&sb.name).await.unwrap();
    }
}
