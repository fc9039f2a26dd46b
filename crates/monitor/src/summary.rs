//! The figures from counts: what a database can aggregate for us, so that a million cases
//! never cross the wire one by one.
//!
//! [`Dataset`](crate::Dataset) reads every case. That is the reference and fine for a
//! hoster's year, but the sector over ten years is a million cases. A [`Summary`] holds
//! the same facts *grouped*: one [`CaseGroup`] per hoster, category, day of notice, outcome
//! and time to the minute, with counts. The storage layer builds it with one `GROUP BY`
//! (see `MonitorStore::summary` in the store crate), and every view the pages need (the
//! sector, the hoster table, categories, months, the histogram) is computed from it in
//! memory, by the same accumulator as [`Dataset`](crate::Dataset)'s, so the two cannot
//! drift apart.
//!
//! # Rounding
//!
//! Times are kept to the minute ([`RESOLUTION_MS`]), rounded the cautious way for each
//! kind of observation:
//!
//! * a **removal** rounds *up* (`ceil`): 24 h 0 min 1 s counts as 24 h 01, outside the norm,
//!   as it really is;
//! * a case **still online** rounds *down* (`floor`): it has been watched at least that long,
//!   and a case online for 23 h 59 min 59 s is still undecided.
//!
//! Every bound the figures use (1 h, 6 h, 12 h, 24 h, 48 h, 72 h) is a whole minute, so
//! counts, shares and the histogram are *exactly* those of the [`Dataset`](crate::Dataset);
//! only the median and the 90th percentile can differ, by less than a minute. The property
//! tests check both claims.

use crate::facts::{CaseFacts, Filter, NoticeFacts, Participation};
use crate::period::{Month, Period};
use crate::stats::{Acc, Bucket, Dataset, Figures};
use lists::Millis;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The time resolution of a [`Summary`]: one minute.
pub const RESOLUTION_MS: i64 = 60_000;
/// One day in milliseconds: groups are keyed by UTC day of the notice.
pub const DAY_MS: i64 = 86_400_000;

/// Cases of one hoster and category, notified on one UTC day, that share an outcome and a
/// time (to the minute).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseGroup {
    /// The hoster.
    pub hoster_id: i64,
    /// The category.
    pub category: String,
    /// The UTC day of the notice, as days since 1970-01-01 (`notified_at.div_euclid(DAY_MS)`).
    pub day: i64,
    /// `true`: removed by `now`, after `minutes`; `false`: still online for `minutes` so far.
    pub removed: bool,
    /// Minutes from the notice to the removal (rounded up) or to `now` (rounded down); see
    /// [`removal_minutes`] and [`online_minutes`].
    pub minutes: i64,
    /// How many cases.
    pub cases: u64,
    /// Of those, how many got a reminder by `now`.
    pub reminded: u64,
    /// Of those, how many were escalated by `now`.
    pub escalated: u64,
    /// Of those, how many are escalated and still online: ignored past escalation.
    pub escalated_online: u64,
    /// Of those, how many are repeats (the URL was in an earlier case of the hoster).
    pub repeats: u64,
}

impl CaseGroup {
    /// The group's time in milliseconds.
    pub fn millis(&self) -> i64 {
        self.minutes.saturating_mul(RESOLUTION_MS)
    }

    /// The month of the notice.
    pub fn month(&self) -> Month {
        Month::of(Millis(self.day.saturating_mul(DAY_MS)))
    }
}

/// A removal `ms` after the notice, in minutes, rounded up (never negative).
pub fn removal_minutes(ms: i64) -> i64 {
    let ms = ms.max(0);
    ms / RESOLUTION_MS + i64::from(ms % RESOLUTION_MS != 0)
}

/// A case online for `ms` so far, in minutes, rounded down (never negative).
pub fn online_minutes(ms: i64) -> i64 {
    ms.max(0) / RESOLUTION_MS
}

/// The first notices sent to one hoster on one UTC day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeCount {
    /// The hoster.
    pub hoster_id: i64,
    /// The UTC day, as days since 1970-01-01.
    pub day: i64,
    /// How many notice messages (not reminders or escalations).
    pub notices: u64,
}

