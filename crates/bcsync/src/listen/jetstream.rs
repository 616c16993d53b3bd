//! The fleet's webhook transport: receivers hand deliveries to NATS JetStream, workers
//! carry them into each store's inbox.
//!
//! ```text
//!  stores ──POST──► receivers (`listen --nats`, several per port with SO_REUSEPORT)
//!                      │ secret, size, shape, store in the fleet; publish; 200 on PubAck
//!                      ▼
//!         stream BCSYNC_<FLEET>, subjects bcsync.<fleet>.events.<store_hash>.<family>
//!                      │ one durable pull consumer, shared: each message to one worker
//!                      ▼
//!         workers: [`forward_to_inboxes`] ── commit to the store's inbox, then ack
//!                      │ on_stored(store) marks the store's `events` job due
//!                      ▼
//!         [`super::apply_pending`] applies the inbox (the existing apply loop)
//! ```
//!
//! Nothing is acknowledged before it is durable somewhere: the store gets its 200 only
//! after JetStream stored the delivery (its PubAck; a failed publish answers 503 and the
//! store retries), and JetStream gets its ack only after the inbox committed the event (a
//! worker that dies before acking has its messages redelivered to another worker after
//! [`ForwardOptions::ack_wait`]). Either side may repeat a delivery; the inbox keeps one
//! row per delivery hash, so a repeat adds nothing but, at most, one more read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer, stream};
use axum::body::Bytes;
use futures::{FutureExt, StreamExt};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use super::delivery::Delivery;
use super::inbox::{Inbox, PgConn};
use super::receiver::{self, ReceiverCounts, Sink, Stores};
use crate::error::{Error, Result};
use crate::pg::PgTarget;

/// How long JetStream remembers a `Nats-Msg-Id` (the delivery hash) to drop a repeat.
/// Two minutes covers a store's retry of a delivery whose 200 was lost and a receiver
/// killed between PubAck and answer (the store's first retry comes about a minute later,
/// docs/api-notes.md §9.4). Longer would drop more than repeats: two changes to one
/// record in the same second can carry the same hash, and the inbox schedules one more
/// read for such a repeat only if it reaches it (see [`super::inbox`]).
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// How long an event may wait in the stream for a worker: the store's retry span plus a
/// day, as long as the inbox keeps applied events ([`super::inbox::KEEP_APPLIED`]). Beyond
/// that the workers have been down for days, and the stores' gap polls read what these
/// events would have.
pub const MAX_AGE: Duration = super::inbox::KEEP_APPLIED;

/// The durable consumer every worker pulls from.
pub const CONSUMER: &str = "workers";

/// How long the publisher waits for JetStream's PubAck (and API answers) before the
/// receiver answers 503: well under the store's own timeout for a delivery.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a message whose inbox commit failed waits before it is offered again.
const RETRY_DELAY: Duration = Duration::from_secs(5);

/// Deliveries of an event whose store the registry does not know before it is dropped:
/// with [`RETRY_DELAY`] between them, 30 s, six times the registry's re-read period
/// (`cli::fleet::STORES_REFRESH`), so a store added just before its first webhook keeps it.
const UNKNOWN_STORE_ATTEMPTS: i64 = 7;

/// A fleet name: lower-case letters, digits, `-` and `_`, so that it is one subject token
/// and its stream name (upper-cased) cannot collide with another fleet's.
pub fn check_fleet_name(fleet: &str) -> Result<()> {
    let ok = !fleet.is_empty()
        && fleet.len() <= 64
        && fleet
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            argument: "--fleet".into(),
            message: format!(
                "{fleet:?} is not a fleet name; use up to 64 lower-case letters, digits, - and _"
            ),
        })
    }
}

/// The fleet's JetStream stream: `BCSYNC_<FLEET>`.
pub fn stream_name(fleet: &str) -> String {
    format!("BCSYNC_{}", fleet.to_ascii_uppercase())
}

