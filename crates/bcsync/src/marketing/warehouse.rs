//! What the Brevo sync reads: the tables `bcsync extract` keeps (SQLite file or the
//! store's PostgreSQL schema), each record as the API sent it (`_raw`) with bcsync's
//! deletion mark. The sync never asks the store's API for data the extraction holds, so
//! running it costs no BigCommerce quota.

use std::collections::HashMap;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::models::db::{Dialect, ModelDb};

use super::commerce::{self, Row};
use super::contacts::{CustomerRow, OrderFacts};

/// The extracted records the sync works from.
#[derive(Debug, Default)]
pub struct Warehouse {
    pub customers: Vec<CustomerRow>,
    pub subscribers: Vec<Value>,
    pub orders: Vec<Row>,
    pub products: Vec<Row>,
    pub categories: Vec<Row>,
    pub brands: HashMap<i64, String>,
    /// Carts, kept by `bcsync listen` from the cart webhooks (none without it).
    pub carts: Vec<Row>,
    /// The storefront's address (`secure_url` of the store), for product and category links.
    pub store_url: Option<String>,
}

impl Warehouse {
    /// Each order's part in the contact metrics.
    pub fn order_facts(&self) -> Vec<OrderFacts> {
        self.orders
            .iter()
            .filter(|o| o.deleted_at.is_none())
            .map(|o| OrderFacts {
                customer_id: o
                    .raw
                    .get("customer_id")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
                email: o
                    .raw
                    .pointer("/billing_address/email")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                status_id: o.raw.get("status_id").and_then(Value::as_i64).unwrap_or(0),
                total_inc_tax: commerce::number(o.raw.get("total_inc_tax")).unwrap_or(0.0),
                refunded: commerce::number(o.raw.get("refunded_amount")).unwrap_or(0.0),
                date_created: o
                    .raw
                    .get("date_created")
                    .and_then(Value::as_str)
                    .and_then(bigcommerce::dates::parse_any),
            })
            .collect()
    }
}

/// Reads the warehouse `spec` names (as `extract --to` takes it).
pub fn load(spec: &str, store_hash: Option<&str>) -> Result<Warehouse> {
    if crate::pg::url_from_spec(spec)?.is_none() {
        let path = spec.strip_prefix("sqlite:").unwrap_or(spec);
        if !std::path::Path::new(path).exists() {
            return Err(Error::Config(format!(
                "{path} does not exist: the Brevo sync reads the tables bcsync extracts, so run \
                 `bcsync extract --to sqlite:{path}` first (or name the extraction's database \
                 with --to)"
            )));
        }
    }
    let db = ModelDb::open(spec, store_hash)?;
    if !db.has_table("customers")? {
        return Err(Error::Config(format!(
            "{} has no customers table: run `bcsync extract --streams customers,subscribers,orders,products,categories,brands,store` into it first",
            db.describe()
        )));
    }
    let mut w = Warehouse::default();
    for (row, deleted) in rows(&db, "customers")? {
        w.customers.push(CustomerRow {
            raw: row,
            deleted: deleted.is_some(),
        });
    }
    w.subscribers = rows(&db, "subscribers")?
        .into_iter()
        .filter(|(_, d)| d.is_none())
        .map(|(r, _)| r)
        .collect();
    w.orders = rows(&db, "orders")?
        .into_iter()
        .map(|(raw, deleted_at)| Row { raw, deleted_at })
        .collect();
    w.products = rows(&db, "products")?
        .into_iter()
        .map(|(raw, deleted_at)| Row { raw, deleted_at })
        .collect();
    w.categories = rows(&db, "categories")?
        .into_iter()
        .map(|(raw, deleted_at)| Row { raw, deleted_at })
        .collect();
    w.brands = rows(&db, "brands")?
        .into_iter()
        .filter_map(|(r, _)| Some((r.get("id")?.as_i64()?, r.get("name")?.as_str()?.to_owned())))
        .collect();
    w.carts = rows(&db, "carts")?
        .into_iter()
        .map(|(raw, deleted_at)| Row { raw, deleted_at })
        .collect();
    w.store_url = rows(&db, "store")?.into_iter().find_map(|(r, _)| {
        r.get("secure_url")
            .or_else(|| r.get("domain"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    Ok(w)
}

/// Every record of `table` with its deletion time (RFC 3339), or nothing when the
/// extraction did not take that stream.
fn rows(db: &ModelDb, table: &str) -> Result<Vec<(Value, Option<String>)>> {
    if !db.has_table(table)? {
        return Ok(Vec::new());
    }
    let sql = match db.dialect() {
        Dialect::Sqlite => format!(
            "SELECT json_object('d', _deleted_at, 'r', json(_raw)) FROM \"{table}\" ORDER BY rowid"
        ),
        Dialect::Postgres => {
            format!("SELECT json_build_object('d', _deleted_at, 'r', _raw)::text FROM \"{table}\"")
        }
    };
    let mut out = Vec::new();
    db.each_text(&sql, &mut |text| {
        let v: Value = serde_json::from_str(text).map_err(|e| Error::Data {
            stream: table.to_owned(),
            detail: format!(
                "a stored record is not JSON ({e}); re-extract the stream with --full-refresh"
            ),
        })?;
        let deleted = v.get("d").and_then(|d| match d {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        });
        out.push((v.get("r").cloned().unwrap_or(Value::Null), deleted));
        Ok(())
    })?;
    Ok(out)
}
