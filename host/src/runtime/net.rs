//! The guest's own (WASI) network access: denied unless the policy lists
//! addresses it may connect to.

use std::net::{IpAddr, SocketAddr};

/// One `tcp-connect` grant: an IP and a port (`None` = any port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrPattern {
    /// The IP address.
    pub ip: IpAddr,
    /// The port, or any.
    pub port: Option<u16>,
}

/// Parse `IP:PORT`, `[IPv6]:PORT`, `IP:*` or `[IPv6]:*`. Host names are not
/// accepted: the check runs on resolved addresses.
pub fn parse_addr_pattern(s: &str) -> Option<AddrPattern> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let ip: IpAddr = host.parse().ok()?;
    let port = if port == "*" { None } else { Some(port.parse::<u16>().ok().filter(|p| *p > 0)?) };
    Some(AddrPattern { ip, port })
}

/// Whether a guest socket may use `addr` this way: outgoing TCP connections
/// to granted addresses (and the implicit wildcard bind that precedes a
/// connect) only; no listening, accepting or UDP.
pub fn use_allowed(patterns: &[AddrPattern], addr: SocketAddr, how: wasmtime_wasi::sockets::SocketAddrUse) -> bool {
    use wasmtime_wasi::sockets::SocketAddrUse;
    match how {
        SocketAddrUse::TcpConnect => addr_allowed(patterns, addr),
        SocketAddrUse::TcpBind => !patterns.is_empty() && addr.ip().is_unspecified() && addr.port() == 0,
        _ => false,
    }
}

/// Whether `addr` is granted by any of `patterns`.
pub fn addr_allowed(patterns: &[AddrPattern], addr: SocketAddr) -> bool {
    patterns.iter().any(|p| p.ip == addr.ip() && p.port.is_none_or(|port| port == addr.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let p = parse_addr_pattern("127.0.0.1:8080").unwrap();
        assert!(addr_allowed(&[p], "127.0.0.1:8080".parse().unwrap()));
        assert!(!addr_allowed(&[p], "127.0.0.1:8081".parse().unwrap()));
        let any = parse_addr_pattern("[::1]:*").unwrap();
        assert!(addr_allowed(&[any], "[::1]:1".parse().unwrap()));
        assert!(parse_addr_pattern("example.com:80").is_none());
        assert!(parse_addr_pattern("1.2.3.4:0").is_none());
        assert!(parse_addr_pattern("1.2.3.4").is_none());
    }
}
