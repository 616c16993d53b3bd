//! Order writes (docs/api-notes.md §6.4): `POST /v2/orders` (200, as the spec lists), `PUT` with
//! line add/update/remove, archive one or all (DELETE never hard-deletes), shipping-address
//! updates, and shipments (POST 201).
//!
//! Every write sets `date_modified` to now, so incremental syncs see it.

use std::borrow::Cow;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::Value;

use super::input::{self, Obj, bad, invalid};
use super::model::{
    Address, Fee, Line, LineOption, Money, Order, Pickup, STATUS_PARTIALLY_SHIPPED, STATUS_SHIPPED,
    Shipment, ShipmentItem, ShippingAddress, Text,
};
use super::render::{OrderView, RenderCtx, ShippingAddressView};
use super::{IdCounters, PathParams, order_not_found, path_id, v2_base, v2_query};
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::mutation::Record;
use crate::paging;
use crate::resources::catalog::ProductRef;
use crate::resources::channels::ChannelsData;
use crate::state::Shared;

const V: ApiVersion = ApiVersion::V2;

/// Fields an order body may not carry, on POST and PUT (docs/api-notes.md §6.4, §6.5 and the spec's
/// read-only notes). `item_total` is the spelling of the spec's own error example.
const READ_ONLY: &[&str] = &[
    "id",
    "date_modified",
    "date_shipped",
    "cart_id",
    "status",
    "custom_status",
    "subtotal_tax",
    "shipping_cost_tax",
    "shipping_cost_tax_class_id",
    "handling_cost_tax",
    "handling_cost_tax_class_id",
    "wrapping_cost_tax",
    "wrapping_cost_tax_class_id",
    "total_tax",
    "payment_status",
    "store_credit_amount",
    "gift_certificate_amount",
    "currency_id",
    "currency_code",
    "currency_exchange_rate",
    "default_currency_id",
    "coupon_discount",
    "shipping_address_count",
    "is_email_opt_in",
    "order_source",
    "external_id",
    "item_total",
    "coupons",
];

/// Fields a shipping-address PUT may not carry (the spec's own error example is here).
const ADDRESS_READ_ONLY: &[&str] = &[
    "id",
    "order_id",
    "item_total",
    "items_total",
    "items_shipped",
    "base_cost",
    "cost_ex_tax",
    "cost_inc_tax",
    "cost_tax",
    "cost_tax_class_id",
    "base_handling_cost",
    "handling_cost_ex_tax",
    "handling_cost_inc_tax",
    "handling_cost_tax",
    "handling_cost_tax_class_id",
    "shipping_zone_id",
    "shipping_zone_name",
    "shipping_quotes",
];

fn render(order: &Order, ctx: &RenderCtx) -> axum::response::Response {
    (StatusCode::OK, Json(OrderView { order, ctx })).into_response()
}

/// `POST /v2/orders`.
pub(super) async fn create(
    State(st): State<Shared>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let q = v2_query(raw);
    let ctx = RenderCtx::new(&q, v2_base(&headers, &st.config.store_hash));
    let map = input::object(&body, "The order")?;
    input::reject_read_only(map, READ_ONLY)?;
    let billing = input::billing_address(map.get("billing_address"))?;
    let products = input::array(map, "products")?;
    let consignments = map.get("consignments").filter(|v| !v.is_null());
    // The two modes are mutually exclusive (docs/api-notes.md §6.4).
    match (products, consignments) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "Send either 'products' (with 'shipping_addresses') or 'consignments', not both.",
            ));
        }
        (None, None) => {
            return Err(bad(
                "The field 'products' (or 'consignments' for a pickup order) is required.",
            ));
        }
        (Some(p), None) if p.is_empty() => {
            return Err(bad("The field 'products' must hold at least one product."));
        }
        _ => {}
    }
    if consignments.is_some() && map.contains_key("shipping_addresses") {
        return Err(bad(
            "Send either 'consignments' or 'shipping_addresses', not both.",
        ));
    }

    st.write(|tx| {
        let now = tx.now;
        let data = &mut *tx.data;
        let customer_id = input::int(map, "customer_id")?.unwrap_or(0);
        if customer_id != 0 && !data.customers.exists(customer_id) {
            return Err(invalid(format!(
                "The customer {customer_id} does not exist. Use customer_id 0 for a guest order."
            )));
        }
        check_channel(&data.channels, map)?;
        let catalog = data.catalog.product_refs();
        let orders = &mut data.orders;
        let mut ids = orders.ids.clone();
        let id = ids.next_order();
        let mut order = Order::new(id, now);
        order.customer_id = customer_id;
        order.billing_address = billing;
        apply_scalars(&mut order, map, true)?;
        if let Some(s) = input::int(map, "status_id")? {
            order.status_id = valid_status(s)?;
        }
        if let Some(d) = date_created(map)? {
            order.date_created = d;
        }

        if let Some(products) = products {
            // Legacy mode: lines ship to the first shipping address (a copy of the billing
            // address when none is given, so every physical line has a consignment).
            let addresses = input::array(map, "shipping_addresses")?;
            match addresses.filter(|a| !a.is_empty()) {
                Some(addresses) => {
                    for a in addresses {
                        let sa = new_shipping_address(&mut ids, a)?;
                        order.shipping_addresses.push(sa);
                    }
                }
                None => {
                    let sa = ShippingAddress {
                        id: ids.next_address(),
                        address: Address {
                            form_fields: Vec::new(),
                            ..order.billing_address.clone()
                        },
                        shipping_method: Cow::Borrowed("None"),
                        cost_tax_class_id: 2,
                        handling_cost_tax_class_id: 2,
                        ..ShippingAddress::default()
                    };
                    order.shipping_addresses.push(sa);
                }
            }
            let address_id = order.shipping_addresses.first().map_or(0, |a| a.id);
            for (i, item) in products.iter().enumerate() {
                let line = new_line(item, i, &catalog, &mut ids, address_id)?;
                order.lines.push(line);
            }
        } else if let Some(c) = consignments {
            let pickup = new_pickup(c, &catalog, &mut ids, &mut order.lines)?;
            order.pickup = Some(Box::new(pickup));
        }
        if let Some(fees) = input::array(map, "fees")? {
            order.fees = new_fees(&mut ids, fees, &[])?;
        }
        apply_costs(&mut order, map)?;
        order.recompute_totals();
        apply_total_overrides(&mut order, map)?;
        order.date_modified = now;
        let response = render(&order, &ctx);
        orders.ids = ids;
        orders.push(order);
        tx.created(Record::Order(id));
        Ok(response)
    })
}

