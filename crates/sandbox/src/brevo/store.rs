//! The emulated account's data: contacts, attributes, folders, lists, events, the
//! e-commerce catalogue and orders, processes and order batches, plus what tests inspect
//! (dropped attribute values, the automations counter, notifications sent).
//!
//! Every attribute write (create, update, import, event `contact_properties`) goes through
//! [`Store::clean_attributes`], the one place that applies docs/brevo-api-notes.md §2: only
//! existing upper-case names are kept, wrongly typed values are dropped (or refused, by
//! switch) and each drop is logged in [`Store::dropped`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::clock::{Clock, format_time};
use super::error::BrevoError;
use super::util::{is_email, normalise_email, normalise_phone};

/// The phone-like identifier attributes (docs/brevo-api-notes.md §2.5).
pub const PHONE_ATTRIBUTES: [&str; 3] = ["SMS", "WHATSAPP", "LANDLINE_NUMBER"];

/// Identifier attributes other than EMAIL; each is unique per account
/// (docs/brevo-api-notes.md §2.3) and indexed for lookups.
pub const IDENTIFIER_ATTRIBUTES: [&str; 4] = ["EXT_ID", "SMS", "WHATSAPP", "LANDLINE_NUMBER"];

/// The email of the account owner: deleting this contact is refused with 405
/// (docs/brevo-api-notes.md §1.3).
pub const OWNER_EMAIL: &str = "owner@brevo-sandbox.test";

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: i64,
    pub email: Option<String>,
    pub attributes: BTreeMap<String, Value>,
    pub email_blacklisted: bool,
    pub sms_blacklisted: bool,
    pub list_ids: BTreeSet<i64>,
    #[serde(skip)]
    pub created: Duration,
    #[serde(skip)]
    pub modified: Duration,
    pub smtp_blacklist_sender: Vec<String>,
}

