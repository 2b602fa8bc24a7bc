use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

use super::*;
use crate::event::{ForgeKind, PrNumber, PrRef};
use crate::queue::Retry;
use crate::store::sqlite::SqliteStore;
use crate::store::{JobKind, QueueStats};

/// The pull request of an [`analyze`] job that [`Scripted::preview_pr`] names.
const PREVIEWED: u64 = 1;

fn analyze(number: u64) -> JobKind {
    JobKind::AnalyzePr {
        pr: PrRef {
            forge: ForgeKind::GitHub,
            installation: None,
            repo: "acme/infra".into(),
            number: PrNumber(number),
        },
    }
}

/// Answers each job with the next scripted result (then `Ok`), and records what it saw.
#[derive(Default)]
struct Scripted {
    script: Mutex<Vec<Result<(), JobFailure>>>,
    seen: Mutex<Vec<(JobKind, u32)>>,
    /// The lane of each job seen, in order.
    lanes: Mutex<Vec<Lane>>,
    /// Sleep this long before answering.
    pause: Duration,
    finished: AtomicBool,
    done: Notify,
    /// The job of PR [`PREVIEWED`] needs the preview lane: in the fast lane it moves there; in
    /// the preview lane it waits for `release` before answering.
    preview_pr: bool,
    release: Notify,
    /// What [`JobHandler::gave_up`] was told: the job and the reason.
    gave_up: Mutex<Vec<(JobKind, String)>>,
    /// [`JobHandler::gave_up`] fails.
    gave_up_fails: bool,
}

impl Scripted {
    fn answering(mut script: Vec<Result<(), JobFailure>>) -> Self {
        script.reverse();
        Scripted {
            script: Mutex::new(script),
            ..Scripted::default()
        }
    }

    fn seen(&self) -> Vec<(JobKind, u32)> {
        self.seen.lock().expect("lock").clone()
    }

    fn lanes(&self) -> Vec<Lane> {
        self.lanes.lock().expect("lock").clone()
    }

    fn gave_up(&self) -> Vec<(JobKind, String)> {
        self.gave_up.lock().expect("lock").clone()
    }
}

#[async_trait]
impl JobHandler for Scripted {
    async fn handle(&self, job: &ClaimedJob) -> Result<Handled, JobFailure> {
        self.seen
            .lock()
            .expect("lock")
            .push((job.kind.clone(), job.attempt));
        self.lanes.lock().expect("lock").push(job.lane);
        if self.preview_pr && job.kind == analyze(PREVIEWED) {
            if job.lane == Lane::Fast {
                return Ok(Handled::MoveTo(Lane::Preview));
            }
            self.release.notified().await;
        }
        tokio::time::sleep(self.pause).await;
        let answer = self.script.lock().expect("lock").pop().unwrap_or(Ok(()));
        if matches!(answer, Err(JobFailure { ref reason, .. }) if reason == "panic") {
            panic!("handler exploded");
        }
        self.finished.store(true, Ordering::SeqCst);
        self.done.notify_one();
        answer.map(|()| Handled::Done)
    }

    async fn gave_up(&self, job: &ClaimedJob, reason: &str) -> Result<(), JobFailure> {
        self.gave_up
            .lock()
            .expect("lock")
            .push((job.kind.clone(), reason.to_owned()));
        if self.gave_up_fails {
            return Err(JobFailure::transient("the forge is down"));
        }
        Ok(())
    }
}

fn config(max_attempts: u32) -> WorkerConfig {
    WorkerConfig {
        concurrency: LaneSizes {
            fast: 2,
            preview: 2,
        },
        lease: Duration::from_secs(60),
        renew_every: Duration::from_secs(20),
        poll_interval: Duration::from_secs(3600),
        retry: JobRetryPolicy {
            base: Duration::ZERO,
            max: Duration::ZERO,
            max_attempts,
        },
        name: "test".into(),
    }
}

async fn setup(
    handler: Scripted,
    config: WorkerConfig,
) -> (Arc<SqliteStore>, Arc<Scripted>, Worker) {
    let store = Arc::new(
        SqliteStore::open("sqlite::memory:", crate::audit::key::test_keys())
            .await
            .expect("open"),
    );
    let handler = Arc::new(handler);
    let worker = Worker::new(store.clone(), handler.clone(), config);
    (store, handler, worker)
}

