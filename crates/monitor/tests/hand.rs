//! Hand-computed figures on small inputs: every field, the period boundaries, the 24-hour
//! boundary, censoring, repeats, participation, and the known limit of the median.

use lists::Millis;
use monitor::{
    Bucket, CaseFacts, Dataset, Figures, Filter, Month, NoticeFacts, NoticeKindLite, Participation,
    Period, figures, monthly, per_category, per_hoster, removal_histogram, sector,
};

const H: i64 = 3_600_000;

fn march() -> Period {
    Period::month(2026, 3).unwrap()
}

/// `d` March 2026 at 00:00 UTC (0 is 28 February, negative days go further back).
fn day(d: i64) -> i64 {
    march().from.0 + (d - 1) * 24 * H
}

fn case(id: i64, hoster: i64, url: &str, notified: i64, removed_after_h: Option<i64>) -> CaseFacts {
    CaseFacts {
        case_id: id,
        hoster_id: hoster,
        category: "csam".into(),
        url: format!("https://h{hoster}.example/{url}"),
        opened_at: Millis(notified - H),
        notified_at: Millis(notified),
        removed_at: removed_after_h.map(|h| Millis(notified + h * H)),
        reminded_at: None,
        escalated_at: None,
    }
}

fn notice(hoster: i64, kind: NoticeKindLite, at: i64, cases: usize) -> NoticeFacts {
    NoticeFacts {
        hoster_id: hoster,
        kind,
        sent_at: Millis(at),
        cases,
    }
}

fn part(
    hoster: i64,
    y: i32,
    m: u8,
    checks: u64,
    matches: u64,
    own: u64,
    scanner: bool,
) -> Participation {
    Participation {
        hoster_id: hoster,
        month: Month::new(y, m).unwrap(),
        checks,
        matches,
        removed_own_initiative: own,
        scanner,
    }
}

/// `now` of the worked example: 31 March 2026, 12:00 UTC.
fn now() -> Millis {
    Millis(day(31) + 12 * H)
}

/// The worked example of the crate documentation, plus a second hoster (8), notices and
/// participation.
fn example() -> (Vec<CaseFacts>, Vec<NoticeFacts>, Vec<Participation>) {
    let now = now().0;
    let mut c = case(4, 7, "c", day(4), Some(30));
    c.reminded_at = Some(Millis(day(5)));
    let mut d = case(5, 7, "d", now - 120 * H, None);
    d.reminded_at = Some(Millis(d.notified_at.0 + 24 * H));
    d.escalated_at = Some(Millis(d.notified_at.0 + 72 * H));
    let mut g = case(11, 8, "g", day(10), Some(1));
    g.category = "other".into();
    let cases = vec![
        case(0, 7, "x", day(-18), Some(5)), // F, 10 February
        case(1, 7, "a", day(2), Some(2)),
        case(2, 7, "x", day(3), Some(10)),
        c,
        d,
        case(6, 7, "e", now - 6 * H, None),
        g,                                   // hoster 8: removed after 1 h
        case(12, 8, "h", day(12), Some(50)), // hoster 8: 50 h
    ];
    let notices = vec![
        notice(7, NoticeKindLite::Notice, day(-18), 1), // February: not counted in March
        notice(7, NoticeKindLite::Notice, day(2), 1),
        notice(7, NoticeKindLite::Notice, day(3), 2), // B and C in one message (say)
        notice(7, NoticeKindLite::Notice, now - 120 * H, 1),
        notice(7, NoticeKindLite::Reminder, day(5), 1), // reminders are not notices
        notice(7, NoticeKindLite::Notice, now - 6 * H, 1),
        notice(7, NoticeKindLite::Notice, now + H, 1), // after now: not yet
        notice(8, NoticeKindLite::Notice, day(10), 2),
    ];
    let participation = vec![
        part(7, 2026, 2, 500, 0, 0, false),
        part(7, 2026, 3, 1200, 3, 3, true),
        part(8, 2026, 3, 0, 0, 0, false),
        part(9, 2026, 3, 40, 1, 1, false), // a hoster without cases that uses the hash check
    ];
    (cases, notices, participation)
}

