//! The client: configuration, and `send`, the one path every request takes: the bucket's
//! pacer admission, the attempt (with the `api-key` header), the retry decision, stats.
//! Clones share the pacer, the stats and the connection pool, so a whole sync stays within
//! the account's allowance however many tasks it runs.
//!
//! The route methods below it (contacts, lists, events, e-commerce) only build requests
//! and read answers; batching lives in [`crate::batch`], paging in [`crate::pagination`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::batch::{self, ChunkLimits};
use crate::buckets::{Bucket, BucketLimits, bucket_for};
use crate::error::{ApiErrorBody, Error, Result, TransportKind};
use crate::model::*;
use crate::pacing::{Pacer, RateHeaders};
use crate::pagination::{self, PagedRoute, Pager};
use crate::retry::{self, Decision, Outcome, RetryPolicy};

/// Brevo's API root.
pub const DEFAULT_BASE_URL: &str = "https://api.brevo.com/v3";

/// Brevo refuses events whose `event_properties` exceed 50 KB (docs/brevo-api-notes.md
/// §4.1); read as decimal kilobytes, the smaller.
pub const MAX_EVENT_PROPERTIES_BYTES: usize = 50_000;

/// The header Brevo puts on every answer; worth logging when asking Brevo's support.
pub const HEADER_REQUEST_ID: &str = "sib-request-id";

/// How to reach Brevo and how patiently.
#[derive(Clone)]
pub struct ClientConfig {
    /// `https://api.brevo.com/v3`, or an emulator's `http://127.0.0.1:PORT/v3`.
    pub base_url: String,
    pub api_key: SecretString,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Whole-request timeout, body included.
    pub timeout: Duration,
    /// The first wait before polling an import process (the "other" bucket is small, so
    /// polls are few and back off).
    pub process_poll: Duration,
    /// The longest wait between two polls of a process.
    pub process_poll_max: Duration,
    pub connect_timeout: Duration,
    /// Backoff before the first retry (doubles each time, with jitter).
    pub retry_base_delay: Duration,
    /// Ceiling of the backoff.
    pub retry_max_delay: Duration,
    /// Each bucket's assumed allowance until the rate-limit headers say otherwise;
    /// buckets not listed get the general tier's.
    pub starting_limits: BTreeMap<Bucket, BucketLimits>,
    pub user_agent: String,
}

impl ClientConfig {
    /// Defaults for the live API: 30 s timeout, 5 retries from 1 s up to 60 s, the
    /// general tier's allowance, first process poll after 30 s.
    pub fn new(api_key: SecretString) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key,
            max_retries: 5,
            timeout: Duration::from_secs(30),
            process_poll: Duration::from_secs(30),
            process_poll_max: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            retry_base_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(60),
            starting_limits: BTreeMap::new(),
            user_agent: format!(
                "bcsync/{} (+https://github.com/bcsync/bcsync)",
                env!("CARGO_PKG_VERSION")
            ),
        }
    }

    /// Points the client elsewhere (an emulator); the URL includes `/v3`.
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The assumed allowance of a bucket before its headers are seen.
    pub fn starting_limits_for(&self, bucket: Bucket) -> BucketLimits {
        self.starting_limits
            .get(&bucket)
            .copied()
            .unwrap_or_else(|| bucket.general_tier())
    }

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.max_retries,
            base_delay: self.retry_base_delay,
            max_delay: self.retry_max_delay,
        }
    }
}

// Written by hand so the key can never be printed.
impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("max_retries", &self.max_retries)
            .field("timeout", &self.timeout)
            .field("process_poll", &self.process_poll)
            .field("process_poll_max", &self.process_poll_max)
            .field("connect_timeout", &self.connect_timeout)
            .field("retry_base_delay", &self.retry_base_delay)
            .field("retry_max_delay", &self.retry_max_delay)
            .field("starting_limits", &self.starting_limits)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

/// Counters over the client's lifetime (all clones together).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Attempts sent per bucket, retries included.
    pub requests: BTreeMap<Bucket, u64>,
    /// 429 answers per bucket.
    pub rate_limited: BTreeMap<Bucket, u64>,
    /// Requests that had to wait for their bucket's pacer, per bucket.
    pub paced: BTreeMap<Bucket, u64>,
    /// Attempts that were retries.
    pub retries: u64,
    /// Attempts that got no usable answer.
    pub transport_errors: u64,
}

impl ClientStats {
    /// Attempts over every bucket.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }

    /// 429s over every bucket.
    pub fn total_rate_limited(&self) -> u64 {
        self.rate_limited.values().sum()
    }
}

/// The last answer Brevo gave, for status displays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastResponse {
    pub status: u16,
    pub at: DateTime<Utc>,
    /// Relative to the API root, without the query: `/contacts/lists`.
    pub path: String,
}

