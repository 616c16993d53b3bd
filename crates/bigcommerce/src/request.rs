//! What a caller asks for ([`ApiRequest`]) and what it gets back ([`ApiResponse`]), plus
//! the one place where a store-relative path and query become a URL.

use std::fmt;

use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::error::{Error, Result};

/// Which API generation a path belongs to: `/stores/{hash}/v2/...` or `/v3/...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    V2,
    V3,
}

impl ApiVersion {
    /// The path segment: `v2` or `v3`.
    pub fn segment(self) -> &'static str {
        match self {
            ApiVersion::V2 => "v2",
            ApiVersion::V3 => "v3",
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.segment())
    }
}

/// One API call. `idempotent` decides whether failures after the request may have reached
/// the server are retried (see [`crate::retry`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    pub method: Method,
    pub version: ApiVersion,
    /// Store-relative, with or without the leading slash: `/customers` or `customers`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    pub idempotent: bool,
    /// Keep the answer's JSON as bytes ([`ApiResponse::raw`]) instead of parsing it: the
    /// caller parses when it gets to the answer (see [`crate::pagination::DeferredPage`]).
    pub defer_parse: bool,
}

impl ApiRequest {
    fn new(
        method: Method,
        version: ApiVersion,
        path: impl Into<String>,
        body: Option<Value>,
        idempotent: bool,
    ) -> Self {
        Self {
            method,
            version,
            path: path.into(),
            query: Vec::new(),
            body,
            idempotent,
            defer_parse: false,
        }
    }

    /// A GET (idempotent).
    pub fn get(version: ApiVersion, path: impl Into<String>) -> Self {
        Self::new(Method::GET, version, path, None, true)
    }

    /// A POST: not idempotent, so it is retried only when it provably never reached the
    /// server (a connect error) or was refused with 429.
    pub fn post(version: ApiVersion, path: impl Into<String>, body: Value) -> Self {
        Self::new(Method::POST, version, path, Some(body), false)
    }

    /// A PUT (idempotent: sending the same state twice leaves the same state).
    pub fn put(version: ApiVersion, path: impl Into<String>, body: Value) -> Self {
        Self::new(Method::PUT, version, path, Some(body), true)
    }

    /// A DELETE (idempotent).
    pub fn delete(version: ApiVersion, path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, version, path, None, true)
    }

    /// A request with any method, for callers that take the method from a user (`bcsync
    /// api`). GET, HEAD, PUT and DELETE are idempotent (repeating them leaves the same
    /// state), so failures after sending are retried; POST and PATCH are not.
    pub fn with_method(
        method: Method,
        version: ApiVersion,
        path: impl Into<String>,
        body: Option<Value>,
    ) -> Self {
        let idempotent = matches!(
            method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE
        );
        Self::new(method, version, path, body, idempotent)
    }

    /// Appends one query parameter (keys such as `date_modified:min` or `id:in` are kept
    /// readable; values are percent-encoded).
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Leaves the answer's JSON unparsed ([`ApiResponse::raw`]); it is still checked to be
    /// whole JSON, so a body cut short in transit is retried as before.
    pub fn deferred(mut self) -> Self {
        self.defer_parse = true;
        self
    }

    /// Overrides the idempotency flag (e.g. a POST that is safe to repeat).
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// The store-relative path with its version: `/v3/customers`. Used in errors and logs.
    pub fn display_path(&self) -> String {
        display_path(self.version, &self.path)
    }
}

/// A successful (status < 400) answer.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: HeaderMap,
    /// `None` for 204 or an empty body, and while the parse is deferred.
    pub body: Option<Value>,
    /// The JSON as it arrived, when the request deferred its parse
    /// ([`ApiRequest::deferred`]); [`ApiResponse::parse_deferred`] turns it into `body`.
    pub raw: Option<Bytes>,
}

