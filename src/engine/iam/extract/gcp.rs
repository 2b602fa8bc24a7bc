//! The reader of Google Cloud (`gcp:`, pulumi-gcp; type tokens and input names checked against
//! `@pulumi/gcp` 9.37.0): the `Binding`s, `RoleDef`s and `Credential`s its IAM resources carry
//! (see `iam::grants`).
//!
//! Modeled types:
//! - every `*IamPolicy`, `*IamBinding` and `*IamMember` of every module (the provider spells
//!   them `IAMMember`, `IamMember`, `iAMMember`: matched ignoring ASCII case): organizations,
//!   folders, projects, service accounts, storage buckets, Cloud Run, Cloud Functions, Pub/Sub,
//!   KMS, BigQuery, Secret Manager and every other resource IAM type of the provider. The three
//!   forms yield the same `Binding`s: one per (scope, role, member, condition). `IamPolicy`'s
//!   `policyData` is the JSON text of a policy (`{"bindings":[{"role","members","condition"}]}`);
//!   `IamBinding` has `role`, `members`, `condition`; `IamMember` `role`, `member`, `condition`.
//!   (`IamAuditConfig` and `projects/IamMemberRemove` grant nothing and are not read.)
//! - `projects/IAMCustomRole` and `organizations/IAMCustomRole` → `RoleDef`s (a custom role
//!   whose `stage` is `DISABLED` grants nothing and has no permissions);
//! - `serviceaccount/Key` and `storage/HmacKey` → `Credential`s;
//! - `serviceaccount/Account`: an identity, no grant (no fact).
//!
//! Canonical spellings:
//! - scope: `organizations/<id>`, `folders/<id>`, `projects/<id>` (a `organizations/`, `folders/`
//!   or `projects/` prefix in the input is dropped first); a service account
//!   `projects/-/serviceAccounts/<email or unique id>` (lowercase; the email is unique across
//!   projects, as the IAM API's `-` says); a bucket `projects/_/buckets/<name>` (as GCS names
//!   it, a `b/` prefix dropped); any other resource
//!   `projects/<project>/<module>/<resource>/<input>=<value>,...`: `<resource>` the type name
//!   without its IAM suffix (`Secret` for `SecretIamMember`, `resource` when nothing is left,
//!   as for `cloudrun/IamMember`), then the identifying inputs of the type (every input but the
//!   role, members, condition and policy) in name order, the project `_` when the input does not
//!   set it (the provider's default project). The three forms of a type share these inputs, so
//!   they name the same scope;
//! - role: as written, trimmed (`roles/owner`, `projects/p/roles/r`, `organizations/1/roles/r`);
//!   unknown until apply and depending on a custom role resource (`role: customRole.name`),
//!   `<unknown until apply> from <urn of the custom role>`, which the rules resolve;
//! - member: the prefix in the case GCP spells it (`user:`, `group:`, `serviceAccount:`,
//!   `domain:`, `deleted:`, `principal://`, `principalSet://`, `allUsers`,
//!   `allAuthenticatedUsers`, `projectOwner:`, ...), emails and domains lowercased (GCP compares
//!   them ignoring case), surrounding spaces dropped; an `IamMember`'s member unknown until apply
//!   that depends on one service account of the stack (the usual
//!   ``serviceAccount:${account.email}``) is `serviceAccount:<unknown until apply> from <urn>`,
//!   so that the grants of one new account are judged together (the same for an `IamBinding`
//!   whose only member is such a value, for a service account's resource IAM scope,
//!   `projects/-/serviceAccounts/<unknown until apply> from <urn>`, and for a key's owner);
//! - condition: the CEL expression, trimmed (title and description do not change what is
//!   granted); `None` when absent or empty.
//!
//! Values unknown during preview are kept as `UNKNOWN_TEXT` (the rules report them); a policy
//! that is not JSON, or whose `bindings` is not a list, is an `Unreadable` fact (malformed).

use serde_json::Value;

use super::facts::Fact;
use super::props::{Props, text_of};
use crate::engine::iam::grants::{Binding, Credential, RoleDef};
use crate::engine::iam::policy::UNKNOWN_TEXT;
use crate::engine::iam::unmodeled::Cloud;
use crate::engine::preview::{Marker, classify};

/// A reader of one state (the same `fn` type as `readers::Reader`, spelled here so that this
/// module does not depend on its caller).
type Reader = fn(&Props<'_>, &str) -> Vec<Fact>;

/// The form of a resource IAM type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Policy,
    Binding,
    Member,
}

