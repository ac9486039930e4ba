use super::*;

const MINIMAL: &str = r#"{"action_id":"act-0","capability_id":"billing.list","principal_id":"u1","token_id":"tok-1","invoked_at":"2026-01-01T00:00:00+00:00","args":{"a":1},"response_mode":"summary","driver_id":"memory"}"#;

fn parse(s: &str) -> Result<PreparedTrace, TraceError> {
    PreparedTrace::parse(s.as_bytes(), &TraceLimits::default())
}

#[test]
fn fields_are_sorted() {
    let mut sorted = FIELDS;
    sorted.sort_unstable();
    assert_eq!(sorted, FIELDS);
}

#[test]
fn fills_defaults_like_export_action_trace() {
    let t = parse(MINIMAL).unwrap();
    assert_eq!(
        t.canonical(),
        r#"{"action_id":"act-0","args":{"a":1},"capability_id":"billing.list","correction":null,"driver_id":"memory","error":null,"event_type":"invoke","handle_id":null,"invoked_at":"2026-01-01T00:00:00+00:00","principal_id":"u1","reason_code":null,"response_mode":"summary","result_summary":null,"sensitivity":"NONE","status":"succeeded","token_id":"tok-1"}"#
    );
    // Round trip: the full shape is accepted unchanged.
    assert_eq!(parse(t.canonical()).unwrap(), t);
}

