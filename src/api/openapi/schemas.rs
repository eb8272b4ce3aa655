//! The shapes of request bodies and answers, for the OpenAPI document only.
//!
//! The handlers validate raw JSON themselves (field-by-field errors, golden messages) and build
//! their answers with `json!`, so these types are never constructed. They cannot drift
//! silently: the tests in `super` compare every request body's fields with the lists the
//! handlers accept, and CI (`.ci/fuzz-api`) runs schemathesis against a live daemon, which
//! fails on any answer that does not match these schemas.
#![allow(dead_code)]

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The answer envelope of a success (spec §1.2), one per `data` type.
macro_rules! envelope {
    ($name:ident, $data:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Serialize, ToSchema)]
        pub struct $name {
            /// Also sent as the `X-Request-ID` header.
            #[serde(rename = "requestID")]
            pub request_id: String,
            pub success: bool,
            pub message: String,
            pub data: $data,
            /// Present only when `page` or `limit` was given.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub pagination: Option<Pagination>,
            /// `YYYY-MM-DD HH:mm:ss` in the configured zone.
            pub timestamp: String,
        }
    };
}

/// Every failure: `success` is false, `error` says what went wrong.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    #[serde(rename = "requestID")]
    pub request_id: String,
    pub success: bool,
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<ErrorDetail>,
    pub timestamp: String,
}

/// Machine-readable detail of a failure.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Field path -> every problem with that field (decision D3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_errors: Option<BTreeMap<String, Vec<String>>>,
    /// Per-partition outcome when no job of a registration could be created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<RegisterResult>>,
    /// `FAIL` for a failed repository verification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// The verification step that failed (`exists`, `write`, `fsync`, `rename`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub current_page: u64,
    pub total_pages: u64,
    pub total_items: u64,
    pub items_per_page: u64,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

/// An ID (number or digit string) or a name.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum IdOrName {
    Id(i64),
    Name(String),
}

/// A number, or a string of digits.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum Number {
    Number(i64),
    Text(String),
}

// ---------------------------------------------------------------- auth

#[derive(Serialize, ToSchema)]
pub struct TokenRequest {
    #[schema(example = "admin@localhost")]
    pub email: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: String,
}
envelope!(TokenEnvelope, Token, "A new token.");

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub version: String,
}
envelope!(HealthEnvelope, Health, "The daemon is serving.");

// ---------------------------------------------------------------- schedules

/// Schedule values (spec §3.2); which keys a type takes is in §3.1. All values are strings.
#[derive(Serialize, ToSchema)]
pub struct ScheduleValues {
    /// `2026` (type 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<String>,
    /// `1`-`12`, comma-separated for several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub month: Option<String>,
    /// `1`-`5` (5 = last week), comma-separated for several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub week: Option<String>,
    /// Weekdays `mon`..`sun` or dates `1`-`31`, comma-separated for several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
    /// `HH:mm`.
    #[schema(example = "02:00")]
    pub time: String,
    /// `{"minute": "5"}` (type 1) or `{"hour": "2"}` (type 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
}

#[derive(Serialize, ToSchema)]
pub struct Interval {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minute: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hour: Option<String>,
}

/// Values inline, or the ID of a schedule record to copy.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ScheduleSlot {
    Values(ScheduleValues),
    Id(i64),
}

/// Schedule type: 0-11, its number as a string, or its display name.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ScheduleType {
    Number(i64),
    Name(String),
}

/// An inline schedule (spec §2.3); `advanced` is required for the smart types 7-11.
#[derive(Serialize, ToSchema)]
pub struct InlineSchedule {
    #[serde(rename = "type")]
    pub kind: ScheduleType,
    pub basic: ScheduleSlot,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advanced: Option<ScheduleSlot>,
}

