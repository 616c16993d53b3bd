//! The client: configuration, the HTTP connection pool, and `send`, the one path every
//! request takes: pacer admission (the quota and the in-flight limit), the attempt, the
//! retry decision, stats and the observer. Clones share one pacer and one set of stats, so
//! a whole sync stays inside the store's quota however many tasks it runs.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use parking_lot::Mutex;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::time::Instant;

use crate::capture::{CaptureOptions, Captured, capture_body};
use crate::error::{Error, Result, TransportKind};
use crate::observer::{RequestEvent, RequestObserver, redacted_headers};
use crate::pacing::{Pacer, RateLimitHeaders};
use crate::pagination::{self, DeferredPage, Page};
use crate::request::{self, ApiRequest, ApiResponse, ApiVersion, check_json_body, parse_json_body};
use crate::retry::{self, Decision, Outcome, RetryPolicy};

/// The public API host.
pub const DEFAULT_BASE_URL: &str = "https://api.bigcommerce.com";

/// How to reach a store and how patiently.
#[derive(Clone)]
pub struct ClientConfig {
    pub store_hash: String,
    pub access_token: SecretString,
    /// `https://api.bigcommerce.com`, or `http://127.0.0.1:PORT` for the sandbox.
    pub base_url: String,
    /// BigCommerce asks integrations to identify themselves (docs/api-notes.md §0.1).
    pub user_agent: String,
    /// Whole-request timeout, body included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    pub retry_base_delay: Duration,
    pub retry_max_delay: Duration,
    /// The most requests in flight at once across all clones of the client. How many
    /// actually go is the pacer's: enough to spend the store's quota at the latency it
    /// sees, at least [`crate::pacing::BASE_IN_FLIGHT`] (see [`Client::in_flight_limit`]).
    pub max_concurrency: usize,
    /// The longest one retry may wait. `None` (the default) waits whatever the store asks.
    /// An interactive caller (an MCP tool call) sets it: a retry that would wait longer ends
    /// the request with its error instead, a 429 carrying the wait it asked for
    /// ([`Error::retry_after`]), so the caller can report "retry after N s" instead of
    /// sleeping for minutes.
    pub max_retry_wait: Option<Duration>,
}

impl ClientConfig {
    /// Defaults for a live store: 30 s timeout, 8 retries from 1 s up to 60 s, at most 32
    /// requests in flight (a Pro store answering in 1.5 s needs about 30 to spend its
    /// quota).
    pub fn new(store_hash: impl Into<String>, access_token: SecretString) -> Self {
        Self {
            store_hash: store_hash.into(),
            access_token,
            base_url: DEFAULT_BASE_URL.to_owned(),
            user_agent: format!(
                "bcsync/{} (+https://github.com/bcsync/bcsync)",
                env!("CARGO_PKG_VERSION")
            ),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_retries: 8,
            retry_base_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(60),
            max_concurrency: 32,
            max_retry_wait: None,
        }
    }

    /// Points the client elsewhere (the sandbox).
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.max_retries,
            base_delay: self.retry_base_delay,
            max_delay: self.retry_max_delay,
        }
    }
}

// Written by hand so the token can never be printed.
impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("store_hash", &self.store_hash)
            .field("access_token", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("user_agent", &self.user_agent)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_base_delay", &self.retry_base_delay)
            .field("retry_max_delay", &self.retry_max_delay)
            .field("max_concurrency", &self.max_concurrency)
            .field("max_retry_wait", &self.max_retry_wait)
            .finish()
    }
}

/// The store's rate limit as last seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitSnapshot {
    /// `X-Rate-Limit-Requests-Quota`: requests per window.
    pub quota: Option<u32>,
    /// `X-Rate-Limit-Requests-Left` of the last response that had it.
    pub left: Option<u32>,
    /// `X-Rate-Limit-Time-Window-Ms`.
    pub window: Option<Duration>,
    /// Time until the window resets, counted down from the last response's
    /// `X-Rate-Limit-Time-Reset-Ms`.
    pub reset: Option<Duration>,
    /// Requests the pacer will still start in this window (`None` unless limited).
    pub budget: Option<u32>,
    pub in_flight: u32,
    /// Requests the pacer lets go at once now ([`Client::in_flight_limit`]).
    pub in_flight_limit: u32,
    /// How long answers take, smoothed; `None` before the first.
    pub latency: Option<Duration>,
    /// Remaining pause after a 429.
    pub paused_for: Option<Duration>,
    /// The store sends no rate-limit headers (unlimited plan).
    pub unlimited: bool,
}

