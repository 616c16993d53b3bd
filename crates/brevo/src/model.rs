//! The bodies Brevo sends and receives, spelled on the wire as Brevo spells them
//! (docs/brevo-api-notes.md §1–§6): camelCase mostly, snake_case where Brevo uses it
//! (`ext_id`, event fields, order `identifiers`, process details). `None` and empty
//! collections are left out on serialize, and missing fields are tolerated on read.
//!
//! Emails are trimmed and lower-cased before they are sent or compared (Brevo matches
//! emails case-insensitively, docs/brevo-api-notes.md §8.2).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// An email as Brevo stores it: trimmed and lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Parses a Brevo timestamp in any RFC 3339 form (`Z` or an offset, with or without
/// fractions), and, for robustness, a bare `YYYY-MM-DDTHH:MM:SS` read as UTC.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

/// A timestamp as Brevo's filters take it: `YYYY-MM-DDTHH:mm:ss.SSSZ`, UTC.
pub fn format_timestamp(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `GET /account`: the fields bcsync reads, plus the whole document in `raw`. Debug
/// leaves `raw` out: it holds the marketing-automation key (`marketingAutomation.key`).
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct Account {
    pub email: String,
    pub company_name: Option<String>,
    pub raw: Value,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("email", &self.email)
            .field("company_name", &self.company_name)
            .field("raw", &"<omitted: holds the marketing automation key>")
            .finish()
    }
}

/// An attribute category, a path segment of the attribute routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttributeCategory {
    Normal,
    Transactional,
    Category,
    Calculated,
    Global,
}

impl AttributeCategory {
    /// The path segment: `normal`, `transactional`, ...
    pub fn segment(self) -> &'static str {
        match self {
            AttributeCategory::Normal => "normal",
            AttributeCategory::Transactional => "transactional",
            AttributeCategory::Category => "category",
            AttributeCategory::Calculated => "calculated",
            AttributeCategory::Global => "global",
        }
    }

    /// Whether a create call may carry a `type` (normal, category, transactional only).
    pub fn takes_type(self) -> bool {
        matches!(
            self,
            AttributeCategory::Normal
                | AttributeCategory::Category
                | AttributeCategory::Transactional
        )
    }
}

impl fmt::Display for AttributeCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.segment())
    }
}

/// An attribute's value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttributeType {
    Text,
    Date,
    Float,
    Boolean,
    Id,
    Category,
    #[serde(rename = "multiple-choice")]
    MultipleChoice,
    User,
}

impl AttributeType {
    /// The wire name: `text`, `multiple-choice`, ...
    pub fn wire(self) -> &'static str {
        match self {
            AttributeType::Text => "text",
            AttributeType::Date => "date",
            AttributeType::Float => "float",
            AttributeType::Boolean => "boolean",
            AttributeType::Id => "id",
            AttributeType::Category => "category",
            AttributeType::MultipleChoice => "multiple-choice",
            AttributeType::User => "user",
        }
    }

    /// Reads a wire name; unknown names give `None` (Brevo adds types over time).
    pub fn from_wire(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "text" => AttributeType::Text,
            "date" => AttributeType::Date,
            "float" | "number" => AttributeType::Float,
            "boolean" => AttributeType::Boolean,
            "id" => AttributeType::Id,
            "category" => AttributeType::Category,
            "multiple-choice" | "multiple_choice" => AttributeType::MultipleChoice,
            "user" => AttributeType::User,
            _ => return None,
        })
    }
}

fn lenient_attr_type<'de, D: Deserializer<'de>>(d: D) -> Result<Option<AttributeType>, D::Error> {
    Ok(Option::<String>::deserialize(d)?
        .as_deref()
        .and_then(AttributeType::from_wire))
}

