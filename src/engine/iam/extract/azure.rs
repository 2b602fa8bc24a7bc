//! The reader of Azure (`azure-native:`, `azure:`, `azuread:`): the `Binding`s, `RoleDef`s and
//! `Credential`s its IAM resources carry (see `iam::grants`).
//!
//! Types read (tokens and input names as @pulumi/azure-native 3.28.0, @pulumi/azure 6.40.0 and
//! @pulumi/azuread 6.9.1 define them):
//! - Azure RBAC: `azure-native:authorization:RoleAssignment` and `RoleDefinition` (any API
//!   version module, `authorization/v20220401:RoleAssignment`), `azure:authorization/assignment:
//!   Assignment`, `azure:authorization/roleDefinition:RoleDefinition`;
//! - Privileged Identity Management: `azure:pim/activeRoleAssignment:ActiveRoleAssignment` (an
//!   assignment), `azure:pim/eligibleRoleAssignment:EligibleRoleAssignment`,
//!   `azure-native:authorization:PimRoleEligibilitySchedule` and
//!   `azuread:index/directoryRoleEligibilityScheduleRequest:DirectoryRoleEligibilityScheduleRequest`
//!   (eligible: the grant's condition is `ELIGIBLE`, the principal holds the role once activated);
//! - federated identity credentials of user-assigned managed identities
//!   (`azure-native:managedidentity:FederatedIdentityCredential`,
//!   `azure:armmsi/federatedIdentityCredential:FederatedIdentityCredential`): owner
//!   `managedIdentity/<name>`;
//! - Entra ID: `azuread:index/directoryRoleAssignment:DirectoryRoleAssignment`,
//!   `azuread:index/appRoleAssignment:AppRoleAssignment`, and the credentials of applications and
//!   service principals (`applicationPassword`, `servicePrincipalPassword`,
//!   `applicationCertificate`, `servicePrincipalCertificate`,
//!   `applicationFederatedIdentityCredential`);
//! - anonymous blob access: `azure-native:storage:StorageAccount` (`allowBlobPublicAccess`),
//!   `azure-native:storage:BlobContainer` (`publicAccess`), `azure:storage/account:Account`
//!   (`allowNestedItemsToBePublic`), `azure:storage/container:Container` (`containerAccessType`).
//!
//! Canonical spellings:
//! - scope of an RBAC grant: the ARM path, trimmed and lowercased (Azure resource ids are
//!   case-insensitive), without a trailing slash, always starting with `/`: `/` (root),
//!   `/providers/microsoft.management/managementgroups/<mg>`, `/subscriptions/<s>`,
//!   `/subscriptions/<s>/resourcegroups/<rg>`, `/subscriptions/<s>/resourcegroups/<rg>/providers/...`;
//! - role of an RBAC grant: the role definition GUID, lowercase, whether the preview gives the
//!   GUID, the full role definition id (subscription-level or tenant-level) or, in the classic
//!   provider, the built-in role's name (resolved through `iam::azure_roles`; a name that is not
//!   in the table stays `name:<name>`);
//! - member: the principal's object id, lowercase;
//! - Entra ID directory roles: role `directoryRole/<role template id>`, scope `directory:<scope>`
//!   (`directory:/` for the whole tenant, `directory:/administrativeunits/<id>`, or
//!   `directory:app/<app object id>` for an application-scoped assignment);
//! - app role assignments: role `appRole/<app role id>`, scope `servicePrincipal/<resource object id>`;
//! - group membership (`azuread:index/groupMember:GroupMember`): role `group:member`, scope
//!   `group/<group object id>`, member the member's object id;
//! - anonymous blob access: member `allUsers`, scope `storage/<account>[/<container>]`, role
//!   `storage:publicAccess/blob`, `storage:publicAccess/container` (a container) or
//!   `storage:allowBlobPublicAccess` (an account that lets its containers be public): a grant to
//!   everyone, like GCP's `allUsers`, so the public-exposure rules and the per-member combination
//!   see it as any other grant;
//! - credentials: owner `application/<object id>` or `servicePrincipal/<object id>`.
//!
//! Permissions of a role definition: its actions lowercased (Azure actions are case-insensitive),
//! data actions prefixed `data:`; not-actions the same way.

use serde_json::Value;

use super::facts::Fact;
use super::props::{Props, text_of};
use crate::engine::iam::azure_roles;
use crate::engine::iam::grants::{Binding, Credential, RoleDef};
use crate::engine::iam::policy::UNKNOWN_TEXT;
use crate::engine::iam::unmodeled::Cloud;
use crate::engine::preview::{Marker, classify};

/// The member that stands for everyone (anonymous access).
pub const ALL_USERS: &str = "allUsers";
/// Role of an anonymous read of the blobs of a container (`Blob`).
pub const PUBLIC_BLOB: &str = "storage:publicAccess/blob";
/// Role of an anonymous read and listing of a container (`Container`).
pub const PUBLIC_CONTAINER: &str = "storage:publicAccess/container";
/// Role of an account that lets its containers be made public.
pub const ALLOW_PUBLIC: &str = "storage:allowBlobPublicAccess";

