//! The job queue's policy and its worker: what a handler answers ([`Handled`], [`JobFailure`],
//! [`Retry`]), how failures are retried ([`JobRetryPolicy`]: exponential backoff with full
//! jitter, then a dead letter, which the handler hears of through [`JobHandler::gave_up`]), and
//! the [`Worker`] that claims, runs, renews and settles jobs, with its own loops per
//! [`Lane`]. Storage (dedupe, coalescing, leases, fair claims) lives in [`crate::store`]; what a
//! job does, and which lane it needs, lives in its handler. Nothing here knows a forge or a
//! preview.

mod worker;

use std::time::Duration;

use async_trait::async_trait;

use crate::store::{ClaimedJob, Lane};

pub use worker::{LaneSizes, RunSummary, Worker, WorkerConfig};

/// Runs one claimed job. Must be idempotent: a job can run again after a crash or a lost lease.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    async fn handle(&self, job: &ClaimedJob) -> Result<Handled, JobFailure>;

    /// Called once when `job` is dead-lettered, with the reason, while its lease still holds:
    /// tells whoever waits on the job that it was given up. Best effort: a failure is logged and
    /// counted by the worker, never retried. By default nothing is told.
    async fn gave_up(&self, job: &ClaimedJob, reason: &str) -> Result<(), JobFailure> {
        let _ = (job, reason);
        Ok(())
    }
}

/// What a handler did with a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// The job is done.
    Done,
    /// The job needs the workers of another lane (a preview): it goes back to the queue in that
    /// lane, due at once, and the attempt does not count.
    MoveTo(Lane),
}

/// Why a job did not finish, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct JobFailure {
    /// Shown in logs and kept as the job's last error (and dead-letter reason). No secrets.
    pub reason: String,
    pub retry: Retry,
}

impl JobFailure {
    /// A transient failure: retry with backoff.
    pub fn transient(reason: impl Into<String>) -> Self {
        JobFailure {
            reason: reason.into(),
            retry: Retry::Backoff,
        }
    }

    /// A failure that retrying cannot fix: dead-letter now.
    pub fn permanent(reason: impl Into<String>) -> Self {
        JobFailure {
            reason: reason.into(),
            retry: Retry::Never,
        }
    }

    /// The other side asked us to come back after `delay` (e.g. a rate limit's `Retry-After`).
    pub fn retry_after(reason: impl Into<String>, delay: Duration) -> Self {
        JobFailure {
            reason: reason.into(),
            retry: Retry::After(delay),
        }
    }
}

/// Whether and when to try a failed job again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Exponential backoff with full jitter.
    Backoff,
    /// Not before this delay (still counts towards `max_attempts`).
    After(Duration),
    /// Dead-letter now.
    Never,
}

/// How failed jobs are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobRetryPolicy {
    /// The backoff ceiling for the first retry; it doubles with every attempt.
    pub base: Duration,
    /// The ceiling never exceeds this.
    pub max: Duration,
    /// Attempts (claims) before a job is dead-lettered.
    pub max_attempts: u32,
}

impl Default for JobRetryPolicy {
    fn default() -> Self {
        JobRetryPolicy {
            base: Duration::from_secs(2),
            max: Duration::from_secs(600),
            max_attempts: 8,
        }
    }
}

/// What to do with a job after a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    RetryIn(Duration),
    /// Dead-letter with this reason.
    DeadLetter(String),
}

impl JobRetryPolicy {
    /// The backoff ceiling after failed attempt `attempt` (1-based): `min(max, base * 2^(attempt-1))`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.base.saturating_mul(1u32 << doublings).min(self.max)
    }

    /// A delay drawn uniformly from `[0, ceiling(attempt)]` (full jitter: retries of many jobs
    /// that failed together spread out instead of stampeding).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = u64::try_from(self.ceiling(attempt).as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::random_range(0..=ceiling))
    }

    /// Decides what happens to a job whose attempt `attempt` failed with `failure`.
    pub fn dispose(&self, attempt: u32, failure: &JobFailure) -> Disposition {
        let delay = match failure.retry {
            Retry::Never => return Disposition::DeadLetter(failure.reason.clone()),
            Retry::Backoff => self.backoff(attempt),
            Retry::After(delay) => delay,
        };
        if attempt >= self.max_attempts {
            return Disposition::DeadLetter(format!(
                "gave up after {attempt} attempts: {}",
                failure.reason
            ));
        }
        Disposition::RetryIn(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> JobRetryPolicy {
        JobRetryPolicy {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
            max_attempts: 4,
        }
    }

    #[test]
    fn ceiling_doubles_from_base_and_stops_at_max() {
        let p = policy();
        assert_eq!(p.ceiling(1), Duration::from_millis(100));
        assert_eq!(p.ceiling(2), Duration::from_millis(200));
        assert_eq!(p.ceiling(4), Duration::from_millis(800));
        assert_eq!(p.ceiling(5), Duration::from_secs(1));
        assert_eq!(
            p.ceiling(u32::MAX),
            Duration::from_secs(1),
            "no overflow on huge attempts"
        );
        assert_eq!(p.ceiling(0), Duration::from_millis(100));
    }

    #[test]
    fn backoff_is_jittered_within_the_ceiling() {
        let p = policy();
        let draws: Vec<Duration> = (0..200).map(|_| p.backoff(3)).collect();
        assert!(draws.iter().all(|d| *d <= Duration::from_millis(400)));
        let distinct: std::collections::BTreeSet<_> = draws.iter().collect();
        assert!(
            distinct.len() > 20,
            "full jitter spreads retries, got {}",
            distinct.len()
        );
        assert!(
            draws.iter().any(|d| *d < Duration::from_millis(200)),
            "jitter reaches the low half"
        );
    }

    #[test]
    fn dispose_retries_until_max_attempts_then_dead_letters_with_the_reason() {
        let p = policy();
        let failure = JobFailure::transient("forge answered 502");
        assert!(
            matches!(p.dispose(1, &failure), Disposition::RetryIn(d) if d <= Duration::from_millis(100))
        );
        assert!(matches!(p.dispose(3, &failure), Disposition::RetryIn(_)));
        assert_eq!(
            p.dispose(4, &failure),
            Disposition::DeadLetter("gave up after 4 attempts: forge answered 502".into())
        );
    }

    #[test]
    fn dispose_honours_retry_after_and_never() {
        let p = policy();
        let later = JobFailure::retry_after("rate limited", Duration::from_secs(90));
        assert_eq!(
            p.dispose(1, &later),
            Disposition::RetryIn(Duration::from_secs(90)),
            "beyond max is kept"
        );
        assert!(
            matches!(p.dispose(4, &later), Disposition::DeadLetter(_)),
            "still bounded by attempts"
        );
        let never = JobFailure::permanent("repository deleted");
        assert_eq!(
            p.dispose(1, &never),
            Disposition::DeadLetter("repository deleted".into())
        );
    }
}
