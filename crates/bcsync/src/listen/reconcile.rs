//! Deletion reconciliation: list only the ids the store has and mark the rows it no longer
//! has. List APIs never show deletions (docs/api-notes.md §12.10), and a deletion webhook
//! can be missed while a hook is down; this is the net under it.
//!
//! Customers and products are listed with `include_fields=id` (docs/api-notes.md §0.5), so a
//! page is ids only. V2 orders have no field selection: the list without `include=` is
//! the cheapest, and archived orders are not in it (which is what an archival is to us).
//!
//! The destination's live keys are read *before* the listing: a record created while the
//! listing runs is then in neither, never wrongly marked. Only a complete listing marks.

use std::collections::HashSet;

use bigcommerce::Client;
use futures::TryStreamExt;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::apply::stream;
use crate::destinations::DestinationWriter;
use crate::error::{Error, Result};

fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Runs one reconciliation of customers, products and orders; returns rows marked.
pub async fn run(
    client: &Client,
    writer: &DestinationWriter,
    stop: &CancellationToken,
) -> Result<u64> {
    let mut marked = 0u64;
    for name in super::POLLED_STREAMS {
        if stop.is_cancelled() {
            return Err(Error::Interrupted);
        }
        let s = stream(name)?;
        writer.barrier().await?;
        let live = writer.live_keys(s).await?;
        let mut listed: HashSet<String> = HashSet::new();
        let ids_only = vec![("include_fields".to_owned(), "id".to_owned())];
        let mut add = |items: Vec<Value>| {
            for r in items {
                if let Some(k) = r.get("id").and_then(key_text) {
                    listed.insert(k);
                }
            }
        };
        match *name {
            "customers" => {
                let mut pages = std::pin::pin!(client.v3_cursor_pages("/customers", ids_only, 250));
                while let Some(p) = pages.try_next().await? {
                    add(p.items);
                }
            }
            "products" => {
                let mut pages = std::pin::pin!(client.v3_pages("/catalog/products", ids_only, 250));
                while let Some(p) = pages.try_next().await? {
                    add(p.items);
                }
            }
            _ => {
                let mut pages = std::pin::pin!(client.v2_pages("/orders", Vec::new(), 250));
                while let Some(p) = pages.try_next().await? {
                    add(p.items);
                }
            }
        }
        let gone: Vec<Value> = live
            .into_iter()
            .filter(|k| key_text(k).is_some_and(|k| !listed.contains(&k)))
            .collect();
        marked += gone.len() as u64;
        writer.mark_deleted(s, gone).await?;
    }
    writer.barrier().await?;
    Ok(marked)
}
