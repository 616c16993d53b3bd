//! What the Brevo sync reads: the tables `bcsync extract` keeps (SQLite file or the
//! store's PostgreSQL schema), each record as the API sent it (`_raw`) with bcsync's
//! deletion mark. The sync never asks the store's API for data the extraction holds, so
//! running it costs no BigCommerce quota.
//!
//! `bcsync listen` keeps one warehouse in memory and reads only what changed since its last
//! forward ([`load_changed`], by the `_extracted_at` and `_deleted_at` stamps the
//! destination writes), merged in with [`Warehouse::merge`], which says which contacts,
//! products and orders the change touches ([`Scope`]).

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

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

/// What changed records touch: the contacts (by e-mail), products and orders whose Brevo
/// objects may differ from what was sent. Everything outside it is as it was.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    pub emails: BTreeSet<String>,
    pub products: HashSet<i64>,
    pub orders: HashSet<i64>,
}

/// Records written or marked deleted since a time (see [`load_changed`]).
#[derive(Debug, Default)]
pub struct Changes {
    pub customers: Vec<CustomerRow>,
    /// Subscribers with their deletion mark.
    pub subscribers: Vec<(Value, bool)>,
    pub orders: Vec<Row>,
    pub products: Vec<Row>,
    pub carts: Vec<Row>,
}

/// Position of each record by its `id`, per table, for merging changes in place.
#[derive(Debug, Default)]
pub struct RowIndex {
    customers: HashMap<String, usize>,
    subscribers: HashMap<String, usize>,
    orders: HashMap<String, usize>,
    products: HashMap<String, usize>,
    carts: HashMap<String, usize>,
}

fn id_of(raw: &Value) -> Option<String> {
    match raw.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn index<'a>(raws: impl Iterator<Item = &'a Value>) -> HashMap<String, usize> {
    raws.enumerate()
        .filter_map(|(i, r)| Some((id_of(r)?, i)))
        .collect()
}

/// Replaces the record with the same id, or appends it; returns the one it replaced.
fn upsert<T>(
    rows: &mut Vec<T>,
    positions: &mut HashMap<String, usize>,
    id: Option<String>,
    row: T,
) -> Option<T> {
    match id {
        Some(id) => match positions.get(&id) {
            Some(&i) => Some(std::mem::replace(&mut rows[i], row)),
            None => {
                positions.insert(id, rows.len());
                rows.push(row);
                None
            }
        },
        None => {
            rows.push(row);
            None
        }
    }
}

/// Whether `rows` already holds this very record (read again by the overlap of two reads,
/// or rewritten unchanged by an extraction): then nothing it feeds can have changed.
fn unchanged<T>(
    rows: &[T],
    positions: &HashMap<String, usize>,
    id: Option<&String>,
    same: impl Fn(&T) -> bool,
) -> bool {
    id.and_then(|id| positions.get(id))
        .is_some_and(|&i| rows.get(i).is_some_and(same))
}

fn email_of(raw: &Value, pointer: &str) -> Option<String> {
    raw.pointer(pointer)
        .and_then(Value::as_str)
        .map(super::contacts::normalise_email)
}

impl Warehouse {
    /// The index [`Warehouse::merge`] needs.
    pub fn index(&self) -> RowIndex {
        RowIndex {
            customers: index(self.customers.iter().map(|c| &c.raw)),
            subscribers: index(self.subscribers.iter()),
            orders: index(self.orders.iter().map(|o| &o.raw)),
            products: index(self.products.iter().map(|p| &p.raw)),
            carts: index(self.carts.iter().map(|c| &c.raw)),
        }
    }

