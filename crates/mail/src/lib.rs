//! E-mail over SMTP: alerts today, notice-and-takedown notices next.
//!
//! Three steps: describe the server with an [`SmtpConfig`] (a URL and a `From` address), make a
//! [`Mailer`] from it, and [`send`](Mailer::send) [`Message`]s. A message is plain text,
//! optionally with one JSON attachment for the receiving side's software, plus extra headers
//! such as `X-Schoon-Ref` that tie the mail to a case. `send` returns the `Message-ID`, or a
//! [`SendError`] that says whether trying again later can help ([`SendError::is_transient`]);
//! [`backoff`] says when.
//!
//! ```
//! use mail::{Mailer, Message, SmtpConfig};
//!
//! // STARTTLS required, port 587 by default; the password is percent-encoded in the URL.
//! let cfg = SmtpConfig::parse(
//!     "smtp+starttls://alerts:s3cret@mail.example.org",
//!     "Schoon alerts <alerts@example.org>",
//! )?;
//! let mailer = Mailer::new(cfg)?; // connects only when sending
//!
//! let msg = Message {
//!     to: vec!["oncall@example.org".into()],
//!     subject: "list import failed".into(),
//!     text: "The import of nl-police-csam stopped at line 12.\n".into(),
//!     json: Some(("alert.json".into(), r#"{"list":"nl-police-csam","line":12}"#.into())),
//!     headers: vec![("X-Schoon-Ref".into(), "alert-7".into())],
//!     id_local: None,
//! };
//! # async fn send(mailer: &Mailer, msg: &Message) {
//! match mailer.send(msg).await {
//!     Ok(id) => println!("sent {id}"),
//!     Err(e) if e.is_transient() => println!("try again in {:?}: {e}", mail::backoff(1)),
//!     Err(e) => println!("giving up: {e}"),
//! }
//! # }
//! # Ok::<(), mail::Error>(())
//! ```
//!
//! # URLs
//!
//! | URL | connection | default port |
//! |---|---|---|
//! | `smtp://[user:pass@]host[:port]` | STARTTLS if the server offers it, else plain | 25 |
//! | `smtp+starttls://…` | STARTTLS required | 587 |
//! | `smtps://…` | TLS from the first byte | 465 |
//!
//! TLS is rustls with the *ring* provider, as elsewhere in Schoon, and certificates are checked
//! against the system's trust store. There is no switch to accept invalid certificates.
//!
//! # Testing against a real server
//!
//! With the `testing` feature, [`testing::SmtpSink`] starts a real SMTP server (Python's
//! aiosmtpd, from the test environment that `scripts/setup.sh --test` makes) on a free loopback
//! port and reads back what it received. A real, independent server is the point: a fake
//! written next to this code would share its misunderstandings of SMTP and MIME, and a real one
//! catches them (a dot-stuffing slip, a broken multipart boundary, a header folded wrongly).
//!
//! # What this crate does not do
//!
//! - **No queue.** A failed send is reported, not retried: the outbox that remembers unsent
//!   notices lives with the data it belongs to, and uses [`backoff`] and
//!   [`SendError::is_transient`] to decide.
//! - **No HTML, no other attachments, no Cc or Bcc.** Notices are read by people and by
//!   software: plain text and JSON serve both, and every recipient sees the others.
//! - **No connection pool.** Volumes are low; each message gets its own connection.
//! - **No DKIM signing.** Sign at the relay that sends for the domain.

#![deny(missing_docs)]

mod config;
mod send;
#[cfg(feature = "testing")]
pub mod testing;

use std::time::Duration;

pub use config::{Credentials, Security, SmtpConfig};
pub use send::{Mailer, Message, SendError};