impl ApiResponse {
    /// Parses a deferred body into `body` (a no-op for a response parsed on arrival).
    pub fn parse_deferred(mut self, method: &str, path: &str) -> Result<Self> {
        if let Some(raw) = self.raw.take() {
            self.body = parse_json_body(&raw).map_err(|e| Error::Decode {
                method: method.to_owned(),
                path: path.to_owned(),
                status: self.status,
                message: format!("the body is not valid JSON: {e}"),
            })?;
        }
        Ok(self)
    }
}

/// `/v3/customers` from `(V3, "customers")` or `(V3, "/customers")`.
pub(crate) fn display_path(version: ApiVersion, path: &str) -> String {
    let trimmed = path.trim_start_matches('/');
    format!("/{}/{}", version.segment(), trimmed)
}

/// Characters left readable in query strings: RFC 3986 unreserved plus `:` and `,`, which
/// BigCommerce's own examples use unencoded (`id:in=1,2`, `date_modified:min=`). Both are
/// legal in a query component, so a server decodes either form the same way.
const QUERY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b':')
    .remove(b',');

/// `k=v&k2=v2`, percent-encoded.
pub(crate) fn encode_query(query: &[(String, String)]) -> String {
    query
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, QUERY_ENCODE),
                utf8_percent_encode(v, QUERY_ENCODE)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `{base}/stores/{hash}/{v}/{path}?{query}`, validated.
pub(crate) fn build_url(
    base_url: &str,
    store_hash: &str,
    version: ApiVersion,
    path: &str,
    query: &[(String, String)],
) -> Result<reqwest::Url> {
    if path.contains('?') || path.contains('#') {
        return Err(Error::Config(format!(
            "path {path:?} contains '?' or '#'; pass query parameters separately"
        )));
    }
    let mut url = format!(
        "{}/stores/{}{}",
        base_url.trim_end_matches('/'),
        store_hash,
        display_path(version, path)
    );
    if !query.is_empty() {
        url.push('?');
        url.push_str(&encode_query(query));
    }
    reqwest::Url::parse(&url).map_err(|e| {
        Error::Config(format!(
            "cannot build a URL for {path:?}: {e}; check base_url"
        ))
    })
}

/// A store request as a user writes it, split into what [`ApiRequest`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub version: ApiVersion,
    /// Store-relative, after the version: `/catalog/products/12`.
    pub path: String,
    /// Decoded query pairs (they are encoded again when the URL is built).
    pub query: Vec<(String, String)>,
}