/// Inputs that say what is granted, not where.
const GRANT_INPUTS: &[&str] = &[
    "role",
    "member",
    "members",
    "condition",
    "policyData",
    "etag",
];

/// The reader of an IAM type of Google Cloud, if iamgate models it. The resource IAM forms need
/// the type to name their scope: their facts are read by `read`, which `readers::read` calls
/// for every `gcp:` type; the `Reader` returned for them reads the type-free part only.
pub(super) fn reader(type_: &str) -> Option<Reader> {
    let rest = type_.strip_prefix("gcp:")?;
    let (_module_path, name) = rest.split_once(':')?;
    match type_ {
        "gcp:projects/iAMCustomRole:IAMCustomRole" => return Some(|p, n| custom_role(p, n, false)),
        "gcp:organizations/iAMCustomRole:IAMCustomRole" => {
            return Some(|p, n| custom_role(p, n, true));
        }
        "gcp:serviceaccount/key:Key" => return Some(key),
        "gcp:storage/hmacKey:HmacKey" => return Some(hmac_key),
        "gcp:serviceaccount/account:Account" => return Some(|_, _| Vec::new()),
        _ => {}
    }
    Some(match form_of(name)? {
        Form::Policy => |p, _| policy(p, UNKNOWN_TEXT.to_owned()),
        Form::Binding => |p, _| binding(p, UNKNOWN_TEXT.to_owned()),
        Form::Member => |p, _| member(p, UNKNOWN_TEXT.to_owned()),
    })
}

/// The facts of one state of a resource of `gcp:` type `type_` (empty when not modeled).
pub(super) fn read(type_: &str, p: &Props<'_>, logical: &str) -> Vec<Fact> {
    let Some(r) = reader(type_) else {
        return Vec::new();
    };
    let name = type_.rsplit(':').next().unwrap_or_default();
    match form_of(name) {
        Some(Form::Policy) => policy(p, scope(type_, p)),
        Some(Form::Binding) => binding(p, scope(type_, p)),
        Some(Form::Member) => member(p, scope(type_, p)),
        None => r(p, logical),
    }
}

/// The form of a type name, ignoring ASCII case.
fn form_of(name: &str) -> Option<Form> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with("iampolicy") {
        Some(Form::Policy)
    } else if lower.ends_with("iambinding") {
        Some(Form::Binding)
    } else if lower.ends_with("iammember") {
        Some(Form::Member)
    } else {
        None
    }
}

/// The text of an input, trimmed; `UNKNOWN_TEXT` when unknown.
fn input(p: &Props<'_>, key: &str) -> Option<String> {
    p.text(key).map(|t| t.trim().to_owned())
}

/// An identifier with a collection prefix dropped (`projects/p` → `p`).
fn strip<'a>(value: &'a str, prefix: &str) -> &'a str {
    value.strip_prefix(prefix).unwrap_or(value)
}

/// The canonical scope of a resource IAM type's state (see the module doc).
pub(super) fn scope(type_: &str, p: &Props<'_>) -> String {
    let Some((module_path, name)) = type_
        .strip_prefix("gcp:")
        .and_then(|rest| rest.split_once(':'))
    else {
        return UNKNOWN_TEXT.to_owned();
    };
    let module = module_path.split('/').next().unwrap_or_default();
    let unknown = || UNKNOWN_TEXT.to_owned();
    match (module, name.to_ascii_lowercase().as_str()) {
        ("organizations", "iampolicy" | "iambinding" | "iammember") => format!(
            "organizations/{}",
            strip(&input(p, "orgId").unwrap_or_else(unknown), "organizations/")
        ),
        ("folder", "iampolicy" | "iambinding" | "iammember") => format!(
            "folders/{}",
            strip(&input(p, "folder").unwrap_or_else(unknown), "folders/")
        ),
        ("projects", "iampolicy" | "iambinding" | "iammember") => format!(
            "projects/{}",
            strip(&input(p, "project").unwrap_or_else(unknown), "projects/")
        ),
        ("serviceaccount", "iampolicy" | "iambinding" | "iammember") => {
            match input(p, "serviceAccountId") {
                Some(id) if id != UNKNOWN_TEXT => {
                    format!("projects/-/serviceAccounts/{}", account_of(&id))
                }
                _ => format!(
                    "projects/-/serviceAccounts/{}",
                    account_ref(p, "serviceAccountId").unwrap_or_else(unknown)
                ),
            }
        }
        ("storage", "bucketiampolicy" | "bucketiambinding" | "bucketiammember") => {
            let bucket = input(p, "bucket").unwrap_or_else(unknown);
            format!("projects/_/buckets/{}", strip(&bucket, "b/"))
        }
        _ => generic_scope(module, name, p),
    }
}

