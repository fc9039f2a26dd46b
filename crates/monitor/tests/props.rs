//! Property tests: what must hold for any input.

use lists::Millis;
use monitor::{
    CaseFacts, Figures, Filter, Month, NoticeFacts, NoticeKindLite, Participation, Period, Summary,
    figures, monthly, per_hoster, removal_histogram, sector,
};
use proptest::prelude::*;
use proptest::sample::Index;

const H: i64 = 3_600_000;
/// 2026-01-01T00:00:00Z.
const BASE: i64 = 1_767_225_600_000;

fn arb_case() -> impl Strategy<Value = CaseFacts> {
    (
        1i64..=4,
        0usize..2,
        0u8..6,
        0i64..120 * 24,
        prop::option::of(0i64..200),
        prop::option::of(0i64..100),
        prop::option::of(0i64..150),
        0i64..H,
    )
        .prop_map(
            |(hoster, cat, url, notified_h, removed_h, reminded_h, escalated_h, ms)| {
                // Whole hours mostly (ties between cases), sometimes a few minutes off.
                let jitter = if ms % 4 == 0 { ms } else { 0 };
                let notified = BASE + notified_h * H + jitter;
                CaseFacts {
                    case_id: 0,
                    hoster_id: hoster,
                    category: ["csam", "other"][cat].to_string(),
                    url: format!("https://h{hoster}.example/{url}"),
                    opened_at: Millis(notified - H),
                    notified_at: Millis(notified),
                    removed_at: removed_h.map(|h| Millis(notified + h * H)),
                    reminded_at: reminded_h.map(|h| Millis(notified + h * H)),
                    escalated_at: escalated_h.map(|h| Millis(notified + h * H)),
                }
            },
        )
}

fn arb_cases() -> impl Strategy<Value = Vec<CaseFacts>> {
    prop::collection::vec(arb_case(), 0..40).prop_map(|mut v| {
        for (i, c) in v.iter_mut().enumerate() {
            c.case_id = i as i64 + 1;
        }
        v
    })
}

fn arb_notices() -> impl Strategy<Value = Vec<NoticeFacts>> {
    prop::collection::vec(
        (1i64..=4, 0usize..3, 0i64..130 * 24, 1usize..5).prop_map(|(h, k, at, n)| NoticeFacts {
            hoster_id: h,
            kind: [
                NoticeKindLite::Notice,
                NoticeKindLite::Reminder,
                NoticeKindLite::Escalation,
            ][k],
            sent_at: Millis(BASE + at * H),
            cases: n,
        }),
        0..20,
    )
}

fn arb_participation() -> impl Strategy<Value = Vec<Participation>> {
    prop::collection::vec(
        (
            1i64..=5,
            1u8..=6,
            0u64..1000,
            0u64..10,
            0u64..10,
            any::<bool>(),
        )
            .prop_map(|(h, m, checks, matches, own, scanner)| Participation {
                hoster_id: h,
                month: Month::new(2026, m).unwrap(),
                checks,
                matches,
                removed_own_initiative: own.min(matches),
                scanner,
            }),
        0..12,
    )
}

fn arb_period() -> impl Strategy<Value = Period> {
    prop_oneof![
        (1u8..=5).prop_map(|m| Period::month(2026, m).unwrap()),
        (1u8..=2).prop_map(|q| Period::quarter(2026, q).unwrap()),
        Just(Period::year(2026).unwrap()),
        (0i64..130 * 24, 1i64..60 * 24).prop_map(|(from, len)| {
            Period::custom(Millis(BASE + from * H), Millis(BASE + (from + len) * H)).unwrap()
        }),
    ]
}

fn arb_now() -> impl Strategy<Value = Millis> {
    (0i64..150 * 24, 0i64..H).prop_map(|(h, ms)| Millis(BASE + h * H + ms))
}

