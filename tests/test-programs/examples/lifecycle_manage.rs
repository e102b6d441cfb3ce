//! With the grants: create a second sandbox, use it, list, attach, delete;
//! and report the current sandbox's info and capabilities.
use openshell_sandbox_guest::{Command, Guest, Sandbox, SandboxSpec, export};
use test_programs::outcome;

struct Manage;

impl Guest for Manage {
    fn run(input: String) -> Result<String, String> {
        let e = |e: openshell_sandbox_guest::Error| e.to_string();
        let sb = Sandbox::current();
        let info = sb.info().map_err(e)?;
        let caps = sb.capabilities();
        let mut lines = vec![
            format!(
                "current={} backend={} workdir={} owned={} phase={:?}",
                info.name, info.backend, info.workdir, info.owned, info.phase
            ),
            format!(
                "caps streaming={} pty={} signals={} snapshots={} create={} delete={} default_timeout_ms={}",
                caps.streaming,
                caps.pty,
                caps.signals,
                caps.snapshots,
                caps.create_sandboxes,
                caps.delete_sandboxes,
                caps.limits.default_timeout_ms
            ),
        ];
        if input == "info-only" {
            return Ok(lines.join("\n"));
        }
        let suffix: String = info.name.chars().filter(char::is_ascii_alphanumeric).collect();
        let name = format!("guest-made-{}", &suffix[suffix.len().saturating_sub(6)..]);
        let spec = SandboxSpec {
            name: Some(name.clone()),
            image: None,
            environment: vec![("GREETING".into(), "hello from env".into())],
            labels: vec![("purpose".into(), "test".into())],
            ready_timeout_ms: None,
        };
        let second = Sandbox::create(&spec).map_err(e)?;
        let out = Command::shell("echo $GREETING > note.txt && cat note.txt").run(&second).map_err(e)?;
        lines.push(format!("second={} out={}", second.name(), out.stdout_string().trim()));
        lines.push(format!("isolated={}", !sb.exists("note.txt").map_err(e)?));
        let listed: Vec<String> = Sandbox::list().map_err(e)?.into_iter().map(|s| s.name).collect();
        lines.push(format!("listed-second={} listed-current={}", listed.contains(&name), listed.contains(&info.name)));
        let again = Sandbox::attach(&name).map_err(e)?;
        lines.push(format!("attach-read={}", again.read_string("note.txt").map_err(e)?.trim()));
        lines.push(format!(
            "invalid-name={}",
            outcome(&Sandbox::create(&SandboxSpec { name: Some("Bad_Name".into()), ..spec.clone() }))
        ));
        lines.push(format!("duplicate={}", outcome(&Sandbox::create(&spec))));
        if input == "keep-second" {
            return Ok(lines.join("\n"));
        }
        drop(again);
        drop(second);
        Sandbox::delete(&name).map_err(e)?;
        lines.push(format!("after-delete-attach={}", outcome(&Sandbox::attach(&name))));
        lines.push(format!("delete-current={}", outcome(&Sandbox::delete(&info.name))));
        Ok(lines.join("\n"))
    }
}

export!(Manage);
