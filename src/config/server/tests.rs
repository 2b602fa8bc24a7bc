use std::io::Write;

use super::*;

/// The test-only App key committed under tests/fixtures/keys/.
fn key_path() -> String {
    format!(
        "{}/tests/fixtures/keys/test-app.private-key.pem",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn github_toml() -> String {
    format!(
        "[github]\napp_id = 12345\nprivate_key_path = \"{}\"\nwebhook_secret = \"0123456789abcdef-file\"\n",
        key_path()
    )
}

/// A test-only audit key (hex, 32 bytes).
const AUDIT_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// The environment of the tests of other sections: only the audit key, which every config needs
/// (its own tests set it otherwise).
fn key_env() -> Vec<(String, String)> {
    env(&[])
}

/// `pairs`, and the audit key.
fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    bare_env(&[("IAMGATE_AUDIT__KEY", AUDIT_KEY)])
        .into_iter()
        .chain(bare_env(pairs))
        .collect()
}

/// `pairs` only.
fn bare_env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// (path, line) of every problem.
fn paths(problems: &Problems) -> Vec<(String, Option<usize>)> {
    problems
        .0
        .iter()
        .map(|p| (p.path.clone(), p.line))
        .collect()
}

#[test]
fn a_minimal_github_config_gets_the_defaults() {
    let config = ServerConfig::parse(&github_toml(), key_env()).expect("valid");
    assert_eq!(config.server.listen, "0.0.0.0:8080".parse().expect("addr"));
    assert_eq!(config.server.max_body_bytes, 25 * 1024 * 1024);
    assert_eq!(config.server.max_body_bytes_in_flight, 100 * 1024 * 1024);
    assert_eq!(config.server.max_connections, 1024);
    assert_eq!(config.server.header_read_timeout, Duration::from_secs(10));
    assert_eq!(config.server.request_timeout, Duration::from_secs(60));
    assert_eq!(config.store.url, "sqlite://data/iamgate.db");
    let github = config.github.expect("github configured");
    assert_eq!(github.app_id, 12345);
    assert_eq!(github.api_url, "https://api.github.com");
    assert_eq!(github.webhook_secret.expose(), "0123456789abcdef-file");
    assert!(github.private_key.expose().contains("PRIVATE KEY"));
    assert!(config.gitlab.is_none());
    assert_eq!(config.pulumi.command, "pulumi");
    assert_eq!(config.pulumi.timeout, Duration::from_secs(900));
    assert_eq!(config.pulumi.max_concurrent, 2);
    assert!(!config.pulumi.allow_fork_prs);
    assert!(
        config.pulumi.sandbox,
        "previews are sandboxed unless the config says otherwise"
    );
    assert_eq!(config.worker.lease, Duration::from_secs(60));
    assert_eq!(config.worker.max_attempts, 8);
    assert_eq!(
        (config.worker.concurrency, config.worker.fast_concurrency),
        (4, 4),
        "preview and fast lanes"
    );
    assert_eq!(config.worker.command_rate_per_minute, 10);
}

#[test]
fn every_problem_is_reported_with_its_key_path_and_line() {
    let text = r#"[server]
listen = "localhost"
max_body_bytes = 0

[store]
url = "postgres://db/iamgate?sslmode=sometimes"

[github]
app_id = 0
private_key_path = "/nonexistent/key.pem"
webhook_secret = "short"
api_url = "ftp://example.com"

[gitlab]
webhook_secret = "0123456789abcdef"

[pulumi]
command = ""
timeout_secs = 0
max_concurrent = -1
allow_fork_prs = "yes"
[pulumi.env]
AWS_REGION = 3
"1BAD" = "x"

[worker]
max_attempts = 0
fast_concurrency = 0
command_rate_per_minute = "many"
"#;
    let problems = ServerConfig::parse(text, key_env()).expect_err("invalid");
    let got = paths(&problems);
    let want = [
        ("server.listen", 2),
        ("server.max_body_bytes", 3),
        ("store.url", 6),
        ("github.app_id", 9),
        ("github.private_key_path", 10),
        ("github.webhook_secret", 11),
        ("github.api_url", 12),
        ("gitlab.token", 14),
        ("pulumi.command", 18),
        ("pulumi.timeout_secs", 19),
        ("pulumi.max_concurrent", 20),
        ("pulumi.allow_fork_prs", 21),
        ("pulumi.env.AWS_REGION", 23),
        ("pulumi.env.1BAD", 24),
        ("worker.max_attempts", 27),
        ("worker.fast_concurrency", 28),
        ("worker.command_rate_per_minute", 29),
    ];
    for (path, line) in want {
        assert!(
            got.contains(&(path.to_owned(), Some(line))),
            "missing {path} (line {line}) in {got:?}"
        );
    }
    assert_eq!(got.len(), want.len(), "{problems}");
    let shown = problems.to_string();
    assert!(shown.contains("gitlab.token (line 14): missing"), "{shown}");
    assert!(
        !shown.contains("short\""),
        "a secret value is never echoed: {shown}"
    );
}

#[test]
fn missing_required_github_keys_are_named() {
    let problems = ServerConfig::parse(
        "[github]\napi_url = \"https://ghe.example/api/v3/\"\n",
        key_env(),
    )
    .expect_err("incomplete");
    let got = paths(&problems);
    for path in [
        "github.app_id",
        "github.private_key_path",
        "github.webhook_secret",
    ] {
        assert!(
            got.contains(&(path.to_owned(), Some(1))),
            "{path} in {got:?}"
        );
    }
    assert_eq!(got.len(), 3, "{problems}");
}

#[test]
fn no_forge_at_all_is_a_problem() {
    let problems = ServerConfig::parse("[server]\nlisten = \"127.0.0.1:9000\"\n", key_env())
        .expect_err("no forge");
    assert_eq!(paths(&problems), vec![(String::new(), None)]);
    assert!(problems.0[0].message.contains("[github]"));
}

#[test]
fn a_gitlab_only_config_is_valid() {
    let config = ServerConfig::parse(
        "[gitlab]\ntoken = \"glpat-xxxxxxxxxxxx\"\nwebhook_secret = \"0123456789abcdef\"\n",
        key_env(),
    )
    .expect("valid");
    assert!(config.github.is_none());
    assert_eq!(config.gitlab.expect("gitlab").url, "https://gitlab.com");
}

#[test]
fn a_gitlab_signing_token_is_optional_and_checked() {
    const GITLAB: &str =
        "[gitlab]\ntoken = \"glpat-xxxxxxxxxxxx\"\nwebhook_secret = \"0123456789abcdef\"\n";
    let without = ServerConfig::parse(GITLAB, key_env()).expect("valid");
    assert!(without.gitlab.expect("gitlab").signing_token.is_none());

    // 32 bytes, as GitLab generates them.
    let token = "whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3Q=";
    let with = ServerConfig::parse(&format!("{GITLAB}signing_token = \"{token}\"\n"), key_env())
        .expect("valid");
    let signing = with.gitlab.expect("gitlab").signing_token.expect("set");
    assert_eq!(signing.expose(), token);
    let from_env = ServerConfig::parse(GITLAB, env(&[("IAMGATE_GITLAB__SIGNING_TOKEN", token)]))
        .expect("valid");
    assert!(from_env.gitlab.expect("gitlab").signing_token.is_some());

    for bad in [
        "dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3Q=", // no prefix
        "whsec_not base64!",
        "whsec_c2hvcnQ=", // 5 bytes
        "whsec_",
    ] {
        let problems =
            ServerConfig::parse(&format!("{GITLAB}signing_token = \"{bad}\"\n"), key_env())
                .expect_err(bad);
        assert_eq!(
            paths(&problems),
            vec![("gitlab.signing_token".to_owned(), Some(4))],
            "{bad}"
        );
        if bad != "whsec_" {
            // (the message names the `whsec_` prefix itself)
            assert!(!problems.to_string().contains(bad), "no value in messages");
        }
    }
    let problems = ServerConfig::parse(&format!("{GITLAB}signing_token = 32\n"), key_env())
        .expect_err("a number");
    assert_eq!(
        paths(&problems),
        vec![("gitlab.signing_token".to_owned(), Some(4))]
    );
}

#[test]
fn the_environment_wins_over_the_file() {
    let config = ServerConfig::parse(
        &format!("{}[server]\nlisten = \"127.0.0.1:1\"\n", github_toml()),
        env(&[
            (
                "IAMGATE_GITHUB__WEBHOOK_SECRET",
                "from-the-environment-0123",
            ),
            ("IAMGATE_GITHUB__APP_ID", "777"),
            ("IAMGATE_SERVER__LISTEN", "127.0.0.1:9999"),
            ("IAMGATE_PULUMI__ALLOW_FORK_PRS", "true"),
            ("IAMGATE_PULUMI__SANDBOX", "false"),
            ("IAMGATE_PULUMI__INSTALL", "false"),
            ("IAMGATE_PULUMI__DISK_MB", "512"),
            ("IAMGATE_PULUMI__ENV__AWS_REGION", "eu-west-1"),
            ("IAMGATE_WORKER__FAST_CONCURRENCY", "6"),
            ("IAMGATE_WORKER__COMMAND_RATE_PER_MINUTE", "3"),
        ]),
    )
    .expect("valid");
    assert_eq!(config.pulumi.disk_mb, 512);
    assert_eq!(
        (
            config.worker.fast_concurrency,
            config.worker.command_rate_per_minute
        ),
        (6, 3)
    );
    assert_eq!(
        (config.pulumi.memory_mb, config.pulumi.max_processes),
        (4096, 1024),
        "defaults"
    );
    let github = config.github.expect("github");
    assert_eq!(github.webhook_secret.expose(), "from-the-environment-0123");
    assert_eq!(github.app_id, 777);
    assert_eq!(config.server.listen.port(), 9999);
    assert!(config.pulumi.allow_fork_prs);
    assert!(!config.pulumi.sandbox);
    assert!(!config.pulumi.install);
    assert_eq!(config.pulumi.env["AWS_REGION"].expose(), "eu-west-1");
}

#[test]
fn a_config_can_come_from_the_environment_alone() {
    let config = ServerConfig::load(
        None,
        env(&[
            ("IAMGATE_GITHUB__APP_ID", "1"),
            ("IAMGATE_GITHUB__PRIVATE_KEY_PATH", &key_path()),
            ("IAMGATE_GITHUB__WEBHOOK_SECRET", "0123456789abcdef"),
        ]),
    )
    .expect("valid");
    assert_eq!(config.github.expect("github").app_id, 1);
}

#[test]
fn bad_environment_values_name_their_variable() {
    let problems = ServerConfig::parse(
        &github_toml(),
        env(&[
            ("IAMGATE_GITHUB__APP_ID", "twelve"),
            ("IAMGATE_PULUMI__ALLOW_FORK_PRS", "yes"),
        ]),
    )
    .expect_err("invalid");
    assert_eq!(
        paths(&problems),
        vec![
            ("github.app_id".to_owned(), None),
            ("pulumi.allow_fork_prs".to_owned(), None)
        ]
    );
    assert!(problems.0[0].message.contains("IAMGATE_GITHUB__APP_ID"));
}

#[test]
fn a_key_that_is_not_an_rsa_private_key_is_refused() {
    let mut file = tempfile::NamedTempFile::new().expect("tempfile");
    file.write_all(
        b"-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n",
    )
    .expect("write");
    let text = format!(
        "[github]\napp_id = 1\nprivate_key_path = \"{}\"\nwebhook_secret = \"0123456789abcdef\"\n",
        file.path().display()
    );
    let problems = ServerConfig::parse(&text, key_env()).expect_err("not a key");
    assert_eq!(
        paths(&problems),
        vec![("github.private_key_path".to_owned(), Some(3))]
    );
    assert!(problems.0[0].message.contains("not a PEM RSA private key"));
}

#[test]
fn unreadable_or_broken_files_are_problems() {
    let problems = ServerConfig::load(Some(Path::new("/nonexistent/iamgate.toml")), key_env())
        .expect_err("missing");
    assert!(
        problems.0[0]
            .message
            .starts_with("cannot read /nonexistent/iamgate.toml")
    );
    let problems = ServerConfig::parse("[github\n", key_env()).expect_err("broken");
    assert_eq!(problems.0.len(), 1, "only the syntax error: {problems}");
    assert_eq!(problems.0[0].line, Some(1));
}

#[test]
fn debug_of_the_whole_config_shows_no_secret() {
    let config = ServerConfig::parse(
        &format!(
            "{}[gitlab]\ntoken = \"glpat-token-value\"\nwebhook_secret = \"gitlab-hook-secret-value\"\nsigning_token = \"whsec_c2lnbmluZy10b2tlbi12YWx1ZS0wMTIzNDU2Nzg5YWJjZGVm\"\n[pulumi.env]\nAWS_SECRET_ACCESS_KEY = \"aws-secret-value\"\n",
            github_toml()
        ),
        key_env(),
    )
    .expect("valid");
    let shown = format!("{config:?} {config:#?}");
    for secret in [
        "0123456789abcdef-file",
        "glpat-token-value",
        "gitlab-hook-secret-value",
        "c2lnbmluZy10b2tlbi12YWx1ZS0wMTIzNDU2Nzg5YWJjZGVm",
        "aws-secret-value",
        "PRIVATE KEY",
    ] {
        assert!(!shown.contains(secret), "{secret} leaked in {shown}");
    }
    assert!(
        shown.contains("AWS_SECRET_ACCESS_KEY"),
        "names are not secret"
    );
    assert!(shown.contains("***"));
}

#[test]
fn a_public_key_is_not_a_private_key() {
    let text = format!(
        "[github]\napp_id = 1\nprivate_key_path = \"{}/tests/fixtures/keys/test-app.public-key.pem\"\nwebhook_secret = \"0123456789abcdef\"\n",
        env!("CARGO_MANIFEST_DIR")
    );
    let problems = ServerConfig::parse(&text, key_env()).expect_err("public key");
    assert_eq!(
        paths(&problems),
        vec![("github.private_key_path".to_owned(), Some(3))]
    );
}

#[test]
fn secrets_can_be_read_from_files() {
    let dir = tempfile::tempdir().expect("dir");
    let secret = dir.path().join("webhook-secret");
    std::fs::write(&secret, "from-a-mounted-file-0123\n").expect("write");
    let token = dir.path().join("gitlab-token");
    std::fs::write(&token, "glpat-from-a-file").expect("write");
    let text = format!(
        "[github]\napp_id = 12345\nprivate_key_path = \"{}\"\nwebhook_secret_file = \"{}\"\n",
        key_path(),
        secret.display()
    );
    let config = ServerConfig::parse(
        &format!("{text}[gitlab]\nwebhook_secret = \"0123456789abcdef-gitlab\"\n"),
        env(&[("IAMGATE_GITLAB__TOKEN_FILE", &token.display().to_string())]),
    )
    .expect("valid");
    let github = config.github.expect("github");
    assert_eq!(github.webhook_secret.expose(), "from-a-mounted-file-0123");
    assert_eq!(
        config.gitlab.expect("gitlab").token.expose(),
        "glpat-from-a-file"
    );
}

#[test]
fn a_secret_file_that_cannot_be_read_or_a_secret_set_twice_is_a_problem() {
    let text = format!(
        "[github]\napp_id = 12345\nprivate_key_path = \"{}\"\nwebhook_secret_file = \"/no/such/secret\"\n\
         [gitlab]\ntoken = \"glpat-inline\"\ntoken_file = \"/no/such/token\"\n\
         webhook_secret = \"0123456789abcdef-gitlab\"\n",
        key_path()
    );
    let problems = ServerConfig::parse(&text, key_env()).expect_err("problems");
    let shown = problems.to_string();
    assert!(
        shown.contains("cannot read the file `/no/such/secret`"),
        "{shown}"
    );
    assert!(
        shown.contains("set either gitlab.token or gitlab.token_file, not both"),
        "{shown}"
    );
    assert!(
        !shown.contains("glpat-inline"),
        "a secret was shown: {shown}"
    );
    assert_eq!(
        paths(&problems),
        vec![
            ("github.webhook_secret_file".to_owned(), Some(4)),
            ("gitlab.token_file".to_owned(), Some(7)),
            ("github.webhook_secret".to_owned(), Some(1)),
        ]
    );
}

#[test]
fn repositories_are_an_allow_list_of_globs() {
    let repos = Repositories::parse("acme/*, Platform/infra ,group/**").expect("valid");
    assert_eq!(repos.patterns(), ["acme/*", "Platform/infra", "group/**"]);
    for allowed in [
        "acme/infra",
        "ACME/payments",
        "platform/infra",
        "group/sub/project",
    ] {
        assert!(repos.allows(allowed), "{allowed}");
    }
    for refused in [
        "acme/infra/sub",
        "other/infra",
        "platform/infra2",
        "acmex/infra",
    ] {
        assert!(!repos.allows(refused), "{refused}");
    }
    assert!(Repositories::parse(" , ").is_err());
    let problems = ServerConfig::parse(
        &format!("{}[pulumi]\nrepositories = \"acme/[\"\n", github_toml()),
        key_env(),
    )
    .expect_err("a bad glob");
    assert_eq!(
        paths(&problems),
        vec![("pulumi.repositories".to_owned(), Some(6))]
    );
    assert!(
        problems
            .to_string()
            .contains("`acme/[` is not a valid glob"),
        "{problems}"
    );
    let config = ServerConfig::parse(
        &github_toml(),
        env(&[("IAMGATE_PULUMI__REPOSITORIES", "acme/infra")]),
    )
    .expect("valid");
    let repos = config
        .pulumi
        .repositories
        .expect("set from the environment");
    assert!(repos.allows("acme/infra") && !repos.allows("acme/other"));
}

#[test]
fn a_repository_and_a_stack_can_have_their_own_preview_environment() {
    let text = format!(
        "{}[pulumi.repo_env.\"acme/payments\"]\nAWS_ROLE_ARN = \"arn:aws:iam::2:role/p\"\n\
         [pulumi.repo_env.\"acme/payments:prod\"]\nAWS_ROLE_ARN = \"arn:aws:iam::3:role/p\"\n",
        github_toml()
    );
    let config = ServerConfig::parse(&text, key_env()).expect("valid");
    let repo_env = &config.pulumi.repo_env;
    assert_eq!(
        repo_env["acme/payments"]["AWS_ROLE_ARN"].expose(),
        "arn:aws:iam::2:role/p"
    );
    assert_eq!(
        repo_env["acme/payments:prod"]["AWS_ROLE_ARN"].expose(),
        "arn:aws:iam::3:role/p"
    );

    let bad = format!(
        "{}[pulumi.repo_env.\"payments\"]\nTOKEN = \"x\"\n[pulumi.repo_env.\"acme/p\"]\n\"NOT-A-NAME\" = \"y\"\n",
        github_toml()
    );
    let problems = ServerConfig::parse(&bad, key_env()).expect_err("problems");
    assert_eq!(
        paths(&problems),
        vec![
            ("pulumi.repo_env.acme/p.NOT-A-NAME".to_owned(), Some(8)),
            ("pulumi.repo_env.payments.TOKEN".to_owned(), Some(6)),
        ]
    );
    let problems = ServerConfig::parse(&github_toml(), env(&[("IAMGATE_PULUMI__REPO_ENV", "x")]))
        .expect_err("not settable from the environment");
    assert_eq!(paths(&problems), vec![("pulumi.repo_env".to_owned(), None)]);
}

#[test]
fn the_edge_limits_are_read_from_the_file_and_the_environment() {
    let text = format!(
        "[server]\nmax_body_bytes = 1048576\nmax_connections = 64\nheader_read_timeout_secs = 5\n{}",
        github_toml()
    );
    let config = ServerConfig::parse(
        &text,
        env(&[
            ("IAMGATE_SERVER__REQUEST_TIMEOUT_SECS", "30"),
            ("IAMGATE_SERVER__MAX_BODY_BYTES_IN_FLIGHT", "8388608"),
        ]),
    )
    .expect("valid");
    assert_eq!(config.server.max_connections, 64);
    assert_eq!(config.server.header_read_timeout, Duration::from_secs(5));
    assert_eq!(config.server.request_timeout, Duration::from_secs(30));
    assert_eq!(config.server.max_body_bytes_in_flight, 8 << 20);

    // Unset, the bodies in flight follow max_body_bytes.
    let text = format!("[server]\nmax_body_bytes = 1048576\n{}", github_toml());
    let config = ServerConfig::parse(&text, key_env()).expect("valid");
    assert_eq!(config.server.max_body_bytes_in_flight, 4 << 20);
}

#[test]
fn edge_limits_that_cannot_work_are_problems() {
    let text = format!(
        "[server]\nmax_body_bytes = 2048\nmax_body_bytes_in_flight = 1024\nmax_connections = 0\n\
         header_read_timeout_secs = 0\nrequest_timeout_secs = -1\n{}",
        github_toml()
    );
    let problems = ServerConfig::parse(&text, key_env()).expect_err("invalid");
    let got = paths(&problems);
    for (path, line) in [
        ("server.max_body_bytes_in_flight", 3),
        ("server.max_connections", 4),
        ("server.header_read_timeout_secs", 5),
        ("server.request_timeout_secs", 6),
    ] {
        assert!(
            got.contains(&(path.to_owned(), Some(line))),
            "{path} (line {line}) in {got:?}"
        );
    }
    assert_eq!(got.len(), 4, "{problems}");
    assert!(
        problems
            .to_string()
            .contains("must be at least server.max_body_bytes (2048)"),
        "{problems}"
    );
}

#[test]
fn the_audit_key_is_required_and_never_shown() {
    let problems = ServerConfig::parse(&github_toml(), bare_env(&[])).expect_err("no key");
    assert_eq!(paths(&problems), vec![("audit.key".to_owned(), None)]);
    let shown = problems.to_string();
    assert!(
        shown.contains("audit.key: missing") && shown.contains("openssl rand -hex 32"),
        "the message says how to make one: {shown}"
    );
    for (bad, why) in [
        (
            "not-hex-not-hex-not-hex-not-hex-not-hex-not-hex-not-hex-not-hex!",
            "hex",
        ),
        (&AUDIT_KEY[..62], "at least 64"),
    ] {
        let problems = ServerConfig::parse(
            &format!("{}[audit]\nkey = \"{bad}\"\n", github_toml()),
            bare_env(&[]),
        )
        .expect_err(why);
        assert_eq!(paths(&problems), vec![("audit.key".to_owned(), Some(6))]);
        let shown = problems.to_string();
        assert!(shown.contains(why), "{shown}");
        assert!(!shown.contains(bad), "a key is never echoed: {shown}");
    }
    let config = ServerConfig::parse(
        &format!(
            "{}[audit]\nkey = \" {} \"\n",
            github_toml(),
            AUDIT_KEY.to_uppercase()
        ),
        bare_env(&[]),
    )
    .expect("valid");
    assert_eq!(config.audit.key.expose(), AUDIT_KEY.to_uppercase());
    assert!(config.audit.previous_keys.is_empty());
    assert!(!format!("{config:?}").contains(&AUDIT_KEY[..16]));
}

#[test]
fn audit_keys_come_from_files_and_previous_keys_from_a_list() {
    let dir = tempfile::tempdir().expect("dir");
    let key_file = dir.path().join("audit.key");
    std::fs::write(&key_file, format!("{}\n", "cd".repeat(32))).expect("write");
    let old_file = dir.path().join("old.keys");
    std::fs::write(
        &old_file,
        format!("{}\n{}\n", "01".repeat(32), "02".repeat(40)),
    )
    .expect("write");
    let config = ServerConfig::parse(
        &github_toml(),
        bare_env(&[
            ("IAMGATE_AUDIT__KEY_FILE", &key_file.display().to_string()),
            (
                "IAMGATE_AUDIT__PREVIOUS_KEYS_FILE",
                &old_file.display().to_string(),
            ),
        ]),
    )
    .expect("valid");
    assert_eq!(config.audit.key.expose(), "cd".repeat(32));
    let previous: Vec<&str> = config
        .audit
        .previous_keys
        .iter()
        .map(Secret::expose)
        .collect();
    assert_eq!(previous, ["01".repeat(32), "02".repeat(40)]);

    let config = ServerConfig::parse(
        &format!(
            "{}[audit]\nkey_file = \"{}\"\nprevious_keys = \"{}, {}\"\n",
            github_toml(),
            key_file.display(),
            "01".repeat(32),
            "03".repeat(32)
        ),
        bare_env(&[]),
    )
    .expect("valid");
    assert_eq!(config.audit.previous_keys.len(), 2);

    let problems = ServerConfig::parse(
        &format!(
            "{}[audit]\nkey = \"{AUDIT_KEY}\"\nkey_file = \"{}\"\nprevious_keys = \"{}, short\"\n",
            github_toml(),
            key_file.display(),
            "01".repeat(32),
        ),
        bare_env(&[]),
    )
    .expect_err("both, and a bad previous key");
    assert_eq!(
        paths(&problems),
        vec![
            ("audit.key_file".to_owned(), Some(7)),
            ("audit.previous_keys".to_owned(), Some(8)),
        ]
    );
    assert!(!problems.to_string().contains("0101"), "{problems}");
}

#[test]
fn ci_issuers_default_to_github_actions_and_the_gitlab_instance() {
    let github_only = ServerConfig::parse(&github_toml(), key_env()).expect("valid");
    assert_eq!(
        github_only.ci,
        CiConfig {
            audience: "iamgate".into(),
            github_issuer: DEFAULT_GITHUB_ISSUER.into(),
            gitlab_issuer: None,
        }
    );
    let gitlab = ServerConfig::parse(
        "[gitlab]\nurl = \"https://git.example.com/\"\ntoken = \"glpat-xxxxxxxxxxxx\"\nwebhook_secret = \"0123456789abcdef\"\n",
        key_env(),
    )
    .expect("valid");
    assert_eq!(
        gitlab.ci.gitlab_issuer.as_deref(),
        Some("https://git.example.com")
    );
    let set = ServerConfig::parse(
        &format!(
            "{}[ci]\naudience = \"https://iamgate.example.com\"\ngithub_issuer = \"https://ghe.example.com/_services/token/\"\ngitlab_issuer = \"http://127.0.0.1:9999\"\n",
            github_toml()
        ),
        key_env(),
    )
    .expect("valid");
    assert_eq!(set.ci.audience, "https://iamgate.example.com");
    assert_eq!(
        set.ci.github_issuer,
        "https://ghe.example.com/_services/token"
    );
    assert_eq!(
        set.ci.gitlab_issuer.as_deref(),
        Some("http://127.0.0.1:9999")
    );
}

#[test]
fn a_ci_issuer_must_be_https_except_on_loopback() {
    let problems = ServerConfig::parse(
        &format!(
            "{}[ci]\naudience = \"\"\ngithub_issuer = \"http://tokens.example.com\"\n",
            github_toml()
        ),
        key_env(),
    )
    .expect_err("accepted plain http");
    let found = paths(&problems);
    assert!(
        found.iter().any(|(p, _)| p == "ci.github_issuer")
            && found.iter().any(|(p, _)| p == "ci.audience"),
        "{problems}"
    );
}