/// Counters over the client's lifetime (all clones together).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Attempts sent, retries included.
    pub requests: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// Responses by HTTP status.
    pub responses_by_status: BTreeMap<u16, u64>,
    /// 429 responses.
    pub rate_limited: u64,
    /// Attempts that got no usable response.
    pub transport_errors: u64,
    /// Response body bytes received (after decompression).
    pub bytes_received: u64,
    /// Request body bytes sent.
    pub bytes_sent: u64,
    /// Time requests spent waiting for the pacer, summed over requests.
    pub pacing_wait: Duration,
}

struct Inner {
    config: ClientConfig,
    http: reqwest::Client,
    token_header: HeaderValue,
    pacer: Arc<Pacer>,
    stats: Arc<Mutex<ClientStats>>,
    /// Whether any attempt of this client (or a clone) has had an HTTP answer from the
    /// host: until then a refused connection means a wrong base URL, not a blip.
    host_reached: Arc<AtomicBool>,
    observer: Option<Arc<dyn RequestObserver>>,
    /// Headers and bodies for the observer: `None` (the default) keeps them out.
    capture: Option<Arc<CaptureOptions>>,
}

/// The BigCommerce API client. Cheap to clone; clones share pacing, the concurrency cap
/// and stats.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("store_hash", &self.inner.config.store_hash)
            .field("base_url", &self.inner.config.base_url)
            .field("observer", &self.inner.observer.is_some())
            .finish_non_exhaustive()
    }
}

/// The raw result of one attempt, before the retry decision.
enum AttemptResult {
    Response {
        status: u16,
        headers: HeaderMap,
        body: Bytes,
    },
    Failed {
        kind: TransportKind,
        cause: String,
        /// The innermost cause alone, e.g. `Connection refused (os error 111)`.
        root_cause: String,
    },
}

impl Client {
    /// Builds a client. Fails only on bad configuration (no request is sent).
    pub fn new(config: ClientConfig) -> Result<Self> {
        let hash = config.store_hash.trim();
        if hash.is_empty() || hash.contains(['/', '?', '#', ' ']) {
            return Err(Error::Config(format!(
                "store hash {:?} is not valid; use the short code after /stores/ in the API path \
                 (set BIGCOMMERCE_STORE_HASH)",
                config.store_hash
            )));
        }
        let token = config.access_token.expose_secret().trim();
        if token.is_empty() {
            return Err(Error::Config(
                "the access token is empty; set BIGCOMMERCE_ACCESS_TOKEN".to_owned(),
            ));
        }
        let mut token_header = HeaderValue::from_str(token).map_err(|_| {
            Error::Config("the access token contains characters not allowed in a header; check BIGCOMMERCE_ACCESS_TOKEN".to_owned())
        })?;
        token_header.set_sensitive(true);
        if config.max_concurrency == 0 {
            return Err(Error::Config(
                "max_concurrency must be at least 1".to_owned(),
            ));
        }
        let base = reqwest::Url::parse(&config.base_url).map_err(|e| {
            Error::Config(format!(
                "base URL {:?} is not a URL ({e}); use e.g. {DEFAULT_BASE_URL}",
                config.base_url
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "base URL {:?} must start with https:// or http://",
                config.base_url
            )));
        }

        let mut default_headers = HeaderMap::new();
        default_headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .default_headers(default_headers)
            .gzip(true)
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .pool_max_idle_per_host(config.max_concurrency)
            .tcp_nodelay(true)
            // Never follow redirects: the token is a custom header that reqwest would
            // forward to any host, and a redirected POST silently becomes a GET. The API
            // does not redirect in normal use (docs/api-notes.md §0.2: 301 means "not https" or a
            // moved route), so a 3xx is reported as an error instead.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;

        let config = ClientConfig {
            store_hash: hash.to_owned(),
            ..config
        };
        Ok(Self {
            inner: Arc::new(Inner {
                pacer: Pacer::new(u32::try_from(config.max_concurrency).unwrap_or(u32::MAX)),
                config,
                http,
                token_header,
                stats: Arc::new(Mutex::new(ClientStats::default())),
                host_reached: Arc::new(AtomicBool::new(false)),
                observer: None,
                capture: None,
            }),
        })
    }

