//! The registry on disk: one JSON file in the state directory, rewritten
//! atomically after every change, so a gateway killed at any point and
//! restarted on the same directory knows every sandbox it had.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::model::Registry;

/// Where the registry lives.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    path: PathBuf,
}

impl Store {
    /// The store of `state_dir` (`gateway.json` in it).
    pub(crate) fn new(state_dir: &Path) -> Self {
        Store { path: state_dir.join("gateway.json") }
    }

    /// The saved registry, or an empty one on first start.
    pub(crate) fn load(&self) -> anyhow::Result<Registry> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("{} is corrupt", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Registry::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", self.path.display())),
        }
    }

    /// Writes the registry (temp file + rename: never half-written).
    pub(crate) fn save(&self, registry: &Registry) -> anyhow::Result<()> {
        let json = serde_json::to_vec_pretty(registry)?;
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, json).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path).with_context(|| format!("cannot replace {}", self.path.display()))
    }
}
