//! Carts for Brevo, decided without the network: what a cart event carries (its items and
//! totals, docs/brevo-api-notes.md §4.4), whose contact it is, and when a cart counts as
//! abandoned and puts that contact on the abandoned-cart list.
//!
//! Abandonment rule ([`list_moves`]): a live cart, not converted (no order names it), with
//! a known e-mail, an amount of at least `min_value`, at least `min_items` items and no
//! change for `inactive_minutes` puts its contact on the list, unless the contact was
//! added less than `debounce_hours` ago. The contact leaves the list when the cart it was
//! added for is converted or deleted (another abandoned cart of theirs keeps them on).
//! `now` comes in as an argument, so the rule is tested without waiting.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::commerce::{Row, number, text};
use super::config::AbandonedCart;
use super::contacts::{normalise_email, plausible_email};
use super::warehouse::Warehouse;

/// One cart as the forwarder sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct CartView {
    pub id: String,
    /// The cart's own e-mail, else its customer's.
    pub email: Option<String>,
    /// Deleted in the store (bcsync's mark).
    pub deleted: bool,
    /// Became an order (its state, or an order whose `cart_id` is this cart).
    pub converted: bool,
    pub amount: f64,
    /// Items in the cart, quantities summed.
    pub items: u64,
    /// The cart's last change (`updated_time`, else `created_time`).
    pub last_change: Option<DateTime<Utc>>,
    /// What a `cart_updated` event carries.
    pub properties: Map<String, Value>,
}

fn time(v: &Value, key: &str) -> Option<DateTime<Utc>> {
    v.get(key)
        .and_then(Value::as_str)
        .and_then(bigcommerce::dates::parse_any)
}

/// Every cart the warehouse holds, with its contact's e-mail.
pub fn carts(w: &Warehouse) -> Vec<CartView> {
    let mut emails: HashMap<i64, String> = HashMap::new();
    for c in w.customers.iter().filter(|c| !c.deleted) {
        if let (Some(id), Some(email)) = (
            c.raw.get("id").and_then(Value::as_i64),
            c.raw.get("email").and_then(Value::as_str),
        ) {
            emails.insert(id, normalise_email(email));
        }
    }
    let ordered: HashSet<String> = w
        .orders
        .iter()
        .filter_map(|o| text(&o.raw, "cart_id"))
        .collect();
    let images: HashMap<i64, String> = w
        .products
        .iter()
        .filter_map(|p| Some((p.raw.get("id")?.as_i64()?, product_image(&p.raw)?)))
        .collect();
    w.carts
        .iter()
        .filter_map(|r| view(r, &emails, &ordered, &images))
        .collect()
}

fn product_image(p: &Value) -> Option<String> {
    let images = p.get("images")?.as_array()?;
    let image = images
        .iter()
        .find(|i| i.get("is_thumbnail").and_then(Value::as_bool) == Some(true))
        .or(images.first())?;
    text(image, "url_standard").or_else(|| text(image, "url_zoom"))
}

