//! The decisions of trust, as operations over a [`Store`]: the flood sweep, retraction,
//! allowlisting an entry, disputes. Each decides what follows (alert, notices, e-mails) and
//! hands it to the store in one transaction; see [`crate::trust`] for the why.

use crate::import::{Mode, Row};
use crate::model::{ListInfo, Millis, Purpose};
use crate::store::{Store, VecSource};
use crate::trust::*;
use crate::{Error, Result};
use index::Key;
use std::time::Duration;

/// When one entry's matches are unusual enough to suspend it.
///
/// A real entry matches the few hosters that hold that one image. A benign image on a list
/// (a CMS default, a theme's header) matches many hosters at once: the 2021 incident. The
/// defaults suspend an entry that matched 20 distinct organisations, or 10,000 checks, within
/// 10 minutes; tune them to the installation's size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FloodRule {
    /// Whether the rule runs at all (matches are recorded either way).
    pub enabled: bool,
    /// The sliding window.
    pub window: Duration,
    /// Distinct organisations in the window that make an entry unusual.
    pub min_orgs: u32,
    /// Matches in the window that make an entry unusual.
    pub min_hits: u32,
    /// How often the sweep runs.
    pub every: Duration,
}

impl Default for FloodRule {
    fn default() -> FloodRule {
        FloodRule {
            enabled: true,
            window: Duration::from_secs(600),
            min_orgs: 20,
            min_hits: 10_000,
            every: Duration::from_secs(5),
        }
    }
}

/// Where alert e-mails go besides the list owner's own address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notify {
    /// Extra recipients of every alert (the operator's list-management desk).
    pub alert_to: Vec<String>,
    /// The server's public base URL, for links in e-mails (e.g. `https://schoon.example`).
    pub base_url: Option<String>,
}

impl Notify {
    fn link(&self, path: &str) -> String {
        match &self.base_url {
            Some(b) => format!("{}{path}", b.trim_end_matches('/')),
            None => path.to_string(),
        }
    }
}

fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{} h", s / 3600)
    } else if s >= 60 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

async fn alert_recipients(store: &dyn Store, list: &ListInfo, notify: &Notify) -> Vec<String> {
    let mut to = Vec::new();
    if let Ok(Some(e)) = store.org_email(list.owner_org_id).await {
        to.push(e);
    }
    for a in &notify.alert_to {
        if !to.contains(a) {
            to.push(a.clone());
        }
    }
    to
}

fn window_start(rule: &FloodRule, now: Millis) -> Millis {
    let window_ms = i64::try_from(rule.window.as_millis()).unwrap_or(i64::MAX);
    Millis(now.0.saturating_sub(window_ms))
}

/// One full run of the flood rule over every match in the window: suspends every active
/// entry whose matches since `now - rule.window` (and since its last status change) reach the
/// rule's thresholds, raises a `flood` alert per entry and queues e-mails to its list's owner
/// and `notify.alert_to`. Returns the suspensions made (none when another replica got there
/// first). [`FloodWatcher`] does the same incrementally.
pub async fn flood_sweep(
    store: &dyn Store,
    rule: &FloodRule,
    notify: &Notify,
    now: Millis,
) -> Result<Vec<EntryEvent>> {
    if !rule.enabled {
        return Ok(Vec::new());
    }
    let found = store
        .flood_candidates(window_start(rule, now), rule.min_orgs, rule.min_hits, &[])
        .await?;
    suspend(store, rule, notify, now, found).await
}

