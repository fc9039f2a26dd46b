//! A client of the check API (`GET`/`POST /v1/check`), for scanners and upload hooks.
//!
//! It sends hashes, never files. Transient trouble (a refused connection while a server
//! restarts, 429 with `Retry-After`, 502/503/504) is retried with a bounded back-off; anything
//! else comes back as a typed [`Error`] that carries the server's error code and message.
//!
//! ```no_run
//! # async fn demo() -> Result<(), scan::client::Error> {
//! use scan::client::{Client, Query};
//! let client = Client::new("http://127.0.0.1:8080", "schoon_...".into())?;
//! let answer = client
//!     .check(&[Query::new("md5", "d41d8cd98f00b204e9800998ecf8427e")], None)
//!     .await?;
//! for result in &answer.results {
//!     for m in &result.matches {
//!         println!("on list {} ({}) at distance {}", m.list, m.category, m.distance);
//!     }
//! }
//! # Ok(()) }
//! ```

use serde::{Deserialize, Serialize};
use std::sync::Once;
use std::time::Duration;
use url::Url;

/// What can go wrong talking to the service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server URL cannot be used.
    #[error("bad server URL {url:?}: {reason}")]
    BadUrl {
        /// As given.
        url: String,
        /// Why not.
        reason: String,
    },
    /// No answer (connection refused, timed out, TLS failure) after the retries.
    #[error("cannot reach {url}: {source}")]
    Unreachable {
        /// Where.
        url: String,
        /// The last failure.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error.
    #[error("{url} answered {status}: {code}: {message}")]
    Api {
        /// Where.
        url: String,
        /// HTTP status.
        status: u16,
        /// The server's stable error code (e.g. `unknown_key`, `rate_limited`).
        code: String,
        /// Its explanation.
        message: String,
    },
    /// The answer did not have the expected shape (not a Schoon server?).
    #[error("unexpected answer from {url}: {reason}")]
    Protocol {
        /// Where.
        url: String,
        /// What was wrong.
        reason: String,
    },
}

/// One hash to check: `kind` is `md5`, `sha1`, `sha256` or `pdq`, `value` lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Query {
    /// The hash type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Hex digits.
    pub value: String,
}

impl Query {
    /// A query from a type name and hex.
    pub fn new(kind: &'static str, value: impl Into<String>) -> Query {
        Query {
            kind,
            value: value.into(),
        }
    }
}

/// A list one hash matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMatch {
    /// The list's id.
    pub list_id: i64,
    /// The list's name.
    pub list: String,
    /// Its category (`csam`, `terrorism`, ...).
    pub category: String,
    /// The list version that answered.
    pub list_version: i64,
    /// Hamming distance for PDQ, 0 for exact digests.
    pub distance: u32,
}

/// The answer for one query.
#[derive(Debug, Clone, Deserialize)]
pub struct QueryResult {
    /// Whether any list holds it.
    pub matched: bool,
    /// Which lists, when matched.
    #[serde(default)]
    pub matches: Vec<ListMatch>,
}

/// The answer to one batch.
#[derive(Debug, Clone, Deserialize)]
pub struct Answer {
    /// One per query, in order.
    pub results: Vec<QueryResult>,
    /// The index's change sequence that answered.
    pub index_seq: i64,
}

/// `GET /v1/check`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Info {
    /// The index's change sequence now: grows whenever a list changes.
    pub index_seq: i64,
    /// Most hashes per request.
    pub max_batch: usize,
    /// The PDQ distance when none is asked for.
    pub default_distance: u32,
    /// The largest distance one may ask for.
    pub max_distance: u32,
    /// This key's rate limit, hashes per second.
    pub rate_per_sec: u32,
}

#[derive(Serialize)]
struct RemovalsBody {
    removed: u64,
}

#[derive(Deserialize)]
struct RemovalsAnswer {
    recorded: u64,
}

#[derive(Serialize)]
struct CheckBody<'a> {
    hashes: &'a [Query],
    #[serde(skip_serializing_if = "Option::is_none")]
    max_distance: Option<u32>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorInner,
}

#[derive(Deserialize)]
struct ErrorInner {
    code: String,
    message: String,
}

/// How often a request is tried before its error is returned.
const ATTEMPTS: u32 = 6;

/// A check API client. Cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    check_url: Url,
    removals_url: Url,
    key: String,
}

