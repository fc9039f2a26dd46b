//! Reading hash-list files, one line at a time.
//!
//! Imports stream: the caller feeds lines as it reads them (from a file, or from an HTTP body),
//! so a 10-million-line file never sits in memory whole. [`Parser::line`] turns each line into
//! a [`Row`] or a [`LineError`] that names the line, and skips blank lines and `#` comments.
//!
//! Two shapes are accepted:
//!
//! * **With a header** (CSV or TSV; a tab in the header line means TSV). One column is named
//!   after the hash type (`md5`, `sha1`, `sha256` or `pdq`), or a `type` column names each
//!   row's type and a `hash` column holds the value. Optional columns: `quality` (PDQ quality,
//!   0-100), `ref` (an external reference id, also spelled `id`, `external_id` or
//!   `reference`) and `confirmations` (how many analysts independently confirmed the entry). An `added_version` column (what `schoon lists export` writes) is read and
//!   ignored, so an export imports again as it is. Other column names are an error, so a typo
//!   is not silently ignored. Fields may be quoted as in CSV (`"a,b"`, `"say ""hi"""`).
//!
//!   ```text
//!   pdq,quality,ref
//!   f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22,100,case-123
//!   ```
//! * **One hash per line**, no header. The type is the one the caller names, or is guessed
//!   from the length when that is unambiguous (32 hex digits: MD5, 40: SHA-1). A 64-digit hash
//!   may be SHA-256 or PDQ, so files of those need a header or an explicit type.
//!
//! ```
//! use lists::import::Parser;
//! use index::HashKind;
//!
//! let mut p = Parser::new(None);
//! assert!(p.line(1, "md5,ref").unwrap().is_none()); // the header
//! let row = p.line(2, "D41D8CD98F00B204E9800998ECF8427E,empty-file").unwrap().unwrap();
//! assert_eq!(row.key.kind(), HashKind::Md5);
//! assert_eq!(row.ext_ref.as_deref(), Some("empty-file"));
//! let err = p.line(3, "d41d8cd98f00b204").unwrap_err();
//! assert_eq!(err.line, 3);
//! ```

use index::{HashKind, Key};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// Longest accepted external reference, in bytes.
pub const MAX_REF_LEN: usize = 200;

/// How an import changes a list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Add the file's hashes; keep the rest.
    #[default]
    Add,
    /// Make the list exactly the file's hashes: add what is new, remove what is missing.
    Replace,
    /// Remove the file's hashes from the list.
    Remove,
}

impl Mode {
    /// The stored and displayed name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Add => "add",
            Mode::Replace => "replace",
            Mode::Remove => "remove",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "add" => Ok(Mode::Add),
            "replace" => Ok(Mode::Replace),
            "remove" => Ok(Mode::Remove),
            _ => Err(crate::Error::Invalid(format!(
                "unknown import mode {s:?} (one of add, replace, remove)"
            ))),
        }
    }
}

/// One entry read from a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The hash.
    pub key: Key,
    /// PDQ quality (0-100), when the file gives it.
    pub quality: Option<u8>,
    /// The list owner's own reference for the entry, when the file gives it.
    pub ext_ref: Option<String>,
    /// Independent analyst confirmations, when the file gives them (`confirmations` column).
    pub confirmations: Option<u32>,
    /// Set by the quality [`Gate`](crate::store::Gate) when the row is imported as *held* for
    /// review rather than active: the reason.
    pub hold: Option<String>,
}

/// A line that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    /// 1-based line number.
    pub line: u64,
    /// What is wrong, for people.
    pub message: String,
}

#[derive(Clone, Debug)]
enum Shape {
    /// Not yet known: the first content line decides.
    Unknown,
    /// A header was read.
    Columns {
        delimiter: char,
        kind: Option<HashKind>,
        hash: usize,
        kind_col: Option<usize>,
        quality: Option<usize>,
        ext_ref: Option<usize>,
        confirmations: Option<usize>,
        width: usize,
    },
    /// One hash per line.
    Bare,
}

/// Reads a hash-list file line by line. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Parser {
    default_kind: Option<HashKind>,
    shape: Shape,
}

