//! The hosters register: the hotline's own knowledge of hosting providers.
//!
//! RIR data says who holds an address block; it does not say whom the hotline actually
//! reaches, whether that party signed the Dutch code of conduct, or that a range belongs to a
//! CDN that fronts other people's sites. The register does. Each [`Hoster`] names its ASNs and
//! address prefixes, its abuse addresses and how notices reach it. Attribution consults the
//! register **first**: an analyst's correction (an extra prefix, a better abuse address) wins
//! over whatever the loaded data says.
//!
//! A hoster marked [`Hoster::cdn`] is a CDN or reverse proxy: a URL resolving into its ranges
//! is recorded as "behind CDN X", and the CDN is the party to notify (it knows the origin).

use lists::Millis;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// How notices reach a hoster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// E-mail to the abuse addresses.
    #[default]
    Email,
    /// An HTTP POST to the hoster's webhook.
    Webhook,
}

impl Channel {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> crate::Result<Channel> {
        match s {
            "email" => Ok(Channel::Email),
            "webhook" => Ok(Channel::Webhook),
            _ => Err(crate::Error::Invalid(format!(
                "unknown notice channel {s:?}; email or webhook"
            ))),
        }
    }
}

/// A hosting provider (or CDN) as the register knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hoster {
    /// Its id.
    pub id: i64,
    /// Its name.
    #[serde(flatten)]
    pub fields: HosterFields,
    /// When it last changed.
    pub updated_at: Millis,
    /// Who changed it last.
    pub updated_by: String,
}

impl std::ops::Deref for Hoster {
    type Target = HosterFields;
    fn deref(&self) -> &HosterFields {
        &self.fields
    }
}

/// A register entry's editable fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HosterFields {
    /// The name analysts and notices use.
    pub name: String,
    /// Its Schoon organisation (for the hoster portal), if it has one.
    #[serde(default)]
    pub org_id: Option<i64>,
    /// Its autonomous systems.
    #[serde(default)]
    pub asns: Vec<u32>,
    /// Address prefixes that are its (CIDR, IPv4 or IPv6); these win over RIR data.
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// Where notices go (override the RIR abuse contact).
    #[serde(default)]
    pub abuse: Vec<String>,
    /// How notices reach it.
    #[serde(default)]
    pub channel: Channel,
    /// The webhook, for [`Channel::Webhook`].
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Whether it signed the code of conduct (removal within 24 hours).
    #[serde(default)]
    pub coc_member: bool,
    /// A CDN or reverse proxy.
    #[serde(default)]
    pub cdn: bool,
    /// Its country (ISO 3166 alpha-2).
    #[serde(default)]
    pub country: Option<String>,
    /// Free notes.
    #[serde(default)]
    pub notes: Option<String>,
}

impl HosterFields {
    /// Checks and tidies the fields: a name, valid prefixes and addresses, a webhook when the
    /// channel needs one, a two-letter country.
    pub fn check(mut self) -> crate::Result<HosterFields> {
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.len() > 200 {
            return Err(crate::Error::Invalid(
                "a hoster needs a name of 1 to 200 bytes".into(),
            ));
        }
        for p in &mut self.prefixes {
            *p = Prefix::parse(p)?.to_string();
        }
        self.prefixes.sort();
        self.prefixes.dedup();
        for a in &mut self.abuse {
            *a = a.trim().to_string();
            if !is_mailbox(a) {
                return Err(crate::Error::Invalid(format!(
                    "{a:?} is not an e-mail address"
                )));
            }
        }
        self.abuse.dedup();
        self.asns.sort_unstable();
        self.asns.dedup();
        if self.asns.contains(&0) {
            return Err(crate::Error::Invalid("AS 0 is not an AS".into()));
        }
        if let Some(c) = &mut self.country {
            *c = c.trim().to_ascii_uppercase();
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(crate::Error::Invalid(format!(
                    "country {c:?} is not a two-letter code"
                )));
            }
        }
        match (&self.channel, &self.webhook_url) {
            (Channel::Webhook, None) => {
                return Err(crate::Error::Invalid(
                    "the webhook channel needs a webhook_url".into(),
                ));
            }
            (_, Some(u)) if !(u.starts_with("https://") || u.starts_with("http://")) => {
                return Err(crate::Error::Invalid(format!(
                    "the webhook {u:?} is not an http(s) URL"
                )));
            }
            _ => {}
        }
        Ok(self)
    }
}

