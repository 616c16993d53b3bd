//! PostgreSQL tables or queries: `source = { type = "postgres", url = "postgres://...",
//! table = "schema.table" }` (or `query = "SELECT ..."`; without `url`, `DATABASE_URL`).
//!
//! Rows are streamed with a server-side cursor inside a read-only transaction
//! (`DECLARE ... NO SCROLL CURSOR`, then `FETCH` [`FETCH_ROWS`] at a time), so the source
//! holds at most one fetch plus the shared bounded channel, never the whole table. The
//! reader thread drives the queries through a [`PgSession`].
//!
//! Values travel in text form (simple protocol) and are typed with the column types of the
//! prepared query: integers and floats become JSON numbers, `numeric` a number when it
//! survives the round trip through f64 and otherwise its exact decimal string (SQLite
//! yields REALs as numbers; a price must never silently lose digits), `bool` a boolean,
//! `timestamptz` an RFC 3339 string in UTC, `json`/`jsonb` JSON, NULL null, everything
//! else its text.

use serde_json::{Map, Value};
use tokio_postgres::SimpleQueryMessage;
use tokio_postgres::types::Type;

use super::{Row, RowStream, Source, spawn_reader};
use crate::error::{Error, Result};
use crate::pg::{PgSession, PgTarget, quote_ident, url_from_spec};

/// Rows per `FETCH`: the most the source holds at once.
pub const FETCH_ROWS: usize = 500;

pub struct PostgresSource {
    target: PgTarget,
    sql: String,
}

impl PostgresSource {
    /// `url` may be absent (then `DATABASE_URL`); exactly one of `table` and `query`.
    pub fn new(url: Option<&str>, table: Option<&str>, query: Option<&str>) -> Result<Self> {
        let url = match url_from_spec(url.unwrap_or("postgres"))? {
            Some(u) => u,
            None => {
                return Err(Error::Config(
                    "PostgreSQL source: `url` must be a postgres:// URL".into(),
                ));
            }
        };
        // The schema part of the target is unused for reading; "source" only satisfies it.
        let target = PgTarget::parse(&url, Some("source".into()))?;
        let sql = match (table, query) {
            (Some(t), None) => format!("SELECT * FROM {}", quote_table(t)),
            (None, Some(q)) => q.trim().trim_end_matches(';').to_owned(),
            _ => {
                return Err(Error::Config(format!(
                    "PostgreSQL source {}: give exactly one of `table` or `query`",
                    target.shown
                )));
            }
        };
        Ok(Self { target, sql })
    }
}

/// `schema.table` or `table`, each part quoted.
fn quote_table(t: &str) -> String {
    t.split('.').map(quote_ident).collect::<Vec<_>>().join(".")
}

/// One text value typed by its column type.
fn to_json(ty: &Type, text: Option<&str>) -> Value {
    let Some(s) = text else {
        return Value::Null;
    };
    let as_string = || Value::String(s.to_owned());
    match *ty {
        Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => {
            s.parse::<i64>().map_or_else(|_| as_string(), Value::from)
        }
        Type::FLOAT4 | Type::FLOAT8 => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(as_string, Value::Number),
        Type::NUMERIC => numeric(s),
        Type::BOOL => Value::Bool(s == "t"),
        Type::TIMESTAMPTZ => chrono::DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z")
            .map_or_else(
                |_| as_string(),
                |t| {
                    Value::String(
                        t.with_timezone(&chrono::Utc)
                            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                    )
                },
            ),
        Type::JSON | Type::JSONB => serde_json::from_str(s).unwrap_or_else(|_| as_string()),
        _ => as_string(),
    }
}

/// A number when f64 keeps every digit (compared as normalised decimals), else the string.
fn numeric(s: &str) -> Value {
    if let Ok(i) = s.parse::<i64>() {
        return Value::from(i);
    }
    let Some(n) = s.parse::<f64>().ok().filter(|f| f.is_finite()) else {
        return Value::String(s.to_owned());
    };
    let norm = |d: &str| -> String {
        let d = d.trim_start_matches('-');
        let (int, frac) = d.split_once('.').unwrap_or((d, ""));
        let int = int.trim_start_matches('0');
        let frac = frac.trim_end_matches('0');
        format!("{int}.{frac}")
    };
    let back = n.to_string();
    if back.contains(['e', 'E']) || norm(&back) != norm(s) {
        return Value::String(s.to_owned());
    }
    serde_json::Number::from_f64(n).map_or_else(|| Value::String(s.to_owned()), Value::Number)
}

impl Source for PostgresSource {
    fn open(&self) -> Result<RowStream> {
        let target = self.target.clone();
        let sql = self.sql.clone();
        Ok(spawn_reader(move |tx| {
            let session = PgSession::open(target.clone(), "reading the push source")?;
            let client = session.client();
            session.block_on(async {
                let doing = format!("reading the push source ({sql})");
                let stmt = client
                    .prepare(&sql)
                    .await
                    .map_err(|e| target.explain(&e, &doing))?;
                let types: Vec<Type> = stmt.columns().iter().map(|c| c.type_().clone()).collect();
                let names = stmt.columns().iter().map(|c| c.name().to_owned()).collect();
                if !tx.columns(names).await {
                    return Ok(());
                }
                client
                    .batch_execute(&format!(
                        "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET extra_float_digits = 3; \
                         BEGIN READ ONLY; DECLARE bcsync_src NO SCROLL CURSOR FOR {sql}"
                    ))
                    .await
                    .map_err(|e| target.explain(&e, &doing))?;
                let fetch = format!("FETCH {FETCH_ROWS} FROM bcsync_src");
                let mut number = 0u64;
                loop {
                    let msgs = client
                        .simple_query(&fetch)
                        .await
                        .map_err(|e| target.explain(&e, &doing))?;
                    let mut got = 0usize;
                    for m in msgs {
                        let SimpleQueryMessage::Row(r) = m else {
                            continue;
                        };
                        got += 1;
                        number += 1;
                        let mut values = Map::with_capacity(r.columns().len());
                        for (i, col) in r.columns().iter().enumerate() {
                            let ty = types.get(i).unwrap_or(&Type::TEXT);
                            values.insert(col.name().to_owned(), to_json(ty, r.get(i)));
                        }
                        if !tx.row(Row::new(number, values)).await {
                            return Ok(());
                        }
                    }
                    if got == 0 {
                        break;
                    }
                }
                let _ = client.batch_execute("CLOSE bcsync_src; COMMIT").await;
                Ok(())
            })
        }))
    }

    fn describe(&self) -> String {
        format!("postgres:{}", self.target.shown)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numeric_keeps_every_digit() {
        assert_eq!(numeric("12.50"), json!(12.5));
        assert_eq!(numeric("7"), json!(7));
        assert_eq!(
            numeric("12345678901234567890.123456789"),
            json!("12345678901234567890.123456789")
        );
        assert_eq!(to_json(&Type::BOOL, Some("t")), json!(true));
        assert_eq!(
            to_json(&Type::TIMESTAMPTZ, Some("2024-03-01 10:00:00+00")),
            json!("2024-03-01T10:00:00Z")
        );
        assert_eq!(to_json(&Type::INT4, None), json!(null));
    }
}
