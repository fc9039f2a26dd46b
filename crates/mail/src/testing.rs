//! A real SMTP server for tests: [`SmtpSink`] (feature `testing`).
//!
//! [`SmtpSink::start`] runs Python's [aiosmtpd] on a free loopback port, as
//!
//! ```text
//! $VENV/bin/python -m aiosmtpd -n -l 127.0.0.1:PORT -c aiosmtpd.handlers.Mailbox MAILDIR
//! ```
//!
//! where `$VENV` is `$SCHOON_TEST_VENV`, or `~/.cache/schoon/test-venv`, the environment that
//! `scripts/setup.sh --test` makes (with a pinned aiosmtpd). The server accepts any sender and
//! recipient, without TLS or authentication, and stores every message in a maildir inside a
//! temporary directory; [`SmtpSink::messages`] parses them back with `mailparse`. Dropping the
//! sink kills the server and deletes the directory.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use mail::{Mailer, Message, SmtpConfig, testing::SmtpSink};
//!
//! let sink = SmtpSink::start()?;
//! let mailer = Mailer::new(SmtpConfig::parse(&sink.url(), "schoon@example.org")?)?;
//! let msg = Message {
//!     to: vec!["desk@example.org".into()],
//!     subject: "hello".into(),
//!     text: "hi\n".into(),
//!     ..Message::default()
//! };
//! mailer.send(&msg).await?;
//! let got = sink.wait_for(1, Duration::from_secs(5)).await?;
//! assert_eq!(got[0].subject, "hello");
//! # Ok(()) }
//! ```
//!
//! The maildir holds what the server received, re-serialised by Python's `email` package, and
//! aiosmtpd adds the envelope as headers (`X-MailFrom`, `X-RcptTo`, `X-Peer`): those become
//! [`Received::from`] and [`Received::to`] and are left out of [`Received::headers`].
//!
//! [aiosmtpd]: https://aiosmtpd.aio-libs.org/

use std::fs;
use std::io::{self, BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailparse::{DispositionType, MailHeaderMap, ParsedMail};

/// How long [`SmtpSink::start`] waits for the server to answer (Python starting on a cold, busy
/// CI machine takes a few seconds at worst).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// aiosmtpd adds these to every message it stores; they describe the envelope.
const ENVELOPE_HEADERS: [&str; 3] = ["X-Peer", "X-MailFrom", "X-RcptTo"];

/// A running aiosmtpd that keeps what it receives. See the [module docs](self).
#[derive(Debug)]
pub struct SmtpSink {
    child: Child,
    port: u16,
    maildir: PathBuf,
    /// Holds the maildir and the server's log; deleted after `Drop` has killed the server.
    dir: tempfile::TempDir,
}

/// One message as the sink received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`), in order.
    pub to: Vec<String>,
    /// The `Subject` header, decoded.
    pub subject: String,
    /// Every header the sender wrote, in order, with values decoded (RFC 2047) and unfolded.
    pub headers: Vec<(String, String)>,
    /// The first `text/plain` part that isn't an attachment, decoded, with `\r\n` turned
    /// into `\n`.
    pub text: String,
    /// The attachments, in order.
    pub attachments: Vec<ReceivedAttachment>,
}

impl Received {
    /// The first header called `name` (any case), if there is one.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One attachment of a [`Received`] message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedAttachment {
    /// The file name from `Content-Disposition` (or the `name` of `Content-Type`).
    pub name: String,
    /// The MIME type without parameters, such as `application/json`.
    pub content_type: String,
    /// The content, transfer encoding undone.
    pub bytes: Vec<u8>,
}

