//! Pagination, in one place: turning one response into a [`Page`] and deciding whether
//! another page follows, for the three styles the API uses (docs/api-notes.md §0.4, §12.1-12.2):
//!
//! - V3 offset: `{data, meta.pagination}`; more while `current_page < total_pages`
//!   (`links.next` is not reliable, so it is not consulted).
//! - V3 cursor: `meta.cursor_pagination.end_cursor`; more while the page is full, has an
//!   end cursor and a `links.next`.
//! - V2: bare arrays with no totals; the end is a 204, an empty body, `[]` or a short page.
//!
//! Some V3 sub-collections answer 204 when empty: that is an empty, final page. An empty
//! page always ends a collection, whatever the metadata says, so a server that keeps
//! promising more pages cannot loop us forever.
//!
//! The `*_pages` streams on [`crate::Client`] build on these rules and fetch one page per
//! poll.

use futures::Stream;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::request::ApiResponse;

/// The largest page size BigCommerce documents (docs/api-notes.md §0.4).
pub const MAX_PAGE_SIZE: u32 = crate::limits::MAX_PAGE_SIZE;

/// One page of a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub meta: PageMeta,
}

/// What a page says about the collection. Fields the style does not provide are `None`
/// (V2 has no totals; cursor pages past the first have no page numbers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageMeta {
    pub page: Option<u32>,
    pub total_pages: Option<u32>,
    pub total: Option<u64>,
    pub end_cursor: Option<String>,
    /// Whether another page should be requested.
    pub has_more: bool,
}

impl<T> Page<T> {
    /// The final, empty page (a 204 or an empty body).
    pub fn empty(page: Option<u32>) -> Self {
        Self {
            items: Vec::new(),
            meta: PageMeta {
                page,
                ..PageMeta::default()
            },
        }
    }
}

/// Checks a requested page size against the documented maximum.
pub(crate) fn check_limit(limit: u32) -> Result<()> {
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(Error::Config(format!(
            "page size {limit} is out of range; use 1 to {MAX_PAGE_SIZE} (larger limits get HTTP 413)"
        )));
    }
    Ok(())
}

