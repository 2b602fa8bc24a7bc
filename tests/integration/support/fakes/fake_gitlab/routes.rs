//! The fake GitLab's HTTP side: one fallback handler that logs the request, checks the
//! `PRIVATE-TOKEN`, injects faults, and dispatches on method and decoded path segments.

use std::collections::BTreeMap;
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::fake_http::{
    self, Page, Reply, lock, logged_path, now_ms_timestamp, now_secs, page, query_params, segments,
};
use super::{
    DEFAULT_BRANCH, EMOJI, FakeAward, FakeNote, FakeStatus, Fault, Member, Mr, NOTE_LIMIT,
    RequestRecord, STATUS_DESCRIPTION_LIMIT, Shared, State, User,
};

pub fn router(state: Shared) -> Router {
    Router::new().fallback(api).with_state(state)
}

/// GitLab's reply shapes.
trait GitLabReply {
    fn json(status: u16, value: Value) -> Self;
    fn bytes(body: Vec<u8>, content_type: &str) -> Self;
    fn message(status: u16, message: &str) -> Self;
    fn not_found(what: &str) -> Self;
}

impl GitLabReply for Reply {
    fn json(status: u16, value: Value) -> Self {
        Reply::new(status, "application/json", value.to_string().into_bytes())
    }
    fn bytes(body: Vec<u8>, content_type: &str) -> Self {
        Reply::new(200, content_type, body)
    }
    fn message(status: u16, message: &str) -> Self {
        Self::json(status, json!({ "message": message }))
    }
    fn not_found(what: &str) -> Self {
        Self::message(404, &format!("404 {what} Not Found"))
    }
}

async fn api(
    AxumState(shared): AxumState<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = lock(&shared);
    let path = uri.path().strip_prefix("/api/v4").map(str::to_owned);
    let reply = match &path {
        Some(path) => respond(&mut state, &method, path, uri.query(), &headers, &body),
        None => Reply::message(404, "404 Not Found"),
    };
    state.log.push(RequestRecord {
        method: method.to_string(),
        path: logged_path(path.as_deref(), &uri),
        status: reply.status,
        had_token: headers.contains_key("private-token"),
    });
    reply.into_response()
}

fn respond(
    state: &mut State,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    if headers.contains_key("authorization") {
        return Reply::message(
            400,
            "fake GitLab: expected PRIVATE-TOKEN, not Authorization",
        );
    }
    let me = headers
        .get("private-token")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| state.tokens.get(t).copied());
    let Some(me) = me else {
        return Reply::message(401, "401 Unauthorized");
    };
    let fault = state.faults.take(method.as_str(), path);
    let segments = segments(path);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let query = query_params(query, true);
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(e) => return Reply::message(400, &format!("400 Bad request - {e}")),
        }
    };
    match fault {
        Some(Fault::Error502AfterApplying) => {
            route(state, me, method, &segments, &query, &body);
            Reply::message(502, "502 Bad Gateway")
        }
        Some(fault) => fault_reply(fault),
        None => route(state, me, method, &segments, &query, &body),
    }
}

fn fault_reply(fault: Fault) -> Reply {
    let now = now_secs();
    match fault {
        Fault::Error500 => Reply::message(500, "500 Internal Server Error"),
        Fault::Error502 | Fault::Error502AfterApplying => Reply::message(502, "502 Bad Gateway"),
        Fault::RateLimited { retry_after_secs } => Reply::message(429, "Retry later")
            .header("retry-after", retry_after_secs.to_string())
            .header("ratelimit-limit", "2000")
            .header("ratelimit-remaining", "0")
            .header("ratelimit-reset", (now + retry_after_secs).to_string()),
        Fault::RateLimitedUntilReset { reset_in_secs } => Reply::message(429, "Retry later")
            .header("ratelimit-limit", "2000")
            .header("ratelimit-remaining", "0")
            .header("ratelimit-reset", (now + reset_in_secs).to_string()),
    }
}

