//! The client over real HTTP against scripted fakes, for the answers the sandbox cannot be
//! made to give on demand: exact status sequences, 429s with and without headers, 204
//! pages, metadata that disagrees with itself, truncated bodies, refused connections.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use bigcommerce::{ApiRequest, ApiVersion, Client, ClientConfig, Error, TransportKind};
use futures::TryStreamExt;
use serde_json::{Value, json};
use support::{Events, Fake, HASH, RawFake, Reply, TOKEN, config, raw_response};
use tokio::time::Instant;

fn v3_error(status: u16, title: &str) -> Reply {
    Reply::json(
        status,
        json!({"status": status, "title": title, "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes", "errors": {}}),
    )
}

fn ok() -> Reply {
    Reply::json(200, json!({"data": [], "meta": {}}))
}

#[tokio::test]
async fn sends_auth_accept_user_agent_and_gzip_headers() {
    let fake = Fake::start(|_, _| ok()).await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    client
        .get(
            ApiVersion::V3,
            "customers",
            &[("id:in".into(), "1,2".into())],
        )
        .await
        .unwrap();
    client
        .send(ApiRequest::post(ApiVersion::V2, "/orders", json!({"a": 1})))
        .await
        .unwrap();

    let seen = fake.seen();
    assert_eq!(seen[0].path, format!("/stores/{HASH}/v3/customers"));
    assert_eq!(seen[0].query, "id:in=1,2");
    assert_eq!(seen[0].header("x-auth-token"), Some(TOKEN));
    assert_eq!(seen[0].header("accept"), Some("application/json"));
    assert!(seen[0].header("user-agent").unwrap().starts_with("bcsync/"));
    assert!(seen[0].header("accept-encoding").unwrap().contains("gzip"));
    assert_eq!(
        seen[0].header("content-type"),
        None,
        "no body, no content type"
    );
    assert_eq!(seen[1].method, "POST");
    assert_eq!(seen[1].path, format!("/stores/{HASH}/v2/orders"));
    assert_eq!(seen[1].header("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<Value>(&seen[1].body).unwrap(),
        json!({"a": 1})
    );
}

#[tokio::test]
async fn bad_token_fails_at_once_without_leaking_it() {
    let fake = Fake::start(|_, _| {
        v3_error(401, "Unauthorized - the v3 Auth client ID or token in the request are not a valid combination for this store.")
    })
    .await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let started = Instant::now();
    let err = client
        .get(ApiVersion::V3, "/customers", &[])
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert_eq!(err.status(), Some(401));
    assert_eq!(fake.count(), 1);
    let text = format!("{err} {err:?}");
    assert!(text.contains("BIGCOMMERCE_ACCESS_TOKEN"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    for status in [400u16, 403, 404, 405, 409, 413, 415, 422, 423] {
        let fake = Fake::start(move |_, _| v3_error(status, "nope")).await;
        let client = Client::new(config(&fake.base_url())).unwrap();
        let err = client
            .get(ApiVersion::V3, "/catalog/products", &[])
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status), "{err:?}");
        assert_eq!(fake.count(), 1, "status {status} was retried");
        assert_eq!(client.stats().retries, 0);
    }
}

#[tokio::test]
async fn validation_errors_keep_the_field_map() {
    let fake = Fake::start(|_, _| {
        Reply::json(
            422,
            json!({"status": 422, "title": "Create customers failed.", "type": "t",
                   "errors": {"0.email": "email is invalid", "1.first_name": "required"}}),
        )
    })
    .await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let err = client
        .send(ApiRequest::post(
            ApiVersion::V3,
            "/customers",
            json!([{"email": "x"}]),
        ))
        .await
        .unwrap_err();
    match &err {
        Error::Api {
            status,
            method,
            path,
            title,
            ..
        } => {
            assert_eq!(
                (*status, method.as_str(), path.as_str()),
                (422, "POST", "/v3/customers")
            );
            assert_eq!(title.as_deref(), Some("Create customers failed."));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.field_errors().get("0.email").map(String::as_str),
        Some("email is invalid")
    );
    assert_eq!(err.title().as_deref(), Some("Create customers failed."));
}

#[tokio::test]
async fn v2_error_arrays_are_kept() {
    let fake = Fake::start(|_, _| {
        Reply::json(
            404,
            json!([{"status": 404, "message": "The requested resource was not found."}]),
        )
    })
    .await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let err = client
        .get(ApiVersion::V2, "/orders/999", &[])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }));
    assert_eq!(
        err.title().as_deref(),
        Some("The requested resource was not found.")
    );
    let err = client.get(ApiVersion::V2, "/store", &[]).await.unwrap_err();
    assert!(err.to_string().contains("store hash"), "{err}");
}

