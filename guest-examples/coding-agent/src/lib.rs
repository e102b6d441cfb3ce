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

/// The JSON form of the input. Absent members take the defaults; a `null`
/// is an error, except for `task`, whose own check says what is wrong.
#[derive(Deserialize)]
struct JsonInput {
    task: Option<String>,
    #[serde(default)]
    model: String,
    #[serde(default = "default_max_steps")]
    max_steps: u32,
    #[serde(default)]
    stream: bool,
}

fn default_max_steps() -> u32 {
    DEFAULT_MAX_STEPS
}

impl Task {
    /// Plain text is the task; text starting with `{` must be a JSON object
    /// with at least `task` (a task that happens to start with `{` would be
    /// ambiguous, so it is JSON or an error).
    fn parse(input: &str) -> Result<Task, String> {
        if !input.trim_start().starts_with('{') {
            let task = input.trim();
            if task.is_empty() {
                return Err("input: no task given".into());
            }
            return Ok(Task { task: task.into(), model: String::new(), max_steps: DEFAULT_MAX_STEPS, stream: false });
        }
        let json: JsonInput = serde_json::from_str(input).map_err(|e| format!("input: {e}"))?;
        let task = json.task.filter(|t| !t.trim().is_empty());
        Ok(Task {
            task: task.ok_or("input: \"task\" must be a non-empty string")?,
            model: json.model,
            max_steps: json.max_steps,
            stream: json.stream,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_the_task() {
        assert_eq!(
            Task::parse(" make the failing test pass\n"),
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
            Task::parse(r#"{"task":"t"}"#),
            Ok(Task { task: "t".into(), model: String::new(), max_steps: 30, stream: false })
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(Task::parse("{not json").unwrap_err().starts_with("input: "));
        for bad in [r#"{"task":"t","max_steps":-1}"#, r#"{"task":"t","model":null}"#, r#"{"task":"t","stream":1}"#] {
            assert!(Task::parse(bad).unwrap_err().starts_with("input: "), "{bad}");
        }
        let no_task = Err("input: \"task\" must be a non-empty string".into());
        assert_eq!(Task::parse(r#"{"model":"coder"}"#), no_task);
        assert_eq!(Task::parse(r#"{"task":" "}"#), no_task);
        assert_eq!(Task::parse("  \n"), Err("input: no task given".into()));
    }
}
