//! Typed catalog records (docs/api-notes.md §3.3, §3.4, §4) and their V3 JSON renderings.
//!
//! Records are plain structs, not JSON maps, so that a 100k-product store seeds fast and
//! stays small: fields a seeded store leaves at their defaults (SEO text, open-graph
//! settings, identifiers) live in a lazily boxed [`ProductExtra`].

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::dates::iso;

/// Builds a JSON object in field order from `"key": expr` pairs (a flat alternative to
/// `json!`, whose recursion limit a 70-field product would hit).
macro_rules! object {
    ($($k:literal : $v:expr),* $(,)?) => {{
        let mut m = serde_json::Map::new();
        $( m.insert($k.to_owned(), serde_json::json!($v)); )*
        m
    }};
}

/// `product` type (docs/api-notes.md §3.3).
pub const PRODUCT_TYPES: &[&str] = &["physical", "digital"];
pub const INVENTORY_TRACKING: &[&str] = &["none", "product", "variant"];
pub const AVAILABILITY: &[&str] = &["available", "disabled", "preorder"];
/// Capitalised in bodies, lowercase in the `condition` filter (docs/api-notes.md §3.3).
pub const CONDITIONS: &[&str] = &["New", "Used", "Refurbished"];
pub const GIFT_WRAPPING: &[&str] = &["any", "none", "list"];
pub const OPEN_GRAPH_TYPES: &[&str] = &[
    "product", "album", "book", "drink", "food", "game", "movie", "song", "tv_show",
];

/// Base of the image URLs we render (no real CDN behind it; the shape is BigCommerce's).
const IMAGE_CDN: &str = "https://cdn11.bigcommerce.com/s-sandbox";

#[derive(Debug, Clone)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub kind: &'static str,
    pub sku: String,
    pub description: String,
    pub weight: f64,
    pub width: f64,
    pub depth: f64,
    pub height: f64,
    pub price: f64,
    pub cost_price: f64,
    pub retail_price: f64,
    pub sale_price: f64,
    pub map_price: f64,
    pub tax_class_id: i64,
    pub categories: Vec<i64>,
    /// 0 means "no brand", as in BigCommerce.
    pub brand_id: i64,
    pub inventory_level: i64,
    pub inventory_warning_level: i64,
    pub inventory_tracking: &'static str,
    pub total_sold: i64,
    pub fixed_cost_shipping_price: f64,
    pub is_free_shipping: bool,
    pub is_visible: bool,
    pub is_featured: bool,
    pub availability: &'static str,
    pub condition: &'static str,
    pub is_condition_shown: bool,
    pub sort_order: i64,
    pub order_quantity_minimum: i64,
    pub order_quantity_maximum: i64,
    pub view_count: i64,
    pub reviews_rating_sum: i64,
    pub reviews_count: i64,
    pub date_created: DateTime<Utc>,
    pub date_modified: DateTime<Utc>,
    /// Set on simple products, `None` once the product has option variants
    /// (docs/api-notes.md §3.4).
    pub base_variant_id: Option<i64>,
    /// Every variant of the product (the base one, or the option variants), in id order.
    pub variant_ids: Vec<i64>,
    pub custom_url: String,
    pub url_customized: bool,
    pub images: Vec<Image>,
    pub custom_fields: Vec<CustomField>,
    pub options: Vec<ProductOption>,
    pub extra: Option<Box<ProductExtra>>,
    /// The channels the product is assigned to (`/catalog/products/channel-assignments`,
    /// docs/api-notes.md §10.1), in id order. The sandbox assigns a new product to channel 1.
    pub channels: Vec<i64>,
}

/// Rarely set product fields, boxed only once one of them is written.
#[derive(Debug, Clone)]
pub struct ProductExtra {
    pub warranty: String,
    pub layout_file: String,
    pub bin_picking_number: String,
    pub upc: String,
    pub mpn: String,
    pub gtin: String,
    pub search_keywords: String,
    pub availability_description: String,
    pub page_title: String,
    pub meta_keywords: Vec<String>,
    pub meta_description: String,
    pub preorder_message: String,
    pub is_preorder_only: bool,
    pub is_price_hidden: bool,
    pub price_hidden_label: String,
    pub product_tax_code: String,
    pub related_products: Vec<i64>,
    pub gift_wrapping_options_type: &'static str,
    pub gift_wrapping_options_list: Vec<i64>,
    pub open_graph_type: &'static str,
    pub open_graph_title: String,
    pub open_graph_description: String,
    pub open_graph_use_meta_description: bool,
    pub open_graph_use_product_name: bool,
    pub open_graph_use_image: bool,
}

