//! The V3 catalog (docs/api-notes.md §3, §4): products with their variants, images, custom fields
//! and options; categories (legacy API and category trees, one shared table); brands.
//!
//! Records live in id-keyed `BTreeMap`s, so lists walk in id order and id-range filters
//! walk only their range. Uniqueness rules (docs/api-notes.md §11.7) are kept by lowercase indexes:
//! product names, SKUs across products and variants, product URLs, brand names. Every
//! write goes through the methods here so that the indexes never drift from the tables.
//!
//! Submodules: [`model`] (records and their JSON), [`input`] (write-body validation),
//! [`filters`] (list filters), one module of handlers per endpoint family, and
//! [`seeding`].

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::Router;
use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;

use crate::seed::SeedSpec;
use crate::state::{Shared, StoreData};

mod brands;
mod categories;
mod custom_fields;
mod filters;
mod images;
pub(crate) mod input;
pub(crate) mod model;
mod products;
mod products_v2;
mod seeding;
mod trees;
mod variants;

use model::{Brand, Category, Product, Tree, Variant};

/// Who holds a SKU. A base variant's SKU is its product's, so it is held by the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SkuOwner {
    Product(i64),
    Variant(i64),
}

/// Per-table id counters: ids only grow, even after deletes.
#[derive(Debug, Default, Clone)]
pub(crate) struct Ids {
    pub product: i64,
    pub variant: i64,
    /// V2 SKU ids of option variants; their own sequence, so they differ from variant ids.
    pub sku: i64,
    pub image: i64,
    pub custom_field: i64,
    pub option: i64,
    pub option_value: i64,
    pub category: i64,
    pub tree: i64,
    pub brand: i64,
}

pub(crate) fn next(counter: &mut i64) -> i64 {
    *counter += 1;
    *counter
}

#[derive(Debug, Default)]
pub struct CatalogData {
    pub(crate) products: BTreeMap<i64, Product>,
    pub(crate) variants: BTreeMap<i64, Variant>,
    pub(crate) categories: BTreeMap<i64, Category>,
    pub(crate) trees: BTreeMap<i64, Tree>,
    pub(crate) brands: BTreeMap<i64, Brand>,
    pub(crate) ids: Ids,
    /// Lowercase product name → product id.
    pub(crate) product_names: HashMap<String, i64>,
    /// Lowercase SKU → holder; empty SKUs are not indexed.
    pub(crate) skus: HashMap<String, SkuOwner>,
    /// Product custom URL → product id.
    pub(crate) product_urls: HashMap<String, i64>,
    /// Lowercase brand name → brand id.
    pub(crate) brand_names: HashMap<String, i64>,
}

/// What other families (orders) need to know of a product.
#[derive(Debug, Clone)]
pub struct ProductRef {
    pub id: i64,
    pub name: String,
    pub sku: String,
    /// V3 price as a number.
    pub price: f64,
    /// Non-base variant ids (empty for a product without options).
    pub variant_ids: Vec<i64>,
}

impl CatalogData {
    pub fn counts(&self, m: &mut serde_json::Map<String, serde_json::Value>) {
        let images: usize = self.products.values().map(|p| p.images.len()).sum();
        let fields: usize = self.products.values().map(|p| p.custom_fields.len()).sum();
        m.insert("products".into(), self.products.len().into());
        m.insert("variants".into(), self.variants.len().into());
        m.insert("product_images".into(), images.into());
        m.insert("product_custom_fields".into(), fields.into());
        m.insert("categories".into(), self.categories.len().into());
        m.insert("category_trees".into(), self.trees.len().into());
        m.insert("brands".into(), self.brands.len().into());
    }

    /// Every product, in id order, for order lines.
    pub fn product_refs(&self) -> Vec<ProductRef> {
        self.products
            .values()
            .map(|p| ProductRef {
                id: p.id,
                name: p.name.clone(),
                sku: p.sku.clone(),
                price: p.price,
                variant_ids: if p.base_variant_id.is_some() {
                    Vec::new()
                } else {
                    p.variant_ids.clone()
                },
            })
            .collect()
    }

    /// Who holds `sku` (case-insensitive), if anyone.
    pub(crate) fn sku_holder(&self, sku: &str) -> Option<SkuOwner> {
        if sku.is_empty() {
            None
        } else {
            self.skus.get(&sku.to_lowercase()).copied()
        }
    }

    /// Whether `me` may hold `sku`: nobody holds it, `me` does, or its holder is part of
    /// the same request (`in_request`) and moves off it. Duplicates inside one request
    /// are the caller's to find.
    pub(crate) fn sku_free_for(
        &self,
        sku: &str,
        me: SkuOwner,
        in_request: impl Fn(SkuOwner) -> bool,
    ) -> bool {
        match self.sku_holder(sku) {
            None => true,
            Some(holder) => holder == me || in_request(holder),
        }
    }