    /// Returns a client that reports every attempt to `observer`. It still shares the
    /// pacer, the concurrency cap, the stats and the connection pool with `self` and its
    /// clones; clones made from the result keep the observer.
    pub fn with_observer(self, observer: Arc<dyn RequestObserver>) -> Self {
        let capture = self.inner.capture.clone();
        self.sharing(Some(observer), capture)
    }

    /// Returns a client whose observer events carry the request's headers and body and the
    /// response's body (see [`crate::capture`] for what is redacted), or none of them with
    /// `None`. Shares everything else as [`Client::with_observer`] does.
    pub fn with_capture(self, capture: Option<CaptureOptions>) -> Self {
        let observer = self.inner.observer.clone();
        self.sharing(observer, capture.map(Arc::new))
    }

    /// A client sharing pacing, the concurrency cap, stats and connections with `self`.
    fn sharing(
        &self,
        observer: Option<Arc<dyn RequestObserver>>,
        capture: Option<Arc<CaptureOptions>>,
    ) -> Self {
        let shared = &self.inner;
        Self {
            inner: Arc::new(Inner {
                config: shared.config.clone(),
                http: shared.http.clone(),
                token_header: shared.token_header.clone(),
                pacer: Arc::clone(&shared.pacer),
                stats: Arc::clone(&shared.stats),
                host_reached: Arc::clone(&shared.host_reached),
                observer,
                capture,
            }),
        }
    }

