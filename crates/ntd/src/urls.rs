//! Reported URLs, normalised so that one resource has one spelling.
//!
//! The hotline assesses a URL once, however often and however it is reported: `HTTP://WWW.
//! Example.COM:80/a#top` and `http://www.example.com/a` are the same page, so they must land
//! in the same case. [`normalise`] is that one spelling:
//!
//! * the scheme and host are lower-cased; only `http` and `https` are accepted;
//! * an internationalised host becomes its punycode (`bücher.example` → `xn--bcher-kva.example`)
//!   and a trailing dot is dropped;
//! * the default port (80, 443) is dropped, an empty path becomes `/`;
//! * the fragment (`#...`) is dropped: it never reaches the server;
//! * a URL without a scheme (`www.example.com/x`, as people paste them) is read as `http://`.
//!
//! Path and query are kept as they are (apart from the percent-encoding the URL standard
//! applies): a server may treat `?a=1&b=2` and `?b=2&a=1` differently.
//!
//! Refused with a [`UrlError`] that says why: empty or overlong input, other schemes
//! (`ftp:`, `javascript:`, ...), IP-address hosts (attribution starts from a name; an analyst
//! records IP-hosted material by hand), and single-label or `localhost` hosts.
//!
//! Parsing is the `url` crate's (the WHATWG URL standard, with its IDNA handling).

use serde::Serialize;
use std::fmt;

/// The longest URL accepted, in bytes (browsers and servers commonly stop near 2 KiB-8 KiB;
/// anything longer in a report is almost always garbage or an attack on the form).
pub const MAX_URL_LEN: usize = 4096;

/// A normalised `http`/`https` URL and its host.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct NormalUrl {
    url: String,
    host: String,
}

impl NormalUrl {
    /// The normalised URL: the key reports are deduplicated on.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The host, lower-case ASCII (punycode), without a trailing dot: what DNS resolves.
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl fmt::Display for NormalUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// Why a reported URL was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Nothing but whitespace.
    #[error("the URL is empty")]
    Empty,
    /// Longer than [`MAX_URL_LEN`].
    #[error("the URL is {len} bytes long; at most {max} are accepted")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not a URL at all.
    #[error("not a valid URL: {0}")]
    Invalid(String),
    /// A scheme other than http or https.
    #[error("only http and https URLs can be reported, not {0:?}")]
    Scheme(String),
    /// The host is an IP address.
    #[error("the host is an IP address ({0}); report the URL with its domain name")]
    IpLiteral(String),
    /// The host is not a public domain name.
    #[error("the host {0:?} is not a public domain name")]
    Host(String),
}

/// Normalises a reported URL (see the module documentation).
pub fn normalise(input: &str) -> Result<NormalUrl, UrlError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(UrlError::Empty);
    }
    if trimmed.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong {
            len: trimmed.len(),
            max: MAX_URL_LEN,
        });
    }
    let with_scheme = if has_scheme(trimmed) {
        std::borrow::Cow::Borrowed(trimmed)
    } else {
        std::borrow::Cow::Owned(format!("http://{trimmed}"))
    };
    let mut url = url::Url::parse(&with_scheme).map_err(|e| UrlError::Invalid(e.to_string()))?;
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(UrlError::Scheme(other.to_string())),
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_string(),
        Some(url::Host::Ipv4(ip)) => return Err(UrlError::IpLiteral(ip.to_string())),
        Some(url::Host::Ipv6(ip)) => return Err(UrlError::IpLiteral(ip.to_string())),
        None => return Err(UrlError::Invalid("the URL has no host".into())),
    };
    if host.is_empty()
        || !host.contains('.')
        || host == "localhost"
        || host.ends_with(".localhost")
        || host.split('.').any(str::is_empty)
    {
        return Err(UrlError::Host(host));
    }
    if url.host_str() != Some(host.as_str()) {
        url.set_host(Some(&host))
            .map_err(|e| UrlError::Invalid(e.to_string()))?;
    }
    url.set_fragment(None);
    let url = url.to_string();
    if url.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong {
            len: url.len(),
            max: MAX_URL_LEN,
        });
    }
    Ok(NormalUrl { url, host })
}

