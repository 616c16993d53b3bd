//! `bcsync sandbox`: a local emulator of the BigCommerce API with a seeded store, for
//! trying syncs without touching a live one; `bcsync sandbox brevo` serves an emulator of
//! Brevo's API v3 instead.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use bc_sandbox::faults::FaultConfig;
use bc_sandbox::{Plan, SandboxConfig, SeedSpec, SimulateSpec, TokenConfig};
use clap::{Args, Subcommand};

#[derive(Debug, Clone, Args)]
pub struct SandboxArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8700)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The store hash served under /stores/{hash}/.
    #[arg(long, default_value = "sandbox")]
    pub store_hash: String,
    /// Accepted token, `TOKEN` (every scope) or `TOKEN:scope,scope` (repeatable). These are
    /// the sandbox's own test tokens, not real credentials.
    #[arg(long = "token", default_value = "sandbox-token")]
    pub tokens: Vec<String>,
    /// Seed: `demo` (a small realistic store), `empty`, or a number (demo sizes, that seed).
    #[arg(long, default_value = "demo")]
    pub seed: String,
    /// Number of customers (overrides the seed's).
    #[arg(long)]
    pub customers: Option<usize>,
    /// Number of products (overrides the seed's).
    #[arg(long)]
    pub products: Option<usize>,
    /// Number of orders (overrides the seed's).
    #[arg(long)]
    pub orders: Option<usize>,
    /// Variants per product.
    #[arg(long)]
    pub variants: Option<usize>,
    /// Images per product.
    #[arg(long)]
    pub images: Option<usize>,
    /// Lines per order.
    #[arg(long)]
    pub lines: Option<usize>,
    /// Plan: standard, plus, pro, enterprise, enterprise:N (requests per 30 s), unlimited.
    #[arg(long, default_value = "standard")]
    pub plan: String,
    /// Multiplies the store's clock: the rate-limit window, the webhook retry, window and
    /// block times, and the hour after which an idle cart counts as abandoned (0.01 turns
    /// 30 s into 0.3 s).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Faults to inject, e.g. `seed=7,500=0.05,reset=0.02` (see the sandbox docs).
    #[arg(long, default_value = "")]
    pub faults: String,
    /// A host webhook destinations may name with http or any port (repeatable), e.g. a
    /// receiver in another container. A real store takes only https on port 443; the
    /// sandbox also always takes http://127.0.0.1:PORT and http://localhost:PORT.
    #[arg(long = "allow-hook-host", value_name = "HOST")]
    pub allow_hook_hosts: Vec<String>,
    /// Simulate storefront traffic at RATE store actions per second from the start: carts,
    /// orders, customers, products and stock, each firing its webhooks (status, stop and
    /// other runs under /_sandbox/simulate).
    #[arg(long, value_name = "RATE")]
    pub simulate: Option<f64>,
    /// Seed of the simulated traffic: the same seed on the same store gives the same actions.
    #[arg(long, default_value_t = 1, requires = "simulate")]
    pub simulate_seed: u64,
    /// Serve N independent stores on the one port, each with its own data, tokens, quota,
    /// faults, webhooks and simulator. With N > 1 the hashes are STORE_HASH-0001,
    /// STORE_HASH-0002, ..., each token becomes TOKEN-HASH, and each store is seeded (and
    /// simulated) with the seed plus its index so stores differ. The hashes and tokens are
    /// printed to stderr: they are the sandbox's own fakes, not credentials.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub stores: u32,
    /// Write every store as a JSON line {"store_hash","token","base_url"} to FILE, so
    /// scripts can register the fleet.
    #[arg(long, value_name = "FILE")]
    pub stores_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub emulator: Option<SandboxCommand>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum SandboxCommand {
    /// Serve a local emulator of Brevo's API v3 (contacts, lists, imports, events,
    /// e-commerce) instead of the BigCommerce store.
    Brevo(Box<BrevoArgs>),
}

#[derive(Debug, Clone, Args)]
pub struct BrevoArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8800)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Accepted `api-key` header value (repeatable; each key has its own rate buckets).
    /// These are the emulator's own test keys, not real credentials.
    #[arg(long = "api-key", default_value = bc_sandbox::brevo::DEFAULT_API_KEY)]
    pub api_keys: Vec<String>,
    /// Rate-limit tier: general, advanced, extended, tiny (3 requests per hour per bucket,
    /// to force 429s), unlimited, optionally followed by overrides such as
    /// `general,contacts=2/s+50/h,other=5/h`.
    #[arg(long, default_value = "general")]
    pub tier: String,
    /// Multiplies every duration of the emulator: rate windows, import and order-batch
    /// processing, the activation delay (0.01 turns an hour window into 36 s).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Faults to inject, e.g. `seed=7,500=0.05,503=0.02,429=0.02,425=0.01,slow=0.05:1500,burst429=5@100`.
    #[arg(long, default_value = "")]
    pub faults: String,
    /// Seconds after POST /v3/ecommerce/activate before products, categories and orders
    /// are accepted (scaled by --time-scale).
    #[arg(long, default_value_t = 300.0)]
    pub activation_delay: f64,
    /// Start with the e-commerce app already active.
    #[arg(long)]
    pub ecommerce_active: bool,
    /// Flip an uncertain behaviour (repeatable): reject_wrong_type, contacts_batch_gone,
    /// events_create_contacts, french_default_attributes, products_raised_limit.
    #[arg(long = "switch", value_name = "NAME")]
    pub switches: Vec<String>,
}