    /// Merges changed records in (a deleted subscriber leaves; other deletions stay as
    /// marked rows, as [`load`] reads them) and returns what they touch: a customer's
    /// contact under its old and new address, a subscriber's, an order's customer and
    /// billing address (its contact's metrics), the order and the product themselves.
    pub fn merge(&mut self, index: &mut RowIndex, changes: Changes) -> Scope {
        let mut scope = Scope::default();
        for c in changes.customers {
            let id = id_of(&c.raw);
            if unchanged(&self.customers, &index.customers, id.as_ref(), |o| {
                o.raw == c.raw && o.deleted == c.deleted
            }) {
                continue;
            }
            scope.emails.extend(email_of(&c.raw, "/email"));
            if let Some(old) = upsert(&mut self.customers, &mut index.customers, id, c) {
                scope.emails.extend(email_of(&old.raw, "/email"));
            }
        }
        for (s, deleted) in changes.subscribers {
            let id = id_of(&s);
            if !deleted
                && unchanged(&self.subscribers, &index.subscribers, id.as_ref(), |o| {
                    *o == s
                })
            {
                continue;
            }
            scope.emails.extend(email_of(&s, "/email"));
            if deleted {
                if let Some(i) = id.and_then(|id| index.subscribers.get(&id).copied()) {
                    scope
                        .emails
                        .extend(email_of(&self.subscribers[i], "/email"));
                    // Kept in place as an object no consent reads: positions stay valid.
                    self.subscribers[i] = Value::Null;
                }
                continue;
            }
            if let Some(old) = upsert(&mut self.subscribers, &mut index.subscribers, id, s) {
                scope.emails.extend(email_of(&old, "/email"));
            }
        }
        let customer_email = |w: &Warehouse, index: &RowIndex, raw: &Value| {
            let id = raw.get("customer_id")?.as_i64().filter(|id| *id != 0)?;
            let i = *index.customers.get(&id.to_string())?;
            email_of(&w.customers[i].raw, "/email")
        };
        let same_row = |a: &Row, b: &Row| a.raw == b.raw && a.deleted_at == b.deleted_at;
        for o in changes.orders {
            if unchanged(&self.orders, &index.orders, id_of(&o.raw).as_ref(), |x| {
                same_row(x, &o)
            }) {
                continue;
            }
            if let Some(id) = o.raw.get("id").and_then(Value::as_i64) {
                scope.orders.insert(id);
            }
            scope
                .emails
                .extend(email_of(&o.raw, "/billing_address/email"));
            scope.emails.extend(customer_email(self, index, &o.raw));
            let id = id_of(&o.raw);
            if let Some(old) = upsert(&mut self.orders, &mut index.orders, id, o) {
                scope
                    .emails
                    .extend(email_of(&old.raw, "/billing_address/email"));
                scope.emails.extend(customer_email(self, index, &old.raw));
            }
        }
        for p in changes.products {
            if unchanged(
                &self.products,
                &index.products,
                id_of(&p.raw).as_ref(),
                |x| same_row(x, &p),
            ) {
                continue;
            }
            if let Some(id) = p.raw.get("id").and_then(Value::as_i64) {
                scope.products.insert(id);
            }
            let id = id_of(&p.raw);
            upsert(&mut self.products, &mut index.products, id, p);
        }
        for c in changes.carts {
            let id = id_of(&c.raw);
            upsert(&mut self.carts, &mut index.carts, id, c);
        }
        scope
    }

    /// Each order's part in the contact metrics.
    pub fn order_facts(&self) -> Vec<OrderFacts> {
        self.order_facts_where(|_| true)
    }

