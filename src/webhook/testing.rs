//! Test support: a fake `Store` that keeps deliveries in memory and can be told to fail, so the
//! edge is tested without the SQLite store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::audit::{
    AuditChain, AuditEntry, AuditEvent, AuditFilter, AuditKey, AuditRecord, ChainHead, chain,
};
use crate::event::{CommentId, Event, PrRef, RepoRef};
use crate::store::{
    CiPreview, CiSubmitted, CiToken, ClaimedJob, CommandRate, CommandTicket, CommandVote, DeadJob,
    JobKind, Lane, NewDelivery, NewTicket, PrGate, PrState, QueueStats, Recorded, ReplyState,
    Store, StoreError, StoreResult, backing,
};

#[derive(Debug, Default)]
pub(crate) struct FakeStore {
    seen: Mutex<BTreeSet<String>>,
    deliveries: Mutex<Vec<NewDelivery>>,
    jobs: Mutex<Vec<JobKind>>,
    audit: Mutex<Vec<AuditRecord>>,
    votes: Mutex<Vec<(String, CommandVote)>>,
    once: Mutex<BTreeSet<String>>,
    fingerprints: Mutex<BTreeMap<(String, String), String>>,
    /// (pr key, head) → first seen, Unix ms.
    heads: Mutex<BTreeMap<(String, String), i64>>,
    gates: Mutex<BTreeMap<String, PrGate>>,
    authors: Mutex<BTreeSet<(String, String)>>,
    /// (repo key, commit, stack) → preview; and the token ids seen.
    ci: Mutex<BTreeMap<(String, String, String), CiPreview>>,
    ci_tokens: Mutex<BTreeSet<(String, String)>>,
    /// Every call fails, as a store whose disk is gone.
    broken: bool,
}

impl FakeStore {
    pub(crate) fn failing() -> Self {
        FakeStore {
            broken: true,
            ..FakeStore::default()
        }
    }

    pub(crate) fn deliveries(&self) -> Vec<NewDelivery> {
        self.deliveries.lock().expect("lock").clone()
    }

    pub(crate) fn jobs(&self) -> Vec<JobKind> {
        self.jobs.lock().expect("lock").clone()
    }

