//! A raw request to any V2/V3 path of the store (carts, checkouts, shipments, refunds...),
//! through the same client as every other operation: pacing, the retry decision (writes
//! are retried only when repeating them is safe), typed errors. Targets on other hosts
//! or stores are refused, and so is a DELETE on a whole collection unless `all` says so.

use bigcommerce::{ApiRequest, ApiVersion, Client, Method, Target};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Paging, collect, invalid};
use crate::error::{Error, Result};
use crate::tools::products::parse_data_arg;

/// A request to send as given.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    /// GET, POST, PUT or DELETE.
    #[arg(value_name = "METHOD")]
    pub method: String,
    /// The store path with its version and any query, e.g. /v3/catalog/products?sku=A1 or
    /// /v2/orders/100/shipments; a full URL must be on the store's API host.
    #[arg(value_name = "PATH")]
    pub path: String,
    /// The JSON body (POST and PUT). On the command line: the JSON itself, or @FILE.
    #[arg(long, value_name = "JSON|@FILE", value_parser = parse_data_arg)]
    pub data: Option<Value>,
    /// GET only: follow the pages of a collection (V2 arrays, V3 data) and return the
    /// records as one array.
    #[arg(long)]
    #[serde(default)]
    pub paginate: bool,
    /// With paginate: the most records to return (default: all).
    #[arg(long, requires = "paginate")]
    pub limit: Option<u32>,
    /// With paginate: resume after the records already returned (a previous next_cursor).
    #[arg(long, requires = "paginate")]
    pub cursor: Option<String>,
    /// Allow a DELETE on a whole collection (no id and no filter in the path): DELETE
    /// /v2/orders archives every order.
    #[arg(long)]
    #[serde(default)]
    pub all: bool,
}

/// The answer to a raw request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RawResponse {
    /// The HTTP status (2xx; errors are returned as errors).
    pub status: u16,
    /// The JSON body; `null` for an empty answer (204). With paginate, the records.
    pub body: Value,
    /// With paginate and a limit: pass as `cursor` for the records after these.
    pub next_cursor: Option<String>,
}

/// Methods a raw request may use.
const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];

impl RawRequest {
    /// The method, or why it cannot be used.
    pub fn http_method(&self) -> Result<Method> {
        let m = self.method.trim().to_ascii_uppercase();
        match m.as_str() {
            "GET" => Ok(Method::GET),
            "POST" => Ok(Method::POST),
            "PUT" => Ok(Method::PUT),
            "DELETE" => Ok(Method::DELETE),
            "PATCH" => Err(invalid(
                "method",
                "the API does not support PATCH (it answers 501); use PUT, which changes only \
                 the fields sent on most endpoints",
            )),
            _ => Err(invalid(
                "method",
                format!(
                    "{:?} is not supported; use one of {}",
                    self.method,
                    METHODS.join(", ")
                ),
            )),
        }
    }

    /// Whether the request may change the store (anything but GET, including a method
    /// that is not understood).
    pub fn is_write(&self) -> bool {
        !matches!(self.http_method(), Ok(Method::GET))
    }

    /// Whether the request is a DELETE.
    pub fn is_delete(&self) -> bool {
        matches!(self.http_method(), Ok(Method::DELETE))
    }

    /// Every check made before sending, against `client`'s store: the method, the target
    /// (same host and store, `/v2/` or `/v3/`), a body only with POST/PUT (and required
    /// there), paginate only with GET, and the whole-collection DELETE rule. Returns the
    /// method and the parsed target.
    pub fn check(&self, client: &Client) -> Result<(Method, Target)> {
        let method = self.http_method()?;
        let target = client.target(&self.path).map_err(|e| match e {
            bigcommerce::Error::InvalidTarget(message) => Error::InvalidArgument {
                argument: "path".to_owned(),
                message,
            },
            other => Error::Api(other),
        })?;
        let writes_body = matches!(method, Method::POST | Method::PUT);
        match (&self.data, writes_body) {
            (Some(_), false) => {
                return Err(invalid(
                    "data",
                    format!("{method} sends no body; leave `data` out, or use POST or PUT"),
                ));
            }
            (None, true) => {
                return Err(invalid(
                    "data",
                    format!("{method} needs a JSON body; give `data` (e.g. {{\"name\": \"x\"}})"),
                ));
            }
            _ => {}
        }
        if self.paginate && method != Method::GET {
            return Err(invalid(
                "paginate",
                "works only with GET; leave `paginate` out",
            ));
        }
        if method == Method::DELETE && !self.all && deletes_collection(&target) {
            return Err(invalid(
                "path",
                format!(
                    "DELETE {} names a whole collection with no filter, so it would delete \
                     (or archive) every record in it{}; add an id or a filter to the path \
                     (e.g. ?id:in=1,2), or give `all` to confirm",
                    display(&target),
                    collection_note(&target)
                ),
            ));
        }
        Ok((method, target))
    }
}

