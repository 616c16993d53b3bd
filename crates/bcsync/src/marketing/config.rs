//! `[brevo]` in `bcsync.toml`: where Brevo is, which BigCommerce customer fields become
//! which contact attributes, the lists, consent and delete behaviour. Parsed from the raw
//! TOML value so that every mistake is reported as the key that holds it and the form it
//! must have. The API key never needs the command line: `BREVO_API_KEY`, else `api_key`.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;

use crate::error::{Error, Result};

pub const ENV_API_KEY: &str = "BREVO_API_KEY";
pub const ENV_BASE_URL: &str = "BREVO_BASE_URL";

/// The attribute type a mapped value is checked and formatted against, when the attribute
/// does not exist yet and bcsync creates it (docs/brevo-api-notes.md §2.1). An existing
/// attribute's own type always wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    Text,
    Date,
    Float,
    Boolean,
}

impl ValueType {
    pub fn as_brevo(self) -> brevo::AttributeType {
        match self {
            ValueType::Text => brevo::AttributeType::Text,
            ValueType::Date => brevo::AttributeType::Date,
            ValueType::Float => brevo::AttributeType::Float,
            ValueType::Boolean => brevo::AttributeType::Boolean,
        }
    }
}

/// One mapped field: a path into the BigCommerce customer record as the API sends it
/// (`first_name`, `addresses[0].city`) or a computed metric, and the attribute it fills.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMapping {
    pub source: Source,
    /// The Brevo attribute name, upper-case (Brevo drops lower-case keys).
    pub attribute: String,
    /// The type bcsync creates the attribute with when it is missing.
    pub value_type: ValueType,
}

/// Where a mapped value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A path into the customer record: keys and `[index]` steps.
    Path(Vec<PathStep>),
    /// Computed from the orders bcsync holds for the contact.
    Metric(Metric),
    /// Whether the customer subscribed to the store's newsletter (the consent bcsync
    /// reads), as a boolean.
    NewsletterSubscriber,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PathStep {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    OrdersCount,
    TotalSpent,
    LastOrderDate,
}

/// What happens to the contact of a customer deleted from the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeleteBehaviour {
    /// Removed from bcsync's lists and marked with the deleted attribute; kept in Brevo.
    Soft,
    /// The contact is deleted from Brevo.
    Hard,
}

/// A list named in the config: an existing list's id, or a name bcsync finds or creates in
/// its folder.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ListRef {
    Id(i64),
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListsSection {
    /// Every customer with marketing consent or not (blocklisted ones stay members; Brevo
    /// does not mail them).
    #[serde(default = "default_all_list")]
    pub all_customers: Option<ListRef>,
    /// Customers with at least one counted order.
    #[serde(default = "default_buyers_list")]
    pub buyers: Option<ListRef>,
    /// Per storefront: channel id to list.
    #[serde(default)]
    pub channels: BTreeMap<String, ListRef>,
    /// Contacts with an abandoned cart (`bcsync listen` keeps it; see
    /// [`AbandonedCart`] for when a cart counts as abandoned).
    #[serde(default)]
    pub abandoned_cart: Option<ListRef>,
}

fn default_all_list() -> Option<ListRef> {
    Some(ListRef::Name("BigCommerce customers".into()))
}
fn default_buyers_list() -> Option<ListRef> {
    Some(ListRef::Name("BigCommerce buyers".into()))
}

impl Default for ListsSection {
    fn default() -> Self {
        Self {
            all_customers: default_all_list(),
            buyers: default_buyers_list(),
            channels: BTreeMap::new(),
            abandoned_cart: None,
        }
    }
}

/// `[brevo.events]`: the names of the events `bcsync listen` sends to Brevo's Events API
/// (docs/brevo-api-notes.md §4.4: abandoned-cart flows key on `cart_updated`). Cart events
/// are on by default; order events only when named.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventNames {
    #[serde(default = "default_cart_updated")]
    pub cart_updated: String,
    #[serde(default = "default_cart_deleted")]
    pub cart_deleted: String,
    /// An order placed after the first sync (off unless named).
    #[serde(default)]
    pub order_placed: Option<String>,
    /// An order's status changed after the first sync (off unless named).
    #[serde(default)]
    pub order_status_changed: Option<String>,
}

