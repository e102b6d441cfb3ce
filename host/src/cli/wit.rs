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
    ("world.wit", include_str!("../../../wit/world.wit")),
];

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
        out(&format!(
            "wrote the openshell:sandbox@0.1.0 WIT package ({} files) to {}",
            WIT_FILES.len(),
            self.dir.display()
        ));
        exit::OK
    }
}