/// Whether `s` looks like one e-mail address (`local@domain.tld`).
pub fn is_mailbox(s: &str) -> bool {
    let mut parts = s.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s
                    .chars()
                    .any(|c| c.is_whitespace() || c == ',' || c == '<' || c == '>')
        }
        _ => false,
    }
}

/// An address prefix in CIDR form, as the register keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    /// Its network address.
    pub addr: IpAddr,
    /// Its length in bits.
    pub len: u8,
}

impl Prefix {
    /// Reads `192.0.2.0/24` or `2001:db8::/32`; a bare address is a host prefix. Host bits
    /// must be zero (a typo like `192.0.2.7/24` is refused rather than guessed at).
    pub fn parse(s: &str) -> crate::Result<Prefix> {
        let s = s.trim();
        let bad = |why: &str| crate::Error::Invalid(format!("prefix {s:?}: {why}"));
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad("not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| bad("bad prefix length"))?,
            None => max,
        };
        let p = Prefix { addr, len };
        if p.first() != addr {
            return Err(bad("host bits are set"));
        }
        Ok(p)
    }

    fn bits(self) -> (u128, u32) {
        match self.addr {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        }
    }

    fn addr_from_bits(self, v: u128) -> IpAddr {
        match self.addr {
            IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::from(v as u32)),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::from(v)),
        }
    }

    fn host_mask(self) -> u128 {
        let (_, width) = self.bits();
        let host_bits = width - u32::from(self.len);
        if host_bits == 0 {
            0
        } else {
            (u128::MAX >> (128 - host_bits)) & (u128::MAX >> (128 - width))
        }
    }

    /// The first address.
    pub fn first(self) -> IpAddr {
        let (v, _) = self.bits();
        self.addr_from_bits(v & !self.host_mask())
    }

    /// The last address.
    pub fn last(self) -> IpAddr {
        let (v, _) = self.bits();
        self.addr_from_bits((v & !self.host_mask()) | self.host_mask())
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        let p = Prefix::parse("192.0.2.0/25").unwrap();
        assert_eq!(p.first().to_string(), "192.0.2.0");
        assert_eq!(p.last().to_string(), "192.0.2.127");
        let p = Prefix::parse("2001:db8::/32").unwrap();
        assert_eq!(
            p.last().to_string(),
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"
        );
        assert_eq!(Prefix::parse("198.51.100.7").unwrap().len, 32);
        assert_eq!(
            Prefix::parse("0.0.0.0/0").unwrap().last().to_string(),
            "255.255.255.255"
        );
        assert!(Prefix::parse("192.0.2.7/24").is_err());
        assert!(Prefix::parse("192.0.2.0/33").is_err());
        assert!(Prefix::parse("hoster").is_err());
    }

    #[test]
    fn fields_are_checked() {
        let ok = HosterFields {
            name: " Hoster A ".into(),
            asns: vec![64500, 64500],
            prefixes: vec!["192.0.2.0/24".into()],
            abuse: vec!["abuse@hoster-a.example".into()],
            country: Some("nl".into()),
            ..Default::default()
        }
        .check()
        .unwrap();
        assert_eq!(ok.name, "Hoster A");
        assert_eq!(ok.asns, vec![64500]);
        assert_eq!(ok.country.as_deref(), Some("NL"));
        for bad in [
            HosterFields::default(),
            HosterFields {
                name: "x".into(),
                abuse: vec!["not an address".into()],
                ..Default::default()
            },
            HosterFields {
                name: "x".into(),
                channel: Channel::Webhook,
                ..Default::default()
            },
            HosterFields {
                name: "x".into(),
                prefixes: vec!["192.0.2.1/24".into()],
                ..Default::default()
            },
            HosterFields {
                name: "x".into(),
                country: Some("Netherlands".into()),
                ..Default::default()
            },
        ] {
            assert!(bad.check().is_err());
        }
        assert!(is_mailbox("abuse@hoster.example"));
        assert!(!is_mailbox("abuse@hoster"));
        assert!(!is_mailbox("a@b@c.example"));
    }
}
