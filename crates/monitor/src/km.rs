//! The Kaplan–Meier estimate of the time-to-removal distribution, and its quantiles.
//!
//! Each case is an [`Observation`]: either its removal time (an *event*) or, for a case still
//! online, how long it has been online so far (*censored*: we know only that its removal time
//! is longer). The survival curve `S(t)` is the estimated share of cases still online `t`
//! after the notice. At every time `t` at which `d` cases were removed, with `n` cases *at
//! risk* (not removed and not censored before `t`):
//!
//! ```text
//! S(t) = S(t-) × (1 − d / n)
//! ```
//!
//! Censored cases never make `S` drop, but they are at risk up to their censoring time, so
//! they hold the curve up for as long as we have watched them. A case censored at the same
//! time as a removal counts as at risk at that time (events first, the usual convention).
//!
//! The *q*-quantile of the removal time (median: q = 0.5, 90th percentile: q = 0.9) is the
//! smallest observed removal time at which `S(t) ≤ 1 − q`. When the curve never gets that low
//! (too many cases still online), the data only say the quantile is *at least* the longest
//! observation: [`quantile`] then returns that time with `censored: true`.
//!
//! With no censoring this is the plain lower empirical quantile: removal times 1, 2, 3, 4 h
//! give `S(2 h) = 0.5`, so a median of 2 h (not the 2.5 h of the textbook mean of the middle
//! pair).
//!
//! The functions take grouped counts ([`Group`]) as well as single observations, so a caller
//! that aggregates in SQL (counts per minute of time to removal) gets the same answer.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Slack for comparing the float survival product with `1 − q` (`0.75 × 2/3` is `0.5` only
/// up to rounding).
const EPS: f64 = 1e-9;

/// One case: how long after the notice it was removed, or has been online so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// Milliseconds from the notice to the removal (or to `now`, when still online).
    pub millis: i64,
    /// `true`: removed at `millis`; `false`: still online, censored at `millis`.
    pub removed: bool,
}

/// Cases that share one observed time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Milliseconds after the notice.
    pub millis: i64,
    /// Cases removed at that time.
    pub removed: u64,
    /// Cases still online, observed for exactly that long.
    pub censored: u64,
}

/// One step of the survival curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Milliseconds after the notice.
    pub millis: i64,
    /// Cases at risk just before: neither removed nor censored earlier.
    pub at_risk: u64,
    /// Cases removed at this time.
    pub removed: u64,
    /// Cases censored at this time.
    pub censored: u64,
    /// The estimated share still online just after this time.
    pub survival: f64,
}

/// A quantile of the removal time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quantile {
    /// Milliseconds after the notice.
    pub millis: i64,
    /// `true` when the curve never fell far enough: the quantile is at least `millis`.
    pub censored: bool,
}

/// The survival curve of single observations.
pub fn survival_curve(obs: &[Observation]) -> Vec<Step> {
    survival_curve_grouped(obs.iter().map(|o| Group {
        millis: o.millis,
        removed: u64::from(o.removed),
        censored: u64::from(!o.removed),
    }))
}

/// The survival curve of grouped counts, in any order (groups of one time are merged). One
/// step per distinct time; times with neither removals nor censorings are left out.
pub fn survival_curve_grouped(groups: impl IntoIterator<Item = Group>) -> Vec<Step> {
    let mut by_time: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    for g in groups {
        let e = by_time.entry(g.millis).or_default();
        e.0 += g.removed;
        e.1 += g.censored;
    }
    by_time.retain(|_, (d, c)| *d + *c > 0);
    let mut at_risk: u64 = by_time.values().map(|(d, c)| d + c).sum();
    let mut survival = 1.0;
    let mut steps = Vec::with_capacity(by_time.len());
    for (millis, (removed, censored)) in by_time {
        if removed > 0 {
            survival *= 1.0 - removed as f64 / at_risk as f64;
        }
        steps.push(Step {
            millis,
            at_risk,
            removed,
            censored,
            survival,
        });
        at_risk -= removed + censored;
    }
    steps
}

