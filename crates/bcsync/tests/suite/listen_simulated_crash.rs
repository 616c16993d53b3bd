//! `bcsync listen` under the sandbox's storefront simulator (carts, orders, customers,
//! products and stock, with deletions and archivals), fed by the sandbox's own webhook
//! delivery and its retries, killed with SIGKILL three times while the store changes.
//! Afterwards the tables equal a full extraction of the store, deletions marked, nothing
//! doubled, and the carts equal the sandbox's own record of every cart it ever had.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{common, listen_support};

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bc_sandbox::{SandboxConfig, SeedSpec, SimulateSpec};
use listen_support::{
    assert_equals_full_extraction, free_port, our_cart_lines, pending_events, rows_by_key,
    spawn_listener, their_cart_lines,
};
use serde_json::Value;

fn seed() -> SeedSpec {
    SeedSpec {
        seed: 12,
        customers: 80,
        addresses_per_customer: 1,
        customer_groups: 2,
        products: 40,
        variants_per_product: 2,
        images_per_product: 1,
        custom_fields_per_product: 1,
        categories: 3,
        brands: 2,
        orders: 100,
        lines_per_order: 2,
        coupons: 2,
        history_days: 10,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_kills_under_simulated_traffic_lose_nothing() {
    // Time scale 0.01: the store retries a refused delivery after 0.6 s instead of a minute.
    let config = SandboxConfig {
        seed: seed(),
        time_scale: 0.01,
        ..SandboxConfig::default()
    };
    let sb = bc_sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let public_url = format!("http://127.0.0.1:{port}/webhooks");
    let extra = ["--public-url", public_url.as_str(), "--coalesce", "100ms"];
    let mut child = spawn_listener(&sb, dir.path(), port, &extra);
    // Hooks registered: the store now delivers.
    let ready = Instant::now();
    while sb
        .state
        .data
        .read()
        .hooks
        .active_for("store/cart/created")
        .is_empty()
    {
        assert!(
            ready.elapsed() < Duration::from_secs(60),
            "listen never registered its hooks"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let spec = SimulateSpec {
        rate: 12.0,
        actions: None,
        duration_secs: Some(20.0),
        seed: 5,
    };
    bc_sandbox::simulator::start(&sb.state, spec).unwrap();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        // SIGKILL: no shutdown, no drain; the store's retries bring what it refused.
        child.kill().unwrap();
        child.wait().unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        child = spawn_listener(&sb, dir.path(), port, &extra);
    }
    while sb.state.simulator.status().running {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = sb.state.simulator.status();
    assert!(status.actions >= 150, "the simulator ran: {status:?}");

    // Every delivery made and every acknowledged event applied.
    let settle = Instant::now();
    loop {
        let (queued, _) = sb.state.delivery.status();
        if queued == 0 && pending_events(dir.path()) == 0 {
            break;
        }
        assert!(
            settle.elapsed() < Duration::from_secs(120),
            "deliveries queued {queued}, events pending {}",
            pending_events(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A graceful stop (SIGTERM) drains and closes the destination.
    common::sigterm(child.id());
    child.wait().unwrap();

    let listened = assert_equals_full_extraction(&sb, dir.path()).await;

    // Carts against the sandbox's own record of every cart.
    let theirs: Value = reqwest::get(format!("{}/_sandbox/carts", sb.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ours = rows_by_key(&listened, "carts", true);
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    for cart in theirs["carts"].as_array().unwrap() {
        let id = cart["id"].as_str().unwrap();
        let state = cart["state"].as_str().unwrap();
        *by_state.entry(state.to_owned()).or_default() += 1;
        match state {
            "active" | "abandoned" => {
                let row = ours
                    .get(id)
                    .unwrap_or_else(|| panic!("{state} cart {id} has no live row"));
                assert_eq!(row["state"], state, "cart {id}");
                assert_eq!(
                    our_cart_lines(&listened, id),
                    their_cart_lines(cart),
                    "cart {id} lines"
                );
            }
            "converted" => {
                let row = ours
                    .get(id)
                    .unwrap_or_else(|| panic!("converted cart {id} has no row"));
                assert_eq!(row["state"], "converted", "cart {id}");
                assert_eq!(row["order_id"], cart["order_id"], "cart {id} order");
            }
            _ => assert!(
                !ours.contains_key(id),
                "{state} cart {id} still has a live row"
            ),
        }
    }
    for state in ["active", "converted"] {
        assert!(
            by_state.get(state).copied().unwrap_or(0) > 0,
            "some {state} carts: {by_state:?}"
        );
    }
    assert!(
        !rows_by_key(&listened, "customers", false).is_empty()
            || !status.by_kind.contains_key("customer_deleted"),
        "deleted customers are marked"
    );
}