    fn check(&self) -> StoreResult<()> {
        if self.broken {
            Err(StoreError::Corrupt("the fake store is broken".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Store for FakeStore {
    async fn record_delivery(
        &self,
        delivery: NewDelivery,
        jobs: Vec<JobKind>,
    ) -> StoreResult<Recorded> {
        self.check()?;
        if let Event::PullRequest {
            pr,
            pushed_by: Some(login),
            ..
        } = &delivery.event
        {
            self.add_pr_author(pr, login.as_str()).await?;
        }
        if !self
            .seen
            .lock()
            .expect("lock")
            .insert(delivery.id.0.clone())
        {
            return Ok(Recorded::Duplicate);
        }
        self.deliveries.lock().expect("lock").push(delivery);
        self.jobs.lock().expect("lock").extend(jobs);
        Ok(Recorded::Fresh)
    }

    async fn claim_job(
        &self,
        _: &str,
        _: Duration,
        _: Option<Lane>,
    ) -> StoreResult<Option<ClaimedJob>> {
        self.check()?;
        Ok(None)
    }

    async fn move_job(&self, _: &ClaimedJob, _: Lane) -> StoreResult<()> {
        self.check()
    }

    async fn complete_job(&self, _: &ClaimedJob) -> StoreResult<()> {
        self.check()
    }

    async fn fail_job(&self, _: &ClaimedJob, _: &str, _: Option<Duration>) -> StoreResult<()> {
        self.check()
    }

    async fn extend_lease(&self, _: &ClaimedJob, _: Duration) -> StoreResult<bool> {
        self.check()?;
        Ok(false)
    }

    async fn enqueue(&self, job: JobKind) -> StoreResult<()> {
        self.check()?;
        self.jobs.lock().expect("lock").push(job);
        Ok(())
    }

    async fn pr_state(&self, _: &PrRef) -> StoreResult<PrState> {
        self.check()?;
        Ok(PrState::default())
    }

    async fn put_pr_state_audited(
        &self,
        _: &PrRef,
        _: &PrState,
        audit: Vec<AuditEntry>,
    ) -> StoreResult<()> {
        self.check()?;
        for entry in audit {
            self.append_audit(entry).await?;
        }
        Ok(())
    }

    async fn queue_stats(&self) -> StoreResult<QueueStats> {
        self.check()?;
        let pending = self.jobs.lock().expect("lock").len() as u64;
        Ok(QueueStats {
            pending,
            ..QueueStats::default()
        })
    }

    async fn dead_jobs(&self, _: u32) -> StoreResult<Vec<DeadJob>> {
        self.check()?;
        Ok(Vec::new())
    }

    async fn ping(&self) -> StoreResult<()> {
        self.check()
    }

    async fn append_audit(&self, entry: AuditEntry) -> StoreResult<AuditRecord> {
        self.check()?;
        let mut audit = self.audit.lock().expect("lock");
        let head = head_of(&audit);
        let mut record = chain::link(&head, &entry, &fake_key())
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        record.id = record.seq;
        audit.push(record.clone());
        Ok(record)
    }

    async fn audit_records(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        self.check()?;
        let audit = self.audit.lock().expect("lock");
        Ok(audit
            .iter()
            .filter(|r| filter.matches(r))
            .cloned()
            .collect())
    }

    async fn audit_chain(&self) -> StoreResult<AuditChain> {
        self.check()?;
        let audit = self.audit.lock().expect("lock");
        Ok(AuditChain {
            records: audit.clone(),
            head: Some(head_of(&audit)),
        })
    }

    async fn add_vote(
        &self,
        pr: &PrRef,
        vote: &CommandVote,
        event: Option<AuditEvent>,
    ) -> StoreResult<bool> {
        self.check()?;
        {
            let mut votes = self.votes.lock().expect("lock");
            let key = pr.key();
            if votes
                .iter()
                .any(|(k, v)| *k == key && v.source == vote.source)
            {
                return Ok(false);
            }
            votes.push((key, vote.clone()));
        }
        if let Some(event) = event {
            self.append_audit(backing::vote_entry(pr, vote, event))
                .await?;
        }
        Ok(true)
    }

    async fn append_audit_once(&self, key: &str, entry: AuditEntry) -> StoreResult<bool> {
        self.check()?;
        if !self.once.lock().expect("lock").insert(key.to_owned()) {
            return Ok(false);
        }
        self.append_audit(entry).await?;
        Ok(true)
    }

    async fn votes(&self, pr: &PrRef) -> StoreResult<Vec<CommandVote>> {
        self.check()?;
        let key = pr.key();
        Ok(self
            .votes
            .lock()
            .expect("lock")
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
            .collect())
    }

    async fn put_fingerprint(&self, pr: &PrRef, head: &str, fingerprint: &str) -> StoreResult<()> {
        self.check()?;
        self.fingerprints
            .lock()
            .expect("lock")
            .insert((pr.key(), head.to_owned()), fingerprint.to_owned());
        Ok(())
    }

    async fn fingerprints(&self, pr: &PrRef) -> StoreResult<BTreeMap<String, String>> {
        self.check()?;
        let key = pr.key();
        Ok(self
            .fingerprints
            .lock()
            .expect("lock")
            .iter()
            .filter(|((k, _), _)| *k == key)
            .map(|((_, head), fp)| (head.clone(), fp.clone()))
            .collect())
    }

    async fn put_pr_gate(&self, gate: &PrGate) -> StoreResult<()> {
        self.check()?;
        self.gates
            .lock()
            .expect("lock")
            .insert(gate.pr.key(), gate.clone());
        Ok(())
    }

    async fn pr_gate(&self, pr: &PrRef) -> StoreResult<Option<PrGate>> {
        self.check()?;
        Ok(self.gates.lock().expect("lock").get(&pr.key()).cloned())
    }

    async fn pr_gates_at(&self, repo: &RepoRef, sha: &str) -> StoreResult<Vec<PrGate>> {
        self.check()?;
        Ok(self
            .gates
            .lock()
            .expect("lock")
            .values()
            .filter(|g| g.pr.repo_ref() == *repo && g.sha == sha)
            .cloned()
            .collect())
    }

    async fn forget_pr_gate(&self, pr: &PrRef) -> StoreResult<()> {
        self.check()?;
        self.gates.lock().expect("lock").remove(&pr.key());
        Ok(())
    }

    async fn add_pr_author(&self, pr: &PrRef, login: &str) -> StoreResult<()> {
        self.check()?;
        self.authors
            .lock()
            .expect("lock")
            .insert((pr.key(), login.to_ascii_lowercase()));
        Ok(())
    }

    async fn put_ci_preview(
        &self,
        preview: CiPreview,
        token: CiToken,
        jobs: Vec<JobKind>,
    ) -> StoreResult<CiSubmitted> {
        self.check()?;
        if !self
            .ci_tokens
            .lock()
            .expect("lock")
            .insert((token.issuer, token.jti))
        {
            return Ok(CiSubmitted::TokenReused);
        }
        let key = (
            preview.repo_key.clone(),
            preview.commit.clone(),
            preview.stack.clone(),
        );
        self.ci.lock().expect("lock").insert(key, preview);
        self.jobs.lock().expect("lock").extend(jobs);
        Ok(CiSubmitted::Stored)
    }

    async fn ci_preview(
        &self,
        repo_key: &str,
        commit: &str,
        stack: &str,
    ) -> StoreResult<Option<CiPreview>> {
        self.check()?;
        let key = (repo_key.to_owned(), commit.to_owned(), stack.to_owned());
        Ok(self.ci.lock().expect("lock").get(&key).cloned())
    }

    async fn pr_authors(&self, pr: &PrRef) -> StoreResult<Vec<String>> {
        self.check()?;
        let key = pr.key();
        Ok(self
            .authors
            .lock()
            .expect("lock")
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, login)| login.clone())
            .collect())
    }

    async fn record_head(&self, pr: &PrRef, head: &str) -> StoreResult<()> {
        self.check()?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.heads
            .lock()
            .expect("lock")
            .entry((pr.key(), head.to_owned()))
            .or_insert(now);
        Ok(())
    }

    async fn head_seen_at(&self, pr: &PrRef, at_ms: i64) -> StoreResult<Option<String>> {
        self.check()?;
        let key = pr.key();
        Ok(self
            .heads
            .lock()
            .expect("lock")
            .iter()
            .filter(|((k, _), seen)| *k == key && **seen <= at_ms)
            .max_by_key(|(_, seen)| **seen)
            .map(|((_, head), _)| head.clone()))
    }

    /// The edge never runs commands: every comment is admitted, nothing is remembered.
    async fn command_ticket(
        &self,
        _: &NewTicket<'_>,
        _: CommandRate,
    ) -> StoreResult<CommandTicket> {
        self.check()?;
        Ok(CommandTicket {
            admitted: true,
            tell: false,
            reply: ReplyState::None,
        })
    }

    async fn set_command_reply(&self, _: &PrRef, _: CommentId, _: ReplyState) -> StoreResult<()> {
        self.check()
    }
}

/// The fake's audit key (it keeps no secret: it is a fake).
fn fake_key() -> AuditKey {
    AuditKey::from_bytes(vec![0x5a; 32]).unwrap_or_else(|e| panic!("{e}"))
}

fn head_of(records: &[AuditRecord]) -> ChainHead {
    records
        .last()
        .map_or_else(chain::empty_head, |last| ChainHead {
            count: last.seq,
            hash: last.hash.clone(),
        })
}
