//! Query-string parsing shared by every handler: BigCommerce filter syntax
//! (`attr`, `attr:in`, `attr:min`, `attr:max`, `attr:like`, ... docs/api-notes.md §0.5), page/limit
//! with the 413 rule, and typed accessors that turn bad values into 400s of the right shape.

use crate::error::{ApiError, ApiVersion};

/// A parsed query string. Keeps every pair in order; keys keep their `:op` suffix.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub pairs: Vec<(String, String)>,
    pub version: Option<ApiVersion>,
}

impl Query {
    /// Parses a raw query string (`None` = no query). Percent-decoding and `+` as space.
    pub fn parse(raw: Option<&str>, version: ApiVersion) -> Self {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (decode(k), decode(v))
            })
            .collect();
        Self {
            pairs,
            version: Some(version),
        }
    }

    fn v(&self) -> ApiVersion {
        self.version.unwrap_or(ApiVersion::V3)
    }

    /// The last value given for `key` (exact key, including any `:op`).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A comma-separated list (`id:in=1,2,3`), `None` when absent. Empty items dropped.
    pub fn list(&self, key: &str) -> Option<Vec<String>> {
        self.get(key).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
    }

    /// A list of integers; a non-integer item is a 400 naming the parameter.
    pub fn int_list(&self, key: &str) -> Result<Option<Vec<i64>>, ApiError> {
        match self.list(key) {
            None => Ok(None),
            Some(items) => items
                .iter()
                .map(|s| {
                    s.parse::<i64>().map_err(|_| {
                        ApiError::bad_request(
                            self.v(),
                            format!("The filter '{key}' must be a list of integers; got {s:?}."),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
        }
    }

    /// An integer parameter; garbage is a 400 naming it.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(s) => s.parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(
                    self.v(),
                    format!("The parameter '{key}' must be an integer; got {s:?}."),
                )
            }),
        }
    }

    /// A boolean given as `true/false/1/0`.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some("1") | Some("true") => Ok(Some(true)),
            Some("0") | Some("false") => Ok(Some(false)),
            Some(s) => Err(ApiError::bad_request(
                self.v(),
                format!("The parameter '{key}' must be true or false; got {s:?}."),
            )),
        }
    }

    /// A V2 date filter (`min_date_created`, `max_date_modified`, ...): RFC 2822 or ISO 8601,
    /// as the V2 orders and customers lists take them (docs/api-notes.md §0.6); the other
    /// forms `dates::parse_filter` knows are accepted too. Garbage is a 400 naming the filter.
    pub fn v2_date(&self, key: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
        match self.get(key).filter(|s| !s.trim().is_empty()) {
            None => Ok(None),
            Some(s) => crate::dates::parse_filter(s, crate::dates::now(), false)
                .map(Some)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        self.v(),
                        format!(
                            "The filter '{key}' must be a date in RFC 2822 (Thu, 20 Apr 2017 11:32:00 -0400) or ISO 8601 (2017-04-20T11:32:00-04:00) form, URL-encoded ('+' as %2B); got {s:?}."
                        ),
                    )
                }),
        }
    }

    /// `direction=asc|desc` (default asc) as "descending"; anything else is a 400 naming
    /// the parameter.
    pub fn descending(&self) -> Result<bool, ApiError> {
        match self.get("direction").unwrap_or("asc") {
            "asc" | "" => Ok(false),
            "desc" => Ok(true),
            other => Err(ApiError::bad_request(
                self.v(),
                format!("The parameter 'direction' must be asc or desc; got {other:?}."),
            )),
        }
    }

    /// A required list of integers (`id:in` on a bulk delete): `None` when absent or empty,
    /// so the caller answers the omission in its resource's own words.
    pub fn required_ids(&self, key: &str) -> Result<Option<Vec<i64>>, ApiError> {
        Ok(self.int_list(key)?.filter(|ids| !ids.is_empty()))
    }

    /// `include=a,b` as a list (empty when absent).
    pub fn includes(&self) -> Vec<String> {
        self.list("include").unwrap_or_default()
    }

    pub fn has_include(&self, name: &str) -> bool {
        self.includes().iter().any(|i| i == name)
    }

    /// `page` (1-based, default 1) and `limit` (default 50, 413 above `max`,
    /// docs/api-notes.md §0.4).
    pub fn page_limit(&self, max: u32) -> Result<(u32, u32), ApiError> {
        let page = match self.int("page")? {
            None => 1,
            Some(p) if p >= 1 => p as u32,
            Some(_) => {
                return Err(ApiError::bad_request(
                    self.v(),
                    "The parameter 'page' must be 1 or more.",
                ));
            }
        };
        let limit = match self.int("limit")? {
            None => 50,
            Some(l) if l < 1 => {
                return Err(ApiError::bad_request(
                    self.v(),
                    "The parameter 'limit' must be 1 or more.",
                ));
            }
            Some(l) if l > max as i64 => return Err(ApiError::limit_too_large(self.v(), max)),
            Some(l) => l as u32,
        };
        Ok((page, limit))
    }

    /// The query string without `page`, `limit`, `before`, `after`: the base for `links`.
    pub fn links_base(&self) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "page" | "limit" | "before" | "after"))
            .cloned()
            .collect()
    }
}

/// The integer path parameter `name` (from a `Path<Vec<(String, String)>>`); `None` when
/// it is absent or not an integer, which handlers answer with their 404.
pub fn path_int(p: &[(String, String)], name: &str) -> Option<i64> {
    p.iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.parse().ok())
}

fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

/// Encodes pairs back to a query string (for `links`).
pub fn encode(pairs: &[(String, String)]) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const SET: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b':')
        .remove(b',');
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, SET),
                utf8_percent_encode(v, SET)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// SQL LIKE semantics for `:like` filters: `%` any run, `_` one char; without wildcards it
/// matches as a substring (BigCommerce treats `name:like=foo` as containing "foo").
pub fn like(haystack: &str, pattern: &str) -> bool {
    let h = haystack.to_lowercase();
    let p = pattern.to_lowercase();
    if !p.contains('%') && !p.contains('_') {
        return h.contains(&p);
    }
    like_match(h.as_bytes(), p.as_bytes())
}

fn like_match(h: &[u8], p: &[u8]) -> bool {
    match p.split_first() {
        None => h.is_empty(),
        Some((b'%', rest)) => (0..=h.len()).any(|i| like_match(&h[i..], rest)),
        Some((b'_', rest)) => !h.is_empty() && like_match(&h[1..], rest),
        Some((c, rest)) => h.first() == Some(c) && like_match(&h[1..], rest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_filters_and_lists() {
        let q = Query::parse(
            Some("id%3Ain=1,2,3&name:like=jo%25&limit=250&page=2"),
            ApiVersion::V3,
        );
        assert_eq!(q.int_list("id:in").unwrap(), Some(vec![1, 2, 3]));
        assert_eq!(q.get("name:like"), Some("jo%"));
        assert_eq!(q.page_limit(250).unwrap(), (2, 250));
    }

    #[test]
    fn limit_over_max_is_413() {
        let q = Query::parse(Some("limit=251"), ApiVersion::V3);
        assert_eq!(q.page_limit(250).unwrap_err().status.as_u16(), 413);
    }

    #[test]
    fn like_wildcards() {
        assert!(like("John Smith", "%smi%"));
        assert!(like("John Smith", "ohn"));
        assert!(!like("John Smith", "j_hx%"));
    }
}
