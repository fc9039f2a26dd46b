//! `schoon attribution` and `schoon hosters`: the data attribution runs on, and the hotline's
//! register of hosting providers.

use crate::db::{DbArgs, actor};
use anyhow::{Context, Result, bail};
use ntd::attribution::{DataSource, ip2asn, rpsl};
use ntd::register::{Channel, HosterFields};
use sha2::Digest;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Load attribution data, or attribute a host now.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Attribution follows a reported URL to the party that can remove it: DNS (CNAMEs, A/AAAA) ->
IP address -> network -> AS and organisation -> abuse contact. It uses the hosters register
first (`schoon hosters`), then the data loaded here:

  --ip2asn   iptoasn.com's ip2asn-v4.tsv / ip2asn-v6.tsv / ip2asn-combined.tsv (5 columns, no
             header): which AS announces each address range.
  --rpsl     RIR database dumps in RPSL, e.g. RIPE's split files ripe.db.inetnum,
             ripe.db.inet6num, ripe.db.aut-num, ripe.db.organisation, ripe.db.role (gunzip
             them first): networks, organisations and abuse-c mailboxes.

A load replaces the data of its kind in one transaction. Every file is read completely before
anything changes: a bad line stops the load with the file and line, and the data already
loaded stays in use. Running servers pick the new data up for the next attribution.

Examples:
  schoon attribution load --ip2asn ip2asn-combined.tsv
  schoon attribution load --rpsl ripe.db.inetnum --rpsl ripe.db.inet6num --rpsl ripe.db.organisation \\
                          --rpsl ripe.db.role --rpsl ripe.db.aut-num
  schoon attribution lookup www.example.com --dns 192.0.2.53:53
  schoon attribution status")]
