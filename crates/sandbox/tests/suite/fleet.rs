//! Many stores on one socket (`start_stores`, `bcsync sandbox --stores N`): each store
//! keeps its own data, tokens, quota, faults, request log and webhooks, and the admin API
//! reaches each one under `/_sandbox/stores/{hash}/`.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::post;
use bc_sandbox::{Plan, RunningFleetSandbox, SandboxConfig, SeedSpec};
use parking_lot::Mutex;
use reqwest::Method;
use serde_json::{Value, json};

/// A small store, so seeding two of them is quick.
fn small_seed() -> SeedSpec {
    SeedSpec {
        customers: 20,
        products: 10,
        orders: 10,
        ..SeedSpec::demo()
    }
}

async fn fleet(base: SandboxConfig, n: usize) -> RunningFleetSandbox {
    bc_sandbox::start_stores(base.fleet(n), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// Status, headers and JSON body (`Null` when empty) of one request.
struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    json: Value,
}

impl Resp {
    fn num(&self, name: &str) -> u64 {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }
}

async fn send(method: Method, url: &str, token: Option<&str>, body: Option<Value>) -> Resp {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .header("Accept", "application/json");
    if let Some(t) = token {
        req = req.header("X-Auth-Token", t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    Resp {
        status,
        headers,
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

/// `GET {store i}{path}` with store `i`'s own token.
async fn get(f: &RunningFleetSandbox, i: usize, path: &str) -> Resp {
    send(
        Method::GET,
        &format!("{}{path}", f.store_url(i)),
        Some(f.token(i)),
        None,
    )
    .await
}

async fn admin(f: &RunningFleetSandbox, method: Method, path: &str, body: Option<Value>) -> Resp {
    send(method, &format!("{}{path}", f.base_url()), None, body).await
}

#[tokio::test]
async fn stores_differ_and_writes_stay_in_their_store() {
    let f = fleet(
        SandboxConfig {
            store_hash: "shop".to_owned(),
            seed: small_seed(),
            ..SandboxConfig::default()
        },
        2,
    )
    .await;
    assert_eq!(f.store_hash(0), "shop-0001");
    assert_eq!(f.store_hash(1), "shop-0002");
    assert_ne!(f.token(0), f.token(1));

    // Same sizes, different seeds: different stores.
    let (a, b) = (get(&f, 0, "/v2/store").await, get(&f, 1, "/v2/store").await);
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(a.json["id"], "shop-0001");
    assert_ne!(a.json["store_id"], b.json["store_id"]);
    let (a, b) = (
        get(&f, 0, "/v3/customers?limit=5").await,
        get(&f, 1, "/v3/customers?limit=5").await,
    );
    assert_eq!(a.json["meta"]["pagination"]["total"], 20);
    assert_eq!(b.json["meta"]["pagination"]["total"], 20);
    assert_ne!(a.json["data"], b.json["data"]);

    // A write to A is not in B.
    let made = send(
        Method::POST,
        &format!("{}/v3/customers", f.store_url(0)),
        Some(f.token(0)),
        Some(json!([{"email": "only-in-a@example.com", "first_name": "Ann", "last_name": "Lee"}])),
    )
    .await;
    assert_eq!(made.status, 200, "{}", made.json);
    let find = "/v3/customers?email:in=only-in-a@example.com";
    assert_eq!(
        get(&f, 0, find).await.json["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        get(&f, 1, find).await.json["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(f.state(0).data.read().counts()["customers"], 21);
    assert_eq!(f.state(1).data.read().counts()["customers"], 20);

    // A's token is nobody else's; an unknown hash is the 404 of a store that does not exist.
    let cross = send(
        Method::GET,
        &format!("{}/v3/customers", f.store_url(1)),
        Some(f.token(0)),
        None,
    )
    .await;
    assert_eq!(cross.status, 401);
    let unknown = send(
        Method::GET,
        &format!("{}/stores/shop-0003/v3/customers", f.base_url()),
        Some(f.token(0)),
        None,
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.json["status"], 404,
        "a V3 error body: {}",
        unknown.json
    );
    f.stop().await;
}

#[tokio::test]
async fn each_store_has_its_own_quota() {
    let f = fleet(
        SandboxConfig {
            plan: Plan::Enterprise { quota: 4 },
            ..SandboxConfig::default()
        },
        2,
    )
    .await;
    for _ in 0..4 {
        assert_eq!(get(&f, 0, "/v2/time").await.status, 200);
    }
    let spent = get(&f, 0, "/v2/time").await;
    assert_eq!(spent.status, 429);
    assert_eq!(spent.num("x-rate-limit-requests-left"), 0);
    // The window is 30 s: B is asked well within A's spent window.
    let b = get(&f, 1, "/v2/time").await;
    assert_eq!(b.status, 200);
    assert_eq!(b.num("x-rate-limit-requests-quota"), 4);
    assert_eq!(
        b.num("x-rate-limit-requests-left"),
        3,
        "B's full quota minus this one"
    );
    f.stop().await;
}

/// What a receiver got, by path.
type Received = Arc<Mutex<Vec<(String, Value)>>>;

async fn receiver() -> (String, Received) {
    async fn record(State(got): State<Received>, uri: Uri, body: Bytes) -> StatusCode {
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        got.lock().push((uri.path().to_owned(), json));
        StatusCode::OK
    }
    let got = Received::default();
    let app = Router::new()
        .route("/{*path}", post(record))
        .with_state(Arc::clone(&got));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

/// Polls until `n` deliveries arrived (generous limit: the machine is shared).
async fn wait_for(got: &Received, n: usize) -> Vec<(String, Value)> {
    for _ in 0..600 {
        let g = got.lock().clone();
        if g.len() >= n {
            return g;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {n} deliveries; got {:?}", got.lock());
}

async fn new_customer(f: &RunningFleetSandbox, i: usize, email: &str) {
    let r = send(
        Method::POST,
        &format!("{}/v3/customers", f.store_url(i)),
        Some(f.token(i)),
        Some(json!([{"email": email, "first_name": "Ann", "last_name": "Lee"}])),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
}

#[tokio::test]
async fn webhooks_deliver_only_their_own_stores_events() {
    let f = fleet(SandboxConfig::default(), 2).await;
    let (url, got) = receiver().await;
    for (i, path) in [(0, "/a"), (1, "/b")] {
        let r = send(
            Method::POST,
            &format!("{}/v3/hooks", f.store_url(i)),
            Some(f.token(i)),
            Some(json!({"scope": "store/customer/created", "destination": format!("{url}{path}"), "is_active": true})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.json);
    }
    // Each store lists only its own hook.
    for i in 0..2 {
        let hooks = get(&f, i, "/v3/hooks").await;
        assert_eq!(hooks.json["data"].as_array().unwrap().len(), 1);
    }

    new_customer(&f, 0, "a1@example.com").await;
    new_customer(&f, 0, "a2@example.com").await;
    new_customer(&f, 1, "b1@example.com").await;
    let all = wait_for(&got, 3).await;
    let producer = |path: &str| -> Vec<Value> {
        all.iter()
            .filter(|(p, _)| p == path)
            .map(|(_, v)| v["producer"].clone())
            .collect()
    };
    assert_eq!(
        producer("/a"),
        vec![json!("stores/sandbox-0001"), json!("stores/sandbox-0001")]
    );
    assert_eq!(producer("/b"), vec![json!("stores/sandbox-0002")]);
    assert_ne!(
        all.iter().find(|(p, _)| p == "/a").unwrap().1["store_id"],
        all.iter().find(|(p, _)| p == "/b").unwrap().1["store_id"],
    );

    // Each store's admin API shows only its own events and deliveries.
    for (hash, n) in [("sandbox-0001", 2), ("sandbox-0002", 1)] {
        let events = admin(
            &f,
            Method::GET,
            &format!("/_sandbox/stores/{hash}/events"),
            None,
        )
        .await;
        let created = events.json["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["scope"] == "store/customer/created")
            .count();
        assert_eq!(created, n, "{hash}: {}", events.json);
        let deliveries = admin(
            &f,
            Method::GET,
            &format!("/_sandbox/stores/{hash}/deliveries"),
            None,
        )
        .await;
        assert_eq!(
            deliveries.json["deliveries"].as_array().unwrap().len(),
            n,
            "{hash}: {}",
            deliveries.json
        );
    }
    f.stop().await;
}

#[tokio::test]
async fn admin_routes_address_each_store() {
    let f = fleet(
        SandboxConfig {
            seed: small_seed(),
            ..SandboxConfig::default()
        },
        3,
    )
    .await;
    let listed = admin(&f, Method::GET, "/_sandbox/stores", None).await;
    let hashes: Vec<&str> = listed.json["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["store_hash"].as_str().unwrap())
        .collect();
    assert_eq!(hashes, ["sandbox-0001", "sandbox-0002", "sandbox-0003"]);
    assert_eq!(listed.json["stores"][2]["token"], f.token(2));

    // Request logs are per store; the old paths are the first store's.
    for _ in 0..3 {
        get(&f, 0, "/v2/time").await;
    }
    get(&f, 1, "/v3/customers").await;
    let log = |hash: &str, query: &str| {
        let path = format!("/_sandbox/stores/{hash}/requests{query}");
        let f = &f;
        async move { admin(f, Method::GET, &path, None).await.json["total"].clone() }
    };
    assert_eq!(log("sandbox-0001", "").await, 3);
    assert_eq!(log("sandbox-0002", "").await, 1);
    assert_eq!(log("sandbox-0003", "").await, 0);
    assert_eq!(
        log("sandbox-0002", "?path_prefix=/v2").await,
        0,
        "the query reaches the store"
    );
    let old = admin(&f, Method::GET, "/_sandbox/requests", None).await;
    assert_eq!(old.json["total"], 3);

    // Faults set on one store hit only that store.
    let set = admin(
        &f,
        Method::PUT,
        "/_sandbox/stores/sandbox-0002/faults",
        Some(json!({"spec": "seed=1,500=1"})),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.json);
    assert_eq!(get(&f, 1, "/v2/time").await.status, 500);
    assert_eq!(get(&f, 2, "/v2/time").await.status, 200);
    let stats = admin(&f, Method::GET, "/_sandbox/stores/sandbox-0002/stats", None).await;
    assert_eq!(stats.json["by_status"]["500"], 1, "{}", stats.json);
    let cleared = admin(
        &f,
        Method::DELETE,
        "/_sandbox/stores/sandbox-0002/faults",
        None,
    )
    .await;
    assert_eq!(cleared.status, 204);
    assert_eq!(get(&f, 1, "/v2/time").await.status, 200);

    // Reset re-seeds one store only.
    new_customer(&f, 2, "c@example.com").await;
    new_customer(&f, 1, "b@example.com").await;
    let reset = admin(
        &f,
        Method::POST,
        "/_sandbox/stores/sandbox-0003/reset",
        None,
    )
    .await;
    assert_eq!(reset.status, 204);
    let counts = |hash: &'static str| {
        let f = &f;
        async move {
            admin(
                f,
                Method::GET,
                &format!("/_sandbox/stores/{hash}/counts"),
                None,
            )
            .await
            .json["customers"]
                .clone()
        }
    };
    assert_eq!(counts("sandbox-0003").await, 20);
    assert_eq!(counts("sandbox-0002").await, 21);

    let missing = admin(&f, Method::GET, "/_sandbox/stores/nope/counts", None).await;
    assert_eq!(missing.status, 404);
    assert!(
        missing.json["error"]
            .as_str()
            .unwrap()
            .contains("/_sandbox/stores"),
        "{}",
        missing.json
    );
    f.stop().await;
}

#[tokio::test]
async fn a_fleet_refuses_a_hash_given_twice() {
    let c = SandboxConfig::default();
    let err = bc_sandbox::start_stores(vec![c.clone(), c], "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("given twice"), "{err}");
}