/// The subject of one delivery: `bcsync.<fleet>.events.<store_hash>.<scope family>`, so a
/// consumer may filter one store or one family (`customer`, `order`, ...).
pub fn subject(fleet: &str, store_hash: &str, scope: &str) -> String {
    let family = scope
        .strip_prefix("store/")
        .and_then(|rest| rest.split('/').next())
        .filter(|f| is_token(f))
        .unwrap_or("other");
    format!("bcsync.{fleet}.events.{store_hash}.{family}")
}

/// Whether `s` can be one subject token (no separators, wildcards or spaces).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The server's URL without credentials (a token or user:password), for messages.
fn shown(url: &str) -> String {
    match url.rsplit_once('@') {
        Some((head, host)) => match head.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://{host}"),
            None => host.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn nats_error(server: &str, doing: &str, e: impl std::fmt::Display) -> Error {
    Error::Nats {
        server: server.to_owned(),
        message: format!("{doing} failed: {e}"),
    }
}

/// A connection and its JetStream context.
async fn connect(url: &str, name: &str) -> Result<jetstream::Context> {
    let server = shown(url);
    let client = async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|e| Error::Nats {
            server: server.clone(),
            message: format!(
                "could not connect ({e}); check that nats-server runs there with JetStream (-js) and that the URL is right"
            ),
        })?;
    Ok(jetstream::ContextBuilder::new()
        .timeout(PUBLISH_TIMEOUT)
        .build(client))
}

/// The fleet's stream config.
fn stream_config(fleet: &str) -> stream::Config {
    stream::Config {
        name: stream_name(fleet),
        subjects: vec![format!("bcsync.{fleet}.events.>")],
        // Work-queue retention: a message leaves the stream when a worker acks it, that
        // is once its store's inbox holds it. The inbox is the record of what arrived (and
        // keeps applied events for three days), so JetStream is only the carrier between
        // machines: the stream stays as small as the backlog, and its message count is
        // the workers' lag. Limits retention would keep a second copy of every delivery
        // for nothing.
        retention: stream::RetentionPolicy::WorkQueue,
        // File storage: an acknowledged delivery must survive a restart of nats-server.
        storage: stream::StorageType::File,
        max_age: MAX_AGE,
        duplicate_window: DUPLICATE_WINDOW,
        discard: stream::DiscardPolicy::Old,
        description: Some(format!(
            "bcsync webhook deliveries of fleet {fleet}, from the receivers to the workers"
        )),
        ..Default::default()
    }
}

/// Creates the fleet's stream, or brings an existing one to our config (idempotent: every
/// receiver and worker calls it at start).
pub async fn ensure_stream(js: &jetstream::Context, server: &str, fleet: &str) -> Result<()> {
    js.create_or_update_stream(stream_config(fleet))
        .await
        .map_err(|e| {
            nats_error(
                server,
                &format!(
                    "creating or updating the JetStream stream {} (is JetStream enabled on the server, -js?)",
                    stream_name(fleet)
                ),
                e,
            )
        })?;
    Ok(())
}

/// Publishes accepted deliveries to the fleet's stream.
#[derive(Clone)]
pub struct Publisher {
    js: jetstream::Context,
    fleet: String,
    server: String,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("fleet", &self.fleet)
            .field("server", &self.server)
            .finish()
    }
}

impl Publisher {
    /// Connects to `nats_url` and makes sure the fleet's stream exists.
    pub async fn connect(nats_url: &str, fleet: &str) -> Result<Self> {
        check_fleet_name(fleet)?;
        let server = shown(nats_url);
        let js = connect(nats_url, "bcsync listen (fleet receiver)").await?;
        ensure_stream(&js, &server, fleet).await?;
        Ok(Self {
            js,
            fleet: fleet.to_owned(),
            server,
        })
    }

    /// Publishes one delivery (`body` as received) and waits for JetStream to store it.
    /// Returns whether JetStream found it a repeat of a delivery it already holds (same
    /// hash within [`DUPLICATE_WINDOW`]).
    pub async fn publish(
        &self,
        store_hash: &str,
        delivery: &Delivery,
        body: Bytes,
    ) -> Result<bool> {
        if !is_token(store_hash) {
            return Err(Error::Internal(format!(
                "store hash {store_hash:?} cannot be a subject token"
            )));
        }
        let subject = subject(&self.fleet, store_hash, &delivery.scope);
        let message = jetstream::message::PublishMessage::build()
            .payload(body)
            // The inbox's dedup key: a repeat within the window is stored once.
            .message_id(&delivery.hash);
        let ack = self
            .js
            .send_publish(subject, message)
            .await
            .map_err(|e| nats_error(&self.server, "publishing a webhook event", e))?
            .await
            .map_err(|e| nats_error(&self.server, "waiting for JetStream to store an event", e))?;
        Ok(ack.duplicate)
    }
}

