//! The composition root: from a validated [`ServerConfig`] to the store, the forge clients, the
//! preview runner, the worker and the HTTP edge's state, and running them together until
//! shutdown. Nothing else builds these; `iamgate serve`, the demos, the benchmarks and the
//! scenario tests all assemble the server through [`Service::build`].

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::audit::{self, AuditKey, AuditKeys};
use crate::ci::Verifier;
use crate::ci::submission::Submissions;
use crate::config::ServerConfig;
use crate::forge::MembershipCache;
use crate::forge::github::GitHubApp;
use crate::forge::gitlab::{GitLabClient, GitLabOptions};
use crate::jobs::{Forges, JobCtx, JobSettings, Jobs};
use crate::pulumi::{Isolation, RunLimits, Runner, RunnerConfig, Sandbox, UnpackLimits};
use crate::queue::{JobRetryPolicy, LaneSizes, Worker, WorkerConfig};
use crate::server::{self, AppState};
use crate::store::Pruned;
use crate::store::postgres::{PostgresStore, is_postgres_url, redact};
use crate::store::previews::PreviewCache;
use crate::store::sqlite::SqliteStore;
use crate::store::{CommandRate, Store, StoreResult};

/// Finished jobs and deliveries are kept this long (longer than GitHub's redelivery window, so
/// that a late manual redelivery is still recognised as a duplicate).
pub const RETAIN_FINISHED: Duration = Duration::from_secs(14 * 24 * 3600);

/// A mebibyte, for the `_mb` keys.
const MIB: u64 = 1024 * 1024;

/// How often finished work older than [`RETAIN_FINISHED`] is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Rows of each kind removed per prune call (keeps the writer free for deliveries).
const PRUNE_BATCH: u32 = 1_000;

/// How long a shutdown waits for running jobs before abandoning them. An abandoned job's lease
/// expires and it runs again after a restart (jobs are idempotent).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The largest head archive downloaded for a preview.
pub const ARCHIVE_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// The store `[store] url` names, opened.
#[derive(Debug, Clone)]
pub enum OpenedStore {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PostgresStore>),
}

impl OpenedStore {
    /// Opens (creating and migrating) the store at `url`: `postgres://...` or `sqlite://...`.
    pub async fn open(url: &str, keys: AuditKeys) -> StoreResult<OpenedStore> {
        Ok(if is_postgres_url(url) {
            OpenedStore::Postgres(Arc::new(PostgresStore::open(url, keys).await?))
        } else {
            OpenedStore::Sqlite(Arc::new(SqliteStore::open(url, keys).await?))
        })
    }

    /// The store behind the [`Store`] interface.
    pub fn shared(&self) -> Arc<dyn Store> {
        match self {
            OpenedStore::Sqlite(store) => Arc::clone(store) as Arc<dyn Store>,
            OpenedStore::Postgres(store) => Arc::clone(store) as Arc<dyn Store>,
        }
    }

    /// The audit keys it was opened with.
    pub fn audit_keys(&self) -> &AuditKeys {
        match self {
            OpenedStore::Sqlite(store) => store.audit_keys(),
            OpenedStore::Postgres(store) => store.audit_keys(),
        }
    }

    /// The SQLite file, if that is the backend.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match self {
            OpenedStore::Sqlite(store) => Some(store.path()),
            OpenedStore::Postgres(_) => None,
        }
    }

    async fn prune(&self, retain: Duration, limit: u32) -> StoreResult<Pruned> {
        match self {
            OpenedStore::Sqlite(store) => store.prune(retain, limit).await,
            OpenedStore::Postgres(store) => store.prune(retain, limit).await,
        }
    }

    /// Closes it once nothing else holds it (every write was awaited: dropping is safe too).
    async fn close(self) {
        match self {
            OpenedStore::Sqlite(store) => match Arc::try_unwrap(store) {
                Ok(store) => store.close().await,
                Err(_) => tracing::warn!("store still in use at shutdown; not closed cleanly"),
            },
            OpenedStore::Postgres(store) => store.close().await,
        }
    }
}

impl std::ops::Deref for OpenedStore {
    type Target = dyn Store;

