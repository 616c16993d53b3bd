//! The crate's one error type. Every variant keeps what a caller needs to act on a failure:
//! the HTTP status, the method and store-relative path (never the token or the full URL
//! with credentials), and BigCommerce's own error body, parsed into its V3 object or V2
//! array shape (docs/api-notes.md §0.3). Messages say what happened and what to do about it.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::scopes;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a request could not get an answer from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// The connection could not be opened, so the request never reached the server.
    Connect,
    /// The request or the response took longer than the configured timeout.
    Timeout,
    /// The connection broke after the request may have been sent (reset, closed early).
    ConnectionLost,
    /// The response body ended early or could not be decoded (a truncated body, a broken
    /// gzip stream, JSON that stops mid-way).
    TruncatedBody,
    /// Anything else reqwest reports.
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

/// One entry of a V2 error array: `[{"status": 404, "message": "..."}]`.
#[derive(Debug, Clone, PartialEq)]
pub struct V2ErrorItem {
    pub status: Option<u16>,
    pub message: String,
}

/// A V3 error object: `{status, title, type, instance?, errors?}`.
#[derive(Debug, Clone, PartialEq)]
pub struct V3Error {
    pub status: Option<u16>,
    pub title: Option<String>,
    /// The `type` field (usually a link to the status-codes page).
    pub error_type: Option<String>,
    /// Field or batch-item errors, e.g. `"0.email" -> "..."`; non-string values as JSON.
    pub errors: BTreeMap<String, String>,
    /// The whole object as sent (some catalog errors add a `code`).
    pub raw: Value,
}

/// BigCommerce's error body, in whichever shape the server sent it.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorBody {
    /// V3: `{status, title, type, instance?, errors?}` (boxed to keep `Error` small).
    V3(Box<V3Error>),
    /// V2: an array of `{status, message}` (or, on some endpoints, one such object).
    V2(Vec<V2ErrorItem>),
    /// Not JSON, or JSON of another shape: kept as text (cut to a few KB).
    Text(String),
    /// No body at all.
    Empty,
}

/// Longest body text kept in an error, so a huge HTML error page cannot flood logs.
const MAX_TEXT_BODY: usize = 2048;

impl ErrorBody {
    /// Parses an error response body. Never fails: unknown shapes become `Text`.
    pub fn parse(bytes: &[u8]) -> Self {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return ErrorBody::Empty;
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Array(items)) => {
                let parsed: Vec<V2ErrorItem> = items.iter().filter_map(v2_item).collect();
                if parsed.is_empty() {
                    ErrorBody::Text(truncate_text(&String::from_utf8_lossy(bytes)))
                } else {
                    ErrorBody::V2(parsed)
                }
            }
            Ok(Value::Object(map)) => {
                if map.contains_key("title") || map.contains_key("errors") {
                    let errors = map
                        .get("errors")
                        .and_then(Value::as_object)
                        .map(|errs| {
                            errs.iter()
                                .map(|(k, v)| (k.clone(), value_text(v)))
                                .collect()
                        })
                        .unwrap_or_default();
                    ErrorBody::V3(Box::new(V3Error {
                        status: map.get("status").and_then(status_of),
                        title: map.get("title").and_then(Value::as_str).map(str::to_owned),
                        error_type: map.get("type").and_then(Value::as_str).map(str::to_owned),
                        errors,
                        raw: Value::Object(map),
                    }))
                } else if let Some(item) = v2_item(&Value::Object(map.clone())) {
                    // Some V2 endpoints answer with one bare {status, message} object.
                    ErrorBody::V2(vec![item])
                } else {
                    ErrorBody::Text(truncate_text(&String::from_utf8_lossy(bytes)))
                }
            }
            _ => ErrorBody::Text(truncate_text(&String::from_utf8_lossy(bytes))),
        }
    }

    /// The headline: the V3 `title`, or the V2 messages joined, or the text.
    pub fn title(&self) -> Option<String> {
        match self {
            ErrorBody::V3(v3) => v3.title.clone(),
            ErrorBody::V2(items) => {
                let joined = items
                    .iter()
                    .map(|i| i.message.as_str())
                    .filter(|m| !m.is_empty())
                    .collect::<Vec<_>>()
                    .join("; ");
                (!joined.is_empty()).then_some(joined)
            }
            ErrorBody::Text(t) => (!t.trim().is_empty()).then(|| t.trim().to_owned()),
            ErrorBody::Empty => None,
        }
    }

    /// The V3 `errors` map (batch endpoints key it by item index, e.g. `"0.email"`);
    /// empty for other shapes.
    pub fn field_errors(&self) -> BTreeMap<String, String> {
        match self {
            ErrorBody::V3(v3) => v3.errors.clone(),
            _ => BTreeMap::new(),
        }
    }
}

