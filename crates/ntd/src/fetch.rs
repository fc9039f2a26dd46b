//! Re-checks of reported URLs: is the material still online? Over real HTTP(S), SSRF-safe, and
//! without keeping what was fetched.
//!
//! After a hotline has sent a notice to a hosting provider, Schoon looks at the reported URL
//! again on a schedule, to learn whether (and when) the material was taken down. A
//! [`Fetcher`] does one such look: [`Fetcher::check`] asks for the URL with `GET`, follows
//! redirects itself, reads at most [`FetchConfig::body_cap`] bytes of the final answer, hashes
//! them in memory and returns a [`Check`]: a [`Verdict`], a reason in words, and the evidence
//! (status, the URLs visited, the address connected to, the hashes of the body, timings).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ntd::dns::{DnsConfig, Resolver};
//! use ntd::fetch::{FetchConfig, Fetcher, Verdict};
//!
//! let fetcher = Fetcher::new(Resolver::new(&DnsConfig::default())?, FetchConfig::default())?;
//! // The first look, when the notice is sent: remember what was there.
//! let first = fetcher.check("https://files.hoster.example/f/8c1d.jpg", None).await;
//! // A week later: is that still there?
//! let again = fetcher
//!     .check("https://files.hoster.example/f/8c1d.jpg", first.content.as_ref())
//!     .await;
//! if again.verdict == Verdict::Offline {
//!     println!("taken down: {}", again.reason);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # What a re-check decides
//!
//! | verdict | when | what the hotline does |
//! |---|---|---|
//! | [`Verdict::Online`] | a 2xx answer whose body is the baseline (same SHA-256, or PDQ distance ≤ [`PDQ_MATCH_DISTANCE`]), or any 2xx answer when there is no baseline | remind the provider, escalate |
//! | [`Verdict::Offline`] | HTTP 404, 410 or 451; the name does not exist (NXDOMAIN, or no addresses); the connection is refused; a 2xx text page that contains a removal phrase ("file not found", ...) | record the takedown and its time |
//! | [`Verdict::Changed`] | a 2xx answer, read completely, that is neither the same bytes nor the same image as the baseline | an analyst looks again: the material was probably replaced |
//! | [`Verdict::Inconclusive`] | time-outs, DNS failures, TLS errors, 5xx, 401/403/429 and other statuses, too many redirects, a malformed `Location`, a redirect to another scheme | try again later; never read as "removed" |
//! | [`Verdict::Refused`] | the URL, or a redirect, leads to an address Schoon will not connect to (see below) | nothing was fetched; an analyst looks at the URL |
//!
//! Only clear signals count as offline. A server that is down for maintenance (503), that asks
//! for a login (401, 403) or that rate-limits us (429) says nothing about the material, so
//! those are inconclusive, and so is every failure that might be ours (a time-out, a resolver
//! that did not answer). A refused connection does count as offline: the host is there, but
//! nothing listens any more.
//!
//! # SSRF: which addresses are refused, and why
//!
//! The URLs come from the public. Fetching them from inside the hotline's network is a
//! *server-side request forgery* risk: a report of `http://169.254.169.254/latest/meta-data/`,
//! or of a name whose DNS points at `10.0.0.5`, would make Schoon request things from the
//! cloud's metadata service or the office network, and its verdict would leak whether they
//! exist. So every address is screened with [`forbidden`] before it is connected to, and only
//! public unicast addresses pass:
//!
//! | range | reason | why refused |
//! |---|---|---|
//! | `0.0.0.0/8` | unspecified, this network | "this host"; `0.0.0.0` reaches local services on Linux |
//! | `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16` | private | RFC 1918 internal networks |
//! | `100.64.0.0/10` | cgnat | carrier-grade NAT, the provider's side of a NAT |
//! | `127.0.0.0/8`, `::1` | loopback | this machine |
//! | `169.254.0.0/16`, `fe80::/10` | link-local | incl. `169.254.169.254`, the cloud metadata service |
//! | `192.0.0.0/24` | protocol assignments | IETF special purposes, not a host on the internet |
//! | `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20` | documentation | examples only, never real hosts |
//! | `192.88.99.0/24` | 6to4 relay | deprecated anycast relays |
//! | `198.18.0.0/15`, `2001:2::/48` | benchmarking | lab networks |
//! | `224.0.0.0/4`, `ff00::/8` | multicast | not a single host |
//! | `240.0.0.0/4` | reserved | not routed |
//! | `255.255.255.255` | broadcast | the local network |
//! | `::` | unspecified | as `0.0.0.0` |
//! | `fc00::/7` | unique-local | IPv6's private networks |
//! | `fec0::/10` | site-local | deprecated private networks |
//! | `100::/64` | discard | a black hole by definition |
//! | `2001::/32` | teredo | a tunnel: the real destination is hidden in the address |
//! | `::ffff:0:0/96` | ipv4-mapped … | IPv4 spelled as IPv6: judged by the embedded IPv4 (`::ffff:10.0.0.1` is private, `::ffff:8.8.8.8` passes) |
//! | `::/96` | ipv4-compatible … | deprecated IPv4 spelling: always refused |
//! | `64:ff9b::/96`, `64:ff9b:1::/48` | nat64 … | NAT64 translates to the embedded IPv4: judged by it |
//! | `2002::/16` | 6to4 … | 6to4 tunnels to the IPv4 in bits 16–48: judged by it |
//! | other IPv6 outside `2000::/3` | reserved | not allocated for global unicast |
//!
//! The IPv6 spellings of IPv4 matter because a connect to `[::ffff:127.0.0.1]` *is* a connect
//! to `127.0.0.1`: a check that looked only at IPv4 literals would be bypassed by them.
//! [`FetchConfig::allow_loopback`] lets `127.0.0.0/8`, `::1` and their mapped forms through,
//! for tests against servers on loopback; everything else stays refused.
//!
//! Addresses are screened in two places, because reqwest consults a resolver only for names:
//!
//! * **IP literals** (`http://10.0.0.1/`, `http://[::ffff:a00:1]/`; the URL parser has already
//!   turned `http://0x7f.1/` and friends into plain IPv4) are checked by the fetcher itself
//!   before each request, the asked URL and every redirect alike.
//! * **Names** are resolved through the crate's [`Resolver`](crate::dns::Resolver) (the
//!   configured DNS servers, never `/etc/hosts`), and the client connects only through a
//!   resolver wrapper that drops refused addresses. An answer with only refused addresses is
//!   [`Verdict::Refused`]; a mixed answer (a public and a private address) is trimmed to its
//!   public part, which is logged.
//!
//! No proxy is used (a proxy would do the connecting, out of our sight), no cookies are kept,
//! and only `http` and `https` are spoken.
//!
//! # Redirects
//!
//! The client follows no redirect by itself. On 301, 302, 303, 307 or 308 the fetcher reads
//! `Location`, resolves it against the current URL (so relative ones work), and checks the new
//! URL exactly as it checked the first: scheme, IP literal, DNS, screening. At most
//! [`FetchConfig::max_redirects`] redirects are followed; one more is
//! [`Verdict::Inconclusive`]. Every URL tried goes into [`Check::hops`], the asked one first,
//! so the chain is evidence too. Only `GET` is sent: some servers answer `HEAD` differently.
//!
//! # DNS rebinding
//!
//! A hostile name can answer a public address to a first lookup and a private one to the next
//! (a TTL of zero makes that easy). Whatever the fetcher saw in its own lookup, the address the
//! client connects to comes from the filtering resolver, at connect time; a private answer
//! there fails the connection, and that is reported as [`Verdict::Refused`] too. The fetcher's
//! own lookup exists only to tell "no such name" ([`Verdict::Offline`]) from "only refused
//! addresses" ([`Verdict::Refused`]). Connections are not pooled: every request connects and
//! screens afresh. [`Check::address`] is the address the last request was sent to, as the
//! connection reports it (and it is screened once more).
//!
//! # The body cap
//!
//! Only a 2xx body is read, and at most [`FetchConfig::body_cap`] bytes of it (512 KiB by
//! default), chunk by chunk, whatever `Content-Length` claims: a server streaming gigabytes
//! costs us the cap and no more. A body cut at the cap sets [`Check::truncated`]; it gets no
//! [`Content`] (hashes of a part would be meaningless), so it cannot be compared with a
//! baseline and counts as [`Verdict::Online`] with a reason that says so. Text pages are still
//! searched for removal phrases in what was read. The whole check, redirects included, is
//! bounded by [`FetchConfig::timeout`].
//!
//! # Comparing content
//!
//! A complete 2xx body gets a [`Content`]: its SHA-256 always, and its PDQ hash when it is an
//! image ([`media::sniff`], decoded with [`media::decode_rgb`] under modest [`media::Limits`])
//! whose PDQ quality is at least [`PDQ_MIN_QUALITY`] (flat images give meaningless hashes).
//! The first check's [`Check::content`] is the baseline for later ones:
//!
//! 1. the same SHA-256: the same bytes, [`Verdict::Online`];
//! 2. a text page with a removal phrase ([`FetchConfig::removal_phrases`], matched without
//!    regard to case): a "this file has been removed" page served with 200, [`Verdict::Offline`];
//! 3. both PDQ hashes present and at most [`PDQ_MATCH_DISTANCE`] bits apart: the same picture,
//!    re-encoded, resized or recompressed (hosts do that), [`Verdict::Online`];
//! 4. otherwise the URL now serves something else: [`Verdict::Changed`].
//!
//! # Nothing is stored
//!
//! The body lives in memory only while it is hashed (on a blocking thread, as decoding an image
//! is CPU work) and is dropped before [`Fetcher::check`] returns. A [`Check`] holds hashes,
//! sizes and URLs, never content: Schoon must not become a copy of the material it helps remove.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use sha2::{Digest, Sha256};
use url::{Host, Url};

