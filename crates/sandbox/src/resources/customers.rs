//! Customers (V3 `/v3/customers`, addresses, attributes, attribute values, form-field
//! values) and customer groups (V2 `/v2/customer_groups`), docs/api-notes.md §2 and §11.
//!
//! Storage is typed and keyed by id in `BTreeMap`s, so id order comes for free, lookups
//! are logarithmic and a list request only collects references to its matches. A
//! lowercase-email index keeps the per-channel uniqueness check cheap on 100k-customer
//! stores. Handlers live in the submodules; this file holds the records and the
//! invariants every write keeps (email index, address ids, cascading deletes).

use std::collections::{BTreeMap, HashMap};

use axum::Router;
use axum::routing::get;
use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;
use serde_json::{Map, Value, json};

use crate::dates;
use crate::seed::SeedSpec;
use crate::state::{Shared, StoreData};

mod addresses;
mod attributes;
pub(crate) mod check;
mod groups;
mod list;
mod seeding;
mod v2;
mod write;

/// Largest page for every customers list. docs/api-notes.md §13.3: the spec states no maximum for
/// V3 customers; 250 is the documented cap elsewhere, so a careful client never asks for
/// more and we answer 413 above it.
pub(crate) const MAX_LIMIT: u32 = 250;

/// Customers per `POST`/`PUT /v3/customers` call (docs/api-notes.md §2.1, §11.5).
pub(crate) const MAX_BATCH: usize = 10;

/// The embedded `addresses` and `attributes` arrays have `maxItems: 10` in the schema
/// (docs/api-notes.md §2.2). Whether live stores cut off there is open (docs/api-notes.md §13.10);
/// we do, so a client that relies on `include=addresses` for a full address book fails in tests
/// rather than in production.
pub(crate) const MAX_EMBEDDED: usize = 10;

/// One V3 customer. `customer_group_id` 0 means "no group".
#[derive(Debug, Clone)]
pub struct Customer {
    pub id: i64,
    pub email: String,
    /// `email` lowercased: the key of the uniqueness index and of `email:in`.
    pub email_lower: String,
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub phone: String,
    pub notes: String,
    pub tax_exempt_category: String,
    pub customer_group_id: i64,
    /// Blank for customers created through the API (docs/api-notes.md §2.3).
    pub registration_ip_address: String,
    pub date_created: DateTime<Utc>,
    pub date_modified: DateTime<Utc>,
    pub accepts_product_review_abandoned_cart_emails: bool,
    pub force_password_reset: bool,
    pub store_credit: Vec<f64>,
    /// Set at creation, immutable afterwards.
    pub origin_channel_id: i64,
    /// `None` = every channel that allows global logins (docs/api-notes.md §2.3).
    pub channel_ids: Option<Vec<i64>>,
    /// Ids of this customer's addresses, ascending (ids are monotonic).
    pub address_ids: Vec<i64>,
    pub form_fields: Vec<FormField>,
}

impl Customer {
    /// "First Last", what `name:in` and `name:like` match against.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    /// Whether two customers' channel sets overlap: `None` stands for every channel.
    fn shares_channel_with(&self, other: Option<&[i64]>) -> bool {
        channels_overlap(self.channel_ids.as_deref(), other)
    }
}

pub(crate) fn channels_overlap(a: Option<&[i64]>, b: Option<&[i64]>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.iter().any(|x| b.contains(x)),
        _ => true,
    }
}

/// A customer form-field value (`{name, value}`); values are strings or string arrays.
#[derive(Debug, Clone)]
pub struct FormField {
    pub name: String,
    pub value: Value,
}

/// One customer address.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    pub id: i64,
    pub customer_id: i64,
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub address1: String,
    pub address2: String,
    pub city: String,
    pub state_or_province: String,
    pub postal_code: String,
    pub country_code: String,
    pub phone: String,
    /// `residential` or `commercial`.
    pub address_type: String,
}

