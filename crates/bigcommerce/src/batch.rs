//! Batch writes: the one place that chunks items by an endpoint's limit ([`crate::limits`]),
//! sends the chunks, and turns a refused batch into per-item outcomes.
//!
//! BigCommerce batch endpoints are all or nothing: one bad item makes the whole batch fail
//! with 422 (invalid data) or 409 (a clash such as a duplicate SKU), and nothing in it is
//! written (docs/api-notes.md §0.3, §2.3, §3.3). To still write every good item, a refused chunk is
//! split: when the error's `errors` map is keyed by item index (`"3.email"`, `"1"`), the named
//! items are rejected with BigCommerce's own message and the rest is sent again; when it
//! is not (docs/api-notes.md §0.3 marks the customers body UNCERTAIN), the chunk is bisected until
//! the offending items stand alone. With `b` bad items in a chunk of `n`, that costs at most
//! `1 + 2·b·⌈log2 n⌉` requests, and only `2` when the server names every bad index.
//!
//! A 413 is narrowed down the same way: a body too large for the API is refused whole,
//! so splitting leaves only the oversized item(s) rejected, named with their size.
//!
//! Any other 4xx but 408/429 means the request was not processed: its items are
//! [`ItemOutcome::Rejected`] (no retry, no lookup). 401 and 403 (bad token, missing
//! scope) cannot succeed for any later item either: the write stops there and
//! [`BatchReport::halt`] carries the error. The first chunk is sent alone before the others
//! go concurrently, so a refused token costs exactly one write request.
//!
//! Only failures that leave the outcome open (5xx after retries, transport errors, 408
//! and 429 that never cleared) fail the whole chunk as [`ItemOutcome::Failed`]: for a
//! POST the outcome is then unknown, and the caller must look the items up before
//! creating them again.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
pub use reqwest::Method;
use serde_json::Value;

use crate::client::Client;
use crate::error::{Error, ErrorBody, Result};
use crate::request::{ApiRequest, ApiVersion};
use crate::retry::{self, RetryPolicy};

/// What happened to one item of a batch write.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemOutcome {
    /// Written; the record as the API returned it (`Value::Null` when it sent none).
    Applied(Value),
    /// Not applied, for certain: refused by the API for this item alone (422/409/404/413
    /// narrowed down to it), or the request carrying it was refused with another 4xx.
    Rejected { status: u16, message: String },
    /// The request carrying it failed as a whole (server error, transport, rate limit).
    /// For a non-idempotent write it may or may not have been applied.
    Failed {
        status: Option<u16>,
        message: String,
    },
    /// Never sent: an earlier request was refused in a way no later one can escape
    /// (see [`BatchReport::halt`]).
    NotSent,
}

impl ItemOutcome {
    pub fn is_applied(&self) -> bool {
        matches!(self, ItemOutcome::Applied(_))
    }
}

/// Per-item outcomes, in the order the items were given, and the requests it took.
#[derive(Debug, Clone, Default)]
pub struct BatchReport {
    pub outcomes: Vec<ItemOutcome>,
    pub requests: u64,
    /// A 401 or 403: the token cannot make these writes at all, so the write stopped at
    /// the first refusal (its items [`ItemOutcome::Rejected`], the rest
    /// [`ItemOutcome::NotSent`]). The caller should stop the run with this error, which
    /// names the scope to grant.
    pub halt: Option<Error>,
}

/// How items travel in a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyShape {
    /// A JSON array of items (`POST/PUT /v3/customers`, `PUT /v3/catalog/products`).
    Array,
    /// One item as a JSON object (`POST /v3/catalog/products`, V2 orders).
    Single,
}

/// A write endpoint and its batch limit.
#[derive(Debug, Clone)]
pub struct BatchEndpoint {
    pub method: Method,
    pub version: ApiVersion,
    pub path: String,
    pub limit: usize,
    pub shape: BodyShape,
}

