//! The Brevo emulator's asynchronous contact import and processes, driven by the admin
//! clock, over real HTTP.
#![allow(clippy::unwrap_used)]

use crate::brevo_support;

use brevo_support::Emu;
use serde_json::json;

#[tokio::test]
async fn import_runs_as_a_process_on_the_emulator_clock() {
    let emu = Emu::start().await;
    let list = emu.list("Imported").await;
    emu.contact(
        json!({"email": "old@example.com", "attributes": {"FIRSTNAME": "Old", "LASTNAME": "Keep"}}),
    )
    .await;
    let body = json!({
        "fileBody": "EMAIL;FIRSTNAME;LASTNAME;NOPE\nnew@example.com;New;One;x\nOLD@example.com;Renamed;;y\nnot-an-email;Bad;;\nnew@example.com;Again;;\n",
        "listIds": [list],
    });
    let r = emu.post("/contacts/import", body).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let pid = r.json()["processId"].as_i64().unwrap();
    let p = emu.get(&format!("/processes/{pid}")).await;
    assert_eq!(p.json()["status"], "queued");
    assert_eq!(p.json()["name"], "IMPORTUSER");
    assert_eq!(
        emu.get("/contacts").await.json()["count"],
        1,
        "nothing applied yet"
    );
    emu.advance(3.0).await;
    assert_eq!(
        emu.get(&format!("/processes/{pid}")).await.json()["status"],
        "in_process"
    );
    emu.advance(10.0).await;
    let p = emu.get(&format!("/processes/{pid}")).await;
    assert_eq!(p.json()["status"], "completed");
    let info = &p.json()["info"]["import"];
    assert_eq!(info["invalid_emails"], 1);
    assert!(info["duplicate_email_id"].is_string());
    let new = emu.get("/contacts/new@example.com").await;
    assert_eq!(new.json()["attributes"]["FIRSTNAME"], "New");
    assert_eq!(new.json()["listIds"], json!([list]));
    let old = emu.get("/contacts/old@example.com").await;
    assert_eq!(old.json()["attributes"]["FIRSTNAME"], "Renamed");
    assert_eq!(
        old.json()["attributes"]["LASTNAME"],
        "Keep",
        "empty cells keep values"
    );
    let dropped = emu.state().await["droppedAttributeValues"].clone();
    assert!(
        dropped
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["attribute"] == "NOPE")
    );
    let all = emu.get("/processes").await;
    assert_eq!(all.json()["count"], 1);
}

#[tokio::test]
async fn import_options_and_validation() {
    let emu = Emu::start().await;
    let list = emu.list("L").await;
    emu.contact(
        json!({"email": "keep@example.com", "attributes": {"FIRSTNAME": "Keep", "LASTNAME": "Me"}}),
    )
    .await;
    let folder = emu
        .post("/contacts/folders", json!({"name": "Imports"}))
        .await
        .json()["id"]
        .clone();
    // No source, two sources, no list.
    assert_eq!(
        emu.post("/contacts/import", json!({"listIds": [list]}))
            .await
            .status,
        400
    );
    assert_eq!(
        emu.post(
            "/contacts/import",
            json!({"listIds": [list], "fileBody": "EMAIL\n", "jsonBody": []})
        )
        .await
        .status,
        400
    );
    let r = emu.post("/contacts/import", json!({"jsonBody": []})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "missing_parameter");
    assert_eq!(
        emu.post(
            "/contacts/import",
            json!({"jsonBody": [], "newList": {"listName": "X"}})
        )
        .await
        .status,
        400,
        "folderId is mandatory with a name"
    );
    let big = "EMAIL\n".to_owned() + &"a".repeat(10 * 1024 * 1024 + 1);
    assert_eq!(
        emu.post(
            "/contacts/import",
            json!({"fileBody": big, "listIds": [list]})
        )
        .await
        .status,
        400
    );
    let r = emu
        .post(
            "/contacts/import",
            json!({
                "jsonBody": [
                    {"email": "keep@example.com", "attributes": {"FIRSTNAME": "Changed"}},
                    {"email": "fresh@example.com", "attributes": {"FIRSTNAME": "Fresh"}}
                ],
                "newList": {"listName": "From import", "folderId": folder},
                "updateExistingContacts": false,
                "emailBlacklist": true
            }),
        )
        .await;
    assert_eq!(r.status, 202);
    let pid = r.json()["processId"].as_i64().unwrap();
    emu.advance(60.0).await;
    let p = emu.get(&format!("/processes/{pid}")).await;
    assert_eq!(p.json()["info"]["import"]["duplicate_contact_id"], 1);
    assert_eq!(
        emu.get("/contacts/keep@example.com").await.json()["attributes"]["FIRSTNAME"],
        "Keep"
    );
    let fresh = emu.get("/contacts/fresh@example.com").await;
    assert_eq!(fresh.json()["emailBlacklisted"], true);
    assert_eq!(fresh.json()["listIds"].as_array().unwrap().len(), 1);
    // emptyContactsAttributes erases.
    let r = emu
        .post(
            "/contacts/import",
            json!({"fileBody": "EMAIL;LASTNAME\nkeep@example.com;\n", "listIds": [list], "emptyContactsAttributes": true}),
        )
        .await;
    assert_eq!(r.status, 202);
    emu.advance(60.0).await;
    let keep = emu.get("/contacts/keep@example.com").await;
    assert!(keep.json()["attributes"].get("LASTNAME").is_none());
    let r = emu.get("/processes/999").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        &json!({"code": "invalid_parameter", "message": "processId is invalid"})
    );
    assert_eq!(emu.get("/processes?limit=51").await.status, 400);
}

