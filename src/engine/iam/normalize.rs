//! Parsing policy documents (JSON string or object) into the canonical `Policy`. STUB.
