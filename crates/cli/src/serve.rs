//! `schoon serve`: the hash-check service.
//!
//! Opens the store, loads every live list entry into the in-memory index, starts the task that
//! follows list changes (its own and other replicas'), and serves the API until SIGINT or
//! SIGTERM; then it drains connections and flushes the audit log.

use crate::db::DbArgs;
use anyhow::{Context, Result};
use index::{HashKind, Key};
use lists::import::{Mode, Row};
use lists::keys::NewKey;
use lists::live::LiveIndex;
use lists::store::VecSource;
use lists::{ApiKey, Category, Millis, NewList, OrgKind, Role, Store};
use scan::filehash::{Options, Perceptual, Worker};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Serve the hash-check API.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  schoon serve                                   # SQLite file ./schoon.db on 127.0.0.1:8080
  schoon serve --demo                            # plus demo lists and a hoster key, with a curl line
  schoon serve --db postgres://schoon@db/schoon --listen 0.0.0.0:8080   # one of several replicas

Every /v1 call needs `Authorization: Bearer <key>`; make the first admin key with
`schoon keys create --org Operator --create-org operator --role admin`.
The API is described at /openapi.json; /healthz needs no key; /metrics needs an admin key
unless --metrics-public.")]
pub struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Address to listen on. Port 0 picks a free port (printed at start).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: SocketAddr,
    /// Create demo organisations, a demo list made from benign test images, and a hoster key
    /// (when the database has no lists yet), and print a ready-to-paste curl check.
    #[arg(long)]
    demo: bool,
    /// Images the demo list is made from.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "testdata/pdq-conformance/images/bridge-mods"
    )]
    demo_images: PathBuf,
    /// Most hashes in one /v1/check request.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    max_batch: usize,
    /// Largest PDQ distance a request may ask for (the default is 31).
    #[arg(long, default_value_t = 40, value_name = "BITS")]
    max_radius: u32,
    /// Hashes per second per key, unless the key has its own rate; 0: no limit.
    #[arg(long, default_value_t = 2000, value_name = "N")]
    rate: u32,
    /// Also write the non-matching hashes of every check to the audit log.
    #[arg(long)]
    audit_all_hashes: bool,
    /// Serve /metrics without a key (for a Prometheus on a private network).
    #[arg(long)]
    metrics_public: bool,
    /// How often to look for list changes when no notification comes (SQLite always polls).
    #[arg(long, default_value = "2", value_name = "SECONDS")]
    poll: f64,
    /// Log format.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(flatten)]
    trust: TrustArgs,
    #[command(flatten)]
    ntd: NtdArgs,
    #[command(flatten)]
    monitor: MonitorArgs,
}

/// Notice and takedown.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Notice and takedown")]
pub struct NtdArgs {
    /// DNS server for attribution, e.g. 192.0.2.53:53 (repeatable); default: the system's
    /// resolvers from /etc/resolv.conf.
    #[arg(long = "dns", value_name = "ADDR")]
    dns: Vec<SocketAddr>,
    /// How long one DNS query may take.
    #[arg(long, default_value = "3", value_name = "SECONDS")]
    dns_timeout: f64,
    /// Reports one client address may file per hour through the public form (0: no limit).
    #[arg(long, default_value_t = 20, value_name = "N")]
    public_reports_per_hour: u32,
    /// Mark the analysts' session cookies Secure (when served over HTTPS or behind a TLS proxy).
    #[arg(long)]
    secure_cookies: bool,
    /// Do not send notices or run re-checks from this process (another replica does, or the
    /// operator wants a read-only instance). Queued notices stay queued.
    #[arg(long)]
    no_notices: bool,
    /// How often the notice scheduler plans notices, sends them and runs due re-checks.
    #[arg(long, default_value = "10", value_name = "SECONDS")]
    notice_every: f64,
    /// The removal norm: a reminder goes to the hoster this long after the notice.
    #[arg(long, default_value = "24", value_name = "HOURS")]
    remind_after: f64,
    /// Escalate this long after the notice when the material is still online.
    #[arg(long, default_value = "72", value_name = "HOURS")]
    escalate_after: f64,
    /// Who escalations go to: "Name <address>" (the upstream network or the authority).
    /// Without it, due escalations wait.
    #[arg(long, value_name = "MAILBOX")]
    escalate_to: Option<String>,
    /// The hotline's name in notices.
    #[arg(long, default_value = "Schoon hotline", value_name = "NAME")]
    hotline_name: String,
    /// Re-checks may fetch loopback addresses (127.0.0.0/8, ::1). For tests and local demos
    /// only: in production a reported URL must never reach this machine's own services.
    #[arg(long)]
    recheck_allow_loopback: bool,
    /// Tests only: the clock is the system clock plus the milliseconds written in this file
    /// (re-read on every use), so a test can move time forward in a running server.
    #[arg(long, value_name = "FILE", hide = true)]
    test_clock_file: Option<std::path::PathBuf>,
}

