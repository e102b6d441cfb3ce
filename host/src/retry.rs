//! Retrying and polling: one policy ([`Backoff`]) and one loop ([`retry`])
//! for every place that tries again, so that delays, attempt counts and
//! deadlines are stated once per caller and behave the same everywhere.
//!
//! The loop never sleeps past the deadline: when the next delay would end at
//! or after it, it gives up at once (saying so in [`GaveUp::reason`])
//! rather than wait for an attempt it may not make. Time is tokio's, so
//! tests can run it with paused time.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How attempts are spaced and when to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first failed attempt.
    pub initial: Duration,
    /// What each further delay is multiplied by (1 for a constant poll).
    pub factor: u32,
    /// The longest delay.
    pub max_delay: Duration,
    /// The most attempts, the first included; `None` for no limit.
    pub max_attempts: Option<u32>,
    /// No attempt starts at or after this instant; `None` for no deadline.
    pub deadline: Option<Instant>,
}

impl Backoff {
    /// Delays of `initial`, then times `factor` each time, up to `max_delay`;
    /// no limit on attempts or time until [`attempts`](Self::attempts) or a
    /// deadline is set.
    pub const fn exponential(initial: Duration, factor: u32, max_delay: Duration) -> Self {
        Backoff { initial, factor, max_delay, max_attempts: None, deadline: None }
    }

    /// The same delay between all attempts: polling.
    pub const fn constant(delay: Duration) -> Self {
        Self::exponential(delay, 1, delay)
    }

    /// At most `n` attempts, the first included.
    pub const fn attempts(mut self, n: u32) -> Self {
        self.max_attempts = Some(n);
        self
    }

    /// No attempt starts at or after `at`.
    pub fn until(mut self, at: Instant) -> Self {
        self.deadline = Some(at);
        self
    }

    /// No attempt starts `budget` or more after now.
    pub fn within(self, budget: Duration) -> Self {
        self.until(Instant::now() + budget)
    }

    /// The delay after failed attempt number `attempt` (1 for the first).
    pub fn delay(&self, attempt: u32) -> Duration {
        let mut d = self.initial;
        for _ in 1..attempt {
            if d >= self.max_delay || self.factor <= 1 {
                break;
            }
            d = d.saturating_mul(self.factor);
        }
        d.min(self.max_delay)
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The failure is final.
    Stop,
    /// Try again after the policy's delay.
    Retry,
    /// Try again after this delay instead (a server's `Retry-After`); still
    /// subject to the attempt limit and the deadline.
    RetryAfter(Duration),
}

/// Why [`retry`] stopped without a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The verdict on the error was [`Verdict::Stop`].
    NotRetryable,
    /// The attempt limit was reached.
    Attempts,
    /// Waiting `wait` for the next attempt would have reached the deadline.
    Deadline {
        /// The delay that did not fit.
        wait: Duration,
    },
}

/// The last error of a [`retry`] that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaveUp<E> {
    /// The last attempt's error.
    pub error: E,
    /// How many attempts were made.
    pub attempts: u32,
    /// Why no further attempt was made.
    pub reason: Reason,
}

/// The verdict for a sandbox error: retry what says it is retryable.
pub fn if_retryable(e: &crate::error::SandboxError) -> Verdict {
    if e.retryable { Verdict::Retry } else { Verdict::Stop }
}

/// Call `attempt` (with the attempt's number, from 1) until it succeeds,
/// `judge` calls its error final, or `policy` runs out.
pub async fn retry<T, E, F, Fut>(policy: &Backoff, attempt: F, judge: impl FnMut(&E) -> Verdict) -> Result<T, GaveUp<E>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    retry_notify(policy, attempt, judge, |_, _, _| {}).await
}

