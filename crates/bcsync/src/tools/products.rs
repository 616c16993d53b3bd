//! Products (V3 catalog, docs/api-notes.md §3): list with filters, get one with its
//! variants, images and custom fields (by id, or by SKU including variant SKUs), create,
//! update and delete.

use bigcommerce::{ApiRequest, ApiVersion, Client};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    Listing, Paging, check_id, check_limit, collect, data_object, invalid, json_kind, non_blank,
    pair, update_fields, v3_data,
};
use crate::error::{Error, Result};

/// What `get` embeds in a product.
const PRODUCT_INCLUDES: &str = "variants,images,custom_fields";

/// The `availability` values (docs/api-notes.md §3.3).
const AVAILABILITY: [&str; 3] = ["available", "disabled", "preorder"];

/// Which products to list.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ListProducts {
    /// Only products in this category id.
    #[arg(long)]
    pub category: Option<u64>,
    /// Only products of this brand id.
    #[arg(long)]
    pub brand: Option<u64>,
    /// Only visible (true) or hidden (false) products.
    #[arg(long)]
    pub visible: Option<bool>,
    /// Only products with this availability: available, disabled or preorder.
    #[arg(long)]
    pub availability: Option<String>,
    /// Only the product with this SKU: a product SKU or a variant SKU (the API's own
    /// product filter matches product SKUs only, so variants are searched too).
    #[arg(long)]
    pub sku: Option<String>,
    /// Only products whose name contains this text.
    #[arg(long)]
    pub name: Option<String>,
    /// Most records to return (default 50); pages are fetched as needed.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Resume after the records already returned: the next_cursor of a previous result.
    #[arg(long)]
    pub cursor: Option<String>,
}

impl ListProducts {
    /// The V3 query for every filter but `sku` (docs/api-notes.md §3.2), or the first
    /// invalid filter.
    pub fn query(&self) -> Result<Vec<(String, String)>> {
        check_limit(self.limit)?;
        let mut q = Vec::new();
        if let Some(id) = self.category {
            q.push(pair("categories:in", check_id("category", id)?));
        }
        if let Some(id) = self.brand {
            q.push(pair("brand_id", check_id("brand", id)?));
        }
        if let Some(v) = self.visible {
            q.push(pair("is_visible", v));
        }
        if let Some(a) = &self.availability {
            let a = a.trim().to_ascii_lowercase();
            if !AVAILABILITY.contains(&a.as_str()) {
                return Err(invalid(
                    "availability",
                    format!(
                        "{a:?} is not an availability; use one of {}",
                        AVAILABILITY.join(", ")
                    ),
                ));
            }
            q.push(pair("availability", a));
        }
        if let Some(sku) = &self.sku {
            non_blank("sku", sku)?;
        }
        if let Some(name) = &self.name {
            q.push(pair("name:like", non_blank("name", name)?));
        }
        Ok(q)
    }
}

/// Lists products (`GET /v3/catalog/products`), up to `limit`. With `sku`, the products
/// owning that SKU (a product SKU or a variant SKU) are found first.
pub async fn list_products(client: &Client, args: &ListProducts) -> Result<Listing> {
    let mut query = args.query()?;
    let limit = check_limit(args.limit)?;
    if let Some(sku) = &args.sku {
        let found = find_by_sku(client, non_blank("sku", sku)?).await?;
        if found.is_empty() {
            return Ok(Listing {
                items: Vec::new(),
                next_cursor: None,
                total: Some(0),
            });
        }
        let ids: Vec<String> = found.iter().map(|m| m.product_id.to_string()).collect();
        query.push(pair("id:in", ids.join(",")));
    }
    collect(
        client,
        Paging::V3,
        "/catalog/products",
        &query,
        Some(limit),
        args.cursor.as_deref(),
    )
    .await
}

/// A product found by SKU, and the variant when the SKU is a variant's.
#[derive(Debug, Clone, PartialEq)]
struct SkuMatch {
    product_id: u64,
    variant_id: Option<u64>,
}

/// Products whose own SKU is `sku` (`GET /catalog/products?sku=`), else the products of
/// the variants with that SKU (`GET /catalog/variants?sku=`): the product filter does not
/// search variant SKUs (docs/api-notes.md §3.2, §12.6).
async fn find_by_sku(client: &Client, sku: &str) -> Result<Vec<SkuMatch>> {
    let q = [pair("sku", sku), pair("include_fields", "id")];
    let products = client.v3_page("/catalog/products", &q, 1, 250).await?;
    let mut found: Vec<SkuMatch> = products
        .items
        .iter()
        .filter_map(|p| p["id"].as_u64())
        .map(|product_id| SkuMatch {
            product_id,
            variant_id: None,
        })
        .collect();
    if found.is_empty() {
        let q = [pair("sku", sku)];
        let variants = client.v3_page("/catalog/variants", &q, 1, 250).await?;
        found = variants
            .items
            .iter()
            .filter_map(|v| {
                Some(SkuMatch {
                    product_id: v["product_id"].as_u64()?,
                    variant_id: v["id"].as_u64(),
                })
            })
            .collect();
        found.dedup_by_key(|m| m.product_id);
    }
    Ok(found)
}

