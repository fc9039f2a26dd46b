//! Reports, cases, the case state machine and the timeline.
//!
//! A **report** is one sighting of a URL: who reported it (a [`Source`]), in which category,
//! with what text. A **case** is the hotline's work on one normalised URL: every report of a
//! URL with an open case joins that case, so analysts assess each URL once. A URL whose last
//! case ended (removed, not actionable, forwarded) opens a new case when it is reported again:
//! the material may be back, and the monitor counts such repeats.
//!
//! A case moves through [`CaseState`]s; [`check_transition`] is the whole state machine:
//!
//! ```text
//!  new ──► assessing ──► actionable ──► notified ──► removed ──► closed
//!   │          │  ▲          │  │                       ▲
//!   │          │  └──────────┘  └──────────(removed before any notice)
//!   ├──────────┴──► not_actionable ──► closed
//!   └──────────┴──► forwarded (to a partner hotline abroad) ──► closed
//! ```
//!
//! Every change is an [`Event`] on the case's timeline (actor, time, from, to, reason), written
//! in the same transaction as the change itself, so the timeline always explains the state.

use lists::Millis;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a report came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The public report form (anonymous unless the reporter leaves a contact).
    Public,
    /// A partner hotline (for example through INHOPE), over the API.
    Partner,
    /// A crawler of the hotline's own.
    Crawler,
    /// A match of the hash-check service.
    HashCheck,
    /// The police.
    Police,
}

impl Source {
    /// Every source, in a stable order.
    pub const ALL: [Source; 5] = [
        Source::Public,
        Source::Partner,
        Source::Crawler,
        Source::HashCheck,
        Source::Police,
    ];

    /// The stored and displayed name.
    pub fn name(self) -> &'static str {
        match self {
            Source::Public => "public",
            Source::Partner => "partner",
            Source::Crawler => "crawler",
            Source::HashCheck => "hash_check",
            Source::Police => "police",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Source {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Source> {
        Source::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| {
                crate::Error::Invalid(format!(
                    "unknown source {s:?}; one of {}",
                    Source::ALL.map(Source::name).join(", ")
                ))
            })
    }
}

/// Where a case stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Reported, not yet looked at.
    New,
    /// An analyst is assessing it.
    Assessing,
    /// Illegal and hosted here: a notice goes to the hosting provider.
    Actionable,
    /// Not illegal, or not reachable: nothing to do.
    NotActionable,
    /// Hosted in another country: handed to the partner hotline there.
    Forwarded,
    /// The hosting provider has been notified.
    Notified,
    /// The material is verified gone.
    Removed,
    /// Archived.
    Closed,
}

impl CaseState {
    /// Every state, in the order of the flow.
    pub const ALL: [CaseState; 8] = [
        CaseState::New,
        CaseState::Assessing,
        CaseState::Actionable,
        CaseState::NotActionable,
        CaseState::Forwarded,
        CaseState::Notified,
        CaseState::Removed,
        CaseState::Closed,
    ];

    /// The states an analyst's queue holds.
    pub const QUEUE: [CaseState; 2] = [CaseState::New, CaseState::Assessing];

    /// The stored and displayed name.
    pub fn name(self) -> &'static str {
        match self {
            CaseState::New => "new",
            CaseState::Assessing => "assessing",
            CaseState::Actionable => "actionable",
            CaseState::NotActionable => "not_actionable",
            CaseState::Forwarded => "forwarded",
            CaseState::Notified => "notified",
            CaseState::Removed => "removed",
            CaseState::Closed => "closed",
        }
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            CaseState::New => "New",
            CaseState::Assessing => "Assessing",
            CaseState::Actionable => "Actionable",
            CaseState::NotActionable => "Not actionable",
            CaseState::Forwarded => "Forwarded abroad",
            CaseState::Notified => "Notified",
            CaseState::Removed => "Removed",
            CaseState::Closed => "Closed",
        }
    }

    /// Whether new reports of the URL join this case (rather than opening a new one).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            CaseState::New | CaseState::Assessing | CaseState::Actionable | CaseState::Notified
        )
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CaseState {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<CaseState> {
        CaseState::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| {
                crate::Error::Invalid(format!(
                    "unknown case state {s:?}; one of {}",
                    CaseState::ALL.map(CaseState::name).join(", ")
                ))
            })
    }
}