/// Reads a request target: `/v3/catalog/products?sku=A1`, `v2/orders/5`,
/// `/stores/{hash}/v3/...`, or a full URL on the API host this client talks to. A URL on
/// any other host, another store's path, a path outside `/v2` and `/v3`, or one with `.`
/// or `..` segments is refused before anything is sent: the token must only ever travel
/// to the configured store.
pub fn parse_target(base_url: &str, store_hash: &str, target: &str) -> Result<Target> {
    let raw = target.trim();
    let example = "give a store path such as /v3/catalog/products or /v2/orders?status_id=11";
    if raw.is_empty() {
        return Err(Error::InvalidTarget(format!(
            "the request path is empty; {example}"
        )));
    }
    let relative = if raw.starts_with("//") || raw.contains("://") {
        let url = reqwest::Url::parse(if raw.starts_with("//") {
            // A scheme-relative URL names a host too.
            raw.trim_start_matches('/')
        } else {
            raw
        })
        .map_err(|e| Error::InvalidTarget(format!("{raw:?} is not a URL ({e}); {example}")))?;
        let base = reqwest::Url::parse(base_url)
            .map_err(|e| Error::Config(format!("base URL {base_url:?} is not a URL ({e})")))?;
        if url.origin() != base.origin() {
            return Err(Error::InvalidTarget(format!(
                "{raw} points at {}, not at the store's API host {}; requests go only to the \
                 configured store, so {example}",
                url.origin().ascii_serialization(),
                base.origin().ascii_serialization()
            )));
        }
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    } else {
        raw.to_owned()
    };
    if relative.contains('#') {
        return Err(Error::InvalidTarget(format!(
            "{raw:?} contains '#'; a store path has no fragment, so {example}"
        )));
    }
    let (path, query) = relative.split_once('?').unwrap_or((&relative, ""));
    let path = format!("/{}", path.trim_start_matches('/'));
    let path = match path.strip_prefix("/stores/") {
        Some(rest) => {
            let (hash, rest) = rest.split_once('/').unwrap_or((rest, ""));
            if hash != store_hash {
                return Err(Error::InvalidTarget(format!(
                    "{raw} names store {hash:?}, but this client is for store {store_hash:?}; \
                     leave out /stores/HASH and {example}"
                )));
            }
            format!("/{rest}")
        }
        None => path,
    };
    let (version, rest) = if let Some(rest) = path.strip_prefix("/v2/") {
        (ApiVersion::V2, rest)
    } else if let Some(rest) = path.strip_prefix("/v3/") {
        (ApiVersion::V3, rest)
    } else {
        return Err(Error::InvalidTarget(format!(
            "{raw:?} is not a store API path: it must start with /v2/ or /v3/; {example}"
        )));
    };
    let dot_segment = rest.split('/').any(|seg| {
        let decoded = percent_decode_str(seg).decode_utf8_lossy();
        decoded == "." || decoded == ".."
    });
    // URL parsers read a backslash as a slash, so `a\..\..` would climb out of the store's
    // path as `..` segments do; no store path contains one.
    let backslash = percent_decode_str(rest).decode_utf8_lossy().contains('\\');
    if rest.is_empty() || dot_segment || backslash {
        return Err(Error::InvalidTarget(format!(
            "{raw:?} has an empty resource, a backslash or a '.'/'..' segment; {example}"
        )));
    }
    let query = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (decode(k), decode(v))
        })
        .collect();
    Ok(Target {
        version,
        path: format!("/{}", rest.trim_end_matches('/')),
        query,
    })
}

/// Replaces (or adds) `key` in a query list, so paging never sends `page` twice.
pub(crate) fn set_query(query: &mut Vec<(String, String)>, key: &str, value: String) {
    query.retain(|(k, _)| k != key);
    query.push((key.to_owned(), value));
}

/// `None` for an empty body (204 and friends).
pub(crate) fn parse_json_body(
    body: &[u8],
) -> std::result::Result<Option<Value>, serde_json::Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    // The body checked as UTF-8 once, in one pass: parsing from bytes checks every string
    // on its own (a fiftieth of an extraction's CPU). Bytes that are not UTF-8 go to the
    // byte parser, whose error names the position.
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text).map(Some),
        Err(_) => serde_json::from_slice(body).map(Some),
    }
}

