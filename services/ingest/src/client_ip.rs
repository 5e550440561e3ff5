//! Who is really calling: the TCP peer, unless the peer is one of our own proxies, in which
//! case the address it recorded in `X-Forwarded-For`.
//!
//! The header is read from the right: each proxy appends the address it saw, so the entries
//! we can believe are the ones added by trusted proxies, and the first address a trusted
//! proxy vouches for that is not itself a trusted proxy is the client. Anything further left
//! was written by the client and is ignored. A peer that is not a trusted proxy is the client,
//! whatever header it sends.

use std::net::IpAddr;

use ipnet::IpNet;

/// Resolves client addresses behind a configured set of trusted proxies.
#[derive(Debug, Clone, Default)]
pub struct ClientIpResolver {
    trusted: Vec<IpNet>,
}

impl ClientIpResolver {
    /// Believes `X-Forwarded-For` only from peers inside `trusted`.
    #[must_use]
    pub fn new(trusted: Vec<IpNet>) -> Self {
        Self { trusted }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client address of a request from `peer` carrying the given `X-Forwarded-For`
    /// header values (in the order they appear).
    #[must_use]
    pub fn resolve<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl DoubleEndedIterator<Item = &'a [u8]>,
    ) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.is_trusted(client) {
            return client;
        }
        for value in forwarded_for.rev() {
            let Ok(value) = std::str::from_utf8(value) else {
                return client;
            };
            for entry in value.rsplit(',') {
                let Some(hop) = parse_hop(entry) else {
                    // An entry we cannot read: nothing to its left can be believed.
                    return client;
                };
                client = hop;
                if !self.is_trusted(client) {
                    return client;
                }
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:80`,
/// `[2001:db8::1]:443`).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(socket) = entry.parse::<std::net::SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(trusted: &[&str]) -> ClientIpResolver {
        ClientIpResolver::new(trusted.iter().map(|n| n.parse().unwrap()).collect())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn resolve(r: &ClientIpResolver, peer: &str, headers: &[&str]) -> IpAddr {
        r.resolve(ip(peer), headers.iter().map(|h| h.as_bytes()))
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let r = resolver(&["10.0.0.0/8"]);
        assert_eq!(resolve(&r, "203.0.113.9", &["10.1.1.1"]), ip("203.0.113.9"));
        assert_eq!(resolve(&r, "203.0.113.9", &[]), ip("203.0.113.9"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_spoofed_entries_to_its_left_are_ignored() {
        let r = resolver(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(&r, "10.0.0.2", &["198.51.100.7"]),
            ip("198.51.100.7")
        );
        // The client wrote 1.1.1.1 itself; the proxy appended what it saw.
        assert_eq!(
            resolve(&r, "10.0.0.2", &["1.1.1.1, 198.51.100.7"]),
            ip("198.51.100.7")
        );
        // Two proxy hops, spread over two header lines.
        assert_eq!(
            resolve(&r, "10.0.0.2", &["1.1.1.1, 198.51.100.7", "10.0.0.3"]),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_trusted_proxy_without_a_header_or_with_garbage_is_the_client() {
        let r = resolver(&["10.0.0.0/8"]);
        assert_eq!(resolve(&r, "10.0.0.2", &[]), ip("10.0.0.2"));
        assert_eq!(resolve(&r, "10.0.0.2", &["not-an-ip"]), ip("10.0.0.2"));
        assert_eq!(
            resolve(&r, "10.0.0.2", &["1.1.1.1, nonsense, 10.0.0.3"]),
            ip("10.0.0.3")
        );
    }

    #[test]
    fn ports_brackets_and_mapped_addresses_are_understood() {
        let r = resolver(&["10.0.0.0/8", "::1/128"]);
        assert_eq!(
            resolve(&r, "::ffff:10.0.0.2", &["198.51.100.7:1234"]),
            ip("198.51.100.7")
        );
        assert_eq!(
            resolve(&r, "::1", &["[2001:db8::1]:443"]),
            ip("2001:db8::1")
        );
        assert_eq!(resolve(&r, "::ffff:203.0.113.9", &[]), ip("203.0.113.9"));
    }
}
