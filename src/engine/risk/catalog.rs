//! catalog. STUB.
