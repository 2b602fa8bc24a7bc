//! `iamgate submit PREVIEW --server URL --stack NAME`: what a CI job runs to send its
//! `pulumi preview --json` output (or, `--failed`, the log of a failed preview) to an iamgate
//! server's `POST /api/v1/previews`, authenticated by the job's OIDC ID token. It finds the commit
//! and the token in the CI's environment and never prints the token; it judges nothing itself.

use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow};
use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION,
};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use tempfile::NamedTempFile;

use super::{Outcome, write_stdout};
use crate::forge::http::{body_excerpt, http_client, truncate_chars};

/// The token audience asked of GitHub Actions without `--audience`: the server's default
/// `[ci] audience`.
pub const DEFAULT_AUDIENCE: &str = "iamgate";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// `pulumi preview --json` output (either form), or with `--failed` the log of the failed
    /// preview; `-` reads stdin.
    pub preview: std::path::PathBuf,
    /// The iamgate server, e.g. `https://iamgate.example.com`.
    #[arg(long, value_name = "URL", value_parser = parse_server)]
    pub server: String,
    /// The stack's `name` in `.iamgate.yml` (a `preview: ci` stack), not the Pulumi stack.
    #[arg(long, value_name = "NAME", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub stack: String,
    /// The commit the preview is of. Default: in GitHub Actions the pull request's head (from the
    /// event, else `GITHUB_SHA`); in GitLab CI `CI_MERGE_REQUEST_SOURCE_BRANCH_SHA`, else
    /// `CI_COMMIT_SHA`.
    #[arg(long, value_name = "SHA", value_parser = parse_sha)]
    pub commit: Option<String>,
    /// PREVIEW is the log of a preview that failed: the server shows it and fails the check.
    #[arg(long)]
    pub failed: bool,
    /// The audience of the ID token requested from GitHub Actions: the server's `[ci] audience`.
    /// (In GitLab CI the job's `id_tokens:` entry sets it.)
    #[arg(long, value_name = "AUD", default_value = DEFAULT_AUDIENCE,
          value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub audience: String,
}

/// The CI environment as a lookup; an empty value counts as unset (GitLab sets some variables
/// empty, e.g. `CI_MERGE_REQUEST_SOURCE_BRANCH_SHA` outside merged-results pipelines).
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Overrides the first retry delay (milliseconds), for tests.
const RETRY_BASE_VAR: &str = "IAMGATE_SUBMIT_RETRY_BASE_MS";
/// The most of a reply that is read: replies are small JSON documents.
const MAX_REPLY: usize = 64 * 1024;

/// How long a try may take to get the reply's headers, for a body of `len` bytes: reqwest's read
/// timeout runs from the start of the request, upload included, so it grows with the body (as if
/// the upload ran at 128 KiB/s at least) on top of two minutes for the server to store it.
fn read_timeout(len: u64) -> Duration {
    Duration::from_secs(120 + len / (128 * 1024))
}

pub fn run(args: &Args) -> Outcome {
    match submit(args, &process_env) {
        Ok(()) => Outcome::Done,
        Err(outcome) => outcome,
    }
}

fn failed(message: String) -> Outcome {
    Outcome::Failed(anyhow!(message))
}

fn submit(args: &Args, env: Env) -> Result<(), Outcome> {
    let commit = match &args.commit {
        Some(sha) => Commit {
            sha: sha.clone(),
            source: "--commit".to_owned(),
        },
        None => commit_from_env(env).map_err(failed)?,
    };
    let token = token_source(env, &args.audience).map_err(failed)?;
    let body = gzip_input(&args.preview, args.failed)?;
    let url =
        submission_url(&args.server, &args.stack, &commit.sha, args.failed).map_err(failed)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Outcome::Failed(anyhow::Error::new(e).context("cannot start Tokio")))?;
    let what = if args.failed {
        "failed preview"
    } else {
        "preview"
    };
    eprintln!(
        "iamgate: sending the {what} of stack {} at {} (from {}) to {}",
        args.stack, commit.sha, commit.source, args.server
    );
    let pull_requests = runtime
        .block_on(async {
            let client =
                http_client(read_timeout(body.len)).context("cannot set up the HTTP client")?;
            let retry = Retry::from_env(env);
            let token = match token {
                TokenSource::Given(token) => token,
                TokenSource::GitHubActions { url, request } => {
                    github_token(&client, retry, &url, &request).await?
                }
            };
            let content_type = if args.failed {
                "text/plain; charset=utf-8"
            } else {
                "application/json"
            };
            retrying(retry, "sending the preview", || {
                send_once(&client, &url, &token, &body, content_type)
            })
            .await
        })
        .map_err(Outcome::Failed)?;
    let line = accepted_line(what, &args.stack, &commit.sha, pull_requests.as_deref());
    write_stdout(&line).map_err(Outcome::Failed)
}