#[tokio::test]
async fn run_until_idle_drives_every_due_job_to_completion() {
    let (store, handler, worker) = setup(Scripted::default(), config(3)).await;
    for number in [1, 2, 3] {
        store.enqueue(analyze(number)).await.expect("enqueue");
    }
    let summary = worker.run_until_idle().await.expect("run");
    assert_eq!(summary.completed, 3);
    assert_eq!(
        handler.seen(),
        vec![(analyze(1), 1), (analyze(2), 1), (analyze(3), 1)]
    );
    assert_eq!(
        store.queue_stats().await.expect("stats"),
        QueueStats::default()
    );
    assert_eq!(
        worker.run_until_idle().await.expect("run"),
        RunSummary::default(),
        "nothing left"
    );
}

#[tokio::test]
async fn a_transient_failure_is_retried_and_then_succeeds() {
    let script = vec![Err(JobFailure::transient("502"))];
    let (store, handler, worker) = setup(Scripted::answering(script), config(3)).await;
    store.enqueue(analyze(1)).await.expect("enqueue");
    let summary = worker.run_until_idle().await.expect("run");
    assert_eq!(
        (summary.retried, summary.completed, summary.dead_lettered),
        (1, 1, 0)
    );
    assert_eq!(handler.seen(), vec![(analyze(1), 1), (analyze(1), 2)]);
}

#[tokio::test]
async fn failures_past_max_attempts_are_dead_lettered_with_the_last_reason() {
    let script = vec![
        Err(JobFailure::transient("502")),
        Err(JobFailure::retry_after("rate limited", Duration::ZERO)),
        Err(JobFailure::transient("503")),
        Err(JobFailure::transient("never reached")),
    ];
    let (store, handler, worker) = setup(Scripted::answering(script), config(3)).await;
    store.enqueue(analyze(1)).await.expect("enqueue");
    let summary = worker.run_until_idle().await.expect("run");
    assert_eq!(
        (summary.retried, summary.dead_lettered, summary.completed),
        (2, 1, 0)
    );
    assert_eq!(handler.seen().len(), 3);
    let dead = store.dead_jobs(5).await.expect("dead");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, "gave up after 3 attempts: 503");
    assert_eq!(
        handler.gave_up(),
        vec![(analyze(1), "gave up after 3 attempts: 503".to_owned())],
        "told once, at the dead letter, not at the retries"
    );
}

#[tokio::test]
async fn a_job_is_dead_lettered_even_when_telling_it_fails() {
    let handler = Scripted {
        gave_up_fails: true,
        ..Scripted::answering(vec![Err(JobFailure::permanent("repository is gone"))])
    };
    let (store, handler, worker) = setup(handler, config(3)).await;
    store.enqueue(analyze(1)).await.expect("enqueue");
    let summary = worker.run_until_idle().await.expect("run");
    assert_eq!((summary.dead_lettered, summary.retried), (1, 0));
    assert_eq!(handler.gave_up().len(), 1, "tried once, never retried");
    assert_eq!(store.queue_stats().await.expect("stats").dead, 1);
}

#[tokio::test]
async fn a_permanent_failure_is_dead_lettered_at_once() {
    let script = vec![Err(JobFailure::permanent("repository is gone"))];
    let (store, handler, worker) = setup(Scripted::answering(script), config(5)).await;
    store.enqueue(analyze(1)).await.expect("enqueue");
    let summary = worker.run_until_idle().await.expect("run");
    assert_eq!((summary.dead_lettered, summary.retried), (1, 0));
    assert_eq!(handler.seen().len(), 1);
    assert_eq!(
        store.dead_jobs(5).await.expect("dead")[0].reason,
        "repository is gone"
    );
}

