//! One model call: budget, request, retries on 429/5xx (honouring
//! `Retry-After`) within the call's deadline, and the answer whole or
//! streamed.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use secrecy::SecretString;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::budget::{BudgetState, ModelCallStats};
use super::openai::{self, Assembler};
use super::sse::SseParser;
use super::{ChatRequest, Completion, Delta, Usage};
use crate::egress::{Connector, EgressError, Target, apply_credentials, redact};
use crate::error::SandboxError;
use crate::policy::{ModelAlias, ModelPolicy, url_host};
use crate::retry::{Backoff, Reason, Verdict, retry_notify};

/// Why a call ended at its deadline.
const DEADLINE_PASSED: &str = "the answer did not finish before the call's deadline (policy model.timeout)";

/// What one call needs from the run.
#[derive(Debug)]
pub(crate) struct CallCtx {
    pub alias: ModelAlias,
    pub limits: ModelPolicy,
    pub connector: Arc<Connector>,
    pub budget: Arc<BudgetState>,
}

/// A call under way: its deadline, attempts and what it will record.
struct Started {
    ctx: CallCtx,
    op: &'static str,
    body: Vec<u8>,
    started: Instant,
    deadline: Instant,
    /// Time reserved in the run's budget, released when the call ends.
    reserved: Duration,
    streamed: bool,
}

impl Started {
    fn begin(ctx: CallCtx, req: &ChatRequest, op: &'static str, streamed: bool) -> Result<Started, SandboxError> {
        // The body first: a malformed request costs no call.
        let tokens_left = ctx.budget.tokens_left(&ctx.limits);
        let max_tokens = req.max_tokens.map(|n| n.min(u32::try_from(tokens_left).unwrap_or(u32::MAX)));
        let body = openai::request_body(req, &ctx.alias.model, max_tokens, streamed)
            .map_err(|m| SandboxError::invalid(op, m))?;
        let (reserved, _) = ctx.budget.start_call(&ctx.limits, op)?;
        let started = Instant::now();
        Ok(Started { ctx, op, body, started, deadline: started + reserved, reserved, streamed })
    }

    /// Record the call in the budget and stats, successful or not.
    fn record(&self, outcome: Result<&Completion, &SandboxError>, attempts: u32, first_delta: Option<Duration>) {
        let elapsed = self.started.elapsed();
        let (usage, model, outcome) = match outcome {
            Ok(c) => (c.usage, c.model.clone(), "ok".to_string()),
            Err(e) => (Usage::default(), String::new(), e.code.as_str().to_string()),
        };
        tracing::info!(target: "model", alias = %self.ctx.alias.name, %model, streamed = self.streamed, %outcome,
            attempts, prompt_tokens = usage.prompt_tokens, completion_tokens = usage.completion_tokens,
            estimated = usage.estimated, latency_ms = elapsed.as_millis() as u64, "model call");
        let record = ModelCallStats {
            alias: self.ctx.alias.name.clone(),
            model,
            streamed: self.streamed,
            outcome,
            attempts,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            estimated: usage.estimated,
            latency_ms: elapsed.as_millis() as u64,
            first_delta_ms: first_delta.map(|d| d.as_millis() as u64),
        };
        self.ctx.budget.finish_call(usage, elapsed, self.reserved, record);
    }

    fn usage(&self, completion: &mut Completion, reported: bool) {
        if !reported {
            completion.usage = openai::estimate(self.body.len(), completion);
            tracing::debug!(target: "model", alias = %self.ctx.alias.name, "the provider reported no usage; estimated it");
        }
    }

