//! The fake GitHub's HTTP side: one fallback handler per listener that logs the request, checks
//! the API version and credentials, injects faults, and dispatches on method and path segments.

use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use iamgate::audit::Timestamp;
use serde_json::{Value, json};

use super::codec::{paginate, query_params, tarball, timestamp, verify_app_jwt};
use super::fake_http::{
    Reply, lock, logged_path, now_ms_timestamp, now_secs, percent_decode, segments,
};
use super::{
    APP_ID, APP_SLUG, FakeComment, FakeReaction, FakeReview, FakeStatus, Fault, HeadRepo, Host,
    INSTALLATION_ID, PUBLIC_KEY_PEM, Pull, REACTION_CONTENTS, RequestRecord, Shared, State,
    StoredComment, Token, user_id,
};

pub fn api_router(state: Shared) -> Router {
    Router::new().fallback(api).with_state(state)
}

pub fn codeload_router(state: Shared) -> Router {
    Router::new().fallback(codeload).with_state(state)
}

/// GitHub's reply shapes.
trait GitHubReply {
    fn json(status: u16, value: Value) -> Self;
    fn message(status: u16, message: &str) -> Self;
    fn invalid(resource: &str, field: &str, message: &str) -> Self;
    fn not_found() -> Self;
}

impl GitHubReply for Reply {
    fn json(status: u16, value: Value) -> Self {
        Reply::new(
            status,
            "application/json; charset=utf-8",
            value.to_string().into_bytes(),
        )
    }
    fn message(status: u16, message: &str) -> Self {
        Self::json(
            status,
            json!({ "message": message, "documentation_url": "https://docs.github.com/rest" }),
        )
    }
    fn invalid(resource: &str, field: &str, message: &str) -> Self {
        Self::json(
            422,
            json!({ "message": "Validation Failed", "errors": [{ "resource": resource, "code": "custom", "field": field, "message": message }] }),
        )
    }
    fn not_found() -> Self {
        Self::message(404, "Not Found")
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
    let path = uri
        .path()
        .strip_prefix(state.prefix.as_str())
        .filter(|p| p.starts_with('/'))
        .map(str::to_owned);
    let reply = match &path {
        Some(path) => respond(&mut state, &method, path, uri.query(), &headers, &body),
        None => Reply::not_found(),
    };
    state.log.push(RequestRecord {
        host: Host::Api,
        method: method.to_string(),
        path: logged_path(path.as_deref(), &uri),
        status: reply.status,
        had_authorization: headers.contains_key(header::AUTHORIZATION),
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
    let versions: Vec<_> = headers.get_all("x-github-api-version").iter().collect();
    if versions.len() != 1 || versions[0] != "2022-11-28" {
        return Reply::message(
            400,
            &format!(
                "fake GitHub wants exactly one X-GitHub-Api-Version: 2022-11-28, got {versions:?}"
            ),
        );
    }
    let segments = segments(path);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // App routes, and `GET /repos/{owner}/{repo}/installation`: the App's own JWT.
    let as_app = segments.first() == Some(&"app")
        || matches!(segments.as_slice(), ["repos", _, _, "installation"]);
    if as_app {
        if let Err(message) = bearer
            .ok_or_else(|| "no JWT".to_owned())
            .and_then(|jwt| verify_app_jwt(jwt, PUBLIC_KEY_PEM, APP_ID))
        {
            return Reply::message(
                401,
                &format!("A JSON web token could not be decoded: {message}"),
            );
        }
    } else {
        let valid = bearer
            .and_then(|t| state.tokens.get(t))
            .is_some_and(|t| t.expires_at > SystemTime::now());
        if !valid {
            return Reply::message(401, "Bad credentials");
        }
    }
    let reply = match state.faults.take(method.as_str(), path) {
        Some(Fault::Error502AfterApplying) => {
            route(state, method, &segments, path, query, headers, body);
            Reply::message(502, "Bad Gateway")
        }
        Some(fault) => fault_reply(fault),
        None => route(state, method, &segments, path, query, headers, body),
    };
    if method == Method::GET && reply.status == 200 && state.endless.contains(path) {
        return endless(reply, &format!("{}{path}", state.api_url), query);
    }
    reply
}

/// `reply` as a page of a listing that never ends: its `Link` names the next page (the
/// request's other parameters kept), whatever items it has.
fn endless(mut reply: Reply, url: &str, query: Option<&str>) -> Reply {
    let mut params = query_params(query);
    let page = params
        .remove("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let mut kept: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    kept.push(format!("page={}", page + 1));
    reply.headers.retain(|(name, _)| *name != "link");
    reply.header("link", format!("<{url}?{}>; rel=\"next\"", kept.join("&")))
}

fn fault_reply(fault: Fault) -> Reply {
    match fault {
        Fault::Error500 => Reply::message(500, "Server Error"),
        Fault::Error502 | Fault::Error502AfterApplying => Reply::message(502, "Bad Gateway"),
        Fault::SecondaryRateLimit => Reply::message(
            403,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        )
        .header("retry-after", "1"),
        Fault::PrimaryRateLimit { reset_in_secs } => Reply::message(403, "API rate limit exceeded for installation ID 1.")
            .header("x-ratelimit-limit", "5000")
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-used", "5000")
            .header("x-ratelimit-reset", (now_secs() + reset_in_secs).to_string()),
    }
}

fn route(
    state: &mut State,
    method: &Method,
    segments: &[&str],
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    let json_body = || serde_json::from_slice::<Value>(body).ok();
    let number = |s: &str| s.parse::<u64>().ok();
    match (method.as_str(), segments) {
        ("GET", ["app"]) => Reply::json(
            200,
            json!({ "id": APP_ID, "slug": APP_SLUG, "name": "iamgate (fake)" }),
        ),
        ("POST", ["app", "installations", id, "access_tokens"]) => mint_token(state, number(id)),
        ("GET", ["orgs", org, "teams", slug, "memberships", user]) => {
            team_membership(state, org, slug, user)
        }
        ("GET", ["orgs", org, "teams", slug]) => team(state, org, slug),
        ("GET", ["repos", owner, name, "installation"]) => {
            if state.repos.contains_key(&format!("{owner}/{name}")) {
                Reply::json(200, json!({ "id": INSTALLATION_ID, "app_id": APP_ID }))
            } else {
                Reply::not_found()
            }
        }
        (_, ["repos", owner, name, rest @ ..]) => {
            let repo = format!("{owner}/{name}");
            if !state.repos.contains_key(&repo) {
                return Reply::not_found();
            }
            let url = format!("{}{path}", state.api_url);
            match (method.as_str(), rest) {
                ("GET", ["pulls"]) => list_pulls(state, &repo, query, &url),
                // The pull requests a commit is associated with (open and closed): here, those
                // whose head it is.
                ("GET", ["commits", sha, "pulls"]) => {
                    let found = &state.repos[&repo];
                    let pulls: Vec<Value> = found
                        .pulls
                        .iter()
                        .filter(|(_, pull)| pull.spec.head == *sha)
                        .map(|(n, pull)| pull_json(&repo, *n, pull))
                        .collect();
                    Reply::json(200, Value::Array(pulls))
                }
                ("GET", ["git", "ref", "heads", branch @ ..]) => {
                    git_ref(state, &repo, &branch.join("/"), path)
                }
                ("GET", ["pulls", n]) => with_pull(state, &repo, number(n), |_, repo, n, pull| {
                    Reply::json(200, pull_json(repo, n, pull))
                }),
                ("GET", ["pulls", n, "files"]) => {
                    with_pull(state, &repo, number(n), |_, _, _, pull| {
                        let files: Vec<Value> = pull.files.iter().take(3000).map(|f| match &f.previous_filename {
                        Some(old) => json!({ "filename": f.filename, "status": "renamed", "previous_filename": old }),
                        None => json!({ "filename": f.filename, "status": "modified" }),
                    }).collect();
                        paged(&files, query, &url)
                    })
                }
                ("GET", ["pulls", n, "commits"]) => {
                    with_pull(state, &repo, number(n), |_, _, _, pull| {
                        // GitHub lists at most 250 commits of a pull request, whatever the
                        // pages asked.
                        let mut commits = commits_json(pull);
                        commits.truncate(PR_COMMITS_LISTED);
                        paged(&commits, query, &url)
                    })
                }
                ("GET", ["compare", basehead]) => compare(state, &repo, basehead, query, &url),
                ("GET", ["pulls", n, "reviews"]) => {
                    with_pull(state, &repo, number(n), |_, _, _, pull| {
                        // Pending reviews are visible to their author only, never to the App.
                        let reviews: Vec<Value> = pull
                            .reviews
                            .iter()
                            .filter(|r| r.state != "PENDING")
                            .map(review_json)
                            .collect();
                        paged(&reviews, query, &url)
                    })
                }
                ("GET", ["collaborators", user, "permission"]) => {
                    collaborator_permission(state, &repo, user)
                }
                ("POST", ["issues", "comments", id, "reactions"]) => {
                    react(state, &repo, number(id), json_body())
                }
                ("POST", ["pulls", n, "requested_reviewers"]) => {
                    request_reviewers(state, &repo, number(n), json_body())
                }
                ("GET", ["contents", file @ ..]) if !file.is_empty() => {
                    contents(state, &repo, &file.join("/"), query, headers)
                }
                ("GET", ["tarball", sha]) => tarball_redirect(state, &repo, sha),
                ("GET", ["git", "trees", tree]) => git_tree(state, &repo, tree),
                ("GET", ["issues", n, "comments"]) => {
                    let n = number(n);
                    // `since`: only those last updated at or after it.
                    let since = match query_params(query)
                        .get("since")
                        .map(|s| Timestamp::parse_rfc3339(s))
                    {
                        None => None,
                        Some(Ok(since)) => Some(since),
                        Some(Err(_)) => {
                            return Reply::invalid(
                                "IssueComment",
                                "since",
                                "since is not a timestamp",
                            );
                        }
                    };
                    let comments: Vec<Value> = state.repos[&repo]
                        .comments
                        .iter()
                        .filter(|c| Some(c.issue) == n)
                        .filter(|c| {
                            since.is_none_or(|since| {
                                Timestamp::parse_rfc3339(&c.comment.created_at)
                                    .is_ok_and(|updated| updated >= since)
                            })
                        })
                        .map(|c| comment_json(&c.comment))
                        .collect();
                    paged(&comments, query, &url)
                }
                ("POST", ["issues", n, "comments"]) => {
                    create_comment(state, &repo, number(n), json_body())
                }
                ("GET", ["issues", "comments", id]) => {
                    let id = number(id);
                    match state.repos[&repo]
                        .comments
                        .iter()
                        .find(|c| Some(c.comment.id) == id)
                    {
                        Some(c) => {
                            let mut value = comment_json(&c.comment);
                            value["issue_url"] =
                                json!(format!("{}/repos/{repo}/issues/{}", state.api_url, c.issue));
                            Reply::json(200, value)
                        }
                        None => Reply::not_found(),
                    }
                }
                ("PATCH", ["issues", "comments", id]) => {
                    update_comment(state, &repo, number(id), json_body())
                }
                ("POST", ["statuses", sha]) => post_status(state, &repo, sha, json_body()),
                _ => Reply::not_found(),
            }
        }
        _ => Reply::not_found(),
    }
}

/// One page of a listing; its `Link` URLs keep the request's other parameters (filters), as
/// GitHub's do.
fn paged(items: &[Value], query: Option<&str>, url: &str) -> Reply {
    let kept: Vec<&str> = query
        .unwrap_or_default()
        .split('&')
        .filter(|p| {
            let key = percent_decode(p.split_once('=').map_or(*p, |(k, _)| k));
            !p.is_empty() && key != "per_page" && key != "page"
        })
        .collect();
    let url = if kept.is_empty() {
        url.to_owned()
    } else {
        format!("{url}?{}", kept.join("&"))
    };
    let (page, link) = paginate(items, &query_params(query), &url);
    let reply = Reply::json(200, Value::Array(page));
    match link {
        Some(link) => reply.header("link", link),
        None => reply,
    }
}

/// GitHub's listing of a pull request's commits stops at this many.
const PR_COMMITS_LISTED: usize = 250;

/// A pull request's commits as GitHub lists them, oldest first; each links its author and
/// committer accounts.
fn commits_json(pull: &Pull) -> Vec<Value> {
    pull.commits
        .iter()
        .enumerate()
        .map(|(i, (author, committer))| {
            json!({
                "sha": format!("{i:040x}"),
                "author": { "login": author, "id": user_id(author), "type": "User" },
                "committer": { "login": committer, "id": user_id(committer), "type": "User" },
            })
        })
        .collect()
}

/// `GET /repos/{repo}/compare/{base}...{head}`: the commits of the pull request with that base
/// and head SHA (this fake has no commit graph), oldest first, `total_commits` counting them
/// all. As GitHub documents, without `per_page` or `page` it lists at most 250 commits; with
/// either, one page of them.
fn compare(state: &State, repo: &str, basehead: &str, query: Option<&str>, url: &str) -> Reply {
    let Some((base, head)) = basehead.split_once("...") else {
        return Reply::not_found();
    };
    let Some(pull) = state.repos[repo]
        .pulls
        .values()
        .find(|p| p.spec.base == base && p.spec.head == head)
    else {
        return Reply::not_found();
    };
    let commits = commits_json(pull);
    let params = query_params(query);
    let (page, link) = if params.contains_key("per_page") || params.contains_key("page") {
        paginate(&commits, &params, url)
    } else {
        (
            commits.iter().take(PR_COMMITS_LISTED).cloned().collect(),
            None,
        )
    };
    let reply = Reply::json(
        200,
        json!({
            "status": "ahead",
            "ahead_by": commits.len(),
            "behind_by": 0,
            "total_commits": commits.len(),
            "commits": page,
            "files": [],
        }),
    );
    match link {
        Some(link) => reply.header("link", link),
        None => reply,
    }
}

fn with_pull(
    state: &mut State,
    repo: &str,
    number: Option<u64>,
    f: impl FnOnce(&mut State, &str, u64, &Pull) -> Reply,
) -> Reply {
    let Some(n) = number else {
        return Reply::not_found();
    };
    let Some(pull) = state.repos.get(repo).and_then(|r| r.pulls.get(&n)) else {
        return Reply::not_found();
    };
    let pull = pull.clone();
    f(state, repo, n, &pull)
}

/// `GET /repos/{repo}/git/ref/heads/{branch}`: the branch's ref, 404 when there is no such
/// branch (an exact match, unlike `git/refs/`, which matches prefixes).
fn git_ref(state: &State, repo: &str, branch: &str, path: &str) -> Reply {
    let Some(sha) = state.repos[repo].branch_tip(branch) else {
        return Reply::not_found();
    };
    let refs_url = format!(
        "{}{}",
        state.api_url,
        path.replacen("/git/ref/", "/git/refs/", 1)
    );
    Reply::json(
        200,
        json!({
            "ref": format!("refs/heads/{branch}"),
            "node_id": format!("REF_fake{}", super::user_id(&format!("{repo}:{branch}"))),
            "url": refs_url,
            "object": {
                "sha": sha,
                "type": "commit",
                "url": format!("{}/repos/{repo}/git/commits/{sha}", state.api_url),
            },
        }),
    )
}

/// `GET /repos/{repo}/pulls`: `state` `open` (the default), `closed` or `all`, `base` an exact
/// base branch, newest first (`direction=asc`: oldest first), paginated.
fn list_pulls(state: &State, repo: &str, query: Option<&str>, url: &str) -> Reply {
    let params = query_params(query);
    let wanted = params.get("state").map_or("open", String::as_str);
    if !["open", "closed", "all"].contains(&wanted) {
        return Reply::invalid("PullRequest", "state", "state is not included in the list");
    }
    let base = params.get("base");
    // `head=owner:branch`: every pull request's head branch is `feature` in this fake.
    let head = params.get("head");
    let head_of = |p: &Pull| match &p.spec.head_repo {
        HeadRepo::Same => Some(format!("{}:feature", repo.split('/').next().unwrap_or(""))),
        HeadRepo::Fork(fork) => Some(format!("{}:feature", fork.split('/').next().unwrap_or(""))),
        HeadRepo::Deleted => None,
    };
    let mut pulls: Vec<(&u64, &Pull)> = state.repos[repo]
        .pulls
        .iter()
        .filter(|(_, p)| match wanted {
            "open" => p.spec.open,
            "closed" => !p.spec.open,
            _ => true,
        })
        .filter(|(_, p)| base.is_none_or(|b| *b == p.spec.base_ref))
        .filter(|(_, p)| head.is_none_or(|h| Some(h.as_str()) == head_of(p).as_deref()))
        .collect();
    pulls.sort_by_key(|(_, p)| std::cmp::Reverse(p.created));
    if params.get("direction").is_some_and(|d| d == "asc") {
        pulls.reverse();
    }
    let items: Vec<Value> = pulls
        .into_iter()
        .map(|(n, p)| {
            let mut value = pull_json(repo, *n, p);
            value["url"] = json!(format!("{}/repos/{repo}/pulls/{n}", state.api_url));
            value
        })
        .collect();
    paged(&items, query, url)
}

fn mint_token(state: &mut State, installation: Option<u64>) -> Reply {
    let Some(installation) = installation.filter(|id| state.installations.contains(id)) else {
        return Reply::not_found();
    };
    let token = format!("ghs_fake{}x{}", state.next_id(), rand::random::<u32>());
    let expires_at = SystemTime::now() + state.token_lifetime;
    state.tokens.insert(
        token.clone(),
        Token {
            installation,
            expires_at,
        },
    );
    Reply::json(
        201,
        json!({ "token": token, "expires_at": timestamp(expires_at), "permissions": { "pull_requests": "write" }, "repository_selection": "all" }),
    )
}

/// The team `org/slug` as the App's installation sees it: `None` when it does not exist or is
/// hidden from it.
fn shown_team<'s>(state: &'s State, org: &str, slug: &str) -> Option<&'s super::Team> {
    state
        .teams
        .get(&(org.to_owned(), slug.to_owned()))
        .filter(|team| !team.hidden)
}

/// `GET /orgs/{org}/teams/{slug}` ("Get a team by name"): 404 for a team not shown.
fn team(state: &State, org: &str, slug: &str) -> Reply {
    if !state.members_permission {
        return Reply::message(403, "Resource not accessible by integration");
    }
    match shown_team(state, org, slug) {
        Some(team) => Reply::json(
            200,
            json!({
                "id": user_id(&format!("{org}/{slug}")),
                "name": slug,
                "slug": slug,
                "privacy": "closed",
                "members_count": team.active.len(),
                "url": format!("{}/orgs/{org}/teams/{slug}", state.api_url),
                "organization": { "login": org },
            }),
        ),
        None => Reply::not_found(),
    }
}

fn team_membership(state: &State, org: &str, slug: &str, user: &str) -> Reply {
    if !state.members_permission {
        return Reply::message(403, "Resource not accessible by integration");
    }
    // A non-member, an unknown team and a hidden one look the same: 404.
    let membership = shown_team(state, org, slug).and_then(|team| team.state_of(user));
    match membership {
        Some(membership) => Reply::json(
            200,
            json!({ "state": membership, "role": "member", "url": format!("{}/orgs/{org}/teams/{slug}/memberships/{user}", state.api_url) }),
        ),
        None => Reply::not_found(),
    }
}

fn review_json(review: &FakeReview) -> Value {
    json!({
        "id": review.id,
        // Apps review as `<slug>[bot]`, type Bot.
        "user": { "login": review.login, "id": super::user_id(&review.login), "type": if review.login.ends_with("[bot]") { "Bot" } else { "User" } },
        "body": "",
        "state": review.state,
        "commit_id": review.commit_id,
        "submitted_at": timestamp(review.submitted_at),
        "author_association": "MEMBER",
    })
}

fn collaborator_permission(state: &State, repo: &str, user: &str) -> Reply {
    let role = state.repos[repo]
        .permissions
        .get(&user.to_ascii_lowercase())
        .cloned();
    // The REST field folds maintain into write and triage into read; role_name keeps the role.
    let (permission, role_name) = match role.as_deref() {
        Some("maintain") => ("write", "maintain"),
        Some("triage") => ("read", "triage"),
        Some("admin") => ("admin", "admin"),
        Some("write") => ("write", "write"),
        Some("read") => ("read", "read"),
        _ => ("none", "none"),
    };
    Reply::json(
        200,
        json!({ "permission": permission, "role_name": role_name, "user": { "login": user, "type": "User" } }),
    )
}

fn react(state: &mut State, repo: &str, comment_id: Option<u64>, body: Option<Value>) -> Reply {
    let Some(content) = body
        .as_ref()
        .and_then(|b| b.get("content"))
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return Reply::invalid("Reaction", "content", "content wasn't supplied.");
    };
    if !REACTION_CONTENTS.contains(&content.as_str()) {
        return Reply::invalid("Reaction", "content", "content is not included in the list");
    }
    let Some(comment_id) = comment_id.filter(|id| {
        state.repos[repo]
            .comments
            .iter()
            .any(|c| c.comment.id == *id)
    }) else {
        return Reply::not_found();
    };
    let user = format!("{APP_SLUG}[bot]");
    let reaction_json = |r: &FakeReaction| json!({ "id": r.id, "content": r.content, "user": { "login": r.user, "type": "Bot" } });
    // One reaction per user, comment and content: a repeat answers 200 with the existing one.
    if let Some(existing) = state.repos[repo]
        .reactions
        .iter()
        .find(|r| r.comment_id == comment_id && r.content == content && r.user == user)
    {
        return Reply::json(200, reaction_json(existing));
    }
    let reaction = FakeReaction {
        id: state.next_id(),
        comment_id,
        content,
        user,
    };
    let reply = Reply::json(201, reaction_json(&reaction));
    if let Some(r) = state.repos.get_mut(repo) {
        r.reactions.push(reaction);
    }
    reply
}

fn pull_json(repo: &str, number: u64, pull: &Pull) -> Value {
    let spec = &pull.spec;
    let head_repo = match &spec.head_repo {
        HeadRepo::Same => json!({ "full_name": repo }),
        HeadRepo::Fork(fork) => json!({ "full_name": fork }),
        HeadRepo::Deleted => Value::Null,
    };
    json!({
        "number": number,
        "state": if spec.open { "open" } else { "closed" },
        "draft": spec.draft,
        "commits": pull.commits.len(),
        "user": { "login": spec.author, "type": "User" },
        "head": { "sha": spec.head, "ref": "feature", "repo": head_repo },
        "base": { "sha": spec.base, "ref": spec.base_ref, "repo": { "full_name": repo } },
    })
}

fn request_reviewers(
    state: &mut State,
    repo: &str,
    number: Option<u64>,
    body: Option<Value>,
) -> Reply {
    let Some(body) = body else {
        return Reply::message(400, "Problems parsing JSON");
    };
    let list = |key: &str| -> Vec<String> {
        body.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (users, teams) = (list("reviewers"), list("team_reviewers"));
    let Some(n) = number.filter(|n| state.repos[repo].pulls.contains_key(n)) else {
        return Reply::not_found();
    };
    let org = repo.split('/').next().unwrap_or_default().to_owned();
    let pull = &state.repos[repo].pulls[&n];
    if users.contains(&pull.spec.author) {
        return Reply::message(422, "Review cannot be requested from pull request author.");
    }
    let collaborators = &state.repos[repo].collaborators;
    let bad_user = users.iter().any(|u| !collaborators.contains(u));
    let bad_team = teams
        .iter()
        .any(|t| !state.teams.contains_key(&(org.clone(), t.clone())));
    if bad_user || bad_team {
        return Reply::message(
            422,
            &format!(
                "Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the {repo} repository."
            ),
        );
    }
    let Some(pull) = state.repos.get_mut(repo).and_then(|r| r.pulls.get_mut(&n)) else {
        return Reply::not_found();
    };
    for user in users {
        if !pull.review_requests.users.contains(&user) {
            pull.review_requests.users.push(user);
        }
    }
    for team in teams {
        if !pull.review_requests.teams.contains(&team) {
            pull.review_requests.teams.push(team);
        }
    }
    let pull = pull.clone();
    Reply::json(201, pull_json(repo, n, &pull))
}

fn contents(
    state: &State,
    repo: &str,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Reply {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !accept.contains("application/vnd.github.raw") {
        return Reply::message(
            415,
            "fake GitHub serves contents raw only: send Accept: application/vnd.github.raw+json",
        );
    }
    let Some(sha) = query_params(query).remove("ref") else {
        return Reply::message(400, "fake GitHub needs ?ref=");
    };
    let found = &state.repos[repo];
    let files = found.files.get(&sha);
    let is_link = found.links.get(&sha).is_some_and(|l| l.contains(path));
    // GitHub answers a link to a regular file of the repository with that file's content.
    let path = match files.and_then(|f| f.get(path)) {
        Some(target) if is_link => {
            let target = String::from_utf8_lossy(target).into_owned();
            let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
            if dir.is_empty() {
                target
            } else {
                format!("{dir}/{target}")
            }
        }
        _ => path.to_owned(),
    };
    match files.and_then(|files| files.get(&path)) {
        Some(bytes) => Reply::new(200, "application/vnd.github.raw+json", bytes.clone()),
        None => Reply::not_found(),
    }
}

/// `GET /repos/{owner}/{repo}/git/trees/{tree_sha}` (not recursive): the entries of the
/// commit's root tree, or of a directory's tree (`<commit>:<dir>` stands for its sha here),
/// with Git's modes (`100644` file, `040000` directory, `120000` symbolic link).
fn git_tree(state: &State, repo: &str, tree: &str) -> Reply {
    let (sha, dir) = tree.split_once(':').unwrap_or((tree, ""));
    let found = &state.repos[repo];
    let Some(files) = found.files.get(sha) else {
        return Reply::not_found();
    };
    let links = found.links.get(sha);
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let mut entries: std::collections::BTreeMap<String, (String, String)> =
        std::collections::BTreeMap::new();
    for path in files.keys() {
        let Some(rest) = path.strip_prefix(&prefix) else {
            continue;
        };
        let entry = match rest.split_once('/') {
            Some((sub, _)) => (
                sub.to_owned(),
                ("040000".to_owned(), format!("{sha}:{prefix}{sub}")),
            ),
            None if links.is_some_and(|l| l.contains(path)) => (
                rest.to_owned(),
                ("120000".to_owned(), format!("blob-{path}")),
            ),
            None => (
                rest.to_owned(),
                ("100644".to_owned(), format!("blob-{path}")),
            ),
        };
        entries.insert(entry.0, entry.1);
    }
    let tree: Vec<serde_json::Value> = entries
        .into_iter()
        .map(|(path, (mode, sha))| {
            let kind = if mode == "040000" { "tree" } else { "blob" };
            serde_json::json!({ "path": path, "mode": mode, "type": kind, "sha": sha })
        })
        .collect();
    Reply::json(
        200,
        serde_json::json!({ "sha": sha, "tree": tree, "truncated": false }),
    )
}

fn tarball_redirect(state: &mut State, repo: &str, sha: &str) -> Reply {
    if !state.repos[repo].known_shas.contains(sha) {
        return Reply::not_found();
    }
    let ticket = format!("ticket{}", state.next_id());
    state
        .tickets
        .insert(ticket.clone(), (repo.to_owned(), sha.to_owned()));
    let location = format!(
        "{}/{repo}/legacy.tar.gz/{sha}?token={ticket}",
        state.codeload_url
    );
    Reply {
        status: 302,
        headers: vec![("location", location)],
        body: Vec::new(),
    }
}

fn comment_json(comment: &FakeComment) -> Value {
    json!({
        "id": comment.id,
        "body": comment.body,
        "user": { "login": comment.author, "id": user_id(&comment.author), "type": comment.author_type },
        "created_at": comment.created_at,
        "updated_at": comment.created_at,
    })
}

fn comment_body(body: Option<Value>) -> Result<String, Reply> {
    let Some(text) = body
        .as_ref()
        .and_then(|b| b.get("body"))
        .and_then(Value::as_str)
    else {
        return Err(Reply::invalid(
            "IssueComment",
            "body",
            "body wasn't supplied.",
        ));
    };
    if text.chars().count() > 65_536 {
        return Err(Reply::invalid(
            "IssueComment",
            "body",
            "body is too long (maximum is 65536 characters)",
        ));
    }
    Ok(text.to_owned())
}

fn create_comment(
    state: &mut State,
    repo: &str,
    number: Option<u64>,
    body: Option<Value>,
) -> Reply {
    let Some(n) = number.filter(|n| state.repos[repo].pulls.contains_key(n)) else {
        return Reply::not_found();
    };
    let text = match comment_body(body) {
        Ok(text) => text,
        Err(reply) => return reply,
    };
    let id = state.next_id();
    let comment = FakeComment {
        id,
        author: format!("{APP_SLUG}[bot]"),
        author_type: "Bot".to_owned(),
        body: text,
        created_at: now_ms_timestamp(),
    };
    let reply = Reply::json(201, comment_json(&comment));
    if let Some(r) = state.repos.get_mut(repo) {
        r.comments.push(StoredComment { issue: n, comment });
    }
    reply
}

fn update_comment(state: &mut State, repo: &str, id: Option<u64>, body: Option<Value>) -> Reply {
    let text = match comment_body(body) {
        Ok(text) => text,
        Err(reply) => return reply,
    };
    let Some(stored) = state
        .repos
        .get_mut(repo)
        .and_then(|r| r.comments.iter_mut().find(|c| Some(c.comment.id) == id))
    else {
        return Reply::not_found();
    };
    if stored.comment.author_type != "Bot" {
        return Reply::message(403, "Resource not accessible by integration");
    }
    stored.comment.body = text;
    Reply::json(200, comment_json(&stored.comment))
}

fn post_status(state: &mut State, repo: &str, sha: &str, body: Option<Value>) -> Reply {
    let Some(body) = body else {
        return Reply::message(400, "Problems parsing JSON");
    };
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    let Some(status_state) =
        text("state").filter(|s| ["error", "failure", "pending", "success"].contains(&s.as_str()))
    else {
        return Reply::invalid("Status", "state", "state is not included in the list");
    };
    let description = text("description").unwrap_or_default();
    if description.chars().count() > 140 {
        return Reply::invalid(
            "Status",
            "description",
            "description is too long (maximum is 140 characters)",
        );
    }
    if !state.repos[repo].known_shas.contains(sha) {
        return Reply::message(422, &format!("No commit found for SHA: {sha}"));
    }
    let status = FakeStatus {
        state: status_state,
        context: text("context").unwrap_or_else(|| "default".to_owned()),
        description,
        target_url: text("target_url"),
        creator: format!("{APP_SLUG}[bot]"),
    };
    let id = state.next_id();
    let reply = Reply::json(
        201,
        json!({ "id": id, "state": status.state, "context": status.context, "description": status.description, "target_url": status.target_url, "creator": { "login": status.creator, "type": "Bot" } }),
    );
    if let Some(r) = state.repos.get_mut(repo) {
        r.statuses.entry(sha.to_owned()).or_default().push(status);
    }
    reply
}

async fn codeload(
    AxumState(shared): AxumState<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut state = lock(&shared);
    let had_authorization = headers.contains_key(header::AUTHORIZATION);
    let reply = if had_authorization {
        Reply::message(
            400,
            "codeload must never receive the API token (Authorization header present)",
        )
    } else {
        serve_tarball(&state, &uri)
    };
    state.log.push(RequestRecord {
        host: Host::Codeload,
        method: method.to_string(),
        path: logged_path(None, &uri),
        status: reply.status,
        had_authorization,
    });
    reply.into_response()
}

fn serve_tarball(state: &State, uri: &Uri) -> Reply {
    let segments: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    let [owner, name, "legacy.tar.gz", sha] = segments.as_slice() else {
        return Reply::not_found();
    };
    let repo = format!("{owner}/{name}");
    let ticket = query_params(uri.query())
        .remove("token")
        .unwrap_or_default();
    if state.tickets.get(&ticket) != Some(&(repo.clone(), (*sha).to_owned())) {
        return Reply::not_found();
    }
    let empty = Default::default();
    let files = state
        .repos
        .get(&repo)
        .and_then(|r| r.files.get(*sha))
        .unwrap_or(&empty);
    Reply::new(200, "application/x-gzip", tarball(&repo, sha, files))
}