#[tokio::test]
async fn a_retry_after_delay_is_honoured() {
    let script = vec![Err(JobFailure::retry_after(
        "rate limited",
        Duration::from_secs(30),
    ))];
    let (store, handler, worker) = setup(Scripted::answering(script), config(5)).await;
    store.enqueue(analyze(1)).await.expect("enqueue");
    let summary = worker.run_until_idle().await.expect("run");
    assert_eq!(
        (summary.retried, summary.completed),
        (1, 0),
        "not run again before 30 s"
    );
    assert_eq!(handler.seen().len(), 1);
    assert_eq!(store.queue_stats().await.expect("stats").pending, 1);
}

#[tokio::test]
async fn a_panicking_handler_is_a_failure_not_a_dead_worker() {
    let script = vec![Err(JobFailure {
        reason: "panic".into(),
        retry: Retry::Never,
    })];
    let (store, _handler, worker) = setup(Scripted::answering(script), config(1)).await;
    store.enqueue(analyze(1)).await.expect("enqueue");
    store.enqueue(analyze(2)).await.expect("enqueue");
    let summary = worker.run_until_idle().await.expect("run");
    assert_eq!(
        (summary.dead_lettered, summary.completed),
        (1, 1),
        "the next job still ran"
    );
    let reason = &store.dead_jobs(5).await.expect("dead")[0].reason;
    assert!(
        reason.contains("handler panicked: handler exploded"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_long_job_keeps_its_lease_by_renewing_it() {
    let handler = Scripted {
        pause: Duration::from_millis(700),
        ..Scripted::default()
    };
    let mut config = config(3);
    config.lease = Duration::from_millis(300);
    config.renew_every = Duration::from_millis(50);
    let (store, handler, worker) = setup(handler, config).await;
    store.enqueue(analyze(1)).await.expect("enqueue");
    let run = tokio::spawn(async move { worker.run_until_idle().await });
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(70)).await;
        let stolen = store
            .claim_job("thief", Duration::from_secs(60), None)
            .await
            .expect("claim");
        assert_eq!(stolen, None, "a renewed lease is never taken over");
    }
    let summary = run.await.expect("join").expect("run");
    assert_eq!((summary.completed, summary.lease_lost), (1, 0));
    assert_eq!(handler.seen().len(), 1);
}

#[tokio::test]
async fn a_lost_lease_stops_the_handler() {
    let handler = Scripted {
        pause: Duration::from_secs(5),
        ..Scripted::default()
    };
    let mut config = config(3);
    config.lease = Duration::from_millis(60);
    config.renew_every = Duration::from_millis(500);
    let (store, handler, worker) = setup(handler, config).await;
    store.enqueue(analyze(1)).await.expect("enqueue");
    let run = tokio::spawn(async move { worker.run_until_idle().await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let thief = store
        .claim_job("thief", Duration::from_secs(60), None)
        .await
        .expect("claim")
        .expect("the expired job");
    assert_eq!(thief.attempt, 2);
    let summary = tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .expect("stopped without waiting for the handler")
        .expect("join")
        .expect("run");
    assert_eq!((summary.lease_lost, summary.completed), (1, 0));
    assert!(
        !handler.finished.load(Ordering::SeqCst),
        "the handler was aborted"
    );
    assert_eq!(
        store.queue_stats().await.expect("stats").running,
        1,
        "the thief still holds it"
    );
}

/// The job is claimed `times` times by a worker that dies at once (its lease expires).
async fn claimed_by_dying_workers(store: &SqliteStore, times: usize) {
    for _ in 0..times {
        store
            .claim_job("doomed", Duration::ZERO, None)
            .await
            .expect("claim")
            .expect("job");
    }
}

#[tokio::test]
async fn a_job_whose_workers_keep_dying_is_dead_lettered() {
    let (store, handler, worker) = setup(Scripted::default(), config(2)).await;
    store.enqueue(analyze(1)).await.expect("enqueue");
    claimed_by_dying_workers(&store, 2).await;
    let summary = worker.run_until_idle().await.expect("run");
    assert_eq!((summary.dead_lettered, summary.completed), (1, 0));
    assert!(handler.seen().is_empty(), "not run a third time");
    let reason = &store.dead_jobs(5).await.expect("dead")[0].reason;
    assert_eq!(
        reason,
        "gave up after 2 attempts: the worker's lease expired each time"
    );
    assert_eq!(handler.gave_up(), vec![(analyze(1), reason.clone())]);
}

#[tokio::test]
async fn a_job_whose_gave_up_notice_died_is_buried_without_another() {
    let (store, handler, worker) = setup(Scripted::default(), config(2)).await;
    store.enqueue(analyze(1)).await.expect("enqueue");
    // Two attempts die, then the worker that would tell the dead letter dies too.
    claimed_by_dying_workers(&store, 3).await;
    let summary = worker.run_until_idle().await.expect("run");
    assert_eq!(summary.dead_lettered, 1);
    assert!(handler.gave_up().is_empty(), "{:?}", handler.gave_up());
}

#[tokio::test]
async fn a_moved_job_runs_again_in_its_lane_without_counting_an_attempt() {
    let handler = Scripted {
        preview_pr: true,
        ..Scripted::default()
    };
    let (store, handler, worker) = setup(handler, config(1)).await;
    store.enqueue(analyze(PREVIEWED)).await.expect("enqueue");
    handler.release.notify_one();
    let summary = worker.run_until_idle().await.expect("run");
    assert_eq!((summary.moved, summary.completed), (1, 1), "{summary:?}");
    assert_eq!(
        handler.seen(),
        vec![(analyze(PREVIEWED), 1), (analyze(PREVIEWED), 1)],
        "max_attempts 1 and still run twice: a move is not an attempt"
    );
    assert_eq!(handler.lanes(), vec![Lane::Fast, Lane::Preview]);
}

#[tokio::test]
async fn fast_jobs_run_while_every_preview_loop_is_busy() {
    let handler = Scripted {
        preview_pr: true,
        ..Scripted::default()
    };
    let mut config = config(3);
    config.concurrency = LaneSizes {
        fast: 1,
        preview: 1,
    };
    let (store, handler, worker) = setup(handler, config).await;
    let shutdown = CancellationToken::new();
    let running = {
        let (worker, shutdown) = (worker.clone(), shutdown.clone());
        tokio::spawn(async move { worker.run(shutdown).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    store.enqueue(analyze(PREVIEWED)).await.expect("enqueue");
    worker.waker().notify_one();
    let in_preview = || handler.lanes().contains(&Lane::Preview);
    let until = Instant::now() + Duration::from_secs(5);
    while !in_preview() {
        assert!(
            Instant::now() < until,
            "the job never reached the preview lane"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The one preview loop is held; a fast job still runs.
    store.enqueue(analyze(2)).await.expect("enqueue");
    worker.waker().notify_one();
    tokio::time::timeout(Duration::from_secs(2), handler.done.notified())
        .await
        .expect("the fast job ran while the preview lane was full");
    assert_eq!(handler.seen().last(), Some(&(analyze(2), 1)));
    handler.release.notify_one();
    tokio::time::timeout(Duration::from_secs(2), handler.done.notified())
        .await
        .expect("the preview job finished once released");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(2), running)
        .await
        .expect("stops on shutdown")
        .expect("join");
    assert_eq!(
        store.queue_stats().await.expect("stats"),
        QueueStats::default()
    );
}

#[tokio::test]
async fn run_wakes_on_the_notify_and_stops_on_shutdown() {
    let (store, handler, worker) = setup(Scripted::default(), config(3)).await;
    let waker = worker.waker();
    let shutdown = CancellationToken::new();
    let running = {
        let worker = worker.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move { worker.run(shutdown).await })
    };
    // Let the loops go idle (the poll interval is an hour: only the notify can wake them).
    tokio::time::sleep(Duration::from_millis(100)).await;
    store.enqueue(analyze(1)).await.expect("enqueue");
    waker.notify_one();
    tokio::time::timeout(Duration::from_secs(2), handler.done.notified())
        .await
        .expect("woken by the notify");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(2), running)
        .await
        .expect("stops on shutdown")
        .expect("join");
    assert_eq!(handler.seen(), vec![(analyze(1), 1)]);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        store.queue_stats().await.expect("stats"),
        QueueStats::default()
    );
}
