//! [`Message`], [`Mailer`] and [`SendError`]: build one e-mail and hand it to the server.

use std::fmt;
use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::authentication::Credentials as LettreCredentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncTransport, Tokio1Executor};

use crate::config::check_from;
use crate::{Error, Security, SmtpConfig};

/// One e-mail: a plain-text body, optionally a JSON attachment, and extra headers.
///
/// `From`, `Date` and `Message-ID` are set by [`Mailer::send`]; every recipient is in `To`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Recipients, bare (`abuse@hoster.example`) or with a name (`Abuse <abuse@hoster.example>`).
    pub to: Vec<String>,
    /// The subject; any Unicode (encoded per RFC 2047 when it isn't ASCII).
    pub subject: String,
    /// The plain-text body (UTF-8).
    pub text: String,
    /// `Some((file_name, json))` makes the mail multipart/mixed: the text, then `json` as an
    /// `application/json` attachment named `file_name`, for the receiving side's software.
    pub json: Option<(String, String)>,
    /// Extra headers, such as `("X-Schoon-Ref", "case-42")`. The headers this crate sets itself
    /// (`From`, `To`, `Subject`, `Date`, `Message-ID`, `MIME-Version`, `Content-Type`,
    /// `Content-Transfer-Encoding`) are refused here, and so are line breaks in a value.
    pub headers: Vec<(String, String)>,
    /// `Some(local)` makes the `Message-ID` `<local@domain of From>` instead of a random one,
    /// so that sending the same message again (after a crash between the server's "accepted"
    /// and the sender recording it) gives the receiver the same id: one message seen twice,
    /// which mail software folds, rather than two messages. Letters, digits, `.`, `-` and `_`
    /// only, at most 64 of them.
    pub id_local: Option<String>,
}

/// Headers the crate writes itself; a caller's copy would make the mail ambiguous.
const OWN_HEADERS: [&str; 8] = [
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
];

