//! Server-side SVG charts for the public transparency pages: pure functions from figures to
//! a `String`, no JavaScript, no I/O.
//!
//! Design:
//!
//! * **Plain strings.** Each function returns one self-contained `<svg>` element to paste
//!   into a page. All text (titles, hoster names, labels) is XML-escaped; numbers carry at
//!   most one decimal.
//! * **Fixed viewBox, fluid size.** Every chart is drawn in a 640-unit-wide viewBox and
//!   carries `width="100%"`, so it scales to its container and keeps its aspect ratio. The
//!   per-hoster chart grows in height with its number of rows.
//! * **Accessible.** The root has `role="img"` and `aria-labelledby` pointing at its
//!   `<title>` and a `<desc>` that sums the chart up in words. Every bar and point has its
//!   own `<title>` tooltip with its exact value, and values are also printed as text, so
//!   nothing depends on colour or hovering alone.
//! * **Colour-blind safe and print friendly.** Colours come from the Okabe–Ito palette
//!   (blue `#0072B2` within the 24-hour norm, orange `#E69F00` later, vermillion `#D55E00`
//!   for reference lines); still-online cases are grey and hatched. A white background, dark
//!   text and dashed (not just coloured) reference lines survive black-and-white printing.
//!   Fonts are the reader's system fonts: nothing is fetched.
//! * **Testable.** The root has `class="chart chart-histogram"` (`chart-share`,
//!   `chart-hosters`); each bar is a `<rect class="bar" data-value="…">`, each point a
//!   `<circle class="point" data-value="…">` (shares as percentages). Ids derive from a
//!   slug of the title plus a short hash, so several charts can share a page.
//! * **Total.** Empty input gives a valid chart saying "No data"; zero counts, shares outside
//!   0..=1 (clamped) and NaN shares (treated as `None`) never panic.

use std::fmt::Write as _;

use serde::Serialize;

use crate::period::Month;
use crate::stats::Bucket;

/// One bar of the removal-time histogram.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistogramBar {
    /// The time-to-removal bucket.
    pub bucket: Bucket,
    /// How many URLs fall in it.
    pub cases: u64,
}

/// One point of the monthly line chart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MonthShare {
    /// The month.
    pub month: Month,
    /// Share removed within 24 h, 0 to 1; `None` (no judged cases) leaves a gap in the line.
    pub share: Option<f64>,
    /// URLs notified in the month.
    pub urls: u64,
}

/// One row of the per-hoster bar chart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HosterShare {
    /// The hoster's display name.
    pub name: String,
    /// Share removed within 24 h, 0 to 1; `None` when no case can be judged.
    pub share: Option<f64>,
    /// URLs notified.
    pub urls: u64,
}

const W: f64 = 640.0;
const INK: &str = "#222";
const GRID: &str = "#d0d0d0";
const BLUE: &str = "#0072B2";
const ORANGE: &str = "#E69F00";
const VERMILLION: &str = "#D55E00";
const MID: &str = r#" text-anchor="middle""#;
const END: &str = r#" text-anchor="end""#;
/// A white outline that keeps a label readable where it crosses lines and dots.
const HALO: &str = r##" paint-order="stroke" stroke="#fff" stroke-width="3""##;
const DASHED: &str = r#" class="reference" stroke-width="1.5" stroke-dasharray="6 4""#;

/// XML-escapes text for element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Not allowed in XML 1.0 at all, even escaped.
            c if c < ' ' && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A number with at most one decimal, without a trailing `.0` or a negative zero.
fn num(x: f64) -> String {
    let s = format!("{x:.1}");
    match s.strip_suffix(".0").unwrap_or(&s) {
        "-0" => "0".to_string(),
        t => t.to_string(),
    }
}

/// A share (0 to 1) as a percentage number, e.g. `84.2`.
fn pct(share: f64) -> String {
    num(share * 100.0)
}

/// NaN becomes `None`, anything else is clamped to 0..=1.
fn clean(share: Option<f64>) -> Option<f64> {
    share.filter(|v| !v.is_nan()).map(|v| v.clamp(0.0, 1.0))
}

fn urls(n: u64) -> String {
    format!("{n} URL{}", if n == 1 { "" } else { "s" })
}

