//! Credentials: argon2 password hashes, HS256 tokens, and the secret files in the state
//! directory (mode 0600, never logged).

use crate::domain::ids::UserId;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use rand::distributions::{Alphanumeric, DistString};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub const SECRET_FILE: &str = "jwt-secret";
pub const ADMIN_PASSWORD_FILE: &str = "admin-password";

/// Why a credential could not be made. Both are unexpected (the inputs are ours), so callers
/// report them as internal errors and log the cause.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("token signing failed")]
    Sign(#[source] jsonwebtoken::errors::Error),
}

pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(AuthError::Hash)
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash of a random password, verified against when the e-mail is unknown so both failures
/// take the same time.
pub fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password(&random_password()).unwrap_or_default())
}

pub fn random_password() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 24)
}

/// Writes a secret file readable by the owner only; the file is created with mode 0600 so the
/// secret is never visible to others, not even briefly.
pub fn write_secret(path: &Path, content: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

/// Reads the signing secret, creating it at first start.
pub fn load_or_create_secret(state_dir: &Path) -> std::io::Result<Vec<u8>> {
    let path = state_dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 64 => Ok(s.trim().as_bytes().to_vec()),
        Ok(_) => Err(std::io::Error::other(format!(
            "{} is too short; delete it to generate a new one (this logs everyone out)",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut bytes);
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            write_secret(&path, &format!("{hex}\n"))?;
            Ok(hex.into_bytes())
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user ID (a string: RFC 7519 `sub` is a string).
    pub sub: String,
    pub email: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The user's token generation when issued; a password change makes the token stale.
    pub gen: i64,
}

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    lifetime_secs: i64,
}

/// Why a presented token is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token expired")]
    Expired,
    #[error("token invalid")]
    Invalid,
}

impl TokenKeys {
    pub fn new(secret: &[u8], lifetime_minutes: u32) -> Self {
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            lifetime_secs: i64::from(lifetime_minutes) * 60,
        }
    }

    /// Returns the token and its expiry (UTC seconds).
    pub fn issue(
        &self,
        user_id: UserId,
        email: &str,
        generation: i64,
    ) -> Result<(String, i64), AuthError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            email: email.to_string(),
            iat: now,
            exp: now + self.lifetime_secs,
            jti: uuid::Uuid::new_v4().to_string(),
            gen: generation,
        };
        jsonwebtoken::encode(&Header::default(), &claims, &self.encoding)
            .map(|t| (t, claims.exp))
            .map_err(AuthError::Sign)
    }

    /// Checks signature and expiry; returns the user ID, e-mail and token generation.
    pub fn verify_user(&self, token: &str) -> Result<(UserId, String, i64), TokenError> {
        let c = self.verify(token)?;
        let id = c.sub.parse().map_err(|_| TokenError::Invalid)?;
        Ok((UserId(id), c.email, c.gen))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut v = Validation::new(jsonwebtoken::Algorithm::HS256);
        v.leeway = 5;
        v.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn passwords_round_trip() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("other", &h));
        assert!(!verify_password("s3cret", "garbage"));
    }

    #[test]
    fn secret_is_private_and_stable() {
        let d = tempfile::tempdir().unwrap();
        let a = load_or_create_secret(d.path()).unwrap();
        let b = load_or_create_secret(d.path()).unwrap();
        assert_eq!(a, b);
        let mode = std::fs::metadata(d.path().join(SECRET_FILE))
            .unwrap()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn tokens() {
        let k = TokenKeys::new(
            b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            60,
        );
        let (t, _) = k.issue(UserId(1), "admin@localhost", 0).unwrap();
        assert_eq!(k.verify(&t).ok().unwrap().sub, "1");
        let other = TokenKeys::new(
            b"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            60,
        );
        assert!(matches!(other.verify(&t), Err(TokenError::Invalid)));
        assert!(matches!(k.verify("not.a.token"), Err(TokenError::Invalid)));
    }
}