/// `projects/<project>/<module>/<resource>/<input>=<value>,...` (see the module doc).
fn generic_scope(module: &str, name: &str, p: &Props<'_>) -> String {
    let lower = name.to_ascii_lowercase();
    let base_len = ["iampolicy", "iambinding", "iammember"]
        .iter()
        .find_map(|s| lower.strip_suffix(s).map(str::len))
        .unwrap_or(name.len());
    let resource = &name[..base_len];
    let resource = if resource.is_empty() {
        "resource"
    } else {
        resource
    };
    let project = input(p, "project").unwrap_or_else(|| "_".to_owned());
    let mut ids: Vec<String> = p
        .primary
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, v)| {
                    !GRANT_INPUTS.contains(&k.as_str())
                        && k.as_str() != "project"
                        && !k.starts_with("__")
                        && !v.is_null()
                })
                .filter_map(|(k, v)| Some(format!("{k}={}", text_of(v)?.trim())))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    format!(
        "projects/{}/{module}/{resource}/{}",
        strip(&project, "projects/"),
        ids.join(",")
    )
}

/// A service account as its email or unique id, lowercased, from
/// `projects/<p>/serviceAccounts/<email>`, the email or the unique id.
fn account_of(id: &str) -> String {
    id.rsplit_once("/serviceAccounts/")
        .map_or(id, |(_, a)| a)
        .to_ascii_lowercase()
}

/// A member in the canonical spelling (see the module doc).
pub fn canonical_member(raw: &str) -> String {
    let m = raw.trim();
    if m.contains(UNKNOWN_TEXT) {
        return m.to_owned();
    }
    for special in ["allUsers", "allAuthenticatedUsers"] {
        if m.eq_ignore_ascii_case(special) {
            return special.to_owned();
        }
    }
    for url in ["principal://", "principalSet://"] {
        if m.len() >= url.len() && m[..url.len()].eq_ignore_ascii_case(url) {
            return format!("{url}{}", &m[url.len()..]);
        }
    }
    let Some((prefix, rest)) = m.split_once(':') else {
        return m.to_owned();
    };
    const PREFIXES: &[&str] = &[
        "user",
        "group",
        "serviceAccount",
        "domain",
        "deleted",
        "projectOwner",
        "projectEditor",
        "projectViewer",
    ];
    let Some(canonical) = PREFIXES.iter().find(|p| p.eq_ignore_ascii_case(prefix)) else {
        return m.to_owned();
    };
    let rest = rest.trim();
    match *canonical {
        // `deleted:user:a@b.c?uid=123`: the member it was, spelled the same way.
        "deleted" => format!("deleted:{}", canonical_member(rest)),
        "projectOwner" | "projectEditor" | "projectViewer" => format!("{canonical}:{rest}"),
        _ => format!("{canonical}:{}", rest.to_ascii_lowercase()),
    }
}

/// A condition's canonical text: its expression, trimmed; `None` when empty.
fn condition(value: Option<&Value>) -> Result<Option<String>, String> {
    let Some(c) = value else {
        return Ok(None);
    };
    match c {
        Value::Null => Ok(None),
        Value::Object(_) => {
            let Some(e) = c.get("expression") else {
                return Ok(None);
            };
            match text_of(e) {
                Some(t) if t.trim().is_empty() => Ok(None),
                Some(t) => Ok(Some(t.trim().to_owned())),
                None => Err("the condition's `expression` is not text".into()),
            }
        }
        other if classify(other) == Marker::Unknown => Ok(Some(UNKNOWN_TEXT.to_owned())),
        _ => Err("`condition` is not an object".into()),
    }
}

fn malformed(property: &str, value: &Value, reason: String) -> Fact {
    Fact::Unreadable {
        property: property.to_owned(),
        reason,
        digest: super::raw::digest_of(value),
    }
}

fn grant(scope: &str, role: &str, member: &str, condition: Option<String>) -> Fact {
    Fact::Binding(Binding {
        cloud: Cloud::Gcp,
        scope: scope.to_owned(),
        role: role.trim().to_owned(),
        member: canonical_member(member),
        condition,
    })
}

