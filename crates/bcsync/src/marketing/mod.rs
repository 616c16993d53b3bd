//! `bcsync brevo`: the store's customers, catalog and orders into Brevo (contacts with
//! typed attributes and lists, e-commerce categories, products and orders), from the tables
//! `bcsync extract` keeps.
//!
//! Flow: read the warehouse ([`warehouse`]) → read Brevo's attributes and lists, creating
//! the missing ones → plan every object without the network ([`contacts`], [`commerce`]),
//! refusing values that would not fit → keep only what changed since the last run (a hash
//! per object in the push state store, as `push` does) → send in bulk: contacts through the
//! import process (followed to its result), catalog and orders through the batch routes,
//! categories before products before contacts before orders (docs/brevo-api-notes.md §5.4).
//! A record is marked sent only once Brevo accepted it, so a crash resends, never loses.
//!
//! History never fires automations: the first run sends past orders as historical; only
//! orders that appear or change after it are sent as live ones.
//!
//! `bcsync listen` forwards changes as they arrive ([`realtime`]): the same planning and
//! hashes, prepared once, written record by record on routes with their own buckets, plus
//! cart events and the abandoned-cart list ([`carts`]).

pub mod carts;
pub mod commerce;
pub mod config;
pub mod contacts;
pub mod realtime;
pub mod values;
pub mod warehouse;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::push::mapping::Rejection;
use crate::state::push::{PushStore, RunRecord, TrackStatus, Tracked};

use config::{BrevoConfig, DeleteBehaviour, ListRef};
use contacts::{DesiredContact, Refusal, ResolvedLists};
use values::Slot;
use warehouse::{Scope, Warehouse};

/// Tracking names in the push state store, one per kind of Brevo object.
pub const TRACK_CONTACTS: &str = "brevo:contacts";
pub const TRACK_CATEGORIES: &str = "brevo:categories";
pub const TRACK_PRODUCTS: &str = "brevo:products";
pub const TRACK_ORDERS: &str = "brevo:orders";
/// The run lock and run records.
pub const RUN_NAME: &str = "brevo";

/// The run-lock scope of a Brevo account: a digest of its API key (never the key).
/// A Brevo account's rate limits are the account's, whichever store sends, so syncs of
/// several stores into one account (a fleet's) take this lock as well as their store's:
/// one sync per account at a time, whose pacer is then the only one spending them.
pub fn account_scope(api_key: &secrecy::SecretString) -> String {
    use secrecy::ExposeSecret;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("bcsync brevo account:{}", api_key.expose_secret()));
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("brevo-account-{hex}")
}

/// Options of one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncOptions {
    /// Plan and report, send nothing (Brevo is only read).
    pub dry_run: bool,
    /// Real time (`bcsync listen`): a few records at a time, each on the route whose
    /// bucket is its own (contacts one by one, `POST /products`, `POST /orders/status`),
    /// never the imports and batch routes that count in the small shared bucket (the
    /// processes an import is followed through, the e-commerce batches); orders are live.
    /// Categories are left to `bcsync brevo sync` (their routes are all in that bucket).
    pub live: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SyncReport {
    pub counts: BTreeMap<String, u64>,
    pub refusals: Vec<Rejection>,
    /// Brevo requests per rate bucket.
    pub requests: BTreeMap<String, u64>,
    pub throttled: u64,
    pub dry_run: bool,
    /// Brevo's last answer (`HTTP 204 from /orders/status/batch at ...`): whether the
    /// account is reachable, known without spending a request on it.
    pub last_answer: Option<String>,
}

impl SyncReport {
    fn add(&mut self, key: &str, n: u64) {
        if n > 0 {
            *self.counts.entry(key.to_owned()).or_default() += n;
        }
    }
}

/// Names Brevo gives its default attributes in other account languages
/// (docs/brevo-api-notes.md §2.3): a mapping to FIRSTNAME fills PRENOM on such an account.
const LOCALE_ALIASES: &[(&str, &[&str])] = &[
    ("FIRSTNAME", &["PRENOM", "VORNAME", "NOMBRE"]),
    ("LASTNAME", &["NOM", "NACHNAME", "APELLIDOS"]),
];

/// Runs one sync. The caller holds the run lock and records the run.
pub async fn sync(
    config: &BrevoConfig,
    client: &brevo::Client,
    warehouse: &Warehouse,
    state: &mut dyn PushStore,
    options: SyncOptions,
) -> Result<SyncReport> {
    let mut report = SyncReport {
        dry_run: options.dry_run,
        ..SyncReport::default()
    };
    let prepared = prepare(config, client, options.dry_run, &mut report).await?;
    sync_prepared(
        &prepared,
        client,
        warehouse,
        state,
        options,
        None,
        &mut report,
    )
    .await?;
    finish_report(client, &mut report);
    Ok(report)
}

