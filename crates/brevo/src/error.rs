//! The crate's one error type. Every variant keeps what a caller needs to act on a
//! failure: the HTTP status, the method and API-relative path (never the API key), and
//! Brevo's own error body `{code, message, metadata?}` (docs/brevo-api-notes.md §0.3).
//! Messages say what happened and what to do about it.
//!
//! Classification keys on the status and the body's structure, never on message text:
//! - 401 → [`Error::Unauthorized`] (an IP allow-list refusal is treated the same way);
//! - 404 → [`Error::NotFound`];
//! - 400 with `metadata.duplicate_identifiers` → [`Error::Duplicate`], whatever the code
//!   string says (it drifted from `duplicate_parameter` to `invalid_parameter` on PUT,
//!   docs/brevo-api-notes.md §8.3);
//! - 400/403 `permission_denied` on an e-commerce route → [`Error::EcommerceInactive`]
//!   (the error before activation completes is not documented; this is the likely one);
//! - 429 after every retry → [`Error::RateLimited`];
//! - everything else → [`Error::Api`].

use std::fmt;

use serde_json::Value;

use crate::buckets::Bucket;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a request got no usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// The connection could not be opened: the request never reached the server.
    Connect,
    /// The request or response took longer than the configured timeout.
    Timeout,
    /// The connection broke after the request may have been sent.
    ConnectionLost,
    /// The response body ended early or could not be read.
    TruncatedBody,
    /// Anything else the HTTP library reports.
    Other,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "could not connect",
            TransportKind::Timeout => "timed out",
            TransportKind::ConnectionLost => "connection lost",
            TransportKind::TruncatedBody => "response body cut short",
            TransportKind::Other => "transport error",
        })
    }
}

/// Brevo's error body: `{"code": "...", "message": "...", "metadata": {...}}`. Every field
/// is optional (`code` is optional in the newest SDKs); `raw` keeps the text as sent, cut
/// to a few KB.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiErrorBody {
    pub code: Option<String>,
    pub message: Option<String>,
    pub metadata: Option<Value>,
    pub raw: String,
}

/// Longest body text kept, so a huge HTML error page cannot flood logs.
const MAX_RAW_BODY: usize = 2048;

impl ApiErrorBody {
    /// Parses an error body. Never fails: an empty or non-JSON body keeps only `raw`.
    pub fn parse(bytes: &[u8]) -> Self {
        let raw = truncate(&String::from_utf8_lossy(bytes));
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => {
                let text = |k: &str| {
                    map.get(k).and_then(|v| match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Null => None,
                        other => Some(other.to_string()),
                    })
                };
                Self {
                    code: text("code"),
                    message: text("message"),
                    metadata: map.get("metadata").filter(|v| !v.is_null()).cloned(),
                    raw,
                }
            }
            _ => Self {
                raw,
                ..Self::default()
            },
        }
    }

    /// `metadata.duplicate_identifiers` as strings (`["email"]`), or `None` when absent.
    pub fn duplicate_identifiers(&self) -> Option<Vec<String>> {
        let list = self.metadata.as_ref()?.get("duplicate_identifiers")?;
        match list {
            Value::Array(items) => Some(
                items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect(),
            ),
            Value::String(s) => Some(vec![s.clone()]),
            _ => None,
        }
    }

    /// Whether the code is this one.
    pub fn code_is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// `: <message> (<code>)`, or the raw text, or nothing: the tail of an error message.
    fn headline(&self) -> String {
        match (&self.message, &self.code) {
            (Some(m), Some(c)) => format!(": {m} ({c})"),
            (Some(m), None) => format!(": {m}"),
            (None, Some(c)) => format!(": {c}"),
            (None, None) if !self.raw.trim().is_empty() => format!(": {}", self.raw.trim()),
            (None, None) => String::new(),
        }
    }
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_RAW_BODY {
        return s.to_owned();
    }
    let mut end = MAX_RAW_BODY;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// What to do about a refused request, by status.
