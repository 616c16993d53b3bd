//! One push run: read and map the source, plan against the tracking store, resolve keys
//! to ids with batched lookups, guard destructive runs, write through
//! [`bigcommerce::batch`], record every outcome.
//!
//! Plan: a row is *added* (no tracked record, or a create whose outcome is unknown),
//! *changed* (hash differs from the last applied one, or it was rejected last run), or
//! *unchanged*; tracked records missing from the source are *removed*. Only added and
//! changed rows are sent, so an unchanged rerun makes no write request.
//!
//! Lookups: `email:in` / `sku:in` / `id:in`, [`LOOKUP_BATCH`] keys per GET. 50 keys keep
//! the URL well under the ~8 KB that proxies accept even for 255-character emails
//! percent-encoded, and the answer fits in one page of 250. A key holding a comma (the
//! list separator) is asked for alone with the exact filter (`sku=`); orders are found by
//! `external_order_id=`, one GET each (V2 has no list filter).
//!
//! Recovery: a create left `attempting` by a crashed run is looked up; when the record
//! found already holds what the row maps to, nothing is sent and it counts as
//! `recovered` (an update is sent only for fields that really differ).
//!
//! Dry run: "before" values are the store's own, read with the same batched lookups
//! (`id:in`, 50 per GET), so a plan shows what the store holds now, not what bcsync last
//! sent.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use bigcommerce::batch::{self, BatchEndpoint, ItemOutcome, Method};
use bigcommerce::{ApiRequest, ApiVersion, Client, limits};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::config::{FieldMap, Mode, Object, OnDelete, SyncDef};
use super::mapping::{Rejection, get_path, map_row, normalise_key};
use crate::error::{Error, Result};
use crate::sources::Row;
use crate::state::push::{PushStore, RequestLog, RunRecord, TrackStatus, Tracked};

/// Keys per lookup request (see the module docs).
pub const LOOKUP_BATCH: usize = 50;
/// Rounds of "look up, then create again" for creates whose answer was lost in this run.
const RECOVERY_ROUNDS: usize = 4;
/// Ids per `DELETE ...?id:in=` for customers (products allow 250, docs/api-notes.md §3.1).
const CUSTOMERS_DELETE_BATCH: usize = 50;

/// Records written per slot of concurrency between two looks at the interrupt token: an
/// interrupted push stops within one such slice (10 rounds of full batches: 10 is the
/// customers batch and the products PUT batch). A slice ends with a wait for its slowest
/// batch and starts with one batch alone, so slices are kept long enough that those two
/// cost about a tenth of a round each instead of a round per ten records.
const RECORDS_PER_SLOT: usize = 100;

/// Flags of `bcsync push`.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    pub dry_run: bool,
    pub full_resync: bool,
    pub reset_tracking: bool,
    pub force: bool,
    /// Cancelled on Ctrl-C or SIGTERM: the run sends no new batch, finishes the writes in
    /// progress, and is recorded as `interrupted` with its counts so far.
    pub interrupt: tokio_util::sync::CancellationToken,
}

/// One field of a dry-run diff.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Value,
    pub after: Value,
}

/// One record of a dry-run plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedChange {
    pub key: String,
    pub row: u64,
    /// `create`, `update`, `delete` or `clear`.
    pub op: String,
    pub bc_id: Option<i64>,
    pub changes: Vec<FieldChange>,
}

/// What a run did (or, for a dry run, would do).
#[derive(Debug, Clone)]
pub struct PushOutcome {
    pub run: RunRecord,
    pub plan: Vec<PlannedChange>,
    /// Rejected rows exceed the sync's `max_rejected`.
    pub over_threshold: bool,
}

/// A row to send.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub(super) row: u64,
    pub(super) key: String,
    pub(super) hash: String,
    pub(super) payload: Map<String, Value>,
    pub(super) bc_id: Option<i64>,
    /// A create was sent before and never confirmed: look it up first.
    pub(super) unknown_outcome: bool,
    pub(super) before: Option<Value>,
    /// `before` is what the store holds: the last run applied this row in full and no
    /// `--full-resync` was asked. Only then may unchanged parts of the row be skipped.
    pub(super) trust_before: bool,
    /// Created in this run: nested records (addresses, variants) went inline with it.
    pub(super) created: bool,
}

impl Pending {
    /// Whether the record's own fields (what its `PUT` carries) differ from the store's.
    pub(super) fn core_changed(&self, object: Object) -> bool {
        match (&self.before, self.trust_before) {
            (Some(Value::Object(before)), true) => {
                core_fields(object, before) != core_fields(object, &self.payload)
            }
            _ => true,
        }
    }

    /// Whether the named values under `key` (attributes, custom fields) changed.
    pub(super) fn named_changed(&self, key: &str) -> bool {
        match (&self.before, self.trust_before) {
            (Some(before), true) => before.get(key) != self.payload.get(key),
            _ => true,
        }
    }

    /// Positions of the nested array `key` whose mapped fields changed (all of them when
    /// the store's state is not known from the last run).
    pub(super) fn nested_changed(&self, key: &str) -> Vec<usize> {
        let Some(Value::Array(items)) = self.payload.get(key) else {
            return Vec::new();
        };
        let old = match (&self.before, self.trust_before) {
            (Some(before), true) => before.get(key).and_then(Value::as_array),
            _ => None,
        };
        items
            .iter()
            .enumerate()
            .filter(|(i, item)| {
                item.is_object()
                    && (!self.trust_before || old.and_then(|o| o.get(*i)) != Some(*item))
            })
            .map(|(i, _)| i)
            .collect()
    }
}

/// The fields a record's own `PUT` carries: the payload without its sub-resources.
fn core_fields(object: Object, payload: &Map<String, Value>) -> Map<String, Value> {
    let mut body = payload.clone();
    match object {
        // Sub-resources cannot change through PUT /customers (docs/api-notes.md §2.3).
        Object::Customers => {
            body.remove("addresses");
            body.remove("attributes");
        }
        // Variants and custom fields are written through their own endpoints.
        Object::Products => {
            body.remove("variants");
            body.remove("custom_fields");
        }
        // A line without an `id` is *added* by PUT /orders/{id} (docs/api-notes.md §6.4), so lines
        // are written on create only; the order's own fields (status, addresses...) update.
        Object::Orders => {
            body.remove("products");
        }
    }
    body
}

fn hash_payload(p: &Map<String, Value>) -> String {
    let bytes = serde_json::to_vec(p).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(super) struct Run<'a> {
    pub(super) client: Client,
    pub(super) def: &'a SyncDef,
    pub(super) store: &'a mut dyn PushStore,
    /// The run's record id (0 for a dry run, recorded only at its end) and its requests,
    /// of which `logged` are already in the store for the live debugger.
    run_id: i64,
    log: Arc<RequestLog>,
    logged: usize,
    pub(super) counts: BTreeMap<String, u64>,
    pub(super) rejected: Vec<Rejection>,
    /// The sync's `concurrency`, if it set one.
    chunks_in_flight: Option<usize>,
    pub(super) interrupt: tokio_util::sync::CancellationToken,
}

