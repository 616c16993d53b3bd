//! Products V2 (docs/api-notes.md §3.5): `/v2/products` list, count, get, create and
//! update, which the official Python client still calls for products. V2 shapes: bare
//! arrays and objects, 204 for an empty page, RFC 2822 dates, money and dimensions as
//! decimal strings (`"12.0000"`), `inventory_tracking` as `none|simple|sku`, links to
//! sub-resources as `{url, resource}`, `[{status, message}]` errors.
//!
//! No V2 copy of the catalog exists: the handlers read the V3 product records, and writes
//! translate the V2 body into V3 fields and run the V3 product writers inside the one
//! mutation path, so V3 sees a V2 write at once and the same webhooks fire.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::model::Product;
use super::products::{create_product, update_products};
use crate::body::JsonBody;
use crate::dates;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::mutation::Record;
use crate::paging::v2_object;
use crate::query::Query;
use crate::resources::orders::v2_base;
use crate::resources::v2_records::{self, Bounds, record_id, text_filter, within};
use crate::state::{Shared, StoreData};

const V2: ApiVersion = ApiVersion::V2;

/// Fields V2 sends as decimal strings and V3 takes as numbers.
const DECIMAL_FIELDS: [&str; 10] = [
    "price",
    "cost_price",
    "retail_price",
    "sale_price",
    "map_price",
    "weight",
    "width",
    "height",
    "depth",
    "fixed_cost_shipping_price",
];

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v2/products", get(list).post(create))
        .route("/v2/products/count", get(count))
        .route("/v2/products/{id}", get(get_one).put(update))
}

fn decimal(n: f64) -> String {
    format!("{n:.4}")
}

/// V3 `inventory_tracking` in its V2 name.
fn v2_tracking(v3: &str) -> &'static str {
    match v3 {
        "product" => "simple",
        "variant" => "sku",
        _ => "none",
    }
}

/// The V2 product object.
fn render(p: &Product, base: &str) -> Value {
    let link = |sub: &str| {
        json!({
            "url": format!("{base}/products/{}/{sub}", p.id),
            "resource": format!("/products/{}/{sub}", p.id),
        })
    };
    let calculated = if p.sale_price > 0.0 {
        p.sale_price
    } else {
        p.price
    };
    let extra = p.extra.as_deref();
    let text = |f: fn(&super::model::ProductExtra) -> &String| extra.map_or("", |x| f(x).as_str());
    let mut out = json!({
        "id": p.id,
        "keyword_filter": Value::Null,
        "name": p.name,
        "type": p.kind,
        "sku": p.sku,
        "description": p.description,
        "search_keywords": text(|x| &x.search_keywords),
        "availability_description": text(|x| &x.availability_description),
        "price": decimal(p.price),
        "cost_price": decimal(p.cost_price),
        "retail_price": decimal(p.retail_price),
        "sale_price": decimal(p.sale_price),
        "calculated_price": decimal(calculated),
        "sort_order": p.sort_order,
        "is_visible": p.is_visible,
        "is_featured": p.is_featured,
        "inventory_level": p.inventory_level,
        "inventory_warning_level": p.inventory_warning_level,
        "warranty": text(|x| &x.warranty),
        "weight": decimal(p.weight),
        "width": decimal(p.width),
        "height": decimal(p.height),
        "depth": decimal(p.depth),
        "fixed_cost_shipping_price": decimal(p.fixed_cost_shipping_price),
        "is_free_shipping": p.is_free_shipping,
        "inventory_tracking": v2_tracking(p.inventory_tracking),
        "rating_total": p.reviews_rating_sum,
        "rating_count": p.reviews_count,
        "total_sold": p.total_sold,
    });
    let more = json!({
        "date_created": dates::rfc2822(p.date_created),
        "date_modified": dates::rfc2822(p.date_modified),
        "brand_id": p.brand_id,
        "view_count": p.view_count,
        "page_title": text(|x| &x.page_title),
        "meta_description": text(|x| &x.meta_description),
        "layout_file": text(|x| &x.layout_file),
        "categories": p.categories,
        "condition": p.condition,
        "is_condition_shown": p.is_condition_shown,
        "order_quantity_minimum": p.order_quantity_minimum,
        "order_quantity_maximum": p.order_quantity_maximum,
        "custom_url": p.custom_url,
        "upc": text(|x| &x.upc),
        "mpn": text(|x| &x.mpn),
        "gtin": text(|x| &x.gtin),
        "bin_picking_number": text(|x| &x.bin_picking_number),
        "tax_class_id": p.tax_class_id,
    });
    let links = json!({
        "option_set_id": Value::Null,
        "availability": p.availability,
        "primary_image": p.images.iter().find(|i| i.is_thumbnail).map_or(Value::Null, |i| {
            let v3 = i.render(p.id);
            json!({
                "id": i.id,
                "zoom_url": v3["url_zoom"],
                "thumbnail_url": v3["url_thumbnail"],
                "standard_url": v3["url_standard"],
                "tiny_url": v3["url_tiny"],
            })
        }),
        "brand": if p.brand_id == 0 { Value::Null } else { json!({
            "url": format!("{base}/brands/{}", p.brand_id),
            "resource": format!("/brands/{}", p.brand_id),
        }) },
        "images": link("images"),
        "skus": link("skus"),
        "custom_fields": link("custom_fields"),
        "options": link("options"),
        "videos": link("videos"),
        "discount_rules": link("discount_rules"),
        "configurable_fields": link("configurable_fields"),
        "rules": link("rules"),
        "downloads": link("downloads"),
        "tax_class": {
            "url": format!("{base}/tax_classes/{}", p.tax_class_id),
            "resource": format!("/tax_classes/{}", p.tax_class_id),
        },
    });
    if let Some(m) = out.as_object_mut() {
        for part in [more, links] {
            if let Value::Object(part) = part {
                m.extend(part);
            }
        }
    }
    out
}

