//! RIPE-style registry data (RPSL): split dumps parsed into objects, and the networks and
//! autonomous systems built from them, each with its abuse contact found the way RIPE finds it.
//!
//! # The format
//!
//! The Regional Internet Registries publish their databases as text in RPSL (RFC 2622,
//! section 2). RIPE's split dumps (`ripe.db.inetnum.gz`, `ripe.db.role.gz`, …) hold one
//! object type per file; an object is a run of `attribute: value` lines, and a blank line
//! ends it:
//!
//! ```text
//! inetnum:        198.51.100.0 - 198.51.100.255
//! netname:        EXAMPLE-NET
//! country:        NL
//! org:            ORG-EH1-TEST
//! abuse-c:        EAT1-TEST
//! source:         RIPE
//! ```
//!
//! The first attribute names the object's class, and its value is the object's key. `abuse-c`
//! and `org` are references to other objects (a `role` by its `nic-hdl`, an `organisation` by
//! its key), so attribution needs several files together: `inetnum`, `inet6num`, `aut-num`,
//! `organisation` and `role`.
//!
//! [`objects`] turns bytes into [`Object`]s; [`build`] turns the objects of all files into
//! [`RpslData`]: [`Network`]s (`inetnum`, `inet6num`) and [`AutNum`]s with their abuse
//! mailboxes resolved.
//!
//! # Quirks handled
//!
//! **Syntax** ([`objects`]):
//!
//! * A line starting with a space, a tab or `+` **continues** the previous attribute; the
//!   pieces are joined with one space and runs of whitespace collapsed to one space (RIPE's
//!   "clean value"). A bare `+` keeps the object going across what would be a blank line, and
//!   a value may start on a continuation line (`abuse-c:` empty, then `+ EAT1-TEST`).
//!   Hence an indented `abuse-c: X` inside a `remarks:` value is **text, not an attribute**.
//! * Lines starting with `#` (the dump's terms-and-conditions header) or `%` (whois query
//!   output) are comments, inside or between objects. One or more blank lines (empty or only
//!   whitespace) end an object.
//! * The value may follow the colon directly (`netname:X`). Attribute names are compared
//!   case-insensitively and stored lower-cased (`Abuse-C:` is `abuse-c`).
//! * `#` starts an **end-of-line comment** in structured attributes (`country: DE # DE NL
//!   FR`, `source: RIPE # Filtered`), on every physical line of the value. Free text keeps its
//!   `#` (a URL fragment in `remarks`): `remarks`, `descr`, `address`, `org-name`, `role`,
//!   `person`, `trouble` and `certif` are free text.
//! * The classic `.gz` dumps are Latin-1, the newer `*.utf8.gz` ones UTF-8. [`decode`] takes
//!   the whole input as UTF-8 if it is valid UTF-8, else as Latin-1 (which cannot fail), and
//!   says which it assumed. CRLF line ends and a UTF-8 byte order mark are accepted.
//!
//! **Content** ([`build`]):
//!
//! * Public dumps are **dummified**: persons and roles without `abuse-mailbox` are replaced
//!   by the placeholders `DUMY-RIPE` and `ROLE-RIPE`, `e-mail:` becomes `unread@ripe.net`, and
//!   seven `remarks:` lines (`* THIS OBJECT IS MODIFIED` …) are appended **after `source:`**.
//!   Roles with an `abuse-mailbox` are exported with it intact, and `abuse-c` is never
//!   touched, which is what makes abuse contacts usable from dumps. `e-mail:` is never used.
//! * **Abuse contact, as RIPE's `AbuseCFinder` does it**: the role named by the object's own
//!   `abuse-c`, if that role exists and has an `abuse-mailbox`; else the role named by the
//!   `abuse-c` of the organisation in the object's `org`, on the same condition; else none,
//!   and the caller falls through to the parent range ([`super::table::RangeTable::containing`]
//!   lists them). Handles are case-insensitive.
//! * `abuse-mailbox` values are cleaned: `Name <addr>` becomes `addr`; a trailing comma or
//!   `(preferred)`, a `mailto:` prefix and surrounding whitespace go. The address keeps its
//!   case (compare case-insensitively). A value without exactly one `@` with text on both
//!   sides counts as no mailbox, not as an error.
//! * `country` is the first value, upper-cased (`country: nl` exists). `org` handles are
//!   upper-cased.
//! * `inetnum` keys are ranges `first - last`, not necessarily prefix-aligned, and a single
//!   address is `a - a`; `a.b.c.d/nn` is accepted too (RIPE converts it on update, other
//!   sources may not). `inet6num` keys are prefixes in any spelling Rust accepts
//!   (`2001:DB8:0::/32`); host bits set in a prefix are ignored.
//!
//! **Placeholder blocks are dropped.** RIPE's database holds objects that say "not ours" or
//! "the whole space" rather than "this network": `0.0.0.0 - 255.255.255.255` and `::/0`,
//! and blocks named `IANA-BLK`, `EU-ZZ-*` or `NON-RIPE-NCC-MANAGED-ADDRESS-BLOCK`. Kept as
//! networks, they would make every address "attributed" to RIPE NCC and would be the parent
//! every fall-through ends on. [`build`] leaves them out of [`RpslData::networks`], so an
//! address covered only by them stays unknown. (This also stands in for `AbuseCFinder`'s rule
//! not to climb above an object maintained by RIPE NCC: above an allocation there is only
//! such a block.)
//!
//! # Why hand-written
//!
//! RPSL crates for Rust target routing policy (`route`, `aut-num` import/export lines) and
//! parse objects in their own shapes; none handles RIPE's dummified split dumps with RIPE's
//! abuse-c resolution, the Latin-1 dumps, and the comment and continuation rules above in one
//! place. The syntax is small enough that a parser here, tested against the quirks, is less
//! to trust than an adapter around one.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::table::{DataError, v4_prefix, v6_prefix};

/// The character encoding [`decode`] assumed for an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// The input was valid UTF-8 (the `*.utf8.gz` dumps, or plain ASCII).
    Utf8,
    /// The input was not valid UTF-8 and was read as ISO-8859-1 (the classic `.gz` dumps).
    Latin1,
}

