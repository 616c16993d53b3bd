//! The apply loop: turns inbox events into rows. Events carry only ids, so each changed
//! record is read again through the one client (its pacer and retries) and written through
//! the destination writer `extract` uses (one write path: same tables, same upsert, same
//! child replacement, same `_deleted_at` marks).
//!
//! Request economy (the Standard plan allows 150 requests per 30 s, docs/api-notes.md
//! §0.7): the loop waits a short coalescing window after the first event so a burst
//! gathers, takes every pending event at once, keeps one fetch per record (ten updates to
//! one order are one read), and batches the reads: customers and products 50 ids per
//! `id:in=` request, orders by id range (`min_id`/`max_id`, V2 has no `id:in`), carts one
//! `GET /v3/carts/{id}` each (the API has no cart list, docs/api-notes.md §8).
//!
//! A record asked for and not returned is gone from the store (for orders: confirmed
//! archived or missing by a read by id): it is marked deleted, as
//! the events for deletions (customers, products, carts) and archivals (orders) mark
//! theirs without a read. Events are marked applied only after the destination committed
//! their rows, so a `kill -9` at any point re-applies (idempotently) rather than loses.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bigcommerce::{ApiRequest, ApiVersion, Client};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::delivery::{Change, Resource};
use super::inbox::{Inbox, PendingEvent};
use crate::destinations::DestinationWriter;
use crate::destinations::PageBatch;
use crate::error::{Error, Result};
use crate::streams::{CARTS, STREAMS, StreamDescriptor};

/// Ids per `id:in=` read (docs/api-notes.md §0.5 lists no cap; 50 keeps URLs short, as push does).
const IDS_PER_READ: usize = 50;
/// Widest id range read in one V2 orders request: one page of the largest size.
const ORDER_RANGE: i64 = 250;
/// Cart reads in flight at once (each is one request through the pacer).
const CART_READS: usize = 8;

/// The range reads sorted `ids` take: runs of indexes whose ids lie within
/// [`ORDER_RANGE`] of the run's first.
fn id_ranges(ids: &[i64]) -> Vec<std::ops::RangeInclusive<usize>> {
    let mut ranges: Vec<std::ops::RangeInclusive<usize>> = Vec::new();
    for (k, &id) in ids.iter().enumerate() {
        match ranges.last_mut() {
            Some(r) if id - ids[*r.start()] < ORDER_RANGE => *r = *r.start()..=k,
            _ => ranges.push(k..=k),
        }
    }
    ranges
}

/// Whether the store will never answer this read (400, 403, 422: a missing OAuth scope, a
/// request it rejects), so retrying it would only stall the inbox.
fn refused_for_good(e: &Error) -> bool {
    matches!(e, Error::Api(api) if matches!(api.status(), Some(400 | 403 | 422)))
}

pub(crate) fn stream(name: &str) -> Result<&'static StreamDescriptor> {
    STREAMS
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| Error::Internal(format!("stream {name} is missing from the table")))
}

/// How the apply loop behaves.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// How long a burst may gather after its first event before it is fetched, at least.
    pub coalesce: Duration,
    /// The longest a burst may gather when the store's quota is tight (see
    /// [`next_window`]).
    pub coalesce_max: Duration,
    /// Events taken from the inbox per round.
    pub batch: i64,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            coalesce: Duration::from_millis(300),
            coalesce_max: Duration::from_millis(1700),
            batch: 2000,
        }
    }
}

/// Share of the store's request rate event reads aim to stay within: the rest is for gap
/// polls, reconciliation and the store's other apps (docs/api-notes.md §0.7). A little
/// under half, so that with the polls a busy store's reads stay within half.
const EVENT_READ_SHARE: f64 = 0.45;

