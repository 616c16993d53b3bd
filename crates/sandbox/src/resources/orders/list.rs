//! `GET /v2/orders` and `GET /v2/orders/count`: the filters and sorts of docs/api-notes.md §6.2.
//!
//! Filtering walks the id-ordered vector (narrowed by `min_id`/`max_id` with binary
//! searches) and checks cheap typed predicates; only matches are sorted, and with a
//! partial selection so that only the requested page is ever fully ordered and rendered.

use std::cmp::Ordering;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::model::{Money, Order, STATUSES};
use super::render::{OrderView, RenderCtx};
use super::{OrdersData, v2_base, v2_query};
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::paging;
use crate::query::Query;
use crate::state::Shared;

/// The maximum page size. The orders spec states none; 250 is the documented V2 maximum
/// elsewhere and what the official Python client always asks for (docs/api-notes.md §0.4,
/// inferred).
pub(super) const MAX_LIMIT: u32 = 250;

/// The list filters of docs/api-notes.md §6.2, parsed once per request.
#[derive(Debug, Default)]
pub(super) struct OrderFilter {
    min_id: Option<i64>,
    max_id: Option<i64>,
    min_total: Option<Money>,
    max_total: Option<Money>,
    customer_id: Option<i64>,
    email: Option<String>,
    status_id: Option<i64>,
    cart_id: Option<String>,
    payment_method: Option<String>,
    min_date_created: Option<DateTime<Utc>>,
    max_date_created: Option<DateTime<Utc>>,
    min_date_modified: Option<DateTime<Utc>>,
    max_date_modified: Option<DateTime<Utc>>,
    channel_id: Option<i64>,
    external_order_id: Option<String>,
    /// `is_deleted=true` lists archived orders only; absent or false, live orders only
    /// (docs/api-notes.md §6.7).
    archived: bool,
}

fn bad(msg: String) -> ApiError {
    ApiError::bad_request(ApiVersion::V2, msg)
}

impl OrderFilter {
    pub(super) fn parse(q: &Query) -> Result<Self, ApiError> {
        // V2 order date filters take RFC 2822 or ISO 8601 (docs/api-notes.md §0.6).
        let date = |key: &str| q.v2_date(key);
        let money = |key: &str| -> Result<Option<Money>, ApiError> {
            match q.get(key).filter(|s| !s.trim().is_empty()) {
                None => Ok(None),
                Some(s) => Money::parse(s).map(Some).ok_or_else(|| {
                    bad(format!(
                        "The filter '{key}' must be a number such as 12.50; got {s:?}."
                    ))
                }),
            }
        };
        let text = |key: &str| q.get(key).filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(OrderFilter {
            min_id: q.int("min_id")?,
            max_id: q.int("max_id")?,
            min_total: money("min_total")?,
            max_total: money("max_total")?,
            customer_id: q.int("customer_id")?,
            email: text("email"),
            status_id: q.int("status_id")?,
            cart_id: text("cart_id"),
            payment_method: text("payment_method"),
            min_date_created: date("min_date_created")?,
            max_date_created: date("max_date_created")?,
            min_date_modified: date("min_date_modified")?,
            max_date_modified: date("max_date_modified")?,
            channel_id: q.int("channel_id")?,
            external_order_id: text("external_order_id"),
            archived: q.bool("is_deleted")?.unwrap_or(false),
        })
    }

