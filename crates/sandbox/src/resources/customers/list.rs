//! `GET /v3/customers` and `GET /v3/customers/form-field-values`: filters, sorts and
//! cursor pagination (docs/api-notes.md §0.4, §2.2).
//!
//! A request collects references to its matches, puts in order only the window of them
//! its page needs (see [`window`]: a linear selection, not a sort of 100k records), and
//! renders only the page. Cursors are keysets on (sort key, id), so a client walking
//! `after=` sees every record exactly once even while others are created or modified
//! between pages (a record whose sort key moves, e.g. `date_modified`, may legitimately
//! show up again later).

use std::cmp::Ordering;
use std::collections::HashSet;

use axum::extract::{RawQuery, State};

use super::check::DateRange;
use super::{Customer, Includes, MAX_LIMIT};
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::paging::{self, CursorKey, sortable_int};
use crate::query::{Query, like};
use crate::state::Shared;

/// Lowercased list filter (`email:in`, `company:in`, ...): BigCommerce matches these
/// case-insensitively.
fn lower_set(q: &Query, key: &str) -> Option<HashSet<String>> {
    q.list(key)
        .map(|l| l.into_iter().map(|s| s.to_lowercase()).collect())
}

struct CustomerFilter {
    ids: Option<Vec<i64>>,
    emails: Option<HashSet<String>>,
    names: Option<HashSet<String>>,
    name_like: Option<String>,
    companies: Option<HashSet<String>>,
    phones: Option<HashSet<String>>,
    ips: Option<HashSet<String>>,
    groups: Option<Vec<i64>>,
    created: DateRange,
    modified: DateRange,
}

impl CustomerFilter {
    fn parse(q: &Query) -> Result<Self, ApiError> {
        Ok(Self {
            ids: q.int_list("id:in")?,
            emails: lower_set(q, "email:in"),
            names: lower_set(q, "name:in"),
            name_like: q.get("name:like").map(str::to_owned),
            companies: lower_set(q, "company:in"),
            phones: q.list("phone:in").map(|l| l.into_iter().collect()),
            ips: q
                .list("registration_ip_address:in")
                .map(|l| l.into_iter().collect()),
            groups: q.int_list("customer_group_id:in")?,
            created: DateRange::parse(q, "date_created")?,
            modified: DateRange::parse(q, "date_modified")?,
        })
    }

    fn matches(&self, c: &Customer) -> bool {
        self.emails
            .as_ref()
            .is_none_or(|s| s.contains(&c.email_lower))
            && self
                .names
                .as_ref()
                .is_none_or(|s| s.contains(&c.full_name().to_lowercase()))
            && self
                .name_like
                .as_ref()
                .is_none_or(|p| like(&c.full_name(), p))
            && self
                .companies
                .as_ref()
                .is_none_or(|s| s.contains(&c.company.to_lowercase()))
            && self.phones.as_ref().is_none_or(|s| s.contains(&c.phone))
            && self
                .ips
                .as_ref()
                .is_none_or(|s| s.contains(&c.registration_ip_address))
            && self
                .groups
                .as_ref()
                .is_none_or(|g| g.contains(&c.customer_group_id))
            && (self.created.is_open() || self.created.contains(c.date_created))
            && (self.modified.is_open() || self.modified.contains(c.date_modified))
    }
}

/// The `sort=` orders docs/api-notes.md §2.2 lists, plus the default (id ascending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortField {
    Id,
    DateCreated,
    DateModified,
    LastName,
}

fn parse_sort(s: Option<&str>) -> Result<(SortField, bool), ApiError> {
    let Some(s) = s.filter(|s| !s.is_empty()) else {
        return Ok((SortField::Id, false));
    };
    let (field, dir) = s.split_once(':').unwrap_or((s, "asc"));
    let field = match field {
        "date_created" => SortField::DateCreated,
        "date_modified" => SortField::DateModified,
        "last_name" => SortField::LastName,
        _ => return Err(bad_sort(s)),
    };
    match dir {
        "asc" => Ok((field, false)),
        "desc" => Ok((field, true)),
        _ => Err(bad_sort(s)),
    }
}