fn default_cart_updated() -> String {
    "cart_updated".into()
}
fn default_cart_deleted() -> String {
    "cart_deleted".into()
}

impl Default for EventNames {
    fn default() -> Self {
        Self {
            cart_updated: default_cart_updated(),
            cart_deleted: default_cart_deleted(),
            order_placed: None,
            order_status_changed: None,
        }
    }
}

/// `[brevo.abandoned_cart]`: when a cart puts its contact on the abandoned-cart list.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbandonedCart {
    /// The cart's amount (`cart_amount`) must be at least this.
    #[serde(default)]
    pub min_value: f64,
    /// The cart must hold at least this many items (quantities summed).
    #[serde(default = "default_min_items")]
    pub min_items: u32,
    /// Minutes without a change to the cart before it counts as abandoned (decimals
    /// allowed; 0: at once).
    #[serde(default = "default_inactive_minutes")]
    pub inactive_minutes: f64,
    /// A contact added to the list is not added again within this many hours.
    #[serde(default = "default_debounce_hours")]
    pub debounce_hours: f64,
}

fn default_min_items() -> u32 {
    1
}
fn default_inactive_minutes() -> f64 {
    60.0
}
fn default_debounce_hours() -> f64 {
    24.0
}

impl Default for AbandonedCart {
    fn default() -> Self {
        Self {
            min_value: 0.0,
            min_items: default_min_items(),
            inactive_minutes: default_inactive_minutes(),
            debounce_hours: default_debounce_hours(),
        }
    }
}

impl AbandonedCart {
    pub fn inactive(&self) -> chrono::Duration {
        chrono::Duration::milliseconds((self.inactive_minutes * 60_000.0) as i64)
    }

    pub fn debounce(&self) -> chrono::Duration {
        chrono::Duration::milliseconds((self.debounce_hours * 3_600_000.0) as i64)
    }
}

/// The raw `[brevo]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    api_key: Option<SecretString>,
    base_url: Option<String>,
    #[serde(default = "default_folder")]
    folder: String,
    #[serde(default = "default_delete")]
    delete: DeleteBehaviour,
    #[serde(default = "default_deleted_attribute")]
    deleted_attribute: String,
    /// First wait before an import's result is read, in milliseconds (the process route
    /// sits in Brevo's small hourly bucket, so it is polled slowly).
    import_poll_ms: Option<u64>,
    /// Sync products and categories to Brevo's e-commerce catalog.
    #[serde(default = "yes")]
    products: bool,
    /// Sync orders to Brevo's e-commerce orders.
    #[serde(default = "yes")]
    orders: bool,
    #[serde(default)]
    lists: ListsSection,
    #[serde(default)]
    events: EventNames,
    abandoned_cart: Option<AbandonedCart>,
    /// How often `bcsync listen` forwards to Brevo when no change wakes it (abandonment
    /// is time passing), in seconds.
    forward_interval_seconds: Option<f64>,
    /// BigCommerce field (path) = Brevo attribute name, or `true` for the upper-cased
    /// field name, or `{ attribute = "X", type = "date" }`.
    contacts: Option<toml::Table>,
}

fn yes() -> bool {
    true
}
fn default_folder() -> String {
    "bcsync".into()
}
fn default_delete() -> DeleteBehaviour {
    DeleteBehaviour::Soft
}
fn default_deleted_attribute() -> String {
    "BC_DELETED".into()
}

/// `[brevo]`, checked.
#[derive(Debug, Clone)]
pub struct BrevoConfig {
    pub api_key: SecretString,
    pub base_url: Option<String>,
    pub folder: String,
    pub delete: DeleteBehaviour,
    pub deleted_attribute: String,
    pub import_poll: Option<std::time::Duration>,
    pub products: bool,
    pub orders: bool,
    pub lists: ListsSection,
    pub fields: Vec<FieldMapping>,
    pub events: EventNames,
    pub abandoned_cart: AbandonedCart,
    /// The forwarder's timer in `bcsync listen`.
    pub forward_interval: std::time::Duration,
}