    pub fn store_hash(&self) -> &str {
        &self.inner.config.store_hash
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Reads a user-written request target against this client's store and host (see
    /// [`request::parse_target`]): URLs on other hosts and other stores' paths are refused.
    pub fn target(&self, target: &str) -> Result<request::Target> {
        request::parse_target(
            &self.inner.config.base_url,
            &self.inner.config.store_hash,
            target,
        )
    }

    /// The store's rate limit as last seen.
    pub fn rate_limit(&self) -> RateLimitSnapshot {
        self.inner.pacer.snapshot()
    }

    /// Requests worth keeping on the wire now: the store's quota rate times the latency
    /// seen, with headroom, within the client's cap (docs/api-notes.md §0.7). Readers and
    /// writers that pipeline requests size their pipelines by it; the pacer enforces it.
    pub fn in_flight_limit(&self) -> usize {
        self.inner.pacer.in_flight_limit() as usize
    }

    /// Counters so far.
    pub fn stats(&self) -> ClientStats {
        self.inner.stats.lock().clone()
    }

    /// A GET.
    pub async fn get(
        &self,
        version: ApiVersion,
        path: &str,
        query: &[(String, String)],
    ) -> Result<ApiResponse> {
        let mut req = ApiRequest::get(version, path);
        req.query = query.to_vec();
        self.send(req).await
    }

    /// One V3 offset page (`page` is 1-based).
    pub async fn v3_page(
        &self,
        path: &str,
        query: &[(String, String)],
        page: u32,
        limit: u32,
    ) -> Result<Page<Value>> {
        self.offset_page(ApiVersion::V3, path, query, page, limit)
            .await?
            .parse()
    }

    /// One offset page of either version (V3 `page`/`limit`, V2 likewise) with its JSON
    /// left unparsed until [`DeferredPage::parse`]: for readers that keep many requests in
    /// flight (see [`DeferredPage`]). [`Client::v3_page`] and [`Client::v2_page`] are this,
    /// parsed at once.
    pub async fn offset_page(
        &self,
        version: ApiVersion,
        path: &str,
        query: &[(String, String)],
        page: u32,
        limit: u32,
    ) -> Result<DeferredPage> {
        pagination::check_limit(limit)?;
        let mut req = ApiRequest::get(version, path).deferred();
        req.query = query.to_vec();
        request::set_query(&mut req.query, "page", page.max(1).to_string());
        request::set_query(&mut req.query, "limit", limit.to_string());
        let response = self.send(req).await?;
        Ok(DeferredPage {
            response,
            version,
            path: request::display_path(version, path),
            page: page.max(1),
            limit,
        })
    }

    /// One V3 cursor page: the first when `after` is `None`, else the page after that
    /// cursor (a page's `meta.end_cursor`).
    pub async fn v3_cursor_page(
        &self,
        path: &str,
        query: &[(String, String)],
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Value>> {
        pagination::check_limit(limit)?;
        let mut q = query.to_vec();
        // `page` is ignored with a cursor anyway; drop it so the request says what it means.
        q.retain(|(k, _)| k != "page" && k != "after" && k != "before");
        request::set_query(&mut q, "limit", limit.to_string());
        if let Some(cursor) = after {
            q.push(("after".to_owned(), cursor.to_owned()));
        }
        let resp = self.get(ApiVersion::V3, path, &q).await?;
        pagination::parse_v3_cursor(resp, &request::display_path(ApiVersion::V3, path), limit)
    }

    /// One V2 page (`page` is 1-based). A 204 or empty body is an empty final page.
    pub async fn v2_page(
        &self,
        path: &str,
        query: &[(String, String)],
        page: u32,
        limit: u32,
    ) -> Result<Page<Value>> {
        self.offset_page(ApiVersion::V2, path, query, page, limit)
            .await?
            .parse()
    }

    /// All V3 offset pages, lazily (one request per poll). Ends after the first error.
    pub fn v3_pages(
        &self,
        path: &str,
        query: Vec<(String, String)>,
        limit: u32,
    ) -> impl Stream<Item = Result<Page<Value>>> + Send + 'static {
        pagination::v3_offset_stream(self.clone(), path.to_owned(), query, limit)
    }

    /// All V3 cursor pages, lazily. Ends after the first error.
    pub fn v3_cursor_pages(
        &self,
        path: &str,
        query: Vec<(String, String)>,
        limit: u32,
    ) -> impl Stream<Item = Result<Page<Value>>> + Send + 'static {
        pagination::v3_cursor_stream(self.clone(), path.to_owned(), query, limit)
    }

