//! Notices: the messages that ask a hosting provider to remove illegal material, their texts,
//! their machine-readable part, webhooks and links into the hoster portal.
//!
//! # Kinds and timing
//!
//! Once an analyst has judged a URL illegal and attribution has found the party that can remove
//! it, Schoon writes to that party. There are three [`NoticeKind`]s:
//!
//! | Kind | When | To |
//! |------|------|----|
//! | [`NoticeKind::Notice`] | right after the verdict | the hoster's abuse addresses |
//! | [`NoticeKind::Reminder`] | the removal norm ([`NORM_HOURS`], 24 h) passed and the material is still there | the hoster again |
//! | [`NoticeKind::Escalation`] | a configurable time later (for example 72 h after the notice) | the upstream network or an authority ([`NoticeDoc::escalated_to`]) |
//!
//! The deadline of a notice is the time of the first notice about a URL plus 24 hours (see
//! [`deadline_after`]); reminders and escalations repeat that deadline and say how far past it
//! they are.
//!
//! # One message per hoster per batch
//!
//! Hosters get many URLs at once (a forum, a file host, one customer's server). Schoon does not
//! send one message per URL: a [`NoticeDoc`] is **one** message to **one** hoster listing all of
//! its URLs ([`NoticeItem`]s) that are due in this round. The abuse desk gets one ticket with
//! one reference ([`new_notice_reference`], `N-XXXXX-XXXXX`) instead of hundreds, and the
//! hotline has one thing to follow up. The scheduler that collects the batches lives elsewhere;
//! this module turns a batch into text, JSON and signatures and nothing else. It does no I/O.
//!
//! # Templates
//!
//! Operators edit the human text. A [`Template`] is a pair of [MiniJinja] sources (subject and
//! body) for one kind, stored in the database; [`default_template`] gives the built-in English
//! texts. [`render`] fills a template from a [`NoticeDoc`]; [`check_template`] renders it
//! against [`sample_doc`] and is what the template editor calls on **save** and for the
//! **preview**, so a broken template never reaches a hoster.
//!
//! The rules:
//!
//! * **Strict undefined.** A variable that does not exist is an error, not an empty string: a
//!   typo (`{{ refrence }}`) is refused at save time with [`TemplateError::UnknownVariable`]
//!   naming it, instead of leaving a blank in a sent notice. Names are checked before rendering
//!   too, so a misspelt name in a branch the sample does not take is caught as well.
//! * **Plain text.** No auto-escaping: the output is a text/plain e-mail. Blocks (`{% … %}`)
//!   swallow the newline after them and the indentation before them, so templates can be laid
//!   out readably.
//! * **Limits.** A source over [`MAX_TEMPLATE_BYTES`] (64 KiB) is refused; rendering runs on a
//!   fuel budget ([`render_fuel`]) so a runaway loop stops with [`TemplateError::OutOfFuel`];
//!   a body over [`MAX_OUTPUT_BYTES`] is refused; templates cannot include or import others,
//!   and there are no macros.
//! * **One-line subject.** The rendered subject is flattened: every line break, tab or other
//!   control character becomes a space, runs of spaces collapse, and it is cut at
//!   [`MAX_SUBJECT_CHARS`]. A name with a line break in it (a hoster called
//!   `"X\r\nBcc: …"`) can therefore never inject a mail header. [`check_template`] goes
//!   further and refuses a subject template that itself spans lines
//!   ([`TemplateError::SubjectLineBreak`]), so an operator learns about it at once.
//!
//! ## Variables
//!
//! Times are epoch milliseconds: show them with the `datetime` filter.
//!
//! | Variable | Type | Meaning |
//! |----------|------|---------|
//! | `kind` | text | `notice`, `reminder` or `escalation` |
//! | `reference` | text | the message's unique reference, e.g. `N-7K3QD-M2X9P` |
//! | `hoster` | text | the hosting provider's name |
//! | `hoster_id` | integer | its id in the hosters register |
//! | `recipients` | list of text | the addresses the message goes to |
//! | `sent_at` | time | when the message is sent |
//! | `deadline` | time | first notice + 24 h: when the material should be gone |
//! | `norm_hours` | integer | the removal norm in hours (24) |
//! | `hours_late` | integer | whole hours `sent_at` is past `deadline` (0 if not past) |
//! | `notified_at` | time or none | the earliest first notice among the items (none for a first notice) |
//! | `portal_url` | text | the signed link into the hoster portal |
//! | `hotline.name`, `hotline.email`, `hotline.website` | text | the sending hotline |
//! | `escalated_to` | text or none | for escalations: the upstream network or authority addressed |
//! | `count` | integer | how many URLs the message lists |
//! | `categories` | list of text | the distinct categories of the items, sorted |
//! | `items` | list | the URLs, each with the fields below |
//! | `item.case_id` | integer | the case number |
//! | `item.url` | text | the URL |
//! | `item.category` | text | its category, e.g. `csam` |
//! | `item.reported_at` | time | when it was first reported |
//! | `item.addresses` | list of text | the IP addresses attribution found for its host |
//! | `item.notified_at` | time or none | when the first notice about it went |
//! | `item.hours_since_notice` | integer or none | whole hours from that notice to `sent_at` |
//!
//! Filters beyond MiniJinja's built-ins (`join`, `length`, `upper`, `default`, …):
//!
//! | Filter | Example | Gives |
//! |--------|---------|-------|
//! | `datetime` | `{{ deadline\|datetime }}` | `2026-11-24 14:05 UTC` |
//! | `rfc3339` | `{{ deadline\|rfc3339 }}` | `2026-11-24T14:05:00Z` |
//! | `plural` | `{{ count\|plural("URL", "URLs") }}` | `1 URL`, `3 URLs` (the plural defaults to singular + `s`) |
//!
//! A short example:
//!
//! ```text
//! Subject: [{{ reference }}] {{ count|plural("URL") }} to remove by {{ deadline|datetime }}
//!
//! Dear {{ hoster }},
//!
//! {% for item in items %}
//! {{ loop.index }}. {{ item.url }} ({{ item.category }}, reported {{ item.reported_at|datetime }})
//! {% endfor %}
//!
//! Please respond through {{ portal_url }}.
//! {{ hotline.name }}
//! ```
//!
//! # The JSON part
//!
//! Every message also carries a machine-readable copy, [`json_part`]: a [`NoticeJson`] with
//! `"schema": "schoon-notice/1"` ([`JSON_SCHEMA`]), the reference, kind, hoster, `sent_at` and
//! `deadline` as RFC 3339, the portal URL, the hotline and every item (case id, URL, category,
//! first report, addresses, first notice). Hosters can feed it straight into their ticket
//! system; the schema name changes when a field changes meaning, new fields may be added.
//!
//! Why not X-ARF? The XARF v4 format (github.com/xarf/xarf-spec, which has a `content`/`csam`
//! type) describes **one** incident per report, with one `report_id` (a UUID) and one `url`,
//! while a Schoon notice deliberately lists every URL of a hoster under one reference. Its
//! `csam` type also requires a legal `classification` (`baseline`, `A1` … `B2`) and a
//! `detection_method` that Schoon's categories do not record, and we will not invent them; so the
//! notice has a schema of its own, from which a receiver can still derive one XARF report per
//! item (`url`, `reported_at` as `timestamp`, an address as `source_identifier`).
//!
//! # Webhooks
//!
//! A hoster can take notices by webhook instead of e-mail: an HTTP `POST` of
//! [`webhook_body`] (the same JSON, `Content-Type: application/json`) with a
//! [`WEBHOOK_SIGNATURE_HEADER`] header made by [`sign_webhook`]:
//!
//! ```text
//! Schoon-Signature: t=1795442700,v1=5b0c…(64 hex digits)
//! ```
//!
//! `t` is the Unix time of sending in seconds and `v1` is the hex HMAC-SHA256, keyed with the
//! secret shared with that hoster, of `"<t>." + body` (the raw body bytes as received). The
//! timestamp is under the MAC, so a captured request cannot be replayed later. A receiver
//! recomputes the MAC, compares it in constant time and refuses timestamps too far from its
//! clock; several `v1=` entries may appear during a secret rotation, and any match is
//! enough. In Rust, with this crate:
//!
//! ```
//! use ntd::notice::{sign_webhook, verify_webhook, SignatureError};
//!
//! let secret = b"shared with the hoster";
//! let body = br#"{"schema":"schoon-notice/1"}"#;
//! let header = sign_webhook(secret, 1_795_442_700, body);
//!
//! // The receiver, 30 s later, accepting 5 minutes of clock difference:
//! assert!(verify_webhook(secret, &header, body, 1_795_442_730, 300).is_ok());
//! assert_eq!(
//!     verify_webhook(secret, &header, b"{}", 1_795_442_730, 300),
//!     Err(SignatureError::Mismatch)
//! );
//! ```
//!
//! Elsewhere it is a few lines, e.g. in Python:
//!
//! ```text
//! parts = dict(p.split("=", 1) for p in header.split(","))   # one t, take every v1
//! mac = hmac.new(secret, parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
//! ok = hmac.compare_digest(mac, parts["v1"]) and abs(time.time() - int(parts["t"])) <= 300
//! ```
//!
//! # Portal links
//!
//! Each message links to the hoster portal, where the hoster sees its URLs and marks them
//! removed. The link carries a [`portal_token`]: base64url of the hoster id, an expiry and an
//! HMAC-SHA256 over both with a server secret, so the link works without a password, only for
//! that hoster, and only until it expires. [`verify_portal_token`] gives the hoster id back or
//! says whether the token is malformed, tampered with (or made with another secret) or
//! expired ([`TokenError`]). The token is URL-safe as it is; where it goes in the URL is the
//! server's business.
//!
//! [MiniJinja]: https://docs.rs/minijinja