use crate::dns::{DnsError, Resolver};

/// The largest PDQ Hamming distance (of 256 bits) at which two images count as the same.
///
/// 31 is the threshold Meta recommends for matching: re-encoding, resizing and mild
/// recompression stay well below it, unrelated images land around 128.
pub const PDQ_MATCH_DISTANCE: u32 = 31;

/// The lowest PDQ quality (0–100) at which a body's PDQ hash is kept. Below it an image is too
/// flat for its hash to mean anything (Meta advises ignoring such hashes).
pub const PDQ_MIN_QUALITY: u8 = 50;

/// The largest image (width × height) decoded for a PDQ hash. A small compressed file can claim
/// a huge canvas; this bounds what decoding one costs (about 150 MB of RGB at the limit).
pub const IMAGE_MAX_PIXELS: u64 = 50_000_000;

/// The statuses whose `Location` is followed.
const REDIRECT_STATUSES: [u16; 5] = [301, 302, 303, 307, 308];

/// The statuses that say the material is gone: Not Found, Gone, Unavailable For Legal Reasons.
const GONE_STATUSES: [u16; 3] = [404, 410, 451];

/// The phrases of [`FetchConfig::default`]'s removal list.
const DEFAULT_REMOVAL_PHRASES: [&str; 7] = [
    "this content has been removed",
    "content has been removed",
    "file has been removed",
    "has been deleted",
    "file not found",
    "no longer available",
    "page not found",
];

// ---------------------------------------------------------------------------------------------
// Address screening
// ---------------------------------------------------------------------------------------------

/// One refused IPv4 range and the reason in each spelling it can be met in.
struct V4Range {
    net: u32,
    len: u32,
    /// Plain, IPv4-mapped, IPv4-compatible, NAT64, 6to4.
    reasons: [&'static str; 5],
}

impl V4Range {
    fn contains(&self, addr: u32) -> bool {
        let mask = if self.len == 0 {
            0
        } else {
            u32::MAX << (32 - self.len)
        };
        addr & mask == self.net & mask
    }
}

/// How an IPv4 address was embedded in an IPv6 one; the index into [`V4Range::reasons`].
#[derive(Clone, Copy)]
enum Spelling {
    Plain = 0,
    Mapped = 1,
    Compatible = 2,
    Nat64 = 3,
    SixToFour = 4,
}

macro_rules! v4_ranges {
    ($( [$a:literal, $b:literal, $c:literal, $d:literal] / $len:literal => $reason:literal ),* $(,)?) => {
        /// The refused IPv4 ranges, most specific first (the first match names the reason).
        const V4_RANGES: &[V4Range] = &[$(
            V4Range {
                net: u32::from_be_bytes([$a, $b, $c, $d]),
                len: $len,
                reasons: [
                    $reason,
                    concat!("ipv4-mapped ", $reason),
                    concat!("ipv4-compatible ", $reason),
                    concat!("nat64 ", $reason),
                    concat!("6to4 ", $reason),
                ],
            },
        )*];
    };
}

v4_ranges! {
    [255, 255, 255, 255] / 32 => "broadcast",
    [0, 0, 0, 0] / 32 => "unspecified",
    [0, 0, 0, 0] / 8 => "this network",
    [10, 0, 0, 0] / 8 => "private",
    [100, 64, 0, 0] / 10 => "cgnat",
    [127, 0, 0, 0] / 8 => "loopback",
    [169, 254, 0, 0] / 16 => "link-local",
    [172, 16, 0, 0] / 12 => "private",
    [192, 0, 0, 0] / 24 => "protocol assignments",
    [192, 0, 2, 0] / 24 => "documentation",
    [192, 88, 99, 0] / 24 => "6to4 relay",
    [192, 168, 0, 0] / 16 => "private",
    [198, 18, 0, 0] / 15 => "benchmarking",
    [198, 51, 100, 0] / 24 => "documentation",
    [203, 0, 113, 0] / 24 => "documentation",
    [224, 0, 0, 0] / 4 => "multicast",
    [240, 0, 0, 0] / 4 => "reserved",
}

/// The reason an IPv4 address is refused, in the given spelling.
fn forbidden_v4(addr: Ipv4Addr, spelling: Spelling) -> Option<&'static str> {
    let bits = u32::from(addr);
    V4_RANGES
        .iter()
        .find(|range| range.contains(bits))
        .map(|range| range.reasons[spelling as usize])
}

