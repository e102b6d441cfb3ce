//! C bindings for `openshell:sandbox` agents, without installing
//! `wit-bindgen-cli` (a 24-minute `cargo install` on two cores): this crate
//! drives the same generator, the `wit-bindgen-c` library (0.63.0), and
//! ships the WASI preview1 *reactor* adapter that turns a `wasm32-wasi`
//! core module into a component (from
//! `wasi-preview1-component-adapter-provider`, 48.0.8, matching the host's
//! wasmtime 48).
//!
//! [`generate`] writes `<world>.h`, `<world>.c` and
//! `<world>_component_type.o`, the files `wit-bindgen c WIT --world WORLD
//! --out-dir DIR` writes (the same generator, with its default options).

use std::path::{Path, PathBuf};

use anyhow::Context;
use wit_bindgen_core::wit_parser::Resolve;

/// The WASI preview1 reactor adapter (`wasi_snapshot_preview1.reactor.wasm`)
/// for `wasm-tools component new --adapt`.
pub const REACTOR_ADAPTER: &[u8] = wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;

/// The adapter's file name, as `--adapt wasi_snapshot_preview1=FILE` wants it.
pub const REACTOR_ADAPTER_NAME: &str = "wasi_snapshot_preview1.reactor.wasm";

/// Generate the C bindings of `world` (for example `agent` or
/// `openshell:sandbox/agent`) from the WIT package in `wit` into `out_dir`
/// (created if missing). Returns the files written.
pub fn generate(wit: &Path, world: &str, out_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut resolve = Resolve::default();
    let (package, _) = resolve.push_path(wit).with_context(|| format!("cannot parse the WIT in {}", wit.display()))?;
    let world = resolve.select_world(&[package], Some(world)).with_context(|| format!("no world `{world}`"))?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default().build().generate(&mut resolve, world, &mut files)?;
    std::fs::create_dir_all(out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let mut written = Vec::new();
    for (name, contents) in files.iter() {
        let path = out_dir.join(name);
        write_if_changed(&path, contents)?;
        written.push(path);
    }
    Ok(written)
}

/// Write the reactor adapter to `path`.
pub fn write_adapter(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_if_changed(path, REACTOR_ADAPTER)
}

/// Leave an identical file alone, so `make`-style tools and editors do not
/// see a change.
fn write_if_changed(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    std::fs::write(path, contents).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_the_agent_bindings_and_the_adapter() {
        let out = std::env::temp_dir().join(format!("openshell-c-bindgen-test-{}", std::process::id()));
        let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
        let files = generate(&wit, "openshell:sandbox/agent", &out).unwrap();
        let names: Vec<String> = files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["agent.c", "agent.h", "agent_component_type.o"]);
        let header = std::fs::read_to_string(out.join("agent.h")).unwrap();
        assert!(
            header.contains("bool exports_agent_run(agent_string_t *input, agent_string_t *ret, agent_string_t *err);")
        );
        assert!(header.contains("openshell_sandbox_process_spawn("));
        // Writing the same files again leaves them alone.
        let before = std::fs::metadata(out.join("agent.h")).unwrap().modified().unwrap();
        generate(&wit, "agent", &out).unwrap();
        assert_eq!(std::fs::metadata(out.join("agent.h")).unwrap().modified().unwrap(), before);
        let adapter = out.join(REACTOR_ADAPTER_NAME);
        write_adapter(&adapter).unwrap();
        assert_eq!(&std::fs::read(&adapter).unwrap()[..4], b"\0asm");
        assert!(generate(&wit, "no-such-world", &out).is_err());
        std::fs::remove_dir_all(&out).unwrap();
    }
}