/// The counts of a figure, for sums.
fn counts(f: &Figures) -> [u64; 16] {
    [
        f.hosters,
        f.notices,
        f.urls,
        f.removed,
        f.removed_within_24h,
        f.still_online,
        f.undecided_24h,
        f.reminders,
        f.escalations,
        f.repeats,
        f.checks,
        f.matches,
        f.removed_own_initiative,
        f.hosters_using_hash_check,
        f.hosters_using_scanner,
        u64::from(f.uses_hash_check),
    ]
}

fn sum_counts<'a>(fs: impl IntoIterator<Item = &'a Figures>) -> [u64; 16] {
    let mut s = [0; 16];
    for f in fs {
        for (a, b) in s.iter_mut().zip(counts(f)) {
            *a += b;
        }
    }
    s
}

fn check_invariants(f: &Figures) -> Result<(), TestCaseError> {
    if let Some(s) = f.share_within_24h {
        prop_assert!((0.0..=1.0).contains(&s), "share {s}");
    }
    prop_assert_eq!(f.share_within_24h.is_none(), f.urls == f.undecided_24h);
    prop_assert_eq!(f.removed + f.still_online, f.urls);
    prop_assert!(f.removed_within_24h <= f.removed);
    prop_assert!(f.undecided_24h <= f.still_online);
    prop_assert!(f.reminders <= f.urls && f.escalations <= f.urls && f.repeats <= f.urls);
    prop_assert!(f.hosters <= f.urls);
    prop_assert_eq!(f.median_hours.is_some(), f.urls > 0);
    prop_assert_eq!(f.p90_hours.is_some(), f.urls > 0);
    if let (Some(m), Some(p)) = (f.median_hours, f.p90_hours) {
        prop_assert!(m >= 0.0 && m <= p, "median {m} p90 {p}");
    }
    prop_assert!(!f.median_censored || f.p90_censored);
    prop_assert_eq!(f.uses_hash_check, f.checks > 0);
    prop_assert_eq!(f.uses_hash_check, f.hosters_using_hash_check > 0);
    prop_assert_eq!(f.uses_scanner, f.hosters_using_scanner > 0);
    Ok(())
}

