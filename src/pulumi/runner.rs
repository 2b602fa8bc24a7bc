//! Running `<command> preview --json --non-interactive --stack <stack>` for one stack.
//!
//! Owns the child's environment (cleared, then only `PATH`, a fresh `HOME`, the headless pulumi
//! variables and the configured `[pulumi.env]`: none of iamgate's own secrets), its isolation
//! (`sandbox`: bubblewrap, unless explicitly off), the concurrency limit, the timeout, the caps
//! on output, memory, processes and disk, and masking configured values in what the run printed.
//! It does not
//! parse the output (the engine does) and does not judge the exit code (a failed preview can still
//! print its digest: the caller decides). It never logs stderr or environment values.

mod disk;
mod mask;
mod process;
pub mod sandbox;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::process::Command;
use tokio::sync::Semaphore;

use disk::DiskWatch;
use mask::{Secrets, Tail};
use process::{Ending, Plan};
use sandbox::{Limits, Mounts, Sandbox, resolve_program};

/// How much of stderr is kept (its end).
const STDERR_KEEP: usize = 64 * 1024;

/// Default time between SIGTERM and SIGKILL after a timeout.
const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// Variables set for every preview before `[pulumi.env]` (which may override them). Real pulumi
/// variables only (reference §7): no update check, no colour codes in the captured text.
const FIXED_ENV: [(&str, &str); 2] = [("PULUMI_SKIP_UPDATE_CHECK", "true"), ("NO_COLOR", "1")];

/// How previews are isolated from iamgate.
#[derive(Debug, Clone)]
pub enum Isolation {
    /// In a bubblewrap sandbox (`[pulumi] sandbox = true`, the default).
    Sandbox(Sandbox),
    /// Unisolated: `[pulumi] sandbox = false`, an explicit opt-out.
    Off,
    /// The sandbox is asked for but cannot be set up here: every preview fails closed with this
    /// reason, and the pull request's code is not run.
    Unavailable(String),
}

/// How previews are run (`[pulumi]` of the server config).
#[derive(Clone)]
pub struct RunnerConfig {
    /// The pulumi executable: a name looked up on `PATH`, or a path.
    pub command: String,
    pub timeout: Duration,
    /// Previews running at once; 0 is treated as 1.
    pub max_concurrent: usize,
    /// `[pulumi.env]`: the only environment the preview gets besides the fixed variables.
    /// Values of 4 characters or more are masked in stderr.
    pub env: BTreeMap<String, String>,
    /// stdout beyond this is an error and the preview is killed.
    pub max_output_bytes: usize,
    pub isolation: Isolation,
    /// `[pulumi] install`: `<command> install` runs before each preview.
    pub install: bool,
    /// More environment for one repository's runs (key `owner/name`), or one stack's
    /// (`owner/name:stack`), over `env`: keys lower-case. Masked like `env`.
    pub repo_env: BTreeMap<String, BTreeMap<String, String>>,
    pub limits: RunLimits,
}

/// What one run (install or preview) may use (`[pulumi] memory_mb`, `max_processes`,
/// `disk_mb`). Memory and processes are enforced in the sandbox only; the disk limit always.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    /// The memory one process may allocate (`RLIMIT_DATA`); also the most its `/tmp` (a tmpfs)
    /// may hold.
    pub memory_bytes: u64,
    /// Processes and threads at once (`RLIMIT_NPROC`, per sandbox).
    pub processes: u64,
    /// How much the run may add to its workspace, HOME and caches; also the largest file.
    pub disk_bytes: u64,
}

impl Default for RunLimits {
    fn default() -> Self {
        const MIB: u64 = 1024 * 1024;
        RunLimits {
            memory_bytes: 4096 * MIB,
            processes: 1024,
            disk_bytes: 10240 * MIB,
        }
    }
}

impl RunLimits {
    fn sandbox(&self) -> Limits {
        Limits {
            memory_bytes: self.memory_bytes,
            processes: self.processes,
            file_bytes: self.disk_bytes,
            tmp_bytes: self.memory_bytes.min(self.disk_bytes),
        }
    }
}

