//! Fuzz target `policy`: arbitrary UTF-8 through `normalize::parse_text`. For a known policy it
//! checks the canonical-form invariant: re-reading `to_json(&p)` gives the same effective policy
//! (version and statements) and the same canonical JSON. `problems` are not compared: they
//! describe the input's spelling, and the canonical form has dropped what they complain about.
#![no_main]

use iamgate::engine::iam::normalize;
use iamgate::engine::iam::policy::Document;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Document::Known(policy) = normalize::parse_text(text) else {
        return;
    };
    let canonical = normalize::to_json(&policy);
    let again = match normalize::parse_document(&canonical) {
        Document::Known(p) => p,
        other => panic!(
            "canonical form does not read back as a policy: {other:?}\ncanonical: {canonical}"
        ),
    };
    if again.version != policy.version || again.statements != policy.statements {
        panic!(
            "canonical form is not idempotent\ninput: {text}\nfirst:  {policy:?}\nsecond: {again:?}\n\
             canonical: {canonical}\nre-canonical: {}",
            normalize::to_json(&again)
        );
    }
    let recanonical = normalize::to_json(&again);
    if recanonical != canonical {
        panic!("to_json differs after a round trip\nfirst:  {canonical}\nsecond: {recanonical}");
    }
    // The text form (how policies arrive from providers) must read back the same way.
    match normalize::parse_text(&canonical.to_string()) {
        Document::Known(p) if p.version == policy.version && p.statements == policy.statements => {}
        other => {
            panic!("canonical text does not read back equal: {other:?}\ncanonical: {canonical}")
        }
    }
});
