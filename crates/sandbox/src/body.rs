//! Request bodies: the `JsonBody` extractor checks `Content-Type` (415), size (413) and
//! JSON syntax (400), answering in the V2 or V3 error shape of the route, so that bad input
//! never reaches a handler and never crashes or wedges the server.

use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde_json::Value;

use crate::error::{ApiError, ApiVersion};
use crate::state::Shared;

/// A parsed JSON request body.
#[derive(Debug)]
pub struct JsonBody(pub Value);

impl FromRequest<Shared> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Shared) -> Result<Self, Self::Rejection> {
        let v = ApiVersion::of_path(req.uri().path());
        let ct = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime != "application/json" && !mime.ends_with("+json") {
            return Err(ApiError::unsupported_media_type(v));
        }
        let limit = state.config.max_body_bytes;
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| {
                ApiError::new(
                    v,
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    format!("The request body is larger than the {limit} bytes allowed."),
                )
            })?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(v, format!("The request body is not valid JSON: {e}."))
        })?;
        Ok(JsonBody(value))
    }
}

/// Takes a JSON array body for a batch endpoint, refusing a non-array (422) and more than
/// `max` items (413, docs/api-notes.md §11.5).
pub fn batch(v: ApiVersion, body: Value, max: usize) -> Result<Vec<Value>, ApiError> {
    match body {
        Value::Array(items) if items.len() > max => Err(ApiError::batch_too_large(v, max)),
        Value::Array(items) if items.is_empty() => Err(ApiError::unprocessable(
            v,
            "The request body must be a non-empty array.",
        )),
        Value::Array(items) => Ok(items),
        _ => Err(ApiError::unprocessable(
            v,
            "The request body must be a JSON array.",
        )),
    }
}