#[tokio::test]
async fn forbidden_names_the_scope() {
    let fake = Fake::start(|_, _| Reply::json(403, json!([{"status": 403, "message": "You don't have a required scope to access the endpoint"}]))).await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let err = client
        .get(ApiVersion::V2, "/orders", &[])
        .await
        .unwrap_err();
    match &err {
        Error::Forbidden { scope, .. } => assert_eq!(*scope, Some("store_v2_orders")),
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("store_v2_orders_read_only"),
        "{err}"
    );
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let fake = Fake::start(|_, n| match n {
        0 => v3_error(503, "maintenance"),
        1 => Reply::empty(502),
        2 => v3_error(500, "oops"),
        _ => ok(),
    })
    .await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let resp = client
        .get(ApiVersion::V3, "/catalog/products", &[])
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(fake.count(), 4);
    let stats = client.stats();
    assert_eq!(stats.requests, 4);
    assert_eq!(stats.retries, 3);
    assert_eq!(stats.responses_by_status.get(&503), Some(&1));
    assert_eq!(stats.responses_by_status.get(&200), Some(&1));
}

#[tokio::test]
async fn server_errors_give_up_after_max_retries() {
    let fake = Fake::start(|_, _| v3_error(500, "oops")).await;
    let client = Client::new(ClientConfig {
        max_retries: 2,
        ..config(&fake.base_url())
    })
    .unwrap();
    let err = client
        .get(ApiVersion::V3, "/catalog/products", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Server {
                status: 500,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(fake.count(), 3);
}

#[tokio::test]
async fn not_implemented_fails_at_once() {
    let fake = Fake::start(|_, _| v3_error(501, "PATCH not supported")).await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let err = client.get(ApiVersion::V3, "/x", &[]).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Server {
                status: 501,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(fake.count(), 1);
}

#[tokio::test]
async fn post_is_not_retried_on_5xx_but_is_on_429() {
    let fake = Fake::start(|_, _| v3_error(503, "down")).await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let err = client
        .send(ApiRequest::post(ApiVersion::V3, "/customers", json!([])))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Server { status: 503, .. }));
    assert_eq!(fake.count(), 1);

    let fake = Fake::start(|_, n| {
        if n == 0 {
            Reply::empty(429)
        } else {
            Reply::json(201, json!({"data": {"id": 1}}))
        }
    })
    .await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let resp = client
        .send(ApiRequest::post(ApiVersion::V3, "/customers", json!([])))
        .await
        .unwrap();
    assert_eq!(resp.status, 201);
    assert_eq!(fake.count(), 2);
    assert_eq!(client.stats().rate_limited, 1);
}

#[tokio::test]
async fn rate_limit_exhausted_after_retries_is_rate_limited() {
    let fake = Fake::start(|_, _| Reply::empty(429)).await;
    let client = Client::new(ClientConfig {
        max_retries: 1,
        ..config(&fake.base_url())
    })
    .unwrap();
    let err = client
        .get(ApiVersion::V2, "/orders", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { attempts: 2, .. }),
        "{err:?}"
    );
}

/// Waits until the client has taken a 429 and paused (so later requests meet the pause).
async fn wait_for_pause(client: &Client) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while client.rate_limit().paused_for.is_none() {
        assert!(Instant::now() < deadline, "the client never paused");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test]
