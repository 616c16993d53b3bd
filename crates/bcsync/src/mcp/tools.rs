//! The tools: each one the matching operation of [`crate::tools`] (the same argument
//! struct, validation, client, pacer, retry rule and errors as the CLI), wrapped for an
//! agent: the MCP-only arguments (`fields`, `confirmation_token`) taken out first, results
//! shaped and capped ([`super::shape`]), destructive calls confirmed ([`super::confirm`]),
//! and every failure told as what failed, why, and what to do.

use std::sync::Arc;
use std::time::Duration;

use bigcommerce::Method;
use rmcp::handler::server::common::schema_for_type;
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::confirm::{TOKEN_ARGUMENT, TOKEN_LIFETIME};
use super::runlog::Outcome;
use super::server::{Call, ToolError, ToolReply, ToolResult, rate_limited};
use super::shape::{cap_value, list_result, select_fields};
use crate::tools as ops;

pub const LIST_ORDERS: &str = "list-orders";
pub const GET_ORDER: &str = "get-order";
pub const UPDATE_ORDER: &str = "update-order";
pub const LIST_PRODUCTS: &str = "list-products";
pub const GET_PRODUCT: &str = "get-product";
pub const CREATE_PRODUCT: &str = "create-product";
pub const UPDATE_PRODUCT: &str = "update-product";
pub const DELETE_PRODUCT: &str = "delete-product";
pub const LIST_CATEGORIES: &str = "list-categories";
pub const LIST_CUSTOMERS: &str = "list-customers";
pub const GET_CUSTOMER: &str = "get-customer";
pub const CREATE_CUSTOMER: &str = "create-customer";
pub const UPDATE_CUSTOMER: &str = "update-customer";
pub const RAW: &str = "raw-api-request";

/// The argument selecting fields.
const FIELDS_ARGUMENT: &str = "fields";

/// Fields of a listed order unless the call picks its own.
const ORDER_FIELDS: &[&str] = &[
    "id",
    "status",
    "status_id",
    "customer_id",
    "date_created",
    "date_modified",
    "total_inc_tax",
    "currency_code",
    "items_total",
    "billing_address.first_name",
    "billing_address.last_name",
    "billing_address.email",
];
const PRODUCT_FIELDS: &[&str] = &[
    "id",
    "name",
    "sku",
    "type",
    "price",
    "is_visible",
    "availability",
    "inventory_level",
    "categories",
    "brand_id",
];
const CUSTOMER_FIELDS: &[&str] = &[
    "id",
    "email",
    "first_name",
    "last_name",
    "company",
    "customer_group_id",
    "date_modified",
];
const CATEGORY_FIELDS: &[&str] = &["id", "name", "parent_id", "is_visible"];

/// The input schema of a tool: the operation's argument struct, plus `fields` when the
/// tool returns records and `confirmation_token` when it is destructive.
pub fn schema<T: JsonSchema + 'static, const FIELDS: bool, const TOKEN: bool>() -> Arc<JsonObject> {
    let mut schema = (*schema_for_type::<T>()).clone();
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        if FIELDS {
            props.insert(
                FIELDS_ARGUMENT.to_owned(),
                json!({
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Fields to return per record; dotted paths reach inside \
                        objects and lists (e.g. billing_address.email, variants.sku). Lists \
                        default to a compact set of main fields, single records to the whole \
                        record; [\"*\"] returns everything."
                }),
            );
        }
        if TOKEN {
            props.insert(
                TOKEN_ARGUMENT.to_owned(),
                json!({
                    "type": "string",
                    "description": "Leave out on the first call: it changes nothing and returns \
                        a preview with a confirmation_token. Repeat the call with exactly the \
                        same arguments plus this token to carry it out (single use, expires \
                        after 5 minutes)."
                }),
            );
        }
    }
    Arc::new(schema)
}

