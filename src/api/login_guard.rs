//! Slows down password guessing on `POST /api/token/issue`: after `MAX_FAILURES` wrong
//! logins from one address within `WINDOW`, that address gets 429 with `Retry-After` until
//! the oldest failure leaves the window. Successful logins are never counted.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked at most; beyond it the quietest are forgotten first.
const MAX_ADDRESSES: usize = 10_000;

#[derive(Default)]
pub struct LoginGuard {
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl LoginGuard {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, VecDeque<Instant>>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Err(seconds)` while `ip` must wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.lock();
        let Some(q) = map.get_mut(&ip) else {
            return Ok(());
        };
        while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
        if q.len() < MAX_FAILURES {
            if q.is_empty() {
                map.remove(&ip);
            }
            return Ok(());
        }
        let oldest = *q.front().expect("non-empty");
        let wait = WINDOW.saturating_sub(now.duration_since(oldest));
        Err(wait.as_secs().max(1))
    }

    pub fn failed(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() >= MAX_ADDRESSES && !map.contains_key(&ip) {
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
            if map.len() >= MAX_ADDRESSES {
                return;
            }
        }
        let q = map.entry(ip).or_default();
        q.push_back(now);
        while q.len() > MAX_FAILURES {
            q.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_then_wait() {
        let g = LoginGuard::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(g.check(ip).is_ok());
            g.failed(ip);
        }
        let wait = g.check(ip).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(g.check(other).is_ok());
    }
}
