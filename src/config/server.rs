//! The server config (TOML, `--config FILE` or `IAMGATE_CONFIG`), with every key overridable by
//! `IAMGATE_<SECTION>__<KEY>` (env wins over the file). Parsed raw (`raw`), then validated here
//! into `ServerConfig`, collecting every problem with its key path and line. Secrets are
//! `Secret`s from the moment they are read; nothing here logs.

mod raw;
mod reader;
mod secret;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use self::raw::{Raw, Value};
use self::reader::{Reader, type_name};
pub use self::secret::{SIGNING_TOKEN_PREFIX, Secret, signing_key};
use super::problems::{Problem, Problems};

pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";
/// GitHub's own payload cap (25 MiB).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 25 * 1024 * 1024;
/// Unless set, the bodies being read before their signature is checked may hold this many times
/// `max_body_bytes` together (100 MiB with the default limit).
pub const DEFAULT_BODY_BYTES_IN_FLIGHT_FACTOR: u64 = 4;
pub const DEFAULT_MAX_CONNECTIONS: u64 = 1024;
/// A client has this long to send a request's headers (and an idle keep-alive connection this
/// long to start its next request).
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
/// A request, from its headers to the end of its response, must be done within this.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 60;
pub const DEFAULT_STORE_URL: &str = "sqlite://data/iamgate.db";
pub const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com";
pub const DEFAULT_GITLAB_URL: &str = "https://gitlab.com";
pub const DEFAULT_PULUMI_COMMAND: &str = "pulumi";
pub const DEFAULT_PULUMI_TIMEOUT_SECS: u64 = 900;
pub const DEFAULT_PULUMI_MAX_CONCURRENT: u64 = 2;
pub const DEFAULT_PULUMI_MAX_OUTPUT_BYTES: u64 = 64 * 1024 * 1024;
pub const DEFAULT_PULUMI_MEMORY_MB: u64 = 4096;
pub const DEFAULT_PULUMI_MAX_PROCESSES: u64 = 1024;
pub const DEFAULT_PULUMI_DISK_MB: u64 = 10240;
/// Jobs of the preview lane (pull requests whose head needs a preview) at the same time.
pub const DEFAULT_WORKER_CONCURRENCY: u64 = 4;
/// Jobs of the fast lane (commands, gate decisions from cached previews, rechecks) at the same
/// time.
pub const DEFAULT_WORKER_FAST_CONCURRENCY: u64 = 4;
/// Comments with commands one person may make per repository and minute.
pub const DEFAULT_WORKER_COMMAND_RATE_PER_MINUTE: u64 = 10;
/// The worker renews the leases of running jobs; a dead worker's jobs return after this.
pub const DEFAULT_WORKER_LEASE_SECS: u64 = 60;
pub const DEFAULT_WORKER_MAX_ATTEMPTS: u64 = 8;
/// Webhook secrets shorter than this are guessable.
pub const MIN_SECRET_CHARS: usize = 16;
/// A GitLab signing token's key is at least this long (GitLab generates 32 bytes; Standard
/// Webhooks allows 24 to 64).
pub const MIN_SIGNING_KEY_BYTES: usize = 24;
/// An audit key holds at least this many bytes, given as hex (`audit::key::MIN_KEY_BYTES`, the
/// rule the chain itself applies).
pub const MIN_AUDIT_KEY_BYTES: usize = 32;

/// A validated server config.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub server: HttpConfig,
    pub store: StoreConfig,
    pub github: Option<GitHubConfig>,
    pub gitlab: Option<GitLabConfig>,
    pub ci: CiConfig,
    pub pulumi: PulumiConfig,
    pub worker: WorkerSettings,
    pub audit: AuditConfig,
}

/// `[audit]`: the keys of the audit chain, kept out of the store (docs/audit.md).
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// The key new records are keyed with: hex of at least [`MIN_AUDIT_KEY_BYTES`] bytes.
    pub key: Secret,
    /// Keys used before (rotation): they verify the records and votes written under them.
    pub previous_keys: Vec<Secret>,
}

