//! Request helpers every handler shares: the JSON body (Content-Type checked,
//! docs/brevo-api-notes.md §0.1), query strings decoded as a form (a raw `+` becomes a
//! space, as on Brevo: docs/brevo-api-notes.md §0.6), `limit`/`offset`/`sort` paging with
//! per-route caps (docs/brevo-api-notes.md §0.5), and date filters.

use axum::http::HeaderMap;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::error::BrevoError;

/// Parses a JSON request body. An empty body, a body without a JSON Content-Type, or
/// malformed JSON is a 400.
pub fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, BrevoError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BrevoError::missing(
            "The request body is missing; send a JSON object with Content-Type: application/json",
        ));
    }
    let is_json = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("application/json"));
    if !is_json {
        return Err(BrevoError::invalid(
            "Content-Type must be application/json; send the header with the JSON body",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        BrevoError::invalid(format!("The body is not valid JSON ({e}); fix its syntax"))
    })
}

/// The JSON body as an object.
pub fn json_object(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<serde_json::Map<String, Value>, BrevoError> {
    match json_body(headers, body)? {
        Value::Object(m) => Ok(m),
        _ => Err(BrevoError::invalid("The body must be a JSON object")),
    }
}

/// A decoded query string.
#[derive(Debug, Default)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        Query(
            raw.map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable parameter: `name=a&name=b`, `name[]=a`, `name=a,b`
    /// (docs/brevo-api-notes.md §1.4: the array encoding is UNCERTAIN, so all are taken).
    pub fn all(&self, name: &str) -> Vec<String> {
        let bracket = format!("{name}[]");
        self.0
            .iter()
            .filter(|(k, _)| *k == name || *k == bracket)
            .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_owned()))
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// `limit` with its default and maximum; above the maximum (or not a number) is 400.
    pub fn limit(&self, default: usize, max: usize) -> Result<usize, BrevoError> {
        match self.get("limit") {
            None | Some("") => Ok(default),
            Some(v) => {
                let n: usize = v.parse().map_err(|_| {
                    BrevoError::invalid(format!("limit {v:?} is not a whole number"))
                })?;
                if n > max {
                    // docs/brevo-api-notes.md §0.5: the code is UNCERTAIN; out_of_range chosen.
                    return Err(BrevoError::out_of_range(format!(
                        "limit must be at most {max} on this route; got {n}"
                    )));
                }
                Ok(n)
            }
        }
    }

    pub fn offset(&self) -> Result<usize, BrevoError> {
        match self.get("offset") {
            None | Some("") => Ok(0),
            Some(v) => v
                .parse()
                .map_err(|_| BrevoError::invalid(format!("offset {v:?} is not a whole number"))),
        }
    }

    /// `sort=asc|desc`, default desc (docs/brevo-api-notes.md §0.5). True for ascending.
    pub fn ascending(&self) -> Result<bool, BrevoError> {
        match self.get("sort") {
            None | Some("") | Some("desc") => Ok(false),
            Some("asc") => Ok(true),
            Some(v) => Err(BrevoError::invalid(format!(
                "sort must be asc or desc; got {v:?}"
            ))),
        }
    }

    /// An RFC 3339 timestamp filter (`modifiedSince`, `createdSince`).
    pub fn since(&self, name: &str) -> Result<Option<DateTime<Utc>>, BrevoError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) => parse_time(v).map(Some).ok_or_else(|| {
                BrevoError::invalid(format!(
                    "{name} {v:?} is not a date-time like 2026-01-02T03:04:05.000Z; \
                     URL-encode a + offset as %2B"
                ))
            }),
        }
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, BrevoError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(BrevoError::invalid(format!(
                "{name} must be true or false; got {v:?}"
            ))),
        }
    }
}

/// An RFC 3339 date-time, or a `YYYY-MM-DD` day (midnight UTC).
pub fn parse_time(v: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// One page of `items` (already sorted ascending by creation).
pub fn page<T: Clone>(items: &[T], asc: bool, offset: usize, limit: usize) -> Vec<T> {
    if asc {
        items.iter().skip(offset).take(limit).cloned().collect()
    } else {
        items
            .iter()
            .rev()
            .skip(offset)
            .take(limit)
            .cloned()
            .collect()
    }
}

/// A plausible email: one `@`, something on both sides, a dot in the domain, no spaces.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !s.chars().any(char::is_whitespace)
}

/// Emails are trimmed and lower-cased (docs/brevo-api-notes.md §8.2).
pub fn normalise_email(s: &str) -> String {
    s.trim().to_lowercase()
}

/// A phone with its country code in any accepted form (`33612…`, `+33612…`, `0033612…`)
/// to digits only (docs/brevo-api-notes.md §2.5). `None` if it is not a number with a
/// country code.
pub fn normalise_phone(v: &Value) -> Option<String> {
    let raw = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let cleaned: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = if let Some(d) = cleaned.strip_prefix('+') {
        d.to_owned()
    } else if let Some(d) = cleaned.strip_prefix("00") {
        d.to_owned()
    } else {
        cleaned
    };
    let ok = (8..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decodes_plus_as_space_and_arrays_in_every_form() {
        let q = Query::parse(Some(
            "modifiedSince=2026-01-01T00:00:00%2B01:00&listIds=1&listIds=2,3&ids[]=a&x=a+b",
        ));
        assert_eq!(q.get("x"), Some("a b"));
        assert_eq!(q.all("listIds"), vec!["1", "2", "3"]);
        assert_eq!(q.all("ids"), vec!["a"]);
        assert!(q.since("modifiedSince").unwrap().is_some());
        let raw_plus = Query::parse(Some("modifiedSince=2026-01-01T00:00:00+01:00"));
        assert!(raw_plus.since("modifiedSince").is_err());
    }

    #[test]
    fn limits_and_sort() {
        let q = Query::parse(Some("limit=1001&sort=up"));
        assert!(q.limit(50, 1000).is_err());
        assert!(q.ascending().is_err());
        assert_eq!(Query::parse(None).limit(50, 1000), Ok(50));
        assert_eq!(page(&[1, 2, 3, 4], false, 1, 2), vec![3, 2]);
        assert_eq!(page(&[1, 2, 3, 4], true, 3, 2), vec![4]);
    }

    #[test]
    fn phones_and_emails() {
        assert_eq!(
            normalise_phone(&Value::from("+33 6 12 34 56 78")).as_deref(),
            Some("33612345678")
        );
        assert_eq!(
            normalise_phone(&Value::from("0033612345678")).as_deref(),
            Some("33612345678")
        );
        assert_eq!(normalise_phone(&Value::from("0612345678")), None);
        assert_eq!(normalise_phone(&Value::from("abc")), None);
        assert!(is_email("a.b@example.com"));
        assert!(!is_email("a b@example.com"));
        assert!(!is_email("example.com"));
        assert_eq!(normalise_email(" A@Example.COM "), "a@example.com");
    }

    proptest::proptest! {
        /// Walking the pages with offset += limit visits every item once, in order.
        #[test]
        fn pages_cover_every_item_once(n in 0usize..300, limit in 1usize..60, asc: bool) {
            let items: Vec<usize> = (0..n).collect();
            let mut seen = Vec::new();
            let mut offset = 0;
            loop {
                let p = page(&items, asc, offset, limit);
                proptest::prop_assert!(p.len() <= limit);
                let short = p.len() < limit;
                seen.extend(p);
                offset += limit;
                if short {
                    break;
                }
            }
            let mut expected = items.clone();
            if !asc {
                expected.reverse();
            }
            proptest::prop_assert_eq!(seen, expected);
        }
    }
}
