//! The agent loop: ask the model, run the tools it calls, give it the
//! results, until it calls `finish`, answers without tools, or runs out of
//! steps or budget.

use openshell_sandbox_guest::{ChatRequest, Completion, ErrorCode, Message, Result, ToolCall};

use crate::report::{Report, Stopped, Tally};
use crate::tools::{self, ToolRequest, Workspace};

/// What the loop needs from outside: a model, a workspace for the tools, and
/// the host's log. `Host` is the real one; the tests script
/// one, so the loop runs without a host.
pub(crate) trait Env: Workspace {
    /// One model call.
    fn complete(&mut self, request: &ChatRequest) -> Result<Completion>;
    /// One line for the host's log.
    fn log(&mut self, line: &str);
}

/// Work on `task` for at most `max_steps` model calls.
pub(crate) fn run<E: Env>(env: &mut E, task: &str, workdir: &str, max_steps: u32) -> Report {
    let mut request = ChatRequest::new()
        .tools(tools::definitions())
        .message(Message::system(system_prompt(workdir)))
        .message(Message::user(task));
    let mut tally = Tally::default();

    while tally.steps < max_steps {
        let completion = match env.complete(&request) {
            Ok(completion) => completion,
            // The host names the spent budget's policy key in the message,
            // which is all the caller needs.
            Err(e) if matches!(e.code(), ErrorCode::TooLarge) => return tally.end(Stopped::Budget, e.0.message),
            Err(e) => return tally.end(Stopped::Error, e.to_string()),
        };
        tally.completion(&completion);
        let calls = completion.tool_calls().to_vec();
        // Tool names only: the prompt and the answers may hold what the
        // caller would not want in the host's logs.
        env.log(&format!("step {}: {}", tally.steps, tool_names(&calls)));
        if calls.is_empty() {
            return tally.end(Stopped::Answer, completion.text());
        }

        request.push(completion.message);
        for call in &calls {
            let (result, finished) = handle(env, call, &mut tally);
            request.push(Message::tool(&call.id, result));
            if let Some(summary) = finished {
                // Calls after `finish` in the same answer are not run: the
                // model said it was done.
                return tally.end(Stopped::Finish, summary);
            }
        }
    }
    tally.end(Stopped::StepLimit, format!("no finish after {max_steps} model calls"))
}

/// Run one tool call: its result text, and the summary if it was `finish`.
fn handle<E: Env>(env: &mut E, call: &ToolCall, tally: &mut Tally) -> (String, Option<String>) {
    tally.tool_call(&call.name);
    let tool = match ToolRequest::parse(&call.name, &call.arguments) {
        Ok(ToolRequest::Finish { summary }) => return ("done".into(), Some(summary)),
        Ok(tool) => tool,
        Err(e) => return (format!("error: {e}"), None),
    };
    match tool.execute(env) {
        Ok(result) => {
            if let Some(path) = tool.changed_path() {
                tally.changed(path);
            }
            (result, None)
        }
        Err(e) => (format!("error: {e}"), None),
    }
}

fn system_prompt(workdir: &str) -> String {
    format!(
        "You are a coding agent working in a sandbox whose working directory is {workdir}. \
         Use the tools to look at the project, run commands such as its tests, and change files; \
         paths are relative to the working directory. Read a file before you edit it, and check \
         your change by running the tests. When the task is done, call `finish` with a short \
         summary of what you did."
    )
}