/// `[server]`
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    pub max_body_bytes: usize,
    /// `max_body_bytes_in_flight`: the bytes of request bodies held at once before their
    /// signature is checked; at least `max_body_bytes`.
    pub max_body_bytes_in_flight: usize,
    /// `max_connections`: open connections at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// `header_read_timeout_secs`: the time to send a request's headers, and the longest an idle
    /// keep-alive connection is kept.
    pub header_read_timeout: Duration,
    /// `request_timeout_secs`: a request's whole time, from its headers to the end of its
    /// response; past it the connection is closed.
    pub request_timeout: Duration,
}

/// `[store]`
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite://PATH` (one replica) or `postgres://...` (any number of replicas).
    pub url: String,
    /// `data_dir`: this replica's own files (the preview cache, the package caches). `None`:
    /// the SQLite file's directory; with PostgreSQL, `data`.
    pub data_dir: Option<PathBuf>,
}

/// `[github]`: a GitHub App.
#[derive(Debug, Clone)]
pub struct GitHubConfig {
    pub app_id: u64,
    pub private_key_path: PathBuf,
    /// The PEM text of the App's RSA private key, read and checked at validation.
    pub private_key: Secret,
    pub webhook_secret: Secret,
    /// Without a trailing slash.
    pub api_url: String,
}

/// GitHub Actions' OIDC issuer (github.com; GitHub Enterprise Server's is
/// `https://HOST/_services/token`).
pub const DEFAULT_GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// `[ci]`: the OIDC ID tokens CI jobs submit previews with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiConfig {
    /// The `aud` a token must carry (default `iamgate`).
    pub audience: String,
    /// GitHub Actions' issuer, exactly as the tokens' `iss`.
    pub github_issuer: String,
    /// GitLab CI's issuer (default: `[gitlab] url`), exactly as the tokens' `iss`; `None` without
    /// `[gitlab]` and without this key.
    pub gitlab_issuer: Option<String>,
}

/// `[gitlab]`
#[derive(Debug, Clone)]
pub struct GitLabConfig {
    /// Without a trailing slash.
    pub url: String,
    pub token: Secret,
    /// Sent back by GitLab in clear as `X-Gitlab-Token`.
    pub webhook_secret: Secret,
    /// The webhook's signing token (`whsec_<base64>`), when set: deliveries must then also carry
    /// a valid `webhook-signature` (GitLab's Standard Webhooks signing).
    pub signing_token: Option<Secret>,
    /// `team_membership`: which members of a group count for `from.teams` and `overrides`.
    pub team_membership: TeamMembership,
    /// `approve_merge_requests`: iamgate approves a merge request (as the token's user) while
    /// its verdict on the head is `success`, and withdraws the approval otherwise, so that an
    /// approval rule requiring that user blocks merges (Premium): the mechanism that holds on
    /// fork merge requests whose CI runs in the fork, merged-results pipelines and merge trains.
    pub approve_merge_requests: bool,
}

/// Which members of a group count as members of the "team" it names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TeamMembership {
    /// Members of the group itself (`GET /groups/:id/members/:user_id`): not those inherited
    /// from a parent group nor those of a group invited into it.
    #[default]
    Direct,
    /// Also members inherited from parent groups and through invited groups
    /// (`GET /groups/:id/members/all/:user_id`): `from.teams: [acme/security]` is then met by
    /// every Developer of `acme`. An explicit choice, never the default.
    Inherited,
}

/// `[pulumi]`
#[derive(Debug, Clone)]
pub struct PulumiConfig {
    pub command: String,
    pub timeout: Duration,
    pub max_concurrent: usize,
    pub allow_fork_prs: bool,
    pub max_output_bytes: usize,
    /// Previews run in the bubblewrap sandbox (default); `false` is an explicit opt-out.
    pub sandbox: bool,
    /// `<command> install` runs before each preview (default).
    pub install: bool,
    /// `memory_mb`: the memory one process of a sandboxed run may allocate, in MiB.
    pub memory_mb: u64,
    /// `max_processes`: processes and threads of one sandboxed run at once.
    pub max_processes: u64,
    /// `disk_mb`: how much one run may add to its workspace, HOME and caches, in MiB.
    pub disk_mb: u64,
    /// The repositories whose pull requests are previewed at all; `None`: every repository.
    pub repositories: Option<Repositories>,
    /// `[pulumi.repo_env."owner/name"]` and `[pulumi.repo_env."owner/name:stack"]`: more
    /// environment for one repository's previews (and one stack's), over `[pulumi.env]`. Keys
    /// are kept as written; matching ignores case.
    pub repo_env: BTreeMap<String, BTreeMap<String, Secret>>,
    /// `[pulumi.env]`: extra environment for previews (credentials).
    pub env: BTreeMap<String, Secret>,
}