/// [`retry`], calling `before_retry(error, attempt, wait)` just before each
/// wait (to log what is retried, and when).
pub async fn retry_notify<T, E, F, Fut>(
    policy: &Backoff,
    mut attempt: F,
    mut judge: impl FnMut(&E) -> Verdict,
    mut before_retry: impl FnMut(&E, u32, Duration),
) -> Result<T, GaveUp<E>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut n = 1u32;
    loop {
        let error = match attempt(n).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let wait = match judge(&error) {
            Verdict::Stop => return Err(GaveUp { error, attempts: n, reason: Reason::NotRetryable }),
            Verdict::Retry => policy.delay(n),
            Verdict::RetryAfter(wait) => wait,
        };
        if policy.max_attempts.is_some_and(|max| n >= max) {
            return Err(GaveUp { error, attempts: n, reason: Reason::Attempts });
        }
        if policy.deadline.is_some_and(|at| Instant::now() + wait >= at) {
            return Err(GaveUp { error, attempts: n, reason: Reason::Deadline { wait } });
        }
        before_retry(&error, n, wait);
        tokio::time::sleep(wait).await;
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Runs `retry` over `outcomes` (one per attempt; `Err` past the end) and
    /// records when each attempt started, relative to the first.
    async fn run(policy: Backoff, outcomes: &[Result<u32, bool>]) -> (Result<u32, GaveUp<bool>>, Vec<Duration>) {
        let start = Instant::now();
        let times = RefCell::new(Vec::new());
        let result = retry(
            &policy,
            |n| {
                times.borrow_mut().push(start.elapsed());
                let out = outcomes.get(n as usize - 1).copied().unwrap_or(Err(true));
                async move { out }
            },
            |retryable: &bool| if *retryable { Verdict::Retry } else { Verdict::Stop },
        )
        .await;
        (result, times.into_inner())
    }

    #[test]
    fn delays_grow_by_the_factor_up_to_the_cap() {
        let b = Backoff::exponential(100 * MS, 2, 2000 * MS);
        let delays: Vec<u64> = (1..=7).map(|n| b.delay(n).as_millis() as u64).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(b.delay(u32::MAX), 2000 * MS, "no overflow however many attempts");
        assert_eq!(Backoff::constant(500 * MS).delay(9), 500 * MS);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_until_success_with_the_policy_delays() {
        let policy = Backoff::exponential(200 * MS, 2, 800 * MS);
        let (r, times) = run(policy, &[Err(true), Err(true), Ok(7)]).await;
        assert_eq!(r, Ok(7));
        assert_eq!(times, [Duration::ZERO, 200 * MS, 600 * MS]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_final_error_stops_at_once() {
        let policy = Backoff::constant(MS).attempts(5);
        let (r, times) = run(policy, &[Err(true), Err(false), Ok(1)]).await;
        assert_eq!(r, Err(GaveUp { error: false, attempts: 2, reason: Reason::NotRetryable }));
        assert_eq!(times.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_attempt_limit_counts_the_first_attempt_and_does_not_wait_after_the_last() {
        let started = Instant::now();
        let (r, times) = run(Backoff::exponential(200 * MS, 2, 800 * MS).attempts(3), &[]).await;
        assert_eq!(r, Err(GaveUp { error: true, attempts: 3, reason: Reason::Attempts }));
        assert_eq!(times, [Duration::ZERO, 200 * MS, 600 * MS]);
        assert_eq!(started.elapsed(), 600 * MS);
    }

    #[tokio::test(start_paused = true)]
    async fn no_attempt_starts_at_or_after_the_deadline_and_no_wait_passes_it() {
        let started = Instant::now();
        let policy = Backoff::exponential(100 * MS, 2, 2000 * MS).within(1000 * MS);
        let (r, times) = run(policy, &[]).await;
        // 0, 100, 300, 700; the next would start at 1500.
        assert_eq!(times, [Duration::ZERO, 100 * MS, 300 * MS, 700 * MS]);
        assert_eq!(r, Err(GaveUp { error: true, attempts: 4, reason: Reason::Deadline { wait: 800 * MS } }));
        assert_eq!(started.elapsed(), 700 * MS, "gave up without sleeping towards the deadline");
        // An attempt that would start exactly at the deadline is not made.
        let (_, times) = run(Backoff::constant(500 * MS).within(1000 * MS), &[]).await;
        assert_eq!(times, [Duration::ZERO, 500 * MS]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_delay_replaces_the_policy_delay_but_not_the_limits() {
        let start = Instant::now();
        let times = RefCell::new(Vec::new());
        let notes = RefCell::new(Vec::new());
        let r: Result<(), GaveUp<u32>> = retry_notify(
            &Backoff::constant(MS).attempts(3).within(10_000 * MS),
            |n| {
                times.borrow_mut().push(start.elapsed());
                async move { Err(n) }
            },
            |&n| if n == 1 { Verdict::RetryAfter(3000 * MS) } else { Verdict::RetryAfter(9000 * MS) },
            |&e, n, wait| notes.borrow_mut().push((e, n, wait)),
        )
        .await;
        assert_eq!(times.into_inner(), [Duration::ZERO, 3000 * MS]);
        assert_eq!(notes.into_inner(), [(1, 1, 3000 * MS)], "told only of waits that happen");
        assert_eq!(r, Err(GaveUp { error: 2, attempts: 2, reason: Reason::Deadline { wait: 9000 * MS } }));
    }
}