/// `--server`: an `http(s)://` URL without query, fragment or credentials, trailing `/` dropped.
fn parse_server(text: &str) -> Result<String, String> {
    let url = Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query (`?`) or a fragment (`#`)".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold a user name or password".to_owned());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// A full commit SHA (SHA-1 or SHA-256), lowercased.
fn parse_sha(text: &str) -> Result<String, String> {
    let text = text.trim();
    if matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(format!(
            "`{}` is not a full commit SHA (40 or 64 hexadecimal digits)",
            printable(&truncate_chars(text, 80))
        ))
    }
}

/// `{server}/api/v1/previews?stack=..&commit=..[&failed=true]`, the values percent-encoded.
fn submission_url(server: &str, stack: &str, sha: &str, failed: bool) -> Result<Url, String> {
    let mut url = Url::parse(&format!("{server}/api/v1/previews"))
        .map_err(|e| format!("--server: not a URL: {e}"))?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("stack", stack).append_pair("commit", sha);
        if failed {
            query.append_pair("failed", "true");
        }
    }
    Ok(url)
}

/// The commit a preview is of, and where it was found (for the log line).
#[derive(Debug, PartialEq, Eq)]
struct Commit {
    sha: String,
    source: String,
}

/// The commit from the CI's environment: GitHub Actions' pull request head (the event file),
/// else `GITHUB_SHA` (an event without a pull request, e.g. `push`); GitLab's merge request
/// source SHA (merged-results pipelines, where `CI_COMMIT_SHA` is the merge), else
/// `CI_COMMIT_SHA`. A broken event file is an error, not a reason to fall back: GitHub's
/// `GITHUB_SHA` of a pull request event is a merge commit, not the head.
fn commit_from_env(env: Env) -> Result<Commit, String> {
    if let Some(path) = env("GITHUB_EVENT_PATH")
        && let Some(sha) = pull_request_head(Path::new(&path))?
    {
        let sha = parse_sha(&sha).map_err(|e| format!("{path}: pull_request.head.sha: {e}"))?;
        return Ok(Commit {
            sha,
            source: format!("pull_request.head.sha in {path}"),
        });
    }
    for name in [
        "GITHUB_SHA",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA",
        "CI_COMMIT_SHA",
    ] {
        if let Some(value) = env(name) {
            let sha = parse_sha(&value).map_err(|e| format!("{name}: {e}"))?;
            return Ok(Commit {
                sha,
                source: name.to_owned(),
            });
        }
    }
    Err(
        "cannot tell which commit the preview is of: pass --commit SHA (in GitHub Actions it \
         comes from the event's pull request or GITHUB_SHA, in GitLab CI from \
         CI_MERGE_REQUEST_SOURCE_BRANCH_SHA or CI_COMMIT_SHA; none is set)"
            .to_owned(),
    )
}

/// `pull_request.head.sha` of a GitHub Actions event file; `None` when the event has no pull
/// request.
fn pull_request_head(path: &Path) -> Result<Option<String>, String> {
    #[derive(Deserialize)]
    struct Event {
        pull_request: Option<PullRequest>,
    }
    #[derive(Deserialize)]
    struct PullRequest {
        head: Head,
    }
    #[derive(Deserialize)]
    struct Head {
        sha: String,
    }
    let name = path.display();
    let text = std::fs::read(path)
        .map_err(|e| format!("cannot read the GitHub event (GITHUB_EVENT_PATH) {name}: {e}"))?;
    let event: Event = serde_json::from_slice(&text)
        .map_err(|e| format!("the GitHub event (GITHUB_EVENT_PATH) {name} is not valid: {e}"))?;
    Ok(event.pull_request.map(|pr| pr.head.sha))
}

/// A token, kept out of `Debug` output and messages.
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// Trimmed; refused (unnamed) when it could not be sent in a header.
    fn new(value: &str, name: &str) -> Result<Secret, String> {
        let value = value.trim();
        if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "{name} is not a token: it is empty or holds spaces or control characters"
            ));
        }
        Ok(Secret(value.to_owned()))
    }
}

