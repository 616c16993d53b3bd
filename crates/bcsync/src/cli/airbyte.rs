//! `bcsync airbyte spec|check|discover|read`: bcsync as an Airbyte source. Every line on
//! stdout is one Airbyte message (SPEC, CONNECTION_STATUS, CATALOG, RECORD, STATE, LOG,
//! TRACE); anything else goes to stderr. `read` is `extract` into the Airbyte destination
//! (`destinations::airbyte`): same streams, same engine, same requests.
//!
//! Exit codes follow Airbyte's sources: `spec`, `discover` and `check` exit 0 (a failed
//! check is a CONNECTION_STATUS FAILED, not an exit code); `read` exits 1 after a TRACE
//! error when it could not read everything.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use bcsync::destinations::airbyte::{
    self, AirbyteDestination, ConfiguredCatalog, FailureType, connection_status, log_message,
    trace_error,
};
use bcsync::extract::{ExtractOptions, Progress, RequestCounter};
use bcsync::state::StreamState;
use bigcommerce::ApiVersion;
use clap::{Args, Subcommand};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;

use super::Interrupt;
use super::extract::{SCOPE_PROBES, render_summary};

/// Run as an Airbyte source: spec, check, discover, read (Airbyte messages on stdout)
///
/// Every stdout line is one Airbyte message; logs go to stderr. The config (--config FILE)
/// is a JSON object: {"store_hash": "...", "access_token": "...", "base_url": optional,
/// "start_date": optional RFC 3339, "stream_concurrency": optional}; `spec` prints its
/// schema. BIGCOMMERCE_ACCESS_TOKEN, when set, overrides access_token.
///
///   bcsync airbyte check --config config.json
///   bcsync airbyte discover > catalog.json
///   bcsync airbyte read --config config.json --catalog configured.json [--state state.json]
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct AirbyteArgs {
    #[command(subcommand)]
    pub command: AirbyteCommand,
}

#[derive(Debug, Subcommand)]
pub enum AirbyteCommand {
    /// Print the SPEC message: the JSON Schema of the config.
    Spec,
    /// Try the config's store and token: CONNECTION_STATUS (exit 0, also when FAILED).
    Check,
    /// Print the CATALOG message: every stream and child table (needs no config).
    Discover,
    /// Read the configured streams: RECORD, per-stream STATE, LOG and TRACE messages.
    Read(ReadArgs),
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// ConfiguredAirbyteCatalog JSON: the streams to read and their sync modes (default:
    /// every stream `extract` reads, incremental where it can be).
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// State to resume from: a JSON array of the STATE messages (AirbyteStateMessage,
    /// type STREAM) of an earlier read.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
}

/// The config `spec` describes.
#[derive(Deserialize)]
struct SourceConfig {
    store_hash: Option<String>,
    access_token: Option<SecretString>,
    base_url: Option<String>,
    start_date: Option<String>,
    stream_concurrency: Option<usize>,
    channels: Option<Vec<i64>>,
}

/// A problem the user fixes, told as Airbyte wants it.
struct Failure {
    message: String,
    internal: Option<String>,
    failure: FailureType,
}

impl Failure {
    fn config(message: String) -> Self {
        Self {
            message,
            internal: None,
            failure: FailureType::Config,
        }
    }
}

/// Writes one message line to stdout.
fn emit(msg: &Value) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, msg)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

pub async fn run(
    config: Option<&Path>,
    args: AirbyteArgs,
    interrupt: &Interrupt,
) -> anyhow::Result<ExitCode> {
    match args.command {
        AirbyteCommand::Spec => {
            emit(&airbyte::spec_message())?;
            Ok(ExitCode::SUCCESS)
        }
        AirbyteCommand::Discover => {
            emit(&airbyte::catalog_message())?;
            Ok(ExitCode::SUCCESS)
        }
        AirbyteCommand::Check => {
            let status = match check(config).await {
                Ok(message) => connection_status(true, &message),
                Err(f) => connection_status(false, &f.message),
            };
            emit(&status)?;
            Ok(ExitCode::SUCCESS)
        }
        AirbyteCommand::Read(read_args) => match read(config, &read_args, interrupt).await {
            Ok(code) => Ok(code),
            Err(f) => {
                emit(&trace_error(
                    &f.message,
                    f.internal.as_deref(),
                    f.failure,
                    None,
                ))?;
                Ok(ExitCode::FAILURE)
            }
        },
    }
}