/// The `q`-quantile (0 < q ≤ 1) of the removal time from a survival curve: the first removal
/// time with `S(t) ≤ 1 − q`, or the last observed time flagged `censored` when the curve
/// stays above. `None` for an empty curve.
pub fn quantile(curve: &[Step], q: f64) -> Option<Quantile> {
    let last = curve.last()?;
    let found = curve
        .iter()
        .find(|s| s.removed > 0 && s.survival <= 1.0 - q + EPS);
    Some(match found {
        Some(s) => Quantile {
            millis: s.millis,
            censored: false,
        },
        None => Quantile {
            millis: last.millis,
            censored: true,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(list: &[(i64, bool)]) -> Vec<Observation> {
        list.iter()
            .map(|&(millis, removed)| Observation { millis, removed })
            .collect()
    }

    #[test]
    fn empty() {
        assert!(survival_curve(&[]).is_empty());
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn no_censoring_is_the_lower_empirical_quantile() {
        let c = survival_curve(&obs(&[(4, true), (1, true), (3, true), (2, true)]));
        // S: 3/4, 2/4, 1/4, 0.
        let s: Vec<f64> = c.iter().map(|s| s.survival).collect();
        assert_eq!(s, [0.75, 0.5, 0.25, 0.0]);
        assert_eq!(quantile(&c, 0.5).unwrap().millis, 2);
        assert_eq!(quantile(&c, 0.9).unwrap().millis, 4);
    }

    #[test]
    fn censoring_holds_the_curve_up() {
        // Times (h): 1 removed, 2 still online, 3 removed, 4 removed.
        // t=1: n=4, d=1: S = 3/4.
        // t=2: censored, n=3: S stays 3/4.
        // t=3: n=2, d=1: S = 3/4 × 1/2 = 3/8 ≤ 1/2: the median is 3.
        // t=4: n=1, d=1: S = 0: the 90th percentile is 4.
        // Dropping the online case would give 1, 3, 4: a median of 3 here too, but treating
        // it as removed at 2 would give 1, 2, 3, 4 and a median of 2: too fast.
        let c = survival_curve(&obs(&[(1, true), (2, false), (3, true), (4, true)]));
        assert_eq!(c[1].survival, 0.75);
        assert_eq!(c[2].at_risk, 2);
        assert_eq!(c[2].survival, 0.375);
        assert_eq!(
            quantile(&c, 0.5),
            Some(Quantile {
                millis: 3,
                censored: false
            })
        );
        assert_eq!(quantile(&c, 0.9).unwrap().millis, 4);
    }

    #[test]
    fn too_many_online_gives_a_lower_bound() {
        // 1 removed, 5 and 9 still online. S(1) = 2/3 and never falls further.
        let c = survival_curve(&obs(&[(1, true), (5, false), (9, false)]));
        assert_eq!(
            quantile(&c, 0.5),
            Some(Quantile {
                millis: 9,
                censored: true
            })
        );
    }

    #[test]
    fn ties_count_censored_as_at_risk() {
        // At t=2 one removed and one censored: n=2 at t=2 (both at risk), S = 1/2 × ... .
        // t=1: n=3, d=1: S = 2/3. t=2: n=2, d=1: S = 1/3.
        let c = survival_curve(&obs(&[(1, true), (2, true), (2, false)]));
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].at_risk, 2);
        assert!((c[1].survival - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(quantile(&c, 0.5).unwrap().millis, 2);
        // The curve ends above 0.1 (a censored case at the last time): p90 is a lower bound.
        assert_eq!(
            quantile(&c, 0.9),
            Some(Quantile {
                millis: 2,
                censored: true
            })
        );
    }

    #[test]
    fn float_rounding_does_not_miss_an_exact_half() {
        // S = (1 − 1/4)(1 − 1/3) = 1/2 exactly in theory, 0.5000000000000001 in floats.
        let c = survival_curve(&obs(&[(1, true), (2, true), (3, true), (9, true)]));
        assert_eq!(quantile(&c, 0.5).unwrap().millis, 2);
    }

    #[test]
    fn grouped_matches_single() {
        let single = survival_curve(&obs(&[(1, true), (1, true), (2, false), (3, true)]));
        let grouped = survival_curve_grouped([
            Group {
                millis: 3,
                removed: 1,
                censored: 0,
            },
            Group {
                millis: 1,
                removed: 2,
                censored: 0,
            },
            Group {
                millis: 2,
                removed: 0,
                censored: 1,
            },
            Group {
                millis: 7,
                removed: 0,
                censored: 0,
            },
        ]);
        assert_eq!(single, grouped);
    }
}
