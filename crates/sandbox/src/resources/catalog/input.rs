//! Reading catalog write bodies into typed records, collecting every problem instead of
//! stopping at the first, keyed the way BigCommerce keys `errors` (docs/api-notes.md §0.3): by
//! field (`price`) on single writes, by index and field (`1.price`) in batches.
//!
//! Each setter writes its target only when the key is present and valid, so the same code
//! applies a create (onto defaults) and a partial update (onto a copy of the record).

use std::sync::LazyLock;

use serde_json::{Map, Value};

static EMPTY: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

/// Largest value BigCommerce accepts for dimensions and weights (docs/api-notes.md §3.3).
pub const MAX_DIMENSION: f64 = 9_999_999_999.0;
/// Upper bound for money fields; the spec gives none, this only rejects absurd input.
pub const MAX_MONEY: f64 = 1e12;
pub const MAX_INT32: i64 = 2_147_483_647;

#[derive(Debug)]
pub struct Input<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
    pub errors: Map<String, Value>,
}

impl<'a> Input<'a> {
    /// Reads `v`, which must be an object; `prefix` is prepended to error keys (`"1."`).
    pub fn new(v: &'a Value, prefix: &str) -> Self {
        let mut input = Self {
            obj: &EMPTY,
            prefix: prefix.to_owned(),
            errors: Map::new(),
        };
        match v.as_object() {
            Some(obj) => input.obj = obj,
            None => {
                let key = prefix.trim_end_matches('.');
                let key = if key.is_empty() { "body" } else { key };
                input.errors.insert(
                    key.to_owned(),
                    Value::String("must be a JSON object".into()),
                );
            }
        }
        input
    }

    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn key(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    pub fn fail(&mut self, field: &str, msg: impl Into<String>) {
        let key = self.key(field);
        self.errors.insert(key, Value::String(msg.into()));
    }

    pub fn has(&self, field: &str) -> bool {
        self.obj.contains_key(field)
    }

    pub fn get(&self, field: &str) -> Option<&'a Value> {
        self.obj.get(field)
    }

    /// Records "is required" for each absent (or null) field.
    pub fn require(&mut self, fields: &[&str]) {
        for f in fields {
            if self.obj.get(*f).is_none_or(Value::is_null) {
                self.fail(f, format!("{f} is required"));
            }
        }
    }

    /// A string of `min..=max` characters.
    pub fn text(&mut self, field: &str, min: usize, max: usize, out: &mut String) {
        match self.obj.get(field) {
            None => {}
            Some(Value::Null) if min == 0 => out.clear(),
            Some(Value::String(s)) => {
                let n = s.chars().count();
                if n < min || n > max {
                    self.fail(
                        field,
                        format!("{field} must be {min} to {max} characters long"),
                    );
                } else {
                    s.clone_into(out);
                }
            }
            Some(_) => self.fail(field, format!("{field} must be a string")),
        }
    }

    /// A JSON number within `min..=max`.
    pub fn number(&mut self, field: &str, min: f64, max: f64, out: &mut f64) {
        if let Some(v) = self.obj.get(field)
            && let Some(n) = self.num(field, v, min, max)
        {
            *out = n;
        }
    }

    /// A nullable number: `null` means "inherit from the product" (docs/api-notes.md §3.4).
    pub fn opt_number(&mut self, field: &str, min: f64, max: f64, out: &mut Option<f64>) {
        match self.obj.get(field) {
            None => {}
            Some(Value::Null) => *out = None,
            Some(v) => {
                if let Some(n) = self.num(field, v, min, max) {
                    *out = Some(n);
                }
            }
        }
    }

    fn num(&mut self, field: &str, v: &Value, min: f64, max: f64) -> Option<f64> {
        match v.as_f64() {
            Some(n) if n >= min && n <= max => Some(n),
            Some(_) => {
                self.fail(field, format!("{field} must be between {min} and {max}"));
                None
            }
            None => {
                self.fail(field, format!("{field} must be a number"));
                None
            }
        }
    }

    /// A JSON integer within `min..=max`.
    pub fn int(&mut self, field: &str, min: i64, max: i64, out: &mut i64) {
        if let Some(v) = self.obj.get(field) {
            match v.as_i64() {
                Some(n) if n >= min && n <= max => *out = n,
                Some(_) => self.fail(field, format!("{field} must be between {min} and {max}")),
                None => self.fail(field, format!("{field} must be an integer")),
            }
        }
    }