/// The role; one unknown until apply that depends on a custom role resource of the stack (the
/// usual `role: customRole.name`) names it: `<unknown until apply> from <urn>`.
fn role_of(p: &Props<'_>) -> String {
    let role = input(p, "role").unwrap_or_else(|| UNKNOWN_TEXT.to_owned());
    if role == UNKNOWN_TEXT
        && let Some(urn) = p.dependency("role")
        && urn.contains("CustomRole:")
    {
        return format!("{UNKNOWN_TEXT} from {urn}");
    }
    role
}

/// A value unknown until apply that depends on exactly one service account resource of the
/// stack: `<unknown until apply> from <urn>` (see the module doc).
fn account_ref(p: &Props<'_>, key: &str) -> Option<String> {
    let urn = p.dependency(key)?;
    urn.contains("::gcp:serviceaccount/account:Account::")
        .then(|| format!("{UNKNOWN_TEXT} from {urn}"))
}

/// `IamMember`: one member.
fn member(p: &Props<'_>, scope: String) -> Vec<Fact> {
    let cond = match condition(p.get("condition")) {
        Ok(c) => c,
        Err(reason) => {
            return vec![malformed(
                "condition",
                p.get("condition").unwrap_or(&Value::Null),
                reason,
            )];
        }
    };
    let mut who = input(p, "member").unwrap_or_else(|| UNKNOWN_TEXT.to_owned());
    if who == UNKNOWN_TEXT
        && let Some(account) = account_ref(p, "member")
    {
        who = format!("serviceAccount:{account}");
    }
    vec![grant(&scope, &role_of(p), &who, cond)]
}

/// `IamBinding`: a role for a list of members.
fn binding(p: &Props<'_>, scope: String) -> Vec<Fact> {
    let cond = match condition(p.get("condition")) {
        Ok(c) => c,
        Err(reason) => {
            return vec![malformed(
                "condition",
                p.get("condition").unwrap_or(&Value::Null),
                reason,
            )];
        }
    };
    let role = role_of(p);
    match p.get("members") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|m| match text_of(m) {
                // One unknown member and one service account it depends on: that account.
                Some(who) if who == UNKNOWN_TEXT && items.len() == 1 => {
                    let who =
                        account_ref(p, "members").map_or(who, |a| format!("serviceAccount:{a}"));
                    grant(&scope, &role, &who, cond.clone())
                }
                Some(who) => grant(&scope, &role, &who, cond.clone()),
                None => malformed("members", m, "a member is not text".into()),
            })
            .collect(),
        Some(v) if classify(v) == Marker::Unknown => {
            vec![grant(&scope, &role, UNKNOWN_TEXT, cond)]
        }
        Some(other) => vec![malformed(
            "members",
            other,
            "`members` is not a list".into(),
        )],
    }
}

/// `IamPolicy`: the bindings of the JSON policy in `policyData`.
fn policy(p: &Props<'_>, scope: String) -> Vec<Fact> {
    let Some(data) = p.get("policyData") else {
        return Vec::new();
    };
    let text = match (classify(data), data) {
        (Marker::Unknown, _) => {
            return vec![grant(&scope, UNKNOWN_TEXT, UNKNOWN_TEXT, None)];
        }
        (Marker::Secret, _) => {
            return vec![grant(&scope, UNKNOWN_TEXT, UNKNOWN_TEXT, None)];
        }
        (_, Value::String(s)) => s,
        (_, other) => {
            return vec![malformed(
                "policyData",
                other,
                "`policyData` is not the JSON text of a policy".into(),
            )];
        }
    };
    if text.trim().is_empty() {
        return Vec::new();
    }
    let doc: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return vec![malformed(
                "policyData",
                data,
                format!("`policyData` is not valid JSON ({e})"),
            )];
        }
    };
    if !doc.is_object() {
        return vec![malformed(
            "policyData",
            data,
            "`policyData` is not a JSON object".into(),
        )];
    }
    let bindings = match doc.get("bindings") {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(b)) => b,
        Some(_) => {
            return vec![malformed(
                "policyData",
                data,
                "the policy's `bindings` is not a list".into(),
            )];
        }
    };
    let mut facts = Vec::new();
    for (i, b) in bindings.iter().enumerate() {
        let role = b.get("role").and_then(text_of);
        let members = b.get("members");
        let cond = condition(b.get("condition"));
        match (role, members, cond) {
            (Some(role), Some(Value::Array(members)), Ok(cond)) => {
                for m in members {
                    match text_of(m) {
                        Some(who) => facts.push(grant(&scope, &role, &who, cond.clone())),
                        None => facts.push(malformed(
                            "policyData",
                            m,
                            format!("bindings[{i}]: a member is not text"),
                        )),
                    }
                }
            }
            (_, _, Err(reason)) => facts.push(malformed(
                "policyData",
                b,
                format!("bindings[{i}]: {reason}"),
            )),
            (None, _, _) => facts.push(malformed(
                "policyData",
                b,
                format!("bindings[{i}]: no `role`"),
            )),
            (Some(_), _, _) => facts.push(malformed(
                "policyData",
                b,
                format!("bindings[{i}]: `members` is not a list"),
            )),
        }
    }
    facts
}

