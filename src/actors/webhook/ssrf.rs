//! The SSRF guard: which address a delivery may dial.
//!
//! Checked at connect time against the address actually dialed: the endpoint's host is
//! resolved here (IP literals are parsed, not resolved), every address is classified, and the
//! delivery is sent to the first allowed one with awc's `ClientRequest::address`, which makes
//! the connector dial exactly that address while the URL keeps the host name for the `Host`
//! header and TLS (SNI and certificate checks). So a DNS answer that changes between the check
//! and the connection (rebinding) cannot move the connection elsewhere. Redirects are never
//! followed (the client has them disabled and a 3xx is a failed attempt), so a redirect to
//! `http://127.0.0.1/` cannot get past the guard either. A worker reuses the address it vetted
//! for a few seconds (`attempt::Vetted`) rather than resolving the name for every attempt.
//!
//! Refused unless the endpoint's host is in `webhook.allow_hosts`: every non-public range in
//! [`classify`] (the list Svix uses, plus Teredo and the cloud metadata addresses), including
//! IPv4-mapped IPv6 forms, which are judged by the IPv4 address they carry.

use std::{
    collections::HashSet,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs},
};

use url::{Host, Url};

/// Why a delivery was not sent to its endpoint's address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Blocked {
    #[error("refused: scheme {0:?} is not http or https")]
    Scheme(String),
    #[error("refused: the URL has no host")]
    NoHost,
    #[error("refused: {host} did not resolve: {error}")]
    Resolve { host: String, error: String },
    #[error("refused: {host} resolved to no address")]
    NoAddress { host: String },
    #[error("refused: {}", address_reason(.host, .ip, .class))]
    Address {
        host: String,
        ip: IpAddr,
        class: &'static str,
    },
}

fn address_reason(host: &str, ip: &IpAddr, class: &str) -> String {
    let what = if *host == ip.to_string() {
        format!("{host} is a non-public address ({class})")
    } else {
        format!("{host} resolves to {ip}, a non-public address ({class})")
    };
    format!("{what}; list {host} in webhook.allow_hosts to allow it")
}

/// The hosts exempt from the address check, compared as written in the URL (IPv6 without
/// brackets, lower case, IP literals in canonical form).
#[derive(Debug, Clone, Default)]
pub struct SsrfGuard {
    allow_hosts: HashSet<String>,
}

impl SsrfGuard {
    pub fn new<S: AsRef<str>>(allow_hosts: &[S]) -> Self {
        Self {
            allow_hosts: allow_hosts
                .iter()
                .map(|h| normalize_host(h.as_ref()))
                .collect(),
        }
    }

    /// Whether `host` (as in a URL) is allow-listed.
    pub fn allows_host(&self, host: &str) -> bool {
        self.allow_hosts.contains(&normalize_host(host))
    }

    /// The address to dial for `url`, or why none may be. Resolves names on a blocking thread.
    pub async fn vet(&self, url: &Url) -> Result<SocketAddr, Blocked> {
        let (host, port, literal) = target(url)?;
        let allowed = self.allows_host(&host);
        let candidates = match literal {
            Some(ip) => vec![SocketAddr::new(ip, port)],
            None => {
                let name = host.clone();
                actix_rt::task::spawn_blocking(move || {
                    (name.as_str(), port)
                        .to_socket_addrs()
                        .map(Iterator::collect::<Vec<_>>)
                })
                .await
                .map_err(|e| Blocked::Resolve {
                    host: host.clone(),
                    error: e.to_string(),
                })?
                .map_err(|e| Blocked::Resolve {
                    host: host.clone(),
                    error: e.to_string(),
                })?
            }
        };
        self.choose(&host, allowed, &candidates)
    }

    /// The first candidate that may be dialed; the first refusal when none may.
    fn choose(
        &self,
        host: &str,
        allowed: bool,
        candidates: &[SocketAddr],
    ) -> Result<SocketAddr, Blocked> {
        let mut refusal = None;
        for addr in candidates {
            match classify(addr.ip()) {
                Some(class) if !allowed && !self.allows_host(&addr.ip().to_string()) => {
                    refusal.get_or_insert(Blocked::Address {
                        host: host.to_owned(),
                        ip: addr.ip(),
                        class,
                    });
                }
                _ => return Ok(*addr),
            }
        }
        Err(refusal.unwrap_or_else(|| Blocked::NoAddress {
            host: host.to_owned(),
        }))
    }
}

