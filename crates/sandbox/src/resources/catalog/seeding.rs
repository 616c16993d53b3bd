//! Deterministic catalog seeding from a [`SeedSpec`]: brands, a nested category tree
//! (tree 1, channel 1), and products with realistic unique names, SKUs, prices, option
//! variants, images and custom fields.
//!
//! Product ids follow creation time (creation dates are sorted before ids are handed
//! out), and about one product in six shares its `date_modified` second with the one
//! before it, so that connectors meet equal timestamps at page boundaries.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;

use super::model::{
    Brand, Category, CustomField, Image, OptionValue, Product, ProductOption, Tree, Variant, slug,
};
use super::{CatalogData, next};
use crate::seed::SeedSpec;

const BRANDS: &[&str] = &[
    "Northwind",
    "Alder & Oak",
    "Bluebird",
    "Cobalt Works",
    "Driftwood",
    "Evergreen Supply",
    "Foxglove",
    "Granite Peak",
    "Harbor Line",
    "Ironbark",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Meridian",
    "Nimbus",
    "Orchard House",
    "Pinecrest",
    "Quarry",
    "Redwood Goods",
    "Saltmarsh",
    "Tidewater",
    "Umber",
    "Vantage",
    "Willow & Co",
    "Yarrow",
];

const DEPARTMENTS: &[&str] = &[
    "Apparel",
    "Kitchen",
    "Home Decor",
    "Outdoor",
    "Garden",
    "Office",
    "Bath",
    "Travel",
    "Fitness",
    "Pets",
    "Toys",
    "Electronics",
    "Bedding",
    "Lighting",
    "Storage",
    "Tools",
];

const SUBCATEGORIES: &[&str] = &[
    "New Arrivals",
    "Best Sellers",
    "Essentials",
    "Accessories",
    "Sale",
    "Gifts",
    "Premium",
    "Basics",
    "Seasonal",
    "Limited Edition",
    "Kids",
    "Bundles",
    "Clearance",
    "Eco Friendly",
];

const ADJECTIVES: &[&str] = &[
    "Classic",
    "Modern",
    "Rustic",
    "Vintage",
    "Everyday",
    "Deluxe",
    "Compact",
    "Handmade",
    "Lightweight",
    "Heritage",
    "Urban",
    "Coastal",
    "Alpine",
    "Minimalist",
    "Signature",
    "Weekend",
    "Studio",
    "Nordic",
    "Artisan",
    "Essential",
    "Premium",
    "Soft",
    "Sturdy",
    "Organic",
    "Elegant",
];

const MATERIALS: &[&str] = &[
    "Cotton",
    "Linen",
    "Wool",
    "Leather",
    "Canvas",
    "Bamboo",
    "Ceramic",
    "Glass",
    "Oak",
    "Walnut",
    "Steel",
    "Copper",
    "Stoneware",
    "Cashmere",
    "Denim",
    "Silk",
    "Marble",
    "Rattan",
    "Felt",
    "Brass",
];

/// Product nouns with the SKU prefix their products use.
const NOUNS: &[(&str, &str)] = &[
    ("T-Shirt", "TSH"),
    ("Hoodie", "HOO"),
    ("Mug", "MUG"),
    ("Tote Bag", "TOT"),
    ("Backpack", "BPK"),
    ("Throw Blanket", "THB"),
    ("Candle", "CAN"),
    ("Lamp", "LMP"),
    ("Notebook", "NTB"),
    ("Water Bottle", "WBT"),
    ("Cutting Board", "CTB"),
    ("Planter", "PLN"),
    ("Scarf", "SCF"),
    ("Beanie", "BNI"),
    ("Wallet", "WAL"),
    ("Apron", "APR"),
    ("Serving Bowl", "SBW"),
    ("Desk Organizer", "DSO"),
    ("Pillow Cover", "PLC"),
    ("Wall Clock", "WCL"),
    ("Picture Frame", "PFR"),
    ("Teapot", "TEA"),
    ("Socks", "SCK"),
    ("Cap", "CAP"),
    ("Yoga Mat", "YGM"),
    ("Dog Collar", "DGC"),
    ("Bath Towel", "BTW"),
    ("Duffel Bag", "DUF"),
    ("Sunglasses", "SUN"),
    ("Phone Case", "PHC"),
    ("Jacket", "JKT"),
    ("Rug", "RUG"),
    ("Vase", "VAS"),
    ("Coaster Set", "CST"),
    ("Bookend", "BKE"),
    ("Lantern", "LNT"),
    ("Pen", "PEN"),
    ("Knife Set", "KNF"),
    ("Gloves", "GLV"),
    ("Belt", "BLT"),
];

