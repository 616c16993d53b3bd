//! The Brevo forwarder of `bcsync listen`: after each applied round of webhook events (and
//! on a timer, since time alone makes a cart abandoned) it sends Brevo what changed, so a
//! store change reaches Brevo within seconds.
//!
//! Rules:
//! - Attributes, folder and lists are read (and created) once, when the listener starts
//!   ([`super::prepare`]): those routes share Brevo's small hourly bucket. A forward only
//!   writes on routes with buckets of their own: contacts one by one, `POST /products`,
//!   `POST /orders/status`, `POST /events` and list membership ([`super::SyncOptions::live`]).
//! - The same hashes in the push state store as `bcsync brevo sync`, under the same run
//!   lock, taken per forward: the two never send one change twice, nor at the same time
//!   (a forward that finds the lock held waits for the next one).
//! - History never fires automations: until a `brevo` run has succeeded for the store, a
//!   forward is that first bulk sync (orders as historical), recorded as a run. Carts and
//!   orders that exist at the first forward are recorded as a baseline and send no event;
//!   they put nobody on the abandoned-cart list until they change.
//! - Events are sent at most once: the intent is recorded before the request, and an
//!   event whose answer was lost is not sent again (a repeated event is a second event).
//! - A forward's cost follows the change, not the store's size: the first forward of a
//!   listener reads the whole warehouse and keeps it in memory; later ones read only the
//!   rows written or marked deleted since the previous read (with [`REREAD_MARGIN`] of
//!   overlap) and plan and compare only the contacts, products and orders those rows touch
//!   ([`warehouse::Scope`]). A forward that fails drops the copy, so the next one starts
//!   again from the whole warehouse, and so does the first forward after
//!   [`FULL_READ_EVERY`], which bounds what the overlap cannot catch. Categories, brands and
//!   the store's settings are what the last whole read found (`listen` does not change
//!   them; `bcsync brevo sync` sends them).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::push::mapping::Rejection;
use crate::state::push::{PushStore, TrackStatus, Tracked, open_push_store};

use super::carts::{self, CartView, Membership};
use super::config::BrevoConfig;
use super::warehouse::{self, RowIndex, Scope, Warehouse};
use super::{
    Prepared, RUN_NAME, SyncOptions, SyncReport, TRACK_CONTACTS, TRACK_ORDERS, TRACK_PRODUCTS,
    commerce, hash_of,
};

/// Tracking names of what only the forwarder sends.
pub const TRACK_CARTS: &str = "brevo:carts";
pub const TRACK_ABANDONED: &str = "brevo:abandoned";
pub const TRACK_ORDER_EVENTS: &str = "brevo:order_events";
/// The key that says a baseline was taken (it is no cart or order id).
const BASELINE: &str = "~baseline";

/// How far before the previous read a forward reads again: a row stamped just before that
/// read but committed just after it is still seen (a page is stamped as its write starts
/// and commits well under a second later), and so is a deletion mark stamped by a
/// PostgreSQL server whose clock is a few seconds behind ours. A row read twice is merged
/// as the same record and touches nothing ([`Warehouse::merge`]), so the margin costs
/// only reading the last seconds' rows again; a long one would also re-read everything an
/// extraction rewrote just before the listener started.
pub const REREAD_MARGIN: Duration = Duration::from_secs(10);

/// How long a copy of the warehouse serves before a forward reads the whole of it again.
/// The margin above covers a page committed late and clocks a few seconds apart; a row
/// stamped further back (an extraction on a host whose clock lags by more, a page whose
/// commit waited on locks) or a change the copy cannot see (brands and categories rewritten
/// by a scheduled `bcsync extract`, a destination recreated under the listener) would
/// otherwise stay unsent while the listener runs. A full read every ten minutes bounds
/// them, at the cost of one whole-warehouse forward per period.
pub const FULL_READ_EVERY: Duration = Duration::from_secs(600);

/// The warehouse as the last forward read it.
struct Cached {
    warehouse: Warehouse,
    index: RowIndex,
    /// When the last read started.
    read_at: DateTime<Utc>,
    /// When the whole warehouse was last read ([`FULL_READ_EVERY`]).
    loaded: Instant,
}

