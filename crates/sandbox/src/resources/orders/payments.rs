//! The V3 payment side of orders (docs/api-notes.md §6.6): transactions (200, **204 when
//! none**, 404 for an unknown order; `order_id` a string), refund quotes (201), refunds (201) and
//! the refund lists with their filters.
//!
//! A refund must pay out exactly what its items come to (the quote's amount), and never
//! more than the order still holds; it records a `refund` transaction, raises the order's
//! `refunded_amount`, and moves the order to Refunded (4) or Partially Refunded (14).

use std::borrow::Cow;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::list::MAX_LIMIT;
use super::model::{
    Money, Order, Refund, RefundItem, RefundPayment, STATUS_PARTIALLY_REFUNDED, STATUS_REFUNDED,
    Text, Transaction,
};
use super::render;
use super::{PathParams, path_id, v3_query};
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::mutation::Record;
use crate::paging;
use crate::query::Query;
use crate::state::Shared;

const V: ApiVersion = ApiVersion::V3;

fn order_missing(id: i64) -> ApiError {
    ApiError::new(V, StatusCode::NOT_FOUND, format!("Order {id} not found."))
}

fn unprocessable(title: impl Into<String>) -> ApiError {
    ApiError::unprocessable(V, title)
}

/// `GET /v3/orders/{id}/transactions`.
pub(super) async fn transactions(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let q = v3_query(raw);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let data = st.data.read();
    let order = data.orders.get(id).ok_or_else(|| order_missing(id))?;
    Ok(paging::v3_offset_or_204(
        &order.transactions,
        page,
        limit,
        &q,
        |t| render::transaction(id, t),
    ))
}

/// Filters of `GET /v3/orders/payment_actions/refunds` (docs/api-notes.md §6.6).
struct RefundFilter {
    order_ids: Option<Vec<i64>>,
    ids: Option<Vec<i64>>,
    created_min: Option<DateTime<Utc>>,
    created_max: Option<DateTime<Utc>>,
    transaction_ids: Option<Vec<i64>>,
}

impl RefundFilter {
    fn parse(q: &Query) -> Result<Self, ApiError> {
        let date = |key: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
            match q.get(key).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) => crate::dates::parse_filter(s, crate::dates::now(), false).map(Some).ok_or_else(|| {
                    ApiError::bad_request(
                        V,
                        format!("The filter '{key}' must be an RFC 3339 date-time such as 2020-01-15T01:02:34-01:00; got {s:?}."),
                    )
                }),
            }
        };
        let transaction_ids = match (q.int("transaction_id")?, q.int_list("transaction_id:in")?) {
            (Some(one), _) => Some(vec![one]),
            (None, list) => list,
        };
        Ok(RefundFilter {
            order_ids: q.int_list("order_id:in")?,
            ids: q.int_list("id:in")?,
            created_min: date("created:min")?,
            created_max: date("created:max")?,
            transaction_ids,
        })
    }

    fn matches(&self, r: &Refund) -> bool {
        self.order_ids
            .as_ref()
            .is_none_or(|ids| ids.contains(&r.order_id))
            && self.ids.as_ref().is_none_or(|ids| ids.contains(&r.id))
            && self
                .transaction_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&r.transaction_id))
            && self.created_min.is_none_or(|m| r.created >= m)
            && self.created_max.is_none_or(|m| r.created <= m)
    }
}

/// `GET /v3/orders/payment_actions/refunds`: by refund id ascending.
pub(super) async fn all_refunds(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = v3_query(raw);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let filter = RefundFilter::parse(&q)?;
    let data = st.data.read();
    let matching: Vec<&Refund> = data
        .orders
        .refunds
        .iter()
        .filter(|r| filter.matches(r))
        .collect();
    Ok(paging::v3_offset(&matching, page, limit, &q, |r| {
        render::refund(r)
    }))
}

/// `GET /v3/orders/{id}/payment_actions/refunds`.
pub(super) async fn order_refunds(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let q = v3_query(raw);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let data = st.data.read();
    data.orders.get(id).ok_or_else(|| order_missing(id))?;
    let matching: Vec<&Refund> = data
        .orders
        .refunds
        .iter()
        .filter(|r| r.order_id == id)
        .collect();
    Ok(paging::v3_offset(&matching, page, limit, &q, |r| {
        render::refund(r)
    }))
}

