//! Demo data for notice and takedown (`schoon serve --demo`): a dozen fictitious hosters and a
//! CDN in the documentation address ranges, attribution data for them, and a few hundred cases
//! spread over the past year in every state issue-6's flow reaches. All names are `.example`,
//! all addresses documentation ranges: nothing here points at a real site.
//!
//! The cases are written through the ordinary store calls, with a clock set to each event's
//! time, so their timelines look like a year of work.

use anyhow::Result;
use lists::{Clock, ManualClock, Millis};
use ntd::attribution::rpsl::{AutNum, Network, RpslData};
use ntd::attribution::{Attributor, DataSource, StoredData, ip2asn::AsnRange};
use ntd::case::{Action, NewReport, Source, Submitter};
use ntd::dns::Resolution;
use ntd::register::HosterFields;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// A demo hoster: name, domain, AS, its /28 (or wider) in 192.0.2.0/24 or 198.51.100.0/24,
/// country, code-of-conduct member, registered.
struct Demo {
    name: &'static str,
    domain: &'static str,
    asn: u32,
    net: [u8; 4],
    len: u8,
    country: &'static str,
    coc: bool,
    registered: bool,
}

const HOSTERS: &[Demo] = &[
    Demo {
        name: "Polderhost B.V.",
        domain: "polderhost",
        asn: 64496,
        net: [192, 0, 2, 0],
        len: 28,
        country: "NL",
        coc: true,
        registered: true,
    },
    Demo {
        name: "Dijkserver",
        domain: "dijkserver",
        asn: 64497,
        net: [192, 0, 2, 16],
        len: 28,
        country: "NL",
        coc: true,
        registered: true,
    },
    Demo {
        name: "Grachten Cloud",
        domain: "grachtencloud",
        asn: 64498,
        net: [192, 0, 2, 32],
        len: 28,
        country: "NL",
        coc: true,
        registered: true,
    },
    Demo {
        name: "Molen Hosting",
        domain: "molenhosting",
        asn: 64499,
        net: [192, 0, 2, 48],
        len: 28,
        country: "NL",
        coc: false,
        registered: true,
    },
    Demo {
        name: "Tulp Datacenter",
        domain: "tulpdc",
        asn: 64500,
        net: [192, 0, 2, 64],
        len: 28,
        country: "NL",
        coc: true,
        registered: true,
    },
    Demo {
        name: "Klompen VPS",
        domain: "klompenvps",
        asn: 64501,
        net: [192, 0, 2, 80],
        len: 28,
        country: "NL",
        coc: false,
        registered: true,
    },
    Demo {
        name: "Delta Colo",
        domain: "deltacolo",
        asn: 64502,
        net: [192, 0, 2, 96],
        len: 28,
        country: "NL",
        coc: true,
        registered: true,
    },
    Demo {
        name: "Waddenweb",
        domain: "waddenweb",
        asn: 64503,
        net: [192, 0, 2, 112],
        len: 28,
        country: "NL",
        coc: true,
        registered: true,
    },
    Demo {
        name: "Rijnland Servers",
        domain: "rijnland",
        asn: 64504,
        net: [192, 0, 2, 128],
        len: 28,
        country: "NL",
        coc: false,
        registered: true,
    },
    Demo {
        name: "Hanse Hosting GmbH",
        domain: "hansehosting",
        asn: 64505,
        net: [198, 51, 100, 0],
        len: 26,
        country: "DE",
        coc: false,
        registered: true,
    },
    Demo {
        name: "Bulletproof Offshore Ltd",
        domain: "offshore",
        asn: 64506,
        net: [198, 51, 100, 64],
        len: 26,
        country: "SC",
        coc: false,
        registered: false,
    },
    Demo {
        name: "Prairie Hosting Inc.",
        domain: "prairiehost",
        asn: 64507,
        net: [198, 51, 100, 128],
        len: 26,
        country: "US",
        coc: false,
        registered: false,
    },
];

/// The demo CDN fronts sites of several hosters.
const CDN: (&str, u32, [u8; 4], u8) = ("FastEdge CDN", 64510, [203, 0, 113, 0], 25);

fn range(net: [u8; 4], len: u8) -> (IpAddr, IpAddr) {
    let first = u32::from(Ipv4Addr::from(net));
    let last = first | (u32::MAX >> len);
    (
        IpAddr::V4(Ipv4Addr::from(first)),
        IpAddr::V4(Ipv4Addr::from(last)),
    )
}

