//! A run's model budget (calls, tokens, time) and the per-call record
//! that `run --json` reports.

use std::sync::Mutex;
use std::time::Duration;

use super::{Budget, Usage};
use crate::error::SandboxError;
use crate::policy::ModelPolicy;

/// One model call, as `run --json` reports it. Never holds prompt text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelCallStats {
    /// The alias the guest named.
    pub alias: String,
    /// The model the provider reported.
    pub model: String,
    /// Whether the answer was streamed.
    pub streamed: bool,
    /// `ok`, or the error code.
    pub outcome: String,
    /// HTTP attempts (1 plus retries).
    pub attempts: u32,
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Completion tokens.
    pub completion_tokens: u32,
    /// Whether the tokens are the host's estimate.
    pub estimated: bool,
    /// From the call to the end of the answer, ms.
    pub latency_ms: u64,
    /// From the call to the first delta (streamed calls), ms.
    pub first_delta_ms: Option<u64>,
}

/// Every model call of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ModelStats {
    /// Calls made.
    pub calls: u64,
    /// Prompt tokens in all.
    pub prompt_tokens: u64,
    /// Completion tokens in all.
    pub completion_tokens: u64,
    /// Time spent in model calls, ms.
    pub time_ms: u64,
    /// Each call.
    pub per_call: Vec<ModelCallStats>,
}

#[derive(Debug, Default)]
struct Used {
    requests: u64,
    tokens: u64,
    time: Duration,
    /// Time reserved by calls still under way: each may take until its
    /// deadline, so calls made at once cannot together pass the budget.
    reserved: Duration,
    calls: Vec<ModelCallStats>,
}

/// What a run has used; shared by its calls and streams.
#[derive(Debug, Default)]
pub(crate) struct BudgetState {
    used: Mutex<Used>,
}

impl BudgetState {
    fn used(&self) -> std::sync::MutexGuard<'_, Used> {
        self.used.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Take one call from the budget, or say which budget is spent. Returns
    /// the time the call may take (reserved until [`Self::finish_call`]:
    /// the call's timeout, or what is left of the run's time) and the
    /// tokens left.
    pub(crate) fn start_call(&self, limits: &ModelPolicy, op: &str) -> Result<(Duration, u64), SandboxError> {
        let mut used = self.used();
        if used.requests >= limits.max_requests {
            return Err(SandboxError::too_large(
                op,
                format!("this run has made its {} model calls (policy model.max-requests)", limits.max_requests),
            ));
        }
        if used.tokens >= limits.max_tokens {
            return Err(SandboxError::too_large(
                op,
                format!("this run has used its {} model tokens (policy model.max-tokens)", limits.max_tokens),
            ));
        }
        let time_left = limits.max_time.saturating_sub(used.time + used.reserved);
        if time_left.is_zero() {
            return Err(SandboxError::too_large(
                op,
                format!(
                    "this run has spent (or its calls under way hold) its {:?} of model time (policy model.max-time)",
                    limits.max_time
                ),
            ));
        }
        let reserve = limits.timeout.min(time_left);
        used.requests += 1;
        used.reserved += reserve;
        Ok((reserve, limits.max_tokens - used.tokens))
    }

    /// Record a finished (or failed) call, releasing the time it reserved.
    pub(crate) fn finish_call(&self, usage: Usage, elapsed: Duration, reserved: Duration, record: ModelCallStats) {
        let mut used = self.used();
        used.tokens += u64::from(usage.prompt_tokens) + u64::from(usage.completion_tokens);
        used.time += elapsed;
        used.reserved = used.reserved.saturating_sub(reserved);
        used.calls.push(record);
    }

    /// Tokens left, to size a request before it is counted.
    pub(crate) fn tokens_left(&self, limits: &ModelPolicy) -> u64 {
        limits.max_tokens.saturating_sub(self.used().tokens)
    }

    pub(crate) fn remaining(&self, limits: &ModelPolicy) -> Budget {
        let used = self.used();
        Budget {
            requests: limits.max_requests.saturating_sub(used.requests),
            tokens: limits.max_tokens.saturating_sub(used.tokens),
            time_ms: limits.max_time.saturating_sub(used.time + used.reserved).as_millis() as u64,
        }
    }

    pub(crate) fn stats(&self) -> ModelStats {
        let used = self.used();
        ModelStats {
            calls: used.calls.len() as u64,
            prompt_tokens: used.calls.iter().map(|c| u64::from(c.prompt_tokens)).sum(),
            completion_tokens: used.calls.iter().map(|c| u64::from(c.completion_tokens)).sum(),
            time_ms: used.time.as_millis() as u64,
            per_call: used.calls.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ModelCallStats {
        ModelCallStats {
            alias: "a".into(),
            model: String::new(),
            streamed: true,
            outcome: "ok".into(),
            attempts: 1,
            prompt_tokens: 0,
            completion_tokens: 0,
            estimated: false,
            latency_ms: 0,
            first_delta_ms: None,
        }
    }

    #[test]
    fn calls_under_way_hold_their_time() {
        let limits = ModelPolicy {
            max_time: Duration::from_secs(10),
            timeout: Duration::from_secs(4),
            ..ModelPolicy::default()
        };
        let b = BudgetState::default();
        let (first, _) = b.start_call(&limits, "m").unwrap();
        let (second, _) = b.start_call(&limits, "m").unwrap();
        let (third, _) = b.start_call(&limits, "m").unwrap();
        assert_eq!((first, second, third), (Duration::from_secs(4), Duration::from_secs(4), Duration::from_secs(2)));
        let e = b.start_call(&limits, "m").unwrap_err();
        assert!(e.message.contains("model.max-time"), "{e:?}");
        // A call that ends early gives back what it did not use.
        b.finish_call(Usage::default(), Duration::from_secs(1), first, record());
        let (fourth, _) = b.start_call(&limits, "m").unwrap();
        assert_eq!(fourth, Duration::from_secs(3));
    }
}
