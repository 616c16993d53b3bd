//! `bcsync listen` (keep a destination current from webhooks) and `bcsync status`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bcsync::extract::RequestCounter;
use bcsync::listen::{self, ListenOptions, ListenTarget};
use bigcommerce::ApiVersion;
use clap::Args;

use super::{Interrupt, StoreArgs};

/// The longest interval accepted (a year): anything longer is a typo.
const MAX_INTERVAL: Duration = Duration::from_secs(365 * 24 * 3600);

/// A duration: `90` (seconds), `90s`, `5m`, `1h`.
pub(super) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        _ => (s, 1),
    };
    let n = num
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| *n > 0.0 && n.is_finite())
        .ok_or_else(|| format!("{s:?} is not a duration; write e.g. 30s, 5m or 1h"))?;
    // A duration too long to represent would panic in `from_secs_f64`.
    Duration::try_from_secs_f64(n * f64::from(mult))
        .ok()
        .filter(|d| *d <= MAX_INTERVAL)
        .ok_or_else(|| format!("{s:?} is too long; write at most 365 days (e.g. 8760h)"))
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Destination: sqlite:PATH (default sqlite:bcsync.db) or postgres://USER@HOST/DB (postgres alone: DATABASE_URL).
    #[arg(long)]
    pub to: Option<String>,
    /// Address the receiver listens on (put a TLS reverse proxy in front: the store only posts to https on port 443).
    #[arg(long, default_value = "127.0.0.1:8780")]
    pub bind: SocketAddr,
    /// Public https URL the store posts to, e.g. https://hooks.example.com/webhooks (else BCSYNC_PUBLIC_URL). Without it no hooks are registered.
    #[arg(long, env = "BCSYNC_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// How often the list streams are polled incrementally to fill gaps.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// How often deletions are reconciled by listing ids.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub reconcile_interval: Duration,
    /// How often the hooks are checked (is_active) and repaired.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    pub hook_check_interval: Duration,
    /// How long a burst of events may gather before it is fetched (one read per record).
    #[arg(long, default_value = "300ms", value_parser = parse_millis)]
    pub coalesce: Duration,
    /// The longest a burst may gather when the store's quota is tight: reads are spread so event reads stay within 45% of the quota (this bounds the added latency).
    #[arg(long, default_value = "1700ms", value_parser = parse_millis)]
    pub coalesce_max: Duration,
    /// File holding the webhook secret (generated if absent; BCSYNC_WEBHOOK_SECRET overrides). Default: beside the SQLite file, or ./bcsync-STORE.webhook-secret.
    #[arg(long)]
    pub secret_file: Option<PathBuf>,
    /// Remove the hooks listen registered, then exit.
    #[arg(long)]
    pub unregister: bool,
    /// Apply the events waiting in the inbox of --to, then exit (no receiver, gap poll, reconciliation or hook watch).
    #[arg(long, conflicts_with_all = ["unregister", "nats"])]
    pub apply_pending: bool,
    /// Fleet receiver: hand accepted deliveries to this NATS JetStream server (nats://HOST:4222) instead of an inbox. Calls no store, registers no hooks. Needs --fleet; accepts the stores of the fleet's registry (BCSYNC_STATE) or --fleet-stores.
    #[arg(long, requires = "fleet", conflicts_with = "unregister")]
    pub nats: Option<String>,
    /// Fleet name (lower-case letters, digits, - and _): deliveries go to the JetStream stream BCSYNC_<NAME>.
    #[arg(long, requires = "nats")]
    pub fleet: Option<String>,
    /// Store hashes the fleet receiver accepts, comma-separated, instead of the registry's (the secret is the fleet's: BCSYNC_WEBHOOK_SECRET or --secret-file).
    #[arg(long, value_delimiter = ',', requires = "nats")]
    pub fleet_stores: Vec<String>,
    /// Bind with SO_REUSEPORT, so several fleet receivers share one --bind address and the kernel spreads connections among them.
    #[arg(long, requires = "nats")]
    pub reuse_port: bool,
}

