//! A bounded, thread-safe memo table keyed by the exact input string (action patterns, Resource
//! values), shared by rayon workers. Knows nothing about what it stores.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

/// Entries kept before the table is emptied and refilled (bounds memory under hostile input).
const CAPACITY: usize = 1 << 16;

#[derive(Debug)]
pub(super) struct Memo<V> {
    map: RwLock<HashMap<Box<str>, Arc<V>>>,
    capacity: usize,
}

impl<V> Default for Memo<V> {
    fn default() -> Self {
        Memo::with_capacity(CAPACITY)
    }
}

impl<V> Memo<V> {
    pub fn with_capacity(capacity: usize) -> Self {
        Memo {
            map: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The value for `key`, computing (outside the lock) and remembering it on a miss.
    pub fn get_or_compute(&self, key: &str, compute: impl FnOnce() -> V) -> Arc<V> {
        if let Some(v) = self
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
        {
            return Arc::clone(v);
        }
        let value = Arc::new(compute());
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= self.capacity {
            map.clear();
        }
        Arc::clone(map.entry(key.into()).or_insert(value))
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_once_per_key_and_stays_bounded() {
        let memo = Memo::with_capacity(2);
        let mut calls = 0;
        assert_eq!(
            *memo.get_or_compute("a", || {
                calls += 1;
                1
            }),
            1
        );
        assert_eq!(
            *memo.get_or_compute("a", || {
                calls += 1;
                2
            }),
            1
        );
        assert_eq!(calls, 1);
        memo.get_or_compute("b", || 2);
        assert_eq!(memo.len(), 2);
        assert_eq!(*memo.get_or_compute("c", || 3), 3);
        assert_eq!(memo.len(), 1);
    }
}
