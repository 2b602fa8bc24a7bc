use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{
    Isolation, Place, RunError, RunLimits, RunOutput, Runner, RunnerConfig, human_bytes,
    human_duration,
};

/// Writes an executable `/bin/sh` script and waits until it can be exec'd: a fork in another
/// test thread while the file was open for writing makes `exec` fail with ETXTBSY for a moment.
fn script(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("fake-pulumi");
    fs::write(
        &path,
        format!("#!/bin/sh\n[ \"$1\" = --probe ] && exit 0\n{body}\n"),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    for _ in 0..200 {
        match std::process::Command::new(&path).arg("--probe").status() {
            Ok(status) if status.success() => return path,
            Err(err) if err.raw_os_error() == Some(26) => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => panic!("probe of {} failed: {other:?}", path.display()),
        }
    }
    panic!("{} stayed busy", path.display());
}

fn config(command: &Path) -> RunnerConfig {
    RunnerConfig {
        command: command.display().to_string(),
        timeout: Duration::from_secs(30),
        max_concurrent: 2,
        env: BTreeMap::new(),
        max_output_bytes: 1024 * 1024,
        isolation: Isolation::Off,
        install: false,
        repo_env: BTreeMap::new(),
        limits: RunLimits::default(),
    }
}

/// The place of a run in `dir`, as workspace and project, without caches.
fn place(dir: &Path) -> Place<'_> {
    Place {
        workspace: dir,
        project_dir: dir,
        caches: None,
        repo: None,
        stack: None,
    }
}

/// The sandbox, where it can be set up; elsewhere the test says it is skipped (and fails under
/// CI, where .ci/run installs bubblewrap).
async fn sandbox_or_skip() -> Option<super::Sandbox> {
    match super::Sandbox::probe(&[]).await {
        Ok(sandbox) => Some(sandbox),
        Err(reason) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "bubblewrap is needed for this test; .ci/run installs it: {reason}"
            );
            eprintln!("skipped: the bubblewrap sandbox cannot be set up here: {reason}");
            None
        }
    }
}

fn runner(config: RunnerConfig) -> Runner {
    Runner::new(config).with_kill_grace(Duration::from_millis(300))
}

/// Whether `pid` is a live process (a zombie awaiting its reaper counts as dead).
fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
    }
}