/// Runs the tool named in `call`.
pub async fn run(call: &Call<'_>) -> ToolResult {
    match call.tool {
        LIST_ORDERS => {
            let mut p = parse::<ops::ListOrders>(call)?;
            cap_limit(&mut p.args.limit);
            let listing = ops::list_orders(&call.client, &p.args)
                .await
                .map_err(|e| op_error(call, e))?;
            list_reply(
                call,
                listing,
                p.args.cursor.as_deref(),
                p.fields,
                ORDER_FIELDS,
            )
        }
        GET_ORDER => {
            let p = parse::<ops::GetOrder>(call)?;
            let order = ops::get_order(&call.client, &p.args).await;
            record_reply(call, order, p.fields)
        }
        UPDATE_ORDER => {
            let p = parse::<ops::UpdateOrder>(call)?;
            let order = ops::update_order(&call.client, &p.args).await;
            record_reply(call, order, p.fields)
        }
        LIST_PRODUCTS => {
            let mut p = parse::<ops::ListProducts>(call)?;
            cap_limit(&mut p.args.limit);
            let listing = ops::list_products(&call.client, &p.args)
                .await
                .map_err(|e| op_error(call, e))?;
            list_reply(
                call,
                listing,
                p.args.cursor.as_deref(),
                p.fields,
                PRODUCT_FIELDS,
            )
        }
        GET_PRODUCT => {
            let p = parse::<ops::GetProduct>(call)?;
            let product = ops::get_product(&call.client, &p.args).await;
            record_reply(call, product, p.fields)
        }
        CREATE_PRODUCT => {
            let p = parse::<ops::CreateProduct>(call)?;
            let product = ops::create_product(&call.client, &p.args).await;
            record_reply(call, product, p.fields)
        }
        UPDATE_PRODUCT => {
            let p = parse::<ops::UpdateProduct>(call)?;
            let product = ops::update_product(&call.client, &p.args).await;
            record_reply(call, product, p.fields)
        }
        DELETE_PRODUCT => delete_product(call).await,
        LIST_CATEGORIES => {
            let p = parse::<ops::ListCategories>(call)?;
            let tree = ops::list_categories(&call.client, &p.args)
                .await
                .map_err(|e| op_error(call, e))?;
            let fields = p.fields.unwrap_or_else(|| owned(CATEGORY_FIELDS));
            let categories: Vec<Value> = tree
                .categories
                .iter()
                .map(|c| select_tree(c, &fields))
                .collect();
            let count = count_tree(&categories);
            let body = json!({
                "channel_id": tree.channel_id,
                "tree_id": tree.tree_id,
                "tree_name": tree.tree_name,
                "categories": categories,
                "count": count,
            });
            Ok(capped(body, call.options.max_result_bytes))
        }
        LIST_CUSTOMERS => {
            let mut p = parse::<ops::ListCustomers>(call)?;
            cap_limit(&mut p.args.limit);
            let listing = ops::list_customers(&call.client, &p.args)
                .await
                .map_err(|e| op_error(call, e))?;
            list_reply(
                call,
                listing,
                p.args.cursor.as_deref(),
                p.fields,
                CUSTOMER_FIELDS,
            )
        }
        GET_CUSTOMER => {
            let p = parse::<ops::GetCustomer>(call)?;
            let customer = ops::get_customer(&call.client, &p.args).await;
            record_reply(call, customer, p.fields)
        }
        CREATE_CUSTOMER => {
            let p = parse::<ops::CreateCustomer>(call)?;
            let customer = ops::create_customer(&call.client, &p.args).await;
            record_reply(call, customer, p.fields)
        }
        UPDATE_CUSTOMER => {
            let p = parse::<ops::UpdateCustomer>(call)?;
            let customer = ops::update_customer(&call.client, &p.args).await;
            record_reply(call, customer, p.fields)
        }
        RAW => raw_api_request(call).await,
        other => Err(ToolError::refused(
            "unknown_tool",
            format!("there is no tool named {other:?}"),
        )),
    }
}

