//! Requests for network access that a person decides. A guest's
//! `network.request-access` records one here; the operator answers with
//! `openshell-wasm approvals approve|reject`; the host that made the request
//! sees the answer and, when approved, adds the rule to the sandbox.
//!
//! The store is a directory both processes see
//! (`$XDG_STATE_HOME/openshell-wasm/approvals` by default): per request an
//! `ID.json` written once, and an `ID.decision.json` created once. The
//! decision file is linked into place only if it does not exist yet, so the
//! first answer wins: the operator's, or the host's rejection when the
//! request's time ran out. Both sides read the winner back, so they never
//! disagree.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::atomic_write::{self, Durability};
use crate::backend::local::now_ms;
use crate::error::{Result, SandboxError};

/// How often a waiting host looks for an answer.
const POLL: Duration = Duration::from_millis(200);

/// A request for network access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    /// `acc-<16 hex digits>`.
    pub id: String,
    /// When it was made (ms since the epoch).
    pub created_ms: u64,
    /// When it is rejected if nobody answered (ms since the epoch).
    pub expires_ms: u64,
    /// The run that asked.
    pub run_id: String,
    /// The component that asked.
    pub component: String,
    /// The sandbox the access is for.
    pub sandbox: String,
    /// Its backend.
    pub backend: String,
    /// Host name or IP.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// HTTP method the rule is narrowed to.
    pub method: Option<String>,
    /// HTTP path glob the rule is narrowed to.
    pub path: Option<String>,
    /// Why the agent asks, in its own words.
    pub reason: String,
}

impl AccessRequest {
    /// Its time to be answered has run out.
    pub fn expired(&self) -> bool {
        now_ms() >= self.expires_ms
    }
}

/// What was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Nobody has answered.
    Pending,
    /// Access granted.
    Approved,
    /// Access refused, or no answer in time.
    Rejected,
}

impl Decision {
    /// `pending`, `approved` or `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Pending => "pending",
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        }
    }
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// Approved or rejected.
    pub decision: Decision,
    /// The operator's note, or why the host rejected it.
    pub note: String,
    /// When (ms since the epoch).
    pub decided_ms: u64,
    /// A person decided (not the host, for lack of an answer).
    #[serde(default)]
    pub by_operator: bool,
}

/// A request with its answer, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The request.
    #[serde(flatten)]
    pub request: AccessRequest,
    /// Its answer.
    pub answer: Option<Answer>,
}

impl Entry {
    /// Pending, approved or rejected.
    pub fn decision(&self) -> Decision {
        self.answer.as_ref().map_or(Decision::Pending, |a| a.decision)
    }
}

/// The directory of requests.
#[derive(Debug, Clone)]
pub struct ApprovalStore {
    dir: PathBuf,
}

fn io_error(op: &str, what: &str, path: &Path, e: &std::io::Error) -> SandboxError {
    SandboxError::backend(op, "io", format!("cannot {what} {}: {e}", path.display()))
}

