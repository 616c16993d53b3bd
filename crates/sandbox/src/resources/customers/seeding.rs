//! Deterministic customer seeding: groups, a few attributes, `spec.customers` customers
//! with addresses, attribute values and form fields.
//!
//! Creation dates rise with the id (as on a real store) and are spread over
//! `spec.history_days`; every modification date lies between creation and now. In every
//! run of 20 customers the first three share one `date_modified` second, so same-second
//! bookmarks (`date_modified:min` + cursor) are exercised on every seeded store.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;
use serde_json::{Value, json};

use super::{
    Address, Attribute, AttributeType, CategoryAccess, Customer, CustomerGroup, FormField,
};
use crate::seed::SeedSpec;
use crate::state::StoreData;

const FIRST_NAMES: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Betty",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Andrew",
    "Emily",
    "Paul",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenji",
    "Carol",
    "Aisha",
    "Amanda",
    "Wei",
    "Melissa",
    "Olga",
    "Deborah",
    "Mateo",
    "Stephanie",
    "Priya",
    "Zoë",
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "O'Brien",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Müller",
];

const COMPANIES: &[&str] = &[
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Supplies",
    "Stark Retail",
    "Wayne Outfitters",
    "Hooli",
    "Vandelay Imports",
    "Soylent Foods",
    "Cyberdyne Systems",
    "Wonka Confections",
    "Tyrell Trading",
    "Gringotts Goods",
    "Pied Piper",
    "Bluth Company",
    "Prestige Worldwide",
    "Dunder Mifflin",
    "Sterling Cooper",
    "Monsters Inc",
    "Oceanic Freight",
];

const EMAIL_DOMAINS: &[&str] = &[
    "example.com",
    "example.net",
    "example.org",
    "mail.example.com",
];

const STREETS: &[&str] = &[
    "Main St",
    "Oak Ave",
    "Pine Rd",
    "Maple Dr",
    "Cedar Ln",
    "Elm St",
    "Washington Blvd",
    "Lake View Rd",
    "Sunset Blvd",
    "Market St",
    "Hill Rd",
    "River Way",
];

/// (city, state_or_province, postal code prefix, country code)
const CITIES: &[(&str, &str, &str, &str)] = &[
    ("Austin", "Texas", "787", "US"),
    ("San Francisco", "California", "941", "US"),
    ("New York", "New York", "100", "US"),
    ("Chicago", "Illinois", "606", "US"),
    ("Seattle", "Washington", "981", "US"),
    ("Denver", "Colorado", "802", "US"),
    ("Boston", "Massachusetts", "021", "US"),
    ("Toronto", "Ontario", "M5V", "CA"),
    ("Vancouver", "British Columbia", "V6B", "CA"),
    ("London", "England", "EC1", "GB"),
    ("Sydney", "New South Wales", "200", "AU"),
    ("Berlin", "Berlin", "101", "DE"),
];

const GROUP_NAMES: &[&str] = &[
    "Retail",
    "Wholesale",
    "VIP",
    "Staff",
    "Trade",
    "Education",
    "Non-profit",
    "Reseller",
];

const HEARD_FROM: &[&str] = &[
    "Search engine",
    "Friend",
    "Instagram",
    "Podcast",
    "Trade show",
];

const TIERS: &[&str] = &["bronze", "silver", "gold", "platinum"];

fn pick<'a>(rng: &mut SmallRng, items: &[&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or_default()
}

/// A moment between `from` and `to` (inclusive), whole seconds.
fn between(rng: &mut SmallRng, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
    let span = (to - from).num_seconds().max(0);
    from + Duration::seconds(rng.random_range(0..=span))
}