/// Suspends the entries the rule found, with alert and e-mails.
async fn suspend(
    store: &dyn Store,
    rule: &FloodRule,
    notify: &Notify,
    now: Millis,
    found: Vec<FloodCandidate>,
) -> Result<Vec<EntryEvent>> {
    let mut done = Vec::new();
    for c in found {
        let list = store.list(c.list_id).await?;
        let window = fmt_duration(rule.window);
        let message = format!(
            "entry {} of list {} matched {} organisations ({} checks) within {window}; it is suspended until a list manager reinstates or retracts it",
            c.entry_id, list.name, c.orgs, c.hits
        );
        let detail = serde_json::json!({
            "entry_id": c.entry_id, "list_id": c.list_id, "list": list.name,
            "orgs": c.orgs, "hits": c.hits, "window_secs": rule.window.as_secs(),
            "min_orgs": rule.min_orgs, "min_hits": rule.min_hits,
        });
        let to = alert_recipients(store, &list, notify).await;
        let mails = if to.is_empty() {
            Vec::new()
        } else {
            vec![NewMail {
                reference: format!("flood:{}:{}", c.entry_id, now.0),
                to,
                subject: format!(
                    "[Schoon] entry {} of {} suspended by the flood rule",
                    c.entry_id, list.name
                ),
                body: format!(
                    "{message}.\n\nAn entry that matches many unrelated hosters at once is usually a benign image on the list \
                     (a CMS default, a theme image). Checks no longer report it.\n\n\
                     Review it: {}\n\
                     Reinstate:  POST {}/status {{\"status\": \"active\", \"reason\": \"...\"}}\n\
                     Retract:    POST {}/status {{\"status\": \"retracted\", \"reason\": \"...\"}} (hosters that matched it are told)\n\
                     Allowlist:  POST {}/allowlist {{\"allowlist_id\": N, \"reason\": \"...\"}}\n",
                    notify.link(&format!("/v1/lists/{}/entries/{}", c.list_id, c.entry_id)),
                    notify.link(&format!("/v1/lists/{}/entries/{}", c.list_id, c.entry_id)),
                    notify.link(&format!("/v1/lists/{}/entries/{}", c.list_id, c.entry_id)),
                    notify.link(&format!("/v1/lists/{}/entries/{}", c.list_id, c.entry_id)),
                ),
                json: Some(detail.to_string()),
            }]
        };
        let change = StatusChange {
            entry_id: c.entry_id,
            from: vec![EntryStatus::Active],
            to: EntryStatus::Suspended,
            actor: "flood-rule".into(),
            reason: format!(
                "matched {} organisations ({} checks) within {window}",
                c.orgs, c.hits
            ),
            alert: Some(NewAlert {
                kind: "flood".into(),
                list_id: Some(c.list_id),
                entry_id: Some(c.entry_id),
                message,
                detail,
            }),
            retractions: Vec::new(),
            mails,
        };
        if let Some(ev) = store.change_status(&change).await? {
            done.push(ev);
        }
    }
    Ok(done)
}

/// The flood rule, run incrementally: each [`tick`](FloodWatcher::tick) reads only the match
/// records written since the last one (every replica's), keeps per-entry counts in time
/// buckets (a tenth of the window each), and asks the database for the exact count only for
/// entries whose bucketed count reaches a threshold. So the rule costs a check nothing, and a
/// tick costs in proportion to the new matches, not to the window.
#[derive(Debug)]
pub struct FloodWatcher {
    rule: FloodRule,
    notify: Notify,
    /// The last match record read; `None` before the first tick.
    last_id: Option<i64>,
    /// (bucket number, per entry: matches and up to `min_orgs` distinct organisations).
    buckets: std::collections::VecDeque<(i64, BucketCounts)>,
}

/// Per entry id: matches in the bucket, and up to `min_orgs` distinct organisations.
type BucketCounts = std::collections::HashMap<i64, (u32, Vec<i64>)>;

/// Match records read per database round trip.
const HITS_PAGE: u32 = 10_000;

impl FloodWatcher {
    /// A watcher for `rule`.
    pub fn new(rule: FloodRule, notify: Notify) -> FloodWatcher {
        FloodWatcher {
            rule,
            notify,
            last_id: None,
            buckets: std::collections::VecDeque::new(),
        }
    }

    fn bucket_ms(&self) -> i64 {
        (i64::try_from(self.rule.window.as_millis()).unwrap_or(i64::MAX) / 10).max(1000)
    }

