//! A byte budget on the decompressed archive stream, so the tar reader cannot be made to buffer
//! a huge GNU long name or pax record in memory. File bodies are not counted here (the unpacker
//! counts them itself against `max_bytes`); only what the tar reader consumes between entries.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

/// Shared between the unpack loop (which sets the budget) and the reader (which spends it).
#[derive(Debug)]
pub(super) struct Budget {
    left: Cell<u64>,
    exhausted: Cell<bool>,
}

impl Budget {
    pub(super) fn new() -> Self {
        Self {
            left: Cell::new(u64::MAX),
            exhausted: Cell::new(false),
        }
    }

    /// From now on, at most `bytes` may be read.
    pub(super) fn limit_to(&self, bytes: u64) {
        self.left.set(bytes);
    }

    /// No bound (used while the unpacker itself reads a file body).
    pub(super) fn lift(&self) {
        self.left.set(u64::MAX);
    }

    /// Whether a read failed because the budget ran out.
    pub(super) fn exhausted(&self) -> bool {
        self.exhausted.get()
    }
}

#[derive(Debug)]
pub(super) struct BudgetReader<R> {
    inner: R,
    budget: Rc<Budget>,
}

impl<R> BudgetReader<R> {
    pub(super) fn new(inner: R, budget: Rc<Budget>) -> Self {
        Self { inner, budget }
    }
}

impl<R: Read> Read for BudgetReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.budget.left.get();
        if buf.is_empty() {
            return Ok(0);
        }
        if left == 0 {
            self.budget.exhausted.set(true);
            return Err(io::Error::other("archive header budget exceeded"));
        }
        let want = usize::try_from(left).map_or(buf.len(), |left| left.min(buf.len()));
        let got = self.inner.read(&mut buf[..want])?;
        self.budget.left.set(left - got as u64);
        Ok(got)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_with_an_error_once_the_budget_is_spent() {
        let budget = Rc::new(Budget::new());
        let mut reader = BudgetReader::new(&[7u8; 100][..], Rc::clone(&budget));
        budget.limit_to(10);
        let mut out = Vec::new();
        let err = reader.read_to_end(&mut out).unwrap_err();
        assert_eq!(out.len(), 10);
        assert!(budget.exhausted(), "{err}");
    }

    #[test]
    fn a_lifted_budget_reads_everything() {
        let budget = Rc::new(Budget::new());
        let mut reader = BudgetReader::new(&[7u8; 100][..], Rc::clone(&budget));
        budget.limit_to(10);
        budget.lift();
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), 100);
        assert!(!budget.exhausted());
    }
}
