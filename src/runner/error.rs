//! Why a run did not write a restore point. The text of each variant is what the history's
//! `error` and the mail say; [`RunError::chain`] adds every underlying cause for the log.

use crate::db::DbError;
use crate::domain::ids::RepositoryId;
use crate::engine::EngineError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("reading the job: {0}")]
    Db(#[from] DbError),
    #[error("repository {0} no longer exists")]
    RepositoryGone(RepositoryId),
    /// The preflight named the step that failed (connect, authenticate, share, exists, write,
    /// ...).
    #[error("repository check failed at step '{step}': {reason}")]
    Preflight { step: &'static str, reason: String },
    #[error("encryption key {}: {source}", path.display())]
    Key { path: PathBuf, source: EngineError },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<crate::repocheck::Failure> for RunError {
    fn from(f: crate::repocheck::Failure) -> Self {
        RunError::Preflight {
            step: f.step,
            reason: f.reason,
        }
    }
}

impl RunError {
    /// The message with every source below it, for the log.
    pub fn chain(&self) -> String {
        chain(self)
    }
}

pub use crate::error_chain::chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_the_history_wording() {
        let e = RunError::from(crate::repocheck::Failure {
            step: "connect",
            reason: "connection refused by h:445".into(),
        });
        assert_eq!(
            e.to_string(),
            "repository check failed at step 'connect': connection refused by h:445"
        );
        let io = EngineError::io("source /x", std::io::Error::other("gone"));
        let e = RunError::Key {
            path: "/k".into(),
            source: io,
        };
        assert!(
            e.chain().starts_with("encryption key /k: "),
            "{}",
            e.chain()
        );
    }
}