/// The IPv4 address in the last 32 bits of an IPv6 address.
fn low_v4(addr: Ipv6Addr) -> Ipv4Addr {
    let o = addr.octets();
    Ipv4Addr::new(o[12], o[13], o[14], o[15])
}

fn forbidden_v6(addr: Ipv6Addr) -> Option<&'static str> {
    let s = addr.segments();
    let o = addr.octets();
    if addr.is_unspecified() {
        return Some("unspecified");
    }
    if addr.is_loopback() {
        return Some("loopback");
    }
    // ::ffff:0:0/96, IPv4-mapped: the connect goes to the IPv4 address.
    if s[..5] == [0; 5] && s[5] == 0xffff {
        return forbidden_v4(low_v4(addr), Spelling::Mapped);
    }
    // ::/96, IPv4-compatible (deprecated since RFC 4291): refused whatever it embeds.
    if s[..6] == [0; 6] {
        return Some(forbidden_v4(low_v4(addr), Spelling::Compatible).unwrap_or("ipv4-compatible"));
    }
    // 64:ff9b::/96, the well-known NAT64 prefix (RFC 6052).
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return forbidden_v4(low_v4(addr), Spelling::Nat64);
    }
    // 64:ff9b:1::/48, local-use NAT64 (RFC 8215). Its translators usually take a /96 from it
    // (IPv4 in the last 32 bits); a /48 translator puts it in bits 48..88, skipping bits 64..72.
    // Refused when either reading is: we cannot know which layout the local network uses, and
    // a needless refusal costs an analyst's look, a missed one an internal request.
    if s[..3] == [0x64, 0xff9b, 1] {
        let as_48 = Ipv4Addr::new(o[6], o[7], o[9], o[10]);
        return forbidden_v4(low_v4(addr), Spelling::Nat64)
            .or_else(|| forbidden_v4(as_48, Spelling::Nat64));
    }
    // 2002::/16, 6to4: the tunnel ends at the IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        return forbidden_v4(Ipv4Addr::new(o[2], o[3], o[4], o[5]), Spelling::SixToFour);
    }
    // 2001::/32, Teredo: a tunnel whose server and client addresses are both embedded (the
    // client's obfuscated); no ordinary host lives there.
    if s[..2] == [0x2001, 0] {
        return Some("teredo");
    }
    if s[..3] == [0x2001, 2, 0] {
        return Some("benchmarking");
    }
    if s[..2] == [0x2001, 0xdb8] {
        return Some("documentation");
    }
    if s[0] == 0x3fff && s[1] & 0xf000 == 0 {
        return Some("documentation");
    }
    if s[..4] == [0x100, 0, 0, 0] {
        return Some("discard");
    }
    if s[0] & 0xfe00 == 0xfc00 {
        return Some("unique-local");
    }
    if s[0] & 0xffc0 == 0xfe80 {
        return Some("link-local");
    }
    if s[0] & 0xffc0 == 0xfec0 {
        return Some("site-local");
    }
    if s[0] & 0xff00 == 0xff00 {
        return Some("multicast");
    }
    // Global unicast is allocated from 2000::/3 only; everything else is reserved.
    if s[0] & 0xe000 != 0x2000 {
        return Some("reserved");
    }
    None
}

/// Why an address is refused, or `None` when it is a public unicast address.
///
/// The reason is a short lower-case phrase: `"loopback"`, `"private"`, `"link-local"`,
/// `"cgnat"`, `"multicast"`, `"documentation"`, `"unique-local"`, `"unspecified"`,
/// `"broadcast"`, `"benchmarking"`, `"reserved"`, `"teredo"`, ... IPv4 spelled as IPv6 is judged
/// by the IPv4 it embeds, and the reason says how it was spelled: `"ipv4-mapped private"`
/// (`::ffff:10.0.0.1`), `"nat64 loopback"` (`64:ff9b::7f00:1`), `"6to4 link-local"`
/// (`2002:a9fe:a9fe::1`). The full table is in the [module docs](self).
///
/// ```
/// use ntd::fetch::forbidden;
///
/// assert_eq!(forbidden("169.254.169.254".parse().unwrap()), Some("link-local"));
/// assert_eq!(forbidden("::ffff:10.0.0.1".parse().unwrap()), Some("ipv4-mapped private"));
/// assert_eq!(forbidden("8.8.8.8".parse().unwrap()), None);
/// ```
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(addr) => forbidden_v4(addr, Spelling::Plain),
        IpAddr::V6(addr) => forbidden_v6(addr),
    }
}

/// [`forbidden`], with the loopback exception of [`FetchConfig::allow_loopback`].
#[derive(Debug, Clone, Copy)]
struct Policy {
    allow_loopback: bool,
}

impl Policy {
    fn refusal(self, ip: IpAddr) -> Option<&'static str> {
        let reason = forbidden(ip)?;
        if self.allow_loopback && matches!(reason, "loopback" | "ipv4-mapped loopback") {
            None
        } else {
            Some(reason)
        }
    }

    /// Splits a DNS answer into the addresses that may be connected to and the refused ones.
    fn screen(self, addrs: &[IpAddr]) -> (Vec<IpAddr>, Vec<(IpAddr, &'static str)>) {
        let mut allowed = Vec::new();
        let mut refused = Vec::new();
        for &ip in addrs {
            match self.refusal(ip) {
                None => allowed.push(ip),
                Some(reason) => refused.push((ip, reason)),
            }
        }
        (allowed, refused)
    }
}