/// The monitor's non-cooperation rules. A run (an analyst's click, or `POST /v1/monitor/runs`)
/// applies them and proposes; an analyst approves before anyone is listed.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Non-cooperation list")]
pub struct MonitorArgs {
    /// The window a run judges: the days up to the run.
    #[arg(long, default_value_t = 90, value_name = "DAYS")]
    list_window_days: u32,
    /// The share rule applies to hosters with at least this many URLs in the window.
    #[arg(long, default_value_t = 10, value_name = "N")]
    list_min_urls: u64,
    /// Propose hosters that removed less than this share of their URLs within 24 hours.
    #[arg(long, default_value_t = 50.0, value_name = "PERCENT")]
    list_min_share: f64,
    /// Do not propose hosters only because a URL is still online after its escalation.
    #[arg(long)]
    list_ignore_escalations: bool,
}

impl MonitorArgs {
    fn rules(&self) -> anyhow::Result<monitor::Rules> {
        let rules = monitor::Rules {
            window_days: self.list_window_days,
            min_urls: self.list_min_urls,
            min_share_24h: self.list_min_share / 100.0,
            escalation_ignored: !self.list_ignore_escalations,
        };
        rules
            .validate()
            .map_err(|e| anyhow::anyhow!("--list-*: {e}"))?;
        Ok(rules)
    }
}

/// The system clock plus an offset read from a file: lets an end-to-end test move a running
/// server's time (reminders after 24 h, escalations after 72 h) without waiting.
#[derive(Debug)]
struct FileOffsetClock(std::path::PathBuf);

impl lists::Clock for FileOffsetClock {
    fn now(&self) -> lists::Millis {
        let offset = std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0);
        lists::Millis(lists::Millis::now().0.saturating_add(offset))
    }
}

/// `Name <addr>` or a bare address.
fn mailbox(s: &str) -> (String, String) {
    match (s.find('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => {
            let name = s[..a].trim().trim_matches('"').to_string();
            let addr = s[a + 1..b].trim().to_string();
            (if name.is_empty() { addr.clone() } else { name }, addr)
        }
        _ => (s.trim().to_string(), s.trim().to_string()),
    }
}

/// The flood rule and e-mail.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Flood rule and e-mail")]
pub struct TrustArgs {
    /// Turn the flood rule off (matches are still recorded for disputes and retractions).
    #[arg(long)]
    no_flood_rule: bool,
    /// Suspend an entry that matched this many distinct organisations within the window
    /// (0: no organisation threshold).
    #[arg(long, default_value_t = 20, value_name = "N")]
    flood_orgs: u32,
    /// ... or this many checks within the window (0: no such threshold).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    flood_hits: u32,
    /// The flood rule's window.
    #[arg(long, default_value = "600", value_name = "SECONDS")]
    flood_window: f64,
    /// How often the flood rule looks.
    #[arg(long, default_value = "5", value_name = "SECONDS")]
    flood_every: f64,
    /// SMTP server for alerts and notices: smtp://host[:port] (STARTTLS when offered),
    /// smtp+starttls://..., smtps://...; user:password@ before the host if needed. Without it,
    /// mails wait in the outbox (GET /v1/outbox).
    #[arg(long, value_name = "URL", env = "SCHOON_SMTP")]
    smtp: Option<String>,
    /// The From address of Schoon's mails.
    #[arg(long, default_value = "schoon@localhost", value_name = "ADDR")]
    mail_from: String,
    /// Also send every alert to this address (repeatable), besides the list owner's.
    #[arg(long, value_name = "ADDR")]
    alert_to: Vec<String>,
    /// This server's public URL, for links in mails.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
}

