//! The canonical-JSON vectors produced by Python and the known answers of chain format "1".

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use trailseal_core::json::canonicalize;
use trailseal_core::recanon::Recanonicalizer;
use trailseal_core::{ChainKey, GENESIS_HASH, Head, PreparedTrace, TraceLimits, seal_batch};

#[test]
fn all_python_json_dumps_cases_match() {
    let path = trailseal_testkit::vector("canonical/python-json-dumps.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut cases = 0;
    for (i, line) in text.lines().enumerate() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let input = case["input"].as_str().unwrap();
        let expected = case["canonical"].as_str().unwrap();
        let got = canonicalize(input.as_bytes())
            .unwrap_or_else(|e| panic!("line {}: {input:?} rejected: {e}", i + 1));
        assert_eq!(got, expected, "line {}: input {input:?}", i + 1);
        // The one-pass path for json.dumps output agrees wherever it applies.
        let mut fast = Vec::new();
        if Recanonicalizer::new().run(input.as_bytes(), &mut fast) {
            assert_eq!(
                fast,
                expected.as_bytes(),
                "line {}: fast path on {input:?}",
                i + 1
            );
        }
        cases += 1;
    }
    assert_eq!(cases, 400);
}

fn known_trace(action_id: &str, invoked_at: &str) -> PreparedTrace {
    let text = format!(
        r#"{{"action_id":"{action_id}","capability_id":"billing.list","principal_id":"u1","token_id":"tok-1","invoked_at":"{invoked_at}","args":{{"a":1}},"response_mode":"summary","driver_id":"memory"}}"#
    );
    PreparedTrace::parse(text.as_bytes(), &TraceLimits::default()).unwrap()
}

#[test]
fn weaver_known_answers() {
    let key = ChainKey::from_secret(b"chain-test-secret").unwrap();
    let traces = [
        known_trace("act-0", "2026-01-01T00:00:00+00:00"),
        known_trace("act-1", "2026-01-01T00:00:01+00:00"),
    ];
    let mut head = Head::GENESIS;
    let records = seal_batch(&key, &mut head, &traces);
    assert_eq!(records[0].prev_hash.as_str(), GENESIS_HASH);
    assert_eq!(
        records[0].record_hash.as_str(),
        "d68a91b5c0874a9137514cb984b164b540a3c9255e77c15696ea3b215c7b9007"
    );
    assert_eq!(records[1].seq, 1);
    assert_eq!(records[1].prev_hash, records[0].record_hash);
    assert_eq!(
        records[1].record_hash.as_str(),
        "cbd72ea6e6b32137d7c1fdcc0a24929f6d3bededf5f1f9ef97bf240fcbdb7852"
    );
    assert_eq!(head.next_seq, 2);
}
