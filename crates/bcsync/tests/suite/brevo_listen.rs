//! `bcsync listen` forwarding to Brevo, over real HTTP against both emulators and a real
//! SQLite destination: the store's own webhooks reach the listener, and the Brevo
//! emulator's state shows what arrived. History sends nothing (the first forward is the
//! bulk sync with historical orders, and the carts and orders already there are a
//! baseline); a changed customer reaches its contact; carts send `cart_updated` /
//! `cart_deleted`; an abandoned cart puts its contact on the list and its conversion takes
//! it off; order events are off unless named; and `bcsync brevo sync` afterwards finds
//! nothing to send (the same hashes). A forward reads only what changed, yet a customer
//! whose address changed leaves no contact of ours under the old address, as the bulk
//! sync does. Store change → Brevo latencies are printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::listen_support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bc_sandbox::RunningSandbox;
use bc_sandbox::brevo::{BrevoConfig as EmulatorConfig, RunningBrevo, TierLimits, start_brevo};
use bcsync::listen::{BREVO_FORWARDED_AT, BrevoForwarding, RunningListener};
use listen_support::common::{self, api};
use listen_support::*;
use reqwest::Method;
use serde_json::{Value, json};

const STREAMS: &[&str] = &[
    "customers",
    "subscribers",
    "orders",
    "products",
    "categories",
    "brands",
    "store",
];

struct Fixture {
    sb: RunningSandbox,
    brevo: RunningBrevo,
    dir: tempfile::TempDir,
    db: PathBuf,
    port: u16,
}

