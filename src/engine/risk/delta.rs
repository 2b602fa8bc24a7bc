//! delta. STUB.