fn wait_dead(pid: u32) -> bool {
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn read_pid(path: &Path) -> u32 {
    fs::read_to_string(path).unwrap().trim().parse().unwrap()
}

#[tokio::test]
async fn a_successful_preview_gets_exact_args_the_project_dir_and_its_stdout() {
    let dir = TempDir::new().unwrap();
    let project = TempDir::new().unwrap();
    let log = dir.path().join("args");
    let command = script(
        dir.path(),
        &format!(
            "printf '%s\\n' \"$@\" > '{log}'; pwd -P >> '{log}'; echo '{{\"steps\":[]}}'",
            log = log.display()
        ),
    );
    let output = runner(config(&command))
        .preview(place(project.path()), "acme/infra/prod")
        .await
        .unwrap();
    assert_eq!(output.exit_code, Some(0));
    assert_eq!(output.stdout, b"{\"steps\":[]}\n");
    assert_eq!(output.stderr, "");
    let logged = fs::read_to_string(&log).unwrap();
    let expected_cwd = project.path().canonicalize().unwrap();
    assert_eq!(
        logged,
        format!(
            "preview\n--json\n--non-interactive\n--stack\nacme/infra/prod\n{}\n",
            expected_cwd.display()
        )
    );
    assert!(output.duration > Duration::ZERO);
}

#[tokio::test]
async fn a_failed_preview_returns_its_exit_code_stdout_and_stderr() {
    let dir = TempDir::new().unwrap();
    let command = script(
        dir.path(),
        "echo '{\"diagnostics\":[{\"severity\":\"error\"}]}'; echo 'error: update failed' >&2; exit 4",
    );
    let output = runner(config(&command))
        .preview(place(dir.path()), "dev")
        .await
        .unwrap();
    assert_eq!(output.exit_code, Some(4));
    assert_eq!(
        output.stdout,
        b"{\"diagnostics\":[{\"severity\":\"error\"}]}\n"
    );
    assert_eq!(output.stderr, "error: update failed\n");
}

#[tokio::test]
async fn a_preview_killed_by_a_signal_has_no_exit_code() {
    let dir = TempDir::new().unwrap();
    let command = script(dir.path(), "kill -9 $$");
    let output = runner(config(&command))
        .preview(place(dir.path()), "dev")
        .await
        .unwrap();
    assert_eq!(output.exit_code, None);
}

#[tokio::test]
async fn a_missing_command_is_a_spawn_error_naming_it() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("no-such-pulumi");
    let err = runner(config(&missing))
        .preview(place(dir.path()), "dev")
        .await
        .unwrap_err();
    assert!(matches!(err, RunError::Spawn { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("no-such-pulumi"), "{message}");
    assert!(message.contains("[pulumi] command"), "{message}");
}

#[tokio::test]
async fn a_timeout_kills_the_whole_group_including_a_grandchild_ignoring_sigterm() {
    let dir = TempDir::new().unwrap();
    let grandchild = dir.path().join("grandchild.pid");
    let leader = dir.path().join("leader.pid");
    let command = script(
        dir.path(),
        &format!(
            "(trap '' TERM; exec sleep 1000) & echo $! > '{}'; echo $$ > '{}'; \
             echo 'resolving plugins' >&2; exec sleep 1000",
            grandchild.display(),
            leader.display()
        ),
    );
    let mut config = config(&command);
    config.timeout = Duration::from_millis(500);
    let started = Instant::now();
    let err = runner(config)
        .preview(place(dir.path()), "dev")
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    match &err {
        RunError::Timeout {
            step: "preview",
            after,
            stderr,
        } => {
            assert_eq!(*after, Duration::from_millis(500));
            assert_eq!(stderr, "resolving plugins\n");
        }
        other => panic!("expected a timeout, got {other}"),
    }
    // The grandchild holds stdout open: the runner must not wait on it.
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert!(wait_dead(read_pid(&leader)), "the leader survived");
    assert!(wait_dead(read_pid(&grandchild)), "the grandchild survived");
}

#[tokio::test]
async fn a_leader_ignoring_sigterm_is_killed_after_the_grace_period() {
    let dir = TempDir::new().unwrap();
    let leader = dir.path().join("leader.pid");
    let command = script(
        dir.path(),
        &format!(
            "trap '' TERM; echo $$ > '{}'; while :; do sleep 0.05; done",
            leader.display()
        ),
    );
    let mut config = config(&command);
    config.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let err = runner(config)
        .preview(place(dir.path()), "dev")
        .await
        .unwrap_err();
    assert!(matches!(err, RunError::Timeout { .. }), "{err}");
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "no grace period was given"
    );
    assert!(wait_dead(read_pid(&leader)), "the leader survived SIGKILL");
}

#[tokio::test]
async fn grandchildren_left_behind_by_a_finished_preview_are_killed() {
    let dir = TempDir::new().unwrap();
    let grandchild = dir.path().join("grandchild.pid");
    let command = script(
        dir.path(),
        &format!(
            "sleep 1000 > /dev/null 2>&1 & echo $! > '{}'; echo '{{}}'",
            grandchild.display()
        ),
    );
    let output = runner(config(&command))
        .preview(place(dir.path()), "dev")
        .await
        .unwrap();
    assert_eq!(output.exit_code, Some(0));
    assert!(
        wait_dead(read_pid(&grandchild)),
        "a straggler survived the run"
    );
}

#[tokio::test]
async fn the_child_sees_only_path_home_the_fixed_variables_and_the_configured_env() {
    let dir = TempDir::new().unwrap();
    let command = script(dir.path(), "exec env");
    let mut config = config(&command);
    config.env = BTreeMap::from([
        ("PULUMI_BACKEND_URL".to_owned(), "file:///state".to_owned()),
        ("AWS_REGION".to_owned(), "eu-west-1".to_owned()),
    ]);
    let output = runner(config)
        .preview(place(dir.path()), "dev")
        .await
        .unwrap();
    let env: BTreeMap<String, String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    // dash adds PWD for the script itself; nothing else may appear.
    let keys: BTreeSet<&str> = env
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "PWD")
        .collect();
    let expected = BTreeSet::from([
        "AWS_REGION",
        "HOME",
        "NO_COLOR",
        "PATH",
        "PULUMI_BACKEND_URL",
        "PULUMI_SKIP_UPDATE_CHECK",
    ]);
    assert_eq!(keys, expected);
    assert_eq!(env["PULUMI_SKIP_UPDATE_CHECK"], "true");
    assert_eq!(env["NO_COLOR"], "1");
    assert_eq!(env["PULUMI_BACKEND_URL"], "file:///state");
    assert_eq!(
        Some(env["PATH"].as_str()),
        std::env::var("PATH").ok().as_deref()
    );
    assert_ne!(
        Some(env["HOME"].as_str()),
        std::env::var("HOME").ok().as_deref()
    );
}

