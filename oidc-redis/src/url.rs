//! Parsing of the `session_store` values that name Redis. The error messages end up in an
//! `[emerg]` of `nginx -t`, so each names the part that is wrong; none repeats the
//! password (nor the user-info part it came in).

use std::fmt;

/// How the servers named by a URL are deployed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Topology {
    /// One server (`redis://`, `rediss://`).
    Standalone,
    /// Sentinels that name the current master of `master` (`redis-sentinel://`).
    Sentinel { master: String },
    /// Seed nodes of a Redis Cluster (`redis-cluster://`).
    Cluster,
}

/// A `session_store` value naming Redis, parsed at configuration time.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    pub(crate) topology: Topology,
    /// Standalone: the server; Sentinel: the sentinels; Cluster: the seed nodes.
    pub(crate) nodes: Vec<(String, u16)>,
    pub(crate) tls: bool,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) db: Option<u8>,
}

const DEFAULT_PORT: u16 = 6379;
const DEFAULT_SENTINEL_PORT: u16 = 26379;

impl RedisUrl {
    /// `redis://[user:password@]host:port[/db]`, `rediss://...` (TLS),
    /// `redis-sentinel://[user:password@]h1:p1,h2:p2/MASTER[/db]`,
    /// `redis-cluster://[user:password@]seed1:p1,seed2:p2`. The error says what is wrong
    /// (for the `[emerg]`), without the password. A port left out is 6379 (26379 for a
    /// sentinel); `:password@` authenticates as the default user.
    pub fn parse(s: &str) -> Result<RedisUrl, String> {
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("redis URL must not contain spaces or control characters".into());
        }
        let (scheme, rest) = s
            .split_once("://")
            .ok_or("redis URL must start with redis://, rediss://, redis-sentinel:// or redis-cluster://")?;
        let scheme = scheme.to_ascii_lowercase();
        let (topology_kind, tls, default_port) = match scheme.as_str() {
            "redis" => (Kind::Standalone, false, DEFAULT_PORT),
            "rediss" => (Kind::Standalone, true, DEFAULT_PORT),
            "redis-sentinel" => (Kind::Sentinel, false, DEFAULT_SENTINEL_PORT),
            "redis-cluster" => (Kind::Cluster, false, DEFAULT_PORT),
            _ => {
                return Err(format!(
                    "unknown redis URL scheme \"{}://\" (expected redis://, rediss://, redis-sentinel:// or redis-cluster://)",
                    printable(&scheme)
                ))
            }
        };

        // The password may contain '/', '@', '?' or '#' when not percent-encoded: the
        // user-info ends at the last '@', which no host, database or master name holds.
        let (userinfo, rest) = match rest.rfind('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        if rest.contains('?') || rest.contains('#') {
            return Err("redis URL: query strings and fragments (?...#...) are not supported".into());
        }
        let (username, password) = match userinfo {
            Some(ui) => parse_userinfo(ui)?,
            None => (None, None),
        };

        let (hosts, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash + 1..]),
            None => (rest, ""),
        };
        if hosts.is_empty() {
            return Err("redis URL names no host".into());
        }
        let mut nodes = Vec::new();
        for h in hosts.split(',') {
            nodes.push(parse_host_port(h, default_port)?);
        }
        if topology_kind == Kind::Standalone && nodes.len() > 1 {
            return Err(format!(
                "{scheme}:// takes one host; for several use redis-sentinel:// or redis-cluster://"
            ));
        }

        let segments: Vec<&str> = if path.is_empty() { vec![] } else { path.split('/').collect() };
        let (topology, db) = match topology_kind {
            Kind::Standalone => match segments.as_slice() {
                [] | [""] => (Topology::Standalone, None),
                [db] => (Topology::Standalone, Some(parse_db(db)?)),
                _ => return Err(format!("{scheme}:// takes at most a database index after the host (/0 .. /255)")),
            },
            Kind::Sentinel => match segments.as_slice() {
                [] | [""] => {
                    return Err("redis-sentinel:// needs the master name after the sentinels (/mymaster)".into())
                }
                [m] => (Topology::Sentinel { master: parse_master(m)? }, None),
                [m, db] => (Topology::Sentinel { master: parse_master(m)? }, Some(parse_db(db)?)),
                _ => return Err("redis-sentinel:// takes /MASTER and an optional /db index, nothing more".into()),
            },
            Kind::Cluster => match segments.as_slice() {
                [] | [""] => (Topology::Cluster, None),
                _ => {
                    return Err(
                        "redis-cluster:// takes no database index nor path (a cluster has database 0 only)".into()
                    )
                }
            },
        };
        Ok(RedisUrl { topology, nodes, tls, username, password, db })
    }

    /// The URL with the password masked, for logs.
    pub fn redacted(&self) -> String {
        let scheme = match (&self.topology, self.tls) {
            (Topology::Standalone, false) => "redis",
            (Topology::Standalone, true) => "rediss",
            (Topology::Sentinel { .. }, _) => "redis-sentinel",
            (Topology::Cluster, _) => "redis-cluster",
        };
        let mut out = format!("{scheme}://");
        match (&self.username, &self.password) {
            (Some(u), _) => out.push_str(&format!("{}:***@", percent_encode(u))),
            (None, Some(_)) => out.push_str(":***@"),
            (None, None) => {}
        }
        let hosts: Vec<String> = self.nodes.iter().map(|(h, p)| format_host_port(h, *p)).collect();
        out.push_str(&hosts.join(","));
        if let Topology::Sentinel { master } = &self.topology {
            out.push('/');
            out.push_str(master);
        }
        if let Some(db) = self.db {
            out.push_str(&format!("/{db}"));
        }
        out
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }
    /// True for `rediss://`: the module then hands `ssl_trusted_certificate` to the store.
    pub fn tls(&self) -> bool {
        self.tls
    }
}