/// A reader (`readers::Reader`, spelled out so that this module does not depend on `readers`,
/// which dispatches to it).
type Reader = fn(&Props<'_>, &str) -> Vec<Fact>;

/// The role of an assignment whose role definition is created in the same deployment (its id
/// unknown until apply), followed by that definition's URN.
pub const ROLE_DEFINITION_OF: &str = "<unknown until apply> role definition of ";

/// The reader of an IAM type of Azure, if iamgate models it.
pub(super) fn reader(type_: &str) -> Option<Reader> {
    if let Some(rest) = type_.strip_prefix("azure-native:") {
        let (module, name) = rest.split_once(':')?;
        let service = module.split('/').next().unwrap_or(module);
        return Some(match (service, name) {
            ("authorization", "RoleAssignment") => |p, _| assignment(p, false),
            ("authorization", "RoleDefinition") => |p, n| definition(p, n, false),
            ("authorization", "PimRoleEligibilitySchedule") => {
                |p, _| eligible(assignment(p, false))
            }
            ("managedidentity", "FederatedIdentityCredential") => {
                |p, _| identity_federation(p, p.text("resourceName"))
            }
            ("storage", "StorageAccount") => {
                |p, n| account(p, n, "accountName", "allowBlobPublicAccess")
            }
            ("storage", "BlobContainer") => native_container,
            _ => return None,
        });
    }
    Some(match type_ {
        "azure:authorization/assignment:Assignment" => |p, _| assignment(p, true),
        "azure:authorization/roleDefinition:RoleDefinition" => |p, n| definition(p, n, true),
        "azure:pim/activeRoleAssignment:ActiveRoleAssignment" => |p, _| assignment(p, false),
        "azure:pim/eligibleRoleAssignment:EligibleRoleAssignment" => {
            |p, _| eligible(assignment(p, false))
        }
        "azure:armmsi/federatedIdentityCredential:FederatedIdentityCredential" => |p, _| {
            let parent = p
                .text("parentId")
                .or_else(|| p.text("userAssignedIdentityId"));
            identity_federation(p, parent)
        },
        "azuread:index/directoryRoleEligibilityScheduleRequest:DirectoryRoleEligibilityScheduleRequest" => {
            |p, n| eligible(directory_role(p, n))
        }
        "azure:storage/account:Account" => {
            |p, n| account(p, n, "name", "allowNestedItemsToBePublic")
        }
        "azure:storage/container:Container" => classic_container,
        "azuread:index/directoryRoleAssignment:DirectoryRoleAssignment" => directory_role,
        "azuread:index/appRoleAssignment:AppRoleAssignment" => app_role,
        "azuread:index/groupMember:GroupMember" => group_member,
        "azuread:index/applicationPassword:ApplicationPassword" => {
            |p, _| credential(p, "applicationId", "application password")
        }
        "azuread:index/applicationCertificate:ApplicationCertificate" => {
            |p, _| credential(p, "applicationId", "application certificate")
        }
        "azuread:index/servicePrincipalPassword:ServicePrincipalPassword" => {
            |p, _| credential(p, "servicePrincipalId", "service principal password")
        }
        "azuread:index/servicePrincipalCertificate:ServicePrincipalCertificate" => {
            |p, _| credential(p, "servicePrincipalId", "service principal certificate")
        }
        "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential" => {
            federated
        }
        _ => return None,
    })
}

fn malformed(property: &str, value: &Value, reason: String) -> Fact {
    Fact::Unreadable {
        property: property.to_owned(),
        reason,
        digest: super::raw::digest_of(value),
    }
}

/// A scalar input as text, or a malformed fact when it is present but not a scalar.
fn scalar(p: &Props<'_>, key: &str) -> Result<Option<String>, Box<Fact>> {
    match p.get(key) {
        None => Ok(None),
        Some(v) => match text_of(v) {
            Some(t) => Ok(Some(t)),
            None => Err(Box::new(malformed(key, v, format!("`{key}` is not text")))),
        },
    }
}

/// Scalar inputs read one by one, with a malformed fact kept for each that is not text: a type
/// reports every unreadable input, then gives up.
#[derive(Default)]
struct Scalars {
    malformed: Vec<Fact>,
}

impl Scalars {
    fn read(&mut self, p: &Props<'_>, key: &str) -> Option<String> {
        scalar(p, key).unwrap_or_else(|f| {
            self.malformed.push(*f);
            None
        })
    }
}

/// Collapses runs of whitespace and trims; lowercases when asked.
fn tidy(text: &str, lower: bool) -> String {
    let t = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if lower { t.to_ascii_lowercase() } else { t }
}

/// An ARM scope in the canonical spelling (see the module doc).
pub fn canonical_scope(text: &str) -> String {
    if text.contains(UNKNOWN_TEXT) {
        return UNKNOWN_TEXT.to_owned();
    }
    let segments: Vec<String> = text
        .trim()
        .split('/')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    format!("/{}", segments.join("/"))
}

/// A role definition reference (a GUID, or a full role definition id) as its GUID, lowercase.
pub fn canonical_role(text: &str) -> String {
    if text.contains(UNKNOWN_TEXT) {
        return UNKNOWN_TEXT.to_owned();
    }
    let t = canonical_scope(text);
    match t.rfind("/roledefinitions/") {
        Some(i) => t[i + "/roledefinitions/".len()..].to_owned(),
        None => t.trim_start_matches('/').to_owned(),
    }
}

fn canonical_id(text: &str) -> String {
    if text.contains(UNKNOWN_TEXT) {
        UNKNOWN_TEXT.to_owned()
    } else {
        text.trim().to_ascii_lowercase()
    }
}

/// A role assignment (azure-native `RoleAssignment`, classic `Assignment`).
fn assignment(p: &Props<'_>, classic: bool) -> Vec<Fact> {
    let mut inputs = Scalars::default();
    let scope = inputs.read(p, "scope");
    let id = inputs.read(p, "roleDefinitionId");
    let name = if classic {
        inputs.read(p, "roleDefinitionName")
    } else {
        None
    };
    let principal = inputs.read(p, "principalId");
    let condition = inputs.read(p, "condition");
    if !inputs.malformed.is_empty() {
        return inputs.malformed;
    }
    let role = match (id, name) {
        (Some(id), _) => canonical_role(&id),
        (None, Some(name)) if name.contains(UNKNOWN_TEXT) => UNKNOWN_TEXT.to_owned(),
        (None, Some(name)) => match azure_roles::builtin_by_name(&name) {
            Some(role) => role.id.to_owned(),
            None => format!("name:{}", tidy(&name, false)),
        },
        (None, None) => format!("{UNKNOWN_TEXT} roleDefinitionId"),
    };
    // A definition created in the same deployment: its id is unknown, but the engine records
    // which resource it comes from; the rules read that definition's actions.
    let role = match p.dependency("roleDefinitionId") {
        Some(urn) if role.contains(UNKNOWN_TEXT) && urn.contains(":RoleDefinition::") => {
            format!("{ROLE_DEFINITION_OF}{urn}")
        }
        _ => role,
    };
    let condition = condition.map(|c| tidy(&c, false)).filter(|c| !c.is_empty());
    vec![Fact::Binding(Binding {
        cloud: Cloud::Azure,
        scope: scope
            .map(|s| canonical_scope(&s))
            .unwrap_or_else(|| format!("{UNKNOWN_TEXT} scope")),
        role,
        member: principal
            .map(|m| canonical_id(&m))
            .unwrap_or_else(|| format!("{UNKNOWN_TEXT} principalId")),
        condition,
    })]
}

/// A list of action strings (`actions`, `notActions`, ...), lowercased and prefixed.
fn actions(block: &Value, key: &str, prefix: &str, out: &mut Vec<String>) -> Result<(), String> {
    match block.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(v) if classify(v) == Marker::Unknown => {
            out.push(format!("{prefix}{UNKNOWN_TEXT} {key}"));
            Ok(())
        }
        Some(Value::Array(items)) => {
            for item in items {
                let text = text_of(item).ok_or_else(|| format!("`{key}` holds a non-text item"))?;
                if text.contains(UNKNOWN_TEXT) {
                    out.push(format!("{prefix}{UNKNOWN_TEXT} {key}"));
                } else {
                    out.push(format!("{prefix}{}", text.trim().to_ascii_lowercase()));
                }
            }
            Ok(())
        }
        Some(_) => Err(format!("`{key}` is not a list")),
    }
}

