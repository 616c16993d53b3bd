//! Error responses in the exact shapes BigCommerce uses (docs/api-notes.md §0.3): V3 is an object
//! `{status, title, type, errors?}`, V2 is an array of `{status, message}`. Every handler
//! returns `Result<Response, ApiError>` and picks the shape by API version.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Which API generation a path belongs to; decides the error shape and date format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    V2,
    V3,
}

impl ApiVersion {
    /// `/stores/{hash}/v2/...` → V2, anything else → V3.
    pub fn of_path(path: &str) -> Self {
        if path.split('/').any(|seg| seg == "v2") {
            ApiVersion::V2
        } else {
            ApiVersion::V3
        }
    }
}

pub(crate) const V3_ERROR_TYPE: &str =
    "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes";

/// An error answer. Build it with the helpers below; it renders itself.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub version: ApiVersion,
    pub status: StatusCode,
    /// V3 `title` or V2 `message`.
    pub title: String,
    /// V3 `errors` map (per-field or per-index keys). Rendered as `{}` when present but empty.
    pub errors: Option<Map<String, Value>>,
    /// Extra headers (e.g. rate-limit headers on a 429).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(version: ApiVersion, status: StatusCode, title: impl Into<String>) -> Self {
        Self {
            version,
            status,
            title: title.into(),
            errors: None,
            headers: Vec::new(),
        }
    }

    pub fn with_errors(mut self, errors: Map<String, Value>) -> Self {
        self.errors = Some(errors);
        self
    }

    /// Adds one `errors` entry, e.g. `("0.email", "Email already in use")`.
    pub fn with_error(mut self, key: impl Into<String>, msg: impl Into<String>) -> Self {
        self.errors
            .get_or_insert_with(Map::new)
            .insert(key.into(), Value::String(msg.into()));
        self
    }

    /// The same error in the V2 shape, for V2 routes that run V3 checks (V2 customers and
    /// products): a V2 body carries one message, so the per-field `errors` are folded into
    /// it, a single-item batch's `0.` prefix dropped.
    pub fn into_v2(self) -> Self {
        let mut message = self.title;
        if let Some(errors) = &self.errors {
            let details: Vec<String> = errors
                .iter()
                .map(|(k, v)| {
                    let field = k.strip_prefix("0.").unwrap_or(k);
                    format!("{field}: {}", v.as_str().unwrap_or_default())
                })
                .collect();
            if !details.is_empty() {
                message = format!("{message} {}", details.join("; "));
            }
        }
        let mut v2 = Self::new(ApiVersion::V2, self.status, message);
        v2.headers = self.headers;
        v2
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn bad_request(v: ApiVersion, msg: impl Into<String>) -> Self {
        Self::new(v, StatusCode::BAD_REQUEST, msg)
    }
    pub fn unauthorized(v: ApiVersion) -> Self {
        Self::new(
            v,
            StatusCode::UNAUTHORIZED,
            "Unauthorized - the v3 Auth client ID or token in the request are not a valid combination for this store.",
        )
    }
    pub fn forbidden(v: ApiVersion) -> Self {
        Self::new(
            v,
            StatusCode::FORBIDDEN,
            "Unauthorized Access. You do not have permission to make this request.",
        )
    }
    pub fn not_found(v: ApiVersion) -> Self {
        Self::new(
            v,
            StatusCode::NOT_FOUND,
            "The requested resource was not found.",
        )
    }
    pub fn method_not_allowed(v: ApiVersion) -> Self {
        Self::new(
            v,
            StatusCode::METHOD_NOT_ALLOWED,
            "The requested method is not allowed for this resource.",
        )
    }
    pub fn conflict(v: ApiVersion, msg: impl Into<String>) -> Self {
        Self::new(v, StatusCode::CONFLICT, msg)
    }
    /// 413 for a batch above its limit (docs/api-notes.md §0.3 example for products).
    pub fn batch_too_large(v: ApiVersion, max: usize) -> Self {
        Self::new(
            v,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The request payload is too large. The maximum items allowed in the array is {max}."
            ),
        )
        .with_errors(Map::new())
    }
    /// 413 for a `limit` above the maximum page size (docs/api-notes.md §0.2).
    pub fn limit_too_large(v: ApiVersion, max: u32) -> Self {
        Self::new(
            v,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The requested limit is too large. The maximum limit is {max}."),
        )
        .with_errors(Map::new())
    }
    pub fn unsupported_media_type(v: ApiVersion) -> Self {
        Self::new(
            v,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The request Content-Type is not supported. Send Content-Type: application/json.",
        )
    }
    pub fn unprocessable(v: ApiVersion, title: impl Into<String>) -> Self {
        Self::new(v, StatusCode::UNPROCESSABLE_ENTITY, title).with_errors(Map::new())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.version {
            ApiVersion::V3 => {
                let mut obj = json!({
                    "status": self.status.as_u16(),
                    "title": self.title,
                    "type": V3_ERROR_TYPE,
                });
                if let Some(errors) = self.errors {
                    obj["errors"] = Value::Object(errors);
                }
                obj
            }
            ApiVersion::V2 => json!([{ "status": self.status.as_u16(), "message": self.title }]),
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        for (name, value) in self.headers {
            if let Ok(v) = value.parse() {
                resp.headers_mut().insert(name, v);
            }
        }
        resp
    }
}

/// Handler result type.
pub type ApiResult = Result<Response, ApiError>;

/// Why a sandbox could not start (the crate's one error type; API answers are
/// [`ApiError`]s).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("a fleet needs at least one store")]
    Empty,
    #[error("store hash {0:?} is given twice; every store of a fleet needs its own hash")]
    DuplicateHash(String),
    #[error("store {hash:?}: {message}")]
    Simulator { hash: String, message: String },
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
}
