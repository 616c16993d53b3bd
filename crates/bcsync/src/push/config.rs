//! Sync definitions: `[[sync]]` tables in `bcsync.toml`, or one TOML file per sync (the
//! same keys at the top level). Example:
//!
//! ```toml
//! [[sync]]
//! name = "crm_customers"
//! object = "customers"          # customers | products | orders
//! mode = "upsert"               # insert | update | upsert | mirror
//! match_key = "email"           # customers: id|email; products: id|sku;
//!                               # orders: id|external_order_id
//! source = { type = "csv", path = "customers.csv" }
//! skip_nulls = true
//! on_delete = "nothing"         # nothing | clear | delete (mirror defaults to delete)
//! max_delete_percent = 20
//! max_rejected = 0
//! [sync.mapping]                # source column = BigCommerce field
//! mail = "email"
//! given = "first_name"
//! city = "addresses.0.city"
//! ```

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, plain_serde_message};
use crate::sources::SourceSpec;

/// Which BigCommerce object a sync writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Object {
    Customers,
    Products,
    Orders,
}

/// The word the TOML uses (`customers`), for messages and summaries.
impl std::fmt::Display for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Object::Customers => "customers",
            Object::Products => "products",
            Object::Orders => "orders",
        })
    }
}

/// How source rows relate to the store's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Create rows that do not exist; never touch existing records.
    Insert,
    /// Change existing records; rows without a match are rejected.
    Update,
    /// Update matches, create the rest.
    Upsert,
    /// Upsert, and apply `on_delete` (default `delete`) to records that left the source.
    Mirror,
}

/// The word the TOML uses (`upsert`), for messages and summaries.
impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Insert => "insert",
            Mode::Update => "update",
            Mode::Upsert => "upsert",
            Mode::Mirror => "mirror",
        })
    }
}

/// What happens to a tracked record whose row left the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDelete {
    Nothing,
    /// Unset the mapped fields (required and key fields excepted).
    Clear,
    /// Delete the record (V2 orders are archived, docs/api-notes.md §6.1).
    Delete,
}

/// One sync, as written in TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncDef {
    pub name: String,
    pub object: Object,
    pub mode: Mode,
    pub match_key: String,
    pub source: SourceSpec,
    /// Source column → BigCommerce field.
    pub mapping: toml::Table,
    #[serde(default = "yes")]
    pub skip_nulls: bool,
    pub on_delete: Option<OnDelete>,
    #[serde(default = "default_max_delete_percent")]
    pub max_delete_percent: f64,
    /// Rejected rows tolerated before `bcsync push` exits non-zero.
    #[serde(default)]
    pub max_rejected: u64,
    /// Chunks sent at once. Default: the client's in-flight limit, the requests the
    /// store's quota needs on the wire at the latency seen (8 to 32), so the pacer alone
    /// decides how fast they go; per-endpoint caps still apply (3 concurrent
    /// `PUT /v3/customers`, docs/api-notes.md §0.7).
    pub concurrency: Option<usize>,
}

fn yes() -> bool {
    true
}

fn default_max_delete_percent() -> f64 {
    20.0
}

/// A checked mapping entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMap {
    pub column: String,
    /// Dotted BigCommerce path: `email`, `addresses.0.city`, `billing_address.zip`.
    pub field: String,
}

impl SyncDef {
    /// The delete behaviour in effect.
    pub fn on_delete(&self) -> OnDelete {
        self.on_delete.unwrap_or(if self.mode == Mode::Mirror {
            OnDelete::Delete
        } else {
            OnDelete::Nothing
        })
    }

    /// The mapping as a list, checked.
    pub fn fields(&self) -> Result<Vec<FieldMap>> {
        let mut out = Vec::new();
        for (column, field) in &self.mapping {
            let field = field.as_str().ok_or_else(|| {
                Error::Config(format!("sync {:?}: mapping for column {column:?} must be a BigCommerce field name string", self.name))
            })?;
            out.push(FieldMap {
                column: column.clone(),
                field: field.to_owned(),
            });
        }
        Ok(out)
    }

    /// Checks the definition as a whole, so mistakes surface before any row is read.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Config(format!("sync {:?}: {msg}", self.name)));
        if self.name.trim().is_empty() {
            return bad("name must not be empty".into());
        }
        let keys: &[&str] = match self.object {
            Object::Customers => &["id", "email"],
            Object::Products => &["id", "sku"],
            // `id` is the BigCommerce order id; `external_order_id` the source's own
            // reference (any text), written on create and filterable (`external_id` is
            // read-only).
            Object::Orders => &["id", "external_order_id"],
        };
        if !keys.contains(&self.match_key.as_str()) {
            return bad(format!(
                "match_key \"{}\" is not allowed for {}; use one of: {}",
                self.match_key,
                self.object,
                keys.join(", ")
            ));
        }
        let fields = self.fields()?;
        let mut seen = BTreeSet::new();
        for f in &fields {
            if !seen.insert(f.field.clone()) {
                return bad(format!("field {:?} is mapped twice", f.field));
            }
            if let Some(name) = f.field.strip_prefix("attributes.") {
                if self.object != Object::Customers || name.is_empty() {
                    return bad(format!(
                        "field {:?}: `attributes.<name>` (customer attribute values) is for customers only",
                        f.field
                    ));
                }
                continue;
            }
            if let Some(name) = f.field.strip_prefix("custom_fields.") {
                if self.object != Object::Products || name.is_empty() {
                    return bad(format!(
                        "field {:?}: `custom_fields.<name>` is for products only",
                        f.field
                    ));
                }
                continue;
            }
            if f.field.split('.').any(str::is_empty) {
                return bad(format!("field {:?} is not a valid dotted path", f.field));
            }
            if self.object == Object::Orders && f.field == "external_id" {
                return bad(
                    "field \"external_id\" of an order is read-only; map your order reference to \"external_order_id\" instead".into(),
                );
            }
            self.check_target(f)?;
        }
        if !fields.iter().any(|f| f.field == self.match_key) {
            return bad(format!(
                "no column is mapped to the match key {:?}",
                self.match_key
            ));
        }
        if !(0.0..=100.0).contains(&self.max_delete_percent) {
            return bad("max_delete_percent must be between 0 and 100".into());
        }
        Ok(())
    }
}