/// A role definition (azure-native and classic `RoleDefinition`).
fn definition(p: &Props<'_>, logical: &str, classic: bool) -> Vec<Fact> {
    let mut facts = Vec::new();
    let mut permissions = Vec::new();
    let mut not_permissions = Vec::new();
    match p.get("permissions") {
        None => {}
        Some(v) if classify(v) == Marker::Unknown => {
            permissions.push(format!("{UNKNOWN_TEXT} permissions"));
        }
        Some(Value::Array(blocks)) => {
            for (i, block) in blocks.iter().enumerate() {
                if !block.is_object() {
                    facts.push(malformed(
                        "permissions",
                        block,
                        format!("permissions[{i}] is not an object"),
                    ));
                    continue;
                }
                let read = actions(block, "actions", "", &mut permissions)
                    .and_then(|()| actions(block, "dataActions", "data:", &mut permissions))
                    .and_then(|()| actions(block, "notActions", "", &mut not_permissions))
                    .and_then(|()| actions(block, "notDataActions", "data:", &mut not_permissions));
                if let Err(reason) = read {
                    facts.push(malformed(
                        "permissions",
                        block,
                        format!("permissions[{i}]: {reason}"),
                    ));
                }
            }
        }
        Some(other) => facts.push(malformed(
            "permissions",
            other,
            "`permissions` is not a list".into(),
        )),
    }
    for list in [&mut permissions, &mut not_permissions] {
        list.sort();
        list.dedup();
    }
    // The GUID: the input, else (an existing definition's outputs) the resource's name.
    let guid = p
        .text("roleDefinitionId")
        .or_else(|| if classic { None } else { p.text("name") });
    let role_name = p
        .text(if classic { "name" } else { "roleName" })
        .unwrap_or_else(|| logical.to_owned());
    let id = match guid {
        Some(g) if !g.contains(UNKNOWN_TEXT) => canonical_role(&g),
        _ => format!("{UNKNOWN_TEXT} role definition {role_name}"),
    };
    let mut assignable_scopes: Vec<String> = match p.get("assignableScopes") {
        Some(Value::Array(_)) => p.texts("assignableScopes"),
        Some(v) if classify(v) == Marker::Unknown => vec![UNKNOWN_TEXT.to_owned()],
        Some(other) => {
            facts.push(malformed(
                "assignableScopes",
                other,
                "`assignableScopes` is not a list".into(),
            ));
            Vec::new()
        }
        None => Vec::new(),
    }
    .iter()
    .map(|s| canonical_scope(s))
    .collect();
    if assignable_scopes.is_empty() {
        // Without assignable scopes the definition is usable where it is defined.
        if let Some(scope) = p.text("scope") {
            assignable_scopes.push(canonical_scope(&scope));
        }
    }
    assignable_scopes.sort();
    assignable_scopes.dedup();
    facts.push(Fact::RoleDef(RoleDef {
        cloud: Cloud::Azure,
        id,
        permissions,
        not_permissions,
        assignable_scopes,
        aggregate_from: Vec::new(),
        labels: Vec::new(),
    }));
    facts
}

