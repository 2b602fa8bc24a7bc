//! Fuzz target `preview`: arbitrary bytes through `preview::parse`; whatever parses goes through
//! the whole pipeline (`analyze` with the default risk config) and the JSON report. Invariants:
//! no panic or hang, the analysis is deterministic (the rules run in parallel), and the report is
//! valid JSON. It must not depend on fixture contents.
#![no_main]

use iamgate::engine::report::json;
use iamgate::engine::risk::RiskConfig;
use iamgate::engine::{analyze, preview};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = preview::parse(data) else {
        return;
    };
    let config = RiskConfig::default();
    let analysis = analyze(&parsed, &config);
    if analyze(&parsed, &config) != analysis {
        panic!("analyze is not deterministic for the same preview");
    }
    let report = json::render(&analysis);
    // The report is a JSON document: anything else is a rendering bug.
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&report) {
        panic!("json::render produced invalid JSON ({e}):\n{report}");
    }
});
