//! The fields each pushed object accepts, as data: one table per object (customers,
//! products, orders) with nested objects and lists (`addresses.N.*`, `variants.N.*`,
//! `billing_address.*`, `products.N.*`), the JSON type each field is cast to, and whether
//! it can be written. Mapping targets are checked against these tables when a sync is
//! loaded, so a typo (`frist_name`) or a read-only field (`date_modified`) is an error
//! naming the closest known names before any row is read, instead of a value that goes
//! nowhere.
//!
//! The tables hold what our API notes list for creates and updates (customers V3, products
//! and variants V3, orders V2) plus the other documented writable fields of those objects
//! that the push engine sends as part of the record. Nested records the engine does not
//! write (images, consignments, fees...) are left out on purpose: mapping them would be
//! dropped or refused by the store. `attributes.NAME` (customers) and
//! `custom_fields.NAME` (products) are named values, not fields: they are checked in
//! [`super::config`].

use serde_json::{Map, Value};

use super::config::{Mode, Object};

/// The JSON type a field's value is cast to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Number,
    Bool,
    /// A list of ids: `"1,2,3"` becomes `[1, 2, 3]`.
    IntList,
    /// An object: its fields are mapped one by one (`billing_address.zip`).
    Object(&'static [Field]),
    /// A list of objects: its items are mapped by position (`addresses.0.city`).
    List(&'static [Field]),
}

/// Whether a field can be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Write,
    /// Set when the record is created, never changed: only `mode = "insert"` may map it.
    CreateOnly,
    /// Never written; the text says why (and what to map instead).
    ReadOnly(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub access: Access,
    /// A secret (a password): sent to the store, but never kept in the tracking store nor
    /// shown in plans, diffs or reports (shown as [`MASK`]). It still counts in the
    /// change hash, so a new value is sent.
    pub secret: bool,
    /// The most characters the API accepts for this text, where it documents a limit:
    /// checked before sending, so an over-long value rejects its row, not its batch.
    pub max_chars: Option<usize>,
}

/// How a secret field's value is shown.
pub const MASK: &str = "••••";

const fn w(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        access: Access::Write,
        secret: false,
        max_chars: None,
    }
}

/// A writable secret (see [`Field::secret`]).
const fn secret(name: &'static str, kind: Kind) -> Field {
    Field {
        secret: true,
        ..w(name, kind)
    }
}

/// Sent when the record is created, never on updates.
const fn create_only(name: &'static str, kind: Kind) -> Field {
    Field {
        access: Access::CreateOnly,
        ..w(name, kind)
    }
}

const fn ro(name: &'static str, why: &'static str) -> Field {
    Field {
        name,
        kind: Kind::Text,
        access: Access::ReadOnly(why),
        secret: false,
        max_chars: None,
    }
}

impl Field {
    /// The same field with the API's documented length limit.
    const fn at_most(self, chars: usize) -> Field {
        Field {
            max_chars: Some(chars),
            ..self
        }
    }
}

use Kind::{Bool, Int, IntList, Number, Text};

const SET_BY_STORE: &str = "is set by BigCommerce";

const CUSTOMER_ADDRESS: &[Field] = &[
    w("first_name", Text),
    w("last_name", Text),
    w("company", Text),
    w("address1", Text),
    w("address2", Text),
    w("city", Text),
    w("state_or_province", Text),
    w("postal_code", Text),
    w("country_code", Text),
    w("phone", Text),
    w("address_type", Text),
];

const CUSTOMER_AUTHENTICATION: &[Field] = &[
    w("force_password_reset", Bool),
    secret("new_password", Text),
];

const STORE_CREDIT: &[Field] = &[w("amount", Number)];

