//! Customers to contacts, decided without the network: one contact per e-mail address
//! (the same address on two storefronts is one person to Brevo, docs/brevo-api-notes.md
//! §8.2), its attributes made to fit their types, its lists, and its marketing consent.
//! Values that cannot fit are reported with the customer and the field and left out of
//! the write, so Brevo never receives a value it would silently drop.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::config::{BrevoConfig, Metric, PathStep, Source};
use super::values::{Slot, fit};

/// A customer as the extraction holds it.
#[derive(Debug, Clone)]
pub struct CustomerRow {
    pub raw: Value,
    pub deleted: bool,
}

/// One order's part in the contact metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFacts {
    pub customer_id: i64,
    pub email: Option<String>,
    pub status_id: i64,
    pub total_inc_tax: f64,
    pub refunded: f64,
    pub date_created: Option<DateTime<Utc>>,
}

/// Orders that count as purchases: every status except Incomplete (0, a checkout never
/// finished), Cancelled (5) and Declined (6). Refunds are subtracted from the total spent.
pub fn counts_as_purchase(status_id: i64) -> bool {
    !matches!(status_id, 0 | 5 | 6)
}

/// What Brevo should hold for one contact.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredContact {
    /// Trimmed and lower-cased: the contact's identity.
    pub email: String,
    pub attributes: BTreeMap<String, Value>,
    /// Lists bcsync manages that the contact belongs to.
    pub lists: BTreeSet<i64>,
    /// No email-marketing consent in the store: Brevo must not mail this contact.
    pub blacklisted: bool,
    /// The customers behind the contact (usually one).
    pub customer_ids: Vec<i64>,
}

/// A value refused before sending.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub key: String,
    pub field: Option<String>,
    pub reason: String,
}

/// The lists bcsync manages, resolved to ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolvedLists {
    pub all_customers: Option<i64>,
    pub buyers: Option<i64>,
    pub channels: BTreeMap<i64, i64>,
    /// The abandoned-cart list: kept by `bcsync listen` from carts, so never among the
    /// lists a contact is planned into or out of here.
    pub abandoned_cart: Option<i64>,
}

impl ResolvedLists {
    /// Every list bcsync manages: a contact leaves these when it no longer qualifies.
    pub fn managed(&self) -> BTreeSet<i64> {
        self.all_customers
            .iter()
            .chain(self.buyers.iter())
            .chain(self.channels.values())
            .copied()
            .collect()
    }
}

/// Who consented: subscribers (lower-cased email) with the newsletter consent. A
/// subscriber record without a `consents` field is a newsletter subscription (older
/// records and stores that never asked for consents); one whose `consents` list lacks
/// `marketing_newsletter` is not (docs/api-notes.md §2.4).
pub fn newsletter_consents(subscribers: &[Value]) -> BTreeSet<String> {
    subscribers
        .iter()
        .filter(|s| match s.get("consents") {
            Some(Value::Array(c)) => c.iter().any(|c| c.as_str() == Some("marketing_newsletter")),
            _ => true,
        })
        .filter_map(|s| s.get("email").and_then(Value::as_str).map(normalise_email))
        .collect()
}

pub fn normalise_email(e: &str) -> String {
    e.trim().to_lowercase()
}

/// A plausible address: one `@`, something before it, a dot after it, no spaces.
pub fn plausible_email(e: &str) -> bool {
    let mut parts = e.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.chars().any(char::is_whitespace)
        }
        _ => false,
    }
}

/// The result of planning contacts.
#[derive(Debug, Default)]
pub struct ContactPlan {
    pub contacts: Vec<DesiredContact>,
    /// E-mails of contacts whose every customer was deleted from the store.
    pub deleted: Vec<String>,
    pub refusals: Vec<Refusal>,
}

