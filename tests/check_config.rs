//! `iamgate check-config` as users run it: the example configs pass, broken ones list every
//! problem as `FILE: key.path (line N): message` on stderr and exit 3, and no secret is printed.

use assert_cmd::Command;
use predicates::prelude::*;

/// The binary, run from the repository root, without any inherited `IAMGATE_*` variable.
fn iamgate() -> Command {
    let mut cmd = Command::cargo_bin("iamgate").unwrap_or_else(|e| panic!("no binary: {e}"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).env_clear();
    cmd
}

/// A test-only audit key: the example config names no key (it must not hold one), so its checks
/// give it in the environment, as the example's header says.
const AUDIT_KEY: &str = "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b";

/// The id `check-config` names [`AUDIT_KEY`] by.
fn audit_key_id() -> String {
    iamgate::audit::AuditKey::from_hex(AUDIT_KEY)
        .unwrap_or_else(|e| panic!("{e}"))
        .id()
        .to_owned()
}

/// `iamgate check-config config/server.example.toml` with [`AUDIT_KEY`] in the environment.
fn check_example() -> Command {
    let mut cmd = iamgate();
    cmd.args(["check-config", "config/server.example.toml"])
        .env("IAMGATE_AUDIT__KEY", AUDIT_KEY);
    cmd
}

#[test]
fn the_example_server_config_passes_and_says_how_previews_run() {
    let bwrap = std::process::Command::new("bwrap")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let check = check_example().assert();
    if bwrap {
        check.success().stdout(format!(
            "config/server.example.toml: ok\nstore: SQLite sqlite://data/iamgate.db, one \
                 replica\npreviews: in the bubblewrap sandbox, each run at \
                 most 4096 MiB of memory per process, 1024 processes and threads, 10240 MiB \
                 written to disk\naudit: records keyed with key {}\n",
            audit_key_id()
        ));
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "bubblewrap is needed here; .ci/run installs it"
        );
        check.code(1).stderr(predicates::str::contains(
            "config/server.example.toml: ok as a file, but previews cannot run here: bubblewrap \
             (`bwrap`) is not installed",
        ));
    }
}

#[test]
fn check_config_names_a_postgres_store_without_its_password() {
    check_example()
        .env("IAMGATE_PULUMI__SANDBOX", "false")
        .env(
            "IAMGATE_STORE__URL",
            "postgres://iamgate:hunter2secret@db.example.com:5432/iamgate?sslmode=verify-full",
        )
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "store: PostgreSQL postgres://iamgate:***@db.example.com:5432/iamgate?sslmode=verify-full, \
             shared by every replica (docs/replicas.md); this replica's caches in data\n",
        ))
        .stdout(predicates::str::contains("hunter2").not());
    check_example()
        .env(
            "IAMGATE_STORE__URL",
            "postgres://db.example.com/iamgate?sslmode=sometimes",
        )
        .assert()
        .code(3)
        .stderr(predicates::str::contains("store.url").and(predicates::str::contains("sometimes")));
}

#[test]
fn without_the_sandbox_check_config_says_previews_are_not_sandboxed() {
    check_example()
        .env("IAMGATE_PULUMI__SANDBOX", "false")
        .assert()
        .success()
        .stdout(format!(
            "config/server.example.toml: ok\nstore: SQLite sqlite://data/iamgate.db, one \
             replica\npreviews: NOT sandboxed ([pulumi] sandbox = false): \
             the pull request's code runs as iamgate's own user, with no memory or process \
             limit; each run at most 10240 MiB written to disk\naudit: records keyed with key {}\n",
            audit_key_id()
        ));
}

#[test]
fn the_example_server_config_needs_an_audit_key_and_never_shows_it() {
    iamgate()
        .args(["check-config", "config/server.example.toml"])
        .env("IAMGATE_PULUMI__SANDBOX", "false")
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains("config/server.example.toml: audit.key (line ").and(
                predicate::str::contains(
                    "missing: the audit trail's key, kept out of the store: create it with \
                     `openssl rand -hex 32",
                ),
            ),
        );
    let dir = tempfile::tempdir().expect("tempdir");
    let previous = dir.path().join("previous.keys");
    std::fs::write(&previous, format!("{}\n", "ab".repeat(32))).expect("write");
    let out = check_example()
        .env("IAMGATE_PULUMI__SANDBOX", "false")
        .env("IAMGATE_AUDIT__PREVIOUS_KEYS_FILE", &previous)
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "audit: new records keyed with key {}; records under ",
            audit_key_id()
        )));
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        !stdout.contains(&AUDIT_KEY[..16]) && !stdout.contains("abab"),
        "{stdout}"
    );
}

