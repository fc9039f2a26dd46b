//! `Path` and `Query` extractors whose rejections are [`ApiError`]s with stable codes
//! (axum's own answer with plain text).

use crate::error::{ApiError, Code};
use axum::extract::FromRequestParts;
use axum::extract::rejection::{PathRejection, QueryRejection};

/// [`axum::extract::Path`] with JSON errors.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// [`axum::extract::Query`] with JSON errors.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> ApiError {
        ApiError::bad(Code::InvalidRequest, format!("bad path: {}", e.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> ApiError {
        ApiError::bad(
            Code::InvalidRequest,
            format!("bad query string: {}", e.body_text()),
        )
    }
}

/// The request body as bytes, with a JSON 413 when it is over the route's limit.
#[derive(Debug)]
pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(ApiBytes)
            .map_err(|e| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        e.status(),
                        Code::PayloadTooLarge,
                        "the body is larger than this endpoint accepts",
                    )
                } else {
                    ApiError::bad(Code::InvalidRequest, e.body_text())
                }
            })
    }
}
