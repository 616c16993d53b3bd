//! The `inventory` model set: what an inventory-planning tool imports every hour.
//! Three tables, each documented column by column in docs/MODELS.md:
//!
//! - `model_inventory_products`: one row per sellable SKU, from `products` and
//!   `product_variants` (a product without options sells its base variant; a product with
//!   options sells each variant that has option values, docs/api-notes.md §3.4);
//! - `model_inventory_sell_orders`: Completed orders (every status with
//!   `all_sell_orders = true`), from `orders`; an order that is Cancelled, Refunded,
//!   Declined or archived, or that left the statuses modelled, is a row marked `deleted`;
//! - `model_inventory_sell_order_lines`: those orders' lines, from `order_lines`. The line
//!   amount is the V2 line's `total_ex_tax`, which is already the line total (§6.5): it is
//!   never multiplied by the quantity again.
//!
//! Refresh is incremental: only parents whose rows (or child rows) were written or marked
//! since the last refresh's watermark are recomputed; an upsert changes a model row only
//! when one of its values differs, so `updated_at` (what `export --since` reads) moves only
//! for rows that really changed.

use super::db::{Dialect, Kind, ModelDb};
use super::{ModelTable, TableCounts};
use crate::error::Result;

/// Order statuses that take a sale back (docs/api-notes.md §6.3): Refunded, Cancelled,
/// Declined. Their orders are deletions in the sell-order model.
const UNDONE_STATUSES: &str = "4, 5, 6";
/// Completed.
const COMPLETED_STATUS: i64 = 10;

pub const TABLES: &[ModelTable] = &[
    ModelTable {
        name: "products",
        table: "model_inventory_products",
        key: "row_key",
        parent: "article_code",
        columns: &[
            ("row_key", Kind::Text),
            ("name", Kind::Text),
            ("sku_code", Kind::Text),
            ("ean_code", Kind::Text),
            ("price", Kind::Num),
            ("unlimited_stock", Kind::Bool),
            ("stock_level", Kind::Int),
            ("article_code", Kind::Int),
            ("remote_id", Kind::Int),
            ("status", Kind::Text),
        ],
        sources: &["products", "product_variants"],
    },
    ModelTable {
        name: "sell_orders",
        table: "model_inventory_sell_orders",
        key: "remote_id",
        parent: "remote_id",
        columns: &[
            ("remote_id", Kind::Int),
            ("placed", Kind::Time),
            ("total_value", Kind::Num),
            ("status_id", Kind::Int),
            ("status", Kind::Text),
            ("customer_id", Kind::Int),
            ("channel_id", Kind::Int),
            ("currency_code", Kind::Text),
        ],
        sources: &["orders", "order_lines"],
    },
    ModelTable {
        name: "sell_order_lines",
        table: "model_inventory_sell_order_lines",
        key: "remote_id",
        parent: "order_remote_id",
        columns: &[
            ("remote_id", Kind::Int),
            ("order_remote_id", Kind::Int),
            ("product_id", Kind::Int),
            ("variant_id", Kind::Int),
            ("sku", Kind::Text),
            ("quantity", Kind::Int),
            ("subtotal_value", Kind::Num),
        ],
        sources: &["orders", "order_lines"],
    },
];

/// Options of the set (`[models.inventory]` in bcsync.toml).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryOptions {
    /// Sell orders of every status, not only Completed ones.
    #[serde(default)]
    pub all_sell_orders: bool,
}

impl InventoryOptions {
    /// What a model row depends on besides the data: a change forces a full rebuild.
    pub fn fingerprint(&self) -> String {
        format!("all_sell_orders={}", self.all_sell_orders)
    }
}

