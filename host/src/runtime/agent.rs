//! Loading components: validation, the compiled-component cache, what the
//! component is (an `agent` or a `wasi:cli/command`), and which of its
//! imports this host provides.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre, Linker};

use super::cache::ComponentCache;
use super::state::RunState;

/// What kind of component was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    /// Exports `run: func(input: string) -> result<string, string>` (world
    /// `openshell:sandbox/agent`).
    Agent,
    /// Exports `wasi:cli/run` (a command).
    Command,
    /// Exports functions for a caller and no entry point of its own
    /// (`openshell-wasm mcp --component` offers each as a tool; call one
    /// with [`RunRequest::call`](super::RunRequest::call)).
    Functions,
}

/// Where the compiled code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeSource {
    /// Already loaded in this process.
    Memory,
    /// The on-disk cache (compilation skipped).
    Cache,
    /// Compiled now (and stored in the cache).
    Compiled,
}

/// A loaded, ready-to-instantiate component. Cheap to clone.
#[derive(Clone)]
pub struct Agent {
    pub(crate) inner: Arc<AgentInner>,
    pub(crate) source: CodeSource,
    pub(crate) load_time: Duration,
}

pub(crate) struct AgentInner {
    pub name: String,
    pub hash: String,
    pub kind: AgentKind,
    /// What a [`AgentKind::Functions`] component exports (empty otherwise).
    pub functions: Vec<super::functions::ExportedFunction>,
    pub size: u64,
    pub pre: InstancePre<RunState>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("name", &self.inner.name)
            .field("kind", &self.inner.kind)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// The component's name (its file stem).
    pub fn name(&self) -> &str {
        &self.inner.name
    }
    /// Hex SHA-256 of the component's bytes.
    pub fn hash(&self) -> &str {
        &self.inner.hash
    }
    /// Agent, command, or functions.
    pub fn kind(&self) -> AgentKind {
        self.inner.kind
    }
    /// The functions a [`AgentKind::Functions`] component exports that can
    /// be called with JSON arguments (empty for other kinds).
    pub fn functions(&self) -> &[super::functions::ExportedFunction] {
        &self.inner.functions
    }
    /// Where its compiled code came from when it was loaded.
    pub fn code_source(&self) -> CodeSource {
        self.source
    }
    /// Size of the component in bytes.
    pub fn size(&self) -> u64 {
        self.inner.size
    }
    /// How long loading took (read, cache lookup or compile, link).
    pub fn load_time(&self) -> Duration {
        self.load_time
    }
}

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not a file we could read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not WebAssembly, or a core module rather than a component.
    #[error("{0}")]
    NotAComponent(String),
    /// wasmtime refused it (malformed, or uses unsupported features).
    #[error("invalid component: {0}")]
    Invalid(String),
    /// It needs imports this host does not provide.
    #[error("{0}")]
    MissingImports(String),
    /// It exports neither entry point.
    #[error("{0}")]
    NoEntryPoint(String),
}

/// Hex SHA-256.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Check the bytes are a component before handing them to Cranelift, so a
/// wrong file gets a precise message.
pub(crate) fn check_is_component(bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(LoadError::NotAComponent(
            "not a WebAssembly file (no `\\0asm` header); give the .wasm component your build produced".into(),
        ));
    }
    if wasmparser::Parser::is_core_wasm(bytes) {
        return Err(LoadError::NotAComponent(
            "this is a core WebAssembly module, not a component: build for `wasm32-wasip2`, or wrap it with \
             `wasm-tools component new` (plus the WASI preview1 adapter)"
                .into(),
        ));
    }
    if !wasmparser::Parser::is_component(bytes) {
        return Err(LoadError::NotAComponent("unknown WebAssembly encoding (not a component)".into()));
    }
    Ok(())
}

/// Compile (or fetch from `cache`) the component.
pub(crate) fn compile(
    engine: &Engine,
    cache: Option<&ComponentCache>,
    bytes: &[u8],
    hash: &str,
) -> Result<(Component, CodeSource), LoadError> {
    let key = ComponentCache::key(engine, hash);
    if let Some(cache) = cache
        && let Some(c) = cache.load(engine, &key)
    {
        return Ok((c, CodeSource::Cache));
    }
    let started = Instant::now();
    let component = Component::new(engine, bytes).map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "compiled component");
    if let Some(cache) = cache {
        cache.store(&key, &component);
    }
    Ok((component, CodeSource::Compiled))
}

