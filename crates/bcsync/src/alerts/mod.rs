//! Alerts (`[[alert]]` in `bcsync.toml`): after each push run, Brevo run and `listen`
//! hook check, each alert's conditions are checked against what was observed, and an
//! incident is opened or closed in the push state store (table `alert_incidents`, SQLite
//! or PostgreSQL, beside the run records).
//!
//! - One alert per incident: the incident key is (store, alert, condition, sync); while
//!   it is open, further runs that find the condition send nothing.
//! - A resolve when it clears: the next run that finds the condition no longer holding
//!   sends a resolve (PagerDuty `event_action = resolve` with the same `dedup_key`; a
//!   "resolved" message elsewhere) and closes the incident.
//! - A notice that was not delivered is sent again by the next run: a trigger not
//!   delivered leaves the incident open but unnotified; a resolve not delivered leaves it
//!   open.
//! - Alerts never fail a run: a destination that fails (after its retries) or a state
//!   store that cannot keep incidents is a warning on stderr naming the destination,
//!   never its secret.
//!
//! Modules: [`config`] (the tables), [`conditions`] (whether a condition holds, pure),
//! [`deliver`] (payloads, retries), [`smtp`] (the e-mail client).

pub mod conditions;
pub mod config;
pub mod deliver;
pub mod smtp;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};
use crate::state::push::{Incident, IncidentKey, PushStore, RunRecord};

pub use conditions::{Finding, ListenHealth, Observed};
pub use config::{AlertDef, Condition, Destination};
pub use deliver::{DeliveryError, Notice, NoticeKind, RetryPolicy};

/// The sync name `listen`'s incidents are kept under.
pub const LISTEN_SYNC: &str = "listen";

/// The alerts of one config, ready to send.
#[derive(Debug, Clone)]
pub struct Alerts {
    defs: Vec<AlertDef>,
    http: reqwest::Client,
    redactor: deliver::Redactor,
    policy: RetryPolicy,
}

/// What happened to one notice.
#[derive(Debug)]
pub struct Sent {
    pub alert: String,
    pub destination: String,
    pub kind: NoticeKind,
    pub condition: String,
    pub result: std::result::Result<(), DeliveryError>,
}

impl Alerts {
    /// Reads and checks the `[[alert]]` tables of the config file.
    pub fn from_config(file: &crate::config::FileConfig) -> Result<Self> {
        Self::new(config::parse(&file.alert)?)
    }

