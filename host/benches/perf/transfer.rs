//! Figure 3: 64 MiB up and down through the fs interface vs the same bytes
//! through raw exec streams (`head -c N > file` up, `cat file` down).

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
    let rounds = if opts.quick { 1 } else { 3 };
    let (mut up_o, mut up_b, mut down_o, mut down_b) =
        (Samples::default(), Samples::default(), Samples::default(), Samples::default());
    for _ in 0..rounds {
        let (d, ()) = time(async {
            let mut sink = backend.open(&sb).write_file(&ours_path, WriteOptions::default()).await.expect("open");
            for c in &ours_chunks {
                sink.write(c.clone()).await.expect("write");
            }
            assert_eq!(sink.finish().await.expect("finish").size, size as u64);
        })
        .await;
        up_o.push(d);
        let (d, code) = time(raw.exec_stdin(&sb.name, &format!("head -c {size} > {raw_path}"), &raw_chunks)).await;
        assert_eq!(code, 0);
        up_b.push(d);
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
    }
    backend.delete(&sb.name).await.expect("delete the sandbox");
    let mib = size as f64 / (1 << 20) as f64;
    let rate = |d: std::time::Duration| format!("{:.0} ms, {:.0} MiB/s", ms(d), mib / d.as_secs_f64());
    let mut out = Vec::new();
    for (id, what, o, b) in
        [("3a", "upload", up_o.median(), up_b.median()), ("3b", "download", down_o.median(), down_b.median())]
    {
        out.push(Figure::new(
            id,
            &format!("{mib:.0} MiB {what}: fs interface vs raw exec stream"),
            rate(o),
            rate(b),
            b.as_secs_f64() / o.as_secs_f64(),
            "our throughput / raw throughput",
            Goal::AtLeast(0.6),
        ));
    }
    out
}