/// Reads the config file into a connection, with the fix for each problem.
fn load_config(
    path: Option<&Path>,
) -> Result<(bcsync::config::StoreConnection, SourceConfig), Failure> {
    let path = path.ok_or_else(|| {
        Failure::config(
            "no config: pass --config FILE, a JSON object with store_hash and access_token (`bcsync airbyte spec` prints its schema)".into(),
        )
    })?;
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::config(format!(
            "cannot read the config {} ({e}); check the path",
            path.display()
        ))
    })?;
    // A value of the wrong type is quoted by serde's message: the token must never be, so
    // its type is checked first, without quoting it.
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        Failure::config(format!(
            "the config {} is not JSON ({}); fix it as `bcsync airbyte spec` describes",
            path.display(),
            bcsync::error::plain_serde_message(&e.to_string())
        ))
    })?;
    if value
        .get("access_token")
        .is_some_and(|t| !t.is_string() && !t.is_null())
    {
        return Err(Failure::config(format!(
            "access_token in the config {} is not a string; write it in double quotes",
            path.display()
        )));
    }
    let cfg: SourceConfig = serde_json::from_value(value).map_err(|e| {
        Failure::config(format!(
            "the config {} is not a JSON object with store_hash and access_token ({}); fix it as `bcsync airbyte spec` describes",
            path.display(),
            bcsync::error::plain_serde_message(&e.to_string())
        ))
    })?;
    let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let file = bcsync::config::FileConfig {
        store_hash: nonempty(&cfg.store_hash),
        access_token: cfg.access_token.clone(),
        base_url: nonempty(&cfg.base_url),
        ..Default::default()
    };
    let conn = file.connection(None, None).map_err(|e| match e {
        bcsync::Error::NoStoreHash => Failure::config(
            "the config has no store_hash; add it: the part after /stores/ in the API path shown with the API account".into(),
        ),
        bcsync::Error::NoAccessToken => Failure::config(
            "the config has no access_token; add the access token of a store-level API account".into(),
        ),
        other => Failure::config(other.to_string()),
    })?;
    Ok((conn, cfg))
}

/// What a failed first request means for the config.
fn connection_failure(e: &bigcommerce::Error, conn: &bcsync::config::StoreConnection) -> Failure {
    let hash = &conn.store_hash;
    let (message, failure) = match e.status() {
        Some(401) => (
            format!(
                "the store refused the access token (HTTP 401); set access_token in the config to the token of an API account of store {hash} that is not deleted"
            ),
            FailureType::Config,
        ),
        Some(404) => (
            format!(
                "no store {hash} (HTTP 404); set store_hash in the config to the part after /stores/ in the API path shown with the API account"
            ),
            FailureType::Config,
        ),
        None => (
            format!(
                "could not reach the API ({e}); check base_url in the config (leave it out for the real API) and the network"
            ),
            FailureType::Transient,
        ),
        Some(status) => (
            format!("the store answered HTTP {status}; try again later"),
            FailureType::of_status(Some(status)),
        ),
    };
    Failure {
        message,
        internal: Some(e.to_string()),
        failure,
    }
}

/// `check`: the token and store work (`/v2/time` needs no scope), then which of the
/// scopes bcsync reads the token has.
async fn check(config: Option<&Path>) -> Result<String, Failure> {
    let (conn, cfg) = load_config(config)?;
    if let Some(d) = cfg.start_date.as_deref().filter(|d| !d.trim().is_empty()) {
        airbyte::parse_start_date(d).map_err(|e| Failure::config(e.to_string()))?;
    }
    let client = conn
        .client()
        .map_err(|e| Failure::config(format!("{e}; fix base_url in the config")))?;
    client
        .get(ApiVersion::V2, "/time", &[])
        .await
        .map_err(|e| connection_failure(&e, &conn))?;
    let mut missing = Vec::new();
    for (scope, version, path, what) in SCOPE_PROBES {
        let q = [("limit".to_owned(), "1".to_owned())];
        match client.get(*version, path, &q).await {
            Ok(_) => {}
            Err(e) if e.status() == Some(403) => {
                missing.push(format!("{scope}_read_only ({what})"))
            }
            Err(e) => return Err(connection_failure(&e, &conn)),
        }
    }
    let hash = &conn.store_hash;
    if missing.len() == SCOPE_PROBES.len() {
        return Err(Failure::config(format!(
            "store {hash} accepts the token, but it has none of the read scopes bcsync needs; give the API account these scopes: {}",
            missing.join(", ")
        )));
    }
    Ok(if missing.is_empty() {
        format!("connected to store {hash}; the token has every scope bcsync reads")
    } else {
        format!(
            "connected to store {hash}; the streams of these scopes will fail until the API account has them: {}",
            missing.join(", ")
        )
    })
}

fn read_json_file(path: &Path, what: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| {
        Failure::config(format!(
            "cannot read the {what} {} ({e}); check the path",
            path.display()
        ))
    })
}

