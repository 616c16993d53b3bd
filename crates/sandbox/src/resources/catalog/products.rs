//! `/v3/catalog/products` (docs/api-notes.md §3.1-3.3): the filtered, sorted, projected list with
//! its `include=` sub-resources; one-product create with inline variants, images and custom
//! fields; atomic batch update (10 at most); single get/update/delete; filtered delete
//! (250 ids at most, a filter required).

use std::collections::{HashMap, HashSet};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::filters::{
    DateFilter, FieldSelection, IntFilter, NumFilter, TextFilter, descending, path_id,
};
use super::input::{Input, MAX_DIMENSION, MAX_INT32, MAX_MONEY};
use super::model::{
    AVAILABILITY, Brand, CONDITIONS, EXTRA_KEYS, GIFT_WRAPPING, INVENTORY_TRACKING,
    OPEN_GRAPH_TYPES, PRODUCT_TYPES, Product, Variant,
};
use super::{CatalogData, SkuOwner, custom_fields, images, next, variants};
use crate::body::{JsonBody, batch};
use crate::dates;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::mutation::Record;
use crate::paging::{v3_batch, v3_offset, v3_single};
use crate::query::Query;
use crate::state::Shared;

const V3: ApiVersion = ApiVersion::V3;
/// Page size cap for products (docs/api-notes.md §0.4).
const MAX_LIMIT: u32 = 250;
/// `include=options|modifiers` cuts the page to this many products (docs/api-notes.md §3.2).
const OPTIONS_PAGE: u32 = 10;
/// Products per `PUT /products` (docs/api-notes.md §3.1).
const MAX_UPDATE_BATCH: usize = 10;
/// Ids per `DELETE /products?id:in=` (docs/api-notes.md §3.1).
const MAX_DELETE_IDS: usize = 250;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/v3/catalog/products",
            get(list)
                .post(create)
                .put(update_batch)
                .delete(delete_filtered),
        )
        .route(
            "/v3/catalog/products/channel-assignments",
            get(list_channel_assignments),
        )
        .route(
            "/v3/catalog/products/{id}",
            get(get_one).put(update_one).delete(delete_one),
        )
}

/// The `include=` sub-resources a request asked for.
#[derive(Debug, Default, Clone, Copy)]
pub struct Includes {
    pub variants: bool,
    pub images: bool,
    pub custom_fields: bool,
    pub bulk_pricing_rules: bool,
    pub primary_image: bool,
    pub options: bool,
    pub modifiers: bool,
    pub videos: bool,
    pub reviews: bool,
    pub parent_relations: bool,
}

impl Includes {
    pub fn parse(q: &Query) -> Self {
        let mut inc = Self::default();
        for name in q.includes() {
            match name.as_str() {
                "variants" => inc.variants = true,
                "images" => inc.images = true,
                "custom_fields" => inc.custom_fields = true,
                "bulk_pricing_rules" => inc.bulk_pricing_rules = true,
                "primary_image" => inc.primary_image = true,
                "options" => inc.options = true,
                "modifiers" => inc.modifiers = true,
                "videos" => inc.videos = true,
                "reviews" => inc.reviews = true,
                "parent_relations" => inc.parent_relations = true,
                _ => {}
            }
        }
        inc
    }

    /// What a create answers with: the sub-resources a create can carry.
    fn created() -> Self {
        Self {
            variants: true,
            images: true,
            custom_fields: true,
            bulk_pricing_rules: true,
            ..Self::default()
        }
    }
}

/// A product as V3 renders it, projected and with the requested sub-resources.
pub fn render_product(
    cat: &CatalogData,
    p: &Product,
    inc: Includes,
    sel: &FieldSelection,
) -> Value {
    let mut m = sel.apply(p.render(), "id");
    if inc.variants {
        let list = p
            .variant_ids
            .iter()
            .filter_map(|id| cat.variants.get(id))
            .map(|v| Value::Object(v.render(p)));
        m.insert("variants".into(), Value::Array(list.collect()));
    }
    if inc.images {
        m.insert(
            "images".into(),
            Value::Array(p.images.iter().map(|i| i.render(p.id)).collect()),
        );
    }
    if inc.custom_fields {
        m.insert(
            "custom_fields".into(),
            Value::Array(p.custom_fields.iter().map(|c| c.render()).collect()),
        );
    }
    // Bulk pricing rules, modifiers, videos, reviews and parent relations are not stored
    // by the sandbox; they render as empty lists so that includes still parse.
    for (wanted, key) in [
        (inc.bulk_pricing_rules, "bulk_pricing_rules"),
        (inc.modifiers, "modifiers"),
        (inc.videos, "videos"),
        (inc.reviews, "reviews"),
        (inc.parent_relations, "parent_relations"),
    ] {
        if wanted {
            m.insert(key.into(), Value::Array(Vec::new()));
        }
    }
    if inc.options {
        m.insert("options".into(), p.render_options());
    }
    if inc.primary_image
        && let Some(img) = p.primary_image()
    {
        m.insert("primary_image".into(), img.render(p.id));
    }
    Value::Object(m)
}

