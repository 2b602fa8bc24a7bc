//! Several `iamgate serve` replicas on one PostgreSQL database: the real binary, started two or
//! three times with the same `IAMGATE_STORE__URL` (a scratch database), the same audit key and
//! each its own `IAMGATE_STORE__DATA_DIR`, against one fake GitHub or GitLab and one fake pulumi
//! (the [`Crash`] harness of `crash.rs`). Deliveries go to any replica, at once, while replicas
//! are killed or restarted; every PR/MR must still end with exactly one comment (note), the right
//! status, and one analysis in the audit trail, whose chain verifies.
//!
//! They run when `IAMGATE_TEST_DATABASE_URL` names a PostgreSQL server (see
//! `iamgate::store::postgres::ScratchDatabase`), and return early when it is not set.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use iamgate::audit::{AuditEntry, AuditEvent};
use iamgate::store::postgres::ScratchDatabase;
use sqlx::PgPool;
use tokio::task::JoinSet;

use crate::crash::{ADMIN_ATTACH, Crash, NEEDS_SECURITY, Proc, Release, try_post};
use crate::support::app::{Delivery, Forge, MARKER, STACK, fixture, shown_statuses};

crate::both_forges!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    deliveries_spread_over_three_replicas_are_each_acted_on_once,
    the_same_delivery_at_two_replicas_at_once_is_acted_on_once,
    a_replica_killed_while_its_preview_runs_is_taken_over_by_another,
    approvals_on_two_replicas_at_once_both_count,
    a_rolling_restart_under_load_loses_and_repeats_no_delivery,
    an_approval_on_a_replica_that_did_not_preview_the_head_does_not_preview_it_again,
    a_rerun_on_one_replica_replaces_the_preview_another_replica_kept,
);

const ANALYZING: (&str, &str) = ("pending", "analyzing the IAM change");
const APPROVED: &str = "IAM risk critical: required approvals given";

/// The harness's config with two approvals required.
const TWO_APPROVALS: &str = "\
version: 1
stacks:
  - name: prod
    dir: infra
    stack: acme/prod
reviews:
  - name: security
    when: { min_risk: high }
    approvals: 2
    from: { teams: [\"acme/security\"], users: [\"alice\"] }
";

/// A delivery's HTTP headers.
type Headers = Vec<(&'static str, String)>;

/// `n` replicas (`r0`, `r1`, ...) on a fresh database, and a pool to read it.
struct Replicas<F> {
    c: Crash<F>,
    db: Option<ScratchDatabase>,
    pool: PgPool,
    procs: Vec<Proc>,
}

/// However a test ends (a failed assertion too), its replicas are SIGKILLed and its database
/// is dropped.
impl<F> Drop for Replicas<F> {
    fn drop(&mut self) {
        self.procs.clear();
        if let Some(db) = self.db.take() {
            // Dropping it is async and this runs on the test's runtime: a thread of its own.
            let _ = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|runtime| runtime.block_on(db.drop()))
            })
            .join();
        }
    }
}

impl<F: Forge> Replicas<F> {
    /// `None` when no PostgreSQL server is configured for tests. Leases last 10 s (a busy
    /// machine does not make a live replica's job look abandoned).
    async fn start(n: usize) -> Option<Replicas<F>> {
        Self::start_with_lease(n, 10).await
    }

    /// [`Replicas::start`] with leases of `lease_secs`.
    async fn start_with_lease(n: usize, lease_secs: u64) -> Option<Replicas<F>> {
        let db = ScratchDatabase::create().await?;
        let mut c = Crash::<F>::new()
            .await
            .on_postgres(&db.url)
            .with_lease_secs(lease_secs);
        let mut procs = Vec::new();
        for r in 0..n {
            procs.push(c.start_replica(&format!("r{r}")).await);
        }
        let pool = PgPool::connect(&db.url).await.unwrap();
        Some(Replicas {
            c,
            db: Some(db),
            pool,
            procs,
        })
    }

    /// Starts replica `name` (again, when it ran before: it finds its own data dir) as the
    /// last of the replicas.
    async fn add(&mut self, name: &str) {
        let proc = self.c.start_replica(name).await;
        self.procs.push(proc);
    }