/// A small deterministic generator (the demo looks the same every time).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A fresh analyst key of the demo hotline (printed by `schoon serve --demo`).
pub async fn analyst_key(store: &dyn lists::Store) -> Result<String> {
    let org = match store.org_by_name("Demo Hotline").await {
        Ok(o) => o,
        Err(_) => {
            store
                .create_org("Demo Hotline", lists::OrgKind::Hotline)
                .await?
        }
    };
    let new = lists::keys::NewKey::generate()?;
    store
        .insert_key(&lists::ApiKey {
            id: new.id.clone(),
            org_id: org.id,
            role: lists::Role::Analyst,
            name: "demo analyst key".into(),
            secret_sha256: new.secret_sha256,
            rate_per_sec: None,
            created_at: Millis::now(),
            revoked_at: None,
        })
        .await?;
    Ok(new.token().to_string())
}

/// Sends the demo notice for an actionable case and writes what followed, as the notifier
/// would have: the notice, a reminder after 24 h and an escalation after 72 h while the URL
/// stayed online, and the re-check that found it gone. Code-of-conduct members are mostly
/// fast; the others slower, and some never remove (those cases are still open).
async fn takedown(
    notices: &Arc<dyn ntd::takedown::NoticeStore>,
    cases: &Arc<dyn ntd::CaseStore>,
    clock: &ManualClock,
    rng: &mut Lcg,
    case_id: i64,
    h: &Demo,
    now: i64,
) -> Result<()> {
    use ntd::notice::NoticeKind;
    use ntd::takedown::{Channel, NewNotice, Policy, SendOutcome};
    let Some(c) = cases.case(case_id).await? else {
        return Ok(());
    };
    let Some(hoster_id) = c.hoster_id else {
        return Ok(());
    };
    let policy = Policy::default();
    let hour = 3_600_000_i64;
    let send = |kind: NoticeKind| {
        let reference = ntd::notice::new_notice_reference();
        NewNotice {
            subject: format!("{} {reference}: 1 URL", kind.label()),
            body: format!("(demo) {} about {}\n", kind.label(), c.url),
            json: "{}".into(),
            reference,
            kind,
            hoster_id,
            channel: Channel::Email,
            recipients: vec![format!("abuse@{}.example", h.domain)],
            case_ids: vec![case_id],
        }
    };
    clock.advance(rng.below(2 * hour as u64) as i64 + 600_000);
    let notified = clock.now().0;
    let n = send(NoticeKind::Notice);
    let id = notices.queue_notice(&n, clock.now()).await?;
    clock.advance(5_000);
    let outcome = SendOutcome::Sent(format!("<{}@hotline.example>", n.reference));
    notices
        .finish_notice(id, clock.now(), &outcome, &policy)
        .await?;
    // Hours until the material is gone; None: never.
    let delay = match (h.coc, rng.below(20)) {
        (_, 0) => None,
        (true, r) if r < 15 => Some(rng.below(20) as i64 + 1),
        (true, _) => Some(rng.below(60) as i64 + 20),
        (false, r) if r < 8 => Some(rng.below(24) as i64 + 2),
        (false, r) if r < 16 => Some(rng.below(70) as i64 + 24),
        (false, _) => Some(rng.below(200) as i64 + 72),
    };
    let gone = delay.map(|d| notified + d * hour + rng.below(hour as u64) as i64);
    for (kind, after) in [(NoticeKind::Reminder, 24), (NoticeKind::Escalation, 72)] {
        let due = notified + after * hour;
        if due < now && gone.is_none_or(|g| g > due) {
            clock.set(Millis(due + 60_000));
            let n = send(kind);
            let id = notices.queue_notice(&n, clock.now()).await?;
            let outcome = SendOutcome::Sent(format!("<{}@hotline.example>", n.reference));
            notices
                .finish_notice(id, clock.now(), &outcome, &policy)
                .await?;
        }
    }
    if let Some(g) = gone.filter(|g| *g < now) {
        clock.set(Millis(g));
        let check = ntd::fetch::Check {
            verdict: ntd::fetch::Verdict::Offline,
            reason: "HTTP 404".into(),
            status: Some(404),
            hops: vec![c.url.clone()],
            address: None,
            content: None,
            bytes: 0,
            truncated: false,
            millis: 40,
        };
        notices
            .save_checks(&[ntd::takedown::CheckRecord {
                case_id,
                at: clock.now(),
                check,
                next: clock.now(),
            }])
            .await?;
    }
    Ok(())
}