/// The condition of an eligible assignment (Privileged Identity Management): the principal
/// holds the role once it activates it.
pub const ELIGIBLE: &str = "eligible (PIM activation)";

/// The grants of an eligible assignment: conditioned on activation (and on their own ABAC
/// condition, if any).
fn eligible(mut facts: Vec<Fact>) -> Vec<Fact> {
    for fact in &mut facts {
        if let Fact::Binding(b) = fact {
            b.condition = Some(match b.condition.take() {
                Some(c) => format!("{ELIGIBLE} and {c}"),
                None => ELIGIBLE.to_owned(),
            });
        }
    }
    facts
}

/// A federated identity credential of a user-assigned managed identity (`identity`: its name,
/// or its ARM id).
fn identity_federation(p: &Props<'_>, identity: Option<String>) -> Vec<Fact> {
    let name = match identity {
        Some(i) if i.contains(UNKNOWN_TEXT) => UNKNOWN_TEXT.to_owned(),
        Some(i) => {
            let i = i.trim().trim_end_matches('/').to_ascii_lowercase();
            i.rsplit('/').next().unwrap_or(&i).to_owned()
        }
        None => UNKNOWN_TEXT.to_owned(),
    };
    let issuer = p.text("issuer").unwrap_or_else(|| UNKNOWN_TEXT.to_owned());
    let subject = p.text("subject").unwrap_or_else(|| UNKNOWN_TEXT.to_owned());
    vec![Fact::Credential(Credential {
        cloud: Cloud::Azure,
        owner: format!("managedIdentity/{name}"),
        kind: format!(
            "federated identity credential (issuer {}, subject {})",
            issuer.trim(),
            subject.trim()
        ),
    })]
}

/// An Entra ID directory role assignment.
fn directory_role(p: &Props<'_>, _logical: &str) -> Vec<Fact> {
    let mut inputs = Scalars::default();
    let mut read = |key: &str| inputs.read(p, key);
    // Assignments name `roleId`/`principalObjectId`; eligibility requests `roleDefinitionId`/
    // `principalId`.
    let role = read("roleId").or_else(|| read("roleDefinitionId"));
    let member = read("principalObjectId").or_else(|| read("principalId"));
    let directory_scope = read("directoryScopeId");
    let app_scope = read("appScopeId");
    if !inputs.malformed.is_empty() {
        return inputs.malformed;
    }
    let scope = match (directory_scope, app_scope) {
        (Some(s), _) if s.contains(UNKNOWN_TEXT) => UNKNOWN_TEXT.to_owned(),
        (_, Some(a)) if a.contains(UNKNOWN_TEXT) => UNKNOWN_TEXT.to_owned(),
        (Some(s), _) => format!("directory:{}", canonical_scope(&s)),
        (None, Some(a)) => format!("directory:app{}", canonical_scope(&a)),
        // Neither: the whole tenant (the provider's default directory scope is `/`).
        (None, None) => "directory:/".to_owned(),
    };
    vec![Fact::Binding(Binding {
        cloud: Cloud::Azure,
        scope,
        role: role
            .map(|r| format!("directoryRole/{}", canonical_id(&r)))
            .unwrap_or_else(|| format!("directoryRole/{UNKNOWN_TEXT}")),
        member: member
            .map(|m| canonical_id(&m))
            .unwrap_or_else(|| format!("{UNKNOWN_TEXT} principalObjectId")),
        condition: None,
    })]
}

