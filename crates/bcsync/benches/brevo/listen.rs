//! The listen phase of the Brevo benchmark: `bcsync listen` (in process, as the suite's
//! brevo_listen tests run it) receives the sandbox's webhooks over real HTTP, writes into
//! the SQLite destination the first sync read, and forwards to the Brevo emulator over
//! real HTTP. The bench makes a steady stream of store changes through the store's API and
//! watches the emulator's own state (in process, so watching costs no request) for each
//! change to arrive:
//! - customer renamed → the contact's `FIRSTNAME` holds the new name;
//! - cart created → a `cart_updated` event for that cart;
//! - cart updated (an item added) → a `cart_updated` event with the new item count;
//! - cart deleted → a `cart_deleted` event for that cart;
//! - order placed (a cart checked out) → the live (not historical) order in Brevo.
//!
//! Latency is wall time: from just before the store write is sent to the first look at
//! the emulator that finds it (looks every 10 ms). The emulator runs unscaled here (one
//! second lasts a second) on the general tier's buckets, so its per-second limits are
//! the real ones; only its rate windows were scaled for the bulk sync before.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bc_sandbox::RunningSandbox;
use bc_sandbox::brevo::RunningBrevo;
use bcsync::listen::{
    ApplyOptions, BREVO_FORWARDED_AT, BrevoForwarding, ListenOptions, ListenTarget,
};
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::Notify;

/// Settings of the phase (`BENCH_LISTEN_RATE` changes per second, `BENCH_LISTEN_SECS`).
pub struct ListenSpec {
    pub rate: f64,
    pub secs: f64,
    /// How long to wait, once the store stops, for the last changes to arrive.
    pub drain: Duration,
}

/// The kinds of store change, in the order they are reported.
const KINDS: [&str; 5] = [
    "customer updated",
    "cart created",
    "cart updated",
    "cart deleted",
    "order placed",
];

/// One cycle of ten changes: 3 customer updates, 3 carts created, 1 updated, 1 deleted and
/// 2 checked out as orders. A cart is updated, deleted or checked out only once Brevo has
/// its latest content, as a shopper's next step comes seconds later: a change superseded
/// before it was forwarded rightly never reaches Brevo (a cart deleted before Brevo heard
/// of it sends nothing; one checked out sends its order, not its last content).
const CYCLE: [usize; 10] = [0, 1, 1, 2, 0, 4, 1, 3, 0, 4];

/// What Brevo shows once a change arrived.
#[derive(Debug, Clone)]
enum Evidence {
    Attribute {
        email: String,
        name: &'static str,
        value: String,
    },
    CartEvent {
        event: &'static str,
        cart: String,
        item_count: Option<u64>,
    },
    LiveOrder {
        id: String,
    },
}

struct Expected {
    kind: usize,
    written: Instant,
    evidence: Evidence,
}

/// What the watcher shares with the writer: the changes still awaited, the latencies of
/// those that arrived, and for each cart the item count of its latest event in Brevo.
#[derive(Default)]
struct Watch {
    pending: Vec<Expected>,
    arrived: Vec<(usize, Duration)>,
    carts_seen: HashMap<String, u64>,
}

/// The emulator's events, indexed as they are seen: (event name, cart id, item count) →
/// when first seen.
#[derive(Default)]
struct SeenEvents {
    next: usize,
    first_seen: HashMap<(String, String), Instant>,
    with_count: HashMap<(String, String, u64), Instant>,
}

impl SeenEvents {
    fn scan(&mut self, brevo: &RunningBrevo, now: Instant) {
        let store = brevo.state.store.lock();
        for e in store.events.iter().skip(self.next) {
            let Some(cart) = e.event_properties.get("cart_id").and_then(Value::as_str) else {
                continue;
            };
            let key = (e.event_name.clone(), cart.to_owned());
            self.first_seen.entry(key).or_insert(now);
            if let Some(n) = e.event_properties.get("item_count").and_then(Value::as_u64) {
                self.with_count
                    .entry((e.event_name.clone(), cart.to_owned(), n))
                    .or_insert(now);
            }
        }
        self.next = store.events.len();
    }

