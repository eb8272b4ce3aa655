//! Slows down password guessing on `POST /api/token/issue`, per address and per account, with
//! delays that double with each further failure (429 with `Retry-After` while one runs):
//!
//! - an address (IPv6: its /64) that failed `ADDRESS_FREE` times waits 1 s, then 2 s, 4 s, ...
//!   up to `MAX_DELAY` after each further failure;
//! - an account that failed `ACCOUNT_FREE` times (from any addresses, so rotating addresses do
//!   not help) is throttled the same way for every address that has failed before; addresses
//!   that have not failed share one attempt per second for that account, so a correct password
//!   from a clean address still gets in while a guesser with fresh addresses is held to one
//!   guess a second.
//!
//! Failures are forgotten `FORGET` after the last one. A success clears its address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const ADDRESS_FREE: u32 = 5;
pub const ACCOUNT_FREE: u32 = 10;
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
pub const FORGET: Duration = Duration::from_secs(15 * 60);
/// Attempts for a throttled account from addresses that have not failed: one per this.
pub const CLEAN_SLOT: Duration = Duration::from_secs(1);
/// Entries tracked at most per map; beyond it the stalest are forgotten first.
const MAX_ENTRIES: usize = 10_000;

#[derive(Clone, Copy)]
struct Count {
    failures: u32,
    last: Instant,
}

impl Count {
    /// How long after the last failure the next attempt must wait (`free` failures cost
    /// nothing).
    fn delay(&self, free: u32) -> Duration {
        if self.failures < free {
            return Duration::ZERO;
        }
        let exp = (self.failures - free).min(20);
        Duration::from_secs(1u64 << exp).min(MAX_DELAY)
    }
    fn remaining(&self, free: u32, now: Instant) -> Option<Duration> {
        let until = self.last + self.delay(free);
        (until > now).then(|| until - now)
    }
}

#[derive(Default)]
struct State {
    addresses: HashMap<IpAddr, Count>,
    accounts: HashMap<String, Count>,
    clean_next: HashMap<String, Instant>,
}

#[derive(Default)]
pub struct LoginGuard {
    state: Mutex<State>,
}

/// IPv6 clients usually own a whole /64: count them as one address.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        IpAddr::V6(v6) => IpAddr::V4(v6.to_ipv4_mapped().expect("mapped")),
        v4 => v4,
    }
}

fn secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn forget_old<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Count>, now: Instant) {
    map.retain(|_, c| now.duration_since(c.last) < FORGET);
}

impl LoginGuard {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Err(seconds)` while this attempt must wait.
    pub fn check(&self, ip: IpAddr, account: &str) -> Result<(), u64> {
        let now = Instant::now();
        let ip = bucket(ip);
        let mut st = self.lock();
        let addr = st
            .addresses
            .get(&ip)
            .copied()
            .filter(|c| now.duration_since(c.last) < FORGET);
        if let Some(wait) = addr.and_then(|c| c.remaining(ADDRESS_FREE, now)) {
            return Err(secs(wait).max(1));
        }
        let acct = st
            .accounts
            .get(account)
            .copied()
            .filter(|c| now.duration_since(c.last) < FORGET);
        let Some(acct) = acct.filter(|c| c.failures >= ACCOUNT_FREE) else {
            return Ok(());
        };
        if addr.is_some_and(|c| c.failures > 0) {
            if let Some(wait) = acct.remaining(ACCOUNT_FREE, now) {
                return Err(secs(wait).max(1));
            }
            return Ok(());
        }
        // A clean address: one attempt a second for this account, shared by all of them.
        let next = st.clean_next.get(account).copied().unwrap_or(now);
        if next > now {
            return Err(secs(next - now).max(1));
        }
        st.clean_next.insert(account.to_string(), now + CLEAN_SLOT);
        Ok(())
    }

    pub fn failed(&self, ip: IpAddr, account: &str) {
        let now = Instant::now();
        let ip = bucket(ip);
        let mut st = self.lock();
        if st.addresses.len() >= MAX_ENTRIES {
            forget_old(&mut st.addresses, now);
        }
        if st.accounts.len() >= MAX_ENTRIES {
            forget_old(&mut st.accounts, now);
            let accounts: Vec<String> = st.accounts.keys().cloned().collect();
            st.clean_next.retain(|k, _| accounts.contains(k));
        }
        let bump = |c: Option<&Count>| Count {
            failures: c
                .filter(|c| now.duration_since(c.last) < FORGET)
                .map_or(0, |c| c.failures)
                .saturating_add(1),
            last: now,
        };
        if st.addresses.len() < MAX_ENTRIES || st.addresses.contains_key(&ip) {
            let c = bump(st.addresses.get(&ip));
            st.addresses.insert(ip, c);
        }
        if st.accounts.len() < MAX_ENTRIES || st.accounts.contains_key(account) {
            let c = bump(st.accounts.get(account));
            st.accounts.insert(account.to_string(), c);
        }
    }

    /// A correct password: the address's earlier typos are forgiven.
    pub fn succeeded(&self, ip: IpAddr) {
        self.lock().addresses.remove(&bucket(ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_waits_longer_after_each_failure() {
        let g = LoginGuard::default();
        let a = ip("192.0.2.7");
        for _ in 0..ADDRESS_FREE {
            assert!(g.check(a, "x@y").is_ok());
            g.failed(a, "x@y");
        }
        assert_eq!(g.check(a, "x@y").unwrap_err(), 1);
        g.failed(a, "x@y");
        assert_eq!(g.check(a, "x@y").unwrap_err(), 2);
        g.failed(a, "x@y");
        assert_eq!(g.check(a, "x@y").unwrap_err(), 4);
        // Another address is not affected.
        assert!(g.check(ip("192.0.2.8"), "other@y").is_ok());
        // Another address of the same IPv6 /64 is the same client.
        let v6 = ip("2001:db8::1");
        for _ in 0..ADDRESS_FREE {
            g.failed(v6, "x@y");
        }
        assert!(g.check(ip("2001:db8::99"), "z@y").is_err());
    }

    #[test]
    fn rotating_addresses_are_held_back_but_a_clean_address_gets_in() {
        let g = LoginGuard::default();
        // 200 guesses from 200 addresses, one each.
        let mut refused = 0;
        for i in 0..200u32 {
            let a = IpAddr::V4(std::net::Ipv4Addr::from(0x7f00_0100 + i));
            match g.check(a, "admin@localhost") {
                Ok(()) => g.failed(a, "admin@localhost"),
                Err(_) => refused += 1,
            }
        }
        assert!(
            refused >= 150,
            "only {refused} of 200 rotating guesses were refused"
        );
        // An address that failed before waits for the account's delay.
        assert!(g
            .check(
                IpAddr::V4(std::net::Ipv4Addr::from(0x7f00_0100)),
                "admin@localhost"
            )
            .is_err());
        // A clean address gets its attempt once the shared slot is free.
        std::thread::sleep(CLEAN_SLOT);
        assert!(g.check(ip("127.0.0.1"), "admin@localhost").is_ok());
        // Other accounts are not throttled for clean addresses.
        assert!(g.check(ip("127.0.0.2"), "other@localhost").is_ok());
    }

    #[test]
    fn a_success_clears_the_address() {
        let g = LoginGuard::default();
        let a = ip("192.0.2.9");
        for _ in 0..ADDRESS_FREE {
            g.failed(a, "x@y");
        }
        assert!(g.check(a, "x@y").is_err());
        g.succeeded(a);
        assert!(g.check(a, "x@y").is_ok());
    }
}