    /// Send until a 2xx answer arrives, retrying what may pass.
    async fn send(&self) -> Result<(http::Response<Incoming>, Vec<SecretString>, u32), (SandboxError, u32)> {
        let a = &self.ctx.alias;
        let target = Target {
            scheme: a.scheme,
            host: a.host.clone(),
            port: a.port,
            // The operator wrote this URL (the guest only names the alias):
            // a local server on loopback or a private network is allowed.
            internal_allowed: None,
            ca: a.ca.clone(),
            connect_timeout: None,
        };
        let policy = BACKOFF.attempts(self.ctx.limits.retries.saturating_add(1)).until(self.deadline);
        let sent = retry_notify(
            &policy,
            |attempt| self.attempt(&target, attempt),
            |f: &Failed| f.verdict,
            |f, attempt, wait| {
                tracing::info!(target: "model", alias = %a.name, attempt, wait_ms = wait.as_millis() as u64, "retrying model call: {}", f.error.message);
            },
        )
        .await;
        sent.map_err(|g| {
            let error = match g.reason {
                Reason::NotRetryable => g.error.error,
                // A broken connection's own error says enough.
                Reason::Attempts if !g.error.http => g.error.error,
                Reason::Attempts => SandboxError::unavailable(
                    self.op,
                    format!("{} (gave up after {} attempts)", g.error.error.message, g.attempts),
                ),
                Reason::Deadline { wait } => SandboxError::unavailable(
                    self.op,
                    format!(
                        "{}; retrying in {wait:?} would pass the call's deadline (policy model.timeout)",
                        g.error.error.message
                    ),
                ),
            };
            (error, g.attempts)
        })
    }

    /// One attempt: a 2xx answer (with the credentials' secrets and the
    /// attempt's number), or why not and whether another may pass.
    async fn attempt(
        &self,
        target: &Target,
        attempt: u32,
    ) -> Result<(http::Response<Incoming>, Vec<SecretString>, u32), Failed> {
        let a = &self.ctx.alias;
        let (mut parts, ()) = http::Request::post(format!("{}/chat/completions", a.path))
            .header(http::header::HOST, authority(a))
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, if self.streamed { "text/event-stream" } else { "application/json" })
            .header(http::header::USER_AGENT, concat!("openshell-wasm/", env!("CARGO_PKG_VERSION")))
            .body(())
            .map_err(|e| Failed::last(SandboxError::invalid(self.op, e.to_string())))?
            .into_parts();
        let secrets = apply_credentials(&mut parts, &a.credentials).map_err(|e| Failed::last(e.to_sandbox(self.op)))?;
        let request = http::Request::from_parts(parts, Full::new(Bytes::from(self.body.clone())));
        match self.ctx.connector.send(target, request, self.deadline, self.deadline).await {
            Ok(response) if response.status().is_success() => Ok((response, secrets, attempt)),
            Ok(response) => {
                let status = response.status();
                let retry_after = retry_after(&response);
                let body = read_capped(response.into_body(), 64 << 10, self.deadline).await.unwrap_or_default();
                let message = openai::shorten(&redact(&openai::error_message(&body), &secrets), 1000);
                let retryable = status.as_u16() == 429 || status.is_server_error();
                let error = SandboxError::backend(
                    self.op,
                    &format!("http-{}", status.as_u16()),
                    format!("{} answered {status}: {message}", a.base_url()),
                );
                let verdict = match (retryable, retry_after) {
                    (false, _) => Verdict::Stop,
                    (true, Some(wait)) => Verdict::RetryAfter(wait),
                    (true, None) => Verdict::Retry,
                };
                Err(Failed { error, verdict, http: true })
            }
            Err(e) => {
                let verdict = if e.transient() { Verdict::Retry } else { Verdict::Stop };
                Err(Failed { error: e.to_sandbox(self.op), verdict, http: false })
            }
        }
    }
}

/// Between attempts: 0.5 s, 1 s, 2 s, ... up to 8 s, unless the server
/// says `Retry-After`.
const BACKOFF: Backoff = Backoff::exponential(Duration::from_millis(500), 2, Duration::from_secs(8));

/// A failed attempt.
struct Failed {
    error: SandboxError,
    verdict: Verdict,
    /// The server answered (with a status that is not 2xx), as opposed to
    /// a connection that failed.
    http: bool,
}

impl Failed {
    /// A failure no retry can mend.
    fn last(error: SandboxError) -> Self {
        Failed { error, verdict: Verdict::Stop, http: false }
    }
}

