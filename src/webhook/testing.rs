//! Test support: a fake `Store` that keeps deliveries in memory and can be told to fail, so the
//! edge is tested without the SQLite store.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::event::PrRef;
use crate::store::{
    ClaimedJob, DeadJob, JobKind, NewDelivery, PrState, QueueStats, Recorded, Store, StoreError,
    StoreResult,
};

#[derive(Debug, Default)]
pub(crate) struct FakeStore {
    seen: Mutex<BTreeSet<String>>,
    deliveries: Mutex<Vec<NewDelivery>>,
    jobs: Mutex<Vec<JobKind>>,
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

    async fn claim_job(&self, _: &str, _: Duration) -> StoreResult<Option<ClaimedJob>> {
        self.check()?;
        Ok(None)
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

    async fn put_pr_state(&self, _: &PrRef, _: &PrState) -> StoreResult<()> {
        self.check()
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
}
