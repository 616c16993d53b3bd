//! The syncs of one push, run side by side where that changes nothing but the wall time.
//!
//! A push is bound by the API, not by bcsync: a customers sync that changes a few hundred
//! records waits on the store's cap of 3 concurrent `PUT /v3/customers` (docs/api-notes.md
//! §0.7) while the rest of the quota sits idle. Running the next sync meanwhile spends
//! that quota. Every sync uses the same [`Client`], so they share one pacer and one
//! concurrency cap and stay within the store's quota together.
//!
//! **Dependency rule** ([`must_follow`]): a sync waits for a sync defined before it when
//! - either is an `orders` sync: orders name customers and products (`customer_id`, product
//!   lines), so an orders sync starts once everything defined before it has ended, and
//!   whatever is defined after it waits for it (a customers or products sync must not
//!   change what orders being written refer to);
//! - both write the same object (two customers syncs may write the same records, and the
//!   per-endpoint caps, such as 3 concurrent customer updates, hold per sync);
//! - both have the same name (they share tracking records and the run lock).
//!
//! Anything else, such as a customers sync and a products sync, runs side by side.
//! Sub-resources (addresses, attribute values, variants, custom fields) are written by
//! their customers or products sync, so they follow the same rule. [`Order::Sequential`]
//! (`bcsync push --sequential`) makes every sync wait for every earlier one.
//!
//! **State:** each running sync opens its own handle on the push state store (a SQLite
//! connection, which waits its turn to write through `busy_timeout` in WAL mode; or a
//! PostgreSQL session), holds its own run lock on (store, sync) through it, and drops it
//! when its run and alerts are done, so that run lock is free before anything waiting for
//! the sync starts.
//!
//! **Endings:** an interrupt (the token of [`PushOptions`]) stops every running sync
//! where it stands, each recording its run as interrupted, and starts no further one. A
//! sync that ends with an error (it could not take its run lock or record its run) does
//! not stop the others: those running finish, those independent of it still run, and only
//! the syncs waiting for it are not started. A sync whose run ends `failed` or `refused`
//! has a run record like any other, and what waits for it runs (as one after the other
//! always did).

use std::collections::HashMap;
use std::sync::Arc;

use bigcommerce::Client;

use super::config::{Object, SyncDef};
use super::engine::{PushOptions, PushOutcome, run_sync};
use crate::alerts::Alerts;
use crate::error::{Error, Result};
use crate::state::push::{PushStore, open_push_store};

/// How the syncs of a push are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Syncs that do not depend on each other (see the module docs) run side by side.
    #[default]
    SideBySide,
    /// One at a time, in definition order (`bcsync push --sequential`).
    Sequential,
}

/// What became of one sync of a push.
#[derive(Debug)]
pub enum SyncResult {
    /// It ran; its run record says how it ended (ok, rejected rows, refused, failed,
    /// interrupted).
    Ran(PushOutcome),
    /// It could not run or record its run: its run lock is held by another push, or the
    /// state store failed.
    Error(Error),
    /// It never started.
    NotStarted(NotStarted),
}

/// Why a sync never started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotStarted {
    /// The push was interrupted before its turn.
    Interrupted,
    /// A sync it waits for ended with an error (or did not start either).
    Blocked { by: String },
}

impl std::fmt::Display for NotStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotStarted::Interrupted => f.write_str("not started: the push was interrupted"),
            NotStarted::Blocked { by } => write!(
                f,
                "not started: it runs after sync {by:?}, which did not complete; fix that one and push again"
            ),
        }
    }
}

/// Whether a sync defined after `earlier` must wait for it to end (see the module docs).
/// Takes each sync's name and object.
pub fn must_follow(earlier: (&str, Object), later: (&str, Object)) -> bool {
    earlier.0 == later.0
        || earlier.1 == later.1
        || earlier.1 == Object::Orders
        || later.1 == Object::Orders
}

/// For each sync, the syncs defined before it that it waits for (indexes into `defs`).
pub fn dependencies(defs: &[SyncDef], order: Order) -> Vec<Vec<usize>> {
    let keys: Vec<(&str, Object)> = defs.iter().map(|d| (d.name.as_str(), d.object)).collect();
    dependencies_of(&keys, order)
}