/// Decodes a whole RPSL file: UTF-8 if the input is valid UTF-8, else Latin-1.
///
/// A leading UTF-8 byte order mark is dropped. Decoding per file rather than per line means
/// one file never mixes both readings.
pub fn decode(input: &[u8]) -> (Cow<'_, str>, Encoding) {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    match std::str::from_utf8(input) {
        Ok(text) => (Cow::Borrowed(text), Encoding::Utf8),
        Err(_) => (
            Cow::Owned(input.iter().map(|&b| char::from(b)).collect()),
            Encoding::Latin1,
        ),
    }
}

/// One RPSL object: its attributes in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The 1-based line of the object's first attribute.
    pub line: usize,
    /// `(name, value)` pairs: names lower-cased, values with continuation lines joined by
    /// one space, whitespace runs collapsed, and end-of-line comments stripped from
    /// structured attributes.
    pub attrs: Vec<(String, String)>,
}

impl Object {
    /// The object's class: the name of its first attribute (`inetnum`, `role`, …); empty for
    /// an object without attributes.
    pub fn class(&self) -> &str {
        self.attrs.first().map_or("", |(name, _)| name)
    }

    /// The object's key: the value of its first attribute.
    pub fn key(&self) -> &str {
        self.attrs.first().map_or("", |(_, value)| value)
    }

    /// The first value of the attribute `name` (compared case-insensitively).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.all(name).next()
    }

    /// All values of the attribute `name` (compared case-insensitively), in order.
    pub fn all<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s str> {
        self.attrs
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Parses a whole RPSL file into objects, decoding it with [`decode`].
///
/// The first malformed line rejects the file: a line that is not `name: value` where an
/// attribute is expected, or a continuation line before any attribute of its object.
///
/// ```
/// use ntd::attribution::rpsl;
///
/// let objects = rpsl::objects(b"# header\n\ninetnum: 192.0.2.0 - 192.0.2.255\nCountry: nl # x\n")?;
/// assert_eq!(objects[0].class(), "inetnum");
/// assert_eq!(objects[0].line, 3);
/// assert_eq!(objects[0].get("country"), Some("nl"));
/// # Ok::<(), ntd::attribution::table::DataError>(())
/// ```
pub fn objects(input: &[u8]) -> Result<Vec<Object>, DataError> {
    let (text, _) = decode(input);
    parse_str(&text).collect()
}

/// Parses decoded RPSL text lazily, one object at a time, so a caller can keep only the
/// classes it needs from a large dump. Stops after the first error.
pub fn parse_str(text: &str) -> Objects<'_> {
    Objects {
        lines: text.lines().enumerate(),
        done: false,
    }
}

/// The objects of an RPSL text, from [`parse_str`].
#[derive(Debug)]
pub struct Objects<'a> {
    lines: std::iter::Enumerate<std::str::Lines<'a>>,
    done: bool,
}

impl Iterator for Objects<'_> {
    type Item = Result<Object, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut pending: Option<Pending> = None;
        for (index, line) in self.lines.by_ref() {
            let number = index + 1;
            if line.trim().is_empty() {
                match pending.take() {
                    Some(object) => return Some(Ok(object.finish())),
                    None => continue,
                }
            }
            match line.as_bytes()[0] {
                b'#' | b'%' => {}
                b' ' | b'\t' | b'+' => match pending.as_mut() {
                    Some(object) => object.continue_value(line.strip_prefix('+').unwrap_or(line)),
                    None => {
                        self.done = true;
                        return Some(Err(DataError::new(
                            number,
                            "continuation line before any attribute",
                        )));
                    }
                },
                _ => match attribute(line) {
                    Ok((name, value)) => pending
                        .get_or_insert_with(|| Pending {
                            line: number,
                            attrs: Vec::new(),
                        })
                        .push(name, value),
                    Err(message) => {
                        self.done = true;
                        return Some(Err(DataError::new(number, message)));
                    }
                },
            }
        }
        self.done = true;
        pending.map(|object| Ok(object.finish()))
    }
}

/// An object being read; values are raw pieces until [`Pending::finish`].
struct Pending {
    line: usize,
    attrs: Vec<(String, String)>,
}

impl Pending {
    fn push(&mut self, name: String, value: &str) {
        let value = piece(&name, value).to_owned();
        self.attrs.push((name, value));
    }

    fn continue_value(&mut self, text: &str) {
        // `parse_str` only calls this once an attribute exists.
        if let Some((name, value)) = self.attrs.last_mut() {
            value.push(' ');
            value.push_str(piece(name, text));
        }
    }

    fn finish(self) -> Object {
        Object {
            line: self.line,
            attrs: self
                .attrs
                .into_iter()
                .map(|(name, value)| (name, collapse(&value)))
                .collect(),
        }
    }
}

/// Attributes whose values are free text, where `#` is not a comment.
const FREE_TEXT: &[&str] = &[
    "remarks", "descr", "address", "org-name", "role", "person", "trouble", "certif",
];

/// One physical line's part of a value, without its end-of-line comment if the attribute is
/// structured.
fn piece<'a>(name: &str, text: &'a str) -> &'a str {
    if FREE_TEXT.contains(&name) {
        text
    } else {
        text.split_once('#').map_or(text, |(value, _)| value)
    }
}

/// The value with whitespace runs collapsed to one space and no leading or trailing space.
fn collapse(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for word in value.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Splits an attribute line into its lower-cased name and raw value.
fn attribute(line: &str) -> Result<(String, &str), String> {
    let Some((name, value)) = line.split_once(':') else {
        return Err(format!(
            "expected an attribute \"name: value\", found \"{}\" (no colon)",
            shorten(line)
        ));
    };
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "expected an attribute \"name: value\", found the name \"{}\" (letters, digits and \
             '-' only)",
            shorten(name)
        ));
    }
    Ok((name.to_ascii_lowercase(), value))
}

/// At most 60 characters of `text`, for error messages.
fn shorten(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(60) {
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
        None => Cow::Borrowed(text),
    }
}

