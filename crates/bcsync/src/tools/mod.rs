//! The operations behind the resource commands (`bcsync orders|products|categories|
//! customers ...`), `bcsync api`, and the MCP server's tools: one async function per
//! operation, all over the one [`bigcommerce::Client`] (its pacer, retry decision and typed
//! errors).
//!
//! Each operation takes an argument struct that both front ends fill: clap parses it from
//! flags (`created_since` is `--created-since`), serde from an MCP call's JSON (its JSON
//! Schema derived with schemars). Arguments are validated inside the operation before any
//! request; a bad one is [`Error::InvalidArgument`] naming the field and the fix. Results
//! are JSON: lists come as a [`Listing`] of at most `limit` records with a `next_cursor`
//! to resume from.

pub mod categories;
pub mod customers;
pub mod orders;
pub mod products;
pub mod raw;

use bigcommerce::Client;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

pub use categories::{CategoryTree, ListCategories, flatten_categories, list_categories};
pub use customers::{
    CreateCustomer, GetCustomer, ListCustomers, UpdateCustomer, create_customer, get_customer,
    list_customers, update_customer,
};
pub use orders::{
    GetOrder, ListOrders, ORDER_STATUSES, UpdateOrder, get_order, list_orders, update_order,
};
pub use products::{
    CreateProduct, DeleteProduct, GetProduct, ListProducts, UpdateProduct, create_product,
    delete_product, get_product, list_products, preview_delete_product, update_product,
};
pub use raw::{RawRequest, RawResponse, deletes_collection, preview_raw_request, raw_request};

/// Records a list returns when no `limit` is given.
pub const DEFAULT_LIMIT: u32 = 50;

/// The largest page the API serves (docs/api-notes.md §0.4); lists page with it.
const MAX_PAGE: u32 = bigcommerce::limits::MAX_PAGE_SIZE;

/// One slice of a collection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listing {
    /// The records, as the API sends them.
    pub items: Vec<Value>,
    /// Pass this as `cursor` to get the records after these; `None` when there are no more.
    pub next_cursor: Option<String>,
    /// How many records match in all, when the API says (V3 lists; V2 has no totals).
    pub total: Option<u64>,
}

/// An [`Error::InvalidArgument`].
pub(crate) fn invalid(argument: &str, message: impl Into<String>) -> Error {
    Error::InvalidArgument {
        argument: argument.to_owned(),
        message: message.into(),
    }
}

/// The number of records to return: `limit`, else [`DEFAULT_LIMIT`]; 0 is refused.
pub(crate) fn check_limit(limit: Option<u32>) -> Result<u32> {
    match limit {
        Some(0) => Err(invalid(
            "limit",
            "must be at least 1; give the number of records to return",
        )),
        Some(n) => Ok(n),
        None => Ok(DEFAULT_LIMIT),
    }
}

/// A date argument: `YYYY-MM-DD` (midnight UTC) or an ISO 8601 timestamp
/// (`2024-05-14T09:34:00Z`, `2024-05-14T09:34:00+02:00`, or without offset for UTC).
pub(crate) fn parse_date(argument: &str, value: &str) -> Result<DateTime<Utc>> {
    let v = value.trim();
    bigcommerce::dates::parse_v3(v)
        .or_else(|| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|n| n.and_utc())
        })
        .ok_or_else(|| {
            invalid(
                argument,
                format!(
                    "{value:?} is not a date; use YYYY-MM-DD or an ISO 8601 timestamp such as \
                     2024-05-14T09:34:00Z"
                ),
            )
        })
}

/// The filter value for a date: always a full timestamp, since a bare date in a V3 filter
/// gets the current time appended (docs/api-notes.md §0.6).
pub(crate) fn date_filter(dt: DateTime<Utc>) -> String {
    bigcommerce::dates::format_iso(dt)
}

/// A text argument that must not be blank, trimmed.
pub(crate) fn non_blank<'a>(argument: &str, value: &'a str) -> Result<&'a str> {
    let v = value.trim();
    if v.is_empty() {
        return Err(invalid(argument, "is empty; give a value or leave it out"));
    }
    Ok(v)
}

/// An id argument: a positive number.
pub(crate) fn check_id(argument: &str, id: u64) -> Result<u64> {
    if id == 0 {
        return Err(invalid(argument, "must be a positive record id"));
    }
    Ok(id)
}

/// The `data` of an update of record `id` (a `what`, e.g. "customer"): its fields, without
/// an `id`, which may only repeat the record's own.
pub(crate) fn update_fields(
    data: &Value,
    id: u64,
    what: &str,
) -> Result<serde_json::Map<String, Value>> {
    let mut body = data_object(data)?.clone();
    if let Some(v) = body.remove("id")
        && v.as_u64() != Some(id)
    {
        return Err(invalid(
            "data",
            format!("has id {v}, but the {what} to update is {id}; leave id out of data"),
        ));
    }
    Ok(body)
}

/// A `data` argument: a JSON object with at least one field.
pub(crate) fn data_object(data: &Value) -> Result<&serde_json::Map<String, Value>> {
    match data {
        Value::Object(map) if !map.is_empty() => Ok(map),
        Value::Object(_) => Err(invalid(
            "data",
            "is an empty object; give the fields to write, e.g. {\"name\": \"...\"}",
        )),
        other => Err(invalid(
            "data",
            format!(
                "must be a JSON object of fields, e.g. {{\"name\": \"...\"}}; got {}",
                json_kind(other)
            ),
        )),
    }
}

/// `a string`, `an array`, ... for messages.
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// How a collection pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Paging {
    /// V2: bare arrays, `page`/`limit`, the end is a 204, `[]` or a short page.
    V2,
    /// V3 offset pages (`meta.pagination`).
    V3,
}

