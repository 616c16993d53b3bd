//! Bad input and bad credentials over real HTTP: each is refused with the right status in
//! the V2 or V3 error shape of its path (docs/api-notes.md §0.2, §0.3), and the server keeps
//! answering afterwards, whatever arrived before.
#![allow(clippy::unwrap_used)]

use crate::common;

use bc_sandbox::{SandboxConfig, TokenConfig};
use common::{Api, Resp, assert_v2_error, assert_v3_error};
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const READ_ONLY_TOKEN: &str = "read-only-token";

async fn start() -> Api {
    common::start(SandboxConfig {
        tokens: vec![
            TokenConfig::full("sandbox-token"),
            TokenConfig::parse(&format!("{READ_ONLY_TOKEN}:store_v2_customers_read_only")).unwrap(),
        ],
        max_body_bytes: 4096,
        ..SandboxConfig::default()
    })
    .await
}

/// A request with a raw body and content type, reduced like `Api::call` does.
async fn send_raw(
    api: &Api,
    method: Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Resp {
    let url = format!("{}{path}", api.sandbox.store_url());
    let resp = api
        .http
        .request(method, url)
        .header("X-Auth-Token", &api.token)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).ok();
    Resp {
        status,
        headers,
        body,
        text,
    }
}

async fn assert_still_answering(api: &Api) {
    let resp = api.get("/v2/time").await;
    assert_eq!(
        resp.status, 200,
        "the server must keep answering: {}",
        resp.text
    );
}

#[tokio::test]
async fn malformed_json_is_400() {
    let api = start().await;
    let bodies: [&[u8]; 3] = [b"{\"email\": ", b"[{]", b"\xff\xfe not utf-8"];
    for body in bodies {
        assert_v3_error(
            &send_raw(
                &api,
                Method::POST,
                "/v3/customers",
                "application/json",
                body.to_vec(),
            )
            .await,
            400,
        );
        assert_v2_error(
            &send_raw(
                &api,
                Method::POST,
                "/v2/orders",
                "application/json",
                body.to_vec(),
            )
            .await,
            400,
        );
    }
    assert_still_answering(&api).await;
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let api = start().await;
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
    ] {
        assert_v3_error(
            &send_raw(&api, Method::POST, "/v3/customers", ct, b"[]".to_vec()).await,
            415,
        );
        assert_v2_error(
            &send_raw(&api, Method::POST, "/v2/orders", ct, b"{}".to_vec()).await,
            415,
        );
    }
    assert_still_answering(&api).await;
}

#[tokio::test]
async fn oversized_body_is_413() {
    let api = start().await;
    let big = serde_json::to_vec(&vec![
        serde_json::json!({ "first_name": "x".repeat(100) });
        100
    ])
    .unwrap();
    assert!(big.len() > 4096);
    assert_v3_error(
        &send_raw(
            &api,
            Method::POST,
            "/v3/customers",
            "application/json",
            big.clone(),
        )
        .await,
        413,
    );
    assert_v2_error(
        &send_raw(&api, Method::POST, "/v2/orders", "application/json", big).await,
        413,
    );
    assert_still_answering(&api).await;
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let api = start().await;
    assert_v3_error(&api.get("/v3/no_such_resource").await, 404);
    assert_v2_error(&api.get("/v2/no_such_resource").await, 404);
    assert_v3_error(&api.call(Method::PATCH, "/v3/customers", None).await, 405);
    assert_v2_error(&api.delete("/v2/time").await, 405);
    assert_still_answering(&api).await;
}

#[tokio::test]
async fn missing_or_wrong_token_is_401_in_both_shapes() {
    let api = start().await;
    let url = format!("{}/v3/customers", api.sandbox.store_url());
    let resp = api.http.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 401, "no token at all");
    assert_v3_error(
        &api.call_with(Method::GET, "/v3/customers", None, "wrong")
            .await,
        401,
    );
    assert_v2_error(
        &api.call_with(Method::GET, "/v2/orders", None, "wrong")
            .await,
        401,
    );
    assert_v2_error(
        &api.call_with(Method::GET, "/v2/orders", None, "").await,
        401,
    );
    assert_still_answering(&api).await;
}

#[tokio::test]
async fn unknown_store_hash_is_404() {
    let api = start().await;
    for (path, v2) in [
        ("/stores/not-my-store/v3/customers", false),
        ("/stores/not-my-store/v2/time", true),
    ] {
        let resp = api.admin(Method::GET, path, None).await;
        if v2 {
            assert_v2_error(&resp, 404)
        } else {
            assert_v3_error(&resp, 404)
        }
    }
    assert_still_answering(&api).await;
}

#[tokio::test]
async fn read_only_scope_reads_but_cannot_write() {
    let api = start().await;
    let read = api
        .call_with(Method::GET, "/v3/customers", None, READ_ONLY_TOKEN)
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    let body = Some(
        serde_json::json!([{ "email": "ro@example.com", "first_name": "R", "last_name": "O" }]),
    );
    assert_v3_error(
        &api.call_with(Method::POST, "/v3/customers", body, READ_ONLY_TOKEN)
            .await,
        403,
    );
    let group = Some(serde_json::json!({ "name": "Wholesale" }));
    assert_v2_error(
        &api.call_with(Method::POST, "/v2/customer_groups", group, READ_ONLY_TOKEN)
            .await,
        403,
    );
    // No orders scope at all: even reading is refused.
    assert_v2_error(
        &api.call_with(Method::GET, "/v2/orders", None, READ_ONLY_TOKEN)
            .await,
        403,
    );
    assert_still_answering(&api).await;
}

#[tokio::test]
async fn garbage_and_abandoned_requests_do_not_wedge_the_server() {
    let api = start().await;
    let addr = api.sandbox.addr;

    // Not HTTP at all.
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(b"THIS IS NOT HTTP\r\n\r\n").await.unwrap();
    let mut reply = Vec::new();
    let _ = sock.read_to_end(&mut reply).await;
    assert!(
        reply.is_empty() || reply.starts_with(b"HTTP/1.1 4"),
        "{}",
        String::from_utf8_lossy(&reply)
    );

    // A body promised but never finished, then the client goes away.
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /stores/sandbox/v3/customers HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{{\"email\":",
        api.token
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    drop(sock);

    // Many bad requests at once.
    let mut tasks = Vec::new();
    for i in 0..64 {
        let url = format!("{}/v3/customers", api.sandbox.store_url());
        let (content_type, body) = if i % 2 == 0 {
            ("application/json", "{")
        } else {
            ("text/csv", "a,b")
        };
        let req = api
            .http
            .post(url)
            .header("X-Auth-Token", &api.token)
            .header("Content-Type", content_type)
            .body(body);
        tasks.push(tokio::spawn(async move {
            req.send().await.unwrap().status().as_u16()
        }));
    }
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status == 400 || status == 415, "{status}");
    }
    assert_still_answering(&api).await;
}