/// Host (normalized), port, and the address when the host is an IP literal.
fn target(url: &Url) -> Result<(String, u16, Option<IpAddr>), Blocked> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Blocked::Scheme(url.scheme().to_owned()));
    }
    let port = url.port_or_known_default().ok_or(Blocked::NoHost)?;
    match url.host().ok_or(Blocked::NoHost)? {
        Host::Ipv4(ip) => Ok((ip.to_string(), port, Some(IpAddr::V4(ip)))),
        Host::Ipv6(ip) => Ok((ip.to_string(), port, Some(IpAddr::V6(ip)))),
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            // A name that is an address in disguise (`0x7f.1`, `2130706433`) was already turned
            // into Host::Ipv4 by the URL parser; anything left is resolved.
            Ok((name, port, None))
        }
    }
}

fn normalize_host(host: &str) -> String {
    let bare = host
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => bare,
    }
}

/// IPv4 ranges that are not public, most specific first (the first match names the class).
const V4_BLOCKED: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(169, 254, 169, 254), 32, "cloud metadata"),
    (Ipv4Addr::new(0, 0, 0, 0), 8, "unspecified, 0.0.0.0/8"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private, RFC 1918"),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        "shared, carrier-grade NAT",
    ),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "link-local"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private, RFC 1918"),
    (Ipv4Addr::new(192, 0, 0, 0), 24, "IETF protocol assignment"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, "documentation"),
    (Ipv4Addr::new(192, 88, 99, 0), 24, "6to4 relay"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private, RFC 1918"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, "documentation"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, "documentation"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved or broadcast"),
];

/// IPv6 ranges that are not public, most specific first. IPv4-mapped addresses
/// (`::ffff:0:0/96`) are handled before this table, by the IPv4 address they carry.
const V6_BLOCKED: &[(Ipv6Addr, u8, &str)] = &[
    (Ipv6Addr::LOCALHOST, 128, "loopback"),
    (Ipv6Addr::UNSPECIFIED, 128, "unspecified"),
    (
        Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254),
        128,
        "cloud metadata",
    ),
    (Ipv6Addr::UNSPECIFIED, 96, "deprecated IPv4-compatible"),
    (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96, "NAT64"),
    (
        Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        "local NAT64",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        "discard-only",
    ),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32, "Teredo"),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        "documentation",
    ),
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16, "6to4"),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        "documentation",
    ),
    (
        Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0),
        16,
        "segment routing, SRv6",
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        "unique-local",
    ),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, "link-local"),
    (
        Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        "deprecated site-local",
    ),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, "multicast"),
];

/// The class of a non-public address, or `None` for a public one.
pub fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => classify_v4(v4).map(mapped_class),
            None => V6_BLOCKED
                .iter()
                .find(|(net, len, _)| in_prefix(v6.to_bits(), net.to_bits(), *len, 128))
                .map(|(_, _, class)| *class),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
    V4_BLOCKED
        .iter()
        .find(|(net, len, _)| {
            in_prefix(
                u128::from(ip.to_bits()),
                u128::from(net.to_bits()),
                *len,
                32,
            )
        })
        .map(|(_, _, class)| *class)
}