/// Translates a V2 product body into V3 fields: decimal strings become numbers and the V2
/// `inventory_tracking` names become V3's. Other fields share their names.
fn to_v3(body: &Value) -> Result<Value, ApiError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request(V2, "The request body must be a JSON object."))?;
    let mut v3: Map<String, Value> = obj.clone();
    for key in DECIMAL_FIELDS {
        if let Some(Value::String(s)) = obj.get(key) {
            let n: f64 = s.trim().parse().map_err(|_| {
                ApiError::bad_request(
                    V2,
                    format!("The field '{key}' must be a decimal such as \"12.50\"; got {s:?}."),
                )
            })?;
            v3.insert(key.into(), json!(n));
        }
    }
    if let Some(Value::String(t)) = obj.get("inventory_tracking") {
        let v3_name = match t.as_str() {
            "simple" => "product",
            "sku" => "variant",
            other => other,
        };
        v3.insert("inventory_tracking".into(), json!(v3_name));
    }
    // V2 has no inline variants, images or custom fields on a product write.
    for key in ["variants", "images", "custom_fields", "id"] {
        v3.remove(key);
    }
    Ok(Value::Object(v3))
}

/// The V2 list filters (docs/api-notes.md §3.5), parsed once per request.
struct Filter {
    bounds: Bounds,
    name: Option<String>,
    sku: Option<String>,
    brand_id: Option<i64>,
    category: Option<i64>,
    is_visible: Option<bool>,
    is_featured: Option<bool>,
    availability: Option<String>,
    min_price: Option<f64>,
    max_price: Option<f64>,
}

impl v2_records::Filter for Filter {
    type Record = Product;

