//! Parser for iptoasn.com's `ip2asn` files: which autonomous system announces an address.
//!
//! # The format
//!
//! iptoasn.com publishes the routed address space, as seen in BGP, in gzipped
//! tab-separated files (`ip2asn-v4.tsv`, `ip2asn-v6.tsv`, `ip2asn-combined.tsv`). Each line
//! is one inclusive range with five columns and there is **no header row**:
//!
//! ```text
//! range_start   range_end        AS_number  country_code  AS_description
//! 192.0.2.0     192.0.2.255      64496      NL            EXAMPLE-AS Example Hosting B.V.
//! 198.51.100.0  198.51.100.127   0          None          Not routed
//! ```
//!
//! Ranges are sorted, do not overlap and need not be aligned to prefixes; adjacent ranges of
//! the same AS are not always merged. An AS number names the *network* that announces the
//! range (typically the hoster), not the customer it is assigned to: RIR data
//! ([`super::rpsl`]) names the customer.
//!
//! # Quirks handled
//!
//! * **Unrouted space** is listed with AS `0`, country `None`, description `Not routed`.
//!   AS 0 means "no origin AS"; it is never an attribution, so these rows are dropped
//!   (after being checked like every other row).
//! * Country `None` (or an empty column) becomes `None`; other codes are upper-cased.
//! * The `ip2asn-v4-u32.tsv` variant writes IPv4 addresses as decimal integers
//!   (`3221225984` for `192.0.2.0`). Each address column is recognised on its own: all
//!   digits means an integer, anything else an IP address in text form.
//! * IPv6 ends are written in full (`2001:db8:ffff:ffff:ffff:ffff:ffff:ffff`); any spelling
//!   Rust's parser accepts is fine.
//! * Descriptions may be non-ASCII. A description that is not valid UTF-8 is decoded as
//!   Latin-1, so one odd byte does not cost the file.
//! * Blank lines, a final newline, CRLF line ends, a UTF-8 byte order mark and lines starting
//!   with `#` (for an operator's own notes) are accepted.
//!
//! Anything else is an error naming the line: a wrong number of columns, an address that
//! does not parse, a start after the end, ends of different families, an AS number that is
//! not a 32-bit number. One bad line rejects the whole file, so a truncated or wrong file is
//! noticed rather than half-loaded.
//!
//! # Why hand-written
//!
//! The format is five columns. The `ip2asn` crate (0.1) reads it only into its own lookup
//! map, splitting every range into CIDR prefixes for a PATRICIA trie and keeping the country
//! as two bytes; Schoon keeps one lookup table ([`super::table::RangeTable`]) for RIR and
//! routing data alike and wants every quirk above decided in one visible place. This parser
//! only turns bytes into [`AsnRange`] values.

use std::net::{IpAddr, Ipv4Addr};

use super::table::DataError;

/// One routed range from an ip2asn file: the addresses from `first` to `last` (inclusive)
/// are announced by AS `asn`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AsnRange {
    /// The first address of the range.
    pub first: IpAddr,
    /// The last address of the range (inclusive), of the same family as `first`.
    pub last: IpAddr,
    /// The origin AS number; never 0 (unrouted rows are dropped).
    pub asn: u32,
    /// The AS's country code as listed (upper-cased), `None` where the file says `None`.
    pub country: Option<String>,
    /// The AS description, typically `AS-NAME Organisation name`; may be empty.
    pub description: String,
}

/// The number of tab-separated columns in every row.
const COLUMNS: usize = 5;

/// Parses a whole ip2asn file (`-v4`, `-v6`, `-combined` or `-v4-u32`, uncompressed).
///
/// Returns the routed ranges in file order, without the AS 0 ("Not routed") rows. Any
/// malformed line rejects the file with a [`DataError`] naming the line and the problem.
///
/// ```
/// use ntd::attribution::ip2asn;
///
/// let ranges = ip2asn::parse(b"192.0.2.0\t192.0.2.255\t64496\tNL\tEXAMPLE-AS Example\n")?;
/// assert_eq!(ranges[0].asn, 64496);
/// assert_eq!(ranges[0].country.as_deref(), Some("NL"));
/// # Ok::<(), ntd::attribution::table::DataError>(())
/// ```
pub fn parse(input: &[u8]) -> Result<Vec<AsnRange>, DataError> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let mut ranges = Vec::new();
    for (index, raw) in input.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) || raw.first() == Some(&b'#') {
            continue;
        }
        if let Some(range) = parse_line(raw, line)? {
            ranges.push(range);
        }
    }
    Ok(ranges)
}

