//! Compiled components on disk, so a second run of the same component skips
//! compilation (for a Python guest: milliseconds instead of seconds).
//!
//! The key is the SHA-256 of the component's bytes plus a hash of
//! everything in the engine that affects generated code (wasmtime's own
//! compatibility hash, which covers its version and configuration), so a
//! stale entry can never be used for a different component or engine.
//! Entries are written to a temporary file and renamed into place.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// An on-disk cache of compiled components.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
}

impl ComponentCache {
    /// Open (creating it, mode 0700) a cache in `dir`. The directory must be
    /// owned by the current user: its files are loaded as native code.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        let meta = std::fs::metadata(&dir)?;
        if meta.uid() != rustix::process::geteuid().as_raw() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{} is not owned by this user; refusing to load compiled code from it", dir.display()),
            ));
        }
        Ok(ComponentCache { dir })
    }

    /// `$XDG_CACHE_HOME/openshell-wasm/components`, else
    /// `~/.cache/openshell-wasm/components`.
    pub fn default_dir() -> PathBuf {
        crate::dirs::ours(crate::dirs::Base::Cache, "components")
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cache key for `content_hash` under `engine`.
    pub fn key(engine: &Engine, content_hash: &str) -> String {
        let mut h = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        format!("{content_hash}-{:016x}", h.finish())
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.cwasm"))
    }

    /// Load a compiled component, or `None` on a miss (or an unusable entry,
    /// which is removed).
    pub fn load(&self, engine: &Engine, key: &str) -> Option<Component> {
        let path = self.path(key);
        if !path.is_file() {
            return None;
        }
        match deserialize(engine, &path) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!("discarding unusable cache entry {}: {e}", path.display());
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Store a compiled component. Failures are logged, not fatal: the
    /// cache is an optimization.
    pub fn store(&self, key: &str, component: &Component) {
        let result = (|| -> wasmtime::Result<()> {
            let bytes = component.serialize()?;
            let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
            tmp.write_all(&bytes)?;
            tmp.as_file().sync_all()?;
            tmp.persist(self.path(key)).map_err(|e| e.error)?;
            Ok(())
        })();
        if let Err(e) = result {
            tracing::warn!("cannot write the compiled-component cache in {}: {e}", self.dir.display());
        }
    }
}

/// Map a compiled component from the cache.
#[allow(unsafe_code, reason = "wasmtime needs unsafe to map precompiled native code")]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: the file was produced by `Component::serialize` in `store`
    // above and lives in a directory private to this user (checked in
    // `open`), so it is as trusted as this binary. wasmtime itself checks
    // that the file was made by the same wasmtime version and a compatible
    // configuration, and the key includes the engine's compatibility hash.
    unsafe { Component::deserialize_file(engine, path) }
}