async fn a_429_with_reset_pauses_every_request_until_the_reset() {
    // Request 0 is refused with a 300 ms reset; everything else succeeds.
    let fake = Fake::start(|_, n| {
        if n == 0 {
            v3_error(429, "Too many requests")
                .header("X-Rate-Limit-Time-Reset-Ms", 300)
                .header("X-Rate-Limit-Requests-Left", 0)
                .header("X-Rate-Limit-Requests-Quota", 150)
                .header("X-Rate-Limit-Time-Window-Ms", 30000)
        } else {
            ok().header("X-Rate-Limit-Time-Reset-Ms", 29000)
                .header("X-Rate-Limit-Requests-Left", 149)
                .header("X-Rate-Limit-Requests-Quota", 150)
                .header("X-Rate-Limit-Time-Window-Ms", 30000)
        }
    })
    .await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let first = tokio::spawn({
        let client = client.clone();
        async move { client.get(ApiVersion::V3, "/a", &[]).await }
    });
    wait_for_pause(&client).await;
    let others: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get(ApiVersion::V3, "/b", &[]).await })
        })
        .collect();
    first.await.unwrap().unwrap();
    for o in others {
        o.await.unwrap().unwrap();
    }
    let seen = fake.seen();
    assert_eq!(seen.len(), 6);
    let refused_at = seen[0].at;
    for s in &seen[1..] {
        assert!(
            s.at >= refused_at + Duration::from_millis(300),
            "a request went out {:?} after the 429",
            s.at - refused_at
        );
    }
    assert_eq!(client.stats().rate_limited, 1);
}

#[tokio::test]
async fn a_concurrency_cap_429_does_not_wait_for_the_window() {
    // Quota left but the endpoint's concurrency cap was hit (docs/api-notes.md §0.7): a short
    // backoff, not the 25 s until the window resets.
    let fake = Fake::start(|_, n| {
        let reply = if n == 1 {
            v3_error(429, "Too many concurrent requests")
        } else {
            ok()
        };
        reply
            .header("X-Rate-Limit-Time-Reset-Ms", 25000)
            .header("X-Rate-Limit-Requests-Left", 100)
            .header("X-Rate-Limit-Requests-Quota", 150)
            .header("X-Rate-Limit-Time-Window-Ms", 30000)
    })
    .await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let started = Instant::now();
    client.get(ApiVersion::V3, "/probe", &[]).await.unwrap();
    client
        .send(ApiRequest::put(ApiVersion::V3, "/customers", json!([])))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.count(), 3);
}

#[tokio::test]
async fn a_429_without_headers_backs_off_every_request() {
    let fake = Fake::start(|_, n| if n == 1 { Reply::empty(429) } else { ok() }).await;
    let client = Client::new(ClientConfig {
        retry_base_delay: Duration::from_millis(200),
        retry_max_delay: Duration::from_millis(400),
        ..config(&fake.base_url())
    })
    .unwrap();
    // Request 0 establishes an unlimited store (no headers).
    client.get(ApiVersion::V3, "/probe", &[]).await.unwrap();
    let refused = tokio::spawn({
        let client = client.clone();
        async move { client.get(ApiVersion::V3, "/a", &[]).await }
    });
    wait_for_pause(&client).await;
    client.get(ApiVersion::V3, "/b", &[]).await.unwrap();
    refused.await.unwrap().unwrap();
    let seen = fake.seen();
    assert_eq!(seen.len(), 4);
    // The backoff of attempt 1 is at least half the base delay: 100 ms.
    let refused_at = seen[1].at;
    for s in &seen[2..] {
        assert!(
            s.at >= refused_at + Duration::from_millis(100),
            "{:?}",
            s.at - refused_at
        );
    }
}