pub(crate) fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // One process-wide TLS provider (ring); an error only means another part of the
        // program installed one first, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Client {
    /// A client of the server at `base` (e.g. `https://schoon.example.org`) with an API key.
    pub fn new(base: &str, key: String) -> Result<Client, Error> {
        install_crypto();
        let bad = |reason: String| Error::BadUrl {
            url: base.to_string(),
            reason,
        };
        let mut url = Url::parse(base).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("use http:// or https://".into()));
        }
        if !url.path().ends_with('/') {
            let p = format!("{}/", url.path());
            url.set_path(&p);
        }
        let check_url = url.join("v1/check").map_err(|e| bad(e.to_string()))?;
        let removals_url = url
            .join("v1/check/removals")
            .map_err(|e| bad(e.to_string()))?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("schoon-scan/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(Client {
            http,
            check_url,
            removals_url,
            key: key.trim().to_string(),
        })
    }

    /// The check endpoint's URL.
    pub fn url(&self) -> &Url {
        &self.check_url
    }

    /// Reads the service facts; also proves the key works.
    pub async fn info(&self) -> Result<Info, Error> {
        self.send(&self.check_url, || self.http.get(self.check_url.clone()))
            .await
    }

    /// Checks a batch of at most [`Info::max_batch`] hashes. `max_distance` is the PDQ radius
    /// (the server's default when `None`).
    pub async fn check(
        &self,
        hashes: &[Query],
        max_distance: Option<u32>,
    ) -> Result<Answer, Error> {
        let body = serde_json::to_vec(&CheckBody {
            hashes,
            max_distance,
        })
        .expect("plain data serialises");
        let answer: Answer = self
            .send(&self.check_url, || {
                self.http
                    .post(self.check_url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        if answer.results.len() != hashes.len() {
            return Err(Error::Protocol {
                url: self.check_url.to_string(),
                reason: format!(
                    "{} results for {} hashes",
                    answer.results.len(),
                    hashes.len()
                ),
            });
        }
        Ok(answer)
    }

    /// Tells the service that `removed` matched files were taken offline on the hoster's own
    /// initiative (moved to quarantine). Only the count is sent. Returns the count recorded.
    pub async fn report_removals(&self, removed: u64) -> Result<u64, Error> {
        let body = serde_json::to_vec(&RemovalsBody { removed }).expect("plain data serialises");
        let answer: RemovalsAnswer = self
            .send(&self.removals_url, || {
                self.http
                    .post(self.removals_url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        Ok(answer.recorded)
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        url: &Url,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, Error> {
        let url = url.to_string();
        let mut attempt = 0;
        // Waits asked for by a rate limit are not failures; they are bounded on their own.
        let mut rate_waits = 0u32;
        loop {
            attempt += 1;
            let last = attempt >= ATTEMPTS;
            let backoff = Duration::from_millis(250 << attempt.min(5));
            let res = match request().bearer_auth(&self.key).send().await {
                Ok(r) => r,
                Err(e) if !last && (e.is_connect() || e.is_timeout()) => {
                    tracing::warn!(error = %e, attempt, "check service unreachable; retrying");
                    tokio::time::sleep(backoff).await;
                    continue;
                }
                Err(source) => return Err(Error::Unreachable { url, source }),
            };
            let status = res.status();
            if status.is_success() {
                let bytes = res.bytes().await.map_err(|source| Error::Unreachable {
                    url: url.clone(),
                    source,
                })?;
                return serde_json::from_slice(&bytes).map_err(|e| Error::Protocol {
                    url,
                    reason: e.to_string(),
                });
            }
            let retry_after = res
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let transient = matches!(status.as_u16(), 429 | 502 | 503 | 504);
            if status.as_u16() == 429 && rate_waits < 600 {
                rate_waits += 1;
                attempt -= 1;
            }
            if transient && (!last || status.as_u16() == 429 && rate_waits < 600) {
                let wait = retry_after.map_or(backoff, |s| Duration::from_secs(s.min(60)));
                tracing::info!(
                    status = status.as_u16(),
                    ?wait,
                    "check service asks to wait"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            let bytes = res.bytes().await.unwrap_or_default();
            let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(b) => (b.error.code, b.error.message),
                Err(_) => (
                    "http_error".to_string(),
                    String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
                ),
            };
            return Err(Error::Api {
                url,
                status: status.as_u16(),
                code,
                message,
            });
        }
    }
}