/// A call's arguments: the operation's struct, and the MCP-only keys taken out of it.
struct Parsed<T> {
    args: T,
    fields: Option<Vec<String>>,
    token: Option<String>,
}

fn parse<T: DeserializeOwned>(call: &Call<'_>) -> Result<Parsed<T>, ToolError> {
    let mut rest: Map<String, Value> = call.arguments.clone();
    // Only the tools whose schema has them take them; elsewhere they stay and are refused
    // as unknown arguments like any other.
    let takes_fields = call.tool != DELETE_PRODUCT;
    let takes_token = matches!(call.tool, DELETE_PRODUCT | RAW);
    let fields = match takes_fields.then(|| rest.remove(FIELDS_ARGUMENT)).flatten() {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .into_iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s),
                    other => Err(ToolError::invalid(
                        call.tool,
                        format!("fields must be a list of field names; {other} is not a name"),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(other) => {
            return Err(ToolError::invalid(
                call.tool,
                format!(
                    "fields must be a list of field names such as [\"id\", \"name\"], not {other}"
                ),
            ));
        }
    };
    let token = match takes_token.then(|| rest.remove(TOKEN_ARGUMENT)).flatten() {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            return Err(ToolError::invalid(
                call.tool,
                format!("confirmation_token must be the string a preview returned, not {other}"),
            ));
        }
    };
    let args = serde_json::from_value(Value::Object(rest)).map_err(|e| {
        ToolError::invalid(call.tool, crate::error::plain_serde_message(&e.to_string()))
    })?;
    Ok(Parsed {
        args,
        fields,
        token,
    })
}

fn owned(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|f| (*f).to_owned()).collect()
}

/// A listing: fields selected (a compact default), capped, with the cursor to go on.
fn list_reply(
    call: &Call<'_>,
    listing: ops::Listing,
    cursor: Option<&str>,
    fields: Option<Vec<String>>,
    default_fields: &[&str],
) -> ToolResult {
    let fields = fields.unwrap_or_else(|| owned(default_fields));
    let records: Vec<Value> = listing
        .items
        .iter()
        .map(|r| select_fields(r, &fields))
        .collect();
    // The cursor after the first `kept` records of this call, built by the operations'
    // own cursor rule; a cursor the operation accepted cannot fail here.
    let resume = |kept: usize| {
        ops::cursor_after(cursor, kept)
            .unwrap_or_else(|_| listing.next_cursor.clone().unwrap_or_default())
    };
    let body = list_result(
        records,
        listing.next_cursor.clone(),
        listing.total,
        call.options.max_result_bytes,
        resume,
    );
    Ok(ToolReply::ok(body))
}

/// One record (a get, a create, an update): the fields asked for (all by default), capped.
fn record_reply(
    call: &Call<'_>,
    result: crate::Result<Value>,
    fields: Option<Vec<String>>,
) -> ToolResult {
    let record = result.map_err(|e| op_error(call, e))?;
    let record = match &fields {
        Some(f) => select_fields(&record, f),
        None => record,
    };
    Ok(capped(
        json!({ "record": record }),
        call.options.max_result_bytes,
    ))
}

fn capped(body: Value, max_bytes: usize) -> ToolReply {
    let (mut body, note) = cap_value(body, max_bytes);
    if let (Some(note), Value::Object(map)) = (note, &mut body) {
        map.insert("truncated".to_owned(), json!(true));
        map.insert("note".to_owned(), json!(note));
    }
    ToolReply::ok(body)
}

/// A category and its children (to any depth), each with the fields asked for.
fn select_tree(category: &Value, fields: &[String]) -> Value {
    let mut picked = select_fields(category, fields);
    if let (Some(Value::Array(children)), Value::Object(map)) =
        (category.get("children"), &mut picked)
        && !children.is_empty()
    {
        let kids: Vec<Value> = children.iter().map(|c| select_tree(c, fields)).collect();
        map.insert("children".to_owned(), Value::Array(kids));
    }
    picked
}

