//! Orders (V2, docs/api-notes.md §6): list with filters, get one with its lines, shipping
//! addresses, shipments and coupons, and update its status or staff notes.

use bigcommerce::{ApiRequest, ApiVersion, Client};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    Listing, Paging, check_id, check_limit, collect, collect_all, date_filter, invalid, pair,
    parse_date,
};
use crate::error::{Error, Result};

/// The order statuses by id (docs/api-notes.md §6.3).
pub const ORDER_STATUSES: [(u8, &str); 15] = [
    (0, "Incomplete"),
    (1, "Pending"),
    (2, "Shipped"),
    (3, "Partially Shipped"),
    (4, "Refunded"),
    (5, "Cancelled"),
    (6, "Declined"),
    (7, "Awaiting Payment"),
    (8, "Awaiting Pickup"),
    (9, "Awaiting Shipment"),
    (10, "Completed"),
    (11, "Awaiting Fulfillment"),
    (12, "Manual Verification Required"),
    (13, "Disputed"),
    (14, "Partially Refunded"),
];

/// A status given as its id (`2`) or its name in any case, with spaces, `-` or `_`
/// (`shipped`, `awaiting-fulfillment`).
pub fn parse_status(argument: &str, value: &str) -> Result<u8> {
    let wanted = normalize(value);
    ORDER_STATUSES
        .iter()
        .find(|(id, name)| wanted == id.to_string() || wanted == normalize(name))
        .map(|(id, _)| *id)
        .ok_or_else(|| {
            let names: Vec<String> = ORDER_STATUSES
                .iter()
                .map(|(id, name)| format!("{id} {}", normalize(name)))
                .collect();
            invalid(
                argument,
                format!(
                    "{value:?} is not an order status; use an id or a name: {}",
                    names.join(", ")
                ),
            )
        })
}

fn normalize(s: &str) -> String {
    s.trim()
        .to_ascii_lowercase()
        .split([' ', '-', '_'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// Which orders to list.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ListOrders {
    /// Only orders in this status: an id (0-14) or a name such as shipped, pending,
    /// awaiting-fulfillment.
    #[arg(long)]
    pub status: Option<String>,
    /// Only orders created at or after this date (YYYY-MM-DD or ISO 8601, UTC unless an
    /// offset is given).
    #[arg(long)]
    pub created_since: Option<String>,
    /// Only orders created at or before this date (YYYY-MM-DD or ISO 8601).
    #[arg(long)]
    pub created_until: Option<String>,
    /// Only orders modified at or after this date (YYYY-MM-DD or ISO 8601).
    #[arg(long)]
    pub modified_since: Option<String>,
    /// Only orders of this customer id (0 for guest orders).
    #[arg(long)]
    pub customer_id: Option<u64>,
    /// Newest orders first (by creation date) instead of by id ascending.
    #[arg(long)]
    #[serde(default)]
    pub newest_first: bool,
    /// Most records to return (default 50); pages are fetched as needed.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Resume after the records already returned: the next_cursor of a previous result.
    #[arg(long)]
    pub cursor: Option<String>,
}

impl ListOrders {
    /// The V2 query for these filters (docs/api-notes.md §6.2), or the first invalid one.
    pub fn query(&self) -> Result<Vec<(String, String)>> {
        check_limit(self.limit)?;
        let mut q = Vec::new();
        if let Some(status) = &self.status {
            q.push(pair("status_id", parse_status("status", status)?));
        }
        let created_since = self
            .created_since
            .as_deref()
            .map(|v| parse_date("created_since", v))
            .transpose()?;
        let created_until = self
            .created_until
            .as_deref()
            .map(|v| parse_date("created_until", v))
            .transpose()?;
        if let (Some(since), Some(until)) = (created_since, created_until)
            && since > until
        {
            return Err(invalid(
                "created_until",
                format!(
                    "{} is before `created_since` {}; give an end after the start",
                    date_filter(until),
                    date_filter(since)
                ),
            ));
        }
        if let Some(d) = created_since {
            q.push(pair("min_date_created", date_filter(d)));
        }
        if let Some(d) = created_until {
            q.push(pair("max_date_created", date_filter(d)));
        }
        if let Some(v) = &self.modified_since {
            q.push(pair(
                "min_date_modified",
                date_filter(parse_date("modified_since", v)?),
            ));
        }
        if let Some(id) = self.customer_id {
            q.push(pair("customer_id", id));
        }
        if self.newest_first {
            q.push(pair("sort", "date_created:desc"));
        }
        Ok(q)
    }
}

/// Lists orders (`GET /v2/orders`), up to `limit`.
pub async fn list_orders(client: &Client, args: &ListOrders) -> Result<Listing> {
    let query = args.query()?;
    collect(
        client,
        Paging::V2,
        "/orders",
        &query,
        Some(check_limit(args.limit)?),
        args.cursor.as_deref(),
    )
    .await
}

/// Which order to get.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct GetOrder {
    /// The order id.
    #[arg(value_name = "ID")]
    pub id: u64,
}

/// One order with its lines (`products`), `shipping_addresses`, `shipments` and `coupons`
/// in place of the links the order carries (docs/api-notes.md §6.2): five requests, sent
/// together.
pub async fn get_order(client: &Client, args: &GetOrder) -> Result<Value> {
    let id = check_id("id", args.id)?;
    let base = format!("/orders/{id}");
    let order = client.get(ApiVersion::V2, &base, &[]).await?;
    let mut order = match order.body {
        Some(v @ Value::Object(_)) => v,
        _ => {
            return Err(Error::NotFound {
                what: format!("order {id}"),
                fix: "list orders to find its id".to_owned(),
            });
        }
    };
    let sub = |name: &str| {
        let path = format!("{base}/{name}");
        async move { collect_all(client, Paging::V2, &path, &[]).await }
    };
    let (lines, addresses, shipments, coupons) = futures::try_join!(
        sub("products"),
        sub("shipping_addresses"),
        sub("shipments"),
        sub("coupons"),
    )?;
    order["products"] = Value::Array(lines);
    order["shipping_addresses"] = Value::Array(addresses);
    order["shipments"] = Value::Array(shipments);
    order["coupons"] = Value::Array(coupons);
    Ok(order)
}

/// What to change on an order.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrder {
    /// The order id.
    #[arg(value_name = "ID")]
    pub id: u64,
    /// The new status: an id (0-14) or a name such as shipped, completed, cancelled.
    #[arg(long)]
    pub status: Option<String>,
    /// The new staff notes (visible to staff only; replaces the current notes).
    #[arg(long)]
    pub staff_notes: Option<String>,
}

