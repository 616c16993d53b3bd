//! Sub-resources written after their record: customer attribute values (they cannot go
//! through `PUT /customers`, docs/api-notes.md §2.3), customer addresses and product variants on
//! update (created inline with their record; on update they have their own batch endpoints), and
//! product custom fields on update (docs/api-notes.md §3.1).
//!
//! Only what changed since the last applied run is sent ([`Pending::nested_changed`],
//! [`Pending::named_changed`]); a row whose last run did not apply in full sends all.
//!
//! - Attribute values: attribute names are resolved with one `GET /customers/attributes`
//!   (a store has at most 50), then upserted with `PUT /customers/attribute-values` in
//!   batches of 10 customers ([`bigcommerce::batch::write_groups`]: one bad value rejects
//!   its customer alone).
//! - Addresses (`addresses.N.*`): the customers' address books come from
//!   `GET /customers/addresses?customer_id:in=` (50 customers per request, paged); the
//!   mapped address N is the customer's N-th address by id. Existing ones are updated with
//!   `PUT /customers/addresses`, missing ones created with `POST /customers/addresses`,
//!   both through [`bigcommerce::batch`] (a 422 rejects the row of the bad address alone).
//! - Variants (`variants.N.*`): the products' variants come from
//!   `GET /catalog/variants?product_id:in=` (50 products per request, paged), matched by
//!   SKU, and updated with `PUT /catalog/variants` in batches of 50 (docs/api-notes.md §3.4). A
//!   mapped variant whose SKU the product does not have is rejected: variants are created with
//!   their product.
//! - Custom fields: the products' current fields come from `GET /catalog/products?id:in=`
//!   with `include=custom_fields` (50 ids per request); then one `PUT` per changed field
//!   and one `POST` per new one, as the API has no batch for them.
//!
//! A row whose sub-resources fail is recorded as rejected (its id kept), so the next run
//! sends it again.

use std::collections::HashMap;

use bigcommerce::batch::{self, BatchEndpoint, ItemOutcome, Method};
use bigcommerce::{ApiRequest, ApiVersion, Client, limits};
use futures::StreamExt;
use serde_json::{Map, Value, json};

use super::config::Object;
use super::engine::{Pending, Run, applied, rejected_track};
use super::mapping::Rejection;
use crate::error::Result;
use crate::state::push::Tracked;

/// Ids per `...?id:in=` / `customer_id:in=` / `product_id:in=` read.
const READ_BATCH: usize = 50;

/// Why rows (by index into the follow-up list) could not be finished.
type Errors = HashMap<usize, String>;

/// Writes the sub-resources of rows just written, then records them.
pub(super) async fn send(run: &mut Run<'_>, rows: Vec<(Pending, i64)>) -> Result<()> {
    let mut errors = Errors::new();
    match run.def.object {
        Object::Customers => {
            addresses(run, &rows, &mut errors).await?;
            attribute_values(run, &rows, &mut errors).await?;
        }
        Object::Products => {
            variants(run, &rows, &mut errors).await?;
            custom_fields(run, &rows, &mut errors).await?;
        }
        Object::Orders => {}
    }
    let mut records = Vec::new();
    for (i, (p, id)) in rows.into_iter().enumerate() {
        match errors.remove(&i) {
            None => records.push(applied(&p, Some(id))),
            Some(reason) => fail(run, &p, id, reason, &mut records),
        }
    }
    run.put(&records)
}

