//! `bcsync listen`: keeps a destination current from the store's webhooks.
//!
//! ```text
//!  store ──POST──► receiver (axum) ── secret + store hash + shape ──► inbox (durable) ──200
//!                                                                      │  wake
//!                                                                      ▼
//!  one Client (pacer) ◄── reads: id:in / id ranges / carts ── apply loop (coalesced rounds)
//!        │                                                             │
//!        └─ gap poll (incremental extraction, every --poll-interval) ──►  DestinationWriter
//!        └─ deletion reconciliation (ids only, every --reconcile-interval)   (the one
//!        └─ hook watch (is_active, repair, then a poll to backfill)          write path)
//! ```
//!
//! - [`delivery`]: payloads, authentication, what each scope asks us to read again.
//! - [`inbox`]: where accepted events wait, durably, until their rows are committed.
//! - [`receiver`]: the HTTP side; never calls the store.
//! - [`apply`]: events → reads → rows, through the extraction's destination writer.
//! - [`hooks`]: registering, reconciling and removing our hooks.
//! - [`reconcile`]: deletion reconciliation from id-only listings.
//!
//! With `[brevo]` configured, a forwarder ([`crate::marketing::realtime`]) follows the
//! destination: each applied round (and gap poll) wakes it, at most one forward runs at a
//! time, and changes that arrive during one wake exactly one more.

pub mod apply;
pub mod delivery;
pub mod hooks;
pub mod inbox;
pub mod jetstream;
pub mod receiver;
pub mod reconcile;
pub mod status;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bigcommerce::Client;
use secrecy::SecretString;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::destinations::DestinationWriter;
use crate::error::{Error, Result};
use crate::extract::{ExtractOptions, Progress, RequestCounter};
use crate::pg::{PgTarget, default_schema};
use crate::streams::{CARTS, StreamDescriptor};

pub use apply::ApplyOptions;
pub use inbox::Inbox;

/// The environment variable that holds the webhook secret.
pub const ENV_WEBHOOK_SECRET: &str = "BCSYNC_WEBHOOK_SECRET";

/// The list streams a gap poll reads incrementally: the ones webhooks keep current.
pub const POLLED_STREAMS: &[&str] = &["customers", "products", "orders"];

/// Where `listen` writes: a SQLite file or a PostgreSQL schema, and its inbox.
#[derive(Debug, Clone)]
pub enum ListenTarget {
    Sqlite { path: PathBuf },
    Postgres { url: String, target: Box<PgTarget> },
}

impl ListenTarget {
    /// Parses `--to` for `listen`: only table destinations can hold deletion marks and
    /// carts.
    pub fn parse(spec: &str, store_hash: &str) -> Result<Self> {
        if let Some(url) = crate::pg::url_from_spec(spec)? {
            let target = PgTarget::parse(&url, Some(default_schema(store_hash)))?;
            return Ok(Self::Postgres {
                url,
                target: Box::new(target),
            });
        }
        let path = spec.strip_prefix("sqlite:").map(PathBuf::from).or_else(|| {
            (spec.ends_with(".db") || spec.ends_with(".sqlite")).then(|| PathBuf::from(spec))
        });
        match path {
            Some(path) => Ok(Self::Sqlite { path }),
            None => Err(Error::Config(format!(
                "listen writes into tables, so --to must be sqlite:PATH or postgres://USER@HOST/DB, not {:?}",
                crate::pg::redact(spec)
            ))),
        }
    }

    pub async fn open_inbox(&self) -> Result<Inbox> {
        match self {
            Self::Sqlite { path } => Inbox::open_sqlite(&inbox::sqlite_path_for(path)),
            Self::Postgres { target, .. } => Inbox::open_postgres(target).await,
        }
    }

    /// Where a generated secret is kept: beside the SQLite file, or in the working
    /// directory for PostgreSQL (never in a database).
    pub fn default_secret_file(&self, store_hash: &str) -> PathBuf {
        match self {
            Self::Sqlite { path } => {
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "bcsync".into());
                path.with_file_name(format!("{stem}.webhook-secret"))
            }
            Self::Postgres { .. } => PathBuf::from(format!("bcsync-{store_hash}.webhook-secret")),
        }
    }
}

