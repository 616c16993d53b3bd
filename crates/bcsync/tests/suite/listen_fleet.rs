//! The fleet's webhook path over a real NATS JetStream server and real PostgreSQL:
//! receivers (`listen --nats`) publish accepted deliveries, workers
//! (`forward_to_inboxes`) commit them into each store's inbox and ack only then, and
//! `listen --apply-pending` applies the inbox once. Receivers and workers are killed
//! mid-stream; every acknowledged delivery ends in the inbox exactly once.
//!
//! Each test has a fleet (stream) and schema of its own, so they run in parallel. The
//! servers come from `BCSYNC_TEST_NATS_URL` and `BCSYNC_TEST_POSTGRES_URL`; unset, a test
//! says so and skips (under CI=true it fails instead).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::listen_support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bc_sandbox::{RunningSandbox, SeedSpec};
use bcsync::listen::jetstream::{self, ForwardOptions};
use bcsync::pg::PgTarget;
use futures::StreamExt;
use listen_support::common::{self, api};
use listen_support::{SECRET, deliver, free_port, payload, post, try_deliver, wait_for};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn seed() -> SeedSpec {
    SeedSpec {
        seed: 21,
        customers: 60,
        addresses_per_customer: 1,
        customer_groups: 2,
        products: 30,
        variants_per_product: 2,
        images_per_product: 1,
        custom_fields_per_product: 1,
        categories: 3,
        brands: 2,
        orders: 60,
        lines_per_order: 2,
        coupons: 2,
        history_days: 10,
    }
}

/// The servers, a fleet name and a schema of this test's own; `None` skips the test.
fn setup(tag: &str) -> Option<(String, String, String, String)> {
    let nats = common::nats_url()?;
    let pg = common::pg_url()?;
    Some((nats, pg, common::unique_name(tag), common::unique_name(tag)))
}

async fn drop_stream(nats: &str, fleet: &str) {
    let client = async_nats::connect(nats).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let _ = js.delete_stream(jetstream::stream_name(fleet)).await;
}

