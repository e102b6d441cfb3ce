//! `openshell-wasm new`: start an agent project in Rust, Python, JavaScript
//! or C — from a minimal working agent, or (Rust and Python) from the coding
//! agent — with the WIT package, a build script, a policy and a README, all
//! embedded in the binary.
//!
//! The build scripts (and, for JavaScript, the pinned npm lock file; for C,
//! the bindings generator) are the very files the example agents in
//! `guest-examples/` build with, so the test suite's builds of those
//! examples exercise them too. The coding-agent templates are the example
//! coding agents themselves; the Rust one vendors the guest SDK
//! (`guest-sdk/rust`), which the project cannot reach by path.

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

/// What a new project starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Template {
    /// A minimal agent: it counts its input's words with `wc` in its sandbox.
    #[default]
    Minimal,
    /// The coding agent: a model, called through the host, changes and tests code in the sandbox
    /// (rust and python only).
    Agent,
}

/// Arguments of `new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The agent's language.
    #[arg(long, value_enum)]
    lang: Lang,
    /// What the project starts from.
    #[arg(long, value_enum, default_value_t = Template::Minimal)]
    template: Template,
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

/// The Rust coding agent: `guest-examples/coding-agent`'s sources, with the
/// guest SDK vendored two levels down, where its `path: "../../wit"` finds
/// the project's `wit/`.
const RUST_AGENT: &[TemplateFile] = &[
    ("Cargo.toml", include_str!("../../templates/rust-coding-agent/Cargo.toml.in"), false),
    ("src/lib.rs", include_str!("../../../guest-examples/coding-agent/src/lib.rs"), false),
    ("src/agent_loop.rs", include_str!("../../../guest-examples/coding-agent/src/agent_loop.rs"), false),
    ("src/host.rs", include_str!("../../../guest-examples/coding-agent/src/host.rs"), false),
    ("src/report.rs", include_str!("../../../guest-examples/coding-agent/src/report.rs"), false),
    ("src/tools.rs", include_str!("../../../guest-examples/coding-agent/src/tools.rs"), false),
    (SDK_MANIFEST, include_str!("../../templates/rust-coding-agent/sdk/Cargo.toml.in"), false),
    ("vendor/openshell-sandbox-guest/src/lib.rs", include_str!("../../../guest-sdk/rust/src/lib.rs"), false),
    ("vendor/openshell-sandbox-guest/src/command.rs", include_str!("../../../guest-sdk/rust/src/command.rs"), false),
    ("vendor/openshell-sandbox-guest/src/files.rs", include_str!("../../../guest-sdk/rust/src/files.rs"), false),
    ("vendor/openshell-sandbox-guest/src/logging.rs", include_str!("../../../guest-sdk/rust/src/logging.rs"), false),
    ("vendor/openshell-sandbox-guest/src/model.rs", include_str!("../../../guest-sdk/rust/src/model.rs"), false),
    ("build.sh", include_str!("../../templates/rust/build.sh"), true),
    (".gitignore", include_str!("../../templates/rust/gitignore"), false),
    ("README.md", include_str!("../../templates/rust-coding-agent/README.md"), false),
    ("policy.toml", include_str!("../../../guest-examples/coding-agent/policy.toml"), false),
];

/// Where the Rust coding agent's vendored SDK lives.
const SDK_MANIFEST: &str = "vendor/openshell-sandbox-guest/Cargo.toml";

/// The Python coding agent: `guest-examples/python-coding-agent` as it is.
const PYTHON_AGENT: &[TemplateFile] = &[
    ("app.py", include_str!("../../../guest-examples/python-coding-agent/app.py"), false),
    ("logic.py", include_str!("../../../guest-examples/python-coding-agent/logic.py"), false),
    ("test_logic.py", include_str!("../../../guest-examples/python-coding-agent/test_logic.py"), false),
    ("build.sh", include_str!("../../../guest-examples/python-coding-agent/build.sh"), true),
    (".gitignore", include_str!("../../../guest-examples/python-coding-agent/.gitignore"), false),
    ("pyrightconfig.json", include_str!("../../../guest-examples/python-coding-agent/pyrightconfig.json"), false),
    ("README.md", include_str!("../../templates/python-coding-agent/README.md"), false),
    ("policy.toml", include_str!("../../../guest-examples/python-coding-agent/policy.toml"), false),
];