/// `300ms`, or a duration as [`parse_duration`] reads it.
fn parse_millis(s: &str) -> Result<Duration, String> {
    match s.trim().strip_suffix("ms") {
        Some(n) => n
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| format!("{s:?} is not a duration; write e.g. 300ms or 1s")),
        None => parse_duration(s),
    }
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Destination the listener writes to, as `listen --to` takes it.
    #[arg(long)]
    pub to: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The fleet instead of one listener: stores and their lag, the job queue, workers,
    /// leases (from the registry in --state).
    #[arg(long)]
    pub fleet: bool,
    /// The fleet's PostgreSQL state store, with --fleet; else BCSYNC_STATE.
    #[arg(
        id = "fleet_state",
        long = "state",
        value_name = "URL",
        env = "BCSYNC_STATE",
        hide_env_values = true
    )]
    pub state: Option<String>,
    /// With --fleet: the NATS server of the fleet's receivers, to show the JetStream
    /// consumer's backlog.
    #[arg(long, value_name = "URL", requires = "fleet")]
    pub nats: Option<String>,
    /// With --nats: the fleet's name (its JetStream stream).
    #[arg(long, default_value = "fleet")]
    pub fleet_name: String,
}

pub async fn listen(
    config: Option<&Path>,
    args: ListenArgs,
    interrupt: &Interrupt,
) -> anyhow::Result<ExitCode> {
    if let Some(nats) = args.nats.clone() {
        return fleet_receive(config, args, &nats, interrupt).await;
    }
    let file = bcsync::config::load(config)?;
    let conn = file.connection(
        args.store.store_hash.as_deref(),
        args.store.base_url.as_deref(),
    )?;
    let counter = Arc::new(RequestCounter::default());
    let client = conn.client()?.with_observer(counter.clone());
    // One request first: a wrong token or store hash fails here, with its fix.
    client.get(ApiVersion::V2, "/time", &[]).await?;
    let to = args
        .to
        .or(file.extract.to.clone())
        .unwrap_or_else(|| "sqlite:bcsync.db".into());
    let target = ListenTarget::parse(&to, &conn.store_hash)?;
    if args.apply_pending {
        let options = listen::ApplyOptions {
            coalesce: args.coalesce,
            coalesce_max: args.coalesce_max,
            ..Default::default()
        };
        let done = listen::apply_pending(client, target, options, interrupt.token.clone()).await?;
        eprintln!(
            "applied {} pending webhook event(s): {} record(s) written, {} request(s)",
            done.events, done.records, done.requests
        );
        return Ok(interrupt.exit_code().unwrap_or(ExitCode::SUCCESS));
    }
    let secret_file = args
        .secret_file
        .unwrap_or_else(|| target.default_secret_file(&conn.store_hash));
    if args.unregister {
        // Ours are the hooks carrying our secret; other listeners' stay.
        let Some(secret) = listen::load_secret(&secret_file)? else {
            anyhow::bail!(
                "no webhook secret in {} or {}: bcsync recognises its hooks by that secret, so nothing was removed; pass the --to (or --secret-file) the listener used",
                secret_file.display(),
                listen::ENV_WEBHOOK_SECRET
            );
        };
        let n = listen::hooks::unregister(&client, &secret).await?;
        eprintln!("removed {n} webhook(s) this listener had registered");
        return Ok(ExitCode::SUCCESS);
    }
    let secret = listen::load_or_create_secret(&secret_file)?;
    if args.public_url.is_none() {
        tracing::warn!(
            "no --public-url: no webhooks are registered, only deliveries from hooks made elsewhere are received (polling still runs)"
        );
    }
    let brevo = match &file.brevo {
        Some(section) if bcsync::marketing::config::has_api_key(Some(section)) => {
            Some(listen::BrevoForwarding {
                config: bcsync::marketing::config::parse(Some(section))?,
                state: super::push::state_spec(None, &file),
            })
        }
        Some(_) => {
            tracing::warn!(
                "[brevo] is configured but no API key was found (BREVO_API_KEY or [brevo] api_key): changes are not forwarded to Brevo"
            );
            None
        }
        None => None,
    };
    let options = ListenOptions {
        bind: args.bind,
        public_url: args.public_url,
        poll_interval: args.poll_interval,
        reconcile_interval: args.reconcile_interval,
        hook_check_interval: args.hook_check_interval,
        apply: listen::ApplyOptions {
            coalesce: args.coalesce,
            coalesce_max: args.coalesce_max,
            ..Default::default()
        },
        brevo,
        alerts: listen_alerts(&file, &conn)?,
    };
    let running = listen::start(
        client,
        counter,
        target,
        secret,
        options,
        interrupt.token.clone(),
    )
    .await?;
    eprintln!(
        "listening on http://{}/webhooks for store {} (Ctrl-C stops after applying what was received)",
        running.addr, conn.store_hash
    );
    running.wait().await?;
    Ok(interrupt.exit_code().unwrap_or(ExitCode::SUCCESS))
}