/// The time a case is watched for as of `now`: its removal time if removed by then, else
/// its age; `None` when not notified by `now`.
fn observed(c: &CaseFacts, now: Millis) -> Option<(i64, bool)> {
    if c.notified_at > now {
        return None;
    }
    Some(match c.removed_at.filter(|r| *r <= now) {
        Some(r) => ((r.0 - c.notified_at.0).max(0), true),
        None => (now.0 - c.notified_at.0, false),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn shares_stay_in_range_and_counts_add_up(
        cases in arb_cases(),
        notices in arb_notices(),
        part in arb_participation(),
        period in arb_period(),
        now in arb_now(),
    ) {
        check_invariants(&sector(&cases, &notices, &part, &period, now))?;
        for f in per_hoster(&cases, &notices, &part, &period, now, &Filter::all()).values() {
            check_invariants(f)?;
        }
        for (_, f) in monthly(&cases, &notices, &part, &period, now, &Filter::all()) {
            check_invariants(&f)?;
        }
        let f = figures(&cases, &notices, &part, &period, now, &Filter::category("csam"));
        check_invariants(&f)?;
    }

    #[test]
    fn per_hoster_sums_are_the_sector_totals(
        cases in arb_cases(),
        notices in arb_notices(),
        part in arb_participation(),
        period in arb_period(),
        now in arb_now(),
    ) {
        let all = per_hoster(&cases, &notices, &part, &period, now, &Filter::all());
        let s = sector(&cases, &notices, &part, &period, now);
        let mut want = counts(&s);
        // `uses_hash_check` is a yes/no per slice; its sum is the number of hosters using it.
        want[15] = s.hosters_using_hash_check;
        prop_assert_eq!(sum_counts(all.values()), want);
        // Also for one category.
        let cat = Filter::category("other");
        let by = per_hoster(&cases, &notices, &part, &period, now, &cat);
        let f = figures(&cases, &notices, &part, &period, now, &cat);
        prop_assert_eq!(sum_counts(by.values())[2], f.urls);
        prop_assert_eq!(sum_counts(by.values())[9], f.repeats);
    }

    #[test]
    fn months_partition_the_period(
        cases in arb_cases(),
        notices in arb_notices(),
        period in arb_period(),
        now in arb_now(),
    ) {
        let f = figures(&cases, &notices, &[], &period, now, &Filter::all());
        let m = monthly(&cases, &notices, &[], &period, now, &Filter::all());
        prop_assert_eq!(m.len(), period.months().len());
        let summed = sum_counts(m.iter().map(|(_, f)| f));
        // Hosters may be active in several months: compare the case and message counts.
        prop_assert_eq!(&summed[1..10], &counts(&f)[1..10]);
    }

    #[test]
    fn a_case_never_counts_twice(
        cases in arb_cases(),
        period in arb_period(),
        now in arb_now(),
        order in any::<u64>(),
    ) {
        let f = figures(&cases, &[], &[], &period, now, &Filter::all());
        let expected = cases
            .iter()
            .filter(|c| period.contains(c.notified_at) && c.notified_at <= now)
            .count() as u64;
        prop_assert_eq!(f.urls, expected);
        let hist = removal_histogram(&cases, &period, now, &Filter::all());
        prop_assert_eq!(hist.iter().map(|(_, n)| n).sum::<u64>(), f.urls);
        prop_assert_eq!(hist.last().map(|(_, n)| *n), Some(f.still_online));
        // Listing every case again (with other facts) changes nothing: the first listing
        // of a case number is the case.
        let mut doubled = cases.clone();
        doubled.extend(cases.iter().map(|c| CaseFacts {
            removed_at: None,
            hoster_id: c.hoster_id % 4 + 1,
            ..c.clone()
        }));
        prop_assert_eq!(&figures(&doubled, &[], &[], &period, now, &Filter::all()), &f);
        // Nor does the order of the input.
        let mut shuffled = cases.clone();
        let n = shuffled.len();
        if n > 1 {
            let mut x = order;
            for i in (1..n).rev() {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                shuffled.swap(i, (x >> 33) as usize % (i + 1));
            }
        }
        prop_assert_eq!(&figures(&shuffled, &[], &[], &period, now, &Filter::all()), &f);
    }

    #[test]
    fn an_earlier_removal_never_worsens_a_hoster(
        cases in arb_cases(),
        period in arb_period(),
        now in arb_now(),
        pick in any::<Index>(),
        frac in 0u32..=1000,
    ) {
        prop_assume!(!cases.is_empty());
        let i = pick.index(cases.len());
        let c = &cases[i];
        let Some((t_old, _)) = observed(c, now) else { return Ok(()) };
        // The new time to removal: anywhere from 0 to the old one (or, for a case still
        // online, to its age: it is now removed by `now`).
        let t_new = t_old * i64::from(frac) / 1000;
        let mut moved = cases.clone();
        moved[i].removed_at = Some(Millis(c.notified_at.0 + t_new));
        let filter = Filter::hoster(c.hoster_id);
        let before = figures(&cases, &[], &[], &period, now, &filter);
        let after = figures(&moved, &[], &[], &period, now, &filter);
        check_invariants(&after)?;
        prop_assert_eq!(before.urls, after.urls);
        prop_assert!(after.removed >= before.removed);
        prop_assert!(after.removed_within_24h >= before.removed_within_24h);
        if let Some(s) = before.share_within_24h {
            let s2 = after.share_within_24h.expect("judged cases stay judged");
            prop_assert!(s2 >= s - 1e-12, "share {s} -> {s2}");
        }
        // The median and p90 never rise, unless the removal moved past the age of another
        // case still online (the known limit of Kaplan–Meier, see the crate docs).
        let crosses = cases.iter().enumerate().any(|(j, o)| {
            j != i
                && o.hoster_id == c.hoster_id
                && period.contains(o.notified_at)
                && observed(o, now).is_some_and(|(t, removed)| !removed && t_new <= t && t < t_old)
        });
        if !crosses {
            prop_assert!(after.median_hours <= before.median_hours,
                "median {:?} -> {:?}", before.median_hours, after.median_hours);
            prop_assert!(after.p90_hours <= before.p90_hours,
                "p90 {:?} -> {:?}", before.p90_hours, after.p90_hours);
        }
    }

    #[test]
    fn another_hosters_case_changes_nothing_here(
        cases in arb_cases(),
        notices in arb_notices(),
        part in arb_participation(),
        extra in arb_case(),
        period in arb_period(),
        now in arb_now(),
        hoster in 1i64..=4,
        same_url in any::<bool>(),
    ) {
        let mut extra = extra;
        extra.case_id = 1_000;
        extra.hoster_id = hoster % 4 + 1;
        // Even with this hoster's URL: repeats are per hoster.
        if same_url && let Some(c) = cases.iter().find(|c| c.hoster_id == hoster) {
            extra.url = c.url.clone();
        }
        let mut more = cases.clone();
        more.push(extra);
        let filter = Filter::hoster(hoster);
        prop_assert_eq!(
            figures(&cases, &notices, &part, &period, now, &filter),
            figures(&more, &notices, &part, &period, now, &filter)
        );
        let a = per_hoster(&cases, &notices, &part, &period, now, &Filter::all());
        let b = per_hoster(&more, &notices, &part, &period, now, &Filter::all());
        prop_assert_eq!(a.get(&hoster), b.get(&hoster));
    }
}

/// The figures of a [`Summary`] with the quantiles taken out (they may differ by rounding).
fn without_quantiles(mut f: Figures) -> (Figures, Option<f64>, Option<f64>) {
    let (m, p) = (f.median_hours.take(), f.p90_hours.take());
    (f, m, p)
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        // Rounding to the minute moves a time by less than one minute.
        (Some(a), Some(b)) => (a - b).abs() <= 1.0 / 60.0 + 1e-9,
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Grouped to the minute (what the database does), the figures are those of the cases:
    /// every count and share exactly, the median and p90 within a minute.
    #[test]
    fn a_summary_gives_the_figures_of_the_cases(
        cases in arb_cases(),
        notices in arb_notices(),
        part in arb_participation(),
        period in arb_period(),
        now in arb_now(),
        hoster in prop::option::of(1i64..=4),
        category in prop::option::of(prop_oneof![Just("csam".to_string()), Just("other".to_string())]),
    ) {
        let filter = Filter { hoster, category };
        let s = Summary::from_facts(&cases, &notices, &part, &period, now);
        let (a, am, ap) = without_quantiles(s.figures(&filter));
        let (b, bm, bp) = without_quantiles(figures(&cases, &notices, &part, &period, now, &filter));
        prop_assert_eq!(a, b);
        prop_assert!(close(am, bm), "median {:?} vs {:?}", am, bm);
        prop_assert!(close(ap, bp), "p90 {:?} vs {:?}", ap, bp);
        prop_assert_eq!(
            s.removal_histogram(&filter),
            removal_histogram(&cases, &period, now, &filter)
        );
        let grouped: Vec<_> = s.monthly(&filter).into_iter().map(|(m, f)| (m, without_quantiles(f).0)).collect();
        let direct: Vec<_> = monthly(&cases, &notices, &part, &period, now, &filter)
            .into_iter().map(|(m, f)| (m, without_quantiles(f).0)).collect();
        prop_assert_eq!(grouped, direct);
        let grouped: Vec<_> = s.per_hoster(&filter).into_iter().map(|(h, f)| (h, without_quantiles(f).0)).collect();
        let direct: Vec<_> = per_hoster(&cases, &notices, &part, &period, now, &filter)
            .into_iter().map(|(h, f)| (h, without_quantiles(f).0)).collect();
        prop_assert_eq!(grouped, direct);
        prop_assert_eq!(without_quantiles(s.sector()).0, without_quantiles(sector(&cases, &notices, &part, &period, now)).0);
    }
}
