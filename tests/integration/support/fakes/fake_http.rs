//! The HTTP plumbing both fake forges share: the running server (state behind a mutex, one
//! listener per router, stop on drop, injected faults, the request log), replies, the logged
//! path, percent-decoding, query parameters, offset pages, timestamps and the archive. What
//! differs by nature (credentials, error bodies, how pages are announced, the routes) stays in
//! each fake.
#![allow(dead_code, reason = "each fake uses a part of it")]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::task::JoinHandle;

/// What a fake keeps behind its mutex besides its model: the faults to inject and the log of
/// the requests it answered.
pub trait FakeState: Send + 'static {
    type Fault: Copy;
    type Record: Clone;
    fn faults(&mut self) -> &mut Faults<Self::Fault>;
    fn log(&self) -> &[Self::Record];
    /// A logged request's method and path (API prefix removed, with the query).
    fn method_and_path(record: &Self::Record) -> (&str, &str);
}

/// Implements [`FakeState`] for a fake's `State`, whose `faults` hold its `Fault`s and whose
/// `log` holds its `RequestRecord`s (with `method` and `path`).
macro_rules! fake_state {
    ($state:ty, $fault:ty, $record:ty) => {
        impl fake_http::FakeState for $state {
            type Fault = $fault;
            type Record = $record;
            fn faults(&mut self) -> &mut fake_http::Faults<$fault> {
                &mut self.faults
            }
            fn log(&self) -> &[$record] {
                &self.log
            }
            fn method_and_path(record: &$record) -> (&str, &str) {
                (&record.method, &record.path)
            }
        }
    };
}
pub(super) use fake_state;

pub type Shared<S> = Arc<Mutex<S>>;

/// A running fake: its state and the tasks serving it. Stops when dropped.
#[derive(Debug)]
pub struct FakeServer<S> {
    state: Shared<S>,
    tasks: Vec<JoinHandle<()>>,
}

impl<S> Drop for FakeServer<S> {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl<S: FakeState> FakeServer<S> {
    /// Binds a free loopback port per router, builds the state from their `http://` URLs and
    /// serves each router on its port; `name` says which fake stopped.
    pub async fn serve<const N: usize>(
        name: &'static str,
        state: impl FnOnce([String; N]) -> S,
        routers: [fn(Shared<S>) -> axum::Router; N],
    ) -> Self {
        let (mut listeners, mut urls) = (Vec::new(), Vec::new());
        for _ in 0..N {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            urls.push(format!("http://{}", listener.local_addr().unwrap()));
            listeners.push(listener);
        }
        let state = Arc::new(Mutex::new(state(urls.try_into().unwrap())));
        let tasks = listeners
            .into_iter()
            .zip(routers)
            .map(|(listener, router)| {
                let router = router(Arc::clone(&state));
                tokio::spawn(async move {
                    if let Err(error) = axum::serve(listener, router).await {
                        panic!("{name} stopped: {error}");
                    }
                })
            })
            .collect();
        FakeServer { state, tasks }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, S> {
        lock(&self.state)
    }

    /// The next `count` requests with `method` whose logged path (query ignored) starts with
    /// `path_prefix` fail with `fault`.
    pub fn fail_next(
        &self,
        method: &str,
        path_prefix: &str,
        count: usize,
        fault: S::Fault,
    ) -> &Self {
        self.fail_after(method, path_prefix, 0, count, fault)
    }
    /// Like [`FakeServer::fail_next`], after letting `skip` matching requests through.
    pub fn fail_after(
        &self,
        method: &str,
        path_prefix: &str,
        skip: usize,
        count: usize,
        fault: S::Fault,
    ) -> &Self {
        self.lock()
            .faults()
            .add(method, path_prefix, skip, count, fault);
        self
    }
    /// Drops every fault not yet used up.
    pub fn clear_faults(&self) -> &Self {
        self.lock().faults().clear();
        self
    }
    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<S::Record> {
        self.lock().log().to_vec()
    }
    /// How many requests had this method and a path starting with `path_prefix`.
    pub fn count_requests(&self, method: &str, path_prefix: &str) -> usize {
        self.lock()
            .log()
            .iter()
            .map(S::method_and_path)
            .filter(|(m, path)| *m == method && path.starts_with(path_prefix))
            .count()
    }
}

/// A fake whose repositories hold files at commits, served back as archives.
pub trait Commits {
    /// The files of `repo` at `sha` (the commit becomes known).
    fn files_at(&mut self, repo: &str, sha: &str) -> &mut BTreeMap<String, Vec<u8>>;
    /// Which of those files are symbolic links (their bytes are the path they name).
    fn links_at(&mut self, repo: &str, sha: &str) -> &mut BTreeSet<String>;
}

impl<S: FakeState + Commits> FakeServer<S> {
    /// A file's bytes at a commit (also what the archive of that commit holds).
    pub fn file(&self, repo: &str, sha: &str, path: &str, bytes: impl Into<Vec<u8>>) -> &Self {
        self.lock()
            .files_at(repo, sha)
            .insert(path.to_owned(), bytes.into());
        self
    }
    /// No file `path` at the commit any more.
    pub fn remove_file(&self, repo: &str, sha: &str, path: &str) -> &Self {
        self.lock().files_at(repo, sha).remove(path);
        self
    }
    /// A symbolic link at a commit: `path` names `target` (as Git stores it, the link's bytes
    /// are the target path).
    pub fn symlink(&self, repo: &str, sha: &str, path: &str, target: &str) -> &Self {
        let mut state = self.lock();
        state
            .files_at(repo, sha)
            .insert(path.to_owned(), target.as_bytes().to_vec());
        state.links_at(repo, sha).insert(path.to_owned());
        self
    }
    /// Many files at a commit; the archive is built from them on request.
    pub fn archive<P: AsRef<str>, B: AsRef<[u8]>>(
        &self,
        repo: &str,
        sha: &str,
        files: &[(P, B)],
    ) -> &Self {
        for (path, bytes) in files {
            self.file(repo, sha, path.as_ref(), bytes.as_ref());
        }
        self
    }
}

/// Locks a fake's state, through a poisoning (a failed assertion elsewhere is the failure).
pub fn lock<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A reply: status, headers, body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Reply {
            status,
            headers: vec![("content-type", content_type.to_owned())],
            body,
        }
    }
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            self.body,
        )
            .into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value.parse().unwrap());
        }
        response
    }
}