#[tokio::test]
async fn truncated_body_on_get_is_retried() {
    let raw = RawFake::start(vec![
        raw_response("200 OK", r#"[{"id":1},{"id""#, 400),
        raw_response("200 OK", r#"[{"id":1}]"#, 10),
    ])
    .await;
    let client = Client::new(config(&raw.base_url())).unwrap();
    let resp = client.get(ApiVersion::V2, "/orders", &[]).await.unwrap();
    assert_eq!(resp.body, Some(json!([{"id": 1}])));
    assert_eq!(raw.connections(), 2);
    assert_eq!(client.stats().transport_errors, 1);
}

#[tokio::test]
async fn truncated_body_on_post_is_not_retried() {
    let raw = RawFake::start(vec![
        raw_response("200 OK", r#"{"data":"#, 400),
        raw_response("200 OK", "{}", 2),
    ])
    .await;
    let client = Client::new(config(&raw.base_url())).unwrap();
    let err = client
        .send(ApiRequest::post(ApiVersion::V2, "/orders", json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: TransportKind::TruncatedBody,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(raw.connections(), 1);
}

#[tokio::test]
async fn json_cut_short_without_content_length_is_retried() {
    // The body arrives "complete" (the connection closed) but the JSON stops mid-way.
    let raw = RawFake::start(vec![
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n[{\"id\":1},".to_vec(),
        raw_response("200 OK", "[]", 2),
    ])
    .await;
    let client = Client::new(config(&raw.base_url())).unwrap();
    let resp = client.get(ApiVersion::V2, "/orders", &[]).await.unwrap();
    assert_eq!(resp.body, Some(json!([])));
    assert_eq!(raw.connections(), 2);
}

#[tokio::test]
async fn redirects_are_reported_not_followed() {
    let fake =
        Fake::start(|_, _| Reply::empty(301).header("location", "https://elsewhere.example/steal"))
            .await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let err = client.get(ApiVersion::V3, "/x", &[]).await.unwrap_err();
    assert!(matches!(err, Error::Api { status: 301, .. }), "{err:?}");
    assert!(err.to_string().contains("elsewhere.example"), "{err}");
    assert_eq!(fake.count(), 1);
}

#[tokio::test]
async fn garbage_body_is_a_decode_error() {
    let fake = Fake::start(|_, _| Reply {
        body: b"<html>hello</html>".to_vec(),
        ..Reply::empty(200)
    })
    .await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let err = client.get(ApiVersion::V3, "/x", &[]).await.unwrap_err();
    assert!(matches!(err, Error::Decode { status: 200, .. }), "{err:?}");
    assert_eq!(fake.count(), 1);
}

#[tokio::test]
async fn refused_first_connection_is_not_retried() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = Client::new(ClientConfig {
        max_retries: 1,
        ..config(&format!("http://127.0.0.1:{port}"))
    })
    .unwrap();
    // The host never answered: a wrong base URL, not a blip (retries after a first answer
    // are covered in tests/fail_fast.rs). Even a POST may retry a connect error, since it
    // never reached the server, but there is nothing to retry here.
    let err = client
        .send(ApiRequest::post(ApiVersion::V3, "/customers", json!([])))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert_eq!(client.stats().requests, 1);
    assert!(!format!("{err} {err:?}").contains(TOKEN));
}

#[tokio::test]
async fn a_slow_answer_times_out_and_is_retried() {
    let fake = Fake::start(|_, n| {
        if n == 0 {
            ok().delayed(Duration::from_millis(800))
        } else {
            ok()
        }
    })
    .await;
    let client = Client::new(ClientConfig {
        timeout: Duration::from_millis(200),
        ..config(&fake.base_url())
    })
    .unwrap();
    client.get(ApiVersion::V3, "/x", &[]).await.unwrap();
    assert_eq!(fake.count(), 2);
    assert_eq!(client.stats().transport_errors, 1);
}

#[tokio::test]
async fn observer_sees_every_attempt_redacted() {
    let fake = Fake::start(|_, n| {
        if n == 0 {
            v3_error(503, "busy")
        } else {
            ok().header("X-Rate-Limit-Requests-Left", 5)
        }
    })
    .await;
    let events = Arc::new(Events::default());
    let client = Client::new(config(&fake.base_url()))
        .unwrap()
        .with_observer(events.clone());
    client
        .get(
            ApiVersion::V3,
            "/customers",
            &[("limit".into(), "5".into())],
        )
        .await
        .unwrap();
    let events = events.0.lock().clone();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].status, Some(503));
    assert!(events[0].will_retry);
    assert_eq!(events[0].attempt, 1);
    assert!(events[0].error.as_deref().unwrap().contains("503"));
    assert_eq!(events[1].status, Some(200));
    assert!(!events[1].will_retry);
    assert_eq!(events[1].attempt, 2);
    assert_eq!(events[1].url_path, format!("/stores/{HASH}/v3/customers"));
    assert_eq!(events[1].query, "limit=5");
    assert!(
        events[1]
            .headers
            .iter()
            .any(|(k, v)| k == "x-rate-limit-requests-left" && v == "5")
    );
    assert!(!format!("{events:?}").contains(TOKEN));
}

#[tokio::test]
async fn capture_gives_the_observer_redacted_headers_and_bodies_only_when_on() {
    let fake = Fake::start(|_, _| {
        Reply::json(
            200,
            // Keys in alphabetical order: the same text whether or not serde_json keeps
            // the order it read.
            json!({"data": [{"email": "ann@example.com", "id": 7, "phone": "555"}]}),
        )
    })
    .await;
    let body = json!([{"email": "ann@example.com", "first_name": "Ann", "password": "p4ss"}]);
    let events = Arc::new(Events::default());
    let base = Client::new(config(&fake.base_url())).unwrap();
    let captured = base
        .clone()
        .with_capture(Some(bigcommerce::CaptureOptions {
            redact_fields: vec!["EMAIL".into()],
            ..Default::default()
        }))
        .with_observer(events.clone());
    captured
        .send(ApiRequest::post(ApiVersion::V3, "/customers", body.clone()))
        .await
        .unwrap();
    // The same client without capture: the event carries no headers or bodies.
    base.with_observer(events.clone())
        .send(ApiRequest::post(ApiVersion::V3, "/customers", body))
        .await
        .unwrap();
    let events = events.0.lock().clone();
    let c = events[0].capture.as_ref().expect("captured");
    assert!(
        c.request_headers
            .contains(&("x-auth-token".to_owned(), "<redacted>".to_owned()))
    );
    assert_eq!(
        c.request_body.as_ref().unwrap().text,
        r#"[{"email":"<redacted>","first_name":"Ann","password":"<redacted>"}]"#
    );
    assert_eq!(
        c.response_body.as_ref().unwrap().text,
        r#"{"data":[{"email":"<redacted>","id":7,"phone":"555"}]}"#
    );
    assert_eq!(events[1].capture, None);
    assert!(!format!("{events:?}").contains(TOKEN));
}

#[tokio::test]
async fn v2_pages_stop_on_a_short_page() {
    let fake = Fake::start(|seen, _| {
        let page: usize = seen.param("page").unwrap().parse().unwrap();
        let limit: usize = seen.param("limit").unwrap().parse().unwrap();
        let items: Vec<Value> = (1..=5usize)
            .skip((page - 1) * limit)
            .take(limit)
            .map(|i| json!({"id": i}))
            .collect();
        if items.is_empty() {
            Reply::empty(204)
        } else {
            Reply::json(200, Value::Array(items))
        }
    })
    .await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let pages: Vec<_> = client
        .v2_pages("/orders", vec![("sort".into(), "id:asc".into())], 2)
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<Value> = pages
        .iter()
        .flat_map(|p| p.items.iter().map(|i| i["id"].clone()))
        .collect();
    assert_eq!(ids, (1..=5).map(|i| json!(i)).collect::<Vec<_>>());
    assert_eq!(fake.count(), 3, "the short third page ends the walk");
    assert!(
        fake.seen()
            .iter()
            .all(|s| s.param("sort").as_deref() == Some("id:asc"))
    );
}

#[tokio::test]
async fn v2_pages_stop_on_204_and_on_empty_array() {
    for empty in [
        Reply::empty(204),
        Reply::json(200, json!([])),
        Reply::empty(200),
    ] {
        let fake = Fake::start(move |seen, _| {
            let page: usize = seen.param("page").unwrap().parse().unwrap();
            if page <= 2 {
                Reply::json(200, json!([{"id": page * 2 - 1}, {"id": page * 2}]))
            } else {
                empty.clone()
            }
        })
        .await;
        let client = Client::new(config(&fake.base_url())).unwrap();
        let pages: Vec<_> = client
            .v2_pages("/orders", vec![], 2)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(pages.iter().map(|p| p.items.len()).sum::<usize>(), 4);
        assert_eq!(fake.count(), 3);
        assert!(!pages.last().unwrap().meta.has_more);
    }
}

#[tokio::test]
async fn v3_pages_follow_total_pages_not_next_links() {
    let fake = Fake::start(|seen, _| {
        let page: u32 = seen.param("page").unwrap().parse().unwrap();
        // links.next is always present, even on the last page: it must be ignored.
        Reply::json(200, json!({"data": [{"id": page}], "meta": {"pagination": {
            "total": 3, "count": 1, "per_page": 1, "current_page": page, "total_pages": 3,
            "links": {"current": format!("?page={page}&limit=1"), "next": format!("?page={}&limit=1", page + 1)}}}}))
    })
    .await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let pages: Vec<_> = client
        .v3_pages("/catalog/products", vec![("page".into(), "9".into())], 1)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[2].meta.total, Some(3));
    assert_eq!(fake.count(), 3);
    // A caller's own `page` never doubles up with ours.
    assert!(
        fake.seen()
            .iter()
            .all(|s| s.query.matches("page=").count() == 1)
    );
}

#[tokio::test]
async fn v3_subcollection_204_is_an_empty_final_page() {
    let fake = Fake::start(|_, _| Reply::empty(204)).await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let pages: Vec<_> = client
        .v3_pages("/catalog/products/1/images", vec![], 50)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 1);
    assert!(pages[0].items.is_empty());
    assert_eq!(fake.count(), 1);
}

#[tokio::test]
async fn v3_cursor_pages_follow_end_cursor() {
    let fake = Fake::start(|seen, _| {
        let after: u32 = seen.param("after").map_or(0, |a| a.trim_start_matches('c').parse().unwrap());
        let limit: u32 = seen.param("limit").unwrap().parse().unwrap();
        let ids: Vec<u32> = (after + 1..=7).take(limit as usize).collect();
        let end = ids.last().copied().unwrap_or(after);
        let mut links = json!({"current": "?"});
        if end < 7 {
            links["next"] = json!(format!("?after=c{end}&limit={limit}"));
        }
        let mut meta = json!({"cursor_pagination": {"count": ids.len(), "per_page": limit, "start_cursor": "s", "end_cursor": format!("c{end}"), "links": links}});
        if after == 0 {
            meta["pagination"] = json!({"total": 7, "current_page": 1, "total_pages": 3});
        }
        Reply::json(200, json!({"data": ids.iter().map(|i| json!({"id": i})).collect::<Vec<_>>(), "meta": meta}))
    })
    .await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let pages: Vec<_> = client
        .v3_cursor_pages("/customers", vec![], 3)
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<u64> = pages
        .iter()
        .flat_map(|p| p.items.iter().map(|i| i["id"].as_u64().unwrap()))
        .collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(pages[0].meta.total, Some(7));
    let seen = fake.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].param("after"), None);
    assert_eq!(seen[1].param("after").as_deref(), Some("c3"));
    assert_eq!(seen[2].param("after").as_deref(), Some("c6"));
}

