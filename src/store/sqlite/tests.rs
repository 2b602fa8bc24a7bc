use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::event::{DeliveryId, Event, ForgeKind, PrAction, PrNumber, Sha};
use crate::store::TestStore;

/// Lanes, fairness between repositories, command tickets.
mod lanes;

fn pr(number: u64) -> PrRef {
    PrRef {
        forge: ForgeKind::GitHub,
        installation: Some(7),
        repo: "acme/infra".into(),
        number: PrNumber(number),
    }
}

fn analyze(number: u64) -> JobKind {
    JobKind::AnalyzePr { pr: pr(number) }
}

fn delivery(id: &str, number: u64) -> NewDelivery {
    NewDelivery {
        id: DeliveryId(id.to_owned()),
        forge: "github".into(),
        event_name: "pull_request".into(),
        event: Event::PullRequest {
            pr: pr(number),
            action: PrAction::Synchronize,
            head: Sha(format!("{id:0>40}")),
            pushed_by: None,
        },
        // Each delivery's own body.
        body_sha256: Some(format!("body-of-{id}")),
    }
}

/// Records delivery `id` for PR `number`, with its analysis job.
async fn record(store: &dyn Store, id: &str, number: u64) -> Recorded {
    store
        .record_delivery(delivery(id, number), vec![analyze(number)])
        .await
        .expect("record")
}

async fn claim(store: &dyn Store, worker: &str) -> Option<ClaimedJob> {
    store
        .claim_job(worker, Duration::from_secs(60), None)
        .await
        .expect("claim")
}

async fn stats(store: &dyn Store) -> QueueStats {
    store.queue_stats().await.expect("stats")
}

/// The jobs delivery `id` is linked to, oldest first.
async fn delivery_jobs(store: &TestStore, id: &str) -> Vec<i64> {
    store
        .i64s(&format!(
            "SELECT job_id FROM delivery_jobs WHERE delivery_id = '{id}' ORDER BY job_id"
        ))
        .await
}

/// `next`, the job pending beside `running` for delivery `d1`, took over from it.
async fn assert_took_over(store: &TestStore, running: &ClaimedJob, next: &ClaimedJob) {
    assert_ne!(next.id, running.id);
    assert_eq!(
        delivery_jobs(store, "d1").await,
        vec![running.id, next.id],
        "d1 is now served by the newer job"
    );
}

async fn sqlite_i64(store: &SqliteStore, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&store.readers)
        .await
        .expect(sql)
}

async fn scalar_i64(store: &TestStore, sql: &'static str) -> i64 {
    store.i64s(sql).await[0]
}

async fn a_duplicate_delivery_changes_nothing(store: &TestStore) {
    assert_eq!(record(&**store, "d1", 1).await, Recorded::Fresh);
    let again = store
        .record_delivery(delivery("d1", 1), vec![analyze(1), analyze(2)])
        .await
        .expect("record");
    assert_eq!(again, Recorded::Duplicate);
    assert_eq!(
        stats(&**store).await.pending,
        1,
        "the duplicate enqueued nothing"
    );
    assert_eq!(
        scalar_i64(store, "SELECT COUNT(*) FROM deliveries").await,
        1
    );

    // Also after its job ran: done work is not redone.
    let job = claim(&**store, "w").await.expect("job");
    store.complete_job(&job).await.expect("complete");
    assert_eq!(record(&**store, "d1", 1).await, Recorded::Duplicate);
    assert_eq!(claim(&**store, "w").await, None);
    // A new id is not a duplicate.
    assert_eq!(record(&**store, "d2", 1).await, Recorded::Fresh);
}

async fn deliveries_for_one_pr_coalesce_into_one_pending_job(store: &TestStore) {
    record(&**store, "d1", 1).await;
    record(&**store, "d2", 1).await;
    assert_eq!(stats(&**store).await.pending, 1);
    record(&**store, "d3", 2).await;
    assert_eq!(
        stats(&**store).await.pending,
        2,
        "another PR has its own job"
    );
    let linked = scalar_i64(
        store,
        "SELECT COUNT(DISTINCT job_id) FROM delivery_jobs WHERE delivery_id IN ('d1', 'd2')",
    )
    .await;
    assert_eq!(linked, 1, "both deliveries point at the same job");

    let first = claim(&**store, "w").await.expect("first");
    assert_eq!(first.kind, analyze(1));
    let second = claim(&**store, "w").await.expect("second");
    assert_eq!(second.kind, analyze(2));
    assert_eq!(claim(&**store, "w").await, None);
}

