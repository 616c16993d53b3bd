//! From a source row to a BigCommerce payload: the mapping (dotted paths become nested
//! objects and arrays: `addresses.0.city`), type casts to what each field needs, and the
//! checks our API notes list for creates (customers, products, orders), all before any
//! request. A row that fails is rejected with its number, the field and the reason.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use super::config::{FieldMap, Mode, Object, SyncDef};
use super::fields::Kind;
use crate::sources::Row;

/// A row that cannot be sent, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// Source row number (0 when the row is known only by key, e.g. a tracked record).
    pub row: u64,
    pub key: Option<String>,
    pub field: Option<String>,
    pub reason: String,
}

/// A mapped row: its match key and the payload to send (without the key field when the
/// key is the BigCommerce `id`).
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    pub row: u64,
    pub key: String,
    pub payload: Map<String, Value>,
}

/// The JSON type a field needs, from the object's field table (anything not listed is
/// text).
fn kind_of(object: Object, field: &str) -> Kind {
    match super::fields::lookup(object, field).map(|f| f.kind) {
        Some(k @ (Kind::Int | Kind::Number | Kind::Bool | Kind::IntList)) => k,
        _ => Kind::Text,
    }
}

fn cast(kind: Kind, v: &Value) -> Result<Value, String> {
    let text = match v {
        Value::String(s) => Some(s.trim().to_owned()),
        _ => None,
    };
    match kind {
        // Nested objects and lists are mapped field by field: a leaf is never one.
        Kind::Text | Kind::Object(_) | Kind::List(_) => Ok(match v {
            Value::String(_) => v.clone(),
            Value::Number(n) => Value::String(n.to_string()),
            Value::Bool(b) => Value::String(b.to_string()),
            other => Value::String(other.to_string()),
        }),
        Kind::Int => match (v, text) {
            (Value::Number(n), _) if n.is_i64() => Ok(v.clone()),
            (Value::Number(n), _) => n
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| Value::from(f as i64))
                .ok_or_else(|| format!("{n} is not a whole number")),
            (_, Some(t)) => t
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("{t:?} is not a whole number")),
            (other, _) => Err(format!("{other} is not a whole number")),
        },
        Kind::Number => match (v, text) {
            (Value::Number(_), _) => Ok(v.clone()),
            (_, Some(t)) => t
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .and_then(|f| {
                    if f.fract() == 0.0 && f.abs() < 9.0e15 {
                        Some(Value::from(f as i64))
                    } else {
                        Number::from_f64(f).map(Value::Number)
                    }
                })
                .ok_or_else(|| format!("{t:?} is not a number")),
            (other, _) => Err(format!("{other} is not a number")),
        },
        Kind::Bool => match (v, text.as_deref().map(str::to_ascii_lowercase).as_deref()) {
            (Value::Bool(_), _) => Ok(v.clone()),
            (Value::Number(n), _) => Ok(Value::Bool(n.as_f64().is_some_and(|f| f != 0.0))),
            (_, Some("true" | "t" | "yes" | "y" | "1")) => Ok(Value::Bool(true)),
            (_, Some("false" | "f" | "no" | "n" | "0")) => Ok(Value::Bool(false)),
            (other, _) => Err(format!("{other} is not true or false")),
        },
        Kind::IntList => match (v, text) {
            (Value::Number(n), _) if n.is_i64() => Ok(Value::Array(vec![v.clone()])),
            (_, Some(t)) => t
                .split([',', ';', '|'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<i64>()
                        .map(Value::from)
                        .map_err(|_| format!("{s:?} in {t:?} is not a whole number"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            (other, _) => Err(format!("{other} is not a list of ids")),
        },
    }
}

/// Prefixes whose rest is a *name* (which may hold dots), not a path: customer attribute
/// values and product custom fields, kept as `{name: value}` objects in the payload.
pub const NAMED_PREFIXES: [&str; 2] = ["attributes.", "custom_fields."];

/// Sets a mapped field: a named attribute/custom field, or a dotted path.
fn set_field(obj: &mut Map<String, Value>, field: &str, value: Value) {
    for prefix in NAMED_PREFIXES {
        if let Some(name) = field.strip_prefix(prefix) {
            let key = prefix.trim_end_matches('.').to_owned();
            let slot = obj.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = slot {
                m.insert(name.to_owned(), value);
            }
            return;
        }
    }
    set_path(obj, field, value);
}

/// Sets `path` (dotted; numeric segments index arrays) in `obj`.
pub fn set_path(obj: &mut Map<String, Value>, path: &str, value: Value) {
    let segs: Vec<&str> = path.split('.').collect();
    let Some((first, rest)) = segs.split_first() else {
        return;
    };
    if rest.is_empty() {
        obj.insert((*first).to_owned(), value);
        return;
    }
    let slot = obj.entry((*first).to_owned()).or_insert(Value::Null);
    set_in(slot, rest, value);
}

fn set_in(slot: &mut Value, segs: &[&str], value: Value) {
    let Some((seg, rest)) = segs.split_first() else {
        *slot = value;
        return;
    };
    if let Ok(i) = seg.parse::<usize>() {
        if !slot.is_array() {
            *slot = Value::Array(Vec::new());
        }
        if let Value::Array(items) = slot {
            while items.len() <= i {
                items.push(Value::Null);
            }
            set_in(&mut items[i], rest, value);
        }
    } else {
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        if let Value::Object(m) = slot {
            let next = m.entry((*seg).to_owned()).or_insert(Value::Null);
            set_in(next, rest, value);
        }
    }
}

/// Reads `path` from a nested value.
pub fn get_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, seg| match cur {
        Value::Object(m) => m.get(seg),
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Normalises a key for matching: emails and SKUs match case-insensitively (docs/api-notes.md §3.3
/// for SKUs; email addresses are stored lower-case by BigCommerce's own forms).
pub fn normalise_key(match_key: &str, raw: &str) -> String {
    match match_key {
        "email" | "sku" => raw.trim().to_lowercase(),
        _ => raw.trim().to_owned(),
    }
}

/// Maps and checks one row.
pub fn map_row(def: &SyncDef, fields: &[FieldMap], row: &Row) -> Result<Mapped, Rejection> {
    let reject = |field: Option<&str>, key: Option<String>, reason: String| Rejection {
        row: row.number,
        key,
        field: field.map(str::to_owned),
        reason,
    };
    check_readable(row)?;
    let mut payload = Map::new();
    let mut key = None;
    for f in fields {
        let Some(raw) = row.values.get(&f.column) else {
            return Err(reject(
                Some(&f.field),
                None,
                format!("the source has no column {:?}", f.column),
            ));
        };
        if raw.is_null() {
            if f.field == def.match_key {
                return Err(reject(
                    Some(&f.field),
                    None,
                    "the match key is empty".into(),
                ));
            }
            if !def.skip_nulls {
                // An explicit empty value unsets the field on update.
                let empty = match kind_of(def.object, &f.field) {
                    Kind::Text => Value::String(String::new()),
                    Kind::IntList => Value::Array(Vec::new()),
                    _ => Value::Null,
                };
                if !empty.is_null() {
                    set_field(&mut payload, &f.field, empty);
                }
            }
            continue;
        }
        let value = cast(kind_of(def.object, &f.field), raw)
            .map_err(|reason| reject(Some(&f.field), None, order_id_hint(def, &f.field, reason)))?;
        if f.field == def.match_key {
            let text = match &value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            key = Some(normalise_key(&def.match_key, &text));
            if f.field == "id" {
                continue;
            }
        }
        set_field(&mut payload, &f.field, value);
    }
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return Err(reject(
            Some(&def.match_key),
            None,
            "the match key is empty".into(),
        ));
    };
    if let Err((field, reason)) = check_payload(def.object, def.mode, &payload) {
        return Err(reject(Some(&field), Some(key), reason));
    }
    if let Err((field, reason)) = check_lengths(def.object, &payload) {
        return Err(reject(Some(&field), Some(key), reason));
    }
    Ok(Mapped {
        row: row.number,
        key,
        payload,
    })
}

/// A row the source could not read in full (a ragged CSV line, bytes that are not UTF-8)
/// is rejected with the source's reason; the rows after it go on.
fn check_readable(row: &Row) -> Result<(), Rejection> {
    match &row.unreadable {
        None => Ok(()),
        Some(reason) => Err(Rejection {
            row: row.number,
            key: None,
            field: None,
            reason: reason.clone(),
        }),
    }
}

/// An order's `id` is the BigCommerce order id, a whole number: a reference such as
/// `SO-10023` belongs in `external_order_id`, so the error says how to map it.
fn order_id_hint(def: &SyncDef, field: &str, reason: String) -> String {
    if def.object == Object::Orders && field == "id" {
        format!(
            "{reason}: an order's id is the BigCommerce order number; to match orders on your own reference, map it to external_order_id and set match_key = \"external_order_id\""
        )
    } else {
        reason
    }
}

/// Text length limits the API documents (the field tables' `max_chars`), checked before
/// sending so an over-long value rejects its row with the limit instead of failing its
/// whole batch.
fn check_lengths(object: Object, p: &Map<String, Value>) -> Result<(), (String, String)> {
    let too_long = |field: String, max: usize, n: usize| {
        Err((
            field,
            format!("must be at most {max} characters (it has {n}); shorten it in the source"),
        ))
    };
    let mut texts = Vec::new();
    for (name, v) in p {
        // Named by the user, not by the API: checked below.
        if name != "custom_fields" && name != "attributes" {
            text_leaves(name.clone(), v, &mut texts);
        }
    }
    for (path, text) in texts {
        let n = text.chars().count();
        if let Some(max) = super::fields::lookup(object, &path).and_then(|f| f.max_chars)
            && n > max
        {
            return too_long(path, max, n);
        }
    }
    if object == Object::Products
        && let Some(Value::Object(fields)) = p.get("custom_fields")
    {
        for (name, v) in fields {
            let n = name.chars().count();
            if n > CUSTOM_FIELD_MAX {
                return too_long(format!("custom_fields.{name}"), CUSTOM_FIELD_MAX, n);
            }
            let n = v.as_str().map_or(0, |s| s.chars().count());
            if n > CUSTOM_FIELD_MAX {
                return too_long(format!("custom_fields.{name}"), CUSTOM_FIELD_MAX, n);
            }
        }
    }
    Ok(())
}

/// Product custom fields: name and value at most 250 characters each.
const CUSTOM_FIELD_MAX: usize = 250;

/// Every text value under `v`, with its dotted path (`variants.0.sku`).
fn text_leaves<'a>(path: String, v: &'a Value, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::String(s) => out.push((path, s)),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                text_leaves(format!("{path}.{i}"), item, out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                text_leaves(format!("{path}.{k}"), item, out);
            }
        }
        _ => {}
    }
}