/// Which product to get: by `id`, or by `sku`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct GetProduct {
    /// The product id (or give sku instead).
    #[arg(
        value_name = "ID",
        required_unless_present = "sku",
        conflicts_with = "sku"
    )]
    pub id: Option<u64>,
    /// Find the product by SKU instead of id: a product SKU or a variant SKU.
    #[arg(long)]
    pub sku: Option<String>,
}

/// One product with `variants`, `images` and `custom_fields`. Found by a variant's SKU,
/// it also carries `matched_variant_id`.
pub async fn get_product(client: &Client, args: &GetProduct) -> Result<Value> {
    let (id, variant_id) = match (args.id, &args.sku) {
        (Some(id), None) => (check_id("id", id)?, None),
        (None, Some(sku)) => {
            let sku = non_blank("sku", sku)?;
            let found = find_by_sku(client, sku).await?;
            let Some(first) = found.first() else {
                return Err(Error::NotFound {
                    what: format!("a product or variant with SKU {sku:?}"),
                    fix: "check the SKU (they are matched exactly), or list products by name"
                        .to_owned(),
                });
            };
            (first.product_id, first.variant_id)
        }
        (Some(_), Some(_)) => {
            return Err(invalid("sku", "give either `id` or `sku`, not both"));
        }
        (None, None) => return Err(invalid("id", "give the product `id`, or `sku`")),
    };
    let q = [pair("include", PRODUCT_INCLUDES)];
    let resp = client
        .get(ApiVersion::V3, &format!("/catalog/products/{id}"), &q)
        .await?;
    let mut product = v3_data(resp.body);
    if let (Some(v), Value::Object(map)) = (variant_id, &mut product) {
        map.insert("matched_variant_id".to_owned(), json!(v));
    }
    Ok(product)
}

/// A product to create.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    /// The product as a JSON object: name, type (physical or digital), weight and price
    /// are required; variants, images and custom_fields may be given inline. On the
    /// command line: the JSON itself, or @FILE to read it from a file.
    #[arg(long, value_name = "JSON|@FILE", value_parser = parse_data_arg)]
    pub data: Value,
}