pub struct AttributionArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    command: AttributionCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AttributionCommand {
    /// Load (replace) ip2asn and/or RPSL data.
    Load {
        /// An ip2asn TSV file (repeatable: v4 and v6 are loaded together).
        #[arg(long, value_name = "FILE")]
        ip2asn: Vec<PathBuf>,
        /// An RPSL dump (repeatable: all files of one load are resolved together, so roles
        /// and organisations may sit in other files than the networks that name them).
        #[arg(long, value_name = "FILE")]
        rpsl: Vec<PathBuf>,
    },
    /// Attribute a host (or URL) now and print every step with its source.
    Lookup {
        /// A hostname or URL.
        host: String,
        /// DNS server to ask (default: the system's resolvers).
        #[arg(long = "dns", value_name = "ADDR")]
        dns: Vec<SocketAddr>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// What is loaded.
    Status,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn source(kind: &str, files: &[PathBuf], bytes: &[Vec<u8>], records: usize) -> DataSource {
    let mut h = sha2::Sha256::new();
    for b in bytes {
        h.update(b);
    }
    DataSource {
        kind: kind.into(),
        files: files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        loaded_at: lists::Millis::now(),
        loaded_by: actor(),
        records: records as i64,
        sha256: hex::encode(h.finalize()),
    }
}

/// Runs `schoon attribution`.
pub async fn attribution(args: AttributionArgs) -> Result<()> {
    let stores = args.db.open_stores().await?;
    let cases = stores.cases;
    match args.command {
        AttributionCommand::Load { ip2asn, rpsl } => {
            if ip2asn.is_empty() && rpsl.is_empty() {
                bail!("nothing to load: give --ip2asn FILE and/or --rpsl FILE");
            }
            // Read and check everything first: a bad file changes nothing.
            let mut asn_rows = Vec::new();
            let mut asn_bytes = Vec::new();
            for f in &ip2asn {
                let bytes = read(f)?;
                let rows = ip2asn::parse(&bytes).with_context(|| {
                    format!(
                        "{}: not loaded; the data loaded before stays in use",
                        f.display()
                    )
                })?;
                eprintln!("{}: {} ranges", f.display(), rows.len());
                asn_rows.extend(rows);
                asn_bytes.push(bytes);
            }
            let mut objects = Vec::new();
            let mut rpsl_bytes = Vec::new();
            for f in &rpsl {
                let bytes = read(f)?;
                let (_, encoding) = rpsl::decode(&bytes);
                let objs = rpsl::objects(&bytes).with_context(|| {
                    format!(
                        "{}: not loaded; the data loaded before stays in use",
                        f.display()
                    )
                })?;
                eprintln!("{}: {} objects ({encoding:?})", f.display(), objs.len());
                objects.extend(objs);
                rpsl_bytes.push(bytes);
            }
            let rpsl_data =
                if rpsl.is_empty() {
                    None
                } else {
                    Some(rpsl::build(&objects).context(
                        "the RPSL files: not loaded; the data loaded before stays in use",
                    )?)
                };
            // Building the tables checks the ranges too.
            ntd::attribution::Attributor::new(
                ntd::attribution::StoredData {
                    asn_ranges: asn_rows.clone(),
                    rpsl: rpsl_data.clone().unwrap_or_default(),
                    sources: Vec::new(),
                },
                Vec::new(),
            )
            .context("the data does not make a lookup table; nothing was loaded")?;
            if !ip2asn.is_empty() {
                let src = source("ip2asn", &ip2asn, &asn_bytes, asn_rows.len());
                cases.replace_asn_ranges(&asn_rows, &src).await?;
                println!("ip2asn: {} ranges loaded", asn_rows.len());
            }
            if let Some(data) = rpsl_data {
                let n = data.networks.len() + data.autnums.len();
                let src = source("rpsl", &rpsl, &rpsl_bytes, n);
                cases.replace_rpsl(&data, &src).await?;
                let with_abuse = data
                    .networks
                    .iter()
                    .filter(|n| n.abuse_mailbox.is_some())
                    .count();
                println!(
                    "rpsl: {} networks ({with_abuse} with their own abuse mailbox), {} AS objects loaded",
                    data.networks.len(),
                    data.autnums.len()
                );
            }
            Ok(())
        }
        AttributionCommand::Lookup { host, dns, json } => {
            let url = ntd::urls::normalise(&host).context("the host")?;
            let resolver = ntd::dns::Resolver::new(&ntd::dns::DnsConfig {
                servers: dns,
                ..ntd::dns::DnsConfig::default()
            })
            .context("setting up DNS")?;
            let engine =
                ntd::engine::Engine::new(cases, resolver, std::sync::Arc::new(lists::SystemClock));
            let a = engine.attribute_host(url.host()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&a)?);
                return Ok(());
            }
            println!("{}", a.host);
            for e in &a.evidence {
                println!("  {:<9} {}  [{}]", e.step, e.value, e.source);
            }
            match &a.notify {
                Some(p) => println!(
                    "notify: {}{} <{}>",
                    p.name,
                    if a.cdn.is_some() { " (CDN)" } else { "" },
                    p.abuse.join(", ")
                ),
                None => println!("notify: unknown"),
            }
            if let Some(e) = &a.error {
                println!("note: {e}");
            }
            Ok(())
        }
        AttributionCommand::Status => {
            let sources = cases.attribution_sources().await?;
            if sources.is_empty() {
                println!("no attribution data loaded (the hosters register is used alone)");
            }
            for s in sources {
                println!(
                    "{:<7} {:>9} records  loaded {} by {}  from {}  sha256 {}",
                    s.kind,
                    s.records,
                    s.loaded_at,
                    s.loaded_by,
                    s.files,
                    &s.sha256[..16]
                );
            }
            println!("register: {} hosters", cases.hosters().await?.len());
            Ok(())
        }
    }
}

/// The hosters register.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The register is the hotline's own knowledge of hosting providers and CDNs. Its prefixes and
abuse addresses win over the loaded RIR data; a CDN's prefixes make a site \"behind CDN X\",
and the CDN is then the party to notify. Analysts also edit it at /ui/hosters.