fn count_tree(categories: &[Value]) -> usize {
    categories
        .iter()
        .map(|c| {
            1 + c
                .get("children")
                .and_then(Value::as_array)
                .map_or(0, |k| count_tree(k))
        })
        .sum()
}

/// The answer to a destructive call without a token: what would change, and the token.
fn preview(call: &Call<'_>, what: Value, action: &str) -> ToolReply {
    let token = call.confirmations.issue(call.tool, call.arguments);
    ToolReply {
        outcome: Outcome::Preview,
        body: json!({
            "preview": what,
            "confirmation_token": token,
            "expires_in_seconds": TOKEN_LIFETIME.as_secs(),
            "note": format!(
                "nothing was changed yet. To {action}, call {} again with exactly the same \
                 arguments plus confirmation_token (it works once and expires in {} minutes).",
                call.tool,
                TOKEN_LIFETIME.as_secs() / 60
            ),
        }),
        records: None,
    }
}

/// The token of a confirmed destructive call, checked against its arguments.
fn confirm(call: &Call<'_>, token: &str) -> Result<(), ToolError> {
    call.confirmations
        .redeem(token, call.tool, call.arguments)
        .map_err(|refusal| {
            ToolError::refused(
                "confirmation_refused",
                format!("{} was not run, nothing changed: {refusal}", call.tool),
            )
        })
}

async fn delete_product(call: &Call<'_>) -> ToolResult {
    let p = parse::<ops::DeleteProduct>(call)?;
    match p.token {
        None => {
            let what = ops::preview_delete_product(&call.client, &p.args)
                .await
                .map_err(|e| op_error(call, e))?;
            Ok(preview(
                call,
                json!({ "action": "delete this product with its variants, images and custom fields", "product": what }),
                "delete it",
            ))
        }
        Some(token) => {
            confirm(call, &token)?;
            let done = ops::delete_product(&call.client, &p.args)
                .await
                .map_err(|e| op_error(call, e))?;
            Ok(ToolReply::ok(done))
        }
    }
}

async fn raw_api_request(call: &Call<'_>) -> ToolResult {
    let mut p = parse::<ops::RawRequest>(call)?;
    if p.args.paginate {
        cap_limit(&mut p.args.limit);
    }
    let (method, target) = p.args.check(&call.client).map_err(|e| op_error(call, e))?;
    if method != Method::GET && !call.options.allow_writes {
        return Err(ToolError::refused(
            "writes_not_allowed",
            format!(
                "raw-api-request sends only GET on this read-only server, and {method} may \
                 change the store; ask the operator to restart `bcsync mcp` with \
                 --allow-writes if changes are intended"
            ),
        ));
    }
    if method == Method::DELETE {
        match &p.token {
            None => {
                // The one preview of a raw write (tools::preview_raw_request): the checked
                // path and what it holds now, summarised for the agent.
                let look = ops::preview_raw_request(&call.client, &p.args)
                    .await
                    .map_err(|e| op_error(call, e))?;
                let display = format!(
                    "DELETE {}{}",
                    look["path"].as_str().unwrap_or_default(),
                    query_text(&target.query)
                );
                return Ok(preview(
                    call,
                    json!({
                        "action": display,
                        "deletes_collection": look["deletes_collection"],
                        "currently_there": describe(&look["current"]),
                    }),
                    "send the DELETE",
                ));
            }
            Some(token) => confirm(call, token)?,
        }
    }
    let resp = ops::raw_request(&call.client, &p.args)
        .await
        .map_err(|e| op_error(call, e))?;
    let mut body = match &p.fields {
        Some(f) => select_in_body(&resp.body, f),
        None => resp.body,
    };
    redact_hook_headers(&mut body);
    let mut out = json!({ "status": resp.status, "body": body });
    if let Some(next) = resp.next_cursor {
        out["next_cursor"] = json!(next);
    }
    Ok(capped(out, call.options.max_result_bytes))
}