impl Address {
    /// The address identity tuple (docs/api-notes.md §2.3): two addresses equal on it are
    /// duplicates.
    pub fn same_identity(&self, other: &Address) -> bool {
        self.customer_id == other.customer_id
            && self.first_name == other.first_name
            && self.last_name == other.last_name
            && self.company == other.company
            && self.phone == other.phone
            && self.address_type == other.address_type
            && self.address1 == other.address1
            && self.address2 == other.address2
            && self.city == other.city
            && self.country_code == other.country_code
            && self.state_or_province == other.state_or_province
            && self.postal_code == other.postal_code
    }
}

/// The type of a customer attribute; values are always written as strings and checked
/// against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeType {
    String,
    Number,
    Date,
}

impl AttributeType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "string" => Some(Self::String),
            "number" => Some(Self::Number),
            "date" => Some(Self::Date),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Date => "date",
        }
    }

    /// Whether `value` is acceptable for this type.
    pub fn accepts(self, value: &str) -> bool {
        match self {
            Self::String => true,
            Self::Number => value.trim().parse::<f64>().is_ok_and(f64::is_finite),
            Self::Date => dates::parse_filter(value, dates::now(), false).is_some(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Attribute {
    pub id: i64,
    pub name: String,
    pub kind: AttributeType,
    pub date_created: DateTime<Utc>,
    pub date_modified: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct AttributeValue {
    pub id: i64,
    pub customer_id: i64,
    pub attribute_id: i64,
    pub value: String,
    pub date_created: DateTime<Utc>,
    pub date_modified: DateTime<Utc>,
}

/// `category_access.type` of a customer group.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryAccess {
    pub kind: String,
    pub categories: Vec<i64>,
}

/// A V2 customer group.
#[derive(Debug, Clone)]
pub struct CustomerGroup {
    pub id: i64,
    pub name: String,
    pub is_default: bool,
    pub is_group_for_guests: bool,
    pub category_access: CategoryAccess,
    /// Replaced wholesale on PUT (docs/api-notes.md §2.5), so kept as the JSON the caller sent.
    pub discount_rules: Vec<Value>,
    pub date_created: DateTime<Utc>,
    pub date_modified: DateTime<Utc>,
}

/// Everything of the customers family.
#[derive(Debug, Default)]
pub struct CustomersData {
    pub(crate) customers: BTreeMap<i64, Customer>,
    /// Lowercase email → ids of the customers using it (several only across channels).
    by_email: HashMap<String, Vec<i64>>,
    pub(crate) addresses: BTreeMap<i64, Address>,
    pub(crate) attributes: BTreeMap<i64, Attribute>,
    /// Keyed by (customer_id, attribute_id): one value per pair, and a customer's values
    /// are one range scan away.
    pub(crate) attribute_values: BTreeMap<(i64, i64), AttributeValue>,
    pub(crate) groups: BTreeMap<i64, CustomerGroup>,
    /// Last id handed out per table; ids are never reused, even after deletes.
    last_customer_id: i64,
    last_address_id: i64,
    last_attribute_id: i64,
    last_attribute_value_id: i64,
    last_group_id: i64,
}

/// What other families (orders) need to know of a customer.
#[derive(Debug, Clone)]
pub struct CustomerRef {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// The channel the customer registered on: their seeded orders are placed there.
    pub origin_channel_id: i64,
}

fn next_id(last: &mut i64) -> i64 {
    *last += 1;
    *last
}

impl CustomersData {
    pub fn counts(&self, m: &mut Map<String, Value>) {
        m.insert("customers".into(), json!(self.customers.len()));
        m.insert("customer_addresses".into(), json!(self.addresses.len()));
        m.insert("customer_groups".into(), json!(self.groups.len()));
        m.insert("customer_attributes".into(), json!(self.attributes.len()));
        m.insert(
            "customer_attribute_values".into(),
            json!(self.attribute_values.len()),
        );
    }

    /// Every customer, in id order, for orders.
    pub fn customer_refs(&self) -> Vec<CustomerRef> {
        self.customers
            .values()
            .map(|c| CustomerRef {
                id: c.id,
                email: c.email.clone(),
                first_name: c.first_name.clone(),
                last_name: c.last_name.clone(),
                origin_channel_id: c.origin_channel_id,
            })
            .collect()
    }

    /// Whether a customer id exists (order `customer_id` validation).
    pub fn exists(&self, id: i64) -> bool {
        self.customers.contains_key(&id)
    }

    /// Whether a customer group id exists (0, "no group", always does).
    pub fn group_exists(&self, id: i64) -> bool {
        id == 0 || self.groups.contains_key(&id)
    }

    /// The id of a customer other than `except` that already uses `email_lower` on one of
    /// `channels` (`None` = every channel). Email is unique per channel (docs/api-notes.md §2.3).
    pub(crate) fn email_taken(
        &self,
        email_lower: &str,
        channels: Option<&[i64]>,
        except: i64,
    ) -> Option<i64> {
        self.by_email.get(email_lower)?.iter().copied().find(|id| {
            *id != except
                && self
                    .customers
                    .get(id)
                    .is_some_and(|c| c.shares_channel_with(channels))
        })
    }

    /// Stores a new customer under a fresh id (the `id` field is overwritten).
    pub(crate) fn insert_customer(&mut self, mut c: Customer) -> i64 {
        c.id = next_id(&mut self.last_customer_id);
        c.email_lower = c.email.to_lowercase();
        self.by_email
            .entry(c.email_lower.clone())
            .or_default()
            .push(c.id);
        let id = c.id;
        self.customers.insert(id, c);
        id
    }

    /// Changes a customer's email, keeping the index in step.
    pub(crate) fn set_email(&mut self, id: i64, email: String) {
        let Some(c) = self.customers.get_mut(&id) else {
            return;
        };
        let lower = email.to_lowercase();
        if lower != c.email_lower {
            if let Some(ids) = self.by_email.get_mut(&c.email_lower) {
                ids.retain(|x| *x != id);
                if ids.is_empty() {
                    self.by_email.remove(&c.email_lower);
                }
            }
            self.by_email.entry(lower.clone()).or_default().push(id);
            c.email_lower = lower;
        }
        c.email = email;
    }

    /// Deletes a customer with its addresses and attribute values.
    pub(crate) fn remove_customer(&mut self, id: i64) -> bool {
        let Some(c) = self.customers.remove(&id) else {
            return false;
        };
        if let Some(ids) = self.by_email.get_mut(&c.email_lower) {
            ids.retain(|x| *x != id);
            if ids.is_empty() {
                self.by_email.remove(&c.email_lower);
            }
        }
        for aid in &c.address_ids {
            self.addresses.remove(aid);
        }
        let keys: Vec<(i64, i64)> = self
            .attribute_values
            .range((id, i64::MIN)..=(id, i64::MAX))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            self.attribute_values.remove(&k);
        }
        true
    }

    /// Adds an address unless the customer already has one with the same identity tuple
    /// (docs/api-notes.md §2.3: duplicates are silently left out). Returns the new id, or `None`
    /// for a duplicate or an unknown customer.
    pub(crate) fn insert_address(&mut self, mut a: Address) -> Option<i64> {
        let customer_id = a.customer_id;
        let customer = self.customers.get(&customer_id)?;
        if customer
            .address_ids
            .iter()
            .filter_map(|id| self.addresses.get(id))
            .any(|old| old.same_identity(&a))
        {
            return None;
        }
        a.id = next_id(&mut self.last_address_id);
        let id = a.id;
        self.addresses.insert(id, a);
        if let Some(c) = self.customers.get_mut(&customer_id) {
            c.address_ids.push(id);
        }
        Some(id)
    }

    pub(crate) fn remove_address(&mut self, id: i64) -> bool {
        let Some(a) = self.addresses.remove(&id) else {
            return false;
        };
        if let Some(c) = self.customers.get_mut(&a.customer_id) {
            c.address_ids.retain(|x| *x != id);
        }
        true
    }

    pub(crate) fn insert_attribute(&mut self, mut a: Attribute) -> i64 {
        a.id = next_id(&mut self.last_attribute_id);
        let id = a.id;
        self.attributes.insert(id, a);
        id
    }

    pub(crate) fn remove_attribute(&mut self, id: i64) -> bool {
        if self.attributes.remove(&id).is_none() {
            return false;
        }
        self.attribute_values.retain(|(_, aid), _| *aid != id);
        true
    }

    /// Sets the value of (customer, attribute), creating it when absent. Returns the key.
    pub(crate) fn upsert_attribute_value(
        &mut self,
        customer_id: i64,
        attribute_id: i64,
        value: String,
        now: DateTime<Utc>,
    ) -> (i64, i64) {
        let key = (customer_id, attribute_id);
        match self.attribute_values.get_mut(&key) {
            Some(v) => {
                v.value = value;
                v.date_modified = now;
            }
            None => {
                let id = next_id(&mut self.last_attribute_value_id);
                self.attribute_values.insert(
                    key,
                    AttributeValue {
                        id,
                        customer_id,
                        attribute_id,
                        value,
                        date_created: now,
                        date_modified: now,
                    },
                );
            }
        }
        key
    }

    pub(crate) fn insert_group(&mut self, mut g: CustomerGroup) -> i64 {
        g.id = next_id(&mut self.last_group_id);
        let id = g.id;
        self.groups.insert(id, g);
        id
    }

    /// Deletes a group and unassigns its customers (docs/api-notes.md §2.5); that is a write to
    /// each of those customers, so their `date_modified` moves.
    pub(crate) fn remove_group(&mut self, id: i64, now: DateTime<Utc>) -> bool {
        if self.groups.remove(&id).is_none() {
            return false;
        }
        for c in self
            .customers
            .values_mut()
            .filter(|c| c.customer_group_id == id)
        {
            c.customer_group_id = 0;
            c.date_modified = now;
        }
        true
    }

    /// Number of attribute values set for a customer.
    pub(crate) fn attribute_count(&self, customer_id: i64) -> usize {
        self.attribute_values
            .range((customer_id, i64::MIN)..=(customer_id, i64::MAX))
            .count()
    }

    /// The V3 customer object (docs/api-notes.md §2.3), with the requested embedded arrays.
    pub(crate) fn render_customer(&self, c: &Customer, inc: &Includes) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(c.id));
        m.insert("email".into(), json!(c.email));
        m.insert("first_name".into(), json!(c.first_name));
        m.insert("last_name".into(), json!(c.last_name));
        m.insert("company".into(), json!(c.company));
        m.insert("phone".into(), json!(c.phone));
        m.insert(
            "registration_ip_address".into(),
            json!(c.registration_ip_address),
        );
        m.insert("notes".into(), json!(c.notes));
        m.insert("tax_exempt_category".into(), json!(c.tax_exempt_category));
        m.insert("customer_group_id".into(), json!(c.customer_group_id));
        m.insert("date_created".into(), json!(dates::iso(c.date_created)));
        m.insert("date_modified".into(), json!(dates::iso(c.date_modified)));
        m.insert("address_count".into(), json!(c.address_ids.len()));
        m.insert("attribute_count".into(), json!(self.attribute_count(c.id)));
        m.insert(
            "authentication".into(),
            json!({ "force_password_reset": c.force_password_reset }),
        );
        m.insert(
            "accepts_product_review_abandoned_cart_emails".into(),
            json!(c.accepts_product_review_abandoned_cart_emails),
        );
        // docs/api-notes.md §2.3 lists store_credit_amounts among the plain response fields, so it
        // is always present; `include=storecredit` is accepted and changes nothing.
        let credit: Vec<Value> = c
            .store_credit
            .iter()
            .map(|a| json!({ "amount": a }))
            .collect();
        m.insert("store_credit_amounts".into(), Value::Array(credit));
        m.insert("origin_channel_id".into(), json!(c.origin_channel_id));
        m.insert("channel_ids".into(), json!(c.channel_ids));
        if inc.addresses {
            let addrs: Vec<Value> = c
                .address_ids
                .iter()
                .filter_map(|id| self.addresses.get(id))
                .take(MAX_EMBEDDED)
                .map(|a| render_address(a, false))
                .collect();
            m.insert("addresses".into(), Value::Array(addrs));
        }
        if inc.attributes {
            let attrs: Vec<Value> = self
                .attribute_values
                .range((c.id, i64::MIN)..=(c.id, i64::MAX))
                .take(MAX_EMBEDDED)
                .map(|(_, v)| {
                    json!({
                        "id": v.id,
                        "customer_id": v.customer_id,
                        "attribute_id": v.attribute_id,
                        "attribute_value": v.value,
                        "date_created": dates::iso(v.date_created),
                        "date_modified": dates::iso(v.date_modified),
                    })
                })
                .collect();
            m.insert("attributes".into(), Value::Array(attrs));
        }
        if inc.form_fields {
            let ff: Vec<Value> = c
                .form_fields
                .iter()
                .map(|f| json!({ "name": f.name, "value": f.value }))
                .collect();
            m.insert("form_fields".into(), Value::Array(ff));
        }
        Value::Object(m)
    }
}