const CUSTOMERS: &[Field] = &[
    w("id", Int),
    w("email", Text),
    w("first_name", Text),
    w("last_name", Text),
    w("company", Text).at_most(255),
    w("phone", Text).at_most(50),
    w("notes", Text),
    w("tax_exempt_category", Text),
    w("customer_group_id", Int),
    w("accepts_product_review_abandoned_cart_emails", Bool),
    w("channel_ids", IntList),
    w("store_credit_amounts", Kind::List(STORE_CREDIT)),
    w("authentication", Kind::Object(CUSTOMER_AUTHENTICATION)),
    w("addresses", Kind::List(CUSTOMER_ADDRESS)),
    create_only("origin_channel_id", Int),
    create_only("registration_ip_address", Text),
    ro("date_created", SET_BY_STORE),
    ro("date_modified", SET_BY_STORE),
    ro(
        "address_count",
        "is counted by BigCommerce from the addresses",
    ),
    ro(
        "attribute_count",
        "is counted by BigCommerce from the attributes",
    ),
];

const OPTION_VALUE: &[Field] = &[
    w("id", Int),
    w("option_id", Int),
    w("label", Text),
    w("option_display_name", Text),
];

const VARIANTS: &[Field] = &[
    w("sku", Text).at_most(255),
    w("price", Number),
    w("sale_price", Number),
    w("retail_price", Number),
    w("cost_price", Number),
    w("map_price", Number),
    w("weight", Number),
    w("width", Number),
    w("height", Number),
    w("depth", Number),
    w("is_free_shipping", Bool),
    w("fixed_cost_shipping_price", Number),
    w("inventory_level", Int),
    w("inventory_warning_level", Int),
    w("purchasing_disabled", Bool),
    w("purchasing_disabled_message", Text),
    w("upc", Text),
    w("gtin", Text),
    w("mpn", Text),
    w("bin_picking_number", Text),
    w("image_url", Text),
    w("option_values", Kind::List(OPTION_VALUE)),
    ro(
        "id",
        "is set by BigCommerce; variants are matched by their sku",
    ),
    ro("product_id", "is the product the row creates or updates"),
    ro("sku_id", SET_BY_STORE),
    ro(
        "calculated_price",
        "is computed by BigCommerce from the prices",
    ),
    ro(
        "calculated_weight",
        "is computed by BigCommerce from the weights",
    ),
];

const CUSTOM_URL: &[Field] = &[w("url", Text), w("is_customized", Bool)];

const PRODUCTS: &[Field] = &[
    w("id", Int),
    w("name", Text),
    w("type", Text),
    w("sku", Text).at_most(255),
    w("description", Text),
    w("weight", Number),
    w("width", Number),
    w("depth", Number),
    w("height", Number),
    w("price", Number),
    w("cost_price", Number),
    w("retail_price", Number),
    w("sale_price", Number),
    w("map_price", Number),
    w("tax_class_id", Int),
    w("product_tax_code", Text),
    w("categories", IntList),
    w("brand_id", Int),
    w("brand_name", Text),
    w("inventory_level", Int),
    w("inventory_warning_level", Int),
    w("inventory_tracking", Text),
    w("fixed_cost_shipping_price", Number),
    w("is_free_shipping", Bool),
    w("is_visible", Bool),
    w("is_featured", Bool),
    w("related_products", IntList),
    w("warranty", Text),
    w("bin_picking_number", Text),
    w("layout_file", Text),
    w("upc", Text).at_most(14),
    w("mpn", Text),
    w("gtin", Text).at_most(14),
    w("search_keywords", Text).at_most(65_535),
    w("availability", Text),
    w("availability_description", Text),
    w("gift_wrapping_options_type", Text),
    w("gift_wrapping_options_list", IntList),
    w("sort_order", Int),
    w("condition", Text),
    w("is_condition_shown", Bool),
    w("order_quantity_minimum", Int),
    w("order_quantity_maximum", Int),
    w("page_title", Text).at_most(255),
    w("meta_description", Text),
    w("preorder_release_date", Text),
    w("preorder_message", Text),
    w("is_preorder_only", Bool),
    w("is_price_hidden", Bool),
    w("price_hidden_label", Text),
    w("open_graph_type", Text),
    w("open_graph_title", Text),
    w("open_graph_description", Text),
    w("open_graph_use_meta_description", Bool),
    w("open_graph_use_product_name", Bool),
    w("open_graph_use_image", Bool),
    w("custom_url", Kind::Object(CUSTOM_URL)),
    w("variants", Kind::List(VARIANTS)),
    ro("date_created", SET_BY_STORE),
    ro("date_modified", SET_BY_STORE),
    ro(
        "calculated_price",
        "is computed by BigCommerce from the prices",
    ),
    ro("base_variant_id", SET_BY_STORE),
];

