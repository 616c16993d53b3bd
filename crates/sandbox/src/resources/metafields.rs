//! Metafields (docs/api-notes.md §15) on products, variants, categories, customers and
//! orders: per-record routes (`.../{id}/metafields[/{metafield_id}]`) and the collection
//! routes (`/v3/catalog/products/metafields`, ...) that list every record's metafields and
//! create, update and delete them in batches with partial success.
//!
//! Rules, per API account (client id): a metafield belongs to the client that created it;
//! `app_only` ones are invisible to other clients, `read` / `read_and_sf_access` ones are
//! read-only to them, `write` / `write_and_sf_access` ones writable. (namespace, key) is
//! unique per record and owner (409 on the single routes), and one client may hold at most
//! [`MAX_PER_RECORD`] metafields on one record (422). Batches apply the items that pass
//! and answer 422 with the rest in `errors` when any failed.
//!
//! Events: products, variants, categories and orders have metafield scopes
//! (docs/api-notes.md §9.3) with `{metafield_id, resource_id, resource_type}`; customer
//! metafields fire none.

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::mutation::{Change, Record};
use crate::paging::{self, CursorKey, sortable_int};
use crate::query::{Query, path_int};
use crate::seed::SeedSpec;
use crate::server::ClientId;
use crate::state::{Shared, StoreData};

const V: ApiVersion = ApiVersion::V3;
const MAX_LIMIT: u32 = 250;
/// Metafields one client may keep on one record (docs/api-notes.md §15).
pub const MAX_PER_RECORD: usize = 250;
/// Items per batch write: not documented; bcsync's choice, like other V3 batches.
const MAX_BATCH: usize = 50;
const PERMISSIONS: &[&str] = &[
    "app_only",
    "read",
    "write",
    "read_and_sf_access",
    "write_and_sf_access",
];

/// The kind of record a metafield hangs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    Product,
    Variant,
    Category,
    Customer,
    Order,
}

