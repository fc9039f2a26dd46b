//! `schoon lists import`: a hash-list file into a list, streamed, in one transaction.
//!
//! [`FileSource`] reads the file line by line into [`lists::import::Parser`] and hands the
//! store batches of rows as it asks for them, so memory stays bounded whatever the file's size
//! (lines are capped at [`MAX_LINE`] bytes too). The store stages the rows in a temporary table
//! and publishes them in one transaction at the end: a failed line (without `--skip-invalid`),
//! an error, Ctrl-C or a `kill -9` leaves the list exactly as it was.
//!
//! The reads are plain blocking reads inside `next_batch`: the store awaits each batch before
//! asking for the next, so there is nothing to overlap, and a batch of a thousand lines takes
//! well under a millisecond to read.

use crate::db::{self, DbArgs};
use anyhow::{Context, Result};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use index::HashKind;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lists::import::{LineError, Mode, Parser, Row};
use lists::store::{ErrorLog, ImportOutcome, RowSource, SourceStats};
use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::path::PathBuf;

/// Longest accepted line in bytes; longer lines are errors (and are never held in memory).
pub const MAX_LINE: usize = 64 * 1024;

/// Without a terminal, a progress line goes to standard error every this many lines.
pub const PLAIN_PROGRESS_EVERY: u64 = 100_000;

fn mode_parser() -> impl TypedValueParser<Value = Mode> {
    PossibleValuesParser::new(["add", "replace", "remove"])
        .map(|s| s.parse::<Mode>().expect("a possible value"))
}

/// Parses a hash kind, offering the four in `--help`.
pub fn kind_parser() -> impl TypedValueParser<Value = HashKind> {
    PossibleValuesParser::new(HashKind::ALL.map(HashKind::name))
        .map(|s| s.parse::<HashKind>().expect("a possible value"))
}

/// Arguments of `schoon lists import`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = EXAMPLES)]
pub struct ImportArgs {
    /// The list to change.
    pub name: String,
    /// The file to read; `-` reads standard input.
    #[arg(value_name = "FILE|-")]
    pub file: PathBuf,
    /// add: add the file's hashes; replace: make the list exactly the file's hashes;
    /// remove: take the file's hashes off the list.
    #[arg(long, value_parser = mode_parser(), default_value = "add")]
    pub mode: Mode,
    /// The type of the hashes in a file without a header line (default: guessed from the
    /// length, which works for MD5 and SHA-1 only).
    #[arg(long = "type", value_name = "TYPE", value_parser = kind_parser())]
    pub kind: Option<HashKind>,
    /// Skip lines that cannot be read and import the rest (they are still reported, and the
    /// exit status is still 1).
    #[arg(long)]
    pub skip_invalid: bool,
    /// Import low-quality PDQ rows as *held* for review instead of refusing them: they are on
    /// the list but not matched until a list manager activates them
    /// (POST /v1/lists/{id}/entries/{entry}/status).
    #[arg(long)]
    pub hold_low_quality: bool,
    /// Allow `--mode replace` with an input that holds no hashes (it empties the list).
    #[arg(long)]
    pub allow_empty: bool,
    /// Never draw a progress bar or print progress lines.
    #[arg(long)]
    pub no_progress: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

const EXAMPLES: &str = "\
The file is a CSV or TSV with a header line naming its columns, or one hash per line:

  pdq,quality,ref                     type,hash,quality,ref
  f8f8f0cee0f4a84f06...,100,case-1    md5,900150983cd24fb0d6963f7d28e17f72,,img-7
                                      sha1,86f7e437faa5a7fce15d1ddcb9eaeaea377667b8,,

Columns: a hash type (md5, sha1, sha256, pdq) or `type` + `hash`; optional `quality` (PDQ,
0-100) and `ref` (your own reference). `schoon lists export` writes files this reads back.
Blank lines and lines starting with # are skipped; duplicates count once.

Quality gate: rows that would match far too much are refused, each reported with its line and
reason, and the rest of the file is imported: PDQ hashes with quality below 50, PDQ hashes with
fewer than 64 or more than 192 of 256 bits set (flat images hash to all zeros), and the digests
of the empty file. With --hold-low-quality, low-quality PDQ rows are imported as held for a list
manager's review instead. Hashes the list retracted before are never listed again by an import.

The whole file is one change: the list gets exactly one new version, or, if any line cannot be
read (without --skip-invalid), an error happens or the import is interrupted, it stays as it
was. Nothing changes either when the file adds and removes nothing.

Exit status: 0 when every line was read, 1 when some line could not be read (then nothing was
changed, or with --skip-invalid the other lines were imported), 2 on a usage or fatal error.

Examples:
  Add a police MD5 list (one hash per line):
    schoon lists import nl-police-csam md5-2026-11.txt