impl Parser {
    /// A parser. `kind` is the type of hashes in a file without a header (`None`: guess from
    /// the length where that is unambiguous).
    pub fn new(kind: Option<HashKind>) -> Parser {
        Parser {
            default_kind: kind,
            shape: Shape::Unknown,
        }
    }

    /// Whether the file had a header line.
    pub fn has_header(&self) -> bool {
        matches!(self.shape, Shape::Columns { .. })
    }

    /// Reads one line (without its line ending; a trailing `\r` is ignored). `Ok(None)` for
    /// the header, blank lines and comments.
    pub fn line(&mut self, number: u64, text: &str) -> Result<Option<Row>, LineError> {
        let text = text.strip_suffix('\r').unwrap_or(text);
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return Ok(None);
        }
        let err = |message: String| LineError {
            line: number,
            message,
        };
        if let Shape::Unknown = self.shape {
            let first = split(trimmed, delimiter_of(trimmed))
                .into_iter()
                .next()
                .unwrap_or_default();
            if first.bytes().all(|b| b.is_ascii_hexdigit()) {
                self.shape = Shape::Bare;
            } else {
                self.shape = header(trimmed).map_err(err)?;
                return Ok(None);
            }
        }
        match &self.shape {
            Shape::Unknown => unreachable!("decided above"),
            Shape::Bare => {
                let value = unquote(trimmed);
                let kind = match self.default_kind {
                    Some(k) => k,
                    None => guess_kind(value).map_err(err)?,
                };
                let key = Key::parse_hex(kind, value).map_err(|e| err(e.to_string()))?;
                Ok(Some(Row {
                    key,
                    quality: None,
                    ext_ref: None,
                    confirmations: None,
                    hold: None,
                }))
            }
            Shape::Columns {
                delimiter,
                kind,
                hash,
                kind_col,
                quality,
                ext_ref,
                confirmations,
                width,
            } => {
                let fields = split(trimmed, *delimiter);
                if fields.len() > *width {
                    return Err(err(format!(
                        "{} fields, but the header names {width}",
                        fields.len()
                    )));
                }
                let field = |i: usize| fields.get(i).map(|f| f.as_ref()).unwrap_or("");
                let kind = match (kind, kind_col) {
                    (Some(k), _) => *k,
                    (None, Some(c)) => HashKind::from_str(field(*c))
                        .map_err(|_| err(format!("unknown hash type {:?}", field(*c))))?,
                    (None, None) => unreachable!("the header names a type"),
                };
                let value = field(*hash);
                if value.is_empty() {
                    return Err(err("no hash on this line".into()));
                }
                let key = Key::parse_hex(kind, value).map_err(|e| err(e.to_string()))?;
                let quality = match quality.map(field) {
                    None | Some("") => None,
                    Some(q) => match q.parse::<u8>() {
                        Ok(q) if q <= 100 => Some(q),
                        _ => return Err(err(format!("quality {q:?} is not a number 0-100"))),
                    },
                };
                let ext_ref = match ext_ref.map(field) {
                    None | Some("") => None,
                    Some(r) if r.len() > MAX_REF_LEN => {
                        return Err(err(format!("reference longer than {MAX_REF_LEN} bytes")));
                    }
                    Some(r) => Some(r.to_string()),
                };
                let confirmations =
                    match confirmations.map(field) {
                        None | Some("") => None,
                        Some(c) => Some(c.parse::<u32>().map_err(|_| {
                            err(format!("confirmations {c:?} is not a whole number"))
                        })?),
                    };
                Ok(Some(Row {
                    key,
                    quality,
                    ext_ref,
                    confirmations,
                    hold: None,
                }))
            }
        }
    }
}

fn delimiter_of(line: &str) -> char {
    if line.contains('\t') { '\t' } else { ',' }
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
        .trim()
}