/// Why [`Mailer::send`] failed.
///
/// Branch on [`SendError::is_transient`]: an outbox keeps a transient failure for another try
/// (after [`backoff`](crate::backoff)) and gives up on a permanent one. The variants say what
/// happened, for the log and the operator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// A recipient is not an e-mail address. Permanent; found before connecting.
    #[error("invalid recipient address {address:?}: {reason}")]
    InvalidAddress {
        /// The address as given.
        address: String,
        /// What the parser objected to.
        reason: String,
    },
    /// [`Message::to`] is empty. Permanent; found before connecting.
    #[error("message has no recipients")]
    NoRecipients,
    /// An extra header can't be sent as given. Permanent; found before connecting.
    #[error("invalid header {name:?}: {reason}")]
    InvalidHeader {
        /// The header name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The JSON attachment's file name is empty or has a control character. Permanent; found
    /// before connecting.
    #[error("invalid attachment file name {name:?}: must be non-empty without control characters")]
    InvalidAttachmentName {
        /// The file name as given.
        name: String,
    },
    /// The message could not be put together (lettre refused it for a reason the checks above
    /// don't cover). Permanent; found before connecting.
    #[error("cannot build the message: {reason}")]
    InvalidMessage {
        /// lettre's reason.
        reason: String,
    },
    /// The server answered with an SMTP error: 4xx is transient ("try again later", e.g.
    /// greylisting or a full queue), 5xx permanent (unknown recipient, refused content, failed
    /// authentication).
    #[error("smtp server {server} refused the message with {code}: {message}")]
    Refused {
        /// `host:port` of the server.
        server: String,
        /// The SMTP reply code, such as 450 or 550.
        code: u16,
        /// The server's reply text.
        message: String,
    },
    /// The server could not be reached or the conversation broke off: connection refused,
    /// DNS, TLS (including a server that doesn't offer STARTTLS when it is required), a
    /// dropped connection or an unreadable reply. Transient.
    #[error("cannot deliver to smtp server {server}: {source}")]
    Connection {
        /// `host:port` of the server.
        server: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The whole send took longer than [`SmtpConfig::timeout`]. Transient.
    #[error("smtp server {server} did not accept the message within {after:?}")]
    Timeout {
        /// `host:port` of the server.
        server: String,
        /// The time limit that ran out.
        after: Duration,
    },
}

impl SendError {
    /// Whether trying again later may succeed: true for connection failures, timeouts and 4xx
    /// replies; false for 5xx replies and for messages refused before connecting.
    ///
    /// Problems with the server or the way to it (TLS, a missing STARTTLS) count as transient
    /// even when only an operator can fix them: the message itself is fine, and should go out
    /// once the server is.
    pub fn is_transient(&self) -> bool {
        match self {
            SendError::Refused { code, .. } => (400..500).contains(code),
            SendError::Connection { .. } | SendError::Timeout { .. } => true,
            SendError::InvalidAddress { .. }
            | SendError::NoRecipients
            | SendError::InvalidHeader { .. }
            | SendError::InvalidAttachmentName { .. }
            | SendError::InvalidMessage { .. } => false,
        }
    }
}

/// Sends [`Message`]s through one SMTP server.
///
/// Each [`send`](Mailer::send) opens its own connection and closes it after the message: alert
/// and notice volumes are low, and a fresh connection per message keeps failures independent
/// (there is no pool whose idle connection the server may have dropped).
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    server: String,
    timeout: Duration,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Prepares a mailer; nothing is connected until [`send`](Mailer::send).
    ///
    /// Fails when `cfg.from` is not an address or the TLS settings can't be built.
    pub fn new(cfg: SmtpConfig) -> Result<Mailer, Error> {
        let from = check_from(&cfg.from)?;
        let server = cfg.server();
        let tls_error = |e: lettre::transport::smtp::Error| Error::Tls {
            host: cfg.host.clone(),
            reason: e.to_string(),
        };
        let params = TlsParameters::builder(cfg.host.clone())
            .build_rustls()
            .map_err(tls_error)?;
        let tls = match cfg.security {
            Security::Opportunistic => Tls::Opportunistic(params),
            Security::StartTls => Tls::Required(params),
            Security::ImplicitTls => Tls::Wrapper(params),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host)
            .port(cfg.port)
            .tls(tls)
            .timeout(Some(cfg.timeout));
        if let Some(c) = cfg.credentials {
            builder = builder.credentials(LettreCredentials::new(c.user, c.password));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
            server,
            timeout: cfg.timeout,
        })
    }

    /// Sends `msg` and returns its `Message-ID`, angle brackets included
    /// (`<3f9c…@example.org>`), for the log and for matching replies and bounces later.
    ///
    /// The recipients, headers and attachment name are checked first, so a bad message fails
    /// without connecting. The `Message-ID` is 128 random bits at the `From` address's domain.
    pub async fn send(&self, msg: &Message) -> Result<String, SendError> {
        let email = self.build(msg)?;
        let id = match &msg.id_local {
            Some(local) => format!("<{local}@{}>", self.from.email.domain()),
            None => message_id(&self.from),
        };
        let email = email.message_id(Some(id.clone()));
        let email = match &msg.json {
            None => email.singlepart(SinglePart::plain(msg.text.clone())),
            Some((name, json)) => email.multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(msg.text.clone()))
                    .singlepart(Attachment::new(name.clone()).body(
                        json.clone(),
                        ContentType::parse("application/json").expect("a valid MIME type"),
                    )),
            ),
        }
        .map_err(|e| SendError::InvalidMessage {
            reason: e.to_string(),
        })?;
        let raw = frame(email.formatted());
        let sending = self.transport.send_raw(email.envelope(), &raw);
        match tokio::time::timeout(self.timeout, sending).await {
            Ok(Ok(_)) => Ok(id),
            Ok(Err(e)) => Err(self.classify(e)),
            Err(_) => Err(SendError::Timeout {
                server: self.server.clone(),
                after: self.timeout,
            }),
        }
    }

    /// Checks `msg` and starts the lettre message: From, To, Subject, extra headers.
    fn build(&self, msg: &Message) -> Result<lettre::message::MessageBuilder, SendError> {
        if msg.to.is_empty() {
            return Err(SendError::NoRecipients);
        }
        if let Some(local) = &msg.id_local
            && (local.is_empty()
                || local.len() > 64
                || !local
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
        {
            return Err(SendError::InvalidHeader {
                name: "Message-ID".into(),
                reason: "the id's local part must be 1 to 64 letters, digits, '.', '-' or '_'",
            });
        }
        if let Some((name, _)) = &msg.json
            && (name.is_empty() || name.chars().any(char::is_control))
        {
            return Err(SendError::InvalidAttachmentName { name: name.clone() });
        }
        let mut b = lettre::Message::builder()
            .from(self.from.clone())
            .subject(msg.subject.clone());
        for to in &msg.to {
            let mbox = to
                .parse::<Mailbox>()
                .map_err(|e| SendError::InvalidAddress {
                    address: to.clone(),
                    reason: e.to_string(),
                })?;
            b = b.to(mbox);
        }
        for (name, value) in &msg.headers {
            b = b.raw_header(header(name, value)?);
        }
        Ok(b)
    }

    fn classify(&self, e: lettre::transport::smtp::Error) -> SendError {
        let server = self.server.clone();
        match e.status().and_then(|c| c.to_string().parse::<u16>().ok()) {
            Some(code) => SendError::Refused {
                server,
                code,
                message: std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
            },
            None => SendError::Connection {
                server,
                source: Box::new(e),
            },
        }
    }
}