fn bad_sort(s: &str) -> ApiError {
    ApiError::bad_request(
        ApiVersion::V3,
        format!(
            "The sort {s:?} is not supported; use date_created, last_name or date_modified with :asc or :desc."
        ),
    )
}

/// The keyset position of a customer under `field`. Must order exactly like
/// [`typed_key`]: zero-padded epoch seconds for dates, the raw last name (byte order; live
/// stores may collate case-insensitively, which a client cannot rely on either way).
fn sort_key(field: SortField, c: &Customer) -> CursorKey {
    let k = match field {
        SortField::Id => String::new(),
        SortField::DateCreated => sortable_int(c.date_created.timestamp()),
        SortField::DateModified => sortable_int(c.date_modified.timestamp()),
        SortField::LastName => c.last_name.clone(),
    };
    CursorKey { k, id: c.id }
}

/// The primary part of a customer's typed sort key. Every key of one list uses the same
/// variant, and typed keys order exactly like the [`CursorKey`]s [`sort_key`] renders
/// (zero-padded numbers, raw strings), so both can be mixed safely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Primary<'a> {
    Int(i64),
    Str(&'a str),
}

fn typed_key(field: SortField, c: &Customer) -> (Primary<'_>, i64) {
    let primary = match field {
        SortField::Id => Primary::Int(0),
        SortField::DateCreated => Primary::Int(c.date_created.timestamp()),
        SortField::DateModified => Primary::Int(c.date_modified.timestamp()),
        SortField::LastName => Primary::Str(&c.last_name),
    };
    (primary, c.id)
}

/// A decoded cursor as a typed key; `None` when it does not fit the sort (e.g. a
/// last-name cursor replayed against a date sort), which then matches nothing special.
fn cursor_key(field: SortField, ck: &CursorKey) -> Option<(Primary<'_>, i64)> {
    let primary = match field {
        SortField::Id => Primary::Int(0),
        SortField::DateCreated | SortField::DateModified => Primary::Int(ck.k.parse().ok()?),
        SortField::LastName => Primary::Str(&ck.k),
    };
    Some((primary, ck.id))
}

/// Keeps the `k` first records of `v` in list order, sorted: a selection plus a sort of
/// `k` items instead of a sort of all of them.
fn keep_first<T>(v: &mut Vec<T>, k: usize, ord: impl Fn(&T, &T) -> Ordering) {
    if v.len() > k {
        v.select_nth_unstable_by(k, &ord);
        v.truncate(k);
    }
    v.sort_unstable_by(ord);
}

/// Keeps the `k` last records of `v` in list order, sorted.
fn keep_last<T>(v: &mut Vec<T>, k: usize, ord: impl Fn(&T, &T) -> Ordering) {
    if v.len() > k {
        let cut = v.len() - k;
        v.select_nth_unstable_by(cut, &ord);
        v.drain(..cut);
    }
    v.sort_unstable_by(ord);
}