impl BatchEndpoint {
    /// An array endpoint taking up to `limit` items.
    pub fn array(
        method: Method,
        version: ApiVersion,
        path: impl Into<String>,
        limit: usize,
    ) -> Self {
        Self {
            method,
            version,
            path: path.into(),
            limit: limit.max(1),
            shape: BodyShape::Array,
        }
    }

    /// An endpoint taking one object per request.
    pub fn single(method: Method, version: ApiVersion, path: impl Into<String>) -> Self {
        Self {
            method,
            version,
            path: path.into(),
            limit: 1,
            shape: BodyShape::Single,
        }
    }
}

/// How a failed request is handled, by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Refers to some items of the batch (404, 409, 422), or to its size (413): narrow down.
    Items,
    /// The token cannot do this (401, 403): stop writing.
    Halt,
    /// Any other 4xx but 408/429: the request was not processed; its items are rejected.
    Request,
    /// 5xx, 408, 429, transport: it may or may not have been applied.
    Unknown,
}

fn refusal(status: Option<u16>) -> Refusal {
    match status {
        Some(404 | 409 | 413 | 422) => Refusal::Items,
        Some(401 | 403) => Refusal::Halt,
        Some(s) if never_retried_client_error(s) => Refusal::Request,
        _ => Refusal::Unknown,
    }
}

/// A 4xx the retry rule never retries, even for an idempotent request (all but 408 and
/// 429): the server refused it without processing it. Asked of [`retry::decide`] so that
/// rule stays the one place saying which client errors are transient.
fn never_retried_client_error(status: u16) -> bool {
    let headers = reqwest::header::HeaderMap::new();
    let policy = RetryPolicy {
        max_retries: 1,
        base_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    };
    (400..500).contains(&status)
        && retry::decide(
            true,
            true,
            &retry::Outcome::Status {
                status,
                headers: &headers,
            },
            1,
            &policy,
            0.0,
        ) == retry::Decision::Fail
}

/// The message for an item refused alone with 413: its size and its longest text, the
/// part to shorten.
fn too_large_message(item: &Value) -> String {
    let bytes = serde_json::to_vec(item).map_or(0, |b| b.len());
    let mut longest = (String::new(), 0usize);
    longest_text("", item, &mut longest);
    let size = if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    };
    let field = if longest.0.is_empty() {
        String::new()
    } else {
        format!(
            " (its longest field is {}, {} characters)",
            longest.0, longest.1
        )
    };
    format!(
        "the record is too large for one request: {size} as JSON{field}; shorten it and run again"
    )
}

/// The dotted path of field `key` under `prefix` (`addresses.0.city`), as messages and
/// diffs name nested fields.
pub fn field_path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The dotted path and length of the longest string under `v`.
fn longest_text(prefix: &str, v: &Value, best: &mut (String, usize)) {
    let join = |k: &str| field_path(prefix, k);
    match v {
        Value::String(s) => {
            let n = s.chars().count();
            if n > best.1 {
                *best = (prefix.to_owned(), n);
            }
        }
        Value::Object(m) => m.iter().for_each(|(k, v)| longest_text(&join(k), v, best)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| longest_text(&join(&i.to_string()), v, best)),
        _ => {}
    }
}

/// The error's message for one item: its own field errors when keyed, else the title.
fn item_message(err: &Error, index: Option<usize>) -> String {
    let fields = err.field_errors();
    if let Some(i) = index {
        let own: Vec<String> = fields
            .iter()
            .filter(|(k, _)| key_index(k) == Some(i))
            .map(|(k, v)| {
                let field = k.split_once('.').map(|(_, f)| f).unwrap_or("");
                if field.is_empty() {
                    v.clone()
                } else {
                    format!("{field}: {v}")
                }
            })
            .collect();
        if !own.is_empty() {
            return own.join("; ");
        }
    }
    let mut msg = err.title().unwrap_or_else(|| err.to_string());
    if !fields.is_empty() {
        let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        msg = format!("{msg} ({})", parts.join("; "));
    }
    msg
}