    /// Stops replica `r` with SIGTERM (the later ones move down by one).
    async fn stop(&mut self, r: usize) {
        self.procs
            .remove(r)
            .terminate(Duration::from_secs(20))
            .await;
    }

    /// Waits until the newest status on `head` is `(state, text)`.
    async fn wait_status(&self, head: &str, state: &str, text: &str) {
        let shown = || {
            self.c
                .forge
                .statuses(head)
                .last()
                .is_some_and(|(s, t)| s == state && t == text)
        };
        let what = format!("the status {state}: {text}");
        self.c.wait(&what, Duration::from_secs(20), shown).await;
    }

    /// POSTs `delivery` as `id` to replica `r`; returns the HTTP status.
    async fn deliver(&self, r: usize, id: &str, delivery: &Delivery) -> u16 {
        self.c
            .try_deliver(&self.procs[r], id, delivery)
            .await
            .unwrap_or_else(|e| panic!("{} to r{r}: {e}", delivery.what))
    }

    /// POSTs each `(replica, id, delivery)` at once; their HTTP statuses, in order.
    async fn deliver_at_once(&self, sends: &[(usize, String, Delivery)]) -> Vec<u16> {
        let mut set = JoinSet::new();
        for (i, (r, id, delivery)) in sends.iter().enumerate() {
            let url = format!("{}/webhooks/{}", self.procs[*r].url, F::FORGE);
            let headers = self
                .c
                .forge
                .webhook_headers(delivery.event, id, &delivery.body);
            let body = delivery.body.clone();
            set.spawn(async move { (i, try_post(&url, &headers, body).await) });
        }
        let mut statuses = vec![0; sends.len()];
        while let Some(joined) = set.join_next().await {
            let (i, answer) = joined.unwrap();
            statuses[i] = answer.unwrap_or_else(|e| panic!("{}: {e}", sends[i].2.what));
        }
        statuses
    }

    /// The opening delivery of PR `number`.
    fn opened(&self, number: u64) -> Delivery {
        Delivery {
            event: F::OPEN_EVENT,
            body: self.c.forge.open_payload(number),
            what: format!("open #{number}"),
        }
    }

