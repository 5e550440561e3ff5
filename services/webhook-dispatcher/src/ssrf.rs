//! Where the dispatcher may connect. Subscribers choose their URLs, so without a guard any
//! tenant could make us POST into our own network: the cloud metadata service, a database's
//! HTTP port, an admin endpoint on loopback.
//!
//! The check runs on the *resolved* address, at the moment of connecting: [`GuardedResolver`]
//! is the HTTP client's only resolver and hands it allowed addresses only, so a name that
//! resolves to a public address when the endpoint is saved and to 127.0.0.1 when we deliver
//! (DNS rebinding) is still refused. URLs with an IP literal never reach a resolver, so
//! [`AddressPolicy::check_url`] runs before every request too. The client must also follow no
//! redirects and use no proxy (a proxy would connect on our behalf, past this check).

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// RFC 1918, RFC 6598 shared (carrier-grade NAT) space, IPv6 unique-local fc00::/7.
    Private,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// Cloud instance metadata services (169.254.169.254, fd00:ec2::254, 100.100.100.200):
    /// refused even where private networks are allowed, since they hand out credentials.
    Metadata,
    /// Multicast and broadcast: not a single receiver.
    Multicast,
    /// 0.0.0.0, ::, and reserved, documentation or benchmarking ranges that no real
    /// subscriber lives in.
    Reserved,
}

impl Refusal {
    /// Metric label and log field.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link_local",
            Self::Metadata => "metadata",
            Self::Multicast => "multicast",
            Self::Reserved => "reserved",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Loopback => "a loopback address",
            Self::Private => "a private network address",
            Self::LinkLocal => "a link-local address",
            Self::Metadata => "a cloud metadata service address",
            Self::Multicast => "a multicast or broadcast address",
            Self::Reserved => "an unspecified or reserved address",
        })
    }
}

/// A refused destination, with the address that was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host} resolves to {address}, {reason}; deliveries there are refused")]
pub struct Refused {
    /// The URL's host as written.
    pub host: String,
    /// The offending address.
    pub address: IpAddr,
    /// What kind of address it is.
    pub reason: Refusal,
}

/// Which destinations are allowed.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddressPolicy {
    /// Allow loopback, private and link-local addresses (`dispatcher.allow_private_networks`:
    /// tests and `switchyard dev`, whose receivers run on the same machine). Metadata services,
    /// multicast and reserved addresses stay refused.
    pub allow_private_networks: bool,
}

impl AddressPolicy {
    /// `Ok` when `address` may be connected to.
    pub fn check(self, address: IpAddr) -> Result<(), Refusal> {
        match classify(address) {
            None => Ok(()),
            Some(Refusal::Loopback | Refusal::Private | Refusal::LinkLocal)
                if self.allow_private_networks =>
            {
                Ok(())
            }
            Some(refusal) => Err(refusal),
        }
    }

    /// Checks a URL whose host is an IP literal; names are checked when they resolve.
    pub fn check_url(self, url: &Url) -> Result<(), Refused> {
        let address = match url.host() {
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
            Some(Host::Domain(_)) | None => return Ok(()),
        };
        self.check(address).map_err(|reason| Refused {
            host: url.host_str().unwrap_or_default().to_owned(),
            address,
            reason,
        })
    }
}

