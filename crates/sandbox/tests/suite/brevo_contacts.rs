//! The Brevo emulator's auth, contact routes and attribute handling, over real HTTP.
#![allow(clippy::unwrap_used)]

use crate::brevo_support;

use brevo_support::Emu;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn auth_failures_have_brevo_bodies_and_every_answer_a_request_id() {
    let emu = Emu::start().await;
    let missing = emu.call_with_key(Method::GET, "/account", None, None).await;
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.json(),
        &json!({"code": "unauthorized", "message": "authentication not found in headers"})
    );
    assert!(missing.header("sib-request-id").is_some());
    let wrong = emu
        .call_with_key(Method::GET, "/account", None, Some("nope"))
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["message"], "Key not found");
    let ok = emu.get("/account").await;
    assert_eq!(ok.status, 200);
    assert!(ok.json()["marketingAutomation"]["key"].is_string());
    assert!(ok.json()["plan"].is_array());
    let id1 = ok.header("sib-request-id").unwrap();
    let id2 = emu.get("/account").await.header("sib-request-id").unwrap();
    assert_ne!(id1, id2);
    // The key never shows up in the dump.
    let dump = emu.admin(Method::GET, "/state", None).await.text;
    assert!(!dump.contains(&emu.key));
}

#[tokio::test]
async fn create_is_201_then_duplicate_400_then_upsert_204() {
    let emu = Emu::start().await;
    let id = emu
        .contact(json!({"email": "Ann@Example.com", "attributes": {"FIRSTNAME": "Ann"}}))
        .await;
    let got = emu.get("/contacts/ann@example.com").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["email"], "ann@example.com");
    assert_eq!(got.json()["id"], id);
    assert!(got.json()["modifiedAt"].as_str().unwrap().ends_with('Z'));
    // Same email in another case is a duplicate.
    let dup = emu
        .post("/contacts", json!({"email": "ANN@example.com"}))
        .await;
    assert_eq!(dup.status, 400);
    assert_eq!(dup.code(), "duplicate_parameter");
    assert_eq!(
        dup.json()["metadata"]["duplicate_identifiers"],
        json!(["email"])
    );
    assert!(
        dup.json()["message"]
            .as_str()
            .unwrap()
            .contains("already associated")
    );
    let up = emu
        .post(
            "/contacts",
            json!({"email": "ann@example.com", "updateEnabled": true, "attributes": {"LASTNAME": "Lee"}}),
        )
        .await;
    assert_eq!(up.status, 204);
    assert!(up.body.is_none());
    let got = emu.get(&format!("/contacts/{id}")).await;
    assert_eq!(got.json()["attributes"]["LASTNAME"], "Lee");
    assert_eq!(got.json()["attributes"]["FIRSTNAME"], "Ann");
    // No identifier at all.
    let none = emu
        .post("/contacts", json!({"attributes": {"FIRSTNAME": "X"}}))
        .await;
    assert_eq!(none.status, 400);
    assert_eq!(none.code(), "missing_parameter");
    // listIds must be numbers.
    let bad = emu
        .post(
            "/contacts",
            json!({"email": "b@example.com", "listIds": ["1"]}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["message"], "listIds/0 should be type number");
    let bad = emu
        .post(
            "/contacts",
            json!({"email": "b@example.com", "listIds": [999]}),
        )
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn identifiers_resolve_as_documented() {
    let emu = Emu::start().await;
    let id = emu
        .contact(json!({"email": "a+b@example.com", "ext_id": "bc:1", "attributes": {"SMS": "+33612345678"}}))
        .await;
    // ext_id needs its type.
    assert_eq!(emu.get("/contacts/bc:1").await.status, 404);
    let r = emu.get("/contacts/bc:1?identifierType=ext_id").await;
    assert_eq!(r.json()["id"], id);
    assert_eq!(r.json()["attributes"]["SMS"], "33612345678");
    assert_eq!(r.json()["attributes"]["EXT_ID"], "bc:1");
    // A + in the path must be encoded; encoded it resolves.
    let r = emu.get("/contacts/a%2Bb%40example.com").await;
    assert_eq!(r.json()["id"], id);
    let r = emu.get("/contacts/33612345678").await;
    assert_eq!(r.json()["id"], id, "GET falls back to the phone");
    let r = emu
        .get("/contacts/%2B33612345678?identifierType=phone_id")
        .await;
    assert_eq!(r.json()["id"], id);
    let r = emu.get("/contacts/x?identifierType=bogus").await;
    assert_eq!(r.status, 400);
    let r = emu.get("/contacts/nobody@example.com").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        &json!({"code": "document_not_found", "message": "Contact does not exist"})
    );
    // SMS and ext_id are unique.
    let dup = emu
        .post(
            "/contacts",
            json!({"email": "c@example.com", "attributes": {"SMS": "0033612345678"}}),
        )
        .await;
    assert_eq!(dup.status, 400);
    assert_eq!(
        dup.json()["metadata"]["duplicate_identifiers"],
        json!(["SMS"])
    );
    let bad_phone = emu
        .post(
            "/contacts",
            json!({"email": "c@example.com", "attributes": {"SMS": "0612"}}),
        )
        .await;
    assert_eq!(bad_phone.status, 400);
    assert_eq!(bad_phone.code(), "invalid_parameter");
}