/// `10.0.0.1 (private), fd00::1 (unique-local)`.
fn describe_refused(refused: &[(IpAddr, &'static str)]) -> String {
    refused
        .iter()
        .map(|(ip, reason)| format!("{ip} ({reason})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The error of the filtering resolver when a name has only refused addresses.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to refused addresses: {addresses}")]
struct AllRefused {
    host: String,
    addresses: String,
}

/// reqwest's resolver: the crate's DNS resolver, with refused addresses dropped.
///
/// Every connection to a named host goes through here, so the address connected to is one
/// that passed the screening at that moment, whatever an earlier lookup said.
struct ScreeningResolver {
    resolver: Resolver,
    policy: Policy,
}

impl reqwest::dns::Resolve for ScreeningResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = self.resolver.clone();
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolution = resolver.resolve(&host).await?;
            let (allowed, refused) = policy.screen(&resolution.addrs);
            if allowed.is_empty() {
                tracing::warn!(%host, refused = %describe_refused(&refused), "re-check: connect refused");
                return Err(Box::new(AllRefused {
                    host,
                    addresses: describe_refused(&refused),
                }) as Box<dyn StdError + Send + Sync>);
            }
            if !refused.is_empty() {
                tracing::info!(%host, refused = %describe_refused(&refused), "re-check: dropped refused addresses of a mixed answer");
            }
            let addrs: reqwest::dns::Addrs =
                Box::new(allowed.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration and results
// ---------------------------------------------------------------------------------------------

/// How a [`Fetcher`] checks.
///
/// | field | default |
/// |---|---|
/// | `allow_loopback` | `false` |
/// | `max_redirects` | 5 |
/// | `body_cap` | 512 KiB |
/// | `connect_timeout` | 5 s |
/// | `timeout` | 15 s |
/// | `user_agent` | `Schoon/<version> (notice-and-takedown re-check)` |
/// | `removal_phrases` | "this content has been removed", "content has been removed", "file has been removed", "has been deleted", "file not found", "no longer available", "page not found" |
#[derive(Clone, Debug)]
pub struct FetchConfig {
    /// For tests only: let `127.0.0.0/8`, `::1` and their IPv4-mapped forms through, so servers
    /// on loopback can be checked. Every other refused address stays refused.
    pub allow_loopback: bool,
    /// How many redirects are followed; one more makes the check inconclusive.
    pub max_redirects: usize,
    /// The most bytes of a body that are read; the rest is never received.
    pub body_cap: usize,
    /// How long one TCP (and TLS) connect may take.
    pub connect_timeout: Duration,
    /// How long the whole check may take: DNS, every redirect, the body, the hashing.
    pub timeout: Duration,
    /// The `User-Agent` header sent.
    pub user_agent: String,
    /// Phrases that mark a 2xx text page as a "content removed" notice, matched anywhere in the
    /// page without regard to case. A phrase common on live pages makes live material look
    /// removed: keep them specific.
    pub removal_phrases: Vec<String>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            allow_loopback: false,
            max_redirects: 5,
            body_cap: 512 * 1024,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            user_agent: format!(
                "Schoon/{} (notice-and-takedown re-check)",
                env!("CARGO_PKG_VERSION")
            ),
            removal_phrases: DEFAULT_REMOVAL_PHRASES
                .iter()
                .map(|&p| p.to_owned())
                .collect(),
        }
    }
}

/// What a body was: hashes only, never the bytes. The baseline of later checks.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Content {
    /// The SHA-256 of the body, 64 lower-case hex digits.
    pub sha256: String,
    /// The PDQ hash (64 hex digits) when the body is an image whose PDQ quality is at least
    /// [`PDQ_MIN_QUALITY`].
    pub pdq: Option<String>,
}

/// What a re-check concluded. See the table in the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The material is still there (or, without a baseline, the URL still serves something).
    Online,
    /// The material is gone: 404/410/451, no such name, connection refused, a removal page.
    Offline,
    /// The URL serves something else than the baseline.
    Changed,
    /// No conclusion: time-outs, server errors, access denied, redirect trouble. Try later.
    Inconclusive,
    /// Not fetched: the URL or a redirect leads to an address Schoon does not connect to.
    Refused,
}

impl Verdict {
    /// Every verdict.
    pub const ALL: [Verdict; 5] = [
        Verdict::Online,
        Verdict::Offline,
        Verdict::Changed,
        Verdict::Inconclusive,
        Verdict::Refused,
    ];

    /// The lower-case name, as serialized: `"online"`, `"offline"`, `"changed"`,
    /// `"inconclusive"`, `"refused"`.
    pub const fn name(self) -> &'static str {
        match self {
            Verdict::Online => "online",
            Verdict::Offline => "offline",
            Verdict::Changed => "changed",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Refused => "refused",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A string that is not the [`Verdict::name`] of any verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown verdict {0:?} (expected online, offline, changed, inconclusive or refused)")]
pub struct ParseVerdictError(
    /// The string that names no verdict.
    pub String,
);

impl FromStr for Verdict {
    type Err = ParseVerdictError;

    /// Parses a [`Verdict::name`] (exactly, lower case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Verdict::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| ParseVerdictError(s.to_owned()))
    }
}

/// The result of one [`Fetcher::check`]: the verdict and its evidence.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Check {
    /// What the check concluded.
    pub verdict: Verdict,
    /// Why, in words: `"HTTP 404"`, `"connection refused"`,
    /// `"redirect to 10.0.0.1 refused: private"`, `"same image (PDQ distance 4)"`, ...
    pub reason: String,
    /// The last HTTP status received, if any.
    pub status: Option<u16>,
    /// The URLs tried, in order: the asked URL as given, then each redirect target. A target
    /// that was refused is listed; one beyond [`FetchConfig::max_redirects`] is not.
    pub hops: Vec<String>,
    /// The IP address the last request was sent to, if a request was sent.
    pub address: Option<String>,
    /// The hashes of the final 2xx body, when it was read completely.
    pub content: Option<Content>,
    /// How many bytes of the final 2xx body were read (at most [`FetchConfig::body_cap`]).
    pub bytes: u64,
    /// Whether the body was longer than the cap (and so was cut).
    pub truncated: bool,
    /// How long the check took, in milliseconds.
    pub millis: u64,
}

/// Why a [`Fetcher`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum FetchSetupError {
    /// The HTTP client could not be built (for example an invalid `User-Agent`, or no TLS
    /// root certificates).
    #[error("building the HTTP client: {0}")]
    Client(String),
}

// ---------------------------------------------------------------------------------------------
// The fetcher
// ---------------------------------------------------------------------------------------------

/// Checks reported URLs (see the [module docs](self)). Cheap to clone: clones share the client.
#[derive(Clone)]
pub struct Fetcher {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    resolver: Resolver,
    policy: Policy,
    config: FetchConfig,
    /// `config.removal_phrases`, lower-cased, empty ones dropped.
    phrases: Vec<String>,
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetcher")
            .field("resolver", &self.inner.resolver)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Installs rustls' ring provider as the process default, once (reqwest is built without one).
fn install_crypto_provider() {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // Fails only when another provider was installed first; that one is used then.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Which URL of a chain is being looked at, for the wording of reasons.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Hop {
    Asked,
    Redirect,
}

/// A verdict, its reason and (for a complete 2xx body) its content.
struct Outcome {
    verdict: Verdict,
    reason: String,
    content: Option<Content>,
}

impl Outcome {
    fn new(verdict: Verdict, reason: impl Into<String>) -> Outcome {
        Outcome {
            verdict,
            reason: reason.into(),
            content: None,
        }
    }