/// `kind-slug-hash`: a valid XML id, short and stable for a title.
fn chart_id(kind: &str, title: &str) -> String {
    let mut id = format!("{kind}-");
    let start = id.len();
    for c in title.chars().flat_map(char::to_lowercase) {
        if id.len() - start >= 24 {
            break;
        } else if c.is_ascii_alphanumeric() {
            id.push(c);
        } else if id.len() > start && !id.ends_with('-') {
            id.push('-');
        }
    }
    if !id.ends_with('-') {
        id.push('-');
    }
    let hash = (title.bytes()).fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let _ = write!(id, "{:04x}", hash & 0xffff);
    id
}

/// Opens the root element with its title, description and background; returns the id.
fn open(out: &mut String, kind: &str, h: f64, title: &str, desc: &str) -> String {
    let id = chart_id(kind, title);
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" width="100%" role="img" aria-labelledby="{id}-title {id}-desc" class="chart chart-{kind}" font-family="system-ui, sans-serif" font-size="12" fill="{INK}"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc><rect width="{W}" height="{h}" fill="#fff"/>"##,
        esc(title),
        esc(desc)
    );
    id
}

fn text(out: &mut String, x: f64, y: f64, attrs: &str, content: &str) {
    let (x, y, content) = (num(x), num(y), esc(content));
    let _ = write!(out, r#"<text x="{x}" y="{y}"{attrs}>{content}</text>"#);
}

fn no_data_text(out: &mut String, x: f64, y: f64) {
    let attrs = r##" text-anchor="middle" class="no-data" font-size="16" fill="#555""##;
    text(out, x, y, attrs, "No data");
}

fn no_data(kind: &str, title: &str, h: f64) -> String {
    let mut out = String::new();
    open(&mut out, kind, h, title, "No data.");
    no_data_text(&mut out, W / 2.0, h / 2.0);
    out + "</svg>"
}

fn line(out: &mut String, (x1, y1, x2, y2): (f64, f64, f64, f64), stroke: &str, attrs: &str) {
    let (x1, y1, x2, y2) = (num(x1), num(y1), num(x2), num(y2));
    let _ = write!(
        out,
        r#"<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{stroke}"{attrs}/>"#
    );
}

/// The reference line's share (cleaned: NaN drops it) and the sentence for the description.
fn reference_of(reference: Option<(&str, f64)>) -> (Option<(&str, f64)>, String) {
    let r = reference.and_then(|(l, s)| clean(Some(s)).map(|s| (l, s)));
    let desc = r.map_or(String::new(), |(l, s)| {
        format!(" Reference: {l} {} %.", pct(s))
    });
    (r, desc)
}

/// A step of 1, 2 or 5 × 10ⁿ (at least 1) and the axis top it gives: 3 to 5 ticks.
fn nice_scale(max: f64) -> (f64, f64) {
    let raw = (max / 4.0).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let step = mag
        * match raw / mag {
            n if n <= 1.0 => 1.0,
            n if n <= 2.0 => 2.0,
            n if n <= 5.0 => 5.0,
            _ => 10.0,
        };
    (step, (max / step).ceil().max(2.0) * step)
}

fn within_norm(b: Bucket) -> bool {
    use Bucket::*;
    matches!(b, UpTo1h | H1To6 | H6To12 | H12To24)
}

/// Removal-time distribution: one bar per [`Bucket`] in the order given; bars within the
/// 24-hour norm (`UpTo1h` to `H12To24`) in blue, later ones in orange, `StillOnline` grey and
/// hatched; a dashed vertical line labelled "24 h norm" between the last bar within the norm
/// and the first later one; a y axis with 3 to 5 nice ticks and the count above each bar.
pub fn removal_histogram(title: &str, bars: &[HistogramBar]) -> String {
    const H: f64 = 340.0;
    const L: f64 = 56.0;
    const RIGHT: f64 = W - 16.0;
    const T: f64 = 40.0;
    const B: f64 = 270.0;
    if bars.is_empty() {
        return no_data("histogram", title, H);
    }
    let sum = |f: &dyn Fn(Bucket) -> bool| -> u128 {
        let it = bars.iter().filter(|b| f(b.bucket));
        it.map(|b| u128::from(b.cases)).sum()
    };
    let total = sum(&|_| true);
    let (ok, online) = (sum(&within_norm), sum(&|b| b == Bucket::StillOnline));
    let late = total - ok - online;
    let desc = format!(
        "Time to removal of {total} URLs: {ok} removed within 24 h, {late} later, {online} still online."
    );
    let mut out = String::new();
    let id = open(&mut out, "histogram", H, title, &desc);
    let hatch = format!("url(#{id}-hatch)");
    let _ = write!(
        out,
        r##"<defs><pattern id="{id}-hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="#e6e6e6"/><path d="M0 0V6" stroke="#777" stroke-width="3"/></pattern></defs>"##
    );
    let max = bars.iter().map(|b| b.cases).max().unwrap_or(0) as f64;
    let (step, top) = nice_scale(max);
    let y = |v: f64| B - v / top * (B - T);
    for k in 0..=(top / step).round().min(10.0) as u32 {
        let v = f64::from(k) * step;
        line(&mut out, (L, y(v), RIGHT, y(v)), GRID, "");
        text(&mut out, L - 6.0, y(v) + 4.0, END, &num(v));
    }
    text(&mut out, 8.0, 22.0, "", "URLs");
    let slot = (RIGHT - L) / bars.len() as f64;
    let bw = slot * 0.7;
    for (i, b) in bars.iter().enumerate() {
        let cx = L + slot * (i as f64 + 0.5);
        let y0 = y(b.cases as f64);
        let (fill, stroke) = match b.bucket {
            Bucket::StillOnline => (hatch.as_str(), "#777"),
            b if within_norm(b) => (BLUE, "none"),
            _ => (ORANGE, "none"),
        };
        let _ = write!(
            out,
            r#"<rect class="bar" data-value="{}" data-bucket="{}" x="{}" y="{}" width="{}" height="{}" fill="{fill}" stroke="{stroke}"><title>{}: {}</title></rect>"#,
            b.cases,
            b.bucket.id(),
            num(cx - bw / 2.0),
            num(y0),
            num(bw),
            num(B - y0),
            esc(b.bucket.label()),
            urls(b.cases)
        );
        let count = r#" text-anchor="middle" class="count""#;
        text(&mut out, cx, y0 - 4.0, count, &b.cases.to_string());
        let label = r#" text-anchor="middle" font-size="11""#;
        text(&mut out, cx, B + 16.0, label, b.bucket.label());
    }
    line(&mut out, (L, B, RIGHT, B), INK, "");
    let last_ok = bars.iter().rposition(|b| within_norm(b.bucket));
    let first_late =
        (bars.iter()).position(|b| !within_norm(b.bucket) && b.bucket != Bucket::StillOnline);
    if let (Some(a), Some(z)) = (last_ok, first_late)
        && a < z
    {
        let x = L + slot * (a + 1) as f64;
        let dash = r#" class="norm" stroke-dasharray="5 4""#;
        line(&mut out, (x, 12.0, x, B), INK, dash);
        text(&mut out, x + 4.0, 22.0, "", "24 h norm");
    }
    if total == 0 {
        no_data_text(&mut out, (L + RIGHT) / 2.0, (T + B) / 2.0);
    }
    let legend = [
        ("within 24 h", BLUE),
        ("after 24 h", ORANGE),
        ("still online", &hatch),
    ];
    for (k, (label, fill)) in legend.into_iter().enumerate() {
        let (x, y) = (L + 130.0 * k as f64, H - 24.0);
        let _ = write!(
            out,
            r##"<rect x="{x}" y="{y}" width="10" height="10" fill="{fill}" stroke="#777"/>"##
        );
        text(&mut out, x + 14.0, y + 9.0, "", label);
    }
    out + "</svg>"
}

/// Which x labels to print: every one up to 12, else every 2nd, 3rd, … and always the first
/// and last (dropping the one just before the last when they would collide).
fn show_label(i: usize, n: usize) -> bool {
    let step = n.div_ceil(12).max(1);
    i == 0 || i + 1 == n || (i.is_multiple_of(step) && n - 1 - i >= step)
}

/// Share removed within 24 h per month: a y axis 0–100 %, a line broken at `None`, a dot per
/// month with a share (tooltip `"2026-03: 84.2 % of 120 URLs"`), month labels (thinned out
/// beyond 12 months, always the first and last) and an optional dashed horizontal reference
/// line (e.g. the sector average) with its label.
pub fn share_per_month(
    title: &str,
    points: &[MonthShare],
    reference: Option<(&str, f64)>,
) -> String {
    const H: f64 = 300.0;
    const L: f64 = 48.0;
    const RIGHT: f64 = W - 16.0;
    const T: f64 = 24.0;
    const B: f64 = 260.0;
    const PAD: f64 = 12.0;
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return no_data("share", title, H);
    };
    let (reference, ref_desc) = reference_of(reference);
    let n = points.len();
    let gaps = points.iter().filter(|p| clean(p.share).is_none()).count();
    let desc = format!(
        "Share of URLs removed within 24 h per month, {} to {}; {gaps} of {n} months without judged cases.{ref_desc}",
        first.month, last.month
    );
    let mut out = String::new();
    open(&mut out, "share", H, title, &desc);
    let x = |i: usize| match n {
        1 => (L + RIGHT) / 2.0,
        _ => L + PAD + i as f64 * (RIGHT - L - 2.0 * PAD) / (n - 1) as f64,
    };
    let y = |s: f64| B - s * (B - T);
    for k in 0..=4 {
        let s = f64::from(k) / 4.0;
        line(&mut out, (L, y(s), RIGHT, y(s)), GRID, "");
        text(&mut out, L - 6.0, y(s) + 4.0, END, &format!("{} %", k * 25));
    }
    let mut run: Vec<String> = Vec::new();
    let flush = |run: &mut Vec<String>, out: &mut String| {
        if run.len() >= 2 {
            let _ = write!(
                out,
                r#"<polyline class="line" points="{}" fill="none" stroke="{BLUE}" stroke-width="2"/>"#,
                run.join(" ")
            );
        }
        run.clear();
    };
    for (i, p) in points.iter().enumerate() {
        match clean(p.share) {
            Some(s) => run.push(format!("{},{}", num(x(i)), num(y(s)))),
            None => flush(&mut run, &mut out),
        }
    }
    flush(&mut run, &mut out);
    for (i, p) in points.iter().enumerate() {
        if let Some(s) = clean(p.share) {
            let _ = write!(
                out,
                r##"<circle class="point" data-value="{v}" data-month="{m}" cx="{}" cy="{}" r="4" fill="{BLUE}" stroke="#fff"><title>{m}: {v} % of {}</title></circle>"##,
                num(x(i)),
                num(y(s)),
                urls(p.urls),
                v = pct(s),
                m = p.month,
            );
        }
        if show_label(i, n) {
            let attrs = r#" text-anchor="middle" class="month" font-size="10""#;
            text(&mut out, x(i), B + 16.0, attrs, &p.month.to_string());
        }
    }
    line(&mut out, (L, B, RIGHT, B), INK, "");
    if let Some((label, s)) = reference {
        line(&mut out, (L, y(s), RIGHT, y(s)), VERMILLION, DASHED);
        let ty = if y(s) - 5.0 < T {
            y(s) + 14.0
        } else {
            y(s) - 5.0
        };
        let label = format!("{label}: {} %", pct(s));
        text(&mut out, RIGHT, ty, &format!("{END}{HALO}"), &label);
    }
    if gaps == n {
        no_data_text(&mut out, (L + RIGHT) / 2.0, (T + B) / 2.0);
    }
    out + "</svg>"
}