/// Whether a case may move from `from` to `to` (the whole state machine; see the module
/// documentation). A refused move is a [`crate::Error::Conflict`] naming both states.
pub fn check_transition(from: CaseState, to: CaseState) -> crate::Result<()> {
    use CaseState::*;
    let ok = matches!(
        (from, to),
        (New, Assessing)
            | (New | Assessing, Actionable | NotActionable | Forwarded)
            // A verdict is revised before any notice went out.
            | (Actionable, Assessing | NotActionable | Forwarded)
            | (Actionable, Notified)
            | (Actionable | Notified, Removed)
            | (Removed | NotActionable | Forwarded, Closed)
    );
    if ok {
        Ok(())
    } else {
        Err(crate::Error::Conflict(format!(
            "a case cannot go from {} to {}",
            from.name(),
            to.name()
        )))
    }
}

/// The most text a report may carry, in bytes.
pub const MAX_TEXT: usize = 8192;
/// The most bytes of reporter contact details.
pub const MAX_CONTACT: usize = 320;
/// The most URLs in one bulk submission.
pub const MAX_BATCH: usize = 10_000;

/// A report as it arrives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewReport {
    /// The URL as reported.
    pub url: String,
    /// The category the reporter chose (a list category such as `csam`).
    pub category: String,
    /// Where it came from.
    pub source: Source,
    /// How to reach the reporter, if they want to be reached.
    pub contact: Option<String>,
    /// What the reporter wrote.
    pub text: Option<String>,
    /// The reporter's own reference (a partner hotline's id), if any.
    pub external_ref: Option<String>,
}

impl NewReport {
    /// Checks the free-text fields' sizes (the URL is checked by [`crate::urls::normalise`]).
    pub fn check_fields(&self) -> crate::Result<()> {
        if let Some(t) = &self.text
            && t.len() > MAX_TEXT
        {
            return Err(crate::Error::Invalid(format!(
                "the text is {} bytes; at most {MAX_TEXT} are accepted",
                t.len()
            )));
        }
        if let Some(c) = &self.contact
            && c.len() > MAX_CONTACT
        {
            return Err(crate::Error::Invalid(format!(
                "the contact is {} bytes; at most {MAX_CONTACT} are accepted",
                c.len()
            )));
        }
        if let Some(r) = &self.external_ref
            && r.len() > 200
        {
            return Err(crate::Error::Invalid(
                "the external reference is over 200 bytes".into(),
            ));
        }
        Ok(())
    }
}

/// Who submitted a batch of reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Submitter {
    /// The API key id, or `public` for the report form.
    pub actor: String,
    /// The key's organisation, if any.
    pub org_id: Option<i64>,
}

/// What became of one submitted URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Its position in the submission (0-based).
    pub index: usize,
    /// `opened` (a new case), `joined` (an open case of the same URL), or `invalid`.
    pub status: OutcomeStatus,
    /// The normalised URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The case it is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<i64>,
    /// The report's reference number (what a reporter quotes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The kind of an [`Outcome`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    /// The URL had no open case: one was opened.
    Opened,
    /// The URL had an open case (maybe opened earlier in the same batch): the report joined it.
    Joined,
    /// The report was refused; see `error`.
    Invalid,
}

/// A validated report, ready for the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intake {
    /// The position in the submission.
    pub index: usize,
    /// The report.
    pub report: NewReport,
    /// Its normalised URL.
    pub url: crate::urls::NormalUrl,
    /// Its reference number.
    pub reference: String,
}