fn secs(v: f64) -> Duration {
    Duration::from_secs_f64(v.clamp(0.05, 86_400.0 * 30.0))
}

fn init_logging(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Runs the service until a signal.
pub async fn run(args: ServeArgs) -> Result<()> {
    init_logging(&args.log_format);
    let stores = args.db.open_stores().await?;
    let store = Arc::clone(&stores.lists);
    tracing::info!(backend = store.backend(), "store open");
    let demo_key = if args.demo {
        let key = demo(store.as_ref(), &args.demo_images).await?;
        crate::demo::cases(&args.db.db).await?;
        crate::demo::monitor(&args.db.db, store.as_ref()).await?;
        let analyst = crate::demo::analyst_key(store.as_ref()).await?;
        key.map(|k| (k, analyst))
    } else {
        None
    };

    let started = Instant::now();
    let mut last_log = Instant::now();
    let live = LiveIndex::load(store.as_ref(), |n| {
        if last_log.elapsed() > Duration::from_secs(2) {
            tracing::info!(entries = n, "loading the index");
            last_log = Instant::now();
        }
    })
    .await
    .context("loading the index")?;
    let live = Arc::new(live);
    let snap = live.snapshot();
    tracing::info!(
        entries = snap.index.len(),
        pdq = snap.index.count(HashKind::Pdq),
        memory_mb = snap.index.memory_bytes() >> 20,
        seq = snap.seq,
        secs = format!("{:.1}", started.elapsed().as_secs_f64()),
        "index ready"
    );
    server::record_index_gauges(&live);

    let poll = Duration::from_secs_f64(args.poll.clamp(0.05, 3600.0));
    let follower = tokio::spawn(Arc::clone(&live).follow(
        Arc::clone(&store),
        poll,
        {
            let live = Arc::clone(&live);
            move |n, seq, took| {
                tracing::info!(
                    changes = n,
                    seq,
                    ms = took.as_millis() as u64,
                    "index updated"
                );
                server::record_index_gauges(&live);
            }
        },
        |e| tracing::error!(error = %e, "following list changes failed; retrying"),
    ));

    let config = server::Config {
        max_batch: args.max_batch,
        max_radius: args.max_radius,
        default_rate: args.rate,
        audit_all_hashes: args.audit_all_hashes,
        metrics_public: args.metrics_public,
        flood: lists::curate::FloodRule {
            enabled: !args.trust.no_flood_rule,
            window: secs(args.trust.flood_window),
            min_orgs: args.trust.flood_orgs,
            min_hits: args.trust.flood_hits,
            every: secs(args.trust.flood_every),
        },
        notify: lists::curate::Notify {
            alert_to: args.trust.alert_to.clone(),
            base_url: args.trust.public_url.clone(),
        },
        public_reports_per_hour: args.ntd.public_reports_per_hour,
        secure_cookies: args.ntd.secure_cookies,
        ..server::Config::default()
    };
    let clock: Arc<dyn lists::Clock> = match &args.ntd.test_clock_file {
        Some(p) => Arc::new(FileOffsetClock(p.clone())),
        None => Arc::new(lists::SystemClock),
    };
    let resolver = ntd::dns::Resolver::new(&ntd::dns::DnsConfig {
        servers: args.ntd.dns.clone(),
        timeout: secs(args.ntd.dns_timeout),
        ..ntd::dns::DnsConfig::default()
    })
    .context("setting up the DNS resolver (--dns)")?;
    let engine = Arc::new(ntd::engine::Engine::new(
        Arc::clone(&stores.cases),
        resolver.clone(),
        Arc::clone(&clock),
    ));
    let fetcher = ntd::fetch::Fetcher::new(
        resolver,
        ntd::fetch::FetchConfig {
            allow_loopback: args.ntd.recheck_allow_loopback,
            ..ntd::fetch::FetchConfig::default()
        },
    )
    .context("setting up the re-check HTTP client")?;
    if args.ntd.recheck_allow_loopback {
        tracing::warn!(
            "--recheck-allow-loopback: re-checks may fetch this machine's own services (tests only)"
        );
    }
    let policy = ntd::takedown::Policy {
        norm: Duration::from_secs_f64(args.ntd.remind_after.clamp(0.01, 24.0 * 365.0) * 3600.0),
        escalate_after: Duration::from_secs_f64(
            args.ntd.escalate_after.clamp(0.01, 24.0 * 365.0) * 3600.0,
        ),
        ..ntd::takedown::Policy::default()
    };
    let wake = Arc::new(tokio::sync::Notify::new());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let attribution_task =
        tokio::spawn(Arc::clone(&engine).run(Duration::from_secs(30), Arc::clone(&wake), stop_rx));
    let mailer = match &args.trust.smtp {
        Some(url) => {
            let cfg = mail::SmtpConfig::parse(url, &args.trust.mail_from)
                .context("--smtp / --mail-from")?;
            Some(mail::Mailer::new(cfg).context("setting up SMTP")?)
        }
        None => {
            tracing::info!("no --smtp: alert and notice mails wait in the outbox");
            None
        }
    };
    let outbox_task = mailer.clone().map(|m| {
        tokio::spawn(server::outbox::run(
            Arc::clone(&store),
            m,
            Arc::clone(&clock),
            Duration::from_secs(1),
        ))
    });
    let flood_task = tokio::spawn(lists::curate::flood_watch(
        Arc::clone(&store),
        config.flood.clone(),
        config.notify.clone(),
        Arc::clone(&clock),
        {
            let live = Arc::clone(&live);
            move |ev| {
                tracing::warn!(entry = ev.entry_id, reason = %ev.reason, "flood rule: entry suspended");
                metrics::counter!("schoon_flood_suspensions_total").increment(1);
                live.wake();
            }
        },
        |e| tracing::error!(error = %e, "flood rule failed; retrying"),
    ));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let notify_wake = Arc::new(tokio::sync::Notify::new());
    let notifier = Arc::new(ntd::notifier::Notifier::new(
        Arc::clone(&stores.cases),
        Arc::clone(&stores.notices),
        mailer,
        fetcher,
        Arc::clone(&clock),
        ntd::notifier::NotifierConfig {
            policy: policy.clone(),
            hotline: ntd::notice::Hotline {
                name: args.ntd.hotline_name.clone(),
                email: mailbox(&args.trust.mail_from).1,
                website: args
                    .trust
                    .public_url
                    .clone()
                    .unwrap_or_else(|| format!("http://{addr}")),
            },
            portal_base: args
                .trust
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{addr}")),
            escalation: args.ntd.escalate_to.as_deref().map(|s| {
                let (name, email) = mailbox(s);
                ntd::notifier::Escalation { name, email }
            }),
            ..ntd::notifier::NotifierConfig::default()
        },
    ));
    let notice_task = if args.ntd.no_notices {
        tracing::info!("--no-notices: this process sends no notices and runs no re-checks");
        None
    } else if args.demo && args.trust.smtp.is_none() {
        // The demo's hosts are fictitious (.example): re-checks would find every one "gone"
        // and close the cases, and notices could go nowhere.
        tracing::info!("demo without --smtp: no notices are sent and no re-checks run");
        None
    } else {
        Some(tokio::spawn(Arc::clone(&notifier).run(
            secs(args.ntd.notice_every),
            Arc::clone(&notify_wake),
            stop_tx.subscribe(),
        )))
    };
    let (state, audit_writer) = server::AppState::new(
        Arc::clone(&store),
        server::NtdParts {
            cases: Arc::clone(&stores.cases),
            engine,
            wake,
            notices: Arc::clone(&stores.notices),
            clock: Arc::clone(&clock),
            policy,
            notify_wake,
            monitor: Arc::clone(&stores.monitor),
            rules: args.monitor.rules()?,
            hotline_name: args.ntd.hotline_name.clone(),
            portal_base: args
                .trust
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{addr}")),
        },
        live,
        config,
    );
    // The line tests and scripts wait for.
    println!("schoon: listening on http://{addr}");
    if let Some(((token, pdq, sample), analyst)) = demo_key {
        println!(
            "\nNotice and takedown: report a URL at http://{addr}/report (no account);\nanalysts sign in at http://{addr}/ui/login with this key:\n\n  {analyst}\n"
        );
        println!(
            "\nTry a check (a PDQ hash 4 bits away from a demo image):\n\n  curl -s http://{addr}/v1/check \\\n    -H 'Authorization: Bearer {token}' \\\n    -H 'Content-Type: application/json' \\\n    -d '{{\"hashes\": [{{\"type\": \"pdq\", \"value\": \"{pdq}\"}}]}}'\n\nor send an image:\n\n  curl -s http://{addr}/v1/check/image -H 'Authorization: Bearer {token}' --data-binary @{}\n",
            sample.display()
        );
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();

    server::serve(listener, state, shutdown_signal())
        .await
        .context("serving")?;
    follower.abort();
    flood_task.abort();
    let _ = stop_tx.send(true);
    attribution_task.abort();
    if let Some(t) = notice_task {
        t.abort();
    }
    if let Some(t) = outbox_task {
        t.abort();
    }
    tracing::info!("stopped accepting; flushing the audit log");
    audit_writer.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Sets up the demo (once per database) and returns a fresh hoster key with a PDQ hash near
/// a demo image.
async fn demo(store: &dyn Store, images: &Path) -> Result<Option<(String, String, PathBuf)>> {
    let org = match store.org_by_name("Demo Police").await {
        Ok(o) => o,
        Err(_) => store.create_org("Demo Police", OrgKind::Police).await?,
    };
    let hoster = match store.org_by_name("Demo Hoster").await {
        Ok(o) => o,
        Err(_) => store.create_org("Demo Hoster", OrgKind::Hoster).await?,
    };
    let list = match store.list_by_name("demo-benign-images").await {
        Ok(l) => l,
        Err(_) => store
            .create_list(&NewList {
                name: "demo-benign-images".into(),
                owner_org_id: org.id,
                category: Category::new("other")?,
                description:
                    "Demo list: hashes of benign test images from Meta's ThreatExchange repository"
                        .into(),
                source: format!("schoon serve --demo, from {}", images.display()),
                purpose: Default::default(),
            })
            .await?,
    };
    let mut near = None;
    let mut sample = None;
    if list.version == 0 {
        let dir = images.to_path_buf();
        let rows = tokio::task::spawn_blocking(move || hash_demo_images(&dir))
            .await
            .context("hashing the demo images")??;
        let n = rows.len();
        let out = store
            .import(
                list.id,
                Mode::Add,
                "demo",
                "demo images",
                &mut VecSource::new(rows),
            )
            .await?;
        tracing::info!(images = n, added = out.added, "demo list created");
    }
    // A PDQ hash from the list, 4 bits away, for the curl example.
    if let Some(row) = store
        .export_page(list.id, None, 0, 1000)
        .await?
        .into_iter()
        .find(|r| r.key.kind() == HashKind::Pdq)
    {
        sample = row.ext_ref.as_ref().map(|name| images.join(name));
        let mut b = [0u8; 32];
        b.copy_from_slice(row.key.as_bytes());
        b[0] ^= 0b1001;
        b[31] ^= 0b0110;
        near = Some(hex_of(&b));
    }
    let new = NewKey::generate()?;
    store
        .insert_key(&ApiKey {
            id: new.id.clone(),
            org_id: hoster.id,
            role: Role::Hoster,
            name: "demo hoster key".into(),
            secret_sha256: new.secret_sha256,
            rate_per_sec: None,
            created_at: Millis::now(),
            revoked_at: None,
        })
        .await?;
    Ok(near.map(|pdq| {
        let sample = sample.unwrap_or_else(|| images.to_path_buf());
        (new.token().to_string(), pdq, sample)
    }))
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hash_demo_images(dir: &Path) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut worker = Worker::default();
    let opts = Options::default();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading the demo images in {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    for path in paths {
        let h = worker
            .hash_path(&path, &opts)
            .with_context(|| format!("reading {}", path.display()))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let row = |key: Key, quality| Row {
            key,
            quality,
            ext_ref: name.clone(),
            confirmations: None,
            hold: None,
        };
        rows.push(row(Key::new(HashKind::Md5, &h.digests.md5)?, None));
        rows.push(row(Key::new(HashKind::Sha1, &h.digests.sha1)?, None));
        rows.push(row(Key::new(HashKind::Sha256, &h.digests.sha256)?, None));
        if let Perceptual::Hashed { pdq, .. } = h.perceptual {
            rows.push(row(Key::pdq(*pdq.hash.as_bytes()), Some(pdq.quality)));
        }
    }
    anyhow::ensure!(!rows.is_empty(), "no demo images in {}", dir.display());
    Ok(rows)
}
