//! Answers of monitoring and run history (spec §4.5-4.7).

use super::jobs::RunTimes;
use crate::api::envelope::envelope;
use crate::domain::ids::{JobId, RunId};
use crate::domain::run::RunState;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SystemName {
    pub name: String,
}

/// Progress of the running run (all fields) or of the last one (no `bytesTotal`, rate, ...).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgressInfo {
    /// The job's status (spec §4.9).
    pub status: String,
    /// `42%`.
    pub percent: String,
    /// The newest log line, the last run's error, or `no run yet`.
    pub message: String,
    pub start: String,
    pub end: String,
    pub elapsed: String,
    #[schema(value_type = Option<i64>)]
    pub history_id: Option<RunId>,
    pub bytes_done: u64,
    pub files_done: u64,
    /// `COMPLETE`, `FAILED`, ... or `-` (last run only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// `scanning`, `copying`, ... (running only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files_total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_per_second: Option<u64>,
    /// `HH:MM:SS` or `-`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_path: Option<String>,
    /// `scheduled`, `manual`, ... (running only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MonitoredJobInfo {
    pub id: String,
    pub name: String,
    pub mode: String,
    pub partition: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoredJob {
    pub info: MonitoredJobInfo,
    pub progress_info: ProgressInfo,
    /// The run's log lines.
    pub log: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobMonitoring {
    pub job: MonitoredJob,
    pub system: SystemName,
}

envelope!(JobMonitoringEnvelope, JobMonitoring, "One job's progress.");

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringSummary {
    pub total: u64,
    pub completed: u64,
    pub failed: u64,
    pub in_progress: u64,
    pub pending: u64,
    pub overall_progress: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SystemMonitoring {
    pub job: Vec<MonitoredJob>,
    pub summary: MonitoringSummary,
    pub system: SystemName,
    /// The page of `job` (when `page` or `limit` was given); `summary` counts every job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination: Option<crate::api::envelope::Pagination>,
}

envelope!(
    SystemMonitoringEnvelope,
    SystemMonitoring,
    "Every job of the server."
);

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryJob {
    #[schema(value_type = i64)]
    pub id: JobId,
    pub name: String,
    pub drive: String,
    pub backup_type: String,
    pub repository_path: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryRun {
    /// `scheduled`, `manual`, `auto-start`, `catch-up`, ...
    pub trigger: String,
    /// `complete`, `failed`, `canceled`, `interrupted`, `missed`, `skipped`, `running`, ...
    #[schema(value_type = String)]
    pub state: RunState,
    /// `full`, `increment` or `-`.
    pub kind: String,
    /// The schedule slot this run was for, or `-`.
    pub due: String,
    pub restore_point: String,
    /// File content the restore point holds.
    pub bytes: Option<i64>,
    /// Bytes the restore point occupies in the repository.
    pub stored_bytes: Option<i64>,
    pub files: Option<i64>,
    pub warnings: Vec<String>,
    pub error: String,
    pub script: String,
    pub mail: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryResult {
    pub status: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryItem {
    #[schema(value_type = i64)]
    pub id: RunId,
    pub job: HistoryJob,
    pub system: SystemName,
    pub run: HistoryRun,
    pub result: HistoryResult,
    pub time: RunTimes,
    /// On a single history entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<Vec<String>>,
}

envelope!(HistoryEnvelope, HistoryItem, "One run.");

envelope!(HistoryListEnvelope, Vec<HistoryItem>, "Runs.");
