//! A short-lived cache of team membership answers, so that one decision over several
//! requirements (or a burst of commands) asks the forge once per team and user. Positive and
//! negative answers are kept for the TTL; errors are never kept, so a failed lookup is asked
//! again. Keyed per forge and installation: what one installation cannot see, another may.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[cfg(test)]
use crate::event::Login;
use crate::event::{ForgeKind, PrRef, UserId, UserRef};
use crate::forge::{Forge, ForgeResult};

/// How long an answer is trusted by default: long enough for one decision and a command burst,
/// short enough that a removed member loses their say within a minute.
pub const DEFAULT_MEMBERSHIP_TTL: Duration = Duration::from_secs(60);

/// Past this many entries, expired ones are swept on insert.
const SWEEP_ABOVE: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    forge: ForgeKind,
    installation: Option<u64>,
    /// Lower-cased: GitHub and GitLab names are case-insensitive.
    team: String,
    user: Who,
}

/// Whom an answer is about: the account id when the question named one (it survives renames),
/// else the lower-cased login (GitHub and GitLab names are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Who {
    Id(UserId),
    Login(String),
}

impl Key {
    fn new(pr: &PrRef, team: &str, user: UserRef<'_>) -> Self {
        Key {
            forge: pr.forge,
            installation: pr.installation,
            team: team.to_ascii_lowercase(),
            user: match user.id {
                Some(id) => Who::Id(id),
                None => Who::Login(user.login.as_str().to_ascii_lowercase()),
            },
        }
    }
}

/// Team membership answers for [`MembershipCache::ttl`]. Share one per server.
#[derive(Debug)]
pub struct MembershipCache {
    ttl: Duration,
    entries: Mutex<HashMap<Key, (bool, Instant)>>,
}

impl Default for MembershipCache {
    fn default() -> Self {
        Self::new(DEFAULT_MEMBERSHIP_TTL)
    }
}

