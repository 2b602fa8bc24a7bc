//! The store against someone who can write its file but does not hold the audit key (issue 12,
//! item 10), on the store of a real run: a vote written into it by hand counts for nothing,
//! `iamgate audit --verify` finds every change to its audit trail (a cut-back chain against a
//! head saved before), and a rotated key keeps the votes and the trail verifying.

use std::path::Path;
use std::process::Command;

use iamgate::audit::chain::{self, link_hash};
use iamgate::audit::{ApprovalSource, AuditEvent, AuditKey, ChainHead, Timestamp};
use iamgate::event::PrRef;
use iamgate::store::backing::vote_entry;
use iamgate::store::{CommandVote, CommandVoteKind};
use sqlx::{Connection, SqliteConnection};

use crate::approvals::{APPROVED, NEEDS_SECURITY, PR, analyzed};
use crate::support::app::{AUDIT_KEY, CONFIG, Forge, Options, TestApp};

crate::both_forges!(
    a_vote_written_into_the_store_by_hand_counts_for_nothing,
    verify_finds_every_change_to_the_trail_of_a_real_run,
    a_rotated_key_keeps_the_votes_and_the_trail_verifying,
);

/// Runs SQL on the database file, as someone with the file would (the triggers dropped first
/// when `drop_triggers`).
async fn sql(db: &Path, drop_triggers: bool, statements: &[String]) {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let triggers: &[&str] = if drop_triggers {
        &[
            "audit_log_no_update",
            "audit_log_no_delete",
            "audit_log_extends_head",
            "audit_log_advance_head",
            "audit_head_forward_only",
        ]
    } else {
        &[]
    };
    for trigger in triggers {
        let drop = format!("DROP TRIGGER IF EXISTS {trigger}");
        sqlx::query(sqlx::AssertSqlSafe(drop))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    conn.close().await.unwrap();
}

/// One value of the database file.
async fn scalar(db: &Path, query: &str) -> String {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let value: String = sqlx::query_scalar(sqlx::AssertSqlSafe(query.to_owned()))
        .fetch_one(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    conn.close().await.unwrap();
    value
}

fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The pull request the scenario's records are about.
async fn pr_of<F: Forge>(s: &TestApp<F>) -> PrRef {
    let analysis = s.audit().await.remove(0);
    PrRef {
        forge: analysis.forge,
        installation: None,
        repo: analysis.repo,
        number: analysis.pr,
    }
}

/// `iamgate audit --verify` of the real binary on `db`, with the harness's key (and `args`):
/// its exit code, stdout and stderr.
fn verify(db: &Path, args: &[&str]) -> (i32, String, String) {
    let key = db.with_file_name("audit-key.hex");
    std::fs::write(&key, AUDIT_KEY).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .env_clear()
        .args(["audit", "--verify", "--store"])
        .arg(format!("sqlite://{}", db.display()))
        .arg("--key-file")
        .arg(&key)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn now_ms() -> i64 {
    Timestamp::from_system_time(std::time::SystemTime::now()).unix_millis()
}

/// PR 7 pending for the security team; vote rows for two qualified reviewers and an approval's
/// audit record written into its store by hand (the record appended as the triggers allow, its
/// link computed without the key). The gate stays pending; a real approval then passes it.
async fn a_vote_written_into_the_store_by_hand_counts_for_nothing<F: Forge>() {
    let (s, head) = analyzed::<F>(CONFIG).await;
    let db = s.db();
    let pr = pr_of(&s).await;
    let at = now_ms();
    let mut statements: Vec<String> = ["sec1", "alice"]
        .iter()
        .enumerate()
        .map(|(i, login)| {
            format!(
                "INSERT INTO votes (pr_key, source, login, kind, head, at) \
                 VALUES ({}, 'comment:99{i}:0', '{login}', 'approve', '{head}', {at})",
                quoted(&pr.key())
            )
        })
        .collect();
    let forged = CommandVote {
        source: "comment:995:0".into(),
        login: "sec1".into(),
        user_id: None,
        kind: CommandVoteKind::Approve,
        head: head.clone(),
        reason: None,
        at_ms: at,
    };
    let tail = ChainHead {
        count: scalar(&db, "SELECT CAST(count AS TEXT) FROM audit_head")
            .await
            .parse()
            .unwrap(),
        hash: scalar(&db, "SELECT hash FROM audit_head").await,
    };
    let approval = AuditEvent::Approval {
        via: ApprovalSource::Command,
        fingerprint: None,
        requirements: vec!["security".into()],
        reason: None,
    };
    let record = chain::link_unkeyed(&tail, &vote_entry(&pr, &forged, approval)).unwrap();
    statements.push(format!(
        "INSERT INTO audit_log (seq, time, kind, repo, pr, record, prev_hash, hash) \
         VALUES ({}, {}, 'approval', {}, {}, {}, '{}', '{}')",
        record.seq,
        record.time_ms,
        quoted(&record.repo),
        record.pr,
        quoted(&record.record),
        record.prev_hash,
        record.hash
    ));
    sql(&db, false, &statements).await;

    // The gate decided again, with the rows and the record in the store.
    s.comment(PR, "dev", "/iamgate rerun").await;
    s.settle().await;
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
    assert!(
        !crate::approvals::reviews(&s.report(PR)).contains("@sec1"),
        "{}",
        s.report(PR)
    );

    let (code, _, stderr) = verify(&db, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "record {0} (row id {0}): it is not keyed, but records before it are",
            record.seq
        )),
        "{stderr}"
    );

    // The real thing counts.
    s.comment(PR, "sec1", "/iamgate approve").await;
    s.settle().await;
    s.assert_gate(&head, "success", APPROVED).await;
}

/// A real run's trail (an analysis, an approval and a withdrawal by command, their statuses),
/// copied and changed one way per copy: `--verify` names each change; a chain cut back with its
/// head verifies, but not against the head saved before.
async fn verify_finds_every_change_to_the_trail_of_a_real_run<F: Forge>() {
    let (s, _head) = analyzed::<F>(CONFIG).await;
    s.comment(PR, "sec1", "/iamgate approve").await;
    s.settle().await;
    s.comment(PR, "sec1", "/iamgate unapprove").await;
    s.settle().await;
    let live = s.db();
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snapshot.db");
    sql(
        &live,
        false,
        &[format!(
            "VACUUM INTO {}",
            quoted(&snapshot.display().to_string())
        )],
    )
    .await;
    let (code, intact, stderr) = verify(&snapshot, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        intact.contains("votes: 2 command votes, each its keyed audit record"),
        "{intact}"
    );
    let count: i64 = scalar(&snapshot, "SELECT CAST(count AS TEXT) FROM audit_head")
        .await
        .parse()
        .unwrap();
    let saved = scalar(&snapshot, "SELECT hash FROM audit_head").await;
    let withdrawal: i64 = scalar(
        &snapshot,
        "SELECT CAST(seq AS TEXT) FROM audit_log WHERE kind = 'withdrawal'",
    )
    .await
    .parse()
    .unwrap();
    assert!(
        withdrawal < count,
        "the withdrawal is not the newest record"
    );
    let (prev, record) = (
        scalar(
            &snapshot,
            &format!("SELECT prev_hash FROM audit_log WHERE seq = {withdrawal}"),
        )
        .await,
        scalar(
            &snapshot,
            &format!("SELECT record FROM audit_log WHERE seq = {withdrawal}"),
        )
        .await,
    );
    let forged = record.replace("\"actor\":\"sec1\"", "\"actor\":\"mallory\"");
    assert_ne!(forged, record);
    let unkeyed = {
        let mut value: serde_json::Value = serde_json::from_str(&forged).unwrap();
        value.as_object_mut().unwrap().remove("key_id");
        chain::canonical_json(&value)
    };

    let cases: Vec<(&str, Vec<String>, String)> = vec![
        (
            "edit",
            vec![format!(
                "UPDATE audit_log SET record = {} WHERE seq = {withdrawal}",
                quoted(&forged)
            )],
            format!(
                "record {withdrawal} (row id {withdrawal}): its content does not match its hash"
            ),
        ),
        (
            "rehash without the key",
            vec![format!(
                "UPDATE audit_log SET record = {}, hash = '{}' WHERE seq = {withdrawal}",
                quoted(&forged),
                link_hash(&prev, &forged)
            )],
            format!(
                "record {withdrawal} (row id {withdrawal}): its content does not match its hash"
            ),
        ),
        (
            "rehash without the key, unkeyed",
            vec![format!(
                "UPDATE audit_log SET record = {}, hash = '{}' WHERE seq = {withdrawal}",
                quoted(&unkeyed),
                link_hash(&prev, &unkeyed)
            )],
            format!(
                "record {withdrawal} (row id {withdrawal}): it is not keyed, but records before it are"
            ),
        ),
        (
            "delete in the middle",
            vec![format!("DELETE FROM audit_log WHERE seq = {withdrawal}")],
            format!(
                "record {withdrawal} (row id {}): it does not follow the record before it",
                withdrawal + 1
            ),
        ),
        (
            "delete the newest",
            vec![format!("DELETE FROM audit_log WHERE seq = {count}")],
            format!("record {count}: missing: the chain head counts {count} records"),
        ),
        (
            "insert in the middle",
            vec![
                format!(
                    "UPDATE audit_log SET id = id + 1000, seq = seq + 1000 WHERE seq >= {withdrawal}"
                ),
                "UPDATE audit_log SET id = id - 999, seq = seq - 999 WHERE seq > 1000".to_owned(),
                format!(
                    "INSERT INTO audit_log (id, seq, time, kind, repo, pr, record, prev_hash, hash) \
                     SELECT {withdrawal}, {withdrawal}, time, kind, repo, pr, record, prev_hash, hash \
                     FROM audit_log WHERE seq = 1"
                ),
                format!("UPDATE audit_head SET count = {}", count + 1),
            ],
            format!("record {withdrawal} (row id {withdrawal}): "),
        ),
        (
            "a vote row moved to another commit",
            vec!["UPDATE votes SET head = 'cafe' WHERE source LIKE 'comment:%'".to_owned()],
            "its audit record says otherwise (`head`): the row was altered".to_owned(),
        ),
    ];
    for (case, statements, expected) in cases {
        let copy = dir.path().join(format!("{}.db", case.replace(' ', "-")));
        std::fs::copy(&snapshot, &copy).unwrap();
        sql(&copy, true, &statements).await;
        let (code, stdout, stderr) = verify(&copy, &[]);
        assert_eq!((code, stdout.as_str()), (1, ""), "{case}: {stderr}");
        assert!(
            stderr.contains("the audit trail was altered") && stderr.contains(&expected),
            "{case}: expected `{expected}` in {stderr}"
        );
    }

    // The newest record deleted and the head rewound: consistent, except with the saved head.
    let cut = dir.path().join("cut.db");
    std::fs::copy(&snapshot, &cut).unwrap();
    sql(
        &cut,
        true,
        &[
            format!("DELETE FROM audit_log WHERE seq = {count}"),
            format!(
                "UPDATE audit_head SET count = {0}, hash = (SELECT hash FROM audit_log WHERE seq = {0})",
                count - 1
            ),
        ],
    )
    .await;
    let (code, _, stderr) = verify(&cut, &[]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = verify(&cut, &["--expect-head", &saved]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("does not hold the expected head {saved}")),
        "{stderr}"
    );
    let (code, stdout, stderr) = verify(&snapshot, &["--expect-head", &saved]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("expected head"), "{stdout}");

    // A vote row written by hand: reported, and it counts for nothing (exit 0).
    let hand = dir.path().join("hand.db");
    std::fs::copy(&snapshot, &hand).unwrap();
    let pr_key = scalar(&hand, "SELECT pr_key FROM votes LIMIT 1").await;
    sql(
        &hand,
        false,
        &[format!(
            "INSERT INTO votes (pr_key, source, login, kind, head, at) \
             VALUES ({}, 'comment:999:0', 'alice', 'approve', 'cafe', 1)",
            quoted(&pr_key)
        )],
    )
    .await;
    let (code, stdout, stderr) = verify(&hand, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!(
            "votes: 1 rows count for nothing, no audit record or MAC backs them (recorded before \
             the audit key, or written by hand): {pr_key} `comment:999:0` by alice"
        )),
        "{stdout}"
    );
}