    /// Reads the new match records and suspends what the rule finds.
    pub async fn tick(&mut self, store: &dyn Store, now: Millis) -> Result<Vec<EntryEvent>> {
        if !self.rule.enabled {
            return Ok(Vec::new());
        }
        let since = window_start(&self.rule, now);
        let mut last = match self.last_id {
            Some(l) => l,
            None => store.hits_start(since).await?,
        };
        let bucket_ms = self.bucket_ms();
        let cap = self.rule.min_orgs.max(1) as usize;
        let mut touched = std::collections::BTreeSet::new();
        loop {
            let page = store.hits_after(last, HITS_PAGE).await?;
            for h in &page {
                last = h.id;
                if h.allowed || h.at < since {
                    continue;
                }
                let b = h.at.0 / bucket_ms;
                if self.buckets.back().is_none_or(|(n, _)| *n < b) {
                    self.buckets.push_back((b, Default::default()));
                }
                // Records arrive nearly in time order; a late one joins the newest bucket.
                let (_, counts) = self.buckets.back_mut().expect("just pushed");
                let (hits, orgs) = counts.entry(h.entry_id).or_default();
                *hits = hits.saturating_add(1);
                if orgs.len() < cap && !orgs.contains(&h.org_id) {
                    orgs.push(h.org_id);
                }
                touched.insert(h.entry_id);
            }
            if page.len() < HITS_PAGE as usize {
                break;
            }
        }
        self.last_id = Some(last);
        let oldest = since.0 / bucket_ms;
        while self.buckets.front().is_some_and(|(n, _)| *n < oldest) {
            self.buckets.pop_front();
        }
        let min_orgs = if self.rule.min_orgs == 0 {
            usize::MAX
        } else {
            cap
        };
        let min_hits = if self.rule.min_hits == 0 {
            u64::MAX
        } else {
            u64::from(self.rule.min_hits)
        };
        let mut over = Vec::new();
        for entry in touched {
            let mut hits = 0u64;
            let mut orgs: Vec<i64> = Vec::new();
            for (_, counts) in &self.buckets {
                if let Some((h, o)) = counts.get(&entry) {
                    hits += u64::from(*h);
                    for org in o {
                        if orgs.len() < cap && !orgs.contains(org) {
                            orgs.push(*org);
                        }
                    }
                }
            }
            if hits >= min_hits || orgs.len() >= min_orgs {
                over.push(entry);
            }
        }
        if over.is_empty() {
            return Ok(Vec::new());
        }
        let found = store
            .flood_candidates(since, self.rule.min_orgs, self.rule.min_hits, &over)
            .await?;
        suspend(store, &self.rule, &self.notify, now, found).await
    }
}

/// Runs a [`FloodWatcher`] every `rule.every` for ever; `on_suspend` hears of each suspension
/// (to refresh the live index at once), `on_error` of failures.
pub async fn flood_watch(
    store: std::sync::Arc<dyn Store>,
    rule: FloodRule,
    notify: Notify,
    clock: std::sync::Arc<dyn crate::Clock>,
    mut on_suspend: impl FnMut(&EntryEvent) + Send,
    mut on_error: impl FnMut(&Error) + Send,
) {
    if !rule.enabled {
        return;
    }
    let every = rule.every;
    let mut watcher = FloodWatcher::new(rule, notify);
    loop {
        tokio::time::sleep(every).await;
        match watcher.tick(store.as_ref(), clock.now()).await {
            Ok(events) => events.iter().for_each(&mut on_suspend),
            Err(e) => on_error(&e),
        }
    }
}

/// Sets an entry's status by a manager's decision. Retracting goes through [`retract`] (it
/// notifies those who matched); the rest are plain changes. [`Error::Conflict`] if the entry
/// is already in that status.
pub async fn set_status(
    store: &dyn Store,
    entry_id: i64,
    to: EntryStatus,
    actor: &str,
    reason: &str,
) -> Result<EntryEvent> {
    if to == EntryStatus::Retracted {
        return retract(store, entry_id, actor, reason).await;
    }
    if to == EntryStatus::Held {
        return Err(Error::Invalid(
            "entries are held only by an import; suspend it instead".into(),
        ));
    }
    let entry = store.entry(entry_id).await?;
    if entry.removed_version.is_some() {
        return Err(Error::Invalid(format!(
            "entry {entry_id} was removed from its list in version {}",
            entry.removed_version.unwrap_or_default()
        )));
    }
    let change = StatusChange {
        entry_id,
        from: vec![],
        to,
        actor: actor.into(),
        reason: reason.into(),
        alert: None,
        retractions: Vec::new(),
        mails: Vec::new(),
    };
    store
        .change_status(&change)
        .await?
        .ok_or_else(|| Error::Conflict(format!("entry {entry_id} is already {to}")))
}

