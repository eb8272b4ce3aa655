//! Pure rules of the ZDM API: no I/O, no HTTP, no SQLite.

pub mod fields;
pub mod ids;
pub mod invalid;
pub mod job;
pub mod nextfire;
pub mod partition;
pub mod recovery;
pub mod registration;
pub mod run;
pub mod schedule;
#[cfg(test)]
pub mod testing;
pub mod update;
