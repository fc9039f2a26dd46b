//! The figures: counting cases, messages and participation of one slice of one period.
//!
//! The rules are in the crate documentation; this module implements them once, in an
//! accumulator that [`figures`], [`per_hoster`], [`per_category`], [`sector`] and
//! [`monthly`] all share, so a hoster's row and the sector total cannot disagree.

use crate::facts::{CaseFacts, Filter, NoticeFacts, NoticeKindLite, Participation};
use crate::km::{self, Group, Observation, Step};
use crate::period::{Month, Period};
use lists::Millis;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// One hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
/// The removal norm: 24 hours in milliseconds. A removal at exactly 24 h is within it.
pub const NORM_MS: i64 = 24 * HOUR_MS;

/// The figures of one slice (a hoster, a category, the sector) in one period.
///
/// Every count is of cases *notified in the period* (the period of a case is the period of
/// its first notice), evaluated as of `now`, except [`notices`](Self::notices) (messages sent
/// in the period) and the participation fields (the months of the period). See the crate
/// documentation for the rules and a worked example.
///
/// Serialises to a flat JSON object; `None` becomes `null`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Hosters with at least one case in the slice (1 or 0 for one hoster's figures).
    pub hosters: u64,
    /// Notice messages (first notices, not reminders or escalations) sent in the period.
    /// One message may cover many URLs. A category filter does not narrow this: a message is
    /// to a hoster, not about one category.
    pub notices: u64,
    /// Cases (each one URL) notified in the period.
    pub urls: u64,
    /// Of those, removed by `now`.
    pub removed: u64,
    /// Of those, removed at most 24 h after the notice.
    pub removed_within_24h: u64,
    /// Of those, not removed by `now`. Always `removed + still_online == urls`.
    pub still_online: u64,
    /// Still online but notified less than 24 h before `now`: whether they will make the
    /// 24-hour norm cannot be told yet, so they are left out of `share_within_24h`.
    pub undecided_24h: u64,
    /// `removed_within_24h / (urls − undecided_24h)`; `None` when nothing can be judged yet.
    pub share_within_24h: Option<f64>,
    /// Median time from notice to removal in hours (Kaplan–Meier, still-online cases
    /// censored); `None` without cases.
    pub median_hours: Option<f64>,
    /// `true` when more than half of the cases were still online for longer than any
    /// removal: `median_hours` is then only a lower bound ("at least").
    pub median_censored: bool,
    /// The 90th percentile of the time to removal in hours, like the median.
    pub p90_hours: Option<f64>,
    /// `true` when `p90_hours` is only a lower bound.
    pub p90_censored: bool,
    /// Cases that got a reminder (by `now`).
    pub reminders: u64,
    /// Cases that were escalated (by `now`).
    pub escalations: u64,
    /// Cases whose URL was in an earlier case of the same hoster.
    pub repeats: u64,
    /// Hash checks in the months of the period (hoster-level: not narrowed by category).
    pub checks: u64,
    /// Checks that matched a listed hash.
    pub matches: u64,
    /// Matched items removed on the hoster's own initiative.
    pub removed_own_initiative: u64,
    /// Whether any hoster in the slice checked at least one hash in the period.
    pub uses_hash_check: bool,
    /// Whether any hoster in the slice ran the scanner in a month of the period.
    pub uses_scanner: bool,
    /// How many hosters checked at least one hash in the period.
    pub hosters_using_hash_check: u64,
    /// How many hosters ran the scanner in a month of the period.
    pub hosters_using_scanner: u64,
}

/// A bar of the time-to-removal histogram. Each bucket includes its upper bound: a removal at
/// exactly 24 h is in `12-24h` (and within the norm).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Bucket {
    /// Removed within 1 h.
    #[serde(rename = "0-1h")]
    UpTo1h,
    /// After more than 1 h, at most 6 h.
    #[serde(rename = "1-6h")]
    H1To6,
    /// After more than 6 h, at most 12 h.
    #[serde(rename = "6-12h")]
    H6To12,
    /// After more than 12 h, at most 24 h.
    #[serde(rename = "12-24h")]
    H12To24,
    /// After more than 24 h, at most 48 h.
    #[serde(rename = "24-48h")]
    H24To48,
    /// After more than 48 h, at most 72 h.
    #[serde(rename = "48-72h")]
    H48To72,
    /// After more than 72 h.
    #[serde(rename = "72h+")]
    Over72h,
    /// Not removed by `now`.
    #[serde(rename = "online")]
    StillOnline,
}