fn view(
    r: &Row,
    emails: &HashMap<i64, String>,
    ordered: &HashSet<String>,
    images: &HashMap<i64, String>,
) -> Option<CartView> {
    let raw = &r.raw;
    let id = text(raw, "id")?;
    let email = text(raw, "email")
        .map(|e| normalise_email(&e))
        .or_else(|| {
            raw.get("customer_id")
                .and_then(Value::as_i64)
                .filter(|c| *c != 0)
                .and_then(|c| emails.get(&c).cloned())
        })
        .filter(|e| plausible_email(e));
    let lines = crate::streams::children::cart_items(raw);
    let mut items = Vec::new();
    let mut count: u64 = 0;
    for l in &lines {
        let quantity = number(l.get("quantity")).unwrap_or(0.0);
        count += quantity.max(0.0) as u64;
        let product = l.get("product_id").and_then(Value::as_i64);
        let mut item = Map::new();
        item.insert("product_id".into(), json!(product));
        item.insert(
            "variant_id".into(),
            json!(l.get("variant_id").and_then(Value::as_i64)),
        );
        item.insert("name".into(), json!(text(l, "name")));
        item.insert("sku".into(), json!(text(l, "sku")));
        item.insert("quantity".into(), json!(quantity));
        item.insert(
            "price".into(),
            json!(number(l.get("sale_price")).or_else(|| number(l.get("list_price")))),
        );
        if let Some(url) = text(l, "url") {
            item.insert("url".into(), json!(url));
        }
        if let Some(image) =
            text(l, "image_url").or_else(|| product.and_then(|p| images.get(&p).cloned()))
        {
            item.insert("image_url".into(), json!(image));
        }
        items.push(Value::Object(item));
    }
    let amount = number(raw.get("cart_amount")).unwrap_or(0.0);
    let mut properties = Map::new();
    properties.insert("cart_id".into(), json!(id));
    properties.insert("amount".into(), json!(amount));
    properties.insert(
        "currency".into(),
        json!(
            raw.pointer("/currency/code")
                .and_then(Value::as_str)
                .map(str::to_owned)
        ),
    );
    properties.insert("item_count".into(), json!(count));
    properties.insert("items".into(), Value::Array(items));
    if let Some(channel) = raw.get("channel_id").and_then(Value::as_i64) {
        properties.insert("store_id".into(), json!(channel.to_string()));
    }
    Some(CartView {
        converted: raw.get("state").and_then(Value::as_str) == Some("converted")
            || ordered.contains(&id),
        id,
        email,
        deleted: r.deleted_at.is_some(),
        amount,
        items: count,
        last_change: time(raw, "updated_time").or_else(|| time(raw, "created_time")),
        properties,
    })
}

/// A contact's place on the abandoned-cart list, as bcsync last set it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub on_list: bool,
    /// The cart the contact was added for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_id: Option<String>,
    /// When bcsync last added the contact (the debounce counts from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_at: Option<DateTime<Utc>>,
}

/// Whether `cart` is abandoned at `now` by the rule.
pub fn abandoned(cart: &CartView, rule: &AbandonedCart, now: DateTime<Utc>) -> bool {
    !cart.deleted
        && !cart.converted
        && cart.email.is_some()
        && cart.amount >= rule.min_value
        && cart.items >= u64::from(rule.min_items)
        && cart
            .last_change
            .is_some_and(|t| now.signed_duration_since(t) >= rule.inactive())
}