fn tool_names(calls: &[ToolCall]) -> String {
    if calls.is_empty() {
        return "answer".into();
    }
    calls.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    //! The loop against a scripted model and an in-memory workspace. The
    //! first test replays the host's scripted test from the contract.

    use std::collections::{BTreeMap, VecDeque};
    use std::time::Duration;

    use openshell_sandbox_guest::bindings::openshell::sandbox::types;
    use openshell_sandbox_guest::{DirEntry, Error, FinishReason, Role, RunOutput, Usage};

    use super::*;

    /// One scripted turn: what the last message must contain, and the answer.
    type Turn = (Vec<&'static str>, Result<Completion>);

    #[derive(Default)]
    struct Fake {
        files: BTreeMap<String, String>,
        turns: VecDeque<Turn>,
        logs: Vec<String>,
    }

    impl Workspace for Fake {
        fn run(&mut self, command: &str, _timeout: Duration) -> Result<RunOutput> {
            assert_eq!(command, "python3 test_calc.py");
            let fixed = self.files["calc.py"].contains("a + b");
            let (code, out, err) = if fixed { (0, "OK\n", "") } else { (1, "", "Traceback ...\nAssertionError\n") };
            Ok(RunOutput {
                exit_code: code,
                stdout: out.into(),
                stderr: err.into(),
                stdout_truncated: false,
                stderr_truncated: false,
                timed_out: false,
                duration_ms: 5,
            })
        }
        fn read(&mut self, path: &str) -> Result<Vec<u8>> {
            self.files
                .get(path)
                .map(|t| t.clone().into_bytes())
                .ok_or_else(|| error(ErrorCode::NotFound, "no such file"))
        }
        fn write(&mut self, path: &str, data: &[u8]) -> Result<()> {
            self.files.insert(path.into(), String::from_utf8(data.to_vec()).unwrap());
            Ok(())
        }
        fn list(&mut self, _path: &str) -> Result<Vec<DirEntry>> {
            Ok(Vec::new())
        }
    }

    impl Env for Fake {
        fn complete(&mut self, request: &ChatRequest) -> Result<Completion> {
            let (expect, answer) = self.turns.pop_front().expect("a scripted turn");
            let last = request.conversation().last().unwrap().content_str();
            for needle in expect {
                assert!(last.contains(needle), "{needle:?} not in {last:?}");
            }
            answer
        }
        fn log(&mut self, line: &str) {
            self.logs.push(line.into());
        }
    }

    fn error(code: ErrorCode, message: &str) -> Error {
        Error(types::Error { code, operation: "model.complete".into(), message: message.into(), retryable: false })
    }

    fn call(name: &str, arguments: &str) -> Completion {
        let call = ToolCall { id: format!("call-{name}"), name: name.into(), arguments: arguments.into() };
        Completion {
            message: Message { role: Role::Assistant, content: None, tool_calls: vec![call], tool_call_id: None },
            finish_reason: FinishReason::ToolCalls,
            usage: Usage { prompt_tokens: 100, completion_tokens: 10, estimated: false },
            model: "scripted".into(),
        }
    }

    fn calc_project() -> Fake {
        let mut fake = Fake::default();
        fake.files.insert("calc.py".into(), "def add(a, b):\n    return a - b\n".into());
        fake
    }

    #[test]
    fn fixes_the_failing_test() {
        let mut fake = calc_project();
        fake.turns = VecDeque::from([
            (vec!["fix it"], Ok(call("run_command", r#"{"command":"python3 test_calc.py"}"#))),
            (vec!["exit code: 1", "AssertionError"], Ok(call("read_file", r#"{"path":"calc.py"}"#))),
            (
                vec!["return a - b"],
                Ok(call("edit_file", r#"{"path":"calc.py","old":"return a - b","new":"return a + b"}"#)),
            ),
            (vec!["edited calc.py"], Ok(call("run_command", r#"{"command":"python3 test_calc.py"}"#))),
            (vec!["exit code: 0", "OK"], Ok(call("finish", r#"{"summary":"fixed add() in calc.py"}"#))),
        ]);
        let report = run(&mut fake, "fix it", "/workspace", 30);
        assert_eq!(
            report.to_json(),
            r#"{"ok":true,"stopped":"finish","summary":"fixed add() in calc.py","steps":5,"tool_calls":5,"tools":{"edit_file":1,"finish":1,"read_file":1,"run_command":2},"files_changed":["calc.py"],"usage":{"prompt_tokens":500,"completion_tokens":50,"estimated":false},"model":"scripted"}"#
        );
        assert_eq!(fake.files["calc.py"], "def add(a, b):\n    return a + b\n");
        assert_eq!(fake.logs[0], "step 1: run_command");
        assert!(fake.turns.is_empty());
    }

    #[test]
    fn an_answer_without_tools_ends_the_run() {
        let mut fake = calc_project();
        let mut answer = call("finish", "{}");
        answer.message = Message::assistant("nothing to do");
        fake.turns = VecDeque::from([(vec![], Ok(answer))]);
        let report = run(&mut fake, "task", "/w", 30);
        assert_eq!((report.ok, report.stopped, report.summary.as_str()), (true, Stopped::Answer, "nothing to do"));
        assert_eq!(report.tally.tool_calls, 0);
    }

    #[test]
    fn tool_errors_go_back_to_the_model() {
        let mut fake = calc_project();
        fake.turns = VecDeque::from([
            (vec![], Ok(call("read_file", r#"{"path":"nope.py"}"#))),
            (vec!["error: model.complete failed (not-found): no such file"], Ok(call("edit_file", "{"))),
            (vec!["error: the arguments are not valid JSON"], Ok(call("delete", "{}"))),
            (vec!["error: unknown tool \"delete\""], Ok(call("finish", "{}"))),
            (vec!["error: missing required argument \"summary\""], Ok(call("finish", r#"{"summary":"gave up"}"#))),
        ]);
        let report = run(&mut fake, "task", "/w", 30);
        assert_eq!((report.ok, report.stopped), (true, Stopped::Finish));
        assert_eq!(report.tally.tool_calls, 5);
        assert!(report.tally.files_changed.is_empty());
    }

    #[test]
    fn stops_at_the_step_limit() {
        let mut fake = calc_project();
        fake.turns = (0..3).map(|_| (vec![], Ok(call("list_dir", "{}")))).collect();
        let report = run(&mut fake, "task", "/w", 3);
        assert_eq!((report.ok, report.stopped, report.tally.steps), (false, Stopped::StepLimit, 3));
    }

    #[test]
    fn model_errors_end_the_run() {
        let mut fake = calc_project();
        fake.turns = VecDeque::from([(vec![], Err(error(ErrorCode::TooLarge, "model.max-requests (40) spent")))]);
        let report = run(&mut fake, "task", "/w", 30);
        assert_eq!(
            (report.ok, report.stopped, report.summary.as_str()),
            (false, Stopped::Budget, "model.max-requests (40) spent")
        );

        let mut fake = calc_project();
        fake.turns = VecDeque::from([(vec![], Err(error(ErrorCode::Timeout, "too slow")))]);
        let report = run(&mut fake, "task", "/w", 30);
        assert_eq!(
            (report.stopped, report.summary.as_str(), report.tally.steps),
            (Stopped::Error, "model.complete failed (timeout): too slow", 0)
        );
    }
}
