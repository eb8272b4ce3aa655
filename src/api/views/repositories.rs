//! Answers of the repository endpoints (spec §5.3).

use super::hosts::Size;
use super::jobs::UpdateSummary;
use crate::api::envelope::envelope;
use crate::domain::ids::RepositoryId;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
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
    /// When the space was measured: now for a local directory, by the last run for a share;
    /// `-` when never.
    pub space_checked_at: String,
    pub remote_path: String,
    pub local_path: String,
    pub remote_user: String,
    pub ip_address: Vec<String>,
    pub port: String,
    pub last_updated: String,
    /// S3 only, when set: Object Lock retention of new points, in days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_lock_days: Option<u32>,
}

envelope!(RepositoryListEnvelope, Vec<Repository>, "Repositories.");

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RepositoryCreated {
    #[schema(value_type = i64)]
    pub id: RepositoryId,
    /// `NFS` or `SMB`.
    #[serde(rename = "type")]
    pub kind: String,
    pub path: String,
    /// What could not be checked yet (unreachable share, a share without an account).
    pub warnings: Vec<String>,
}

envelope!(
    RepositoryCreatedEnvelope,
    RepositoryCreated,
    "The new repository."
);

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryInfo {
    #[schema(value_type = i64)]
    pub id: RepositoryId,
    pub center_name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
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

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryDeleted {
    #[schema(value_type = i64)]
    pub id: RepositoryId,
    pub center_name: String,
    pub remote_path: String,
    pub local_path: String,
}

envelope!(
    RepositoryDeletedEnvelope,
    RepositoryDeleted,
    "The deleted repository (its files are kept)."
);

#[derive(Debug, Clone, Serialize, ToSchema)]
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