/// The webhook secret if there is one: `BCSYNC_WEBHOOK_SECRET`, else the secret file.
pub fn load_secret(file: &Path) -> Result<Option<SecretString>> {
    if let Ok(s) = std::env::var(ENV_WEBHOOK_SECRET)
        && !s.trim().is_empty()
    {
        return Ok(Some(SecretString::from(s.trim().to_owned())));
    }
    match std::fs::read_to_string(file) {
        Ok(s) if !s.trim().is_empty() => Ok(Some(SecretString::from(s.trim().to_owned()))),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: file.to_owned(),
            source,
        }),
    }
}

/// The webhook secret: `BCSYNC_WEBHOOK_SECRET`, else the secret file, else a new random
/// one written to the secret file (mode 0600). Never printed.
pub fn load_or_create_secret(file: &Path) -> Result<SecretString> {
    if let Some(secret) = load_secret(file)? {
        return Ok(secret);
    }
    let io = |source| Error::Io {
        path: file.to_owned(),
        source,
    };
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    let mut f = opts.open(file).map_err(io)?;
    f.write_all(secret.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    tracing::info!(file = %file.display(), "generated a webhook secret and saved it");
    Ok(SecretString::from(secret))
}

/// How `listen` runs.
#[derive(Debug, Clone)]
pub struct ListenOptions {
    pub bind: SocketAddr,
    /// The public https URL the store posts to (our hooks' destination); `None`: receive
    /// only, register nothing (hooks are managed elsewhere).
    pub public_url: Option<String>,
    pub poll_interval: Duration,
    pub reconcile_interval: Duration,
    pub hook_check_interval: Duration,
    pub apply: ApplyOptions,
    /// Forward changes to Brevo (`[brevo]` in bcsync.toml).
    pub brevo: Option<BrevoForwarding>,
    /// `[[alert]]`s on `hook_deactivated` and `lag`, checked at each hook check, and the
    /// push state store that keeps their incidents.
    pub alerts: Option<ListenAlerts>,
}

/// What the Brevo forwarder needs: the `[brevo]` configuration and the push state store
/// holding what was sent (the one `bcsync brevo sync` uses).
#[derive(Debug, Clone)]
pub struct BrevoForwarding {
    pub config: crate::marketing::config::BrevoConfig,
    pub state: String,
}

/// The alerts `listen` evaluates, and where their incidents are kept.
#[derive(Debug, Clone)]
pub struct ListenAlerts {
    pub alerts: crate::alerts::Alerts,
    /// The push state store spec (`bcsync push --state`).
    pub state: String,
}

impl Default for ListenOptions {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8780)),
            public_url: None,
            poll_interval: Duration::from_secs(300),
            reconcile_interval: Duration::from_secs(3600),
            hook_check_interval: Duration::from_secs(60),
            apply: ApplyOptions::default(),
            brevo: None,
            alerts: None,
        }
    }
}

/// A listener running in this process.
pub struct RunningListener {
    pub addr: SocketAddr,
    pub inbox: Inbox,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl std::fmt::Debug for RunningListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningListener")
            .field("addr", &self.addr)
            .finish()
    }
}

impl RunningListener {
    /// Stops taking deliveries, applies what the inbox holds, and closes the destination.
    pub async fn shutdown(self) -> Result<()> {
        self.stop.cancel();
        self.task
            .await
            .map_err(|e| Error::Internal(format!("listener task failed: {e}")))?
    }

    /// Waits until the listener ends by itself (an error) or `stop` is cancelled.
    pub async fn wait(self) -> Result<()> {
        self.task
            .await
            .map_err(|e| Error::Internal(format!("listener task failed: {e}")))?
    }

    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }
}

fn streams_written() -> Result<Vec<&'static StreamDescriptor>> {
    let mut v: Vec<&'static StreamDescriptor> = POLLED_STREAMS
        .iter()
        .map(|n| apply::stream(n))
        .collect::<Result<_>>()?;
    v.push(&CARTS);
    Ok(v)
}

