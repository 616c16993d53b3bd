//! The one paging rule (docs/brevo-api-notes.md §0.5): `limit` + `offset`, the largest
//! `limit` each route allows, answers shaped `{<collection>: [...], "count": N}`.
//!
//! - Paging stops on a short page (fewer items than asked), an empty one, or once
//!   `offset` reaches `count`.
//! - Offset paging over a set that changes while it is read can repeat rows (a row
//!   inserted before the offset shifts the rest), so rows are deduplicated by `id`;
//!   rows without an id are kept.
//! - A missing collection key is read as an empty page (the notes say Brevo always sends
//!   the key, but a careful client survives `{}`).

use std::collections::HashSet;

use serde_json::Value;

/// A paged route: its path, the key of its collection and its largest `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PagedRoute {
    pub collection: &'static str,
    pub max_limit: u32,
}

pub const CONTACTS: PagedRoute = PagedRoute {
    collection: "contacts",
    max_limit: 1000,
};
pub const LIST_CONTACTS: PagedRoute = PagedRoute {
    collection: "contacts",
    max_limit: 500,
};
pub const LISTS: PagedRoute = PagedRoute {
    collection: "lists",
    max_limit: 50,
};
pub const FOLDERS: PagedRoute = PagedRoute {
    collection: "folders",
    max_limit: 50,
};
pub const PROCESSES: PagedRoute = PagedRoute {
    collection: "processes",
    max_limit: 50,
};
pub const PRODUCTS: PagedRoute = PagedRoute {
    collection: "products",
    max_limit: 1000,
};
pub const CATEGORIES: PagedRoute = PagedRoute {
    collection: "categories",
    max_limit: 100,
};
pub const ORDERS: PagedRoute = PagedRoute {
    collection: "orders",
    max_limit: 100,
};
pub const EVENTS: PagedRoute = PagedRoute {
    collection: "events",
    max_limit: 10_000,
};

/// One page as read from a body.
#[derive(Debug, Clone, PartialEq)]
pub struct PageBody {
    pub items: Vec<Value>,
    pub count: Option<u64>,
}

