//! Authentication (who is calling), rate limits (how fast), and the [`Auth`] extractor.
//!
//! Every `/v1` request carries `Authorization: Bearer schoon_<id>_<secret>`. The key is looked
//! up by its public id in a small cache in front of the store (entries live a few seconds, so
//! a revocation made through another replica takes effect within that time; one made through
//! this replica at once), and the secret is compared with the stored SHA-256 in constant time.
//!
//! Rate limits count **hashes**, not requests, per key: a GCRA limiter (`governor`) per key,
//! with the key's own rate or the server's default. They stop a hoster key from probing a list
//! in bulk; the audit log records what it asked.

use crate::AppState;
use crate::error::{ApiError, Code};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use lists::keys::ParsedKey;
use lists::{ApiKey, Principal, Store};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Most keys kept in the cache before it is cleared.
const CACHE_CAP: usize = 100_000;

/// Keys by id, cached for `ttl`.
#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, (Instant, Option<ApiKey>)>>,
}

impl KeyCache {
    /// A cache whose entries live `ttl`.
    pub fn new(ttl: Duration) -> KeyCache {
        KeyCache {
            ttl,
            entries: RwLock::default(),
        }
    }

    /// Forgets one key (after a revocation through this replica).
    pub fn forget(&self, id: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    pub(crate) async fn get(
        &self,
        store: &dyn Store,
        id: &str,
    ) -> Result<Option<ApiKey>, ApiError> {
        if let Some((at, key)) = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            && at.elapsed() < self.ttl
        {
            return Ok(key.clone());
        }
        let key = store.key(id).await?;
        let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CACHE_CAP {
            map.clear();
        }
        map.insert(id.to_string(), (Instant::now(), key.clone()));
        Ok(key)
    }

    /// Establishes the principal behind an `Authorization` header value.
    pub async fn authenticate(
        &self,
        store: &dyn Store,
        header: Option<&str>,
    ) -> Result<(Principal, Option<u32>), ApiError> {
        let unauth = |code, msg: &str| ApiError::new(StatusCode::UNAUTHORIZED, code, msg);
        let Some(value) = header else {
            return Err(unauth(
                Code::Unauthenticated,
                "send your API key as `Authorization: Bearer schoon_...`",
            ));
        };
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| {
                unauth(
                    Code::Unauthenticated,
                    "the Authorization header must be `Bearer <key>`",
                )
            })?;
        let parsed = ParsedKey::parse(token)
            .map_err(|_| unauth(Code::Unauthenticated, "that is not a Schoon API key"))?;
        let key = self.get(store, &parsed.id).await?;
        let key = match key {
            Some(k) if parsed.matches(&k.secret_sha256) => k,
            _ => return Err(unauth(Code::UnknownKey, "unknown API key")),
        };
        if key.revoked_at.is_some() {
            return Err(unauth(Code::RevokedKey, "this API key was revoked"));
        }
        Ok((
            Principal {
                key_id: key.id,
                org_id: key.org_id,
                role: key.role,
            },
            key.rate_per_sec,
        ))
    }
}

/// Per-key limiters, created on first use with the key's rate.
#[derive(Debug, Default)]
pub struct RateLimits {
    limiters: Mutex<HashMap<String, (u32, Arc<DefaultDirectRateLimiter>)>>,
}

impl RateLimits {
    /// Takes `cells` hashes from the key's budget of `rate` per second (bursts up to `burst`),
    /// or says how long to wait.
    pub fn take(&self, key: &str, rate: u32, burst: u32, cells: u32) -> Result<(), ApiError> {
        let (Some(rate_nz), Some(cells_nz)) = (NonZeroU32::new(rate), NonZeroU32::new(cells))
        else {
            return Ok(());
        };
        let burst_nz = NonZeroU32::new(burst.max(rate)).unwrap_or(rate_nz);
        let limiter = {
            let mut map = self.limiters.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() >= CACHE_CAP {
                map.clear();
            }
            let entry = map.entry(key.to_string()).or_insert_with(|| {
                (
                    rate,
                    Arc::new(DefaultDirectRateLimiter::direct(
                        Quota::per_second(rate_nz).allow_burst(burst_nz),
                    )),
                )
            });
            if entry.0 != rate {
                *entry = (
                    rate,
                    Arc::new(DefaultDirectRateLimiter::direct(
                        Quota::per_second(rate_nz).allow_burst(burst_nz),
                    )),
                );
            }
            Arc::clone(&entry.1)
        };
        let limited = |wait: Duration| {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                Code::RateLimited,
                format!("this key may check {rate} hashes per second; slow down"),
            );
            e.retry_after = Some(wait.as_secs().max(1));
            e
        };
        match limiter.check_n(cells_nz) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(limited(
                not_until.wait_time_from(DefaultClock::default().now()),
            )),
            Err(_) => Err(limited(Duration::from_secs(1))),
        }
    }
}

/// The authenticated caller of a `/v1` request. Extracting it answers 401 on its own.
#[derive(Debug, Clone)]
pub struct Auth {
    /// Who.
    pub principal: Principal,
    /// The key's own rate, if set.
    pub rate_per_sec: Option<u32>,
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let (principal, rate_per_sec) = state
            .keys
            .authenticate(state.store.as_ref(), header)
            .await?;
        Ok(Auth {
            principal,
            rate_per_sec,
        })
    }
}

impl Auth {
    /// `Ok` if the principal may do `action`, else 403.
    pub fn require(&self, action: lists::Action) -> Result<(), ApiError> {
        self.principal.require(action).map_err(ApiError::from)
    }
}