/// Starts the receiver, the apply loop, the gap poller, the deletion reconciler and the
/// hook watcher for one store. `client` should carry `counter` as its observer.
pub async fn start(
    client: Client,
    counter: Arc<RequestCounter>,
    target: ListenTarget,
    secret: SecretString,
    options: ListenOptions,
    stop: CancellationToken,
) -> Result<RunningListener> {
    let store = client.store_hash().to_owned();
    let inbox = target.open_inbox().await?;
    // Brevo's attributes and lists are prepared here, once: a mistake in `[brevo]` stops
    // the start with its fix instead of failing every forward.
    let forwarder = match &options.brevo {
        Some(b) => {
            let warehouse = match &target {
                ListenTarget::Sqlite { path } => format!("sqlite:{}", path.display()),
                ListenTarget::Postgres { url, .. } => url.clone(),
            };
            Some(
                crate::marketing::realtime::Forwarder::prepare(
                    &b.config,
                    b.state.clone(),
                    warehouse,
                    store.clone(),
                )
                .await?,
            )
        }
        None => None,
    };
    let writer = Arc::new(open_writer(&target, &store).await?);
    let wake = Arc::new(Notify::new());
    let receiver_state = Arc::new(receiver::ReceiverState {
        secret: secret.clone(),
        stores: Arc::new(parking_lot::RwLock::new(HashSet::from([store.clone()]))),
        sink: receiver::Sink::Inbox {
            inbox: inbox.clone(),
            wake: Arc::clone(&wake),
        },
        counts: Arc::default(),
    });
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(|e| {
            Error::Config(format!(
                "could not listen on {}: {e}; choose another address with --bind",
                options.bind
            ))
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Internal(e.to_string()))?;
    if let Some(url) = &options.public_url {
        let done = hooks::reconcile(&client, url, &secret).await?;
        report_hooks(&store, &done);
    }
    recover_interrupted_poll(&inbox).await?;
    inbox
        .set_meta("listening_since", &chrono::Utc::now().to_rfc3339())
        .await?;
    inbox.set_meta("store_hash", &store).await?;
    if let Some(url) = &options.public_url {
        inbox.set_meta("public_url", url).await?;
    }
    let ctx = Arc::new(Context {
        client,
        counter,
        writer: Arc::clone(&writer),
        inbox: inbox.clone(),
        options: options.clone(),
        secret,
        poll_now: Notify::new(),
        poll_window: apply::PollWindow::default(),
        forward: forwarder.as_ref().map(|_| Arc::new(Notify::new())),
    });
    let task = {
        let stop = stop.clone();
        let inbox = inbox.clone();
        tokio::spawn(async move {
            // The receiver stops first (no new acknowledgements), then the others.
            let receiving = CancellationToken::new();
            let server = {
                let receiving = receiving.clone();
                tokio::spawn(async move {
                    axum::serve(listener, receiver::router(receiver_state))
                        .with_graceful_shutdown(async move { receiving.cancelled().await })
                        .await
                })
            };
            let applier = apply::Applier {
                client: ctx.client.clone(),
                writer: Arc::clone(&ctx.writer),
                inbox: inbox.clone(),
                wake,
                options: ctx.options.apply.clone(),
                poll_window: ctx.poll_window.clone(),
                applied: ctx.forward.clone(),
            };
            let background = CancellationToken::new();
            // The poller runs the extraction engine, whose borrowing stream combinators the
            // compiler cannot prove `Send` for `tokio::spawn`; a blocking thread drives it
            // on this runtime instead (its requests and timers still run here).
            let poller = {
                let (ctx, stop) = (Arc::clone(&ctx), background.clone());
                let rt = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || rt.block_on(poll_loop(ctx, stop)))
            };
            let watcher = tokio::spawn(hook_loop(Arc::clone(&ctx), background.clone()));
            let brevo = match (forwarder, ctx.forward.clone()) {
                (Some(f), Some(wake)) => Some(tokio::spawn(brevo_loop(
                    f,
                    ctx.inbox.clone(),
                    wake,
                    background.clone(),
                ))),
                _ => None,
            };
            let draining = CancellationToken::new();
            let apply_task = {
                let draining = draining.clone();
                tokio::spawn(async move { applier.run(draining).await })
            };
            stop.cancelled().await;
            receiving.cancel();
            let _ = server.await;
            background.cancel();
            let _ = poller.await;
            let _ = watcher.await;
            if let Some(brevo) = brevo {
                let _ = brevo.await;
            }
            draining.cancel();
            let applied = apply_task
                .await
                .map_err(|e| Error::Internal(format!("apply task failed: {e}")))?;
            drop(ctx);
            let writer = Arc::try_unwrap(writer)
                .map_err(|_| Error::WriterGone("writer still shared at shutdown".into()))?;
            writer.finish().await?;
            applied
        })
    };
    Ok(RunningListener {
        addr,
        inbox,
        stop,
        task,
    })
}

