//! Shared helpers for the sandbox's integration tests: start a sandbox on port 0 and talk
//! to it over real HTTP.
#![allow(dead_code, clippy::unwrap_used)]

use bc_sandbox::{RunningSandbox, SandboxConfig, SeedSpec};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A running sandbox plus an HTTP client that sends the sandbox's token.
pub struct Api {
    pub sandbox: RunningSandbox,
    pub http: reqwest::Client,
    pub token: String,
}

/// A response reduced to what tests look at. `body` is `None` for an empty body (204).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Option<Value>,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> &Value {
        self.body
            .as_ref()
            .unwrap_or_else(|| panic!("no JSON body (status {}): {:?}", self.status, self.text))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Starts a sandbox with `config` on 127.0.0.1:0.
pub async fn start(config: SandboxConfig) -> Api {
    let token = config
        .tokens
        .first()
        .map(|t| t.token.clone())
        .unwrap_or_default();
    let sandbox = bc_sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    Api {
        sandbox,
        http: reqwest::Client::new(),
        token,
    }
}

/// Starts an unthrottled sandbox seeded with `seed`.
pub async fn start_seeded(seed: SeedSpec) -> Api {
    start(SandboxConfig {
        seed,
        ..SandboxConfig::default()
    })
    .await
}

impl Api {
    /// `path` is relative to the store, e.g. `/v3/customers?limit=5`.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.call_with(method, path, body, &self.token.clone())
            .await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: &str,
    ) -> Resp {
        let url = format!("{}{}", self.sandbox.store_url(), path);
        let mut req = self
            .http
            .request(method, url)
            .header("X-Auth-Token", token)
            .header("Accept", "application/json");
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(&b).unwrap());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            None
        } else {
            serde_json::from_str(&text).ok()
        };
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, None).await
    }

    /// The journal's events (`/_sandbox/events`), oldest first.
    pub async fn events(&self) -> Vec<Value> {
        let r = self.admin(Method::GET, "/_sandbox/events", None).await;
        r.json()["events"]
            .as_array()
            .unwrap_or_else(|| panic!("no events: {}", r.text))
            .clone()
    }

    /// The scope of each journal event, oldest first.
    pub async fn event_scopes(&self) -> Vec<String> {
        self.events()
            .await
            .iter()
            .map(|e| e["scope"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Raw request to any URL path on the sandbox (e.g. `/_sandbox/requests`).
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let url = format!("{}{}", self.sandbox.base_url(), path);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            None
        } else {
            serde_json::from_str(&text).ok()
        };
        Resp {
            status,
            headers,
            body,
            text,
        }
    }
}

/// The `id` of each item of a JSON array (a V2 list body).
pub fn ids_of(items: &Value) -> Vec<i64> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"))
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect()
}

/// The `id` of each record of a V3 list body (`{data: [...]}`).
pub fn data_ids(body: &Value) -> Vec<i64> {
    ids_of(&body["data"])
}

/// Asserts a V3 error body: `{status, title, type}` with the given status.
pub fn assert_v3_error(resp: &Resp, status: u16) {
    assert_eq!(resp.status.as_u16(), status, "body: {}", resp.text);
    let b = resp.json();
    assert_eq!(b["status"], status, "body: {}", resp.text);
    assert!(b["title"].is_string(), "body: {}", resp.text);
    assert!(b["type"].is_string(), "body: {}", resp.text);
}

/// Asserts a V2 error body: `[{status, message}]` with the given status.
pub fn assert_v2_error(resp: &Resp, status: u16) {
    assert_eq!(resp.status.as_u16(), status, "body: {}", resp.text);
    let b = resp.json();
    assert_eq!(b[0]["status"], status, "body: {}", resp.text);
    assert!(b[0]["message"].is_string(), "body: {}", resp.text);
}
