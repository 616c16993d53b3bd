//! Shared helpers for the Brevo emulator's integration tests: start an emulator on port 0
//! and talk to it over real HTTP with its test key.
#![allow(dead_code, clippy::unwrap_used)]

use bc_sandbox::brevo::{BrevoConfig, RunningBrevo, start_brevo};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub struct Emu {
    pub brevo: RunningBrevo,
    pub http: reqwest::Client,
    pub key: String,
}

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

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    pub fn code(&self) -> &str {
        self.json()["code"].as_str().unwrap_or("")
    }
}

impl Emu {
    /// An emulator with unlimited rate buckets and the e-commerce app active.
    pub async fn start() -> Self {
        Self::with(BrevoConfig {
            limits: bc_sandbox::brevo::TierLimits::unlimited(),
            ecommerce_active: true,
            ..BrevoConfig::default()
        })
        .await
    }

    pub async fn with(config: BrevoConfig) -> Self {
        let brevo = start_brevo(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let key = brevo.api_key();
        Emu {
            brevo,
            http: reqwest::Client::new(),
            key,
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder, body: Option<Value>) -> Resp {
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        let r = req.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
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

    /// A `/v3` call with the emulator's key; `path` starts with `/`.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.call_with_key(method, path, body, Some(&self.key.clone()))
            .await
    }

    pub async fn call_with_key(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> Resp {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.brevo.base_url()))
            .header("accept", "application/json");
        if let Some(k) = key {
            req = req.header("api-key", k);
        }
        self.send(req, body).await
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

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let req = self
            .http
            .request(method, format!("{}{path}", self.brevo.admin_url()));
        self.send(req, body).await
    }

    pub async fn state(&self) -> Value {
        self.admin(Method::GET, "/state", None).await.json().clone()
    }

    pub async fn advance(&self, seconds: f64) {
        let r = self
            .admin(
                Method::POST,
                "/clock/advance",
                Some(json!({ "seconds": seconds })),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    pub async fn seed(&self, body: Value) -> Value {
        let r = self.admin(Method::POST, "/seed", Some(body)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json().clone()
    }

    pub async fn switches(&self, body: Value) {
        let r = self.admin(Method::PUT, "/switches", Some(body)).await;
        assert_eq!(r.status, 204, "{}", r.text);
    }

    /// Creates a contact and returns its id.
    pub async fn contact(&self, body: Value) -> i64 {
        let r = self.post("/contacts", body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.json()["id"].as_i64().unwrap()
    }

    /// A folder with one list; returns the list id.
    pub async fn list(&self, name: &str) -> i64 {
        let s = self
            .seed(json!({"folders": [{"name": "F", "lists": [name]}]}))
            .await;
        s["folders"][0]["lists"][0].as_i64().unwrap()
    }
}