/// Recomputes the rows of parents changed since `since` (every parent when `None`) and
/// returns the counts per table, in [`TABLES`] order. Runs inside the caller's transaction.
pub fn refresh(
    db: &ModelDb,
    options: &InventoryOptions,
    since: Option<&str>,
    now: &str,
) -> Result<Vec<TableCounts>> {
    let d = db.dialect();
    let now_lit = d.time_literal(now);
    let mut counts = Vec::new();

    // Products: one row per sellable SKU.
    affected(
        db,
        "_m_affected_products",
        &[("products", "id"), ("product_variants", "product_id")],
        since,
    )?;
    let has_options = |alias: &str| format!("{} > 0", d.array_len(alias, "option_values"));
    let tracking = d.text("p", "inventory_tracking");
    let common = format!(
        "COALESCE({tracking} = 'none', FALSE) AS unlimited_stock, p.id AS article_code, \
         CASE WHEN {} = 'available' THEN 'enabled' ELSE 'disabled' END AS status",
        d.text("p", "availability")
    );
    // A variant sells when it and its product are live and it has option values, or its
    // product has no live variant with option values (a product without options sells its
    // base variant). Variants that do not sell are deleted rows, so a rebuild still
    // carries every deletion.
    let optioned_sibling = format!(
        "EXISTS (SELECT 1 FROM product_variants v2 WHERE v2.product_id = p.id AND v2._deleted_at IS NULL AND {})",
        has_options("v2")
    );
    let sells = format!(
        "(p._deleted_at IS NULL AND v._deleted_at IS NULL AND ({} OR NOT {optioned_sibling}))",
        has_options("v")
    );
    temp_table(
        db,
        "_m_next_products",
        &format!(
            "SELECT 'v' || v.id AS row_key, \
           {name} || COALESCE(' - ' || {labels}, '') AS name, \
           COALESCE({vsku}, {psku}) AS sku_code, COALESCE({gtin}, {vupc}, {pupc}) AS ean_code, \
           COALESCE({vprice}, {pprice}) AS price, \
           CASE {tracking} WHEN 'product' THEN {plevel} WHEN 'variant' THEN {vlevel} END AS stock_level, \
           v.id AS remote_id, {common}, \
           CASE WHEN {sells} THEN FALSE ELSE TRUE END AS deleted, \
           CASE WHEN {sells} THEN NULL ELSE COALESCE(v._deleted_at, p._deleted_at, {now_lit}) END AS deleted_at \
         FROM _m_affected_products a CROSS JOIN products p CROSS JOIN product_variants v \
         WHERE p.id = a.id AND v.product_id = p.id AND ({sells} \
           OR EXISTS (SELECT 1 FROM {t} m WHERE m.row_key = 'v' || v.id) \
           OR v._deleted_at IS NOT NULL OR p._deleted_at IS NOT NULL) \
         UNION ALL \
         SELECT 'p' || p.id, {name}, {psku}, {pupc}, {pprice}, \
           CASE {tracking} WHEN 'product' THEN {plevel} END, NULL, {common}, \
           CASE WHEN p._deleted_at IS NULL THEN FALSE ELSE TRUE END, p._deleted_at \
         FROM _m_affected_products a CROSS JOIN products p \
         WHERE p.id = a.id AND NOT EXISTS (SELECT 1 FROM product_variants v2 WHERE v2.product_id = p.id)",
            name = d.text("p", "name"),
            labels = d.join_member("v", "option_values", "label", " / "),
            vsku = d.nonempty("v", "sku"),
            psku = d.nonempty("p", "sku"),
            gtin = d.nonempty("v", "gtin"),
            vupc = d.nonempty("v", "upc"),
            pupc = d.nonempty("p", "upc"),
            vprice = d.num("v", "calculated_price"),
            pprice = d.num("p", "price"),
            plevel = d.int("p", "inventory_level"),
            vlevel = d.int("v", "inventory_level"),
            t = TABLES[0].table,
        ),
    )?;
    let products = &TABLES[0];
    let upserted = upsert(db, products, "_m_next_products", &now_lit)?;
    // Rows whose source rows are gone altogether (never the case with marks, kept so a
    // model row cannot outlive its source).
    let marked = db.execute(&format!(
        "UPDATE {t} SET deleted = TRUE, deleted_at = {now_lit}, updated_at = {now_lit} \
         WHERE NOT deleted AND article_code IN (SELECT id FROM _m_affected_products) \
           AND row_key NOT IN (SELECT row_key FROM _m_next_products)",
        t = products.table
    ))?;
    counts.push(TableCounts {
        table: products.name,
        changed: upserted,
        deleted: marked,
    });

    // Sell orders.
    affected(
        db,
        "_m_affected_orders",
        &[("orders", "id"), ("order_lines", "order_id")],
        since,
    )?;
    let in_set = if options.all_sell_orders {
        format!("COALESCE(o.status_id NOT IN ({UNDONE_STATUSES}), TRUE)")
    } else {
        format!("COALESCE(o.status_id = {COMPLETED_STATUS}, FALSE)")
    };
    let archived = format!(
        "({} OR o._deleted_at IS NOT NULL)",
        d.is_true("o", "is_deleted")
    );
    let live = format!("({in_set} AND NOT {archived})");
    let orders = &TABLES[1];
    temp_table(
        db,
        "_m_next_orders",
        &format!(
            "SELECT o.id AS remote_id, {placed} AS placed, {total} AS total_value, \
           o.status_id AS status_id, {status} AS status, {customer} AS customer_id, \
           {channel} AS channel_id, {currency} AS currency_code, \
           CASE WHEN {live} THEN FALSE ELSE TRUE END AS deleted, \
           CASE WHEN {live} THEN NULL ELSE COALESCE(o._deleted_at, o._extracted_at) END AS deleted_at \
         FROM _m_affected_orders a CROSS JOIN orders o \
         WHERE o.id = a.id AND ({live} OR {archived} OR COALESCE(o.status_id IN ({UNDONE_STATUSES}), FALSE) \
           OR EXISTS (SELECT 1 FROM {t} m WHERE m.remote_id = o.id))",
            placed = d.api_time("o.date_created"),
            total = d.num("o", "total_ex_tax"),
            status = d.text("o", "status"),
            customer = d.int("o", "customer_id"),
            channel = d.int("o", "channel_id"),
            currency = d.text("o", "currency_code"),
            t = orders.table,
        ),
    )?;
    counts.push(TableCounts {
        table: orders.name,
        changed: upsert(db, orders, "_m_next_orders", &now_lit)?,
        deleted: 0,
    });

    // Lines of the modelled orders; a line is deleted with its order or when the order no
    // longer has it.
    let lines = &TABLES[2];
    temp_table(
        db,
        "_m_next_lines",
        &format!(
            "SELECT l.id AS remote_id, l.order_id AS order_remote_id, {product} AS product_id, \
           {variant} AS variant_id, {sku} AS sku, {quantity} AS quantity, {subtotal} AS subtotal_value, \
           CASE WHEN m.deleted OR l._deleted_at IS NOT NULL THEN TRUE ELSE FALSE END AS deleted, \
           CASE WHEN m.deleted OR l._deleted_at IS NOT NULL THEN COALESCE(l._deleted_at, m.deleted_at) END AS deleted_at \
         FROM _m_affected_orders a CROSS JOIN {orders} m CROSS JOIN order_lines l \
         WHERE m.remote_id = a.id AND l.order_id = a.id \
           AND (l._deleted_at IS NULL OR NOT m.deleted OR EXISTS (SELECT 1 FROM {t} x WHERE x.remote_id = l.id))",
            product = d.int("l", "product_id"),
            variant = d.int("l", "variant_id"),
            sku = d.nonempty("l", "sku"),
            quantity = d.int("l", "quantity"),
            // The V2 line's `total_ex_tax` is the line total already: never times quantity.
            subtotal = d.num("l", "total_ex_tax"),
            orders = orders.table,
            t = lines.table,
        ),
    )?;
    counts.push(TableCounts {
        table: lines.name,
        changed: upsert(db, lines, "_m_next_lines", &now_lit)?,
        deleted: 0,
    });
    Ok(counts)
}

