//! SQLite tables or queries (rusqlite on a blocking thread). Column values keep their
//! SQLite type: INTEGER and REAL become JSON numbers, TEXT strings, NULL null, BLOB hex.

use std::path::PathBuf;

use rusqlite::types::ValueRef;
use serde_json::{Map, Value};

use super::{Row, RowStream, Source, spawn_reader};
use crate::error::Error;

pub struct SqliteSource {
    path: PathBuf,
    sql: String,
}

impl SqliteSource {
    pub fn new(path: PathBuf, sql: String) -> Self {
        Self { path, sql }
    }
}

impl Source for SqliteSource {
    fn open(&self) -> crate::Result<RowStream> {
        let path = self.path.clone();
        if !path.exists() {
            return Err(Error::Config(format!(
                "SQLite source {} does not exist; check `path` in the sync definition",
                path.display()
            )));
        }
        let sql = self.sql.clone();
        Ok(spawn_reader(move |tx| {
            let err = |source| Error::SqliteSource {
                path: path.clone(),
                query: sql.clone(),
                source,
            };
            let conn = rusqlite::Connection::open_with_flags(
                &path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .map_err(err)?;
            let mut stmt = conn.prepare(&sql).map_err(err)?;
            // A write has no result columns, so the mapped-column check below would report
            // "no columns at all"; the real problem is that a source only reads.
            if !stmt.readonly() {
                return Err(err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
                    Some("the statement writes".into()),
                )));
            }
            let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
            if !tx.columns_blocking(names.clone()) {
                return Ok(());
            }
            let mut rows = stmt.query([]).map_err(err)?;
            let mut number = 0u64;
            while let Some(r) = rows.next().map_err(err)? {
                number += 1;
                let mut values = Map::with_capacity(names.len());
                for (i, name) in names.iter().enumerate() {
                    let v = match r.get_ref(i).map_err(err)? {
                        ValueRef::Null => Value::Null,
                        ValueRef::Integer(n) => Value::from(n),
                        ValueRef::Real(f) => {
                            serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
                        }
                        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Value::String(hex::encode(b)),
                    };
                    values.insert(name.clone(), v);
                }
                if !tx.row_blocking(Row::new(number, values)) {
                    break;
                }
            }
            Ok(())
        }))
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{SourceSpec, collect};
    use serde_json::json;

    #[tokio::test]
    async fn csv_and_sqlite_yield_ordered_rows() {
        let dir = tempfile::tempdir().unwrap();
        let csv_path = dir.path().join("c.csv");
        std::fs::write(
            &csv_path,
            "email,first_name,age\na@x.io,Ann,\nb@x.io,Bob,7\n",
        )
        .unwrap();
        let src = SourceSpec::Csv {
            path: csv_path,
            delimiter: ',',
        }
        .build()
        .unwrap();
        let rows = collect(src.open().unwrap()).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0].values.keys().collect::<Vec<_>>(),
            vec!["email", "first_name", "age"]
        );
        assert_eq!(rows[0].values["age"], json!(null));
        assert_eq!(rows[1].number, 2);
        assert_eq!(rows[1].values["age"], json!("7"));

        let db = dir.path().join("s.db");
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("CREATE TABLE t(sku TEXT, price REAL, qty INTEGER); INSERT INTO t VALUES ('A', 1.5, 3), ('B', NULL, 0);").unwrap();
        let src = SourceSpec::Sqlite {
            path: db.clone(),
            table: Some("t".into()),
            query: None,
        }
        .build()
        .unwrap();
        let rows = collect(src.open().unwrap()).await.unwrap();
        assert_eq!(
            rows[0].values,
            json!({"sku": "A", "price": 1.5, "qty": 3})
                .as_object()
                .unwrap()
                .clone()
        );
        assert_eq!(rows[1].values["price"], json!(null));
        let src = SourceSpec::Sqlite {
            path: db,
            table: None,
            query: Some("SELECT sku FROM t WHERE qty > 0".into()),
        }
        .build()
        .unwrap();
        assert_eq!(collect(src.open().unwrap()).await.unwrap().len(), 1);
    }
}
