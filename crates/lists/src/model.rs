//! The nouns of the hash check: organisations, roles, keys, lists and list versions.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Milliseconds since the Unix epoch, UTC. Stored as a plain integer in both databases, so
/// SQLite and PostgreSQL sort and compare instants the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Millis(pub i64);

impl Millis {
    /// The current instant from the system clock.
    pub fn now() -> Millis {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Millis(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }

    /// RFC 3339 text, e.g. `2026-11-23T09:30:00.123Z`.
    pub fn rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1_000_000;
        match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
            Ok(t) => t
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| self.0.to_string()),
            Err(_) => self.0.to_string(),
        }
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// Where the clock comes from. Production uses the system clock; tests move time by hand.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Millis;
}

/// A clock that stands still until it is set or moved: for tests, and for writing history
/// with its real dates (demo data, imports of old cases).
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: Millis) -> ManualClock {
        ManualClock(std::sync::atomic::AtomicI64::new(at.0))
    }

    /// Shows `at` from now on.
    pub fn set(&self, at: Millis) {
        self.0.store(at.0, std::sync::atomic::Ordering::SeqCst);
    }

    /// Moves the clock forward by `ms` milliseconds.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        Millis(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        Millis::now()
    }
}

/// What an organisation is. The set mirrors the Dutch approach's parties; `Other` covers the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// A police service that keeps hash lists.
    Police,
    /// A hotline that receives reports and keeps hash lists.
    Hotline,
    /// A hosting provider that checks its uploads and storage.
    Hoster,
    /// The operator of this Schoon installation.
    Operator,
    /// Anyone else (researchers, partner hotlines, ...).
    Other,
}

impl OrgKind {
    /// Every kind, in a stable order.
    pub const ALL: [OrgKind; 5] = [
        OrgKind::Police,
        OrgKind::Hotline,
        OrgKind::Hoster,
        OrgKind::Operator,
        OrgKind::Other,
    ];

    /// The stored and displayed name.
    pub fn name(self) -> &'static str {
        match self {
            OrgKind::Police => "police",
            OrgKind::Hotline => "hotline",
            OrgKind::Hoster => "hoster",
            OrgKind::Operator => "operator",
            OrgKind::Other => "other",
        }
    }
}

impl FromStr for OrgKind {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrgKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| crate::Error::Invalid(format!("unknown organisation kind {s:?} (one of police, hotline, hoster, operator, other)")))
    }
}

/// An organisation: every key and every list belongs to one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    /// Database id.
    pub id: i64,
    /// Unique display name.
    pub name: String,
    /// What it is.
    pub kind: OrgKind,
    /// When it was created.
    pub created_at: Millis,
}

/// What a key may do. See [`crate::auth`] for the full matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the installation: organisations, keys, audit log; may read every list's metadata.
    Admin,
    /// Manages its own organisation's lists: create, import, export.
    ListManager,
    /// Reads list metadata and versions (not entries), checks hashes; works the notice-and-
    /// takedown queue: assesses cases, keeps the hosters register, loads attribution data.
    Analyst,
    /// May only check hashes and images. Never reads, exports or enumerates a list.
    Hoster,
    /// A partner hotline, crawler or police service: submits reports of URLs (in bulk) and
    /// reads what became of its own reports. Sees no case, list or register.
    Reporter,
}

impl Role {
    /// Every role, in a stable order.
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::ListManager,
        Role::Analyst,
        Role::Hoster,
        Role::Reporter,
    ];

    /// The stored and displayed name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::ListManager => "list_manager",
            Role::Analyst => "analyst",
            Role::Hoster => "hoster",
            Role::Reporter => "reporter",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().replace('-', "_");
        Role::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(&s))
            .ok_or_else(|| {
                crate::Error::Invalid(format!(
                    "unknown role {s:?} (one of admin, list_manager, analyst, hoster, reporter)"
                ))
            })
    }
}

/// A stored API key: never the secret itself, only its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// The public half of the key (also its database id), e.g. `k3q9x2m7a1b4c8d0`.
    pub id: String,
    /// The organisation the key acts for.
    pub org_id: i64,
    /// What the key may do.
    pub role: Role,
    /// A label for people ("upload scanner, rack 3").
    pub name: String,
    /// SHA-256 of the secret half.
    pub secret_sha256: [u8; 32],
    /// Hashes per second this key may check; `None` means the server's default.
    pub rate_per_sec: Option<u32>,
    /// When it was created.
    pub created_at: Millis,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Millis>,
}

