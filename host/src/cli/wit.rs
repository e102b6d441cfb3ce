//! `openshell-wasm wit`: write the WIT package guests build against.

use std::path::PathBuf;

use clap::Args;

use super::{exit, out, report};

/// The WIT files, embedded at build time.
pub const WIT_FILES: &[(&str, &str)] = &[
    ("types.wit", include_str!("../../../wit/types.wit")),
    ("lifecycle.wit", include_str!("../../../wit/lifecycle.wit")),
    ("process.wit", include_str!("../../../wit/process.wit")),
    ("fs.wit", include_str!("../../../wit/fs.wit")),
    ("snapshot.wit", include_str!("../../../wit/snapshot.wit")),
    ("network.wit", include_str!("../../../wit/network.wit")),
    ("log.wit", include_str!("../../../wit/log.wit")),
    ("model.wit", include_str!("../../../wit/model.wit")),
    ("providers.wit", include_str!("../../../wit/providers.wit")),
    ("world.wit", include_str!("../../../wit/world.wit")),
];

/// `openshell:sandbox@VERSION`, as the package declares itself.
fn package_name() -> &'static str {
    WIT_FILES[0].1.lines().find_map(|l| l.strip_prefix("package ")?.strip_suffix(';')).unwrap_or("openshell:sandbox")
}

/// Arguments of `wit`.
#[derive(Debug, Args)]
pub struct WitArgs {
    /// Directory to write into (created if missing).
    #[arg(default_value = "wit")]
    dir: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

impl WitArgs {
    pub(super) fn execute(self) -> u8 {
        if let Err(e) = std::fs::create_dir_all(&self.dir) {
            report(&format!("cannot create {}: {e}", self.dir.display()));
            return exit::BACKEND;
        }
        for (name, text) in WIT_FILES {
            let path = self.dir.join(name);
            if path.exists() && !self.force {
                report(&format!("{} exists; use --force to overwrite", path.display()));
                return exit::USAGE;
            }
            if let Err(e) = std::fs::write(&path, text) {
                report(&format!("cannot write {}: {e}", path.display()));
                return exit::BACKEND;
            }
        }
        out(&format!("wrote the {} WIT package ({} files) to {}", package_name(), WIT_FILES.len(), self.dir.display()));
        exit::OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wit_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".wit"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = WIT_FILES.iter().map(|(n, _)| n.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk);
        assert!(package_name().starts_with("openshell:sandbox@0."), "{}", package_name());
    }
}