/// `PUT /v2/orders/{id}`.
pub(super) async fn update(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let q = v2_query(raw);
    let ctx = RenderCtx::new(&q, v2_base(&headers, &st.config.store_hash));
    let map = input::object(&body, "The order")?;
    input::reject_read_only(map, READ_ONLY)?;
    if map.contains_key("consignments") {
        return Err(bad(
            "Updating consignments is not supported by the sandbox; update 'products' instead.",
        ));
    }
    st.write(|tx| {
    let now = tx.now;
    let data = &mut *tx.data;
    if let Some(c) = input::int(map, "customer_id")?
        && c != 0
        && !data.customers.exists(c)
    {
        return Err(invalid(format!(
            "The customer {c} does not exist. Use customer_id 0 for a guest order."
        )));
    }
    let needs_catalog = input::array(map, "products")?
        .is_some_and(|items| items.iter().any(|i| i.get("id").is_none_or(Value::is_null)));
    check_channel(&data.channels, map)?;
    let catalog = if needs_catalog {
        data.catalog.product_refs()
    } else {
        Vec::new()
    };
    let orders = &mut data.orders;
    let Some(existing) = orders.get(id) else {
        return Err(order_not_found());
    };
    // Work on copies so that a validation error half-way leaves the order untouched.
    let mut order = existing.clone();
    let mut ids = orders.ids.clone();
    if map.contains_key("external_merchant_id") && order.external_merchant_id.is_some() {
        return Err(bad(
            "The field 'external_merchant_id' cannot be written to once set. Please remove it from your request before trying again.",
        ));
    }
    if let Some(c) = input::int(map, "customer_id")? {
        order.customer_id = c;
    }
    apply_scalars(&mut order, map, false)?;
    if let Some(s) = input::int(map, "status_id")? {
        order.status_id = valid_status(s)?;
        if order.status_id == STATUS_SHIPPED && order.date_shipped.is_none() {
            order.date_shipped = Some(now);
        }
    }
    if let Some(d) = date_created(map)? {
        order.date_created = d;
    }
    if let Some(deleted) = input::boolean(map, "is_deleted")? {
        order.is_deleted = deleted;
    }
    if let Some(b) = map.get("billing_address").filter(|v| !v.is_null()) {
        input::apply_address(
            &mut order.billing_address,
            input::object(b, "The field 'billing_address'")?,
        )?;
        input::check_billing(&order.billing_address)?;
    }
    if let Some(addresses) = input::array(map, "shipping_addresses")? {
        for a in addresses {
            let a_map = input::object(a, "Each shipping address")?;
            match input::int(a_map, "id")? {
                Some(aid) => {
                    let sa = order
                        .shipping_addresses
                        .iter_mut()
                        .find(|s| s.id == aid)
                        .ok_or_else(|| {
                            invalid(format!("The shipping address {aid} is not on order {id}."))
                        })?;
                    patch_shipping_address(sa, a_map)?;
                }
                None => {
                    let sa = new_shipping_address(&mut ids, a)?;
                    order.shipping_addresses.push(sa);
                }
            }
        }
    }
    let mut totals_dirty = false;
    if let Some(items) = input::array(map, "products")? {
        let address_id = order.shipping_addresses.first().map_or(0, |a| a.id);
        for (i, item) in items.iter().enumerate() {
            update_or_add_line(&mut order, item, i, &catalog, &mut ids, address_id)?;
        }
        totals_dirty = true;
    }
    if let Some(fees) = input::array(map, "fees")? {
        // Fees follow full-PUT semantics: the ones left out are deleted (docs/api-notes.md §6.4).
        order.fees = new_fees(&mut ids, fees, &order.fees)?;
        totals_dirty = true;
    }
    totals_dirty |= apply_costs(&mut order, map)?;
    if totals_dirty {
        order.recompute_totals();
    }
    apply_total_overrides(&mut order, map)?;
    order.date_modified = now;
    let response = render(&order, &ctx);
    orders.ids = ids;
    if let Some(slot) = tx.order(id) {
        *slot = order;
    }
    Ok(response)
    })
}

