//! Child-row extractors: each pulls one child table's rows out of a parent record, where
//! the API embedded them (`include=`). The engine adds the parent key column.
//!
//! Each extractor comes twice: over a parsed record, and over the record's text
//! ([`TextRecord`], the SQLite path, which never builds the tree). The text ones return
//! `None` where the text holds something only the parsed one handles (an element that is
//! not an object): the writer then parses that page.

use serde_json::Value;

use super::text::{self, TextRecord};

/// Child rows read from the parent's text; see the module header.
pub type FromText = for<'a> fn(&TextRecord<'a>) -> Option<Vec<TextRecord<'a>>>;

/// The rows of the array in `field` (none when it is missing, null or not an array, as
/// [`array_field`] does).
fn array_field_text<'a>(record: &TextRecord<'a>, field: &str) -> Option<Vec<TextRecord<'a>>> {
    match record.get(field) {
        Some(raw) if raw.get().starts_with('[') => text::records(raw),
        _ => Some(Vec::new()),
    }
}

pub fn customer_addresses_text<'a>(r: &TextRecord<'a>) -> Option<Vec<TextRecord<'a>>> {
    array_field_text(r, "addresses")
}

pub fn customer_attributes_text<'a>(r: &TextRecord<'a>) -> Option<Vec<TextRecord<'a>>> {
    array_field_text(r, "attributes")
}

pub fn customer_form_fields_text<'a>(r: &TextRecord<'a>) -> Option<Vec<TextRecord<'a>>> {
    array_field_text(r, "form_fields")
}

pub fn product_variants_text<'a>(r: &TextRecord<'a>) -> Option<Vec<TextRecord<'a>>> {
    array_field_text(r, "variants")
}

pub fn product_images_text<'a>(r: &TextRecord<'a>) -> Option<Vec<TextRecord<'a>>> {
    array_field_text(r, "images")
}

pub fn product_custom_fields_text<'a>(r: &TextRecord<'a>) -> Option<Vec<TextRecord<'a>>> {
    array_field_text(r, "custom_fields")
}

/// [`order_lines`] from the order's text: one pass over `consignments` for the objects of
/// its `line_items` arrays.
pub fn order_lines_text<'a>(order: &TextRecord<'a>) -> Option<Vec<TextRecord<'a>>> {
    match order.get("consignments") {
        Some(consignments) => text::records_named(consignments, "line_items"),
        None => Some(Vec::new()),
    }
}

/// [`order_shipping_addresses`] from the order's text.
pub fn order_shipping_addresses_text<'a>(order: &TextRecord<'a>) -> Option<Vec<TextRecord<'a>>> {
    // The `shipping` list of one consignment structure, if it has one.
    fn shipping<'a>(structure: &TextRecord<'a>) -> Option<Vec<TextRecord<'a>>> {
        match structure.get("shipping") {
            Some(list) if list.get().starts_with('[') => Some(
                text::records(list)?
                    .iter()
                    .map(|consignment| consignment.without("line_items"))
                    .collect(),
            ),
            _ => Some(Vec::new()),
        }
    }
    let Some(consignments) = order.get("consignments") else {
        return Some(Vec::new());
    };
    match consignments.get().as_bytes().first() {
        // A structure that is not an object: the parsed path skips it; so does this one,
        // by leaving the page to it.
        Some(b'[') => {
            let mut out = Vec::new();
            for structure in text::records(consignments)? {
                out.extend(shipping(&structure)?);
            }
            Some(out)
        }
        Some(b'{') => shipping(&TextRecord::of(consignments).ok()?),
        _ => Some(Vec::new()),
    }
}

