//! `bcsync brevo sync` end to end, over real HTTP against both emulators: a seeded store is
//! extracted, synced, and the Brevo emulator's state is compared with what the mapping
//! defines, computed here from the store API's own responses (contacts, attributes, lists,
//! consent, products with variants, historical orders). A rerun sends nothing; a changed
//! customer changes one contact; a mistyped value is refused locally; faults and 429 bursts
//! leave the same end state; a wrong key fails fast with the fix named.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use bc_sandbox::brevo::{BrevoConfig as EmulatorConfig, RunningBrevo, TierLimits, start_brevo};
use bc_sandbox::{RunningSandbox, SeedSpec};
use reqwest::Method;
use serde_json::{Value, json};

use common::*;

fn seed() -> SeedSpec {
    SeedSpec {
        seed: 11,
        customers: 90,
        addresses_per_customer: 1,
        customer_groups: 2,
        products: 24,
        variants_per_product: 2,
        images_per_product: 1,
        custom_fields_per_product: 0,
        categories: 5,
        brands: 3,
        orders: 140,
        lines_per_order: 2,
        coupons: 0,
        history_days: 60,
    }
}

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
    /// The extraction's database, as `--to` takes it.
    to: String,
}

impl Fixture {
    async fn start(emulator: EmulatorConfig, mapping: &str) -> Self {
        Self::start_on(emulator, mapping, None, None).await
    }

