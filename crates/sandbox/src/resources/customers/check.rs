//! Field checks for write bodies. Every batch is validated completely before anything is
//! written (a batch is all or nothing), so checks collect messages into one `errors` map
//! instead of returning at the first problem. Keys carry the item's array index
//! (`"2.first_name"`), the pattern BigCommerce's batch endpoints use (docs/api-notes.md §0.3).
//! Also used by channels and hooks, whose bodies are single objects (empty prefix), and
//! home of [`DateRange`], the date filter every list here shares.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::dates;
use crate::error::{ApiError, ApiVersion};
use crate::query::Query;

/// Checks the fields of one JSON object, writing problems into a shared `errors` map under
/// `prefix` + field name.
pub(crate) struct Check<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
    errors: &'a mut Map<String, Value>,
}

impl<'a> Check<'a> {
    /// `prefix` is e.g. `"0."` for batch item 0, or `""` for a single-object body.
    pub fn new(
        obj: &'a Map<String, Value>,
        prefix: impl Into<String>,
        errors: &'a mut Map<String, Value>,
    ) -> Self {
        Self {
            obj,
            prefix: prefix.into(),
            errors,
        }
    }

    pub fn obj(&self) -> &'a Map<String, Value> {
        self.obj
    }

    /// Records a problem with `field`.
    pub fn fail(&mut self, field: &str, msg: impl Into<String>) {
        self.errors
            .insert(format!("{}{field}", self.prefix), Value::String(msg.into()));
    }

    /// A string field of `min..=max` characters. Absent or null: `None`, and an error when
    /// `required`. A wrong type or length is an error and `None`.
    pub fn string(
        &mut self,
        field: &str,
        required: bool,
        min: usize,
        max: usize,
    ) -> Option<String> {
        match self.obj.get(field) {
            None | Some(Value::Null) => {
                if required {
                    self.fail(field, format!("{field} is required."));
                }
                None
            }
            Some(Value::String(s)) => {
                let n = s.chars().count();
                if n < min || n > max {
                    if min > 0 && n == 0 {
                        self.fail(field, format!("{field} is required and may not be empty."));
                    } else {
                        self.fail(
                            field,
                            format!("{field} must be between {min} and {max} characters long."),
                        );
                    }
                    None
                } else {
                    Some(s.clone())
                }
            }
            Some(_) => {
                self.fail(field, format!("{field} must be a string."));
                None
            }
        }
    }

    /// An integer field.
    pub fn int(&mut self, field: &str, required: bool) -> Option<i64> {
        match self.obj.get(field) {
            None | Some(Value::Null) => {
                if required {
                    self.fail(field, format!("{field} is required."));
                }
                None
            }
            Some(v) => match v.as_i64() {
                Some(n) => Some(n),
                None => {
                    self.fail(field, format!("{field} must be an integer."));
                    None
                }
            },
        }
    }

    /// A boolean field (optional).
    pub fn bool(&mut self, field: &str) -> Option<bool> {
        match self.obj.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.fail(field, format!("{field} must be true or false."));
                None
            }
        }
    }

    /// One of a fixed set of strings.
    pub fn one_of(&mut self, field: &str, required: bool, allowed: &[&str]) -> Option<String> {
        let s = self.string(field, required, 0, 255)?;
        if allowed.contains(&s.as_str()) {
            Some(s)
        } else {
            self.fail(
                field,
                format!("{field} must be one of: {}.", allowed.join(", ")),
            );
            None
        }
    }
}

/// Each item of a batch as an object; a non-object item is recorded under its index.
pub(crate) fn objects<'a>(
    items: &'a [Value],
    errors: &mut Map<String, Value>,
) -> Vec<Option<&'a Map<String, Value>>> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Object(m) => Some(m),
            _ => {
                errors.insert(
                    i.to_string(),
                    Value::String("Each item must be a JSON object.".into()),
                );
                None
            }
        })
        .collect()
}

/// `attr`, `attr:min`, `attr:max` date filters, in any form `dates::parse_filter` knows.
#[derive(Debug, Default, Clone)]
pub(crate) struct DateRange {
    /// Inclusive bounds; an exact filter becomes a one-second (or, for a bare date,
    /// one-day) window.
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

impl DateRange {
    pub fn parse(q: &Query, field: &str) -> Result<Self, ApiError> {
        let v = q.version.unwrap_or(ApiVersion::V3);
        let now = dates::now();
        let parse = |key: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
            match q.get(key).filter(|s| !s.trim().is_empty()) {
                None => Ok(None),
                Some(s) => dates::parse_filter(s, now, false).map(Some).ok_or_else(|| {
                    ApiError::bad_request(
                        v,
                        format!("The filter '{key}' must be a date such as 2024-05-14T09:34:00Z; got {s:?}."),
                    )
                }),
            }
        };
        let mut r = Self {
            from: parse(&format!("{field}:min"))?,
            to: parse(&format!("{field}:max"))?,
        };
        if let Some(raw) = q.get(field).filter(|s| !s.trim().is_empty())
            && let Some(exact) = parse(field)?
        {
            // A bare date means that whole day; anything else names one second.
            let span = if raw.trim().len() == 10 { 86_399 } else { 0 };
            let end = exact + chrono::Duration::seconds(span);
            r.from = Some(r.from.map_or(exact, |f| f.max(exact)));
            r.to = Some(r.to.map_or(end, |t| t.min(end)));
        }
        Ok(r)
    }

    pub fn is_open(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }

    pub fn contains(&self, dt: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| dt >= f) && self.to.is_none_or(|t| dt <= t)
    }
}
