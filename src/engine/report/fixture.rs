//! Test fixture: a small hand-built analysis and a fixed rule book, so that report snapshots do
//! not change when the real catalog's texts do.

use crate::engine::diff::Fingerprint;
use crate::engine::preview::Op;
use crate::engine::report::MARKER;
use crate::engine::risk::{Category, Confidence, Exposure, Finding, Rule, Scope, Severity};
use crate::engine::{Analysis, Reported, ResourceChange, Risk};

pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "AWS-ADM-001",
        category: Category::AdminAccess,
        severity: Severity::Critical,
        title: "Full administrator access",
        rationale: "Allow of `*` on `*` lets the principal do anything in the account, including \
                    erasing its own audit trail.",
        example: "{\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}",
        remediation: "Grant the specific actions the workload needs on the specific resources.",
    },
    Rule {
        id: "AWS-PE-009",
        category: Category::PrivilegeEscalation,
        severity: Severity::High,
        title: "Can attach any managed policy to a role",
        rationale: "iam:AttachRolePolicy on any role lets the principal attach AdministratorAccess.",
        example: "{\"Effect\": \"Allow\", \"Action\": \"iam:AttachRolePolicy\", \"Resource\": \"*\"}",
        remediation: "Pin the Resource to the roles that need it and add a permissions boundary.",
    },
    Rule {
        id: "AWS-PUB-002",
        category: Category::PublicExposure,
        severity: Severity::Medium,
        title: "Bucket readable by anyone",
        rationale: "A bucket policy with Principal `*` exposes objects to the internet.",
        example: "{\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"s3:GetObject\"}",
        remediation: "Remove the public statement or restrict it with aws:SourceVpce.",
    },
];