struct Inner {
    config: ClientConfig,
    base_url: String,
    http: reqwest::Client,
    key_header: HeaderValue,
    pacer: Arc<Pacer>,
    stats: Mutex<ClientStats>,
    last: Mutex<Option<LastResponse>>,
    /// Whether any attempt has had an HTTP answer: until then a refused connection means
    /// a wrong base URL, not a blip.
    host_reached: AtomicBool,
}

/// The Brevo API client. Cheap to clone; clones share pacing, stats and connections.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .finish_non_exhaustive()
    }
}

/// One API call as the route methods describe it.
#[derive(Debug, Clone)]
struct Call {
    method: Method,
    /// Relative to the API root, path segments already encoded: `/contacts/a%40b.c`.
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
    /// Safe to send twice (see [`crate::retry`]).
    repeatable: bool,
}

impl Call {
    fn new(method: Method, path: impl Into<String>, repeatable: bool) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            repeatable,
        }
    }
    fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path, true)
    }
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_owned(), value.into()));
        self
    }
}

/// A success answer.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    /// `None` for 204 or an empty body.
    body: Option<Value>,
}

/// Characters left as they are in a path segment or query value: RFC 3986 unreserved.
/// Everything else is percent-encoded, so `+` becomes `%2B` (a raw `+` would be read as a
/// space, docs/brevo-api-notes.md §0.6) and `@` becomes `%40`.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// One path segment, percent-encoded.
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, ENCODE).to_string()
}

