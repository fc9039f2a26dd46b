//! API errors: an HTTP status, a **stable machine-readable code**, and a message for people.
//!
//! Every error body has the same shape, so clients branch on `code` and show `message`:
//!
//! ```json
//! {"error": {"code": "invalid_hash", "message": "hashes[3]: pdq needs 64 hex digits, got 60", "index": 3}}
//! ```
//!
//! The codes are part of the API contract (listed in `/openapi.json`); messages may change.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The stable error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// The body is not valid JSON, or not the expected shape.
    MalformedJson,
    /// The body's content type is not accepted here.
    UnsupportedMediaType,
    /// A hash `type` other than md5, sha1, sha256, pdq.
    UnknownHashType,
    /// A hash value that is not hex of the right length.
    InvalidHash,
    /// More hashes than the server's batch limit.
    BatchTooLarge,
    /// No hashes at all.
    EmptyBatch,
    /// `max_distance` above the server's cap.
    RadiusTooLarge,
    /// The body is bigger than allowed.
    PayloadTooLarge,
    /// The uploaded bytes are not an image Schoon can decode.
    UnreadableImage,
    /// A parameter or field breaks a rule.
    InvalidRequest,
    /// An import file had bad lines (listed in `details`); nothing changed.
    InvalidFile,
    /// No `Authorization: Bearer` header, or not a Schoon key.
    Unauthenticated,
    /// The key is not known.
    UnknownKey,
    /// The key was revoked.
    RevokedKey,
    /// The key's role may not do this.
    Forbidden,
    /// No such thing (or not visible to this key).
    NotFound,
    /// The name is taken, or a concurrent change won.
    Conflict,
    /// Too many hashes per second for this key; see `Retry-After`.
    RateLimited,
    /// A fault on the server's side.
    Internal,
    /// The server is starting or its database is unreachable.
    Unavailable,
}

/// An error as returned by a handler.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: Code,
    /// For people.
    pub message: String,
    /// Which item of a batch, when the error is about one.
    pub index: Option<usize>,
    /// Extra structured detail (e.g. line errors of an import).
    pub details: Option<serde_json::Value>,
    /// Seconds to wait (rate limiting).
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
pub(crate) struct ErrorBody {
    error: ErrorInner,
}

#[derive(Serialize)]
struct ErrorInner {
    code: Code,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<serde_json::Value>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            index: None,
            details: None,
            retry_after: None,
        }
    }

    /// 400 with `code`.
    pub fn bad(code: Code, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// Attaches the batch index the error is about.
    pub fn at(mut self, index: usize) -> ApiError {
        self.index = Some(index);
        self
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, Code::Forbidden, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, Code::NotFound, message)
    }

    /// 500; the detail goes to the log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %detail, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Code::Internal,
            "internal error; see the server log",
        )
    }
}

impl From<lists::Error> for ApiError {
    fn from(e: lists::Error) -> ApiError {
        use lists::Error as E;
        match e {
            E::NotFound(m) => ApiError::not_found(m),
            E::Conflict(m) => ApiError::new(StatusCode::CONFLICT, Code::Conflict, m),
            E::Invalid(m) => ApiError::bad(Code::InvalidRequest, m),
            E::InvalidFile { errors, total } => {
                let mut err = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Code::InvalidFile,
                    format!("{total} line(s) could not be read; the list was not changed"),
                );
                err.details = Some(serde_json::json!({ "invalid_lines": total, "errors": errors }));
                err
            }
            E::Unauthenticated(m) => {
                ApiError::new(StatusCode::UNAUTHORIZED, Code::Unauthenticated, m)
            }
            E::Forbidden(m) => ApiError::forbidden(m),
            E::Input(m) => ApiError::bad(Code::InvalidRequest, m),
            e @ (E::Internal(_) | E::Backend(_)) => ApiError::internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        metrics::counter!("schoon_http_errors_total", "code" => code_name(self.code)).increment(1);
        let body = ErrorBody {
            error: ErrorInner {
                code: self.code,
                message: self.message,
                index: self.index,
                details: self.details,
            },
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"schoon\""),
            );
        }
        res
    }
}

/// The code as text, as it appears in bodies and metrics labels.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::MalformedJson => "malformed_json",
        Code::UnsupportedMediaType => "unsupported_media_type",
        Code::UnknownHashType => "unknown_hash_type",
        Code::InvalidHash => "invalid_hash",
        Code::BatchTooLarge => "batch_too_large",
        Code::EmptyBatch => "empty_batch",
        Code::RadiusTooLarge => "radius_too_large",
        Code::PayloadTooLarge => "payload_too_large",
        Code::UnreadableImage => "unreadable_image",
        Code::InvalidRequest => "invalid_request",
        Code::InvalidFile => "invalid_file",
        Code::Unauthenticated => "unauthenticated",
        Code::UnknownKey => "unknown_key",
        Code::RevokedKey => "revoked_key",
        Code::Forbidden => "forbidden",
        Code::NotFound => "not_found",
        Code::Conflict => "conflict",
        Code::RateLimited => "rate_limited",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_match_their_serialisation() {
        for code in [
            Code::MalformedJson,
            Code::RevokedKey,
            Code::RateLimited,
            Code::Unavailable,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code_name(code));
        }
    }
}