/// `[pulumi] repositories`: the allow-list of repositories (`owner/name`, GitLab's
/// `group/subgroup/project`) whose pull requests iamgate previews. `*` stays within one path
/// segment, `**` crosses them; matching ignores case, as the forges do.
#[derive(Debug, Clone)]
pub struct Repositories {
    patterns: Vec<String>,
    set: globset::GlobSet,
}

impl Repositories {
    /// Parses `acme/*, platform/infra`; the error names the pattern at fault.
    pub fn parse(text: &str) -> Result<Repositories, String> {
        let patterns: Vec<String> = text
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        if patterns.is_empty() {
            return Err(
                "expected repository globs separated by commas, e.g. `acme/*, platform/infra`"
                    .to_owned(),
            );
        }
        let mut builder = globset::GlobSetBuilder::new();
        for pattern in &patterns {
            let glob = globset::GlobBuilder::new(pattern)
                .literal_separator(true)
                .case_insensitive(true)
                .build()
                .map_err(|e| format!("`{pattern}` is not a valid glob: {}", e.kind()))?;
            builder.add(glob);
        }
        let set = builder
            .build()
            .map_err(|e| format!("the globs cannot be used: {e}"))?;
        Ok(Repositories { patterns, set })
    }

    /// Whether pull requests of `repo` are previewed.
    pub fn allows(&self, repo: &str) -> bool {
        self.set.is_match(repo)
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

/// `[worker]`: maps onto `queue::worker::WorkerConfig` (which adds timings of its own).
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Jobs of the preview lane at the same time (`concurrency`).
    pub concurrency: usize,
    /// Jobs of the fast lane at the same time (`fast_concurrency`).
    pub fast_concurrency: usize,
    /// `command_rate_per_minute`.
    pub command_rate_per_minute: u32,
    /// How long a claim holds without renewal (running jobs are renewed).
    pub lease: Duration,
    pub max_attempts: u32,
}

/// The config file named by `--config`, else by `IAMGATE_CONFIG`.
pub fn config_path(flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("IAMGATE_CONFIG").map(PathBuf::from))
}

/// The process's `IAMGATE_*` variables (non-UTF-8 ones cannot be config values and are skipped).
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.starts_with("IAMGATE_"))
        .collect()
}

impl ServerConfig {
    /// Reads the file (if any) and applies `env` over it. Without a file, everything comes from
    /// the environment.
    pub fn load<I>(path: Option<&Path>, env: I) -> Result<ServerConfig, Problems>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let text = match path {
            None => String::new(),
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                Problems(vec![Problem {
                    path: String::new(),
                    line: None,
                    message: format!("cannot read {}: {e}", path.display()),
                }])
            })?,
        };
        ServerConfig::parse(&text, env)
    }

    /// Parses TOML text, applies `env` over it, and validates. Relative paths (the private key)
    /// are relative to the working directory.
    pub fn parse<I>(text: &str, env: I) -> Result<ServerConfig, Problems>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut problems = Problems::default();
        let Some(mut raw) = Raw::from_toml(text, &mut problems) else {
            return Err(problems);
        };
        raw.apply_env(env, &mut problems);
        raw.read_secret_files(&mut problems);
        let config = Reader {
            raw: &raw,
            problems: &mut problems,
        }
        .config();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }
}

