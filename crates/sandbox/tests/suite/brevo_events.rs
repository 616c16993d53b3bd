//! The Brevo emulator's Events API: single and batch in both shapes, 207 on partial
//! validity, `contact_properties`, and `GET /events`.
#![allow(clippy::unwrap_used)]

use crate::brevo_support;

use brevo_support::Emu;
use serde_json::json;

#[tokio::test]
async fn single_event_is_validated_stored_and_applies_contact_properties() {
    let emu = Emu::start().await;
    let id = emu.contact(json!({"email": "e@example.com"})).await;
    let r = emu
        .post(
            "/events",
            json!({
                "event_name": "cart_updated",
                "identifiers": {"email_id": "E@example.com"},
                "event_date": "2026-01-24T17:39:57+01:00",
                "contact_properties": {"FIRSTNAME": "Eve", "lower": "x"},
                "event_properties": {"cart_id": "c1", "items": [{"id": 1, "price": 9.5}]}
            }),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        emu.get(&format!("/contacts/{id}")).await.json()["attributes"]["FIRSTNAME"],
        "Eve"
    );
    let bad = [
        json!({"identifiers": {"email_id": "e@example.com"}}),
        json!({"event_name": "has space", "identifiers": {"email_id": "e@example.com"}}),
        json!({"event_name": "x", "identifiers": {}}),
        json!({"event_name": "x", "identifiers": {"contact_id": "1"}}),
        json!({"event_name": "x", "identifiers": {"email_id": "e@example.com"}, "event_date": "yesterday"}),
        json!({"event_name": "x", "identifiers": {"email_id": "e@example.com"}, "event_properties": {"big": "a".repeat(51 * 1024)}}),
        json!({"event_name": "x", "identifiers": {"email_id": "e@example.com"}, "event_properties": {"bad key": 1}}),
    ];
    for b in bad {
        let r = emu.post("/events", b.clone()).await;
        assert_eq!(r.status, 400, "{b}");
    }
    let list = emu.get(&format!("/events?contact_id={id}")).await;
    assert_eq!(list.json()["count"], 1);
    assert_eq!(list.json()["events"][0]["event_name"], "cart_updated");
    assert_eq!(emu.get("/events?limit=10001").await.status, 400);
}

#[tokio::test]
async fn batch_accepts_both_shapes_and_reports_partial_failure() {
    let emu = Emu::start().await;
    emu.contact(json!({"email": "a@example.com"})).await;
    let ev = |name: &str| json!({"event_name": name, "identifiers": {"email_id": "a@example.com"}});
    let wrapped = emu
        .post("/events/batch", json!({"events": [ev("one"), ev("two")]}))
        .await;
    assert!(wrapped.status.is_success(), "{}", wrapped.text);
    assert_eq!(wrapped.json()["count"], 2);
    let bare = emu.post("/events/batch", json!([ev("three")])).await;
    assert!(bare.status.is_success());
    let partial = emu
        .post(
            "/events/batch",
            json!([ev("four"), {"event_name": "bad name"}]),
        )
        .await;
    assert_eq!(partial.status, 207);
    assert_eq!(partial.json()["count"], 1);
    assert_eq!(partial.json()["errors"][0]["index"], 1);
    let none = emu
        .post("/events/batch", json!([{"event_name": "x"}]))
        .await;
    assert_eq!(none.status, 400);
    let all = emu.get("/events?sort=asc").await;
    assert_eq!(all.json()["count"], 4);
    assert_eq!(all.json()["events"][0]["event_name"], "one");
    let named = emu.get("/events?event_name=two&event_name=four").await;
    assert_eq!(named.json()["count"], 2);
    assert_eq!(emu.state().await["events"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn unknown_identifiers_create_contacts_only_by_switch() {
    let emu = Emu::start().await;
    let ev = json!({"event_name": "order_created", "identifiers": {"email_id": "new@example.com"},
        "contact_properties": {"FIRSTNAME": "Nu"}});
    assert_eq!(emu.post("/events", ev.clone()).await.status, 204);
    assert_eq!(emu.get("/contacts/new@example.com").await.status, 404);
    emu.switches(json!({"events_create_contacts": true})).await;
    assert_eq!(emu.post("/events", ev).await.status, 204);
    let c = emu.get("/contacts/new@example.com").await;
    assert_eq!(c.status, 200);
    assert_eq!(c.json()["attributes"]["FIRSTNAME"], "Nu");
}
