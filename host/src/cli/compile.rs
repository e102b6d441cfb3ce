//! `openshell-wasm compile`: fill the compiled-component cache.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::{exit, out, report};
use crate::backend::local::LocalBackend;
use crate::policy::units::parse_size;
use crate::runtime::{CodeSource, Host};

/// Arguments of `compile`.
#[derive(Debug, Args)]
pub struct CompileArgs {
    /// Components to compile.
    #[arg(required = true)]
    components: Vec<PathBuf>,
    /// Cache directory.
    #[arg(long, env = "OPENSHELL_WASM_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Most the cache keeps (e.g. `512 MiB`); past it the least recently
    /// used entries go. Default 1 GiB.
    #[arg(long, env = "OPENSHELL_WASM_CACHE_MAX_SIZE", value_name = "SIZE", value_parser = parse_size)]
    cache_max_size: Option<u64>,
}

impl CompileArgs {
    pub(super) async fn execute(self) -> u8 {
        // Compiling needs no sandbox; a local backend satisfies the builder
        // without touching anything until a run.
        let backend = match LocalBackend::new(std::env::temp_dir().join("openshell-wasm-compile")) {
            Ok(b) => b,
            Err(e) => {
                report(&e.to_string());
                return exit::BACKEND;
            }
        };
        let mut builder = Host::builder().backend(Arc::new(backend));
        if let Some(d) = &self.cache_dir {
            builder = builder.cache_dir(Some(d.clone()));
        }
        if let Some(max) = self.cache_max_size {
            builder = builder.cache_max_bytes(max);
        }
        let host = match builder.build() {
            Ok(h) => h,
            Err(e) => {
                report(&e.to_string());
                return exit::BACKEND;
            }
        };
        let mut code = exit::OK;
        for path in &self.components {
            match host.precompile(path).await {
                Ok(agent) => {
                    let how = match agent.code_source() {
                        CodeSource::Cache => "already cached",
                        CodeSource::Compiled | CodeSource::Memory => "compiled",
                    };
                    out(&format!(
                        "{}: {how} in {} ms ({:?})",
                        path.display(),
                        agent.load_time().as_millis(),
                        agent.kind()
                    ));
                }
                Err(e) => {
                    report(&format!("{}: {e}", path.display()));
                    code = exit::USAGE;
                }
            }
        }
        code
    }
}