/// Splits a line into trimmed fields. A field that starts with `"` runs to the closing quote,
/// delimiters included, and `""` inside it is one `"` (RFC 4180); a stray quote elsewhere is
/// kept as it is.
fn split(line: &str, delimiter: char) -> Vec<Cow<'_, str>> {
    let mut fields = Vec::new();
    let mut rest = line;
    loop {
        let Some(quoted) = rest.trim_start().strip_prefix('"') else {
            match rest.split_once(delimiter) {
                Some((field, next)) => {
                    fields.push(Cow::Borrowed(field.trim()));
                    rest = next;
                    continue;
                }
                None => {
                    fields.push(Cow::Borrowed(rest.trim()));
                    return fields;
                }
            }
        };
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let mut after = None;
        while let Some((i, c)) = chars.next() {
            if c != '"' {
                value.push(c);
            } else if quoted[i + 1..].starts_with('"') {
                value.push('"');
                chars.next();
            } else {
                after = Some(&quoted[i + 1..]);
                break;
            }
        }
        // An unclosed quote takes the rest of the line; text between a closing quote and the
        // delimiter is kept, leniently.
        let next = after.and_then(|after| {
            let (tail, next) = match after.split_once(delimiter) {
                Some((tail, next)) => (tail, Some(next)),
                None => (after, None),
            };
            value.push_str(tail);
            next
        });
        fields.push(Cow::Owned(value.trim().to_string()));
        match next {
            Some(next) => rest = next,
            None => return fields,
        }
    }
}

fn guess_kind(value: &str) -> Result<HashKind, String> {
    match value.len() {
        32 => Ok(HashKind::Md5),
        40 => Ok(HashKind::Sha1),
        64 => Err(
            "a 64-digit hash may be SHA-256 or PDQ: add a header line (sha256 or pdq) or name the type"
                .into(),
        ),
        n => Err(format!(
            "{n} hex digits is no known hash length (MD5 32, SHA-1 40, SHA-256 and PDQ 64)"
        )),
    }
}

