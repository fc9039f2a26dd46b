//! The non-cooperation list: the rules, and what a run of them proposes.
//!
//! The round table's "comply or explain": a hoster that does not remove what it is told
//! about is named publicly, and may publish its explanation beside its name. Naming is
//! serious, so a machine only *proposes*:
//!
//! 1. a **run** evaluates the [`Rules`] over a trailing window (by default the last 90
//!    days) and proposes to list hosters that break a rule and to delist listed hosters that
//!    no longer do ([`propose`]);
//! 2. an analyst **approves** the run (or discards it); only then do listings and delistings
//!    happen, each an event with its actor and time, and each newly listed hoster is e-mailed;
//! 3. a listed hoster may **explain** through the hoster portal; an analyst approves the
//!    explanation before it is published beside the entry.
//!
//! The rules are deliberately few and stated in words on the public page, so a hoster can
//! check its own figures against them.

use crate::facts::Filter;
use crate::stats::Figures;
use crate::summary::Summary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// When a hoster is proposed for the list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    /// The window the figures are taken over, in days up to the run.
    pub window_days: u32,
    /// The share rule applies from this many URLs in the window (a hoster with two notices
    /// is not judged on a share).
    pub min_urls: u64,
    /// Listed when fewer than this share (0–1) of the judged URLs were removed within 24 h.
    pub min_share_24h: f64,
    /// Listed when any URL is still online after its escalation.
    pub escalation_ignored: bool,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            window_days: 90,
            min_urls: 10,
            min_share_24h: 0.5,
            escalation_ignored: true,
        }
    }
}

impl Rules {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), String> {
        if self.window_days == 0 || self.window_days > 3660 {
            return Err(format!(
                "window_days {} must be between 1 and 3660",
                self.window_days
            ));
        }
        if !(0.0..=1.0).contains(&self.min_share_24h) || self.min_share_24h.is_nan() {
            return Err(format!(
                "min_share_24h {} must be between 0 and 1",
                self.min_share_24h
            ));
        }
        Ok(())
    }

    /// The rules in words, for the public page and the e-mail.
    pub fn describe(&self) -> Vec<String> {
        let mut v = vec![format!(
            "At least {} URLs notified in the last {} days, and less than {:.0} % of them removed within 24 hours of the notice.",
            self.min_urls,
            self.window_days,
            self.min_share_24h * 100.0
        )];
        if self.escalation_ignored {
            v.push(format!(
                "Any URL notified in the last {} days still online after the notice was escalated.",
                self.window_days
            ));
        }
        v
    }
}

/// Why a hoster is proposed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Reason {
    /// Too small a share removed within 24 h.
    LowShare {
        /// URLs notified in the window.
        urls: u64,
        /// URLs that can be judged (not undecided).
        judged: u64,
        /// Removed within 24 h.
        within: u64,
        /// The threshold it fell below.
        threshold: f64,
    },
    /// URLs still online after escalation.
    EscalationIgnored {
        /// How many.
        urls: u64,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::LowShare {
                urls,
                judged,
                within,
                threshold,
            } => {
                let share = if *judged > 0 {
                    *within as f64 / *judged as f64 * 100.0
                } else {
                    0.0
                };
                write!(
                    f,
                    "{within} of {judged} judged URLs ({share:.0} %) removed within 24 hours, below {:.0} % ({urls} URLs notified)",
                    threshold * 100.0
                )
            }
            Reason::EscalationIgnored { urls } => {
                write!(f, "{urls} URL(s) still online after escalation")
            }
        }
    }
}

/// What a run proposes for one hoster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalAction {
    /// Put on the list.
    List,
    /// Take off the list: it no longer breaks any rule.
    Delist,
}

impl ProposalAction {
    /// `list` or `delist`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProposalAction::List => "list",
            ProposalAction::Delist => "delist",
        }
    }

    /// Parses [`ProposalAction::as_str`].
    pub fn parse(s: &str) -> Option<ProposalAction> {
        match s {
            "list" => Some(ProposalAction::List),
            "delist" => Some(ProposalAction::Delist),
            _ => None,
        }
    }
}

/// One line of a run's proposal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// The hoster.
    pub hoster_id: i64,
    /// List or delist.
    pub action: ProposalAction,
    /// The rules it breaks (empty for a delisting).
    pub reasons: Vec<Reason>,
    /// Its figures over the window, for the analyst who decides.
    pub figures: Figures,
}

/// Which rules a hoster's figures break.
pub fn reasons(rules: &Rules, f: &Figures, escalated_online: u64) -> Vec<Reason> {
    let mut out = Vec::new();
    let judged = f.urls - f.undecided_24h;
    if f.urls >= rules.min_urls
        && judged > 0
        && (f.removed_within_24h as f64) < rules.min_share_24h * judged as f64
    {
        out.push(Reason::LowShare {
            urls: f.urls,
            judged,
            within: f.removed_within_24h,
            threshold: rules.min_share_24h,
        });
    }
    if rules.escalation_ignored && escalated_online > 0 {
        out.push(Reason::EscalationIgnored {
            urls: escalated_online,
        });
    }
    out
}