impl Run<'_> {
    /// Chunks sent at once: the sync's `concurrency`, else the client's in-flight limit
    /// (asked each time: it grows as the client learns the store's latency).
    pub(super) fn concurrency(&self) -> usize {
        self.chunks_in_flight
            .unwrap_or_else(|| self.client.in_flight_limit())
            .max(1)
    }

    pub(super) fn bump(&mut self, what: &str, n: u64) {
        *self.counts.entry(what.to_owned()).or_default() += n;
    }

    pub(super) fn reject(&mut self, r: Rejection) {
        self.bump("rejected", 1);
        self.rejected.push(r);
    }

    /// Records what was applied, then the requests made since the last call, so that
    /// `bcsync ui` shows a running run's requests as they happen. The requests are only
    /// shown: failing to log them never fails the run.
    pub(super) fn put(&mut self, records: &[Tracked]) -> Result<()> {
        self.store.put(&self.def.name, records)?;
        if self.run_id != 0 {
            let new = self.log.since(self.logged);
            if !new.is_empty() {
                match self.store.log_requests(self.run_id, self.logged, &new) {
                    Ok(()) => self.logged += new.len(),
                    Err(e) => tracing::debug!("could not log the run's requests yet: {e}"),
                }
            }
        }
        Ok(())
    }
}

/// Runs one sync.
pub async fn run_sync(
    client: &Client,
    store: &mut dyn PushStore,
    def: &SyncDef,
    opts: &PushOptions,
) -> Result<PushOutcome> {
    def.validate()?;
    if !opts.dry_run {
        // Two runs of one sync would interleave creates; a dry run only reads.
        crate::state::push::take_run_lock(store, &def.name).await?;
    }
    let started = Instant::now();
    let started_at = now();
    let run_id = record_start(store, def, opts, &started_at)?;
    let log = Arc::new(RequestLog::default());
    let client = client.clone().with_observer(log.clone());
    let mut run = Run {
        client,
        def,
        store,
        run_id,
        log: Arc::clone(&log),
        logged: 0,
        counts: BTreeMap::new(),
        rejected: Vec::new(),
        chunks_in_flight: def.concurrency,
        interrupt: opts.interrupt.clone(),
    };
    let mut record = RunRecord {
        id: run_id,
        sync: def.name.clone(),
        started_at,
        dry_run: opts.dry_run,
        status: "ok".into(),
        ..RunRecord::default()
    };
    let mut plan = Vec::new();

    let result = if opts.reset_tracking {
        if opts.dry_run {
            let n = run.store.load(&def.name)?.len() as u64;
            run.bump("would_forget", n);
        } else {
            let n = run.store.reset(&def.name)?;
            run.bump("forgotten", n);
        }
        Ok(())
    } else {
        execute(&mut run, opts, &mut plan).await
    };
    match result {
        Ok(()) => {}
        Err(e @ (Error::EmptySourceRefused { .. } | Error::TooManyRemovedRefused { .. })) => {
            record.status = "refused".into();
            record.message = Some(e.to_string());
        }
        Err(e @ Error::Interrupted) => {
            record.status = crate::state::push::INTERRUPTED.into();
            record.message = Some(e.to_string());
        }
        Err(e) => {
            record.status = "failed".into();
            record.message = Some(e.to_string());
        }
    }
    let entries = log.take();
    record.count_requests(&entries);
    record.request_log = entries;
    record.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    record.finished_at = now();
    let rejected_count = run.rejected.len() as u64;
    record.rejected = std::mem::take(&mut run.rejected);
    record.counts = std::mem::take(&mut run.counts);
    let over_threshold = rejected_count > def.max_rejected;
    if over_threshold && record.status == "ok" {
        record.status = "rejected_over_threshold".into();
    }
    if record.id == 0 {
        record.id = run.store.save_run(&record)?;
    } else {
        run.store.finish_run(&record)?;
    }
    Ok(PushOutcome {
        run: record,
        plan,
        over_threshold,
    })
}

/// A run that writes is recorded as `running` before it sends anything, so one killed
/// mid-way shows in `bcsync runs` (as interrupted); its record is completed at the end.
/// Returns its id, or 0 for a dry run (recorded once, at the end: it writes nothing).
fn record_start(
    store: &mut dyn PushStore,
    def: &SyncDef,
    opts: &PushOptions,
    started_at: &str,
) -> Result<i64> {
    if opts.dry_run {
        return Ok(0);
    }
    store.start_run(&RunRecord {
        sync: def.name.clone(),
        started_at: started_at.to_owned(),
        status: "running".into(),
        ..RunRecord::default()
    })
}