fn authority(a: &ModelAlias) -> String {
    let host = url_host(&a.host);
    if a.port == a.scheme.default_port() { host.into_owned() } else { format!("{host}:{}", a.port) }
}

/// `Retry-After` in seconds (the HTTP-date form is rare from model APIs and
/// is treated as absent).
fn retry_after(response: &http::Response<Incoming>) -> Option<Duration> {
    let v = response.headers().get(http::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = v.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

/// Read a whole body, at most `cap` bytes, before `deadline`.
async fn read_capped(mut body: Incoming, cap: u64, deadline: Instant) -> Result<Vec<u8>, EgressError> {
    let mut out = Vec::new();
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => {
                return Err(EgressError::Timeout(DEADLINE_PASSED.into()));
            }
            Ok(None) => return Ok(out),
            Ok(Some(Err(_))) if Instant::now() >= deadline => {
                return Err(EgressError::Timeout(DEADLINE_PASSED.into()));
            }
            Ok(Some(Err(e))) => return Err(EgressError::Protocol(format!("the answer broke off: {e}"))),
            Ok(Some(Ok(f))) => f,
        };
        if let Some(data) = frame.data_ref() {
            if out.len() as u64 + data.len() as u64 > cap {
                return Err(EgressError::ResponseTooLarge { limit: cap, key: "model.max-response" });
            }
            out.extend_from_slice(data);
        }
    }
}

/// Send and wait for the whole answer.
pub(crate) async fn complete(ctx: CallCtx, req: ChatRequest, op: &'static str) -> Result<Completion, SandboxError> {
    let call = Started::begin(ctx, &req, op, false)?;
    let result = async {
        let (response, secrets, attempts) = call.send().await?;
        let body = read_capped(response.into_body(), call.ctx.limits.max_response_bytes, call.deadline)
            .await
            .map_err(|e| (e.to_sandbox(op), attempts))?;
        let (mut completion, reported) = openai::parse_completion(&body).map_err(|m| {
            (
                SandboxError::backend(
                    op,
                    "bad-answer",
                    redact(&format!("{}: {m}", call.ctx.alias.base_url()), &secrets),
                ),
                attempts,
            )
        })?;
        call.usage(&mut completion, reported);
        Ok((completion, attempts))
    }
    .await;
    match result {
        Ok((completion, attempts)) => {
            call.record(Ok(&completion), attempts, None);
            Ok(completion)
        }
        Err((e, attempts)) => {
            call.record(Err(&e), attempts, None);
            Err(e)
        }
    }
}

/// A streamed answer: deltas arrive through a channel from the task that
/// reads the response. Dropping it ends that task (which still records the
/// call) and the connection.
#[derive(Debug)]
pub struct CompletionStream {
    rx: mpsc::Receiver<Result<Delta, SandboxError>>,
    deadline: Instant,
    op: &'static str,
    finished: bool,
}

impl CompletionStream {
    /// The next delta; `None` after `done`.
    pub async fn next(&mut self) -> Result<Option<Delta>, SandboxError> {
        if self.finished {
            return Ok(None);
        }
        let item = match tokio::time::timeout_at(self.deadline + Duration::from_millis(100), self.rx.recv()).await {
            Ok(Some(item)) => item,
            Ok(None) => Err(SandboxError::unavailable(self.op, "the answer ended without its final message")),
            Err(_) => Err(SandboxError::timeout(self.op, DEADLINE_PASSED)),
        };
        if matches!(item, Ok(Delta::Done(_)) | Err(_)) {
            self.finished = true;
        }
        item.map(Some)
    }
}