/// Names the environment keys but never prints their values (they are credentials).
impl fmt::Debug for RunnerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunnerConfig")
            .field("command", &self.command)
            .field("timeout", &self.timeout)
            .field("max_concurrent", &self.max_concurrent)
            .field("env_keys", &self.env.keys().collect::<Vec<_>>())
            .field("max_output_bytes", &self.max_output_bytes)
            .field("isolation", &self.isolation)
            .field("install", &self.install)
            .field("repo_env_keys", &self.repo_env.keys().collect::<Vec<_>>())
            .field("limits", &self.limits)
            .finish()
    }
}

/// Where one run happens.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// The unpacked repository: the only place the program may write, besides `caches`.
    pub workspace: &'a Path,
    /// The stack's directory inside `workspace`: where the command runs.
    pub project_dir: &'a Path,
    /// The repository's package-manager and plugin caches, kept between runs (writable); the
    /// package managers and pulumi are pointed at it. `None`: nothing is kept.
    pub caches: Option<&'a Path>,
    /// The repository (`owner/name`) and the stack the run is for, which pick the
    /// [`RunnerConfig::repo_env`] that applies; `None`: only `[pulumi.env]`.
    pub repo: Option<&'a str>,
    pub stack: Option<&'a str>,
}

/// The caches under [`Place::caches`], by the variable that points a tool at its directory.
const CACHE_ENV: [(&str, &str); 10] = [
    ("PULUMI_HOME", "pulumi"),
    ("npm_config_cache", "npm"),
    ("YARN_CACHE_FOLDER", "yarn"),
    ("npm_config_store_dir", "pnpm"),
    ("PIP_CACHE_DIR", "pip"),
    ("POETRY_CACHE_DIR", "poetry"),
    ("UV_CACHE_DIR", "uv"),
    ("GOMODCACHE", "go/mod"),
    ("GOCACHE", "go/build"),
    ("NUGET_PACKAGES", "nuget"),
];

/// What a run (`install` or `preview`) that ran to its end produced. A non-zero exit is not an
/// error here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    /// `None` when the process was ended by a signal.
    pub exit_code: Option<i32>,
    pub stdout: Vec<u8>,
    /// The last 64 KiB of stderr, `[pulumi.env]` values replaced by `***`.
    pub stderr: String,
    pub duration: Duration,
}

/// Why a preview produced no output to parse. Messages are meant for a PR comment.
#[derive(Debug, Error)]
pub enum RunError {
    #[error(
        "could not run `{command}`: {source}; check [pulumi] command and that the pulumi CLI is \
         installed where iamgate runs"
    )]
    Spawn {
        command: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "pulumi {step} did not finish within {}; raise [pulumi] timeout_secs or make the \
         {step} faster",
        human_duration(*after)
    )]
    Timeout {
        step: &'static str,
        after: Duration,
        /// The end of stderr before it was killed, masked.
        stderr: String,
    },
    #[error(
        "pulumi {step} printed more than {} of output, so iamgate stopped it; preview a \
         smaller stack (split it, or narrow it with fewer resources)",
        human_bytes(*limit)
    )]
    OutputTooLarge { step: &'static str, limit: usize },
    #[error(
        "pulumi {step} wrote more than {} to its workspace, HOME and caches, so iamgate stopped \
         it; raise [pulumi] disk_mb if the program really needs that much",
        human_bytes(usize::try_from(*limit).unwrap_or(usize::MAX))
    )]
    DiskLimit { step: &'static str, limit: u64 },
    #[error(
        "the preview sandbox is not available, so the pull request's code was not run (iamgate \
         fails closed): {reason}"
    )]
    SandboxUnavailable { reason: String },
}

/// Runs previews; share one per server (behind an `Arc`) so the concurrency limit holds.
#[derive(Debug)]
pub struct Runner {
    config: RunnerConfig,
    secrets: Secrets,
    permits: Semaphore,
    grace: Duration,
}