async fn an_event_while_its_pr_runs_gives_exactly_one_more_run(store: &TestStore) {
    record(&**store, "d1", 1).await;
    let running = claim(&**store, "w1").await.expect("job");
    record(&**store, "d2", 1).await;
    record(&**store, "d3", 1).await;
    let counts = stats(&**store).await;
    assert_eq!((counts.pending, counts.running), (1, 1));

    // One run per PR at a time: the pending one waits for the running one.
    assert_eq!(claim(&**store, "w2").await, None);
    // ... but other PRs are not held up.
    record(&**store, "d4", 2).await;
    assert_eq!(claim(&**store, "w2").await.expect("pr 2").kind, analyze(2));

    store.complete_job(&running).await.expect("complete");
    let next = claim(&**store, "w2").await.expect("the newer run");
    assert_ne!(next.id, running.id);
    assert_eq!((next.kind, next.attempt), (analyze(1), 1));
}

async fn jobs_are_claimed_oldest_first_and_never_twice(store: &TestStore) {
    for number in [3, 1, 2] {
        store.enqueue(analyze(number)).await.expect("enqueue");
    }
    let a = claim(&**store, "w1").await.expect("a");
    let b = claim(&**store, "w2").await.expect("b");
    let c = claim(&**store, "w3").await.expect("c");
    assert_eq!(
        [a.kind.clone(), b.kind, c.kind],
        [analyze(3), analyze(1), analyze(2)]
    );
    assert_eq!(
        claim(&**store, "w4").await,
        None,
        "running jobs are not claimed again"
    );
    assert_eq!(a.attempt, 1);
    assert_ne!(a.lease, c.lease, "every claim has its own lease");
    assert_eq!(stats(&**store).await.running, 3);
}

async fn an_expired_lease_is_taken_over_and_the_old_worker_cannot_clobber_it(store: &TestStore) {
    record(&**store, "d1", 1).await;
    let old = store
        .claim_job("w1", Duration::from_millis(300), None)
        .await
        .expect("claim")
        .expect("job");
    assert_eq!(claim(&**store, "w2").await, None, "the lease is live");
    tokio::time::sleep(Duration::from_millis(400)).await;

    let new = claim(&**store, "w2").await.expect("reclaimed after expiry");
    assert_eq!((new.id, new.attempt), (old.id, 2));
    assert_ne!(new.lease, old.lease);

    store.complete_job(&old).await.expect("complete");
    store.fail_job(&old, "late", None).await.expect("fail");
    assert!(
        !store
            .extend_lease(&old, Duration::from_secs(60))
            .await
            .expect("extend")
    );
    let counts = stats(&**store).await;
    assert_eq!(
        (counts.running, counts.dead),
        (1, 0),
        "the old worker changed nothing"
    );
    let error = store
        .texts(&format!(
            "SELECT last_error FROM jobs WHERE id = {}",
            new.id
        ))
        .await;
    assert_eq!(error, [Some("lease of worker w1 expired".to_owned())]);

    store.complete_job(&new).await.expect("complete");
    assert_eq!(stats(&**store).await, QueueStats::default());
}

async fn an_extended_lease_is_not_taken_over(store: &TestStore) {
    record(&**store, "d1", 1).await;
    let job = store
        .claim_job("w1", Duration::from_millis(100), None)
        .await
        .expect("claim")
        .expect("job");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        store
            .extend_lease(&job, Duration::from_secs(60))
            .await
            .expect("extend")
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(claim(&**store, "w2").await, None);
}

async fn a_failed_job_is_retried_after_its_delay_then_dead_lettered_with_the_reason(
    store: &TestStore,
) {
    record(&**store, "d1", 1).await;
    let first = claim(&**store, "w").await.expect("job");
    store
        .fail_job(
            &first,
            "forge answered 502",
            Some(Duration::from_millis(400)),
        )
        .await
        .expect("fail");
    assert_eq!(stats(&**store).await.pending, 1);
    assert_eq!(claim(&**store, "w").await, None, "not before the backoff");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let second = claim(&**store, "w").await.expect("retried");
    assert_eq!((second.id, second.attempt), (first.id, 2));
    store
        .fail_job(&second, "forge answered 404", None)
        .await
        .expect("bury");
    assert_eq!(
        claim(&**store, "w").await,
        None,
        "dead jobs are not claimed"
    );
    assert_eq!(
        stats(&**store).await,
        QueueStats {
            pending: 0,
            running: 0,
            dead: 1
        }
    );
    let dead = store.dead_jobs(10).await.expect("dead");
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].id, dead[0].attempt), (first.id, 2));
    assert_eq!(dead[0].kind, Some(analyze(1)));
    assert_eq!(dead[0].reason, "forge answered 404");
}

