//! The vocabulary of runs: their states and kinds, stored as the strings of the `runs` table's
//! CHECK constraints (`sql/0002_runs.sql`) and never compared as strings elsewhere, so a typo is
//! a compile error instead of a silent `_ =>` arm.

use std::fmt;

/// Where a run (or a slot that did not run) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RunState {
    #[default]
    Queued,
    Running,
    Canceling,
    Complete,
    /// Complete, with warnings (files that vanished or changed while read, a failed script
    /// after the run, ...).
    Warning,
    Error,
    Canceled,
    /// The daemon stopped (or crashed) while the run was active.
    Interrupted,
    /// A schedule slot that passed while the daemon was down or could not run it.
    Missed,
    /// A schedule slot that fired while the job was still running (or being renamed).
    Skipped,
}

impl RunState {
    pub const ALL: [RunState; 10] = [
        RunState::Queued,
        RunState::Running,
        RunState::Canceling,
        RunState::Complete,
        RunState::Warning,
        RunState::Error,
        RunState::Canceled,
        RunState::Interrupted,
        RunState::Missed,
        RunState::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Canceling => "canceling",
            RunState::Complete => "complete",
            RunState::Warning => "warning",
            RunState::Error => "error",
            RunState::Canceled => "canceled",
            RunState::Interrupted => "interrupted",
            RunState::Missed => "missed",
            RunState::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<RunState> {
        RunState::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Still to finish.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            RunState::Queued | RunState::Running | RunState::Canceling
        )
    }

    /// Finished states that count as the job's last result.
    pub fn is_result(self) -> bool {
        matches!(
            self,
            RunState::Complete
                | RunState::Warning
                | RunState::Error
                | RunState::Canceled
                | RunState::Interrupted
        )
    }

    /// A restore point was written.
    pub fn succeeded(self) -> bool {
        matches!(self, RunState::Complete | RunState::Warning)
    }
}

impl serde::Serialize for RunState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl serde::Serialize for RunKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a run wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunKind {
    Full,
    Incremental,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Full => "full",
            RunKind::Incremental => "incremental",
        }
    }

    pub fn parse(s: &str) -> Option<RunKind> {
        match s {
            "full" => Some(RunKind::Full),
            "incremental" => Some(RunKind::Incremental),
            _ => None,
        }
    }
}

impl fmt::Display for RunKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_the_table() {
        let check = include_str!("../../sql/0004_ids.sql");
        for s in RunState::ALL {
            assert_eq!(RunState::parse(s.as_str()), Some(s));
            assert!(check.contains(&format!("'{}'", s.as_str())), "{s}");
        }
        for k in [RunKind::Full, RunKind::Incremental] {
            assert_eq!(RunKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(RunState::parse("COMPLETE"), None);
    }
}
