//! The tools the model may call: their schemas, the checking of the
//! arguments the model wrote, and what each one does to the workspace.
//!
//! Names, parameters and result texts are part of the coding-agent contract
//! (the Python agent behaves the same), so change them in both or neither.

use std::time::Duration;

use openshell_sandbox_guest::{DirEntry, FileKind, Result, RunOutput, Tool};
use serde_json::{Map, Value};

/// How much of each output stream `run_command` shows from each end: enough
/// for a compiler error or a test summary, small enough that a chatty build
/// does not eat the model's context.
const OUTPUT_KEEP: usize = 4000;

/// How much of a file `read_file` shows. Source files are rarely longer; for
/// longer ones the model can use `run_command` (`sed -n`, `grep`).
const READ_LIMIT: usize = 16000;

/// The `timeout_s` of `run_command` when the model gives none.
const DEFAULT_TIMEOUT_S: u64 = 60;

/// Where tools act: the sandbox in a real run, a map of files in tests.
pub(crate) trait Workspace {
    /// Run `sh -c command` in the working directory.
    fn run(&mut self, command: &str, timeout: Duration) -> Result<RunOutput>;
    /// Read a whole file.
    fn read(&mut self, path: &str) -> Result<Vec<u8>>;
    /// Write a whole file, creating its parent directories.
    fn write(&mut self, path: &str, data: &[u8]) -> Result<()>;
    /// List a directory.
    fn list(&mut self, path: &str) -> Result<Vec<DirEntry>>;
}

/// The tools, as the model is told about them.
pub(crate) fn definitions() -> Vec<Tool> {
    vec![
        Tool::new(
            "run_command",
            "Run a shell command (sh -c) in the working directory. Returns the exit code, stdout and stderr; \
             long output is cut in the middle.",
            r#"{"type":"object","properties":{"command":{"type":"string","description":"The shell command."},"timeout_s":{"type":"integer","description":"Seconds before the command is killed (default 60)."}},"required":["command"]}"#,
        ),
        Tool::new(
            "read_file",
            "Read a text file (at most its first 16000 bytes).",
            r#"{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}"#,
        ),
        Tool::new(
            "write_file",
            "Create or overwrite a file with the given content; parent directories are created.",
            r#"{"type":"object","properties":{"path":{"type":"string"},"content":{"type":"string"}},"required":["path","content"]}"#,
        ),
        Tool::new(
            "list_dir",
            "List a directory, one name per line; directories end with /.",
            r#"{"type":"object","properties":{"path":{"type":"string","description":"Default: the working directory."}}}"#,
        ),
        Tool::new(
            "edit_file",
            "Replace one occurrence of `old` in a file with `new`. `old` must match the file exactly \
             (whitespace included) and occur exactly once; include surrounding lines to make it unique.",
            r#"{"type":"object","properties":{"path":{"type":"string"},"old":{"type":"string"},"new":{"type":"string"}},"required":["path","old","new"]}"#,
        ),
        Tool::new(
            "finish",
            "Call when the task is done, with a short summary of what you did.",
            r#"{"type":"object","properties":{"summary":{"type":"string"}},"required":["summary"]}"#,
        ),
    ]
}

/// A tool call whose name and arguments have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ToolRequest {
    RunCommand { command: String, timeout_s: u64 },
    ReadFile { path: String },
    WriteFile { path: String, content: String },
    ListDir { path: String },
    EditFile { path: String, old: String, new: String },
    Finish { summary: String },
}

impl ToolRequest {
    /// Check a call the model wrote. The error says what is wrong, for the
    /// model to fix in its next call.
    pub(crate) fn parse(name: &str, arguments: &str) -> std::result::Result<Self, String> {
        let mut args = Args::parse(arguments)?;
        Ok(match name {
            "run_command" => ToolRequest::RunCommand { command: args.string("command")?, timeout_s: args.timeout_s()? },
            "read_file" => ToolRequest::ReadFile { path: args.string("path")? },
            "write_file" => ToolRequest::WriteFile { path: args.string("path")?, content: args.string("content")? },
            "list_dir" => ToolRequest::ListDir { path: args.optional_string("path")?.unwrap_or_else(|| ".".into()) },
            "edit_file" => {
                ToolRequest::EditFile { path: args.string("path")?, old: args.string("old")?, new: args.string("new")? }
            }
            "finish" => ToolRequest::Finish { summary: args.string("summary")? },
            _ => return Err(format!("unknown tool \"{name}\"")),
        })
    }