/// The fields of an order address, with `extra` ones: the billing address has these, a
/// shipping address adds its shipping method. One list, so the two cannot drift apart.
macro_rules! order_address {
    ($($extra:expr),* $(,)?) => {
        &[
            w("first_name", Text),
            w("last_name", Text),
            w("company", Text),
            w("street_1", Text),
            w("street_2", Text),
            w("city", Text),
            w("state", Text),
            w("zip", Text),
            w("country", Text),
            w("country_iso2", Text),
            w("phone", Text),
            w("email", Text),
            $($extra),*
        ]
    };
}

const ORDER_ADDRESS: &[Field] = order_address!();

const ORDER_SHIPPING_ADDRESS: &[Field] = order_address!(w("shipping_method", Text));

const PRODUCT_OPTION: &[Field] = &[w("id", Int), w("value", Text)];

const ORDER_LINES: &[Field] = &[
    w("id", Int),
    w("product_id", Int),
    w("variant_id", Int),
    w("quantity", Int),
    w("name", Text),
    w("name_customer", Text),
    w("name_merchant", Text),
    w("sku", Text),
    w("upc", Text),
    w("price_inc_tax", Text),
    w("price_ex_tax", Text),
    w("product_options", Kind::List(PRODUCT_OPTION)),
];

// V2 money fields are strings with 4 decimals; writes take them as text (numbers too).
const ORDERS: &[Field] = &[
    w("id", Int),
    w("customer_id", Int),
    w("status_id", Int),
    w("channel_id", Int),
    w("external_order_id", Text),
    w("external_source", Text),
    w("date_created", Text),
    w("staff_notes", Text),
    w("customer_message", Text),
    w("payment_method", Text),
    w("payment_provider_id", Text),
    w("discount_amount", Text),
    w("subtotal_ex_tax", Text),
    w("subtotal_inc_tax", Text),
    w("total_ex_tax", Text),
    w("total_inc_tax", Text),
    w("shipping_cost_ex_tax", Text),
    w("shipping_cost_inc_tax", Text),
    w("handling_cost_ex_tax", Text),
    w("handling_cost_inc_tax", Text),
    w("wrapping_cost_ex_tax", Text),
    w("wrapping_cost_inc_tax", Text),
    w("store_credit_amount", Text),
    w("gift_certificate_amount", Text),
    w("default_currency_code", Text),
    w("ip_address", Text),
    w("geoip_country", Text),
    w("geoip_country_iso2", Text),
    w("billing_address", Kind::Object(ORDER_ADDRESS)),
    w("shipping_addresses", Kind::List(ORDER_SHIPPING_ADDRESS)),
    w("products", Kind::List(ORDER_LINES)),
    ro(
        "external_id",
        "is read-only; map the source's order reference to external_order_id",
    ),
    ro("order_source", SET_BY_STORE),
    ro(
        "coupon_discount",
        "cannot be written; map the discount to discount_amount",
    ),
    ro(
        "status",
        "is the status name; map the status number to status_id",
    ),
    ro("date_modified", SET_BY_STORE),
];

/// Whether a flattened payload path (`authentication.new_password`, list items by index)
/// is a secret field of any object. Payloads carry no object, and no secret's path is a
/// plain field of another object.
pub fn is_secret_path(path: &str) -> bool {
    [Object::Customers, Object::Products, Object::Orders]
        .into_iter()
        .any(|o| lookup(o, path).is_some_and(|f| f.secret))
}

