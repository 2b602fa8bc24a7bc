//! The SARIF 2.1.0 report (`--format sarif`), loadable by GitHub code scanning: one result per
//! finding of the after state (new and pre-existing, told apart by `baselineState` and
//! `properties.new`), the referenced rules from the catalog, and the preview's error diagnostics
//! as tool notifications. Serde structs only; no analysis decisions.

mod model;

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use self::model::{
    ArtifactLocation, Configuration, Descriptor, Driver, Help, Invocation, Location, Log,
    LogicalLocation, MessageRef, Notification, PhysicalLocation, Region, ResultProperties,
    RuleProperties, Run, RunProperties, SarifResult, Text, Tool,
};

use super::{CATALOG, INFORMATION_URI, Lookup, VERSION, resource_name};
use crate::engine::Analysis;
use crate::engine::Reported;
use crate::engine::risk::{Category, Rule, Severity};

const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The `partialFingerprints` key of a finding's identity; bump the suffix if its inputs change.
pub const FINGERPRINT_KEY: &str = "iamgateFinding/v1";

/// The SARIF log, pretty-printed with a trailing newline. `artifact_uri` names the preview file
/// that every result points at (a relative path such as `preview.json` suits code scanning).
pub fn render(analysis: &Analysis, artifact_uri: &str) -> String {
    render_with(analysis, artifact_uri, CATALOG)
}

pub(crate) fn render_with(analysis: &Analysis, artifact_uri: &str, lookup: Lookup) -> String {
    // Rules referenced by the results, sorted by id, each once.
    let mut ids: Vec<&str> = analysis
        .findings
        .iter()
        .map(|r| r.finding.rule_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let descriptors: Vec<Descriptor> = ids
        .iter()
        .map(|id| {
            let severity = analysis
                .findings
                .iter()
                .find(|r| r.finding.rule_id == *id)
                .map_or(Severity::Info, |r| r.finding.severity);
            match lookup(id) {
                Some(rule) => descriptor(rule),
                None => unknown_descriptor(id, severity, analysis),
            }
        })
        .collect();
    let uri = encode_uri(artifact_uri);
    let results = analysis
        .findings
        .iter()
        .map(|r| SarifResult {
            rule_id: r.finding.rule_id,
            rule_index: ids
                .iter()
                .position(|id| *id == r.finding.rule_id)
                .unwrap_or_default(),
            level: result_level(r.finding.severity),
            kind: "fail",
            baseline_state: baseline_state(r),
            message: MessageRef {
                text: &r.finding.message,
            },
            locations: [Location {
                physical_location: PhysicalLocation {
                    artifact_location: ArtifactLocation { uri: uri.clone() },
                    region: Region { start_line: 1 },
                },
                logical_locations: [LogicalLocation {
                    name: resource_name(&r.finding.resource),
                    fully_qualified_name: &r.finding.resource,
                    kind: "resource",
                }],
            }],
            partial_fingerprints: BTreeMap::from([(FINGERPRINT_KEY, finding_hash(r))]),
            properties: ResultProperties {
                new: r.new,
                category: r.finding.category,
                severity: r.finding.severity,
                subject: &r.finding.subject,
                previous_severity: r.before.filter(|b| *b != r.finding.severity),
                security_severity: security_severity(r.finding.severity),
            },
        })
        .collect();
    let log = Log {
        schema: SCHEMA_URI,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "iamgate",
                    version: VERSION,
                    semantic_version: VERSION,
                    information_uri: INFORMATION_URI,
                    rules: descriptors,
                },
            },
            invocations: [Invocation {
                execution_successful: analysis.errors.is_empty(),
                tool_execution_notifications: analysis
                    .errors
                    .iter()
                    .map(|e| Notification {
                        level: "error",
                        message: MessageRef { text: e },
                    })
                    .collect(),
            }],
            results,
            properties: RunProperties {
                risk: analysis.risk,
                fingerprint: &analysis.fingerprint.0,
            },
        }],
    };
    let mut out = super::json::to_pretty(&log);
    out.push('\n');
    out
}

fn descriptor(rule: &Rule) -> Descriptor {
    let help_text = format!(
        "{}\n\nWhy: {}\n\nExample:\n{}\n\nRemediation: {}",
        rule.title, rule.rationale, rule.example, rule.remediation
    );
    let help_markdown = format!(
        "**{}**\n\n{}\n\n**Example**\n\n{}\n**Remediation**\n\n{}",
        rule.title,
        rule.rationale,
        super::escape::code_block("json", rule.example),
        rule.remediation
    );
    Descriptor {
        id: rule.id.to_owned(),
        name: pascal_case(rule.title),
        short_description: Text {
            text: rule.title.to_owned(),
        },
        full_description: Some(Text {
            text: rule.rationale.to_owned(),
        }),
        help: Some(Help {
            text: help_text,
            markdown: help_markdown,
        }),
        default_configuration: Configuration {
            level: result_level(rule.severity),
        },
        properties: RuleProperties {
            category: rule.category,
            security_severity: security_severity(rule.severity),
            tags: vec!["security", "iam", rule.category.as_str()],
            precision: "high",
        },
    }
}

