//! `POST`, `PUT` and `DELETE /v3/customers` (docs/api-notes.md §2.1, §2.3, §11.5-11.7).
//!
//! Batches are all or nothing: every item is checked (fields, email uniqueness per
//! channel against the store and the rest of the batch, group and channel ids) before
//! anything is written, and one bad item rejects the whole batch with a 422 whose
//! `errors` keys name the item: `"<index>.<field>"`. docs/api-notes.md §13.4 leaves the exact body
//! open; this is the pattern BigCommerce's other batch endpoints use.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::check::{Check, objects};
use super::{Address, Customer, CustomersData, FormField, Includes, MAX_BATCH};
use crate::body::{JsonBody, batch};
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::mutation::{Record, Tx};
use crate::paging::v3_batch;
use crate::query::Query;
use crate::resources::channels::ChannelsData;
use crate::state::Shared;

const V3: ApiVersion = ApiVersion::V3;

/// Customer-level fields that PUT may change; everything else in the body is read-only
/// or a sub-resource and is ignored (docs/api-notes.md §2.3).
#[derive(Debug, Default)]
struct CustomerPatch {
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    company: Option<String>,
    phone: Option<String>,
    notes: Option<String>,
    tax_exempt_category: Option<String>,
    customer_group_id: Option<i64>,
    accepts_emails: Option<bool>,
    force_password_reset: Option<bool>,
    store_credit: Option<Vec<f64>>,
    /// `Some(None)` sets `channel_ids: null` (every channel).
    channel_ids: Option<Option<Vec<i64>>>,
}

/// Reads and checks the writable customer fields of one item. `creating` makes the
/// name fields and email required.
fn read_patch(
    ck: &mut Check<'_>,
    creating: bool,
    cs: &CustomersData,
    channels: &ChannelsData,
) -> CustomerPatch {
    let mut p = CustomerPatch {
        email: ck.string("email", creating, 3, 255),
        first_name: ck.string("first_name", creating, 1, 100),
        last_name: ck.string("last_name", creating, 1, 100),
        company: ck.string("company", false, 0, 255),
        phone: ck.string("phone", false, 0, 50),
        notes: ck.string("notes", false, 0, 65_535),
        tax_exempt_category: ck.string("tax_exempt_category", false, 0, 255),
        customer_group_id: ck.int("customer_group_id", false),
        accepts_emails: ck.bool("accepts_product_review_abandoned_cart_emails"),
        ..CustomerPatch::default()
    };
    if let Some(e) = &p.email
        && !e.contains('@')
    {
        ck.fail("email", format!("The email address {e:?} is not valid."));
        p.email = None;
    }
    if let Some(g) = p.customer_group_id
        && !cs.group_exists(g)
    {
        ck.fail(
            "customer_group_id",
            format!("The customer group {g} does not exist."),
        );
    }
    match ck.obj().get("authentication") {
        None | Some(Value::Null) => {}
        Some(Value::Object(auth)) => {
            match auth.get("force_password_reset") {
                None | Some(Value::Null) => {}
                Some(Value::Bool(b)) => p.force_password_reset = Some(*b),
                Some(_) => ck.fail(
                    "authentication.force_password_reset",
                    "force_password_reset must be true or false.",
                ),
            }
            // new_password is write-only and never stored: the sandbox has no logins.
            if auth
                .get("new_password")
                .is_some_and(|v| !v.is_string() && !v.is_null())
            {
                ck.fail(
                    "authentication.new_password",
                    "new_password must be a string.",
                );
            }
        }
        Some(_) => ck.fail("authentication", "authentication must be an object."),
    }
    match ck.obj().get("store_credit_amounts") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            let amounts: Option<Vec<f64>> = items
                .iter()
                .map(|i| {
                    i.get("amount")
                        .and_then(Value::as_f64)
                        .filter(|a| *a >= 0.0)
                })
                .collect();
            match amounts {
                Some(a) => p.store_credit = Some(a),
                None => ck.fail(
                    "store_credit_amounts",
                    "Each store credit amount must be {\"amount\": <number ≥ 0>}.",
                ),
            }
        }
        Some(_) => ck.fail(
            "store_credit_amounts",
            "store_credit_amounts must be an array.",
        ),
    }
    match ck.obj().get("channel_ids") {
        None => {}
        Some(Value::Null) => p.channel_ids = Some(None),
        Some(Value::Array(items)) => {
            let ids: Option<Vec<i64>> = items.iter().map(Value::as_i64).collect();
            match ids {
                Some(ids) if ids.is_empty() => {
                    ck.fail(
                        "channel_ids",
                        "channel_ids may not be empty; send null for every channel.",
                    );
                }
                Some(ids) => match ids.iter().find(|id| !channels.exists(**id)) {
                    Some(bad) => {
                        ck.fail("channel_ids", format!("The channel {bad} does not exist."))
                    }
                    None => p.channel_ids = Some(Some(ids)),
                },
                None => ck.fail(
                    "channel_ids",
                    "channel_ids must be an array of channel ids.",
                ),
            }
        }
        Some(_) => ck.fail("channel_ids", "channel_ids must be an array or null."),
    }
    p
}

