//! A gap poll killed between writing its pages and re-applying the events that arrived
//! while it ran: a page read before an event's fetch may have put an older copy back over
//! the event's (or cleared a deletion mark), and the in-memory list of those events died
//! with the process. The next start must apply them again, from the inbox.
//!
//! The crash is reproduced by its traces: the destination row as the stale page left it,
//! the poll's start mark in the inbox, and a bookmark already past the record (as the
//! poll's later pages moved it), so neither the start-up poll nor the reconciliation of
//! deletions would repair it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::listen_support;

use bcsync::listen::inbox::Inbox;
use listen_support::common::{self, api};
use listen_support::{deliver, payload, quiet_options, row, start, wait_applied, wait_first_poll};
use reqwest::Method;
use serde_json::{Value, json};

/// Moves every date in a stream's saved state to 2030: the poll read past everything.
fn bookmark_far_ahead(db: &std::path::Path, stream: &str) {
    let conn = common::db(db);
    let state: String = conn
        .query_row(
            "SELECT state FROM _bcsync_state WHERE stream = ?1",
            [stream],
            |r| r.get(0),
        )
        .unwrap();
    fn push(v: &mut Value) {
        match v {
            Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => {
                *s = "2030-01-01T00:00:00+00:00".into();
            }
            Value::Object(m) => m.values_mut().for_each(push),
            Value::Array(a) => a.iter_mut().for_each(push),
            _ => {}
        }
    }
    let mut v: Value = serde_json::from_str(&state).unwrap();
    push(&mut v);
    conn.execute(
        "UPDATE _bcsync_state SET state = ?1 WHERE stream = ?2",
        rusqlite::params![v.to_string(), stream],
    )
    .unwrap();
}

#[tokio::test]
async fn events_applied_during_a_killed_poll_are_applied_again_on_start() {
    let sb = common::sandbox(common::small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let to = format!("sqlite:{}", db.display());
    let hash = sb.store_hash().to_owned();

    let l = start(&sb, &to, quiet_options()).await;
    wait_first_poll(&l).await;
    let customers = common::list_all(&sb, "v3", "/customers", "").await;
    let (renamed, deleted) = (
        customers[3]["id"].as_i64().unwrap(),
        customers[4]["id"].as_i64().unwrap(),
    );
    let before_events = chrono::Utc::now() - chrono::Duration::seconds(1);
    let (status, _) = api(
        &sb,
        Method::PUT,
        "/v3/customers",
        Some(json!([{"id": renamed, "first_name": "Renamed"}])),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = api(
        &sb,
        Method::DELETE,
        &format!("/v3/customers?id:in={deleted}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let sent = [
        payload(
            &hash,
            "store/customer/updated",
            json!({"type": "customer", "id": renamed}),
            1,
        ),
        payload(
            &hash,
            "store/customer/deleted",
            json!({"type": "customer", "id": deleted}),
            2,
        ),
    ];
    for body in &sent {
        assert_eq!(deliver(l.addr, body).await, 200);
    }
    wait_applied(&l, 2).await;
    assert_eq!(
        row(&db, "customers", "id", renamed).unwrap().0["first_name"],
        "Renamed"
    );
    assert!(row(&db, "customers", "id", deleted).unwrap().1.is_some());
    l.shutdown().await.unwrap();

    // What the killed poll left: its stale pages committed, its mark still in the inbox.
    {
        let conn = common::db(&db);
        conn.execute(
            "UPDATE customers SET first_name = 'Stale', _raw = json_set(_raw, '$.first_name', 'Stale') WHERE id = ?1",
            [renamed],
        )
        .unwrap();
        conn.execute(
            "UPDATE customers SET _deleted_at = NULL WHERE id = ?1",
            [deleted],
        )
        .unwrap();
    }
    bookmark_far_ahead(&db, "customers");
    let inbox = Inbox::open_sqlite(&dir.path().join("shop-inbox.db")).unwrap();
    inbox
        .set_meta("gap_poll_started_at", &before_events.to_rfc3339())
        .await
        .unwrap();
    drop(inbox);

    let l = start(&sb, &to, quiet_options()).await;
    wait_first_poll(&l).await;
    wait_applied(&l, 2).await;
    assert_eq!(
        row(&db, "customers", "id", renamed).unwrap().0["first_name"],
        "Renamed",
        "the event applied during the killed poll is applied again"
    );
    assert!(
        row(&db, "customers", "id", deleted).unwrap().1.is_some(),
        "the deletion mark the stale page cleared is back"
    );
    l.shutdown().await.unwrap();
}