/// The destination writer `listen` writes through, for the tables events keep.
async fn open_writer(target: &ListenTarget, store: &str) -> Result<DestinationWriter> {
    let dest = match target {
        ListenTarget::Sqlite { path } => {
            crate::destinations::open(&format!("sqlite:{}", path.display()), None)?
        }
        ListenTarget::Postgres { url, .. } => {
            crate::destinations::open_for_store(url, None, store)?
        }
    };
    let streams = streams_written()?;
    Ok(
        tokio::task::spawn_blocking(move || DestinationWriter::start(dest, &streams, false))
            .await
            .map_err(|e| Error::WriterGone(e.to_string()))??
            .0,
    )
}

/// What [`apply_pending`] did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ApplyPendingSummary {
    /// Rounds of events (each up to [`ApplyOptions::batch`] events).
    pub rounds: usize,
    pub events: usize,
    /// Records read again or marked.
    pub records: usize,
    /// Requests made to the store.
    pub requests: u64,
}

/// Rounds in a row that may fail before [`apply_pending`] gives up (the events stay
/// pending for the next run).
const APPLY_PENDING_ATTEMPTS: u32 = 3;

/// Applies every event pending in `target`'s inbox with the apply loop's rounds, then
/// returns: no receiver, gap poll, reconciliation or hook watch. A fleet worker runs it
/// when a store's `events` job is due. Events that arrive meanwhile are applied too; it
/// returns once the inbox has none pending (parked events aside), or when `stop` fires
/// (what was applied is committed).
pub async fn apply_pending(
    client: Client,
    target: ListenTarget,
    options: ApplyOptions,
    stop: CancellationToken,
) -> Result<ApplyPendingSummary> {
    let store = client.store_hash().to_owned();
    let inbox = target.open_inbox().await?;
    // A `listen` that died mid-poll left events whose rows a poll page may have undone.
    recover_interrupted_poll(&inbox).await?;
    let writer = Arc::new(open_writer(&target, &store).await?);
    let applier = apply::Applier {
        client,
        writer: Arc::clone(&writer),
        inbox: inbox.clone(),
        wake: Arc::default(),
        options: options.clone(),
        poll_window: apply::PollWindow::default(),
        applied: None,
    };
    let mut summary = ApplyPendingSummary::default();
    let mut failures = 0u32;
    let outcome = loop {
        if stop.is_cancelled() {
            break Err(Error::Interrupted);
        }
        let pending = match inbox.pending(options.batch).await {
            Ok(p) => p,
            Err(e) => break Err(e),
        };
        if pending.is_empty() {
            break Ok(());
        }
        match applier.apply(&pending).await {
            Ok(round) => {
                failures = 0;
                summary.rounds += 1;
                summary.events += round.events;
                summary.records += round.records;
                summary.requests += round.requests;
            }
            Err(e) => {
                failures += 1;
                if failures >= APPLY_PENDING_ATTEMPTS {
                    break Err(e);
                }
                let pause = Duration::from_secs(u64::from(failures) * 2);
                tracing::warn!("applying webhook events failed (retrying in {pause:?}): {e}");
                tokio::select! {
                    () = stop.cancelled() => {}
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    };
    drop(applier);
    let writer = Arc::try_unwrap(writer)
        .map_err(|_| Error::WriterGone("writer still shared after applying".into()))?;
    // Committed whatever the outcome: the rounds that succeeded are marked applied.
    writer.finish().await?;
    outcome.map(|()| summary)
}

fn report_hooks(store: &str, done: &hooks::Reconciled) {
    for s in &done.created {
        tracing::info!(store, scope = %s, "registered webhook");
    }
    for s in &done.updated {
        tracing::info!(store, scope = %s, "updated webhook (destination or secret)");
    }
    for s in &done.reactivated {
        tracing::warn!(store, scope = %s, "webhook was deactivated by the store; re-activated it");
    }
    if done.removed_duplicates > 0 {
        tracing::info!(
            store,
            n = done.removed_duplicates,
            "removed duplicate webhooks"
        );
    }
}

/// What the background loops share.
struct Context {
    client: Client,
    counter: Arc<RequestCounter>,
    writer: Arc<DestinationWriter>,
    inbox: Inbox,
    options: ListenOptions,
    secret: SecretString,
    /// Wakes the poller at once (a repaired hook needs its gap backfilled).
    poll_now: Notify,
    poll_window: apply::PollWindow,
    /// Wakes the Brevo forwarder (when there is one).
    forward: Option<Arc<Notify>>,
}

impl Context {
    /// An applier for the background loops' own reads (outside the poll window).
    fn applier(&self) -> apply::Applier {
        apply::Applier {
            client: self.client.clone(),
            writer: Arc::clone(&self.writer),
            inbox: self.inbox.clone(),
            wake: Arc::default(),
            options: self.options.apply.clone(),
            poll_window: apply::PollWindow::default(),
            applied: self.forward.clone(),
        }
    }
}

/// Whether polling may spend requests now: at most half of each quota window goes to it,
/// so event reads always find budget (docs/api-notes.md §0.7). Without rate-limit headers
/// (no quota known yet, or an unlimited plan) it may.
fn polling_allowed(client: &Client) -> bool {
    let rl = client.rate_limit();
    // A window that has reset since the last response is whole again.
    if rl.reset.is_some_and(|r| r.is_zero()) {
        return true;
    }
    match (rl.left, rl.quota) {
        (Some(left), Some(quota)) => left.saturating_mul(2) >= quota,
        _ => true,
    }
}

/// Waits until polling may spend a request ([`polling_allowed`]), or `stop` fires
/// ([`Error::Interrupted`]). Background listings call it before every page.
pub(crate) async fn wait_for_budget(client: &Client, stop: &CancellationToken) -> Result<()> {
    while !polling_allowed(client) {
        let pause = client
            .rate_limit()
            .reset
            .unwrap_or(Duration::from_secs(1))
            .clamp(Duration::from_millis(50), Duration::from_secs(5));
        tokio::select! {
            () = stop.cancelled() => return Err(Error::Interrupted),
            () = tokio::time::sleep(pause) => {}
        }
    }
    Ok(())
}

/// Gap filling: on start and every `--poll-interval` (or when a hook was repaired), the
/// incremental extraction of the list streams from their bookmarks, through the shared
/// writer. A change a missed webhook should have brought costs latency, never data.
async fn poll_loop(ctx: Arc<Context>, stop: CancellationToken) {
    let mut last_reconcile: Option<tokio::time::Instant> = None;
    loop {
        if polling_allowed(&ctx.client) {
            match poll_once(&ctx, &stop).await {
                Ok(()) => {}
                Err(e) => tracing::warn!(
                    "gap poll failed (next one in {:?}): {e}",
                    ctx.options.poll_interval
                ),
            }
        } else {
            tracing::info!("gap poll postponed: more than half of this quota window is spent");
        }
        if let Ok(keep) = chrono::Duration::from_std(inbox::KEEP_APPLIED) {
            match ctx.inbox.prune(chrono::Utc::now() - keep).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(events = n, "pruned applied webhook events"),
                Err(e) => tracing::warn!("pruning the webhook inbox failed: {e}"),
            }
        }
        if last_reconcile.is_none_or(|t| t.elapsed() >= ctx.options.reconcile_interval)
            && !stop.is_cancelled()
        {
            match reconcile::run(&ctx.applier(), &stop).await {
                Ok(n) => {
                    last_reconcile = Some(tokio::time::Instant::now());
                    let _ = ctx
                        .inbox
                        .set_meta("last_reconcile_at", &chrono::Utc::now().to_rfc3339())
                        .await;
                    if n > 0 {
                        tracing::info!(
                            rows = n,
                            "deletion reconciliation read again the rows its listings missed"
                        );
                    }
                }
                Err(e) => tracing::warn!("deletion reconciliation failed: {e}"),
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(ctx.options.poll_interval) => {}
            () = ctx.poll_now.notified() => {}
        }
    }
}

async fn poll_once(ctx: &Context, stop: &CancellationToken) -> Result<()> {
    let streams: Vec<&'static StreamDescriptor> = POLLED_STREAMS
        .iter()
        .map(|n| apply::stream(n))
        .collect::<Result<_>>()?;
    // The window of events a poll page may undo is kept in the inbox too, so a crash
    // mid-poll (which loses the in-memory window) re-applies them on the next start.
    recover_interrupted_poll(&ctx.inbox).await?;
    let since = chrono::Utc::now() - POLL_MARK_MARGIN;
    ctx.inbox.set_meta(POLL_MARK, &since.to_rfc3339()).await?;
    ctx.poll_window.open();
    let result = poll_streams(ctx, stop, &streams).await;
    // Records applied from events while the poll ran may have been overwritten by an
    // older copy from a poll page (or lost their deletion mark): apply them once more,
    // now that the poll is committed.
    let again = ctx.poll_window.close();
    if !again.is_empty() {
        ctx.applier().apply_plans(&again).await?;
    }
    ctx.inbox.delete_meta(POLL_MARK).await?;
    result
}

/// Inbox state key: set while a gap poll runs, to the earliest time an event applied
/// during it may have been applied.
const POLL_MARK: &str = "gap_poll_started_at";
/// Taken off the poll's start time before it is saved: PostgreSQL stamps `applied_at`
/// with the database clock, which may run behind ours. Re-applying a few more events than
/// needed only costs reads.
const POLL_MARK_MARGIN: chrono::Duration = chrono::Duration::seconds(60);

/// After a gap poll that did not finish (a crash, a failed re-apply), puts the events
/// applied since it started back in the queue: its pages may have overwritten them with
/// older copies, and the in-memory list of them is gone.
async fn recover_interrupted_poll(inbox: &Inbox) -> Result<()> {
    let Some(mark) = inbox.meta(POLL_MARK).await? else {
        return Ok(());
    };
    if let Ok(since) = chrono::DateTime::parse_from_rfc3339(&mark) {
        let reopened = inbox.reopen_applied_since(since.to_utc()).await?;
        tracing::info!(
            reopened,
            "a gap poll was interrupted: applying again the events applied while it ran"
        );
    }
    inbox.delete_meta(POLL_MARK).await
}

async fn poll_streams(
    ctx: &Context,
    stop: &CancellationToken,
    streams: &[&'static StreamDescriptor],
) -> Result<()> {
    let state = ctx.writer.load_state().await?;
    let options = ExtractOptions {
        // One stream and one page at a time: polling is the background, event reads come
        // first.
        stream_concurrency: 1,
        page_concurrency: 1,
        window_concurrency: Some(1),
        store_clock: Default::default(),
        per_parent_window: 1,
        tables: None,
        cancel: Some(stop.clone()),
        // Events and polls cover every channel.
        channels: None,
    };
    let summary = crate::extract::run_streams(
        &ctx.client,
        Arc::clone(&ctx.counter),
        streams,
        &ctx.writer,
        state,
        &options,
        &Progress::hidden(),
    )
    .await;
    ctx.writer.barrier().await?;
    if let Some(failed) = summary.streams.iter().find(|s| s.error.is_some()) {
        return Err(Error::Config(format!(
            "stream {}: {}",
            failed.name,
            failed.error.clone().unwrap_or_default()
        )));
    }
    if let Some(forward) = &ctx.forward {
        forward.notify_one();
    }
    let now = chrono::Utc::now().to_rfc3339();
    ctx.inbox.set_meta("last_sync_at", &now).await?;
    ctx.inbox.set_meta("heartbeat_at", &now).await?;
    tracing::debug!(requests = summary.requests, "gap poll done");
    Ok(())
}

/// Watches our hooks: every `--hook-check-interval`, reconcile; a hook found missing or
/// deactivated is repaired, and a poll backfills what it may have missed. Then the
/// `hook_deactivated` and `lag` alerts are checked.
async fn hook_loop(ctx: Arc<Context>, stop: CancellationToken) {
    // Opened at the first check and kept: incidents live in the push state store.
    let mut incidents: Option<Box<dyn crate::state::push::PushStore>> = None;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(ctx.options.hook_check_interval) => {}
        }
        let _ = ctx
            .inbox
            .set_meta("heartbeat_at", &chrono::Utc::now().to_rfc3339())
            .await;
        let mut deactivated = None;
        if let Some(url) = ctx.options.public_url.clone() {
            match hooks::reconcile(&ctx.client, &url, &ctx.secret).await {
                Ok(done) => {
                    report_hooks(ctx.client.store_hash(), &done);
                    let _ = ctx
                        .inbox
                        .set_meta("hooks_checked_at", &chrono::Utc::now().to_rfc3339())
                        .await;
                    if done.repaired() {
                        let _ = ctx
                            .inbox
                            .set_meta("hooks_repaired_at", &chrono::Utc::now().to_rfc3339())
                            .await;
                        ctx.poll_now.notify_one();
                    }
                    deactivated = Some(done.reactivated.clone());
                }
                Err(e) => tracing::warn!("checking webhooks failed: {e}"),
            }
        }
        if let Some(alerting) = &ctx.options.alerts {
            check_alerts(&ctx, alerting, &mut incidents, deactivated).await;
        }
    }
}

/// Inbox state keys the forwarder keeps: when its last forward ended, and what it did (or
/// why it failed).
pub const BREVO_FORWARDED_AT: &str = "brevo_forwarded_at";
pub const BREVO_LAST_FORWARD: &str = "brevo_last_forward";

/// The Brevo forwarder: a forward at start (the first sync or the baselines), then one each
/// time `wake` fires or the interval passes. `Notify` keeps one pending wake-up, so changes
/// applied during a forward cause exactly one more.
async fn brevo_loop(
    forwarder: crate::marketing::realtime::Forwarder,
    inbox: Inbox,
    wake: Arc<Notify>,
    stop: CancellationToken,
) {
    loop {
        let started = tokio::time::Instant::now();
        let outcome = tokio::select! {
            () = stop.cancelled() => return,
            r = forwarder.forward(chrono::Utc::now()) => r,
        };
        let summary = match outcome {
            Ok(Some(report)) => {
                if !report.counts.is_empty() {
                    let counts: Vec<String> = report
                        .counts
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    tracing::info!(
                        ms = started.elapsed().as_millis() as u64,
                        "brevo: forwarded {}",
                        counts.join(" ")
                    );
                }
                for r in &report.refusals {
                    tracing::warn!(
                        "brevo refused {}: {}",
                        r.key.as_deref().unwrap_or("?"),
                        r.reason
                    );
                }
                Some(
                    serde_json::json!({"ok": true, "counts": report.counts, "requests": report.requests}),
                )
            }
            Ok(None) => {
                tracing::debug!(
                    "brevo: a `bcsync brevo sync` holds the run lock; forwarding next time"
                );
                None
            }
            Err(e) => {
                tracing::warn!(
                    "brevo: forwarding failed (next try in {:?} or at the next change): {e}",
                    forwarder.interval()
                );
                Some(serde_json::json!({"ok": false, "error": e.to_string()}))
            }
        };
        if let Some(summary) = summary {
            let _ = inbox
                .update_meta(vec![
                    (
                        BREVO_FORWARDED_AT.to_owned(),
                        Some(chrono::Utc::now().to_rfc3339()),
                    ),
                    (BREVO_LAST_FORWARD.to_owned(), Some(summary.to_string())),
                ])
                .await;
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(forwarder.interval()) => {}
            () = wake.notified() => {}
        }
    }
}

/// Evaluates the `listen` alerts; problems are warnings (alerts never stop the listener).
async fn check_alerts(
    ctx: &Context,
    alerting: &ListenAlerts,
    incidents: &mut Option<Box<dyn crate::state::push::PushStore>>,
    deactivated_hooks: Option<Vec<String>>,
) {
    let store_hash = ctx.client.store_hash().to_owned();
    let lag_minutes = match ctx.inbox.stats().await {
        Ok(stats) => stats
            .oldest_pending_at
            .map(|t| (chrono::Utc::now().timestamp() - t).max(0) as f64 / 60.0),
        Err(e) => {
            tracing::warn!("alerts: could not read the inbox to measure lag: {e}");
            return;
        }
    };
    if incidents.is_none() {
        match crate::state::push::open_push_store(&alerting.state, &store_hash) {
            Ok(s) => *incidents = Some(s),
            Err(e) => {
                tracing::warn!(
                    "alerts: could not open the push state store that keeps incidents: {e}"
                );
                return;
            }
        }
    }
    if let Some(state) = incidents.as_mut() {
        let health = crate::alerts::ListenHealth {
            deactivated_hooks,
            lag_minutes,
        };
        alerting
            .alerts
            .after_listen_check(state.as_mut(), &store_hash, &health)
            .await;
    }
}
