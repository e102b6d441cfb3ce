//! `openshell-wasm new`: start an agent project in Rust, Python, JavaScript
//! or C — a minimal working agent, the WIT package, a build script, a
//! policy and a README, all embedded in the binary.
//!
//! The build scripts (and, for JavaScript, the pinned npm lock file; for C,
//! the bindings generator) are the very files the example agents in
//! `guest-examples/` build with, so the test suite's builds of those
//! examples exercise them too.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::{exit, out, report};

/// The language of a new agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// Rust, with wit-bindgen (wasm32-wasip2).
    Rust,
    /// Python, with componentize-py.
    Python,
    /// JavaScript, with jco (QuickJS).
    Js,
    /// C, with wit-bindgen's C generator and clang (wasm32-wasi + adapter).
    C,
}

/// Arguments of `new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The agent's language.
    #[arg(long, value_enum)]
    lang: Lang,
    /// Directory to create the project in (missing or empty).
    dir: PathBuf,
    /// Write into a non-empty directory, replacing files of the same names.
    #[arg(long)]
    force: bool,
}

/// One file of a template: path in the project, contents, executable.
type TemplateFile = (&'static str, &'static str, bool);

const POLICY: TemplateFile = ("policy.toml", include_str!("../../templates/policy.toml"), false);

const RUST: &[TemplateFile] = &[
    ("Cargo.toml", include_str!("../../templates/rust/Cargo.toml.in"), false),
    ("src/lib.rs", include_str!("../../templates/rust/src/lib.rs"), false),
    ("build.sh", include_str!("../../templates/rust/build.sh"), true),
    (".gitignore", include_str!("../../templates/rust/gitignore"), false),
    ("README.md", include_str!("../../templates/rust/README.md"), false),
    POLICY,
];

const PYTHON: &[TemplateFile] = &[
    ("app.py", include_str!("../../templates/python/app.py"), false),
    ("build.sh", include_str!("../../../guest-examples/python-agent/build.sh"), true),
    (".gitignore", include_str!("../../../guest-examples/python-agent/.gitignore"), false),
    ("pyrightconfig.json", include_str!("../../../guest-examples/python-agent/pyrightconfig.json"), false),
    ("README.md", include_str!("../../templates/python/README.md"), false),
    POLICY,
];

const JS: &[TemplateFile] = &[
    ("app.js", include_str!("../../templates/js/app.js"), false),
    ("build.sh", include_str!("../../../guest-examples/js-agent/build.sh"), true),
    ("package.json", include_str!("../../../guest-examples/js-agent/package.json"), false),
    ("package-lock.json", include_str!("../../../guest-examples/js-agent/package-lock.json"), false),
    ("jco-preopen.mjs", include_str!("../../../guest-examples/js-agent/jco-preopen.mjs"), false),
    ("jsconfig.json", include_str!("../../../guest-examples/js-agent/jsconfig.json"), false),
    (".gitignore", include_str!("../../../guest-examples/js-agent/.gitignore"), false),
    ("README.md", include_str!("../../templates/js/README.md"), false),
    POLICY,
];

const C: &[TemplateFile] = &[
    ("agent.c", include_str!("../../templates/c/agent.c"), false),
    ("build.sh", include_str!("../../../guest-examples/c-agent/build.sh"), true),
    ("tools/Cargo.toml", include_str!("../../templates/c/tools/Cargo.toml.in"), false),
    ("tools/src/lib.rs", include_str!("../../../guest-sdk/c/src/lib.rs"), false),
    ("tools/src/main.rs", include_str!("../../../guest-sdk/c/src/main.rs"), false),
    (".gitignore", include_str!("../../../guest-examples/c-agent/.gitignore"), false),
    ("README.md", include_str!("../../templates/c/README.md"), false),
    POLICY,
];

impl Lang {
    fn files(self) -> &'static [TemplateFile] {
        match self {
            Lang::Rust => RUST,
            Lang::Python => PYTHON,
            Lang::Js => JS,
            Lang::C => C,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::Python => "Python",
            Lang::Js => "JavaScript",
            Lang::C => "C",
        }
    }
}

/// A Cargo package name from the directory's name: lowercase `[a-z0-9-]`,
/// starting with a letter.
fn package_name(dir: &Path) -> String {
    let raw = dir.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let mapped: String = raw.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' }).collect();
    let trimmed = mapped.trim_matches('-');
    let name = if trimmed.starts_with(|c: char| c.is_ascii_lowercase()) {
        trimmed.to_string()
    } else {
        format!("agent-{trimmed}")
    };
    name.trim_end_matches('-').to_string()
}

/// Every file of the project for `lang` in `dir`: path and contents.
fn project(lang: Lang, dir: &Path) -> Vec<(String, String, bool)> {
    let name = package_name(dir);
    let mut files: Vec<(String, String, bool)> = lang
        .files()
        .iter()
        .map(|(path, text, exec)| (path.to_string(), text.replace("{{name}}", &name), *exec))
        .collect();
    for (file, text) in super::wit::WIT_FILES {
        files.push((format!("wit/{file}"), text.to_string(), false));
    }
    files
}

impl NewArgs {
    pub(super) fn execute(self) -> u8 {
        let occupied = std::fs::read_dir(&self.dir).is_ok_and(|mut entries| entries.next().is_some());
        if occupied && !self.force {
            report(&format!(
                "{} is not empty; choose a new directory, or use --force to write into it",
                self.dir.display()
            ));
            return exit::USAGE;
        }
        for (path, text, executable) in project(self.lang, &self.dir) {
            let path = self.dir.join(path);
            if let Err(e) = write(&path, &text, executable) {
                report(&format!("cannot write {}: {e}", path.display()));
                return exit::BACKEND;
            }
        }
        let dir = self.dir.display();
        out(&format!("created a {} agent in {dir}", self.lang.name()));
        out("build it and run it on the local backend:");
        out(&format!("  cd {dir} && ./build.sh"));
        out("  openshell-wasm run agent.wasm --input \"hello sandbox world\" --policy policy.toml");
        out("README.md says what it needs and what to do next");
        exit::OK
    }
}

fn write(path: &Path, text: &str, executable: bool) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)?;
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_are_valid() {
        assert_eq!(package_name(Path::new("/tmp/My Agent")), "my-agent");
        assert_eq!(package_name(Path::new("agent_2")), "agent_2");
        assert_eq!(package_name(Path::new("9lives")), "agent-9lives");
        assert_eq!(package_name(Path::new("--")), "agent");
        assert_eq!(package_name(Path::new("/")), "agent");
    }

    #[test]
    fn every_project_has_wit_build_script_readme_and_policy() {
        for lang in [Lang::Rust, Lang::Python, Lang::Js, Lang::C] {
            let files = project(lang, Path::new("demo"));
            for needed in ["build.sh", "README.md", "policy.toml", "wit/world.wit", "wit/types.wit"] {
                assert!(files.iter().any(|(p, _, _)| p == needed), "{lang:?} lacks {needed}");
            }
            assert!(files.iter().all(|(_, text, _)| !text.contains("{{name}}")), "{lang:?}");
            assert!(files.iter().any(|(p, _, exec)| p == "build.sh" && *exec));
        }
        let rust = project(Lang::Rust, Path::new("demo"));
        assert!(rust.iter().any(|(p, t, _)| p == "Cargo.toml" && t.contains("name = \"demo\"")));
    }
}