fn status_of(v: &Value) -> Option<u16> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn v2_item(v: &Value) -> Option<V2ErrorItem> {
    let obj = v.as_object()?;
    let message = obj.get("message").map(value_text)?;
    Some(V2ErrorItem {
        status: obj.get("status").and_then(status_of),
        message,
    })
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn truncate_text(s: &str) -> String {
    if s.len() <= MAX_TEXT_BODY {
        return s.to_owned();
    }
    let mut end = MAX_TEXT_BODY;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Renders the body's headline for a message: `: <title>` or nothing.
fn headline(body: &ErrorBody) -> String {
    match body.title() {
        Some(t) => format!(": {t}"),
        None => String::new(),
    }
}

/// `after 12.5 s` when the wait is known, else `later`.
fn retry_after_text(after: &Option<std::time::Duration>) -> String {
    match after {
        Some(d) => format!("after {:.1} s", d.as_secs_f64()),
        None => "later".to_owned(),
    }
}

/// Renders an optional title for a message: `: <title>` or nothing.
fn title_suffix(title: &Option<String>) -> String {
    title
        .as_deref()
        .map(|t| format!(": {t}"))
        .unwrap_or_default()
}

/// Renders the field errors for a message: ` [0.email: invalid]` or nothing.
fn field_list(body: &ErrorBody) -> String {
    let errs = body.field_errors();
    if errs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = errs.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!(" [{}]", parts.join("; "))
}

/// What to do about a client error, by status (docs/api-notes.md §0.2).
fn client_error_advice(status: &u16) -> &'static str {
    match *status {
        300..=399 => {
            "the API answered with a redirect, which is never followed (it would carry the \
             token elsewhere); check that base_url is https://api.bigcommerce.com"
        }
        400 => "the request was malformed; check the query parameters and body",
        405 => "this endpoint does not support that method",
        406 => "the server cannot answer in JSON for this endpoint",
        409 => {
            "the data conflicts with existing records (e.g. a duplicate email, name or SKU); \
             fix or skip the conflicting items"
        }
        413 => {
            "too many items in one request (a batch or a `limit` above the maximum); \
             send smaller batches or pages"
        }
        415 => "the server rejected the Content-Type; send JSON",
        422 => "the data is missing or invalid; fix the fields listed and send it again",
        423 => "the resource is locked; try again once it is released",
        _ => "the server refused the request; check the request against the API reference",
    }
}

/// Everything that can go wrong talking to the BigCommerce API.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// 401: the token is wrong, revoked, or belongs to another store.
    #[error(
        "{method} {path}: the access token was rejected (HTTP 401){}; check BIGCOMMERCE_ACCESS_TOKEN \
         and that the API account is not deleted",
        headline(.body)
    )]
    Unauthorized {
        method: String,
        path: String,
        body: ErrorBody,
    },

    /// 403: the API account lacks the OAuth scope for this path (or a plan limit was hit).
    #[error(
        "{method} {path}: access denied (HTTP 403){}; {}",
        headline(.body),
        scopes::forbidden_advice(.path, .method)
    )]
    Forbidden {
        method: String,
        path: String,
        /// The scope family the path needs, e.g. `store_v2_orders`, when known.
        scope: Option<&'static str>,
        body: ErrorBody,
    },

    /// 404: no such resource, or (for `/v2/store` and `/v2/time`) no such store.
    #[error("{method} {path}: not found (HTTP 404){}; {}", headline(.body), not_found_advice(.path))]
    NotFound {
        method: String,
        path: String,
        body: ErrorBody,
    },

    /// Any other 4xx (400, 405, 409, 413, 415, 422, 423...). `field_errors()` lists the
    /// per-field or per-item errors of a V3 body.
    #[error(
        "{method} {path} failed with HTTP {status}{}{}; {}",
        title_suffix(.title),
        field_list(.body),
        client_error_advice(.status)
    )]
    Api {
        status: u16,
        method: String,
        path: String,
        title: Option<String>,
        body: ErrorBody,
    },

    /// 429 on every attempt: the store's shared quota stayed exhausted. `retry_after` is set
    /// when the client gave up because the next retry would have waited longer than
    /// [`crate::ClientConfig::max_retry_wait`].
    #[error(
        "{method} {path}: still rate limited (HTTP 429) after {attempts} attempts{}; the store's \
         request quota is shared with other apps, so lower the concurrency or try again {}",
        headline(.body),
        retry_after_text(.retry_after)
    )]
    RateLimited {
        method: String,
        path: String,
        attempts: u32,
        body: ErrorBody,
        retry_after: Option<std::time::Duration>,
    },

    /// 5xx on the last attempt (after retries, or at once for 501 and non-idempotent writes).
    #[error(
        "{method} {path}: BigCommerce answered HTTP {status} after {attempts} attempt(s){}; \
         the store may be down or in maintenance, try again later",
        headline(.body)
    )]
    Server {
        status: u16,
        method: String,
        path: String,
        attempts: u32,
        body: ErrorBody,
    },

    /// No usable answer: connection refused, timeout, reset, truncated body.
    #[error(
        "{method} {path}: {kind} after {attempts} attempt(s): {cause}; check the network \
         and the base URL, then try again"
    )]
    Transport {
        method: String,
        path: String,
        attempts: u32,
        kind: TransportKind,
        cause: String,
    },

    /// The first connection to the host failed (refused, or the name did not resolve)
    /// before any request of this client had an answer from it: not retried, since a
    /// wrong base URL or a missing network does not fix itself.
    #[error(
        "cannot reach {base_url}: {cause}; check the base URL (--base-url, \
         BIGCOMMERCE_BASE_URL or base_url in bcsync.toml) and the network, then try again"
    )]
    Unreachable { base_url: String, cause: String },

    /// A complete 2xx body that is not the JSON expected.
    #[error(
        "{method} {path}: could not read the response (HTTP {status}): {message}; this is \
         likely an API change or a proxy in the way, please report it"
    )]
    Decode {
        method: String,
        path: String,
        status: u16,
        message: String,
    },

    /// Bad client configuration or arguments; nothing was sent.
    #[error("invalid BigCommerce client configuration: {0}")]
    Config(String),

    /// A request target that cannot be sent to this store as given (a URL on another
    /// host, a path outside `/v2` and `/v3`); the message names it and the form to use.
    /// Nothing was sent.
    #[error("{0}")]
    InvalidTarget(String),
}