    /// The file this tool changes when it succeeds, as the model named it.
    pub(crate) fn changed_path(&self) -> Option<&str> {
        match self {
            ToolRequest::WriteFile { path, .. } | ToolRequest::EditFile { path, .. } => Some(path),
            _ => None,
        }
    }

    /// Do it. `Ok` is the result text; `Err` is the message that follows
    /// `error: ` in the result. `finish` does nothing here: the loop ends
    /// the run.
    pub(crate) fn execute<W: Workspace + ?Sized>(&self, ws: &mut W) -> std::result::Result<String, String> {
        let fail = |e: openshell_sandbox_guest::Error| e.to_string();
        match self {
            ToolRequest::RunCommand { command, timeout_s } => {
                Ok(command_result(&ws.run(command, Duration::from_secs(*timeout_s)).map_err(fail)?))
            }
            ToolRequest::ReadFile { path } => Ok(head(&ws.read(path).map_err(fail)?, READ_LIMIT)),
            ToolRequest::WriteFile { path, content } => {
                ws.write(path, content.as_bytes()).map_err(fail)?;
                Ok(format!("wrote {} bytes to {path}", content.len()))
            }
            ToolRequest::ListDir { path } => Ok(listing(ws.list(path).map_err(fail)?)),
            ToolRequest::EditFile { path, old, new } => {
                // Not lossy: writing back a lossy decoding would corrupt the
                // file's other bytes.
                let text = String::from_utf8(ws.read(path).map_err(fail)?)
                    .map_err(|_| format!("{path} is not UTF-8 text; use write_file"))?;
                let edited = replace_once(&text, old, new, path)?;
                ws.write(path, edited.as_bytes()).map_err(fail)?;
                Ok(format!("edited {path}"))
            }
            ToolRequest::Finish { .. } => Ok("done".into()),
        }
    }
}

/// A call's arguments: a JSON object.
struct Args(Map<String, Value>);

impl Args {
    fn parse(arguments: &str) -> std::result::Result<Self, String> {
        // Some providers send "" for a call without arguments.
        if arguments.trim().is_empty() {
            return Ok(Args(Map::new()));
        }
        match serde_json::from_str(arguments) {
            Ok(Value::Object(map)) => Ok(Args(map)),
            Ok(_) => Err("the arguments must be a JSON object".into()),
            Err(e) => Err(format!("the arguments are not valid JSON: {e}")),
        }
    }

    fn string(&mut self, key: &str) -> std::result::Result<String, String> {
        self.optional_string(key)?.ok_or_else(|| format!("missing required argument \"{key}\""))
    }

    fn optional_string(&mut self, key: &str) -> std::result::Result<Option<String>, String> {
        match self.0.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("argument \"{key}\" must be a string")),
        }
    }

    /// `run_command`'s `timeout_s`: whole seconds, at least 1.
    fn timeout_s(&mut self) -> std::result::Result<u64, String> {
        let seconds = match self.0.remove("timeout_s") {
            None | Some(Value::Null) => return Ok(DEFAULT_TIMEOUT_S),
            Some(Value::Number(n)) => n.as_i64().or_else(|| whole(n.as_f64()?)),
            Some(_) => None,
        };
        let seconds = seconds.ok_or("argument \"timeout_s\" must be an integer")?;
        u64::try_from(seconds)
            .ok()
            .filter(|s| *s >= 1)
            .ok_or_else(|| "argument \"timeout_s\" must be at least 1".into())
    }
}