/// `listen --nats URL --fleet NAME`: a receiver for many stores that publishes to the
/// fleet's JetStream stream; the workers carry the events into each store's inbox.
async fn fleet_receive(
    config: Option<&Path>,
    args: ListenArgs,
    nats: &str,
    interrupt: &Interrupt,
) -> anyhow::Result<ExitCode> {
    use bcsync::listen::jetstream;
    let Some(fleet) = args.fleet else {
        anyhow::bail!("--nats needs --fleet NAME: the fleet whose stream receives the deliveries");
    };
    let hashes: Vec<String> = args
        .fleet_stores
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    // Without --fleet-stores, the registry's stores (BCSYNC_STATE or `state`), re-read
    // while the receiver runs so stores added later are accepted.
    let registry = if hashes.is_empty() {
        let file = bcsync::config::load(config)?;
        let state = Some(super::push::state_spec(None, &file))
            .filter(|s| s.starts_with("postgres"))
            .context("--nats needs the stores it accepts: the fleet's registry (BCSYNC_STATE=postgres://... or `state` in bcsync.toml), or --fleet-stores HASH1,HASH2")?;
        Some(bcsync::fleet::Registry::open(&state).await?)
    } else {
        None
    };
    let hashes = match &registry {
        Some(r) => r
            .store_schemas()
            .await?
            .into_iter()
            .map(|(h, _)| h)
            .collect(),
        None => hashes,
    };
    // One secret for the fleet, shared by every receiver: never generated here, since a
    // receiver on another machine could not know it.
    let secret_file = args
        .secret_file
        .unwrap_or_else(|| PathBuf::from(format!("bcsync-fleet-{fleet}.webhook-secret")));
    let Some(secret) = listen::load_secret(&secret_file)? else {
        anyhow::bail!(
            "no webhook secret in {} or {}: a fleet's receivers share one secret (the one its hooks send); set it in either",
            listen::ENV_WEBHOOK_SECRET,
            secret_file.display()
        );
    };
    let stores = jetstream::stores_from(hashes);
    let n = stores.read().len();
    if let Some(registry) = registry {
        let (stores, stop) = (stores.clone(), interrupt.token.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(super::fleet::STORES_REFRESH) => {}
                }
                match registry.store_schemas().await {
                    Ok(rows) => *stores.write() = rows.into_iter().map(|(h, _)| h).collect(),
                    Err(e) => tracing::warn!("cannot re-read the fleet's stores: {e}"),
                }
            }
        });
    }
    let running = jetstream::start_receiver(
        nats,
        &fleet,
        secret,
        stores,
        args.bind,
        args.reuse_port,
        interrupt.token.clone(),
    )
    .await?;
    eprintln!(
        "listening on http://{}/webhooks for {n} store(s) of fleet {fleet}; deliveries go to JetStream stream {} (Ctrl-C stops after answering those in flight)",
        running.addr,
        jetstream::stream_name(&fleet)
    );
    running.wait().await?;
    Ok(interrupt.exit_code().unwrap_or(ExitCode::SUCCESS))
}