impl BrevoArgs {
    pub fn to_config(&self) -> anyhow::Result<bc_sandbox::brevo::BrevoConfig> {
        use bc_sandbox::brevo::{BrevoConfig, BrevoFaults, Switches, TierLimits};
        if !(self.activation_delay >= 0.0 && self.activation_delay.is_finite()) {
            anyhow::bail!(
                "--activation-delay must be a number of seconds, 0 or more; got {}",
                self.activation_delay
            );
        }
        let mut switches = Switches::default();
        for name in &self.switches {
            match name.as_str() {
                "reject_wrong_type" => switches.reject_wrong_type = true,
                "contacts_batch_gone" => switches.contacts_batch_gone = true,
                "events_create_contacts" => switches.events_create_contacts = true,
                "french_default_attributes" => switches.french_default_attributes = true,
                "products_raised_limit" => switches.products_raised_limit = true,
                other => anyhow::bail!(
                    "--switch {other:?} is not a switch; use reject_wrong_type, contacts_batch_gone, \
                     events_create_contacts, french_default_attributes or products_raised_limit"
                ),
            }
        }
        let config = BrevoConfig {
            api_keys: self
                .api_keys
                .iter()
                .map(|k| secrecy::SecretString::from(k.clone()))
                .collect(),
            limits: TierLimits::parse(&self.tier).map_err(|e| anyhow::anyhow!("--tier: {e}"))?,
            time_scale: self.time_scale,
            activation_delay: std::time::Duration::from_secs_f64(self.activation_delay),
            ecommerce_active: self.ecommerce_active,
            switches,
            faults: BrevoFaults::parse(&self.faults)
                .map_err(|e| anyhow::anyhow!("--faults: {e}"))?,
        };
        config
            .validate()
            .map_err(|e| anyhow::anyhow!("--time-scale or --api-key: {e}"))?;
        Ok(config)
    }
}

/// `bcsync sandbox brevo`: serves the Brevo emulator until Ctrl-C.
pub async fn run_brevo(args: BrevoArgs) -> anyhow::Result<ExitCode> {
    let config = args.to_config()?;
    let addr: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .with_context(|| {
            format!(
                "--host {} --port {} is not an address",
                args.host, args.port
            )
        })?;
    let tier = config.limits.tier.clone();
    let brevo = bc_sandbox::brevo::start_brevo(config, addr)
        .await
        .with_context(|| format!("cannot listen on {addr}; is the port taken? try --port 0"))?;
    eprintln!("bcsync sandbox brevo: Brevo API v3 emulator ({tier} rate limits)");
    eprintln!("  API:    {}", brevo.base_url());
    eprintln!(
        "  admin:  {}/state, /requests, /counts, /clock/advance, /seed, /faults, /limits, /switches, /reset",
        brevo.admin_url()
    );
    eprintln!("  auth:   send the header api-key with the key given by --api-key");
    eprintln!("  stop with Ctrl-C");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    brevo.stop().await;
    Ok(ExitCode::SUCCESS)
}