/// `read`: the configured tables through the extraction engine into the Airbyte
/// destination, then a TRACE error per failed stream and the run's figures as a LOG.
async fn read(
    config: Option<&Path>,
    args: &ReadArgs,
    interrupt: &Interrupt,
) -> Result<ExitCode, Failure> {
    let (conn, cfg) = load_config(config)?;
    let catalog = match &args.catalog {
        Some(p) => {
            let text = read_json_file(p, "catalog")?;
            let v: Value = serde_json::from_str(&text).map_err(|e| {
                Failure::config(format!(
                    "the catalog {} is not JSON ({}); pass a ConfiguredAirbyteCatalog",
                    p.display(),
                    bcsync::error::plain_serde_message(&e.to_string())
                ))
            })?;
            ConfiguredCatalog::parse(&v)
                .map_err(|e| Failure::config(format!("the catalog {} {e}", p.display())))?
        }
        None => ConfiguredCatalog::every_default_table(),
    };
    let input: BTreeMap<String, StreamState> = match &args.state {
        Some(p) => airbyte::parse_state(&read_json_file(p, "state file")?)
            .map_err(|e| Failure::config(format!("the state file {} {e}", p.display())))?,
        None => BTreeMap::new(),
    };
    let start_date = match cfg.start_date.as_deref().filter(|d| !d.trim().is_empty()) {
        Some(d) => Some(airbyte::parse_start_date(d).map_err(|e| Failure::config(e.to_string()))?),
        None => None,
    };
    // One request before any message: a wrong token or store hash fails once, with its fix.
    let probe = conn
        .client()
        .map_err(|e| Failure::config(format!("{e}; fix base_url in the config")))?;
    let store_now = probe
        .get(ApiVersion::V2, "/time", &[])
        .await
        .map_err(|e| connection_failure(&e, &conn))?;

    let tables = catalog.table_names();
    let io = |e: anyhow::Error| Failure {
        message: format!("cannot write to stdout ({e})"),
        internal: None,
        failure: FailureType::System,
    };
    emit(&log_message(
        "INFO",
        &format!(
            "reading {} of store {}: {}",
            if tables.len() == 1 {
                "1 table"
            } else {
                "tables"
            },
            conn.store_hash,
            tables.join(", ")
        ),
    ))
    .map_err(io)?;
    let mut options = ExtractOptions {
        tables: Some(tables),
        cancel: Some(interrupt.token.clone()),
        store_clock: bcsync::extract::StoreClock::at(bcsync::extract::store_time(&store_now)),
        ..ExtractOptions::default()
    };
    if let Some(n) = cfg.stream_concurrency {
        options.stream_concurrency = n;
    }
    let channels = cfg.channels.clone().unwrap_or_default();
    if let Some(bad) = channels.iter().find(|c| **c < 1) {
        return Err(Failure::config(format!(
            "channels holds {bad}, which is not a channel id: use the ids GET /v3/channels lists (1 is the default storefront)"
        )));
    }
    options.channels = bcsync::extract::channels::normalize(&channels);
    let counter = Arc::new(RequestCounter::default());
    let client = conn
        .client()
        .map_err(|e| Failure::config(e.to_string()))?
        .with_observer(counter.clone());
    let names = catalog.stream_names();
    let dest = AirbyteDestination::stdout(catalog.clone(), input, start_date);
    let summary = bcsync::extract::run_into(
        client,
        counter,
        &names,
        Box::new(dest),
        false,
        options,
        Progress::hidden(),
    )
    .await
    .map_err(|e| Failure {
        message: format!("the read failed: {e}"),
        internal: None,
        failure: match &e {
            bcsync::Error::Api(api) => FailureType::of_status(api.status()),
            _ => FailureType::System,
        },
    })?;
    emit(&log_message(
        "INFO",
        render_summary(&summary, "airbyte:stdout").trim(),
    ))
    .map_err(io)?;
    if let Some(code) = interrupt.exit_code().filter(|_| summary.interrupted) {
        return Ok(code);
    }
    let failed = summary.failed();
    for s in &failed {
        let error = s.error.as_deref().unwrap_or_default();
        let stream = bcsync::streams::find(&s.name);
        // The error concerns every selected table read through this stream.
        let tables: Vec<&str> = catalog
            .table_names()
            .into_iter()
            .filter(|t| {
                *t == s.name || stream.is_some_and(|st| st.children.iter().any(|c| c.name == *t))
            })
            .collect();
        for t in tables {
            emit(&trace_error(
                &format!("{}: {error}", s.name),
                None,
                FailureType::of_status(s.error_status),
                Some(t),
            ))
            .map_err(io)?;
        }
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
