//! The example agent. Given a task name as input it:
//!
//! 1. describes its sandbox (info, capabilities);
//! 2. runs a command and checks its output;
//! 3. streams a longer command's output as it is produced;
//! 4. writes a small project (three files, one streamed), lists and reads it back;
//! 5. persists a snapshot of the project;
//! 6. changes the project (edits, deletes, adds files);
//! 7. hydrates the snapshot back and checks every file is as it was;
//! 8. reads its network policy (or notes that the backend has none);
//! 9. asks a model for a one-word reply, if the policy defines one;
//! 10. logs each step to the host;
//!
//! and returns one JSON report. The Python, JavaScript and C agents do the
//! same steps and return the same report.

mod json;

use openshell_sandbox_guest::bindings::openshell::sandbox::model::{self, Message, Request, Role};
use openshell_sandbox_guest::{Command, ErrorCode, Event, Guest, HydrateMode, Level, Sandbox, export, log};

use json::Obj;

struct Agent;

fn step(name: &str, ok: bool) {
    log(
        if ok { Level::Info } else { Level::Error },
        &format!("step {name}"),
        &[("ok", if ok { "true" } else { "false" })],
    );
}

/// `not-found`, ..., `backend:http-500`.
fn code_name(code: &ErrorCode) -> String {
    match code {
        ErrorCode::NotFound => "not-found".into(),
        ErrorCode::PermissionDenied => "permission-denied".into(),
        ErrorCode::Timeout => "timeout".into(),
        ErrorCode::TooLarge => "too-large".into(),
        ErrorCode::InvalidArgument => "invalid-argument".into(),
        ErrorCode::Unavailable => "unavailable".into(),
        ErrorCode::Conflict => "conflict".into(),
        ErrorCode::Unsupported => "unsupported".into(),
        ErrorCode::Backend(kind) => format!("backend:{kind}"),
    }
}

/// The model step's report value: `none` when the policy defines no model,
/// else the default model's reply to a one-word prompt, or `error: <code>`.
fn ask_model() -> String {
    if model::aliases().is_empty() {
        return "none".into();
    }
    let say = |role, text: &str| Message { role, content: Some(text.into()), tool_calls: vec![], tool_call_id: None };
    let request = Request {
        model: String::new(), // the policy's default alias
        messages: vec![say(Role::System, "You are terse."), say(Role::User, "Reply with one word: pong")],
        tools: vec![],
        tool_choice: None,
        temperature: None,
        max_tokens: None,
        stop: vec![],
        extra: None,
    };
    match model::complete(&request) {
        // Only ASCII whitespace, so that the four example agents trim alike.
        Ok(answer) => answer.message.content.unwrap_or_default().trim_matches([' ', '\t', '\r', '\n']).to_string(),
        Err(err) => format!("error: {}", code_name(&err.code)),
    }
}

