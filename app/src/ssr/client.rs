//! The client's address, for throttling and the audit trail. Behind a reverse proxy the peer is
//! the proxy; only then, and only when the peer is one of `CALSYNC_TRUSTED_PROXIES`, is
//! `X-Forwarded-For` believed: walking it from the right, the first address that is not a
//! trusted proxy is the client (anything left of it was written by the client itself).
use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let peer = peer?;
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<&str> =
        headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim).filter(|s| !s.is_empty()).collect();
    // From the right: our proxies' entries, then the client. An entry that is no address was
    // not written by a proxy of ours: the client is unknown (never taken for the proxy).
    let mut last_trusted = peer;
    for entry in forwarded.iter().rev() {
        match entry.parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => last_trusted = ip,
            Ok(ip) => return Some(ip),
            Err(_) => return None,
        }
    }
    Some(last_trusted)
}

/// Did the request come through a proxy (it says whom it forwards)? Behind a proxy that is not
/// one of `CALSYNC_TRUSTED_PROXIES`, the peer address says nothing about the client.
pub fn forwarded(headers: &HeaderMap) -> bool {
    ["x-forwarded-for", "forwarded", "x-real-ip"].iter().any(|h| headers.contains_key(*h))
}

/// The client of the current server function call, as text ("unknown" without a peer).
pub async fn current() -> String {
    let state = leptos::prelude::expect_context::<super::AppState>();
    let peer = leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>().await.ok().map(|c| c.0.ip());
    let headers = leptos_axum::extract::<HeaderMap>().await.unwrap_or_default();
    client_ip(peer, &headers, &state.config.trusted_proxies).map(|ip| ip.to_string()).unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let trusted: Vec<IpNet> = server::config::parse_networks("10.0.0.0/8, ::1").unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Straight from the internet: the header is the client's own words and is ignored.
        assert_eq!(client_ip(Some(ip("203.0.113.9")), &headers(&["1.2.3.4"]), &trusted), Some(ip("203.0.113.9")));
        // Through our proxy: the address the proxy appended.
        assert_eq!(client_ip(Some(ip("10.0.0.2")), &headers(&["198.51.100.7"]), &trusted), Some(ip("198.51.100.7")));
        // A client that forges a first entry gets the address our proxy saw, not its forgery.
        assert_eq!(client_ip(Some(ip("10.0.0.2")), &headers(&["1.1.1.1, 198.51.100.7"]), &trusted), Some(ip("198.51.100.7")));
        // Two proxies of ours in a row, over two header lines.
        assert_eq!(client_ip(Some(ip("::1")), &headers(&["1.1.1.1, 198.51.100.7", "10.1.1.1"]), &trusted), Some(ip("198.51.100.7")));
        // Whatever a client writes left of the address our proxy appended is not read...
        assert_eq!(client_ip(Some(ip("10.0.0.2")), &headers(&["garbage, 198.51.100.7"]), &trusted), Some(ip("198.51.100.7")));
        // ... and an entry that is no address where our proxy writes makes the client unknown,
        // never the proxy itself.
        assert_eq!(client_ip(Some(ip("10.0.0.2")), &headers(&["garbage"]), &trusted), None);
        // A trusted proxy that forwarded nothing: the proxy itself.
        assert_eq!(client_ip(Some(ip("10.0.0.2")), &headers(&[]), &trusted), Some(ip("10.0.0.2")));
        // No proxies configured: the peer, always.
        assert_eq!(client_ip(Some(ip("10.0.0.2")), &headers(&["198.51.100.7"]), &[]), Some(ip("10.0.0.2")));
    }
}