/// A nested address of a customer create (docs/api-notes.md §2.3 required fields); problems go to
/// `errors` keyed by bare field name, for the caller to prefix.
fn read_nested_address(obj: &Map<String, Value>, errors: &mut Map<String, Value>) -> Address {
    let mut ck = Check::new(obj, "", errors);
    read_address_fields(&mut ck, false)
}

/// The address fields of a create, with `strict` adding the requirements of
/// `POST /customers/addresses` (state_or_province, postal_code).
pub(super) fn read_address_fields(ck: &mut Check<'_>, strict: bool) -> Address {
    let s = |ck: &mut Check<'_>, f: &str, req: bool, max: usize| {
        ck.string(f, req, usize::from(req), max).unwrap_or_default()
    };
    let first_name = s(ck, "first_name", true, 255);
    let last_name = s(ck, "last_name", true, 255);
    let company = s(ck, "company", false, 255);
    let address1 = s(ck, "address1", true, 255);
    let address2 = s(ck, "address2", false, 255);
    let city = s(ck, "city", true, 100);
    let state_or_province = s(ck, "state_or_province", strict, 100);
    let postal_code = s(ck, "postal_code", strict, 30);
    let country_code = s(ck, "country_code", true, 2);
    let phone = s(ck, "phone", false, 50);
    let well_formed =
        country_code.len() == 2 && country_code.chars().all(|c| c.is_ascii_uppercase());
    if !country_code.is_empty() && !well_formed {
        ck.fail(
            "country_code",
            "country_code must be a two-letter ISO 3166-1 code such as US.",
        );
    }
    let address_type = ck
        .one_of("address_type", false, &["residential", "commercial"])
        .unwrap_or_else(|| "residential".into());
    Address {
        id: 0,
        customer_id: 0,
        first_name,
        last_name,
        company,
        address1,
        address2,
        city,
        state_or_province,
        postal_code,
        country_code,
        phone,
        address_type,
    }
}

/// Checks the email of an item against the store and the earlier items of the batch.
fn check_email_unique(
    ck: &mut Check<'_>,
    cs: &CustomersData,
    pending: &[(String, Option<Vec<i64>>)],
    email: &str,
    channels: Option<&[i64]>,
    except: i64,
) {
    let lower = email.to_lowercase();
    let in_batch = pending
        .iter()
        .any(|(e, ch)| *e == lower && super::channels_overlap(ch.as_deref(), channels));
    if in_batch || cs.email_taken(&lower, channels, except).is_some() {
        ck.fail(
            "email",
            format!("The email address {email} is already in use by another customer."),
        );
    }
}

struct NewCustomer {
    customer: Customer,
    addresses: Vec<Address>,
    attributes: Vec<(i64, String)>,
}