/// What kind of non-public address this is, if it is one.
#[must_use]
pub fn classify(address: IpAddr) -> Option<Refusal> {
    match address {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Refusal> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some(Refusal::Loopback)
    } else if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) {
        // AWS, GCP, Azure, OpenStack / Alibaba Cloud.
        Some(Refusal::Metadata)
    } else if ip.is_link_local() {
        Some(Refusal::LinkLocal)
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some(Refusal::Private)
    } else if ip.is_multicast() || ip.is_broadcast() {
        Some(Refusal::Multicast)
    } else if a == 0                       // "this network"
        || a >= 240                        // reserved for future use
        || (a == 192 && b == 0 && c == 0)  // IETF protocol assignments
        || ip.is_documentation()
        || (a == 198 && (b & 0xfe) == 18)
    // benchmarking, 198.18.0.0/15
    {
        Some(Refusal::Reserved)
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<Refusal> {
    // An IPv4 address in IPv6 clothing reaches the IPv4 host: judge it as one.
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let segments = ip.segments();
    if ip.is_loopback() {
        Some(Refusal::Loopback)
    } else if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        Some(Refusal::Metadata)
    } else if (segments[0] & 0xffc0) == 0xfe80 {
        Some(Refusal::LinkLocal)
    } else if (segments[0] & 0xfe00) == 0xfc00 {
        Some(Refusal::Private)
    } else if ip.is_multicast() {
        Some(Refusal::Multicast)
    } else if ip.is_unspecified()
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] & 0xe000) != 0x2000
    // outside global unicast 2000::/3
    {
        Some(Refusal::Reserved)
    } else {
        None
    }
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`, deprecated but still routed by some stacks), NAT64
/// (`64:ff9b::/96`) and 6to4 (`2002:AABB:CCDD::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let low = Ipv4Addr::new(
        (s[6] >> 8) as u8,
        (s[6] & 0xff) as u8,
        (s[7] >> 8) as u8,
        (s[7] & 0xff) as u8,
    );
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return Some(low);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(low);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            (s[1] & 0xff) as u8,
            (s[2] >> 8) as u8,
            (s[2] & 0xff) as u8,
        ));
    }
    None
}

/// The HTTP client's resolver: resolves with the system resolver and passes on only the
/// addresses the policy allows, failing with [`Refused`] when none is left.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: AddressPolicy,
}

impl GuardedResolver {
    /// A resolver enforcing `policy`.
    #[must_use]
    pub fn new(policy: AddressPolicy) -> Arc<Self> {
        Arc::new(Self { policy })
    }

