//! The semantic diff: unified diffs of canonical documents and the fingerprint of a change. STUB.

/// A stable hash of the whole normalized IAM change of a preview (hex SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub String);