    fn deref(&self) -> &Self::Target {
        match self {
            OpenedStore::Sqlite(store) => store.as_ref(),
            OpenedStore::Postgres(store) => store.as_ref(),
        }
    }
}

/// Everything `serve` runs, built and ready.
#[derive(Debug)]
pub struct Service {
    store: OpenedStore,
    /// This replica's own files: the preview cache and the package caches.
    data_dir: std::path::PathBuf,
    state: AppState,
    worker: Worker,
    /// Per-process directory holding the preview workspaces; removed when the service ends.
    workspaces: tempfile::TempDir,
}

impl Service {
    /// Opens the store (creating and migrating it), builds the forge clients and the runner.
    /// Must run inside a Tokio runtime.
    pub async fn build(config: &ServerConfig) -> anyhow::Result<Service> {
        let keys = audit_keys(config)?;
        let store = OpenedStore::open(&config.store.url, keys)
            .await
            .with_context(|| format!("store.url: cannot open `{}`", redact(&config.store.url)))?;
        check_audit_chain(&store).await?;
        let data_dir = match (&config.store.data_dir, store.sqlite_path()) {
            (Some(dir), _) => dir.clone(),
            (None, Some(file)) => file
                .parent()
                .map_or_else(std::path::PathBuf::new, std::path::Path::to_path_buf),
            (None, None) => std::path::PathBuf::from("data"),
        };
        let github = match &config.github {
            None => None,
            Some(gh) => Some(
                GitHubApp::new(gh.app_id, gh.private_key.expose().as_bytes(), &gh.api_url)
                    .context("github")?,
            ),
        };
        let gitlab = match &config.gitlab {
            None => None,
            Some(gl) => Some(
                GitLabClient::new(&gl.url, gl.token.expose())
                    .context("gitlab")?
                    .with_options(GitLabOptions {
                        team_membership: gl.team_membership,
                        approve_merge_requests: gl.approve_merge_requests,
                    }),
            ),
        };
        let isolation = isolation(config).await;
        let preview_problem = match &isolation {
            Isolation::Unavailable(reason) => Some(Arc::from(reason.as_str())),
            Isolation::Sandbox(_) | Isolation::Off => None,
        };
        let runner = Runner::new(RunnerConfig {
            command: config.pulumi.command.clone(),
            timeout: config.pulumi.timeout,
            max_concurrent: config.pulumi.max_concurrent,
            env: config
                .pulumi
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_owned()))
                .collect(),
            max_output_bytes: config.pulumi.max_output_bytes,
            isolation,
            install: config.pulumi.install,
            limits: RunLimits {
                memory_bytes: config.pulumi.memory_mb.saturating_mul(MIB),
                processes: config.pulumi.max_processes,
                disk_bytes: config.pulumi.disk_mb.saturating_mul(MIB),
            },
            repo_env: config
                .pulumi
                .repo_env
                .iter()
                .map(|(key, env)| {
                    let env = env
                        .iter()
                        .map(|(k, v)| (k.clone(), v.expose().to_owned()))
                        .collect();
                    (key.to_ascii_lowercase(), env)
                })
                .collect(),
        });
        let workspaces = tempfile::Builder::new()
            .prefix("iamgate-work-")
            .tempdir()
            .context("cannot create a directory for preview workspaces in the temp dir")?;
        let shared_store: Arc<dyn Store> = store.shared();
        let membership = Arc::new(MembershipCache::default());
        let forges_for_ci = Forges {
            github: github.clone(),
            gitlab: gitlab.clone(),
        };
        let ctx = JobCtx {
            forges: Arc::new(Forges { github, gitlab }),
            store: Arc::clone(&shared_store),
            runner: Arc::new(runner),
            membership: Arc::clone(&membership),
            settings: JobSettings {
                allow_fork_prs: config.pulumi.allow_fork_prs,
                repositories: config.pulumi.repositories.clone(),
                archive_max_bytes: ARCHIVE_MAX_BYTES,
                unpack: UnpackLimits::default(),
                workspace_root: workspaces.path().to_path_buf(),
                previews: match &store {
                    OpenedStore::Sqlite(_) => PreviewCache::new(data_dir.join("previews")),
                    OpenedStore::Postgres(pg) => PreviewCache::shared(pg.pool().clone()),
                },
                caches: data_dir.join("caches"),
                command_rate: CommandRate {
                    per_minute: config.worker.command_rate_per_minute,
                },
            },
        };
        let notify = Arc::new(Notify::new());
        let worker = Worker::new(
            Arc::clone(&shared_store),
            Arc::new(Jobs::new(ctx)),
            worker_config(config),
        )
        .with_waker(Arc::clone(&notify));
        let submissions = Submissions::new(
            Verifier::new(&config.ci).context("ci: cannot set up the ID token verifier")?,
            forges_for_ci,
            Arc::clone(&shared_store),
            Arc::clone(&notify),
        );
        let state = AppState {
            preview_problem,
            membership: Arc::clone(&membership),
            ci: Some(Arc::new(submissions)),
            ..AppState::new(config, shared_store, notify)
        };
        Ok(Service {
            store,
            data_dir,
            state,
            worker,
            workspaces,
        })
    }

    /// The HTTP handlers' state (for tests that drive the router directly).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The worker (tests run it with `run_until_idle`).
    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    /// The store.
    pub fn store(&self) -> &OpenedStore {
        &self.store
    }

    /// This replica's own files (`[store] data_dir`).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// Serves HTTP on `listener` and runs the worker and the pruner until `shutdown` is
    /// cancelled; then stops accepting, lets requests in flight finish, gives running jobs
    /// [`SHUTDOWN_GRACE`] to finish, and closes the store.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let Service {
            store,
            data_dir,
            state,
            worker,
            workspaces,
        } = self;
        let listener_task = match &store {
            OpenedStore::Postgres(pg) => {
                let lanes = worker.lane_wakes();
                Some(pg.wake_on_jobs(move |lane| lanes.poke(lane), shutdown.clone()))
            }
            OpenedStore::Sqlite(_) => None,
        };
        match listener.local_addr() {
            Ok(addr) => tracing::info!(listen = %addr, "serving"),
            Err(error) => tracing::info!(%error, "serving (local address unknown)"),
        }

        let worker_task = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { worker.run(shutdown).await }
        });
        let pruner = tokio::spawn(prune_periodically(
            store.clone(),
            data_dir.join("previews"),
            shutdown.clone(),
        ));

        let http_shutdown = shutdown.clone();
        let served = server::serve(listener, state, async move {
            http_shutdown.cancelled().await;
        })
        .await;
        // The HTTP server only ends early on an error: stop everything else too.
        shutdown.cancel();

        match tokio::time::timeout(SHUTDOWN_GRACE, worker_task).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "the worker ended abnormally"),
            Err(_) => tracing::warn!(
                grace = ?SHUTDOWN_GRACE,
                "jobs still running at shutdown were abandoned; they run again after a restart"
            ),
        }
        pruner.abort();
        let _ = pruner.await;
        if let Some(task) = listener_task {
            task.abort();
            let _ = task.await;
        }
        store.close().await;
        drop(workspaces);
        served.context("the HTTP server failed")?;
        tracing::info!("server stopped");
        Ok(())
    }
}

