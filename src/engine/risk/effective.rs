//! effective. STUB.