/// Everything the figures of one period need, grouped. Build it with [`Summary::from_facts`]
/// or from a database query that follows the same rules (cases notified in `period` by
/// `now`; notices sent in `period` by `now`; participation of the months overlapping
/// `period`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The period the groups are about.
    pub period: Period,
    /// The moment the figures are as of.
    pub now: Millis,
    /// The cases, grouped.
    pub groups: Vec<CaseGroup>,
    /// The notice messages, counted per hoster and day.
    pub notices: Vec<NoticeCount>,
    /// Participation in the months that overlap the period.
    pub participation: Vec<Participation>,
}

impl Summary {
    /// Groups case facts the way the database does: the reference for the store's query
    /// and for tests. `cases` is the whole history (for repeats).
    pub fn from_facts(
        cases: &[CaseFacts],
        notices: &[NoticeFacts],
        participation: &[Participation],
        period: &Period,
        now: Millis,
    ) -> Summary {
        let data = Dataset::new(cases, notices, participation);
        let all = Filter::all();
        type Key = (i64, String, i64, bool, i64);
        let mut groups: BTreeMap<Key, CaseGroup> = BTreeMap::new();
        for (c, repeat) in data.cases_in_period(period, now, &all) {
            let happened = |t: Option<Millis>| t.is_some_and(|t| t <= now);
            let removed = c.removed_at.filter(|&r| r <= now);
            let (is_removed, minutes) = match removed {
                Some(r) => (true, removal_minutes(r.0.saturating_sub(c.notified_at.0))),
                None => (false, online_minutes(now.0.saturating_sub(c.notified_at.0))),
            };
            let day = c.notified_at.0.div_euclid(DAY_MS);
            let g = groups
                .entry((c.hoster_id, c.category.clone(), day, is_removed, minutes))
                .or_insert_with(|| CaseGroup {
                    hoster_id: c.hoster_id,
                    category: c.category.clone(),
                    day,
                    removed: is_removed,
                    minutes,
                    cases: 0,
                    reminded: 0,
                    escalated: 0,
                    escalated_online: 0,
                    repeats: 0,
                });
            g.cases += 1;
            g.reminded += u64::from(happened(c.reminded_at));
            g.escalated += u64::from(happened(c.escalated_at));
            g.escalated_online += u64::from(happened(c.escalated_at) && !is_removed);
            g.repeats += u64::from(repeat);
        }
        let mut counts: BTreeMap<(i64, i64), u64> = BTreeMap::new();
        for n in data.notices_in(period, now, &all) {
            *counts
                .entry((n.hoster_id, n.sent_at.0.div_euclid(DAY_MS)))
                .or_default() += 1;
        }
        Summary {
            period: *period,
            now,
            groups: groups.into_values().collect(),
            notices: counts
                .into_iter()
                .map(|((hoster_id, day), notices)| NoticeCount {
                    hoster_id,
                    day,
                    notices,
                })
                .collect(),
            participation: participation
                .iter()
                .filter(|p| period.overlaps_month(p.month))
                .cloned()
                .collect(),
        }
    }

