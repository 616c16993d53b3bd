//! Collection responses, the one place that knows the envelopes
//! (docs/api-notes.md §0.4, §11.1-11.4): V3 offset pages `{data, meta:{pagination}}`, V3 cursor
//! pages (customers) with the first-page/cursor/page>1 metadata rules, V2 bare arrays with **204
//! and no body** for an empty page, and V3 singles `{data, meta:{}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::query::{Query, encode};

/// `{data: obj, meta: {}}` with status 200.
pub fn v3_single(data: Value) -> Response {
    (StatusCode::OK, Json(json!({ "data": data, "meta": {} }))).into_response()
}

/// `{data: obj, meta: {}}` with the given status (creates: 200 or 201 as the spec lists).
pub fn v3_single_status(status: StatusCode, data: Value) -> Response {
    (status, Json(json!({ "data": data, "meta": {} }))).into_response()
}

/// `{data: [...], meta: {}}` (batch write answers).
pub fn v3_batch(status: StatusCode, data: Vec<Value>) -> Response {
    (status, Json(json!({ "data": data, "meta": {} }))).into_response()
}

/// A bare V2 object, in the store's V2 shape ([`v2_shape`]).
pub fn v2_object(status: StatusCode, data: Value) -> Response {
    (status, Json(v2_shape(data))).into_response()
}

/// The V2 serializer's rendering of a record: every map that is empty (at any depth) becomes
/// an empty JSON **array** `[]`, as the store's V2 serializer writes an empty associative
/// array (docs/api-notes.md §12.16; e.g. a coupon's `restricted_to`). Every V2 body built as
/// a `Value` passes through here ([`v2_object`], [`v2_list`]); the typed order views hold
/// no maps that can be empty.
pub fn v2_shape(v: Value) -> Value {
    match v {
        Value::Object(m) if m.is_empty() => Value::Array(Vec::new()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, v2_shape(v))).collect()),
        Value::Array(items) => Value::Array(items.into_iter().map(v2_shape).collect()),
        other => other,
    }
}

fn pagination_meta(total: usize, count: usize, page: u32, limit: u32, q: &Query) -> Value {
    let total_pages = total
        .div_ceil(limit as usize)
        .max(if total == 0 { 0 } else { 1 });
    let base = q.links_base();
    let link = |p: u32| {
        let mut pairs = base.clone();
        pairs.push(("page".into(), p.to_string()));
        pairs.push(("limit".into(), limit.to_string()));
        format!("?{}", encode(&pairs))
    };
    let mut links = serde_json::Map::new();
    if page > 1 {
        links.insert("previous".into(), Value::String(link(page - 1)));
    }
    links.insert("current".into(), Value::String(link(page)));
    if (page as usize) < total_pages {
        links.insert("next".into(), Value::String(link(page + 1)));
    }
    json!({
        "total": total,
        "count": count,
        "per_page": limit,
        "current_page": page,
        "total_pages": total_pages,
        "links": links,
    })
}

/// A V3 offset page over `all` (already filtered and sorted). A page past the end is 200
/// with `data: []` (docs/api-notes.md §13.2, our assumption).
pub fn v3_offset<T>(
    all: &[T],
    page: u32,
    limit: u32,
    q: &Query,
    render: impl Fn(&T) -> Value,
) -> Response {
    let start = (page as usize - 1)
        .saturating_mul(limit as usize)
        .min(all.len());
    let end = (start + limit as usize).min(all.len());
    let data: Vec<Value> = all[start..end].iter().map(render).collect();
    let meta = pagination_meta(all.len(), data.len(), page, limit, q);
    (
        StatusCode::OK,
        Json(json!({ "data": data, "meta": { "pagination": meta } })),
    )
        .into_response()
}

/// A V3 sub-collection that answers **204** when empty (product images, reviews, order
/// transactions: docs/api-notes.md §0.4), otherwise an offset page.
pub fn v3_offset_or_204<T>(
    all: &[T],
    page: u32,
    limit: u32,
    q: &Query,
    render: impl Fn(&T) -> Value,
) -> Response {
    if all.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    v3_offset(all, page, limit, q, render)
}

/// A V2 page: a bare array, or **204 No Content with an empty body** when the page is
/// empty (docs/api-notes.md §0.4, §12.1), including a page past the end.
pub fn v2_list<T>(all: &[T], page: u32, limit: u32, render: impl Fn(&T) -> Value) -> Response {
    let start = (page as usize - 1)
        .saturating_mul(limit as usize)
        .min(all.len());
    let end = (start + limit as usize).min(all.len());
    if start >= end {
        return StatusCode::NO_CONTENT.into_response();
    }
    let data: Vec<Value> = all[start..end]
        .iter()
        .map(|t| v2_shape(render(t)))
        .collect();
    (StatusCode::OK, Json(Value::Array(data))).into_response()
}

