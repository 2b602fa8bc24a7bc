//! `iamgate audit` through the real binary: records appended through the library are exported
//! as JSON and CSV with filters, and a database tampered with through SQL (triggers dropped,
//! rows altered, deleted, inserted or rehashed without the audit key) fails `--verify` with the
//! position of the break; a chain cut back to an earlier head fails against the head saved
//! before; records written before the key and under a rotated key verify.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a test failure"
)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use iamgate::audit::{AuditEntry, AuditEvent, AuditKey, AuditKeys, GateState, Timestamp};
use iamgate::event::{ForgeKind, Login, PrNumber, PrRef, RepoName, Sha};
use iamgate::store::Store;
use iamgate::store::sqlite::SqliteStore;
use predicates::prelude::*;
use sqlx::{Connection, SqliteConnection};

/// The binary, run from the repository root, without any inherited environment.
fn iamgate() -> Command {
    let mut cmd = Command::cargo_bin("iamgate").unwrap();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).env_clear();
    cmd
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn pr(repo: &str, number: u64) -> PrRef {
    PrRef {
        forge: ForgeKind::GitHub,
        installation: Some(1),
        repo: RepoName::from(repo),
        number: PrNumber(number),
    }
}

fn at(day: u32, hour: u32) -> Timestamp {
    Timestamp::parse_rfc3339(&format!("2024-05-{day:02}T{hour:02}:00:00Z")).unwrap()
}

/// Six records over three days in two repositories: an analysis, an approval, a refusal with
/// a hostile reason, a dropped approval, an override and a status change.
fn entries() -> Vec<AuditEntry> {
    let infra = pr("acme/infra", 12);
    let web = pr("acme/web", 3);
    let fingerprint = "f".repeat(64);
    let head = Sha("a".repeat(40));
    vec![
        AuditEntry::by_app(
            at(1, 9),
            &infra,
            AuditEvent::Analysis {
                stacks: vec!["prod".into()],
                score: 85,
                level: "critical".into(),
                fingerprint: Some(fingerprint.clone()),
                submitted_by: Vec::new(),
            },
        )
        .at(head.clone()),
        AuditEntry::by(
            at(1, 10),
            &infra,
            Login::from("alice"),
            AuditEvent::Approval {
                via: iamgate::audit::ApprovalSource::Review,
                fingerprint: Some(fingerprint.clone()),
                requirements: vec!["security".into()],
                reason: None,
            },
        )
        .at(head.clone()),
        AuditEntry::by(
            at(2, 8),
            &web,
            Login::from("mallory"),
            AuditEvent::CommandRefused {
                command: "/iamgate override".into(),
                reason: "=HYPERLINK(\"x\"), only members of acme/admins may override".into(),
            },
        ),
        AuditEntry::by_app(
            at(2, 9),
            &infra,
            AuditEvent::ApprovalDropped {
                approver: Login::from("alice"),
                approved_sha: Some(head.clone()),
                approved_fingerprint: Some(fingerprint.clone()),
                reason: "the IAM change differs".into(),
            },
        ),
        AuditEntry::by(
            at(3, 7),
            &infra,
            Login::from("root"),
            AuditEvent::Override {
                reason: "incident 42".into(),
                fingerprint: Some(fingerprint),
            },
        )
        .at(head),
        AuditEntry::by_app(
            at(3, 8),
            &web,
            AuditEvent::StatusChange {
                state: GateState::Success,
                description: "no IAM change".into(),
            },
        ),
    ]
}

/// The audit key of these tests (hex), and one used before it.
const KEY: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const OLD_KEY: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

fn key(hex: &str) -> AuditKey {
    AuditKey::from_hex(hex).unwrap()
}

/// `KEY` in a file beside the database (`audit.key`), as `--key-file` takes it.
fn key_file(path: &Path) -> PathBuf {
    let file = path.with_file_name("audit.key");
    if !file.exists() {
        std::fs::write(&file, format!("{KEY}\n")).unwrap();
    }
    file
}

/// A store file with [`entries`] in it, keyed with `KEY`.
fn store() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iamgate.db");
    append(&path, AuditKeys::new(key(KEY), Vec::new()), entries());
    key_file(&path);
    (dir, path)
}

/// Appends `entries` through the library's store, keyed with `keys`' current key.
fn append(path: &Path, keys: AuditKeys, entries: Vec<AuditEntry>) {
    runtime().block_on(async {
        let store = SqliteStore::open(&url(path), keys).await.unwrap();
        for entry in entries {
            store.append_audit(entry).await.unwrap();
        }
        store.close().await;
    });
}

