//! Request bodies read before anyone knows who sent them. Every handler that buffers a body
//! takes its bytes from one [`BodyBudget`] (`[server] max_body_bytes_in_flight`) before it
//! buffers them: the whole `Content-Length` up front, a body without one as it streams (the
//! buffer's capacity, which grows by doubling; while it moves, the old buffer lives a moment
//! longer). The bytes go back when the buffered body is dropped. A body that cannot get its
//! bytes in time ([`PERMIT_WAIT`] in the webhook handlers) is refused as busy, having kept
//! nothing: however many senders there are, unverified bodies hold at most the budget. Knows
//! nothing of forges or of HTTP replies: the handlers map [`BodyError`] to them.

use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, timeout_at};

/// How long a body waits for its bytes from the budget before it is refused as busy. Waiting
/// longer rarely helps: the bodies holding the budget may take the whole body timeout.
pub const PERMIT_WAIT: Duration = Duration::from_secs(1);

/// The budget counts in KiB, so that one reservation of any body fits a semaphore's `u32`.
const UNIT: usize = 1024;

/// A body of unknown length starts with this much reserved (hyper hands over at most this much
/// at a time: see `connections::CONNECTION_BUFFER_BYTES`).
const FIRST_RESERVATION: usize = 64 * 1024;

/// The bytes all unverified bodies may hold together, shared by every handler (cheap to clone).
#[derive(Debug, Clone)]
pub struct BodyBudget {
    permits: Arc<Semaphore>,
    /// The budget in units.
    units: usize,
    /// The units reserved by bodies now (the semaphore's own count also holds the units it has
    /// set aside for a body still waiting for the rest).
    held: Arc<AtomicUsize>,
    /// The most units reserved at once since start.
    peak: Arc<AtomicUsize>,
}

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Over the size limit (by its `Content-Length`, or as it streamed).
    TooLarge,
    /// The budget had no room for it in time; nothing of it was kept.
    Busy,
    /// Not received within the body timeout.
    TimedOut,
    /// The connection broke or the body was malformed.
    Broken(String),
}

/// A whole body and its share of the budget, given back when this is dropped.
#[derive(Debug)]
pub struct Buffered {
    bytes: Bytes,
    _reservation: Reservation,
}

impl Deref for Buffered {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// Units taken from a [`BodyBudget`]; given back on drop.
#[derive(Debug)]
struct Reservation {
    budget: BodyBudget,
    permit: Option<OwnedSemaphorePermit>,
}

impl BodyBudget {
    /// A budget of `bytes` (rounded up to whole KiB).
    pub fn new(bytes: usize) -> BodyBudget {
        let units = bytes.div_ceil(UNIT).clamp(1, Semaphore::MAX_PERMITS);
        BodyBudget {
            permits: Arc::new(Semaphore::new(units)),
            units,
            held: Arc::new(AtomicUsize::new(0)),
            peak: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The budget, in bytes.
    pub fn capacity(&self) -> usize {
        self.units.saturating_mul(UNIT)
    }

    /// The bytes reserved now by bodies being read or held.
    pub fn in_flight(&self) -> usize {
        self.held.load(Ordering::Relaxed).saturating_mul(UNIT)
    }

    /// The most bytes reserved at once since start.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed).saturating_mul(UNIT)
    }

    /// An empty reservation, to grow.
    fn empty(&self) -> Reservation {
        Reservation {
            budget: self.clone(),
            permit: None,
        }
    }
}

impl Reservation {
    /// Holds at least `bytes`, waiting for them until `until`; `Busy` if they did not come (what
    /// was held before stays held).
    async fn grow_to(&mut self, bytes: usize, until: Instant) -> Result<(), BodyError> {
        let held = self
            .permit
            .as_ref()
            .map_or(0, OwnedSemaphorePermit::num_permits);
        let more = bytes.div_ceil(UNIT).saturating_sub(held);
        if more == 0 {
            return Ok(());
        }
        let budget = &self.budget;
        if held.saturating_add(more) > budget.units {
            return Err(BodyError::Busy);
        }
        let count = u32::try_from(more).map_err(|_| BodyError::Busy)?;
        let acquired = timeout_at(until, Arc::clone(&budget.permits).acquire_many_owned(count))
            .await
            .map_err(|_| BodyError::Busy)?
            .map_err(|_| BodyError::Busy)?;
        let held_now = budget.held.fetch_add(more, Ordering::Relaxed) + more;
        budget.peak.fetch_max(held_now, Ordering::Relaxed);
        match &mut self.permit {
            Some(permit) => permit.merge(acquired),
            None => self.permit = Some(acquired),
        }
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.budget
                .held
                .fetch_sub(permit.num_permits(), Ordering::Relaxed);
        }
    }
}

/// How one body is read: its size limit and its time.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Bodies larger than this are refused.
    pub max_bytes: usize,
    /// The body must be received within this, once it has its bytes from the budget.
    pub timeout: Duration,
    /// How long to wait for room in the budget (each time a streamed body grows, too).
    pub permit_wait: Duration,
    /// On `Busy`, read the rest of the body and throw it away (within `timeout`) so that the
    /// sender, still sending, can read the refusal instead of a reset connection. Off for a
    /// sender waiting for `100 Continue`: it has sent nothing yet.
    pub drain_refused: bool,
}