    /// Every job of the queue: `(kind, state, attempt, worker)`, oldest first.
    async fn jobs(&self) -> Vec<(String, String, i64, Option<String>)> {
        sqlx::query_as("SELECT kind, state, attempt, worker FROM jobs ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    /// The worker holding a running job's lease, and the job's attempt, if one runs.
    async fn running(&self) -> Option<(String, i64)> {
        sqlx::query_as("SELECT worker, attempt FROM jobs WHERE state = 'running'")
            .fetch_optional(&self.pool)
            .await
            .unwrap()
    }

    /// [`Replicas::assert_acted_on_once`] for each PR of `heads` (number to head), once all
    /// converged.
    async fn assert_each_acted_on_once(&self, heads: &BTreeMap<u64, String>) {
        for (&n, head) in heads {
            self.c.assert_converges(n, head).await;
        }
        let audit = self.c.audit().await;
        for (&n, head) in heads {
            self.assert_acted_on_once(n, head, &audit).await;
        }
    }

    /// Asserts PR `number` converged once: the final status and review requests, one comment
    /// (posted once), the statuses one analysis shows, one analysis of `head` audited.
    async fn assert_acted_on_once(&self, number: u64, head: &str, audit: &[AuditEntry]) {
        self.c.assert_converges(number, head).await;
        assert_eq!(self.c.forge.comment_posts(number), 1, "#{number}");
        assert_eq!(
            self.c.forge.statuses(head),
            shown_statuses::<F>(&[ANALYZING, ("pending", NEEDS_SECURITY)]),
            "#{number}: one analysis, no status flapping"
        );
        assert_eq!(analyses(audit, number, head), 1, "#{number}: {audit:#?}");
    }
}

/// How many `analysis` records the trail holds for PR `number` at `head`.
fn analyses(audit: &[AuditEntry], number: u64, head: &str) -> usize {
    audit
        .iter()
        .filter(|e| {
            e.pr.0 == number
                && matches!(e.event, AuditEvent::Analysis { .. })
                && e.head_sha.as_ref().is_some_and(|h| h.as_str() == head)
        })
        .count()
}

/// The process id a worker id (`worker-<pid>-<tag>-<lane>-<index>`) names.
fn worker_pid(worker: &str) -> u32 {
    worker
        .split('-')
        .nth(1)
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("a worker id names its process: {worker}"))
}

async fn deliveries_spread_over_three_replicas_are_each_acted_on_once<F: Forge>() {
    let Some(mut s) = Replicas::<F>::start(3).await else {
        return;
    };
    s.c.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    let numbers: Vec<u64> = (11..=16).collect();
    let heads: BTreeMap<u64, String> = numbers.iter().map(|&n| (n, s.c.pr(n))).collect();

    // Every PR opened at once, round robin over the replicas.
    let sends: Vec<_> = numbers
        .iter()
        .enumerate()
        .map(|(i, &n)| (i % 3, s.c.delivery_id(), s.opened(n)))
        .collect();
    let statuses = s.deliver_at_once(&sends).await;
    assert!(statuses.iter().all(|&code| code == 202), "{statuses:?}");
    s.assert_each_acted_on_once(&heads).await;
    // Each delivery made one job, which ran once (its move to the preview lane is no run).
    let jobs = s.jobs().await;
    assert_eq!(jobs.len(), numbers.len(), "{jobs:#?}");
    assert!(
        jobs.iter()
            .all(|(_, state, attempt, _)| state == "done" && *attempt == 1),
        "{jobs:#?}"
    );
    let workers: BTreeSet<u32> = jobs
        .iter()
        .filter_map(|(_, _, _, w)| w.as_deref().map(worker_pid))
        .collect();
    eprintln!("jobs ran on {} replicas: {workers:?}", workers.len());

    s.c.verified_chain().await;
}

async fn the_same_delivery_at_two_replicas_at_once_is_acted_on_once<F: Forge>() {
    let Some(mut s) = Replicas::<F>::start(2).await else {
        return;
    };
    s.c.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    let numbers: Vec<u64> = (21..=25).collect();
    let heads: BTreeMap<u64, String> = numbers.iter().map(|&n| (n, s.c.pr(n))).collect();
    for &n in &numbers {
        // One delivery (one id, one body) at both replicas at the same moment.
        let id = s.c.delivery_id();
        let opened = s.opened(n);
        let both = [(0, id.clone(), opened.clone()), (1, id, opened.clone())];
        let mut statuses = s.deliver_at_once(&both).await;
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 202], "#{n}: stored once, a duplicate once");
        // The same body under another id (a replay), at both at once: a duplicate at both.
        let id = s.c.delivery_id();
        let both = [(0, id.clone(), opened.clone()), (1, id, opened)];
        assert_eq!(s.deliver_at_once(&both).await, [200, 200], "#{n}");
    }
    s.assert_each_acted_on_once(&heads).await;
    let jobs = s.jobs().await;
    assert_eq!(jobs.len(), numbers.len(), "one job per delivery: {jobs:#?}");
    s.c.verified_chain().await;
}

