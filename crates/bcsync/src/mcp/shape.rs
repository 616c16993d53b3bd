//! Results sized for an agent's context: compact records (a `fields` selection), a page at
//! a time behind a cursor, and a cap on the size of every result with a note that says how
//! to get the rest. An agent that lists orders gets a page of a few fields each, never the
//! whole store.

use serde_json::{Map, Value, json};

/// Default cap on one result's JSON text, in bytes (about 12k tokens).
pub const DEFAULT_MAX_RESULT_BYTES: usize = 48 * 1024;

/// Room kept for the envelope (cursor, counts, note) around the records.
const ENVELOPE_BYTES: usize = 1024;

/// Keeps only `fields` of a record. A dotted path (`billing_address.email`) reaches into
/// objects, and into each object of an array (`lines.sku`). No fields (or `*`) keeps all.
pub fn select_fields(record: &Value, fields: &[String]) -> Value {
    if fields.is_empty() || fields.iter().any(|f| f == "*") {
        return record.clone();
    }
    let mut wanted = FieldTree::default();
    for f in fields {
        let mut node = &mut wanted;
        for part in f.split('.').filter(|p| !p.is_empty()) {
            node = node.0.entry(part.to_owned()).or_default();
        }
    }
    project(record, &wanted).unwrap_or_else(|| Value::Object(Map::new()))
}

/// The fields wanted, as a tree of names; a name with no children is kept whole.
#[derive(Debug, Default)]
struct FieldTree(std::collections::BTreeMap<String, FieldTree>);