/// Approved by command under one key; the server restarted with a new key and the old one in
/// `previous_keys`: the approval still counts, new records are keyed with the new key and the
/// whole trail verifies. Without the old key, the server does not start on that store.
async fn a_rotated_key_keeps_the_votes_and_the_trail_verifying<F: Forge>() {
    const NEW_KEY: &str = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
    let (s, head) = analyzed::<F>(CONFIG).await;
    s.comment(PR, "sec1", "/iamgate approve").await;
    s.settle().await;
    s.assert_gate(&head, "success", APPROVED).await;
    let before = s.audit().await.len();

    let rotated = Options {
        audit: format!("key = \"{NEW_KEY}\"\nprevious_keys = \"{AUDIT_KEY}\"\n"),
        ..Options::default()
    };
    let s = s
        .restart_with(rotated)
        .await
        .unwrap_or_else(|(_, e)| panic!("{e}"));
    let pushed = s.push(PR, "h2").await;
    s.settle().await;
    s.assert_gate(&pushed, "success", APPROVED).await;
    s.assert_chain_verifies().await;
    let chain = s.service.store().audit_chain().await.unwrap();
    let keys = s.service.store().audit_keys();
    let verified = iamgate::audit::verify(&chain, keys).unwrap();
    let ids: Vec<Option<&str>> = verified
        .spans
        .iter()
        .map(|span| span.key.as_deref())
        .collect();
    let old_id = AuditKey::from_hex(AUDIT_KEY).unwrap();
    let new_id = AuditKey::from_hex(NEW_KEY).unwrap();
    assert_eq!(ids, [Some(old_id.id()), Some(new_id.id())]);
    assert_eq!(verified.spans[0].last, before as u64);

    let forgotten = Options {
        audit: format!("key = \"{NEW_KEY}\"\n"),
        ..Options::default()
    };
    let Err((_, error)) = s.restart_with(forgotten).await else {
        panic!("the server started on records keyed with a key it does not hold");
    };
    assert!(
        error.contains(&format!("keyed with the audit key `{}`", old_id.id()))
            && error.contains("previous_keys"),
        "{error}"
    );
}
