//! Answers about this host (server, partitions) and this appliance (center), spec §5.1-5.2.

use super::repositories::Repository;
use crate::api::envelope::envelope;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Size {
    pub raw: u64,
    pub formatted: String,
}

impl Size {
    /// `bytes` with its 1024-based spelling to `decimals` places (the vendor uses 1 for
    /// partitions and 2 for images).
    pub fn of(bytes: u64, decimals: usize) -> Size {
        Size {
            raw: bytes,
            formatted: crate::host::format_size(bytes, decimals),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
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

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IpAddresses {
    pub public: String,
    pub private: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Agent {
    pub mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OsVersion {
    pub version: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    pub cpu_count: String,
    pub kernel: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Connect {
    pub connect: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct License {
    pub id: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
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

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CenterNames {
    pub center: String,
    pub host: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CenterIds {
    pub center: String,
    pub install: String,
    pub machine: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CenterStatus {
    pub connect: String,
    pub activate: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CenterPaths {
    pub install: String,
    pub log_file: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
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
