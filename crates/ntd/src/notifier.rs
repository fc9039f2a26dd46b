//! The notice-and-takedown scheduler: one [`Notifier::tick`] plans and queues the due
//! notices, reminders and escalations, sends what is queued, and runs the due re-checks.
//!
//! ```text
//!   actionable case with a party ──plan──▶ notices (queued) ──send──▶ SMTP / webhook
//!                                                                 │ accepted
//!                                                                 ▼
//!   timers on the case: check_at, remind_at, escalate_at ◀── notified_at
//!        │ due                  │ due (still online)      │ due (still online)
//!        ▼                      ▼                          ▼
//!   re-check (HTTP) ──offline──▶ removed (removal time) → closed
//!                        reminder notice            escalation notice + flag
//! ```
//!
//! Everything the tick decides is in the database before anything is sent (see
//! [`crate::takedown`]), so a tick can stop anywhere, run on several replicas at once, and
//! the next one carries on.
//!
//! # Batching and politeness
//!
//! The planner groups due cases by party: a hoster with 300 new actionable URLs gets one
//! notice listing all of them (up to [`Policy::max_cases_per_notice`]), not 300 e-mails.
//! Notices go out [`NotifierConfig::send_concurrency`] at a time. Re-checks run
//! [`NotifierConfig::check_concurrency`] at a time overall and at most
//! [`NotifierConfig::per_host`] at a time per host, so a hoster with thousands of reported
//! URLs is not hammered by its own re-checks.

use crate::CaseStore;
use crate::fetch::{Fetcher, Verdict};
use crate::notice::{self, Hotline, NoticeDoc, NoticeItem, NoticeKind, Template};
use crate::register::{Channel as HosterChannel, Hoster};
use crate::takedown::{
    Channel, CheckDue, CheckRecord, NewNotice, Notice, NoticeStore, Policy, SendOutcome,
};
use lists::{Clock, Millis};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Attempts before a notice is given up on (with [`mail::backoff`], about a day).
pub const MAX_ATTEMPTS: i64 = 30;
/// How long a claimed notice or check is reserved for its worker.
pub const LEASE: Duration = Duration::from_secs(300);
/// Due cases read per planning query: enough that one tick puts all of a hoster's due cases
/// into one message (a later batch would make a second notice to the same hoster).
const PLAN_BATCH: usize = 50_000;

/// Where escalations go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Escalation {
    /// Who it is (an upstream network, the authority): named in the notice.
    pub name: String,
    /// Their address.
    pub email: String,
}

/// How the notifier behaves.
#[derive(Clone, Debug)]
pub struct NotifierConfig {
    /// The timing rules.
    pub policy: Policy,
    /// Who sends the notices.
    pub hotline: Hotline,
    /// The public base URL of the portal (`https://hotline.example`), for links in notices.
    pub portal_base: String,
    /// How long a notice's portal link stays valid.
    pub link_valid: Duration,
    /// Where escalations go; without it, due escalations wait (and are logged).
    pub escalation: Option<Escalation>,
    /// Notices sent at once.
    pub send_concurrency: usize,
    /// Re-checks in flight at once.
    pub check_concurrency: usize,
    /// Re-checks of one host in flight at once.
    pub per_host: usize,
    /// Re-checks claimed per tick.
    pub check_batch: usize,
}

impl Default for NotifierConfig {
    fn default() -> NotifierConfig {
        NotifierConfig {
            policy: Policy::default(),
            hotline: Hotline {
                name: "Schoon hotline".into(),
                email: "hotline@schoon.example".into(),
                website: "https://schoon.example".into(),
            },
            portal_base: "http://127.0.0.1:8080".into(),
            link_valid: Duration::from_secs(30 * 24 * 3600),
            escalation: None,
            send_concurrency: 8,
            check_concurrency: 64,
            per_host: 2,
            check_batch: 20_000,
        }
    }
}