impl Bucket {
    /// Every bucket, in chart order.
    pub const ALL: [Bucket; 8] = [
        Bucket::UpTo1h,
        Bucket::H1To6,
        Bucket::H6To12,
        Bucket::H12To24,
        Bucket::H24To48,
        Bucket::H48To72,
        Bucket::Over72h,
        Bucket::StillOnline,
    ];

    /// The bucket of a time to removal (`None`: still online).
    pub fn of(time_to_removal_ms: Option<i64>) -> Bucket {
        let Some(t) = time_to_removal_ms else {
            return Bucket::StillOnline;
        };
        match t {
            t if t <= HOUR_MS => Bucket::UpTo1h,
            t if t <= 6 * HOUR_MS => Bucket::H1To6,
            t if t <= 12 * HOUR_MS => Bucket::H6To12,
            t if t <= 24 * HOUR_MS => Bucket::H12To24,
            t if t <= 48 * HOUR_MS => Bucket::H24To48,
            t if t <= 72 * HOUR_MS => Bucket::H48To72,
            _ => Bucket::Over72h,
        }
    }

    /// The label for a chart axis.
    pub fn label(self) -> &'static str {
        match self {
            Bucket::UpTo1h => "≤ 1 h",
            Bucket::H1To6 => "1–6 h",
            Bucket::H6To12 => "6–12 h",
            Bucket::H12To24 => "12–24 h",
            Bucket::H24To48 => "24–48 h",
            Bucket::H48To72 => "48–72 h",
            Bucket::Over72h => "> 72 h",
            Bucket::StillOnline => "still online",
        }
    }

    /// The short id used in JSON and CSV (`"0-1h"`, …, `"72h+"`, `"online"`).
    pub fn id(self) -> &'static str {
        match self {
            Bucket::UpTo1h => "0-1h",
            Bucket::H1To6 => "1-6h",
            Bucket::H6To12 => "6-12h",
            Bucket::H12To24 => "12-24h",
            Bucket::H24To48 => "24-48h",
            Bucket::H48To72 => "48-72h",
            Bucket::Over72h => "72h+",
            Bucket::StillOnline => "online",
        }
    }
}

/// A case as of `now`: its removal time if removed by then, else how long it has been online.
#[derive(Clone, Copy, Debug)]
struct AsOf {
    /// Time to removal, when removed by `now`.
    removal_ms: Option<i64>,
    /// `now − notified_at`.
    age_ms: i64,
}

fn happened(at: Option<Millis>, now: Millis) -> bool {
    at.is_some_and(|t| t <= now)
}

