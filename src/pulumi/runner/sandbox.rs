//! The preview sandbox: bubblewrap (`bwrap`) around the pulumi command. The code under review
//! runs as another uid (65534) in its own user, PID, IPC, UTS and cgroup namespaces, with no
//! capabilities and `no_new_privs`; it sees a read-only system (`/usr` and the few files of `/etc`
//! that name resolution, TLS and the dynamic linker need), writes only its workspace, a fresh
//! HOME and a private `/tmp`, and sees none of iamgate's files, environment or processes. It dies
//! with its runner (`--die-with-parent`), and when its first process ends the kernel kills
//! everything left in its PID namespace, `setsid` daemons included. Inside, util-linux's `prlimit`
//! sets the resource limits ([`Limits`]) before the program starts: memory per process, processes
//! (and threads), file size, no core dumps; its `/tmp` is a tmpfs of bounded size. The network is
//! shared: pulumi needs its backend and the cloud.
//!
//! Knows nothing of pulumi's arguments or of secrets; the runner builds the command line.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// The uid and gid the program runs as inside (`nobody`).
const SANDBOX_ID: &str = "65534";

/// How long the start-up check may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Files and directories of `/etc` the programs need (name resolution, TLS roots, users, the
/// dynamic linker, Debian's alternatives such as `/usr/bin/node`), bound read-only when present.
/// Nothing else of `/etc` is visible: iamgate's own config may live there.
const ETC: &[&str] = &[
    "/etc/alternatives",
    "/etc/ca-certificates",
    "/etc/gai.conf",
    "/etc/group",
    "/etc/host.conf",
    "/etc/hosts",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/pki",
    "/etc/resolv.conf",
    "/etc/ssl",
];

/// The top-level directories that merged-`/usr` systems make symlinks into `/usr`.
const USR_LINKS: &[&str] = &["/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin"];

/// The resource limits of one sandboxed run, as the kernel enforces them (`setrlimit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `RLIMIT_DATA` of every process: the memory (heap and other private writable mappings) one
    /// process may allocate. Address space that is only reserved (V8's, Go's) does not count.
    pub memory_bytes: u64,
    /// `RLIMIT_NPROC`: processes and threads of the sandbox's user at once. The kernel counts
    /// them per user namespace, so each sandbox has its own budget; it does not apply when
    /// iamgate runs as root (uid 0 outside the namespace).
    pub processes: u64,
    /// `RLIMIT_FSIZE`: the largest file a process may write.
    pub file_bytes: u64,
    /// The size of the sandbox's `/tmp` (a tmpfs, so in memory).
    pub tmp_bytes: u64,
}

/// A sandbox that was set up successfully on this machine.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
    /// util-linux's `prlimit`, which sets the limits inside the sandbox.
    prlimit: PathBuf,
    /// The hard limits iamgate itself runs under: asking more than those would fail.
    ceilings: Ceilings,
    /// `--ro-bind`, `--symlink`, ... for the system view, computed once.
    system: Vec<OsString>,
}

/// Where one run's program may write, and where it starts.
#[derive(Debug, Clone, Copy)]
pub struct Mounts<'a> {
    /// The unpacked repository: writable (installs write `node_modules`, virtualenvs, ...).
    pub workspace: &'a Path,
    /// The run's fresh HOME: writable.
    pub home: &'a Path,
    /// The directory the program starts in (inside `workspace`).
    pub cwd: &'a Path,
    /// The repository's caches, kept between runs: writable.
    pub caches: Option<&'a Path>,
}

