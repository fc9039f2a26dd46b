//! [`SmtpConfig`]: where to send, how to secure the connection, and who the mail is from.

use std::fmt;
use std::time::Duration;

use lettre::message::Mailbox;
use percent_encoding::percent_decode_str;
use url::{Host, Url};

use crate::Error;

/// How the connection to the SMTP server is secured, chosen by the URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp://`: plain SMTP, upgraded with STARTTLS when the server offers it. A server that
    /// offers STARTTLS must then present a valid certificate; one that doesn't offer it gets the
    /// mail in clear text. Fine for a relay on the same machine or network, not across the
    /// internet.
    Opportunistic,
    /// `smtp+starttls://`: plain SMTP that must be upgraded with STARTTLS before anything is
    /// sent; a server that doesn't offer it is an error.
    StartTls,
    /// `smtps://`: TLS from the first byte ("implicit TLS", RFC 8314), usually on port 465.
    ImplicitTls,
}

impl Security {
    /// The port used when the URL names none: 25 for `smtp://`, 587 (the submission port,
    /// RFC 6409, where STARTTLS is the norm) for `smtp+starttls://`, 465 for `smtps://`.
    pub fn default_port(self) -> u16 {
        match self {
            Security::Opportunistic => 25,
            Security::StartTls => 587,
            Security::ImplicitTls => 465,
        }
    }

    /// The URL scheme that selects this mode.
    pub fn scheme(self) -> &'static str {
        match self {
            Security::Opportunistic => "smtp",
            Security::StartTls => "smtp+starttls",
            Security::ImplicitTls => "smtps",
        }
    }
}

/// A user name and password for SMTP AUTH (PLAIN or LOGIN, whichever the server offers).
///
/// `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name, percent-decoded from the URL.
    pub user: String,
    /// The password, percent-decoded from the URL.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Everything [`Mailer`](crate::Mailer) needs: the server, its [`Security`], optional
/// credentials, the `From` address and a time limit.
///
/// Build it with [`SmtpConfig::parse`] from a URL and a `From` address; the fields are public so
/// that a caller can adjust the timeout. `Debug` never shows the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// The server's host name or IP address (IPv6 without brackets).
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// How the connection is secured.
    pub security: Security,
    /// SMTP AUTH credentials, when the URL has `user:password@`.
    pub credentials: Option<Credentials>,
    /// The `From` address, bare (`alerts@example.org`) or with a name
    /// (`Schoon <alerts@example.org>`). It is also the envelope sender.
    pub from: String,
    /// The longest one [`send`](crate::Mailer::send) may take, from connecting to the server's
    /// last answer; past it the send fails with a transient error.
    pub timeout: Duration,
}

impl SmtpConfig {
    /// The default [`timeout`](SmtpConfig::timeout): 30 seconds.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// Parses `smtp://[user:password@]host[:port]` (or `smtp+starttls://`, `smtps://`; see
    /// [`Security`]) and checks `from`.
    ///
    /// The user name and password are percent-decoded, so a password with `@`, `:` or `/` is
    /// written `%40`, `%3A`, `%2F`. A path (other than `/`), query or fragment is refused rather
    /// than ignored. Errors never repeat the URL, since it may hold a password.
    ///
    /// ```
    /// use mail::{Security, SmtpConfig};
    ///
    /// let cfg = SmtpConfig::parse("smtps://alerts:s%40cret@mail.example.org", "alerts@example.org")?;
    /// assert_eq!((cfg.host.as_str(), cfg.port, cfg.security), ("mail.example.org", 465, Security::ImplicitTls));
    /// assert_eq!(cfg.credentials.unwrap().password, "s@cret");
    /// # Ok::<(), mail::Error>(())
    /// ```
    pub fn parse(url: &str, from: &str) -> Result<SmtpConfig, Error> {
        let parsed = Url::parse(url).map_err(|e| Error::Url {
            reason: e.to_string(),
        })?;
        let security = match parsed.scheme() {
            "smtp" => Security::Opportunistic,
            "smtp+starttls" => Security::StartTls,
            "smtps" => Security::ImplicitTls,
            other => {
                return Err(Error::Scheme {
                    scheme: other.to_owned(),
                });
            }
        };
        let host = match parsed.host() {
            None => return Err(Error::MissingHost),
            Some(Host::Domain("")) => return Err(Error::MissingHost),
            Some(Host::Domain(d)) => d.to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
        };
        if !matches!(parsed.path(), "" | "/") {
            return Err(Error::Extra { part: "path" });
        }
        if parsed.query().is_some() {
            return Err(Error::Extra { part: "query" });
        }
        if parsed.fragment().is_some() {
            return Err(Error::Extra { part: "fragment" });
        }
        let credentials = match (parsed.username(), parsed.password()) {
            ("", None) => None,
            (user, Some(password)) if !user.is_empty() => Some(Credentials {
                user: decode(user, "user name")?,
                password: decode(password, "password")?,
            }),
            _ => return Err(Error::Credentials),
        };
        check_from(from)?;
        Ok(SmtpConfig {
            host,
            port: parsed.port().unwrap_or(security.default_port()),
            security,
            credentials,
            from: from.to_owned(),
            timeout: Self::DEFAULT_TIMEOUT,
        })
    }

