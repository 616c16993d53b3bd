//! Helpers for the `push_*` integration tests: a temp dir with sources and a tracking
//! store, sync definitions written as TOML, and write counts read from the sandbox's own
//! request log (independent of our client).
//!
//! Every scenario runs on two backends ([`on_both!`]): SQLite (CSV files as the source,
//! the SQLite state store) and PostgreSQL (the same CSV files loaded into tables of a
//! scratch schema before each push and read through the PostgreSQL source, and the state
//! store in that schema). The scenarios write CSV files either way, so both backends are
//! held to the same assertions.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use bc_sandbox::RunningSandbox;
use bcsync::push::config::{SyncDef, parse_syncs};
use bcsync::push::engine::{PushOptions, PushOutcome, run_sync};
use bcsync::state::push::{PushStore, open_push_store};

pub type Flags = PushOptions;

/// Where a scenario's source rows and push state live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a scenario `async fn name(backend: Backend) { ... }` as two tests,
/// `name::sqlite` and `name::postgres`, each with the attributes given.
#[macro_export]
macro_rules! on_both {
    ($(#[$m:meta])* async fn $name:ident($b:ident: Backend) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn scenario($b: $crate::push_support::Backend) $body
            $(#[$m])*
            async fn sqlite() {
                scenario($crate::push_support::Backend::Sqlite).await
            }
            $(#[$m])*
            async fn postgres() {
                scenario($crate::push_support::Backend::Postgres).await
            }
        }
    };
}

/// The PostgreSQL side of a harness: the server and a scratch schema dropped at the end.
pub struct PgScratch {
    pub url: String,
    pub schema: String,
}

/// The mapping of the `crm` customer syncs: columns `mail`, `given`, `family`.
pub const CRM_MAPPING: &str =
    "[sync.mapping]\nmail = \"email\"\ngiven = \"first_name\"\nfamily = \"last_name\"\n";

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub client: bigcommerce::Client,
    pub store_hash: String,
    pub pg: Option<PgScratch>,
}

impl Harness {
    /// A SQLite harness.
    pub fn new(sb: &RunningSandbox) -> Self {
        let (client, _) = crate::common::client(sb, sb.token());
        Self {
            dir: tempfile::tempdir().unwrap(),
            client,
            store_hash: sb.store_hash().to_owned(),
            pg: None,
        }
    }

    /// A harness on `backend`; `None` when PostgreSQL tests are not enabled (outside CI).
    pub fn on(sb: &RunningSandbox, backend: Backend) -> Option<Self> {
        let mut h = Self::new(sb);
        if backend == Backend::Postgres {
            h.pg = Some(PgScratch {
                url: crate::common::pg_url()?,
                schema: crate::common::unique_name("push"),
            });
        }
        Some(h)
    }

    /// An empty sandbox and a harness on `backend` for it; `None` (and no sandbox
    /// started) when PostgreSQL tests are not enabled.
    pub async fn start(backend: Backend) -> Option<(RunningSandbox, Self)> {
        if backend == Backend::Postgres && crate::common::pg_url().is_none() {
            return None;
        }
        let sb = crate::common::sandbox(bc_sandbox::SeedSpec::empty()).await;
        let h = Self::on(&sb, backend)?;
        Some((sb, h))
    }

    /// The state store, as `--state` takes it.
    pub fn state_spec(&self) -> String {
        match &self.pg {
            None => self.path("push.db").display().to_string(),
            Some(pg) => {
                let sep = if pg.url.contains('?') { '&' } else { '?' };
                format!("{}{sep}schema={}", pg.url, pg.schema)
            }
        }
    }

    /// The state store, opened for this harness's store.
    pub fn open_store(&self) -> Box<dyn PushStore> {
        open_push_store(&self.state_spec(), &self.store_hash).unwrap()
    }

    /// The `source = ...` value reading `csv` (a file name in the temp dir): the file
    /// itself, or the table it is loaded into.
    pub fn source_toml(&self, csv: &str) -> String {
        match &self.pg {
            None => format!("{{ type = \"csv\", path = \"{csv}\" }}"),
            Some(pg) => format!(
                "{{ type = \"postgres\", url = \"{}\", table = \"{}.{}\" }}",
                pg.url,
                pg.schema,
                csv.trim_end_matches(".csv")
            ),
        }
    }

    /// PostgreSQL backend: (re)loads every CSV file of the temp dir into a table of the
    /// scratch schema (all columns text; an empty cell becomes NULL, as the CSV source
    /// reads it).
    pub async fn load_sources(&self) {
        let Some(pg) = &self.pg else { return };
        let client = crate::common::connect(&pg.url).await;
        client
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{}\"", pg.schema))
            .await
            .unwrap();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("csv") {
                continue;
            }
            let table = format!(
                "\"{}\".\"{}\"",
                pg.schema,
                path.file_stem().unwrap().to_str().unwrap()
            );
            let bytes = std::fs::read(&path).unwrap();
            let mut reader = csv::Reader::from_reader(bytes.as_slice());
            let cols: Vec<String> = reader
                .headers()
                .unwrap()
                .iter()
                .map(|h| format!("\"{}\" text", h.trim()))
                .collect();
            client
                .batch_execute(&format!(
                    "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({})",
                    cols.join(", ")
                ))
                .await
                .unwrap();
            let sink = client
                .copy_in(&format!(
                    "COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)"
                ))
                .await
                .unwrap();
            use futures::SinkExt;
            let mut sink = std::pin::pin!(sink);
            sink.send(std::io::Cursor::new(bytes)).await.unwrap();
            sink.finish().await.unwrap();
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
        let source = self.source_toml(csv);
        let text = format!(
            "[[sync]]\nname = \"{name}\"\nobject = \"{object}\"\nmode = \"{mode}\"\nmatch_key = \"{key}\"\nsource = {source}\n{extra}{mapping}"
        );
        parse_syncs(&text, &self.path("bcsync.toml"), self.dir.path())
            .unwrap()
            .remove(0)
    }

    /// Writes a `bcsync.toml` for the binary: sync `crm`, customers by email from `c.csv`
    /// in `mode`, with `mapping` (a `[sync.mapping]` table).
    pub fn write_crm_config(&self, mode: &str, mapping: &str) {
        self.write(
            "bcsync.toml",
            &format!(
                "[[sync]]\nname = \"crm\"\nobject = \"customers\"\nmode = \"{mode}\"\nmatch_key = \"email\"\n\
                 source = {{ type = \"csv\", path = \"c.csv\" }}\n{mapping}"
            ),
        );
    }

    pub async fn push(&self, sync: &SyncDef, flags: Flags) -> PushOutcome {
        self.push_with(&self.client, sync, flags).await
    }

    /// A dry run: the plan, nothing written.
    pub async fn dry_run(&self, sync: &SyncDef) -> PushOutcome {
        let flags = Flags {
            dry_run: true,
            ..Flags::default()
        };
        self.push(sync, flags).await
    }

    /// `--reset-tracking`: forgets what was sent, sends nothing.
    pub async fn reset_tracking(&self, sync: &SyncDef) -> PushOutcome {
        let flags = Flags {
            reset_tracking: true,
            ..Flags::default()
        };
        self.push(sync, flags).await
    }

    pub async fn push_with(
        &self,
        client: &bigcommerce::Client,
        sync: &SyncDef,
        flags: Flags,
    ) -> PushOutcome {
        self.load_sources().await;
        let mut store = self.open_store();
        run_sync(client, store.as_mut(), sync, &flags)
            .await
            .unwrap()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let Some(pg) = self.pg.take() else { return };
        // Drop runs inside the test's runtime: clean up from a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let client = crate::common::connect(&pg.url).await;
                crate::common::drop_schema(&client, &pg.schema).await;
            });
        })
        .join();
    }
}

pub use crate::common::writes;

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