async fn a_retry_coalesces_into_a_newer_pending_job_and_keeps_the_backoff(store: &TestStore) {
    record(&**store, "d1", 1).await;
    let running = claim(&**store, "w").await.expect("job");
    record(&**store, "d2", 1).await;
    store
        .fail_job(&running, "timeout", Some(Duration::from_millis(400)))
        .await
        .expect("fail");
    assert_eq!(
        stats(&**store).await,
        QueueStats {
            pending: 1,
            running: 0,
            dead: 0
        }
    );
    assert_eq!(
        claim(&**store, "w").await,
        None,
        "the pending job waits out the backoff"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let next = claim(&**store, "w").await.expect("the newer job");
    assert_took_over(store, &running, &next).await;
}

async fn redelivering_a_dead_lettered_delivery_enqueues_it_again_once(store: &TestStore) {
    record(&**store, "d1", 1).await;
    let job = claim(&**store, "w").await.expect("job");
    store.fail_job(&job, "bug", None).await.expect("bury");

    assert_eq!(record(&**store, "d1", 1).await, Recorded::Fresh);
    let again = claim(&**store, "w").await.expect("requeued");
    assert_ne!(again.id, job.id);
    assert_eq!((again.kind.clone(), again.attempt), (analyze(1), 1));
    store.complete_job(&again).await.expect("complete");

    assert_eq!(
        record(&**store, "d1", 1).await,
        Recorded::Duplicate,
        "it succeeded: no third run"
    );
    assert_eq!(claim(&**store, "w").await, None);
}

async fn a_delivery_without_jobs_is_stored_and_stays_a_duplicate(store: &TestStore) {
    let ping = NewDelivery {
        event: Event::Ping,
        ..delivery("p1", 0)
    };
    assert_eq!(
        store
            .record_delivery(ping.clone(), vec![])
            .await
            .expect("record"),
        Recorded::Fresh
    );
    assert_eq!(
        store.record_delivery(ping, vec![]).await.expect("record"),
        Recorded::Duplicate
    );
    assert_eq!(stats(&**store).await, QueueStats::default());
    let event = store
        .texts("SELECT event FROM deliveries WHERE id = 'p1'")
        .await
        .remove(0)
        .expect("event");
    assert_eq!(
        serde_json::from_str::<Event>(&event).expect("json"),
        Event::Ping
    );
}

async fn an_unreadable_job_kind_is_dead_lettered_not_claimed_forever(store: &TestStore) {
    store
        .execute(
            "INSERT INTO jobs (kind, coalesce_key, state, run_at, created_at, updated_at) \
             VALUES ('{\"kind\":\"from_the_future\"}', 'x', 'pending', 0, 0, 0)",
        )
        .await;
    store.enqueue(analyze(1)).await.expect("enqueue");
    let job = claim(&**store, "w").await.expect("the readable job");
    assert_eq!(job.kind, analyze(1));
    let dead = store.dead_jobs(10).await.expect("dead");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].kind, None);
    assert!(
        dead[0].reason.starts_with("unreadable job kind"),
        "{}",
        dead[0].reason
    );
}

async fn pr_state_defaults_round_trips_and_is_per_pr(store: &TestStore) {
    assert_eq!(
        store.pr_state(&pr(1)).await.expect("get"),
        PrState::default()
    );
    let mut state = PrState {
        comment_id: Some(42),
        review_requested_for: Some("fp1".into()),
        ..PrState::default()
    };
    state.audited.reviews.insert(7);
    state.audited.status = Some("h1 pending needs".into());
    store.put_pr_state(&pr(1), &state).await.expect("put");
    assert_eq!(store.pr_state(&pr(1)).await.expect("get"), state);
    assert_eq!(
        store.pr_state(&pr(2)).await.expect("get"),
        PrState::default()
    );
    let newer = PrState {
        comment_id: Some(42),
        review_requested_for: None,
        ..PrState::default()
    };
    store.put_pr_state(&pr(1), &newer).await.expect("put");
    assert_eq!(store.pr_state(&pr(1)).await.expect("get"), newer);
}