async fn a_replica_killed_while_its_preview_runs_is_taken_over_by_another<F: Forge>() {
    let Some(mut s) = Replicas::<F>::start_with_lease(3, 2).await else {
        return;
    };
    s.c.pulumi.block(STACK, fixture(ADMIN_ATTACH));
    // Dropped before `s`, while the fake pulumi's directory is still there.
    let _release = Release(s.c.pulumi.clone());
    let head = s.c.pr(31);
    let id = s.c.delivery_id();
    assert_eq!(s.deliver(0, &id, &s.opened(31)).await, 202);
    s.c.wait("the preview to start", Duration::from_secs(10), || {
        !s.c.pulumi.invocations().is_empty()
    })
    .await;
    // Whichever replica claimed the job: SIGKILL it while its preview runs.
    let (worker, attempt) = s.running().await.expect("the job runs");
    assert_eq!(attempt, 1);
    let dying = worker_pid(&worker);
    let at = s
        .procs
        .iter()
        .position(|p| p.pid() == dying)
        .unwrap_or_else(|| panic!("{worker} is none of the replicas"));
    s.procs.remove(at).kill9();
    let killed = Instant::now();
    assert!(s.c.forge.comments(31).is_empty());

    // Another replica takes the job over once the lease (2 s) ends, and previews again.
    let until = Instant::now() + Duration::from_secs(15);
    let taken_by = loop {
        if let Some((worker, attempt)) = s.running().await
            && worker_pid(&worker) != dying
        {
            assert_eq!(attempt, 2, "{worker}");
            break worker;
        }
        assert!(
            Instant::now() < until,
            "the job was not taken over:\n{}",
            s.c.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!(
        "taken over by {taken_by} {:?} after the kill",
        killed.elapsed()
    );
    s.c.wait("the preview to run again", Duration::from_secs(10), || {
        s.c.pulumi.invocations().len() >= 2
    })
    .await;
    s.c.pulumi.release(STACK);
    s.c.assert_converges(31, &head).await;
    assert_eq!(s.c.forge.comment_posts(31), 1);
    assert_eq!(
        s.c.pulumi.invocations().len(),
        2,
        "previewed twice, no more"
    );
    let audit = s.c.audit().await;
    assert_eq!(analyses(&audit, 31, &head), 1, "{audit:#?}");
    let jobs = s.jobs().await;
    assert!(
        matches!(&jobs[..], [(_, state, 2, _)] if state == "done"),
        "{jobs:#?}"
    );
    s.c.verified_chain().await;
}

async fn approvals_on_two_replicas_at_once_both_count<F: Forge>() {
    let Some(mut s) = Replicas::<F>::start(2).await else {
        return;
    };
    s.c.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    // PR 41 is approved by two `/iamgate approve` comments, PR 42 by two approving reviews
    // (GitLab: MR approvals); each pair reaches the two replicas at the same moment.
    let heads: BTreeMap<u64, String> = [41, 42]
        .into_iter()
        .map(|n| {
            (
                n,
                s.c.forge
                    .enroll_with(n, &format!("crash-{n}"), TWO_APPROVALS),
            )
        })
        .collect();
    s.c.forge.add_member("acme/security", "sec2");
    let sends: Vec<_> = [41u64, 42]
        .iter()
        .enumerate()
        .map(|(i, &n)| (i, s.c.delivery_id(), s.opened(n)))
        .collect();
    assert_eq!(s.deliver_at_once(&sends).await, [202, 202]);
    for head in heads.values() {
        let needs = || {
            s.c.forge
                .statuses(head)
                .last()
                .is_some_and(|(state, text)| state == "pending" && text.starts_with("needs"))
        };
        s.c.wait(
            "the gate to ask for approvals",
            Duration::from_secs(20),
            needs,
        )
        .await;
    }

    let mut sends = Vec::new();
    let mut commands = Vec::new();
    for (r, login) in ["sec1", "sec2"].into_iter().enumerate() {
        let id = s.c.forge.add_person_comment(41, login, "/iamgate approve");
        commands.push(id);
        let delivery = s.c.forge.comment_created(41, id, login, "/iamgate approve");
        sends.push((r, s.c.delivery_id(), delivery));
    }
    for (r, login) in ["sec1", "alice"].into_iter().enumerate() {
        let (_, delivery) = s.c.forge.approved(42, login);
        sends.push((r, s.c.delivery_id(), delivery));
    }
    assert_eq!(s.deliver_at_once(&sends).await, [202, 202, 202, 202]);

    for head in heads.values() {
        let approved = || {
            s.c.forge
                .statuses(head)
                .last()
                .is_some_and(|(state, text)| state == "success" && text == APPROVED)
        };
        s.c.wait("both approvals to count", Duration::from_secs(20), approved)
            .await;
    }
    // One report on each, one reply to each command, nothing else by iamgate.
    for id in &commands {
        assert_eq!(s.c.forge.replies(41, *id).len(), 1, "one reply to {id}");
    }
    let bot = s.c.forge.bot();
    for (n, expected) in [(41, 1 + commands.len()), (42, 1)] {
        let comments = s.c.forge.comments(n);
        let by_bot: Vec<_> = comments.iter().filter(|c| c.author == bot).collect();
        assert_eq!(by_bot.len(), expected, "#{n}: {comments:#?}");
        let reports = by_bot.iter().filter(|c| c.body.contains(MARKER)).count();
        assert_eq!(reports, 1, "#{n}: {comments:#?}");
    }
    let audit = s.c.audit().await;
    for (&n, head) in &heads {
        let approvers: BTreeSet<&str> = audit
            .iter()
            .filter(|e| e.pr.0 == n && matches!(e.event, AuditEvent::Approval { .. }))
            .map(|e| e.actor.as_str())
            .collect();
        let expected: BTreeSet<&str> = if n == 41 {
            ["sec1", "sec2"].into()
        } else {
            ["alice", "sec1"].into()
        };
        assert_eq!(approvers, expected, "#{n}");
        assert_eq!(analyses(&audit, n, head), 1, "#{n}");
    }
    // Whether the status went back to "analyzing" (and the preview ran again) depends on which
    // replica recomputed the gate: see
    // an_approval_on_a_replica_that_did_not_preview_the_head_does_not_preview_it_again.
    let chain = s.c.verified_chain().await;
    assert_eq!(chain.records.len(), audit.len());
}

async fn a_rolling_restart_under_load_loses_and_repeats_no_delivery<F: Forge>() {
    let Some(mut s) = Replicas::<F>::start(3).await else {
        return;
    };
    s.c.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    let numbers: Vec<u64> = (51..=74).collect();
    let heads: BTreeMap<u64, String> = numbers.iter().map(|&n| (n, s.c.pr(n))).collect();
    // Every delivery built up front: the stream needs nothing of the harness while it restarts.
    let stream: Vec<(String, Headers, Vec<u8>)> = numbers
        .iter()
        .map(|&n| {
            let id = s.c.delivery_id();
            let opened = s.opened(n);
            let headers = s.c.forge.webhook_headers(opened.event, &id, &opened.body);
            (id, headers, opened.body)
        })
        .collect();
    // Where each replica is reached: a restarted replica listens on a new port, and its old
    // address stays in use until then (a load balancer that has not noticed yet).
    let urls: Mutex<Vec<String>> = Mutex::new(
        s.procs
            .iter()
            .map(|p| format!("{}/webhooks/{}", p.url, F::FORGE))
            .collect(),
    );
    let restarted = AtomicBool::new(false);
    let sender = async {
        let mut acknowledged = Vec::new();
        let mut refused = 0u32;
        for (i, (id, headers, body)) in stream.iter().enumerate() {
            // The last few wait for the restarts to end: deliveries come before, during and
            // after them however long they take.
            if i + 4 == stream.len() {
                while !restarted.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            let until = Instant::now() + Duration::from_secs(15);
            // Round robin; a replica that does not answer 2xx is skipped for the next one, with
            // the same delivery id (a forge redelivers what was not acknowledged).
            let mut r = i;
            loop {
                let url = urls.lock().unwrap()[r % 3].clone();
                match try_post(&url, headers, body.clone()).await {
                    Ok(code) if (200..300).contains(&code) => {
                        acknowledged.push((id.clone(), code));
                        break;
                    }
                    Ok(_) | Err(_) => refused += 1,
                }
                assert!(Instant::now() < until, "delivery {id} never acknowledged");
                r += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_millis(120)).await;
        }
        (acknowledged, refused)
    };
    let restarter = async {
        let mut procs = std::mem::take(&mut s.procs);
        for r in 0..3 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            procs.remove(r).terminate(Duration::from_secs(20)).await;
            let proc = s.c.start_replica(&format!("r{r}")).await;
            urls.lock().unwrap()[r] = format!("{}/webhooks/{}", proc.url, F::FORGE);
            procs.insert(r, proc);
        }
        restarted.store(true, Ordering::SeqCst);
        procs
    };
    let ((acknowledged, refused), procs) = tokio::join!(sender, restarter);
    s.procs = procs;
    eprintln!(
        "{} deliveries acknowledged, {refused} attempts refused during the restarts",
        acknowledged.len()
    );
    assert_eq!(acknowledged.len(), numbers.len());
    // 202: stored now; 200: stored by an earlier attempt whose answer was lost.
    assert!(
        acknowledged
            .iter()
            .all(|(_, code)| [200, 202].contains(code)),
        "{acknowledged:?}"
    );
    s.assert_each_acted_on_once(&heads).await;
    let jobs = s.jobs().await;
    assert_eq!(jobs.len(), numbers.len(), "{jobs:#?}");
    assert!(
        jobs.iter().all(|(_, state, _, _)| state == "done"),
        "{jobs:#?}"
    );
    s.c.verified_chain().await;
}

/// Previews are cached in each replica's own data dir: a PR event that reaches a replica which
/// did not run the head's preview must still recompute the gate from the preview already run,
/// as one replica does (`store::previews`: "events that do not change the code ... recompute the
/// gate in milliseconds instead of previewing again"). One replica at a time runs here, so that
/// which one works on the PR is certain.
async fn an_approval_on_a_replica_that_did_not_preview_the_head_does_not_preview_it_again<
    F: Forge,
>() {
    let Some(mut s) = Replicas::<F>::start(1).await else {
        return;
    };
    s.c.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    let head = s.c.pr(61);
    let id = s.c.delivery_id();
    assert_eq!(s.deliver(0, &id, &s.opened(61)).await, 202);
    s.wait_status(&head, "pending", NEEDS_SECURITY).await;
    assert_eq!(s.c.pulumi.invocations().len(), 1);

    // r0 goes away (a rolling restart, a scale-down); r1 gets the approval.
    s.add("r1").await;
    s.stop(0).await;
    let (_, approval) = s.c.forge.approved(61, "sec1");
    let id = s.c.delivery_id();
    assert_eq!(s.deliver(0, &id, &approval).await, 202);
    s.wait_status(&head, "success", APPROVED).await;

    assert_eq!(
        s.c.forge.statuses(&head),
        shown_statuses::<F>(&[
            ANALYZING,
            ("pending", NEEDS_SECURITY),
            ("success", APPROVED)
        ]),
        "an approval recomputes the gate: the status does not go back to analyzing"
    );
    assert_eq!(
        s.c.pulumi.invocations().len(),
        1,
        "the PR's code is not run again for an approval"
    );
}

/// `/iamgate rerun` forgets the head's cached preview and previews again, on the replica that
/// runs the command; a replica that kept the earlier (failed) preview must not bring it back.
async fn a_rerun_on_one_replica_replaces_the_preview_another_replica_kept<F: Forge>() {
    let Some(mut s) = Replicas::<F>::start(1).await else {
        return;
    };
    // r0 previews the head and the preview fails (e.g. the cloud's API was down): cached there.
    s.c.pulumi
        .fail(STACK, 255, "error: the provider's API timed out\n", "");
    let head = s.c.pr(62);
    let id = s.c.delivery_id();
    assert_eq!(s.deliver(0, &id, &s.opened(62)).await, 202);
    let failed = "analysis failed for prod: see the iamgate comment";
    s.wait_status(&head, "failure", failed).await;

    // The API is back; the author asks for a rerun, which r1 runs: the gate waits for security.
    s.c.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    s.add("r1").await;
    s.stop(0).await;
    let rerun = s.c.forge.add_person_comment(62, "dev", "/iamgate rerun");
    let delivery =
        s.c.forge
            .comment_created(62, rerun, "dev", "/iamgate rerun");
    let id = s.c.delivery_id();
    assert_eq!(s.deliver(0, &id, &delivery).await, 202);
    s.wait_status(&head, "pending", NEEDS_SECURITY).await;

    // r0 comes back with its own files; r1 goes. Security approves what the rerun showed.
    s.add("r0").await;
    s.stop(0).await;
    let (_, approval) = s.c.forge.approved(62, "sec1");
    let id = s.c.delivery_id();
    assert_eq!(s.deliver(0, &id, &approval).await, 202);
    let decided = || {
        s.c.forge
            .statuses(&head)
            .last()
            .is_some_and(|(_, text)| text != NEEDS_SECURITY)
    };
    s.c.wait(
        "the approval to be decided",
        Duration::from_secs(20),
        decided,
    )
    .await;
    assert_eq!(
        s.c.forge.statuses(&head).last().unwrap(),
        &("success".to_owned(), APPROVED.to_owned()),
        "the approval counts on the rerun's preview, not on the failed one r0 kept: {:#?}",
        s.c.forge.statuses(&head)
    );
}