fn named(p: &Pending, key: &str) -> Map<String, Value> {
    p.payload
        .get(key)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn fail(run: &mut Run<'_>, p: &Pending, id: i64, reason: String, records: &mut Vec<Tracked>) {
    run.reject(Rejection {
        row: p.row,
        key: Some(p.key.clone()),
        field: None,
        reason,
    });
    records.push(Tracked {
        bc_id: Some(id),
        ..rejected_track(p)
    });
}

/// Records the first failure of each row among the report's outcomes (aligned with
/// `owners`); a report halted by a 401/403 stops the run with that error.
fn note(
    errors: &mut Errors,
    owners: &[usize],
    report: batch::BatchReport,
    what: &str,
) -> Result<()> {
    for (&i, o) in owners.iter().zip(report.outcomes) {
        let reason = match o {
            ItemOutcome::Applied(_) => continue,
            ItemOutcome::Rejected { status, message } => {
                format!("{what}: HTTP {status}: {message}")
            }
            ItemOutcome::Failed { message, .. } => {
                format!("{what} not written: {message}; retried next run")
            }
            ItemOutcome::NotSent => format!("{what} not written; retried next run"),
        };
        errors.entry(i).or_insert(reason);
    }
    match report.halt {
        Some(err) => Err(err.into()),
        None => Ok(()),
    }
}

/// Rows (by index) still to finish whose nested array `key` has changed positions.
fn nested_work(rows: &[(Pending, i64)], errors: &Errors, key: &str) -> Vec<(usize, Vec<usize>)> {
    rows.iter()
        .enumerate()
        .filter(|(i, (p, _))| !p.created && !errors.contains_key(i))
        .map(|(i, (p, _))| (i, p.nested_changed(key)))
        .filter(|(_, positions)| !positions.is_empty())
        .collect()
}

/// Every record of `path` whose `filter` is one of `ids`, [`READ_BATCH`] ids per request,
/// all pages. Takes the client, not the run: a `&Run` held across an await would need a
/// `Sync` state store, and syncs run side by side on tasks of their own.
async fn read_by_ids(client: &Client, path: &str, filter: &str, ids: &[i64]) -> Result<Vec<Value>> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::new();
    for chunk in ids.chunks(READ_BATCH) {
        let list = chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let pages = client.v3_pages(path, vec![(filter.to_owned(), list)], limits::MAX_PAGE_SIZE);
        let mut pages = std::pin::pin!(pages);
        while let Some(page) = pages.next().await {
            out.extend(page?.items);
        }
    }
    Ok(out)
}

async fn addresses(run: &mut Run<'_>, rows: &[(Pending, i64)], errors: &mut Errors) -> Result<()> {
    let work = nested_work(rows, errors, "addresses");
    if work.is_empty() {
        return Ok(());
    }
    // The address books of the customers concerned, each ordered by id.
    let customer_ids: Vec<i64> = work.iter().map(|(i, _)| rows[*i].1).collect();
    let mut books: HashMap<i64, Vec<i64>> = HashMap::new();
    let path = "/customers/addresses";
    for a in read_by_ids(&run.client, path, "customer_id:in", &customer_ids).await? {
        if let (Some(cid), Some(id)) = (
            a.get("customer_id").and_then(Value::as_i64),
            a.get("id").and_then(Value::as_i64),
        ) {
            books.entry(cid).or_default().push(id);
        }
    }
    books.values_mut().for_each(|ids| ids.sort_unstable());

    let (mut puts, mut put_owners, mut posts, mut post_owners) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, positions) in work {
        let (p, cid) = &rows[i];
        let Some(Value::Array(items)) = p.payload.get("addresses") else {
            continue;
        };
        let book = books.get(cid).map(Vec::as_slice).unwrap_or_default();
        for pos in positions {
            let Some(Value::Object(fields)) = items.get(pos) else {
                continue;
            };
            let mut item = Map::new();
            match book.get(pos) {
                Some(aid) => {
                    item.insert("id".into(), Value::from(*aid));
                    item.extend(
                        fields
                            .clone()
                            .into_iter()
                            .filter(|(k, _)| k != "id" && k != "customer_id"),
                    );
                    puts.push(Value::Object(item));
                    put_owners.push(i);
                }
                None => {
                    item.insert("customer_id".into(), Value::from(*cid));
                    item.extend(
                        fields
                            .clone()
                            .into_iter()
                            .filter(|(k, _)| k != "id" && k != "customer_id"),
                    );
                    posts.push(Value::Object(item));
                    post_owners.push(i);
                }
            }
        }
    }
    if !puts.is_empty() {
        let ep = BatchEndpoint::array(
            Method::PUT,
            ApiVersion::V3,
            "/customers/addresses",
            limits::CUSTOMER_ADDRESSES_BATCH,
        );
        let concurrency = run
            .concurrency()
            .min(limits::CUSTOMER_ADDRESSES_PUT_CONCURRENCY);
        let report = batch::write(&run.client, &ep, puts, concurrency).await;
        note(errors, &put_owners, report, "address update")?;
    }
    if !posts.is_empty() {
        let ep = BatchEndpoint::array(
            Method::POST,
            ApiVersion::V3,
            "/customers/addresses",
            limits::CUSTOMER_ADDRESSES_BATCH,
        );
        let concurrency = run
            .concurrency()
            .min(limits::CUSTOMER_ADDRESSES_POST_CONCURRENCY);
        let report = batch::write(&run.client, &ep, posts, concurrency).await;
        note(errors, &post_owners, report, "address create")?;
    }
    Ok(())
}