impl Guest for Agent {
    fn run(input: String) -> Result<String, String> {
        let task = if input.trim().is_empty() { "demo".to_string() } else { input.trim().to_string() };
        let e = |e: openshell_sandbox_guest::Error| e.to_string();
        let sb = Sandbox::current();
        let mut report = Obj::new();
        report.str("agent", "rust").str("task", &task);

        // 1. The sandbox.
        let info = sb.info().map_err(e)?;
        let caps = sb.capabilities();
        report.obj(
            "sandbox",
            Obj::new().str("backend", &info.backend).str("workdir", &info.workdir).bool("owned", info.owned),
        );
        report.obj(
            "capabilities",
            Obj::new()
                .bool("streaming", caps.streaming)
                .bool("pty", caps.pty)
                .bool("snapshots", caps.snapshots)
                .bool("network_policy", caps.network_policy),
        );

        // 2. A command.
        let hello = Command::new("echo").arg(format!("hello from {task}")).run(&sb).map_err(e)?;
        let exec_ok = hello.success() && hello.stdout_string() == format!("hello from {task}\n");
        step("exec", exec_ok);
        report.obj("exec", Obj::new().bool("ok", exec_ok).str("stdout", hello.stdout_string().trim_end()));

        // 3. Streaming.
        let p = Command::shell("for i in 1 2 3 4 5; do echo tick $i; sleep 0.05; done").spawn(&sb).map_err(e)?;
        let (mut chunks, mut text, mut code) = (0, String::new(), -1);
        for ev in p.events() {
            match ev.map_err(e)? {
                Event::Stdout(b) => {
                    chunks += 1;
                    text.push_str(&String::from_utf8_lossy(&b));
                }
                Event::Stderr(_) => {}
                Event::Exited(s) => code = s.exit_code,
            }
        }
        let lines = text.lines().count();
        let stream_ok = code == 0 && lines == 5 && chunks >= 2;
        step("stream", stream_ok);
        report.obj(
            "stream",
            Obj::new().bool("ok", stream_ok).int("lines", lines as i64).int("exit_code", i64::from(code)),
        );

        // 4. Files.
        let project = format!("{task}-project");
        sb.write(&format!("{project}/README.md"), format!("# {task}\n")).map_err(e)?;
        sb.write(&format!("{project}/src/main.txt"), "first version\n").map_err(e)?;
        let w = sb.open_write(&format!("{project}/data.bin")).map_err(e)?;
        for i in 0..16u8 {
            w.write_chunk(&[i; 4096]).map_err(e)?;
        }
        let data = w.finish().map_err(e)?;
        let mut listed: Vec<String> = sb.list_dir(&project).map_err(e)?.into_iter().map(|d| d.name).collect();
        listed.sort();
        let read_back = sb.read_string(&format!("{project}/src/main.txt")).map_err(e)? == "first version\n";
        let files_ok = read_back && data.size == 16 * 4096 && listed == ["README.md", "data.bin", "src"];
        step("files", files_ok);
        report.obj(
            "files",
            Obj::new()
                .bool("ok", files_ok)
                .strs("listed", &listed)
                .int("data_bytes", data.size as i64)
                .bool("read_back", read_back),
        );

        // 5. Snapshot.
        let snap = sb.persist(&project, &[]).map_err(e)?;
        step("snapshot", true);
        report.obj(
            "snapshot",
            Obj::new().bool("ok", true).int("entries", i64::from(snap.entries)).bool("sha256", snap.sha256.len() == 64),
        );

        // 6. Change things.
        sb.write(&format!("{project}/src/main.txt"), "second version\n").map_err(e)?;
        sb.remove(&format!("{project}/README.md")).map_err(e)?;
        sb.write(&format!("{project}/scratch.tmp"), "temporary\n").map_err(e)?;
        let changed = sb.read_string(&format!("{project}/src/main.txt")).map_err(e)? == "second version\n";
        step("mutate", changed);
        report.obj("mutate", Obj::new().bool("ok", changed));

        // 7. Hydrate and check.
        sb.hydrate(&snap.id, &project, HydrateMode::Replace).map_err(e)?;
        let main_restored = sb.read_string(&format!("{project}/src/main.txt")).map_err(e)? == "first version\n";
        let readme_restored = sb.exists(&format!("{project}/README.md")).map_err(e)?;
        let scratch_removed = !sb.exists(&format!("{project}/scratch.tmp")).map_err(e)?;
        let data_back = sb.read(&format!("{project}/data.bin")).map_err(e)?;
        let data_ok = data_back.len() == 16 * 4096
            && data_back.chunks(4096).enumerate().all(|(i, c)| c.iter().all(|b| *b == i as u8));
        let hydrate_ok = main_restored && readme_restored && scratch_removed && data_ok;
        step("hydrate", hydrate_ok);
        report.obj(
            "hydrate",
            Obj::new()
                .bool("ok", hydrate_ok)
                .bool("content_restored", main_restored && data_ok)
                .bool("deleted_file_back", readme_restored)
                .bool("new_file_removed", scratch_removed),
        );
        let _ = openshell_sandbox_guest::delete_snapshot(&snap.id);

        // 8. Network policy.
        let network = match sb.network_policy() {
            Ok(p) => format!("v{}", p.active_version),
            Err(err) if matches!(err.code(), ErrorCode::Unsupported) => "unsupported".into(),
            Err(err) if err.is_denied() => "denied".into(),
            Err(err) if err.is_not_found() => "none".into(),
            Err(err) => return Err(err.to_string()),
        };
        step("network", true);
        report.obj("network", Obj::new().bool("ok", true).str("policy", &network));

        // 9. A model.
        report.str("model", &ask_model());
        step("model", true);

        let ok = exec_ok && stream_ok && files_ok && changed && hydrate_ok;
        report.bool("ok", ok);
        Ok(report.finish())
    }
}

export!(Agent);
