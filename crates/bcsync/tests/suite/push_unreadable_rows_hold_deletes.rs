//! A mirror sync whose source has a row that cannot be read with its key (a non-UTF-8
//! byte in the key, a ragged line whose cells shifted) must not delete the record that row
//! holds: the run skips its deletes, says so on stderr, and deletes resume on a clean run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::push_support;

use push_support::*;

fn csv_bytes(rows: &[Vec<u8>]) -> Vec<u8> {
    let mut s = b"given,mail,family\n".to_vec();
    for r in rows {
        s.extend_from_slice(r);
        s.push(b'\n');
    }
    s
}

fn person(i: usize) -> Vec<u8> {
    format!("First{i},person{i}@example.com,Last{i}").into_bytes()
}

fn deletes(sb: &bc_sandbox::RunningSandbox) -> usize {
    write_log(sb).iter().filter(|(m, _)| m == "DELETE").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_key_rows_hold_back_deletes() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let h = Harness::new(&sb);
    h.write_crm_config("mirror", CRM_MAPPING);
    let dir = h.dir.path();
    let mut rows: Vec<Vec<u8>> = (0..10).map(person).collect();
    std::fs::write(h.path("c.csv"), csv_bytes(&rows)).unwrap();
    let out = common::bcsync_in(&sb, dir, &["push"]).output().unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    // The summary names the object and mode as the TOML spells them.
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("sync crm (customers mirror): run 1 ok"),
        "{summary}"
    );
    assert_eq!(
        common::list_all(&sb, "v3", "/customers", "").await.len(),
        10
    );
    assert_eq!(writes(&sb), 1, "ten creates, one batch");

    // A non-UTF-8 byte in person3's key: the lossy text is not the tracked key.
    rows[3] = b"First3,person3\xe9@example.com,Last3".to_vec();
    // An unquoted comma shifts person5's cells: the key column holds "Jr".
    rows[5] = b"First5,Jr,person5@example.com,Last5".to_vec();
    std::fs::write(h.path("c.csv"), csv_bytes(&rows)).unwrap();
    let out = common::bcsync_in(&sb, dir, &["push"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(deletes(&sb), 0, "{}", common::output_text(&out));
    assert_eq!(
        common::list_all(&sb, "v3", "/customers", "").await.len(),
        10
    );
    assert!(
        stderr.contains("deletes skipped this run")
            && stderr.contains("line 5, column 2 is not UTF-8")
            && stderr.contains("line 7 has 4 fields, the header has 3")
            && stderr.contains("deletes resume on a run where every row reads cleanly"),
        "{stderr}"
    );

    // A short row without its key cell holds deletes back too.
    rows[3] = person(3);
    rows[5] = b"First5".to_vec();
    std::fs::write(h.path("c.csv"), csv_bytes(&rows)).unwrap();
    let out = common::bcsync_in(&sb, dir, &["push"]).output().unwrap();
    assert_eq!(deletes(&sb), 0, "{}", common::output_text(&out));

    // A clean file: person5 really left the source, and is deleted.
    rows.remove(5);
    std::fs::write(h.path("c.csv"), csv_bytes(&rows)).unwrap();
    let out = common::bcsync_in(&sb, dir, &["push"]).output().unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    assert_eq!(deletes(&sb), 1, "{}", common::output_text(&out));
    assert_eq!(common::list_all(&sb, "v3", "/customers", "").await.len(), 9);
}
