//! Which address a request came from, when reverse proxies stand in front of the runtime.
//!
//! The runtime reports its TCP peer in `spin-client-addr`. Behind nginx or Caddy that peer is the
//! proxy, and the client's own address is in `X-Forwarded-For`, which anyone can also send. So the
//! header is believed only as far as it was written by proxies the operator listed in the
//! `trusted_proxies` variable: starting at the peer, each listed hop vouches for the entry it
//! appended (the right-most one not yet read); the first address whose writer is not listed is the
//! client. Login throttling and rate limits count by that address, so a spoofed header must never
//! move a client's counter somewhere else.

use std::net::{IpAddr, SocketAddr};

/// Proxies whose `X-Forwarded-For` entries are believed: single addresses and CIDR blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    blocks: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// None: the peer is the client, whatever the headers say (the default).
    pub fn none() -> TrustedProxies {
        TrustedProxies::default()
    }

    /// A comma- or space-separated list of IPs and CIDRs (`10.0.0.5, 192.168.0.0/16, fd00::/8`).
    /// Empty means none. An entry that does not parse is an error naming it, so a typo cannot
    /// silently trust nobody (or everybody).
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let mut blocks = Vec::new();
        for entry in list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
        {
            let (ip, len) = match entry.split_once('/') {
                Some((ip, len)) => (ip, Some(len)),
                None => (entry, None),
            };
            let ip: IpAddr = ip
                .parse()
                .map(canonical)
                .map_err(|_| format!("{entry:?} is not an IP address or CIDR block"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len = match len {
                None => max,
                Some(len) => len
                    .parse::<u8>()
                    .ok()
                    .filter(|&l| l <= max)
                    .ok_or_else(|| format!("{entry:?} has an invalid prefix length"))?,
            };
            blocks.push((ip, len));
        }
        Ok(TrustedProxies { blocks })
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.blocks
            .iter()
            .any(|&(block, len)| same_prefix(block, ip, len))
    }

    /// The client's address: `peer` (what the runtime saw) unless it is a trusted proxy, in which
    /// case the `X-Forwarded-For` entries (`forwarded_for`, every header value in order) are read
    /// from the right while their writer is trusted. An entry that is not an address ends the walk
    /// at the hop that wrote it: a trusted proxy never writes one, so it came from further out.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let mut client = canonical(peer);
        if self.is_empty() {
            return client;
        }
        let entries = forwarded_for
            .iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for entry in entries.iter().rev() {
            if !self.contains(client) {
                break;
            }
            match parse_addr(entry) {
                Some(ip) => client = ip,
                None => break,
            }
        }
        client
    }
}

/// An address as the runtime or a proxy writes it: `ip`, `ip:port`, `[v6]` or `[v6]:port`.
pub fn parse_addr(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    text.parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|s| s.ip()))
        .or_else(|_| {
            text.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
        })
        .ok()
        .map(canonical)
}

/// An IPv4 client of a dual-stack listener arrives as `::ffff:a.b.c.d`; count it as `a.b.c.d`,
/// the form operators write in the list.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn same_prefix(block: IpAddr, ip: IpAddr, len: u8) -> bool {
    fn masked(bits: u128, width: u32, len: u8) -> u128 {
        let len = u32::from(len);
        if len == 0 {
            0
        } else {
            bits >> (width - len)
        }
    }
    match (block, ip) {
        (IpAddr::V4(b), IpAddr::V4(i)) => {
            masked(u32::from(b).into(), 32, len) == masked(u32::from(i).into(), 32, len)
        }
        (IpAddr::V6(b), IpAddr::V6(i)) => {
            masked(u128::from(b), 128, len) == masked(u128::from(i), 128, len)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn lists_parse_addresses_and_blocks_and_name_a_bad_entry() {
        let t = TrustedProxies::parse(" 10.0.0.5, 192.168.0.0/16 fd00::/8,::1 ").unwrap();
        assert!(t.contains(ip("10.0.0.5")));
        assert!(!t.contains(ip("10.0.0.6")));
        assert!(t.contains(ip("192.168.44.1")));
        assert!(!t.contains(ip("192.169.0.1")));
        assert!(t.contains(ip("fd12:3456::1")));
        assert!(t.contains(ip("::1")));
        assert!(!t.contains(ip("fe80::1")));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(TrustedProxies::parse("0.0.0.0/0")
            .unwrap()
            .contains(ip("8.8.8.8")));
        for bad in [
            "10.0.0.300",
            "10.0.0.0/33",
            "::/129",
            "proxy.local",
            "10.0.0.0/x",
        ] {
            let err = TrustedProxies::parse(bad).unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_entries() {
        let t = TrustedProxies::parse("127.0.0.0/8").unwrap();
        assert!(t.contains(ip("::ffff:127.0.0.1")));
        assert_eq!(parse_addr("[::ffff:10.1.2.3]:80"), Some(ip("10.1.2.3")));
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = TrustedProxies::none();
        assert_eq!(
            none.client(ip("203.0.113.9"), &["198.51.100.1"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let t = TrustedProxies::parse("10.0.0.1").unwrap();
        assert_eq!(
            t.client(ip("203.0.113.9"), &["198.51.100.1"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_peer_vouches_for_the_right_most_entry_only() {
        let t = TrustedProxies::parse("10.0.0.1, 10.0.0.2").unwrap();
        // The client wrote "1.1.1.1" itself; the proxy appended the address it saw.
        assert_eq!(
            t.client(ip("10.0.0.1"), &["1.1.1.1, 203.0.113.9"]),
            ip("203.0.113.9")
        );
        // Two trusted hops, header split over two lines.
        assert_eq!(
            t.client(ip("10.0.0.1"), &["1.1.1.1, 203.0.113.9", "10.0.0.2"]),
            ip("203.0.113.9")
        );
        // Ports and brackets as some proxies write them.
        assert_eq!(
            t.client(ip("10.0.0.1"), &["[2001:db8::7]:4711"]),
            ip("2001:db8::7")
        );
        assert_eq!(
            t.client(ip("10.0.0.1"), &["203.0.113.9:5000"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_chain_of_trusted_hops_ends_at_the_left_most_or_at_garbage() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(
            t.client(ip("10.0.0.1"), &["10.9.9.9, 10.0.0.2"]),
            ip("10.9.9.9")
        );
        assert_eq!(
            t.client(ip("10.0.0.1"), &["unknown, 10.0.0.2"]),
            ip("10.0.0.2")
        );
        assert_eq!(t.client(ip("10.0.0.1"), &[]), ip("10.0.0.1"));
        assert_eq!(t.client(ip("10.0.0.1"), &[""]), ip("10.0.0.1"));
    }
}
