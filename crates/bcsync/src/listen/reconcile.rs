//! Deletion reconciliation: list only the ids the store has and mark the rows it no longer
//! has. List APIs never show deletions (docs/api-notes.md §12.10), and a deletion webhook
//! can be missed while a hook is down; this is the net under it.
//!
//! Customers and products are listed with `include_fields=id` (docs/api-notes.md §0.5), so a
//! page is ids only. V2 orders have no field selection: the list without `include=` is
//! the cheapest, and archived orders are not in it (which is what an archival is to us).
//!
//! The destination's live keys are read *before* the listing: a record created while the
//! listing runs is then in neither, never wrongly marked. A listing is offset-paged, so a
//! deletion while it runs shifts later records onto pages already read and one live
//! record can go unseen: an id missing from the listing is only a candidate. Candidates
//! go through the apply loop's reads (`id:in`, order ranges and reads by id), which mark
//! only what a direct read confirms gone, and refresh what it finds.

use std::collections::HashSet;

use futures::TryStreamExt;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::apply::{Applier, Plan, Plans, stream};
use super::delivery::Resource;
use crate::error::{Error, Result};

fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// The next page of a listing, once polling may spend the request (at most half of each
/// quota window goes to background reads, docs/api-notes.md §0.7).
async fn next_page<S>(
    pages: &mut std::pin::Pin<&mut S>,
    client: &bigcommerce::Client,
    stop: &CancellationToken,
) -> Result<Option<bigcommerce::Page<Value>>>
where
    S: futures::Stream<Item = bigcommerce::Result<bigcommerce::Page<Value>>>,
{
    super::wait_for_budget(client, stop).await?;
    Ok(pages.try_next().await?)
}

/// Runs one reconciliation of customers, products and orders; returns the candidates
/// (rows missing from the listings) that were read again by id.
pub async fn run(applier: &Applier, stop: &CancellationToken) -> Result<u64> {
    let (client, writer) = (&applier.client, &applier.writer);
    let mut candidates = Plans::new();
    let now = chrono::Utc::now().timestamp();
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
                while let Some(p) = next_page(&mut pages, client, stop).await? {
                    add(p.items);
                }
            }
            "products" => {
                let mut pages = std::pin::pin!(client.v3_pages("/catalog/products", ids_only, 250));
                while let Some(p) = next_page(&mut pages, client, stop).await? {
                    add(p.items);
                }
            }
            _ => {
                let mut pages = std::pin::pin!(client.v2_pages("/orders", Vec::new(), 250));
                while let Some(p) = next_page(&mut pages, client, stop).await? {
                    add(p.items);
                }
            }
        }
        let resource = match *name {
            "customers" => Resource::Customer,
            "products" => Resource::Product,
            _ => Resource::Order,
        };
        candidates.extend(
            live.iter()
                .filter_map(key_text)
                .filter(|k| !listed.contains(k))
                .map(|k| ((resource, k), Plan::changed(now))),
        );
    }
    let n = candidates.len() as u64;
    if n > 0 {
        applier.apply_plans(&candidates).await?;
    }
    writer.barrier().await?;
    Ok(n)
}