/// Sets up the demo cases (once per database: skipped when the register has entries).
pub async fn cases(db_url: &str) -> Result<()> {
    let clock = Arc::new(ManualClock::new(Millis::now()));
    let stores = store::open_stores(db_url, Arc::clone(&clock) as Arc<dyn Clock>).await?;
    let cases = stores.cases;
    if !cases.hosters().await?.is_empty() {
        return Ok(());
    }
    let now = Millis::now().0;
    let year = 365 * 24 * 3600 * 1000_i64;
    clock.set(Millis(now - year - 86_400_000));

    // The register.
    for d in HOSTERS.iter().filter(|d| d.registered) {
        let (first, _) = range(d.net, d.len);
        cases
            .create_hoster(
                &HosterFields {
                    name: d.name.into(),
                    asns: vec![d.asn],
                    prefixes: vec![format!("{first}/{}", d.len)],
                    abuse: vec![format!("abuse@{}.example", d.domain)],
                    coc_member: d.coc,
                    country: Some(d.country.into()),
                    ..HosterFields::default()
                }
                .check()?,
                "demo",
            )
            .await?;
    }
    let (cdn_first, _) = range(CDN.2, CDN.3);
    cases
        .create_hoster(
            &HosterFields {
                name: CDN.0.into(),
                asns: vec![CDN.1],
                prefixes: vec![format!("{cdn_first}/{}", CDN.3)],
                abuse: vec!["abuse@fastedge-cdn.example".into()],
                cdn: true,
                coc_member: true,
                country: Some("NL".into()),
                notes: Some("Reverse proxy: forwards notices to the origin hoster".into()),
                ..HosterFields::default()
            }
            .check()?,
            "demo",
        )
        .await?;

    // Attribution data: ip2asn for every network, RPSL for the ones outside the register.
    let mut asn_rows = Vec::new();
    let mut networks = Vec::new();
    let mut autnums = Vec::new();
    for d in HOSTERS {
        let (first, last) = range(d.net, d.len);
        asn_rows.push(AsnRange {
            first,
            last,
            asn: d.asn,
            country: Some(d.country.into()),
            description: format!("{} {}", d.domain.to_uppercase(), d.name),
        });
        networks.push(Network {
            first,
            last,
            netname: Some(format!("{}-NET", d.domain.to_uppercase())),
            country: Some(d.country.into()),
            org: Some(format!("ORG-{}1-DEMO", d.domain[..3].to_uppercase())),
            org_name: Some(d.name.into()),
            abuse_mailbox: Some(format!("abuse@{}.example", d.domain)),
            source: format!("DEMO inetnum {first} - {last}"),
        });
        autnums.push(AutNum {
            asn: d.asn,
            as_name: Some(d.domain.to_uppercase()),
            org: None,
            org_name: Some(d.name.into()),
            abuse_mailbox: Some(format!("abuse@{}.example", d.domain)),
            source: format!("DEMO aut-num AS{}", d.asn),
        });
    }
    let (cf, cl) = range(CDN.2, CDN.3);
    asn_rows.push(AsnRange {
        first: cf,
        last: cl,
        asn: CDN.1,
        country: Some("NL".into()),
        description: "FASTEDGE FastEdge CDN".into(),
    });
    let src = |kind: &str, n: usize| DataSource {
        kind: kind.into(),
        files: "demo data (schoon serve --demo)".into(),
        loaded_at: Millis(now),
        loaded_by: "demo".into(),
        records: n as i64,
        sha256: "0".repeat(64),
    };
    cases
        .replace_asn_ranges(&asn_rows, &src("ip2asn", asn_rows.len()))
        .await?;
    let rpsl = RpslData { networks, autnums };
    cases
        .replace_rpsl(
            &rpsl,
            &src("rpsl", rpsl.networks.len() + rpsl.autnums.len()),
        )
        .await?;
    let attributor = Attributor::new(
        StoredData {
            asn_ranges: asn_rows,
            rpsl,
            sources: Vec::new(),
        },
        cases.hosters().await?,
    )?;

    // Cases over the past year.
    let mut rng = Lcg(20_261_123);
    let categories = ["csam", "csam", "csam", "csam", "terrorism", "ncii", "other"];
    let partners = ["NCMEC (US)", "eco (DE)", "IWF (UK)", "Cybertip.ca (CA)"];
    let n_cases = 320;
    for i in 0..n_cases {
        // Older cases first; a few a day.
        let t = now - year + (year / n_cases) * i + rng.below(3_600_000) as i64;
        clock.set(Millis(t));
        let h = &HOSTERS[rng.below(HOSTERS.len() as u64) as usize];
        let behind_cdn = rng.below(8) == 0;
        let host = format!(
            "{}{}.{}.example",
            ["shop", "img", "files", "blog", "cdn", "www"][rng.below(6) as usize],
            rng.below(40),
            h.domain
        );
        let url = format!(
            "http://{host}/{}/{}",
            ["gallery", "u", "p", "media"][rng.below(4) as usize],
            rng.below(100_000)
        );
        let source = Source::ALL[[0, 0, 0, 1, 1, 2, 4][rng.below(7) as usize]];
        let category = categories[rng.below(categories.len() as u64) as usize];
        let report = |source: Source| NewReport {
            url: url.clone(),
            category: category.into(),
            source,
            contact: None,
            text: (source == Source::Public)
                .then(|| "Seen on a forum; looks like abuse material.".into()),
            external_ref: (source == Source::Partner).then(|| format!("INH-{}", 100_000 + i)),
        };
        let by = Submitter {
            actor: if source == Source::Public {
                "public".into()
            } else {
                "demo-partner".into()
            },
            org_id: None,
        };
        let known: Vec<String> = categories.iter().map(|c| c.to_string()).collect();
        let (ok, _) = ntd::case::validate(vec![report(source)], &known);
        let out = cases.submit(&by, ok).await?;
        let Some(case_id) = out.first().and_then(|o| o.case_id) else {
            continue;
        };
        // Some URLs are reported again, by others.
        if rng.below(5) == 0 {
            clock.advance(rng.below(6 * 3_600_000) as i64);
            let (ok, _) = ntd::case::validate(vec![report(Source::Partner)], &known);
            cases
                .submit(
                    &Submitter {
                        actor: "demo-partner".into(),
                        org_id: None,
                    },
                    ok,
                )
                .await?;
        }
        // Attribution, a minute later.
        clock.advance(60_000);
        let (first, _) = if behind_cdn {
            range(CDN.2, CDN.3)
        } else {
            range(h.net, h.len)
        };
        let IpAddr::V4(f) = first else {
            unreachable!("demo ranges are IPv4")
        };
        let ip = IpAddr::V4(Ipv4Addr::from(u32::from(f) + 1 + rng.below(12) as u32));
        let answer = Ok(Resolution {
            host: host.clone(),
            cnames: if behind_cdn {
                vec![format!("{}.edge.fastedge-cdn.example", h.domain)]
            } else {
                Vec::new()
            },
            addrs: vec![ip],
        });
        let a = attributor.attribute(&host, &answer, clock.now());
        // Claim it so the worker does not redo it, then store.
        cases.save_attribution(case_id, &a).await?;
        // The analyst's work: recent cases are still in the queue.
        let age_days = (now - t) / 86_400_000;
        if age_days < 4 && rng.below(3) > 0 {
            continue;
        }
        clock.advance(rng.below(20 * 3_600_000) as i64 + 600_000);
        cases.act(case_id, "demo-analyst", &Action::Assess).await?;
        if age_days < 2 {
            continue;
        }
        clock.advance(rng.below(40 * 60_000) as i64 + 120_000);
        let roll = rng.below(10);
        let foreign = !matches!(h.country, "NL") && !behind_cdn;
        let verdict = if foreign && roll < 7 {
            Action::Forward {
                partner: partners[rng.below(partners.len() as u64) as usize].into(),
                reason: Some(format!("hosted in {}", h.country)),
            }
        } else if roll < 7 {
            Action::Actionable { reason: None }
        } else {
            Action::NotActionable {
                reason: [
                    "adult content, no indication of minors",
                    "page gone before assessment",
                    "legal content",
                ][rng.below(3) as usize]
                    .into(),
            }
        };
        let closes = !matches!(verdict, Action::Actionable { .. }) && age_days > 30;
        let actionable = matches!(verdict, Action::Actionable { .. });
        cases.act(case_id, "demo-analyst", &verdict).await?;
        if actionable && age_days >= 3 {
            takedown(&stores.notices, &cases, &clock, &mut rng, case_id, h, now).await?;
        }
        if closes {
            clock.advance(86_400_000 * 7);
            cases
                .act(
                    case_id,
                    "demo-analyst",
                    &Action::Close {
                        reason: Some("archived".into()),
                    },
                )
                .await?;
        }
    }
    tracing::info!(
        cases = n_cases,
        hosters = HOSTERS.len() + 1,
        "demo cases created"
    );
    Ok(())
}

