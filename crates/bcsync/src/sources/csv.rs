//! CSV files with a header row (the `csv` crate). Every cell is a string; an empty cell is
//! null. Types are cast later, by the mapping, to what each BigCommerce field needs.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::{Row, RowStream, Source, spawn_reader};
use crate::error::Error;

pub struct CsvSource {
    path: PathBuf,
    delimiter: u8,
}

impl CsvSource {
    pub fn new(path: PathBuf, delimiter: u8) -> Self {
        Self { path, delimiter }
    }
}

impl Source for CsvSource {
    fn open(&self) -> crate::Result<RowStream> {
        let path = self.path.clone();
        // Flexible: a line with the wrong number of fields is rejected as a row (below),
        // not an error that ends the file.
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .has_headers(true)
            .flexible(true)
            .from_path(&path)
            .map_err(|e| csv_error(&path, e))?;
        Ok(spawn_reader(move |tx| {
            let headers = reader
                .byte_headers()
                .map_err(|e| csv_error(&path, e))?
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    std::str::from_utf8(h)
                        // Spreadsheets often save UTF-8 with a byte-order mark.
                        .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
                        .map_err(|_| Error::CsvHeaderNotUtf8 {
                            path: path.clone(),
                            column: i + 1,
                        })
                })
                .collect::<crate::Result<Vec<String>>>()?;
            if !tx.columns_blocking(headers.clone()) {
                return Ok(());
            }
            let mut record = csv::ByteRecord::new();
            let mut number = 0u64;
            while reader
                .read_byte_record(&mut record)
                .map_err(|e| csv_error(&path, e))?
            {
                number += 1;
                let row = decode(&headers, &record, number);
                if !tx.row_blocking(row) {
                    break; // the engine stopped reading
                }
            }
            Ok(())
        }))
    }

    fn describe(&self) -> String {
        format!("csv:{}", self.path.display())
    }
}

/// One record as a row: cells as strings (empty = null). A record whose field count
/// differs from the header's, or with a cell that is not UTF-8, becomes an unreadable row
/// (rejected with the line, and the column, to fix); its readable cells are kept.
fn decode(headers: &[String], record: &csv::ByteRecord, number: u64) -> Row {
    // The record's first line in the file (the header is line 1).
    let line = record.position().map_or(number + 1, csv::Position::line);
    let mut unreadable = (record.len() != headers.len()).then(|| {
        format!(
            "line {line} has {} fields, the header has {}",
            record.len(),
            headers.len()
        )
    });
    let mut values = Map::with_capacity(headers.len());
    for (i, (h, cell)) in headers.iter().zip(record.iter()).enumerate() {
        let text = match std::str::from_utf8(cell) {
            Ok(t) => t.to_owned(),
            Err(_) => {
                unreadable.get_or_insert_with(|| {
                    format!(
                        "line {line}, column {} is not UTF-8; save the file as UTF-8",
                        i + 1
                    )
                });
                String::from_utf8_lossy(cell).into_owned()
            }
        };
        let v = if text.is_empty() {
            Value::Null
        } else {
            Value::String(text)
        };
        values.insert(h.clone(), v);
    }
    Row {
        number,
        values,
        unreadable,
    }
}

fn csv_error(path: &std::path::Path, e: csv::Error) -> Error {
    let text = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(source) => Error::Io {
            path: path.to_owned(),
            source,
        },
        _ => Error::UnreadableCsv {
            path: path.to_owned(),
            detail: text,
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::collect;
    use super::*;

    #[tokio::test]
    async fn ragged_and_non_utf8_lines_become_rejected_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        let mut bytes = "\u{feff}".as_bytes().to_vec();
        bytes.extend_from_slice(
            b"email,first,last\na@x.io,\xe9ric,Lee\nb@x.io,Bob\nc@x.io,Cy,Ray\n",
        );
        bytes.extend_from_slice(b"d@x.io,Di,Do,extra\n");
        std::fs::write(&path, bytes).unwrap();
        let mut src = CsvSource::new(path, b',').open().unwrap();
        assert_eq!(src.columns().await.unwrap(), ["email", "first", "last"]);
        let rows = collect(src).await.unwrap();
        let reasons: Vec<Option<&str>> = rows.iter().map(|r| r.unreadable.as_deref()).collect();
        assert_eq!(
            reasons,
            [
                Some("line 2, column 2 is not UTF-8; save the file as UTF-8"),
                Some("line 3 has 2 fields, the header has 3"),
                None,
                Some("line 5 has 4 fields, the header has 3"),
            ]
        );
        // What could be read is kept (the key protects the record from deletion).
        assert_eq!(rows[1].values["email"], "b@x.io");
        assert_eq!(rows[2].values["first"], "Cy");
    }

    /// A quoted field spanning lines moves the next records' lines down: a reason names
    /// the line of the file, not the record's number.
    #[tokio::test]
    async fn line_numbers_count_the_lines_of_quoted_multi_line_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        std::fs::write(
            &path,
            "email,note,last\na@x.io,\"two\nlines\",Lee\nb@x.io,Bob\nc@x.io,\"x\n\ny\",Ray,extra\n",
        )
        .unwrap();
        let src = CsvSource::new(path, b',').open().unwrap();
        let rows = collect(src).await.unwrap();
        let reasons: Vec<Option<&str>> = rows.iter().map(|r| r.unreadable.as_deref()).collect();
        assert_eq!(
            reasons,
            [
                None,
                Some("line 4 has 2 fields, the header has 3"),
                Some("line 5 has 4 fields, the header has 3"),
            ]
        );
        assert_eq!(rows[0].values["note"], "two\nlines");
        assert_eq!(rows.iter().map(|r| r.number).collect::<Vec<_>>(), [1, 2, 3]);
    }
}