/// `DELETE /v2/orders/{id}`: archives (docs/api-notes.md §6.1); 204.
pub(super) async fn archive(State(st): State<Shared>, Path(p): Path<PathParams>) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    st.write(|tx| {
        let order = tx.order(id).ok_or_else(order_not_found)?;
        order.is_deleted = true;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `DELETE /v2/orders`: **archives every order** (docs/api-notes.md §12.11), or the first `limit`
/// unarchived ones when `limit` is given; 204.
pub(super) async fn archive_all(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = v2_query(raw);
    let limit = match q.int("limit")? {
        Some(l) if l < 1 => return Err(bad("The parameter 'limit' must be 1 or more.")),
        Some(l) => usize::try_from(l).unwrap_or(usize::MAX),
        None => usize::MAX,
    };
    st.write(|tx| {
        let ids: Vec<i64> = tx
            .data
            .orders
            .orders
            .iter()
            .filter(|o| !o.is_deleted)
            .take(limit)
            .map(|o| o.id)
            .collect();
        for id in ids {
            if let Some(o) = tx.order(id) {
                o.is_deleted = true;
            }
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `PUT /v2/orders/{id}/shipping_addresses/{id}`: does **not** recalculate shipping or
/// tax (docs/api-notes.md §6.1).
pub(super) async fn update_shipping_address(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let address_id = path_id(&p, "address_id", V)?;
    let base = v2_base(&headers, &st.config.store_hash);
    let map = input::object(&body, "The shipping address")?;
    input::reject_read_only(map, ADDRESS_READ_ONLY)?;
    st.write(|tx| {
        let order = tx.order(id).ok_or_else(order_not_found)?;
        let sa = order
            .shipping_addresses
            .iter_mut()
            .find(|a| a.id == address_id)
            .ok_or_else(order_not_found)?;
        let mut updated = sa.clone();
        patch_shipping_address(&mut updated, map)?;
        *sa = updated;
        let order = &*order;
        let address = order
            .shipping_address(address_id)
            .ok_or_else(order_not_found)?;
        Ok((
            StatusCode::OK,
            Json(ShippingAddressView {
                order,
                address,
                base: &base,
            }),
        )
            .into_response())
    })
}

/// `POST /v2/orders/{id}/shipments`: 201; needs `order_address_id` and
/// `items[{order_product_id, quantity}]` (docs/api-notes.md §6.4). Shipping every line moves the
/// order to Shipped, otherwise to Partially Shipped.
pub(super) async fn create_shipment(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let map = input::object(&body, "The shipment")?;
    input::reject_read_only(
        map,
        &[
            "id",
            "order_id",
            "customer_id",
            "date_created",
            "shipping_provider_display_name",
        ],
    )?;
    st.write(|tx| {
    let orders = &mut tx.data.orders;
    let order = orders.get(id).ok_or_else(order_not_found)?;
    let address_id = input::required_int(map, "order_address_id", "to create a shipment")?;
    if order.shipping_address(address_id).is_none() {
        return Err(invalid(format!(
            "The order address {address_id} is not a shipping address of order {id}."
        )));
    }
    let items = input::array(map, "items")?
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            bad("The field 'items' is required: a list of {order_product_id, quantity}.")
        })?;
    let mut shipped: Vec<ShipmentItem> = Vec::with_capacity(items.len());
    for item in items {
        let m = input::object(item, "Each shipment item")?;
        let line_id = input::required_int(m, "order_product_id", "on each shipment item")?;
        let quantity = input::required_int(m, "quantity", "on each shipment item")?;
        let line = order
            .line(line_id)
            .ok_or_else(|| invalid(format!("The order product {line_id} is not on order {id}.")))?;
        let already: i64 = shipped
            .iter()
            .filter(|s| s.order_product_id == line_id)
            .map(|s| s.quantity)
            .sum();
        let remaining = line.quantity - line.quantity_shipped - already;
        if quantity < 1 || quantity > remaining {
            return Err(invalid(format!(
                "The quantity to ship of order product {line_id} must be between 1 and {remaining}; got {quantity}."
            )));
        }
        shipped.push(ShipmentItem {
            order_product_id: line_id,
            product_id: line.product_id,
            quantity,
        });
    }
    let mut shipment = Shipment {
        id: 0,
        order_address_id: address_id,
        date_created: crate::dates::now(),
        tracking_number: Cow::Borrowed(""),
        merchant_shipping_cost: Money::ZERO,
        shipping_method: Cow::Borrowed(""),
        shipping_provider: Cow::Borrowed(""),
        tracking_carrier: Cow::Borrowed(""),
        tracking_link: Cow::Borrowed(""),
        comments: Cow::Borrowed(""),
        items: shipped,
    };
    patch_shipment(&mut shipment, map)?;
    // Valid: only now take an id.
    shipment.id = orders.ids.next_shipment();
    let shipment_id = shipment.id;
    tx.created(Record::Shipment { id: shipment_id, order_id: id });
    let order = tx.order(id).ok_or_else(order_not_found)?;
    for item in &shipment.items {
        if let Some(line) = order
            .lines
            .iter_mut()
            .find(|l| l.id == item.order_product_id)
        {
            line.quantity_shipped += item.quantity;
        }
    }
    let now = shipment.date_created;
    if order.lines.iter().all(|l| l.quantity_shipped >= l.quantity) {
        order.status_id = STATUS_SHIPPED;
        order.date_shipped = Some(now);
    } else {
        order.status_id = STATUS_PARTIALLY_SHIPPED;
    }
    order.shipments.push(shipment);
    let order = &*order;
    let body = order
        .shipments
        .last()
        .map(|sh| super::render::shipment(order, sh))
        .unwrap_or(Value::Null);
    Ok(paging::v2_object(StatusCode::CREATED, body))
    })
}

/// `PUT /v2/orders/{id}/shipments/{id}`: tracking and address fields; items are fixed.
pub(super) async fn update_shipment(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let shipment_id = path_id(&p, "shipment_id", V)?;
    let map = input::object(&body, "The shipment")?;
    input::reject_read_only(
        map,
        &[
            "id",
            "order_id",
            "customer_id",
            "date_created",
            "items",
            "shipping_provider_display_name",
        ],
    )?;
    st.write(|tx| {
        tx.updated(Record::Shipment {
            id: shipment_id,
            order_id: id,
        });
        let order = tx.order(id).ok_or_else(order_not_found)?;
        if let Some(aid) = input::int(map, "order_address_id")?
            && order.shipping_address(aid).is_none()
        {
            return Err(invalid(format!(
                "The order address {aid} is not a shipping address of order {id}."
            )));
        }
        let sh = order
            .shipments
            .iter_mut()
            .find(|s| s.id == shipment_id)
            .ok_or_else(order_not_found)?;
        let mut updated = sh.clone();
        patch_shipment(&mut updated, map)?;
        *sh = updated;
        let order = &*order;
        let sh = order
            .shipments
            .iter()
            .find(|s| s.id == shipment_id)
            .ok_or_else(order_not_found)?;
        Ok(paging::v2_object(
            StatusCode::OK,
            super::render::shipment(order, sh),
        ))
    })
}

pub(super) async fn delete_shipment(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let shipment_id = path_id(&p, "shipment_id", V)?;
    st.write(|tx| {
        tx.deleted(Record::Shipment {
            id: shipment_id,
            order_id: id,
        });
        let order = tx.order(id).ok_or_else(order_not_found)?;
        let pos = order
            .shipments
            .iter()
            .position(|s| s.id == shipment_id)
            .ok_or_else(order_not_found)?;
        let sh = order.shipments.remove(pos);
        unship(order, &sh);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

pub(super) async fn delete_shipments(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    st.write(|tx| {
        let shipments: Vec<i64> = tx
            .data
            .orders
            .get(id)
            .ok_or_else(order_not_found)?
            .shipments
            .iter()
            .map(|s| s.id)
            .collect();
        for sid in shipments {
            tx.deleted(Record::Shipment {
                id: sid,
                order_id: id,
            });
        }
        let order = tx.order(id).ok_or_else(order_not_found)?;
        for sh in std::mem::take(&mut order.shipments) {
            unship(order, &sh);
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// Gives a deleted shipment's quantities back to the lines.
fn unship(order: &mut Order, sh: &Shipment) {
    for item in &sh.items {
        if let Some(line) = order
            .lines
            .iter_mut()
            .find(|l| l.id == item.order_product_id)
        {
            line.quantity_shipped = (line.quantity_shipped - item.quantity).max(0);
        }
    }
    if order.lines.iter().any(|l| l.quantity_shipped < l.quantity) {
        order.date_shipped = None;
    }
}

fn patch_shipment(sh: &mut Shipment, map: &Obj) -> Result<(), ApiError> {
    if let Some(aid) = input::int(map, "order_address_id")? {
        sh.order_address_id = aid;
    }
    if let Some(t) = input::text(map, "tracking_number")? {
        if t.chars().count() > 50 {
            return Err(invalid(
                "The field 'tracking_number' must be at most 50 characters.",
            ));
        }
        sh.tracking_number = t;
    }
    if let Some(t) = input::text(map, "tracking_link")? {
        if t.chars().count() > 500 {
            return Err(invalid(
                "The field 'tracking_link' must be at most 500 characters.",
            ));
        }
        sh.tracking_link = t;
    }
    if let Some(m) = input::money(map, "merchant_shipping_cost")? {
        sh.merchant_shipping_cost = m;
    }
    let texts: [(&str, &mut Text); 4] = [
        ("shipping_method", &mut sh.shipping_method),
        ("shipping_provider", &mut sh.shipping_provider),
        ("tracking_carrier", &mut sh.tracking_carrier),
        ("comments", &mut sh.comments),
    ];
    for (key, slot) in texts {
        if let Some(t) = input::text(map, key)? {
            *slot = t;
        }
    }
    Ok(())
}

fn valid_status(s: i64) -> Result<u8, ApiError> {
    super::model::status(s).map(|st| st.id).ok_or_else(|| {
        invalid(format!(
            "The status_id {s} is not valid; use one of 0..14 (see GET /v2/order_statuses)."
        ))
    })
}

/// `date_created` may be set to migrate history (RFC 2822; ISO taken too).
fn date_created(map: &Obj) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    match input::text(map, "date_created")? {
        None => Ok(None),
        Some(s) => crate::dates::parse_filter(&s, crate::dates::now(), false).map(Some).ok_or_else(|| {
            bad(format!("The field 'date_created' must be an RFC 2822 date such as 'Tue, 20 Nov 2012 00:00:00 +0000'; got {s:?}."))
        }),
    }
}

/// The plain writable fields shared by POST and PUT.
fn apply_scalars(order: &mut Order, map: &Obj, creating: bool) -> Result<(), ApiError> {
    let texts: [(&str, &mut Text); 10] = [
        ("payment_method", &mut order.payment_method),
        ("payment_provider_id", &mut order.payment_provider_id),
        ("staff_notes", &mut order.staff_notes),
        ("customer_message", &mut order.customer_message),
        ("ip_address", &mut order.ip_address),
        ("ip_address_v6", &mut order.ip_address_v6),
        ("geoip_country", &mut order.geoip_country),
        ("geoip_country_iso2", &mut order.geoip_country_iso2),
        ("customer_locale", &mut order.customer_locale),
        ("ebay_order_id", &mut order.ebay_order_id),
    ];
    for (key, slot) in texts {
        if let Some(t) = input::text(map, key)? {
            *slot = t;
        }
    }
    if let Some(t) = input::text(map, "external_order_id")? {
        order.external_order_id = t;
    }
    if map.contains_key("external_source") {
        order.external_source = input::text(map, "external_source")?;
    }
    if let Some(t) = input::text(map, "external_merchant_id")? {
        order.external_merchant_id = Some(t);
    }
    if let Some(c) = input::text(map, "default_currency_code")? {
        if !creating {
            return Err(bad(
                "The field 'default_currency_code' cannot be written to. Please remove it from your request before trying again.",
            ));
        }
        order.currency_code = c;
    }
    if let Some(ch) = input::int(map, "channel_id")? {
        order.channel_id = ch;
    }
    if let Some(d) = input::boolean(map, "order_is_digital")? {
        order.order_is_digital = d;
    }
    if let Some(d) = input::money(map, "discount_amount")? {
        order.discount_amount = d;
    }
    Ok(())
}

/// `channel_id` must name an existing channel that is not disconnected (the spec: "a
/// non-existing or disconnected channel" is a validation error).
fn check_channel(channels: &ChannelsData, map: &Obj) -> Result<(), ApiError> {
    let Some(ch) = input::int(map, "channel_id")? else {
        return Ok(());
    };
    match channels.get(ch) {
        Some(c)
            if !matches!(
                c.status.as_str(),
                "disconnected" | "archived" | "deleted" | "terminated"
            ) =>
        {
            Ok(())
        }
        Some(c) => Err(invalid(format!(
            "The channel {ch} is {}; orders need an enabled channel.",
            c.status
        ))),
        None => Err(invalid(format!(
            "The channel {ch} does not exist; use an enabled channel id (1 is the default storefront)."
        ))),
    }
}

/// Shipping, handling and wrapping costs (pairs); returns whether totals must be redone.
fn apply_costs(order: &mut Order, map: &Obj) -> Result<bool, ApiError> {
    let mut changed = map.contains_key("discount_amount");
    if let Some((ex, inc)) =
        input::money_pair(map, "shipping_cost_ex_tax", "shipping_cost_inc_tax")?
    {
        order.shipping_cost_ex_tax = ex;
        order.shipping_cost_inc_tax = inc;
        // With one consignment the order's shipping cost is that consignment's.
        if let [sa] = order.shipping_addresses.as_mut_slice() {
            sa.cost_ex_tax = ex;
            sa.cost_inc_tax = inc;
        }
        changed = true;
    }
    if let Some((ex, inc)) =
        input::money_pair(map, "handling_cost_ex_tax", "handling_cost_inc_tax")?
    {
        order.handling_cost_ex_tax = ex;
        order.handling_cost_inc_tax = inc;
        changed = true;
    }
    if let Some((ex, inc)) =
        input::money_pair(map, "wrapping_cost_ex_tax", "wrapping_cost_inc_tax")?
    {
        order.wrapping_cost_ex_tax = ex;
        order.wrapping_cost_inc_tax = inc;
        changed = true;
    }
    Ok(changed)
}

/// `subtotal_*` and `total_*` overrides, applied after any recalculation.
fn apply_total_overrides(order: &mut Order, map: &Obj) -> Result<(), ApiError> {
    if let Some((ex, inc)) = input::money_pair(map, "subtotal_ex_tax", "subtotal_inc_tax")? {
        order.subtotal_ex_tax = ex;
        order.subtotal_inc_tax = inc;
        order.recompute_grand_totals();
    }
    if let Some((ex, inc)) = input::money_pair(map, "total_ex_tax", "total_inc_tax")? {
        order.total_ex_tax = ex;
        order.total_inc_tax = inc;
    }
    Ok(())
}

fn new_shipping_address(ids: &mut IdCounters, v: &Value) -> Result<ShippingAddress, ApiError> {
    let map = input::object(v, "Each shipping address")?;
    let mut sa = ShippingAddress {
        id: 0,
        shipping_method: Cow::Borrowed("None"),
        cost_tax_class_id: 2,
        handling_cost_tax_class_id: 2,
        ..ShippingAddress::default()
    };
    patch_shipping_address(&mut sa, map)?;
    sa.id = ids.next_address();
    Ok(sa)
}

fn patch_shipping_address(sa: &mut ShippingAddress, map: &Obj) -> Result<(), ApiError> {
    input::apply_address(&mut sa.address, map)?;
    if let Some(m) = input::text(map, "shipping_method")? {
        sa.shipping_method = m;
    }
    Ok(())
}

/// A new line: a catalog product (`product_id`, with `variant_id` or `product_options`
/// when it has variants) or a custom product (`name`, `quantity`, `price_inc_tax`,
/// `price_ex_tax`) (docs/api-notes.md §6.4).
fn new_line(
    item: &Value,
    index: usize,
    catalog: &[ProductRef],
    ids: &mut IdCounters,
    address_id: i64,
) -> Result<Line, ApiError> {
    let map = input::object(item, "Each product")?;
    let at = |field: &str| format!("products[{index}].{field}");
    let quantity = input::int(map, "quantity")?
        .ok_or_else(|| bad(format!("The field '{}' is required.", at("quantity"))))?;
    if quantity < 1 {
        return Err(invalid(format!(
            "The field '{}' must be 1 or more; got {quantity}.",
            at("quantity")
        )));
    }
    let name = match input::text(map, "name")? {
        Some(n) => Some(n),
        None => input::text(map, "name_customer")?,
    };
    let name_merchant = input::text(map, "name_merchant")?;
    let price_ex = input::money(map, "price_ex_tax")?;
    let price_inc = input::money(map, "price_inc_tax")?;
    let product_id = input::int(map, "product_id")?.unwrap_or(0);
    let mut line = Line {
        id: 0,
        product_id: 0,
        variant_id: None,
        order_address_id: address_id,
        name: Cow::Borrowed(""),
        name_merchant: None,
        sku: input::text(map, "sku")?.unwrap_or(Cow::Borrowed("")),
        upc: input::text(map, "upc")?.unwrap_or(Cow::Borrowed("")),
        kind: "physical",
        base_price: Money::ZERO,
        price_ex_tax: Money::ZERO,
        price_inc_tax: Money::ZERO,
        quantity,
        weight: Money::ZERO,
        base_cost_price: Money::ZERO,
        quantity_shipped: 0,
        quantity_refunded: 0,
        brand: Cow::Borrowed(""),
        product_options: Vec::new(),
        applied_discounts: Vec::new(),
    };
    if product_id != 0 {
        let product = catalog.iter().find(|p| p.id == product_id).ok_or_else(|| {
            invalid(format!(
                "The product {product_id} in {} does not exist in the catalog.",
                at("product_id")
            ))
        })?;
        let variant_id = input::int(map, "variant_id")?;
        let options = input::array(map, "product_options")?.filter(|o| !o.is_empty());
        line.variant_id = match (variant_id, options) {
            (Some(v), _) if product.variant_ids.is_empty() || product.variant_ids.contains(&v) => {
                Some(v)
            }
            (Some(v), _) => {
                return Err(invalid(format!(
                    "The variant {v} does not belong to product {product_id}."
                )));
            }
            // Options pick a variant; the sandbox cannot map option values to variants,
            // so it takes the product's first variant.
            (None, Some(_)) => product.variant_ids.first().copied(),
            (None, None) if product.variant_ids.is_empty() => None,
            (None, None) => {
                return Err(invalid(format!(
                    "The product {product_id} has variants: send 'variant_id' or 'product_options' in {}.",
                    at("product_options")
                )));
            }
        };
        if let Some(opts) = options {
            line.product_options = parse_options(ids, opts)?;
        }
        let catalog_price = Money::from_f64(product.price).max_zero();
        line.product_id = product_id;
        line.name = name.unwrap_or_else(|| Cow::Owned(product.name.clone()));
        if line.sku.is_empty() {
            line.sku = Cow::Owned(product.sku.clone());
        }
        line.price_ex_tax = price_ex.or(price_inc).unwrap_or(catalog_price);
        line.price_inc_tax = price_inc.or(price_ex).unwrap_or(catalog_price);
    } else {
        let name = name.or_else(|| name_merchant.clone()).filter(|n| !n.is_empty()).ok_or_else(|| {
            bad(format!(
                "The field '{}' is required for a custom product (or send 'product_id' for a catalog product).",
                at("name")
            ))
        })?;
        let (Some(ex), Some(inc)) = (price_ex, price_inc) else {
            return Err(bad(format!(
                "The fields '{}' and '{}' are required for a custom product.",
                at("price_ex_tax"),
                at("price_inc_tax")
            )));
        };
        line.name = name;
        line.price_ex_tax = ex;
        line.price_inc_tax = inc;
    }
    line.name_merchant = name_merchant.filter(|m| *m != line.name);
    line.base_price = line.price_ex_tax;
    line.id = ids.next_line();
    Ok(line)
}

fn parse_options(ids: &mut IdCounters, opts: &[Value]) -> Result<Vec<LineOption>, ApiError> {
    opts.iter()
        .map(|o| {
            let m = input::object(o, "Each product option")?;
            let option_id = input::required_int(m, "id", "on each product option")?;
            let value = input::text(m, "value")?.unwrap_or(Cow::Borrowed(""));
            let display_name = input::text(m, "display_name")?
                .unwrap_or_else(|| Cow::Owned(format!("Option {option_id}")));
            let display_value = input::text(m, "display_value")?.unwrap_or_else(|| value.clone());
            Ok(LineOption {
                id: ids.next_option(),
                product_option_id: option_id,
                display_name,
                display_value,
                value,
                option_type: Cow::Borrowed("Multiple choice"),
            })
        })
        .collect()
}

/// A PUT line item: with `id` it updates that line (PATCH-like; `quantity: 0` removes
/// it; discounts on a changed line are cleared), without `id` it adds one (docs/api-notes.md §6.4).
fn update_or_add_line(
    order: &mut Order,
    item: &Value,
    index: usize,
    catalog: &[ProductRef],
    ids: &mut IdCounters,
    address_id: i64,
) -> Result<(), ApiError> {
    let map = input::object(item, "Each product")?;
    let Some(line_id) = input::int(map, "id")? else {
        let line = new_line(item, index, catalog, ids, address_id)?;
        order.lines.push(line);
        return Ok(());
    };
    let order_id = order.id;
    let pos = order
        .lines
        .iter()
        .position(|l| l.id == line_id)
        .ok_or_else(|| {
            invalid(format!(
                "The order product {line_id} is not on order {order_id}."
            ))
        })?;
    if input::int(map, "quantity")? == Some(0) {
        order.lines.remove(pos);
        return Ok(());
    }
    let line = &mut order.lines[pos];
    if let Some(q) = input::int(map, "quantity")? {
        if q < 0 {
            return Err(invalid(format!(
                "The field 'products[{index}].quantity' can't be negative."
            )));
        }
        line.quantity = q;
    }
    match input::money_pair(map, "price_ex_tax", "price_inc_tax") {
        Ok(Some((ex, inc))) => {
            line.price_ex_tax = ex;
            line.price_inc_tax = inc;
            line.base_price = ex;
        }
        Ok(None) => {}
        Err(_) => {
            // One price alone sets both, as for new catalog lines.
            if let Some(p) =
                input::money(map, "price_ex_tax")?.or(input::money(map, "price_inc_tax")?)
            {
                line.price_ex_tax = p;
                line.price_inc_tax = p;
                line.base_price = p;
            }
        }
    }
    let name = match input::text(map, "name")? {
        Some(n) => Some(n),
        None => input::text(map, "name_customer")?,
    };
    if let Some(n) = name {
        if n.is_empty() {
            return Err(invalid(format!(
                "The field 'products[{index}].name' can't be empty."
            )));
        }
        // The merchant name stays what it was unless given.
        if line.name_merchant.is_none() {
            line.name_merchant = Some(line.name.clone());
        }
        line.name = n;
    }
    if let Some(n) = input::text(map, "name_merchant")? {
        line.name_merchant = Some(n);
    }
    if let Some(s) = input::text(map, "sku")? {
        line.sku = s;
    }
    if let Some(u) = input::text(map, "upc")? {
        line.upc = u;
    }
    if let Some(opts) = input::array(map, "product_options")? {
        line.product_options = parse_options(ids, opts)?;
    }
    line.applied_discounts.clear();
    Ok(())
}

/// Pickup consignment mode: `{pickups: [{pickup_method_id, line_items: [...], ...}]}`;
/// at most one pickup per order (docs/api-notes.md §6.4).
fn new_pickup(
    v: &Value,
    catalog: &[ProductRef],
    ids: &mut IdCounters,
    lines: &mut Vec<Line>,
) -> Result<Pickup, ApiError> {
    let map = input::object(v, "The field 'consignments'")?;
    let pickups = input::array(map, "pickups")?
        .ok_or_else(|| bad("The field 'consignments.pickups' is required."))?;
    let [pickup] = pickups.as_slice() else {
        return Err(invalid("An order has exactly one pickup consignment."));
    };
    let pm = input::object(pickup, "The pickup consignment")?;
    let method = input::required_int(pm, "pickup_method_id", "on the pickup consignment")?;
    let items = input::array(pm, "line_items")?
        .filter(|a| !a.is_empty())
        .ok_or_else(|| bad("The field 'consignments.pickups[0].line_items' is required."))?;
    for (i, item) in items.iter().enumerate() {
        lines.push(new_line(item, i, catalog, ids, 0)?);
    }
    Ok(Pickup {
        id: ids.next_pickup(),
        pickup_method_id: method,
        display_name: input::text(pm, "pickup_method_display_name")?
            .unwrap_or(Cow::Borrowed("Pick Up")),
        collection_instructions: input::text(pm, "collection_instructions")?
            .unwrap_or(Cow::Borrowed("")),
        collection_time_description: input::text(pm, "collection_time_description")?
            .unwrap_or(Cow::Borrowed("")),
        location: pm.get("location").cloned().unwrap_or(Value::Null),
    })
}

/// Fees from a body: entries with `id` replace the existing fee of that id, the others
/// are new (docs/api-notes.md §6.4).
fn new_fees(ids: &mut IdCounters, items: &[Value], existing: &[Fee]) -> Result<Vec<Fee>, ApiError> {
    items
        .iter()
        .map(|f| {
            let m = input::object(f, "Each fee")?;
            let id = match input::int(m, "id")? {
                Some(fid) if existing.iter().any(|e| e.id == fid) => fid,
                Some(fid) => {
                    return Err(invalid(format!(
                        "The fee {fid} does not exist on this order."
                    )));
                }
                None => ids.next_fee(),
            };
            let customer = input::text(m, "display_name_customer")?;
            let merchant = input::text(m, "display_name_merchant")?;
            if customer.is_none() && merchant.is_none() {
                return Err(bad(
                    "Each fee needs 'display_name_customer' or 'display_name_merchant'.",
                ));
            }
            // At least two of cost_ex_tax, cost_inc_tax, cost_tax; the spec's own examples
            // also spell it `cost_exc_tax`.
            let ex = match input::money(m, "cost_ex_tax")? {
                Some(v) => Some(v),
                None => input::money(m, "cost_exc_tax")?,
            };
            let inc = input::money(m, "cost_inc_tax")?;
            let tax = input::money(m, "cost_tax")?;
            let (ex, inc) = match (ex, inc, tax) {
                (Some(ex), Some(inc), _) => (ex, inc),
                (Some(ex), None, Some(tax)) => (ex, ex + tax),
                (None, Some(inc), Some(tax)) => ((inc - tax).max_zero(), inc),
                _ => {
                    return Err(bad(
                        "Each fee needs two of 'cost_ex_tax', 'cost_inc_tax' and 'cost_tax'.",
                    ));
                }
            };
            Ok(Fee {
                id,
                display_name_customer: customer
                    .clone()
                    .or_else(|| merchant.clone())
                    .unwrap_or_default(),
                display_name_merchant: merchant.or(customer).unwrap_or_default(),
                source: input::text(m, "source")?.unwrap_or(Cow::Borrowed("v2")),
                cost_ex_tax: ex,
                cost_inc_tax: inc,
                tax_class_id: input::int(m, "tax_class_id")?,
            })
        })
        .collect()
}