/// Plans every contact. `slots` gives each mapped attribute's slot (from the account's
/// attributes, or the type bcsync will create it with).
pub fn plan(
    config: &BrevoConfig,
    slots: &HashMap<String, Slot>,
    lists: &ResolvedLists,
    customers: &[CustomerRow],
    orders: &[OrderFacts],
    consents: &BTreeSet<String>,
) -> ContactPlan {
    let mut out = ContactPlan::default();
    // Group customers by e-mail; the most recently modified one gives the attributes.
    let mut by_email: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    let mut deleted: BTreeSet<String> = BTreeSet::new();
    for c in customers {
        let id = c.raw.get("id").and_then(Value::as_i64).unwrap_or(0);
        let Some(email) = c
            .raw
            .get("email")
            .and_then(Value::as_str)
            .map(normalise_email)
        else {
            if !c.deleted {
                out.refusals.push(Refusal {
                    key: format!("customer {id}"),
                    field: Some("email".into()),
                    reason: "the customer has no e-mail address, which Brevo needs to identify a contact".into(),
                });
            }
            continue;
        };
        if !plausible_email(&email) {
            if !c.deleted {
                out.refusals.push(Refusal {
                    key: format!("customer {id}"),
                    field: Some("email".into()),
                    reason: format!(
                        "`{email}` is not a valid e-mail address; correct it in the store"
                    ),
                });
            }
            continue;
        }
        if c.deleted {
            deleted.insert(email);
        } else {
            by_email.entry(email).or_default().push(&c.raw);
        }
    }
    out.deleted = deleted
        .into_iter()
        .filter(|e| !by_email.contains_key(e))
        .collect();

    let metrics = metrics_by_contact(&by_email, orders);
    for (email, mut records) in by_email {
        records.sort_by_key(|r| {
            std::cmp::Reverse(
                r.get("date_modified")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            )
        });
        let primary = records[0];
        let customer_ids: Vec<i64> = records
            .iter()
            .filter_map(|r| r.get("id").and_then(Value::as_i64))
            .collect();
        let key = format!("customer {}", customer_ids.first().copied().unwrap_or(0));
        let m = metrics.get(&email).cloned().unwrap_or_default();
        let subscribed = consents.contains(&email);
        let country = primary
            .pointer("/addresses/0/country_code")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut attributes = BTreeMap::new();
        for field in &config.fields {
            let value = match &field.source {
                Source::Path(steps) => walk(primary, steps).cloned().unwrap_or(Value::Null),
                Source::Metric(Metric::OrdersCount) => Value::from(m.count),
                Source::Metric(Metric::TotalSpent) => {
                    Value::from((m.spent * 100.0).round() / 100.0)
                }
                Source::Metric(Metric::LastOrderDate) => m
                    .last
                    .map(|d| Value::String(d.to_rfc3339()))
                    .unwrap_or(Value::Null),
                Source::NewsletterSubscriber => Value::Bool(subscribed),
            };
            let Some(slot) = slots.get(&field.attribute) else {
                continue;
            };
            match fit(slot, &value, country.as_deref()) {
                Ok(Some(v)) => {
                    attributes.insert(field.attribute.clone(), v);
                }
                Ok(None) => {}
                Err(reason) => out.refusals.push(Refusal {
                    key: key.clone(),
                    field: Some(describe_source(&field.source)),
                    reason: format!("{reason}; {} was sent without it", field.attribute),
                }),
            }
        }
        let mut member_of = BTreeSet::new();
        member_of.extend(lists.all_customers);
        if m.count > 0 {
            member_of.extend(lists.buyers);
        }
        for r in &records {
            for channel in customer_channels(r) {
                member_of.extend(lists.channels.get(&channel));
            }
        }
        out.contacts.push(DesiredContact {
            email,
            attributes,
            lists: member_of,
            blacklisted: !subscribed,
            customer_ids,
        });
    }
    out
}

/// The storefronts a customer belongs to: its origin channel and the channels it may log
/// in to (`channel_ids`; null means every channel, and then the origin is what places it).
fn customer_channels(raw: &Value) -> BTreeSet<i64> {
    let mut out = BTreeSet::new();
    out.extend(raw.get("origin_channel_id").and_then(Value::as_i64));
    if let Some(ids) = raw.get("channel_ids").and_then(Value::as_array) {
        out.extend(ids.iter().filter_map(Value::as_i64));
    }
    out
}