/// Parses one non-blank line; `Ok(None)` for a valid AS 0 row.
fn parse_line(raw: &[u8], line: usize) -> Result<Option<AsnRange>, DataError> {
    let columns: Vec<&[u8]> = raw.split(|&b| b == b'\t').collect();
    let [start, end, asn, country, description] = columns[..] else {
        return Err(DataError::new(
            line,
            format!(
                "expected {COLUMNS} tab-separated columns (start, end, AS number, country, \
                 description), found {}",
                columns.len()
            ),
        ));
    };
    let first = address(start, "start", line)?;
    let last = address(end, "end", line)?;
    match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) if a > b => return Err(reversed(first, last, line)),
        (IpAddr::V6(a), IpAddr::V6(b)) if a > b => return Err(reversed(first, last, line)),
        (IpAddr::V4(_), IpAddr::V6(_)) | (IpAddr::V6(_), IpAddr::V4(_)) => {
            return Err(DataError::new(
                line,
                format!("start address {first} and end address {last} are of different families"),
            ));
        }
        _ => {}
    }
    let asn = as_number(asn, line)?;
    if asn == 0 {
        return Ok(None);
    }
    let country = match text(country).trim() {
        "" | "None" => None,
        code => Some(code.to_ascii_uppercase()),
    };
    Ok(Some(AsnRange {
        first,
        last,
        asn,
        country,
        description: text(description).trim().to_owned(),
    }))
}

fn reversed(first: IpAddr, last: IpAddr, line: usize) -> DataError {
    DataError::new(
        line,
        format!("start address {first} is after end address {last}"),
    )
}

/// A column as text: UTF-8 if it is valid UTF-8, else Latin-1 (every byte is a character).
fn text(column: &[u8]) -> String {
    match std::str::from_utf8(column) {
        Ok(s) => s.to_owned(),
        Err(_) => column.iter().map(|&b| char::from(b)).collect(),
    }
}

/// An address column: an IP address in text form, or a decimal `u32` (the `-v4-u32` files).
fn address(column: &[u8], which: &str, line: usize) -> Result<IpAddr, DataError> {
    let shown = text(column);
    let value = shown.trim();
    let bad = || DataError::new(line, format!("bad {which} address \"{value}\""));
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let n: u32 = value.parse().map_err(|_| bad())?;
        return Ok(IpAddr::V4(Ipv4Addr::from(n)));
    }
    value.parse().map_err(|_| bad())
}

