//! The one place trailseal reads the clock: the library takes the time as an argument
//! everywhere (so tests can fix it); callers get it here.

use trailseal_core::Timestamp;

/// The current time (microseconds since the Unix epoch; a clock before 1970 reads as the
/// epoch, one past the year 294247 as the largest timestamp).
pub fn now() -> Timestamp {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    Timestamp::from_unix_micros(micros)
}