#[tokio::test]
async fn streams_are_lazy() {
    let fake = Fake::start(|_, _| Reply::json(200, json!([{"id": 1}, {"id": 2}]))).await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let mut pages = Box::pin(client.v2_pages("/orders", vec![], 2));
    assert_eq!(fake.count(), 0, "nothing is fetched before the first poll");
    pages.try_next().await.unwrap();
    pages.try_next().await.unwrap();
    assert_eq!(fake.count(), 2, "one request per page polled");
}

#[tokio::test]
async fn page_stream_ends_after_an_error() {
    let fake = Fake::start(|_, n| {
        if n == 0 {
            Reply::json(200, json!([{"id": 1}]))
        } else {
            v3_error(422, "bad")
        }
    })
    .await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let results: Vec<_> =
        futures::StreamExt::collect::<Vec<_>>(client.v2_pages("/orders", vec![], 1)).await;
    assert_eq!(results.len(), 2);
    assert!(results[1].is_err());
}

#[tokio::test]
async fn unlimited_store_is_bounded_by_the_concurrency_cap() {
    let fake = Fake::start(|_, _| ok().delayed(Duration::from_millis(20))).await;
    let client = Client::new(ClientConfig {
        max_concurrency: 4,
        ..config(&fake.base_url())
    })
    .unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get(ApiVersion::V3, "/x", &[]).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert!(fake.max_in_flight() <= 4, "{}", fake.max_in_flight());
    assert!(fake.max_in_flight() >= 2, "requests should overlap");
    assert!(client.rate_limit().unlimited);
}