/// The temp tables of changed parents come first in every join, as `CROSS JOIN` (which
/// SQLite never reorders; PostgreSQL plans it as any inner join): without statistics
/// SQLite may otherwise scan the extracted table and probe the small temp table.
///
/// Fills the temp table `name` with the parent ids of the `(table, parent column)` rows
/// written or marked since the watermark (every parent without one). One simple indexed
/// range per table and time column: a union or an OR of them has been seen to make SQLite
/// scan the whole table.
fn affected(db: &ModelDb, name: &str, sources: &[(&str, &str)], since: Option<&str>) -> Result<()> {
    let d = db.dialect();
    let (drop, create) = match d {
        Dialect::Sqlite => (
            format!("DROP TABLE IF EXISTS temp.{name}"),
            format!("CREATE TEMP TABLE {name} (id INTEGER PRIMARY KEY)"),
        ),
        Dialect::Postgres => (
            format!("DROP TABLE IF EXISTS pg_temp.{name}"),
            format!("CREATE TEMP TABLE {name} (id bigint PRIMARY KEY) ON COMMIT DROP"),
        ),
    };
    db.batch(&format!("{drop}; {create}"))?;
    for (table, parent) in sources {
        let filters: Vec<String> = match since {
            None => vec!["TRUE".into()],
            Some(w) => ["_extracted_at", "_deleted_at"]
                .iter()
                .map(|c| format!("{c} >= {}", d.time_literal(w)))
                .collect(),
        };
        for filter in filters {
            db.execute(&format!(
                "INSERT INTO {name} (id) SELECT {parent} FROM {table} WHERE {filter} AND {parent} IS NOT NULL \
                 ON CONFLICT (id) DO NOTHING"
            ))?;
        }
    }
    Ok(())
}

