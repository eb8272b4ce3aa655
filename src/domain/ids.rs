//! Row ids as distinct types: a schedule id cannot be passed where a job id is expected. Stored
//! as SQLite integers (`db::ids` has the conversions) and sent as the API's numbers or strings.

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }
    };
}

id_type!(
    /// A backup job (`jobs.id`).
    JobId
);
id_type!(
    /// A schedule record, one half of a schedule (`schedules.id`).
    ScheduleId
);
id_type!(
    /// A repository (`repositories.id`).
    RepositoryId
);
id_type!(
    /// A run of a job, one history row (`runs.id`).
    RunId
);
id_type!(
    /// A user (`users.id`).
    UserId
);
id_type!(
    /// A recovery job (`recoveries.id`).
    RecoveryId
);
id_type!(
    /// A run of a recovery job, one recovery history row (`recovery_runs.id`).
    RecoveryRunId
);
