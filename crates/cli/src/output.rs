//! The rows `schoon hash` prints, in TSV, CSV or JSON Lines.

use scan::filehash::{FileHashes, Perceptual};
use serde::Serialize;
use std::io::{self, Write};

/// Output format of `schoon hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tab-separated values with a header row (tabs and newlines in paths are escaped as \t, \n).
    Tsv,
    /// Comma-separated values with a header row (RFC 4180 quoting).
    Csv,
    /// One JSON object per line; absent values are null.
    Jsonl,
}

/// The dihedral column names, after `pdq` (which is the untransformed hash).
const DIHEDRAL_COLUMNS: [&str; 7] = [
    "pdq_rot90",
    "pdq_rot180",
    "pdq_rot270",
    "pdq_flipx",
    "pdq_flipy",
    "pdq_flipplus1",
    "pdq_flipminus1",
];

/// One output row: a file, its hashes, or why something is missing.
#[derive(Debug, Default, Serialize)]
pub struct Row {
    /// The path as given or found.
    pub path: String,
    /// File size in bytes.
    pub size: Option<u64>,
    /// MD5 hex.
    pub md5: Option<String>,
    /// SHA-1 hex.
    pub sha1: Option<String>,
    /// SHA-256 hex.
    pub sha256: Option<String>,
    /// PDQ hex (Meta's format).
    pub pdq: Option<String>,
    /// PDQ quality 0..=100.
    pub quality: Option<u8>,
    /// Image format, recognised from the bytes (`jpeg`, `png`, ...).
    pub format: Option<&'static str>,
    /// Decoded width in pixels.
    pub width: Option<usize>,
    /// Decoded height in pixels.
    pub height: Option<usize>,
    /// The seven transformed hashes, when asked for (JSON: an object by name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dihedral: Option<serde_json::Map<String, serde_json::Value>>,
    /// Why the file or its image could not be hashed; "not an image" for other data.
    pub error: Option<String>,
    /// Whether this row counts as a failure for the exit status.
    #[serde(skip)]
    pub failed: bool,
}

impl Row {
    /// A row for a file that could not be read.
    pub fn unreadable(path: String, error: String) -> Row {
        Row {
            path,
            error: Some(error),
            failed: true,
            ..Row::default()
        }
    }

    /// A row for a file that was read.
    pub fn from_hashes(path: String, h: &FileHashes, want_dihedral: bool) -> Row {
        let mut row = Row {
            path,
            size: Some(h.size),
            md5: Some(h.digests.md5_hex()),
            sha1: Some(h.digests.sha1_hex()),
            sha256: Some(h.digests.sha256_hex()),
            ..Row::default()
        };
        match &h.perceptual {
            Perceptual::Hashed {
                format,
                width,
                height,
                pdq,
                dihedral,
            } => {
                row.pdq = Some(pdq.hash.to_hex());
                row.quality = Some(pdq.quality);
                row.format = Some(format.name());
                row.width = Some(*width);
                row.height = Some(*height);
                if let Some(d) = dihedral {
                    let map = DIHEDRAL_COLUMNS
                        .iter()
                        .zip(&d.hashes[1..])
                        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(v.to_hex())))
                        .collect();
                    row.dihedral = Some(map);
                }
            }
            Perceptual::NotImage => row.error = Some("not an image".to_owned()),
            Perceptual::Failed(e) => {
                row.error = Some(e.to_string());
                row.failed = true;
            }
        }
        if want_dihedral && row.dihedral.is_none() {
            row.dihedral = Some(serde_json::Map::new());
        }
        row
    }

    fn fields(&self, dihedral: bool) -> Vec<String> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut f = vec![
            self.path.clone(),
            self.size.map(|s| s.to_string()).unwrap_or_default(),
            opt(&self.md5),
            opt(&self.sha1),
            opt(&self.sha256),
            opt(&self.pdq),
            self.quality.map(|q| q.to_string()).unwrap_or_default(),
            self.format.unwrap_or_default().to_owned(),
            self.width.map(|v| v.to_string()).unwrap_or_default(),
            self.height.map(|v| v.to_string()).unwrap_or_default(),
        ];
        if dihedral {
            for c in DIHEDRAL_COLUMNS {
                let v = self
                    .dihedral
                    .as_ref()
                    .and_then(|m| m.get(c))
                    .and_then(|v| v.as_str());
                f.push(v.unwrap_or_default().to_owned());
            }
        }
        f.push(opt(&self.error));
        f
    }
}

fn header(dihedral: bool) -> Vec<&'static str> {
    let mut h = vec![
        "path", "size", "md5", "sha1", "sha256", "pdq", "quality", "format", "width", "height",
    ];
    if dihedral {
        h.extend(DIHEDRAL_COLUMNS);
    }
    h.push("error");
    h
}

/// Escapes a TSV field: backslash, tab, newline and carriage return.
fn tsv_escape(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(['\\', '\t', '\n', '\r']) {
        return s.into();
    }
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
        .into()
}

/// Writes rows in one format.
pub struct Writer<W: Write> {
    dihedral: bool,
    sink: Sink<W>,
}

enum Sink<W: Write> {
    Tsv(W),
    Csv(Box<csv::Writer<W>>),
    Jsonl(W),
}

impl<W: Write> std::fmt::Debug for Writer<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("dihedral", &self.dihedral)
            .finish_non_exhaustive()
    }
}

impl<W: Write> Writer<W> {
    /// A writer; the header (TSV, CSV) is written at once.
    pub fn new(format: Format, dihedral: bool, mut out: W) -> io::Result<Self> {
        let sink = match format {
            Format::Tsv => {
                writeln!(out, "{}", header(dihedral).join("\t"))?;
                Sink::Tsv(out)
            }
            Format::Csv => {
                let mut c = csv::Writer::from_writer(out);
                c.write_record(header(dihedral)).map_err(io::Error::other)?;
                Sink::Csv(Box::new(c))
            }
            Format::Jsonl => Sink::Jsonl(out),
        };
        Ok(Writer { dihedral, sink })
    }

    /// Writes one row.
    pub fn write(&mut self, row: &Row) -> io::Result<()> {
        match &mut self.sink {
            Sink::Tsv(out) => {
                let fields = row.fields(self.dihedral);
                let line: Vec<_> = fields.iter().map(|f| tsv_escape(f)).collect();
                writeln!(out, "{}", line.join("\t"))
            }
            Sink::Csv(c) => c
                .write_record(row.fields(self.dihedral))
                .map_err(io::Error::other),
            Sink::Jsonl(out) => {
                serde_json::to_writer(&mut *out, row)?;
                writeln!(out)
            }
        }
    }

    /// Flushes buffered output.
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Tsv(out) | Sink::Jsonl(out) => out.flush(),
            Sink::Csv(c) => c.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_escapes_separators() {
        assert_eq!(tsv_escape("a\tb\nc\\d"), "a\\tb\\nc\\\\d");
        assert_eq!(tsv_escape("plain"), "plain");
    }

    #[test]
    fn header_lists_dihedral_columns_only_when_asked() {
        assert_eq!(header(false).len(), 11);
        assert_eq!(header(true).len(), 18);
        assert_eq!(header(true).last(), Some(&"error"));
    }
}