/// What one tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TickReport {
    /// Notices queued (first notices).
    pub notices: usize,
    /// Reminders queued.
    pub reminders: usize,
    /// Escalations queued.
    pub escalations: usize,
    /// Cases those cover.
    pub cases_noticed: usize,
    /// Send attempts (all kinds).
    pub sent: usize,
    /// Attempts that failed.
    pub send_failures: usize,
    /// Re-checks run.
    pub checks: usize,
    /// Of which found the material offline.
    pub offline: usize,
}

/// The scheduler. Cheap to share in an [`Arc`].
#[derive(Debug)]
pub struct Notifier {
    cases: Arc<dyn CaseStore>,
    notices: Arc<dyn NoticeStore>,
    mailer: Option<mail::Mailer>,
    fetcher: Fetcher,
    clock: Arc<dyn Clock>,
    config: NotifierConfig,
}

impl Notifier {
    /// A notifier. Without a mailer, e-mail notices stay queued (webhooks still go).
    pub fn new(
        cases: Arc<dyn CaseStore>,
        notices: Arc<dyn NoticeStore>,
        mailer: Option<mail::Mailer>,
        fetcher: Fetcher,
        clock: Arc<dyn Clock>,
        config: NotifierConfig,
    ) -> Notifier {
        Notifier {
            cases,
            notices,
            mailer,
            fetcher,
            clock,
            config,
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &NotifierConfig {
        &self.config
    }

    /// Plans, sends and re-checks once.
    pub async fn tick(&self) -> crate::Result<TickReport> {
        let started = std::time::Instant::now();
        let mut report = TickReport::default();
        self.plan(&mut report).await?;
        self.send_due(&mut report).await?;
        self.check_due(&mut report).await?;
        // Re-checks may have made reminders moot or escalations due; sending them waits for
        // the next tick, which is seconds away.
        metrics::histogram!("schoon_notice_tick_seconds").record(started.elapsed().as_secs_f64());
        Ok(report)
    }

    /// The signed portal link for a hoster, valid for [`NotifierConfig::link_valid`].
    pub async fn portal_link(&self, hoster_id: i64) -> crate::Result<String> {
        let secret = self.notices.secret("portal").await?;
        let until = Millis(
            self.clock
                .now()
                .0
                .saturating_add(self.config.link_valid.as_millis() as i64),
        );
        let token = notice::portal_token(secret.as_bytes(), hoster_id, until);
        Ok(format!(
            "{}/portal/t/{token}",
            self.config.portal_base.trim_end_matches('/')
        ))
    }

    /// Gives actionable cases whose party attribution found outside the register (an RIR
    /// abuse mailbox) a register entry, so they can be noticed like any other: an entry of
    /// that name, or a new one with the party's abuse addresses (no prefixes or AS numbers:
    /// it never changes how other URLs are attributed). Analysts can edit or merge it later.
    pub async fn adopt_parties(&self) -> crate::Result<usize> {
        let pending = self.notices.unregistered(PLAN_BATCH).await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let mut by_name: HashMap<String, i64> = self
            .cases
            .hosters()
            .await?
            .into_iter()
            .map(|h| (h.name.to_lowercase(), h.id))
            .collect();
        let now = self.clock.now();
        for u in &pending {
            let key = u.party.name.to_lowercase();
            let id = match by_name.get(&key) {
                Some(id) => *id,
                None => {
                    let fields = crate::register::HosterFields {
                        name: u.party.name.clone(),
                        abuse: u.party.abuse.clone(),
                        notes: Some(format!(
                            "added for a notice from the attribution data ({})",
                            u.party.source
                        )),
                        ..Default::default()
                    }
                    .check()?;
                    let h = match self.cases.create_hoster(&fields, "schoon").await {
                        Ok(h) => h,
                        // Another replica added it first.
                        Err(crate::Error::Conflict(_)) => self
                            .cases
                            .hosters()
                            .await?
                            .into_iter()
                            .find(|h| h.name.to_lowercase() == key)
                            .ok_or_else(|| crate::Error::Conflict(format!("hoster {key}")))?,
                        Err(e) => return Err(e),
                    };
                    tracing::info!(hoster = %h.name, "party from the attribution data added to the register");
                    by_name.insert(key, h.id);
                    h.id
                }
            };
            self.notices.adopt_party(u.case_id, id, now).await?;
        }
        Ok(pending.len())
    }

    /// Queues every due notice, reminder and escalation, one message per party.
    pub async fn plan(&self, report: &mut TickReport) -> crate::Result<()> {
        self.adopt_parties().await?;
        let templates: HashMap<NoticeKind, Template> = self
            .notices
            .templates()
            .await?
            .into_iter()
            .map(|t| (t.template.kind, t.template))
            .collect();
        let hosters: HashMap<i64, Hoster> = self
            .cases
            .hosters()
            .await?
            .into_iter()
            .map(|h| (h.id, h))
            .collect();
        for kind in NoticeKind::ALL {
            if kind == NoticeKind::Escalation && self.config.escalation.is_none() {
                continue;
            }
            let now = self.clock.now();
            let due = self.notices.due(kind, now, PLAN_BATCH).await?;
            let mut by_party: BTreeMap<i64, Vec<_>> = BTreeMap::new();
            for d in due {
                by_party.entry(d.hoster_id).or_default().push(d);
            }
            let template = templates
                .get(&kind)
                .cloned()
                .unwrap_or_else(|| notice::default_template(kind));
            for (hoster_id, cases) in by_party {
                let Some(hoster) = hosters.get(&hoster_id) else {
                    continue;
                };
                let Some((channel, recipients)) = self.recipients(kind, hoster) else {
                    tracing::warn!(hoster = %hoster.name, kind = kind.name(), cases = cases.len(),
                        "no abuse contact or webhook in the register: notices wait");
                    continue;
                };
                let link = self.portal_link(hoster_id).await?;
                for chunk in cases.chunks(self.config.policy.max_cases_per_notice.max(1)) {
                    let doc = NoticeDoc {
                        kind,
                        reference: notice::new_notice_reference(),
                        hoster_id,
                        hoster: hoster.name.clone(),
                        recipients: recipients.clone(),
                        sent_at: now,
                        deadline: self.config.policy.remind_at(
                            chunk
                                .iter()
                                .filter_map(|c| c.notified_at)
                                .min()
                                .unwrap_or(now),
                        ),
                        portal_url: link.clone(),
                        hotline: self.config.hotline.clone(),
                        escalated_to: match kind {
                            NoticeKind::Escalation => {
                                self.config.escalation.as_ref().map(|e| e.name.clone())
                            }
                            _ => None,
                        },
                        items: chunk
                            .iter()
                            .map(|c| NoticeItem {
                                case_id: c.case_id,
                                url: c.url.clone(),
                                category: c.category.clone(),
                                reported_at: c.opened_at,
                                addresses: c.addresses.clone(),
                                notified_at: c.notified_at,
                            })
                            .collect(),
                    };
                    let rendered = match notice::render(&template, &doc) {
                        Ok(r) => r,
                        Err(e) => {
                            // A saved template was checked; a failure here is a bug or a
                            // template saved by an older version. Fall back to the built-in.
                            tracing::error!(error = %e, kind = kind.name(), "notice template failed; using the built-in text");
                            notice::render(&notice::default_template(kind), &doc)
                                .map_err(|e| crate::Error::Invalid(e.to_string()))?
                        }
                    };
                    let new = NewNotice {
                        reference: doc.reference.clone(),
                        kind,
                        hoster_id,
                        channel,
                        recipients: recipients.clone(),
                        subject: rendered.subject,
                        body: rendered.text,
                        json: notice::json_part(&doc),
                        case_ids: chunk.iter().map(|c| c.case_id).collect(),
                    };
                    match self.notices.queue_notice(&new, now).await {
                        Ok(_) => {
                            match kind {
                                NoticeKind::Notice => report.notices += 1,
                                NoticeKind::Reminder => report.reminders += 1,
                                NoticeKind::Escalation => report.escalations += 1,
                            }
                            report.cases_noticed += chunk.len();
                            tracing::info!(reference = %new.reference, kind = kind.name(), hoster = %hoster.name, cases = chunk.len(), "notice queued");
                        }
                        Err(crate::Error::Conflict(m)) => {
                            tracing::debug!(reason = %m, "another planner queued this step first");
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(())
    }

    fn recipients(&self, kind: NoticeKind, h: &Hoster) -> Option<(Channel, Vec<String>)> {
        if kind == NoticeKind::Escalation {
            let e = self.config.escalation.as_ref()?;
            return Some((Channel::Email, vec![e.email.clone()]));
        }
        match h.channel {
            HosterChannel::Webhook => {
                let url = h.webhook_url.clone()?;
                Some((Channel::Webhook, vec![url]))
            }
            HosterChannel::Email => {
                if h.abuse.is_empty() {
                    None
                } else {
                    Some((Channel::Email, h.abuse.clone()))
                }
            }
        }
    }

    /// Sends every due queued notice, [`NotifierConfig::send_concurrency`] at a time.
    pub async fn send_due(&self, report: &mut TickReport) -> crate::Result<()> {
        let workers = self.config.send_concurrency.max(1);
        let mut tasks = Vec::new();
        for _ in 0..workers {
            tasks.push(self.send_worker());
        }
        let results = futures_util::future::join_all(tasks).await;
        for r in results {
            let (sent, failed) = r?;
            report.sent += sent;
            report.send_failures += failed;
        }
        Ok(())
    }

    async fn send_worker(&self) -> crate::Result<(usize, usize)> {
        let (mut sent, mut failed) = (0, 0);
        loop {
            let now = self.clock.now();
            let Some(n) = self.notices.claim_notice(now, LEASE).await? else {
                return Ok((sent, failed));
            };
            let outcome = self.send_one(&n).await;
            let kind = n.kind.name();
            match &outcome {
                SendOutcome::Sent(_) => {
                    metrics::counter!("schoon_notices_sent_total", "kind" => kind).increment(1)
                }
                SendOutcome::Retry(..) => {
                    metrics::counter!("schoon_notice_retries_total", "kind" => kind).increment(1)
                }
                SendOutcome::Failed(_) => {
                    metrics::counter!("schoon_notices_failed_total", "kind" => kind).increment(1)
                }
            }
            match &outcome {
                SendOutcome::Sent(id) => {
                    sent += 1;
                    tracing::info!(reference = %n.reference, kind = n.kind.name(), id = %id, "notice sent");
                }
                SendOutcome::Retry(at, e) => {
                    failed += 1;
                    tracing::warn!(reference = %n.reference, error = %e, retry_at = at.0, "notice not sent; will retry");
                }
                SendOutcome::Failed(e) => {
                    failed += 1;
                    tracing::error!(reference = %n.reference, error = %e, "notice failed for good");
                }
            }
            self.notices
                .finish_notice(n.id, self.clock.now(), &outcome, &self.config.policy)
                .await?;
        }
    }

    async fn send_one(&self, n: &Notice) -> SendOutcome {
        let now = self.clock.now();
        let retry = |transient: bool, e: String| {
            if transient && n.attempts + 1 < MAX_ATTEMPTS {
                let wait = mail::backoff(u32::try_from(n.attempts + 1).unwrap_or(u32::MAX));
                SendOutcome::Retry(Millis(now.0.saturating_add(wait.as_millis() as i64)), e)
            } else {
                SendOutcome::Failed(e)
            }
        };
        match n.channel {
            Channel::Email => {
                let Some(mailer) = &self.mailer else {
                    return SendOutcome::Retry(
                        Millis(now.0.saturating_add(LEASE.as_millis() as i64)),
                        "no SMTP server configured".into(),
                    );
                };
                let msg = mail::Message {
                    to: n.recipients.clone(),
                    subject: n.subject.clone(),
                    text: n.body.clone(),
                    json: Some(("notice.json".into(), n.json.clone())),
                    headers: vec![("X-Schoon-Ref".into(), n.reference.clone())],
                    id_local: Some(n.reference.clone()),
                };
                match mailer.send(&msg).await {
                    Ok(id) => SendOutcome::Sent(id),
                    Err(e) => retry(e.is_transient(), e.to_string()),
                }
            }
            Channel::Webhook => {
                let Some(url) = n.recipients.first() else {
                    return SendOutcome::Failed("no webhook URL".into());
                };
                let secret = match self.notices.secret("webhook").await {
                    Ok(s) => s,
                    Err(e) => return retry(true, e.to_string()),
                };
                let secret = webhook_secret(&secret, n.hoster_id);
                let body = n.json.as_bytes();
                let sig = notice::sign_webhook(secret.as_bytes(), now.0 / 1000, body);
                match self
                    .fetcher
                    .post_json(url, body, &[(notice::WEBHOOK_SIGNATURE_HEADER, &sig)])
                    .await
                {
                    Ok(status) if (200..300).contains(&status) => {
                        SendOutcome::Sent(format!("HTTP {status}"))
                    }
                    Ok(status) => retry(
                        status == 429 || status >= 500 || status == 408,
                        format!("webhook answered HTTP {status}"),
                    ),
                    Err(e) => retry(true, e),
                }
            }
        }
    }

    /// Runs every due re-check, politely, and stores the results.
    pub async fn check_due(&self, report: &mut TickReport) -> crate::Result<()> {
        let now = self.clock.now();
        let due = self
            .notices
            .claim_checks(now, self.config.check_batch, LEASE)
            .await?;
        if due.is_empty() {
            return Ok(());
        }
        let overall = Arc::new(Semaphore::new(self.config.check_concurrency.max(1)));
        let mut per_host: HashMap<String, Arc<Semaphore>> = HashMap::new();
        let mut set = tokio::task::JoinSet::new();
        for d in due {
            let host_sem = Arc::clone(
                per_host
                    .entry(d.host.clone())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.config.per_host.max(1)))),
            );
            let overall = Arc::clone(&overall);
            let fetcher = self.fetcher.clone();
            let clock = Arc::clone(&self.clock);
            let policy = self.config.policy.clone();
            set.spawn(async move {
                let _h = host_sem.acquire_owned().await.expect("never closed");
                let _o = overall.acquire_owned().await.expect("never closed");
                let check = fetcher.check(&d.url, d.baseline.as_ref()).await;
                let at = clock.now();
                record(&policy, &d, at, check)
            });
        }
        let mut records = Vec::new();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(rec) => records.push(rec),
                Err(e) => tracing::error!(error = %e, "a re-check task failed"),
            }
        }
        for r in &records {
            metrics::counter!("schoon_rechecks_total", "verdict" => r.check.verdict.name())
                .increment(1);
        }
        report.checks += records.len();
        report.offline += records
            .iter()
            .filter(|r| r.check.verdict == Verdict::Offline)
            .count();
        for chunk in records.chunks(1000) {
            self.notices.save_checks(chunk).await?;
        }
        Ok(())
    }

    /// Ticks every `every` until `stop` turns true.
    pub async fn run(
        self: Arc<Self>,
        every: Duration,
        wake: Arc<tokio::sync::Notify>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            match self.tick().await {
                Ok(r) if r != TickReport::default() => tracing::info!(?r, "notice tick"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "notice tick failed"),
            }
            if *stop.borrow() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = wake.notified() => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// The secret a hoster's webhook verifies [`notice::WEBHOOK_SIGNATURE_HEADER`] with: its own,
/// derived from the hotline's master secret (`NoticeStore::secret("webhook")`) and the
/// register id, so one hoster's secret says nothing about another's, and no per-hoster secret
/// needs storing. `schoon hosters webhook-secret ID` prints it for the hoster.
pub fn webhook_secret(master: &str, hoster_id: i64) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(master.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(format!("schoon-webhook:{hoster_id}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The stored form of a check, with the next one scheduled at the first point of the
/// schedule after `at` (a case whose checks fell behind skips the missed points).
fn record(policy: &Policy, d: &CheckDue, at: Millis, check: crate::fetch::Check) -> CheckRecord {
    let mut k = d.checks + 1;
    let mut next = policy.next_check(d.notified_at, k);
    while next.0 <= at.0 && k < d.checks + 10_000 {
        k += 1;
        next = policy.next_check(d.notified_at, k);
    }
    CheckRecord {
        case_id: d.case_id,
        at,
        check,
        next,
    }
}
