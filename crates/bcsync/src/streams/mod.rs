//! Streams are data: one descriptor per BigCommerce collection, in one table
//! ([`STREAMS`]). A descriptor says where the collection lives, how it pages, how it is
//! read incrementally, which child tables come embedded in it, and what its records look
//! like. The extraction engine has no per-stream code paths beyond what these fields say.
//!
//! Request economy (FACTS 0.4, 3.2, 6.2, 12.7): every list uses its maximum page size and
//! `include=` so children arrive embedded; order lines come inside the orders page
//! (`include=consignments.line_items`), never one `/products` call per order. The only
//! per-parent requests are the ones the API offers no list for, and the descriptor says so
//! in `per_parent_note`.

mod children;
pub mod schema;

use bigcommerce::ApiVersion;
use serde_json::Value;

pub use schema::FieldType;

/// How a collection is paged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// One bare object (`GET /v2/store`).
    Single,
    /// V3 `page`/`limit` with `meta.pagination`.
    V3Offset,
    /// V3 cursors (`after`), with `meta.cursor_pagination`.
    V3Cursor,
    /// V2 `page`/`limit`, bare arrays, 204 on an empty page.
    V2Offset,
    /// One request per order (`{id}` in the path), for collections the API only offers per
    /// order. The orders themselves are listed incrementally with the stream's own bookmark.
    PerOrder,
}

/// How a stream is read on the second and later runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replication {
    /// No date filter exists: every run re-reads the whole (small) collection.
    FullTable,
    /// Keyset on a modification date: `filter >= bookmark`, sorted ascending, ids already
    /// seen at the bookmark second skipped. Nothing skipped, nothing doubled.
    Incremental {
        /// Field of the record holding the date (`date_modified`).
        cursor_field: &'static str,
        /// Query parameter for "at or after" (`date_modified:min`, `min_date_modified`).
        /// Always sent a full ISO 8601 timestamp with an offset: V3 appends the current time
        /// to a bare date (FACTS 12.4), and V2 order filters accept ISO as well as RFC 2822.
        min_param: &'static str,
        /// Query pairs that sort ascending by the cursor field (ties by id).
        sort: &'static [(&'static str, &'static str)],
    },
}

/// A table filled from an array embedded in each parent record.
#[derive(Debug)]
pub struct ChildTable {
    pub name: &'static str,
    /// Column that holds the parent's key in the child table.
    pub parent_column: &'static str,
    /// Pulls the child rows out of one parent record.
    pub extract: fn(&Value) -> Vec<Value>,
    /// The child's own key within a parent, when it has one (`id`).
    pub key: Option<&'static str>,
    pub fields: &'static [(&'static str, FieldType)],
}

/// One BigCommerce collection and everything the engine needs to extract it.
#[derive(Debug)]
pub struct StreamDescriptor {
    pub name: &'static str,
    pub version: ApiVersion,
    pub path: &'static str,
    pub paging: Paging,
    /// The primary key field.
    pub key: &'static str,
    pub replication: Replication,
    /// Always-sent query pairs (`include=`, structure flags).
    pub query: &'static [(&'static str, &'static str)],
    /// The largest page the API allows for this list (FACTS 0.4).
    pub page_size: u32,
    pub children: &'static [ChildTable],
    /// OAuth scope family needed (for `bcsync check`).
    pub scope: &'static str,
    /// Top-level fields with their JSON types (the SCHEMA; other fields are allowed).
    pub fields: &'static [(&'static str, FieldType)],
    /// Why this stream costs more than one request per page, when it does.
    pub per_parent_note: Option<&'static str>,
}

impl StreamDescriptor {
    pub fn is_incremental(&self) -> bool {
        matches!(self.replication, Replication::Incremental { .. })
    }
}

use FieldType::{Boolean as B, DateTime as D, Integer as I, Json as J, Number as N, String as S};

const V3_INCREMENTAL: Replication = Replication::Incremental {
    cursor_field: "date_modified",
    min_param: "date_modified:min",
    sort: &[("sort", "date_modified:asc")],
};