/// `iamgate audit --verify` on the file, with `KEY`.
fn verify(path: &Path) -> Command {
    let mut cmd = iamgate();
    cmd.args(["audit", "--verify", "--store", &url(path), "--key-file"])
        .arg(key_file(path));
    cmd
}

/// What `--verify` prints after its `ok` line for [`store`]'s records.
fn keyed_lines(records: usize) -> String {
    format!(
        "keyed: records 1-{records} with key {}\nvotes: 0 command votes, each its keyed audit \
         record; 0 approvals bound to a commit, each MACed\n",
        key(KEY).id()
    )
}

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Runs SQL on the file directly, the triggers dropped first, as someone with the file would.
fn tamper(path: &Path, statements: &[&str]) {
    runtime().block_on(async {
        let mut conn = SqliteConnection::connect(&url(path)).await.unwrap();
        for trigger in [
            "audit_log_no_update",
            "audit_log_no_delete",
            "audit_log_extends_head",
            "audit_log_advance_head",
            "audit_head_forward_only",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP TRIGGER IF EXISTS {trigger}"
            )))
            .execute(&mut conn)
            .await
            .unwrap();
        }
        for statement in statements {
            sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        conn.close().await.unwrap();
    });
}

fn export(path: &Path, extra: &[&str]) -> String {
    let out = iamgate()
        .args(["audit", "--store", &url(path)])
        .args(extra)
        .assert()
        .success();
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

fn json(path: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    serde_json::from_str(&export(path, extra)).unwrap()
}

fn seqs(records: &[serde_json::Value]) -> Vec<i64> {
    records.iter().map(|r| r["seq"].as_i64().unwrap()).collect()
}

#[test]
fn json_export_has_every_record_with_its_links() {
    let (_dir, path) = store();
    let records = json(&path, &[]);
    assert_eq!(seqs(&records), [1, 2, 3, 4, 5, 6]);
    let analysis = &records[0];
    assert_eq!(analysis["kind"], "analysis");
    assert_eq!(analysis["repo"], "acme/infra");
    assert_eq!(analysis["pr"], 12);
    assert_eq!(analysis["head_sha"], "a".repeat(40));
    assert_eq!(analysis["actor"], "iamgate");
    assert_eq!(analysis["score"], 85);
    assert_eq!(analysis["stacks"], serde_json::json!(["prod"]));
    assert_eq!(analysis["time"], "2024-05-01T09:00:00Z");
    assert_eq!(analysis["prev_hash"], "0".repeat(64));
    for pair in records.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
    }
    assert_eq!(records[1]["actor"], "alice");
    assert_eq!(records[4]["kind"], "override");
    assert_eq!(records[4]["reason"], "incident 42");
}

#[test]
fn filters_select_by_repo_and_date() {
    let (_dir, path) = store();
    assert_eq!(seqs(&json(&path, &["--repo", "acme/infra"])), [1, 2, 4, 5]);
    assert_eq!(seqs(&json(&path, &["--since", "2024-05-02"])), [3, 4, 5, 6]);
    assert_eq!(
        seqs(&json(&path, &["--since", "2024-05-02T10:30:00+02:00"])),
        [4, 5, 6]
    );
    assert_eq!(
        seqs(&json(
            &path,
            &[
                "--repo",
                "ACME/web",
                "--since",
                "2024-05-02",
                "--format",
                "json"
            ]
        )),
        [3, 6]
    );
    assert_eq!(
        json(&path, &["--repo", "acme/none"]),
        Vec::<serde_json::Value>::new()
    );
}