/// The forwarder's timer when `forward_interval_seconds` is not given.
pub const DEFAULT_FORWARD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// The mapping used when `[brevo.contacts]` is absent: Brevo's default name attributes,
/// the phone, and the three metrics.
const DEFAULT_MAPPING: &[(&str, &str)] = &[
    ("first_name", "FIRSTNAME"),
    ("last_name", "LASTNAME"),
    ("phone", "SMS"),
    ("orders_count", "ORDERS_COUNT"),
    ("total_spent", "TOTAL_SPENT"),
    ("last_order_date", "LAST_ORDER_DATE"),
];

fn bad(key: &str, detail: impl std::fmt::Display) -> Error {
    Error::Config(format!("[brevo] {key}: {detail}"))
}

/// Whether an API key is at hand for `[brevo]` (`BREVO_API_KEY`, else `api_key`): without
/// one, `bcsync listen` runs without forwarding to Brevo rather than failing.
pub fn has_api_key(value: Option<&toml::Value>) -> bool {
    std::env::var(ENV_API_KEY).is_ok_and(|k| !k.trim().is_empty())
        || value
            .and_then(|v| v.get("api_key"))
            .and_then(toml::Value::as_str)
            .is_some_and(|k| !k.trim().is_empty())
}

/// Reads `[brevo]` (absent: an error naming what to add) with the API key from the
/// environment first.
pub fn parse(value: Option<&toml::Value>) -> Result<BrevoConfig> {
    let Some(value) = value else {
        return Err(Error::Config(
            "no [brevo] section in bcsync.toml: add one (at least `[brevo]` and the API key \
             in BREVO_API_KEY); see the README's Brevo section"
                .into(),
        ));
    };
    let raw: RawSection = value.clone().try_into().map_err(|e: toml::de::Error| {
        bad("section", crate::error::plain_serde_message(e.message()))
    })?;
    let api_key = std::env::var(ENV_API_KEY)
        .ok()
        .filter(|k| !k.trim().is_empty())
        .map(SecretString::from)
        .or(raw.api_key)
        .ok_or_else(|| {
            Error::Config(format!(
                "no Brevo API key: set {ENV_API_KEY} (or api_key in [brevo]) to a v3 API key \
                 from Brevo's SMTP & API settings"
            ))
        })?;
    let base_url = std::env::var(ENV_BASE_URL)
        .ok()
        .filter(|u| !u.trim().is_empty())
        .or(raw.base_url);
    check_attribute_name("deleted_attribute", &raw.deleted_attribute)?;
    for channel in raw.lists.channels.keys() {
        if channel.parse::<i64>().is_err() {
            return Err(bad(
                &format!("lists.channels.{channel}"),
                "keys are channel ids (numbers), e.g. `1 = 12`",
            ));
        }
    }
    check_events(&raw.events)?;
    if raw.abandoned_cart.is_some() && raw.lists.abandoned_cart.is_none() {
        return Err(bad(
            "abandoned_cart",
            "the conditions need a list to fill: add `abandoned_cart = \"Abandoned carts\"` \
             (a name or a list id) under [brevo.lists]",
        ));
    }
    let abandoned_cart = raw.abandoned_cart.unwrap_or_default();
    check_abandoned(&abandoned_cart)?;
    let forward_interval = match raw.forward_interval_seconds {
        None => DEFAULT_FORWARD_INTERVAL,
        Some(s) if s.is_finite() && (0.05..=86_400.0).contains(&s) => {
            std::time::Duration::from_secs_f64(s)
        }
        Some(s) => {
            return Err(bad(
                "forward_interval_seconds",
                format!("{s} is out of range: give a number of seconds from 0.05 to 86400"),
            ));
        }
    };
    let fields = match &raw.contacts {
        Some(table) => parse_fields(table)?,
        None => DEFAULT_MAPPING
            .iter()
            .map(|(field, attr)| {
                let source = parse_source(field).map_err(Error::Internal)?;
                Ok(FieldMapping {
                    value_type: inferred_type(&source),
                    source,
                    attribute: (*attr).to_owned(),
                })
            })
            .collect::<Result<_>>()?,
    };
    Ok(BrevoConfig {
        api_key,
        base_url,
        folder: raw.folder,
        delete: raw.delete,
        deleted_attribute: raw.deleted_attribute,
        import_poll: raw.import_poll_ms.map(std::time::Duration::from_millis),
        products: raw.products,
        orders: raw.orders,
        lists: raw.lists,
        fields,
        events: raw.events,
        abandoned_cart,
        forward_interval,
    })
}

