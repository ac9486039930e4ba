//! Filters for listing traces.

use trailseal_core::{Outcome, Timestamp, TraceSummary};

/// Which traces to list. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub principal: Option<String>,
    pub capability: Option<String>,
    /// Only traces with this outcome (denials are not failures).
    pub outcome: Option<Outcome>,
    /// Inclusive lower bound on `invoked_at`.
    pub since: Option<Timestamp>,
    /// Exclusive upper bound on `invoked_at`.
    pub until: Option<Timestamp>,
    /// At most this many traces.
    pub limit: Option<usize>,
}

impl Filter {
    /// Whether a trace passes the filter. With a time bound, a trace whose `invoked_at`
    /// cannot be read does not pass.
    pub fn matches(&self, t: &TraceSummary) -> bool {
        if self
            .principal
            .as_ref()
            .is_some_and(|p| t.principal_id.as_ref() != Some(p))
        {
            return false;
        }
        if self
            .capability
            .as_ref()
            .is_some_and(|c| t.capability_id.as_ref() != Some(c))
        {
            return false;
        }
        if self.outcome.is_some_and(|o| o != t.outcome) {
            return false;
        }
        if let Some(since) = self.since
            && t.invoked_at_ts.is_none_or(|ts| ts < since)
        {
            return false;
        }
        if let Some(until) = self.until
            && t.invoked_at_ts.is_none_or(|ts| ts >= until)
        {
            return false;
        }
        true
    }
}

/// A listed trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    pub seq: u64,
    pub summary: TraceSummary,
    /// The trace in canonical form.
    pub trace: String,
}