/// A fake store with a fixed-window quota like BigCommerce's: the window opens at the
/// first request after the last one closed; `other_app` units are spent by another app at
/// every window's start.
fn quota_store(
    quota: u32,
    window: Duration,
    other_app: u32,
) -> impl Fn(&support::Seen, usize) -> Reply + Send + Sync + 'static {
    let state = parking_lot::Mutex::new((None::<Instant>, 0u32));
    move |_, _| {
        let now = Instant::now();
        let mut s = state.lock();
        let opened = match s.0 {
            Some(o) if now.duration_since(o) < window => o,
            _ => {
                s.0 = Some(now);
                s.1 = other_app;
                now
            }
        };
        let refused = s.1 >= quota;
        if !refused {
            s.1 += 1;
        }
        let reset = window.saturating_sub(now.duration_since(opened));
        let reply = if refused {
            v3_error(429, "Too many requests")
        } else {
            ok()
        };
        reply
            .header("X-Rate-Limit-Time-Window-Ms", window.as_millis())
            .header("X-Rate-Limit-Time-Reset-Ms", reset.as_millis().max(1))
            .header("X-Rate-Limit-Requests-Quota", quota)
            .header("X-Rate-Limit-Requests-Left", quota - s.1)
    }
}

#[tokio::test]
async fn pacing_keeps_under_a_fixed_window_quota() {
    let fake = Fake::start(quota_store(20, Duration::from_millis(200), 0)).await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let started = Instant::now();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get(ApiVersion::V3, "/x", &[]).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let stats = client.stats();
    assert_eq!(stats.rate_limited, 0, "{stats:?}");
    assert_eq!(fake.count(), 100);
    // 100 requests at 20 per 200 ms need at least 4 full windows.
    assert!(started.elapsed() >= Duration::from_millis(800));
    let snapshot = client.rate_limit();
    assert_eq!(snapshot.quota, Some(20));
    assert_eq!(snapshot.window, Some(Duration::from_millis(200)));
}