impl Sandbox {
    /// Finds `bwrap` on `PATH` and starts one sandbox (running `true`) to prove that this
    /// machine allows it. `extra` are more read-only paths to show (toolchains outside `/usr`).
    /// The error says what failed and how to fix it; it is shown where previews would run.
    pub async fn probe(extra: &[PathBuf]) -> Result<Sandbox, String> {
        let bwrap = find_on_path("bwrap").ok_or_else(|| {
            "bubblewrap (`bwrap`) is not installed: install it (Debian/Ubuntu: `apt-get install \
             bubblewrap`), or set [pulumi] sandbox = false to run previews unisolated"
                .to_owned()
        })?;
        let prlimit = find_on_path("prlimit").ok_or_else(|| {
            "util-linux's `prlimit`, which sets the preview sandbox's resource limits, is not \
             installed: install it (Debian/Ubuntu: `apt-get install util-linux`), or set [pulumi] \
             sandbox = false to run previews unisolated"
                .to_owned()
        })?;
        for path in extra {
            if !path.is_absolute() {
                return Err(format!("`{}` is not an absolute path", path.display()));
            }
        }
        let sandbox = Sandbox {
            bwrap,
            prlimit,
            ceilings: Ceilings::read(),
            system: system_view(extra),
        };
        let home = tempfile::tempdir().map_err(|e| format!("cannot create a temp dir: {e}"))?;
        let mounts = Mounts {
            workspace: home.path(),
            home: home.path(),
            cwd: home.path(),
            caches: None,
        };
        let mut check = sandbox.command(
            Path::new("/bin/sh"),
            &["-c", "exit 0"],
            mounts,
            &Limits::PROBE,
        );
        check
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let output = tokio::time::timeout(PROBE_TIMEOUT, check.output())
            .await
            .map_err(|_| "starting a test sandbox did not finish within 10 s".to_owned())?
            .map_err(|e| format!("cannot run `{}`: {e}", sandbox.bwrap.display()))?;
        if output.status.success() {
            Ok(sandbox)
        } else {
            let said = String::from_utf8_lossy(&output.stderr);
            Err(format!(
                "bubblewrap cannot create the preview sandbox here ({}): the kernel or the \
                 container runtime must allow user namespaces (see docs/github-app.md, \"What a \
                 pull request's code can and cannot do\"), or set [pulumi] sandbox = false to run \
                 previews unisolated",
                said.trim()
            ))
        }
    }

    /// The command that runs `program` with `args` inside a new sandbox, under `limits`. The
    /// caller sets the environment (it reaches the program as set) and the stdio.
    pub fn command(
        &self,
        program: &Path,
        args: &[&str],
        mounts: Mounts<'_>,
        limits: &Limits,
    ) -> Command {
        let limits = self.ceilings.cap(limits);
        let mut command = Command::new(&self.bwrap);
        command
            .args([
                "--unshare-user",
                "--unshare-pid",
                "--unshare-ipc",
                "--unshare-uts",
                "--unshare-cgroup-try",
                "--share-net",
                "--uid",
                SANDBOX_ID,
                "--gid",
                SANDBOX_ID,
                "--hostname",
                "iamgate-preview",
                "--die-with-parent",
                "--new-session",
                "--cap-drop",
                "ALL",
            ])
            .args(&self.system)
            .args(["--proc", "/proc", "--dev", "/dev", "--size"])
            .arg(limits.tmp_bytes.to_string())
            .args(["--tmpfs", "/tmp"]);
        // The program's own directory (pulumi and its language plugins), and prlimit's, unless
        // /usr shows them.
        let mut shown: Vec<&Path> = Vec::new();
        for dir in [program.parent(), self.prlimit.parent()]
            .into_iter()
            .flatten()
        {
            if !dir.starts_with("/usr") && !shown.contains(&dir) {
                command.arg("--ro-bind").arg(dir).arg(dir);
                shown.push(dir);
            }
        }
        if let Some(caches) = mounts.caches {
            command.arg("--bind").arg(caches).arg(caches);
        }
        command
            .arg("--bind")
            .arg(mounts.workspace)
            .arg(mounts.workspace)
            .arg("--bind")
            .arg(mounts.home)
            .arg(mounts.home)
            .arg("--chdir")
            .arg(mounts.cwd)
            .arg("--")
            .arg(&self.prlimit)
            .arg(format!("--data={}", limits.memory_bytes))
            .arg(format!("--nproc={}", limits.processes))
            .arg(format!("--fsize={}", limits.file_bytes))
            .arg("--core=0")
            .arg("--")
            .arg(program)
            .args(args);
        command
    }
}

impl Limits {
    /// Enough for the start-up check's `sh -c 'exit 0'`.
    const PROBE: Limits = Limits {
        memory_bytes: 256 * 1024 * 1024,
        processes: 64,
        file_bytes: 1024 * 1024,
        tmp_bytes: 1024 * 1024,
    };
}