/// An address range from an `inetnum` or `inet6num` object, with what attribution needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Network {
    /// The first address of the range.
    pub first: IpAddr,
    /// The last address of the range (inclusive).
    pub last: IpAddr,
    /// The `netname`, as written.
    pub netname: Option<String>,
    /// The first `country` value, upper-cased.
    pub country: Option<String>,
    /// The handle of the responsible organisation (`org`), upper-cased.
    pub org: Option<String>,
    /// The `org-name` of that organisation, if its object was among the input.
    pub org_name: Option<String>,
    /// The abuse mailbox of the object's own `abuse-c` role, else of its organisation's
    /// `abuse-c` role; `None` if neither gives one, and the caller falls through to the
    /// parent range.
    pub abuse_mailbox: Option<String>,
    /// Where this came from: the `source` value, class and key, e.g.
    /// `RIPE inetnum 198.51.100.0 - 198.51.100.255` (class and key alone if there is no
    /// `source`).
    pub source: String,
}

/// An autonomous system from an `aut-num` object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AutNum {
    /// The AS number.
    pub asn: u32,
    /// The `as-name`, as written.
    pub as_name: Option<String>,
    /// The handle of the responsible organisation (`org`), upper-cased.
    pub org: Option<String>,
    /// The `org-name` of that organisation, if its object was among the input.
    pub org_name: Option<String>,
    /// The abuse mailbox of the object's own `abuse-c` role, else of its organisation's.
    pub abuse_mailbox: Option<String>,
    /// Where this came from: the `source` value, class and key, e.g. `RIPE aut-num AS64496`.
    pub source: String,
}

/// Everything [`build`] takes from a set of RPSL objects.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RpslData {
    /// The `inetnum` and `inet6num` ranges in input order, placeholder blocks left out.
    pub networks: Vec<Network>,
    /// The `aut-num` objects in input order.
    pub autnums: Vec<AutNum>,
}

/// Builds networks and autonomous systems from the objects of any number of files (pass
/// them together: abuse contacts are found in the `role` and `organisation` objects).
///
/// Classes other than `inetnum`, `inet6num`, `aut-num`, `organisation` and `role` are
/// ignored. Fails, naming the object's first line, on an `inetnum`/`inet6num` key that is
/// not a range or prefix of its family or whose first address is after its last, and on an
/// `aut-num` key that is not `AS<number>`.
pub fn build(objects: &[Object]) -> Result<RpslData, DataError> {
    let mut contacts = Contacts::default();
    for object in objects {
        match object.class() {
            "role" => {
                let mailbox = object.all("abuse-mailbox").find_map(clean_abuse_mailbox);
                if let (Some(nic_hdl), Some(mailbox)) =
                    (object.get("nic-hdl").and_then(handle), mailbox)
                {
                    contacts.roles.entry(nic_hdl).or_insert(mailbox);
                }
            }
            "organisation" => {
                if let Some(id) = handle(object.key()) {
                    contacts.orgs.entry(id).or_insert(Org {
                        name: object.get("org-name").filter(|name| !name.is_empty()),
                        abuse_c: object.get("abuse-c").and_then(handle),
                    });
                }
            }
            _ => {}
        }
    }

    let mut data = RpslData::default();
    for object in objects {
        match object.class() {
            "inetnum" | "inet6num" => {
                if let Some(network) = network(object, &contacts)? {
                    data.networks.push(network);
                }
            }
            "aut-num" => data.autnums.push(autnum(object, &contacts)?),
            _ => {}
        }
    }
    Ok(data)
}

/// Cleans an `abuse-mailbox` value to a bare address, or `None` if it is not one.
///
/// `Abuse Desk <abuse@example.example>` gives `abuse@example.example`; a trailing comma or
/// `(preferred)`, a `mailto:` prefix and surrounding whitespace are removed. The result keeps
/// its case. It must contain exactly one `@` with text on both sides, and whitespace only
/// inside a quoted local part.
pub fn clean_abuse_mailbox(value: &str) -> Option<String> {
    let mut address = value.trim();
    if let Some(open) = address.rfind('<') {
        let inner = &address[open + 1..];
        if let Some(close) = inner.find('>') {
            address = &inner[..close];
        }
    }
    loop {
        let before = address;
        address = address.trim().trim_end_matches([',', ';']);
        if let Some(head) = strip_suffix_ignoring_case(address, "(preferred)") {
            address = head;
        }
        if address == before {
            break;
        }
    }
    if address
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("mailto:"))
    {
        address = address[7..].trim();
    }
    let (local, domain) = address.split_once('@')?;
    let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    let valid = !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !domain.contains(char::is_whitespace)
        && (quoted || !local.contains(char::is_whitespace));
    valid.then(|| address.to_owned())
}

fn strip_suffix_ignoring_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = text.len().checked_sub(suffix.len())?;
    let tail = text.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &text[..cut])
}

/// A reference or handle (`nic-hdl`, `org`, `abuse-c`): its first word, upper-cased.
fn handle(value: &str) -> Option<String> {
    value.split_whitespace().next().map(str::to_ascii_uppercase)
}

/// What `build` needs of an organisation.
struct Org<'a> {
    name: Option<&'a str>,
    abuse_c: Option<String>,
}

/// Abuse mailboxes by role handle, and organisations by handle (both upper-cased).
#[derive(Default)]
struct Contacts<'a> {
    roles: HashMap<String, String>,
    orgs: HashMap<String, Org<'a>>,
}

/// The organisation and abuse contact of one object.
struct Responsible {
    org: Option<String>,
    org_name: Option<String>,
    abuse_mailbox: Option<String>,
}

impl Contacts<'_> {
    /// RIPE's `AbuseCFinder` steps 1 and 2: own `abuse-c`, else the organisation's; a role
    /// counts only if it exists and has an abuse mailbox.
    fn responsible(&self, object: &Object) -> Responsible {
        let org = object.get("org").and_then(handle);
        let info = org.as_ref().and_then(|id| self.orgs.get(id));
        let own = object
            .get("abuse-c")
            .and_then(handle)
            .and_then(|role| self.roles.get(&role));
        let via_org = || {
            info.and_then(|o| o.abuse_c.as_ref())
                .and_then(|role| self.roles.get(role))
        };
        Responsible {
            abuse_mailbox: own.or_else(via_org).cloned(),
            org_name: info.and_then(|o| o.name).map(str::to_owned),
            org,
        }
    }
}