fn advice(status: &u16) -> &'static str {
    match *status {
        300..=399 => {
            "the API answered with a redirect, which is never followed (it would carry the API \
             key elsewhere); check that the base URL is https://api.brevo.com/v3"
        }
        400 => "the request was refused as invalid; check the fields named in the message",
        402 => "the account has run out of credits; add credits in Brevo, then try again",
        403 => "the API key may not do this; check the key's permissions and the account plan",
        405 => {
            "this route does not allow that method (deleting the account owner's own contact is refused)"
        }
        406 | 415 => {
            "the server refused the content type; this client sends JSON, please report it"
        }
        422 => "the data was refused; fix the fields named in the message and send it again",
        425 => "the contact was being changed by another request; try again in a few seconds",
        500..=599 => "Brevo had a server error; try again later",
        _ => "the request was refused; check it against Brevo's API reference",
    }
}

/// Everything that can go wrong talking to the Brevo API.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// 401: the key is missing, unknown, revoked, or the account's IP allow-list refused
    /// this machine.
    #[error(
        "Brevo refused the API key (HTTP {status}){}; set BREVO_API_KEY or [brevo] api_key to a \
         v3 API key (Brevo > SMTP & API > API keys), and if the account restricts API access by \
         IP address, allow this machine's address",
        .body.headline()
    )]
    Unauthorized { status: u16, body: ApiErrorBody },

    /// 404: no such contact, list, process or record.
    #[error(
        "{method} {path}: not found (HTTP 404){}; it may have been deleted or never created",
        .body.headline()
    )]
    NotFound {
        method: String,
        path: String,
        body: ApiErrorBody,
    },

    /// 400 with `metadata.duplicate_identifiers`: another contact already has this email,
    /// SMS number or ext_id.
    #[error(
        "{method} {path}: another contact already has this {} (HTTP 400){}; update that contact \
         instead, or change the identifier",
        identifiers_text(.identifiers),
        .body.headline()
    )]
    Duplicate {
        method: String,
        path: String,
        identifiers: Vec<String>,
        body: ApiErrorBody,
    },

    /// Every other refusal (4xx, and 5xx once retries are spent or not allowed).
    #[error("{method} {path} failed with HTTP {status}{}; {}", .body.headline(), advice(.status))]
    Api {
        status: u16,
        method: String,
        path: String,
        body: ApiErrorBody,
    },

    /// The e-commerce app is not active on the account (yet): product, category and order
    /// routes refuse until it is.
    #[error(
        "{method} {path}: Brevo's e-commerce features are not active on this account (HTTP \
         {status}){}; activate them (bcsync does it with POST /ecommerce/activate, or turn on \
         the eCommerce app in Brevo) and try again in about 5 minutes",
        .body.headline()
    )]
    EcommerceInactive {
        status: u16,
        method: String,
        path: String,
        body: ApiErrorBody,
    },

    /// 429 on every attempt: the bucket's allowance stayed spent.
    #[error(
        "{method} {path}: still rate limited by Brevo (HTTP 429, {bucket} bucket) after \
         {attempts} attempts{}; another program may be using the same account's allowance, so \
         try again later or ask Brevo for a higher limit",
        .body.headline()
    )]
    RateLimited {
        bucket: Bucket,
        method: String,
        path: String,
        attempts: u32,
        body: ApiErrorBody,
    },

    /// No usable answer: connection refused, timeout, reset, truncated body.
    #[error(
        "{method} {path}: {kind} after {attempts} attempt(s): {cause}; check the network and \
         the Brevo base URL, then try again"
    )]
    Transport {
        kind: TransportKind,
        method: String,
        path: String,
        attempts: u32,
        cause: String,
    },

    /// A success status whose body is not what the route documents.
    #[error(
        "{method} {path}: could not read Brevo's answer (HTTP {status}): {message}; this is \
         likely an API change or a proxy in the way, please report it"
    )]
    Decode {
        method: String,
        path: String,
        status: u16,
        message: String,
    },

    /// An import process ended as failed or cancelled.
    #[error(
        "Brevo process {id} ({name}) ended as {status}{}; check the import in Brevo (Contacts > \
         Import history) and run the sync again",
        error_suffix(.error)
    )]
    ProcessFailed {
        id: i64,
        name: String,
        status: String,
        error: Option<String>,
    },

    /// One item alone is larger than a request may carry.
    #[error(
        "{what} is {bytes} bytes once encoded, more than the {limit} bytes one request may \
         carry; shorten it"
    )]
    TooLarge {
        what: String,
        bytes: usize,
        limit: usize,
    },

    /// Bad configuration or arguments; nothing was sent.
    #[error("invalid Brevo client configuration: {0}")]
    Config(String),
}