    /// An integer that must be present (required ids such as `parent_id`).
    pub fn req_int(&mut self, field: &str, min: i64, max: i64) -> Option<i64> {
        let mut n = i64::MIN;
        if !self.has(field) || self.obj.get(field).is_some_and(Value::is_null) {
            self.fail(field, format!("{field} is required"));
            return None;
        }
        let before = self.errors.len();
        self.int(field, min, max, &mut n);
        (self.errors.len() == before).then_some(n)
    }

    pub fn flag(&mut self, field: &str, out: &mut bool) {
        match self.obj.get(field) {
            None => {}
            Some(Value::Bool(b)) => *out = *b,
            Some(_) => self.fail(field, format!("{field} must be true or false")),
        }
    }

    /// One of a fixed set of values (exact spelling, as the API documents them).
    pub fn choice(
        &mut self,
        field: &str,
        allowed: &'static [&'static str],
        out: &mut &'static str,
    ) {
        match self.obj.get(field) {
            None => {}
            Some(Value::String(s)) => match allowed.iter().find(|a| **a == s.as_str()) {
                Some(a) => *out = a,
                None => self.fail(
                    field,
                    format!("{field} must be one of: {}", allowed.join(", ")),
                ),
            },
            Some(_) => self.fail(
                field,
                format!("{field} must be one of: {}", allowed.join(", ")),
            ),
        }
    }

    pub fn texts(&mut self, field: &str, out: &mut Vec<String>) {
        match self.obj.get(field) {
            None => {}
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                *out = items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
            }
            Some(_) => self.fail(field, format!("{field} must be an array of strings")),
        }
    }

    pub fn ints(&mut self, field: &str, out: &mut Vec<i64>) {
        match self.obj.get(field) {
            None => {}
            Some(Value::Array(items)) if items.iter().all(|v| v.as_i64().is_some()) => {
                *out = items.iter().filter_map(Value::as_i64).collect();
            }
            Some(_) => self.fail(field, format!("{field} must be an array of integers")),
        }
    }

    /// `custom_url: {url, is_customized}`; returns whether a new URL was given.
    pub fn custom_url(&mut self, field: &str, url: &mut String, customized: &mut bool) -> bool {
        let Some(v) = self.obj.get(field) else {
            return false;
        };
        let Some(obj) = v.as_object() else {
            self.fail(
                field,
                format!("{field} must be an object with url and is_customized"),
            );
            return false;
        };
        match obj.get("url") {
            Some(Value::String(s)) if s.starts_with('/') && s.len() <= 255 && s.is_ascii() => {
                s.clone_into(url);
                *customized = obj
                    .get("is_customized")
                    .and_then(Value::as_bool)
                    .unwrap_or(true);
                true
            }
            _ => {
                self.fail(
                    &format!("{field}.url"),
                    "url must be a path starting with '/', in Latin letters, at most 255 characters",
                );
                false
            }
        }
    }

    /// An array field (inline sub-resources); a non-array is an error.
    pub fn array(&mut self, field: &str) -> Option<&'a Vec<Value>> {
        match self.obj.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(items),
            Some(_) => {
                self.fail(field, format!("{field} must be an array"));
                None
            }
        }
    }

    /// Moves this input's errors into `all`.
    pub fn drain_into(self, all: &mut Map<String, Value>) {
        all.extend(self.errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_errors_by_prefixed_key() {
        let body = json!({"price": -1, "name": "", "weight": 0});
        let mut input = Input::new(&body, "1.");
        let (mut price, mut weight, mut name) = (5.0, 5.0, "x".to_owned());
        input.number("price", 0.0, MAX_MONEY, &mut price);
        input.number("weight", 0.0, MAX_DIMENSION, &mut weight);
        input.text("name", 1, 250, &mut name);
        input.require(&["type"]);
        assert_eq!(price, 5.0);
        assert_eq!(weight, 0.0);
        let keys: Vec<&String> = input.errors.keys().collect();
        assert_eq!(keys, ["1.price", "1.name", "1.type"]);
    }

    #[test]
    fn non_object_is_an_error() {
        let body = json!([1]);
        let input = Input::new(&body, "");
        assert!(input.errors.contains_key("body"));
    }
}
