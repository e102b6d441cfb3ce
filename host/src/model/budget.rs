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
    /// the time left for the call in the run's time budget and the tokens
    /// left.
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
        if used.time >= limits.max_time {
            return Err(SandboxError::too_large(
                op,
                format!("this run has spent its {:?} waiting for models (policy model.max-time)", limits.max_time),
            ));
        }
        used.requests += 1;
        Ok((limits.max_time - used.time, limits.max_tokens - used.tokens))
    }

    /// Record a finished (or failed) call.
    pub(crate) fn finish_call(&self, usage: Usage, elapsed: Duration, record: ModelCallStats) {
        let mut used = self.used();
        used.tokens += u64::from(usage.prompt_tokens) + u64::from(usage.completion_tokens);
        used.time += elapsed;
        used.calls.push(record);
    }

    pub(crate) fn remaining(&self, limits: &ModelPolicy) -> Budget {
        let used = self.used();
        Budget {
            requests: limits.max_requests.saturating_sub(used.requests),
            tokens: limits.max_tokens.saturating_sub(used.tokens),
            time_ms: limits.max_time.saturating_sub(used.time).as_millis() as u64,
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