const NAME_SERIES: &[&str] = &[
    "II", "Pro", "Plus", "Lite", "Max", "Mini", "XL", "Select", "Edition", "Original",
];

const SIZES: &[&str] = &["XS", "S", "M", "L", "XL", "XXL", "3XL", "4XL"];
const COLORS: &[&str] = &[
    "Black", "White", "Navy", "Red", "Olive", "Grey", "Sand", "Forest", "Rust", "Sky", "Plum",
    "Mustard",
];

const CUSTOM_FIELDS: &[(&str, &[&str])] = &[
    (
        "Material",
        &[
            "Cotton",
            "Recycled polyester",
            "Stoneware",
            "Solid oak",
            "Stainless steel",
        ],
    ),
    (
        "Country of origin",
        &["Portugal", "USA", "Japan", "India", "Vietnam", "Mexico"],
    ),
    (
        "Care",
        &[
            "Machine wash cold",
            "Hand wash only",
            "Dishwasher safe",
            "Wipe clean",
        ],
    ),
    ("Warranty", &["1 year", "2 years", "Lifetime"]),
    ("Fit", &["Regular", "Relaxed", "Slim"]),
    ("Season", &["All season", "Summer", "Winter"]),
];

pub fn seed(cat: &mut CatalogData, spec: &SeedSpec, rng: &mut SmallRng, now: DateTime<Utc>) {
    let tree_id = next(&mut cat.ids.tree);
    cat.trees.insert(
        tree_id,
        Tree {
            id: tree_id,
            name: "Default".to_owned(),
            channels: vec![1],
        },
    );
    seed_brands(cat, spec.brands);
    seed_categories(cat, spec.categories, tree_id, rng);
    seed_products(cat, spec, rng, now);
}

/// Spreads the products of a multi-storefront store over its two storefronts, from the
/// ids alone (no draw from the generator, so every other seeded record stays the same):
/// every third product is on both channels, every fifth of the rest on channel 2 only,
/// the others on channel 1 only.
pub fn assign_channels(cat: &mut CatalogData) {
    for p in cat.products.values_mut() {
        p.channels = match (p.id % 3, p.id % 5) {
            (0, _) => vec![1, 2],
            (_, 0) => vec![2],
            _ => vec![1],
        };
    }
}

fn seed_brands(cat: &mut CatalogData, count: usize) {
    for i in 0..count {
        let base = BRANDS[i % BRANDS.len()];
        let name = match i / BRANDS.len() {
            0 => base.to_owned(),
            round => format!("{base} {}", NAME_SERIES[(round - 1) % NAME_SERIES.len()]),
        };
        let name = if cat.brand_by_name(&name).is_some() {
            format!("{name} {i}")
        } else {
            name
        };
        let id = next(&mut cat.ids.brand);
        cat.insert_brand(Brand::new(id, name));
    }
}

/// A quarter of the categories (at least one) are top-level; the rest hang under an
/// earlier category at most three levels deep. Names are unique among siblings.
fn seed_categories(cat: &mut CatalogData, count: usize, tree_id: i64, rng: &mut SmallRng) {
    let top = count.div_ceil(4).max(1).min(count);
    let mut sibling_names: HashSet<(i64, String)> = HashSet::new();
    let mut placed: Vec<i64> = Vec::with_capacity(count);
    for i in 0..count {
        let parent_id = if i < top {
            0
        } else {
            let candidates: Vec<i64> = placed
                .iter()
                .copied()
                .filter(|id| cat.category_depth(*id) < 3)
                .collect();
            candidates.choose(rng).copied().unwrap_or(0)
        };
        let pool = if parent_id == 0 {
            DEPARTMENTS
        } else {
            SUBCATEGORIES
        };
        let start = rng.random_range(0..pool.len());
        let mut name = String::new();
        for k in 0..pool.len() {
            let candidate = pool[(start + k) % pool.len()];
            if !sibling_names.contains(&(parent_id, candidate.to_lowercase())) {
                name = candidate.to_owned();
                break;
            }
        }
        if name.is_empty() {
            name = format!("{} {}", pool[start], i + 1);
        }
        sibling_names.insert((parent_id, name.to_lowercase()));
        let id = next(&mut cat.ids.category);
        let mut c = Category::new(id, tree_id, parent_id, name);
        c.url = cat.category_url(parent_id, &c.name);
        c.sort_order = i as i64;
        c.description = format!("<p>Shop our {} range.</p>", c.name.to_lowercase());
        c.is_visible = rng.random_bool(0.95);
        cat.categories.insert(id, c);
        placed.push(id);
    }
}