/// Which sub-resources `include=` asked for.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Includes {
    pub addresses: bool,
    pub attributes: bool,
    pub form_fields: bool,
}

impl Includes {
    pub fn parse(q: &crate::query::Query) -> Self {
        let inc = q.includes();
        let has = |n: &str| inc.iter().any(|i| i == n);
        Self {
            addresses: has("addresses"),
            attributes: has("attributes"),
            form_fields: has("formfields"),
        }
    }
}

/// Full country names for the codes we seed; other codes are echoed as their own name.
pub(crate) fn country_name(code: &str) -> &str {
    match code {
        "US" => "United States",
        "CA" => "Canada",
        "GB" => "United Kingdom",
        "AU" => "Australia",
        "DE" => "Germany",
        "FR" => "France",
        "NL" => "Netherlands",
        "IE" => "Ireland",
        "NZ" => "New Zealand",
        _ => code,
    }
}

/// The V3 address object. `form_fields` only when `include=formfields` (none are stored
/// for addresses, so the array is empty).
pub(crate) fn render_address(a: &Address, form_fields: bool) -> Value {
    let mut v = json!({
        "id": a.id,
        "customer_id": a.customer_id,
        "first_name": a.first_name,
        "last_name": a.last_name,
        "company": a.company,
        "address1": a.address1,
        "address2": a.address2,
        "city": a.city,
        "state_or_province": a.state_or_province,
        "postal_code": a.postal_code,
        "country": country_name(&a.country_code),
        "country_code": a.country_code,
        "phone": a.phone,
        "address_type": a.address_type,
    });
    if form_fields {
        v["form_fields"] = json!([]);
    }
    v
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/v3/customers",
            get(list::list)
                .post(write::create)
                .put(write::update)
                .delete(write::delete),
        )
        .route(
            "/v3/customers/addresses",
            get(addresses::list)
                .post(addresses::create)
                .put(addresses::update)
                .delete(addresses::delete),
        )
        .route(
            "/v3/customers/attributes",
            get(attributes::list)
                .post(attributes::create)
                .put(attributes::update)
                .delete(attributes::delete),
        )
        .route(
            "/v3/customers/attribute-values",
            get(attributes::list_values)
                .put(attributes::upsert_values)
                .delete(attributes::delete_values),
        )
        .route(
            "/v3/customers/form-field-values",
            get(list::form_field_values),
        )
        .route("/v2/customers", get(v2::list).post(v2::create))
        .route("/v2/customers/count", get(v2::count))
        .route(
            "/v2/customers/{id}",
            get(v2::get_one).put(v2::update).delete(v2::delete),
        )
        .route(
            "/v2/customers/{id}/addresses",
            get(v2::list_addresses).post(v2::create_address),
        )
        .route(
            "/v2/customers/{id}/addresses/count",
            get(v2::count_addresses),
        )
        .route(
            "/v2/customers/{id}/addresses/{address_id}",
            get(v2::get_address)
                .put(v2::update_address)
                .delete(v2::delete_address),
        )
        .route(
            "/v2/customer_groups",
            get(groups::list).post(groups::create),
        )
        .route("/v2/customer_groups/count", get(groups::count))
        .route(
            "/v2/customer_groups/{id}",
            get(groups::get_one)
                .put(groups::update)
                .delete(groups::delete),
        )
}