async fn execute(
    run: &mut Run<'_>,
    opts: &PushOptions,
    plan: &mut Vec<PlannedChange>,
) -> Result<()> {
    let def = run.def;
    let fields = def.fields()?;
    let tracked = run.store.load(&def.name)?;

    // 1. Read, map and check every row; keep only what must be sent.
    let mut rows =
        crate::sources::open_mapped(def.source.build()?.as_ref(), &def.name, &fields).await?;
    let mut seen: HashMap<String, (u64, &'static str)> = HashMap::new();
    let mut protected: HashSet<String> = HashSet::new();
    let mut duplicates: HashMap<String, Vec<u64>> = HashMap::new();
    let mut to_send: HashMap<String, Pending> = HashMap::new();
    let mut source_rows = 0u64;
    let mut deletes_held_by: Vec<String> = Vec::new();
    while let Some(row) = rows.recv().await {
        let row = row?;
        source_rows += 1;
        let mapped = match map_row(def, &fields, &row) {
            Ok(m) => m,
            Err(r) => {
                // An invalid row is still in the source: its record must not count as removed.
                let key = raw_key(def, &fields, &row);
                if let Some(why) = unsure_row(def, &row, key.as_deref()) {
                    deletes_held_by.push(why);
                }
                if let Some(k) = key {
                    protected.insert(k);
                }
                run.bump("invalid", 1);
                run.reject(r);
                continue;
            }
        };
        if let Some((first, _)) = seen.get(&mapped.key) {
            duplicates
                .entry(mapped.key.clone())
                .or_insert_with(|| vec![*first])
                .push(mapped.row);
            continue;
        }
        let hash = hash_payload(&mapped.payload);
        let t = tracked.get(&mapped.key);
        let trust_before = !opts.full_resync && t.is_some_and(|t| t.status == TrackStatus::Applied);
        let (class, bc_id, unknown) = match t {
            None => ("added", None, false),
            Some(t) if t.status == TrackStatus::Attempting => ("added", t.bc_id, t.bc_id.is_none()),
            Some(t) if t.bc_id.is_none() => ("added", None, false),
            Some(t)
                if t.status == TrackStatus::Applied
                    && t.hash.as_deref() == Some(hash.as_str())
                    && !opts.full_resync =>
            {
                ("unchanged", t.bc_id, false)
            }
            Some(t) => ("changed", t.bc_id, false),
        };
        seen.insert(mapped.key.clone(), (mapped.row, class));
        run.bump(class, 1);
        if class == "unchanged" {
            continue;
        }
        if class == "changed" && def.mode == Mode::Insert {
            run.bump("skipped_insert_only", 1);
            continue;
        }
        to_send.insert(
            mapped.key.clone(),
            Pending {
                row: mapped.row,
                key: mapped.key,
                hash,
                payload: mapped.payload,
                bc_id,
                unknown_outcome: unknown,
                before: t.and_then(|t| t.fields.clone()),
                trust_before,
                created: false,
            },
        );
    }
    for (key, rows_of_key) in duplicates {
        // Which of the rows is right cannot be known: none of them is sent.
        to_send.remove(&key);
        if let Some((_, class)) = seen.get(&key)
            && let Some(c) = run.counts.get_mut(*class)
        {
            *c = c.saturating_sub(1);
        }
        for r in rows_of_key {
            run.bump("invalid", 1);
            run.reject(Rejection {
                row: r,
                key: Some(key.clone()),
                field: Some(def.match_key.clone()),
                reason: format!(
                    "duplicate {} {key:?} in the source; each key may appear once",
                    def.match_key
                ),
            });
        }
    }
    run.bump("source_rows", source_rows);

    // 2. Removed: tracked and applied, but no longer in the source.
    let on_delete = def.on_delete();
    let mut removed: Vec<&Tracked> = tracked
        .values()
        .filter(|t| !seen.contains_key(&t.key) && !protected.contains(&t.key) && t.bc_id.is_some())
        .collect();
    hold_deletes(def, &deletes_held_by, &mut removed);
    run.bump("removed", removed.len() as u64);
    if on_delete != OnDelete::Nothing && !removed.is_empty() && !opts.force {
        let base = tracked
            .values()
            .filter(|t| t.bc_id.is_some())
            .count()
            .max(1);
        let percent = removed.len() as f64 * 100.0 / base as f64;
        if source_rows == 0 {
            return Err(Error::EmptySourceRefused {
                count: removed.len(),
                action: if on_delete == OnDelete::Delete {
                    "deleted"
                } else {
                    "cleared"
                },
            });
        }
        if percent > def.max_delete_percent {
            return Err(Error::TooManyRemovedRefused {
                removed: removed.len(),
                tracked: base,
                percent,
                limit: def.max_delete_percent,
            });
        }
    }

    // 3. Resolve ids: rows that may already exist in the store.
    let mut pendings: Vec<Pending> = to_send.into_values().collect();
    pendings.sort_by_key(|p| p.row);
    let needs_lookup =
        |p: &Pending| p.bc_id.is_none() && (p.unknown_outcome || def.mode != Mode::Insert);
    let by_reference = orders_by_reference(def);
    if def.object == Object::Orders && !by_reference {
        // Keyed by BigCommerce id: the key is the order id itself (update mode), and only
        // creates with an unknown outcome are looked up, by their marker.
        for p in &mut pendings {
            if p.bc_id.is_none() && def.mode == Mode::Update {
                p.bc_id = p.key.parse().ok();
            }
        }
    }
    // Records found by lookup, by key: what the store holds now.
    let mut store_records: HashMap<String, Value> = HashMap::new();
    {
        let wanted: Vec<&Pending> = pendings
            .iter()
            .filter(|p| {
                needs_lookup(p)
                    && (def.object != Object::Orders || by_reference || p.unknown_outcome)
            })
            .collect();
        let found = find_existing(&run.client, def, &wanted).await?;
        for p in &mut pendings {
            if p.bc_id.is_none()
                && let Some(f) = found.get(&p.key)
            {
                p.bc_id = Some(f.id);
                store_records.insert(p.key.clone(), f.record.clone());
            }
        }
    }
    let (mut updates, mut creates): (Vec<Pending>, Vec<Pending>) =
        pendings.into_iter().partition(|p| p.bc_id.is_some());
    if def.mode == Mode::Update {
        for p in creates.drain(..) {
            run.reject(Rejection {
                row: p.row,
                key: Some(p.key.clone()),
                field: Some(def.match_key.clone()),
                reason: format!(
                    "no {} with {} {:?} exists; use mode = \"upsert\" to create it",
                    object_noun(def.object),
                    def.match_key,
                    p.key
                ),
            });
        }
    }
    // A found record of a create left `attempting` is an earlier create that did land (its
    // answer was lost). In insert mode it is recorded as applied, never updated; otherwise
    // it is updated only when the store's record differs from what the row maps to.
    let (recovered, rest): (Vec<Pending>, Vec<Pending>) = updates.into_iter().partition(|p| {
        p.unknown_outcome
            && (def.mode == Mode::Insert
                || store_records
                    .get(&p.key)
                    .is_some_and(|r| store_agrees(def.object, &p.payload, r)))
    });
    updates = rest;

    if opts.dry_run {
        // "before" is what the store holds now, not what bcsync last sent.
        let missing: Vec<i64> = updates
            .iter()
            .filter(|p| !store_records.contains_key(&p.key))
            .filter_map(|p| p.bc_id)
            .collect();
        let by_id = fetch_by_ids(&run.client, def, &missing).await?;
        for p in &mut updates {
            let record = store_records
                .get(&p.key)
                .or_else(|| p.bc_id.and_then(|id| by_id.get(&id)));
            if let Some(record) = record {
                p.before = Some(store_before(
                    def.object,
                    &p.payload,
                    record,
                    p.before.as_ref(),
                ));
            }
        }
        for p in &recovered {
            plan.push(PlannedChange {
                key: p.key.clone(),
                row: p.row,
                op: "recovered".into(),
                bc_id: p.bc_id,
                changes: Vec::new(),
            });
        }
        for p in &creates {
            plan.push(PlannedChange {
                key: p.key.clone(),
                row: p.row,
                op: "create".into(),
                bc_id: None,
                changes: diff(None, &p.payload),
            });
        }
        for p in &updates {
            plan.push(PlannedChange {
                key: p.key.clone(),
                row: p.row,
                op: "update".into(),
                bc_id: p.bc_id,
                changes: diff(p.before.as_ref(), &p.payload),
            });
        }
        if on_delete != OnDelete::Nothing {
            for t in &removed {
                let op = if on_delete == OnDelete::Delete {
                    "delete"
                } else {
                    "clear"
                };
                let changes = match (on_delete, &t.fields) {
                    (OnDelete::Clear, Some(Value::Object(f))) => clear_payload(def.object, f)
                        .into_iter()
                        .map(|(k, v)| FieldChange {
                            before: f.get(&k).cloned().unwrap_or(Value::Null),
                            field: k,
                            after: v,
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                plan.push(PlannedChange {
                    key: t.key.clone(),
                    row: 0,
                    op: op.into(),
                    bc_id: t.bc_id,
                    changes,
                });
            }
        }
        plan.sort_by(|a, b| (a.row, &a.key).cmp(&(b.row, &b.key)));
        run.bump("would_create", creates.len() as u64);
        run.bump("would_update", updates.len() as u64);
        run.bump("would_recover", recovered.len() as u64);
        return Ok(());
    }

    // 4. Write.
    let mut followups = Vec::new();
    let mut records = Vec::with_capacity(recovered.len());
    for p in &recovered {
        // Sent in full with that create only when the row is as it was then; else its
        // nested records (addresses, variants) are checked on their own endpoints.
        let same_row = tracked
            .get(&p.key)
            .and_then(|t| t.hash.as_deref())
            .is_some_and(|h| h == p.hash);
        records.push(settle(def.object, p, p.bc_id, same_row, &mut followups));
    }
    run.bump("recovered", records.len() as u64);
    run.put(&records)?;
    // Written a slice at a time, so an interrupt stops before the next slice; the
    // sub-resources of records already written still follow, so none is left half done.
    let slice = RECORDS_PER_SLOT * run.concurrency();
    let mut updates = updates.into_iter().peekable();
    while updates.peek().is_some() && !run.interrupt.is_cancelled() {
        let part: Vec<Pending> = updates.by_ref().take(slice).collect();
        followups.extend(send_updates(run, part).await?);
    }
    let mut creates = creates.into_iter().peekable();
    while creates.peek().is_some() && !run.interrupt.is_cancelled() {
        let part: Vec<Pending> = creates.by_ref().take(slice).collect();
        followups.extend(send_creates(run, part).await?);
    }
    if !followups.is_empty() {
        super::subresources::send(run, followups).await?;
    }
    if run.interrupt.is_cancelled() {
        return Err(Error::Interrupted);
    }
    match on_delete {
        OnDelete::Nothing => {}
        OnDelete::Delete => send_deletes(run, &removed).await?,
        OnDelete::Clear => send_clears(run, &removed).await?,
    }
    Ok(())
}

/// The match key of a row that failed mapping, when it can be read at all.
fn raw_key(def: &SyncDef, fields: &[FieldMap], row: &Row) -> Option<String> {
    let column = &fields.iter().find(|f| f.field == def.match_key)?.column;
    let text = match row.values.get(column)? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let key = normalise_key(&def.match_key, &text);
    (!key.is_empty()).then_some(key)
}

/// Why a rejected row makes this run's deletes unsafe, if it does: a row the source could
/// not read in full (a ragged line's cells may be shifted, a non-UTF-8 key differs from the
/// tracked one), or one without a key, may be a tracked record that would count as removed.
fn unsure_row(def: &SyncDef, row: &Row, key: Option<&str>) -> Option<String> {
    match (&row.unreadable, key) {
        (Some(reason), _) => Some(reason.clone()),
        (None, None) => Some(format!("row {} has no {}", row.number, def.match_key)),
        (None, Some(_)) => None,
    }
}

/// Skips the delete (or clear) phase of a run in which some rows were unsure (see
/// [`unsure_row`]), saying so on stderr: the records they hold cannot be told apart from
/// removed ones. Deletes resume on the next run whose rows all read cleanly.
fn hold_deletes(def: &SyncDef, unsure: &[String], removed: &mut Vec<&Tracked>) {
    if unsure.is_empty() || def.on_delete() == OnDelete::Nothing {
        return;
    }
    let shown: Vec<&str> = unsure.iter().take(5).map(String::as_str).collect();
    let more = unsure.len().saturating_sub(shown.len());
    let what = if def.on_delete() == OnDelete::Delete {
        "deletes"
    } else {
        "clears"
    };
    eprintln!(
        "sync {}: {what} skipped this run, as some rows could not be read with their key ({}{}); {what} resume on a run where every row reads cleanly",
        def.name,
        shown.join("; "),
        if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        }
    );
    removed.clear();
}

fn object_noun(o: Object) -> &'static str {
    match o {
        Object::Customers => "customer",
        Object::Products => "product",
        Object::Orders => "order",
    }
}

pub(super) fn applied(p: &Pending, bc_id: Option<i64>) -> Tracked {
    Tracked {
        key: p.key.clone(),
        hash: Some(p.hash.clone()),
        bc_id,
        status: TrackStatus::Applied,
        fields: Some(Value::Object(super::fields::without_secrets(&p.payload))),
    }
}

/// What to record for a written row: applied, unless sub-resources (attribute values,
/// custom fields on update) are still to be written, in which case it stays open (its id
/// known) until they are, so a crash in between makes the next run send it again.
fn settle(
    object: Object,
    p: &Pending,
    bc_id: Option<i64>,
    created: bool,
    followups: &mut Vec<(Pending, i64)>,
) -> Tracked {
    let nested = |key: &str| !created && !p.nested_changed(key).is_empty();
    let named = |key: &str| has_entries(&p.payload, key) && p.named_changed(key);
    let needs = match object {
        Object::Customers => named("attributes") || nested("addresses"),
        Object::Products => (!created && named("custom_fields")) || nested("variants"),
        Object::Orders => false,
    };
    match bc_id {
        Some(id) if needs => {
            followups.push((
                Pending {
                    created,
                    ..p.clone()
                },
                id,
            ));
            Tracked {
                bc_id: Some(id),
                status: TrackStatus::Rejected,
                ..applied(p, Some(id))
            }
        }
        _ => applied(p, bc_id),
    }
}

fn has_entries(payload: &Map<String, Value>, key: &str) -> bool {
    payload
        .get(key)
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty())
}

/// The payload of a create: custom fields travel inline as `[{name, value}]`
/// (docs/api-notes.md §3.1); attribute values are written after the customer exists.
fn create_body(def: &SyncDef, p: &Pending) -> Value {
    let mut body = p.payload.clone();
    match def.object {
        Object::Customers => {
            body.remove("attributes");
        }
        Object::Products => {
            if let Some(Value::Object(fields)) = body.remove("custom_fields") {
                let list: Vec<Value> = fields
                    .into_iter()
                    .map(|(name, value)| serde_json::json!({"name": name, "value": value}))
                    .collect();
                body.insert("custom_fields".into(), Value::Array(list));
            }
        }
        // The marker that finds the order again if the answer to its POST is lost.
        Object::Orders => {
            if !body.contains_key("external_order_id") {
                body.insert(
                    "external_order_id".into(),
                    Value::String(order_marker(def, p)),
                );
            }
        }
    }
    Value::Object(body)
}

pub(super) fn rejected_track(p: &Pending) -> Tracked {
    Tracked {
        key: p.key.clone(),
        hash: Some(p.hash.clone()),
        bc_id: p.bc_id,
        status: TrackStatus::Rejected,
        fields: p.before.clone(),
    }
}

/// Field-level diff of flattened paths.
fn diff(before: Option<&Value>, after: &Map<String, Value>) -> Vec<FieldChange> {
    let mut b = BTreeMap::new();
    if let Some(v) = before {
        flatten("", v, &mut b);
    }
    let mut a = BTreeMap::new();
    flatten("", &Value::Object(after.clone()), &mut a);
    let mut out = Vec::new();
    for (k, av) in &a {
        let bv = b.get(k).cloned().unwrap_or(Value::Null);
        if &bv != av {
            out.push(FieldChange {
                field: k.clone(),
                before: bv,
                after: av.clone(),
            });
        }
    }
    for (k, bv) in &b {
        if !a.contains_key(k) {
            out.push(FieldChange {
                field: k.clone(),
                before: bv.clone(),
                after: Value::Null,
            });
        }
    }
    mask_secrets(&mut out);
    out
}

/// Secret fields (passwords) are shown masked in plans and diffs.
fn mask_secrets(changes: &mut [FieldChange]) {
    let mask = || Value::String(super::fields::MASK.to_owned());
    for c in changes
        .iter_mut()
        .filter(|c| super::fields::is_secret_path(&c.field))
    {
        if !c.before.is_null() {
            c.before = mask();
        }
        if !c.after.is_null() {
            c.after = mask();
        }
    }
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    let join = |k: &str| batch::field_path(prefix, k);
    match v {
        Value::Object(m) => m.iter().for_each(|(k, v)| flatten(&join(k), v, out)),
        Value::Array(a) if a.iter().any(|x| x.is_object()) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| flatten(&join(&i.to_string()), v, out)),
        other => {
            out.insert(prefix.to_owned(), other.clone());
        }
    }
}