/// A key as shown to administrators: everything but the secret's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    /// Public id.
    pub id: String,
    /// Organisation id.
    pub org_id: i64,
    /// Role.
    pub role: Role,
    /// Label.
    pub name: String,
    /// Per-key rate, hashes per second.
    pub rate_per_sec: Option<u32>,
    /// Created.
    pub created_at: Millis,
    /// Revoked, if so.
    pub revoked_at: Option<Millis>,
}

impl From<&ApiKey> for ApiKeyInfo {
    fn from(k: &ApiKey) -> Self {
        ApiKeyInfo {
            id: k.id.clone(),
            org_id: k.org_id,
            role: k.role,
            name: k.name.clone(),
            rate_per_sec: k.rate_per_sec,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A list's category: a short lowercase slug from an extensible set (`csam`, `terrorism`,
/// `ncii`, `other` exist from the start; administrators may add more).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Category(String);

impl Category {
    /// The categories every installation starts with.
    pub const BUILT_IN: [&'static str; 4] = ["csam", "terrorism", "ncii", "other"];

    /// Checks the slug's shape: 1 to 32 of `a-z`, `0-9`, `_`, starting with a letter.
    pub fn new(s: &str) -> Result<Category, crate::Error> {
        let s = s.trim().to_ascii_lowercase();
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.as_bytes()[0].is_ascii_lowercase()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Category(s))
        } else {
            Err(crate::Error::Invalid(format!(
                "category {s:?} must be 1-32 characters of a-z, 0-9 and _, starting with a letter"
            )))
        }
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A hash list's metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListInfo {
    /// Database id; also the id the in-memory index uses.
    pub id: i64,
    /// Unique name, e.g. `nl-police-csam`.
    pub name: String,
    /// The organisation that owns and manages it.
    pub owner_org_id: i64,
    /// What kind of material it lists.
    pub category: Category,
    /// Free text for people.
    pub description: String,
    /// Where the hashes come from (provenance), free text.
    pub source: String,
    /// The current version: 0 before the first import, then +1 per change.
    pub version: i64,
    /// Whether its hashes are reported (a blocklist) or override matches (an allowlist).
    pub purpose: Purpose,
    /// Created.
    pub created_at: Millis,
    /// Last changed.
    pub updated_at: Millis,
}

/// What to create a list with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewList {
    /// Unique name.
    pub name: String,
    /// Owner organisation.
    pub owner_org_id: i64,
    /// Category.
    pub category: Category,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Provenance.
    #[serde(default)]
    pub source: String,
    /// Blocklist (the default) or allowlist.
    #[serde(default)]
    pub purpose: Purpose,
}

/// What a list is for.
///
/// A check reports the matches of **block** lists. An **allow** list holds known-benign hashes
/// (default images of popular CMSes and themes, say): a hash that matches an allowlist is
/// answered "no match" whatever block lists it also matches, and the conflict is recorded for
/// the list managers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Matches are reported.
    #[default]
    Block,
    /// Matches override block matches.
    Allow,
}

impl Purpose {
    /// The stored and displayed name.
    pub fn name(self) -> &'static str {
        match self {
            Purpose::Block => "block",
            Purpose::Allow => "allow",
        }
    }
}

impl FromStr for Purpose {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "block" | "blocklist" => Ok(Purpose::Block),
            "allow" | "allowlist" => Ok(Purpose::Allow),
            _ => Err(crate::Error::Invalid(format!(
                "unknown list purpose {s:?} (block or allow)"
            ))),
        }
    }
}

/// One change of a list: what an import did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListVersion {
    /// The list.
    pub list_id: i64,
    /// Its version number after the change.
    pub version: i64,
    /// Position in the installation-wide change feed (replicas follow it).
    pub seq: i64,
    /// When.
    pub created_at: Millis,
    /// Who: a key id, or `cli:<user>` for the command line.
    pub actor: String,
    /// How the entries were applied.
    pub mode: crate::import::Mode,
    /// Entries added.
    pub added: i64,
    /// Entries removed.
    pub removed: i64,
    /// Free text (e.g. the file name).
    pub note: String,
}

/// One audit record: who checked how many hashes and what matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When.
    pub at: Millis,
    /// The key.
    pub key_id: String,
    /// Its organisation.
    pub org_id: i64,
    /// `check`, `check_image`, `import`, `export`, `key_create`, ...
    pub action: String,
    /// How many hashes were asked about (or imported, exported).
    pub count: i64,
    /// How many of them matched.
    pub matches: i64,
    /// JSON with the details: the matches, and the queried hashes only when the operator
    /// turned that on.
    pub detail: String,
}
