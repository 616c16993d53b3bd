//! Command-line interface: one module per command family. `bcsync --config tap.json
//! --discover|--catalog` (no subcommand) behaves as a Singer tap, so Meltano can run the
//! binary as a custom extractor directly.

mod airbyte;
mod alerts;
mod api;
mod brevo;
mod demo;
mod extract;
mod fleet;
mod listen;
mod mcp;
mod models;
mod output;
mod push;
mod resources;
mod runs;
mod sandbox;
mod singer;
mod ui;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use clap::{Args, Parser, Subcommand};

/// Move data between BigCommerce stores and your databases, fast and without losing a record.
#[derive(Debug, Parser)]
#[command(name = "bcsync", version, propagate_version = true)]
pub struct Cli {
    /// Config file: bcsync.toml for commands (default ./bcsync.toml if present); a Singer
    /// config JSON in tap mode (with --discover, --catalog or --state and no command).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Singer tap mode: print the catalog of streams and exit.
    #[arg(long)]
    pub discover: bool,

    /// Singer tap mode: extract the streams selected in this catalog.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,

    /// Singer tap mode: resume from this state (the last STATE message's value).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// More log detail on stderr (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a local emulator of the BigCommerce API with a seeded store.
    Sandbox(sandbox::SandboxArgs),
    /// Check the connection: store name, plan, quota, and which scopes the token has.
    Check(StoreArgs),
    /// List the streams bcsync extracts (--json for a Singer catalog).
    ///
    /// The list is built in and the same for every store: --store-hash and --base-url are
    /// accepted, so the command line of `check` or `extract` works, and not needed.
    Discover(extract::DiscoverArgs),
    /// Extract streams into SQLite (default), Singer on stdout, or JSON lines.
    Extract(extract::ExtractArgs),
    /// Model tables computed from the extracted tables (inventory), refreshed and exported.
    Models(models::ModelsArgs),
    /// Start a seeded sandbox in-process and extract it into ./bcsync-demo.db.
    Demo(demo::DemoArgs),
    /// Push warehouse rows (CSV, SQLite, PostgreSQL) into customers, products and orders ([[sync]] definitions).
    Push(push::PushArgs),
    /// Push run records: `bcsync runs`, `bcsync runs show ID [--format json|csv]`.
    Runs(runs::RunsArgs),
    /// Orders: list (filters), get (lines, addresses, shipments, coupons), update.
    Orders(resources::OrdersArgs),
    /// Products: list (filters), get (by id or any SKU), create, update, delete.
    Products(resources::ProductsArgs),
    /// Categories: list a channel's category tree.
    Categories(resources::CategoriesArgs),
    /// Customers: list (filters), get (with addresses), create, update.
    Customers(resources::CustomersArgs),
    /// A raw request to any V2/V3 path of the store: `bcsync api GET /v3/catalog/brands`.
    Api(api::ApiArgs),
    /// Serve the store's operations as MCP tools for AI agents (stdio, or --http ADDR).
    Mcp(mcp::McpArgs),
    /// Keep a destination current from the store's webhooks (with polling to fill gaps).
    Listen(listen::ListenArgs),
    /// What a listener is doing: connected, last event, last sync, lag, inbox, tables, hooks.
    Status(listen::StatusArgs),
    // Its help is the doc of `AirbyteArgs` (a doc comment here would replace it).
    Airbyte(airbyte::AirbyteArgs),
    /// Marketing sync to Brevo: contacts with attributes and lists, catalog and orders.
    Brevo(brevo::BrevoArgs),
    /// A local web dashboard: status, run history, one run's rejected rows and requests.
    Ui(ui::UiArgs),
    /// Alerts ([[alert]] in bcsync.toml): send a test to each destination, list open incidents.
    Alerts(alerts::AlertsArgs),
    /// The fleet's stores (PostgreSQL registry): add, list, remove, pause, resume.
    Stores(fleet::StoresArgs),
    /// Run the fleet's due jobs: lease stores from the registry, run their extractions,
    /// events, pushes and Brevo syncs; any number of workers on any number of machines.
    Worker(fleet::WorkerArgs),
}

/// Which store to talk to. The access token comes only from the environment
/// (BIGCOMMERCE_ACCESS_TOKEN) or the config file, never from the command line.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Store hash (else BIGCOMMERCE_STORE_HASH, else store_hash in bcsync.toml).
    #[arg(long)]
    pub store_hash: Option<String>,
    /// API base URL, e.g. http://127.0.0.1:8700 for a sandbox (else BIGCOMMERCE_BASE_URL,
    /// else base_url in bcsync.toml, else https://api.bigcommerce.com).
    #[arg(long)]
    pub base_url: Option<String>,
}

/// Exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells report it.
pub const EXIT_INTERRUPTED: u8 = 130;
/// Exit code of a run stopped by SIGTERM (128 + SIGTERM).
pub const EXIT_TERMINATED: u8 = 143;
/// Exit code of a command line that could not be understood (clap's own code too).
pub const EXIT_USAGE: u8 = 2;

