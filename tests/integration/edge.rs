//! The HTTP edge against clients that hold on: the real server (`Service::run`, and once the
//! `iamgate serve` binary) on a real port, driven over raw TCP. A client that stops sending its
//! headers, or goes idle between requests, is disconnected after the header timeout; a request
//! that outlives the request timeout is cut off; connections over the cap are answered 503 and
//! closed while a freed slot serves the next; many large unverified bodies at once never hold
//! more than `max_body_bytes_in_flight` (the rest get 503 with `Retry-After`); a signed
//! delivery is still accepted; SIGTERM lets a delivery in flight finish.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use iamgate::app::Service;
use iamgate::config::ServerConfig;
use iamgate::server::AppState;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::support::app::{Forge, Options, wait_until};
use crate::support::fake_github::FakeGitHub;
use crate::support::fake_pulumi::FakePulumi;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

crate::both_forges!(a_signed_delivery_over_tcp_is_accepted_as_before);

/// `Service::run` on a port of its own, with its fake forge.
struct Served<F> {
    fake: F,
    addr: SocketAddr,
    state: AppState,
    shutdown: CancellationToken,
    run: JoinHandle<anyhow::Result<()>>,
    _pulumi: FakePulumi,
    _dir: TempDir,
}

impl Served<FakeGitHub> {
    /// On GitHub, with these `[server]` keys.
    async fn github(server_keys: &'static str) -> Served<FakeGitHub> {
        Served::start(Options {
            server_keys,
            ..Options::default()
        })
        .await
    }
}

impl<F: Forge> Served<F> {
    async fn start(options: Options) -> Served<F> {
        let dir = TempDir::new().unwrap();
        let fake = F::launch().await;
        let pulumi = FakePulumi::new(dir.path().join("pulumi"));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let toml = fake.config_toml(
            pulumi.command(),
            &dir.path().join("iamgate.db"),
            &addr.to_string(),
            &options,
        );
        let config = ServerConfig::parse(&toml, Vec::new())
            .unwrap_or_else(|problems| panic!("config invalid: {problems}\n{toml}"));
        let service = Service::build(&config).await.unwrap();
        let state = service.state().clone();
        let shutdown = CancellationToken::new();
        let run = tokio::spawn(service.run(listener, shutdown.clone()));
        Served {
            fake,
            addr,
            state,
            shutdown,
            run,
            _pulumi: pulumi,
            _dir: dir,
        }
    }

    fn open_connections(&self) -> usize {
        self.state.edge.open_connections()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.run)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
    }
}

/// An HTTP/1.1 response read off a raw connection.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: String,
}

impl Raw {
    fn parse(bytes: &[u8]) -> Option<Raw> {
        let text = String::from_utf8_lossy(bytes);
        let (head, body) = text.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some(Raw {
            status,
            head: head.to_ascii_lowercase(),
            body: body.to_owned(),
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}: ")))
    }
}

/// Reads until the peer closes (or resets) the connection; panics after `within`.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let until = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(until, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "still open after {within:?}; got {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
}

/// Asserts `stream` is still open (nothing to read, no close) for `for_at_least`.
async fn assert_still_open(stream: &mut TcpStream, for_at_least: Duration) {
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(for_at_least, stream.read(&mut buf)).await;
    assert!(read.is_err(), "closed or answered early: {read:?}");
}

/// Asserts every one of `streams` stays open a while, then is closed without an answer, no
/// sooner than `timeout` after `since`.
async fn assert_closed_after(streams: &mut [&mut TcpStream], since: Instant, timeout: Duration) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    for stream in streams.iter_mut() {
        assert_still_open(stream, Duration::from_millis(10)).await;
    }
    for stream in streams.iter_mut() {
        let answered = read_until_closed(stream, timeout + Duration::from_secs(4)).await;
        assert!(
            answered.is_empty(),
            "closed without an answer: {:?}",
            String::from_utf8_lossy(&answered)
        );
    }
    let waited = since.elapsed();
    // The server's timer may start a moment before `since` is taken.
    assert!(
        waited + Duration::from_millis(100) >= timeout,
        "closed after {waited:?}, before {timeout:?}"
    );
}

/// `GET path` on a fresh connection (`Connection: close`); the raw response.
async fn get(addr: SocketAddr, path: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: iamgate\r\nconnection: close\r\n\r\n");
    // A refused connection may already be closed: what matters is what comes back.
    let _ = stream.write_all(request.as_bytes()).await;
    read_until_closed(&mut stream, Duration::from_secs(10)).await
}

