//! `bcsync mcp` driven by a real MCP client nobody here wrote: the official MCP Python SDK
//! (`mcp` on PyPI), which `.ci/run` installs into a virtualenv and names in
//! `BCSYNC_TEST_MCP_PYTHON`. The scripts under `tests/mcp_client/` open the session (the SDK
//! starts `bcsync mcp` for stdio, or connects over streamable HTTP with a bearer token),
//! run the steps these tests write, and print what the client saw; the tests check the
//! answers, then the sandbox over raw HTTP and the run log.
//!
//! Without `BCSYNC_TEST_MCP_PYTHON` the tests are skipped, except under `CI=true`, where a
//! missing client is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bc_sandbox::RunningSandbox;
use serde_json::{Value, json};

/// The Python that has the `mcp` package, or `None` to skip (never under CI).
fn python() -> Option<PathBuf> {
    match std::env::var("BCSYNC_TEST_MCP_PYTHON") {
        Ok(p) if !p.trim().is_empty() => Some(PathBuf::from(p)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "BCSYNC_TEST_MCP_PYTHON is not set and CI=true: the MCP client tests are never \
                 skipped in CI (.ci/run installs the client)"
            );
            eprintln!("skipped: set BCSYNC_TEST_MCP_PYTHON to a Python with the `mcp` package");
            None
        }
    }
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/mcp_client")
        .join(name)
}

/// The store environment for `bcsync mcp`.
fn store_env(sb: &RunningSandbox) -> Vec<(&'static str, String)> {
    vec![
        ("BIGCOMMERCE_STORE_HASH", sb.store_hash().to_owned()),
        ("BIGCOMMERCE_ACCESS_TOKEN", sb.token().to_owned()),
        ("BIGCOMMERCE_BASE_URL", sb.base_url()),
    ]
}

/// How the client reaches the server.
enum Via<'a> {
    /// The SDK starts `bcsync mcp` with these extra arguments.
    Stdio(&'a [&'a str]),
    /// An HTTP server already running at this URL, with this bearer (or none).
    Http(&'a str, Option<&'a str>),
}

struct Harness {
    python: PathBuf,
    dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Option<Self> {
        Some(Self {
            python: python()?,
            dir: tempfile::tempdir().unwrap(),
        })
    }

    fn run_log(&self) -> PathBuf {
        self.dir.path().join("runs.db")
    }

    /// Runs a client script and returns its JSON output.
    async fn script(
        &self,
        sb: &RunningSandbox,
        name: &str,
        extra: &[String],
        via: Via<'_>,
    ) -> Value {
        let mut cmd = Command::new(&self.python);
        cmd.arg(script(name))
            .args(extra)
            .current_dir(self.dir.path());
        cmd.env_remove("BCSYNC_MCP_TOKEN");
        match via {
            Via::Stdio(args) => {
                // The SDK passes its environment on to the server it starts.
                cmd.envs(store_env(sb));
                cmd.arg("--")
                    .arg(env!("CARGO_BIN_EXE_bcsync"))
                    .arg("mcp")
                    .arg("--state")
                    .arg(self.run_log())
                    .args(args);
            }
            Via::Http(url, bearer) => {
                cmd.arg("--http").arg(url);
                if let Some(b) = bearer {
                    cmd.env("BCSYNC_MCP_TOKEN", b);
                }
            }
        }
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name} failed: {stderr}");
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{name} printed no JSON ({e}): {stdout}\nstderr: {stderr}"))
    }

    /// Runs `steps` through driver.py and returns one answer per step.
    async fn steps(&self, sb: &RunningSandbox, via: Via<'_>, steps: Value) -> Vec<Value> {
        let file = self.dir.path().join("steps.json");
        std::fs::write(&file, steps.to_string()).unwrap();
        let out = self
            .script(
                sb,
                "driver.py",
                &["--steps".to_owned(), file.display().to_string()],
                via,
            )
            .await;
        out["results"]
            .as_array()
            .unwrap_or_else(|| panic!("the session failed: {out}"))
            .clone()
    }

    /// Starts `bcsync mcp --http 127.0.0.1:0` with `bearer` and returns it with its URL.
    fn http_server(&self, sb: &RunningSandbox, bearer: &str, args: &[&str]) -> (Child, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bcsync"))
            .args(["mcp", "--http", "127.0.0.1:0", "--state"])
            .arg(self.run_log())
            .args(args)
            .envs(store_env(sb))
            .env("BCSYNC_MCP_TOKEN", bearer)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("serving MCP at ").nth(1) {
                    let url = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let _ = tx.send(url);
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("bcsync mcp --http printed its URL");
        (child, url)
    }
}

