//! Notice and takedown, part 2: the timers of a notified case and what storage keeps of
//! notices, re-checks and hoster answers.
//!
//! A case's life after the analyst's verdict, with the instant each step writes:
//!
//! | step | who | writes |
//! |---|---|---|
//! | notice queued | [`crate::notifier`] (one message per hoster per round) | a `notices` row and the case's `notice_cases` key |
//! | notice sent | the outbox sender, when SMTP accepted it or the webhook answered 2xx | `notified_at`; timers: re-check now, reminder at +norm, escalation at +escalate_after |
//! | re-check | the checker, on the schedule of [`Policy::check_offsets`] | a check row; `online` keeps a baseline of the content |
//! | offline verified | the checker | `removed_at` (the **removal time**), then the case closes |
//! | reminder / escalation | the planner, when its timer is due and the case is still online | a reminder or escalation notice, the timer cleared |
//! | hoster answer | the portal | `hoster_said`; "removed" makes a re-check due now |
//!
//! The removal time is the first *verified* offline check after the notice, never the
//! hoster's word: a hoster's "removed" only brings the next check forward.
//!
//! # Exactly once
//!
//! Every step that sends is first a row in the database, written in the same transaction as
//! the decision (the notice and its `notice_cases` keys; the timer cleared). The key
//! `(case, kind, hoster)` is unique, so two replicas that plan the same reminder at once
//! cannot both queue it: the second transaction fails and is dropped. The sender claims a
//! queued notice with a lease; a sender killed after claiming leaves the notice to be claimed
//! again when the lease ends. What SMTP cannot give is "sent" and "recorded as sent" in one
//! step: a sender killed after the server accepted the message and before the database
//! recorded it sends it again after the lease. The message's `Message-ID` is derived from the
//! notice reference, so the receiving side sees the same message twice, not two notices.

use crate::fetch::{Check, Content};
use crate::notice::NoticeKind;
use crate::{CaseState, Result};
use async_trait::async_trait;
use lists::Millis;
use serde::{Deserialize, Serialize};
use std::time::Duration;

const HOUR: i64 = 3_600_000;

/// The timing rules of notice and takedown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The removal norm: a reminder goes out this long after the notice (24 h).
    pub norm: Duration,
    /// Escalation this long after the notice (72 h).
    pub escalate_after: Duration,
    /// Re-checks after the notice at these offsets; after the last, one every
    /// [`Policy::check_every`].
    pub check_offsets: Vec<Duration>,
    /// The interval of re-checks after the offsets ran out (daily).
    pub check_every: Duration,
    /// Cases of one hoster per notice; more make several notices.
    pub max_cases_per_notice: usize,
}

impl Default for Policy {
    fn default() -> Policy {
        let h = |n: u64| Duration::from_secs(n * 3600);
        Policy {
            norm: h(24),
            escalate_after: h(72),
            check_offsets: vec![Duration::ZERO, h(1), h(6), h(12), h(24)],
            check_every: h(24),
            max_cases_per_notice: 1000,
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

impl Policy {
    /// When the check after `done` checks is due, for a case notified at `notified_at`: the
    /// schedule's offset, or for later checks the last offset plus whole intervals. An instant
    /// in the past means "at the next tick" (the notifier skips points it fell behind on).
    pub fn next_check(&self, notified_at: Millis, done: i64) -> Millis {
        let done = usize::try_from(done.max(0)).unwrap_or(usize::MAX);
        let offset = match self.check_offsets.get(done) {
            Some(d) => ms(*d),
            None => {
                let last = self.check_offsets.last().map(|d| ms(*d)).unwrap_or(0);
                let extra = (done + 1).saturating_sub(self.check_offsets.len()) as i64;
                last.saturating_add(extra.saturating_mul(ms(self.check_every).max(HOUR)))
            }
        };
        Millis(notified_at.0.saturating_add(offset))
    }

    /// The reminder's due instant for a case notified at `at`.
    pub fn remind_at(&self, at: Millis) -> Millis {
        Millis(at.0.saturating_add(ms(self.norm)))
    }

    /// The escalation's due instant for a case notified at `at`.
    pub fn escalate_at(&self, at: Millis) -> Millis {
        Millis(at.0.saturating_add(ms(self.escalate_after)))
    }
}

/// How a notice reaches its party.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// E-mail over SMTP.
    Email,
    /// An HMAC-signed HTTP POST to the hoster's webhook.
    Webhook,
}

impl Channel {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "email" => Some(Channel::Email),
            "webhook" => Some(Channel::Webhook),
            _ => None,
        }
    }
}