#[tokio::test]
async fn put_changes_email_lists_and_clears_the_blocklist() {
    let emu = Emu::start().await;
    let list = emu.list("L").await;
    let a = emu
        .contact(json!({"email": "a@example.com", "emailBlacklisted": true}))
        .await;
    emu.contact(json!({"email": "b@example.com"})).await;
    let before = emu.get(&format!("/contacts/{a}")).await.json()["modifiedAt"].clone();
    emu.advance(2.0).await;
    let r = emu
        .put(
            &format!("/contacts/{a}?identifierType=contact_id"),
            json!({"listIds": [list]}),
        )
        .await;
    assert_eq!(r.status, 204);
    let got = emu.get(&format!("/contacts/{a}")).await;
    assert_eq!(got.json()["listIds"], json!([list]));
    assert_ne!(
        got.json()["modifiedAt"],
        before,
        "a list change bumps modifiedAt"
    );
    let clash = emu
        .put(
            "/contacts/a@example.com",
            json!({"attributes": {"EMAIL": "b@example.com"}}),
        )
        .await;
    assert_eq!(clash.status, 400);
    assert_eq!(clash.code(), "invalid_parameter");
    assert_eq!(
        clash.json()["metadata"]["duplicate_identifiers"],
        json!(["email"])
    );
    let r = emu
        .put(
            "/contacts/a@example.com",
            json!({"attributes": {"EMAIL": "New@Example.com"}, "unlinkListIds": [list]}),
        )
        .await;
    assert_eq!(r.status, 204);
    let got = emu.get("/contacts/new@example.com").await;
    assert_eq!(got.json()["emailBlacklisted"], false);
    assert_eq!(got.json()["listIds"], json!([]));
    assert_eq!(
        emu.put("/contacts/zz@example.com", json!({})).await.status,
        404
    );
    assert_eq!(emu.delete("/contacts/new@example.com").await.status, 204);
    assert_eq!(emu.get("/contacts/new@example.com").await.status, 404);
}

#[tokio::test]
async fn listing_filters_sorts_and_caps_the_limit() {
    let emu = Emu::start().await;
    let list = emu.list("L").await;
    for i in 0..5 {
        let lists = if i % 2 == 0 { json!([list]) } else { json!([]) };
        emu.contact(json!({"email": format!("c{i}@example.com"), "listIds": lists, "attributes": {"FIRSTNAME": format!("N{i}")}}))
            .await;
    }
    let all = emu.get("/contacts").await;
    assert_eq!(all.json()["count"], 5);
    assert_eq!(
        all.json()["contacts"][0]["email"],
        "c4@example.com",
        "default desc"
    );
    let asc = emu.get("/contacts?sort=asc&limit=2&offset=1").await;
    assert_eq!(asc.json()["contacts"].as_array().unwrap().len(), 2);
    assert_eq!(asc.json()["contacts"][0]["email"], "c1@example.com");
    let in_list = emu.get(&format!("/contacts?listIds={list}")).await;
    assert_eq!(in_list.json()["count"], 3);
    let f = emu.get("/contacts?filter=equals(FIRSTNAME,%22N3%22)").await;
    assert_eq!(f.json()["count"], 1);
    assert_eq!(emu.get("/contacts?limit=1001").await.status, 400);
    assert_eq!(
        emu.get(&format!("/contacts?listIds={list}&segmentId=1"))
            .await
            .status,
        400
    );
    let future = emu
        .get("/contacts?modifiedSince=2999-01-01T00:00:00.000%2B01:00")
        .await;
    assert_eq!(future.json(), &json!({"contacts": [], "count": 0}));
    // A raw + decodes to a space and the date is refused.
    let raw = emu
        .get("/contacts?modifiedSince=2020-01-01T00:00:00+01:00")
        .await;
    assert_eq!(raw.status, 400);
}