pub(super) fn seed(data: &mut StoreData, spec: &SeedSpec, rng: &mut SmallRng, now: DateTime<Utc>) {
    let start = now - Duration::days(spec.history_days.max(1));
    let multi_channel = data.channels.exists(2);
    let cs = &mut data.customers;

    let mut group_ids = Vec::with_capacity(spec.customer_groups);
    for g in 0..spec.customer_groups {
        let name = GROUP_NAMES
            .get(g)
            .map_or_else(|| format!("Group {}", g + 1), |n| (*n).to_owned());
        let discount_rules: Vec<Value> = if g == 1 {
            vec![json!({ "type": "all", "method": "percent", "amount": "10.0000" })]
        } else {
            Vec::new()
        };
        let created = between(rng, start, start + Duration::days(7));
        let modified = between(rng, created, now);
        group_ids.push(cs.insert_group(CustomerGroup {
            id: 0,
            name,
            is_default: g == 0,
            is_group_for_guests: false,
            category_access: CategoryAccess {
                kind: "all".into(),
                categories: Vec::new(),
            },
            discount_rules,
            date_created: created,
            date_modified: modified,
        }));
    }

    if spec.customers == 0 {
        return;
    }
    let attr_specs = [
        ("Loyalty tier", AttributeType::String),
        ("Lifetime points", AttributeType::Number),
        ("Birthday", AttributeType::Date),
    ];
    let mut attr_ids = Vec::new();
    for (name, kind) in attr_specs {
        attr_ids.push(cs.insert_attribute(Attribute {
            id: 0,
            name: name.into(),
            kind,
            date_created: start,
            date_modified: start,
        }));
    }

    // Creation times sorted so they rise with the id.
    let history_secs = (now - start).num_seconds().max(1);
    let mut offsets: Vec<i64> = (0..spec.customers)
        .map(|_| rng.random_range(0..history_secs))
        .collect();
    offsets.sort_unstable_by(|a, b| b.cmp(a));

    let mut customers = Vec::with_capacity(spec.customers);
    for (i, offset) in offsets.iter().enumerate() {
        let first = pick(rng, FIRST_NAMES);
        let last = pick(rng, LAST_NAMES);
        let date_created = now - Duration::seconds(*offset);
        let date_modified = if rng.random_bool(0.4) {
            date_created
        } else {
            between(rng, date_created, now)
        };
        let local: String = format!("{first}.{last}")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        let email = format!(
            "{}{}@{}",
            local.to_lowercase(),
            i + 1,
            pick(rng, EMAIL_DOMAINS)
        );
        let company = if rng.random_bool(0.4) {
            pick(rng, COMPANIES).to_owned()
        } else {
            String::new()
        };
        let phone = format!(
            "+1 {}-555-{:04}",
            rng.random_range(201..990),
            rng.random_range(0..10_000)
        );
        let customer_group_id = if !group_ids.is_empty() && rng.random_bool(0.7) {
            group_ids.choose(rng).copied().unwrap_or(0)
        } else {
            0
        };
        let registration_ip_address = if rng.random_bool(0.6) {
            format!("203.0.113.{}", rng.random_range(1..255))
        } else {
            String::new()
        };
        let (origin_channel_id, channel_ids) = if multi_channel && rng.random_bool(0.05) {
            (2, Some(vec![2]))
        } else {
            (1, None)
        };
        let credit = if rng.random_bool(0.1) {
            f64::from(rng.random_range(100..20_000)) / 100.0
        } else {
            0.0
        };
        let form_fields = if rng.random_bool(0.25) {
            vec![FormField {
                name: "How did you hear about us?".into(),
                value: Value::String(pick(rng, HEARD_FROM).into()),
            }]
        } else {
            Vec::new()
        };
        customers.push(Customer {
            id: 0,
            email,
            email_lower: String::new(),
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            company,
            phone,
            notes: if rng.random_bool(0.1) {
                "Prefers contact by email.".into()
            } else {
                String::new()
            },
            tax_exempt_category: String::new(),
            customer_group_id,
            registration_ip_address,
            date_created,
            date_modified,
            accepts_product_review_abandoned_cart_emails: rng.random_bool(0.5),
            force_password_reset: false,
            store_credit: vec![credit],
            origin_channel_id,
            channel_ids,
            address_ids: Vec::new(),
            form_fields,
        });
    }
    // Same-second modifications: the first three of every 20 share the latest of their
    // three modification times (still ≥ each creation time and ≤ now).
    for chunk in customers.chunks_mut(20) {
        let trio = chunk.len().min(3);
        if let Some(latest) = chunk[..trio].iter().map(|c| c.date_modified).max() {
            for c in &mut chunk[..trio] {
                c.date_modified = latest;
            }
        }
    }

    for c in customers {
        let (first, last, phone, created, modified) = (
            c.first_name.clone(),
            c.last_name.clone(),
            c.phone.clone(),
            c.date_created,
            c.date_modified,
        );
        let company = c.company.clone();
        let id = cs.insert_customer(c);
        for a in 0..spec.addresses_per_customer {
            let (city, state, zip, country) = CITIES
                .choose(rng)
                .copied()
                .unwrap_or(("Austin", "Texas", "787", "US"));
            // The index in the house number keeps a customer's addresses distinct.
            let house = a * 1000 + rng.random_range(1..1000);
            cs.insert_address(Address {
                id: 0,
                customer_id: id,
                first_name: first.clone(),
                last_name: last.clone(),
                company: if a == 0 {
                    company.clone()
                } else {
                    String::new()
                },
                address1: format!("{house} {}", pick(rng, STREETS)),
                address2: if rng.random_bool(0.2) {
                    format!("Apt {}", rng.random_range(1..500))
                } else {
                    String::new()
                },
                city: city.into(),
                state_or_province: state.into(),
                postal_code: format!("{zip}{:02}", rng.random_range(0..100)),
                country_code: country.into(),
                phone: phone.clone(),
                address_type: if a == 0 {
                    "residential".into()
                } else {
                    "commercial".into()
                },
            });
        }
        let value_time = between(rng, created, modified);
        if rng.random_bool(0.33) {
            let tier = pick(rng, TIERS).to_owned();
            cs.upsert_attribute_value(id, attr_ids[0], tier, value_time);
        }
        if rng.random_bool(0.25) {
            let points = rng.random_range(0..50_000).to_string();
            cs.upsert_attribute_value(id, attr_ids[1], points, value_time);
        }
        if rng.random_bool(0.15) {
            let birthday = format!(
                "{}-{:02}-{:02}",
                rng.random_range(1950..2005),
                rng.random_range(1..13),
                rng.random_range(1..29)
            );
            cs.upsert_attribute_value(id, attr_ids[2], birthday, value_time);
        }
    }
    if multi_channel {
        // Some channel-1 customers are limited to listed channels instead of every one
        // (`channel_ids` null): derived from the id, so no generator draw shifts the rest.
        for c in cs.customers.values_mut() {
            if c.origin_channel_id == 1 && c.channel_ids.is_none() {
                c.channel_ids = match c.id % 10 {
                    0 => Some(vec![1]),
                    5 => Some(vec![1, 2]),
                    _ => None,
                };
            }
        }
    }
}