/// A case whose notice, reminder or escalation is due, as the planner reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DueCase {
    /// The case.
    pub case_id: i64,
    /// Its URL.
    pub url: String,
    /// Its category.
    pub category: String,
    /// When it was first reported.
    pub opened_at: Millis,
    /// The party to notify.
    pub hoster_id: i64,
    /// The addresses attribution found for the host.
    pub addresses: Vec<String>,
    /// When the first notice was sent (reminders and escalations).
    pub notified_at: Option<Millis>,
}

/// A rendered notice to queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNotice {
    /// Its unique reference.
    pub reference: String,
    /// Notice, reminder or escalation.
    pub kind: NoticeKind,
    /// The party it is about (and, but for escalations, sent to).
    pub hoster_id: i64,
    /// How it goes out.
    pub channel: Channel,
    /// E-mail addresses, or the one webhook URL.
    pub recipients: Vec<String>,
    /// The rendered subject.
    pub subject: String,
    /// The rendered text.
    pub body: String,
    /// The machine-readable part.
    pub json: String,
    /// The cases it covers.
    pub case_ids: Vec<i64>,
}

/// Where a notice stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeStatus {
    /// Waiting for (another) attempt.
    Queued,
    /// Accepted by the SMTP server or the webhook.
    Sent,
    /// Given up on.
    Failed,
}

impl NoticeStatus {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            NoticeStatus::Queued => "queued",
            NoticeStatus::Sent => "sent",
            NoticeStatus::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<NoticeStatus> {
        match s {
            "queued" => Some(NoticeStatus::Queued),
            "sent" => Some(NoticeStatus::Sent),
            "failed" => Some(NoticeStatus::Failed),
            _ => None,
        }
    }
}

/// A stored notice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// Its id.
    pub id: i64,
    /// Its reference.
    pub reference: String,
    /// Notice, reminder or escalation.
    pub kind: NoticeKind,
    /// The party it is about.
    pub hoster_id: i64,
    /// How it goes out.
    pub channel: Channel,
    /// Addresses, or the webhook URL.
    pub recipients: Vec<String>,
    /// Subject.
    pub subject: String,
    /// Text.
    pub body: String,
    /// Machine-readable part.
    pub json: String,
    /// Where it stands.
    pub status: NoticeStatus,
    /// When it was queued.
    pub queued_at: Millis,
    /// Attempts so far.
    pub attempts: i64,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was accepted.
    pub sent_at: Option<Millis>,
    /// The e-mail's Message-ID.
    pub message_id: Option<String>,
    /// The cases it covers.
    pub case_ids: Vec<i64>,
}

/// What an attempt to send a notice came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accepted; the Message-ID or the webhook's answer.
    Sent(String),
    /// Failed for now; try again at the instant.
    Retry(Millis, String),
    /// Failed for good.
    Failed(String),
}

/// A case whose re-check is due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckDue {
    /// The case.
    pub case_id: i64,
    /// Its URL.
    pub url: String,
    /// Its host (checks are polite per host).
    pub host: String,
    /// When its notice was sent.
    pub notified_at: Millis,
    /// Checks so far.
    pub checks: i64,
    /// The content first seen online, to tell "still there" from "replaced".
    pub baseline: Option<Content>,
}

/// A finished check to store, with when the next is due.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckRecord {
    /// The case.
    pub case_id: i64,
    /// When it ran.
    pub at: Millis,
    /// What it found.
    pub check: Check,
    /// When the next check is due.
    pub next: Millis,
}

/// A stored check.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckRow {
    /// Its id.
    pub id: i64,
    /// The case.
    pub case_id: i64,
    /// When it ran.
    pub at: Millis,
    /// What it found.
    pub check: Check,
}