/// The most records one list call reads for an agent: a page of the API's largest size.
/// More comes through `next_cursor`, so one call never reads the whole store.
const MAX_LIST_LIMIT: u32 = 250;

/// Bounds an agent's `limit` (none means the default); 0 is left for the operation to
/// refuse with its own message.
fn cap_limit(limit: &mut Option<u32>) {
    *limit = Some(limit.unwrap_or(ops::DEFAULT_LIMIT).min(MAX_LIST_LIMIT));
}

/// Webhook objects carry their custom headers, and a receiver's secret lives there (`bcsync
/// listen` authenticates deliveries by one): an agent reading `/v3/hooks` sees the hooks
/// but never the header values.
fn redact_hook_headers(body: &mut Value) {
    match body {
        Value::Array(items) => items.iter_mut().for_each(redact_hook_headers),
        Value::Object(map) => {
            let is_hook = map.contains_key("scope") && map.contains_key("destination");
            if is_hook && let Some(Value::Object(headers)) = map.get_mut("headers") {
                for value in headers.values_mut() {
                    *value = json!("[redacted]");
                }
            }
            map.values_mut().for_each(redact_hook_headers);
        }
        _ => {}
    }
}

fn query_text(query: &[(String, String)]) -> String {
    if query.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("?{}", parts.join("&"))
}

/// `fields` applied to each record of a raw body: a V2 array, a V3 `data` list or object.
fn select_in_body(body: &Value, fields: &[String]) -> Value {
    match body {
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| select_fields(i, fields)).collect())
        }
        Value::Object(map) if map.contains_key("data") => {
            let mut out = map.clone();
            let data = &map["data"];
            out.insert("data".to_owned(), select_in_body(data, fields));
            Value::Object(out)
        }
        other => select_fields(other, fields),
    }
}

/// What a GET found, in a few fields: how many records and their ids, or the record's
/// id and name.
fn describe(body: &Value) -> Value {
    let records = match body {
        Value::Array(items) => Some(items),
        Value::Object(map) => map.get("data").and_then(Value::as_array),
        _ => None,
    };
    if let Some(items) = records {
        let ids: Vec<&Value> = items.iter().filter_map(|i| i.get("id")).take(50).collect();
        return json!({ "records": items.len(), "ids": ids });
    }
    let record = body.get("data").unwrap_or(body);
    select_fields(
        record,
        &owned(&["id", "name", "sku", "email", "status", "title"]),
    )
}

/// A failed operation as the agent reads it.
fn op_error(call: &Call<'_>, e: crate::Error) -> ToolError {
    let tool = call.tool;
    match e {
        crate::Error::InvalidArgument { .. } => ToolError::invalid(tool, &e),
        crate::Error::NotFound { .. } => ToolError {
            outcome: Outcome::Failed,
            kind: "not_found",
            message: format!("{tool}: {e}"),
            retry_after: None,
        },
        crate::Error::Api(api) => api_error(call, &api),
        other => ToolError {
            outcome: Outcome::Failed,
            kind: "failed",
            message: format!("{tool} failed: {other}"),
            retry_after: None,
        },
    }
}

/// When a header-less 429 (platform load) gave no wait: try again after this long.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);