/// One contact attribute from `GET /contacts/attributes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub category: String,
    /// `None` for calculated/global attributes and for types this client does not know.
    #[serde(
        rename = "type",
        default,
        deserialize_with = "lenient_attr_type",
        skip_serializing_if = "Option::is_none"
    )]
    pub attr_type: Option<AttributeType>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub enumeration: Vec<EnumOption>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub multi_category_options: Vec<String>,
}

/// One option of a category attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumOption {
    pub value: i64,
    pub label: String,
}

/// The body of an attribute create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewAttribute {
    #[serde(rename = "type")]
    pub attr_type: AttributeType,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enumeration: Vec<EnumOption>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub multi_category_options: Vec<String>,
}

/// A contact folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Folder {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
}

/// A contact list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct List {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub folder_id: i64,
}

/// Who to add to or remove from a list: one kind of identifier per call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Members {
    Emails(Vec<String>),
    Ids(Vec<i64>),
    ExtIds(Vec<String>),
}

impl Members {
    pub fn len(&self) -> usize {
        match self {
            Members::Emails(v) | Members::ExtIds(v) => v.len(),
            Members::Ids(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries as Brevo echoes them back (emails normalised, ids as text).
    pub fn rendered(&self) -> Vec<String> {
        match self {
            Members::Emails(v) => v.iter().map(|e| normalize_email(e)).collect(),
            Members::ExtIds(v) => v.clone(),
            Members::Ids(v) => v.iter().map(ToString::to_string).collect(),
        }
    }

    /// The key of the request body: `emails`, `ids` or `extIds`.
    pub fn wire_key(&self) -> &'static str {
        match self {
            Members::Emails(_) => "emails",
            Members::Ids(_) => "ids",
            Members::ExtIds(_) => "extIds",
        }
    }

    /// The entries as they go on the wire: emails normalised, ids as numbers.
    pub fn wire_values(&self) -> Vec<Value> {
        match self {
            Members::Emails(v) => v
                .iter()
                .map(|e| Value::String(normalize_email(e)))
                .collect(),
            Members::ExtIds(v) => v.iter().map(|x| Value::String(x.clone())).collect(),
            Members::Ids(v) => v.iter().map(|id| Value::from(*id)).collect(),
        }
    }
}

/// What a list add/remove did: the entries Brevo applied and those it did not (already
/// in the list or unknown, for an add), values rendered as strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipChange {
    #[serde(default)]
    pub success: Vec<String>,
    #[serde(default)]
    pub failure: Vec<String>,
}

/// The fields of a contact create/upsert or update. Attribute keys must be upper-case
/// and exist in the account (others are dropped silently by Brevo).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactWrite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(rename = "ext_id", default, skip_serializing_if = "Option::is_none")]
    pub ext_id: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_blacklisted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_blacklisted: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub list_ids: Vec<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unlink_list_ids: Vec<i64>,
}

/// The outcome of an upsert: Brevo returns the id only when it created the contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Upserted {
    Created(i64),
    Updated,
}

/// How to name one contact in a path; always sent with its `identifierType`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContactKey {
    Email(String),
    Id(i64),
    ExtId(String),
}

impl ContactKey {
    /// The identifier as it goes in the path (before URL-encoding); emails normalised.
    pub fn identifier(&self) -> String {
        match self {
            ContactKey::Email(e) => normalize_email(e),
            ContactKey::Id(id) => id.to_string(),
            ContactKey::ExtId(x) => x.clone(),
        }
    }

    /// The `identifierType` query value.
    pub fn identifier_type(&self) -> &'static str {
        match self {
            ContactKey::Email(_) => "email_id",
            ContactKey::Id(_) => "contact_id",
            ContactKey::ExtId(_) => "ext_id",
        }
    }
}

impl fmt::Display for ContactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContactKey::Email(e) => write!(f, "contact {}", normalize_email(e)),
            ContactKey::Id(id) => write!(f, "contact #{id}"),
            ContactKey::ExtId(x) => write!(f, "contact with ext_id {x}"),
        }
    }
}

