//! The store's catalog and orders as Brevo's e-commerce objects (docs/brevo-api-notes.md
//! §5), decided without the network: categories, products (a product with variants becomes
//! its base product plus one product per variant whose `parentId` is the base, §5.5) and
//! orders with their lines. Deleted records become soft deletes, since Brevo's catalog has
//! no delete route (§5.3).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::contacts::{Refusal, normalise_email, plausible_email};

/// A record as the extraction holds it.
#[derive(Debug, Clone)]
pub struct Row {
    pub raw: Value,
    /// When the store deleted it (bcsync's mark), RFC 3339.
    pub deleted_at: Option<String>,
}

/// A number the API may send as a JSON number or a decimal string (V2 money).
pub fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A non-blank string field, trimmed.
pub fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// An absolute URL from a store-relative path (`/shoes/`), when the store's address is
/// known; Brevo links products and categories to pages, and a relative path is no link.
fn page_url(store_url: Option<&str>, raw: &Value) -> Option<String> {
    // Products carry `custom_url.url`; category-tree categories `url.path`.
    let path = raw
        .pointer("/custom_url/url")
        .or_else(|| raw.pointer("/url/path"))
        .and_then(Value::as_str)?;
    let base = store_url?.trim_end_matches('/');
    Some(format!("{base}{path}"))
}

/// Categories (BigCommerce id as the Brevo id; the category-tree API names it
/// `category_id`).
pub fn categories(rows: &[Row], store_url: Option<&str>) -> Vec<brevo::Category> {
    rows.iter()
        .filter_map(|r| {
            let id = r
                .raw
                .get("category_id")
                .or_else(|| r.raw.get("id"))
                .and_then(Value::as_i64)?;
            Some(brevo::Category {
                id: id.to_string(),
                name: text(&r.raw, "name").unwrap_or_else(|| format!("Category {id}")),
                url: page_url(store_url, &r.raw),
                is_deleted: r.deleted_at.as_ref().map(|_| true),
                deleted_at: r.deleted_at.clone(),
            })
        })
        .collect()
}

/// The Brevo id of a variant's product: the BigCommerce product and variant ids, so it
/// never collides with a base product's id and an order line can name it.
pub fn variant_product_id(product_id: i64, variant_id: i64) -> String {
    format!("{product_id}-{variant_id}")
}

/// A variant is its own Brevo product when the product has options (a base variant
/// without option values is the product itself).
fn has_options(variant: &Value) -> bool {
    variant
        .get("option_values")
        .and_then(Value::as_array)
        .is_some_and(|o| !o.is_empty())
}

/// Products and their variants.
pub fn products(
    rows: &[Row],
    brands: &HashMap<i64, String>,
    store_url: Option<&str>,
) -> Vec<brevo::Product> {
    let mut out = Vec::new();
    for r in rows {
        let p = &r.raw;
        let Some(id) = p.get("id").and_then(Value::as_i64) else {
            continue;
        };
        let name = text(p, "name").unwrap_or_else(|| format!("Product {id}"));
        let images: Vec<&Value> = p
            .get("images")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let image = images
            .iter()
            .find(|i| i.get("is_thumbnail").and_then(Value::as_bool) == Some(true))
            .or(images.first())
            .and_then(|i| text(i, "url_standard").or_else(|| text(i, "url_zoom")));
        let tracking = p
            .get("inventory_tracking")
            .and_then(Value::as_str)
            .unwrap_or("none");
        let url = page_url(store_url, p);
        let deleted = r.deleted_at.clone();
        let base = brevo::Product {
            id: id.to_string(),
            name: name.clone(),
            url: url.clone(),
            image_url: image.clone(),
            sku: text(p, "sku"),
            price: number(p.get("calculated_price")).or_else(|| number(p.get("price"))),
            categories: p
                .get("categories")
                .and_then(Value::as_array)
                .map(|c| {
                    c.iter()
                        .filter_map(Value::as_i64)
                        .map(|c| c.to_string())
                        .collect()
                })
                .unwrap_or_default(),
            parent_id: None,
            meta_info: Map::new(),
            is_deleted: deleted.as_ref().map(|_| true),
            deleted_at: deleted.clone(),
            brand: p
                .get("brand_id")
                .and_then(Value::as_i64)
                .and_then(|b| brands.get(&b).cloned()),
            description: text(p, "description").map(|d| plain_text(&d, 2000)),
            stock: match tracking {
                "product" => number(p.get("inventory_level")),
                "variant" => Some(
                    variants(p)
                        .iter()
                        .filter_map(|v| number(v.get("inventory_level")))
                        .sum(),
                ),
                _ => None,
            },
        };
        let mut variant_products = Vec::new();
        for v in variants(p).iter().filter(|v| has_options(v)) {
            let Some(vid) = v.get("id").and_then(Value::as_i64) else {
                continue;
            };
            let labels: Vec<String> = v
                .get("option_values")
                .and_then(Value::as_array)
                .map(|o| o.iter().filter_map(|o| text(o, "label")).collect())
                .unwrap_or_default();
            variant_products.push(brevo::Product {
                id: variant_product_id(id, vid),
                name: if labels.is_empty() {
                    name.clone()
                } else {
                    format!("{name} ({})", labels.join(", "))
                },
                url: url.clone(),
                image_url: text(v, "image_url").or_else(|| image.clone()),
                sku: text(v, "sku"),
                price: number(v.get("calculated_price"))
                    .or_else(|| number(v.get("price")))
                    .or(base.price),
                categories: base.categories.clone(),
                parent_id: Some(id.to_string()),
                meta_info: Map::new(),
                is_deleted: deleted.as_ref().map(|_| true),
                deleted_at: deleted.clone(),
                brand: base.brand.clone(),
                description: None,
                stock: match tracking {
                    "variant" => number(v.get("inventory_level")),
                    "product" => base.stock,
                    _ => None,
                },
            });
        }
        out.push(base);
        out.extend(variant_products);
    }
    out
}

