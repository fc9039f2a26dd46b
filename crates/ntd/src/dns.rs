//! DNS resolution for attribution: a hostname → its CNAME chain and its A/AAAA addresses.
//!
//! Attribution starts here: the reported URL's host is resolved, and what the DNS said is kept
//! as evidence for the notice (which alias pointed where, which addresses served the name).
//!
//! # Why hickory
//!
//! The operating system's resolver (`getaddrinfo`) answers only "these addresses": it hides
//! the CNAME chain, which is often the most telling part of the evidence (`www.shop.example`
//! → `shop.cdn-provider.example` names the CDN before any IP lookup does). It also reads
//! `/etc/hosts`, blocks a thread per lookup and cannot be pointed at another server.
//! [`hickory_resolver`] is an async stub resolver in Rust that returns the answer records
//! themselves, queries A and AAAA concurrently, and takes its servers from configuration.
//!
//! # Configuration, not `/etc/resolv.conf`
//!
//! [`DnsConfig::servers`] names the DNS servers to ask (UDP, falling back to TCP when an
//! answer is truncated). Only when the list is empty are the servers read from the system's
//! `/etc/resolv.conf`; even then its search domains and `ndots` are ignored, and so is
//! `/etc/hosts`: every name is absolute (`shop` is asked as `shop.`, never as
//! `shop.corp.example.`), so what we record is what the public DNS says, not what this
//! machine's network adds. Tests and benchmarks point the resolver at a real server on
//! loopback ([`crate::testing::TestDns`], feature `testing`), so they need no network.
//!
//! # CNAME chains are evidence
//!
//! [`Resolution::cnames`] is the chain in order, from the asked name to the canonical name
//! that carries the addresses; names are lowercase ASCII (IDNs in their `xn--` form) without
//! the trailing dot, like the hosts of URLs: `["shop.cdn-provider.example"]`.
//! [`Resolution::addrs`] holds the A and AAAA answers, deduplicated, IPv4 before IPv6, each
//! family sorted.
//!
//! # Caching: one lookup per name per batch
//!
//! The resolver itself caches nothing (hickory's cache is sized 0 and every TTL is clamped
//! to 0): a case that is re-attributed a week later must see today's DNS, and every
//! [`Resolver::resolve`] asks the server again. Repetition is handled one level up:
//! [`resolve_all`] resolves a batch of hosts, many of which repeat (a hoster's domain in
//! hundreds of reported URLs), asking for each distinct name once, a bounded number at a
//! time. That batch is the cache, and it lives exactly as long as the batch.
//!
//! # Failures
//!
//! A and AAAA are both asked. The answer is a [`Resolution`] when at least one family has
//! addresses and the other has addresses or definitely none; [`DnsError::NotFound`] when the
//! name does not exist or has neither; [`DnsError::Timeout`] or [`DnsError::Failed`] when
//! either query could not be answered (a half answer would record "no IPv6" as evidence
//! when the truth is "unknown"; such errors are worth retrying later).
//!
//! Use one [`Resolver`] within one tokio runtime: its connections run as tasks of the
//! runtime in which they were opened.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HickoryDnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use tokio::task::JoinSet;

/// The longest CNAME chain followed when reading an answer; longer ones (or loops) are cut.
const MAX_CHAIN: usize = 16;

/// Where and how to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// The DNS servers to ask (address and port, usually 53), in order of preference. Empty:
    /// the servers of the system's `/etc/resolv.conf` (without its search domains).
    pub servers: Vec<SocketAddr>,
    /// How long to wait for one answer to one query (default 3 s).
    pub timeout: Duration,
    /// How many times a query is sent before giving up (default 2; 0 counts as 1). A lookup of
    /// a silent name takes about `timeout × attempts`.
    pub attempts: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            servers: Vec::new(),
            timeout: Duration::from_secs(3),
            attempts: 2,
        }
    }
}

/// What the DNS said about one host: the evidence for the first step of attribution.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Resolution {
    /// The host as asked, lowercase, without a trailing dot or IPv6 brackets.
    pub host: String,
    /// The CNAME chain in order: each name is the target of the previous one (the first that of
    /// `host`), the last is the canonical name holding the addresses. Lowercase ASCII, no
    /// trailing dot. Empty when `host` has addresses itself (and for an IP literal).
    pub cnames: Vec<String>,
    /// The A and AAAA addresses, deduplicated: IPv4 first, then IPv6, each sorted.
    pub addrs: Vec<IpAddr>,
}