/// The head of a `POST /webhooks/<forge>` of `length` bytes with `headers`.
fn post_head(forge: &str, headers: &[(&str, String)], length: usize) -> String {
    let mut head = format!(
        "POST /webhooks/{forge} HTTP/1.1\r\nhost: iamgate\r\ncontent-type: application/json\r\n\
         content-length: {length}\r\nconnection: close\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// An authentic opening delivery of `body` with delivery id `id`, sent in `pieces` pieces
/// `pause` apart; the response.
async fn deliver_slowly<F: Forge>(
    fake: &F,
    addr: SocketAddr,
    id: &str,
    body: &[u8],
    pieces: usize,
    pause: Duration,
) -> Raw {
    let headers = fake.webhook_headers(F::OPEN_EVENT, id, body);
    send_slowly(addr, F::FORGE, &headers, body, pieces, pause).await
}

/// `POST /webhooks/<forge>` of `body` with `headers`, the body sent in `pieces` pieces `pause`
/// apart; the response.
async fn send_slowly(
    addr: SocketAddr,
    forge: &str,
    headers: &[(&str, String)],
    body: &[u8],
    pieces: usize,
    pause: Duration,
) -> Raw {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = post_head(forge, headers, body.len());
    stream.write_all(head.as_bytes()).await.unwrap();
    for piece in body.chunks(body.len().div_ceil(pieces)) {
        tokio::time::sleep(pause).await;
        if stream.write_all(piece).await.is_err() {
            break; // answered and closed early: read what it said
        }
    }
    let bytes = read_until_closed(&mut stream, Duration::from_secs(30)).await;
    Raw::parse(&bytes).unwrap_or_else(|| panic!("no response: {bytes:?}"))
}

// ---- timeouts ----

#[tokio::test]
async fn a_client_that_stops_sending_its_headers_is_disconnected_after_the_header_timeout() {
    let s = Served::github("header_read_timeout_secs = 1\n").await;
    let started = Instant::now();
    // Connects and sends nothing.
    let mut silent = TcpStream::connect(s.addr).await.unwrap();
    // Sends part of its headers, then nothing.
    let mut partial = TcpStream::connect(s.addr).await.unwrap();
    partial
        .write_all(b"POST /webhooks/github HTTP/1.1\r\nhost: iamgate\r\nx-github-event: pi")
        .await
        .unwrap();
    // Keeps sending a header byte every 200 ms, never finishing: the timer does not restart.
    let mut trickling = TcpStream::connect(s.addr).await.unwrap();
    let trickle = tokio::spawn(async move {
        trickling
            .write_all(b"GET /healthz HTTP/1.1\r\nx-a: ")
            .await
            .unwrap();
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if trickling.write_all(b"a").await.is_err() {
                return (trickling, true);
            }
        }
        (trickling, false)
    });
    wait_until("three open connections", Duration::from_secs(5), || {
        s.open_connections() == 3
    })
    .await;
    let one_second = Duration::from_secs(1);
    assert_closed_after(&mut [&mut silent, &mut partial], started, one_second).await;
    let (mut trickling, cut) = trickle.await.unwrap();
    assert!(
        cut || read_until_closed(&mut trickling, Duration::from_secs(1))
            .await
            .is_empty()
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the trickle was cut by the first deadline: {:?}",
        started.elapsed()
    );
    wait_until("the slots freed", Duration::from_secs(5), || {
        s.open_connections() == 0
    })
    .await;
    s.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let s = Served::github("header_read_timeout_secs = 1\n").await;
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: iamgate\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    let answered = Raw::parse(&buf[..n]).expect("a response");
    assert_eq!(answered.status, 200);
    assert_closed_after(&mut [&mut stream], Instant::now(), Duration::from_secs(1)).await;
    s.stop().await;
}

#[tokio::test]
async fn a_request_that_outlives_the_request_timeout_is_cut_off() {
    let s = Served::github("request_timeout_secs = 1\n").await;
    // Complete headers, then a body that stops: the body timeout (8 s) would come later.
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    let head = post_head("github", &[("x-github-event", "ping".into())], 1000);
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[b'{'; 10]).await.unwrap();
    assert_closed_after(&mut [&mut stream], Instant::now(), Duration::from_secs(1)).await;
    // The next client is served as usual.
    let ok = Raw::parse(&get(s.addr, "/healthz").await).expect("a response");
    assert_eq!(ok.status, 200);
    s.stop().await;
}

// ---- the connection cap ----

#[tokio::test]
async fn connections_over_the_cap_are_refused_and_a_freed_slot_serves_the_next() {
    let s = Served::github("max_connections = 3\nheader_read_timeout_secs = 30\n").await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(s.addr).await.unwrap());
    }
    wait_until("three open connections", Duration::from_secs(5), || {
        s.open_connections() == 3
    })
    .await;

    for _ in 0..2 {
        let refused = Raw::parse(&get(s.addr, "/healthz").await).expect("a response");
        assert_eq!(refused.status, 503, "{refused:?}");
        assert_eq!(refused.header("retry-after"), Some("10"));
        let body: serde_json::Value = serde_json::from_str(&refused.body).unwrap();
        assert_eq!(body["error"], "too many open connections; try again later");
    }
    assert_eq!(s.open_connections(), 3, "the refused ones took no slot");
    for stream in &mut held {
        assert_still_open(stream, Duration::from_millis(50)).await;
    }

    drop(held.pop());
    wait_until("a slot freed", Duration::from_secs(5), || {
        s.open_connections() == 2
    })
    .await;
    let served = Raw::parse(&get(s.addr, "/healthz").await).expect("a response");
    assert_eq!(served.status, 200, "{served:?}");
    assert_eq!(served.body, "ok\n");
    drop(held);
    s.stop().await;
}