impl Lang {
    /// The files of `template` in this language, if it has that template.
    fn files(self, template: Template) -> Option<&'static [TemplateFile]> {
        match (template, self) {
            (Template::Minimal, Lang::Rust) => Some(RUST),
            (Template::Minimal, Lang::Python) => Some(PYTHON),
            (Template::Minimal, Lang::Js) => Some(JS),
            (Template::Minimal, Lang::C) => Some(C),
            (Template::Agent, Lang::Rust) => Some(RUST_AGENT),
            (Template::Agent, Lang::Python) => Some(PYTHON_AGENT),
            (Template::Agent, Lang::Js | Lang::C) => None,
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

impl Template {
    /// What `new` prints after the build step: how to run the component.
    fn next_steps(self) -> &'static [&'static str] {
        match self {
            Template::Minimal => {
                &["  openshell-wasm run agent.wasm --input \"hello sandbox world\" --policy policy.toml"]
            }
            Template::Agent => &[
                "  export OPENAI_API_KEY=...   # or point policy.toml at a local model server (README.md)",
                "  openshell-wasm run agent.wasm --policy policy.toml --seed ./project:. \\",
                "      --input \"make the failing test pass\"   # ./project: the code to work on",
            ],
        }
    }
    fn name(self) -> &'static str {
        match self {
            Template::Minimal => "agent",
            Template::Agent => "coding agent",
        }
    }
}

/// The usage error for a language without `template`: it names the
/// languages that have it, as the command line spells them.
fn missing_template(lang: Lang, template: Template) -> String {
    let having: Vec<String> = Lang::value_variants()
        .iter()
        .filter(|l| l.files(template).is_some())
        .map(|l| format!("--lang {}", spelled(l)))
        .collect();
    format!(
        "there is no {} template in {}: --template {} is available with {}",
        template.name(),
        lang.name(),
        spelled(&template),
        having.join(" or ")
    )
}

