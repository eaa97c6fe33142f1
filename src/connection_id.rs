//! Stateless BEP 15 connection ids: a keyed SipHash of the client's address
//! and a two-minute time window. Nothing is stored per client, and without
//! the key (drawn from the OS at start-up) an id cannot be forged.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;

/// Seconds per window; an id is accepted in its window and the next one,
/// so it lives between two and four minutes.
const WINDOW_SECS: u32 = 120;

/// The secret behind connection ids.
pub struct ConnectionIdKey {
    key: RandomState,
}

impl Default for ConnectionIdKey {
    fn default() -> Self {
        Self::new()
    }
}

impl ConnectionIdKey {
    /// A key with fresh random secrets (std seeds SipHash keys from the OS).
    pub fn new() -> Self {
        ConnectionIdKey {
            key: RandomState::new(),
        }
    }

    fn id(&self, ip: IpAddr, window: u32) -> u64 {
        let mut h = self.key.build_hasher();
        match ip {
            IpAddr::V4(v4) => h.write(&v4.octets()),
            IpAddr::V6(v6) => h.write(&v6.octets()),
        }
        h.write_u32(window);
        h.finish()
    }

    /// The id to hand out to `ip` at `now` (seconds).
    pub fn issue(&self, ip: IpAddr, now: u32) -> u64 {
        self.id(ip, now / WINDOW_SECS)
    }

    /// Whether `id` was issued to `ip` in this window or the previous one.
    pub fn check(&self, ip: IpAddr, id: u64, now: u32) -> bool {
        let w = now / WINDOW_SECS;
        id == self.id(ip, w) || (w > 0 && id == self.id(ip, w - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_id_is_valid_for_two_to_four_minutes() {
        let k = ConnectionIdKey::new();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let id = k.issue(ip, 1000);
        assert!(k.check(ip, id, 1000));
        assert!(k.check(ip, id, 1000 + 119));
        assert!(!k.check(ip, id, 1000 + 241));
    }

    #[test]
    fn forged_connection_id_is_refused() {
        let k = ConnectionIdKey::new();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let id = k.issue(a, 5);
        assert!(!k.check(b, id, 5), "bound to the address");
        assert!(!k.check(a, id ^ 1, 5));
        assert_ne!(
            ConnectionIdKey::new().issue(a, 5),
            id,
            "keys differ per start"
        );
    }
}