fn money(rng: &mut SmallRng, lo: f64, hi: f64) -> f64 {
    let cents = rng.random_range((lo * 100.0) as i64..=(hi * 100.0) as i64);
    cents as f64 / 100.0
}

fn seed_products(cat: &mut CatalogData, spec: &SeedSpec, rng: &mut SmallRng, now: DateTime<Utc>) {
    let n = spec.products;
    let history_secs = spec.history_days.max(1) * 86_400;
    // Oldest first, so ids follow creation time.
    let mut ages: Vec<i64> = (0..n).map(|_| rng.random_range(0..=history_secs)).collect();
    ages.sort_unstable_by(|a, b| b.cmp(a));
    // Sized up front: rehashing 100k-entry indexes repeatedly dominates a large seed.
    let skus_per_product = 1 + spec.variants_per_product.max(1);
    cat.skus.reserve(n * skus_per_product);
    cat.product_names.reserve(n);
    cat.product_urls.reserve(n);
    let brand_ids: Vec<i64> = cat.brands.keys().copied().collect();
    let category_ids: Vec<i64> = cat.categories.keys().copied().collect();
    let mut previous_modified: Option<DateTime<Utc>> = None;
    let mut combos_used: HashMap<(usize, usize, usize), usize> = HashMap::new();
    let option_kinds = [
        OptionKind::new("Size", "rectangles", SIZES, spec.variants_per_product),
        OptionKind::new("Color", "swatch", COLORS, spec.variants_per_product),
    ];

    for age in ages {
        let id = next(&mut cat.ids.product);
        let created = now - Duration::seconds(age);
        let modified = match previous_modified {
            Some(prev) if prev >= created && rng.random_bool(0.17) => prev,
            _ if rng.random_bool(0.2) => created,
            _ => {
                created
                    + Duration::seconds(rng.random_range(0..=(now - created).num_seconds().max(0)))
            }
        };
        previous_modified = Some(modified);

        let noun_index = rng.random_range(0..NOUNS.len());
        let (noun, code) = NOUNS[noun_index];
        let material_index = rng.random_range(0..MATERIALS.len());
        let material = MATERIALS[material_index];
        let name = unique_name(
            cat,
            rng,
            &mut combos_used,
            (noun_index, noun),
            (material_index, material),
            id,
        );

        let mut p = Product::new(id, created);
        p.date_modified = modified;
        p.sku = format!("{code}-{id:05}");
        p.description = format!(
            "<p>The {name} is made from {} and built to last.</p>",
            material.to_lowercase()
        );
        p.name = name;
        p.price = money(rng, 4.0, 350.0);
        p.cost_price = (p.price * rng.random_range(0.35..0.7) * 100.0).round() / 100.0;
        if rng.random_bool(0.3) {
            p.retail_price = (p.price * 1.25 * 100.0).round() / 100.0;
        }
        if rng.random_bool(0.15) {
            p.sale_price = (p.price * 0.8 * 100.0).round() / 100.0;
        }
        p.weight = money(rng, 0.1, 15.0);
        p.width = rng.random_range(1..=40) as f64;
        p.depth = rng.random_range(1..=40) as f64;
        p.height = rng.random_range(1..=40) as f64;
        p.is_visible = rng.random_bool(0.92);
        p.is_featured = rng.random_bool(0.05);
        p.is_free_shipping = rng.random_bool(0.1);
        p.total_sold = rng.random_range(0..500);
        p.view_count = rng.random_range(0..5000);
        if rng.random_bool(0.03) {
            p.condition = if rng.random_bool(0.5) {
                "Used"
            } else {
                "Refurbished"
            };
        }
        if rng.random_bool(0.04) {
            p.kind = "digital";
            p.weight = 0.0;
        }
        if !brand_ids.is_empty() && rng.random_bool(0.85) {
            p.brand_id = brand_ids[rng.random_range(0..brand_ids.len())];
        }
        if !category_ids.is_empty() {
            let first = category_ids[rng.random_range(0..category_ids.len())];
            p.categories.push(first);
            if category_ids.len() > 1 && rng.random_bool(0.3) {
                let second = category_ids[rng.random_range(0..category_ids.len())];
                if second != first {
                    p.categories.push(second);
                }
            }
        }
        let slug_name = slug(&p.name);
        p.custom_url = cat.free_product_url_from_slug(&slug_name, id);
        for k in 0..spec.images_per_product {
            let image_id = next(&mut cat.ids.image);
            let letter = slug_name.chars().next().unwrap_or('p');
            p.images.push(Image {
                id: image_id,
                is_thumbnail: k == 0,
                sort_order: k as i64,
                description: String::new(),
                image_file: format!(
                    "{letter}/{:03}/{slug_name}__{image_id}.jpg",
                    image_id % 1000
                ),
                date_modified: created,
            });
        }
        for k in 0..spec.custom_fields_per_product {
            let (field, values) = CUSTOM_FIELDS[k % CUSTOM_FIELDS.len()];
            let name = match k / CUSTOM_FIELDS.len() {
                0 => field.to_owned(),
                round => format!("{field} {}", round + 1),
            };
            let value = values[rng.random_range(0..values.len())].to_owned();
            p.custom_fields.push(CustomField {
                id: next(&mut cat.ids.custom_field),
                name,
                value,
            });
        }

        let with_options = spec.variants_per_product >= 2;
        if with_options {
            p.inventory_tracking = "variant";
        } else {
            p.inventory_tracking = "product";
            p.inventory_level = rng.random_range(0..500);
        }
        cat.insert_product(p);
        if with_options {
            seed_variants(cat, id, &option_kinds, rng);
        } else {
            cat.add_base_variant(id);
        }
    }
}

