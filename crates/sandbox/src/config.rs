//! Sandbox configuration: store identity, tokens and their scopes, plan (quota), time
//! scale, faults and the seed. Parsed from CLI flags by `bcsync sandbox`, built directly
//! by tests.

use crate::faults::FaultConfig;
use crate::seed::SeedSpec;

/// Every OAuth scope a connector cares about (docs/api-notes.md §0.1), at `modify` level.
pub const ALL_SCOPES: &[&str] = &[
    "store_v2_customers",
    "store_v2_orders",
    "store_v2_transactions",
    "store_v2_products",
    "store_v2_marketing",
    "store_v2_information",
    "store_channel_settings",
    "store_channel_listings",
    "store_cart",
    "store_inventory",
    "store_v2_content",
];

/// One API account: its token and the scopes it was granted. A scope ending in
/// `_read_only` allows only GET/HEAD on that family (docs/api-notes.md §0.1).
#[derive(Debug, Clone)]
pub struct TokenConfig {
    pub token: String,
    /// The API account's client id; hooks are visible only to their own client id.
    pub client_id: String,
    pub scopes: Vec<String>,
}

impl TokenConfig {
    /// A token with every scope at modify level.
    pub fn full(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            client_id: "sandbox-client".to_owned(),
            scopes: ALL_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Parses `TOKEN` (all scopes) or `TOKEN:scope1,scope2` as given to `--token`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (token, scopes) = match spec.split_once(':') {
            Some((t, s)) => (t, Some(s)),
            None => (spec, None),
        };
        if token.is_empty() {
            return Err(format!(
                "token spec {spec:?} has an empty token; use TOKEN or TOKEN:scope,scope"
            ));
        }
        let mut cfg = Self::full(token);
        if let Some(s) = scopes {
            cfg.scopes = s
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        cfg.client_id = format!("client-{}", &token[..token.len().min(8)]);
        Ok(cfg)
    }

    /// Whether this token may call `method` on a family that needs `scope`.
    pub fn allows(&self, scope: &str, write: bool) -> bool {
        self.scopes
            .iter()
            .any(|s| s == scope || (!write && s.strip_suffix("_read_only") == Some(scope)))
    }
}

/// The store's plan decides its request quota per window (docs/api-notes.md §0.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Standard and Plus: 150 requests per 30 s.
    Standard,
    Plus,
    /// Pro: 450 per 30 s.
    Pro,
    /// Enterprise: a configurable quota per 30 s.
    Enterprise {
        quota: u32,
    },
    /// "Unlimited" Enterprise: no quota at all (infrastructure 429s can still be injected).
    Unlimited,
}

impl Plan {
    /// Requests per window, or `None` when unlimited.
    pub fn quota(self) -> Option<u32> {
        match self {
            Plan::Standard | Plan::Plus => Some(150),
            Plan::Pro => Some(450),
            Plan::Enterprise { quota } => Some(quota),
            Plan::Unlimited => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Plan::Standard => "Standard",
            Plan::Plus => "Plus",
            Plan::Pro => "Pro",
            Plan::Enterprise { .. } => "Enterprise",
            Plan::Unlimited => "Enterprise",
        }
    }

    /// Parses `standard`, `plus`, `pro`, `enterprise` (1500), `enterprise:N`, `unlimited`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let lower = s.to_ascii_lowercase();
        match lower.as_str() {
            "standard" => Ok(Plan::Standard),
            "plus" => Ok(Plan::Plus),
            "pro" => Ok(Plan::Pro),
            "enterprise" => Ok(Plan::Enterprise { quota: 1500 }),
            "unlimited" => Ok(Plan::Unlimited),
            other => match other.strip_prefix("enterprise:") {
                Some(n) => n
                    .parse()
                    .map(|quota| Plan::Enterprise { quota })
                    .map_err(|_| {
                        format!("plan {s:?}: the quota after 'enterprise:' must be a whole number")
                    }),
                None => Err(format!(
                    "unknown plan {s:?}; use standard, plus, pro, enterprise, enterprise:N or unlimited"
                )),
            },
        }
    }
}