    /// Whether `o` passes every given filter (bounds are inclusive). Archived orders are
    /// listed only with `is_deleted=true`, and then only they (docs/api-notes.md §6.7). Status 0
    /// (Incomplete) orders are included.
    pub(super) fn matches(&self, o: &Order) -> bool {
        fn within<T: PartialOrd>(v: T, min: Option<T>, max: Option<T>) -> bool {
            min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m)
        }
        o.is_deleted == self.archived
            && within(o.id, self.min_id, self.max_id)
            && within(o.total_inc_tax, self.min_total, self.max_total)
            && within(o.date_created, self.min_date_created, self.max_date_created)
            && within(
                o.date_modified,
                self.min_date_modified,
                self.max_date_modified,
            )
            && self.customer_id.is_none_or(|c| o.customer_id == c)
            && self.status_id.is_none_or(|s| i64::from(o.status_id) == s)
            && self.channel_id.is_none_or(|c| o.channel_id == c)
            && self.cart_id.as_deref().is_none_or(|c| o.cart_id == c)
            && self
                .payment_method
                .as_deref()
                .is_none_or(|p| o.payment_method.eq_ignore_ascii_case(p))
            && self
                .external_order_id
                .as_deref()
                .is_none_or(|e| o.external_order_id == e)
            && self
                .email
                .as_deref()
                .is_none_or(|e| o.billing_address.email.eq_ignore_ascii_case(e))
    }

    /// The slice of `orders` that `min_id`/`max_id` allow (binary searches on the id order).
    fn id_range<'a>(&self, orders: &'a [Order]) -> &'a [Order] {
        let start = self
            .min_id
            .map_or(0, |min| orders.partition_point(|o| o.id < min));
        let end = self
            .max_id
            .map_or(orders.len(), |max| orders.partition_point(|o| o.id <= max));
        if start >= end {
            &[]
        } else {
            &orders[start..end]
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SortField {
    Id,
    CustomerId,
    DateCreated,
    DateModified,
    StatusId,
    ChannelId,
    /// Always null on our orders (read-only, set by marketplaces), so it orders by id.
    ExternalId,
}

impl SortField {
    fn key(self, o: &Order) -> i64 {
        match self {
            SortField::Id | SortField::ExternalId => o.id,
            SortField::CustomerId => o.customer_id,
            SortField::DateCreated => o.date_created.timestamp(),
            SortField::DateModified => o.date_modified.timestamp(),
            SortField::StatusId => i64::from(o.status_id),
            SortField::ChannelId => o.channel_id,
        }
    }
}

/// `sort=field[:asc|:desc]` (docs/api-notes.md §6.2); default id ascending.
pub(super) fn parse_sort(q: &Query) -> Result<(SortField, bool), ApiError> {
    let Some(raw) = q.get("sort").filter(|s| !s.is_empty()) else {
        return Ok((SortField::Id, false));
    };
    let (field, dir) = raw.split_once(':').unwrap_or((raw, "asc"));
    let field = match field {
        "id" => SortField::Id,
        "customer_id" => SortField::CustomerId,
        "date_created" => SortField::DateCreated,
        "date_modified" => SortField::DateModified,
        "status_id" => SortField::StatusId,
        "channel_id" => SortField::ChannelId,
        "external_id" => SortField::ExternalId,
        other => {
            return Err(bad(format!(
                "The sort field {other:?} is not supported; use id, customer_id, date_created, date_modified, status_id, channel_id or external_id, optionally with :asc or :desc."
            )));
        }
    };
    let desc = match dir.to_ascii_lowercase().as_str() {
        "asc" => false,
        "desc" => true,
        other => {
            return Err(bad(format!(
                "The sort direction {other:?} is not supported; use asc or desc."
            )));
        }
    };
    Ok((field, desc))
}

/// The orders of one page, in list order.
pub(super) fn select_page<'a>(
    data: &'a OrdersData,
    filter: &OrderFilter,
    (field, desc): (SortField, bool),
    page: u32,
    limit: u32,
) -> Vec<&'a Order> {
    let candidates = filter.id_range(&data.orders);
    let start = (page as usize - 1).saturating_mul(limit as usize);
    let limit = limit as usize;
    if matches!(field, SortField::Id | SortField::ExternalId) {
        // Already in order: skip and take without collecting the matches.
        let matching = |o: &&Order| filter.matches(o);
        return if desc {
            candidates
                .iter()
                .rev()
                .filter(matching)
                .skip(start)
                .take(limit)
                .collect()
        } else {
            candidates
                .iter()
                .filter(matching)
                .skip(start)
                .take(limit)
                .collect()
        };
    }
    let mut matches: Vec<&Order> = candidates.iter().filter(|o| filter.matches(o)).collect();
    if start >= matches.len() {
        return Vec::new();
    }
    // Ties always go by id ascending, so pages are stable.
    let cmp = |a: &&Order, b: &&Order| -> Ordering {
        let by_key = field.key(a).cmp(&field.key(b));
        let by_key = if desc { by_key.reverse() } else { by_key };
        by_key.then(a.id.cmp(&b.id))
    };
    let end = (start + limit).min(matches.len());
    if end < matches.len() {
        // Only the first `end` need ordering.
        matches.select_nth_unstable_by(end, cmp);
        matches.truncate(end);
    }
    matches.sort_unstable_by(cmp);
    matches.drain(..start);
    matches
}

/// `GET /v2/orders`: a bare array, 204 with no body when the page is empty
/// (docs/api-notes.md §12.1).
pub(super) async fn list(
    State(st): State<Shared>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let q = v2_query(raw);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let filter = OrderFilter::parse(&q)?;
    let sort = parse_sort(&q)?;
    let ctx = RenderCtx::new(&q, v2_base(&headers, &st.config.store_hash));
    let data = st.data.read();
    let orders = select_page(&data.orders, &filter, sort, page, limit);
    let views: Vec<OrderView<'_>> = orders
        .into_iter()
        .map(|order| OrderView { order, ctx: &ctx })
        .collect();
    Ok(paging::v2_typed_page(views))
}

/// `GET /v2/orders/count`: `{statuses:[...], count}` with the list's filters, `is_deleted`
/// included, so it counts exactly what the list pages through (docs/api-notes.md §6.1, §6.7).
pub(super) async fn count(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = v2_query(raw);
    let filter = OrderFilter::parse(&q)?;
    let data = st.data.read();
    let mut per_status = [0usize; STATUSES.len()];
    for o in filter.id_range(&data.orders.orders) {
        if filter.matches(o) {
            per_status[usize::from(o.status_id).min(STATUSES.len() - 1)] += 1;
        }
    }
    let mut statuses: Vec<_> = STATUSES.iter().collect();
    statuses.sort_by_key(|s| s.sort_order);
    let statuses: Vec<_> = statuses
        .into_iter()
        .map(|s| {
            json!({
                "id": s.id,
                "name": s.name,
                "system_label": s.name,
                "custom_label": s.name,
                "system_description": s.description,
                "count": per_status[usize::from(s.id)],
                "sort_order": s.sort_order,
            })
        })
        .collect();
    let total: usize = per_status.iter().sum();
    Ok(paging::v2_object(
        StatusCode::OK,
        json!({ "statuses": statuses, "count": total }),
    ))
}
