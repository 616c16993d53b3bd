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
    /// Why the row could not be read in full (a CSV line with too few or too many fields,
    /// bytes that are not UTF-8): the mapping rejects it with this reason and the rows
    /// after it go on. `values` holds what could be read, so its key still protects the
    /// record from counting as removed.
    pub unreadable: Option<String>,
}

impl Row {
    pub fn new(number: u64, values: Map<String, Value>) -> Self {
        Self {
            number,
            values,
            unreadable: None,
        }
    }
}

/// What a reader thread sends: the source's columns once, first, then rows.
enum Item {
    Columns(Vec<String>),
    Row(Row),
}

/// Rows arriving from a source; an `Err` ends the stream. The source's columns (the CSV
/// header, the query's result columns) are known before the first row: [`RowStream::columns`].
pub struct RowStream {
    rx: mpsc::Receiver<Result<Item>>,
    columns: Option<Vec<String>>,
}

impl RowStream {
    /// The source's column names, in order, as soon as the reader knows them (before any
    /// row is read). A source that failed to open returns its error here.
    pub async fn columns(&mut self) -> Result<Vec<String>> {
        while self.columns.is_none() {
            match self.rx.recv().await {
                Some(Ok(Item::Columns(c))) => self.columns = Some(c),
                // Readers announce their columns first; a row before them cannot happen.
                Some(Ok(Item::Row(_))) | None => self.columns = Some(Vec::new()),
                Some(Err(e)) => return Err(e),
            }
        }
        Ok(self.columns.clone().unwrap_or_default())
    }

    /// The next row, in source order; `None` at the end.
    pub async fn recv(&mut self) -> Option<Result<Row>> {
        loop {
            match self.rx.recv().await? {
                Ok(Item::Columns(c)) => self.columns = Some(c),
                Ok(Item::Row(r)) => return Some(Ok(r)),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// The sending side given to a reader thread.
pub(crate) struct RowSender(mpsc::Sender<Result<Item>>);

impl RowSender {
    /// Announces the columns (first, before any row). False when the engine stopped reading.
    pub(crate) fn columns_blocking(&self, names: Vec<String>) -> bool {
        self.0.blocking_send(Ok(Item::Columns(names))).is_ok()
    }

    /// Sends a row from a blocking thread. False when the engine stopped reading.
    pub(crate) fn row_blocking(&self, row: Row) -> bool {
        self.0.blocking_send(Ok(Item::Row(row))).is_ok()
    }

    pub(crate) async fn columns(&self, names: Vec<String>) -> bool {
        self.0.send(Ok(Item::Columns(names))).await.is_ok()
    }

    pub(crate) async fn row(&self, row: Row) -> bool {
        self.0.send(Ok(Item::Row(row))).await.is_ok()
    }
}

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
    F: FnOnce(&RowSender) -> Result<()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(ROW_BUFFER);
    tokio::task::spawn_blocking(move || {
        let tx = RowSender(tx);
        if let Err(e) = produce(&tx) {
            let _ = tx.0.blocking_send(Err(e));
        }
    });
    RowStream { rx, columns: None }
}

/// Opens `source` for a sync and checks, before any row is read, that it has every mapped
/// column: one error naming the missing ones and the columns the source has, instead of
/// one rejection per row.
pub async fn open_mapped(
    source: &dyn Source,
    sync: &str,
    fields: &[crate::push::config::FieldMap],
) -> Result<RowStream> {
    let mut rows = source.open()?;
    let columns = rows.columns().await?;
    check_columns(sync, &source.describe(), fields, &columns)?;
    Ok(rows)
}

/// The check of [`open_mapped`], on its own so it can be tested as a table.
fn check_columns(
    sync: &str,
    source: &str,
    fields: &[crate::push::config::FieldMap],
    columns: &[String],
) -> Result<()> {
    let missing: Vec<&crate::push::config::FieldMap> = fields
        .iter()
        .filter(|f| !columns.contains(&f.column))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = missing
        .iter()
        .map(|f| match crate::push::fields::closest(&f.column, columns) {
            Some(c) => format!(
                "{:?} (mapped to {}; did you mean {c:?}?)",
                f.column, f.field
            ),
            None => format!("{:?} (mapped to {})", f.column, f.field),
        })
        .collect();
    let has = if columns.is_empty() {
        "no columns at all".to_owned()
    } else {
        format!("the columns {}", columns.join(", "))
    };
    Err(Error::Config(format!(
        "sync {sync:?}: the source {source} has no column {}; it has {has}. Rename the column in the source or fix the mapping",
        names.join(", ")
    )))
}

/// Reads a whole stream (tests and small sources only).
pub async fn collect(mut rows: RowStream) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    while let Some(r) = rows.recv().await {
        out.push(r?);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::push::config::FieldMap;

    #[test]
    fn missing_columns_are_named_with_the_columns_there_are() {
        let fields = vec![
            FieldMap {
                column: "mail".into(),
                field: "email".into(),
            },
            FieldMap {
                column: "nick".into(),
                field: "first_name".into(),
            },
        ];
        let cols = vec!["mail".to_owned(), "nik".to_owned(), "last".to_owned()];
        assert!(check_columns("c", "csv:x.csv", &fields[..1], &cols).is_ok());
        let e = check_columns("c", "csv:x.csv", &fields, &cols)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("has no column \"nick\" (mapped to first_name; did you mean \"nik\"?)"),
            "{e}"
        );
        assert!(e.contains("it has the columns mail, nik, last"), "{e}");
    }
}