impl SyncDef {
    /// Checks that a mapping entry names a field the object accepts and this sync may
    /// write (see [`super::fields`]).
    fn check_target(&self, f: &FieldMap) -> Result<()> {
        super::fields::check_target(self.object, self.mode, &f.field)
            .map(|_| ())
            .map_err(|why| {
                Error::Config(format!(
                    "sync {:?}: mapping {} = {:?}: {why}",
                    self.name, f.column, f.field
                ))
            })
    }
}

/// `[[sync]]` tables of a file (bcsync.toml or a file of its own).
#[derive(Debug, Deserialize)]
struct SyncFile {
    #[serde(default)]
    sync: Vec<toml::Value>,
}

/// Reads syncs from TOML text: a `[[sync]]` list, or one sync at the top level. Source
/// paths are resolved against `base`.
pub fn parse_syncs(text: &str, origin: &Path, base: &Path) -> Result<Vec<SyncDef>> {
    let value: toml::Table = toml::from_str(text).map_err(|e| Error::ConfigFile {
        path: origin.display().to_string(),
        detail: format!("is not valid TOML: {}", plain_serde_message(&e.to_string())),
    })?;
    let raw: Vec<toml::Value> = if value.contains_key("sync") {
        let file: SyncFile =
            toml::Value::Table(value)
                .try_into()
                .map_err(|e| Error::ConfigFile {
                    path: origin.display().to_string(),
                    detail: format!(
                        "has a [[sync]] list bcsync cannot read: {}",
                        plain_serde_message(&e.to_string())
                    ),
                })?;
        file.sync
    } else if value.contains_key("object") {
        vec![toml::Value::Table(value)]
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    for v in raw {
        let mut def: SyncDef = v.try_into().map_err(|e| Error::ConfigFile {
            path: origin.display().to_string(),
            detail: format!(
                "has a sync definition that is not valid: {}",
                plain_serde_message(&e.to_string())
            ),
        })?;
        def.source.rebase(base);
        def.validate()?;
        out.push(def);
    }
    Ok(out)
}

/// Loads syncs from a file, or from every `*.toml` file of a directory.
pub fn load_syncs(path: &Path) -> Result<Vec<SyncDef>> {
    let mut files = Vec::new();
    if path.is_dir() {
        let rd = std::fs::read_dir(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        for entry in rd {
            let p = entry
                .map_err(|source| Error::Io {
                    path: path.to_owned(),
                    source,
                })?
                .path();
            if p.extension().is_some_and(|e| e == "toml") {
                files.push(p);
            }
        }
        files.sort();
    } else {
        files.push(path.to_owned());
    }
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|source| Error::Io {
            path: f.clone(),
            source,
        })?;
        let base = f.parent().map(Path::to_owned).unwrap_or_default();
        out.extend(parse_syncs(&text, &f, &base)?);
    }
    let mut names = BTreeSet::new();
    for s in &out {
        if !names.insert(s.name.clone()) {
            return Err(Error::DuplicateSyncName(s.name.clone()));
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_sync_tables_and_single_files() {
        let text = r#"
store_hash = "x"
[[sync]]
name = "c"
object = "customers"
mode = "mirror"
match_key = "email"
source = { type = "csv", path = "c.csv" }
[sync.mapping]
mail = "email"
given = "first_name"
family = "last_name"
city = "addresses.0.city"
"#;
        let syncs = parse_syncs(text, Path::new("bcsync.toml"), Path::new("/data")).unwrap();
        assert_eq!(syncs.len(), 1);
        assert_eq!(syncs[0].on_delete(), OnDelete::Delete);
        assert_eq!(syncs[0].max_delete_percent, 20.0);
        assert!(syncs[0].fields().unwrap().contains(&FieldMap {
            column: "mail".into(),
            field: "email".into()
        }));
        assert_eq!(
            syncs[0].source,
            SourceSpec::Csv {
                path: "/data/c.csv".into(),
                delimiter: ','
            }
        );

        let single = "name = \"p\"\nobject = \"products\"\nmode = \"upsert\"\nmatch_key = \"email\"\nsource = { type = \"csv\", path = \"p.csv\" }\n[mapping]\nsku = \"email\"\n";
        let err = parse_syncs(single, Path::new("p.toml"), Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("match_key \"email\" is not allowed for products; use one of: id, sku"),
            "{err}"
        );
    }
}
