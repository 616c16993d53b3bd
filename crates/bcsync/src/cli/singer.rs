//! Singer tap mode: `bcsync --config tap.json --discover` prints the catalog;
//! `bcsync --config tap.json [--catalog catalog.json] [--state state.json]` writes SCHEMA,
//! RECORD and STATE messages to stdout, for exactly the streams and child tables the
//! catalog selects (all of them without a catalog). The config JSON holds `store_hash`,
//! `access_token` (or use BIGCOMMERCE_ACCESS_TOKEN) and optionally `base_url`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use bcsync::destinations::singer::read_state_file;
use bcsync::extract::{ExtractOptions, Progress, RequestCounter};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;

use bcsync::extract::run_to as run_extraction;

use super::Interrupt;
use super::extract::{catalog, finish_run};

#[derive(Debug, Deserialize)]
struct TapConfig {
    store_hash: Option<String>,
    access_token: Option<SecretString>,
    base_url: Option<String>,
}

/// Streams and child tables selected in a Singer catalog (`selected` on the entry, or in
/// its breadcrumb-[] metadata). Exactly these are emitted: selecting `customers` alone
/// emits no `customer_addresses`. A selected child table has its parent's pages read
/// (its rows come embedded in them) without emitting the parent's records.
fn selected_tables(catalog: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for entry in catalog["streams"].as_array().into_iter().flatten() {
        let meta = entry["metadata"].as_array().and_then(|m| {
            m.iter()
                .find(|m| m["breadcrumb"].as_array().is_some_and(Vec::is_empty))
        });
        let selected = entry["selected"]
            .as_bool()
            .or_else(|| meta.and_then(|m| m["metadata"]["selected"].as_bool()))
            .unwrap_or(false);
        let name = entry["tap_stream_id"]
            .as_str()
            .or(entry["stream"].as_str())
            .unwrap_or("");
        if selected && !name.is_empty() && !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
    }
    out
}

/// The `&'static` names of selected tables (the catalog's names checked against ours).
fn static_names(selected: &[String]) -> Vec<&'static str> {
    bcsync::streams::STREAMS
        .iter()
        .flat_map(|s| std::iter::once(s.name).chain(s.children.iter().map(|c| c.name)))
        .filter(|n| selected.iter().any(|x| x == n))
        .collect()
}

pub async fn run(
    config: Option<&Path>,
    discover: bool,
    catalog_path: Option<&Path>,
    state: Option<&Path>,
    interrupt: &Interrupt,
) -> anyhow::Result<ExitCode> {
    if discover {
        println!("{}", serde_json::to_string(&catalog())?);
        return Ok(ExitCode::SUCCESS);
    }
    let config =
        config.context("tap mode needs --config tap.json with store_hash and access_token")?;
    let text =
        std::fs::read_to_string(config).with_context(|| format!("reading {}", config.display()))?;
    let tap: TapConfig = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a tap config ({}); it is a JSON object with store_hash, access_token and optionally base_url",
            config.display(),
            bcsync::error::plain_serde_message(&e.to_string())
        )
    })?;
    let file = bcsync::config::FileConfig {
        store_hash: tap.store_hash,
        access_token: tap.access_token,
        base_url: tap.base_url,
        ..Default::default()
    };
    let conn = file.connection(None, None)?;
    let streams = match catalog_path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading catalog {}", p.display()))?;
            let cat: Value = serde_json::from_str(&text)
                .with_context(|| format!("catalog {} is not JSON", p.display()))?;
            let selected = selected_tables(&cat);
            if selected.is_empty() {
                anyhow::bail!(
                    "catalog {} selects no stream; mark streams with \"selected\": true in their metadata",
                    p.display()
                );
            }
            selected
        }
        None => Vec::new(),
    };
    let options = ExtractOptions {
        tables: catalog_path.map(|_| static_names(&streams)),
        cancel: Some(interrupt.token.clone()),
        ..ExtractOptions::default()
    };
    let singer_state = state.map(read_state_file).transpose()?;
    let counter = Arc::new(RequestCounter::default());
    let client = conn.client()?.with_observer(counter.clone());
    let summary = run_extraction(
        client,
        counter,
        &streams,
        "singer",
        false,
        singer_state,
        options,
        Progress::hidden(),
    )
    .await?;
    Ok(finish_run(&summary, "singer:stdout", true, interrupt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selection_is_exact() {
        let cat = json!({"streams": [
            {"tap_stream_id": "order_lines", "metadata": [{"breadcrumb": [], "metadata": {"selected": true, "parent-tap-stream-id": "orders"}}]},
            {"tap_stream_id": "customers", "metadata": [{"breadcrumb": [], "metadata": {"selected": true}}]},
            {"tap_stream_id": "brands", "metadata": [{"breadcrumb": [], "metadata": {"selected": false}}]},
        ]});
        assert_eq!(
            selected_tables(&cat),
            vec!["order_lines".to_owned(), "customers".to_owned()]
        );
        assert_eq!(
            static_names(&selected_tables(&cat)),
            vec!["customers", "order_lines"]
        );
    }
}