#[test]
fn the_example_repository_config_passes() {
    iamgate()
        .args(["check-config", "config/iamgate.example.yml"])
        .assert()
        .success()
        .stdout("config/iamgate.example.yml: ok\n");
}

#[test]
fn a_broken_server_config_lists_every_problem_and_exits_3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("server.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"nowhere\"\n\n[github]\napp_id = 0\nwebhook_secret = \"tiny-secret\"\nprivate_key_path = \"missing.pem\"\n[pulumi]\ntimeout_secs = 0\n",
    )
    .expect("write");
    let name = file.display().to_string();
    let out = iamgate()
        .args(["check-config", &name])
        .assert()
        .code(3)
        .stdout("");
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    for line in [
        format!("{name}: server.listen (line 2): expected an IP address and port"),
        format!("{name}: github.app_id (line 5): must be greater than 0"),
        format!("{name}: github.webhook_secret (line 6): too short"),
        format!("{name}: github.private_key_path (line 7): cannot read `missing.pem`"),
        format!("{name}: pulumi.timeout_secs (line 9): must be greater than 0"),
    ] {
        assert!(
            stderr.lines().any(|l| l.contains(&line)),
            "{line}\nnot in:\n{stderr}"
        );
    }
    assert!(!stderr.contains("tiny-secret"), "{stderr}");
}

#[test]
fn the_environment_is_checked_as_serve_would_apply_it() {
    check_example()
        .env("IAMGATE_GITHUB__WEBHOOK_SECRET", "tiny-s3cret")
        .env("IAMGATE_SERVER__LISTN", "0.0.0.0:1")
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains(
                "config/server.example.toml: github.webhook_secret: too short: use at least 16 \
                 random characters (set by IAMGATE_GITHUB__WEBHOOK_SECRET)",
            )
            .and(predicate::str::contains("IAMGATE_SERVER__LISTN"))
            .and(predicate::str::contains("tiny-s3cret").not()),
        );
}

#[test]
fn a_broken_repository_config_names_the_key_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(".iamgate.yml");
    std::fs::write(&file, "version: 2\nstacks: nope\n").expect("write");
    let name = file.display().to_string();
    iamgate()
        .args(["check-config", &name])
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains(format!("{name}: version"))
                .and(predicate::str::contains(format!("{name}: stacks"))),
        );
}

#[test]
fn an_unknown_kind_of_file_is_invalid_input() {
    iamgate()
        .args(["check-config", "Cargo.lock"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("cannot tell the kind of config"));
}

#[test]
fn narrowed_paths_pass_with_a_note_that_says_what_they_let_through() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(".iamgate.yml");
    std::fs::write(
        &file,
        "version: 1\nstacks:\n  - name: prod\n    dir: infra\n    stack: acme/prod\n    paths: [\"infra/**\"]\n",
    )
    .unwrap();
    let name = file.display().to_string();
    iamgate()
        .args(["check-config", &name])
        .assert()
        .success()
        .stdout(format!(
            "{name}: ok\n{name}: note: stacks[0].paths (infra/**) narrows which changes stack `prod` \
             is previewed for: a pull request that changes only other files (a shared module its \
             program imports, the root package.json) is never previewed and passes as \"no IAM \
             change\". Leave `paths` out (every file) unless the program truly imports nothing \
             outside them.\n"
        ));
}

#[test]
fn gitlab_keys_say_who_counts_and_what_holds_merges() {
    let gitlab = |keys: &str| {
        let mut cmd = check_example();
        cmd.env("IAMGATE_PULUMI__SANDBOX", "false")
            .env("IAMGATE_GITLAB__TOKEN", "glpat-test-only-token")
            .env(
                "IAMGATE_GITLAB__WEBHOOK_SECRET",
                "gitlab-test-only-secret-0123",
            );
        for (key, value) in keys.split(',').filter_map(|kv| kv.split_once('=')) {
            cmd.env(format!("IAMGATE_GITLAB__{key}"), value);
        }
        cmd.assert()
    };
    gitlab("").success().stdout(predicate::str::ends_with(
        "gitlab: teams are direct members of the group, Developer or above; merges are held by \
         the `iamgate` status (Pipelines must succeed)\n",
    ));
    gitlab("TEAM_MEMBERSHIP=inherited,APPROVE_MERGE_REQUESTS=true")
        .success()
        .stdout(predicate::str::ends_with(
            "gitlab: teams are members of the group, its parent groups and groups invited into \
             it, Developer or above; merges are held by the `iamgate` status and iamgate's own \
             approval (require it with an approval rule)\n",
        ));
    gitlab("TEAM_MEMBERSHIP=everyone")
        .code(3)
        .stderr(predicate::str::contains(
            "gitlab.team_membership: expected `direct` (members of the group itself) or \
             `inherited`",
        ));
}
