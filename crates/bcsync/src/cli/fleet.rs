//! `bcsync stores add|list|remove|pause|resume`, `bcsync worker` and `bcsync status
//! --fleet`: the fleet's registry, its workers and its dashboard in text
//! (`bcsync::fleet`, docs/ARCHITECTURE.md "Fleet").
//!
//! A worker runs each job as a child `bcsync` process (extract, push, brevo sync, listen
//! --apply-pending) with the store's token, destination and state store in its
//! environment, never on its command line. A child is one store's one job: its crash
//! never takes the worker or another store with it, its memory is returned when it ends,
//! and the engines run exactly as they do from the command line. Children watch their
//! parent (`BCSYNC_EXIT_WITH_PARENT`): a worker killed with `kill -9` leaves none running
//! when its lease lapses and another worker takes the store over.

use std::collections::VecDeque;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bcsync::fleet::{Claim, JobKind, JobOutcome, NewStore, Registry};
use clap::{Args, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Interrupt;
use super::listen::parse_duration;

/// The environment variable that makes a command exit when its parent process is gone
/// (set by a worker on every job it starts).
pub const ENV_EXIT_WITH_PARENT: &str = "BCSYNC_EXIT_WITH_PARENT";

/// Where the fleet lives: the PostgreSQL state store.
#[derive(Debug, Clone, Args)]
pub struct FleetStateArgs {
    /// The fleet's PostgreSQL state store, postgres://USER@HOST:PORT/DB[?schema=NAME]
    /// (schema bcsync by default); else BCSYNC_STATE.
    #[arg(
        id = "fleet_state",
        long = "state",
        value_name = "URL",
        env = "BCSYNC_STATE",
        hide_env_values = true
    )]
    pub state: String,
}

#[derive(Debug, Args)]
pub struct StoresArgs {
    #[command(subcommand)]
    pub command: StoresCommand,
}