/// An app role assignment: an application permission (or any app role) granted to a principal.
fn app_role(p: &Props<'_>, _logical: &str) -> Vec<Fact> {
    let mut inputs = Scalars::default();
    let mut read = |key: &str| inputs.read(p, key);
    let role = read("appRoleId");
    let member = read("principalObjectId");
    let resource = read("resourceObjectId");
    if !inputs.malformed.is_empty() {
        return inputs.malformed;
    }
    vec![Fact::Binding(Binding {
        cloud: Cloud::Azure,
        scope: format!(
            "servicePrincipal/{}",
            resource.map_or_else(|| UNKNOWN_TEXT.to_owned(), |r| canonical_id(&r))
        ),
        role: format!(
            "appRole/{}",
            role.map_or_else(|| UNKNOWN_TEXT.to_owned(), |r| canonical_id(&r))
        ),
        member: member
            .map(|m| canonical_id(&m))
            .unwrap_or_else(|| format!("{UNKNOWN_TEXT} principalObjectId")),
        condition: None,
    })]
}

/// The role of a group membership: the member holds what is granted to the group (scope
/// `group/<group object id>`).
pub const GROUP_MEMBER: &str = "group:member";

/// A member added to an Entra ID group.
fn group_member(p: &Props<'_>, _logical: &str) -> Vec<Fact> {
    let mut inputs = Scalars::default();
    let mut read = |key: &str| inputs.read(p, key);
    let group = read("groupObjectId");
    let member = read("memberObjectId");
    if !inputs.malformed.is_empty() {
        return inputs.malformed;
    }
    vec![Fact::Binding(Binding {
        cloud: Cloud::Azure,
        scope: format!(
            "group/{}",
            group.map_or_else(|| UNKNOWN_TEXT.to_owned(), |g| canonical_id(&g))
        ),
        role: GROUP_MEMBER.to_owned(),
        member: member
            .map(|m| canonical_id(&m))
            .unwrap_or_else(|| format!("{UNKNOWN_TEXT} memberObjectId")),
        condition: None,
    })]
}

/// The owner of a credential: `/applications/<id>` or `/servicePrincipals/<id>` (azuread 3+),
/// or a bare object id (older providers).
fn owner_of(text: &str, key: &str) -> String {
    let kind = if key == "applicationId" {
        "application"
    } else {
        "servicePrincipal"
    };
    if text.contains(UNKNOWN_TEXT) {
        return format!("{kind}/{UNKNOWN_TEXT}");
    }
    let t = text.trim().to_ascii_lowercase();
    let id = t.rsplit('/').next().unwrap_or(&t);
    format!("{kind}/{id}")
}

fn credential(p: &Props<'_>, key: &str, kind: &str) -> Vec<Fact> {
    let owner = match scalar(p, key) {
        Ok(v) => v,
        Err(f) => return vec![*f],
    };
    vec![Fact::Credential(Credential {
        cloud: Cloud::Azure,
        owner: owner_of(owner.as_deref().unwrap_or(UNKNOWN_TEXT), key),
        kind: kind.to_owned(),
    })]
}

/// A federated identity credential: tokens of `issuer` for `subject` sign in as the application.
fn federated(p: &Props<'_>, _logical: &str) -> Vec<Fact> {
    let owner = match scalar(p, "applicationId") {
        Ok(v) => v,
        Err(f) => return vec![*f],
    };
    let issuer = p.text("issuer").unwrap_or_else(|| UNKNOWN_TEXT.to_owned());
    let subject = p.text("subject").unwrap_or_else(|| UNKNOWN_TEXT.to_owned());
    vec![Fact::Credential(Credential {
        cloud: Cloud::Azure,
        owner: owner_of(owner.as_deref().unwrap_or(UNKNOWN_TEXT), "applicationId"),
        kind: format!(
            "federated identity credential (issuer {}, subject {})",
            issuer.trim(),
            subject.trim()
        ),
    })]
}

/// A storage account whose `key` lets containers be public.
fn account(p: &Props<'_>, logical: &str, name_key: &str, key: &str) -> Vec<Fact> {
    let name = p
        .text(name_key)
        .map(|n| canonical_id(&n))
        .unwrap_or_else(|| logical.to_ascii_lowercase());
    match p.get(key) {
        None | Some(Value::Bool(false)) => Vec::new(),
        Some(Value::Bool(true)) => vec![public(format!("storage/{name}"), ALLOW_PUBLIC)],
        Some(v) if classify(v) == Marker::Unknown => {
            vec![public(format!("storage/{name}"), UNKNOWN_TEXT)]
        }
        Some(other) => vec![malformed(key, other, format!("`{key}` is not a boolean"))],
    }
}

fn public(scope: String, role: &str) -> Fact {
    Fact::Binding(Binding {
        cloud: Cloud::Azure,
        scope,
        role: role.to_owned(),
        member: ALL_USERS.to_owned(),
        condition: None,
    })
}

/// A container's access level (`Blob`, `Container`, `None`/`private`, any case) as its grant.
fn container(account: String, container: String, key: &str, p: &Props<'_>) -> Vec<Fact> {
    let scope = format!("storage/{account}/{container}");
    match p.get(key) {
        None => Vec::new(),
        Some(v) => match text_of(v) {
            Some(t) if t.contains(UNKNOWN_TEXT) => vec![public(scope, UNKNOWN_TEXT)],
            Some(t) => match t.trim().to_ascii_lowercase().as_str() {
                "blob" => vec![public(scope, PUBLIC_BLOB)],
                "container" => vec![public(scope, PUBLIC_CONTAINER)],
                "none" | "private" | "" => Vec::new(),
                _ => vec![malformed(key, v, format!("`{key}` is not an access level"))],
            },
            None => vec![malformed(key, v, format!("`{key}` is not text"))],
        },
    }
}