impl Default for ProductExtra {
    fn default() -> Self {
        Self {
            warranty: String::new(),
            layout_file: "product.html".to_owned(),
            bin_picking_number: String::new(),
            upc: String::new(),
            mpn: String::new(),
            gtin: String::new(),
            search_keywords: String::new(),
            availability_description: String::new(),
            page_title: String::new(),
            meta_keywords: Vec::new(),
            meta_description: String::new(),
            preorder_message: String::new(),
            is_preorder_only: false,
            is_price_hidden: false,
            price_hidden_label: String::new(),
            product_tax_code: String::new(),
            // -1 is BigCommerce's "related products chosen automatically".
            related_products: vec![-1],
            gift_wrapping_options_type: "any",
            gift_wrapping_options_list: Vec::new(),
            open_graph_type: "product",
            open_graph_title: String::new(),
            open_graph_description: String::new(),
            open_graph_use_meta_description: true,
            open_graph_use_product_name: true,
            open_graph_use_image: true,
        }
    }
}

static DEFAULT_EXTRA: LazyLock<ProductExtra> = LazyLock::new(ProductExtra::default);

/// The keys held in [`ProductExtra`]; a write touching one of them boxes the extras.
pub const EXTRA_KEYS: &[&str] = &[
    "warranty",
    "layout_file",
    "bin_picking_number",
    "upc",
    "mpn",
    "gtin",
    "search_keywords",
    "availability_description",
    "page_title",
    "meta_keywords",
    "meta_description",
    "preorder_message",
    "is_preorder_only",
    "is_price_hidden",
    "price_hidden_label",
    "product_tax_code",
    "related_products",
    "gift_wrapping_options_type",
    "gift_wrapping_options_list",
    "open_graph_type",
    "open_graph_title",
    "open_graph_description",
    "open_graph_use_meta_description",
    "open_graph_use_product_name",
    "open_graph_use_image",
];

impl Product {
    /// A product with BigCommerce's defaults for everything not given on create.
    pub fn new(id: i64, now: DateTime<Utc>) -> Self {
        Self {
            id,
            name: String::new(),
            kind: "physical",
            sku: String::new(),
            description: String::new(),
            weight: 0.0,
            width: 0.0,
            depth: 0.0,
            height: 0.0,
            price: 0.0,
            cost_price: 0.0,
            retail_price: 0.0,
            sale_price: 0.0,
            map_price: 0.0,
            tax_class_id: 0,
            categories: Vec::new(),
            brand_id: 0,
            inventory_level: 0,
            inventory_warning_level: 0,
            inventory_tracking: "none",
            total_sold: 0,
            fixed_cost_shipping_price: 0.0,
            is_free_shipping: false,
            is_visible: true,
            is_featured: false,
            availability: "available",
            condition: "New",
            is_condition_shown: false,
            sort_order: 0,
            order_quantity_minimum: 0,
            order_quantity_maximum: 0,
            view_count: 0,
            reviews_rating_sum: 0,
            reviews_count: 0,
            date_created: now,
            date_modified: now,
            base_variant_id: None,
            variant_ids: Vec::new(),
            custom_url: String::new(),
            url_customized: false,
            images: Vec::new(),
            custom_fields: Vec::new(),
            options: Vec::new(),
            extra: None,
            channels: vec![crate::resources::channels::DEFAULT_CHANNEL_ID],
        }
    }

    pub fn extra(&self) -> &ProductExtra {
        self.extra.as_deref().unwrap_or(&DEFAULT_EXTRA)
    }

    /// The sale price when one is set, else the list price.
    pub fn calculated_price(&self) -> f64 {
        if self.sale_price > 0.0 {
            self.sale_price
        } else {
            self.price
        }
    }

    /// The image shown in listings: the thumbnail, else the first image.
    pub fn primary_image(&self) -> Option<&Image> {
        self.images
            .iter()
            .find(|i| i.is_thumbnail)
            .or_else(|| self.images.first())
    }

