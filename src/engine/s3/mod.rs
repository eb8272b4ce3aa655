//! Repositories on S3-compatible object storage (issue 15), first part: where a repository is
//! (`s3://bucket/prefix` at an endpoint), the keys that reach it, a blocking client over the
//! `object_store` crate, the job lock as a lease object, and the preflight that proves a store
//! before anything is kept on it, conditional writes included: publication and the job lock
//! rest on `If-None-Match` and `If-Match`, and a store that ignored them would grant every
//! lock. Points are not stored on S3 yet; `docs/ENGINE.md` ("S3 repositories") says what is
//! built and what is planned.

mod keys;
mod lease;
mod location;
mod preflight;
mod store;
mod target;

pub use keys::S3Keys;
pub use lease::{Lease, LeaseError};
pub use location::{S3Endpoint, S3Location};
pub use preflight::{preflight, PreflightError, Step};
pub use store::{Listed, Object, Put, S3Error, S3Reader, S3Store, S3Writer};
pub use target::S3Target;
