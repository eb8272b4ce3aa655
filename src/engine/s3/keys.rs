//! The access key and secret that sign requests to an S3 store: from the environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, the ecosystem's convention) or from a file of
//! `access_key=` and `secret_key=` lines that only its owner may read.

use std::fmt;
use std::path::Path;

#[derive(Clone, PartialEq, Eq)]
pub struct S3Keys {
    pub access_key: String,
    pub secret_key: String,
}

/// Never shows the secret, so keys can sit in structures that are logged.
impl fmt::Debug for S3Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Keys")
            .field("access_key", &self.access_key)
            .field("secret_key", &"********")
            .finish()
    }
}

impl S3Keys {
    pub fn new(access_key: &str, secret_key: &str) -> Result<S3Keys, String> {
        if access_key.is_empty() || secret_key.is_empty() {
            return Err("the S3 access key and secret key must not be empty".into());
        }
        if [access_key, secret_key]
            .iter()
            .any(|k| k.chars().any(|c| c.is_control() || c.is_whitespace()))
        {
            return Err("the S3 keys may not contain spaces or control characters".into());
        }
        Ok(S3Keys {
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
        })
    }

    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`; `None` when either is unset.
    pub fn from_env() -> Option<Result<S3Keys, String>> {
        let access = std::env::var("AWS_ACCESS_KEY_ID").ok()?;
        let secret = std::env::var("AWS_SECRET_ACCESS_KEY").ok()?;
        Some(S3Keys::new(&access, &secret))
    }

    /// Reads `access_key=` and `secret_key=` lines (blank lines and `#` comments allowed). The
    /// file must be a regular file (not a symlink) owned by this user, mode 0600 or stricter.
    pub fn from_file(path: &Path) -> Result<S3Keys, String> {
        let shown = path.display();
        let text = super::super::private_file::read_private(path).map_err(|e| e.to_string())?;
        let (mut access, mut secret) = (None, None);
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
                Some(("access_key", v)) => access = Some(v.to_string()),
                Some(("secret_key", v)) => secret = Some(v.to_string()),
                // The line is not shown: it may hold the secret, mistyped.
                _ => {
                    return Err(format!(
                        "{shown}: line {} is not access_key= or secret_key=",
                        n + 1
                    ))
                }
            }
        }
        match (access, secret) {
            (Some(a), Some(s)) => S3Keys::new(&a, &s).map_err(|e| format!("{shown}: {e}")),
            _ => Err(format!("{shown}: needs both access_key= and secret_key=")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_keys_file_must_be_private_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s3.keys");
        std::fs::write(&f, "# zdm\naccess_key = AKID\nsecret_key=s3cr3t\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let k = S3Keys::from_file(&f).unwrap();
        assert_eq!(
            (k.access_key.as_str(), k.secret_key.as_str()),
            ("AKID", "s3cr3t")
        );
        assert!(!format!("{k:?}").contains("s3cr3t"));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(S3Keys::from_file(&f).unwrap_err().contains("chmod 600"));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert!(S3Keys::from_file(&link)
            .unwrap_err()
            .contains("not a regular file"));
        std::fs::write(&f, "access_key=AKID\nsecret=oops-s3cr3t\n").unwrap();
        let e = S3Keys::from_file(&f).unwrap_err();
        assert!(e.contains("line 2") && !e.contains("s3cr3t"), "{e}");
        std::fs::write(&f, "access_key=AKID\n").unwrap();
        assert!(S3Keys::from_file(&f).is_err());
        std::fs::write(&f, "access_key=AKID\nsecret_key=\n").unwrap();
        assert!(S3Keys::from_file(&f).is_err());
        assert!(S3Keys::from_file(dir.path()).is_err());
    }
}