  Make the list exactly this export of PDQ hashes, skipping malformed lines:
    schoon lists import nl-police-csam --mode replace --skip-invalid pdq-full.csv

  Remove hashes that were listed by mistake, from standard input:
    printf 'md5\\n900150983cd24fb0d6963f7d28e17f72\\n' | schoon lists import nl-police-csam --mode remove -

  64-digit hashes without a header need their type:
    schoon lists import nl-hotline-ncii --type sha256 sha256.txt";

/// Progress for people: a bar of bytes on a terminal, a line every
/// [`PLAIN_PROGRESS_EVERY`] lines otherwise, or nothing.
#[derive(Debug, Clone)]
enum Progress {
    Bar(ProgressBar),
    Plain,
    Off,
}

impl Progress {
    fn new(enabled: bool, size: Option<u64>) -> Progress {
        if !enabled {
            return Progress::Off;
        }
        if !std::io::stderr().is_terminal() {
            return Progress::Plain;
        }
        let pb = ProgressBar::with_draw_target(size, ProgressDrawTarget::stderr());
        let template = if size.is_some() {
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes}  {bytes_per_sec}  ETA {eta}  {msg}"
        } else {
            "{spinner} [{elapsed_precise}] {bytes}  {bytes_per_sec}  {msg}"
        };
        pb.set_style(
            ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("=> "),
        );
        Progress::Bar(pb)
    }

    fn read(&self, lines: u64, bytes: u64) {
        match self {
            Progress::Bar(pb) => pb.set_position(bytes),
            Progress::Plain if lines.is_multiple_of(PLAIN_PROGRESS_EVERY) => {
                eprintln!("import: {lines} lines read");
            }
            Progress::Plain | Progress::Off => {}
        }
    }

    fn end_of_input(&self, lines: u64) {
        match self {
            Progress::Bar(pb) => {
                pb.set_message(format!("{lines} lines; writing the new version"));
                // Publishing takes a while for big files: keep the spinner turning.
                pb.enable_steady_tick(std::time::Duration::from_millis(200));
            }
            Progress::Plain => {
                eprintln!("import: {lines} lines read, end of input; writing the new version")
            }
            Progress::Off => {}
        }
    }

    fn clear(&self) {
        if let Progress::Bar(pb) = self {
            pb.finish_and_clear();
        }
    }
}

/// A [`RowSource`] over a reader: parses lines as the store asks for rows.
#[derive(Debug)]
pub struct FileSource<R> {
    reader: R,
    parser: Parser,
    log: ErrorLog,
    refuse_empty: bool,
    line: u64,
    bytes: u64,
    buf: Vec<u8>,
    done: bool,
    progress: Progress,
}

impl<R: BufRead + Send> FileSource<R> {
    /// A source reading `reader` with `parser`; `skip_invalid` as in [`ErrorLog`].
    pub fn new(reader: R, parser: Parser, skip_invalid: bool) -> FileSource<R> {
        FileSource {
            reader,
            parser,
            log: ErrorLog::new(skip_invalid),
            refuse_empty: false,
            line: 0,
            bytes: 0,
            buf: Vec::new(),
            done: false,
            progress: Progress::Off,
        }
    }

    /// Makes [`RowSource::finish`] fail when the input held no rows (a `replace` with an empty
    /// file would empty the list).
    pub fn refuse_empty(mut self, yes: bool) -> Self {
        self.refuse_empty = yes;
        self
    }

    fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// Reads the next line into `buf` (without its `\n`); `Ok(None)` at the end.
    fn next_line(&mut self) -> lists::Result<Option<Result<Option<Row>, LineError>>> {
        self.buf.clear();
        let number = self.line + 1;
        let input_err = |e: std::io::Error| lists::Error::Input(format!("line {number}: {e}"));
        let n = (&mut self.reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut self.buf)
            .map_err(input_err)?;
        if n == 0 {
            return Ok(None);
        }
        self.line = number;
        self.bytes += n as u64;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        } else if self.buf.len() > MAX_LINE {
            let rest = self.reader.skip_until(b'\n').map_err(input_err)?;
            self.bytes += rest as u64;
            return Ok(Some(Err(LineError {
                line: number,
                message: format!("line longer than {MAX_LINE} bytes"),
            })));
        }
        Ok(Some(match std::str::from_utf8(&self.buf) {
            Ok(text) => self.parser.line(number, text),
            Err(e) => Err(LineError {
                line: number,
                message: format!("not UTF-8 text (byte {})", e.valid_up_to() + 1),
            }),
        }))
    }
}

