//! One webhook delivery: its payload (docs/api-notes.md §9.2), how it is authenticated
//! (a secret we set in the hook's custom headers, compared in constant time, and the store
//! hash in `producer`), and what it asks us to fetch again.
//!
//! A delivery carries almost no data (an id and a scope), so every event becomes a
//! [`Target`]: which record to read again through the API. The scope decides which record:
//! an address event names the address but the row to refresh is its customer's; a SKU
//! event names the V2 SKU id but the row is its product's (docs/api-notes.md §12.14).

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The custom header every hook we register sends with each delivery.
pub const SECRET_HEADER: &str = "X-Bcsync-Secret";

/// The largest delivery body accepted. Real payloads are a few hundred bytes; anything
/// near this is not a BigCommerce delivery.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A delivery as BigCommerce posts it (docs/api-notes.md §9.2).
#[derive(Debug, Clone, Deserialize)]
pub struct Delivery {
    pub scope: String,
    /// A numeric string in the docs; kept as sent.
    #[serde(default)]
    pub store_id: Option<Value>,
    #[serde(default)]
    pub data: Value,
    /// SHA-1 of the payload: a redelivery of one event carries the same hash.
    pub hash: String,
    /// Epoch seconds.
    pub created_at: i64,
    /// `stores/<store_hash>`.
    pub producer: String,
}

impl Delivery {
    /// The store hash this delivery claims to come from.
    pub fn store_hash(&self) -> Option<&str> {
        self.producer.strip_prefix("stores/")
    }
}

/// Whether `given` equals `expected`, in time that depends on neither: both are hashed
/// first, so the comparison runs over 32 bytes whatever their lengths.
pub fn secrets_match(given: &[u8], expected: &[u8]) -> bool {
    let a = Sha256::digest(given);
    let b = Sha256::digest(expected);
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    diff == 0 && !expected.is_empty()
}

/// A record family `listen` keeps current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    Customer,
    Product,
    Order,
    Cart,
}

impl Resource {
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Customer => "customer",
            Resource::Product => "product",
            Resource::Order => "order",
            Resource::Cart => "cart",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "customer" => Resource::Customer,
            "product" => Resource::Product,
            "order" => Resource::Order,
            "cart" => Resource::Cart,
            _ => return None,
        })
    }
}

/// What happened to the record, as far as the event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Change {
    /// Created or changed: read it again.
    Changed,
    /// Deleted (customers, products, carts) or archived (orders): mark it, read nothing.
    Gone,
    /// A cart that has had no change for an hour (still readable).
    CartAbandoned,
    /// A cart that became an order (`data.orderId`).
    CartConverted(Option<i64>),
}

impl Change {
    /// The inbox's text for it (`converted:ORDER_ID` keeps the order id).
    pub fn to_text(self) -> String {
        match self {
            Change::Changed => "changed".into(),
            Change::Gone => "gone".into(),
            Change::CartAbandoned => "abandoned".into(),
            Change::CartConverted(None) => "converted".into(),
            Change::CartConverted(Some(order)) => format!("converted:{order}"),
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "changed" => Change::Changed,
            "gone" => Change::Gone,
            "abandoned" => Change::CartAbandoned,
            "converted" => Change::CartConverted(None),
            other => Change::CartConverted(Some(other.strip_prefix("converted:")?.parse().ok()?)),
        })
    }
}

/// The record an event asks us to refresh.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    pub resource: Resource,
    /// Integer ids as decimal text, cart ids as their UUID.
    pub id: String,
    pub change: Change,
}

