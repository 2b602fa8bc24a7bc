//! A fake `pulumi` CLI for integration tests: a `/bin/sh` script whose behaviour is chosen per
//! stack through files next to it, so a test can change it between runs, and which records every
//! invocation (arguments and working directory).
//!
//! Self-contained (std only); `mod`-include it from the test binary. It must not depend on
//! iamgate, so it checks nothing about iamgate itself: tests assert on `invocations()` and on
//! what iamgate made of the output.
//!
//! Layout under the directory given to `new`: `pulumi` (the script), `invocations.log` (one line
//! per run: cwd then the arguments, separated by U+001F), `stacks/<n>/` (per stack: `stack`
//! holding its name, `mode`, `code`, `stdout`, `stderr`, and for `hang` the `pid` and
//! `grandchild.pid` it wrote; for `block` the `pid` and the `release` file it waits for). A stack without a behaviour gets pulumi's "stack not found"
//! (exit 6).

#![allow(
    dead_code,
    reason = "each scenario file uses a different part of this support module"
)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Separates fields of one `invocations.log` line.
const SEP: char = '\u{1f}';

const SCRIPT: &str = r#"#!/bin/sh
# A fake pulumi written by tests/integration/support/fake_pulumi.rs.
base=@BASE@
[ "$1" = --fake-pulumi-probe ] && exit 0
stack=''
prev=''
for arg in "$@"; do
  [ "$prev" = --stack ] && stack=$arg
  case $arg in --stack=*) stack=${arg#--stack=} ;; esac
  prev=$arg
done
sep=$(printf '\037')
line=$(pwd)
for arg in "$@"; do line="$line$sep$arg"; done
# Inside a preview sandbox this directory is read-only: the run goes on unrecorded.
printf '%s\n' "$line" 2>/dev/null >> "$base/invocations.log"
if [ "$1" = install ]; then
  # Like `pulumi install`: the program's dependencies go into the project, through the package
  # manager's cache (npm's here); `install_fails` (if present) holds the stderr of a failure.
  if [ -f "$base/install_fails" ]; then cat "$base/install_fails" >&2; exit 1; fi
  mkdir -p node_modules/@pulumi/pulumi && echo '{}' > node_modules/@pulumi/pulumi/package.json
  if [ -n "$npm_config_cache" ]; then
    mkdir -p "$npm_config_cache" && pwd >> "$npm_config_cache/fake-pulumi-installs"
  fi
  exit 0
fi
# Like pulumi with a Node.js program whose dependencies are not installed.
if grep -qs 'runtime: nodejs' Pulumi.yaml && [ ! -d node_modules/@pulumi/pulumi ]; then
  echo 'error: It looks like the Pulumi SDK has not been installed. Have you run npm install or yarn install?' >&2
  exit 255
fi
behaviour=''
for dir in "$base"/stacks/*; do
  [ -f "$dir/stack" ] || continue
  if [ "$(cat "$dir/stack")" = "$stack" ]; then behaviour=$dir; break; fi
done
if [ -z "$behaviour" ]; then
  echo "error: no stack named '$stack' found" >&2
  exit 6
fi
case $(cat "$behaviour/mode") in
  replay) cat "$behaviour/stdout"; exit 0 ;;
  fail) cat "$behaviour/stdout"; cat "$behaviour/stderr" >&2; exit "$(cat "$behaviour/code")" ;;
  print_env) env; exit 0 ;;
  env_to_stderr) env >&2; exit 1 ;;
  hostile)
    # What a pull request's program could try against iamgate; anything that works is reported
    # (exit 1, on stderr: the comment quotes it), else the preview is replayed as usual.
    report=''
    for env in /proc/[0-9]*/environ; do
      if { tr '\000' '\n' < "$env"; } 2>/dev/null | grep -q '^CARGO_MANIFEST_DIR='; then
        report="$report [read the environment of ${env%/environ}]"
      fi
    done
    while read -r target; do
      if [ -r "$target" ]; then
        report="$report [read $target: $(head -c 40 "$target" | tr -dc 'A-Za-z0-9 =_-')]"
      fi
    done < "$behaviour/readable"
    while read -r target; do
      if [ -e "$target" ] && (printf 'escaped\n' >> "$target") 2>/dev/null; then
        report="$report [wrote $target]"
      fi
    done < "$behaviour/writable"
    for pid in $(cat "$behaviour/signal"); do
      kill -0 "$pid" 2>/dev/null && grep -q integration "/proc/$pid/cmdline" 2>/dev/null \
        && report="$report [can signal $pid]"
    done
    setsid sleep "$(cat "$behaviour/daemon")" </dev/null >/dev/null 2>&1 &
    sleep 0.3 # until the daemon has left the run's process group, as an attacker would wait
    if [ -n "$report" ]; then echo "escaped:$report" >&2; exit 1; fi
    cat "$behaviour/stdout"; exit 0 ;;
  fill_disk)
    # Writes three files of `bytes` each into the project, then takes its time.
    for i in 1 2 3; do head -c "$(cat "$behaviour/bytes")" /dev/zero > "filler$i"; done
    sleep 5
    cat "$behaviour/stdout"; exit 0 ;;
  hang)
    echo $$ > "$behaviour/pid"
    (trap '' TERM; exec sleep 100000) &
    echo $! > "$behaviour/grandchild.pid"
    exec sleep 100000 ;;
  block)
    echo $$ > "$behaviour/pid"
    held="$behaviour/held.$$"
    cat "$behaviour/stdout" > "$held"
    while [ ! -f "$behaviour/release" ]; do sleep 0.02; done
    cat "$held"; rm -f "$held"; exit 0 ;;
  *) echo "fake pulumi: unknown mode in $behaviour" >&2; exit 255 ;;