/// `GET /v3/orders/payment_actions/refunds/{refund_id}`.
pub(super) async fn refund(State(st): State<Shared>, Path(p): Path<PathParams>) -> ApiResult {
    let id = path_id(&p, "refund_id", V)?;
    let data = st.data.read();
    let r = data
        .orders
        .refunds
        .binary_search_by_key(&id, |r| r.id)
        .ok()
        .and_then(|i| data.orders.refunds.get(i))
        .ok_or_else(|| {
            ApiError::new(V, StatusCode::NOT_FOUND, format!("Refund {id} not found."))
        })?;
    Ok(paging::v3_single(render::refund(r)))
}

/// What a set of refund items comes to on an order.
struct Computed {
    items: Vec<RefundItem>,
    total: Money,
    /// Quantities refunded per line id.
    line_quantities: Vec<(i64, i64)>,
}

fn field_err(index: usize, field: &str, msg: &str) -> ApiError {
    unprocessable("The refund items are not valid.")
        .with_error(format!("items.{index}.{field}"), msg)
}

/// Prices the `items` of a quote or refund request against the order.
fn compute(order: &Order, body: &Map<String, Value>) -> Result<Computed, ApiError> {
    let items = body
        .get("items")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            unprocessable("The field 'items' is required: a non-empty list of items to refund.")
        })?;
    let mut out = Computed {
        items: Vec::with_capacity(items.len()),
        total: Money::ZERO,
        line_quantities: Vec::new(),
    };
    for (i, item) in items.iter().enumerate() {
        let m = item
            .as_object()
            .ok_or_else(|| field_err(i, "item_type", "Each item must be an object."))?;
        let item_type = m.get("item_type").and_then(Value::as_str).ok_or_else(|| {
            field_err(
                i,
                "item_type",
                "Required: PRODUCT, GIFT_WRAPPING, SHIPPING, HANDLING, ORDER or TAX.",
            )
        })?;
        let item_id = m.get("item_id").and_then(Value::as_i64);
        let quantity = match m.get("quantity") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_i64()
                    .ok_or_else(|| field_err(i, "quantity", "Must be an integer."))?,
            ),
        };
        let amount = match m.get("amount") {
            None | Some(Value::Null) => None,
            Some(v) => match Money::from_json(v) {
                Some(a) if a.0 >= 0 => Some(a),
                _ => return Err(field_err(i, "amount", "Must be a non-negative number.")),
            },
        };
        let reason = m.get("reason").and_then(Value::as_str).unwrap_or("");
        if reason.chars().count() > 1000 {
            return Err(field_err(i, "reason", "At most 1000 characters."));
        }
        let need_amount =
            || amount.ok_or_else(|| field_err(i, "amount", "Required for this item type."));
        let value = match item_type {
            "PRODUCT" => {
                let lid = item_id
                    .ok_or_else(|| field_err(i, "item_id", "Required: the order product id."))?;
                let line = order.line(lid).ok_or_else(|| {
                    field_err(i, "item_id", "No such order product on this order.")
                })?;
                match quantity {
                    Some(q) => {
                        let already: i64 = out
                            .line_quantities
                            .iter()
                            .filter(|(l, _)| *l == lid)
                            .map(|(_, q)| *q)
                            .sum();
                        let remaining = line.quantity - line.quantity_refunded - already;
                        if q < 1 || q > remaining {
                            return Err(field_err(
                                i,
                                "quantity",
                                &format!(
                                    "Must be between 1 and {remaining} (the quantity not yet refunded)."
                                ),
                            ));
                        }
                        out.line_quantities.push((lid, q));
                        amount.unwrap_or_else(|| line.price_inc_tax.times(q))
                    }
                    None => {
                        let a = need_amount()?;
                        if a > line.total_inc_tax() {
                            return Err(field_err(i, "amount", "More than the line's total."));
                        }
                        a
                    }
                }
            }
            "SHIPPING" | "HANDLING" => {
                let aid = item_id
                    .ok_or_else(|| field_err(i, "item_id", "Required: the order address id."))?;
                let sa = order.shipping_address(aid).ok_or_else(|| {
                    field_err(i, "item_id", "No such order address on this order.")
                })?;
                let cap = if item_type == "SHIPPING" {
                    sa.cost_inc_tax
                } else {
                    sa.handling_cost_inc_tax
                };
                let a = need_amount()?;
                if a > cap {
                    return Err(field_err(i, "amount", "More than the address's charge."));
                }
                a
            }
            "ORDER" => {
                if item_id.is_some_and(|id| id != order.id) {
                    return Err(field_err(
                        i,
                        "item_id",
                        "Must be the order id for item_type ORDER.",
                    ));
                }
                need_amount()?
            }
            "GIFT_WRAPPING" | "TAX" => need_amount()?,
            _ => {
                return Err(field_err(
                    i,
                    "item_type",
                    "Must be PRODUCT, GIFT_WRAPPING, SHIPPING, HANDLING, ORDER or TAX.",
                ));
            }
        };
        out.total += value;
        out.items.push(RefundItem {
            item_type: Cow::Owned(item_type.to_owned()),
            item_id: item_id.unwrap_or(order.id),
            quantity,
            requested_amount: amount,
            reason: Cow::Owned(reason.to_owned()),
        });
    }
    out.total = out.total.round_cents();
    if out.total == Money::ZERO {
        return Err(unprocessable(
            "The refund comes to 0.00; nothing to refund.",
        ));
    }
    if out.total > order.refundable() {
        return Err(unprocessable(format!(
            "The refund of {:.2} exceeds the {:.2} that can still be refunded on order {}.",
            out.total.v3_number(),
            order.refundable().v3_number(),
            order.id
        )));
    }
    Ok(out)
}