/// The memberships that change at `now`: e-mail → the new membership. `carts` are the
/// carts that may count (carts that existed before the first forward and never changed
/// since are left out by the caller: history puts nobody on a list).
pub fn list_moves(
    carts: &[&CartView],
    members: &HashMap<String, Membership>,
    rule: &AbandonedCart,
    now: DateTime<Utc>,
) -> BTreeMap<String, Membership> {
    let mut by_email: BTreeMap<&str, Vec<&CartView>> = BTreeMap::new();
    for c in carts {
        if let Some(e) = &c.email {
            by_email.entry(e.as_str()).or_default().push(c);
        }
    }
    let emails: BTreeSet<&str> = by_email
        .keys()
        .copied()
        .chain(
            members
                .iter()
                .filter(|(_, m)| m.on_list)
                .map(|(e, _)| e.as_str()),
        )
        .collect();
    let mut out = BTreeMap::new();
    for email in emails {
        let mine = by_email.get(email).map(Vec::as_slice).unwrap_or_default();
        let newest_abandoned = mine
            .iter()
            .filter(|c| abandoned(c, rule, now))
            .max_by_key(|c| c.last_change);
        let was = members.get(email).cloned().unwrap_or_default();
        let next = if was.on_list {
            let ended = mine
                .iter()
                .find(|c| Some(&c.id) == was.cart_id.as_ref())
                .is_none_or(|c| c.deleted || c.converted);
            match (ended, newest_abandoned) {
                (false, _) => was.clone(),
                (true, Some(other)) => Membership {
                    cart_id: Some(other.id.clone()),
                    ..was.clone()
                },
                (true, None) => Membership {
                    on_list: false,
                    ..was.clone()
                },
            }
        } else {
            match newest_abandoned {
                Some(c)
                    if was
                        .added_at
                        .is_none_or(|t| now.signed_duration_since(t) >= rule.debounce()) =>
                {
                    Membership {
                        on_list: true,
                        cart_id: Some(c.id.clone()),
                        added_at: Some(now),
                    }
                }
                _ => was.clone(),
            }
        };
        if next != was {
            out.insert(email.to_owned(), next);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marketing::contacts::CustomerRow;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000 + minute * 60, 0).unwrap()
    }

    fn cart(id: &str, email: &str, amount: f64, items: u64, changed: i64) -> CartView {
        CartView {
            id: id.into(),
            email: Some(email.into()),
            deleted: false,
            converted: false,
            amount,
            items,
            last_change: Some(at(changed)),
            properties: Map::new(),
        }
    }

    fn rule() -> AbandonedCart {
        AbandonedCart {
            min_value: 20.0,
            min_items: 2,
            inactive_minutes: 30.0,
            debounce_hours: 24.0,
        }
    }

    fn on(cart: &str, added: i64) -> Membership {
        Membership {
            on_list: true,
            cart_id: Some(cart.into()),
            added_at: Some(at(added)),
        }
    }

    #[test]
    fn a_cart_is_abandoned_when_every_condition_holds() {
        let r = rule();
        let base = cart("c", "a@x.io", 25.0, 2, 0);
        let cases: Vec<(&str, CartView, i64, bool)> = vec![
            ("idle long enough", base.clone(), 30, true),
            ("still active", base.clone(), 29, false),
            (
                "too cheap",
                CartView {
                    amount: 19.99,
                    ..base.clone()
                },
                60,
                false,
            ),
            (
                "too few items",
                CartView {
                    items: 1,
                    ..base.clone()
                },
                60,
                false,
            ),
            (
                "converted",
                CartView {
                    converted: true,
                    ..base.clone()
                },
                60,
                false,
            ),
            (
                "deleted",
                CartView {
                    deleted: true,
                    ..base.clone()
                },
                60,
                false,
            ),
            (
                "nobody to write to",
                CartView {
                    email: None,
                    ..base.clone()
                },
                60,
                false,
            ),
        ];
        for (what, c, now, want) in cases {
            assert_eq!(abandoned(&c, &r, at(now)), want, "{what}");
        }
        let at_once = AbandonedCart {
            inactive_minutes: 0.0,
            ..rule()
        };
        assert!(abandoned(&base, &at_once, at(0)), "inactive_minutes = 0");
    }

    #[test]
    fn contacts_join_and_leave_the_list() {
        let r = rule();
        let idle = cart("c1", "a@x.io", 25.0, 2, 0);
        let none: HashMap<String, Membership> = HashMap::new();
        // Time passing alone makes the cart abandoned.
        assert!(list_moves(&[&idle], &none, &r, at(10)).is_empty());
        let moves = list_moves(&[&idle], &none, &r, at(40));
        assert_eq!(moves["a@x.io"], on("c1", 40));
        // Already on the list: nothing changes.
        let members: HashMap<String, Membership> = [("a@x.io".to_owned(), on("c1", 40))].into();
        assert!(list_moves(&[&idle], &members, &r, at(50)).is_empty());
        // Converted or deleted: off the list, the time of the addition kept.
        for ended in [
            CartView {
                converted: true,
                ..idle.clone()
            },
            CartView {
                deleted: true,
                ..idle.clone()
            },
        ] {
            let moves = list_moves(&[&ended], &members, &r, at(60));
            assert_eq!(
                moves["a@x.io"],
                Membership {
                    on_list: false,
                    ..on("c1", 40)
                }
            );
        }
        // A cart gone from the warehouse ends too.
        assert!(!list_moves(&[], &members, &r, at(60))["a@x.io"].on_list);
        // Another abandoned cart of theirs keeps them on, now for that cart.
        let converted = CartView {
            converted: true,
            ..idle.clone()
        };
        let other = cart("c2", "a@x.io", 40.0, 3, 5);
        assert_eq!(
            list_moves(&[&converted, &other], &members, &r, at(60))["a@x.io"],
            on("c2", 40)
        );
    }

    #[test]
    fn the_debounce_holds_a_contact_back() {
        let r = rule();
        let left = Membership {
            on_list: false,
            ..on("c1", 40)
        };
        let members: HashMap<String, Membership> = [("a@x.io".to_owned(), left)].into();
        let again = cart("c3", "a@x.io", 25.0, 2, 100);
        assert!(
            list_moves(&[&again], &members, &r, at(140)).is_empty(),
            "added 100 minutes ago, within 24 hours"
        );
        let later = 40 + 24 * 60;
        assert_eq!(
            list_moves(&[&again], &members, &r, at(later))["a@x.io"],
            on("c3", later)
        );
    }

    #[test]
    fn carts_carry_items_totals_and_their_contact() {
        let w = Warehouse {
            customers: vec![CustomerRow {
                raw: json!({"id": 4, "email": " Ann@Example.com "}),
                deleted: false,
            }],
            products: vec![Row {
                raw: json!({"id": 7, "images": [{"url_standard": "https://img/7.jpg"}]}),
                deleted_at: None,
            }],
            orders: vec![Row {
                raw: json!({"id": 100, "cart_id": "c-2"}),
                deleted_at: None,
            }],
            carts: vec![
                Row {
                    raw: json!({"id": "c-1", "customer_id": 4, "email": "", "cart_amount": 30.5,
                        "currency": {"code": "EUR"}, "channel_id": 1,
                        "updated_time": "2026-03-01T10:00:00+00:00",
                        "line_items": {"physical_items": [{"id": "l1", "product_id": 7,
                            "variant_id": 70, "name": "Tee", "sku": "T-S", "quantity": 2,
                            "sale_price": 15.25, "url": "https://shop/tee/", "image_url": ""}],
                            "digital_items": [], "gift_certificates": [], "custom_items": []}}),
                    deleted_at: None,
                },
                Row {
                    raw: json!({"id": "c-2", "customer_id": 0, "email": "guest@example.com",
                        "cart_amount": 5, "line_items": {}}),
                    deleted_at: Some("2026-03-01T11:00:00Z".into()),
                },
            ],
            ..Warehouse::default()
        };
        let v = carts(&w);
        assert_eq!(v.len(), 2);
        let c = &v[0];
        assert_eq!(c.email.as_deref(), Some("ann@example.com"));
        assert_eq!((c.amount, c.items), (30.5, 2));
        assert!(!c.converted && !c.deleted);
        assert_eq!(
            c.last_change,
            DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
                .ok()
                .map(|d| d.to_utc())
        );
        assert_eq!(
            Value::Object(c.properties.clone()),
            json!({"cart_id": "c-1", "amount": 30.5, "currency": "EUR", "item_count": 2,
                "store_id": "1",
                "items": [{"product_id": 7, "variant_id": 70, "name": "Tee", "sku": "T-S",
                    "quantity": 2.0, "price": 15.25, "url": "https://shop/tee/",
                    "image_url": "https://img/7.jpg"}]})
        );
        let guest = &v[1];
        assert_eq!(guest.email.as_deref(), Some("guest@example.com"));
        assert!(guest.converted, "an order names the cart");
        assert!(guest.deleted);
    }
}