/// Validates a submission: each report is either an [`Intake`] for the store or an
/// [`Outcome`] saying why it was refused. Categories are checked against `categories`.
pub fn validate(reports: Vec<NewReport>, categories: &[String]) -> (Vec<Intake>, Vec<Outcome>) {
    let mut ok = Vec::with_capacity(reports.len());
    let mut refused = Vec::new();
    for (index, report) in reports.into_iter().enumerate() {
        let checked = report
            .check_fields()
            .and_then(|()| {
                if categories.contains(&report.category) {
                    Ok(())
                } else {
                    Err(crate::Error::Invalid(format!(
                        "unknown category {:?}; one of {}",
                        report.category,
                        categories.join(", ")
                    )))
                }
            })
            .and_then(|()| {
                crate::urls::normalise(&report.url)
                    .map_err(|e| crate::Error::Invalid(e.to_string()))
            });
        match checked {
            Ok(url) => ok.push(Intake {
                index,
                report,
                url,
                reference: new_reference(),
            }),
            Err(e) => refused.push(Outcome {
                index,
                status: OutcomeStatus::Invalid,
                url: None,
                case_id: None,
                reference: None,
                error: Some(e.to_string()),
            }),
        }
    }
    (ok, refused)
}

/// A fresh report reference: `R-` and 10 characters of Crockford base32 (50 random bits), easy
/// to read out on the phone and impossible to guess.
pub fn new_reference() -> String {
    reference_with("R-")
}

/// `prefix` and 10 characters of Crockford base32 (50 random bits) in two groups of five:
/// the form of every reference Schoon hands out (reports `R-`, notices `N-`).
pub(crate) fn reference_with(prefix: &str) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the system's random source works");
    let mut n = u64::from_le_bytes(bytes);
    let mut out = String::from(prefix);
    for i in 0..10 {
        if i == 5 {
            out.push('-');
        }
        out.push(ALPHABET[(n & 31) as usize] as char);
        n >>= 5;
    }
    out
}

/// A case as lists and queues show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Case {
    /// Its number.
    pub id: i64,
    /// The normalised URL.
    pub url: String,
    /// The URL's host.
    pub host: String,
    /// The category (of the first report; an analyst may change it).
    pub category: String,
    /// Where it stands.
    pub state: CaseState,
    /// When the first report arrived.
    pub opened_at: Millis,
    /// When anything last changed.
    pub updated_at: Millis,
    /// How many reports it has.
    pub reports: i64,
    /// The sources of its reports, deduplicated.
    pub sources: Vec<Source>,
    /// The party to notify, from attribution or an analyst (a hosters-register entry).
    pub hoster_id: Option<i64>,
    /// That party's name (also set when attribution found an organisation outside the register).
    pub hoster_name: Option<String>,
    /// The country the material is hosted in, as attribution found it.
    pub country: Option<String>,
    /// The partner hotline a forwarded case went to.
    pub forwarded_to: Option<String>,
    /// When attribution last ran.
    pub attributed_at: Option<Millis>,
}

/// A report as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Its id.
    pub id: i64,
    /// The case it joined.
    pub case_id: i64,
    /// When it arrived.
    pub at: Millis,
    /// The reference number the reporter got.
    pub reference: String,
    /// The URL exactly as reported.
    pub url: String,
    /// The category it was reported under.
    pub category: String,
    /// Where it came from.
    pub source: Source,
    /// The API key that submitted it, or `public`.
    pub actor: String,
    /// The submitting key's organisation.
    pub org_id: Option<i64>,
    /// The reporter's contact, if given.
    pub contact: Option<String>,
    /// The reporter's text.
    pub text: Option<String>,
    /// The reporter's own reference.
    pub external_ref: Option<String>,
}