fn describe_source(source: &Source) -> String {
    match source {
        Source::Metric(Metric::OrdersCount) => "orders_count".into(),
        Source::Metric(Metric::TotalSpent) => "total_spent".into(),
        Source::Metric(Metric::LastOrderDate) => "last_order_date".into(),
        Source::NewsletterSubscriber => "newsletter_subscriber".into(),
        Source::Path(steps) => {
            let mut s = String::new();
            for step in steps {
                match step {
                    PathStep::Key(k) => {
                        if !s.is_empty() {
                            s.push('.');
                        }
                        s.push_str(k);
                    }
                    PathStep::Index(i) => s.push_str(&format!("[{i}]")),
                }
            }
            s
        }
    }
}

fn walk<'a>(mut v: &'a Value, steps: &[PathStep]) -> Option<&'a Value> {
    for step in steps {
        v = match step {
            PathStep::Key(k) => v.get(k)?,
            PathStep::Index(i) => v.get(*i)?,
        };
    }
    Some(v)
}

#[derive(Debug, Clone, Default)]
struct ContactMetrics {
    count: u64,
    spent: f64,
    last: Option<DateTime<Utc>>,
}

/// Orders per contact: those of its customers, and guest orders (customer 0) billed to its
/// address.
fn metrics_by_contact(
    by_email: &BTreeMap<String, Vec<&Value>>,
    orders: &[OrderFacts],
) -> HashMap<String, ContactMetrics> {
    let mut email_of_customer: HashMap<i64, &str> = HashMap::new();
    for (email, records) in by_email {
        for r in records {
            if let Some(id) = r.get("id").and_then(Value::as_i64) {
                email_of_customer.insert(id, email);
            }
        }
    }
    let mut out: HashMap<String, ContactMetrics> = HashMap::new();
    for o in orders.iter().filter(|o| counts_as_purchase(o.status_id)) {
        let email = if o.customer_id != 0 {
            email_of_customer
                .get(&o.customer_id)
                .map(|e| (*e).to_owned())
        } else {
            o.email
                .as_deref()
                .map(normalise_email)
                .filter(|e| by_email.contains_key(e))
        };
        let Some(email) = email else { continue };
        let m = out.entry(email).or_default();
        m.count += 1;
        m.spent += o.total_inc_tax - o.refunded;
        if o.date_created > m.last {
            m.last = o.date_created;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marketing::config;
    use serde_json::json;

    fn config() -> BrevoConfig {
        let doc: toml::Table = toml::from_str(
            r#"
[brevo]
api_key = "k"
[brevo.contacts]
first_name = "FIRSTNAME"
phone = "SMS"
"addresses[0].city" = "CITY"
date_created = "SIGNUP_DATE"
orders_count = "ORDERS_COUNT"
total_spent = "TOTAL_SPENT"
last_order_date = "LAST_ORDER_DATE"
"#,
        )
        .unwrap();
        config::parse(doc.get("brevo")).unwrap()
    }

    fn slots() -> HashMap<String, Slot> {
        [
            ("FIRSTNAME", Slot::Text),
            ("SMS", Slot::Phone),
            ("CITY", Slot::Text),
            ("SIGNUP_DATE", Slot::Date),
            ("ORDERS_COUNT", Slot::Float),
            ("TOTAL_SPENT", Slot::Float),
            ("LAST_ORDER_DATE", Slot::Date),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    fn customer(id: i64, email: &str, modified: &str, extra: Value) -> CustomerRow {
        let mut raw = json!({"id": id, "email": email, "first_name": format!("F{id}"),
            "date_created": "2024-01-02T03:04:05Z", "date_modified": modified,
            "origin_channel_id": 1, "channel_ids": null,
            "addresses": [{"city": "Lyon", "country_code": "FR"}]});
        raw.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        CustomerRow {
            raw,
            deleted: false,
        }
    }

    fn order(customer_id: i64, email: &str, status: i64, total: f64, day: u32) -> OrderFacts {
        OrderFacts {
            customer_id,
            email: Some(email.into()),
            status_id: status,
            total_inc_tax: total,
            refunded: 0.0,
            date_created: Some(
                DateTime::parse_from_rfc3339(&format!("2024-05-{day:02}T10:00:00Z"))
                    .unwrap()
                    .with_timezone(&Utc),
            ),
        }
    }

    #[test]
    fn one_contact_per_address_with_metrics_lists_and_consent() {
        let lists = ResolvedLists {
            all_customers: Some(10),
            buyers: Some(11),
            channels: [(2, 20)].into_iter().collect(),
            abandoned_cart: Some(30),
        };
        let customers = vec![
            customer(
                1,
                " Ann@Example.com ",
                "2024-02-01T00:00:00Z",
                json!({"phone": "06 12 34 56 78"}),
            ),
            customer(
                2,
                "ann@example.com",
                "2024-03-01T00:00:00Z",
                json!({"origin_channel_id": 2, "first_name": "Annie"}),
            ),
            customer(
                3,
                "bob@example.com",
                "2024-02-01T00:00:00Z",
                json!({"phone": "12"}),
            ),
            CustomerRow {
                raw: json!({"id": 4, "email": "gone@example.com"}),
                deleted: true,
            },
            customer(5, "not-an-address", "2024-02-01T00:00:00Z", json!({})),
        ];
        let orders = vec![
            order(1, "ann@example.com", 10, 50.0, 3),
            order(2, "ann@example.com", 11, 25.5, 9),
            order(0, "ANN@example.com", 2, 10.0, 4),
            order(1, "ann@example.com", 5, 999.0, 20),
            order(3, "bob@example.com", 0, 70.0, 1),
        ];
        let consents: BTreeSet<String> = newsletter_consents(&[
            json!({"email": "ann@example.com", "consents": ["marketing_newsletter"]}),
            json!({"email": "bob@example.com", "consents": ["abandoned_cart"]}),
        ]);
        let p = plan(&config(), &slots(), &lists, &customers, &orders, &consents);
        assert_eq!(p.contacts.len(), 2);
        let ann = &p.contacts[0];
        assert_eq!(ann.email, "ann@example.com");
        assert_eq!(ann.customer_ids, vec![2, 1], "newest first");
        assert_eq!(ann.attributes["FIRSTNAME"], json!("Annie"));
        assert_eq!(ann.attributes["ORDERS_COUNT"], json!(3.0));
        assert_eq!(ann.attributes["TOTAL_SPENT"], json!(85.5));
        assert_eq!(ann.attributes["LAST_ORDER_DATE"], json!("2024-05-09"));
        assert_eq!(ann.attributes["SIGNUP_DATE"], json!("2024-01-02"));
        assert_eq!(
            ann.lists,
            [10, 11, 20].into_iter().collect(),
            "the abandoned-cart list is kept from carts, not planned"
        );
        assert!(!ann.blacklisted);
        let bob = &p.contacts[1];
        assert!(
            bob.blacklisted,
            "abandoned-cart consent is not newsletter consent"
        );
        assert_eq!(
            bob.lists,
            [10].into_iter().collect(),
            "an incomplete order is no purchase"
        );
        assert!(!bob.attributes.contains_key("SMS"));
        assert_eq!(p.deleted, vec!["gone@example.com".to_owned()]);
        let reasons: Vec<String> = p
            .refusals
            .iter()
            .map(|r| format!("{} {:?} {}", r.key, r.field, r.reason))
            .collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].contains("customer 5") && reasons[0].contains("not a valid e-mail"));
        assert!(
            reasons[1].contains("customer 3")
                && reasons[1].contains("phone")
                && reasons[1].contains("SMS was sent without it")
        );
    }
}
