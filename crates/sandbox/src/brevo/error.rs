//! Brevo's error answers: a status plus the body `{code, message, metadata?}`
//! (docs/brevo-api-notes.md §0.3). Every handler returns [`BrevoError`] on failure, so every
//! error the emulator sends has that shape.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answer of the emulated API.
#[derive(Debug, Clone, PartialEq)]
pub struct BrevoError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Only contact routes send it, e.g. `{"duplicate_identifiers":["email"]}`.
    pub metadata: Option<Value>,
}

impl BrevoError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            metadata: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_parameter", message)
    }

    pub fn missing(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "missing_parameter", message)
    }

    pub fn out_of_range(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "out_of_range", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "document_not_found", message)
    }

    pub fn contact_not_found() -> Self {
        Self::not_found("Contact does not exist")
    }

    pub fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// A 400 for an identifier that already belongs to another contact.
    pub fn duplicate(code: &'static str, message: &str, identifiers: &[&str]) -> Self {
        Self {
            metadata: Some(json!({ "duplicate_identifiers": identifiers })),
            ..Self::new(StatusCode::BAD_REQUEST, code, message)
        }
    }

    pub fn body(&self) -> Value {
        let mut v = json!({ "code": self.code, "message": self.message });
        if let (Some(m), Some(obj)) = (&self.metadata, v.as_object_mut()) {
            obj.insert("metadata".into(), m.clone());
        }
        v
    }
}

impl IntoResponse for BrevoError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// What a handler returns.
pub type ApiResult = Result<Response, BrevoError>;

/// 204 with no body.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A JSON answer with a status.
pub fn json_status(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}
