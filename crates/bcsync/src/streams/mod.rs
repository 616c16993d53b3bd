//! Streams are data: one descriptor per BigCommerce collection, in one table
//! ([`STREAMS`]). A descriptor says where the collection lives, how it pages, how it is
//! read incrementally, which child tables come embedded in it, and what its records look
//! like. The extraction engine has no per-stream code paths beyond what these fields say.
//!
//! Request economy (docs/api-notes.md §0.4, §3.2, §6.2, §12.7): every list uses its maximum page
//! size and `include=` so children arrive embedded; order lines come inside the orders page
//! (`include=consignments.line_items`), never one `/products` call per order. The only
//! per-parent requests are the ones the API offers no list for, and the descriptor says so
//! in `per_parent_note`.

pub(crate) mod children;
pub mod records;
pub mod schema;
pub mod text;

use bigcommerce::ApiVersion;
use serde_json::Value;

pub use schema::{FieldType, Prop, Shape};

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
        /// to a bare date (docs/api-notes.md §12.4), and V2 order filters accept ISO as well as
        /// RFC 2822.
        min_param: &'static str,
        /// Query parameter for "at or before" (`date_modified:max`, `max_date_modified`),
        /// inclusive like every `:max` filter (docs/api-notes.md §0.5): a window ending before
        /// a date asks for one second less, since the dates have whole seconds.
        max_param: &'static str,
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
    /// The same rows read from the parent's text, where that is written
    /// ([`children::FromText`]); `None`: pages of this stream are parsed before writing.
    pub from_text: Option<children::FromText>,
    /// The child's own key within a parent, when it has one (`id`).
    pub key: Option<&'static str>,
    /// Columns SQL destinations promote out of `_raw` (see [`StreamDescriptor::fields`]).
    pub fields: &'static [(&'static str, FieldType)],
    /// Every field of a row, as the API sends it (the Singer SCHEMA).
    pub record: &'static [Prop],
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
    /// The largest page the API allows for this list (docs/api-notes.md §0.4).
    pub page_size: u32,
    pub children: &'static [ChildTable],
    /// OAuth scope family needed (for `bcsync check`).
    pub scope: &'static str,
    /// Columns SQL destinations promote out of `_raw` into typed columns (the whole
    /// record stays in `_raw`). Each is a top-level field of `record`.
    pub fields: &'static [(&'static str, FieldType)],
    /// Every field of a record, nested ones included, as the API sends it: the Singer
    /// SCHEMA and `discover`'s schema ([`schema`]).
    pub record: &'static [Prop],
    /// Why this stream costs more than one request per page, when it does.
    pub per_parent_note: Option<&'static str>,
    /// When one API item holds several rows of the table (an inventory item holds one
    /// stock level per location): splits each item into its rows, which carry `key`.
    pub rows: Option<fn(&Value) -> Vec<Value>>,
    /// Read only when asked for, by its name or by this one (`products.metafields`):
    /// tables that cost requests most users do not want.
    pub on_request: Option<&'static str>,
}

impl StreamDescriptor {
    pub fn is_incremental(&self) -> bool {
        matches!(self.replication, Replication::Incremental { .. })
    }

    /// Whether `name` designates this stream (its name, or its on-request name).
    pub fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.on_request == Some(name)
    }
}

use FieldType::{Boolean as B, DateTime as D, Integer as I, Json as J, Number as N, String as S};

const V3_INCREMENTAL: Replication = Replication::Incremental {
    cursor_field: "date_modified",
    min_param: "date_modified:min",
    max_param: "date_modified:max",
    sort: &[("sort", "date_modified:asc")],
};