use hmac::{KeyInit, Mac};
use lists::Millis;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

const HOUR_MS: i64 = 3_600_000;

/// The removal norm: a hoster should remove reported material within this many hours of the
/// first notice (the Dutch code of conduct's 24 hours).
pub const NORM_HOURS: i64 = 24;

/// The largest template source (subject or body) accepted, in bytes: 64 KiB.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;

/// The largest rendered body accepted, in bytes: 1 MiB.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// The longest rendered subject, in characters; longer ones are cut and end in `...`.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// The JSON part's schema name and version.
pub const JSON_SCHEMA: &str = "schoon-notice/1";

/// The HTTP header that carries a webhook's signature.
pub const WEBHOOK_SIGNATURE_HEADER: &str = "Schoon-Signature";

/// The deadline for material first notified at `notified`: [`NORM_HOURS`] later.
pub fn deadline_after(notified: Millis) -> Millis {
    Millis(notified.0.saturating_add(NORM_HOURS * HOUR_MS))
}

// ---------------------------------------------------------------------------------------
// The document

/// Which message of the sequence this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// The first message: please remove these URLs within 24 hours.
    Notice,
    /// The deadline passed and the material is still there.
    Reminder,
    /// To the upstream network or an authority: the hoster did not act.
    Escalation,
}

impl NoticeKind {
    /// Every kind, in the order they are sent.
    pub const ALL: [NoticeKind; 3] = [
        NoticeKind::Notice,
        NoticeKind::Reminder,
        NoticeKind::Escalation,
    ];

    /// The stored name (as in templates and the JSON part).
    pub fn name(self) -> &'static str {
        match self {
            NoticeKind::Notice => "notice",
            NoticeKind::Reminder => "reminder",
            NoticeKind::Escalation => "escalation",
        }
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            NoticeKind::Notice => "Notice",
            NoticeKind::Reminder => "Reminder",
            NoticeKind::Escalation => "Escalation",
        }
    }
}

impl fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for NoticeKind {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<NoticeKind> {
        NoticeKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                crate::Error::Invalid(format!(
                    "unknown notice kind {s:?}; one of {}",
                    NoticeKind::ALL.map(NoticeKind::name).join(", ")
                ))
            })
    }
}

/// One URL in a notice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeItem {
    /// The case number.
    pub case_id: i64,
    /// The (normalised) URL.
    pub url: String,
    /// Its category, e.g. `csam`.
    pub category: String,
    /// When it was first reported.
    pub reported_at: Millis,
    /// The IP addresses attribution found for its host.
    pub addresses: Vec<String>,
    /// For reminders and escalations: when the first notice about it went.
    pub notified_at: Option<Millis>,
}

/// The sending hotline, as notices name it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hotline {
    /// Its name.
    pub name: String,
    /// The address hosters can reply to.
    pub email: String,
    /// Its website.
    pub website: String,
}

/// Everything one message to one hoster says: the input of [`render`], [`json_part`] and
/// [`webhook_body`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeDoc {
    /// Notice, reminder or escalation.
    pub kind: NoticeKind,
    /// The message's unique reference (from [`new_notice_reference`]).
    pub reference: String,
    /// The hoster's id in the register.
    pub hoster_id: i64,
    /// The hoster's name.
    pub hoster: String,
    /// The addresses the message goes to.
    pub recipients: Vec<String>,
    /// When it is sent.
    pub sent_at: Millis,
    /// When the material should be gone: the first notice plus the 24-hour norm
    /// ([`deadline_after`]).
    pub deadline: Millis,
    /// The signed link into the hoster portal (see [`portal_token`]).
    pub portal_url: String,
    /// The sending hotline.
    pub hotline: Hotline,
    /// For escalations: who receives it (the upstream network or authority).
    pub escalated_to: Option<String>,
    /// The URLs, all of this hoster's that are due in this batch.
    pub items: Vec<NoticeItem>,
}

/// A fresh notice reference: `N-` and 10 characters of Crockford base32 (50 random bits),
/// easy to read out on the phone and impossible to guess, e.g. `N-7K3QD-M2X9P`.
pub fn new_notice_reference() -> String {
    crate::case::reference_with("N-")
}

// ---------------------------------------------------------------------------------------
// Templates

/// The texts of one kind of message, as MiniJinja sources (see the module documentation for
/// the variables and filters they can use).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// The kind of message it is for.
    pub kind: NoticeKind,
    /// The subject line's source.
    pub subject: String,
    /// The body's source.
    pub body: String,
}

/// A rendered message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rendered {
    /// The subject: one line of at most [`MAX_SUBJECT_CHARS`] characters.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
}

/// Which part of a template an error is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplatePart {
    /// The subject line.
    Subject,
    /// The body.
    Body,
}

impl TemplatePart {
    fn name(self) -> &'static str {
        match self {
            TemplatePart::Subject => "subject",
            TemplatePart::Body => "body",
        }
    }
}