#[tokio::test]
async fn home_is_a_fresh_directory_per_run_and_is_removed_afterwards() {
    let dir = TempDir::new().unwrap();
    let command = script(
        dir.path(),
        "touch \"$HOME/.written\" && printf %s \"$HOME\"",
    );
    let runner = runner(config(&command));
    let first = runner.preview(place(dir.path()), "dev").await.unwrap();
    let second = runner.preview(place(dir.path()), "dev").await.unwrap();
    assert_eq!(
        first.exit_code,
        Some(0),
        "HOME was not writable: {}",
        first.stderr
    );
    let (first, second) = (
        PathBuf::from(String::from_utf8(first.stdout).unwrap()),
        PathBuf::from(String::from_utf8(second.stdout).unwrap()),
    );
    assert_ne!(first, second);
    assert!(
        !first.exists() && !second.exists(),
        "a HOME was left behind"
    );
}

/// Run only by `a_variable_of_the_parent_never_reaches_the_child`, in a child test process that
/// has `IAMGATE_GITHUB__WEBHOOK_SECRET` set (the test itself cannot set it: `set_var` is unsafe).
#[tokio::test]
async fn child_env_probe() {
    let Some(marker) = std::env::var_os("IAMGATE_TEST_ENV_PROBE_MARKER") else {
        return;
    };
    assert_eq!(
        std::env::var("IAMGATE_GITHUB__WEBHOOK_SECRET").as_deref(),
        Ok("whsec-from-the-parent")
    );
    let dir = TempDir::new().unwrap();
    let command = script(dir.path(), "exec env");
    let output = runner(config(&command))
        .preview(place(dir.path()), "dev")
        .await
        .unwrap();
    let env = String::from_utf8(output.stdout).unwrap();
    assert!(env.contains("PULUMI_SKIP_UPDATE_CHECK=true"), "{env}");
    assert!(!env.contains("IAMGATE_"), "{env}");
    assert!(!env.contains("whsec-from-the-parent"), "{env}");
    fs::write(marker, b"probed").unwrap();
}

#[test]
fn a_variable_of_the_parent_never_reaches_the_child() {
    let dir = TempDir::new().unwrap();
    let marker = dir.path().join("marker");
    let result = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "pulumi::runner::tests::child_env_probe",
            "--test-threads=1",
        ])
        .env("IAMGATE_GITHUB__WEBHOOK_SECRET", "whsec-from-the-parent")
        .env("IAMGATE_TEST_ENV_PROBE_MARKER", &marker)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
    assert_eq!(
        fs::read(&marker).unwrap(),
        b"probed",
        "the probe did not run its checks"
    );
}