/// The cursor a listing hands out: the number of records already returned. Offsets, not
/// API cursors, so one cursor form works for V2 and V3 and for any later `limit`.
const CURSOR_PREFIX: &str = "offset:";

fn parse_cursor(cursor: Option<&str>) -> Result<u64> {
    let Some(c) = cursor.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(0);
    };
    c.strip_prefix(CURSOR_PREFIX)
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| {
            invalid(
                "cursor",
                format!(
                    "{c:?} is not a cursor this tool returned; pass the next_cursor of the \
                     previous result unchanged, or leave it out to start from the first record"
                ),
            )
        })
}

fn format_cursor(offset: u64) -> String {
    format!("{CURSOR_PREFIX}{offset}")
}

/// The cursor for the records after the first `returned` of those `cursor` starts at
/// (the MCP server caps a result and resumes inside it).
pub(crate) fn cursor_after(cursor: Option<&str>, returned: usize) -> Result<String> {
    Ok(format_cursor(parse_cursor(cursor)? + returned as u64))
}

/// Reads `path` page by page from the record `cursor` points at until `limit` records
/// (`None`: all of them) are in hand, with a cursor for the rest. Pages are as large as
/// the limit allows (at most 250), so a listing costs `limit / 250` requests, plus one
/// when the cursor does not fall on a page boundary.
pub(crate) async fn collect(
    client: &Client,
    paging: Paging,
    path: &str,
    query: &[(String, String)],
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<Listing> {
    let offset = parse_cursor(cursor)?;
    let want = limit.map_or(usize::MAX, |l| l as usize);
    let page_size = limit.map_or(MAX_PAGE, |l| l.clamp(1, MAX_PAGE));
    let first_page = offset / u64::from(page_size) + 1;
    let mut page = u32::try_from(first_page).map_err(|_| {
        invalid(
            "cursor",
            "points past any collection; leave it out to start over",
        )
    })?;
    let mut skip = (offset % u64::from(page_size)) as usize;
    let mut items = Vec::new();
    let mut total = None;
    loop {
        let got = match paging {
            Paging::V2 => client.v2_page(path, query, page, page_size).await?,
            Paging::V3 => client.v3_page(path, query, page, page_size).await?,
        };
        total = total.or(got.meta.total);
        let on_page = got.items.len();
        let mut used = skip.min(on_page);
        for item in got.items.into_iter().skip(skip) {
            if items.len() >= want {
                break;
            }
            items.push(item);
            used += 1;
        }
        if items.len() >= want {
            let more = used < on_page || got.meta.has_more;
            let next_cursor = more.then(|| format_cursor(offset + items.len() as u64));
            return Ok(Listing {
                items,
                next_cursor,
                total,
            });
        }
        if !got.meta.has_more || on_page == 0 {
            return Ok(Listing {
                items,
                next_cursor: None,
                total,
            });
        }
        page = page.saturating_add(1);
        skip = 0;
    }
}

/// Every record of a small collection (an order's lines, a customer's addresses).
pub(crate) async fn collect_all(
    client: &Client,
    paging: Paging,
    path: &str,
    query: &[(String, String)],
) -> Result<Vec<Value>> {
    Ok(collect(client, paging, path, query, None, None)
        .await?
        .items)
}

/// The `data` of a V3 single-record answer (`{"data": {...}, "meta": {}}`), or the body.
pub(crate) fn v3_data(body: Option<Value>) -> Value {
    match body {
        Some(Value::Object(mut map)) if map.contains_key("data") => {
            map.remove("data").unwrap_or(Value::Null)
        }
        Some(other) => other,
        None => Value::Null,
    }
}

/// `(key, value)` for a query list.
pub(crate) fn pair(key: &str, value: impl ToString) -> (String, String) {
    (key.to_owned(), value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_strangers_are_refused() {
        assert_eq!(parse_cursor(None).unwrap(), 0);
        assert_eq!(parse_cursor(Some(" ")).unwrap(), 0);
        assert_eq!(parse_cursor(Some(&format_cursor(275))).unwrap(), 275);
        let e = parse_cursor(Some("eyJpZCI6MjA0fQ")).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument { argument, .. } if argument == "cursor"),
            "{e}"
        );
        assert!(e.to_string().contains("next_cursor"), "{e}");
    }

    #[test]
    fn dates_accept_days_and_timestamps_and_name_the_argument() {
        let d = parse_date("created_since", "2024-05-14").unwrap();
        assert_eq!(date_filter(d), "2024-05-14T00:00:00Z");
        let d = parse_date("created_since", "2024-05-14T09:34:00+02:00").unwrap();
        assert_eq!(date_filter(d), "2024-05-14T07:34:00Z");
        let d = parse_date("created_since", "2024-05-14T09:34:00").unwrap();
        assert_eq!(date_filter(d), "2024-05-14T09:34:00Z");
        let e = parse_date("created_since", "yesterday").unwrap_err();
        assert!(e.to_string().starts_with("invalid created_since:"), "{e}");
        assert!(e.to_string().contains("YYYY-MM-DD"), "{e}");
    }

    #[test]
    fn limit_zero_and_blank_text_are_refused() {
        assert_eq!(check_limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(check_limit(Some(7)).unwrap(), 7);
        assert!(check_limit(Some(0)).is_err());
        assert!(non_blank("name", "  ").is_err());
        assert_eq!(non_blank("name", " a ").unwrap(), "a");
        assert!(check_id("id", 0).is_err());
        assert!(data_object(&serde_json::json!([])).is_err());
        assert!(data_object(&serde_json::json!({})).is_err());
        assert!(data_object(&serde_json::json!({"a": 1})).is_ok());
    }
}