/// Whether a DELETE on `target` acts on a whole collection: its last path segment is a
/// name, not an id (ids contain digits: numbers, UUIDs), and nothing narrows it.
///
/// V2 collection DELETEs take no filter at all (docs/api-notes.md §6.1: `DELETE /v2/orders`
/// archives every order whatever the query says), so any query still means the whole
/// collection. On V3 only a real filter narrows it: an operator key (`id:in`, `date:min`)
/// or a named filter; `limit`, `page`, `include`, `sort` and the like select nothing
/// (docs/api-notes.md §12.11: a subscribers DELETE without a filter deletes all).
pub fn deletes_collection(target: &Target) -> bool {
    let last = target.path.rsplit('/').next().unwrap_or_default();
    if last.bytes().any(|b| b.is_ascii_digit()) {
        return false;
    }
    if target.version == ApiVersion::V2 {
        return true;
    }
    const V3_FILTERS: &[&str] = &[
        "id",
        "email",
        "name",
        "sku",
        "brand_id",
        "category_id",
        "product_id",
        "customer_id",
        "order_id",
        "first_name",
        "last_name",
        "source",
        "channel_id",
        "status",
        "type",
        "keyword",
        "date_created",
        "date_modified",
    ];
    let filtered = target.query.iter().any(|(k, v)| {
        !v.trim().is_empty() && (k.contains(':') || V3_FILTERS.contains(&k.as_str()))
    });
    !filtered
}

fn collection_note(target: &Target) -> &'static str {
    match (target.version, target.path.as_str()) {
        (ApiVersion::V2, "/orders") => " (every order is archived)",
        (ApiVersion::V3, "/customers/subscribers") => " (every subscriber is deleted)",
        _ => "",
    }
}

fn display(target: &Target) -> String {
    format!("/{}{}", target.version, target.path)
}

/// What a write would touch, for a confirmation step: the checked method and path, and
/// for PUT and DELETE the target as it is now (`current`: one read of the same path, or
/// `null` when the path cannot be read). Sends only that read.
pub async fn preview_raw_request(client: &Client, args: &RawRequest) -> Result<Value> {
    let (method, target) = args.check(client)?;
    let current = if matches!(method, Method::PUT | Method::DELETE) {
        let mut read = ApiRequest::get(target.version, target.path.clone());
        read.query = target.query.clone();
        match client.send(read).await {
            Ok(resp) => resp.body.unwrap_or(Value::Null),
            // Some write paths have no GET (405) or name nothing yet (404).
            Err(e) if matches!(e.status(), Some(404 | 405)) => Value::Null,
            Err(e) => return Err(e.into()),
        }
    } else {
        Value::Null
    };
    Ok(serde_json::json!({
        "method": method.as_str(),
        "path": display(&target),
        "query": target.query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "deletes_collection": method == Method::DELETE && deletes_collection(&target),
        "data": args.data,
        "current": current,
    }))
}

/// Sends the request and returns its status and body; with `paginate`, reads the pages
/// of the collection instead and returns the records.
pub async fn raw_request(client: &Client, args: &RawRequest) -> Result<RawResponse> {
    let (method, target) = args.check(client)?;
    if args.paginate {
        let paging = match target.version {
            ApiVersion::V2 => Paging::V2,
            ApiVersion::V3 => Paging::V3,
        };
        let query: Vec<(String, String)> = target
            .query
            .into_iter()
            .filter(|(k, _)| k != "page" && k != "limit")
            .collect();
        if args.limit == Some(0) {
            return Err(invalid(
                "limit",
                "must be at least 1; leave it out for all records",
            ));
        }
        let listing = collect(
            client,
            paging,
            &target.path,
            &query,
            args.limit,
            args.cursor.as_deref(),
        )
        .await?;
        return Ok(RawResponse {
            status: 200,
            body: Value::Array(listing.items),
            next_cursor: listing.next_cursor,
        });
    }
    let mut request =
        ApiRequest::with_method(method, target.version, target.path, args.data.clone());
    request.query = target.query;
    let resp = client.send(request).await?;
    Ok(RawResponse {
        status: resp.status,
        body: resp.body.unwrap_or(Value::Null),
        next_cursor: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bigcommerce::parse_target;

    fn target(path: &str) -> Target {
        parse_target("http://127.0.0.1:1", "abc", path).unwrap()
    }

    #[test]
    fn collection_deletes_are_told_apart_from_record_deletes() {
        for whole in [
            "/v2/orders",
            "/v2/orders?limit=5",
            "/v2/orders?status_id=11",
            "/v3/customers/subscribers?include=consents",
            "/v3/catalog/products?sort=name&direction=asc",
            "/v3/customers/subscribers",
            "/v2/orders/12/shipments",
            "/v3/catalog/products",
        ] {
            assert!(deletes_collection(&target(whole)), "{whole}");
        }
        for narrow in [
            "/v2/orders/12",
            "/v3/catalog/products/5/images/9",
            "/v3/customers?id:in=1,2",
            "/v3/carts/7b4b0f2c-8e1a-4d7e-9d2c-0c6f2f3b9a11",
            "/v3/customers/subscribers?email=a@b.c",
        ] {
            assert!(!deletes_collection(&target(narrow)), "{narrow}");
        }
    }

    #[test]
    fn methods_and_writes() {
        let req = |m: &str| RawRequest {
            method: m.into(),
            path: "/v2/orders".into(),
            ..RawRequest::default()
        };
        assert!(!req("get").is_write());
        assert!(req("POST").is_write());
        assert!(req("DELETE").is_delete());
        assert!(req("TRACE").is_write());
        let e = req("PATCH").http_method().unwrap_err().to_string();
        assert!(e.starts_with("invalid method") && e.contains("PUT"), "{e}");
    }
}
