//! Attribution: who hosts a URL, who must be notified, and how we know.
//!
//! The chain is URL → host → DNS (CNAME chain, A/AAAA; [`crate::dns`]) → IP address →
//! network → autonomous system and organisation → abuse contact. Each step is recorded as
//! [`Evidence`] with its source (the DNS answer, the register entry, the RIR object, the
//! ip2asn row), so an analyst can see why a notice goes where it goes, and a hoster who
//! disputes it can be shown.
//!
//! The data, in the order it is consulted for an address:
//!
//! 1. **The hosters register** ([`crate::register`]): the hotline's own entries. A prefix
//!    there wins over everything; a CDN entry makes the case "behind CDN X" with the CDN as the
//!    party to notify.
//! 2. **ip2asn** ([`ip2asn`]): which AS announces the address (BGP's view). A register entry
//!    that lists that AS names the hoster.
//! 3. **RIR data in RPSL** ([`rpsl`]): the most specific `inetnum`/`inet6num` holding the
//!    address, its organisation and, following RIPE's own rules, its abuse mailbox (falling
//!    through to less specific ranges when a range has none); the AS's `aut-num` as a last
//!    resort.
//!
//! The data is loaded by an operator (`schoon attribution load`), kept in the database so
//! every replica uses the same, and held in memory here as [`table::RangeTable`]s: a lookup is
//! a binary search, so attributing 10,000 URLs costs the DNS lookups and little else.

pub mod ip2asn;
pub mod rpsl;
pub mod table;

use crate::dns::{DnsError, Resolution};
use crate::register::{Hoster, Prefix};
use lists::Millis;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use table::RangeTable;

/// One step of an attribution and where its answer came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// `dns`, `cname`, `register`, `cdn`, `asn`, `network`, `abuse`, `autnum`, `country`.
    pub step: String,
    /// What the step found.
    pub value: String,
    /// Where from: the resolver, `register #3`, `ip2asn`, `RIPE inetnum ...`.
    pub source: String,
}

/// A party attribution names: the hoster, the CDN, or whom to notify.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// The hosters-register entry, if the party is registered.
    pub hoster_id: Option<i64>,
    /// Its name.
    pub name: String,
    /// Its abuse addresses.
    pub abuse: Vec<String>,
    /// Whether it signed the code of conduct (registered parties only).
    pub coc_member: Option<bool>,
    /// Where the name and addresses came from.
    pub source: String,
}

/// What attribution found for one address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddrInfo {
    /// The address.
    pub ip: IpAddr,
    /// The AS that announces it.
    pub asn: Option<u32>,
    /// That AS's description.
    pub as_name: Option<String>,
    /// The RIR network's name.
    pub netname: Option<String>,
    /// The country of the network (or of the AS).
    pub country: Option<String>,
    /// The hosting provider.
    pub hoster: Option<Party>,
    /// The CDN in front, if the address is a CDN's.
    pub cdn: Option<Party>,
}

/// The result of attributing one host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    /// The host.
    pub host: String,
    /// When.
    pub at: Millis,
    /// The CNAME chain DNS gave.
    pub cnames: Vec<String>,
    /// Each address and what is known of it.
    pub addrs: Vec<AddrInfo>,
    /// Whom to notify: the CDN when the site is behind one, else the hoster.
    pub notify: Option<Party>,
    /// The hosting provider (unknown behind a CDN, unless the register says otherwise).
    pub hoster: Option<Party>,
    /// The CDN in front.
    pub cdn: Option<Party>,
    /// The hosting country.
    pub country: Option<String>,
    /// Every step and its source.
    pub evidence: Vec<Evidence>,
    /// Why attribution stopped short (DNS failed, no data for the address).
    pub error: Option<String>,
}

/// Facts about one loaded data file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSource {
    /// `ip2asn` or `rpsl`.
    pub kind: String,
    /// The file names it was loaded from.
    pub files: String,
    /// When.
    pub loaded_at: Millis,
    /// By whom.
    pub loaded_by: String,
    /// How many records it gave.
    pub records: i64,
    /// The SHA-256 of the files' bytes.
    pub sha256: String,
}

/// The attribution data as the store keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredData {
    /// ip2asn rows.
    pub asn_ranges: Vec<ip2asn::AsnRange>,
    /// RIR networks and AS objects.
    pub rpsl: rpsl::RpslData,
    /// What was loaded when.
    pub sources: Vec<DataSource>,
}

/// The in-memory attribution tables and register, ready to answer lookups.
#[derive(Debug)]
pub struct Attributor {
    asns: RangeTable<ip2asn::AsnRange>,
    networks: RangeTable<rpsl::Network>,
    autnums: HashMap<u32, rpsl::AutNum>,
    register_prefixes: RangeTable<(usize, String)>,
    register_asns: HashMap<u32, usize>,
    hosters: Vec<Hoster>,
}