/// The stream table: every stream bcsync extracts.
pub static STREAMS: &[StreamDescriptor] = &[
    StreamDescriptor {
        name: "store",
        version: ApiVersion::V2,
        path: "/store",
        paging: Paging::Single,
        key: "id",
        replication: Replication::FullTable,
        query: &[],
        page_size: 1,
        children: &[],
        scope: "store_v2_information",
        fields: &[
            ("id", S),
            ("store_id", I),
            ("name", S),
            ("domain", S),
            ("plan_name", S),
            ("currency", S),
        ],
        per_parent_note: None,
    },
    StreamDescriptor {
        name: "channels",
        version: ApiVersion::V3,
        path: "/channels",
        paging: Paging::V3Offset,
        key: "id",
        replication: Replication::FullTable,
        query: &[],
        page_size: 250,
        children: &[],
        scope: "store_channel_settings",
        fields: &[
            ("id", I),
            ("name", S),
            ("type", S),
            ("platform", S),
            ("status", S),
            ("date_modified", D),
        ],
        per_parent_note: None,
    },
    StreamDescriptor {
        name: "customers",
        version: ApiVersion::V3,
        path: "/customers",
        paging: Paging::V3Cursor,
        key: "id",
        replication: V3_INCREMENTAL,
        query: &[("include", "addresses,attributes,formfields,storecredit")],
        page_size: 250,
        children: &[
            ChildTable {
                name: "customer_addresses",
                parent_column: "customer_id",
                extract: children::customer_addresses,
                key: Some("id"),
                fields: &[
                    ("id", I),
                    ("customer_id", I),
                    ("first_name", S),
                    ("last_name", S),
                    ("address1", S),
                    ("city", S),
                    ("country_code", S),
                    ("postal_code", S),
                ],
            },
            ChildTable {
                name: "customer_attribute_values",
                parent_column: "customer_id",
                extract: children::customer_attributes,
                key: Some("attribute_id"),
                fields: &[
                    ("customer_id", I),
                    ("attribute_id", I),
                    ("attribute_value", S),
                ],
            },
            ChildTable {
                name: "customer_form_fields",
                parent_column: "customer_id",
                extract: children::customer_form_fields,
                key: Some("name"),
                fields: &[("customer_id", I), ("name", S), ("value", J)],
            },
        ],
        scope: "store_v2_customers",
        fields: &[
            ("id", I),
            ("email", S),
            ("first_name", S),
            ("last_name", S),
            ("company", S),
            ("phone", S),
            ("customer_group_id", I),
            ("date_created", D),
            ("date_modified", D),
            ("origin_channel_id", I),
        ],
        per_parent_note: None,
    },
    StreamDescriptor {
        name: "customer_groups",
        version: ApiVersion::V2,
        path: "/customer_groups",
        paging: Paging::V2Offset,
        key: "id",
        replication: Replication::FullTable,
        query: &[],
        page_size: 250,
        children: &[],
        scope: "store_v2_customers",
        fields: &[("id", I), ("name", S), ("is_default", B)],
        per_parent_note: None,
    },
    StreamDescriptor {
        name: "products",
        version: ApiVersion::V3,
        path: "/catalog/products",
        paging: Paging::V3Offset,
        key: "id",
        replication: Replication::Incremental {
            cursor_field: "date_modified",
            min_param: "date_modified:min",
            sort: &[("sort", "date_modified"), ("direction", "asc")],
        },
        query: &[(
            "include",
            "variants,images,custom_fields,bulk_pricing_rules",
        )],
        page_size: 250,
        children: &[
            ChildTable {
                name: "product_variants",
                parent_column: "product_id",
                extract: children::product_variants,
                key: Some("id"),
                fields: &[
                    ("id", I),
                    ("product_id", I),
                    ("sku", S),
                    ("price", N),
                    ("inventory_level", I),
                ],
            },
            ChildTable {
                name: "product_images",
                parent_column: "product_id",
                extract: children::product_images,
                key: Some("id"),
                fields: &[
                    ("id", I),
                    ("product_id", I),
                    ("url_standard", S),
                    ("is_thumbnail", B),
                ],
            },
            ChildTable {
                name: "product_custom_fields",
                parent_column: "product_id",
                extract: children::product_custom_fields,
                key: Some("id"),
                fields: &[("id", I), ("product_id", I), ("name", S), ("value", S)],
            },
        ],
        scope: "store_v2_products",
        fields: &[
            ("id", I),
            ("name", S),
            ("type", S),
            ("sku", S),
            ("price", N),
            ("weight", N),
            ("brand_id", I),
            ("inventory_level", I),
            ("is_visible", B),
            ("date_created", D),
            ("date_modified", D),
        ],
        per_parent_note: None,
    },
    StreamDescriptor {
        name: "categories",
        version: ApiVersion::V3,
        path: "/catalog/trees/categories",
        paging: Paging::V3Offset,
        key: "category_id",
        // No date filter exists for categories (FACTS 4.2): full re-read, cheap.
        replication: Replication::FullTable,
        query: &[],
        page_size: 250,
        children: &[],
        scope: "store_v2_products",
        fields: &[
            ("category_id", I),
            ("tree_id", I),
            ("parent_id", I),
            ("name", S),
            ("is_visible", B),
        ],
        per_parent_note: None,
    },
    StreamDescriptor {
        name: "category_trees",
        version: ApiVersion::V3,
        path: "/catalog/trees",
        paging: Paging::V3Offset,
        key: "id",
        replication: Replication::FullTable,
        query: &[],
        page_size: 250,
        children: &[],
        scope: "store_v2_products",
        fields: &[("id", I), ("name", S)],
        per_parent_note: None,
    },
    StreamDescriptor {
        name: "brands",
        version: ApiVersion::V3,
        path: "/catalog/brands",
        paging: Paging::V3Offset,
        key: "id",
        // No date filter exists for brands (FACTS 4.3).
        replication: Replication::FullTable,
        query: &[],
        page_size: 250,
        children: &[],
        scope: "store_v2_products",
        fields: &[("id", I), ("name", S)],
        per_parent_note: None,
    },
    StreamDescriptor {
        name: "coupons",
        version: ApiVersion::V2,
        path: "/coupons",
        paging: Paging::V2Offset,
        key: "id",
        replication: Replication::FullTable,
        query: &[],
        page_size: 250,
        children: &[],
        scope: "store_v2_marketing",
        fields: &[
            ("id", I),
            ("name", S),
            ("code", S),
            ("type", S),
            ("amount", S),
            ("num_uses", I),
        ],
        per_parent_note: None,
    },
    StreamDescriptor {
        name: "orders",
        version: ApiVersion::V2,
        path: "/orders",
        paging: Paging::V2Offset,
        key: "id",
        replication: Replication::Incremental {
            cursor_field: "date_modified",
            min_param: "min_date_modified",
            sort: &[("sort", "date_modified:asc")],
        },
        query: &[
            ("include", "consignments.line_items"),
            ("consignment_structure", "object"),
        ],
        page_size: 250,
        children: &[
            ChildTable {
                name: "order_lines",
                parent_column: "order_id",
                extract: children::order_lines,
                key: Some("id"),
                fields: &[
                    ("id", I),
                    ("order_id", I),
                    ("product_id", I),
                    ("variant_id", I),
                    ("name", S),
                    ("sku", S),
                    ("quantity", I),
                    ("price_inc_tax", S),
                ],
            },
            ChildTable {
                name: "order_shipping_addresses",
                parent_column: "order_id",
                extract: children::order_shipping_addresses,
                key: Some("id"),
                fields: &[
                    ("id", I),
                    ("order_id", I),
                    ("first_name", S),
                    ("last_name", S),
                    ("city", S),
                    ("country_iso2", S),
                ],
            },
        ],
        scope: "store_v2_orders",
        fields: &[
            ("id", I),
            ("customer_id", I),
            ("status_id", I),
            ("status", S),
            ("total_inc_tax", S),
            ("total_ex_tax", S),
            ("currency_code", S),
            ("payment_status", S),
            ("channel_id", I),
            ("date_created", D),
            ("date_modified", D),
        ],
        per_parent_note: None,
    },
    StreamDescriptor {
        name: "transactions",
        version: ApiVersion::V3,
        path: "/orders/{id}/transactions",
        paging: Paging::PerOrder,
        key: "id",
        replication: Replication::Incremental {
            cursor_field: "date_modified",
            min_param: "min_date_modified",
            sort: &[("sort", "date_modified:asc")],
        },
        query: &[],
        page_size: 250,
        children: &[],
        scope: "store_v2_transactions",
        fields: &[
            ("id", I),
            ("order_id", S),
            ("event", S),
            ("method", S),
            ("amount", N),
            ("status", S),
            ("date_created", D),
        ],
        per_parent_note: Some(
            "the API lists transactions only per order (GET /v3/orders/{id}/transactions): one request per order \
             modified since the bookmark, plus the order listing itself (1 per 250 orders)",
        ),
    },
    StreamDescriptor {
        name: "refunds",
        version: ApiVersion::V3,
        path: "/orders/payment_actions/refunds",
        paging: Paging::V3Offset,
        key: "id",
        // The refunds list has a `created:min` filter but no `sort` (FACTS 6.6): a date keyset
        // over a list in id order can skip refunds whose id and date orders differ, so it is
        // re-read whole (refunds are few: one request per 250).
        replication: Replication::FullTable,
        query: &[],
        page_size: 250,
        children: &[],
        scope: "store_v2_transactions",
        fields: &[
            ("id", I),
            ("order_id", I),
            ("total_amount", N),
            ("created", D),
        ],
        per_parent_note: None,
    },
];