/// Where the OIDC ID token comes from.
#[derive(Debug)]
enum TokenSource {
    /// GitHub Actions, for a job with `permissions: id-token: write`: requested from the runner's
    /// endpoint (`url` already names the audience) with the `request` token.
    GitHubActions { url: Url, request: Secret },
    /// Given in `IAMGATE_ID_TOKEN` (GitLab CI `id_tokens:`, or any CI that can mint one).
    Given(Secret),
}

fn token_source(env: Env, audience: &str) -> Result<TokenSource, String> {
    if let (Some(url), Some(request)) = (
        env("ACTIONS_ID_TOKEN_REQUEST_URL"),
        env("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        return Ok(TokenSource::GitHubActions {
            url: github_token_url(&url, audience)?,
            request: Secret::new(&request, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")?,
        });
    }
    if let Some(token) = env("IAMGATE_ID_TOKEN") {
        return Secret::new(&token, "IAMGATE_ID_TOKEN").map(TokenSource::Given);
    }
    Err(format!(
        "no OIDC ID token to authenticate with: in GitHub Actions give the job \
         `permissions: id-token: write`; in GitLab CI give the job \
         `id_tokens: IAMGATE_ID_TOKEN: aud: {audience}`; elsewhere set IAMGATE_ID_TOKEN to an ID \
         token whose audience is the server's `[ci] audience`"
    ))
}

/// `ACTIONS_ID_TOKEN_REQUEST_URL` with `audience=<aud>` added to its query (`&` after an
/// existing query, else `?`).
fn github_token_url(base: &str, audience: &str) -> Result<Url, String> {
    let mut url =
        Url::parse(base).map_err(|e| format!("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL: {e}"))?;
    url.query_pairs_mut().append_pair("audience", audience);
    Ok(url)
}

/// The input gzipped into a temporary file, once, before any request.
///
/// Why a temporary file rather than gzip on the fly into a streaming body: memory stays bounded
/// either way (64 KiB buffers here), but this way (1) a read error of the input is found before
/// anything is sent and reported as invalid input (exit 3) naming the file, instead of surfacing
/// mid-upload as a transport error that would be retried; (2) every retry resends the same bytes
/// without compressing again, and stdin, which cannot be read twice, needs nothing more; (3) the
/// length is known, so the request carries `Content-Length` and the server can refuse an
/// oversized body (413) before reading it; (4) no new dependency (a channel-fed body needs a
/// `Stream` or `http_body::Body` impl). The cost is a compressed copy on disk (a fraction of the
/// JSON), deleted when this value drops.
#[derive(Debug)]
struct GzippedInput {
    file: NamedTempFile,
    len: u64,
}

fn gzip_input(path: &Path, failed: bool) -> Result<GzippedInput, Outcome> {
    let (name, mut reader): (String, Box<dyn Read>) = if path == Path::new("-") {
        ("<stdin>".to_owned(), Box::new(std::io::stdin().lock()))
    } else {
        let name = path.display().to_string();
        match std::fs::File::open(path) {
            Ok(file) => (name, Box::new(file)),
            Err(e) => return Err(Outcome::InvalidInput(format!("cannot read {name}: {e}"))),
        }
    };
    let write_failed = |e: std::io::Error| {
        Outcome::Failed(anyhow::Error::new(e).context("cannot write the compressed preview"))
    };
    let file = NamedTempFile::new().map_err(write_failed)?;
    let mut gzip = GzEncoder::new(BufWriter::new(file.as_file()), Compression::default());
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Outcome::InvalidInput(format!("cannot read {name}: {e}"))),
        };
        total += n as u64;
        gzip.write_all(&buf[..n]).map_err(write_failed)?;
    }
    if total == 0 && !failed {
        return Err(Outcome::InvalidInput(format!(
            "{name} is empty: no preview to send (if the preview failed, send its log with --failed)"
        )));
    }
    gzip.finish()
        .and_then(|writer| writer.into_inner().map_err(|e| e.into_error()))
        .map_err(write_failed)?;
    let len = file.as_file().metadata().map_err(write_failed)?.len();
    Ok(GzippedInput { file, len })
}

/// How often and how patiently to try: 5 tries, waiting 1 s, 2 s, 4 s, 8 s between them.
#[derive(Debug, Clone, Copy)]
struct Retry {
    tries: u32,
    base: Duration,
}

