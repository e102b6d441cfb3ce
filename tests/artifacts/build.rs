//! Build every test guest and example agent for `wasm32-wasip2` and write
//! `guests.rs`: one `pub const <NAME>: &str` path per component, plus a
//! `foreach_guest!` macro listing the test guests, so a test suite can
//! require one test per guest.
//!
//! Guests build with their own `cargo` invocation into `target/guest`
//! (a separate target directory, so the outer build's lock is not held
//! against it), with the `guest` profile.

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
    for dir in ["wit", "guest-sdk/rust", "tests/test-programs", "tests/command-program", "guest-examples/rust-agent"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!("cargo:rerun-if-changed={}", root.join("Cargo.lock").display());

    // (package, build args) per cargo invocation. The command program needs
    // its own invocation: it binds the imports-only world, and cargo would
    // unify features across packages built together.
    let builds: [&[&str]; 3] =
        [&["-p", "test-programs", "--examples"], &["-p", "command-program"], &["-p", "rust-agent"]];
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
    for (konst, file) in [("COMMAND_ECHO", "command_echo.wasm"), ("RUST_AGENT", "rust_agent.wasm")] {
        let path = out_dir.join(file);
        assert!(path.is_file(), "{} was not built", path.display());
        consts.push_str(&format!("/// `{file}`.\npub const {konst}: &str = {:?};\n", path.display().to_string()));
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