pub(crate) fn rules(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

pub(crate) const ROLE_URN: &str =
    "urn:pulumi:prod::infra::aws:iam/rolePolicy:RolePolicy::deployer-inline";
pub(crate) const BUCKET_URN: &str =
    "urn:pulumi:prod::infra::aws:s3/bucketPolicy:BucketPolicy::assets";

pub(crate) fn finding(
    rule: &'static str,
    severity: Severity,
    urn: &str,
    subject: &str,
    message: &str,
) -> Finding {
    let category = rules(rule).map_or(Category::Malformed, |r| r.category);
    Finding {
        rule_id: rule,
        category,
        severity,
        resource: urn.to_owned(),
        subject: subject.to_owned(),
        evidence: format!("{rule}:{subject}"),
        message: message.to_owned(),
        scope: Scope::All,
        exposure: Exposure::Internal,
        confidence: Confidence::Direct,
    }
}

/// A critical new finding, a pre-existing finding, an improvement, and two resource diffs.
pub(crate) fn analysis() -> Analysis {
    let role_diff = "--- before\n+++ after\n@@ -1,8 +1,8 @@\n {\n   \"Statement\": [\n     {\n-      \"Action\": [\"s3:GetObject\"],\n+      \"Action\": [\"*\"],\n       \"Effect\": \"Allow\",\n-      \"Resource\": [\"arn:aws:s3:::assets/*\"]\n+      \"Resource\": [\"*\"]\n     }\n   ]\n }\n";
    let bucket_diff = "--- before\n+++ after\n@@ -2,7 +2,7 @@\n   \"Statement\": [\n     {\n       \"Action\": [\"s3:GetObject\"],\n       \"Effect\": \"Allow\",\n-      \"Principal\": {\"AWS\": [\"*\"]},\n+      \"Principal\": {\"AWS\": [\"arn:aws:iam::111122223333:root\"]},\n       \"Resource\": [\"arn:aws:s3:::assets/*\"]\n     }\n";
    Analysis {
        risk: Risk::from_score(92),
        resources: vec![
            ResourceChange {
                urn: BUCKET_URN.to_owned(),
                type_: "aws:s3/bucketPolicy:BucketPolicy".to_owned(),
                op: Op::Update,
                risk: Risk::NONE,
                before: Some("{}".to_owned()),
                after: Some("{}".to_owned()),
                diff: bucket_diff.to_owned(),
            },
            ResourceChange {
                urn: ROLE_URN.to_owned(),
                type_: "aws:iam/rolePolicy:RolePolicy".to_owned(),
                op: Op::Update,
                risk: Risk::from_score(92),
                before: Some("{}".to_owned()),
                after: Some("{}".to_owned()),
                diff: role_diff.to_owned(),
            },
        ],
        findings: vec![
            Reported {
                finding: finding(
                    "AWS-ADM-001",
                    Severity::Critical,
                    ROLE_URN,
                    "role/deployer",
                    "role/deployer is allowed every action (*) on every resource (*).",
                ),
                new: true,
                before: None,
            },
            Reported {
                finding: finding(
                    "AWS-PE-009",
                    Severity::High,
                    ROLE_URN,
                    "role/deployer",
                    "role/deployer can attach any managed policy to any role (iam:AttachRolePolicy on *).",
                ),
                new: false,
                before: Some(Severity::High),
            },
        ],
        improvements: vec![Reported {
            finding: finding(
                "AWS-PUB-002",
                Severity::Medium,
                BUCKET_URN,
                "bucket/assets",
                "Bucket assets is readable by anyone (Principal *).",
            ),
            new: false,
            before: Some(Severity::Medium),
        }],
        fingerprint: Fingerprint(
            "3f1c9a7e5b2d4c6f8a0e1b3d5f7a9c2e4b6d8f0a1c3e5a7b9d1f3a5c7e9b2d4f".to_owned(),
        ),
        errors: Vec::new(),
    }
}

/// Where `needle` is in `body` (the test fails when it is not).
pub(crate) fn pos(body: &str, needle: &str) -> usize {
    body.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in:\n{body}"))
}

/// The text outside fenced code blocks, and (second) that text without its code spans.
pub(crate) fn prose(body: &str) -> (String, String) {
    let mut outside = String::new();
    let mut fence: Option<String> = None;
    for line in body.lines() {
        let ticks: String = line.chars().take_while(|c| *c == '`').collect();
        match &fence {
            Some(open) if ticks.len() >= open.len() && line.trim_end() == ticks => fence = None,
            Some(_) => {}
            None if ticks.len() >= 3 => fence = Some(ticks),
            None => {
                outside.push_str(line);
                outside.push('\n');
            }
        }
    }
    assert!(fence.is_none(), "unclosed code block:\n{body}");
    let chars: Vec<char> = outside.chars().collect();
    let mut bare = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                bare.extend(chars.get(i..i + 2).unwrap_or(&chars[i..]));
                i += 2;
            }
            '`' => {
                let n = chars[i..].iter().take_while(|c| **c == '`').count();
                let mut j = i + n;
                // Find the closing run of exactly n backticks.
                loop {
                    if j >= chars.len() {
                        panic!("unclosed code span in: {outside}");
                    }
                    let m = chars[j..].iter().take_while(|c| **c == '`').count();
                    if m == n {
                        break;
                    }
                    j += m.max(1);
                }
                bare.push_str("CODE");
                i = j + n;
            }
            c => {
                bare.push(c);
                i += 1;
            }
        }
    }
    (outside, bare)
}

/// No command-like line, no live mention, no HTML but our own tags, one marker.
pub(crate) fn assert_inert(body: &str) {
    for line in body.lines() {
        assert!(
            !line.trim_start().starts_with('/'),
            "command-like line: {line:?}"
        );
    }
    assert_eq!(
        body.matches("<!--").count(),
        1,
        "only the bot's own marker:\n{body}"
    );
    assert!(body.starts_with(&format!("{MARKER}\n")));
    let (outside, bare) = prose(body);
    let chars: Vec<char> = outside.chars().collect();
    for w in chars.windows(2) {
        if w[0] == '@' {
            assert!(!w[1].is_alphanumeric(), "live mention in:\n{body}");
        }
    }
    const OURS: [&str; 9] = [
        MARKER,
        "<details>",
        "</details>",
        "<summary>",
        "</summary>",
        "<code>",
        "</code>",
        "<sub>",
        "</sub>",
    ];
    for (i, _) in bare.match_indices('<') {
        assert!(
            OURS.iter().any(|t| bare[i..].starts_with(t)),
            "HTML from input: {}",
            &bare[i..]
        );
    }
}