/// The `external_order_id` of an order bcsync creates: the mapped one, else
/// `bcsync:<sync>:<key>` (writable on POST and filterable, docs/api-notes.md §6.2/§6.4).
fn order_marker(def: &SyncDef, p: &Pending) -> String {
    match p.payload.get("external_order_id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => format!("bcsync:{}:{}", def.name, p.key),
    }
}

/// A record found by lookup.
#[derive(Debug, Clone)]
struct Found {
    id: i64,
    /// The record as the store returned it (for products, only the mapped fields).
    record: Value,
}

/// Whether orders are matched on the source's own reference (`external_order_id`)
/// rather than on the BigCommerce order id.
fn orders_by_reference(def: &SyncDef) -> bool {
    def.object == Object::Orders && def.match_key == "external_order_id"
}

/// Records that may already exist: batched `:in` lookups for customers and products; for
/// orders, one `GET /v2/orders?external_order_id=` per order (V2 has no list filter).
async fn find_existing(
    client: &Client,
    def: &SyncDef,
    pendings: &[&Pending],
) -> Result<HashMap<String, Found>> {
    if def.object != Object::Orders {
        let keys: Vec<String> = pendings.iter().map(|p| p.key.clone()).collect();
        return lookup(client, def, &keys).await;
    }
    // Owned queries first: a stream mapping borrowed `&Pending`s, held across the await,
    // makes the run's future fail the `Send` check of a spawned task (a known limit of
    // the compiler with closures over references), and syncs run on tasks of their own.
    let asks: Vec<(String, Vec<(String, String)>)> = pendings
        .iter()
        .map(|p| {
            let q = vec![("external_order_id".to_owned(), order_marker(def, p))];
            (p.key.clone(), q)
        })
        .collect();
    let results: Vec<(String, Result<bigcommerce::Page<Value>, bigcommerce::Error>)> =
        futures::StreamExt::collect(futures::StreamExt::buffer_unordered(
            futures::StreamExt::map(futures::stream::iter(asks), |(key, q)| {
                let client = client.clone();
                async move { (key, client.v2_page("/orders", &q, 1, 50).await) }
            }),
            4,
        ))
        .await;
    let mut found = HashMap::new();
    for (key, page) in results {
        // Several orders may carry one reference: the oldest is the one we created first.
        if let Some(f) = page?
            .items
            .into_iter()
            .filter_map(|o| {
                Some(Found {
                    id: o.get("id")?.as_i64()?,
                    record: o,
                })
            })
            .min_by_key(|f| f.id)
        {
            found.insert(key, f);
        }
    }
    Ok(found)
}