fn project(v: &Value, wanted: &FieldTree) -> Option<Value> {
    match v {
        Value::Object(map) => {
            let mut out = Map::new();
            for (name, sub) in &wanted.0 {
                let Some(child) = map.get(name) else { continue };
                if sub.0.is_empty() {
                    out.insert(name.clone(), child.clone());
                } else if let Some(p) = project(child, sub) {
                    out.insert(name.clone(), p);
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(items) => Some(Value::Array(
            items.iter().filter_map(|i| project(i, wanted)).collect(),
        )),
        _ => None,
    }
}

/// One listing shaped for an agent: `records` (fields already selected) as many as fit in
/// `max_bytes`, the listing's own `next_cursor` when all fit, else `resume(kept)`: the
/// cursor after the records kept, so nothing is skipped.
pub fn list_result(
    records: Vec<Value>,
    next_cursor: Option<String>,
    total: Option<u64>,
    max_bytes: usize,
    resume: impl FnOnce(usize) -> String,
) -> Value {
    let budget = max_bytes.saturating_sub(ENVELOPE_BYTES);
    let available = records.len();
    let mut used = 2;
    let mut kept = Vec::new();
    for r in records {
        let size = r.to_string().len() + 1;
        if used + size > budget {
            break;
        }
        used += size;
        kept.push(r);
    }
    let count = kept.len();
    let mut result = json!({ "records": kept, "count": count });
    if let Some(total) = total {
        result["total"] = json!(total);
    }
    if count < available {
        result["next_cursor"] = json!(resume(count));
        result["truncated"] = json!(true);
        result["note"] = json!(if count == 0 {
            format!(
                "one record alone is larger than the {max_bytes}-byte result cap; pass `fields` \
                 with only the fields you need (e.g. [\"id\"]) to read it"
            )
        } else {
            format!(
                "result capped at {max_bytes} bytes: {count} of {available} records shown; call \
                 again with cursor = next_cursor for the rest, or pass `fields` (fewer fields) \
                 or a smaller `limit`"
            )
        });
    } else if let Some(next) = next_cursor {
        result["next_cursor"] = json!(next);
        result["note"] = json!(
            "more records exist: call again with the same arguments and cursor = next_cursor"
        );
    }
    result
}

/// Caps a single result (a record with its lines, a raw API body) at `max_bytes` by
/// shortening its longest arrays; returns the note saying what was cut, if anything was.
pub fn cap_value(mut value: Value, max_bytes: usize) -> (Value, Option<String>) {
    let mut cuts: Vec<String> = Vec::new();
    // Each round halves the biggest array; a few dozen rounds shrink anything.
    for _ in 0..64 {
        if value.to_string().len() <= max_bytes {
            break;
        }
        let Some((path, len)) = biggest_array(&value, String::new()) else {
            break;
        };
        if len == 0 {
            break;
        }
        let keep = len / 2;
        truncate_at(&mut value, &path, keep);
        cuts.retain(|c| !c.starts_with(&format!("{} ", display(&path))));
        cuts.push(format!("{} cut to {keep} items", display(&path)));
    }
    if value.to_string().len() > max_bytes {
        let note = format!(
            "the result is larger than the {max_bytes}-byte cap even with its lists cut; pass \
             `fields` to select fewer fields"
        );
        return (json!({ "truncated": true, "note": note }), Some(note));
    }
    if cuts.is_empty() {
        return (value, None);
    }
    let note = format!(
        "result capped at {max_bytes} bytes: {}; pass `fields` to select fewer fields, or use a \
         list tool with a cursor for long lists",
        cuts.join(", ")
    );
    (value, Some(note))
}

fn display(path: &str) -> &str {
    if path.is_empty() { "the list" } else { path }
}

/// The dotted path (object keys only) and length of the non-empty array whose JSON is the
/// largest.
fn biggest_array(v: &Value, path: String) -> Option<(String, usize)> {
    let mut found: Vec<(String, usize, usize)> = Vec::new();
    collect_arrays(v, path, &mut found);
    found
        .into_iter()
        .max_by_key(|(_, _, size)| *size)
        .map(|(p, len, _)| (p, len))
}

fn collect_arrays(v: &Value, path: String, found: &mut Vec<(String, usize, usize)>) {
    match v {
        Value::Array(items) if !items.is_empty() => {
            found.push((path, items.len(), v.to_string().len()));
        }
        Value::Object(map) => {
            for (k, child) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                collect_arrays(child, p, found);
            }
        }
        _ => {}
    }
}

fn truncate_at(v: &mut Value, path: &str, keep: usize) {
    let mut cur = v;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let Some(next) = cur.as_object_mut().and_then(|m| m.get_mut(part)) else {
            return;
        };
        cur = next;
    }
    if let Value::Array(items) = cur {
        items.truncate(keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_pick_top_level_nested_and_array_items() {
        let order = json!({
            "id": 1, "status": "Shipped", "total": "9.00",
            "billing_address": {"email": "a@x", "city": "Paris"},
            "lines": [{"sku": "A", "qty": 1, "name": "x"}, {"sku": "B", "qty": 2, "name": "y"}]
        });
        let fields = |f: &[&str]| f.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            select_fields(&order, &fields(&["id", "billing_address.email"])),
            json!({"id": 1, "billing_address": {"email": "a@x"}})
        );
        assert_eq!(
            select_fields(&order, &fields(&["lines.sku", "lines.qty"])),
            json!({"lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]})
        );
        assert_eq!(select_fields(&order, &fields(&["*"])), order);
        assert_eq!(
            select_fields(&order, &fields(&["nope"])),
            json!({}),
            "unknown fields are simply absent"
        );
    }

    #[test]
    fn a_listing_over_the_cap_resumes_after_the_records_kept() {
        let records: Vec<Value> = (0..100)
            .map(|i| json!({"id": i, "pad": "x".repeat(100)}))
            .collect();
        let r = list_result(
            records.clone(),
            Some("offset:100".into()),
            None,
            4096,
            |k| format!("offset:{}", 5 + k),
        );
        let count = r["count"].as_u64().unwrap() as usize;
        assert!(count > 0 && count < 100, "{count}");
        assert!(r.to_string().len() <= 4096);
        assert_eq!(r["truncated"], true);
        assert_eq!(r["next_cursor"], format!("offset:{}", 5 + count));
        assert!(r["note"].as_str().unwrap().contains("cursor = next_cursor"));

        // A listing that fits keeps its own cursor, or has none at the end.
        let r = list_result(
            records[..3].to_vec(),
            Some("offset:3".into()),
            Some(9),
            4096,
            |_| unreachable!(),
        );
        assert_eq!(r["next_cursor"], "offset:3");
        assert_eq!(r["total"], 9);
        assert!(r.get("truncated").is_none());
        let r = list_result(records[..3].to_vec(), None, None, 4096, |_| unreachable!());
        assert!(r.get("next_cursor").is_none() && r.get("note").is_none());
    }

    #[test]
    fn a_single_result_has_its_longest_list_cut_with_a_note() {
        let order = json!({
            "id": 1,
            "lines": (0..500).map(|i| json!({"sku": format!("SKU-{i}"), "qty": i})).collect::<Vec<_>>(),
            "coupons": [{"code": "A"}]
        });
        let (capped, note) = cap_value(order.clone(), 2000);
        assert!(capped.to_string().len() <= 2000);
        assert_eq!(capped["id"], 1);
        assert_eq!(capped["coupons"], order["coupons"]);
        assert!(capped["lines"].as_array().unwrap().len() < 500);
        let note = note.unwrap();
        assert!(note.contains("lines cut to"), "{note}");
        let (same, none) = cap_value(json!({"id": 1}), 2000);
        assert_eq!(same, json!({"id": 1}));
        assert!(none.is_none());
    }
}