/// A V2 page already cut to size and rendered from typed views (hot lists such as orders,
/// where building `Value` trees would dominate): a bare array, or **204 with an empty
/// body** when the page is empty, as [`v2_list`].
pub fn v2_typed_page<S: serde::Serialize>(items: Vec<S>) -> Response {
    if items.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    (StatusCode::OK, Json(items)).into_response()
}

/// The position of a record in a keyset-sorted list: its sort key rendered so that string
/// order equals sort order (zero-padded numbers, ISO timestamps), plus its id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct CursorKey {
    pub k: String,
    pub id: i64,
}

/// Cursors are opaque base64 strings (docs/api-notes.md §0.4; real ones look like
/// `eyJpZCI6MjA0fQ`). Ours hold the sort key and id of the boundary record, so a cursor stays exact
/// while records are written between pages (keyset pagination).
pub fn encode_cursor(key: &CursorKey) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(key).unwrap_or_default())
}

pub fn decode_cursor(s: &str) -> Option<CursorKey> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A V3 list with cursor support (customers, form-field values). `all` is filtered and
/// sorted by `key` (ascending when `descending` is false). Metadata rules (docs/api-notes.md §0.4):
/// the first page carries both `pagination` and `cursor_pagination`; `page>1` carries only
/// `pagination`; a `before`/`after` request carries only `cursor_pagination` and ignores
/// `page`.
pub fn v3_cursor<T>(
    all: &[T],
    q: &Query,
    max_limit: u32,
    descending: bool,
    key: impl Fn(&T) -> CursorKey,
    render: impl Fn(&T) -> Value,
) -> Result<Response, ApiError> {
    let v = crate::error::ApiVersion::V3;
    let (page, limit) = q.page_limit(max_limit)?;
    let after = q.get("after").filter(|s| !s.is_empty());
    let before = q.get("before").filter(|s| !s.is_empty());
    // `cmp` in the list's own order: "a comes before b".
    let ord = |a: &CursorKey, b: &CursorKey| if descending { b.cmp(a) } else { a.cmp(b) };
    let bad_cursor = || {
        ApiError::bad_request(
            v,
            "The cursor is not valid. Use start_cursor or end_cursor from a previous page.",
        )
    };

    let (slice_start, slice_end, cursor_mode) = if let Some(c) = after {
        let ck = decode_cursor(c).ok_or_else(bad_cursor)?;
        let start = all.partition_point(|t| ord(&key(t), &ck) != std::cmp::Ordering::Greater);
        (start, (start + limit as usize).min(all.len()), true)
    } else if let Some(c) = before {
        let ck = decode_cursor(c).ok_or_else(bad_cursor)?;
        let end = all.partition_point(|t| ord(&key(t), &ck) == std::cmp::Ordering::Less);
        (end.saturating_sub(limit as usize), end, true)
    } else {
        let start = (page as usize - 1)
            .saturating_mul(limit as usize)
            .min(all.len());
        (start, (start + limit as usize).min(all.len()), false)
    };
    let items = &all[slice_start..slice_end];
    let data: Vec<Value> = items.iter().map(&render).collect();

    let cursor_meta = || {
        let start_cursor = items.first().map(|t| encode_cursor(&key(t)));
        let end_cursor = items.last().map(|t| encode_cursor(&key(t)));
        let base = q.links_base();
        let mk = |name: &str, c: &str| {
            let mut pairs = base.clone();
            pairs.push((name.to_owned(), c.to_owned()));
            pairs.push(("limit".into(), limit.to_string()));
            format!("?{}", encode(&pairs))
        };
        let mut links = serde_json::Map::new();
        if let Some(sc) = &start_cursor
            && slice_start > 0
        {
            links.insert("previous".into(), Value::String(mk("before", sc)));
        }
        let mut current = base.clone();
        current.push(("limit".into(), limit.to_string()));
        links.insert(
            "current".into(),
            Value::String(format!("?{}", encode(&current))),
        );
        if let Some(ec) = &end_cursor
            && slice_end < all.len()
        {
            links.insert("next".into(), Value::String(mk("after", ec)));
        }
        json!({
            "count": data.len(),
            "per_page": limit,
            "start_cursor": start_cursor,
            "end_cursor": end_cursor,
            "links": links,
        })
    };

    let mut meta = serde_json::Map::new();
    if cursor_mode {
        meta.insert("cursor_pagination".into(), cursor_meta());
    } else {
        meta.insert(
            "pagination".into(),
            pagination_meta(all.len(), data.len(), page, limit, q),
        );
        if page == 1 {
            meta.insert("cursor_pagination".into(), cursor_meta());
        }
    }
    Ok((StatusCode::OK, Json(json!({ "data": data, "meta": meta }))).into_response())
}

/// Zero-pads an integer so that string order equals numeric order (for [`CursorKey::k`]).
pub fn sortable_int(n: i64) -> String {
    format!("{:020}", n.max(0))
}