#[derive(Debug, Subcommand)]
pub enum StoresCommand {
    /// Register a store, or change a registered one (schedule, credentials reference).
    Add(Box<AddStoreArgs>),
    /// The registered stores, their schedules and leases.
    List {
        #[command(flatten)]
        state: FleetStateArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Forget a store and its schedule (its data and run history stay).
    Remove {
        store_hash: String,
        #[command(flatten)]
        state: FleetStateArgs,
    },
    /// Stop running a store's jobs (a job running now finishes).
    Pause {
        store_hash: String,
        #[command(flatten)]
        state: FleetStateArgs,
    },
    /// Run a paused store's jobs again.
    Resume {
        store_hash: String,
        #[command(flatten)]
        state: FleetStateArgs,
    },
}

#[derive(Debug, Args)]
pub struct AddStoreArgs {
    /// The store hash (the part after /stores/ in its API path).
    pub store_hash: String,
    #[command(flatten)]
    pub state: FleetStateArgs,
    /// Environment variable holding the store's access token on every worker machine
    /// (the token itself is never stored).
    #[arg(long, value_name = "NAME", conflicts_with = "token_file")]
    pub token_env: Option<String>,
    /// File holding the store's access token on every worker machine.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<String>,
    /// API base URL (default https://api.bigcommerce.com; a sandbox's for tests).
    #[arg(long)]
    pub base_url: Option<String>,
    /// A bcsync.toml with the store's [[sync]], [brevo] and [extract] settings, at the
    /// same path on every worker machine.
    #[arg(long = "store-config", value_name = "FILE")]
    pub store_config: Option<String>,
    /// Destination schema in the fleet's database (default bc_<store hash>).
    #[arg(long)]
    pub schema: Option<String>,
    /// Extract every this long (e.g. 15m); `off` for never.
    #[arg(long, default_value = "15m")]
    pub extract_every: String,
    /// Run the [[sync]] pushes every this long; off unless given.
    #[arg(long)]
    pub push_every: Option<String>,
    /// Run the Brevo sync every this long; off unless given.
    #[arg(long)]
    pub brevo_every: Option<String>,
    /// Apply webhook events that the fleet's receivers (`listen --nats`) deliver.
    #[arg(long)]
    pub events: bool,
    /// The fleet receivers' public URL (https://.../webhooks): create or repair the
    /// store's webhooks to it now, with the fleet's secret (BCSYNC_WEBHOOK_SECRET or
    /// --secret-file), using the store's token from --token-env or --token-file here.
    #[arg(long, value_name = "URL", requires = "events")]
    pub hooks_url: Option<String>,
    /// File holding the fleet's webhook secret, for --hooks-url (BCSYNC_WEBHOOK_SECRET
    /// overrides it).
    #[arg(long, value_name = "FILE", requires = "hooks_url")]
    pub secret_file: Option<std::path::PathBuf>,
    /// The store's plan (standard, plus, pro, enterprise), shown by `status --fleet`.
    #[arg(long)]
    pub plan: Option<String>,
    /// The store's quota, requests per 30 s window, shown by `status --fleet`.
    #[arg(long)]
    pub quota: Option<i32>,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub state: FleetStateArgs,
    /// Stores this worker runs at the same time (each under its own lease and quota).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_stores: u32,
    /// Lease length; renewed every third of it while a store's jobs run. Another worker
    /// takes a store over this long after its worker died.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub lease: Duration,
    /// How often to look for due jobs when none was found.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub poll: Duration,
    /// On SIGTERM, how long running jobs may take to finish before they are stopped
    /// (they commit what they did; the next worker resumes them).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// NATS server whose JetStream stream carries the fleet's webhook deliveries
    /// (`listen --nats`); the worker stores them in each store's inbox.
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
    /// The fleet's name (the JetStream stream and subjects).
    #[arg(long, default_value = "fleet")]
    pub fleet: String,
    /// This worker's name in leases and `status --fleet` (default host:pid).
    #[arg(long)]
    pub id: Option<String>,
}

pub async fn stores(args: StoresArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        StoresCommand::Add(a) => add_store(*a).await,
        StoresCommand::List { state, json } => {
            // Listing creates nothing: no registry yet is an empty fleet.
            let stores = match Registry::open_existing(&state.state).await? {
                Some(registry) => registry.stores().await?,
                None => Vec::new(),
            };
            if json {
                print_out(&format!("{}\n", serde_json::to_string_pretty(&stores)?))?;
            } else {
                print_out(&render_stores(&stores))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        StoresCommand::Remove { store_hash, state } => {
            let registry = Registry::open(&state.state).await?;
            known(registry.remove_store(&store_hash).await?, &store_hash)?;
            eprintln!("removed {store_hash} from the fleet (its tables and run history are kept)");
            Ok(ExitCode::SUCCESS)
        }
        StoresCommand::Pause { store_hash, state } => {
            let registry = Registry::open(&state.state).await?;
            known(registry.set_paused(&store_hash, true).await?, &store_hash)?;
            eprintln!("paused {store_hash}: no job of it starts until `bcsync stores resume`");
            Ok(ExitCode::SUCCESS)
        }
        StoresCommand::Resume { store_hash, state } => {
            let registry = Registry::open(&state.state).await?;
            known(registry.set_paused(&store_hash, false).await?, &store_hash)?;
            eprintln!("resumed {store_hash}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn known(found: bool, store_hash: &str) -> anyhow::Result<()> {
    if found {
        Ok(())
    } else {
        anyhow::bail!(
            "no store {store_hash:?} is registered; `bcsync stores list` shows the registered ones"
        )
    }
}

/// A period flag: a duration, or `off`.
fn every(flag: &str, value: Option<&str>) -> anyhow::Result<Option<Duration>> {
    match value {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("off") => Ok(None),
        Some(v) => parse_duration(v)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("--{flag}: {e}, or off")),
    }
}

async fn add_store(a: AddStoreArgs) -> anyhow::Result<ExitCode> {
    let credentials = match (&a.token_env, &a.token_file) {
        (Some(name), None) if valid_env_name(name) => format!("env:{name}"),
        (Some(name), None) => anyhow::bail!(
            "--token-env {name:?} is not an environment variable name; give the NAME of the variable that holds the token (letters, digits, _), not the token"
        ),
        (None, Some(path)) => format!("file:{path}"),
        _ => anyhow::bail!(
            "say where workers read {}'s token: --token-env NAME (an environment variable on every worker machine) or --token-file PATH; the token itself is never stored",
            a.store_hash
        ),
    };
    let schema = a
        .schema
        .clone()
        .unwrap_or_else(|| bcsync::pg::default_schema(&a.store_hash));
    let store = NewStore {
        store_hash: a.store_hash.clone(),
        base_url: a.base_url.clone(),
        credentials,
        config_file: a.store_config.clone(),
        dest_schema: schema,
        plan: a.plan.clone(),
        quota: a.quota,
        extract_every: every("extract-every", Some(&a.extract_every))?,
        push_every: every("push-every", a.push_every.as_deref())?,
        brevo_every: every("brevo-every", a.brevo_every.as_deref())?,
        events: a.events,
    };
    if store.push_every.is_some() || store.brevo_every.is_some() {
        anyhow::ensure!(
            store.config_file.is_some(),
            "--push-every and --brevo-every run the [[sync]] and [brevo] settings of a config file: give it with --store-config FILE"
        );
    }
    // The registry is reachable, then the hooks, then the store: a state URL, token or
    // secret that does not work leaves neither hooks nor a registered store behind.
    let registry = Registry::open(&a.state.state).await?;
    if let Some(url) = &a.hooks_url {
        register_hooks(&store, url, a.secret_file.as_deref()).await?;
    }
    registry.add_store(&store).await?;
    eprintln!(
        "registered {} (schema {}, token from {}) in {}",
        store.store_hash,
        store.dest_schema,
        store.credentials,
        registry.shown()
    );
    Ok(ExitCode::SUCCESS)
}

/// Makes the store's webhooks point at the fleet's receivers (`listen::hooks::reconcile`:
/// one hook per scope family, ours recognised by the fleet's secret; idempotent).
async fn register_hooks(
    store: &NewStore,
    url: &str,
    secret_file: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use bcsync::listen;
    let secret = match secret_file {
        Some(file) => listen::load_secret(file)?.ok_or_else(|| {
            anyhow::anyhow!(
                "--secret-file {} is missing or empty: put the fleet's webhook secret (the one its receivers check) in it, or set {}",
                file.display(),
                listen::ENV_WEBHOOK_SECRET
            )
        })?,
        None => std::env::var(listen::ENV_WEBHOOK_SECRET)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .map(SecretString::from)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--hooks-url needs the fleet's webhook secret (the one its receivers check): set {} or give --secret-file",
                    listen::ENV_WEBHOOK_SECRET
                )
            })?,
    };
    let token = read_token(&store.credentials, &store.store_hash).map_err(|e| {
        anyhow::anyhow!(
            "{e}; --hooks-url registers the webhooks from this machine, so the token must be readable here too"
        )
    })?;
    let client = bcsync::config::StoreConnection {
        store_hash: store.store_hash.clone(),
        access_token: token,
        base_url: store.base_url.clone(),
    }
    .client()?;
    let done = listen::hooks::reconcile(&client, url, &secret)
        .await
        .with_context(|| format!("registering {}'s webhooks to {url}", store.store_hash))?;
    eprintln!(
        "webhooks of {} to {url}: {} created, {} updated, {} re-activated, {} unchanged",
        store.store_hash,
        done.created.len(),
        done.updated.len(),
        done.reactivated.len(),
        done.unchanged.len()
    );
    Ok(())
}

fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

fn secs(s: Option<f64>) -> String {
    match s {
        None => "-".into(),
        Some(s) if s.abs() < 120.0 => format!("{s:.0}s"),
        Some(s) if s.abs() < 7200.0 => format!("{:.0}m", s / 60.0),
        Some(s) => format!("{:.1}h", s / 3600.0),
    }
}

fn render_stores(stores: &[bcsync::fleet::StoreRow]) -> String {
    let mut out = format!(
        "{:<24} {:<8} {:<28} {:<30}\n",
        "store", "state", "lease", "jobs (kind every next last)"
    );
    for s in stores {
        let state = if s.paused { "paused" } else { "active" };
        let lease = s
            .lease_holder()
            .map_or("-".into(), |w| format!("{w} ({})", secs(s.lease_left_s)));
        let jobs: Vec<String> = s
            .jobs
            .iter()
            .map(|j| {
                let every = j
                    .every_s
                    .map_or("on event".into(), |e| secs(Some(e.into())));
                let next = match (j.running_worker.as_ref(), j.due_in_s) {
                    (Some(_), _) => "running".to_owned(),
                    (None, Some(d)) if d <= 0.0 => "due".to_owned(),
                    (None, Some(d)) => format!("in {}", secs(Some(d))),
                    (None, None) => "idle".to_owned(),
                };
                format!(
                    "{} {every} {next} {}",
                    j.kind,
                    j.last_status.as_deref().unwrap_or("never")
                )
            })
            .collect();
        out.push_str(&format!(
            "{:<24} {:<8} {:<28} {}\n",
            s.store_hash,
            state,
            lease,
            jobs.join("; ")
        ));
    }
    out
}

/// `bcsync status --fleet`: stores, their lag, the queue, workers, leases and, with
/// `--nats`, the JetStream consumer's backlog.
pub async fn status(
    state: &str,
    nats: Option<&str>,
    fleet: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let Some(registry) = Registry::open_existing(state).await? else {
        anyhow::bail!(
            "no fleet in {}: register stores with `bcsync stores add HASH --token-env NAME --state ...` and start `bcsync worker`",
            bcsync::pg::redact(state)
        );
    };
    let status = registry.status().await?;
    let backlog = match nats {
        Some(url) => Some(bcsync::listen::jetstream::consumer_lag(url, fleet).await?),
        None => None,
    };
    if json {
        let mut value = serde_json::to_value(&status)?;
        value["jetstream_backlog"] = serde_json::json!(backlog);
        print_out(&format!("{}\n", serde_json::to_string_pretty(&value)?))?;
        return Ok(ExitCode::SUCCESS);
    }
    use std::fmt::Write as _;
    let mut out = String::new();
    let alive = status.workers.iter().filter(|w| w.alive).count();
    writeln!(
        out,
        "fleet in {}: {} stores ({} paused), {} workers alive, {} leases held",
        registry.shown(),
        status.stores.len(),
        status.stores.iter().filter(|s| s.paused).count(),
        alive,
        status.leases
    )?;
    writeln!(
        out,
        "jobs: {} running, {} waiting (queue), oldest waiting {}",
        status.running,
        status.queue_depth,
        secs(status.oldest_due_s)
    )?;
    if let Some(backlog) = backlog {
        writeln!(
            out,
            "webhook deliveries in JetStream not yet in an inbox: {backlog}"
        )?;
    }
    for w in &status.workers {
        writeln!(
            out,
            "worker {} on {} pid {}: {} leases, heartbeat {} ago{}{}",
            w.id,
            w.host,
            w.pid,
            w.leases,
            secs(Some(w.seconds_since_heartbeat)),
            if w.draining { ", draining" } else { "" },
            if w.alive { "" } else { " (gone)" }
        )?;
    }
    writeln!(out)?;
    // Lag: how long since the store's data was last brought up to date (its extraction or
    // its events, whichever is newer), the figure an operator watches per store.
    writeln!(
        out,
        "{:<24} {:<8} {:>8} {:<20} jobs",
        "store", "state", "lag", "lease"
    )?;
    for s in &status.stores {
        let lag = s.lag_s();
        let lease = s.lease_holder().unwrap_or("-");
        let jobs: Vec<String> = s
            .jobs
            .iter()
            .map(|j| {
                format!(
                    "{}:{}",
                    j.kind,
                    if j.running_worker.is_some() {
                        "running"
                    } else {
                        j.last_status.as_deref().unwrap_or("never")
                    }
                )
            })
            .collect();
        writeln!(
            out,
            "{:<24} {:<8} {:>8} {:<20} {}",
            s.store_hash,
            if s.paused { "paused" } else { "active" },
            secs(lag),
            lease,
            jobs.join(" ")
        )?;
    }
    print_out(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes a command's output to stdout; a reader that stopped early (`| head`) is not a
/// failure (`println!` would panic on the broken pipe).
fn print_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// What every store task of one worker shares.
struct WorkerContext {
    registry: Arc<Registry>,
    id: String,
    state_url: String,
    lease: Duration,
    /// Cancelled when the drain time is up: running jobs get SIGTERM.
    stop_jobs: CancellationToken,
}

pub async fn worker(args: WorkerArgs, interrupt: &Interrupt) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        bcsync::pg::url_from_spec(&args.state.state)?.is_some(),
        "--state must be a postgres:// URL: the fleet's registry and leases live in PostgreSQL, shared by every worker"
    );
    let registry = Arc::new(Registry::open(&args.state.state).await?);
    let host = host_name();
    let id = args
        .id
        .clone()
        .unwrap_or_else(|| format!("{host}:{}", std::process::id()));
    let ctx = Arc::new(WorkerContext {
        registry: registry.clone(),
        id: id.clone(),
        state_url: args.state.state.clone(),
        lease: args.lease,
        stop_jobs: CancellationToken::new(),
    });
    registry
        .heartbeat(&id, &host, std::process::id(), false, 0)
        .await?;
    tracing::info!(
        "worker {id} started on {}: up to {} stores at once, {}s leases",
        registry.shown(),
        args.max_stores,
        args.lease.as_secs_f64()
    );
    warn_unless_connections_fit(&registry, &args).await;
    let events = match &args.nats {
        Some(url) => Some(start_event_forwarding(url, &args.fleet, &ctx, interrupt).await?),
        None => None,
    };
    let mut running: JoinSet<()> = JoinSet::new();
    let mut draining_since: Option<Instant> = None;
    let mut last_heartbeat = Instant::now();
    let heartbeat_every = Duration::from_secs(5);
    loop {
        if draining_since.is_none() && interrupt.token.is_cancelled() {
            tracing::info!(
                "worker {id}: draining ({} stores running; no new store is claimed)",
                running.len()
            );
            draining_since = Some(Instant::now());
        }
        if let Some(since) = draining_since {
            if running.is_empty() {
                break;
            }
            if since.elapsed() >= args.drain_timeout && !ctx.stop_jobs.is_cancelled() {
                tracing::warn!(
                    "worker {id}: the drain timeout passed; stopping the running jobs (they commit what they did and the next worker resumes them)"
                );
                ctx.stop_jobs.cancel();
            }
        } else {
            while running.len() < args.max_stores as usize {
                match registry.claim(&id, args.lease).await {
                    Ok(Some(claim)) => {
                        let ctx = ctx.clone();
                        running.spawn(async move { run_store(ctx, claim).await });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!("worker {id}: cannot claim a store: {e}");
                        break;
                    }
                }
            }
        }
        if last_heartbeat.elapsed() >= heartbeat_every {
            if let Err(e) = registry
                .heartbeat(
                    &id,
                    &host,
                    std::process::id(),
                    draining_since.is_some(),
                    running.len(),
                )
                .await
            {
                tracing::warn!("worker {id}: heartbeat failed: {e}");
            }
            last_heartbeat = Instant::now();
        }
        tokio::select! {
            _ = tokio::time::sleep(args.poll) => {}
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Err(e) = done {
                    tracing::error!("worker {id}: a store task ended abnormally: {e}");
                }
            }
            _ = interrupt.token.cancelled(), if draining_since.is_none() => {}
        }
    }
    if let Some(events) = events {
        events.cancel();
    }
    registry.worker_stopped(&id).await?;
    tracing::info!("worker {id}: drained and stopped");
    Ok(ExitCode::SUCCESS)
}