/// Every list filter of GET (and DELETE) `/products` (docs/api-notes.md §3.2).
#[derive(Debug, Default, Clone)]
struct ProductFilter {
    id: IntFilter,
    sku: TextFilter,
    name: TextFilter,
    kind: Option<String>,
    brand_id: IntFilter,
    categories: Option<Vec<i64>>,
    is_visible: Option<bool>,
    is_featured: Option<bool>,
    is_free_shipping: Option<bool>,
    condition: Option<String>,
    availability: Option<String>,
    price: NumFilter,
    weight: NumFilter,
    inventory_level: IntFilter,
    total_sold: IntFilter,
    date_modified: DateFilter,
    keyword: Option<String>,
    upc: TextFilter,
    mpn: TextFilter,
    out_of_stock: Option<bool>,
    inventory_low: Option<bool>,
    /// `channel_id:in`: products assigned to any of these channels (docs/api-notes.md §10.1).
    channels: Option<Vec<i64>>,
}

impl ProductFilter {
    fn parse(q: &Query, now: DateTime<Utc>) -> Result<Self, ApiError> {
        let categories = match (q.int_list("categories:in")?, q.int_list("categories")?) {
            (Some(mut a), Some(b)) => {
                a.extend(b);
                Some(a)
            }
            (a, b) => a.or(b),
        };
        Ok(Self {
            id: IntFilter::parse(q, "id")?,
            sku: TextFilter::parse(q, "sku"),
            name: TextFilter::parse(q, "name"),
            kind: q
                .get("type")
                .filter(|s| !s.is_empty())
                .map(str::to_lowercase),
            brand_id: IntFilter::parse(q, "brand_id")?,
            categories,
            is_visible: q.bool("is_visible")?,
            is_featured: q.bool("is_featured")?,
            is_free_shipping: q.bool("is_free_shipping")?,
            // Lowercase in the filter, capitalised in bodies (docs/api-notes.md §3.3).
            condition: q
                .get("condition")
                .filter(|s| !s.is_empty())
                .map(str::to_lowercase),
            availability: q
                .get("availability")
                .filter(|s| !s.is_empty())
                .map(str::to_lowercase),
            price: NumFilter::parse(q, "price")?,
            weight: NumFilter::parse(q, "weight")?,
            inventory_level: IntFilter::parse(q, "inventory_level")?,
            total_sold: IntFilter::parse(q, "total_sold")?,
            date_modified: DateFilter::parse(q, "date_modified", now, true)?,
            keyword: q
                .get("keyword")
                .filter(|s| !s.is_empty())
                .map(str::to_lowercase),
            upc: TextFilter::parse(q, "upc"),
            mpn: TextFilter::parse(q, "mpn"),
            out_of_stock: q.bool("out_of_stock")?,
            inventory_low: q.bool("inventory_low")?,
            channels: q.int_list("channel_id:in")?,
        })
    }

    /// Whether any filter was given (DELETE refuses to run without one).
    fn is_set(&self) -> bool {
        self.id.is_set()
            || self.sku.is_set()
            || self.name.is_set()
            || self.kind.is_some()
            || self.brand_id.is_set()
            || self.categories.is_some()
            || self.is_visible.is_some()
            || self.is_featured.is_some()
            || self.is_free_shipping.is_some()
            || self.condition.is_some()
            || self.availability.is_some()
            || self.price.is_set()
            || self.weight.is_set()
            || self.inventory_level.is_set()
            || self.total_sold.is_set()
            || self.date_modified.is_set()
            || self.keyword.is_some()
            || self.upc.is_set()
            || self.mpn.is_set()
            || self.out_of_stock.is_some()
            || self.inventory_low.is_some()
            || self.channels.is_some()
    }

    /// Whether the id range alone decides the result (the common unfiltered page), so
    /// that records need no per-field test.
    fn only_id_range(&self) -> bool {
        let id = IntFilter {
            min: None,
            max: None,
            greater: None,
            less: None,
            eq: None,
            ..self.id.clone()
        };
        !id.is_set()
            && !ProductFilter {
                id: IntFilter::default(),
                ..self.clone()
            }
            .is_set()
    }