impl fmt::Display for TemplatePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a template cannot be used. The messages are for the operator editing it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The source is over [`MAX_TEMPLATE_BYTES`].
    #[error("the {part} template is too long: {bytes} bytes, at most {MAX_TEMPLATE_BYTES}")]
    TooLong {
        /// Subject or body.
        part: TemplatePart,
        /// Its length.
        bytes: usize,
    },
    /// The source is not valid template syntax.
    #[error("{part}{}: {reason}", at_line(*line))]
    Syntax {
        /// Subject or body.
        part: TemplatePart,
        /// Where (1-based), if known.
        line: Option<usize>,
        /// What MiniJinja says is wrong.
        reason: String,
    },
    /// The template uses a variable (or field) that notices do not have.
    #[error("{part}{}: unknown variable `{name}`; {}", at_line(*line), known_names(name))]
    UnknownVariable {
        /// Subject or body.
        part: TemplatePart,
        /// Where (1-based), if known.
        line: Option<usize>,
        /// The name as written, e.g. `refrence` or `item.urll`.
        name: String,
    },
    /// Rendering used up its fuel: a loop runs too long.
    #[error("the {part} template does too much work (a loop that runs too long?)")]
    OutOfFuel {
        /// Subject or body.
        part: TemplatePart,
    },
    /// The rendered body is over [`MAX_OUTPUT_BYTES`].
    #[error("the rendered {part} is too long: more than {MAX_OUTPUT_BYTES} bytes")]
    OutputTooLong {
        /// Subject or body.
        part: TemplatePart,
    },
    /// The subject template spans more than one line.
    #[error("the subject must be one line; remove the line break")]
    SubjectLineBreak,
    /// The part renders to nothing (or only white space).
    #[error("the {part} renders empty")]
    Empty {
        /// Subject or body.
        part: TemplatePart,
    },
    /// Another rendering error (a filter given the wrong type, a bad operation).
    #[error("{part}{}: {reason}", at_line(*line))]
    Render {
        /// Subject or body.
        part: TemplatePart,
        /// Where (1-based), if known.
        line: Option<usize>,
        /// What MiniJinja says went wrong.
        reason: String,
    },
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(", line {l}")).unwrap_or_default()
}

/// What a template could have meant instead of `name`.
fn known_names(name: &str) -> String {
    if !name.contains('.') {
        format!("notices have {}", VARIABLES.join(", "))
    } else if name.starts_with("hotline.") {
        format!("hotline has {}", HOTLINE_FIELDS.join(", "))
    } else {
        format!("items have {}", ITEM_FIELDS.join(", "))
    }
}

/// The top-level variables a template sees.
const VARIABLES: [&str; 16] = [
    "kind",
    "reference",
    "hoster",
    "hoster_id",
    "recipients",
    "sent_at",
    "deadline",
    "norm_hours",
    "hours_late",
    "notified_at",
    "portal_url",
    "hotline",
    "escalated_to",
    "count",
    "categories",
    "items",
];

/// The fields of `hotline`.
const HOTLINE_FIELDS: [&str; 3] = ["name", "email", "website"];

/// The fields of each of `items`.
const ITEM_FIELDS: [&str; 7] = [
    "case_id",
    "url",
    "category",
    "reported_at",
    "addresses",
    "notified_at",
    "hours_since_notice",
];

/// The fuel a render of a document with `items` items gets: a fixed budget plus some per item,
/// so a hoster with 50,000 URLs still gets its notice while a runaway loop stops quickly.
pub fn render_fuel(items: usize) -> u64 {
    100_000 + 1_000 * items as u64
}

#[derive(Serialize)]
struct Ctx<'a> {
    kind: &'static str,
    reference: &'a str,
    hoster: &'a str,
    hoster_id: i64,
    recipients: &'a [String],
    sent_at: i64,
    deadline: i64,
    norm_hours: i64,
    hours_late: i64,
    notified_at: Option<i64>,
    portal_url: &'a str,
    hotline: &'a Hotline,
    escalated_to: Option<&'a str>,
    count: usize,
    categories: Vec<&'a str>,
    items: Vec<CtxItem<'a>>,
}

#[derive(Serialize)]
struct CtxItem<'a> {
    case_id: i64,
    url: &'a str,
    category: &'a str,
    reported_at: i64,
    addresses: &'a [String],
    notified_at: Option<i64>,
    hours_since_notice: Option<i64>,
}

impl<'a> Ctx<'a> {
    fn new(doc: &'a NoticeDoc) -> Ctx<'a> {
        let sent = doc.sent_at.0;
        Ctx {
            kind: doc.kind.name(),
            reference: &doc.reference,
            hoster: &doc.hoster,
            hoster_id: doc.hoster_id,
            recipients: &doc.recipients,
            sent_at: sent,
            deadline: doc.deadline.0,
            norm_hours: NORM_HOURS,
            hours_late: (sent.saturating_sub(doc.deadline.0) / HOUR_MS).max(0),
            notified_at: doc
                .items
                .iter()
                .filter_map(|i| i.notified_at)
                .min()
                .map(|m| m.0),
            portal_url: &doc.portal_url,
            hotline: &doc.hotline,
            escalated_to: doc.escalated_to.as_deref(),
            count: doc.items.len(),
            categories: doc
                .items
                .iter()
                .map(|i| i.category.as_str())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            items: doc
                .items
                .iter()
                .map(|i| CtxItem {
                    case_id: i.case_id,
                    url: &i.url,
                    category: &i.category,
                    reported_at: i.reported_at.0,
                    addresses: &i.addresses,
                    notified_at: i.notified_at.map(|m| m.0),
                    hours_since_notice: i.notified_at.map(|m| sent.saturating_sub(m.0) / HOUR_MS),
                })
                .collect(),
        }
    }
}

fn environment(fuel: u64) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.set_fuel(Some(fuel));
    env.set_recursion_limit(100);
    env.add_filter("datetime", |ms: Option<i64>| {
        ms.map(|ms| format_datetime(Millis(ms))).ok_or_else(no_time)
    });
    env.add_filter("rfc3339", |ms: Option<i64>| {
        ms.map(|ms| Millis(ms).rfc3339()).ok_or_else(no_time)
    });
    env.add_filter("plural", |n: i64, one: &str, many: Option<&str>| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            match many {
                Some(many) => format!("{n} {many}"),
                None => format!("{n} {one}s"),
            }
        }
    });
    env
}

fn no_time() -> minijinja::Error {
    minijinja::Error::new(
        ErrorKind::InvalidOperation,
        "this time is none here; guard it with {% if ... %}",
    )
}

/// Renders `template` for `doc`: the subject flattened to one line and capped, the body as
/// written. Unknown names, syntax errors, runaway loops and over-long sources or output are
/// errors, as is a part that renders empty.
pub fn render(template: &Template, doc: &NoticeDoc) -> Result<Rendered, TemplateError> {
    for (part, source) in [
        (TemplatePart::Subject, &template.subject),
        (TemplatePart::Body, &template.body),
    ] {
        if source.len() > MAX_TEMPLATE_BYTES {
            return Err(TemplateError::TooLong {
                part,
                bytes: source.len(),
            });
        }
    }
    let env = environment(render_fuel(doc.items.len()));
    let ctx = Ctx::new(doc);
    let subject = render_part(&env, TemplatePart::Subject, &template.subject, &ctx)?;
    let text = render_part(&env, TemplatePart::Body, &template.body, &ctx)?;
    let subject = one_line(&subject);
    if subject.is_empty() {
        return Err(TemplateError::Empty {
            part: TemplatePart::Subject,
        });
    }
    if text.trim().is_empty() {
        return Err(TemplateError::Empty {
            part: TemplatePart::Body,
        });
    }
    Ok(Rendered { subject, text })
}

/// Checks a template the way the editor needs it: it must be within the limits, its subject
/// one line, every name it uses known, and it must render against [`sample_doc`] of its kind.
/// The result is the preview.
pub fn check_template(template: &Template) -> Result<Rendered, TemplateError> {
    if template.subject.len() <= MAX_TEMPLATE_BYTES
        && template.subject.trim().contains(['\r', '\n'])
    {
        return Err(TemplateError::SubjectLineBreak);
    }
    render(template, &sample_doc(template.kind))
}