#[async_trait::async_trait]
impl<R: BufRead + Send> RowSource for FileSource<R> {
    async fn next_batch(&mut self, max: usize) -> lists::Result<Vec<Row>> {
        let mut rows = Vec::with_capacity(max.min(4096));
        while rows.len() < max && !self.done {
            let Some(outcome) = self.next_line()? else {
                self.done = true;
                self.progress.end_of_input(self.line);
                break;
            };
            let row = self.log.record(outcome);
            // After a bad line (when bad lines are fatal) the import will be rolled back: read
            // on only to report every error, and stage nothing more.
            let keep = self.log.skip_invalid || self.log.stats().invalid == 0;
            if let (Some(row), true) = (row, keep) {
                rows.push(row);
            }
            self.progress.read(self.line, self.bytes);
        }
        Ok(rows)
    }

    fn finish(&mut self) -> lists::Result<SourceStats> {
        let stats = self.log.finish()?;
        if self.refuse_empty && stats.rows == 0 {
            return Err(lists::Error::Invalid(
                "the input holds no hashes, and --mode replace would empty the list \
                 (pass --allow-empty if that is what you want)"
                    .into(),
            ));
        }
        Ok(stats)
    }
}

/// The summary `lists import` prints (`--json` prints it as it is).
#[derive(Debug, serde::Serialize)]
struct Summary<'a> {
    list: &'a str,
    file: &'a str,
    mode: Mode,
    lines: u64,
    rows: u64,
    distinct: u64,
    added: u64,
    removed: u64,
    invalid: u64,
    /// Rows the quality gate refused (low PDQ quality, degenerate hashes, empty-file digests).
    refused: u64,
    /// Added entries held for review (`--hold-low-quality`).
    held: u64,
    /// Hashes skipped because the list retracted them before.
    retracted_skipped: u64,
    /// The new version, or `None` when nothing changed.
    version: Option<i64>,
    /// The list's version after the import.
    list_version: i64,
}

fn print_line_errors(verb: &str, errors: &[LineError], total: u64) {
    for e in errors {
        eprintln!("schoon: {verb}{e}");
    }
    if total > errors.len() as u64 {
        eprintln!(
            "schoon: ... and {} more (only the first {} are shown)",
            total - errors.len() as u64,
            errors.len()
        );
    }
}