fn array_field(record: &Value, field: &str) -> Vec<Value> {
    record
        .get(field)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

pub fn customer_addresses(r: &Value) -> Vec<Value> {
    array_field(r, "addresses")
}

pub fn customer_attributes(r: &Value) -> Vec<Value> {
    array_field(r, "attributes")
}

pub fn customer_form_fields(r: &Value) -> Vec<Value> {
    array_field(r, "form_fields")
}

pub fn product_variants(r: &Value) -> Vec<Value> {
    array_field(r, "variants")
}

pub fn product_images(r: &Value) -> Vec<Value> {
    array_field(r, "images")
}

pub fn product_custom_fields(r: &Value) -> Vec<Value> {
    array_field(r, "custom_fields")
}

/// Shipping consignments of an order, whichever `consignment_structure` the API used
/// (an object `{shipping: [...]}` or an array of such objects: docs/api-notes.md §6.2).
fn shipping_consignments(order: &Value) -> Vec<&Value> {
    fn take(c: &Value) -> Option<Vec<&Value>> {
        c.get("shipping")
            .and_then(Value::as_array)
            .map(|l| l.iter().collect())
    }
    let mut refs = Vec::new();
    match order.get("consignments") {
        Some(Value::Array(items)) => {
            for c in items {
                refs.extend(take(c).unwrap_or_default());
            }
        }
        Some(obj @ Value::Object(_)) => refs.extend(take(obj).unwrap_or_default()),
        _ => {}
    }
    refs
}

/// Every line item embedded anywhere in the order's consignments (shipping, pickup,
/// digital "downloads", email gift certificates), found by walking the tree for
/// `line_items` arrays, so a structure we did not foresee loses no line.
pub fn order_lines(order: &Value) -> Vec<Value> {
    fn walk(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    if k == "line_items"
                        && let Some(items) = child.as_array()
                    {
                        out.extend(items.iter().cloned());
                        continue;
                    }
                    walk(child, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(c) = order.get("consignments") {
        walk(c, &mut out);
    }
    out
}

/// One row per shipping consignment: its address, without the embedded lines.
pub fn order_shipping_addresses(order: &Value) -> Vec<Value> {
    shipping_consignments(order)
        .into_iter()
        .map(|c| match c.as_object() {
            // Copy the address fields only: the lines are the bulk of a consignment.
            Some(obj) => Value::Object(
                obj.iter()
                    .filter(|(k, _)| *k != "line_items")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            None => c.clone(),
        })
        .collect()
}

/// Lines of a cart: every kind of `line_items` (physical, digital, custom, gift
/// certificates), each tagged with its kind in `item_type`.
pub fn cart_items(r: &Value) -> Vec<Value> {
    let Some(lines) = r.get("line_items").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (kind, items) in lines {
        for item in items.as_array().into_iter().flatten() {
            let mut item = item.clone();
            if let Some(obj) = item.as_object_mut() {
                obj.insert("item_type".into(), Value::String(kind.clone()));
            }
            out.push(item);
        }
    }
    out
}

/// One row per location of an inventory item (`/v3/inventory/items`, docs/api-notes.md §5):
/// the item's identity beside that location's stock, keyed `"{variant_id}@{location_id}"`
/// (a variant holds stock once per location).
pub fn inventory_item_locations(item: &Value) -> Vec<Value> {
    let identity = item.get("identity").cloned().unwrap_or(Value::Null);
    let variant = identity.get("variant_id").cloned().unwrap_or(Value::Null);
    array_field(item, "locations")
        .into_iter()
        .map(|mut loc| {
            let location = loc.get("location_id").cloned().unwrap_or(Value::Null);
            if let Some(obj) = loc.as_object_mut() {
                obj.insert("id".into(), Value::String(format!("{variant}@{location}")));
                for field in ["product_id", "variant_id", "sku", "sku_id"] {
                    obj.insert(
                        field.into(),
                        identity.get(field).cloned().unwrap_or(Value::Null),
                    );
                }
            }
            loc
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_found_in_both_consignment_structures() {
        let as_object = json!({"id": 1, "consignments": {"shipping": [{"id": 7, "line_items": [{"id": 1}, {"id": 2}]}], "downloads": [{"line_items": [{"id": 3}]}]}});
        let as_array = json!({"id": 1, "consignments": [{"shipping": [{"id": 7, "line_items": [{"id": 1}, {"id": 2}]}]}, {"downloads": [{"line_items": [{"id": 3}]}]}]});
        for o in [as_object, as_array] {
            let ids: Vec<i64> = order_lines(&o)
                .iter()
                .filter_map(|l| l["id"].as_i64())
                .collect();
            assert_eq!(ids, vec![1, 2, 3]);
            let addrs = order_shipping_addresses(&o);
            assert_eq!(addrs.len(), 1);
            assert_eq!(addrs[0]["id"], 7);
            assert!(addrs[0].get("line_items").is_none());
        }
    }

    #[test]
    fn inventory_items_split_per_location() {
        let item = json!({"identity": {"sku": "A", "variant_id": 7, "product_id": 3, "sku_id": 9},
            "locations": [{"location_id": 1, "available_to_sell": 4}, {"location_id": 2, "available_to_sell": 0}]});
        let rows = inventory_item_locations(&item);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["id"], "7@1");
        assert_eq!(rows[1]["id"], "7@2");
        assert_eq!(rows[1]["product_id"], 3);
        assert_eq!(rows[1]["sku"], "A");
        assert_eq!(rows[0]["available_to_sell"], 4);
    }

    #[test]
    fn missing_arrays_give_no_rows() {
        assert!(customer_addresses(&json!({"id": 1})).is_empty());
        assert!(order_lines(&json!({"id": 1, "products": {"url": "x"}})).is_empty());
    }
}
