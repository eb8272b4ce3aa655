//! Repositories on S3-compatible object storage (issue 15): where a repository is
//! (`s3://bucket/prefix` at an endpoint), the keys that reach it, a blocking client over the
//! `object_store` crate (and signed requests for what it has no call for: Object Lock), the job
//! lock as a lease object, the preflight that proves a store before anything is kept on it, and
//! the [`Target`](crate::engine::target::Target) that keeps points on it. Publication and the
//! job lock rest on `If-None-Match` and `If-Match`, so a store that ignored them would grant
//! every lock: the preflight refuses such a store. `docs/ENGINE.md` ("S3 repositories") has the
//! layout.

mod keys;
mod lease;
mod location;
mod preflight;
mod signed;
mod store;
mod target;
mod versions;

pub use keys::S3Keys;
pub use lease::{Lease, LeaseError};
pub use location::{S3Endpoint, S3Location};
pub use preflight::{preflight, reachable, PreflightError, Step};
pub use signed::Written;
pub use store::{Listed, Object, Put, S3Error, S3Reader, S3Store, S3Writer};
pub use target::{ObjectLock, S3Target};
pub use versions::{Reclaimed, Version};