/// What a hoster answers about a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "response", rename_all = "snake_case")]
pub enum HosterResponse {
    /// "We removed it": a re-check is due now.
    Removed {
        /// Optional remark.
        #[serde(default)]
        note: Option<String>,
    },
    /// "We are not the host", and who is.
    NotHost {
        /// The party the hoster names.
        party: String,
    },
    /// "We dispute this", and why.
    Dispute {
        /// Why.
        reason: String,
    },
}

/// The most bytes of a hoster's free text.
pub const MAX_RESPONSE_TEXT: usize = 2000;

impl HosterResponse {
    /// The stored name.
    pub fn name(&self) -> &'static str {
        match self {
            HosterResponse::Removed { .. } => "removed",
            HosterResponse::NotHost { .. } => "not_host",
            HosterResponse::Dispute { .. } => "dispute",
        }
    }

    /// Checks the free text.
    pub fn check(&self) -> Result<()> {
        let (text, what, required) = match self {
            HosterResponse::Removed { note } => (note.as_deref().unwrap_or(""), "note", false),
            HosterResponse::NotHost { party } => (party.as_str(), "party", true),
            HosterResponse::Dispute { reason } => (reason.as_str(), "reason", true),
        };
        if required && text.trim().is_empty() {
            return Err(crate::Error::Invalid(format!("a {what} is required")));
        }
        if text.len() > MAX_RESPONSE_TEXT {
            return Err(crate::Error::Invalid(format!(
                "the {what} is longer than {MAX_RESPONSE_TEXT} bytes"
            )));
        }
        Ok(())
    }

    /// The sentence for the timeline.
    pub fn message(&self, hoster: &str) -> String {
        match self {
            HosterResponse::Removed { note } => match note.as_deref().map(str::trim) {
                Some(n) if !n.is_empty() => format!("{hoster} says it removed the material: {n}"),
                _ => format!("{hoster} says it removed the material"),
            },
            HosterResponse::NotHost { party } => {
                format!(
                    "{hoster} says it is not the host; it names {}",
                    party.trim()
                )
            }
            HosterResponse::Dispute { reason } => {
                format!("{hoster} disputes the notice: {}", reason.trim())
            }
        }
    }
}

/// A case as its hoster sees it in the portal: no reports, no reporters, no evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortalCase {
    /// The case number.
    pub case_id: i64,
    /// The URL.
    pub url: String,
    /// The category.
    pub category: String,
    /// Where it stands.
    pub state: CaseState,
    /// The notice's reference.
    pub reference: String,
    /// When the notice was sent.
    pub notified_at: Option<Millis>,
    /// Removal expected by.
    pub deadline: Option<Millis>,
    /// The hoster's latest answer.
    pub hoster_said: Option<String>,
    /// When.
    pub hoster_said_at: Option<Millis>,
    /// The verdict of the latest re-check.
    pub last_verdict: Option<String>,
    /// When removal was verified.
    pub removed_at: Option<Millis>,
}

/// A stored template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredTemplate {
    /// The template.
    pub template: crate::notice::Template,
    /// Who changed it last, and when (`None`: the built-in text).
    pub updated: Option<(String, Millis)>,
}

/// An actionable case whose party attribution found outside the register (an RIR abuse
/// mailbox), as the planner reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unregistered {
    /// The case.
    pub case_id: i64,
    /// The party attribution names.
    pub party: crate::attribution::Party,
}

/// Storage for notices, re-checks, hoster answers and templates.
#[async_trait]
pub trait NoticeStore: Send + Sync + std::fmt::Debug {
    /// Cases due a step of `kind` at `now`, oldest first, at most `limit`: actionable cases
    /// with a party and no notice to it yet; notified cases whose reminder or escalation
    /// timer is due (and the hoster has not answered "not the host" or "dispute").
    async fn due(&self, kind: NoticeKind, now: Millis, limit: usize) -> Result<Vec<DueCase>>;

    /// Actionable cases without a register party whose attribution names a party with an
    /// abuse address, at most `limit`.
    async fn unregistered(&self, limit: usize) -> Result<Vec<Unregistered>>;

    /// Names register entry `hoster_id` as the party of an actionable case that has none
    /// (no-op otherwise), with a timeline event.
    async fn adopt_party(&self, case_id: i64, hoster_id: i64, now: Millis) -> Result<()>;