fn read_create(
    ck: &mut Check<'_>,
    cs: &CustomersData,
    channels: &ChannelsData,
    pending: &[(String, Option<Vec<i64>>)],
    now: DateTime<Utc>,
) -> NewCustomer {
    let p = read_patch(ck, true, cs, channels);
    let origin = ck.int("origin_channel_id", false).unwrap_or(1);
    if !channels.exists(origin) {
        ck.fail(
            "origin_channel_id",
            format!("The channel {origin} does not exist."),
        );
    }
    let channel_ids = p.channel_ids.clone().unwrap_or(None);
    if let Some(email) = &p.email {
        check_email_unique(ck, cs, pending, email, channel_ids.as_deref(), 0);
    }
    let prefix_of = |field: &str, j: usize| format!("{field}.{j}.");
    let obj = ck.obj();

    let mut addresses = Vec::new();
    match obj.get("addresses") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (j, item) in items.iter().enumerate() {
                match item {
                    Value::Object(m) => {
                        let mut nested = Map::new();
                        let a = read_nested_address(m, &mut nested);
                        if nested.is_empty() {
                            addresses.push(a);
                        }
                        for (k, v) in nested {
                            ck.fail(
                                &format!("{}{k}", prefix_of("addresses", j)),
                                v.as_str().unwrap_or_default(),
                            );
                        }
                    }
                    _ => ck.fail(&format!("addresses.{j}"), "Each address must be an object."),
                }
            }
        }
        Some(_) => ck.fail("addresses", "addresses must be an array."),
    }

    let mut attributes = Vec::new();
    match obj.get("attributes") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (j, item) in items.iter().enumerate() {
                let aid = item.get("attribute_id").and_then(Value::as_i64);
                let val = item.get("attribute_value").and_then(Value::as_str);
                match (aid.and_then(|id| cs.attributes.get(&id)), val) {
                    (Some(attr), Some(v)) if attr.kind.accepts(v) => {
                        attributes.push((attr.id, v.to_owned()))
                    }
                    (Some(attr), Some(v)) => ck.fail(
                        &format!("attributes.{j}.attribute_value"),
                        format!("The value {v:?} is not a valid {}.", attr.kind.name()),
                    ),
                    (None, _) => ck.fail(
                        &format!("attributes.{j}.attribute_id"),
                        "The attribute does not exist.",
                    ),
                    (_, None) => ck.fail(
                        &format!("attributes.{j}.attribute_value"),
                        "attribute_value must be a string.",
                    ),
                }
            }
        }
        Some(_) => ck.fail("attributes", "attributes must be an array."),
    }

    let mut form_fields = Vec::new();
    match obj.get("form_fields") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (j, item) in items.iter().enumerate() {
                match (item.get("name").and_then(Value::as_str), item.get("value")) {
                    (Some(n), Some(v)) if v.is_string() || v.is_array() => {
                        form_fields.push(FormField {
                            name: n.to_owned(),
                            value: v.clone(),
                        })
                    }
                    _ => ck.fail(
                        &format!("form_fields.{j}"),
                        "Each form field needs a name and a string or array value.",
                    ),
                }
            }
        }
        Some(_) => ck.fail("form_fields", "form_fields must be an array."),
    }

    let customer = Customer {
        id: 0,
        email: p.email.unwrap_or_default(),
        email_lower: String::new(),
        first_name: p.first_name.unwrap_or_default(),
        last_name: p.last_name.unwrap_or_default(),
        company: p.company.unwrap_or_default(),
        phone: p.phone.unwrap_or_default(),
        notes: p.notes.unwrap_or_default(),
        tax_exempt_category: p.tax_exempt_category.unwrap_or_default(),
        customer_group_id: p.customer_group_id.unwrap_or(0),
        registration_ip_address: String::new(),
        date_created: now,
        date_modified: now,
        accepts_product_review_abandoned_cart_emails: p.accepts_emails.unwrap_or(false),
        force_password_reset: p.force_password_reset.unwrap_or(false),
        store_credit: p.store_credit.unwrap_or_default(),
        origin_channel_id: origin,
        channel_ids,
        address_ids: Vec::new(),
        form_fields,
    };
    NewCustomer {
        customer,
        addresses,
        attributes,
    }
}

/// `POST /v3/customers`: 200 with the created customers (the spec lists 200,
/// docs/api-notes.md §0.2).
pub(super) async fn create(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let items = batch(V3, body, MAX_BATCH)?;
    let ids = st.write(|tx| create_customers(tx, &items))?;
    let inc = Includes {
        addresses: true,
        attributes: true,
        form_fields: false,
    };
    Ok(written(&st, &ids, &inc))
}

/// The answer of a batch write: the customers `ids` as they are after the commit (which
/// moves `date_modified`), rendered with `inc`.
fn written(st: &Shared, ids: &[i64], inc: &Includes) -> Response {
    let data = st.data.read();
    let cs = &data.customers;
    let out = ids
        .iter()
        .filter_map(|id| cs.customers.get(id))
        .map(|c| cs.render_customer(c, inc))
        .collect();
    v3_batch(StatusCode::OK, out)
}