/// PostgreSQL connections one job process holds at most: its destination and the state
/// store (run history, checkpoints), and for a Brevo sync its account's lock. Measured
/// with `pg_stat_activity`; README "A fleet".
pub const JOB_CONNECTIONS: u32 = 3;

/// The PostgreSQL connections a worker holds at most, besides its registry connection:
/// its event consumer's (one for every store's inbox) and its jobs'.
fn worker_connections(args: &WorkerArgs) -> (u32, u32) {
    let inboxes = u32::from(args.nats.is_some());
    (inboxes, args.max_stores * JOB_CONNECTIONS)
}

/// Warns at start when the server's free connections are fewer than this worker may
/// still open: past `max_connections`, jobs fail with "too many clients" and are retried
/// late.
async fn warn_unless_connections_fit(registry: &Registry, args: &WorkerArgs) {
    let (inboxes, jobs) = worker_connections(args);
    let more = i64::from(inboxes + jobs);
    match registry.connection_room().await {
        // `used` counts this worker's registry connection already.
        Ok((max, used)) if max - used < more => tracing::warn!(
            "PostgreSQL allows {max} connections and {used} are in use; this worker may open \
             {more} more ({inboxes} for webhook inboxes, {JOB_CONNECTIONS} per store x \
             --max-stores {}): raise max_connections or lower --max-stores, else jobs fail \
             with \"too many clients\" and wait for their next turn",
            args.max_stores
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(
            "cannot read PostgreSQL's max_connections to check this worker's connections fit: {e}"
        ),
    }
}

/// How often the worker's consumer and the receivers re-read the registry's stores.
pub const STORES_REFRESH: Duration = Duration::from_secs(5);

/// Runs the webhook consumer: deliveries from the fleet's JetStream stream into each
/// store's inbox (its destination schema), then the store's `events` job made due.
/// Returns the token that stops it.
async fn start_event_forwarding(
    url: &str,
    fleet: &str,
    ctx: &Arc<WorkerContext>,
    interrupt: &Interrupt,
) -> anyhow::Result<CancellationToken> {
    use std::collections::HashMap;
    bcsync::listen::jetstream::check_fleet_name(fleet)?;
    let targets: Arc<parking_lot::RwLock<HashMap<String, bcsync::pg::PgTarget>>> = Arc::default();
    let load = {
        let (ctx, targets) = (ctx.clone(), targets.clone());
        move || {
            let (ctx, targets) = (ctx.clone(), targets.clone());
            async move {
                let schemas = ctx.registry.store_schemas().await?;
                let mut map = HashMap::new();
                for (hash, schema) in schemas {
                    let url = bcsync::pg::url_with_schema(&ctx.state_url, &schema)?;
                    map.insert(hash, bcsync::pg::PgTarget::parse(&url, None)?);
                }
                *targets.write() = map;
                Ok::<_, bcsync::Error>(())
            }
        }
    };
    load().await?;
    let stop = interrupt.token.child_token();
    // Stores whose inbox received events, batched into one UPDATE every 200 ms.
    let (due_tx, mut due_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    {
        let (ctx, stop) = (ctx.clone(), stop.clone());
        tokio::spawn(async move {
            let mut refresh = tokio::time::interval(STORES_REFRESH);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = refresh.tick() => {
                        if let Err(e) = load().await {
                            tracing::warn!("worker {}: cannot re-read the stores: {e}", ctx.id);
                        }
                    }
                    Some(first) = due_rx.recv() => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        let mut hashes = vec![first];
                        while let Ok(h) = due_rx.try_recv() {
                            hashes.push(h);
                        }
                        hashes.sort();
                        hashes.dedup();
                        if let Err(e) = ctx.registry.mark_events_due(&hashes).await {
                            tracing::warn!("worker {}: cannot mark events due: {e}", ctx.id);
                        }
                    }
                }
            }
        });
    }
    let (url, fleet, id, cancel) = (
        url.to_owned(),
        fleet.to_owned(),
        ctx.id.clone(),
        stop.clone(),
    );
    tokio::spawn(async move {
        let resolve = move |hash: &str| targets.read().get(hash).cloned();
        let on_stored = move |hash: &str| {
            let _ = due_tx.send(hash.to_owned());
        };
        if let Err(e) =
            bcsync::listen::jetstream::forward_to_inboxes(&url, &fleet, resolve, on_stored, cancel)
                .await
        {
            tracing::error!("worker {id}: the webhook consumer stopped: {e}");
        }
    });
    Ok(stop)
}