/// Carts: not a stream (the API has no cart list, docs/api-notes.md §8), so never
/// extracted; `bcsync listen` fills this table from the cart webhooks, one
/// `GET /v3/carts/{id}` per changed cart, through the same destination code.
pub static CARTS: StreamDescriptor = StreamDescriptor {
    name: "carts",
    version: ApiVersion::V3,
    path: "/carts/{id}",
    paging: Paging::Single,
    key: "id",
    replication: Replication::FullTable,
    query: &[],
    page_size: 1,
    children: &[ChildTable {
        name: "cart_items",
        parent_column: "cart_id",
        extract: children::cart_items,
        from_text: None,
        record: records::CART_ITEM,
        key: Some("id"),
        fields: &[
            ("id", S),
            ("cart_id", S),
            ("item_type", S),
            ("product_id", I),
            ("variant_id", I),
            ("quantity", I),
            ("sale_price", N),
        ],
    }],
    scope: "store_cart",
    fields: &[
        ("id", S),
        ("customer_id", I),
        ("email", S),
        ("cart_amount", N),
        ("state", S),
        ("abandoned_at", D),
        ("converted_at", D),
        ("order_id", I),
        ("created_time", D),
        ("updated_time", D),
    ],
    record: records::CART,
    per_parent_note: None,
    rows: None,
    on_request: None,
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
        record: records::STORE,
        per_parent_note: None,
        rows: None,
        on_request: None,
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
        record: records::CHANNEL,
        per_parent_note: None,
        rows: None,
        on_request: None,
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
                from_text: Some(children::customer_addresses_text),
                record: records::CUSTOMER_ADDRESS,
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
                from_text: Some(children::customer_attributes_text),
                record: records::CUSTOMER_ATTRIBUTE_VALUE,
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
                from_text: Some(children::customer_form_fields_text),
                record: records::FORM_FIELD,
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
        record: records::CUSTOMER,
        per_parent_note: None,
        rows: None,
        on_request: None,
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
        record: records::CUSTOMER_GROUP,
        per_parent_note: None,
        rows: None,
        on_request: None,
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
            max_param: "date_modified:max",
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
                from_text: Some(children::product_variants_text),
                record: records::VARIANT,
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
                from_text: Some(children::product_images_text),
                record: records::PRODUCT_IMAGE,
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
                from_text: Some(children::product_custom_fields_text),
                record: records::PRODUCT_CUSTOM_FIELD,
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
        record: records::PRODUCT,
        per_parent_note: None,
        rows: None,
        on_request: None,
    },
    StreamDescriptor {
        name: "categories",
        version: ApiVersion::V3,
        path: "/catalog/trees/categories",
        paging: Paging::V3Offset,
        key: "category_id",
        // No date filter exists for categories (docs/api-notes.md §4.2): full re-read, cheap.
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
        record: records::CATEGORY,
        per_parent_note: None,
        rows: None,
        on_request: None,
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
        record: records::CATEGORY_TREE,
        per_parent_note: None,
        rows: None,
        on_request: None,
    },
    StreamDescriptor {
        name: "brands",
        version: ApiVersion::V3,
        path: "/catalog/brands",
        paging: Paging::V3Offset,
        key: "id",
        // No date filter exists for brands (docs/api-notes.md §4.3).
        replication: Replication::FullTable,
        query: &[],
        page_size: 250,
        children: &[],
        scope: "store_v2_products",
        fields: &[("id", I), ("name", S)],
        record: records::BRAND,
        per_parent_note: None,
        rows: None,
        on_request: None,
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
        record: records::COUPON,
        per_parent_note: None,
        rows: None,
        on_request: None,
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
            max_param: "max_date_modified",
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
                from_text: Some(children::order_lines_text),
                record: records::ORDER_LINE,
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
                from_text: Some(children::order_shipping_addresses_text),
                record: records::ORDER_SHIPPING_ADDRESS,
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
        record: records::ORDER,
        per_parent_note: None,
        rows: None,
        on_request: None,
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
            max_param: "max_date_modified",
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
        record: records::TRANSACTION,
        per_parent_note: Some(
            "the API lists transactions only per order (GET /v3/orders/{id}/transactions): one request per order \
             modified since the bookmark, plus the order listing itself (1 per 250 orders)",
        ),
        rows: None,
        on_request: None,
    },
    StreamDescriptor {
        name: "refunds",
        version: ApiVersion::V3,
        path: "/orders/payment_actions/refunds",
        paging: Paging::V3Offset,
        key: "id",
        // The refunds list has a `created:min` filter but no `sort` (docs/api-notes.md §6.6): a
        // date keyset over a list in id order can skip refunds whose id and date orders differ, so
        // it is re-read whole (refunds are few: one request per 250).
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
        record: records::REFUND,
        per_parent_note: None,
        rows: None,
        on_request: None,
    },
    StreamDescriptor {
        name: "subscribers",
        version: ApiVersion::V3,
        path: "/customers/subscribers",
        paging: Paging::V3Offset,
        key: "id",
        // The list has date filters but no documented sort (docs/api-notes.md §2.4): a date
        // keyset over a list in id order could skip records, so it is re-read whole.
        replication: Replication::FullTable,
        query: &[],
        page_size: 250,
        children: &[],
        scope: "store_v2_customers",
        fields: &[
            ("id", I),
            ("email", S),
            ("first_name", S),
            ("last_name", S),
            ("source", S),
            ("channel_id", I),
            ("consents", J),
            ("date_created", D),
            ("date_modified", D),
        ],
        record: records::SUBSCRIBER,
        per_parent_note: None,
        rows: None,
        on_request: None,
    },
    StreamDescriptor {
        name: "promotions",
        version: ApiVersion::V3,
        path: "/promotions",
        paging: Paging::V3Offset,
        key: "id",
        // No modification date to filter on (docs/api-notes.md §7.2).
        replication: Replication::FullTable,
        query: &[],
        page_size: 250,
        children: &[],
        scope: "store_v2_marketing",
        fields: &[
            ("id", I),
            ("name", S),
            ("redemption_type", S),
            ("status", S),
            ("current_uses", I),
            ("start_date", D),
            ("end_date", D),
            ("priority", I),
        ],
        record: records::PROMOTION,
        per_parent_note: None,
        rows: None,
        on_request: None,
    },
    StreamDescriptor {
        name: "pages",
        version: ApiVersion::V3,
        path: "/content/pages",
        paging: Paging::V3Offset,
        key: "id",
        // Pages carry no dates (docs/api-notes.md §14).
        replication: Replication::FullTable,
        query: &[("include", "body")],
        page_size: 250,
        children: &[],
        scope: "store_v2_content",
        fields: &[
            ("id", I),
            ("channel_id", I),
            ("name", S),
            ("type", S),
            ("is_visible", B),
            ("url", S),
        ],
        record: records::PAGE,
        per_parent_note: None,
        rows: None,
        on_request: None,
    },
    StreamDescriptor {
        name: "inventory_items",
        version: ApiVersion::V3,
        path: "/inventory/items",
        paging: Paging::V3Offset,
        key: "id",
        // No date filter on inventory items (docs/api-notes.md §5).
        replication: Replication::FullTable,
        query: &[],
        page_size: 250,
        children: &[],
        scope: "store_inventory",
        fields: &[
            ("id", S),
            ("product_id", I),
            ("variant_id", I),
            ("sku", S),
            ("location_id", I),
            ("location_code", S),
            ("available_to_sell", I),
            ("total_inventory_onhand", I),
        ],
        record: records::INVENTORY_ITEM_LOCATION,
        per_parent_note: None,
        rows: Some(children::inventory_item_locations),
        on_request: None,
    },
    metafields(
        "product_metafields",
        "products.metafields",
        "/catalog/products/metafields",
        "store_v2_products",
    ),
    metafields(
        "variant_metafields",
        "variants.metafields",
        "/catalog/variants/metafields",
        "store_v2_products",
    ),
    metafields(
        "category_metafields",
        "categories.metafields",
        "/catalog/categories/metafields",
        "store_v2_products",
    ),
    metafields(
        "customer_metafields",
        "customers.metafields",
        "/customers/metafields",
        "store_v2_customers",
    ),
    metafields(
        "order_metafields",
        "orders.metafields",
        "/orders/metafields",
        "store_v2_orders",
    ),
];