impl CreateProduct {
    /// Checks the fields the API requires on create (docs/api-notes.md §3.3).
    pub fn check(&self) -> Result<()> {
        let map = data_object(&self.data)?;
        match map.get("name") {
            Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 250 => {}
            Some(Value::String(_)) => {
                return Err(invalid("data", "name must be 1 to 250 characters"));
            }
            Some(other) => {
                return Err(invalid(
                    "data",
                    format!("name must be a string; got {}", json_kind(other)),
                ));
            }
            None => return Err(invalid("data", "name is required to create a product")),
        }
        match map.get("type").and_then(Value::as_str) {
            Some("physical" | "digital") => {}
            _ => {
                return Err(invalid(
                    "data",
                    "type is required: \"physical\" or \"digital\"",
                ));
            }
        }
        for field in ["weight", "price"] {
            match map.get(field) {
                Some(v) if v.as_f64().is_some_and(|n| n >= 0.0) => {}
                Some(v) => {
                    return Err(invalid(
                        "data",
                        format!("{field} must be a number of at least 0 (not quoted); got {v}"),
                    ));
                }
                None => {
                    return Err(invalid(
                        "data",
                        format!("{field} is required to create a product"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Creates a product (`POST /v3/catalog/products`, one per call); returns it as saved.
pub async fn create_product(client: &Client, args: &CreateProduct) -> Result<Value> {
    args.check()?;
    let resp = client
        .send(ApiRequest::post(
            ApiVersion::V3,
            "/catalog/products",
            args.data.clone(),
        ))
        .await?;
    Ok(v3_data(resp.body))
}

/// Changes to a product.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct UpdateProduct {
    /// The product id.
    #[arg(value_name = "ID")]
    pub id: u64,
    /// The fields to change as a JSON object, e.g. {"price": 12.5}. Sending categories
    /// replaces all of the product's categories. On the command line: the JSON itself,
    /// or @FILE.
    #[arg(long, value_name = "JSON|@FILE", value_parser = parse_data_arg)]
    pub data: Value,
}

/// Updates a product (`PUT /v3/catalog/products/{id}`); returns it as saved.
pub async fn update_product(client: &Client, args: &UpdateProduct) -> Result<Value> {
    let id = check_id("id", args.id)?;
    let body = update_fields(&args.data, id, "product")?;
    let resp = client
        .send(ApiRequest::put(
            ApiVersion::V3,
            format!("/catalog/products/{id}"),
            Value::Object(body),
        ))
        .await?;
    Ok(v3_data(resp.body))
}

/// Which product to delete.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct DeleteProduct {
    /// The product id.
    #[arg(value_name = "ID")]
    pub id: u64,
}

/// What deleting the product would remove: its id, name, SKU and how many variants,
/// images and custom fields go with it. Fails with not found for an unknown id. Sends
/// only reads.
pub async fn preview_delete_product(client: &Client, args: &DeleteProduct) -> Result<Value> {
    let product = get_product(
        client,
        &GetProduct {
            id: Some(check_id("id", args.id)?),
            sku: None,
        },
    )
    .await?;
    let count = |key: &str| product[key].as_array().map_or(0, Vec::len);
    Ok(json!({
        "id": product["id"],
        "name": product["name"],
        "sku": product["sku"],
        "variants": count("variants"),
        "images": count("images"),
        "custom_fields": count("custom_fields"),
    }))
}

/// Deletes a product (`DELETE /v3/catalog/products/{id}`) after reading what it removes;
/// returns `{"deleted": <preview>}`.
pub async fn delete_product(client: &Client, args: &DeleteProduct) -> Result<Value> {
    let preview = preview_delete_product(client, args).await?;
    client
        .send(ApiRequest::delete(
            ApiVersion::V3,
            format!("/catalog/products/{}", args.id),
        ))
        .await?;
    Ok(json!({ "deleted": preview }))
}

/// A `--data` value: JSON text, or `@FILE` to read it from a file (`@-` is stdin).
pub fn parse_data_arg(raw: &str) -> std::result::Result<Value, String> {
    let (text, from) = match raw.strip_prefix('@') {
        Some("-") => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            (s, "stdin".to_owned())
        }
        Some(path) => (
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?,
            path.to_owned(),
        ),
        None => (raw.to_owned(), "the value".to_owned()),
    };
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "{from} is not valid JSON ({e}); give a JSON object such as '{{\"name\": \"x\"}}' or @FILE"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_the_v3_query_and_bad_ones_are_named() {
        let args = ListProducts {
            category: Some(3),
            brand: Some(2),
            visible: Some(true),
            availability: Some("Preorder".into()),
            name: Some("shirt".into()),
            ..ListProducts::default()
        };
        assert_eq!(
            args.query().unwrap(),
            vec![
                pair("categories:in", 3),
                pair("brand_id", 2),
                pair("is_visible", true),
                pair("availability", "preorder"),
                pair("name:like", "shirt"),
            ]
        );
        let bad = ListProducts {
            availability: Some("soon".into()),
            ..ListProducts::default()
        };
        let e = bad.query().unwrap_err().to_string();
        assert!(e.starts_with("invalid availability"), "{e}");
        assert!(e.contains("preorder"), "{e}");
        let blank = ListProducts {
            sku: Some(" ".into()),
            ..ListProducts::default()
        };
        assert!(blank.query().unwrap_err().to_string().contains("sku"));
    }

    #[test]
    fn create_checks_the_required_fields() {
        let ok = CreateProduct {
            data: json!({"name": "A", "type": "physical", "weight": 1, "price": 2.5}),
        };
        ok.check().unwrap();
        for (data, says) in [
            (json!({"type": "physical", "weight": 1, "price": 1}), "name"),
            (json!({"name": "A", "weight": 1, "price": 1}), "type"),
            (
                json!({"name": "A", "type": "x", "weight": 1, "price": 1}),
                "type",
            ),
            (
                json!({"name": "A", "type": "digital", "price": 1}),
                "weight",
            ),
            (
                json!({"name": "A", "type": "digital", "weight": 1, "price": "9"}),
                "price",
            ),
            (json!([1]), "object"),
        ] {
            let e = CreateProduct { data }.check().unwrap_err().to_string();
            assert!(e.starts_with("invalid data") && e.contains(says), "{e}");
        }
    }

    #[test]
    fn data_args_read_json_or_a_file() {
        assert_eq!(parse_data_arg("{\"a\": 1}").unwrap(), json!({"a": 1}));
        let e = parse_data_arg("{a}").unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        std::fs::write(&f, "{\"price\": 3}").unwrap();
        assert_eq!(
            parse_data_arg(&format!("@{}", f.display())).unwrap(),
            json!({"price": 3})
        );
        assert!(
            parse_data_arg("@/no/such/file.json")
                .unwrap_err()
                .contains("cannot read")
        );
    }
}