    fn groups_of<'s>(
        &'s self,
        filter: &'s Filter,
        month: Option<Month>,
    ) -> impl Iterator<Item = &'s CaseGroup> + 's {
        self.groups.iter().filter(move |g| {
            filter.hoster.is_none_or(|h| h == g.hoster_id)
                && filter.category.as_ref().is_none_or(|k| *k == g.category)
                && month.is_none_or(|m| g.month() == m)
        })
    }

    fn fill(&self, acc: &mut Acc, hoster: Option<i64>, filter: &Filter, month: Option<Month>) {
        let takes = |h: i64| filter.hoster.is_none_or(|f| f == h) && hoster.is_none_or(|x| x == h);
        for g in self.groups_of(filter, month) {
            if takes(g.hoster_id) {
                acc.add_group(g);
            }
        }
        for n in &self.notices {
            let m = Month::of(Millis(n.day.saturating_mul(DAY_MS)));
            if takes(n.hoster_id) && month.is_none_or(|x| x == m) {
                acc.notices += n.notices;
            }
        }
        for p in &self.participation {
            let in_period = match month {
                Some(m) => p.month == m,
                None => self.period.overlaps_month(p.month),
            };
            if takes(p.hoster_id) && in_period {
                acc.add_participation(p);
            }
        }
    }

    /// The figures of the slice `filter`; equal to [`Dataset::figures`] over the same facts.
    pub fn figures(&self, filter: &Filter) -> Figures {
        let mut acc = Acc::default();
        self.fill(&mut acc, None, filter, None);
        acc.finish()
    }

    /// The sector: every hoster, every category.
    pub fn sector(&self) -> Figures {
        self.figures(&Filter::all())
    }

    /// The figures of every hoster with a case, a notice or a participation row.
    pub fn per_hoster(&self, filter: &Filter) -> BTreeMap<i64, Figures> {
        // One pass over the groups: a summary of years holds about as many groups as cases.
        let takes = |h: i64| filter.hoster.is_none_or(|f| f == h);
        let mut accs: BTreeMap<i64, Acc> = BTreeMap::new();
        for g in self.groups_of(filter, None) {
            accs.entry(g.hoster_id).or_default().add_group(g);
        }
        for n in self.notices.iter().filter(|n| takes(n.hoster_id)) {
            accs.entry(n.hoster_id).or_default().notices += n.notices;
        }
        for p in self
            .participation
            .iter()
            .filter(|p| takes(p.hoster_id) && self.period.overlaps_month(p.month))
        {
            accs.entry(p.hoster_id).or_default().add_participation(p);
        }
        accs.into_iter().map(|(h, a)| (h, a.finish())).collect()
    }

    /// The figures of every category with a case.
    pub fn per_category(&self, filter: &Filter) -> BTreeMap<String, Figures> {
        let categories: BTreeSet<&str> = self
            .groups_of(filter, None)
            .map(|g| g.category.as_str())
            .collect();
        categories
            .into_iter()
            .map(|k| {
                let f = Filter {
                    hoster: filter.hoster,
                    category: Some(k.to_string()),
                };
                (k.to_string(), self.figures(&f))
            })
            .collect()
    }

    /// One entry per month of the period, each that month's figures (cut to the period).
    pub fn monthly(&self, filter: &Filter) -> Vec<(Month, Figures)> {
        let takes = |h: i64| filter.hoster.is_none_or(|f| f == h);
        let mut accs: BTreeMap<Month, Acc> = self
            .period
            .months()
            .into_iter()
            .map(|m| (m, Acc::default()))
            .collect();
        for g in self.groups_of(filter, None) {
            if let Some(a) = accs.get_mut(&g.month()) {
                a.add_group(g);
            }
        }
        for n in self.notices.iter().filter(|n| takes(n.hoster_id)) {
            let m = Month::of(Millis(n.day.saturating_mul(DAY_MS)));
            if let Some(a) = accs.get_mut(&m) {
                a.notices += n.notices;
            }
        }
        for p in self.participation.iter().filter(|p| takes(p.hoster_id)) {
            if let Some(a) = accs.get_mut(&p.month) {
                a.add_participation(p);
            }
        }
        accs.into_iter().map(|(m, a)| (m, a.finish())).collect()
    }

    /// Cases per [`Bucket`] of time to removal, every bucket listed, in chart order.
    pub fn removal_histogram(&self, filter: &Filter) -> Vec<(Bucket, u64)> {
        let mut counts = [0u64; Bucket::ALL.len()];
        for g in self.groups_of(filter, None) {
            let b = Bucket::of(g.removed.then(|| g.millis()));
            counts[b as usize] += g.cases;
        }
        Bucket::ALL.into_iter().zip(counts).collect()
    }

    /// Cases escalated and still online (ignored past escalation), per hoster.
    pub fn escalated_online(&self, filter: &Filter) -> BTreeMap<i64, u64> {
        let mut out = BTreeMap::new();
        for g in self.groups_of(filter, None) {
            if g.escalated_online > 0 {
                *out.entry(g.hoster_id).or_default() += g.escalated_online;
            }
        }
        out
    }
}