/// A fault to inject on the `method` requests whose path starts with `path_prefix`.
#[derive(Debug)]
struct FaultRule<K> {
    method: String,
    path_prefix: String,
    /// Matching requests let through before the fault starts.
    skip: usize,
    remaining: usize,
    fault: K,
}

/// The faults to inject, in the order they were asked for.
#[derive(Debug)]
pub struct Faults<K>(Vec<FaultRule<K>>);

impl<K> Default for Faults<K> {
    fn default() -> Self {
        Faults(Vec::new())
    }
}

impl<K: Copy> Faults<K> {
    /// The next `count` `method` requests under `path_prefix`, after `skip` that pass, fail
    /// with `fault`.
    pub fn add(&mut self, method: &str, path_prefix: &str, skip: usize, count: usize, fault: K) {
        self.0.push(FaultRule {
            method: method.to_uppercase(),
            path_prefix: path_prefix.to_owned(),
            skip,
            remaining: count,
            fault,
        });
    }
    pub fn clear(&mut self) {
        self.0.clear();
    }
    /// The fault this request meets, if any (counting it as used or let through).
    pub fn take(&mut self, method: &str, path: &str) -> Option<K> {
        let rule = self
            .0
            .iter_mut()
            .find(|r| r.remaining > 0 && r.method == method && path.starts_with(&r.path_prefix))?;
        if rule.skip > 0 {
            rule.skip -= 1;
            return None;
        }
        rule.remaining -= 1;
        Some(rule.fault)
    }
}

/// The path a fake logs: `path` (its API prefix removed) or, outside the API, the whole path;
/// with the query.
pub fn logged_path(path: Option<&str>, uri: &Uri) -> String {
    let path = path.unwrap_or(uri.path());
    match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    }
}

/// A path's segments, each percent-decoded.
pub fn segments(path: &str) -> Vec<String> {
    path.trim_start_matches('/')
        .split('/')
        .map(percent_decode)
        .collect()
}

/// Decodes `%XX` escapes.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters, decoded; with `plus_is_space`, a `+` in a value is a space (GitLab's Rails
/// reads forms that way).
pub fn query_params(query: Option<&str>, plus_is_space: bool) -> BTreeMap<String, String> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let v = if plus_is_space {
                v.replace('+', " ")
            } else {
                v.to_owned()
            };
            (percent_decode(k), percent_decode(&v))
        })
        .collect()
}

/// One page of a listing by offset (`per_page` up to 100, `default_per_page` without one;
/// `page` from 1).
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: usize,
    pub per_page: usize,
    /// The number of the last page (1 for an empty listing).
    pub last: usize,
}

pub fn page<T: Clone>(
    items: &[T],
    query: &BTreeMap<String, String>,
    default_per_page: usize,
) -> Page<T> {
    let number = |key: &str| query.get(key).and_then(|v| v.parse::<usize>().ok());
    let per_page = number("per_page").unwrap_or(default_per_page).clamp(1, 100);
    let page = number("page").unwrap_or(1).max(1);
    Page {
        items: items
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .cloned()
            .collect(),
        page,
        per_page,
        last: items.len().div_ceil(per_page).max(1),
    }
}

/// Seconds since the epoch, now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `time` in UTC as `2016-07-11T22:14:10` followed by `suffix` (`Z`, `.000Z`).
pub fn timestamp(time: SystemTime, suffix: &str) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // H. Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{suffix}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Now in UTC to the millisecond, `2016-07-11T22:14:10.123Z`: the fakes stamp comments this
/// finely (the real forges to the second) so that tests need not wait a second between a head
/// and a comment on it.
pub fn now_ms_timestamp() -> String {
    let now = SystemTime::now();
    let millis = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_millis());
    timestamp(now, &format!(".{millis:03}Z"))
}

/// `files` (path → bytes) under the directory `top/`, as a `.tar.gz`.
pub fn tar_gz(top: &str, files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    builder
        .append_data(&mut dir, format!("{top}/"), std::io::empty())
        .unwrap();
    for (path, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(bytes.len() as u64);
        builder
            .append_data(&mut header, format!("{top}/{path}"), bytes.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(timestamp(UNIX_EPOCH, "Z"), "1970-01-01T00:00:00Z");
        assert_eq!(
            timestamp(
                UNIX_EPOCH + std::time::Duration::from_secs(1_468_275_250),
                "Z"
            ),
            "2016-07-11T22:14:10Z"
        );
        assert_eq!(
            timestamp(
                UNIX_EPOCH + std::time::Duration::from_secs(1_709_208_000),
                ".000Z"
            ),
            "2024-02-29T12:00:00.000Z"
        );
    }

    #[test]
    fn percent_escapes_decode() {
        assert_eq!(percent_decode("a%20dir/x%231.ts"), "a dir/x#1.ts");
        assert_eq!(percent_decode("%C3%A9"), "é");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
