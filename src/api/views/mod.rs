//! What the handlers answer: typed structs that are serialized as the `data` of the envelope and
//! give the OpenAPI document its schemas, so the document cannot drift from what is sent.

pub mod auth;
pub mod hosts;
pub mod images;
pub mod jobs;
pub mod monitoring;
pub mod recoveries;
pub mod registration;
pub mod repositories;
pub mod schedules;