/// The metafields of one kind of record, read through its collection route (one paged
/// read for every record, docs/api-notes.md §15) and only when asked for.
const fn metafields(
    name: &'static str,
    on_request: &'static str,
    path: &'static str,
    scope: &'static str,
) -> StreamDescriptor {
    StreamDescriptor {
        name,
        version: ApiVersion::V3,
        path,
        paging: Paging::V3Offset,
        key: "id",
        // Metafield lists filter by key and namespace, not by date.
        replication: Replication::FullTable,
        query: &[],
        page_size: 250,
        children: &[],
        scope,
        fields: &[
            ("id", I),
            ("resource_id", I),
            ("namespace", S),
            ("key", S),
            ("value", S),
            ("permission_set", S),
            ("date_modified", D),
        ],
        record: records::METAFIELD,
        per_parent_note: None,
        rows: None,
        on_request: Some(on_request),
    }
}

/// Looks a stream up by name.
pub fn find(name: &str) -> Option<&'static StreamDescriptor> {
    STREAMS.iter().find(|s| s.name == name)
}

/// The stream a name designates: the stream itself, or the parent of a child table.
fn owner(name: &str) -> Option<&'static StreamDescriptor> {
    STREAMS
        .iter()
        .find(|s| s.answers_to(name) || s.children.iter().any(|c| c.name == name))
}

