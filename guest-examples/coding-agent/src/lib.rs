//! A coding agent: given a task, it asks a model (through the host's
//! `model` interface) what to do, runs the tools the model calls in its
//! sandbox (`run_command`, `read_file`, `write_file`, `list_dir`,
//! `edit_file`, `finish`), and returns a JSON report of how it went.
//!
//! It behaves exactly as the Python coding agent does; both follow the same
//! contract for input, tools, result texts and report (see the README).
//!
//! - `lib.rs`: the `run` export and its input;
//! - `agent_loop`: the loop, over an environment trait so tests can script it;
//! - `tools`: tool schemas, argument checks, execution and result texts;
//! - `report`: the report;
//! - `host`: the environment a real run uses (sandbox and model).

mod agent_loop;
mod host;
mod report;
mod tools;

use openshell_sandbox_guest::{Guest, Model, Sandbox, export};
use serde::Deserialize;

use host::Host;
use report::{Stopped, Tally};

/// Model calls a run may make when the input does not say. Enough for a
/// small fix (look, read, edit, test, finish) with room for retries; the
/// host's model budget bounds it as well.
const DEFAULT_MAX_STEPS: u32 = 30;

struct Agent;

impl Guest for Agent {
    fn run(input: String) -> Result<String, String> {
        let task = Task::parse(&input)?;
        let sandbox = Sandbox::current();
        // The workdir only goes into the system prompt, but a sandbox that
        // cannot describe itself will not run tools either: report it.
        let workdir = match sandbox.info() {
            Ok(info) => info.workdir,
            Err(e) => return Ok(Tally::default().end(Stopped::Error, e.to_string()).to_json()),
        };
        let mut host = Host { sandbox, model: Model::new(task.model), stream: task.stream };
        Ok(agent_loop::run(&mut host, &task.task, &workdir, task.max_steps).to_json())
    }
}

export!(Agent);

/// What to do, from `run`'s input.
#[derive(Debug, PartialEq, Eq)]
struct Task {
    task: String,
    /// The policy's model alias; `""` is the policy default.
    model: String,
    max_steps: u32,
    /// Use streamed model calls.
    stream: bool,
}

/// The JSON form of the input. Absent and `null` members take the defaults.
#[derive(Deserialize)]
struct JsonInput {
    task: Option<String>,
    model: Option<String>,
    max_steps: Option<u32>,
    stream: Option<bool>,
}

impl Task {
    /// Plain text is the task; text starting with `{` must be a JSON object
    /// with at least `task` (a task that happens to start with `{` would be
    /// ambiguous, so it is JSON or an error).
    fn parse(input: &str) -> Result<Task, String> {
        let task = if input.trim_start().starts_with('{') {
            let json: JsonInput = serde_json::from_str(input).map_err(|e| format!("input: {e}"))?;
            Task {
                task: json.task.ok_or("input: missing \"task\"")?,
                model: json.model.unwrap_or_default(),
                max_steps: json.max_steps.unwrap_or(DEFAULT_MAX_STEPS),
                stream: json.stream.unwrap_or(false),
            }
        } else {
            Task { task: input.to_string(), model: String::new(), max_steps: DEFAULT_MAX_STEPS, stream: false }
        };
        if task.task.trim().is_empty() {
            return Err("input: the task is empty".into());
        }
        Ok(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_the_task() {
        assert_eq!(
            Task::parse("make the failing test pass"),
            Ok(Task { task: "make the failing test pass".into(), model: String::new(), max_steps: 30, stream: false })
        );
    }

    #[test]
    fn json_sets_options() {
        assert_eq!(
            Task::parse(r#" {"task":"t","model":"coder","max_steps":5,"stream":true}"#),
            Ok(Task { task: "t".into(), model: "coder".into(), max_steps: 5, stream: true })
        );
        assert_eq!(
            Task::parse(r#"{"task":"t","model":null}"#),
            Ok(Task { task: "t".into(), model: String::new(), max_steps: 30, stream: false })
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(Task::parse("{not json").unwrap_err().starts_with("input: "));
        assert!(Task::parse(r#"{"task":"t","max_steps":-1}"#).unwrap_err().starts_with("input: "));
        assert_eq!(Task::parse(r#"{"model":"coder"}"#), Err("input: missing \"task\"".into()));
        assert_eq!(Task::parse("  \n"), Err("input: the task is empty".into()));
    }
}