// Derived Debug would print the password.
impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({})", self.redacted())
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Standalone,
    Sentinel,
    Cluster,
}

fn parse_userinfo(ui: &str) -> Result<(Option<String>, Option<String>), String> {
    let Some((user, pass)) = ui.split_once(':') else {
        return Err("redis URL credentials must be written user:password@ or :password@ (the user name alone is ambiguous)".into());
    };
    let user = percent_decode(user).map_err(|e| format!("redis URL user name: {e}"))?;
    // The password itself is never quoted back, not even a part of it.
    let pass = percent_decode(pass).map_err(|_| "redis URL password: bad percent-encoding".to_string())?;
    if pass.is_empty() {
        return Err("redis URL has an empty password (leave out the user-info part for no authentication)".into());
    }
    Ok(((!user.is_empty()).then_some(user), Some(pass)))
}

fn parse_host_port(s: &str, default_port: u16) -> Result<(String, u16), String> {
    if s.is_empty() {
        return Err("redis URL has an empty host in its host list".into());
    }
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("redis URL host \"{}\": missing ']'", printable(s)))?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("redis URL host \"{}\" is not an IPv6 address", printable(s)));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("redis URL host \"{}\": expected ':port' after ']'", printable(s)))?,
            ),
        };
        (addr.to_string(), port)
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (s.to_string(), None),
        }
    };
    if !host.contains(':') {
        let valid = !host.is_empty()
            && host.len() <= 253
            && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
        if !valid {
            return Err(format!("redis URL host \"{}\" is not a valid host name or address", printable(&host)));
        }
    }
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                return Err(format!(
                    "redis URL port \"{}\" of host \"{}\" is not a number from 1 to 65535",
                    printable(p),
                    printable(&host)
                ))
            }
        },
    };
    Ok((host, port))
}

fn parse_db(s: &str) -> Result<u8, String> {
    match s.parse::<u8>() {
        Ok(n) if s.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(format!("redis URL database index \"{}\" is not a number from 0 to 255", printable(s))),
    }
}

fn parse_master(s: &str) -> Result<String, String> {
    let m = percent_decode(s).map_err(|e| format!("redis-sentinel:// master name: {e}"))?;
    if m.is_empty() {
        return Err("redis-sentinel:// needs the master name after the sentinels (/mymaster)".into());
    }
    Ok(m)
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(v) => out.push(v),
                None => return Err("bad percent-encoding".into()),
            }
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-encoding is not UTF-8".to_string())
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn format_host_port(h: &str, p: u16) -> String {
    if h.contains(':') {
        format!("[{h}]:{p}")
    } else {
        format!("{h}:{p}")
    }
}

