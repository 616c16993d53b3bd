//! Command-line interface: one module per command family. `bcsync --config tap.json
//! --discover|--catalog` (no subcommand) behaves as a Singer tap, so Meltano can run the
//! binary as a custom extractor directly.

mod demo;
mod extract;
mod push;
mod runs;
mod sandbox;
mod singer;

use std::path::PathBuf;
use std::process::ExitCode;

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
    Discover(extract::DiscoverArgs),
    /// Extract streams into SQLite (default), Singer on stdout, or JSON lines.
    Extract(extract::ExtractArgs),
    /// Start a seeded sandbox in-process and extract it into ./bcsync-demo.db.
    Demo(demo::DemoArgs),
    /// Push warehouse rows (CSV, SQLite, PostgreSQL) into customers, products and orders ([[sync]] definitions).
    Push(push::PushArgs),
    /// Push run records: `bcsync runs`, `bcsync runs show ID [--format json|csv]`.
    Runs(runs::RunsArgs),
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

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Sandbox(args)) => sandbox::run(args).await,
        Some(Command::Check(args)) => extract::check(cli.config.as_deref(), args).await,
        Some(Command::Discover(args)) => extract::discover(args),
        Some(Command::Extract(args)) => extract::extract(cli.config.as_deref(), args).await,
        Some(Command::Demo(args)) => demo::run(args).await,
        Some(Command::Push(args)) => push::run(cli.config.as_deref(), args).await,
        Some(Command::Runs(args)) => runs::run(cli.config.as_deref(), args),
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
            )
            .await
        }
        None => {
            use clap::CommandFactory;
            Cli::command().print_help()?;
            Ok(ExitCode::from(2))
        }
    }
}