    /// All V2 pages, lazily, until a 204, `[]` or a short page. Ends after the first error.
    pub fn v2_pages(
        &self,
        path: &str,
        query: Vec<(String, String)>,
        limit: u32,
    ) -> impl Stream<Item = Result<Page<Value>>> + Send + 'static {
        pagination::v2_stream(self.clone(), path.to_owned(), query, limit)
    }

    /// Sends one request with pacing and retries. Statuses below 400 are returned;
    /// anything else becomes a typed [`Error`].
    pub async fn send(&self, req: ApiRequest) -> Result<ApiResponse> {
        let inner = &self.inner;
        let url = request::build_url(
            &inner.config.base_url,
            &inner.config.store_hash,
            req.version,
            &req.path,
            &req.query,
        )?;
        let display_path = req.display_path();
        let method = req.method.as_str().to_owned();
        let body = match &req.body {
            Some(v) => Some(Bytes::from(serde_json::to_vec(v).map_err(|e| {
                Error::Config(format!(
                    "{method} {display_path}: the request body cannot be encoded as JSON: {e}"
                ))
            })?)),
            None => None,
        };
        // Redacted once per request, not per attempt: every attempt sends the same body.
        let captured_request = self.capture_request(&url, body.as_deref());
        let policy = inner.config.retry_policy();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let (ticket, waited) = inner.pacer.admit().await;
            let started = Instant::now();
            let result = self.attempt(&req, &url, body.clone()).await;
            let duration = started.elapsed();
            match &result {
                AttemptResult::Response {
                    status, headers, ..
                } => {
                    inner.host_reached.store(true, Ordering::Relaxed);
                    let rate = RateLimitHeaders::parse(headers);
                    ticket.finish(Some(&rate), *status < 400);
                }
                AttemptResult::Failed { .. } => ticket.finish(None, false),
            }

            let capture = captured_request.as_ref().map(|request| {
                let mut c = request.clone();
                if let (AttemptResult::Response { body, .. }, Some(options)) =
                    (&result, &inner.capture)
                {
                    c.response_body = capture_body(body, options, self.token());
                }
                c
            });
            let (classified, status, headers) = classify(result, req.defer_parse);
            self.record(
                waited,
                status,
                body.as_ref().map_or(0, Bytes::len),
                &classified,
            );
            let context = AttemptContext {
                method: &method,
                path: &display_path,
                base_url: &inner.config.base_url,
                idempotent: req.idempotent,
                host_reached: inner.host_reached.load(Ordering::Relaxed),
                attempt,
                policy: &policy,
            };
            let next = match next_step(classified, &context) {
                // Too long a wait for this caller: fail now, saying how long it would be.
                // The pause still applies to everyone, so the next call sees it at once.
                Next::Retry {
                    after,
                    error,
                    pause_everyone,
                } if inner.config.max_retry_wait.is_some_and(|max| after > max) => {
                    if pause_everyone {
                        inner.pacer.pause_until(Instant::now() + after);
                    }
                    Next::Fail(error.with_retry_after(after))
                }
                next => next,
            };

            if let Some(observer) = &inner.observer {
                let (error, will_retry) = match &next {
                    Next::Return(_) => (None, false),
                    Next::Retry { error, .. } => (Some(error.to_string()), true),
                    Next::Fail(error) => (Some(error.to_string()), false),
                };
                observer.on_event(&RequestEvent {
                    method: method.clone(),
                    url_path: url.path().to_owned(),
                    query: url.query().unwrap_or("").to_owned(),
                    status,
                    attempt,
                    duration,
                    error,
                    headers: headers.as_ref().map(redacted_headers).unwrap_or_default(),
                    will_retry,
                    capture,
                });
            }

            match next {
                Next::Return(response) => {
                    tracing::debug!(%method, path = %display_path, status = response.status, attempt, ?duration, "BigCommerce request done");
                    return Ok(response);
                }
                Next::Fail(error) => {
                    tracing::debug!(%method, path = %display_path, attempt, %error, "BigCommerce request failed");
                    return Err(error);
                }
                Next::Retry {
                    after,
                    error,
                    pause_everyone,
                } => {
                    if pause_everyone {
                        inner.pacer.pause_until(Instant::now() + after);
                    }
                    // One short line per retry; the full error (body, cause chain) is at
                    // debug level for whoever needs it.
                    tracing::warn!(
                        "{}",
                        retry::log_line(
                            &method,
                            &display_path,
                            &retry_reason(status, &error),
                            attempt,
                            policy.max_retries + 1,
                            after,
                        )
                    );
                    tracing::debug!(%method, path = %display_path, attempt, %error, "retry cause");
                    inner.stats.lock().retries += 1;
                    tokio::time::sleep(after).await;
                }
            }
        }
    }

    /// The access token's text, only to scrub it from captured bodies.
    fn token(&self) -> &str {
        self.inner.token_header.to_str().unwrap_or_default()
    }

    /// The request's side of a capture (the headers [`Client::attempt`] and the HTTP
    /// client's defaults send, body redacted), when capture is on and someone observes.
    fn capture_request(&self, url: &reqwest::Url, body: Option<&[u8]>) -> Option<Captured> {
        let inner = &self.inner;
        let options = inner
            .capture
            .as_ref()
            .filter(|_| inner.observer.is_some())?;
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if let Ok(agent) = HeaderValue::from_str(&inner.config.user_agent) {
            headers.insert(reqwest::header::USER_AGENT, agent);
        }
        headers.insert("x-auth-token", inner.token_header.clone());
        if body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        // The host, as the request line would name it (never a secret).
        if let Some(host) = url.host_str()
            && let Ok(v) = HeaderValue::from_str(&match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            })
        {
            headers.insert(reqwest::header::HOST, v);
        }
        Some(Captured {
            request_headers: redacted_headers(&headers),
            request_body: body.and_then(|b| capture_body(b, options, self.token())),
            response_body: None,
        })
    }

    /// Sends one attempt and reads the whole body.
    async fn attempt(
        &self,
        req: &ApiRequest,
        url: &reqwest::Url,
        body: Option<Bytes>,
    ) -> AttemptResult {
        let inner = &self.inner;
        let mut builder = inner
            .http
            .request(req.method.clone(), url.clone())
            .header("X-Auth-Token", inner.token_header.clone());
        if let Some(bytes) = body {
            builder = builder
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(bytes);
        }
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => {
                return AttemptResult::Failed {
                    kind: transport_kind(&e, false),
                    cause: error_chain(&e),
                    root_cause: root_cause(&e),
                };
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        match response.bytes().await {
            Ok(body) => AttemptResult::Response {
                status,
                headers,
                body,
            },
            Err(e) => AttemptResult::Failed {
                kind: transport_kind(&e, true),
                cause: error_chain(&e),
                root_cause: root_cause(&e),
            },
        }
    }

    fn record(&self, waited: Duration, status: Option<u16>, sent: usize, classified: &Classified) {
        let mut stats = self.inner.stats.lock();
        stats.requests += 1;
        stats.pacing_wait += waited;
        stats.bytes_sent += sent as u64;
        if let Some(s) = status {
            *stats.responses_by_status.entry(s).or_default() += 1;
            if s == 429 {
                stats.rate_limited += 1;
            }
        }
        match classified {
            Classified::Transport { .. } => stats.transport_errors += 1,
            Classified::Success { body_len, .. } => stats.bytes_received += *body_len as u64,
            Classified::Status { body, .. } => stats.bytes_received += body.len() as u64,
            Classified::Decode { .. } => {}
        }
    }
}