/// `x` as an integer if it is one: models often write `30.0` for `30`.
fn whole(x: f64) -> Option<i64> {
    // `as` saturates; the range check keeps huge values from passing as i64::MAX.
    (x.fract() == 0.0 && x.abs() < 1e18).then_some(x as i64)
}

/// The result of `run_command`.
pub(crate) fn command_result(out: &RunOutput) -> String {
    let code = if out.timed_out { "timeout".to_string() } else { out.exit_code.to_string() };
    format!(
        "exit code: {code}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        head_and_tail(&out.stdout, OUTPUT_KEEP),
        head_and_tail(&out.stderr, OUTPUT_KEEP),
    )
}

/// `bytes` as text, cut to its first and last `keep` bytes when longer:
/// a command's first lines say what ran, its last lines how it ended.
pub(crate) fn head_and_tail(bytes: &[u8], keep: usize) -> String {
    if bytes.len() <= 2 * keep {
        return lossy(bytes);
    }
    let omitted = bytes.len() - 2 * keep;
    format!("{}\n[... {omitted} bytes omitted ...]\n{}", lossy(&bytes[..keep]), lossy(&bytes[bytes.len() - keep..]))
}

/// `bytes` as text, cut to its first `limit` bytes when longer.
pub(crate) fn head(bytes: &[u8], limit: usize) -> String {
    if bytes.len() <= limit {
        return lossy(bytes);
    }
    format!("{}\n[... truncated: {} bytes in all]", lossy(&bytes[..limit]), bytes.len())
}

/// The result of `list_dir`: names sorted, directories marked with `/`.
pub(crate) fn listing(mut entries: Vec<DirEntry>) -> String {
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<String> = entries
        .into_iter()
        .map(|e| if matches!(e.kind, FileKind::Directory) { format!("{}/", e.name) } else { e.name })
        .collect();
    names.join("\n")
}