/// What a sync needs from Brevo before it plans anything: the mapping with the account's
/// attribute names, each attribute's slot, and the lists' ids. Reading it costs requests in
/// Brevo's small shared bucket (about 100 an hour), so `bcsync listen` prepares once and
/// reuses it for every forward.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The configuration, its mapped attributes renamed to the account's language.
    pub config: BrevoConfig,
    pub slots: HashMap<String, Slot>,
    pub lists: ResolvedLists,
}

/// Reads (and creates the missing) attributes, folder and lists.
pub async fn prepare(
    config: &BrevoConfig,
    client: &brevo::Client,
    dry_run: bool,
    report: &mut SyncReport,
) -> Result<Prepared> {
    let mut config = config.clone();
    let step = Instant::now();
    let slots = prepare_attributes(&mut config, client, dry_run, report).await?;
    let lists = resolve_lists(&config, client, dry_run).await?;
    tracing::info!(
        "brevo: attributes and lists ready in {} ms",
        step.elapsed().as_millis()
    );
    Ok(Prepared {
        config,
        slots,
        lists,
    })
}

/// Sends what changed since the last run, with attributes and lists already prepared.
/// In bulk (imports followed to their result, batch routes) unless `options.live`, which
/// writes record by record on the routes with their own buckets (see [`SyncOptions`]).
/// With a `scope` (a real-time forward), only the contacts, products and orders it names
/// are planned and compared: the rest did not change since the last forward.
pub async fn sync_prepared(
    prepared: &Prepared,
    client: &brevo::Client,
    warehouse: &Warehouse,
    state: &mut dyn PushStore,
    options: SyncOptions,
    scope: Option<&Scope>,
    report: &mut SyncReport,
) -> Result<()> {
    let config = &prepared.config;
    if config.products {
        let step = Instant::now();
        sync_catalog(config, client, warehouse, state, options, scope, report).await?;
        tracing::info!("brevo: catalog done in {} ms", step.elapsed().as_millis());
    }
    let step = Instant::now();
    sync_contacts(
        config,
        client,
        warehouse,
        state,
        &prepared.slots,
        &prepared.lists,
        options,
        scope,
        report,
    )
    .await?;
    tracing::info!("brevo: contacts done in {} ms", step.elapsed().as_millis());
    if config.orders {
        let step = Instant::now();
        sync_orders(client, warehouse, state, options, scope, report).await?;
        tracing::info!("brevo: orders done in {} ms", step.elapsed().as_millis());
    }
    Ok(())
}