esac
"#;

/// One run of the fake, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub args: Vec<String>,
    pub cwd: PathBuf,
}

impl Invocation {
    /// The value after `--stack`, if any.
    pub fn stack(&self) -> Option<&str> {
        let at = self.args.iter().position(|arg| arg == "--stack")?;
        self.args.get(at + 1).map(String::as_str)
    }
}

#[derive(Debug, Clone)]
pub struct FakePulumi {
    dir: PathBuf,
    script: PathBuf,
}

impl FakePulumi {
    /// Writes the script into `dir` (created if missing) and waits until it can be executed.
    pub fn new(dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(dir.join("stacks")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let script = dir.join("pulumi");
        let text = SCRIPT.replace("@BASE@", &shell_quote(&dir.display().to_string()));
        write(&script, text.as_bytes());
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", script.display()));
        wait_executable(&script);
        Self { dir, script }
    }

    /// The path to configure as `[pulumi] command`.
    pub fn command(&self) -> &Path {
        &self.script
    }

    /// `stack` prints the content of `fixture` (read now) on stdout and exits 0.
    pub fn replay(&self, stack: &str, fixture: impl AsRef<Path>) {
        let fixture = fixture.as_ref();
        let content =
            fs::read(fixture).unwrap_or_else(|e| panic!("fixture {}: {e}", fixture.display()));
        self.set(stack, "replay", 0, b"", &content);
    }

    /// `stack` prints `stdout_text` and `stderr_text` and exits with `code`.
    pub fn fail(&self, stack: &str, code: i32, stderr_text: &str, stdout_text: &str) {
        self.set(
            stack,
            "fail",
            code,
            stderr_text.as_bytes(),
            stdout_text.as_bytes(),
        );
    }

    /// `stack` never ends: it sleeps, with a grandchild that ignores SIGTERM and sleeps too.
    pub fn hang(&self, stack: &str) {
        self.set(stack, "hang", 0, b"", b"");
    }

    /// `stack` waits until [`FakePulumi::release`] is called, then prints what `fixture` held
    /// when the run started and exits 0 (a preview that takes as long as the test wants).
    pub fn block(&self, stack: &str, fixture: impl AsRef<Path>) {
        let fixture = fixture.as_ref();
        let content =
            fs::read(fixture).unwrap_or_else(|e| panic!("fixture {}: {e}", fixture.display()));
        self.set(stack, "block", 0, b"", &content);
    }

    /// Lets every blocked run of `stack` (present and future) finish.
    pub fn release(&self, stack: &str) {
        let dir = self
            .behaviour_dir(stack)
            .unwrap_or_else(|| panic!("fake pulumi: no behaviour for stack {stack}"));
        write(&dir.join("release"), b"");
    }

    /// `stack` tries what a hostile pull request would: read the environment of every process it
    /// can see, read each of `readable`, append to each of `writable`, signal each of `signal`
    /// (pids), and leave a `setsid sleep <daemon_secs>` daemon behind. Whatever works makes it exit 1
    /// with `escaped: [...]` on stderr; when nothing does, it prints `fixture` and exits 0.
    pub fn hostile(
        &self,
        stack: &str,
        fixture: impl AsRef<Path>,
        readable: &[&Path],
        writable: &[&Path],
        signal: &[u32],
        daemon_secs: u32,
    ) {
        let dir = self.set_printing(stack, "hostile", fixture.as_ref());
        let lines = |paths: &[&Path]| {
            paths
                .iter()
                .map(|p| format!("{}\n", p.display()))
                .collect::<String>()
        };
        write(&dir.join("readable"), lines(readable).as_bytes());
        write(&dir.join("writable"), lines(writable).as_bytes());
        let pids: Vec<String> = signal.iter().map(u32::to_string).collect();
        write(&dir.join("signal"), pids.join(" ").as_bytes());
        write(&dir.join("daemon"), daemon_secs.to_string().as_bytes());
    }

    /// `stack` writes three files of `bytes` each into its project, then sleeps 5 s before
    /// printing `fixture`: a run that outgrows its disk limit.
    pub fn fill_disk(&self, stack: &str, fixture: impl AsRef<Path>, bytes: u64) {
        let dir = self.set_printing(stack, "fill_disk", fixture.as_ref());
        write(&dir.join("bytes"), bytes.to_string().as_bytes());
    }

    /// Sets `stack` to `mode`, printing `fixture` when it gets that far; the behaviour's
    /// directory, for the mode's own files.
    fn set_printing(&self, stack: &str, mode: &str, fixture: &Path) -> PathBuf {
        let content =
            fs::read(fixture).unwrap_or_else(|e| panic!("fixture {}: {e}", fixture.display()));
        self.set(stack, mode, 0, b"", &content);
        self.behaviour_dir(stack)
            .unwrap_or_else(|| panic!("no behaviour for {stack}"))
    }

    /// The pids of the `sleep <daemon_secs>` daemons hostile runs left behind (none, when
    /// sandboxed).
    pub fn left_behind(daemon_secs: u32) -> Vec<u32> {
        let cmdline = format!("sleep\0{daemon_secs}\0").into_bytes();
        fs::read_dir("/proc")
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                    .filter(|pid| {
                        fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == cmdline)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `stack` fails (exit 1) with its environment (`env` output) on stderr, which the comment
    /// quotes: what reached the program, as people would see it.
    pub fn env_to_stderr(&self, stack: &str) {
        self.set(stack, "env_to_stderr", 0, b"", b"");
    }

    /// `stack` prints its environment (`env` output, `KEY=value` lines) on stdout.
    pub fn print_env(&self, stack: &str) {
        self.set(stack, "print_env", 0, b"", b"");
    }

    /// Every preview so far, oldest first (not the installs: [`FakePulumi::installs`]).
    pub fn invocations(&self) -> Vec<Invocation> {
        self.runs()
            .into_iter()
            .filter(|run| run.args.first().is_none_or(|a| a != "install"))
            .collect()
    }

    /// Every `install` so far, oldest first.
    pub fn installs(&self) -> Vec<Invocation> {
        self.runs()
            .into_iter()
            .filter(|run| run.args.first().is_some_and(|a| a == "install"))
            .collect()
    }

    /// Every later `install` fails with `stderr_text` (exit 1).
    pub fn fail_install(&self, stderr_text: &str) {
        write(&self.dir.join("install_fails"), stderr_text.as_bytes());
    }

    /// Every run so far, oldest first.
    fn runs(&self) -> Vec<Invocation> {
        let log = match fs::read_to_string(self.dir.join("invocations.log")) {
            Ok(log) => log,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(e) => panic!("invocations.log: {e}"),
        };
        log.lines()
            .map(|line| {
                let mut fields = line.split(SEP);
                let cwd = PathBuf::from(fields.next().unwrap_or_default());
                Invocation {
                    args: fields.map(str::to_owned).collect(),
                    cwd,
                }
            })
            .collect()
    }

    /// For a hanging stack that has started: (its pid, its grandchild's pid). Waits up to 5 s
    /// for both to be written.
    pub fn hung_pids(&self, stack: &str) -> Option<(u32, u32)> {
        let dir = self.behaviour_dir(stack)?;
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let read = |name: &str| -> Option<u32> {
                fs::read_to_string(dir.join(name)).ok()?.trim().parse().ok()
            };
            if let (Some(pid), Some(grandchild)) = (read("pid"), read("grandchild.pid")) {
                return Some((pid, grandchild));
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether `pid` is a live process (a zombie counts as dead).
    pub fn is_alive(pid: u32) -> bool {
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => false,
            Ok(stat) => stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        }
    }

    fn set(&self, stack: &str, mode: &str, code: i32, stderr: &[u8], stdout: &[u8]) {
        let dir = self.behaviour_dir(stack).unwrap_or_else(|| {
            let stacks = self.dir.join("stacks");
            let count = fs::read_dir(&stacks)
                .unwrap_or_else(|e| panic!("{}: {e}", stacks.display()))
                .count();
            let dir = stacks.join(count.to_string());
            fs::create_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            write(&dir.join("stack"), stack.as_bytes());
            dir
        });
        for stale in ["pid", "grandchild.pid", "release"] {
            let _ = fs::remove_file(dir.join(stale));
        }
        write(&dir.join("stdout"), stdout);
        write(&dir.join("stderr"), stderr);
        write(&dir.join("code"), code.to_string().as_bytes());
        write(&dir.join("mode"), mode.as_bytes());
    }

    fn behaviour_dir(&self, stack: &str) -> Option<PathBuf> {
        let stacks = self.dir.join("stacks");
        fs::read_dir(&stacks)
            .unwrap_or_else(|e| panic!("{}: {e}", stacks.display()))
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|dir| fs::read(dir.join("stack")).is_ok_and(|name| name == stack.as_bytes()))
    }
}

/// Writes through a temporary file and a rename, so a running script never reads half a file.
fn write(path: &Path, content: &[u8]) {
    let tmp = path.with_extension("tmp-write");
    fs::write(&tmp, content).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
    fs::rename(&tmp, path).unwrap_or_else(|e| panic!("rename to {}: {e}", path.display()));
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A fork in another test thread while the script was open for writing makes `exec` fail with
/// ETXTBSY for a moment; wait until it runs.
fn wait_executable(script: &Path) {
    for _ in 0..300 {
        match std::process::Command::new(script)
            .arg("--fake-pulumi-probe")
            .status()
        {
            Ok(status) if status.success() => return,
            Err(e) if e.raw_os_error() == Some(26) => std::thread::sleep(Duration::from_millis(10)),
            other => panic!("fake pulumi {} does not run: {other:?}", script.display()),
        }
    }
    panic!("fake pulumi {} stayed busy", script.display());
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Output, Stdio};

    use super::*;

    fn run(fake: &FakePulumi, cwd: &Path, stack: &str) -> Output {
        Command::new(fake.command())
            .args(["preview", "--json", "--non-interactive", "--stack", stack])
            .current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("MARKER", "from-test")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    #[test]
    fn fake_pulumi_replays_fails_and_prints_env_per_stack() {
        let dir = tempfile::TempDir::new().unwrap();
        let fake = FakePulumi::new(dir.path().join("fake"));
        let fixture = dir.path().join("digest.json");
        fs::write(&fixture, b"{\"steps\":[]}\n").unwrap();
        fake.replay("acme/infra/prod", &fixture);
        fake.fail("dev", 3, "error: no credentials\n", "{\"diagnostics\":[]}");
        fake.print_env("env");

        let prod = run(&fake, dir.path(), "acme/infra/prod");
        assert_eq!(prod.status.code(), Some(0));
        assert_eq!(prod.stdout, b"{\"steps\":[]}\n");
        let dev = run(&fake, dir.path(), "dev");
        assert_eq!(dev.status.code(), Some(3));
        assert_eq!(dev.stdout, b"{\"diagnostics\":[]}");
        assert_eq!(dev.stderr, b"error: no credentials\n");
        let env = run(&fake, dir.path(), "env");
        assert!(String::from_utf8_lossy(&env.stdout).contains("MARKER=from-test"));
        let unknown = run(&fake, dir.path(), "nope");
        assert_eq!(unknown.status.code(), Some(6));

        // Behaviour changes between runs.
        fake.fail("acme/infra/prod", 1, "boom", "");
        assert_eq!(
            run(&fake, dir.path(), "acme/infra/prod").status.code(),
            Some(1)
        );
    }

    #[test]
    fn fake_pulumi_records_args_and_cwd() {
        let dir = tempfile::TempDir::new().unwrap();
        let fake = FakePulumi::new(dir.path().join("fake"));
        assert!(fake.invocations().is_empty());
        let project = dir.path().join("project dir");
        fs::create_dir(&project).unwrap();
        run(&fake, &project, "org/proj/stack one");
        let calls = fake.invocations();
        assert_eq!(calls.len(), 1);
        assert_eq!(
            calls[0].args,
            [
                "preview",
                "--json",
                "--non-interactive",
                "--stack",
                "org/proj/stack one"
            ]
        );
        assert_eq!(calls[0].stack(), Some("org/proj/stack one"));
        assert_eq!(calls[0].cwd, project.canonicalize().unwrap());
    }

    #[test]
    fn fake_pulumi_hangs_with_a_grandchild_ignoring_sigterm() {
        let dir = tempfile::TempDir::new().unwrap();
        let fake = FakePulumi::new(dir.path().join("fake"));
        fake.hang("slow");
        let mut child = Command::new(fake.command())
            .args(["preview", "--stack", "slow"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (pid, grandchild) = fake.hung_pids("slow").unwrap();
        assert_eq!(pid, child.id());
        let signal = |sig: &str, target: u32| {
            Command::new("kill")
                .args([sig, &target.to_string()])
                .status()
                .unwrap();
        };
        signal("-TERM", pid);
        child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            FakePulumi::is_alive(grandchild),
            "the grandchild must ignore SIGTERM"
        );
        signal("-KILL", grandchild);
        let until = Instant::now() + Duration::from_secs(5);
        while FakePulumi::is_alive(grandchild) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!FakePulumi::is_alive(grandchild));
    }
}