/// `payload` without its secret fields: what may be kept in the tracking store.
pub fn without_secrets(payload: &Map<String, Value>) -> Map<String, Value> {
    fn strip(prefix: &str, v: &Value) -> Option<Value> {
        if !prefix.is_empty() && is_secret_path(prefix) {
            return None;
        }
        let join = |k: &str| bigcommerce::batch::field_path(prefix, k);
        Some(match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), strip(&join(k), v)?)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, v)| strip(&join(&i.to_string()), v).unwrap_or(Value::Null))
                    .collect(),
            ),
            other => other.clone(),
        })
    }
    match strip("", &Value::Object(payload.clone())) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// The top-level fields of `object`.
pub fn table(object: Object) -> &'static [Field] {
    match object {
        Object::Customers => CUSTOMERS,
        Object::Products => PRODUCTS,
        Object::Orders => ORDERS,
    }
}

/// What a dotted path ends on: its field, when the path is known.
pub fn lookup(object: Object, path: &str) -> Option<&'static Field> {
    let mut fields = table(object);
    let mut segs = path.split('.').peekable();
    while let Some(seg) = segs.next() {
        let f = fields.iter().find(|f| f.name == seg)?;
        match f.kind {
            _ if segs.peek().is_none() => return Some(f),
            Kind::Object(children) => fields = children,
            Kind::List(children) => {
                segs.next().filter(|i| i.parse::<usize>().is_ok())?;
                segs.peek()?;
                fields = children;
            }
            _ => return None,
        }
    }
    None
}

/// Checks that `path` (a mapping target) names a field `object` accepts and that `mode`
/// may write it. The error is the rest of a sentence: what is wrong and what to do.
pub fn check_target(object: Object, mode: Mode, path: &str) -> Result<Kind, String> {
    let noun = match object {
        Object::Customers => "customers",
        Object::Products => "products",
        Object::Orders => "orders",
    };
    let mut fields = table(object);
    let mut done: Vec<&str> = Vec::new();
    let mut segs = path.split('.').peekable();
    while let Some(seg) = segs.next() {
        let Some(f) = fields.iter().find(|f| f.name == seg) else {
            let whose = if done.is_empty() {
                noun.to_owned()
            } else {
                format!("{noun}' {}", done.join("."))
            };
            let prefix = if done.is_empty() {
                String::new()
            } else {
                format!("{}.", done.join("."))
            };
            return Err(format!(
                "{whose} have no field {seg:?}; {}",
                suggest(seg, fields, &prefix)
            ));
        };
        done.push(seg);
        let here = done.join(".");
        match f.access {
            Access::Write => {}
            Access::CreateOnly if mode == Mode::Insert => {}
            Access::CreateOnly => {
                return Err(format!(
                    "{here} is set when a record is created and cannot change; map it only in a sync with mode = \"insert\""
                ));
            }
            Access::ReadOnly(why) => {
                return Err(format!("{here} {why}; remove it from the mapping"));
            }
        }
        match (f.kind, segs.peek()) {
            (Kind::Object(_), None) => {
                return Err(format!(
                    "{here} is an object; map each of its fields, as in {here}.{}",
                    first_writable(f)
                ));
            }
            (Kind::List(_), None) => {
                return Err(format!(
                    "{here} is a list; map each item's fields by position, as in {here}.0.{}",
                    first_writable(f)
                ));
            }
            (_, None) => return Ok(f.kind),
            (Kind::Object(children), Some(_)) => fields = children,
            (Kind::List(children), Some(_)) => {
                let index = segs.next().unwrap_or_default();
                if index.parse::<usize>().is_err() {
                    return Err(format!(
                        "{here} is a list; give the item's position before the field, as in {here}.0.{index}"
                    ));
                }
                done.push(index);
                if segs.peek().is_none() {
                    return Err(format!(
                        "{here}.{index} is an item of a list; map its fields, as in {here}.{index}.{}",
                        first_writable(f)
                    ));
                }
                fields = children;
            }
            (_, Some(_)) => {
                return Err(format!(
                    "{here} is a single value, not an object; map {here} itself"
                ));
            }
        }
    }
    Err("the field name is empty".into())
}