/// A rule id the catalog does not know (it should not happen): enough for a valid, readable log.
fn unknown_descriptor(id: &str, severity: Severity, analysis: &Analysis) -> Descriptor {
    let category = analysis
        .findings
        .iter()
        .find(|r| r.finding.rule_id == id)
        .map_or(Category::Malformed, |r| r.finding.category);
    Descriptor {
        id: id.to_owned(),
        name: id.to_owned(),
        short_description: Text {
            text: format!("iamgate rule {id}"),
        },
        full_description: None,
        help: None,
        default_configuration: Configuration {
            level: result_level(severity),
        },
        properties: RuleProperties {
            category,
            security_severity: security_severity(severity),
            tags: vec!["security", "iam", category.as_str()],
            precision: "high",
        },
    }
}

/// SARIF result level: error for critical and high, warning for medium, note for low and info.
pub fn result_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub code scanning's `security-severity` score for a severity.
pub fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

fn baseline_state(r: &Reported) -> &'static str {
    match (r.new, r.before) {
        (true, None) => "new",
        (true, Some(_)) => "updated",
        (false, _) => "unchanged",
    }
}

/// A finding's stable identity: rule id, resource, subject and evidence, hashed.
fn finding_hash(r: &Reported) -> String {
    let f = &r.finding;
    let mut h = Sha256::new();
    for part in [f.rule_id, &f.resource, &f.subject, &f.evidence] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// `Can attach any policy` -> `CanAttachAnyPolicy`.
fn pascal_case(title: &str) -> String {
    title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            cs.next()
                .map(|c| c.to_ascii_uppercase().to_string() + cs.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Percent-encodes what may not appear in a URI reference (spaces, `%`, non-ASCII, ...); turns
/// Windows separators into `/`.
fn encode_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.replace('\\', "/").bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:@!$&'()*+,;=".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::engine::report::fixture;

    fn parsed(a: &Analysis) -> Value {
        serde_json::from_str(&render_with(a, "previews/prod.json", fixture::rules))
            .unwrap_or_default()
    }

    fn validator() -> jsonschema::Validator {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/sarif/sarif-schema-2.1.0.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // The official schema's `language` pattern has a stray `]` (`...{2}]?$`) that the
        // validator's ECMA-262 regex check rejects (later drafts of the schema drop it). Our
        // output has no `language`, so the fix does not change what is checked.
        assert!(text.contains(r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#));
        let text = text.replace("[a-zA-Z]{2}]?$", "[a-zA-Z]{2}?$");
        let schema: Value = serde_json::from_str(&text).unwrap_or_default();
        assert!(
            schema.get("definitions").is_some(),
            "schema fixture missing or broken: {path}"
        );
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn errors(v: &Value) -> Vec<String> {
        validator()
            .iter_errors(v)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    #[test]
    fn validates_against_the_official_schema() {
        let v = parsed(&fixture::analysis());
        assert_eq!(errors(&v), Vec::<String>::new());
        let mut a = fixture::analysis();
        a.errors = vec!["error: stack acme/prod not found".to_owned()];
        a.findings[0].finding.rule_id = "X-UNKNOWN";
        assert_eq!(errors(&parsed(&a)), Vec::<String>::new());
        let empty = Analysis {
            findings: vec![],
            improvements: vec![],
            resources: vec![],
            ..fixture::analysis()
        };
        assert_eq!(errors(&parsed(&empty)), Vec::<String>::new());
    }

    #[test]
    fn the_schema_check_catches_a_broken_log() {
        let mut v = parsed(&fixture::analysis());
        v["runs"][0]["results"][0]["level"] = Value::from("fatal");
        assert!(!errors(&v).is_empty());
        let mut v = parsed(&fixture::analysis());
        v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] =
            Value::from("a b");
        assert!(!errors(&v).is_empty(), "format checks must be on");
    }

    #[test]
    fn one_result_per_after_state_finding() {
        let v = parsed(&fixture::analysis());
        let results = v["runs"][0]["results"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(results.len(), 2, "improvements are not results");
        let r = &results[0];
        assert_eq!(r["ruleId"], "AWS-ADM-001");
        assert_eq!(r["level"], "error");
        assert_eq!(r["baselineState"], "new");
        assert_eq!(r["properties"]["new"], true);
        assert_eq!(results[1]["properties"]["new"], false);
        assert_eq!(results[1]["baselineState"], "unchanged");
        let loc = &r["locations"][0];
        assert_eq!(
            loc["physicalLocation"]["artifactLocation"]["uri"],
            "previews/prod.json"
        );
        assert_eq!(
            loc["logicalLocations"][0]["fullyQualifiedName"],
            fixture::ROLE_URN
        );
        assert_eq!(loc["logicalLocations"][0]["kind"], "resource");
        assert_eq!(loc["logicalLocations"][0]["name"], "deployer-inline");
        // ruleIndex points at the rule's descriptor.
        let rules = &v["runs"][0]["tool"]["driver"]["rules"];
        for r in &results {
            assert_eq!(
                rules[r["ruleIndex"].as_u64().unwrap_or(99) as usize]["id"],
                r["ruleId"]
            );
        }
    }

    #[test]
    fn rules_carry_catalog_texts_and_github_severity() {
        let v = parsed(&fixture::analysis());
        let driver = &v["runs"][0]["tool"]["driver"];
        assert_eq!(driver["name"], "iamgate");
        assert_eq!(driver["version"], VERSION);
        let rule = &driver["rules"][0];
        assert_eq!(rule["id"], "AWS-ADM-001");
        assert_eq!(rule["name"], "FullAdministratorAccess");
        assert_eq!(
            rule["shortDescription"]["text"],
            "Full administrator access"
        );
        assert!(
            rule["fullDescription"]["text"]
                .as_str()
                .unwrap_or_default()
                .contains("audit trail")
        );
        assert!(
            rule["help"]["markdown"]
                .as_str()
                .unwrap_or_default()
                .contains("```json\n")
        );
        assert_eq!(rule["properties"]["security-severity"], "9.5");
        assert_eq!(rule["properties"]["category"], "admin-access");
        assert_eq!(rule["defaultConfiguration"]["level"], "error");
        // Only rules that results reference; improvements' rules are not listed.
        assert_eq!(driver["rules"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn levels_and_security_severity_follow_the_mapping() {
        assert_eq!(result_level(Severity::Critical), "error");
        assert_eq!(result_level(Severity::High), "error");
        assert_eq!(result_level(Severity::Medium), "warning");
        assert_eq!(result_level(Severity::Low), "note");
        assert_eq!(result_level(Severity::Info), "note");
        let scores: Vec<&str> = Severity::ALL.into_iter().map(security_severity).collect();
        assert_eq!(scores, ["0.0", "3.0", "5.5", "8.0", "9.5"]);
    }

    #[test]
    fn partial_fingerprints_are_stable_and_distinguish_findings() {
        let a = parsed(&fixture::analysis());
        let b = parsed(&fixture::analysis());
        let fp = |v: &Value, i: usize| {
            v["runs"][0]["results"][i]["partialFingerprints"][FINGERPRINT_KEY].clone()
        };
        assert_eq!(fp(&a, 0), fp(&b, 0));
        assert_ne!(fp(&a, 0), fp(&a, 1));
        // The message is not part of the identity; the evidence is.
        let mut changed = fixture::analysis();
        changed.findings[0].finding.message = "reworded".to_owned();
        assert_eq!(fp(&parsed(&changed), 0), fp(&a, 0));
        changed.findings[0].finding.evidence = "other".to_owned();
        assert_ne!(fp(&parsed(&changed), 0), fp(&a, 0));
    }

    #[test]
    fn preview_errors_become_failed_invocation_notifications() {
        let mut a = fixture::analysis();
        assert_eq!(
            parsed(&a)["runs"][0]["invocations"][0]["executionSuccessful"],
            true
        );
        a.errors = vec!["boom".to_owned()];
        let v = parsed(&a);
        assert_eq!(v["runs"][0]["invocations"][0]["executionSuccessful"], false);
        assert_eq!(
            v["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"],
            "boom"
        );
    }

    #[test]
    fn artifact_uri_is_encoded() {
        assert_eq!(encode_uri("previews/prod.json"), "previews/prod.json");
        assert_eq!(
            encode_uri("my dir\\p 100%.json"),
            "my%20dir/p%20100%25.json"
        );
        assert_eq!(encode_uri("é"), "%C3%A9");
    }

    #[test]
    fn snapshot() {
        let out = render_with(&fixture::analysis(), "previews/prod.json", fixture::rules);
        let out = out
            .replace(
                &format!("\"version\": \"{VERSION}\""),
                "\"version\": \"[version]\"",
            )
            .replace(
                &format!("\"semanticVersion\": \"{VERSION}\""),
                "\"semanticVersion\": \"[version]\"",
            );
        insta::assert_snapshot!(out);
    }
}