    fn with_content(mut self, content: Option<Content>) -> Outcome {
        self.content = content;
        self
    }
}

/// The evidence gathered so far; kept outside the check's future so a time-out keeps it.
#[derive(Default)]
struct Progress {
    hops: Vec<String>,
    status: Option<u16>,
    address: Option<String>,
    bytes: u64,
    truncated: bool,
}

impl Fetcher {
    /// A fetcher resolving names with `resolver` and checking as `config` says.
    ///
    /// Builds the HTTP client (no redirects, no proxy, no cookies, no connection pooling, the
    /// screening resolver) and installs rustls' `ring` crypto provider as the process default
    /// if none is installed yet. Needs no runtime; use the fetcher within one tokio runtime, as
    /// the [`Resolver`].
    pub fn new(resolver: Resolver, config: FetchConfig) -> Result<Fetcher, FetchSetupError> {
        install_crypto_provider();
        let policy = Policy {
            allow_loopback: config.allow_loopback,
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .referer(false)
            .connect_timeout(config.connect_timeout)
            .pool_max_idle_per_host(0)
            .user_agent(config.user_agent.as_str())
            .dns_resolver(Arc::new(ScreeningResolver {
                resolver: resolver.clone(),
                policy,
            }))
            .build()
            .map_err(|e| FetchSetupError::Client(error_chain(&e)))?;
        let phrases = config
            .removal_phrases
            .iter()
            .map(|p| p.trim().to_lowercase())
            .filter(|p| !p.is_empty())
            .collect();
        Ok(Fetcher {
            inner: Arc::new(Inner {
                client,
                resolver,
                policy,
                config,
                phrases,
            }),
        })
    }

    /// The configuration this fetcher checks with.
    pub fn config(&self) -> &FetchConfig {
        &self.inner.config
    }

    /// Checks `url` once and says whether the material is still there.
    ///
    /// `baseline` is the [`Check::content`] of an earlier check of the same URL (usually the
    /// one made when the notice was sent); without it a 2xx answer is simply
    /// [`Verdict::Online`]. Never fails: every problem is a verdict with a reason. Takes at most
    /// about [`FetchConfig::timeout`].
    pub async fn check(&self, url: &str, baseline: Option<&Content>) -> Check {
        let started = Instant::now();
        let limit = self.inner.config.timeout;
        let mut progress = Progress::default();
        let outcome =
            match tokio::time::timeout(limit, self.run(url, baseline, &mut progress)).await {
                Ok(outcome) => outcome,
                Err(_) => Outcome::new(Verdict::Inconclusive, format!("timed out after {limit:?}")),
            };
        let check = Check {
            verdict: outcome.verdict,
            reason: outcome.reason,
            status: progress.status,
            hops: progress.hops,
            address: progress.address,
            content: outcome.content,
            bytes: progress.bytes,
            truncated: progress.truncated,
            millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        tracing::debug!(
            url,
            verdict = check.verdict.name(),
            reason = %check.reason,
            status = ?check.status,
            hops = check.hops.len(),
            millis = check.millis,
            "re-check"
        );
        check
    }

    /// POSTs a JSON `body` to `url` with extra `headers` (a notice to a hoster's webhook) and
    /// returns the HTTP status. The same screening as [`Fetcher::check`] applies: the host's
    /// addresses must pass [`forbidden`] (or the loopback exception), and redirects are not
    /// followed (a webhook that redirects is misconfigured). The answer's body is not read.
    pub async fn post_json(
        &self,
        url: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Result<u16, String> {
        let url = Url::parse(url.trim()).map_err(|e| format!("malformed webhook URL: {e}"))?;
        if let Err(outcome) = self.admit(&url, Hop::Asked).await {
            return Err(format!("webhook refused: {}", outcome.reason));
        }
        let mut req = self
            .inner
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        match tokio::time::timeout(self.inner.config.timeout, req.send()).await {
            Ok(Ok(response)) => Ok(response.status().as_u16()),
            Ok(Err(e)) => Err(format!("webhook: {}", error_chain(&e))),
            Err(_) => Err(format!(
                "webhook: no answer within {:?}",
                self.inner.config.timeout
            )),
        }
    }

    /// The check itself, without the overall time limit.
    async fn run(
        &self,
        asked: &str,
        baseline: Option<&Content>,
        progress: &mut Progress,
    ) -> Outcome {
        progress.hops.push(asked.to_owned());
        let mut url = match Url::parse(asked.trim()) {
            Ok(url) => url,
            Err(e) => return Outcome::new(Verdict::Inconclusive, format!("malformed URL: {e}")),
        };
        let max_redirects = self.inner.config.max_redirects;
        let mut redirects = 0;
        loop {
            let hop = if redirects == 0 {
                Hop::Asked
            } else {
                Hop::Redirect
            };
            progress.address = None;
            if let Err(outcome) = self.admit(&url, hop).await {
                return outcome;
            }

            let response = match self
                .inner
                .client
                .get(url.clone())
                .header(ACCEPT, "*/*")
                .send()
                .await
            {
                Ok(response) => response,
                Err(e) => return self.failure(&e),
            };
            if let Some(remote) = response.remote_addr() {
                progress.address = Some(remote.ip().to_string());
                // Cannot happen (both paths to a connect are screened); checked all the same.
                if let Some(reason) = self.inner.policy.refusal(remote.ip()) {
                    return Outcome::new(
                        Verdict::Refused,
                        format!("connected to {} refused: {reason}", remote.ip()),
                    );
                }
            }
            let status = response.status().as_u16();
            progress.status = Some(status);

            if REDIRECT_STATUSES.contains(&status) {
                let next = match next_url(&url, &response, status) {
                    Ok(next) => next,
                    Err(outcome) => return outcome,
                };
                if redirects >= max_redirects {
                    return Outcome::new(
                        Verdict::Inconclusive,
                        format!("too many redirects (more than {max_redirects})"),
                    );
                }
                redirects += 1;
                progress.hops.push(next.to_string());
                url = next;
                continue;
            }
            if GONE_STATUSES.contains(&status) {
                return Outcome::new(Verdict::Offline, format!("HTTP {status}"));
            }
            if !(200..300).contains(&status) {
                return Outcome::new(Verdict::Inconclusive, format!("HTTP {status}"));
            }
            return self.judge(response, status, baseline, progress).await;
        }
    }

    /// Checks a URL before it is requested: its scheme, and its host's addresses. `Err` is the
    /// final outcome when the URL may not (or cannot) be requested.
    async fn admit(&self, url: &Url, hop: Hop) -> Result<(), Outcome> {
        let scheme = url.scheme();
        if scheme != "http" && scheme != "https" {
            let reason = match hop {
                Hop::Asked => format!("scheme {scheme}: is not http or https"),
                Hop::Redirect => format!("redirect to a {scheme}: URL (not http or https)"),
            };
            return Err(Outcome::new(Verdict::Inconclusive, reason));
        }
        let refused = |what: &dyn fmt::Display, why: &dyn fmt::Display| {
            let reason = match hop {
                Hop::Asked => format!("{what} refused: {why}"),
                Hop::Redirect => format!("redirect to {what} refused: {why}"),
            };
            Outcome::new(Verdict::Refused, reason)
        };
        let ip = match url.host() {
            None => return Err(Outcome::new(Verdict::Inconclusive, "the URL has no host")),
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(Host::Domain(name)) => {
                let resolution = self
                    .inner
                    .resolver
                    .resolve(name)
                    .await
                    .map_err(|e| dns_outcome(&e))?;
                let (allowed, refused_addrs) = self.inner.policy.screen(&resolution.addrs);
                if allowed.is_empty() {
                    let why = format!(
                        "it resolves only to refused addresses: {}",
                        describe_refused(&refused_addrs)
                    );
                    return Err(refused(&name, &why));
                }
                if !refused_addrs.is_empty() {
                    tracing::debug!(
                        host = name,
                        refused = %describe_refused(&refused_addrs),
                        "re-check: a mixed DNS answer; only its allowed addresses will be used"
                    );
                }
                return Ok(());
            }
        };
        match self.inner.policy.refusal(ip) {
            Some(why) => Err(refused(&ip, &why)),
            None => Ok(()),
        }
    }

    /// The outcome of a request that got no response.
    fn failure(&self, error: &reqwest::Error) -> Outcome {
        let mut source: Option<&(dyn StdError + 'static)> = Some(error);
        while let Some(err) = source {
            if let Some(refused) = err.downcast_ref::<AllRefused>() {
                return Outcome::new(
                    Verdict::Refused,
                    format!("{refused} (the DNS answer changed since the first lookup)"),
                );
            }
            if let Some(dns) = err.downcast_ref::<DnsError>() {
                return dns_outcome(dns);
            }
            if let Some(tls) = err.downcast_ref::<rustls::Error>() {
                return Outcome::new(Verdict::Inconclusive, format!("TLS: {tls}"));
            }
            if let Some(io) = err.downcast_ref::<io::Error>() {
                if io.kind() == io::ErrorKind::ConnectionRefused {
                    return Outcome::new(Verdict::Offline, "connection refused");
                }
                if let Some(tls) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
                    return Outcome::new(Verdict::Inconclusive, format!("TLS: {tls}"));
                }
            }
            source = err.source();
        }
        let reason = if error.is_timeout() && error.is_connect() {
            format!(
                "connect timed out after {:?}",
                self.inner.config.connect_timeout
            )
        } else if error.is_timeout() {
            "timed out".to_owned()
        } else if error.is_connect() {
            format!("connection failed: {}", error_chain(error))
        } else {
            format!("request failed: {}", error_chain(error))
        };
        Outcome::new(Verdict::Inconclusive, reason)
    }

    /// Reads a 2xx body (up to the cap), hashes it, and compares it with the baseline.
    async fn judge(
        &self,
        mut response: reqwest::Response,
        status: u16,
        baseline: Option<&Content>,
        progress: &mut Progress,
    ) -> Outcome {
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        let cap = self.inner.config.body_cap;
        let mut body: Vec<u8> = Vec::with_capacity(cap.min(64 * 1024));
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = cap - body.len();
                    if chunk.len() > room {
                        body.extend_from_slice(&chunk[..room]);
                        progress.truncated = true;
                    } else {
                        body.extend_from_slice(&chunk);
                    }
                    progress.bytes = body.len() as u64;
                    if progress.truncated {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    return Outcome::new(
                        Verdict::Inconclusive,
                        format!(
                            "HTTP {status}, but reading the body failed: {}",
                            error_chain(&e)
                        ),
                    );
                }
            }
        }
        // Hang up at once; the rest of a capped body is never received.
        drop(response);
        let truncated = progress.truncated;

        let image = media::sniff(&body).is_some();
        let removal = if !image && is_textual(content_type.as_deref()) {
            self.removal_phrase(&body)
        } else {
            None
        };
        let content = if truncated {
            drop(body);
            None
        } else {
            let limits = media::Limits {
                max_bytes: cap as u64,
                max_pixels: IMAGE_MAX_PIXELS,
                ..media::Limits::DEFAULT
            };
            // The body moves to the blocking thread and is dropped there once hashed.
            match tokio::task::spawn_blocking(move || content_of(body, image, &limits)).await {
                Ok(content) => Some(content),
                Err(e) => {
                    return Outcome::new(
                        Verdict::Inconclusive,
                        format!("hashing the body failed: {e}"),
                    );
                }
            }
        };

        let cap_text = size_text(cap);
        let outcome = decide(
            status,
            baseline,
            content.as_ref(),
            removal,
            truncated,
            &cap_text,
        );
        outcome.with_content(content)
    }

    /// The first configured removal phrase found in a text body (as configured, not lowered).
    fn removal_phrase(&self, body: &[u8]) -> Option<&str> {
        if self.inner.phrases.is_empty() {
            return None;
        }
        let text = String::from_utf8_lossy(body).to_lowercase();
        let index = self.inner.phrases.iter().position(|p| text.contains(p))?;
        // `phrases` keeps the order of the non-empty configured phrases.
        self.inner
            .config
            .removal_phrases
            .iter()
            .filter(|p| !p.trim().is_empty())
            .nth(index)
            .map(|p| p.trim())
    }
}

/// The redirect target of a 3xx response, resolved against the current URL.
fn next_url(current: &Url, response: &reqwest::Response, status: u16) -> Result<Url, Outcome> {
    let Some(location) = response.headers().get(LOCATION) else {
        return Err(Outcome::new(
            Verdict::Inconclusive,
            format!("HTTP {status} without a Location"),
        ));
    };
    // Not only ASCII: some servers send UTF-8, which the URL parser percent-encodes.
    let Ok(location) = std::str::from_utf8(location.as_bytes()) else {
        return Err(Outcome::new(
            Verdict::Inconclusive,
            format!("HTTP {status} with a malformed Location (not UTF-8)"),
        ));
    };
    current.join(location.trim()).map_err(|e| {
        Outcome::new(
            Verdict::Inconclusive,
            format!("HTTP {status} with a malformed Location {location:?}: {e}"),
        )
    })
}

/// The outcome of a failed lookup.
fn dns_outcome(error: &DnsError) -> Outcome {
    match error {
        DnsError::NotFound(m) => Outcome::new(Verdict::Offline, format!("DNS: {m}")),
        DnsError::Timeout(m) => Outcome::new(Verdict::Inconclusive, format!("DNS timed out: {m}")),
        DnsError::Failed(m) => Outcome::new(Verdict::Inconclusive, format!("DNS failed: {m}")),
    }
}

/// Whether a body of this `Content-Type` is a page to search for removal phrases. Without a
/// `Content-Type`, anything that is not an image is.
fn is_textual(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return true;
    };
    let mime = content_type.split(';').next().unwrap_or("").trim();
    mime.is_empty()
        || mime.starts_with("text/")
        || mime.ends_with("+xml")
        || mime.ends_with("+json")
        || matches!(
            mime,
            "application/xhtml+xml" | "application/xml" | "application/json"
        )
}

/// The hashes of a complete body. Runs on a blocking thread (decoding is CPU work).
fn content_of(body: Vec<u8>, image: bool, limits: &media::Limits) -> Content {
    let sha256 = hex::encode(Sha256::digest(&body));
    let pdq = if image { pdq_of(&body, limits) } else { None };
    Content { sha256, pdq }
}

/// The PDQ hash of an image body, if it decodes and is not too flat.
fn pdq_of(body: &[u8], limits: &media::Limits) -> Option<String> {
    let rgb = match media::decode_rgb(body, limits) {
        Ok(rgb) => rgb,
        Err(e) => {
            tracing::debug!(error = %e, "re-check: the image does not decode; no PDQ hash");
            return None;
        }
    };
    let pixels = pdq::Pixels::rgb(&rgb.data, rgb.width, rgb.height).ok()?;
    let hash = pdq::hash(&pixels);
    (hash.quality >= PDQ_MIN_QUALITY).then(|| hash.hash.to_hex())
}

/// The verdict for a 2xx body, given what was read of it.
fn decide(
    status: u16,
    baseline: Option<&Content>,
    content: Option<&Content>,
    removal: Option<&str>,
    truncated: bool,
    cap: &str,
) -> Outcome {
    // The same bytes as the baseline: whatever they say, nothing changed.
    if let (Some(baseline), Some(content)) = (baseline, content)
        && baseline.sha256.eq_ignore_ascii_case(&content.sha256)
    {
        return Outcome::new(Verdict::Online, "same content (SHA-256 equal)");
    }
    if let Some(phrase) = removal {
        return Outcome::new(Verdict::Offline, format!("removal page ({phrase:?})"));
    }
    let Some(baseline) = baseline else {
        let reason = if truncated {
            format!("HTTP {status} (body larger than {cap}; only the first {cap} read)")
        } else {
            format!("HTTP {status}")
        };
        return Outcome::new(Verdict::Online, reason);
    };
    let Some(content) = content else {
        return Outcome::new(
            Verdict::Online,
            format!(
                "HTTP {status}, but the body is larger than {cap} and could not be compared with the baseline"
            ),
        );
    };
    let parse = |hex: &Option<String>| hex.as_deref().and_then(|h| h.parse::<pdq::Hash256>().ok());
    match (parse(&baseline.pdq), parse(&content.pdq)) {
        (Some(before), Some(now)) => {
            let distance = before.distance(&now);
            if distance <= PDQ_MATCH_DISTANCE {
                Outcome::new(
                    Verdict::Online,
                    format!("same image (PDQ distance {distance})"),
                )
            } else {
                Outcome::new(
                    Verdict::Changed,
                    format!("replaced: different image (PDQ distance {distance})"),
                )
            }
        }
        (Some(_), None) => Outcome::new(
            Verdict::Changed,
            "replaced: the baseline was an image, this is not (or has no usable PDQ hash)",
        ),
        _ => Outcome::new(
            Verdict::Changed,
            "replaced: different content (SHA-256 differs, no PDQ hashes to compare)",
        ),
    }
}

/// `512 KiB`, `3 MiB`, or `1000 bytes`.
fn size_text(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// An error and its sources, `": "`-separated, each message once.
fn error_chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(err) = source {
        let message = err.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = err.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[track_caller]
    fn refused_as(addr: &str, reason: &str) {
        assert_eq!(forbidden(ip(addr)), Some(reason), "{addr}");
    }

    #[track_caller]
    fn passes(addr: &str) {
        assert_eq!(forbidden(ip(addr)), None, "{addr}");
    }

    #[test]
    fn ipv4_ranges_are_refused_at_both_ends() {
        let cases = [
            ("0.0.0.0", "0.0.0.0", "unspecified"),
            ("0.0.0.1", "0.255.255.255", "this network"),
            ("10.0.0.0", "10.255.255.255", "private"),
            ("100.64.0.0", "100.127.255.255", "cgnat"),
            ("127.0.0.0", "127.255.255.255", "loopback"),
            ("169.254.0.0", "169.254.255.255", "link-local"),
            ("172.16.0.0", "172.31.255.255", "private"),
            ("192.0.0.0", "192.0.0.255", "protocol assignments"),
            ("192.0.2.0", "192.0.2.255", "documentation"),
            ("192.88.99.0", "192.88.99.255", "6to4 relay"),
            ("192.168.0.0", "192.168.255.255", "private"),
            ("198.18.0.0", "198.19.255.255", "benchmarking"),
            ("198.51.100.0", "198.51.100.255", "documentation"),
            ("203.0.113.0", "203.0.113.255", "documentation"),
            ("224.0.0.0", "239.255.255.255", "multicast"),
            ("240.0.0.0", "255.255.255.254", "reserved"),
            ("255.255.255.255", "255.255.255.255", "broadcast"),
        ];
        for (first, last, reason) in cases {
            refused_as(first, reason);
            refused_as(last, reason);
        }
        refused_as("169.254.169.254", "link-local");
    }

    #[test]
    fn ipv4_neighbours_of_refused_ranges_pass() {
        for addr in [
            "1.0.0.0",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.0.3.0",
            "192.88.98.255",
            "192.88.100.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.255",
            "198.51.101.0",
            "203.0.112.255",
            "203.0.114.0",
            "223.255.255.255",
        ] {
            passes(addr);
        }
    }

    #[test]
    fn ipv6_ranges_are_refused() {
        let cases = [
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("100::", "discard"),
            ("100::ffff:ffff:ffff:ffff", "discard"),
            ("2001::", "teredo"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo"),
            ("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "teredo"),
            ("2001:2::", "benchmarking"),
            ("2001:2:0:ffff:ffff:ffff:ffff:ffff", "benchmarking"),
            ("2001:db8::", "documentation"),
            ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "documentation"),
            ("3fff::", "documentation"),
            ("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "documentation"),
            ("fc00::", "unique-local"),
            ("fd00::1", "unique-local"),
            ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique-local"),
            ("fe80::", "link-local"),
            ("fe80::1", "link-local"),
            ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local"),
            ("fec0::", "site-local"),
            ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "site-local"),
            ("ff00::", "multicast"),
            ("ff02::1", "multicast"),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast"),
            // Outside 2000::/3: not allocated for global unicast.
            ("101::1", "reserved"),
            ("4000::1", "reserved"),
            ("e000::1", "reserved"),
        ];
        for (addr, reason) in cases {
            refused_as(addr, reason);
        }
    }

    #[test]
    fn ipv4_mapped_addresses_are_judged_by_their_ipv4() {
        refused_as("::ffff:10.0.0.1", "ipv4-mapped private");
        refused_as("::ffff:127.0.0.1", "ipv4-mapped loopback");
        refused_as("::ffff:169.254.169.254", "ipv4-mapped link-local");
        refused_as("::ffff:0.0.0.0", "ipv4-mapped unspecified");
        refused_as("::ffff:100.64.0.1", "ipv4-mapped cgnat");
        refused_as("::ffff:255.255.255.255", "ipv4-mapped broadcast");
        refused_as("::ffff:224.0.0.1", "ipv4-mapped multicast");
        // The same, written in hex.
        refused_as("::ffff:a00:1", "ipv4-mapped private");
        refused_as("::ffff:7f00:1", "ipv4-mapped loopback");
        passes("::ffff:8.8.8.8");
        passes("::ffff:1.1.1.1");
    }

    #[test]
    fn ipv4_compatible_addresses_are_refused() {
        refused_as("::10.0.0.1", "ipv4-compatible private");
        refused_as("::127.0.0.1", "ipv4-compatible loopback");
        refused_as("::169.254.169.254", "ipv4-compatible link-local");
        refused_as("::8.8.8.8", "ipv4-compatible");
        refused_as("::2", "ipv4-compatible this network");
    }

    #[test]
    fn nat64_addresses_are_judged_by_their_ipv4() {
        refused_as("64:ff9b::10.0.0.1", "nat64 private");
        refused_as("64:ff9b::7f00:1", "nat64 loopback");
        refused_as("64:ff9b::169.254.169.254", "nat64 link-local");
        passes("64:ff9b::8.8.8.8");
        // Local-use NAT64, /96 reading (last 32 bits) and /48 reading (bits 48..88).
        refused_as("64:ff9b:1::10.0.0.1", "nat64 private");
        refused_as("64:ff9b:1:a00:1:0:808:808", "nat64 private");
        refused_as("64:ff9b:1:7f00:1:0:808:808", "nat64 loopback");
        passes("64:ff9b:1:808:8:800:808:808");
        // Not NAT64: 64:ff9b::/96 is exact.
        refused_as("64:ff9b:0:0:1::a00:1", "reserved");
    }

    #[test]
    fn sixtofour_addresses_are_judged_by_their_ipv4() {
        refused_as("2002:a00:1::1", "6to4 private");
        refused_as("2002:7f00:1::", "6to4 loopback");
        refused_as("2002:a9fe:a9fe::1", "6to4 link-local");
        refused_as("2002:c000:201::1", "6to4 documentation");
        refused_as("2002:e000:1::1", "6to4 multicast");
        passes("2002:0808:0808::1");
        passes("2002:101:101:1::1");
    }

    #[test]
    fn public_addresses_pass() {
        for addr in [
            "8.8.8.8",
            "1.1.1.1",
            "9.9.9.9",
            "185.15.59.224",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4001:80b::200e",
            "2001:1::1",
            "2001:3::1",
            "2003::1",
            "3ffe::1",
            "3fff:1000::1",
            "::ffff:8.8.8.8",
            "2002:0808:0808::1",
        ] {
            passes(addr);
        }
    }

    #[test]
    fn loopback_exception_is_only_loopback() {
        let tests = Policy {
            allow_loopback: true,
        };
        for addr in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(tests.refusal(ip(addr)), None, "{addr}");
        }
        for addr in [
            "10.0.0.1",
            "0.0.0.0",
            "::",
            "169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "::127.0.0.1",
            "fd00::1",
        ] {
            assert!(tests.refusal(ip(addr)).is_some(), "{addr}");
        }
        let production = Policy {
            allow_loopback: false,
        };
        assert_eq!(production.refusal(ip("127.0.0.1")), Some("loopback"));
        assert_eq!(
            production.refusal(ip("::ffff:127.0.0.1")),
            Some("ipv4-mapped loopback")
        );
    }

    #[test]
    fn a_mixed_answer_keeps_its_public_part() {
        let policy = Policy {
            allow_loopback: false,
        };
        let (allowed, refused) = policy.screen(&[
            ip("10.0.0.1"),
            ip("8.8.8.8"),
            ip("fd00::1"),
            ip("2606:4700::1"),
        ]);
        assert_eq!(allowed, [ip("8.8.8.8"), ip("2606:4700::1")]);
        assert_eq!(
            describe_refused(&refused),
            "10.0.0.1 (private), fd00::1 (unique-local)"
        );
    }

    #[test]
    fn verdict_names_round_trip() {
        for verdict in Verdict::ALL {
            assert_eq!(verdict.name().parse::<Verdict>(), Ok(verdict));
            assert_eq!(
                serde_json::to_string(&verdict).ok(),
                Some(format!("\"{}\"", verdict.name()))
            );
        }
        assert!("Online".parse::<Verdict>().is_err());
        assert!("gone".parse::<Verdict>().is_err());
    }

    #[test]
    fn content_types_searched_for_removal_phrases() {
        assert!(is_textual(None));
        assert!(is_textual(Some("text/html; charset=utf-8")));
        assert!(is_textual(Some("application/xhtml+xml")));
        assert!(is_textual(Some("application/json")));
        assert!(!is_textual(Some("image/png")));
        assert!(!is_textual(Some("application/octet-stream")));
    }

    #[test]
    fn decisions() {
        let a = Content {
            sha256: "aa".repeat(32),
            pdq: Some("0".repeat(64)),
        };
        let near = Content {
            sha256: "bb".repeat(32),
            pdq: Some(format!("{}{}", "f", "0".repeat(63))),
        };
        let far = Content {
            sha256: "cc".repeat(32),
            pdq: Some("f".repeat(64)),
        };
        let text = Content {
            sha256: "dd".repeat(32),
            pdq: None,
        };
        let cap = "512 KiB";
        let d = |baseline, content, removal, truncated| {
            let o = decide(200, baseline, content, removal, truncated, cap);
            (o.verdict, o.reason)
        };
        assert_eq!(d(None, Some(&a), None, false).0, Verdict::Online);
        assert_eq!(
            d(Some(&a), Some(&a), None, false),
            (Verdict::Online, "same content (SHA-256 equal)".to_owned())
        );
        assert_eq!(
            d(Some(&a), Some(&near), None, false),
            (Verdict::Online, "same image (PDQ distance 4)".to_owned())
        );
        assert_eq!(
            d(Some(&a), Some(&far), None, false),
            (
                Verdict::Changed,
                "replaced: different image (PDQ distance 256)".to_owned()
            )
        );
        assert_eq!(d(Some(&a), Some(&text), None, false).0, Verdict::Changed);
        assert_eq!(d(Some(&text), Some(&a), None, false).0, Verdict::Changed);
        assert_eq!(
            d(Some(&text), Some(&a), Some("file not found"), false),
            (
                Verdict::Offline,
                "removal page (\"file not found\")".to_owned()
            )
        );
        let (verdict, reason) = d(Some(&a), None, None, true);
        assert_eq!(verdict, Verdict::Online);
        assert!(reason.contains("could not be compared"), "{reason}");
    }

    #[test]
    fn sizes_in_words() {
        assert_eq!(size_text(512 * 1024), "512 KiB");
        assert_eq!(size_text(3 * 1024 * 1024), "3 MiB");
        assert_eq!(size_text(1000), "1000 bytes");
    }
}
