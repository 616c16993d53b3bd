//! Typed list filters in BigCommerce's syntax (docs/api-notes.md §0.5): `attr`, `attr:in`,
//! `attr:not_in`, `attr:min`, `attr:max`, `attr:greater`, `attr:less`, `attr:like`, and the
//! `include_fields` / `exclude_fields` projection. Parsed once per request, then applied to
//! each record by reference.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiVersion};
use crate::query::{Query, like};

const V3: ApiVersion = ApiVersion::V3;

/// Integer filters on one attribute.
#[derive(Debug, Default, Clone)]
pub struct IntFilter {
    pub eq: Option<i64>,
    pub any_of: Option<Vec<i64>>,
    pub none_of: Option<Vec<i64>>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub greater: Option<i64>,
    pub less: Option<i64>,
}

impl IntFilter {
    pub fn parse(q: &Query, attr: &str) -> Result<Self, ApiError> {
        Ok(Self {
            eq: q.int(attr)?,
            any_of: q.int_list(&format!("{attr}:in"))?,
            none_of: q.int_list(&format!("{attr}:not_in"))?,
            min: q.int(&format!("{attr}:min"))?,
            max: q.int(&format!("{attr}:max"))?,
            greater: q.int(&format!("{attr}:greater"))?,
            less: q.int(&format!("{attr}:less"))?,
        })
    }

    pub fn is_set(&self) -> bool {
        self.eq.is_some()
            || self.any_of.is_some()
            || self.none_of.is_some()
            || self.min.is_some()
            || self.max.is_some()
            || self.greater.is_some()
            || self.less.is_some()
    }

    pub fn matches(&self, v: i64) -> bool {
        self.eq.is_none_or(|e| v == e)
            && self.any_of.as_ref().is_none_or(|l| l.contains(&v))
            && self.none_of.as_ref().is_none_or(|l| !l.contains(&v))
            && self.min.is_none_or(|m| v >= m)
            && self.max.is_none_or(|m| v <= m)
            && self.greater.is_none_or(|m| v > m)
            && self.less.is_none_or(|m| v < m)
    }

    /// The inclusive id range these filters allow, so lists keyed by id can walk only
    /// that range of their `BTreeMap` instead of the whole table.
    pub fn range(&self) -> (i64, i64) {
        let mut lo = i64::MIN;
        let mut hi = i64::MAX;
        if let Some(e) = self.eq {
            lo = lo.max(e);
            hi = hi.min(e);
        }
        if let Some(m) = self.min {
            lo = lo.max(m);
        }
        if let Some(m) = self.greater {
            lo = lo.max(m.saturating_add(1));
        }
        if let Some(m) = self.max {
            hi = hi.min(m);
        }
        if let Some(m) = self.less {
            hi = hi.min(m.saturating_sub(1));
        }
        (lo, hi)
    }
}

/// Number filters (`price`, `weight`) with exact and range forms.
#[derive(Debug, Default, Clone)]
pub struct NumFilter {
    pub eq: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub greater: Option<f64>,
    pub less: Option<f64>,
}

impl NumFilter {
    pub fn parse(q: &Query, attr: &str) -> Result<Self, ApiError> {
        let num = |key: String| -> Result<Option<f64>, ApiError> {
            match q.get(&key) {
                None | Some("") => Ok(None),
                Some(s) => s.parse::<f64>().map(Some).map_err(|_| {
                    ApiError::bad_request(
                        V3,
                        format!("The filter '{key}' must be a number; got {s:?}."),
                    )
                }),
            }
        };
        Ok(Self {
            eq: num(attr.to_owned())?,
            min: num(format!("{attr}:min"))?,
            max: num(format!("{attr}:max"))?,
            greater: num(format!("{attr}:greater"))?,
            less: num(format!("{attr}:less"))?,
        })
    }

    pub fn is_set(&self) -> bool {
        self.eq.is_some()
            || self.min.is_some()
            || self.max.is_some()
            || self.greater.is_some()
            || self.less.is_some()
    }

    pub fn matches(&self, v: f64) -> bool {
        self.eq.is_none_or(|e| (v - e).abs() < 1e-9)
            && self.min.is_none_or(|m| v >= m)
            && self.max.is_none_or(|m| v <= m)
            && self.greater.is_none_or(|m| v > m)
            && self.less.is_none_or(|m| v < m)
    }
}

/// Text filters: exact (case-insensitive, as MySQL compares), `:in`, `:like`.
#[derive(Debug, Default, Clone)]
pub struct TextFilter {
    pub eq: Option<String>,
    pub any_of: Option<Vec<String>>,
    pub like: Option<String>,
}

impl TextFilter {
    pub fn parse(q: &Query, attr: &str) -> Self {
        Self {
            eq: q.get(attr).filter(|s| !s.is_empty()).map(str::to_lowercase),
            any_of: q
                .list(&format!("{attr}:in"))
                .map(|l| l.iter().map(|s| s.to_lowercase()).collect()),
            like: q
                .get(&format!("{attr}:like"))
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        }
    }

