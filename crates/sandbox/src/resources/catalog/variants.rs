//! Variants (docs/api-notes.md §3.4): `/v3/catalog/products/{id}/variants[/{variant_id}]` and the
//! store-wide `/v3/catalog/variants` list and batch upsert (50 at most).
//!
//! Option values may be named by ids (`{id, option_id}`, the documented form) or by
//! `{option_display_name, label}`, which creates the option and value on the product
//! when missing (the form inline product creates use).

use std::collections::{HashMap, HashSet};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Map, Value};

use super::filters::{FieldSelection, IntFilter, TextFilter, path_id};
use super::input::{Input, MAX_DIMENSION, MAX_INT32, MAX_MONEY};
use super::model::{OptionValue, Product, ProductOption, Variant};
use super::products::{conflict, invalid, product_not_found};
use super::{CatalogData, SkuOwner, next};
use crate::body::{JsonBody, batch};
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::mutation::Record;
use crate::paging::{v3_batch, v3_offset, v3_single};
use crate::query::Query;
use crate::state::Shared;

const V3: ApiVersion = ApiVersion::V3;
/// Variants per `PUT /v3/catalog/variants` (docs/api-notes.md §3.4).
const MAX_BATCH: usize = 50;
/// docs/api-notes.md §13.3: no stated page cap for variants; 250 is the documented cap elsewhere.
const MAX_LIMIT: u32 = 250;
/// SKUs per product (docs/api-notes.md §3.4).
const MAX_PER_PRODUCT: usize = 600;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/v3/catalog/products/{id}/variants",
            get(list_for_product).post(create_one),
        )
        .route(
            "/v3/catalog/products/{id}/variants/{variant_id}",
            get(get_one).put(update_one).delete(delete_one),
        )
        .route("/v3/catalog/variants", get(list_all).put(upsert_batch))
}

fn variant_not_found(id: i64) -> ApiError {
    ApiError::new(
        V3,
        StatusCode::NOT_FOUND,
        format!("Variant {id} was not found."),
    )
    .with_errors(Map::new())
}

/// Applies the writable variant fields present in `input` (not its identity: id,
/// product_id, option_values).
fn apply_fields(input: &mut Input, v: &mut Variant) {
    input.text("sku", 0, 255, &mut v.sku);
    input.opt_number("price", 0.0, MAX_MONEY, &mut v.price);
    input.opt_number("sale_price", 0.0, MAX_MONEY, &mut v.sale_price);
    input.opt_number("retail_price", 0.0, MAX_MONEY, &mut v.retail_price);
    input.opt_number("cost_price", 0.0, MAX_MONEY, &mut v.cost_price);
    input.opt_number("map_price", 0.0, MAX_MONEY, &mut v.map_price);
    input.opt_number("weight", 0.0, MAX_DIMENSION, &mut v.weight);
    input.opt_number("width", 0.0, MAX_DIMENSION, &mut v.width);
    input.opt_number("height", 0.0, MAX_DIMENSION, &mut v.height);
    input.opt_number("depth", 0.0, MAX_DIMENSION, &mut v.depth);
    input.opt_number(
        "fixed_cost_shipping_price",
        0.0,
        MAX_MONEY,
        &mut v.fixed_cost_shipping_price,
    );
    input.flag("is_free_shipping", &mut v.is_free_shipping);
    input.flag("purchasing_disabled", &mut v.purchasing_disabled);
    input.text(
        "purchasing_disabled_message",
        0,
        255,
        &mut v.purchasing_disabled_message,
    );
    input.int("inventory_level", 0, MAX_INT32, &mut v.inventory_level);
    input.int(
        "inventory_warning_level",
        0,
        MAX_INT32,
        &mut v.inventory_warning_level,
    );
    input.text("upc", 0, 14, &mut v.upc);
    input.text("gtin", 0, 14, &mut v.gtin);
    input.text("mpn", 0, 255, &mut v.mpn);
    input.text("bin_picking_number", 0, 255, &mut v.bin_picking_number);
    input.text("image_url", 0, 255, &mut v.image_url);
}