fn dependencies_of(keys: &[(&str, Object)], order: Order) -> Vec<Vec<usize>> {
    keys.iter()
        .enumerate()
        .map(|(j, later)| {
            (0..j)
                .filter(|&i| order == Order::Sequential || must_follow(keys[i], *later))
                .collect()
        })
        .collect()
}

/// Where a sync stands while a push goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Waiting,
    Running,
    /// Ran to a run record (whatever its status): what waits for it may start.
    Ran,
    /// Ended with an error or never started: what waits for it does not start.
    Stopped,
}

/// What to do now with a waiting sync, given the syncs it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Start,
    Wait,
    /// One it waits for (this index) stopped: it cannot start.
    Skip(usize),
}

fn step(deps: &[usize], stages: &[Stage]) -> Step {
    if let Some(&i) = deps.iter().find(|&&i| stages[i] == Stage::Stopped) {
        return Step::Skip(i);
    }
    if deps.iter().all(|&i| stages[i] == Stage::Ran) {
        Step::Start
    } else {
        Step::Wait
    }
}

/// Runs `defs` against the store of `client`, side by side as `order` allows, each sync
/// with its own handle on the push state store `state` (as [`open_push_store`] takes it)
/// and, when given, its `alerts` checked right after its run with that handle.
///
/// `report` is called once per sync, in definition order, as soon as that sync and every
/// one defined before it have ended; the results are also returned in that order. Fails
/// only when the state store cannot be opened, before any sync starts.
pub async fn run_syncs(
    client: &Client,
    state: &str,
    defs: &[SyncDef],
    opts: &PushOptions,
    order: Order,
    alerts: Option<&Alerts>,
    mut report: impl FnMut(&SyncDef, &SyncResult),
) -> Result<Vec<SyncResult>> {
    // Opened before anything starts: a wrong spec or an unreachable server is one error,
    // not one per sync; and the first sync to start takes this handle.
    let mut first_store = Some(open_push_store(state, client.store_hash())?);
    let deps = dependencies(defs, order);
    let shared = Arc::new(Shared {
        client: client.clone(),
        state: state.to_owned(),
        opts: opts.clone(),
        alerts: alerts.cloned(),
    });
    let mut stages = vec![Stage::Waiting; defs.len()];
    let mut results: Vec<Option<SyncResult>> = defs.iter().map(|_| None).collect();
    let mut tasks = tokio::task::JoinSet::new();
    let mut running: HashMap<tokio::task::Id, usize> = HashMap::new();
    let mut reported = 0;
    loop {
        // Deps always come earlier in the list, so one pass in order settles each waiting
        // sync whose deps are settled: when nothing runs after it, nothing waits.
        for i in 0..defs.len() {
            if stages[i] != Stage::Waiting {
                continue;
            }
            match step(&deps[i], &stages) {
                Step::Wait => {}
                Step::Skip(by) => {
                    stages[i] = Stage::Stopped;
                    results[i] = Some(SyncResult::NotStarted(NotStarted::Blocked {
                        by: defs[by].name.clone(),
                    }));
                }
                Step::Start if opts.interrupt.is_cancelled() => {
                    stages[i] = Stage::Stopped;
                    results[i] = Some(SyncResult::NotStarted(NotStarted::Interrupted));
                }
                Step::Start => {
                    stages[i] = Stage::Running;
                    let handle = tasks.spawn(run_one(
                        Arc::clone(&shared),
                        defs[i].clone(),
                        first_store.take(),
                    ));
                    running.insert(handle.id(), i);
                }
            }
        }
        while let Some(Some(result)) = results.get(reported) {
            report(&defs[reported], result);
            reported += 1;
        }
        let Some(joined) = tasks.join_next_with_id().await else {
            break;
        };
        let (i, result) = match joined {
            Ok((id, result)) => (running.remove(&id), result),
            // A panic in a sync's task: that sync alone ends, with the panic's message
            // (its state handle, and so its run lock, went with the task).
            Err(e) => (
                running.remove(&e.id()),
                SyncResult::Error(Error::Internal(format!("a sync stopped unexpectedly: {e}"))),
            ),
        };
        let Some(i) = i else { continue };
        stages[i] = match result {
            SyncResult::Ran(_) => Stage::Ran,
            _ => Stage::Stopped,
        };
        results[i] = Some(result);
    }
    Ok(results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                SyncResult::Error(Error::Internal(
                    "a sync of the push was never scheduled".into(),
                ))
            })
        })
        .collect())
}