/// `"3.email"` or `"3"` → `3`; anything else (`".customer_create"`, `"email"`) → `None`.
fn key_index(key: &str) -> Option<usize> {
    let head = key.split('.').next().unwrap_or("");
    if head.is_empty() || !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    head.parse().ok()
}

/// Writes `items` in chunks of `limit` through `send`, at most `concurrency` chunks at a
/// time, splitting refused chunks down to the offending items (see the module docs).
/// `send` gets the items of one request and returns the records the API answered with
/// (aligned with the items when the API returns one per item).
pub async fn write_with<F, Fut>(
    items: Vec<Value>,
    limit: usize,
    concurrency: usize,
    send: F,
) -> BatchReport
where
    F: Fn(Vec<Value>) -> Fut,
    Fut: Future<Output = Result<Vec<Value>>>,
{
    let limit = limit.max(1);
    let n = items.len();
    let chunks: Vec<Vec<usize>> = (0..n)
        .collect::<Vec<_>>()
        .chunks(limit)
        .map(<[usize]>::to_vec)
        .collect();
    let items = &items;
    let send = &send;
    let halt: Mutex<Option<Error>> = Mutex::new(None);
    let halt = &halt;
    // The first chunk goes alone: when the token cannot write here, that is the only
    // write request the run makes.
    let mut chunks = chunks.into_iter();
    let mut results: Vec<(Vec<(usize, ItemOutcome)>, u64)> = Vec::new();
    if let Some(first) = chunks.next() {
        results.push(write_chunk(items, first, send, halt).await);
    }
    let rest: Vec<(Vec<(usize, ItemOutcome)>, u64)> = futures::stream::iter(chunks)
        .map(|chunk| async move { write_chunk(items, chunk, send, halt).await })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    results.extend(rest);
    let mut outcomes: Vec<Option<ItemOutcome>> = vec![None; n];
    let mut requests = 0;
    for (chunk_outcomes, reqs) in results {
        requests += reqs;
        for (i, o) in chunk_outcomes {
            outcomes[i] = Some(o);
        }
    }
    BatchReport {
        outcomes: outcomes
            .into_iter()
            .map(|o| o.unwrap_or(ItemOutcome::NotSent))
            .collect(),
        requests,
        halt: halt.lock().ok().and_then(|mut h| h.take()),
    }
}

/// Like [`write_with`], for endpoints whose limit counts *groups* of items, e.g.
/// `PUT /v3/customers/attribute-values` (10 customers per call, any number of values
/// each). A group is never split across requests; errors keyed by flat item index are
/// mapped back to the group, so one bad value rejects its group alone. An applied group's
/// record is the array of the records its items got back.
pub async fn write_groups<F, Fut>(
    groups: Vec<Vec<Value>>,
    max_groups: usize,
    concurrency: usize,
    send: F,
) -> BatchReport
where
    F: Fn(Vec<Value>) -> Fut,
    Fut: Future<Output = Result<Vec<Value>>>,
{
    let items: Vec<Value> = groups.into_iter().map(Value::Array).collect();
    let send = &send;
    write_with(items, max_groups, concurrency, |chunk| {
        let sizes: Vec<usize> = chunk
            .iter()
            .map(|g| g.as_array().map_or(1, Vec::len))
            .collect();
        let flat: Vec<Value> = chunk
            .into_iter()
            .flat_map(|g| match g {
                Value::Array(a) => a,
                other => vec![other],
            })
            .collect();
        let fut = send(flat);
        async move {
            match fut.await {
                Ok(records) => {
                    let total: usize = sizes.iter().sum();
                    if records.len() != total {
                        return Ok(sizes.iter().map(|_| Value::Null).collect());
                    }
                    let mut it = records.into_iter();
                    Ok(sizes
                        .iter()
                        .map(|n| Value::Array(it.by_ref().take(*n).collect()))
                        .collect())
                }
                Err(e) => Err(regroup_error(e, &sizes)),
            }
        }
    })
    .await
}