    pub fn new(defs: Vec<AlertDef>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("bcsync/", env!("CARGO_PKG_VERSION"), " alerts"))
            .build()
            .map_err(|e| Error::Internal(format!("could not build the alert HTTP client: {e}")))?;
        let mut redactor = deliver::Redactor::default();
        for d in &defs {
            for s in deliver::known_secrets(&d.to) {
                redactor.add(&s);
            }
        }
        Ok(Self {
            defs,
            http,
            redactor,
            policy: RetryPolicy::default(),
        })
    }

    /// Also keeps `secret` (the store's access token, Brevo's API key) out of every
    /// notice.
    pub fn redact(mut self, secret: &SecretString) -> Self {
        self.redactor.add(secret.expose_secret());
        self
    }

    /// Tries each notice this often, this far apart.
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }

    pub fn defs(&self) -> &[AlertDef] {
        &self.defs
    }

    /// After a run was recorded: opens, keeps or closes incidents and sends what must be
    /// sent. Never fails: problems are warnings.
    pub async fn after_run(
        &self,
        state: &mut dyn PushStore,
        store_hash: &str,
        run: &RunRecord,
    ) -> Vec<Sent> {
        self.observe(state, store_hash, &run.sync, run.id, Observed::Run(run))
            .await
    }

    /// After a `listen` check.
    pub async fn after_listen_check(
        &self,
        state: &mut dyn PushStore,
        store_hash: &str,
        health: &ListenHealth,
    ) -> Vec<Sent> {
        self.observe(state, store_hash, LISTEN_SYNC, 0, Observed::Listen(health))
            .await
    }

    async fn observe(
        &self,
        state: &mut dyn PushStore,
        store_hash: &str,
        sync: &str,
        run_id: i64,
        observed: Observed<'_>,
    ) -> Vec<Sent> {
        let mut sent = Vec::new();
        for def in self.defs.iter().filter(|d| d.watches(sync)) {
            for cond in &def.on {
                let finding = conditions::check(cond, observed);
                let key = IncidentKey {
                    alert: def.name.clone(),
                    condition: cond.name().to_owned(),
                    sync: sync.to_owned(),
                };
                if finding == Finding::Silent {
                    continue;
                }
                let open = match state.incident(&key) {
                    Ok(open) => open,
                    Err(e) => {
                        tracing::warn!(
                            "alert {}: could not read its incidents from the state store, so nothing was sent: {e}",
                            def.name
                        );
                        continue;
                    }
                };
                let notice = |kind, summary: String| Notice {
                    kind,
                    alert: def.name.clone(),
                    condition: cond.name().to_owned(),
                    sync: sync.to_owned(),
                    store: store_hash.to_owned(),
                    run_id,
                    summary: self.redactor.clean(&summary),
                    severity: cond.severity(),
                };
                match (finding, open) {
                    (Finding::Holds(_), Some(i)) if i.notified => {
                        tracing::debug!(
                            "alert {}: {} still holds for {sync}; already notified",
                            def.name,
                            cond.name()
                        );
                    }
                    (Finding::Holds(words), open) => {
                        let n = notice(NoticeKind::Trigger, words);
                        let result = self.send(&def.to, &n).await;
                        let incident = Incident {
                            store: store_hash.to_owned(),
                            alert: def.name.clone(),
                            condition: cond.name().to_owned(),
                            sync: sync.to_owned(),
                            opened_at: open.map(|i| i.opened_at).unwrap_or_else(now),
                            run_id,
                            summary: n.summary.clone(),
                            notified: result.is_ok(),
                        };
                        if let Err(e) = state.save_incident(&incident) {
                            tracing::warn!(
                                "alert {}: could not keep its incident in the state store (the next run may alert again): {e}",
                                def.name
                            );
                        }
                        sent.push(self.report(def, &n, result));
                    }
                    (Finding::Clear, Some(i)) if !i.notified => {
                        // Never delivered: nothing to resolve.
                        self.close(state, def, &key);
                    }
                    (Finding::Clear, Some(i)) => {
                        let words = match observed {
                            Observed::Run(r) => {
                                format!("run {} ended {}", r.id, r.status)
                            }
                            Observed::Listen(_) => "listen is healthy again".to_owned(),
                        };
                        let n = Notice {
                            summary: self
                                .redactor
                                .clean(&format!("{words} (opened {}: {})", i.opened_at, i.summary)),
                            ..notice(NoticeKind::Resolve, String::new())
                        };
                        let result = self.send(&def.to, &n).await;
                        if result.is_ok() {
                            self.close(state, def, &key);
                        }
                        sent.push(self.report(def, &n, result));
                    }
                    (Finding::Clear, None) | (Finding::Silent, _) => {}
                }
            }
        }
        sent
    }

    fn close(&self, state: &mut dyn PushStore, def: &AlertDef, key: &IncidentKey) {
        if let Err(e) = state.close_incident(key) {
            tracing::warn!(
                "alert {}: could not close its incident in the state store: {e}",
                def.name
            );
        }
    }

    /// Logs a failed delivery and returns what happened.
    fn report(
        &self,
        def: &AlertDef,
        n: &Notice,
        result: std::result::Result<(), DeliveryError>,
    ) -> Sent {
        let destination = deliver::describe(&def.to);
        match &result {
            Ok(()) => tracing::info!(
                "alert {}: sent {} of {} to {destination}",
                def.name,
                n.kind.as_str(),
                n.condition
            ),
            Err(e) => tracing::warn!(
                "alert {}: the {} of {} was not delivered (the next run tries again): {}",
                def.name,
                n.kind.as_str(),
                n.condition,
                self.redactor.clean(&e.to_string())
            ),
        }
        Sent {
            alert: def.name.clone(),
            destination,
            kind: n.kind,
            condition: n.condition.clone(),
            result,
        }
    }

    async fn send(&self, to: &Destination, n: &Notice) -> std::result::Result<(), DeliveryError> {
        match to {
            Destination::Smtp(c) => deliver::send_smtp(c, n, &self.policy).await,
            _ => deliver::send_http(&self.http, to, n, &self.policy, &self.redactor).await,
        }
    }

    /// `bcsync alerts test`: a test notice to each alert's destination (only `name`'s
    /// when given). PagerDuty gets a trigger and its resolve, so no test incident stays
    /// open there.
    pub async fn test(&self, name: Option<&str>, store_hash: &str) -> Result<Vec<Sent>> {
        let defs: Vec<&AlertDef> = self
            .defs
            .iter()
            .filter(|d| name.is_none_or(|n| n == d.name))
            .collect();
        if defs.is_empty() {
            let known: Vec<&str> = self.defs.iter().map(|d| d.name.as_str()).collect();
            return Err(Error::Config(match name {
                Some(n) if !known.is_empty() => {
                    format!("no alert named {n:?}; defined: {}", known.join(", "))
                }
                _ => {
                    "no [[alert]] tables in bcsync.toml; add one (see the README's Alerts section)"
                        .to_owned()
                }
            }));
        }
        let mut out = Vec::new();
        for def in defs {
            let n = Notice {
                kind: NoticeKind::Test,
                alert: def.name.clone(),
                condition: "test".into(),
                sync: "test".into(),
                store: store_hash.to_owned(),
                run_id: 0,
                summary: format!(
                    "a test from `bcsync alerts test`; this alert fires on {}",
                    def.on
                        .iter()
                        .map(Condition::name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                severity: "info",
            };
            let mut result = self.send(&def.to, &n).await;
            if result.is_ok() && matches!(def.to, Destination::PagerDuty(_)) {
                // Same dedup key (alert, condition `test`, sync `test`): closes the test's
                // own incident there.
                let resolve = Notice {
                    kind: NoticeKind::Resolve,
                    ..n.clone()
                };
                result = self.send(&def.to, &resolve).await;
            }
            out.push(Sent {
                alert: def.name.clone(),
                destination: deliver::describe(&def.to),
                kind: NoticeKind::Test,
                condition: "test".into(),
                result,
            });
        }
        Ok(out)
    }

    /// Text cleaned of every secret these alerts know.
    pub fn clean(&self, text: &str) -> String {
        self.redactor.clean(text)
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