/// Largest accepted `time_scale`: 1000 stretches a 30 s window to over eight hours, and
/// anything far larger overflows the durations built from it.
pub const MAX_TIME_SCALE: f64 = 1000.0;

/// Everything a sandbox needs to start.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub store_hash: String,
    pub tokens: Vec<TokenConfig>,
    pub plan: Plan,
    /// Multiplies every rate-limit window (0.01 turns 30 s into 0.3 s) so benchmarks keep
    /// the real request ratios but finish fast.
    pub time_scale: f64,
    pub faults: FaultConfig,
    pub seed: SeedSpec,
    /// Largest accepted request body, bytes; larger gets 413.
    pub max_body_bytes: usize,
    /// Storefront traffic to simulate from the start (`--simulate RATE`).
    pub simulate: Option<crate::simulator::SimulateSpec>,
    /// Hosts a webhook destination may name with any scheme and port, besides the https
    /// on port 443 a real store demands and `http://127.0.0.1:*` / `http://localhost:*`
    /// (for receivers in another network namespace or container).
    pub allow_hook_hosts: Vec<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            store_hash: "sandbox".to_owned(),
            tokens: vec![TokenConfig::full("sandbox-token")],
            plan: Plan::Unlimited,
            time_scale: 1.0,
            faults: FaultConfig::default(),
            seed: SeedSpec::empty(),
            max_body_bytes: 2 * 1024 * 1024,
            simulate: None,
            allow_hook_hosts: Vec::new(),
        }
    }
}

impl SandboxConfig {
    /// `n` stores made from this one, for a fleet (`bcsync sandbox --stores N`). With
    /// `n == 1` it is this store unchanged. Otherwise store `i` (1-based) is named
    /// `{store_hash}-{i:04}` (wider past 9999 stores), each token becomes
    /// `{token}-{that hash}` with the same scopes, and the seed and simulator seeds are
    /// offset by `i - 1` so stores differ while the sizes, plan, faults and simulated rate
    /// stay the same. The tokens are the sandbox's own fakes.
    pub fn fleet(&self, n: usize) -> Vec<SandboxConfig> {
        if n == 1 {
            return vec![self.clone()];
        }
        let width = n.to_string().len().max(4);
        (1..=n)
            .map(|i| {
                let offset = (i - 1) as u64;
                let hash = format!("{}-{i:0width$}", self.store_hash);
                let mut c = self.clone();
                c.tokens = self
                    .tokens
                    .iter()
                    .map(|t| TokenConfig {
                        token: format!("{}-{hash}", t.token),
                        ..t.clone()
                    })
                    .collect();
                c.seed.seed = self.seed.seed.wrapping_add(offset);
                if let Some(sim) = &mut c.simulate {
                    sim.seed = sim.seed.wrapping_add(offset);
                }
                c.store_hash = hash;
                c
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_names_each_store_and_token_and_varies_the_seed() {
        let base = SandboxConfig {
            store_hash: "shop".to_owned(),
            seed: SeedSpec::demo(),
            ..SandboxConfig::default()
        };
        let fleet = base.fleet(3);
        let hashes: Vec<&str> = fleet.iter().map(|c| c.store_hash.as_str()).collect();
        assert_eq!(hashes, ["shop-0001", "shop-0002", "shop-0003"]);
        assert_eq!(fleet[1].tokens[0].token, "sandbox-token-shop-0002");
        assert_eq!(fleet[0].seed.seed, 42);
        assert_eq!(fleet[2].seed.seed, 44);
        assert_eq!(fleet[2].seed.customers, 500);
        assert_eq!(base.fleet(1)[0].store_hash, "shop");
        assert_eq!(base.fleet(12_000)[11_999].store_hash, "shop-12000");
        assert_eq!(base.fleet(12_000)[0].store_hash, "shop-00001");
    }
}
