//! `ActionSet`: a set of actions of the database, as a compressed bitmap of action ids. Knows
//! nothing about names or patterns.

use roaring::RoaringBitmap;

use super::ActionId;

/// A set of actions of the database.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActionSet(pub RoaringBitmap);

impl ActionSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The set holding only `id`.
    pub fn single(id: ActionId) -> Self {
        let mut set = Self::new();
        set.insert(id);
        set
    }

    pub fn contains(&self, id: ActionId) -> bool {
        self.0.contains(id.0)
    }

    /// Adds `id`; true if it was not in the set.
    pub fn insert(&mut self, id: ActionId) -> bool {
        self.0.insert(id.0)
    }

    /// Removes `id`; true if it was in the set.
    pub fn remove(&mut self, id: ActionId) -> bool {
        self.0.remove(id.0)
    }

    /// `self ∪= other`.
    pub fn union_with(&mut self, other: &ActionSet) {
        self.0 |= &other.0;
    }

    /// `self −= other`.
    pub fn difference_with(&mut self, other: &ActionSet) {
        self.0 -= &other.0;
    }

    /// `self ∩= other`.
    pub fn intersect_with(&mut self, other: &ActionSet) {
        self.0 &= &other.0;
    }

    /// `self ∩ other`.
    pub fn intersection(&self, other: &ActionSet) -> ActionSet {
        ActionSet(&self.0 & &other.0)
    }

    /// True if every action of `self` is in `other`.
    pub fn is_subset(&self, other: &ActionSet) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        usize::try_from(self.0.len()).unwrap_or(usize::MAX)
    }

    /// The actions in id order (the database's sorted name order).
    pub fn iter(&self) -> impl Iterator<Item = ActionId> + '_ {
        self.0.iter().map(ActionId)
    }
}

impl FromIterator<ActionId> for ActionSet {
    fn from_iter<I: IntoIterator<Item = ActionId>>(iter: I) -> Self {
        ActionSet(iter.into_iter().map(|id| id.0).collect())
    }
}

impl Extend<ActionId> for ActionSet {
    fn extend<I: IntoIterator<Item = ActionId>>(&mut self, iter: I) {
        self.0.extend(iter.into_iter().map(|id| id.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[u32]) -> ActionSet {
        ids.iter().map(|&i| ActionId(i)).collect()
    }

    #[test]
    fn set_algebra() {
        let mut a = set(&[1, 2, 3]);
        let b = set(&[3, 4]);
        assert_eq!(a.intersection(&b), set(&[3]));
        a.union_with(&b);
        assert_eq!(a, set(&[1, 2, 3, 4]));
        a.difference_with(&set(&[1, 4]));
        assert_eq!(a, set(&[2, 3]));
        a.intersect_with(&set(&[3, 9]));
        assert_eq!(a, set(&[3]));
        assert!(a.is_subset(&b));
        assert!(!b.is_subset(&a));
    }

    #[test]
    fn membership_and_size() {
        let mut s = ActionSet::new();
        assert!(s.is_empty());
        assert!(s.insert(ActionId(7)));
        assert!(!s.insert(ActionId(7)));
        assert!(s.contains(ActionId(7)));
        assert!(!s.contains(ActionId(8)));
        assert_eq!(s.len(), 1);
        assert_eq!(
            ActionSet::single(ActionId(5)).iter().collect::<Vec<_>>(),
            vec![ActionId(5)]
        );
        assert!(s.remove(ActionId(7)));
        assert!(s.is_empty());
        s.extend([ActionId(9), ActionId(2)]);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![ActionId(2), ActionId(9)]);
    }
}
