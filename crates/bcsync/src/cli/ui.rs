//! `bcsync ui`: serves the local dashboard (see `bcsync::ui`) until Ctrl-C.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use bcsync::ui::{DEFAULT_LISTEN, ENV_UI_TOKEN, Stores, UiServer, UiSources, needs_token};
use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use super::push::state_spec;

#[derive(Debug, Args)]
pub struct UiArgs {
    /// Address to serve on (port 0 picks a free one, printed at start). Beyond loopback
    /// every request needs the token: BCSYNC_UI_TOKEN, else ui_token in bcsync.toml, else
    /// one generated and printed at start.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Push state store, as `bcsync push --state` takes it (default bcsync-push.db, else
    /// `state` in bcsync.toml).
    #[arg(long = "state", value_name = "FILE|URL")]
    pub state: Option<String>,
    /// Extraction destination whose streams and tables are shown, as `bcsync extract --to`
    /// takes it (else [extract] to in bcsync.toml, else sqlite:bcsync.db).
    #[arg(long, value_name = "DEST")]
    pub to: Option<String>,
    /// Store hash shown, and naming the PostgreSQL schema of an extraction (else
    /// BIGCOMMERCE_STORE_HASH, else store_hash in bcsync.toml).
    #[arg(long)]
    pub store_hash: Option<String>,
    /// A fleet's NATS server (nats://HOST:4222): the fleet page shows the webhook
    /// deliveries JetStream holds for the workers. Needs --fleet.
    #[arg(long, value_name = "URL", requires = "fleet")]
    pub nats: Option<String>,
    /// The fleet's name (its JetStream stream), with --nats.
    #[arg(long, value_name = "NAME", requires = "nats")]
    pub fleet: Option<String>,
}

pub async fn run(config: Option<&Path>, args: UiArgs) -> anyhow::Result<ExitCode> {
    let file = bcsync::config::load(config)?;
    let sources = UiSources {
        state: state_spec(args.state.as_deref(), &file),
        extract_to: args
            .to
            .or(file.extract.to.clone())
            .unwrap_or_else(|| "sqlite:bcsync.db".into()),
        store_hash: args
            .store_hash
            .or_else(|| std::env::var(bcsync::config::ENV_STORE_HASH).ok())
            .or_else(|| file.store_hash.clone()),
        fleet_nats: args.nats.zip(args.fleet),
    };
    // With a token the status page says whether the store answers, and its quota; the
    // dashboard works without one.
    let store_client = file
        .connection(sources.store_hash.as_deref(), None)
        .ok()
        .and_then(|c| c.client().ok());
    let stores = Stores::asking(sources, store_client)?;
    let (token, generated) = if needs_token(&args.listen) {
        match std::env::var(ENV_UI_TOKEN)
            .ok()
            .filter(|t| !t.trim().is_empty())
            .map(SecretString::from)
            .or_else(|| file.ui_token.clone())
        {
            Some(t) => (Some(t), false),
            None => (Some(bcsync::mcp::http::generate_token()), true),
        }
    } else {
        (None, false)
    };
    let server = UiServer::bind(stores, args.listen, token.as_ref())
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; choose another --listen address",
                args.listen
            )
        })?;
    let bound = server.local_addr()?;
    eprintln!("bcsync ui: serving the dashboard at http://{bound}/");
    match &token {
        None => eprintln!("bcsync ui: bound to loopback: no token needed"),
        Some(t) if generated => {
            // Shown once, for the operator to open the page with; never logged.
            eprintln!(
                "bcsync ui: reachable beyond this machine, so every request needs this token \
                 (set {ENV_UI_TOKEN} to choose one): {}",
                t.expose_secret()
            );
            eprintln!(
                "bcsync ui: open http://{bound}/?token={} in a browser",
                t.expose_secret()
            );
        }
        Some(_) => eprintln!(
            "bcsync ui: reachable beyond this machine: every request needs the token \
             ({ENV_UI_TOKEN} or ui_token in bcsync.toml)"
        ),
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        on_signal.cancel();
    });
    server
        .serve(stop)
        .await
        .context("the dashboard server stopped")?;
    Ok(ExitCode::SUCCESS)
}
