//! What the administrative subcommands share: the `--db` option, opening the store, the async
//! runtime, and plain-text tables.

use anyhow::{Context, Result};
use lists::{Millis, Store};
use std::future::Future;
use std::sync::Arc;

/// Where the store is: `--db URL`, or `SCHOON_DB`.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// The database: `sqlite://PATH` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "SCHOON_DB",
        hide_env_values = true,
        default_value = "sqlite://schoon.db",
        value_name = "URL",
        global = true
    )]
    pub db: String,
}

impl DbArgs {
    /// Opens (and migrates) the store.
    pub async fn open(&self) -> Result<Arc<dyn Store>> {
        store::open(&self.db)
            .await
            .with_context(|| format!("opening the database {}", redact(&self.db)))
    }
}

impl DbArgs {
    /// Opens (and migrates) the store for both domains: lists and cases.
    pub async fn open_stores(&self) -> Result<store::Stores> {
        store::open_stores(&self.db, Arc::new(lists::SystemClock))
            .await
            .with_context(|| format!("opening the database {}", redact(&self.db)))
    }
}

/// Runs `future` to completion on a fresh multi-threaded runtime.
pub fn block_on<F: Future>(future: F) -> Result<F::Output> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    Ok(rt.block_on(future))
}

/// A database URL with its password replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_string(),
    }
}

/// Who the command line acts as in list versions: `cli:$USER` (or the name of the process's
/// user when `USER` is not set, as in cron jobs and containers).
pub fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(user_of_process);
    format!("cli:{user}")
}

/// The name of the user this process runs as, from `/etc/passwd`, or `uid-N`.
#[cfg(unix)]
fn user_of_process() -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "unknown".into();
    };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| format!("uid-{uid}"))
}

#[cfg(not(unix))]
fn user_of_process() -> String {
    "unknown".into()
}

/// An instant as `YYYY-MM-DD HH:MM:SS` (UTC), for tables.
pub fn when(m: Millis) -> String {
    let s = m.rfc3339();
    if s.len() >= 19 && s.as_bytes()[10] == b'T' {
        format!("{} {}", &s[..10], &s[11..19])
    } else {
        s
    }
}

/// Prints rows as columns aligned with spaces, under a header. Numbers are not right-aligned:
/// the output is for people, and `--json` is for programs.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    print!("{}", table(header, rows));
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            l.push_str(cell);
            let pad = widths[i].saturating_sub(cell.chars().count());
            l.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// Prints `value` as pretty JSON on standard output.
pub fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).context("writing JSON")?
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact("postgres://schoon:s3cret@db:5432/schoon"),
            "postgres://schoon:***@db:5432/schoon"
        );
        assert_eq!(
            redact("postgres://schoon@db/schoon"),
            "postgres://schoon@db/schoon"
        );
        assert_eq!(redact("sqlite://schoon.db"), "sqlite://schoon.db");
        assert_eq!(redact("sqlite:///srv/a@b.db"), "sqlite:///srv/a@b.db");
        assert_eq!(redact("nonsense"), "nonsense");
    }

    #[test]
    fn tables_align_columns() {
        let t = table(
            &["id", "name"],
            &[
                vec!["1".into(), "Politie".into()],
                vec!["10".into(), "x".into()],
            ],
        );
        assert_eq!(t, "id  name\n1   Politie\n10  x\n");
    }

    #[test]
    fn instants_print_to_the_second() {
        assert_eq!(when(Millis(0)), "1970-01-01 00:00:00");
        assert_eq!(when(Millis(1_000_123)), "1970-01-01 00:16:40");
    }
}
