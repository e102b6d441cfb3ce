//! `log`: guest log lines into the host's tracing, capped per run.

use super::SandboxCtxView;
use super::bindings::openshell::sandbox::log;

/// Longest message kept; longer ones are cut.
const MAX_MESSAGE: usize = 8 * 1024;

impl log::Host for SandboxCtxView<'_> {
    async fn log(&mut self, level: log::Level, message: String, fields: Vec<(String, String)>) -> wasmtime::Result<()> {
        let ctx = &mut *self.ctx;
        if ctx.log_lines >= ctx.policy.guest.log_lines {
            if ctx.log_dropped == 0 {
                tracing::warn!(target: "guest", component = %ctx.component, run = %ctx.run_id,
                    "guest log cap of {} lines reached; dropping further lines (policy guest.log-lines)", ctx.policy.guest.log_lines);
            }
            ctx.log_dropped += 1;
            return Ok(());
        }
        ctx.log_lines += 1;
        let mut message = message;
        if message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let fields: String = fields.iter().take(32).map(|(k, v)| format!(" {k}={v:?}")).collect();
        let (component, run) = (&ctx.component, &ctx.run_id);
        match level {
            log::Level::Trace => tracing::trace!(target: "guest", %component, %run, "{message}{fields}"),
            log::Level::Debug => tracing::debug!(target: "guest", %component, %run, "{message}{fields}"),
            log::Level::Info => tracing::info!(target: "guest", %component, %run, "{message}{fields}"),
            log::Level::Warn => tracing::warn!(target: "guest", %component, %run, "{message}{fields}"),
            log::Level::Error => tracing::error!(target: "guest", %component, %run, "{message}{fields}"),
        }
        Ok(())
    }
}