/// Which entry point the component exports; without one, a component
/// that exports anything is a [`AgentKind::Functions`] component (whether
/// any of it is callable is decided when its functions are listed).
pub(crate) fn classify(engine: &Engine, component: &Component) -> Result<AgentKind, LoadError> {
    let ty = component.component_type();
    let mut names = Vec::new();
    for (name, ext) in ty.exports(engine) {
        match (name, &ext.ty) {
            ("run", ComponentItem::ComponentFunc(_)) => return Ok(AgentKind::Agent),
            (n, ComponentItem::ComponentInstance(_)) if n.starts_with("wasi:cli/run@0.2") => {
                return Ok(AgentKind::Command);
            }
            _ => names.push(name.to_string()),
        }
    }
    if !names.is_empty() {
        return Ok(AgentKind::Functions);
    }
    Err(LoadError::NoEntryPoint(
        "the component exports nothing: neither `run` (world openshell:sandbox/agent), `wasi:cli/run` (a command), \
         nor functions to call"
            .into(),
    ))
}

/// Whether this host provides an import of this name.
pub fn provided_import(name: &str) -> bool {
    const WASI: &[&str] =
        &["wasi:cli/", "wasi:clocks/", "wasi:filesystem/", "wasi:http/", "wasi:io/", "wasi:random/", "wasi:sockets/"];
    const OURS: &[&str] = &["types", "lifecycle", "process", "fs", "snapshot", "network", "log", "model", "providers"];
    if let Some((iface, version)) = name.split_once('@') {
        if WASI.iter().any(|p| iface.starts_with(p)) {
            return version.starts_with("0.2.");
        }
        if let Some(i) = iface.strip_prefix("openshell:sandbox/") {
            return OURS.contains(&i) && version.starts_with("0.1.");
        }
    }
    false
}

/// Link the component, with an error that lists what is missing.
pub(crate) fn link(
    engine: &Engine,
    linker: &Linker<RunState>,
    component: &Component,
) -> Result<InstancePre<RunState>, LoadError> {
    linker.instantiate_pre(component).map_err(|e| {
        let missing: Vec<String> = component
            .component_type()
            .imports(engine)
            .map(|(n, _)| n.to_string())
            .filter(|n| !provided_import(n))
            .collect();
        if missing.is_empty() {
            LoadError::MissingImports(format!("the component's imports do not match this host: {e:#}"))
        } else {
            LoadError::MissingImports(format!(
                "the component imports interfaces this host does not provide: {}. This host provides WASI 0.2 \
                 (cli, clocks, filesystem, http, io, random, sockets) and openshell:sandbox@0.1",
                missing.join(", ")
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provided_imports() {
        assert!(provided_import("wasi:io/streams@0.2.6"));
        assert!(provided_import("openshell:sandbox/fs@0.1.0"));
        assert!(provided_import("wasi:http/types@0.2.10"));
        assert!(provided_import("openshell:sandbox/model@0.1.1"));
        assert!(provided_import("openshell:sandbox/providers@0.1.2"));
        assert!(!provided_import("wasi:http/types@0.3.0"));
        assert!(!provided_import("openshell:sandbox/fs@0.2.0"));
        assert!(!provided_import("wasi:io/streams@0.3.0"));
        assert!(!provided_import("my:thing/x"));
    }

    #[test]
    fn non_components_are_named() {
        assert!(
            matches!(check_is_component(b"hello world"), Err(LoadError::NotAComponent(m)) if m.contains("not a WebAssembly"))
        );
        let core = [0u8, b'a', b's', b'm', 1, 0, 0, 0];
        assert!(
            matches!(check_is_component(&core), Err(LoadError::NotAComponent(m)) if m.contains("core WebAssembly module"))
        );
        let component = [0u8, b'a', b's', b'm', 0x0d, 0, 1, 0];
        assert!(check_is_component(&component).is_ok());
    }
}