/// The payment provider id that paid for an order (what its refund goes back to).
fn provider(order: &Order) -> &'static str {
    order
        .transactions
        .iter()
        .find(|t| matches!(t.event, "purchase" | "capture"))
        .map_or("custom", |t| t.gateway)
}

/// `POST /v3/orders/{id}/payment_actions/refund_quotes`: 201.
pub(super) async fn refund_quote(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let map = body
        .as_object()
        .ok_or_else(|| unprocessable("The request body must be a JSON object."))?;
    let data = st.data.read();
    let order = data.orders.get(id).ok_or_else(|| order_missing(id))?;
    let c = compute(order, map)?;
    let amount = c.total.v3_number();
    let gateway = provider(order);
    let mut methods = vec![json!([{
        "provider_id": gateway,
        "provider_description": order.payment_method,
        "amount": amount,
        "offline": gateway == "custom",
        "offline_provider": gateway == "custom",
        "offline_reason": if gateway == "custom" { "This is an offline payment provider." } else { "" },
    }])];
    if gateway != "custom" {
        methods.push(json!([{
            "provider_id": "custom",
            "provider_description": "Custom",
            "amount": amount,
            "offline": true,
            "offline_provider": true,
            "offline_reason": "This is an offline payment provider.",
        }]));
    }
    if order.customer_id != 0 {
        methods.push(json!([{
            "provider_id": "storecredit",
            "provider_description": "Store Credit",
            "amount": amount,
            "offline": false,
            "offline_provider": false,
            "offline_reason": "",
        }]));
    }
    Ok(paging::v3_single_status(
        StatusCode::CREATED,
        json!({
            "order_id": id,
            "total_refund_amount": amount,
            "total_refund_tax_amount": 0.0,
            "order_level_refund_amount": 0.0,
            "rounding": 0.0,
            "adjustment": 0.0,
            "tax_inclusive": true,
            "refund_methods": methods,
        }),
    ))
}