impl UpdateOrder {
    /// The `PUT /v2/orders/{id}` body, or the first invalid argument.
    pub fn body(&self) -> Result<Value> {
        check_id("id", self.id)?;
        let mut body = json!({});
        if let Some(status) = &self.status {
            body["status_id"] = json!(parse_status("status", status)?);
        }
        if let Some(notes) = &self.staff_notes {
            body["staff_notes"] = json!(notes);
        }
        if self.status.is_none() && self.staff_notes.is_none() {
            return Err(invalid(
                "status",
                "nothing to change: give `status`, `staff_notes` or both",
            ));
        }
        Ok(body)
    }
}

/// Updates an order's status and/or staff notes; returns the order as saved.
pub async fn update_order(client: &Client, args: &UpdateOrder) -> Result<Value> {
    let body = args.body()?;
    let resp = client
        .send(ApiRequest::put(
            ApiVersion::V2,
            format!("/orders/{}", args.id),
            body,
        ))
        .await?;
    Ok(resp.body.unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_by_id_or_any_spelling_of_the_name() {
        assert_eq!(parse_status("status", "2").unwrap(), 2);
        assert_eq!(parse_status("status", "Shipped").unwrap(), 2);
        assert_eq!(parse_status("status", "awaiting_fulfillment").unwrap(), 11);
        assert_eq!(parse_status("status", "Awaiting Fulfillment").unwrap(), 11);
        let e = parse_status("status", "shippd").unwrap_err().to_string();
        assert!(e.starts_with("invalid status: \"shippd\""), "{e}");
        assert!(e.contains("2 shipped"), "{e}");
        assert!(parse_status("status", "15").is_err());
    }

    #[test]
    fn filters_become_the_v2_query_and_bad_ones_are_named() {
        let args = ListOrders {
            status: Some("shipped".into()),
            created_since: Some("2024-01-01".into()),
            created_until: Some("2024-02-01T12:00:00Z".into()),
            modified_since: Some("2024-01-15".into()),
            customer_id: Some(7),
            newest_first: true,
            ..ListOrders::default()
        };
        assert_eq!(
            args.query().unwrap(),
            vec![
                pair("status_id", 2),
                pair("min_date_created", "2024-01-01T00:00:00Z"),
                pair("max_date_created", "2024-02-01T12:00:00Z"),
                pair("min_date_modified", "2024-01-15T00:00:00Z"),
                pair("customer_id", 7),
                pair("sort", "date_created:desc"),
            ]
        );
        let backwards = ListOrders {
            created_since: Some("2024-02-01".into()),
            created_until: Some("2024-01-01".into()),
            ..ListOrders::default()
        };
        let e = backwards.query().unwrap_err().to_string();
        assert!(e.starts_with("invalid created_until"), "{e}");
        let zero = ListOrders {
            limit: Some(0),
            ..ListOrders::default()
        };
        assert!(zero.query().unwrap_err().to_string().contains("limit"));
    }

    #[test]
    fn an_update_needs_something_to_change() {
        let none = UpdateOrder {
            id: 5,
            ..UpdateOrder::default()
        };
        assert!(none.body().unwrap_err().to_string().contains("staff_notes"));
        let both = UpdateOrder {
            id: 5,
            status: Some("shipped".into()),
            staff_notes: Some("sent by courier".into()),
        };
        assert_eq!(
            both.body().unwrap(),
            json!({"status_id": 2, "staff_notes": "sent by courier"})
        );
    }
}