/// How long the next burst gathers. A round costs about one read per record family and
/// one per cart whatever the number of events in it, so gathering longer is what keeps a
/// busy store's reads within [`EVENT_READ_SHARE`] of its quota: after a round of `spent`
/// requests, the next waits until that spending fits the share's rate, between
/// `coalesce` and `coalesce_max` (which bounds the latency). Without a known quota
/// (unlimited plans) the short window is kept.
pub fn next_window(
    options: &ApplyOptions,
    spent: u64,
    rate_limit: &bigcommerce::RateLimitSnapshot,
) -> Duration {
    let (Some(quota), Some(window)) = (rate_limit.quota, rate_limit.window) else {
        return options.coalesce;
    };
    if quota == 0 || window.is_zero() {
        return options.coalesce;
    }
    let rate = f64::from(quota) / window.as_secs_f64() * EVENT_READ_SHARE;
    let fits = Duration::from_secs_f64(spent as f64 / rate);
    fits.clamp(options.coalesce, options.coalesce_max.max(options.coalesce))
}

/// What one round did.
#[derive(Debug, Default, Clone)]
pub struct RoundSummary {
    pub events: usize,
    pub records: usize,
    pub requests: u64,
}

pub struct Applier {
    pub client: Client,
    pub writer: Arc<DestinationWriter>,
    pub inbox: Inbox,
    pub wake: Arc<Notify>,
    pub options: ApplyOptions,
    /// While a gap poll runs: the records applied meanwhile (see [`PollWindow`]).
    pub poll_window: PollWindow,
    /// Notified after each round that wrote records (the Brevo forwarder waits on it).
    pub applied: Option<Arc<Notify>>,
}

/// Records applied while a gap poll runs. A poll page read before an event's fetch can
/// reach the writer after it and put the older copy back (or clear a deletion mark), so
/// the poller applies these records once more after its own pages are committed.
#[derive(Debug, Default, Clone)]
pub struct PollWindow(Arc<parking_lot::Mutex<Option<Plans>>>);

impl PollWindow {
    pub fn open(&self) {
        *self.0.lock() = Some(Plans::new());
    }

    /// Closes the window and returns what was applied while it was open.
    pub fn close(&self) -> Plans {
        self.0.lock().take().unwrap_or_default()
    }

    fn record(&self, plans: &Plans) {
        if let Some(seen) = self.0.lock().as_mut() {
            seen.extend(plans.iter().map(|(k, v)| (k.clone(), *v)));
        }
    }
}

/// The last change seen per record.
pub type Plans = BTreeMap<(Resource, String), Plan>;

impl std::fmt::Debug for Applier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applier")
            .field("inbox", &self.inbox)
            .finish()
    }
}

/// The last change a round saw for one record.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    change: Change,
    /// Epoch seconds of the event that set `change`.
    at: i64,
}

impl Plan {
    /// A record to read again (created or changed at `at`, epoch seconds).
    pub fn changed(at: i64) -> Self {
        Self {
            change: Change::Changed,
            at,
        }
    }

    /// Whether this later-arriving event's plan replaces `earlier`. Deliveries are not
    /// ordered (docs/api-notes.md §9.4), so an end state is never undone by an event that
    /// arrives after it: a cart's conversion beats everything (its order id would be
    /// lost), a deletion beats updates.
    fn supersedes(&self, earlier: &Plan) -> bool {
        let rank = |c: Change| match c {
            Change::Changed | Change::CartAbandoned => 0,
            Change::Gone => 1,
            Change::CartConverted(_) => 2,
        };
        rank(self.change) >= rank(earlier.change)
    }
}

