//! The scan's reports: one row per match, and one row per file without a PDQ hash.
//!
//! Both come from the state database at the end of a run, so a run that was interrupted and
//! then completed reports exactly what an uninterrupted run would have. A file name ending in
//! `.csv` gets CSV with a header; anything else gets JSON Lines (`-` is standard output).

use crate::state::Record;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// One match, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct MatchRow<'a> {
    /// Path or `s3://bucket/key`.
    pub path: &'a str,
    /// Bytes.
    pub size: u64,
    /// `md5`, `sha1`, `sha256` or `pdq`.
    pub hash_type: &'a str,
    /// The file's own hash.
    pub hash: &'a str,
    /// For PDQ with the dihedral set: which rotation or mirror matched.
    pub transform: &'a str,
    /// The list's id.
    pub list_id: i64,
    /// The list's name.
    pub list: &'a str,
    /// The list's category.
    pub category: &'a str,
    /// The list's version that answered.
    pub list_version: i64,
    /// Hamming distance (0 for digests).
    pub distance: u32,
    /// Where the file was moved, if it was.
    pub quarantined: &'a str,
}

/// One file without a PDQ hash.
#[derive(Debug, Clone, Serialize)]
pub struct RejectedRow<'a> {
    /// Path or `s3://bucket/key`.
    pub path: &'a str,
    /// Bytes.
    pub size: u64,
    /// `not an image`, `malformed`, `too large`, `unsupported`, `unreadable`.
    pub reason: &'a str,
    /// The decoder's or the OS's words.
    pub detail: &'a str,
}

/// The rows of a record's matches.
pub fn match_rows(r: &Record) -> impl Iterator<Item = MatchRow<'_>> {
    r.matches.iter().map(move |m| MatchRow {
        path: &r.location,
        size: r.size,
        hash_type: &m.hash_type,
        hash: &m.hash,
        transform: m.transform.as_deref().unwrap_or(""),
        list_id: m.list.list_id,
        list: &m.list.list,
        category: &m.list.category,
        list_version: m.list.list_version,
        distance: m.list.distance,
        quarantined: r.quarantined.as_deref().unwrap_or(""),
    })
}

/// The row of a rejected record, if it is one.
pub fn rejected_row(r: &Record) -> Option<RejectedRow<'_>> {
    r.rejected.as_ref().map(|x| RejectedRow {
        path: &r.location,
        size: r.size,
        reason: x.class,
        detail: &x.detail,
    })
}

/// A report file being written.
pub enum Writer {
    /// JSON Lines.
    Jsonl(Box<dyn Write>),
    /// CSV with a header.
    Csv(Box<csv::Writer<Box<dyn Write>>>),
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Writer::Jsonl(_) => "Writer::Jsonl",
            Writer::Csv(_) => "Writer::Csv",
        })
    }
}

impl Writer {
    /// Creates `path` (`-`: standard output), CSV when it ends in `.csv`.
    pub fn create(path: &Path) -> std::io::Result<Writer> {
        let out: Box<dyn Write> = if path.as_os_str() == "-" {
            Box::new(std::io::BufWriter::new(std::io::stdout()))
        } else {
            if let Some(dir) = path.parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)?;
            }
            Box::new(std::io::BufWriter::new(std::fs::File::create(path)?))
        };
        let csv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        Ok(if csv {
            Writer::Csv(Box::new(csv::Writer::from_writer(out)))
        } else {
            Writer::Jsonl(out)
        })
    }

    /// Writes one row.
    pub fn write<T: Serialize>(&mut self, row: &T) -> std::io::Result<()> {
        match self {
            Writer::Jsonl(w) => {
                serde_json::to_writer(&mut *w, row)?;
                w.write_all(b"\n")
            }
            Writer::Csv(w) => w.serialize(row).map_err(std::io::Error::other),
        }
    }

    /// Flushes.
    pub fn finish(self) -> std::io::Result<()> {
        match self {
            Writer::Jsonl(mut w) => w.flush(),
            Writer::Csv(mut w) => w.flush(),
        }
    }
}