/// Why an [`SmtpConfig`] or a [`Mailer`] could not be made.
///
/// No variant repeats the URL, since it may hold a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not a URL at all.
    #[error("invalid smtp url: {reason}")]
    Url {
        /// What the URL parser objected to.
        reason: String,
    },
    /// The scheme is not one of the three this crate knows.
    #[error("unsupported smtp url scheme {scheme:?}: use smtp://, smtp+starttls:// or smtps://")]
    Scheme {
        /// The scheme found.
        scheme: String,
    },
    /// The URL has no host name.
    #[error("smtp url has no host: write smtp://host[:port]")]
    MissingHost,
    /// The URL has a path, query or fragment, which would otherwise be ignored silently.
    #[error("smtp url must not have a {part}: write [user:password@]host[:port] only")]
    Extra {
        /// `"path"`, `"query"` or `"fragment"`.
        part: &'static str,
    },
    /// Only a user name or only a password.
    #[error("smtp url credentials need both a user name and a password (user:password@host)")]
    Credentials,
    /// The `From` address doesn't parse.
    #[error("invalid from address {address:?}: {reason}")]
    From {
        /// The address as given.
        address: String,
        /// What the parser objected to.
        reason: String,
    },
    /// The TLS settings for the host could not be built.
    #[error("cannot set up tls for {host}: {reason}")]
    Tls {
        /// The server's host.
        host: String,
        /// Why.
        reason: String,
    },
}

/// How long an outbox waits after the `attempt`-th failed try before the next one.
///
/// The wait doubles from 30 seconds and stops growing at one hour:
///
/// | `attempt` | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 and on |
/// |---|---|---|---|---|---|---|---|---|---|
/// | wait | 0 | 30 s | 1 min | 2 min | 4 min | 8 min | 16 min | 32 min | 1 h |
///
/// `attempt` counts the failures so far, so `backoff(0)` is zero: nothing has failed, send now.
/// A short outage costs a minute or two; a long one costs one try an hour. Giving up is the
/// caller's choice (after two days, say, which is about 54 tries).
///
/// There is no random jitter: a handful of Schoon processes sending a few messages to one
/// relay can't stampede it, and a fixed schedule is one that tests and operators can rely on.
///
/// ```
/// use std::time::Duration;
///
/// assert_eq!(mail::backoff(1), Duration::from_secs(30));
/// assert_eq!(mail::backoff(3), Duration::from_secs(120));
/// assert_eq!(mail::backoff(50), Duration::from_secs(3600));
/// ```
pub fn backoff(attempt: u32) -> Duration {
    const FIRST: u64 = 30;
    const CAP: u64 = 60 * 60;
    match attempt {
        0 => Duration::ZERO,
        // 30 s << 7 = 64 min is past the cap: stop doubling there (and never overflow).
        n if n > 7 => Duration::from_secs(CAP),
        n => Duration::from_secs((FIRST << (n - 1)).min(CAP)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_thirty_seconds_up_to_an_hour() {
        let secs: Vec<u64> = (0..=10).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(
            secs,
            [0, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
        );
        assert_eq!(backoff(u32::MAX), Duration::from_secs(3600));
    }

    #[test]
    fn backoff_never_shrinks() {
        for a in 0..100 {
            assert!(backoff(a) <= backoff(a + 1), "attempt {a}");
        }
    }

    #[test]
    fn every_error_formats_with_its_facts() {
        let cases = [
            (
                Error::Url {
                    reason: "relative URL without a base".into(),
                },
                "invalid smtp url: relative URL without a base",
            ),
            (
                Error::Scheme {
                    scheme: "http".into(),
                },
                "unsupported smtp url scheme \"http\": use smtp://, smtp+starttls:// or smtps://",
            ),
            (
                Error::MissingHost,
                "smtp url has no host: write smtp://host[:port]",
            ),
            (
                Error::Extra { part: "query" },
                "smtp url must not have a query: write [user:password@]host[:port] only",
            ),
            (
                Error::Credentials,
                "smtp url credentials need both a user name and a password (user:password@host)",
            ),
            (
                Error::From {
                    address: "x".into(),
                    reason: "r".into(),
                },
                "invalid from address \"x\": r",
            ),
            (
                Error::Tls {
                    host: "h".into(),
                    reason: "r".into(),
                },
                "cannot set up tls for h: r",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }
}
