//! JSON Schema of stream and child-table records (Singer SCHEMA messages, `discover`), and
//! the conversion that makes Singer RECORDs match it.
//!
//! Every field the API documents for a record is declared with its JSON type, nested
//! objects (`properties`) and arrays (`items`) included, so a Singer target that keeps only
//! declared columns keeps all of them. The shapes live in [`super::records`].
//! - Every type is nullable: BigCommerce omits or nulls fields freely.
//! - `additionalProperties: true` everywhere: a field the API adds later never breaks a run.
//! - Dates are `{"type": ["null", "string"], "format": "date-time"}`. V3 sends ISO 8601;
//!   V2 sends RFC 2822 (`Tue, 20 Nov 2012 00:00:00 +0000`), which [`conform`] rewrites as
//!   ISO 8601 in Singer output; an empty date (an unshipped order's `date_shipped: ""`)
//!   becomes null. SQL destinations keep the API's text in `_raw`.
//! - Money is a JSON number everywhere. V3 already sends numbers; V2 sends decimal strings
//!   (`"12.5000"`), which [`conform`] turns into numbers. A decimal with at most 15
//!   significant digits (every amount a store holds) comes out exactly (`12.5`); the
//!   trailing zeros of the API's text do not survive. The same applies to V2's other
//!   decimal strings (weights, exchange rates, coupon amounts).
//!
//! A decimal with more significant digits than a JSON number keeps is sent as the nearest
//! number, with a warning (once per field and run).
//!
//! - A declared type always holds: a number sent as text where a number is declared is
//!   parsed, a number where text is declared becomes text; a value that cannot be
//!   converted is sent as null with a warning on stderr (never a RECORD that fails its
//!   SCHEMA in a validating target).
//!
//! [`FieldType`] is the narrower type of a column that SQL destinations promote out of
//! `_raw`; it does not describe nested values.

use serde_json::{Map, Number, Value, json};

use super::{ChildTable, StreamDescriptor};

/// The JSON type of a column promoted to its own SQL column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Integer,
    Number,
    String,
    Boolean,
    /// A date string (ISO 8601 in V3, RFC 2822 in V2: both kept as the API sent them).
    DateTime,
    /// Anything (objects, arrays, or values whose type varies).
    Json,
}