pub async fn status(config: Option<&Path>, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let file = bcsync::config::load(config)?;
    if args.fleet {
        let state = args.state.or_else(|| file.state.clone()).context(
            "--fleet reads the fleet's registry: give --state postgres://... (or BCSYNC_STATE)",
        )?;
        return super::fleet::status(&state, args.nats.as_deref(), &args.fleet_name, args.json)
            .await;
    }
    let store_hash = args
        .store
        .store_hash
        .clone()
        .or_else(|| std::env::var(bcsync::config::ENV_STORE_HASH).ok())
        .or_else(|| file.store_hash.clone())
        .ok_or(bcsync::Error::NoStoreHash)?;
    let to = args
        .to
        .or(file.extract.to.clone())
        .unwrap_or_else(|| "sqlite:bcsync.db".into());
    let target = ListenTarget::parse(&to, &store_hash)?;
    let mut status = listen::status::read(&target, &store_hash).await?;
    // Hook health needs the store; without a token it is left out, not guessed.
    if let Ok(conn) = file.connection(
        args.store.store_hash.as_deref(),
        args.store.base_url.as_deref(),
    ) && let Ok(client) = conn.client()
    {
        let inbox = target.open_inbox().await?;
        let url = inbox.meta("public_url").await?;
        // Without the listener's secret no hook can be told to be its own.
        let secret = listen::load_secret(&target.default_secret_file(&store_hash))?;
        match (secret, listen::hooks::list(&client).await) {
            (None, _) => {
                status.hooks = vec![(
                    "(all)".into(),
                    "unknown: the webhook secret was not found (set BCSYNC_WEBHOOK_SECRET)".into(),
                )];
            }
            (Some(secret), Ok(hooks)) => {
                status.hooks = listen::hooks::health(&hooks, &secret, url.as_deref())
                    .into_iter()
                    .map(|(s, h)| (s, h.to_owned()))
                    .collect();
            }
            (Some(_), Err(e)) => status.hooks = vec![("(all)".into(), format!("unknown: {e}"))],
        }
    }
    if file.brevo.is_some() {
        let spec = super::push::state_spec(None, &file);
        // A state store that does not exist yet means no Brevo run has happened.
        if let Ok(store) = bcsync::state::push::open_push_store(&spec, &store_hash) {
            status.brevo = bcsync::marketing::status(store.as_ref(), &store_hash)?;
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", listen::status::render(&status));
    }
    Ok(ExitCode::SUCCESS)
}

/// The `[[alert]]`s `listen` evaluates (those on hook_deactivated or lag, watching
/// `listen`), with the push state store that keeps their incidents.
fn listen_alerts(
    file: &bcsync::config::FileConfig,
    conn: &bcsync::config::StoreConnection,
) -> anyhow::Result<Option<listen::ListenAlerts>> {
    use bcsync::alerts::{Alerts, Condition, LISTEN_SYNC};
    let alerts = Alerts::from_config(file)?;
    let relevant: Vec<_> = alerts
        .defs()
        .iter()
        .filter(|d| d.watches(LISTEN_SYNC))
        .filter(|d| {
            d.on.iter()
                .any(|c| matches!(c, Condition::HookDeactivated | Condition::Lag { .. }))
        })
        .cloned()
        .collect();
    if relevant.is_empty() {
        return Ok(None);
    }
    Ok(Some(listen::ListenAlerts {
        alerts: Alerts::new(relevant)?.redact(&conn.access_token),
        state: super::push::state_spec(None, file),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_millis("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn absurd_durations_are_refused_not_a_panic() {
        for s in ["1e20", "1e300s", "1e20m", "9000000h"] {
            let e = parse_duration(s).unwrap_err();
            assert!(e.contains("too long") && e.contains(s), "{s}: {e}");
        }
        assert!(parse_millis("1e20").is_err());
        assert_eq!(parse_duration("8760h").unwrap(), MAX_INTERVAL);
    }
}