/// Binds `addr`; with `reuse_port`, with SO_REUSEPORT so several receivers (processes)
/// share the port and the kernel spreads the connections among them.
pub fn bind(addr: SocketAddr, reuse_port: bool) -> Result<tokio::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let fail = |e: std::io::Error| {
        Error::Config(format!(
            "could not listen on {addr}: {e}; choose another address with --bind{}",
            if reuse_port {
                ""
            } else {
                " (or pass --reuse-port to every receiver sharing it)"
            }
        ))
    };
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(fail)?;
    // As tokio's own bind does: a restarted receiver binds at once despite TIME_WAIT.
    socket.set_reuse_address(true).map_err(fail)?;
    if reuse_port {
        #[cfg(unix)]
        socket.set_reuse_port(true).map_err(fail)?;
        #[cfg(not(unix))]
        return Err(Error::Config(
            "--reuse-port needs SO_REUSEPORT, which this system does not have".into(),
        ));
    }
    socket.bind(&addr.into()).map_err(fail)?;
    socket.listen(1024).map_err(fail)?;
    socket.set_nonblocking(true).map_err(fail)?;
    tokio::net::TcpListener::from_std(socket.into()).map_err(fail)
}

/// A fleet receiver running in this process.
pub struct RunningReceiver {
    pub addr: SocketAddr,
    pub counts: Arc<ReceiverCounts>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for RunningReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningReceiver")
            .field("addr", &self.addr)
            .finish()
    }
}

impl RunningReceiver {
    /// Stops taking deliveries; those in flight finish (their publish and answer) first.
    pub async fn shutdown(self) -> Result<()> {
        self.stop.cancel();
        self.wait().await
    }

    /// Waits until the receiver ends: `stop` was cancelled, or the server failed.
    pub async fn wait(self) -> Result<()> {
        self.task
            .await
            .map_err(|e| Error::Internal(format!("receiver task failed: {e}")))?
            .map_err(|e| Error::Config(format!("the webhook receiver stopped: {e}")))
    }
}

/// Starts a fleet receiver: the checks of [`receiver`] for every store in `stores` (read at
/// each delivery, so the caller may change the set while it runs), then a publish to the
/// fleet's stream instead of an inbox. No store is called and no hook registered.
pub async fn start_receiver(
    nats_url: &str,
    fleet: &str,
    secret: SecretString,
    stores: Stores,
    bind_addr: SocketAddr,
    reuse_port: bool,
    stop: CancellationToken,
) -> Result<RunningReceiver> {
    let publisher = Publisher::connect(nats_url, fleet).await?;
    let listener = bind(bind_addr, reuse_port)?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let counts: Arc<ReceiverCounts> = Arc::default();
    let state = Arc::new(receiver::ReceiverState {
        secret,
        stores,
        sink: Sink::JetStream(publisher),
        counts: Arc::clone(&counts),
    });
    let task = {
        let stop = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, receiver::router(state))
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        })
    };
    Ok(RunningReceiver {
        addr,
        counts,
        stop,
        task,
    })
}

/// How a worker consumes the fleet's stream.
#[derive(Debug, Clone)]
pub struct ForwardOptions {
    /// How long a message handed to a worker waits for its ack before JetStream offers it
    /// to another worker. An inbox commit takes milliseconds; a minute covers a slow
    /// commit or a PostgreSQL reconnect without a second worker committing the same
    /// events, and still redelivers a dead worker's messages within a minute.
    pub ack_wait: Duration,
    /// Messages taken at most per round (their commits are grouped per store).
    pub batch: usize,
}

