//! The guest's own (WASI) network access: denied unless the policy lists
//! addresses it may connect to.

use std::net::{IpAddr, SocketAddr};

/// One `tcp-connect` grant: an IP and a port (`None` = any port). Written
/// (and serialized) as `IP:PORT`, `[IPv6]:PORT`, `IP:*` or `[IPv6]:*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(into = "String")]
pub struct AddrPattern {
    /// The IP address.
    pub ip: IpAddr,
    /// The port, or any.
    pub port: Option<u16>,
}

impl AddrPattern {
    /// Parse `IP:PORT`, `[IPv6]:PORT`, `IP:*` or `[IPv6]:*`. Host names are
    /// not accepted: the check runs on resolved addresses.
    pub fn parse(s: &str) -> Result<AddrPattern, String> {
        let bad = || format!("`{s}` is not an address pattern; use IP:PORT, [IPv6]:PORT or IP:*");
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let ip: IpAddr = host.parse().map_err(|_| bad())?;
        let port = match port {
            "*" => None,
            p => Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad)?),
        };
        Ok(AddrPattern { ip, port })
    }
}

impl std::fmt::Display for AddrPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:")?,
            IpAddr::V6(ip) => write!(f, "[{ip}]:")?,
        }
        match self.port {
            Some(port) => write!(f, "{port}"),
            None => f.write_str("*"),
        }
    }
}

impl From<AddrPattern> for String {
    fn from(p: AddrPattern) -> String {
        p.to_string()
    }
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
        let p = AddrPattern::parse("127.0.0.1:8080").unwrap();
        assert!(addr_allowed(&[p], "127.0.0.1:8080".parse().unwrap()));
        assert!(!addr_allowed(&[p], "127.0.0.1:8081".parse().unwrap()));
        let any = AddrPattern::parse("[::1]:*").unwrap();
        assert!(addr_allowed(&[any], "[::1]:1".parse().unwrap()));
        for bad in ["example.com:80", "1.2.3.4:0", "1.2.3.4", "1.2.3.4:http", "[::1]:", ""] {
            let e = AddrPattern::parse(bad).unwrap_err();
            assert!(e.contains("use IP:PORT"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn patterns_print_as_they_are_written() {
        for s in ["127.0.0.1:8080", "10.0.0.1:*", "[::1]:443", "[fe80::1]:*"] {
            let p = AddrPattern::parse(s).unwrap();
            assert_eq!(p.to_string(), s);
            assert_eq!(serde_json::to_value(p).unwrap(), serde_json::json!(s));
        }
        // An unbracketed IPv6 address is read, and printed bracketed.
        assert_eq!(AddrPattern::parse("::1:80").unwrap().to_string(), "[::1]:80");
    }
}