#[tokio::test]
async fn unknown_and_mistyped_attributes_are_dropped_and_logged_or_refused_by_switch() {
    let emu = Emu::start().await;
    emu.seed(json!({"attributes": [
        {"category": "normal", "name": "DOB", "type": "date"},
        {"category": "normal", "name": "VIP", "type": "boolean"}
    ]}))
    .await;
    let id = emu
        .contact(json!({"email": "d@example.com", "attributes": {
            "FIRSTNAME": "Dee", "firstname": "lower", "UNKNOWN": 1, "DOB": "23/11/1989", "VIP": true
        }}))
        .await;
    let c = emu.get(&format!("/contacts/{id}")).await;
    assert_eq!(
        c.json()["attributes"],
        json!({"FIRSTNAME": "Dee", "VIP": true})
    );
    let state = emu.state().await;
    let dropped: Vec<&str> = state["droppedAttributeValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["attribute"].as_str().unwrap())
        .collect();
    assert_eq!(dropped.len(), 3);
    for name in ["firstname", "UNKNOWN", "DOB"] {
        assert!(dropped.contains(&name), "{name} in {dropped:?}");
    }
    emu.switches(json!({"reject_wrong_type": true})).await;
    let r = emu
        .put(
            &format!("/contacts/{id}"),
            json!({"attributes": {"DOB": "23/11/1989"}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "invalid_parameter");
    let ok = emu
        .put(
            &format!("/contacts/{id}"),
            json!({"attributes": {"DOB": "1989-11-23"}}),
        )
        .await;
    assert_eq!(ok.status, 204);
}

#[tokio::test]
async fn french_accounts_have_other_default_names() {
    let emu = Emu::with(bc_sandbox::brevo::BrevoConfig {
        switches: bc_sandbox::brevo::Switches {
            french_default_attributes: true,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let attrs = emu.get("/contacts/attributes").await;
    let names: Vec<&str> = attrs.json()["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"PRENOM") && names.contains(&"NOM"));
    assert!(!names.contains(&"FIRSTNAME"));
}

#[tokio::test]
async fn contacts_batch_is_all_or_nothing_and_can_be_retired() {
    let emu = Emu::start().await;
    let a = emu.contact(json!({"email": "a@example.com"})).await;
    let r = emu
        .post(
            "/contacts/batch",
            json!({"contacts": [
                {"id": a, "attributes": {"FIRSTNAME": "A"}},
                {"email": "missing@example.com"},
                {"email": "gone@example.com"}
            ]}),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "No contact found for indexes 1,2");
    let c = emu.get(&format!("/contacts/{a}")).await;
    assert!(
        c.json()["attributes"].get("FIRSTNAME").is_none(),
        "nothing applied"
    );
    let r = emu
        .post(
            "/contacts/batch",
            json!({"contacts": [{"id": a, "attributes": {"FIRSTNAME": "A"}}]}),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        emu.get(&format!("/contacts/{a}")).await.json()["attributes"]["FIRSTNAME"],
        "A"
    );
    emu.switches(json!({"contacts_batch_gone": true})).await;
    let r = emu
        .post("/contacts/batch", json!({"contacts": [{"id": a}]}))
        .await;
    assert_eq!(r.status, 410);
}

#[tokio::test]
async fn bodies_need_json_and_the_owner_cannot_be_deleted() {
    let emu = Emu::start().await;
    let r = emu
        .http
        .post(format!("{}/contacts", emu.brevo.base_url()))
        .header("api-key", &emu.key)
        .body("{\"email\":\"x@example.com\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let owner = emu.get("/account").await.json()["email"]
        .as_str()
        .unwrap()
        .to_owned();
    emu.contact(json!({"email": owner})).await;
    let r = emu.delete(&format!("/contacts/{owner}")).await;
    assert_eq!(r.status, 405);
}

#[tokio::test]
async fn identifiers_are_released_when_changed_or_deleted() {
    let emu = Emu::start().await;
    let a = emu
        .contact(json!({"email": "a@example.com", "ext_id": "old"}))
        .await;
    let r = emu
        .put(&format!("/contacts/{a}"), json!({"ext_id": "new"}))
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        emu.get("/contacts/old?identifierType=ext_id").await.status,
        404
    );
    assert_eq!(
        emu.get("/contacts/new?identifierType=ext_id").await.json()["id"],
        a
    );
    // The old ext_id is free again; the new one is taken.
    emu.contact(json!({"email": "b@example.com", "ext_id": "old"}))
        .await;
    let dup = emu
        .post(
            "/contacts",
            json!({"email": "c@example.com", "ext_id": "new"}),
        )
        .await;
    assert_eq!(
        dup.json()["metadata"]["duplicate_identifiers"],
        json!(["ext_id"])
    );
    assert_eq!(emu.delete("/contacts/a@example.com").await.status, 204);
    let again = emu
        .contact(json!({"email": "A@example.com", "ext_id": "new"}))
        .await;
    assert_ne!(again, a, "ids are never reused");
}
