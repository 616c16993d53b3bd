//! `bcsync sandbox`: a local emulator of the BigCommerce API with a seeded store, for
//! trying syncs without touching a live one.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use bc_sandbox::faults::FaultConfig;
use bc_sandbox::{Plan, SandboxConfig, SeedSpec, SimulateSpec, TokenConfig};
use clap::Args;

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
    let sandbox = bc_sandbox::start(config, addr)
        .await
        .with_context(|| format!("cannot listen on {addr}; is the port taken? try --port 0"))?;
    let counts = sandbox.state.data.read().counts();
    eprintln!(
        "bcsync sandbox: store {:?} seeded in {:.2}s: {}",
        sandbox.store_hash(),
        started.elapsed().as_secs_f64(),
        serde_json::Value::Object(counts)
    );
    eprintln!("  API:    {}/v3/... and /v2/...", sandbox.store_url());
    eprintln!(
        "  admin:  {}/_sandbox/requests, /_sandbox/counts, /_sandbox/stats, /_sandbox/events, /_sandbox/deliveries",
        sandbox.base_url()
    );
    eprintln!(
        "  try:    BIGCOMMERCE_STORE_HASH={} BIGCOMMERCE_ACCESS_TOKEN={} bcsync extract --base-url {}",
        sandbox.store_hash(),
        sandbox.token(),
        sandbox.base_url()
    );
    if let Some(spec) = &sandbox.state.config.simulate {
        eprintln!(
            "  simulating {} store actions per second (seed {}): {}/_sandbox/simulate",
            spec.rate,
            spec.seed,
            sandbox.base_url()
        );
    }
    eprintln!("  stop with Ctrl-C");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    sandbox.stop().await;
    Ok(ExitCode::SUCCESS)
}
