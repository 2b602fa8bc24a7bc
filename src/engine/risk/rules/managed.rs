//! Rules: AWS managed policies attached to principals (catalog §2.8, AWS-MP-001..005), by ARN
//! (`Principal::managed_arns`) and the tier `iam::managed` gives each well-known policy. What the
//! policy documents allow is judged by the other families when extraction resolves them.

use crate::engine::iam::IamState;
use crate::engine::iam::managed::{self, Tier};
use crate::engine::iam::model::{Principal, PrincipalKind, Sourced};
use crate::engine::iam::policy::Effect;
use crate::engine::risk::effective::{exposure_of, urn_name};
use crate::engine::risk::{Category, Confidence, EvalCtx, Finding, Rule, Scope, Severity};

pub const MP_001: Rule = Rule {
    id: "AWS-MP-001",
    category: Category::AdminAccess,
    severity: Severity::Critical,
    title: "AWS managed `AdministratorAccess` attached",
    rationale: "`AdministratorAccess` allows every action on every resource. Whoever can use this principal (a CI job, a leaked key, code running as the role) controls the whole account.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    remediation: "Attach a policy with the actions the workload needs instead (IAM Access Analyzer can generate one from CloudTrail activity). Keep `AdministratorAccess` for a few break-glass human roles that require MFA.",
};

pub const MP_002: Rule = Rule {
    id: "AWS-MP-002",
    category: Category::PrivilegeEscalation,
    severity: Severity::Critical,
    title: "AWS managed policy that allows privilege escalation to admin",
    rationale: "Policies such as `IAMFullAccess`, `PowerUserAccess`, `AdministratorAccess-Amplify` or `AWSElasticBeanstalkFullAccess` allow many escalation paths (IAM writes, passing any role to new compute, unconstrained `sts:AssumeRole`): the principal can make itself administrator.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"}]}"#,
    remediation: "Replace the managed policy with a customer managed policy listing the actions the workload needs on its own resources; never give workloads `iam:*` or `PowerUserAccess`.",
};

pub const MP_003: Rule = Rule {
    id: "AWS-MP-003",
    category: Category::PrivilegeEscalation,
    severity: Severity::High,
    title: "AWS managed policy with privilege-escalation paths",
    rationale: "Broad service policies such as `AWSLambda_FullAccess`, `AmazonEC2FullAccess`, `AmazonECS_FullAccess`, `SystemAdministrator` or `SecretsManagerReadWrite` include `iam:PassRole` with compute creation or similar combinations that let the principal act as more privileged roles.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:*","iam:PassRole"],"Resource":"*"}]}"#,
    remediation: "Use the service's read-only managed policy, or a customer managed policy with the needed actions on the workload's resources and `iam:PassRole` limited to specific roles.",
};

pub const MP_004: Rule = Rule {
    id: "AWS-MP-004",
    category: Category::Wildcard,
    severity: Severity::High,
    title: "Service-role managed policy attached to a person or to the wrong role",
    rationale: "Service-role policies (`AWSGlueServiceRole`, `AmazonElasticMapReduceRole`, `*ServiceRolePolicy`, ...) are written for an AWS service acting on your behalf and grant it broad permissions, often including `iam:PassRole`. Attached to a user, a group or a role that service cannot assume, they give those broad permissions to someone else.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["glue:*","s3:GetObject","iam:PassRole"],"Resource":"*"}]}"#,
    remediation: "Attach service-role policies only to the service role that the matching service assumes. Give people and other roles a policy written for what they do.",
};

pub const MP_005: Rule = Rule {
    id: "AWS-MP-005",
    category: Category::Wildcard,
    severity: Severity::Medium,
    title: "AWS managed `*FullAccess` policy attached",
    rationale: "A `*FullAccess` managed policy is a service wildcard (`service:*` on `*`): every action of the service, including the ones AWS adds later and usually its permissions-management actions, on every resource of the account.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    remediation: "Use the service's read-only policy where it fits, or a customer managed policy with the actions the workload needs on its own resources.",
};

/// The family's entries, in catalog order.
pub const RULES: &[Rule] = &[MP_001, MP_002, MP_003, MP_004, MP_005];

pub fn check(state: &IamState, _ctx: EvalCtx<'_>, out: &mut Vec<Finding>) {
    for p in &state.principals {
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for arn in &p.managed_arns {
            let Some(tier) = managed::classify(&arn.value) else {
                continue;
            };
            let rule = match tier {
                Tier::Admin => &MP_001,
                Tier::Escalation => &MP_002,
                Tier::Risky => &MP_003,
                Tier::ServiceRole if misplaced_service_policy(p, &arn.value) => &MP_004,
                Tier::ServiceRole => continue,
                Tier::FullAccess => &MP_005,
            };
            if seen.contains(&(rule.id, arn.value.as_str())) {
                continue;
            }
            seen.push((rule.id, arn.value.as_str()));
            out.push(finding(p, arn, rule));
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
    Finding {
        rule_id: rule.id,
        category: rule.category,
        severity: rule.severity,
        resource: p.urn.clone().unwrap_or_else(|| arn.urn.clone()),
        subject: p.subject(),
        evidence: arn.value.clone(),
        message: format!(
            "{} `{}`{who} has the AWS managed policy `{name}` attached ({} in {}): {}",
            p.kind.as_str(),
            p.name,
            arn.label,
            urn_name(&arn.urn),
            lowercase_first(rule.title)
        ),
        scope: Scope::All,
        exposure: exposure_of(p),
        confidence: Confidence::Direct,
    }
}

fn policy_name(arn: &str) -> &str {
    managed::lookup(arn).map_or_else(|| arn.rsplit('/').next().unwrap_or(arn), |m| m.name)
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    // An acronym (`AWS managed ...`) keeps its case; only a capitalized word is lowered.
    match (chars.next(), chars.clone().next()) {
        (Some(c), Some(next)) if next.is_uppercase() => std::iter::once(c).chain(chars).collect(),
        (Some(c), _) => c.to_lowercase().chain(chars).collect(),
        (None, _) => String::new(),
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
    use crate::engine::risk::effective::testing::*;

    const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
    const POWER_USER: &str = "arn:aws:iam::aws:policy/PowerUserAccess";
    const LAMBDA_FULL: &str = "arn:aws:iam::aws:policy/AWSLambda_FullAccess";
    const GLUE_SERVICE: &str = "arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole";
    const S3_FULL: &str = "arn:aws:iam::aws:policy/AmazonS3FullAccess";
    const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";

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
    fn each_tier_maps_to_its_rule() {
        for (arn, rule, severity, category) in [
            (
                ADMIN,
                "AWS-MP-001",
                Severity::Critical,
                Category::AdminAccess,
            ),
            (
                POWER_USER,
                "AWS-MP-002",
                Severity::Critical,
                Category::PrivilegeEscalation,
            ),
            (
                LAMBDA_FULL,
                "AWS-MP-003",
                Severity::High,
                Category::PrivilegeEscalation,
            ),
            (S3_FULL, "AWS-MP-005", Severity::Medium, Category::Wildcard),
        ] {
            let found = findings_for(attach(role("app", &[]), arn));
            let f = one(&found, rule);
            assert_eq!((f.severity, f.category), (severity, category), "{arn}");
            assert_eq!(f.evidence, arn);
            assert_eq!(f.subject, "role/app");
            assert_eq!(f.resource, urn_of(PrincipalKind::Role, "app"));
        }
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