async fn variants(run: &mut Run<'_>, rows: &[(Pending, i64)], errors: &mut Errors) -> Result<()> {
    let work = nested_work(rows, errors, "variants");
    if work.is_empty() {
        return Ok(());
    }
    // The variants of the products concerned, by (product, SKU); SKUs match
    // case-insensitively (docs/api-notes.md §3.3).
    let product_ids: Vec<i64> = work.iter().map(|(i, _)| rows[*i].1).collect();
    let mut by_sku: HashMap<(i64, String), i64> = HashMap::new();
    let path = "/catalog/variants";
    for v in read_by_ids(&run.client, path, "product_id:in", &product_ids).await? {
        if let (Some(pid), Some(id), Some(sku)) = (
            v.get("product_id").and_then(Value::as_i64),
            v.get("id").and_then(Value::as_i64),
            v.get("sku").and_then(Value::as_str),
        ) {
            by_sku.insert((pid, sku.to_lowercase()), id);
        }
    }
    let (mut items, mut owners) = (Vec::new(), Vec::new());
    for (i, positions) in work {
        let (p, pid) = &rows[i];
        let Some(Value::Array(list)) = p.payload.get("variants") else {
            continue;
        };
        for pos in positions {
            let Some(Value::Object(fields)) = list.get(pos) else {
                continue;
            };
            let Some(sku) = fields
                .get("sku")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            else {
                errors.entry(i).or_insert(format!(
                    "variants.{pos}: variants are matched by SKU on update; map variants.{pos}.sku"
                ));
                continue;
            };
            let Some(vid) = by_sku.get(&(*pid, sku.to_lowercase())) else {
                errors.entry(i).or_insert(format!(
                    "variants.{pos}.sku: product {pid} has no variant with SKU {sku:?}; bcsync creates variants only with their product (create it in the store, or map an existing SKU)"
                ));
                continue;
            };
            let mut item = Map::new();
            item.insert("id".into(), Value::from(*vid));
            // Option values identify the variant; they are not an update.
            item.extend(
                fields
                    .clone()
                    .into_iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "id" | "product_id" | "option_values")),
            );
            items.push(Value::Object(item));
            owners.push(i);
        }
    }
    if !items.is_empty() {
        let ep = BatchEndpoint::array(
            Method::PUT,
            ApiVersion::V3,
            "/catalog/variants",
            limits::VARIANTS_PUT_BATCH,
        );
        let report = batch::write(&run.client, &ep, items, run.concurrency()).await;
        note(errors, &owners, report, "variant update")?;
    }
    Ok(())
}

