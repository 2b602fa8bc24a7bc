//! Publishing to the forge: the one comment per pull request (found by its marker, created once,
//! then edited), the `iamgate` status, and review requests (once per change fingerprint). What
//! must survive restarts lives in the pull request's [`PrState`], read once per job
//! ([`KeptState`]) and written back after each step that changed it.

pub mod comment;

use tracing::info;

use crate::audit::AuditEntry;
use crate::engine::report::MARKER;
use crate::event::{Login, PrRef, Sha};
use crate::forge::ForgeError;
use crate::forge::{CommentId, CommitStatus, Forge, ForgeErrorKind, PullRequest};
use crate::gate::{Decision, Requirement, Reviewer};
use crate::store::{PrState, Store, StoreError};

/// A pull request's [`PrState`] for the length of one job: loaded once, written back by
/// [`KeptState::save`] only when it changed since the last write, together with the audit
/// records made meanwhile ([`KeptState::audit`]) in one transaction. The state says which records
/// were made (`audited`), so a record and its bookkeeping land together: a job retried after a
/// crash neither repeats nor loses one. Jobs of one pull request never run at the same time
/// (they share a coalescing key), so nobody else writes the state meanwhile.
#[derive(Debug)]
pub struct KeptState {
    pub state: PrState,
    saved: PrState,
    audit: Vec<AuditEntry>,
}

impl KeptState {
    pub async fn load(store: &dyn Store, pr: &PrRef) -> Result<Self, StoreError> {
        let state = store.pr_state(pr).await?;
        Ok(KeptState {
            saved: state.clone(),
            state,
            audit: Vec::new(),
        })
    }

    /// An audit record to append with the next [`KeptState::save`].
    pub fn audit(&mut self, entry: AuditEntry) {
        self.audit.push(entry);
    }

    /// Writes the state and the pending audit records if there is anything to write: after each
    /// step whose effect on the forge must be remembered (the comment's id, the status, a review
    /// request), so that a retry does not repeat it.
    pub async fn save(&mut self, store: &dyn Store, pr: &PrRef) -> Result<(), StoreError> {
        if self.state != self.saved || !self.audit.is_empty() {
            let audit = std::mem::take(&mut self.audit);
            store.put_pr_state_audited(pr, &self.state, audit).await?;
            self.saved = self.state.clone();
        }
        Ok(())
    }
}

/// The comment budget: the forge's limit with room for escaping that counts double (a zero-width
/// joiner is one character but three bytes).
pub fn comment_budget(forge: &dyn Forge) -> usize {
    forge.comment_limit().saturating_sub(1_000)
}

/// iamgate's comment on the PR, if there is one: the remembered id, else a search by marker.
pub async fn existing_comment(
    forge: &dyn Forge,
    pr: &PrRef,
    state: &PrState,
) -> Result<Option<CommentId>, ForgeError> {
    if let Some(id) = state.comment_id {
        return Ok(Some(CommentId(id)));
    }
    forge.find_own_comment(pr, MARKER).await
}

/// Creates the comment once, then edits it. The id is kept in `state` so the next run edits
/// directly (save it); a failed create is never blindly repeated (the client re-checks by marker
/// first).
pub async fn upsert_comment(
    forge: &dyn Forge,
    pr: &PrRef,
    body: &str,
    state: &mut PrState,
) -> Result<(), ForgeError> {
    if let Some(id) = state.comment_id {
        match forge.update_comment(pr, CommentId(id), body).await {
            Ok(()) => return Ok(()),
            // The comment was deleted by someone: fall through and find or create it again.
            Err(e) if e.kind == ForgeErrorKind::NotFound => {
                info!(pr = %pr, "remembered comment is gone; recreating")
            }
            Err(e) => return Err(e),
        }
    }
    let id = match forge.find_own_comment(pr, MARKER).await? {
        Some(id) => {
            forge.update_comment(pr, id, body).await?;
            id
        }
        None => forge.create_comment(pr, body).await?,
    };
    state.comment_id = Some(id.0);
    Ok(())
}

