//! Figure 3: 64 MiB up and down through the fs interface vs the same bytes
//! through raw exec streams (`head -c N > file` up, `cat file` down): 3a
//! uploads a new file, 3b downloads it, 3c replaces an existing file, where
//! both sides replace it atomically (`head -c N > tmp && mv tmp file` for
//! raw), because a rename over a file on ext4 first starts the writeback of
//! the new data (`auto_da_alloc`), which an in-place overwrite pays later.

use bytes::Bytes;
use futures::StreamExt;
use openshell_wasm::backend::{Backend, WriteOptions};

use openshell_wasm::backend::openshell::config::SessionChannel;

use crate::Options;
use crate::figure::{Figure, Goal};
use crate::fixtures::{self, Gateway};
use crate::measure::{Samples, ms, time};

pub async fn run(opts: &Options) -> Vec<Figure> {
    let size: usize = if opts.quick { 16 << 20 } else { 64 << 20 };
    let gw = Gateway::start(std::time::Duration::ZERO);
    let backend = gw.backend(SessionChannel::Auto).await;
    let raw = gw.raw().await;
    let sb = fixtures::sandbox(&backend).await;
    let data = Bytes::from(fixtures::noise(size, 3));
    // What each side sends per message: our sink gets 1 MiB writes (its
    // callers' pieces); the raw client sends frames the gateway accepts.
    let ours_chunks: Vec<Bytes> =
        (0..size).step_by(1 << 20).map(|i| data.slice(i..(i + (1 << 20)).min(size))).collect();
    let raw_chunks: Vec<Bytes> =
        (0..size).step_by(960 << 10).map(|i| data.slice(i..(i + (960 << 10)).min(size))).collect();
    let ours_path = format!("{}/ours.bin", sb.workdir);
    let raw_path = format!("{}/raw.bin", sb.workdir);
    let rounds = if opts.quick { 1 } else { 9 };
    let upload = |path: String| {
        let (backend, sb, chunks) = (&backend, &sb, &ours_chunks);
        async move {
            let mut sink = backend.open(sb).write_file(&path, WriteOptions::default()).await.expect("open");
            for c in chunks {
                sink.write(c.clone()).await.expect("write");
            }
            assert_eq!(sink.finish().await.expect("finish").size, size as u64);
        }
    };
    let remove = |path: String| {
        let (raw, name) = (&raw, &sb.name);
        async move {
            assert_eq!(raw.exec(name, &["rm", "-f", &path], false).await.0, 0);
        }
    };
    let raw_upload = |script: String| {
        let (raw, name, chunks) = (&raw, &sb.name, &raw_chunks);
        async move {
            let (d, code) = time(raw.exec_stdin(name, &script, chunks)).await;
            assert_eq!(code, 0, "{script}");
            d
        }
    };
    let [mut up_o, mut up_b, mut down_o, mut down_b, mut re_o, mut re_b]: [Samples; 6] = Default::default();
    // Round 0 is a warm-up (it opens the session channel); its samples are
    // dropped.
    for round in 0..=rounds {
        // New files: the previous round's are removed outside the timing.
        remove(ours_path.clone()).await;
        remove(raw_path.clone()).await;
        let (o, b) = alternately(
            round % 2 == 0,
            async { time(upload(ours_path.clone())).await.0 },
            raw_upload(format!("head -c {size} > {raw_path}")),
        )
        .await;
        up_o.push(o);
        up_b.push(b);
        let (d, ()) = time(async {
            let r = backend.open(&sb).read_file(&ours_path).await.expect("read");
            let mut content = r.content;
            let mut n = 0;
            while let Some(c) = content.next().await {
                n += c.expect("read").len();
            }
            assert_eq!(n, size);
        })
        .await;
        down_o.push(d);
        let (d, (code, n, _)) = time(raw.exec(&sb.name, &["cat", &raw_path], false)).await;
        assert_eq!((code, n), (0, size as u64));
        down_b.push(d);
        let (o, b) = alternately(
            round % 2 == 1,
            async { time(upload(ours_path.clone())).await.0 },
            raw_upload(format!("head -c {size} > {raw_path}.tmp && mv -f {raw_path}.tmp {raw_path}")),
        )
        .await;
        re_o.push(o);
        re_b.push(b);
    }
    for samples in [&mut up_o, &mut up_b, &mut down_o, &mut down_b, &mut re_o, &mut re_b] {
        samples.0.remove(0);
    }
    backend.delete(&sb.name).await.expect("delete the sandbox");
    let mib = size as f64 / (1 << 20) as f64;
    let rate = |d: std::time::Duration| format!("{:.0} ms, {:.0} MiB/s", ms(d), mib / d.as_secs_f64());
    let mut out = Vec::new();
    for (id, what, o, b, goal) in [
        // The target the maintainability issue set for uploads.
        ("3a", "upload of a new file", &up_o, &up_b, 0.85),
        ("3b", "download", &down_o, &down_b, 0.6),
        ("3c", "upload replacing a file", &re_o, &re_b, 0.6),
    ] {
        let (o, b) = (o.median(), b.median());
        out.push(Figure::new(
            id,
            &format!("{mib:.0} MiB {what}: fs interface vs raw exec stream"),
            rate(o),
            rate(b),
            b.as_secs_f64() / o.as_secs_f64(),
            "our throughput / raw throughput",
            Goal::AtLeast(goal),
        ));
    }
    out
}

/// Run both, `ours` first when `ours_first` (alternated by the caller, so
/// that neither side always runs right after the removals or the other's
/// writeback); returns their results in that order.
async fn alternately<T>(ours_first: bool, ours: impl Future<Output = T>, base: impl Future<Output = T>) -> (T, T) {
    if ours_first {
        let o = ours.await;
        (o, base.await)
    } else {
        let b = base.await;
        (ours.await, b)
    }
}
