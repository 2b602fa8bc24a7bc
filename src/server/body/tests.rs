use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::body::HttpBody;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::*;

const KIB: usize = 1024;

/// A body whose chunks the test sends when it wants, with a `Content-Length` or without one.
struct Trickle {
    chunks: mpsc::Receiver<Bytes>,
    length: Option<u64>,
}

impl HttpBody for Trickle {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        self.chunks
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(hyper::body::Frame::data(c))))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.length.map_or_else(
            hyper::body::SizeHint::default,
            hyper::body::SizeHint::with_exact,
        )
    }
}

/// A body of `length` bytes (when given) and the sender of its chunks.
fn trickle(length: Option<usize>) -> (mpsc::Sender<Bytes>, Body) {
    let (tx, chunks) = mpsc::channel(64);
    let body = Trickle {
        chunks,
        length: length.map(|n| n as u64),
    };
    (tx, Body::new(body))
}

fn chunk(bytes: usize) -> Bytes {
    Bytes::from(vec![b'x'; bytes])
}

fn limits(max_bytes: usize) -> BodyLimits {
    BodyLimits {
        max_bytes,
        timeout: Duration::from_secs(10),
        permit_wait: Duration::from_millis(200),
        drain_refused: false,
    }
}

fn spawn_read(
    body: Body,
    limits: BodyLimits,
    budget: &BodyBudget,
) -> JoinHandle<Result<Buffered, BodyError>> {
    let budget = budget.clone();
    tokio::spawn(async move { read(body, limits, &budget).await })
}

/// A body of `bytes` read at once, holding its bytes of `budget` until dropped.
async fn held(budget: &BodyBudget, bytes: usize) -> Buffered {
    read(
        Body::from(vec![b'h'; bytes]),
        limits(budget.capacity()),
        budget,
    )
    .await
    .expect("fits")
}

