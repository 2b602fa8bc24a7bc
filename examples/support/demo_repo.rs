//! The demo repository shared by `examples/demo.rs`, `examples/demo_gitlab.rs` and
//! `benches/pr_flow.rs`: `acme/infra` with one enrolled stack and a security review requirement,
//! pull request #7, a fake `pulumi` that prints `examples/risky-preview.json`, `pull_request`
//! deliveries in GitHub's shape, and a free port, a random secret and an audit key file for the
//! server.

use std::path::{Path, PathBuf};

pub const REPO: &str = "acme/infra";
pub const PR: u64 = 7;
pub const BASE: &str = "1111111111111111111111111111111111111111";

/// The base branch's `.iamgate.yml`.
pub const REPO_CONFIG: &str = r#"version: 1
stacks:
  - name: prod
    dir: infra
    stack: acme/prod
    paths: ["infra/**"]
reviews:
  - name: security
    when: { min_risk: high }
    approvals: 1
    from: { teams: [acme/security] }
"#;

/// Writes an executable `pulumi` into `dir`, with a copy of the risky example preview beside it,
/// that prints the preview whatever it is asked; returns its path. Everything it reads is in
/// `dir`, so it also runs in the preview sandbox (which shows the program's directory only).
pub fn fake_pulumi(dir: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("pulumi");
    let preview = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/risky-preview.json");
    std::fs::copy(&preview, dir.join("preview.json"))?;
    std::fs::write(
        &path,
        "#!/bin/sh\nexec cat \"$(dirname \"$0\")/preview.json\"\n",
    )?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
}

/// A `pull_request` delivery (`opened`, `synchronize`, ...) for PR #7 at `head`, in GitHub's
/// shape (the fields iamgate reads and a few more).
pub fn pull_request_payload(action: &str, head: &str, installation: u64) -> String {
    serde_json::json!({
        "action": action,
        "number": PR,
        "pull_request": {
            "number": PR,
            "state": "open",
            "title": "Widen the CI role",
            "user": { "login": "dev", "type": "User" },
            "head": { "sha": head, "ref": "widen-ci", "repo": { "full_name": REPO } },
            "base": { "sha": BASE, "ref": "main", "repo": { "full_name": REPO } }
        },
        "repository": { "full_name": REPO, "name": "infra", "owner": { "login": "acme" } },
        "installation": { "id": installation },
        "sender": { "login": "dev", "type": "User" }
    })
    .to_string()
}

/// A port nobody listens on now.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A random number for a demo secret.
pub fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::process::id())
}

/// Writes a fresh audit key (`[audit] key_file`, hex) to `dir/audit.key`, readable by its owner
/// only, as `openssl rand -hex 32 > audit.key` would; a real server keeps it away from the store.
pub fn audit_key_file(dir: &Path) -> std::io::Result<PathBuf> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = dir.join("audit.key");
    let key: String = (0..4).map(|_| format!("{:016x}", rand_u64())).collect();
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?
        .write_all(format!("{key}\n").as_bytes())?;
    Ok(path)
}

/// The real `iamgate serve` assembly (`app::Service`) running on the config's port.
pub struct RunningServer {
    shutdown: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    pub async fn start(config: &iamgate::config::ServerConfig) -> anyhow::Result<Self> {
        let service = iamgate::app::Service::build(config).await?;
        let listener = tokio::net::TcpListener::bind(config.server.listen).await?;
        let shutdown = tokio_util::sync::CancellationToken::new();
        let run = service.run(listener, shutdown.clone());
        let task = tokio::spawn(run);
        Ok(RunningServer { shutdown, task })
    }

    /// Polls `done` every 50 ms for up to 60 s; on time-out stops the server and fails with
    /// "`what` within 60 s". Returns how long it took.
    pub async fn wait_until(
        &self,
        what: &str,
        mut done: impl FnMut() -> bool,
    ) -> anyhow::Result<std::time::Duration> {
        let started = std::time::Instant::now();
        while !done() {
            if started.elapsed() > std::time::Duration::from_secs(60) {
                self.shutdown.cancel();
                anyhow::bail!("{what} within 60 s");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Ok(started.elapsed())
    }

    /// Shuts the server down gracefully and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.task.await?
    }
}

/// What `--keep` delivers by hand: the forge (`github`, `gitlab`), the endpoint's headers and
/// the body.
pub struct ManualDelivery<'a> {
    pub forge: &'a str,
    pub port: u16,
    pub headers: &'a [String],
    pub file_name: &'a str,
    pub payload: &'a str,
}

/// `--keep`: prints how to run `iamgate serve` on the demo's config and deliver the webhook with
/// `curl`, then keeps the fake forge up (and the work directory), calling `report` every 5 s.
pub async fn keep_running(
    work: tempfile::TempDir,
    config_path: &Path,
    delivery: ManualDelivery<'_>,
    mut report: impl FnMut(),
) -> anyhow::Result<()> {
    println!("\nEverything is seeded. In another terminal:");
    println!("  cargo run -- serve --config {}", config_path.display());
    let body_path = work.path().join(delivery.file_name);
    std::fs::write(&body_path, delivery.payload)?;
    let headers: String = delivery
        .headers
        .iter()
        .map(|h| format!(" \\\n    -H '{h}'"))
        .collect();
    println!(
        "then deliver the webhook:\n  curl -i http://127.0.0.1:{}/webhooks/{}{headers} \\\n    -H 'Content-Type: application/json' --data-binary @{}",
        delivery.port,
        delivery.forge,
        body_path.display()
    );
    println!("\nPress Ctrl-C to stop the fake forge.");
    let _work = work.keep();
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        report();
    }
}
