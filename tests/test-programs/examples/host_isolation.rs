//! Looks for anything of the host it should not see: environment
//! variables, host files, host network. Reports what it found.
use openshell_sandbox_guest::{Guest, export};

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
        Ok(format!(
            "env={env:?}\ncanary={canary:?}\netc={etc}\nroot_entries={root:?}\ncwd={cwd:?}\ntcp={tcp}\ngranted={granted:?}"
        ))
    }
}

export!(Isolation);