/// Retracts an entry: it leaves the checks for good, and every organisation whose checks
/// matched it since it was added gets a [`Retraction`] notice (and an e-mail, when its
/// address is known), so it can restore what it removed.
pub async fn retract(
    store: &dyn Store,
    entry_id: i64,
    actor: &str,
    reason: &str,
) -> Result<EntryEvent> {
    let entry = store.entry(entry_id).await?;
    let list = store.list(entry.list_id).await?;
    let orgs = store.hit_orgs(entry_id).await?;
    let retractions = orgs
        .iter()
        .map(|o| NewRetraction {
            org_id: o.org_id,
            first_hit_at: o.first_at,
            last_hit_at: o.last_at,
            hits: o.hits,
        })
        .collect();
    let mails = orgs
        .iter()
        .filter_map(|o| {
            let to = o.email.clone()?;
            Some(NewMail {
                reference: format!("retraction:{entry_id}:{}", o.org_id),
                to: vec![to],
                subject: format!("[Schoon] retraction: an entry of {} was wrong", list.name),
                body: format!(
                    "Dear {},\n\nAn entry of the hash list {} (category {}) was retracted: it should not have been listed.\n\
                     Reason: {reason}\n\n\
                     Your checks matched it {} time(s), from {} to {}. Files you removed or blocked because of these \
                     matches can be restored.\n\n\
                     The hashes you checked that matched are in your retraction notices: GET /v1/retractions with your key.\n",
                    o.name, list.name, list.category, o.hits, o.first_at, o.last_at
                ),
                json: Some(
                    serde_json::json!({
                        "type": "retraction", "list": list.name, "category": list.category,
                        "reason": reason, "hits": o.hits,
                        "first_hit_at": o.first_at.rfc3339(), "last_hit_at": o.last_at.rfc3339(),
                    })
                    .to_string(),
                ),
            })
        })
        .collect();
    let change = StatusChange {
        entry_id,
        from: vec![
            EntryStatus::Active,
            EntryStatus::Held,
            EntryStatus::Suspended,
        ],
        to: EntryStatus::Retracted,
        actor: actor.into(),
        reason: reason.into(),
        alert: None,
        retractions,
        mails,
    };
    store
        .change_status(&change)
        .await?
        .ok_or_else(|| Error::Conflict(format!("entry {entry_id} is already retracted")))
}

/// Puts an entry's hash on an allowlist (a new version of it) and retracts the entry: one
/// step for "this is a benign image, never match it again".
pub async fn allowlist(
    store: &dyn Store,
    entry_id: i64,
    allowlist_id: i64,
    actor: &str,
    reason: &str,
) -> Result<EntryEvent> {
    let entry = store.entry(entry_id).await?;
    let allow = store.list(allowlist_id).await?;
    if allow.purpose != Purpose::Allow {
        return Err(Error::Invalid(format!(
            "list {} is a blocklist; name an allowlist",
            allow.name
        )));
    }
    let from = store.list(entry.list_id).await?;
    if from.purpose == Purpose::Allow {
        return Err(Error::Invalid(format!(
            "entry {entry_id} is on an allowlist already"
        )));
    }
    let row = Row {
        key: entry.key,
        quality: entry.quality,
        ext_ref: Some(format!("{}#{}", from.name, entry_id)),
        confirmations: None,
        hold: None,
    };
    store
        .import(
            allowlist_id,
            Mode::Add,
            actor,
            &format!("allowlisted entry {entry_id} of {}: {reason}", from.name),
            &mut VecSource::new(vec![row]),
        )
        .await?;
    match retract(store, entry_id, actor, &format!("allowlisted: {reason}")).await {
        Err(Error::Conflict(_)) => {
            // Already retracted: the allowlisting was the step left to do.
            store
                .entry_events(entry_id)
                .await?
                .pop()
                .ok_or_else(|| Error::Internal("a retracted entry without events".into()))
        }
        other => other,
    }
}