/// Checks and stores V3-shaped customer items (all or nothing) and returns their new ids;
/// shared by `POST /v3/customers` and `POST /v2/customers`, which translates its body first.
/// Errors are V3-shaped, keyed `"<index>.<field>"`.
pub(super) fn create_customers(tx: &mut Tx<'_>, items: &[Value]) -> Result<Vec<i64>, ApiError> {
    let now = tx.now;
    let data = &mut *tx.data;
    let cs = &mut data.customers;

    let mut errors = Map::new();
    let objs = objects(items, &mut errors);
    let mut drafts = Vec::with_capacity(items.len());
    let mut pending: Vec<(String, Option<Vec<i64>>)> = Vec::new();
    for (i, obj) in objs.into_iter().enumerate() {
        let Some(obj) = obj else { continue };
        let mut ck = Check::new(obj, format!("{i}."), &mut errors);
        let d = read_create(&mut ck, cs, &data.channels, &pending, now);
        pending.push((
            d.customer.email.to_lowercase(),
            d.customer.channel_ids.clone(),
        ));
        drafts.push(d);
    }
    if !errors.is_empty() {
        return Err(ApiError::unprocessable(V3, "Create customers failed.").with_errors(errors));
    }

    let mut created = Vec::with_capacity(drafts.len());
    for d in drafts {
        let id = cs.insert_customer(d.customer);
        created.push(id);
        for mut a in d.addresses {
            a.customer_id = id;
            cs.insert_address(a);
        }
        for (aid, value) in d.attributes {
            cs.upsert_attribute_value(id, aid, value, now);
        }
    }
    for id in &created {
        tx.created(Record::Customer(*id));
    }
    Ok(created)
}

/// `PUT /v3/customers`: partial updates of existing customers, each item naming its `id`.
pub(super) async fn update(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let items = batch(V3, body, MAX_BATCH)?;
    let ids = st.write(|tx| update_customers(tx, &items))?;
    Ok(written(&st, &ids, &Includes::default()))
}

/// Checks and applies V3-shaped partial updates, each naming its `id` (all or nothing), and
/// returns the ids changed; shared by `PUT /v3/customers` and `PUT /v2/customers/{id}`.
pub(super) fn update_customers(tx: &mut Tx<'_>, items: &[Value]) -> Result<Vec<i64>, ApiError> {
    let data = &*tx.data;
    let cs = &data.customers;

    let mut errors = Map::new();
    let objs = objects(items, &mut errors);
    let mut patches = Vec::with_capacity(items.len());
    let mut pending: Vec<(String, Option<Vec<i64>>)> = Vec::new();
    for (i, obj) in objs.into_iter().enumerate() {
        let Some(obj) = obj else { continue };
        let mut ck = Check::new(obj, format!("{i}."), &mut errors);
        let id = ck.int("id", true);
        let p = read_patch(&mut ck, false, cs, &data.channels);
        let Some(id) = id else { continue };
        let Some(current) = cs.customers.get(&id) else {
            ck.fail("id", format!("The customer {id} does not exist."));
            continue;
        };
        if p.email.is_some() || p.channel_ids.is_some() {
            let email = p.email.clone().unwrap_or_else(|| current.email.clone());
            let channels = p
                .channel_ids
                .clone()
                .unwrap_or_else(|| current.channel_ids.clone());
            check_email_unique(&mut ck, cs, &pending, &email, channels.as_deref(), id);
            pending.push((email.to_lowercase(), channels));
        }
        patches.push((id, p));
    }
    if !errors.is_empty() {
        return Err(ApiError::unprocessable(V3, "Update customers failed.").with_errors(errors));
    }

    let mut ids = Vec::with_capacity(patches.len());
    for (id, p) in patches {
        if let Some(email) = p.email {
            tx.data.customers.set_email(id, email);
        }
        let Some(c) = tx.customer(id) else {
            continue;
        };
        let set = |dst: &mut String, v: Option<String>| {
            if let Some(v) = v {
                *dst = v;
            }
        };
        set(&mut c.first_name, p.first_name);
        set(&mut c.last_name, p.last_name);
        set(&mut c.company, p.company);
        set(&mut c.phone, p.phone);
        set(&mut c.notes, p.notes);
        set(&mut c.tax_exempt_category, p.tax_exempt_category);
        if let Some(g) = p.customer_group_id {
            c.customer_group_id = g;
        }
        if let Some(b) = p.accepts_emails {
            c.accepts_product_review_abandoned_cart_emails = b;
        }
        if let Some(b) = p.force_password_reset {
            c.force_password_reset = b;
        }
        if let Some(s) = p.store_credit {
            c.store_credit = s;
        }
        if let Some(ch) = p.channel_ids {
            c.channel_ids = ch;
        }
        ids.push(id);
    }
    Ok(ids)
}

/// `DELETE /v3/customers?id:in=...`: without `id:in` the API answers 204 and deletes
/// nothing (docs/api-notes.md §2.1, §11.6); unknown ids are skipped.
pub(super) async fn delete(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    if let Some(ids) = q.int_list("id:in")? {
        st.write(|tx| {
            for id in ids {
                if tx.data.customers.exists(id) {
                    tx.deleted(Record::Customer(id));
                    tx.data.customers.remove_customer(id);
                }
            }
            Ok(())
        })?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