fn header(line: &str) -> Result<Shape, String> {
    let delimiter = delimiter_of(line);
    let mut kind = None;
    let mut hash = None;
    let mut kind_col = None;
    let mut quality = None;
    let mut ext_ref = None;
    let mut confirmations = None;
    let mut added_version = None;
    let mut width = 0;
    for (i, name) in split(line, delimiter).into_iter().enumerate() {
        width += 1;
        let lower = name.to_ascii_lowercase();
        let slot = match lower.as_str() {
            "type" | "hash_type" => &mut kind_col,
            "hash" | "value" => &mut hash,
            "quality" => &mut quality,
            "ref" | "id" | "external_id" | "reference" => &mut ext_ref,
            "confirmations" | "verified_by" => &mut confirmations,
            // Written by exports; an import makes its own versions.
            "added_version" => &mut added_version,
            other => match HashKind::from_str(other) {
                Ok(k) => {
                    if kind.is_some() {
                        return Err(
                            "the header names two hash types; use a `type` and a `hash` column for mixed files"
                                .into(),
                        );
                    }
                    kind = Some(k);
                    &mut hash
                }
                Err(_) => {
                    return Err(format!(
                        "unknown column {name:?} in the header (expected md5, sha1, sha256, pdq, type, hash, quality, ref, confirmations, added_version)"
                    ));
                }
            },
        };
        if slot.replace(i).is_some() {
            return Err(format!("column {name:?} appears twice in the header"));
        }
    }
    let Some(hash) = hash else {
        return Err(
            "the header names no hash column (md5, sha1, sha256, pdq, or type + hash)".into(),
        );
    };
    if kind.is_none() && kind_col.is_none() {
        return Err("the header has a `hash` column but no `type` column".into());
    }
    if kind.is_some() && kind_col.is_some() {
        return Err("the header names a hash type and also a `type` column".into());
    }
    Ok(Shape::Columns {
        delimiter,
        kind,
        hash,
        kind_col,
        quality,
        ext_ref,
        confirmations,
        width,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDQ: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

    fn rows(kind: Option<HashKind>, text: &str) -> Vec<Result<Option<Row>, LineError>> {
        let mut p = Parser::new(kind);
        text.lines()
            .enumerate()
            .map(|(i, l)| p.line(i as u64 + 1, l))
            .collect()
    }

    #[test]
    fn tsv_with_header_quality_and_ref() {
        let r = rows(None, &format!("pdq\tquality\tref\r\n{PDQ}\t87\tx-1\r\n"));
        assert_eq!(r[0], Ok(None));
        let row = r[1].clone().unwrap().unwrap();
        assert_eq!(row.key.kind(), HashKind::Pdq);
        assert_eq!(row.key.to_hex(), PDQ);
        assert_eq!(row.quality, Some(87));
        assert_eq!(row.ext_ref.as_deref(), Some("x-1"));
    }

    #[test]
    fn mixed_types_with_type_column() {
        let text = format!(
            "type,hash\nsha1,da39a3ee5e6b4b0d3255bfef95601890afd80709\npdq,{PDQ}\nsha512,00\n"
        );
        let r = rows(None, &text);
        assert_eq!(r[1].clone().unwrap().unwrap().key.kind(), HashKind::Sha1);
        assert_eq!(r[2].clone().unwrap().unwrap().key.kind(), HashKind::Pdq);
        let e = r[3].clone().unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.message.contains("unknown hash type"), "{e}");
    }

    #[test]
    fn bare_lines_guess_or_take_the_type() {
        let r = rows(
            None,
            "# md5 list\n\nd41d8cd98f00b204e9800998ecf8427e\nda39a3ee5e6b4b0d3255bfef95601890afd80709\n",
        );
        assert_eq!(r[0], Ok(None));
        assert_eq!(r[1], Ok(None));
        assert_eq!(r[2].clone().unwrap().unwrap().key.kind(), HashKind::Md5);
        assert_eq!(r[3].clone().unwrap().unwrap().key.kind(), HashKind::Sha1);
        let r = rows(None, PDQ);
        assert!(r[0].clone().unwrap_err().message.contains("SHA-256 or PDQ"));
        let r = rows(Some(HashKind::Pdq), PDQ);
        assert_eq!(r[0].clone().unwrap().unwrap().key.kind(), HashKind::Pdq);
        let r = rows(Some(HashKind::Pdq), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(r[0].clone().unwrap_err().line, 1);
    }

    #[test]
    fn exports_read_back_with_quoted_fields_and_added_version() {
        let text = format!(
            "type,hash,quality,ref,added_version\npdq,{PDQ},90,\"case 7, frame \"\"a\"\"\",3\nmd5,d41d8cd98f00b204e9800998ecf8427e,,,1\n"
        );
        let r = rows(None, &text);
        assert_eq!(r[0], Ok(None));
        let row = r[1].clone().unwrap().unwrap();
        assert_eq!(row.key.to_hex(), PDQ);
        assert_eq!(row.quality, Some(90));
        assert_eq!(row.ext_ref.as_deref(), Some("case 7, frame \"a\""));
        let row = r[2].clone().unwrap().unwrap();
        assert_eq!(row.key.kind(), HashKind::Md5);
        assert_eq!((row.quality, row.ext_ref), (None, None));
    }

    #[test]
    fn split_follows_csv_quoting_and_stays_lenient() {
        let s = |l| {
            split(l, ',')
                .into_iter()
                .map(|f| f.into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(s("a, b ,c"), ["a", "b", "c"]);
        assert_eq!(s("\"a,b\",c"), ["a,b", "c"]);
        assert_eq!(s("\"\"\"\",x"), ["\"", "x"]);
        assert_eq!(s("a\"b,c"), ["a\"b", "c"]);
        assert_eq!(s("\"ab\"cd,e"), ["abcd", "e"]);
        assert_eq!(s("\"open,x"), ["open,x"]);
        assert_eq!(s("a,"), ["a", ""]);
        assert_eq!(s("a,\"\""), ["a", ""]);
    }

    #[test]
    fn header_errors_are_clear() {
        for (text, needle) in [
            ("md5,colour\n", "unknown column"),
            ("md5,sha1\n", "two hash types"),
            ("hash\n", "no `type` column"),
            ("ref,quality\n", "no hash column"),
            ("md5,ref,ref\n", "appears twice"),
        ] {
            let e = rows(None, text)[0].clone().unwrap_err();
            assert_eq!(e.line, 1);
            assert!(e.message.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn bad_values_name_their_line() {
        let text = format!(
            "pdq,quality\n{PDQ},101\n{}\nzz{}\n{PDQ},5,extra\n",
            &PDQ[..60],
            &PDQ[2..]
        );
        let r = rows(None, &text);
        let lines: Vec<u64> = r
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|e| e.line)
            .collect();
        assert_eq!(lines, [2, 3, 4, 5]);
    }
}
