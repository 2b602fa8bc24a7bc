//! `iamgate store copy` and `iamgate audit` on PostgreSQL, through the real binary: a SQLite
//! store with deliveries, jobs, votes and an audit chain is copied into a fresh database; the
//! copy verifies, acts as the source did (a redelivery is a duplicate, the votes count, the chain
//! goes on from its head), and a copy into a database that is not empty, or of a tampered
//! source, keeps nothing. Runs when `IAMGATE_TEST_DATABASE_URL` is set; fails when it is set
//! and the server is away.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a test failure"
)]

use std::path::Path;

use assert_cmd::Command;
use iamgate::audit::{
    ApprovalSource, AuditEntry, AuditEvent, AuditKey, AuditKeys, GateState, Timestamp,
};
use iamgate::event::{DeliveryId, Event, ForgeKind, PrNumber, PrRef, RepoName, Sha};
use iamgate::store::postgres::{PostgresStore, ScratchDatabase};
use iamgate::store::sqlite::SqliteStore;
use iamgate::store::{CommandVote, CommandVoteKind, JobKind, NewDelivery, Recorded, Store};
use predicates::prelude::*;

const KEY: &str = "6b6579206f66207468652073746f726520636f70792074657374732c2033322b";

fn keys() -> AuditKeys {
    AuditKeys::new(AuditKey::from_hex(KEY).unwrap(), Vec::new())
}

fn iamgate() -> Command {
    let mut cmd = Command::cargo_bin("iamgate").unwrap();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).env_clear();
    cmd
}

fn pr(number: u64) -> PrRef {
    PrRef {
        forge: ForgeKind::GitHub,
        installation: Some(1),
        repo: RepoName::from("acme/infra"),
        number: PrNumber(number),
    }
}

fn delivery(id: &str) -> NewDelivery {
    NewDelivery {
        id: DeliveryId(id.into()),
        forge: "github".into(),
        event_name: "pull_request".into(),
        event: Event::Ignored {
            event: format!("test {id}"),
            action: None,
        },
        body_sha256: Some(format!("body-{id}")),
    }
}

fn status(n: u64) -> AuditEntry {
    AuditEntry::by_app(
        Timestamp::from_unix_millis(1_714_521_600_000 + n as i64 * 1000).unwrap(),
        &pr(n % 3 + 1),
        AuditEvent::StatusChange {
            state: GateState::Pending,
            description: format!("status {n}"),
        },
    )
    .at(Sha(format!("{n:0>40}")))
}

fn vote(source: &str) -> CommandVote {
    CommandVote {
        source: source.into(),
        login: "alice".into(),
        user_id: None,
        kind: CommandVoteKind::Approve,
        head: "a".repeat(40),
        reason: Some("fine".into()),
        at_ms: 1_714_521_700_000,
    }
}

/// A SQLite store with 3 deliveries (2 jobs), 5 status records, one command vote.
async fn source(path: &Path) {
    let store = SqliteStore::open(&format!("sqlite://{}", path.display()), keys())
        .await
        .unwrap();
    for (id, number) in [("d1", 1), ("d2", 2), ("d3", 1)] {
        let jobs = vec![JobKind::AnalyzePr { pr: pr(number) }];
        assert_eq!(
            store.record_delivery(delivery(id), jobs).await.unwrap(),
            Recorded::Fresh
        );
    }
    for n in 1..=5 {
        store.append_audit(status(n)).await.unwrap();
    }
    let approval = AuditEvent::Approval {
        via: ApprovalSource::Command,
        fingerprint: None,
        requirements: vec!["security".into()],
        reason: Some("fine".into()),
    };
    assert!(
        store
            .add_vote(&pr(1), &vote("comment:9:0"), Some(approval))
            .await
            .unwrap()
    );
    store.close().await;
}

fn key_file(dir: &Path) -> String {
    let file = dir.join("audit.key");
    std::fs::write(&file, KEY).unwrap();
    file.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_store_copied_to_postgres_verifies_and_acts_as_before() {
    let Some(db) = ScratchDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("iamgate.db");
    source(&file).await;
    let from = format!("sqlite://{}", file.display());
    let keys_at = key_file(dir.path());

    let copy = iamgate()
        .args([
            "store",
            "copy",
            "--from",
            &from,
            "--to",
            &db.url,
            "--key-file",
            &keys_at,
        ])
        .assert()
        .success();
    let out = String::from_utf8(copy.get_output().stdout.clone()).unwrap();
    assert!(out.contains("deliveries: 3 rows"), "{out}");
    assert!(out.contains("jobs: 2 rows"), "{out}");
    assert!(
        out.contains("ok: 6 audit records copied and verified"),
        "{out}"
    );

    // `iamgate audit --verify` reads the same url.
    iamgate()
        .args([
            "audit",
            "--verify",
            "--store",
            &db.url,
            "--key-file",
            &keys_at,
        ])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("ok: 6 records"));

    let store = PostgresStore::open(&db.url, keys()).await.unwrap();
    // A redelivery of a copied delivery (by id or by body) is a duplicate.
    assert_eq!(
        store
            .record_delivery(delivery("d2"), Vec::new())
            .await
            .unwrap(),
        Recorded::Duplicate
    );
    // The copied vote counts; the jobs are there to be claimed; the chain goes on.
    assert_eq!(store.votes(&pr(1)).await.unwrap().len(), 1);
    assert_eq!(store.queue_stats().await.unwrap().pending, 2);
    assert_eq!(store.append_audit(status(6)).await.unwrap().seq, 7);
    store.close().await;

    // Copying again into what is now not empty keeps nothing and says why.
    iamgate()
        .args(["store", "copy", "--from", &from, "--to", &db.url])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not empty"));
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_source_is_refused_when_a_key_can_tell() {
    let Some(db) = ScratchDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("iamgate.db");
    source(&file).await;
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        file.display()
    ))
    .await
    .unwrap();
    for statement in [
        "DROP TRIGGER audit_log_no_update",
        "UPDATE audit_log SET record = replace(record, 'status 3', 'status 9') WHERE seq = 3",
    ] {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
    drop(conn);
    let keys_at = key_file(dir.path());
    let from = format!("sqlite://{}", file.display());
    iamgate()
        .args([
            "store",
            "copy",
            "--from",
            &from,
            "--to",
            &db.url,
            "--key-file",
            &keys_at,
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("does not verify"));
    // Without a key nothing can tell: it is copied as held, and the copy fails `--verify`.
    iamgate()
        .args(["store", "copy", "--from", &from, "--to", &db.url])
        .assert()
        .success();
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let copied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(copied, 6, "copied as the source holds it, links unverified");
    pool.close().await;
    iamgate()
        .args([
            "audit",
            "--verify",
            "--store",
            &db.url,
            "--key-file",
            &keys_at,
        ])
        .assert()
        .code(1);
    db.drop().await;
}

#[test]
fn bad_urls_are_refused_with_what_was_expected() {
    iamgate()
        .args([
            "store",
            "copy",
            "--from",
            "postgres://x/y",
            "--to",
            "postgres://a/b",
        ])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("expected sqlite://PATH"));
    iamgate()
        .args([
            "store",
            "copy",
            "--from",
            "sqlite:///nonexistent/iamgate.db",
            "--to",
            "postgres://a/b",
        ])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no database at"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.db");
    std::fs::write(&file, b"").unwrap();
    iamgate()
        .args([
            "store",
            "copy",
            "--from",
            &format!("sqlite://{}", file.display()),
            "--to",
            "mysql://a/b",
        ])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("expected postgres://"));
}