/// The audit keys of the config (validated there: this only fails on a config built by hand).
pub fn audit_keys(config: &ServerConfig) -> anyhow::Result<AuditKeys> {
    let key = |secret: &crate::config::Secret, path: &str| {
        AuditKey::from_hex(secret.expose()).with_context(|| format!("{path}: invalid"))
    };
    let current = key(&config.audit.key, "audit.key")?;
    let previous = config
        .audit
        .previous_keys
        .iter()
        .map(|k| key(k, "audit.previous_keys"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(AuditKeys::new(current, previous))
}

/// Verifies the whole audit chain before serving, with the config's keys: a store whose trail
/// was altered, or whose records name a key the config lacks, does not start (every vote the
/// gate counts is checked against that trail). Logs the head, so that a log kept elsewhere can
/// later show a truncation (`iamgate audit --verify --expect-head`).
async fn check_audit_chain(store: &OpenedStore) -> anyhow::Result<()> {
    let keys = store.audit_keys();
    let chain = store
        .audit_chain()
        .await
        .context("cannot read the audit trail")?;
    let verified = audit::verify(&chain, keys).map_err(|tampered| {
        let ids = keys.ids();
        anyhow::anyhow!(
            "{tampered}. The store's audit trail does not verify with the [audit] keys ({}): \
             iamgate does not serve on it. Check it with `iamgate audit --verify`; see \
             docs/audit.md",
            ids.join(", ")
        )
    })?;
    let newest_key = verified.spans.last().and_then(|span| span.key.clone());
    if let Some(newest) = &newest_key
        && newest != keys.current().id()
    {
        tracing::info!(
            previous = %newest,
            key = %keys.current().id(),
            "audit key rotated: new records are keyed with the new key and link to the last one under the old"
        );
    }
    metrics::gauge!(crate::store::AUDIT_RECORDS_METRIC).set(verified.count as f64);
    tracing::info!(
        records = verified.count,
        unkeyed = verified.unkeyed,
        key = %keys.current().id(),
        link = %verified.head,
        "audit chain verified; head"
    );
    Ok(())
}

/// How previews are isolated: the sandbox, checked by starting one; off only when the config
/// says so (logged, since the pull request's code then runs as iamgate's own user).
async fn isolation(config: &ServerConfig) -> Isolation {
    if !config.pulumi.sandbox {
        tracing::warn!(
            "[pulumi] sandbox = false: previews run the pull request's code unisolated, as \
             iamgate's own user"
        );
        return Isolation::Off;
    }
    match Sandbox::probe(&[]).await {
        Ok(sandbox) => {
            tracing::info!("previews run in a bubblewrap sandbox");
            Isolation::Sandbox(sandbox)
        }
        Err(reason) => {
            tracing::error!(%reason, "the preview sandbox cannot be set up: previews fail closed");
            Isolation::Unavailable(reason)
        }
    }
}

fn worker_config(config: &ServerConfig) -> WorkerConfig {
    let lease = config.worker.lease;
    WorkerConfig {
        concurrency: LaneSizes {
            fast: config.worker.fast_concurrency,
            preview: config.worker.concurrency,
        },
        lease,
        renew_every: (lease / 3).max(Duration::from_millis(100)),
        poll_interval: Duration::from_secs(1),
        retry: JobRetryPolicy {
            max_attempts: config.worker.max_attempts,
            ..JobRetryPolicy::default()
        },
        ..WorkerConfig::default()
    }
}

async fn prune_periodically(
    store: OpenedStore,
    previews: std::path::PathBuf,
    shutdown: CancellationToken,
) {
    let previews = PreviewCache::new(previews);
    loop {
        let removed = previews.prune(RETAIN_FINISHED);
        if removed > 0 {
            tracing::info!(removed, "pruned old preview cache entries");
        }
        match store.prune(RETAIN_FINISHED, PRUNE_BATCH).await {
            Ok(pruned) if pruned.jobs + pruned.deliveries + pruned.tickets > 0 => {
                tracing::info!(
                    jobs = pruned.jobs,
                    deliveries = pruned.deliveries,
                    tickets = pruned.tickets,
                    "pruned finished work"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "pruning finished work failed"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}

/// Binds `config.server.listen`, builds the service and runs it until SIGTERM or SIGINT.
pub async fn run_until_signal(config: &ServerConfig) -> anyhow::Result<()> {
    // Not dumpable: no other process of this user may read this one's memory or environment
    // (`/proc/<pid>/environ`, `/proc/<pid>/mem`, ptrace), where the secrets are.
    if let Err(error) = nix::sys::prctl::set_dumpable(false) {
        tracing::warn!(%error, "cannot mark the process not dumpable");
    }
    let service = Service::build(config).await?;
    let addr = config.server.listen;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("server.listen: cannot listen on {addr}"))?;
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        server::shutdown_signal().await;
        on_signal.cancel();
    });
    service.run(listener, shutdown).await
}