fn id_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Number(n) => n.as_i64().map(|i| i.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// The record behind an event, or `None` for scopes `listen` does not keep (messages,
/// store information, hook exceptions...). Ids come where docs/api-notes.md §9.2 puts them.
pub fn target_of(scope: &str, data: &Value) -> Option<Target> {
    let t = |resource, id: Option<String>, change| {
        id.map(|id| Target {
            resource,
            id,
            change,
        })
    };
    let id = || id_text(data.get("id"));
    let rest = scope.strip_prefix("store/")?;
    let (family, event) = rest.split_once('/')?;
    match family {
        "customer" => match event {
            "deleted" => t(Resource::Customer, id(), Change::Gone),
            // An address event's id is the address; its customer is the row to refresh.
            e if e.starts_with("address/") => t(
                Resource::Customer,
                id_text(data.pointer("/address/customer_id")),
                Change::Changed,
            ),
            _ => t(Resource::Customer, id(), Change::Changed),
        },
        "product" => match event {
            "deleted" => t(Resource::Product, id(), Change::Gone),
            e if e.starts_with("inventory/") => t(
                Resource::Product,
                id_text(data.pointer("/inventory/product_id")).or_else(id),
                Change::Changed,
            ),
            e if e.starts_with("metafield/") || e.starts_with("variant/") => None,
            _ => t(Resource::Product, id(), Change::Changed),
        },
        // A SKU event's id is the V2 SKU id, not the variant's: the product is the row.
        "sku" => t(
            Resource::Product,
            id_text(data.pointer("/sku/product_id"))
                .or_else(|| id_text(data.pointer("/inventory/product_id"))),
            Change::Changed,
        ),
        "order" => match event {
            "archived" => t(Resource::Order, id(), Change::Gone),
            e if e.starts_with("transaction/") => t(
                Resource::Order,
                id_text(data.get("order_id")),
                Change::Changed,
            ),
            e if e.starts_with("metafield/") => None,
            _ => t(Resource::Order, id(), Change::Changed),
        },
        "cart" => match event {
            "deleted" => t(Resource::Cart, id(), Change::Gone),
            "abandoned" => t(Resource::Cart, id(), Change::CartAbandoned),
            "converted" => t(
                Resource::Cart,
                id(),
                Change::CartConverted(id_text(data.get("orderId")).and_then(|o| o.parse().ok())),
            ),
            e if e.starts_with("lineItem/") => {
                t(Resource::Cart, id_text(data.get("cartId")), Change::Changed)
            }
            e if e.starts_with("metafield/") => None,
            _ => t(Resource::Cart, id(), Change::Changed),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_survive_the_inbox_text() {
        for c in [
            Change::Changed,
            Change::Gone,
            Change::CartAbandoned,
            Change::CartConverted(None),
            Change::CartConverted(Some(12)),
        ] {
            assert_eq!(Change::parse(&c.to_text()), Some(c));
        }
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(secrets_match(b"abc", b"abc"));
        assert!(!secrets_match(b"abd", b"abc"));
        assert!(!secrets_match(b"ab", b"abc"));
        assert!(!secrets_match(b"", b""));
    }

    #[test]
    fn ids_come_from_where_each_scope_puts_them() {
        let cases = [
            (
                "store/customer/updated",
                json!({"type":"customer","id":5}),
                Some((Resource::Customer, "5", Change::Changed)),
            ),
            (
                "store/customer/deleted",
                json!({"type":"customer","id":5}),
                Some((Resource::Customer, "5", Change::Gone)),
            ),
            (
                "store/customer/address/created",
                json!({"type":"customer","id":77,"address":{"customer_id":5}}),
                Some((Resource::Customer, "5", Change::Changed)),
            ),
            (
                "store/sku/inventory/updated",
                json!({"type":"sku","id":900,"sku":{"product_id":12,"variant_id":40}}),
                Some((Resource::Product, "12", Change::Changed)),
            ),
            (
                "store/product/inventory/updated",
                json!({"type":"product","id":12,"inventory":{"product_id":12,"method":"relative","value":-1}}),
                Some((Resource::Product, "12", Change::Changed)),
            ),
            (
                "store/order/archived",
                json!({"type":"order","id":250}),
                Some((Resource::Order, "250", Change::Gone)),
            ),
            (
                "store/order/statusUpdated",
                json!({"type":"order","id":250,"status":{"previous_status_id":1,"new_status_id":2}}),
                Some((Resource::Order, "250", Change::Changed)),
            ),
            (
                "store/cart/lineItem/updated",
                json!({"type":"cart_line_item","id":"l-1","cartId":"c-1"}),
                Some((Resource::Cart, "c-1", Change::Changed)),
            ),
            (
                "store/cart/converted",
                json!({"type":"cart","id":"c-1","orderId":9}),
                Some((Resource::Cart, "c-1", Change::CartConverted(Some(9)))),
            ),
            ("store/information/updated", json!({"type":"store"}), None),
        ];
        for (scope, data, want) in cases {
            let got = target_of(scope, &data);
            let want = want.map(|(resource, id, change)| Target {
                resource,
                id: id.into(),
                change,
            });
            assert_eq!(got, want, "{scope}");
        }
    }
}
