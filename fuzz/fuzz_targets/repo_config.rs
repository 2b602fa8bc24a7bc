//! Fuzz target `repo_config`: arbitrary UTF-8 through the `.iamgate.yml` parser
//! (`config::repo::parse`). The invariant is "never panics, never hangs": broken configs are
//! reported as problems, not crashes.
#![no_main]

use iamgate::config::repo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = repo::parse(text);
});
