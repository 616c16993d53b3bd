//! Reads of one order and its sub-resources (docs/api-notes.md §6.1): products (paged, default 50),
//! shipping addresses, coupons, consignments, fees, shipments (204 when none), shipping
//! quotes (always 204: API-made orders store no quote), and the order statuses.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::list::MAX_LIMIT;
use super::model::{OrderStatus, STATUSES};
use super::render::{
    self, ConsignmentsView, FeesView, LineView, OrderView, RenderCtx, ShippingAddressView,
};
use super::{PathParams, order_not_found, path_id, v2_base, v2_query};
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::paging;
use crate::state::Shared;

const V: ApiVersion = ApiVersion::V2;

/// The items of one page (1-based) of a small in-memory collection.
pub(super) fn page_of<T>(items: &[T], page: u32, limit: u32) -> &[T] {
    let start = (page as usize - 1)
        .saturating_mul(limit as usize)
        .min(items.len());
    let end = start.saturating_add(limit as usize).min(items.len());
    &items[start..end]
}

/// `GET /v2/orders/{id}` (archived orders too, with `is_deleted: true`).
pub(super) async fn order(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let q = v2_query(raw);
    let ctx = RenderCtx::new(&q, v2_base(&headers, &st.config.store_hash));
    let data = st.data.read();
    let order = data.orders.get(id).ok_or_else(order_not_found)?;
    Ok((StatusCode::OK, Json(OrderView { order, ctx: &ctx })).into_response())
}

/// `GET /v2/orders/{id}/products`: paged, default 50 (docs/api-notes.md §6.1), 204 past the end.
pub(super) async fn products(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let (page, limit) = v2_query(raw).page_limit(MAX_LIMIT)?;
    let data = st.data.read();
    let order = data.orders.get(id).ok_or_else(order_not_found)?;
    let views: Vec<LineView<'_>> = page_of(&order.lines, page, limit)
        .iter()
        .map(|line| LineView { order_id: id, line })
        .collect();
    Ok(paging::v2_typed_page(views))
}

pub(super) async fn product(State(st): State<Shared>, Path(p): Path<PathParams>) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let line_id = path_id(&p, "line_id", V)?;
    let data = st.data.read();
    let order = data.orders.get(id).ok_or_else(order_not_found)?;
    let line = order.line(line_id).ok_or_else(order_not_found)?;
    Ok((StatusCode::OK, Json(LineView { order_id: id, line })).into_response())
}

pub(super) async fn shipping_addresses(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let (page, limit) = v2_query(raw).page_limit(MAX_LIMIT)?;
    let base = v2_base(&headers, &st.config.store_hash);
    let data = st.data.read();
    let order = data.orders.get(id).ok_or_else(order_not_found)?;
    let views: Vec<ShippingAddressView<'_>> = page_of(&order.shipping_addresses, page, limit)
        .iter()
        .map(|address| ShippingAddressView {
            order,
            address,
            base: &base,
        })
        .collect();
    Ok(paging::v2_typed_page(views))
}

pub(super) async fn shipping_address(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
    headers: HeaderMap,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let address_id = path_id(&p, "address_id", V)?;
    let base = v2_base(&headers, &st.config.store_hash);
    let data = st.data.read();
    let order = data.orders.get(id).ok_or_else(order_not_found)?;
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
}

/// Orders created by API or in the control panel store no quote: 204 (docs/api-notes.md §0.4).
pub(super) async fn shipping_quotes(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let address_id = path_id(&p, "address_id", V)?;
    let data = st.data.read();
    let order = data.orders.get(id).ok_or_else(order_not_found)?;
    order
        .shipping_address(address_id)
        .ok_or_else(order_not_found)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn consignment_quotes(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let consignment_id = path_id(&p, "consignment_id", V)?;
    let data = st.data.read();
    let order = data.orders.get(id).ok_or_else(order_not_found)?;
    order
        .shipping_address(consignment_id)
        .ok_or_else(order_not_found)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v2/orders/{id}/coupons`: `type` is an integer 0..5 (docs/api-notes.md §6.1).
pub(super) async fn coupons(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let (page, limit) = v2_query(raw).page_limit(MAX_LIMIT)?;
    let data = st.data.read();
    let order = data.orders.get(id).ok_or_else(order_not_found)?;
    Ok(paging::v2_list(&order.coupons, page, limit, |c| {
        render::order_coupon(id, c)
    }))
}

/// `GET /v2/orders/{id}/consignments`: always the object structure; lines are links
/// unless `include=consignments.line_items`.
pub(super) async fn consignments(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let q = v2_query(raw);
    let ctx = RenderCtx::new(&q, v2_base(&headers, &st.config.store_hash));
    let data = st.data.read();
    let order = data.orders.get(id).ok_or_else(order_not_found)?;
    Ok((StatusCode::OK, Json(ConsignmentsView { order, ctx: &ctx })).into_response())
}

/// `GET /v2/orders/{id}/fees`: `{fees: [...]}` as the spec example shows.
pub(super) async fn fees(State(st): State<Shared>, Path(p): Path<PathParams>) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let data = st.data.read();
    let order = data.orders.get(id).ok_or_else(order_not_found)?;
    let fees = serde_json::to_value(FeesView(order)).unwrap_or(Value::Array(Vec::new()));
    Ok(paging::v2_object(StatusCode::OK, json!({ "fees": fees })))
}

/// `GET /v2/orders/{id}/shipments`: **204 when there are none** (stated in the spec).
pub(super) async fn shipments(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let (page, limit) = v2_query(raw).page_limit(MAX_LIMIT)?;
    let data = st.data.read();
    let order = data.orders.get(id).ok_or_else(order_not_found)?;
    Ok(paging::v2_list(&order.shipments, page, limit, |sh| {
        render::shipment(order, sh)
    }))
}

pub(super) async fn shipments_count(
    State(st): State<Shared>,
    Path(p): Path<PathParams>,
) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let data = st.data.read();
    let order = data.orders.get(id).ok_or_else(order_not_found)?;
    Ok(paging::v2_object(
        StatusCode::OK,
        json!({ "count": order.shipments.len() }),
    ))
}

pub(super) async fn shipment(State(st): State<Shared>, Path(p): Path<PathParams>) -> ApiResult {
    let id = path_id(&p, "order_id", V)?;
    let shipment_id = path_id(&p, "shipment_id", V)?;
    let data = st.data.read();
    let order = data.orders.get(id).ok_or_else(order_not_found)?;
    let sh = order
        .shipments
        .iter()
        .find(|s| s.id == shipment_id)
        .ok_or_else(order_not_found)?;
    Ok(paging::v2_object(
        StatusCode::OK,
        render::shipment(order, sh),
    ))
}

fn status_json(s: &OrderStatus) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "system_label": s.name,
        "custom_label": s.name,
        "system_description": s.description,
        "order": s.sort_order,
    })
}

/// `GET /v2/order_statuses`: the 15 fixed statuses (docs/api-notes.md §6.3).
pub(super) async fn statuses() -> ApiResult {
    Ok(paging::v2_object(
        StatusCode::OK,
        Value::Array(STATUSES.iter().map(status_json).collect()),
    ))
}

pub(super) async fn status(Path(p): Path<PathParams>) -> ApiResult {
    let id = path_id(&p, "status_id", V)?;
    let s = super::model::status(id).ok_or_else(|| ApiError::not_found(V))?;
    Ok(paging::v2_object(StatusCode::OK, status_json(s)))
}