/// `text` with its one occurrence of `old` replaced. More than one is an
/// error rather than "the first", so the model never edits a place it did
/// not mean.
pub(crate) fn replace_once(text: &str, old: &str, new: &str, path: &str) -> std::result::Result<String, String> {
    match text.matches(old).count() {
        0 => Err(format!("old text not found in {path}")),
        1 => Ok(text.replacen(old, new, 1)),
        n => Err(format!("old text occurs {n} times in {path}; give more context")),
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(exit_code: i32, stdout: &str, stderr: &str, timed_out: bool) -> RunOutput {
        RunOutput {
            exit_code,
            stdout: stdout.into(),
            stderr: stderr.into(),
            stdout_truncated: false,
            stderr_truncated: false,
            timed_out,
            duration_ms: 1,
        }
    }

    fn entry(name: &str, kind: FileKind) -> DirEntry {
        DirEntry { name: name.into(), kind, size: 0, mode: 0o644, mtime_ms: 0 }
    }

    #[test]
    fn schemas_are_json_objects() {
        let tools = definitions();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["run_command", "read_file", "write_file", "list_dir", "edit_file", "finish"]);
        for tool in &tools {
            let schema: Value = serde_json::from_str(&tool.parameters).unwrap();
            assert_eq!(schema["type"], "object", "{}", tool.name);
        }
    }

    #[test]
    fn parses_arguments() {
        assert_eq!(
            ToolRequest::parse("run_command", r#"{"command":"ls"}"#),
            Ok(ToolRequest::RunCommand { command: "ls".into(), timeout_s: 60 })
        );
        assert_eq!(
            ToolRequest::parse("run_command", r#"{"command":"ls","timeout_s":5}"#),
            Ok(ToolRequest::RunCommand { command: "ls".into(), timeout_s: 5 })
        );
        assert_eq!(
            ToolRequest::parse("run_command", r#"{"command":"ls","timeout_s":30.0}"#),
            Ok(ToolRequest::RunCommand { command: "ls".into(), timeout_s: 30 })
        );
        assert_eq!(ToolRequest::parse("list_dir", ""), Ok(ToolRequest::ListDir { path: ".".into() }));
        assert_eq!(ToolRequest::parse("list_dir", "{}"), Ok(ToolRequest::ListDir { path: ".".into() }));
        assert_eq!(
            ToolRequest::parse("finish", r#"{"summary":"ok"}"#),
            Ok(ToolRequest::Finish { summary: "ok".into() })
        );
    }

    #[test]
    fn rejects_bad_arguments() {
        fn err(name: &str, args: &str) -> String {
            ToolRequest::parse(name, args).unwrap_err()
        }
        assert_eq!(err("read_file", "{}"), "missing required argument \"path\"");
        assert_eq!(err("read_file", r#"{"path":3}"#), "argument \"path\" must be a string");
        assert_eq!(err("read_file", "[]"), "the arguments must be a JSON object");
        assert!(err("read_file", "{nope").starts_with("the arguments are not valid JSON: "));
        let timeout = |t: &str| err("run_command", &format!(r#"{{"command":"x","timeout_s":{t}}}"#));
        assert_eq!(timeout("0"), "argument \"timeout_s\" must be at least 1");
        assert_eq!(timeout("-1"), "argument \"timeout_s\" must be at least 1");
        assert_eq!(timeout("1.5"), "argument \"timeout_s\" must be an integer");
        assert_eq!(timeout("\"10\""), "argument \"timeout_s\" must be an integer");
        assert_eq!(err("rm_rf", "{}"), "unknown tool \"rm_rf\"");
    }

    #[test]
    fn formats_command_output() {
        assert_eq!(
            command_result(&output(1, "out\n", "err\n", false)),
            "exit code: 1\n--- stdout ---\nout\n\n--- stderr ---\nerr\n"
        );
        assert!(command_result(&output(124, "", "", true)).starts_with("exit code: timeout\n--- stdout ---\n"));
    }

    #[test]
    fn keeps_head_and_tail_of_long_output() {
        assert_eq!(head_and_tail(b"abcdef", 3), "abcdef");
        assert_eq!(head_and_tail(b"abcdefgh", 3), "abc\n[... 2 bytes omitted ...]\nfgh");
        let long = "x".repeat(4000) + &"y".repeat(100) + &"z".repeat(4000);
        let text = head_and_tail(long.as_bytes(), OUTPUT_KEEP);
        assert_eq!(text, "x".repeat(4000) + "\n[... 100 bytes omitted ...]\n" + &"z".repeat(4000));
        // A cut through a multi-byte character is shown, not an error.
        assert_eq!(head_and_tail("éé".as_bytes(), 1), "\u{fffd}\n[... 2 bytes omitted ...]\n\u{fffd}");
    }

    #[test]
    fn truncates_long_files() {
        assert_eq!(head(b"short", 16000), "short");
        assert_eq!(head(b"0123456789", 4), "0123\n[... truncated: 10 bytes in all]");
    }

    #[test]
    fn lists_sorted_with_directory_slashes() {
        let entries = vec![
            entry("src", FileKind::Directory),
            entry("b.py", FileKind::File),
            entry("a.py", FileKind::File),
            entry("link", FileKind::Symlink),
        ];
        assert_eq!(listing(entries), "a.py\nb.py\nlink\nsrc/");
        assert_eq!(listing(Vec::new()), "");
    }

    #[test]
    fn replaces_exactly_one_occurrence() {
        assert_eq!(replace_once("a - b\n", "a - b", "a + b", "f"), Ok("a + b\n".into()));
        assert_eq!(replace_once("x", "y", "z", "f.py"), Err("old text not found in f.py".into()));
        assert_eq!(
            replace_once("aa aa aa", "aa", "b", "f.py"),
            Err("old text occurs 3 times in f.py; give more context".into())
        );
        // As Python's `str.count` and `str.replace` do: "" occurs between
        // every two characters, and once in an empty file.
        assert_eq!(replace_once("abc", "", "x", "f"), Err("old text occurs 4 times in f; give more context".into()));
        assert_eq!(replace_once("", "", "x", "f"), Ok("x".into()));
    }
}