/// Why a host could not be resolved. Each message names the host.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DnsError {
    /// The name does not exist (NXDOMAIN), or it has neither A nor AAAA records.
    #[error("{0}")]
    NotFound(String),
    /// No server answered in time.
    #[error("{0}")]
    Timeout(String),
    /// Anything else: an invalid name, a refusal or server failure, a network error, or the
    /// system configuration could not be read.
    #[error("{0}")]
    Failed(String),
}

/// An async DNS resolver for attribution. Cheap to clone (the clones share connections).
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

struct Inner {
    resolver: TokioResolver,
    /// The configured servers, for `Debug` (empty: the system's).
    servers: Vec<SocketAddr>,
    /// An upper bound on one `resolve`, in case a layer below forgets its own timeout.
    deadline: Duration,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("servers", &self.inner.servers)
            .field("timeout", &self.inner.resolver.options().timeout)
            .finish_non_exhaustive()
    }
}

impl Resolver {
    /// A resolver asking `config.servers` (or the system's servers when that is empty).
    ///
    /// Needs no runtime; fails only when the system configuration is wanted and unreadable.
    pub fn new(config: &DnsConfig) -> Result<Resolver, DnsError> {
        let name_servers = if config.servers.is_empty() {
            let (system, _) = hickory_resolver::system_conf::read_system_conf().map_err(|e| {
                DnsError::Failed(format!("reading the system DNS configuration: {e}"))
            })?;
            // Keep the servers, drop the search list and domain: names are absolute.
            let (_, _, servers) = system.into_parts();
            if servers.is_empty() {
                return Err(DnsError::Failed(
                    "the system DNS configuration names no server".to_owned(),
                ));
            }
            servers
        } else {
            config
                .servers
                .iter()
                .map(|&addr| name_server(addr))
                .collect()
        };

        let mut opts = ResolverOpts::default();
        opts.timeout = config.timeout;
        // hickory counts retries after the first try; ours counts tries.
        let attempts = config.attempts.max(1);
        opts.attempts = attempts - 1;
        opts.ndots = 0;
        opts.use_hosts_file = ResolveHosts::Never;
        // No caching below us: every resolve asks the server (see the module docs).
        opts.cache_size = 0;
        opts.positive_min_ttl = None;
        opts.negative_min_ttl = None;
        opts.positive_max_ttl = Some(Duration::ZERO);
        opts.negative_max_ttl = Some(Duration::ZERO);
        // Keep the CNAME records in the answers: they are our evidence.
        opts.preserve_intermediates = true;

        let resolver_config = ResolverConfig::from_parts(None, Vec::new(), name_servers);
        let resolver =
            TokioResolver::builder_with_config(resolver_config, TokioRuntimeProvider::default())
                .with_options(opts)
                .build()
                .map_err(|e| DnsError::Failed(format!("building the DNS resolver: {e}")))?;

        let tries = u32::try_from(attempts).unwrap_or(u32::MAX);
        let deadline = config
            .timeout
            .saturating_mul(tries)
            .saturating_add(config.timeout)
            .saturating_add(Duration::from_millis(500));
        Ok(Resolver {
            inner: Arc::new(Inner {
                resolver,
                servers: config.servers.clone(),
                deadline,
            }),
        })
    }

    /// Resolves `host`: A and AAAA, asked concurrently, and the CNAME chain from their answers.
    ///
    /// An IP literal (`192.0.2.1`, `2001:db8::1`, `[2001:db8::1]`) is returned as its own
    /// address without asking anybody. A trailing dot is accepted; case does not matter.
    pub async fn resolve(&self, host: &str) -> Result<Resolution, DnsError> {
        let host = normalize(host);
        if let Some(ip) = ip_literal(&host) {
            return Ok(Resolution {
                host,
                cnames: Vec::new(),
                addrs: vec![ip],
            });
        }
        let name = parse_name(&host)?;
        match tokio::time::timeout(self.inner.deadline, self.lookup(&host, name)).await {
            Ok(result) => result,
            Err(_) => Err(DnsError::Timeout(format!(
                "{host}: no answer within {:?}",
                self.inner.deadline
            ))),
        }
    }

