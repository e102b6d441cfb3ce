//! A sandbox created with OpenShell's options (its own L7 policy, a
//! provider, a GPU, CPU and memory), read back; providers attached and
//! detached; and each option refused without its grant. Prints what it
//! got, providers in full, so the test can check no credential value
//! reached the guest.
use openshell_sandbox_guest::{Guest, Sandbox, SandboxOptions, SandboxSpec, export};
use test_programs::outcome;

struct Options;

const POLICY: &str = "version: 1
network_policies:
  github:
    endpoints:
      - host: api.github.com
        port: 443
        protocol: rest
        tls: terminate
        enforcement: enforce
        rules:
          - allow: {method: GET, path: /repos/*}
        credential_binding: {provider: github}
";

fn options() -> SandboxOptions {
    SandboxOptions {
        policy_yaml: Some(POLICY.into()),
        providers: vec!["github".into()],
        gpu: Some(1),
        cpu: Some("500m".into()),
        memory: Some("256Mi".into()),
    }
}

fn spec() -> SandboxSpec {
    SandboxSpec { name: None, image: None, environment: vec![], labels: vec![], ready_timeout_ms: None }
}

impl Guest for Options {
    fn run(input: String) -> Result<String, String> {
        let e = |e: openshell_sandbox_guest::Error| e.to_string();
        let mut lines = Vec::new();
        if input == "denied" {
            // Each option alone, without its grant.
            let only = |o: SandboxOptions| outcome(&Sandbox::create_with(&spec(), &o));
            let none = SandboxOptions { policy_yaml: None, providers: vec![], gpu: None, cpu: None, memory: None };
            lines.push(format!("policy={}", only(SandboxOptions { policy_yaml: Some(POLICY.into()), ..none.clone() })));
            lines.push(format!(
                "provider={}",
                only(SandboxOptions { providers: vec!["gitlab".into()], ..none.clone() })
            ));
            lines.push(format!("gpu={}", only(SandboxOptions { gpu: Some(1), ..none.clone() })));
            lines.push(format!("cpu={}", only(SandboxOptions { cpu: Some("4".into()), ..none.clone() })));
            lines.push(format!("memory={}", only(SandboxOptions { memory: Some("64Gi".into()), ..none.clone() })));
            lines.push(format!("bad-cpu={}", only(SandboxOptions { cpu: Some("lots".into()), ..none.clone() })));
            lines.push(format!("bad-memory={}", only(SandboxOptions { memory: Some("2 GiB".into()), ..none })));
            lines.push(format!("attach={}", outcome(&Sandbox::current().attach_provider("gitlab"))));
            return Ok(lines.join("\n"));
        }
        let bad = SandboxOptions { policy_yaml: Some("versoin: 1".into()), ..options() };
        lines.push(format!("bad-policy={}", outcome(&Sandbox::create_with(&spec(), &bad))));
        let sb = match Sandbox::create_with(&spec(), &options()) {
            Ok(sb) => sb,
            Err(err) => {
                lines.push(format!("create={}", outcome::<()>(&Err(err))));
                lines.push(format!("attach-current={}", outcome(&Sandbox::current().attach_provider("gitlab"))));
                return Ok(lines.join("\n"));
            }
        };
        lines.push("create=ok".into());
        let policy = sb.network_policy().map_err(e)?;
        lines.push(format!("policy-l7={}", policy.rules_yaml.contains("/repos/*")));
        lines.push(format!("policy-binding={}", policy.rules_yaml.contains("provider: github")));
        let providers = sb.providers().map_err(e)?;
        lines.push(format!("providers={providers:?}"));
        lines.push(format!("attach-gitlab={:?}", sb.attach_provider("gitlab").map_err(e)?));
        lines.push(format!("attach-gitlab-again={:?}", sb.attach_provider("gitlab").map_err(e)?));
        lines.push(format!("attach-other={}", outcome(&sb.attach_provider("other"))));
        lines.push(format!("attach-unknown={}", outcome(&sb.attach_provider("gitlab-missing"))));
        let names: Vec<String> = sb.providers().map_err(e)?.into_iter().map(|p| p.name).collect();
        lines.push(format!("names={}", names.join(",")));
        lines.push(format!("detach-bound={}", outcome(&sb.detach_provider("github"))));
        lines.push(format!("detach-gitlab={:?}", sb.detach_provider("gitlab").map_err(e)?));
        lines.push(format!("detach-gitlab-again={:?}", sb.detach_provider("gitlab").map_err(e)?));
        Ok(lines.join("\n"))
    }
}

export!(Options);