impl SmtpSink {
    /// Starts aiosmtpd on a free port of 127.0.0.1 and waits (at most 30 s, blocking the
    /// thread) until it greets.
    ///
    /// Fails with [`io::ErrorKind::NotFound`] and a message naming `scripts/setup.sh --test`
    /// when the test environment or aiosmtpd in it is missing, and with the server's own
    /// output when it exits or doesn't answer in time.
    pub fn start() -> io::Result<SmtpSink> {
        let python = venv()?.join("bin/python");
        if !python.is_file() {
            return Err(missing(&format!("{} not found", python.display())));
        }
        // Another process may take the free port between our check and the server's bind:
        // then the server exits, and we try another port.
        let mut last = None;
        for _ in 0..3 {
            match SmtpSink::start_on(&python, free_port()?) {
                Ok(sink) => return Ok(sink),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("three tries"))
    }

    fn start_on(python: &Path, port: u16) -> io::Result<SmtpSink> {
        let dir = tempfile::Builder::new()
            .prefix("schoon-smtp-sink")
            .tempdir()?;
        let maildir = dir.path().join("maildir");
        // Python's Maildir creates these only when the directory itself is missing; make them
        // so that an empty sink reads as an empty maildir.
        for sub in ["new", "cur", "tmp"] {
            fs::create_dir_all(maildir.join(sub))?;
        }
        let log = dir.path().join("aiosmtpd.log");
        let out = fs::File::create(&log)?;
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        let mut sink = SmtpSink {
            child,
            port,
            maildir,
            dir,
        };
        sink.wait_until_ready(python, &log)?;
        Ok(sink)
    }

    /// Polls until the server greets with `220`, or it exits, or [`START_TIMEOUT`] passes.
    fn wait_until_ready(&mut self, python: &Path, log: &Path) -> io::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                let out = fs::read_to_string(log).unwrap_or_default();
                if out.contains("No module named aiosmtpd") {
                    return Err(missing(&format!(
                        "aiosmtpd is not installed for {}",
                        python.display()
                    )));
                }
                let kind = if out.contains("Address already in use") {
                    io::ErrorKind::AddrInUse
                } else {
                    io::ErrorKind::Other
                };
                return Err(io::Error::new(
                    kind,
                    format!("aiosmtpd exited ({status}) before accepting connections:\n{out}"),
                ));
            }
            if let Ok(stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)) {
                // A greeting proves it is our server that listens, not whoever took the port.
                stream.set_read_timeout(Some(Duration::from_secs(5)))?;
                let mut line = String::new();
                BufReader::new(stream).read_line(&mut line)?;
                if line.starts_with("220 ") && self.child.try_wait()?.is_none() {
                    return Ok(());
                }
            }
            if started.elapsed() > START_TIMEOUT {
                let out = fs::read_to_string(log).unwrap_or_default();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "aiosmtpd did not greet on 127.0.0.1:{} within {START_TIMEOUT:?}; its output:\n{out}",
                        self.port
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `smtp://127.0.0.1:PORT`, for [`SmtpConfig::parse`](crate::SmtpConfig::parse).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every message received so far, oldest first.
    ///
    /// # Panics
    ///
    /// When the maildir can't be read or a stored message can't be parsed: in a test, that
    /// is a failure to look at, not a case to handle.
    pub fn messages(&self) -> Vec<Received> {
        let mut files = Vec::new();
        for sub in ["new", "cur"] {
            let dir = self.maildir.join(sub);
            for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
                let path = entry.expect("maildir entry").path();
                files.push((arrival(&path), path));
            }
        }
        files.sort();
        files
            .iter()
            .map(|(_, path)| {
                let raw = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                parse(&raw).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            })
            .collect()
    }

    /// Waits until at least `n` messages have arrived and returns them all (oldest first), or
    /// fails with [`io::ErrorKind::TimedOut`] naming the subjects that did arrive. It sleeps
    /// with tokio between looks, so a sender on the same runtime keeps running.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> io::Result<Vec<Received>> {
        let started = Instant::now();
        loop {
            let got = self.messages();
            if got.len() >= n {
                return Ok(got);
            }
            if started.elapsed() > timeout {
                let subjects: Vec<&str> = got.iter().map(|m| m.subject.as_str()).collect();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "smtp sink: expected {n} messages within {timeout:?}, got {}: {subjects:?}",
                        got.len()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The temporary directory holding the maildir and the server's log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `$SCHOON_TEST_VENV`, else `~/.cache/schoon/test-venv`.
fn venv() -> io::Result<PathBuf> {
    if let Some(v) = std::env::var_os("SCHOON_TEST_VENV") {
        return Ok(PathBuf::from(v));
    }
    let home = std::env::var_os("HOME").ok_or_else(|| missing("HOME is not set"))?;
    Ok(PathBuf::from(home).join(".cache/schoon/test-venv"))
}

fn missing(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "smtp sink: {what}; the SMTP tests need the test environment: run `scripts/setup.sh --test` \
             (it makes ~/.cache/schoon/test-venv, or $SCHOON_TEST_VENV, with aiosmtpd; \
             if that environment predates aiosmtpd, delete it first)"
        ),
    )
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Sort key for a maildir file: Python names them `SECONDS.M<micros>P<pid>Q<count>.<host>`,
/// so (seconds, micros, count) is arrival order. Other names sort after, by name.
fn arrival(path: &Path) -> (u64, u64, u64, String) {
    let name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let key = || -> Option<(u64, u64, u64)> {
        let (secs, rest) = name.split_once(".M")?;
        let (micros, rest) = rest.split_once('P')?;
        let (_pid, rest) = rest.split_once('Q')?;
        let count = rest.split('.').next()?;
        Some((
            secs.parse().ok()?,
            micros.parse().ok()?,
            count.parse().ok()?,
        ))
    };
    let (s, m, c) = key().unwrap_or((u64::MAX, u64::MAX, u64::MAX));
    (s, m, c, name)
}

fn parse(raw: &[u8]) -> Result<Received, mailparse::MailParseError> {
    let mail = mailparse::parse_mail(raw)?;
    let from = mail
        .headers
        .get_first_value("X-MailFrom")
        .unwrap_or_default();
    let to = mail
        .headers
        .get_first_value("X-RcptTo")
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
        .unwrap_or_default();
    let headers = mail
        .headers
        .iter()
        .map(|h| (h.get_key(), h.get_value()))
        .filter(|(k, _)| !ENVELOPE_HEADERS.iter().any(|e| e.eq_ignore_ascii_case(k)))
        .collect();
    let mut out = Received {
        from,
        to,
        subject: mail.headers.get_first_value("Subject").unwrap_or_default(),
        headers,
        text: String::new(),
        attachments: Vec::new(),
    };
    let mut text = None;
    walk(&mail, &mut text, &mut out.attachments)?;
    out.text = text.unwrap_or_default().replace("\r\n", "\n");
    Ok(out)
}

/// Collects the leaves of the MIME tree: the first inline text/plain, and every attachment.
fn walk(
    part: &ParsedMail<'_>,
    text: &mut Option<String>,
    attachments: &mut Vec<ReceivedAttachment>,
) -> Result<(), mailparse::MailParseError> {
    if !part.subparts.is_empty() {
        for sub in &part.subparts {
            walk(sub, text, attachments)?;
        }
        return Ok(());
    }
    let disposition = part.get_content_disposition();
    let name = disposition
        .params
        .get("filename")
        .or_else(|| part.ctype.params.get("name"))
        .cloned();
    if disposition.disposition == DispositionType::Attachment || name.is_some() {
        attachments.push(ReceivedAttachment {
            name: name.unwrap_or_default(),
            content_type: part.ctype.mimetype.clone(),
            bytes: part.get_body_raw()?,
        });
    } else if part.ctype.mimetype == "text/plain" && text.is_none() {
        *text = Some(part.get_body()?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maildir_names_sort_by_arrival() {
        let mut names = [
            "1795406434.M338876P27571Q10.vm",
            "1795406434.M338876P27571Q9.vm",
            "1795406433.M999999P27571Q11.vm",
            "odd-name",
        ]
        .map(|n| arrival(Path::new(n)));
        names.sort();
        let order: Vec<&str> = names.iter().map(|k| k.3.as_str()).collect();
        assert_eq!(
            order,
            [
                "1795406433.M999999P27571Q11.vm",
                "1795406434.M338876P27571Q9.vm",
                "1795406434.M338876P27571Q10.vm",
                "odd-name"
            ]
        );
    }

    #[test]
    fn parses_envelope_headers_text_and_attachments() {
        let raw = b"Subject: =?utf-8?q?caf=C3=A9?=\r\n\
X-Schoon-Ref: r1\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\
X-Peer: ('127.0.0.1', 1)\r\n\
X-MailFrom: a@x.org\r\n\
X-RcptTo: b@y.org, c@z.org\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
line one\r\nline two\r\n\r\n\
--b\r\n\
Content-Type: application/json\r\n\
Content-Disposition: attachment; filename=\"n.json\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
eyJhIjoxfQ==\r\n\
--b--\r\n";
        let got = parse(raw).unwrap();
        assert_eq!(got.from, "a@x.org");
        assert_eq!(got.to, ["b@y.org", "c@z.org"]);
        assert_eq!(got.subject, "café");
        assert_eq!(got.header("x-schoon-ref"), Some("r1"));
        assert_eq!(got.header("X-MailFrom"), None);
        assert_eq!(got.text, "line one\nline two\n");
        assert_eq!(
            got.attachments,
            [ReceivedAttachment {
                name: "n.json".into(),
                content_type: "application/json".into(),
                bytes: br#"{"a":1}"#.to_vec(),
            }]
        );
    }
}