impl Contact {
    pub fn to_json(&self, clock: &Clock) -> Value {
        let mut v = json!({
            "id": self.id,
            "emailBlacklisted": self.email_blacklisted,
            "smsBlacklisted": self.sms_blacklisted,
            "createdAt": format_time(clock.wall(self.created)),
            "modifiedAt": format_time(clock.wall(self.modified)),
            "listIds": self.list_ids.iter().collect::<Vec<_>>(),
            "attributes": self.attributes,
        });
        if let (Some(e), Some(o)) = (&self.email, v.as_object_mut()) {
            o.insert("email".into(), Value::from(e.clone()));
        }
        v
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    pub name: String,
    pub category: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enumeration: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_category_options: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calculated_value: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Folder {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct List {
    pub id: i64,
    pub name: String,
    pub folder_id: i64,
    #[serde(skip)]
    pub created: Duration,
}

/// An attribute value that was accepted by the API but not stored
/// (docs/brevo-api-notes.md §8.4).
#[derive(Debug, Clone, Serialize)]
pub struct DroppedValue {
    /// The route that received it, e.g. `POST /v3/contacts`.
    pub route: String,
    /// The contact's email or id when known.
    pub contact: Option<String>,
    pub attribute: String,
    pub value: Value,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    pub id: i64,
    pub event_name: String,
    pub contact_id: Option<i64>,
    pub identifiers: Value,
    pub event_date: String,
    pub contact_properties: Value,
    pub event_properties: Value,
    pub object: Value,
    /// The route it came through: `single` or `batch`.
    pub via: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CatalogItem {
    /// The stored document as the API returns it.
    pub doc: Map<String, Value>,
    #[serde(skip)]
    pub seq: u64,
    #[serde(skip)]
    pub created: Duration,
    #[serde(skip)]
    pub modified: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredOrder {
    pub doc: Map<String, Value>,
    /// False only for orders of a batch sent with `historical: false` and for the single
    /// route (docs/brevo-api-notes.md §5.4).
    pub historical: bool,
    /// `single` or `batch:<id>`.
    pub via: String,
    #[serde(skip)]
    pub seq: u64,
    #[serde(skip)]
    pub created: Duration,
    #[serde(skip)]
    pub modified: Duration,
}

/// The rows of an accepted import, applied when its process completes.
#[derive(Debug, Clone)]
pub struct ImportJob {
    pub rows: Vec<ImportRow>,
    pub list_ids: Vec<i64>,
    pub email_blacklist: bool,
    pub sms_blacklist: bool,
    pub update_existing: bool,
    pub empty_attributes: bool,
}

#[derive(Debug, Clone)]
pub struct ImportRow {
    pub email: Option<String>,
    /// Raw attribute values; for CSV rows, strings (an empty cell is `""`).
    pub attributes: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Process {
    pub id: i64,
    pub name: String,
    pub created: Duration,
    /// Queued until this instant.
    pub starts: Duration,
    /// In process until this instant, then completed.
    pub completes: Duration,
    pub job: Option<ImportJob>,
    pub info: Option<Value>,
    pub error: Option<String>,
    pub notify_url: Option<String>,
    pub applied: bool,
}

impl Process {
    pub fn status(&self, now: Duration) -> &'static str {
        if self.applied || now >= self.completes {
            if self.error.is_some() {
                "failed"
            } else {
                "completed"
            }
        } else if now >= self.starts {
            "in_process"
        } else {
            "queued"
        }
    }

    pub fn to_json(&self, clock: &Clock) -> Value {
        let now = clock.now();
        let status = self.status(now);
        let mut v = json!({
            "id": self.id,
            "name": self.name,
            "status": status,
            "created_at": format_time(clock.wall(self.created)),
        });
        if let Some(o) = v.as_object_mut() {
            if status == "completed" || status == "failed" {
                o.insert(
                    "completed_at".into(),
                    Value::from(format_time(clock.wall(self.completes))),
                );
                if let Some(info) = &self.info {
                    o.insert("info".into(), info.clone());
                }
            }
            if let Some(e) = &self.error {
                o.insert("error".into(), Value::from(e.clone()));
            }
        }
        v
    }
}

/// A batch of orders accepted with 202, applied when due.
#[derive(Debug, Clone, Serialize)]
pub struct OrderBatch {
    pub id: i64,
    pub count: usize,
    pub historical: bool,
    #[serde(skip)]
    pub orders: Vec<Map<String, Value>>,
    #[serde(skip)]
    pub due: Duration,
    pub applied: bool,
    pub notify_url: Option<String>,
}

/// A call the emulator made (or would make) to a `notifyUrl`.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub url: String,
    pub payload: Value,
    /// False when the URL was not on loopback, so nothing was sent.
    pub sent: bool,
}

/// The whole account.
#[derive(Debug, Default)]
pub struct Store {
    pub contacts: BTreeMap<i64, Contact>,
    next_contact_id: i64,
    /// Lower-cased email → contact id.
    email_index: HashMap<String, i64>,
    /// (identifier attribute, value) → contact id, for [`IDENTIFIER_ATTRIBUTES`].
    identifier_index: HashMap<(String, String), i64>,
    pub attributes: Vec<Attribute>,
    pub folders: BTreeMap<i64, Folder>,
    next_folder_id: i64,
    pub lists: BTreeMap<i64, List>,
    next_list_id: i64,
    pub events: Vec<StoredEvent>,
    pub categories: BTreeMap<String, CatalogItem>,
    pub products: BTreeMap<String, CatalogItem>,
    pub next_seq: u64,
    pub next_product_number: i64,
    pub next_category_number: i64,
    pub orders: BTreeMap<String, StoredOrder>,
    pub order_batches: BTreeMap<i64, OrderBatch>,
    next_batch_id: i64,
    pub processes: BTreeMap<i64, Process>,
    next_process_id: i64,
    pub dropped: Vec<DroppedValue>,
    pub automations_triggered: u64,
    /// When the e-commerce app turns (or turned) active.
    pub ecommerce_active_at: Option<Duration>,
    pub contacts_batch_calls: u64,
    pub notifications: Vec<Notification>,
}

/// Where an attribute write comes from (for the drop log and the wrong-type switch).
#[derive(Debug, Clone)]
pub struct WriteContext<'a> {
    pub route: &'a str,
    pub contact: Option<String>,
    /// Refuse wrongly typed values with 400 instead of dropping them.
    pub reject_wrong_type: bool,
}

impl Store {
    /// A fresh account with the default attributes (docs/brevo-api-notes.md §2.3).
    pub fn new(french_names: bool) -> Self {
        let mut s = Store {
            next_contact_id: 1,
            next_folder_id: 1,
            next_list_id: 1,
            next_batch_id: 1,
            next_process_id: 1,
            next_product_number: 1,
            next_category_number: 1,
            ..Store::default()
        };
        let (first, last) = if french_names {
            ("PRENOM", "NOM")
        } else {
            ("FIRSTNAME", "LASTNAME")
        };
        for name in [
            "EMAIL",
            first,
            last,
            "SMS",
            "EXT_ID",
            "WHATSAPP",
            "LANDLINE_NUMBER",
        ] {
            s.attributes.push(Attribute {
                name: name.into(),
                category: "normal".into(),
                kind: Some("text".into()),
                enumeration: None,
                multi_category_options: None,
                calculated_value: None,
            });
        }
        s
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    // ---- identifiers ----

    pub fn find_by_email(&self, email: &str) -> Option<i64> {
        self.email_index.get(&normalise_email(email)).copied()
    }

    /// The contact whose attribute `name` equals `value` (identifier attributes are
    /// indexed; others are scanned).
    pub fn find_by_attr(&self, name: &str, value: &str) -> Option<i64> {
        if IDENTIFIER_ATTRIBUTES.contains(&name) {
            return self
                .identifier_index
                .get(&(name.to_owned(), value.to_owned()))
                .copied();
        }
        self.contacts
            .values()
            .find(|c| match c.attributes.get(name) {
                Some(Value::String(s)) => s == value,
                Some(Value::Number(n)) => n.to_string() == value,
                Some(_) => false,
                None => false,
            })
            .map(|c| c.id)
    }

    /// Deletes a contact and its index entries.
    pub fn remove_contact(&mut self, id: i64) {
        if let Some(c) = self.contacts.remove(&id) {
            if let Some(e) = &c.email {
                self.email_index.remove(e);
            }
            for name in IDENTIFIER_ATTRIBUTES {
                if let Some(Value::String(v)) = c.attributes.get(name) {
                    self.identifier_index.remove(&(name.to_owned(), v.clone()));
                }
            }
        }
    }

    /// Removes an attribute's values from every contact (the attribute was deleted).
    pub fn erase_attribute(&mut self, name: &str) {
        for c in self.contacts.values_mut() {
            c.attributes.remove(name);
        }
        self.identifier_index.retain(|(n, _), _| n != name);
    }

    pub fn new_contact(&mut self, now: Duration) -> i64 {
        let id = self.next_contact_id;
        self.next_contact_id += 1;
        self.contacts.insert(
            id,
            Contact {
                id,
                email: None,
                attributes: BTreeMap::new(),
                email_blacklisted: false,
                sms_blacklisted: false,
                list_ids: BTreeSet::new(),
                created: now,
                modified: now,
                smtp_blacklist_sender: Vec::new(),
            },
        );
        id
    }

    // ---- attributes ----

    fn drop_value(&mut self, ctx: &WriteContext<'_>, name: &str, value: &Value, reason: String) {
        tracing::debug!(route = ctx.route, attribute = name, %reason, "attribute value dropped");
        self.dropped.push(DroppedValue {
            route: ctx.route.to_owned(),
            contact: ctx.contact.clone(),
            attribute: name.to_owned(),
            value: value.clone(),
            reason,
        });
    }

    /// Applies docs/brevo-api-notes.md §2 to an `attributes` map: returns what may be stored,
    /// with identifier attributes normalised (EMAIL lower-cased, phones as digits,
    /// EXT_ID as a string). Unknown and lower-case names and wrongly typed values are
    /// dropped and logged (or, by switch, a wrong type is a 400). An invalid phone is
    /// always a 400.
    pub fn clean_attributes(
        &mut self,
        input: &Map<String, Value>,
        ctx: &WriteContext<'_>,
    ) -> Result<BTreeMap<String, Value>, BrevoError> {
        let mut out = BTreeMap::new();
        for (name, value) in input {
            if name.to_uppercase() != *name {
                self.drop_value(
                    ctx,
                    name,
                    value,
                    "attribute names must be upper-case".into(),
                );
                continue;
            }
            let Some(attr) = self.attribute(name).cloned() else {
                self.drop_value(ctx, name, value, "no attribute of that name exists".into());
                continue;
            };
            if value.is_null() {
                // Null erases the value.
                out.insert(name.clone(), Value::Null);
                continue;
            }
            match check_value(&attr, value) {
                Ok(v) => {
                    out.insert(name.clone(), v);
                }
                Err(Rejection::Fatal(e)) => return Err(e),
                Err(Rejection::WrongType(reason)) => {
                    if ctx.reject_wrong_type {
                        return Err(BrevoError::invalid(format!(
                            "Invalid value for attribute {name}: {reason}"
                        )));
                    }
                    self.drop_value(ctx, name, value, reason);
                }
            }
        }
        Ok(out)
    }

    /// Checks that the unique identifiers in `attrs` (and `email`) belong to no contact
    /// other than `me`. Returns the clashing identifier names (`email`, `SMS`, `ext_id`, ...;
    /// docs/brevo-api-notes.md §1.2: the names for SMS and ext_id are UNCERTAIN).
    pub fn clashes(
        &self,
        me: Option<i64>,
        email: Option<&str>,
        attrs: &BTreeMap<String, Value>,
    ) -> Vec<&'static str> {
        let mut out = Vec::new();
        if let Some(e) = email
            && let Some(other) = self.find_by_email(e)
            && Some(other) != me
        {
            out.push("email");
        }
        for (name, label) in [
            ("EXT_ID", "ext_id"),
            ("SMS", "SMS"),
            ("WHATSAPP", "WHATSAPP"),
            ("LANDLINE_NUMBER", "LANDLINE_NUMBER"),
        ] {
            if let Some(Value::String(v)) = attrs.get(name)
                && let Some(other) = self.find_by_attr(name, v)
                && Some(other) != me
            {
                out.push(label);
            }
        }
        out
    }

    /// Writes cleaned attributes to a contact (EMAIL is handled by the caller), bumping
    /// `modifiedAt` if anything changed.
    pub fn write_attributes(
        &mut self,
        id: i64,
        attrs: BTreeMap<String, Value>,
        now: Duration,
    ) -> Result<(), BrevoError> {
        let c = self
            .contacts
            .get_mut(&id)
            .ok_or_else(BrevoError::contact_not_found)?;
        let mut changed = false;
        for (k, v) in attrs {
            if k == "EMAIL"
                || c.attributes.get(&k) == Some(&v)
                || (v.is_null() && !c.attributes.contains_key(&k))
            {
                continue;
            }
            if IDENTIFIER_ATTRIBUTES.contains(&k.as_str()) {
                if let Some(Value::String(old)) = c.attributes.get(&k) {
                    self.identifier_index.remove(&(k.clone(), old.clone()));
                }
                if let Value::String(new) = &v {
                    self.identifier_index.insert((k.clone(), new.clone()), id);
                }
            }
            if v.is_null() {
                c.attributes.remove(&k);
            } else {
                c.attributes.insert(k, v);
            }
            changed = true;
        }
        if changed {
            c.modified = now;
        }
        Ok(())
    }

    /// Sets a contact's email (validated and lower-cased by the caller). Changing it clears
    /// the email blocklist flag (docs/brevo-api-notes.md §1.3).
    pub fn set_email(&mut self, id: i64, email: String, now: Duration) {
        if let Some(c) = self.contacts.get_mut(&id)
            && c.email.as_deref() != Some(email.as_str())
        {
            if let Some(old) = &c.email {
                c.email_blacklisted = false;
                self.email_index.remove(old);
            }
            self.email_index.insert(email.clone(), id);
            c.email = Some(email);
            c.modified = now;
        }
    }

    /// Checks that every list exists (docs/brevo-api-notes.md §3: an unknown list id is a 400).
    pub fn check_lists(&self, ids: &[i64]) -> Result<(), BrevoError> {
        if let Some(bad) = ids.iter().find(|id| !self.lists.contains_key(id)) {
            return Err(BrevoError::invalid(format!(
                "List id {bad} does not exist; create the list first"
            )));
        }
        Ok(())
    }

    /// Adds and removes list memberships, bumping `modifiedAt` on a change
    /// (docs/brevo-api-notes.md §1.1).
    pub fn change_lists(&mut self, id: i64, add: &[i64], remove: &[i64], now: Duration) -> bool {
        let Some(c) = self.contacts.get_mut(&id) else {
            return false;
        };
        let mut changed = false;
        for l in add {
            changed |= c.list_ids.insert(*l);
        }
        for l in remove {
            changed |= c.list_ids.remove(l);
        }
        if changed {
            c.modified = now;
        }
        changed
    }

    // ---- folders and lists ----

    pub fn add_folder(&mut self, name: String) -> i64 {
        let id = self.next_folder_id;
        self.next_folder_id += 1;
        self.folders.insert(id, Folder { id, name });
        id
    }

    pub fn add_list(&mut self, name: String, folder_id: i64, now: Duration) -> i64 {
        let id = self.next_list_id;
        self.next_list_id += 1;
        self.lists.insert(
            id,
            List {
                id,
                name,
                folder_id,
                created: now,
            },
        );
        id
    }

    pub fn delete_list(&mut self, id: i64, now: Duration) {
        self.lists.remove(&id);
        let members: Vec<i64> = self
            .contacts
            .values()
            .filter(|c| c.list_ids.contains(&id))
            .map(|c| c.id)
            .collect();
        for m in members {
            self.change_lists(m, &[], &[id], now);
        }
    }

    pub fn list_members(&self, list: i64) -> usize {
        self.contacts
            .values()
            .filter(|c| c.list_ids.contains(&list))
            .count()
    }

    // ---- processes and batches ----

    pub fn add_process(
        &mut self,
        name: &str,
        now: Duration,
        queued_for: Duration,
        runs_for: Duration,
    ) -> i64 {
        let id = self.next_process_id;
        self.next_process_id += 1;
        self.processes.insert(
            id,
            Process {
                id,
                name: name.into(),
                created: now,
                starts: now + queued_for,
                completes: now + queued_for + runs_for,
                job: None,
                info: None,
                error: None,
                notify_url: None,
                applied: false,
            },
        );
        id
    }

    pub fn add_order_batch(&mut self, mut batch: OrderBatch) -> i64 {
        let id = self.next_batch_id;
        self.next_batch_id += 1;
        batch.id = id;
        self.order_batches.insert(id, batch);
        id
    }

    pub fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Upserts an order (replacing the stored document: docs/brevo-api-notes.md §5.4 says
    /// merge-or-replace is UNCERTAIN; a client that always sends the full order survives
    /// both). A non-historical order counts one triggered automation.
    pub fn put_order(
        &mut self,
        doc: Map<String, Value>,
        historical: bool,
        via: String,
        now: Duration,
    ) {
        let id = doc.get("id").map(value_as_id).unwrap_or_default();
        if !historical {
            self.automations_triggered += 1;
        }
        let seq = self.next_seq();
        match self.orders.get_mut(&id) {
            Some(o) => {
                o.doc = doc;
                o.historical = historical;
                o.via = via;
                o.modified = now;
            }
            None => {
                self.orders.insert(
                    id,
                    StoredOrder {
                        doc,
                        historical,
                        via,
                        seq,
                        created: now,
                        modified: now,
                    },
                );
            }
        }
    }

    /// Completes due processes and order batches. Returns the notifications to send.
    pub fn tick(&mut self, now: Duration) -> Vec<Notification> {
        let mut notes = Vec::new();
        let due: Vec<i64> = self
            .processes
            .values()
            .filter(|p| !p.applied && now >= p.completes)
            .map(|p| p.id)
            .collect();
        for id in due {
            let (job, notify) = match self.processes.get_mut(&id) {
                Some(p) => {
                    p.applied = true;
                    (p.job.take(), p.notify_url.clone())
                }
                None => continue,
            };
            if let Some(job) = job {
                let info = self.apply_import(id, job, now);
                if let Some(p) = self.processes.get_mut(&id) {
                    p.info = Some(info);
                }
            }
            if let Some(url) = notify {
                notes.push(Notification {
                    url,
                    payload: json!({ "processId": id, "status": "completed" }),
                    sent: false,
                });
            }
        }
        let due: Vec<i64> = self
            .order_batches
            .values()
            .filter(|b| !b.applied && now >= b.due)
            .map(|b| b.id)
            .collect();
        for id in due {
            let Some(b) = self.order_batches.get_mut(&id) else {
                continue;
            };
            b.applied = true;
            let orders = std::mem::take(&mut b.orders);
            let (historical, count, notify) = (b.historical, b.count, b.notify_url.clone());
            for o in orders {
                self.put_order(o, historical, format!("batch:{id}"), now);
            }
            if let Some(url) = notify {
                notes.push(Notification {
                    url,
                    payload: json!({ "batchId": id, "count": count, "status": "completed" }),
                    sent: false,
                });
            }
        }
        notes
    }

    /// Applies an import's rows (docs/brevo-api-notes.md §1.6) and returns its `info`.
    fn apply_import(&mut self, process: i64, job: ImportJob, now: Duration) -> Value {
        let mut invalid_emails = 0u64;
        let mut dup_email = 0u64;
        let mut dup_ext = 0u64;
        let mut dup_phone = 0u64;
        let mut dup_id = 0u64;
        let mut seen_emails = BTreeSet::new();
        let route = format!("POST /v3/contacts/import (process {process})");
        for row in job.rows {
            let email = match &row.email {
                Some(e) if !e.trim().is_empty() => {
                    let e = normalise_email(e);
                    if !is_email(&e) {
                        invalid_emails += 1;
                        continue;
                    }
                    if !seen_emails.insert(e.clone()) {
                        dup_email += 1;
                        continue;
                    }
                    Some(e)
                }
                _ => None,
            };
            // Empty cells: ignored, or erase the value with emptyContactsAttributes.
            let mut raw = Map::new();
            for (k, v) in row.attributes {
                let empty = matches!(&v, Value::String(s) if s.is_empty());
                if empty {
                    if job.empty_attributes {
                        raw.insert(k, Value::Null);
                    }
                } else {
                    raw.insert(k, v);
                }
            }
            let ctx = WriteContext {
                route: &route,
                contact: email.clone(),
                // An import never fails a row on a wrong type; the value is dropped.
                reject_wrong_type: false,
            };
            let attrs = match self.clean_attributes(&raw, &ctx) {
                Ok(a) => a,
                // An invalid phone skips the row; Brevo has no counter for it.
                Err(_) => continue,
            };
            let ext = attrs
                .get("EXT_ID")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let existing = email
                .as_deref()
                .and_then(|e| self.find_by_email(e))
                .or_else(|| ext.as_deref().and_then(|x| self.find_by_attr("EXT_ID", x)));
            if existing.is_none() && email.is_none() && ext.is_none() && !attrs.contains_key("SMS")
            {
                invalid_emails += 1;
                continue;
            }
            let clashes = self.clashes(existing, email.as_deref(), &attrs);
            if !clashes.is_empty() {
                for c in clashes {
                    match c {
                        "ext_id" => dup_ext += 1,
                        "email" => dup_email += 1,
                        _ => dup_phone += 1,
                    }
                }
                continue;
            }
            let id = match existing {
                Some(_) if !job.update_existing => {
                    dup_id += 1;
                    continue;
                }
                Some(id) => id,
                None => {
                    let id = self.new_contact(now);
                    if let Some(e) = &email {
                        self.set_email(id, e.clone(), now);
                    }
                    id
                }
            };
            let _ = self.write_attributes(id, attrs, now);
            self.change_lists(id, &job.list_ids, &[], now);
            if let Some(c) = self.contacts.get_mut(&id) {
                if job.email_blacklist && !c.email_blacklisted {
                    c.email_blacklisted = true;
                    c.modified = now;
                }
                if job.sms_blacklist && !c.sms_blacklisted {
                    c.sms_blacklisted = true;
                    c.modified = now;
                }
            }
        }
        json!({
            "import": {
                "invalid_emails": invalid_emails,
                "duplicate_contact_id": dup_id,
                "duplicate_ext_id": dup_ext,
                "duplicate_phone_id": dup_phone,
                "duplicate_whatsapp_id": 0,
                "duplicate_landline_number_id": 0,
                "duplicate_email_id": if dup_email > 0 {
                    Value::from(format!("https://brevo-sandbox.test/reports/{process}/duplicate_email_id.csv"))
                } else {
                    Value::Null
                },
                "duplicate_email_count": dup_email,
            }
        })
    }
}

/// An id given as a JSON string or number, as a string.
pub fn value_as_id(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

enum Rejection {
    /// Dropped silently (documented) or 400 by switch.
    WrongType(String),
    /// Always a 400 (an invalid phone or email).
    Fatal(BrevoError),
}

/// Checks one value against its attribute (docs/brevo-api-notes.md §2.1, §2.4, §2.5) and
/// returns the value to store.
fn check_value(attr: &Attribute, value: &Value) -> Result<Value, Rejection> {
    let name = attr.name.as_str();
    if PHONE_ATTRIBUTES.contains(&name) {
        return normalise_phone(value).map(Value::from).ok_or_else(|| {
            Rejection::Fatal(BrevoError::invalid(format!(
                "Invalid phone number in {name}: give digits with the country code, e.g. 33612345678 or +33612345678"
            )))
        });
    }
    if name == "EMAIL" {
        let e = value.as_str().map(normalise_email).unwrap_or_default();
        if !is_email(&e) {
            return Err(Rejection::Fatal(BrevoError::invalid(
                "Invalid email address in EMAIL; give a full address like name@example.com",
            )));
        }
        return Ok(Value::from(e));
    }
    if name == "EXT_ID" {
        return match value {
            Value::String(s) if !s.is_empty() => Ok(value.clone()),
            Value::Number(n) => Ok(Value::from(n.to_string())),
            _ => Err(Rejection::WrongType("EXT_ID takes a string".into())),
        };
    }
    if matches!(attr.category.as_str(), "calculated" | "global") {
        return Err(Rejection::WrongType(format!(
            "{} attributes are computed by Brevo and cannot be written",
            attr.category
        )));
    }
    let wrong = |expected: &str| Err(Rejection::WrongType(format!("expected {expected}")));
    match attr.kind.as_deref().unwrap_or("text") {
        "text" => match value {
            Value::String(_) => Ok(value.clone()),
            _ => wrong("a string"),
        },
        "date" => match value.as_str() {
            Some(s) if NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() => Ok(value.clone()),
            _ => wrong("a date as YYYY-MM-DD"),
        },
        "float" => match value {
            Value::Number(_) => Ok(value.clone()),
            Value::String(s) if s.parse::<f64>().is_ok() => Ok(serde_json::Number::from_f64(
                s.parse::<f64>().unwrap_or(0.0),
            )
            .map_or(Value::Null, Value::Number)),
            _ => wrong("a number"),
        },
        "boolean" => match value {
            Value::Bool(_) => Ok(value.clone()),
            Value::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            _ => wrong("true or false"),
        },
        "id" => match value {
            Value::String(_) | Value::Number(_) => Ok(value.clone()),
            _ => wrong("a string or number"),
        },
        "user" => match value.as_str() {
            Some(s) if is_email(s) => Ok(value.clone()),
            _ => wrong("the email of an account user"),
        },
        "category" => {
            let options = attr.enumeration.clone().unwrap_or_default();
            let hit = options.iter().find(|o| {
                let v = o.get("value");
                let l = o.get("label");
                match value {
                    Value::Number(n) => v.and_then(Value::as_i64) == n.as_i64(),
                    Value::String(s) => {
                        l.and_then(Value::as_str) == Some(s.as_str())
                            || v.map(|v| v.to_string()) == Some(s.clone())
                    }
                    _ => false,
                }
            });
            match hit.and_then(|o| o.get("value")) {
                Some(v) => Ok(v.clone()),
                None => wrong("the value or label of one of the category's options"),
            }
        }
        "multiple-choice" => {
            let options = attr.multi_category_options.clone().unwrap_or_default();
            match value {
                Value::Array(items)
                    if items
                        .iter()
                        .all(|i| i.as_str().is_some_and(|s| options.iter().any(|o| o == s))) =>
                {
                    Ok(value.clone())
                }
                _ => wrong("an array of existing options"),
            }
        }
        _ => Ok(value.clone()),
    }
}

/// A 400 for a missing/invalid field of an e-commerce or event payload.
pub fn bad(message: impl Into<String>) -> BrevoError {
    BrevoError::new(StatusCode::BAD_REQUEST, "invalid_parameter", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(reject: bool) -> WriteContext<'static> {
        WriteContext {
            route: "test",
            contact: None,
            reject_wrong_type: reject,
        }
    }

    fn store() -> Store {
        let mut s = Store::new(false);
        s.attributes.push(Attribute {
            name: "DOB".into(),
            category: "normal".into(),
            kind: Some("date".into()),
            enumeration: None,
            multi_category_options: None,
            calculated_value: None,
        });
        s
    }

    #[test]
    fn drops_unknown_lowercase_and_mistyped_values() {
        let mut s = store();
        let input: Map<String, Value> = serde_json::from_value(json!({
            "FIRSTNAME": "Ann", "firstname": "x", "NOPE": 1, "DOB": "02/03/1990", "SMS": "+33612345678"
        }))
        .unwrap();
        let out = s.clean_attributes(&input, &ctx(false)).unwrap();
        assert_eq!(out.get("FIRSTNAME"), Some(&json!("Ann")));
        assert_eq!(out.get("SMS"), Some(&json!("33612345678")));
        assert_eq!(out.len(), 2);
        assert_eq!(s.dropped.len(), 3);
        let err = s.clean_attributes(&input, &ctx(true)).unwrap_err();
        assert_eq!(err.code, "invalid_parameter");
        let bad_phone: Map<String, Value> = serde_json::from_value(json!({"SMS": "0612"})).unwrap();
        assert!(s.clean_attributes(&bad_phone, &ctx(false)).is_err());
    }

    #[test]
    fn process_moves_through_its_states() {
        let mut s = store();
        let id = s.add_process(
            "IMPORTUSER",
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(2),
        );
        let p = &s.processes[&id];
        assert_eq!(p.status(Duration::ZERO), "queued");
        assert_eq!(p.status(Duration::from_millis(1500)), "in_process");
        assert_eq!(p.status(Duration::from_secs(3)), "completed");
    }
}