/// Send; the answer streams from a task.
pub(crate) async fn stream(ctx: CallCtx, req: ChatRequest, op: &'static str) -> Result<CompletionStream, SandboxError> {
    let call = Started::begin(ctx, &req, op, true)?;
    let (response, secrets, attempts) = match call.send().await {
        Ok(r) => r,
        Err((e, attempts)) => {
            call.record(Err(&e), attempts, None);
            return Err(e);
        }
    };
    let (tx, rx) = mpsc::channel(64);
    let deadline = call.deadline;
    tokio::spawn(async move {
        let mut first_delta = None;
        let result = pump(&call, response.into_body(), &tx, &mut first_delta).await;
        let result = result.map_err(|e| {
            let mut e = e;
            e.message = openai::shorten(&redact(&e.message, &secrets), 1000);
            e
        });
        match result {
            Ok(completion) => {
                call.record(Ok(&completion), attempts, first_delta);
                let _ = tx.send(Ok(Delta::Done(completion))).await;
            }
            Err(e) => {
                call.record(Err(&e), attempts, first_delta);
                let _ = tx.send(Err(e)).await;
            }
        }
    });
    Ok(CompletionStream { rx, deadline, op, finished: false })
}

/// Read events, forward deltas, and assemble the answer.
async fn pump(
    call: &Started,
    mut body: Incoming,
    tx: &mpsc::Sender<Result<Delta, SandboxError>>,
    first_delta: &mut Option<Duration>,
) -> Result<Completion, SandboxError> {
    let op = call.op;
    let mut parser = SseParser::default();
    let mut assembler = Assembler::default();
    let mut received = 0u64;
    let mut done = false;
    while !done {
        let next = tokio::select! {
            () = tx.closed() => return Err(SandboxError::unavailable(op, "the stream was dropped")),
            next = tokio::time::timeout_at(call.deadline, body.frame()) => next,
        };
        let frame = match next {
            Err(_) => {
                return Err(SandboxError::timeout(op, DEADLINE_PASSED));
            }
            Ok(None) => break,
            // The connection is closed at the deadline too; say which.
            Ok(Some(Err(_))) if Instant::now() >= call.deadline => {
                return Err(SandboxError::timeout(op, DEADLINE_PASSED));
            }
            Ok(Some(Err(e))) => return Err(SandboxError::unavailable(op, format!("the answer broke off: {e}"))),
            Ok(Some(Ok(f))) => f,
        };
        let Some(data) = frame.data_ref() else { continue };
        received += data.len() as u64;
        if received > call.ctx.limits.max_response_bytes {
            let e =
                EgressError::ResponseTooLarge { limit: call.ctx.limits.max_response_bytes, key: "model.max-response" };
            return Err(e.to_sandbox(op));
        }
        let events = parser.feed(data).map_err(|m| SandboxError::backend(op, "bad-answer", m))?;
        done = forward(&mut assembler, events, tx, first_delta, call.started, op).await?;
    }
    if !done {
        let rest = parser.finish().map_err(|m| SandboxError::backend(op, "bad-answer", m))?;
        forward(&mut assembler, rest.into_iter().collect(), tx, first_delta, call.started, op).await?;
    }
    let (mut completion, reported) = assembler.finish();
    call.usage(&mut completion, reported);
    Ok(completion)
}

/// Turn events into deltas for the guest; true at `[DONE]`.
async fn forward(
    assembler: &mut Assembler,
    events: Vec<String>,
    tx: &mpsc::Sender<Result<Delta, SandboxError>>,
    first_delta: &mut Option<Duration>,
    started: Instant,
    op: &str,
) -> Result<bool, SandboxError> {
    for event in events {
        if event.trim() == "[DONE]" {
            return Ok(true);
        }
        let deltas = assembler.chunk(&event).map_err(|m| SandboxError::backend(op, "bad-answer", m))?;
        for d in deltas {
            first_delta.get_or_insert_with(|| started.elapsed());
            if tx.send(Ok(d)).await.is_err() {
                // The guest dropped the stream.
                return Err(SandboxError::unavailable(op, "the stream was dropped"));
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stops() {
        assert_eq!(BACKOFF.delay(1), Duration::from_millis(500));
        assert_eq!(BACKOFF.delay(2), Duration::from_secs(1));
        assert_eq!(BACKOFF.delay(10), Duration::from_secs(8));
    }
}