/// One entry of a case's timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// Its id (events of a case are in id order).
    pub id: i64,
    /// The case.
    pub case_id: i64,
    /// When.
    pub at: Millis,
    /// Who: an API key id, `public`, or `system` (attribution, timers).
    pub actor: String,
    /// What: `opened`, `reported`, `state`, `attributed`, `attribution_failed`, `hoster`,
    /// `category`, `note`.
    pub kind: String,
    /// The state before (for `state` events).
    pub from_state: Option<CaseState>,
    /// The state after (for `state` events).
    pub to_state: Option<CaseState>,
    /// A sentence for people.
    pub message: String,
    /// Details for machines.
    pub detail: serde_json::Value,
}

/// An analyst's decision or correction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Start assessing (takes the case off the "new" pile).
    Assess,
    /// Illegal and hosted where a notice can go.
    Actionable {
        /// Why, for the timeline.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Nothing to do.
    NotActionable {
        /// Why (required: the monitor and the reporter may ask).
        reason: String,
    },
    /// Hosted abroad: handed to the partner hotline there.
    Forward {
        /// The partner hotline (e.g. "NCMEC (US)").
        partner: String,
        /// A note.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Archive a finished case.
    Close {
        /// Why.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Change the category.
    Recategorise {
        /// The new category.
        category: String,
    },
    /// Name the party to notify by hand (a correction of attribution).
    SetHoster {
        /// The hosters-register entry.
        hoster_id: i64,
        /// Why.
        #[serde(default)]
        reason: Option<String>,
    },
    /// A note on the timeline.
    Note {
        /// The note.
        text: String,
    },
}

impl Action {
    /// The state this action moves the case to, if it moves it.
    pub fn target(&self) -> Option<CaseState> {
        match self {
            Action::Assess => Some(CaseState::Assessing),
            Action::Actionable { .. } => Some(CaseState::Actionable),
            Action::NotActionable { .. } => Some(CaseState::NotActionable),
            Action::Forward { .. } => Some(CaseState::Forwarded),
            Action::Close { .. } => Some(CaseState::Closed),
            Action::Recategorise { .. } | Action::SetHoster { .. } | Action::Note { .. } => None,
        }
    }

    /// Checks the action's own fields.
    pub fn check(&self) -> crate::Result<()> {
        let non_empty = |what: &str, s: &str| {
            if s.trim().is_empty() {
                Err(crate::Error::Invalid(format!("{what} must not be empty")))
            } else if s.len() > MAX_TEXT {
                Err(crate::Error::Invalid(format!(
                    "{what} is over {MAX_TEXT} bytes"
                )))
            } else {
                Ok(())
            }
        };
        match self {
            Action::NotActionable { reason } => non_empty("the reason", reason),
            Action::Forward { partner, .. } => non_empty("the partner hotline", partner),
            Action::Recategorise { category } => non_empty("the category", category),
            Action::Note { text } => non_empty("the note", text),
            _ => Ok(()),
        }
    }

    /// The reason or note text, if any.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Action::Actionable { reason }
            | Action::Forward { reason, .. }
            | Action::Close { reason }
            | Action::SetHoster { reason, .. } => reason.as_deref(),
            Action::NotActionable { reason } => Some(reason),
            Action::Note { text } => Some(text),
            Action::Assess | Action::Recategorise { .. } => None,
        }
    }
}

