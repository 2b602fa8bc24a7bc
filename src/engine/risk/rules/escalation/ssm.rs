//! The SSM command paths (AWS-PE-028 `ssm:SendCommand`, AWS-PE-029 `ssm:StartSession`). Both
//! actions name two resources in one request, the target (an EC2 instance, a managed instance,
//! an ECS task) and an SSM document, and IAM authorizes each: the call is allowed only when some
//! statement allows the target and some statement allows the document (Service Authorization
//! Reference, "Actions, resources, and condition keys for AWS Systems Manager": `SendCommand`
//! and `StartSession` list `document` and `instance` resource types). Running commands of one's
//! own choosing also needs a document that runs them: a grant pinned to documents that only do a
//! fixed job (`AWSEC2-CreateVssSnapshot` in AWSBackupOperatorAccess) is not this path.
//!
//! `ssm:StartSession` without a document uses `SSM-SessionManagerRunShell`, a full shell, "even
//! if the user's IAM policy doesn't grant explicit permission to access" it, unless every
//! statement allowing `ssm:StartSession` requires `ssm:SessionDocumentAccessCheck` (AWS Systems
//! Manager User Guide, "Enforce a session document permission check for the AWS CLI").

use std::sync::OnceLock;

use crate::engine::iam::actions::{ActionId, db};
use crate::engine::iam::policy::{Conditions, NameSpec};
use crate::engine::risk::conditions::{self, like_match};
use crate::engine::risk::effective::{Access, Reach, View};

/// Documents that run commands or code the caller chooses, or open a shell or the instance's
/// network to the caller, by name. From the AWS-owned documents of the AWS Systems Manager User
/// Guide ("AWS Systems Manager documents", "Session document schema", "Running scripts from
/// GitHub", "Running scripts from Amazon S3") and each document's description
/// (`aws ssm describe-document --name <name>`):
/// * `AWS-RunShellScript`, `AWS-RunPowerShellScript`: the `commands` parameter;
/// * `AWS-RunRemoteScript`: a script downloaded from GitHub or S3; `AWS-RunDocument`: any
///   document from S3, GitHub or the account;
/// * `AWS-RunAnsiblePlaybook`, `AWS-ApplyAnsiblePlaybooks`, `AWS-RunSaltState`,
///   `AWS-ApplyChefRecipes`, `AWS-ApplyDSCMofs`: configuration code of the caller's choosing,
///   which runs commands;
/// * `AWS-InstallApplication` (an MSI from any URL), `AWS-InstallPowerShellModule` (a module and
///   a `commands` parameter);
/// * `SSM-SessionManagerRunShell`: the default session, an interactive shell;
///   `AWS-StartInteractiveCommand`, `AWS-StartNonInteractiveCommand`: a command parameter;
/// * `AWS-StartPortForwardingSessionToRemoteHost`, `AWS-StartPortForwardingSessionToSocket`:
///   any host the instance reaches (its metadata service, hence its role's credentials) or any
///   local socket (a container runtime's).
///
/// Not here: `AWS-StartSSHSession` (SSH needs credentials for the instance, AWS-PE-023) and
/// `AWS-StartPortForwardingSession` (a local port only), and the fixed-job documents.
pub const SHELL_DOCUMENTS: [&str; 16] = [
    "AWS-RunShellScript",
    "AWS-RunPowerShellScript",
    "AWS-RunRemoteScript",
    "AWS-RunDocument",
    "AWS-RunAnsiblePlaybook",
    "AWS-ApplyAnsiblePlaybooks",
    "AWS-RunSaltState",
    "AWS-ApplyChefRecipes",
    "AWS-ApplyDSCMofs",
    "AWS-InstallApplication",
    "AWS-InstallPowerShellModule",
    "SSM-SessionManagerRunShell",
    "AWS-StartInteractiveCommand",
    "AWS-StartNonInteractiveCommand",
    "AWS-StartPortForwardingSessionToRemoteHost",
    "AWS-StartPortForwardingSessionToSocket",
];

/// Document-name prefixes only AWS may use ("You can't use the following strings as document
/// name prefixes. These are reserved by AWS": `aws`, `amazon`, `amzn`, AWS Systems Manager API
/// Reference, `CreateDocument`, `Name`). A name without one may be a document of the account,
/// whose content iamgate cannot see: it counts as running commands.
const RESERVED_PREFIXES: [&str; 3] = ["aws", "amazon", "amzn"];

/// The two command actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Command {
    Send,
    Session,
}

impl Command {
    /// The command action `id` is, if any.
    pub(super) fn of(id: ActionId) -> Option<Command> {
        let (send, session) = ids();
        if Some(id) == send {
            Some(Command::Send)
        } else if Some(id) == session {
            Some(Command::Session)
        } else {
            None
        }
    }

    fn id(self) -> Option<ActionId> {
        let (send, session) = ids();
        match self {
            Command::Send => send,
            Command::Session => session,
        }
    }
}

fn ids() -> (Option<ActionId>, Option<ActionId>) {
    static IDS: OnceLock<(Option<ActionId>, Option<ActionId>)> = OnceLock::new();
    *IDS.get_or_init(|| {
        (
            db().lookup("ssm:SendCommand"),
            db().lookup("ssm:StartSession"),
        )
    })
}

