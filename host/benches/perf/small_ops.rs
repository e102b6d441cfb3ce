//! Figure 2: 200 mixed small file operations (40 rounds of write 1 KiB,
//! stat, read, list, remove) over the session channel vs one exec each,
//! on a gateway that costs at least a real gateway's per exec. 2a: the
//! Python server (sandboxes with Python 3.10+); 2b: the shell server.

use bytes::Bytes;
use futures::StreamExt;
use openshell_wasm::backend::openshell::config::SessionChannel;
use openshell_wasm::backend::{Backend, Sandbox, SandboxInfo, WriteOptions};

use crate::Options;
use crate::figure::{Figure, Goal};
use crate::fixtures;
use crate::measure::{interleave, ms};

/// One round: five operations on a 1 KiB file.
pub async fn round(sb: &dyn Sandbox, i: usize) {
    let dir = format!("{}/small", sb.info().workdir);
    let path = format!("{dir}/f{i}.txt");
    let body = Bytes::from(vec![b'a' + (i % 26) as u8; 1024]);
    let mut sink =
        sb.write_file(&path, WriteOptions { create_parents: true, ..WriteOptions::default() }).await.expect("write");
    sink.write(body.clone()).await.expect("write");
    sink.finish().await.expect("write");
    assert_eq!(sb.stat(&path).await.expect("stat").size, 1024);
    let mut r = sb.read_file(&path).await.expect("read");
    let mut n = 0;
    while let Some(c) = r.content.next().await {
        n += c.expect("read").len();
    }
    assert_eq!(n, 1024);
    assert!(!sb.list_dir(&dir).await.expect("list").is_empty());
    sb.remove(&path, false).await.expect("remove");
}

async fn batch(b: &dyn Backend, sb: &SandboxInfo, rounds: usize) {
    let sb = b.open(sb);
    for i in 0..rounds {
        round(&*sb, i).await;
    }
}

pub async fn run(opts: &Options) -> Vec<Figure> {
    let (gw, own, added) = fixtures::realistic_gateway().await;
    let per_exec = gw.backend(SessionChannel::Off).await;
    let sb = fixtures::sandbox(&per_exec).await;
    let rounds = 40;
    let ops = rounds * 5;
    let repeats = if opts.quick { 1 } else { 3 };
    let cost =
        format!("{:.0} ms per exec ({:.0} ms the gateway's own + {:.0} ms added)", ms(own + added), ms(own), ms(added));
    let mut figures = Vec::new();
    for (id, mode, server) in
        [("2a", SessionChannel::Auto, "Python server"), ("2b", SessionChannel::Shell, "shell server")]
    {
        let channel = gw.backend(mode).await;
        let (ours, base) = interleave(repeats, || batch(&channel, &sb, rounds), || batch(&per_exec, &sb, rounds)).await;
        let (o, b) = (ours.median(), base.median());
        figures.push(Figure::new(
            id,
            &format!("{ops} small file ops, {cost}: session channel ({server}) vs one exec each"),
            format!("{:.0} ms ({:.2} ms/op)", ms(o), ms(o) / ops as f64),
            format!("{:.0} ms ({:.2} ms/op)", ms(b), ms(b) / ops as f64),
            b.as_secs_f64() / o.as_secs_f64(),
            "per-exec / channel (speed-up)",
            if id == "2a" { Goal::AtLeast(10.0) } else { Goal::Report },
        ));
    }
    per_exec.delete(&sb.name).await.expect("delete the sandbox");
    figures
}
