//! Helpers for the `push_*` integration tests: a temp dir with sources and a tracking
//! store, sync definitions written as TOML, and write counts read from the sandbox's own
//! request log (independent of our client).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use bc_sandbox::RunningSandbox;
use bcsync::push::config::{SyncDef, parse_syncs};
use bcsync::push::engine::{PushOptions, PushOutcome, run_sync};
use bcsync::state::push::SqlitePushStore;

pub type Flags = PushOptions;

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub client: bigcommerce::Client,
}

impl Harness {
    pub fn new(sb: &RunningSandbox) -> Self {
        let (client, _) = crate::common::client(sb, sb.token());
        Self {
            dir: tempfile::tempdir().unwrap(),
            client,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    /// A sync reading the CSV file `csv`; `mapping` is a `[sync.mapping]` table, `extra`
    /// more top-level keys.
    #[allow(clippy::too_many_arguments)]
    pub fn sync(
        &self,
        name: &str,
        object: &str,
        mode: &str,
        key: &str,
        csv: &str,
        mapping: &str,
        extra: &str,
    ) -> SyncDef {
        let text = format!(
            "[[sync]]\nname = \"{name}\"\nobject = \"{object}\"\nmode = \"{mode}\"\nmatch_key = \"{key}\"\nsource = {{ type = \"csv\", path = \"{csv}\" }}\n{extra}{mapping}"
        );
        parse_syncs(&text, &self.path("bcsync.toml"), self.dir.path())
            .unwrap()
            .remove(0)
    }

    pub async fn push(&self, sync: &SyncDef, flags: Flags) -> PushOutcome {
        self.push_with(&self.client, sync, flags).await
    }

    pub async fn push_with(
        &self,
        client: &bigcommerce::Client,
        sync: &SyncDef,
        flags: Flags,
    ) -> PushOutcome {
        let mut store = SqlitePushStore::open(&self.path("push.db")).unwrap();
        run_sync(client, &mut store, sync, &flags).await.unwrap()
    }
}

/// Write requests (anything but GET) the sandbox has answered so far, admin API excluded.
pub fn writes(sb: &RunningSandbox) -> usize {
    sb.state
        .log
        .entries()
        .iter()
        .filter(|e| e.method != "GET" && !e.path.contains("/_sandbox"))
        .count()
}

/// Lookup requests (GET) so far.
pub fn reads(sb: &RunningSandbox) -> usize {
    sb.state
        .log
        .entries()
        .iter()
        .filter(|e| e.method == "GET" && !e.path.contains("/_sandbox"))
        .count()
}

/// Write requests (method and path) the sandbox has answered so far, admin API excluded:
/// `write_log(sb)[n..]` are the writes since `writes(sb)` returned `n`.
pub fn write_log(sb: &RunningSandbox) -> Vec<(String, String)> {
    sb.state
        .log
        .entries()
        .iter()
        .filter(|e| e.method != "GET" && !e.path.contains("/_sandbox"))
        .map(|e| (e.method.clone(), e.path.clone()))
        .collect()
}