#[tokio::test]
async fn what_was_acknowledged_survives_reopening_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/nested/dir/iamgate.db", dir.path().display());
    let store = SqliteStore::open(&url, crate::audit::key::test_keys())
        .await
        .expect("open");
    assert_eq!(record(&store, "d1", 1).await, Recorded::Fresh);
    store
        .put_pr_state(
            &pr(1),
            &PrState {
                comment_id: Some(9),
                review_requested_for: None,
                ..PrState::default()
            },
        )
        .await
        .expect("put");
    drop(store);

    let store = SqliteStore::open(&url, crate::audit::key::test_keys())
        .await
        .expect("reopen");
    assert_eq!(
        record(&store, "d1", 1).await,
        Recorded::Duplicate,
        "dedup survives a restart"
    );
    let job = claim(&store, "w").await.expect("the job survived");
    assert_eq!(job.kind, analyze(1));
    assert_eq!(
        store.pr_state(&pr(1)).await.expect("get").comment_id,
        Some(9)
    );
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&store.readers)
        .await
        .expect("pragma");
    assert_eq!(mode, "wal");
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&store.readers)
        .await
        .expect("pragma");
    assert_eq!(sync, 2, "synchronous=FULL");
    store.close().await;
}

#[tokio::test]
async fn a_thousand_concurrent_deliveries_are_all_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/iamgate.db", dir.path().display());
    let store = Arc::new(
        SqliteStore::open(&url, crate::audit::key::test_keys())
            .await
            .expect("open"),
    );
    let mut tasks = tokio::task::JoinSet::new();
    // Every tenth delivery is sent twice at once (a forge retrying a slow request).
    for i in (0..1000u64).chain((0..1000).step_by(10)) {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            store
                .record_delivery(delivery(&format!("d{i}"), i % 100), vec![analyze(i % 100)])
                .await
        });
    }
    let (mut fresh, mut duplicate) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("task").expect("record") {
            Recorded::Fresh => fresh += 1,
            Recorded::Duplicate => duplicate += 1,
        }
    }
    assert_eq!((fresh, duplicate), (1000, 100));
    assert_eq!(
        sqlite_i64(&store, "SELECT COUNT(*) FROM deliveries").await,
        1000
    );
    let event: String = sqlx::query_scalar("SELECT event FROM deliveries WHERE id = 'd437'")
        .fetch_one(&store.readers)
        .await
        .expect("row");
    assert_eq!(
        serde_json::from_str::<Event>(&event).expect("json"),
        delivery("d437", 37).event
    );
    assert_eq!(
        sqlite_i64(&store, "SELECT COUNT(*) FROM delivery_jobs").await,
        1000
    );
    assert_eq!(stats(&*store).await.pending, 100, "coalesced per PR");
}

async fn ping_answers_and_stats_count_by_state(store: &TestStore) {
    store.ping().await.expect("ping");
    for number in 1..=3 {
        store.enqueue(analyze(number)).await.expect("enqueue");
    }
    let job = claim(&**store, "w").await.expect("job");
    store.fail_job(&job, "no", None).await.expect("bury");
    claim(&**store, "w").await.expect("job");
    assert_eq!(
        stats(&**store).await,
        QueueStats {
            pending: 1,
            running: 1,
            dead: 1
        }
    );
}

async fn prune_forgets_finished_work_but_never_pending_or_running_work(store: &TestStore) {
    record(&**store, "done", 1).await;
    let job = claim(&**store, "w").await.expect("job");
    store.complete_job(&job).await.expect("complete");
    record(&**store, "running", 2).await;
    claim(&**store, "w").await.expect("job");
    record(&**store, "pending", 3).await;
    tokio::time::sleep(Duration::from_millis(5)).await;

    assert_eq!(
        store
            .prune(Duration::from_secs(3600), 100)
            .await
            .expect("prune"),
        Pruned::default(),
        "nothing is old enough"
    );
    let pruned = store.prune(Duration::ZERO, 100).await.expect("prune");
    assert_eq!(
        pruned,
        Pruned {
            jobs: 1,
            deliveries: 1,
            tickets: 0,
            ci: 0,
        }
    );
    let kept: Vec<String> = store
        .texts("SELECT id FROM deliveries ORDER BY id")
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(kept, ["pending", "running"]);
    assert_eq!(
        stats(&**store).await,
        QueueStats {
            pending: 1,
            running: 1,
            dead: 0
        }
    );
    assert_eq!(
        record(&**store, "done", 1).await,
        Recorded::Fresh,
        "a forgotten delivery is new again"
    );
}