/// The broadest access with which the subject runs commands of its choosing through
/// `command`: a grant on a target, and (for `SendCommand`, or a session whose statements
/// require `ssm:SessionDocumentAccessCheck`) a grant on a document that runs commands. The
/// target's grant sets the reach; the document's only adds its condition, since a document
/// pinned by name to a shell document narrows nothing.
pub(super) fn access(v: &View<'_>, command: Command) -> Option<Access> {
    let id = command.id()?;
    let mut direct: Option<Access> = None;
    let mut checked: Option<Access> = None;
    let mut document: Option<Access> = None;
    for g in v.effective.grants.iter().filter(|g| g.actions.contains(id)) {
        let statement = &v.sources[g.source].policy.statements[g.statement];
        let (target, shell) = sides(statement.resource.as_ref(), id);
        if let Some(reach) = target {
            let needs_document =
                command == Command::Send || requires_document_check(&statement.condition);
            broaden(
                if needs_document {
                    &mut checked
                } else {
                    &mut direct
                },
                Access::of(reach, g.strength),
            );
        }
        if shell {
            broaden(&mut document, Access::of(Reach::Star, g.strength));
        }
    }
    let through_document = match (checked, document) {
        (Some(t), Some(d)) => Some(if t.rank() >= d.rank() { t } else { d }),
        _ => None,
    };
    match (direct, through_document) {
        (Some(a), Some(b)) => Some(if a.rank() <= b.rank() { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn broaden(slot: &mut Option<Access>, access: Access) {
    if slot.is_none_or(|s| access.rank() < s.rank()) {
        *slot = Some(access);
    }
}

/// What a statement's Resource reaches of the command's targets (None: no target), and
/// whether it can name a document that runs commands. `*`, no Resource and NotResource reach
/// every target and document. The reach is the targets' alone: `instance/*` in every region
/// covers every instance, whatever the document values (a shell document pinned by name narrows
/// nothing). A value unknown until apply may be any target or document, and covers none.
fn sides(resource: Option<&NameSpec>, id: ActionId) -> (Option<Reach>, bool) {
    let names = match resource {
        None => return (Some(Reach::Star), true),
        Some(NameSpec::Not(_)) => return (Some(Reach::NotResource), true),
        Some(NameSpec::Only(names)) if names.contains("*") => return (Some(Reach::Star), true),
        Some(NameSpec::Only(names)) => names,
    };
    let db = db();
    let (mut target, mut shell): (Option<Reach>, bool) = (None, false);
    for name in names {
        let reach = if conditions::is_unknown(name) {
            shell = true;
            Some(Reach::Pinned)
        } else if db.resource_matches(id, name) {
            let pattern = conditions::variables_as_wildcards(name);
            shell |= names_shell_document(&pattern);
            target_reach(&pattern)
        } else {
            None
        };
        if let Some(r) = reach
            && target.is_none_or(|t| r < t)
        {
            target = Some(r);
        }
    }
    (target, shell)
}

/// The service and resource part of an ARN pattern (`None` for a pattern with fewer fields).
fn split_arn(pattern: &str) -> Option<(&str, &str)> {
    let fields: Vec<&str> = pattern.splitn(6, ':').collect();
    match fields.as_slice() {
        [_, _, service, _, _, rest] => Some((service, rest)),
        _ => None,
    }
}

/// What the pattern reaches of EC2 instances, managed instances and ECS tasks: every one of a
/// kind (`arn:aws:ec2:*:*:instance/*`), some (another wildcard), one, or none.
fn target_reach(pattern: &str) -> Option<Reach> {
    let fields: Vec<&str> = pattern.splitn(6, ':').collect();
    let [_, _, service, region, _, rest] = fields.as_slice() else {
        return conditions::has_wildcard(pattern).then_some(Reach::Wildcard);
    };
    let kinds = [
        ("ec2", "instance/"),
        ("ssm", "managed-instance/"),
        ("ecs", "task/"),
    ];
    let kind = kinds
        .iter()
        .find(|(svc, kind)| like_match(service, svc, true) && may_start_with(rest, kind))?;
    Some(
        if *region == "*" && (*rest == "*" || *rest == format!("{}*", kind.1)) {
            Reach::Covering
        } else if conditions::has_wildcard(rest) {
            Reach::Wildcard
        } else {
            Reach::Pinned
        },
    )
}

/// Whether a `StringLike` pattern can match a text that starts with `prefix`.
fn may_start_with(pattern: &str, prefix: &str) -> bool {
    let mut chars = pattern.chars();
    for wanted in prefix.chars() {
        match chars.next() {
            Some('*') => return true,
            Some(c) if c == '?' || c == wanted => {}
            _ => return false,
        }
    }
    true
}

/// Whether the pattern can name a document that runs commands: one of `SHELL_DOCUMENTS`, or a
/// name outside AWS's reserved prefixes (a document of the account).
fn names_shell_document(pattern: &str) -> bool {
    let Some((service, rest)) = split_arn(pattern) else {
        return conditions::has_wildcard(pattern);
    };
    if !like_match(service, "ssm", true) {
        return false;
    }
    match rest.strip_prefix("document/") {
        Some(name) => runs_commands(name),
        None => like_match(rest, "document/AWS-RunShellScript", false),
    }
}

/// Whether a document-name pattern can name a document that runs commands.
pub(super) fn runs_commands(name: &str) -> bool {
    if SHELL_DOCUMENTS.iter().any(|d| like_match(name, d, false)) {
        return true;
    }
    let literal = name.split(['*', '?']).next().unwrap_or_default();
    let literal = literal.to_ascii_lowercase();
    !RESERVED_PREFIXES.iter().any(|p| literal.starts_with(p))
}

/// True when the statement requires `ssm:SessionDocumentAccessCheck` to be true.
fn requires_document_check(condition: &Conditions) -> bool {
    condition.iter().any(|(op, keys)| {
        conditions::base_operator(op) == "bool"
            && keys.iter().any(|(k, values)| {
                k == "ssm:sessiondocumentaccesscheck"
                    && !values.is_empty()
                    && values.iter().all(|v| v.eq_ignore_ascii_case("true"))
            })
    })
}
