//! What the connector-protocol destinations (Singer, Airbyte) share: one JSON message per
//! line on a sink (stdout in production), and records conformed to their declared shape
//! ([`schema::conform`]: V2 dates to ISO 8601, V2 decimal strings to numbers), with one
//! warning per field and run for a value that could not be kept as sent. The two protocols
//! differ only in the envelopes around these records and in how they carry state.

use std::collections::HashSet;
use std::io::Write;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::streams::{Prop, schema};

/// Writes one message as a line (no flush: callers flush after a page, so a page's
/// records and its state reach the reader together).
pub(crate) fn write_line<W: Write>(out: &mut W, msg: &Value) -> Result<()> {
    serde_json::to_writer(&mut *out, msg).map_err(|e| io_err(e.into()))?;
    out.write_all(b"\n").map_err(io_err)
}

pub(crate) fn flush<W: Write>(out: &mut W) -> Result<()> {
    out.flush().map_err(io_err)
}

pub(crate) fn io_err(source: std::io::Error) -> Error {
    Error::Io {
        path: "<stdout>".into(),
        source,
    }
}

/// Conforms records to their declared shape and remembers which fields it already warned
/// about, so a run says it once per field, not once per record.
#[derive(Debug, Default)]
pub(crate) struct RecordConformer {
    warned: HashSet<(&'static str, String)>,
}

impl RecordConformer {
    /// Rewrites `record` to match `shape`; returns the warnings not given before in this
    /// run (each destination says them its own way: stderr, or a protocol LOG message).
    pub(crate) fn conform(
        &mut self,
        table: &'static str,
        shape: &[Prop],
        record: &mut Value,
    ) -> Vec<String> {
        schema::conform(shape, record)
            .into_iter()
            .filter(|bad| self.warned.insert((table, bad.field.clone())))
            .map(|bad| conform_warning(table, &bad))
            .collect()
    }
}

/// The warning for a value [`schema::conform`] could not keep as sent.
pub(crate) fn conform_warning(table: &str, bad: &schema::Unconvertible) -> String {
    match &bad.rounded_to {
        None => format!(
            "{table}.{}: '{}' is not a value of the declared type; sent as null",
            bad.field, bad.value
        ),
        Some(n) => format!(
            "{table}.{}: '{}' has more digits than a JSON number keeps; sent as {n}",
            bad.field, bad.value
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_show_values_as_text_not_debug() {
        let bad = schema::Unconvertible {
            field: "date_shipped".into(),
            value: "someday \"soon\"".into(),
            rounded_to: None,
        };
        assert_eq!(
            conform_warning("orders", &bad),
            "orders.date_shipped: 'someday \"soon\"' is not a value of the declared type; sent as null"
        );
        let rounded = schema::Unconvertible {
            field: "total_inc_tax".into(),
            value: "12345678901234567890.1234".into(),
            rounded_to: Some("12345678901234567000".into()),
        };
        assert_eq!(
            conform_warning("orders", &rounded),
            "orders.total_inc_tax: '12345678901234567890.1234' has more digits than a JSON number keeps; sent as 12345678901234567000"
        );
    }
}
