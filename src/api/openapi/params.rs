//! Query parameters of the list endpoints, for the OpenAPI document only (the handlers read
//! them from a map so that a bad value gets a field error in the envelope).
#![allow(dead_code)]

use utoipa::{IntoParams, ToSchema};

/// `page`, `limit` and `sort` (spec §1.5); `pagination` is answered only when one is given.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<u32>,
    /// Items per page (default 20).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `desc` (newest first, the default) or `asc`; any case.
    pub sort: Option<Sort>,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Sort {
    Asc,
    Desc,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct JobFilters {
    /// Center IDs or names, comma-separated.
    pub center: Option<String>,
    /// Server ID or name.
    pub server: Option<String>,
    /// `full`, `increment` or `smart`.
    pub mode: Option<String>,
    /// Computed status (`scheduled`, `running`, `completed`, `error`, ...).
    pub status: Option<String>,
    /// `nfs` or `smb`.
    pub repositoryType: Option<String>,
    pub repositoryID: Option<String>,
    pub repositoryPath: Option<String>,
    pub jobId: Option<String>,
    pub jobName: Option<String>,
    pub partition: Option<String>,
    /// Windows drive letter: matches nothing on Linux.
    pub drive: Option<String>,
    /// `true` adds options and the restore point count.
    pub detail: Option<bool>,
}

/// The list's filters that make sense for one job (spec §4.2: all but jobId/jobName): a job
/// that does not match them is a 404.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct JobViewFilters {
    pub center: Option<String>,
    pub server: Option<String>,
    /// `full`, `increment` or `smart`.
    pub mode: Option<String>,
    pub status: Option<String>,
    /// `nfs` or `smb`.
    pub repositoryType: Option<String>,
    pub repositoryID: Option<String>,
    pub repositoryPath: Option<String>,
    pub partition: Option<String>,
    pub drive: Option<String>,
    /// Accepted for symmetry with the list; the single view always has the details.
    pub detail: Option<bool>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct JobSelector {
    /// The job's partition must be this one.
    pub partition: Option<String>,
    /// Center ID or name (for `DELETE`).
    pub center: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct MonitoringFilters {
    /// `full`, `increment` or `smart`.
    pub mode: Option<String>,
    pub partition: Option<String>,
    pub jobName: Option<String>,
    pub drive: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct HistoryFilters {
    /// Center IDs or names, comma-separated (this appliance is center 1).
    pub center: Option<String>,
    /// Server ID or name.
    pub server: Option<String>,
    /// `success` or `failed`.
    pub result: Option<String>,
    pub jobId: Option<String>,
    pub jobName: Option<String>,
    pub partition: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct ScheduleFilters {
    pub id: Option<String>,
    /// 0-11 or a display name.
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// `enabled` or `disabled`.
    pub state: Option<String>,
    pub jobName: Option<String>,
    pub center: Option<String>,
}

/// Filters of the server list (this host is the only server; a filter it fails gives []).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServerFilters {
    /// Center IDs or names, comma-separated.
    pub center: Option<String>,
    /// `source` or `target`.
    pub mode: Option<String>,
    /// `win`, `lin` or `cloud`.
    pub os: Option<String>,
    /// `connect` or `disconnect`.
    pub connection: Option<String>,
    /// `assign` or `unassign`.
    pub license: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CenterQuery {
    /// Center ID or name.
    pub center: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct ServerQuery {
    /// `true` adds CPU count and kernel.
    pub detail: Option<bool>,
    /// `true` adds the partitions.
    pub partition: Option<bool>,
    /// `true` adds the repositories.
    pub repository: Option<bool>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct PartitionFilters {
    pub partition: Option<String>,
    pub device: Option<String>,
    pub fileSystem: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CenterListFilters {
    /// `connect` or `disconnect`.
    pub connection: Option<String>,
    /// `ok` or `fail`.
    pub activation: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct CenterFlags {
    /// `true` adds the partitions.
    pub partition: Option<bool>,
    /// `true` adds the repositories.
    pub repository: Option<bool>,
    /// `true` adds z/OS repositories (always empty).
    pub zosRepository: Option<bool>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct RepositoryFilters {
    /// Center IDs or names, comma-separated.
    pub center: Option<String>,
    /// `nfs` or `smb`.
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// `lin` or `win`.
    pub os: Option<String>,
    pub path: Option<String>,
}

/// The vendor's filters of `GET /api/backups/images/server/{serverName}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct ImageFilters {
    /// Center ID or name.
    pub center: Option<String>,
    pub repositoryId: Option<i64>,
    pub repositoryPath: Option<String>,
    /// Exact job name.
    pub jobName: Option<String>,
    /// Exact mount point.
    pub partition: Option<String>,
    /// Windows drive letter: matches nothing on Linux.
    pub drive: Option<String>,
}

/// What to list of a restore point.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BrowseQuery {
    /// The directory to list, as an absolute original path (default: the partition's mount
    /// point).
    pub path: Option<String>,
    /// With it, matches anywhere below `path`: a substring of the name, or a glob (`*.conf`).
    pub search: Option<String>,
    #[param(inline)]
    pub r#type: Option<EntryType>,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum EntryType {
    File,
    Dir,
    Symlink,
    Hardlink,
    Fifo,
    Socket,
    Char,
    Block,
}

/// What to download from a restore point.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// Absolute original paths, repeatable (default: the whole partition).
    pub path: Option<Vec<String>>,
    /// `tar` or `tar.zst`; without it a single regular file streams raw.
    #[param(inline)]
    pub format: Option<DownloadFormat>,
}

#[derive(ToSchema)]
pub enum DownloadFormat {
    #[schema(rename = "tar")]
    Tar,
    #[schema(rename = "tar.zst")]
    TarZst,
}

/// The vendor's filters of `GET /api/recoveries`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct RecoveryFilters {
    pub jobId: Option<i64>,
    pub jobName: Option<String>,
    /// Server ID or name.
    pub server: Option<String>,
    /// `source` or `target` (default).
    pub serverType: Option<String>,
    /// `full` or `increment`.
    pub mode: Option<String>,
    /// Source partitions, comma-separated.
    pub partition: Option<String>,
    /// Windows drive letter: matches nothing on Linux.
    pub drive: Option<String>,
    pub status: Option<String>,
    pub repositoryID: Option<i64>,
    pub repositoryType: Option<String>,
    pub repositoryPath: Option<String>,
    pub platform: Option<String>,
    /// Backup job name.
    pub backupName: Option<String>,
    /// Center IDs or names, comma-separated.
    pub center: Option<String>,
    /// Accepted; every answer has the details.
    pub detail: Option<bool>,
}

/// The list's filters that make sense for one recovery job.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct RecoveryViewFilters {
    pub server: Option<String>,
    pub serverType: Option<String>,
    pub mode: Option<String>,
    pub partition: Option<String>,
    pub drive: Option<String>,
    pub status: Option<String>,
    pub repositoryID: Option<i64>,
    pub repositoryType: Option<String>,
    pub repositoryPath: Option<String>,
    pub platform: Option<String>,
    pub backupName: Option<String>,
    pub center: Option<String>,
    pub detail: Option<bool>,
}

/// Filters of `GET /api/recoveries/histories`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct RecoveryHistoryFilters {
    pub jobId: Option<i64>,
    pub jobName: Option<String>,
    pub server: Option<String>,
    /// `target` (default) or `source`.
    pub serverType: Option<String>,
    /// Source partition or target directory.
    pub partition: Option<String>,
    /// `success` or `failed`.
    pub result: Option<String>,
}