impl Owner {
    pub fn resource_type(self) -> &'static str {
        match self {
            Owner::Product => "product",
            Owner::Variant => "variant",
            Owner::Category => "category",
            Owner::Customer => "customer",
            Owner::Order => "order",
        }
    }

    /// The webhook scope of a metafield change on this kind of record
    /// (docs/api-notes.md §9.3); customers have none.
    pub fn scope(self, change: Change) -> Option<&'static str> {
        const SCOPES: [(Owner, [&str; 3]); 4] = [
            (
                Owner::Product,
                [
                    "store/product/metafield/created",
                    "store/product/metafield/updated",
                    "store/product/metafield/deleted",
                ],
            ),
            (
                Owner::Variant,
                [
                    "store/product/variant/metafield/created",
                    "store/product/variant/metafield/updated",
                    "store/product/variant/metafield/deleted",
                ],
            ),
            (
                Owner::Category,
                [
                    "store/category/metafield/created",
                    "store/category/metafield/updated",
                    "store/category/metafield/deleted",
                ],
            ),
            (
                Owner::Order,
                [
                    "store/order/metafield/created",
                    "store/order/metafield/updated",
                    "store/order/metafield/deleted",
                ],
            ),
        ];
        let (_, scopes) = SCOPES.iter().find(|(o, _)| *o == self)?;
        Some(match change {
            Change::Created => scopes[0],
            Change::Updated => scopes[1],
            Change::Deleted => scopes[2],
        })
    }

    fn exists(self, data: &StoreData, id: i64) -> bool {
        match self {
            Owner::Product => data.catalog.products.contains_key(&id),
            Owner::Variant => data.catalog.variants.contains_key(&id),
            Owner::Category => data.catalog.categories.contains_key(&id),
            Owner::Customer => data.customers.exists(id),
            Owner::Order => data.orders.get(id).is_some(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Metafield {
    pub id: i64,
    pub owner: Owner,
    pub resource_id: i64,
    pub namespace: String,
    pub key: String,
    pub value: String,
    pub description: String,
    pub permission_set: &'static str,
    pub owner_client_id: String,
    pub date_created: DateTime<Utc>,
    pub date_modified: DateTime<Utc>,
}

impl Metafield {
    fn visible_to(&self, client: &str) -> bool {
        self.owner_client_id == client || self.permission_set != "app_only"
    }

    fn writable_by(&self, client: &str) -> bool {
        self.owner_client_id == client || self.permission_set.starts_with("write")
    }
}

#[derive(Debug, Default)]
pub struct MetafieldsData {
    pub(crate) fields: BTreeMap<i64, Metafield>,
    last_id: i64,
}

impl MetafieldsData {
    pub fn counts(&self, m: &mut Map<String, Value>) {
        m.insert("metafields".into(), self.fields.len().into());
    }

    /// Drops the metafields of a deleted record.
    pub fn forget(&mut self, owner: Owner, resource_id: i64) {
        self.fields
            .retain(|_, m| m.owner != owner || m.resource_id != resource_id);
    }
}

pub fn render(m: &Metafield) -> Value {
    json!({
        "id": m.id,
        "key": m.key,
        "value": m.value,
        "namespace": m.namespace,
        "permission_set": m.permission_set,
        "resource_type": m.owner.resource_type(),
        "resource_id": m.resource_id,
        "description": m.description,
        "owner_client_id": m.owner_client_id,
        "date_created": crate::dates::iso(m.date_created),
        "date_modified": crate::dates::iso(m.date_modified),
    })
}

/// Routes of one owner kind: `record` has the record's id as its last parameter
/// (`{id}`), `collection` is the batch route.
fn owner_routes(owner: Owner, record: &str, collection: &str) -> Router<Shared> {
    Router::new()
        .route(
            &format!("{record}/metafields"),
            get(move |st, p, q, c| list_record(owner, st, p, q, c))
                .post(move |st, p, c, b| create_one(owner, st, p, c, b)),
        )
        .route(
            &format!("{record}/metafields/{{metafield_id}}"),
            get(move |st, p, c| get_one(owner, st, p, c))
                .put(move |st, p, c, b| update_one(owner, st, p, c, b))
                .delete(move |st, p, c| delete_one(owner, st, p, c)),
        )
        .route(
            collection,
            get(move |st, q, c| list_collection(owner, st, q, c))
                .post(move |st, c, b| batch(owner, BatchWrite::Create, st, c, b))
                .put(move |st, c, b| batch(owner, BatchWrite::Update, st, c, b))
                .delete(move |st, c, b| batch(owner, BatchWrite::Delete, st, c, b)),
        )
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .merge(owner_routes(
            Owner::Product,
            "/v3/catalog/products/{id}",
            "/v3/catalog/products/metafields",
        ))
        .merge(owner_routes(
            Owner::Variant,
            "/v3/catalog/products/{id}/variants/{variant_id}",
            "/v3/catalog/variants/metafields",
        ))
        .merge(owner_routes(
            Owner::Category,
            "/v3/catalog/categories/{id}",
            "/v3/catalog/categories/metafields",
        ))
        .merge(owner_routes(
            Owner::Customer,
            "/v3/customers/{id}",
            "/v3/customers/metafields",
        ))
        .merge(owner_routes(
            Owner::Order,
            "/v3/orders/{order_id}",
            "/v3/orders/metafields",
        ))
}

type PathParams = Path<Vec<(String, String)>>;

fn not_found(what: &str) -> ApiError {
    ApiError::new(
        V,
        StatusCode::NOT_FOUND,
        format!("The {what} was not found."),
    )
}

/// The record a per-record route names, checked to exist (a variant must belong to the
/// product in its path).
fn record_of(owner: Owner, data: &StoreData, p: &[(String, String)]) -> Result<i64, ApiError> {
    let missing = || not_found(owner.resource_type());
    let id = match owner {
        Owner::Variant => {
            let pid = path_int(p, "id").ok_or_else(missing)?;
            let vid = path_int(p, "variant_id").ok_or_else(missing)?;
            if data
                .catalog
                .variants
                .get(&vid)
                .is_none_or(|v| v.product_id != pid)
            {
                return Err(missing());
            }
            vid
        }
        Owner::Order => path_int(p, "order_id").ok_or_else(missing)?,
        _ => path_int(p, "id").ok_or_else(missing)?,
    };
    if owner.exists(data, id) {
        Ok(id)
    } else {
        Err(missing())
    }
}

/// The list filters: `key`, `key:in`, `namespace`, `namespace:in`, `resource_id:in`.
struct Filter {
    keys: Option<Vec<String>>,
    namespaces: Option<Vec<String>>,
    resources: Option<Vec<i64>>,
    descending: bool,
}

impl Filter {
    fn parse(q: &Query) -> Result<Self, ApiError> {
        let either = |one: &str, many: &str| {
            q.list(many).or_else(|| {
                q.get(one)
                    .filter(|s| !s.is_empty())
                    .map(|s| vec![s.to_owned()])
            })
        };
        let descending = q.descending()?;
        Ok(Self {
            keys: either("key", "key:in"),
            namespaces: either("namespace", "namespace:in"),
            resources: q.int_list("resource_id:in")?,
            descending,
        })
    }

    fn matches(&self, m: &Metafield) -> bool {
        self.keys.as_ref().is_none_or(|k| k.contains(&m.key))
            && self
                .namespaces
                .as_ref()
                .is_none_or(|n| n.contains(&m.namespace))
            && self
                .resources
                .as_ref()
                .is_none_or(|r| r.contains(&m.resource_id))
    }
}

/// A page of the metafields matching, visible to `client`: offset pages, or cursor pages
/// when `before`/`after` is given (every metafield list accepts both, docs/api-notes.md
/// §15).
fn page(data: &StoreData, owner: Owner, record: Option<i64>, q: &Query, client: &str) -> ApiResult {
    let filter = Filter::parse(q)?;
    let mut all: Vec<&Metafield> = data
        .metafields
        .fields
        .values()
        .filter(|m| {
            m.owner == owner
                && record.is_none_or(|r| m.resource_id == r)
                && m.visible_to(client)
                && filter.matches(m)
        })
        .collect();
    if filter.descending {
        all.reverse();
    }
    paging::v3_cursor(
        &all,
        q,
        MAX_LIMIT,
        filter.descending,
        |m| CursorKey {
            k: sortable_int(m.id),
            id: m.id,
        },
        |m| render(m),
    )
}

/// A list of one record's metafields (`path` names the record) or of every record's.
fn list(
    owner: Owner,
    st: &Shared,
    path: Option<&[(String, String)]>,
    raw: Option<&str>,
    client: &ClientId,
) -> ApiResult {
    let q = Query::parse(raw, V);
    let data = st.data.read();
    let record = path.map(|p| record_of(owner, &data, p)).transpose()?;
    page(&data, owner, record, &q, &client.0)
}

async fn list_record(
    owner: Owner,
    State(st): State<Shared>,
    Path(p): PathParams,
    RawQuery(raw): RawQuery,
    Extension(client): Extension<ClientId>,
) -> ApiResult {
    list(owner, &st, Some(p.as_slice()), raw.as_deref(), &client)
}

async fn list_collection(
    owner: Owner,
    State(st): State<Shared>,
    RawQuery(raw): RawQuery,
    Extension(client): Extension<ClientId>,
) -> ApiResult {
    list(owner, &st, None, raw.as_deref(), &client)
}

/// The metafield a per-record route names (`.../{id}/metafields/{metafield_id}`): its
/// record must exist and the metafield must hang on it and be visible to `client`.
fn metafield_in(
    data: &StoreData,
    owner: Owner,
    p: &[(String, String)],
    client: &str,
) -> Result<i64, ApiError> {
    let record = record_of(owner, data, p)?;
    let id = path_int(p, "metafield_id").ok_or_else(|| not_found("metafield"))?;
    match data.metafields.fields.get(&id) {
        Some(m) if m.owner == owner && m.resource_id == record && m.visible_to(client) => Ok(id),
        _ => Err(not_found("metafield")),
    }
}

async fn get_one(
    owner: Owner,
    State(st): State<Shared>,
    Path(p): PathParams,
    Extension(client): Extension<ClientId>,
) -> ApiResult {
    let data = st.data.read();
    let id = metafield_in(&data, owner, &p, &client.0)?;
    let m = data
        .metafields
        .fields
        .get(&id)
        .ok_or_else(|| not_found("metafield"))?;
    Ok(paging::v3_single(render(m)))
}

/// Why one metafield write is refused: the status it answers alone, and its message.
struct Refusal(StatusCode, String);

impl Refusal {
    fn invalid(msg: impl Into<String>) -> Self {
        Self(StatusCode::UNPROCESSABLE_ENTITY, msg.into())
    }
    fn into_error(self) -> ApiError {
        ApiError::new(V, self.0, self.1)
    }
}

/// Reads the writable fields of `body` onto `m`; a create needs all of namespace, key,
/// value and permission_set.
fn apply(body: &Value, m: &mut Metafield, creating: bool) -> Result<(), Refusal> {
    let obj = body
        .as_object()
        .ok_or_else(|| Refusal::invalid("a metafield must be a JSON object"))?;
    for (field, min, max) in [
        ("namespace", 1, 64),
        ("key", 1, 64),
        ("value", 1, 65_535),
        ("description", 0, 255),
    ] {
        let out = match field {
            "namespace" => &mut m.namespace,
            "key" => &mut m.key,
            "value" => &mut m.value,
            _ => &mut m.description,
        };
        match obj.get(field) {
            None | Some(Value::Null) if creating && field != "description" => {
                return Err(Refusal::invalid(format!("{field} is required")));
            }
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if (min..=max).contains(&s.chars().count()) => {
                s.clone_into(out);
            }
            Some(_) => {
                return Err(Refusal::invalid(format!(
                    "{field} must be a string of {min} to {max} characters"
                )));
            }
        }
    }
    match obj.get("permission_set") {
        None if creating => return Err(Refusal::invalid("permission_set is required")),
        None => {}
        Some(v) => match PERMISSIONS.iter().find(|p| v.as_str() == Some(**p)) {
            Some(p) => m.permission_set = p,
            None => {
                return Err(Refusal::invalid(format!(
                    "permission_set must be one of {}",
                    PERMISSIONS.join(", ")
                )));
            }
        },
    }
    Ok(())
}

/// Checks that `m` (new or changed) keeps the per-record rules: (namespace, key) unique
/// per record and owner, at most [`MAX_PER_RECORD`] per record and owner.
fn check_limits(data: &StoreData, m: &Metafield, creating: bool) -> Result<(), Refusal> {
    let mut mine = data.metafields.fields.values().filter(|o| {
        o.id != m.id
            && o.owner == m.owner
            && o.resource_id == m.resource_id
            && o.owner_client_id == m.owner_client_id
    });
    if mine
        .clone()
        .any(|o| o.namespace == m.namespace && o.key == m.key)
    {
        return Err(Refusal(
            StatusCode::CONFLICT,
            format!(
                "A metafield with namespace {:?} and key {:?} already exists on this {}.",
                m.namespace,
                m.key,
                m.owner.resource_type()
            ),
        ));
    }
    if creating && mine.by_ref().count() >= MAX_PER_RECORD {
        return Err(Refusal::invalid(format!(
            "This client already has {MAX_PER_RECORD} metafields on this {}, the most allowed.",
            m.owner.resource_type()
        )));
    }
    Ok(())
}

fn record_for(owner: Owner, id: i64, resource_id: i64) -> Record {
    Record::Metafield {
        id,
        owner,
        resource_id,
    }
}

/// Creates one metafield on `resource_id` for `client` inside a write.
fn create_in(
    tx: &mut crate::mutation::Tx<'_>,
    owner: Owner,
    resource_id: i64,
    body: &Value,
    client: &str,
) -> Result<Value, Refusal> {
    if !owner.exists(tx.data, resource_id) {
        return Err(Refusal(
            StatusCode::NOT_FOUND,
            format!("The {} {resource_id} was not found.", owner.resource_type()),
        ));
    }
    let now = tx.now;
    let mut m = Metafield {
        id: tx.data.metafields.last_id + 1,
        owner,
        resource_id,
        namespace: String::new(),
        key: String::new(),
        value: String::new(),
        description: String::new(),
        permission_set: "app_only",
        owner_client_id: client.to_owned(),
        date_created: now,
        date_modified: now,
    };
    apply(body, &mut m, true)?;
    check_limits(tx.data, &m, true)?;
    tx.data.metafields.last_id = m.id;
    let out = render(&m);
    tx.created(record_for(owner, m.id, resource_id));
    tx.data.metafields.fields.insert(m.id, m);
    Ok(out)
}

/// Updates metafield `id` of `owner` for `client` inside a write.
fn update_in(
    tx: &mut crate::mutation::Tx<'_>,
    owner: Owner,
    id: i64,
    body: &Value,
    client: &str,
) -> Result<Value, Refusal> {
    let mut m = match tx.data.metafields.fields.get(&id) {
        Some(m) if m.owner == owner && m.visible_to(client) => m.clone(),
        _ => {
            return Err(Refusal(
                StatusCode::NOT_FOUND,
                format!("Metafield {id} does not exist."),
            ));
        }
    };
    if !m.writable_by(client) {
        return Err(Refusal(
            StatusCode::FORBIDDEN,
            format!("Metafield {id} belongs to another app and is read-only to this one."),
        ));
    }
    apply(body, &mut m, false)?;
    check_limits(tx.data, &m, false)?;
    m.date_modified = tx.now;
    let out = render(&m);
    tx.updated(record_for(owner, id, m.resource_id));
    tx.data.metafields.fields.insert(id, m);
    Ok(out)
}

fn delete_in(
    tx: &mut crate::mutation::Tx<'_>,
    owner: Owner,
    id: i64,
    client: &str,
) -> Result<(), Refusal> {
    let resource_id = match tx.data.metafields.fields.get(&id) {
        Some(m) if m.owner == owner && m.visible_to(client) => {
            if !m.writable_by(client) {
                return Err(Refusal(
                    StatusCode::FORBIDDEN,
                    "Unauthorized to delete".to_owned(),
                ));
            }
            m.resource_id
        }
        _ => {
            return Err(Refusal(
                StatusCode::NOT_FOUND,
                "Metafield does not exist".to_owned(),
            ));
        }
    };
    tx.deleted(record_for(owner, id, resource_id));
    tx.data.metafields.fields.remove(&id);
    Ok(())
}

async fn create_one(
    owner: Owner,
    State(st): State<Shared>,
    Path(p): PathParams,
    Extension(client): Extension<ClientId>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let out = st.write(|tx| {
        let record = record_of(owner, tx.data, &p)?;
        create_in(tx, owner, record, &body, &client.0).map_err(Refusal::into_error)
    })?;
    Ok(paging::v3_single(out))
}

async fn update_one(
    owner: Owner,
    State(st): State<Shared>,
    Path(p): PathParams,
    Extension(client): Extension<ClientId>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let out = st.write(|tx| {
        let id = metafield_in(tx.data, owner, &p, &client.0)?;
        update_in(tx, owner, id, &body, &client.0).map_err(Refusal::into_error)
    })?;
    Ok(paging::v3_single(out))
}

async fn delete_one(
    owner: Owner,
    State(st): State<Shared>,
    Path(p): PathParams,
    Extension(client): Extension<ClientId>,
) -> ApiResult {
    st.write(|tx| {
        let id = metafield_in(tx.data, owner, &p, &client.0)?;
        delete_in(tx, owner, id, &client.0).map_err(Refusal::into_error)
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The answer of a batch: 200 when every item passed, else 422 with what was done in
/// `data` and each failure, keyed by its index, in `errors` (docs/api-notes.md §15).
fn batch_answer(total: usize, done: Vec<Value>, failed: Map<String, Value>) -> Response {
    let success = done.len();
    let errors: Vec<Value> = if failed.is_empty() {
        Vec::new()
    } else {
        vec![json!({
            "status": 422,
            "title": "Some metafields could not be written.",
            "type": crate::error::V3_ERROR_TYPE,
            "errors": failed,
        })]
    };
    let status = if failed.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let body = json!({
        "data": done,
        "errors": errors,
        "meta": {"total": total, "success": success, "failed": total - success},
    });
    (status, Json(body)).into_response()
}

/// Runs `one` over each item of a batch body, all inside one write; items that fail are
/// reported and leave nothing behind.
fn run_batch(
    st: &Shared,
    body: Value,
    one: impl Fn(&mut crate::mutation::Tx<'_>, &Value) -> Result<Value, Refusal>,
) -> ApiResult {
    let items = crate::body::batch(V, body, MAX_BATCH)?;
    let total = items.len();
    let (done, failed) = st.write(|tx| {
        let mut done = Vec::new();
        let mut failed = Map::new();
        for (i, item) in items.iter().enumerate() {
            match one(tx, item) {
                Ok(v) => done.push(v),
                Err(Refusal(_, msg)) => {
                    failed.insert(i.to_string(), Value::String(msg));
                }
            }
        }
        Ok((done, failed))
    })?;
    Ok(batch_answer(total, done, failed))
}

/// The write a collection route's `POST`, `PUT` or `DELETE` makes of each batch item.
#[derive(Debug, Clone, Copy)]
enum BatchWrite {
    /// Items are new metafields, each naming its `resource_id`.
    Create,
    /// Items are changes, each naming the metafield's `id`.
    Update,
    /// Items are bare metafield ids.
    Delete,
}

/// An integer field of a batch item, given as a number or a numeric string.
fn item_int(item: &Value, field: &str) -> Result<i64, Refusal> {
    item.get(field)
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .ok_or_else(|| Refusal::invalid(format!("{field} is required")))
}

/// A batch write on a collection route.
async fn batch(
    owner: Owner,
    write: BatchWrite,
    State(st): State<Shared>,
    Extension(client): Extension<ClientId>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let client = &client.0;
    run_batch(&st, body, |tx, item| match write {
        BatchWrite::Create => {
            let resource_id = item_int(item, "resource_id")?;
            create_in(tx, owner, resource_id, item, client)
        }
        BatchWrite::Update => {
            let id = item_int(item, "id")?;
            update_in(tx, owner, id, item, client)
        }
        BatchWrite::Delete => {
            let id = item
                .as_i64()
                .ok_or_else(|| Refusal::invalid("each item must be a metafield id"))?;
            delete_in(tx, owner, id, client)?;
            Ok(Value::from(id))
        }
    })
}

/// A few metafields owned by the default API account: one on every fifth product, variant
/// and category, every tenth customer and order. Deterministic from the store alone.
pub fn seed(data: &mut StoreData, spec: &SeedSpec, now: DateTime<Utc>) {
    let history = spec.history_days.max(1) * 86_400;
    let owners: Vec<(Owner, i64)> = data
        .catalog
        .products
        .keys()
        .step_by(5)
        .map(|id| (Owner::Product, *id))
        .chain(
            data.catalog
                .variants
                .values()
                .filter(|v| v.sku_id.is_some())
                .step_by(5)
                .map(|v| (Owner::Variant, v.id)),
        )
        .chain(
            data.catalog
                .categories
                .keys()
                .step_by(5)
                .map(|id| (Owner::Category, *id)),
        )
        .chain(
            data.customers
                .customers
                .keys()
                .step_by(10)
                .map(|id| (Owner::Customer, *id)),
        )
        .chain(
            data.orders
                .orders
                .iter()
                .step_by(10)
                .map(|o| (Owner::Order, o.id)),
        )
        .collect();
    let store = &mut data.metafields;
    for (owner, resource_id) in owners {
        store.last_id += 1;
        let id = store.last_id;
        let created = now - Duration::seconds((id * 7_919) % history);
        let (namespace, key, value) = match owner {
            Owner::Product => (
                "specs",
                "material",
                ["cotton", "wool", "steel"][id as usize % 3],
            ),
            Owner::Variant => ("specs", "shade", ["light", "dark"][id as usize % 2]),
            Owner::Category => ("seo", "banner", "spring"),
            Owner::Customer => ("crm", "tier", ["gold", "silver"][id as usize % 2]),
            Owner::Order => ("erp", "export_batch", "B-1"),
        };
        store.fields.insert(
            id,
            Metafield {
                id,
                owner,
                resource_id,
                namespace: namespace.to_owned(),
                key: key.to_owned(),
                value: value.to_owned(),
                description: String::new(),
                permission_set: "write",
                owner_client_id: "sandbox-client".to_owned(),
                date_created: created,
                date_modified: created,
            },
        );
    }
}