    fn parse(q: &Query) -> Result<Self, ApiError> {
        let num = |k: &str| -> Result<Option<f64>, ApiError> {
            match q.get(k).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) => s.trim().parse().map(Some).map_err(|_| {
                    ApiError::bad_request(
                        V2,
                        format!("The filter '{k}' must be a number; got {s:?}."),
                    )
                }),
            }
        };
        Ok(Self {
            bounds: Bounds::parse(q)?,
            name: text_filter(q, "name"),
            sku: text_filter(q, "sku"),
            brand_id: q.int("brand_id")?,
            category: q.int("category")?,
            is_visible: q.bool("is_visible")?,
            is_featured: q.bool("is_featured")?,
            availability: text_filter(q, "availability"),
            min_price: num("min_price")?,
            max_price: num("max_price")?,
        })
    }

    fn select<'a>(&self, data: &'a StoreData) -> Vec<&'a Product> {
        self.bounds
            .select(&data.catalog.products, |p| self.matches(p))
    }
}

impl Filter {
    fn matches(&self, p: &Product) -> bool {
        self.bounds.dates_match(p.date_created, p.date_modified)
            && within(p.price, self.min_price, self.max_price)
            && self
                .name
                .as_deref()
                .is_none_or(|n| p.name.to_lowercase() == n)
            && self
                .sku
                .as_deref()
                .is_none_or(|s| p.sku.to_lowercase() == s)
            && self.brand_id.is_none_or(|b| p.brand_id == b)
            && self.category.is_none_or(|c| p.categories.contains(&c))
            && self.is_visible.is_none_or(|v| p.is_visible == v)
            && self.is_featured.is_none_or(|v| p.is_featured == v)
            && self
                .availability
                .as_deref()
                .is_none_or(|a| p.availability == a)
    }
}

async fn list(State(st): State<Shared>, RawQuery(raw): RawQuery, headers: HeaderMap) -> ApiResult {
    v2_records::list::<Filter>(&st, raw.as_deref(), &headers, render)
}

async fn count(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    v2_records::count::<Filter>(&st, raw.as_deref())
}

async fn get_one(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let id = record_id(&id)?;
    let base = v2_base(&headers, &st.config.store_hash);
    let data = st.data.read();
    let p = data
        .catalog
        .products
        .get(&id)
        .ok_or_else(|| ApiError::not_found(V2))?;
    Ok(v2_object(StatusCode::OK, render(p, &base)))
}

/// `POST /v2/products`: 201. V2 requires `categories` and `availability` besides the V3
/// required fields (docs/api-notes.md §3.5).
async fn create(
    State(st): State<Shared>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let v3 = to_v3(&body)?;
    let missing: Vec<&str> = [
        "name",
        "type",
        "price",
        "weight",
        "categories",
        "availability",
    ]
    .into_iter()
    .filter(|k| v3.get(k).is_none_or(Value::is_null))
    .collect();
    if !missing.is_empty() {
        return Err(ApiError::bad_request(
            V2,
            format!("The required field(s) {} are missing.", missing.join(", ")),
        ));
    }
    let base = v2_base(&headers, &st.config.store_hash);
    st.write(|tx| {
        let now = tx.now;
        let id = tx
            .data
            .catalog
            .transaction(|cat| create_product(cat, &v3, now))
            .map_err(ApiError::into_v2)?;
        tx.created(Record::Product(id));
        let p = tx
            .data
            .catalog
            .products
            .get(&id)
            .ok_or_else(|| ApiError::not_found(V2))?;
        Ok(v2_object(StatusCode::CREATED, render(p, &base)))
    })
}

/// `PUT /v2/products/{id}`: a partial update; 200 with the product.
async fn update(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let id = record_id(&id)?;
    let v3 = to_v3(&body)?;
    let base = v2_base(&headers, &st.config.store_hash);
    st.write(|tx| {
        let now = tx.now;
        if !tx.data.catalog.products.contains_key(&id) {
            return Err(ApiError::not_found(V2));
        }
        tx.updated(Record::Product(id));
        let cat = &mut tx.data.catalog;
        cat.transaction(|cat| update_products(cat, &[(id, &v3)], false, now))
            .map_err(ApiError::into_v2)?;
        let p = cat
            .products
            .get(&id)
            .ok_or_else(|| ApiError::not_found(V2))?;
        Ok(v2_object(StatusCode::OK, render(p, &base)))
    })
}