/// A custom role: `projects/<p>/roles/<roleId>` or `organizations/<o>/roles/<roleId>`.
fn custom_role(p: &Props<'_>, logical: &str, org: bool) -> Vec<Fact> {
    let role_id = input(p, "roleId").unwrap_or_else(|| logical.to_owned());
    let id = if org {
        let o = input(p, "orgId").unwrap_or_else(|| UNKNOWN_TEXT.to_owned());
        format!(
            "organizations/{}/roles/{role_id}",
            strip(&o, "organizations/")
        )
    } else {
        let project = input(p, "project").unwrap_or_else(|| "_".to_owned());
        format!("projects/{}/roles/{role_id}", strip(&project, "projects/"))
    };
    let mut facts = Vec::new();
    let mut permissions = match p.get("permissions") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(text_of)
            .map(|s| s.trim().to_owned())
            .collect(),
        Some(v) if classify(v) == Marker::Unknown => vec![UNKNOWN_TEXT.to_owned()],
        Some(other) => {
            facts.push(malformed(
                "permissions",
                other,
                "`permissions` is not a list".into(),
            ));
            vec![UNKNOWN_TEXT.to_owned()]
        }
    };
    let disabled = input(p, "stage").is_some_and(|s| s.eq_ignore_ascii_case("DISABLED"))
        || p.bool("deleted") == Some(true);
    if disabled {
        permissions.clear();
    }
    permissions.sort();
    permissions.dedup();
    facts.push(Fact::RoleDef(RoleDef {
        cloud: Cloud::Gcp,
        id,
        permissions,
        not_permissions: Vec::new(),
        assignable_scopes: Vec::new(),
        aggregate_from: Vec::new(),
        labels: Vec::new(),
    }));
    facts
}

/// A service account key. A key made from an uploaded public key (`publicKeyData`) leaves the
/// private key with its owner; a key Google generates puts it in the stack's state.
fn key(p: &Props<'_>, _logical: &str) -> Vec<Fact> {
    let id = match input(p, "serviceAccountId") {
        Some(id) if id != UNKNOWN_TEXT => account_of(&id),
        _ => account_ref(p, "serviceAccountId").unwrap_or_else(|| UNKNOWN_TEXT.to_owned()),
    };
    let kind = if p.get("publicKeyData").is_some() {
        "service account key (uploaded public key)"
    } else {
        "service account key"
    };
    vec![Fact::Credential(Credential {
        cloud: Cloud::Gcp,
        owner: canonical_member(&format!("serviceAccount:{id}")),
        kind: kind.to_owned(),
    })]
}