impl Default for ForwardOptions {
    fn default() -> Self {
        Self {
            ack_wait: Duration::from_secs(60),
            batch: 256,
        }
    }
}

/// The shared consumer's config (the one [`forward_to_inboxes_with`] creates or updates).
pub fn consumer_config(options: &ForwardOptions) -> consumer::pull::Config {
    consumer::pull::Config {
        durable_name: Some(CONSUMER.to_owned()),
        description: Some("bcsync fleet workers: deliveries into the store inboxes".into()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: options.ack_wait,
        // Unlimited: a message leaves the stream only once its inbox holds it (ack) or it
        // cannot be used (term, see `forward_batch`). A cap would drop events whenever
        // PostgreSQL is down for longer than cap × ack_wait.
        max_deliver: -1,
        ..Default::default()
    }
}

/// Carries the fleet's deliveries into the store inboxes until `cancel`: pulls from the
/// shared durable consumer (each message goes to one worker), commits each store's events
/// to its PostgreSQL inbox (`resolve(store_hash)` says where), acks them only after the
/// commit, then calls `on_stored(store_hash)`. Runs with [`ForwardOptions::default`].
pub async fn forward_to_inboxes(
    nats_url: &str,
    fleet: &str,
    resolve: impl Fn(&str) -> Option<PgTarget>,
    on_stored: impl Fn(&str),
    cancel: CancellationToken,
) -> Result<()> {
    forward_to_inboxes_with(
        nats_url,
        fleet,
        &ForwardOptions::default(),
        resolve,
        on_stored,
        cancel,
    )
    .await
}

/// [`forward_to_inboxes`] with its options. The consumer is created or updated to them.
pub async fn forward_to_inboxes_with(
    nats_url: &str,
    fleet: &str,
    options: &ForwardOptions,
    resolve: impl Fn(&str) -> Option<PgTarget>,
    on_stored: impl Fn(&str),
    cancel: CancellationToken,
) -> Result<()> {
    check_fleet_name(fleet)?;
    let server = shown(nats_url);
    let js = connect(nats_url, "bcsync fleet worker").await?;
    ensure_stream(&js, &server, fleet).await?;
    let stream = js
        .get_stream(stream_name(fleet))
        .await
        .map_err(|e| nats_error(&server, "opening the fleet's stream", e))?;
    let consumer: consumer::PullConsumer =
        stream
            .create_consumer(consumer_config(options))
            .await
            .map_err(|e| nats_error(&server, "creating the workers' consumer", e))?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(options.batch.max(1))
        .messages()
        .await
        .map_err(|e| nats_error(&server, "pulling from the workers' consumer", e))?;
    let mut inboxes = Inboxes::default();
    let mut failures = 0u32;
    loop {
        let first = tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            m = messages.next() => m,
        };
        let mut batch = Vec::new();
        match first {
            None => {
                return Err(Error::Nats {
                    server,
                    message: "the workers' consumer stopped delivering; restart the worker".into(),
                });
            }
            Some(Err(e)) => {
                // Missed heartbeats, a server restart: the pull stream recovers by itself;
                // a pause keeps a lasting failure from spinning.
                failures += 1;
                tracing::warn!("pulling fleet events: {e}");
                let pause = Duration::from_millis(200 * u64::from(failures.min(25)));
                tokio::select! {
                    () = cancel.cancelled() => return Ok(()),
                    () = tokio::time::sleep(pause) => {}
                }
                continue;
            }
            Some(Ok(m)) => batch.push(m),
        }
        failures = 0;
        // Whatever else has arrived already joins this round: one commit per store.
        while batch.len() < options.batch {
            match messages.next().now_or_never() {
                Some(Some(Ok(m))) => batch.push(m),
                Some(Some(Err(e))) => tracing::warn!("pulling fleet events: {e}"),
                _ => break,
            }
        }
        forward_batch(batch, &mut inboxes, &resolve, &on_stored).await;
    }
}

/// One message, read.
struct Event {
    message: jetstream::Message,
    delivery: Delivery,
    body: String,
}