fn encode_query(query: &[(String, String)]) -> String {
    query
        .iter()
        .map(|(k, v)| format!("{}={}", encode_segment(k), encode_segment(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The raw result of one attempt.
enum Attempt {
    Answer {
        status: u16,
        headers: HeaderMap,
        body: Bytes,
    },
    Failed {
        kind: TransportKind,
        cause: String,
    },
}

impl Client {
    /// Builds a client. Fails only on bad configuration; nothing is sent.
    pub fn new(config: ClientConfig) -> Result<Self> {
        let key = config.api_key.expose_secret().trim();
        if key.is_empty() {
            return Err(Error::Config(
                "the Brevo API key is empty; set BREVO_API_KEY or [brevo] api_key to a v3 API key \
                 (Brevo > SMTP & API > API keys)"
                    .to_owned(),
            ));
        }
        let mut key_header = HeaderValue::from_str(key).map_err(|_| {
            Error::Config(
                "the Brevo API key contains characters not allowed in a header; copy it again \
                 into BREVO_API_KEY or [brevo] api_key"
                    .to_owned(),
            )
        })?;
        key_header.set_sensitive(true);
        let base = reqwest::Url::parse(&config.base_url).map_err(|e| {
            Error::Config(format!(
                "the Brevo base URL {:?} is not a URL ({e}); use {DEFAULT_BASE_URL}",
                config.base_url
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.query().is_some() {
            return Err(Error::Config(format!(
                "the Brevo base URL {:?} must be an http(s) URL without a query, such as \
                 {DEFAULT_BASE_URL}",
                config.base_url
            )));
        }
        let mut default_headers = HeaderMap::new();
        default_headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .default_headers(default_headers)
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            // Never follow redirects: the key is a custom header that would travel to
            // whatever host a redirect names.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        let pacer = Pacer::new(|b| config.starting_limits_for(b));
        Ok(Self {
            inner: Arc::new(Inner {
                base_url: config.base_url.trim_end_matches('/').to_owned(),
                config,
                http,
                key_header,
                pacer,
                stats: Mutex::new(ClientStats::default()),
                last: Mutex::new(None),
                host_reached: AtomicBool::new(false),
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Counters so far.
    pub fn stats(&self) -> ClientStats {
        self.inner.stats.lock().clone()
    }

    /// The last answer received (any status), if any.
    pub fn last_response(&self) -> Option<LastResponse> {
        self.inner.last.lock().clone()
    }

    /// Sends one call with pacing and retries. Statuses below 300 are returned; anything
    /// else becomes a typed [`Error`].
    async fn send(&self, call: &Call) -> Result<Reply> {
        let inner = &self.inner;
        let method = call.method.as_str().to_owned();
        let path = call.path.clone();
        let bucket = bucket_for(&method, &path);
        let mut url = format!("{}{}", inner.base_url, path);
        if !call.query.is_empty() {
            url.push('?');
            url.push_str(&encode_query(&call.query));
        }
        let url = reqwest::Url::parse(&url).map_err(|e| {
            Error::Config(format!(
                "cannot build a URL for {method} {path}: {e}; check the Brevo base URL"
            ))
        })?;
        let body = match &call.body {
            Some(v) => Some(Bytes::from(serde_json::to_vec(v).map_err(|e| {
                Error::Config(format!(
                    "{method} {path}: the request body cannot be encoded as JSON: {e}; report this"
                ))
            })?)),
            None => None,
        };
        let policy = inner.config.retry_policy();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let (ticket, waited) = inner.pacer.admit(bucket).await;
            let result = self.attempt(&call.method, &url, body.clone()).await;
            let rate = match &result {
                Attempt::Answer {
                    status, headers, ..
                } => {
                    inner.host_reached.store(true, Ordering::Relaxed);
                    let rate = RateHeaders::parse(headers);
                    ticket.finish(Some(&rate));
                    *inner.last.lock() = Some(LastResponse {
                        status: *status,
                        at: Utc::now(),
                        path: path.clone(),
                    });
                    let request_id = headers
                        .get(HEADER_REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::debug!(%method, %path, status, attempt, sib_request_id = request_id, "Brevo answered");
                    Some(rate)
                }
                Attempt::Failed { .. } => {
                    ticket.finish(None);
                    None
                }
            };
            {
                let mut stats = inner.stats.lock();
                *stats.requests.entry(bucket).or_default() += 1;
                if waited {
                    *stats.paced.entry(bucket).or_default() += 1;
                }
                match &result {
                    Attempt::Answer { status: 429, .. } => {
                        *stats.rate_limited.entry(bucket).or_default() += 1;
                    }
                    Attempt::Failed { .. } => stats.transport_errors += 1,
                    Attempt::Answer { .. } => {}
                }
            }
            let host_reached = inner.host_reached.load(Ordering::Relaxed);
            let jitter = rand::random::<f64>();
            let (decision, error) = match result {
                Attempt::Answer { status, body, .. } if status < 300 => {
                    return parse_body(&body)
                        .map(|body| Reply { status, body })
                        .map_err(|message| Error::Decode {
                            method,
                            path,
                            status,
                            message,
                        });
                }
                Attempt::Answer { status, body, .. } => {
                    let rate = rate.unwrap_or_default();
                    let outcome = Outcome::Status {
                        status,
                        rate: &rate,
                    };
                    let decision = retry::decide(
                        call.repeatable,
                        host_reached,
                        &outcome,
                        attempt,
                        &policy,
                        jitter,
                    );
                    if let (429, Decision::Retry { after }) = (status, decision) {
                        // The whole bucket was refused: hold all of its requests.
                        inner.pacer.pause_until(bucket, Instant::now() + after);
                    }
                    let error = Error::from_status(status, &method, &path, &body, bucket, attempt);
                    (decision, error)
                }
                Attempt::Failed { kind, cause } => {
                    let outcome = Outcome::Transport(kind);
                    let decision = retry::decide(
                        call.repeatable,
                        host_reached,
                        &outcome,
                        attempt,
                        &policy,
                        jitter,
                    );
                    let error = Error::Transport {
                        kind,
                        method: method.clone(),
                        path: path.clone(),
                        attempts: attempt,
                        cause,
                    };
                    (decision, error)
                }
            };
            match decision {
                Decision::Fail => {
                    tracing::debug!(%method, %path, attempt, %error, "Brevo request failed");
                    return Err(error);
                }
                Decision::Retry { after } => {
                    let reason = match error.status() {
                        Some(code) => format!("HTTP {code}"),
                        None => match &error {
                            Error::Transport { kind, .. } => kind.to_string(),
                            other => other.to_string(),
                        },
                    };
                    tracing::warn!(
                        "{}",
                        retry::log_line(
                            &method,
                            &path,
                            &reason,
                            attempt,
                            policy.max_retries + 1,
                            after
                        )
                    );
                    tracing::debug!(%method, %path, attempt, %error, "retry cause");
                    inner.stats.lock().retries += 1;
                    tokio::time::sleep(after).await;
                }
            }
        }
    }

    /// Sends one attempt and reads the whole body.
    async fn attempt(&self, method: &Method, url: &reqwest::Url, body: Option<Bytes>) -> Attempt {
        let inner = &self.inner;
        // Content-Type on every request, body or not: Brevo documents its absence as a
        // cause of 400 (docs/brevo-api-notes.md §0.1), and it is harmless on a GET.
        let mut builder = inner
            .http
            .request(method.clone(), url.clone())
            .header("api-key", inner.key_header.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(bytes) = body {
            builder = builder.body(bytes);
        }
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Failed {
                    kind: transport_kind(&e, false),
                    cause: error_chain(&e),
                };
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        match response.bytes().await {
            Ok(body) => Attempt::Answer {
                status,
                headers,
                body,
            },
            Err(e) => Attempt::Failed {
                kind: transport_kind(&e, true),
                cause: error_chain(&e),
            },
        }
    }

    /// Every page of a paged route, deduplicated by id.
    async fn all_pages(&self, call: Call, route: PagedRoute) -> Result<Vec<Value>> {
        let mut pager = Pager::new(route, route.max_limit);
        let mut out = Vec::new();
        while let Some((offset, limit)) = pager.next() {
            let page_call = call
                .clone()
                .query("limit", limit.to_string())
                .query("offset", offset.to_string());
            let reply = self.send(&page_call).await?;
            let page = pagination::parse_page(reply.body.as_ref(), route.collection).map_err(
                |message| Error::Decode {
                    method: call.method.to_string(),
                    path: call.path.clone(),
                    status: reply.status,
                    message,
                },
            )?;
            out.extend(pager.accept(page));
        }
        Ok(out)
    }

    async fn all_pages_as<T: DeserializeOwned>(
        &self,
        call: Call,
        route: PagedRoute,
    ) -> Result<Vec<T>> {
        let path = call.path.clone();
        let items = self.all_pages(call, route).await?;
        items
            .into_iter()
            .map(|item| decode(Some(item), "GET", &path, 200))
            .collect()
    }

    // ----- account (§6) -----

    /// `GET /account`: the connection check (a wrong key fails here in one request).
    pub async fn account(&self) -> Result<Account> {
        let reply = self.send(&Call::get("/account")).await?;
        let raw = reply.body.unwrap_or(Value::Null);
        let text = |k: &str| raw.get(k).and_then(Value::as_str).map(str::to_owned);
        Ok(Account {
            email: text("email").unwrap_or_default(),
            company_name: text("companyName"),
            raw,
        })
    }

    // ----- attributes (§2) -----

    /// Every contact attribute (the route is not paged).
    pub async fn attributes(&self) -> Result<Vec<Attribute>> {
        let path = "/contacts/attributes";
        let reply = self.send(&Call::get(path)).await?;
        let list = reply
            .body
            .as_ref()
            .and_then(|b| b.get("attributes"))
            .cloned()
            .unwrap_or(Value::Array(Vec::new()));
        decode(Some(list), "GET", path, reply.status)
    }

    /// Creates an attribute. Name it in upper case (`[A-Z0-9_]`): Brevo only maps
    /// upper-case keys on contact writes.
    pub async fn create_attribute(
        &self,
        category: AttributeCategory,
        name: &str,
        spec: &NewAttribute,
    ) -> Result<()> {
        let path = format!(
            "/contacts/attributes/{}/{}",
            category.segment(),
            encode_segment(name)
        );
        let mut body = to_value(spec)?;
        if !category.takes_type()
            && let Value::Object(map) = &mut body
        {
            // `type` is refused outside normal, category and transactional.
            map.remove("type");
        }
        self.send(&Call::new(Method::POST, path, false).body(body))
            .await?;
        Ok(())
    }

    // ----- folders and lists (§3) -----

    /// Every contact folder.
    pub async fn folders(&self) -> Result<Vec<Folder>> {
        self.all_pages_as(Call::get("/contacts/folders"), pagination::FOLDERS)
            .await
    }

    /// Creates a folder; returns its id.
    pub async fn create_folder(&self, name: &str) -> Result<i64> {
        let path = "/contacts/folders";
        let reply = self
            .send(&Call::new(Method::POST, path, false).body(json!({ "name": name })))
            .await?;
        created_id(reply, "POST", path)
    }

    /// Every contact list.
    pub async fn lists(&self) -> Result<Vec<List>> {
        self.all_pages_as(Call::get("/contacts/lists"), pagination::LISTS)
            .await
    }

    /// Creates a list in a folder; returns its id.
    pub async fn create_list(&self, name: &str, folder_id: i64) -> Result<i64> {
        let path = "/contacts/lists";
        let reply = self
            .send(
                &Call::new(Method::POST, path, false)
                    .body(json!({ "name": name, "folderId": folder_id })),
            )
            .await?;
        created_id(reply, "POST", path)
    }

    /// Adds existing contacts to a list, 150 a call. Entries already in the list or
    /// unknown come back in `failure`. Retried after a server error: a repeated add is
    /// harmless, its entries just come back as failures.
    pub async fn add_to_list(&self, list_id: i64, members: &Members) -> Result<MembershipChange> {
        self.change_membership(list_id, members, "add", true).await
    }

    /// Removes contacts from a list, 150 a call. Not retried after a server error (the
    /// first attempt may have been applied).
    pub async fn remove_from_list(
        &self,
        list_id: i64,
        members: &Members,
    ) -> Result<MembershipChange> {
        self.change_membership(list_id, members, "remove", false)
            .await
    }

    async fn change_membership(
        &self,
        list_id: i64,
        members: &Members,
        action: &str,
        repeatable: bool,
    ) -> Result<MembershipChange> {
        let path = format!("/contacts/lists/{list_id}/contacts/{action}");
        let mut total = MembershipChange::default();
        let values = members.wire_values();
        let limits = ChunkLimits::items(batch::LIST_MEMBERS_PER_CALL);
        for chunk in batch::chunks(&values, limits, 0, "list member")? {
            let entries: Vec<String> = chunk.iter().map(value_text).collect();
            let body = json!({ members.wire_key(): chunk });
            let call = Call::new(Method::POST, path.clone(), repeatable).body(body);
            match self.send(&call).await {
                Ok(reply) => {
                    let change = membership_change(reply.body.as_ref());
                    total.success.extend(change.success);
                    total.failure.extend(change.failure);
                }
                // "Contact already in list and/or does not exist": nothing in this call
                // could be applied (docs/brevo-api-notes.md §3). Keyed on the status and
                // code, never on the message.
                Err(Error::Api {
                    status: 400,
                    ref body,
                    ..
                }) if all_failed(body) => total.failure.extend(entries),
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }

    /// Every contact of a list.
    pub async fn list_contacts(&self, list_id: i64) -> Result<Vec<Contact>> {
        let call = Call::get(format!("/contacts/lists/{list_id}/contacts")).query("sort", "asc");
        self.all_pages_as(call, pagination::LIST_CONTACTS).await
    }

    // ----- contacts (§1) -----

    /// Creates or updates a contact (`updateEnabled`). A created contact comes back with
    /// its id; an update has none (Brevo answers 204). `unlink_list_ids`, which the create
    /// route does not take, is applied by a follow-up update of an existing contact.
    pub async fn upsert_contact(&self, contact: &ContactWrite) -> Result<Upserted> {
        let path = "/contacts";
        let mut write = contact.clone();
        write.email = write.email.as_deref().map(normalize_email);
        let unlink = std::mem::take(&mut write.unlink_list_ids);
        let mut body = to_value(&write)?;
        if let Value::Object(map) = &mut body {
            map.insert("updateEnabled".to_owned(), Value::Bool(true));
        }
        let reply = self
            .send(&Call::new(Method::POST, path, true).body(body))
            .await?;
        let upserted = match reply
            .body
            .as_ref()
            .and_then(|b| b.get("id"))
            .and_then(Value::as_i64)
        {
            Some(id) => Upserted::Created(id),
            None => Upserted::Updated,
        };
        if upserted == Upserted::Updated && !unlink.is_empty() {
            let key = match (&write.email, &write.ext_id) {
                (Some(email), _) => ContactKey::Email(email.clone()),
                (None, Some(ext)) => ContactKey::ExtId(ext.clone()),
                (None, None) => {
                    return Err(Error::Config(
                        "a contact upsert that unlinks lists needs an email or ext_id to find \
                         the contact again; give one"
                            .to_owned(),
                    ));
                }
            };
            let unlink_only = ContactWrite {
                unlink_list_ids: unlink,
                ..ContactWrite::default()
            };
            self.update_contact(&key, &unlink_only).await?;
        }
        Ok(upserted)
    }

    /// Updates an existing contact (`PUT`, never creates: an unknown contact is
    /// [`Error::NotFound`]). `email` is sent as the `EMAIL` attribute, which is how Brevo
    /// changes it, unless the key is that same email; Brevo clears the email blocklist
    /// flag on a change, so with an id or ext_id key give `email` only when it changes.
    pub async fn update_contact(&self, key: &ContactKey, contact: &ContactWrite) -> Result<()> {
        let mut attributes = contact.attributes.clone();
        // Keyed by the same email: nothing changes, and re-sending it could clear the
        // blocklist flag.
        if let Some(email) = contact.email.as_deref().map(normalize_email)
            && !(matches!(key, ContactKey::Email(_)) && key.identifier() == email)
        {
            attributes.insert("EMAIL".to_owned(), Value::String(email));
        }
        let ext_id = match (key, &contact.ext_id) {
            (ContactKey::ExtId(k), Some(x)) if k == x => None,
            (_, x) => x.clone(),
        };
        let mut body = Map::new();
        if !attributes.is_empty() {
            body.insert("attributes".into(), Value::Object(attributes));
        }
        if let Some(x) = ext_id {
            body.insert("ext_id".into(), Value::String(x));
        }
        if let Some(b) = contact.email_blacklisted {
            body.insert("emailBlacklisted".into(), Value::Bool(b));
        }
        if let Some(b) = contact.sms_blacklisted {
            body.insert("smsBlacklisted".into(), Value::Bool(b));
        }
        if !contact.list_ids.is_empty() {
            body.insert("listIds".into(), json!(contact.list_ids));
        }
        if !contact.unlink_list_ids.is_empty() {
            body.insert("unlinkListIds".into(), json!(contact.unlink_list_ids));
        }
        let call = contact_call(Method::PUT, key).body(Value::Object(body));
        self.send(&call).await?;
        Ok(())
    }

    /// One contact, or `None` when it does not exist.
    pub async fn contact(&self, key: &ContactKey) -> Result<Option<Contact>> {
        let call = contact_call(Method::GET, key);
        match self.send(&call).await {
            Ok(reply) => decode(reply.body, "GET", &call.path, reply.status).map(Some),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes a contact; `false` when it did not exist.
    pub async fn delete_contact(&self, key: &ContactKey) -> Result<bool> {
        match self.send(&contact_call(Method::DELETE, key)).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every contact matching the query, oldest first, deduplicated by id.
    pub async fn contacts(&self, query: &ContactQuery) -> Result<Vec<Contact>> {
        let mut call = Call::get("/contacts").query("sort", "asc");
        if let Some(since) = &query.modified_since {
            call = call.query("modifiedSince", format_timestamp(since));
        }
        // Repeated keys, as the generated SDKs send arrays (the encoding is not
        // documented; docs/brevo-api-notes.md §1.4).
        for id in &query.list_ids {
            call = call.query("listIds", id.to_string());
        }
        self.all_pages_as(call, pagination::CONTACTS).await
    }

    /// Starts bulk imports of `import.rows` (a `jsonBody` each, under 8 MB per call);
    /// returns the process ids, in order.
    pub async fn import_contacts(&self, import: &ContactImport) -> Result<Vec<i64>> {
        if import.rows.is_empty() {
            return Ok(Vec::new());
        }
        if import.list_ids.is_empty() {
            return Err(Error::Config(
                "a contact import needs at least one list id to put the contacts in; give \
                 list_ids"
                    .to_owned(),
            ));
        }
        let rows: Vec<ImportRow> = import
            .rows
            .iter()
            .map(|r| ImportRow {
                email: normalize_email(&r.email),
                attributes: r.attributes.clone(),
            })
            .collect();
        let envelope = |rows: &[ImportRow]| {
            json!({
                "jsonBody": rows,
                "listIds": import.list_ids,
                "emailBlacklist": import.email_blacklist,
                "updateExistingContacts": import.update_existing_contacts,
                "emptyContactsAttributes": import.empty_contacts_attributes,
            })
        };
        let envelope_bytes = encoded_len(&envelope(&[]))? - 2;
        let limits = ChunkLimits {
            max_items: usize::MAX,
            max_bytes: batch::IMPORT_MAX_BYTES,
        };
        let path = "/contacts/import";
        let mut ids = Vec::new();
        for chunk in batch::chunks(&rows, limits, envelope_bytes, "import row")? {
            let reply = self
                .send(&Call::new(Method::POST, path, false).body(envelope(chunk)))
                .await?;
            let id = reply
                .body
                .as_ref()
                .and_then(|b| b.get("processId"))
                .and_then(Value::as_i64)
                .ok_or_else(|| Error::Decode {
                    method: "POST".into(),
                    path: path.into(),
                    status: reply.status,
                    message: "the answer has no processId".into(),
                })?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// The state of a process.
    pub async fn process(&self, id: i64) -> Result<Process> {
        let path = format!("/processes/{id}");
        let reply = self.send(&Call::get(path.clone())).await?;
        decode(reply.body, "GET", &path, reply.status)
    }

    /// Polls a process until it finishes: first after `process_poll`, then backing off
    /// (doubling up to `process_poll_max`; its route is in the small "other" bucket).
    /// Failed or cancelled is [`Error::ProcessFailed`].
    pub async fn wait_for_process(&self, id: i64) -> Result<Process> {
        let mut delay = self.inner.config.process_poll;
        loop {
            tokio::time::sleep(delay).await;
            let process = self.process(id).await?;
            match process.status {
                ProcessStatus::Completed => return Ok(process),
                ProcessStatus::Failed | ProcessStatus::Cancelled => {
                    return Err(Error::ProcessFailed {
                        id,
                        name: process.name,
                        status: process.status.to_string(),
                        error: process.error,
                    });
                }
                _ => {
                    delay = (delay * 2)
                        .min(self.inner.config.process_poll_max)
                        .max(Duration::from_millis(1));
                }
            }
        }
    }

    // ----- events (§4) -----

    /// Sends one custom event (`POST /events`). Never retried after a server error: a
    /// repeated event is a second event.
    pub async fn send_event(&self, event: &Event) -> Result<()> {
        let properties = encoded_len(&Value::Object(event.event_properties.clone()))?;
        if properties > MAX_EVENT_PROPERTIES_BYTES {
            return Err(Error::TooLarge {
                what: format!("the properties of event {:?}", event.event_name),
                bytes: properties,
                limit: MAX_EVENT_PROPERTIES_BYTES,
            });
        }
        let mut event = event.clone();
        event.identifiers.email_id = event.identifiers.email_id.as_deref().map(normalize_email);
        let call = Call::new(Method::POST, "/events", false).body(to_value(&event)?);
        self.send(&call).await?;
        Ok(())
    }

    // ----- e-commerce (§5) -----

    /// Turns on the e-commerce app (Brevo needs a few minutes before the product, category
    /// and order routes accept calls).
    pub async fn activate_ecommerce(&self) -> Result<()> {
        self.send(&Call::new(Method::POST, "/ecommerce/activate", true))
            .await?;
        Ok(())
    }

    /// Upserts categories, 100 a call; the counts are summed.
    pub async fn upsert_categories(&self, categories: &[Category]) -> Result<BatchCounts> {
        self.batch_upsert(
            "/categories/batch",
            "categories",
            categories,
            batch::CATEGORIES_PER_CALL,
            "category",
        )
        .await
    }

    /// Upserts products, 100 a call; the counts are summed.
    pub async fn upsert_products(&self, products: &[Product]) -> Result<BatchCounts> {
        self.batch_upsert(
            "/products/batch",
            "products",
            products,
            batch::PRODUCTS_PER_CALL,
            "product",
        )
        .await
    }

    /// Creates or updates one product (`POST /products` with `updateEnabled`, an upsert by
    /// id: safe to repeat). It counts in the products bucket (2/s), not in the small shared
    /// one the batch route falls in, which is why a real-time sender uses it.
    pub async fn upsert_product(&self, product: &Product) -> Result<()> {
        let mut body = to_value(product)?;
        if let Value::Object(map) = &mut body {
            map.insert("updateEnabled".to_owned(), Value::Bool(true));
        }
        self.send(&Call::new(Method::POST, "/products", true).body(body))
            .await?;
        Ok(())
    }

    async fn batch_upsert<T: Serialize>(
        &self,
        path: &str,
        key: &str,
        items: &[T],
        per_call: usize,
        what: &str,
    ) -> Result<BatchCounts> {
        let mut total = BatchCounts::default();
        for chunk in batch::chunks(items, ChunkLimits::items(per_call), 0, what)? {
            let body = json!({ key: chunk, "updateEnabled": true });
            let reply = self
                .send(&Call::new(Method::POST, path, true).body(body))
                .await?;
            let counts: BatchCounts = match reply.body {
                Some(b) => decode(Some(b), "POST", path, reply.status)?,
                None => BatchCounts::default(),
            };
            total.created += counts.created;
            total.updated += counts.updated;
        }
        Ok(total)
    }

    /// Creates or updates one order (`/orders/status`, an upsert by id: safe to repeat).
    pub async fn upsert_order(&self, order: &Order) -> Result<()> {
        let body = to_value(&normalized_order(order))?;
        self.send(&Call::new(Method::POST, "/orders/status", true).body(body))
            .await?;
        Ok(())
    }

    /// Sends orders in batches of at most 1,000 orders and 5 MB. `historical` orders are
    /// stored as past data and fire no automations (Brevo's default is `true`). Historical
    /// batches are retried after a server error (an upsert by id); live ones are not, so
    /// automations never fire twice.
    pub async fn orders_batch(
        &self,
        orders: &[Order],
        historical: bool,
    ) -> Result<Vec<BatchAccepted>> {
        let orders: Vec<Order> = orders.iter().map(normalized_order).collect();
        let envelope_bytes = encoded_len(&json!({ "orders": [], "historical": historical }))? - 2;
        let limits = ChunkLimits {
            max_items: batch::ORDERS_PER_CALL,
            max_bytes: batch::ORDERS_MAX_BYTES,
        };
        let path = "/orders/status/batch";
        let mut out = Vec::new();
        for chunk in batch::chunks(&orders, limits, envelope_bytes, "order")? {
            let body = json!({ "orders": chunk, "historical": historical });
            let reply = self
                .send(&Call::new(Method::POST, path, historical).body(body))
                .await?;
            out.push(decode(reply.body, "POST", path, reply.status)?);
        }
        Ok(out)
    }

    /// Every product (for checks).
    pub async fn products(&self) -> Result<Vec<Value>> {
        self.all_pages(Call::get("/products"), pagination::PRODUCTS)
            .await
    }

    /// Every category (for checks).
    pub async fn categories(&self) -> Result<Vec<Value>> {
        self.all_pages(Call::get("/categories"), pagination::CATEGORIES)
            .await
    }

    /// Every order (for checks).
    pub async fn orders(&self) -> Result<Vec<Value>> {
        self.all_pages(Call::get("/orders"), pagination::ORDERS)
            .await
    }
}

/// `GET|PUT|DELETE /contacts/{identifier}?identifierType=...` (the type is always sent:
/// ext_id needs it, and it removes any guessing on Brevo's side).
fn contact_call(method: Method, key: &ContactKey) -> Call {
    let repeatable = true;
    Call::new(
        method,
        format!("/contacts/{}", encode_segment(&key.identifier())),
        repeatable,
    )
    .query("identifierType", key.identifier_type())
}

fn normalized_order(order: &Order) -> Order {
    let mut order = order.clone();
    order.identifiers.email_id = order.identifiers.email_id.as_deref().map(normalize_email);
    order
}

/// Whether a 400 from a list add/remove means "nothing here could be applied": Brevo's
/// `invalid_parameter` (or no code), without duplicate metadata.
fn all_failed(body: &ApiErrorBody) -> bool {
    body.code.is_none() || body.code_is("invalid_parameter")
}

/// A JSON scalar as text: `"a@b.c"` → `a@b.c`, `7` → `7`.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Reads `{"contacts": {"success": [...], "failure": [...]}}`, values as strings.
fn membership_change(body: Option<&Value>) -> MembershipChange {
    let strings = |key: &str| -> Vec<String> {
        body.and_then(|b| b.get("contacts"))
            .and_then(|c| c.get(key))
            .and_then(Value::as_array)
            .map(|items| items.iter().map(value_text).collect())
            .unwrap_or_default()
    };
    MembershipChange {
        success: strings("success"),
        failure: strings("failure"),
    }
}

/// The id of a `201 {"id": N}` answer.
fn created_id(reply: Reply, method: &str, path: &str) -> Result<i64> {
    reply
        .body
        .as_ref()
        .and_then(|b| b.get("id"))
        .and_then(Value::as_i64)
        .ok_or_else(|| Error::Decode {
            method: method.to_owned(),
            path: path.to_owned(),
            status: reply.status,
            message: "the answer has no numeric id".to_owned(),
        })
}

fn decode<T: DeserializeOwned>(
    body: Option<Value>,
    method: &str,
    path: &str,
    status: u16,
) -> Result<T> {
    serde_json::from_value(body.unwrap_or(Value::Null)).map_err(|e| Error::Decode {
        method: method.to_owned(),
        path: path.to_owned(),
        status,
        message: e.to_string(),
    })
}

fn to_value<T: Serialize>(value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| {
        Error::Config(format!(
            "a request body cannot be encoded as JSON: {e}; report this"
        ))
    })
}

fn encoded_len(value: &Value) -> Result<usize> {
    serde_json::to_vec(value).map(|v| v.len()).map_err(|e| {
        Error::Config(format!(
            "a request body cannot be encoded as JSON: {e}; report this"
        ))
    })
}

/// `None` for an empty body (204); `Err` when it is not JSON.
fn parse_body(body: &[u8]) -> std::result::Result<Option<Value>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| format!("the body is not valid JSON: {e}"))
}

/// Sorts a reqwest error for the retry decision; `reading_body` when headers had arrived.
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

/// The error and its causes, `outer: inner` (the key is a header, never in a URL).
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

    const KEY: &str = "xkeysib-very-secret";

    #[test]
    fn debug_never_shows_the_key() {
        let cfg = ClientConfig::new(SecretString::from(KEY));
        assert!(!format!("{cfg:?}").contains(KEY));
        let client = Client::new(cfg).unwrap();
        assert!(!format!("{client:?}").contains(KEY));
    }

    #[test]
    fn defaults() {
        let cfg = ClientConfig::new(SecretString::from(KEY));
        assert_eq!(cfg.base_url, "https://api.brevo.com/v3");
        assert_eq!(cfg.process_poll, Duration::from_secs(30));
        assert_eq!(
            cfg.starting_limits_for(Bucket::Other),
            BucketLimits::new(None, Some(100))
        );
        assert_eq!(
            cfg.with_base_url("http://127.0.0.1:1/v3").base_url,
            "http://127.0.0.1:1/v3"
        );
    }

    #[test]
    fn rejects_bad_configuration() {
        let empty = ClientConfig::new(SecretString::from("  "));
        assert!(matches!(Client::new(empty), Err(Error::Config(_))));
        let bad = ClientConfig::new(SecretString::from("a\nb"));
        assert!(matches!(Client::new(bad), Err(Error::Config(_))));
        let url = ClientConfig::new(SecretString::from(KEY)).with_base_url("ftp://x");
        assert!(matches!(Client::new(url), Err(Error::Config(_))));
    }

    #[test]
    fn path_segments_and_queries_are_encoded() {
        assert_eq!(encode_segment("ann+x@ex.com"), "ann%2Bx%40ex.com");
        assert_eq!(encode_segment("bc:1/2 3"), "bc%3A1%2F2%203");
        assert_eq!(
            encode_query(&[(
                "modifiedSince".into(),
                "2024-01-01T00:00:00.000+01:00".into()
            )]),
            "modifiedSince=2024-01-01T00%3A00%3A00.000%2B01%3A00"
        );
        let call = contact_call(Method::GET, &ContactKey::Email(" A+b@X.io".into()));
        assert_eq!(call.path, "/contacts/a%2Bb%40x.io");
        assert_eq!(
            call.query,
            vec![("identifierType".to_owned(), "email_id".to_owned())]
        );
    }

    #[test]
    fn membership_answers_are_read_as_strings() {
        let body = json!({"contacts": {"success": [1, 2], "failure": ["x@y.z"]}});
        let c = membership_change(Some(&body));
        assert_eq!(c.success, ["1", "2"]);
        assert_eq!(c.failure, ["x@y.z"]);
        assert_eq!(membership_change(None), MembershipChange::default());
    }

    #[test]
    fn empty_bodies_are_none() {
        assert_eq!(parse_body(b""), Ok(None));
        assert_eq!(parse_body(b" \n"), Ok(None));
        assert_eq!(parse_body(b"{\"id\":1}"), Ok(Some(json!({"id": 1}))));
        assert!(parse_body(b"<html>").is_err());
    }
}