impl Attributor {
    /// Builds the tables. Register prefixes that do not parse (they were checked on the way
    /// in) are skipped with a warning.
    pub fn new(data: StoredData, hosters: Vec<Hoster>) -> crate::Result<Attributor> {
        let bad = |e: table::RangeError| crate::Error::Invalid(e.to_string());
        let asns = RangeTable::new(
            data.asn_ranges
                .into_iter()
                .map(|r| (r.first, r.last, r))
                .collect(),
        )
        .map_err(bad)?;
        let networks = RangeTable::new(
            data.rpsl
                .networks
                .into_iter()
                .map(|n| (n.first, n.last, n))
                .collect(),
        )
        .map_err(bad)?;
        let autnums = data.rpsl.autnums.into_iter().map(|a| (a.asn, a)).collect();
        let mut prefixes = Vec::new();
        let mut register_asns = HashMap::new();
        for (i, h) in hosters.iter().enumerate() {
            for p in &h.prefixes {
                match Prefix::parse(p) {
                    Ok(prefix) => prefixes.push((prefix.first(), prefix.last(), (i, p.clone()))),
                    Err(e) => {
                        tracing::warn!(hoster = h.id, error = %e, "skipping a register prefix")
                    }
                }
            }
            for asn in &h.asns {
                // A CDN's AS does not make every site on it the CDN's: only its prefixes do.
                if !h.cdn {
                    register_asns.entry(*asn).or_insert(i);
                }
            }
        }
        Ok(Attributor {
            asns,
            networks,
            autnums,
            register_prefixes: RangeTable::new(prefixes).map_err(bad)?,
            register_asns,
            hosters,
        })
    }

    /// An attributor with no data and no register (everything comes out unknown).
    pub fn empty() -> Attributor {
        Attributor::new(StoredData::default(), Vec::new()).expect("empty tables build")
    }

    fn party(h: &Hoster, source: String) -> Party {
        Party {
            hoster_id: Some(h.id),
            name: h.name.clone(),
            abuse: h.abuse.clone(),
            coc_member: Some(h.coc_member),
            source,
        }
    }

    /// What is known of one address, with the evidence for it.
    pub fn address(&self, ip: IpAddr, evidence: &mut Vec<Evidence>) -> AddrInfo {
        let mut info = AddrInfo {
            ip,
            asn: None,
            as_name: None,
            netname: None,
            country: None,
            hoster: None,
            cdn: None,
        };
        // 1. The register's prefixes.
        let mut registered = None;
        if let Some((i, prefix)) = self.register_prefixes.most_specific(ip) {
            let h = &self.hosters[*i];
            let source = format!("register #{} prefix {prefix}", h.id);
            evidence.push(Evidence {
                step: if h.cdn { "cdn" } else { "register" }.into(),
                value: format!("{ip} is {}'s ({prefix})", h.name),
                source: source.clone(),
            });
            registered = Some((h, source));
        }
        // 2. ip2asn.
        if let Some(r) = self.asns.most_specific(ip) {
            info.asn = Some(r.asn);
            info.as_name = Some(r.description.clone());
            info.country.clone_from(&r.country);
            evidence.push(Evidence {
                step: "asn".into(),
                value: format!("AS{} {}", r.asn, r.description),
                source: format!("ip2asn {} - {}", r.first, r.last),
            });
        }
        // 3. The RIR networks, most specific first.
        let chain = self.networks.containing(ip);
        let mut rir_party: Option<Party> = None;
        if let Some(net) = chain.first() {
            info.netname.clone_from(&net.netname);
            if net.country.is_some() {
                info.country.clone_from(&net.country);
            }
            evidence.push(Evidence {
                step: "network".into(),
                value: format!(
                    "{} - {}{}{}",
                    net.first,
                    net.last,
                    net.netname
                        .as_deref()
                        .map(|n| format!(" {n}"))
                        .unwrap_or_default(),
                    net.org_name
                        .as_deref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default()
                ),
                source: net.source.clone(),
            });
            let name = chain
                .iter()
                .find_map(|n| n.org_name.clone())
                .or_else(|| net.netname.clone())
                .unwrap_or_else(|| format!("{} - {}", net.first, net.last));
            if let Some(holder) = chain.iter().find(|n| n.abuse_mailbox.is_some()) {
                let mailbox = holder.abuse_mailbox.clone().unwrap_or_default();
                evidence.push(Evidence {
                    step: "abuse".into(),
                    value: mailbox.clone(),
                    source: holder.source.clone(),
                });
                rir_party = Some(Party {
                    hoster_id: None,
                    name,
                    abuse: vec![mailbox],
                    coc_member: None,
                    source: holder.source.clone(),
                });
            } else {
                rir_party = Some(Party {
                    hoster_id: None,
                    name,
                    abuse: Vec::new(),
                    coc_member: None,
                    source: net.source.clone(),
                });
            }
        }
        // The AS object, when the networks gave no abuse address.
        if let Some(asn) = info.asn
            && let Some(a) = self.autnums.get(&asn)
            && rir_party.as_ref().is_none_or(|p| p.abuse.is_empty())
        {
            let name = a
                .org_name
                .clone()
                .or_else(|| a.as_name.clone())
                .unwrap_or_else(|| format!("AS{asn}"));
            evidence.push(Evidence {
                step: "autnum".into(),
                value: format!(
                    "AS{asn} {name}{}",
                    a.abuse_mailbox
                        .as_deref()
                        .map(|m| format!(", abuse {m}"))
                        .unwrap_or_default()
                ),
                source: a.source.clone(),
            });
            rir_party = Some(Party {
                hoster_id: None,
                name: rir_party.map_or(name, |p| p.name),
                abuse: a.abuse_mailbox.iter().cloned().collect(),
                coc_member: None,
                source: a.source.clone(),
            });
        }
        // 4. The register by AS, when no prefix matched.
        if registered.is_none()
            && let Some(asn) = info.asn
            && let Some(i) = self.register_asns.get(&asn)
        {
            let h = &self.hosters[*i];
            let source = format!("register #{} AS{asn}", h.id);
            evidence.push(Evidence {
                step: "register".into(),
                value: format!("AS{asn} is {}'s", h.name),
                source: source.clone(),
            });
            registered = Some((h, source));
        }
        match registered {
            Some((h, source)) => {
                let mut party = Self::party(h, source);
                if party.abuse.is_empty()
                    && let Some(rir) = &rir_party
                {
                    // The register names the party; the RIR data still knows its address.
                    party.abuse.clone_from(&rir.abuse);
                }
                if h.cdn {
                    info.cdn = Some(party);
                } else {
                    info.hoster = Some(party);
                }
            }
            None => info.hoster = rir_party,
        }
        if let Some(c) = &info.country {
            evidence.push(Evidence {
                step: "country".into(),
                value: c.clone(),
                source: if chain.first().is_some_and(|n| n.country.is_some()) {
                    chain[0].source.clone()
                } else {
                    "ip2asn".into()
                },
            });
        }
        info
    }