    /// The metrics part of the orders `keep` selects.
    pub fn order_facts_where(&self, keep: impl Fn(&Row) -> bool) -> Vec<OrderFacts> {
        self.orders
            .iter()
            .filter(|o| o.deleted_at.is_none() && keep(o))
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
    let db = open(spec, store_hash)?;
    let mut w = Warehouse::default();
    for (row, deleted) in rows(&db, "customers", None)? {
        w.customers.push(CustomerRow {
            raw: row,
            deleted: deleted.is_some(),
        });
    }
    w.subscribers = rows(&db, "subscribers", None)?
        .into_iter()
        .filter(|(_, d)| d.is_none())
        .map(|(r, _)| r)
        .collect();
    w.orders = marked(rows(&db, "orders", None)?);
    w.products = marked(rows(&db, "products", None)?);
    w.categories = marked(rows(&db, "categories", None)?);
    w.brands = rows(&db, "brands", None)?
        .into_iter()
        .filter_map(|(r, _)| Some((r.get("id")?.as_i64()?, r.get("name")?.as_str()?.to_owned())))
        .collect();
    w.carts = marked(rows(&db, "carts", None)?);
    w.store_url = rows(&db, "store", None)?.into_iter().find_map(|(r, _)| {
        r.get("secure_url")
            .or_else(|| r.get("domain"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    Ok(w)
}

/// The customers, subscribers, orders, products and carts written or marked deleted at
/// `since` or later (what `listen` keeps current; categories, brands and the store's
/// settings are read by [`load`] only).
pub fn load_changed(spec: &str, store_hash: Option<&str>, since: DateTime<Utc>) -> Result<Changes> {
    let db = open(spec, store_hash)?;
    let since = Some(since);
    Ok(Changes {
        customers: rows(&db, "customers", since)?
            .into_iter()
            .map(|(raw, d)| CustomerRow {
                raw,
                deleted: d.is_some(),
            })
            .collect(),
        subscribers: rows(&db, "subscribers", since)?
            .into_iter()
            .map(|(raw, d)| (raw, d.is_some()))
            .collect(),
        orders: marked(rows(&db, "orders", since)?),
        products: marked(rows(&db, "products", since)?),
        carts: marked(rows(&db, "carts", since)?),
    })
}

fn marked(rows: Vec<(Value, Option<String>)>) -> Vec<Row> {
    rows.into_iter()
        .map(|(raw, deleted_at)| Row { raw, deleted_at })
        .collect()
}

fn open(spec: &str, store_hash: Option<&str>) -> Result<ModelDb> {
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
    Ok(db)
}

/// Every record of `table` (written or marked deleted at `since` or later, when given)
/// with its deletion time (RFC 3339), or nothing when the extraction did not take that
/// stream.
fn rows(
    db: &ModelDb,
    table: &str,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<(Value, Option<String>)>> {
    if !db.has_table(table)? {
        return Ok(Vec::new());
    }
    // A time we format ourselves, so it can sit in the statement. SQLite holds the stamps
    // as RFC 3339 text in UTC, which sorts as time does.
    let dialect = db.dialect();
    let select = match dialect {
        Dialect::Sqlite => "SELECT json_object('d', _deleted_at, 'r', json(_raw))",
        Dialect::Postgres => "SELECT json_build_object('d', _deleted_at, 'r', _raw)::text",
    };
    let filter = since.map_or_else(String::new, |t| {
        let t = dialect.time_literal(&t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        format!(" WHERE _extracted_at >= {t} OR _deleted_at >= {t}")
    });
    let order = match dialect {
        Dialect::Sqlite => " ORDER BY rowid",
        Dialect::Postgres => "",
    };
    let sql = format!("{select} FROM \"{table}\"{filter}{order}");
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(raw: Value) -> Row {
        Row {
            raw,
            deleted_at: None,
        }
    }

    fn customer(id: i64, email: &str) -> CustomerRow {
        CustomerRow {
            raw: json!({"id": id, "email": email}),
            deleted: false,
        }
    }

    fn store() -> Warehouse {
        Warehouse {
            customers: vec![customer(1, "a@x.io"), customer(2, "b@x.io")],
            subscribers: vec![json!({"id": 7, "email": "s@x.io"})],
            orders: vec![
                row(json!({"id": 10, "customer_id": 1, "billing_address": {"email": "a@x.io"}})),
                row(json!({"id": 11, "customer_id": 0, "billing_address": {"email": "G@x.io"}})),
            ],
            products: vec![row(json!({"id": 5}))],
            carts: vec![row(json!({"id": "c-1"}))],
            ..Warehouse::default()
        }
    }

    fn emails(scope: &Scope) -> Vec<&str> {
        scope.emails.iter().map(String::as_str).collect()
    }

    #[test]
    fn a_changed_address_touches_the_old_and_the_new_contact() {
        let mut w = store();
        let mut index = w.index();
        let scope = w.merge(
            &mut index,
            Changes {
                customers: vec![customer(1, "A2@x.io")],
                ..Changes::default()
            },
        );
        assert_eq!(emails(&scope), ["a2@x.io", "a@x.io"]);
        assert_eq!(w.customers.len(), 2, "replaced in place");
        assert_eq!(w.customers[0].raw["email"], "A2@x.io");
        assert!(scope.orders.is_empty() && scope.products.is_empty());
    }

    #[test]
    fn an_order_touches_its_customer_or_its_guest_address_and_itself() {
        let mut w = store();
        let mut index = w.index();
        let scope = w.merge(
            &mut index,
            Changes {
                orders: vec![
                    row(json!({"id": 10, "customer_id": 2, "billing_address": {"email": "b@x.io"}})),
                    row(json!({"id": 11, "customer_id": 0, "status_id": 2, "billing_address": {"email": "G@x.io"}})),
                    row(json!({"id": 12, "customer_id": 1})),
                ],
                ..Changes::default()
            },
        );
        // Order 10 moved from customer 1 to 2: both contacts' metrics change.
        assert_eq!(emails(&scope), ["a@x.io", "b@x.io", "g@x.io"]);
        let mut orders: Vec<i64> = scope.orders.iter().copied().collect();
        orders.sort_unstable();
        assert_eq!(orders, [10, 11, 12]);
        assert_eq!(w.orders.len(), 3, "two replaced, one added");
        assert_eq!(w.orders[1].raw["status_id"], 2);
    }

    #[test]
    fn records_read_again_unchanged_touch_nothing() {
        let mut w = store();
        let mut index = w.index();
        let again = store();
        let scope = w.merge(
            &mut index,
            Changes {
                customers: again.customers,
                subscribers: again.subscribers.into_iter().map(|s| (s, false)).collect(),
                orders: again.orders,
                products: again.products,
                carts: again.carts,
            },
        );
        assert!(scope.emails.is_empty() && scope.orders.is_empty() && scope.products.is_empty());
        assert_eq!(w.customers.len(), 2);
        assert_eq!(w.orders.len(), 2);
    }

    #[test]
    fn deletions_products_and_carts_merge_by_id() {
        let mut w = store();
        let mut index = w.index();
        let scope = w.merge(
            &mut index,
            Changes {
                subscribers: vec![(json!({"id": 7, "email": "s@x.io"}), true)],
                products: vec![row(json!({"id": 5, "name": "new"})), row(json!({"id": 6}))],
                carts: vec![row(json!({"id": "c-1", "n": 2})), row(json!({"id": "c-2"}))],
                customers: vec![CustomerRow {
                    raw: json!({"id": 2, "email": "b@x.io"}),
                    deleted: true,
                }],
                ..Changes::default()
            },
        );
        assert_eq!(emails(&scope), ["b@x.io", "s@x.io"]);
        // A deleted subscriber gives no consent any more.
        assert!(super::super::contacts::newsletter_consents(&w.subscribers).is_empty());
        assert!(w.customers[1].deleted, "a deleted customer stays, marked");
        let mut products: Vec<i64> = scope.products.iter().copied().collect();
        products.sort_unstable();
        assert_eq!(products, [5, 6]);
        assert_eq!(w.products[0].raw["name"], "new");
        assert_eq!(w.carts.len(), 2);
        assert_eq!(w.carts[0].raw["n"], 2);
    }
}
