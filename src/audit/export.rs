//! Exports of stored records for auditors: JSON (an array, one record per line) and CSV. Pure:
//! records in, text out. Both carry `seq`, `prev_hash` and `hash`, so an exported record can be
//! tied to the chain that `iamgate audit --verify` checked.

use serde_json::Value;

use super::chain::canonical_json;
use super::record::AuditRecord;

/// A record that cannot be exported (its stored JSON is unreadable).
#[derive(Debug, thiserror::Error)]
#[error("audit record {seq} (row id {id}) is unreadable: {reason}; run `iamgate audit --verify`")]
pub struct ExportError {
    pub id: i64,
    pub seq: i64,
    pub reason: String,
}

/// The CSV columns, in order. `details` holds the event's other fields as canonical JSON.
pub const CSV_COLUMNS: [&str; 12] = [
    "seq",
    "time",
    "forge",
    "repo",
    "pr",
    "head_sha",
    "actor",
    "kind",
    "fingerprint",
    "details",
    "prev_hash",
    "hash",
];

/// A JSON array of the records: each is its stored JSON with `prev_hash` and `hash` added, keys
/// sorted, one record per line (`[]` when there are none).
pub fn to_json(records: &[AuditRecord]) -> Result<String, ExportError> {
    let mut out = String::from("[");
    for (i, record) in records.iter().enumerate() {
        let mut fields = fields(record)?;
        fields.insert("prev_hash".into(), Value::from(record.prev_hash.as_str()));
        fields.insert("hash".into(), Value::from(record.hash.as_str()));
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        out.push_str(&canonical_json(&Value::Object(fields)));
    }
    out.push_str(if records.is_empty() { "]\n" } else { "\n]\n" });
    Ok(out)
}

/// CSV (RFC 4180 quoting, `\n` line ends) with a header row of [`CSV_COLUMNS`]. A cell that a
/// spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) is prefixed
/// with `'`.
pub fn to_csv(records: &[AuditRecord]) -> Result<String, ExportError> {
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    for record in records {
        let mut fields = fields(record)?;
        // Chain metadata, like `prev_hash` and `hash`: not one of the event's details.
        fields.remove(super::chain::KEY_FIELD);
        let mut cells: Vec<String> = CSV_COLUMNS[..9]
            .iter()
            .map(|column| cell(fields.remove(*column).as_ref()))
            .collect();
        let details = if fields.is_empty() {
            String::new()
        } else {
            canonical_json(&Value::Object(fields))
        };
        cells.extend([details, record.prev_hash.clone(), record.hash.clone()]);
        let line: Vec<String> = cells.iter().map(|c| quote(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    Ok(out)
}

fn fields(record: &AuditRecord) -> Result<serde_json::Map<String, Value>, ExportError> {
    let fail = |reason: String| ExportError {
        id: record.id,
        seq: record.seq,
        reason,
    };
    match serde_json::from_str(&record.record) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(fail("not a JSON object".into())),
        Err(e) => Err(fail(e.to_string())),
    }
}

fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => canonical_json(other),
    }
}

fn quote(cell: &str) -> String {
    let cell = if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    };
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::chain::{empty_head, link};
    use crate::audit::key::AuditKey;
    use crate::audit::record::{AuditEntry, AuditEvent};
    use crate::audit::time::Timestamp;
    use crate::event::{ForgeKind, Login, PrNumber, RepoName, Sha};

    fn records() -> Vec<AuditRecord> {
        let time = Timestamp::from_unix_millis(1_714_566_600_000).expect("time");
        let analysis = AuditEntry {
            time,
            forge: ForgeKind::GitHub,
            repo: RepoName::from("acme/infra"),
            pr: PrNumber(12),
            head_sha: Some(Sha("a".repeat(40))),
            actor: Login::from("iamgate"),
            actor_id: None,
            source: None,
            event: AuditEvent::Analysis {
                stacks: vec!["prod".into()],
                score: 80,
                level: "critical".into(),
                fingerprint: Some("f".repeat(64)),
                submitted_by: Vec::new(),
            },
        };
        let key = AuditKey::from_bytes(vec![5; 32]).expect("key");
        let first = link(&empty_head(), &analysis, &key).expect("link");
        let head = crate::audit::record::ChainHead {
            count: 1,
            hash: first.hash.clone(),
        };
        let refusal = AuditEntry {
            actor: Login::from("mallory"),
            head_sha: None,
            event: AuditEvent::CommandRefused {
                command: "/iamgate override".into(),
                reason: "=cmd|' /C calc'!A0, \"reason\" required".into(),
            },
            ..analysis
        };
        let second = link(&head, &refusal, &key).expect("link");
        vec![first, second]
    }

    #[test]
    fn json_is_an_array_with_one_record_per_line() {
        let records = records();
        let json = to_json(&records).expect("json");
        assert_eq!(json.lines().count(), 4);
        let value: Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(value[0]["kind"], "analysis");
        assert_eq!(value[0]["score"], 80);
        assert_eq!(value[0]["seq"], 1);
        assert_eq!(
            value[0]["key_id"],
            AuditKey::from_bytes(vec![5; 32]).expect("key").id()
        );
        assert_eq!(value[1]["prev_hash"], records[0].hash.as_str());
        assert_eq!(value[1]["hash"], records[1].hash.as_str());
        assert_eq!(to_json(&[]).expect("json"), "[]\n");
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let records = records();
        let csv = to_csv(&records).expect("csv");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], CSV_COLUMNS.join(","));
        assert!(
            lines[1].starts_with(
                "1,2024-05-01T12:30:00Z,github,acme/infra,12,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,iamgate,analysis,ffff"
            ),
            "{}",
            lines[1]
        );
        assert!(
            lines[1].contains(r#","{""level"":""critical"",""score"":80,""stacks"":[""prod""]}","#)
        );
        assert!(
            lines[2].starts_with(
                "2,2024-05-01T12:30:00Z,github,acme/infra,12,,mallory,command_refused,,"
            )
        );
        assert_eq!(quote("=1+1"), "'=1+1");
        assert_eq!(quote("-a,b"), "\"'-a,b\"");
        assert_eq!(quote("plain"), "plain");
    }

    #[test]
    fn an_unreadable_record_names_itself() {
        let mut records = records();
        records[1].record = "{not json".into();
        records[1].id = 9;
        let error = to_csv(&records).expect_err("unreadable");
        assert!(
            error
                .to_string()
                .starts_with("audit record 2 (row id 9) is unreadable")
        );
    }
}