/// One extra header, checked: a field name of printable ASCII without `:` (RFC 5322 §3.6.8),
/// not one of [`OWN_HEADERS`], and a value without line breaks (no header injection).
fn header(name: &str, value: &str) -> Result<HeaderValue, SendError> {
    let bad = |reason| SendError::InvalidHeader {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
        return Err(bad("a name is printable ASCII without spaces or ':'"));
    }
    if OWN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(bad("set by the mailer itself"));
    }
    if value.contains(['\r', '\n']) {
        return Err(bad("a value must not contain line breaks"));
    }
    let name = HeaderName::new_from_ascii(name.to_owned())
        .map_err(|_| bad("a name is printable ASCII of at most 76 characters"))?;
    Ok(HeaderValue::new(name, value.to_owned()))
}

/// Trims the message for lettre's end-of-data sequence, so the server stores what was written.
///
/// lettre ends the data with `\r\n.\r\n` even when the message already ends with a line
/// break, and `SinglePart` adds a line break after its body; per RFC 5321 §4.1.1.4 the first
/// `\r\n` of the sequence ends the last line, so a plain-text body `"hi\n"` would arrive as
/// `"hi\n\n\n"`. Dropping up to two trailing line breaks leaves exactly the one that
/// lettre's sequence supplies. (A multipart message ends `--boundary--\r\n` and loses one.)
fn frame(mut raw: Vec<u8>) -> Vec<u8> {
    for _ in 0..2 {
        if raw.ends_with(b"\r\n") {
            raw.truncate(raw.len() - 2);
        }
    }
    raw
}