/// Splits lookup keys into those that can travel in a comma-separated `:in` list and
/// those holding a comma, which the list would split: these are asked for one by one
/// with the exact filter where the endpoint has one ([`exact_filter`]).
fn partition_keys(keys: &[String]) -> (Vec<&String>, Vec<&String>) {
    keys.iter().partition(|k| !k.contains(','))
}

/// The exact-match filter for one key, when the endpoint has one: `sku` and `id` on
/// products. Customers have only list filters, so an email holding a comma (legal only
/// quoted, and rare) cannot be looked up and is treated as absent.
fn exact_filter(def: &SyncDef) -> Option<String> {
    match (def.object, def.match_key.as_str()) {
        (Object::Products, key @ ("sku" | "id")) => Some(key.to_owned()),
        _ => None,
    }
}

/// The first page (of the largest size) of a V3 list for each query, 4 queries at a time:
/// the one way lookups read the store.
async fn first_pages(
    client: &Client,
    path: &str,
    queries: Vec<Vec<(String, String)>>,
) -> Vec<Result<Vec<Value>>> {
    // The closure owns what its futures use: one borrowing `client` or `path` makes the
    // run's future fail the `Send` check of a spawned task (a known limit of the compiler
    // with closures over references), and syncs run on tasks of their own.
    let (client, path) = (client.clone(), path.to_owned());
    futures::StreamExt::collect(futures::StreamExt::buffer_unordered(
        futures::stream::iter(queries.into_iter().map(move |q| {
            let (client, path) = (client.clone(), path.clone());
            async move {
                Ok(client
                    .v3_page(&path, &q, 1, limits::MAX_PAGE_SIZE)
                    .await?
                    .items)
            }
        })),
        4,
    ))
    .await
}

/// Resolves keys to records with batched `:in` lookups ([`LOOKUP_BATCH`] per GET), and
/// keys holding a comma one by one with the exact filter.
async fn lookup(client: &Client, def: &SyncDef, keys: &[String]) -> Result<HashMap<String, Found>> {
    let mut found = HashMap::new();
    if keys.is_empty() {
        return Ok(found);
    }
    let path = match def.object {
        Object::Customers => "/customers",
        Object::Products => "/catalog/products",
        Object::Orders => return Ok(found),
    };
    let list_filter = format!("{}:in", def.match_key);
    let extra = lookup_fields(def);
    let (listed, alone) = partition_keys(keys);
    let exact = exact_filter(def);
    let mut queries: Vec<Vec<(String, String)>> = listed
        .chunks(LOOKUP_BATCH)
        .map(|chunk| {
            let joined = chunk
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(",");
            vec![(list_filter.clone(), joined)]
        })
        .collect();
    if let Some(exact) = &exact {
        queries.extend(alone.iter().map(|k| vec![(exact.clone(), (*k).clone())]));
    }
    for q in &mut queries {
        q.extend(extra.iter().cloned());
    }
    let results = first_pages(client, path, queries).await;
    for r in results {
        for rec in r? {
            let key_val = match get_path(&rec, &def.match_key) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => continue,
            };
            let Some(id) = rec.get("id").and_then(Value::as_i64) else {
                continue;
            };
            // Several customers may share an email across channels (docs/api-notes.md §2.3): keep
            // the oldest.
            let key = normalise_key(&def.match_key, &key_val);
            if found.get(&key).is_none_or(|f: &Found| id < f.id) {
                found.insert(key, Found { id, record: rec });
            }
        }
    }
    Ok(found)
}

/// Query parameters that make a lookup return what a comparison with the row needs:
/// products only their mapped fields (`include_fields`), plus their variants and custom
/// fields when mapped; customers their addresses when mapped (attribute values are
/// written after the record and compared on their own endpoint).
fn lookup_fields(def: &SyncDef) -> Vec<(String, String)> {
    let mut tops: Vec<String> = def
        .mapping
        .values()
        .filter_map(toml::Value::as_str)
        .map(|f| f.split('.').next().unwrap_or(f).to_owned())
        .collect();
    tops.sort();
    tops.dedup();
    let includes: Vec<&str> = match def.object {
        Object::Customers => ["addresses"]
            .into_iter()
            .filter(|i| tops.iter().any(|t| t == i))
            .collect(),
        Object::Products => ["variants", "custom_fields"]
            .into_iter()
            .filter(|i| tops.iter().any(|t| t == i))
            .collect(),
        Object::Orders => Vec::new(),
    };
    let mut q = Vec::new();
    if def.object == Object::Products {
        let mut fields = vec!["id".to_owned(), def.match_key.clone()];
        fields.extend(
            tops.into_iter()
                .filter(|t| !matches!(t.as_str(), "variants" | "custom_fields" | "id")),
        );
        fields.sort();
        fields.dedup();
        q.push(("include_fields".to_owned(), fields.join(",")));
    }
    if !includes.is_empty() {
        q.push(("include".to_owned(), includes.join(",")));
    }
    q
}

