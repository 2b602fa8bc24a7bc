//! The PostgreSQL store's own tests: what several replicas on one database must get right
//! (each "replica" here is its own [`PostgresStore`], with its own pool, on one scratch
//! database). The behaviour both backends share is tested on both by `store::conformance`.
//! They run when `IAMGATE_TEST_DATABASE_URL` is set (`.ci/run` sets it) and fail when it is set
//! and the server is away.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::{PostgresOptions, PostgresStore, ScratchDatabase};
use crate::audit::key::test_keys;
use crate::audit::{AuditEntry, AuditEvent, GateState, Timestamp, verify};
use crate::event::{DeliveryId, Event, ForgeKind, PrNumber, PrRef, RepoName, Sha};
use crate::store::{JobKind, Lane, NewDelivery, Recorded, Store};

fn pr(number: u64) -> PrRef {
    PrRef {
        forge: ForgeKind::GitHub,
        installation: Some(1),
        repo: RepoName::from("acme/infra"),
        number: PrNumber(number),
    }
}

fn delivery(id: &str, number: u64) -> (NewDelivery, Vec<JobKind>) {
    let pr = pr(number);
    (
        NewDelivery {
            id: DeliveryId(id.into()),
            forge: "github".into(),
            event_name: "pull_request".into(),
            event: Event::Ignored {
                event: format!("test {id}"),
                action: None,
            },
            body_sha256: Some(format!("sha-{id}")),
        },
        vec![JobKind::AnalyzePr { pr }],
    )
}

fn entry(n: u64) -> AuditEntry {
    let time = Timestamp::from_unix_millis(1_714_521_600_000 + n as i64).expect("time");
    AuditEntry::by_app(
        time,
        &pr(n % 7 + 1),
        AuditEvent::StatusChange {
            state: GateState::Pending,
            description: format!("status {n}"),
        },
    )
    .at(Sha(format!("{n:0>40}")))
}

/// `n` replicas on one fresh database (`None`: no test server configured).
async fn replicas(n: usize) -> Option<(ScratchDatabase, Vec<Arc<PostgresStore>>)> {
    let db = ScratchDatabase::create().await?;
    // Opened together: the migration runs once, under its lock.
    let opens = (0..n).map(|_| {
        let url = db.url.clone();
        tokio::spawn(async move {
            PostgresStore::open_with(
                &url,
                test_keys(),
                PostgresOptions {
                    max_connections: 4,
                    ..PostgresOptions::default()
                },
            )
            .await
        })
    });
    let mut stores = Vec::new();
    for open in opens.collect::<Vec<_>>() {
        stores.push(Arc::new(open.await.expect("task").expect("open")));
    }
    Some((db, stores))
}

async fn close(db: ScratchDatabase, stores: Vec<Arc<PostgresStore>>) {
    for store in stores {
        store.close().await;
    }
    db.drop().await;
}

#[tokio::test]
async fn replicas_starting_together_migrate_once() {
    let Some((db, stores)) = replicas(4).await else {
        return;
    };
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(stores[0].pool())
            .await
            .expect("migrations");
    assert_eq!(applied, [1, 2], "each migration once");
    close(db, stores).await;
}