/// One lease: the store's due jobs one after another, then the lease given back.
async fn run_store(ctx: Arc<WorkerContext>, claim: Claim) {
    let hash = claim.store.store_hash.clone();
    let epoch = claim.epoch;
    if let Some(previous) = &claim.taken_from {
        tracing::info!(
            "store {hash}: lease taken over from {previous}, whose lease lapsed (epoch {epoch})"
        );
    }
    let mut lease = LeaseClock::new(ctx.lease);
    let kinds = match ctx.registry.due_jobs(&hash).await {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!("store {hash}: cannot read its due jobs: {e}");
            Vec::new()
        }
    };
    let mut lost = false;
    for kind in kinds {
        if ctx.stop_jobs.is_cancelled() {
            break;
        }
        let run_id = match ctx.registry.start_job(&hash, kind, &ctx.id, epoch).await {
            Ok(Some(id)) => id,
            Ok(None) => {
                tracing::info!(
                    "store {hash}: not starting {kind}: the store is paused or its lease is no longer ours"
                );
                break;
            }
            Err(e) => {
                tracing::warn!("store {hash}: cannot record the start of {kind}: {e}");
                break;
            }
        };
        let (outcome, still_ours) = run_job(&ctx, &claim, kind, &mut lease).await;
        if !still_ours {
            lost = true;
            break;
        }
        match ctx
            .registry
            .finish_job(run_id, &hash, kind, &ctx.id, epoch, &outcome)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    "store {hash}: the lease was lost while {kind} ran; its end is not recorded and the next holder runs it again from its checkpoint"
                );
                lost = true;
                break;
            }
            Err(e) => tracing::warn!("store {hash}: cannot record the end of {kind}: {e}"),
        }
    }
    if !lost && let Err(e) = ctx.registry.release(&hash, &ctx.id, epoch).await {
        tracing::warn!("store {hash}: cannot release its lease (it lapses by itself): {e}");
    }
}

