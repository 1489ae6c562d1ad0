//! The one place an [`ApiError`] becomes an HTTP reply: status from its kind, body `{"message":"..."}`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use berth_api::{ApiError, ErrorBody, ErrorKind};
use http::StatusCode;

/// A handler failure; wraps [`ApiError`] so it can be turned into a response here.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        HttpError(e)
    }
}

/// Handler results.
pub type HttpResult<T = Response> = Result<T, HttpError>;

/// The HTTP status for an error kind.
pub fn status_for(kind: ErrorKind) -> StatusCode {
    StatusCode::from_u16(kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = status_for(self.0.kind);
        if status == StatusCode::NOT_MODIFIED {
            return status.into_response();
        }
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), error = %self.0.message, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), error = %self.0.message, "request refused");
        }
        (status, Json(ErrorBody::from(&self.0))).into_response()
    }
}

/// The reply for routes that do not exist, worded as Docker does.
pub async fn page_not_found() -> Response {
    HttpError(ApiError::not_found("page not found")).into_response()
}
