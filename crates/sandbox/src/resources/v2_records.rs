//! What the V2 record lists share (`/v2/products`, docs/api-notes.md §3.5; `/v2/customers`,
//! §2.6): the `min_id`/`max_id` and `min_/max_date_created|modified` bounds, the list
//! handler (a bare array, 204 for an empty page) and the `/count` handler over a resource's
//! [`Filter`], and the 404 for a path id that is not a number.
//!
//! Each resource keeps its own filter fields and rendering; this module only holds the
//! parts that are the same rule everywhere, so a fix to one V2 list reaches the others.
//! V2 orders keep their own path (typed views over an id-ordered vector, for speed).

use std::collections::BTreeMap;

use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::paging::{self, v2_object};
use crate::query::Query;
use crate::resources::orders::v2_base;
use crate::state::{Shared, StoreData};

const V2: ApiVersion = ApiVersion::V2;
/// Page size cap of the V2 record lists, as every other list (docs/api-notes.md §0.4).
const MAX_LIMIT: u32 = 250;

/// An inclusive range; an absent end is open.
pub fn within<T: PartialOrd>(v: T, min: Option<T>, max: Option<T>) -> bool {
    min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m)
}

/// A text filter (`name`, `email`, ...): V2 lists match it whole and ignoring case, so it
/// is kept lowercased; an empty one is no filter.
pub fn text_filter(q: &Query, key: &str) -> Option<String> {
    q.get(key).filter(|s| !s.is_empty()).map(str::to_lowercase)
}

/// The id and date bounds every V2 record list takes, all inclusive.
pub struct Bounds {
    min_id: Option<i64>,
    max_id: Option<i64>,
    created: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    modified: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
}

impl Bounds {
    pub fn parse(q: &Query) -> Result<Self, ApiError> {
        Ok(Self {
            min_id: q.int("min_id")?,
            max_id: q.int("max_id")?,
            created: (
                q.v2_date("min_date_created")?,
                q.v2_date("max_date_created")?,
            ),
            modified: (
                q.v2_date("min_date_modified")?,
                q.v2_date("max_date_modified")?,
            ),
        })
    }

    /// Whether a record created and last modified at these times is within the date
    /// bounds.
    pub fn dates_match(&self, created: DateTime<Utc>, modified: DateTime<Utc>) -> bool {
        within(created, self.created.0, self.created.1)
            && within(modified, self.modified.0, self.modified.1)
    }

    /// The records within the id bounds that `keep` also takes, in id order.
    pub fn select<'a, T>(
        &self,
        records: &'a BTreeMap<i64, T>,
        keep: impl Fn(&T) -> bool,
    ) -> Vec<&'a T> {
        let lo = self.min_id.unwrap_or(i64::MIN);
        let hi = self.max_id.unwrap_or(i64::MAX);
        if lo > hi {
            return Vec::new();
        }
        records
            .range(lo..=hi)
            .map(|(_, r)| r)
            .filter(|r| keep(r))
            .collect()
    }
}

/// A V2 record list's filters, parsed once per request.
pub trait Filter: Sized {
    type Record;

    fn parse(q: &Query) -> Result<Self, ApiError>;

    /// The records that match, in id order.
    fn select<'a>(&self, data: &'a StoreData) -> Vec<&'a Self::Record>;
}

/// `GET` on a V2 record list: the page of `F`'s matches, each rendered against the store's
/// V2 base URL; 204 with no body for an empty page.
pub fn list<F: Filter>(
    st: &Shared,
    raw: Option<&str>,
    headers: &HeaderMap,
    render: impl Fn(&F::Record, &str) -> Value,
) -> ApiResult {
    let q = Query::parse(raw, V2);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let filter = F::parse(&q)?;
    let base = v2_base(headers, &st.config.store_hash);
    let data = st.data.read();
    let matches = filter.select(&data);
    Ok(paging::v2_list(&matches, page, limit, |r| render(r, &base)))
}

/// `GET .../count` on a V2 record list: `{count}` under the list's filters.
pub fn count<F: Filter>(st: &Shared, raw: Option<&str>) -> ApiResult {
    let q = Query::parse(raw, V2);
    let filter = F::parse(&q)?;
    let data = st.data.read();
    let n = filter.select(&data).len();
    Ok(v2_object(StatusCode::OK, json!({ "count": n })))
}

/// A record id from a V2 path; one that is not a number names no record (404).
pub fn record_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().map_err(|_| ApiError::not_found(V2))
}
