//! The answer of `POST /api/backups` (spec §2): one result per partition.

use crate::api::envelope::envelope;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScheduleSummary {
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegisteredSchedule {
    pub basic: ScheduleSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advanced: Option<ScheduleSummary>,
}

/// One partition's outcome; `state` is `success` or `fail` (then `errorMessage`).
#[derive(Debug, Clone, Serialize, ToSchema)]
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

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegisterSummary {
    pub total: u64,
    pub successful: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Registered {
    pub summary: RegisterSummary,
    pub results: Vec<RegisterResult>,
    /// Repositories this registration created that cannot be reached yet, or shares registered
    /// without an account (runs connect as guest).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

envelope!(
    RegisteredEnvelope,
    Registered,
    "At least one job was created."
);