/// The forwarder of one listener.
pub struct Forwarder {
    prepared: Prepared,
    client: brevo::Client,
    /// The listener's destination, read as the warehouse.
    warehouse: String,
    store_hash: String,
    /// The push state store spec.
    state: String,
    /// Taken out by a forward and put back when it succeeds.
    cache: std::sync::Mutex<Option<Cached>>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("store_hash", &self.store_hash)
            .finish()
    }
}

impl Forwarder {
    /// Prepares Brevo's attributes and lists (the only requests in the shared bucket a
    /// listener makes, besides the first bulk sync).
    pub async fn prepare(
        config: &BrevoConfig,
        state: String,
        warehouse: String,
        store_hash: String,
    ) -> Result<Self> {
        let client = super::client(config)?;
        let mut report = SyncReport::default();
        let prepared = super::prepare(config, &client, false, &mut report).await?;
        Ok(Self {
            prepared,
            client,
            warehouse,
            store_hash,
            state,
            cache: std::sync::Mutex::new(None),
        })
    }

    /// How long the forwarder waits when nothing wakes it.
    pub fn interval(&self) -> Duration {
        self.prepared.config.forward_interval
    }

    /// One forward at `now`; `None` when a `bcsync brevo sync` holds the run lock.
    pub async fn forward(&self, now: DateTime<Utc>) -> Result<Option<SyncReport>> {
        let mut store = open_push_store(&self.state, &self.store_hash)?;
        if !store.try_lock(RUN_NAME)? {
            return Ok(None);
        }
        let read_at = Utc::now();
        let cached = self
            .cache
            .lock()
            .ok()
            .and_then(|mut c| c.take())
            .filter(|c| c.loaded.elapsed() < FULL_READ_EVERY);
        let (mut cached, scope) = self.read(cached, read_at).await?;
        let outcome = self
            .forward_read(&cached.warehouse, scope.as_ref(), store.as_mut(), now)
            .await;
        if outcome.is_ok() {
            cached.read_at = read_at;
            if let Ok(mut c) = self.cache.lock() {
                *c = Some(cached);
            }
        }
        outcome.map(Some)
    }

    /// The warehouse now: the whole of it without a copy, else the copy with what changed
    /// since its read merged in, and the scope of those changes.
    async fn read(
        &self,
        cached: Option<Cached>,
        read_at: DateTime<Utc>,
    ) -> Result<(Cached, Option<Scope>)> {
        let spec = self.warehouse.clone();
        let hash = self.store_hash.clone();
        let joined = |e: tokio::task::JoinError| {
            Error::Internal(format!("reading the warehouse stopped: {e}"))
        };
        match cached {
            None => {
                let w = tokio::task::spawn_blocking(move || warehouse::load(&spec, Some(&hash)))
                    .await
                    .map_err(joined)??;
                let index = w.index();
                Ok((
                    Cached {
                        warehouse: w,
                        index,
                        read_at,
                        loaded: Instant::now(),
                    },
                    None,
                ))
            }
            Some(mut c) => {
                let since = c.read_at
                    - chrono::Duration::from_std(REREAD_MARGIN).unwrap_or(chrono::Duration::zero());
                let changes = tokio::task::spawn_blocking(move || {
                    warehouse::load_changed(&spec, Some(&hash), since)
                })
                .await
                .map_err(joined)??;
                let scope = c.warehouse.merge(&mut c.index, changes);
                Ok((c, Some(scope)))
            }
        }
    }

