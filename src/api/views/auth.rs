//! Answers of token issue and health, and the user envelopes.

use crate::api::envelope::envelope;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: String,
}

envelope!(TokenEnvelope, Token, "A new token.");

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub version: String,
}

envelope!(HealthEnvelope, Health, "The daemon is serving.");

envelope!(UserEnvelope, crate::api::users::UserItem, "One user.");

envelope!(
    UserListEnvelope,
    Vec<crate::api::users::UserItem>,
    "Users, newest first unless `sort=asc`."
);
