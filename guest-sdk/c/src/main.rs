//! `openshell-c-bindgen WIT_DIR OUT_DIR [--world WORLD] [--adapter FILE]`:
//! write the C bindings of a world (default `agent`) into `OUT_DIR`, and
//! optionally the WASI preview1 reactor adapter to `FILE`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: openshell-c-bindgen WIT_DIR OUT_DIR [--world WORLD] [--adapter FILE]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut positional = Vec::new();
    let (mut world, mut adapter) = ("agent".to_string(), None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--world" => world = args.next().ok_or_else(|| anyhow::anyhow!("--world needs a value\n{USAGE}"))?,
            "--adapter" => {
                adapter =
                    Some(PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!("--adapter needs a file\n{USAGE}"))?));
            }
            "-h" | "--help" => {
                let _ = writeln!(std::io::stdout(), "{USAGE}");
                return Ok(());
            }
            _ if arg.starts_with('-') => anyhow::bail!("unknown option {arg}\n{USAGE}"),
            _ => positional.push(PathBuf::from(arg)),
        }
    }
    let [wit, out] = <[PathBuf; 2]>::try_from(positional).map_err(|_| anyhow::anyhow!("{USAGE}"))?;
    for path in openshell_c_bindgen::generate(&wit, &world, &out)? {
        let _ = writeln!(std::io::stdout(), "wrote {}", path.display());
    }
    if let Some(path) = adapter {
        openshell_c_bindgen::write_adapter(&path)?;
        let _ = writeln!(std::io::stdout(), "wrote {}", path.display());
    }
    Ok(())
}