/// An inline schedule, or the ID of a schedule record whose basic part is copied.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ScheduleRefOrInline {
    Inline(Box<InlineSchedule>),
    Id(i64),
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleCreate {
    pub center: IdOrName,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<IdOrName>,
    /// A label stored with the schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    #[serde(rename = "type")]
    pub kind: ScheduleType,
    pub basic: ScheduleValues,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advanced: Option<ScheduleValues>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedSchedule {
    pub id: String,
    /// 0-11.
    #[serde(rename = "type")]
    pub kind: i64,
    /// 1 enabled, 0 disabled.
    pub state: i64,
    pub description: String,
}

#[derive(Serialize, ToSchema)]
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

#[derive(Serialize, ToSchema)]
pub struct CenterRef {
    pub id: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
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

#[derive(Serialize, ToSchema)]
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

// ---------------------------------------------------------------- backups

/// Where a job writes (registration, update). `path` is a directory on this host.
#[derive(Serialize, ToSchema)]
pub struct RepositoryRef {
    /// A registered repository's ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Number>,
    /// `nfs` or `smb`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// A string, or (in `individual` only) a list of strings.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum StringOrList {
    One(String),
    Many(Vec<String>),
}

/// Options every registration, `individual` entry and update may set.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommonOptions {
    /// Restore points to keep, 1-30 (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<Number>,
    /// `use` or `not use`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// `use` or `not use`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
    /// E-mail address told about finished and missed runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_event: Option<String>,
    /// MiB/s, 0 = unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_limit: Option<Number>,
    /// `use` = run once right after registration (kept with the job on update).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_start: Option<String>,
    /// A root-owned script not writable by others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_path: Option<String>,
    /// `before` or `after`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_run: Option<String>,
}

/// Per-partition overrides (spec §2.2); omitted fields fall back to the top level.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IndividualOverride {
    pub partition: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub center: Option<IdOrName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<IdOrName>,
    /// `full`, `increment` or `smart`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<RepositoryRef>,
    /// Used verbatim (no partition suffix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleRefOrInline>,
    /// Accepted and ignored (1.3.1 clients send it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(flatten)]
    pub options: CommonOptions,
    /// Comma-separated directories not to back up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclude_dir: Option<StringOrList>,
    /// Comma-separated partitions to drop from `partition`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclude_partition: Option<StringOrList>,
}

/// `POST /api/backups` (spec §2.1): one job per partition.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    pub center: IdOrName,
    pub server: IdOrName,
    /// `full`, `increment` or `smart` (smart needs a smart schedule).
    #[serde(rename = "type")]
    pub mode: String,
    /// Mount points; `[]` = every partition of the server.
    pub partition: Vec<String>,
    pub repository: RepositoryRef,
    /// Base name; a partition suffix is appended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<IdOrName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleRefOrInline>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub individual: Option<Vec<IndividualOverride>>,
    #[serde(flatten)]
    pub options: CommonOptions,
    /// Comma-separated directories not to back up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclude_dir: Option<String>,
    /// Comma-separated partitions to drop from `partition`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclude_partition: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ScheduleSummary {
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
}

#[derive(Serialize, ToSchema)]
pub struct RegisteredSchedule {
    pub basic: ScheduleSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advanced: Option<ScheduleSummary>,
}

/// One partition's outcome; `state` is `success` or `fail` (then `errorMessage`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterResult {
    pub state: String,
    pub job_name: String,
    pub partition: String,
    pub job_mode: String,
    pub auto_start: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<RegisteredSchedule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_run_timing: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RegisterSummary {
    pub total: u64,
    pub successful: u64,
    pub failed: u64,
}

#[derive(Serialize, ToSchema)]
pub struct Registered {
    pub summary: RegisterSummary,
    pub results: Vec<RegisterResult>,
}
envelope!(
    RegisteredEnvelope,
    Registered,
    "At least one job was created."
);

/// `PUT`/`PATCH /api/backups/{identifier}` (spec §4.3): only the fields present change.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRequest {
    /// New job name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_name: Option<String>,
    /// `full`, `increment` or `smart`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// `start` runs now (and resumes the schedule), `stop` cancels and holds the schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleRefOrInline>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<RepositoryRef>,
    #[serde(flatten)]
    pub options: CommonOptions,
    /// Comma-separated directories not to back up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclude_dir: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UpdatedField {
    pub field: String,
    pub previous: Value,
    pub new: Value,
}