#[tokio::test]
async fn the_same_delivery_at_two_replicas_at_once_is_fresh_once() {
    let Some((db, stores)) = replicas(2).await else {
        return;
    };
    let mut tasks = Vec::new();
    for i in 0..40 {
        for store in &stores {
            let store = Arc::clone(store);
            tasks.push(tokio::spawn(async move {
                let (delivery, jobs) = delivery(&format!("d{i}"), i % 5);
                store.record_delivery(delivery, jobs).await
            }));
        }
    }
    let mut fresh = 0;
    for task in tasks {
        if task.await.expect("task").expect("record") == Recorded::Fresh {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 40, "each delivery is fresh exactly once");
    let stats = stores[1].queue_stats().await.expect("stats");
    assert_eq!(stats.pending, 5, "one pending job per PR: {stats:?}");
    close(db, stores).await;
}

#[tokio::test]
async fn claims_from_many_replicas_never_run_one_pr_twice_at_once() {
    let Some((db, stores)) = replicas(3).await else {
        return;
    };
    // Work on 6 PRs keeps arriving while 3 replicas x 3 workers claim.
    let feeder = {
        let store = Arc::clone(&stores[0]);
        tokio::spawn(async move {
            for i in 0..120u64 {
                let (delivery, jobs) = delivery(&format!("f{i}"), i % 6);
                store.record_delivery(delivery, jobs).await.expect("record");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let running = Arc::new(std::sync::Mutex::new(BTreeSet::<String>::new()));
    let claims = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for (r, store) in stores.iter().enumerate() {
        for w in 0..3 {
            let (store, running, claims) =
                (Arc::clone(store), Arc::clone(&running), Arc::clone(&claims));
            workers.push(tokio::spawn(async move {
                let mut idle = 0;
                while idle < 40 {
                    let worker = format!("r{r}w{w}");
                    let job = store
                        .claim_job(&worker, Duration::from_secs(30), Some(Lane::Fast))
                        .await
                        .expect("claim");
                    let Some(job) = job else {
                        idle += 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    };
                    idle = 0;
                    let key = job.kind.coalesce_key();
                    assert!(
                        running.lock().expect("lock").insert(key.clone()),
                        "{key} claimed while it runs elsewhere"
                    );
                    claims.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(3)).await;
                    running.lock().expect("lock").remove(&key);
                    store.complete_job(&job).await.expect("complete");
                }
            }));
        }
    }
    feeder.await.expect("feeder");
    for worker in workers {
        worker.await.expect("a worker saw one PR run twice at once");
    }
    let stats = stores[2].queue_stats().await.expect("stats");
    assert_eq!((stats.pending, stats.running), (0, 0), "{stats:?}");
    assert!(claims.load(std::sync::atomic::Ordering::SeqCst) >= 6);
    close(db, stores).await;
}

#[tokio::test]
async fn a_dead_replicas_job_is_taken_over_when_its_lease_ends() {
    let Some((db, stores)) = replicas(2).await else {
        return;
    };
    let (d, jobs) = delivery("k1", 1);
    stores[0].record_delivery(d, jobs).await.expect("record");
    let dying = stores[0]
        .claim_job("dies", Duration::from_millis(300), None)
        .await
        .expect("claim")
        .expect("a job");
    assert!(
        stores[1]
            .claim_job("other", Duration::from_secs(30), None)
            .await
            .expect("claim")
            .is_none(),
        "a live lease is never taken over"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let taken = stores[1]
        .claim_job("other", Duration::from_secs(30), None)
        .await
        .expect("claim")
        .expect("taken over");
    assert_eq!((taken.id, taken.attempt), (dying.id, 2));
    // The dead replica's late completion changes nothing.
    stores[0].complete_job(&dying).await.expect("complete");
    assert_eq!(stores[1].queue_stats().await.expect("stats").running, 1);
    stores[1].complete_job(&taken).await.expect("complete");
    assert_eq!(stores[1].queue_stats().await.expect("stats").running, 0);
    close(db, stores).await;
}

#[tokio::test]
async fn concurrent_appends_on_three_replicas_make_one_chain() {
    let Some((db, stores)) = replicas(3).await else {
        return;
    };
    let mut tasks = Vec::new();
    for i in 1..=150u64 {
        let store = Arc::clone(&stores[(i % 3) as usize]);
        tasks.push(tokio::spawn(
            async move { store.append_audit(entry(i)).await },
        ));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.expect("task").expect("append").seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=150).collect::<Vec<_>>(), "no fork, no gap");
    let chain = stores[0].audit_chain().await.expect("chain");
    assert_eq!(verify(&chain, &test_keys()).expect("intact").count, 150);
    close(db, stores).await;
}

#[tokio::test]
async fn sql_cannot_rewrite_history_while_the_triggers_stand() {
    let Some((db, stores)) = replicas(1).await else {
        return;
    };
    for i in 1..=3 {
        stores[0].append_audit(entry(i)).await.expect("append");
    }
    for statement in [
        "UPDATE audit_log SET record = '{}' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 3",
        "TRUNCATE audit_log",
        "UPDATE audit_head SET count = 2",
        "DELETE FROM audit_head",
        "INSERT INTO audit_log (seq, time, kind, repo, pr, record, prev_hash, hash) \
         VALUES (2, 0, 'x', 'x', 1, '{}', 'x', 'x')",
    ] {
        let error = sqlx::query(statement)
            .execute(stores[0].pool())
            .await
            .expect_err(statement);
        assert!(error.to_string().contains("audit"), "{statement}: {error}");
    }
    verify(&stores[0].audit_chain().await.expect("chain"), &test_keys()).expect("intact");
    close(db, stores).await;
}

#[tokio::test]
async fn an_unreachable_database_fails_fast_and_names_no_password() {
    // Port 9 on loopback: nothing listens, the connection is refused.
    let started = std::time::Instant::now();
    let error = PostgresStore::open_with(
        "postgres://iamgate@127.0.0.1:9/iamgate",
        test_keys(),
        PostgresOptions {
            acquire_timeout: Duration::from_secs(2),
            ..PostgresOptions::default()
        },
    )
    .await
    .expect_err("nothing listens");
    assert!(started.elapsed() < Duration::from_secs(10), "{error}");
    assert!(!error.to_string().contains("password"), "{error}");
}

#[test]
fn urls_are_redacted_in_messages() {
    assert_eq!(
        super::redact("postgres://iamgate:s3cret@db:5432/iamgate?sslmode=require"),
        "postgres://iamgate:***@db:5432/iamgate?sslmode=require"
    );
    assert_eq!(
        super::redact("postgres://u:p@ss:w/rd@db/iamgate"),
        "postgres://u:***@ss:w/rd@db/iamgate",
        "the authority ends at the first `/`: what follows is not the password"
    );
    assert_eq!(
        super::redact("postgres://u:p@ss@db:5432/iamgate?application_name=a@b"),
        "postgres://u:***@db:5432/iamgate?application_name=a@b",
        "a password with an `@` is hidden whole"
    );
    assert_eq!(
        super::redact("postgres://iamgate@db/iamgate"),
        "postgres://iamgate@db/iamgate",
        "no password, nothing to hide"
    );
    assert!(super::check_url("postgres://u@h/db?sslmode=verify-full").is_ok());
    let bad = super::check_url("postgres://u@h/db?sslmode=sometimes").expect_err("bad mode");
    assert!(bad.to_string().contains("sslmode"), "{bad}");
}

#[tokio::test]
async fn the_preview_cache_is_one_for_every_replica() {
    use crate::config::repo::StackConfig;
    use crate::store::previews::{PreviewCache, PreviewRun};
    let Some((db, stores)) = replicas(2).await else {
        return;
    };
    let (mine, theirs) = (
        PreviewCache::shared(stores[0].pool().clone()),
        PreviewCache::shared(stores[1].pool().clone()),
    );
    let stack = |name: &str| StackConfig {
        name: name.into(),
        dir: "infra".into(),
        stack: format!("acme/{name}"),
        paths: vec![],
        preview: Default::default(),
    };
    let (prod, dev, head) = (stack("prod"), stack("dev"), Sha("h1".into()));
    let output = PreviewRun::Output(b"{\"steps\":[]}".repeat(1000));
    mine.save(&pr(1), &prod, &head, output.clone()).await;
    mine.save(&pr(1), &dev, &head, PreviewRun::Failed("exit 255".into()))
        .await;
    assert_eq!(theirs.load(&pr(1), &prod, &head).await, Some(output));
    assert_eq!(
        theirs.load(&pr(1), &dev, &head).await,
        Some(PreviewRun::Failed("exit 255".into()))
    );
    assert_eq!(theirs.load(&pr(2), &prod, &head).await, None, "another PR");
    // A rerun on one replica forgets the entries for all.
    theirs
        .forget(&pr(1), &[prod.clone(), dev.clone()], &head)
        .await
        .expect("forget");
    assert_eq!(mine.load(&pr(1), &prod, &head).await, None);
    assert_eq!(mine.load(&pr(1), &dev, &head).await, None);
    close(db, stores).await;
}

/// The next wake-up within `ms`, if any.
async fn next(
    woken: &mut tokio::sync::mpsc::UnboundedReceiver<Option<Lane>>,
    ms: u64,
) -> Option<Option<Lane>> {
    tokio::time::timeout(Duration::from_millis(ms), woken.recv())
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn a_job_enqueued_on_one_replica_wakes_that_lane_of_the_others() {
    let Some((db, stores)) = replicas(2).await else {
        return;
    };
    let (tx, mut woken) = tokio::sync::mpsc::unbounded_channel::<Option<Lane>>();
    let stop = tokio_util::sync::CancellationToken::new();
    let listening = stores[1].wake_on_jobs(
        move |lane| {
            let _ = tx.send(lane);
        },
        stop.clone(),
    );
    // Every lane once when it starts listening (what came before).
    assert_eq!(next(&mut woken, 10_000).await, Some(None), "listening");

    let (d, jobs) = delivery("w1", 1);
    stores[0].record_delivery(d, jobs).await.expect("record");
    assert_eq!(
        next(&mut woken, 2_000).await,
        Some(Some(Lane::Fast)),
        "woken by the other replica's enqueue, in its lane, without polling"
    );
    // Moved to the preview lane on the other replica: that lane is woken.
    let job = stores[0]
        .claim_job("r0", Duration::from_secs(30), None)
        .await
        .expect("claim")
        .expect("job");
    stores[0].move_job(&job, Lane::Preview).await.expect("move");
    assert_eq!(next(&mut woken, 2_000).await, Some(Some(Lane::Preview)));

    // Its own enqueues wake its workers in its own process: not passed on again.
    stores[1]
        .enqueue(JobKind::AnalyzePr { pr: pr(9) })
        .await
        .expect("enqueue");
    // A delivery without jobs makes nothing claimable: nobody is woken.
    let quiet = NewDelivery {
        body_sha256: Some("quiet".into()),
        ..delivery("w2", 1).0
    };
    stores[0]
        .record_delivery(quiet, Vec::new())
        .await
        .expect("record");
    assert_eq!(next(&mut woken, 500).await, None, "nothing more");
    stop.cancel();
    listening.await.expect("listener");
    close(db, stores).await;
}