    fn arrived(&self, brevo: &RunningBrevo, evidence: &Evidence, now: Instant) -> Option<Instant> {
        match evidence {
            Evidence::Attribute { email, name, value } => {
                let store = brevo.state.store.lock();
                let id = store.find_by_email(email)?;
                let c = store.contacts.get(&id)?;
                (c.attributes.get(*name).and_then(Value::as_str) == Some(value.as_str()))
                    .then_some(now)
            }
            Evidence::CartEvent {
                event,
                cart,
                item_count,
            } => match item_count {
                Some(n) => self
                    .with_count
                    .get(&((*event).to_owned(), cart.clone(), *n))
                    .copied(),
                None => self
                    .first_seen
                    .get(&((*event).to_owned(), cart.clone()))
                    .copied(),
            },
            Evidence::LiveOrder { id } => {
                let store = brevo.state.store.lock();
                store
                    .orders
                    .get(id)
                    .is_some_and(|o| !o.historical)
                    .then_some(now)
            }
        }
    }
}

/// Looks at the emulator every 10 ms until `stop`, moving arrived changes out of pending.
async fn watch(brevo: Arc<RunningBrevo>, shared: Arc<Mutex<Watch>>, stop: Arc<Notify>) {
    let mut seen = SeenEvents::default();
    loop {
        let now = Instant::now();
        seen.scan(&brevo, now);
        {
            let mut w = shared.lock();
            let pending = std::mem::take(&mut w.pending);
            for e in pending {
                match seen.arrived(&brevo, &e.evidence, now) {
                    Some(at) => {
                        if let Evidence::CartEvent {
                            event: "cart_updated",
                            cart,
                            item_count,
                        } = &e.evidence
                        {
                            let n = item_count.unwrap_or(1);
                            let seen = w.carts_seen.entry(cart.clone()).or_default();
                            *seen = (*seen).max(n);
                        }
                        let latency = at.saturating_duration_since(e.written);
                        w.arrived.push((e.kind, latency));
                    }
                    None => w.pending.push(e),
                }
            }
        }
        tokio::select! {
            () = stop.notified() => return,
            () = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
}

/// The store's API over HTTP: status and body.
async fn call(
    http: &reqwest::Client,
    sb: &RunningSandbox,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http
        .request(method, format!("{}{path}", sb.store_url()))
        .header("X-Auth-Token", sb.token());
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// An open cart of the bench: id, items in it.
struct OpenCart {
    id: String,
    items: u64,
}

/// Runs the phase; `to` is the destination the first sync read, `state` its push store.
pub async fn run(
    sb: &RunningSandbox,
    brevo: Arc<RunningBrevo>,
    to: &str,
    state: &str,
    brevo_toml: &str,
    spec: &ListenSpec,
) {
    // Real time for the listen phase: a second lasts a second, so the buckets' per-second
    // limits are Brevo's own; windows counted during the scaled sync are forgotten.
    brevo.state.settings.write().time_scale = 1.0;
    brevo.state.limiter.clear();
    let tier = brevo.state.settings.read().limits.tier.clone();

    // Customers with a contact in Brevo, and products to put in carts.
    let customers: Vec<(i64, String)> = {
        let path = to.strip_prefix("sqlite:").unwrap_or(to);
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT json_extract(_raw, '$.id'), json_extract(_raw, '$.email') FROM customers
                 WHERE _deleted_at IS NULL ORDER BY rowid",
            )
            .unwrap();
        let rows: Vec<(i64, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let store = brevo.state.store.lock();
        rows.into_iter()
            .map(|(id, email)| (id, email.trim().to_lowercase()))
            .filter(|(_, email)| store.find_by_email(email).is_some())
            .collect()
    };
    assert!(!customers.is_empty(), "no customer has a contact in Brevo");
    let http = reqwest::Client::new();
    let mut lines: Vec<(i64, i64)> = Vec::new();
    for product in 1..=5 {
        let (s, body) = call(
            &http,
            sb,
            reqwest::Method::GET,
            &format!("/v3/catalog/products/{product}?include=variants"),
            None,
        )
        .await;
        if s == 200
            && let Some(v) = body["data"]["variants"][0]["id"].as_i64()
        {
            lines.push((product, v));
        }
    }
    assert!(!lines.is_empty(), "no product to put in a cart");

    // The listener, forwarding to Brevo.
    let doc: toml::Table = toml::from_str(brevo_toml).unwrap();
    let config = bcsync::marketing::config::parse(doc.get("brevo")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = ListenOptions {
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        public_url: Some(format!("http://127.0.0.1:{port}/webhooks")),
        poll_interval: Duration::from_secs(3600),
        reconcile_interval: Duration::from_secs(3600),
        hook_check_interval: Duration::from_secs(3600),
        apply: ApplyOptions::default(),
        brevo: Some(BrevoForwarding {
            config,
            state: state.to_owned(),
        }),
        alerts: None,
    };
    let client = bigcommerce::Client::new(
        bigcommerce::ClientConfig::new(
            sb.store_hash().to_owned(),
            SecretString::from(sb.token().to_owned()),
        )
        .with_base_url(sb.base_url()),
    )
    .unwrap();
    let started = Instant::now();
    let listener = bcsync::listen::start(
        client,
        Arc::new(bcsync::extract::RequestCounter::default()),
        ListenTarget::parse(to, sb.store_hash()).unwrap(),
        SecretString::from("bench-brevo-listen-secret".to_owned()),
        options,
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap();
    // Ready once the start-up poll and the first forward (the baselines) are done.
    loop {
        let polled = listener.inbox.meta("last_sync_at").await.unwrap().is_some();
        let forwarded = listener
            .inbox
            .meta(BREVO_FORWARDED_AT)
            .await
            .unwrap()
            .is_some();
        if polled && forwarded {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the listener did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "listen: ready in {:.1} s (hooks, start-up poll, first forward); Brevo unscaled, {tier} tier",
        started.elapsed().as_secs_f64()
    );

    let log_before = brevo.state.log.lock().len();
    let shared = Arc::new(Mutex::new(Watch::default()));
    let stop = Arc::new(Notify::new());
    let watcher = tokio::spawn(watch(brevo.clone(), shared.clone(), stop.clone()));

    // The store's changes, one every 1/rate seconds.
    let mut open: VecDeque<OpenCart> = VecDeque::new();
    let mut written = [0u64; KINDS.len()];
    let mut failed_writes = 0u64;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / spec.rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let phase = Instant::now();
    let mut n: u64 = 0;
    while phase.elapsed().as_secs_f64() < spec.secs {
        tick.tick().await;
        let mut kind = CYCLE[(n % CYCLE.len() as u64) as usize];
        let (cid, email) = &customers[(n as usize * 7) % customers.len()];
        let line = lines[(n as usize) % lines.len()];
        n += 1;
        // A cart to act on: the oldest open one whose latest content Brevo has.
        let ready = {
            let w = shared.lock();
            open.iter()
                .position(|c| w.carts_seen.get(&c.id) == Some(&c.items))
        };
        if (2..=4).contains(&kind) && ready.is_none() {
            kind = 1;
        }
        let t = Instant::now();
        let evidence = match kind {
            0 => {
                let value = format!("Listen{n}");
                let (s, _) = call(
                    &http,
                    sb,
                    reqwest::Method::PUT,
                    "/v3/customers",
                    Some(json!([{"id": cid, "first_name": value}])),
                )
                .await;
                (s == 200).then(|| Evidence::Attribute {
                    email: email.clone(),
                    name: "FIRSTNAME",
                    value,
                })
            }
            1 => {
                let (s, body) = call(
                    &http,
                    sb,
                    reqwest::Method::POST,
                    "/v3/carts",
                    Some(json!({"customer_id": cid, "line_items": [{"product_id": line.0, "variant_id": line.1, "quantity": 1}]})),
                )
                .await;
                body["data"]["id"].as_str().filter(|_| s == 201).map(|id| {
                    open.push_back(OpenCart {
                        id: id.to_owned(),
                        items: 1,
                    });
                    Evidence::CartEvent {
                        event: "cart_updated",
                        cart: id.to_owned(),
                        item_count: None,
                    }
                })
            }
            2 => {
                let i = ready.unwrap_or(0);
                let cart = &mut open[i];
                let (s, _) = call(
                    &http,
                    sb,
                    reqwest::Method::POST,
                    &format!("/v3/carts/{}/items", cart.id),
                    Some(json!({"line_items": [{"product_id": line.0, "variant_id": line.1, "quantity": 2}]})),
                )
                .await;
                (s == 201 || s == 200).then(|| {
                    cart.items += 2;
                    Evidence::CartEvent {
                        event: "cart_updated",
                        cart: cart.id.clone(),
                        item_count: Some(cart.items),
                    }
                })
            }
            3 => {
                let cart = open.remove(ready.unwrap_or(0)).unwrap();
                let (s, _) = call(
                    &http,
                    sb,
                    reqwest::Method::DELETE,
                    &format!("/v3/carts/{}", cart.id),
                    None,
                )
                .await;
                (s == 204).then(|| Evidence::CartEvent {
                    event: "cart_deleted",
                    cart: cart.id.clone(),
                    item_count: None,
                })
            }
            _ => {
                let cart = open.remove(ready.unwrap_or(0)).unwrap();
                let (s, body) = call(
                    &http,
                    sb,
                    reqwest::Method::POST,
                    &format!("/v3/checkouts/{}/orders", cart.id),
                    None,
                )
                .await;
                body["data"]["id"]
                    .as_i64()
                    .filter(|_| s == 200 || s == 201)
                    .map(|id| Evidence::LiveOrder { id: id.to_string() })
            }
        };
        match evidence {
            Some(evidence) => {
                written[kind] += 1;
                shared.lock().pending.push(Expected {
                    kind,
                    written: t,
                    evidence,
                });
            }
            None => failed_writes += 1,
        }
    }
    let store_stopped = Instant::now();
    let total: u64 = written.iter().sum();
    while store_stopped.elapsed() < spec.drain && !shared.lock().pending.is_empty() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.notify_one();
    watcher.await.unwrap();
    let drained_in = store_stopped.elapsed();
    listener.shutdown().await.unwrap();

    // Brevo's side of the phase: requests per bucket and 429s, from its request log.
    let mut buckets: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut throttled = 0u64;
    for e in brevo.state.log.lock().iter().skip(log_before) {
        *buckets.entry(e.bucket.name()).or_default() += 1;
        if e.status == 429 {
            throttled += 1;
        }
    }

    let w = shared.lock();
    let hist = || Histogram::<u64>::new_with_bounds(1, 3_600_000, 3).unwrap();
    let mut all = hist();
    let mut per: Vec<Histogram<u64>> = KINDS.iter().map(|_| hist()).collect();
    for (kind, d) in &w.arrived {
        let ms = (d.as_millis() as u64).max(1);
        all.record(ms).unwrap();
        per[*kind].record(ms).unwrap();
    }
    let line = |h: &Histogram<u64>| {
        format!(
            "p50 {} ms, p95 {} ms, p99 {} ms, max {} ms",
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.95),
            h.value_at_quantile(0.99),
            h.max()
        )
    };
    println!(
        "listen: {total} store changes at {:.1}/s for {:.0} s ({failed_writes} writes refused by the store); {} arrived in Brevo, {} not within {:.0} s of the store stopping (last arrived {:.1} s after)",
        spec.rate,
        spec.secs,
        w.arrived.len(),
        w.pending.len(),
        spec.drain.as_secs_f64(),
        drained_in.as_secs_f64()
    );
    println!(
        "  store change -> Brevo, all: {} ({} changes)",
        line(&all),
        all.len()
    );
    for (i, name) in KINDS.iter().enumerate() {
        if written[i] > 0 {
            println!(
                "  {name:<17} {:>4} written, {:>4} arrived: {}",
                written[i],
                per[i].len(),
                line(&per[i])
            );
        }
    }
    // A few of the changes that never arrived, with what Brevo has for them.
    for e in w.pending.iter().take(3) {
        let store = brevo.state.store.lock();
        let seen: Vec<String> = match &e.evidence {
            Evidence::CartEvent { cart, .. } => store
                .events
                .iter()
                .filter(|ev| {
                    ev.event_properties.get("cart_id").and_then(Value::as_str) == Some(cart)
                })
                .map(|ev| {
                    format!(
                        "{} item_count={}",
                        ev.event_name, ev.event_properties["item_count"]
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        println!(
            "  not arrived: {} {:?}; Brevo has {seen:?}",
            KINDS[e.kind], e.evidence
        );
    }
    let requests: Vec<String> = buckets.iter().map(|(b, n)| format!("{b} {n}")).collect();
    println!(
        "  Brevo requests during the phase: {} ({}); 429s: {throttled}",
        buckets.values().sum::<u64>(),
        requests.join(", ")
    );
}
