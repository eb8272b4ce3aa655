//! Where an S3 repository is: the bucket and key prefix (`s3://bucket/prefix`) and the endpoint
//! that serves them.

use std::fmt;

/// A bucket and a key prefix (no leading or trailing `/`; empty for the bucket's root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub prefix: String,
}

impl S3Location {
    /// Parses `s3://bucket[/prefix]`. Bucket names follow S3's rules (3 to 63 characters of
    /// `a-z 0-9 . -`, starting and ending with a letter or digit); the prefix is a `/`-separated
    /// key path without empty, `.` or `..` segments or control characters.
    pub fn parse(s: &str) -> Result<S3Location, String> {
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{s:?}: an S3 repository is written s3://bucket/prefix"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let ok_char =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
        let edge =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !(3..=63).contains(&bucket.len())
            || !bucket.chars().all(ok_char)
            || !edge(bucket.chars().next())
            || !edge(bucket.chars().last())
            || bucket.contains("..")
        {
            return Err(format!(
                "{s:?}: bucket {bucket:?} is not a valid S3 bucket name (3 to 63 characters of \
                 a-z, 0-9, '.' and '-', starting and ending with a letter or digit)"
            ));
        }
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() {
            for seg in prefix.split('/') {
                if seg.is_empty() || seg == "." || seg == ".." || seg.chars().any(char::is_control)
                {
                    return Err(format!(
                        "{s:?}: the prefix may not have empty, '.' or '..' parts or control \
                         characters"
                    ));
                }
            }
        }
        Ok(S3Location {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The key of `name` below the prefix.
    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// The service that holds the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Endpoint {
    /// `http(s)://host[:port]`, without a path.
    pub url: String,
    pub region: String,
    /// `http://host/bucket/key` rather than `http://bucket.host/key`: what most self-hosted
    /// stores (SeaweedFS, MinIO, Ceph RGW) expect.
    pub path_style: bool,
}

impl S3Endpoint {
    /// Checks the URL: `https://`, or `http://` to a loopback address only (keys and data would
    /// otherwise cross the network in clear).
    pub fn new(url: &str, region: &str, path_style: bool) -> Result<S3Endpoint, String> {
        let url = url.trim_end_matches('/');
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("{url:?}: the endpoint is a URL like https://s3.example:443"))?;
        let (host, port) =
            split_authority(rest).ok_or_else(|| format!("{url:?}: no host in the endpoint"))?;
        if rest.contains(['/', '?', '#', '@']) {
            return Err(format!(
                "{url:?}: the endpoint takes no path, query or user"
            ));
        }
        if port.is_some_and(|p| p.parse::<u16>().is_err()) {
            return Err(format!("{url:?}: the port is not a number up to 65535"));
        }
        match scheme {
            "https" => {}
            "http" if is_loopback(host) => {}
            "http" => {
                return Err(format!(
                    "{url:?}: plain http is allowed to a loopback address only; use https"
                ))
            }
            _ => return Err(format!("{url:?}: the endpoint must be http(s)://")),
        }
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(format!("{region:?} is not a region name"));
        }
        Ok(S3Endpoint {
            url: url.to_string(),
            region: region.to_string(),
            path_style,
        })
    }

    /// `host:port` for a plain TCP connect.
    pub fn socket_addr(&self) -> String {
        let (scheme, rest) = self.url.split_once("://").expect("checked in new");
        match split_authority(rest) {
            Some((_, Some(_))) => rest.to_string(),
            _ => format!("{rest}:{}", if scheme == "https" { 443 } else { 80 }),
        }
    }
}

/// The host and, when given, the port text of `host[:port]` or `[v6][:port]`; `None` without a
/// host or with anything but `:port` after a bracketed address.
fn split_authority(authority: &str) -> Option<(&str, Option<&str>)> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']')? {
            (host, "") => (host, None),
            (host, after) => (host, Some(after.strip_prefix(':')?)),
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    (!host.is_empty()).then_some((host, port))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_bad_ones_are_named() {
        let l = S3Location::parse("s3://zdm-backups/site-a/").unwrap();
        assert_eq!(
            (l.bucket.as_str(), l.prefix.as_str()),
            ("zdm-backups", "site-a")
        );
        assert_eq!(l.key("srv/job"), "site-a/srv/job");
        assert_eq!(l.to_string(), "s3://zdm-backups/site-a");
        let root = S3Location::parse("s3://abc").unwrap();
        assert_eq!((root.prefix.as_str(), root.key("x").as_str()), ("", "x"));
        for bad in [
            "zdm-backups/x",
            "s3://ab",
            "s3://Upper",
            "s3://-dash",
            "s3://a..b",
            "s3://bucket//x",
            "s3://bucket/a/../b",
            "s3://bucket/./b",
            "s3://bucket/a\nb",
            &format!("s3://{}", "a".repeat(64)),
        ] {
            assert!(S3Location::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn endpoints_refuse_plain_http_off_loopback() {
        let e = S3Endpoint::new("http://127.0.0.1:8333/", "us-east-1", true).unwrap();
        assert_eq!(
            (e.url.as_str(), e.socket_addr().as_str()),
            ("http://127.0.0.1:8333", "127.0.0.1:8333")
        );
        assert_eq!(
            S3Endpoint::new("https://s3.lan", "eu-1", false)
                .unwrap()
                .socket_addr(),
            "s3.lan:443"
        );
        assert_eq!(
            S3Endpoint::new("http://[::1]:9000", "us-east-1", true)
                .unwrap()
                .socket_addr(),
            "[::1]:9000"
        );
        assert!(S3Endpoint::new("http://localhost", "r", true).is_ok());
        for bad in [
            "http://s3.lan:8333",
            "ftp://127.0.0.1",
            "127.0.0.1:8333",
            "https://s3.lan/bucket",
            "https://user@s3.lan",
            "https://",
            "https://s3.lan:99999",
            "http://127.0.0.1:x",
            "http://[::1]x",
        ] {
            assert!(S3Endpoint::new(bad, "us-east-1", true).is_err(), "{bad}");
        }
        assert!(S3Endpoint::new("https://s3.lan", "", true).is_err());
    }
}