fn render_part(
    env: &Environment<'static>,
    part: TemplatePart,
    source: &str,
    ctx: &Ctx<'_>,
) -> Result<String, TemplateError> {
    let tmpl = env
        .template_from_named_str(part.name(), source)
        .map_err(|e| jinja_error(part, source, &e))?;
    // The first unknown name in the source, so the report does not depend on set order.
    let mut names: Vec<String> = tmpl.undeclared_variables(true).into_iter().collect();
    names.sort_by_cached_key(|n| (find_line(source, n), n.clone()));
    for name in names {
        let mut path = name.split('.');
        let top = path.next().unwrap_or_default();
        let known = if top == "loop" {
            // Jinja's loop variable, outside a loop strict rendering refuses it.
            true
        } else if VARIABLES.contains(&top) {
            // Only `hotline` is an object at the top; fields of the others are methods or
            // caught by strict rendering.
            top != "hotline" || path.next().is_none_or(|f| HOTLINE_FIELDS.contains(&f))
        } else {
            env.globals().any(|(g, _)| g == top)
        };
        if !known {
            return Err(TemplateError::UnknownVariable {
                part,
                line: find_line(source, &name),
                name,
            });
        }
    }
    let mut out = CappedWriter::default();
    match tmpl.render_captured_to(ctx, &mut out) {
        Ok(_) => Ok(String::from_utf8_lossy(&out.buf).into_owned()),
        Err(_) if out.overflowed => Err(TemplateError::OutputTooLong { part }),
        Err(e) => Err(jinja_error(part, source, &e)),
    }
}

/// Collects output and refuses to grow past [`MAX_OUTPUT_BYTES`].
#[derive(Default)]
struct CappedWriter {
    buf: Vec<u8>,
    overflowed: bool,
}

impl std::io::Write for CappedWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > MAX_OUTPUT_BYTES {
            self.overflowed = true;
            return Err(std::io::Error::other("output too long"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn jinja_error(part: TemplatePart, source: &str, e: &minijinja::Error) -> TemplateError {
    let line = e.line();
    match e.kind() {
        ErrorKind::OutOfFuel => TemplateError::OutOfFuel { part },
        ErrorKind::SyntaxError => TemplateError::Syntax {
            part,
            line,
            reason: reason(e),
        },
        ErrorKind::UndefinedError => {
            match e.range().and_then(|r| source.get(expression(source, r))) {
                Some(name) if !name.trim().is_empty() => TemplateError::UnknownVariable {
                    part,
                    line,
                    name: name.trim().to_string(),
                },
                _ => TemplateError::Render {
                    part,
                    line,
                    reason: reason(e),
                },
            }
        }
        _ => TemplateError::Render {
            part,
            line,
            reason: reason(e),
        },
    }
}

/// `range` widened to the left over the rest of a lookup chain (`items[0].x`, not `[0].x`).
fn expression(source: &str, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let head = source.get(..range.start).unwrap_or_default();
    let keep = head
        .trim_end_matches(|c: char| c.is_alphanumeric() || "_.[]'\"".contains(c))
        .len();
    keep..range.end
}

fn reason(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    }
}

/// The 1-based line of the first use of `name` in `source` as a whole word.
fn find_line(source: &str, name: &str) -> Option<usize> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    source.match_indices(name).find_map(|(at, _)| {
        let before = source[..at].chars().next_back();
        let after = source[at + name.len()..].chars().next();
        let whole = !before.is_some_and(|c| ident(c) || c == '.') && !after.is_some_and(ident);
        whole.then(|| source[..at].matches('\n').count() + 1)
    })
}

/// `s` on one line: line breaks, tabs and other control characters become spaces, runs of
/// white space collapse, and the result is cut at [`MAX_SUBJECT_CHARS`].
fn one_line(s: &str) -> String {
    let words: Vec<&str> = s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let line = words.join(" ");
    if line.chars().count() <= MAX_SUBJECT_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(MAX_SUBJECT_CHARS - 3).collect();
    cut.truncate(cut.trim_end().len());
    cut.push_str("...");
    cut
}

/// `2026-11-23 14:05 UTC`: the format of the `datetime` filter.
pub fn format_datetime(at: Millis) -> String {
    let minutes = at.0.div_euclid(60_000);
    let days = minutes.div_euclid(1440);
    let minute_of_day = minutes.rem_euclid(1440);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        minute_of_day / 60,
        minute_of_day % 60
    )
}

/// The proleptic Gregorian date of a day number (days since 1970-01-01); Howard Hinnant's
/// `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

const NOTICE_SUBJECT: &str = r#"[{{ reference }}] Removal request: {{ count|plural("URL", "URLs") }} with illegal content on your network ({{ hoster }})"#;

const NOTICE_BODY: &str = r#"Dear abuse team of {{ hoster }},

{{ hotline.name }} is a hotline where the public and partner organisations report illegal
content online, in particular child sexual abuse material. We have received reports about
the {{ "URL" if count == 1 else "URLs" }} below, hosted on your network. Our analysts have assessed the
material and found it to be illegal.

We ask you to remove it, or to make it inaccessible, as soon as possible and in any case
within {{ norm_hours }} hours: by {{ deadline|datetime }}.

{{ count|plural("URL", "URLs") }} (reference {{ reference }}):

{% for item in items %}
{{ loop.index }}. {{ item.url }}
   Category:       {{ item.category }}
   First reported: {{ item.reported_at|datetime }}
{% if item.addresses %}
   Served from:    {{ item.addresses|join(", ") }}
{% endif %}
   Case:           {{ item.case_id }}

{% endfor %}
Please do not download, copy or forward the material itself. Our assessment is complete;
you do not need to verify the content in order to act on this notice.

How to respond
--------------
Confirm the removal, or tell us why you cannot act, in the hoster portal:

  {{ portal_url }}

There you can mark each URL as removed. You can also reply to this message; please quote
the reference {{ reference }}. We check every URL again after the deadline, and will send a
reminder if the material is still online.

This message carries a machine-readable copy of this notice (JSON, schema "schoon-notice/1")
for your ticket system.

Kind regards,

{{ hotline.name }}
{{ hotline.email }}
{{ hotline.website }}

Reference: {{ reference }}
Sent: {{ sent_at|datetime }}
"#;

const REMINDER_SUBJECT: &str = r#"[{{ reference }}] Reminder: {{ count|plural("URL", "URLs") }} with illegal content still online ({{ hoster }})"#;

const REMINDER_BODY: &str = r#"Dear abuse team of {{ hoster }},

{% if notified_at %}
On {{ notified_at|datetime }} we notified you of illegal material on your network
{% else %}
We have notified you of illegal material on your network
{% endif %}
and asked you to remove it within {{ norm_hours }} hours, by {{ deadline|datetime }}.
{% if hours_late > 0 %}
That deadline passed {{ hours_late|plural("hour", "hours") }} ago, and we have no
{% else %}
We have no
{% endif %}
confirmation that the material at the {{ "URL" if count == 1 else count ~ " URLs" }} below has been removed.

We ask you to remove it, or to make it inaccessible, now and without further delay. If it
stays online, we will escalate the matter to your upstream provider or the competent
authorities.

Still online (reference {{ reference }}):

{% for item in items %}
{{ loop.index }}. {{ item.url }}
   Category:       {{ item.category }}
   First reported: {{ item.reported_at|datetime }}
{% if item.notified_at %}
   Notified:       {{ item.notified_at|datetime }} ({{ item.hours_since_notice|plural("hour", "hours") }} ago)
{% endif %}
{% if item.addresses %}
   Served from:    {{ item.addresses|join(", ") }}
{% endif %}
   Case:           {{ item.case_id }}

{% endfor %}
Please do not download, copy or forward the material itself.

How to respond
--------------
Confirm the removal, or tell us why you cannot act, in the hoster portal:

  {{ portal_url }}

You can also reply to this message; please quote the reference {{ reference }}. If you
have already removed the material, thank you, and please let us know so that we can close
these cases.

Kind regards,

{{ hotline.name }}
{{ hotline.email }}
{{ hotline.website }}

Reference: {{ reference }}
Sent: {{ sent_at|datetime }}
"#;

const ESCALATION_SUBJECT: &str = r#"[{{ reference }}] Escalation: {{ hoster }} has not removed {{ count|plural("URL", "URLs") }} with illegal content"#;

const ESCALATION_BODY: &str = r#"Dear {{ escalated_to or "colleagues" }},