#[test]
fn urls_name_a_file_or_memory() {
    assert_eq!(parse_url("sqlite::memory:").expect("memory"), None);
    assert_eq!(
        parse_url("sqlite://data/iamgate.db").expect("relative"),
        Some(PathBuf::from("data/iamgate.db"))
    );
    assert_eq!(
        parse_url("sqlite:///var/lib/iamgate.db").expect("absolute"),
        Some(PathBuf::from("/var/lib/iamgate.db"))
    );
    assert_eq!(
        parse_url("sqlite:iamgate.db").expect("bare"),
        Some(PathBuf::from("iamgate.db"))
    );
    for bad in [
        "postgres://db",
        "sqlite://",
        "sqlite://x.db?mode=ro",
        "data/iamgate.db",
        "sqlite::memory",
    ] {
        assert!(matches!(parse_url(bad), Err(StoreError::Url(_))), "{bad}");
    }
}

/// Throughput and latency at the target rate, with real fsyncs. Run in release:
/// `cargo test --release --lib store::sqlite::tests::throughput -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: slow in debug builds"]
async fn throughput_at_5000_deliveries_per_second() {
    let rate: u64 = std::env::var("RATE")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5000);
    let seconds: u64 = std::env::var("SECONDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir_in(".").expect("tempdir");
    let url = format!("sqlite://{}/iamgate.db", dir.path().display());
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let mut options = SqliteOptions::default();
    if let Some(ms) = env("LINGER_MS") {
        options.group_commit.linger = Duration::from_millis(ms);
    }
    if let Some(n) = env("MAX_BATCH") {
        options.group_commit.max_batch = usize::try_from(n).expect("fits");
    }
    if let Some(ms) = env("CHECKPOINT_MS") {
        options.checkpoint_every = (ms > 0).then(|| Duration::from_millis(ms));
    }
    let store = Arc::new(
        SqliteStore::open_with(&url, crate::audit::key::test_keys(), options)
            .await
            .expect("open"),
    );
    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let mut tasks = tokio::task::JoinSet::new();
    let total = rate * seconds;
    let per_tick = rate / 1000;
    let mut sent = 0u64;
    while sent < total {
        tick.tick().await;
        for _ in 0..per_tick {
            let store = Arc::clone(&store);
            let i = sent;
            tasks.spawn(async move {
                let begun = std::time::Instant::now();
                let recorded = store
                    .record_delivery(
                        delivery(&format!("delivery-{i:08}"), i % 500),
                        vec![analyze(i % 500)],
                    )
                    .await
                    .expect("record");
                assert_eq!(recorded, Recorded::Fresh);
                begun.elapsed()
            });
            sent += 1;
        }
    }
    let mut latencies = Vec::with_capacity(usize::try_from(total).expect("fits"));
    while let Some(joined) = tasks.join_next().await {
        latencies.push(joined.expect("task"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    eprintln!(
        "{total} deliveries in {elapsed:?} = {:.0}/s; p50 {:?} p99 {:?} max {:?}",
        total as f64 / elapsed.as_secs_f64(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
    assert!(at(0.99) < Duration::from_millis(20), "p99 {:?}", at(0.99));
}

#[tokio::test]
async fn the_database_and_its_wal_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("data").join("iamgate.db");
    let store = SqliteStore::open(
        &format!("sqlite://{}", path.display()),
        crate::audit::key::test_keys(),
    )
    .await
    .expect("open");
    store.ping().await.expect("ping");
    for suffix in ["", "-wal"] {
        let file = format!("{}{suffix}", path.display());
        let mode = std::fs::metadata(&file)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}: {mode:o}");
    }
    store.close().await;

    // An existing database made readable by others is tightened on open.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let store = SqliteStore::open(
        &format!("sqlite://{}", path.display()),
        crate::audit::key::test_keys(),
    )
    .await
    .expect("reopen");
    let mode = std::fs::metadata(&path)
        .expect("exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    store.close().await;
}

async fn a_body_replayed_under_a_new_delivery_id_is_a_duplicate_of_the_first(store: &TestStore) {
    let first = delivery("d1", 7);
    let job = JobKind::AnalyzePr { pr: pr(7) };
    assert_eq!(
        store
            .record_delivery(first.clone(), vec![job.clone()])
            .await
            .expect("record"),
        Recorded::Fresh
    );
    let replay = NewDelivery {
        id: DeliveryId("d2-replayed".to_owned()),
        ..first.clone()
    };
    assert_eq!(
        store
            .record_delivery(replay, vec![job.clone()])
            .await
            .expect("record"),
        Recorded::Duplicate
    );
    // Another body under another id is a delivery of its own.
    let other = NewDelivery {
        id: DeliveryId("d3".to_owned()),
        body_sha256: Some("another body".to_owned()),
        ..first
    };
    assert_eq!(
        store
            .record_delivery(other, vec![job])
            .await
            .expect("record"),
        Recorded::Fresh
    );
}

async fn a_ci_preview_is_stored_once_per_token_and_replaced_by_a_resubmission(store: &TestStore) {
    let repo_key = pr(1).repo_ref().key();
    let preview = |body: &str, source: &str| crate::store::CiPreview {
        repo_key: repo_key.clone(),
        commit: "c1".into(),
        stack: "prod".into(),
        failed: false,
        body: body.as_bytes().to_vec(),
        source: source.into(),
        received_ms: 0,
    };
    let token = |jti: &str| crate::store::CiToken {
        issuer: "https://token.actions.githubusercontent.com".into(),
        jti: jti.into(),
        keep_until_ms: i64::MAX,
    };
    assert_eq!(
        store
            .put_ci_preview(preview("{}", "run 1"), token("t1"), vec![analyze(1)])
            .await
            .expect("put"),
        crate::store::CiSubmitted::Stored
    );
    assert_eq!(
        stats(&**store).await.pending,
        1,
        "its pull request is analyzed"
    );
    // The same token again: refused, nothing replaced.
    assert_eq!(
        store
            .put_ci_preview(preview("{\"evil\":1}", "run 2"), token("t1"), vec![])
            .await
            .expect("put"),
        crate::store::CiSubmitted::TokenReused
    );
    let kept = store
        .ci_preview(&repo_key, "c1", "prod")
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(
        (kept.body.as_slice(), kept.source.as_str()),
        (&b"{}"[..], "run 1")
    );
    // A resubmission with a new token replaces it.
    store
        .put_ci_preview(
            preview("{\"steps\":[]}", "run 3"),
            token("t2"),
            vec![analyze(1)],
        )
        .await
        .expect("put");
    let kept = store
        .ci_preview(&repo_key, "c1", "prod")
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(kept.source, "run 3");
    assert!(
        store
            .ci_preview(&repo_key, "c2", "prod")
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        store
            .ci_preview("gitlab:acme/infra", "c1", "prod")
            .await
            .expect("get")
            .is_none()
    );
}

crate::store::on_both_backends!(
    a_duplicate_delivery_changes_nothing,
    deliveries_for_one_pr_coalesce_into_one_pending_job,
    an_event_while_its_pr_runs_gives_exactly_one_more_run,
    jobs_are_claimed_oldest_first_and_never_twice,
    an_expired_lease_is_taken_over_and_the_old_worker_cannot_clobber_it,
    an_extended_lease_is_not_taken_over,
    a_failed_job_is_retried_after_its_delay_then_dead_lettered_with_the_reason,
    a_retry_coalesces_into_a_newer_pending_job_and_keeps_the_backoff,
    redelivering_a_dead_lettered_delivery_enqueues_it_again_once,
    a_delivery_without_jobs_is_stored_and_stays_a_duplicate,
    an_unreadable_job_kind_is_dead_lettered_not_claimed_forever,
    pr_state_defaults_round_trips_and_is_per_pr,
    ping_answers_and_stats_count_by_state,
    prune_forgets_finished_work_but_never_pending_or_running_work,
    a_body_replayed_under_a_new_delivery_id_is_a_duplicate_of_the_first,
    a_ci_preview_is_stored_once_per_token_and_replaced_by_a_resubmission,
);
