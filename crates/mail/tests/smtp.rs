//! Sending through a real SMTP server (aiosmtpd, see `mail::testing`) and through small fakes
//! for the failures a real server won't produce on demand.
//!
//! The sink needs the test environment: run `scripts/setup.sh --test` once.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

use mail::testing::{ReceivedAttachment, SmtpSink};
use mail::{Mailer, Message, SendError, SmtpConfig};

const FROM: &str = "Schoon alerts <alerts@schoon.example>";
const WAIT: Duration = Duration::from_secs(10);

fn sink() -> SmtpSink {
    SmtpSink::start().unwrap_or_else(|e| panic!("{e}"))
}

fn mailer(url: &str) -> Mailer {
    Mailer::new(SmtpConfig::parse(url, FROM).unwrap()).unwrap()
}

/// A port on 127.0.0.1 with nothing listening.
fn closed_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_message_with_a_json_attachment_arrives_intact() {
    let sink = sink();
    // Non-ASCII and a line far over SMTP's 998-byte limit: the MIME encoding must carry both.
    let json = format!(
        r#"{{"case":"ntd-2024-0042","url":"https://hoster.example/a?x=1","note":"café ☕","pad":"{}"}}"#,
        "x".repeat(2000)
    );
    let text = "A report about content you host.\n\n.A line starting with a dot\nCase: ntd-2024-0042 — ünïcode\n";
    let msg = Message {
        to: vec!["abuse@hoster.example".into()],
        subject: "Notice: ntd-2024-0042 (één melding)".into(),
        text: text.into(),
        json: Some(("notice.json".into(), json.clone())),
        headers: vec![("X-Schoon-Ref".into(), "ntd-2024-0042".into())],
        id_local: Some("ntd-2024-0042".into()),
    };
    let id = mailer(&sink.url()).send(&msg).await.unwrap();

    let got = sink.wait_for(1, WAIT).await.unwrap();
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.from, "alerts@schoon.example");
    assert_eq!(m.to, ["abuse@hoster.example"]);
    assert_eq!(m.subject, msg.subject);
    assert_eq!(m.header("Message-ID"), Some(id.as_str()));
    assert_eq!(id, "<ntd-2024-0042@schoon.example>");
    assert_eq!(m.header("X-Schoon-Ref"), Some("ntd-2024-0042"));
    let from = m.header("From").unwrap();
    assert!(
        from.contains("Schoon alerts") && from.ends_with("<alerts@schoon.example>"),
        "{from}"
    );
    assert!(m.header("Date").is_some());
    assert!(
        m.header("Content-Type")
            .unwrap()
            .starts_with("multipart/mixed"),
        "{:?}",
        m.header("Content-Type")
    );
    assert_eq!(m.text, text);
    assert_eq!(
        m.attachments,
        [ReceivedAttachment {
            name: "notice.json".into(),
            content_type: "application/json".into(),
            bytes: json.into_bytes(),
        }]
    );
}

#[tokio::test]
async fn a_plain_message_has_no_attachment() {
    let sink = sink();
    let msg = Message {
        to: vec!["oncall@schoon.example".into()],
        subject: "list import failed".into(),
        text: "line 12\n".into(),
        ..Message::default()
    };
    mailer(&sink.url()).send(&msg).await.unwrap();
    let m = &sink.wait_for(1, WAIT).await.unwrap()[0];
    assert_eq!(m.text, "line 12\n");
    assert!(m.attachments.is_empty());
    assert!(
        m.header("Content-Type").unwrap().starts_with("text/plain"),
        "{:?}",
        m.header("Content-Type")
    );
}

#[tokio::test]
async fn several_recipients_get_one_message_and_messages_keep_their_order() {
    let sink = sink();
    let mailer = mailer(&sink.url());
    let to = vec![
        "abuse@hoster.example".to_owned(),
        "Legal Desk <legal@hoster.example>".to_owned(),
        "noc@other.example".to_owned(),
    ];
    for subject in ["first", "second"] {
        let msg = Message {
            to: to.clone(),
            subject: subject.into(),
            text: format!("{subject}\n"),
            ..Message::default()
        };
        mailer.send(&msg).await.unwrap();
    }
    let got = sink.wait_for(2, WAIT).await.unwrap();
    let subjects: Vec<&str> = got.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects, ["first", "second"]);
    for m in &got {
        assert_eq!(
            m.to,
            [
                "abuse@hoster.example",
                "legal@hoster.example",
                "noc@other.example"
            ]
        );
        let header = m.header("To").unwrap();
        for addr in &m.to {
            assert!(header.contains(addr.as_str()), "{header}");
        }
        assert!(header.contains("Legal Desk"), "{header}");
    }
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let url = format!("smtp://127.0.0.1:{}", closed_port());
    let msg = Message {
        to: vec!["abuse@hoster.example".into()],
        subject: "s".into(),
        ..Message::default()
    };
    let err = mailer(&url).send(&msg).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Connection { server, .. } if server.starts_with("127.0.0.1:")),
        "{err:?}"
    );
    assert!(err.is_transient(), "{err}");
}