    fn matches(&self, p: &Product) -> bool {
        self.id.matches(p.id)
            && self.sku.matches(&p.sku)
            && self.name.matches(&p.name)
            && self.kind.as_deref().is_none_or(|k| k == p.kind)
            && self.brand_id.matches(p.brand_id)
            && self
                .categories
                .as_ref()
                .is_none_or(|c| p.categories.iter().any(|pc| c.contains(pc)))
            && self.is_visible.is_none_or(|b| b == p.is_visible)
            && self.is_featured.is_none_or(|b| b == p.is_featured)
            && self
                .is_free_shipping
                .is_none_or(|b| b == p.is_free_shipping)
            && self
                .condition
                .as_deref()
                .is_none_or(|c| p.condition.eq_ignore_ascii_case(c))
            && self
                .availability
                .as_deref()
                .is_none_or(|a| a == p.availability)
            && self.price.matches(p.price)
            && self.weight.matches(p.weight)
            && self.inventory_level.matches(p.inventory_level)
            && self.total_sold.matches(p.total_sold)
            && self.date_modified.matches(p.date_modified)
            && self.keyword.as_deref().is_none_or(|k| {
                p.name.to_lowercase().contains(k)
                    || p.sku.to_lowercase().contains(k)
                    || p.description.to_lowercase().contains(k)
            })
            && (!self.upc.is_set() || self.upc.matches(&p.extra().upc))
            && (!self.mpn.is_set() || self.mpn.matches(&p.extra().mpn))
            && self
                .out_of_stock
                .is_none_or(|b| b == (p.inventory_tracking != "none" && p.inventory_level <= 0))
            && self.inventory_low.is_none_or(|b| {
                b == (p.inventory_tracking != "none"
                    && p.inventory_level <= p.inventory_warning_level)
            })
            && self
                .channels
                .as_ref()
                .is_none_or(|cs| p.channels.iter().any(|c| cs.contains(c)))
    }

    /// Matching products in id order, walking only the id range the filters allow (or
    /// just the listed ids), so id-keyed paging stays cheap on large stores.
    fn select<'a>(&self, cat: &'a CatalogData) -> Vec<&'a Product> {
        if let Some(ids) = &self.id.any_of {
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            return ids
                .iter()
                .filter_map(|id| cat.products.get(id))
                .filter(|p| self.matches(p))
                .collect();
        }
        let (lo, hi) = self.id.range();
        if lo > hi {
            return Vec::new();
        }
        let range = cat.products.range(lo..=hi).map(|(_, p)| p);
        if self.only_id_range() {
            return range.collect();
        }
        range.filter(|p| self.matches(p)).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Id,
    Name,
    Sku,
    Price,
    DateModified,
    DateLastImported,
    InventoryLevel,
    IsVisible,
    TotalSold,
    CalculatedPrice,
}

impl SortKey {
    fn parse(q: &Query) -> Result<Self, ApiError> {
        Ok(match q.get("sort").unwrap_or("") {
            "" | "id" => Self::Id,
            "name" => Self::Name,
            "sku" => Self::Sku,
            "price" => Self::Price,
            "date_modified" => Self::DateModified,
            "date_last_imported" => Self::DateLastImported,
            "inventory_level" => Self::InventoryLevel,
            "is_visible" => Self::IsVisible,
            "total_sold" => Self::TotalSold,
            "calculated_price" => Self::CalculatedPrice,
            other => {
                return Err(ApiError::unprocessable(V3, format!("The sort {other:?} is not supported.")).with_error(
                    "sort",
                    "must be one of id, name, sku, price, date_modified, date_last_imported, inventory_level, \
                     is_visible, total_sold, calculated_price",
                ));
            }
        })
    }

    fn cmp(self, a: &Product, b: &Product) -> std::cmp::Ordering {
        match self {
            // No product has an import date here, so that order is the id order.
            Self::Id | Self::DateLastImported => std::cmp::Ordering::Equal,
            Self::Name => cmp_ci(&a.name, &b.name),
            Self::Sku => cmp_ci(&a.sku, &b.sku),
            Self::Price => a.price.total_cmp(&b.price),
            Self::DateModified => a.date_modified.cmp(&b.date_modified),
            Self::InventoryLevel => a.inventory_level.cmp(&b.inventory_level),
            Self::IsVisible => a.is_visible.cmp(&b.is_visible),
            Self::TotalSold => a.total_sold.cmp(&b.total_sold),
            Self::CalculatedPrice => a.calculated_price().total_cmp(&b.calculated_price()),
        }
    }
}

