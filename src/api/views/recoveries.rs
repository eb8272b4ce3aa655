//! Answers of `/api/recoveries` (RECOVERIES.md §4.4-4.5): the vendor's shapes with the
//! extension fields for file-level restore.

use crate::api::envelope::{envelope, Pagination};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryScheduleRef {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredCommon {
    /// `success` or `fail`.
    pub state: String,
    pub job_name: String,
    /// `use` or `not use`.
    pub auto_start: String,
    pub platform: String,
    pub boot_mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<RecoveryScheduleRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_run_timing: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupSource {
    /// `"true"` when the newest point is taken when the run starts.
    pub use_latest: String,
    /// The point id (for `useLatest`, the point that is newest now).
    pub backup_file: String,
    pub backup_job: String,
    /// When that point was written.
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RepositoryRefView {
    pub id: i64,
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredPartition {
    /// `success` or `fail`.
    pub state: String,
    pub source_partition: String,
    /// The target directory.
    pub target_partition: String,
    pub job_mode: String,
    /// `allow` or `not allow`.
    pub overwrite: String,
    pub overwrite_policy: String,
    /// File system of the target directory.
    pub file_system: String,
    pub paths: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<RepositoryRefView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecoverySummary {
    pub total: u64,
    pub successful: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegisteredRecovery {
    /// The new recovery job's ID.
    pub id: i64,
    pub common: RegisteredCommon,
    pub partitions: Vec<RegisteredPartition>,
    pub summary: RecoverySummary,
}

envelope!(
    RegisteredRecoveryEnvelope,
    RegisteredRecovery,
    "The recovery job as registered, one entry per partition."
);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SystemSide {
    pub id: String,
    pub name: String,
    pub os: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecoverySystem {
    pub source: SystemSide,
    pub target: SystemSide,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusTime {
    pub start: String,
    pub elapsed: String,
    pub end: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecoveryStatus {
    /// Registered, Scheduled, Preparing, Processing, Canceling, Canceled, Complete or Error.
    pub current: String,
    pub time: StatusTime,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScheduleBasic {
    pub basic: Option<RecoveryScheduleRef>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScriptView {
    pub path: String,
    pub run: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecoveryNotification {
    pub mail: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryInfo {
    pub id: String,
    pub name: String,
    pub schedule: ScheduleBasic,
    pub status: RecoveryStatus,
    pub last_updated: String,
    pub platform: String,
    /// MiB/s read from the repository; 0 = unlimited.
    pub network_speed: u32,
    pub script: Option<ScriptView>,
    pub after_reboot: String,
    pub notification: RecoveryNotification,
    /// When the schedule fires next, or null.
    pub next_run: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DetailBackup {
    #[serde(rename = "jobName")]
    pub job_name: String,
    /// The point id, or `latest`.
    #[serde(rename = "fileName")]
    pub file_name: String,
    /// `use` when the newest point is taken at run time.
    pub latest: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DetailOption {
    /// `Overwritten` or `Not overwritten`.
    pub overwrite: String,
    pub file_system: String,
    pub overwrite_policy: String,
    pub paths: Vec<String>,
    pub exclude_paths: Vec<String>,
    /// `original` or `flat`.
    pub layout: String,
    pub delete: bool,
    /// `use` or `not use`.
    pub verify: String,
    /// `use` or `not use`.
    pub retain_target: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryDetail {
    pub from: String,
    pub to: String,
    pub target_device: String,
    pub mode: String,
    pub backup: DetailBackup,
    pub repository: RepositoryRefView,
    pub last_updated: String,
    pub option: DetailOption,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecoveryJobView {
    pub info: RecoveryInfo,
    pub detail: Vec<RecoveryDetail>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecoveryItem {
    pub system: RecoverySystem,
    pub job: RecoveryJobView,
}

envelope!(
    RecoveryListEnvelope,
    Vec<RecoveryItem>,
    "Recovery jobs, vendor shape plus the file-restore options."
);
envelope!(RecoveryItemEnvelope, RecoveryItem, "One recovery job.");

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecoveryUpdatedField {
    pub field: String,
    pub previous: String,
    pub new: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartUpdate {
    pub partition: String,
    pub summary: PartUpdateSummary,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartUpdateSummary {
    pub state: String,
    pub common_updated_fields: Vec<RecoveryUpdatedField>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryUpdateSummary {
    pub state: String,
    pub common_updated_fields: Vec<RecoveryUpdatedField>,
    pub each_updated_fields: Vec<PartUpdate>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobInfoRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryUpdated {
    pub job_info: JobInfoRef,
    pub summary: RecoveryUpdateSummary,
}

envelope!(
    RecoveryUpdatedEnvelope,
    RecoveryUpdated,
    "What the update changed, with previous and new values."
);

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryDeletedParts {
    pub basic_info: bool,
    pub additional_info: bool,
    pub detail_info: bool,
    pub history_data: bool,
    pub log_data: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryDeletedJob {
    pub name: String,
    pub partition: String,
    pub deleted_components: RecoveryDeletedParts,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryAffected {
    pub basic_info_deleted: u64,
    pub additional_info_deleted: u64,
    pub detail_info_deleted: u64,
    pub history_data_deleted: u64,
    pub log_data_deleted: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryDeleteSummary {
    pub state: String,
    pub affected_components: RecoveryAffected,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryDeleted {
    pub job_info: Vec<RecoveryDeletedJob>,
    pub summary: RecoveryDeleteSummary,
}

envelope!(
    RecoveryDeletedEnvelope,
    RecoveryDeleted,
    "The deleted job; its history rows and the restored files are kept."
);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Amount {
    pub done: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FileAmount {
    pub done: u64,
    pub total: u64,
    pub skipped: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecoveryProgress {
    pub status: String,
    /// Bytes written / bytes to write, `45%`.
    pub percent: String,
    pub message: String,
    pub start: String,
    pub elapsed: String,
    pub end: String,
    pub bytes: Amount,
    pub files: FileAmount,
    /// `48.2 MiB/s`, or `-`.
    pub rate: String,
    /// `00:03:10`, or `-`.
    pub eta: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoredPartition {
    pub partition: String,
    pub target: String,
    pub progress_info: RecoveryProgress,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NameOnly {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MonitoredSystem {
    pub source: NameOnly,
    pub target: NameOnly,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecoveryMonitoredInfo {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecoveryMonitoredJob {
    pub info: RecoveryMonitoredInfo,
    /// The newest lines of the run's log.
    pub log: Vec<String>,
    pub details: Vec<MonitoredPartition>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecoveryMonitor {
    pub system: MonitoredSystem,
    pub job: RecoveryMonitoredJob,
}

envelope!(
    RecoveryMonitorEnvelope,
    RecoveryMonitor,
    "Progress of a recovery job's current or last run."
);

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitorSummary {
    pub total: u64,
    pub completed: u64,
    pub in_progress: u64,
    pub failed: u64,
    pub pending: u64,
    pub overall_progress: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SystemMonitor {
    pub summary: MonitorSummary,
    pub jobs: Vec<RecoveryMonitor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

envelope!(
    SystemMonitorEnvelope,
    SystemMonitor,
    "Every recovery job of the server with its progress."
);

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryHistoryJob {
    pub name: String,
    pub id: Option<i64>,
    pub recovery_system_name: String,
    pub recover_drive: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryStats {
    pub files: i64,
    pub bytes: i64,
    pub skipped: i64,
    pub errors: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryVerify {
    /// `ok`, `mismatch` or `not used`.
    pub status: String,
    pub mismatches: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryBackup {
    pub job_name: String,
    /// The point restored (several partitions: comma-separated).
    pub file_name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecoveryHistoryResult {
    /// `COMPLETE` or `FAIL` (a run still going: `RUNNING`).
    pub status: String,
    pub description: String,
    pub stats: HistoryStats,
    pub verify: HistoryVerify,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecoveryHistoryItem {
    pub id: i64,
    pub system: NameOnly,
    pub job: RecoveryHistoryJob,
    pub result: RecoveryHistoryResult,
    pub backup: Vec<HistoryBackup>,
    pub trigger: String,
    pub time: StatusTime,
}

envelope!(
    RecoveryHistoryListEnvelope,
    Vec<RecoveryHistoryItem>,
    "Runs of recovery jobs, newest first unless `sort=asc`."
);
/// One run (a history ID was given) or every run of a job (a name was given).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum HistoryAnswer {
    One(Box<RecoveryHistoryItem>),
    Many(Vec<RecoveryHistoryItem>),
}

envelope!(
    RecoveryHistoryEnvelope,
    HistoryAnswer,
    "One run of a recovery job, or the runs of one job."
);