/// `SOURCE class key`, or `class key` without a `source` attribute.
fn label(object: &Object) -> String {
    match object
        .get("source")
        .and_then(|s| s.split_whitespace().next())
    {
        Some(source) => format!(
            "{} {} {}",
            source.to_ascii_uppercase(),
            object.class(),
            object.key()
        ),
        None => format!("{} {}", object.class(), object.key()),
    }
}

fn network(object: &Object, contacts: &Contacts<'_>) -> Result<Option<Network>, DataError> {
    let (first, last) = range_key(object.class(), object.key())
        .map_err(|message| DataError::new(object.line, message))?;
    let netname = object
        .get("netname")
        .filter(|name| !name.is_empty())
        .map(str::to_owned);
    if is_placeholder(first, last, netname.as_deref()) {
        return Ok(None);
    }
    let Responsible {
        org,
        org_name,
        abuse_mailbox,
    } = contacts.responsible(object);
    Ok(Some(Network {
        first,
        last,
        netname,
        country: object
            .get("country")
            .and_then(|c| c.split_whitespace().next())
            .map(str::to_ascii_uppercase),
        org,
        org_name,
        abuse_mailbox,
        source: label(object),
    }))
}

fn autnum(object: &Object, contacts: &Contacts<'_>) -> Result<AutNum, DataError> {
    let key = object.key();
    let asn = key
        .get(..2)
        .filter(|prefix| prefix.eq_ignore_ascii_case("AS"))
        .map(|_| &key[2..])
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse::<u32>().ok())
        .ok_or_else(|| {
            DataError::new(
                object.line,
                format!("aut-num key \"{key}\" is not \"AS<number>\" with a 32-bit number"),
            )
        })?;
    let Responsible {
        org,
        org_name,
        abuse_mailbox,
    } = contacts.responsible(object);
    Ok(AutNum {
        asn,
        as_name: object
            .get("as-name")
            .filter(|name| !name.is_empty())
            .map(str::to_owned),
        org,
        org_name,
        abuse_mailbox,
        source: label(object),
    })
}

/// The first and last address of an `inetnum` (`class` "inetnum", IPv4) or `inet6num` key:
/// a range `first - last` or a prefix `address/length`.
fn range_key(class: &str, key: &str) -> Result<(IpAddr, IpAddr), String> {
    let v6 = class == "inet6num";
    let bad = || {
        format!(
            "{class} key \"{key}\" is not a range \"first - last\" or a prefix \"address/length\""
        )
    };
    let (first, last) = if let Some((address, length)) = key.split_once('/') {
        let length: u8 = length.trim().parse().map_err(|_| bad())?;
        match address.trim().parse::<IpAddr>().map_err(|_| bad())? {
            IpAddr::V4(a) if length <= 32 => {
                let (f, l) = v4_prefix(a, length);
                (IpAddr::V4(f), IpAddr::V4(l))
            }
            IpAddr::V6(a) if length <= 128 => {
                let (f, l) = v6_prefix(a, length);
                (IpAddr::V6(f), IpAddr::V6(l))
            }
            _ => {
                return Err(format!(
                    "{class} key \"{key}\": prefix length {length} is too long"
                ));
            }
        }
    } else if let Some((a, b)) = key.split_once('-') {
        (
            a.trim().parse::<IpAddr>().map_err(|_| bad())?,
            b.trim().parse::<IpAddr>().map_err(|_| bad())?,
        )
    } else {
        return Err(bad());
    };
    let family_ok = match (first, last) {
        (IpAddr::V4(_), IpAddr::V4(_)) => !v6,
        (IpAddr::V6(_), IpAddr::V6(_)) => v6,
        _ => false,
    };
    if !family_ok {
        let family = if v6 { "IPv6" } else { "IPv4" };
        return Err(format!("{class} key \"{key}\" is not an {family} range"));
    }
    if first > last {
        return Err(format!(
            "{class} key \"{key}\": first address {first} is after last address {last}"
        ));
    }
    Ok((first, last))
}