fn u64_field(v: &Value, key: &str) -> Option<u64> {
    match v.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn u32_field(v: &Value, key: &str) -> Option<u32> {
    u64_field(v, key).and_then(|n| u32::try_from(n).ok())
}

fn non_empty_str(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn decode_error(method: &str, path: &str, status: u16, message: impl Into<String>) -> Error {
    Error::Decode {
        method: method.to_owned(),
        path: path.to_owned(),
        status,
        message: message.into(),
    }
}

/// Takes `data` out of a V3 envelope, which must be an array.
fn v3_items(body: &mut Value, path: &str, status: u16) -> Result<Vec<Value>> {
    match body.get_mut("data").map(Value::take) {
        Some(Value::Array(items)) => Ok(items),
        Some(Value::Null) | None => Err(decode_error(
            "GET",
            path,
            status,
            "expected a V3 envelope {\"data\": [...], \"meta\": {...}}",
        )),
        Some(_) => Err(decode_error(
            "GET",
            path,
            status,
            "`data` is not an array; is this a collection?",
        )),
    }
}

/// V3 offset page metadata. `requested_page` is what we asked for, used when the meta is
/// missing. Without `meta.pagination` a full page is taken to mean more may follow.
pub fn v3_offset_meta(
    meta: Option<&Value>,
    requested_page: u32,
    item_count: usize,
    limit: u32,
) -> PageMeta {
    let pagination = meta
        .and_then(|m| m.get("pagination"))
        .filter(|p| p.is_object());
    let Some(p) = pagination else {
        return PageMeta {
            page: Some(requested_page),
            has_more: item_count > 0 && item_count >= limit as usize,
            ..PageMeta::default()
        };
    };
    let page = u32_field(p, "current_page").unwrap_or(requested_page);
    let total_pages = u32_field(p, "total_pages");
    PageMeta {
        page: Some(page),
        total_pages,
        total: u64_field(p, "total"),
        end_cursor: None,
        has_more: item_count > 0 && total_pages.is_some_and(|t| page < t),
    }
}

/// V3 cursor page metadata: more only when the page is full and the server gave both an
/// end cursor and a `links.next`. The first page also carries offset totals; keep them.
pub fn v3_cursor_meta(meta: Option<&Value>, item_count: usize, limit: u32) -> PageMeta {
    let cursor = meta
        .and_then(|m| m.get("cursor_pagination"))
        .filter(|c| c.is_object());
    let offset = meta
        .and_then(|m| m.get("pagination"))
        .filter(|p| p.is_object());
    let end_cursor = cursor.and_then(|c| non_empty_str(c.get("end_cursor")));
    let has_next_link = cursor
        .and_then(|c| c.get("links"))
        .and_then(|l| non_empty_str(l.get("next")))
        .is_some();
    PageMeta {
        page: offset.and_then(|p| u32_field(p, "current_page")),
        total_pages: offset.and_then(|p| u32_field(p, "total_pages")),
        total: offset.and_then(|p| u64_field(p, "total")),
        has_more: item_count > 0
            && item_count >= limit as usize
            && end_cursor.is_some()
            && has_next_link,
        end_cursor,
    }
}

/// V2 page metadata: no totals; a short page is the last.
pub fn v2_meta(page: u32, item_count: usize, limit: u32) -> PageMeta {
    PageMeta {
        page: Some(page),
        has_more: item_count > 0 && item_count >= limit as usize,
        ..PageMeta::default()
    }
}

/// One offset page (V3 or V2) as it arrived, its JSON not parsed yet: a reader with many
/// requests in flight keeps each answer waiting for its turn as bytes (about 2 MB for 250
/// orders with their lines) rather than as a tree of values (several times that), and
/// parses it when it gets to it ([`Client::offset_page`]).
#[derive(Debug)]
pub struct DeferredPage {
    pub(crate) response: ApiResponse,
    pub(crate) version: crate::ApiVersion,
    pub(crate) path: String,
    pub(crate) page: u32,
    pub(crate) limit: u32,
}

impl DeferredPage {
    /// The page, parsed as [`Client::v3_page`] or [`Client::v2_page`] would have returned it.
    pub fn parse(self) -> Result<Page<Value>> {
        let resp = self.response.parse_deferred("GET", &self.path)?;
        match self.version {
            crate::ApiVersion::V3 => parse_v3_offset(resp, &self.path, self.page, self.limit),
            crate::ApiVersion::V2 => parse_v2(resp, &self.path, self.page, self.limit),
        }
    }

    /// The page's records as the JSON text each arrived as (same order and count as
    /// [`DeferredPage::parse`]'s items), never parsed into values: for readers that store
    /// the record as sent and read its fields from that text. The text is checked as JSON
    /// here. A body this split does not fit (not a V2 array or a V3 `{"data": [...]}`
    /// envelope, not UTF-8) goes through [`DeferredPage::parse`], whose error names the
    /// problem, and its records are written back out.
    pub fn parse_text(self) -> Result<Page<Box<RawValue>>> {
        #[derive(serde::Deserialize)]
        struct V3Envelope<'a> {
            #[serde(borrow)]
            data: Vec<&'a RawValue>,
            #[serde(default)]
            meta: Option<Value>,
        }
        let text = self
            .response
            .raw
            .as_deref()
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .filter(|text| !text.trim().is_empty());
        let split = text.and_then(|text| match self.version {
            crate::ApiVersion::V2 => serde_json::from_str::<Vec<&RawValue>>(text)
                .ok()
                .map(|data| (data, None)),
            crate::ApiVersion::V3 => serde_json::from_str::<V3Envelope>(text)
                .ok()
                .map(|e| (e.data, e.meta)),
        });
        let Some((data, meta)) = split else {
            let path = self.path.clone();
            let status = self.response.status;
            let page = self.parse()?;
            let items = page
                .items
                .iter()
                .map(|v| {
                    serde_json::value::to_raw_value(v)
                        .map_err(|e| decode_error("GET", &path, status, format!("a record: {e}")))
                })
                .collect::<Result<Vec<_>>>()?;
            return Ok(Page {
                items,
                meta: page.meta,
            });
        };
        let meta = match self.version {
            crate::ApiVersion::V3 => {
                v3_offset_meta(meta.as_ref(), self.page, data.len(), self.limit)
            }
            crate::ApiVersion::V2 => v2_meta(self.page, data.len(), self.limit),
        };
        let items = data.into_iter().map(RawValue::to_owned).collect();
        Ok(Page { items, meta })
    }
}

/// Parses a V3 offset-paged response.
pub(crate) fn parse_v3_offset(
    resp: ApiResponse,
    path: &str,
    page: u32,
    limit: u32,
) -> Result<Page<Value>> {
    let Some(mut body) = resp.body else {
        return Ok(Page::empty(Some(page)));
    };
    let items = v3_items(&mut body, path, resp.status)?;
    let meta = v3_offset_meta(body.get("meta"), page, items.len(), limit);
    Ok(Page { items, meta })
}

/// Parses a V3 cursor-paged response.
pub(crate) fn parse_v3_cursor(resp: ApiResponse, path: &str, limit: u32) -> Result<Page<Value>> {
    let Some(mut body) = resp.body else {
        return Ok(Page::empty(None));
    };
    let items = v3_items(&mut body, path, resp.status)?;
    let meta = v3_cursor_meta(body.get("meta"), items.len(), limit);
    Ok(Page { items, meta })
}

/// Parses a V2 page: a bare array, or nothing at all (204 / empty body) at the end.
pub(crate) fn parse_v2(
    resp: ApiResponse,
    path: &str,
    page: u32,
    limit: u32,
) -> Result<Page<Value>> {
    match resp.body {
        None | Some(Value::Null) => Ok(Page::empty(Some(page))),
        Some(Value::Array(items)) => {
            let meta = v2_meta(page, items.len(), limit);
            Ok(Page { items, meta })
        }
        Some(_) => Err(decode_error(
            "GET",
            path,
            resp.status,
            "expected a JSON array (a V2 collection); is this a single resource?",
        )),
    }
}

/// Where a paged stream stands.
enum Cursor {
    Page(u32),
    After(Option<String>),
    Done,
}

/// Which paging style a stream follows.
#[derive(Clone, Copy)]
enum Style {
    V3Offset,
    V3Cursor,
    V2,
}

/// A lazy stream of pages: each poll sends one request; an error is yielded once and ends
/// the stream.
fn page_stream(
    client: Client,
    style: Style,
    path: String,
    query: Vec<(String, String)>,
    limit: u32,
) -> impl Stream<Item = Result<Page<Value>>> + Send + 'static {
    let start = match style {
        Style::V3Cursor => Cursor::After(None),
        Style::V3Offset | Style::V2 => Cursor::Page(1),
    };
    futures::stream::unfold(start, move |cursor| {
        let client = client.clone();
        let path = path.clone();
        let query = query.clone();
        async move {
            let result = match (&cursor, style) {
                (Cursor::Done, _) => return None,
                (Cursor::Page(page), Style::V3Offset) => {
                    client.v3_page(&path, &query, *page, limit).await
                }
                (Cursor::Page(page), _) => client.v2_page(&path, &query, *page, limit).await,
                (Cursor::After(after), _) => {
                    client
                        .v3_cursor_page(&path, &query, after.as_deref(), limit)
                        .await
                }
            };
            let next = match (&result, cursor) {
                (Err(_), _) | (_, Cursor::Done) => Cursor::Done,
                (Ok(page), _) if !page.meta.has_more => Cursor::Done,
                (Ok(_), Cursor::Page(n)) => n.checked_add(1).map_or(Cursor::Done, Cursor::Page),
                (Ok(page), Cursor::After(previous)) => match &page.meta.end_cursor {
                    // A cursor that does not move would fetch the same page forever.
                    Some(end) if previous.as_deref() != Some(end.as_str()) => {
                        Cursor::After(Some(end.clone()))
                    }
                    _ => Cursor::Done,
                },
            };
            Some((result, next))
        }
    })
}

