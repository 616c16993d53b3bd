//! Sources for `bcsync push`: where warehouse rows come from. Every source yields rows as
//! ordered maps of column → JSON value through one trait, streamed through a bounded
//! channel from a blocking thread, so a table is never held in memory as a whole.
//! PostgreSQL (a server-side cursor, see [`postgres`]) sits behind the same [`Source`] trait.

pub mod csv;
pub mod postgres;
pub mod sqlite;

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::error::{Error, Result};

/// One source row: its 1-based number (data rows for CSV, result rows for SQL) and its
/// columns in source order.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub number: u64,
    pub values: Map<String, Value>,
}

/// Rows arriving from a source; an `Err` ends the stream.
pub type RowStream = mpsc::Receiver<Result<Row>>;

/// Rows buffered between the reading thread and the engine (backpressure).
const ROW_BUFFER: usize = 1024;

/// A place rows are read from.
pub trait Source: Send + Sync {
    /// Starts reading; rows arrive on the returned stream in source order.
    fn open(&self) -> Result<RowStream>;
    /// A short description for logs and run records (never credentials).
    fn describe(&self) -> String;
}

/// `source` in a sync definition.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceSpec {
    /// A CSV file with a header row. Empty cells are null.
    Csv {
        path: PathBuf,
        #[serde(default = "default_delimiter")]
        delimiter: char,
    },
    /// A SQLite table or query.
    Sqlite {
        path: PathBuf,
        table: Option<String>,
        query: Option<String>,
    },
    /// A PostgreSQL table or query, read with a server-side cursor. Without `url`,
    /// `DATABASE_URL`.
    Postgres {
        url: Option<String>,
        table: Option<String>,
        query: Option<String>,
    },
}

fn default_delimiter() -> char {
    ','
}

impl SourceSpec {
    /// Resolves relative paths against `base` (the directory of the file that defined it).
    pub fn rebase(&mut self, base: &std::path::Path) {
        let path = match self {
            SourceSpec::Csv { path, .. } | SourceSpec::Sqlite { path, .. } => path,
            SourceSpec::Postgres { .. } => return,
        };
        if path.is_relative() {
            *path = base.join(&*path);
        }
    }

    /// The source this spec describes.
    pub fn build(&self) -> Result<Box<dyn Source>> {
        match self {
            SourceSpec::Csv { path, delimiter } => {
                let d = u8::try_from(*delimiter).map_err(|_| {
                    Error::Config(format!(
                        "CSV delimiter {delimiter:?} must be one ASCII character"
                    ))
                })?;
                Ok(Box::new(csv::CsvSource::new(path.clone(), d)))
            }
            SourceSpec::Sqlite { path, table, query } => {
                let sql = match (table, query) {
                    (Some(t), None) => format!("SELECT * FROM \"{}\"", t.replace('"', "\"\"")),
                    (None, Some(q)) => q.clone(),
                    _ => {
                        return Err(Error::Config(format!(
                            "SQLite source {}: give exactly one of `table` or `query`",
                            path.display()
                        )));
                    }
                };
                Ok(Box::new(sqlite::SqliteSource::new(path.clone(), sql)))
            }
            SourceSpec::Postgres { url, table, query } => Ok(Box::new(
                postgres::PostgresSource::new(url.as_deref(), table.as_deref(), query.as_deref())?,
            )),
        }
    }
}

/// Runs `produce` on a blocking thread, feeding a bounded channel.
pub(crate) fn spawn_reader<F>(produce: F) -> RowStream
where
    F: FnOnce(&mpsc::Sender<Result<Row>>) -> Result<()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(ROW_BUFFER);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = produce(&tx) {
            let _ = tx.blocking_send(Err(e));
        }
    });
    rx
}

/// Reads a whole stream (tests and small sources only).
pub async fn collect(mut rows: RowStream) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    while let Some(r) = rows.recv().await {
        out.push(r?);
    }
    Ok(out)
}