{{ hotline.name }} is a hotline where the public and partner organisations report illegal
content online, in particular child sexual abuse material. We are writing to you about
{{ hoster }}, which according to our records is on your network or under your
responsibility: it has not removed illegal material that we reported to it.

{% if notified_at %}
We notified {{ hoster }} on {{ notified_at|datetime }} and asked for removal
{% else %}
We notified {{ hoster }} and asked for removal
{% endif %}
within {{ norm_hours }} hours, by {{ deadline|datetime }}.
{% if hours_late > 0 %}
That deadline passed {{ hours_late|plural("hour", "hours") }} ago.
{% endif %}
Despite our notice, the {{ "URL" if count == 1 else count ~ " URLs" }} below {{ "has" if count == 1 else "have" }} not been reported
removed. Our analysts have assessed the material and found it to be illegal.

We ask you to have the material removed, using the means your contract with or authority
over {{ hoster }} gives you, or to take the measures open to you.

Overdue (reference {{ reference }}):

{% for item in items %}
{{ loop.index }}. {{ item.url }}
   Category:       {{ item.category }}
   First reported: {{ item.reported_at|datetime }}
{% if item.notified_at %}
   Notified:       {{ item.notified_at|datetime }} ({{ item.hours_since_notice|plural("hour", "hours") }} ago)
{% endif %}
{% if item.addresses %}
   Served from:    {{ item.addresses|join(", ") }}
{% endif %}
   Case:           {{ item.case_id }}

{% endfor %}
Please do not download, copy or forward the material itself.

The current status of each URL is available at:

  {{ portal_url }}

Please reply to this message, quoting the reference {{ reference }}, to tell us what you
have done or whom we should contact instead.

Kind regards,

{{ hotline.name }}
{{ hotline.email }}
{{ hotline.website }}

Reference: {{ reference }}
Sent: {{ sent_at|datetime }}
"#;

/// The built-in English texts for `kind`: what is reported, every URL with its category and
/// first report, the 24-hour norm and the deadline, how to respond (the portal link) and the
/// reference. The reminder says how late it is; the escalation addresses the upstream network
/// or authority and names the hoster and the overdue URLs.
pub fn default_template(kind: NoticeKind) -> Template {
    let (subject, body) = match kind {
        NoticeKind::Notice => (NOTICE_SUBJECT, NOTICE_BODY),
        NoticeKind::Reminder => (REMINDER_SUBJECT, REMINDER_BODY),
        NoticeKind::Escalation => (ESCALATION_SUBJECT, ESCALATION_BODY),
    };
    Template {
        kind,
        subject: subject.to_string(),
        body: body.to_string(),
    }
}

/// A fictitious but complete document of `kind` for previews and [`check_template`]: the
/// hoster "Example Hosting B.V." with `.example` names, documentation addresses (RFC 5737,
/// RFC 3849) and benign example URLs. The notice is sent on 2026-11-23 14:05 UTC; the
/// reminder 26 hours after the notice, the escalation 72 hours after it.
pub fn sample_doc(kind: NoticeKind) -> NoticeDoc {
    // 2026-11-23 14:05 UTC.
    let now = Millis(1_795_442_700_000);
    let notified = match kind {
        NoticeKind::Notice => now,
        NoticeKind::Reminder => Millis(now.0 - 26 * HOUR_MS),
        NoticeKind::Escalation => Millis(now.0 - 72 * HOUR_MS),
    };
    let first_notice = (kind != NoticeKind::Notice).then_some(notified);
    let item = |case_id: i64, url: &str, hours_before: i64, addresses: &[&str]| NoticeItem {
        case_id,
        url: url.to_string(),
        category: "csam".to_string(),
        reported_at: Millis(notified.0 - hours_before * HOUR_MS),
        addresses: addresses.iter().map(|a| a.to_string()).collect(),
        notified_at: first_notice,
    };
    let (recipients, escalated_to) = match kind {
        NoticeKind::Escalation => (
            vec!["abuse@transit.example".to_string()],
            Some("Example Transit Networks (AS64500)".to_string()),
        ),
        _ => (vec!["abuse@hosting.example".to_string()], None),
    };
    NoticeDoc {
        kind,
        reference: "N-7K3QD-M2X9P".to_string(),
        hoster_id: 42,
        hoster: "Example Hosting B.V.".to_string(),
        recipients,
        sent_at: now,
        deadline: deadline_after(notified),
        portal_url: "https://hotline.example/portal/sample-token".to_string(),
        hotline: Hotline {
            name: "Example Hotline".to_string(),
            email: "reports@hotline.example".to_string(),
            website: "https://hotline.example".to_string(),
        },
        escalated_to,
        items: vec![
            item(
                1001,
                "https://files.hosting.example/u/7f3a/index.html",
                5,
                &["192.0.2.10", "2001:db8::10"],
            ),
            item(
                1002,
                "https://files.hosting.example/u/7f3a/page2.html",
                3,
                &["192.0.2.10", "2001:db8::10"],
            ),
            item(
                1003,
                "http://board.customer.example/t/1234",
                1,
                &["192.0.2.77"],
            ),
        ],
    }
}

// ---------------------------------------------------------------------------------------
// The JSON part

/// The machine-readable copy of a notice ([`json_part`]), schema [`JSON_SCHEMA`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeJson {
    /// Always [`JSON_SCHEMA`].
    pub schema: String,
    /// The message's reference.
    pub reference: String,
    /// Notice, reminder or escalation.
    pub kind: NoticeKind,
    /// The hoster it is about.
    pub hoster: JsonHoster,
    /// When it was sent, RFC 3339.
    pub sent_at: String,
    /// When the material should be gone, RFC 3339.
    pub deadline: String,
    /// The link into the hoster portal.
    pub portal_url: String,
    /// The sending hotline.
    pub hotline: Hotline,
    /// For escalations: who receives it.
    pub escalated_to: Option<String>,
    /// The URLs.
    pub items: Vec<JsonItem>,
}

/// The hoster in a [`NoticeJson`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonHoster {
    /// Its id in the hotline's register.
    pub id: i64,
    /// Its name.
    pub name: String,
}

/// One URL in a [`NoticeJson`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonItem {
    /// The case number (quote it together with the reference).
    pub case_id: i64,
    /// The URL.
    pub url: String,
    /// Its category, e.g. `csam`.
    pub category: String,
    /// When it was first reported, RFC 3339.
    pub reported_at: String,
    /// The IP addresses it was served from.
    pub addresses: Vec<String>,
    /// When the first notice about it went, RFC 3339 (none in a first notice).
    pub notified_at: Option<String>,
}

impl NoticeJson {
    /// The JSON view of `doc`.
    pub fn new(doc: &NoticeDoc) -> NoticeJson {
        NoticeJson {
            schema: JSON_SCHEMA.to_string(),
            reference: doc.reference.clone(),
            kind: doc.kind,
            hoster: JsonHoster {
                id: doc.hoster_id,
                name: doc.hoster.clone(),
            },
            sent_at: doc.sent_at.rfc3339(),
            deadline: doc.deadline.rfc3339(),
            portal_url: doc.portal_url.clone(),
            hotline: doc.hotline.clone(),
            escalated_to: doc.escalated_to.clone(),
            items: doc
                .items
                .iter()
                .map(|i| JsonItem {
                    case_id: i.case_id,
                    url: i.url.clone(),
                    category: i.category.clone(),
                    reported_at: i.reported_at.rfc3339(),
                    addresses: i.addresses.clone(),
                    notified_at: i.notified_at.map(Millis::rfc3339),
                })
                .collect(),
        }
    }
}

/// The machine-readable part of the message: [`NoticeJson`] as pretty-printed JSON.
pub fn json_part(doc: &NoticeDoc) -> String {
    serde_json::to_string_pretty(&NoticeJson::new(doc)).expect("plain data serialises")
}

// ---------------------------------------------------------------------------------------
// Webhooks