#[derive(Serialize, ToSchema)]
pub struct JobRef {
    pub id: String,
    pub name: String,
    pub partition: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateSummary {
    pub state: String,
    pub updated_fields: Vec<UpdatedField>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Updated {
    pub job_info: Vec<JobRef>,
    pub summary: UpdateSummary,
}
envelope!(
    UpdatedEnvelope,
    Updated,
    "What changed (`previous` and `new` per field)."
);

#[derive(Serialize, ToSchema)]
pub struct RunTimes {
    pub start: String,
    pub end: String,
    /// `HH:MM:SS` or `-`.
    pub elapsed: String,
}

#[derive(Serialize, ToSchema)]
pub struct JobStatus {
    /// `Scheduled`, `Waiting`, `Running`, `Canceling`, `Canceled`, `Completed`, `Error`, ...
    pub current: String,
    pub time: RunTimes,
}

#[derive(Serialize, ToSchema)]
pub struct JobSchedulePart {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
}

/// A schedule part, or `-` when there is none.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum JobSchedulePartOrDash {
    Part(JobSchedulePart),
    Dash(String),
}

#[derive(Serialize, ToSchema)]
pub struct JobSchedule {
    pub basic: JobSchedulePartOrDash,
    pub advanced: JobSchedulePartOrDash,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastRun {
    pub history_id: i64,
    /// `full` or `increment`.
    pub kind: String,
    /// `COMPLETE`, `FAILED`, `CANCELED`, ...
    pub result: String,
    pub start: String,
    pub end: String,
    pub restore_point: String,
    pub error: String,
}

/// The last finished run, or `-`.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum LastRunOrDash {
    Run(LastRun),
    Dash(String),
}

#[derive(Serialize, ToSchema)]
pub struct Notification {
    pub mail: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobOptionsView {
    pub rotation: String,
    pub compression: String,
    pub encryption: String,
    pub exclude_dir: String,
    pub network_speed: String,
    pub auto_start: String,
    pub script_path: String,
    pub script_run_timing: String,
    pub notification: Notification,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobInfo {
    pub id: String,
    pub name: String,
    /// `full`, `increment` or `smart`.
    pub mode: String,
    pub partition: String,
    pub schedule: JobSchedule,
    pub status: JobStatus,
    /// `YYYY-MM-DD HH:mm:ss` or `-`.
    pub next_run: String,
    pub last_run: LastRunOrDash,
    /// With `detail=true` and on a single job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<JobOptionsView>,
    /// With `detail=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_point_count: Option<u64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestorePoint {
    pub id: String,
    /// `full` or `increment`.
    pub kind: String,
    pub created_at: String,
    /// The point this increment is based on.
    pub parent: Option<String>,
    pub entries: u64,
    /// File content the point restores (its whole chain).
    pub source_bytes: u64,
    /// Bytes the point occupies in the repository: archive and catalog as written
    /// (compressed, encrypted), plus the manifest.
    pub stored_bytes: u64,
    /// File content this point's own archive holds (an increment: what changed).
    pub archived_bytes: u64,
    pub compressed: bool,
    pub encrypted: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobBlock {
    pub info: JobInfo,
    pub last_updated: String,
    /// On a single job: every authenticated restore point in the repository, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_points: Option<Vec<RestorePoint>>,
    /// On a single job: directories of the job that cannot be used as restore points
    /// (damaged, or not authenticated by this host's key), with the reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_points: Option<Vec<RejectedPoint>>,
}

#[derive(Serialize, ToSchema)]
pub struct RejectedPoint {
    pub id: String,
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct JobRepository {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub path: String,
}

#[derive(Serialize, ToSchema)]
pub struct JobSystem {
    pub id: String,
    pub name: String,
    pub os: String,
}

#[derive(Serialize, ToSchema)]
pub struct JobItem {
    pub job: JobBlock,
    pub repository: JobRepository,
    pub system: JobSystem,
}
envelope!(JobEnvelope, JobItem, "One backup job.");
envelope!(JobListEnvelope, Vec<JobItem>, "Backup jobs.");

#[derive(Serialize, ToSchema)]
pub struct RestorePointsKept {
    pub kept: bool,
    pub path: String,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletedComponents {
    pub basic_info: bool,
    pub detail_info: bool,
    pub history_data: bool,
    pub log_data: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletedJob {
    pub name: String,
    pub partition: String,
    pub deleted_components: DeletedComponents,
    pub restore_points: RestorePointsKept,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AffectedComponents {
    pub basic_info_deleted: u64,
    pub detail_info_deleted: u64,
    pub history_data_deleted: u64,
    pub log_data_deleted: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteSummary {
    pub state: String,
    pub affected_components: AffectedComponents,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    pub job_info: Vec<DeletedJob>,
    pub summary: DeleteSummary,
}
envelope!(
    DeletedEnvelope,
    Deleted,
    "The job is gone; its restore points stay."
);

// ---------------------------------------------------------------- monitoring and history

#[derive(Serialize, ToSchema)]
pub struct SystemName {
    pub name: String,
}

/// Progress of the running run (all fields) or of the last one (no `bytesTotal`, rate, ...).
#[derive(Serialize, ToSchema)]
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
    pub history_id: Option<i64>,
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

#[derive(Serialize, ToSchema)]
pub struct MonitoredJobInfo {
    pub id: String,
    pub name: String,
    pub mode: String,
    pub partition: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoredJob {
    pub info: MonitoredJobInfo,
    pub progress_info: ProgressInfo,
    /// The run's log lines.
    pub log: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct JobMonitoring {
    pub job: MonitoredJob,
    pub system: SystemName,
}
envelope!(JobMonitoringEnvelope, JobMonitoring, "One job's progress.");

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringSummary {
    pub total: u64,
    pub completed: u64,
    pub failed: u64,
    pub in_progress: u64,
    pub pending: u64,
    pub overall_progress: String,
}

#[derive(Serialize, ToSchema)]
pub struct SystemMonitoring {
    pub job: Vec<MonitoredJob>,
    pub summary: MonitoringSummary,
    pub system: SystemName,
}
envelope!(
    SystemMonitoringEnvelope,
    SystemMonitoring,
    "Every job of the server."
);

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryJob {
    pub id: i64,
    pub name: String,
    pub drive: String,
    pub backup_type: String,
    pub repository_path: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryRun {
    /// `scheduled`, `manual`, `auto-start`, `catch-up`, ...
    pub trigger: String,
    /// `complete`, `failed`, `canceled`, `interrupted`, `missed`, `skipped`, `running`, ...
    pub state: String,
    /// `full`, `increment` or `-`.
    pub kind: String,
    /// The schedule slot this run was for, or `-`.
    pub due: String,
    pub restore_point: String,
    /// File content the restore point holds.
    pub bytes: Option<u64>,
    /// Bytes the restore point occupies in the repository.
    pub stored_bytes: Option<u64>,
    pub files: Option<u64>,
    pub warnings: Vec<String>,
    pub error: String,
    pub script: String,
    pub mail: String,
}

#[derive(Serialize, ToSchema)]
pub struct HistoryResult {
    pub status: String,
    pub description: String,
}

#[derive(Serialize, ToSchema)]
pub struct HistoryItem {
    pub id: i64,
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

// ---------------------------------------------------------------- servers and centers

#[derive(Serialize, ToSchema)]
pub struct Size {
    pub raw: u64,
    pub formatted: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Partition {
    /// Mount point.
    pub letter: String,
    pub device: String,
    pub file_system: String,
    pub size: Size,
    pub used: Size,
    pub free: Size,
    /// Percent used.
    pub usage: f64,
    pub last_updated: String,
    /// Server name (on the partition lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
}
envelope!(PartitionListEnvelope, Vec<Partition>, "Partitions.");

#[derive(Serialize, ToSchema)]
pub struct IpAddresses {
    pub public: String,
    pub private: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Agent {
    pub mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OsVersion {
    pub version: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    pub cpu_count: String,
    pub kernel: String,
}

#[derive(Serialize, ToSchema)]
pub struct Connect {
    pub connect: String,
}

#[derive(Serialize, ToSchema)]
pub struct License {
    pub id: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Server {
    pub id: String,
    pub name: String,
    pub os: OsVersion,
    pub ip: IpAddresses,
    pub agent: Agent,
    pub license: License,
    pub status: Connect,
    pub last_updated: String,
    /// With `detail=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// With `partition=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<Vec<Partition>>,
    /// With `repository=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<Vec<Repository>>,
}
envelope!(ServerEnvelope, Server, "This host.");
envelope!(
    ServerListEnvelope,
    Vec<Server>,
    "This host (the only server)."
);

#[derive(Serialize, ToSchema)]
pub struct CenterNames {
    pub center: String,
    pub host: String,
}

#[derive(Serialize, ToSchema)]
pub struct CenterIds {
    pub center: String,
    pub install: String,
    pub machine: String,
}

#[derive(Serialize, ToSchema)]
pub struct CenterStatus {
    pub connect: String,
    pub activate: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CenterPaths {
    pub install: String,
    pub log_file: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Center {
    pub id: CenterIds,
    pub name: CenterNames,
    pub os: OsVersion,
    pub ip: IpAddresses,
    pub status: CenterStatus,
    pub path: CenterPaths,
    pub last_updated: String,
    /// With `partition=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<Vec<Partition>>,
    /// With `repository=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<Vec<Repository>>,
    /// With `zosRepository=true`: always empty here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zos_repository: Option<Vec<Value>>,
}
envelope!(CenterEnvelope, Center, "This appliance.");
envelope!(
    CenterListEnvelope,
    Vec<Center>,
    "This appliance (the only center)."
);

// ---------------------------------------------------------------- repositories

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Repository {
    pub id: String,
    /// Center name.
    pub center: String,
    /// `NFS` or `SMB`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Bytes; null when the repository is not reachable as a directory here.
    pub size: Option<u64>,
    pub used: Option<u64>,
    pub free: Option<u64>,
    pub usage: Option<f64>,
    pub free_formatted: String,
    pub remote_path: String,
    pub local_path: String,
    pub remote_user: String,
    pub ip_address: Vec<String>,
    pub port: String,
    pub last_updated: String,
}
envelope!(RepositoryListEnvelope, Vec<Repository>, "Repositories.");

/// `POST /api/zdms/repositories`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryCreate {
    pub center: IdOrName,
    /// `nfs` or `smb`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The share or directory (`path` or `remotePath`; one is required).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_path: Option<String>,
    /// Where the share is mounted on this host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<Number>,
    /// SMB user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// SMB password: stored in a 0600 file, never returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<IdOrName>,
}

/// `POST /api/zdms/repositories/verify`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryVerify {
    pub center: IdOrName,
    /// `nfs` or `smb`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The share or directory (`path` or `remotePath`; one is required).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_path: Option<String>,
    /// Where the share is mounted on this host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<IdOrName>,
}

#[derive(Serialize, ToSchema)]
pub struct RepositoryCreated {
    pub id: i64,
    /// `NFS` or `SMB`.
    #[serde(rename = "type")]
    pub kind: String,
    pub path: String,
}
envelope!(
    RepositoryCreatedEnvelope,
    RepositoryCreated,
    "The new repository."
);

/// `PUT /api/zdms/repositories/{id}`: at least one field besides `center`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub center: Option<IdOrName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_user: Option<String>,
    /// Masked as `********` in the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_pwd: Option<String>,
    /// IPv4 address added to the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<Number>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryInfo {
    pub id: i64,
    pub center_name: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryUpdated {
    pub repository_info: RepositoryInfo,
    pub summary: UpdateSummary,
}
envelope!(
    RepositoryUpdatedEnvelope,
    RepositoryUpdated,
    "What changed."
);

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryDeleted {
    pub id: i64,
    pub center_name: String,
    pub remote_path: String,
    pub local_path: String,
}
envelope!(
    RepositoryDeletedEnvelope,
    RepositoryDeleted,
    "The deleted repository (its files are kept)."
);

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Verified {
    pub path: String,
    /// The directory that was checked.
    pub checked_path: String,
    /// `SUCCESS`.
    pub result: String,
    /// The steps that passed, in order.
    pub checks: Vec<String>,
    pub size: Size,
    pub free: Size,
}
envelope!(
    VerifiedEnvelope,
    Verified,
    "The repository is usable: every step passed."
);

envelope!(UserEnvelope, crate::api::users::UserItem, "One user.");
envelope!(
    UserListEnvelope,
    Vec<crate::api::users::UserItem>,
    "Users, newest first unless `sort=asc`."
);