#[test]
fn csv_export_has_a_header_and_defused_cells() {
    let (_dir, path) = store();
    let csv = export(&path, &["--format", "csv", "--repo", "acme/web"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "seq,time,forge,repo,pr,head_sha,actor,kind,fingerprint,details,prev_hash,hash"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].starts_with("3,2024-05-02T08:00:00Z,github,acme/web,3,,mallory,command_refused,,"),
        "{}",
        lines[1]
    );
    // The hostile reason stays inside the JSON of `details`, quoted.
    assert!(lines[1].contains(r#""{""command"":""/iamgate override"",""reason"":""=HYPERLINK"#));
    assert!(
        lines[2].starts_with("6,2024-05-03T08:00:00Z,github,acme/web,3,,iamgate,status_change,,")
    );
}

#[test]
fn an_intact_trail_verifies() {
    let (_dir, path) = store();
    let records = json(&path, &[]);
    let head = records[5]["hash"].as_str().unwrap().to_owned();
    assert_eq!(records[5]["key_id"], key(KEY).id());
    verify(&path)
        .assert()
        .success()
        .stdout(format!("ok: 6 records, head {head}\n{}", keyed_lines(6)));
    // With a filter, the whole chain is checked first, then the export follows.
    let out = verify(&path)
        .args(["--repo", "acme/web"])
        .assert()
        .success()
        .stderr(format!(
            "iamgate: ok: 6 records, head {head}\n{}",
            keyed_lines(6)
                .lines()
                .map(|line| format!("iamgate: {line}\n"))
                .collect::<String>()
        ));
    let exported: Vec<serde_json::Value> =
        serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(seqs(&exported), [3, 6]);
}

#[test]
fn auditing_leaves_the_file_exactly_as_it_was() {
    let (dir, path) = store();
    // An auditor's copy of an older file: drop a table a later migration would add back.
    tamper(
        &path,
        &[
            "DROP TABLE IF EXISTS votes",
            "DROP TABLE IF EXISTS head_fingerprints",
        ],
    );
    let before = std::fs::read(&path).unwrap();
    verify(&path)
        .assert()
        .success()
        .stdout(predicate::str::contains("votes:").not());
    json(&path, &[]);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the database file changed"
    );
    // SQLite may leave its shared-memory index beside a WAL database; its log stays empty.
    let wal = dir.path().join("iamgate.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "something was written"
    );
}

/// `--verify` fails (exit 1), names `expected` on stderr and exports nothing.
fn detects(path: &Path, expected: &str) {
    verify(path)
        .args(["--format", "csv"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(expected));
}

#[test]
fn an_altered_record_is_detected_at_its_position() {
    let (_dir, path) = store();
    tamper(
        &path,
        &[
            "UPDATE audit_log SET record = replace(record, 'incident 42', 'approved by CISO') WHERE seq = 5",
        ],
    );
    detects(
        &path,
        "the audit trail was altered: record 5 (row id 5): its content does not match its hash",
    );
}

/// Record 2 of the file, as stored: its `prev_hash` and `record`.
fn second_record(path: &Path) -> (String, String) {
    runtime().block_on(async {
        let mut conn = SqliteConnection::connect(&url(path)).await.unwrap();
        sqlx::query_as("SELECT prev_hash, record FROM audit_log WHERE seq = 2")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    })
}

/// Replaces record 2 with `record` and `hash`.
fn rewrite_second(path: &Path, record: &str, hash: &str) {
    tamper(
        path,
        &[&format!(
            "UPDATE audit_log SET record = '{}', hash = '{hash}' WHERE seq = 2",
            record.replace('\'', "''")
        )],
    );
}

#[test]
fn an_altered_record_rehashed_without_the_key_is_detected_at_its_position() {
    // As the unkeyed chain allowed: plain SHA-256 over the forged record.
    let (_dir, path) = store();
    let (prev_hash, record) = second_record(&path);
    let forged = record.replace("alice", "eve");
    assert_ne!(forged, record);
    rewrite_second(
        &path,
        &forged,
        &iamgate::audit::chain::link_hash(&prev_hash, &forged),
    );
    detects(
        &path,
        "record 2 (row id 2): its content does not match its hash",
    );
    // The same without its key id: an unkeyed record after a keyed one.
    let (_dir, path) = store();
    let unkeyed = forged.replace(&format!(",\"key_id\":\"{}\"", key(KEY).id()), "");
    assert_ne!(unkeyed, forged);
    rewrite_second(
        &path,
        &unkeyed,
        &iamgate::audit::chain::link_hash(&prev_hash, &unkeyed),
    );
    detects(
        &path,
        "record 2 (row id 2): it is not keyed, but records before it are",
    );
    // Under a key of the forger's own, named as the real one.
    let (_dir, path) = store();
    let guess = AuditKey::from_bytes(vec![7; 32]).unwrap();
    rewrite_second(
        &path,
        &forged,
        &iamgate::audit::chain::link_mac(&guess, &prev_hash, &forged),
    );
    detects(
        &path,
        "record 2 (row id 2): its content does not match its hash",
    );
}

#[test]
fn an_altered_record_rehashed_with_the_key_breaks_the_next_link() {
    // Whoever holds the key can rewrite one record; the next one no longer links to it.
    let (_dir, path) = store();
    let (prev_hash, record) = second_record(&path);
    let forged = record.replace("alice", "eve");
    rewrite_second(
        &path,
        &forged,
        &iamgate::audit::chain::link_mac(&key(KEY), &prev_hash, &forged),
    );
    detects(
        &path,
        "record 3 (row id 3): it does not follow the record before it",
    );
}

#[test]
fn a_hidden_record_is_detected() {
    let (_dir, path) = store();
    // Moving a record to another repository hides it from `--repo` exports.
    tamper(
        &path,
        &["UPDATE audit_log SET repo = 'acme/elsewhere' WHERE seq = 5"],
    );
    assert_eq!(seqs(&json(&path, &["--repo", "acme/infra"])), [1, 2, 4]);
    detects(
        &path,
        "record 5 (row id 5): its `repo` column disagrees with the record",
    );
}

#[test]
fn a_deleted_record_is_detected_at_its_position() {
    let (_dir, path) = store();
    tamper(&path, &["DELETE FROM audit_log WHERE seq = 3"]);
    detects(
        &path,
        "record 3 (row id 4): it does not follow the record before it",
    );
}

#[test]
fn deleting_the_newest_records_is_detected() {
    let (_dir, path) = store();
    tamper(&path, &["DELETE FROM audit_log WHERE seq >= 5"]);
    detects(
        &path,
        "record 5: missing: the chain head counts 6 records but only 4 remain",
    );
}

#[test]
fn a_chain_cut_back_with_its_head_fails_against_a_saved_head() {
    let (_dir, path) = store();
    let saved = json(&path, &[])[5]["hash"].as_str().unwrap().to_owned();
    verify(&path)
        .args(["--expect-head", &saved])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "expected head {saved}: held\n"
        )));
    // The newest record deleted and the head rewound onto the one before: consistent.
    tamper(
        &path,
        &[
            "DELETE FROM audit_log WHERE seq = 6",
            "UPDATE audit_head SET count = 5, hash = (SELECT hash FROM audit_log WHERE seq = 5)",
        ],
    );
    verify(&path)
        .assert()
        .success()
        .stdout(predicate::str::starts_with("ok: 5 records"));
    verify(&path)
        .args(["--expect-head", &saved.to_uppercase()])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(format!(
            "the audit trail was altered: the chain (5 records) does not hold the expected head \
             {}",
            saved.to_uppercase()
        )));
    verify(&path)
        .args(["--expect-head", "5f0c"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "--expect-head `5f0c`: expected a link",
        ));
}

