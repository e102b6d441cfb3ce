//! Entry points for the fuzz targets (`fuzz/`) and the test that replays
//! their corpus (`host/tests/all/fuzz_corpus.rs`): every parser that reads
//! input a guest, a sandbox or a user controls. Each takes arbitrary bytes
//! and must return, never panic or hang; each also checks the invariants
//! its callers rely on, and panics (a finding) when one breaks.
//!
//! Not a stable API: hidden from the docs.

use std::io::Cursor;

use crate::archive::{self, Format, Limits};
use crate::backend::openshell::{channel, files};
use crate::policy::paths;

/// Limits small enough that a fuzz input cannot make a run slow.
const LIMITS: Limits = Limits { max_members: 10_000, max_total_bytes: 64 << 20, max_file_bytes: 16 << 20 };

/// A tar (or gzip'd tar) archive as a hydrate or `fs.extract` sees it:
/// checked, then rewritten. An accepted archive's clean copy must pass the
/// check again, holding at least the same members (the copy adds entries
/// for missing parent directories).
pub fn archive(data: &[u8]) {
    let format = Format::Auto;
    let Ok(input) = archive::decompress(format, Cursor::new(data)) else { return };
    let Ok(summary) = archive::sanitize(input, &LIMITS, None) else { return };
    let mut clean = Vec::new();
    let input = archive::decompress(format, Cursor::new(data)).expect("decompressed once already");
    let again =
        archive::sanitize(input, &LIMITS, Some(&mut clean)).expect("the second pass accepts what the first did");
    assert_eq!(summary.members(), again.members());
    let checked = archive::sanitize(Cursor::new(&clean), &LIMITS, None).expect("a clean archive passes the check");
    assert!(checked.members() >= summary.members(), "the clean copy lost members");
    assert_eq!(checked.files, summary.files, "the clean copy holds the same files");
    assert_eq!(checked.bytes, summary.bytes, "the clean copy holds the same bytes");
}

/// A tar member's name: accepted names are relative, `/`-separated and
/// free of `.`, `..` and empty components.
pub fn member_name(data: &[u8]) {
    if let Ok(Some(name)) = archive::normalize_member(data) {
        assert!(!name.starts_with('/'), "{name:?} is absolute");
        assert!(name.split('/').all(|c| !c.is_empty() && c != "." && c != ".."), "{name:?} is not normal");
    }
}

/// A guest's path against a workspace and the policy's prefixes: the
/// normal form is absolute and free of `.`/`..`, normalizing is
/// idempotent, and an allowed path lies within an allowed prefix.
pub fn guest_path(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (path, prefix) = text.split_once('\n').unwrap_or((&text, "."));
    let Ok(norm) = paths::normalize("/sandbox", path) else { return };
    assert!(norm.starts_with('/'), "{norm:?} is not absolute");
    assert!(!norm.split('/').any(|c| c == "." || c == ".."), "{norm:?} is not normal");
    assert_eq!(paths::normalize("/sandbox", &norm).as_deref(), Ok(norm.as_str()), "normalizing is idempotent");
    let prefixes = paths::resolve_prefixes("/sandbox", &[prefix.to_string()]);
    if paths::allowed(&norm, &prefixes) {
        assert!(prefixes.iter().any(|p| paths::is_within(&norm, p)), "{norm:?} allowed outside {prefixes:?}");
    }
}

/// A policy file: parsed or refused with a message, never a panic.
pub fn policy(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::policy::parse(text, "fuzz.toml");
    }
}

/// The session channel's responses, as the host reads them from the
/// sandbox: headers and bodies split without reading past the buffer.
pub fn session_replies(data: &[u8]) {
    let mut rest = data;
    while let Ok(Some((h, len))) = channel::parse_header(rest) {
        assert!(len <= rest.len());
        let total = len.saturating_add(h.out).saturating_add(h.err);
        if total > rest.len() {
            break;
        }
        rest = &rest[total..];
    }
}

/// A session channel request: the encoding the server parses, checked to
/// describe exactly what was encoded.
pub fn session_request(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{0}');
    let op = parts.next().unwrap_or_default();
    if op.is_empty() || op.contains([' ', '\n']) {
        return;
    }
    let args: Vec<String> = parts.map(str::to_string).collect();
    let stdin = data.len().to_le_bytes();
    let f = channel::frame(7, op, &args, &stdin);
    let head_end = f.iter().position(|c| *c == b'\n').expect("a header line");
    assert_eq!(&f[..head_end], format!("7 {op} {} {}", args.len(), stdin.len()).as_bytes());
    let mut at = head_end + 1;
    for a in &args {
        let nl = at + f[at..].iter().position(|c| *c == b'\n').expect("a length line");
        let n: usize = std::str::from_utf8(&f[at..nl]).expect("digits").parse().expect("a length");
        assert_eq!(&f[nl + 1..nl + 1 + n], a.as_bytes());
        at = nl + 1 + n;
    }
    assert_eq!(&f[at..], &stdin);
}

/// The sandbox's `stat` and listing output.
pub fn exec_output(data: &[u8]) {
    if let Some(s) = files::parse_stat("/sandbox/x", data) {
        assert_eq!(s.mode & !0o7777, 0, "mode bits beyond 0o7777");
    }
    if let Some(entries) = files::parse_list(data) {
        assert!(entries.windows(2).all(|w| w[0].name <= w[1].name), "the listing is sorted");
    }
}

/// Component bytes as `run`, `inspect` and `compile` load them: validated,
/// compiled, classified and linked, or refused with a message.
pub fn component(data: &[u8]) {
    use std::sync::OnceLock;
    static HOST: OnceLock<(tokio::runtime::Runtime, crate::runtime::Host)> = OnceLock::new();
    let (rt, host) = HOST.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        // Loading never touches the backend, so its (empty) state lives in
        // one fixed place that every run reuses, instead of one per process.
        let state = std::env::temp_dir().join("openshell-wasm-fuzz");
        let backend = crate::backend::local::LocalBackend::new(state.join("local"));
        let backend: std::sync::Arc<dyn crate::backend::Backend> = match backend {
            Ok(b) => std::sync::Arc::new(b),
            Err(e) => panic!("the component target needs the local backend: {e}"),
        };
        let host = crate::runtime::Host::builder()
            .backend(backend)
            .snapshot_dir(state.join("snapshots"))
            .cache_dir(None)
            .pooling(crate::runtime::Pooling::Off)
            .build()
            .expect("a host");
        (rt, host)
    });
    let _ = rt.block_on(host.load_bytes("fuzz", data.to_vec()));
}