/// The store's records with these ids: `id:in` lists of [`LOOKUP_BATCH`] for customers and
/// products, `GET /v2/orders/{id}` for orders (V2 has no id list filter).
async fn fetch_by_ids(client: &Client, def: &SyncDef, ids: &[i64]) -> Result<HashMap<i64, Value>> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let records: Vec<Result<Vec<Value>>> = match def.object {
        Object::Customers | Object::Products => {
            let path = if def.object == Object::Customers {
                "/customers"
            } else {
                "/catalog/products"
            };
            let extra = lookup_fields(def);
            let queries = ids
                .chunks(LOOKUP_BATCH)
                .map(|chunk| {
                    let list = chunk
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(",");
                    let mut q = vec![("id:in".to_owned(), list)];
                    q.extend(extra.iter().cloned());
                    q
                })
                .collect();
            first_pages(client, path, queries).await
        }
        Object::Orders => {
            // Owned ids and client: see `first_pages`.
            let client = client.clone();
            futures::StreamExt::collect(futures::StreamExt::buffer_unordered(
                futures::stream::iter(ids.iter().copied().map(move |id| {
                    let client = client.clone();
                    let path = format!("/orders/{id}");
                    async move {
                        match client.send(ApiRequest::get(ApiVersion::V2, path)).await {
                            Ok(resp) => Ok(resp.body.into_iter().collect()),
                            // Gone from the store: no "before" to show.
                            Err(e) if e.status() == Some(404) => Ok(Vec::new()),
                            Err(e) => Err(e.into()),
                        }
                    }
                })),
                4,
            ))
            .await
        }
    };
    for r in records {
        for rec in r? {
            if let Some(id) = rec.get("id").and_then(Value::as_i64) {
                out.insert(id, rec);
            }
        }
    }
    Ok(out)
}

/// `record`'s values at the paths of `want`, in `want`'s shape: objects by key, arrays of
/// objects by position, numbers and numeric strings compared as numbers (V2 sends money
/// as strings), an empty text or list equal to a missing value, a list of ids equal in
/// any order. Equal to `want` exactly when the store already holds what `want` says.
fn project(want: &Value, have: Option<&Value>) -> Value {
    let have = have.filter(|h| !h.is_null());
    let as_f64 = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match (want, have) {
        (Value::Object(w), h) => {
            let h = h.and_then(Value::as_object);
            Value::Object(
                w.iter()
                    .map(|(k, v)| (k.clone(), project(v, h.and_then(|h| h.get(k)))))
                    .collect(),
            )
        }
        (Value::Array(w), Some(Value::Array(h))) if w.iter().any(Value::is_object) => Value::Array(
            w.iter()
                .enumerate()
                .map(|(i, v)| project(v, h.get(i)))
                .collect(),
        ),
        (Value::Array(w), Some(Value::Array(h))) => {
            let (mut a, mut b): (Vec<String>, Vec<String>) = (
                w.iter().map(Value::to_string).collect(),
                h.iter().map(Value::to_string).collect(),
            );
            a.sort();
            b.sort();
            if a == b {
                want.clone()
            } else {
                Value::Array(h.clone())
            }
        }
        (Value::Array(w), None) if w.is_empty() => want.clone(),
        (Value::String(w), None) if w.is_empty() => want.clone(),
        (Value::Number(_), Some(h)) | (Value::String(_), Some(h @ Value::Number(_))) => {
            match (as_f64(want), as_f64(h)) {
                (Some(a), Some(b)) if a == b => want.clone(),
                _ => h.clone(),
            }
        }
        (_, Some(h)) => h.clone(),
        (_, None) => Value::Null,
    }
}

/// Whether the store's record already holds the row's own fields (what its `PUT` would
/// carry), so an update would change nothing.
fn store_agrees(object: Object, payload: &Map<String, Value>, record: &Value) -> bool {
    let core = Value::Object(core_fields(object, payload));
    project(&core, Some(record)) == core
}

