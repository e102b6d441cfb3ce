//! Figure 4: persist + hydrate of a 5,000-file, 100 MiB workspace through
//! the snapshot interface, from a guest (export; store, hash and check on
//! the host; verify, sanitize and extract on the way back), vs raw
//! `tar c` down and `tar x` up through the same gateway. 4a hydrates in
//! merge mode, which extracts over the tree as raw `tar x` does; 4b in
//! replace mode, which first removes what the snapshot does not hold. 4c
//! replaces too, but keeps a large excluded tree (`node_modules` in every
//! directory, as in a monorepo): the host lists it all to work out what to
//! delete, and deletes every other file one by one; its baseline is
//! `tar c --exclude=node_modules` and `tar x`.
//!
//! The workspace's file system makes `tar x` of 5,000 files cost seconds
//! of kernel time that varies from round to round, so rounds alternate
//! which side goes first and the medians are compared.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use openshell_wasm::backend::Backend;
use openshell_wasm::backend::openshell::config::SessionChannel;
use openshell_wasm::runtime::RunRequest;

use crate::Options;
use crate::figure::{Figure, Goal};
use crate::fixtures::{self, Gateway, Raw};
use crate::measure::{Samples, ms, time};

/// A tar of `files` files holding `total` bytes under `ws/`: ten large
/// files and the rest small, in 50 directories.
fn workspace_tar(files: usize, total: usize) -> Vec<u8> {
    let large = 10.min(files);
    let large_size = total * 8 / 10 / large;
    let small_size = (total - large * large_size) / (files - large).max(1);
    let mut b = tar::Builder::new(Vec::new());
    for i in 0..files {
        let size = if i < large { large_size } else { small_size };
        let body = fixtures::noise(size, i as u64 + 1);
        let mut h = tar::Header::new_gnu();
        h.set_size(size as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, format!("ws/d{}/f{i}.dat", i % 50), body.as_slice()).expect("tar member");
    }
    b.into_inner().expect("tar")
}

/// A tar of a `node_modules` tree in each of the 50 directories of
/// [`workspace_tar`]: `entries` entries in all, half package directories
/// and half small files.
fn kept_tree_tar(entries: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for i in 0..entries / 2 {
        let dir = format!("ws/d{}/node_modules/p{i}", i % 50);
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(0o755);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(tar::EntryType::Directory);
        b.append_data(&mut h, &dir, std::io::empty()).expect("tar member");
        let body = b"module.exports = 1;\n";
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, format!("{dir}/index.js"), &body[..]).expect("tar member");
    }
    b.into_inner().expect("tar")
}

fn field<'a>(report: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key}=");
    report.split(' ').find_map(|w| w.strip_prefix(prefix.as_str())).unwrap_or("0")
}

fn chunks(data: &[u8]) -> Vec<Bytes> {
    data.chunks(960 << 10).map(Bytes::copy_from_slice).collect()
}

/// `tar c` (with `tar_options`) down, then `tar x` up: how long each took.
async fn raw_cycle(raw: &Raw, sandbox: &str, tar_options: &[&str]) -> (Duration, Duration) {
    let argv: Vec<&str> =
        ["tar", "-C", "/sandbox", "-cf", "-"].iter().chain(tar_options).chain(&["ws"]).copied().collect();
    let (down, (code, _, tar)) = time(raw.exec(sandbox, &argv, true)).await;
    assert_eq!(code, 0);
    let script = format!("head -c {} | tar -C /sandbox -xf -", tar.len());
    let (up, code) = time(raw.exec_stdin(sandbox, &script, &chunks(&tar))).await;
    assert_eq!(code, 0);
    (down, up)
}

/// One side's samples: the whole cycle and its two halves.
#[derive(Default)]
struct Cycle {
    total: Samples,
    out: Samples,
    back: Samples,
}

impl Cycle {
    fn push(&mut self, out: Duration, back: Duration) {
        self.total.push(out + back);
        self.out.push(out);
        self.back.push(back);
    }

    /// "T ms (A ms `first` + B ms `second`)", medians.
    fn describe(&self, first: &str, second: &str) -> String {
        let (t, o, b) = (ms(self.total.median()), ms(self.out.median()), ms(self.back.median()));
        format!("{t:.0} ms ({o:.0} ms {first} + {b:.0} ms {second})")
    }
}