#[tokio::test]
async fn configured_values_are_masked_in_stderr_but_reach_the_child() {
    let dir = TempDir::new().unwrap();
    let command = script(
        dir.path(),
        "printf %s \"$PULUMI_CONFIG_PASSPHRASE\"; \
         echo \"decrypt failed with $PULUMI_CONFIG_PASSPHRASE (region $SHORT)\" >&2; exit 1",
    );
    let mut config = config(&command);
    config.env = BTreeMap::from([
        (
            "PULUMI_CONFIG_PASSPHRASE".to_owned(),
            "correct-horse-battery".to_owned(),
        ),
        ("SHORT".to_owned(), "eu1".to_owned()),
    ]);
    let output = runner(config)
        .preview(place(dir.path()), "dev")
        .await
        .unwrap();
    assert_eq!(output.stdout, b"correct-horse-battery");
    assert_eq!(output.stderr, "decrypt failed with *** (region eu1)\n");
}

#[tokio::test]
async fn stdout_over_the_cap_kills_the_preview() {
    let dir = TempDir::new().unwrap();
    let command = script(dir.path(), "head -c 300000 /dev/zero; exec sleep 1000");
    let mut config = config(&command);
    config.max_output_bytes = 100_000;
    let started = Instant::now();
    let err = runner(config)
        .preview(place(dir.path()), "dev")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RunError::OutputTooLarge {
                step: "preview",
                limit: 100_000
            }
        ),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it was not killed"
    );
}

#[tokio::test]
async fn stdout_over_the_cap_is_an_error_even_when_the_preview_exits_at_once() {
    // The whole output fits in the pipe, so the exit may be seen before the reader's overflow.
    let dir = TempDir::new().unwrap();
    let command = script(dir.path(), "exec head -c 2000 /dev/zero");
    let mut config = config(&command);
    config.max_output_bytes = 1000;
    let runner = runner(config);
    for _ in 0..30 {
        let result = runner.preview(place(dir.path()), "dev").await;
        assert!(
            matches!(
                result,
                Err(RunError::OutputTooLarge {
                    step: "preview",
                    limit: 1000
                })
            ),
            "{:?}",
            result.map(|output| output.stdout.len())
        );
    }
}

#[tokio::test]
async fn stdout_exactly_at_the_cap_is_kept() {
    let dir = TempDir::new().unwrap();
    let command = script(dir.path(), "head -c 100000 /dev/zero");
    let mut config = config(&command);
    config.max_output_bytes = 100_000;
    let output: RunOutput = runner(config)
        .preview(place(dir.path()), "dev")
        .await
        .unwrap();
    assert_eq!(output.stdout.len(), 100_000);
}

#[tokio::test]
async fn a_third_preview_waits_while_two_run() {
    let dir = TempDir::new().unwrap();
    let started = dir.path().join("started");
    let release = dir.path().join("release");
    let command = script(
        dir.path(),
        &format!(
            "echo x >> '{started}'; while [ ! -e '{release}' ]; do sleep 0.02; done",
            started = started.display(),
            release = release.display()
        ),
    );
    let runner = runner(config(&command)); // max_concurrent = 2
    let count = || fs::read_to_string(&started).map_or(0, |text| text.lines().count());
    let watcher = async {
        let until = Instant::now() + Duration::from_secs(10);
        while count() < 2 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let before = count();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let during = count();
        fs::write(&release, b"").unwrap();
        (before, during)
    };
    let (a, b, c, (before, during)) = tokio::join!(
        runner.preview(place(dir.path()), "a"),
        runner.preview(place(dir.path()), "b"),
        runner.preview(place(dir.path()), "c"),
        watcher
    );
    assert_eq!((before, during), (2, 2), "the third preview did not wait");
    for output in [a, b, c] {
        assert_eq!(output.unwrap().exit_code, Some(0));
    }
    assert_eq!(count(), 3);
}