fn first_writable(f: &Field) -> &'static str {
    match f.kind {
        Kind::Object(c) | Kind::List(c) => c
            .iter()
            .find(|c| c.access == Access::Write)
            .map_or("name", |c| c.name),
        _ => f.name,
    }
}

/// "did you mean first_name?" when a writable name is close, else the closest few.
fn suggest(typed: &str, fields: &[Field], prefix: &str) -> String {
    let mut ranked: Vec<(usize, &str)> = fields
        .iter()
        .filter(|f| f.access == Access::Write)
        .map(|f| (levenshtein(typed, f.name), f.name))
        .collect();
    ranked.sort();
    let close = near_enough(typed);
    match ranked.first() {
        Some((d, name)) if *d <= close => format!("did you mean {prefix}{name}?"),
        _ => {
            let names: Vec<String> = ranked
                .iter()
                .take(3)
                .map(|(_, n)| format!("{prefix}{n}"))
                .collect();
            format!(
                "check the name; the closest known names are {}",
                names.join(", ")
            )
        }
    }
}

/// The name of `names` closest to `typed`, when it is close enough to be a likely typo.
pub(crate) fn closest<'a>(typed: &str, names: &'a [String]) -> Option<&'a str> {
    let close = near_enough(typed);
    names
        .iter()
        .map(|n| (levenshtein(typed, n), n.as_str()))
        .filter(|(d, _)| *d <= close)
        .min()
        .map(|(_, n)| n)
}

/// The most edits for a name to count as a likely typo of another: one per three
/// characters typed, at least one.
fn near_enough(typed: &str) -> usize {
    (typed.chars().count() / 3).max(1)
}