#[tokio::test]
async fn pacing_leaves_room_for_another_app_on_the_store() {
    let fake = Fake::start(quota_store(20, Duration::from_millis(200), 6)).await;
    let client = Client::new(config(&fake.base_url())).unwrap();
    let tasks: Vec<_> = (0..60)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get(ApiVersion::V3, "/x", &[]).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(client.stats().rate_limited, 0, "{:?}", client.stats());
    assert_eq!(fake.count(), 60);
}

#[tokio::test]
async fn a_wait_longer_than_max_retry_wait_fails_at_once_with_the_wait() {
    // A spent quota with 20 s to the reset: a caller that may wait 1 s gets the wait back.
    let fake = Fake::start(|_, _| {
        v3_error(429, "Too many requests")
            .header("X-Rate-Limit-Time-Reset-Ms", 20000)
            .header("X-Rate-Limit-Requests-Left", 0)
            .header("X-Rate-Limit-Requests-Quota", 150)
            .header("X-Rate-Limit-Time-Window-Ms", 30000)
    })
    .await;
    let client = Client::new(ClientConfig {
        max_retry_wait: Some(Duration::from_secs(1)),
        ..config(&fake.base_url())
    })
    .unwrap();
    let err = client
        .get(ApiVersion::V3, "/catalog/products", &[])
        .await
        .unwrap_err();
    let after = err.retry_after().expect("the wait is reported");
    assert!(
        after >= Duration::from_secs(19) && after <= Duration::from_secs(21),
        "{after:?}"
    );
    assert!(
        matches!(err, Error::RateLimited { attempts: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("try again after 20.0 s"), "{err}");
    assert_eq!(fake.seen().len(), 1, "no retry was sent");
    // The pause holds for everyone: the client's snapshot shows it.
    assert!(client.rate_limit().paused_for.is_some());
}