/// Horizontal bars, one per hoster in the order given, for the share removed within 24 h
/// (0–100 %): the hoster's name at the left (long names cut with an ellipsis, the full name
/// in a `<title>`), the value at the bar end (`"84 %"`, or `"–"` and no bar for `None`) and
/// an optional dashed vertical reference line (e.g. the sector share). The chart's height
/// grows with the number of rows.
pub fn hoster_shares(title: &str, rows: &[HosterShare], reference: Option<(&str, f64)>) -> String {
    const ROW: f64 = 28.0;
    const L: f64 = 200.0;
    const PW: f64 = W - L - 64.0;
    const T: f64 = 32.0;
    const MAX_NAME: usize = 26;
    if rows.is_empty() {
        return no_data("hosters", title, 120.0);
    }
    let b = T + ROW * rows.len() as f64;
    let (reference, ref_desc) = reference_of(reference);
    let n = rows.len();
    let desc = format!("Share of URLs removed within 24 h for {n} hosters.{ref_desc}");
    let mut out = String::new();
    open(&mut out, "hosters", b + 28.0, title, &desc);
    for k in 0..=4 {
        let x = L + PW * f64::from(k) / 4.0;
        line(&mut out, (x, T, x, b), GRID, "");
        text(&mut out, x, b + 16.0, MID, &format!("{} %", k * 25));
    }
    for (i, r) in rows.iter().enumerate() {
        let cy = T + ROW * (i as f64 + 0.5);
        let short: String = match r.name.chars().count() {
            c if c > MAX_NAME => r.name.chars().take(MAX_NAME - 1).chain(['…']).collect(),
            _ => r.name.clone(),
        };
        let _ = write!(
            out,
            r#"<text class="name" x="{}" y="{}" text-anchor="end"><title>{}</title>{}</text>"#,
            num(L - 8.0),
            num(cy + 4.0),
            esc(&r.name),
            esc(&short)
        );
        let (end, value) = match clean(r.share) {
            Some(s) => {
                let _ = write!(
                    out,
                    r#"<rect class="bar" data-value="{v}" x="{L}" y="{}" width="{}" height="18" fill="{BLUE}"><title>{}: {v} % removed within 24 h ({})</title></rect>"#,
                    num(cy - 9.0),
                    num(s * PW),
                    esc(&r.name),
                    urls(r.urls),
                    v = pct(s),
                );
                (L + s * PW, format!("{} %", pct(s)))
            }
            None => (L, "–".to_string()),
        };
        text(&mut out, end + 6.0, cy + 4.0, r#" class="value""#, &value);
    }
    line(&mut out, (L, T, L, b), INK, "");
    if let Some((label, s)) = reference {
        let x = L + s * PW;
        line(&mut out, (x, T - 8.0, x, b), VERMILLION, DASHED);
        let anchor = match s {
            s if s < 0.2 => "",
            s if s > 0.8 => END,
            _ => MID,
        };
        let label = format!("{label}: {} %", pct(s));
        text(&mut out, x, T - 12.0, &format!("{anchor}{HALO}"), &label);
    }
    out + "</svg>"
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A tiny well-formedness check: one `<svg>` root, start and end tags balance, no raw `<`
    /// or `>` in text or attributes, every `&` starts a known entity, quotes pair up.
    fn check(svg: &str) -> Result<(), String> {
        let entities = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"];
        let entity = |s: &str| {
            (s.match_indices('&')).all(|(i, _)| entities.iter().any(|e| s[i..].starts_with(e)))
        };
        if !svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg""#) {
            return Err("no svg root".into());
        }
        let (mut stack, mut rest, mut roots) = (Vec::new(), svg, 0);
        loop {
            let lt = rest.find('<').unwrap_or(rest.len());
            let txt = &rest[..lt];
            if txt.contains(['>', '\0'])
                || !entity(txt)
                || (stack.is_empty() && !txt.trim().is_empty())
            {
                return Err(format!("bad text {txt:?}"));
            }
            if lt == rest.len() {
                break;
            }
            let gt = lt + rest[lt..].find('>').ok_or("unclosed tag")?;
            let tag = &rest[lt + 1..gt];
            if tag.contains('<') || !entity(tag) || tag.matches('"').count() % 2 != 0 {
                return Err(format!("bad tag {tag:?}"));
            }
            if let Some(name) = tag.strip_prefix('/') {
                if stack.pop() != Some(name) {
                    return Err(format!("unbalanced </{name}>"));
                }
            } else {
                roots += usize::from(stack.is_empty());
                if !tag.ends_with('/') {
                    stack.push(tag.split_whitespace().next().unwrap_or(""));
                }
            }
            rest = &rest[gt + 1..];
        }
        match (stack.is_empty(), roots) {
            (true, 1) => Ok(()),
            _ => Err(format!("open: {stack:?}, roots: {roots}")),
        }
    }

    /// The start tags beginning with `prefix`.
    fn tags<'a>(svg: &'a str, prefix: &str) -> Vec<&'a str> {
        (svg.match_indices(prefix))
            .map(|(i, _)| &svg[i..i + svg[i..].find('>').unwrap()])
            .collect()
    }

    fn attr<'a>(tag: &'a str, name: &str) -> &'a str {
        let i = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        &tag[i..i + tag[i..].find('"').unwrap()]
    }

    fn month(i: usize) -> Month {
        Month::new(2025 + (i / 12) as i32, (i % 12 + 1) as u8).unwrap()
    }

    fn shares(s: &[Option<f64>]) -> Vec<MonthShare> {
        let it = s.iter().enumerate();
        it.map(|(i, &share)| MonthShare {
            month: month(i),
            share,
            urls: 120,
        })
        .collect()
    }

    fn hoster(name: &str, share: Option<f64>) -> HosterShare {
        HosterShare {
            name: name.into(),
            share,
            urls: 3,
        }
    }

    #[test]
    fn escapes_names_and_cuts_long_ones() {
        let name = r#"<b>&"x'"#;
        let svg = hoster_shares(name, &[hoster(name, Some(0.5))], Some((name, 0.4)));
        check(&svg).unwrap();
        assert_eq!(esc(name), "&lt;b&gt;&amp;&quot;x&#39;");
        assert!(!svg.contains("<b>") && svg.matches("&lt;b&gt;&amp;&quot;x&#39;").count() == 6);
        assert!(svg.contains(r#"class="chart chart-hosters""#));
        assert!(svg.contains(r#"aria-labelledby="hosters-b-x-"#));
        let long = "A".repeat(40);
        let svg = hoster_shares("t", &[hoster(&long, None)], None);
        assert!(svg.contains(&format!("<title>{long}</title>{}…</text>", "A".repeat(25))));
        assert!(svg.contains(">–</text>") && !svg.contains(r#"class="bar""#));
    }

    #[test]
    fn histogram_bars_are_proportional() {
        let counts = [5, 10, 20, 0, 3, 1, 0, 7];
        let bars: Vec<_> = (Bucket::ALL.iter().zip(counts))
            .map(|(&bucket, cases)| HistogramBar { bucket, cases })
            .collect();
        let svg = removal_histogram("Hoster 7 — March", &bars);
        check(&svg).unwrap();
        assert!(svg.contains(r#"class="chart chart-histogram""#));
        assert!(svg.contains(">24 h norm</text>") && svg.contains(r#"class="norm""#));
        let rects = tags(&svg, r#"<rect class="bar""#);
        let values: Vec<&str> = rects.iter().map(|t| attr(t, "data-value")).collect();
        assert_eq!(values, counts.map(|c| c.to_string()));
        let height = |t: &str| attr(t, "height").parse::<f64>().unwrap();
        let tallest = rects.iter().map(|t| height(t)).fold(0.0, f64::max);
        assert_eq!(height(rects[2]), tallest);
        for (t, c) in rects.iter().zip(counts) {
            assert!((height(t) - tallest * c as f64 / 20.0).abs() < 0.15, "{t}");
        }
        assert!(attr(rects[7], "fill").starts_with("url(#histogram-hoster-7-march-"));
        assert_eq!(nice_scale(20.0), (5.0, 20.0));
        for max in [0, 1, 3, 7, 20, 99, 1234, u64::MAX] {
            let (step, top) = nice_scale(max as f64);
            assert!(
                (3.0..=5.0).contains(&(top / step + 1.0)) && top >= max as f64,
                "{max}"
            );
        }
    }

    #[test]
    fn gaps_break_the_line() {
        let svg = share_per_month(
            "t",
            &shares(&[Some(0.842), Some(0.5), None, Some(0.6), Some(1.0)]),
            None,
        );
        check(&svg).unwrap();
        assert_eq!(tags(&svg, "<polyline").len(), 2);
        assert_eq!(tags(&svg, r#"<circle class="point""#).len(), 4);
        assert!(svg.contains(r#"data-value="84.2""#));
        assert!(svg.contains("<title>2025-01: 84.2 % of 120 URLs</title>"));
        let points = shares(&[Some(0.1), None, Some(f64::NAN), Some(0.2)]);
        let svg = share_per_month("t", &points, Some(("Sector", 0.7)));
        assert_eq!(tags(&svg, "<polyline").len(), 0);
        assert_eq!(tags(&svg, r#"<circle class="point""#).len(), 2);
        assert!(svg.contains(">Sector: 70 %</text>") && svg.contains(r#"class="reference""#));
    }

    #[test]
    fn thins_month_labels() {
        let labels = |n: usize| {
            let svg = share_per_month("t", &shares(&vec![Some(0.5); n]), None);
            let months = tags(&svg, "<text")
                .into_iter()
                .filter(|t| t.contains("month"));
            months.count()
        };
        assert_eq!(labels(12), 12);
        assert_eq!(labels(30), 10);
        let shown: Vec<usize> = (0..14).filter(|&i| show_label(i, 14)).collect();
        assert_eq!(shown, [0, 2, 4, 6, 8, 10, 13]);
        let svg = share_per_month("t", &shares(&[Some(0.5); 30]), None);
        assert!(svg.contains(">2025-01</text>") && svg.contains(">2027-06</text>"));
    }

    #[test]
    fn empty_and_degenerate_input() {
        for svg in [
            removal_histogram("", &[]),
            share_per_month("", &[], None),
            hoster_shares("", &[], None),
            share_per_month("", &shares(&[None, Some(f64::NAN)]), None),
            removal_histogram(
                "z",
                &[HistogramBar {
                    bucket: Bucket::UpTo1h,
                    cases: 0,
                }],
            ),
        ] {
            check(&svg).unwrap();
            assert!(svg.contains(">No data</text>"), "{svg}");
        }
        let rows = [
            hoster("a", Some(1.7)),
            hoster("b", Some(-0.3)),
            hoster("c", Some(f64::INFINITY)),
        ];
        let svg = hoster_shares("c", &rows, Some(("NaN", f64::NAN)));
        check(&svg).unwrap();
        let v: Vec<_> = tags(&svg, r#"<rect class="bar""#)
            .iter()
            .map(|t| attr(t, "data-value"))
            .collect();
        assert_eq!(v, ["100", "0", "100"]);
        assert!(!svg.contains("reference"));
        assert_eq!(
            (num(0.04), num(-0.04), num(84.25), num(3.0)),
            ("0".into(), "0".into(), "84.2".into(), "3".into())
        );
    }

    fn share() -> impl Strategy<Value = Option<f64>> {
        prop_oneof![
            Just(None),
            any::<f64>().prop_map(Some),
            (0.0..=1.0f64).prop_map(Some)
        ]
    }

    proptest! {
        #[test]
        fn random_input_renders_balanced(
            title in ".{0,30}",
            bars in proptest::collection::vec((0..8usize, any::<u64>()), 0..12),
            months in proptest::collection::vec((share(), any::<u64>()), 0..40),
            rows in proptest::collection::vec((".{0,40}", share(), any::<u64>()), 0..20),
            reference in proptest::option::of(("[a-z<&]{0,10}", any::<f64>())),
        ) {
            let bars: Vec<_> = bars.into_iter().map(|(b, cases)| HistogramBar { bucket: Bucket::ALL[b], cases }).collect();
            let svg = removal_histogram(&title, &bars);
            prop_assert_eq!(check(&svg), Ok(()));
            prop_assert_eq!(tags(&svg, r#"<rect class="bar""#).len(), bars.len());
            let points: Vec<_> = months.into_iter().enumerate()
                .map(|(i, (share, urls))| MonthShare { month: month(i), share, urls }).collect();
            let r = reference.as_ref().map(|(l, s)| (l.as_str(), *s));
            prop_assert_eq!(check(&share_per_month(&title, &points, r)), Ok(()));
            let rows: Vec<_> = rows.into_iter().map(|(name, share, urls)| HosterShare { name, share, urls }).collect();
            let svg = hoster_shares(&title, &rows, r);
            prop_assert_eq!(check(&svg), Ok(()));
            let valued = rows.iter().filter(|r| clean(r.share).is_some()).count();
            prop_assert_eq!(tags(&svg, r#"<rect class="bar""#).len(), valued);
        }
    }
}