fn as_of(c: &CaseFacts, now: Millis) -> AsOf {
    AsOf {
        removal_ms: c
            .removed_at
            .filter(|&r| r <= now)
            .map(|r| r.0.saturating_sub(c.notified_at.0).max(0)),
        age_ms: now.0.saturating_sub(c.notified_at.0).max(0),
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct HosterPart {
    checks: u64,
    matches: u64,
    own: u64,
    scanner: bool,
}

/// The running counts of one slice.
#[derive(Debug, Default)]
pub(crate) struct Acc {
    pub(crate) hosters: BTreeSet<i64>,
    pub(crate) notices: u64,
    urls: u64,
    removed: u64,
    within: u64,
    still_online: u64,
    undecided: u64,
    reminders: u64,
    escalations: u64,
    repeats: u64,
    obs: Vec<Group>,
    part: BTreeMap<i64, HosterPart>,
}

impl Acc {
    fn add_case(&mut self, case: &Prepared<'_>, now: Millis) {
        let c = case.facts;
        self.hosters.insert(c.hoster_id);
        self.urls += 1;
        self.repeats += u64::from(case.repeat);
        self.reminders += u64::from(happened(c.reminded_at, now));
        self.escalations += u64::from(happened(c.escalated_at, now));
        let a = as_of(c, now);
        match a.removal_ms {
            Some(t) => {
                self.removed += 1;
                self.within += u64::from(t <= NORM_MS);
                self.obs.push(Group {
                    millis: t,
                    removed: 1,
                    censored: 0,
                });
            }
            None => {
                self.still_online += 1;
                self.undecided += u64::from(a.age_ms < NORM_MS);
                self.obs.push(Group {
                    millis: a.age_ms,
                    removed: 0,
                    censored: 1,
                });
            }
        }
    }

    /// Adds `cases` cases of one hoster that share a time: removed after `millis`, or (not
    /// `removed`) online for `millis` so far. The grouped twin of [`Acc::add_case`].
    pub(crate) fn add_group(&mut self, g: &crate::summary::CaseGroup) {
        if g.cases == 0 {
            return;
        }
        self.hosters.insert(g.hoster_id);
        self.urls += g.cases;
        self.repeats += g.repeats;
        self.reminders += g.reminded;
        self.escalations += g.escalated;
        let millis = g.millis();
        if g.removed {
            self.removed += g.cases;
            if millis <= NORM_MS {
                self.within += g.cases;
            }
        } else {
            self.still_online += g.cases;
            if millis < NORM_MS {
                self.undecided += g.cases;
            }
        }
        self.obs.push(Group {
            millis,
            removed: if g.removed { g.cases } else { 0 },
            censored: if g.removed { 0 } else { g.cases },
        });
    }

    pub(crate) fn add_participation(&mut self, p: &Participation) {
        let h = self.part.entry(p.hoster_id).or_default();
        h.checks = h.checks.saturating_add(p.checks);
        h.matches = h.matches.saturating_add(p.matches);
        h.own = h.own.saturating_add(p.removed_own_initiative);
        h.scanner |= p.scanner;
    }

    pub(crate) fn finish(self) -> Figures {
        let judged = self.urls - self.undecided;
        let curve = km::survival_curve_grouped(self.obs);
        let median = km::quantile(&curve, 0.5);
        let p90 = km::quantile(&curve, 0.9);
        let hours = |q: Option<km::Quantile>| q.map(|q| q.millis as f64 / HOUR_MS as f64);
        let parts = self.part.values();
        Figures {
            hosters: self.hosters.len() as u64,
            notices: self.notices,
            urls: self.urls,
            removed: self.removed,
            removed_within_24h: self.within,
            still_online: self.still_online,
            undecided_24h: self.undecided,
            share_within_24h: (judged > 0).then(|| self.within as f64 / judged as f64),
            median_hours: hours(median),
            median_censored: median.is_some_and(|q| q.censored),
            p90_hours: hours(p90),
            p90_censored: p90.is_some_and(|q| q.censored),
            reminders: self.reminders,
            escalations: self.escalations,
            repeats: self.repeats,
            checks: parts.clone().fold(0, |s, h| s.saturating_add(h.checks)),
            matches: parts.clone().fold(0, |s, h| s.saturating_add(h.matches)),
            removed_own_initiative: parts.clone().fold(0, |s, h| s.saturating_add(h.own)),
            uses_hash_check: parts.clone().any(|h| h.checks > 0),
            uses_scanner: parts.clone().any(|h| h.scanner),
            hosters_using_hash_check: parts.clone().filter(|h| h.checks > 0).count() as u64,
            hosters_using_scanner: parts.filter(|h| h.scanner).count() as u64,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Prepared<'a> {
    facts: &'a CaseFacts,
    repeat: bool,
}

/// The inputs, read once: cases de-duplicated by `case_id`, sorted by notice time, each
/// marked repeat or not. Build one when asking several questions of the same data; the free
/// functions ([`figures`], [`per_hoster`], …) build one per call.
#[derive(Clone, Debug)]
pub struct Dataset<'a> {
    cases: Vec<Prepared<'a>>,
    notices: &'a [NoticeFacts],
    participation: &'a [Participation],
}

impl<'a> Dataset<'a> {
    /// Reads the inputs. `cases` should be the whole history (repeats look back in time);
    /// of two cases with one `case_id` only the first is kept.
    pub fn new(
        cases: &'a [CaseFacts],
        notices: &'a [NoticeFacts],
        participation: &'a [Participation],
    ) -> Dataset<'a> {
        let mut ids = HashSet::with_capacity(cases.len());
        let mut sorted: Vec<&CaseFacts> = cases.iter().filter(|c| ids.insert(c.case_id)).collect();
        sorted.sort_by_key(|c| (c.notified_at, c.case_id));
        let mut seen: HashSet<(i64, &str)> = HashSet::with_capacity(sorted.len());
        let cases = sorted
            .into_iter()
            .map(|c| Prepared {
                facts: c,
                repeat: !seen.insert((c.hoster_id, c.url.as_str())),
            })
            .collect();
        Dataset {
            cases,
            notices,
            participation,
        }
    }

    /// The cases of the slice: notified in the period, by `now`, taken by the filter.
    fn cases_in<'s>(
        &'s self,
        period: &Period,
        now: Millis,
        filter: &'s Filter,
    ) -> impl Iterator<Item = &'s Prepared<'a>> + 's {
        let lo = self
            .cases
            .partition_point(|c| c.facts.notified_at < period.from);
        let hi = self
            .cases
            .partition_point(|c| c.facts.notified_at < period.to);
        self.cases[lo..hi.max(lo)]
            .iter()
            .filter(move |c| c.facts.notified_at <= now && filter.takes_case(c.facts))
    }

    /// The cases of the slice with their repeat flag (for [`crate::Summary::from_facts`]).
    pub(crate) fn cases_in_period<'s>(
        &'s self,
        period: &Period,
        now: Millis,
        filter: &'s Filter,
    ) -> impl Iterator<Item = (&'a CaseFacts, bool)> + 's {
        self.cases_in(period, now, filter)
            .map(|c| (c.facts, c.repeat))
    }

    pub(crate) fn notices_in<'s>(
        &'s self,
        period: &'s Period,
        now: Millis,
        filter: &'s Filter,
    ) -> impl Iterator<Item = &'a NoticeFacts> + 's {
        self.notices.iter().filter(move |n| {
            n.kind == NoticeKindLite::Notice
                && period.contains(n.sent_at)
                && n.sent_at <= now
                && filter.takes_hoster(n.hoster_id)
        })
    }

    fn participation_in<'s>(
        &'s self,
        period: &'s Period,
        filter: &'s Filter,
    ) -> impl Iterator<Item = &'a Participation> + 's {
        self.participation
            .iter()
            .filter(move |p| filter.takes_hoster(p.hoster_id) && period.overlaps_month(p.month))
    }

    /// The figures of the slice `filter` in `period`, as of `now`.
    pub fn figures(&self, period: &Period, now: Millis, filter: &Filter) -> Figures {
        let mut acc = Acc::default();
        for c in self.cases_in(period, now, filter) {
            acc.add_case(c, now);
        }
        acc.notices = self.notices_in(period, now, filter).count() as u64;
        for p in self.participation_in(period, filter) {
            acc.add_participation(p);
        }
        acc.finish()
    }

    /// The figures of every hoster with a case, a notice or a participation row in the
    /// period (only `filter.hoster` when set; `filter.category` narrows the cases).
    pub fn per_hoster(
        &self,
        period: &Period,
        now: Millis,
        filter: &Filter,
    ) -> BTreeMap<i64, Figures> {
        let mut accs: BTreeMap<i64, Acc> = BTreeMap::new();
        for c in self.cases_in(period, now, filter) {
            accs.entry(c.facts.hoster_id).or_default().add_case(c, now);
        }
        for n in self.notices_in(period, now, filter) {
            accs.entry(n.hoster_id).or_default().notices += 1;
        }
        for p in self.participation_in(period, filter) {
            accs.entry(p.hoster_id).or_default().add_participation(p);
        }
        accs.into_iter().map(|(h, a)| (h, a.finish())).collect()
    }

    /// The figures of every category with a case in the period. Notices and participation
    /// have no category: each category's figures carry those of all hosters in `filter`.
    pub fn per_category(
        &self,
        period: &Period,
        now: Millis,
        filter: &Filter,
    ) -> BTreeMap<String, Figures> {
        let categories: BTreeSet<&str> = self
            .cases_in(period, now, filter)
            .map(|c| c.facts.category.as_str())
            .collect();
        categories
            .into_iter()
            .map(|k| {
                let f = Filter {
                    hoster: filter.hoster,
                    category: Some(k.to_string()),
                };
                (k.to_string(), self.figures(period, now, &f))
            })
            .collect()
    }

    /// The whole sector: every hoster, every category.
    pub fn sector(&self, period: &Period, now: Millis) -> Figures {
        self.figures(period, now, &Filter::all())
    }

    /// One entry per month with an instant in `period`, each the figures of that month (cut
    /// to `period` where the period starts or ends inside the month): the data of the
    /// share-within-24-hours-per-month chart.
    pub fn monthly(&self, period: &Period, now: Millis, filter: &Filter) -> Vec<(Month, Figures)> {
        period
            .months()
            .into_iter()
            .filter_map(|m| {
                let p = m.period().intersect(period)?;
                Some((m, self.figures(&p, now, filter)))
            })
            .collect()
    }

    /// How many cases of the slice fall in each [`Bucket`] of time to removal, every bucket
    /// listed (zeros too), in chart order. The counts add up to `urls`.
    pub fn removal_histogram(
        &self,
        period: &Period,
        now: Millis,
        filter: &Filter,
    ) -> Vec<(Bucket, u64)> {
        let mut counts = [0u64; Bucket::ALL.len()];
        for c in self.cases_in(period, now, filter) {
            let b = Bucket::of(as_of(c.facts, now).removal_ms);
            counts[b as usize] += 1;
        }
        Bucket::ALL.into_iter().zip(counts).collect()
    }

    /// The Kaplan–Meier survival curve of the slice (for a "share still online after t"
    /// chart): one step per distinct removal or censoring time.
    pub fn survival_curve(&self, period: &Period, now: Millis, filter: &Filter) -> Vec<Step> {
        let obs: Vec<Observation> = self
            .cases_in(period, now, filter)
            .map(|c| {
                let a = as_of(c.facts, now);
                Observation {
                    millis: a.removal_ms.unwrap_or(a.age_ms),
                    removed: a.removal_ms.is_some(),
                }
            })
            .collect();
        km::survival_curve(&obs)
    }

    /// Whether the case is a repeat (its URL was in an earlier case of the same hoster).
    /// `None` for an unknown case.
    pub fn is_repeat(&self, case_id: i64) -> Option<bool> {
        self.cases
            .iter()
            .find(|c| c.facts.case_id == case_id)
            .map(|c| c.repeat)
    }
}