/// Resolves `--streams a,b` (or all when empty), in table order, with a clear error. A
/// child table's name (`order_lines`) selects the stream it comes embedded in.
pub fn select(names: &[String]) -> crate::Result<Vec<&'static StreamDescriptor>> {
    if names.is_empty() {
        return Ok(STREAMS.iter().filter(|s| s.on_request.is_none()).collect());
    }
    let mut owners = Vec::with_capacity(names.len());
    for n in names {
        match owner(n) {
            Some(s) => owners.push(s.name),
            None => {
                return Err(crate::Error::UnknownStream {
                    name: n.clone(),
                    known: STREAMS
                        .iter()
                        .flat_map(|s| {
                            std::iter::once(s.name)
                                .chain(s.on_request)
                                .chain(s.children.iter().map(|c| c.name))
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    }
    Ok(STREAMS
        .iter()
        .filter(|s| owners.contains(&s.name))
        .collect())
}

/// The streams and child tables a Singer run emits for `--streams` names (all when
/// empty): a named stream comes with all its child tables, unless some of its child
/// tables are named too, then with those only; a child table named without its stream
/// comes alone (its parent's pages are read, its parent's records are not emitted). An
/// on-request stream comes only when named. A catalog selects exactly, instead: each
/// stream and child table by its own `selected`.
pub fn emitted_tables(names: &[String]) -> Vec<&'static str> {
    let named = |n: &str| names.is_empty() || names.iter().any(|x| x == n);
    let mut out = Vec::new();
    for s in STREAMS {
        if s.on_request.is_some() {
            if names.iter().any(|x| s.answers_to(x)) {
                out.push(s.name);
            }
            continue;
        }
        let children_named = s.children.iter().any(|c| names.iter().any(|x| x == c.name));
        if named(s.name) {
            out.push(s.name);
        }
        for c in s.children {
            if named(c.name) || (named(s.name) && !children_named) {
                out.push(c.name);
            }
        }
    }
    out
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
    fn sql_columns_are_declared_fields_of_the_record() {
        // `fields` picks SQL columns out of the record: each must be a top-level field of
        // the record's shape (one description of a record, not two that drift apart).
        for s in STREAMS {
            let tables = std::iter::once((s.name, s.fields, s.record, None)).chain(
                s.children
                    .iter()
                    .map(|c| (c.name, c.fields, c.record, Some(c.parent_column))),
            );
            for (table, fields, record, parent) in tables {
                for (name, _) in fields {
                    assert!(
                        record.iter().any(|(n, _)| n == name) || Some(*name) == parent,
                        "{table}.{name} is a SQL column but not a field of the record"
                    );
                }
            }
        }
    }

    #[test]
    fn child_tables_select_their_parent_and_limit_what_is_emitted() {
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let picked = select(&names(&["order_lines", "customers"])).unwrap();
        assert_eq!(
            picked.iter().map(|s| s.name).collect::<Vec<_>>(),
            vec!["customers", "orders"]
        );
        assert_eq!(
            emitted_tables(&names(&["customers"])),
            vec![
                "customers",
                "customer_addresses",
                "customer_attribute_values",
                "customer_form_fields"
            ]
        );
        assert_eq!(
            emitted_tables(&names(&["customers", "customer_addresses", "order_lines"])),
            vec!["customers", "customer_addresses", "order_lines"]
        );
        assert_eq!(emitted_tables(&[]).len(), 24);
    }

    #[test]
    fn metafield_tables_come_only_when_asked_for() {
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(select(&[]).unwrap().iter().all(|s| s.on_request.is_none()));
        assert!(!emitted_tables(&[]).contains(&"product_metafields"));
        let picked = select(&names(&["products.metafields", "order_metafields"])).unwrap();
        assert_eq!(
            picked.iter().map(|s| s.name).collect::<Vec<_>>(),
            vec!["product_metafields", "order_metafields"]
        );
        assert_eq!(
            emitted_tables(&names(&["products", "products.metafields"]))
                .into_iter()
                .filter(|t| t.contains("metafields"))
                .collect::<Vec<_>>(),
            vec!["product_metafields"]
        );
        let err = select(&names(&["products.nope"])).unwrap_err().to_string();
        assert!(err.contains("customers.metafields"), "{err}");
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