/// Reads a new option variant of `p` (id left 0): `sku` and `option_values` required.
/// Options named by display name and label are created on `p` (ids from `cat`).
pub fn read_new(input: &mut Input, cat: &mut CatalogData, p: &mut Product) -> Option<Variant> {
    input.require(&["sku", "option_values"]);
    let mut v = Variant {
        product_id: p.id,
        ..Variant::default()
    };
    apply_fields(input, &mut v);
    if input.has("sku") && v.sku.is_empty() {
        input.fail("sku", "sku must be 1 to 255 characters long");
    }
    let values = option_values(input, cat, p);
    if !input.ok() {
        return None;
    }
    v.option_values = values?;
    Some(v)
}

/// Resolves `option_values` to `(value id, option id)` pairs, one value per option.
fn option_values(
    input: &mut Input,
    cat: &mut CatalogData,
    p: &mut Product,
) -> Option<Vec<(i64, i64)>> {
    let items = input.array("option_values")?;
    if items.is_empty() {
        input.fail("option_values", "A variant needs at least one option value");
        return None;
    }
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(items.len());
    for (k, item) in items.iter().enumerate() {
        let field = format!("option_values.{k}");
        let ids = (
            item.get("id").and_then(Value::as_i64),
            item.get("option_id").and_then(Value::as_i64),
        );
        let names = (
            item.get("option_display_name").and_then(Value::as_str),
            item.get("label").and_then(Value::as_str),
        );
        let pair = match (ids, names) {
            ((Some(value_id), Some(option_id)), _) => {
                let known = p
                    .options
                    .iter()
                    .any(|o| o.id == option_id && o.values.iter().any(|v| v.id == value_id));
                if !known {
                    input.fail(&field, format!("Option value {value_id} of option {option_id} does not exist on this product"));
                    continue;
                }
                (value_id, option_id)
            }
            (_, (Some(display_name), Some(label)))
                if !display_name.is_empty() && !label.is_empty() =>
            {
                named_option_value(cat, p, display_name, label)
            }
            _ => {
                input.fail(
                    &field,
                    "An option value needs id and option_id (or option_display_name and label)",
                );
                continue;
            }
        };
        if out.iter().any(|(_, option_id)| *option_id == pair.1) {
            input.fail(&field, "A variant takes one value per option");
            continue;
        }
        out.push(pair);
    }
    input.ok().then_some(out)
}

/// Finds or creates the option `display_name` and its value `label` on `p`.
fn named_option_value(
    cat: &mut CatalogData,
    p: &mut Product,
    display_name: &str,
    label: &str,
) -> (i64, i64) {
    let option_index = match p
        .options
        .iter()
        .position(|o| o.display_name.eq_ignore_ascii_case(display_name))
    {
        Some(i) => i,
        None => {
            let id = next(&mut cat.ids.option);
            let sort_order = p.options.len() as i64;
            let kind = if display_name.eq_ignore_ascii_case("color") {
                "swatch"
            } else {
                "rectangles"
            };
            p.options.push(ProductOption {
                id,
                display_name: display_name.to_owned(),
                kind,
                sort_order,
                values: Vec::new(),
            });
            p.options.len() - 1
        }
    };
    let option = &mut p.options[option_index];
    let value_id = match option
        .values
        .iter()
        .find(|v| v.label.eq_ignore_ascii_case(label))
    {
        Some(v) => v.id,
        None => {
            let id = next(&mut cat.ids.option_value);
            let sort_order = option.values.len() as i64;
            option.values.push(OptionValue {
                id,
                label: label.to_owned(),
                sort_order,
                is_default: false,
            });
            id
        }
    };
    (value_id, option.id)
}

/// Whether two variants pick the same combination of option values.
pub fn same_combination(a: &[(i64, i64)], b: &[(i64, i64)]) -> bool {
    a.len() == b.len() && a.iter().all(|pair| b.contains(pair))
}

/// Whether `values` is already the combination of one of `p`'s variants.
fn combination_taken(cat: &CatalogData, p: &Product, values: &[(i64, i64)]) -> bool {
    p.variant_ids
        .iter()
        .filter_map(|id| cat.variants.get(id))
        .any(|v| same_combination(&v.option_values, values))
}

fn render(cat: &CatalogData, v: &Variant, sel: &FieldSelection) -> Value {
    match cat.products.get(&v.product_id) {
        Some(p) => Value::Object(sel.apply(v.render(p), "id")),
        None => Value::Null,
    }
}