/// Reads `body` whole within `limits`, its bytes reserved from `budget` before they are
/// buffered.
pub async fn read(
    mut body: Body,
    limits: BodyLimits,
    budget: &BodyBudget,
) -> Result<Buffered, BodyError> {
    let hint = body.size_hint();
    if usize::try_from(hint.lower()).unwrap_or(usize::MAX) > limits.max_bytes {
        return Err(BodyError::TooLarge);
    }
    let exact = hint.exact().and_then(|n| usize::try_from(n).ok());
    let first = exact.unwrap_or_else(|| FIRST_RESERVATION.min(limits.max_bytes));
    let mut reservation = budget.empty();
    if let Err(error) = reservation
        .grow_to(first, Instant::now() + limits.permit_wait)
        .await
    {
        return Err(refused(error, body, limits).await);
    }
    let deadline = Instant::now() + limits.timeout;
    let mut buffer = Vec::with_capacity(first);
    let collected = timeout_at(
        deadline,
        collect(&mut body, &mut buffer, &mut reservation, limits),
    )
    .await;
    match collected {
        Ok(Ok(())) => Ok(Buffered {
            bytes: Bytes::from(buffer),
            _reservation: reservation,
        }),
        Ok(Err(error)) => {
            drop(buffer);
            drop(reservation);
            Err(refused(error, body, limits).await)
        }
        Err(_) => Err(BodyError::TimedOut),
    }
}

/// Appends every frame of `body` to `buffer`, growing `reservation` before the buffer grows.
async fn collect(
    body: &mut Body,
    buffer: &mut Vec<u8>,
    reservation: &mut Reservation,
    limits: BodyLimits,
) -> Result<(), BodyError> {
    while let Some(chunk) = next_chunk(body).await {
        let chunk = chunk.map_err(|e| BodyError::Broken(format!("cannot read the body: {e}")))?;
        let needed = buffer.len().saturating_add(chunk.len());
        if needed > limits.max_bytes {
            return Err(BodyError::TooLarge);
        }
        if needed > buffer.capacity() {
            // Double, within the limit, so that a streamed body is reserved a few times only.
            let target = needed
                .max(buffer.capacity().saturating_mul(2))
                .min(limits.max_bytes);
            reservation
                .grow_to(target, Instant::now() + limits.permit_wait)
                .await?;
            buffer.reserve_exact(target - buffer.len());
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(())
}

/// The next data frame of `body` (trailers are skipped); `None` at its end.
async fn next_chunk(body: &mut Body) -> Option<Result<Bytes, axum::Error>> {
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await?;
        match frame.map(|frame| frame.into_data()) {
            Ok(Ok(data)) => return Some(Ok(data)),
            Ok(Err(_trailers)) => {}
            Err(error) => return Some(Err(error)),
        }
    }
}

/// `error`, after throwing the rest of a busy body away when `limits` say so.
async fn refused(error: BodyError, mut body: Body, limits: BodyLimits) -> BodyError {
    if error == BodyError::Busy && limits.drain_refused {
        let drained = async { while let Some(Ok(_)) = next_chunk(&mut body).await {} };
        let _ = tokio::time::timeout(limits.timeout, drained).await;
    }
    error
}

#[cfg(test)]
mod tests;