fn identifiers_text(ids: &[String]) -> String {
    if ids.is_empty() {
        "identifier".to_owned()
    } else {
        ids.join(" and ")
    }
}

fn error_suffix(error: &Option<String>) -> String {
    error
        .as_deref()
        .map(|e| format!(": {e}"))
        .unwrap_or_default()
}

/// Whether a path (relative to the API root) is an e-commerce route.
fn is_ecommerce_path(path: &str) -> bool {
    let p = path.trim_start_matches('/');
    let p = p.strip_prefix("v3/").unwrap_or(p);
    ["products", "categories", "orders"]
        .iter()
        .any(|root| p == *root || p.starts_with(&format!("{root}/")))
}

impl Error {
    /// Builds the error for a non-success answer after the retry decision gave up.
    pub(crate) fn from_status(
        status: u16,
        method: &str,
        path: &str,
        body: &[u8],
        bucket: Bucket,
        attempts: u32,
    ) -> Self {
        let body = ApiErrorBody::parse(body);
        let method = method.to_owned();
        let path = path.to_owned();
        match status {
            401 => Error::Unauthorized { status, body },
            404 => Error::NotFound { method, path, body },
            429 => Error::RateLimited {
                bucket,
                method,
                path,
                attempts,
                body,
            },
            400 if body.duplicate_identifiers().is_some() => Error::Duplicate {
                identifiers: body.duplicate_identifiers().unwrap_or_default(),
                method,
                path,
                body,
            },
            400 | 403 if body.code_is("permission_denied") && is_ecommerce_path(&path) => {
                Error::EcommerceInactive {
                    status,
                    method,
                    path,
                    body,
                }
            }
            _ => Error::Api {
                status,
                method,
                path,
                body,
            },
        }
    }