/// Case-insensitive (ASCII) order without allocating.
pub fn cmp_ci(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// Sorts matches by `key` in `direction`; ties go by id in the same direction, so that
/// paging through equal keys (many products share a `date_modified` second) is stable.
fn sort_products(items: &mut [&Product], key: SortKey, desc: bool) {
    if key == SortKey::Id || key == SortKey::DateLastImported {
        if desc {
            items.reverse();
        }
        return;
    }
    // Text keys are lowered once per record rather than once per comparison.
    let text_key: Option<fn(&Product) -> &str> = match key {
        SortKey::Name => Some(|p| p.name.as_str()),
        SortKey::Sku => Some(|p| p.sku.as_str()),
        _ => None,
    };
    if let Some(text) = text_key {
        items.sort_by_cached_key(|p| (text(p).to_ascii_lowercase(), p.id));
        if desc {
            items.reverse();
        }
        return;
    }
    items.sort_by(|a, b| {
        let ord = key.cmp(a, b).then(a.id.cmp(&b.id));
        if desc { ord.reverse() } else { ord }
    });
}

async fn list(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let inc = Includes::parse(&q);
    let (page, mut limit) = q.page_limit(MAX_LIMIT)?;
    if inc.options || inc.modifiers {
        limit = limit.min(OPTIONS_PAGE);
    }
    let filter = ProductFilter::parse(&q, dates::now())?;
    let key = SortKey::parse(&q)?;
    let desc = descending(&q)?;
    let sel = FieldSelection::parse(&q);
    let data = st.data.read();
    let cat = &data.catalog;
    let mut items = filter.select(cat);
    sort_products(&mut items, key, desc);
    Ok(v3_offset(&items, page, limit, &q, |p| {
        render_product(cat, p, inc, &sel)
    }))
}

/// `GET /catalog/products/channel-assignments` (docs/api-notes.md §10.1): one
/// `{product_id, channel_id}` per assignment, by product then channel, filtered by
/// `product_id:in` and `channel_id:in`, offset pages of at most 250.
async fn list_channel_assignments(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let products = q.int_list("product_id:in")?;
    let channels = q.int_list("channel_id:in")?;
    let data = st.data.read();
    let rows: Vec<(i64, i64)> = data
        .catalog
        .products
        .values()
        .filter(|p| products.as_ref().is_none_or(|ids| ids.contains(&p.id)))
        .flat_map(|p| p.channels.iter().map(move |c| (p.id, *c)))
        .filter(|(_, c)| channels.as_ref().is_none_or(|cs| cs.contains(c)))
        .collect();
    Ok(v3_offset(
        &rows,
        page,
        limit,
        &q,
        |(p, c)| serde_json::json!({"product_id": p, "channel_id": c}),
    ))
}

async fn get_one(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let id = path_id(&id)?;
    let q = Query::parse(raw.as_deref(), V3);
    let inc = Includes::parse(&q);
    let sel = FieldSelection::parse(&q);
    let data = st.data.read();
    let cat = &data.catalog;
    let p = cat.products.get(&id).ok_or_else(|| product_not_found(id))?;
    Ok(v3_single(render_product(cat, p, inc, &sel)))
}

pub fn product_not_found(id: i64) -> ApiError {
    ApiError::new(
        V3,
        StatusCode::NOT_FOUND,
        format!("Product {id} was not found."),
    )
    .with_errors(Map::new())
}

/// 422 with the collected per-field (or per-index) errors (docs/api-notes.md §3.3).
pub fn invalid(errors: Map<String, Value>) -> ApiError {
    ApiError::unprocessable(V3, "JSON data is missing or invalid").with_errors(errors)
}

/// 409 with the collected clashes; the first one becomes the title.
pub fn conflict(errors: Map<String, Value>) -> ApiError {
    let title = errors
        .values()
        .next()
        .and_then(Value::as_str)
        .unwrap_or("The request conflicts with existing data");
    ApiError::conflict(V3, title.to_owned()).with_errors(errors)
}

fn put_error(errors: &mut Map<String, Value>, key: String, msg: impl Into<String>) {
    errors.insert(key, Value::String(msg.into()));
}

/// Applies the writable product fields present in `input` onto `p` (docs/api-notes.md §3.3 bounds
/// and enums). Read-only fields (`id`, dates, `calculated_price`, `base_variant_id`) and
/// unknown fields are ignored, as the API ignores them.
fn apply_fields(input: &mut Input, p: &mut Product) {
    input.text("name", 1, 250, &mut p.name);
    input.choice("type", PRODUCT_TYPES, &mut p.kind);
    input.text("sku", 0, 255, &mut p.sku);
    input.text("description", 0, 16_777_215, &mut p.description);
    input.number("weight", 0.0, MAX_DIMENSION, &mut p.weight);
    input.number("width", 0.0, MAX_DIMENSION, &mut p.width);
    input.number("depth", 0.0, MAX_DIMENSION, &mut p.depth);
    input.number("height", 0.0, MAX_DIMENSION, &mut p.height);
    input.number("price", 0.0, MAX_MONEY, &mut p.price);
    input.number("cost_price", 0.0, MAX_MONEY, &mut p.cost_price);
    input.number("retail_price", 0.0, MAX_MONEY, &mut p.retail_price);
    input.number("sale_price", 0.0, MAX_MONEY, &mut p.sale_price);
    input.number("map_price", 0.0, MAX_MONEY, &mut p.map_price);
    input.int("tax_class_id", 0, 255, &mut p.tax_class_id);
    input.ints("categories", &mut p.categories);
    input.int("brand_id", 0, MAX_INT32, &mut p.brand_id);
    input.int("inventory_level", 0, MAX_INT32, &mut p.inventory_level);
    input.int(
        "inventory_warning_level",
        0,
        MAX_INT32,
        &mut p.inventory_warning_level,
    );
    input.choice(
        "inventory_tracking",
        INVENTORY_TRACKING,
        &mut p.inventory_tracking,
    );
    input.int("total_sold", 0, MAX_INT32, &mut p.total_sold);
    input.number(
        "fixed_cost_shipping_price",
        0.0,
        MAX_MONEY,
        &mut p.fixed_cost_shipping_price,
    );
    input.flag("is_free_shipping", &mut p.is_free_shipping);
    input.flag("is_visible", &mut p.is_visible);
    input.flag("is_featured", &mut p.is_featured);
    input.choice("availability", AVAILABILITY, &mut p.availability);
    input.choice("condition", CONDITIONS, &mut p.condition);
    input.flag("is_condition_shown", &mut p.is_condition_shown);
    input.int("sort_order", -MAX_INT32 - 1, MAX_INT32, &mut p.sort_order);
    input.int(
        "order_quantity_minimum",
        0,
        MAX_INT32,
        &mut p.order_quantity_minimum,
    );
    input.int(
        "order_quantity_maximum",
        0,
        MAX_INT32,
        &mut p.order_quantity_maximum,
    );
    input.int("view_count", 0, MAX_INT32, &mut p.view_count);
    input.custom_url("custom_url", &mut p.custom_url, &mut p.url_customized);
    if EXTRA_KEYS.iter().any(|k| input.has(k)) {
        let x = p.extra.get_or_insert_with(Default::default);
        input.text("warranty", 0, 65_535, &mut x.warranty);
        input.text("layout_file", 0, 500, &mut x.layout_file);
        input.text("bin_picking_number", 0, 255, &mut x.bin_picking_number);
        input.text("upc", 0, 14, &mut x.upc);
        input.text("mpn", 0, 255, &mut x.mpn);
        input.text("gtin", 0, 14, &mut x.gtin);
        input.text("search_keywords", 0, 65_535, &mut x.search_keywords);
        input.text(
            "availability_description",
            0,
            255,
            &mut x.availability_description,
        );
        input.text("page_title", 0, 255, &mut x.page_title);
        input.texts("meta_keywords", &mut x.meta_keywords);
        input.text("meta_description", 0, 65_535, &mut x.meta_description);
        input.text("preorder_message", 0, 255, &mut x.preorder_message);
        input.flag("is_preorder_only", &mut x.is_preorder_only);
        input.flag("is_price_hidden", &mut x.is_price_hidden);
        input.text("price_hidden_label", 0, 200, &mut x.price_hidden_label);
        input.text("product_tax_code", 0, 255, &mut x.product_tax_code);
        input.ints("related_products", &mut x.related_products);
        input.choice(
            "gift_wrapping_options_type",
            GIFT_WRAPPING,
            &mut x.gift_wrapping_options_type,
        );
        input.ints(
            "gift_wrapping_options_list",
            &mut x.gift_wrapping_options_list,
        );
        input.choice("open_graph_type", OPEN_GRAPH_TYPES, &mut x.open_graph_type);
        input.text("open_graph_title", 0, 255, &mut x.open_graph_title);
        input.text(
            "open_graph_description",
            0,
            65_535,
            &mut x.open_graph_description,
        );
        input.flag(
            "open_graph_use_meta_description",
            &mut x.open_graph_use_meta_description,
        );
        input.flag(
            "open_graph_use_product_name",
            &mut x.open_graph_use_product_name,
        );
        input.flag("open_graph_use_image", &mut x.open_graph_use_image);
    }
}

/// `brand_name` (docs/api-notes.md §3.3): links an existing brand, or names one to create on
/// commit.
fn read_brand_name(input: &mut Input, cat: &CatalogData, p: &mut Product) -> Option<String> {
    let mut name = String::new();
    input.text("brand_name", 1, 255, &mut name);
    if name.is_empty() {
        return None;
    }
    match cat.brand_by_name(&name) {
        Some(id) => {
            p.brand_id = id;
            None
        }
        None => Some(name),
    }
}

/// Referential clashes the API answers with 409 (docs/api-notes.md §3.3): unknown categories or
/// brand.
fn check_references(
    cat: &CatalogData,
    p: &Product,
    prefix: &str,
    pending_brand: bool,
    out: &mut Map<String, Value>,
) {
    if let Some(bad) = p
        .categories
        .iter()
        .find(|c| !cat.categories.contains_key(c))
    {
        put_error(
            out,
            format!("{prefix}categories"),
            format!("Category {bad} does not exist"),
        );
    }
    if p.brand_id != 0 && !pending_brand && !cat.brands.contains_key(&p.brand_id) {
        put_error(
            out,
            format!("{prefix}brand_id"),
            format!("Brand {} does not exist", p.brand_id),
        );
    }
}

/// Creates the brand named by `brand_name` (if any) and points the product at it.
fn commit_brand(cat: &mut CatalogData, p: &mut Product, brand_name: Option<String>) {
    if let Some(name) = brand_name {
        let id = match cat.brand_by_name(&name) {
            Some(id) => id,
            None => {
                let id = next(&mut cat.ids.brand);
                cat.insert_brand(Brand::new(id, name));
                id
            }
        };
        p.brand_id = id;
    }
}

async fn create(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    if body.is_array() {
        return Err(invalid(Map::new()).with_error(
            "body",
            "POST /v3/catalog/products takes one product object per call; use PUT for batches of updates",
        ));
    }
    st.write(|tx| {
        let now = tx.now;
        let id = tx
            .data
            .catalog
            .transaction(|cat| create_product(cat, &body, now))?;
        tx.created(Record::Product(id));
        let cat = &tx.data.catalog;
        let p = cat.products.get(&id).ok_or_else(|| product_not_found(id))?;
        Ok(v3_single(render_product(
            cat,
            p,
            Includes::created(),
            &FieldSelection::default(),
        )))
    })
}

/// Validates and stores one new product with its inline sub-resources; all or nothing.
pub(super) fn create_product(
    cat: &mut CatalogData,
    body: &Value,
    now: DateTime<Utc>,
) -> Result<i64, ApiError> {
    let mut input = Input::new(body, "");
    input.require(&["name", "type", "weight", "price"]);
    let mut p = Product::new(0, now);
    apply_fields(&mut input, &mut p);
    let brand_name = read_brand_name(&mut input, cat, &mut p);
    let variant_items = input.array("variants");
    let image_items = input.array("images");
    let field_items = input.array("custom_fields");
    let mut errors = Map::new();
    input.drain_into(&mut errors);
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    p.id = next(&mut cat.ids.product);

    // Inline children: errors keyed `variants.0.sku`, `images.1.image_url`, ...
    for (i, item) in image_items.into_iter().flatten().enumerate() {
        let mut input = Input::new(item, &format!("images.{i}."));
        let image = images::read_new(&mut input, cat, p.id, now);
        input.drain_into(&mut errors);
        p.images.extend(image);
    }
    images::settle_thumbnail(&mut p.images, None);
    let mut conflicts = Map::new();
    for (i, item) in field_items.into_iter().flatten().enumerate() {
        let mut input = Input::new(item, &format!("custom_fields.{i}."));
        if let Some(field) = custom_fields::read_new(&mut input, cat) {
            if p.custom_fields
                .iter()
                .any(|f| f.name == field.name && f.value == field.value)
            {
                put_error(
                    &mut conflicts,
                    format!("custom_fields.{i}"),
                    "The name-value pair is a duplicate",
                );
            }
            p.custom_fields.push(field);
        }
        input.drain_into(&mut errors);
    }
    if p.custom_fields.len() > custom_fields::MAX_PER_PRODUCT {
        put_error(
            &mut errors,
            "custom_fields".into(),
            "A product can have at most 200 custom fields",
        );
    }
    let mut new_variants: Vec<Variant> = Vec::new();
    for (i, item) in variant_items.into_iter().flatten().enumerate() {
        let mut input = Input::new(item, &format!("variants.{i}."));
        if let Some(v) = variants::read_new(&mut input, cat, &mut p) {
            new_variants.push(v);
        }
        input.drain_into(&mut errors);
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }

    if cat.product_names.contains_key(&p.name.to_lowercase()) {
        put_error(
            &mut conflicts,
            "name".into(),
            format!("The product name {:?} is a duplicate", p.name),
        );
    }
    let mut claimed: HashSet<String> = HashSet::new();
    if !p.sku.is_empty() {
        claimed.insert(p.sku.to_lowercase());
        if cat.sku_holder(&p.sku).is_some() {
            put_error(
                &mut conflicts,
                "sku".into(),
                format!("The SKU {:?} is already in use", p.sku),
            );
        }
    }
    for (i, v) in new_variants.iter().enumerate() {
        if cat.sku_holder(&v.sku).is_some() || !claimed.insert(v.sku.to_lowercase()) {
            put_error(
                &mut conflicts,
                format!("variants.{i}.sku"),
                format!("The SKU {:?} is already in use", v.sku),
            );
        }
        if new_variants[..i]
            .iter()
            .any(|other| variants::same_combination(&other.option_values, &v.option_values))
        {
            put_error(
                &mut conflicts,
                format!("variants.{i}.option_values"),
                "Two variants have the same option values",
            );
        }
    }
    if p.url_customized && cat.product_urls.contains_key(&p.custom_url) {
        put_error(
            &mut conflicts,
            "custom_url".into(),
            format!("The URL {:?} is already in use", p.custom_url),
        );
    }
    check_references(cat, &p, "", brand_name.is_some(), &mut conflicts);
    if !conflicts.is_empty() {
        return Err(conflict(conflicts));
    }

    commit_brand(cat, &mut p, brand_name);
    let id = p.id;
    cat.insert_product(p);
    if new_variants.is_empty() {
        cat.add_base_variant(id);
    } else {
        // The base variant of a product created with options still used up an id.
        next(&mut cat.ids.variant);
        for mut v in new_variants {
            v.id = next(&mut cat.ids.variant);
            cat.insert_option_variant(v);
        }
    }
    Ok(id)
}

async fn update_one(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let id = path_id(&id)?;
    st.write(|tx| {
        let now = tx.now;
        if !tx.data.catalog.products.contains_key(&id) {
            return Err(product_not_found(id));
        }
        if !body.is_object() {
            return Err(invalid(Map::new()).with_error("body", "must be a JSON object"));
        }
        tx.updated(Record::Product(id));
        let cat = &mut tx.data.catalog;
        let ids = cat.transaction(|cat| update_products(cat, &[(id, &body)], false, now))?;
        let p = ids
            .first()
            .and_then(|id| cat.products.get(id))
            .ok_or_else(|| product_not_found(id))?;
        Ok(v3_single(render_product(
            cat,
            p,
            Includes::default(),
            &FieldSelection::default(),
        )))
    })
}

async fn update_batch(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let items = batch(V3, body, MAX_UPDATE_BATCH)?;
    st.write(|tx| {
        let now = tx.now;
        let cat = &tx.data.catalog;
        let mut errors = Map::new();
        let mut missing = Map::new();
        let mut seen = HashSet::new();
        let mut targets: Vec<(i64, &Value)> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.get("id").and_then(Value::as_i64) {
                None => put_error(
                    &mut errors,
                    format!("{i}.id"),
                    "id is required on every item of a batch update",
                ),
                Some(id) if !seen.insert(id) => {
                    put_error(&mut errors, format!("{i}.id"), "The same id appears twice")
                }
                Some(id) if !cat.products.contains_key(&id) => put_error(
                    &mut missing,
                    format!("{i}.id"),
                    format!("Product {id} was not found"),
                ),
                Some(id) => targets.push((id, item)),
            }
        }
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        if !missing.is_empty() {
            return Err(ApiError::new(
                V3,
                StatusCode::NOT_FOUND,
                "One or more products were not found.",
            )
            .with_errors(missing));
        }
        for (id, _) in &targets {
            tx.updated(Record::Product(*id));
        }
        let cat = &mut tx.data.catalog;
        let ids = cat.transaction(|cat| update_products(cat, &targets, true, now))?;
        let sel = FieldSelection::default();
        let out = ids
            .iter()
            .filter_map(|id| cat.products.get(id))
            .map(|p| render_product(cat, p, Includes::default(), &sel));
        Ok(v3_batch(StatusCode::OK, out.collect()))
    })
}

