//! The draft policy (fact sheet §2.2 draft RPCs): rules the supervisor
//! proposes after denied connections, approved or rejected by a person.
//! Approving merges the rule into the policy, which the generation does
//! (it decodes the policy); here are the chunks and their states, with the
//! real gateway's rules on which state may change to which.

use tonic::Status;

use super::model::{DraftChunk, Target};
use super::sandboxes::{find, find_mut};
use super::{Gateway, ids};

fn chunk_not_found() -> Status {
    Status::not_found("chunk not found")
}

impl Gateway {
    /// The chunks a new sandbox starts with: one per configured proposal.
    pub(super) fn proposals(&self) -> Vec<DraftChunk> {
        self.config()
            .draft_proposals
            .iter()
            .map(|p| DraftChunk {
                id: ids::uuid_v4(),
                status: "pending".into(),
                rule_name: format!("allow_{}_{}", p.host.replace(['.', '-'], "_"), p.port),
                host: p.host.clone(),
                port: p.port,
                binary: p.binary.clone(),
                rationale: format!("{} connected to {}:{} and was denied", p.binary, p.host, p.port),
            })
            .collect()
    }

    /// GetDraftPolicy: the sandbox's chunks, optionally of one status.
    pub(crate) fn drafts(&self, target: &Target, status: &str) -> Result<Vec<DraftChunk>, Status> {
        self.read(|reg| {
            let s = find(reg, target)?;
            Ok(s.drafts.iter().filter(|c| status.is_empty() || c.status == status).cloned().collect())
        })
    }

    /// The chunk an approval would merge, if its state allows approving.
    pub(crate) fn approvable(&self, target: &Target, id: &str) -> Result<DraftChunk, Status> {
        let chunk = self.chunk(target, id)?;
        if chunk.status != "pending" && chunk.status != "rejected" {
            return Err(Status::failed_precondition(format!(
                "chunk status is '{}', expected 'pending' or 'rejected'",
                chunk.status
            )));
        }
        Ok(chunk)
    }

    fn chunk(&self, target: &Target, id: &str) -> Result<DraftChunk, Status> {
        self.read(|reg| find(reg, target)?.drafts.iter().find(|c| c.id == id).cloned().ok_or_else(chunk_not_found))
    }

    /// Record that a chunk was approved (after its rule was merged).
    pub(crate) fn mark_approved(&self, target: &Target, id: &str) -> Result<(), Status> {
        self.mutate(|reg| {
            let chunk = find_mut(reg, target)?.drafts.iter_mut().find(|c| c.id == id).ok_or_else(chunk_not_found)?;
            chunk.status = "approved".into();
            Ok(())
        })
    }

    /// RejectDraftChunk for a pending chunk. The real gateway logs the
    /// reason and keeps only the status. (Rejecting an approved chunk also
    /// removes its rule from the policy, which this gateway does not model:
    /// it refuses that case.)
    pub(crate) fn reject_draft(&self, target: &Target, id: &str) -> Result<(), Status> {
        self.mutate(|reg| {
            let chunk = find_mut(reg, target)?.drafts.iter_mut().find(|c| c.id == id).ok_or_else(chunk_not_found)?;
            if chunk.status != "pending" {
                return Err(Status::failed_precondition(format!(
                    "chunk status is '{}', expected 'pending' (this test gateway does not undo approvals)",
                    chunk.status
                )));
            }
            chunk.status = "rejected".into();
            Ok(())
        })
    }
}
