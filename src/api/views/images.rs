//! Answers about restore points as images (RECOVERIES.md §4.1-4.2): the vendor's image entry
//! plus the extension fields, and the entries of a browsed directory.

use super::hosts::Size;
use crate::api::envelope::envelope;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Compression {
    pub enabled: bool,
    /// Image bytes / partition size, `35.72%` (vendor definition).
    pub ratio: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImageRepository {
    pub id: i64,
    pub path: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Encryption {
    pub enabled: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerifyState {
    /// `ok`, `failed` or `unverified`.
    pub status: String,
    /// When it was last verified, or null.
    pub at: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreTest {
    /// `ok` or `failed`.
    pub status: String,
    pub at: String,
    /// The recovery job that ran it.
    pub recovery_job: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// The point id (its directory name in the repository).
    pub name: String,
    pub job_name: String,
    /// `full` or `increment`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Bytes the point occupies in the repository.
    pub size: Size,
    pub created_at: String,
    pub compression: Compression,
    pub repository: ImageRepository,
    /// The point this increment is based on.
    pub parent: Option<String>,
    /// The full point of its chain.
    pub chain: String,
    /// Entries of the point's tree.
    pub entries: u64,
    /// Bytes of file content of the point's tree.
    pub logical_size: Size,
    pub encryption: Encryption,
    pub verify: VerifyState,
    /// The newest restore drill of the job, or null.
    pub last_restore_test: Option<RestoreTest>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImageServer {
    pub name: String,
    pub os: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImagePartition {
    pub mount_point: String,
    pub device: String,
    pub size: Size,
    pub filesystem: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImageEntry {
    pub image: Image,
    pub server: ImageServer,
    pub partition: ImagePartition,
}

envelope!(
    ImageListEnvelope,
    Vec<ImageEntry>,
    "Restore points, newest first unless `sort=asc`."
);

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    pub name: String,
    /// The absolute original path on the source host.
    pub path: String,
    /// `file`, `dir`, `symlink`, `hardlink`, `fifo`, `socket`, `char` or `block`.
    #[serde(rename = "type")]
    pub kind: String,
    pub size: Size,
    pub mtime: String,
    /// Permission bits, octal (`0644`).
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    /// The name of `uid` on this host, or null.
    pub owner: Option<String>,
    pub group: Option<String>,
    /// Where a symlink points (or the first name of a hard-linked file).
    pub link_target: Option<String>,
    pub has_children: bool,
    /// The point whose archive holds the content.
    pub written_in: String,
}

envelope!(
    FileListEnvelope,
    Vec<FileEntry>,
    "One directory of a restore point (or the matches of a search below it)."
);
