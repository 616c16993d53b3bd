//! MCP tool-call latency: `bcsync mcp` started over stdio (as an MCP client starts it), a
//! session opened with `initialize`, then a sequence of `tools/call` requests against an
//! in-process sandbox (Unlimited plan, so pacing never waits). Each call is timed from
//! writing the request line to reading its response line: the whole path an agent pays
//! (JSON-RPC, argument parsing, the API requests through the client, shaping and capping,
//! the run-log write). Prints p50 / p90 / p99 / max per tool, and the same API requests
//! sent directly with reqwest as the floor.
//!
//! `cargo bench -p bcsync --bench mcp` (BENCH_CALLS=200 by default per tool).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bc_sandbox::{SandboxConfig, SeedSpec};
use hdrhistogram::Histogram;
use serde_json::{Value, json};

struct Session {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
    next_id: u64,
}

impl Session {
    fn send(&mut self, msg: &Value) {
        writeln!(self.stdin, "{msg}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Sends a request and waits for the response with its id.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "server closed stdout"
            );
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    fn call(&mut self, tool: &str, args: Value) -> Value {
        let r = self.request("tools/call", json!({"name": tool, "arguments": args}));
        assert_ne!(r["isError"], true, "{tool}: {r}");
        r
    }
}

fn report(name: &str, h: &Histogram<u64>) {
    let ms = |v: u64| v as f64 / 1000.0;
    println!(
        "{name:<34} n={:<5} p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        h.len(),
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.90)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max()),
    );
}

fn main() {
    let calls: usize = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sb = rt.block_on(async {
        bc_sandbox::start(
            SandboxConfig {
                seed: SeedSpec {
                    customers: 500,
                    products: 300,
                    orders: 1000,
                    ..SeedSpec::demo()
                },
                ..SandboxConfig::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bcsync"))
        .args(["mcp", "--state"])
        .arg(dir.path().join("runs.db"))
        .env("BIGCOMMERCE_STORE_HASH", sb.store_hash())
        .env("BIGCOMMERCE_ACCESS_TOKEN", sb.token())
        .env("BIGCOMMERCE_BASE_URL", sb.base_url())
        .env("RUST_LOG", "error")
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut s = Session {
        stdin: child.stdin.take().unwrap(),
        stdout: BufReader::new(child.stdout.take().unwrap()),
        child,
        next_id: 0,
    };
    s.request(
        "initialize",
        json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "bcsync-bench", "version": "0"}
        }),
    );
    s.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));

    let orders = s.call("list-orders", json!({"limit": 250, "fields": ["id"]}));
    let ids: Vec<u64> = orders["structuredContent"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_u64().unwrap())
        .collect();
    let customers = s.call("list-customers", json!({"limit": 250, "fields": ["id"]}));
    let customer_ids: Vec<u64> = customers["structuredContent"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_u64().unwrap())
        .collect();

    println!(
        "MCP tool calls over stdio against an in-process sandbox (Unlimited plan), {calls} \
         calls per tool after 20 warm-up calls"
    );
    type Args = Box<dyn Fn(usize) -> Value>;
    let cases: Vec<(&str, &str, Args)> = vec![
        (
            "list-orders (25, compact; 1 request)",
            "list-orders",
            Box::new(|i| json!({"limit": 25, "cursor": format!("offset:{}", (i * 25) % 900)})),
        ),
        (
            "get-order (5 requests, 4 parallel)",
            "get-order",
            Box::new({
                let ids = ids.clone();
                move |i| json!({"id": ids[i % ids.len()]})
            }),
        ),
        (
            "get-customer (2 requests)",
            "get-customer",
            Box::new({
                let ids = customer_ids.clone();
                move |i| json!({"id": ids[i % ids.len()]})
            }),
        ),
        (
            "raw-api-request GET /v2/time",
            "raw-api-request",
            Box::new(|_| json!({"method": "GET", "path": "/v2/time"})),
        ),
    ];
    for (label, tool, args) in &cases {
        for i in 0..20 {
            s.call(tool, args(i));
        }
        let mut h = Histogram::<u64>::new(3).unwrap();
        for i in 0..calls {
            let started = Instant::now();
            s.call(tool, args(i));
            h.record(started.elapsed().as_micros() as u64).unwrap();
        }
        report(label, &h);
    }

    // The floor: the same API request as raw-api-request GET /v2/time, straight to the
    // sandbox over a kept-alive connection.
    let http = reqwest::Client::new();
    let url = format!("{}/v2/time", sb.store_url());
    let mut h = Histogram::<u64>::new(3).unwrap();
    rt.block_on(async {
        for i in 0..(calls + 20) {
            let started = Instant::now();
            let r = http
                .get(&url)
                .header("X-Auth-Token", sb.token())
                .send()
                .await
                .unwrap();
            r.bytes().await.unwrap();
            if i >= 20 {
                h.record(started.elapsed().as_micros() as u64).unwrap();
            }
        }
    });
    report("direct GET /v2/time (no MCP)", &h);

    drop(s.stdin);
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = s.child.kill();
}
