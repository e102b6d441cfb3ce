//! Where things live on disk by default: the XDG base directories, through
//! `etcetera`'s XDG strategy.
//!
//! XDG on every platform, macOS included, not the platform's native
//! folders: OpenShell's own CLI keeps its gateways in
//! `$XDG_CONFIG_HOME/openshell` (else `~/.config/openshell`) there too, and
//! this crate must find them; its own folders follow the same rule so that
//! they are where a command-line user looks.

use std::path::PathBuf;

use etcetera::base_strategy::{BaseStrategy, Xdg};

/// A kind of base directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    /// `$XDG_CONFIG_HOME`, else `~/.config`.
    Config,
    /// `$XDG_DATA_HOME`, else `~/.local/share`.
    Data,
    /// `$XDG_STATE_HOME`, else `~/.local/state`.
    State,
    /// `$XDG_CACHE_HOME`, else `~/.cache`.
    Cache,
}

impl Base {
    fn var(self) -> &'static str {
        match self {
            Base::Config => "XDG_CONFIG_HOME",
            Base::Data => "XDG_DATA_HOME",
            Base::State => "XDG_STATE_HOME",
            Base::Cache => "XDG_CACHE_HOME",
        }
    }
}

/// The base directory of `kind`: its variable when that holds an absolute
/// path, else its default under `$HOME`; `None` when neither is set.
pub(crate) fn base(kind: Base) -> Option<PathBuf> {
    if std::env::var_os("HOME").is_none() {
        // etcetera would look the home directory up in the user database
        // (or fail, ignoring the variable); without $HOME the rule stays
        // the variable or nothing, so callers' fallbacks and errors keep
        // their meaning.
        return std::env::var_os(kind.var()).map(PathBuf::from).filter(|p| p.is_absolute());
    }
    let xdg = Xdg::new().ok()?;
    match kind {
        Base::Config => Some(xdg.config_dir()),
        Base::Data => Some(xdg.data_dir()),
        Base::State => xdg.state_dir(),
        Base::Cache => Some(xdg.cache_dir()),
    }
}

/// `<base>/openshell-wasm/<what>`, or under the system's temporary
/// directory when there is no base directory (no `$HOME`).
pub(crate) fn ours(kind: Base, what: &str) -> PathBuf {
    base(kind).unwrap_or_else(std::env::temp_dir).join("openshell-wasm").join(what)
}

/// OpenShell's own configuration directory: `<config base>/openshell`.
pub(crate) fn openshell_config() -> Option<PathBuf> {
    base(Base::Config).map(|p| p.join("openshell"))
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::process::Command;

    use super::*;

    /// The environment is the input here, and setting it in this process
    /// would race other tests: each case runs this test binary again with
    /// the environment it needs, and the child prints what it finds.
    const PROBE: &str = "OPENSHELL_WASM_DIRS_PROBE";

    fn resolve_in(env: &[(&str, &str)]) -> Vec<String> {
        let mut c = Command::new(std::env::current_exe().unwrap());
        c.args(["--exact", "dirs::tests::paths_follow_the_variables_then_home", "--nocapture", "--test-threads=1"]);
        c.env_clear().env(PROBE, "1");
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        // libtest prints the test's name first, on the same line.
        let line = text.lines().find_map(|l| l.split_once("dirs: ").map(|(_, r)| r)).expect("the child's answer");
        line.split('|').map(str::to_string).collect()
    }

    #[test]
    fn paths_follow_the_variables_then_home() {
        if std::env::var_os(PROBE).is_some() {
            let shown = |p: Option<PathBuf>| p.map_or("-".to_string(), |p| p.display().to_string());
            let line = [
                shown(openshell_config()),
                shown(Some(ours(Base::Data, "snapshots"))),
                shown(Some(ours(Base::State, "local"))),
                shown(Some(ours(Base::Cache, "components"))),
            ]
            .join("|");
            std::io::stdout().write_all(format!("dirs: {line}\n").as_bytes()).unwrap();
            return;
        }
        assert_eq!(
            resolve_in(&[("HOME", "/h")]),
            [
                "/h/.config/openshell",
                "/h/.local/share/openshell-wasm/snapshots",
                "/h/.local/state/openshell-wasm/local",
                "/h/.cache/openshell-wasm/components"
            ]
        );
        let all = [
            ("HOME", "/h"),
            ("XDG_CONFIG_HOME", "/c"),
            ("XDG_DATA_HOME", "/d"),
            ("XDG_STATE_HOME", "/s"),
            ("XDG_CACHE_HOME", "/k"),
        ];
        assert_eq!(
            resolve_in(&all),
            ["/c/openshell", "/d/openshell-wasm/snapshots", "/s/openshell-wasm/local", "/k/openshell-wasm/components"]
        );
        // Relative values are ignored, as the specification says.
        assert_eq!(resolve_in(&[("HOME", "/h"), ("XDG_CONFIG_HOME", "rel")])[0], "/h/.config/openshell");
        // Without $HOME: the variable, else nothing (the config directory)
        // or the temporary directory (ours).
        assert_eq!(resolve_in(&[("XDG_CONFIG_HOME", "/c"), ("XDG_CACHE_HOME", "/k")])[0], "/c/openshell");
        assert_eq!(
            resolve_in(&[("TMPDIR", "/t")]),
            ["-", "/t/openshell-wasm/snapshots", "/t/openshell-wasm/local", "/t/openshell-wasm/components"]
        );
    }
}
