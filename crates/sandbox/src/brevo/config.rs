//! What a Brevo emulator is started with: its API keys, the rate-limit tier, the time
//! scale, the e-commerce activation delay, one switch per UNCERTAIN point of the API
//! (docs/brevo-api-notes.md §9) and the faults to inject.
//!
//! The keys are test keys, but they are still kept in [`SecretString`] so they never reach
//! Debug output, logs or the admin state dump.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::faults::BrevoFaults;

/// The default test key of `bcsync sandbox brevo` (not a credential).
pub const DEFAULT_API_KEY: &str = "brevo-sandbox-key";

/// The largest accepted time scale (as for the BigCommerce sandbox).
pub const MAX_TIME_SCALE: f64 = 1000.0;

/// How the emulator is started.
#[derive(Clone)]
pub struct BrevoConfig {
    /// Accepted `api-key` values; each key has its own rate buckets
    /// (docs/brevo-api-notes.md §0.4).
    pub api_keys: Vec<SecretString>,
    /// Requests per second / per hour of each bucket.
    pub limits: TierLimits,
    /// Multiplies every duration of the emulator: rate windows, import and batch
    /// processing times, the activation delay. 0.01 turns an hour window into 36 s.
    pub time_scale: f64,
    /// How long after `POST /ecommerce/activate` the e-commerce app becomes usable
    /// (unscaled; docs/brevo-api-notes.md §5.1 says "about 5 minutes").
    pub activation_delay: Duration,
    /// Whether the e-commerce app is already active at start (saves tests the activation).
    pub ecommerce_active: bool,
    /// The behaviour chosen for each UNCERTAIN point.
    pub switches: Switches,
    /// Injected faults (5xx, 429 bursts, slow answers), deterministic by seed.
    pub faults: BrevoFaults,
}

impl fmt::Debug for BrevoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrevoConfig")
            .field(
                "api_keys",
                &format_args!("[{} redacted]", self.api_keys.len()),
            )
            .field("limits", &self.limits)
            .field("time_scale", &self.time_scale)
            .field("activation_delay", &self.activation_delay)
            .field("ecommerce_active", &self.ecommerce_active)
            .field("switches", &self.switches)
            .field("faults", &self.faults)
            .finish()
    }
}

impl Default for BrevoConfig {
    fn default() -> Self {
        Self {
            api_keys: vec![SecretString::from(DEFAULT_API_KEY)],
            limits: TierLimits::general(),
            time_scale: 1.0,
            activation_delay: Duration::from_secs(300),
            ecommerce_active: false,
            switches: Switches::default(),
            faults: BrevoFaults::default(),
        }
    }
}

impl BrevoConfig {
    /// A config accepting one key, with everything else at its default.
    pub fn with_key(key: &str) -> Self {
        Self {
            api_keys: vec![SecretString::from(key.to_owned())],
            ..Self::default()
        }
    }

    /// The index of the key in `api_keys`, if it is accepted.
    pub fn key_index(&self, key: &str) -> Option<usize> {
        self.api_keys.iter().position(|k| k.expose_secret() == key)
    }

    /// Checks the numbers a user can get wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.time_scale > 0.0 && self.time_scale <= MAX_TIME_SCALE) {
            return Err(format!(
                "the time scale must be a positive number up to {MAX_TIME_SCALE} (e.g. 0.01); got {}",
                self.time_scale
            ));
        }
        if self.api_keys.is_empty() {
            return Err("at least one API key is needed; give one with --api-key".into());
        }
        Ok(())
    }
}

/// The rate bucket a request counts against (docs/brevo-api-notes.md §0.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    Contacts,
    Events,
    Orders,
    Products,
    Other,
}

impl Bucket {
    pub const ALL: [Bucket; 5] = [
        Bucket::Contacts,
        Bucket::Events,
        Bucket::Orders,
        Bucket::Products,
        Bucket::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bucket::Contacts => "contacts",
            Bucket::Events => "events",
            Bucket::Orders => "orders",
            Bucket::Products => "products",
            Bucket::Other => "other",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == s)
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// The bucket of a `/v3` route. Every path under `/contacts` shares one bucket; only
    /// `POST /events`, `POST /orders/status` and `POST /products` have their own; the rest,
    /// the batch routes included, fall into "other" (docs/brevo-api-notes.md §0.4: the batch
    /// routes and `/events/batch` are UNCERTAIN, and the strictest reading is chosen so a
    /// client budgeting for it survives).
    pub fn of(method: &http::Method, path: &str) -> Bucket {
        let p = path.strip_prefix("/v3").unwrap_or(path);
        let p = p.trim_end_matches('/');
        if p == "/contacts" || p.starts_with("/contacts/") {
            return Bucket::Contacts;
        }
        if method == http::Method::POST {
            match p {
                "/events" => return Bucket::Events,
                "/orders/status" => return Bucket::Orders,
                "/products" => return Bucket::Products,
                _ => {}
            }
        }
        Bucket::Other
    }
}