impl SandboxArgs {
    pub fn to_config(&self) -> anyhow::Result<SandboxConfig> {
        let mut seed = SeedSpec::parse(&self.seed).map_err(anyhow::Error::msg)?;
        if let Some(n) = self.customers {
            seed.customers = n;
        }
        if let Some(n) = self.products {
            seed.products = n;
        }
        if let Some(n) = self.orders {
            seed.orders = n;
        }
        if let Some(n) = self.variants {
            seed.variants_per_product = n;
        }
        if let Some(n) = self.images {
            seed.images_per_product = n;
        }
        if let Some(n) = self.lines {
            seed.lines_per_order = n;
        }
        if !(self.time_scale > 0.0 && self.time_scale <= bc_sandbox::config::MAX_TIME_SCALE) {
            anyhow::bail!(
                "--time-scale must be a positive number up to {} (e.g. 0.01); got {}",
                bc_sandbox::config::MAX_TIME_SCALE,
                self.time_scale
            );
        }
        let simulate = match self.simulate {
            Some(rate) => {
                let spec = SimulateSpec {
                    seed: self.simulate_seed,
                    ..SimulateSpec::endless(rate)
                };
                spec.validate()
                    .map_err(|e| anyhow::anyhow!("--simulate: {e}"))?;
                Some(spec)
            }
            None => None,
        };
        let tokens = self
            .tokens
            .iter()
            .map(|t| TokenConfig::parse(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?;
        Ok(SandboxConfig {
            store_hash: self.store_hash.clone(),
            tokens,
            plan: Plan::parse(&self.plan).map_err(anyhow::Error::msg)?,
            time_scale: self.time_scale,
            faults: FaultConfig::parse(&self.faults).map_err(anyhow::Error::msg)?,
            seed,
            allow_hook_hosts: self.allow_hook_hosts.clone(),
            simulate,
            ..SandboxConfig::default()
        })
    }
}

pub async fn run(args: SandboxArgs) -> anyhow::Result<ExitCode> {
    if let Some(SandboxCommand::Brevo(brevo)) = args.emulator {
        return run_brevo(*brevo).await;
    }
    let config = args.to_config()?;
    let addr: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .with_context(|| {
            format!(
                "--host {} --port {} is not an address",
                args.host, args.port
            )
        })?;
    let started = std::time::Instant::now();
    let configs = config.fleet(args.stores as usize);
    let sandbox = bc_sandbox::start_stores(configs, addr)
        .await
        .with_context(|| format!("cannot serve on {addr}; is the port taken? try --port 0"))?;
    let base = sandbox.base_url();
    if let Some(path) = &args.stores_file {
        write_stores_file(&sandbox, path)?;
    }
    if sandbox.len() == 1 {
        let counts = sandbox.state(0).data.read().counts();
        eprintln!(
            "bcsync sandbox: store {:?} seeded in {:.2}s: {}",
            sandbox.store_hash(0),
            started.elapsed().as_secs_f64(),
            serde_json::Value::Object(counts)
        );
        eprintln!("  API:    {}/v3/... and /v2/...", sandbox.store_url(0));
        eprintln!(
            "  admin:  {base}/_sandbox/requests, /_sandbox/counts, /_sandbox/stats, /_sandbox/events, /_sandbox/deliveries"
        );
        eprintln!(
            "  try:    BIGCOMMERCE_STORE_HASH={} BIGCOMMERCE_ACCESS_TOKEN={} bcsync extract --base-url {base}",
            sandbox.store_hash(0),
            sandbox.token(0),
        );
    } else {
        eprintln!(
            "bcsync sandbox: {} stores seeded in {:.2}s (each {} records); the tokens are the sandbox's own fakes",
            sandbox.len(),
            started.elapsed().as_secs_f64(),
            sandbox
                .state(0)
                .data
                .read()
                .counts()
                .values()
                .filter_map(serde_json::Value::as_u64)
                .sum::<u64>(),
        );
        let width = sandbox.store_hash(sandbox.len() - 1).len();
        let token_width = sandbox.token(sandbox.len() - 1).len();
        eprintln!("  {:width$}  {:token_width$}  store URL", "hash", "token");
        for i in 0..sandbox.len() {
            eprintln!(
                "  {:width$}  {:token_width$}  {}",
                sandbox.store_hash(i),
                sandbox.token(i),
                sandbox.store_url(i)
            );
        }
        eprintln!(
            "  admin:  {base}/_sandbox/stores lists the stores; {base}/_sandbox/stores/HASH/requests, /counts, /stats, /events, /deliveries, ... per store"
        );
        eprintln!(
            "  try:    BIGCOMMERCE_STORE_HASH={} BIGCOMMERCE_ACCESS_TOKEN={} bcsync extract --base-url {base}",
            sandbox.store_hash(0),
            sandbox.token(0),
        );
    }
    if let Some(spec) = &sandbox.state(0).config.simulate {
        eprintln!(
            "  simulating {} store actions per second per store (seed {}{}): {base}/_sandbox/simulate",
            spec.rate,
            spec.seed,
            if sandbox.len() > 1 {
                " plus the store's index"
            } else {
                ""
            },
        );
    }
    if let Some(path) = &args.stores_file {
        eprintln!("  stores written to {}", path.display());
    }
    eprintln!("  stop with Ctrl-C");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    sandbox.stop().await;
    Ok(ExitCode::SUCCESS)
}

/// Writes one JSON line per store; the file is complete before the banner says so.
fn write_stores_file(
    sandbox: &bc_sandbox::RunningFleetSandbox,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let mut out = String::new();
    for i in 0..sandbox.len() {
        out.push_str(
            &serde_json::json!({
                "store_hash": sandbox.store_hash(i),
                "token": sandbox.token(i),
                "base_url": sandbox.base_url(),
            })
            .to_string(),
        );
        out.push('\n');
    }
    // Written next to the target and renamed, so a script polling for the file never
    // reads half of it.
    let tmp = path.with_extension("tmp-bcsync");
    std::fs::write(&tmp, out).with_context(|| {
        format!(
            "cannot write --stores-file {}; is its directory writable?",
            tmp.display()
        )
    })?;
    std::fs::rename(&tmp, path).with_context(|| {
        format!(
            "cannot write --stores-file {}; is its directory writable?",
            path.display()
        )
    })?;
    Ok(())
}