Examples:
  schoon hosters add 'Hoster A B.V.' --asn 64500 --prefix 192.0.2.0/25 --abuse abuse@hoster-a.example --coc
  schoon hosters add 'FastCDN' --cdn --prefix 203.0.113.0/24 --abuse abuse@fastcdn.example
  schoon hosters list")]
pub struct HostersArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    command: HostersCommand,
}

#[derive(Debug, clap::Subcommand)]
enum HostersCommand {
    /// Add a hoster or CDN.
    Add {
        /// Its name.
        name: String,
        /// An AS number (repeatable).
        #[arg(long, value_name = "N")]
        asn: Vec<u32>,
        /// An address prefix, CIDR (repeatable).
        #[arg(long, value_name = "CIDR")]
        prefix: Vec<String>,
        /// An abuse address (repeatable).
        #[arg(long, value_name = "ADDR")]
        abuse: Vec<String>,
        /// Signed the code of conduct.
        #[arg(long)]
        coc: bool,
        /// A CDN or reverse proxy.
        #[arg(long)]
        cdn: bool,
        /// Two-letter country code.
        #[arg(long)]
        country: Option<String>,
        /// Send notices to this webhook instead of e-mail.
        #[arg(long, value_name = "URL")]
        webhook: Option<String>,
        /// The Schoon organisation of this hoster: its `hoster` keys can then sign in to the
        /// hoster portal and use the portal API (the signed link in a notice works without).
        #[arg(long, value_name = "ORG")]
        org: Option<String>,
    },
    /// Print the secret a hoster's webhook checks the `Schoon-Signature` of notices with
    /// (HMAC-SHA256; give it to the hoster over a safe channel).
    WebhookSecret {
        /// The register id (`schoon hosters list`).
        id: i64,
    },
    /// Show the register.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `schoon hosters`.
pub async fn hosters(args: HostersArgs) -> Result<()> {
    let stores = args.db.open_stores().await?;
    match args.command {
        HostersCommand::Add {
            name,
            asn,
            prefix,
            abuse,
            coc,
            cdn,
            country,
            webhook,
            org,
        } => {
            let org_id = match org {
                Some(o) => Some(
                    stores
                        .lists
                        .org_by_name(&o)
                        .await
                        .with_context(|| format!("--org {o:?}: no such organisation"))?
                        .id,
                ),
                None => None,
            };
            let fields = HosterFields {
                name,
                org_id,
                asns: asn,
                prefixes: prefix,
                abuse,
                channel: if webhook.is_some() {
                    Channel::Webhook
                } else {
                    Channel::Email
                },
                webhook_url: webhook,
                coc_member: coc,
                cdn,
                country,
                notes: None,
            }
            .check()?;
            let h = stores.cases.create_hoster(&fields, &actor()).await?;
            println!("hoster {} created: {}", h.id, h.name);
        }
        HostersCommand::WebhookSecret { id } => {
            let h = stores
                .cases
                .hoster(id)
                .await?
                .with_context(|| format!("no hoster {id} in the register"))?;
            let master = stores.notices.secret("webhook").await?;
            println!("{}", ntd::notifier::webhook_secret(&master, h.id));
        }
        HostersCommand::List { json } => {
            let hs = stores.cases.hosters().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&hs)?);
            } else {
                for h in hs {
                    println!(
                        "{:>4}  {:<28} {:<4} coc={:<3} AS{:<20} {:<36} {}",
                        h.id,
                        h.name,
                        if h.cdn { "CDN" } else { "" },
                        if h.coc_member { "yes" } else { "no" },
                        h.asns
                            .iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(","),
                        h.prefixes.join(" "),
                        h.abuse.join(" ")
                    );
                }
            }
        }
    }
    Ok(())
}