fn api_error(call: &Call<'_>, e: &bigcommerce::Error) -> ToolError {
    use bigcommerce::Error as E;
    let tool = call.tool;
    let failed = |kind: &'static str, message: String| ToolError {
        outcome: Outcome::Failed,
        kind,
        message,
        retry_after: None,
    };
    match e {
        E::RateLimited { .. } => rate_limited(tool, e.retry_after().unwrap_or(DEFAULT_RETRY_AFTER)),
        E::NotFound { .. } => failed(
            "not_found",
            format!("{tool}: {e}; check the id (the list tools find ids) and call again"),
        ),
        E::Unauthorized { .. } | E::Forbidden { .. } => failed(
            "access_denied",
            format!(
                "{tool}: {e}. This is the server's configuration, not the call: tell the \
                 operator; retrying will not help"
            ),
        ),
        E::Api { .. } => failed(
            "rejected",
            format!("{tool}: the store refused the request, nothing was changed: {e}"),
        ),
        E::Server { .. } | E::Transport { .. } | E::Unreachable { .. } | E::Decode { .. }
            if is_write(call) =>
        {
            failed(
                "outcome_unknown",
                format!(
                    "{tool}: {e}. The change may or may not have been applied: read the \
                     record (a get or list tool) before calling {tool} again"
                ),
            )
        }
        _ => failed("store_unavailable", format!("{tool}: {e}")),
    }
}

/// Whether the call may have written to the store.
fn is_write(call: &Call<'_>) -> bool {
    match call.tool {
        UPDATE_ORDER | CREATE_PRODUCT | UPDATE_PRODUCT | DELETE_PRODUCT | CREATE_CUSTOMER
        | UPDATE_CUSTOMER => true,
        RAW => call
            .arguments
            .get("method")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.eq_ignore_ascii_case("GET")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hook_header_values_never_reach_an_agent() {
        let mut body = serde_json::json!({"data": [
            {"id": 1, "scope": "store/order/*", "destination": "https://x/h",
             "headers": {"X-Bcsync-Secret": "s3cret"}},
            {"id": 2, "scope": "store/cart/*", "destination": "https://x/h", "headers": null}
        ]});
        super::redact_hook_headers(&mut body);
        assert_eq!(body["data"][0]["headers"]["X-Bcsync-Secret"], "[redacted]");
        assert!(body["data"][1]["headers"].is_null());
        assert!(!body.to_string().contains("s3cret"));
    }

    #[test]
    fn an_agents_limit_is_bounded() {
        let mut limit = Some(1_000_000);
        super::cap_limit(&mut limit);
        assert_eq!(limit, Some(super::MAX_LIST_LIMIT));
        let mut none = None;
        super::cap_limit(&mut none);
        assert_eq!(none, Some(crate::tools::DEFAULT_LIMIT));
    }

    use super::*;

    #[test]
    fn schemas_carry_the_mcp_arguments_and_refuse_unknown_ones() {
        let s = schema::<ops::DeleteProduct, false, true>();
        let props = s["properties"].as_object().unwrap();
        assert!(props.contains_key("id") && props.contains_key(TOKEN_ARGUMENT));
        assert!(!props.contains_key(FIELDS_ARGUMENT));
        assert_eq!(s.get("additionalProperties"), Some(&json!(false)));
        let s = schema::<ops::ListOrders, true, false>();
        assert!(
            s["properties"]
                .as_object()
                .unwrap()
                .contains_key(FIELDS_ARGUMENT)
        );
    }

    #[test]
    fn category_trees_keep_children_with_the_fields_asked() {
        let tree = json!({"id": 1, "name": "A", "url": "/a", "children": [
            {"id": 2, "name": "B", "url": "/b", "children": []}
        ]});
        let picked = select_tree(&tree, &owned(&["id", "name"]));
        assert_eq!(
            picked,
            json!({"id": 1, "name": "A", "children": [{"id": 2, "name": "B"}]})
        );
        assert_eq!(count_tree(&[picked]), 2);
    }

    #[test]
    fn previews_describe_lists_and_records() {
        assert_eq!(
            describe(&json!([{"id": 1}, {"id": 2}])),
            json!({"records": 2, "ids": [1, 2]})
        );
        assert_eq!(
            describe(&json!({"data": {"id": 5, "name": "x", "other": 1}})),
            json!({"id": 5, "name": "x"})
        );
    }
}