/// Runs `schoon lists import`; returns whether every line was read.
pub async fn run(db: &DbArgs, args: ImportArgs) -> Result<bool> {
    let store = db.open().await?;
    let list = store
        .list_by_name(&args.name)
        .await
        .with_context(|| format!("reading list {:?}", args.name))?;
    let stdin = args.file.as_os_str() == "-";
    let (reader, size, note): (Box<dyn BufRead + Send>, Option<u64>, String) = if stdin {
        let reader = BufReader::with_capacity(256 * 1024, std::io::stdin());
        (Box::new(reader), None, "standard input".into())
    } else {
        let path = &args.file;
        let file = std::fs::File::open(path)
            .with_context(|| format!("opening list file {}", path.display()))?;
        let size = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let note = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        (
            Box::new(BufReader::with_capacity(256 * 1024, file)),
            size,
            note,
        )
    };
    let progress = Progress::new(!args.no_progress, size);
    let mut source = FileSource::new(reader, Parser::new(args.kind), args.skip_invalid)
        .refuse_empty(args.mode == Mode::Replace && !args.allow_empty)
        .with_progress(progress.clone());
    source.log.gate.hold_low_quality = args.hold_low_quality;
    let result = store
        .import(list.id, args.mode, &db::actor(), &note, &mut source)
        .await;
    progress.clear();
    let outcome: ImportOutcome = match result {
        Ok(outcome) => outcome,
        Err(lists::Error::InvalidFile { errors, total }) => {
            print_line_errors("", &errors, total);
            eprintln!(
                "schoon: {total} of {} lines could not be read; list {:?} was not changed \
                 (--skip-invalid imports the other lines)",
                source.log.stats().lines,
                list.name
            );
            return Ok(false);
        }
        Err(e) => {
            return Err(e).with_context(|| format!("importing {note} into list {:?}", list.name));
        }
    };
    let s = &outcome.source;
    if s.invalid > 0 {
        print_line_errors("skipped ", &s.errors, s.invalid);
    }
    if s.refused > 0 {
        print_line_errors("refused ", &s.refusals, s.refused);
    }
    let summary = Summary {
        list: &list.name,
        file: &note,
        mode: args.mode,
        lines: s.lines,
        rows: s.rows,
        distinct: outcome.distinct,
        added: outcome.added,
        removed: outcome.removed,
        invalid: s.invalid,
        refused: s.refused,
        held: outcome.held,
        retracted_skipped: outcome.retracted_skipped,
        version: outcome.version.as_ref().map(|v| v.version),
        list_version: outcome.list_version,
    };
    if args.json {
        db::print_json(&summary)?;
    } else {
        let version = match summary.version {
            Some(v) => format!("new version {v}"),
            None => format!("unchanged, still version {}", summary.list_version),
        };
        println!(
            "imported {} into list {:?} ({}): {version}",
            summary.file,
            summary.list,
            summary.mode.name()
        );
        for (what, n) in [
            ("lines", summary.lines),
            ("rows", summary.rows),
            ("distinct", summary.distinct),
            ("added", summary.added),
            ("removed", summary.removed),
            ("invalid", summary.invalid),
            ("refused", summary.refused),
            ("held", summary.held),
            ("retracted", summary.retracted_skipped),
        ] {
            println!("  {what:<9} {n}");
        }
    }
    Ok(summary.invalid == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(source: &mut FileSource<&[u8]>) -> Vec<Row> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut all = Vec::new();
        loop {
            let batch = rt.block_on(source.next_batch(2)).unwrap();
            if batch.is_empty() {
                return all;
            }
            assert!(batch.len() <= 2);
            all.extend(batch);
        }
    }

    #[test]
    fn rows_come_in_batches_and_errors_name_their_lines() {
        let text: &[u8] = b"md5\n900150983cd24fb0d6963f7d28e17f72\nxyz\n\n# c\n\
                    0cc175b9c0f1b6a831c399e269772661\r\n\xff\n92eb5ffee6ae2fec3ad71c777531578f";
        let mut src = FileSource::new(text, Parser::new(None), true);
        let rows = drain(&mut src);
        assert_eq!(rows.len(), 3);
        let stats = src.finish().unwrap();
        assert_eq!((stats.lines, stats.rows, stats.invalid), (8, 3, 2));
        let lines: Vec<u64> = stats.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 7]);
        assert!(stats.errors[1].message.contains("UTF-8"));
    }

    #[test]
    fn without_skipping_a_bad_line_stops_the_rows_and_fails_at_the_end() {
        let text = "900150983cd24fb0d6963f7d28e17f72\nbad\n0cc175b9c0f1b6a831c399e269772661\nbad\n";
        let mut src = FileSource::new(text.as_bytes(), Parser::new(None), false);
        assert_eq!(drain(&mut src).len(), 1);
        match src.finish() {
            Err(lists::Error::InvalidFile { errors, total }) => {
                assert_eq!(total, 2);
                assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 4]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn overlong_lines_are_errors_and_skipped_whole() {
        let mut text = "900150983cd24fb0d6963f7d28e17f72\n".to_string();
        text.push_str(&"a".repeat(MAX_LINE * 3));
        text.push_str("\n0cc175b9c0f1b6a831c399e269772661\n");
        let mut src = FileSource::new(text.as_bytes(), Parser::new(None), true);
        assert_eq!(drain(&mut src).len(), 2);
        let stats = src.finish().unwrap();
        assert_eq!((stats.lines, stats.invalid), (3, 1));
        assert!(stats.errors[0].message.contains("longer than"));
        assert_eq!(src.bytes, text.len() as u64);
    }

    #[test]
    fn an_empty_replace_is_refused_unless_allowed() {
        let mut src =
            FileSource::new(&b"# nothing\n"[..], Parser::new(None), false).refuse_empty(true);
        drain(&mut src);
        assert!(matches!(src.finish(), Err(lists::Error::Invalid(_))));
        let mut src = FileSource::new(&b""[..], Parser::new(None), false);
        drain(&mut src);
        assert_eq!(src.finish().unwrap().rows, 0);
    }
}
