//! `canonical`: the JSON reader, canonical writer and re-canonicaliser against each other.

use super::*;

/// `canonical`: the general JSON reader and canonical writer in both modes, `canonicalize`,
/// `pretty`, the trace validator, and the one-pass [`Recanonicalizer`] checked against the
/// general reader (a differential oracle: whenever it succeeds its output must be the
/// reader's Python-mode canonical form).
pub fn canonical(data: &[u8]) {
    let mut recanon = Recanonicalizer::new();
    let mut fast = Vec::new();
    let fast_ok = recanon.run(data, &mut fast);
    let _ = json::find_top_level_string(data, "action_id");
    let _ = json::pretty(data, 2);
    if let Ok(trace) = PreparedTrace::parse(data, &TraceLimits::default()) {
        let stored = trace.canonical().as_bytes();
        assert_eq!(
            json::canonicalize(stored).ok().as_deref(),
            Some(trace.canonical()),
            "a validated trace is stored in canonical form"
        );
        let _ = (trace.action_id(), trace.invoked_at_timestamp());
    }
    let doc = match json::parse(data) {
        Ok(doc) => doc,
        Err(_) => {
            assert!(
                !fast_ok,
                "the recanonicalizer accepted a text the reader rejects"
            );
            assert!(json::canonicalize(data).is_err());
            return;
        }
    };
    let root = doc.root();
    let mut python = Vec::new();
    let python_ok = root.write_canonical(&mut python, Mode::Python).is_ok();
    let mut strict = Vec::new();
    let strict_ok = root.write_canonical(&mut strict, Mode::Strict).is_ok();
    if fast_ok {
        assert!(
            python_ok,
            "the recanonicalizer wrote what the reader cannot"
        );
        assert!(
            fast == python,
            "the recanonicalizer and the reader disagree:\n fast:   {}\n reader: {}",
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&python)
        );
    }
    if strict_ok {
        assert!(
            python_ok && strict == python,
            "strict and Python modes differ"
        );
    }
    match json::canonicalize(data) {
        Ok(text) => assert!(strict_ok && text.as_bytes() == strict),
        Err(_) => assert!(!strict_ok),
    }
    let _ = (doc.check_strict(), doc.find_duplicate_key(), root.kind());
    if python_ok {
        assert!(python.is_ascii(), "the canonical form is ASCII");
        assert_eq!(
            python_canonical(&python).as_deref(),
            Some(python.as_slice()),
            "the canonical form is a fixed point"
        );
        assert_eq!(
            python_canonical(json::pretty(&python, 2).as_bytes()).as_deref(),
            Some(python.as_slice()),
            "pretty-printing keeps the value"
        );
        if recanon.run(&python, &mut fast) {
            assert!(
                fast == python,
                "the recanonicalizer changed a canonical text"
            );
        }
    }
}