/// An attempt sorted for the retry decision.
enum Classified {
    Success {
        status: u16,
        headers: HeaderMap,
        body: Option<Value>,
        /// The body unparsed, when the request deferred its parse.
        raw: Option<Bytes>,
        body_len: usize,
    },
    Status {
        status: u16,
        headers: HeaderMap,
        body: Bytes,
    },
    Transport {
        kind: TransportKind,
        cause: String,
        root_cause: String,
    },
    Decode {
        status: u16,
        message: String,
    },
}

/// What `send` does after an attempt.
enum Next {
    Return(ApiResponse),
    Retry {
        after: Duration,
        /// Why, for logs and the observer.
        error: Error,
        /// A 429 for a spent quota (or platform load) refuses everyone: hold every
        /// request of this client until `after`, not just this one.
        pause_everyone: bool,
    },
    Fail(Error),
}

/// The facts about an attempt that the decision needs besides its result.
struct AttemptContext<'a> {
    method: &'a str,
    path: &'a str,
    base_url: &'a str,
    idempotent: bool,
    /// Whether the host has ever answered this client (see [`retry::decide`]).
    host_reached: bool,
    attempt: u32,
    policy: &'a RetryPolicy,
}

/// Turns a sorted attempt into the next step, asking [`retry::decide`] about failures.
fn next_step(classified: Classified, cx: &AttemptContext<'_>) -> Next {
    let decide = |outcome: &Outcome<'_>| {
        retry::decide(
            cx.idempotent,
            cx.host_reached,
            outcome,
            cx.attempt,
            cx.policy,
            rand::random::<f64>(),
        )
    };
    let (decision, error, pause_everyone) = match classified {
        Classified::Success {
            status,
            headers,
            body,
            raw,
            ..
        } => {
            return Next::Return(ApiResponse {
                status,
                headers,
                body,
                raw,
            });
        }
        Classified::Status {
            status,
            headers,
            body,
        } => {
            let decision = decide(&Outcome::Status {
                status,
                headers: &headers,
            });
            let location = headers.get(LOCATION).and_then(|v| v.to_str().ok());
            let error = Error::from_status(status, cx.method, cx.path, &body, cx.attempt)
                .with_redirect_location(location);
            // A concurrency-cap 429 (requests still left) only delays this request.
            let pause = status == 429 && RateLimitHeaders::parse(&headers).quota_exhausted();
            (decision, error, pause)
        }
        Classified::Transport {
            kind,
            cause,
            root_cause,
        } => {
            let decision = decide(&Outcome::Transport(kind));
            // The decision refused to retry a connect error only because the host has
            // never answered: say so, naming the URL, instead of a generic network error.
            let never_reached = kind == TransportKind::Connect && !cx.host_reached;
            let error = if decision == Decision::Fail && never_reached {
                Error::Unreachable {
                    base_url: cx.base_url.to_owned(),
                    cause: root_cause,
                }
            } else {
                Error::Transport {
                    method: cx.method.to_owned(),
                    path: cx.path.to_owned(),
                    attempts: cx.attempt,
                    kind,
                    cause,
                }
            };
            (decision, error, false)
        }
        Classified::Decode { status, message } => {
            let error = Error::Decode {
                method: cx.method.to_owned(),
                path: cx.path.to_owned(),
                status,
                message,
            };
            (Decision::Fail, error, false)
        }
    };
    match decision {
        Decision::Retry { after } => Next::Retry {
            after,
            error,
            pause_everyone,
        },
        Decision::Fail => Next::Fail(error),
    }
}