pub fn seed(data: &mut StoreData, spec: &SeedSpec, rng: &mut SmallRng, now: DateTime<Utc>) {
    seeding::seed(data, spec, rng, now);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_channel_ids_overlap_everything() {
        assert!(channels_overlap(None, Some(&[2])));
        assert!(channels_overlap(Some(&[1, 2]), Some(&[2])));
        assert!(!channels_overlap(Some(&[1]), Some(&[2])));
    }

    #[test]
    fn attribute_values_are_checked_against_the_type() {
        assert!(AttributeType::Number.accepts("42.5"));
        assert!(!AttributeType::Number.accepts("big"));
        assert!(!AttributeType::Number.accepts("NaN"));
        assert!(AttributeType::Date.accepts("2020-02-02"));
        assert!(AttributeType::Date.accepts("2020-02-02T10:00:00Z"));
        assert!(!AttributeType::Date.accepts("someday"));
        assert!(AttributeType::String.accepts("anything"));
    }

    #[test]
    fn email_index_follows_changes_and_deletes() {
        let mut cs = CustomersData::default();
        let customer = |email: &str, channels: Option<Vec<i64>>| Customer {
            id: 0,
            email: email.into(),
            email_lower: String::new(),
            first_name: "A".into(),
            last_name: "B".into(),
            company: String::new(),
            phone: String::new(),
            notes: String::new(),
            tax_exempt_category: String::new(),
            customer_group_id: 0,
            registration_ip_address: String::new(),
            date_created: dates::now(),
            date_modified: dates::now(),
            accepts_product_review_abandoned_cart_emails: false,
            force_password_reset: false,
            store_credit: Vec::new(),
            origin_channel_id: 1,
            channel_ids: channels,
            address_ids: Vec::new(),
            form_fields: Vec::new(),
        };
        let a = cs.insert_customer(customer("Ann@X.example", Some(vec![1])));
        let b = cs.insert_customer(customer("ann@x.example", Some(vec![2])));
        assert_eq!(cs.email_taken("ann@x.example", Some(&[1]), 0), Some(a));
        assert_eq!(cs.email_taken("ann@x.example", Some(&[2]), 0), Some(b));
        assert_eq!(cs.email_taken("ann@x.example", Some(&[3]), 0), None);
        cs.set_email(a, "new@x.example".into());
        assert_eq!(cs.email_taken("ann@x.example", Some(&[1]), 0), None);
        assert_eq!(cs.email_taken("new@x.example", None, 0), Some(a));
        assert!(cs.remove_customer(a));
        assert_eq!(cs.email_taken("new@x.example", None, 0), None);
        // Ids are never reused.
        assert_eq!(cs.insert_customer(customer("c@x.example", None)), 3);
    }
}