/// `POST /v3/orders/{id}/payment_actions/refunds`: 201.
pub(super) async fn create_refund(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let map = body
        .as_object()
        .ok_or_else(|| unprocessable("The request body must be a JSON object."))?;
    st.write(|tx| {
    let now = tx.now;
    let orders = &mut tx.data.orders;
    let order = orders.get(id).ok_or_else(|| order_missing(id))?;
    let computed = compute(order, map)?;
    let (total, uses_override) = match map
        .get("merchant_calculated_override")
        .filter(|v| !v.is_null())
    {
        Some(o) => {
            let amount = o
                .get("total_amount")
                .and_then(Money::from_json)
                .filter(|m| m.0 >= 0)
                .ok_or_else(|| {
                    unprocessable(
                        "merchant_calculated_override.total_amount must be a non-negative number.",
                    )
                })?
                .round_cents();
            if amount > order.refundable() {
                return Err(unprocessable(
                    "merchant_calculated_override.total_amount exceeds what can be refunded.",
                ));
            }
            (amount, true)
        }
        None => (computed.total, false),
    };
    if user_guest_store_credit(order, map) {
        return Err(unprocessable(
            "Unable to provide store credit for a guest customer.",
        ));
    }
    let payments = parse_payments(map)?;
    let paid: Money = payments
        .iter()
        .map(|(_, a, _)| *a)
        .sum::<Money>()
        .round_cents();
    if paid != total {
        return Err(unprocessable(format!(
            "The payments add up to {:.2} but the refund comes to {:.2}; create a refund quote and pay exactly its amount.",
            paid.v3_number(),
            total.v3_number()
        )));
    }
    let reason: Text = Cow::Owned(
        map.get("reason")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
    );
    let reference = order
        .transactions
        .iter()
        .find(|t| matches!(t.event, "purchase" | "capture"))
        .map(|t| t.id);
    let gateway = provider(order);
    let currency = order.currency_code.clone();

    let transaction_id = orders.ids.next_transaction();
    let refund_id = orders.ids.next_refund();
    let payments: Vec<RefundPayment> = payments
        .into_iter()
        .map(|(provider_id, amount, offline)| RefundPayment {
            id: orders.ids.next_refund_payment(),
            provider_id: Cow::Owned(provider_id),
            amount,
            offline,
        })
        .collect();
    tx.created(Record::OrderRefund { id: refund_id, order_id: id });
    let Some(order) = tx.order(id) else {
        return Err(order_missing(id));
    };
    for (line_id, q) in &computed.line_quantities {
        if let Some(line) = order.lines.iter_mut().find(|l| l.id == *line_id) {
            line.quantity_refunded += q;
        }
    }
    order.transactions.push(Transaction {
        id: transaction_id,
        event: "refund",
        method: if gateway == "custom" {
            "custom"
        } else {
            "credit_card"
        },
        amount: total,
        currency,
        gateway,
        gateway_transaction_id: Cow::Owned(format!("rf_{transaction_id:08}")),
        date_created: now,
        test: false,
        status: "ok",
        fraud_review: false,
        reference_transaction_id: reference,
        card: None,
    });
    order.refunded_amount += total;
    if order.refunded_amount >= order.total_inc_tax {
        order.status_id = STATUS_REFUNDED;
        order.payment_status = "refunded";
    } else {
        order.status_id = STATUS_PARTIALLY_REFUNDED;
        order.payment_status = "partially refunded";
    }
    let refund = Refund {
        id: refund_id,
        order_id: id,
        created: now,
        reason,
        total_amount: total,
        total_tax: Money::ZERO,
        uses_merchant_override_values: uses_override,
        items: computed.items,
        payments,
        transaction_id,
    };
    let body = render::refund(&refund);
    tx.data.orders.refunds.push(refund);
    Ok(paging::v3_single_status(StatusCode::CREATED, body))
    })
}

/// A guest order cannot be refunded to store credit (the spec's own 422 example).
fn user_guest_store_credit(order: &Order, map: &Map<String, Value>) -> bool {
    order.customer_id == 0
        && map
            .get("payments")
            .and_then(Value::as_array)
            .is_some_and(|ps| {
                ps.iter()
                    .any(|p| p.get("provider_id").and_then(Value::as_str) == Some("storecredit"))
            })
}

fn parse_payments(map: &Map<String, Value>) -> Result<Vec<(String, Money, bool)>, ApiError> {
    let payments = map
        .get("payments")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            unprocessable("The field 'payments' is required: [{provider_id, amount, offline}].")
        })?;
    payments
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let err = |field: &str, msg: &str| {
                unprocessable("The refund payments are not valid.")
                    .with_error(format!("payments.{i}.{field}"), msg)
            };
            let provider_id = p
                .get("provider_id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| err("provider_id", "Required."))?;
            let amount = p
                .get("amount")
                .and_then(Money::from_json)
                .filter(|m| m.0 > 0)
                .ok_or_else(|| err("amount", "Required: a positive number."))?;
            let offline = p.get("offline").and_then(Value::as_bool).unwrap_or(false);
            Ok((provider_id.to_owned(), amount, offline))
        })
        .collect()
}
