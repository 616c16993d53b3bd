//! Singer tap mode: `bcsync --config tap.json --discover` prints the catalog;
//! `bcsync --config tap.json [--catalog catalog.json] [--state state.json]` writes SCHEMA,
//! RECORD and STATE messages to stdout. The config JSON holds `store_hash`,
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

/// Streams selected in a Singer catalog: a stream is extracted when it, or one of its
/// child tables, is marked `selected` (child rows come from their parent's pages).
fn selected_streams(catalog: &Value) -> Vec<String> {
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
        if !selected {
            continue;
        }
        let name = entry["tap_stream_id"]
            .as_str()
            .or(entry["stream"].as_str())
            .unwrap_or("");
        let parent = meta
            .and_then(|m| m["metadata"]["parent-tap-stream-id"].as_str())
            .unwrap_or(name);
        if !parent.is_empty() && !out.iter().any(|n| n == parent) {
            out.push(parent.to_owned());
        }
    }
    out
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
            let selected = selected_streams(&cat);
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
        ExtractOptions {
            cancel: Some(interrupt.token.clone()),
            ..ExtractOptions::default()
        },
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
    fn selection_maps_children_to_parents() {
        let cat = json!({"streams": [
            {"tap_stream_id": "order_lines", "metadata": [{"breadcrumb": [], "metadata": {"selected": true, "parent-tap-stream-id": "orders"}}]},
            {"tap_stream_id": "customers", "metadata": [{"breadcrumb": [], "metadata": {"selected": true}}]},
            {"tap_stream_id": "brands", "metadata": [{"breadcrumb": [], "metadata": {"selected": false}}]},
        ]});
        assert_eq!(
            selected_streams(&cat),
            vec!["orders".to_owned(), "customers".to_owned()]
        );
    }
}
