//! Brevo's rate-limit buckets (docs/brevo-api-notes.md §0.4): which bucket a request counts
//! against, and the general tier's allowance for each, which the pacer assumes until the
//! `x-sib-ratelimit-*` headers say otherwise.
//!
//! Buckets are independent: Brevo counts `/contacts/...`, `POST /events`,
//! `POST /orders/status` and `POST /products` separately, and every other route shares
//! one small "other" allowance (100 requests an hour on the general tier). The batch
//! routes (`/products/batch`, `/categories/batch`, `/orders/status/batch`) and
//! `POST /events/batch` are not named in Brevo's table: read literally they fall in
//! "other", which is also the careful reading (the smallest budget), so that is where
//! they go until a response's headers show more.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One rate-limit bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// Anything under `/contacts/...` (attributes, lists, folders and imports included).
    Contacts,
    /// `POST /events`.
    Events,
    /// `POST /orders/status`.
    Orders,
    /// `POST /products` (single).
    Products,
    /// Every other route: account, processes, e-commerce batches and reads.
    Other,
}

impl Bucket {
    /// Every bucket, in display order.
    pub const ALL: [Bucket; 5] = [
        Bucket::Contacts,
        Bucket::Events,
        Bucket::Orders,
        Bucket::Products,
        Bucket::Other,
    ];

    /// The name used in logs and stats: `contacts`, `events`, `orders`, `products`, `other`.
    pub fn name(self) -> &'static str {
        match self {
            Bucket::Contacts => "contacts",
            Bucket::Events => "events",
            Bucket::Orders => "orders",
            Bucket::Products => "products",
            Bucket::Other => "other",
        }
    }

    /// The general tier's allowance (docs/brevo-api-notes.md §0.4): both limits apply when
    /// both are given.
    pub fn general_tier(self) -> BucketLimits {
        match self {
            Bucket::Contacts | Bucket::Events => BucketLimits::new(Some(10), Some(36_000)),
            Bucket::Orders => BucketLimits::new(Some(5), Some(18_000)),
            Bucket::Products => BucketLimits::new(Some(2), Some(7_200)),
            Bucket::Other => BucketLimits::new(None, Some(100)),
        }
    }
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An allowance in requests per second and per hour; `None` means no limit of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketLimits {
    pub per_second: Option<u32>,
    pub per_hour: Option<u32>,
}

impl BucketLimits {
    pub const fn new(per_second: Option<u32>, per_hour: Option<u32>) -> Self {
        Self {
            per_second,
            per_hour,
        }
    }

    /// No local limit at all (the headers alone steer the pacer); for tests and for
    /// accounts known to have a larger allowance.
    pub const UNLIMITED: BucketLimits = BucketLimits::new(None, None);

    /// The limits as (requests, window) pairs: per second, then per hour.
    pub(crate) fn windows(self) -> Vec<(u32, Duration)> {
        let mut out = Vec::new();
        if let Some(rps) = self.per_second.filter(|n| *n > 0) {
            out.push((rps, Duration::from_secs(1)));
        }
        if let Some(rph) = self.per_hour.filter(|n| *n > 0) {
            out.push((rph, Duration::from_secs(3600)));
        }
        out
    }
}

/// The bucket a request counts against. `path` is relative to the API root, with or
/// without the `/v3` prefix and a query string: `/contacts/lists`, `/v3/events?x=1`.
/// The method is compared case-insensitively.
pub fn bucket_for(method: &str, path: &str) -> Bucket {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let path = path.trim_start_matches('/');
    let path = path.strip_prefix("v3/").unwrap_or(path);
    let path = if path == "v3" { "" } else { path };
    let path = path.trim_end_matches('/');
    let post = method.eq_ignore_ascii_case("POST");
    if path == "contacts" || path.starts_with("contacts/") {
        Bucket::Contacts
    } else if post && path == "events" {
        Bucket::Events
    } else if post && path == "orders/status" {
        Bucket::Orders
    } else if post && path == "products" {
        Bucket::Products
    } else {
        Bucket::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_table() {
        let table: &[(&str, &str, Bucket)] = &[
            ("GET", "/contacts", Bucket::Contacts),
            ("POST", "/contacts", Bucket::Contacts),
            ("get", "/v3/contacts/a%40b.c", Bucket::Contacts),
            (
                "PUT",
                "contacts/12?identifierType=contact_id",
                Bucket::Contacts,
            ),
            ("POST", "/contacts/import", Bucket::Contacts),
            ("GET", "/contacts/attributes", Bucket::Contacts),
            ("POST", "/contacts/lists/3/contacts/add", Bucket::Contacts),
            ("GET", "/contacts/folders", Bucket::Contacts),
            ("POST", "/events", Bucket::Events),
            ("post", "/v3/events/", Bucket::Events),
            ("GET", "/events", Bucket::Other),
            ("POST", "/events/batch", Bucket::Other),
            ("POST", "/orders/status", Bucket::Orders),
            ("POST", "/orders/status/batch", Bucket::Other),
            ("GET", "/orders", Bucket::Other),
            ("POST", "/products", Bucket::Products),
            ("POST", "/products/batch", Bucket::Other),
            ("GET", "/products", Bucket::Other),
            ("POST", "/categories/batch", Bucket::Other),
            ("POST", "/categories", Bucket::Other),
            ("GET", "/account", Bucket::Other),
            ("GET", "/processes/7", Bucket::Other),
            ("POST", "/ecommerce/activate", Bucket::Other),
            ("GET", "/contactsx", Bucket::Other),
            ("GET", "", Bucket::Other),
        ];
        for &(method, path, want) in table {
            assert_eq!(bucket_for(method, path), want, "{method} {path}");
        }
    }

    #[test]
    fn display_names() {
        let names: Vec<String> = Bucket::ALL.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["contacts", "events", "orders", "products", "other"]);
    }

    #[test]
    fn general_tier_limits() {
        assert_eq!(
            Bucket::Contacts.general_tier(),
            BucketLimits::new(Some(10), Some(36_000))
        );
        assert_eq!(
            Bucket::Other.general_tier(),
            BucketLimits::new(None, Some(100))
        );
        let windows = Bucket::Products.general_tier().windows();
        assert_eq!(
            windows,
            vec![
                (2, Duration::from_secs(1)),
                (7_200, Duration::from_secs(3600))
            ]
        );
        assert!(BucketLimits::UNLIMITED.windows().is_empty());
    }
}
