//! Which OAuth scope family an API path needs (docs/api-notes.md §0.1), so a 403 can tell the user
//! exactly which scope to grant the API account instead of a bare "forbidden".

/// The scope family a store-relative path (`/v2/orders`, `/v3/catalog/products`) needs at
/// modify level; the `_read_only` variant of it is enough for reads. `None` for paths
/// that need no special scope (webhooks) or that we do not know.
pub fn scope_for_path(path: &str) -> Option<&'static str> {
    let mut segments = path.split(['/', '?']).filter(|s| !s.is_empty());
    let first = match segments.next()? {
        "v2" | "v3" => segments.next()?,
        other => other,
    };
    let rest: Vec<&str> = segments.collect();
    match first {
        "customers" | "customer_groups" => Some("store_v2_customers"),
        "orders"
            if rest
                .iter()
                .any(|s| matches!(*s, "transactions" | "payment_actions" | "refunds")) =>
        {
            Some("store_v2_transactions")
        }
        "orders" | "order_statuses" => Some("store_v2_orders"),
        "catalog" | "pricelists" => Some("store_v2_products"),
        "coupons" | "promotions" => Some("store_v2_marketing"),
        "store" | "time" | "settings" => Some("store_v2_information"),
        "channels" => Some("store_channel_settings"),
        "carts" => Some("store_cart"),
        "inventory" => Some("store_inventory"),
        "content" => Some("store_v2_content"),
        _ => None,
    }
}

/// What to tell a user after a 403 on `path` with `method`.
pub(crate) fn forbidden_advice(path: &str, method: &str) -> String {
    let read_only = matches!(method, "GET" | "HEAD");
    match scope_for_path(path) {
        Some(scope) if read_only => format!(
            "the API account needs the {scope}_read_only scope (or {scope}) for {path}; \
             add it in the store's API account settings and use the new token"
        ),
        Some(scope) => format!(
            "the API account needs the {scope} scope (modify) to {method} {path}; \
             add it in the store's API account settings and use the new token"
        ),
        None => "the API account lacks a scope for this path, or a plan limit was reached; \
                 check the API account's scopes"
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_paths_to_scope_families() {
        let cases = [
            ("/v2/orders", Some("store_v2_orders")),
            ("/v2/orders/5/products", Some("store_v2_orders")),
            ("/v3/orders/5/transactions", Some("store_v2_transactions")),
            ("/v3/customers", Some("store_v2_customers")),
            ("/v2/customer_groups", Some("store_v2_customers")),
            ("/v3/catalog/products", Some("store_v2_products")),
            ("/v2/coupons", Some("store_v2_marketing")),
            ("/v3/promotions", Some("store_v2_marketing")),
            ("/v2/store", Some("store_v2_information")),
            ("/v2/time", Some("store_v2_information")),
            ("/v3/channels", Some("store_channel_settings")),
            ("/v3/content/pages", Some("store_v2_content")),
            ("/v3/hooks", None),
            ("orders", Some("store_v2_orders")),
        ];
        for (path, want) in cases {
            assert_eq!(scope_for_path(path), want, "{path}");
        }
    }

    #[test]
    fn advice_names_read_only_scope_for_reads() {
        assert!(forbidden_advice("/v2/orders", "GET").contains("store_v2_orders_read_only"));
        let write = forbidden_advice("/v3/customers", "PUT");
        assert!(
            write.contains("store_v2_customers scope (modify)"),
            "{write}"
        );
    }
}