/// What every sync's task needs, owned (tasks outlive no borrow).
struct Shared {
    client: Client,
    state: String,
    opts: PushOptions,
    alerts: Option<Alerts>,
}

/// One sync: its own state handle (`store`, or a new one), its run, its alerts; the
/// handle, and with it the sync's run lock, is dropped when this returns.
async fn run_one(
    shared: Arc<Shared>,
    def: SyncDef,
    store: Option<Box<dyn PushStore>>,
) -> SyncResult {
    let scope = shared.client.store_hash();
    let mut store = match store {
        Some(s) => s,
        None => match open_push_store(&shared.state, scope) {
            Ok(s) => s,
            Err(e) => return SyncResult::Error(e),
        },
    };
    match run_sync(&shared.client, store.as_mut(), &def, &shared.opts).await {
        Ok(out) => {
            // Alerts never change the outcome: a destination that fails is a warning.
            if let Some(alerts) = &shared.alerts {
                alerts.after_run(store.as_mut(), scope, &out.run).await;
            }
            SyncResult::Ran(out)
        }
        Err(e) => SyncResult::Error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Object::{Customers as C, Orders as O, Products as P};

    /// The syncs (name, object) in definition order, and what each waits for.
    type Case<'a> = (&'a [(&'a str, Object)], &'a [&'a [usize]]);

    #[test]
    fn who_waits_for_whom() {
        let cases: &[Case<'_>] = &[
            // Customers and products: side by side, in either order.
            (&[("c", C), ("p", P)], &[&[], &[]]),
            (&[("p", P), ("c", C)], &[&[], &[]]),
            // Orders wait for everything before them...
            (&[("c", C), ("p", P), ("o", O)], &[&[], &[], &[0, 1]]),
            // ...and everything after them waits for them.
            (&[("o", O), ("c", C), ("p", P)], &[&[], &[0], &[0]]),
            // (p waits for c through o.)
            (&[("c", C), ("o", O), ("p", P)], &[&[], &[0], &[1]]),
            // Two syncs of one object keep their order; the other object does not wait.
            (&[("c1", C), ("p", P), ("c2", C)], &[&[], &[], &[0]]),
            (&[("p1", P), ("p2", P), ("c", C)], &[&[], &[0], &[]]),
            // Two orders syncs: in turn.
            (&[("o1", O), ("o2", O)], &[&[], &[0]]),
            // One name twice (possible in bcsync.toml): shared tracking, so in turn.
            (&[("x", C), ("x", P)], &[&[], &[0]]),
            (&[], &[]),
        ];
        for (keys, want) in cases {
            let got = dependencies_of(keys, Order::SideBySide);
            let want: Vec<Vec<usize>> = want.iter().map(|d| d.to_vec()).collect();
            assert_eq!(got, want, "{keys:?}");
        }
    }

    #[test]
    fn sequential_waits_for_every_earlier_sync() {
        let keys = [("c", C), ("p", P), ("p2", P)];
        assert_eq!(
            dependencies_of(&keys, Order::Sequential),
            vec![vec![], vec![0], vec![0, 1]]
        );
    }

    #[test]
    fn a_sync_starts_once_what_it_waits_for_ran_and_never_after_an_error() {
        use Stage::{Ran, Running, Stopped, Waiting};
        let cases: &[(&[usize], &[Stage], Step)] = &[
            (&[], &[], Step::Start),
            (&[0, 1], &[Ran, Ran], Step::Start),
            (&[0, 1], &[Ran, Running], Step::Wait),
            (&[0, 1], &[Waiting, Ran], Step::Wait),
            // An error anywhere it waits for: never starts, even while others still run.
            (&[0, 1], &[Running, Stopped], Step::Skip(1)),
            (&[1], &[Stopped, Ran], Step::Start),
        ];
        for (deps, stages, want) in cases {
            assert_eq!(step(deps, stages), *want, "{deps:?} {stages:?}");
        }
    }
}