/// Brevo's event names: 1 to 255 letters, digits, `_` or `-` (docs/brevo-api-notes.md §4.1).
fn check_events(events: &EventNames) -> Result<()> {
    let names = [
        ("cart_updated", Some(&events.cart_updated)),
        ("cart_deleted", Some(&events.cart_deleted)),
        ("order_placed", events.order_placed.as_ref()),
        ("order_status_changed", events.order_status_changed.as_ref()),
    ];
    for (key, name) in names {
        let Some(name) = name else { continue };
        let valid = !name.is_empty()
            && name.chars().count() <= 255
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(bad(
                &format!("events.{key}"),
                format!("`{name}` is not a Brevo event name: use 1 to 255 letters, digits, _ or -"),
            ));
        }
    }
    Ok(())
}

fn check_abandoned(a: &AbandonedCart) -> Result<()> {
    for (key, value) in [
        ("min_value", a.min_value),
        ("inactive_minutes", a.inactive_minutes),
        ("debounce_hours", a.debounce_hours),
    ] {
        if !value.is_finite() || value < 0.0 {
            return Err(bad(
                &format!("abandoned_cart.{key}"),
                format!("{value} is not usable: give a number of 0 or more"),
            ));
        }
    }
    Ok(())
}

fn check_attribute_name(key: &str, name: &str) -> Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(bad(
            key,
            format!(
                "`{name}` is not a usable Brevo attribute name: Brevo only keeps upper-case \
                 names (A-Z, 0-9, _) and silently drops others; write it upper-case"
            ),
        ));
    }
    Ok(())
}

fn parse_fields(table: &toml::Table) -> Result<Vec<FieldMapping>> {
    let mut out: Vec<FieldMapping> = Vec::new();
    for (field, target) in table {
        let key = format!("contacts.\"{field}\"");
        if field == "email" {
            // The email is the contact's identity, always sent; naming it is allowed.
            continue;
        }
        let source = parse_source(field).map_err(|e| bad(&key, e))?;
        let (attribute, value_type) = match target {
            toml::Value::String(s) => (s.clone(), None),
            toml::Value::Boolean(true) => (default_attribute(field), None),
            toml::Value::Table(t) => {
                let attribute = match t.get("attribute") {
                    Some(toml::Value::String(s)) => s.clone(),
                    None => default_attribute(field),
                    Some(_) => return Err(bad(&key, "`attribute` must be a string")),
                };
                let value_type = match t.get("type") {
                    Some(v) => Some(v.clone().try_into::<ValueType>().map_err(|_| {
                        bad(&key, "`type` must be one of text, date, float, boolean")
                    })?),
                    None => None,
                };
                if let Some(other) = t.keys().find(|k| *k != "attribute" && *k != "type") {
                    return Err(bad(
                        &key,
                        format!("unknown key `{other}` (use attribute, type)"),
                    ));
                }
                (attribute, value_type)
            }
            _ => {
                return Err(bad(
                    &key,
                    "must be an attribute name (\"FIRSTNAME\"), true, or { attribute = \"X\", type = \"date\" }",
                ));
            }
        };
        check_attribute_name(&key, &attribute)?;
        if let Some(dup) = out.iter().find(|m| m.attribute == attribute) {
            return Err(bad(
                &key,
                format!(
                    "attribute {attribute} is already filled by another field ({:?}); map each attribute once",
                    dup.source
                ),
            ));
        }
        out.push(FieldMapping {
            value_type: value_type.unwrap_or_else(|| inferred_type(&source)),
            source,
            attribute,
        });
    }
    Ok(out)
}