/// Ctrl-C and SIGTERM. The first one cancels `token` (an extraction then stops issuing
/// requests, commits what it has and prints its summary); a second one exits at once.
pub struct Interrupt {
    pub token: tokio_util::sync::CancellationToken,
    code: Arc<AtomicU8>,
}

impl Interrupt {
    /// Starts listening for the signals.
    pub fn listen() -> Self {
        let token = tokio_util::sync::CancellationToken::new();
        let code = Arc::new(AtomicU8::new(0));
        let (t, c) = (token.clone(), Arc::clone(&code));
        tokio::spawn(async move {
            let first = first_signal().await;
            c.store(first, Ordering::SeqCst);
            t.cancel();
            eprintln!(
                "stopping: finishing the writes in progress (press Ctrl-C again to quit at once)"
            );
            next_signal().await;
            std::process::exit(i32::from(first));
        });
        Self { token, code }
    }

    /// The exit code for the signal received, if one was.
    pub fn exit_code(&self) -> Option<ExitCode> {
        match self.code.load(Ordering::SeqCst) {
            0 => None,
            c => Some(ExitCode::from(c)),
        }
    }
}

/// Cancelled when the fleet worker that started this process is gone
/// ([`fleet::exit_with_parent`]): treated as a SIGTERM.
static PARENT_GONE: std::sync::LazyLock<tokio_util::sync::CancellationToken> =
    std::sync::LazyLock::new(tokio_util::sync::CancellationToken::new);

/// Waits for Ctrl-C, SIGTERM or the parent worker's end, and returns the matching exit
/// code.
async fn first_signal() -> u8 {
    tokio::select! {
        code = next_signal() => code,
        _ = PARENT_GONE.cancelled() => EXIT_TERMINATED,
    }
}

/// Waits for Ctrl-C or SIGTERM and returns the matching exit code.
async fn next_signal() -> u8 {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => EXIT_INTERRUPTED,
                _ = term.recv() => EXIT_TERMINATED,
            };
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    EXIT_INTERRUPTED
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // A job a fleet worker started stops with it (graceful first, as SIGTERM).
    fleet::exit_with_parent(PARENT_GONE.clone());
    match cli.command {
        Some(Command::Sandbox(args)) => sandbox::run(args).await,
        Some(Command::Check(args)) => extract::check(cli.config.as_deref(), args).await,
        Some(Command::Discover(args)) => extract::discover(args),
        Some(Command::Extract(args)) => {
            extract::extract(cli.config.as_deref(), args, &Interrupt::listen()).await
        }
        Some(Command::Models(args)) => models::run(cli.config.as_deref(), args),
        Some(Command::Demo(args)) => demo::run(args, &Interrupt::listen()).await,
        Some(Command::Push(args)) => {
            // The push engine sends no new batch once interrupted, records the run as
            // interrupted with its counts, and `push::run` prints the summary so far; a
            // second signal exits at once (what a kill leaves, the next run reconciles).
            let interrupt = Interrupt::listen();
            let r = push::run(cli.config.as_deref(), args, &interrupt.token).await;
            match interrupt.exit_code() {
                Some(code) if r.is_ok() => Ok(code),
                _ => r,
            }
        }
        Some(Command::Runs(args)) => runs::run(cli.config.as_deref(), args),
        Some(Command::Orders(args)) => resources::orders(cli.config.as_deref(), args).await,
        Some(Command::Products(args)) => resources::products(cli.config.as_deref(), args).await,
        Some(Command::Categories(args)) => resources::categories(cli.config.as_deref(), args).await,
        Some(Command::Customers(args)) => resources::customers(cli.config.as_deref(), args).await,
        Some(Command::Api(args)) => api::run(cli.config.as_deref(), args).await,
        Some(Command::Mcp(args)) => mcp::run(cli.config.as_deref(), args).await,
        Some(Command::Listen(args)) => {
            listen::listen(cli.config.as_deref(), args, &Interrupt::listen()).await
        }
        Some(Command::Status(args)) => listen::status(cli.config.as_deref(), args).await,
        Some(Command::Brevo(args)) => brevo::run(cli.config.as_deref(), args).await,
        Some(Command::Ui(args)) => ui::run(cli.config.as_deref(), args).await,
        Some(Command::Alerts(args)) => alerts::run(cli.config.as_deref(), args).await,
        Some(Command::Stores(args)) => fleet::stores(args).await,
        Some(Command::Worker(args)) => fleet::worker(args, &Interrupt::listen()).await,
        Some(Command::Airbyte(args)) => {
            airbyte::run(cli.config.as_deref(), args, &Interrupt::listen()).await
        }
        None if cli.discover
            || cli.catalog.is_some()
            || cli.state.is_some()
            || cli.config.is_some() =>
        {
            singer::run(
                cli.config.as_deref(),
                cli.discover,
                cli.catalog.as_deref(),
                cli.state.as_deref(),
                &Interrupt::listen(),
            )
            .await
        }
        None => {
            use clap::CommandFactory;
            Cli::command().print_help()?;
            Ok(ExitCode::from(EXIT_USAGE))
        }
    }
}
