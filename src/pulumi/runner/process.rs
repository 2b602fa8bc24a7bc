//! One child process, supervised: its own process group, stdout captured up to a cap, the tail of
//! stderr kept, and on timeout SIGTERM to the whole group, a grace period, then SIGKILL. Whatever
//! happens (normal exit included, and a dropped future), the group is SIGKILLed at the end so no
//! grandchild outlives the run. Knows nothing of pulumi, metrics or secrets.

use std::io;
use std::pin::pin;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::time::{Instant, sleep_until, timeout};

use super::disk::DiskWatch;
use super::mask::Tail;

/// After the group is killed (or the leader exited), how long pipes may still be drained. Only a
/// process that left the group (setsid) can hold them open that long.
const DRAIN: Duration = Duration::from_secs(2);

/// What to enforce on one run.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub(super) timeout: Duration,
    pub(super) grace: Duration,
    pub(super) max_stdout: usize,
    /// The run is killed once the directories it writes grew past their limit.
    pub(super) disk: Option<DiskWatch>,
}

#[derive(Debug)]
pub(super) enum Ending {
    Exited(ExitStatus),
    /// Killed after the timeout (SIGTERM, grace period, SIGKILL).
    TimedOut,
    /// Killed because stdout passed the cap.
    Overflow,
    /// Killed because it wrote more than its disk limit.
    DiskFull,
}

#[derive(Debug)]
pub(super) struct Finished {
    pub(super) ending: Ending,
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: Tail,
}

/// Spawns `command` (stdio and process group are set here) and supervises it to the end. An
/// error means it could not be spawned or waited for.
pub(super) async fn supervise(
    mut command: Command,
    mut plan: Plan,
    mut stderr: Tail,
) -> io::Result<Finished> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn()?;
    let group = Group::new(child.id());
    let out_pipe = child.stdout.take();
    let err_pipe = child.stderr.take();
    let mut stdout = Vec::new();

    let (ending, status) = {
        let mut out_fut = pin!(read_capped(out_pipe, &mut stdout, plan.max_stdout));
        let mut err_fut = pin!(read_tail(err_pipe, &mut stderr));
        let disk = plan.disk.take();
        let mut disk_fut = pin!(async move {
            match disk {
                Some(watch) => watch.exceeded().await,
                None => std::future::pending().await,
            }
        });
        let (mut out_done, mut err_done) = (false, false);
        let mut deadline = Instant::now() + plan.timeout;
        let mut ending: Option<Ending> = None;
        let status = loop {
            tokio::select! {
                status = child.wait() => break Some(status?),
                () = sleep_until(deadline) => {
                    if ending.is_some() {
                        break None; // grace period over
                    }
                    ending = Some(Ending::TimedOut);
                    group.signal(Signal::SIGTERM);
                    deadline = Instant::now() + plan.grace;
                }
                overflow = &mut out_fut, if !out_done => {
                    out_done = true;
                    if overflow && ending.is_none() {
                        ending = Some(Ending::Overflow);
                        group.signal(Signal::SIGKILL);
                        deadline = Instant::now() + plan.grace;
                    }
                }
                () = &mut err_fut, if !err_done => err_done = true,
                () = &mut disk_fut, if ending.is_none() => {
                    ending = Some(Ending::DiskFull);
                    group.signal(Signal::SIGKILL);
                    deadline = Instant::now() + plan.grace;
                }
            }
        };
        // Grandchildren that outlived the leader, or a leader that ignored SIGTERM.
        group.signal(Signal::SIGKILL);
        let drain_out = async { if out_done { false } else { out_fut.await } };
        let drain_err = async {
            if !err_done {
                err_fut.await;
            }
        };
        // A leader that printed past the cap and exited at once, before the reader noticed.
        let overflowed = timeout(DRAIN, async { tokio::join!(drain_out, drain_err).0 })
            .await
            .unwrap_or(false);
        if overflowed && ending.is_none() {
            ending = Some(Ending::Overflow);
        }
        (ending, status)
    };
    let status = match status {
        Some(status) => Some(status),
        None => timeout(DRAIN, child.wait()).await.ok().transpose()?,
    };
    group.disarm();
    let ending = match (ending, status) {
        (Some(ending), _) => ending,
        (None, Some(status)) => Ending::Exited(status),
        (None, None) => Ending::TimedOut,
    };
    Ok(Finished {
        ending,
        stdout,
        stderr,
    })
}

/// Reads a pipe to its end into `out`; returns true (and stops reading) once more than `cap`
/// bytes arrived. `out` never holds more than `cap` bytes.
async fn read_capped(pipe: Option<impl AsyncRead + Unpin>, out: &mut Vec<u8>, cap: usize) -> bool {
    let Some(mut pipe) = pipe else { return false };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) => return false,
            Ok(got) => {
                let room = cap.saturating_sub(out.len());
                if got > room {
                    out.extend_from_slice(&buf[..room]);
                    return true;
                }
                out.extend_from_slice(&buf[..got]);
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => {
                tracing::debug!(error = %err, "reading preview stdout failed");
                return false;
            }
        }
    }
}

async fn read_tail(pipe: Option<impl AsyncRead + Unpin>, tail: &mut Tail) {
    let Some(mut pipe) = pipe else { return };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) => return,
            Ok(got) => tail.push(&buf[..got]),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => {
                tracing::debug!(error = %err, "reading preview stderr failed");
                return;
            }
        }
    }
}

/// The child's process group (its id is the child's pid, thanks to `process_group(0)`). Dropped
/// while armed (the preview future was cancelled), it SIGKILLs the group.
#[derive(Debug)]
struct Group {
    pgid: Option<Pid>,
    armed: bool,
}

impl Group {
    fn new(child_id: Option<u32>) -> Self {
        let pgid = child_id
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw);
        Self { pgid, armed: true }
    }

    fn signal(&self, signal: Signal) {
        let Some(pgid) = self.pgid else { return };
        match killpg(pgid, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(err) => tracing::warn!(pgid = pgid.as_raw(), %signal, error = %err,
                "could not signal the preview's process group"),
        }
    }

    /// The group was killed and the leader reaped: nothing left to do on drop.
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.armed {
            self.signal(Signal::SIGKILL);
        }
    }
}