/// Cuts the matches down to what `paging::v3_cursor` needs for this request, in list
/// order, so a page costs a linear selection rather than a full sort of 100k records:
/// - `after`: the last record at or before the cursor (so `previous` is still linked),
///   then the `limit + 1` records after it (the extra one tells whether `next` exists);
/// - `before`: the mirror image;
/// - `page`: only the first `page × limit` records are put in order; the rest stay
///   unsorted and only count towards `total`.
///
/// The default id sort is already in order and is returned as it is.
fn window<'a>(
    mut matches: Vec<&'a Customer>,
    field: SortField,
    descending: bool,
    q: &Query,
    (page, limit): (u32, u32),
) -> Vec<&'a Customer> {
    if field == SortField::Id {
        return matches;
    }
    let direct = |o: Ordering| if descending { o.reverse() } else { o };
    let ord = |a: &&Customer, b: &&Customer| direct(typed_key(field, a).cmp(&typed_key(field, b)));
    let limit = limit as usize;
    let cursor = |name: &str| {
        q.get(name)
            .filter(|s| !s.is_empty())
            .map(paging::decode_cursor)
    };
    // `after` wins over `before`, as in v3_cursor; an undecodable cursor is left for
    // v3_cursor to reject.
    let (ck, is_after) = match (cursor("after"), cursor("before")) {
        (Some(Some(ck)), _) => (ck, true),
        (Some(None), _) => return matches,
        (None, Some(Some(ck))) => (ck, false),
        (None, Some(None)) => return matches,
        (None, None) => {
            let n = (page as usize).saturating_mul(limit);
            if n < matches.len() {
                matches.select_nth_unstable_by(n, ord);
                matches[..n].sort_unstable_by(ord);
            } else {
                matches.sort_unstable_by(ord);
            }
            return matches;
        }
    };
    let Some(pos) = cursor_key(field, &ck) else {
        return matches;
    };
    let vs_cursor = |c: &Customer| direct(typed_key(field, c).cmp(&pos));
    if is_after {
        let (mut later, earlier): (Vec<&Customer>, Vec<&Customer>) = matches
            .into_iter()
            .partition(|c| vs_cursor(c) == Ordering::Greater);
        let marker = earlier.into_iter().max_by(ord);
        keep_first(&mut later, limit + 1, ord);
        marker.into_iter().chain(later).collect()
    } else {
        let (mut earlier, later): (Vec<&Customer>, Vec<&Customer>) = matches
            .into_iter()
            .partition(|c| vs_cursor(c) == Ordering::Less);
        let marker = later.into_iter().min_by(ord);
        keep_last(&mut earlier, limit + 1, ord);
        earlier.into_iter().chain(marker).collect()
    }
}

/// `GET /v3/customers`.
pub(super) async fn list(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), ApiVersion::V3);
    let filter = CustomerFilter::parse(&q)?;
    let (field, descending) = parse_sort(q.get("sort"))?;
    let includes = Includes::parse(&q);
    // Check the limit before doing any work on the data.
    let page_limit = q.page_limit(MAX_LIMIT)?;

    let data = st.data.read();
    let cs = &data.customers;
    let matches: Vec<&Customer> = match &filter.ids {
        Some(ids) => {
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            ids.iter()
                .filter_map(|id| cs.customers.get(id))
                .filter(|c| filter.matches(c))
                .collect()
        }
        None => cs
            .customers
            .values()
            .filter(|c| filter.matches(c))
            .collect(),
    };
    let matches = window(matches, field, descending, &q, page_limit);
    paging::v3_cursor(
        &matches,
        &q,
        MAX_LIMIT,
        descending,
        |c| sort_key(field, c),
        |c| cs.render_customer(c, &includes),
    )
}

/// `GET /v3/customers/form-field-values`: cursor-paged like customers (docs/api-notes.md §2.1).
/// Only customer form fields are stored; `address_id` filters therefore match nothing.
pub(super) async fn form_field_values(
    State(st): State<Shared>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let q = Query::parse(raw.as_deref(), ApiVersion::V3);
    let customer_id = q.int("customer_id")?;
    let address_id = q.int("address_id")?;
    let field_name = q.get("field_name").map(str::to_owned);
    // Every stored value is a plain text field.
    let type_ok = q
        .get("field_type")
        .is_none_or(|t| t.is_empty() || t == "text");
    q.page_limit(MAX_LIMIT)?;

    let data = st.data.read();
    let cs = &data.customers;
    let mut rows: Vec<(i64, usize, &super::FormField)> = Vec::new();
    if address_id.is_none() && type_ok {
        let customers: Box<dyn Iterator<Item = &Customer>> = match customer_id {
            Some(id) => Box::new(cs.customers.get(&id).into_iter()),
            None => Box::new(cs.customers.values()),
        };
        for c in customers {
            for (i, f) in c.form_fields.iter().enumerate() {
                if field_name.as_ref().is_none_or(|n| *n == f.name) {
                    rows.push((c.id, i, f));
                }
            }
        }
    }
    paging::v3_cursor(
        &rows,
        &q,
        MAX_LIMIT,
        false,
        |(cid, i, _)| CursorKey {
            k: sortable_int(*cid),
            id: *i as i64,
        },
        |(cid, _, f)| serde_json::json!({ "name": f.name, "value": f.value, "customer_id": cid }),
    )
}