/// A contact as Brevo returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub email_blacklisted: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub sms_blacklisted: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub list_ids: Vec<i64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub attributes: Map<String, Value>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub created_at: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub modified_at: String,
}

impl Contact {
    /// `modifiedAt` parsed (any RFC 3339 form).
    pub fn modified(&self) -> Option<DateTime<Utc>> {
        parse_timestamp(&self.modified_at)
    }

    /// `createdAt` parsed (any RFC 3339 form).
    pub fn created(&self) -> Option<DateTime<Utc>> {
        parse_timestamp(&self.created_at)
    }
}

/// Which contacts to read with `GET /contacts` (always oldest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactQuery {
    pub modified_since: Option<DateTime<Utc>>,
    pub list_ids: Vec<i64>,
}

/// A bulk import with a `jsonBody` (split under 8 MB per call by the client).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactImport {
    pub rows: Vec<ImportRow>,
    pub list_ids: Vec<i64>,
    pub email_blacklist: bool,
    pub update_existing_contacts: bool,
    pub empty_contacts_attributes: bool,
}

impl Default for ContactImport {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            list_ids: Vec::new(),
            email_blacklist: false,
            // Brevo's own default.
            update_existing_contacts: true,
            empty_contacts_attributes: false,
        }
    }
}

/// One import row: `{email, attributes}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportRow {
    pub email: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
}

/// The state of an asynchronous process (an import).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Process {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    pub status: ProcessStatus,
    #[serde(default)]
    pub info: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A process status; unknown values are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProcessStatus {
    Queued,
    InProcess,
    Processing,
    Completed,
    Failed,
    Cancelled,
    Other(String),
}

impl ProcessStatus {
    pub fn wire(&self) -> &str {
        match self {
            ProcessStatus::Queued => "queued",
            ProcessStatus::InProcess => "in_process",
            ProcessStatus::Processing => "processing",
            ProcessStatus::Completed => "completed",
            ProcessStatus::Failed => "failed",
            ProcessStatus::Cancelled => "cancelled",
            ProcessStatus::Other(s) => s,
        }
    }

    pub fn from_wire(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "queued" => ProcessStatus::Queued,
            "in_process" => ProcessStatus::InProcess,
            "processing" => ProcessStatus::Processing,
            "completed" => ProcessStatus::Completed,
            "failed" => ProcessStatus::Failed,
            "cancelled" | "canceled" => ProcessStatus::Cancelled,
            _ => ProcessStatus::Other(s.to_owned()),
        }
    }

    /// Whether the process will not change any more.
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            ProcessStatus::Completed | ProcessStatus::Failed | ProcessStatus::Cancelled
        )
    }
}

impl fmt::Display for ProcessStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire())
    }
}

impl Serialize for ProcessStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.wire())
    }
}

impl<'de> Deserialize<'de> for ProcessStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ProcessStatus::from_wire(&String::deserialize(d)?))
    }
}

/// A custom event for `POST /events` (snake_case on the wire).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub event_name: String,
    pub identifiers: EventIdentifiers,
    /// ISO 8601 with an offset; Brevo uses the time of receipt when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_date: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub contact_properties: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub event_properties: Map<String, Value>,
}

/// Who an event is about (at least one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventIdentifiers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<i64>,
}

/// An e-commerce category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Category {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_deleted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
}

/// An e-commerce product (a variant is a product with `parent_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub meta_info: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_deleted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<f64>,
}

/// An order for `/orders/status` (timestamps UTC `Z`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: String,
    pub created_at: String,
    pub updated_at: String,
    pub status: String,
    /// The total, shipping and tax included.
    pub amount: f64,
    pub products: Vec<OrderProduct>,
    pub identifiers: OrderIdentifiers,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing: Option<Billing>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coupons: Vec<String>,
}

/// One order line: exactly one of `quantity` and `quantity_float`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderProduct {
    pub product_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<String>,
    pub price: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity_float: Option<f64>,
}

