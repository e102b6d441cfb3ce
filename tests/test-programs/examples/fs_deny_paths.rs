//! Tries every way out of the workspace through the fs interface and
//! reports the outcome of each attempt; none may succeed.
use openshell_sandbox_guest::{Command, Guest, Sandbox, export};
use test_programs::outcome;

struct Deny;

impl Guest for Deny {
    fn run(_input: String) -> Result<String, String> {
        let sb = Sandbox::current();
        let workdir = sb.info().map_err(|e| e.to_string())?.workdir;
        // Plant symlinks pointing out of the workspace, from inside.
        Command::shell("ln -s /etc etc-link && ln -s /etc/passwd passwd-link && ln -s ../.. up-link && mkdir real && ln -s real swap")
            .run(&sb)
            .map_err(|e| e.to_string())?;
        let attempts: Vec<(&str, String)> = vec![
            ("read-dotdot", outcome(&sb.read("../../etc/passwd"))),
            ("read-absolute", outcome(&sb.read("/etc/passwd"))),
            ("write-absolute", outcome(&sb.write("/tmp/evil", "x"))),
            ("write-dotdot", outcome(&sb.write("../evil", "x"))),
            ("read-symlink-file", outcome(&sb.read("passwd-link"))),
            ("read-through-symlink-dir", outcome(&sb.read("etc-link/passwd"))),
            ("write-through-symlink-dir", outcome(&sb.write("etc-link/evil", "x"))),
            ("list-through-symlink", outcome(&sb.list_dir("up-link"))),
            ("realpath-escape", outcome(&sb.realpath("etc-link"))),
            ("stat-outside", outcome(&sb.stat("/etc/shadow"))),
            ("mkdir-outside", outcome(&sb.mkdir_all("/opt/evil"))),
            ("remove-outside", outcome(&sb.remove_all("/usr"))),
            ("rename-out", outcome(&sb.rename("real", "../real"))),
            ("chmod-outside", outcome(&sb.chmod("/etc/passwd", 0o777))),
            ("remove-workspace", outcome(&sb.remove_all(&workdir))),
        ];
        // The symlinks themselves may be inspected and removed (they are
        // inside); removing must not follow them.
        let lstat = outcome(&sb.stat("etc-link"));
        let unlink = outcome(&sb.remove("etc-link"));
        let etc_still_there =
            Command::new("test").arg("-f").arg("/etc/passwd").run(&sb).map(|o| o.exit_code == 0).unwrap_or(false);
        let mut lines: Vec<String> = attempts.iter().map(|(k, v)| format!("{k}={v}")).collect();
        lines.push(format!("lstat-link={lstat} unlink-link={unlink} etc-intact={etc_still_there}"));
        let escaped = attempts.iter().filter(|(_, v)| v == "ok").count();
        lines.push(format!("escapes={escaped}"));
        Ok(lines.join("\n"))
    }
}

export!(Deny);