// ---- unverified bodies ----

#[tokio::test]
async fn many_large_unverified_bodies_at_once_never_hold_more_than_the_in_flight_bound() {
    let s = Served::<FakeGitHub>::start(Options {
        max_body_bytes: MIB as u64,
        server_keys: "max_body_bytes_in_flight = 2097152\n",
        ..Options::default()
    })
    .await;
    s.fake.enroll(7, "h1");
    // Eight signed deliveries of almost 1 MiB, each sent over 4 s: two fit in the bound.
    let around = s.fake.open_payload(7).len();
    let body = s.fake.oversized_open_payload(7, MIB - around - KIB);
    assert!(
        (MIB - 2 * KIB..=MIB).contains(&body.len()),
        "{}",
        body.len()
    );
    let mut clients = Vec::new();
    for n in 0..8 {
        // Each body its own (a body seen before is a replay, answered as a duplicate).
        let body = s.fake.oversized_open_payload(7, MIB - around - KIB - n);
        let headers = s
            .fake
            .webhook_headers("pull_request", &format!("edge-{n}"), &body);
        let addr = s.addr;
        clients.push(tokio::spawn(async move {
            let pause = Duration::from_millis(250);
            send_slowly(addr, "github", &headers, &body, 16, pause).await
        }));
    }
    let mut accepted = 0;
    let mut busy = 0;
    for client in clients {
        let response = client.await.unwrap();
        match response.status {
            202 => accepted += 1,
            503 => {
                busy += 1;
                assert_eq!(response.header("retry-after"), Some("10"), "{response:?}");
                let body: serde_json::Value = serde_json::from_str(&response.body).unwrap();
                assert_eq!(
                    body["error"],
                    "too many deliveries being received at once; redeliver it later"
                );
            }
            other => panic!("{other}: {response:?}"),
        }
    }
    assert_eq!((accepted, busy), (2, 6), "two bodies fit in 2 MiB at once");
    let bodies = &s.state.edge.bodies;
    assert!(
        (2 * (MIB - 2 * KIB)..=2 * MIB).contains(&bodies.peak()),
        "held at most {} bytes at once",
        bodies.peak()
    );
    assert_eq!(bodies.in_flight(), 0, "all given back");

    // Once they are done, a delivery goes through again.
    let after = s.fake.oversized_open_payload(7, MIB - around - KIB - 100);
    let ok = deliver_slowly(&s.fake, s.addr, "edge-after", &after, 1, Duration::ZERO).await;
    assert_eq!(ok.status, 202, "{ok:?}");
    s.stop().await;
}

async fn a_signed_delivery_over_tcp_is_accepted_as_before<F: Forge>() {
    let s = Served::<F>::start(Options::default()).await;
    s.fake.enroll(7, "h1");
    let body = s.fake.open_payload(7);
    let response = deliver_slowly(&s.fake, s.addr, "edge-signed", &body, 1, Duration::ZERO).await;
    assert_eq!(response.status, 202, "{response:?}");
    let json: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(json, serde_json::json!({"status": "queued"}));
    s.stop().await;
}

// ---- shutdown ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_delivery_in_flight_finish_then_serve_exits() {
    let dir = TempDir::new().unwrap();
    let fake = FakeGitHub::launch().await;
    fake.enroll(7, "h1");
    let pulumi = FakePulumi::new(dir.path().join("pulumi"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let toml = fake.config_toml(
        pulumi.command(),
        &dir.path().join("iamgate.db"),
        &addr.to_string(),
        &Options::default(),
    );
    let config = dir.path().join("server.toml");
    std::fs::write(&config, toml).unwrap();
    let log = dir.path().join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let until = Instant::now() + Duration::from_secs(15);
    while Raw::parse(&get_or_nothing(addr).await).is_none_or(|r| r.status != 200) {
        assert!(
            Instant::now() < until,
            "serve did not come up:\n{}",
            read_log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Half a delivery, then SIGTERM, then the rest.
    let body = fake.open_payload(7);
    let headers = fake.webhook_headers("pull_request", "edge-sigterm", &body);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(post_head("github", &headers, body.len()).as_bytes())
        .await
        .unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(rest).await.unwrap();
    let answered = Raw::parse(&read_until_closed(&mut stream, Duration::from_secs(10)).await)
        .unwrap_or_else(|| panic!("no answer; server log:\n{}", read_log()));
    assert_eq!(answered.status, 202, "{answered:?}\n{}", read_log());

    let until = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < until,
            "serve did not exit:\n{}",
            read_log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}\n{}", read_log());
    assert!(read_log().contains("server stopped"), "{}", read_log());
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "nothing listens any more"
    );
}

/// `GET /healthz`, or nothing when the server is not up.
async fn get_or_nothing(addr: SocketAddr) -> Vec<u8> {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return Vec::new();
    };
    let request = b"GET /healthz HTTP/1.1\r\nhost: iamgate\r\nconnection: close\r\n\r\n";
    if stream.write_all(request).await.is_err() {
        return Vec::new();
    }
    read_until_closed(&mut stream, Duration::from_secs(10)).await
}