fn text_len(p: &Map<String, Value>, f: &str) -> Option<usize> {
    p.get(f).and_then(Value::as_str).map(|s| s.chars().count())
}

/// The create rules of docs/api-notes.md §2.3, §3.3 and §6.4. Update-only syncs need just the key.
fn check_payload(
    object: Object,
    mode: Mode,
    p: &Map<String, Value>,
) -> Result<(), (String, String)> {
    let may_create = mode != Mode::Update;
    let fail = |f: &str, r: &str| Err((f.to_owned(), r.to_owned()));
    match object {
        Object::Customers => {
            if may_create {
                for f in ["email", "first_name", "last_name"] {
                    if text_len(p, f).unwrap_or(0) == 0 {
                        return fail(
                            f,
                            "required to create a customer: email, first_name and last_name must all have a value",
                        );
                    }
                }
            }
            if let Some(n) = text_len(p, "email")
                && !(3..=255).contains(&n)
            {
                return fail("email", "must be 3 to 255 characters");
            }
            if p.get("email")
                .and_then(Value::as_str)
                .is_some_and(|e| !e.contains('@'))
            {
                return fail("email", "is not an email address");
            }
            for f in ["first_name", "last_name"] {
                if text_len(p, f).is_some_and(|n| n > 100) {
                    return fail(f, "must be at most 100 characters");
                }
            }
            if let Some(Value::Array(addrs)) = p.get("addresses") {
                for (i, a) in addrs.iter().enumerate() {
                    for f in [
                        "first_name",
                        "last_name",
                        "address1",
                        "city",
                        "country_code",
                    ] {
                        if get_path(a, f)
                            .and_then(Value::as_str)
                            .is_none_or(str::is_empty)
                        {
                            return Err((
                                format!("addresses.{i}.{f}"),
                                "required on every address: first_name, last_name, address1, city and country_code must all have a value".into(),
                            ));
                        }
                    }
                }
            }
        }
        Object::Products => {
            if may_create {
                if text_len(p, "name").unwrap_or(0) == 0 {
                    return fail(
                        "name",
                        "required to create a product: name, type, weight and price must all have a value",
                    );
                }
                if !p.contains_key("type") {
                    return fail("type", "required to create a product: physical or digital");
                }
                for f in ["weight", "price"] {
                    if !p.get(f).is_some_and(Value::is_number) {
                        return fail(
                            f,
                            "required to create a product, as a number (0 is allowed)",
                        );
                    }
                }
            }
            if let Some(t) = p.get("type").and_then(Value::as_str)
                && !matches!(t, "physical" | "digital")
            {
                return fail("type", "must be physical or digital");
            }
            if text_len(p, "name").is_some_and(|n| n > 250) {
                return fail("name", "must be at most 250 characters");
            }
            for f in [
                "price",
                "cost_price",
                "retail_price",
                "sale_price",
                "weight",
                "width",
                "depth",
                "height",
            ] {
                if p.get(f).and_then(Value::as_f64).is_some_and(|v| v < 0.0) {
                    return fail(f, "must not be negative");
                }
            }
        }
        Object::Orders => {
            if may_create {
                let Some(Value::Object(b)) = p.get("billing_address") else {
                    return fail(
                        "billing_address",
                        "required to create an order: map the billing address fields (billing_address.zip, billing_address.country_iso2...)",
                    );
                };
                let zip = b.get("zip").and_then(Value::as_str).unwrap_or("");
                if zip.chars().count() < 2 {
                    return fail("billing_address.zip", "must be at least 2 characters");
                }
                if !b.contains_key("country") && !b.contains_key("country_iso2") {
                    return fail(
                        "billing_address.country_iso2",
                        "country or country_iso2 is required",
                    );
                }
                let Some(Value::Array(lines)) = p.get("products") else {
                    return fail(
                        "products",
                        "required to create an order: at least one product line",
                    );
                };
                for (i, l) in lines.iter().enumerate() {
                    if get_path(l, "quantity").is_none() {
                        return Err((
                            format!("products.{i}.quantity"),
                            "required on every line".into(),
                        ));
                    }
                    let catalog = get_path(l, "product_id").is_some();
                    let custom = ["name", "price_inc_tax", "price_ex_tax"]
                        .iter()
                        .all(|f| get_path(l, f).is_some());
                    if !catalog && !custom {
                        return Err((
                            format!("products.{i}"),
                            "a line needs product_id, or name + price_inc_tax + price_ex_tax for a custom product".into(),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::push::config::parse_syncs;
    use serde_json::json;
    use std::path::Path;

    fn def(object: &str, key: &str, mapping: &str) -> SyncDef {
        let text = format!(
            "name = \"t\"\nobject = \"{object}\"\nmode = \"upsert\"\nmatch_key = \"{key}\"\nsource = {{ type = \"csv\", path = \"x.csv\" }}\n[mapping]\n{mapping}"
        );
        parse_syncs(&text, Path::new("t.toml"), Path::new("."))
            .unwrap()
            .remove(0)
    }

    fn row(n: u64, v: Value) -> Row {
        Row::new(n, v.as_object().unwrap().clone())
    }

    #[test]
    fn maps_nested_fields_and_casts() {
        let d = def(
            "products",
            "sku",
            "sku = \"sku\"\nname = \"name\"\nkind = \"type\"\nw = \"weight\"\np = \"price\"\ncats = \"categories\"\nv = \"variants.0.sku\"\n",
        );
        let fields = d.fields().unwrap();
        let m = map_row(&d, &fields, &row(1, json!({"sku": "AB-1", "name": "Hat", "kind": "physical", "w": "0", "p": "12.50", "cats": "1,2", "v": "AB-1-S"}))).unwrap();
        assert_eq!(m.key, "ab-1");
        assert_eq!(
            Value::Object(m.payload),
            json!({"sku": "AB-1", "name": "Hat", "type": "physical", "weight": 0, "price": 12.5, "categories": [1, 2], "variants": [{"sku": "AB-1-S"}]})
        );
        let err = map_row(&d, &fields, &row(2, json!({"sku": "X", "name": "Hat", "kind": "physical", "w": "heavy", "p": "1", "cats": null, "v": null}))).unwrap_err();
        assert_eq!((err.row, err.field.as_deref()), (2, Some("weight")));
        let err = map_row(&d, &fields, &row(3, json!({"sku": "X", "name": "Hat", "kind": "bundle", "w": "1", "p": "1", "cats": null, "v": null}))).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("type"));
    }

    #[test]
    fn documented_lengths_reject_the_row_with_the_limit() {
        let d = def(
            "products",
            "sku",
            "sku = \"sku\"\nname = \"name\"\nkind = \"type\"\nw = \"weight\"\np = \"price\"\nv = \"variants.0.sku\"\ncf = \"custom_fields.note\"\n",
        );
        let fields = d.fields().unwrap();
        let ok = json!({"sku": "A", "name": "Hat", "kind": "physical", "w": "1", "p": "1", "v": "A-S", "cf": "short"});
        assert!(map_row(&d, &fields, &row(1, ok.clone())).is_ok());
        let mut long_sku = ok.clone();
        long_sku["sku"] = json!("S".repeat(256));
        let err = map_row(&d, &fields, &row(2, long_sku)).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("sku"));
        assert!(
            err.reason.contains("at most 255 characters (it has 256)"),
            "{}",
            err.reason
        );
        let mut long_variant = ok.clone();
        long_variant["v"] = json!("V".repeat(300));
        let err = map_row(&d, &fields, &row(3, long_variant)).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("variants.0.sku"));
        let mut long_field = ok;
        long_field["cf"] = json!("c".repeat(251));
        let err = map_row(&d, &fields, &row(4, long_field)).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("custom_fields.note"));
    }

    #[test]
    fn customers_need_names_and_email() {
        let d = def(
            "customers",
            "email",
            "e = \"email\"\nf = \"first_name\"\nl = \"last_name\"\nc = \"addresses.0.city\"\n",
        );
        let fields = d.fields().unwrap();
        let err = map_row(
            &d,
            &fields,
            &row(4, json!({"e": "a@x.io", "f": "A", "l": null, "c": null})),
        )
        .unwrap_err();
        assert_eq!(
            (err.row, err.field.as_deref(), err.key.as_deref()),
            (4, Some("last_name"), Some("a@x.io"))
        );
        let err = map_row(
            &d,
            &fields,
            &row(5, json!({"e": "a@x.io", "f": "A", "l": "B", "c": "Paris"})),
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("addresses.0.first_name"));
    }
}
