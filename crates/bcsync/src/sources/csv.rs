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
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .has_headers(true)
            .from_path(&path)
            .map_err(|e| csv_error(&path, e))?;
        Ok(spawn_reader(move |tx| {
            let headers: Vec<String> = reader
                .headers()
                .map_err(|e| csv_error(&path, e))?
                .iter()
                .map(|h| h.trim().to_owned())
                .collect();
            let mut record = csv::StringRecord::new();
            let mut number = 0u64;
            while reader
                .read_record(&mut record)
                .map_err(|e| csv_error(&path, e))?
            {
                number += 1;
                let mut values = Map::with_capacity(headers.len());
                for (h, cell) in headers.iter().zip(record.iter()) {
                    let v = if cell.is_empty() {
                        Value::Null
                    } else {
                        Value::String(cell.to_owned())
                    };
                    values.insert(h.clone(), v);
                }
                if tx.blocking_send(Ok(Row { number, values })).is_err() {
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

fn csv_error(path: &std::path::Path, e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(source) => Error::Io {
            path: path.to_owned(),
            source,
        },
        other => Error::Config(format!(
            "{} is not a readable CSV file: {other:?}; check the header row and the quoting",
            path.display()
        )),
    }
}