impl Applier {
    /// Applies events until `stop` is cancelled, then drains what is pending and returns.
    pub async fn run(&self, stop: CancellationToken) -> Result<()> {
        let mut failures = 0u32;
        let mut window = self.options.coalesce;
        loop {
            let pending = self.inbox.pending(self.options.batch).await?;
            if pending.is_empty() {
                if stop.is_cancelled() {
                    return Ok(());
                }
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = stop.cancelled() => {}
                }
                // Let a burst gather: one read then serves all of it.
                if !stop.is_cancelled() {
                    tokio::time::sleep(window).await;
                }
                continue;
            }
            let started = tokio::time::Instant::now();
            match self.apply(&pending).await {
                Ok(round) => {
                    failures = 0;
                    if let Some(applied) = &self.applied {
                        applied.notify_one();
                    }
                    window = next_window(&self.options, round.requests, &self.client.rate_limit());
                    // The next round starts `window` after this one did, even when events
                    // already wait: on a busy store they then share reads instead of each
                    // round taking a few, which keeps the reads within the share. A round
                    // that took longer (a slow destination) has waited enough.
                    if !stop.is_cancelled() {
                        tokio::select! {
                            () = tokio::time::sleep_until(started + window) => {}
                            () = stop.cancelled() => {}
                        }
                    }
                    tracing::debug!(
                        events = round.events,
                        records = round.records,
                        requests = round.requests,
                        "applied webhook events"
                    );
                }
                Err(e) => {
                    failures += 1;
                    // Left pending: the next round tries again, after a pause that grows.
                    let pause = Duration::from_secs(u64::from(failures.min(6)) * 5);
                    tracing::warn!("applying webhook events failed (retrying in {pause:?}): {e}");
                    if stop.is_cancelled() && failures > 3 {
                        return Err(e);
                    }
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// Applies one batch of events: reads, writes, waits for the commit, marks them applied.
    pub async fn apply(&self, events: &[PendingEvent]) -> Result<RoundSummary> {
        let before = self.client.stats().requests;
        let mut plans = Plans::new();
        for e in events {
            if let Some(t) = &e.target {
                let plan = Plan {
                    change: t.change,
                    at: e.created_at,
                };
                plans
                    .entry((t.resource, t.id.clone()))
                    .and_modify(|p| {
                        if plan.supersedes(p) {
                            *p = plan;
                        }
                    })
                    .or_insert(plan);
            }
        }
        // Each record family stands alone: one the store refuses for good is parked, one
        // that failed for now stays pending, and the others are applied regardless.
        let mut records = 0;
        let mut parked: Vec<(Resource, String)> = Vec::new();
        let mut retry: Vec<Resource> = Vec::new();
        let mut failure: Option<Error> = None;
        for (resource, outcome) in self.apply_each(&plans).await? {
            match outcome {
                Ok(n) => records += n,
                Err(e) if refused_for_good(&e) => {
                    tracing::warn!(
                        resource = resource.as_str(),
                        "the store refused a read for good; its events are parked (see `bcsync status`): {e}"
                    );
                    parked.push((resource, format!("reading {}s: {e}", resource.as_str())));
                }
                Err(e) => {
                    retry.push(resource);
                    failure.get_or_insert(e);
                }
            }
        }
        let of = |r: Resource| -> Vec<(i64, i64)> {
            events
                .iter()
                .filter(|e| e.target.as_ref().is_some_and(|t| t.resource == r))
                .map(|e| (e.seq, e.generation))
                .collect()
        };
        let done: Vec<(i64, i64)> = events
            .iter()
            .filter(|e| {
                e.target.as_ref().is_none_or(|t| {
                    !retry.contains(&t.resource) && !parked.iter().any(|(r, _)| *r == t.resource)
                })
            })
            .map(|e| (e.seq, e.generation))
            .collect();
        self.inbox.mark_applied(&done).await?;
        for (resource, reason) in &parked {
            self.inbox.park(&of(*resource), reason).await?;
        }
        if let Some(e) = failure {
            return Err(e);
        }
        self.inbox
            .set_meta("last_applied_at", &chrono::Utc::now().to_rfc3339())
            .await?;
        Ok(RoundSummary {
            events: events.len(),
            records,
            requests: self.client.stats().requests - before,
        })
    }

    /// Reads and writes what `plans` say, and waits until the destination committed it.
    /// Returns the records written.
    pub async fn apply_plans(&self, plans: &Plans) -> Result<usize> {
        let mut written = 0;
        for (_, outcome) in self.apply_each(plans).await? {
            written += outcome?;
        }
        Ok(written)
    }

    /// [`Self::apply_plans`], with each record family's outcome apart (the error is the
    /// destination's when it could not commit).
    async fn apply_each(&self, plans: &Plans) -> Result<Vec<(Resource, Result<usize>)>> {
        let of = |r: Resource| -> Vec<(String, Plan)> {
            plans
                .iter()
                .filter(|((res, _), _)| *res == r)
                .map(|((_, id), p)| (id.clone(), *p))
                .collect()
        };
        let (customer_stream, product_stream) = (stream("customers")?, stream("products")?);
        let (customers, products, orders, carts) = tokio::join!(
            self.apply_by_ids(customer_stream, "/customers", of(Resource::Customer)),
            self.apply_by_ids(product_stream, "/catalog/products", of(Resource::Product)),
            self.apply_orders(of(Resource::Order)),
            self.apply_carts(of(Resource::Cart)),
        );
        self.writer.barrier().await?;
        self.poll_window.record(plans);
        Ok(vec![
            (Resource::Customer, customers),
            (Resource::Product, products),
            (Resource::Order, orders),
            (Resource::Cart, carts),
        ])
    }

    /// Customers and products: `id:in=` reads of 50 ids; ids not returned are gone.
    async fn apply_by_ids(
        &self,
        stream: &'static StreamDescriptor,
        path: &str,
        plans: Vec<(String, Plan)>,
    ) -> Result<usize> {
        let mut gone: Vec<Value> = Vec::new();
        let mut wanted: Vec<i64> = Vec::new();
        for (id, plan) in plans {
            let Ok(n) = id.parse::<i64>() else { continue };
            match plan.change {
                Change::Gone => gone.push(json!(n)),
                _ => wanted.push(n),
            }
        }
        let mut written = 0;
        for chunk in wanted.chunks(IDS_PER_READ) {
            let ids = chunk
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let mut q: Vec<(String, String)> = stream
                .query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            q.push(("id:in".into(), ids));
            q.push(("limit".into(), "250".into()));
            let resp = self.client.get(ApiVersion::V3, path, &q).await?;
            let records: Vec<Value> = resp
                .body
                .as_ref()
                .and_then(|b| b.get("data"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let found: BTreeSet<i64> = records
                .iter()
                .filter_map(|r| r.get(stream.key).and_then(Value::as_i64))
                .collect();
            gone.extend(
                chunk
                    .iter()
                    .filter(|id| !found.contains(id))
                    .map(|id| json!(id)),
            );
            written += records.len();
            if !records.is_empty() {
                self.writer
                    .write(PageBatch::new(stream, records, Vec::new(), None))
                    .await?;
            }
        }
        self.writer.mark_deleted(stream, gone).await?;
        Ok(written)
    }

    /// Orders: V2 has no `id:in`, so ids are read as ranges (`min_id`/`max_id`), one page
    /// each; an order in range and not listed is read by id, and marked only when that
    /// read says it is archived (`is_deleted`) or gone (404).
    async fn apply_orders(&self, plans: Vec<(String, Plan)>) -> Result<usize> {
        let stream = stream("orders")?;
        let mut gone: Vec<Value> = Vec::new();
        let mut wanted: Vec<i64> = Vec::new();
        let mut earliest: Option<i64> = None;
        for (id, plan) in plans {
            let Ok(n) = id.parse::<i64>() else { continue };
            match plan.change {
                Change::Gone => gone.push(json!(n)),
                _ => {
                    wanted.push(n);
                    earliest = Some(earliest.map_or(plan.at, |e: i64| e.min(plan.at)));
                }
            }
        }
        wanted.sort_unstable();
        let include: Vec<(String, String)> = stream
            .query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut written = 0;
        // Changes spread over ids (status changes of old orders beside new ones) would
        // take a range read each: one date-window read (orders modified since the
        // earliest event, oldest first) usually brings them all at once, and what it
        // misses goes on to the range reads.
        if let (Some(at), true) = (earliest, id_ranges(&wanted).len() > 1) {
            let found = self.read_orders_since(stream, &include, at).await?;
            if let Some(items) = found {
                let seen: BTreeSet<i64> = items
                    .iter()
                    .filter_map(|r| r.get("id").and_then(Value::as_i64))
                    .collect();
                wanted.retain(|id| !seen.contains(id));
                written += items.len();
                if !items.is_empty() {
                    self.writer
                        .write(PageBatch::new(stream, items, Vec::new(), None))
                        .await?;
                }
            }
        }
        for range in id_ranges(&wanted) {
            let (i, j) = (*range.start(), *range.end());
            let (first, last) = (wanted[i], wanted[j]);
            let mut q = include.clone();
            q.push(("min_id".into(), first.to_string()));
            q.push(("max_id".into(), last.to_string()));
            let page = self
                .client
                .v2_page("/orders", &q, 1, ORDER_RANGE as u32)
                .await?;
            let found: BTreeSet<i64> = page
                .items
                .iter()
                .filter_map(|r| r.get("id").and_then(Value::as_i64))
                .collect();
            // The range holds orders nobody asked for: unchanged ones, or changed ones
            // whose own events come. Writing them would rewrite up to a page of rows per
            // event for nothing, so only the asked-for ones are kept.
            let asked: BTreeSet<i64> = wanted[i..=j].iter().copied().collect();
            let mut items: Vec<Value> = page
                .items
                .into_iter()
                .filter(|r| {
                    r.get("id")
                        .and_then(Value::as_i64)
                        .is_some_and(|id| asked.contains(&id))
                })
                .collect();
            // UNCERTAIN (docs/api-notes.md §6.2, §13.9): whether the default list leaves
            // out only archived orders or also status 0 (Incomplete) ones. An order missing
            // from the range is therefore read by id: only an archived (`is_deleted`) or
            // missing one is marked; a live one the list hid is written.
            for id in wanted[i..=j].iter().filter(|id| !found.contains(id)) {
                match self
                    .client
                    .get(ApiVersion::V2, &format!("/orders/{id}"), &include)
                    .await
                {
                    Ok(resp) => match resp.body {
                        Some(order) if order.get("is_deleted") != Some(&json!(true)) => {
                            let status = order.get("status_id").cloned().unwrap_or_default();
                            tracing::info!(
                                order = id,
                                %status,
                                "the order list left out a live order; read it by id"
                            );
                            items.push(order);
                        }
                        Some(_) => gone.push(json!(id)),
                        None => tracing::warn!(
                            order = id,
                            "the order list left out an order and reading it by id returned nothing; its row is left as it is"
                        ),
                    },
                    Err(e) if e.status() == Some(404) => gone.push(json!(id)),
                    Err(e) => return Err(e.into()),
                }
            }
            written += items.len();
            if !items.is_empty() {
                self.writer
                    .write(PageBatch::new(stream, items, Vec::new(), None))
                    .await?;
            }
        }
        self.writer.mark_deleted(stream, gone).await?;
        Ok(written)
    }

    /// One page of the orders modified at or after `at` (epoch seconds, less a second
    /// for clock rounding), oldest first; `None` when the stream has no date filter.
    async fn read_orders_since(
        &self,
        stream: &'static StreamDescriptor,
        include: &[(String, String)],
        at: i64,
    ) -> Result<Option<Vec<Value>>> {
        let crate::streams::Replication::Incremental {
            min_param, sort, ..
        } = stream.replication
        else {
            return Ok(None);
        };
        let Some(since) = chrono::DateTime::from_timestamp(at - 1, 0) else {
            return Ok(None);
        };
        let mut q = include.to_vec();
        q.push((min_param.to_owned(), since.to_rfc3339()));
        q.extend(sort.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let page = self
            .client
            .v2_page("/orders", &q, 1, ORDER_RANGE as u32)
            .await?;
        Ok(Some(page.items))
    }

    /// The copy of a cart kept since its last read (see [`Self::apply_carts`]).
    async fn saved_cart(&self, id: &str) -> Result<Option<Value>> {
        Ok(self
            .inbox
            .meta(&format!("cart:{id}"))
            .await?
            .and_then(|t| serde_json::from_str::<Value>(&t).ok()))
    }

    /// Carts: one read each. The row gets the state the events told (`active`,
    /// `abandoned`, `converted`); a cart that no longer exists is marked deleted, except a
    /// converted one, whose last known copy is kept with its order id.
    async fn apply_carts(&self, plans: Vec<(String, Plan)>) -> Result<usize> {
        let reads = futures::stream::iter(plans)
            .map(|(id, plan)| async move {
                let saved = self.saved_cart(&id).await?;
                if plan.change == Change::Gone {
                    return Ok::<_, Error>((id, plan, None, saved));
                }
                // Abandonment and conversion change no line: the copy saved at the last
                // read is the cart (a converted cart has left the API anyway), so the
                // read is spared when there is one.
                if matches!(
                    plan.change,
                    Change::CartAbandoned | Change::CartConverted(_)
                ) && let Some(copy) = &saved
                    && copy.get("state") != Some(&json!("converted"))
                {
                    return Ok((id, plan, Some(copy.clone()), saved));
                }
                let req = ApiRequest::get(ApiVersion::V3, format!("/carts/{id}")).query(
                    "include",
                    "line_items.physical_items.options,line_items.digital_items.options",
                );
                match self.client.send(req).await {
                    Ok(resp) => {
                        let cart = resp.body.and_then(|b| b.get("data").cloned());
                        Ok((id, plan, cart, saved))
                    }
                    Err(e) if e.status() == Some(404) => Ok((id, plan, None, saved)),
                    Err(e) => Err(e.into()),
                }
            })
            .buffer_unordered(CART_READS)
            .collect::<Vec<_>>()
            .await;
        let mut records = Vec::new();
        let mut gone = Vec::new();
        // The saved copies change in one commit at the end (see below).
        let mut copies: Vec<(String, Option<String>)> = Vec::new();
        for r in reads {
            let (id, plan, cart, saved) = r?;
            let key = format!("cart:{id}");
            let was_converted = saved
                .as_ref()
                .is_some_and(|c| c.get("state") == Some(&json!("converted")));
            let at = chrono::DateTime::from_timestamp(plan.at, 0)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            let cart = match (cart, plan.change) {
                (Some(c), _) => c,
                (None, Change::Gone) => {
                    gone.push(Value::String(id));
                    copies.push((key, None));
                    continue;
                }
                // A converted cart leaves the API: a late event about it (deliveries are
                // unordered) finds nothing to read, and its row keeps the converted state.
                (None, _) if was_converted => continue,
                // Converted carts leave the API; keep the last copy we wrote.
                (None, Change::CartConverted(_)) => saved.unwrap_or_else(|| json!({ "id": id })),
                (None, _) => {
                    gone.push(Value::String(id));
                    copies.push((key, None));
                    continue;
                }
            };
            let mut cart = cart;
            let (state, abandoned, converted, order) = match plan.change {
                Change::CartAbandoned => ("abandoned", at.clone(), None, None),
                Change::CartConverted(order) => ("converted", None, at.clone(), order),
                _ => ("active", None, None, None),
            };
            if let Some(obj) = cart.as_object_mut() {
                obj.insert("state".into(), json!(state));
                obj.insert("abandoned_at".into(), json!(abandoned));
                obj.insert("converted_at".into(), json!(converted));
                obj.insert("order_id".into(), json!(order));
            }
            // The copy is kept only while the cart may still convert (its last state is
            // then all the API leaves us); a converted cart keeps a marker without the
            // shopper's data, so late events about it are recognised.
            let keep = if state == "converted" {
                json!({ "state": "converted" })
            } else {
                cart.clone()
            };
            copies.push((key, Some(keep.to_string())));
            records.push(cart);
        }
        let written = records.len();
        if !records.is_empty() {
            self.writer
                .write(PageBatch::new(&CARTS, records, Vec::new(), None))
                .await?;
        }
        self.writer.mark_deleted(&CARTS, gone).await?;
        self.inbox.update_meta(copies).await?;
        Ok(written)
    }
}