    /// One forward from the warehouse `w`; with a `scope`, the contacts, products and
    /// orders outside it are known unchanged.
    async fn forward_read(
        &self,
        w: &Warehouse,
        scope: Option<&Scope>,
        store: &mut dyn PushStore,
        now: DateTime<Utc>,
    ) -> Result<SyncReport> {
        let before = self.client.stats();
        let mut report = SyncReport::default();
        if synced_before(store, &self.store_hash)? {
            super::sync_prepared(
                &self.prepared,
                &self.client,
                w,
                store,
                SyncOptions {
                    dry_run: false,
                    live: true,
                },
                scope,
                &mut report,
            )
            .await?;
        } else {
            report = self.first_sync(w, store).await?;
        }
        let views = carts::carts(w);
        let baseline = self.cart_events(&views, store, &mut report).await?;
        self.abandoned_list(&views, &baseline, store, now, &mut report)
            .await?;
        self.order_events(w, scope, store, &mut report).await?;
        let after = self.client.stats();
        report.requests = after
            .requests
            .iter()
            .map(|(b, n)| {
                (
                    b.to_string(),
                    n - before.requests.get(b).copied().unwrap_or(0),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        report.throttled = after.total_rate_limited() - before.total_rate_limited();
        Ok(report)
    }

    /// The first sync, in bulk with past orders as historical, recorded as a run exactly as
    /// `bcsync brevo sync` records its own.
    async fn first_sync(&self, w: &Warehouse, store: &mut dyn PushStore) -> Result<SyncReport> {
        tracing::info!("brevo: no sync has completed yet; sending the store's data in bulk first");
        let started = Instant::now();
        let started_at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut run = super::run_record(
            &self.store_hash,
            started_at.clone(),
            started,
            &Ok(SyncReport::default()),
        );
        run.status = "running".into();
        run.id = store.start_run(&run)?;
        let mut report = SyncReport::default();
        let result = super::sync_prepared(
            &self.prepared,
            &self.client,
            w,
            store,
            SyncOptions::default(),
            None,
            &mut report,
        )
        .await
        .map(|()| {
            super::finish_report(&self.client, &mut report);
            report
        });
        let mut record = super::run_record(&self.store_hash, started_at, started, &result);
        record.id = run.id;
        store.finish_run(&record)?;
        result
    }

    /// `cart_updated` for each cart whose content changed, `cart_deleted` for each sent
    /// cart the store deleted. Returns the carts of the baseline that never changed since.
    async fn cart_events(
        &self,
        views: &[CartView],
        store: &mut dyn PushStore,
        report: &mut SyncReport,
    ) -> Result<HashSet<String>> {
        let names = &self.prepared.config.events;
        let tracked = store.load(TRACK_CARTS)?;
        if !tracked.contains_key(BASELINE) {
            let mut records: Vec<Tracked> = views
                .iter()
                .map(|c| {
                    cart_record(
                        c,
                        TrackStatus::Applied,
                        json!({"baseline": true, "deleted": c.deleted}),
                    )
                })
                .collect();
            report.add("carts.baseline", records.len() as u64);
            records.push(marker());
            store.put(TRACK_CARTS, &records)?;
            return Ok(views.iter().map(|c| c.id.clone()).collect());
        }
        let field = |t: &Tracked, key: &str| {
            t.fields
                .as_ref()
                .and_then(|f| f.get(key))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        let mut baseline = HashSet::new();
        for c in views {
            let before = tracked.get(&c.id);
            if c.deleted {
                match before {
                    Some(t) if field(t, "deleted") => {}
                    Some(t) if field(t, "sent") && !field(t, "converted") => {
                        let mut properties = Map::new();
                        properties.insert("cart_id".into(), json!(c.id));
                        let email = t
                            .fields
                            .as_ref()
                            .and_then(|f| f.get("email"))
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                        let fields = json!({"sent": true, "deleted": true});
                        let hash = t.hash.clone().unwrap_or_default();
                        self.send_tracked(
                            store,
                            TRACK_CARTS,
                            Tracked {
                                key: c.id.clone(),
                                hash: Some(hash),
                                bc_id: None,
                                status: TrackStatus::Attempting,
                                fields: Some(fields),
                            },
                            email.map(|email| event(&names.cart_deleted, email, None, properties)),
                            "carts.deleted_events",
                            report,
                        )
                        .await?;
                    }
                    _ => {
                        store.put(
                            TRACK_CARTS,
                            &[cart_record(
                                c,
                                TrackStatus::Applied,
                                json!({"deleted": true}),
                            )],
                        )?;
                    }
                }
                continue;
            }
            let hash = cart_hash(c);
            if before.is_some_and(|t| t.hash.as_deref() == Some(hash.as_str())) {
                if before.is_some_and(|t| field(t, "baseline")) {
                    baseline.insert(c.id.clone());
                }
                continue;
            }
            if c.converted {
                // The order tells Brevo; the cart's last copy sends nothing.
                let sent = before.is_some_and(|t| field(t, "sent"));
                store.put(
                    TRACK_CARTS,
                    &[cart_record(
                        c,
                        TrackStatus::Applied,
                        json!({"converted": true, "sent": sent}),
                    )],
                )?;
                continue;
            }
            let Some(email) = c.email.clone() else {
                report.add("carts.without_email", 1);
                store.put(
                    TRACK_CARTS,
                    &[cart_record(c, TrackStatus::Applied, json!({}))],
                )?;
                continue;
            };
            let date = c.last_change.map(|t| t.to_rfc3339());
            self.send_tracked(
                store,
                TRACK_CARTS,
                cart_record(
                    c,
                    TrackStatus::Attempting,
                    json!({"sent": true, "email": email}),
                ),
                Some(event(
                    &names.cart_updated,
                    email,
                    date,
                    c.properties.clone(),
                )),
                "carts.updated_events",
                report,
            )
            .await?;
        }
        Ok(baseline)
    }

    /// Records the intent, sends the event, records the outcome: applied, or refused for
    /// good (a 4xx: not sent again until the record changes). Another failure leaves the
    /// intent, so the same content is never sent twice, and ends the forward.
    #[allow(clippy::too_many_arguments)]
    async fn send_tracked(
        &self,
        store: &mut dyn PushStore,
        track: &str,
        mut record: Tracked,
        event: Option<brevo::Event>,
        counter: &str,
        report: &mut SyncReport,
    ) -> Result<()> {
        let Some(event) = event else {
            record.status = TrackStatus::Applied;
            store.put(track, &[record])?;
            return Ok(());
        };
        record.status = TrackStatus::Attempting;
        store.put(track, std::slice::from_ref(&record))?;
        match self.client.send_event(&event).await {
            Ok(()) => {
                record.status = TrackStatus::Applied;
                store.put(track, &[record])?;
                report.add(counter, 1);
                Ok(())
            }
            Err(
                e @ (brevo::Error::Api {
                    status: 400..=499, ..
                }
                | brevo::Error::TooLarge { .. }),
            ) => {
                record.status = TrackStatus::Rejected;
                report.add("events.refused", 1);
                report.refusals.push(Rejection {
                    row: 0,
                    key: Some(format!("{} {}", event.event_name, record.key)),
                    field: None,
                    reason: e.to_string(),
                });
                store.put(track, &[record])?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Puts contacts with an abandoned cart on the abandoned-cart list and takes them off
    /// when the cart converts or is deleted ([`carts::list_moves`]).
    async fn abandoned_list(
        &self,
        views: &[CartView],
        baseline: &HashSet<String>,
        store: &mut dyn PushStore,
        now: DateTime<Utc>,
        report: &mut SyncReport,
    ) -> Result<()> {
        let Some(list) = self.prepared.lists.abandoned_cart else {
            return Ok(());
        };
        let tracked = store.load(TRACK_ABANDONED)?;
        let members: HashMap<String, Membership> = tracked
            .iter()
            .filter_map(|(k, t)| {
                let m = serde_json::from_value(t.fields.clone()?).ok()?;
                Some((k.clone(), m))
            })
            .collect();
        let eligible: Vec<&CartView> = views.iter().filter(|c| !baseline.contains(&c.id)).collect();
        let moves = carts::list_moves(
            &eligible,
            &members,
            &self.prepared.config.abandoned_cart,
            now,
        );
        let mut adds: Vec<String> = Vec::new();
        let mut removes: Vec<String> = Vec::new();
        for (email, next) in &moves {
            let was_on = members.get(email).is_some_and(|m| m.on_list);
            match (was_on, next.on_list) {
                (false, true) => adds.push(email.clone()),
                (true, false) => removes.push(email.clone()),
                _ => {}
            }
        }
        let mut records = moves;
        if !adds.is_empty() {
            let change = self
                .client
                .add_to_list(list, &brevo::Members::Emails(adds.clone()))
                .await?;
            let added: HashSet<String> = change
                .success
                .iter()
                .map(|e| brevo::normalize_email(e))
                .collect();
            for email in &adds {
                if added.contains(email) {
                    report.add("abandoned_cart.added", 1);
                    continue;
                }
                // Refused: already a member, or no contact has this address (a guest).
                let member = match self
                    .client
                    .contact(&brevo::ContactKey::Email(email.clone()))
                    .await?
                {
                    Some(c) => c.list_ids.contains(&list),
                    None => false,
                };
                if !member {
                    report.add("abandoned_cart.not_contacts", 1);
                    if let Some(m) = records.get_mut(email) {
                        // Not on the list; the debounce spares a request per forward.
                        m.on_list = false;
                    }
                }
            }
        }
        if !removes.is_empty() {
            let change = self
                .client
                .remove_from_list(list, &brevo::Members::Emails(removes.clone()))
                .await?;
            report.add("abandoned_cart.removed", change.success.len() as u64);
        }
        let rows: Vec<Tracked> = records
            .into_iter()
            .map(|(email, m)| Tracked {
                key: email,
                hash: None,
                bc_id: None,
                status: TrackStatus::Applied,
                fields: serde_json::to_value(&m).ok(),
            })
            .collect();
        if !rows.is_empty() {
            store.put(TRACK_ABANDONED, &rows)?;
        }
        Ok(())
    }

    /// `order_placed` and `order_status_changed`, when named in `[brevo.events]`, for
    /// orders that appear or change after the first forward.
    async fn order_events(
        &self,
        w: &Warehouse,
        scope: Option<&Scope>,
        store: &mut dyn PushStore,
        report: &mut SyncReport,
    ) -> Result<()> {
        let names = &self.prepared.config.events;
        if names.order_placed.is_none() && names.order_status_changed.is_none() {
            return Ok(());
        }
        // Scoped: the changed orders' records and the baseline marker; without the marker
        // the baseline is taken over every order, as on a first forward.
        let mut scope = scope;
        let mut tracked = HashMap::new();
        if let Some(s) = scope {
            let mut keys: Vec<String> = s.orders.iter().map(i64::to_string).collect();
            keys.push(BASELINE.to_owned());
            tracked = store.load_keys(TRACK_ORDER_EVENTS, &keys)?;
            if !tracked.contains_key(BASELINE) {
                scope = None;
            }
        }
        if scope.is_none() {
            tracked = store.load(TRACK_ORDER_EVENTS)?;
        }
        let live = w.orders.iter().filter(|o| {
            o.deleted_at.is_none()
                && scope.is_none_or(|s| {
                    o.raw
                        .get("id")
                        .and_then(Value::as_i64)
                        .is_some_and(|id| s.orders.contains(&id))
                })
        });
        let status_of = |o: &commerce::Row| o.raw.get("status_id").and_then(Value::as_i64);
        if !tracked.contains_key(BASELINE) {
            let mut records: Vec<Tracked> = live
                .filter_map(|o| Some(order_record(&o.raw, status_of(o)?)))
                .collect();
            report.add("orders.events_baseline", records.len() as u64);
            records.push(marker());
            store.put(TRACK_ORDER_EVENTS, &records)?;
            return Ok(());
        }
        for o in live {
            let (Some(id), Some(status)) = (o.raw.get("id").and_then(Value::as_i64), status_of(o))
            else {
                continue;
            };
            let before: Option<i64> = tracked
                .get(&id.to_string())
                .and_then(|t| t.hash.as_deref())
                .and_then(|h| h.parse().ok());
            if before == Some(status) {
                continue;
            }
            let email = o
                .raw
                .pointer("/billing_address/email")
                .and_then(Value::as_str)
                .map(super::contacts::normalise_email)
                .filter(|e| super::contacts::plausible_email(e));
            let mut properties = order_properties(&o.raw);
            // Status 0 is an unfinished checkout, not an order yet.
            let name = match before {
                None | Some(0) if status != 0 => names.order_placed.as_ref(),
                Some(previous) if previous != 0 && status != 0 => {
                    properties.insert("previous_status_id".into(), json!(previous));
                    names.order_status_changed.as_ref()
                }
                _ => None,
            };
            let counter = if before.is_none_or(|b| b == 0) {
                "orders.placed_events"
            } else {
                "orders.status_events"
            };
            let event = match (name, email) {
                (Some(name), Some(email)) => Some(event(name, email, None, properties)),
                _ => None,
            };
            self.send_tracked(
                store,
                TRACK_ORDER_EVENTS,
                order_record(&o.raw, status),
                event,
                counter,
                report,
            )
            .await?;
        }
        Ok(())
    }
}

/// Whether a `brevo` run has completed for this store (else the next forward is the first,
/// bulk sync). Tracked records alone do not say it: a first run that failed after the
/// contacts has not sent the past orders as historical yet.
fn synced_before(store: &dyn PushStore, store_hash: &str) -> Result<bool> {
    if store
        .latest_runs()?
        .iter()
        .any(|r| r.sync == RUN_NAME && r.store == store_hash && r.status == "ok" && !r.dry_run)
    {
        return Ok(true);
    }
    // A store whose runs were pruned, but whose every kind was sent.
    Ok(!store.load(TRACK_CONTACTS)?.is_empty()
        && !store.load(TRACK_ORDERS)?.is_empty()
        && !store.load(TRACK_PRODUCTS)?.is_empty())
}

fn marker() -> Tracked {
    Tracked {
        key: BASELINE.to_owned(),
        hash: None,
        bc_id: None,
        status: TrackStatus::Applied,
        fields: None,
    }
}

/// What a cart's event depends on: its contact and its content (not its state: the store
/// marking a cart abandoned changes no line).
fn cart_hash(c: &CartView) -> String {
    hash_of(&json!({"email": c.email, "properties": c.properties}))
}

fn cart_record(c: &CartView, status: TrackStatus, fields: Value) -> Tracked {
    Tracked {
        key: c.id.clone(),
        hash: Some(cart_hash(c)),
        bc_id: None,
        status,
        fields: Some(fields),
    }
}

fn order_record(raw: &Value, status: i64) -> Tracked {
    Tracked {
        key: raw
            .get("id")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .to_string(),
        hash: Some(status.to_string()),
        bc_id: None,
        status: TrackStatus::Applied,
        fields: None,
    }
}

fn order_properties(raw: &Value) -> Map<String, Value> {
    let items: Vec<Value> = crate::streams::children::order_lines(raw)
        .iter()
        .map(|l| {
            json!({
                "product_id": l.get("product_id").and_then(Value::as_i64),
                "variant_id": l.get("variant_id").and_then(Value::as_i64),
                "name": l.get("name").and_then(Value::as_str),
                "sku": l.get("sku").and_then(Value::as_str),
                "quantity": commerce::number(l.get("quantity")),
                "price": commerce::number(l.get("price_inc_tax"))
                    .or_else(|| commerce::number(l.get("base_price"))),
            })
        })
        .collect();
    let mut p = Map::new();
    p.insert("order_id".into(), json!(raw.get("id")));
    p.insert("status_id".into(), json!(raw.get("status_id")));
    p.insert("status".into(), json!(raw.get("status")));
    p.insert(
        "amount".into(),
        json!(commerce::number(raw.get("total_inc_tax"))),
    );
    p.insert("currency".into(), json!(raw.get("currency_code")));
    p.insert("items".into(), Value::Array(items));
    p
}

fn event(
    name: &str,
    email: String,
    date: Option<String>,
    properties: Map<String, Value>,
) -> brevo::Event {
    brevo::Event {
        event_name: name.to_owned(),
        identifiers: brevo::EventIdentifiers {
            email_id: Some(email),
            ..Default::default()
        },
        event_date: date,
        contact_properties: Map::new(),
        event_properties: properties,
    }
}