    pub fn is_set(&self) -> bool {
        self.eq.is_some() || self.any_of.is_some() || self.like.is_some()
    }

    pub fn matches(&self, v: &str) -> bool {
        if !self.is_set() {
            return true;
        }
        let lower = v.to_lowercase();
        self.eq.as_ref().is_none_or(|e| *e == lower)
            && self.any_of.as_ref().is_none_or(|l| l.contains(&lower))
            && self.like.as_ref().is_none_or(|p| like(v, p))
    }
}

/// Date filters (`date_modified`, `:min`, `:max`).
#[derive(Debug, Default, Clone)]
pub struct DateFilter {
    pub eq: Option<DateTime<Utc>>,
    pub min: Option<DateTime<Utc>>,
    pub max: Option<DateTime<Utc>>,
}

impl DateFilter {
    /// `bare_date_gets_now_time`: the product quirk where `2024-05-14` means that day at
    /// the current time of the request, not midnight (docs/api-notes.md §0.6, §12.4).
    pub fn parse(
        q: &Query,
        attr: &str,
        now: DateTime<Utc>,
        bare_date_gets_now_time: bool,
    ) -> Result<Self, ApiError> {
        let date = |key: String| -> Result<Option<DateTime<Utc>>, ApiError> {
            match q.get(&key) {
                None | Some("") => Ok(None),
                Some(s) => crate::dates::parse_filter(s, now, bare_date_gets_now_time).map(Some).ok_or_else(|| {
                    ApiError::bad_request(
                        V3,
                        format!("The filter '{key}' must be a date such as 2024-05-14T09:34:00Z; got {s:?}."),
                    )
                }),
            }
        };
        Ok(Self {
            eq: date(attr.to_owned())?,
            min: date(format!("{attr}:min"))?,
            max: date(format!("{attr}:max"))?,
        })
    }

    pub fn is_set(&self) -> bool {
        self.eq.is_some() || self.min.is_some() || self.max.is_some()
    }

    pub fn matches(&self, v: DateTime<Utc>) -> bool {
        self.eq.is_none_or(|e| v == e)
            && self.min.is_none_or(|m| v >= m)
            && self.max.is_none_or(|m| v <= m)
    }
}

/// `include_fields` / `exclude_fields` (docs/api-notes.md §0.5): the id field always stays.
#[derive(Debug, Default, Clone)]
pub struct FieldSelection {
    include: Option<HashSet<String>>,
    exclude: HashSet<String>,
}

impl FieldSelection {
    pub fn parse(q: &Query) -> Self {
        Self {
            include: q
                .list("include_fields")
                .filter(|l| !l.is_empty())
                .map(|l| l.into_iter().collect()),
            exclude: q
                .list("exclude_fields")
                .unwrap_or_default()
                .into_iter()
                .collect(),
        }
    }

    /// Projects `obj`, never dropping `id_field`.
    pub fn apply(&self, mut obj: Map<String, Value>, id_field: &str) -> Map<String, Value> {
        if self.include.is_none() && self.exclude.is_empty() {
            return obj;
        }
        obj.retain(|k, _| {
            k == id_field
                || (self.include.as_ref().is_none_or(|inc| inc.contains(k))
                    && !self.exclude.contains(k))
        });
        obj
    }
}

/// `direction=asc|desc` (default asc); anything else is a 422 naming the parameter.
pub fn descending(q: &Query) -> Result<bool, ApiError> {
    match q.get("direction") {
        None | Some("") | Some("asc") | Some("ASC") => Ok(false),
        Some("desc") | Some("DESC") => Ok(true),
        Some(other) => Err(ApiError::unprocessable(
            V3,
            format!("The direction {other:?} is not valid; use asc or desc."),
        )
        .with_error("direction", "must be asc or desc")),
    }
}

/// The id in a path segment; anything but an integer is simply "not found".
pub fn path_id(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>().map_err(|_| ApiError::not_found(V3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_filter_range_and_match() {
        let q = Query::parse(Some("id:min=3&id:less=10&id:not_in=5"), V3);
        let f = IntFilter::parse(&q, "id").unwrap();
        assert_eq!(f.range(), (3, 9));
        assert!(f.matches(4));
        assert!(!f.matches(5));
        assert!(!f.matches(10));
    }

    #[test]
    fn field_selection_keeps_id() {
        let q = Query::parse(Some("include_fields=name&exclude_fields=id"), V3);
        let sel = FieldSelection::parse(&q);
        let mut m = Map::new();
        m.insert("id".into(), Value::from(1));
        m.insert("name".into(), Value::from("a"));
        m.insert("sku".into(), Value::from("b"));
        let out = sel.apply(m, "id");
        assert_eq!(out.keys().collect::<Vec<_>>(), ["id", "name"]);
    }
}
