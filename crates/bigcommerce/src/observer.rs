//! A hook that sees every attempt the client makes (retries included): for request logs,
//! progress displays and tests that count calls. Events never carry the access token.

use std::time::Duration;

use reqwest::header::HeaderMap;

/// Receives one [`RequestEvent`] per attempt. Called on the request's task, so it must be
/// quick (push to a channel or a counter, don't block).
pub trait RequestObserver: Send + Sync {
    fn on_event(&self, event: &RequestEvent);
}

/// Several observers behind the client's one: each sees every event, in order.
pub struct Observers(pub Vec<std::sync::Arc<dyn RequestObserver>>);

impl RequestObserver for Observers {
    fn on_event(&self, event: &RequestEvent) {
        for o in &self.0 {
            o.on_event(event);
        }
    }
}

/// One finished attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestEvent {
    pub method: String,
    /// The URL path, e.g. `/stores/abc123/v3/customers` (no host, never a token).
    pub url_path: String,
    /// The encoded query string without `?`, empty when none.
    pub query: String,
    /// The response status, `None` when no response arrived.
    pub status: Option<u16>,
    /// 1 for the first try.
    pub attempt: u32,
    /// From sending to the full body (or the failure); pacing waits are not included.
    pub duration: Duration,
    /// What went wrong, if anything (a transport error or the failure's message).
    pub error: Option<String>,
    /// Response headers, names lowercased, secrets redacted.
    pub headers: Vec<(String, String)>,
    /// Whether the client will try again.
    pub will_retry: bool,
    /// Request headers and bodies, redacted and bounded: only when the client was built
    /// with [`crate::Client::with_capture`], else `None`.
    pub capture: Option<crate::capture::Captured>,
}

/// Header names whose values are never shown.
const SECRET_HEADERS: &[&str] = &[
    "x-auth-token",
    "x-auth-client",
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// The headers as name/value pairs with every secret replaced by `<redacted>`.
pub(crate) fn redacted_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let name = name.as_str().to_ascii_lowercase();
            let value = if SECRET_HEADERS.contains(&name.as_str()) {
                crate::capture::REDACTED.to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name, value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn redacts_secret_headers() {
        let mut h = HeaderMap::new();
        h.insert("X-Auth-Token", HeaderValue::from_static("s3cret"));
        h.insert("X-Rate-Limit-Requests-Left", HeaderValue::from_static("5"));
        let pairs = redacted_headers(&h);
        assert!(pairs.contains(&("x-auth-token".to_owned(), "<redacted>".to_owned())));
        assert!(pairs.contains(&("x-rate-limit-requests-left".to_owned(), "5".to_owned())));
        assert!(!format!("{pairs:?}").contains("s3cret"));
    }
}
