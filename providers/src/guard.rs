//! Keeps user-supplied URLs from reaching inside the network (SSRF): every address a name
//! resolves to, and every IP literal, is checked before a connection is made, on the first
//! request and on every redirect.
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

/// Why an address is refused; `None` when it is a public address.
pub fn forbidden(ip: IpAddr, allow_private: bool) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4, allow_private),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4, allow_private),
            None => forbidden_v6(v6, allow_private),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr, allow_private: bool) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    // Link-local (cloud metadata lives at 169.254.169.254), multicast and "this network" are
    // never a feed, whatever the operator allows.
    if ip.is_unspecified() || a == 0 {
        Some("an unspecified address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        Some("a multicast or reserved address")
    } else if allow_private {
        None
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private network address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (carrier-grade NAT) address")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("a benchmarking network address")
    } else if a == 192 && b == 0 && c == 0 {
        Some("a protocol-assignment (reserved) address")
    } else {
        None
    }
}

/// The IPv4 address an IPv6 address carries where that reaches an IPv4 host: NAT64
/// (`64:ff9b::/96`), 6to4 (`2002::/16`) and the old IPv4-compatible form (`::a.b.c.d`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    match s {
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 => Some(v4(hi, lo)),
        _ => None,
    }
}

fn forbidden_v6(ip: Ipv6Addr, allow_private: bool) -> Option<&'static str> {
    let [first, second, ..] = ip.segments();
    if let Some(v4) = embedded_v4(ip) {
        return forbidden_v4(v4, allow_private);
    }
    if ip.is_unspecified() {
        Some("an unspecified address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if allow_private {
        None
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a unique-local (private) address")
    } else if first & 0xffc0 == 0xfec0 {
        Some("a site-local (private) address")
    } else if first == 0x64 && second == 0xff9b {
        // 64:ff9b:1::/48: a network's own NAT64, with its own embedding.
        Some("a local NAT64 address")
    } else if first == 0x2001 && second == 0 {
        // Teredo tunnels to an IPv4 host it hides.
        Some("a Teredo tunnel address")
    } else {
        None
    }
}

/// A refused connection, carried through reqwest's error chain. Its message names the host as
/// given and the kind of address, never the inside address a name resolved to.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{host} {} {reason}", if host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok() { "is" } else { "resolves to" })]
pub struct Refused {
    pub host: String,
    pub ip: IpAddr,
    pub reason: &'static str,
}

/// The name lookups, injectable so tests resolve names to chosen addresses without DNS.
pub trait Resolver: Send + Sync {
    fn lookup(&self, host: String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;
}

/// The operating system's resolver.
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(&self, host: String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.map(|a| a.ip()).collect()) })
    }
}

/// A fixed table of names, for tests.
pub struct StaticResolver(pub Vec<(String, IpAddr)>);

impl Resolver for StaticResolver {
    fn lookup(&self, host: String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> {
        let found: Vec<IpAddr> = self.0.iter().filter(|(h, _)| h.eq_ignore_ascii_case(&host)).map(|(_, ip)| *ip).collect();
        Box::pin(async move {
            if found.is_empty() {
                Err(std::io::Error::new(std::io::ErrorKind::NotFound, format!("no address for {host}")))
            } else {
                Ok(found)
            }
        })
    }
}

/// reqwest's resolver hook: resolve, then refuse the name if any of its addresses is refused
/// (checking at connect time leaves no gap for a name that changes between check and use).
pub struct Guarded {
    pub inner: Arc<dyn Resolver>,
    pub allow_private: bool,
    /// See `FeedLimits::public_stand_ins`.
    pub stand_ins: Vec<IpAddr>,
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let inner = self.inner.clone();
        let allow_private = self.allow_private;
        let stand_ins = self.stand_ins.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let ips = inner.lookup(host.clone()).await?;
            let refused = ips.iter().filter(|ip| !stand_ins.contains(ip)).find_map(|ip| forbidden(*ip, allow_private).map(|r| (*ip, r)));
            if let Some((ip, reason)) = refused {
                return Err(Box::new(Refused { host, ip, reason }) as Box<dyn std::error::Error + Send + Sync>);
            }
            let addrs: reqwest::dns::Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ip: &str, allow: bool) -> Option<&'static str> {
        forbidden(ip.parse().unwrap(), allow)
    }

    #[test]
    fn refuses_inside_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12::1",
            "ff02::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            // NAT64, 6to4 and IPv4-compatible forms of inside addresses; local NAT64, Teredo,
            // site-local; benchmarking and protocol-assignment ranges.
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b:1::a00:1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "::127.0.0.1",
            "::10.0.0.1",
            "fec0::1",
            "198.18.0.1",
            "198.19.255.1",
            "192.0.0.8",
        ] {
            assert!(check(ip, false).is_some(), "{ip} should be refused");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1", "100.128.0.1", "172.32.0.1", "64:ff9b::5db8:d822", "2002:5db8:d822::1", "198.20.0.1", "2001:db9::1"] {
            assert_eq!(check(ip, false), None, "{ip} should be allowed");
        }
    }

    #[test]
    fn operators_may_allow_private_and_loopback_but_not_link_local() {
        assert_eq!(check("127.0.0.1", true), None);
        assert_eq!(check("10.0.0.1", true), None);
        assert_eq!(check("::ffff:192.168.0.1", true), None);
        assert!(check("169.254.169.254", true).is_some());
        assert!(check("0.0.0.0", true).is_some());
    }
}