#[test]
fn verifying_needs_the_key_the_records_name() {
    let (_dir, path) = store();
    iamgate()
        .args(["audit", "--verify", "--store", &url(&path)])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("--verify needs the audit key"));
    let other = path.with_file_name("other.key");
    std::fs::write(&other, OLD_KEY).unwrap();
    iamgate()
        .args(["audit", "--verify", "--store", &url(&path), "--key-file"])
        .arg(&other)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "record 1 (row id 1): it is keyed with the audit key `{}`, which is not among the keys given",
            key(KEY).id()
        )));
    let short = path.with_file_name("short.key");
    std::fs::write(&short, "abcd").unwrap();
    iamgate()
        .args(["audit", "--verify", "--store", &url(&path), "--key-file"])
        .arg(&short)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("short.key`: too short"));
    // Exporting needs no key.
    json(&path, &[]);
}

#[test]
fn records_under_a_rotated_key_verify_with_the_previous_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iamgate.db");
    let mut first = entries();
    let then = first.split_off(3);
    append(&path, AuditKeys::new(key(OLD_KEY), Vec::new()), first);
    append(&path, AuditKeys::new(key(KEY), vec![key(OLD_KEY)]), then);
    let old = dir.path().join("old.key");
    std::fs::write(&old, OLD_KEY).unwrap();
    verify(&path)
        .arg("--key-file")
        .arg(&old)
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "keyed: records 1-3 with key {}\nkeyed: records 4-6 with key {}\n",
            key(OLD_KEY).id(),
            key(KEY).id()
        )));
    // The first record under the new key links to the last under the old.
    let records = json(&path, &[]);
    assert_eq!(records[3]["prev_hash"], records[2]["hash"]);
    verify(&path)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "record 1 (row id 1): it is keyed with the audit key",
        ));
}

