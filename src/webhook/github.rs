//! Decoding a verified GitHub delivery (event name + raw JSON) into a typed `Event`. Our own
//! minimal `#[serde(default)]` structs, never closed enums: an action or event GitHub adds
//! tomorrow decodes to `Event::Ignored`. Pure: no I/O, no logging, no signature checks (the
//! caller verified the bytes first).

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::event::{Event, ForgeKind, PrAction, PrNumber, PrRef, RepoName, Sha};

/// Why a verified body is not a delivery we can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("body is not a JSON object: {0}")]
    NotJson(String),
    #[error("{event}.{action}: missing or invalid `{field}`")]
    Field {
        event: String,
        action: String,
        field: &'static str,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AnyPayload {
    action: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PullRequestPayload {
    action: Option<String>,
    number: Option<u64>,
    pull_request: Option<PullRequest>,
    repository: Option<Repository>,
    installation: Option<Installation>,
    changes: Option<Changes>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PullRequest {
    number: Option<u64>,
    head: Option<Head>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Head {
    sha: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Repository {
    full_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Installation {
    id: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Changes {
    base: Option<IgnoredAny>,
}

/// Decodes the body of a delivery whose `X-GitHub-Event` is `event_name`.
pub fn decode(event_name: &str, body: &[u8]) -> Result<Event, DecodeError> {
    match event_name {
        "ping" => {
            parse::<AnyPayload>(body)?;
            Ok(Event::Ping)
        }
        "pull_request" => pull_request(parse(body)?),
        other => {
            let payload: AnyPayload = parse(body)?;
            Ok(Event::Ignored {
                event: other.to_owned(),
                action: payload
                    .action
                    .as_ref()
                    .and_then(|a| a.as_str())
                    .map(str::to_owned),
            })
        }
    }
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, DecodeError> {
    serde_json::from_slice(body).map_err(|e| DecodeError::NotJson(e.to_string()))
}

fn pull_request(p: PullRequestPayload) -> Result<Event, DecodeError> {
    let action_name = p.action.clone().unwrap_or_default();
    let action = match action_name.as_str() {
        "opened" => PrAction::Opened,
        "synchronize" => PrAction::Synchronize,
        "reopened" => PrAction::Reopened,
        "ready_for_review" => PrAction::ReadyForReview,
        "edited" if p.changes.as_ref().is_some_and(|c| c.base.is_some()) => PrAction::BaseChanged,
        "closed" => PrAction::Closed,
        _ => {
            return Ok(Event::Ignored {
                event: "pull_request".to_owned(),
                action: p.action,
            });
        }
    };
    let missing = |field| DecodeError::Field {
        event: "pull_request".to_owned(),
        action: action_name.clone(),
        field,
    };
    let pr = p.pull_request.unwrap_or_default();
    let number = p
        .number
        .or(pr.number)
        .filter(|n| *n > 0)
        .ok_or_else(|| missing("number"))?;
    let repo = p
        .repository
        .and_then(|r| r.full_name)
        .filter(|name| is_full_name(name))
        .ok_or_else(|| missing("repository.full_name"))?;
    let head = pr
        .head
        .and_then(|h| h.sha)
        .filter(|sha| is_sha(sha))
        .ok_or_else(|| missing("pull_request.head.sha"))?;
    Ok(Event::PullRequest {
        pr: PrRef {
            forge: ForgeKind::GitHub,
            installation: p.installation.and_then(|i| i.id),
            repo: RepoName(repo),
            number: PrNumber(number),
        },
        action,
        head: Sha(head.to_ascii_lowercase()),
    })
}

/// `owner/name`, nothing that could step out of an API path.
fn is_full_name(name: &str) -> bool {
    let mut parts = name.split('/');
    let ok = |s: Option<&str>| {
        s.is_some_and(|s| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// A full SHA-1 or SHA-256 commit id.
fn is_sha(sha: &str) -> bool {
    matches!(sha.len(), 40 | 64) && sha.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests;
