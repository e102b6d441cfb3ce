//! The `openshell-wasm` command line, isolated from the user's
//! environment: its own config, state, cache and data directories, and
//! none of the variables that would point it at a gateway or change its
//! logging.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A temporary home for command-line tests: every command built here
/// uses directories inside it only.
#[derive(Debug)]
pub struct CliEnv {
    dir: tempfile::TempDir,
}

impl CliEnv {
    /// A fresh temporary directory.
    ///
    /// # Panics
    /// If it cannot be created.
    pub fn new() -> CliEnv {
        CliEnv { dir: tempfile::tempdir().expect("a temporary directory") }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `p` inside the directory.
    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// `program` (the binary under test: `env!("CARGO_BIN_EXE_openshell-wasm")`)
    /// with the XDG directories inside this environment and without any
    /// `OPENSHELL_*` variable or `RUST_LOG`.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        isolated(program, self.root())
    }
}

impl Default for CliEnv {
    fn default() -> Self {
        CliEnv::new()
    }
}

/// `program` with its XDG directories inside `home` and none of the
/// user's `OPENSHELL_*` variables or `RUST_LOG`.
pub fn isolated(program: impl AsRef<std::ffi::OsStr>, home: &Path) -> Command {
    let mut c = Command::new(program);
    for (var, dir) in [
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_DATA_HOME", "data"),
    ] {
        c.env(var, home.join(dir));
    }
    for (var, _) in std::env::vars_os() {
        if var.to_str().is_some_and(|v| v.starts_with("OPENSHELL_")) {
            c.env_remove(var);
        }
    }
    c.env_remove("RUST_LOG");
    c
}