    /// Runs a write that allocates ids as it validates; when it fails, the counters are
    /// put back so that a rejected request leaves no gap in the id sequences.
    pub(crate) fn transaction<T>(
        &mut self,
        write: impl FnOnce(&mut Self) -> Result<T, crate::error::ApiError>,
    ) -> Result<T, crate::error::ApiError> {
        let saved = self.ids.clone();
        let out = write(self);
        if out.is_err() {
            self.ids = saved;
        }
        out
    }

    /// Stores a new product and indexes its name, SKU and URL. The caller has checked
    /// uniqueness; the URL is made unique here when it was generated from the name.
    pub(crate) fn insert_product(&mut self, mut p: Product) {
        if p.custom_url.is_empty() {
            p.custom_url = self.free_product_url(&p.name, p.id);
        }
        self.product_names.insert(p.name.to_lowercase(), p.id);
        if !p.sku.is_empty() {
            self.skus
                .insert(p.sku.to_lowercase(), SkuOwner::Product(p.id));
        }
        self.product_urls.insert(p.custom_url.clone(), p.id);
        self.products.insert(p.id, p);
    }

    /// `/{slug}/`, or `/{slug}-{n}/` when another product already has it (BigCommerce
    /// numbers duplicates the same way).
    pub(crate) fn free_product_url(&self, name: &str, id: i64) -> String {
        self.free_product_url_from_slug(&model::slug(name), id)
    }

    /// [`Self::free_product_url`] for an already computed slug.
    pub(crate) fn free_product_url_from_slug(&self, slug: &str, id: i64) -> String {
        let base = if slug.is_empty() {
            format!("product-{id}")
        } else {
            slug.to_owned()
        };
        let mut url = format!("/{base}/");
        let mut n = 1;
        while self
            .product_urls
            .get(&url)
            .is_some_and(|owner| *owner != id)
        {
            url = format!("/{base}-{n}/");
            n += 1;
        }
        url
    }

    /// Replaces products with their edited copies, moving their index entries. All old
    /// entries go first, so a batch may swap names or SKUs between its own products.
    pub(crate) fn replace_products(&mut self, edited: Vec<Product>) {
        for p in &edited {
            if let Some(old) = self.products.get(&p.id) {
                let (name, sku, url) = (
                    old.name.to_lowercase(),
                    old.sku.to_lowercase(),
                    old.custom_url.clone(),
                );
                self.unindex_product(p.id, &name, &sku, &url);
            }
        }
        for p in edited {
            self.product_names.insert(p.name.to_lowercase(), p.id);
            if !p.sku.is_empty() {
                self.skus
                    .insert(p.sku.to_lowercase(), SkuOwner::Product(p.id));
            }
            self.product_urls.insert(p.custom_url.clone(), p.id);
            // A simple product's base variant carries the product SKU.
            if let Some(base) = p.base_variant_id.and_then(|id| self.variants.get_mut(&id)) {
                base.sku.clone_from(&p.sku);
            }
            self.products.insert(p.id, p);
        }
    }

    /// Drops index entries that still point at product `id` (lowercase keys).
    fn unindex_product(&mut self, id: i64, name: &str, sku: &str, url: &str) {
        if self.product_names.get(name) == Some(&id) {
            self.product_names.remove(name);
        }
        if self.skus.get(sku) == Some(&SkuOwner::Product(id)) {
            self.skus.remove(sku);
        }
        if self.product_urls.get(url) == Some(&id) {
            self.product_urls.remove(url);
        }
    }

    /// Deletes a product and everything hanging off it; `false` when absent.
    pub(crate) fn remove_product(&mut self, id: i64) -> bool {
        let Some(p) = self.products.remove(&id) else {
            return false;
        };
        self.unindex_product(
            id,
            &p.name.to_lowercase(),
            &p.sku.to_lowercase(),
            &p.custom_url,
        );
        for vid in &p.variant_ids {
            if let Some(v) = self.variants.remove(vid) {
                let key = v.sku.to_lowercase();
                if self.skus.get(&key) == Some(&SkuOwner::Variant(v.id)) {
                    self.skus.remove(&key);
                }
            }
        }
        true
    }

    /// Adds the base variant of a simple product (docs/api-notes.md §3.4: every product has one).
    pub(crate) fn add_base_variant(&mut self, product_id: i64) {
        let id = next(&mut self.ids.variant);
        let Some(p) = self.products.get_mut(&product_id) else {
            return;
        };
        let v = Variant {
            id,
            product_id,
            sku: p.sku.clone(),
            ..Variant::default()
        };
        p.base_variant_id = Some(id);
        p.variant_ids.push(id);
        self.variants.insert(id, v);
    }

    /// Stores an option variant and indexes its SKU. The first option variant replaces
    /// the product's base variant: a product with options has `base_variant_id: null`.
    pub(crate) fn insert_option_variant(&mut self, mut v: Variant) {
        let Some(p) = self.products.get_mut(&v.product_id) else {
            return;
        };
        if let Some(base) = p.base_variant_id.take() {
            p.variant_ids.retain(|id| *id != base);
            self.variants.remove(&base);
        }
        p.variant_ids.push(v.id);
        if v.sku_id.is_none() {
            v.sku_id = Some(next(&mut self.ids.sku));
        }
        if !v.sku.is_empty() {
            self.skus
                .insert(v.sku.to_lowercase(), SkuOwner::Variant(v.id));
        }
        self.variants.insert(v.id, v);
    }