/// Rewrites `"<flat index>.<field>"` keys of a V3 error as `"<group>.<field>"`.
fn regroup_error(err: Error, sizes: &[usize]) -> Error {
    let group_of = |flat: usize| {
        let mut start = 0;
        for (g, n) in sizes.iter().enumerate() {
            if flat < start + n {
                return Some(g);
            }
            start += n;
        }
        None
    };
    match err {
        Error::Api {
            status,
            method,
            path,
            title,
            body: ErrorBody::V3(mut v3),
        } => {
            v3.errors = std::mem::take(&mut v3.errors)
                .into_iter()
                .map(|(k, v)| match key_index(&k).and_then(group_of) {
                    Some(g) => {
                        let field = k.split_once('.').map(|(_, f)| f).unwrap_or("");
                        (
                            if field.is_empty() {
                                g.to_string()
                            } else {
                                format!("{g}.{field}")
                            },
                            v,
                        )
                    }
                    None => (k, v),
                })
                .collect();
            Error::Api {
                status,
                method,
                path,
                title,
                body: ErrorBody::V3(v3),
            }
        }
        other => other,
    }
}

/// One chunk: sends it, and on an item error narrows down sequentially (a work stack of
/// sub-chunks), so the chunk's requests never exceed one at a time.
async fn write_chunk<F, Fut>(
    items: &[Value],
    chunk: Vec<usize>,
    send: &F,
    halt: &Mutex<Option<Error>>,
) -> (Vec<(usize, ItemOutcome)>, u64)
where
    F: Fn(Vec<Value>) -> Fut,
    Fut: Future<Output = Result<Vec<Value>>>,
{
    let mut out = Vec::with_capacity(chunk.len());
    let mut requests = 0u64;
    let mut stack = vec![chunk];
    while let Some(part) = stack.pop() {
        if part.is_empty() {
            continue;
        }
        if halt.lock().map_or(true, |h| h.is_some()) {
            out.extend(part.iter().map(|&i| (i, ItemOutcome::NotSent)));
            continue;
        }
        let body: Vec<Value> = part.iter().map(|&i| items[i].clone()).collect();
        requests += 1;
        match send(body).await {
            Ok(records) => {
                let aligned = records.len() == part.len();
                for (pos, &i) in part.iter().enumerate() {
                    let rec = if aligned {
                        records[pos].clone()
                    } else {
                        Value::Null
                    };
                    out.push((i, ItemOutcome::Applied(rec)));
                }
            }
            Err(err) if refusal(err.status()) == Refusal::Items => {
                let status = err.status().unwrap_or(422);
                if part.len() == 1 {
                    let message = if status == 413 {
                        too_large_message(&items[part[0]])
                    } else {
                        item_message(&err, Some(0))
                    };
                    out.push((part[0], ItemOutcome::Rejected { status, message }));
                    continue;
                }
                let mut named: Vec<usize> = err
                    .field_errors()
                    .keys()
                    .filter_map(|k| key_index(k))
                    .filter(|&p| p < part.len())
                    .collect();
                named.sort_unstable();
                named.dedup();
                if named.is_empty() {
                    let (a, b) = part.split_at(part.len() / 2);
                    stack.push(b.to_vec());
                    stack.push(a.to_vec());
                } else {
                    let mut rest = Vec::with_capacity(part.len() - named.len());
                    for (pos, &i) in part.iter().enumerate() {
                        if named.binary_search(&pos).is_ok() {
                            out.push((
                                i,
                                ItemOutcome::Rejected {
                                    status,
                                    message: item_message(&err, Some(pos)),
                                },
                            ));
                        } else {
                            rest.push(i);
                        }
                    }
                    stack.push(rest);
                }
            }
            Err(err) => {
                let status = err.status();
                let message = err.to_string();
                let how = refusal(status);
                for &i in &part {
                    out.push((
                        i,
                        match (how, status) {
                            (Refusal::Unknown, _) | (_, None) => ItemOutcome::Failed {
                                status,
                                message: message.clone(),
                            },
                            (_, Some(status)) => ItemOutcome::Rejected {
                                status,
                                message: message.clone(),
                            },
                        },
                    ));
                }
                if how == Refusal::Halt
                    && let Ok(mut h) = halt.lock()
                {
                    h.get_or_insert(err);
                }
            }
        }
    }
    (out, requests)
}

