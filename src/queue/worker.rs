//! The worker: per [`Lane`], its own loops that claim a job of that lane, run its handler in a
//! task of its own while renewing the lease, then complete, move, retry or dead-letter it (a
//! dead letter is first told to the handler, [`JobHandler::gave_up`]). Separate loops per lane
//! keep the fast jobs (commands, gate decisions) from waiting behind previews. Idle loops sleep
//! until poked (the intake pokes the shared [`Notify`] after storing a delivery, and it wakes a
//! loop of every lane; a finished job does the same, as it may have queued work) or until the
//! poll interval passes (delayed retries, expired leases). A shutdown stops each loop after its
//! current job. It never decides what a job does (the [`JobHandler`]) nor how jobs are stored.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Disposition, Handled, JobFailure, JobHandler, JobRetryPolicy};
use crate::store::{ClaimedJob, Lane, Store, StoreResult};

/// The longest [`JobHandler::gave_up`] may take before the job is dead-lettered without it.
const GAVE_UP_TIMEOUT: Duration = Duration::from_secs(120);

/// Worker loops per lane: how many jobs of each lane run at the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneSizes {
    /// Commands, gate decisions from cached previews, rechecks: forge calls only.
    pub fast: usize,
    /// Pull requests whose head needs a preview (each preview is also bounded by the runner's
    /// own limit).
    pub preview: usize,
}

impl LaneSizes {
    pub fn of(self, lane: Lane) -> usize {
        match lane {
            Lane::Fast => self.fast,
            Lane::Preview => self.preview,
        }
    }
}

impl Default for LaneSizes {
    fn default() -> Self {
        LaneSizes {
            fast: 4,
            preview: 4,
        }
    }
}

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs run at the same time, per lane (at least one loop each).
    pub concurrency: LaneSizes,
    /// How long a claim holds without renewal; a dead worker's jobs return after this.
    pub lease: Duration,
    /// How often a running job's lease is renewed (well under `lease`).
    pub renew_every: Duration,
    /// How often an idle loop looks for due jobs without being poked.
    pub poll_interval: Duration,
    pub retry: JobRetryPolicy,
    /// Prefix of the worker ids recorded on claimed jobs.
    pub name: String,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: LaneSizes::default(),
            lease: Duration::from_secs(60),
            renew_every: Duration::from_secs(20),
            poll_interval: Duration::from_secs(1),
            retry: JobRetryPolicy::default(),
            name: format!(
                "worker-{}-{:04x}",
                std::process::id(),
                rand::random::<u16>()
            ),
        }
    }
}

/// What became of the jobs a run processed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub completed: u32,
    /// Put back in another lane ([`Handled::MoveTo`]): they run again there.
    pub moved: u32,
    pub retried: u32,
    pub dead_lettered: u32,
    /// The lease was taken over while the handler ran; the handler was stopped.
    pub lease_lost: u32,
    /// The store failed while settling the job; its lease will expire and it will run again.
    pub unsettled: u32,
}

impl RunSummary {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Completed => self.completed += 1,
            Outcome::Moved => self.moved += 1,
            Outcome::Retried => self.retried += 1,
            Outcome::DeadLettered => self.dead_lettered += 1,
            Outcome::LeaseLost => self.lease_lost += 1,
            Outcome::Unsettled => self.unsettled += 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Completed,
    Moved,
    Retried,
    DeadLettered,
    LeaseLost,
    Unsettled,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Moved => "moved",
            Outcome::Retried => "retried",
            Outcome::DeadLettered => "dead_lettered",
            Outcome::LeaseLost => "lease_lost",
            Outcome::Unsettled => "unsettled",
        }
    }
}

/// Runs jobs from a [`Store`] with a [`JobHandler`]. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Worker {
    store: Arc<dyn Store>,
    handler: Arc<dyn JobHandler>,
    config: WorkerConfig,
    /// Poked by whoever enqueues; fanned out to every lane.
    wake: Arc<Notify>,
    lanes: Arc<LaneWakes>,
}

/// One wake-up per lane.
#[derive(Debug, Default)]
pub struct LaneWakes {
    fast: Notify,
    preview: Notify,
}

impl LaneWakes {
    fn of(&self, lane: Lane) -> &Notify {
        match lane {
            Lane::Fast => &self.fast,
            Lane::Preview => &self.preview,
        }
    }

    /// Lets one idle loop of every lane look.
    fn all(&self) {
        for lane in Lane::ALL {
            self.of(lane).notify_one();
        }
    }