/// Applies each `(id, body)` onto a copy of its product, checks the whole request
/// (422 for bad fields, 409 for clashes), then commits all or nothing. `indexed` keys
/// errors by item index (`1.price`) as batch endpoints do.
pub(super) fn update_products(
    cat: &mut CatalogData,
    targets: &[(i64, &Value)],
    indexed: bool,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, ApiError> {
    let mut errors = Map::new();
    let mut edited: Vec<(Product, Option<String>)> = Vec::with_capacity(targets.len());
    for (i, (id, body)) in targets.iter().enumerate() {
        let prefix = if indexed {
            format!("{i}.")
        } else {
            String::new()
        };
        let Some(mut p) = cat.products.get(id).cloned() else {
            continue;
        };
        let mut input = Input::new(body, &prefix);
        apply_fields(&mut input, &mut p);
        let brand_name = read_brand_name(&mut input, cat, &mut p);
        input.drain_into(&mut errors);
        p.date_modified = now;
        edited.push((p, brand_name));
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }

    let in_request: HashSet<i64> = edited.iter().map(|(p, _)| p.id).collect();
    let mut conflicts = Map::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut skus: HashMap<String, usize> = HashMap::new();
    let mut urls: HashMap<String, usize> = HashMap::new();
    for (i, (p, brand_name)) in edited.iter().enumerate() {
        let prefix = if indexed {
            format!("{i}.")
        } else {
            String::new()
        };
        let name_key = p.name.to_lowercase();
        let name_holder = cat.product_names.get(&name_key).copied();
        let name_taken = name_holder.is_some_and(|h| h != p.id && !in_request.contains(&h));
        if name_taken || names.insert(name_key, i).is_some() {
            put_error(
                &mut conflicts,
                format!("{prefix}name"),
                format!("The product name {:?} is a duplicate", p.name),
            );
        }
        if !p.sku.is_empty() {
            let me = SkuOwner::Product(p.id);
            let in_req = |o: SkuOwner| matches!(o, SkuOwner::Product(q) if in_request.contains(&q));
            if !cat.sku_free_for(&p.sku, me, in_req)
                || skus.insert(p.sku.to_lowercase(), i).is_some()
            {
                put_error(
                    &mut conflicts,
                    format!("{prefix}sku"),
                    format!("The SKU {:?} is already in use", p.sku),
                );
            }
        }
        let url_holder = cat.product_urls.get(&p.custom_url).copied();
        if url_holder.is_some_and(|h| h != p.id && !in_request.contains(&h))
            || urls.insert(p.custom_url.clone(), i).is_some()
        {
            put_error(
                &mut conflicts,
                format!("{prefix}custom_url"),
                format!("The URL {:?} is already in use", p.custom_url),
            );
        }
        check_references(cat, p, &prefix, brand_name.is_some(), &mut conflicts);
    }
    if !conflicts.is_empty() {
        return Err(conflict(conflicts));
    }

    let mut products = Vec::with_capacity(edited.len());
    for (mut p, brand_name) in edited {
        commit_brand(cat, &mut p, brand_name);
        products.push(p);
    }
    let ids = products.iter().map(|p| p.id).collect();
    cat.replace_products(products);
    Ok(ids)
}

async fn delete_one(State(st): State<Shared>, Path((_, id)): Path<(String, String)>) -> ApiResult {
    let id = path_id(&id)?;
    st.write(|tx| {
        if !tx.data.catalog.products.contains_key(&id) {
            return Err(product_not_found(id));
        }
        tx.deleted(Record::Product(id));
        tx.data.catalog.remove_product(id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `DELETE /products?id:in=...` (docs/api-notes.md §3.1): a filter is required; at most 250 ids.
async fn delete_filtered(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let filter = ProductFilter::parse(&q, dates::now())?;
    if !filter.is_set() {
        return Err(ApiError::unprocessable(
            V3,
            "A filter is required to delete products, e.g. ?id:in=1,2,3; nothing was deleted.",
        )
        .with_error("id:in", "a filter such as id:in is required"));
    }
    if filter
        .id
        .any_of
        .as_ref()
        .is_some_and(|ids| ids.len() > MAX_DELETE_IDS)
    {
        return Err(ApiError::batch_too_large(V3, MAX_DELETE_IDS));
    }
    st.write(|tx| {
        let ids: Vec<i64> = filter
            .select(&tx.data.catalog)
            .iter()
            .map(|p| p.id)
            .collect();
        for id in ids {
            tx.deleted(Record::Product(id));
            tx.data.catalog.remove_product(id);
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