    /// `host:port`, as error messages name the server (IPv6 in brackets).
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Percent-decodes one part of the URL's user information.
fn decode(part: &str, what: &'static str) -> Result<String, Error> {
    percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Error::Url {
            reason: format!("the {what} is not UTF-8 once percent-decoded"),
        })
}

/// Parses the `From` address the way [`Mailer`](crate::Mailer) will.
pub(crate) fn check_from(from: &str) -> Result<Mailbox, Error> {
    from.parse::<Mailbox>().map_err(|e| Error::From {
        address: from.to_owned(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: &str = "Schoon <alerts@example.org>";

    fn parse(url: &str) -> Result<SmtpConfig, Error> {
        SmtpConfig::parse(url, FROM)
    }

    #[test]
    fn each_scheme_has_its_security_and_default_port() {
        for (url, security, port) in [
            ("smtp://relay.local", Security::Opportunistic, 25),
            ("smtp+starttls://mail.example.org", Security::StartTls, 587),
            ("smtps://mail.example.org/", Security::ImplicitTls, 465),
            ("SMTP://relay.local:2525", Security::Opportunistic, 2525),
        ] {
            let cfg = parse(url).unwrap();
            assert_eq!((cfg.security, cfg.port), (security, port), "{url}");
            assert_eq!(cfg.credentials, None);
            assert_eq!(cfg.timeout, SmtpConfig::DEFAULT_TIMEOUT);
            assert_eq!(cfg.from, FROM);
        }
    }

    #[test]
    fn hosts_come_out_without_brackets_and_servers_with_them() {
        let cfg = parse("smtp://[::1]:2525").unwrap();
        assert_eq!(cfg.host, "::1");
        assert_eq!(cfg.server(), "[::1]:2525");
        let cfg = parse("smtp://127.0.0.1").unwrap();
        assert_eq!(cfg.server(), "127.0.0.1:25");
    }

    #[test]
    fn credentials_are_percent_decoded_and_hidden_from_debug() {
        let cfg = parse("smtp+starttls://me%40example.org:p%3Aw%2Fd%40@mail.example.org").unwrap();
        let c = cfg.credentials.clone().unwrap();
        assert_eq!(c.user, "me@example.org");
        assert_eq!(c.password, "p:w/d@");
        let debug = format!("{cfg:?}");
        assert!(
            !debug.contains("p:w/d@") && !debug.contains("p%3A"),
            "{debug}"
        );
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn bad_urls_get_typed_errors() {
        assert!(matches!(parse("not a url"), Err(Error::Url { .. })));
        assert!(matches!(parse("smtp://host:99999"), Err(Error::Url { .. })));
        assert!(
            matches!(parse("http://mail.example.org"), Err(Error::Scheme { scheme }) if scheme == "http")
        );
        assert!(matches!(parse("smtp://"), Err(Error::MissingHost)));
        assert!(matches!(parse("smtp:relay"), Err(Error::MissingHost)));
        assert!(matches!(
            parse("smtp://relay/inbox"),
            Err(Error::Extra { part: "path" })
        ));
        assert!(matches!(
            parse("smtp://relay?tls=required"),
            Err(Error::Extra { part: "query" })
        ));
        assert!(matches!(
            parse("smtp://relay#x"),
            Err(Error::Extra { part: "fragment" })
        ));
        assert!(matches!(
            parse("smtp://user@relay"),
            Err(Error::Credentials)
        ));
        assert!(matches!(
            parse("smtp://:secret@relay"),
            Err(Error::Credentials)
        ));
        assert!(matches!(
            parse("smtp://u:%FF@relay"),
            Err(Error::Url { .. })
        ));
        assert!(matches!(
            SmtpConfig::parse("smtp://relay", "no at sign"),
            Err(Error::From { address, .. }) if address == "no at sign"
        ));
    }

    #[test]
    fn url_errors_never_repeat_the_password() {
        for url in [
            "smtp://u:hunter2@relay/x",
            "smtpx://u:hunter2@relay",
            "smtp://u:hunter2@",
        ] {
            let msg = parse(url).unwrap_err().to_string();
            assert!(!msg.contains("hunter2"), "{msg}");
        }
    }
}