/// Commits one round of messages, store by store, and acks (or naks) them.
async fn forward_batch(
    batch: Vec<jetstream::Message>,
    inboxes: &mut Inboxes,
    resolve: &impl Fn(&str) -> Option<PgTarget>,
    on_stored: &impl Fn(&str),
) {
    let mut by_store: BTreeMap<String, Vec<Event>> = BTreeMap::new();
    for message in batch {
        match read_message(&message) {
            Ok((store, delivery, body)) => by_store.entry(store).or_default().push(Event {
                message,
                delivery,
                body,
            }),
            Err(why) => {
                // Only something else than our receivers publishing on our subjects gets
                // here; offering it again would never make it readable.
                tracing::warn!(subject = %message.subject, "dropped a fleet message: {why}");
                ack(&message, AckKind::Term).await;
            }
        }
    }
    let mut commits = Vec::new();
    for (store, events) in by_store {
        let Some(target) = resolve(&store) else {
            // Either the store joined the fleet after this worker last read the registry
            // (it re-reads it every few seconds: offered again later, the events find
            // their inbox), or it left after its receiver took them: no inbox to put them
            // in, and redelivering them forever would only loop (the consumer never gives
            // up). Terminated once [`UNKNOWN_STORE_ATTEMPTS`] deliveries found no store,
            // rather than acked, so JetStream's advisory records it; if the store comes
            // back, its first sync reads what these events would have.
            for e in &events {
                // Unreadable delivery info counts as a first attempt: offered again.
                let attempts = e.message.info().map_or(1, |i| i.delivered);
                if attempts < UNKNOWN_STORE_ATTEMPTS {
                    ack(&e.message, AckKind::Nak(Some(RETRY_DELAY))).await;
                } else {
                    tracing::warn!(
                        store,
                        "dropped a webhook event of a store that is not in the fleet"
                    );
                    ack(&e.message, AckKind::Term).await;
                }
            }
            continue;
        };
        match inboxes.open(&store, &target).await {
            Ok(inbox) => commits.push(async move {
                let rows: Vec<(Delivery, String)> = events
                    .iter()
                    .map(|e| (e.delivery.clone(), e.body.clone()))
                    .collect();
                let outcome = inbox.accept_batch(&store, &rows).await;
                (store, events, outcome)
            }),
            Err(e) => {
                tracing::warn!(store, "could not open the store's inbox (retrying): {e}");
                for e in &events {
                    ack(&e.message, AckKind::Nak(Some(RETRY_DELAY))).await;
                }
            }
        }
    }
    // Stores' statements are pipelined on the shared connection: one round trip for the
    // round, though the server runs them one after another.
    for (store, events, outcome) in futures::future::join_all(commits).await {
        match outcome {
            Ok(()) => {
                for e in &events {
                    ack(&e.message, AckKind::Ack).await;
                }
                on_stored(&store);
            }
            Err(e) => {
                tracing::warn!(
                    store,
                    "could not commit webhook events to the inbox (retrying): {e}"
                );
                inboxes.forget(&store);
                for e in &events {
                    ack(&e.message, AckKind::Nak(Some(RETRY_DELAY))).await;
                }
            }
        }
    }
}

/// Sends an ack (or nak, term). A lost ack costs a redelivery, which the inbox absorbs.
async fn ack(message: &jetstream::Message, kind: AckKind) {
    if let Err(e) = message.ack_with(kind).await {
        tracing::debug!("acknowledging a fleet message failed (it will be redelivered): {e}");
    }
}

/// The store, delivery and body of a message, or why it cannot be used.
fn read_message(
    message: &jetstream::Message,
) -> std::result::Result<(String, Delivery, String), String> {
    // bcsync.<fleet>.events.<store_hash>.<family>
    let subject_store = message
        .subject
        .split('.')
        .nth(3)
        .ok_or("the subject names no store")?;
    let body = std::str::from_utf8(&message.payload).map_err(|_| "the payload is not UTF-8")?;
    let delivery: Delivery =
        serde_json::from_str(body).map_err(|_| "the payload is not a webhook delivery")?;
    if delivery.store_hash() != Some(subject_store) {
        return Err("the payload's producer is not the subject's store".into());
    }
    Ok((subject_store.to_owned(), delivery, body.to_owned()))
}