/// `CREATE TEMP TABLE name AS select`, replacing one left by an earlier refresh on this
/// connection; PostgreSQL drops it at commit.
fn temp_table(db: &ModelDb, name: &str, select: &str) -> Result<()> {
    match db.dialect() {
        Dialect::Sqlite => db.batch(&format!(
            "DROP TABLE IF EXISTS temp.{name}; CREATE TEMP TABLE {name} AS {select}"
        )),
        Dialect::Postgres => db.batch(&format!(
            "DROP TABLE IF EXISTS pg_temp.{name}; CREATE TEMP TABLE {name} ON COMMIT DROP AS {select}"
        )),
    }
}

/// Upserts the rows of `next` (the model's columns plus `deleted`, `deleted_at`) into the
/// model table, changing a row only when a value differs (so `updated_at` moves only
/// then); a row already deleted keeps the time it was first seen so.
fn upsert(db: &ModelDb, table: &ModelTable, next: &str, now_lit: &str) -> Result<u64> {
    let names: Vec<&str> = table.columns.iter().map(|(n, _)| *n).collect();
    let mut set: Vec<String> = names
        .iter()
        .filter(|n| **n != table.key)
        .map(|n| format!("{n} = excluded.{n}"))
        .collect();
    set.push("deleted = excluded.deleted".into());
    set.push(
        "deleted_at = CASE WHEN m.deleted AND excluded.deleted THEN m.deleted_at ELSE excluded.deleted_at END"
            .into(),
    );
    set.push("updated_at = excluded.updated_at".into());
    let compared: Vec<&str> = names.iter().copied().chain(["deleted"]).collect();
    let old = compared
        .iter()
        .map(|n| format!("m.{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let new = compared
        .iter()
        .map(|n| format!("excluded.{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    db.execute(&format!(
        "INSERT INTO {t} AS m ({cols}, deleted, deleted_at, updated_at) \
         SELECT {cols}, deleted, deleted_at, {now_lit} FROM {next} WHERE TRUE \
         ON CONFLICT ({key}) DO UPDATE SET {set} WHERE {differs}",
        t = table.table,
        cols = names.join(", "),
        key = table.key,
        set = set.join(", "),
        differs = db.dialect().distinct(&old, &new),
    ))
}