    /// Attributes a host from its DNS answer.
    pub fn attribute(
        &self,
        host: &str,
        dns: &Result<Resolution, DnsError>,
        at: Millis,
    ) -> Attribution {
        let mut evidence = Vec::new();
        let mut out = Attribution {
            host: host.to_string(),
            at,
            cnames: Vec::new(),
            addrs: Vec::new(),
            notify: None,
            hoster: None,
            cdn: None,
            country: None,
            evidence: Vec::new(),
            error: None,
        };
        let res = match dns {
            Ok(r) => r,
            Err(e) => {
                evidence.push(Evidence {
                    step: "dns".into(),
                    value: e.to_string(),
                    source: "resolver".into(),
                });
                out.error = Some(format!("DNS: {e}"));
                out.evidence = evidence;
                return out;
            }
        };
        out.cnames.clone_from(&res.cnames);
        for c in &res.cnames {
            evidence.push(Evidence {
                step: "cname".into(),
                value: c.clone(),
                source: "resolver".into(),
            });
        }
        evidence.push(Evidence {
            step: "dns".into(),
            value: res
                .addrs
                .iter()
                .map(IpAddr::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            source: "resolver".into(),
        });
        for ip in &res.addrs {
            let info = self.address(*ip, &mut evidence);
            if out.cdn.is_none() {
                out.cdn.clone_from(&info.cdn);
            }
            if out.hoster.is_none() {
                out.hoster.clone_from(&info.hoster);
            }
            if out.country.is_none() {
                out.country.clone_from(&info.country);
            }
            out.addrs.push(info);
        }
        out.notify = out.cdn.clone().or_else(|| out.hoster.clone());
        if out.notify.is_none() {
            out.error = Some(if res.addrs.is_empty() {
                "DNS gave no address".into()
            } else {
                "no data or register entry covers the addresses".into()
            });
        } else if out.notify.as_ref().is_some_and(|p| p.abuse.is_empty()) {
            out.error = Some("no abuse address is known for the party".into());
        }
        out.evidence = evidence;
        out
    }

    /// The register entries, as loaded.
    pub fn hosters(&self) -> &[Hoster] {
        &self.hosters
    }

    /// The number of ip2asn ranges, RIR networks and AS objects loaded.
    pub fn sizes(&self) -> (usize, usize, usize) {
        (self.asns.len(), self.networks.len(), self.autnums.len())
    }
}