#[test]
fn worked_example_every_field() {
    let (cases, notices, participation) = example();
    let f = figures(
        &cases,
        &notices,
        &participation,
        &march(),
        now(),
        &Filter::hoster(7),
    );
    // Cases A–E (F is February's). Removed: A (2 h), B (10 h), C (30 h). Online: D, E.
    // Within 24 h: A, B. E online for 6 h: undecided. Share: 2 / (5 − 1) = 0.5.
    // KM: 2 h (n=5, d=1) S=0.8; 6 h E censored; 10 h (n=3) S=0.8·2/3=0.533;
    //     30 h (n=2) S=0.267 ≤ 0.5: median 30 h; 120 h D censored, S > 0.1: p90 ≥ 120 h.
    // Notices: 2, 3, 26 (−120 h) and 31 March (−6 h) = 4; February's, the reminder and the
    // one after now do not count. Participation: March's row only.
    let want = Figures {
        hosters: 1,
        notices: 4,
        urls: 5,
        removed: 3,
        removed_within_24h: 2,
        still_online: 2,
        undecided_24h: 1,
        share_within_24h: Some(0.5),
        median_hours: Some(30.0),
        median_censored: false,
        p90_hours: Some(120.0),
        p90_censored: true,
        reminders: 2,
        escalations: 1,
        repeats: 1,
        checks: 1200,
        matches: 3,
        removed_own_initiative: 3,
        uses_hash_check: true,
        uses_scanner: true,
        hosters_using_hash_check: 1,
        hosters_using_scanner: 1,
    };
    assert_eq!(f, want);
}

#[test]
fn dropping_or_closing_online_cases_would_flatter_the_hoster() {
    let (cases, _, _) = example();
    let now = now();
    // Drop D and E: only removals remain, 2, 10, 30 h → median 10 h.
    let removed_only: Vec<CaseFacts> = cases
        .iter()
        .filter(|c| c.removed_at.is_some())
        .cloned()
        .collect();
    let f = figures(&removed_only, &[], &[], &march(), now, &Filter::hoster(7));
    assert_eq!(f.median_hours, Some(10.0));
    // Pretend D and E were removed at `now`: 2, 6, 10, 30, 120 h → median 10 h.
    let closed: Vec<CaseFacts> = cases
        .iter()
        .map(|c| CaseFacts {
            removed_at: c.removed_at.or(Some(now)),
            ..c.clone()
        })
        .collect();
    let f = figures(&closed, &[], &[], &march(), now, &Filter::hoster(7));
    assert_eq!(f.median_hours, Some(10.0));
    // The honest figure is 30 h.
    let f = figures(&cases, &[], &[], &march(), now, &Filter::hoster(7));
    assert_eq!(f.median_hours, Some(30.0));
}

#[test]
fn sector_per_hoster_and_per_category() {
    let (cases, notices, participation) = example();
    let now = now();
    let by_hoster = per_hoster(
        &cases,
        &notices,
        &participation,
        &march(),
        now,
        &Filter::all(),
    );
    // Hoster 9 has only participation, and still gets a row.
    assert_eq!(by_hoster.keys().copied().collect::<Vec<_>>(), [7, 8, 9]);
    let h8 = &by_hoster[&8];
    // G 1 h, H 50 h: share 1/2; KM: 1 h (n=2) S=1/2: median 1 h; 50 h S=0: p90 50 h.
    assert_eq!((h8.urls, h8.removed, h8.removed_within_24h), (2, 2, 1));
    assert_eq!(h8.share_within_24h, Some(0.5));
    assert_eq!((h8.median_hours, h8.p90_hours), (Some(1.0), Some(50.0)));
    assert!(!h8.median_censored && !h8.p90_censored);
    assert_eq!(h8.notices, 1);
    assert!(!h8.uses_hash_check && !h8.uses_scanner);
    let h9 = &by_hoster[&9];
    assert_eq!((h9.urls, h9.hosters, h9.checks, h9.matches), (0, 0, 40, 1));
    assert!(h9.uses_hash_check);
    assert_eq!(h9.median_hours, None);
    assert_eq!(h9.share_within_24h, None);

    let s = sector(&cases, &notices, &participation, &march(), now);
    // 7 cases; removed 5 (2, 10, 30, 1, 50 h); within 24 h: 2, 10, 1 h = 3; undecided E.
    // Share 3 / (7 − 1) = 0.5.
    // KM over 1, 2 (removed), 6 (online), 10, 30, 50 (removed), 120 (online):
    //   1 h n=7 S=6/7; 2 h n=6 S=5/7; 6 h censored; 10 h n=4 S=5/7·3/4=15/28≈0.536;
    //   30 h n=3 S=15/28·2/3=10/28≈0.357 ≤ 0.5: median 30 h;
    //   50 h n=2 S=10/28·1/2=5/28≈0.179; 120 h censored: p90 ≥ 120 h.
    assert_eq!((s.hosters, s.urls, s.removed, s.still_online), (2, 7, 5, 2));
    assert_eq!((s.removed_within_24h, s.undecided_24h), (3, 1));
    assert_eq!(s.share_within_24h, Some(0.5));
    assert_eq!((s.median_hours, s.median_censored), (Some(30.0), false));
    assert_eq!((s.p90_hours, s.p90_censored), (Some(120.0), true));
    assert_eq!(
        (s.notices, s.reminders, s.escalations, s.repeats),
        (5, 2, 1, 1)
    );
    assert_eq!(
        (s.checks, s.matches, s.removed_own_initiative),
        (1240, 4, 4)
    );
    assert_eq!(
        (s.hosters_using_hash_check, s.hosters_using_scanner),
        (2, 1)
    );

    let by_cat = per_category(
        &cases,
        &notices,
        &participation,
        &march(),
        now,
        &Filter::all(),
    );
    assert_eq!(by_cat.keys().collect::<Vec<_>>(), ["csam", "other"]);
    assert_eq!(by_cat["csam"].urls, 6);
    assert_eq!(by_cat["other"].urls, 1);
    // Messages and participation are not narrowed by category.
    assert_eq!(by_cat["other"].notices, 5);
    assert_eq!(by_cat["other"].checks, 1240);
}

