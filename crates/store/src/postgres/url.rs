//! What a PostgreSQL store URL says: the password hidden for messages, trailseal's own
//! parameters (`?schema=`, `?lock_timeout=`) taken out before the server sees the URL, and the
//! values they may have.

use std::time::Duration;

/// How long a change waits for the chain's lock by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest `?lock_timeout=` accepted.
const MAX_LOCK_TIMEOUT: Duration = Duration::from_secs(86_400);

/// `postgres://user:secret@host/db` with the password shown as `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    // A password can also come as a query parameter.
    let tail = tail
        .split('&')
        .map(|part| match part.split_once("password=") {
            Some((before, _)) => format!("{before}password=***"),
            None => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{scheme}://{authority}{tail}")
}

/// Splits `NAME=VALUE` (trailseal's own parameter, which the server must not see) out of the
/// URL's query; the last one given wins.
pub(super) fn take_param(url: &str, name: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut value = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(
            |p| match p.strip_prefix(name).and_then(|v| v.strip_prefix('=')) {
                Some(v) => {
                    value = Some(v.to_owned());
                    false
                }
                None => true,
            },
        )
        .collect();
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (url, value)
}

/// Parses a `?lock_timeout=` value: `500ms`, or a duration such as `5s`, `2m`, `1m30s`; above
/// zero and at most a day (waiting without bound is what the timeout is there to prevent).
pub fn parse_lock_timeout(text: &str) -> Option<Duration> {
    let timeout = match text.strip_suffix("ms") {
        Some(ms) if !ms.is_empty() && ms.bytes().all(|b| b.is_ascii_digit()) => {
            Duration::from_millis(ms.parse().ok()?)
        }
        _ => {
            Duration::from_micros(u64::try_from(trailseal_core::time::parse_duration(text)?).ok()?)
        }
    };
    (!timeout.is_zero() && timeout <= MAX_LOCK_TIMEOUT).then_some(timeout)
}

/// A lock timeout as a message shows it (the one duration formatter of trailseal).
pub(super) fn show_duration(d: Duration) -> String {
    trailseal_core::time::format_duration(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Whether `name` can be a schema name written into statements as it is: lowercase letters,
/// digits and `_`, at most 63 bytes (nothing to quote, nothing to escape).
pub(super) fn valid_schema(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db.example:5432/audit?schema=x"),
            "postgres://app:***@db.example:5432/audit?schema=x"
        );
        assert_eq!(
            redact_url("postgresql://db/audit?user=a&password=p"),
            "postgresql://db/audit?user=a&password=***"
        );
        assert_eq!(
            take_param("postgres://h/d?schema=s1&sslmode=disable", "schema"),
            ("postgres://h/d?sslmode=disable".into(), Some("s1".into()))
        );
        assert_eq!(
            take_param("postgres://h/d?lock_timeout=2s&schema=s1", "lock_timeout"),
            ("postgres://h/d?schema=s1".into(), Some("2s".into()))
        );
        // A parameter whose name only starts with the one taken is left alone.
        assert_eq!(
            take_param("postgres://h/d?lock_timeouts=2s", "lock_timeout"),
            ("postgres://h/d?lock_timeouts=2s".into(), None)
        );
        assert!(
            valid_schema("tenant_7") && !valid_schema("x; drop table") && !valid_schema("Upper")
        );
    }

    #[test]
    fn lock_timeouts() {
        assert_eq!(parse_lock_timeout("5s"), Some(Duration::from_secs(5)));
        assert_eq!(
            parse_lock_timeout("250ms"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_lock_timeout("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_lock_timeout("1d"), Some(Duration::from_secs(86_400)));
        for bad in [
            "",
            "0",
            "0s",
            "0ms",
            "5",
            "ms",
            "-1s",
            "1.5s",
            "5 s",
            "2d",
            "1d1s",
            "abc",
            "5sec",
            "99999999999999999999s",
            "+5s",
        ] {
            assert_eq!(parse_lock_timeout(bad), None, "{bad:?}");
        }
        assert_eq!(show_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(show_duration(DEFAULT_LOCK_TIMEOUT), "5s");
    }
}