fn route(
    state: &mut State,
    me: u64,
    method: &Method,
    segments: &[&str],
    query: &BTreeMap<String, String>,
    body: &Value,
) -> Reply {
    let get = method == Method::GET;
    match segments {
        ["user"] if get => state.user(me).map_or_else(
            || Reply::not_found("User"),
            |u| Reply::json(200, user_json(u)),
        ),
        ["users"] if get => {
            let wanted = query.get("username").cloned().unwrap_or_default();
            let found: Vec<Value> = state
                .users
                .iter()
                .filter(|u| u.username.eq_ignore_ascii_case(&wanted))
                .map(user_json)
                .collect();
            Reply::json(200, Value::Array(found))
        }
        ["projects", id] if get => match find_project(state, id) {
            Some(path) => {
                let project = &state.projects[&path];
                Reply::json(
                    200,
                    json!({ "id": project.id, "path_with_namespace": project.path, "name": project.path.rsplit('/').next() }),
                )
            }
            None => Reply::not_found("Project"),
        },
        ["projects", id, rest @ ..] => {
            let Some(project) = find_project(state, id) else {
                return Reply::not_found("Project");
            };
            project_route(state, me, method, &project, rest, query, body)
        }
        ["groups", id, "members", "all", user] if get => {
            group_member(state, id, user.parse().unwrap_or(0), true)
        }
        ["groups", id, "members", user] if get => {
            group_member(state, id, user.parse().unwrap_or(0), false)
        }
        // A group the token cannot see answers 404 like one that does not exist.
        ["groups", id] if get => match state
            .groups
            .iter()
            .find(|(path, g)| path.as_str() == *id || g.id.to_string() == *id)
        {
            Some((path, g)) => Reply::json(200, json!({ "id": g.id, "full_path": path })),
            None => Reply::not_found("Group"),
        },
        _ => Reply::message(404, "404 Not Found"),
    }
}