impl Reader<'_> {
    fn config(&mut self) -> ServerConfig {
        let server = self.http();
        let url = self.store_url();
        let data_dir = self.string("store.data_dir").map(PathBuf::from);
        let store = StoreConfig { url, data_dir };
        let github = self.configured("github").then(|| self.github());
        let gitlab = self.configured("gitlab").then(|| self.gitlab());
        if github.is_none() && gitlab.is_none() {
            self.problems.push(
                "",
                "no forge configured: add a [github] section (a GitHub App) or a [gitlab] section",
            );
        }
        let pulumi = self.pulumi();
        let worker = self.worker();
        let audit = self.audit();
        let ci = self.ci(gitlab.as_ref().map(|gl| gl.url.as_str()));
        ServerConfig {
            server,
            store,
            github,
            gitlab,
            ci,
            pulumi,
            worker,
            audit,
        }
    }

    /// `[audit]`: the current key is required; `previous_keys` holds any number, separated by
    /// commas, spaces or newlines (a `previous_keys_file` with one per line).
    fn audit(&mut self) -> AuditConfig {
        let raw = self.raw;
        let key = self
            .required(
                "audit.key",
                "the audit trail's key, kept out of the store: create it with \
                 `openssl rand -hex 32 > /etc/iamgate/audit.key` (readable by iamgate only) and \
                 set key_file = \"/etc/iamgate/audit.key\" or IAMGATE_AUDIT__KEY_FILE",
            )
            .unwrap_or_default();
        if !key.trim().is_empty() && !is_audit_key(&key) {
            self.problem("audit.key", raw.entries.get("audit.key"), audit_key_rule());
        }
        let mut previous_keys = Vec::new();
        if let Some(text) = self.string("audit.previous_keys") {
            let keys: Vec<&str> = text
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|k| !k.is_empty())
                .collect();
            if keys.iter().any(|k| !is_audit_key(k)) {
                let entry = raw.entries.get("audit.previous_keys");
                self.problem(
                    "audit.previous_keys",
                    entry,
                    format!("{}; separate keys by commas or newlines", audit_key_rule()),
                );
            }
            previous_keys = keys.into_iter().map(Secret::new).collect();
        }
        AuditConfig {
            key: Secret::new(key.trim()),
            previous_keys,
        }
    }

    fn http(&mut self) -> HttpConfig {
        let max_body_bytes = self.positive("server.max_body_bytes", DEFAULT_MAX_BODY_BYTES);
        HttpConfig {
            listen: self.listen(),
            max_body_bytes,
            max_body_bytes_in_flight: self.body_bytes_in_flight(max_body_bytes),
            max_connections: self.positive("server.max_connections", DEFAULT_MAX_CONNECTIONS),
            header_read_timeout: Duration::from_secs(
                self.positive_opt("server.header_read_timeout_secs")
                    .unwrap_or(DEFAULT_HEADER_READ_TIMEOUT_SECS),
            ),
            request_timeout: Duration::from_secs(
                self.positive_opt("server.request_timeout_secs")
                    .unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECS),
            ),
        }
    }

    /// `server.max_body_bytes_in_flight`, at least `max_body_bytes` (else a body of the largest
    /// size could never be read); by default a few times it.
    fn body_bytes_in_flight(&mut self, max_body_bytes: usize) -> usize {
        const PATH: &str = "server.max_body_bytes_in_flight";
        let factor = usize::try_from(DEFAULT_BODY_BYTES_IN_FLIGHT_FACTOR).unwrap_or(usize::MAX);
        let Some(set) = self.positive_opt(PATH) else {
            return max_body_bytes.saturating_mul(factor);
        };
        let set = usize::try_from(set).unwrap_or(usize::MAX);
        if set < max_body_bytes {
            let entry = self.raw.entries.get(PATH);
            self.problem(
                PATH,
                entry,
                format!(
                    "must be at least server.max_body_bytes ({max_body_bytes}): a body of the \
                     largest size could never be read"
                ),
            );
        }
        set
    }

    fn listen(&mut self) -> SocketAddr {
        let fallback = SocketAddr::from(([0, 0, 0, 0], 8080));
        let Some(text) = self.string("server.listen") else {
            return fallback;
        };
        match text.trim().parse() {
            Ok(addr) => addr,
            Err(_) => {
                let entry = self.raw.entries.get("server.listen");
                self.problem(
                    "server.listen",
                    entry,
                    format!("expected an IP address and port such as `{DEFAULT_LISTEN}`"),
                );
                fallback
            }
        }
    }

    fn store_url(&mut self) -> String {
        let url = self
            .string("store.url")
            .unwrap_or_else(|| DEFAULT_STORE_URL.to_owned());
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // What the store will connect with (nothing is connected here).
            if let Err(error) = url.parse::<sqlx::postgres::PgConnectOptions>() {
                let entry = self.raw.entries.get("store.url");
                self.problem(
                    "store.url",
                    entry,
                    format!("invalid PostgreSQL url: {error}"),
                );
            }
            return url;
        }
        let path = url.strip_prefix("sqlite://").unwrap_or_default();
        if path.trim().is_empty() {
            let entry = self.raw.entries.get("store.url");
            self.problem(
                "store.url",
                entry,
                "expected `sqlite://PATH` (e.g. `sqlite://data/iamgate.db`) or \
                 `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (several replicas)",
            );
        }
        url
    }

    /// An http(s) URL, without its trailing slash.
    fn http_url(&mut self, path: &str, default: &str) -> String {
        let url = self.string(path).unwrap_or_else(|| default.to_owned());
        let url = url.trim().trim_end_matches('/').to_owned();
        let host = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .unwrap_or_default();
        if host.is_empty() || host.starts_with('/') || host.contains(char::is_whitespace) {
            let entry = self.raw.entries.get(path);
            self.problem(
                path,
                entry,
                format!("expected an http:// or https:// URL such as `{default}`"),
            );
        }
        url
    }

    fn webhook_secret(&mut self, path: &str) -> Secret {
        let raw = self.raw;
        let secret = self
            .required(path, "the secret the forge signs deliveries with")
            .unwrap_or_default();
        if !secret.is_empty() && secret.chars().count() < MIN_SECRET_CHARS {
            self.problem(
                path,
                raw.entries.get(path),
                format!("too short: use at least {MIN_SECRET_CHARS} random characters"),
            );
        }
        Secret::new(secret)
    }

    fn github(&mut self) -> GitHubConfig {
        let raw = self.raw;
        let app_id = match raw.entries.get("github.app_id") {
            None => {
                self.problem(
                    "github.app_id",
                    None,
                    "missing: the GitHub App's numeric id",
                );
                0
            }
            Some(_) => self.positive_opt("github.app_id").unwrap_or(0),
        };
        let key_path = self.required(
            "github.private_key_path",
            "the path of the App's private key (.pem)",
        );
        let private_key = match &key_path {
            None => Secret::default(),
            Some(p) => match read_rsa_key(Path::new(p)) {
                Ok(key) => key,
                Err(reason) => {
                    let entry = raw.entries.get("github.private_key_path");
                    self.problem("github.private_key_path", entry, reason);
                    Secret::default()
                }
            },
        };
        GitHubConfig {
            app_id,
            private_key_path: key_path.map(PathBuf::from).unwrap_or_default(),
            private_key,
            webhook_secret: self.webhook_secret("github.webhook_secret"),
            api_url: self.http_url("github.api_url", DEFAULT_GITHUB_API_URL),
        }
    }

    fn gitlab(&mut self) -> GitLabConfig {
        GitLabConfig {
            url: self.http_url("gitlab.url", DEFAULT_GITLAB_URL),
            token: Secret::new(
                self.required("gitlab.token", "an access token with the `api` scope")
                    .unwrap_or_default(),
            ),
            webhook_secret: self.webhook_secret("gitlab.webhook_secret"),
            signing_token: self.signing_token("gitlab.signing_token"),
            team_membership: self.team_membership("gitlab.team_membership"),
            approve_merge_requests: self.bool("gitlab.approve_merge_requests", false),
        }
    }

    /// `[ci]`: the audience (non-empty), and issuers as `https://` URLs (`http://` only for a
    /// loopback host, as tests and local setups use), without a trailing slash.
    fn ci(&mut self, gitlab_url: Option<&str>) -> CiConfig {
        let raw = self.raw;
        let audience = self
            .string("ci.audience")
            .unwrap_or_else(|| "iamgate".to_owned());
        if audience.trim().is_empty() {
            self.problem(
                "ci.audience",
                raw.entries.get("ci.audience"),
                "must not be empty",
            );
        }
        let issuer = |reader: &mut Self, key: &str, default: Option<&str>| {
            let value = reader.string(key).or_else(|| default.map(str::to_owned))?;
            let value = value.trim().trim_end_matches('/').to_owned();
            let host = value
                .strip_prefix("https://")
                .or_else(|| {
                    value.strip_prefix("http://").filter(|rest| {
                        ["127.0.0.1", "localhost", "[::1]"]
                            .iter()
                            .any(|h| rest.starts_with(h))
                    })
                })
                .unwrap_or_default();
            if host.is_empty() || host.contains(char::is_whitespace) {
                reader.problem(
                    key,
                    raw.entries.get(key),
                    "expected the issuer's https:// URL, exactly as its tokens' `iss` (http:// only on a loopback host)",
                );
            }
            Some(value)
        };
        let github_issuer = issuer(self, "ci.github_issuer", Some(DEFAULT_GITHUB_ISSUER))
            .unwrap_or_else(|| DEFAULT_GITHUB_ISSUER.to_owned());
        let gitlab_issuer = issuer(self, "ci.gitlab_issuer", gitlab_url);
        CiConfig {
            audience,
            github_issuer,
            gitlab_issuer,
        }
    }

    /// `direct` (the default) or `inherited`.
    fn team_membership(&mut self, path: &str) -> TeamMembership {
        let raw = self.raw;
        let Some(text) = self.string(path) else {
            return TeamMembership::Direct;
        };
        match text.trim() {
            "direct" => TeamMembership::Direct,
            "inherited" => TeamMembership::Inherited,
            _ => {
                self.problem(
                    path,
                    raw.entries.get(path),
                    "expected `direct` (members of the group itself) or `inherited` (also members \
                     of its parent groups and of groups invited into it)",
                );
                TeamMembership::Direct
            }
        }
    }

    /// An optional `whsec_<base64>` signing token, as GitLab generates them (a 32-byte key).
    fn signing_token(&mut self, path: &str) -> Option<Secret> {
        let raw = self.raw;
        let token = self.string(path)?;
        let key_len = signing_key(token.trim()).map(|key| key.len());
        if key_len.is_none_or(|len| len < MIN_SIGNING_KEY_BYTES) {
            self.problem(
                path,
                raw.entries.get(path),
                format!(
                    "expected GitLab's signing token: `whsec_` and the base64 of a key of at \
                     least {MIN_SIGNING_KEY_BYTES} bytes, as the webhook settings show it"
                ),
            );
        }
        Some(Secret::new(token.trim()))
    }

    fn pulumi(&mut self) -> PulumiConfig {
        let raw = self.raw;
        let command = match self.string("pulumi.command") {
            None => DEFAULT_PULUMI_COMMAND.to_owned(),
            Some(c) if c.trim().is_empty() => {
                let entry = raw.entries.get("pulumi.command");
                self.problem(
                    "pulumi.command",
                    entry,
                    "must not be empty: the pulumi executable",
                );
                c
            }
            Some(c) => c,
        };
        let mut env = BTreeMap::new();
        for (path, entry) in raw.entries.range("pulumi.env.".to_owned()..) {
            let Some(name) = path.strip_prefix("pulumi.env.") else {
                break;
            };
            if !is_env_name(name) {
                self.problem(path, Some(entry), "not a valid environment variable name");
            }
            match &entry.value {
                Value::Str(v) => {
                    env.insert(name.to_owned(), Secret::new(v.clone()));
                }
                other => {
                    let found = type_name(other);
                    self.problem(
                        path,
                        Some(entry),
                        format!("expected a string, found {found}"),
                    );
                }
            }
        }
        let repo_env = self.repo_env();
        PulumiConfig {
            repo_env,
            command,
            timeout: Duration::from_secs(
                self.positive_opt("pulumi.timeout_secs")
                    .unwrap_or(DEFAULT_PULUMI_TIMEOUT_SECS),
            ),
            max_concurrent: self.positive("pulumi.max_concurrent", DEFAULT_PULUMI_MAX_CONCURRENT),
            allow_fork_prs: self.bool("pulumi.allow_fork_prs", false),
            max_output_bytes: self
                .positive("pulumi.max_output_bytes", DEFAULT_PULUMI_MAX_OUTPUT_BYTES),
            sandbox: self.bool("pulumi.sandbox", true),
            install: self.bool("pulumi.install", true),
            memory_mb: self
                .positive_opt("pulumi.memory_mb")
                .unwrap_or(DEFAULT_PULUMI_MEMORY_MB),
            max_processes: self
                .positive_opt("pulumi.max_processes")
                .unwrap_or(DEFAULT_PULUMI_MAX_PROCESSES),
            disk_mb: self
                .positive_opt("pulumi.disk_mb")
                .unwrap_or(DEFAULT_PULUMI_DISK_MB),
            repositories: self.repositories("pulumi.repositories"),
            env,
        }
    }

    /// `pulumi.repo_env.<owner/name[:stack]>.<VAR>` entries, by repository (and stack).
    fn repo_env(&mut self) -> BTreeMap<String, BTreeMap<String, Secret>> {
        let raw = self.raw;
        let mut by_repo: BTreeMap<String, BTreeMap<String, Secret>> = BTreeMap::new();
        for (path, entry) in raw.entries.range("pulumi.repo_env.".to_owned()..) {
            let Some(rest) = path.strip_prefix("pulumi.repo_env.") else {
                break;
            };
            // Variable names hold no dot; repository names may.
            let Some((repo, var)) = rest.rsplit_once('.') else {
                continue;
            };
            let (name, stack) = match repo.split_once(':') {
                Some((name, stack)) => (name, Some(stack)),
                None => (repo, None),
            };
            let valid_repo = name.split('/').count() >= 2
                && name.split('/').all(|part| !part.is_empty())
                && !repo.contains(char::is_whitespace)
                && stack.is_none_or(|stack| !stack.is_empty());
            if !valid_repo {
                self.problem(
                    path,
                    Some(entry),
                    "expected a repository as `owner/name` (GitLab: `group/project`), \
                     optionally `:stack`",
                );
            }
            if !is_env_name(var) {
                self.problem(path, Some(entry), "not a valid environment variable name");
            }
            match &entry.value {
                Value::Str(v) => {
                    by_repo
                        .entry(repo.to_owned())
                        .or_default()
                        .insert(var.to_owned(), Secret::new(v.clone()));
                }
                other => {
                    let found = type_name(other);
                    self.problem(
                        path,
                        Some(entry),
                        format!("expected a string, found {found}"),
                    );
                }
            }
        }
        by_repo
    }

    /// A comma-separated list of repository globs (`acme/*`, `group/**`, `acme/infra`).
    fn repositories(&mut self, path: &str) -> Option<Repositories> {
        let raw = self.raw;
        let text = self.string(path)?;
        match Repositories::parse(&text) {
            Ok(repositories) => Some(repositories),
            Err(message) => {
                self.problem(path, raw.entries.get(path), message);
                None
            }
        }
    }

    fn worker(&mut self) -> WorkerSettings {
        WorkerSettings {
            concurrency: self.positive("worker.concurrency", DEFAULT_WORKER_CONCURRENCY),
            fast_concurrency: self
                .positive("worker.fast_concurrency", DEFAULT_WORKER_FAST_CONCURRENCY),
            command_rate_per_minute: self
                .positive_opt("worker.command_rate_per_minute")
                .unwrap_or(DEFAULT_WORKER_COMMAND_RATE_PER_MINUTE)
                .try_into()
                .unwrap_or(u32::MAX),
            lease: Duration::from_secs(
                self.positive_opt("worker.lease_secs")
                    .unwrap_or(DEFAULT_WORKER_LEASE_SECS),
            ),
            max_attempts: self
                .positive_opt("worker.max_attempts")
                .unwrap_or(DEFAULT_WORKER_MAX_ATTEMPTS)
                .try_into()
                .unwrap_or(u32::MAX),
        }
    }
}

/// Hex of at least [`MIN_AUDIT_KEY_BYTES`] bytes.
fn is_audit_key(text: &str) -> bool {
    hex::decode(text.trim()).is_ok_and(|bytes| bytes.len() >= MIN_AUDIT_KEY_BYTES)
}

fn audit_key_rule() -> String {
    format!(
        "expected a key as hex digits, at least {} of them ({MIN_AUDIT_KEY_BYTES} random bytes), \
         e.g. from `openssl rand -hex 32`",
        MIN_AUDIT_KEY_BYTES * 2
    )
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Reads a PEM RSA private key (PKCS#1, as GitHub issues them, or PKCS#8).
fn read_rsa_key(path: &Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let labelled = text.contains("-----BEGIN RSA PRIVATE KEY-----")
        || text.contains("-----BEGIN PRIVATE KEY-----");
    if !labelled || jsonwebtoken::EncodingKey::from_rsa_pem(text.as_bytes()).is_err() {
        return Err(format!(
            "`{}` is not a PEM RSA private key: download the key from the GitHub App's settings",
            path.display()
        ));
    }
    Ok(Secret::new(text))
}

#[cfg(test)]
mod tests;