fn variants(p: &Value) -> Vec<&Value> {
    p.get("variants")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// HTML descriptions as text, cut to `max` characters: Brevo shows the description in
/// e-mails, where markup from the storefront is noise.
fn plain_text(html: &str, max: usize) -> String {
    let mut out = String::with_capacity(html.len().min(max));
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.chars().take(max).collect()
}

/// One order with its lines, for Brevo. `None` (with a refusal) for an order Brevo cannot
/// take: no e-mail to tie it to a contact, or no lines.
pub fn order(raw: &Value, lines: &[Value]) -> Result<Option<brevo::Order>, Refusal> {
    let id = raw.get("id").and_then(Value::as_i64).unwrap_or(0);
    let status_id = raw.get("status_id").and_then(Value::as_i64).unwrap_or(0);
    if status_id == 0 {
        // An Incomplete order is an abandoned checkout, not a purchase.
        return Ok(None);
    }
    let refusal = |field: &str, reason: &str| Refusal {
        key: format!("order {id}"),
        field: Some(field.into()),
        reason: reason.into(),
    };
    let email = raw
        .pointer("/billing_address/email")
        .and_then(Value::as_str)
        .map(normalise_email)
        .filter(|e| plausible_email(e))
        .ok_or_else(|| {
            refusal(
                "billing_address.email",
                "the order has no valid billing e-mail, which Brevo needs to tie it to a contact",
            )
        })?;
    let products: Vec<brevo::OrderProduct> = lines
        .iter()
        .filter_map(|l| {
            let product_id = l.get("product_id").and_then(Value::as_i64)?;
            let variant = l.get("variant_id").and_then(Value::as_i64);
            let quantity = number(l.get("quantity")).unwrap_or(0.0);
            Some(brevo::OrderProduct {
                product_id: product_id.to_string(),
                variant_id: variant.map(|v| variant_product_id(product_id, v)),
                price: number(l.get("price_inc_tax"))
                    .or_else(|| number(l.get("base_price")))
                    .unwrap_or(0.0),
                // Exactly one of the two (docs/brevo-api-notes.md §5.4).
                quantity: (quantity.fract() == 0.0).then_some(quantity as i64),
                quantity_float: (quantity.fract() != 0.0).then_some(quantity),
            })
        })
        .collect();
    if products.is_empty() {
        return Err(refusal(
            "products",
            "the order has no product lines; Brevo requires at least one",
        ));
    }
    let date = |key: &str| {
        raw.get(key)
            .and_then(Value::as_str)
            .and_then(|s| {
                chrono::DateTime::parse_from_rfc2822(s)
                    .or_else(|_| chrono::DateTime::parse_from_rfc3339(s))
                    .ok()
            })
            .map(|d| {
                d.with_timezone(&chrono::Utc)
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string()
            })
    };
    let created = date("date_created")
        .ok_or_else(|| refusal("date_created", "the order has no readable creation date"))?;
    let b = raw.get("billing_address").cloned().unwrap_or(Value::Null);
    let address = [text(&b, "street_1"), text(&b, "street_2")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Some(brevo::Order {
        id: id.to_string(),
        updated_at: date("date_modified").unwrap_or_else(|| created.clone()),
        created_at: created,
        status: text(raw, "status")
            .unwrap_or_else(|| status_id.to_string())
            .to_lowercase(),
        amount: number(raw.get("total_inc_tax")).unwrap_or(0.0),
        products,
        identifiers: brevo::OrderIdentifiers {
            email_id: Some(email),
            ext_id: None,
        },
        store_id: raw
            .get("channel_id")
            .and_then(Value::as_i64)
            .map(|c| c.to_string()),
        billing: Some(brevo::Billing {
            address: (!address.is_empty()).then_some(address),
            city: text(&b, "city"),
            country_code: text(&b, "country_iso2"),
            country: text(&b, "country"),
            phone: text(&b, "phone"),
            post_code: text(&b, "zip"),
            payment_method: text(raw, "payment_method"),
            region: text(&b, "state"),
        }),
        coupons: Vec::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn variants_are_products_under_their_base() {
        let rows = vec![Row {
            raw: json!({"id": 7, "name": "Tee", "price": 20, "calculated_price": 18.5,
            "inventory_tracking": "variant", "brand_id": 3, "categories": [4, 5],
            "description": "<p>Soft <b>cotton</b></p>",
            "images": [{"url_standard": "https://img/1.jpg"}],
            "variants": [
                {"id": 70, "sku": "T-S", "inventory_level": 2, "option_values": [{"label": "S"}]},
                {"id": 71, "sku": "T-M", "inventory_level": 3, "price": 21, "option_values": [{"label": "M"}]}
            ]}),
            deleted_at: None,
        }];
        let brands = [(3, "Acme".to_owned())].into_iter().collect();
        let p = products(&rows, &brands, Some("https://shop.example"));
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].id, "7");
        assert_eq!(p[0].stock, Some(5.0));
        assert_eq!(p[0].price, Some(18.5));
        assert_eq!(p[0].brand.as_deref(), Some("Acme"));
        assert_eq!(p[0].description.as_deref(), Some("Soft cotton"));
        assert_eq!(p[0].categories, vec!["4", "5"]);
        assert_eq!(p[2].id, "7-71");
        assert_eq!(p[2].parent_id.as_deref(), Some("7"));
        assert_eq!(p[2].name, "Tee (M)");
        assert_eq!(p[2].price, Some(21.0));
        assert_eq!(p[2].stock, Some(3.0));
        assert_eq!(p[1].image_url.as_deref(), Some("https://img/1.jpg"));
    }

    #[test]
    fn orders_carry_lines_and_refuse_what_brevo_cannot_take() {
        let raw = json!({"id": 100, "status_id": 10, "status": "Completed", "total_inc_tax": "30.5000",
            "date_created": "Tue, 05 Mar 2024 10:00:00 +0000", "channel_id": 1,
            "billing_address": {"email": "Ann@Example.com", "city": "Lyon", "country_iso2": "FR"}});
        let lines = vec![
            json!({"product_id": 7, "variant_id": 71, "quantity": 2, "price_inc_tax": "15.2500"}),
        ];
        let o = order(&raw, &lines).unwrap().unwrap();
        assert_eq!(o.created_at, "2024-03-05T10:00:00Z");
        assert_eq!(o.status, "completed");
        assert_eq!(o.amount, 30.5);
        assert_eq!(o.identifiers.email_id.as_deref(), Some("ann@example.com"));
        assert_eq!(o.products[0].variant_id.as_deref(), Some("7-71"));
        assert_eq!(o.products[0].quantity, Some(2));
        assert_eq!(o.products[0].quantity_float, None);
        let mut no_email = raw.clone();
        no_email["billing_address"]["email"] = json!("");
        assert!(
            order(&no_email, &lines)
                .unwrap_err()
                .reason
                .contains("billing e-mail")
        );
        let mut incomplete = raw.clone();
        incomplete["status_id"] = json!(0);
        assert!(order(&incomplete, &lines).unwrap().is_none());
    }
}