/// A bounded, printable copy of a bad value for an error message.
fn printable(s: &str) -> String {
    let mut out: String = s.chars().take(64).collect();
    if s.chars().count() > 64 {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> RedisUrl {
        RedisUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }
    fn err(s: &str) -> String {
        let e = RedisUrl::parse(s).expect_err(s);
        assert!(!e.contains("s3cr3t"), "{s}: error leaks the password: {e}");
        e
    }

    #[test]
    fn standalone_forms() {
        let u = ok("redis://127.0.0.1:6380");
        assert_eq!(u.topology, Topology::Standalone);
        assert_eq!(u.nodes, vec![("127.0.0.1".to_string(), 6380)]);
        assert_eq!((u.tls, u.username.clone(), u.password.clone(), u.db), (false, None, None, None));

        let u = ok("redis://:s3cr3t@localhost/3");
        assert_eq!(u.nodes, vec![("localhost".to_string(), 6379)]);
        assert_eq!((u.username.clone(), u.password.as_deref(), u.db), (None, Some("s3cr3t"), Some(3)));

        let u = ok("rediss://app:s3cr3t@redis.example.com:6390/0");
        assert!(u.tls);
        assert_eq!((u.username.as_deref(), u.password.as_deref(), u.db), (Some("app"), Some("s3cr3t"), Some(0)));

        let u = ok("redis://[::1]:7000/");
        assert_eq!(u.nodes, vec![("::1".to_string(), 7000)]);
        assert_eq!(u.redacted(), "redis://[::1]:7000");
    }

    #[test]
    fn password_with_reserved_characters() {
        let u = ok("redis://app:s3cr3t/@x@h:1/2");
        assert_eq!((u.password.as_deref(), u.db), (Some("s3cr3t/@x"), Some(2)));
        let u = ok("redis://:s3cr3t%40%2F@h:1");
        assert_eq!(u.password.as_deref(), Some("s3cr3t@/"));
    }

    #[test]
    fn sentinel_and_cluster_forms() {
        let u = ok("redis-sentinel://:s3cr3t@10.0.0.1:26380,10.0.0.2/mymaster/2");
        assert_eq!(u.topology, Topology::Sentinel { master: "mymaster".into() });
        assert_eq!(u.nodes, vec![("10.0.0.1".to_string(), 26380), ("10.0.0.2".to_string(), 26379)]);
        assert_eq!(u.db, Some(2));

        let u = ok("redis-cluster://:s3cr3t@a:7000,b:7001,c:7002");
        assert_eq!(u.topology, Topology::Cluster);
        assert_eq!(u.nodes.len(), 3);
        assert_eq!(u.db, None);
    }

    #[test]
    fn redacted_and_debug_hide_the_password() {
        for s in [
            "redis://:s3cr3t@h:1/1",
            "rediss://user:s3cr3t@h:1",
            "redis-sentinel://:s3cr3t@a:1,b:2/m/1",
            "redis-cluster://u:s3cr3t@a:1,b:2",
        ] {
            let u = ok(s);
            for shown in [u.redacted(), format!("{u:?}"), format!("{u}")] {
                assert!(!shown.contains("s3cr3t"), "{shown}");
                assert!(shown.contains("***"), "{shown}");
            }
        }
        assert_eq!(ok("redis-sentinel://:s3cr3t@a:1,b:2/m/1").redacted(), "redis-sentinel://:***@a:1,b:2/m/1");
        assert_eq!(ok("redis://h:1").redacted(), "redis://h:1");
    }

    #[test]
    fn bad_values_name_what_is_wrong() {
        assert!(err("http://h:1").contains("unknown redis URL scheme"));
        assert!(err("h:1").contains("must start with"));
        assert!(err("redis://").contains("no host"));
        assert!(err("redis://h:0").contains("port \"0\""));
        assert!(err("redis://h:99999").contains("port \"99999\""));
        assert!(err("redis://h:+1").contains("port"));
        assert!(err("redis://h:abc").contains("port \"abc\""));
        assert!(err("redis://h:1/16x").contains("database index \"16x\""));
        assert!(err("redis://h:1/256").contains("database index \"256\""));
        assert!(err("redis://a:1,b:2").contains("takes one host"));
        assert!(err("redis://h:1/1/2").contains("at most a database index"));
        assert!(err("redis://h!:1").contains("not a valid host"));
        assert!(err("redis://a:1,,b:2").contains("empty host"));
        assert!(err("redis://[::1:1").contains("missing ']'"));
        assert!(err("redis://s3cr3t@h:1").contains("user:password@"));
        assert!(err("redis://user:@h:1").contains("empty password"));
        assert!(err("redis://:s3cr3t%zz@h:1").contains("percent-encoding"));
        assert!(err("redis://h:1?db=2").contains("query strings"));
        assert!(err("redis://h :1").contains("spaces"));
        assert!(err("redis-sentinel://a:1").contains("master name"));
        assert!(err("redis-sentinel://a:1/").contains("master name"));
        assert!(err("redis-sentinel://a:1/m/x").contains("database index \"x\""));
        assert!(err("redis-cluster://a:1/0").contains("no database index"));
    }
}
