//! The inputs: what storage records about cases, notices and hosters' own participation,
//! reduced to the few facts the statistics need, and the [`Filter`] that picks a slice.

use crate::period::Month;
use lists::Millis;
use serde::{Deserialize, Serialize};

/// One notified case: one URL reported to one hoster.
///
/// Only cases whose notice was sent are inputs (a case without `notified_at` has no
/// hoster clock running yet). Pass the whole history, not only the period asked about:
/// whether a case is a *repeat* depends on earlier cases of the same URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFacts {
    /// The case number. Two inputs with the same number are one case: the first is used.
    pub case_id: i64,
    /// The hoster's register id.
    pub hoster_id: i64,
    /// The content category.
    pub category: String,
    /// The reported URL, as normalised by intake (compared byte for byte here).
    pub url: String,
    /// When the report came in.
    pub opened_at: Millis,
    /// When the first notice was sent: the start of the hoster's clock and the instant that
    /// decides which period the case belongs to.
    pub notified_at: Millis,
    /// The first verified offline re-check after the notice: **the** removal time.
    pub removed_at: Option<Millis>,
    /// When the reminder was sent, if one was.
    pub reminded_at: Option<Millis>,
    /// When the escalation was sent, if one was.
    pub escalated_at: Option<Millis>,
}

/// What kind of message a notice was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKindLite {
    /// The first notice about one or more cases.
    Notice,
    /// A reminder: the content was still online after the norm.
    Reminder,
    /// An escalation (to the hoster's management or upstream).
    Escalation,
}

/// One message sent to a hoster (one message may be about many cases).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeFacts {
    /// The hoster it went to.
    pub hoster_id: i64,
    /// Notice, reminder or escalation.
    pub kind: NoticeKindLite,
    /// When it was sent.
    pub sent_at: Millis,
    /// How many cases it was about.
    pub cases: usize,
}

/// A hoster's proactive participation in one month: its use of the hash-check service
/// (the Instant Image Identifier) and of the scanner. The seed documents count joining the
/// hash check as cooperation, so the monitor shows it next to the takedown figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participation {
    /// The hoster.
    pub hoster_id: i64,
    /// The month the numbers are about.
    pub month: Month,
    /// Hashes the hoster checked against the lists.
    pub checks: u64,
    /// Checks that matched a listed hash.
    pub matches: u64,
    /// Matched items the hoster removed on its own initiative (without a notice).
    pub removed_own_initiative: u64,
    /// Whether the hoster ran the scanner that month.
    pub scanner: bool,
}

/// Which slice of the data a figure is about. The default is everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Filter {
    /// Only this hoster.
    pub hoster: Option<i64>,
    /// Only cases of this category. Messages and participation have no category: a
    /// category filter does not narrow them (see [`crate::Figures`]).
    pub category: Option<String>,
}

impl Filter {
    /// Everything.
    pub fn all() -> Filter {
        Filter::default()
    }

    /// One hoster, every category.
    pub fn hoster(hoster_id: i64) -> Filter {
        Filter {
            hoster: Some(hoster_id),
            category: None,
        }
    }

    /// One category, every hoster.
    pub fn category(category: impl Into<String>) -> Filter {
        Filter {
            hoster: None,
            category: Some(category.into()),
        }
    }

    pub(crate) fn takes_hoster(&self, hoster_id: i64) -> bool {
        self.hoster.is_none_or(|h| h == hoster_id)
    }

    pub(crate) fn takes_case(&self, c: &CaseFacts) -> bool {
        self.takes_hoster(c.hoster_id) && self.category.as_ref().is_none_or(|k| *k == c.category)
    }
}