pub(crate) fn v3_offset_stream(
    client: Client,
    path: String,
    query: Vec<(String, String)>,
    limit: u32,
) -> impl Stream<Item = Result<Page<Value>>> + Send + 'static {
    page_stream(client, Style::V3Offset, path, query, limit)
}

pub(crate) fn v3_cursor_stream(
    client: Client,
    path: String,
    query: Vec<(String, String)>,
    limit: u32,
) -> impl Stream<Item = Result<Page<Value>>> + Send + 'static {
    page_stream(client, Style::V3Cursor, path, query, limit)
}

pub(crate) fn v2_stream(
    client: Client,
    path: String,
    query: Vec<(String, String)>,
    limit: u32,
) -> impl Stream<Item = Result<Page<Value>>> + Send + 'static {
    page_stream(client, Style::V2, path, query, limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use reqwest::header::HeaderMap;
    use serde_json::json;

    fn deferred(version: crate::ApiVersion, body: &str) -> DeferredPage {
        DeferredPage {
            response: ApiResponse {
                status: 200,
                headers: HeaderMap::new(),
                body: None,
                raw: Some(bytes::Bytes::copy_from_slice(body.as_bytes())),
            },
            version,
            path: "/v2/orders".into(),
            page: 1,
            limit: 2,
        }
    }

    #[test]
    fn records_keep_their_json_as_it_arrived() {
        // Decimals, escapes and spacing as sent: what `_raw` keeps.
        let v2 = r#"[{"id": 1, "total": 12.50, "note": "a\/b"},{"id":2}]"#;
        let page = deferred(crate::ApiVersion::V2, v2).parse_text().unwrap();
        assert_eq!(
            page.items.iter().map(|r| r.get()).collect::<Vec<_>>(),
            [
                r#"{"id": 1, "total": 12.50, "note": "a\/b"}"#,
                r#"{"id":2}"#
            ]
        );
        assert!(page.meta.has_more, "a full V2 page may have more");

        let v3 = r#"{"data":[{"id":7}],"meta":{"pagination":{"total":1,"count":1,"per_page":2,"current_page":1,"total_pages":1}}}"#;
        let page = deferred(crate::ApiVersion::V3, v3).parse_text().unwrap();
        assert_eq!(page.items[0].get(), r#"{"id":7}"#);
        assert!(!page.meta.has_more);

        // What the split does not fit goes through the plain parse and its errors.
        let page = deferred(crate::ApiVersion::V2, "  ").parse_text().unwrap();
        assert!(page.items.is_empty());
        let err = deferred(crate::ApiVersion::V3, r#"{"meta":{}}"#)
            .parse_text()
            .unwrap_err();
        assert!(err.to_string().contains("envelope"), "{err}");
        // A record that is not JSON is refused whole.
        let err = deferred(crate::ApiVersion::V2, r#"[{"id":1},{"id":]"#)
            .parse_text()
            .unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }

    fn resp(status: u16, body: Option<Value>) -> ApiResponse {
        ApiResponse {
            status,
            headers: HeaderMap::new(),
            body,
            raw: None,
        }
    }

    #[test]
    fn v3_offset_follows_total_pages_not_links() {
        let body = json!({"data": [1, 2], "meta": {"pagination": {
            "total": 5, "count": 2, "per_page": 2, "current_page": 2, "total_pages": 3,
            "links": {"current": "?page=2&limit=2"}}}});
        let page = parse_v3_offset(resp(200, Some(body)), "/v3/x", 2, 2).unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(
            page.meta,
            PageMeta {
                page: Some(2),
                total_pages: Some(3),
                total: Some(5),
                end_cursor: None,
                has_more: true
            }
        );
        let last = json!({"data": [5], "meta": {"pagination": {"total": 5, "current_page": 3, "total_pages": 3,
            "links": {"next": "?page=4"}}}});
        assert!(
            !parse_v3_offset(resp(200, Some(last)), "/v3/x", 3, 2)
                .unwrap()
                .meta
                .has_more
        );
    }

    #[test]
    fn v3_204_and_empty_data_end_the_collection() {
        let page = parse_v3_offset(resp(204, None), "/v3/x", 1, 50).unwrap();
        assert!(page.items.is_empty() && !page.meta.has_more);
        let empty = json!({"data": [], "meta": {"pagination": {"total": 0, "current_page": 1, "total_pages": 0}}});
        assert!(
            !parse_v3_offset(resp(200, Some(empty)), "/v3/x", 1, 50)
                .unwrap()
                .meta
                .has_more
        );
        let lying = json!({"data": [], "meta": {"pagination": {"total": 9, "current_page": 1, "total_pages": 9}}});
        assert!(
            !parse_v3_offset(resp(200, Some(lying)), "/v3/x", 1, 50)
                .unwrap()
                .meta
                .has_more
        );
        assert!(
            parse_v3_cursor(resp(204, None), "/v3/x", 50)
                .unwrap()
                .items
                .is_empty()
        );
    }

    #[test]
    fn v3_rejects_non_envelopes() {
        assert!(matches!(
            parse_v3_offset(resp(200, Some(json!([1, 2]))), "/v3/x", 1, 2),
            Err(Error::Decode { .. })
        ));
        assert!(matches!(
            parse_v3_offset(resp(200, Some(json!({"data": {"id": 1}}))), "/v3/x", 1, 2),
            Err(Error::Decode { .. })
        ));
    }

    #[test]
    fn v3_cursor_needs_full_page_cursor_and_next_link() {
        let first = json!({"data": [1, 2], "meta": {
            "pagination": {"total": 5, "current_page": 1, "total_pages": 3},
            "cursor_pagination": {"count": 2, "per_page": 2, "start_cursor": "a", "end_cursor": "eyJpZCI6MjA0fQ",
                "links": {"current": "?after=x", "next": "?after=eyJpZCI6MjA0fQ&limit=2"}}}});
        let page = parse_v3_cursor(resp(200, Some(first)), "/v3/customers", 2).unwrap();
        assert_eq!(page.meta.end_cursor.as_deref(), Some("eyJpZCI6MjA0fQ"));
        assert_eq!(page.meta.total, Some(5));
        assert!(page.meta.has_more);

        let no_next = json!({"data": [1, 2], "meta": {"cursor_pagination": {"end_cursor": "c", "links": {"current": "?"}}}});
        assert!(
            !parse_v3_cursor(resp(200, Some(no_next)), "/v3/customers", 2)
                .unwrap()
                .meta
                .has_more
        );
        let short = json!({"data": [1], "meta": {"cursor_pagination": {"end_cursor": "c", "links": {"next": "?after=c"}}}});
        assert!(
            !parse_v3_cursor(resp(200, Some(short)), "/v3/customers", 2)
                .unwrap()
                .meta
                .has_more
        );
        let no_cursor = json!({"data": [1, 2], "meta": {"cursor_pagination": {"end_cursor": "", "links": {"next": "?"}}}});
        assert!(
            !parse_v3_cursor(resp(200, Some(no_cursor)), "/v3/customers", 2)
                .unwrap()
                .meta
                .has_more
        );
    }

    #[test]
    fn v2_ends_on_204_empty_body_empty_array_or_short_page() {
        assert!(
            !parse_v2(resp(204, None), "/v2/orders", 3, 50)
                .unwrap()
                .meta
                .has_more
        );
        assert!(
            !parse_v2(resp(200, Some(json!([]))), "/v2/orders", 3, 50)
                .unwrap()
                .meta
                .has_more
        );
        assert!(
            !parse_v2(resp(200, Some(json!([1, 2]))), "/v2/orders", 3, 3)
                .unwrap()
                .meta
                .has_more
        );
        let full = parse_v2(resp(200, Some(json!([1, 2, 3]))), "/v2/orders", 3, 3).unwrap();
        assert!(full.meta.has_more);
        assert_eq!(full.meta.page, Some(3));
        assert!(matches!(
            parse_v2(resp(200, Some(json!({"id": 1}))), "/v2/orders", 1, 3),
            Err(Error::Decode { .. })
        ));
    }

    #[test]
    fn limits_are_checked() {
        assert!(check_limit(0).is_err());
        assert!(check_limit(251).is_err());
        assert!(check_limit(1).is_ok());
        assert!(check_limit(250).is_ok());
    }

    proptest! {
        /// Walking a V2 collection of `total` items with page size `limit` visits every
        /// item exactly once and stops right after the last page (or one empty page).
        #[test]
        fn v2_walk_visits_everything_and_stops(total in 0usize..2_000, limit in 1u32..=250) {
            let mut seen = 0usize;
            let mut requests = 0usize;
            let mut page = 1u32;
            loop {
                requests += 1;
                prop_assert!(requests <= total / limit as usize + 2);
                let start = (page as usize - 1) * limit as usize;
                let count = total.saturating_sub(start).min(limit as usize);
                let meta = v2_meta(page, count, limit);
                seen += count;
                if !meta.has_more { break; }
                page += 1;
            }
            prop_assert_eq!(seen, total);
        }

        /// V3 offset paging stops exactly at total_pages and never continues on an empty page.
        #[test]
        fn v3_offset_walk_stops_at_total_pages(total in 0u64..5_000, limit in 1u32..=250) {
            let total_pages = total.div_ceil(u64::from(limit)) as u32;
            let mut page = 1u32;
            let mut seen = 0u64;
            loop {
                let start = u64::from(page - 1) * u64::from(limit);
                let count = total.saturating_sub(start).min(u64::from(limit));
                let meta_json = json!({"pagination": {"total": total, "current_page": page, "total_pages": total_pages}});
                let meta = v3_offset_meta(Some(&meta_json), page, count as usize, limit);
                seen += count;
                if !meta.has_more { break; }
                prop_assert!(page < total_pages);
                page += 1;
            }
            prop_assert_eq!(seen, total);
            prop_assert!(page <= total_pages.max(1));
        }

        /// Whatever the cursor metadata says, a short or empty page never asks for more.
        #[test]
        fn v3_cursor_short_page_never_continues(count in 0usize..300, limit in 1u32..=250, cursor in "[a-zA-Z0-9]{0,8}", next: bool) {
            let meta_json = json!({"cursor_pagination": {"end_cursor": cursor, "links": if next { json!({"next": "?after=x"}) } else { json!({}) }}});
            let meta = v3_cursor_meta(Some(&meta_json), count, limit);
            if count < limit as usize || cursor.is_empty() || !next {
                prop_assert!(!meta.has_more);
            } else {
                prop_assert!(meta.has_more);
            }
        }
    }
}
