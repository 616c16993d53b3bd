//! The category tree of a channel (docs/api-notes.md §4.1): find the channel's tree, then
//! read it nested in one request.

use bigcommerce::{ApiVersion, Client};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{check_id, pair, v3_data};
use crate::error::{Error, Result};

/// The channel every store has: the default storefront (docs/api-notes.md §10).
const DEFAULT_CHANNEL: u64 = 1;

/// Which channel's category tree to list.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ListCategories {
    /// The channel id (default 1, the store's default storefront).
    #[arg(long)]
    pub channel: Option<u64>,
}

/// A channel's category tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryTree {
    pub channel_id: u64,
    pub tree_id: u64,
    pub tree_name: String,
    /// Top-level categories, each with its `children` (nested to any depth).
    pub categories: Vec<Value>,
}

/// The category tree of a channel (`GET /v3/catalog/trees?channel_id:in=`, then
/// `GET /v3/catalog/trees/{id}/categories`).
pub async fn list_categories(client: &Client, args: &ListCategories) -> Result<CategoryTree> {
    let channel = check_id("channel", args.channel.unwrap_or(DEFAULT_CHANNEL))?;
    let trees = client
        .v3_page("/catalog/trees", &[pair("channel_id:in", channel)], 1, 250)
        .await?;
    let Some(tree) = trees.items.first() else {
        return Err(Error::NotFound {
            what: format!("a category tree for channel {channel}"),
            fix: "check the channel id (GET /v3/channels lists them); channel 1 is the \
                  default storefront"
                .to_owned(),
        });
    };
    let tree_id = tree["id"].as_u64().ok_or_else(|| Error::Data {
        stream: "categories".to_owned(),
        detail: format!("the tree of channel {channel} has no numeric id: {tree}"),
    })?;
    let resp = client
        .get(
            ApiVersion::V3,
            &format!("/catalog/trees/{tree_id}/categories"),
            &[],
        )
        .await?;
    let categories = match v3_data(resp.body) {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => {
            return Err(Error::Data {
                stream: "categories".to_owned(),
                detail: format!("the tree's categories are not a list: {other}"),
            });
        }
    };
    Ok(CategoryTree {
        channel_id: channel,
        tree_id,
        tree_name: tree["name"].as_str().unwrap_or_default().to_owned(),
        categories,
    })
}

/// The tree as rows in display order (each parent before its children): `id`,
/// `parent_id`, `depth` (1 for top level), `name`, `path` (names from the top, joined
/// with ` / `), `is_visible`, `url`.
pub fn flatten_categories(tree: &CategoryTree) -> Vec<Value> {
    fn walk(nodes: &[Value], depth: u64, parents: &[String], out: &mut Vec<Value>) {
        for n in nodes {
            let name = n["name"].as_str().unwrap_or_default().to_owned();
            let mut path = parents.to_vec();
            path.push(name.clone());
            out.push(json!({
                "id": n["id"],
                "parent_id": n["parent_id"],
                "depth": depth,
                "name": name,
                "path": path.join(" / "),
                "is_visible": n["is_visible"],
                "url": n["url"],
            }));
            if let Some(children) = n["children"].as_array() {
                walk(children, depth + 1, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&tree.categories, 1, &[], &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattening_keeps_parents_before_children() {
        let tree = CategoryTree {
            channel_id: 1,
            tree_id: 1,
            tree_name: "Main".into(),
            categories: vec![json!({
                "id": 1, "parent_id": 0, "name": "Shop", "is_visible": true, "url": "/shop/",
                "children": [{"id": 2, "parent_id": 1, "name": "Shirts", "children": []}]
            })],
        };
        let rows = flatten_categories(&tree);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["depth"], 1);
        assert_eq!(rows[1]["path"], "Shop / Shirts");
        assert_eq!(rows[1]["depth"], 2);
    }
}