fn not_found_advice(path: &str) -> &'static str {
    if is_store_probe_path(path) {
        "check the store hash (BIGCOMMERCE_STORE_HASH): it is the part after /stores/ in \
         the API path shown with the API account"
    } else {
        "the resource was not found; it may have been deleted (if every request fails this \
         way, check the store hash)"
    }
}

/// Paths every store has, so a 404 on them means the store itself is unknown.
fn is_store_probe_path(path: &str) -> bool {
    let trimmed = path.trim_end_matches('/');
    matches!(trimmed, "/v2/store" | "/v2/time")
}

impl Error {
    /// The HTTP status behind this error, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Unauthorized { .. } => Some(401),
            Error::Forbidden { .. } => Some(403),
            Error::NotFound { .. } => Some(404),
            Error::Api { status, .. } | Error::Server { status, .. } => Some(*status),
            Error::RateLimited { .. } => Some(429),
            Error::Decode { status, .. } => Some(*status),
            Error::Transport { .. }
            | Error::Unreachable { .. }
            | Error::Config(_)
            | Error::InvalidTarget(_) => None,
        }
    }

    /// BigCommerce's error body, when the server sent one.
    pub fn body(&self) -> Option<&ErrorBody> {
        match self {
            Error::Unauthorized { body, .. }
            | Error::Forbidden { body, .. }
            | Error::NotFound { body, .. }
            | Error::Api { body, .. }
            | Error::RateLimited { body, .. }
            | Error::Server { body, .. } => Some(body),
            Error::Transport { .. }
            | Error::Unreachable { .. }
            | Error::Decode { .. }
            | Error::Config(_)
            | Error::InvalidTarget(_) => None,
        }
    }

    /// The error's headline from the body (V3 `title`, V2 messages).
    pub fn title(&self) -> Option<String> {
        match self {
            Error::Api { title, .. } => title.clone(),
            other => other.body().and_then(ErrorBody::title),
        }
    }

    /// The V3 `errors` map (keys such as `"0.email"` for batch item 0), empty otherwise.
    pub fn field_errors(&self) -> BTreeMap<String, String> {
        self.body().map(ErrorBody::field_errors).unwrap_or_default()
    }

    /// How long the store asked to wait before this request may be tried again, when the
    /// client stopped retrying because the wait was longer than it may wait.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Marks a 429 as given up with `after` still to wait (other errors are unchanged).
    pub(crate) fn with_retry_after(self, after: std::time::Duration) -> Self {
        match self {
            Error::RateLimited {
                method,
                path,
                attempts,
                body,
                ..
            } => Error::RateLimited {
                method,
                path,
                attempts,
                body,
                retry_after: Some(after),
            },
            other => other,
        }
    }

    /// Builds the error for a non-success HTTP status (after the retry decision said fail).
    pub(crate) fn from_status(
        status: u16,
        method: &str,
        path: &str,
        body_bytes: &[u8],
        attempts: u32,
    ) -> Self {
        let body = ErrorBody::parse(body_bytes);
        let method = method.to_owned();
        let path = path.to_owned();
        match status {
            401 => Error::Unauthorized { method, path, body },
            403 => Error::Forbidden {
                scope: scopes::scope_for_path(&path),
                method,
                path,
                body,
            },
            404 => Error::NotFound { method, path, body },
            429 => Error::RateLimited {
                method,
                path,
                attempts,
                body,
                retry_after: None,
            },
            s if s >= 500 => Error::Server {
                status: s,
                method,
                path,
                attempts,
                body,
            },
            s => Error::Api {
                status: s,
                title: body.title(),
                method,
                path,
                body,
            },
        }
    }

    /// Adds where a 3xx pointed to, when the body gave no better title.
    pub(crate) fn with_redirect_location(self, location: Option<&str>) -> Self {
        match (self, location) {
            (
                Error::Api {
                    status,
                    method,
                    path,
                    title: None,
                    body,
                },
                Some(location),
            ) if (300..400).contains(&status) => Error::Api {
                status,
                method,
                path,
                title: Some(format!("redirected to {location}")),
                body,
            },
            (other, _) => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v3_error_with_field_errors() {
        let body = br#"{"status":422,"title":"Create customers failed.","type":"https://x","errors":{"0.email":"invalid","1.first_name":"required"}}"#;
        let parsed = ErrorBody::parse(body);
        assert_eq!(parsed.title().as_deref(), Some("Create customers failed."));
        let errs = parsed.field_errors();
        assert_eq!(errs.get("0.email").map(String::as_str), Some("invalid"));
        assert_eq!(errs.len(), 2);
    }

    #[test]
    fn parses_v2_error_array_and_single_object() {
        let arr = ErrorBody::parse(
            br#"[{"status":404,"message":"The requested resource was not found."}]"#,
        );
        assert_eq!(
            arr,
            ErrorBody::V2(vec![V2ErrorItem {
                status: Some(404),
                message: "The requested resource was not found.".into()
            }])
        );
        let single = ErrorBody::parse(br#"{"status":207,"message":"partly done"}"#);
        assert_eq!(single.title().as_deref(), Some("partly done"));
    }

    #[test]
    fn keeps_text_and_empty_bodies() {
        assert_eq!(ErrorBody::parse(b""), ErrorBody::Empty);
        assert_eq!(ErrorBody::parse(b"  \n"), ErrorBody::Empty);
        assert_eq!(
            ErrorBody::parse(b"<html>bad gateway</html>"),
            ErrorBody::Text("<html>bad gateway</html>".into())
        );
        let huge = "x".repeat(10_000);
        match ErrorBody::parse(huge.as_bytes()) {
            ErrorBody::Text(t) => assert!(t.len() < 2100),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn maps_statuses_to_variants() {
        let e = Error::from_status(401, "GET", "/v3/customers", b"", 1);
        assert!(matches!(e, Error::Unauthorized { .. }));
        assert!(e.to_string().contains("BIGCOMMERCE_ACCESS_TOKEN"));
        assert_eq!(e.status(), Some(401));

        let e = Error::from_status(403, "GET", "/v2/orders", b"", 1);
        assert!(e.to_string().contains("store_v2_orders_read_only"), "{e}");

        let e = Error::from_status(404, "GET", "/v2/store", b"", 1);
        assert!(e.to_string().contains("store hash"), "{e}");
        let e = Error::from_status(404, "GET", "/v3/catalog/products/5", b"", 1);
        assert!(e.to_string().contains("resource was not found"), "{e}");

        let e = Error::from_status(
            422,
            "POST",
            "/v3/customers",
            br#"{"status":422,"title":"bad","type":"t","errors":{"0.email":"taken"}}"#,
            1,
        );
        assert_eq!(e.status(), Some(422));
        assert_eq!(e.title().as_deref(), Some("bad"));
        assert_eq!(
            e.field_errors().get("0.email").map(String::as_str),
            Some("taken")
        );
        assert!(e.to_string().contains("0.email: taken"), "{e}");

        assert!(matches!(
            Error::from_status(503, "GET", "/v2/orders", b"", 9),
            Error::Server {
                status: 503,
                attempts: 9,
                ..
            }
        ));
        assert!(matches!(
            Error::from_status(429, "GET", "/v2/orders", b"", 9),
            Error::RateLimited { attempts: 9, .. }
        ));
        assert!(matches!(
            Error::from_status(409, "POST", "/v3/catalog/brands", b"", 1),
            Error::Api { status: 409, .. }
        ));
    }
}