impl ApprovalStore {
    /// The store at `dir`; the directory is made (readable by this user
    /// only) when the first request is recorded.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ApprovalStore { dir: dir.into() }
    }

    /// `$XDG_STATE_HOME/openshell-wasm/approvals`.
    pub fn default_dir() -> PathBuf {
        crate::dirs::ours(crate::dirs::Base::State, "approvals")
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn paths(&self, id: &str) -> Result<(PathBuf, PathBuf)> {
        // Ids come from operators' command lines too: no path tricks.
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(SandboxError::invalid("approvals", format!("{id:?} is not a request id")));
        }
        Ok((self.dir.join(format!("{id}.json")), self.dir.join(format!("{id}.decision.json"))))
    }

    /// Record a new request.
    pub fn create(&self, request: &AccessRequest) -> Result<()> {
        let (path, _) = self.paths(&request.id)?;
        std::fs::create_dir_all(&self.dir).map_err(|e| io_error("approvals", "create", &self.dir, &e))?;
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700));
        let json = serde_json::to_vec_pretty(request).map_err(|e| SandboxError::invalid("approvals", e.to_string()))?;
        atomic_write::write(&path, &json, Durability::Durable).map_err(|e| io_error("approvals", "write", &path, &e))
    }

    /// A request and its answer.
    pub fn get(&self, id: &str) -> Result<Entry> {
        let (path, _) = self.paths(id)?;
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SandboxError::not_found("approvals", format!("no access request `{id}`")));
            }
            Err(e) => return Err(io_error("approvals", "read", &path, &e)),
        };
        let request: AccessRequest = serde_json::from_slice(&text)
            .map_err(|e| SandboxError::backend("approvals", "corrupt", format!("{}: {e}", path.display())))?;
        Ok(Entry { request, answer: self.answer(id)? })
    }

    /// The answer to `id`, if any.
    fn answer(&self, id: &str) -> Result<Option<Answer>> {
        let (_, path) = self.paths(id)?;
        match std::fs::read(&path) {
            Ok(t) => serde_json::from_slice(&t)
                .map(Some)
                .map_err(|e| SandboxError::backend("approvals", "corrupt", format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("approvals", "read", &path, &e)),
        }
    }

    /// Every request, oldest first.
    pub fn list(&self) -> Result<Vec<Entry>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("approvals", "list", &self.dir, &e)),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_suffix(".json").filter(|id| !id.ends_with(".decision"))
                && let Ok(e) = self.get(id)
            {
                out.push(e);
            }
        }
        out.sort_by(|a, b| (a.request.created_ms, &a.request.id).cmp(&(b.request.created_ms, &b.request.id)));
        Ok(out)
    }

    /// Answer a request, unless it already has an answer (`conflict`,
    /// naming the answer that stands). Returns the entry as decided.
    pub fn decide(&self, id: &str, decision: Decision, note: &str) -> Result<Entry> {
        let op = "approvals.decide";
        if decision == Decision::Pending {
            return Err(SandboxError::invalid(op, "a decision is approved or rejected"));
        }
        let entry = self.get(id)?;
        if entry.answer.is_none() && entry.request.expired() {
            // Too late: the host rejects it (and may have told the guest).
            self.expire(id)?;
        } else {
            self.answer_once(id, decision, note, true)?;
        }
        let entry = self.get(id)?;
        match &entry.answer {
            Some(a) if a.decision == decision && a.note == note => Ok(entry),
            Some(a) => Err(SandboxError::conflict(
                op,
                format!("request `{id}` was already {} ({})", a.decision.as_str(), a.note),
            )),
            None => Err(SandboxError::backend(op, "io", format!("the answer to `{id}` was not recorded"))),
        }
    }

    /// Link an answer into place if there is none yet; an existing one
    /// stands.
    fn answer_once(&self, id: &str, decision: Decision, note: &str, by_operator: bool) -> Result<()> {
        let (_, path) = self.paths(id)?;
        let answer = Answer { decision, note: note.to_string(), decided_ms: now_ms(), by_operator };
        let json = serde_json::to_vec_pretty(&answer).map_err(|e| SandboxError::invalid("approvals", e.to_string()))?;
        let temp =
            tempfile::NamedTempFile::new_in(&self.dir).map_err(|e| io_error("approvals", "write in", &self.dir, &e))?;
        std::fs::write(temp.path(), &json).map_err(|e| io_error("approvals", "write", temp.path(), &e))?;
        match std::fs::hard_link(temp.path(), &path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(io_error("approvals", "record", &path, &e)),
        }
    }

    /// The host's rejection of a request nobody answered in time.
    fn expire(&self, id: &str) -> Result<()> {
        self.answer_once(id, Decision::Rejected, "nobody answered in time", false)
    }

    /// Wait until `id` has an answer or `until`, whichever is first; a
    /// request whose time ran out is rejected on the way.
    pub async fn wait(&self, id: &str, until: Instant) -> Result<Entry> {
        let mut entry = self.get(id)?;
        loop {
            entry.answer = self.answer(id)?;
            if entry.answer.is_some() {
                return Ok(entry);
            }
            if entry.request.expired() {
                self.expire(id)?;
                continue;
            }
            let now = Instant::now();
            if now >= until {
                return Ok(entry);
            }
            tokio::time::sleep(POLL.min(until - now)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: &str, expires_in_ms: u64) -> AccessRequest {
        AccessRequest {
            id: id.into(),
            created_ms: now_ms(),
            expires_ms: now_ms() + expires_in_ms,
            run_id: "run-1".into(),
            component: "c".into(),
            sandbox: "sb".into(),
            backend: "openshell".into(),
            host: "api.github.com".into(),
            port: 443,
            method: Some("GET".into()),
            path: Some("/repos/*".into()),
            reason: "clone".into(),
        }
    }

    #[tokio::test]
    async fn the_first_answer_stands() {
        let dir = tempfile::tempdir().unwrap();
        let store = ApprovalStore::new(dir.path());
        store.create(&request("acc-1", 60_000)).unwrap();
        assert_eq!(store.get("acc-1").unwrap().decision(), Decision::Pending);
        let e = store.decide("acc-1", Decision::Approved, "ok by me").unwrap();
        let answer = e.answer.clone().unwrap();
        assert_eq!((e.decision(), answer.note.as_str(), answer.by_operator), (Decision::Approved, "ok by me", true));
        let e = store.decide("acc-1", Decision::Rejected, "changed my mind").unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::Conflict, "{e}");
        assert_eq!(store.get("acc-1").unwrap().decision(), Decision::Approved);
        let waited = store.wait("acc-1", Instant::now()).await.unwrap();
        assert_eq!(waited.decision(), Decision::Approved);
        assert_eq!(store.list().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn unanswered_requests_are_rejected_in_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = ApprovalStore::new(dir.path());
        store.create(&request("acc-2", 300)).unwrap();
        let e = store.wait("acc-2", Instant::now() + Duration::from_millis(50)).await.unwrap();
        assert_eq!(e.decision(), Decision::Pending, "still pending when the wait ends first");
        let e = store.wait("acc-2", Instant::now() + Duration::from_secs(10)).await.unwrap();
        assert_eq!(e.decision(), Decision::Rejected);
        let answer = e.answer.unwrap();
        assert_eq!((answer.note.as_str(), answer.by_operator), ("nobody answered in time", false));
        // The operator is too late and told so.
        let e = store.decide("acc-2", Decision::Approved, "").unwrap_err();
        assert!(e.message.contains("rejected"), "{e}");
    }

    #[test]
    fn ids_cannot_leave_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = ApprovalStore::new(dir.path());
        for bad in ["", "../x", "a/b", "x.json"] {
            assert_eq!(store.get(bad).unwrap_err().code, crate::error::ErrorCode::InvalidArgument, "{bad:?}");
        }
        assert_eq!(store.get("acc-none").unwrap_err().code, crate::error::ErrorCode::NotFound);
    }
}
