//! Output of the resource commands and `bcsync api`: a table for people on a terminal,
//! `json`, `jsonl` or `csv` for programs (json by default when stdout is not a terminal).
//! Only records go to stdout; notes (more records exist, nothing found) go to stderr.

use std::io::{self, IsTerminal, Write};

use serde_json::Value;

/// How records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for reading (the default on a terminal).
    Table,
    /// One JSON document: an array for lists, an object for one record.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// A header row and one row per record; nested values as JSON.
    Csv,
}

impl Format {
    /// The format asked for, else a table on a terminal and JSON otherwise.
    pub fn resolve(flag: Option<Format>) -> Format {
        flag.unwrap_or_else(|| {
            if io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Json
            }
        })
    }
}

/// Longest cell in a table; longer text ends in `…`.
const MAX_CELL: usize = 48;
/// Columns a table shows when the caller has no preference.
const DEFAULT_COLUMNS: usize = 8;

/// Writes a list of records. `columns` are the table's preferred columns (dotted paths
/// such as `billing_address.email` reach into objects); the other formats carry every field.
pub fn write_list(
    out: &mut impl Write,
    format: Format,
    records: &[Value],
    columns: &[&str],
) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, records)?;
            writeln!(out)
        }
        Format::Jsonl => {
            for r in records {
                serde_json::to_writer(&mut *out, r)?;
                writeln!(out)?;
            }
            Ok(())
        }
        Format::Csv => write_csv(out, records),
        Format::Table => {
            let cols = table_columns(records, columns);
            write_table(out, records, &cols)
        }
    }
}

/// Writes one record: as a list of one for jsonl and csv, and for a table its fields one
/// per line, followed by a table for each list of records it holds (an order's lines).
pub fn write_one(out: &mut impl Write, format: Format, record: &Value) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, record)?;
            writeln!(out)
        }
        Format::Jsonl | Format::Csv => write_list(out, format, std::slice::from_ref(record), &[]),
        Format::Table => {
            let Some(map) = record.as_object() else {
                return writeln!(out, "{}", cell(record));
            };
            let is_list = |v: &Value| v.as_array().is_some_and(|a| a.iter().any(Value::is_object));
            let width = map
                .iter()
                .filter(|(_, v)| !is_list(v))
                .map(|(k, _)| k.chars().count())
                .max()
                .unwrap_or(0);
            let mut nested = Vec::new();
            for (key, value) in map {
                match value {
                    Value::Array(items) if is_list(value) => {
                        nested.push((key, items));
                    }
                    _ => writeln!(out, "{key:<width$}  {}", cell(value))?,
                }
            }
            for (key, items) in nested {
                writeln!(out, "\n{key} ({}):", items.len())?;
                let cols = table_columns(items, &[]);
                write_table(out, items, &cols)?;
            }
            Ok(())
        }
    }
}

/// The preferred columns that some record has, else the first scalar fields.
fn table_columns(records: &[Value], preferred: &[&str]) -> Vec<String> {
    let present: Vec<String> = preferred
        .iter()
        .filter(|c| records.iter().any(|r| lookup(r, c).is_some()))
        .map(|c| (*c).to_owned())
        .collect();
    if !present.is_empty() {
        return present;
    }
    let mut cols: Vec<String> = Vec::new();
    for r in records {
        for (k, v) in r.as_object().into_iter().flatten() {
            if !v.is_object() && !v.is_array() && !cols.contains(k) {
                cols.push(k.clone());
            }
        }
    }
    cols.truncate(DEFAULT_COLUMNS);
    cols
}

/// `a.b.c` inside a record.
fn lookup<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(record, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

fn write_table(out: &mut impl Write, records: &[Value], cols: &[String]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| lookup(r, c).map(cell).unwrap_or_default())
                .collect()
        })
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|row| row[i].chars().count())
                .chain([c.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    writeln!(out, "{}", line(cols))?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    Ok(())
}

/// A value as a table cell: text as is, nested values as compact JSON, cut to
/// [`MAX_CELL`] characters, on one line.
fn cell(v: &Value) -> String {
    let text = scalar_text(v).replace(['\n', '\r', '\t'], " ");
    if text.chars().count() > MAX_CELL {
        let cut: String = text.chars().take(MAX_CELL - 1).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// Text of a value for CSV and tables: strings unquoted, `null` empty, nested as JSON.
fn scalar_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// CSV with the union of the records' top-level fields as columns, in first-seen order.
fn write_csv(out: &mut impl Write, records: &[Value]) -> io::Result<()> {
    let mut cols: Vec<&str> = Vec::new();
    for r in records {
        for k in r.as_object().into_iter().flatten().map(|(k, _)| k) {
            if !cols.contains(&k.as_str()) {
                cols.push(k);
            }
        }
    }
    let mut w = csv::Writer::from_writer(out);
    let to_io = |e: csv::Error| io::Error::other(e.to_string());
    if cols.is_empty() {
        return w.flush();
    }
    w.write_record(&cols).map_err(to_io)?;
    for r in records {
        let row: Vec<String> = cols
            .iter()
            .map(|c| r.get(*c).map(scalar_text).unwrap_or_default())
            .collect();
        w.write_record(&row).map_err(to_io)?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(format: Format, records: &[Value], cols: &[&str]) -> String {
        let mut buf = Vec::new();
        write_list(&mut buf, format, records, cols).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn every_format_of_a_small_list() {
        let records = [
            json!({"id": 1, "name": "Ann, \"A\"", "billing": {"email": "a@x.io"}, "tags": [1]}),
            json!({"id": 22, "name": null, "extra": true}),
        ];
        insta::assert_snapshot!(render(Format::Table, &records, &["id", "billing.email", "name"]), @r#"
        id  billing.email  name
        1   a@x.io         Ann, "A"
        22
        "#);
        insta::assert_snapshot!(render(Format::Csv, &records, &[]), @r#"
        id,name,billing,tags,extra
        1,"Ann, ""A""","{""email"":""a@x.io""}",[1],
        22,,,,true
        "#);
        insta::assert_snapshot!(render(Format::Jsonl, &records, &[]), @r#"
        {"id":1,"name":"Ann, \"A\"","billing":{"email":"a@x.io"},"tags":[1]}
        {"id":22,"name":null,"extra":true}
        "#);
    }

    #[test]
    fn one_record_as_a_table_shows_its_lists_below() {
        let order = json!({"id": 5, "status": "Shipped", "products": [{"id": 1, "sku": "A"}]});
        let mut buf = Vec::new();
        write_one(&mut buf, Format::Table, &order).unwrap();
        insta::assert_snapshot!(String::from_utf8(buf).unwrap(), @r"
        id      5
        status  Shipped

        products (1):
        id  sku
        1   A
        ");
    }

    #[test]
    fn long_cells_are_cut() {
        let long = "x".repeat(100);
        assert_eq!(cell(&json!(long)).chars().count(), MAX_CELL);
        assert!(cell(&json!("a\nb")).contains("a b"));
    }
}