/// Fills the report's request counts and Brevo's last answer from the client.
pub fn finish_report(client: &brevo::Client, report: &mut SyncReport) {
    let stats = client.stats();
    report.requests = stats
        .requests
        .iter()
        .map(|(b, n)| (b.to_string(), *n))
        .collect();
    report.throttled = stats.rate_limited.values().sum();
    report.last_answer = client.last_response().map(|r| {
        format!(
            "HTTP {} from {} at {}",
            r.status,
            r.path,
            r.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    });
}

/// The Brevo client for `[brevo]`: its key, base URL and import polling.
pub fn client(config: &BrevoConfig) -> Result<brevo::Client> {
    use secrecy::ExposeSecret;
    let mut c = brevo::ClientConfig::new(config.api_key.expose_secret().to_owned().into());
    if let Some(url) = &config.base_url {
        c = c.with_base_url(url.clone());
    }
    if let Some(poll) = config.import_poll {
        c.process_poll = poll;
    }
    Ok(brevo::Client::new(c)?)
}

/// Reads the account's attributes, renames mapped default attributes to the account's
/// language, creates the missing ones with the mapping's type, and returns each mapped
/// attribute's slot. A mapped attribute that cannot take a customer value (id, user,
/// calculated) is a configuration error.
async fn prepare_attributes(
    config: &mut BrevoConfig,
    client: &brevo::Client,
    dry_run: bool,
    report: &mut SyncReport,
) -> Result<HashMap<String, Slot>> {
    let existing: HashMap<String, brevo::Attribute> = client
        .attributes()
        .await?
        .into_iter()
        .map(|a| (a.name.clone(), a))
        .collect();
    let mut slots = HashMap::new();
    for field in &mut config.fields {
        if existing.contains_key(&field.attribute) {
            continue;
        }
        if let Some((_, aliases)) = LOCALE_ALIASES.iter().find(|(n, _)| *n == field.attribute)
            && let Some(alias) = aliases.iter().find(|a| existing.contains_key(**a))
        {
            field.attribute = (*alias).to_owned();
        }
    }
    let mut wanted: Vec<(String, config::ValueType)> = config
        .fields
        .iter()
        .map(|f| (f.attribute.clone(), f.value_type))
        .collect();
    if config.delete == DeleteBehaviour::Soft {
        wanted.push((config.deleted_attribute.clone(), config::ValueType::Boolean));
    }
    for (name, value_type) in &wanted {
        match existing.get(name) {
            Some(attribute) => {
                let slot = Slot::of(attribute).ok_or_else(|| {
                    Error::Config(format!(
                        "[brevo.contacts]: the Brevo attribute {name} is a {} attribute, which a \
                         customer field cannot fill; map the field to a normal attribute",
                        attribute
                            .attr_type
                            .map(|t| format!("{t:?}").to_lowercase())
                            .unwrap_or_else(|| attribute.category.clone())
                    ))
                })?;
                slots.insert(name.clone(), slot);
            }
            None if name == "SMS" => {
                return Err(Error::Config(
                    "[brevo.contacts]: the account has no SMS attribute, which Brevo creates \
                     itself; map the phone to another attribute name or enable SMS in Brevo"
                        .into(),
                ));
            }
            None => {
                if !dry_run {
                    client
                        .create_attribute(
                            brevo::AttributeCategory::Normal,
                            name,
                            &brevo::NewAttribute {
                                attr_type: value_type.as_brevo(),
                                enumeration: Vec::new(),
                                multi_category_options: Vec::new(),
                            },
                        )
                        .await?;
                }
                report.add("attributes.created", 1);
                slots.insert(
                    name.clone(),
                    match value_type {
                        config::ValueType::Text => Slot::Text,
                        config::ValueType::Date => Slot::Date,
                        config::ValueType::Float => Slot::Float,
                        config::ValueType::Boolean => Slot::Boolean,
                    },
                );
            }
        }
    }
    Ok(slots)
}

/// Resolves the configured lists: ids must exist; names are found in bcsync's folder or
/// created there (the folder too). In a dry run a list to create gets a placeholder id.
async fn resolve_lists(
    config: &BrevoConfig,
    client: &brevo::Client,
    dry_run: bool,
) -> Result<ResolvedLists> {
    let lists = client.lists().await?;
    let mut folder: Option<i64> = None;
    let mut placeholder = 0;
    let mut resolved = ResolvedLists::default();
    let mut refs: Vec<(String, &ListRef)> = Vec::new();
    if let Some(r) = &config.lists.all_customers {
        refs.push(("all_customers".into(), r));
    }
    if let Some(r) = &config.lists.buyers {
        refs.push(("buyers".into(), r));
    }
    for (channel, r) in &config.lists.channels {
        refs.push((format!("channels.{channel}"), r));
    }
    if let Some(r) = &config.lists.abandoned_cart {
        refs.push(("abandoned_cart".into(), r));
    }
    for (key, r) in refs {
        let id = match r {
            ListRef::Id(id) => {
                if !lists.iter().any(|l| l.id == *id) {
                    return Err(Error::Config(format!(
                        "[brevo.lists] {key} = {id}: the Brevo account has no list {id}; give \
                         an existing list's id or a name for bcsync to create"
                    )));
                }
                *id
            }
            ListRef::Name(name) => {
                let folder_id = match folder {
                    Some(f) => f,
                    None => {
                        let f = folder_id(config, client, dry_run).await?;
                        folder = Some(f);
                        f
                    }
                };
                match lists
                    .iter()
                    .find(|l| l.name == *name && (l.folder_id == folder_id || folder_id < 0))
                {
                    Some(l) => l.id,
                    None if dry_run => {
                        placeholder -= 1;
                        placeholder
                    }
                    None => client.create_list(name, folder_id).await?,
                }
            }
        };
        match key.as_str() {
            "all_customers" => resolved.all_customers = Some(id),
            "buyers" => resolved.buyers = Some(id),
            "abandoned_cart" => resolved.abandoned_cart = Some(id),
            channel => {
                let channel: i64 = channel
                    .trim_start_matches("channels.")
                    .parse()
                    .map_err(|_| Error::Internal(format!("channel key {channel}")))?;
                resolved.channels.insert(channel, id);
            }
        }
    }
    Ok(resolved)
}

async fn folder_id(config: &BrevoConfig, client: &brevo::Client, dry_run: bool) -> Result<i64> {
    let folders = client.folders().await?;
    if let Some(f) = folders.iter().find(|f| f.name == config.folder) {
        return Ok(f.id);
    }
    if dry_run {
        return Ok(-1);
    }
    Ok(client.create_folder(&config.folder).await?)
}

/// A stable hash of what was sent (serde_json maps here keep insertion order, so the value
/// is built from sorted maps).
fn hash_of(value: &Value) -> String {
    hex::encode(Sha256::digest(value.to_string().as_bytes()))
}

fn refusal(r: Refusal) -> Rejection {
    Rejection {
        row: 0,
        key: Some(r.key),
        field: r.field,
        reason: r.reason,
    }
}

/// What was last sent for a contact.
#[derive(Debug, Default, Clone, PartialEq)]
struct SentContact {
    attributes: BTreeMap<String, Value>,
    lists: BTreeSet<i64>,
    blacklisted: bool,
    deleted: bool,
}

impl SentContact {
    fn from_tracked(t: &Tracked) -> Self {
        let f = t.fields.clone().unwrap_or(Value::Null);
        SentContact {
            attributes: f
                .get("attributes")
                .and_then(Value::as_object)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            lists: f
                .get("lists")
                .and_then(Value::as_array)
                .map(|l| l.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default(),
            blacklisted: f
                .get("blacklisted")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            deleted: f.get("deleted").and_then(Value::as_bool).unwrap_or(false),
        }
    }

    fn to_value(&self) -> Value {
        json!({
            "attributes": self.attributes,
            "lists": self.lists,
            "blacklisted": self.blacklisted,
            "deleted": self.deleted,
        })
    }
}

/// One import call's rows share its lists and flags (docs/brevo-api-notes.md §1.6).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ImportGroup {
    lists: Vec<i64>,
    blacklist: bool,
    /// Rows that clear an attribute they had: sent with empty values erasing.
    clears: bool,
}

#[allow(clippy::too_many_arguments)]
async fn sync_contacts(
    config: &BrevoConfig,
    client: &brevo::Client,
    warehouse: &Warehouse,
    state: &mut dyn PushStore,
    slots: &HashMap<String, Slot>,
    lists: &ResolvedLists,
    options: SyncOptions,
    scope: Option<&Scope>,
    report: &mut SyncReport,
) -> Result<()> {
    let consents = contacts::newsletter_consents(&warehouse.subscribers);
    // In scope: the customers under the scope's addresses and the orders that count for
    // them (by customer id, or a guest's billing address), the same inputs the whole
    // store's plan gives those contacts.
    let in_scope: Vec<contacts::CustomerRow>;
    let (customers, orders) = match scope {
        None => (&warehouse.customers[..], warehouse.order_facts()),
        Some(scope) => {
            in_scope = warehouse
                .customers
                .iter()
                .filter(|c| {
                    c.raw
                        .get("email")
                        .and_then(Value::as_str)
                        .is_some_and(|e| scope.emails.contains(&contacts::normalise_email(e)))
                })
                .cloned()
                .collect();
            let ids: std::collections::HashSet<i64> = in_scope
                .iter()
                .filter_map(|c| c.raw.get("id").and_then(Value::as_i64))
                .collect();
            let orders = warehouse.order_facts_where(|o| {
                let customer = o
                    .raw
                    .get("customer_id")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                ids.contains(&customer)
                    || (customer == 0
                        && o.raw
                            .pointer("/billing_address/email")
                            .and_then(Value::as_str)
                            .is_some_and(|e| scope.emails.contains(&contacts::normalise_email(e))))
            });
            (&in_scope[..], orders)
        }
    };
    let plan = contacts::plan(config, slots, lists, customers, &orders, &consents);
    report.add("contacts.refused_values", plan.refusals.len() as u64);
    report
        .refusals
        .extend(plan.refusals.into_iter().map(refusal));

    let tracked = match scope {
        None => state.load(TRACK_CONTACTS)?,
        Some(scope) => {
            let keys: Vec<String> = scope.emails.iter().cloned().collect();
            state.load_keys(TRACK_CONTACTS, &keys)?
        }
    };
    let managed = lists.managed();
    let mut groups: BTreeMap<ImportGroup, Vec<PlannedWrite>> = BTreeMap::new();
    let mut removals: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let desired_emails: BTreeSet<&str> = plan.contacts.iter().map(|c| c.email.as_str()).collect();
    for c in &plan.contacts {
        let before = tracked.get(&c.email).map(SentContact::from_tracked);
        let prev = before.clone().unwrap_or_default();
        // bcsync only ever sets the blocklist flag: an unsubscribe made in Brevo, or one
        // bcsync sent, is never cleared by a later consent in the store.
        let sent = SentContact {
            attributes: c.attributes.clone(),
            lists: c.lists.clone(),
            blacklisted: c.blacklisted || prev.blacklisted,
            deleted: false,
        };
        let hash = hash_of(&sent.to_value());
        let unchanged = tracked
            .get(&c.email)
            .is_some_and(|t| t.status == TrackStatus::Applied && t.hash.as_deref() == Some(&hash));
        if unchanged {
            report.add("contacts.unchanged", 1);
            continue;
        }
        for gone in prev
            .lists
            .difference(&c.lists)
            .filter(|l| managed.contains(l))
        {
            removals.entry(*gone).or_default().push(c.email.clone());
        }
        let clears = before.is_some()
            && prev
                .attributes
                .keys()
                .any(|k| !c.attributes.contains_key(k));
        let group = ImportGroup {
            lists: c.lists.iter().copied().collect(),
            blacklist: sent.blacklisted && !prev.blacklisted,
            clears,
        };
        report.add(
            if before.is_some() {
                "contacts.updated"
            } else {
                "contacts.created"
            },
            1,
        );
        groups.entry(group).or_default().push(PlannedWrite {
            contact: c.clone(),
            sent,
            hash,
            prev,
        });
    }
    // Contacts whose customers are all gone (deleted in the store, or an address changed).
    let departed: Vec<(String, SentContact)> = tracked
        .iter()
        .filter(|(email, _)| !desired_emails.contains(email.as_str()))
        .map(|(email, t)| (email.clone(), SentContact::from_tracked(t)))
        .filter(|(_, s)| !s.deleted)
        .collect();

    if options.dry_run {
        report.add("contacts.deleted", departed.len() as u64);
        report.add(
            "contacts.list_removals",
            removals.values().map(|v| v.len() as u64).sum(),
        );
        return Ok(());
    }

    // Imports first (all submitted, then followed to their results together: Brevo runs
    // them side by side), then removals, then departures.
    let mut submitted: Vec<(Vec<PlannedWrite>, Vec<i64>)> = Vec::new();
    for (group, rows) in groups {
        if group.lists.is_empty() || options.live {
            // An import needs a list: contacts outside every managed list are upserted one
            // by one (only when no all-customers list is configured). In real time every
            // contact is: an import is followed through the small shared bucket.
            for PlannedWrite {
                contact: c,
                sent,
                hash,
                prev,
            } in rows
            {
                client
                    .upsert_contact(&brevo::ContactWrite {
                        email: Some(c.email.clone()),
                        ext_id: None,
                        attributes: attributes_for(&c, &prev),
                        email_blacklisted: group.blacklist.then_some(true),
                        sms_blacklisted: None,
                        list_ids: group.lists.clone(),
                        unlink_list_ids: Vec::new(),
                    })
                    .await?;
                state.put(TRACK_CONTACTS, &[applied(&c.email, hash, sent.to_value())])?;
            }
            continue;
        }
        let import = brevo::ContactImport {
            rows: rows
                .iter()
                .map(|w| brevo::ImportRow {
                    email: w.contact.email.clone(),
                    attributes: attributes_for(&w.contact, &w.prev),
                })
                .collect(),
            list_ids: group.lists.clone(),
            email_blacklist: group.blacklist,
            update_existing_contacts: true,
            empty_contacts_attributes: group.clears,
        };
        let processes = client.import_contacts(&import).await?;
        report.add("contacts.imports", processes.len() as u64);
        submitted.push((rows, processes));
    }
    let waits = submitted.iter().map(|(_, ids)| {
        futures::future::try_join_all(ids.iter().map(|id| client.wait_for_process(*id)))
    });
    let results = futures::future::join_all(waits).await;
    let mut failure = None;
    for ((rows, _), result) in submitted.iter().zip(results) {
        match result {
            Ok(processes) => {
                processes
                    .iter()
                    .for_each(|p| record_import_counters(p, report));
                let records: Vec<Tracked> = rows
                    .iter()
                    .map(|w| applied(&w.contact.email, w.hash.clone(), w.sent.to_value()))
                    .collect();
                state.put(TRACK_CONTACTS, &records)?;
            }
            // Rows of a failed import stay unrecorded: the next run sends them again.
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    if let Some(e) = failure {
        return Err(e.into());
    }
    for (list, emails) in removals {
        let change = client
            .remove_from_list(list, &brevo::Members::Emails(emails))
            .await?;
        report.add("contacts.list_removals", change.success.len() as u64);
    }
    for (email, before) in departed {
        let key = brevo::ContactKey::Email(email.clone());
        match config.delete {
            DeleteBehaviour::Hard => {
                client.delete_contact(&key).await?;
                state.remove(TRACK_CONTACTS, std::slice::from_ref(&email))?;
            }
            DeleteBehaviour::Soft => {
                let mut attributes = serde_json::Map::new();
                attributes.insert(config.deleted_attribute.clone(), Value::Bool(true));
                let write = brevo::ContactWrite {
                    email: None,
                    ext_id: None,
                    attributes,
                    email_blacklisted: None,
                    sms_blacklisted: None,
                    list_ids: Vec::new(),
                    unlink_list_ids: before
                        .lists
                        .iter()
                        .filter(|l| managed.contains(l))
                        .copied()
                        .collect(),
                };
                match client.update_contact(&key, &write).await {
                    Ok(()) | Err(brevo::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                let after = SentContact {
                    lists: BTreeSet::new(),
                    deleted: true,
                    ..before
                };
                state.put(
                    TRACK_CONTACTS,
                    &[applied(
                        &email,
                        hash_of(&after.to_value()),
                        after.to_value(),
                    )],
                )?;
            }
        }
        report.add("contacts.deleted", 1);
    }
    Ok(())
}

/// The attributes of an import row or upsert: the mapped values, plus an empty value for
/// each attribute bcsync sent before and the contact no longer has (such rows go in an
/// import that erases empty values, docs/brevo-api-notes.md §1.6).
fn attributes_for(c: &DesiredContact, prev: &SentContact) -> serde_json::Map<String, Value> {
    let mut out: serde_json::Map<String, Value> = c
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for gone in prev
        .attributes
        .keys()
        .filter(|k| !c.attributes.contains_key(*k))
    {
        out.insert(gone.clone(), Value::String(String::new()));
    }
    out.sort_keys();
    out
}

/// One contact to write: what to send, and what was sent before.
#[derive(Debug)]
struct PlannedWrite {
    contact: DesiredContact,
    sent: SentContact,
    hash: String,
    prev: SentContact,
}

fn record_import_counters(process: &brevo::Process, report: &mut SyncReport) {
    if let Some(import) = process.info.get("import") {
        for (key, name) in [
            ("invalid_emails", "contacts.import_invalid_emails"),
            ("duplicate_email_id", "contacts.import_duplicates"),
        ] {
            if let Some(n) = import.get(key).and_then(Value::as_u64) {
                report.add(name, n);
            }
        }
    }
}

fn applied(key: &str, hash: String, fields: Value) -> Tracked {
    Tracked {
        key: key.to_owned(),
        hash: Some(hash),
        bc_id: None,
        status: TrackStatus::Applied,
        fields: Some(fields),
    }
}

/// An object to send: its key, the object, and the hash recorded once it is sent.
type ToSend<T> = (String, T, String);

/// Objects of one kind that changed since they were last sent (with their hashes), and how
/// many did not.
fn changed<T: serde::Serialize>(
    tracked: &HashMap<String, Tracked>,
    items: Vec<(String, T)>,
) -> Result<(Vec<ToSend<T>>, u64)> {
    let mut out = Vec::new();
    let mut unchanged = 0;
    for (key, item) in items {
        let value = serde_json::to_value(&item).map_err(|e| Error::Encode {
            what: "a Brevo object",
            detail: e.to_string(),
        })?;
        let hash = hash_of(&value);
        if tracked
            .get(&key)
            .is_some_and(|t| t.status == TrackStatus::Applied && t.hash.as_deref() == Some(&hash))
        {
            unchanged += 1;
        } else {
            out.push((key, item, hash));
        }
    }
    Ok((out, unchanged))
}

fn applied_all<T>(items: &[ToSend<T>]) -> Vec<Tracked> {
    items
        .iter()
        .map(|(k, _, h)| Tracked {
            key: k.clone(),
            hash: Some(h.clone()),
            bc_id: None,
            status: TrackStatus::Applied,
            fields: None,
        })
        .collect()
}

async fn sync_catalog(
    _config: &BrevoConfig,
    client: &brevo::Client,
    warehouse: &Warehouse,
    state: &mut dyn PushStore,
    options: SyncOptions,
    scope: Option<&Scope>,
    report: &mut SyncReport,
) -> Result<()> {
    let url = warehouse.store_url.as_deref();
    if options.live {
        return sync_products_live(client, warehouse, state, options, scope, report).await;
    }
    let categories = commerce::categories(&warehouse.categories, url);
    let (categories, unchanged) = changed(
        &state.load(TRACK_CATEGORIES)?,
        categories.into_iter().map(|c| (c.id.clone(), c)).collect(),
    )?;
    report.add("categories.unchanged", unchanged);
    report.add("categories.sent", categories.len() as u64);
    let products = commerce::products(&warehouse.products, &warehouse.brands, url);
    let (products, unchanged) = changed(
        &state.load(TRACK_PRODUCTS)?,
        products.into_iter().map(|p| (p.id.clone(), p)).collect(),
    )?;
    report.add("products.unchanged", unchanged);
    report.add("products.sent", products.len() as u64);
    if options.dry_run || (categories.is_empty() && products.is_empty()) {
        return Ok(());
    }
    if !categories.is_empty() {
        let items: Vec<brevo::Category> = categories.iter().map(|(_, c, _)| c.clone()).collect();
        ecommerce(client, || client.upsert_categories(&items)).await?;
        state.put(TRACK_CATEGORIES, &applied_all(&categories))?;
    }
    if !products.is_empty() {
        let items: Vec<brevo::Product> = products.iter().map(|(_, p, _)| p.clone()).collect();
        ecommerce(client, || client.upsert_products(&items)).await?;
        state.put(TRACK_PRODUCTS, &applied_all(&products))?;
    }
    Ok(())
}

/// Products one by one on `POST /products` (its own bucket), each recorded once sent.
async fn sync_products_live(
    client: &brevo::Client,
    warehouse: &Warehouse,
    state: &mut dyn PushStore,
    options: SyncOptions,
    scope: Option<&Scope>,
    report: &mut SyncReport,
) -> Result<()> {
    let rows: Vec<commerce::Row>;
    let rows = match scope {
        None => &warehouse.products[..],
        Some(scope) => {
            rows = warehouse
                .products
                .iter()
                .filter(|p| {
                    p.raw
                        .get("id")
                        .and_then(Value::as_i64)
                        .is_some_and(|id| scope.products.contains(&id))
                })
                .cloned()
                .collect();
            &rows[..]
        }
    };
    let products = commerce::products(rows, &warehouse.brands, warehouse.store_url.as_deref());
    let tracked = match scope {
        None => state.load(TRACK_PRODUCTS)?,
        Some(_) => {
            let keys: Vec<String> = products.iter().map(|p| p.id.clone()).collect();
            state.load_keys(TRACK_PRODUCTS, &keys)?
        }
    };
    let (products, unchanged) = changed(
        &tracked,
        products.into_iter().map(|p| (p.id.clone(), p)).collect(),
    )?;
    report.add("products.unchanged", unchanged);
    report.add("products.sent", products.len() as u64);
    if options.dry_run {
        return Ok(());
    }
    for item in &products {
        let (_, product, _) = item;
        ecommerce(client, || client.upsert_product(product)).await?;
        state.put(TRACK_PRODUCTS, &applied_all(std::slice::from_ref(item)))?;
    }
    Ok(())
}

async fn sync_orders(
    client: &brevo::Client,
    warehouse: &Warehouse,
    state: &mut dyn PushStore,
    options: SyncOptions,
    scope: Option<&Scope>,
    report: &mut SyncReport,
) -> Result<()> {
    let in_scope = |o: &&commerce::Row| {
        scope.is_none_or(|s| {
            o.raw
                .get("id")
                .and_then(Value::as_i64)
                .is_some_and(|id| s.orders.contains(&id))
        })
    };
    let tracked = match scope {
        None => state.load(TRACK_ORDERS)?,
        Some(_) => {
            let keys: Vec<String> = warehouse
                .orders
                .iter()
                .filter(in_scope)
                .filter_map(|o| o.raw.get("id").and_then(Value::as_i64))
                .map(|id| id.to_string())
                .collect();
            state.load_keys(TRACK_ORDERS, &keys)?
        }
    };
    // The first run sends the store's past orders: historical, so no automation mails
    // thousands of old customers (docs/brevo-api-notes.md §5.4).
    let historical = tracked.is_empty() && !options.live;
    let mut items = Vec::new();
    for o in warehouse
        .orders
        .iter()
        .filter(|o| o.deleted_at.is_none())
        .filter(in_scope)
    {
        let lines = crate::streams::children::order_lines(&o.raw);
        match commerce::order(&o.raw, &lines) {
            Ok(Some(order)) => items.push((order.id.clone(), order)),
            Ok(None) => {}
            Err(r) => {
                report.add("orders.refused", 1);
                report.refusals.push(refusal(r));
            }
        }
    }
    let (orders, unchanged) = changed(&tracked, items)?;
    report.add("orders.unchanged", unchanged);
    report.add(
        if historical {
            "orders.sent_historical"
        } else {
            "orders.sent"
        },
        orders.len() as u64,
    );
    if options.dry_run || orders.is_empty() {
        return Ok(());
    }
    if options.live {
        // One by one on `POST /orders/status` (its own bucket), an upsert by id.
        for item in &orders {
            let (_, order, _) = item;
            ecommerce(client, || client.upsert_order(order)).await?;
            state.put(TRACK_ORDERS, &applied_all(std::slice::from_ref(item)))?;
        }
        return Ok(());
    }
    let items: Vec<brevo::Order> = orders.iter().map(|(_, o, _)| o.clone()).collect();
    // Recorded as sent on Brevo's 202: the batch is applied later and no route reports its
    // outcome except through the small shared bucket (docs/brevo-api-notes.md §5.4).
    ecommerce(client, || client.orders_batch(&items, historical)).await?;
    state.put(TRACK_ORDERS, &applied_all(&orders))?;
    Ok(())
}

/// Runs an e-commerce write; when Brevo answers that the e-commerce app is not active,
/// activates it once and retries while the activation completes (a few minutes,
/// docs/brevo-api-notes.md §5.1).
async fn ecommerce<T, F, Fut>(client: &brevo::Client, write: F) -> Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = brevo::Result<T>>,
{
    match write().await {
        Err(brevo::Error::EcommerceInactive { .. }) => {}
        other => return Ok(other?),
    }
    tracing::info!("Brevo's e-commerce app is not active on this account: activating it");
    client.activate_ecommerce().await?;
    let started = Instant::now();
    let mut wait = std::time::Duration::from_millis(200);
    loop {
        tokio::time::sleep(wait).await;
        match write().await {
            Err(brevo::Error::EcommerceInactive { .. })
                if started.elapsed() < std::time::Duration::from_secs(15 * 60) =>
            {
                wait = (wait * 2).min(std::time::Duration::from_secs(30));
            }
            Err(brevo::Error::EcommerceInactive { .. }) => {
                return Err(Error::Config(
                    "Brevo's e-commerce app is still not active 15 minutes after bcsync \
                     activated it; check Brevo's Ecommerce settings, then rerun"
                        .into(),
                ));
            }
            other => return Ok(other?),
        }
    }
}

/// How a run record's message starts when it holds Brevo's last answer.
const LAST_ANSWER: &str = "Brevo's last answer: ";

/// Brevo beside the store in `bcsync status`: the last run, from the run records (never a
/// request to Brevo: its account route spends the small shared bucket).
#[derive(Debug, Clone, serde::Serialize)]
pub struct BrevoStatus {
    /// `connected` when the last run's requests were answered, else why not.
    pub connection: String,
    pub last_run_at: String,
    pub last_run_status: String,
    pub counts: BTreeMap<String, u64>,
    pub refused: u64,
}

/// The Brevo status of `store_hash` from its newest `brevo` run, if any.
pub fn status(runs: &dyn PushStore, store_hash: &str) -> Result<Option<BrevoStatus>> {
    let Some(run) = runs
        .runs(500)?
        .into_iter()
        .find(|r| r.sync == RUN_NAME && r.store == store_hash && !r.dry_run)
    else {
        return Ok(None);
    };
    let connection = match (&run.status[..], &run.message) {
        ("ok", Some(m)) => format!("connected ({})", m.trim_start_matches(LAST_ANSWER)),
        ("ok", None) => "connected".to_owned(),
        (_, Some(m)) => format!("last run failed: {m}"),
        (status, None) => format!("last run {status}"),
    };
    let refused = run
        .counts
        .iter()
        .filter(|(k, _)| k.contains("refused"))
        .map(|(_, v)| v)
        .sum();
    Ok(Some(BrevoStatus {
        connection,
        last_run_at: run.finished_at.clone(),
        last_run_status: run.status.clone(),
        counts: run.counts,
        refused,
    }))
}

/// Builds the run record of a finished sync.
pub fn run_record(
    store: &str,
    started_at: String,
    started: Instant,
    result: &Result<SyncReport>,
) -> RunRecord {
    let mut run = RunRecord {
        store: store.to_owned(),
        sync: RUN_NAME.to_owned(),
        started_at,
        finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        duration_ms: started.elapsed().as_millis() as u64,
        ..RunRecord::default()
    };
    match result {
        Ok(r) => {
            run.status = "ok".into();
            run.dry_run = r.dry_run;
            run.counts = r.counts.clone();
            run.rejected = r.refusals.clone();
            run.requests = r.requests.values().sum();
            run.throttled = r.throttled;
            run.message = r.last_answer.as_ref().map(|a| format!("{LAST_ANSWER}{a}"));
        }
        Err(e) => {
            run.status = "failed".into();
            run.message = Some(e.to_string());
        }
    }
    run
}