/// Which cases a queue or search shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseFilter {
    /// Only these states (empty: all).
    pub states: Vec<CaseState>,
    /// Only this category.
    pub category: Option<String>,
    /// Only cases with a report from this source.
    pub source: Option<Source>,
    /// Only cases attributed to this hosters-register entry.
    pub hoster_id: Option<i64>,
    /// Only cases whose URL contains this text.
    pub url_contains: Option<String>,
    /// Oldest first (the queue) or newest first.
    pub oldest_first: bool,
    /// At most this many.
    pub limit: i64,
    /// Skip this many.
    pub offset: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_machine() {
        use CaseState::*;
        let allowed = [
            (New, Assessing),
            (New, Actionable),
            (Assessing, NotActionable),
            (Assessing, Forwarded),
            (Actionable, Assessing),
            (Actionable, Notified),
            (Notified, Removed),
            (Removed, Closed),
            (NotActionable, Closed),
        ];
        for (a, b) in allowed {
            check_transition(a, b).unwrap();
        }
        let refused = [
            (New, New),
            (New, Notified),
            (New, Removed),
            (Assessing, Notified),
            (Notified, Assessing),
            (Notified, NotActionable),
            (Removed, Actionable),
            (Closed, New),
            (Closed, Assessing),
            (NotActionable, Actionable),
            (Forwarded, Actionable),
        ];
        for (a, b) in refused {
            let e = check_transition(a, b).unwrap_err();
            assert!(e.to_string().contains(a.name()) && e.to_string().contains(b.name()));
        }
        // Nothing leaves `closed`, and every state but `new` is reachable from `new`.
        for s in CaseState::ALL {
            assert!(check_transition(Closed, s).is_err());
        }
        let mut reached = vec![New];
        let mut i = 0;
        while i < reached.len() {
            for s in CaseState::ALL {
                if check_transition(reached[i], s).is_ok() && !reached.contains(&s) {
                    reached.push(s);
                }
            }
            i += 1;
        }
        assert_eq!(reached.len(), CaseState::ALL.len());
        // Open states are exactly the ones that can still lead to a removal.
        for s in CaseState::ALL {
            assert_eq!(
                s.is_open(),
                matches!(s, New | Assessing | Actionable | Notified)
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for s in CaseState::ALL {
            assert_eq!(s.name().parse::<CaseState>().unwrap(), s);
        }
        for s in Source::ALL {
            assert_eq!(s.name().parse::<Source>().unwrap(), s);
        }
        assert!("gone".parse::<CaseState>().is_err());
        assert!("email".parse::<Source>().is_err());
    }

    #[test]
    fn validation_names_each_problem_with_its_index() {
        let cats = vec!["csam".to_string(), "terrorism".to_string()];
        let r = |url: &str, cat: &str| NewReport {
            url: url.into(),
            category: cat.into(),
            source: Source::Partner,
            contact: None,
            text: None,
            external_ref: None,
        };
        let mut long_text = r("http://a.example/", "csam");
        long_text.text = Some("x".repeat(MAX_TEXT + 1));
        let (ok, bad) = validate(
            vec![
                r("http://a.example/1", "csam"),
                r("ftp://a.example/", "csam"),
                r("http://a.example/2", "spam"),
                long_text,
                r("HTTP://A.example/1#x", "terrorism"),
            ],
            &cats,
        );
        assert_eq!(ok.iter().map(|i| i.index).collect::<Vec<_>>(), vec![0, 4]);
        assert_eq!(ok[0].url, ok[1].url);
        assert_ne!(ok[0].reference, ok[1].reference);
        assert_eq!(
            bad.iter().map(|o| o.index).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert!(bad[0].error.as_deref().unwrap().contains("ftp"));
        assert!(bad[1].error.as_deref().unwrap().contains("spam"));
        assert!(bad[2].error.as_deref().unwrap().contains("text"));
    }

    #[test]
    fn references_look_right() {
        let a = new_reference();
        assert_eq!(a.len(), 13);
        assert!(a.starts_with("R-"));
        assert_eq!(&a[7..8], "-");
        assert_ne!(a, new_reference());
    }

    #[test]
    fn actions_check_their_fields() {
        assert!(
            Action::NotActionable { reason: " ".into() }
                .check()
                .is_err()
        );
        assert!(
            Action::Forward {
                partner: "".into(),
                reason: None
            }
            .check()
            .is_err()
        );
        assert_eq!(
            Action::Forward {
                partner: "NCMEC".into(),
                reason: None
            }
            .target(),
            Some(CaseState::Forwarded)
        );
        let a: Action =
            serde_json::from_str(r#"{"action":"not_actionable","reason":"adult"}"#).unwrap();
        assert_eq!(a.reason(), Some("adult"));
        assert!(serde_json::from_str::<Action>(r#"{"action":"explode"}"#).is_err());
    }
}
