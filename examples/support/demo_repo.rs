//! The demo repository shared by `examples/demo.rs` and `benches/pr_flow.rs`: `acme/infra` with
//! one enrolled stack and a security review requirement, pull request #7, a fake `pulumi` that
//! prints `examples/risky-preview.json`, and `pull_request` deliveries in GitHub's shape.

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

/// Writes an executable `pulumi` into `dir` that prints the risky example preview whatever it
/// is asked; returns its path.
pub fn fake_pulumi(dir: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("pulumi");
    let preview = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/risky-preview.json");
    std::fs::write(
        &path,
        format!("#!/bin/sh\nexec cat '{}'\n", preview.display()),
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