impl Runner {
    pub fn new(config: RunnerConfig) -> Self {
        let secrets = Secrets::new(
            config
                .env
                .values()
                .chain(config.repo_env.values().flat_map(BTreeMap::values))
                .map(String::as_str),
        );
        let permits = Semaphore::new(config.max_concurrent.max(1));
        Self {
            config,
            secrets,
            permits,
            grace: DEFAULT_GRACE,
        }
    }

    /// Time between SIGTERM and SIGKILL after a timeout (default 10 s).
    #[must_use]
    pub fn with_kill_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// A preview's stdout with every configured value masked in every string of it (keys too),
    /// so that neither the analysis, the comment, the store nor the preview cache ever holds one.
    /// JSON is masked as JSON (a value such as `true` never breaks the document): the digest as
    /// one document, the event stream line by line; what is not JSON is masked as text.
    pub fn mask_output(&self, stdout: Vec<u8>) -> Vec<u8> {
        if self.secrets.is_empty() {
            return stdout;
        }
        if let Some(masked) = self.mask_document(&stdout) {
            return masked;
        }
        let mut out = Vec::with_capacity(stdout.len());
        for line in stdout.split_inclusive(|b| *b == b'\n') {
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            match self.mask_document(body) {
                Some(masked) => out.extend_from_slice(&masked),
                None => out.extend_from_slice(&self.secrets.mask(body)),
            }
            if body.len() < line.len() {
                out.push(b'\n');
            }
        }
        out
    }

    fn mask_document(&self, text: &[u8]) -> Option<Vec<u8>> {
        let mut value: serde_json::Value = serde_json::from_slice(text).ok()?;
        self.mask_value(&mut value);
        serde_json::to_vec(&value).ok()
    }