/// The AS number column: decimal, optionally written `AS64496`.
fn as_number(column: &[u8], line: usize) -> Result<u32, DataError> {
    let shown = text(column);
    let value = shown.trim();
    let digits = match value.get(..2) {
        Some(prefix) if prefix.eq_ignore_ascii_case("AS") => &value[2..],
        _ => value,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DataError::new(line, format!("bad AS number \"{value}\"")));
    }
    digits.parse().map_err(|_| {
        DataError::new(
            line,
            format!("bad AS number \"{value}\": not a 32-bit number"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn range(
        first: &str,
        last: &str,
        asn: u32,
        country: Option<&str>,
        description: &str,
    ) -> AsnRange {
        AsnRange {
            first: ip(first),
            last: ip(last),
            asn,
            country: country.map(str::to_owned),
            description: description.to_owned(),
        }
    }

    fn error(input: &[u8]) -> DataError {
        parse(input).expect_err("the input is malformed")
    }

    #[test]
    fn parses_v4_and_v6_rows_and_drops_unrouted_ones() {
        let input = "192.0.2.0\t192.0.2.255\t64496\tNL\tEXAMPLE-AS Example Hosting B.V.\n\
                     198.51.100.0\t198.51.100.127\t0\tNone\tNot routed\n\
                     198.51.100.128\t198.51.100.191\t64497\tDE\tEXAMPLE2 - Example Cloud, Inc.\n\
                     198.51.100.192\t198.51.100.255\t64497\tDE\tEXAMPLE2 - Example Cloud, Inc.\n\
                     2001:db8::\t2001:db8:ffff:ffff:ffff:ffff:ffff:ffff\t65536\tFR\tEXAMPLE6\n";
        assert_eq!(
            parse(input.as_bytes()).unwrap(),
            vec![
                range(
                    "192.0.2.0",
                    "192.0.2.255",
                    64496,
                    Some("NL"),
                    "EXAMPLE-AS Example Hosting B.V."
                ),
                range(
                    "198.51.100.128",
                    "198.51.100.191",
                    64497,
                    Some("DE"),
                    "EXAMPLE2 - Example Cloud, Inc."
                ),
                range(
                    "198.51.100.192",
                    "198.51.100.255",
                    64497,
                    Some("DE"),
                    "EXAMPLE2 - Example Cloud, Inc."
                ),
                range(
                    "2001:db8::",
                    "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
                    65536,
                    Some("FR"),
                    "EXAMPLE6"
                ),
            ]
        );
    }

    #[test]
    fn country_none_or_empty_is_absent_and_codes_are_upper_cased() {
        let input = b"192.0.2.0\t192.0.2.9\t64498\tNone\tEXAMPLE-ANYCAST\n\
                      192.0.2.10\t192.0.2.19\t64499\t\tEXAMPLE-BLANK\n\
                      192.0.2.20\t192.0.2.29\t64500\tnl\tEXAMPLE-LOWER\n";
        let ranges = parse(input).unwrap();
        assert_eq!(ranges[0].country, None);
        assert_eq!(ranges[1].country, None);
        assert_eq!(ranges[2].country.as_deref(), Some("NL"));
    }

    #[test]
    fn an_unrouted_row_that_is_malformed_is_still_an_error() {
        let err = error(b"198.51.100.9\t198.51.100.0\t0\tNone\tNot routed\n");
        assert_eq!(err.line, 1);
        assert!(err.message.contains("is after end address"), "{err}");
    }

    #[test]
    fn integer_addresses_of_the_u32_variant_are_recognised_per_column() {
        let doc = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap());
        let input = format!(
            "{}\t{}\t64496\tNL\tEXAMPLE-AS\n{}\t{}\t0\tNone\tNot routed\n203.0.113.0\t{}\t64501\tBE\tEXAMPLE-MIXED\n",
            doc("192.0.2.0"),
            doc("192.0.2.255"),
            doc("198.51.100.0"),
            doc("198.51.100.255"),
            doc("203.0.113.255"),
        );
        assert_eq!(
            parse(input.as_bytes()).unwrap(),
            vec![
                range("192.0.2.0", "192.0.2.255", 64496, Some("NL"), "EXAMPLE-AS"),
                range(
                    "203.0.113.0",
                    "203.0.113.255",
                    64501,
                    Some("BE"),
                    "EXAMPLE-MIXED"
                ),
            ]
        );
        let err = error(b"4294967296\t4294967297\t64496\tNL\tEXAMPLE-AS\n");
        assert_eq!(err.line, 1);
        assert!(
            err.message.contains("bad start address \"4294967296\""),
            "{err}"
        );
    }

    #[test]
    fn a_description_that_is_not_utf8_is_read_as_latin1() {
        let mut input = b"192.0.2.0\t192.0.2.255\t64496\tFR\tEXAMPLE-AS Soci".to_vec();
        input.extend_from_slice(b"\xE9t\xE9 Exemple\n");
        input.extend_from_slice(
            "198.51.100.0\t198.51.100.255\t64497\tDE\tEXAMPLE-AS Müller\n".as_bytes(),
        );
        let ranges = parse(&input).unwrap();
        assert_eq!(ranges[0].description, "EXAMPLE-AS Société Exemple");
        assert_eq!(ranges[1].description, "EXAMPLE-AS Müller");
    }

    #[test]
    fn blank_lines_comments_crlf_and_a_bom_are_accepted() {
        let input = b"\xEF\xBB\xBF# written by the operator\r\n\r\n\
                      192.0.2.0\t192.0.2.255\t64496\tNL\tEXAMPLE-AS \r\n\
                      \x20\t\r\n\
                      2001:db8::\t2001:db8::ffff\tAS65537\tNone\tEXAMPLE6\r\n\r\n";
        assert_eq!(
            parse(input).unwrap(),
            vec![
                range("192.0.2.0", "192.0.2.255", 64496, Some("NL"), "EXAMPLE-AS"),
                range("2001:db8::", "2001:db8::ffff", 65537, None, "EXAMPLE6"),
            ]
        );
        assert_eq!(parse(b"").unwrap(), Vec::new());
        assert_eq!(parse(b"\n\n").unwrap(), Vec::new());
    }

    #[test]
    fn non_canonical_ipv6_spellings_parse() {
        let ranges =
            parse(b"2001:0DB8:0000::\t2001:db8:0:0:ffff:ffff:ffff:ffff\t65538\tSE\tEXAMPLE6\n")
                .unwrap();
        assert_eq!(ranges[0].first, ip("2001:db8::"));
        assert_eq!(ranges[0].last, ip("2001:db8::ffff:ffff:ffff:ffff"));
    }

    #[test]
    fn a_wrong_column_count_names_the_line() {
        let err = error(
            b"192.0.2.0\t192.0.2.255\t64496\tNL\tEXAMPLE\n192.0.2.0 192.0.2.255 64496 NL EXAMPLE\n",
        );
        assert_eq!(err.line, 2);
        assert!(
            err.message.contains("expected 5 tab-separated columns"),
            "{err}"
        );
        assert!(err.message.ends_with("found 1"), "{err}");
        let err = error(b"\n\n192.0.2.0\t192.0.2.255\t64496\tNL\tEXAMPLE\textra\n");
        assert_eq!(err.line, 3);
        assert!(err.message.ends_with("found 6"), "{err}");
    }

    #[test]
    fn a_bad_address_names_the_line_and_the_column() {
        let err = error(b"192.0.2.0\t192.0.2.256\t64496\tNL\tEXAMPLE\n");
        assert_eq!(err, DataError::new(1, "bad end address \"192.0.2.256\""));
        let err = error(b"# header\nexample.example\t192.0.2.255\t64496\tNL\tEXAMPLE\n");
        assert_eq!(
            err,
            DataError::new(2, "bad start address \"example.example\"")
        );
        let err = error(b"\t192.0.2.255\t64496\tNL\tEXAMPLE\n");
        assert_eq!(err, DataError::new(1, "bad start address \"\""));
    }

    #[test]
    fn a_start_after_the_end_names_the_line() {
        let err = error(
            b"192.0.2.0\t192.0.2.255\t64496\tNL\tA\n2001:db8::ff\t2001:db8::1\t65536\tNL\tB\n",
        );
        assert_eq!(
            err,
            DataError::new(
                2,
                "start address 2001:db8::ff is after end address 2001:db8::1"
            )
        );
    }

    #[test]
    fn mixed_families_name_the_line() {
        let err = error(b"192.0.2.0\t2001:db8::\t64496\tNL\tEXAMPLE\n");
        assert_eq!(err.line, 1);
        assert!(err.message.contains("different families"), "{err}");
    }

    #[test]
    fn a_bad_as_number_names_the_line() {
        for (row, expected) in [
            (
                &b"192.0.2.0\t192.0.2.255\tsixty\tNL\tEXAMPLE\n"[..],
                "bad AS number \"sixty\"",
            ),
            (
                b"192.0.2.0\t192.0.2.255\t-1\tNL\tEXAMPLE\n",
                "bad AS number \"-1\"",
            ),
            (
                b"192.0.2.0\t192.0.2.255\t\tNL\tEXAMPLE\n",
                "bad AS number \"\"",
            ),
            (
                b"192.0.2.0\t192.0.2.255\t4294967296\tNL\tEXAMPLE\n",
                "bad AS number \"4294967296\": not a 32-bit number",
            ),
        ] {
            let mut input = b"203.0.113.0\t203.0.113.255\t64511\tNL\tFIRST\n".to_vec();
            input.extend_from_slice(row);
            assert_eq!(error(&input), DataError::new(2, expected));
        }
    }

    #[test]
    fn ranges_round_trip_through_serde() {
        let r = range("192.0.2.0", "192.0.2.255", 64496, Some("NL"), "EXAMPLE-AS");
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<AsnRange>(&json).unwrap(), r);
    }
}