fn project_route(
    state: &mut State,
    me: u64,
    method: &Method,
    project: &str,
    rest: &[&str],
    query: &BTreeMap<String, String>,
    body: &Value,
) -> Reply {
    let get = method == Method::GET;
    match rest {
        ["merge_requests"] if get => list_mrs(state, project, query),
        ["merge_requests", iid, mr_rest @ ..] => {
            let Some(iid) = iid.parse::<u64>().ok() else {
                return Reply::message(404, "404 Not Found");
            };
            if !state.projects[project].mrs.contains_key(&iid) {
                return Reply::not_found("Merge Request");
            }
            mr_route(state, me, method, project, iid, mr_rest, query, body)
        }
        ["repository", "branches", branch] if get => {
            let found = &state.projects[project];
            match found.branch_tip(branch) {
                Some(sha) => Reply::json(200, branch_json(&state.url, &found.path, branch, &sha)),
                None => Reply::not_found("Branch"),
            }
        }
        // The merge requests whose head is the commit (GitLab lists those "associated").
        ["repository", "commits", sha, "merge_requests"] if get => {
            let found = &state.projects[project];
            let mrs: Vec<Value> = found
                .mrs
                .iter()
                .filter(|(_, mr)| mr.spec.head == *sha)
                .map(|(iid, mr)| json!({ "iid": iid, "state": mr.spec.state, "sha": mr.spec.head }))
                .collect();
            paginated(&mrs, query)
        }
        ["repository", "commits", sha, "statuses"] if get => {
            // GitLab: filter by `name`, order by id (`sort=desc`: newest first).
            // `pipeline_id` and `ref` filter too (GitLab 17.x); every status of the commit is
            // listed oldest first unless sorted.
            let name = query.get("name");
            let pipeline = query.get("pipeline_id").and_then(|p| p.parse::<u64>().ok());
            let git_ref = query.get("ref");
            let users: Vec<(String, u64)> = state
                .users
                .iter()
                .map(|u| (u.username.clone(), u.id))
                .collect();
            let mut list: Vec<Value> = state.projects[project]
                .statuses
                .get(*sha)
                .map(|all| {
                    all.iter()
                        .filter(|s| name.is_none_or(|n| *n == s.name))
                        .filter(|s| pipeline.is_none() || s.pipeline_id == pipeline)
                        .filter(|s| git_ref.is_none_or(|r| s.git_ref.as_ref() == Some(r)))
                        .map(|s| {
                            let author_id = users
                                .iter()
                                .find(|(u, _)| *u == s.author)
                                .map_or(0, |(_, id)| *id);
                            json!({
                                "id": s.id, "sha": sha, "status": s.state, "name": s.name,
                                "description": s.description, "target_url": s.target_url,
                                "pipeline_id": s.pipeline_id, "ref": s.git_ref,
                                "author": { "id": author_id, "username": s.author },
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            if query.get("sort").is_some_and(|v| v == "desc") {
                list.reverse();
            }
            paginated(&list, query)
        }
        // `GET .../repository/tree?ref=&path=`: a directory's entries with Git's modes
        // (`100644` file, `040000` directory, `120000` symbolic link).
        ["repository", "tree"] if get => {
            let sha = query.get("ref").cloned().unwrap_or_default();
            let dir = query.get("path").cloned().unwrap_or_default();
            let found = &state.projects[project];
            let Some(files) = found.files.get(&sha) else {
                return Reply::not_found("Tree");
            };
            let links = found.links.get(&sha);
            let prefix = if dir.is_empty() {
                String::new()
            } else {
                format!("{dir}/")
            };
            let mut entries: BTreeMap<String, &str> = BTreeMap::new();
            for path in files.keys() {
                let Some(rest) = path.strip_prefix(&prefix) else {
                    continue;
                };
                match rest.split_once('/') {
                    Some((sub, _)) => entries.insert(sub.to_owned(), "040000"),
                    None if links.is_some_and(|l| l.contains(path)) => {
                        entries.insert(rest.to_owned(), "120000")
                    }
                    None => entries.insert(rest.to_owned(), "100644"),
                };
            }
            let list: Vec<Value> = entries
                .into_iter()
                .map(|(name, mode)| {
                    let kind = if mode == "040000" { "tree" } else { "blob" };
                    json!({ "id": format!("{name}-id"), "name": name, "type": kind, "path": format!("{prefix}{name}"), "mode": mode })
                })
                .collect();
            paginated(&list, query)
        }
        ["repository", "files", file, "raw"] if get => {
            let sha = query.get("ref").cloned().unwrap_or_default();
            match state.projects[project]
                .files
                .get(&sha)
                .and_then(|files| files.get(*file))
            {
                Some(bytes) => Reply::bytes(bytes.clone(), "text/plain; charset=utf-8"),
                None => Reply::not_found("File"),
            }
        }
        ["repository", "archive.tar.gz"] if get => {
            let sha = query.get("sha").cloned().unwrap_or_default();
            let project = &state.projects[project];
            match project.files.get(&sha) {
                Some(files) => {
                    Reply::bytes(archive(&project.path, &sha, files), "application/gzip")
                }
                None => Reply::not_found("Commit"),
            }
        }
        ["pipelines"] if get => {
            let sha = query.get("sha");
            let mut pipelines: Vec<Value> = state.projects[project]
                .pipelines
                .iter()
                .filter(|(_, s, _)| sha.is_none_or(|want| want == s))
                .map(|(id, sha, git_ref)| json!({ "id": id, "sha": sha, "ref": git_ref, "status": "running" }))
                .collect();
            pipelines.reverse();
            paginated(&pipelines, query)
        }
        ["statuses", sha] if method == Method::POST => post_status(state, me, project, sha, body),
        ["members", "all", user] if get => {
            let id: u64 = user.parse().unwrap_or(0);
            let member = state.projects[project].members.get(&id).cloned();
            match (member, state.user(id)) {
                (Some(member), Some(user)) => Reply::json(200, member_json(user, &member)),
                _ => Reply::not_found(""),
            }
        }
        _ => Reply::message(404, "404 Not Found"),
    }
}

#[allow(clippy::too_many_arguments)]
fn mr_route(
    state: &mut State,
    me: u64,
    method: &Method,
    project: &str,
    iid: u64,
    rest: &[&str],
    query: &BTreeMap<String, String>,
    body: &Value,
) -> Reply {
    let get = method == Method::GET;
    match rest {
        [] if get => {
            let value = mr_json(state, project, iid);
            Reply::json(200, value)
        }
        [] if method == Method::PUT => {
            if let Some(ids) = body.get("reviewer_ids").and_then(Value::as_array) {
                let ids: Vec<u64> = ids.iter().filter_map(Value::as_u64).collect();
                if let Some(unknown) = ids.iter().find(|id| state.user(**id).is_none()) {
                    return Reply::message(
                        400,
                        &format!("400 Bad request - unknown user {unknown}"),
                    );
                }
                // GitLab Free keeps one reviewer: the first of the list, silently.
                let ids = if state.free_tier {
                    ids.into_iter().take(1).collect()
                } else {
                    ids
                };
                state.mr(project, iid).reviewers = ids;
            }
            let value = mr_json(state, project, iid);
            Reply::json(200, value)
        }
        ["diffs"] if get => {
            if state.legacy_diffs {
                return Reply::message(404, "404 Not Found");
            }
            let diffs = listed_diffs(state.mr(project, iid));
            paginated(&diffs, query)
        }
        ["changes"] if get => {
            let mr = state.mr(project, iid).clone();
            let mut value = mr_json(state, project, iid);
            value["changes"] = Value::Array(listed_diffs(&mr));
            value["overflow"] = json!(mr.overflow_at.is_some());
            Reply::json(200, value)
        }
        ["notes"] if get => {
            let mut notes: Vec<FakeNote> = state.mr(project, iid).notes.clone();
            if query.get("sort").map(String::as_str) != Some("asc") {
                notes.reverse();
            }
            let values: Vec<Value> = notes.iter().map(|n| note_json(state, n)).collect();
            paginated(&values, query)
        }
        ["notes"] if method == Method::POST => {
            let text = match note_text(body) {
                Ok(text) => text,
                Err(refusal) => return refusal,
            };
            let internal = body
                .get("internal")
                .or_else(|| body.get("confidential"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let author = state.username(me);
            let id = state.next_id();
            let note = FakeNote {
                id,
                author,
                body: text.to_owned(),
                system: false,
                internal,
                created_at: now_ms_timestamp(),
            };
            state.mr(project, iid).notes.push(note.clone());
            Reply::json(201, note_json(state, &note))
        }
        ["notes", note] if get => {
            let id: u64 = note.parse().unwrap_or(0);
            match state
                .mr(project, iid)
                .notes
                .iter()
                .find(|n| n.id == id)
                .cloned()
            {
                Some(found) => Reply::json(200, note_json(state, &found)),
                None => Reply::not_found("Note"),
            }
        }
        ["notes", note] if method == Method::PUT => {
            let text = match note_text(body) {
                Ok(text) => text,
                Err(refusal) => return refusal,
            };
            let me_name = state.username(me);
            let id: u64 = note.parse().unwrap_or(0);
            let Some(stored) = state.mr(project, iid).notes.iter_mut().find(|n| n.id == id) else {
                return Reply::not_found("Note");
            };
            if stored.author != me_name || stored.system {
                return Reply::message(403, "403 Forbidden");
            }
            stored.body = text.to_owned();
            let stored = stored.clone();
            Reply::json(200, note_json(state, &stored))
        }
        ["notes", note, "award_emoji"] => {
            let id: u64 = note.parse().unwrap_or(0);
            if !state.mr(project, iid).notes.iter().any(|n| n.id == id) {
                return Reply::not_found("Note");
            }
            if get {
                let awards: Vec<Value> = state
                    .mr(project, iid)
                    .awards
                    .clone()
                    .iter()
                    .filter(|a| a.note_id == id)
                    .map(|a| award_json(state, a))
                    .collect();
                return paginated(&awards, query);
            }
            if method != Method::POST {
                return Reply::message(405, "405 Method Not Allowed");
            }
            let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
            if !EMOJI.contains(&name) {
                return Reply::message(400, "400 Bad request - name is invalid");
            }
            let me_name = state.username(me);
            let taken = state
                .mr(project, iid)
                .awards
                .iter()
                .any(|a| a.note_id == id && a.name == name && a.user == me_name);
            if taken {
                return Reply::not_found("Award Emoji Name has already been taken");
            }
            let award = FakeAward {
                id: state.next_id(),
                note_id: id,
                name: name.to_owned(),
                user: me_name,
            };
            state.mr(project, iid).awards.push(award.clone());
            Reply::json(201, award_json(state, &award))
        }
        // `POST .../approve` as the token's user: `sha` must be the head (409), and approving
        // twice is refused (401), as GitLab does.
        ["approve"] if method == Method::POST => {
            let head = state.mr(project, iid).spec.head.clone();
            if body
                .get("sha")
                .and_then(Value::as_str)
                .is_some_and(|sha| sha != head)
            {
                return Reply::message(
                    409,
                    "409 Conflict: SHA does not match HEAD of source branch",
                );
            }
            let mr = state.mr(project, iid);
            if mr.approvals.iter().any(|(id, _)| *id == me) {
                return Reply::message(401, "401 Unauthorized");
            }
            mr.approvals.push((me, SystemTime::now()));
            Reply::json(201, json!({ "approved": true }))
        }
        ["unapprove"] if method == Method::POST => {
            let mr = state.mr(project, iid);
            let before = mr.approvals.len();
            mr.approvals.retain(|(id, _)| *id != me);
            if mr.approvals.len() == before {
                return Reply::message(404, "404 Not Found");
            }
            Reply::json(201, json!({ "approved": false }))
        }
        ["approvals"] if get => {
            let approvals = state.mr(project, iid).approvals.clone();
            let approved_by: Vec<Value> = approvals
                .iter()
                .filter_map(|(id, at)| {
                    let user = state.user(*id)?;
                    Some(json!({ "user": user_json(user), "approved_at": timestamp(*at) }))
                })
                .collect();
            Reply::json(
                200,
                json!({ "approved": !approved_by.is_empty(), "approvals_required": 0, "approvals_left": 0, "approved_by": approved_by }),
            )
        }
        _ => Reply::message(404, "404 Not Found"),
    }
}

/// A branch as `GET /projects/:id/repository/branches/:branch` shows it.
fn branch_json(url: &str, project: &str, branch: &str, sha: &str) -> Value {
    json!({
        "name": branch,
        "commit": {
            "id": sha,
            "short_id": sha.chars().take(8).collect::<String>(),
            "title": "change",
            "message": "change",
            "parent_ids": [],
            "author_name": "dev",
            "web_url": format!("{url}/{project}/-/commit/{sha}"),
        },
        "merged": false,
        "protected": false,
        "default": branch == DEFAULT_BRANCH,
        "developers_can_push": false,
        "developers_can_merge": false,
        "can_push": true,
        "web_url": format!("{url}/{project}/-/tree/{branch}"),
    })
}

/// `GET /projects/:id/merge_requests`: filtered by `state` (`opened`, `closed`, `locked`,
/// `merged`, `all`; all when absent), `target_branch` and `source_branch`, newest first
/// (`sort=asc`: oldest first), paginated. The list shape has no `diff_refs` or `changes_count`
/// and reading it does not advance a pending diff.
fn list_mrs(state: &State, project: &str, query: &BTreeMap<String, String>) -> Reply {
    let wanted = query.get("state").map_or("all", String::as_str);
    if !["opened", "closed", "locked", "merged", "all"].contains(&wanted) {
        return Reply::json(400, json!({ "error": "state does not have a valid value" }));
    }
    let same = |key: &str, value: &str| query.get(key).is_none_or(|want| want == value);
    let mut mrs: Vec<(&u64, &Mr)> = state.projects[project]
        .mrs
        .iter()
        .filter(|(_, mr)| wanted == "all" || mr.spec.state == wanted)
        .filter(|(_, mr)| same("target_branch", &mr.spec.target_branch))
        .filter(|(_, mr)| same("source_branch", &mr.spec.source_branch))
        .collect();
    mrs.sort_by_key(|(_, mr)| std::cmp::Reverse(mr.id));
    if query.get("sort").is_some_and(|s| s == "asc") {
        mrs.reverse();
    }
    let items: Vec<Value> = mrs
        .into_iter()
        .map(|(iid, mr)| mr_summary_json(state, project, *iid, mr))
        .collect();
    paginated(&items, query)
}

/// The `body` of a note to post or edit, or GitLab's refusal.
fn note_text(body: &Value) -> Result<&str, Reply> {
    let Some(text) = body.get("body").and_then(Value::as_str) else {
        return Err(Reply::message(400, "400 Bad request - body is missing"));
    };
    if text.is_empty() {
        return Err(Reply::json(
            400,
            json!({ "message": { "note": ["can't be blank"] } }),
        ));
    }
    if text.chars().count() > NOTE_LIMIT {
        return Err(Reply::json(
            400,
            json!({ "message": { "note": [format!("is too long (maximum is {NOTE_LIMIT} characters)")] } }),
        ));
    }
    Ok(text)
}

pub(super) fn post_status(
    state: &mut State,
    me: u64,
    project: &str,
    sha: &str,
    body: &Value,
) -> Reply {
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    let Some(new_state) = text("state") else {
        return Reply::message(400, "400 Bad request - state is missing");
    };
    if ![
        "pending", "running", "success", "failed", "canceled", "skipped",
    ]
    .contains(&new_state.as_str())
    {
        return Reply::message(400, "400 Bad request - state does not have a valid value");
    }
    let description = text("description").unwrap_or_default();
    if description.chars().count() > STATUS_DESCRIPTION_LIMIT {
        return Reply::json(
            400,
            json!({ "message": { "description": ["is too long (maximum is 255 characters)"] } }),
        );
    }
    let name = text("name")
        .or_else(|| text("context"))
        .unwrap_or_else(|| "default".to_owned());
    let pipeline_id = body.get("pipeline_id").and_then(Value::as_u64);
    let asked_ref = text("ref");
    // GitLab's Ci::CreateCommitStatusService: a `pipeline_id` must name a pipeline of this
    // project, of this commit and (when given) of this ref; without one the status goes on the
    // ref given, else on the first branch that contains the commit, else nowhere.
    let git_ref = match pipeline_id {
        Some(id) => {
            let found = state.projects[project]
                .pipelines
                .iter()
                .find(|(p, s, r)| {
                    *p == id && s == sha && asked_ref.as_ref().is_none_or(|want| want == r)
                })
                .map(|(_, _, r)| r.clone());
            match found {
                Some(r) => Some(r),
                None => return Reply::not_found("Pipeline for pipeline_id, sha and ref"),
            }
        }
        None => asked_ref
            .clone()
            .or_else(|| branch_containing(state, project, sha)),
    };
    let Some(git_ref) = git_ref else {
        return Reply::not_found("References for commit");
    };
    if let Some(allowed) = state.projects[project].protected.get(&git_ref)
        && !allowed.contains(&me)
    {
        return Reply::message(403, "403 Forbidden");
    }
    // A status lives in one pipeline: a new pipeline of the commit starts its own.
    let previous = state.projects[project]
        .statuses
        .get(sha)
        .and_then(|list| {
            list.iter()
                .rev()
                .find(|s| s.name == name && s.pipeline_id == pipeline_id)
        })
        .map(|s| s.state.clone());
    // GitLab's state machine: `pending` again, or any event from the state it leads to.
    if previous.as_deref() == Some(new_state.as_str()) {
        let event = match new_state.as_str() {
            "pending" => "enqueue",
            "running" => "run",
            "success" => "success",
            "failed" => "drop",
            _ => "cancel",
        };
        return Reply::message(
            400,
            &format!(
                "Cannot transition status via :{event} from :{new_state} (Reason(s): Status cannot transition via \"{event}\")"
            ),
        );
    }
    let author = state.username(me);
    let id = state.next_id();
    let status = FakeStatus {
        id,
        state: new_state,
        name: name.clone(),
        description,
        target_url: text("target_url"),
        pipeline_id,
        git_ref: Some(git_ref),
        author,
    };
    state
        .project(project)
        .statuses
        .entry(sha.to_owned())
        .or_default()
        .push(status.clone());
    Reply::json(
        201,
        json!({ "id": id, "sha": sha, "status": status.state, "name": name, "description": status.description, "target_url": status.target_url }),
    )
}

/// The first branch of the project whose tip is `sha` (set explicitly, or an opened merge
/// request's source branch in this project): where GitLab puts a status given no ref.
fn branch_containing(state: &State, project: &str, sha: &str) -> Option<String> {
    let found = &state.projects[project];
    let explicit = found
        .branches
        .iter()
        .find(|(_, tip)| tip.as_deref() == Some(sha))
        .map(|(name, _)| name.clone());
    explicit.or_else(|| {
        found
            .mrs
            .values()
            .find(|mr| mr.spec.source_project.is_none() && mr.spec.head == sha)
            .map(|mr| mr.spec.source_branch.clone())
    })
}

/// `GET /groups/:id/members/:user_id` (direct members only) or, `inherited`,
/// `.../members/all/:user_id`.
fn group_member(state: &State, id: &str, user: u64, inherited: bool) -> Reply {
    let Some(path) = state
        .groups
        .iter()
        .find(|(path, g)| path.as_str() == id || g.id.to_string() == id)
        .map(|(path, _)| path.clone())
    else {
        return Reply::not_found("Group");
    };
    // `members/all` includes memberships inherited from ancestor groups (the highest wins).
    let mut best: Option<&Member> = None;
    let mut ancestor = Some(path.as_str());
    while let Some(group) = ancestor {
        if let Some(member) = state.groups.get(group).and_then(|g| g.members.get(&user))
            && best.is_none_or(|b| member.access_level > b.access_level)
        {
            best = Some(member);
        }
        ancestor = if inherited {
            group.rsplit_once('/').map(|(parent, _)| parent)
        } else {
            None
        };
    }
    match (best, state.user(user)) {
        (Some(member), Some(user)) => Reply::json(200, member_json(user, member)),
        _ => Reply::not_found(""),
    }
}

fn find_project(state: &State, id: &str) -> Option<String> {
    if state.projects.contains_key(id) {
        return Some(id.to_owned());
    }
    state
        .projects
        .values()
        .find(|p| p.id.to_string() == id)
        .map(|p| p.path.clone())
}

fn user_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "name": user.username,
        "state": user.state,
        "bot": user.bot,
        "avatar_url": null,
        "web_url": format!("https://gitlab.example/{}", user.username),
    })
}

fn member_json(user: &User, member: &Member) -> Value {
    let mut value = user_json(user);
    value["access_level"] = json!(member.access_level);
    value["membership_state"] = json!(member.membership_state);
    value["expires_at"] = Value::Null;
    value
}

fn note_json(state: &State, note: &FakeNote) -> Value {
    let author = state
        .users
        .iter()
        .find(|u| u.username == note.author)
        .map(user_json)
        .unwrap_or(Value::Null);
    json!({
        "id": note.id,
        "type": null,
        "body": note.body,
        "author": author,
        "system": note.system,
        "internal": note.internal,
        "confidential": note.internal,
        "created_at": note.created_at,
        "updated_at": note.created_at,
        "noteable_type": "MergeRequest",
        "resolvable": false,
    })
}

fn award_json(state: &State, award: &FakeAward) -> Value {
    let user = state
        .users
        .iter()
        .find(|u| u.username == award.user)
        .map(user_json)
        .unwrap_or(Value::Null);
    json!({ "id": award.id, "name": award.name, "user": user, "awardable_id": award.note_id, "awardable_type": "Note" })
}

fn listed_diffs(mr: &Mr) -> Vec<Value> {
    let limit = mr.overflow_at.unwrap_or(usize::MAX);
    mr.diffs
        .iter()
        .take(limit)
        .map(|d| {
            json!({
                "old_path": d.old_path,
                "new_path": d.new_path,
                "new_file": false,
                "renamed_file": d.old_path != d.new_path,
                "deleted_file": false,
                "diff": "@@ -1 +1 @@\n-a\n+b\n",
                "too_large": false,
                "collapsed": false,
            })
        })
        .collect()
}

/// A merge request as a single read shows it; each read counts towards a pending diff.
fn mr_json(state: &mut State, project: &str, iid: u64) -> Value {
    let mr = {
        let stored = state.mr(project, iid);
        let shown = stored.clone();
        if stored.diff_pending_reads > 0 {
            stored.diff_pending_reads -= 1;
        }
        shown
    };
    let pending = mr.diff_pending || mr.diff_pending_reads > 0;
    let changes_count = if pending {
        Value::Null
    } else {
        match mr.overflow_at {
            Some(listed) => json!(format!("{listed}+")),
            None => json!(mr.diffs.len().to_string()),
        }
    };
    let diff_refs = if pending {
        Value::Null
    } else {
        json!({
            "base_sha": mr.spec.merge_base.clone().unwrap_or_else(|| mr.spec.base.clone()),
            "head_sha": mr.spec.head,
            "start_sha": mr.spec.base,
        })
    };
    // The head pipeline (GitLab's `diff_head_pipeline`): the newest of the merge request's
    // pipelines for its head: in this project, on the source branch (not a fork's: its branch
    // is not a ref here) or the merge request's own head ref, or a merged-results / merge-train
    // pipeline made from the head (whose `sha` is the merge commit); for a fork, also the
    // fork's own pipelines on its branch (CI in the fork). A tag's or another branch's pipeline
    // at the same commit is not the merge request's.
    let mr_ref = format!("refs/merge-requests/{iid}/head");
    let merge_refs = [
        format!("refs/merge-requests/{iid}/merge"),
        format!("refs/merge-requests/{iid}/train"),
    ];
    let target = &state.projects[project];
    let fork = mr
        .spec
        .source_project
        .as_ref()
        .and_then(|f| state.projects.get(f));
    let mut candidates: Vec<(u64, u64, String, String)> = target
        .pipelines
        .iter()
        .filter(|(id, sha, git_ref)| {
            (*sha == mr.spec.head
                && ((fork.is_none() && *git_ref == mr.spec.source_branch) || *git_ref == mr_ref))
                || (merge_refs.contains(git_ref)
                    && target.merge_sources.get(id) == Some(&mr.spec.head))
        })
        .map(|(id, sha, r)| (*id, target.id, sha.clone(), r.clone()))
        .collect();
    if let Some(fork) = fork {
        candidates.extend(
            fork.pipelines
                .iter()
                .filter(|(_, sha, r)| *sha == mr.spec.head && *r == mr.spec.source_branch)
                .map(|(id, sha, r)| (*id, fork.id, sha.clone(), r.clone())),
        );
    }
    let head_pipeline = candidates
        .into_iter()
        .max_by_key(|(id, ..)| *id)
        .map_or(Value::Null, |(id, project_id, sha, git_ref)| {
            json!({ "id": id, "iid": id, "project_id": project_id, "sha": sha, "ref": git_ref, "status": "running", "source": "push" })
        });
    let mut value = mr_summary_json(state, project, iid, &mr);
    value["diff_refs"] = diff_refs;
    value["changes_count"] = changes_count;
    value["head_pipeline"] = head_pipeline;
    value
}

/// The fields a merge request shows in lists as well as alone.
fn mr_summary_json(state: &State, project: &str, iid: u64, mr: &Mr) -> Value {
    let target_id = state.projects[project].id;
    let source_id = match &mr.spec.source_project {
        Some(fork) => state.projects.get(fork).map_or(999_999, |p| p.id),
        None => target_id,
    };
    let author = state
        .users
        .iter()
        .find(|u| u.username == mr.spec.author)
        .map(user_json)
        .unwrap_or(Value::Null);
    let reviewers: Vec<Value> = mr
        .reviewers
        .iter()
        .filter_map(|id| state.user(*id).map(user_json))
        .collect();
    json!({
        "id": mr.id,
        "iid": iid,
        "project_id": target_id,
        "title": if mr.spec.draft { "Draft: change" } else { "change" },
        "state": mr.spec.state,
        "draft": mr.spec.draft,
        "work_in_progress": mr.spec.draft,
        "sha": mr.spec.head,
        "source_branch": mr.spec.source_branch,
        "target_branch": mr.spec.target_branch,
        "source_project_id": source_id,
        "target_project_id": target_id,
        "author": author,
        "reviewers": reviewers,
        "detailed_merge_status": "mergeable",
        "web_url": format!("{}/{project}/-/merge_requests/{iid}", state.url),
    })
}

/// One page per GitLab's offset rules (`per_page` default 20, max 100; `page` from 1) with its
/// `x-*` headers; `x-next-page` is empty on the last page.
fn paginated(items: &[Value], query: &BTreeMap<String, String>) -> Reply {
    let Page {
        items: slice,
        page,
        per_page,
        last: total_pages,
    } = page(items, query, 20);
    let next = if page < total_pages {
        (page + 1).to_string()
    } else {
        String::new()
    };
    let prev = if page > 1 {
        (page - 1).to_string()
    } else {
        String::new()
    };
    Reply::json(200, Value::Array(slice))
        .header("x-page", page.to_string())
        .header("x-per-page", per_page.to_string())
        .header("x-total", items.len().to_string())
        .header("x-total-pages", total_pages.to_string())
        .header("x-next-page", next)
        .header("x-prev-page", prev)
}

/// A gzipped tarball with GitLab's top directory `{name}-{sha}-{sha}/`.
fn archive(project: &str, sha: &str, files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let name = project.rsplit('/').next().unwrap_or(project);
    super::fake_http::tar_gz(&format!("{name}-{sha}-{sha}"), files)
}

/// `2016-07-11T22:14:10.000Z`.
fn timestamp(time: SystemTime) -> String {
    fake_http::timestamp(time, ".000Z")
}
