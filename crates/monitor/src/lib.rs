//! The monitor: how fast hosters remove what the hotline reports to them, as pure functions.
//!
//! Schoon sends a hoster a notice for every URL of illegal content it finds on the hoster's
//! network, re-checks the URL until it is gone, reminds and escalates when it is not. This
//! crate turns the facts recorded per case into the figures the hotline publishes per hoster,
//! per category and for the whole sector, per month, quarter, year or any range. No SQL and
//! no HTTP: the callers read [`CaseFacts`], [`NoticeFacts`] and [`Participation`] from
//! storage and hand them in; the answers ([`Figures`], histograms, survival curves) are plain
//! values that serialise with serde for pages, CSV and JSON.
//!
//! * [`period`]: months, quarters, years and custom ranges (UTC, half-open);
//! * [`facts`]: the inputs and the [`Filter`];
//! * [`km`]: the Kaplan–Meier estimate of the time to removal;
//! * [`stats`]: the [`Figures`] and the functions that compute them.
//!
//! # What the numbers mean
//!
//! * **urls**: cases notified in the period. A case is one URL at one hoster, and belongs
//!   to the period of its *first notice* (`notified_at`), whatever happens later: a URL
//!   notified on 31 March and removed on 2 April is a March case, and March's figures can
//!   still change in April as its cases are removed.
//! * **removed** / **still_online**: of those, removed by `now` or not. `removed` uses the
//!   first *verified* offline re-check after the notice, never the hoster's own word.
//! * **time to removal**: `removed_at − notified_at`.
//! * **removed_within_24h** and **share_within_24h**: removed at most 24 h after the notice
//!   (a removal at exactly 24 h counts). The share is taken over the cases that *can be
//!   judged*: a case still online and notified less than 24 h before `now` may yet make the
//!   norm, so it is left out of the denominator and counted in **undecided_24h**. Counting
//!   it as a failure would punish a hoster for this morning's notices; counting it as a
//!   success would reward it for them. `None` when no case can be judged.
//! * **median_hours** and **p90_hours**: the time by which half (90 %) of the cases are
//!   removed, from the Kaplan–Meier estimate (see [`km`]) in which still-online cases are
//!   *censored* at their age `now − notified_at`.
//! * **reminders** / **escalations**: cases of the period that got a reminder / were
//!   escalated by `now` (the reminder may fall in the next period; it counts for the case's).
//! * **repeats**: cases whose URL was in an earlier case (by `notified_at`, then `case_id`)
//!   of the same hoster, whenever that was: content that came back. Pass the whole case
//!   history, so cases before the period can make one in it a repeat.
//! * **notices**: notice *messages* sent in the period (one message may be about many URLs;
//!   reminder and escalation messages are not counted here).
//! * **checks**, **matches**, **removed_own_initiative**, **uses_hash_check**,
//!   **uses_scanner**: the hoster's proactive participation: its use of the hash-check service
//!   (the Instant Image Identifier) and of the scanner, summed over every month that overlaps
//!   the period. The seed documents count joining the hash check as cooperation, so it stands
//!   next to the takedown figures. `uses_hash_check` means at least one check in the period.
//!   Messages and participation belong to hosters, not categories: a category [`Filter`]
//!   narrows the cases only.
//!
//! Everything is evaluated **as of `now`**: a removal, reminder or notice after `now` has not
//! happened yet, and a case notified after `now` does not count. Figures for a past `now` are
//! what the monitor said then. A case listed twice (one `case_id`) counts once.
//!
//! # Why censoring matters
//!
//! At any moment some cases are still online. Their removal time is unknown, but not
//! unknowable: a case online for 120 h will take *at least* 120 h. Two tempting shortcuts
//! are both wrong:
//!
//! * **Dropping** still-online cases keeps only the removals, and so only the fast ones: a
//!   hoster that removes a quick half of its URLs and ignores the rest would show a median of
//!   a few hours. The slower a hoster, the more of its cases are dropped and the faster it
//!   looks.
//! * **Counting them as removed now** turns "at least 120 h" into "exactly 120 h" and a
//!   young case into a fast removal.
//!
//! Kaplan–Meier keeps every case in the count of cases *at risk* for as long as it was
//! watched, and lets only real removals lower the share still online. When more than half of
//! the cases stay online longer than any removal, no median can be estimated: the figures
//! then give the longest observation as a lower bound and set `median_censored` (same for
//! the 90th percentile and `p90_censored`), to be shown as "≥ 120 h".
//!
//! # Worked example
//!
//! Hoster 7, March 2026, `now` = 31 March 12:00 UTC. Six cases, one from February:
//!
//! | case | notified | removed after | still online for | reminded | escalated |
//! |---|---|---|---|---|---|
//! | F (`/x`) | 10 Feb | 5 h | | | |
//! | A | 2 Mar | 2 h | | | |
//! | B (`/x`) | 3 Mar | 10 h | | | |
//! | C | 4 Mar | 30 h | | yes | |
//! | D | 26 Mar 12:00 | | 120 h | yes | yes |
//! | E | 31 Mar 06:00 | | 6 h | | |
//!
//! * urls = 5 (A–E; F is February's), removed = 3, still online = 2.
//! * Within 24 h: A and B. E is online but only 6 h old: undecided. D failed (online for
//!   120 h). share_within_24h = 2 / (5 − 1) = 0.5.
//! * Kaplan–Meier over 2 h (removed), 6 h (online), 10 h, 30 h (removed), 120 h (online):
//!   * 2 h: 5 at risk, 1 removed: S = 4/5 = 0.8;
//!   * 6 h: E censored, S stays 0.8, 3 left at risk;
//!   * 10 h: 3 at risk, 1 removed: S = 0.8 × 2/3 ≈ 0.533;
//!   * 30 h: 2 at risk, 1 removed: S = 0.533 × 1/2 ≈ 0.267 ≤ 0.5: **median 30 h**;
//!   * S never reaches 0.1: **p90 ≥ 120 h** (`p90_censored`).
//!
//!   Dropping D and E would give a median of 10 h (2, 10, 30); so would counting them as
//!   removed now (2, 6, 10, 30, 120). Both make this hoster look three times as fast.
//! * reminders = 2 (C, D), escalations = 1 (D), repeats = 1 (B: `/x` was February's F).
//!
//! ```
//! use lists::Millis;
//! use monitor::{CaseFacts, Filter, Period, figures};
//!
//! const H: i64 = 3_600_000;
//! let march = Period::month(2026, 3).unwrap();
//! let day = |d: i64| march.from.0 + (d - 1) * 24 * H; // d March, 00:00 UTC
//! let now = Millis(day(31) + 12 * H);
//! let case = |id, url: &str, notified: i64, removed_after: Option<i64>| CaseFacts {
//!     case_id: id,
//!     hoster_id: 7,
//!     category: "csam".into(),
//!     url: url.into(),
//!     opened_at: Millis(notified - H),
//!     notified_at: Millis(notified),
//!     removed_at: removed_after.map(|h| Millis(notified + h * H)),
//!     reminded_at: None,
//!     escalated_at: None,
//! };
//! let mut c = case(4, "https://h.example/c", day(4), Some(30));
//! c.reminded_at = Some(Millis(day(5)));
//! let mut d = case(5, "https://h.example/d", now.0 - 120 * H, None);
//! d.reminded_at = Some(Millis(d.notified_at.0 + 24 * H));
//! d.escalated_at = Some(Millis(d.notified_at.0 + 72 * H));
//! let cases = vec![
//!     case(0, "https://h.example/x", day(-18), Some(5)), // F: 10 February
//!     case(1, "https://h.example/a", day(2), Some(2)),
//!     case(2, "https://h.example/x", day(3), Some(10)),
//!     c,
//!     d,
//!     case(6, "https://h.example/e", now.0 - 6 * H, None),
//! ];
//! let f = figures(&cases, &[], &[], &march, now, &Filter::hoster(7));
//! assert_eq!((f.urls, f.removed, f.still_online), (5, 3, 2));
//! assert_eq!((f.removed_within_24h, f.undecided_24h), (2, 1));
//! assert_eq!(f.share_within_24h, Some(0.5));
//! assert_eq!((f.median_hours, f.median_censored), (Some(30.0), false));
//! assert_eq!((f.p90_hours, f.p90_censored), (Some(120.0), true));
//! assert_eq!((f.reminders, f.escalations, f.repeats), (2, 1, 1));
//! ```
//!
//! # Known limit: the median is not monotone under every change
//!
//! Making one removal earlier never lowers `share_within_24h`, and never raises the median
//! or p90 *unless the removal moves past the age of a still-online case*. Kaplan–Meier uses
//! the cases removed after a censored case to stand in for it; a removal that moves from after
//! a still-online case's age to before it stops standing in for that case, and a slower one
//! takes its place. Example: removals at 2 h and 10 h and one case online for 1 h: median 2 h
//! (S(2 h) = 1/2); move the 2 h removal to 0.5 h and the median becomes 10 h (S(0.5 h) = 2/3,
//! then the online case leaves the risk set). This is the estimator being honest about what
//! it does not know, not a bug; the tests pin both the rule and this example.

pub mod facts;
pub mod km;
pub mod listing;
pub mod period;
pub mod stats;
pub mod store;
pub mod summary;
pub mod svg;

pub use facts::{CaseFacts, Filter, NoticeFacts, NoticeKindLite, Participation};
pub use listing::{Proposal, ProposalAction, Reason, Rules, propose};
pub use period::{Month, Period, PeriodError, PeriodKind, months_between};
pub use stats::{
    Bucket, Dataset, Figures, HOUR_MS, NORM_MS, figures, monthly, per_category, per_hoster,
    removal_histogram, sector,
};
pub use store::MonitorStore;
pub use summary::{CaseGroup, NoticeCount, Summary};