/// Edit distance (insertions, deletions, substitutions, and swaps of two neighbouring
/// characters, the commonest typo), case-insensitive.
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    // d[i][j]: distance between the first i chars of a and the first j of b.
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_closest_name() {
        let e = check_target(Object::Customers, Mode::Upsert, "frist_name").unwrap_err();
        assert_eq!(
            e,
            "customers have no field \"frist_name\"; did you mean first_name?"
        );
        let e = check_target(Object::Customers, Mode::Upsert, "addresses.0.ctiy").unwrap_err();
        assert!(e.contains("did you mean addresses.0.city?"), "{e}");
        let e = check_target(Object::Products, Mode::Upsert, "zzzzzzzzzzzz").unwrap_err();
        assert!(e.contains("closest known names are"), "{e}");
    }

    #[test]
    fn paths_follow_objects_and_lists() {
        for (object, path) in [
            (Object::Customers, "addresses.0.city"),
            (Object::Customers, "authentication.force_password_reset"),
            (Object::Products, "variants.3.option_values.0.label"),
            (Object::Orders, "billing_address.zip"),
            (Object::Orders, "products.0.product_options.1.value"),
            (Object::Orders, "external_order_id"),
        ] {
            assert!(check_target(object, Mode::Upsert, path).is_ok(), "{path}");
        }
        for (object, path, says) in [
            (
                Object::Customers,
                "addresses.city",
                "give the item's position",
            ),
            (Object::Customers, "addresses", "is a list"),
            (Object::Orders, "billing_address", "is an object"),
            (Object::Customers, "email.x", "single value"),
            (Object::Customers, "date_modified", "is set by BigCommerce"),
            (Object::Orders, "external_id", "external_order_id"),
            (Object::Products, "variants.0.id", "matched by their sku"),
            (Object::Customers, "origin_channel_id", "mode = \"insert\""),
        ] {
            let e = check_target(object, Mode::Upsert, path).unwrap_err();
            assert!(e.contains(says), "{path}: {e}");
        }
        assert!(check_target(Object::Customers, Mode::Insert, "origin_channel_id").is_ok());
        assert_eq!(
            lookup(Object::Products, "variants.0.price").map(|f| f.kind),
            Some(Kind::Number)
        );
        assert_eq!(lookup(Object::Products, "variants.x.price"), None);
    }

    /// Every field a push writes is one the extraction reads back (its record shape), with
    /// a compatible type: the two tables describe one API and must not drift apart.
    /// Secrets are write-only (the API never returns them).
    #[test]
    fn every_writable_field_is_in_the_record_shape_with_a_compatible_type() {
        use crate::streams::records;
        use crate::streams::schema::{Prop, Shape};

        fn compatible(kind: Kind, shape: &Shape) -> bool {
            match (kind, shape) {
                // V2 money, dates and other text are written as text.
                (Kind::Text, Shape::String | Shape::DateTime | Shape::Decimal | Shape::Any) => true,
                (Kind::Int, Shape::Integer) => true,
                (Kind::Number, Shape::Number | Shape::Decimal | Shape::Integer) => true,
                (Kind::Bool, Shape::Boolean) => true,
                (Kind::IntList, Shape::Array(item)) => matches!(item, Shape::Integer),
                (Kind::Object(_), Shape::Object(_)) => true,
                (Kind::List(_), Shape::Array(item)) => matches!(item, Shape::Object(_)),
                _ => false,
            }
        }

        fn props_of(shape: &Shape) -> Option<&'static [Prop]> {
            match shape {
                Shape::Object(p) => Some(p),
                Shape::Array(item) => props_of(item),
                _ => None,
            }
        }

        /// V2 orders link their lines and shipping addresses (`{url, resource}`) instead
        /// of embedding them: their rows are those child tables' shapes.
        fn linked(path: &str) -> Option<&'static [Prop]> {
            match path {
                "orders.products" => Some(records::ORDER_LINE),
                "orders.shipping_addresses" => Some(records::ORDER_SHIPPING_ADDRESS),
                _ => None,
            }
        }

        /// Written but never read back: `brand_name` names (or creates) the brand on a
        /// write; records carry its `brand_id`.
        const WRITE_ONLY: &[&str] = &["products.brand_name"];

        fn check(path: &str, fields: &[Field], shape: &[Prop], drift: &mut Vec<String>) {
            let written = fields.iter().filter(|f| {
                !matches!(f.access, Access::ReadOnly(_))
                    && !f.secret
                    && !WRITE_ONLY.contains(&format!("{path}.{}", f.name).as_str())
            });
            for f in written {
                let here = format!("{path}.{}", f.name);
                let Some((_, s)) = shape.iter().find(|(n, _)| *n == f.name) else {
                    drift.push(format!("{here}: not in the record shape"));
                    continue;
                };
                let nested = match f.kind {
                    Kind::Object(c) | Kind::List(c) => Some(c),
                    _ => None,
                };
                match (nested, linked(&here)) {
                    (Some(children), Some(rows)) => check(&here, children, rows, drift),
                    (Some(children), None) if compatible(f.kind, s) => {
                        check(&here, children, props_of(s).unwrap_or(&[]), drift)
                    }
                    (None, _) if compatible(f.kind, s) => {}
                    _ => drift.push(format!("{here}: written as {:?}, read as {s:?}", f.kind)),
                }
            }
        }

        let mut drift = Vec::new();
        check(
            "customers",
            table(Object::Customers),
            records::CUSTOMER,
            &mut drift,
        );
        check(
            "products",
            table(Object::Products),
            records::PRODUCT,
            &mut drift,
        );
        check("orders", table(Object::Orders), records::ORDER, &mut drift);
        // The other way for variants, whose record is what V3 accepts: each field is
        // either written or says why not.
        for (name, _) in records::VARIANT {
            if !VARIANTS.iter().any(|f| f.name == *name) {
                drift.push(format!(
                    "products.variants.{name}: read, but not in the push table"
                ));
            }
        }
        assert!(drift.is_empty(), "{}", drift.join("\n"));
    }

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein("frist_name", "first_name"), 1);
        assert_eq!(levenshtein("family", "mail"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("City", "city"), 0);
    }
}