#[tokio::test]
async fn an_invalid_address_is_rejected_before_connecting() {
    // A listener that never accepts: a connection would still wait in its backlog.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    for bad in [
        "not an address",
        "abuse@",
        "a@b.example\r\nBcc: x@y.example",
    ] {
        let msg = Message {
            to: vec!["ok@hoster.example".into(), bad.into()],
            subject: "s".into(),
            ..Message::default()
        };
        let err = mailer(&url).send(&msg).await.unwrap_err();
        assert!(
            matches!(&err, SendError::InvalidAddress { address, .. } if address == bad),
            "{err:?}"
        );
        assert!(!err.is_transient());
    }
    let err = listener.accept().unwrap_err();
    assert_eq!(
        err.kind(),
        std::io::ErrorKind::WouldBlock,
        "nothing connected"
    );
}

#[tokio::test]
async fn required_starttls_refuses_a_server_without_it() {
    let sink = sink(); // offers no STARTTLS
    let url = sink.url().replace("smtp://", "smtp+starttls://");
    let msg = Message {
        to: vec!["abuse@hoster.example".into()],
        subject: "must not arrive".into(),
        ..Message::default()
    };
    let err = mailer(&url).send(&msg).await.unwrap_err();
    assert!(matches!(err, SendError::Connection { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(sink.messages().is_empty());
}

/// A fake server that greets, accepts EHLO and MAIL, and answers every RCPT with `reply`.
fn refusing_server(reply: &'static str) -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut w = stream.try_clone().unwrap();
        w.write_all(b"220 fake ESMTP\r\n").unwrap();
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            let answer = match line.get(..4).map(str::to_ascii_uppercase).as_deref() {
                Some("EHLO") => "250 fake",
                Some("MAIL") => "250 ok",
                Some("RCPT") => reply,
                Some("QUIT") => "221 bye",
                _ => "250 ok",
            };
            if w.write_all(format!("{answer}\r\n").as_bytes()).is_err() {
                return;
            }
        }
    });
    port
}

#[tokio::test]
async fn a_4xx_reply_is_transient_and_a_5xx_reply_permanent() {
    let msg = Message {
        to: vec!["abuse@hoster.example".into()],
        subject: "s".into(),
        ..Message::default()
    };
    for (reply, code, transient) in [
        ("450 4.2.0 greylisted, try later", 450, true),
        ("550 5.1.1 no such user", 550, false),
    ] {
        let url = format!("smtp://127.0.0.1:{}", refusing_server(reply));
        let err = mailer(&url).send(&msg).await.unwrap_err();
        match &err {
            SendError::Refused {
                code: c, message, ..
            } => {
                assert_eq!(*c, code);
                assert!(reply.ends_with(message.as_str()), "{message:?}");
            }
            other => panic!("{reply}: {other:?}"),
        }
        assert_eq!(err.is_transient(), transient, "{err}");
    }
}

#[tokio::test]
async fn a_server_that_never_greets_times_out_transiently() {
    // The kernel completes the handshake from the backlog; nobody ever says 220.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let mut cfg =
        SmtpConfig::parse(&format!("smtp://{}", listener.local_addr().unwrap()), FROM).unwrap();
    cfg.timeout = Duration::from_millis(300);
    let msg = Message {
        to: vec!["abuse@hoster.example".into()],
        subject: "s".into(),
        ..Message::default()
    };
    let err = Mailer::new(cfg).unwrap().send(&msg).await.unwrap_err();
    assert!(
        matches!(err, SendError::Timeout { after, .. } if after == Duration::from_millis(300)),
        "{err:?}"
    );
    assert!(err.is_transient());
}