fn call(tool: &str, args: Value) -> Value {
    json!({"op": "call", "tool": tool, "args": args})
}

fn ok(answer: &Value) -> &Value {
    assert_eq!(answer["is_error"], false, "{answer}");
    &answer["structured"]
}

fn err(answer: &Value) -> &str {
    assert_eq!(answer["is_error"], true, "{answer}");
    answer["text"].as_str().unwrap()
}

const READ_TOOLS: [&str; 8] = [
    "list-orders",
    "get-order",
    "list-products",
    "get-product",
    "list-categories",
    "list-customers",
    "get-customer",
    "raw-api-request",
];
const WRITE_TOOLS: [&str; 6] = [
    "update-order",
    "create-product",
    "update-product",
    "delete-product",
    "create-customer",
    "update-customer",
];

async fn first_id(sb: &RunningSandbox, version: &str, path: &str) -> i64 {
    let (status, body) = common::api(
        sb,
        reqwest::Method::GET,
        &format!("/{version}{path}?limit=1"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let body = body.unwrap();
    let items = if version == "v2" {
        body
    } else {
        body["data"].clone()
    };
    items[0]["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_over_stdio_lists_and_runs_the_read_tools() {
    let Some(h) = Harness::new() else { return };
    let sb = common::sandbox(common::small_store()).await;
    let order = first_id(&sb, "v2", "/orders").await;
    let product = first_id(&sb, "v3", "/catalog/products").await;
    let customer = first_id(&sb, "v3", "/customers").await;
    let answers = h
        .steps(
            &sb,
            Via::Stdio(&[]),
            json!([
                {"op": "list_tools"},
                call("list-orders", json!({"limit": 5})),
                call("get-order", json!({"id": order})),
                call("list-products", json!({"limit": 3, "fields": ["id", "sku"]})),
                call("get-product", json!({"id": product, "fields": ["id", "variants.sku"]})),
                call("list-categories", json!({})),
                call("list-customers", json!({"limit": 2})),
                call("get-customer", json!({"id": customer})),
                call("raw-api-request", json!({"method": "GET", "path": "/v3/catalog/brands?limit=2"})),
                // Invalid arguments: a misspelt filter, a wrong type, a bad date, a bad cursor.
                call("list-orders", json!({"stauts": "shipped"})),
                call("get-order", json!({"id": "seven"})),
                call("list-orders", json!({"created_since": "yesterday"})),
                call("list-orders", json!({"cursor": "not-a-cursor"})),
                // Writes on a read-only server.
                call("update-order", json!({"id": order, "status": "Shipped"})),
                call("raw-api-request", json!({"method": "POST", "path": "/v3/catalog/brands", "data": {"name": "X"}})),
                // Another host is never reached.
                call("raw-api-request", json!({"method": "GET", "path": "https://example.com/v3/catalog/brands"})),
                call("get-order", json!({"id": 99_999_999})),
            ]),
        )
        .await;
    let tools: Vec<&str> = answers[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tools, READ_TOOLS, "read-only lists the read tools only");
    let schema = &answers[0]["schemas"]["list-orders"];
    for key in [
        "status",
        "customer_id",
        "created_since",
        "limit",
        "cursor",
        "fields",
    ] {
        assert!(schema["properties"].get(key).is_some(), "{key}: {schema}");
    }

    let orders = ok(&answers[1]);
    assert_eq!(orders["count"], 5);
    assert!(orders["next_cursor"].is_string(), "{orders}");
    let first = &orders["records"][0];
    assert!(first.get("id").is_some() && first.get("status").is_some());
    assert!(
        first.get("products").is_none(),
        "compact by default: {first}"
    );
    let full = &ok(&answers[2])["record"];
    assert_eq!(full["id"], order);
    for key in ["products", "shipping_addresses", "shipments", "coupons"] {
        assert!(full[key].is_array(), "{key}: {full}");
    }
    let products = ok(&answers[3]);
    assert_eq!(products["count"], 3);
    for p in products["records"].as_array().unwrap() {
        let keys: Vec<&String> = p.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "sku"], "fields selects: {p}");
    }
    let product_answer = &ok(&answers[4])["record"];
    assert_eq!(product_answer["id"], product);
    assert!(
        product_answer["variants"][0]["sku"].is_string(),
        "{product_answer}"
    );
    assert!(
        ok(&answers[5])["categories"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    );
    assert_eq!(ok(&answers[6])["count"], 2);
    assert_eq!(ok(&answers[7])["record"]["id"], customer);
    let raw = ok(&answers[8]);
    assert_eq!(raw["status"], 200);
    assert_eq!(raw["body"]["data"].as_array().unwrap().len(), 2);

    assert!(
        err(&answers[9]).contains("stauts"),
        "names the bad argument"
    );
    assert!(err(&answers[10]).contains("invalid arguments for get-order"));
    let date = err(&answers[11]);
    assert!(
        date.contains("created_since") && date.contains("YYYY-MM-DD"),
        "{date}"
    );
    assert!(err(&answers[12]).contains("next_cursor"));
    let refused = err(&answers[13]);
    assert!(
        refused.contains("read-only") && refused.contains("--allow-writes"),
        "{refused}"
    );
    assert!(err(&answers[14]).contains("--allow-writes"));
    assert!(err(&answers[15]).contains("example.com"));
    let missing = &answers[16];
    assert!(err(missing).contains("not found"), "{missing}");
    assert_eq!(missing["structured"]["error"]["kind"], "not_found");

    // Nothing was written, and every call is in the run log, without the token.
    let runs = run_log(&h.run_log());
    assert_eq!(runs.len(), 16, "one run per call");
    assert!(
        runs.iter()
            .any(|r| r.sync == "mcp:update-order" && r.status == "refused" && r.requests == 0)
    );
    let listed = runs
        .iter()
        .find(|r| r.sync == "mcp:list-orders" && r.status == "ok")
        .unwrap();
    assert!(listed.requests >= 1 && listed.message.as_deref().unwrap().contains("\"limit\":5"));
    let log_bytes = std::fs::read(h.run_log()).unwrap();
    assert!(
        !contains(&log_bytes, sb.token().as_bytes()),
        "the token is never logged"
    );
    assert!(!answers.iter().any(|a| a.to_string().contains(sb.token())));
}

fn run_log(path: &Path) -> Vec<bcsync::state::push::RunRecord> {
    let store = bcsync::state::push::open_push_store(&path.display().to_string(), "").unwrap();
    let runs = store.runs(1000).unwrap();
    runs.into_iter()
        .map(|r| store.run(r.id).unwrap().unwrap())
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_over_stdio_and_deletes_take_a_confirmed_second_call() {
    let Some(h) = Harness::new() else { return };
    let sb = common::sandbox(common::small_store()).await;
    let order = first_id(&sb, "v2", "/orders").await;
    let product = first_id(&sb, "v3", "/catalog/products").await;
    let customer = first_id(&sb, "v3", "/customers").await;
    let answers = h
        .steps(
            &sb,
            Via::Stdio(&["--allow-writes"]),
            json!([
                {"op": "list_tools"},
                call("update-order", json!({"id": order, "status": "Shipped", "staff_notes": "via MCP"})),
                call("create-product", json!({"data": {"name": "MCP Widget", "type": "physical", "weight": 1, "price": 9.5, "sku": "MCP-W-1"}})),
                call("update-product", json!({"id": product + 2, "data": {"price": 42.25}})),
                call("create-customer", json!({"data": {"first_name": "Ada", "last_name": "Agent", "email": "ada.agent@example.com"}})),
                call("update-customer", json!({"id": customer, "data": {"company": "Agents Ltd"}})),
                // Delete: no token (preview), then a made-up token, then the real one with
                // other arguments (which burns it), then preview again and confirm, then reuse.
                call("delete-product", json!({"id": product})),
                call("delete-product", json!({"id": product, "confirmation_token": "0123456789abcdef"})),
                call("delete-product", json!({"id": product + 1, "confirmation_token": "$TOKEN"})),
                call("delete-product", json!({"id": product})),
                call("delete-product", json!({"id": product, "confirmation_token": "$TOKEN"})),
                call("delete-product", json!({"id": product, "confirmation_token": "$TOKEN"})),
                // Raw DELETE: the same two calls.
                call("raw-api-request", json!({"method": "DELETE", "path": format!("/v3/customers?id:in={customer}")})),
                call("raw-api-request", json!({"method": "DELETE", "path": format!("/v3/customers?id:in={customer}"), "confirmation_token": "$TOKEN"})),
                // A whole collection needs `all`.
                call("raw-api-request", json!({"method": "DELETE", "path": "/v2/orders"})),
            ]),
        )
        .await;
    let tools: Vec<&str> = answers[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for t in READ_TOOLS.iter().chain(WRITE_TOOLS.iter()) {
        assert!(
            tools.contains(t),
            "{t} listed with --allow-writes: {tools:?}"
        );
    }
    assert_eq!(tools.len(), 14);
    assert!(
        answers[0]["schemas"]["delete-product"]["properties"]["confirmation_token"].is_object()
    );

    ok(&answers[1]);
    let (_, o) = common::api(
        &sb,
        reqwest::Method::GET,
        &format!("/v2/orders/{order}"),
        None,
    )
    .await;
    let o = o.unwrap();
    assert_eq!(o["status_id"], 2, "Shipped: {o}");
    assert_eq!(o["staff_notes"], "via MCP");
    let created = ok(&answers[2])["record"]["id"].as_i64().unwrap();
    let (status, _) = common::api(
        &sb,
        reqwest::Method::GET,
        &format!("/v3/catalog/products/{created}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    ok(&answers[3]);
    let (_, p) = common::api(
        &sb,
        reqwest::Method::GET,
        &format!("/v3/catalog/products/{}", product + 2),
        None,
    )
    .await;
    let p = p.unwrap();
    let price = &p["data"]["price"];
    let price = price
        .as_f64()
        .or_else(|| price.as_str().and_then(|s| s.parse().ok()));
    assert_eq!(price, Some(42.25), "{p}");
    assert!(ok(&answers[4])["record"]["id"].is_i64());
    ok(&answers[5]);

    // The preview changes nothing and carries a token.
    let preview = ok(&answers[6]);
    assert_eq!(preview["preview"]["product"]["id"], product);
    assert!(preview["confirmation_token"].is_string());
    assert!(
        preview["note"]
            .as_str()
            .unwrap()
            .contains("nothing was changed")
    );
    assert!(err(&answers[7]).contains("unknown or was already used"));
    assert!(err(&answers[8]).contains("other arguments"));
    ok(&answers[9]);
    assert!(ok(&answers[10])["deleted"].is_object(), "{}", answers[10]);
    let (status, _) = common::api(
        &sb,
        reqwest::Method::GET,
        &format!("/v3/catalog/products/{product}"),
        None,
    )
    .await;
    assert_eq!(status, 404, "deleted after the confirmed call");
    assert!(
        err(&answers[11]).contains("already used"),
        "a token works once"
    );
    let (status, _) = common::api(
        &sb,
        reqwest::Method::GET,
        &format!("/v3/catalog/products/{}", product + 1),
        None,
    )
    .await;
    assert_eq!(
        status, 200,
        "the token for one product never deleted another"
    );

    let raw_preview = ok(&answers[12]);
    assert_eq!(
        raw_preview["preview"]["currently_there"]["records"], 1,
        "{raw_preview}"
    );
    ok(&answers[13]);
    let (_, c) = common::api(
        &sb,
        reqwest::Method::GET,
        &format!("/v3/customers?id:in={customer}"),
        None,
    )
    .await;
    assert_eq!(c.unwrap()["data"].as_array().unwrap().len(), 0);
    assert!(err(&answers[14]).contains("all"));

    let runs = run_log(&h.run_log());
    assert!(
        runs.iter()
            .any(|r| r.sync == "mcp:delete-product" && r.status == "preview")
    );
    // Only the confirmed call wrote: previews and refused tokens sent no DELETE.
    for r in runs
        .iter()
        .filter(|r| r.sync == "mcp:delete-product" && r.status != "ok")
    {
        assert_eq!(r.write_requests, 0, "{r:?}");
    }
    assert!(
        runs.iter()
            .any(|r| r.sync == "mcp:delete-product" && r.status == "ok" && r.write_requests == 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_needs_the_bearer_caps_results_and_reports_rate_limits() {
    let Some(h) = Harness::new() else { return };
    let sb = common::sandbox(common::small_store()).await;
    let bearer = "test-bearer-3f1c9a";
    let (mut server, url) = h.http_server(
        &sb,
        bearer,
        &["--max-result-bytes", "4096", "--rate-limit-wait", "1"],
    );

    // Refused before MCP: no token, a wrong token (the client cannot even initialize).
    for wrong in [None, Some("not-the-token")] {
        let out = h
            .script(
                &sb,
                "driver.py",
                &[
                    "--steps".into(),
                    write_steps(&h, json!([{"op": "list_tools"}])),
                ],
                Via::Http(&url, wrong),
            )
            .await;
        let e = out["connect_error"]
            .as_str()
            .unwrap_or_else(|| panic!("{out}"));
        let why = if wrong.is_some() {
            "wrong bearer token"
        } else {
            "missing bearer token"
        };
        assert!(e.contains(why), "{e}");
    }
    let raw = reqwest::Client::new()
        .post(&url)
        .header("Authorization", "Bearer nope")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 401);
    assert!(!raw.text().await.unwrap().contains(bearer));

    let answers = h
        .steps(
            &sb,
            Via::Http(&url, Some(bearer)),
            json!([
                {"op": "list_tools"},
                call("list-orders", json!({"limit": 40, "fields": ["*"]})),
            ]),
        )
        .await;
    assert_eq!(
        answers[0]["tools"].as_array().unwrap().len(),
        READ_TOOLS.len()
    );
    let capped = ok(&answers[1]);
    assert_eq!(capped["truncated"], true, "{capped}");
    assert!(capped["note"].as_str().unwrap().contains("next_cursor"));
    let kept = capped["count"].as_u64().unwrap();
    assert!(kept > 0 && kept < 40, "{kept}");
    assert!(answers[1]["text"].as_str().unwrap().len() <= 4096 + 512);
    // Following the cursor picks up at the first record not shown.
    let next = capped["next_cursor"].as_str().unwrap().to_owned();
    let answers2 = h
        .steps(
            &sb,
            Via::Http(&url, Some(bearer)),
            json!([call(
                "list-orders",
                json!({"limit": 40, "fields": ["id"], "cursor": next})
            )]),
        )
        .await;
    let last_shown = capped["records"][kept as usize - 1]["id"].as_i64().unwrap();
    let first_next = ok(&answers2[0])["records"][0]["id"].as_i64().unwrap();
    let (_, all) = common::api(&sb, reqwest::Method::GET, "/v2/orders?limit=250", None).await;
    let ids: Vec<i64> = all
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect();
    let at = ids.iter().position(|i| *i == last_shown).unwrap();
    assert_eq!(ids[at + 1], first_next, "no record skipped or repeated");

    // A 429 storm: the call answers with the wait instead of hanging.
    set_faults(&sb, "path=/v3/catalog/products,429@1..").await;
    let storm = h
        .steps(
            &sb,
            Via::Http(&url, Some(bearer)),
            json!([call("list-products", json!({"limit": 5}))]),
        )
        .await;
    let message = err(&storm[0]);
    assert!(
        message.contains("rate limit") && message.contains("retry"),
        "{message}"
    );
    let error = &storm[0]["structured"]["error"];
    assert_eq!(error["kind"], "rate_limited");
    assert!(
        error["retry_after_seconds"].as_u64().unwrap() >= 1,
        "{error}"
    );
    set_faults(&sb, "none").await;

    let runs = run_log(&h.run_log());
    assert!(
        runs.iter()
            .any(|r| r.sync == "mcp:list-products" && r.status == "failed")
    );
    let log_bytes = std::fs::read(h.run_log()).unwrap();
    assert!(
        !contains(&log_bytes, bearer.as_bytes()) && !contains(&log_bytes, sb.token().as_bytes())
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

fn write_steps(h: &Harness, steps: Value) -> String {
    let file = h.dir.path().join(format!("steps-{}.json", rand_suffix()));
    std::fs::write(&file, steps.to_string()).unwrap();
    file.display().to_string()
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

async fn set_faults(sb: &RunningSandbox, spec: &str) {
    let resp = reqwest::Client::new()
        .put(format!("{}/_sandbox/faults", sb.base_url()))
        .body(spec.to_owned())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_ships_a_customers_most_recent_order_by_tool_calls_only() {
    let Some(h) = Harness::new() else { return };
    let sb = common::sandbox(common::small_store()).await;
    // A customer with several orders, read from the sandbox itself.
    let orders = common::list_all(&sb, "v2", "/orders", "").await;
    let mut by_customer: std::collections::BTreeMap<i64, Vec<&Value>> = Default::default();
    for o in &orders {
        let c = o["customer_id"].as_i64().unwrap();
        if c > 0 {
            by_customer.entry(c).or_default().push(o);
        }
    }
    let (customer_id, theirs) = by_customer.iter().max_by_key(|(_, v)| v.len()).unwrap();
    assert!(
        theirs.len() >= 2,
        "the seed gives some customer several orders"
    );
    let newest = theirs
        .iter()
        .max_by_key(|o| {
            (
                chrono::DateTime::parse_from_rfc2822(o["date_created"].as_str().unwrap()).unwrap(),
                o["id"].as_i64().unwrap(),
            )
        })
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (_, c) = common::api(
        &sb,
        reqwest::Method::GET,
        &format!("/v3/customers?id:in={customer_id}"),
        None,
    )
    .await;
    let email = c.unwrap()["data"][0]["email"].as_str().unwrap().to_owned();

    let bearer = "agent-bearer-77";
    let (mut server, url) = h.http_server(&sb, bearer, &["--allow-writes"]);
    let out = h
        .script(
            &sb,
            "agent.py",
            &["--customer-email".into(), email],
            Via::Http(&url, Some(bearer)),
        )
        .await;
    assert!(out.get("error").is_none(), "{out}");
    assert_eq!(out["shipped_order_id"], newest, "{out}");
    assert_eq!(out["orders_seen"].as_u64().unwrap() as usize, theirs.len());
    let (_, o) = common::api(
        &sb,
        reqwest::Method::GET,
        &format!("/v2/orders/{newest}"),
        None,
    )
    .await;
    let o = o.unwrap();
    assert_eq!(o["status_id"], 2, "Shipped in the sandbox: {o}");
    assert_eq!(o["staff_notes"], "Shipped by the MCP agent scenario");
    // Only that order changed.
    for other in theirs.iter().filter(|o| o["id"] != newest) {
        let (_, now) = common::api(
            &sb,
            reqwest::Method::GET,
            &format!("/v2/orders/{}", other["id"]),
            None,
        )
        .await;
        assert_eq!(now.unwrap()["staff_notes"], other["staff_notes"]);
    }
    server.kill().unwrap();
    server.wait().unwrap();
}