    /// Resolves `host` and keeps the allowed addresses.
    pub async fn resolve_allowed(
        &self,
        host: &str,
    ) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
        let mut refused = None;
        let allowed: Vec<SocketAddr> = resolved
            .into_iter()
            .filter(|addr| match self.policy.check(addr.ip()) {
                Ok(()) => true,
                Err(reason) => {
                    refused.get_or_insert((addr.ip(), reason));
                    false
                }
            })
            .collect();
        match (allowed.is_empty(), refused) {
            (true, Some((address, reason))) => Err(Box::new(Refused {
                host: host.to_owned(),
                address,
                reason,
            })),
            (true, None) => Err(format!("{host} resolves to no address").into()),
            (false, _) => Ok(allowed),
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            let allowed = this.resolve_allowed(name.as_str()).await?;
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn public_addresses_pass() {
        for public in [
            "93.184.215.14",
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "2606:4700::1111",
            "2a00:1450:4001:80b::200e",
        ] {
            assert_eq!(classify(ip(public)), None, "{public}");
        }
    }

    #[test]
    fn every_kind_of_internal_address_is_classified() {
        let cases = [
            ("127.0.0.1", Refusal::Loopback),
            ("127.255.255.254", Refusal::Loopback),
            ("::1", Refusal::Loopback),
            ("10.0.0.1", Refusal::Private),
            ("172.16.5.4", Refusal::Private),
            ("172.31.255.255", Refusal::Private),
            ("192.168.1.1", Refusal::Private),
            ("100.64.0.1", Refusal::Private),
            ("fd12:3456::1", Refusal::Private),
            ("fc00::1", Refusal::Private),
            ("169.254.10.20", Refusal::LinkLocal),
            ("fe80::1", Refusal::LinkLocal),
            ("169.254.169.254", Refusal::Metadata),
            ("100.100.100.200", Refusal::Metadata),
            ("fd00:ec2::254", Refusal::Metadata),
            ("224.0.0.1", Refusal::Multicast),
            ("255.255.255.255", Refusal::Multicast),
            ("ff02::1", Refusal::Multicast),
            ("0.0.0.0", Refusal::Reserved),
            ("0.1.2.3", Refusal::Reserved),
            ("240.0.0.1", Refusal::Reserved),
            ("192.0.0.8", Refusal::Reserved),
            ("192.0.2.1", Refusal::Reserved),
            ("198.18.0.1", Refusal::Reserved),
            ("198.19.255.255", Refusal::Reserved),
            ("::", Refusal::Reserved),
            ("2001:db8::1", Refusal::Reserved),
            ("100::1", Refusal::Reserved),
        ];
        for (address, expected) in cases {
            assert_eq!(classify(ip(address)), Some(expected), "{address}");
        }
    }

    #[test]
    fn ipv4_wrapped_in_ipv6_is_judged_as_ipv4() {
        let cases = [
            ("::ffff:127.0.0.1", Refusal::Loopback),
            ("::ffff:169.254.169.254", Refusal::Metadata),
            ("::ffff:10.1.2.3", Refusal::Private),
            ("::127.0.0.1", Refusal::Loopback),
            ("64:ff9b::a9fe:a9fe", Refusal::Metadata),
            ("64:ff9b::c0a8:0101", Refusal::Private),
            ("2002:7f00:0001::1", Refusal::Loopback),
            ("2002:a9fe:a9fe::", Refusal::Metadata),
        ];
        for (address, expected) in cases {
            assert_eq!(classify(ip(address)), Some(expected), "{address}");
        }
        assert_eq!(classify(ip("::ffff:8.8.8.8")), None);
        assert_eq!(classify(ip("64:ff9b::808:808")), None);
    }

    #[test]
    fn allowing_private_networks_never_allows_metadata_or_reserved() {
        let open = AddressPolicy {
            allow_private_networks: true,
        };
        for allowed in ["127.0.0.1", "::1", "10.0.0.1", "fe80::1", "169.254.1.1"] {
            assert_eq!(open.check(ip(allowed)), Ok(()), "{allowed}");
        }
        assert_eq!(open.check(ip("169.254.169.254")), Err(Refusal::Metadata));
        assert_eq!(open.check(ip("0.0.0.0")), Err(Refusal::Reserved));
        assert_eq!(open.check(ip("224.0.0.1")), Err(Refusal::Multicast));

        let closed = AddressPolicy::default();
        assert_eq!(closed.check(ip("127.0.0.1")), Err(Refusal::Loopback));
        assert_eq!(closed.check(ip("8.8.8.8")), Ok(()));
    }

    #[test]
    fn ip_literal_urls_are_checked_before_any_resolver_runs() {
        let policy = AddressPolicy::default();
        let refused = policy
            .check_url(&Url::parse("http://169.254.169.254/latest/meta-data/").unwrap())
            .unwrap_err();
        assert_eq!(refused.reason, Refusal::Metadata);
        assert_eq!(
            refused.to_string(),
            "169.254.169.254 resolves to 169.254.169.254, a cloud metadata service address; \
             deliveries there are refused"
        );
        assert_eq!(
            policy
                .check_url(&Url::parse("http://[::ffff:7f00:1]:8080/").unwrap())
                .unwrap_err()
                .reason,
            Refusal::Loopback
        );
        // Names are left to the resolver.
        assert!(
            policy
                .check_url(&Url::parse("https://hooks.example.com/").unwrap())
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_unless_allowed() {
        let refused = GuardedResolver::new(AddressPolicy::default())
            .resolve_allowed("localhost")
            .await
            .unwrap_err();
        let refused = refused.downcast_ref::<Refused>().unwrap();
        assert_eq!(refused.reason, Refusal::Loopback);
        assert_eq!(refused.host, "localhost");

        let allowed = GuardedResolver::new(AddressPolicy {
            allow_private_networks: true,
        })
        .resolve_allowed("localhost")
        .await
        .unwrap();
        assert!(allowed.iter().all(|a| a.ip().is_loopback()), "{allowed:?}");
    }

    #[tokio::test]
    async fn a_client_using_the_resolver_never_connects_to_a_refused_address() {
        // A listener on loopback that would answer if the client reached it.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = reqwest::Client::builder()
            .dns_resolver(GuardedResolver::new(AddressPolicy::default()))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let error = client
            .post(format!("http://localhost:{port}/hook"))
            .send()
            .await
            .unwrap_err();
        assert!(error.is_connect(), "{error:?}");
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        let mut found = false;
        while let Some(e) = source {
            found |= e.downcast_ref::<Refused>().is_some();
            source = e.source();
        }
        assert!(found, "the refusal is in the error chain: {error:?}");
        let accepted =
            tokio::time::timeout(std::time::Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "the client reached the refused address");
    }
}