/// An HMAC key of a service account (Cloud Storage's S3-compatible access), unless created
/// `INACTIVE`.
fn hmac_key(p: &Props<'_>, _logical: &str) -> Vec<Fact> {
    if input(p, "state").is_some_and(|s| s.eq_ignore_ascii_case("INACTIVE")) {
        return Vec::new();
    }
    let email = input(p, "serviceAccountEmail").unwrap_or_else(|| UNKNOWN_TEXT.to_owned());
    vec![Fact::Credential(Credential {
        cloud: Cloud::Gcp,
        owner: canonical_member(&format!("serviceAccount:{email}")),
        kind: "HMAC key".to_owned(),
    })]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::props::DocMemo;
    use super::*;

    const UNKNOWN: &str = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

    fn facts(type_: &str, inputs: Value) -> Vec<Fact> {
        let memo = DocMemo::default();
        let p = Props {
            primary: &inputs,
            fallback: None,
            deps: &[],
            memo: &memo,
        };
        assert!(reader(type_).is_some(), "{type_} is not modeled");
        read(type_, &p, "logical")
    }

    fn bindings(type_: &str, inputs: Value) -> Vec<Binding> {
        facts(type_, inputs)
            .into_iter()
            .map(|f| match f {
                Fact::Binding(b) => b,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn b(scope: &str, role: &str, member: &str, condition: Option<&str>) -> Binding {
        Binding {
            cloud: Cloud::Gcp,
            scope: scope.into(),
            role: role.into(),
            member: member.into(),
            condition: condition.map(str::to_owned),
        }
    }

    #[test]
    fn the_three_forms_of_a_grant_read_the_same() {
        let policy = json!({"bindings": [{"role": "roles/owner", "members": ["user:A@Example.com", "group:ops@example.com"]}]});
        let from_policy = bindings(
            "gcp:projects/iAMPolicy:IAMPolicy",
            json!({"project": "acme", "policyData": policy.to_string()}),
        );
        let from_binding = bindings(
            "gcp:projects/iAMBinding:IAMBinding",
            json!({"project": "projects/acme", "role": "roles/owner", "members": ["user:a@example.com", "Group:ops@example.com "]}),
        );
        let mut from_members = bindings(
            "gcp:projects/iAMMember:IAMMember",
            json!({"project": "acme", "role": "roles/owner", "member": "user:a@EXAMPLE.com", "__defaults": []}),
        );
        from_members.extend(bindings(
            "gcp:projects/iAMMember:IAMMember",
            json!({"project": "acme", "role": " roles/owner", "member": "group:ops@example.com"}),
        ));
        let expected = vec![
            b("projects/acme", "roles/owner", "user:a@example.com", None),
            b(
                "projects/acme",
                "roles/owner",
                "group:ops@example.com",
                None,
            ),
        ];
        assert_eq!(from_policy, expected);
        assert_eq!(from_binding, expected);
        assert_eq!(from_members, expected);
    }

    #[test]
    fn scopes_are_canonical_per_level_and_resource() {
        let one = |t: &str, inputs: Value| bindings(t, inputs).remove(0).scope;
        let grant = json!({"role": "roles/viewer", "member": "user:a@x.io"});
        let with = |extra: Value| {
            let mut v = grant.clone();
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            v
        };
        assert_eq!(
            one(
                "gcp:organizations/iAMMember:IAMMember",
                with(json!({"orgId": "123"}))
            ),
            "organizations/123"
        );
        assert_eq!(
            one(
                "gcp:folder/iAMMember:IAMMember",
                with(json!({"folder": "folders/456"}))
            ),
            "folders/456"
        );
        assert_eq!(
            one(
                "gcp:storage/bucketIAMMember:BucketIAMMember",
                with(json!({"bucket": "b/data"}))
            ),
            "projects/_/buckets/data"
        );
        assert_eq!(
            one(
                "gcp:serviceaccount/iAMMember:IAMMember",
                with(
                    json!({"serviceAccountId": "projects/p/serviceAccounts/CI@p.iam.gserviceaccount.com"})
                )
            ),
            "projects/-/serviceAccounts/ci@p.iam.gserviceaccount.com"
        );
        assert_eq!(
            one(
                "gcp:serviceaccount/iAMMember:IAMMember",
                with(json!({"serviceAccountId": "ci@p.iam.gserviceaccount.com"}))
            ),
            "projects/-/serviceAccounts/ci@p.iam.gserviceaccount.com"
        );
        assert_eq!(
            one(
                "gcp:cloudrun/iamMember:IamMember",
                with(json!({"service": "api", "location": "europe-west1", "project": "p"}))
            ),
            "projects/p/cloudrun/resource/location=europe-west1,service=api"
        );
        assert_eq!(
            one(
                "gcp:secretmanager/secretIamMember:SecretIamMember",
                with(json!({"secretId": "db"}))
            ),
            "projects/_/secretmanager/Secret/secretId=db"
        );
        // The policy form of a resource type names the same scope.
        let policy =
            json!({"bindings": [{"role": "roles/viewer", "members": ["user:a@x.io"]}]}).to_string();
        assert_eq!(
            one(
                "gcp:secretmanager/secretIamPolicy:SecretIamPolicy",
                json!({"secretId": "db", "policyData": policy})
            ),
            "projects/_/secretmanager/Secret/secretId=db"
        );
    }

    #[test]
    fn members_keep_gcp_prefixes_and_compare_emails_ignoring_case() {
        for (raw, canonical) in [
            ("allusers", "allUsers"),
            (" allAuthenticatedUsers ", "allAuthenticatedUsers"),
            (
                "SERVICEACCOUNT:CI@P.iam.gserviceaccount.com",
                "serviceAccount:ci@p.iam.gserviceaccount.com",
            ),
            ("domain:Acme.COM", "domain:acme.com"),
            ("deleted:User:Bob@x.io?uid=1", "deleted:user:bob@x.io?uid=1"),
            ("projectOwner:acme", "projectOwner:acme"),
            (
                "principalSet://iam.googleapis.com/x",
                "principalSet://iam.googleapis.com/x",
            ),
        ] {
            assert_eq!(canonical_member(raw), canonical, "{raw}");
        }
    }

    #[test]
    fn conditions_keep_their_expression_only() {
        let got = bindings(
            "gcp:projects/iAMMember:IAMMember",
            json!({"project": "p", "role": "roles/viewer", "member": "user:a@x.io",
                   "condition": {"title": "t", "description": "d", "expression": " request.time < timestamp(\"2027-01-01T00:00:00Z\") "}}),
        );
        assert_eq!(
            got[0].condition.as_deref(),
            Some("request.time < timestamp(\"2027-01-01T00:00:00Z\")")
        );
        let policy = json!({"bindings": [{"role": "roles/viewer", "members": ["user:a@x.io"],
            "condition": {"title": "other title", "expression": "request.time < timestamp(\"2027-01-01T00:00:00Z\")"}}]});
        let from_policy = bindings(
            "gcp:projects/iAMPolicy:IAMPolicy",
            json!({"project": "p", "policyData": policy.to_string()}),
        );
        assert_eq!(from_policy, got);
    }

    #[test]
    fn unreadable_policies_are_malformed_never_empty() {
        for data in [
            json!("not json"),
            json!("{\"bindings\": {\"role\": \"roles/owner\"}}"),
            json!("[1]"),
            json!({"bindings": []}),
            json!("{\"bindings\": [{\"role\": \"roles/owner\", \"members\": \"user:a@x.io\"}]}"),
        ] {
            let f = facts(
                "gcp:projects/iAMPolicy:IAMPolicy",
                json!({"project": "p", "policyData": data}),
            );
            assert!(
                matches!(f.as_slice(), [Fact::Unreadable { property, .. }] if property == "policyData"),
                "{data}: {f:?}"
            );
        }
        let f = facts(
            "gcp:projects/iAMBinding:IAMBinding",
            json!({"project": "p", "role": "roles/owner", "members": "user:a@x.io"}),
        );
        assert!(matches!(f.as_slice(), [Fact::Unreadable { .. }]), "{f:?}");
    }

    #[test]
    fn unknown_values_stay_unknown() {
        let got = bindings(
            "gcp:projects/iAMPolicy:IAMPolicy",
            json!({"project": "p", "policyData": UNKNOWN}),
        );
        assert!(got[0].role.contains(UNKNOWN_TEXT) && got[0].member.contains(UNKNOWN_TEXT));
        let got = bindings(
            "gcp:projects/iAMMember:IAMMember",
            json!({"project": UNKNOWN, "role": "roles/owner", "member": UNKNOWN}),
        );
        assert_eq!(got[0].scope, format!("projects/{UNKNOWN_TEXT}"));
        assert_eq!(got[0].member, UNKNOWN_TEXT);
        let got = bindings(
            "gcp:projects/iAMBinding:IAMBinding",
            json!({"project": "p", "role": "roles/owner", "members": UNKNOWN}),
        );
        assert_eq!(got[0].member, UNKNOWN_TEXT);
    }

    #[test]
    fn a_role_computed_from_a_custom_role_names_its_resource() {
        let inputs = json!({"project": "p", "role": UNKNOWN, "member": "user:a@x.io"});
        let urn = "urn:pulumi:dev::app::gcp:projects/iAMCustomRole:IAMCustomRole::helper";
        let deps = vec![("role".to_owned(), vec![urn.to_owned()])];
        let memo = DocMemo::default();
        let p = Props {
            primary: &inputs,
            fallback: None,
            deps: &deps,
            memo: &memo,
        };
        match read("gcp:projects/iAMMember:IAMMember", &p, "b").as_slice() {
            [Fact::Binding(b)] => assert_eq!(b.role, format!("{UNKNOWN_TEXT} from {urn}")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_member_computed_from_a_service_account_names_its_resource() {
        let inputs = json!({"project": "p", "role": "roles/viewer", "member": UNKNOWN});
        let urn = "urn:pulumi:dev::app::gcp:serviceaccount/account:Account::worker";
        let deps = vec![("member".to_owned(), vec![urn.to_owned()])];
        let memo = DocMemo::default();
        let p = Props {
            primary: &inputs,
            fallback: None,
            deps: &deps,
            memo: &memo,
        };
        match read("gcp:projects/iAMMember:IAMMember", &p, "b").as_slice() {
            [Fact::Binding(b)] => {
                assert_eq!(
                    b.member,
                    format!("serviceAccount:{UNKNOWN_TEXT} from {urn}")
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn custom_roles_keys_and_accounts() {
        let f = facts(
            "gcp:projects/iAMCustomRole:IAMCustomRole",
            json!({"project": "acme", "roleId": "deployer", "title": "D",
                   "permissions": ["run.services.create", "iam.serviceAccounts.actAs", "run.services.create"]}),
        );
        match f.as_slice() {
            [Fact::RoleDef(d)] => {
                assert_eq!(d.id, "projects/acme/roles/deployer");
                assert_eq!(
                    d.permissions,
                    ["iam.serviceAccounts.actAs", "run.services.create"]
                );
            }
            other => panic!("{other:?}"),
        }
        let f = facts(
            "gcp:organizations/iAMCustomRole:IAMCustomRole",
            json!({"orgId": "123", "roleId": "r", "title": "R", "stage": "DISABLED", "permissions": ["resourcemanager.projects.setIamPolicy"]}),
        );
        assert!(
            matches!(f.as_slice(), [Fact::RoleDef(d)] if d.id == "organizations/123/roles/r" && d.permissions.is_empty()),
            "{f:?}"
        );
        let f = facts(
            "gcp:serviceaccount/key:Key",
            json!({"serviceAccountId": "projects/acme/serviceAccounts/CI@acme.iam.gserviceaccount.com"}),
        );
        assert!(
            matches!(f.as_slice(), [Fact::Credential(c)] if c.owner == "serviceAccount:ci@acme.iam.gserviceaccount.com" && c.kind == "service account key"),
            "{f:?}"
        );
        assert!(
            facts(
                "gcp:serviceaccount/account:Account",
                json!({"accountId": "ci"})
            )
            .is_empty()
        );
        assert!(
            facts(
                "gcp:storage/hmacKey:HmacKey",
                json!({"serviceAccountEmail": "a@p.iam.gserviceaccount.com", "state": "INACTIVE"})
            )
            .is_empty()
        );
    }

    #[test]
    fn every_iam_type_token_of_the_provider_package_has_a_reader() {
        let list = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/gcp/modeled-types.txt"
        ));
        let tokens: Vec<&str> = list.lines().filter(|l| !l.starts_with('#')).collect();
        assert!(tokens.len() > 450, "{}", tokens.len());
        for t in tokens {
            assert!(reader(t).is_some(), "{t}");
        }
    }

    #[test]
    fn every_resource_iam_type_of_the_provider_is_modeled_and_nothing_else() {
        for t in [
            "gcp:organizations/iAMPolicy:IAMPolicy",
            "gcp:organizations/iAMBinding:IAMBinding",
            "gcp:folder/iAMMember:IAMMember",
            "gcp:projects/iAMMember:IAMMember",
            "gcp:storage/bucketIAMBinding:BucketIAMBinding",
            "gcp:cloudrun/iamPolicy:IamPolicy",
            "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
            "gcp:cloudfunctionsv2/functionIamBinding:FunctionIamBinding",
            "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember",
            "gcp:kms/cryptoKeyIAMPolicy:CryptoKeyIAMPolicy",
            "gcp:bigquery/iamMember:IamMember",
            "gcp:secretmanager/secretIamBinding:SecretIamBinding",
            "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
        ] {
            assert!(reader(t).is_some(), "{t}");
        }
        for t in [
            "gcp:projects/iamMemberRemove:IamMemberRemove",
            "gcp:projects/iAMAuditConfig:IAMAuditConfig",
            "gcp:storage/bucket:Bucket",
            "gcp:iam/denyPolicy:DenyPolicy",
            "gcp:projects/defaultServiceAccounts:DefaultServiceAccounts",
            "google-native:iam/v1:Role",
        ] {
            assert!(reader(t).is_none(), "{t}");
        }
    }
}