/// The monitor's demo: hash-check use by some hosters (so participation shows), and the
/// non-cooperation list as an analyst would have left it: one approved run, the listed
/// hosters, one explanation published and one waiting for review. Runs once per database
/// (skipped when a run exists). The listing e-mails are not queued: the demo hosters'
/// addresses are fictitious.
pub async fn monitor(db_url: &str, store: &dyn lists::Store) -> Result<()> {
    use monitor::store::NewRun;
    let clock = Arc::new(ManualClock::new(Millis::now()));
    let stores = store::open_stores(db_url, Arc::clone(&clock) as Arc<dyn Clock>).await?;
    if !stores.monitor.runs(1).await?.is_empty() {
        return Ok(());
    }
    let now = Millis::now();
    let month = 30 * 86_400_000_i64;
    // Participation: the first hosters joined the hash check, two of them run the scanner.
    let mut rng = Lcg(8_081_126);
    let hosters = stores.cases.hosters().await?;
    for (i, h) in hosters.iter().filter(|h| !h.cdn).take(5).enumerate() {
        let org = match store.org_by_name(&h.name).await {
            Ok(o) => o,
            Err(_) => store.create_org(&h.name, lists::OrgKind::Hoster).await?,
        };
        let mut fields = h.fields.clone();
        fields.org_id = Some(org.id);
        stores
            .cases
            .update_hoster(h.id, &fields, "demo-analyst")
            .await?;
        let mut records = Vec::new();
        for m in 0..12_i64 {
            // Hosters joined at different times: the first a year ago, later ones since.
            if m >= 12 - 2 * i as i64 {
                continue;
            }
            let at = Millis(now.0 - m * month - rng.below(month as u64 / 2) as i64);
            let scanner = i < 2;
            let count = 2_000 + rng.below(20_000) as i64;
            records.push(lists::AuditRecord {
                at,
                key_id: format!("demo-{}", h.id),
                org_id: org.id,
                action: "check".into(),
                count,
                matches: rng.below(4) as i64,
                detail: if scanner {
                    r#"{"client":"scanner","matches":[]}"#.into()
                } else {
                    r#"{"matches":[]}"#.into()
                },
            });
            // The scanning hosters quarantine what matches, and the scanner says so.
            if scanner && m % 3 == 0 {
                records.push(lists::AuditRecord {
                    at: Millis(at.0 + 3_600_000),
                    key_id: format!("demo-{}", h.id),
                    org_id: org.id,
                    action: "own_removal".into(),
                    count: 1 + rng.below(3) as i64,
                    matches: 0,
                    detail: r#"{"client":"scanner"}"#.into(),
                });
            }
        }
        store.append_audit(&records).await?;
    }

    // A run of the default rules, approved by an analyst a week ago.
    let rules = monitor::Rules::default();
    let at = Millis(now.0 - 7 * 86_400_000);
    let window = monitor::Period::custom(
        Millis(at.0 - i64::from(rules.window_days) * 86_400_000),
        Millis(at.0 + 1),
    )?;
    let summary = stores.monitor.summary(&window, at).await?;
    let proposals = monitor::propose(&summary, &rules, &Default::default());
    if proposals.is_empty() {
        return Ok(());
    }
    let run = stores
        .monitor
        .save_run(&NewRun {
            at,
            by: "demo-analyst".into(),
            window,
            rules,
            proposals,
        })
        .await?;
    let decided = Millis(at.0 + 3_600_000);
    stores
        .monitor
        .decide_run(run.id, true, "demo-analyst", decided, &[])
        .await?;
    let listed = stores.monitor.listings(true).await?;
    let explanations = [
        "We moved our abuse desk to a 24/7 team in September and now act on every notice the same day. The late removals were on a reseller's servers; that contract has ended.",
        "We are a small provider without weekend staff. We have asked the hotline to send notices to our on-call address as well.",
    ];
    for (i, (l, text)) in listed.iter().zip(explanations).enumerate() {
        let e = stores
            .monitor
            .submit_explanation(
                l.hoster_id,
                text,
                "portal:demo",
                Millis(decided.0 + 86_400_000),
            )
            .await?;
        if i == 0 {
            stores
                .monitor
                .review_explanation(
                    e.id,
                    true,
                    "demo-analyst",
                    None,
                    Millis(decided.0 + 2 * 86_400_000),
                )
                .await?;
        }
    }
    tracing::info!(listed = listed.len(), "demo non-cooperation list created");
    Ok(())
}