/// The class of an IPv4-mapped IPv6 address carrying an IPv4 address of class `v4`.
fn mapped_class(v4: &'static str) -> &'static str {
    match v4 {
        "loopback" => "IPv4-mapped loopback",
        "private, RFC 1918" => "IPv4-mapped private, RFC 1918",
        "link-local" => "IPv4-mapped link-local",
        "cloud metadata" => "IPv4-mapped cloud metadata",
        _ => "IPv4-mapped non-public",
    }
}

fn in_prefix(addr: u128, net: u128, len: u8, width: u8) -> bool {
    let host_bits = u32::from(width - len);
    let mask = if host_bits >= 128 {
        0
    } else {
        (u128::MAX << host_bits) & (u128::MAX >> (128 - u32::from(width)))
    };
    addr & mask == net & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vet(guard: &SsrfGuard, url: &str) -> Result<SocketAddr, Blocked> {
        let url = Url::parse(url).unwrap();
        actix_rt::System::new().block_on(guard.vet(&url))
    }

    fn refused_class(guard: &SsrfGuard, url: &str) -> &'static str {
        match vet(guard, url) {
            Err(Blocked::Address { class, .. }) => class,
            other => panic!("{url}: expected an address refusal, got {other:?}"),
        }
    }

    #[test]
    fn each_acceptance_case_is_refused_with_a_clear_reason() {
        let guard = SsrfGuard::default();
        assert_eq!(refused_class(&guard, "http://127.0.0.1:9/hook"), "loopback");
        assert_eq!(
            refused_class(&guard, "http://10.0.0.1/hook"),
            "private, RFC 1918"
        );
        assert_eq!(
            refused_class(&guard, "http://169.254.169.254/latest/meta-data"),
            "cloud metadata"
        );
        assert_eq!(refused_class(&guard, "http://[::1]:9/"), "loopback");
        assert_eq!(
            refused_class(&guard, "http://[::ffff:127.0.0.1]:9/"),
            "IPv4-mapped loopback"
        );
        assert_eq!(
            refused_class(&guard, "http://[::ffff:a9fe:a9fe]/"),
            "IPv4-mapped cloud metadata"
        );
        let message = vet(&guard, "http://10.0.0.1/hook").unwrap_err().to_string();
        assert_eq!(
            message,
            "refused: 10.0.0.1 is a non-public address (private, RFC 1918); list 10.0.0.1 in \
             webhook.allow_hosts to allow it"
        );
    }

    #[test]
    fn disguised_and_named_loopback_is_refused() {
        let guard = SsrfGuard::default();
        // The URL parser turns numeric host forms into the address they mean.
        assert_eq!(refused_class(&guard, "http://2130706433/"), "loopback");
        assert_eq!(refused_class(&guard, "http://0x7f.1/"), "loopback");
        assert_eq!(
            refused_class(&guard, "http://0.0.0.0/"),
            "unspecified, 0.0.0.0/8"
        );
        // A name is resolved and its address judged (localhost resolves without a network).
        let class = refused_class(&guard, "http://localhost:9/");
        assert!(class == "loopback", "{class}");
    }

    #[test]
    fn only_http_and_https_are_allowed() {
        let guard = SsrfGuard::new(&["127.0.0.1"]);
        assert_eq!(
            vet(&guard, "ftp://127.0.0.1/x"),
            Err(Blocked::Scheme("ftp".into()))
        );
        assert_eq!(
            vet(&guard, "file:///etc/passwd"),
            Err(Blocked::Scheme("file".into()))
        );
    }

    #[test]
    fn an_allow_listed_host_may_be_dialed() {
        let guard = SsrfGuard::new(&["127.0.0.1", "[::1]"]);
        assert_eq!(
            vet(&guard, "http://127.0.0.1:4000/").unwrap(),
            "127.0.0.1:4000".parse().unwrap()
        );
        assert_eq!(
            vet(&guard, "http://[::1]:4000/").unwrap(),
            "[::1]:4000".parse().unwrap()
        );
        // Allowing 127.0.0.1 does not allow the mapped form or other loopback addresses.
        let only_v4 = SsrfGuard::new(&["127.0.0.1"]);
        assert!(vet(&only_v4, "http://127.0.0.2/").is_err());
        assert!(vet(&only_v4, "http://[::ffff:127.0.0.2]/").is_err());
    }

    #[test]
    fn public_addresses_pass_and_ranges_are_classified() {
        for ip in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "172.32.0.1",
        ] {
            assert_eq!(classify(ip.parse().unwrap()), None, "{ip}");
        }
        for (ip, class) in [
            ("172.31.255.255", "private, RFC 1918"),
            ("192.168.1.1", "private, RFC 1918"),
            ("100.64.0.1", "shared, carrier-grade NAT"),
            ("169.254.1.1", "link-local"),
            ("255.255.255.255", "reserved or broadcast"),
            ("fe80::1", "link-local"),
            ("fd12:3456::1", "unique-local"),
            ("fd00:ec2::254", "cloud metadata"),
            ("64:ff9b::7f00:1", "NAT64"),
            ("2002:7f00:1::", "6to4"),
            ("2001:0:4136:e378::1", "Teredo"),
            ("::7f00:1", "deprecated IPv4-compatible"),
            ("ff02::1", "multicast"),
        ] {
            assert_eq!(classify(ip.parse().unwrap()), Some(class), "{ip}");
        }
    }
}
