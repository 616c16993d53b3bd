//! JSON Schema for stream and child-table records (Singer SCHEMA messages, `discover`).
//! Declared fields get their types (always nullable: BigCommerce omits or nulls fields
//! freely); every other field is allowed, so a new API field never breaks a run.

use serde_json::{Map, Value, json};

use super::{ChildTable, StreamDescriptor};

/// The JSON type of a declared field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Integer,
    Number,
    String,
    Boolean,
    /// A date string (ISO 8601 in V3, RFC 2822 in V2: both kept as the API sent them).
    DateTime,
    /// Anything (objects, arrays, or values whose type varies).
    Json,
}

impl FieldType {
    fn schema(self) -> Value {
        match self {
            FieldType::Integer => json!({"type": ["null", "integer"]}),
            FieldType::Number => json!({"type": ["null", "number"]}),
            // V2 money and many ids arrive as strings; numbers are also accepted so a
            // field that BigCommerce sometimes sends as a number does not fail validation.
            FieldType::String => json!({"type": ["null", "string", "number"]}),
            FieldType::Boolean => json!({"type": ["null", "boolean"]}),
            FieldType::DateTime => json!({"type": ["null", "string"]}),
            FieldType::Json => json!({}),
        }
    }
}

fn object_schema(fields: &[(&str, FieldType)], extra: &[(&str, FieldType)]) -> Value {
    let mut props = Map::new();
    for (name, t) in fields.iter().chain(extra) {
        props.insert((*name).to_owned(), t.schema());
    }
    json!({
        "type": ["null", "object"],
        "properties": props,
        "additionalProperties": true,
    })
}

/// Schema of a stream's records.
pub fn stream_schema(s: &StreamDescriptor) -> Value {
    object_schema(s.fields, &[])
}

/// Schema of a child table's records (with its parent key column).
pub fn child_schema(c: &ChildTable) -> Value {
    object_schema(c.fields, &[(c.parent_column, FieldType::Integer)])
}
