//! Looks for anything of the host it should not see: environment
//! variables, host files, host network, in the guest and in the commands
//! it runs in the sandbox. Reports what it found.
use openshell_sandbox_guest::{Command, Guest, Sandbox, export};

struct Isolation;

impl Guest for Isolation {
    fn run(input: String) -> Result<String, String> {
        let env: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
        let canary = std::env::var("OPENSHELL_WASM_CANARY").ok();
        let etc = std::fs::read_to_string("/etc/hostname").is_ok();
        let root = std::fs::read_dir("/").map(|d| d.count()).ok();
        let cwd = std::env::current_dir().ok().map(|p| p.display().to_string());
        let tcp = match input.trim() {
            "" => "skipped".to_string(),
            addr => match std::net::TcpStream::connect(addr) {
                Ok(_) => "connected".to_string(),
                Err(e) => format!("refused ({})", e.kind()),
            },
        };
        let granted = std::fs::read_to_string("/granted/hello.txt").ok();
        // The sandbox's own environment must not carry the host's either.
        let sandbox_env = Command::new("env").run(&Sandbox::current()).map(|o| o.stdout_string()).unwrap_or_default();
        let leaked: Vec<&str> = sandbox_env
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, _)| k))
            .filter(|k| k.starts_with("OPENSHELL_WASM_") || k.starts_with("CARGO_"))
            .collect();
        Ok(format!(
            "env={env:?}\ncanary={canary:?}\netc={etc}\nroot_entries={root:?}\ncwd={cwd:?}\ntcp={tcp}\ngranted={granted:?}\nsandbox_env_lines={}\nsandbox_leaked={leaked:?}",
            sandbox_env.lines().count()
        ))
    }
}

export!(Isolation);