async fn list_for_product(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let id = path_id(&id)?;
    let q = Query::parse(raw.as_deref(), V3);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let sel = FieldSelection::parse(&q);
    let data = st.data.read();
    let cat = &data.catalog;
    let p = cat.products.get(&id).ok_or_else(|| product_not_found(id))?;
    let items: Vec<&Variant> = p
        .variant_ids
        .iter()
        .filter_map(|vid| cat.variants.get(vid))
        .collect();
    Ok(v3_offset(&items, page, limit, &q, |v| render(cat, v, &sel)))
}

/// Filters of `GET /v3/catalog/variants` (docs/api-notes.md §3.4).
struct VariantFilter {
    id: IntFilter,
    sku: TextFilter,
    product_id: IntFilter,
    upc: TextFilter,
}

impl VariantFilter {
    fn parse(q: &Query) -> Result<Self, ApiError> {
        Ok(Self {
            id: IntFilter::parse(q, "id")?,
            sku: TextFilter::parse(q, "sku"),
            product_id: IntFilter::parse(q, "product_id")?,
            upc: TextFilter::parse(q, "upc"),
        })
    }

    fn matches(&self, v: &Variant) -> bool {
        self.id.matches(v.id)
            && self.sku.matches(&v.sku)
            && self.product_id.matches(v.product_id)
            && self.upc.matches(&v.upc)
    }
}

async fn list_all(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let filter = VariantFilter::parse(&q)?;
    let sel = FieldSelection::parse(&q);
    let data = st.data.read();
    let cat = &data.catalog;
    let (lo, hi) = filter.id.range();
    let items: Vec<&Variant> = if lo > hi {
        Vec::new()
    } else if let Some(product_ids) = &filter.product_id.any_of {
        // Walk only the listed products' variants, then restore id order.
        let mut found: Vec<&Variant> = product_ids
            .iter()
            .collect::<HashSet<_>>()
            .into_iter()
            .filter_map(|pid| cat.products.get(pid))
            .flat_map(|p| p.variant_ids.iter().filter_map(|id| cat.variants.get(id)))
            .filter(|v| filter.matches(v))
            .collect();
        found.sort_unstable_by_key(|v| v.id);
        found
    } else {
        cat.variants
            .range(lo..=hi)
            .map(|(_, v)| v)
            .filter(|v| filter.matches(v))
            .collect()
    };
    Ok(v3_offset(&items, page, limit, &q, |v| render(cat, v, &sel)))
}

/// The variant `vid` of product `pid`, or the right 404.
fn find(cat: &CatalogData, pid: i64, vid: i64) -> Result<&Variant, ApiError> {
    if !cat.products.contains_key(&pid) {
        return Err(product_not_found(pid));
    }
    cat.variants
        .get(&vid)
        .filter(|v| v.product_id == pid)
        .ok_or_else(|| variant_not_found(vid))
}

