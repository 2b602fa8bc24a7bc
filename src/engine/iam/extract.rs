//! Extraction of IAM facts from preview steps. STUB.