impl Fixture {
    async fn start() -> Self {
        let sb = common::sandbox(bc_sandbox::SeedSpec {
            customers: 12,
            products: 6,
            orders: 8,
            ..common::small_store()
        })
        .await;
        let brevo = start_brevo(
            EmulatorConfig {
                limits: TierLimits::unlimited(),
                ecommerce_active: true,
                time_scale: 0.001,
                ..EmulatorConfig::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("shop.db");
        common::extract(&sb, &format!("sqlite:{}", db.display()), STREAMS)
            .await
            .unwrap();
        let port = free_port();
        Fixture {
            sb,
            brevo,
            dir,
            db,
            port,
        }
    }

    /// `bcsync.toml` with `[brevo]` and `extra` (more `[brevo.*]` tables).
    fn write_config(&self, extra: &str) -> String {
        let text = format!(
            "state = \"{}\"\n[extract]\nto = \"sqlite:{}\"\n\n[brevo]\nbase_url = \"{}\"\napi_key = \"{}\"\nimport_poll_ms = 20\nforward_interval_seconds = 0.3\n\n{extra}",
            self.state().display(),
            self.db.display(),
            self.brevo.base_url(),
            self.brevo.api_key(),
        );
        std::fs::write(self.dir.path().join("bcsync.toml"), &text).unwrap();
        text
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("bcsync-push.db")
    }

    /// A listener receiving the store's own webhooks; with `brevo`, forwarding there.
    async fn listen(&self, brevo: Option<&str>) -> RunningListener {
        let mut options = quiet_options();
        options.bind = SocketAddr::from(([127, 0, 0, 1], self.port));
        options.public_url = Some(format!("http://127.0.0.1:{}/webhooks", self.port));
        options.brevo = brevo.map(|text| {
            let doc: toml::Table = toml::from_str(text).unwrap();
            BrevoForwarding {
                config: bcsync::marketing::config::parse(doc.get("brevo")).unwrap(),
                state: self.state().display().to_string(),
            }
        });
        let l = start(&self.sb, &format!("sqlite:{}", self.db.display()), options).await;
        wait_first_poll(&l).await;
        l
    }

    async fn brevo_state(&self) -> Value {
        reqwest::get(format!("{}/state", self.brevo.admin_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn events(&self) -> Vec<Value> {
        self.brevo_state().await["events"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until Brevo's state satisfies `check`; returns how long it took from `since`.
    async fn wait_brevo(&self, what: &str, since: Instant, check: impl Fn(&Value) -> bool) {
        let mut last = Value::Null;
        for _ in 0..1200 {
            last = self.brevo_state().await;
            if check(&last) {
                eprintln!(
                    "store change -> Brevo ({what}): {} ms",
                    since.elapsed().as_millis()
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "gave up waiting for {what}; Brevo's events: {}",
            last["events"]
        );
    }

    async fn customer_email(&self, id: i64) -> String {
        let (s, body) = api(
            &self.sb,
            Method::GET,
            &format!("/v3/customers?id:in={id}"),
            None,
        )
        .await;
        assert_eq!(s, 200);
        body.unwrap()["data"][0]["email"]
            .as_str()
            .unwrap()
            .trim()
            .to_lowercase()
    }

    /// A cart of `quantity` of the first variant of product 1 for `customer`; its id.
    async fn cart(&self, customer: i64, quantity: i64) -> String {
        let (s, product) = api(
            &self.sb,
            Method::GET,
            "/v3/catalog/products/1?include=variants",
            None,
        )
        .await;
        assert_eq!(s, 200);
        let variant = product.unwrap()["data"]["variants"][0]["id"]
            .as_i64()
            .unwrap();
        let (s, cart) = api(
            &self.sb,
            Method::POST,
            "/v3/carts",
            Some(json!({"customer_id": customer, "line_items": [{"product_id": 1, "variant_id": variant, "quantity": quantity}]})),
        )
        .await;
        assert_eq!(s, 201, "{cart:?}");
        cart.unwrap()["data"]["id"].as_str().unwrap().to_owned()
    }
}

/// Waits until the listener's forwarder finished a forward after `after` (RFC 3339).
async fn wait_forward(l: &RunningListener, after: &str) {
    let inbox = l.inbox.clone();
    let after = after.to_owned();
    wait_for("a Brevo forward", || {
        let (inbox, after) = (inbox.clone(), after.clone());
        async move {
            inbox
                .meta(BREVO_FORWARDED_AT)
                .await
                .unwrap()
                .is_some_and(|t| t > after)
        }
    })
    .await;
}

fn contact<'a>(state: &'a Value, email: &str) -> Option<&'a Value> {
    state["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["email"] == email)
}

fn cart_events<'a>(state: &'a Value, name: &str, cart: &str) -> Vec<&'a Value> {
    state["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_name"] == name && e["event_properties"]["cart_id"] == cart)
        .collect()
}

fn list_members(state: &Value, name: &str) -> Vec<i64> {
    state["lists"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
        .map(|l| {
            l["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_i64().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

/// A cart that exists before the first forward: the listener without Brevo records it.
async fn cart_before_brevo(f: &Fixture) -> String {
    let l = f.listen(None).await;
    let cart = f.cart(4, 1).await;
    let db = f.db.clone();
    let id = cart.clone();
    wait_for("the earlier cart's row", || {
        let (db, id) = (db.clone(), id.clone());
        async move {
            common::db(&db)
                .query_row("SELECT count(*) FROM carts WHERE id = ?1", [&id], |r| {
                    r.get::<_, i64>(0)
                })
                .unwrap_or(0)
                == 1
        }
    })
    .await;
    l.shutdown().await.unwrap();
    cart
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_forwards_store_changes_and_carts_to_brevo_and_never_history() {
    let f = Fixture::start().await;
    let earlier_cart = cart_before_brevo(&f).await;
    let config = f.write_config("");
    let started = chrono::Utc::now().to_rfc3339();
    let l = f.listen(Some(&config)).await;
    wait_forward(&l, &started).await;

    // History: the first forward was the bulk sync, orders historical, no event at all.
    let state = f.brevo_state().await;
    assert!(
        !state["contacts"].as_array().unwrap().is_empty(),
        "the first forward sends the contacts"
    );
    let orders = state["orders"].as_array().unwrap();
    assert!(!orders.is_empty());
    assert!(
        orders.iter().all(|o| o["historical"] == true),
        "past orders are historical: {orders:?}"
    );
    assert_eq!(state["automationsTriggered"], 0);
    assert_eq!(state["events"], json!([]), "history sends no events");
    let other_bucket = || async {
        let counts: Value = reqwest::get(format!("{}/counts", f.brevo.admin_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        counts["buckets"]["other"].as_u64().unwrap()
    };
    let shared_after_first = other_bucket().await;
    assert!(
        shared_after_first > 0,
        "the first (bulk) sync follows its imports and batches there"
    );
    // A later forward (the timer) still sends nothing for the earlier cart.
    let now = chrono::Utc::now().to_rfc3339();
    wait_forward(&l, &now).await;
    assert!(cart_events(&f.brevo_state().await, "cart_updated", &earlier_cart).is_empty());

    // A customer changed in the store reaches its contact.
    let email = f.customer_email(1).await;
    let t = Instant::now();
    let (s, _) = api(
        &f.sb,
        Method::PUT,
        "/v3/customers",
        Some(json!([{"id": 1, "first_name": "Realtime"}])),
    )
    .await;
    assert_eq!(s, 200);
    f.wait_brevo("customer -> contact", t, |st| {
        contact(st, &email).is_some_and(|c| c["attributes"]["FIRSTNAME"] == "Realtime")
    })
    .await;

    // A stock change re-sends the product with its stock.
    let t = Instant::now();
    let (s, _) = api(
        &f.sb,
        Method::PUT,
        "/v3/catalog/products/2",
        Some(json!({"inventory_tracking": "product", "inventory_level": 77})),
    )
    .await;
    assert_eq!(s, 200);
    f.wait_brevo("stock -> product", t, |st| {
        st["products"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "2" && p["stock"] == 77.0)
    })
    .await;

    // A cart: one cart_updated with its items and totals, for the customer's address.
    let email2 = f.customer_email(2).await;
    let t = Instant::now();
    let cart = f.cart(2, 3).await;
    f.wait_brevo("cart -> cart_updated", t, |st| {
        !cart_events(st, "cart_updated", &cart).is_empty()
    })
    .await;
    let (s, theirs) = api(&f.sb, Method::GET, &format!("/v3/carts/{cart}"), None).await;
    assert_eq!(s, 200);
    let theirs = theirs.unwrap()["data"].clone();
    let state = f.brevo_state().await;
    let updated = cart_events(&state, "cart_updated", &cart);
    assert_eq!(updated.len(), 1, "{updated:?}");
    let e = updated[0];
    assert_eq!(e["identifiers"]["email_id"], email2);
    let p = &e["event_properties"];
    assert_eq!(p["amount"], theirs["cart_amount"]);
    assert_eq!(p["currency"], theirs["currency"]["code"]);
    assert_eq!(p["item_count"], 3);
    let line = &theirs["line_items"]["physical_items"][0];
    let item = &p["items"][0];
    for field in ["product_id", "variant_id", "name", "sku"] {
        assert_eq!(item[field], line[field], "{field}");
    }
    assert_eq!(item["quantity"], 3.0);
    assert_eq!(item["price"], line["sale_price"]);

    // Unchanged carts are not sent again; a deleted one sends cart_deleted once.
    let t = Instant::now();
    let (s, _) = api(&f.sb, Method::DELETE, &format!("/v3/carts/{cart}"), None).await;
    assert_eq!(s, 204);
    f.wait_brevo("deleted cart -> cart_deleted", t, |st| {
        !cart_events(st, "cart_deleted", &cart).is_empty()
    })
    .await;
    let now = chrono::Utc::now().to_rfc3339();
    wait_forward(&l, &now).await;
    let state = f.brevo_state().await;
    assert_eq!(cart_events(&state, "cart_updated", &cart).len(), 1);
    assert_eq!(cart_events(&state, "cart_deleted", &cart).len(), 1);
    assert_eq!(
        cart_events(&state, "cart_deleted", &cart)[0]["identifiers"]["email_id"],
        email2
    );
    // Order events are off unless named: nothing but cart events went out.
    assert!(
        state["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["event_name"] == "cart_updated" || e["event_name"] == "cart_deleted"),
        "{}",
        state["events"]
    );
    // Real-time forwards never spent Brevo's small shared bucket.
    assert_eq!(
        other_bucket().await,
        shared_after_first,
        "a forward after the first sync used the shared bucket"
    );
    // `bcsync status` shows the last forward.
    let target = bcsync::listen::ListenTarget::parse(
        &format!("sqlite:{}", f.db.display()),
        f.sb.store_hash(),
    )
    .unwrap();
    let status = bcsync::listen::status::read(&target, f.sb.store_hash())
        .await
        .unwrap();
    let text = bcsync::listen::status::render(&status);
    assert!(
        status.brevo_forward.is_some() && text.contains("brevo forward"),
        "{text}"
    );
    l.shutdown().await.unwrap();

    // `bcsync brevo sync` reads the same hashes: the customer change is not sent again.
    let out = common::bcsync_in(&f.sb, f.dir.path(), &["brevo", "sync", "--json"])
        .env_remove("BREVO_API_KEY")
        .env_remove("BREVO_BASE_URL")
        .output()
        .unwrap();
    let text = common::output_text(&out);
    assert!(out.status.success(), "{text}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["counts"].get("contacts.updated"), None, "{text}");
    assert_eq!(report["counts"].get("contacts.created"), None, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_carts_join_the_list_and_conversions_leave_it() {
    let f = Fixture::start().await;
    let config = f.write_config(
        "[brevo.lists]\nabandoned_cart = \"Abandoned carts\"\n\n[brevo.abandoned_cart]\nmin_value = 1\nmin_items = 2\ninactive_minutes = 0.02\n",
    );
    let started = chrono::Utc::now().to_rfc3339();
    let l = f.listen(Some(&config)).await;
    wait_forward(&l, &started).await;
    assert_eq!(
        list_members(&f.brevo_state().await, "Abandoned carts"),
        Vec::<i64>::new()
    );

    // Too few items: never on the list.
    let small = f.cart(3, 1).await;
    // Enough: on the list once idle for the inactivity delay (time passing alone).
    let email = f.customer_email(2).await;
    let t = Instant::now();
    let cart = f.cart(2, 2).await;
    let contact_id = |st: &Value| contact(st, &email).map(|c| c["id"].as_i64().unwrap());
    f.wait_brevo("abandoned cart -> list", t, |st| {
        contact_id(st).is_some_and(|id| list_members(st, "Abandoned carts").contains(&id))
    })
    .await;
    f.wait_brevo("small cart -> cart_updated", t, |st| {
        !cart_events(st, "cart_updated", &small).is_empty()
    })
    .await;
    let state = f.brevo_state().await;
    let email3 = f.customer_email(3).await;
    let small_contact = contact(&state, &email3).unwrap()["id"].as_i64().unwrap();
    assert!(
        !list_members(&state, "Abandoned carts").contains(&small_contact),
        "a cart of one item is below min_items"
    );

    // The cart becomes an order: the contact leaves the list.
    let t = Instant::now();
    let (s, order) = api(
        &f.sb,
        Method::POST,
        &format!("/v3/checkouts/{cart}/orders"),
        None,
    )
    .await;
    assert!(s == 200 || s == 201, "{s} {order:?}");
    f.wait_brevo("conversion -> off the list", t, |st| {
        contact_id(st).is_some_and(|id| !list_members(st, "Abandoned carts").contains(&id))
    })
    .await;
    // The order went to Brevo live (it came after the first sync), with no order event.
    let state = f.brevo_state().await;
    let live: Vec<&Value> = state["orders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["historical"] == false)
        .collect();
    assert_eq!(live.len(), 1, "{live:?}");
    assert!(
        state["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["event_name"] != "order_placed"),
        "order events are off by default"
    );
    l.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_events_when_named_only_for_new_orders() {
    let f = Fixture::start().await;
    let config = f.write_config(
        "[brevo.events]\norder_placed = \"order_placed\"\norder_status_changed = \"order_status_changed\"\n",
    );
    let started = chrono::Utc::now().to_rfc3339();
    let l = f.listen(Some(&config)).await;
    wait_forward(&l, &started).await;
    assert_eq!(
        f.events().await,
        Vec::<Value>::new(),
        "no events for past orders"
    );

    let cart = f.cart(5, 2).await;
    let t = Instant::now();
    let (s, order) = api(
        &f.sb,
        Method::POST,
        &format!("/v3/checkouts/{cart}/orders"),
        None,
    )
    .await;
    assert!(s == 200 || s == 201, "{s} {order:?}");
    let order_id = order.unwrap()["data"]["id"].as_i64().unwrap();
    let placed = |st: &Value| {
        st["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event_name"] == "order_placed")
            .cloned()
            .collect::<Vec<_>>()
    };
    f.wait_brevo("new order -> order_placed", t, |st| !placed(st).is_empty())
        .await;
    let state = f.brevo_state().await;
    let events = placed(&state);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event_properties"]["order_id"], order_id);

    // A status change of that order, and of a past one: both are changes after the
    // first forward.
    let t = Instant::now();
    let (s, _) = api(
        &f.sb,
        Method::PUT,
        &format!("/v2/orders/{order_id}"),
        Some(json!({"status_id": 2})),
    )
    .await;
    assert_eq!(s, 200);
    f.wait_brevo("status change -> order_status_changed", t, |st| {
        st["events"].as_array().unwrap().iter().any(|e| {
            e["event_name"] == "order_status_changed"
                && e["event_properties"]["order_id"] == order_id
                && e["event_properties"]["status_id"] == 2
        })
    })
    .await;
    l.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_address_leaves_the_old_one_as_the_bulk_sync_does() {
    let f = Fixture::start().await;
    let config = f.write_config("");
    let started = chrono::Utc::now().to_rfc3339();
    let l = f.listen(Some(&config)).await;
    wait_forward(&l, &started).await;
    // A later forward, so the next change is read as a change, not with the whole store.
    let now = chrono::Utc::now().to_rfc3339();
    wait_forward(&l, &now).await;

    let old = f.customer_email(3).await;
    let moved = "moved-3@example.com";
    let t = Instant::now();
    let (s, _) = api(
        &f.sb,
        Method::PUT,
        "/v3/customers",
        Some(json!([{"id": 3, "email": moved, "first_name": "Moved"}])),
    )
    .await;
    assert_eq!(s, 200);
    f.wait_brevo("address change -> new contact", t, |st| {
        contact(st, moved).is_some_and(|c| c["attributes"]["FIRSTNAME"] == "Moved")
    })
    .await;
    // The old address is no contact of ours any more: moved (the contact keeps its id),
    // or marked deleted and off our lists.
    let state = f.brevo_state().await;
    assert!(
        contact(&state, &old)
            .is_none_or(|c| c["attributes"]["BC_DELETED"] == true && c["listIds"] == json!([])),
        "{:?}",
        contact(&state, &old)
    );
    // Whatever else the change brought (a second webhook for the same customer) is
    // forwarded and recorded before the listener stops: two more forwards.
    for _ in 0..2 {
        let now = chrono::Utc::now().to_rfc3339();
        wait_forward(&l, &now).await;
    }
    l.shutdown().await.unwrap();

    // The bulk sync agrees: nothing left to send for either address.
    let out = common::bcsync_in(&f.sb, f.dir.path(), &["brevo", "sync", "--json"])
        .env_remove("BREVO_API_KEY")
        .env_remove("BREVO_BASE_URL")
        .output()
        .unwrap();
    let text = common::output_text(&out);
    assert!(out.status.success(), "{text}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["contacts.created", "contacts.updated", "contacts.deleted"] {
        assert_eq!(report["counts"].get(key), None, "{key}: {text}");
    }
}