/// Looks a stream up by name.
pub fn find(name: &str) -> Option<&'static StreamDescriptor> {
    STREAMS.iter().find(|s| s.name == name)
}

/// Resolves `--streams a,b` (or all when empty), in table order, with a clear error.
pub fn select(names: &[String]) -> crate::Result<Vec<&'static StreamDescriptor>> {
    if names.is_empty() {
        return Ok(STREAMS.iter().collect());
    }
    for n in names {
        if find(n).is_none() {
            return Err(crate::Error::UnknownStream {
                name: n.clone(),
                known: STREAMS
                    .iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    Ok(STREAMS
        .iter()
        .filter(|s| names.iter().any(|n| n == s.name))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_children_do_not_clash() {
        let mut names: Vec<&str> = STREAMS.iter().map(|s| s.name).collect();
        names.extend(
            STREAMS
                .iter()
                .flat_map(|s| s.children.iter().map(|c| c.name)),
        );
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(n, names.len());
    }

    #[test]
    fn every_list_uses_the_largest_page() {
        for s in STREAMS.iter().filter(|s| s.paging != Paging::Single) {
            assert_eq!(s.page_size, 250, "{}", s.name);
        }
    }

    #[test]
    fn incremental_streams_sort_by_their_cursor() {
        // A keyset on a date is only complete over a list sorted by that date.
        for s in STREAMS {
            if let Replication::Incremental { sort, .. } = s.replication {
                assert!(!sort.is_empty(), "{} is incremental without a sort", s.name);
            }
        }
    }

    #[test]
    fn per_parent_streams_say_why() {
        for s in STREAMS {
            assert_eq!(
                s.paging == Paging::PerOrder,
                s.per_parent_note.is_some(),
                "{}",
                s.name
            );
        }
    }

    #[test]
    fn unknown_stream_is_named() {
        let err = select(&["customers".into(), "nope".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"nope\"") && err.contains("customers"),
            "{err}"
        );
    }
}
