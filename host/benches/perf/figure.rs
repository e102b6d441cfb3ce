//! One benchmark result: our time, the baseline's, their ratio and the
//! target it is held to.

use serde::Serialize;

/// Which way a ratio has to go.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Goal {
    /// At most this.
    AtMost(f64),
    /// At least this.
    AtLeast(f64),
    /// Reported, no target.
    Report,
}

#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// `1`, `2`, `5b`, ...
    pub id: String,
    /// What is measured.
    pub name: String,
    /// Our side, human-readable.
    pub ours: String,
    /// The baseline, human-readable.
    pub baseline: String,
    /// The ratio, defined per figure (see `ratio_means`).
    pub ratio: f64,
    /// What the ratio is.
    pub ratio_means: String,
    pub goal: Goal,
    /// Whether the goal is met (`true` for reported figures).
    pub met: bool,
}

impl Figure {
    pub fn new(
        id: &str,
        name: &str,
        ours: String,
        baseline: String,
        ratio: f64,
        ratio_means: &str,
        goal: Goal,
    ) -> Self {
        let met = match goal {
            Goal::AtMost(t) => ratio <= t,
            Goal::AtLeast(t) => ratio >= t,
            Goal::Report => true,
        };
        Figure { id: id.into(), name: name.into(), ours, baseline, ratio, ratio_means: ratio_means.into(), goal, met }
    }

    pub fn target(&self) -> String {
        match self.goal {
            Goal::AtMost(t) => format!("<= {t}"),
            Goal::AtLeast(t) => format!(">= {t}"),
            Goal::Report => "-".into(),
        }
    }
}