/// Who placed an order (snake_case on the wire; at least one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderIdentifiers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_id: Option<String>,
}

/// An order's billing details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Billing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// The answer to an orders batch: accepted for asynchronous processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchAccepted {
    pub batch_id: i64,
    #[serde(default)]
    pub count: u64,
}

/// The answer to a categories/products batch upsert (summed over chunks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCounts {
    #[serde(rename = "createdCount", default)]
    pub created: u64,
    #[serde(rename = "updatedCount", default)]
    pub updated: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            normalize_email("  Ann.Lee+X@Example.COM "),
            "ann.lee+x@example.com"
        );
        let key = ContactKey::Email(" A@B.c".into());
        assert_eq!(key.identifier(), "a@b.c");
        assert_eq!(key.identifier_type(), "email_id");
        assert_eq!(ContactKey::Id(4).identifier_type(), "contact_id");
        assert_eq!(ContactKey::ExtId("bc:1".into()).identifier_type(), "ext_id");
    }

    #[test]
    fn timestamps_in_any_rfc3339_form() {
        let want = parse_timestamp("2024-01-24T16:39:57Z").unwrap();
        for text in [
            "2024-01-24T16:39:57.000Z",
            "2024-01-24T17:39:57+01:00",
            "2024-01-24T17:39:57.000+01:00",
            "2024-01-24T16:39:57",
            " 2024-01-24T16:39:57z ",
        ] {
            assert_eq!(parse_timestamp(text), Some(want), "{text}");
        }
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(format_timestamp(&want), "2024-01-24T16:39:57.000Z");
    }

    #[test]
    fn contact_reads_the_documented_shape() {
        let c: Contact = serde_json::from_value(json!({
            "id": 42, "email": "a@b.c", "emailBlacklisted": false, "smsBlacklisted": true,
            "createdAt": "2024-01-01T00:00:00.000Z", "modifiedAt": "2024-01-02T00:00:00+02:00",
            "listIds": [1, 2], "attributes": {"FIRSTNAME": "Ann"}, "statistics": {}
        }))
        .unwrap();
        assert_eq!(c.id, 42);
        assert!(c.sms_blacklisted);
        assert_eq!(c.list_ids, [1, 2]);
        assert_eq!(
            c.modified().unwrap().to_rfc3339(),
            "2024-01-01T22:00:00+00:00"
        );
        // Tolerates missing and null fields.
        let c: Contact = serde_json::from_value(json!({"id": 1, "listIds": null})).unwrap();
        assert!(c.list_ids.is_empty());
    }

    #[test]
    fn contact_write_uses_brevo_spelling_and_skips_empties() {
        let w = ContactWrite {
            email: Some("a@b.c".into()),
            ext_id: Some("bc:1".into()),
            list_ids: vec![3],
            ..ContactWrite::default()
        };
        assert_eq!(
            serde_json::to_value(&w).unwrap(),
            json!({"email": "a@b.c", "ext_id": "bc:1", "listIds": [3]})
        );
    }

    #[test]
    fn attributes_tolerate_unknown_types() {
        let a: Vec<Attribute> = serde_json::from_value(json!([
            {"name": "FIRSTNAME", "category": "normal", "type": "text"},
            {"name": "COLORS", "category": "normal", "type": "multiple-choice", "multiCategoryOptions": ["red"]},
            {"name": "SIZE", "category": "category", "type": "text", "enumeration": [{"value": 1, "label": "S"}]},
            {"name": "TOTAL", "category": "calculated", "calculatedValue": "SUM(x)"},
            {"name": "ODD", "category": "normal", "type": "hologram"}
        ]))
        .unwrap();
        assert_eq!(a[1].attr_type, Some(AttributeType::MultipleChoice));
        assert_eq!(a[1].multi_category_options, ["red"]);
        assert_eq!(a[2].enumeration[0].label, "S");
        assert_eq!(a[3].attr_type, None);
        assert_eq!(a[4].attr_type, None);
        let spec = NewAttribute {
            attr_type: AttributeType::MultipleChoice,
            enumeration: vec![],
            multi_category_options: vec!["a".into()],
        };
        assert_eq!(
            serde_json::to_value(&spec).unwrap(),
            json!({"type": "multiple-choice", "multiCategoryOptions": ["a"]})
        );
    }

    #[test]
    fn members_on_the_wire() {
        let m = Members::Emails(vec![" A@x.io".into(), "b@x.io".into()]);
        assert_eq!(m.wire_key(), "emails");
        assert_eq!(m.wire_values(), [json!("a@x.io"), json!("b@x.io")]);
        assert_eq!(m.rendered(), ["a@x.io", "b@x.io"]);
        let ids = Members::Ids(vec![1, 2]);
        assert_eq!(
            (ids.wire_key(), ids.wire_values()),
            ("ids", vec![json!(1), json!(2)])
        );
        assert_eq!(ids.rendered(), ["1", "2"]);
        assert_eq!(Members::ExtIds(vec!["e".into()]).wire_key(), "extIds");
        assert_eq!(Members::ExtIds(vec![]).len(), 0);
    }

    #[test]
    fn orders_and_events_use_the_wire_names() {
        let o = Order {
            id: "7".into(),
            created_at: "2024-01-01T00:00:00Z".into(),
            updated_at: "2024-01-01T00:00:00Z".into(),
            status: "completed".into(),
            amount: 10.5,
            products: vec![OrderProduct {
                product_id: "p1".into(),
                variant_id: Some("v1".into()),
                price: 5.25,
                quantity: Some(2),
                quantity_float: None,
            }],
            identifiers: OrderIdentifiers {
                email_id: Some("a@b.c".into()),
                ext_id: None,
            },
            store_id: None,
            billing: Some(Billing {
                country_code: Some("FR".into()),
                ..Billing::default()
            }),
            coupons: vec![],
        };
        assert_eq!(
            serde_json::to_value(&o).unwrap(),
            json!({"id": "7", "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z",
                   "status": "completed", "amount": 10.5,
                   "products": [{"productId": "p1", "variantId": "v1", "price": 5.25, "quantity": 2}],
                   "identifiers": {"email_id": "a@b.c"}, "billing": {"countryCode": "FR"}})
        );
        let e = Event {
            event_name: "cart_updated".into(),
            identifiers: EventIdentifiers {
                email_id: Some("a@b.c".into()),
                ..EventIdentifiers::default()
            },
            event_date: None,
            contact_properties: Map::new(),
            event_properties: Map::new(),
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"event_name": "cart_updated", "identifiers": {"email_id": "a@b.c"}})
        );
        let c: BatchCounts =
            serde_json::from_value(json!({"createdCount": 2, "updatedCount": 3})).unwrap();
        assert_eq!((c.created, c.updated), (2, 3));
        let b: BatchAccepted = serde_json::from_value(json!({"batchId": 9, "count": 4})).unwrap();
        assert_eq!(b.batch_id, 9);
    }

    #[test]
    fn process_status_keeps_unknown_values() {
        let p: Process = serde_json::from_value(json!({
            "id": 3, "name": "IMPORTUSER", "status": "in_process"
        }))
        .unwrap();
        assert_eq!(p.status, ProcessStatus::InProcess);
        assert!(!p.status.is_finished());
        assert_eq!(
            ProcessStatus::from_wire("paused"),
            ProcessStatus::Other("paused".into())
        );
        assert!(ProcessStatus::Failed.is_finished());
    }

    #[test]
    fn account_debug_hides_the_raw_document() {
        let a = Account {
            email: "me@x.io".into(),
            company_name: None,
            raw: json!({"marketingAutomation": {"key": "ma-secret"}}),
        };
        assert!(!format!("{a:?}").contains("ma-secret"));
    }
}
