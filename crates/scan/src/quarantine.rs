//! Moving matched files out of the customers' reach, with a record of what they were.
//!
//! A matched local file is renamed into the quarantine folder under its path relative to the
//! scanned root (copied and removed when the folder is on another file system); a matched
//! object is downloaded there (under `s3/<bucket>/<key>`) and deleted from the bucket. Beside
//! each goes `<name>.schoon.json`: where it was, its size and version, its hashes and what it
//! matched, and when it was moved. Nothing is overwritten: a name already taken gets `.1`, `.2`...

use crate::scanner::Error;
use crate::source::Source;
use crate::state::Record;
use object_store::ObjectStoreExt;
use std::path::{Path, PathBuf};

fn fail(location: &str, reason: impl ToString) -> Error {
    Error::Quarantine {
        location: location.to_string(),
        reason: reason.to_string(),
    }
}

/// Where a file of `source` lands inside `dir`.
fn destination(record: &Record, dir: &Path) -> PathBuf {
    let rel = if let Some(rest) = record.location.strip_prefix("s3://") {
        PathBuf::from("s3").join(rest)
    } else {
        let loc = Path::new(&record.location);
        match loc.strip_prefix(&record.source) {
            Ok(r) if !r.as_os_str().is_empty() => r.to_path_buf(),
            _ => PathBuf::from(loc.file_name().unwrap_or_default()),
        }
    };
    let mut dest = dir.join(rel);
    let mut n = 0;
    while dest.exists() || sidecar(&dest).exists() {
        n += 1;
        let mut name = dest.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".{n}"));
        dest.set_file_name(name);
        if n > 10_000 {
            break;
        }
    }
    dest
}

fn sidecar(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".schoon.json");
    dest.with_file_name(name)
}

/// Moves the file of `record` into `dir`; returns where it went.
pub async fn move_file(record: &Record, source: &Source, dir: &Path) -> Result<String, Error> {
    let loc = record.location.as_str();
    let dest = destination(record, dir);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| fail(loc, format!("{}: {e}", parent.display())))?;
    }
    let h = record.hashes.as_ref();
    let meta = serde_json::json!({
        "location": loc,
        "size": record.size,
        "version": record.version,
        "md5": h.map(|h| hex::encode(h.md5)),
        "sha1": h.map(|h| hex::encode(h.sha1)),
        "sha256": h.map(|h| hex::encode(h.sha256)),
        "pdq": h.and_then(|h| h.pdq.first()).map(hex::encode),
        "pdq_quality": h.and_then(|h| h.quality),
        "matches": record.matches,
        "quarantined_at": time_now(),
    });
    // The record first: a crash between the two leaves a note, never an unexplained file.
    std::fs::write(
        sidecar(&dest),
        serde_json::to_vec_pretty(&meta).expect("plain data serialises"),
    )
    .map_err(|e| fail(loc, e))?;
    match source {
        Source::Local { .. } => {
            let from = Path::new(loc);
            if std::fs::rename(from, &dest).is_err() {
                // Another file system: copy, keep the permissions, then remove.
                std::fs::copy(from, &dest).map_err(|e| fail(loc, e))?;
                std::fs::remove_file(from).map_err(|e| fail(loc, e))?;
            }
        }
        Source::S3 { store, .. } => {
            let path = source
                .object_path(&crate::source::Entry {
                    location: loc.to_string(),
                    size: record.size,
                    version: record.version.clone(),
                    relative: String::new(),
                })
                .ok_or_else(|| fail(loc, "not an object of this bucket"))?;
            let bytes = store
                .get(&path)
                .await
                .map_err(|e| fail(loc, e))?
                .bytes()
                .await
                .map_err(|e| fail(loc, e))?;
            std::fs::write(&dest, &bytes).map_err(|e| fail(loc, e))?;
            store.delete(&path).await.map_err(|e| fail(loc, e))?;
        }
    }
    Ok(dest.display().to_string())
}

fn time_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
