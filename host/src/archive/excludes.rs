//! Exclude patterns for snapshots: which paths below a root to leave out.

use crate::glob::matches as glob;

/// A set of exclude patterns, relative to an archive root.
///
/// - A pattern without `/` (`node_modules`, `*.pyc`) matches that name at
///   any depth.
/// - A pattern with `/` (`build/cache`, `/dist`) matches that path from the
///   root only (a leading `/` is just an anchor).
/// - `*` matches any run of characters within one name, `?` one character.
/// - A matching directory is excluded with everything below it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Excludes {
    anywhere: Vec<String>,
    anchored: Vec<Vec<String>>,
}

impl Excludes {
    /// Parse patterns. Empty patterns and `.` are ignored; patterns with
    /// `..` are rejected, since they could never match inside the root.
    pub fn new(patterns: &[String]) -> Result<Self, String> {
        let mut ex = Excludes::default();
        for p in patterns {
            if p.contains('\0') {
                return Err(format!("exclude pattern {p:?} contains a NUL byte"));
            }
            let trimmed = p.trim_end_matches('/');
            let anchored = trimmed.contains('/');
            let parts: Vec<String> =
                trimmed.split('/').filter(|s| !s.is_empty() && *s != ".").map(str::to_string).collect();
            if parts.iter().any(|s| s == "..") {
                return Err(format!("exclude pattern `{p}` contains `..`"));
            }
            match (anchored, parts.len()) {
                (_, 0) => {}
                (false, _) => ex.anywhere.push(parts.into_iter().next().unwrap_or_default()),
                (true, _) => ex.anchored.push(parts),
            }
        }
        Ok(ex)
    }

    /// True when there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.anywhere.is_empty() && self.anchored.is_empty()
    }

    /// Whether the relative path `rel` (`a/b/c`) or any of its parents is
    /// excluded.
    pub fn matches(&self, rel: &str) -> bool {
        let parts: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
        if parts.iter().any(|name| self.anywhere.iter().any(|pat| glob(pat, name))) {
            return true;
        }
        self.anchored
            .iter()
            .any(|pat| pat.len() <= parts.len() && pat.iter().zip(&parts).all(|(p, name)| glob(p, name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(p: &[&str]) -> Excludes {
        Excludes::new(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn names_match_at_any_depth() {
        let e = ex(&["node_modules", "*.pyc"]);
        assert!(e.matches("node_modules"));
        assert!(e.matches("a/node_modules/x/y"));
        assert!(e.matches("pkg/mod.pyc"));
        assert!(!e.matches("pkg/mod.py"));
        assert!(!e.matches("node_modules_x"));
    }

    #[test]
    fn paths_are_anchored() {
        let e = ex(&["build/cache", "/dist"]);
        assert!(e.matches("build/cache"));
        assert!(e.matches("build/cache/x"));
        assert!(!e.matches("a/build/cache"));
        assert!(e.matches("dist/app.js"));
        assert!(!e.matches("src/dist"));
    }

    #[test]
    fn dotdot_is_rejected() {
        assert!(Excludes::new(&["../x".to_string()]).is_err());
        assert!(ex(&["", ".", "/"]).is_empty());
    }
}
