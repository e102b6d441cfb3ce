//! Tries everything a guest needs a policy grant for and reports the code
//! each attempt got.
use openshell_sandbox_guest::{Command, Guest, Sandbox, SandboxSpec, export};
use test_programs::outcome;

struct Denied;

impl Guest for Denied {
    fn run(_input: String) -> Result<String, String> {
        let sb = Sandbox::current();
        let spec = SandboxSpec { name: None, image: None, environment: vec![], labels: vec![], ready_timeout_ms: None };
        let lines = [
            format!("create={}", outcome(&Sandbox::create(&spec))),
            format!("attach={}", outcome(&Sandbox::attach("someone-else"))),
            format!("list={}", outcome(&Sandbox::list())),
            format!("delete-current={}", outcome(&Sandbox::delete(&sb.name()))),
            format!("update-policy={}", outcome(&sb.update_network_policy("network_policies: {}\n"))),
            format!("expose-port={}", outcome(&sb.expose_port(8080, "web"))),
            format!("exec-curl={}", outcome(&Command::new("curl").arg("http://example.com").run(&sb))),
            format!("exec-allowed={}", outcome(&Command::new("echo").arg("ok").run(&sb))),
            format!("exec-via-path={}", outcome(&Command::new("/usr/bin/echo").arg("ok").run(&sb))),
            format!("snapshot-persist={}", outcome(&sb.persist(".", &[]))),
            format!(
                "delete-foreign-snapshot={}",
                outcome(&openshell_sandbox_guest::delete_snapshot("snap-0-00000000"))
            ),
        ];
        Ok(lines.join("\n"))
    }
}

export!(Denied);
