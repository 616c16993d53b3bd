//! `bcsync alerts test [--name NAME]` (a test notice to each `[[alert]]` destination, OK
//! or the error with its fix) and `bcsync alerts list` (the open incidents).

use std::path::Path;
use std::process::ExitCode;

use bcsync::alerts::Alerts;
use bcsync::state::push::{StateLocation, locate, open_push_store};
use clap::{Args, Subcommand};

use super::push::state_spec;

#[derive(Debug, Args)]
pub struct AlertsArgs {
    #[command(subcommand)]
    pub command: AlertsCommand,
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Send a test notice to each alert's destination; print OK or the error with its fix.
    Test {
        /// Test only this alert.
        #[arg(long)]
        name: Option<String>,
    },
    /// The open incidents: alert, condition, sync, since when, and whether it was sent.
    List {
        /// Push state store, as `bcsync push --state` takes it (else `state` in
        /// bcsync.toml, else bcsync-push.db).
        #[arg(long, value_name = "FILE|URL")]
        state: Option<String>,
    },
}

pub async fn run(config: Option<&Path>, args: AlertsArgs) -> anyhow::Result<ExitCode> {
    let file = bcsync::config::load(config)?;
    let alerts = Alerts::from_config(&file)?;
    match args.command {
        AlertsCommand::Test { name } => {
            let store = file.store_hash(None).unwrap_or_else(|| "-".into());
            let results = alerts.test(name.as_deref(), &store).await?;
            let mut failed = false;
            for r in &results {
                match &r.result {
                    Ok(()) => println!("{}: {}: OK", r.alert, r.destination),
                    Err(e) => {
                        failed = true;
                        println!(
                            "{}: {}: FAILED: {}",
                            r.alert,
                            r.destination,
                            alerts.clean(&e.to_string())
                        );
                    }
                }
            }
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        AlertsCommand::List { state } => {
            let spec = state_spec(state.as_deref(), &file);
            if let StateLocation::Sqlite(path) = locate(&spec)?
                && !path.exists()
            {
                println!("no open incidents ({} does not exist yet)", path.display());
                return Ok(ExitCode::SUCCESS);
            }
            let store = open_push_store(&spec, "")?;
            let incidents = store.open_incidents()?;
            if incidents.is_empty() {
                println!("no open incidents");
            }
            for i in incidents {
                println!(
                    "{}\t{}\t{}\t{}\tsince {}\trun {}\t{}\t{}",
                    i.store,
                    i.alert,
                    i.condition,
                    i.sync,
                    i.opened_at,
                    i.run_id,
                    if i.notified { "sent" } else { "not sent yet" },
                    i.summary
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