/// When this worker must consider its lease gone: its last successful renewal plus the
/// lease, less a margin for the clocks and the time a child takes to stop.
struct LeaseClock {
    length: Duration,
    deadline: Instant,
}

impl LeaseClock {
    fn new(length: Duration) -> Self {
        let mut clock = Self {
            length,
            deadline: Instant::now(),
        };
        clock.renewed_at(Instant::now());
        clock
    }

    fn renewed_at(&mut self, at: Instant) {
        // A fifth of the lease (at least 1 s) to stop the child before another worker may
        // take the store.
        let margin = (self.length / 5)
            .max(Duration::from_secs(1))
            .min(self.length / 2);
        self.deadline = at + self.length - margin;
    }

    fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

/// Runs one job as a child process, renewing the lease meanwhile. Returns the outcome,
/// and `false` when the lease was lost (the child was stopped; record nothing).
async fn run_job(
    ctx: &WorkerContext,
    claim: &Claim,
    kind: JobKind,
    lease: &mut LeaseClock,
) -> (JobOutcome, bool) {
    let store = &claim.store;
    let hash = &store.store_hash;
    let failed = |error: String| JobOutcome {
        status: "failed",
        exit_code: None,
        error: Some(error),
        reschedule: true,
    };
    let token = match read_token(&store.credentials, hash) {
        Ok(t) => t,
        Err(e) => return (failed(e), true),
    };
    let mut command = match job_command(ctx, store, kind, &token) {
        Ok(c) => c,
        Err(e) => return (failed(e), true),
    };
    let started = Instant::now();
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => return (failed(format!("cannot start the job process: {e}")), true),
    };
    tracing::info!(
        "store {hash}: {kind} started (pid {})",
        child.id().unwrap_or(0)
    );
    let tail = Arc::new(parking_lot::Mutex::new(VecDeque::<String>::new()));
    let forward = child.stderr.take().map(|stderr| {
        let tail = tail.clone();
        let prefix = format!("[{hash} {kind}]");
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("{prefix} {line}");
                let mut t = tail.lock();
                if t.len() == 8 {
                    t.pop_front();
                }
                t.push_back(line);
            }
        })
    });
    let mut renew = tokio::time::interval(ctx.lease / 3);
    renew.tick().await;
    let mut signalled = false;
    let mut lost = false;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            _ = renew.tick() => {
                match ctx.registry.renew(hash, &ctx.id, claim.epoch, ctx.lease).await {
                    Ok(true) => lease.renewed_at(Instant::now()),
                    Ok(false) => {
                        tracing::warn!("store {hash}: lease lost while {kind} ran; stopping it");
                        lost = true;
                        let _ = child.start_kill();
                    }
                    Err(e) => tracing::warn!("store {hash}: cannot renew the lease: {e}"),
                }
                if !lost && lease.expired() {
                    tracing::warn!(
                        "store {hash}: the lease could not be renewed in time; stopping {kind} before another worker may take the store"
                    );
                    lost = true;
                    let _ = child.start_kill();
                }
            }
            _ = ctx.stop_jobs.cancelled(), if !signalled => {
                signalled = true;
                if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGTERM,
                    );
                }
            }
        }
    };
    if let Some(f) = forward {
        let _ = f.await;
    }
    let code = status
        .as_ref()
        .ok()
        .and_then(std::process::ExitStatus::code);
    let seconds = started.elapsed().as_secs_f64();
    if lost {
        return (failed("lease lost".into()), false);
    }
    let last_lines = || tail.lock().iter().cloned().collect::<Vec<_>>().join("\n");
    let outcome = match (status, code) {
        (Ok(s), _) if s.success() => JobOutcome {
            status: "ok",
            exit_code: Some(0),
            error: None,
            reschedule: true,
        },
        // Stopped by our SIGTERM (drain): committed what it did; left due for the next worker.
        (Ok(_), Some(c)) if signalled && (c == 143 || c == 130) => JobOutcome {
            status: "interrupted",
            exit_code: Some(c),
            error: None,
            reschedule: false,
        },
        (Ok(_), c) => JobOutcome {
            status: "failed",
            exit_code: c,
            error: Some(bcsync::pg::redact_in(&last_lines())),
            reschedule: true,
        },
        (Err(e), _) => failed(format!("waiting for the job process: {e}")),
    };
    tracing::info!("store {hash}: {kind} {} in {seconds:.1}s", outcome.status);
    (outcome, true)
}