    fn mask_value(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        let mask = |s: &str| String::from_utf8_lossy(&self.secrets.mask(s.as_bytes())).into_owned();
        match value {
            Value::String(s) => *s = mask(s),
            Value::Array(items) => items.iter_mut().for_each(|item| self.mask_value(item)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (key, mut item) in entries {
                    self.mask_value(&mut item);
                    map.insert(mask(&key), item);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// Runs the preview of `stack` at `place`, waiting for a free slot first.
    pub async fn preview(&self, place: Place<'_>, stack: &str) -> Result<RunOutput, RunError> {
        let args = ["preview", "--json", "--non-interactive", "--stack", stack];
        self.step("preview", place, &args).await
    }

    /// `<command> install` at `place` (Pulumi's own command: the program's language
    /// dependencies and plugins), in the same sandbox, environment and timeout as the preview;
    /// `None` when `[pulumi] install` is off.
    pub async fn install(&self, place: Place<'_>) -> Option<Result<RunOutput, RunError>> {
        if !self.config.install {
            return None;
        }
        Some(self.step("install", place, &["install"]).await)
    }

    async fn step(
        &self,
        step: &'static str,
        place: Place<'_>,
        args: &[&str],
    ) -> Result<RunOutput, RunError> {
        #[expect(
            clippy::expect_used,
            reason = "the semaphore is owned here and never closed"
        )]
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("semaphore never closed");
        let started = Instant::now();
        let result = self.run(step, place, args).await;
        let duration = started.elapsed();
        let outcome = match &result {
            Ok(output) if output.exit_code == Some(0) => "succeeded",
            Ok(_) => "failed",
            Err(RunError::Spawn { .. }) => "spawn_error",
            Err(RunError::Timeout { .. }) => "timeout",
            Err(RunError::OutputTooLarge { .. }) => "output_too_large",
            Err(RunError::DiskLimit { .. }) => "disk_limit",
            Err(RunError::SandboxUnavailable { .. }) => "sandbox_unavailable",
        };
        metrics::counter!("iamgate_previews_total", "step" => step, "outcome" => outcome)
            .increment(1);
        metrics::histogram!("iamgate_preview_duration_seconds", "step" => step)
            .record(duration.as_secs_f64());
        tracing::info!(
            step,
            outcome,
            duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            exit_code = result.as_ref().ok().and_then(|output| output.exit_code),
            "pulumi {step} finished"
        );
        result.map(|output| RunOutput { duration, ..output })
    }

    async fn run(
        &self,
        step: &'static str,
        place: Place<'_>,
        args: &[&str],
    ) -> Result<RunOutput, RunError> {
        let spawn_error = |source| RunError::Spawn {
            command: self.config.command.clone(),
            source,
        };
        let home = tempfile::Builder::new()
            .prefix("iamgate-pulumi-home-")
            .tempdir()
            .map_err(spawn_error)?;
        let mut command = match &self.config.isolation {
            Isolation::Unavailable(reason) => {
                return Err(RunError::SandboxUnavailable {
                    reason: reason.clone(),
                });
            }
            Isolation::Off => {
                let mut command = Command::new(&self.config.command);
                command.args(args).current_dir(place.project_dir);
                command
            }
            Isolation::Sandbox(sandbox) => {
                let program = resolve_program(&self.config.command).ok_or_else(|| {
                    spawn_error(io::Error::new(
                        io::ErrorKind::NotFound,
                        "no such executable file (on PATH)",
                    ))
                })?;
                let mounts = Mounts {
                    workspace: place.workspace,
                    home: home.path(),
                    cwd: place.project_dir,
                    caches: place.caches,
                };
                sandbox.command(&program, args, mounts, &self.config.limits.sandbox())
            }
        };
        command.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        command.env("HOME", home.path()).envs(FIXED_ENV);
        if let Some(caches) = place.caches {
            for (var, dir) in CACHE_ENV {
                command.env(var, caches.join(dir));
            }
        }
        command.envs(&self.config.env);
        if let Some(repo) = place.repo.map(str::to_ascii_lowercase) {
            let mut keys = vec![repo.clone()];
            if let Some(stack) = place.stack {
                keys.push(format!("{repo}:{}", stack.to_ascii_lowercase()));
            }
            for key in keys {
                if let Some(env) = self.config.repo_env.get(&key) {
                    command.envs(env);
                }
            }
        }

        let written = disk::existing(
            &[Some(place.workspace), Some(home.path()), place.caches]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>(),
        );
        let disk = DiskWatch::start(written, self.config.limits.disk_bytes, disk::PERIOD).await;
        let plan = Plan {
            timeout: self.config.timeout,
            grace: self.grace,
            max_stdout: self.config.max_output_bytes,
            disk: Some(disk),
        };
        let tail = Tail::new(STDERR_KEEP, self.secrets.longest());
        let finished = process::supervise(command, plan, tail).await;
        remove_home(home).await;
        let finished = finished.map_err(spawn_error)?;
        let stderr = finished.stderr.finish(&self.secrets);
        match finished.ending {
            Ending::Exited(status) => Ok(RunOutput {
                exit_code: status.code(),
                stdout: finished.stdout,
                stderr,
                duration: Duration::ZERO,
            }),
            Ending::TimedOut => Err(RunError::Timeout {
                step,
                after: self.config.timeout,
                stderr,
            }),
            Ending::Overflow => Err(RunError::OutputTooLarge {
                step,
                limit: self.config.max_output_bytes,
            }),
            Ending::DiskFull => Err(RunError::DiskLimit {
                step,
                limit: self.config.limits.disk_bytes,
            }),
        }
    }
}

/// Deletes the per-run HOME (plugins may have been downloaded into it) off the async threads.
async fn remove_home(home: tempfile::TempDir) {
    let removed = tokio::task::spawn_blocking(move || home.close()).await;
    if let Ok(Err(err)) | Err(err) = removed.map_err(io::Error::other) {
        tracing::warn!(error = %err, "could not remove a preview's temporary HOME");
    }
}

/// `15m`, `1h`, `90s`, `1m30s`, `250ms`.
fn human_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    if duration.subsec_nanos() != 0 && secs < 60 {
        return if secs == 0 {
            format!("{}ms", duration.as_millis())
        } else {
            format!("{:.1}s", duration.as_secs_f64())
        };
    }
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, 0) => format!("{h}h{m}m"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

/// `8 MiB`, `512 KiB`, `1000 bytes`.
fn human_bytes(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}
