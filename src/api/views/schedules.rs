//! Answers of the schedule endpoints (spec §3).

use crate::api::envelope::envelope;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedSchedule {
    pub id: String,
    /// 0-11.
    #[serde(rename = "type")]
    #[schema(value_type = i64)]
    pub kind: crate::domain::schedule::ScheduleKind,
    /// 1 enabled, 0 disabled.
    pub state: i64,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedSchedules {
    pub basic: CreatedSchedule,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advanced: Option<CreatedSchedule>,
}

envelope!(
    CreatedSchedulesEnvelope,
    CreatedSchedules,
    "The new schedule record(s)."
);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CenterRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleItem {
    pub id: String,
    pub center: CenterRef,
    /// Display name (`Daily`, `Smart Weekly (Specific Day of the Week)`, ...) or `Unknown`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `Enabled`, `Disabled` or `Unknown`.
    pub state: String,
    pub job_name: String,
    /// Time of the last slot handled, or `-`.
    pub last_run_time: String,
    pub description: String,
}

envelope!(ScheduleEnvelope, ScheduleItem, "One schedule record.");

envelope!(
    ScheduleListEnvelope,
    Vec<ScheduleItem>,
    "Schedule records, newest first unless `sort=asc`."
);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeletedSchedule {
    pub id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
}

envelope!(
    DeletedScheduleEnvelope,
    DeletedSchedule,
    "The deleted schedule record."
);