    /// The product's own fields as V3 renders them (no sub-resources).
    pub fn render(&self) -> Map<String, Value> {
        let x = self.extra();
        object! {
            "id": self.id,
            "name": self.name,
            "type": self.kind,
            "sku": self.sku,
            "description": self.description,
            "weight": self.weight,
            "width": self.width,
            "depth": self.depth,
            "height": self.height,
            "price": self.price,
            "cost_price": self.cost_price,
            "retail_price": self.retail_price,
            "sale_price": self.sale_price,
            "map_price": self.map_price,
            "tax_class_id": self.tax_class_id,
            "product_tax_code": x.product_tax_code,
            "calculated_price": self.calculated_price(),
            "categories": self.categories,
            "brand_id": self.brand_id,
            "option_set_id": Value::Null,
            "option_set_display": "right",
            "inventory_level": self.inventory_level,
            "inventory_warning_level": self.inventory_warning_level,
            "inventory_tracking": self.inventory_tracking,
            "reviews_rating_sum": self.reviews_rating_sum,
            "reviews_count": self.reviews_count,
            "total_sold": self.total_sold,
            "fixed_cost_shipping_price": self.fixed_cost_shipping_price,
            "is_free_shipping": self.is_free_shipping,
            "is_visible": self.is_visible,
            "is_featured": self.is_featured,
            "related_products": x.related_products,
            "warranty": x.warranty,
            "bin_picking_number": x.bin_picking_number,
            "layout_file": x.layout_file,
            "upc": x.upc,
            "mpn": x.mpn,
            "gtin": x.gtin,
            "date_last_imported": Value::Null,
            "search_keywords": x.search_keywords,
            "availability": self.availability,
            "availability_description": x.availability_description,
            "gift_wrapping_options_type": x.gift_wrapping_options_type,
            "gift_wrapping_options_list": x.gift_wrapping_options_list,
            "sort_order": self.sort_order,
            "condition": self.condition,
            "is_condition_shown": self.is_condition_shown,
            "order_quantity_minimum": self.order_quantity_minimum,
            "order_quantity_maximum": self.order_quantity_maximum,
            "page_title": x.page_title,
            "meta_keywords": x.meta_keywords,
            "meta_description": x.meta_description,
            "date_created": iso(self.date_created),
            "date_modified": iso(self.date_modified),
            "view_count": self.view_count,
            "preorder_release_date": Value::Null,
            "preorder_message": x.preorder_message,
            "is_preorder_only": x.is_preorder_only,
            "is_price_hidden": x.is_price_hidden,
            "price_hidden_label": x.price_hidden_label,
            "custom_url": json!({ "url": self.custom_url, "is_customized": self.url_customized }),
            "base_variant_id": self.base_variant_id,
            "open_graph_type": x.open_graph_type,
            "open_graph_title": x.open_graph_title,
            "open_graph_description": x.open_graph_description,
            "open_graph_use_meta_description": x.open_graph_use_meta_description,
            "open_graph_use_product_name": x.open_graph_use_product_name,
            "open_graph_use_image": x.open_graph_use_image,
        }
    }

    pub fn render_options(&self) -> Value {
        Value::Array(self.options.iter().map(|o| o.render(self.id)).collect())
    }
}

/// A variant option ("Size", "Color") and its values.
#[derive(Debug, Clone)]
pub struct ProductOption {
    pub id: i64,
    pub display_name: String,
    /// `rectangles`, `swatch`, `dropdown`, ...
    pub kind: &'static str,
    pub sort_order: i64,
    pub values: Vec<OptionValue>,
}

#[derive(Debug, Clone)]
pub struct OptionValue {
    pub id: i64,
    pub label: String,
    pub sort_order: i64,
    pub is_default: bool,
}

impl ProductOption {
    pub fn render(&self, product_id: i64) -> Value {
        let values: Vec<Value> = self
            .values
            .iter()
            .map(|v| {
                json!({
                    "id": v.id,
                    "label": v.label,
                    "sort_order": v.sort_order,
                    "value_data": Value::Null,
                    "is_default": v.is_default,
                })
            })
            .collect();
        json!({
            "id": self.id,
            "product_id": product_id,
            "display_name": self.display_name,
            "type": self.kind,
            "config": {},
            "sort_order": self.sort_order,
            "option_values": values,
        })
    }
}

/// One purchasable SKU of a product. Price and dimension fields are nullable: `None`
/// means the product's value applies (docs/api-notes.md §3.4).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Variant {
    pub id: i64,
    pub product_id: i64,
    pub sku: String,
    /// The V2 SKU id; `None` on a base variant ("base variants are not SKUs in V2").
    pub sku_id: Option<i64>,
    /// `(option value id, option id)` pairs; empty on a base variant.
    pub option_values: Vec<(i64, i64)>,
    pub price: Option<f64>,
    pub sale_price: Option<f64>,
    pub retail_price: Option<f64>,
    pub cost_price: Option<f64>,
    pub map_price: Option<f64>,
    pub weight: Option<f64>,
    pub width: Option<f64>,
    pub height: Option<f64>,
    pub depth: Option<f64>,
    pub fixed_cost_shipping_price: Option<f64>,
    pub is_free_shipping: bool,
    pub purchasing_disabled: bool,
    pub purchasing_disabled_message: String,
    pub inventory_level: i64,
    pub inventory_warning_level: i64,
    pub upc: String,
    pub gtin: String,
    pub mpn: String,
    pub bin_picking_number: String,
    pub image_url: String,
}

