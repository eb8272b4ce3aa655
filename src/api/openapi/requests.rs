//! The shapes of request bodies, for the OpenAPI document. Handlers validate the raw JSON
//! themselves (field-by-field errors, golden messages), so these types are never built; the tests
//! in `super` compare every body's fields with the lists the handlers accept.
#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;

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

#[derive(Serialize, ToSchema)]
pub struct TokenRequest {
    #[schema(example = "admin@localhost")]
    pub email: String,
    pub password: String,
}

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

/// Where an `s3` repository's bucket is served, and how its points are kept; refused for the
/// other types.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Fields {
    /// `https://host[:port]`, or `http://` to a loopback address. Required for `s3`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Default `us-east-1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Path-style requests (`endpoint/bucket/key`), as self-hosted stores need.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_style: Option<bool>,
    /// Keep each point under Object Lock retention (COMPLIANCE) for this many days (1 to 36500;
    /// 0 or absent: none). The bucket must have Object Lock enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 36500)]
    pub object_lock_days: Option<u32>,
}

/// `POST /api/zdms/repositories`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryCreate {
    pub center: IdOrName,
    /// `nfs`, `smb` or `s3`.
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
    /// SMB user, or S3 access key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// SMB password or S3 secret key: stored in a 0600 file, never returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(flatten)]
    pub s3: S3Fields,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<IdOrName>,
}

/// `POST /api/zdms/repositories/verify`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryVerify {
    pub center: IdOrName,
    /// `nfs`, `smb` or `s3`.
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
    #[serde(flatten)]
    pub s3: S3Fields,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<IdOrName>,
}

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
    /// S3 only: Object Lock retention of new points in days (0: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 36500)]
    pub object_lock_days: Option<u32>,
}

/// One partition of a recovery (`jobList[]`, RECOVERIES.md §4.4).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPartRequest {
    /// Mount point of the backed-up partition.
    pub source_partition: String,
    /// The target directory (absolute); the partition itself restores in place.
    pub target_partition: String,
    /// Backup job name; default: the job of this partition that last succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_job: Option<String>,
    /// A point id, `latest`, or `YYYY-MM-DD HH:mm:ss` (newest at or before); default: newest
    /// when the run starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_file: Option<String>,
    /// `full` or `increment`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// `allow` or `not allow`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overwrite: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<RepositoryRef>,
    /// Absolute original paths to restore; default: everything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    /// Globs to skip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclude_paths: Option<Vec<String>>,
    /// `original` or `flat`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    /// `always`, `if-changed`, `if-newer`, `never` or `fail`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overwrite_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete: Option<bool>,
}

/// `POST /api/recoveries` (RECOVERIES.md §4.4).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryRegister {
    pub center: IdOrName,
    /// The server whose backups are used.
    pub source: IdOrName,
    /// This host.
    pub target: IdOrName,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    pub repository: RepositoryRef,
    /// `full` or `increment` (only entries that differ from the target).
    pub mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// `allow` or `not allow` (default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overwrite: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overwrite_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete: Option<bool>,
    /// `use`: read back and compare what was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<String>,
    /// `not use`: delete the target after a successful run (drills).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<IdOrName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_event: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_run: Option<String>,
    /// MiB/s read from the repository, 0 = unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_limit: Option<Number>,
    /// Basic schedule types 0-6 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleRefOrInline>,
    /// `maintain` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_reboot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclude_partition: Option<StringOrList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_only: Option<bool>,
    /// Accepted and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_auth: Option<String>,
    pub job_list: Vec<RecoveryPartRequest>,
}

/// One partition's changes in `PUT /api/recoveries/{identifier}`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPartUpdate {
    pub partition: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_partition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overwrite_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
}

/// `PUT /api/recoveries/{identifier}` (RECOVERIES.md §4.5).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryUpdate {
    pub center: IdOrName,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// A schedule (basic types 0-6), or null to remove it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleRefOrInline>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_reboot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_event: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_limit: Option<Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_run: Option<String>,
    /// `start` runs it now; `stop` cancels its run at the next file boundary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_list: Option<Vec<RecoveryPartUpdate>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_target: Option<String>,
}