/// Sorts an attempt's result, also returning the status and headers for the observer.
fn classify(result: AttemptResult, defer: bool) -> (Classified, Option<u16>, Option<HeaderMap>) {
    match result {
        AttemptResult::Failed {
            kind,
            cause,
            root_cause,
        } => (
            Classified::Transport {
                kind,
                cause,
                root_cause,
            },
            None,
            None,
        ),
        AttemptResult::Response {
            status,
            headers,
            body,
        } if status >= 300 && status != 304 => {
            let h = headers.clone();
            (
                Classified::Status {
                    status,
                    headers,
                    body,
                },
                Some(status),
                Some(h),
            )
        }
        AttemptResult::Response {
            status,
            headers,
            body,
        } => {
            let h = headers.clone();
            let body_len = body.len();
            let parsed = if defer {
                check_json_body(&body).map(|()| (None, Some(body)))
            } else {
                parse_json_body(&body).map(|value| (value, None))
            };
            let classified = match parsed {
                Ok((value, raw)) => Classified::Success {
                    status,
                    headers,
                    body: value,
                    raw,
                    body_len,
                },
                // JSON that stops mid-way is a body cut short in transit (a dropped
                // connection without a Content-Length): worth a retry for GETs.
                Err(e) if e.is_eof() => {
                    let cause = format!("the JSON body ended early after {} bytes: {e}", body_len);
                    Classified::Transport {
                        kind: TransportKind::TruncatedBody,
                        root_cause: cause.clone(),
                        cause,
                    }
                }
                Err(e) => Classified::Decode {
                    status,
                    message: format!("the body is not valid JSON: {e}"),
                },
            };
            (classified, Some(status), Some(h))
        }
    }
}

/// Sorts a reqwest error into what the retry decision needs. `reading_body` is true when
/// the headers had already arrived.
fn transport_kind(e: &reqwest::Error, reading_body: bool) -> TransportKind {
    if e.is_connect() {
        TransportKind::Connect
    } else if e.is_timeout() {
        TransportKind::Timeout
    } else if reading_body || e.is_body() || e.is_decode() {
        TransportKind::TruncatedBody
    } else if e.is_request() {
        TransportKind::ConnectionLost
    } else {
        TransportKind::Other
    }
}

/// Why an attempt is retried, in a few words: `HTTP 503`, or the transport failure's kind
/// (`connection lost`).
fn retry_reason(status: Option<u16>, error: &Error) -> String {
    match (status, error) {
        (Some(code), _) => format!("HTTP {code}"),
        (None, Error::Transport { kind, .. }) => kind.to_string(),
        (None, other) => other.to_string(),
    }
}

/// The innermost cause of a reqwest error (`Connection refused (os error 111)`, `failed
/// to lookup address information: ...`): the part a user can act on.
fn root_cause(e: &reqwest::Error) -> String {
    let mut last: &dyn std::error::Error = e;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string()
}

