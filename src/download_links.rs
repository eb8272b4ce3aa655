//! Signed, single-use download links (RECOVERIES.md R8): a browser's `<a href>` cannot send a
//! bearer token, and a token in a URL would end up in logs and histories. A link names one
//! download (job, point, paths, format), expires after 60 seconds, works once, and is signed
//! with a key that lives only in this process (a restart invalidates every link).

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;

/// How long a link works.
pub const LIFETIME_SECS: i64 = 60;

/// What a link lets its holder download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Job id (digits) or name, as the API takes it.
    pub job: String,
    pub image: String,
    pub paths: Vec<String>,
    pub format: Option<String>,
    /// Expiry, UTC seconds.
    pub exp: i64,
    /// Makes each link unique, so "used once" is per link.
    pub nonce: u64,
}

pub struct Links {
    key: [u8; 32],
    /// Nonces of links already used, with their expiry (forgotten once expired).
    used: Mutex<HashMap<u64, i64>>,
}

impl Default for Links {
    fn default() -> Self {
        Links {
            key: rand::random(),
            used: Mutex::new(HashMap::new()),
        }
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("This download link is not valid.")]
    Invalid,
    #[error("This download link has expired; ask for a new one.")]
    Expired,
    #[error("This download link was already used; ask for a new one.")]
    Used,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

impl Links {
    fn mac(&self, payload: &[u8]) -> blake3::Hash {
        blake3::keyed_hash(&self.key, payload)
    }

    /// A link token for `grant` (its `exp` and `nonce` are set here).
    pub fn sign(&self, mut grant: Grant, now: i64) -> (String, i64) {
        use base64::Engine;
        grant.exp = now + LIFETIME_SECS;
        grant.nonce = rand::random();
        let payload = serde_json::to_vec(&grant).expect("a grant serializes");
        let token = format!(
            "{}.{}",
            b64().encode(&payload),
            b64().encode(self.mac(&payload).as_bytes())
        );
        (token, grant.exp)
    }

    /// The grant of a token, once: checks the signature, the expiry and that it was not used.
    pub fn redeem(&self, token: &str, now: i64) -> Result<Grant, LinkError> {
        use base64::Engine;
        let (payload, mac) = token.split_once('.').ok_or(LinkError::Invalid)?;
        let payload = b64().decode(payload).map_err(|_| LinkError::Invalid)?;
        let mac = b64().decode(mac).map_err(|_| LinkError::Invalid)?;
        let mac: [u8; 32] = mac.try_into().map_err(|_| LinkError::Invalid)?;
        // blake3::Hash compares in constant time.
        if self.mac(&payload) != blake3::Hash::from(mac) {
            return Err(LinkError::Invalid);
        }
        let grant: Grant = serde_json::from_slice(&payload).map_err(|_| LinkError::Invalid)?;
        if grant.exp < now {
            return Err(LinkError::Expired);
        }
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        used.retain(|_, exp| *exp >= now);
        if used.insert(grant.nonce, grant.exp).is_some() {
            return Err(LinkError::Used);
        }
        Ok(grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant {
            job: "web".into(),
            image: "latest".into(),
            paths: vec!["/etc/hosts".into()],
            format: None,
            exp: 0,
            nonce: 0,
        }
    }

    #[test]
    fn a_link_works_once_until_it_expires_and_cannot_be_altered() {
        let l = Links::default();
        let (t, exp) = l.sign(grant(), 1000);
        assert_eq!(exp, 1060);
        let g = l.redeem(&t, 1010).unwrap();
        assert_eq!((g.job.as_str(), g.paths.len()), ("web", 1));
        assert_eq!(l.redeem(&t, 1011), Err(LinkError::Used));
        let (t2, _) = l.sign(grant(), 1000);
        assert_eq!(l.redeem(&t2, 1061), Err(LinkError::Expired));
        // Another path in the same signature, or another process's key: refused.
        use base64::Engine;
        let (t3, _) = l.sign(grant(), 1000);
        let (p, m) = t3.split_once('.').unwrap();
        let mut payload: Grant = serde_json::from_slice(&b64().decode(p).unwrap()).unwrap();
        payload.paths = vec!["/etc/shadow".into()];
        let forged = format!(
            "{}.{m}",
            b64().encode(serde_json::to_vec(&payload).unwrap())
        );
        assert_eq!(l.redeem(&forged, 1010), Err(LinkError::Invalid));
        assert_eq!(Links::default().redeem(&t3, 1010), Err(LinkError::Invalid));
        assert_eq!(l.redeem("garbage", 1010), Err(LinkError::Invalid));
    }
}