pub async fn run(opts: &Options) -> Vec<Figure> {
    let (files, total) = if opts.quick { (1000, 20 << 20) } else { (5000, 100 << 20) };
    let gw = Gateway::start(Duration::ZERO);
    let backend = Arc::new(gw.backend(SessionChannel::Auto).await);
    let raw = gw.raw().await;
    let sb = fixtures::sandbox(&*backend).await;
    let archive = workspace_tar(files, total);
    let code = raw
        .exec_stdin(&sb.name, &format!("head -c {} | tar -C /sandbox -xf -", archive.len()), &chunks(&archive))
        .await;
    assert_eq!(code, 0, "seeding the workspace");

    let state = tempfile::tempdir().expect("temporary directory");
    let policy = openshell_wasm::policy::parse(
        "[guest]\nwall-time = \"30m\"\n[fs]\nmax-write = \"1 GiB\"\n[snapshot]\nquota = \"64 GiB\"\n",
        "bench-policy.toml",
    )
    .expect("policy");
    let host = fixtures::host(backend.clone(), policy, state.path(), None);
    let agent =
        host.load_file(std::path::Path::new(test_artifacts::BENCH_SNAPSHOT.path())).await.expect("load the guest");
    let rounds = if opts.quick { 2 } else { 6 };
    let bench = Bench { host: &host, agent: &agent, raw: &raw, sandbox: &sb.name, rounds };
    let mut figures = Vec::new();
    for (id, mode, input) in [("4a", "merge", "ws merge"), ("4b", "replace", "ws")] {
        let m = bench.measure(input, &[]).await;
        let what = format!(
            "persist+hydrate ({mode}), {files} files / {} MiB ({} entries, {} bytes): snapshot vs raw tar c | tar x",
            total >> 20,
            m.entries,
            m.size
        );
        figures.push(m.figure(id, &what, if id == "4a" { Goal::AtMost(1.5) } else { Goal::Report }));
    }

    // 4c: the same workspace with a kept tree in every directory. Seeded
    // only now, since 4a and 4b snapshot `ws` whole.
    let kept = if opts.quick { 4_000 } else { 20_000 };
    let tree = kept_tree_tar(kept);
    let code =
        raw.exec_stdin(&sb.name, &format!("head -c {} | tar -C /sandbox -xf -", tree.len()), &chunks(&tree)).await;
    assert_eq!(code, 0, "seeding the kept tree");
    let m = bench.measure("ws replace exclude=node_modules", &["--exclude=node_modules"]).await;
    let what = format!(
        "persist+hydrate (replace) keeping {kept} excluded entries, {files} files / {} MiB ({} entries, {} bytes): \
         snapshot vs raw tar c --exclude | tar x",
        total >> 20,
        m.entries,
        m.size
    );
    figures.push(m.figure("4c", &what, Goal::Report));
    backend.delete(&sb.name).await.expect("delete the sandbox");
    figures
}

/// What every case of this figure shares.
struct Bench<'a> {
    host: &'a openshell_wasm::runtime::Host,
    agent: &'a openshell_wasm::runtime::Agent,
    raw: &'a Raw,
    sandbox: &'a str,
    rounds: usize,
}

/// One case's samples, and what the guest reported of its snapshot.
struct Measured {
    ours: Cycle,
    whole: Samples,
    base: Cycle,
    entries: String,
    size: String,
}

impl Bench<'_> {
    /// `rounds` guest runs with `input` against raw cycles with
    /// `tar_options`, alternating which goes first.
    async fn measure(&self, input: &str, tar_options: &[&str]) -> Measured {
        let mut m = Measured {
            ours: Cycle::default(),
            whole: Samples::default(),
            base: Cycle::default(),
            entries: String::new(),
            size: String::new(),
        };
        for round in 0..self.rounds {
            if round % 2 == 1 {
                let (down, up) = raw_cycle(self.raw, self.sandbox, tar_options).await;
                m.base.push(down, up);
            }
            let (d, out) = time(self.host.run(self.agent, RunRequest::new(input).attach(self.sandbox))).await;
            let report = out.expect("the snapshot run").result.expect("the snapshot guest");
            let us = |key| Duration::from_micros(field(&report, key).parse::<u64>().unwrap_or(0));
            m.ours.push(us("persist_us"), us("hydrate_us"));
            m.whole.push(d);
            m.entries = field(&report, "entries").to_string();
            m.size = field(&report, "size").to_string();
            if round % 2 == 0 {
                let (down, up) = raw_cycle(self.raw, self.sandbox, tar_options).await;
                m.base.push(down, up);
            }
        }
        m
    }
}

impl Measured {
    fn figure(&self, id: &str, what: &str, goal: Goal) -> Figure {
        let (o, w, b) = (self.ours.total.median(), self.whole.median(), self.base.total.median());
        Figure::new(
            id,
            what,
            format!("{}; whole guest run {:.0} ms", self.ours.describe("persist", "hydrate"), ms(w)),
            self.base.describe("tar c", "tar x"),
            o.as_secs_f64() / b.as_secs_f64(),
            "ours / raw",
            goal,
        )
    }
}