/// The error and its causes, `outer: inner: innermost` (reqwest's top-level message alone
/// rarely says what went wrong). URLs in it carry no token: the token is a header.
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ClientConfig {
        ClientConfig::new("abc123", SecretString::from("tok-very-secret"))
    }

    #[test]
    fn debug_never_shows_the_token() {
        let cfg = config();
        assert!(!format!("{cfg:?}").contains("tok-very-secret"));
        let client = Client::new(cfg).unwrap();
        assert!(!format!("{client:?}").contains("tok-very-secret"));
    }

    #[test]
    fn defaults_match_the_contract() {
        let cfg = config();
        assert_eq!(cfg.base_url, "https://api.bigcommerce.com");
        assert!(cfg.user_agent.starts_with("bcsync/"));
        assert_eq!(cfg.timeout, Duration::from_secs(30));
        assert_eq!(cfg.connect_timeout, Duration::from_secs(10));
        assert_eq!(cfg.max_retries, 8);
        assert_eq!(cfg.retry_base_delay, Duration::from_secs(1));
        assert_eq!(cfg.retry_max_delay, Duration::from_secs(60));
        assert_eq!(cfg.max_concurrency, 32);
        assert_eq!(
            cfg.with_base_url("http://127.0.0.1:1").base_url,
            "http://127.0.0.1:1"
        );
    }

    #[test]
    fn rejects_bad_configuration() {
        let bad_hash = ClientConfig::new("a/b", SecretString::from("t"));
        assert!(matches!(Client::new(bad_hash), Err(Error::Config(_))));
        let empty_token = ClientConfig::new("abc", SecretString::from(" "));
        assert!(matches!(Client::new(empty_token), Err(Error::Config(_))));
        let bad_url = config().with_base_url("ftp://x");
        assert!(matches!(Client::new(bad_url), Err(Error::Config(_))));
        let zero = ClientConfig {
            max_concurrency: 0,
            ..config()
        };
        assert!(matches!(Client::new(zero), Err(Error::Config(_))));
    }

    #[test]
    fn truncated_json_is_a_transport_failure_and_garbage_is_decode() {
        // The same whether the body is parsed on arrival or only checked (deferred).
        for defer in [false, true] {
            let cut = AttemptResult::Response {
                status: 200,
                headers: HeaderMap::new(),
                body: Bytes::from_static(b"[{\"id\": 1}, {\"id\""),
            };
            assert!(matches!(
                classify(cut, defer).0,
                Classified::Transport {
                    kind: TransportKind::TruncatedBody,
                    ..
                }
            ));
            let garbage = AttemptResult::Response {
                status: 200,
                headers: HeaderMap::new(),
                body: Bytes::from_static(b"<html>"),
            };
            assert!(matches!(
                classify(garbage, defer).0,
                Classified::Decode { .. }
            ));
            let empty = AttemptResult::Response {
                status: 204,
                headers: HeaderMap::new(),
                body: Bytes::new(),
            };
            assert!(matches!(
                classify(empty, defer).0,
                Classified::Success { body: None, .. }
            ));
        }
    }

    #[test]
    fn a_deferred_body_is_kept_as_it_arrived_and_parses_later() {
        let bytes = Bytes::from_static(b"[{\"id\": 1, \"b\": 2, \"a\": 3}]");
        let ok = AttemptResult::Response {
            status: 200,
            headers: HeaderMap::new(),
            body: bytes.clone(),
        };
        let Classified::Success { body, raw, .. } = classify(ok, true).0 else {
            panic!("not a success");
        };
        assert_eq!(body, None);
        assert_eq!(raw.as_ref(), Some(&bytes));
        let resp = ApiResponse {
            status: 200,
            headers: HeaderMap::new(),
            body,
            raw,
        }
        .parse_deferred("GET", "/v2/orders")
        .unwrap();
        assert_eq!(
            resp.body,
            Some(serde_json::json!([{"id": 1, "b": 2, "a": 3}]))
        );
        assert!(resp.raw.is_none());
    }
}