/// Whether a range is a registry placeholder rather than a network: the whole address
/// space, or a block named `IANA-BLK`, `EU-ZZ-*` or `NON-RIPE-NCC-MANAGED-ADDRESS-BLOCK`.
fn is_placeholder(first: IpAddr, last: IpAddr, netname: Option<&str>) -> bool {
    let whole = match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a == Ipv4Addr::UNSPECIFIED && b == Ipv4Addr::BROADCAST,
        (IpAddr::V6(a), IpAddr::V6(b)) => a == Ipv6Addr::UNSPECIFIED && u128::from(b) == u128::MAX,
        _ => false,
    };
    whole
        || netname.is_some_and(|name| {
            name.eq_ignore_ascii_case("IANA-BLK")
                || name.eq_ignore_ascii_case("NON-RIPE-NCC-MANAGED-ADDRESS-BLOCK")
                || name
                    .get(..6)
                    .is_some_and(|prefix| prefix.eq_ignore_ascii_case("EU-ZZ-"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::table::RangeTable;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Encodes text as Latin-1 bytes (every character must be below U+0100).
    fn latin1(text: &str) -> Vec<u8> {
        text.chars()
            .map(|c| u8::try_from(u32::from(c)).expect("a Latin-1 character"))
            .collect()
    }

    /// A little dump in the shape of RIPE's split files, all classes in one text.
    const DUMP: &str = "\
#
# The contents of this file are subject to 
# RIPE Database Terms and Conditions
#
# https://docs.db.ripe.net/terms-conditions.html
#

person:         Placeholder Person Object
address:        RIPE Network Coordination Centre
address:        P.O. Box 10096
address:        1001 EB Amsterdam
address:        The Netherlands
phone:          +31 20 535 4444
nic-hdl:        DUMY-RIPE
mnt-by:         RIPE-DBM-MNT
remarks:        **********************************************************
remarks:        * This is a placeholder object to protect personal data.
remarks:        **********************************************************
source:         RIPE

role:           Placeholder Role Object
address:        RIPE Network Coordination Centre
e-mail:         unread@ripe.net
nic-hdl:        ROLE-RIPE
mnt-by:         RIPE-DBM-MNT
source:         RIPE


role:           Example Hosting Abuse Team
address:        Dummy address for EAT1-TEST
e-mail:         unread@ripe.net
phone:          +31205354444
abuse-mailbox:  Abuse Desk <Abuse@Hoster.example>
nic-hdl:        EAT1-TEST
mnt-by:         EXAMPLE-MNT
source:         RIPE # Filtered

role:           Example Org Abuse
address:        Dummy address for OA1-TEST
e-mail:         unread@ripe.net
abuse-mailbox:  abuse@org.example, (preferred)
Nic-Hdl:        oa1-test
source:         RIPE

role:           Role Without Mailbox
e-mail:         unread@ripe.net
nic-hdl:        NOMB1-TEST
source:         RIPE

organisation:   ORG-EH1-TEST
org-name:       Exemple Hébergement SARL
org-type:       OTHER
address:        Dummy address for ORG-EH1-TEST
e-mail:         unread@ripe.net
abuse-c:        OA1-Test
mnt-ref:        EXAMPLE-MNT
mnt-by:         EXAMPLE-MNT
source:         RIPE

organisation:   ORG-NA1-TEST
org-name:       No Abuse Org
abuse-c:        NOMB1-TEST
source:         RIPE

inetnum:        0.0.0.0 - 255.255.255.255
netname:        IANA-BLK
descr:          The whole IPv4 address space
country:        EU # Country is really world wide
source:         RIPE

inetnum:        198.51.100.0 - 198.51.100.255
netname:        EXAMPLE-NET
descr:          Example hosting # rack 7
country:        DE # DE NL FR
org:            org-eh1-test
admin-c:        DUMY-RIPE
tech-c:         DUMY-RIPE
Abuse-C:        EAT1-TEST
status:         ASSIGNED PA
mnt-by:         EXAMPLE-MNT
source:         RIPE
remarks:        ****************************
remarks:        * THIS OBJECT IS MODIFIED
remarks:        * Please note that all data that is generally regarded as personal
remarks:        * data has been removed from this object.
remarks:        * To view the original object, please query the RIPE Database at:
remarks:        * http://www.ripe.net/whois
remarks:        ****************************

inetnum:        198.51.100.16 - 198.51.100.31
netname:        CUSTOMER-NET
remarks:        customer of the hoster; their contact is
                abuse-c: NOMB1-TEST
+
+               (see https://hoster.example/#abuse)
country:        nl
admin-c:        DUMY-RIPE
status:         ASSIGNED PA
source:         RIPE

inetnum:        203.0.113.0/24
netname:        ORG-ONLY-NET
COUNTRY:\tfr
org:            ORG-EH1-TEST # the hoster
abuse-c:        NOMB1-TEST
source:         RIPE

inetnum:        192.0.2.0 - 192.0.2.127
netname:MISSING-ROLE-NET
abuse-c:        GONE1-TEST
org:            ORG-NA1-TEST
country:        NL
source:         ripe

inetnum:        192.0.2.128 - 192.0.2.255
netname:        NON-RIPE-NCC-MANAGED-ADDRESS-BLOCK
country:        EU # Country is really world wide
source:         RIPE

inet6num:       2001:DB8:0001::/48
netname:        EXAMPLE-V6
country:        DE
abuse-c:
+               EAT1-TEST
source:         RIPE

inet6num:       ::/0
netname:        ROOT
source:         RIPE

inet6num:       2001:db8:ff00::/40
netname:        EU-ZZ-2001-DB8-FF
source:         RIPE

aut-num:        AS64496
as-name:        EXAMPLE-AS
org:            ORG-EH1-TEST
admin-c:        DUMY-RIPE
mnt-by:         EXAMPLE-MNT
source:         RIPE
remarks:        ****************************
remarks:        * THIS OBJECT IS MODIFIED
remarks:        ****************************

aut-num:        as65536
as-name:        EXAMPLE-AS2
abuse-c:        eat1-test
source:         RIPE

mntner:         EXAMPLE-MNT
auth:           MD5-PW # Filtered
mnt-by:         EXAMPLE-MNT
source:         RIPE # Filtered

route:          198.51.100.0/24
origin:         AS64496
source:         RIPE
";

    /// The dump as the classic files are: Latin-1 with CRLF line ends.
    fn latin1_crlf_dump() -> Vec<u8> {
        latin1(&DUMP.replace('\n', "\r\n"))
    }

    fn expected() -> RpslData {
        let hoster = Some("Abuse@Hoster.example".to_owned());
        let org_box = Some("abuse@org.example".to_owned());
        let some = |s: &str| Some(s.to_owned());
        RpslData {
            networks: vec![
                Network {
                    first: ip("198.51.100.0"),
                    last: ip("198.51.100.255"),
                    netname: some("EXAMPLE-NET"),
                    country: some("DE"),
                    org: some("ORG-EH1-TEST"),
                    org_name: some("Exemple Hébergement SARL"),
                    abuse_mailbox: hoster.clone(),
                    source: "RIPE inetnum 198.51.100.0 - 198.51.100.255".into(),
                },
                Network {
                    first: ip("198.51.100.16"),
                    last: ip("198.51.100.31"),
                    netname: some("CUSTOMER-NET"),
                    country: some("NL"),
                    org: None,
                    org_name: None,
                    abuse_mailbox: None,
                    source: "RIPE inetnum 198.51.100.16 - 198.51.100.31".into(),
                },
                Network {
                    first: ip("203.0.113.0"),
                    last: ip("203.0.113.255"),
                    netname: some("ORG-ONLY-NET"),
                    country: some("FR"),
                    org: some("ORG-EH1-TEST"),
                    org_name: some("Exemple Hébergement SARL"),
                    abuse_mailbox: org_box.clone(),
                    source: "RIPE inetnum 203.0.113.0/24".into(),
                },
                Network {
                    first: ip("192.0.2.0"),
                    last: ip("192.0.2.127"),
                    netname: some("MISSING-ROLE-NET"),
                    country: some("NL"),
                    org: some("ORG-NA1-TEST"),
                    org_name: some("No Abuse Org"),
                    abuse_mailbox: None,
                    source: "RIPE inetnum 192.0.2.0 - 192.0.2.127".into(),
                },
                Network {
                    first: ip("2001:db8:1::"),
                    last: ip("2001:db8:1:ffff:ffff:ffff:ffff:ffff"),
                    netname: some("EXAMPLE-V6"),
                    country: some("DE"),
                    org: None,
                    org_name: None,
                    abuse_mailbox: hoster.clone(),
                    source: "RIPE inet6num 2001:DB8:0001::/48".into(),
                },
            ],
            autnums: vec![
                AutNum {
                    asn: 64496,
                    as_name: some("EXAMPLE-AS"),
                    org: some("ORG-EH1-TEST"),
                    org_name: some("Exemple Hébergement SARL"),
                    abuse_mailbox: org_box,
                    source: "RIPE aut-num AS64496".into(),
                },
                AutNum {
                    asn: 65536,
                    as_name: some("EXAMPLE-AS2"),
                    org: None,
                    org_name: None,
                    abuse_mailbox: hoster,
                    source: "RIPE aut-num as65536".into(),
                },
            ],
        }
    }

    fn error(input: &str) -> DataError {
        objects(input.as_bytes()).expect_err("the input is malformed")
    }

    fn build_error(input: &str) -> DataError {
        build(&objects(input.as_bytes()).unwrap()).expect_err("the objects are malformed")
    }

    #[test]
    fn a_latin1_crlf_dump_builds_networks_and_autnums_with_ripe_abuse_rules() {
        let input = latin1_crlf_dump();
        assert_eq!(decode(&input).1, Encoding::Latin1);
        let objects = objects(&input).unwrap();
        assert_eq!(build(&objects).unwrap(), expected());
    }

    #[test]
    fn the_same_dump_in_utf8_builds_the_same_data() {
        assert_eq!(decode(DUMP.as_bytes()).1, Encoding::Utf8);
        let objects = objects(DUMP.as_bytes()).unwrap();
        assert_eq!(build(&objects).unwrap(), expected());
        // A byte order mark changes nothing.
        let mut with_bom = b"\xEF\xBB\xBF".to_vec();
        with_bom.extend_from_slice(DUMP.as_bytes());
        assert_eq!(self::objects(&with_bom).unwrap(), objects);
    }

    #[test]
    fn objects_keep_their_classes_lines_and_cleaned_values() {
        let objects = objects(&latin1_crlf_dump()).unwrap();
        let classes: Vec<&str> = objects.iter().map(Object::class).collect();
        assert_eq!(
            classes,
            [
                "person",
                "role",
                "role",
                "role",
                "role",
                "organisation",
                "organisation",
                "inetnum",
                "inetnum",
                "inetnum",
                "inetnum",
                "inetnum",
                "inetnum",
                "inet6num",
                "inet6num",
                "inet6num",
                "aut-num",
                "aut-num",
                "mntner",
                "route",
            ]
        );
        assert_eq!(objects[0].line, 8, "after the six header lines and a blank");
        assert_eq!(objects[2].line, 29, "after two blank lines");

        let hoster = &objects[2];
        assert_eq!(hoster.get("source"), Some("RIPE"), "comment stripped");
        assert_eq!(hoster.get("e-mail"), Some("unread@ripe.net"));
        assert_eq!(
            hoster.get("abuse-mailbox"),
            Some("Abuse Desk <Abuse@Hoster.example>")
        );
        assert_eq!(
            objects[3].get("NIC-HDL"),
            Some("oa1-test"),
            "names are lower-cased"
        );
        assert_eq!(objects[5].get("org-name"), Some("Exemple Hébergement SARL"));

        let net = &objects[8];
        assert_eq!(net.key(), "198.51.100.0 - 198.51.100.255");
        assert_eq!(net.get("country"), Some("DE"));
        assert_eq!(
            net.get("descr"),
            Some("Example hosting # rack 7"),
            "free text keeps #"
        );
        assert_eq!(net.get("abuse-c"), Some("EAT1-TEST"));
        assert_eq!(
            net.get("source"),
            Some("RIPE"),
            "source before the remarks block"
        );
        assert_eq!(net.all("remarks").count(), 7);
        assert_eq!(net.all("remarks").nth(1), Some("* THIS OBJECT IS MODIFIED"));

        let customer = &objects[9];
        assert_eq!(
            customer.get("abuse-c"),
            None,
            "an indented abuse-c is remarks text"
        );
        assert_eq!(
            customer.get("remarks"),
            Some(
                "customer of the hoster; their contact is abuse-c: NOMB1-TEST \
                 (see https://hoster.example/#abuse)"
            )
        );
        assert_eq!(customer.get("country"), Some("nl"));

        assert_eq!(
            objects[10].get("country"),
            Some("fr"),
            "tab after the colon"
        );
        assert_eq!(objects[10].get("org"), Some("ORG-EH1-TEST"));
        assert_eq!(
            objects[11].get("netname"),
            Some("MISSING-ROLE-NET"),
            "no space after the colon"
        );
        assert_eq!(
            objects[13].get("abuse-c"),
            Some("EAT1-TEST"),
            "value on the + line"
        );
        assert_eq!(objects[18].get("auth"), Some("MD5-PW"));
    }

    #[test]
    fn a_nested_child_without_abuse_contact_falls_through_to_its_parent() {
        let data = build(&objects(DUMP.as_bytes()).unwrap()).unwrap();
        let table =
            RangeTable::new(data.networks.iter().map(|n| (n.first, n.last, n)).collect()).unwrap();
        let chain = table.containing(ip("198.51.100.20"));
        assert_eq!(chain[0].netname.as_deref(), Some("CUSTOMER-NET"));
        let contact = chain.iter().find_map(|n| n.abuse_mailbox.as_deref());
        assert_eq!(contact, Some("Abuse@Hoster.example"));
        // Covered only by dropped placeholder blocks: unknown, not RIPE NCC.
        assert!(table.containing(ip("192.0.2.200")).is_empty());
        assert!(table.containing(ip("2001:db8:ff00::1")).is_empty());
        assert_eq!(
            table
                .most_specific(ip("2001:db8:ff00::1"))
                .map(|n| n.netname.as_deref()),
            None
        );
        assert_eq!(
            table
                .most_specific(ip("2001:db8:1::1"))
                .and_then(|n| n.netname.as_deref()),
            Some("EXAMPLE-V6")
        );
    }

    #[test]
    fn object_accessors_are_case_insensitive() {
        let object = Object {
            line: 1,
            attrs: vec![
                ("inetnum".into(), "192.0.2.0 - 192.0.2.255".into()),
                ("descr".into(), "one".into()),
                ("descr".into(), "two".into()),
            ],
        };
        assert_eq!(object.class(), "inetnum");
        assert_eq!(object.key(), "192.0.2.0 - 192.0.2.255");
        assert_eq!(object.get("DESCR"), Some("one"));
        assert_eq!(object.all("Descr").collect::<Vec<_>>(), ["one", "two"]);
        assert_eq!(object.get("netname"), None);
        let empty = Object {
            line: 1,
            attrs: Vec::new(),
        };
        assert_eq!((empty.class(), empty.key()), ("", ""));
    }

    #[test]
    fn comments_and_blank_lines_between_and_inside_objects() {
        let text = "\n\n% whois output\nrole: A\n# a comment inside\n% another\nnic-hdl: A1-TEST\n \t \n\n\nrole: B\nnic-hdl: B1-TEST";
        let objects = objects(text.as_bytes()).unwrap();
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0].line, 4);
        assert_eq!(objects[0].attrs.len(), 2);
        assert_eq!(objects[1].line, 11);
        assert_eq!(
            objects[1].get("nic-hdl"),
            Some("B1-TEST"),
            "no final newline"
        );
        assert!(self::objects(b"").unwrap().is_empty());
        assert!(
            self::objects(b"#\n# only a header\n#\n")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_comment_on_a_continuation_line_is_stripped_for_structured_attributes() {
        let objects = objects(
            b"aut-num: AS64497\nmnt-by: A-MNT # first\n  B-MNT # second\nremarks: a # b\n c # d\n",
        )
        .unwrap();
        assert_eq!(objects[0].get("mnt-by"), Some("A-MNT B-MNT"));
        assert_eq!(objects[0].get("remarks"), Some("a # b c # d"));
    }

    #[test]
    fn parse_str_is_lazy_and_stops_after_an_error() {
        let mut parsed = parse_str("role: A\n\nnot an attribute\n\nrole: B\n");
        assert_eq!(parsed.next().unwrap().unwrap().key(), "A");
        assert_eq!(parsed.next().unwrap().unwrap_err().line, 3);
        assert!(parsed.next().is_none());
    }

    #[test]
    fn a_line_without_a_colon_is_an_error_naming_it() {
        let err = error("inetnum: 192.0.2.0 - 192.0.2.255\nnetname EXAMPLE\n");
        assert_eq!(err.line, 2);
        assert!(
            err.message
                .contains("expected an attribute \"name: value\""),
            "{err}"
        );
        assert!(err.message.contains("\"netname EXAMPLE\""), "{err}");
        assert!(err.message.contains("no colon"), "{err}");
    }

    #[test]
    fn an_attribute_name_with_spaces_is_an_error() {
        let err = error("role: A\n\n\nrole: B\nnic hdl: B1-TEST\n");
        assert_eq!(err.line, 5);
        assert!(err.message.contains("the name \"nic hdl\""), "{err}");
        let err = error(": no name\n");
        assert_eq!(err.line, 1);
        assert!(err.message.contains("the name \"\""), "{err}");
    }

    #[test]
    fn a_continuation_line_before_any_attribute_is_an_error() {
        let err = error("# header\n    abuse-c: EAT1-TEST\n");
        assert_eq!(
            err,
            DataError::new(2, "continuation line before any attribute")
        );
        let err = error("role: A\n\n+ more\n");
        assert_eq!(err.line, 3);
        assert!(err.message.contains("continuation line"), "{err}");
    }

    #[test]
    fn long_bad_lines_are_shortened_in_messages() {
        let line = "x".repeat(200);
        let err = error(&line);
        assert!(
            err.message.contains(&format!("{}…", "x".repeat(60))),
            "{err}"
        );
        assert!(!err.message.contains(&"x".repeat(61)), "{err}");
    }

    #[test]
    fn an_unparsable_inetnum_key_names_the_object_line() {
        let input = "role: A\n\ninetnum: 198.51.100.0 198.51.100.255\nnetname: X\n";
        let err = build_error(input);
        assert_eq!(err.line, 3);
        assert!(
            err.message
                .contains("inetnum key \"198.51.100.0 198.51.100.255\""),
            "{err}"
        );
        assert!(err.message.contains("not a range"), "{err}");

        for key in [
            "198.51.100.0 - example",
            "198.51.100.0/33x",
            "198.51.100.0/",
            "-",
        ] {
            let err = build_error(&format!("inetnum: {key}\n"));
            assert_eq!(err.line, 1, "{key}");
            assert!(err.message.starts_with("inetnum key"), "{err}");
        }
        let err = build_error("inetnum: 198.51.100.0/33\n");
        assert!(
            err.message.contains("prefix length 33 is too long"),
            "{err}"
        );
        let err = build_error("inet6num: 2001:db8::/129\n");
        assert!(
            err.message.contains("prefix length 129 is too long"),
            "{err}"
        );
    }

    #[test]
    fn a_key_of_the_wrong_family_is_an_error() {
        let err = build_error("inetnum: 2001:db8::/32\n");
        assert_eq!(
            err,
            DataError::new(1, "inetnum key \"2001:db8::/32\" is not an IPv4 range")
        );
        let err = build_error("\n\ninet6num: 192.0.2.0/24\n");
        assert_eq!(
            err,
            DataError::new(3, "inet6num key \"192.0.2.0/24\" is not an IPv6 range")
        );
        let err = build_error("inetnum: 192.0.2.0 - 2001:db8::\n");
        assert!(err.message.contains("is not an IPv4 range"), "{err}");
    }

    #[test]
    fn a_reversed_range_is_an_error() {
        let err = build_error(
            "route: 192.0.2.0/24\n\ninetnum: 198.51.100.9 - 198.51.100.1\nsource: RIPE\n",
        );
        assert_eq!(
            err,
            DataError::new(
                3,
                "inetnum key \"198.51.100.9 - 198.51.100.1\": first address 198.51.100.9 is \
                 after last address 198.51.100.1"
            )
        );
    }

    #[test]
    fn a_bad_aut_num_key_is_an_error() {
        for key in [
            "EXAMPLE-AS",
            "AS",
            "AS-SET1",
            "AS4294967296",
            "AS+1",
            "64496",
        ] {
            let err = build_error(&format!("role: A\n\naut-num: {key}\nsource: RIPE\n"));
            assert_eq!(err.line, 3, "{key}");
            assert!(
                err.message.contains(&format!("aut-num key \"{key}\"")),
                "{err}"
            );
            assert!(err.message.contains("AS<number>"), "{err}");
        }
    }

    #[test]
    fn inetnum_keys_accept_ranges_prefixes_single_addresses_and_odd_spellings() {
        let data = build(
            &objects(
                b"inetnum: 198.51.100.10-198.51.100.20\n\n\
                  inetnum: 198.51.100.77 - 198.51.100.77\n\n\
                  inetnum: 192.0.2.77/25\n\n\
                  inet6num: 2001:0db8:0001:0000::/64\n\n\
                  inet6num: 2001:db8::1 - 2001:db8::ff\n",
            )
            .unwrap(),
        )
        .unwrap();
        let ranges: Vec<(IpAddr, IpAddr)> =
            data.networks.iter().map(|n| (n.first, n.last)).collect();
        assert_eq!(
            ranges,
            [
                (ip("198.51.100.10"), ip("198.51.100.20")),
                (ip("198.51.100.77"), ip("198.51.100.77")),
                (ip("192.0.2.0"), ip("192.0.2.127")),
                (ip("2001:db8:1::"), ip("2001:db8:1:0:ffff:ffff:ffff:ffff")),
                (ip("2001:db8::1"), ip("2001:db8::ff")),
            ]
        );
        assert_eq!(
            data.networks[0].source, "inetnum 198.51.100.10-198.51.100.20",
            "no source"
        );
    }

    #[test]
    fn a_role_counts_only_with_a_usable_abuse_mailbox() {
        let input = "\
role: Historic Two Mailboxes
abuse-mailbox: not an address
abuse-mailbox: second@hoster.example
nic-hdl: TWO1-TEST

role: Bad Mailbox
abuse-mailbox: nobody-at-example
nic-hdl: BAD1-TEST

organisation: ORG-EX1-TEST
org-name: Example Org
abuse-c: TWO1-TEST

inetnum: 192.0.2.0 - 192.0.2.255
abuse-c: BAD1-TEST
org: ORG-EX1-TEST

inetnum: 198.51.100.0 - 198.51.100.255
abuse-c: BAD1-TEST

aut-num: AS64511
org: ORG-MISSING-TEST
";
        let data = build(&objects(input.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            data.networks[0].abuse_mailbox.as_deref(),
            Some("second@hoster.example"),
            "a bad own role falls to the org's"
        );
        assert_eq!(data.networks[1].abuse_mailbox, None);
        assert_eq!(data.autnums[0].org.as_deref(), Some("ORG-MISSING-TEST"));
        assert_eq!(data.autnums[0].org_name, None);
        assert_eq!(data.autnums[0].abuse_mailbox, None);
    }

    #[test]
    fn abuse_mailboxes_are_cleaned_or_refused() {
        for (value, expected) in [
            ("abuse@hoster.example", Some("abuse@hoster.example")),
            ("  Abuse@Hoster.Example  ", Some("Abuse@Hoster.Example")),
            (
                "Abuse Team <abuse@hoster.example>",
                Some("abuse@hoster.example"),
            ),
            (
                "\"Abuse\" <abuse@hoster.example>, (preferred)",
                Some("abuse@hoster.example"),
            ),
            ("abuse@hoster.example,", Some("abuse@hoster.example")),
            (
                "abuse@hoster.example (preferred)",
                Some("abuse@hoster.example"),
            ),
            (
                "abuse@hoster.example (Preferred),",
                Some("abuse@hoster.example"),
            ),
            ("mailto:abuse@hoster.example", Some("abuse@hoster.example")),
            (
                "\"abuse desk\"@hoster.example",
                Some("\"abuse desk\"@hoster.example"),
            ),
            (
                "o'brien&co@hoster.example",
                Some("o'brien&co@hoster.example"),
            ),
            ("", None),
            ("abuse", None),
            ("@hoster.example", None),
            ("abuse@", None),
            ("a@b@hoster.example", None),
            ("abuse@hoster.example other@hoster.example", None),
            ("abuse desk@hoster.example", None),
        ] {
            assert_eq!(clean_abuse_mailbox(value).as_deref(), expected, "{value:?}");
        }
    }

    #[test]
    fn placeholders_are_recognised_by_range_or_name() {
        assert!(is_placeholder(ip("0.0.0.0"), ip("255.255.255.255"), None));
        assert!(is_placeholder(
            ip("::"),
            ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            Some("ROOT")
        ));
        assert!(is_placeholder(
            ip("192.0.2.0"),
            ip("192.0.2.255"),
            Some("iana-blk")
        ));
        assert!(is_placeholder(
            ip("192.0.2.0"),
            ip("192.0.2.255"),
            Some("EU-ZZ-192")
        ));
        assert!(is_placeholder(
            ip("192.0.2.0"),
            ip("192.0.2.255"),
            Some("NON-RIPE-NCC-MANAGED-ADDRESS-BLOCK")
        ));
        assert!(!is_placeholder(
            ip("192.0.2.0"),
            ip("192.0.2.255"),
            Some("EU-ZZ")
        ));
        assert!(!is_placeholder(
            ip("192.0.2.0"),
            ip("192.0.2.255"),
            Some("EXAMPLE-NET")
        ));
        assert!(!is_placeholder(ip("0.0.0.0"), ip("0.255.255.255"), None));
    }

    #[test]
    fn rpsl_data_round_trips_through_serde() {
        let data = expected();
        let json = serde_json::to_string(&data).unwrap();
        assert_eq!(serde_json::from_str::<RpslData>(&json).unwrap(), data);
    }
}