/// The figures of the slice `filter` in `period`, as of `now`. `cases` is the whole history.
pub fn figures(
    cases: &[CaseFacts],
    notices: &[NoticeFacts],
    participation: &[Participation],
    period: &Period,
    now: Millis,
    filter: &Filter,
) -> Figures {
    Dataset::new(cases, notices, participation).figures(period, now, filter)
}

/// The figures of every hoster in the period; see [`Dataset::per_hoster`].
pub fn per_hoster(
    cases: &[CaseFacts],
    notices: &[NoticeFacts],
    participation: &[Participation],
    period: &Period,
    now: Millis,
    filter: &Filter,
) -> BTreeMap<i64, Figures> {
    Dataset::new(cases, notices, participation).per_hoster(period, now, filter)
}

/// The figures of every category in the period; see [`Dataset::per_category`].
pub fn per_category(
    cases: &[CaseFacts],
    notices: &[NoticeFacts],
    participation: &[Participation],
    period: &Period,
    now: Millis,
    filter: &Filter,
) -> BTreeMap<String, Figures> {
    Dataset::new(cases, notices, participation).per_category(period, now, filter)
}

/// The sector totals in the period: every hoster, every category.
pub fn sector(
    cases: &[CaseFacts],
    notices: &[NoticeFacts],
    participation: &[Participation],
    period: &Period,
    now: Millis,
) -> Figures {
    Dataset::new(cases, notices, participation).sector(period, now)
}

/// The figures per month of `period`; see [`Dataset::monthly`].
pub fn monthly(
    cases: &[CaseFacts],
    notices: &[NoticeFacts],
    participation: &[Participation],
    period: &Period,
    now: Millis,
    filter: &Filter,
) -> Vec<(Month, Figures)> {
    Dataset::new(cases, notices, participation).monthly(period, now, filter)
}

/// The time-to-removal histogram of the slice; see [`Dataset::removal_histogram`].
pub fn removal_histogram(
    cases: &[CaseFacts],
    period: &Period,
    now: Millis,
    filter: &Filter,
) -> Vec<(Bucket, u64)> {
    Dataset::new(cases, &[], &[]).removal_histogram(period, now, filter)
}
