//! Where files come from: a local directory tree (or one file), or an S3-compatible bucket.
//!
//! A source lists its entries with what tells a changed file from an unchanged one without
//! reading it: size plus modification time (nanoseconds) and inode for local files, size plus
//! ETag for objects. That pair is the "version" the state database compares.

use object_store::ObjectStore;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A source that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A local path that does not exist or cannot be read.
    #[error("{path}: {source}")]
    Local {
        /// The path.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A malformed `s3://` URL.
    #[error("{0}")]
    BadUrl(String),
    /// The object store refused or failed.
    #[error("{location}: {source}")]
    Store {
        /// Bucket and prefix.
        location: String,
        /// What the store said.
        #[source]
        source: object_store::Error,
    },
}

/// How to reach S3-compatible storage. Credentials come from the usual `AWS_*` variables.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// The endpoint, e.g. `http://127.0.0.1:9000` for a local server; `None` for AWS.
    pub endpoint: Option<String>,
    /// The region (default `us-east-1`).
    pub region: Option<String>,
    /// Access key id and secret, overriding `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    pub credentials: Option<(String, String)>,
}

/// One file or object to scan.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Absolute path or `s3://bucket/key`: the key of the state database and the reports.
    pub location: String,
    /// Bytes.
    pub size: u64,
    /// mtime+inode, or the ETag.
    pub version: String,
    /// Relative to the source's root (for quarantine paths).
    pub relative: String,
}

/// A place to scan.
#[derive(Debug, Clone)]
pub enum Source {
    /// A directory tree or a single file, with an absolute path.
    Local {
        /// The root.
        root: PathBuf,
        /// Follow symbolic links while walking.
        follow_links: bool,
    },
    /// Objects in a bucket under a prefix.
    S3 {
        /// The client.
        store: Arc<AmazonS3>,
        /// The bucket's name.
        bucket: String,
        /// The key prefix (may be empty).
        prefix: String,
    },
}

impl Source {
    /// Parses a command-line source: `s3://bucket[/prefix]` or a local path.
    pub fn parse(arg: &str, s3: &S3Options, follow_links: bool) -> Result<Source, Error> {
        if let Some(rest) = arg.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::BadUrl(format!(
                    "{arg}: no bucket (write s3://bucket or s3://bucket/prefix)"
                )));
            }
            let store = s3_store(bucket, s3).map_err(|source| Error::Store {
                location: arg.to_string(),
                source,
            })?;
            return Ok(Source::S3 {
                store,
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        let root = std::path::absolute(arg).map_err(|source| Error::Local {
            path: arg.to_string(),
            source,
        })?;
        std::fs::metadata(&root).map_err(|source| Error::Local {
            path: arg.to_string(),
            source,
        })?;
        Ok(Source::Local { root, follow_links })
    }

    /// The name the state database files this source's rows under.
    pub fn id(&self) -> String {
        match self {
            Source::Local { root, .. } => root.display().to_string(),
            Source::S3 { bucket, prefix, .. } if prefix.is_empty() => format!("s3://{bucket}"),
            Source::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
        }
    }

    /// Lists every file (sorted by location), skipping anything under `exclude`; problems met on
    /// the way (an unreadable directory) come back as (path, message) pairs.
    pub async fn list(
        &self,
        exclude: &[PathBuf],
    ) -> Result<(Vec<Entry>, Vec<(String, String)>), Error> {
        match self {
            Source::Local { root, follow_links } => {
                let root = root.clone();
                let follow = *follow_links;
                let exclude = exclude.to_vec();
                tokio::task::spawn_blocking(move || Ok(walk(&root, follow, &exclude)))
                    .await
                    .expect("the walk does not panic")
            }
            Source::S3 {
                store,
                bucket,
                prefix,
            } => {
                use futures_util::TryStreamExt;
                let p =
                    (!prefix.is_empty()).then(|| object_store::path::Path::from(prefix.as_str()));
                let metas: Vec<_> =
                    store
                        .list(p.as_ref())
                        .try_collect()
                        .await
                        .map_err(|source| Error::Store {
                            location: self.id(),
                            source,
                        })?;
                let mut out: Vec<Entry> = metas
                    .into_iter()
                    .map(|m| {
                        let key = m.location.to_string();
                        let relative = key
                            .strip_prefix(prefix.as_str())
                            .unwrap_or(&key)
                            .trim_start_matches('/')
                            .to_string();
                        Entry {
                            location: format!("s3://{bucket}/{key}"),
                            size: m.size,
                            version: m
                                .e_tag
                                .unwrap_or_else(|| m.last_modified.timestamp_micros().to_string()),
                            relative,
                        }
                    })
                    .collect();
                out.sort_by(|a, b| a.location.cmp(&b.location));
                Ok((out, Vec::new()))
            }
        }
    }

    /// The object key of an S3 entry.
    pub fn object_path(&self, entry: &Entry) -> Option<object_store::path::Path> {
        match self {
            Source::S3 { bucket, .. } => entry
                .location
                .strip_prefix(&format!("s3://{bucket}/"))
                .map(object_store::path::Path::from),
            Source::Local { .. } => None,
        }
    }
}

/// A client for one bucket (credentials from the `AWS_*` variables).
pub fn s3_store(bucket: &str, s3: &S3Options) -> Result<Arc<AmazonS3>, object_store::Error> {
    crate::client::install_crypto();
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_region(s3.region.clone().unwrap_or_else(|| "us-east-1".into()));
    if let Some(ep) = &s3.endpoint {
        b = b
            .with_endpoint(ep.clone())
            .with_allow_http(ep.starts_with("http://"));
    }
    if let Some((id, secret)) = &s3.credentials {
        b = b
            .with_access_key_id(id.clone())
            .with_secret_access_key(secret.clone());
    }
    Ok(Arc::new(b.build()?))
}

/// The version string of a local file.
pub fn local_version(meta: &std::fs::Metadata) -> String {
    format!("{}.{:09}:{}", meta.mtime(), meta.mtime_nsec(), meta.ino())
}

fn walk(root: &Path, follow: bool, exclude: &[PathBuf]) -> (Vec<Entry>, Vec<(String, String)>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let single = root.is_file();
    let it = walkdir::WalkDir::new(root)
        .follow_links(follow)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| !exclude.iter().any(|x| e.path().starts_with(x)));
    for e in it {
        match e {
            Ok(e) if e.file_type().is_file() => match e.metadata() {
                Ok(meta) => {
                    let path = e.path();
                    let relative = if single {
                        path.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    } else {
                        path.strip_prefix(root)
                            .unwrap_or(path)
                            .to_string_lossy()
                            .into_owned()
                    };
                    out.push(Entry {
                        location: path.to_string_lossy().into_owned(),
                        size: meta.len(),
                        version: local_version(&meta),
                        relative,
                    });
                }
                Err(err) => problems.push((e.path().display().to_string(), err.to_string())),
            },
            Ok(_) => {}
            Err(err) => {
                let path = err
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| root.display().to_string());
                let msg = err
                    .io_error()
                    .map(|io| io.to_string())
                    .unwrap_or(err.to_string());
                problems.push((path, msg));
            }
        }
    }
    (out, problems)
}