/// Reads a store's token from its reference (`env:NAME` or `file:PATH`).
fn read_token(reference: &str, hash: &str) -> Result<SecretString, String> {
    if let Some(name) = reference.strip_prefix("env:") {
        return std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| SecretString::from(v.trim().to_owned()))
            .ok_or_else(|| {
                format!(
                    "store {hash}: its token is read from the environment variable {name}, which is not set on this worker; export {name} on every worker machine"
                )
            });
    }
    if let Some(path) = reference.strip_prefix("file:") {
        return std::fs::read_to_string(path)
            .map(|v| SecretString::from(v.trim().to_owned()))
            .map_err(|e| {
                format!(
                    "store {hash}: cannot read its token file {path}: {e}; put the file at that path on every worker machine"
                )
            });
    }
    Err(format!(
        "store {hash}: its credentials reference {reference:?} is neither env:NAME nor file:PATH; register it again with --token-env or --token-file"
    ))
}

/// The child process of one job: the command line names no secret; the token, the
/// destination URL and the state store URL travel in its environment.
fn job_command(
    ctx: &WorkerContext,
    store: &bcsync::fleet::StoreRow,
    kind: JobKind,
    token: &SecretString,
) -> Result<tokio::process::Command, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find the bcsync executable to run jobs: {e}"))?;
    let destination = bcsync::pg::url_with_schema(&ctx.state_url, &store.dest_schema)
        .map_err(|e| e.to_string())?;
    let mut command = tokio::process::Command::new(exe);
    // Without a store config file, an empty one: never the worker's ./bcsync.toml.
    let config = store.config_file.as_deref().unwrap_or("/dev/null");
    command.arg("--config").arg(config);
    match kind {
        JobKind::Extract => command.args(["extract", "--to", "postgres", "--no-progress"]),
        // One sync at a time: side by side, a push holds a state store connection (and a
        // source one) per running sync, more than the JOB_CONNECTIONS a job is budgeted.
        JobKind::Push => command.args(["push", "--sequential"]),
        JobKind::Brevo => command.args(["brevo", "sync", "--to", "postgres"]),
        JobKind::Events => command.args(["listen", "--to", "postgres", "--apply-pending"]),
    };
    command
        .env(bcsync::config::ENV_STORE_HASH, &store.store_hash)
        .env(bcsync::config::ENV_ACCESS_TOKEN, token.expose_secret())
        .env(bcsync::pg::ENV_DATABASE_URL, destination)
        .env(bcsync::state::ENV_STATE, &ctx.state_url)
        .env(ENV_EXIT_WITH_PARENT, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    match &store.base_url {
        Some(url) => command.env(bcsync::config::ENV_BASE_URL, url),
        None => command.env_remove(bcsync::config::ENV_BASE_URL),
    };
    Ok(command)
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Exits when the parent process is gone, for commands a worker started: first the
/// graceful stop (`cancel`, as SIGTERM does), then, after a grace period, at once. Off
/// unless [`ENV_EXIT_WITH_PARENT`] is set.
pub fn exit_with_parent(cancel: CancellationToken) {
    if std::env::var_os(ENV_EXIT_WITH_PARENT).is_none() {
        return;
    }
    let parent = std::os::unix::process::parent_id();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if std::os::unix::process::parent_id() != parent {
                break;
            }
        }
        eprintln!("the worker that started this job is gone: stopping");
        cancel.cancel();
        tokio::time::sleep(Duration::from_secs(5)).await;
        std::process::exit(i32::from(super::EXIT_TERMINATED));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_from_their_reference_and_errors_name_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tok");
        std::fs::write(&file, "abc123\n").unwrap();
        let t = read_token(&format!("file:{}", file.display()), "h").unwrap();
        assert_eq!(t.expose_secret(), "abc123");
        let e = read_token("env:BCSYNC_TEST_SURELY_UNSET_VAR", "h").unwrap_err();
        assert!(e.contains("export BCSYNC_TEST_SURELY_UNSET_VAR"), "{e}");
        assert!(
            read_token("token:abc", "h")
                .unwrap_err()
                .contains("--token-env")
        );
    }

    #[test]
    fn env_names_are_names_not_tokens() {
        assert!(valid_env_name("STORE_A_TOKEN"));
        assert!(!valid_env_name("abc-def.ghi"));
        assert!(!valid_env_name("1ABC"));
        assert!(!valid_env_name(""));
    }

    #[test]
    fn the_lease_clock_stops_jobs_before_the_lease_can_lapse() {
        let clock = LeaseClock::new(Duration::from_secs(30));
        let left = clock.deadline - Instant::now();
        assert!(left <= Duration::from_secs(24) && left > Duration::from_secs(20));
        let short = LeaseClock::new(Duration::from_secs(2));
        assert!(short.deadline - Instant::now() <= Duration::from_secs(1));
    }
}
