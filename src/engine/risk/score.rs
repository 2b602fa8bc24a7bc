//! score. STUB.