/// One bucket's allowance: both limits apply when both are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BucketLimit {
    #[serde(default)]
    pub per_second: Option<u32>,
    #[serde(default)]
    pub per_hour: Option<u32>,
}

impl BucketLimit {
    const fn new(per_second: Option<u32>, per_hour: Option<u32>) -> Self {
        Self {
            per_second,
            per_hour,
        }
    }
}

/// The limits of every bucket, by tier or custom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierLimits {
    /// `general`, `advanced`, `extended`, `tiny`, `unlimited` or `custom`.
    pub tier: String,
    pub contacts: BucketLimit,
    pub events: BucketLimit,
    pub orders: BucketLimit,
    pub products: BucketLimit,
    pub other: BucketLimit,
}

impl TierLimits {
    /// All plans (docs/brevo-api-notes.md §0.4).
    pub fn general() -> Self {
        Self {
            tier: "general".into(),
            contacts: BucketLimit::new(Some(10), Some(36_000)),
            events: BucketLimit::new(Some(10), Some(36_000)),
            orders: BucketLimit::new(Some(5), Some(18_000)),
            products: BucketLimit::new(Some(2), Some(7_200)),
            other: BucketLimit::new(None, Some(100)),
        }
    }

    /// Professional and Enterprise plans.
    pub fn advanced() -> Self {
        Self {
            tier: "advanced".into(),
            contacts: BucketLimit::new(Some(20), Some(72_000)),
            events: BucketLimit::new(Some(20), Some(72_000)),
            orders: BucketLimit::new(Some(10), Some(36_000)),
            products: BucketLimit::new(Some(4), Some(14_400)),
            other: BucketLimit::new(None, Some(200)),
        }
    }

    /// Enterprise plans.
    pub fn extended() -> Self {
        Self {
            tier: "extended".into(),
            contacts: BucketLimit::new(Some(60), None),
            events: BucketLimit::new(Some(60), None),
            orders: BucketLimit::new(Some(15), None),
            products: BucketLimit::new(None, Some(21_600)),
            other: BucketLimit::new(None, Some(600)),
        }
    }

    /// A tiny allowance so tests can force 429s: 3 requests per hour in every bucket.
    pub fn tiny() -> Self {
        let l = BucketLimit::new(None, Some(3));
        Self {
            tier: "tiny".into(),
            contacts: l,
            events: l,
            orders: l,
            products: l,
            other: l,
        }
    }

    /// No limits and no rate headers (for benchmarks).
    pub fn unlimited() -> Self {
        let l = BucketLimit::default();
        Self {
            tier: "unlimited".into(),
            contacts: l,
            events: l,
            orders: l,
            products: l,
            other: l,
        }
    }

    pub fn get(&self, b: Bucket) -> BucketLimit {
        match b {
            Bucket::Contacts => self.contacts,
            Bucket::Events => self.events,
            Bucket::Orders => self.orders,
            Bucket::Products => self.products,
            Bucket::Other => self.other,
        }
    }

    fn get_mut(&mut self, b: Bucket) -> &mut BucketLimit {
        match b {
            Bucket::Contacts => &mut self.contacts,
            Bucket::Events => &mut self.events,
            Bucket::Orders => &mut self.orders,
            Bucket::Products => &mut self.products,
            Bucket::Other => &mut self.other,
        }
    }

