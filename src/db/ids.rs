//! SQLite conversions of the domain's id types: plain integers in the database.

use crate::domain::ids::{
    JobId, RecoveryId, RecoveryRunId, RepositoryId, RunId, ScheduleId, UserId,
};
use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

macro_rules! sql_id {
    ($($name:ident),*) => {$(
        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.0))
            }
        }
        impl FromSql for $name {
            fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
                i64::column_result(v).map($name)
            }
        }
    )*};
}

sql_id!(
    JobId,
    RecoveryId,
    RecoveryRunId,
    RepositoryId,
    RunId,
    ScheduleId,
    UserId
);