/// Checks that `body` is whole JSON (or empty) without building it: what a deferred parse
/// needs at arrival, so a body cut short is still caught while the request can be retried.
pub(crate) fn check_json_body(body: &[u8]) -> std::result::Result<(), serde_json::Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(body).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_urls_for_both_versions_and_path_styles() {
        let q = vec![
            ("id:in".to_owned(), "1,2".to_owned()),
            ("name".to_owned(), "a b&c".to_owned()),
        ];
        let url = build_url(
            "http://127.0.0.1:9/",
            "abc",
            ApiVersion::V3,
            "customers",
            &q,
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/stores/abc/v3/customers?id:in=1,2&name=a%20b%26c"
        );
        let url = build_url(
            "https://api.bigcommerce.com",
            "abc",
            ApiVersion::V2,
            "/orders",
            &[],
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.bigcommerce.com/stores/abc/v2/orders"
        );
    }

    #[test]
    fn rejects_query_in_path_and_bad_base() {
        assert!(build_url("http://x", "h", ApiVersion::V2, "/orders?page=2", &[]).is_err());
        assert!(build_url("not a url", "h", ApiVersion::V2, "/orders", &[]).is_err());
    }

    #[test]
    fn request_builders_set_idempotency() {
        assert!(ApiRequest::get(ApiVersion::V3, "/x").idempotent);
        assert!(!ApiRequest::post(ApiVersion::V3, "/x", Value::Null).idempotent);
        assert!(ApiRequest::put(ApiVersion::V3, "/x", Value::Null).idempotent);
        assert!(ApiRequest::delete(ApiVersion::V3, "/x").idempotent);
        let r = ApiRequest::post(ApiVersion::V2, "x", Value::Null)
            .idempotent(true)
            .query("a", "1");
        assert!(r.idempotent);
        assert_eq!(r.query, vec![("a".to_owned(), "1".to_owned())]);
        assert_eq!(r.display_path(), "/v2/x");
    }

    #[test]
    fn targets_stay_on_the_configured_store() {
        let base = "http://127.0.0.1:8700";
        let t = parse_target(base, "abc", "/v3/catalog/products?sku=A%201&id:in=1,2").unwrap();
        assert_eq!(t.version, ApiVersion::V3);
        assert_eq!(t.path, "/catalog/products");
        assert_eq!(
            t.query,
            vec![
                ("sku".to_owned(), "A 1".to_owned()),
                ("id:in".to_owned(), "1,2".to_owned())
            ]
        );
        let t = parse_target(base, "abc", "v2/orders/5/").unwrap();
        assert_eq!((t.version, t.path.as_str()), (ApiVersion::V2, "/orders/5"));
        let t = parse_target(base, "abc", "/stores/abc/v2/orders").unwrap();
        assert_eq!(t.path, "/orders");
        let t = parse_target(
            base,
            "abc",
            "http://127.0.0.1:8700/stores/abc/v3/customers?limit=1",
        )
        .unwrap();
        assert_eq!(t.path, "/customers");
        assert_eq!(t.query, vec![("limit".to_owned(), "1".to_owned())]);

        for bad in [
            "https://evil.example.com/stores/abc/v3/customers",
            "http://127.0.0.1:8701/stores/abc/v3/customers",
            "//evil.example.com/v3/customers",
            "/stores/other/v3/customers",
            "/v4/customers",
            "/customers",
            "",
            "/v3/",
            "/v3/catalog/../../x",
            "/v3/catalog/%2e%2e/x",
            "/v3/a\\..\\..\\stores\\other\\v3\\customers",
            "/v3/a%5C..%5Cx",
            "/v3/customers#x",
        ] {
            let e = parse_target(base, "abc", bad).unwrap_err();
            assert!(matches!(e, Error::InvalidTarget(_)), "{bad}: {e}");
        }
        let e = parse_target(base, "abc", "https://evil.example.com/v3/x").unwrap_err();
        assert!(e.to_string().contains("evil.example.com"), "{e}");
        assert!(e.to_string().contains("/v3/catalog/products"), "{e}");
    }

    #[test]
    fn any_method_is_idempotent_only_when_repeating_is_safe() {
        for (m, idem) in [
            (Method::GET, true),
            (Method::PUT, true),
            (Method::DELETE, true),
            (Method::POST, false),
            (Method::PATCH, false),
        ] {
            assert_eq!(
                ApiRequest::with_method(m.clone(), ApiVersion::V3, "/x", None).idempotent,
                idem,
                "{m}"
            );
        }
    }

    #[test]
    fn set_query_replaces_existing_key() {
        let mut q = vec![
            ("page".to_owned(), "1".to_owned()),
            ("limit".to_owned(), "5".to_owned()),
        ];
        set_query(&mut q, "page", "3".to_owned());
        assert_eq!(
            q,
            vec![
                ("limit".to_owned(), "5".to_owned()),
                ("page".to_owned(), "3".to_owned())
            ]
        );
    }
}