impl Retry {
    fn from_env(env: Env) -> Retry {
        let base_ms = env(RETRY_BASE_VAR)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(1000);
        Retry {
            tries: 5,
            base: Duration::from_millis(base_ms),
        }
    }

    /// The wait after the `failed`-th failed try (1-based).
    fn delay(self, failed: u32) -> Duration {
        self.base
            .saturating_mul(2u32.saturating_pow(failed.saturating_sub(1)))
    }
}

/// One try's result.
#[derive(Debug)]
enum Attempt<T> {
    Done(T),
    /// Worth another try (5xx, connection failure); the reason.
    Again(String),
    /// Final (4xx, a reply that makes no sense).
    Fail(anyhow::Error),
}

async fn retrying<T, F, Fut>(retry: Retry, what: &str, mut attempt: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let mut tried = 0;
    loop {
        tried += 1;
        match attempt().await {
            Attempt::Done(value) => return Ok(value),
            Attempt::Fail(e) => return Err(e),
            Attempt::Again(why) if tried >= retry.tries => {
                return Err(anyhow!("{what} failed {tried} times; the last time: {why}"));
            }
            Attempt::Again(why) => {
                let wait = retry.delay(tried);
                eprintln!(
                    "iamgate: {what} failed ({why}); trying again in {wait:?} (try {} of {})",
                    tried + 1,
                    retry.tries
                );
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// A reply, at most [`MAX_REPLY`] of its body read.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    location: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    /// The `error` of a JSON error body, else the start of the body; made printable.
    fn reason(&self) -> String {
        #[derive(Deserialize)]
        struct ErrorBody {
            error: String,
        }
        let reason = match serde_json::from_slice::<ErrorBody>(&self.body) {
            Ok(body) => truncate_chars(&body.error, 1000),
            Err(_) => body_excerpt(&self.body),
        };
        printable(&reason)
    }
}

async fn receive(result: reqwest::Result<reqwest::Response>) -> Result<Reply, reqwest::Error> {
    let mut response = result?;
    let status = response.status();
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(printable);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_REPLY {
            body.truncate(MAX_REPLY);
            break;
        }
    }
    Ok(Reply {
        status,
        location,
        body,
    })
}

/// A request that produced no reply: retried unless it could not even be built.
fn transport<T>(e: reqwest::Error) -> Attempt<T> {
    if e.is_builder() {
        return Attempt::Fail(anyhow::Error::new(e).context("cannot build the request"));
    }
    Attempt::Again(format!("{:#}", anyhow::Error::new(e.without_url())))
}

/// A reply that is not a success: retried on 5xx, final otherwise (a redirect is not followed:
/// the token stays with the URL given).
fn refusal<T>(reply: &Reply, who: &str) -> Attempt<T> {
    let status = reply.status;
    if status.is_server_error() {
        return Attempt::Again(format!("{status}: {}", reply.reason()));
    }
    if status.is_redirection() {
        let to = reply.location.as_deref().unwrap_or("nowhere");
        return Attempt::Fail(anyhow!(
            "{who} answered {status}, a redirect to {to}, which is not followed: use the final URL"
        ));
    }
    Attempt::Fail(anyhow!("{who} refused: {status}: {}", reply.reason()))
}

/// Asks GitHub Actions for an ID token for the audience in `url`.
async fn github_token(
    client: &reqwest::Client,
    retry: Retry,
    url: &Url,
    request: &Secret,
) -> anyhow::Result<Secret> {
    #[derive(Deserialize)]
    struct TokenReply {
        value: String,
    }
    let mut auth = HeaderValue::from_str(&format!("bearer {}", request.0))
        .context("ACTIONS_ID_TOKEN_REQUEST_TOKEN cannot be sent")?;
    auth.set_sensitive(true);
    retrying(
        retry,
        "requesting the ID token from GitHub Actions",
        || async {
            let sent = client
                .get(url.clone())
                .header(AUTHORIZATION, auth.clone())
                .header(ACCEPT, "application/json")
                .send()
                .await;
            let reply = match receive(sent).await {
                Ok(reply) => reply,
                Err(e) => return transport(e),
            };
            if !reply.status.is_success() {
                return refusal(&reply, "GitHub Actions' token endpoint");
            }
            match serde_json::from_slice::<TokenReply>(&reply.body) {
                Ok(token) => match Secret::new(&token.value, "the token from GitHub Actions") {
                    Ok(token) => Attempt::Done(token),
                    Err(e) => Attempt::Fail(anyhow!(e)),
                },
                Err(e) => Attempt::Fail(anyhow!(
                    "GitHub Actions' token endpoint answered {} without a token: {e}",
                    reply.status
                )),
            }
        },
    )
    .await
}

/// One try at sending the preview; on success, the pull requests the server listed (`None`
/// when its reply did not say).
async fn send_once(
    client: &reqwest::Client,
    url: &Url,
    token: &Secret,
    body: &GzippedInput,
    content_type: &'static str,
) -> Attempt<Option<Vec<u64>>> {
    #[derive(Deserialize)]
    struct Accepted {
        pull_requests: Vec<u64>,
    }
    // A new open file description each try: its own offset, whatever an earlier try left.
    let file = match body.file.reopen() {
        Ok(file) => tokio::fs::File::from_std(file),
        Err(e) => {
            return Attempt::Fail(
                anyhow::Error::new(e).context("cannot reread the compressed preview"),
            );
        }
    };
    let sent = client
        .post(url.clone())
        .bearer_auth(&token.0)
        .header(CONTENT_TYPE, content_type)
        .header(CONTENT_ENCODING, "gzip")
        .header(CONTENT_LENGTH, body.len)
        .body(reqwest::Body::from(file))
        .send()
        .await;
    let reply = match receive(sent).await {
        Ok(reply) => reply,
        Err(e) => return transport(e),
    };
    if !reply.status.is_success() {
        return refusal(&reply, "the server");
    }
    let listed = serde_json::from_slice::<Accepted>(&reply.body).ok();
    Attempt::Done(listed.map(|accepted| accepted.pull_requests))
}

/// The line printed on success, e.g. `accepted: preview of stack prod at <sha>; pull requests:
/// 12, 14` (numbers only: the reply does not say whether they are GitHub's or GitLab's).
fn accepted_line(what: &str, stack: &str, sha: &str, pull_requests: Option<&[u64]>) -> String {
    let updated = match pull_requests {
        None => "the server's reply did not list the pull requests".to_owned(),
        Some([]) => "no open pull request has this head".to_owned(),
        Some([one]) => format!("pull request: {one}"),
        Some(many) => {
            let numbers: Vec<String> = many.iter().map(u64::to_string).collect();
            format!("pull requests: {}", numbers.join(", "))
        }
    };
    format!("accepted: {what} of stack {stack} at {sha}; {updated}\n")
}

/// `text` with control characters escaped, so that a reply cannot drive the terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    const HEAD: &str = "1111111111111111111111111111111111111111";
    const MERGE: &str = "2222222222222222222222222222222222222222";
    const OTHER: &str = "3333333333333333333333333333333333333333";

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).filter(|v| !v.trim().is_empty()).cloned()
    }

    fn event_file(json: &str) -> NamedTempFile {
        let mut file = NamedTempFile::new().expect("temp file");
        file.write_all(json.as_bytes()).expect("write");
        file
    }

    fn sha_of(env: &[(&str, &str)]) -> Result<String, String> {
        commit_from_env(&env_of(env)).map(|c| c.sha)
    }

    #[test]
    fn github_takes_the_pull_request_head_from_the_event_not_the_merge_commit() {
        let event = event_file(&format!(
            r#"{{"action":"synchronize","pull_request":{{"number":12,"head":{{"sha":"{HEAD}","ref":"f"}}}}}}"#
        ));
        let path = event.path().to_str().expect("utf-8");
        let commit = commit_from_env(&env_of(&[
            ("GITHUB_EVENT_PATH", path),
            ("GITHUB_SHA", MERGE),
        ]))
        .expect("a commit");
        assert_eq!(commit.sha, HEAD);
        assert!(commit.source.contains(path), "{commit:?}");
    }

    #[test]
    fn github_falls_back_to_github_sha_without_a_pull_request() {
        let event = event_file(r#"{"ref":"refs/heads/main","after":"x"}"#);
        let path = event.path().to_str().expect("utf-8");
        assert_eq!(
            sha_of(&[("GITHUB_EVENT_PATH", path), ("GITHUB_SHA", MERGE)]),
            Ok(MERGE.to_owned())
        );
        let null = event_file(r#"{"pull_request":null}"#);
        let path = null.path().to_str().expect("utf-8");
        assert_eq!(
            sha_of(&[("GITHUB_EVENT_PATH", path), ("GITHUB_SHA", MERGE)]),
            Ok(MERGE.to_owned())
        );
    }

    #[test]
    fn a_broken_or_missing_event_file_is_an_error_not_a_fallback() {
        let broken = event_file(r#"{"pull_request":{"head":{}}}"#);
        let path = broken.path().to_str().expect("utf-8");
        let err = sha_of(&[("GITHUB_EVENT_PATH", path), ("GITHUB_SHA", MERGE)]).unwrap_err();
        assert!(err.contains(path) && err.contains("sha"), "{err}");
        let err = sha_of(&[
            ("GITHUB_EVENT_PATH", "/nonexistent/event.json"),
            ("GITHUB_SHA", MERGE),
        ])
        .unwrap_err();
        assert!(err.contains("/nonexistent/event.json"), "{err}");
    }

    #[test]
    fn gitlab_prefers_the_merge_request_source_sha_when_set() {
        assert_eq!(
            sha_of(&[
                ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", HEAD),
                ("CI_COMMIT_SHA", MERGE)
            ]),
            Ok(HEAD.to_owned())
        );
        // Outside merged-results pipelines GitLab sets it empty.
        assert_eq!(
            sha_of(&[
                ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", ""),
                ("CI_COMMIT_SHA", OTHER)
            ]),
            Ok(OTHER.to_owned())
        );
    }

    #[test]
    fn no_commit_anywhere_or_a_malformed_one_is_an_error_naming_the_variable() {
        let err = sha_of(&[]).unwrap_err();
        assert!(err.contains("--commit"), "{err}");
        let err = sha_of(&[("CI_COMMIT_SHA", "main")]).unwrap_err();
        assert!(err.starts_with("CI_COMMIT_SHA:"), "{err}");
    }

    #[test]
    fn shas_are_full_and_lowercased() {
        assert_eq!(parse_sha(&HEAD.to_uppercase()), Ok(HEAD.to_owned()));
        assert!(parse_sha(&"a".repeat(64)).is_ok());
        assert!(parse_sha("abc1234").is_err());
        assert!(parse_sha(&"g".repeat(40)).is_err());
    }

    #[test]
    fn the_github_token_url_adds_the_audience_to_the_query() {
        let with_query = github_token_url(
            "https://pipelines.actions.githubusercontent.com/abc/idtoken?api-version=2.0",
            "iamgate",
        )
        .expect("url");
        assert_eq!(
            with_query.as_str(),
            "https://pipelines.actions.githubusercontent.com/abc/idtoken?api-version=2.0&audience=iamgate"
        );
        let without =
            github_token_url("https://example.com/idtoken", "https://iamgate.example.com")
                .expect("url");
        assert_eq!(
            without.as_str(),
            "https://example.com/idtoken?audience=https%3A%2F%2Fiamgate.example.com"
        );
        assert!(github_token_url("not a url", "iamgate").is_err());
    }

    #[test]
    fn github_actions_wins_then_iamgate_id_token_then_a_message_saying_what_to_set() {
        let github = token_source(
            &env_of(&[
                ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://t.example/x?a=1"),
                ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "req"),
                ("IAMGATE_ID_TOKEN", "given"),
            ]),
            "aud",
        );
        match github {
            Ok(TokenSource::GitHubActions { url, request }) => {
                assert_eq!(url.as_str(), "https://t.example/x?a=1&audience=aud");
                assert_eq!(request.0, "req");
            }
            other => panic!("{other:?}"),
        }
        // Only half of GitHub's pair (no `id-token: write`): the given token.
        match token_source(
            &env_of(&[
                ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://t.example/x"),
                ("IAMGATE_ID_TOKEN", " given\n"),
            ]),
            "aud",
        ) {
            Ok(TokenSource::Given(token)) => assert_eq!(token.0, "given"),
            other => panic!("{other:?}"),
        }
        let err = token_source(&env_of(&[]), "aud").unwrap_err();
        assert!(err.contains("id-token: write"), "{err}");
        assert!(
            err.contains("id_tokens: IAMGATE_ID_TOKEN: aud: aud"),
            "{err}"
        );
        let err = token_source(&env_of(&[("IAMGATE_ID_TOKEN", "a b")]), "aud").unwrap_err();
        assert!(!err.contains("a b"), "the token is never shown: {err}");
    }

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let source = TokenSource::Given(Secret("eyJ.secret.sig".to_owned()));
        assert!(!format!("{source:?}").contains("eyJ"));
    }

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        let argv = [&["iamgate", "submit"], args].concat();
        Cli::try_parse_from(argv).map(|cli| match cli.command {
            Command::Submit(args) => args,
            other => panic!("{other:?}"),
        })
    }

    #[test]
    fn the_audience_defaults_to_the_servers_default() {
        let args =
            parse(&["p.json", "--server", "https://x.example", "--stack", "prod"]).expect("valid");
        assert_eq!(args.audience, DEFAULT_AUDIENCE);
        // The server's `[ci] audience` when its config does not set one.
        let config = crate::config::server::ServerConfig::parse(
            "[gitlab]\nurl = \"https://git.example.com\"\ntoken = \"glpat-xxxxxxxxxxxx\"\nwebhook_secret = \"0123456789abcdef\"\n",
            [(
                "IAMGATE_AUDIT__KEY".to_owned(),
                "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff".to_owned(),
            )],
        )
        .expect("valid config");
        assert_eq!(config.ci.audience, args.audience);
        let args = parse(&[
            "p.json",
            "--server",
            "https://x.example",
            "--stack",
            "prod",
            "--audience",
            "https://iamgate.example",
        ])
        .expect("valid");
        assert_eq!(args.audience, "https://iamgate.example");
    }

    #[test]
    fn the_server_is_an_http_url_without_its_trailing_slash() {
        assert_eq!(
            parse_server("https://iamgate.example.com/"),
            Ok("https://iamgate.example.com".to_owned())
        );
        assert_eq!(
            parse_server("http://127.0.0.1:8080/gate/"),
            Ok("http://127.0.0.1:8080/gate".to_owned())
        );
        for bad in [
            "ftp://x.example",
            "iamgate.example.com",
            "https://x.example/?a=1",
            "https://user:pw@x.example",
        ] {
            assert!(parse_server(bad).is_err(), "{bad}");
        }
        assert!(parse(&["p.json", "--server", "x", "--stack", "prod"]).is_err());
        assert!(parse(&["p.json", "--server", "https://x.example", "--stack", ""]).is_err());
    }

    #[test]
    fn the_submission_url_encodes_its_query() {
        let url =
            submission_url("https://x.example/gate", "org/prod env&1", HEAD, true).expect("url");
        assert_eq!(url.path(), "/gate/api/v1/previews");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            [
                ("stack".to_owned(), "org/prod env&1".to_owned()),
                ("commit".to_owned(), HEAD.to_owned()),
                ("failed".to_owned(), "true".to_owned()),
            ]
        );
        let url = submission_url("https://x.example", "prod", HEAD, false).expect("url");
        assert!(!url.as_str().contains("failed"), "{url}");
    }

    #[test]
    fn retries_back_off_exponentially_from_the_base() {
        let retry = Retry::from_env(&env_of(&[]));
        assert_eq!(retry.tries, 5);
        let delays: Vec<Duration> = (1..5).map(|n| retry.delay(n)).collect();
        assert_eq!(
            delays,
            [1, 2, 4, 8].map(Duration::from_secs),
            "waits between 5 tries"
        );
        let fast = Retry::from_env(&env_of(&[(RETRY_BASE_VAR, "3")]));
        assert_eq!(fast.delay(3), Duration::from_millis(12));
    }

    #[test]
    fn error_reasons_come_from_the_json_else_the_body_start_and_are_printable() {
        let reply = |body: &str| Reply {
            status: StatusCode::CONFLICT,
            location: None,
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(
            reply(r#"{"error":"not the head of an open pull request"}"#).reason(),
            "not the head of an open pull request"
        );
        let html = format!("<html>{}</html>", "x".repeat(500));
        let reason = reply(&html).reason();
        assert_eq!(
            reason.chars().count(),
            201,
            "200 characters and the cut mark"
        );
        assert!(reason.starts_with("<html>xxx"));
        assert_eq!(
            reply("{\"error\":\"a\\u001b[31mb\"}").reason(),
            "a\\u{1b}[31mb"
        );
    }

    #[test]
    fn the_accepted_line_lists_every_pull_request() {
        assert_eq!(
            accepted_line("preview", "prod", HEAD, Some(&[12, 14])),
            format!("accepted: preview of stack prod at {HEAD}; pull requests: 12, 14\n")
        );
        assert!(accepted_line("preview", "prod", HEAD, Some(&[7])).ends_with("pull request: 7\n"));
    }
}