/// Reads `{<collection>: [...], count}`; `None` (a 204) is an empty page. `Err` says what
/// was wrong with the shape.
pub fn parse_page(body: Option<&Value>, collection: &str) -> Result<PageBody, String> {
    let Some(body) = body else {
        return Ok(PageBody {
            items: Vec::new(),
            count: Some(0),
        });
    };
    let Value::Object(map) = body else {
        return Err(format!(
            "expected an object with \"{collection}\", got {}",
            kind(body)
        ));
    };
    let count = map.get("count").and_then(|c| match c {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    let items = match map.get(collection) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(other) => {
            return Err(format!(
                "expected \"{collection}\" to be an array, got {}",
                kind(other)
            ));
        }
    };
    Ok(PageBody { items, count })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The paging state: where the next page starts, whether it is over, and the ids seen.
#[derive(Debug, Clone)]
pub struct Pager {
    limit: u32,
    offset: u64,
    done: bool,
    seen: HashSet<String>,
}

impl Pager {
    /// Pages of `limit` (clamped to 1..=route max).
    pub fn new(route: PagedRoute, limit: u32) -> Self {
        Self {
            limit: limit.clamp(1, route.max_limit),
            offset: 0,
            done: false,
            seen: HashSet::new(),
        }
    }

    /// `(offset, limit)` of the next page, or `None` when paging is over.
    pub fn next(&self) -> Option<(u64, u32)> {
        (!self.done).then_some((self.offset, self.limit))
    }

    /// Takes a page's items; returns those not seen before, in order.
    pub fn accept(&mut self, page: PageBody) -> Vec<Value> {
        let len = page.items.len() as u64;
        self.offset += len;
        if len < u64::from(self.limit) || page.count.is_some_and(|c| self.offset >= c) {
            self.done = true;
        }
        page.items
            .into_iter()
            .filter(|item| match item.get("id") {
                Some(id) if !id.is_null() => self.seen.insert(id_key(id)),
                _ => true,
            })
            .collect()
    }
}

/// `7` and `"7"` are the same id.
fn id_key(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn parses_pages() {
        let p = parse_page(
            Some(&json!({"contacts": [{"id": 1}], "count": 9})),
            "contacts",
        )
        .unwrap();
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.count, Some(9));
        let p = parse_page(Some(&json!({"contacts": [], "count": 0})), "contacts").unwrap();
        assert!(p.items.is_empty());
        assert!(
            parse_page(Some(&json!({})), "lists")
                .unwrap()
                .items
                .is_empty()
        );
        assert!(parse_page(None, "lists").unwrap().items.is_empty());
        assert!(parse_page(Some(&json!([1])), "lists").is_err());
        assert!(parse_page(Some(&json!({"lists": 3})), "lists").is_err());
    }

    #[test]
    fn stops_on_a_short_page() {
        let mut p = Pager::new(LISTS, 50);
        assert_eq!(p.next(), Some((0, 50)));
        let full: Vec<Value> = (0..50).map(|i| json!({"id": i})).collect();
        assert_eq!(
            p.accept(PageBody {
                items: full,
                count: None
            })
            .len(),
            50
        );
        assert_eq!(p.next(), Some((50, 50)));
        p.accept(PageBody {
            items: vec![json!({"id": 50})],
            count: None,
        });
        assert_eq!(p.next(), None);
    }

    #[test]
    fn stops_when_the_count_is_reached_and_clamps_the_limit() {
        let mut p = Pager::new(CATEGORIES, 5000);
        assert_eq!(p.next(), Some((0, 100)));
        let full: Vec<Value> = (0..100).map(|i| json!({"id": format!("c{i}")})).collect();
        p.accept(PageBody {
            items: full,
            count: Some(100),
        });
        assert_eq!(p.next(), None);
    }

    #[test]
    fn dedupes_by_id() {
        let mut p = Pager::new(CONTACTS, 2);
        let a = p.accept(PageBody {
            items: vec![json!({"id": 1}), json!({"id": 2})],
            count: None,
        });
        let b = p.accept(PageBody {
            items: vec![json!({"id": "2"}), json!({"x": 1})],
            count: None,
        });
        assert_eq!(a.len(), 2);
        assert_eq!(b, vec![json!({"x": 1})]);
    }

    proptest! {
        /// Reads a set that gets rows inserted at the front while it is paged: every
        /// original row comes out exactly once, in order, and paging ends.
        #[test]
        fn pages_a_moving_set_without_losing_or_repeating(
            n in 0usize..400,
            limit in 1u32..60,
            inserts in proptest::collection::vec(0usize..3, 0..20),
        ) {
            let mut rows: Vec<i64> = (0..n as i64).collect();
            let mut next_new = -1i64;
            let mut pager = Pager::new(CONTACTS, limit);
            let mut out = Vec::new();
            let mut requests = 0;
            while let Some((offset, limit)) = pager.next() {
                requests += 1;
                prop_assert!(requests <= n + 50);
                let page: Vec<Value> = rows
                    .iter()
                    .skip(offset as usize)
                    .take(limit as usize)
                    .map(|id| json!({"id": id}))
                    .collect();
                let count = rows.len() as u64;
                out.extend(pager.accept(PageBody { items: page, count: Some(count) }));
                // Rows created while paging land before the cursor (sort is by creation,
                // but a concurrent re-sort shifts rows the same way).
                for _ in 0..inserts.get(requests - 1).copied().unwrap_or(0) {
                    rows.insert(0, next_new);
                    next_new -= 1;
                }
            }
            let ids: Vec<i64> = out.iter().filter_map(|v| v["id"].as_i64()).collect();
            let mut unique = ids.clone();
            unique.sort_unstable();
            unique.dedup();
            prop_assert_eq!(unique.len(), ids.len(), "repeated ids");
            let originals: Vec<i64> = ids.iter().copied().filter(|i| *i >= 0).collect();
            // Inserts at the front push rows forward, so originals come in order and
            // none is skipped.
            prop_assert_eq!(originals, (0..n as i64).collect::<Vec<_>>());
        }
    }
}