    /// `to`: the warehouse (default a SQLite file in the test's directory); `state`: the
    /// push state store (default bcsync-push.db there).
    async fn start_on(
        emulator: EmulatorConfig,
        mapping: &str,
        to: Option<String>,
        state: Option<String>,
    ) -> Self {
        let sb = sandbox(seed()).await;
        let brevo = start_brevo(emulator, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let to = to.unwrap_or_else(|| format!("sqlite:{}", dir.path().join("store.db").display()));
        let f = Fixture { sb, brevo, dir, to };
        f.extract().await;
        let state = state
            .map(|s| format!("state = \"{s}\"\n"))
            .unwrap_or_default();
        std::fs::write(
            f.dir.path().join("bcsync.toml"),
            format!(
                "{state}[extract]\nto = \"{}\"\n\n[brevo]\nbase_url = \"{}\"\nimport_poll_ms = 20\n\n{mapping}",
                f.to,
                f.brevo.base_url()
            ),
        )
        .unwrap();
        f
    }

    async fn extract(&self) {
        extract(&self.sb, &self.to, STREAMS).await.unwrap();
    }

    fn sync(&self, key: &str, args: &[&str]) -> std::process::Output {
        let mut all = vec!["brevo", "sync"];
        all.extend_from_slice(args);
        bcsync_in(&self.sb, self.dir.path(), &all)
            .env("BREVO_API_KEY", key)
            .env_remove("BREVO_BASE_URL")
            .output()
            .unwrap()
    }

    fn sync_ok(&self) -> String {
        let out = self.sync(&self.brevo.api_key(), &[]);
        let text = output_text(&out);
        assert!(out.status.success(), "{text}");
        eprintln!("{text}");
        text
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let http = reqwest::Client::new();
        let mut req = http.request(method, format!("{}{path}", self.brevo.admin_url()));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap_or(Value::Null)
    }

    async fn state(&self) -> Value {
        self.admin(Method::GET, "/state", None).await
    }

    /// Requests Brevo answered so far that were not GETs.
    async fn writes(&self) -> Vec<String> {
        let log = self.admin(Method::GET, "/requests", None).await;
        log["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["method"] != "GET")
            .map(|r| {
                format!(
                    "{} {}",
                    r["method"].as_str().unwrap(),
                    r["path"].as_str().unwrap()
                )
            })
            .collect()
    }
}

const MAPPING: &str = r#"[brevo.contacts]
email = true
first_name = "FIRSTNAME"
last_name = "LASTNAME"
"addresses[0].city" = "CITY"
customer_group_id = true
date_created = "SIGNUP_DATE"
orders_count = "ORDERS_COUNT"
total_spent = "TOTAL_SPENT"
"#;

fn emulator() -> EmulatorConfig {
    EmulatorConfig {
        limits: TierLimits::unlimited(),
        ecommerce_active: true,
        time_scale: 0.001,
        ..EmulatorConfig::default()
    }
}

/// What the store says each contact must be, computed from the API's own responses.
struct Expected {
    contacts: Contacts,
    products: BTreeSet<String>,
    categories: BTreeSet<String>,
    orders: BTreeSet<String>,
}

async fn expected(sb: &RunningSandbox) -> Expected {
    let customers = list_all(sb, "v3", "/customers", "include=addresses").await;
    let subscribers = list_all(sb, "v3", "/customers/subscribers", "").await;
    let orders = list_all(sb, "v2", "/orders", "").await;
    let products = list_all(sb, "v3", "/catalog/products", "include=variants").await;
    let consented: BTreeSet<String> = subscribers
        .iter()
        .filter(|s| {
            s["consents"]
                .as_array()
                .is_none_or(|c| c.iter().any(|c| c == "marketing_newsletter"))
        })
        .map(|s| s["email"].as_str().unwrap().trim().to_lowercase())
        .collect();
    let mut purchases: BTreeMap<i64, u64> = BTreeMap::new();
    for o in &orders {
        if ![0, 5, 6].contains(&o["status_id"].as_i64().unwrap()) {
            *purchases
                .entry(o["customer_id"].as_i64().unwrap())
                .or_default() += 1;
        }
    }
    let mut contacts = BTreeMap::new();
    let mut newest: BTreeMap<String, String> = BTreeMap::new();
    for c in &customers {
        let email = c["email"].as_str().unwrap().trim().to_lowercase();
        let modified = c["date_modified"].as_str().unwrap().to_owned();
        let count = purchases
            .get(&c["id"].as_i64().unwrap())
            .copied()
            .unwrap_or(0);
        let entry = contacts.entry(email.clone()).or_insert((
            String::new(),
            None,
            0,
            !consented.contains(&email),
        ));
        entry.2 += count;
        if newest.get(&email).is_none_or(|m| *m < modified) {
            newest.insert(email, modified);
            entry.0 = c["first_name"].as_str().unwrap().to_owned();
            entry.1 = c["addresses"][0]["city"].as_str().map(str::to_owned);
        }
    }
    let mut product_ids = BTreeSet::new();
    for p in &products {
        let id = p["id"].as_i64().unwrap();
        product_ids.insert(id.to_string());
        for v in p["variants"].as_array().unwrap() {
            if v["option_values"].as_array().is_some_and(|o| !o.is_empty()) {
                product_ids.insert(format!("{id}-{}", v["id"]));
            }
        }
    }
    let order_ids = orders
        .iter()
        .filter(|o| o["status_id"] != 0)
        .map(|o| o["id"].to_string())
        .collect();
    let categories = list_all(sb, "v3", "/catalog/trees/categories", "")
        .await
        .iter()
        .map(|c| c["category_id"].to_string())
        .collect();
    Expected {
        contacts,
        categories,
        products: product_ids,
        orders: order_ids,
    }
}

/// email → (FIRSTNAME, CITY, orders counted, blocklisted).
type Contacts = BTreeMap<String, (String, Option<String>, u64, bool)>;

/// The emulator's contacts as (FIRSTNAME, CITY, ORDERS_COUNT, blocklisted), with list names.
fn brevo_contacts(state: &Value) -> (Contacts, BTreeMap<String, BTreeSet<String>>) {
    let list_names: BTreeMap<i64, String> = state["lists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["id"].as_i64().unwrap(),
                l["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut contacts = BTreeMap::new();
    let mut lists: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in state["contacts"].as_array().unwrap() {
        let email = c["email"].as_str().unwrap().to_owned();
        let a = &c["attributes"];
        contacts.insert(
            email.clone(),
            (
                a["FIRSTNAME"].as_str().unwrap_or("").to_owned(),
                a["CITY"].as_str().map(str::to_owned),
                a["ORDERS_COUNT"].as_f64().unwrap_or(0.0) as u64,
                c["emailBlacklisted"].as_bool().unwrap(),
            ),
        );
        for l in c["listIds"].as_array().unwrap() {
            let name = list_names[&l.as_i64().unwrap()].clone();
            lists.entry(name).or_default().insert(email.clone());
        }
    }
    (contacts, lists)
}

fn assert_matches_store(state: &Value, want: &Expected) {
    let (contacts, lists) = brevo_contacts(state);
    assert_eq!(contacts.len(), want.contacts.len());
    for (email, w) in &want.contacts {
        assert_eq!(contacts.get(email), Some(w), "contact {email}");
    }
    let everyone: BTreeSet<String> = want.contacts.keys().cloned().collect();
    assert_eq!(lists["BigCommerce customers"], everyone);
    let buyers: BTreeSet<String> = want
        .contacts
        .iter()
        .filter(|(_, c)| c.2 > 0)
        .map(|(e, _)| e.clone())
        .collect();
    assert!(!buyers.is_empty() && buyers.len() < everyone.len());
    assert_eq!(lists["BigCommerce buyers"], buyers);
    let products: BTreeSet<String> = state["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(products, want.products);
    let categories: BTreeSet<String> = state["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!categories.is_empty());
    assert_eq!(categories, want.categories);
    let orders: BTreeSet<String> = state["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(orders, want.orders);
    assert_eq!(
        state["droppedAttributeValues"]
            .as_array()
            .map_or(0, Vec::len),
        0,
        "Brevo silently dropped values bcsync sent: {}",
        state["droppedAttributeValues"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_synced_to_brevo_matches_the_mapping_and_a_rerun_sends_nothing() {
    let f = Fixture::start(emulator(), MAPPING).await;
    let want = expected(&f.sb).await;
    let blocklisted = want.contacts.values().filter(|c| c.3).count();
    assert!(
        blocklisted > 0 && blocklisted < want.contacts.len(),
        "the seed has both kinds"
    );

    let text = f.sync_ok();
    let state = f.state().await;
    assert_matches_store(&state, &want);
    // History never fires automations.
    assert!(
        state["orders"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["historical"] == true)
    );
    assert_eq!(state["automationsTriggered"], 0);
    // Attributes were created with their types.
    let types: BTreeMap<String, String> = state["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_owned(),
                a["type"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(types["SIGNUP_DATE"], "date");
    assert_eq!(types["ORDERS_COUNT"], "float");
    assert_eq!(types["CUSTOMER_GROUP_ID"], "float");
    assert!(text.contains("contacts.created="), "{text}");

    // Bulk only: no request per contact.
    let writes = f.writes().await;
    assert!(
        !writes
            .iter()
            .any(|w| w.starts_with("POST /v3/contacts ") || w == "POST /v3/contacts"),
        "{writes:?}"
    );
    let before = writes.len();

    // A rerun with nothing changed sends nothing.
    let text = f.sync_ok();
    assert_eq!(f.writes().await.len(), before, "{text}");
    assert!(text.contains("contacts.unchanged="), "{text}");

    // One changed customer changes one contact.
    let customers = list_all(&f.sb, "v3", "/customers", "").await;
    let id = customers[3]["id"].as_i64().unwrap();
    let (status, _) = api(
        &f.sb,
        Method::PUT,
        "/v3/customers",
        Some(json!([{"id": id, "first_name": "Renamed"}])),
    )
    .await;
    assert_eq!(status, 200);
    f.extract().await;
    let text = f.sync_ok();
    assert!(text.contains("contacts.updated=1"), "{text}");
    assert!(!text.contains("contacts.created="), "{text}");
    let state = f.state().await;
    let want = expected(&f.sb).await;
    assert_matches_store(&state, &want);
    let imports: Vec<&Value> = state["processes"].as_array().unwrap().iter().collect();
    assert!(!imports.is_empty());
    let runs = bcsync_in(&f.sb, f.dir.path(), &["runs"]).output().unwrap();
    assert!(
        output_text(&runs).contains("brevo"),
        "{}",
        output_text(&runs)
    );
}

/// The same sync from a PostgreSQL warehouse, with the state in PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_warehouse_and_state_sync_the_same() {
    let Some(url) = pg_url() else { return };
    let schema = unique_name("brevo");
    let state_schema = unique_name("brevo_state");
    let sep = if url.contains('?') { '&' } else { '?' };
    let f = Fixture::start_on(
        emulator(),
        MAPPING,
        Some(format!("{url}{sep}schema={schema}")),
        Some(format!("{url}{sep}schema={state_schema}")),
    )
    .await;
    let want = expected(&f.sb).await;
    f.sync_ok();
    assert_matches_store(&f.state().await, &want);
    let before = f.writes().await.len();
    let text = f.sync_ok();
    assert_eq!(f.writes().await.len(), before, "{text}");
    let pg = connect(&url).await;
    drop_schema(&pg, &schema).await;
    drop_schema(&pg, &state_schema).await;
}

/// Syncs of different stores into one Brevo account take turns (the account's rate limits
/// are shared): while another process holds the account's lock, in the PostgreSQL state
/// store every worker of a fleet shares, a sync waits and says why; then it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncs_into_one_brevo_account_take_turns() {
    use bcsync::state::push::open_push_store;
    let Some(url) = pg_url() else { return };
    let state_schema = unique_name("brevo_acct");
    let state = pg_with_schema(&url, &state_schema);
    let f = Fixture::start_on(emulator(), MAPPING, None, Some(state.clone())).await;
    let key = f.brevo.api_key();
    let scope = bcsync::marketing::account_scope(&secrecy::SecretString::from(key.clone()));
    assert!(!scope.contains(&key), "the scope never carries the key");
    // Another store's sync into the same account, as far as the lock goes.
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = {
        let (state, scope) = (state.clone(), scope.clone());
        std::thread::spawn(move || {
            let mut other = open_push_store(&state, &scope).unwrap();
            assert!(other.try_lock(bcsync::marketing::RUN_NAME).unwrap());
            held_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        })
    };
    held_rx.recv().unwrap();
    let mut child = bcsync_in(&f.sb, f.dir.path(), &["brevo", "sync"])
        .env("BREVO_API_KEY", &key)
        .env_remove("BREVO_BASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the sync waits for the account"
    );
    assert!(
        f.writes().await.is_empty(),
        "nothing was sent while it waited"
    );
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    let out = child.wait_with_output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("same Brevo account"), "{text}");
    assert!(!f.writes().await.is_empty(), "then it synced");
    let pg = connect(&url).await;
    drop_schema(&pg, &state_schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistyped_value_is_refused_locally_and_never_sent() {
    // The store's company names are text; mapped to a date attribute, each is refused here.
    let mapping =
        format!("{MAPPING}company = {{ attribute = \"COMPANY_SINCE\", type = \"date\" }}\n");
    let f = Fixture::start(emulator(), &mapping).await;
    let text = f.sync_ok();
    assert!(text.contains("refused: customer"), "{text}");
    assert!(
        text.contains("company") && text.contains("is not a date"),
        "{text}"
    );
    let state = f.state().await;
    assert!(
        state["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["attributes"].get("COMPANY_SINCE").is_none())
    );
    assert_eq!(
        state["droppedAttributeValues"]
            .as_array()
            .map_or(0, Vec::len),
        0
    );
    // The contacts themselves went through.
    assert_eq!(
        state["contacts"].as_array().unwrap().len(),
        expected(&f.sb).await.contacts.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_429_bursts_leave_the_same_end_state() {
    let mut config = emulator();
    config.faults = bc_sandbox::brevo::BrevoFaults::parse("seed=3,500=0.1,burst429=5@4").unwrap();
    let f = Fixture::start(config, MAPPING).await;
    let want = expected(&f.sb).await;
    let out = f.sync(&f.brevo.api_key(), &[]);
    let text = output_text(&out);
    eprintln!("{text}");
    // A fault on a write that is not safe to repeat may stop the run; the next one resumes.
    if !out.status.success() {
        f.sync_ok();
    }
    assert_matches_store(&f.state().await, &want);
    let _ = text;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_fails_fast_with_the_fix() {
    let f = Fixture::start(emulator(), MAPPING).await;
    let out = f.sync("not-the-key", &[]);
    let text = output_text(&out);
    assert!(!out.status.success());
    assert!(text.contains("BREVO_API_KEY"), "{text}");
    assert!(
        !text.contains("not-the-key"),
        "the key is never printed: {text}"
    );
    let log = f.admin(Method::GET, "/requests", None).await;
    assert_eq!(log["requests"].as_array().unwrap().len(), 1, "{log}");
}

/// A request to the Brevo emulator's API with its key, as a merchant's other tools would.
async fn brevo_api(f: &Fixture, method: Method, path: &str, body: Value) -> u16 {
    reqwest::Client::new()
        .request(method, format!("{}{path}", f.brevo.base_url()))
        .header("api-key", f.brevo.api_key())
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn contact<'a>(state: &'a Value, email: &str) -> &'a Value {
    state["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["email"] == email)
        .unwrap_or_else(|| panic!("no contact {email}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_deletes_and_live_orders_follow_the_store() {
    let f = Fixture::start(emulator(), MAPPING).await;
    f.sync_ok();
    let customers = list_all(&f.sb, "v3", "/customers", "").await;
    let subscribers = list_all(&f.sb, "v3", "/customers/subscribers", "").await;
    let consenting: Vec<&Value> = subscribers
        .iter()
        .filter(|s| {
            s["consents"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "marketing_newsletter")
        })
        .filter(|s| customers.iter().any(|c| c["email"] == s["email"]))
        .collect();
    assert!(
        consenting.len() >= 2,
        "the seed has customers who subscribed"
    );
    let state = f.state().await;
    let withdrawn = consenting[0]["email"].as_str().unwrap().to_lowercase();
    let unsubscribed_in_brevo = consenting[1]["email"].as_str().unwrap().to_lowercase();
    assert_eq!(contact(&state, &withdrawn)["emailBlacklisted"], false);

    // 1. Consent withdrawn in the store: the subscriber record is deleted.
    let (status, _) = api(
        &f.sb,
        Method::DELETE,
        &format!("/v3/customers/subscribers/{}", consenting[0]["id"]),
        None,
    )
    .await;
    assert!(status < 300, "{status}");
    // 2. The merchant's contact unsubscribed in Brevo itself; then the store changes them.
    assert_eq!(
        brevo_api(
            &f,
            Method::PUT,
            &format!("/contacts/{unsubscribed_in_brevo}?identifierType=email_id"),
            json!({"emailBlacklisted": true}),
        )
        .await,
        204
    );
    let changed = customers
        .iter()
        .find(|c| c["email"].as_str().unwrap().to_lowercase() == unsubscribed_in_brevo)
        .unwrap();
    let (status, _) = api(
        &f.sb,
        Method::PUT,
        "/v3/customers",
        Some(json!([{"id": changed["id"], "last_name": "Changed"}])),
    )
    .await;
    assert_eq!(status, 200);
    // 3. A customer deleted from the store (not one of the two above).
    let deleted = customers
        .iter()
        .find(|c| {
            let e = c["email"].as_str().unwrap().to_lowercase();
            e != withdrawn
                && e != unsubscribed_in_brevo
                && customers
                    .iter()
                    .filter(|o| o["email"] == c["email"])
                    .count()
                    == 1
        })
        .unwrap();
    let deleted_email = deleted["email"].as_str().unwrap().to_lowercase();
    let (status, _) = api(
        &f.sb,
        Method::DELETE,
        &format!("/v3/customers?id:in={}", deleted["id"]),
        None,
    )
    .await;
    assert!(status < 300, "{status}");
    // 4. An order changes status after the first sync: sent live, automations may fire.
    let orders = list_all(&f.sb, "v2", "/orders", "").await;
    let order = orders
        .iter()
        .find(|o| o["status_id"] == 11)
        .expect("an awaiting-fulfillment order");
    let (status, _) = api(
        &f.sb,
        Method::PUT,
        &format!("/v2/orders/{}", order["id"]),
        Some(json!({"status_id": 2})),
    )
    .await;
    assert_eq!(status, 200);

    extract_with(&f.sb, &f.to, STREAMS, true).await.unwrap();
    let text = f.sync_ok();
    assert!(text.contains("contacts.deleted=1"), "{text}");
    assert!(text.contains("orders.sent=1"), "{text}");
    let state = f.state().await;
    assert_eq!(
        contact(&state, &withdrawn)["emailBlacklisted"],
        true,
        "the withdrawal reached Brevo"
    );
    let kept = contact(&state, &unsubscribed_in_brevo);
    assert_eq!(
        kept["emailBlacklisted"], true,
        "bcsync never clears an unsubscribe made in Brevo"
    );
    assert_eq!(kept["attributes"]["LASTNAME"], "Changed");
    let gone = contact(&state, &deleted_email);
    assert_eq!(gone["attributes"]["BC_DELETED"], true);
    assert_eq!(
        gone["listIds"].as_array().unwrap().len(),
        0,
        "soft delete leaves our lists"
    );
    let live: Vec<&Value> = state["orders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["historical"] == false)
        .collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0]["order"]["id"], order["id"].to_string());
    assert_eq!(live[0]["order"]["status"], "shipped");

    // Hard deletes, when configured, remove the contact.
    let toml = std::fs::read_to_string(f.dir.path().join("bcsync.toml")).unwrap();
    std::fs::write(
        f.dir.path().join("bcsync.toml"),
        toml.replace(
            "import_poll_ms = 20\n",
            "import_poll_ms = 20\ndelete = \"hard\"\n",
        ),
    )
    .unwrap();
    let second = customers
        .iter()
        .filter(|c| {
            customers
                .iter()
                .filter(|o| o["email"] == c["email"])
                .count()
                == 1
        })
        .map(|c| c["email"].as_str().unwrap().to_lowercase())
        .find(|e| *e != deleted_email && *e != withdrawn && *e != unsubscribed_in_brevo)
        .unwrap();
    let id = customers
        .iter()
        .find(|c| c["email"].as_str().unwrap().to_lowercase() == second)
        .unwrap()["id"]
        .clone();
    api(
        &f.sb,
        Method::DELETE,
        &format!("/v3/customers?id:in={id}"),
        None,
    )
    .await;
    extract_with(&f.sb, &f.to, STREAMS, true).await.unwrap();
    f.sync_ok();
    let state = f.state().await;
    assert!(
        state["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["email"] != second.as_str())
    );
}