    /// Lets one idle loop of `lane` look (of every lane when `None`): for work another process
    /// made claimable.
    pub fn poke(&self, lane: Option<Lane>) {
        match lane {
            Some(lane) => self.of(lane).notify_one(),
            None => self.all(),
        }
    }
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("store", &self.store)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Worker {
    pub fn new(store: Arc<dyn Store>, handler: Arc<dyn JobHandler>, config: WorkerConfig) -> Self {
        Worker {
            store,
            handler,
            config,
            wake: Arc::new(Notify::new()),
            lanes: Arc::new(LaneWakes::default()),
        }
    }

    /// Shares `wake` with whoever enqueues jobs (e.g. the webhook intake).
    pub fn with_waker(mut self, wake: Arc<Notify>) -> Self {
        self.wake = wake;
        self
    }

    /// Poke it (`notify_one()`) after enqueuing so an idle loop looks at once.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// The lanes' own wake-ups, for work another replica made claimable in one lane.
    pub fn lane_wakes(&self) -> Arc<LaneWakes> {
        Arc::clone(&self.lanes)
    }

    /// Runs each lane's loops until `shutdown`; each stops after its current job.
    pub async fn run(&self, shutdown: CancellationToken) {
        let mut loops = tokio::task::JoinSet::new();
        let fan_out = self.clone();
        let stop = shutdown.clone();
        loops.spawn(async move { fan_out.fan_out(stop).await });
        for lane in Lane::ALL {
            for index in 0..self.config.concurrency.of(lane).max(1) {
                let worker = self.clone();
                let shutdown = shutdown.clone();
                loops.spawn(async move { worker.run_loop(lane, index, shutdown).await });
            }
        }
        while let Some(ended) = loops.join_next().await {
            if let Err(error) = ended {
                tracing::error!(%error, "worker loop ended abnormally");
            }
        }
    }

    /// Processes due jobs of every lane one at a time until none is claimable, then returns
    /// (for tests). Jobs retried with a delay are not waited for.
    pub async fn run_until_idle(&self) -> StoreResult<RunSummary> {
        let id = format!("{}-idle", self.config.name);
        let mut summary = RunSummary::default();
        while let Some(job) = self.store.claim_job(&id, self.config.lease, None).await? {
            summary.add(self.process(job).await);
        }
        Ok(summary)
    }

    /// Passes every poke of the shared waker on to every lane.
    async fn fan_out(&self, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.wake.notified() => self.lanes.all(),
            }
        }
    }

    async fn run_loop(&self, lane: Lane, index: usize, shutdown: CancellationToken) {
        let id = format!("{}-{lane}-{index}", self.config.name);
        let wake = self.lanes.of(lane);
        while !shutdown.is_cancelled() {
            match self
                .store
                .claim_job(&id, self.config.lease, Some(lane))
                .await
            {
                Ok(Some(job)) => {
                    // More may be waiting: let another idle loop of the lane look too.
                    wake.notify_one();
                    self.process(job).await;
                    // The job may have queued work (a recomputation, a move to another lane).
                    self.lanes.all();
                    continue;
                }
                Ok(None) => {}
                Err(error) => tracing::error!(worker = %id, %error, "claiming a job failed"),
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }

    /// Runs one claimed job to its end and settles it in the store.
    async fn process(&self, job: ClaimedJob) -> Outcome {
        let started = Instant::now();
        let outcome = if job.attempt > self.config.retry.max_attempts {
            // Earlier holders died (or lost the store) without settling it, `max_attempts` times.
            let reason = format!(
                "gave up after {} attempts: the worker's lease expired each time",
                job.attempt - 1
            );
            self.settle(&job, Err(JobFailure::permanent(reason))).await
        } else {
            match self.run_handler(&job).await {
                Some(result) => self.settle(&job, result).await,
                None => Outcome::LeaseLost,
            }
        };
        let elapsed = started.elapsed();
        metrics::counter!("iamgate_jobs_total", "outcome" => outcome.label()).increment(1);
        metrics::histogram!("iamgate_job_duration_seconds").record(elapsed.as_secs_f64());
        tracing::info!(
            job = job.id,
            attempt = job.attempt,
            lane = %job.lane,
            key = %job.kind.coalesce_key(),
            outcome = outcome.label(),
            duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            "job finished"
        );
        outcome
    }

    /// Runs the handler in its own task (a panic becomes a failure) while renewing the lease;
    /// `None` when the lease was lost, in which case the handler is aborted.
    async fn run_handler(&self, job: &ClaimedJob) -> Option<Result<Handled, JobFailure>> {
        let handler = Arc::clone(&self.handler);
        let claimed = job.clone();
        self.leased(job, async move { handler.handle(&claimed).await })
            .await
    }

    /// Runs `work` in its own task (a panic becomes a failure) while renewing `job`'s lease;
    /// `None` when the lease was lost, in which case `work` is aborted.
    async fn leased<T: Send + 'static>(
        &self,
        job: &ClaimedJob,
        work: impl Future<Output = Result<T, JobFailure>> + Send + 'static,
    ) -> Option<Result<T, JobFailure>> {
        let mut task = tokio::spawn(work);
        let every = self.config.renew_every.max(Duration::from_millis(1));
        let mut renew = tokio::time::interval_at(Instant::now() + every, every);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                joined = &mut task => {
                    return Some(joined.unwrap_or_else(|error| {
                        let reason = if error.is_panic() {
                            format!("handler panicked: {}", panic_message(error.into_panic()))
                        } else {
                            "handler was cancelled".to_owned()
                        };
                        Err(JobFailure::transient(reason))
                    }));
                }
                _ = renew.tick() => match self.store.extend_lease(job, self.config.lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = job.id, "lease taken over, stopping the handler");
                        task.abort();
                        return None;
                    }
                    // The lease still runs; the next tick tries again.
                    Err(error) => tracing::warn!(job = job.id, %error, "renewing the lease failed"),
                },
            }
        }
    }

    async fn settle(&self, job: &ClaimedJob, result: Result<Handled, JobFailure>) -> Outcome {
        let (outcome, settled) = match result {
            Ok(Handled::Done) => (Outcome::Completed, self.store.complete_job(job).await),
            Ok(Handled::MoveTo(lane)) => {
                tracing::info!(job = job.id, from = %job.lane, to = %lane, "job moved to another lane");
                (Outcome::Moved, self.store.move_job(job, lane).await)
            }
            Err(failure) => match self.config.retry.dispose(job.attempt, &failure) {
                Disposition::RetryIn(delay) => {
                    tracing::warn!(job = job.id, attempt = job.attempt, reason = %failure.reason,
                        retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), "job failed, will retry");
                    (
                        Outcome::Retried,
                        self.store.fail_job(job, &failure.reason, Some(delay)).await,
                    )
                }
                Disposition::DeadLetter(reason) => {
                    tracing::error!(job = job.id, attempt = job.attempt, %reason, "job dead-lettered");
                    if !self.tell_gave_up(job, &reason).await {
                        return Outcome::LeaseLost;
                    }
                    (
                        Outcome::DeadLettered,
                        self.store.fail_job(job, &reason, None).await,
                    )
                }
            },
        };
        match settled {
            Ok(()) => outcome,
            Err(error) => {
                tracing::error!(job = job.id, %error, "settling the job failed; it will run again");
                Outcome::Unsettled
            }
        }
    }

    /// Tells the handler that `job` is given up ([`JobHandler::gave_up`]), under the job's lease
    /// and within [`GAVE_UP_TIMEOUT`]; a failure is logged and counted
    /// (`iamgate_dead_letter_notices_total`). Skipped when an earlier claim of the job already
    /// tried and died doing it. `false` when the lease was lost meanwhile (the job is not ours
    /// to bury).
    async fn tell_gave_up(&self, job: &ClaimedJob, reason: &str) -> bool {
        let counted = |outcome: &'static str| {
            metrics::counter!("iamgate_dead_letter_notices_total", "outcome" => outcome)
                .increment(1);
        };
        if job.attempt > self.config.retry.max_attempts.saturating_add(1) {
            tracing::error!(
                job = job.id,
                "the job was given up before and telling it did not finish; not told again"
            );
            counted("skipped");
            return true;
        }
        let handler = Arc::clone(&self.handler);
        let (claimed, why) = (job.clone(), reason.to_owned());
        let work = async move {
            tokio::time::timeout(GAVE_UP_TIMEOUT, handler.gave_up(&claimed, &why))
                .await
                .unwrap_or_else(|_| Err(JobFailure::transient("timed out")))
        };
        match self.leased(job, work).await {
            None => false,
            Some(Ok(())) => {
                counted("done");
                true
            }
            Some(Err(failure)) => {
                tracing::error!(job = job.id, kind = ?job.kind, reason = %failure.reason,
                    "a dead-lettered job's pull request could not be told that iamgate gave up on it");
                counted("failed");
                true
            }
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload.downcast_ref::<&str>().map_or_else(
            || "(no message)".to_owned(),
            |message| (*message).to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests;