#[tokio::test]
async fn notify_url_is_called_on_loopback_when_the_import_completes() {
    use std::sync::Arc;
    use tokio::sync::Mutex;
    let got: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/done",
        axum::routing::post(move |axum::Json(v): axum::Json<serde_json::Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().await.push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let emu = Emu::start().await;
    let list = emu.list("L").await;
    let r = emu
        .post(
            "/contacts/import",
            json!({"jsonBody": [{"email": "n@example.com"}], "listIds": [list], "notifyUrl": format!("http://{addr}/done")}),
        )
        .await;
    let pid = r.json()["processId"].as_i64().unwrap();
    emu.advance(60.0).await;
    // Wait for the notification by polling its arrival (no timing assertion).
    for _ in 0..200 {
        if !got.lock().await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let calls = got.lock().await.clone();
    assert_eq!(
        calls,
        vec![json!({"processId": pid, "status": "completed"})]
    );
}

#[tokio::test]
async fn file_url_is_read_from_loopback_only() {
    let app = axum::Router::new()
        .route(
            "/contacts.csv",
            axum::routing::get(|| async { "EMAIL;FIRSTNAME\nfile@example.com;Filed\n" }),
        )
        .route(
            "/contacts.json",
            axum::routing::get(|| async {
                r#"[{"email": "json@example.com", "attributes": {"FIRSTNAME": "Jay"}}]"#
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let emu = Emu::start().await;
    let list = emu.list("L").await;
    let mut pids = Vec::new();
    for url in [
        format!("http://{addr}/contacts.csv"),
        format!("http://{addr}/contacts.json"),
        "https://files.example.com/contacts.csv".to_owned(),
    ] {
        let r = emu
            .post(
                "/contacts/import",
                json!({"fileUrl": url, "listIds": [list]}),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
        pids.push(r.json()["processId"].as_i64().unwrap());
    }
    emu.advance(60.0).await;
    let status = |p: serde_json::Value| p["status"].as_str().unwrap().to_owned();
    assert_eq!(
        status(
            emu.get(&format!("/processes/{}", pids[0]))
                .await
                .json()
                .clone()
        ),
        "completed"
    );
    assert_eq!(
        status(
            emu.get(&format!("/processes/{}", pids[1]))
                .await
                .json()
                .clone()
        ),
        "completed"
    );
    let remote = emu.get(&format!("/processes/{}", pids[2])).await;
    assert_eq!(status(remote.json().clone()), "failed");
    assert!(
        remote.json()["error"]
            .as_str()
            .unwrap()
            .contains("loopback")
    );
    assert_eq!(
        emu.get("/contacts/file@example.com").await.json()["attributes"]["FIRSTNAME"],
        "Filed"
    );
    assert_eq!(
        emu.get("/contacts/json@example.com").await.json()["attributes"]["FIRSTNAME"],
        "Jay"
    );
}
