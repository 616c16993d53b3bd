//! A password mapped to `authentication.new_password` reaches the store but never the
//! tracking store, the plan (dry run, --json), the summary or the run records: it shows as
//! `••••`, and a changed password is still sent (it counts in the change hash).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::push_support;

use push_support::*;

const PASSWORD: &str = "Zebra-Quartz-8841";

fn all_output(o: &std::process::Output) -> String {
    common::output_text(o)
}

/// Every file of `dir` but the source, as bytes, searched for `needle`.
fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("csv") || path.is_dir() {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            hits.push(path.display().to_string());
        }
    }
    hits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_are_sent_but_never_stored_or_shown() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let h = Harness::new(&sb);
    h.write_crm_config(
        "upsert",
        "[sync.mapping]\nmail = \"email\"\ngiven = \"first_name\"\nfamily = \"last_name\"\npw = \"authentication.new_password\"\n",
    );
    h.write(
        "c.csv",
        &format!("mail,given,family,pw\nann@x.io,Ann,Lee,{PASSWORD}\n"),
    );
    let dir = h.dir.path();
    let mut outputs = Vec::new();

    for args in [
        &["push", "--dry-run"][..],
        &["push", "--dry-run", "--json"],
        &["push"],
        &["runs"],
        &["runs", "show", "1"],
        &["runs", "show", "1", "--format", "json"],
    ] {
        let out = common::bcsync_in(&sb, dir, args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", all_output(&out));
        outputs.push((args, all_output(&out)));
    }
    assert_eq!(writes(&sb), 1, "the create is sent");
    for (args, text) in &outputs {
        assert!(
            !text.contains(PASSWORD),
            "{args:?} shows the password:\n{text}"
        );
    }
    assert!(
        outputs[0].1.contains("authentication.new_password"),
        "{}",
        outputs[0].1
    );
    assert!(outputs[0].1.contains("••••"), "{}", outputs[0].1);
    assert!(outputs[1].1.contains("\"••••\""), "{}", outputs[1].1);
    assert_eq!(files_containing(dir, PASSWORD), Vec::<String>::new());

    // A new password is a change: it is sent, and not stored either.
    h.write(
        "c.csv",
        "mail,given,family,pw\nann@x.io,Ann,Lee,Other-Secret-5521\n",
    );
    let out = common::bcsync_in(&sb, dir, &["push"]).output().unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(writes(&sb), 2, "the new password is sent");
    assert!(!all_output(&out).contains("Other-Secret-5521"));
    assert_eq!(
        files_containing(dir, "Other-Secret-5521"),
        Vec::<String>::new()
    );
}

/// Every row of every table the state store holds, as text (SQLite: the file's bytes).
async fn state_text(h: &Harness) -> String {
    match &h.pg {
        None => String::from_utf8_lossy(&std::fs::read(h.path("push.db")).unwrap()).into_owned(),
        Some(pg) => {
            let client = common::connect(&pg.url).await;
            let mut text = String::new();
            for row in client
                .query(
                    // The source table `c` is in the scratch schema too: left out.
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 AND table_name <> 'c'",
                    &[&pg.schema],
                )
                .await
                .unwrap()
            {
                let table: String = row.get(0);
                for r in client
                    .query(
                        &format!("SELECT t::text FROM \"{}\".\"{table}\" t", pg.schema),
                        &[],
                    )
                    .await
                    .unwrap()
                {
                    text.push_str(&r.get::<_, String>(0));
                    text.push('\n');
                }
            }
            text
        }
    }
}

on_both! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_state_store_keeps_a_password(backend: Backend) {
    let Some((_sb, h)) = Harness::start(backend).await else {
        return;
    };
    h.write(
        "c.csv",
        &format!("mail,given,family,pw\nann@x.io,Ann,Lee,{PASSWORD}\n"),
    );
    let sync = h.sync(
        "crm",
        "customers",
        "upsert",
        "email",
        "c.csv",
        "[sync.mapping]\nmail = \"email\"\ngiven = \"first_name\"\nfamily = \"last_name\"\npw = \"authentication.new_password\"\n",
        "",
    );
    let plan = h.dry_run(&sync).await;
    let shown = serde_json::to_string(&plan.plan).unwrap();
    assert!(!shown.contains(PASSWORD) && shown.contains("••••"), "{shown}");
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["created"], 1, "{:?}", out.run);
    let state = state_text(&h).await;
    assert!(state.contains("ann@x.io"), "the state store was read: {state}");
    assert!(!state.contains(PASSWORD), "{state}");
}
}