/// `<32 hex digits@domain of from>`.
fn message_id(from: &Mailbox) -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("<{hex}@{}>", from.email.domain())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailer() -> Mailer {
        let cfg = SmtpConfig::parse("smtp://127.0.0.1:9", "Schoon <alerts@example.org>").unwrap();
        Mailer::new(cfg).unwrap()
    }

    #[test]
    fn message_ids_are_unique_and_at_the_from_domain() {
        let m = mailer();
        let a = message_id(&m.from);
        let b = message_id(&m.from);
        assert_ne!(a, b);
        assert!(a.starts_with('<') && a.ends_with("@example.org>"), "{a}");
        assert_eq!(a.len(), "<@example.org>".len() + 32);
    }

    #[test]
    fn framing_leaves_one_line_break_for_the_end_of_data_sequence() {
        assert_eq!(frame(b"H: v\r\n\r\nhi\r\n\r\n".to_vec()), b"H: v\r\n\r\nhi");
        assert_eq!(frame(b"hi\r\n\r\n\r\n".to_vec()), b"hi\r\n");
        assert_eq!(frame(b"hi\r\n".to_vec()), b"hi");
        assert_eq!(frame(b"--b--\r\n".to_vec()), b"--b--");
    }

    #[test]
    fn bad_headers_are_refused() {
        for (name, value) in [
            ("X-Ref", "a\r\nBcc: victim@example.org"),
            ("X Ref", "1"),
            ("X-Ref:", "1"),
            ("", "1"),
            ("X-Réf", "1"),
            ("Subject", "again"),
            ("message-id", "<x@y>"),
        ] {
            assert!(
                matches!(header(name, value), Err(SendError::InvalidHeader { .. })),
                "{name:?}: {value:?}"
            );
        }
        assert!(header("X-Schoon-Ref", "case-42 ünïcode").is_ok());
    }

    #[test]
    fn messages_are_checked_before_building() {
        let m = mailer();
        let ok = Message {
            to: vec![
                "abuse@hoster.example".into(),
                "Desk <desk@hoster.example>".into(),
            ],
            subject: "s".into(),
            text: "t".into(),
            json: Some(("notice.json".into(), "{}".into())),
            headers: vec![("X-Schoon-Ref".into(), "1".into())],
            id_local: Some("N-ABCDE-FGHJK".into()),
        };
        assert!(m.build(&ok).is_ok());
        for bad in ["", "a b", "a@b", "<x>", &"x".repeat(65)] {
            let err = m
                .build(&Message {
                    id_local: Some(bad.to_string()),
                    ..ok.clone()
                })
                .unwrap_err();
            assert!(matches!(err, SendError::InvalidHeader { .. }), "{bad:?}");
        }
        let err = m
            .build(&Message {
                to: vec![],
                ..ok.clone()
            })
            .unwrap_err();
        assert!(matches!(err, SendError::NoRecipients));
        let err = m
            .build(&Message {
                json: Some(("a\nb.json".into(), "{}".into())),
                ..ok.clone()
            })
            .unwrap_err();
        assert!(matches!(err, SendError::InvalidAttachmentName { .. }));
    }

    #[test]
    fn transience_follows_the_kind_of_failure() {
        let refused = |code| SendError::Refused {
            server: "s:25".into(),
            code,
            message: "m".into(),
        };
        assert!(refused(421).is_transient());
        assert!(refused(450).is_transient());
        assert!(!refused(550).is_transient());
        assert!(!refused(535).is_transient());
        let timeout = SendError::Timeout {
            server: "s:25".into(),
            after: Duration::from_secs(1),
        };
        assert!(timeout.is_transient());
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let conn = SendError::Connection {
            server: "s:25".into(),
            source: Box::new(io),
        };
        assert!(conn.is_transient());
        assert!(!SendError::NoRecipients.is_transient());
    }

    #[test]
    fn every_error_formats_with_its_facts() {
        let errors: Vec<(SendError, &str)> = vec![
            (
                SendError::InvalidAddress {
                    address: "nope".into(),
                    reason: "r".into(),
                },
                "invalid recipient address \"nope\": r",
            ),
            (SendError::NoRecipients, "message has no recipients"),
            (
                SendError::InvalidHeader {
                    name: "X Y".into(),
                    reason: "why",
                },
                "invalid header \"X Y\": why",
            ),
            (
                SendError::InvalidAttachmentName { name: "".into() },
                "invalid attachment file name \"\"",
            ),
            (
                SendError::InvalidMessage { reason: "r".into() },
                "cannot build the message: r",
            ),
            (
                SendError::Refused {
                    server: "s:25".into(),
                    code: 550,
                    message: "no such user".into(),
                },
                "smtp server s:25 refused the message with 550: no such user",
            ),
            (
                SendError::Connection {
                    server: "s:25".into(),
                    source: "refused".into(),
                },
                "cannot deliver to smtp server s:25: refused",
            ),
            (
                SendError::Timeout {
                    server: "s:25".into(),
                    after: Duration::from_secs(3),
                },
                "smtp server s:25 did not accept the message within 3s",
            ),
        ];
        for (e, want) in errors {
            let got = e.to_string();
            assert!(got.starts_with(want), "{got:?} vs {want:?}");
        }
    }
}
