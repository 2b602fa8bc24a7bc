//! Configuration: the repository config (`.iamgate.yml`). STUB.