/// The shape of one value in an API record, as the Singer schema declares it.
#[derive(Debug)]
pub enum Shape {
    Integer,
    /// A JSON number (V3 money, weights, rates).
    Number,
    /// A V2 decimal string (`"12.5000"`), declared and emitted as a number.
    Decimal,
    String,
    Boolean,
    /// A date string: ISO 8601 in Singer output whatever the API sent.
    DateTime,
    /// A value whose JSON type varies (form-field values: text, number or list).
    Any,
    Object(&'static [Prop]),
    Array(&'static Shape),
}

/// One declared field.
pub type Prop = (&'static str, Shape);

/// Every JSON type, for values whose type varies. Spelled out rather than `{}` so that
/// targets that read the `type` keyword (to pick a column type) see it.
const ANY_TYPE: [&str; 7] = [
    "null", "string", "number", "integer", "boolean", "object", "array",
];

impl Shape {
    fn schema(&self) -> Value {
        match self {
            Shape::Integer => json!({"type": ["null", "integer"]}),
            Shape::Number | Shape::Decimal => json!({"type": ["null", "number"]}),
            Shape::String => json!({"type": ["null", "string"]}),
            Shape::Boolean => json!({"type": ["null", "boolean"]}),
            Shape::DateTime => json!({"type": ["null", "string"], "format": "date-time"}),
            Shape::Any => json!({"type": ANY_TYPE}),
            Shape::Object(props) => object_schema(props, &[]),
            Shape::Array(item) => json!({"type": ["null", "array"], "items": item.schema()}),
        }
    }
}

fn object_schema(props: &[Prop], extra: &[Prop]) -> Value {
    let mut map = Map::new();
    for (name, shape) in props.iter().chain(extra) {
        map.insert((*name).to_owned(), shape.schema());
    }
    json!({
        "type": ["null", "object"],
        "properties": map,
        "additionalProperties": true,
    })
}

/// Schema of a stream's records.
pub fn stream_schema(s: &StreamDescriptor) -> Value {
    object_schema(s.record, &[])
}

/// Schema of a child table's records (the embedded element, plus its parent key column).
pub fn child_schema(c: &ChildTable) -> Value {
    object_schema(c.record, &[(c.parent_column, Shape::Integer)])
}

/// A value that could not be made to match its declared type exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unconvertible {
    /// Dotted path of the field (`consignments.shipping.line_items.price_ex_tax`).
    pub field: String,
    /// The value as the API sent it (text as is, anything else as JSON).
    pub value: String,
    /// `None`: sent as null. `Some(n)`: a decimal with more digits than a JSON number
    /// keeps, sent as the nearest number `n`.
    pub rounded_to: Option<String>,
}

/// Rewrites a record in place so that it matches its declared shape: dates to ISO 8601,
/// V2 decimal strings (and any number sent as text) to numbers, a number where text is
/// declared to text. Returns the fields whose value could not be converted
/// (set to null, so the record still validates).
pub fn conform(props: &[Prop], record: &mut Value) -> Vec<Unconvertible> {
    let mut bad = Vec::new();
    conform_object(props, record, "", &mut bad);
    bad
}

fn conform_object(props: &[Prop], value: &mut Value, path: &str, bad: &mut Vec<Unconvertible>) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    for (name, shape) in props {
        if let Some(v) = obj.get_mut(*name) {
            let here = if path.is_empty() {
                (*name).to_owned()
            } else {
                format!("{path}.{name}")
            };
            conform_value(shape, v, &here, bad);
        }
    }
}

fn conform_value(shape: &Shape, v: &mut Value, path: &str, bad: &mut Vec<Unconvertible>) {
    match shape {
        Shape::DateTime => {
            if let Value::String(s) = v {
                match iso_date(s) {
                    Some(Some(iso)) => *v = Value::String(iso),
                    Some(None) => *v = Value::Null,
                    None => {
                        bad.push(Unconvertible {
                            field: path.to_owned(),
                            value: s.clone(),
                            rounded_to: None,
                        });
                        *v = Value::Null;
                    }
                }
            }
        }
        // A number the API sent as text (V2 decimals, the odd numeric id as a string).
        Shape::Decimal | Shape::Number | Shape::Integer => {
            if let Value::String(s) = v {
                let text = s.trim();
                let parsed = if text.is_empty() {
                    Some(Value::Null)
                } else if matches!(shape, Shape::Integer) {
                    text.parse::<i64>().ok().map(Value::from)
                } else {
                    text.parse::<f64>()
                        .ok()
                        .and_then(Number::from_f64)
                        .map(Value::Number)
                };
                match parsed {
                    Some(p) => {
                        // Rust prints a float without an exponent: comparable digit by digit.
                        if !matches!(shape, Shape::Integer)
                            && let Some(f) = p.as_f64()
                            && !same_decimal(text, &f.to_string())
                        {
                            bad.push(Unconvertible {
                                field: path.to_owned(),
                                value: s.clone(),
                                rounded_to: Some(f.to_string()),
                            });
                        }
                        *v = p;
                    }
                    None => {
                        bad.push(Unconvertible {
                            field: path.to_owned(),
                            value: s.clone(),
                            rounded_to: None,
                        });
                        *v = Value::Null;
                    }
                }
            }
        }
        // An id or code the API sent as a number where it documents text.
        Shape::String => {
            if let Value::Number(n) = v {
                *v = Value::String(n.to_string());
            }
        }
        Shape::Object(props) => match &*v {
            Value::Object(_) => conform_object(props, v, path, bad),
            Value::Null => {}
            // V2 sends an empty object as `[]`.
            Value::Array(items) if items.is_empty() => *v = Value::Null,
            other => {
                bad.push(Unconvertible {
                    field: path.to_owned(),
                    value: other.to_string(),
                    rounded_to: None,
                });
                *v = Value::Null;
            }
        },
        Shape::Array(item) => {
            if let Value::Array(items) = v {
                for i in items {
                    conform_value(item, i, path, bad);
                }
            }
        }
        Shape::Boolean | Shape::Any => {}
    }
}

/// Whether the decimal `text` and `formatted` (a number as JSON prints it) are the same
/// number, written alike but for a sign, leading and trailing zeros. Exponent forms are
/// taken as equal: bcsync only checks that plain decimals keep all their digits.
fn same_decimal(text: &str, formatted: &str) -> bool {
    fn digits(s: &str) -> Option<(bool, String, String)> {
        let (neg, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        if s.contains(['e', 'E']) {
            return None;
        }
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let int = int.trim_start_matches('0').to_owned();
        let frac = frac.trim_end_matches('0').to_owned();
        let zero = int.is_empty() && frac.is_empty();
        Some((neg && !zero, int, frac))
    }
    match (digits(text), digits(formatted)) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// A date as ISO 8601: `Some(Some(iso))`, `Some(None)` for an empty date, `None` when the
/// text is no date bcsync knows. ISO 8601 input is kept as sent (fractions included).
fn iso_date(s: &str) -> Option<Option<String>> {
    let text = s.trim();
    if text.is_empty() {
        return Some(None);
    }
    if chrono::DateTime::parse_from_rfc3339(text).is_ok() {
        return Some(Some(text.to_owned()));
    }
    bigcommerce::dates::parse_any(text).map(|d| Some(bigcommerce::dates::format_iso(d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    static ORDER_LIKE: &[Prop] = &[
        ("id", Shape::Integer),
        ("total_inc_tax", Shape::Decimal),
        ("date_created", Shape::DateTime),
        ("date_shipped", Shape::DateTime),
        (
            "lines",
            Shape::Array(&Shape::Object(&[
                ("price", Shape::Decimal),
                ("at", Shape::DateTime),
            ])),
        ),
    ];

    #[test]
    fn v2_dates_and_decimals_become_iso_and_numbers() {
        let mut r = json!({
            "id": 1,
            "total_inc_tax": "12.5000",
            "date_created": "Tue, 20 Nov 2012 00:00:00 +0000",
            "date_shipped": "",
            "lines": [{"price": "0.1000", "at": "2018-08-15T14:48:46.123+00:00"}],
            "other": "Tue, 20 Nov 2012 00:00:00 +0000",
        });
        assert!(conform(ORDER_LIKE, &mut r).is_empty());
        assert_eq!(
            r,
            json!({
                "id": 1,
                "total_inc_tax": 12.5,
                "date_created": "2012-11-20T00:00:00Z",
                "date_shipped": null,
                "lines": [{"price": 0.1, "at": "2018-08-15T14:48:46.123+00:00"}],
                "other": "Tue, 20 Nov 2012 00:00:00 +0000",
            })
        );
    }

    #[test]
    fn numbers_and_text_follow_the_declared_type() {
        static P: &[Prop] = &[("id", Shape::Integer), ("code", Shape::String)];
        let mut r = json!({"id": "42", "code": 7});
        assert!(conform(P, &mut r).is_empty());
        assert_eq!(r, json!({"id": 42, "code": "7"}));
    }

    #[test]
    fn unconvertible_values_are_reported_and_nulled() {
        let mut r = json!({"total_inc_tax": "n/a", "lines": [{"at": "someday"}]});
        let bad = conform(ORDER_LIKE, &mut r);
        assert_eq!(
            bad.iter().map(|b| b.field.as_str()).collect::<Vec<_>>(),
            vec!["total_inc_tax", "lines.at"]
        );
        assert_eq!(r, json!({"total_inc_tax": null, "lines": [{"at": null}]}));
    }

    #[test]
    fn an_empty_array_for_an_object_is_null_other_mismatches_are_reported() {
        static P: &[Prop] = &[
            ("billing", Shape::Object(&[("zip", Shape::String)])),
            ("shipping", Shape::Object(&[("zip", Shape::String)])),
            ("coupon", Shape::Object(&[("code", Shape::String)])),
            ("kept", Shape::Object(&[("zip", Shape::String)])),
        ];
        let mut r = json!({"billing": [], "shipping": [1], "coupon": "x", "kept": {"zip": 7}});
        let bad = conform(P, &mut r);
        assert_eq!(
            bad.iter()
                .map(|b| (b.field.as_str(), b.value.as_str()))
                .collect::<Vec<_>>(),
            vec![("shipping", "[1]"), ("coupon", "\"x\"")]
        );
        assert_eq!(
            r,
            json!({"billing": null, "shipping": null, "coupon": null, "kept": {"zip": "7"}})
        );
    }

    #[test]
    fn decimals_that_lose_digits_are_reported_as_rounded() {
        static P: &[Prop] = &[
            ("small", Shape::Decimal),
            ("big", Shape::Decimal),
            ("neg", Shape::Decimal),
        ];
        let mut r = json!({
            "small": " 0012.5000 ",
            "big": "12345678901234567890.1234",
            "neg": "-0.0000",
        });
        let bad = conform(P, &mut r);
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert_eq!(bad[0].field, "big");
        assert_eq!(bad[0].value, "12345678901234567890.1234");
        assert_eq!(bad[0].rounded_to.as_deref(), Some("12345678901234567000"));
        assert_eq!(r["small"], json!(12.5));
        assert!(r["big"].is_number());
    }

    #[test]
    fn nested_shapes_declare_properties_and_items() {
        let s = object_schema(ORDER_LIKE, &[]);
        assert_eq!(
            s["properties"]["lines"]["items"]["properties"]["price"]["type"],
            json!(["null", "number"])
        );
        assert_eq!(s["properties"]["date_created"]["format"], "date-time");
        assert_eq!(s["additionalProperties"], true);
    }
}