impl Variant {
    pub fn is_base(&self) -> bool {
        self.option_values.is_empty()
    }

    /// V3 rendering; `product` supplies inherited values and option labels.
    pub fn render(&self, product: &Product) -> Map<String, Value> {
        let option_values: Vec<Value> = self
            .option_values
            .iter()
            .map(|(value_id, option_id)| {
                let option = product.options.iter().find(|o| o.id == *option_id);
                let label = option
                    .and_then(|o| o.values.iter().find(|v| v.id == *value_id))
                    .map(|v| v.label.as_str())
                    .unwrap_or("");
                json!({
                    "id": value_id,
                    "label": label,
                    "option_id": option_id,
                    "option_display_name": option.map(|o| o.display_name.as_str()).unwrap_or(""),
                })
            })
            .collect();
        let price = self.price.unwrap_or(product.price);
        let calculated_price = match self.sale_price {
            Some(s) if s > 0.0 => s,
            Some(_) => price,
            None if self.price.is_none() => product.calculated_price(),
            None => price,
        };
        object! {
            "id": self.id,
            "product_id": self.product_id,
            "sku": self.sku,
            "sku_id": self.sku_id,
            "price": self.price,
            "calculated_price": calculated_price,
            "sale_price": self.sale_price,
            "retail_price": self.retail_price,
            "map_price": self.map_price,
            "weight": self.weight,
            "calculated_weight": self.weight.unwrap_or(product.weight),
            "width": self.width,
            "height": self.height,
            "depth": self.depth,
            "is_free_shipping": self.is_free_shipping,
            "fixed_cost_shipping_price": self.fixed_cost_shipping_price,
            "purchasing_disabled": self.purchasing_disabled,
            "purchasing_disabled_message": self.purchasing_disabled_message,
            "image_url": self.image_url,
            "cost_price": self.cost_price,
            "upc": self.upc,
            "mpn": self.mpn,
            "gtin": self.gtin,
            "inventory_level": self.inventory_level,
            "inventory_warning_level": self.inventory_warning_level,
            "bin_picking_number": self.bin_picking_number,
            "option_values": option_values,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Image {
    pub id: i64,
    pub is_thumbnail: bool,
    pub sort_order: i64,
    pub description: String,
    /// The stored file name, e.g. `j/123/blue-mug__42.jpg`; URLs are derived from it.
    pub image_file: String,
    pub date_modified: DateTime<Utc>,
}

impl Image {
    pub fn render(&self, product_id: i64) -> Value {
        let url = |size: &str| {
            format!(
                "{IMAGE_CDN}/images/stencil/{size}/products/{product_id}/{}/{}",
                self.id, self.image_file
            )
        };
        json!({
            "id": self.id,
            "product_id": product_id,
            "is_thumbnail": self.is_thumbnail,
            "sort_order": self.sort_order,
            "description": self.description,
            "image_file": self.image_file,
            "url_zoom": url("1280x1280"),
            "url_standard": url("500x659"),
            "url_thumbnail": url("500x659"),
            "url_tiny": url("500x659"),
            "date_modified": iso(self.date_modified),
        })
    }
}

#[derive(Debug, Clone)]
pub struct CustomField {
    pub id: i64,
    pub name: String,
    pub value: String,
}

impl CustomField {
    pub fn render(&self) -> Value {
        json!({ "id": self.id, "name": self.name, "value": self.value })
    }
}

/// One category, shared by the legacy API (channel 1's tree) and the trees API.
/// Categories carry no dates: neither API has a `date_modified` (docs/api-notes.md §4.2).
#[derive(Debug, Clone)]
pub struct Category {
    pub id: i64,
    pub tree_id: i64,
    /// 0 for a top-level category.
    pub parent_id: i64,
    pub name: String,
    pub description: String,
    pub views: i64,
    pub sort_order: i64,
    pub page_title: String,
    pub search_keywords: String,
    pub meta_keywords: Vec<String>,
    pub meta_description: String,
    pub layout_file: String,
    pub is_visible: bool,
    pub default_product_sort: &'static str,
    pub image_url: String,
    pub url: String,
    pub url_customized: bool,
    pub uuid: String,
}

pub const PRODUCT_SORTS: &[&str] = &[
    "use_store_settings",
    "featured",
    "newest",
    "best_selling",
    "alpha_asc",
    "alpha_desc",
    "avg_customer_review",
    "price_asc",
    "price_desc",
];

impl Category {
    pub fn new(id: i64, tree_id: i64, parent_id: i64, name: String) -> Self {
        Self {
            id,
            tree_id,
            parent_id,
            name,
            description: String::new(),
            views: 0,
            sort_order: 0,
            page_title: String::new(),
            search_keywords: String::new(),
            meta_keywords: Vec::new(),
            meta_description: String::new(),
            layout_file: "category.html".to_owned(),
            is_visible: true,
            default_product_sort: "use_store_settings",
            image_url: String::new(),
            url: String::new(),
            url_customized: false,
            uuid: category_uuid(id),
        }
    }

    /// The legacy `/v3/catalog/categories` shape.
    pub fn render_legacy(&self) -> Map<String, Value> {
        object! {
            "id": self.id,
            "parent_id": self.parent_id,
            "name": self.name,
            "description": self.description,
            "views": self.views,
            "sort_order": self.sort_order,
            "page_title": self.page_title,
            "search_keywords": self.search_keywords,
            "meta_keywords": self.meta_keywords,
            "meta_description": self.meta_description,
            "layout_file": self.layout_file,
            "is_visible": self.is_visible,
            "default_product_sort": self.default_product_sort,
            "image_url": self.image_url,
            "custom_url": json!({ "url": self.url, "is_customized": self.url_customized }),
        }
    }

    /// The `/v3/catalog/trees/categories` shape.
    pub fn render_tree(&self) -> Map<String, Value> {
        object! {
            "category_id": self.id,
            "category_uuid": self.uuid,
            "parent_id": self.parent_id,
            "tree_id": self.tree_id,
            "name": self.name,
            "description": self.description,
            "views": self.views,
            "sort_order": self.sort_order,
            "page_title": self.page_title,
            "search_keywords": self.search_keywords,
            "meta_keywords": self.meta_keywords,
            "meta_description": self.meta_description,
            "layout_file": self.layout_file,
            "is_visible": self.is_visible,
            "default_product_sort": self.default_product_sort,
            "url": json!({ "path": self.url, "is_customized": self.url_customized }),
            "image_url": self.image_url,
        }
    }
}

/// A stable UUID-shaped id derived from the category id (deterministic across seeds).
fn category_uuid(id: i64) -> String {
    format!("00000000-0000-4000-8000-{:012x}", id.max(0))
}

#[derive(Debug, Clone)]
pub struct Tree {
    pub id: i64,
    pub name: String,
    /// A tree belongs to at most one channel (docs/api-notes.md §4.1); kept as a list, as rendered.
    pub channels: Vec<i64>,
}

impl Tree {
    pub fn render(&self) -> Value {
        json!({ "id": self.id, "name": self.name, "channels": self.channels })
    }
}

/// Brands carry no dates: there is no `date_modified` filter or field (docs/api-notes.md §4.3).
#[derive(Debug, Clone)]
pub struct Brand {
    pub id: i64,
    pub name: String,
    pub page_title: String,
    pub meta_keywords: Vec<String>,
    pub meta_description: String,
    pub image_url: String,
    pub search_keywords: String,
    pub url: String,
    pub url_customized: bool,
}

impl Brand {
    pub fn new(id: i64, name: String) -> Self {
        let url = format!("/{}/", slug(&name));
        Self {
            id,
            name,
            page_title: String::new(),
            meta_keywords: Vec::new(),
            meta_description: String::new(),
            image_url: String::new(),
            search_keywords: String::new(),
            url,
            url_customized: false,
        }
    }

    pub fn render(&self) -> Map<String, Value> {
        object! {
            "id": self.id,
            "name": self.name,
            "page_title": self.page_title,
            "meta_keywords": self.meta_keywords,
            "meta_description": self.meta_description,
            "image_url": self.image_url,
            "search_keywords": self.search_keywords,
            "custom_url": json!({ "url": self.url, "is_customized": self.url_customized }),
        }
    }
}

/// A URL path segment from a name: lowercase ASCII letters and digits joined by `-`.
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_keeps_letters_and_digits() {
        assert_eq!(slug("Blue  Mug, 12 oz!"), "blue-mug-12-oz");
        assert_eq!(slug("--"), "");
    }

    #[test]
    fn variant_inherits_product_price() {
        let mut p = Product::new(1, crate::dates::now());
        p.price = 10.0;
        p.sale_price = 8.0;
        let v = Variant {
            id: 2,
            product_id: 1,
            ..Variant::default()
        };
        assert_eq!(v.render(&p)["calculated_price"], json!(8.0));
        let v = Variant {
            price: Some(12.0),
            ..v
        };
        assert_eq!(v.render(&p)["calculated_price"], json!(12.0));
    }
}
