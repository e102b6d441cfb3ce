//! Timing and memory helpers. Every figure compares our path with a
//! baseline measured in the same process, interleaved (A B A B ...) so
//! that drift on a noisy machine hits both sides alike; medians, not
//! means, so one stall does not decide a figure.

use std::future::Future;
use std::time::{Duration, Instant};

/// Durations of repeated runs.
#[derive(Debug, Default, Clone)]
pub struct Samples(pub Vec<Duration>);

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    /// The median (the mean of the middle two for an even count).
    pub fn median(&self) -> Duration {
        let mut v = self.0.clone();
        v.sort();
        match v.len() {
            0 => Duration::ZERO,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2,
        }
    }
}

/// Time one future.
pub async fn time<T>(f: impl Future<Output = T>) -> (Duration, T) {
    let t = Instant::now();
    let out = f.await;
    (t.elapsed(), out)
}

/// Run `ours` and `base` alternately `rounds` times (after one unmeasured
/// warm-up of each); returns their samples.
pub async fn interleave<A, B, FA, FB>(rounds: usize, mut ours: A, mut base: B) -> (Samples, Samples)
where
    A: FnMut() -> FA,
    B: FnMut() -> FB,
    FA: Future<Output = ()>,
    FB: Future<Output = ()>,
{
    ours().await;
    base().await;
    let (mut a, mut b) = (Samples::default(), Samples::default());
    for i in 0..rounds {
        // Alternate which goes first, so neither always runs on a warmer
        // cache.
        if i % 2 == 0 {
            a.push(time(ours()).await.0);
            b.push(time(base()).await.0);
        } else {
            b.push(time(base()).await.0);
            a.push(time(ours()).await.0);
        }
    }
    (a, b)
}

/// This process's resident set size, bytes.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Milliseconds, for tables.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