fn native_container(p: &Props<'_>, logical: &str) -> Vec<Fact> {
    let account = p
        .text("accountName")
        .map(|n| canonical_id(&n))
        .unwrap_or_else(|| UNKNOWN_TEXT.to_owned());
    let name = p
        .text("containerName")
        .map(|n| canonical_id(&n))
        .unwrap_or_else(|| logical.to_ascii_lowercase());
    container(account, name, "publicAccess", p)
}

fn classic_container(p: &Props<'_>, logical: &str) -> Vec<Fact> {
    let account = p
        .text("storageAccountName")
        .or_else(|| {
            p.text("storageAccountId")
                .map(|id| id.rsplit('/').next().unwrap_or(&id).to_owned())
        })
        .map(|n| canonical_id(&n))
        .unwrap_or_else(|| UNKNOWN_TEXT.to_owned());
    let name = p
        .text("name")
        .map(|n| canonical_id(&n))
        .unwrap_or_else(|| logical.to_ascii_lowercase());
    container(account, name, "containerAccessType", p)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::engine::iam::extract::props::DocMemo;

    fn read(type_: &str, inputs: Value) -> Vec<Fact> {
        let memo = DocMemo::default();
        let props = Props {
            primary: &inputs,
            fallback: None,
            deps: &[],
            memo: &memo,
        };
        reader(type_).unwrap_or_else(|| panic!("{type_} not read"))(&props, "logical")
    }

    fn binding(facts: &[Fact]) -> &Binding {
        match facts {
            [Fact::Binding(b)] => b,
            other => panic!("{other:?}"),
        }
    }

    const SUB: &str = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590";
    const PRINCIPAL: &str = "7d5f9c3e-8a41-4f0e-9c1d-2b6a4e8f1a20";

    #[test]
    fn every_form_of_a_role_assignment_is_the_same_binding() {
        let native = read(
            "azure-native:authorization:RoleAssignment",
            json!({
                "scope": SUB,
                "roleDefinitionId": format!("{SUB}/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635"),
                "principalId": PRINCIPAL,
                "principalType": "ServicePrincipal"
            }),
        );
        let versioned = read(
            "azure-native:authorization/v20220401:RoleAssignment",
            json!({
                "scope": format!("{}/", SUB.to_uppercase()),
                "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/8E3AF657-A8FF-443C-A75C-2FE8C4BCB635",
                "principalId": PRINCIPAL.to_uppercase()
            }),
        );
        let classic_by_name = read(
            "azure:authorization/assignment:Assignment",
            json!({"scope": SUB, "roleDefinitionName": "Owner ", "principalId": PRINCIPAL}),
        );
        let classic_by_id = read(
            "azure:authorization/assignment:Assignment",
            json!({"scope": SUB, "roleDefinitionId": format!("{SUB}/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635"), "principalId": PRINCIPAL}),
        );
        let expected = Binding {
            cloud: Cloud::Azure,
            scope: SUB.to_owned(),
            role: azure_roles::OWNER.to_owned(),
            member: PRINCIPAL.to_owned(),
            condition: None,
        };
        for facts in [&native, &versioned, &classic_by_name, &classic_by_id] {
            assert_eq!(binding(facts), &expected);
        }
    }

    #[test]
    fn an_unknown_built_in_name_and_unknown_values_stay_visible() {
        let b = read(
            "azure:authorization/assignment:Assignment",
            json!({"scope": SUB, "roleDefinitionName": "Some Future Role", "principalId": PRINCIPAL}),
        );
        assert_eq!(binding(&b).role, "name:Some Future Role");
        let unknown = json!("04da6b54-80e4-46f7-96ec-b56ff0331ba9");
        let b = read(
            "azure-native:authorization:RoleAssignment",
            json!({"scope": unknown, "roleDefinitionId": unknown, "principalId": unknown}),
        );
        let b = binding(&b);
        assert_eq!(
            (b.scope.as_str(), b.role.as_str(), b.member.as_str()),
            (UNKNOWN_TEXT, UNKNOWN_TEXT, UNKNOWN_TEXT)
        );
    }

    #[test]
    fn an_assignment_of_a_definition_created_alongside_names_its_urn() {
        let unknown = json!("04da6b54-80e4-46f7-96ec-b56ff0331ba9");
        let inputs = json!({"scope": SUB, "roleDefinitionId": unknown, "principalId": PRINCIPAL});
        let urn = "urn:pulumi:dev::app::azure-native:authorization:RoleDefinition::custom";
        let deps = vec![("roleDefinitionId".to_owned(), vec![urn.to_owned()])];
        let memo = DocMemo::default();
        let props = Props {
            primary: &inputs,
            fallback: None,
            deps: &deps,
            memo: &memo,
        };
        let facts = assignment(&props, false);
        assert_eq!(binding(&facts).role, format!("{ROLE_DEFINITION_OF}{urn}"));
    }

    #[test]
    fn conditions_are_kept_with_whitespace_collapsed() {
        let b = read(
            "azure-native:authorization:RoleAssignment",
            json!({"scope": SUB, "roleDefinitionId": azure_roles::RBAC_ADMINISTRATOR, "principalId": PRINCIPAL,
                   "condition": "  ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'}))\n   OR (@Request[x] ForAnyOfAnyValues:GuidEquals {acdd72a7}))  "}),
        );
        assert_eq!(
            binding(&b).condition.as_deref(),
            Some(
                "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[x] ForAnyOfAnyValues:GuidEquals {acdd72a7}))"
            )
        );
    }

    #[test]
    fn role_definitions_of_both_providers_read_alike() {
        let permissions = json!([{
            "actions": ["Microsoft.Authorization/*", " */read"],
            "notActions": ["Microsoft.Authorization/elevateAccess/Action"],
            "dataActions": ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"]
        }]);
        let native = read(
            "azure-native:authorization:RoleDefinition",
            json!({"roleDefinitionId": "A1B2C3D4-0000-4000-8000-000000000001", "roleName": "access-admin",
                   "scope": SUB, "assignableScopes": [SUB], "permissions": permissions}),
        );
        let classic = read(
            "azure:authorization/roleDefinition:RoleDefinition",
            json!({"roleDefinitionId": "a1b2c3d4-0000-4000-8000-000000000001", "name": "access-admin",
                   "scope": SUB, "permissions": permissions}),
        );
        let def = |facts: &[Fact]| match facts {
            [Fact::RoleDef(d)] => d.clone(),
            other => panic!("{other:?}"),
        };
        let n = def(&native);
        assert_eq!(n, def(&classic));
        assert_eq!(n.id, "a1b2c3d4-0000-4000-8000-000000000001");
        assert_eq!(
            n.permissions,
            [
                "*/read",
                "data:microsoft.storage/storageaccounts/blobservices/containers/blobs/read",
                "microsoft.authorization/*"
            ]
        );
        assert_eq!(
            n.not_permissions,
            ["microsoft.authorization/elevateaccess/action"]
        );
        assert_eq!(n.assignable_scopes, [SUB]);
    }

    #[test]
    fn unreadable_permissions_and_principals_are_malformed() {
        let facts = read(
            "azure-native:authorization:RoleDefinition",
            json!({"roleName": "x", "scope": SUB, "permissions": [{"actions": "*"}, 7]}),
        );
        let unreadable = facts
            .iter()
            .filter(|f| matches!(f, Fact::Unreadable { .. }))
            .count();
        assert_eq!(unreadable, 2, "{facts:?}");
        let facts = read(
            "azure-native:authorization:RoleAssignment",
            json!({"scope": SUB, "roleDefinitionId": azure_roles::OWNER, "principalId": {"id": PRINCIPAL}}),
        );
        assert!(
            matches!(facts.as_slice(), [Fact::Unreadable { property, .. }] if property == "principalId"),
            "{facts:?}"
        );
        // Every unreadable input of an Entra ID assignment is reported, and no grant is guessed.
        let facts = read(
            "azuread:index/appRoleAssignment:AppRoleAssignment",
            json!({"appRoleId": ["x"], "principalObjectId": {"id": PRINCIPAL}, "resourceObjectId": PRINCIPAL}),
        );
        let properties: Vec<&str> = facts
            .iter()
            .filter_map(|f| match f {
                Fact::Unreadable { property, .. } => Some(property.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(properties, ["appRoleId", "principalObjectId"], "{facts:?}");
        assert_eq!(facts.len(), 2, "{facts:?}");
    }

    #[test]
    fn entra_assignments_and_credentials() {
        let b = read(
            "azuread:index/directoryRoleAssignment:DirectoryRoleAssignment",
            json!({"roleId": "62E90394-69F5-4237-9190-012177145E10", "principalObjectId": PRINCIPAL}),
        );
        assert_eq!(binding(&b).scope, "directory:/");
        assert_eq!(
            binding(&b).role,
            "directoryRole/62e90394-69f5-4237-9190-012177145e10"
        );
        let b = read(
            "azuread:index/appRoleAssignment:AppRoleAssignment",
            json!({"appRoleId": "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8", "principalObjectId": PRINCIPAL,
                   "resourceObjectId": "11111111-2222-3333-4444-555555555555"}),
        );
        assert_eq!(
            binding(&b).role,
            "appRole/9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8"
        );
        let c = read(
            "azuread:index/applicationPassword:ApplicationPassword",
            json!({"applicationId": "/applications/ABC", "displayName": "ci"}),
        );
        assert!(
            matches!(c.as_slice(), [Fact::Credential(c)] if c.owner == "application/abc" && c.kind == "application password"),
            "{c:?}"
        );
        let c = read(
            "azuread:index/servicePrincipalCertificate:ServicePrincipalCertificate",
            json!({"servicePrincipalId": "/servicePrincipals/def", "value": "<secret>"}),
        );
        assert!(
            matches!(c.as_slice(), [Fact::Credential(c)] if c.owner == "servicePrincipal/def"),
            "{c:?}"
        );
    }

    #[test]
    fn eligible_assignments_are_conditioned_on_activation() {
        let inputs =
            json!({"scope": SUB, "roleDefinitionId": azure_roles::OWNER, "principalId": PRINCIPAL});
        for t in [
            "azure:pim/eligibleRoleAssignment:EligibleRoleAssignment",
            "azure-native:authorization:PimRoleEligibilitySchedule",
        ] {
            let b = read(t, inputs.clone());
            assert_eq!(binding(&b).condition.as_deref(), Some(ELIGIBLE), "{t}");
            assert_eq!(binding(&b).role, azure_roles::OWNER);
        }
        let b = read(
            "azure:pim/activeRoleAssignment:ActiveRoleAssignment",
            inputs,
        );
        assert_eq!(binding(&b).condition, None);
        let b = read(
            "azuread:index/directoryRoleEligibilityScheduleRequest:DirectoryRoleEligibilityScheduleRequest",
            json!({"roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10", "principalId": PRINCIPAL,
                   "directoryScopeId": "/", "justification": "on call"}),
        );
        let b = binding(&b);
        assert_eq!(
            (b.scope.as_str(), b.role.as_str(), b.condition.as_deref()),
            (
                "directory:/",
                "directoryRole/62e90394-69f5-4237-9190-012177145e10",
                Some(ELIGIBLE)
            )
        );
    }

    #[test]
    fn managed_identity_federation_in_both_providers_is_the_same_credential() {
        let native = read(
            "azure-native:managedidentity:FederatedIdentityCredential",
            json!({"resourceName": "Deployer", "resourceGroupName": "rg", "issuer": "https://token.actions.githubusercontent.com",
                   "subject": "repo:example/app:environment:prod", "audiences": ["api://AzureADTokenExchange"]}),
        );
        let classic = read(
            "azure:armmsi/federatedIdentityCredential:FederatedIdentityCredential",
            json!({"parentId": format!("{SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/deployer"),
                   "issuer": "https://token.actions.githubusercontent.com", "subject": "repo:example/app:environment:prod",
                   "audience": "api://AzureADTokenExchange", "name": "gh", "resourceGroupName": "rg"}),
        );
        assert_eq!(native, classic);
        assert!(
            matches!(native.as_slice(), [Fact::Credential(c)] if c.owner == "managedIdentity/deployer"),
            "{native:?}"
        );
    }

    #[test]
    fn public_blob_access_in_every_form_is_the_same_grant_to_everyone() {
        let native = read(
            "azure-native:storage:BlobContainer",
            json!({"accountName": "Assets", "resourceGroupName": "rg", "containerName": "public", "publicAccess": "Container"}),
        );
        let classic = read(
            "azure:storage/container:Container",
            json!({"storageAccountName": "assets", "name": "public", "containerAccessType": "container"}),
        );
        let classic_id = read(
            "azure:storage/container:Container",
            json!({"storageAccountId": format!("{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/assets"), "name": "public", "containerAccessType": "container"}),
        );
        for facts in [&native, &classic, &classic_id] {
            let b = binding(facts);
            assert_eq!(
                (b.scope.as_str(), b.role.as_str(), b.member.as_str()),
                ("storage/assets/public", PUBLIC_CONTAINER, ALL_USERS)
            );
        }
        assert!(
            read(
                "azure-native:storage:BlobContainer",
                json!({"accountName": "a", "publicAccess": "None"})
            )
            .is_empty()
        );
        let acct = read(
            "azure-native:storage:StorageAccount",
            json!({"accountName": "assets", "allowBlobPublicAccess": true}),
        );
        assert_eq!(binding(&acct).role, ALLOW_PUBLIC);
        let acct = read(
            "azure:storage/account:Account",
            json!({"name": "assets", "allowNestedItemsToBePublic": true}),
        );
        assert_eq!(binding(&acct).role, ALLOW_PUBLIC);
    }

    #[test]
    fn the_type_tokens_read_and_those_left_alone() {
        for t in [
            "azure-native:authorization:RoleAssignment",
            "azure-native:authorization/v20200401preview:RoleAssignment",
            "azure-native:authorization:RoleDefinition",
            "azure:authorization/assignment:Assignment",
            "azure:authorization/roleDefinition:RoleDefinition",
            "azuread:index/directoryRoleAssignment:DirectoryRoleAssignment",
            "azuread:index/appRoleAssignment:AppRoleAssignment",
            "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential",
            "azure-native:storage:BlobContainer",
        ] {
            assert!(reader(t).is_some(), "{t}");
        }
        for t in [
            "azure-native:authorization:PolicyAssignment",
            "azure-native:storage:Queue",
            "azure:authorization/userAssignedIdentity:UserAssignedIdentity",
            "azuread:index/group:Group",
        ] {
            assert!(reader(t).is_none(), "{t}");
        }
    }
}
