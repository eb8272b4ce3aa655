//! A job's computed status (spec §4.9) and its next fire across both schedule halves.

use super::Phase;
use crate::clock::Zone;
use crate::domain::nextfire::next_fire;
use crate::domain::run::RunState;
use crate::domain::schedule::{Role, ScheduleData};
use chrono::{DateTime, Utc};

/// The next instant either half fires after `after`, and which halves fire then.
pub fn next_for_job(
    basic: Option<&ScheduleData>,
    advanced: Option<&ScheduleData>,
    after: DateTime<Utc>,
    zone: &Zone,
) -> Option<(DateTime<Utc>, Vec<Role>)> {
    let b = basic.and_then(|s| next_fire(s, after, zone));
    let a = advanced.and_then(|s| next_fire(s, after, zone));
    match (b, a) {
        (Some(b), Some(a)) if a == b => Some((b, vec![Role::Basic, Role::Advanced])),
        (Some(b), Some(a)) if b < a => Some((b, vec![Role::Basic])),
        (Some(_), Some(a)) => Some((a, vec![Role::Advanced])),
        (Some(b), None) => Some((b, vec![Role::Basic])),
        (None, Some(a)) => Some((a, vec![Role::Advanced])),
        (None, None) => None,
    }
}

/// Spec §4.9: an active run shows its phase; otherwise a failed or canceled last run, a stop,
/// a pending schedule, a completed run, or nothing yet.
pub fn job_status(
    live: Option<Phase>,
    stopped: bool,
    has_next_run: bool,
    last_state: Option<RunState>,
) -> &'static str {
    match live {
        Some(Phase::Queued) => return "Preparing",
        Some(Phase::Running) => return "Processing",
        Some(Phase::Canceling) => return "Canceling",
        None => {}
    }
    match last_state {
        Some(RunState::Error | RunState::Interrupted) => return "Error",
        Some(RunState::Canceled) => return "Canceled",
        _ => {}
    }
    if stopped {
        "Canceled"
    } else if has_next_run {
        "Scheduled"
    } else if last_state.is_some_and(RunState::succeeded) {
        "Complete"
    } else {
        "Registered"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(
            job_status(Some(Phase::Running), false, true, Some(RunState::Error)),
            "Processing"
        );
        assert_eq!(
            job_status(None, false, true, Some(RunState::Error)),
            "Error"
        );
        assert_eq!(
            job_status(None, false, true, Some(RunState::Complete)),
            "Scheduled"
        );
        assert_eq!(
            job_status(None, false, false, Some(RunState::Warning)),
            "Complete"
        );
        assert_eq!(job_status(None, false, false, None), "Registered");
        assert_eq!(
            job_status(None, true, true, Some(RunState::Complete)),
            "Canceled"
        );
        assert_eq!(
            job_status(Some(Phase::Canceling), true, true, None),
            "Canceling"
        );
        assert_eq!(
            job_status(None, false, true, Some(RunState::Interrupted)),
            "Error"
        );
    }
}