/// A realistic name, unique by construction: the first product of a word combination
/// gets the plain name, later ones a series suffix ("II", "Pro", ...), then a model
/// number. No series word ends a noun, so suffixed names cannot meet plain ones.
fn unique_name(
    cat: &CatalogData,
    rng: &mut SmallRng,
    combos_used: &mut HashMap<(usize, usize, usize), usize>,
    noun: (usize, &str),
    material: (usize, &str),
    id: i64,
) -> String {
    let adjective = rng.random_range(0..ADJECTIVES.len());
    let used = combos_used
        .entry((adjective, material.0, noun.0))
        .or_insert(0);
    let base = format!("{} {} {}", ADJECTIVES[adjective], material.1, noun.1);
    let name = match *used {
        0 => base,
        n if n <= NAME_SERIES.len() => format!("{base} {}", NAME_SERIES[n - 1]),
        _ => format!("{base} No. {id}"),
    };
    *used += 1;
    // Products created before seeding finished cannot exist, but stay safe anyway.
    if cat.product_names.contains_key(&name.to_lowercase()) {
        format!("{name} No. {id}")
    } else {
        name
    }
}

/// The labels of one option kind with the SKU suffix each gives its variant, computed
/// once per seed rather than once per variant.
struct OptionKind {
    display_name: &'static str,
    kind: &'static str,
    /// `(label, SKU suffix)` for each of `variants_per_product` values.
    values: Vec<(String, String)>,
}

impl OptionKind {
    fn new(display_name: &'static str, kind: &'static str, labels: &[&str], count: usize) -> Self {
        let values = (0..count)
            .map(|k| {
                let label = match k / labels.len() {
                    0 => labels[k].to_owned(),
                    round => format!("{} {}", labels[k % labels.len()], round + 1),
                };
                let code = slug(&label).to_uppercase();
                (label, code)
            })
            .collect();
        Self {
            display_name,
            kind,
            values,
        }
    }
}

/// One "Size" or "Color" option with one variant per value.
fn seed_variants(
    cat: &mut CatalogData,
    product_id: i64,
    kinds: &[OptionKind; 2],
    rng: &mut SmallRng,
) {
    let option = &kinds[usize::from(rng.random_bool(0.5))];
    let option_id = next(&mut cat.ids.option);
    let values: Vec<OptionValue> = option
        .values
        .iter()
        .enumerate()
        .map(|(k, (label, _))| OptionValue {
            id: next(&mut cat.ids.option_value),
            label: label.clone(),
            sort_order: k as i64,
            is_default: false,
        })
        .collect();
    let value_ids: Vec<i64> = values.iter().map(|v| v.id).collect();
    let Some(p) = cat.products.get_mut(&product_id) else {
        return;
    };
    let product_sku = p.sku.clone();
    let product_price = p.price;
    p.options.push(ProductOption {
        id: option_id,
        display_name: option.display_name.to_owned(),
        kind: option.kind,
        sort_order: 0,
        values,
    });
    // The hidden base variant of a product with options still used up an id.
    next(&mut cat.ids.variant);
    for (k, ((_, code), value_id)) in option.values.iter().zip(value_ids).enumerate() {
        let v = Variant {
            id: next(&mut cat.ids.variant),
            product_id,
            sku: format!("{product_sku}-{code}"),
            option_values: vec![(value_id, option_id)],
            // Larger sizes cost a little more; everything else inherits the product price.
            price: (option.display_name == "Size" && k >= 4).then_some(product_price + 2.0),
            inventory_level: rng.random_range(0..200),
            ..Variant::default()
        };
        cat.insert_option_variant(v);
    }
}