/// The store inboxes a worker writes to. Every store's inbox lives in the fleet's
/// database (its own schema), so all of them share one connection per database: a
/// worker holds one inbox connection however many stores send events. Each store's
/// inbox is opened (its tables checked) once.
#[derive(Default)]
struct Inboxes {
    /// Connection per database (`PgTarget::shown`: server, user, database). Every inbox of
    /// a fleet comes from the one state URL, so its TLS settings are the same for all.
    connections: HashMap<String, PgConn>,
    /// Inbox per store, with the database and schema it was opened in.
    open: HashMap<String, (String, Inbox)>,
}

impl Inboxes {
    async fn open(&mut self, store: &str, target: &PgTarget) -> Result<Inbox> {
        let key = format!("{} {}", target.shown, target.schema);
        if let Some((k, inbox)) = self.open.get(store)
            && *k == key
        {
            return Ok(inbox.clone());
        }
        let conn = match self.connections.get(&target.shown) {
            Some(c) => c.clone(),
            None => {
                let client = target.connect("opening the webhook inboxes").await?;
                let c: PgConn = Arc::new(tokio::sync::Mutex::new(Arc::new(client)));
                self.connections.insert(target.shown.clone(), c.clone());
                c
            }
        };
        let inbox = Inbox::open_postgres_on(target, conn).await?;
        self.open.insert(store.to_owned(), (key, inbox.clone()));
        Ok(inbox)
    }

    /// After a failed commit: the store's inbox is opened again (its tables checked)
    /// next time; the shared connection reconnects by itself when it was dropped.
    fn forget(&mut self, store: &str) {
        self.open.remove(store);
    }
}

/// Events the workers have not committed yet: waiting in the stream plus handed out and
/// not acked. For `bcsync status --fleet`. A fleet whose stream does not exist yet has
/// none.
pub async fn consumer_lag(nats_url: &str, fleet: &str) -> Result<u64> {
    check_fleet_name(fleet)?;
    let server = shown(nats_url);
    let js = connect(nats_url, "bcsync status").await?;
    let mut stream = match js.get_stream(stream_name(fleet)).await {
        Ok(s) => s,
        Err(e)
            if matches!(e.kind(), jetstream::context::GetStreamErrorKind::JetStream(ref je)
                if je.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND) =>
        {
            return Ok(0);
        }
        Err(e) => return Err(nats_error(&server, "reading the fleet's stream", e)),
    };
    match stream.consumer_info(CONSUMER).await {
        Ok(info) => Ok(info.num_pending + info.num_ack_pending as u64),
        // No worker ever ran: everything in the stream waits.
        Err(_) => {
            let info = stream
                .info()
                .await
                .map_err(|e| nats_error(&server, "reading the fleet's stream", e))?;
            Ok(info.state.messages)
        }
    }
}

/// The fleet's accepted stores as a shareable set, from a list.
pub fn stores_from<I: IntoIterator<Item = String>>(hashes: I) -> Stores {
    Arc::new(parking_lot::RwLock::new(
        hashes.into_iter().collect::<HashSet<_>>(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_carry_store_and_family() {
        assert_eq!(
            subject("eu", "abc123", "store/customer/address/created"),
            "bcsync.eu.events.abc123.customer"
        );
        assert_eq!(
            subject("eu", "abc123", "store/app/uninstalled"),
            "bcsync.eu.events.abc123.app"
        );
        assert_eq!(
            subject("eu", "abc123", "weird.scope"),
            "bcsync.eu.events.abc123.other"
        );
        assert_eq!(stream_name("eu-west_1"), "BCSYNC_EU-WEST_1");
    }

    #[test]
    fn fleet_names_are_one_token() {
        assert!(check_fleet_name("eu-west_1").is_ok());
        for bad in ["", "EU", "a.b", "a b", "a*", "a>"] {
            assert!(check_fleet_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn credentials_never_shown() {
        assert_eq!(shown("nats://tok@127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(shown("nats://u:p@h:4222"), "nats://h:4222");
        assert_eq!(shown("nats://h:4222"), "nats://h:4222");
    }
}
