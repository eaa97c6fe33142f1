//! Addresses and CIDR networks, as `access.stats`, `access.proxy` and `-A`
//! take them (opentracker's `scan_ip6_net`): `ADDR` or `ADDR/BITS`, IPv4 or
//! IPv6. Everything is compared in IPv6 form, IPv4 as `::ffff:a.b.c.d`, so an
//! IPv4 network also matches IPv4-mapped peers and the other way round.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

/// One network: an address and how many leading bits of it must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    /// The address in IPv6 form, host bits cleared.
    bits: u128,
    /// Leading bits that count, 0..=128 (an IPv4 `/n` is `96 + n`).
    prefix: u8,
}

fn v6_form(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn mask(prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => u128::MAX << (128 - u32::from(p.min(128))),
    }
}

impl Network {
    /// The network of exactly one address.
    pub fn host(ip: IpAddr) -> Network {
        Network {
            bits: v6_form(ip),
            prefix: 128,
        }
    }

    /// Whether `ip` lies in the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        (v6_form(ip) ^ self.bits) & mask(self.prefix) == 0
    }

    /// Whether any of `nets` contains `ip`.
    pub fn any_contains(nets: &[Network], ip: IpAddr) -> bool {
        nets.iter().any(|n| n.contains(ip))
    }
}

/// Why a network did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadNetwork;

impl FromStr for Network {
    type Err = BadNetwork;

    fn from_str(s: &str) -> Result<Network, BadNetwork> {
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = addr.parse().map_err(|_| BadNetwork)?;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let (max, base) = if ip.is_ipv4() { (32, 96) } else { (128, 0) };
        let prefix = match bits {
            None => 128,
            Some(b) => {
                if b.is_empty() || !b.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(BadNetwork);
                }
                let n: u8 = b.parse().map_err(|_| BadNetwork)?;
                if n > max {
                    return Err(BadNetwork);
                }
                base + n
            }
        };
        Ok(Network {
            bits: v6_form(ip) & mask(prefix),
            prefix,
        })
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v6 = Ipv6Addr::from(self.bits);
        match v6.to_ipv4_mapped() {
            Some(v4) if self.prefix >= 96 => write!(f, "{v4}/{}", self.prefix - 96),
            _ => write!(f, "{v6}/{}", self.prefix),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Network {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_networks_match_plain_and_mapped_addresses() {
        let cdn = net("173.245.48.0/20");
        assert!(cdn.contains(ip("173.245.48.1")));
        assert!(cdn.contains(ip("173.245.63.255")));
        assert!(cdn.contains(ip("::ffff:173.245.50.7")));
        assert!(!cdn.contains(ip("173.245.64.0")));
        assert!(!cdn.contains(ip("173.245.47.255")));
        assert_eq!(cdn.to_string(), "173.245.48.0/20");
    }

    #[test]
    fn ipv6_networks_and_single_addresses() {
        let n = net("2400:cb00::/32");
        assert!(n.contains(ip("2400:cb00:1::5")));
        assert!(!n.contains(ip("2400:cb01::1")));
        assert!(!n.contains(ip("173.245.48.1")));
        let one = net("10.0.0.7");
        assert!(one.contains(ip("10.0.0.7")) && !one.contains(ip("10.0.0.8")));
        assert_eq!(one, Network::host(ip("10.0.0.7")));
        assert!(net("[::1]").contains(ip("::1")));
        assert!(net("0.0.0.0/0").contains(ip("192.0.2.1")));
        assert!(!net("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(net("::/0").contains(ip("192.0.2.1")));
        // Host bits set in the address are ignored, as opentracker does.
        assert_eq!(net("10.1.2.3/8"), net("10.0.0.0/8"));
    }

    #[test]
    fn malformed_networks_are_refused() {
        for bad in [
            "",
            "nothost",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/x",
            "10.0.0.0/+8",
            "10.0.0/8",
            "10.0.0.0/8/8",
        ] {
            assert_eq!(bad.parse::<Network>(), Err(BadNetwork), "{bad}");
        }
    }
}
