//! Store URLs as operators write them (`mysql://user:pw@host:3306/ess?opt=1`, `redis://host:6379/0`).
//!
//! Components group databases by server so that one connection serves every database on it (real
//! Spin opens a new connection per `open`), and they must never echo credentials back to anybody.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreUrl {
    scheme: String,
    userinfo: Option<String>,
    host: String,
    port: Option<u16>,
    path: String,
    query: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadStoreUrl(pub &'static str);

impl fmt::Display for BadStoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl StoreUrl {
    pub fn parse(url: &str) -> Result<Self, BadStoreUrl> {
        let (scheme, rest) = url.split_once("://").ok_or(BadStoreUrl("missing scheme"))?;
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+')
        {
            return Err(BadStoreUrl("invalid scheme"));
        }
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q.to_owned())),
            None => (rest, None),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i + 1..].to_owned()),
            None => (rest, String::new()),
        };
        // The password may itself contain '@'; the host part never does.
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(authority[..i].to_owned()), &authority[i + 1..]),
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport)?;
        if host.is_empty() {
            return Err(BadStoreUrl("missing host"));
        }
        Ok(StoreUrl {
            scheme: scheme.to_ascii_lowercase(),
            userinfo,
            host: host.to_owned(),
            port,
            path,
            query,
        })
    }

    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The path without its leading slash: the database name for MySQL, the db index for Redis.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The URL without its path: the same server and credentials, no default database. Two URLs with
    /// the same `server_url` can share one connection.
    pub fn server_url(&self) -> String {
        let mut out = format!("{}://", self.scheme);
        if let Some(user) = &self.userinfo {
            out.push_str(user);
            out.push('@');
        }
        out.push_str(&self.host_port());
        if let Some(q) = &self.query {
            out.push('?');
            out.push_str(q);
        }
        out
    }

    /// `host:port` (port only when given), as `allowed_outbound_hosts` and logs name a server.
    pub fn host_port(&self) -> String {
        match self.port {
            Some(p) if self.host.contains(':') => format!("[{}]:{p}", self.host),
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }

    /// Safe to log: no credentials, no query (which may carry secrets such as ssl keys).
    pub fn redacted(&self) -> String {
        let mut out = format!("{}://{}", self.scheme, self.host_port());
        if !self.path.is_empty() {
            out.push('/');
            out.push_str(&self.path);
        }
        out
    }
}

fn split_host_port(hostport: &str) -> Result<(&str, Option<u16>), BadStoreUrl> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let end = rest.find(']').ok_or(BadStoreUrl("unclosed IPv6 bracket"))?;
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(BadStoreUrl("junk after IPv6 address")),
        };
        (&rest[..end], port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().map_err(|_| BadStoreUrl("invalid port"))?),
        None => None,
    };
    Ok((host, port))
}

/// Removes anything that looks like URL credentials (`scheme://user:pw@`) from free text, such as an
/// error message a connector returned, before it is logged.
pub fn redact_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| {
                c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == '"' || c == '\''
            })
            .unwrap_or(tail.len());
        match tail[..authority_end].rfind('@') {
            Some(at) => {
                out.push_str("***@");
                rest = &tail[at + 1..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_mysql_url() {
        let u = StoreUrl::parse("mysql://root:p@ss@db.local:3307/BESS3?ssl-mode=required").unwrap();
        assert_eq!(u.scheme(), "mysql");
        assert_eq!(u.host(), "db.local");
        assert_eq!(u.port(), Some(3307));
        assert_eq!(u.path(), "BESS3");
        assert_eq!(
            u.server_url(),
            "mysql://root:p@ss@db.local:3307?ssl-mode=required"
        );
        assert_eq!(u.redacted(), "mysql://db.local:3307/BESS3");
    }

    #[test]
    fn urls_on_one_server_share_a_server_url() {
        let a = StoreUrl::parse("mysql://root@127.0.0.1:3306/ess").unwrap();
        let b = StoreUrl::parse("mysql://root@127.0.0.1:3306/Meter").unwrap();
        let c = StoreUrl::parse("mysql://other@127.0.0.1:3306/Meter").unwrap();
        assert_eq!(a.server_url(), b.server_url());
        assert_ne!(a.server_url(), c.server_url());
    }

    #[test]
    fn parses_ipv6_and_missing_parts() {
        let u = StoreUrl::parse("redis://[::1]:6380").unwrap();
        assert_eq!(u.host(), "::1");
        assert_eq!(u.host_port(), "[::1]:6380");
        assert_eq!(u.path(), "");
        let u = StoreUrl::parse("redis://cache").unwrap();
        assert_eq!(u.port(), None);
        assert_eq!(u.server_url(), "redis://cache");
    }

    #[test]
    fn rejects_malformed_urls() {
        assert!(StoreUrl::parse("127.0.0.1:3306").is_err());
        assert!(StoreUrl::parse("mysql://:3306/x").is_err());
        assert!(StoreUrl::parse("mysql://h:notaport/x").is_err());
        assert!(StoreUrl::parse("mysql://[::1/x").is_err());
    }

    #[test]
    fn redacts_credentials_in_free_text() {
        let msg = "address mysql://user:pw@127.0.0.1:3307/db is not permitted; also redis://:secret@h:6379";
        assert_eq!(
            redact_credentials(msg),
            "address mysql://***@127.0.0.1:3307/db is not permitted; also redis://***@h:6379"
        );
        assert_eq!(redact_credentials("no urls here"), "no urls here");
        assert_eq!(redact_credentials("mysql://h:1/x"), "mysql://h:1/x");
    }
}