    /// Queues a notice in one transaction: the notice, its case keys, the step's timers
    /// cleared and an event on each case. [`crate::Error::Conflict`] when another planner
    /// already queued this step for one of the cases (nothing is written then).
    async fn queue_notice(&self, notice: &NewNotice, now: Millis) -> Result<i64>;

    /// Claims the next due queued notice for `lease`.
    async fn claim_notice(&self, now: Millis, lease: Duration) -> Result<Option<Notice>>;

    /// Records an attempt: on success the cases' state and timers follow (notice: notified
    /// with the timers of `policy`); every attempt is an event on each case.
    async fn finish_notice(
        &self,
        id: i64,
        now: Millis,
        outcome: &SendOutcome,
        policy: &Policy,
    ) -> Result<()>;

    /// Notices, newest first: of one case, or all.
    async fn notices(&self, case_id: Option<i64>, limit: usize) -> Result<Vec<Notice>>;

    /// One notice by reference.
    async fn notice(&self, reference: &str) -> Result<Option<Notice>>;

    /// Claims up to `limit` cases whose re-check is due, for `lease`.
    async fn claim_checks(
        &self,
        now: Millis,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<CheckDue>>;

    /// Stores finished checks in one transaction: a row each, the baseline on the first
    /// online check, and for the first offline check of a notified case its removal time,
    /// after which the case is closed.
    async fn save_checks(&self, checks: &[CheckRecord]) -> Result<()>;

    /// A case's checks, newest first.
    async fn checks(&self, case_id: i64, limit: usize) -> Result<Vec<CheckRow>>;

    /// The cases notified to a hoster that are still open (or closed within `recent`).
    async fn portal_cases(&self, hoster_id: i64, since: Millis) -> Result<Vec<PortalCase>>;

    /// Records a hoster's answer on a case notified to it (else [`crate::Error::NotFound`]).
    async fn respond(
        &self,
        hoster_id: i64,
        case_id: i64,
        response: &HosterResponse,
        actor: &str,
        now: Millis,
    ) -> Result<PortalCase>;

    /// The templates, built-in where the operator saved none.
    async fn templates(&self) -> Result<Vec<StoredTemplate>>;

    /// Saves a template (checked by the caller).
    async fn save_template(
        &self,
        template: &crate::notice::Template,
        actor: &str,
        now: Millis,
    ) -> Result<()>;

    /// A secret shared by all replicas, made (random, 32 bytes, hex) on first use.
    async fn secret(&self, name: &str) -> Result<String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_the_offsets_then_daily() {
        let p = Policy::default();
        let t0 = Millis(1_000_000);
        let at = |k| (p.next_check(t0, k).0 - t0.0) / HOUR;
        assert_eq!(
            (0..8).map(at).collect::<Vec<_>>(),
            [0, 1, 6, 12, 24, 48, 72, 96]
        );
        assert_eq!(p.remind_at(t0).0 - t0.0, 24 * HOUR);
        assert_eq!(p.escalate_at(t0).0 - t0.0, 72 * HOUR);
        // Absurd counts neither panic nor wrap.
        assert!(p.next_check(t0, i64::MAX).0 > t0.0);
        assert_eq!(p.next_check(t0, -5), t0);
    }

    #[test]
    fn hoster_answers_are_checked_and_explained() {
        let ok = HosterResponse::NotHost {
            party: "Other B.V.".into(),
        };
        ok.check().unwrap();
        assert_eq!(
            ok.message("Host A"),
            "Host A says it is not the host; it names Other B.V."
        );
        for bad in [
            HosterResponse::NotHost { party: " ".into() },
            HosterResponse::Dispute {
                reason: String::new(),
            },
            HosterResponse::Dispute {
                reason: "x".repeat(MAX_RESPONSE_TEXT + 1),
            },
        ] {
            assert!(
                matches!(bad.check(), Err(crate::Error::Invalid(_))),
                "{bad:?}"
            );
        }
        HosterResponse::Removed { note: None }.check().unwrap();
        let parsed: HosterResponse =
            serde_json::from_str(r#"{"response":"dispute","reason":"legal art"}"#).unwrap();
        assert_eq!(parsed.name(), "dispute");
    }
}