#[test]
fn records_from_before_the_key_verify_as_the_unkeyed_start_of_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iamgate.db");
    // A store as an earlier iamgate left it: three unkeyed records.
    append(&path, AuditKeys::new(key(KEY), Vec::new()), Vec::new());
    let mut legacy = entries();
    let keyed = legacy.split_off(3);
    let mut head = iamgate::audit::chain::empty_head();
    let mut statements = Vec::new();
    for entry in &legacy {
        let record = iamgate::audit::chain::link_unkeyed(&head, entry).unwrap();
        statements.push(format!(
            "INSERT INTO audit_log (seq, time, kind, repo, pr, record, prev_hash, hash) \
             VALUES ({}, {}, '{}', '{}', {}, '{}', '{}', '{}')",
            record.seq,
            record.time_ms,
            record.kind,
            record.repo,
            record.pr,
            record.record.replace('\'', "''"),
            record.prev_hash,
            record.hash
        ));
        head = iamgate::audit::ChainHead {
            count: record.seq,
            hash: record.hash,
        };
    }
    runtime().block_on(async {
        // With the triggers standing: these records extend the chain as iamgate's did.
        let mut conn = SqliteConnection::connect(&url(&path)).await.unwrap();
        for statement in &statements {
            sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        conn.close().await.unwrap();
    });
    append(&path, AuditKeys::new(key(KEY), Vec::new()), keyed);
    verify(&path)
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "unkeyed: records 1-3, written before the audit key (only a head saved from before \
             can show that they were rewritten)\nkeyed: records 4-6 with key {}\n",
            key(KEY).id()
        )));
    let records = json(&path, &[]);
    assert!(records[2].get("key_id").is_none());
    assert_eq!(records[3]["prev_hash"], records[2]["hash"]);
}

#[test]
fn an_inserted_record_is_detected_at_its_position() {
    let (_dir, path) = store();
    tamper(
        &path,
        &[
            // Make room after record 2, then slip a copy of record 5 in there.
            "UPDATE audit_log SET id = id + 100, seq = seq + 100 WHERE seq > 2",
            "UPDATE audit_log SET id = id - 99, seq = seq - 99 WHERE seq > 100",
            "INSERT INTO audit_log (id, seq, time, kind, repo, pr, record, prev_hash, hash) \
             SELECT 3, 3, time, kind, repo, pr, record, prev_hash, hash FROM audit_log WHERE seq = 6",
        ],
    );
    detects(
        &path,
        "record 3 (row id 3): it does not follow the record before it",
    );
}

#[test]
fn the_store_can_come_from_the_server_config() {
    let (dir, path) = store();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nurl = \"{}\"\n\n[github]\napp_id = 1\n\
             private_key_path = \"tests/fixtures/keys/test-app.private-key.pem\"\n\
             webhook_secret = \"0123456789abcdef0123\"\n\n[audit]\nkey_file = \"{}\"\n",
            url(&path),
            key_file(&path).display()
        ),
    )
    .unwrap();
    iamgate()
        .args(["audit", "--verify", "--config"])
        .arg(&config)
        .assert()
        .success()
        .stdout(predicate::str::starts_with("ok: 6 records, head "));
    iamgate()
        .args(["audit", "--repo", "acme/web"])
        .env("IAMGATE_CONFIG", &config)
        .assert()
        .success()
        .stdout(predicate::str::contains("\"seq\":6"));
}

#[test]
fn bad_input_exits_3_with_a_clear_message() {
    let (_dir, path) = store();
    let store = url(&path);
    for (args, message) in [
        (
            vec!["--since", "last tuesday"],
            "--since: `last tuesday` is not a date",
        ),
        (vec!["--since", "2024-02-30"], "no such day"),
        (
            vec!["--repo", "infra"],
            "--repo `infra`: expected OWNER/NAME",
        ),
        (
            vec!["--verify", "--key-file", "/no/such/key"],
            "--key-file `/no/such/key`: cannot read it",
        ),
    ] {
        iamgate()
            .args(["audit", "--store", &store])
            .args(&args)
            .assert()
            .code(3)
            .stderr(predicate::str::contains(message));
    }
    let missing = path.with_file_name("nope.db");
    iamgate()
        .args(["audit", "--verify", "--store", &url(&missing)])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("--store: no database at"));
    assert!(!missing.exists(), "a missing store was created");
    iamgate()
        .args(["audit", "--store", "mysql://db/iamgate"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "expected sqlite://PATH or postgres://",
        ));
    // A PostgreSQL store that cannot be reached: the store failed (1), and it says where.
    iamgate()
        .args([
            "audit",
            "--store",
            "postgres://iamgate:pw@127.0.0.1:9/iamgate",
        ])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("cannot open the store `postgres://iamgate:***@127.0.0.1:9")
                .and(predicate::str::contains(":pw@").not()),
        );
    iamgate()
        .args(["audit", "--format", "xml", "--store", &store])
        .assert()
        .code(2);
}
