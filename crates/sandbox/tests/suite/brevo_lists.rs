//! The Brevo emulator's attributes, folders, lists and list membership, over real HTTP.
#![allow(clippy::unwrap_used)]

use crate::brevo_support;

use brevo_support::Emu;
use serde_json::json;

#[tokio::test]
async fn folders_and_lists_need_names_and_page_at_most_fifty() {
    let emu = Emu::start().await;
    let r = emu.post("/contacts/folders", json!({})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "missing_parameter");
    let folder = emu.post("/contacts/folders", json!({"name": "Shop"})).await;
    assert_eq!(folder.status, 201);
    let fid = folder.json()["id"].as_i64().unwrap();
    let r = emu.post("/contacts/lists", json!({"folderId": fid})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        &json!({"code": "missing_parameter", "message": "List name is missing"})
    );
    let r = emu.post("/contacts/lists", json!({"name": "Buyers"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "missing_parameter");
    let list = emu
        .post(
            "/contacts/lists",
            json!({"name": "Buyers", "folderId": fid}),
        )
        .await;
    assert_eq!(list.status, 201);
    let lid = list.json()["id"].as_i64().unwrap();
    let lists = emu.get("/contacts/lists").await;
    assert_eq!(lists.json()["count"], 1);
    let item = &lists.json()["lists"][0];
    assert_eq!(item["folderId"], fid);
    assert_eq!(item["totalSubscribers"], 0);
    assert_eq!(emu.get("/contacts/lists?limit=51").await.status, 400);
    assert_eq!(emu.get("/contacts/folders?limit=51").await.status, 400);
    let got = emu.get(&format!("/contacts/lists/{lid}")).await;
    assert!(got.json()["createdAt"].is_string());
    assert_eq!(emu.get("/contacts/lists/999").await.status, 404);
    let r = emu
        .put(
            &format!("/contacts/lists/{lid}"),
            json!({"name": "A", "folderId": fid}),
        )
        .await;
    assert_eq!(r.status, 400, "one change per call");
    assert_eq!(
        emu.put(
            &format!("/contacts/lists/{lid}"),
            json!({"name": "Renamed"})
        )
        .await
        .status,
        204
    );
    let in_folder = emu.get(&format!("/contacts/folders/{fid}/lists")).await;
    assert_eq!(in_folder.json()["lists"][0]["name"], "Renamed");
    // Deleting the folder deletes its lists and memberships.
    let c = emu
        .contact(json!({"email": "m@example.com", "listIds": [lid]}))
        .await;
    assert_eq!(
        emu.delete(&format!("/contacts/folders/{fid}")).await.status,
        204
    );
    assert_eq!(emu.get(&format!("/contacts/lists/{lid}")).await.status, 404);
    assert_eq!(
        emu.get(&format!("/contacts/{c}")).await.json()["listIds"],
        json!([])
    );
}

#[tokio::test]
async fn membership_add_and_remove_follow_the_documented_shapes() {
    let emu = Emu::start().await;
    let list = emu.list("L").await;
    emu.contact(json!({"email": "a@example.com"})).await;
    let b = emu
        .contact(json!({"email": "b@example.com", "ext_id": "x-b"}))
        .await;
    let path = format!("/contacts/lists/{list}/contacts/add");
    let r = emu
        .post(
            &path,
            json!({"emails": ["A@example.com", "nobody@example.com"]}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        r.json(),
        &json!({"contacts": {"success": ["A@example.com"], "failure": ["nobody@example.com"]}})
    );
    // Everything fails: already in the list.
    let r = emu.post(&path, json!({"emails": ["a@example.com"]})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "Contact already in list and/or does not exist"
    );
    let r = emu.post(&path, json!({"extIds": ["x-b"]})).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["contacts"]["success"], json!(["x-b"]));
    // Caps and shapes.
    assert_eq!(emu.post(&path, json!({"emails": []})).await.status, 400);
    let many: Vec<String> = (0..151).map(|i| format!("u{i}@example.com")).collect();
    assert_eq!(emu.post(&path, json!({"emails": many})).await.status, 400);
    assert_eq!(
        emu.post(&path, json!({"emails": ["a@example.com"], "ids": [b]}))
            .await
            .status,
        400
    );
    assert_eq!(
        emu.post("/contacts/lists/999/contacts/add", json!({"ids": [b]}))
            .await
            .status,
        404
    );
    let members = emu.get(&format!("/contacts/lists/{list}/contacts")).await;
    assert_eq!(members.json()["count"], 2);
    assert_eq!(
        emu.get(&format!("/contacts/lists/{list}/contacts?limit=501"))
            .await
            .status,
        400
    );
    let remove = format!("/contacts/lists/{list}/contacts/remove");
    let r = emu.post(&remove, json!({"ids": [b]})).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["contacts"]["success"], json!([b]));
    let r = emu.post(&remove, json!({"all": true})).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["contacts"]["total"], 1);
    assert!(r.json()["contacts"]["processId"].is_i64());
    let state = emu.state().await;
    assert_eq!(state["lists"][0]["members"], json!([]));
}