fn default_attribute(field: &str) -> String {
    field
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_matches('_')
        .to_owned()
}

/// Parses `addresses[0].city`, or a metric name.
pub fn parse_source(field: &str) -> std::result::Result<Source, String> {
    match field {
        "orders_count" => return Ok(Source::Metric(Metric::OrdersCount)),
        "total_spent" => return Ok(Source::Metric(Metric::TotalSpent)),
        "last_order_date" => return Ok(Source::Metric(Metric::LastOrderDate)),
        "newsletter_subscriber" => return Ok(Source::NewsletterSubscriber),
        _ => {}
    }
    let mut steps = Vec::new();
    for part in field.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`{field}` is not a customer field path: write names joined by dots with [N] \
                 for list items, e.g. addresses[0].city"
            ));
        }
        steps.push(PathStep::Key(name.to_owned()));
        while let Some(stripped) = rest.strip_prefix('[') {
            let end = stripped
                .find(']')
                .ok_or_else(|| format!("`{field}`: a `[` is not closed"))?;
            let index = stripped[..end]
                .parse::<usize>()
                .map_err(|_| format!("`{field}`: list indexes are numbers, e.g. [0]"))?;
            steps.push(PathStep::Index(index));
            rest = &stripped[end + 1..];
        }
        if !rest.is_empty() {
            return Err(format!("`{field}`: unexpected `{rest}` after an index"));
        }
    }
    Ok(Source::Path(steps))
}