/// A value as the command line spells it (`js`, `agent`).
fn spelled(value: &impl ValueEnum) -> String {
    value.to_possible_value().map(|p| p.get_name().to_string()).unwrap_or_default()
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

/// Every file of a project from `template` in `dir`: path, contents,
/// executable.
fn project(template: &[TemplateFile], dir: &Path) -> Vec<(String, String, bool)> {
    let name = package_name(dir);
    let mut files: Vec<(String, String, bool)> =
        template.iter().map(|(path, text, exec)| (path.to_string(), text.replace("{{name}}", &name), *exec)).collect();
    for (file, text) in super::wit::WIT_FILES {
        files.push((format!("wit/{file}"), text.to_string(), false));
    }
    files
}

impl NewArgs {
    pub(super) fn execute(self) -> u8 {
        let Some(template) = self.lang.files(self.template) else {
            report(&missing_template(self.lang, self.template));
            return exit::USAGE;
        };
        let occupied = std::fs::read_dir(&self.dir).is_ok_and(|mut entries| entries.next().is_some());
        if occupied && !self.force {
            report(&format!(
                "{} is not empty; choose a new directory, or use --force to write into it",
                self.dir.display()
            ));
            return exit::USAGE;
        }
        for (path, text, executable) in project(template, &self.dir) {
            let path = self.dir.join(path);
            if let Err(e) = write(&path, &text, executable) {
                report(&format!("cannot write {}: {e}", path.display()));
                return exit::BACKEND;
            }
        }
        let dir = self.dir.display();
        out(&format!("created a {} {} in {dir}", self.lang.name(), self.template.name()));
        out("build it and run it on the local backend:");
        out(&format!("  cd {dir} && ./build.sh"));
        for line in self.template.next_steps() {
            out(line);
        }
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

    /// Every template of every language, with what it is.
    fn every_template() -> Vec<(Lang, Template, &'static [TemplateFile])> {
        let mut all = Vec::new();
        for &lang in Lang::value_variants() {
            for &template in Template::value_variants() {
                if let Some(files) = lang.files(template) {
                    all.push((lang, template, files));
                }
            }
        }
        all
    }

    #[test]
    fn every_project_has_wit_build_script_readme_and_policy() {
        let all = every_template();
        assert_eq!(all.len(), 6, "four minimal templates, two coding agents");
        for (lang, template, files) in all {
            let files = project(files, Path::new("demo"));
            for needed in ["build.sh", "README.md", "policy.toml", "wit/world.wit", "wit/model.wit"] {
                assert!(files.iter().any(|(p, _, _)| p == needed), "{lang:?} {template:?} lacks {needed}");
            }
            assert!(files.iter().all(|(_, text, _)| !text.contains("{{name}}")), "{lang:?} {template:?}");
            assert!(files.iter().any(|(p, _, exec)| p == "build.sh" && *exec));
        }
        for template in [Template::Minimal, Template::Agent] {
            let rust = project(Lang::Rust.files(template).unwrap(), Path::new("demo"));
            assert!(rust.iter().any(|(p, t, _)| p == "Cargo.toml" && t.contains("name = \"demo\"")));
        }
    }

    /// The embedded Rust sources name no module the template lacks (a file
    /// added to the coding agent or the SDK must be added here too).
    #[test]
    fn rust_templates_have_every_module() {
        for (lang, template, files) in every_template() {
            let paths: Vec<&str> = files.iter().map(|(p, _, _)| *p).collect();
            for (path, text, _) in files.iter().filter(|(p, _, _)| p.ends_with("/lib.rs")) {
                let dir = path.trim_end_matches("lib.rs");
                for line in text.lines() {
                    if let Some(module) = line.trim().strip_prefix("mod ").and_then(|m| m.strip_suffix(';')) {
                        let file = format!("{dir}{module}.rs");
                        assert!(paths.contains(&file.as_str()), "{lang:?} {template:?}: {path} needs {file}");
                    }
                }
            }
        }
    }

    /// The vendored SDK generates its bindings from `../../wit`, relative
    /// to its manifest: that must be the project's `wit/`.
    #[test]
    fn the_vendored_sdk_finds_the_projects_wit() {
        let lib = RUST_AGENT.iter().find(|(p, _, _)| p.ends_with("openshell-sandbox-guest/src/lib.rs")).unwrap().1;
        let manifest_dir = Path::new(SDK_MANIFEST).parent().unwrap();
        let wit_paths: Vec<&str> =
            lib.lines().filter_map(|l| l.trim().strip_prefix("path: \"")?.strip_suffix("\",")).collect();
        assert!(!wit_paths.is_empty(), "the SDK names no WIT path");
        for wit in wit_paths {
            let mut resolved = PathBuf::new();
            for part in manifest_dir.join(wit).components() {
                match part {
                    std::path::Component::ParentDir => assert!(resolved.pop(), "{wit} leaves the project"),
                    other => resolved.push(other),
                }
            }
            assert_eq!(resolved, Path::new("wit"), "{wit}");
        }
        let agent = RUST_AGENT.iter().find(|(p, _, _)| *p == "Cargo.toml").unwrap().1;
        assert!(agent.contains(&format!("path = {:?}", manifest_dir.display().to_string())));
    }

    #[test]
    fn a_missing_template_names_the_languages_that_have_it() {
        assert_eq!(Lang::Js.files(Template::Agent), None);
        assert_eq!(
            missing_template(Lang::Js, Template::Agent),
            "there is no coding agent template in JavaScript: \
             --template agent is available with --lang rust or --lang python"
        );
    }
}