#[test]
fn messages_read_well_in_a_pr_comment() {
    let timeout = RunError::Timeout {
        step: "preview",
        after: Duration::from_secs(900),
        stderr: String::new(),
    };
    assert_eq!(
        timeout.to_string(),
        "pulumi preview did not finish within 15m; raise [pulumi] timeout_secs or make the \
         preview faster"
    );
    let large = RunError::OutputTooLarge {
        step: "preview",
        limit: 64 * 1024 * 1024,
    };
    assert!(large.to_string().contains("more than 64 MiB"), "{large}");
}

#[test]
fn durations_and_sizes_are_written_for_people() {
    assert_eq!(human_duration(Duration::from_secs(900)), "15m");
    assert_eq!(human_duration(Duration::from_secs(3600)), "1h");
    assert_eq!(human_duration(Duration::from_secs(5400)), "1h30m");
    assert_eq!(human_duration(Duration::from_secs(90)), "1m30s");
    assert_eq!(human_duration(Duration::from_secs(45)), "45s");
    assert_eq!(human_duration(Duration::from_millis(250)), "250ms");
    assert_eq!(human_duration(Duration::from_millis(1500)), "1.5s");
    assert_eq!(human_bytes(8 * 1024 * 1024), "8 MiB");
    assert_eq!(human_bytes(512 * 1024), "512 KiB");
    assert_eq!(human_bytes(1000), "1000 bytes");
}

#[test]
fn the_config_debug_output_hides_env_values() {
    let mut config = config(Path::new("pulumi"));
    config.env.insert(
        "PULUMI_ACCESS_TOKEN".to_owned(),
        "pul-abcdef123456".to_owned(),
    );
    let shown = format!("{config:?} {:?}", Runner::new(config.clone()));
    assert!(shown.contains("PULUMI_ACCESS_TOKEN"), "{shown}");
    assert!(!shown.contains("pul-abcdef123456"), "{shown}");
}