/// The store's current values at the paths the row maps, for a dry run's "before". Values
/// the record does not carry in the row's terms (customer attribute values, order lines)
/// keep what bcsync last sent, `known`.
fn store_before(
    object: Object,
    payload: &Map<String, Value>,
    record: &Value,
    known: Option<&Value>,
) -> Value {
    let mut out = Map::new();
    for (k, v) in payload {
        let value = match (object, k.as_str()) {
            (Object::Customers, "attributes") | (Object::Orders, "products") => {
                known.and_then(|b| b.get(k)).cloned().unwrap_or(Value::Null)
            }
            (Object::Products, "custom_fields") => {
                let named: Map<String, Value> = record
                    .get("custom_fields")
                    .and_then(Value::as_array)
                    .map(|list| {
                        list.iter()
                            .filter_map(|f| {
                                Some((f.get("name")?.as_str()?.to_owned(), f.get("value")?.clone()))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                project(v, Some(&Value::Object(named)))
            }
            _ => project(v, record.get(k)),
        };
        out.insert(k.clone(), value);
    }
    Value::Object(out)
}

/// The payload of an update: the body fields the endpoint accepts, plus `id` for V3.
fn update_body(object: Object, p: &Pending) -> Value {
    let body = core_fields(object, &p.payload);
    if object == Object::Orders {
        return Value::Object(body);
    }
    let mut with_id = Map::new();
    with_id.insert("id".into(), Value::from(p.bc_id.unwrap_or_default()));
    with_id.extend(body);
    Value::Object(with_id)
}

async fn send_updates(run: &mut Run<'_>, updates: Vec<Pending>) -> Result<Vec<(Pending, i64)>> {
    let object = run.def.object;
    // A row whose own fields are as the store has them (only sub-resources changed) needs
    // no PUT of the record: its sub-resources follow on their own endpoints.
    let sent: Vec<usize> = (0..updates.len())
        .filter(|&i| updates[i].core_changed(object))
        .collect();
    let bodies: Vec<Value> = sent
        .iter()
        .map(|&i| update_body(object, &updates[i]))
        .collect();
    let report = match object {
        Object::Customers => {
            let ep = BatchEndpoint::array(
                Method::PUT,
                ApiVersion::V3,
                "/customers",
                limits::CUSTOMERS_BATCH,
            );
            batch::write(
                &run.client,
                &ep,
                bodies,
                run.concurrency().min(limits::CUSTOMERS_PUT_CONCURRENCY),
            )
            .await
        }
        Object::Products => {
            let ep = BatchEndpoint::array(
                Method::PUT,
                ApiVersion::V3,
                "/catalog/products",
                limits::PRODUCTS_PUT_BATCH,
            );
            batch::write(&run.client, &ep, bodies, run.concurrency()).await
        }
        Object::Orders => {
            let ids: Vec<i64> = sent
                .iter()
                .map(|&i| updates[i].bc_id.unwrap_or_default())
                .collect();
            let items: Vec<Value> = bodies
                .into_iter()
                .zip(ids)
                .map(|(b, id)| serde_json::json!({"id": id, "body": b}))
                .collect();
            let client = run.client.clone();
            batch::write_with(items, 1, run.concurrency(), |chunk| {
                let client = client.clone();
                async move {
                    let item = chunk.into_iter().next().unwrap_or(Value::Null);
                    let id = item["id"].as_i64().unwrap_or_default();
                    let body = item.get("body").cloned().unwrap_or(Value::Null);
                    let resp = client
                        .send(ApiRequest::put(
                            ApiVersion::V2,
                            format!("/orders/{id}"),
                            body,
                        ))
                        .await?;
                    Ok(vec![resp.body.unwrap_or(Value::Null)])
                }
            })
            .await
        }
    };
    let halt = report.halt;
    let mut outcomes = vec![ItemOutcome::Applied(Value::Null); updates.len()];
    for (i, o) in sent.into_iter().zip(report.outcomes) {
        outcomes[i] = o;
    }
    let mut records = Vec::with_capacity(updates.len());
    let mut followups = Vec::new();
    for (p, o) in updates.iter().zip(outcomes) {
        match o {
            ItemOutcome::Applied(_) => {
                run.bump("updated", 1);
                records.push(settle(object, p, p.bc_id, false, &mut followups));
            }
            // The token cannot update these: the run stops with that one error below.
            ItemOutcome::Rejected {
                status: 401 | 403, ..
            } => records.push(rejected_track(p)),
            ItemOutcome::Rejected { status, message } => {
                // Deleted in the store since it was tracked: forget the id, so the next
                // run matches it again (and upsert/mirror create it anew).
                let gone = status == 404 && run.def.mode != Mode::Update;
                let advice = if gone {
                    "; it no longer exists in the store, the next run matches it again"
                } else {
                    ""
                };
                run.reject(Rejection {
                    row: p.row,
                    key: Some(p.key.clone()),
                    field: None,
                    reason: format!("HTTP {status}: {message}{advice}"),
                });
                let mut t = rejected_track(p);
                if gone {
                    t.bc_id = None;
                }
                records.push(t);
            }
            ItemOutcome::Failed { message, .. } => {
                run.reject(Rejection {
                    row: p.row,
                    key: Some(p.key.clone()),
                    field: None,
                    reason: format!("not applied: {message}; it is retried next run"),
                });
                records.push(rejected_track(p));
            }
            // The run stops (below): the row stays as it was tracked and goes next run.
            ItemOutcome::NotSent => {}
        }
    }
    run.put(&records)?;
    if let Some(err) = halt {
        return Err(err.into());
    }
    Ok(followups)
}

/// Takes the run by `&mut`: a shared `&Run` held across an await would need a `Sync`
/// state store, and syncs run side by side on tasks of their own.
async fn post_creates(run: &mut Run<'_>, bodies: Vec<Value>) -> batch::BatchReport {
    match run.def.object {
        Object::Customers => {
            let ep = BatchEndpoint::array(
                Method::POST,
                ApiVersion::V3,
                "/customers",
                limits::CUSTOMERS_BATCH,
            );
            batch::write(&run.client, &ep, bodies, run.concurrency()).await
        }
        Object::Products => {
            let ep = BatchEndpoint::single(Method::POST, ApiVersion::V3, "/catalog/products");
            batch::write(&run.client, &ep, bodies, run.concurrency()).await
        }
        Object::Orders => {
            let ep = BatchEndpoint::single(Method::POST, ApiVersion::V2, "/orders");
            batch::write(&run.client, &ep, bodies, run.concurrency()).await
        }
    }
}

async fn send_creates(run: &mut Run<'_>, creates: Vec<Pending>) -> Result<Vec<(Pending, i64)>> {
    let object = run.def.object;
    let mut followups = Vec::new();
    let def = run.def;
    // Crash safety: the intent is durable before the first byte is sent.
    let intents: Vec<Tracked> = creates
        .iter()
        .map(|p| Tracked {
            key: p.key.clone(),
            hash: Some(p.hash.clone()),
            bc_id: None,
            status: TrackStatus::Attempting,
            fields: p.before.clone(),
        })
        .collect();
    run.put(&intents)?;

    let mut todo = creates;
    for round in 0..=RECOVERY_ROUNDS {
        if todo.is_empty() {
            break;
        }
        let bodies: Vec<Value> = todo.iter().map(|p| create_body(def, p)).collect();
        let report = post_creates(run, bodies).await;
        let mut records = Vec::new();
        let mut unknown = Vec::new();
        for (p, o) in todo.into_iter().zip(report.outcomes) {
            match o {
                ItemOutcome::Applied(rec) => {
                    let id = rec.get("id").and_then(Value::as_i64);
                    run.bump("created", 1);
                    records.push(settle(object, &p, id, true, &mut followups));
                }
                // The token cannot create these: the run stops with that one error below.
                ItemOutcome::Rejected {
                    status: 401 | 403, ..
                } => records.push(rejected_track(&p)),
                ItemOutcome::Rejected { status, message } => {
                    let advice = if def.object == Object::Customers
                        && def.mode == Mode::Insert
                        && message.to_lowercase().contains("email")
                    {
                        "; if a customer with this email already exists, use mode = \"upsert\" to update it"
                    } else {
                        ""
                    };
                    run.reject(Rejection {
                        row: p.row,
                        key: Some(p.key.clone()),
                        field: None,
                        reason: format!("HTTP {status}: {message}{advice}"),
                    });
                    records.push(rejected_track(&p));
                }
                ItemOutcome::Failed { message, .. } => unknown.push((p, message)),
                // Never sent (the run stops below): not created, for certain.
                ItemOutcome::NotSent => records.push(rejected_track(&p)),
            }
        }
        run.put(&records)?;
        if let Some(err) = report.halt {
            // 401/403: no later request can succeed; what is still open stays open.
            return Err(err.into());
        }
        todo = Vec::new();
        if unknown.is_empty() {
            break;
        }
        // The answer was lost: the create may or may not have landed. Look before retrying.
        let wanted: Vec<&Pending> = unknown.iter().map(|(p, _)| p).collect();
        let found = find_existing(&run.client, def, &wanted).await?;
        let mut landed = Vec::new();
        for (p, message) in unknown {
            if let Some(f) = found.get(&p.key) {
                run.bump("created", 1);
                landed.push(settle(object, &p, Some(f.id), true, &mut followups));
            } else if round < RECOVERY_ROUNDS {
                todo.push(p);
            } else {
                // Left `attempting`: the next run looks it up before creating it.
                run.reject(Rejection {
                    row: p.row,
                    key: Some(p.key.clone()),
                    field: None,
                    reason: format!("create outcome unknown ({message}); the next run checks before creating again"),
                });
            }
        }
        run.put(&landed)?;
    }
    Ok(followups)
}

async fn send_deletes(run: &mut Run<'_>, removed: &[&Tracked]) -> Result<()> {
    let ids: Vec<(String, i64)> = removed
        .iter()
        .filter_map(|t| t.bc_id.map(|id| (t.key.clone(), id)))
        .collect();
    let mut done = Vec::new();
    match run.def.object {
        Object::Customers | Object::Products => {
            let (path, size) = if run.def.object == Object::Customers {
                ("/customers", CUSTOMERS_DELETE_BATCH)
            } else {
                ("/catalog/products", limits::PRODUCTS_DELETE_BATCH)
            };
            for chunk in ids.chunks(size) {
                let list = chunk
                    .iter()
                    .map(|(_, id)| id.to_string())
                    .collect::<Vec<_>>()
                    .join(",");
                match run
                    .client
                    .send(ApiRequest::delete(ApiVersion::V3, path).query("id:in", list))
                    .await
                {
                    Ok(_) => done.extend(chunk.iter().map(|(k, _)| k.clone())),
                    Err(e) if stops_run(&e) => {
                        run.store.remove(&run.def.name, &done)?;
                        return Err(e.into());
                    }
                    Err(e) => {
                        for (k, _) in chunk {
                            run.reject(Rejection {
                                row: 0,
                                key: Some(k.clone()),
                                field: None,
                                reason: format!("delete failed: {e}"),
                            });
                        }
                    }
                }
            }
        }
        Object::Orders => {
            for (k, id) in &ids {
                match run
                    .client
                    .send(ApiRequest::delete(ApiVersion::V2, format!("/orders/{id}")))
                    .await
                {
                    Ok(_) => done.push(k.clone()),
                    Err(e) if e.status() == Some(404) => done.push(k.clone()),
                    Err(e) if stops_run(&e) => {
                        run.store.remove(&run.def.name, &done)?;
                        return Err(e.into());
                    }
                    Err(e) => run.reject(Rejection {
                        row: 0,
                        key: Some(k.clone()),
                        field: None,
                        reason: format!("archive failed: {e}"),
                    }),
                }
            }
        }
    }
    run.bump("deleted", done.len() as u64);
    run.store.remove(&run.def.name, &done)
}

/// A 401 or 403: the token cannot make this request, so no later one of the run can
/// succeed either.
fn stops_run(e: &bigcommerce::Error) -> bool {
    matches!(e.status(), Some(401 | 403))
}

/// Fields that must never be cleared: the create requirements and the match keys.
fn required_fields(object: Object) -> &'static [&'static str] {
    match object {
        Object::Customers => &["email", "first_name", "last_name"],
        Object::Products => &["name", "type", "weight", "price", "sku"],
        Object::Orders => &["billing_address", "products", "status_id"],
    }
}

/// The values that unset each mapped top-level field: "" for text, [] for lists. Numbers
/// and booleans have no "unset" in the API and are left as they are; sub-resources too.
fn clear_payload(object: Object, fields: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in fields {
        if required_fields(object).contains(&k.as_str())
            || matches!(k.as_str(), "addresses" | "variants")
        {
            continue;
        }
        match v {
            Value::String(_) => {
                out.insert(k.clone(), Value::String(String::new()));
            }
            Value::Array(a) if a.iter().all(|x| !x.is_object()) => {
                out.insert(k.clone(), Value::Array(Vec::new()));
            }
            _ => {}
        }
    }
    out
}

async fn send_clears(run: &mut Run<'_>, removed: &[&Tracked]) -> Result<()> {
    let object = run.def.object;
    let pendings: Vec<Pending> = removed
        .iter()
        .filter_map(|t| {
            let Some(Value::Object(f)) = &t.fields else {
                return None;
            };
            let payload = clear_payload(object, f);
            (!payload.is_empty()).then(|| Pending {
                row: 0,
                key: t.key.clone(),
                hash: String::new(),
                payload,
                bc_id: t.bc_id,
                unknown_outcome: false,
                before: t.fields.clone(),
                trust_before: false,
                created: false,
            })
        })
        .collect();
    let keys: Vec<String> = removed.iter().map(|t| t.key.clone()).collect();
    if !pendings.is_empty() {
        let before = run.counts.get("updated").copied().unwrap_or(0);
        send_updates(run, pendings).await?;
        let after = run.counts.get("updated").copied().unwrap_or(0);
        run.counts.insert("updated".into(), before);
        run.bump("cleared", after - before);
    }
    // Cleared records are no longer tracked: a row that comes back is matched again.
    run.store.remove(&run.def.name, &keys)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_lists_changed_paths() {
        let before =
            json!({"email": "a@x.io", "first_name": "A", "addresses": [{"city": "Paris"}]});
        let after = json!({"email": "a@x.io", "first_name": "B", "addresses": [{"city": "Lyon"}], "phone": "1"});
        let d = diff(Some(&before), after.as_object().unwrap());
        let fields: Vec<&str> = d.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, vec!["addresses.0.city", "first_name", "phone"]);
        assert_eq!(d[1].before, json!("A"));
        assert_eq!(d[1].after, json!("B"));
    }

    fn pending(payload: Value, before: Option<Value>, trust_before: bool) -> Pending {
        Pending {
            row: 1,
            key: "k".into(),
            hash: String::new(),
            payload: payload.as_object().unwrap().clone(),
            bc_id: Some(1),
            unknown_outcome: false,
            before,
            trust_before,
            created: false,
        }
    }

    #[test]
    fn only_changed_parts_are_sent_when_the_last_run_applied() {
        let before = json!({"email": "a@x.io", "addresses": [{"city": "Paris"}, {"city": "Rome"}], "attributes": {"t": "1"}});
        let after = json!({"email": "a@x.io", "addresses": [{"city": "Paris"}, {"city": "Oslo"}, {"city": "Bern"}], "attributes": {"t": "1"}});
        let p = pending(after.clone(), Some(before.clone()), true);
        assert!(!p.core_changed(Object::Customers));
        assert!(!p.named_changed("attributes"));
        assert_eq!(p.nested_changed("addresses"), vec![1, 2]);
        // Not applied in full last run (or --full-resync): everything goes.
        let p = pending(after, Some(before), false);
        assert!(p.core_changed(Object::Customers));
        assert!(p.named_changed("attributes"));
        assert_eq!(p.nested_changed("addresses"), vec![0, 1, 2]);
        let p = pending(
            json!({"email": "b@x.io"}),
            Some(json!({"email": "a@x.io"})),
            true,
        );
        assert!(p.core_changed(Object::Customers));
        assert!(p.nested_changed("addresses").is_empty());
    }

    proptest::proptest! {
        #[test]
        fn every_key_is_asked_once_and_lists_split_back_exactly(
            keys in proptest::collection::vec("[a-z,]{1,6}", 0..120),
        ) {
            let (listed, alone) = partition_keys(&keys);
            proptest::prop_assert_eq!(listed.len() + alone.len(), keys.len());
            proptest::prop_assert!(alone.iter().all(|k| k.contains(',')));
            // What a `:in` list carries splits back into exactly its keys.
            for chunk in listed.chunks(LOOKUP_BATCH) {
                let joined = chunk.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",");
                let back: Vec<&str> = joined.split(',').collect();
                let want: Vec<&str> = chunk.iter().map(|k| k.as_str()).collect();
                proptest::prop_assert_eq!(back, want);
            }
        }
    }

    #[test]
    fn store_agrees_compares_in_the_rows_terms() {
        let payload = json!({"status_id": 11, "billing_address": {"zip": "78701", "city": "Austin"}, "company": "", "products": [{"name": "x"}]});
        let record = json!({"id": 5, "status_id": 11, "billing_address": {"zip": "78701", "city": "Austin", "street_1": "1 Main"}, "company": null, "total_inc_tax": "10.0000"});
        assert!(store_agrees(
            Object::Orders,
            payload.as_object().unwrap(),
            &record
        ));
        let changed = json!({"id": 5, "status_id": 10, "billing_address": {"zip": "78701", "city": "Austin"}});
        assert!(!store_agrees(
            Object::Orders,
            payload.as_object().unwrap(),
            &changed
        ));
        // Money: V2 strings and numbers compare as numbers; id lists in any order.
        assert_eq!(project(&json!(10), Some(&json!("10.0000"))), json!(10));
        assert_eq!(project(&json!([1, 2]), Some(&json!([2, 1]))), json!([1, 2]));
        assert_eq!(project(&json!("A"), Some(&json!("B"))), json!("B"));
    }

    #[test]
    fn store_before_reads_custom_fields_by_name() {
        let payload = json!({"name": "Hat", "custom_fields": {"size": "L"}});
        let record = json!({"id": 1, "name": "Cap", "custom_fields": [{"id": 3, "name": "size", "value": "M"}]});
        assert_eq!(
            store_before(
                Object::Products,
                payload.as_object().unwrap(),
                &record,
                None
            ),
            json!({"name": "Cap", "custom_fields": {"size": "M"}})
        );
    }

    #[test]
    fn clear_keeps_required_fields() {
        let f = json!({"email": "a@x.io", "first_name": "A", "last_name": "B", "company": "Acme", "customer_group_id": 2});
        let c = clear_payload(Object::Customers, f.as_object().unwrap());
        assert_eq!(Value::Object(c), json!({"company": ""}));
    }
}