/// The type a field's values have in the BigCommerce customer record.
fn inferred_type(source: &Source) -> ValueType {
    match source {
        Source::Metric(Metric::OrdersCount | Metric::TotalSpent) => ValueType::Float,
        Source::Metric(Metric::LastOrderDate) => ValueType::Date,
        Source::NewsletterSubscriber => ValueType::Boolean,
        Source::Path(steps) => match steps.last() {
            Some(PathStep::Key(k)) => match k.as_str() {
                "date_created" | "date_modified" => ValueType::Date,
                "customer_group_id" | "id" | "origin_channel_id" | "address_count"
                | "attribute_count" | "amount" => ValueType::Float,
                "accepts_product_review_abandoned_cart_emails" | "tax_exempt" => ValueType::Boolean,
                _ => ValueType::Text,
            },
            _ => ValueType::Text,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Result<BrevoConfig> {
        let doc: toml::Table = toml::from_str(text).unwrap();
        parse(doc.get("brevo"))
    }

    #[test]
    fn mapping_is_written_the_way_users_think() {
        let c = cfg(r#"
[brevo]
api_key = "k"
[brevo.contacts]
email = true
first_name = "FIRSTNAME"
phone = "SMS"
"addresses[0].city" = "CITY"
customer_group_id = true
date_created = "SIGNUP_DATE"
total_spent = { attribute = "LTV", type = "float" }
"#)
        .unwrap();
        let by_attr: BTreeMap<_, _> = c.fields.iter().map(|f| (f.attribute.as_str(), f)).collect();
        assert_eq!(
            by_attr["CITY"].source,
            Source::Path(vec![
                PathStep::Key("addresses".into()),
                PathStep::Index(0),
                PathStep::Key("city".into())
            ])
        );
        assert_eq!(by_attr["CUSTOMER_GROUP_ID"].value_type, ValueType::Float);
        assert_eq!(by_attr["SIGNUP_DATE"].value_type, ValueType::Date);
        assert_eq!(by_attr["LTV"].source, Source::Metric(Metric::TotalSpent));
        assert_eq!(c.fields.len(), 6, "email is the identity, not an attribute");
        assert_eq!(c.delete, DeleteBehaviour::Soft);
    }

    #[test]
    fn mistakes_name_the_key_and_the_fix() {
        let e = cfg("[brevo]\napi_key = \"k\"\n[brevo.contacts]\nfirst_name = \"firstname\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("contacts.\"first_name\"") && e.contains("upper-case"),
            "{e}"
        );
        let e =
            cfg("[brevo]\napi_key = \"k\"\n[brevo.contacts]\n\"addresses[x].city\" = \"CITY\"\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains("indexes are numbers"), "{e}");
        let e = cfg(
            "[brevo]\napi_key = \"k\"\n[brevo.contacts]\nfirst_name = \"A\"\nlast_name = \"A\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("map each attribute once"), "{e}");
        let e = cfg("[brevo]\napi_key = \"k\"\n[brevo.lists.channels]\nweb = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("channel ids"), "{e}");
    }

    #[test]
    fn realtime_keys_have_defaults_and_read_as_written() {
        let c = cfg("[brevo]\napi_key = \"k\"\n").unwrap();
        assert_eq!(c.events, EventNames::default());
        assert_eq!(c.events.cart_updated, "cart_updated");
        assert_eq!(
            c.events.order_placed, None,
            "order events are off by default"
        );
        assert_eq!(c.lists.abandoned_cart, None);
        assert_eq!(c.forward_interval, DEFAULT_FORWARD_INTERVAL);
        let c = cfg(r#"
[brevo]
api_key = "k"
forward_interval_seconds = 0.5
[brevo.lists]
abandoned_cart = "Abandoned carts"
[brevo.events]
cart_updated = "cart-changed"
order_placed = "order_placed"
[brevo.abandoned_cart]
min_value = 50
min_items = 2
inactive_minutes = 0.25
debounce_hours = 12
"#)
        .unwrap();
        assert_eq!(
            c.lists.abandoned_cart,
            Some(ListRef::Name("Abandoned carts".into()))
        );
        assert_eq!(c.events.cart_updated, "cart-changed");
        assert_eq!(c.events.cart_deleted, "cart_deleted");
        assert_eq!(c.events.order_placed.as_deref(), Some("order_placed"));
        assert_eq!(c.events.order_status_changed, None);
        assert_eq!(c.abandoned_cart.min_value, 50.0);
        assert_eq!(c.abandoned_cart.min_items, 2);
        assert_eq!(c.abandoned_cart.inactive(), chrono::Duration::seconds(15));
        assert_eq!(c.abandoned_cart.debounce(), chrono::Duration::hours(12));
        assert_eq!(c.forward_interval, std::time::Duration::from_millis(500));
        let c = cfg("[brevo]\napi_key = \"k\"\n[brevo.lists]\nabandoned_cart = 42\n").unwrap();
        assert_eq!(c.lists.abandoned_cart, Some(ListRef::Id(42)));
        assert_eq!(c.abandoned_cart, AbandonedCart::default());
    }

    #[test]
    fn realtime_mistakes_name_the_key_and_the_fix() {
        let e = cfg("[brevo]\napi_key = \"k\"\n[brevo.abandoned_cart]\nmin_value = 10\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("abandoned_cart") && e.contains("[brevo.lists]"),
            "{e}"
        );
        let e = cfg("[brevo]\napi_key = \"k\"\n[brevo.events]\ncart_updated = \"cart updated\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("events.cart_updated") && e.contains("letters"),
            "{e}"
        );
        let e = cfg("[brevo]\napi_key = \"k\"\n[brevo.events]\norder_shipped = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("order_shipped"), "{e}");
        let e = cfg(
            "[brevo]\napi_key = \"k\"\n[brevo.lists]\nabandoned_cart = \"A\"\n[brevo.abandoned_cart]\ninactive_minutes = -1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("abandoned_cart.inactive_minutes"), "{e}");
        let e = cfg("[brevo]\napi_key = \"k\"\nforward_interval_seconds = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("forward_interval_seconds"), "{e}");
    }
}