#[tokio::test]
async fn an_unavailable_sandbox_fails_closed_without_running_the_program() {
    let dir = TempDir::new().unwrap();
    let ran = dir.path().join("ran");
    let command = script(dir.path(), &format!("touch '{}'", ran.display()));
    let config = RunnerConfig {
        isolation: Isolation::Unavailable("bwrap: no user namespaces".to_owned()),
        ..config(&command)
    };
    let err = runner(config)
        .preview(place(dir.path()), "dev")
        .await
        .unwrap_err();
    assert!(
        matches!(err, RunError::SandboxUnavailable { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the preview sandbox is not available, so the pull request's code was not run (iamgate \
         fails closed): bwrap: no user namespaces"
    );
    assert!(!ran.exists(), "the program ran unisolated");
}

#[tokio::test]
async fn in_the_sandbox_the_program_writes_only_its_workspace_and_sees_no_other_process() {
    let Some(sandbox) = sandbox_or_skip().await else {
        return;
    };
    let dir = TempDir::new().unwrap();
    let (workspace, bin) = (dir.path().join("workspace"), dir.path().join("bin"));
    let outside = dir.path().join("outside");
    fs::create_dir(&workspace).unwrap();
    fs::create_dir(&bin).unwrap();
    fs::write(&outside, "untouched").unwrap();
    let command = script(
        &bin,
        &format!(
            "{{ cat '{outside}'; }} 2>/dev/null >&2\n\
             {{ echo x >> '{outside}'; }} 2>/dev/null\n\
             echo x > inside\n\
             ls /proc | grep -c '^[0-9]' >&2\n\
             id -u >&2\n\
             exit 0",
            outside = outside.display()
        ),
    );
    let config = RunnerConfig {
        isolation: Isolation::Sandbox(sandbox),
        ..config(&command)
    };
    let output = runner(config)
        .preview(place(&workspace), "dev")
        .await
        .unwrap();
    assert_eq!(output.exit_code, Some(0), "{}", output.stderr);
    assert_eq!(fs::read_to_string(&outside).unwrap(), "untouched");
    assert!(
        workspace.join("inside").exists(),
        "the workspace is writable"
    );
    let lines: Vec<&str> = output.stderr.lines().collect();
    // Its own PID namespace: bwrap's init, the script, and the `ls` and `grep` of that line.
    assert!(
        lines[0].parse::<u32>().is_ok_and(|n| n <= 4),
        "{}",
        output.stderr
    );
    assert_eq!(lines[1], "65534", "{}", output.stderr);
    assert_eq!(lines.len(), 2, "{}", output.stderr);
}

#[tokio::test]
async fn install_runs_in_the_project_with_the_repository_caches_and_only_when_asked() {
    let dir = TempDir::new().unwrap();
    let (project, caches) = (dir.path().join("project"), dir.path().join("caches"));
    fs::create_dir(&project).unwrap();
    let command = script(
        dir.path(),
        "echo \"$1 in $(pwd)\"; echo \"$PULUMI_HOME $npm_config_cache $PIP_CACHE_DIR $GOMODCACHE\"",
    );
    let place = Place {
        workspace: &project,
        project_dir: &project,
        caches: Some(&caches),
        repo: None,
        stack: None,
    };
    assert!(
        runner(config(&command)).install(place).await.is_none(),
        "off: not run"
    );

    let config = RunnerConfig {
        install: true,
        ..config(&command)
    };
    let output = runner(config).install(place).await.unwrap().unwrap();
    assert_eq!(output.exit_code, Some(0));
    let c = caches.display();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!(
            "install in {}\n{c}/pulumi {c}/npm {c}/pip {c}/go/mod\n",
            project.canonicalize().unwrap().display()
        )
    );
}

#[tokio::test]
async fn a_run_that_writes_past_its_disk_limit_is_stopped_and_says_so() {
    let dir = TempDir::new().unwrap();
    let (workspace, bin) = (dir.path().join("workspace"), dir.path().join("bin"));
    fs::create_dir(&workspace).unwrap();
    fs::create_dir(&bin).unwrap();
    // What was there before the run does not count: only what the run adds.
    fs::write(workspace.join("checked-in"), vec![1u8; 3 << 20]).unwrap();
    let command = script(
        &bin,
        "for i in 1 2 3 4; do head -c 1048576 /dev/zero > \"blob$i\"; done; sync; sleep 30",
    );
    let config = RunnerConfig {
        limits: RunLimits {
            disk_bytes: 2 << 20,
            ..RunLimits::default()
        },
        ..config(&command)
    };
    let started = Instant::now();
    let err = runner(config)
        .preview(place(&workspace), "dev")
        .await
        .unwrap_err();
    assert!(
        matches!(err, RunError::DiskLimit { step: "preview", limit } if limit == 2 << 20),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(20), "not stopped");
    assert_eq!(
        err.to_string(),
        "pulumi preview wrote more than 2 MiB to its workspace, HOME and caches, so iamgate \
         stopped it; raise [pulumi] disk_mb if the program really needs that much"
    );
}

#[tokio::test]
async fn a_run_within_its_disk_limit_is_left_alone() {
    let dir = TempDir::new().unwrap();
    let command = script(
        dir.path(),
        "head -c 1048576 /dev/zero > blob; sleep 3; echo '{}'",
    );
    let config = RunnerConfig {
        limits: RunLimits {
            disk_bytes: 2 << 20,
            ..RunLimits::default()
        },
        ..config(&command)
    };
    let output = runner(config)
        .preview(place(dir.path()), "dev")
        .await
        .unwrap();
    assert_eq!(output.exit_code, Some(0), "{}", output.stderr);
}

#[tokio::test]
async fn the_sandbox_sets_the_resource_limits_and_the_kernel_holds_the_program_to_them() {
    let Some(sandbox) = sandbox_or_skip().await else {
        return;
    };
    let dir = TempDir::new().unwrap();
    let (workspace, bin) = (dir.path().join("workspace"), dir.path().join("bin"));
    fs::create_dir(&workspace).unwrap();
    fs::create_dir(&bin).unwrap();
    let command = script(
        &bin,
        "grep -E '^Max (data size|processes|file size|core file size)' /proc/self/limits >&2\n\
         df -k /tmp | tail -n 1 | awk '{print \"tmp\", $2}' >&2\n\
         awk 'BEGIN { s = sprintf(\"%200000000s\", \"\"); print \"allocated\", length(s) }' >&2 \
         || echo 'allocation refused' >&2\n\
         head -c 3145728 /dev/zero > big 2>/dev/null || echo 'file refused' >&2\n\
         exit 0",
    );
    const MIB: u64 = 1024 * 1024;
    let config = RunnerConfig {
        isolation: Isolation::Sandbox(sandbox),
        limits: RunLimits {
            memory_bytes: 64 * MIB,
            processes: 77,
            disk_bytes: 2 * MIB,
        },
        ..config(&command)
    };
    let output = runner(config)
        .preview(place(&workspace), "dev")
        .await
        .unwrap();
    let said = output.stderr;
    let limit = |name: &str| -> Vec<String> {
        said.lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("no {name:?} in {said}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(limit("Max data size")[3..5], ["67108864", "67108864"]);
    assert_eq!(limit("Max processes")[2..4], ["77", "77"]);
    assert_eq!(limit("Max file size")[3..5], ["2097152", "2097152"]);
    assert_eq!(limit("Max core file size")[4..6], ["0", "0"]);
    assert!(said.contains("tmp 2048\n"), "/tmp holds 2 MiB: {said}");
    assert!(
        said.contains("allocation refused"),
        "200 MB allowed: {said}"
    );
    assert!(
        said.contains("file refused"),
        "a 3 MiB file allowed: {said}"
    );
    assert!(
        fs::metadata(workspace.join("big")).unwrap().len() <= 2 * MIB,
        "the file grew past the limit"
    );
}

#[test]
fn a_previews_output_is_masked_in_every_string_and_stays_json() {
    let mut config = config(Path::new("pulumi"));
    config
        .env
        .insert("TOKEN".to_owned(), "s3cr3t-v4lue".to_owned());
    config.env.insert("FLAG".to_owned(), "true".to_owned());
    let runner = Runner::new(config);
    let digest = serde_json::json!({
        "steps": [{"op": "create", "newState": {"inputs": {
            "policy": "{\"Sid\": \"s3cr3t-v4lue\"}",
            "enabled": true,
            "s3cr3t-v4lue": "as a key",
            "count": 3
        }}}],
        "note": "true"
    });
    let masked = runner.mask_output(serde_json::to_vec_pretty(&digest).unwrap());
    let back: serde_json::Value = serde_json::from_slice(&masked).unwrap();
    assert_eq!(
        back,
        serde_json::json!({
            "steps": [{"op": "create", "newState": {"inputs": {
                "policy": "{\"Sid\": \"***\"}",
                "enabled": true,
                "***": "as a key",
                "count": 3
            }}}],
            "note": "***"
        })
    );

    // The event stream: one document per line; what is not JSON is masked as text.
    let stream = b"{\"a\": \"x s3cr3t-v4lue\"}\n{\"b\": true}\nnot json s3cr3t-v4lue\n".to_vec();
    assert_eq!(
        String::from_utf8(runner.mask_output(stream)).unwrap(),
        "{\"a\":\"x ***\"}\n{\"b\":true}\nnot json ***\n"
    );
}

#[test]
fn without_configured_values_the_output_is_not_touched() {
    let runner = Runner::new(config(Path::new("pulumi")));
    let text = b"{ \"kept\" :  \"as printed\" }\n".to_vec();
    assert_eq!(runner.mask_output(text.clone()), text);
}
