//! How failures of the layers below become API answers: the one place that knows both, so
//! nothing below `api` depends on the HTTP error type.

use super::envelope::ApiError;
use crate::db::DbError;
use crate::engine::EngineError;
use actix_web::http::StatusCode;

/// Database failures an operator can fix get an answer that says what to do; the rest are
/// internal errors (details in the log).
fn api_error(e: &rusqlite::Error) -> ApiError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => {
            tracing::error!(error = %e, "the state database's disk is full");
            ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "The state database cannot be written: the disk holding the daemon's state \
                 directory is full. Free space there and try again; nothing was changed.",
            )
        }
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => {
            tracing::warn!(error = %e, "the state database is busy");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The state database is busy (another process holds its lock); try again.",
            )
            .with_retry_after(5)
        }
        Some(rusqlite::ErrorCode::ReadOnly) => {
            tracing::error!(error = %e, "the state database is read-only");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The state database is read-only (check the state directory's file system and \
                 permissions); nothing was changed.",
            )
        }
        _ => ApiError::internal(e),
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        api_error(&e)
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match &e {
            DbError::Sqlite(inner) => api_error(inner),
            DbError::Schema(_) | DbError::Task(_) | DbError::Copy(_) => {
                ApiError::internal(crate::error_chain::chain(&e))
            }
        }
    }
}

/// Engine failures met while reading restore points for an answer.
impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match &e {
            EngineError::Corrupt(_) => ApiError::conflict(e.to_string()),
            EngineError::KeyNeeded(_) => {
                tracing::error!(error = %e, "a restore point needs the backup key");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Encryption identity not available.",
                )
            }
            EngineError::NotFound(_) => ApiError::not_found(e.to_string()),
            EngineError::Locked(..) => ApiError::conflict(e.to_string()),
            EngineError::Usage(_) => ApiError::bad_request(e.to_string()),
            EngineError::NoSpace(_) => {
                ApiError::new(StatusCode::INSUFFICIENT_STORAGE, e.to_string())
            }
            EngineError::Canceled => ApiError::conflict(e.to_string()),
            EngineError::Io(_) => ApiError::internal(crate::error_chain::chain(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::DbError;
    use actix_web::ResponseError;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn operator_fixable_failures_say_what_to_do() {
        let full = ApiError::from(DbError::Sqlite(failure(rusqlite::ffi::SQLITE_FULL)));
        assert_eq!(full.status_code().as_u16(), 507);
        assert!(full
            .message
            .contains("disk holding the daemon's state directory is full"));
        let busy = ApiError::from(failure(rusqlite::ffi::SQLITE_BUSY));
        assert_eq!(busy.status_code().as_u16(), 503);
        assert_eq!(busy.retry_after, Some(5));
        let other = ApiError::from(failure(rusqlite::ffi::SQLITE_CORRUPT));
        assert_eq!(other.status_code().as_u16(), 500);
    }
}