/// A fleet receiver in this process on port 0, accepting `stores`.
async fn receiver(nats: &str, fleet: &str, stores: &[&str]) -> jetstream::RunningReceiver {
    jetstream::start_receiver(
        nats,
        fleet,
        SecretString::from(SECRET.to_owned()),
        jetstream::stores_from(stores.iter().map(|s| (*s).to_owned())),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        false,
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

/// A worker: `forward_to_inboxes_with` in a task, every event of `store` into `target`.
/// Returns the task, its stop token and how many times it reported a store stored.
fn worker(
    nats: &str,
    fleet: &str,
    options: ForwardOptions,
    store: &str,
    target: PgTarget,
) -> (
    tokio::task::JoinHandle<bcsync::Result<()>>,
    CancellationToken,
    Arc<AtomicUsize>,
) {
    let cancel = CancellationToken::new();
    let stored = Arc::new(AtomicUsize::new(0));
    let (nats, fleet, store) = (nats.to_owned(), fleet.to_owned(), store.to_owned());
    let task = {
        let (cancel, stored) = (cancel.clone(), Arc::clone(&stored));
        tokio::spawn(async move {
            jetstream::forward_to_inboxes_with(
                &nats,
                &fleet,
                &options,
                move |s| (s == store).then(|| target.clone()),
                move |_| {
                    stored.fetch_add(1, Ordering::Relaxed);
                },
                cancel,
            )
            .await
        })
    };
    (task, cancel, stored)
}

/// Stops a worker task started here and checks it ended cleanly.
async fn stop_worker(task: tokio::task::JoinHandle<bcsync::Result<()>>, cancel: CancellationToken) {
    cancel.cancel();
    task.await.unwrap().unwrap();
}

/// The inbox's rows: delivery hash → generation.
async fn inbox_rows(pg: &tokio_postgres::Client, schema: &str) -> BTreeMap<String, i64> {
    pg.query(
        &format!("SELECT hash, generation FROM \"{schema}\"._bcsync_inbox"),
        &[],
    )
    .await
    .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    .unwrap_or_default()
}

/// Waits until the workers committed everything (`n` rows) and the consumer has nothing
/// pending or unacked.
async fn wait_committed(
    pg: &tokio_postgres::Client,
    schema: &str,
    nats: &str,
    fleet: &str,
    n: usize,
) {
    wait_for("the workers to commit every event", || async move {
        inbox_rows(pg, schema).await.len() >= n
            && jetstream::consumer_lag(nats, fleet).await.unwrap() == 0
    })
    .await;
}

/// A customer update in the store and the delivery it fires.
async fn customer_change(sb: &RunningSandbox, i: u64) -> Value {
    let id = 1 + (i % 50);
    let (s, _) = api(
        sb,
        Method::PUT,
        "/v3/customers",
        Some(json!([{"id": id, "first_name": format!("F{i}")}])),
    )
    .await;
    assert_eq!(s, 200);
    payload(
        sb.store_hash(),
        "store/customer/updated",
        json!({"type": "customer", "id": id}),
        i,
    )
}

/// (a) A delivery lands once in the inbox; a repeat (same hash) is still one row; forged
/// deliveries and strangers' are refused before anything is published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_lands_once_in_its_inbox() {
    let Some((nats, url, fleet, schema)) = setup("fleet_a") else {
        return;
    };
    let pg = common::connect(&url).await;
    let store = "abc123";
    let target = PgTarget::parse(&common::pg_with_schema(&url, &schema), None).unwrap();
    let r = receiver(&nats, &fleet, &[store]).await;
    let e1 = payload(
        store,
        "store/customer/updated",
        json!({"type": "customer", "id": 1}),
        1,
    );
    let e2 = payload(
        store,
        "store/order/created",
        json!({"type": "order", "id": 7}),
        2,
    );
    let stranger = payload(
        "zzz999",
        "store/customer/updated",
        json!({"type": "customer", "id": 1}),
        3,
    );
    assert_eq!(deliver(r.addr, &e1).await, 200);
    assert_eq!(deliver(r.addr, &e1).await, 200, "a repeat is answered 200");
    assert_eq!(deliver(r.addr, &e2).await, 200);
    assert_eq!(post(r.addr, Some("wrong"), e1.to_string()).await, 401);
    assert_eq!(post(r.addr, None, e1.to_string()).await, 401);
    assert_eq!(deliver(r.addr, &stranger).await, 401);
    assert_eq!(post(r.addr, Some(SECRET), "not json").await, 400);
    assert_eq!(r.counts.accepted.load(Ordering::Relaxed), 2);
    assert_eq!(
        r.counts.duplicates.load(Ordering::Relaxed),
        1,
        "JetStream dropped the repeat"
    );
    assert_eq!(jetstream::consumer_lag(&nats, &fleet).await.unwrap(), 2);

    let (task, cancel, stored) = worker(&nats, &fleet, ForwardOptions::default(), store, target);
    wait_committed(&pg, &schema, &nats, &fleet, 2).await;
    assert!(stored.load(Ordering::Relaxed) >= 1, "on_stored was called");
    // The same delivery once more, after it was committed: still one row.
    assert_eq!(deliver(r.addr, &e1).await, 200);
    wait_committed(&pg, &schema, &nats, &fleet, 2).await;
    let rows = inbox_rows(&pg, &schema).await;
    let want: BTreeSet<String> = [&e1, &e2]
        .iter()
        .map(|e| e["hash"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(rows.keys().cloned().collect::<BTreeSet<_>>(), want);
    stop_worker(task, cancel).await;
    r.shutdown().await.unwrap();
    drop_stream(&nats, &fleet).await;
    common::drop_schema(&pg, &schema).await;
}

/// A store added to the fleet just before its first delivery: the worker has not re-read
/// the registry yet, so the event is offered again later rather than dropped, and lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_of_a_store_the_worker_does_not_know_yet_waits_for_it() {
    use std::sync::atomic::AtomicBool;
    let Some((nats, url, fleet, schema)) = setup("fleet_late") else {
        return;
    };
    let pg = common::connect(&url).await;
    let store = "late123";
    let target = PgTarget::parse(&common::pg_with_schema(&url, &schema), None).unwrap();
    let r = receiver(&nats, &fleet, &[store]).await;
    let event = payload(
        store,
        "store/customer/updated",
        json!({"type": "customer", "id": 4}),
        1,
    );
    assert_eq!(deliver(r.addr, &event).await, 200);
    let known = Arc::new(AtomicBool::new(false));
    let cancel = CancellationToken::new();
    let task = {
        let (nats, fleet, cancel, known) =
            (nats.clone(), fleet.clone(), cancel.clone(), known.clone());
        tokio::spawn(async move {
            jetstream::forward_to_inboxes_with(
                &nats,
                &fleet,
                &ForwardOptions::default(),
                move |s| (s == store && known.load(Ordering::Relaxed)).then(|| target.clone()),
                |_| {},
                cancel,
            )
            .await
        })
    };
    // Past the first offer and its retry delay: the worker has seen the event already.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert!(inbox_rows(&pg, &schema).await.is_empty());
    known.store(true, Ordering::Relaxed);
    wait_committed(&pg, &schema, &nats, &fleet, 1).await;
    assert_eq!(
        inbox_rows(&pg, &schema)
            .await
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        vec![event["hash"].as_str().unwrap().to_owned()]
    );
    stop_worker(task, cancel).await;
    r.shutdown().await.unwrap();
    drop_stream(&nats, &fleet).await;
    common::drop_schema(&pg, &schema).await;
}

/// A worker writes every store's inbox through one connection: events of 20 stores, in
/// 20 schemas, land over a single PostgreSQL connection (one each exhausted the server's
/// connections in a 200-store fleet).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_carries_every_stores_inbox() {
    let Some((nats, url, fleet, schema)) = setup("fleet_conn") else {
        return;
    };
    let pg = common::connect(&url).await;
    let app = common::unique_name("inboxconn");
    let stores: Vec<String> = (0..20).map(|i| format!("conn{i:02}")).collect();
    let names: Vec<&str> = stores.iter().map(String::as_str).collect();
    let r = receiver(&nats, &fleet, &names).await;
    for (i, store) in stores.iter().enumerate() {
        let e = payload(
            store,
            "store/customer/updated",
            json!({"type": "customer", "id": i + 1}),
            i as u64,
        );
        assert_eq!(deliver(r.addr, &e).await, 200);
    }
    let base = format!(
        "{}&application_name={app}",
        common::pg_with_schema(&url, &schema)
    );
    let cancel = CancellationToken::new();
    let task = {
        let (nats, fleet, cancel) = (nats.clone(), fleet.clone(), cancel.clone());
        tokio::spawn(async move {
            jetstream::forward_to_inboxes_with(
                &nats,
                &fleet,
                &ForwardOptions::default(),
                move |s| {
                    PgTarget::parse(&base, None)
                        .ok()
                        .map(|t| t.with_schema(&format!("{}_{s}", t.schema)))
                },
                |_| {},
                cancel,
            )
            .await
        })
    };
    wait_for("every store's event committed", || {
        let (pg, schema, stores) = (&pg, &schema, &stores);
        async move {
            let mut n = 0;
            for s in stores {
                n += inbox_rows(pg, &format!("{schema}_{s}")).await.len();
            }
            n == stores.len()
        }
    })
    .await;
    let held: i64 = pg
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(held, 1, "the worker's inbox connections");
    stop_worker(task, cancel).await;
    r.shutdown().await.unwrap();
    drop_stream(&nats, &fleet).await;
    for s in &stores {
        common::drop_schema(&pg, &format!("{schema}_{s}")).await;
    }
}

fn spawn_receiver(
    sb: &RunningSandbox,
    dir: &std::path::Path,
    port: u16,
    nats: &str,
    fleet: &str,
) -> std::process::Child {
    let bind = format!("127.0.0.1:{port}");
    common::bcsync_in(
        sb,
        dir,
        &[
            "listen",
            "--nats",
            nats,
            "--fleet",
            fleet,
            "--fleet-stores",
            &format!("other1,{}", sb.store_hash()),
            "--bind",
            &bind,
            "--reuse-port",
        ],
    )
    .env("BCSYNC_WEBHOOK_SECRET", SECRET)
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap()
}

async fn healthy(addr: SocketAddr) -> bool {
    reqwest::Client::new()
        .get(format!("http://{addr}/health"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// (b) Two `listen --nats` processes share one port (SO_REUSEPORT); one is killed with
/// SIGKILL mid-stream and restarted while the store's deliveries keep coming (refused
/// ones retried, as the store does). Every delivery answered 200 reaches the inbox, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_killed_mid_stream_loses_and_doubles_nothing() {
    let Some((nats, url, fleet, schema)) = setup("fleet_b") else {
        return;
    };
    let pg = common::connect(&url).await;
    let sb = common::sandbox(seed()).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut a = spawn_receiver(&sb, dir.path(), port, &nats, &fleet);
    let mut b = spawn_receiver(&sb, dir.path(), port, &nats, &fleet);
    wait_for("a receiver on the shared port", || healthy(addr)).await;

    let mut events = Vec::new();
    for i in 0..60 {
        events.push(customer_change(&sb, i).await);
    }
    let events = Arc::new(events);
    // The store delivers a few at a time, each retried until it is answered 200; the
    // receivers are killed at known counts of acknowledged deliveries, with others in
    // flight.
    let (count_tx, mut count) = tokio::sync::watch::channel(0usize);
    let refused = Arc::new(AtomicUsize::new(0));
    let sender = tokio::spawn({
        let refused = Arc::clone(&refused);
        async move {
            let acknowledged = parking_lot::Mutex::new(BTreeSet::new());
            futures::stream::iter(events.iter())
                .for_each_concurrent(4, |e| {
                    let (acknowledged, count_tx, refused) = (&acknowledged, &count_tx, &refused);
                    async move {
                        let mut answered = false;
                        for _ in 0..600 {
                            if try_deliver(addr, e).await {
                                answered = true;
                                break;
                            }
                            refused.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        if answered {
                            acknowledged
                                .lock()
                                .insert(e["hash"].as_str().unwrap().to_owned());
                            count_tx.send_modify(|n| *n += 1);
                        }
                        // A store's deliveries come spread out, not all in one instant.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                })
                .await;
            acknowledged.into_inner()
        }
    });
    // SIGKILL one receiver: the other takes the port's connections alone.
    count.wait_for(|n| *n >= 20).await.unwrap();
    a.kill().unwrap();
    a.wait().unwrap();
    // Then the other: deliveries are refused (and retried) until a receiver restarts.
    count.wait_for(|n| *n >= 35).await.unwrap();
    b.kill().unwrap();
    b.wait().unwrap();
    wait_for("refused deliveries while no receiver runs", || {
        let n = refused.load(Ordering::Relaxed);
        async move { n >= 4 }
    })
    .await;
    a = spawn_receiver(&sb, dir.path(), port, &nats, &fleet);
    let acknowledged = sender.await.unwrap();
    assert_eq!(
        acknowledged.len(),
        60,
        "every delivery was answered 200 at last"
    );

    let target = PgTarget::parse(&common::pg_with_schema(&url, &schema), None).unwrap();
    let (task, cancel, _) = worker(
        &nats,
        &fleet,
        ForwardOptions::default(),
        sb.store_hash(),
        target,
    );
    wait_committed(&pg, &schema, &nats, &fleet, acknowledged.len()).await;
    let rows = inbox_rows(&pg, &schema).await;
    assert_eq!(
        rows.keys().cloned().collect::<BTreeSet<_>>(),
        acknowledged,
        "the inbox holds every acknowledged delivery and nothing else"
    );
    stop_worker(task, cancel).await;
    a.kill().unwrap();
    a.wait().unwrap();
    drop_stream(&nats, &fleet).await;
    common::drop_schema(&pg, &schema).await;
}

/// (c) A worker dies mid-stream twice: once after taking messages and committing some of
/// them but acking none, once aborted while it forwards. JetStream offers their messages
/// to the next worker, and the inbox holds each event exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_batch_is_redelivered_to_another() {
    let Some((nats, url, fleet, schema)) = setup("fleet_c") else {
        return;
    };
    let pg = common::connect(&url).await;
    let store = "def456";
    let target = PgTarget::parse(&common::pg_with_schema(&url, &schema), None).unwrap();
    let r = receiver(&nats, &fleet, &[store]).await;
    let mut hashes = BTreeSet::new();
    for i in 0..40 {
        let e = payload(
            store,
            "store/customer/updated",
            json!({"type": "customer", "id": i}),
            i,
        );
        assert_eq!(deliver(r.addr, &e).await, 200);
        hashes.insert(e["hash"].as_str().unwrap().to_owned());
    }
    // A short ack wait, so the dead workers' messages come back within the test.
    let options = ForwardOptions {
        ack_wait: Duration::from_secs(2),
        batch: 8,
    };
    // Worker 1 takes 15 messages, commits 5 of them, and dies before any ack.
    let client = async_nats::connect(&nats).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream(jetstream::stream_name(&fleet)).await.unwrap();
    let consumer: async_nats::jetstream::consumer::PullConsumer = stream
        .create_consumer(jetstream::consumer_config(&options))
        .await
        .unwrap();
    let mut taken = Vec::new();
    let mut batch = consumer
        .fetch()
        .max_messages(15)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .unwrap();
    while let Some(m) = batch.next().await {
        taken.push(m.unwrap());
    }
    assert_eq!(taken.len(), 15);
    let inbox = bcsync::listen::Inbox::open_postgres(&target).await.unwrap();
    let rows: Vec<_> = taken[..5]
        .iter()
        .map(|m| {
            let body = String::from_utf8(m.payload.to_vec()).unwrap();
            (serde_json::from_str(&body).unwrap(), body)
        })
        .collect();
    inbox.accept_batch(store, &rows).await.unwrap();
    drop(taken);
    assert_eq!(inbox_rows(&pg, &schema).await.len(), 5);

    // Worker 2 is aborted (dropped mid-flight, no shutdown) once it committed something.
    let (task, _, stored) = worker(&nats, &fleet, options.clone(), store, target.clone());
    wait_for("worker 2 to commit a batch", || {
        let n = stored.load(Ordering::Relaxed);
        async move { n >= 1 }
    })
    .await;
    task.abort();
    let _ = task.await;

    // Worker 3 gets everything the others left, including what they took and never acked.
    let (task, cancel, _) = worker(&nats, &fleet, options, store, target);
    wait_committed(&pg, &schema, &nats, &fleet, hashes.len()).await;
    let rows = inbox_rows(&pg, &schema).await;
    assert_eq!(rows.keys().cloned().collect::<BTreeSet<_>>(), hashes);
    let info = stream.clone().info().await.unwrap().state.messages;
    assert_eq!(info, 0, "every message was acked and left the work queue");
    stop_worker(task, cancel).await;
    r.shutdown().await.unwrap();
    drop_stream(&nats, &fleet).await;
    common::drop_schema(&pg, &schema).await;
}

/// Live rows of `table` in `schema`: key → `_raw`.
async fn pg_live(
    pg: &tokio_postgres::Client,
    schema: &str,
    table: &str,
) -> BTreeMap<String, Value> {
    pg.query(
        &format!("SELECT id::text, _raw FROM \"{schema}\".\"{table}\" WHERE _deleted_at IS NULL"),
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

async fn pg_marked(pg: &tokio_postgres::Client, schema: &str, table: &str) -> BTreeSet<String> {
    pg.query(
        &format!("SELECT id::text FROM \"{schema}\".\"{table}\" WHERE _deleted_at IS NOT NULL"),
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

async fn pg_children(pg: &tokio_postgres::Client, schema: &str, table: &str) -> Vec<String> {
    let mut v: Vec<String> = pg
        .query(
            &format!("SELECT _raw::text FROM \"{schema}\".\"{table}\" WHERE _deleted_at IS NULL"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    v.sort();
    v
}

/// (d) Events carried through JetStream into the inbox, then `bcsync listen
/// --apply-pending`: the destination equals a fresh full extraction of the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_pending_makes_the_destination_equal_a_full_extraction() {
    let Some((nats, url, fleet, schema)) = setup("fleet_d") else {
        return;
    };
    let fresh = common::unique_name("fleet_d_full");
    let pg = common::connect(&url).await;
    let sb = common::sandbox(seed()).await;
    let hash = sb.store_hash().to_owned();
    let to = common::pg_with_schema(&url, &schema);
    common::extract(&sb, &to, &["customers", "products", "orders"])
        .await
        .unwrap();
    let r = receiver(&nats, &fleet, &[&hash]).await;
    let orders: Vec<i64> = common::list_all(&sb, "v2", "/orders", "")
        .await
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect();
    let mut events = Vec::new();
    for i in 0..12 {
        events.push(customer_change(&sb, i).await);
    }
    for (n, id) in [(3u32, 1), (4, 2)] {
        let (s, _) = api(
            &sb,
            Method::PUT,
            "/v3/catalog/products",
            Some(json!([{"id": id, "price": 99.5 + f64::from(n)}])),
        )
        .await;
        assert_eq!(s, 200);
        events.push(payload(
            &hash,
            "store/product/updated",
            json!({"type": "product", "id": id}),
            100 + u64::from(n),
        ));
    }
    let (s, _) = api(&sb, Method::DELETE, "/v3/customers?id:in=55", None).await;
    assert!(s < 300, "{s}");
    events.push(payload(
        &hash,
        "store/customer/deleted",
        json!({"type": "customer", "id": 55}),
        200,
    ));
    let (s, _) = api(
        &sb,
        Method::PUT,
        &format!("/v2/orders/{}", orders[0]),
        Some(json!({"status_id": 10})),
    )
    .await;
    assert_eq!(s, 200);
    events.push(payload(
        &hash,
        "store/order/statusUpdated",
        json!({"type": "order", "id": orders[0]}),
        201,
    ));
    let (s, _) = api(
        &sb,
        Method::DELETE,
        &format!("/v2/orders/{}", orders[1]),
        None,
    )
    .await;
    assert!(s < 300, "{s}");
    events.push(payload(
        &hash,
        "store/order/archived",
        json!({"type": "order", "id": orders[1]}),
        202,
    ));
    for e in &events {
        assert_eq!(deliver(r.addr, e).await, 200);
    }
    let target = PgTarget::parse(&to, None).unwrap();
    let (task, cancel, _) = worker(&nats, &fleet, ForwardOptions::default(), &hash, target);
    wait_committed(&pg, &schema, &nats, &fleet, events.len()).await;
    stop_worker(task, cancel).await;

    let dir = tempfile::tempdir().unwrap();
    let out = common::bcsync_in(&sb, dir.path(), &["listen", "--to", &to, "--apply-pending"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    let pending: i64 = pg
        .query_one(
            &format!("SELECT count(*) FROM \"{schema}\"._bcsync_inbox WHERE applied_at IS NULL"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(pending, 0, "apply-pending applied every event");

    common::extract(
        &sb,
        &common::pg_with_schema(&url, &fresh),
        &["customers", "products", "orders"],
    )
    .await
    .unwrap();
    for table in ["customers", "products", "orders"] {
        let live = pg_live(&pg, &schema, table).await;
        let want = pg_live(&pg, &fresh, table).await;
        assert_eq!(
            live.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{table}: live keys"
        );
        for (k, v) in &want {
            assert_eq!(&live[k], v, "{table} {k}");
        }
        for k in pg_marked(&pg, &schema, table).await {
            assert!(
                !want.contains_key(&k),
                "{table} {k} is marked deleted but exists"
            );
        }
    }
    assert!(pg_marked(&pg, &schema, "customers").await.contains("55"));
    for child in ["customer_addresses", "order_lines", "product_variants"] {
        assert_eq!(
            pg_children(&pg, &schema, child).await,
            pg_children(&pg, &fresh, child).await,
            "{child}"
        );
    }
    r.shutdown().await.unwrap();
    drop_stream(&nats, &fleet).await;
    common::drop_schema(&pg, &schema).await;
    common::drop_schema(&pg, &fresh).await;
}