#[test]
fn histogram() {
    let (cases, _, _) = example();
    let h = removal_histogram(&cases, &march(), now(), &Filter::all());
    let counts: Vec<(&str, u64)> = h.iter().map(|(b, n)| (b.id(), *n)).collect();
    // 1 h (G, ≤ 1 h inclusive), 2 h (A), 10 h (B), 30 h (C), 50 h (H); D, E online.
    assert_eq!(
        counts,
        [
            ("0-1h", 1),
            ("1-6h", 1),
            ("6-12h", 1),
            ("12-24h", 0),
            ("24-48h", 1),
            ("48-72h", 1),
            ("72h+", 0),
            ("online", 2),
        ]
    );
    assert_eq!(Bucket::of(Some(24 * H)), Bucket::H12To24);
    assert_eq!(Bucket::of(Some(24 * H + 1)), Bucket::H24To48);
    assert_eq!(Bucket::of(Some(0)), Bucket::UpTo1h);
    assert_eq!(Bucket::of(None).label(), "still online");
    let json = serde_json::to_string(&h[..2]).unwrap();
    assert_eq!(json, r#"[["0-1h",1],["1-6h",1]]"#);
}

#[test]
fn empty_input_is_all_zero() {
    let f = figures(&[], &[], &[], &march(), now(), &Filter::all());
    assert_eq!(f, Figures::default());
    assert_eq!(f.share_within_24h, None);
    assert_eq!(f.median_hours, None);
    assert!(!f.median_censored);
    assert!(per_hoster(&[], &[], &[], &march(), now(), &Filter::all()).is_empty());
    let h = removal_histogram(&[], &march(), now(), &Filter::all());
    assert_eq!(h.len(), 8);
    assert!(h.iter().all(|(_, n)| *n == 0));
    let m = monthly(
        &[],
        &[],
        &[],
        &Period::quarter(2026, 1).unwrap(),
        now(),
        &Filter::all(),
    );
    assert_eq!(m.len(), 3);
    assert!(m.iter().all(|(_, f)| *f == Figures::default()));
}

#[test]
fn a_case_belongs_to_the_period_of_its_notice() {
    let april = Period::month(2026, 4).unwrap();
    let first_of_april = april.from.0;
    let cases = vec![
        case(1, 7, "last-ms-of-march", first_of_april - 1, Some(48)),
        case(2, 7, "first-ms-of-april", first_of_april, Some(1)),
    ];
    let now = Millis(first_of_april + 30 * 24 * H);
    let m = figures(&cases, &[], &[], &march(), now, &Filter::all());
    let a = figures(&cases, &[], &[], &april, now, &Filter::all());
    // The March case was removed in April, but stays a March case.
    assert_eq!((m.urls, m.removed, m.removed_within_24h), (1, 1, 0));
    assert_eq!((a.urls, a.removed, a.removed_within_24h), (1, 1, 1));
    let q1 = figures(
        &cases,
        &[],
        &[],
        &Period::quarter(2026, 1).unwrap(),
        now,
        &Filter::all(),
    );
    assert_eq!(q1.urls, 1);
    let y = figures(
        &cases,
        &[],
        &[],
        &Period::year(2026).unwrap(),
        now,
        &Filter::all(),
    );
    assert_eq!(y.urls, 2);
    // A custom range is half-open too.
    let around = Period::custom(Millis(first_of_april - 1), Millis(first_of_april)).unwrap();
    assert_eq!(
        figures(&cases, &[], &[], &around, now, &Filter::all()).urls,
        1
    );
}

#[test]
fn the_24_hour_boundary() {
    let t0 = day(10);
    let now = Millis(t0 + 24 * H);
    let cases = vec![
        case(1, 7, "exactly-24h", t0, Some(24)), // removed at 24 h: within
        case(2, 7, "online-24h", t0, None),      // online for exactly 24 h: missed the norm
        case(3, 7, "online-24h-minus-1ms", t0 + 1, None), // can still make it: undecided
        case(4, 7, "fast", t0 + 2 * H, Some(1)), // within
    ];
    let f = figures(&cases, &[], &[], &march(), now, &Filter::all());
    assert_eq!(f.removed_within_24h, 2);
    assert_eq!(f.undecided_24h, 1);
    // Share: 2 / (4 − 1).
    assert_eq!(f.share_within_24h, Some(2.0 / 3.0));
    // Only undecided cases: nothing to judge.
    let young = vec![case(5, 7, "young", t0, None)];
    let f = figures(&young, &[], &[], &march(), Millis(t0 + H), &Filter::all());
    assert_eq!((f.urls, f.undecided_24h, f.share_within_24h), (1, 1, None));
    // ... but a censored median: online for 1 h, so at least 1 h.
    assert_eq!((f.median_hours, f.median_censored), (Some(1.0), true));
}

#[test]
fn as_of_now_later_events_have_not_happened() {
    let t0 = day(10);
    let mut c = case(1, 7, "a", t0, Some(30));
    c.reminded_at = Some(Millis(t0 + 25 * H));
    c.escalated_at = Some(Millis(t0 + 72 * H));
    let later = case(2, 7, "b", t0 + 48 * H, Some(1));
    let cases = vec![c, later];
    // At t0 + 26 h: removal (30 h) and escalation still to come, reminder sent, case 2 not
    // yet notified.
    let f = figures(
        &cases,
        &[],
        &[],
        &march(),
        Millis(t0 + 26 * H),
        &Filter::all(),
    );
    assert_eq!((f.urls, f.removed, f.still_online), (1, 0, 1));
    assert_eq!((f.reminders, f.escalations), (1, 0));
    assert_eq!(f.share_within_24h, Some(0.0));
    assert_eq!((f.median_hours, f.median_censored), (Some(26.0), true));
    // A week later all has happened.
    let f = figures(
        &cases,
        &[],
        &[],
        &march(),
        Millis(t0 + 170 * H),
        &Filter::all(),
    );
    assert_eq!(
        (f.urls, f.removed, f.reminders, f.escalations),
        (2, 2, 1, 1)
    );
}

#[test]
fn a_case_listed_twice_counts_once() {
    let a = case(1, 7, "a", day(3), Some(2));
    let mut a_again = a.clone();
    a_again.removed_at = None;
    let cases = vec![a.clone(), a_again, a];
    let f = figures(&cases, &[], &[], &march(), now(), &Filter::all());
    // The first listing is used: removed, not a repeat of itself.
    assert_eq!((f.urls, f.removed, f.repeats), (1, 1, 0));
}

#[test]
fn repeats() {
    let mut other_cat = case(4, 7, "x", day(20), None);
    other_cat.category = "other".into();
    let mut other_hoster = case(3, 8, "x", day(10), Some(1));
    other_hoster.url = "https://h7.example/x".into(); // the same URL, at another hoster
    let cases = vec![
        case(2, 7, "x", day(5), Some(1)), // tie on notified_at: the lower case_id is first
        case(1, 7, "x", day(5), Some(1)),
        other_hoster,
        other_cat,
    ];
    let ds = Dataset::new(&cases, &[], &[]);
    assert_eq!(ds.is_repeat(1), Some(false));
    assert_eq!(ds.is_repeat(2), Some(true));
    assert_eq!(ds.is_repeat(3), Some(false)); // another hoster's case is no history
    assert_eq!(ds.is_repeat(4), Some(true)); // whatever the category
    assert_eq!(ds.is_repeat(99), None);
    // A repeat stays one when the filter hides the earlier case.
    let f = ds.figures(&march(), now(), &Filter::category("other"));
    assert_eq!((f.urls, f.repeats), (1, 1));
    // A repeat of a case from before the period counts in the period.
    let late = Period::custom(Millis(day(15)), march().to).unwrap();
    assert_eq!(ds.figures(&late, now(), &Filter::hoster(7)).repeats, 1);
}

#[test]
fn participation_over_periods() {
    let rows = vec![
        part(7, 2026, 1, 100, 1, 1, false),
        part(7, 2026, 2, 0, 0, 0, true),
        part(7, 2026, 3, 300, 3, 2, false),
        part(7, 2026, 4, 1000, 0, 0, false),
        part(8, 2026, 2, 0, 0, 0, false),
    ];
    let now = Millis(day(200));
    let q1 = figures(
        &[],
        &[],
        &rows,
        &Period::quarter(2026, 1).unwrap(),
        now,
        &Filter::hoster(7),
    );
    assert_eq!(
        (q1.checks, q1.matches, q1.removed_own_initiative),
        (400, 4, 3)
    );
    assert!(q1.uses_hash_check && q1.uses_scanner);
    let feb = figures(
        &[],
        &[],
        &rows,
        &Period::month(2026, 2).unwrap(),
        now,
        &Filter::all(),
    );
    // Scanner on but no checks: uses the scanner, not the hash check.
    assert!(!feb.uses_hash_check && feb.uses_scanner);
    assert_eq!(
        (feb.hosters_using_hash_check, feb.hosters_using_scanner),
        (0, 1)
    );
    // A custom range counts every month it touches: 31 January to 1 March (exclusive).
    let span = Period::custom(Millis(day(-28)), march().from).unwrap();
    assert_eq!(span.months().len(), 2);
    let f = figures(&[], &[], &rows, &span, now, &Filter::hoster(7));
    assert_eq!(f.checks, 100);
}

#[test]
fn monthly_chart() {
    let cases = vec![
        case(1, 7, "a", Period::month(2026, 1).unwrap().from.0, Some(2)),
        case(
            2,
            7,
            "b",
            Period::month(2026, 1).unwrap().from.0 + H,
            Some(30),
        ),
        case(3, 7, "c", Period::month(2026, 3).unwrap().from.0, Some(5)),
    ];
    let q1 = Period::quarter(2026, 1).unwrap();
    let m = monthly(&cases, &[], &[], &q1, now(), &Filter::hoster(7));
    let shares: Vec<(String, Option<f64>)> = m
        .iter()
        .map(|(m, f)| (m.to_string(), f.share_within_24h))
        .collect();
    assert_eq!(
        shares,
        [
            ("2026-01".to_string(), Some(0.5)),
            ("2026-02".to_string(), None),
            ("2026-03".to_string(), Some(1.0)),
        ]
    );
    // A period starting mid-month cuts the first month.
    let from_jan_1_2h = Period::custom(Millis(q1.from.0 + 2 * H), q1.to).unwrap();
    let m = monthly(&cases, &[], &[], &from_jan_1_2h, now(), &Filter::hoster(7));
    assert_eq!(m[0].1.urls, 0);
    assert_eq!(m.len(), 3);
}

#[test]
fn the_median_can_rise_when_a_removal_moves_before_an_online_case() {
    // The known limit in the crate documentation, pinned.
    let t0 = day(10);
    let now = Millis(t0 + 100 * H);
    let online = case(1, 7, "online", now.0 - H, None); // online for 1 h
    let slow = case(2, 7, "slow", t0, Some(10));
    let before = vec![online.clone(), slow.clone(), case(3, 7, "a", t0, Some(2))];
    let mut moved = before.clone();
    moved[2].removed_at = Some(Millis(t0 + H / 2));
    // Before: 1 h censored, n=2 at 2 h: S = 1/2, median 2 h.
    let f = figures(&before, &[], &[], &march(), now, &Filter::all());
    assert_eq!(f.median_hours, Some(2.0));
    // After: 0.5 h n=3: S = 2/3; 1 h censored; 10 h n=1: S = 0: median 10 h.
    let g = figures(&moved, &[], &[], &march(), now, &Filter::all());
    assert_eq!(g.median_hours, Some(10.0));
    // The share within 24 h did not get worse (2/2 both times; the online case is young).
    assert_eq!(f.share_within_24h, g.share_within_24h);
}

#[test]
fn figures_serialise_flat() {
    let (cases, notices, participation) = example();
    let f = figures(
        &cases,
        &notices,
        &participation,
        &march(),
        now(),
        &Filter::hoster(7),
    );
    let json = serde_json::to_value(&f).unwrap();
    assert_eq!(json["share_within_24h"], 0.5);
    assert_eq!(json["median_hours"], 30.0);
    assert_eq!(json["p90_censored"], true);
    let back: Figures = serde_json::from_value(json).unwrap();
    assert_eq!(back, f);
    let empty = serde_json::to_value(Figures::default()).unwrap();
    assert!(empty["median_hours"].is_null());
    let m = monthly(
        &cases,
        &notices,
        &participation,
        &march(),
        now(),
        &Filter::hoster(7),
    );
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json[0][0], "2026-03");
    assert_eq!(json[0][1]["urls"], 5);
}