/// The proposal of a run over `summary` (the window's figures): list every hoster that breaks
/// a rule and is not `listed` yet, delist every `listed` hoster that breaks none. Hosters
/// already listed that still break a rule stay as they are and are not in the proposal.
/// Ordered by hoster id.
pub fn propose(summary: &Summary, rules: &Rules, listed: &BTreeSet<i64>) -> Vec<Proposal> {
    let all = Filter::all();
    let escalated = summary.escalated_online(&all);
    let mut per = summary.per_hoster(&all);
    for &h in listed {
        per.entry(h).or_default();
    }
    per.into_iter()
        .filter_map(|(hoster_id, figures)| {
            let why = reasons(
                rules,
                &figures,
                escalated.get(&hoster_id).copied().unwrap_or(0),
            );
            let action = match (why.is_empty(), listed.contains(&hoster_id)) {
                (false, false) => ProposalAction::List,
                (true, true) => ProposalAction::Delist,
                _ => return None,
            };
            Some(Proposal {
                hoster_id,
                action,
                reasons: why,
                figures,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::CaseFacts;
    use crate::period::Period;
    use crate::stats::HOUR_MS;
    use lists::Millis;

    fn case(id: i64, hoster: i64, at: i64, removed_after_h: Option<i64>) -> CaseFacts {
        CaseFacts {
            case_id: id,
            hoster_id: hoster,
            category: "csam".into(),
            url: format!("https://h{hoster}.example/{id}"),
            opened_at: Millis(at),
            notified_at: Millis(at),
            removed_at: removed_after_h.map(|h| Millis(at + h * HOUR_MS)),
            reminded_at: None,
            escalated_at: None,
        }
    }

    #[test]
    fn a_slow_hoster_is_proposed_a_fast_one_not_and_a_reformed_one_delisted() {
        let now = Millis(1_000 * 24 * HOUR_MS);
        let period = Period::custom(Millis(now.0 - 90 * 24 * HOUR_MS), Millis(now.0 + 1)).unwrap();
        let at = |d: i64| now.0 - d * 24 * HOUR_MS;
        let mut cases = Vec::new();
        // Hoster 1: 10 URLs, 3 within 24 h: listed (30 % < 50 %).
        for i in 0..10 {
            cases.push(case(i, 1, at(10 + i), Some(if i < 3 { 2 } else { 40 })));
        }
        // Hoster 2: 10 URLs, all within 24 h.
        for i in 10..20 {
            cases.push(case(i, 2, at(10 + i), Some(1)));
        }
        // Hoster 3: only 2 URLs, both late: too few for the share rule; but one was
        // escalated and is still online.
        cases.push(case(20, 3, at(20), Some(50)));
        let mut ignored = case(21, 3, at(21), None);
        ignored.escalated_at = Some(Millis(ignored.notified_at.0 + 72 * HOUR_MS));
        cases.push(ignored);
        let s = Summary::from_facts(&cases, &[], &[], &period, now);
        let listed: BTreeSet<i64> = [2].into();
        let p = propose(&s, &Rules::default(), &listed);
        let got: Vec<(i64, ProposalAction)> = p.iter().map(|p| (p.hoster_id, p.action)).collect();
        assert_eq!(
            got,
            vec![
                (1, ProposalAction::List),
                (2, ProposalAction::Delist),
                (3, ProposalAction::List)
            ]
        );
        assert_eq!(
            p[0].reasons,
            vec![Reason::LowShare {
                urls: 10,
                judged: 10,
                within: 3,
                threshold: 0.5
            }]
        );
        assert_eq!(
            p[0].reasons[0].to_string(),
            "3 of 10 judged URLs (30 %) removed within 24 hours, below 50 % (10 URLs notified)"
        );
        assert_eq!(p[2].reasons, vec![Reason::EscalationIgnored { urls: 1 }]);
        // Without the escalation rule hoster 3 is fine.
        let lenient = Rules {
            escalation_ignored: false,
            ..Rules::default()
        };
        assert!(
            propose(&s, &lenient, &listed)
                .iter()
                .all(|p| p.hoster_id != 3)
        );
    }

    #[test]
    fn exactly_at_the_threshold_is_not_listed() {
        let now = Millis(1_000 * 24 * HOUR_MS);
        let period = Period::custom(Millis(now.0 - 90 * 24 * HOUR_MS), Millis(now.0 + 1)).unwrap();
        let cases: Vec<CaseFacts> = (0..10)
            .map(|i| {
                let at = now.0 - (5 + i) * 24 * HOUR_MS;
                case(i, 1, at, Some(if i < 5 { 24 } else { 25 }))
            })
            .collect();
        let s = Summary::from_facts(&cases, &[], &[], &period, now);
        assert!(propose(&s, &Rules::default(), &BTreeSet::new()).is_empty());
        assert!(Rules::default().validate().is_ok());
        assert!(
            Rules {
                min_share_24h: 1.5,
                ..Rules::default()
            }
            .validate()
            .is_err()
        );
    }
}