async fn attribute_values(
    run: &mut Run<'_>,
    rows: &[(Pending, i64)],
    errors: &mut Errors,
) -> Result<()> {
    let wanted: Vec<usize> = (0..rows.len())
        .filter(|i| {
            let p = &rows[*i].0;
            !errors.contains_key(i)
                && !named(p, "attributes").is_empty()
                && p.named_changed("attributes")
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let page = run
        .client
        .v3_page("/customers/attributes", &[], 1, limits::MAX_PAGE_SIZE)
        .await?;
    let ids: HashMap<String, i64> = page
        .items
        .iter()
        .filter_map(|a| Some((a.get("name")?.as_str()?.to_owned(), a.get("id")?.as_i64()?)))
        .collect();
    let mut owners = Vec::new();
    let mut groups = Vec::new();
    for i in wanted {
        let (p, id) = &rows[i];
        let attrs = named(p, "attributes");
        let missing: Vec<&String> = attrs.keys().filter(|n| !ids.contains_key(*n)).collect();
        if !missing.is_empty() {
            errors.insert(
                i,
                format!(
                    "customer attribute {missing:?} does not exist in the store; create it first (control panel, or POST /v3/customers/attributes)"
                ),
            );
            continue;
        }
        let items: Vec<Value> = attrs
            .iter()
            .filter_map(|(name, v)| {
                ids.get(name)
                    .map(|aid| json!({"attribute_id": aid, "customer_id": id, "value": text(v)}))
            })
            .collect();
        groups.push(items);
        owners.push(i);
    }
    let client = run.client.clone();
    let report = batch::write_groups(
        groups,
        limits::CUSTOMER_ATTRIBUTE_VALUES_BATCH,
        run.concurrency(),
        |flat| {
            let client = client.clone();
            async move {
                let resp = client
                    .send(ApiRequest::put(
                        ApiVersion::V3,
                        "/customers/attribute-values",
                        Value::Array(flat),
                    ))
                    .await?;
                Ok(
                    match resp
                        .body
                        .and_then(|mut b| b.get_mut("data").map(Value::take))
                    {
                        Some(Value::Array(records)) => records,
                        _ => Vec::new(),
                    },
                )
            }
        },
    )
    .await;
    note(errors, &owners, report, "attribute values")?;
    Ok(())
}

async fn custom_fields(
    run: &mut Run<'_>,
    rows: &[(Pending, i64)],
    errors: &mut Errors,
) -> Result<()> {
    let wanted: Vec<usize> = (0..rows.len())
        .filter(|i| {
            let p = &rows[*i].0;
            !p.created
                && !errors.contains_key(i)
                && !named(p, "custom_fields").is_empty()
                && p.named_changed("custom_fields")
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    // Current fields of every product concerned, 50 products per read.
    let ids: Vec<i64> = wanted.iter().map(|i| rows[*i].1).collect();
    let mut current: HashMap<i64, Vec<Value>> = HashMap::new();
    for chunk in ids.chunks(READ_BATCH) {
        let list = chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let q = vec![
            ("id:in".to_owned(), list),
            ("include".to_owned(), "custom_fields".to_owned()),
            ("include_fields".to_owned(), "id".to_owned()),
        ];
        let page = run
            .client
            .v3_page("/catalog/products", &q, 1, limits::MAX_PAGE_SIZE)
            .await?;
        for p in page.items {
            if let Some(id) = p.get("id").and_then(Value::as_i64) {
                let fields = p
                    .get("custom_fields")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                current.insert(id, fields);
            }
        }
    }
    // One request per changed or new field (the API has no batch for them).
    let mut jobs: Vec<(usize, ApiRequest)> = Vec::new();
    for i in wanted {
        let (p, id) = &rows[i];
        let have = current.get(id).cloned().unwrap_or_default();
        for (name, v) in named(p, "custom_fields") {
            let value = text(&v);
            let existing = have
                .iter()
                .find(|f| f.get("name").and_then(Value::as_str) == Some(name.as_str()));
            let body = json!({"name": name, "value": value});
            match existing {
                Some(f) if f.get("value").and_then(Value::as_str) == Some(value.as_str()) => {}
                Some(f) => {
                    let fid = f.get("id").and_then(Value::as_i64).unwrap_or_default();
                    jobs.push((
                        i,
                        ApiRequest::put(
                            ApiVersion::V3,
                            format!("/catalog/products/{id}/custom-fields/{fid}"),
                            body,
                        ),
                    ));
                }
                None => jobs.push((
                    i,
                    ApiRequest::post(
                        ApiVersion::V3,
                        format!("/catalog/products/{id}/custom-fields"),
                        body,
                    ),
                )),
            }
        }
    }
    let client = run.client.clone();
    let results: Vec<(usize, std::result::Result<(), bigcommerce::Error>)> =
        futures::stream::iter(jobs)
            .map(|(i, req)| {
                let client = client.clone();
                async move { (i, client.send(req).await.map(|_| ())) }
            })
            .buffer_unordered(run.concurrency())
            .collect()
            .await;
    for (i, r) in results {
        if let Err(e) = r {
            errors
                .entry(i)
                .or_insert_with(|| format!("custom fields: {e}"));
        }
    }
    Ok(())
}