/// Waits (up to 5 s) until `budget` has `bytes` in flight.
async fn until_in_flight(budget: &BodyBudget, bytes: usize) {
    for _ in 0..500 {
        if budget.in_flight() == bytes {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("in flight: {} bytes, expected {bytes}", budget.in_flight());
}

#[test]
fn the_budget_counts_whole_kib() {
    let budget = BodyBudget::new(1000);
    assert_eq!(budget.capacity(), KIB);
    assert_eq!(BodyBudget::new(2 * KIB).capacity(), 2 * KIB);
    assert_eq!(budget.in_flight(), 0);
    assert_eq!(budget.peak(), 0);
}

#[tokio::test]
async fn a_body_with_a_length_takes_all_its_bytes_before_any_arrives() {
    let budget = BodyBudget::new(1024 * KIB);
    let (tx, body) = trickle(Some(600 * KIB));
    let reading = spawn_read(body, limits(1024 * KIB), &budget);
    until_in_flight(&budget, 600 * KIB).await;
    for _ in 0..6 {
        tx.send(chunk(100 * KIB)).await.expect("reading");
    }
    drop(tx);
    let body = reading.await.expect("joined").expect("read");
    assert_eq!(body.len(), 600 * KIB);
    assert_eq!(budget.in_flight(), 600 * KIB, "held while the body is");
    drop(body);
    assert_eq!(budget.in_flight(), 0, "given back with the body");
    assert_eq!(budget.peak(), 600 * KIB);
}

#[tokio::test]
async fn a_body_that_does_not_fit_in_time_is_busy_and_keeps_nothing() {
    let budget = BodyBudget::new(1024 * KIB);
    let (first_tx, first) = trickle(Some(600 * KIB));
    let first = spawn_read(first, limits(1024 * KIB), &budget);
    until_in_flight(&budget, 600 * KIB).await;

    let (second_tx, second) = trickle(Some(600 * KIB));
    second_tx.send(chunk(64 * KIB)).await.expect("reading");
    let refused = read(second, limits(1024 * KIB), &budget).await;
    assert_eq!(refused.expect_err("no room"), BodyError::Busy);
    assert_eq!(budget.in_flight(), 600 * KIB, "only the first body's bytes");

    // A small one still fits beside the first.
    let small = held(&budget, 300 * KIB).await;
    assert_eq!(budget.in_flight(), 900 * KIB);
    drop(small);
    drop(first_tx);
    drop(first.await.expect("joined").expect("ended"));
    assert_eq!(budget.in_flight(), 0);
    assert_eq!(budget.peak(), 900 * KIB);
}

#[tokio::test]
async fn a_waiting_body_gets_the_bytes_freed_in_time() {
    let budget = BodyBudget::new(1024 * KIB);
    let first = held(&budget, 800 * KIB).await;
    let (tx, body) = trickle(Some(400 * KIB));
    let waiting = spawn_read(
        body,
        BodyLimits {
            permit_wait: Duration::from_secs(5),
            ..limits(1024 * KIB)
        },
        &budget,
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        budget.in_flight(),
        800 * KIB,
        "the second waits, holding nothing"
    );
    drop(first);
    until_in_flight(&budget, 400 * KIB).await;
    tx.send(chunk(400 * KIB)).await.expect("reading");
    drop(tx);
    let body = waiting.await.expect("joined").expect("read");
    assert_eq!(body.len(), 400 * KIB);
}

#[tokio::test]
async fn a_body_without_a_length_is_counted_as_it_streams() {
    let budget = BodyBudget::new(1024 * KIB);
    let (tx, body) = trickle(None);
    let reading = spawn_read(body, limits(1024 * KIB), &budget);
    until_in_flight(&budget, 64 * KIB).await;
    let mut sent = 0;
    for _ in 0..10 {
        tx.send(chunk(50 * KIB)).await.expect("reading");
        sent += 50 * KIB;
        // The buffer's capacity is reserved: at least what was sent, at most twice as much.
        let mut reserved = budget.in_flight();
        for _ in 0..500 {
            if reserved >= sent {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            reserved = budget.in_flight();
        }
        assert!(
            (sent..=2 * sent).contains(&reserved),
            "{reserved} bytes reserved for {sent} sent"
        );
    }
    drop(tx);
    let body = reading.await.expect("joined").expect("read");
    assert_eq!(body.len(), 500 * KIB);
    assert!(budget.peak() <= 1024 * KIB);
    drop(body);
    assert_eq!(budget.in_flight(), 0);
}

#[tokio::test]
async fn a_streamed_body_that_outgrows_the_room_left_is_busy_and_gives_back_all_it_held() {
    let budget = BodyBudget::new(256 * KIB);
    let other = held(&budget, 100 * KIB).await;
    let (tx, body) = trickle(None);
    let reading = spawn_read(body, limits(256 * KIB), &budget);
    tx.send(chunk(64 * KIB)).await.expect("reading");
    tx.send(chunk(64 * KIB)).await.expect("reading");
    until_in_flight(&budget, 228 * KIB).await; // 100 + 128
    tx.send(chunk(64 * KIB)).await.expect("reading"); // needs 256 KiB: 28 more than the room
    assert_eq!(
        reading.await.expect("joined").expect_err("no room"),
        BodyError::Busy
    );
    assert_eq!(budget.in_flight(), 100 * KIB, "only the other body's bytes");
    drop(other);
    assert_eq!(budget.in_flight(), 0);
}

#[tokio::test]
async fn over_the_limit_is_too_large_by_its_length_without_taking_anything() {
    let budget = BodyBudget::new(1024 * KIB);
    let (_tx, body) = trickle(Some(1024 * KIB + 1));
    let refused = read(body, limits(1024 * KIB), &budget).await;
    assert_eq!(refused.expect_err("too large"), BodyError::TooLarge);
    assert_eq!(budget.peak(), 0, "nothing was reserved");
}

#[tokio::test]
async fn over_the_limit_as_it_streams_is_too_large_and_gives_back_what_it_held() {
    let budget = BodyBudget::new(1024 * KIB);
    let (tx, body) = trickle(None);
    let reading = spawn_read(body, limits(100 * KIB), &budget);
    tx.send(chunk(60 * KIB)).await.expect("reading");
    tx.send(chunk(60 * KIB)).await.expect("reading");
    assert_eq!(
        reading.await.expect("joined").expect_err("too large"),
        BodyError::TooLarge
    );
    assert_eq!(budget.in_flight(), 0);
    assert!(budget.peak() <= 100 * KIB, "never more than the limit");
}

#[tokio::test]
async fn a_body_that_stops_coming_times_out_and_gives_its_bytes_back() {
    let budget = BodyBudget::new(1024 * KIB);
    let (tx, body) = trickle(Some(10 * KIB));
    tx.send(chunk(KIB)).await.expect("reading");
    let refused = read(
        body,
        BodyLimits {
            timeout: Duration::from_millis(100),
            ..limits(1024 * KIB)
        },
        &budget,
    )
    .await;
    assert_eq!(refused.expect_err("timed out"), BodyError::TimedOut);
    assert_eq!(budget.in_flight(), 0);
    drop(tx);
}

#[tokio::test]
async fn a_busy_body_is_drained_when_asked_so_its_sender_can_read_the_refusal() {
    let budget = BodyBudget::new(64 * KIB);
    let _full = held(&budget, 64 * KIB).await;

    // Not drained: refused at once, the sender still sending.
    let (tx, body) = trickle(Some(32 * KIB));
    let refused = read(body, limits(64 * KIB), &budget).await;
    assert_eq!(refused.expect_err("busy"), BodyError::Busy);
    assert!(tx.send(chunk(KIB)).await.is_err(), "the body was dropped");

    // Drained: read (and thrown away) to its end, then refused.
    let (tx, body) = trickle(Some(32 * KIB));
    let drained = BodyLimits {
        drain_refused: true,
        ..limits(64 * KIB)
    };
    let reading = spawn_read(body, drained, &budget);
    for _ in 0..32 {
        tx.send(chunk(KIB)).await.expect("still read");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!reading.is_finished(), "waits for the body's end");
    drop(tx);
    assert_eq!(
        reading.await.expect("joined").expect_err("busy"),
        BodyError::Busy
    );
    assert_eq!(
        budget.in_flight(),
        64 * KIB,
        "the drained bytes were not kept"
    );
}

#[tokio::test]
async fn concurrent_bodies_never_hold_more_than_the_budget() {
    let budget = BodyBudget::new(1024 * KIB);
    let mut senders = Vec::new();
    let mut readings = Vec::new();
    for _ in 0..8 {
        let (tx, body) = trickle(Some(300 * KIB));
        senders.push(tx);
        readings.push(spawn_read(body, limits(1024 * KIB), &budget));
    }
    // Nothing is sent until the bodies that found no room have given up.
    until_in_flight(&budget, 900 * KIB).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    for tx in &senders {
        let _ = tx.send(chunk(300 * KIB)).await;
    }
    drop(senders);
    let mut bodies = Vec::new();
    let mut busy = 0;
    for reading in readings {
        match reading.await.expect("joined") {
            Ok(body) => bodies.push(body),
            Err(BodyError::Busy) => busy += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!((bodies.len(), busy), (3, 5), "three fit at once");
    assert!(bodies.iter().all(|b| b.len() == 300 * KIB));
    assert_eq!(budget.peak(), 900 * KIB);
    drop(bodies);
    assert_eq!(budget.in_flight(), 0);
}