    /// Parses `general`, `advanced`, `extended`, `tiny`, `unlimited`, or a tier followed by
    /// per-bucket overrides: `general,contacts=2/s+50/h,other=5/h` (a bucket named alone
    /// with `=none` loses its limits).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut parts = spec.split(',').map(str::trim).filter(|s| !s.is_empty());
        let first = parts.next().unwrap_or("general");
        let (mut limits, pending) = match first {
            "general" => (Self::general(), None),
            "advanced" => (Self::advanced(), None),
            "extended" => (Self::extended(), None),
            "tiny" => (Self::tiny(), None),
            "unlimited" => (Self::unlimited(), None),
            other if other.contains('=') => (Self::general(), Some(other)),
            other => {
                return Err(format!(
                    "unknown tier {other:?}: use general, advanced, extended, tiny, unlimited, \
                     optionally followed by bucket=N/s+N/h overrides"
                ));
            }
        };
        let mut custom = false;
        for part in pending.into_iter().chain(parts) {
            custom = true;
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not bucket=N/s+N/h"))?;
            let bucket = Bucket::from_name(name.trim()).ok_or_else(|| {
                format!("unknown bucket {name:?}: use contacts, events, orders, products or other")
            })?;
            let mut limit = BucketLimit::default();
            if value.trim() != "none" {
                for piece in value.split('+') {
                    let piece = piece.trim();
                    let (n, unit) = piece
                        .split_once('/')
                        .ok_or_else(|| format!("{piece:?} is not N/s or N/h"))?;
                    let n: u32 = n
                        .trim()
                        .parse()
                        .map_err(|_| format!("{n:?} in {part:?} is not a whole number"))?;
                    match unit.trim() {
                        "s" => limit.per_second = Some(n),
                        "h" => limit.per_hour = Some(n),
                        u => return Err(format!("unit {u:?} in {part:?}: use s or h")),
                    }
                }
            }
            *limits.get_mut(bucket) = limit;
        }
        if custom {
            limits.tier = "custom".into();
        }
        Ok(limits)
    }
}

/// One switch per UNCERTAIN behaviour (docs/brevo-api-notes.md §9). The defaults are the
/// documented or most likely behaviour; tests flip them to prove a client survives both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Switches {
    /// A value of the wrong type for its attribute: `false` drops it silently and logs the
    /// drop (documented), `true` answers 400 `invalid_parameter` (field report)
    /// (docs/brevo-api-notes.md §2.4).
    pub reject_wrong_type: bool,
    /// `POST /contacts/batch` answers 410, as after its retirement on 2026-10-30
    /// (docs/brevo-api-notes.md §1.5).
    pub contacts_batch_gone: bool,
    /// An event for an unknown identifier creates the contact (docs/brevo-api-notes.md §4.1).
    pub events_create_contacts: bool,
    /// The default name attributes follow a French account: `PRENOM`/`NOM` instead of
    /// `FIRSTNAME`/`LASTNAME` (docs/brevo-api-notes.md §2.3). Applies at start and reset.
    pub french_default_attributes: bool,
    /// The account has the raised product batch limit: 1000 products per batch with
    /// `updateEnabled` (docs/brevo-api-notes.md §5.3).
    pub products_raised_limit: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_parse_with_overrides() {
        assert_eq!(TierLimits::parse("advanced"), Ok(TierLimits::advanced()));
        let l = TierLimits::parse("general,contacts=2/s+50/h,other=none").unwrap();
        assert_eq!(l.tier, "custom");
        assert_eq!(l.contacts, BucketLimit::new(Some(2), Some(50)));
        assert_eq!(l.other, BucketLimit::default());
        assert_eq!(l.orders, TierLimits::general().orders);
        assert!(TierLimits::parse("gold").is_err());
        assert!(TierLimits::parse("general,carts=1/s").is_err());
        assert!(TierLimits::parse("general,contacts=1/m").is_err());
    }

    #[test]
    fn buckets_by_route() {
        use http::Method;
        assert_eq!(
            Bucket::of(&Method::GET, "/v3/contacts/lists/3/contacts"),
            Bucket::Contacts
        );
        assert_eq!(Bucket::of(&Method::POST, "/v3/events"), Bucket::Events);
        assert_eq!(Bucket::of(&Method::GET, "/v3/events"), Bucket::Other);
        assert_eq!(Bucket::of(&Method::POST, "/v3/events/batch"), Bucket::Other);
        assert_eq!(
            Bucket::of(&Method::POST, "/v3/orders/status"),
            Bucket::Orders
        );
        assert_eq!(
            Bucket::of(&Method::POST, "/v3/orders/status/batch"),
            Bucket::Other
        );
        assert_eq!(Bucket::of(&Method::POST, "/v3/products"), Bucket::Products);
        assert_eq!(
            Bucket::of(&Method::POST, "/v3/products/batch"),
            Bucket::Other
        );
        assert_eq!(Bucket::of(&Method::GET, "/v3/account"), Bucket::Other);
    }

    #[test]
    fn debug_hides_keys() {
        let c = BrevoConfig::with_key("super-secret-key");
        assert!(!format!("{c:?}").contains("super-secret-key"));
    }
}