/// Whether `s` starts with `scheme:` (and not `host:port`).
fn has_scheme(s: &str) -> bool {
    let Some(colon) = s.find(':') else {
        return false;
    };
    let scheme = &s[..colon];
    let valid = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid {
        return false;
    }
    // `host.example:8080/x` is a host and a port, not a scheme.
    let rest = &s[colon + 1..];
    let port_like = rest
        .split(['/', '?', '#'])
        .next()
        .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    !(port_like && scheme.contains('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalise(s).unwrap().as_str().to_string()
    }

    #[test]
    fn one_spelling_per_resource() {
        let want = "http://www.example.com/a";
        for s in [
            "http://www.example.com/a",
            "HTTP://WWW.Example.COM/a",
            "http://www.example.com:80/a",
            "http://www.example.com/a#top",
            "http://www.example.com./a",
            "  http://www.example.com/a\n",
            "www.example.com/a",
        ] {
            assert_eq!(n(s), want, "{s}");
        }
        assert_eq!(n("https://example.com:443"), "https://example.com/");
        assert_eq!(
            n("https://example.com:8443/x"),
            "https://example.com:8443/x"
        );
        assert_eq!(n("example.com:8080/x"), "http://example.com:8080/x");
        // The path's case and the query's order are the server's business.
        assert_eq!(
            n("http://example.com/A?b=2&a=1"),
            "http://example.com/A?b=2&a=1"
        );
        assert_ne!(n("http://example.com/a"), n("https://example.com/a"));
    }

    #[test]
    fn international_hosts_become_punycode() {
        let u = normalise("http://Bücher.example/ä").unwrap();
        assert_eq!(u.host(), "xn--bcher-kva.example");
        assert_eq!(u.as_str(), "http://xn--bcher-kva.example/%C3%A4");
        assert_eq!(n("http://xn--bcher-kva.example/%C3%A4"), u.as_str());
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        assert_eq!(normalise("  "), Err(UrlError::Empty));
        assert!(matches!(normalise("ftp://example.com/x"), Err(UrlError::Scheme(s)) if s == "ftp"));
        assert!(matches!(
            normalise("javascript:alert(1)"),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            normalise("mailto:a@example.com"),
            Err(UrlError::Scheme(_))
        ));
        assert!(
            matches!(normalise("http://192.0.2.7/x"), Err(UrlError::IpLiteral(ip)) if ip == "192.0.2.7")
        );
        assert!(matches!(
            normalise("http://[2001:db8::1]/x"),
            Err(UrlError::IpLiteral(_))
        ));
        assert!(matches!(
            normalise("http://3221225991/"),
            Err(UrlError::IpLiteral(_))
        ));
        assert!(matches!(
            normalise("http://localhost/x"),
            Err(UrlError::Host(_))
        ));
        assert!(matches!(
            normalise("http://intranet/x"),
            Err(UrlError::Host(_))
        ));
        assert!(matches!(
            normalise("http://exa mple.com/"),
            Err(UrlError::Invalid(_))
        ));
        assert!(matches!(normalise("http://"), Err(UrlError::Invalid(_))));
        let long = format!("http://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(matches!(normalise(&long), Err(UrlError::TooLong { .. })));
        for e in [
            normalise("ftp://example.com").unwrap_err(),
            normalise("http://192.0.2.1").unwrap_err(),
            normalise(&long).unwrap_err(),
        ] {
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn normalising_twice_changes_nothing() {
        for s in [
            "HTTP://Bücher.Example:80/Ä?q=1#f",
            "example.com",
            "https://a.b.example:444/x/../y/./z?x",
            "http://example.com/%7efoo",
        ] {
            let once = n(s);
            assert_eq!(n(&once), once, "{s}");
        }
    }
}