#[test]
fn names_the_bad_field() {
    let cases = [
        (
            MINIMAL.replace(r#""args":{"a":1}"#, r#""args":[1]"#),
            "field `args` must be an object, found array",
        ),
        (
            MINIMAL.replace(r#","driver_id":"memory""#, ""),
            "field `driver_id` is missing",
        ),
        (
            MINIMAL.replace("2026-01-01T00:00:00+00:00", "2026-01-01"),
            "field `invoked_at`",
        ),
        (MINIMAL.replace("summary", "loud"), "field `response_mode`"),
        (
            MINIMAL.replace(r#""driver_id""#, r#""status":"failed","driver_id""#),
            "field `status` is \"failed\"",
        ),
        (
            MINIMAL.replace(r#""driver_id""#, r#""extra":1,"driver_id""#),
            "unknown field \"extra\"",
        ),
        (
            MINIMAL.replace(r#"{"a":1}"#, r#"{"a":1,"a":2}"#),
            "key \"a\" appears twice",
        ),
        (
            MINIMAL.replace(r#"{"a":1}"#, r#"{"a":NaN}"#),
            "not valid JSON",
        ),
    ];
    for (text, expected) in cases {
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains(expected), "{err} should contain {expected}");
    }
    let failed = MINIMAL.replace(r#""driver_id""#, r#""error":"boom","driver_id""#);
    assert!(
        parse(&failed)
            .unwrap()
            .canonical()
            .contains(r#""status":"failed""#)
    );
}

#[test]
fn invoked_at_is_sealed_in_utc_as_weaver_kernel_spells_it() {
    for (given, sealed) in [
        ("2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"),
        ("2026-01-01T05:00:00+05:00", "2026-01-01T00:00:00+00:00"),
        ("2025-12-31T19:00:00-05:00", "2026-01-01T00:00:00+00:00"),
        ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00+00:00"),
        ("2026-01-01T00:00:00-00:00", "2026-01-01T00:00:00+00:00"),
        ("2026-01-01 00:00Z", "2026-01-01T00:00:00+00:00"),
        ("2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:00+00:00"),
        ("2026-01-01T00:00:00.0000009Z", "2026-01-01T00:00:00+00:00"),
        (
            "2026-01-01T00:00:00.5+00:00",
            "2026-01-01T00:00:00.500000+00:00",
        ),
        (
            "2026-01-01T00:00:00.123456789Z",
            "2026-01-01T00:00:00.123456+00:00",
        ),
        ("2026-01-01T05:30:15+05:30:15", "2026-01-01T00:00:00+00:00"),
        ("0999-06-01T00:00:00+00:00", "0999-06-01T00:00:00+00:00"),
        ("0001-01-01T01:00:00+01:00", "0001-01-01T00:00:00+00:00"),
    ] {
        let t = parse(&MINIMAL.replace("2026-01-01T00:00:00+00:00", given)).unwrap();
        assert_eq!(t.invoked_at(), sealed, "{given}");
        let member = format!(r#""invoked_at":"{sealed}""#);
        assert!(
            t.canonical().contains(&member),
            "{given}: {}",
            t.canonical()
        );
        // The sealed form is a fixed point.
        assert_eq!(parse(t.canonical()).unwrap(), t, "{given}");
    }
}

#[test]
fn invoked_at_weaver_kernel_cannot_hold_is_refused() {
    for bad in [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:00:00-01:00",
        "2026-01-01T00:00:60Z",
        "2026-01-01T00:00:00z",
        "2026-01-01T00:00:00",
        "0000-01-01T00:00:00Z",
    ] {
        let err = parse(&MINIMAL.replace("2026-01-01T00:00:00+00:00", bad)).unwrap_err();
        assert!(
            matches!(
                err,
                TraceError::Invalid {
                    field: "invoked_at",
                    ..
                }
            ),
            "{bad}: {err:?}"
        );
        assert!(err.to_string().starts_with("field `invoked_at`: "), "{err}");
    }
}

#[test]
fn limits() {
    let limits = TraceLimits {
        max_bytes: 100,
        max_depth: 3,
    };
    assert!(matches!(
        PreparedTrace::parse(MINIMAL.as_bytes(), &limits),
        Err(TraceError::TooLarge { .. })
    ));
    let limits = TraceLimits {
        max_bytes: 10_000,
        max_depth: 3,
    };
    let deep = MINIMAL.replace(r#"{"a":1}"#, r#"{"a":[[[1]]]}"#);
    assert!(matches!(
        PreparedTrace::parse(deep.as_bytes(), &limits),
        Err(TraceError::FieldJson { field: "args", .. })
    ));
}

#[test]
fn json_errors_name_the_field_that_holds_them() {
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let args = |v: &str| MINIMAL.replace(r#"{"a":1}"#, v).into_bytes();
    let principal = |v: &[u8]| {
        let (head, tail) = MINIMAL.split_once(r#""u1""#).unwrap();
        [head.as_bytes(), v, tail.as_bytes()].concat()
    };
    let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
        (args(r#"{"a":NaN}"#), Some("args")),
        (args(r#"{"a":[1,-Infinity]}"#), Some("args")),
        (args(r#"{"a":1e999}"#), Some("args")),
        (args(r#"{"a":"\ud800"}"#), Some("args")),
        (args(&format!(r#"{{"a":{deep}}}"#)), Some("args")),
        (args(&format!(r#"{{"a":"x","b":{deep}}}"#)), Some("args")),
        // An escaped quote does not end the string: the document ends inside `args`.
        (args(r#"{"a":"x\"}"#), Some("args")),
        (principal(b"\"u\xc3\xa9\xff\""), Some("principal_id")),
        (principal(b"NaN"), Some("principal_id")),
        (principal(b"tru"), Some("principal_id")),
        (principal(b"\"u1\" \"x\""), None),
        (principal(b"1 2"), None),
        (principal(br#"{"a\":[":tru}"#), Some("principal_id")),
        (principal(br#"{"a\":[":1}x"#), None),
        (
            MINIMAL
                .replace(r#""token_id""#, "\"tok\u{7}\"")
                .into_bytes(),
            None,
        ),
        (
            MINIMAL
                .replace(r#","token_id""#, r#" "token_id""#)
                .into_bytes(),
            None,
        ),
        (format!("{MINIMAL}x").into_bytes(), None),
        (deep.clone().into_bytes(), None),
        (format!(r#"{{"unknown":{deep}}}"#).into_bytes(), None),
    ];
    for (text, field) in cases {
        let shown = String::from_utf8_lossy(&text[..text.len().min(160)]).into_owned();
        let err = PreparedTrace::parse(&text, &TraceLimits::default()).unwrap_err();
        match (field, &err) {
            (Some(f), TraceError::FieldJson { field, .. }) => assert_eq!(*field, f, "{err}"),
            (None, TraceError::Json(_)) => {}
            _ => panic!("{err:?}, expected {field:?}: {shown}"),
        }
        if let Some(f) = field {
            let prefix = format!("field `{f}`: not valid JSON: byte ");
            assert!(err.to_string().starts_with(&prefix), "{err}");
        }
    }
}