/// Sets the `iamgate` status on the head commit (and iamgate's approval where merges wait on
/// it).
pub async fn status(
    forge: &dyn Forge,
    pr: &PrRef,
    sha: &Sha,
    decision: &Decision,
) -> Result<(), ForgeError> {
    let status = CommitStatus {
        state: decision.state,
        description: decision.description.clone(),
        target_url: None,
    };
    forge.set_status(pr, sha, &status).await?;
    // Where merges wait on iamgate's own approval (GitLab approval rules), it follows the
    // status: given at success, withdrawn otherwise.
    forge.sign_off(pr, sha, decision.state).await?;
    info!(pr = %pr, sha = %sha, state = decision.state.as_str(), "status set");
    Ok(())
}

/// Asks the required teams and users to review, once per change fingerprint (kept in `state`:
/// save it), never the author.
pub async fn request_reviews_once(
    forge: &dyn Forge,
    pr_ref: &PrRef,
    pr: &PullRequest,
    requirements: &[Requirement],
    fingerprint: &str,
    state: &mut PrState,
) -> Result<(), ForgeError> {
    let missing: Vec<&Requirement> = requirements.iter().filter(|r| r.missing() > 0).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if state.review_requested_for.as_deref() == Some(fingerprint) {
        return Ok(());
    }
    let mut users: Vec<Login> = Vec::new();
    let mut teams: Vec<String> = Vec::new();
    for r in missing {
        for who in &r.from {
            match who {
                Reviewer::User(u) if u != pr.author.as_str() => users.push(Login(u.clone())),
                Reviewer::Team(t) => teams.push(t.clone()),
                Reviewer::User(_) => {}
            }
        }
    }
    users.sort();
    users.dedup();
    teams.sort();
    teams.dedup();
    if !users.is_empty() || !teams.is_empty() {
        forge.request_reviewers(pr_ref, &users, &teams).await?;
    }
    state.review_requested_for = Some(fingerprint.to_owned());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ForgeKind, PrNumber, RepoName};
    use crate::store::sqlite::SqliteStore;

    #[tokio::test]
    async fn kept_state_is_written_only_when_it_changed() {
        let store = SqliteStore::open("sqlite::memory:", crate::audit::key::test_keys())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let pr = PrRef {
            forge: ForgeKind::GitLab,
            installation: None,
            repo: RepoName::from("acme/infra"),
            number: PrNumber(7),
        };
        let mut kept = KeptState::load(&store, &pr).await.expect("load");
        assert_eq!(kept.state, PrState::default());
        // Someone else's write: an unchanged state must not overwrite it.
        let theirs = PrState {
            comment_id: Some(1),
            ..PrState::default()
        };
        store.put_pr_state(&pr, &theirs).await.expect("put");
        kept.save(&store, &pr).await.expect("save");
        assert_eq!(store.pr_state(&pr).await.expect("read"), theirs);
        // A change is written, once.
        kept.state.comment_id = Some(2);
        kept.save(&store, &pr).await.expect("save");
        assert_eq!(store.pr_state(&pr).await.expect("read").comment_id, Some(2));
        store.put_pr_state(&pr, &theirs).await.expect("put");
        kept.save(&store, &pr).await.expect("save");
        assert_eq!(store.pr_state(&pr).await.expect("read"), theirs);

        // Audit records made meanwhile are appended with the state, once.
        assert_eq!(audited(&store).await, 0);
        let event = crate::audit::AuditEvent::StatusChange {
            state: crate::audit::GateState::Pending,
            description: "needs 1 approval".into(),
        };
        kept.audit(AuditEntry::by_app(
            crate::audit::Timestamp::from_unix_millis(1_714_521_600_000).expect("time"),
            &pr,
            event,
        ));
        kept.state.audited.status = Some("h1 pending needs 1 approval".into());
        kept.save(&store, &pr).await.expect("save");
        assert_eq!(audited(&store).await, 1);
        assert_eq!(
            store.pr_state(&pr).await.expect("read").audited.status,
            kept.state.audited.status
        );
        kept.save(&store, &pr).await.expect("save");
        assert_eq!(audited(&store).await, 1, "nothing appended twice");
    }

    async fn audited(store: &SqliteStore) -> usize {
        store
            .audit_records(&crate::audit::AuditFilter::default())
            .await
            .expect("audit")
            .len()
    }
}
