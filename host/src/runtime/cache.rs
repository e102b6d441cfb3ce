//! Compiled components on disk, so a second run of the same component skips
//! compilation (for a Python guest: milliseconds instead of seconds).
//!
//! The key is the SHA-256 of the component's bytes plus a hash of
//! everything in the engine that affects generated code (wasmtime's own
//! compatibility hash, which covers its version and configuration), so a
//! stale entry can never be used for a different component or engine.
//! Entries are written to a temporary file and renamed into place.
//!
//! The cache is bounded ([`DEFAULT_MAX_BYTES`] unless told otherwise): after
//! each new entry, the least recently used entries go until the rest fit.
//! An entry's modification time is its last use (a hit touches it; access
//! times are often not kept). Never evicted: the entry just written and any
//! entry this process loaded or wrote. Another process's entries in use
//! were touched when it loaded them, so they go last; and should one go,
//! the process keeps its mapping (removing a file only removes its name),
//! and no entry is ever rewritten in place.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::atomic_write::{self, Durability};

/// The default bound on the cache's size: room for a few dozen compiled
/// guests (a Python guest compiles to some tens of MiB).
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// An on-disk cache of compiled components.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
    max_bytes: u64,
    /// Keys this process loaded or stored, shared by clones: never evicted
    /// by this process.
    in_use: Arc<Mutex<HashSet<String>>>,
}

impl ComponentCache {
    /// Open (creating it, mode 0700) a cache in `dir`, bounded to
    /// [`DEFAULT_MAX_BYTES`]. The directory must be owned by the current
    /// user: its files are loaded as native code.
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
        Ok(ComponentCache { dir, max_bytes: DEFAULT_MAX_BYTES, in_use: Arc::default() })
    }

    /// Keep the cache's entries to at most `max_bytes` in all (the entry
    /// just written and those in use excepted).
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The bound on the cache's size.
    #[cfg(test)]
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// `$XDG_CACHE_HOME/openshell-wasm/components`, else
    /// `~/.cache/openshell-wasm/components`.
    pub fn default_dir() -> PathBuf {
        crate::dirs::ours(crate::dirs::Base::Cache, "components")
    }

    /// The cache directory.
    #[cfg(test)]
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
        self.dir.join(format!("{key}{SUFFIX}"))
    }

    fn hold(&self, key: &str) {
        self.in_use.lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_string());
    }

    /// Load a compiled component, or `None` on a miss (or an unusable entry,
    /// which is removed).
    pub fn load(&self, engine: &Engine, key: &str) -> Option<Component> {
        let path = self.path(key);
        if !path.is_file() {
            return None;
        }
        match deserialize(engine, &path) {
            Ok(c) => {
                self.hold(key);
                if let Err(e) = touch(&path) {
                    tracing::debug!("cannot mark {} as used: {e}", path.display());
                }
                Some(c)
            }
            Err(e) => {
                tracing::warn!("discarding unusable cache entry {}: {e}", path.display());
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Store a compiled component, then evict what no longer fits. Failures
    /// are logged, not fatal: the cache is an optimization.
    pub fn store(&self, key: &str, component: &Component) {
        let result = component
            .serialize()
            .and_then(|bytes| atomic_write::write(&self.path(key), &bytes, Durability::Durable).map_err(Into::into));
        if let Err(e) = result {
            tracing::warn!("cannot write the compiled-component cache in {}: {e}", self.dir.display());
            return;
        }
        self.hold(key);
        if let Err(e) = self.evict() {
            tracing::warn!("cannot trim the compiled-component cache in {}: {e}", self.dir.display());
        }
    }

    /// Remove the least recently used entries, not held by this process,
    /// until the rest fit in `max_bytes`.
    fn evict(&self) -> std::io::Result<()> {
        let mut entries = Vec::new();
        let mut total = 0u64;
        for e in std::fs::read_dir(&self.dir)? {
            let e = e?;
            let name = e.file_name();
            let Some(key) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)) else { continue };
            // Another process may remove an entry meanwhile.
            let Ok(meta) = e.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            total += meta.len();
            entries.push((meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), key.to_string(), meta.len()));
        }
        if total <= self.max_bytes {
            return Ok(());
        }
        entries.sort();
        let held = self.in_use.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for (_, key, len) in entries {
            if total <= self.max_bytes {
                break;
            }
            if held.contains(&key) {
                continue;
            }
            match std::fs::remove_file(self.path(&key)) {
                Ok(()) => tracing::debug!(key, bytes = len, "evicted a compiled component from the cache"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            total -= len;
        }
        Ok(())
    }
}

/// The file name suffix of entries.
const SUFFIX: &str = ".cwasm";

/// Mark a file as just used.
fn touch(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.set_modified(SystemTime::now())
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A cache bounded to `max` bytes holding `entries` (key, size, age in
    /// seconds).
    fn cache_with(max: u64, entries: &[(&str, usize, u64)]) -> (tempfile::TempDir, ComponentCache) {
        let dir = tempfile::tempdir().unwrap();
        let cache = ComponentCache::open(dir.path().join("c")).unwrap().with_max_bytes(max);
        for (key, size, age) in entries {
            let path = cache.path(key);
            std::fs::write(&path, vec![0u8; *size]).unwrap();
            let at = SystemTime::now() - Duration::from_secs(*age);
            std::fs::File::options().write(true).open(&path).unwrap().set_modified(at).unwrap();
        }
        (dir, cache)
    }

    fn keys(cache: &ComponentCache) -> Vec<String> {
        let mut k: Vec<String> = std::fs::read_dir(cache.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().trim_end_matches(SUFFIX).to_string())
            .collect();
        k.sort();
        k
    }

    #[test]
    fn the_least_recently_used_entries_go_until_the_rest_fit() {
        let (_d, cache) = cache_with(250, &[("a", 100, 300), ("b", 100, 100), ("c", 100, 200), ("d", 50, 400)]);
        cache.evict().unwrap();
        // 350 bytes: d (oldest) and then a go, leaving 200.
        assert_eq!(keys(&cache), ["b", "c"]);
        // Within the bound nothing goes.
        cache.evict().unwrap();
        assert_eq!(keys(&cache), ["b", "c"]);
    }

    #[test]
    fn a_hit_makes_an_entry_recent() {
        let (_d, cache) = cache_with(200, &[("a", 100, 300), ("b", 100, 200), ("c", 100, 100)]);
        touch(&cache.path("a")).unwrap();
        cache.evict().unwrap();
        assert_eq!(keys(&cache), ["a", "c"]);
    }

    #[test]
    fn entries_in_use_and_the_new_entry_are_never_evicted() {
        let (_d, cache) = cache_with(100, &[("old", 100, 300), ("new", 500, 0), ("other", 100, 200)]);
        cache.hold("old");
        cache.hold("new");
        cache.evict().unwrap();
        // Over the bound still, but only what this process holds is left.
        assert_eq!(keys(&cache), ["new", "old"]);
        // Clones share what is held.
        let clone = cache.clone().with_max_bytes(0);
        clone.evict().unwrap();
        assert_eq!(keys(&cache), ["new", "old"]);
    }

    #[test]
    fn other_files_are_left_alone_and_not_counted() {
        let (_d, cache) = cache_with(100, &[("a", 100, 300)]);
        std::fs::write(cache.dir().join(".tmp123"), vec![0u8; 1000]).unwrap();
        cache.evict().unwrap();
        assert_eq!(keys(&cache), [".tmp123", "a"]);
    }

    #[test]
    fn the_default_bound_is_one_gib() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ComponentCache::open(dir.path()).unwrap().max_bytes(), 1 << 30);
    }
}