#[tokio::test]
async fn attribute_categories_and_types_are_checked() {
    let emu = Emu::start().await;
    let ok = emu
        .post(
            "/contacts/attributes/normal/LOYALTY_TIER",
            json!({"type": "text"}),
        )
        .await;
    assert_eq!(ok.status, 201);
    assert!(ok.body.is_none());
    assert_eq!(
        emu.post(
            "/contacts/attributes/normal/LOYALTY_TIER",
            json!({"type": "text"})
        )
        .await
        .status,
        400,
        "duplicate"
    );
    let cases = [
        ("normal", json!({"type": "id"})),
        ("transactional", json!({"type": "multiple-choice"})),
        ("category", json!({"type": "text"})),
        ("category", json!({})),
        (
            "normal",
            json!({"type": "text", "enumeration": [{"value": 1, "label": "a"}]}),
        ),
        ("normal", json!({"type": "multiple-choice"})),
        ("calculated", json!({})),
        ("bogus", json!({})),
    ];
    for (i, (cat, body)) in cases.into_iter().enumerate() {
        let r = emu
            .post(&format!("/contacts/attributes/{cat}/X{i}"), body.clone())
            .await;
        assert_eq!(r.status, 400, "{cat} {body}: {}", r.text);
    }
    let r = emu
        .post(
            "/contacts/attributes/category/SIZE",
            json!({"enumeration": [{"value": 1, "label": "S"}, {"value": 2, "label": "M"}]}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = emu
        .post(
            "/contacts/attributes/normal/HOBBIES",
            json!({"type": "multiple-choice", "multiCategoryOptions": ["golf", "chess"]}),
        )
        .await;
    assert_eq!(r.status, 201);
    let id = emu
        .contact(
            json!({"email": "s@example.com", "attributes": {"SIZE": "M", "HOBBIES": ["golf"]}}),
        )
        .await;
    let c = emu.get(&format!("/contacts/{id}")).await;
    assert_eq!(
        c.json()["attributes"]["SIZE"],
        2,
        "a label is stored as its value"
    );
    assert_eq!(c.json()["attributes"]["HOBBIES"], json!(["golf"]));
    let by_label = emu.get("/contacts?filter=equals(SIZE,%22M%22)").await;
    assert_eq!(by_label.json()["count"], 1);
    let by_value = emu.get("/contacts?filter=equals(SIZE,2)").await;
    assert_eq!(by_value.json()["count"], 1);
    let other = emu.get("/contacts?filter=equals(SIZE,%22S%22)").await;
    assert_eq!(other.json()["count"], 0);
    assert_eq!(
        emu.put(
            "/contacts/attributes/normal/HOBBIES",
            json!({"multiCategoryOptions": ["tennis"]})
        )
        .await
        .status,
        204
    );
    assert_eq!(
        emu.delete("/contacts/attributes/multiple-choice/HOBBIES/chess")
            .await
            .status,
        204
    );
    assert_eq!(
        emu.delete("/contacts/attributes/multiple-choice/HOBBIES/chess")
            .await
            .status,
        404
    );
    assert_eq!(
        emu.delete("/contacts/attributes/normal/NOPE").await.status,
        404
    );
    assert_eq!(
        emu.delete("/contacts/attributes/normal/LOYALTY_TIER")
            .await
            .status,
        204
    );
    let list = emu.get("/contacts/attributes").await;
    let names: Vec<&str> = list.json()["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"SIZE") && !names.contains(&"LOYALTY_TIER"));
}
