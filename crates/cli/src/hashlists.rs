//! `schoon lists`: create hash lists, see them and their versions, import and export entries.

use crate::db::{self, DbArgs};
use crate::import::{self, ImportArgs};
use anyhow::{Context, Result, bail};
use index::{HashKind, Key};
use lists::{Category, ListInfo, NewList, Store};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `schoon lists`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = EXAMPLES)]
pub struct ListsArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    command: ListsCommand,
}

const EXAMPLES: &str = "\
A list is a named set of hashes (MD5, SHA-1, SHA-256, PDQ) that one organisation keeps. Every
import makes one new version; the versions are kept, so a list can be exported as it was at any
version, and `history` tells when a hash was on it.

Examples:
  schoon lists create nl-police-csam --owner 'Politie Nederland' --category csam \\
      --description 'Known CSAM, national database' --source 'police case files'
  schoon lists import nl-police-csam police-md5.txt
  schoon lists list
  schoon lists show nl-police-csam
  schoon lists history nl-police-csam 900150983cd24fb0d6963f7d28e17f72
  schoon lists export nl-police-csam --version 3 -o nl-police-csam-v3.csv

Run `schoon lists import --help` for the file format.";

#[derive(Debug, clap::Subcommand)]
enum ListsCommand {
    /// Create an empty list (version 0).
    Create(CreateArgs),
    /// Show every list with its version and entries per hash type.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one list's details and its versions.
    Show {
        /// The list.
        name: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Tell when a hash was on a list: the versions that added and removed it.
    History {
        /// The list.
        name: String,
        /// The hash in hex, or `type:hex` (e.g. `pdq:f8f8...`).
        hash: String,
        /// The hash's type (default: from the length, for MD5 and SHA-1).
        #[arg(long = "type", value_name = "TYPE", value_parser = import::kind_parser())]
        kind: Option<HashKind>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Add, replace or remove a list's hashes from a file, as one new version.
    Import(ImportArgs),
    /// Write a list's entries (now, or at a version) as CSV that `lists import` reads back.
    Export(ExportArgs),
    /// Show the categories lists may have; `--add NAME` adds one (csam, terrorism, ncii and
    /// other exist from the start).
    Categories {
        /// A new category: 1-32 of a-z, 0-9 and _, starting with a letter.
        #[arg(long, value_name = "NAME", value_parser = |s: &str| Category::new(s))]
        add: Option<Category>,
    },
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// A unique name: letters, digits, '-', '_' and '.' (e.g. nl-police-csam).
    name: String,
    /// The organisation that owns and manages it (its name).
    #[arg(long, value_name = "ORG")]
    owner: String,
    /// What it lists: csam, terrorism, ncii, other, or a category an administrator added.
    #[arg(long, value_parser = |s: &str| Category::new(s))]
    category: Category,
    /// Free text for people.
    #[arg(long, default_value = "")]
    description: String,
    /// Where the hashes come from (provenance).
    #[arg(long, default_value = "")]
    source: String,
    /// block: matches are reported; allow: known-benign hashes that override every match
    /// (a check hitting both answers "no match" and the conflict is recorded).
    #[arg(long, default_value = "block", value_parser = |s: &str| s.parse::<lists::Purpose>())]
    purpose: lists::Purpose,
}

#[derive(Debug, clap::Args)]
#[command(after_long_help = EXPORT_EXAMPLES, disable_version_flag = true)]
struct ExportArgs {
    /// The list.
    name: String,
    /// The version to export (default: the current one).
    #[arg(long, value_name = "V")]
    version: Option<i64>,
    /// Write to this file instead of standard output (written whole, then renamed into place).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

const EXPORT_EXAMPLES: &str = "\
The CSV has the columns type,hash,quality,ref,added_version, one entry per row, and imports
again as it is (`added_version` is ignored on import).

Examples:
  schoon lists export nl-police-csam > nl-police-csam.csv
  schoon lists export nl-police-csam --version 2 -o v2.csv
  Copy a list to another installation:
    schoon lists export nl-police-csam | schoon --db postgres://schoon@other/schoon \\
        lists import nl-police-csam --mode replace -";

/// Runs `schoon lists`; returns `false` when an import had lines it could not read.
pub async fn run(args: ListsArgs) -> Result<bool> {
    let db = args.db;
    match args.command {
        ListsCommand::Import(import) => return import::run(&db, import).await,
        ListsCommand::Create(create) => self::create(db.open().await?.as_ref(), create).await?,
        ListsCommand::List { json } => list(db.open().await?.as_ref(), json).await?,
        ListsCommand::Show { name, json } => show(db.open().await?.as_ref(), &name, json).await?,
        ListsCommand::History {
            name,
            hash,
            kind,
            json,
        } => history(db.open().await?.as_ref(), &name, &hash, kind, json).await?,
        ListsCommand::Export(export) => self::export(db.open().await?.as_ref(), export).await?,
        ListsCommand::Categories { add } => {
            let store = db.open().await?;
            if let Some(category) = add {
                store
                    .add_category(&category)
                    .await
                    .context("adding the category")?;
            }
            for c in store.categories().await.context("reading categories")? {
                println!("{c}");
            }
        }
    }
    Ok(true)
}

async fn list_named(store: &dyn Store, name: &str) -> Result<ListInfo> {
    store.list_by_name(name).await.with_context(|| {
        format!("reading list {name:?} (`schoon lists list` shows the lists there are)")
    })
}

async fn create(store: &dyn Store, args: CreateArgs) -> Result<()> {
    let owner = store
        .org_by_name(&args.owner)
        .await
        .with_context(|| format!("reading organisation {:?}", args.owner))?;
    let known = store.categories().await.context("reading categories")?;
    if !known.contains(&args.category) {
        let names: Vec<&str> = known.iter().map(Category::as_str).collect();
        bail!(
            "unknown category {:?} (known: {})",
            args.category.as_str(),
            names.join(", ")
        );
    }
    let list = store
        .create_list(&NewList {
            name: args.name.clone(),
            owner_org_id: owner.id,
            category: args.category,
            description: args.description,
            source: args.source,
            purpose: args.purpose,
        })
        .await
        .with_context(|| format!("creating list {:?}", args.name))?;
    println!(
        "created list {} {:?} ({}, owned by {:?})",
        list.id, list.name, list.category, owner.name
    );
    Ok(())
}

/// Live entries per hash type, for JSON.
#[derive(serde::Serialize)]
struct Counts {
    md5: u64,
    sha1: u64,
    sha256: u64,
    pdq: u64,
}

impl From<[u64; 4]> for Counts {
    fn from(c: [u64; 4]) -> Counts {
        // In HashKind::ALL order.
        Counts {
            md5: c[0],
            sha1: c[1],
            sha256: c[2],
            pdq: c[3],
        }
    }
}

#[derive(serde::Serialize)]
struct ListJson {
    #[serde(flatten)]
    list: ListInfo,
    owner: String,
    entries: Counts,
}

async fn org_names(store: &dyn Store) -> Result<HashMap<i64, String>> {
    Ok(store
        .orgs()
        .await
        .context("reading organisations")?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect())
}

async fn list(store: &dyn Store, json: bool) -> Result<()> {
    let lists = store.lists().await.context("reading lists")?;
    let orgs = org_names(store).await?;
    let mut out = Vec::with_capacity(lists.len());
    for l in lists {
        let counts = store
            .entry_counts(l.id)
            .await
            .with_context(|| format!("counting the entries of list {:?}", l.name))?;
        out.push(ListJson {
            owner: orgs
                .get(&l.owner_org_id)
                .cloned()
                .unwrap_or_else(|| l.owner_org_id.to_string()),
            list: l,
            entries: counts.into(),
        });
    }
    if json {
        return db::print_json(&out);
    }
    let rows: Vec<Vec<String>> = out
        .iter()
        .map(|j| {
            let c = &j.entries;
            vec![
                j.list.id.to_string(),
                j.list.name.clone(),
                j.owner.clone(),
                j.list.category.to_string(),
                j.list.version.to_string(),
                c.md5.to_string(),
                c.sha1.to_string(),
                c.sha256.to_string(),
                c.pdq.to_string(),
                db::when(j.list.updated_at),
            ]
        })
        .collect();
    db::print_table(
        &[
            "id",
            "name",
            "owner",
            "category",
            "version",
            "md5",
            "sha1",
            "sha256",
            "pdq",
            "updated (UTC)",
        ],
        &rows,
    );
    Ok(())
}

async fn show(store: &dyn Store, name: &str, json: bool) -> Result<()> {
    let l = list_named(store, name).await?;
    let owner = store
        .org(l.owner_org_id)
        .await
        .with_context(|| format!("reading organisation {}", l.owner_org_id))?;
    let counts = store.entry_counts(l.id).await.context("counting entries")?;
    let versions = store.versions(l.id).await.context("reading versions")?;
    if json {
        #[derive(serde::Serialize)]
        struct ShowJson<'a> {
            #[serde(flatten)]
            list: &'a ListJson,
            versions: &'a [lists::ListVersion],
        }
        return db::print_json(&ShowJson {
            list: &ListJson {
                list: l,
                owner: owner.name,
                entries: counts.into(),
            },
            versions: &versions,
        });
    }
    let entries: Vec<String> = HashKind::ALL
        .iter()
        .zip(counts)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    for (what, value) in [
        ("list", format!("{} (id {})", l.name, l.id)),
        ("owner", owner.name),
        ("category", l.category.to_string()),
        ("description", l.description),
        ("source", l.source),
        ("version", l.version.to_string()),
        ("entries", entries.join(", ")),
        ("created", format!("{} UTC", db::when(l.created_at))),
        ("updated", format!("{} UTC", db::when(l.updated_at))),
    ] {
        println!("{:<12} {value}", format!("{what}:"));
    }
    println!();
    if versions.is_empty() {
        println!("no versions yet: import a file with `schoon lists import {name} FILE`");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            vec![
                v.version.to_string(),
                db::when(v.created_at),
                v.actor.clone(),
                v.mode.name().to_string(),
                v.added.to_string(),
                v.removed.to_string(),
                v.seq.to_string(),
                v.note.clone(),
            ]
        })
        .collect();
    db::print_table(
        &[
            "version",
            "when (UTC)",
            "actor",
            "mode",
            "added",
            "removed",
            "seq",
            "note",
        ],
        &rows,
    );
    Ok(())
}

/// Reads a hash given on the command line: `hex` or `type:hex`.
fn parse_hash(text: &str, kind: Option<HashKind>) -> Result<Key> {
    let text = text.trim();
    let (kind, hex) = match (text.split_once(':'), kind) {
        (Some((k, hex)), None) => (k.parse::<HashKind>()?, hex),
        (Some((k, hex)), Some(kind)) => {
            if k.parse::<HashKind>()? != kind {
                bail!("the hash says {k} but --type says {kind}");
            }
            (kind, hex)
        }
        (None, Some(kind)) => (kind, text),
        (None, None) => match text.len() {
            32 => (HashKind::Md5, text),
            40 => (HashKind::Sha1, text),
            64 => bail!("a 64-digit hash may be SHA-256 or PDQ: pass --type sha256 or --type pdq"),
            n => bail!(
                "{n} characters is no known hash length (MD5 32, SHA-1 40, SHA-256 and PDQ 64)"
            ),
        },
    };
    Ok(Key::parse_hex(kind, hex)?)
}

async fn history(
    store: &dyn Store,
    name: &str,
    hash: &str,
    kind: Option<HashKind>,
    json: bool,
) -> Result<()> {
    let key = parse_hash(hash, kind).with_context(|| format!("reading the hash {hash:?}"))?;
    let l = list_named(store, name).await?;
    let history = store
        .entry_history(l.id, &key)
        .await
        .context("reading the entry's history")?;
    if json {
        return db::print_json(&history);
    }
    if history.is_empty() {
        println!(
            "{key} has never been on list {:?} (now at version {})",
            l.name, l.version
        );
        return Ok(());
    }
    let now = if history.iter().any(|p| p.removed_version.is_none()) {
        "on the list now"
    } else {
        "not on the list now"
    };
    println!(
        "{key} on list {:?} (now at version {}): {now}",
        l.name, l.version
    );
    let rows: Vec<Vec<String>> = history
        .iter()
        .map(|p| {
            vec![
                p.added_version.to_string(),
                p.removed_version
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    db::print_table(&["added in version", "removed in version"], &rows);
    Ok(())
}

/// A CSV field, quoted when it has to be (RFC 4180).
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) || s.trim() != s {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

/// Rows per page read from the store while exporting.
const EXPORT_PAGE: u32 = 10_000;

async fn export(store: &dyn Store, args: ExportArgs) -> Result<()> {
    let l = list_named(store, &args.name).await?;
    let version = match args.version {
        None => l.version,
        Some(v) if (0..=l.version).contains(&v) => v,
        Some(v) => bail!(
            "list {:?} has no version {v} (its versions are 0 to {})",
            l.name,
            l.version
        ),
    };
    let part = args.output.as_ref().map(|p| {
        let mut name = p.as_os_str().to_owned();
        name.push(".part");
        PathBuf::from(name)
    });
    let mut out: Box<dyn Write> = match &part {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    writeln!(out, "type,hash,quality,ref,added_version")?;
    let mut after = 0;
    let mut n: u64 = 0;
    loop {
        let page = store
            .export_page(l.id, Some(version), after, EXPORT_PAGE)
            .await
            .with_context(|| format!("reading the entries of list {:?}", l.name))?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for r in &page {
            writeln!(
                out,
                "{},{},{},{},{}",
                r.key.kind(),
                r.key.to_hex(),
                r.quality.map(|q| q.to_string()).unwrap_or_default(),
                csv_field(r.ext_ref.as_deref().unwrap_or("")),
                r.added_version
            )?;
        }
        n += page.len() as u64;
    }
    out.flush()?;
    drop(out);
    if let (Some(part), Some(path)) = (&part, &args.output) {
        std::fs::rename(part, path)
            .with_context(|| format!("renaming {} to {}", part.display(), path.display()))?;
    }
    eprintln!(
        "schoon: exported {n} entries of list {:?} at version {version}",
        l.name
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_on_the_command_line() {
        let md5 = "900150983cd24fb0d6963f7d28e17f72";
        assert_eq!(parse_hash(md5, None).unwrap().kind(), HashKind::Md5);
        let pdq = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
        assert!(
            parse_hash(pdq, None)
                .unwrap_err()
                .to_string()
                .contains("--type")
        );
        assert_eq!(
            parse_hash(pdq, Some(HashKind::Pdq)).unwrap().kind(),
            HashKind::Pdq
        );
        let k = parse_hash(&format!("sha256:{pdq}"), None).unwrap();
        assert_eq!(k.kind(), HashKind::Sha256);
        assert!(parse_hash(&format!("sha256:{pdq}"), Some(HashKind::Pdq)).is_err());
        assert!(parse_hash("abc", None).is_err());
        assert!(parse_hash(&md5.replace('d', "g"), None).is_err());
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("case-1"), "case-1");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field(""), "");
    }
}