    async fn lookup(&self, host: &str, name: Name) -> Result<Resolution, DnsError> {
        let resolver = &self.inner.resolver;
        let (v4, v6) = tokio::join!(
            resolver.lookup(name.clone(), RecordType::A),
            resolver.lookup(name.clone(), RecordType::AAAA),
        );
        let v4 = Answer::from_result(v4, &name);
        let v6 = Answer::from_result(v6, &name);

        // One family answered; the other answered too, or said it has nothing (an NXDOMAIN
        // beside a positive answer is a server's inconsistency, read as "nothing").
        let no_records = |a: &Answer| matches!(a, Answer::NoData | Answer::NxDomain);
        match (&v4, &v6) {
            (Answer::Records { .. }, Answer::Records { .. }) => {}
            (Answer::Records { .. }, other) | (other, Answer::Records { .. })
                if no_records(other) => {}
            _ => return Err(failure(host, &v4, &v6)),
        }

        // Both queries see the same chain; take the longer reading in case one was cut short.
        let mut cnames = Vec::new();
        let mut v4_addrs = Vec::new();
        let mut v6_addrs = Vec::new();
        for answer in [v4, v6] {
            if let Answer::Records { chain, addrs } = answer {
                if chain.len() > cnames.len() {
                    cnames = chain;
                }
                for addr in addrs {
                    match addr {
                        IpAddr::V4(a) => v4_addrs.push(a),
                        IpAddr::V6(a) => v6_addrs.push(a),
                    }
                }
            }
        }
        if v4_addrs.is_empty() && v6_addrs.is_empty() {
            return Err(DnsError::NotFound(format!("{host}: no A or AAAA records")));
        }
        Ok(Resolution {
            host: host.to_owned(),
            cnames,
            addrs: sorted_addrs(v4_addrs, v6_addrs),
        })
    }
}

/// A configured server: UDP first, TCP when an answer is truncated, both on the given port.
fn name_server(addr: SocketAddr) -> NameServerConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
}

/// Lowercase, without the trailing dot of an absolute name or the brackets of an IPv6 host.
fn normalize(host: &str) -> String {
    let host = host.trim();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let host = host.strip_suffix('.').unwrap_or(host);
    host.to_lowercase()
}

fn ip_literal(host: &str) -> Option<IpAddr> {
    host.parse::<IpAddr>().ok()
}

/// The absolute DNS name for a normalised host (IDNs become their `xn--` form).
fn parse_name(host: &str) -> Result<Name, DnsError> {
    if host.is_empty() {
        return Err(DnsError::Failed("empty host name".to_owned()));
    }
    let mut name = Name::from_utf8(host)
        .map_err(|e| DnsError::Failed(format!("{host}: not a valid host name: {e}")))?;
    name.set_fqdn(true);
    Ok(name)
}

/// A name as we record it: lowercase ASCII, no trailing dot.
fn display_name(name: &Name) -> String {
    let ascii = name.to_lowercase().to_ascii();
    match ascii.strip_suffix('.') {
        Some(s) => s.to_owned(),
        None => ascii,
    }
}

fn sorted_addrs(mut v4: Vec<Ipv4Addr>, mut v6: Vec<Ipv6Addr>) -> Vec<IpAddr> {
    v4.sort_unstable();
    v4.dedup();
    v6.sort_unstable();
    v6.dedup();
    v4.into_iter()
        .map(IpAddr::V4)
        .chain(v6.into_iter().map(IpAddr::V6))
        .collect()
}

/// The outcome of one query (A or AAAA), classified.
#[derive(Debug)]
enum Answer {
    /// The name exists, with this chain and these addresses (possibly none, e.g. a chain
    /// whose end has no records of this type).
    Records {
        chain: Vec<String>,
        addrs: Vec<IpAddr>,
    },
    /// The name exists but has no records of this type (NOERROR, empty answer).
    NoData,
    /// The name does not exist.
    NxDomain,
    Timeout,
    Failed(String),
}

