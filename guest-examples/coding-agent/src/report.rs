//! The report `run` returns: how the run ended and what it did.
//!
//! The keys and their order are part of the coding-agent contract (the
//! Python agent returns the same object), so they come from struct fields,
//! which serde writes in declaration order.

use std::collections::{BTreeMap, BTreeSet};

use openshell_sandbox_guest::Completion;
use serde::Serialize;

/// Why the loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Stopped {
    /// The model called `finish`.
    Finish,
    /// The model answered without calling a tool.
    Answer,
    /// `max_steps` model calls ended in neither.
    StepLimit,
    /// A model call was refused: the run's model budget is spent.
    Budget,
    /// Another error, from the model or the sandbox.
    Error,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub ok: bool,
    pub stopped: Stopped,
    pub summary: String,
    #[serde(flatten)]
    pub tally: Tally,
}

impl Report {
    /// The report as JSON text.
    pub(crate) fn to_json(&self) -> String {
        // Strings, integers, booleans and maps with string keys: nothing here
        // can fail to serialize.
        serde_json::to_string(self).expect("report serializes")
    }
}

/// What the run did, counted as it goes.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Tally {
    /// Model calls that returned an answer.
    pub steps: u32,
    /// Tool calls handled, `finish` and failed ones included.
    pub tool_calls: u32,
    /// Tool calls by the name the model used (sorted, as the contract wants).
    pub tools: BTreeMap<String, u32>,
    /// Paths written or edited, as the model gave them.
    pub files_changed: BTreeSet<String>,
    pub usage: UsageTotal,
    /// The model the provider said answered last.
    pub model: String,
}

/// Tokens used over the whole run.
#[derive(Debug, Default, Serialize)]
pub(crate) struct UsageTotal {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// True if the host had to estimate any call's usage.
    pub estimated: bool,
}

impl Tally {
    /// Count one answer from the model.
    pub(crate) fn completion(&mut self, completion: &Completion) {
        self.steps += 1;
        self.usage.prompt_tokens += u64::from(completion.usage.prompt_tokens);
        self.usage.completion_tokens += u64::from(completion.usage.completion_tokens);
        self.usage.estimated |= completion.usage.estimated;
        self.model.clone_from(&completion.model);
    }

    /// Count one tool call.
    pub(crate) fn tool_call(&mut self, name: &str) {
        self.tool_calls += 1;
        *self.tools.entry(name.to_string()).or_default() += 1;
    }

    /// Note a file the run changed.
    pub(crate) fn changed(&mut self, path: &str) {
        self.files_changed.insert(path.to_string());
    }

    /// The report of a run that stopped for `stopped`.
    pub(crate) fn end(self, stopped: Stopped, summary: impl Into<String>) -> Report {
        let ok = matches!(stopped, Stopped::Finish | Stopped::Answer);
        Report { ok, stopped, summary: summary.into(), tally: self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openshell_sandbox_guest::{FinishReason, Message, Usage};

    fn completion(prompt: u32, completion: u32, estimated: bool, model: &str) -> Completion {
        Completion {
            message: Message::assistant("hi"),
            finish_reason: FinishReason::Stop,
            usage: Usage { prompt_tokens: prompt, completion_tokens: completion, estimated },
            model: model.into(),
        }
    }

    #[test]
    fn empty_report_has_every_key_in_order() {
        let json = Tally::default().end(Stopped::StepLimit, "").to_json();
        assert_eq!(
            json,
            r#"{"ok":false,"stopped":"step-limit","summary":"","steps":0,"tool_calls":0,"tools":{},"files_changed":[],"usage":{"prompt_tokens":0,"completion_tokens":0,"estimated":false},"model":""}"#
        );
    }

    #[test]
    fn counts_sorts_and_deduplicates() {
        let mut tally = Tally::default();
        tally.completion(&completion(10, 2, false, "m1"));
        tally.completion(&completion(20, 3, true, "m2"));
        for name in ["run_command", "edit_file", "run_command", "finish"] {
            tally.tool_call(name);
        }
        tally.changed("b.py");
        tally.changed("a.py");
        tally.changed("b.py");
        let json = tally.end(Stopped::Finish, "done it").to_json();
        assert_eq!(
            json,
            r#"{"ok":true,"stopped":"finish","summary":"done it","steps":2,"tool_calls":4,"tools":{"edit_file":1,"finish":1,"run_command":2},"files_changed":["a.py","b.py"],"usage":{"prompt_tokens":30,"completion_tokens":5,"estimated":true},"model":"m2"}"#
        );
    }

    #[test]
    fn only_finish_and_answer_are_ok() {
        for (stopped, ok) in [
            (Stopped::Finish, true),
            (Stopped::Answer, true),
            (Stopped::StepLimit, false),
            (Stopped::Budget, false),
            (Stopped::Error, false),
        ] {
            assert_eq!(Tally::default().end(stopped, "").ok, ok);
        }
    }
}