/// The body of a webhook POST: the same JSON as [`json_part`].
pub fn webhook_body(doc: &NoticeDoc) -> String {
    json_part(doc)
}

fn webhook_mac(secret: &[u8], timestamp_secs: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The [`WEBHOOK_SIGNATURE_HEADER`] value for `body` sent at `timestamp_secs` (Unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>." + body>`.
pub fn sign_webhook(secret: &[u8], timestamp_secs: i64, body: &[u8]) -> String {
    let mac = webhook_mac(secret, timestamp_secs, body)
        .finalize()
        .into_bytes();
    format!("t={timestamp_secs},v1={}", hex::encode(mac))
}

/// Why a webhook signature is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `t=<seconds>,v1=<64 hex digits>`.
    #[error("malformed signature header: {0}")]
    Malformed(&'static str),
    /// No `v1` matches: the body was changed, or the secret is another.
    #[error("signature does not match")]
    Mismatch,
    /// The signature is right but its timestamp is too far from now (a replay or a wrong
    /// clock).
    #[error("signature timestamp is {age_secs} s from now, beyond the tolerance")]
    Stale {
        /// Now minus the timestamp, in seconds (negative: in the future).
        age_secs: i64,
    },
}

/// Checks a [`WEBHOOK_SIGNATURE_HEADER`] value for `body` as a receiver does: one `t`, at
/// least one `v1` (any may match, for secret rotation; unknown keys are ignored), the MAC
/// compared in constant time, and the timestamp within `tolerance_secs` of `now_secs`.
pub fn verify_webhook(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut macs = Vec::new();
    for field in header.split(',') {
        let Some((key, value)) = field.trim().split_once('=') else {
            return Err(SignatureError::Malformed("a field without '='"));
        };
        match key.trim() {
            "t" => {
                if timestamp.is_some() {
                    return Err(SignatureError::Malformed("more than one t"));
                }
                let value = value.trim();
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(SignatureError::Malformed("t is not Unix seconds"));
                }
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed("t is not Unix seconds"))?,
                );
            }
            "v1" => match hex::decode(value.trim()) {
                Ok(mac) if mac.len() == 32 => macs.push(mac),
                _ => return Err(SignatureError::Malformed("v1 is not 64 hex digits")),
            },
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return Err(SignatureError::Malformed("no t"));
    };
    if macs.is_empty() {
        return Err(SignatureError::Malformed("no v1"));
    }
    let expected = webhook_mac(secret, timestamp, body);
    if !macs
        .iter()
        .any(|mac| expected.clone().verify_slice(mac).is_ok())
    {
        return Err(SignatureError::Mismatch);
    }
    let age_secs = now_secs.saturating_sub(timestamp);
    if age_secs.saturating_abs() > tolerance_secs {
        return Err(SignatureError::Stale { age_secs });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Portal tokens

/// Keeps portal-token MACs apart from anything else made with the same secret.
const PORTAL_CONTEXT: &[u8] = b"schoon portal token v1\0";
/// Hoster id (8) + expiry (8) + MAC (32) bytes.
const TOKEN_BYTES: usize = 48;

fn portal_mac(secret: &[u8], payload: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(PORTAL_CONTEXT);
    mac.update(payload);
    mac
}

/// A token for the hoster portal link: base64url (no padding, 64 characters) of the hoster id
/// and `expires` (both big-endian i64) and an HMAC-SHA256 over them with `secret`.
pub fn portal_token(secret: &[u8], hoster_id: i64, expires: Millis) -> String {
    let mut bytes = Vec::with_capacity(TOKEN_BYTES);
    bytes.extend_from_slice(&hoster_id.to_be_bytes());
    bytes.extend_from_slice(&expires.0.to_be_bytes());
    let mac = portal_mac(secret, &bytes).finalize().into_bytes();
    bytes.extend_from_slice(&mac);
    base64url_encode(&bytes)
}

/// Why a portal token is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token at all (wrong length, not base64url).
    #[error("malformed portal token")]
    Malformed,
    /// The MAC does not match: the token was changed or made with another secret.
    #[error("portal token is not valid")]
    Tampered,
    /// A genuine token, past its expiry.
    #[error("portal link expired at {expired_at}")]
    Expired {
        /// When it expired.
        expired_at: Millis,
    },
}

/// The hoster id of a genuine, unexpired portal token. The MAC is checked (in constant time)
/// before the expiry, so only a genuine token is ever reported expired.
pub fn verify_portal_token(secret: &[u8], token: &str, now: Millis) -> Result<i64, TokenError> {
    let bytes = base64url_decode(token).ok_or(TokenError::Malformed)?;
    if bytes.len() != TOKEN_BYTES {
        return Err(TokenError::Malformed);
    }
    let (payload, mac) = bytes.split_at(16);
    portal_mac(secret, payload)
        .verify_slice(mac)
        .map_err(|_| TokenError::Tampered)?;
    let hoster_id = i64::from_be_bytes(payload[..8].try_into().expect("8 bytes"));
    let expires = Millis(i64::from_be_bytes(
        payload[8..].try_into().expect("8 bytes"),
    ));
    if now >= expires {
        return Err(TokenError::Expired {
            expired_at: expires,
        });
    }
    Ok(hoster_id)
}

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding (RFC 4648 §5).
fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(B64URL[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes unpadded base64url; `None` for any other character, a dangling character or
/// non-zero trailing bits.
fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let value = |c: u8| B64URL.iter().position(|&a| a == c).map(|v| v as u32);
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    for chunk in s.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let bytes = chunk.len() - 1;
        let tail_bits = 24 - 8 * bytes;
        if n & ((1 << tail_bits) - 1) != 0 && chunk.len() < 4 {
            return None;
        }
        out.extend((0..bytes).map(|i| (n >> (16 - 8 * i)) as u8));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tpl(subject: &str, body: &str) -> Template {
        Template {
            kind: NoticeKind::Notice,
            subject: subject.to_string(),
            body: body.to_string(),
        }
    }

    #[test]
    fn kinds_round_trip() {
        for kind in NoticeKind::ALL {
            assert_eq!(kind.name().parse::<NoticeKind>().unwrap(), kind);
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.name())
            );
        }
        assert!("warning".parse::<NoticeKind>().is_err());
    }

    #[test]
    fn default_templates_render_for_every_kind() {
        for kind in NoticeKind::ALL {
            let doc = sample_doc(kind);
            let out = render(&default_template(kind), &doc).unwrap();
            assert_eq!(check_template(&default_template(kind)).unwrap(), out);
            assert!(
                out.subject.contains(&doc.reference),
                "{kind}: {}",
                out.subject
            );
            assert!(!out.subject.contains('\n'));
            assert!(out.subject.chars().count() <= MAX_SUBJECT_CHARS);
            for item in &doc.items {
                assert!(out.text.contains(&item.url), "{kind} lacks {}", item.url);
                assert!(out.text.contains(&item.category));
                assert!(out.text.contains(&format_datetime(item.reported_at)));
            }
            assert!(out.text.contains(&doc.reference));
            assert!(out.text.contains(&doc.portal_url));
            assert!(out.text.contains(&format_datetime(doc.deadline)));
            assert!(out.text.contains(&doc.hotline.name));
            assert!(out.text.contains("24 hours"));
            match kind {
                NoticeKind::Notice => {
                    assert!(out.text.contains("2026-11-24 14:05 UTC"), "{}", out.text);
                }
                NoticeKind::Reminder => {
                    assert!(out.text.contains("passed 2 hours ago"), "{}", out.text);
                    assert!(out.text.contains("26 hours ago"));
                }
                NoticeKind::Escalation => {
                    assert!(out.text.contains("Dear Example Transit Networks (AS64500)"));
                    assert!(out.text.contains(&doc.hoster));
                    assert!(out.subject.contains(&doc.hoster));
                    assert!(out.text.contains("passed 48 hours ago"), "{}", out.text);
                }
            }
        }
    }

    #[test]
    fn default_texts_handle_one_url_and_no_addresses() {
        for kind in NoticeKind::ALL {
            let mut doc = sample_doc(kind);
            doc.items.truncate(1);
            doc.items[0].addresses.clear();
            doc.escalated_to = None;
            let out = render(&default_template(kind), &doc).unwrap();
            assert!(out.subject.contains("1 URL "), "{}", out.subject);
            assert!(!out.text.contains("Served from"));
        }
    }

    #[test]
    fn unknown_variables_are_named() {
        let err = check_template(&tpl("{{ reference }}", "Hello {{ hostr }}")).unwrap_err();
        assert!(
            matches!(&err, TemplateError::UnknownVariable { part: TemplatePart::Body, name, line: Some(1) } if name == "hostr"),
            "{err:?}"
        );
        assert!(err.to_string().contains("`hostr`"), "{err}");

        // In a branch the sample never takes.
        let err = check_template(&tpl(
            "x",
            "a\n{% if escalated_to %}\n{{ refrence }}\n{% endif %}\n",
        ))
        .unwrap_err();
        assert!(err.to_string().contains("refrence"), "{err}");
        assert!(err.to_string().contains("line 3"), "{err}");

        // Several: the first in the source is named.
        let err = check_template(&tpl("x", "{{ zzz }}\n{{ aaa }}\n{{ mmm }}")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("body, line 1: unknown variable `zzz`"),
            "{err}"
        );

        // A field of `hotline`.
        let err = check_template(&tpl("{{ hotline.nmae }}", "x")).unwrap_err();
        assert!(
            matches!(&err, TemplateError::UnknownVariable { part: TemplatePart::Subject, name, .. } if name == "hotline.nmae"),
            "{err:?}"
        );

        // A field of an item, found by strict rendering.
        let err = check_template(&tpl(
            "x",
            "{% for item in items %}\n{{ item.urll }}\n{% endfor %}",
        ))
        .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "body, line 2: unknown variable `item.urll`; items have case_id, url,"
            ),
            "{err}"
        );
        let err = check_template(&tpl("x", "{{ items[0].nope }}")).unwrap_err();
        assert!(err.to_string().contains("`items[0].nope`"), "{err}");

        // Built-in functions, loop variables and set variables are fine.
        check_template(&tpl(
            "{{ reference|upper }}",
            "{% set n = namespace(k=0) %}{% for i in range(2) %}{{ loop.index }}{% endfor %}{{ n.k }}",
        ))
        .unwrap();
    }

    #[test]
    fn syntax_errors_give_the_line() {
        let err = check_template(&tpl("ok", "line one\nline two\n{{ reference }\n")).unwrap_err();
        assert!(
            matches!(
                err,
                TemplateError::Syntax {
                    part: TemplatePart::Body,
                    line: Some(3),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().starts_with("body, line 3: syntax error"),
            "{err}"
        );
    }

    #[test]
    fn over_long_templates_are_refused() {
        let body = "x".repeat(MAX_TEMPLATE_BYTES + 1);
        assert_eq!(
            check_template(&tpl("s", &body)),
            Err(TemplateError::TooLong {
                part: TemplatePart::Body,
                bytes: MAX_TEMPLATE_BYTES + 1
            })
        );
        let subject = format!("{}\n", "y".repeat(MAX_TEMPLATE_BYTES));
        assert!(matches!(
            check_template(&tpl(&subject, "b")),
            Err(TemplateError::TooLong {
                part: TemplatePart::Subject,
                ..
            })
        ));
        // Exactly the limit is fine.
        check_template(&tpl("s", &"x".repeat(MAX_TEMPLATE_BYTES))).unwrap();
    }

    #[test]
    fn runaway_loops_run_out_of_fuel() {
        let body = "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}";
        assert_eq!(
            check_template(&tpl("s", body)),
            Err(TemplateError::OutOfFuel {
                part: TemplatePart::Body
            })
        );
        // There are no macros, so no recursion.
        let body = "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}";
        assert!(matches!(
            check_template(&tpl("s", body)),
            Err(TemplateError::Syntax { .. })
        ));
    }

    #[test]
    fn huge_output_is_refused() {
        let body = r#"{% for i in range(30) %}{{ "x" * 100000 }}{% endfor %}"#;
        assert_eq!(
            check_template(&tpl("s", body)),
            Err(TemplateError::OutputTooLong {
                part: TemplatePart::Body
            })
        );
    }

    #[test]
    fn subjects_are_one_line() {
        // A subject template with a line break is refused when saved ...
        assert_eq!(
            check_template(&tpl("Notice\n{{ reference }}", "b")),
            Err(TemplateError::SubjectLineBreak)
        );
        // ... a trailing newline pasted from a form is not a second line ...
        check_template(&tpl("{{ reference }}\n", "b")).unwrap();
        // ... and data with line breaks is flattened, so no header can be injected.
        let mut doc = sample_doc(NoticeKind::Notice);
        doc.hoster = "Evil Hosting\r\nBcc: victim@mail.example\n\tX".to_string();
        let out = render(&tpl("[{{ reference }}] {{ hoster }}", "b"), &doc).unwrap();
        assert_eq!(
            out.subject,
            "[N-7K3QD-M2X9P] Evil Hosting Bcc: victim@mail.example X"
        );
        // Long subjects are capped.
        doc.hoster = "h".repeat(500);
        let out = render(&tpl("{{ hoster }}", "b"), &doc).unwrap();
        assert_eq!(out.subject.chars().count(), MAX_SUBJECT_CHARS);
        assert!(out.subject.ends_with("..."));
        // Empty parts are refused.
        assert_eq!(
            check_template(&tpl("{{ '' }}", "b")),
            Err(TemplateError::Empty {
                part: TemplatePart::Subject
            })
        );
        assert_eq!(
            check_template(&tpl("s", " \n")),
            Err(TemplateError::Empty {
                part: TemplatePart::Body
            })
        );
    }

    #[test]
    fn filters() {
        let out = check_template(&tpl(
            "{{ deadline|datetime }}",
            "{{ deadline|rfc3339 }} {{ 1|plural('URL') }} {{ 2|plural('URL') }} {{ 0|plural('entry', 'entries') }} {{ count }} {{ categories|join(',') }}",
        ))
        .unwrap();
        assert_eq!(out.subject, "2026-11-24 14:05 UTC");
        assert_eq!(
            out.text,
            "2026-11-24T14:05:00Z 1 URL 2 URLs 0 entries 3 csam"
        );
        // `datetime` of none (a first notice's notified_at) is an error, not a blank.
        let err = check_template(&tpl("s", "{{ notified_at|datetime }}")).unwrap_err();
        assert!(err.to_string().contains("guard it"), "{err}");
    }

    #[test]
    fn datetimes() {
        assert_eq!(format_datetime(Millis(0)), "1970-01-01 00:00 UTC");
        assert_eq!(
            format_datetime(Millis(1_795_442_700_000)),
            "2026-11-23 14:05 UTC"
        );
        assert_eq!(
            format_datetime(Millis(1_795_442_759_999)),
            "2026-11-23 14:05 UTC"
        );
        // 2024-02-29 23:59 UTC, a leap day.
        assert_eq!(
            format_datetime(Millis(1_709_251_140_000)),
            "2024-02-29 23:59 UTC"
        );
        assert_eq!(format_datetime(Millis(-60_000)), "1969-12-31 23:59 UTC");
        // Agrees with the RFC 3339 formatter of `lists` across many dates.
        for i in 0..2000i64 {
            let at = Millis(i * 7_919_993_123);
            let rfc = at.rfc3339();
            let want = format!("{} {} UTC", &rfc[..10], &rfc[11..16]);
            assert_eq!(format_datetime(at), want);
        }
    }

    #[test]
    fn json_part_parses_back_with_every_item() {
        for kind in NoticeKind::ALL {
            let doc = sample_doc(kind);
            let text = json_part(&doc);
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["schema"], "schoon-notice/1");
            assert_eq!(v["reference"], doc.reference.as_str());
            assert_eq!(v["kind"], kind.name());
            assert_eq!(v["hoster"]["id"], 42);
            assert_eq!(v["hoster"]["name"], "Example Hosting B.V.");
            assert_eq!(v["sent_at"], "2026-11-23T14:05:00Z");
            assert_eq!(v["portal_url"], doc.portal_url.as_str());
            assert_eq!(v["hotline"]["email"], "reports@hotline.example");
            let items = v["items"].as_array().unwrap();
            assert_eq!(items.len(), doc.items.len());
            for (got, want) in items.iter().zip(&doc.items) {
                assert_eq!(got["case_id"], want.case_id);
                assert_eq!(got["url"], want.url.as_str());
                assert_eq!(got["category"], "csam");
                assert_eq!(got["reported_at"], want.reported_at.rfc3339().as_str());
                assert_eq!(
                    got["addresses"].as_array().unwrap().len(),
                    want.addresses.len()
                );
            }
            let typed: NoticeJson = serde_json::from_str(&text).unwrap();
            assert_eq!(typed, NoticeJson::new(&doc));
            assert_eq!(webhook_body(&doc), text);
        }
    }

    #[test]
    fn webhook_signatures() {
        let secret = b"hoster secret";
        let body = webhook_body(&sample_doc(NoticeKind::Notice));
        let body = body.as_bytes();
        let now = 1_795_442_700;
        let header = sign_webhook(secret, now, body);
        assert!(header.starts_with("t=1795442700,v1="));
        assert_eq!(header.len(), "t=1795442700,v1=".len() + 64);
        assert_eq!(verify_webhook(secret, &header, body, now + 10, 300), Ok(()));
        assert_eq!(verify_webhook(secret, &header, body, now - 10, 300), Ok(()));

        // Tampered body, wrong secret.
        let mut tampered = body.to_vec();
        tampered[20] ^= 1;
        assert_eq!(
            verify_webhook(secret, &header, &tampered, now, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_webhook(b"other secret", &header, body, now, 300),
            Err(SignatureError::Mismatch)
        );
        // A changed timestamp breaks the MAC.
        let moved = header.replace("t=1795442700", "t=1795442999");
        assert_eq!(
            verify_webhook(secret, &moved, body, now, 300),
            Err(SignatureError::Mismatch)
        );
        // Stale, and from the future.
        assert_eq!(
            verify_webhook(secret, &header, body, now + 301, 300),
            Err(SignatureError::Stale { age_secs: 301 })
        );
        assert_eq!(
            verify_webhook(secret, &header, body, now - 400, 300),
            Err(SignatureError::Stale { age_secs: -400 })
        );
        // Malformed headers.
        let v1 = &header["t=1795442700,".len()..];
        for bad in [
            "",
            "garbage",
            v1,
            "t=1795442700",
            "t=abc,v1=00",
            &format!("t=1795442700,v1=zz{}", &v1[5..]),
            &format!("t=1795442700,{}00", v1),
            &format!("t=1,t=1795442700,{v1}"),
            &format!("t=-5,{v1}"),
        ] {
            assert!(
                matches!(
                    verify_webhook(secret, bad, body, now, 300),
                    Err(SignatureError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
        // Rotation: any v1 may match; spaces and unknown keys are tolerated.
        let old = sign_webhook(b"old secret", now, body);
        let both = format!("t={now}, v1={} , v0=legacy, {v1}", &old[old.len() - 64..]);
        assert_eq!(verify_webhook(secret, &both, body, now, 300), Ok(()));
    }

    #[test]
    fn portal_tokens() {
        let secret = b"server secret";
        let now = Millis(1_795_442_700_000);
        let expires = Millis(now.0 + 30 * 24 * HOUR_MS);
        let token = portal_token(secret, 42, expires);
        assert_eq!(token.len(), 64);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(verify_portal_token(secret, &token, now), Ok(42));
        assert_eq!(
            verify_portal_token(secret, &portal_token(secret, -7, expires), now),
            Ok(-7)
        );

        assert_eq!(
            verify_portal_token(secret, &token, expires),
            Err(TokenError::Expired {
                expired_at: expires
            })
        );
        assert_eq!(
            verify_portal_token(b"another secret", &token, now),
            Err(TokenError::Tampered)
        );
        // Another hoster id or a later expiry, with the old MAC.
        let mut bytes = base64url_decode(&token).unwrap();
        bytes[7] = 43;
        assert_eq!(
            verify_portal_token(secret, &base64url_encode(&bytes), now),
            Err(TokenError::Tampered)
        );
        let mut bytes = base64url_decode(&token).unwrap();
        bytes[10] ^= 0x40;
        assert_eq!(
            verify_portal_token(secret, &base64url_encode(&bytes), now),
            Err(TokenError::Tampered)
        );
        // An expired token with a forged expiry is tampered, not expired.
        let old = portal_token(secret, 42, Millis(now.0 - 1));
        let mut bytes = base64url_decode(&old).unwrap();
        bytes[8] = 0x7f;
        assert_eq!(
            verify_portal_token(secret, &base64url_encode(&bytes), now),
            Err(TokenError::Tampered)
        );
        // Garbage.
        for bad in [
            "",
            "x",
            "not a token",
            &token[..63],
            &format!("{token}A"),
            &format!("+{}", &token[1..]),
            &format!("{}=", &token[..63]),
            &"A".repeat(64),
        ] {
            let got = verify_portal_token(secret, bad, now);
            assert!(
                matches!(got, Err(TokenError::Malformed | TokenError::Tampered)),
                "{bad:?}: {got:?}"
            );
        }
        assert_eq!(
            verify_portal_token(secret, "not a token", now),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            verify_portal_token(secret, &"A".repeat(64), now),
            Err(TokenError::Tampered)
        );
    }

    #[test]
    fn base64url() {
        for len in 0..40usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = base64url_encode(&data);
            assert_eq!(text.len(), (len * 4).div_ceil(3));
            assert_eq!(base64url_decode(&text).unwrap(), data);
        }
        assert_eq!(base64url_encode(b"\xfb\xff"), "-_8");
        assert_eq!(base64url_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url_decode("Zm9vYg").unwrap(), b"foob");
        // Non-zero trailing bits, a dangling character, padding, standard base64.
        assert_eq!(base64url_decode("Zm9vYh"), None);
        assert_eq!(base64url_decode("Zm9vY"), None);
        assert_eq!(base64url_decode("Zg=="), None);
        assert_eq!(base64url_decode("+/8"), None);
    }

    #[test]
    fn references_are_unique_and_well_formed() {
        const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let r = new_notice_reference();
            assert_eq!(r.len(), 13, "{r}");
            assert!(r.starts_with("N-"), "{r}");
            assert_eq!(&r[7..8], "-", "{r}");
            assert!(
                r[2..7]
                    .chars()
                    .chain(r[8..].chars())
                    .all(|c| ALPHABET.contains(c)),
                "{r}"
            );
            assert!(seen.insert(r));
        }
    }

    #[test]
    fn deadlines_and_context() {
        let doc = sample_doc(NoticeKind::Reminder);
        let ctx = Ctx::new(&doc);
        assert_eq!(ctx.hours_late, 2);
        assert_eq!(ctx.notified_at, Some(doc.sent_at.0 - 26 * HOUR_MS));
        assert_eq!(ctx.items[0].hours_since_notice, Some(26));
        assert_eq!(ctx.categories, vec!["csam"]);
        assert_eq!(deadline_after(Millis(0)), Millis(NORM_HOURS * HOUR_MS));
        let notice = sample_doc(NoticeKind::Notice);
        assert_eq!(Ctx::new(&notice).hours_late, 0);
        assert_eq!(Ctx::new(&notice).notified_at, None);
    }
}
