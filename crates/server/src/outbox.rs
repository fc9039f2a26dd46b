//! The e-mail outbox sender: one task per replica sends what the database has queued.
//!
//! Mails are queued in the same transaction as the decision that causes them (a flood
//! suspension, a retraction, a dispute), so a crash never loses one. The sender claims one due
//! mail at a time for a lease ([`lists::trust::TrustStore::claim_mail`]): two replicas never
//! send the same mail at once, and a replica killed mid-send leaves it to be claimed again when
//! the lease ends. Transient SMTP failures are retried after [`mail::backoff`]; permanent ones,
//! or [`MAX_ATTEMPTS`] transient ones, mark the mail failed (visible at `GET /v1/outbox`).

use lists::trust::{MailOutcome, OutboxMail};
use lists::{Clock, Millis, Store};
use std::sync::Arc;
use std::time::Duration;

/// Attempts before a mail is given up on (with [`mail::backoff`], about a day).
pub const MAX_ATTEMPTS: u32 = 30;

/// How long a claimed mail is reserved for its sender.
const LEASE: Duration = Duration::from_secs(300);

fn message(m: &OutboxMail) -> mail::Message {
    mail::Message {
        to: m.mail.to.clone(),
        subject: m.mail.subject.clone(),
        text: m.mail.body.clone(),
        json: m
            .mail
            .json
            .as_ref()
            .map(|j| ("schoon.json".to_string(), j.clone())),
        headers: vec![("X-Schoon-Ref".into(), m.mail.reference.clone())],
        id_local: None,
    }
}

/// Sends every due mail once; returns how many were handled.
pub async fn drain(store: &dyn Store, mailer: &mail::Mailer, clock: &dyn Clock) -> usize {
    let mut n = 0;
    loop {
        let now = clock.now();
        let claimed = match store.claim_mail(now, LEASE).await {
            Ok(Some(m)) => m,
            Ok(None) => return n,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the mail outbox");
                return n;
            }
        };
        n += 1;
        let outcome = match mailer.send(&message(&claimed)).await {
            Ok(id) => {
                tracing::info!(reference = %claimed.mail.reference, message_id = %id, "mail sent");
                metrics::counter!("schoon_mail_sent_total").increment(1);
                MailOutcome::Sent
            }
            Err(e) if e.is_transient() && claimed.attempts + 1 < MAX_ATTEMPTS => {
                let wait = mail::backoff(claimed.attempts + 1);
                tracing::warn!(reference = %claimed.mail.reference, error = %e, retry_in_secs = wait.as_secs(), "mail not sent; will retry");
                metrics::counter!("schoon_mail_retries_total").increment(1);
                let at = Millis(now.0.saturating_add(wait.as_millis() as i64));
                MailOutcome::Retry(at, e.to_string())
            }
            Err(e) => {
                tracing::error!(reference = %claimed.mail.reference, error = %e, "mail failed for good");
                metrics::counter!("schoon_mail_failed_total").increment(1);
                MailOutcome::Failed(e.to_string())
            }
        };
        if let Err(e) = store.finish_mail(claimed.id, clock.now(), &outcome).await {
            tracing::error!(error = %e, "cannot record a mail's outcome");
        }
    }
}

/// Runs [`drain`] every `every`, for ever.
pub async fn run(
    store: Arc<dyn Store>,
    mailer: mail::Mailer,
    clock: Arc<dyn Clock>,
    every: Duration,
) {
    loop {
        drain(store.as_ref(), &mailer, clock.as_ref()).await;
        tokio::time::sleep(every).await;
    }
}