    /// Replaces variants with their edited copies, moving their SKU entries (a base
    /// variant's SKU is its product's, so editing it edits the product's). All old entries
    /// go first, so a batch may swap SKUs between its own variants.
    pub(crate) fn replace_variants(&mut self, edited: Vec<Variant>) {
        for v in &edited {
            let Some(old) = self.variants.get(&v.id) else {
                continue;
            };
            let key = old.sku.to_lowercase();
            let owner = if old.is_base() {
                SkuOwner::Product(old.product_id)
            } else {
                SkuOwner::Variant(old.id)
            };
            if self.skus.get(&key) == Some(&owner) {
                self.skus.remove(&key);
            }
        }
        for v in edited {
            if v.is_base() {
                if let Some(p) = self.products.get_mut(&v.product_id) {
                    p.sku.clone_from(&v.sku);
                }
                if !v.sku.is_empty() {
                    self.skus
                        .insert(v.sku.to_lowercase(), SkuOwner::Product(v.product_id));
                }
            } else if !v.sku.is_empty() {
                self.skus
                    .insert(v.sku.to_lowercase(), SkuOwner::Variant(v.id));
            }
            self.variants.insert(v.id, v);
        }
    }

    /// Deletes an option variant. When it was the last one, the product gets a base
    /// variant back so that it still has one. Base variants cannot be deleted.
    pub(crate) fn remove_option_variant(&mut self, id: i64) {
        let Some(v) = self.variants.remove(&id) else {
            return;
        };
        let key = v.sku.to_lowercase();
        if self.skus.get(&key) == Some(&SkuOwner::Variant(id)) {
            self.skus.remove(&key);
        }
        let mut now_empty = false;
        if let Some(p) = self.products.get_mut(&v.product_id) {
            p.variant_ids.retain(|x| *x != id);
            now_empty = p.variant_ids.is_empty();
        }
        if now_empty {
            self.add_base_variant(v.product_id);
        }
    }

    pub(crate) fn insert_brand(&mut self, b: Brand) {
        self.brand_names.insert(b.name.to_lowercase(), b.id);
        self.brands.insert(b.id, b);
    }

    pub(crate) fn brand_by_name(&self, name: &str) -> Option<i64> {
        self.brand_names.get(&name.to_lowercase()).copied()
    }

    /// The tree of channel 1, which the legacy categories API shows (docs/api-notes.md §4.2).
    pub(crate) fn legacy_tree_id(&self) -> Option<i64> {
        self.trees
            .values()
            .find(|t| t.channels.contains(&1))
            .map(|t| t.id)
    }

    /// `ids` and every category below them.
    pub(crate) fn with_descendants(&self, ids: &[i64]) -> Vec<i64> {
        let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
        for c in self.categories.values() {
            children.entry(c.parent_id).or_default().push(c.id);
        }
        let mut seen: HashSet<i64> = HashSet::new();
        let mut out: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| self.categories.contains_key(id) && seen.insert(*id))
            .collect();
        let mut i = 0;
        while i < out.len() {
            if let Some(kids) = children.get(&out[i]) {
                for kid in kids {
                    if seen.insert(*kid) {
                        out.push(*kid);
                    }
                }
            }
            i += 1;
        }
        out.sort_unstable();
        out
    }

    /// 1 for a top-level category, 2 for its children, ...
    pub(crate) fn category_depth(&self, id: i64) -> usize {
        let mut depth = 0;
        let mut cur = id;
        while let Some(c) = self.categories.get(&cur) {
            depth += 1;
            if depth > 64 {
                break;
            }
            cur = c.parent_id;
        }
        depth
    }

    /// The URL path of a category: its ancestors' slugs, then its own.
    pub(crate) fn category_url(&self, parent_id: i64, name: &str) -> String {
        let mut parts = vec![model::slug(name)];
        let mut cur = parent_id;
        while let Some(c) = self.categories.get(&cur) {
            parts.push(model::slug(&c.name));
            cur = c.parent_id;
            if parts.len() > 64 {
                break;
            }
        }
        parts.reverse();
        format!("/{}/", parts.join("/"))
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .merge(products::routes())
        .merge(products_v2::routes())
        .merge(variants::routes())
        .merge(images::routes())
        .merge(custom_fields::routes())
        .merge(categories::routes())
        .merge(trees::routes())
        .merge(brands::routes())
}

pub fn seed(data: &mut StoreData, spec: &SeedSpec, rng: &mut SmallRng, now: DateTime<Utc>) {
    seeding::seed(&mut data.catalog, spec, rng, now);
    if data.channels.exists(2) {
        seeding::assign_channels(&mut data.catalog);
    }
}