impl Answer {
    fn from_result(result: Result<Lookup, NetError>, name: &Name) -> Answer {
        match result {
            Ok(lookup) => read_answer(&lookup, name),
            Err(NetError::Timeout) => Answer::Timeout,
            Err(NetError::Dns(HickoryDnsError::NoRecordsFound(NoRecords {
                response_code,
                ..
            }))) => match response_code {
                ResponseCode::NXDomain => Answer::NxDomain,
                ResponseCode::NoError => Answer::NoData,
                code => Answer::Failed(format!("server answered {code}")),
            },
            Err(NetError::Dns(HickoryDnsError::ResponseCode(code))) => {
                Answer::Failed(format!("server answered {code}"))
            }
            Err(e) => Answer::Failed(e.to_string()),
        }
    }
}

/// The CNAME chain from `name`, and the addresses owned by a name on that chain.
fn read_answer(lookup: &Lookup, name: &Name) -> Answer {
    let answers = lookup.answers();
    let mut chain_names: Vec<Name> = vec![name.clone()];
    let mut current = name.clone();
    while chain_names.len() <= MAX_CHAIN {
        let next = answers.iter().find_map(|r| match &r.data {
            RData::CNAME(target) if r.name == current => Some(target.0.clone()),
            _ => None,
        });
        match next {
            // A loop ends the chain where it would repeat.
            Some(target) if !chain_names.contains(&target) => {
                chain_names.push(target.clone());
                current = target;
            }
            _ => break,
        }
    }
    let addrs = answers
        .iter()
        .filter(|r| chain_names.contains(&r.name))
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect::<Vec<_>>();
    let chain = chain_names
        .iter()
        .skip(1)
        .map(display_name)
        .collect::<Vec<_>>();
    if addrs.is_empty() && chain.is_empty() {
        return Answer::NoData;
    }
    Answer::Records { chain, addrs }
}

/// The error for a pair of answers that together give no resolution.
fn failure(host: &str, v4: &Answer, v6: &Answer) -> DnsError {
    for answer in [v4, v6] {
        if let Answer::Failed(why) = answer {
            return DnsError::Failed(format!("{host}: {why}"));
        }
    }
    if matches!(v4, Answer::Timeout) || matches!(v6, Answer::Timeout) {
        return DnsError::Timeout(format!("{host}: no answer from the DNS server"));
    }
    if matches!(v4, Answer::NxDomain) && matches!(v6, Answer::NxDomain) {
        return DnsError::NotFound(format!("{host}: no such domain (NXDOMAIN)"));
    }
    DnsError::NotFound(format!("{host}: no A or AAAA records"))
}

/// Resolves many hostnames with bounded concurrency, each distinct name once.
///
/// Names that differ only in case or a trailing dot count as one. The map has an entry for
/// every distinct string of `hosts`, keyed as given. At most `concurrency` names (at least
/// one) are being resolved at a time. Must be called within a tokio runtime (it spawns).
pub async fn resolve_all(
    resolver: &Resolver,
    hosts: impl IntoIterator<Item = String>,
    concurrency: usize,
) -> HashMap<String, Result<Resolution, DnsError>> {
    // normalised name → the spellings it was given in
    let mut spellings: HashMap<String, Vec<String>> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for host in hosts {
        if !seen.insert(host.clone()) {
            continue;
        }
        let key = normalize(&host);
        let entry = spellings.entry(key.clone()).or_default();
        if entry.is_empty() {
            order.push(key);
        }
        entry.push(host);
    }

    let concurrency = concurrency.max(1);
    let mut pending = order.into_iter();
    let mut running = JoinSet::new();
    let mut results = HashMap::with_capacity(seen.len());
    loop {
        while running.len() < concurrency {
            let Some(key) = pending.next() else { break };
            let resolver = resolver.clone();
            running.spawn(async move {
                let result = resolver.resolve(&key).await;
                (key, result)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (key, result) = match joined {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("a DNS lookup task was cancelled: {e}"),
        };
        for spelling in spellings.remove(&key).unwrap_or_default() {
            results.insert(spelling, result.clone());
        }
    }
    results
}
