//! Answers of the job endpoints: the job view (spec §4.1-4.2), update (§4.3) and delete (§4.4).

use crate::api::envelope::envelope;
use crate::domain::ids::RunId;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UpdatedField {
    pub field: &'static str,
    pub previous: Value,
    pub new: Value,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobRef {
    pub id: String,
    pub name: String,
    pub partition: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateSummary {
    pub state: String,
    pub updated_fields: Vec<UpdatedField>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
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

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunTimes {
    pub start: String,
    pub end: String,
    /// `HH:MM:SS` or `-`.
    pub elapsed: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobStatus {
    /// `Scheduled`, `Waiting`, `Running`, `Canceling`, `Canceled`, `Completed`, `Error`, ...
    pub current: String,
    pub time: RunTimes,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobSchedulePart {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
}

/// A schedule part, or `-` when there is none.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum JobSchedulePartOrDash {
    Part(JobSchedulePart),
    Dash(String),
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobSchedule {
    pub basic: JobSchedulePartOrDash,
    pub advanced: JobSchedulePartOrDash,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastRun {
    #[schema(value_type = i64)]
    pub history_id: RunId,
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
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LastRunOrDash {
    Run(LastRun),
    Dash(String),
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Notification {
    pub mail: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
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

#[derive(Debug, Clone, Serialize, ToSchema)]
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
    /// With `detail=true`: null for a share no run has listed yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u64>)]
    pub restore_point_count: Option<Option<u64>>,
    /// The newest verifying recovery (restore drill) of the job, or null.
    pub last_restore_test: Option<super::images::RestoreTest>,
    /// `ok`, `failed`, `stale` (older than its drill interval) or `never`.
    pub restore_proof: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
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

#[derive(Debug, Clone, Serialize, ToSchema)]
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

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RejectedPoint {
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobRepository {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub path: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobSystem {
    pub id: String,
    pub name: String,
    pub os: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobItem {
    pub job: JobBlock,
    pub repository: JobRepository,
    pub system: JobSystem,
}

envelope!(JobEnvelope, JobItem, "One backup job.");

envelope!(JobListEnvelope, Vec<JobItem>, "Backup jobs.");

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RestorePointsKept {
    pub kept: bool,
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletedComponents {
    pub basic_info: bool,
    pub detail_info: bool,
    pub history_data: bool,
    pub log_data: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletedJob {
    pub name: String,
    pub partition: String,
    pub deleted_components: DeletedComponents,
    pub restore_points: RestorePointsKept,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AffectedComponents {
    pub basic_info_deleted: u64,
    pub detail_info_deleted: u64,
    pub history_data_deleted: u64,
    pub log_data_deleted: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteSummary {
    pub state: String,
    pub affected_components: AffectedComponents,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
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