/// Writes `items` to `endpoint` through `client` (pacing, retries and the concurrency cap
/// are the client's). Array endpoints return the response's `data` array; single-object
/// endpoints the response's `data` object (V3) or bare object (V2).
pub async fn write(
    client: &Client,
    endpoint: &BatchEndpoint,
    items: Vec<Value>,
    concurrency: usize,
) -> BatchReport {
    write_with(items, endpoint.limit, concurrency, |chunk| {
        send_chunk(client, endpoint, chunk)
    })
    .await
}

async fn send_chunk(client: &Client, ep: &BatchEndpoint, chunk: Vec<Value>) -> Result<Vec<Value>> {
    let body = match ep.shape {
        BodyShape::Array => Value::Array(chunk),
        BodyShape::Single => chunk.into_iter().next().unwrap_or(Value::Null),
    };
    let req = match ep.method {
        Method::POST => ApiRequest::post(ep.version, ep.path.clone(), body),
        Method::PUT => ApiRequest::put(ep.version, ep.path.clone(), body),
        ref other => {
            return Err(Error::Config(format!(
                "batch writes support POST and PUT, not {other}"
            )));
        }
    };
    let resp = client.send(req).await?;
    let body = resp.body.unwrap_or(Value::Null);
    let data = match body {
        Value::Object(mut map) if map.contains_key("data") => {
            map.remove("data").unwrap_or(Value::Null)
        }
        other => other,
    };
    Ok(match data {
        Value::Array(records) => records,
        Value::Null => Vec::new(),
        record => vec![record],
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicU64, Ordering};

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    /// A fake batch endpoint: refuses any batch holding a bad item, naming the bad indices
    /// in `errors` when `keyed`, else with an unkeyed body.
    fn fake(bad: &BTreeSet<u64>, keyed: bool, chunk: &[Value]) -> Result<Vec<Value>> {
        let mut errors = serde_json::Map::new();
        for (pos, item) in chunk.iter().enumerate() {
            let id = item["n"].as_u64().unwrap();
            if bad.contains(&id) {
                errors.insert(format!("{pos}.email"), json!(format!("bad item {id}")));
            }
        }
        if errors.is_empty() {
            return Ok(chunk
                .iter()
                .map(|i| json!({"id": i["n"].as_u64().unwrap() + 1000}))
                .collect());
        }
        let body = if keyed {
            json!({"status": 422, "title": "Create customers failed.", "errors": errors})
        } else {
            json!({"status": 422, "title": "Create customers failed.", "errors": {".customer_create": "Error creating customers"}})
        };
        Err(Error::from_status(
            422,
            "POST",
            "/v3/customers",
            body.to_string().as_bytes(),
            1,
        ))
    }

    fn run(n: u64, bad: &BTreeSet<u64>, limit: usize, keyed: bool) -> BatchReport {
        let items: Vec<Value> = (0..n).map(|i| json!({"n": i})).collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let calls = AtomicU64::new(0);
        let report = rt.block_on(write_with(items, limit, 3, |chunk| {
            calls.fetch_add(1, Ordering::Relaxed);
            let r = fake(bad, keyed, &chunk);
            async move { r }
        }));
        assert_eq!(calls.load(Ordering::Relaxed), report.requests);
        report
    }

    proptest! {
        #[test]
        fn exactly_the_bad_items_are_rejected(
            n in 0u64..120,
            bad_raw in proptest::collection::btree_set(0u64..120, 0..15),
            limit in 1usize..=12,
            keyed in any::<bool>(),
        ) {
            let bad: BTreeSet<u64> = bad_raw.into_iter().filter(|b| *b < n).collect();
            let report = run(n, &bad, limit, keyed);
            prop_assert_eq!(report.outcomes.len() as u64, n);
            for (i, o) in report.outcomes.iter().enumerate() {
                let i = i as u64;
                if bad.contains(&i) {
                    match o {
                        ItemOutcome::Rejected { status, message } => {
                            prop_assert_eq!(*status, 422);
                            if keyed {
                                prop_assert_eq!(message, &format!("email: bad item {i}"));
                            } else {
                                prop_assert!(message.contains("Create customers failed."));
                            }
                        }
                        other => prop_assert!(false, "bad item {} got {:?}", i, other),
                    }
                } else {
                    prop_assert_eq!(o, &ItemOutcome::Applied(json!({"id": i + 1000})));
                }
            }
            // Bound: one request per chunk, plus per bad item at most 2·⌈log2 limit⌉
            // (bisection) or, with keyed errors, one resend per refused chunk.
            let chunks = n.div_ceil(limit as u64);
            let depth = (limit as f64).log2().ceil() as u64;
            let bound = if keyed { chunks + bad.len() as u64 } else { chunks + 2 * bad.len() as u64 * depth.max(1) };
            prop_assert!(report.requests <= bound, "{} requests > bound {}", report.requests, bound);
            if bad.is_empty() {
                prop_assert_eq!(report.requests, chunks);
            }
        }
    }

    #[test]
    fn server_errors_fail_the_whole_chunk() {
        let items: Vec<Value> = (0..15).map(|i| json!({"n": i})).collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let report = rt.block_on(write_with(items, 10, 1, |chunk| {
            let r = if chunk[0]["n"] == 0 {
                Err(Error::from_status(503, "POST", "/v3/customers", b"", 3))
            } else {
                Ok(chunk)
            };
            async move { r }
        }));
        assert_eq!(report.requests, 2);
        assert!(report.outcomes[..10].iter().all(|o| matches!(
            o,
            ItemOutcome::Failed {
                status: Some(503),
                ..
            }
        )));
        assert!(report.outcomes[10..].iter().all(ItemOutcome::is_applied));
    }

    #[test]
    fn groups_are_rejected_whole_by_their_flat_indices() {
        // Groups of 1..=3 values; a value "bad" makes its group fail, keyed by flat index.
        let groups: Vec<Vec<Value>> = (0..25)
            .map(|g| {
                (0..(g % 3 + 1))
                    .map(|i| json!({"g": g, "v": if g % 7 == 3 && i == 0 { "bad" } else { "ok" }}))
                    .collect()
            })
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let report = rt.block_on(write_groups(groups, 10, 2, |flat| {
            let distinct: BTreeSet<u64> = flat.iter().map(|v| v["g"].as_u64().unwrap()).collect();
            assert!(distinct.len() <= 10, "more than 10 groups in one call");
            let mut errors = serde_json::Map::new();
            for (i, v) in flat.iter().enumerate() {
                if v["v"] == "bad" {
                    errors.insert(format!("{i}.value"), json!("bad value"));
                }
            }
            let r = if errors.is_empty() {
                Ok(flat.clone())
            } else {
                let body = json!({"status": 422, "title": "Upsert failed.", "errors": errors});
                Err(Error::from_status(
                    422,
                    "PUT",
                    "/v3/customers/attribute-values",
                    body.to_string().as_bytes(),
                    1,
                ))
            };
            async move { r }
        }));
        for (g, o) in report.outcomes.iter().enumerate() {
            if g % 7 == 3 {
                assert_eq!(
                    o,
                    &ItemOutcome::Rejected {
                        status: 422,
                        message: "value: bad value".into()
                    },
                    "group {g}"
                );
            } else {
                let ItemOutcome::Applied(Value::Array(recs)) = o else {
                    panic!("group {g}: {o:?}")
                };
                assert_eq!(recs.len(), g % 3 + 1);
            }
        }
        assert_eq!(report.requests, 3 + 3);
    }

    #[test]
    fn forbidden_stops_after_one_request() {
        let items: Vec<Value> = (0..200).map(|i| json!({"n": i})).collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let calls = AtomicU64::new(0);
        let report = rt.block_on(write_with(items, 10, 4, |_chunk| {
            calls.fetch_add(1, Ordering::Relaxed);
            let r: Result<Vec<Value>> =
                Err(Error::from_status(403, "POST", "/v3/customers", b"", 1));
            async move { r }
        }));
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        assert_eq!(report.requests, 1);
        assert_eq!(report.halt.as_ref().and_then(Error::status), Some(403));
        assert!(
            report
                .halt
                .unwrap()
                .to_string()
                .contains("store_v2_customers"),
            "the error names the scope"
        );
        assert!(
            report.outcomes[..10]
                .iter()
                .all(|o| matches!(o, ItemOutcome::Rejected { status: 403, .. }))
        );
        assert!(
            report.outcomes[10..]
                .iter()
                .all(|o| *o == ItemOutcome::NotSent)
        );
    }

    #[test]
    fn too_large_bodies_are_narrowed_to_the_big_item() {
        // Bodies over 1000 bytes are refused whole with 413, as a server's size limit does.
        let items: Vec<Value> = (0..10)
            .map(|i| json!({"n": i, "description": if i == 6 { "x".repeat(2000) } else { "short".into() }}))
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let report = rt.block_on(write_with(items, 10, 2, |chunk| {
            let size = serde_json::to_vec(&chunk).unwrap().len();
            let r = if size > 1000 {
                Err(Error::from_status(
                    413,
                    "PUT",
                    "/v3/catalog/products",
                    b"",
                    1,
                ))
            } else {
                Ok(chunk)
            };
            async move { r }
        }));
        for (i, o) in report.outcomes.iter().enumerate() {
            if i == 6 {
                let ItemOutcome::Rejected {
                    status: 413,
                    message,
                } = o
                else {
                    panic!("{o:?}")
                };
                assert!(
                    message.contains("too large")
                        && message.contains("description, 2000 characters"),
                    "{message}"
                );
            } else {
                assert!(o.is_applied(), "{i}: {o:?}");
            }
        }
        assert!(report.requests <= 1 + 2 * 4, "{}", report.requests);
    }

    #[test]
    fn other_client_errors_reject_without_unknown_outcome() {
        let items: Vec<Value> = (0..5).map(|i| json!({"n": i})).collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let report = rt.block_on(write_with(items, 10, 1, |_chunk| {
            let r: Result<Vec<Value>> =
                Err(Error::from_status(400, "POST", "/v3/customers", b"", 1));
            async move { r }
        }));
        assert_eq!(report.requests, 1);
        assert!(report.halt.is_none());
        assert!(
            report
                .outcomes
                .iter()
                .all(|o| matches!(o, ItemOutcome::Rejected { status: 400, .. }))
        );
    }

    #[test]
    fn only_408_and_429_leave_a_client_error_open() {
        for s in [400, 402, 405, 406, 410, 415, 423] {
            assert_eq!(refusal(Some(s)), Refusal::Request, "{s}");
        }
        for s in [408, 429, 500, 502, 503, 504] {
            assert_eq!(refusal(Some(s)), Refusal::Unknown, "{s}");
        }
        assert_eq!(refusal(None), Refusal::Unknown);
        assert_eq!(refusal(Some(403)), Refusal::Halt);
        assert_eq!(refusal(Some(413)), Refusal::Items);
    }

    #[test]
    fn key_index_reads_only_leading_numbers() {
        assert_eq!(key_index("3.email"), Some(3));
        assert_eq!(key_index("12"), Some(12));
        assert_eq!(key_index(".customer_create"), None);
        assert_eq!(key_index("email"), None);
    }
}