/// Opens disputes for the entries that this organisation's checks of `query` matched, as the
/// match records say. [`Error::NotFound`] when no match of the hash was ever reported to the
/// organisation (so a dispute cannot be used to probe the lists: only a real check, rate
/// limited and audited, can show a match), and for entries already retracted.
/// [`Error::Conflict`] when the organisation disputed each of them before (one dispute per
/// organisation and entry, so a dispute cannot be used to flood the managers with alerts).
pub async fn open_disputes(
    store: &dyn Store,
    org_id: i64,
    key_id: &str,
    query: &Key,
    reason: &str,
    notify: &Notify,
) -> Result<Vec<Dispute>> {
    let reason = reason.trim();
    if reason.is_empty() || reason.len() > 4000 {
        return Err(Error::Invalid(
            "say why the match is wrong (1-4000 characters)".into(),
        ));
    }
    let mut entries = Vec::new();
    for id in store.matched_entries(org_id, query).await? {
        if store.entry(id).await?.status != EntryStatus::Retracted {
            entries.push(id);
        }
    }
    if entries.is_empty() {
        return Err(Error::NotFound(
            "no match of this hash was reported to your organisation".into(),
        ));
    }
    let mut out = Vec::new();
    for entry_id in entries {
        let entry = store.entry(entry_id).await?;
        let list = store.list(entry.list_id).await?;
        if list.purpose == Purpose::Allow {
            continue;
        }
        let org = store.org(org_id).await?;
        let message = format!(
            "{} disputes a match of entry {entry_id} of list {}: {reason}",
            org.name, list.name
        );
        let to = alert_recipients(store, &list, notify).await;
        let mails: Vec<NewMail> = if to.is_empty() {
            Vec::new()
        } else {
            vec![NewMail {
                reference: format!("dispute:{entry_id}:{org_id}:{}", query.to_hex()),
                to,
                subject: format!(
                    "[Schoon] dispute of entry {entry_id} of {} by {}",
                    list.name, org.name
                ),
                body: format!(
                    "{message}\n\nReview: {}\n",
                    notify.link(&format!("/v1/lists/{}/entries/{entry_id}", list.id))
                ),
                json: None,
            }]
        };
        let d = store
            .create_dispute(
                &NewDispute {
                    org_id,
                    key_id: key_id.into(),
                    entry_id,
                    query: *query,
                    reason: reason.into(),
                },
                &NewAlert {
                    kind: "dispute".into(),
                    list_id: Some(list.id),
                    entry_id: Some(entry_id),
                    message,
                    detail: serde_json::json!({"org_id": org_id, "reason": reason}),
                },
                &mails,
            )
            .await;
        match d {
            Ok(d) => out.push(d),
            // The same organisation disputed this entry before.
            Err(Error::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    if out.is_empty() {
        return Err(Error::Conflict(
            "your organisation has disputed this match before; see GET /v1/disputes".into(),
        ));
    }
    Ok(out)
}

/// What a list manager decides about a dispute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// The entry is right; it stays.
    Reject,
    /// The entry is wrong: retract it.
    Retract,
    /// The entry is a benign image: allowlist it (and retract it).
    Allowlist(i64),
}

/// Resolves a dispute (the caller has checked that `actor` manages the entry's list).
pub async fn resolve_dispute(
    store: &dyn Store,
    id: i64,
    resolution: &Resolution,
    actor: &str,
    note: &str,
) -> Result<Dispute> {
    let d = store.dispute(id).await?;
    if d.status != DisputeStatus::Open {
        return Err(Error::Conflict(format!(
            "dispute {id} is already {}",
            d.status.name()
        )));
    }
    let status = match resolution {
        Resolution::Reject => DisputeStatus::Rejected,
        Resolution::Retract => {
            match retract(store, d.entry_id, actor, &format!("dispute {id}: {note}")).await {
                Ok(_) | Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
            DisputeStatus::Upheld
        }
        Resolution::Allowlist(list) => {
            allowlist(
                store,
                d.entry_id,
                *list,
                actor,
                &format!("dispute {id}: {note}"),
            )
            .await?;
            DisputeStatus::Upheld
        }
    };
    store.resolve_dispute(id, status, actor, note).await
}
