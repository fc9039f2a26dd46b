//! `schoon monitor`: the monitor's figures and the non-cooperation rules from the command
//! line, for operators who script reports or tune the rules before an analyst runs them.

use crate::db::DbArgs;
use anyhow::{Context, Result};
use lists::Millis;
use monitor::{Figures, Filter, Period, Rules};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

/// The monitor: takedown figures per hoster and the non-cooperation rules.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The figures are those of the public page /transparency: URLs notified in the period (a URL
counts in the month of its first notice), removed, the share removed within 24 hours (URLs
still online and younger than 24 hours are left out), the median and 90th-percentile time to
removal (Kaplan-Meier: URLs still online count as censored, '>=' marks a lower bound).

Examples:
  schoon monitor figures --period 2026-Q3
  schoon monitor figures --period 2026-01-01..2026-06-30 --json > h1.json
  schoon monitor rules --min-share 60      # who would be proposed, without saving a run
  schoon monitor rules --save              # a proposal for the analysts (e.g. monthly, from a timer)")]
pub struct MonitorArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    command: MonitorCommand,
}

#[derive(Debug, clap::Subcommand)]
enum MonitorCommand {
    /// The sector's and every hoster's figures for a period.
    Figures {
        /// `2026`, `2026-Q3`, `2026-03` or `2026-01-01..2026-06-30`; default the last 12
        /// months.
        #[arg(long, value_name = "PERIOD")]
        period: Option<String>,
        /// Print JSON (the sector and one object per hoster) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Apply the non-cooperation rules now and print what a run would propose (saved for
    /// the analysts' approval with --save; otherwise nothing is saved).
    Rules {
        /// The window: the days up to now.
        #[arg(long, default_value_t = 90, value_name = "DAYS")]
        window_days: u32,
        /// The share rule applies from this many URLs.
        #[arg(long, default_value_t = 10, value_name = "N")]
        min_urls: u64,
        /// Propose hosters below this share removed within 24 hours.
        #[arg(long, default_value_t = 50.0, value_name = "PERCENT")]
        min_share: f64,
        /// Leave out the rule on URLs still online after escalation.
        #[arg(long)]
        ignore_escalations: bool,
        /// Save the proposal as a run that waits for an analyst's approval at
        /// /ui/monitor/list (nobody is listed or mailed until then). For a monthly timer or
        /// cron job; nothing is saved while an earlier run still waits for a decision.
        #[arg(long)]
        save: bool,
    },
}

fn share(f: &Figures) -> String {
    f.share_within_24h
        .map_or_else(|| "-".into(), |s| format!("{:.1}%", s * 100.0))
}

fn hours(h: Option<f64>, censored: bool) -> String {
    match h {
        None => "-".into(),
        Some(h) if censored => format!(">={h:.1}h"),
        Some(h) => format!("{h:.1}h"),
    }
}

fn row(out: &mut impl Write, name: &str, f: &Figures) -> std::io::Result<()> {
    writeln!(
        out,
        "{name:<28} {:>7} {:>7} {:>8} {:>10} {:>10} {:>7} {:>9}",
        f.urls,
        f.removed,
        share(f),
        hours(f.median_hours, f.median_censored),
        hours(f.p90_hours, f.p90_censored),
        f.still_online,
        f.escalations
    )
}

/// Runs `schoon monitor`.
pub async fn run(args: MonitorArgs) -> Result<()> {
    let stores = args.db.open_stores().await?;
    let now = Millis::now();
    let names: BTreeMap<i64, String> = stores
        .cases
        .hosters()
        .await?
        .into_iter()
        .map(|h| (h.id, h.fields.name))
        .collect();
    let name = |id: &i64| {
        names
            .get(id)
            .cloned()
            .unwrap_or_else(|| format!("hoster {id}"))
    };
    let mut out = std::io::stdout().lock();
    match args.command {
        MonitorCommand::Figures { period, json } => {
            let period = match period {
                Some(p) => p
                    .parse::<Period>()
                    .with_context(|| format!("--period {p:?}"))?,
                None => {
                    let this = monitor::Month::of(now);
                    let mut first = this;
                    for _ in 0..11 {
                        first = first.prev();
                    }
                    Period::custom(first.start(), this.end())?
                }
            };
            let s = stores.monitor.summary(&period, now).await?;
            let per = s.per_hoster(&Filter::all());
            if json {
                let hosters: Vec<serde_json::Value> = per
                    .iter()
                    .map(|(id, f)| {
                        let mut v = serde_json::to_value(f).unwrap_or_default();
                        v["hoster_id"] = (*id).into();
                        v["hoster"] = name(id).into();
                        v
                    })
                    .collect();
                let doc = serde_json::json!({
                    "period": period.slug(),
                    "as_of": now.rfc3339(),
                    "sector": s.sector(),
                    "hosters": hosters,
                });
                writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
            } else {
                writeln!(out, "{} (as of {})\n", period.label(), now.rfc3339())?;
                writeln!(
                    out,
                    "{:<28} {:>7} {:>7} {:>8} {:>10} {:>10} {:>7} {:>9}",
                    "hoster", "urls", "removed", "<=24h", "median", "p90", "online", "escalated"
                )?;
                let mut rows: Vec<_> = per.iter().filter(|(_, f)| f.urls > 0).collect();
                rows.sort_by(|a, b| b.1.urls.cmp(&a.1.urls).then(a.0.cmp(b.0)));
                for (id, f) in rows {
                    row(&mut out, &name(id), f)?;
                }
                row(&mut out, "SECTOR", &s.sector())?;
            }
        }
        MonitorCommand::Rules {
            window_days,
            min_urls,
            min_share,
            ignore_escalations,
            save,
        } => {
            let rules = Rules {
                window_days,
                min_urls,
                min_share_24h: min_share / 100.0,
                escalation_ignored: !ignore_escalations,
            };
            rules.validate().map_err(anyhow::Error::msg)?;
            let window = Period::custom(
                Millis(now.0 - i64::from(window_days) * 86_400_000),
                Millis(now.0 + 1),
            )?;
            let s = stores.monitor.summary(&window, now).await?;
            let listed: BTreeSet<i64> = stores
                .monitor
                .listings(true)
                .await?
                .into_iter()
                .map(|l| l.hoster_id)
                .collect();
            for r in rules.describe() {
                writeln!(out, "rule: {r}")?;
            }
            let proposals = monitor::propose(&s, &rules, &listed);
            if proposals.is_empty() {
                writeln!(
                    out,
                    "\nNo change to the list ({} listed now).",
                    listed.len()
                )?;
            }
            for p in &proposals {
                writeln!(out, "\n{} {}", p.action.as_str(), name(&p.hoster_id))?;
                for why in &p.reasons {
                    writeln!(out, "  - {why}")?;
                }
            }
            if save {
                let waiting = stores
                    .monitor
                    .runs(100)
                    .await?
                    .into_iter()
                    .find(|r| r.status == monitor::store::RunStatus::Proposed);
                if let Some(r) = waiting {
                    writeln!(
                        out,
                        "\nNot saved: run {} of {} still waits for a decision at /ui/monitor/list.",
                        r.id,
                        r.at.rfc3339()
                    )?;
                } else {
                    let run = stores
                        .monitor
                        .save_run(&monitor::store::NewRun {
                            at: now,
                            by: "schoon monitor rules --save".into(),
                            window,
                            rules,
                            proposals,
                        })
                        .await?;
                    writeln!(
                        out,
                        "\nSaved as run {}: an analyst approves or discards it at /ui/monitor/list.",
                        run.id
                    )?;
                }
            }
        }
    }
    Ok(())
}