    /// The HTTP status behind this error, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Unauthorized { status, .. }
            | Error::Api { status, .. }
            | Error::EcommerceInactive { status, .. }
            | Error::Decode { status, .. } => Some(*status),
            Error::NotFound { .. } => Some(404),
            Error::Duplicate { .. } => Some(400),
            Error::RateLimited { .. } => Some(429),
            Error::Transport { .. }
            | Error::ProcessFailed { .. }
            | Error::TooLarge { .. }
            | Error::Config(_) => None,
        }
    }

    /// Whether the API key was refused: stop the whole run, every request would fail.
    pub fn is_auth(&self) -> bool {
        matches!(self, Error::Unauthorized { .. })
    }

    /// Brevo's error body, when the server sent one.
    pub fn body(&self) -> Option<&ApiErrorBody> {
        match self {
            Error::Unauthorized { body, .. }
            | Error::NotFound { body, .. }
            | Error::Duplicate { body, .. }
            | Error::Api { body, .. }
            | Error::EcommerceInactive { body, .. }
            | Error::RateLimited { body, .. } => Some(body),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, path: &str, body: &str) -> Error {
        Error::from_status(status, "POST", path, body.as_bytes(), Bucket::Contacts, 1)
    }

    #[test]
    fn parses_documented_bodies() {
        let b = ApiErrorBody::parse(
            br#"{"code":"duplicate_parameter","message":"Unable to create contact, email is already associated with another Contact","metadata":{"duplicate_identifiers":["email"]}}"#,
        );
        assert_eq!(b.code.as_deref(), Some("duplicate_parameter"));
        assert!(b.message.unwrap().starts_with("Unable to create contact"));
        let b = ApiErrorBody::parse(br#"{"message":"Key not found"}"#);
        assert_eq!(b.code, None);
        assert_eq!(b.message.as_deref(), Some("Key not found"));
        let b = ApiErrorBody::parse(b"");
        assert_eq!(b, ApiErrorBody::default());
        let b = ApiErrorBody::parse(b"<html>bad gateway</html>");
        assert_eq!(b.code, None);
        assert_eq!(b.raw, "<html>bad gateway</html>");
        let long = "x".repeat(10_000);
        assert!(ApiErrorBody::parse(long.as_bytes()).raw.len() < 2100);
    }

    #[test]
    fn duplicate_is_detected_whatever_the_code() {
        for code in ["duplicate_parameter", "invalid_parameter", "something_new"] {
            let body = format!(
                r#"{{"code":"{code}","message":"Unable to update contact, email is already associated with another Contact","metadata":{{"duplicate_identifiers":["email"]}}}}"#
            );
            match err(400, "/contacts/a%40b.c", &body) {
                Error::Duplicate { identifiers, .. } => assert_eq!(identifiers, ["email"]),
                other => panic!("{code}: {other:?}"),
            }
        }
        // Without the metadata it is a plain 400, even with the duplicate code.
        let e = err(
            400,
            "/contacts",
            r#"{"code":"duplicate_parameter","message":"Contact already exist"}"#,
        );
        assert!(matches!(e, Error::Api { status: 400, .. }), "{e:?}");
    }

    #[test]
    fn classifies_by_status() {
        let e = err(
            401,
            "/account",
            r#"{"code":"unauthorized","message":"Key not found"}"#,
        );
        assert!(e.is_auth());
        assert_eq!(e.status(), Some(401));
        let text = e.to_string();
        assert!(text.contains("BREVO_API_KEY"), "{text}");
        assert!(text.contains("Key not found"), "{text}");
        let e = err(
            404,
            "/contacts/x",
            r#"{"code":"document_not_found","message":"Contact does not exist"}"#,
        );
        assert!(matches!(e, Error::NotFound { .. }));
        assert_eq!(e.status(), Some(404));
        let e = err(429, "/contacts", r#"{"code":"too_many_requests"}"#);
        assert!(matches!(
            e,
            Error::RateLimited {
                bucket: Bucket::Contacts,
                ..
            }
        ));
        let e = err(
            400,
            "/contacts/lists",
            r#"{"code":"missing_parameter","message":"List name is missing"}"#,
        );
        assert!(matches!(e, Error::Api { status: 400, .. }));
        assert!(e.to_string().contains("List name is missing"));
        assert_eq!(e.body().unwrap().code.as_deref(), Some("missing_parameter"));
    }

    #[test]
    fn ecommerce_gate_only_on_ecommerce_routes() {
        let body = r#"{"code":"permission_denied","message":"eCommerce is not activated"}"#;
        for path in ["/products/batch", "/v3/categories", "/orders/status"] {
            for status in [400, 403] {
                let e = err(status, path, body);
                assert!(
                    matches!(e, Error::EcommerceInactive { .. }),
                    "{path}: {e:?}"
                );
                assert!(e.to_string().contains("activate"));
            }
        }
        let e = err(403, "/contacts", body);
        assert!(matches!(e, Error::Api { status: 403, .. }));
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = Error::TooLarge {
            what: "order 7".into(),
            bytes: 6_000_000,
            limit: 5_000_000,
        };
        assert!(e.to_string().contains("shorten"));
        let e = Error::ProcessFailed {
            id: 3,
            name: "IMPORTUSER".into(),
            status: "failed".into(),
            error: Some("bad file".into()),
        };
        assert!(e.to_string().contains("bad file"));
        assert_eq!(e.status(), None);
    }
}