/// The hard limits of iamgate's own process: an unprivileged process cannot raise a hard limit,
/// so a sandbox asks for at most these (`None`: unlimited).
#[derive(Debug, Clone, Copy)]
struct Ceilings {
    data: Option<u64>,
    nproc: Option<u64>,
    fsize: Option<u64>,
}

impl Ceilings {
    fn read() -> Ceilings {
        use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit};
        let hard = |resource| {
            getrlimit(resource)
                .ok()
                .map(|(_, hard)| hard)
                .filter(|hard| *hard != RLIM_INFINITY)
        };
        Ceilings {
            data: hard(Resource::RLIMIT_DATA),
            nproc: hard(Resource::RLIMIT_NPROC),
            fsize: hard(Resource::RLIMIT_FSIZE),
        }
    }

    fn cap(&self, limits: &Limits) -> Limits {
        let cap = |want: u64, ceiling: Option<u64>| ceiling.map_or(want, |c| want.min(c));
        Limits {
            memory_bytes: cap(limits.memory_bytes, self.data),
            processes: cap(limits.processes, self.nproc),
            file_bytes: cap(limits.file_bytes, self.fsize),
            tmp_bytes: limits.tmp_bytes,
        }
    }
}

/// `/usr` read-only, the merged-`/usr` links (or the directories, on systems without them), the
/// needed parts of `/etc`, and `extra`.
fn system_view(extra: &[PathBuf]) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["--ro-bind".into(), "/usr".into(), "/usr".into()];
    for top in USR_LINKS {
        match std::fs::read_link(top) {
            Ok(target) => {
                args.extend(["--symlink".into(), target.into_os_string(), (*top).into()]);
            }
            Err(_) if Path::new(top).is_dir() => {
                args.extend(["--ro-bind".into(), (*top).into(), (*top).into()]);
            }
            Err(_) => {}
        }
    }
    for path in ETC {
        args.extend(["--ro-bind-try".into(), (*path).into(), (*path).into()]);
    }
    for path in extra {
        args.extend([
            "--ro-bind".into(),
            path.as_os_str().to_owned(),
            path.as_os_str().to_owned(),
        ]);
    }
    args
}

/// `name` as the first executable file of that name on `PATH`; a name with a `/` is taken as
/// a path (made absolute against the current directory).
pub fn resolve_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let path = Path::new(name);
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir().ok()?.join(path)
        };
        return path.is_file().then_some(path);
    }
    find_on_path(name)
}

/// Where programs are looked up when `PATH` is not set (as `execvp` does, plus /usr/local).
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_view_shows_usr_and_parts_of_etc_only() {
        let args: Vec<String> = system_view(&[PathBuf::from("/opt/toolchain")])
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args[..3], ["--ro-bind", "/usr", "/usr"]);
        assert!(args.iter().any(|a| a == "/etc/resolv.conf"));
        assert!(!args.iter().any(|a| a == "/etc" || a == "/" || a == "/root"));
        assert!(args.ends_with(&[
            "--ro-bind".to_owned(),
            "/opt/toolchain".to_owned(),
            "/opt/toolchain".to_owned()
        ]));
    }

    #[test]
    fn limits_never_ask_more_than_the_hard_limits_iamgate_runs_under() {
        let ceilings = Ceilings {
            data: Some(1000),
            nproc: None,
            fsize: Some(5),
        };
        let want = Limits {
            memory_bytes: 4000,
            processes: 300,
            file_bytes: 2,
            tmp_bytes: 77,
        };
        assert_eq!(
            ceilings.cap(&want),
            Limits {
                memory_bytes: 1000,
                processes: 300,
                file_bytes: 2,
                tmp_bytes: 77,
            }
        );
    }

    #[test]
    fn programs_resolve_on_path_or_as_paths() {
        assert!(resolve_program("sh").is_some_and(|p| p.is_absolute()));
        assert_eq!(resolve_program("no-such-program-iamgate"), None);
        assert_eq!(resolve_program("/no/such/iamgate"), None);
    }
}