async fn get_one(
    State(st): State<Shared>,
    Path((_, pid, vid)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let (pid, vid) = (path_id(&pid)?, path_id(&vid)?);
    let q = Query::parse(raw.as_deref(), V3);
    let sel = FieldSelection::parse(&q);
    let data = st.data.read();
    let cat = &data.catalog;
    let v = find(cat, pid, vid)?;
    Ok(v3_single(render(cat, v, &sel)))
}

async fn create_one(
    State(st): State<Shared>,
    Path((_, pid)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let pid = path_id(&pid)?;
    st.write(|tx| {
        let cat = &mut tx.data.catalog;
        let vid = cat.transaction(|cat| {
            let mut p = cat
                .products
                .get(&pid)
                .cloned()
                .ok_or_else(|| product_not_found(pid))?;
            let mut input = Input::new(&body, "");
            let v = read_new(&mut input, cat, &mut p);
            let mut errors = Map::new();
            input.drain_into(&mut errors);
            let Some(mut v) = v.filter(|_| errors.is_empty()) else {
                return Err(invalid(errors));
            };
            let option_count = if p.base_variant_id.is_some() {
                0
            } else {
                p.variant_ids.len()
            };
            if option_count >= MAX_PER_PRODUCT {
                return Err(
                    invalid(Map::new()).with_error("sku", "A product can have at most 600 SKUs")
                );
            }
            let mut conflicts = Map::new();
            if cat.sku_holder(&v.sku).is_some() {
                conflicts.insert(
                    "sku".into(),
                    Value::String(format!("The SKU {:?} is already in use", v.sku)),
                );
            }
            if combination_taken(cat, &p, &v.option_values) {
                conflicts.insert(
                    "option_values".into(),
                    Value::String("A variant with these option values already exists".into()),
                );
            }
            if !conflicts.is_empty() {
                return Err(conflict(conflicts));
            }
            v.id = next(&mut cat.ids.variant);
            let id = v.id;
            if let Some(live) = cat.products.get_mut(&pid) {
                live.options = p.options;
            }
            cat.insert_option_variant(v);
            Ok(id)
        })?;
        // The product's date_modified moves at commit: a variant write is a write to its
        // product, so `date_modified:min` syncs with `include=variants` see it.
        tx.created(Record::Variant(vid));
        let cat = &tx.data.catalog;
        let v = cat
            .variants
            .get(&vid)
            .ok_or_else(|| variant_not_found(vid))?;
        Ok(v3_single(render(cat, v, &FieldSelection::default())))
    })
}

async fn update_one(
    State(st): State<Shared>,
    Path((_, pid, vid)): Path<(String, String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let (pid, vid) = (path_id(&pid)?, path_id(&vid)?);
    st.write(|tx| {
        let cat = &tx.data.catalog;
        let mut v = find(cat, pid, vid)?.clone();
        let mut input = Input::new(&body, "");
        apply_fields(&mut input, &mut v);
        if input.has("sku") && v.sku.is_empty() && !v.is_base() {
            input.fail("sku", "sku must be 1 to 255 characters long");
        }
        if !input.ok() {
            return Err(invalid(input.errors));
        }
        let me = if v.is_base() {
            SkuOwner::Product(pid)
        } else {
            SkuOwner::Variant(vid)
        };
        if !cat.sku_free_for(&v.sku, me, |_| false) {
            return Err(conflict(Map::new())
                .with_error("sku", format!("The SKU {:?} is already in use", v.sku)));
        }
        tx.updated(Record::Variant(vid));
        let cat = &mut tx.data.catalog;
        cat.replace_variants(vec![v]);
        let v = cat
            .variants
            .get(&vid)
            .ok_or_else(|| variant_not_found(vid))?;
        Ok(v3_single(render(cat, v, &FieldSelection::default())))
    })
}

async fn delete_one(
    State(st): State<Shared>,
    Path((_, pid, vid)): Path<(String, String, String)>,
) -> ApiResult {
    let (pid, vid) = (path_id(&pid)?, path_id(&vid)?);
    st.write(|tx| {
        if find(&tx.data.catalog, pid, vid)?.is_base() {
            return Err(invalid(Map::new())
                .with_error("id", "The base variant of a product cannot be deleted"));
        }
        tx.deleted(Record::Variant(vid));
        tx.data.catalog.remove_option_variant(vid);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// One item of a variants batch, validated.
enum BatchItem {
    Update(Variant),
    Create(Variant),
}

/// `PUT /v3/catalog/variants` (docs/api-notes.md §3.4): an item with `id` updates; one with
/// `product_id` + `sku` + `option_values` creates. All or nothing.
async fn upsert_batch(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let items = batch(V3, body, MAX_BATCH)?;
    st.write(|tx| {
        let existing: HashSet<i64> = items
            .iter()
            .filter_map(|i| i.get("id").and_then(Value::as_i64))
            .filter(|id| tx.data.catalog.variants.contains_key(id))
            .collect();
        for id in &existing {
            tx.updated(Record::Variant(*id));
        }
        let ids = tx.data.catalog.transaction(|cat| upsert(cat, &items))?;
        for id in ids.iter().filter(|id| !existing.contains(id)) {
            tx.created(Record::Variant(*id));
        }
        let cat = &tx.data.catalog;
        let sel = FieldSelection::default();
        let out = ids
            .iter()
            .filter_map(|id| cat.variants.get(id))
            .map(|v| render(cat, v, &sel));
        Ok(v3_batch(StatusCode::OK, out.collect()))
    })
}

fn upsert(cat: &mut CatalogData, items: &[Value]) -> Result<Vec<i64>, ApiError> {
    let mut errors = Map::new();
    let mut missing = Map::new();
    // Products that gain options in this request, edited as copies until commit.
    let mut products: HashMap<i64, Product> = HashMap::new();
    let mut parsed: Vec<BatchItem> = Vec::with_capacity(items.len());
    let mut seen_ids = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let mut input = Input::new(item, &format!("{i}."));
        if let Some(id) = item.get("id").and_then(Value::as_i64) {
            let Some(existing) = cat.variants.get(&id) else {
                missing.insert(
                    format!("{i}.id"),
                    Value::String(format!("Variant {id} was not found")),
                );
                continue;
            };
            if !seen_ids.insert(id) {
                input.fail("id", "The same id appears twice");
            }
            let mut v = existing.clone();
            apply_fields(&mut input, &mut v);
            if input.has("sku") && v.sku.is_empty() && !v.is_base() {
                input.fail("sku", "sku must be 1 to 255 characters long");
            }
            if input.ok() {
                parsed.push(BatchItem::Update(v));
            }
        } else if let Some(pid) = item.get("product_id").and_then(Value::as_i64) {
            let Some(p) = products
                .get(&pid)
                .cloned()
                .or_else(|| cat.products.get(&pid).cloned())
            else {
                input.fail("product_id", format!("Product {pid} does not exist"));
                input.drain_into(&mut errors);
                continue;
            };
            let mut p = p;
            if let Some(v) = read_new(&mut input, cat, &mut p) {
                parsed.push(BatchItem::Create(v));
            }
            products.insert(pid, p);
        } else {
            input.fail(
                "id",
                "Each item needs id (to update) or product_id, sku and option_values (to create)",
            );
        }
        input.drain_into(&mut errors);
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    if !missing.is_empty() {
        return Err(ApiError::new(
            V3,
            StatusCode::NOT_FOUND,
            "One or more variants were not found.",
        )
        .with_errors(missing));
    }

    // SKU clashes: with the store (unless the holder is updated here) and inside the request.
    let updated: HashSet<SkuOwner> = parsed
        .iter()
        .filter_map(|item| match item {
            BatchItem::Update(v) if v.is_base() => Some(SkuOwner::Product(v.product_id)),
            BatchItem::Update(v) => Some(SkuOwner::Variant(v.id)),
            BatchItem::Create(_) => None,
        })
        .collect();
    let mut conflicts = Map::new();
    let mut claimed: HashSet<String> = HashSet::new();
    let mut created_combos: Vec<(i64, Vec<(i64, i64)>)> = Vec::new();
    for (i, item) in parsed.iter().enumerate() {
        let (v, me) = match item {
            BatchItem::Update(v) if v.is_base() => (v, SkuOwner::Product(v.product_id)),
            BatchItem::Update(v) => (v, SkuOwner::Variant(v.id)),
            // A new variant owns nothing yet.
            BatchItem::Create(v) => (v, SkuOwner::Variant(0)),
        };
        if v.sku.is_empty() {
            continue;
        }
        if !cat.sku_free_for(&v.sku, me, |holder| updated.contains(&holder))
            || !claimed.insert(v.sku.to_lowercase())
        {
            conflicts.insert(
                format!("{i}.sku"),
                Value::String(format!("The SKU {:?} is already in use", v.sku)),
            );
        }
        if let BatchItem::Create(v) = item {
            let taken_in_store = cat
                .products
                .get(&v.product_id)
                .is_some_and(|p| combination_taken(cat, p, &v.option_values));
            let taken_here = created_combos.iter().any(|(pid, combo)| {
                *pid == v.product_id && same_combination(combo, &v.option_values)
            });
            if taken_in_store || taken_here {
                conflicts.insert(
                    format!("{i}.option_values"),
                    Value::String("A variant with these option values already exists".into()),
                );
            }
            created_combos.push((v.product_id, v.option_values.clone()));
        }
    }
    if !conflicts.is_empty() {
        return Err(conflict(conflicts));
    }

    for (pid, p) in products {
        if let Some(live) = cat.products.get_mut(&pid) {
            live.options = p.options;
        }
    }
    // Updates first: a create below may replace a base variant updated here.
    let mut ids = Vec::with_capacity(parsed.len());
    let mut updates = Vec::new();
    let mut creates = Vec::new();
    for item in parsed {
        match item {
            BatchItem::Update(v) => {
                ids.push(v.id);
                updates.push(v);
            }
            BatchItem::Create(mut v) => {
                v.id = next(&mut cat.ids.variant);
                ids.push(v.id);
                creates.push(v);
            }
        }
    }
    cat.replace_variants(updates);
    for v in creates {
        cat.insert_option_variant(v);
    }
    Ok(ids)
}