impl MembershipCache {
    pub fn new(ttl: Duration) -> Self {
        MembershipCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// [`Forge::is_team_member`], answered from the cache while the last answer is fresh.
    pub async fn is_team_member(
        &self,
        forge: &dyn Forge,
        pr: &PrRef,
        team: &str,
        user: UserRef<'_>,
    ) -> ForgeResult<bool> {
        self.lookup(Key::new(pr, team, user), Instant::now(), || {
            forge.is_team_member(pr, team, user)
        })
        .await
    }

    /// Forgets every answer about `team` on `forge` (on a membership or team webhook).
    pub fn forget_team(&self, forge: ForgeKind, team: &str) {
        let team = team.to_ascii_lowercase();
        self.lock()
            .retain(|key, _| !(key.forge == forge && key.team == team));
    }

    /// Forgets every answer.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The fresh answer for `key` at `now`, or `fetch`'s, kept from `now` on when it is one.
    async fn lookup<F, Fut>(&self, key: Key, now: Instant, fetch: F) -> ForgeResult<bool>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = ForgeResult<bool>>,
    {
        if let Some(&(member, at)) = self.lock().get(&key)
            && now.saturating_duration_since(at) < self.ttl
        {
            return Ok(member);
        }
        // The lock is not held across the call: concurrent misses may both ask, which is fine.
        let member = fetch().await?;
        let mut entries = self.lock();
        if entries.len() >= SWEEP_ABOVE {
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| now.saturating_duration_since(*at) < ttl);
        }
        entries.insert(key, (member, now));
        Ok(member)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, (bool, Instant)>> {
        // The map holds plain answers: one left by a panicking holder is still usable.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::event::{PrNumber, RepoName};
    use crate::forge::{ForgeError, ForgeErrorKind, RetryClass};

    fn pr(installation: u64) -> PrRef {
        PrRef {
            forge: ForgeKind::GitHub,
            installation: Some(installation),
            repo: RepoName::from("acme/infra"),
            number: PrNumber(1),
        }
    }

    fn key(team: &str, login: &str) -> Key {
        Key::new(&pr(1), team, UserRef::login(&Login::from(login)))
    }

    /// Answers `answer` and counts the calls.
    fn fetch(
        calls: &AtomicUsize,
        answer: ForgeResult<bool>,
    ) -> impl FnOnce() -> std::future::Ready<ForgeResult<bool>> {
        move || {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::ready(answer)
        }
    }

    fn server_error() -> ForgeError {
        ForgeError {
            operation: "GET /orgs/acme/teams/security/memberships/alice".to_owned(),
            message: "Server Error".to_owned(),
            kind: ForgeErrorKind::Server,
            retry: RetryClass::Retry,
            status: Some(500),
        }
    }

    #[tokio::test]
    async fn answers_are_kept_for_the_ttl_then_asked_again() {
        let cache = MembershipCache::new(Duration::from_secs(60));
        let calls = AtomicUsize::new(0);
        let t0 = Instant::now();
        let k = || key("acme/security", "alice");
        assert!(
            cache
                .lookup(k(), t0, fetch(&calls, Ok(true)))
                .await
                .unwrap()
        );
        let later = t0 + Duration::from_secs(59);
        assert!(
            cache
                .lookup(k(), later, fetch(&calls, Ok(false)))
                .await
                .unwrap(),
            "still fresh: the cached answer wins"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let expired = t0 + Duration::from_secs(60);
        assert!(
            !cache
                .lookup(k(), expired, fetch(&calls, Ok(false)))
                .await
                .unwrap()
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn negative_answers_are_kept_and_errors_are_not() {
        let cache = MembershipCache::default();
        let calls = AtomicUsize::new(0);
        let t0 = Instant::now();
        let k = || key("acme/security", "mallory");
        let error = cache
            .lookup(k(), t0, fetch(&calls, Err(server_error())))
            .await
            .unwrap_err();
        assert_eq!(error.status, Some(500));
        assert!(
            !cache
                .lookup(k(), t0, fetch(&calls, Ok(false)))
                .await
                .unwrap()
        );
        assert!(
            !cache
                .lookup(k(), t0, fetch(&calls, Ok(true)))
                .await
                .unwrap()
        );
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "the error was asked again, the no was kept"
        );
    }

    #[tokio::test]
    async fn keys_ignore_case_but_separate_teams_logins_and_installations() {
        let cache = MembershipCache::default();
        let calls = AtomicUsize::new(0);
        let t0 = Instant::now();
        cache
            .lookup(key("acme/security", "alice"), t0, fetch(&calls, Ok(true)))
            .await
            .unwrap();
        assert!(
            cache
                .lookup(key("ACME/Security", "Alice"), t0, fetch(&calls, Ok(false)))
                .await
                .unwrap()
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        cache
            .lookup(key("acme/sre", "alice"), t0, fetch(&calls, Ok(false)))
            .await
            .unwrap();
        cache
            .lookup(key("acme/security", "bob"), t0, fetch(&calls, Ok(false)))
            .await
            .unwrap();
        let other_installation = Key::new(
            &pr(2),
            "acme/security",
            UserRef::login(&Login::from("alice")),
        );
        cache
            .lookup(other_installation, t0, fetch(&calls, Ok(false)))
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn answers_about_an_account_id_follow_the_account_not_the_name() {
        let cache = MembershipCache::default();
        let calls = AtomicUsize::new(0);
        let t0 = Instant::now();
        let by_id = |login: &str, id: u64| {
            Key::new(
                &pr(1),
                "acme/security",
                UserRef {
                    login: &Login::from(login),
                    id: Some(UserId(id)),
                },
            )
        };
        cache
            .lookup(by_id("alice", 7), t0, fetch(&calls, Ok(true)))
            .await
            .unwrap();
        // The same account under a new name: the kept answer.
        assert!(
            cache
                .lookup(by_id("alice-renamed", 7), t0, fetch(&calls, Ok(false)))
                .await
                .unwrap()
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Another account that took the old name: asked, not given alice's answer.
        assert!(
            !cache
                .lookup(by_id("alice", 8), t0, fetch(&calls, Ok(false)))
                .await
                .unwrap()
        );
        // A question by name only is not answered from an id's entry.
        assert!(
            !cache
                .lookup(key("acme/security", "alice"), t0, fetch(&calls, Ok(false)))
                .await
                .unwrap()
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn forgetting_a_team_drops_its_answers_only() {
        let cache = MembershipCache::default();
        let calls = AtomicUsize::new(0);
        let t0 = Instant::now();
        for (team, login) in [("acme/security", "alice"), ("acme/sre", "alice")] {
            cache
                .lookup(key(team, login), t0, fetch(&calls, Ok(true)))
                .await
                .unwrap();
        }
        cache.forget_team(ForgeKind::GitHub, "Acme/Security");
        assert!(
            !cache
                .lookup(key("acme/security", "alice"), t0, fetch(&calls, Ok(false)))
                .await
                .unwrap(),
            "asked again after the team changed"
        );
        assert!(
            cache
                .lookup(key("acme/sre", "alice"), t0, fetch(&calls, Ok(false)))
                .await
                .unwrap()
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        cache.clear();
        cache
            .lookup(key("acme/sre", "alice"), t0, fetch(&calls, Ok(false)))
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn expired_entries_are_swept_when_the_map_grows() {
        let cache = MembershipCache::new(Duration::from_secs(1));
        let calls = AtomicUsize::new(0);
        let t0 = Instant::now();
        for i in 0..SWEEP_ABOVE {
            cache
                .lookup(
                    key("acme/security", &format!("u{i}")),
                    t0,
                    fetch(&calls, Ok(false)),
                )
                .await
                .unwrap();
        }
        let later = t0 + Duration::from_secs(5);
        cache
            .lookup(key("acme/security", "late"), later, fetch(&calls, Ok(true)))
            .await
            .unwrap();
        assert_eq!(cache.lock().len(), 1);
    }
}
