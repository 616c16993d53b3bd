//! Sub-resources written after their record: customer attribute values (they cannot go
//! through `PUT /customers`, FACTS 2.3) and product custom fields on update (created
//! inline with the product; on update they have their own endpoint, FACTS 3.1).
//!
//! - Attribute values: attribute names are resolved with one `GET /customers/attributes`
//!   (a store has at most 50), then upserted with `PUT /customers/attribute-values` in
//!   batches of 10 customers ([`bigcommerce::batch::write_groups`]: one bad value rejects
//!   its customer alone).
//! - Custom fields: the products' current fields come from `GET /catalog/products?id:in=`
//!   with `include=custom_fields` (50 ids per request); then one `PUT` per changed field
//!   and one `POST` per new one, as the API has no batch for them.
//!
//! A row whose sub-resources fail is recorded as rejected (its id kept), so the next run
//! sends it again.

use std::collections::HashMap;

use bigcommerce::batch::{self, ItemOutcome};
use bigcommerce::{ApiRequest, ApiVersion, limits};
use futures::StreamExt;
use serde_json::{Map, Value, json};

use super::config::Object;
use super::engine::{Pending, Run, applied, rejected_track};
use super::mapping::Rejection;
use crate::error::Result;
use crate::state::push::Tracked;

/// Ids per `GET /catalog/products?id:in=` when reading custom fields.
const READ_BATCH: usize = 50;

/// Writes the sub-resources of rows just written, then records them.
pub(super) async fn send(run: &mut Run<'_>, rows: Vec<(Pending, i64)>) -> Result<()> {
    match run.def.object {
        Object::Customers => attribute_values(run, rows).await,
        Object::Products => custom_fields(run, rows).await,
        Object::Orders => Ok(()),
    }
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

async fn attribute_values(run: &mut Run<'_>, rows: Vec<(Pending, i64)>) -> Result<()> {
    let page = run
        .client
        .v3_page("/customers/attributes", &[], 1, limits::MAX_PAGE_SIZE)
        .await?;
    let ids: HashMap<String, i64> = page
        .items
        .iter()
        .filter_map(|a| Some((a.get("name")?.as_str()?.to_owned(), a.get("id")?.as_i64()?)))
        .collect();
    let mut records = Vec::new();
    let mut sendable = Vec::new();
    let mut groups = Vec::new();
    for (p, id) in rows {
        let attrs = named(&p, "attributes");
        let missing: Vec<&String> = attrs.keys().filter(|n| !ids.contains_key(*n)).collect();
        if !missing.is_empty() {
            let reason = format!(
                "customer attribute {missing:?} does not exist in the store; create it first (control panel, or POST /v3/customers/attributes)"
            );
            fail(run, &p, id, reason, &mut records);
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
        sendable.push((p, id));
    }
    let client = run.client.clone();
    let report = batch::write_groups(
        groups,
        limits::CUSTOMER_ATTRIBUTE_VALUES_BATCH,
        run.concurrency,
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
    for ((p, id), o) in sendable.into_iter().zip(report.outcomes) {
        match o {
            ItemOutcome::Applied(_) => records.push(applied(&p, Some(id))),
            ItemOutcome::Rejected { status, message } => fail(
                run,
                &p,
                id,
                format!("attribute values: HTTP {status}: {message}"),
                &mut records,
            ),
            ItemOutcome::Failed { message, .. } => fail(
                run,
                &p,
                id,
                format!("attribute values not written: {message}; retried next run"),
                &mut records,
            ),
        }
    }
    let name = run.def.name.clone();
    run.store.put(&name, &records)
}

async fn custom_fields(run: &mut Run<'_>, rows: Vec<(Pending, i64)>) -> Result<()> {
    // Current fields of every product concerned, 50 products per read.
    let ids: Vec<i64> = rows.iter().map(|(_, id)| *id).collect();
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
    for (i, (p, id)) in rows.iter().enumerate() {
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
            .buffer_unordered(run.concurrency)
            .collect()
            .await;
    let mut errors: HashMap<usize, String> = HashMap::new();
    for (i, r) in results {
        if let Err(e) = r {
            errors.entry(i).or_insert_with(|| e.to_string());
        }
    }
    let mut records = Vec::new();
    for (i, (p, id)) in rows.into_iter().enumerate() {
        match errors.remove(&i) {
            None => records.push(applied(&p, Some(id))),
            Some(e) => fail(run, &p, id, format!("custom fields: {e}"), &mut records),
        }
    }
    let name = run.def.name.clone();
    run.store.put(&name, &records)
}
