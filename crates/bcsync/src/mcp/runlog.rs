//! Every tool call recorded in the run log (the push state store that `bcsync runs` reads):
//! one run per call, named `mcp:<tool>`, with the arguments (secrets replaced), the
//! outcome, and the requests the call made (method, path, status, time; never headers,
//! bodies or the token). A failure to write the log is reported on stderr and never fails
//! the call: the store was already changed or read by then.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{SecondsFormat, Utc};
use parking_lot::Mutex;
use serde_json::{Map, Value};

use crate::state::push::{LoggedRequest, PushStore, RunRecord};

/// The requests of one tool call, as the client made them (retries included).
pub type CallRequests = crate::state::push::RequestLog;

/// How a call ended, as the run log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// A destructive call answered with a preview and a confirmation token.
    Preview,
    /// Refused before any request: bad arguments, writes not allowed, a bad token.
    Refused,
    /// A request failed (the API's error, a rate limit).
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Preview => "preview",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// One finished call, ready for the log.
pub struct CallRecord<'a> {
    pub tool: &'a str,
    pub arguments: &'a Map<String, Value>,
    pub outcome: Outcome,
    /// What the agent was told, first line (an error's message, a note).
    pub summary: String,
    pub records: Option<u64>,
    pub started: chrono::DateTime<Utc>,
    pub requests: Vec<LoggedRequest>,
}

/// The arguments with every secret-looking value replaced (at any depth: a customer
/// created with a password in `data`), by the client's one list of secret keys.
pub fn redacted(arguments: &Map<String, Value>) -> Value {
    let mut v = Value::Object(arguments.clone());
    bigcommerce::capture::redact_json(&mut v, &[]);
    v
}

/// The run log the server writes to, shared by every session.
pub struct RunLog {
    store: Mutex<Box<dyn PushStore>>,
    store_hash: String,
}

impl RunLog {
    pub fn new(store: Box<dyn PushStore>, store_hash: &str) -> Arc<Self> {
        Arc::new(Self {
            store: Mutex::new(store),
            store_hash: store_hash.to_owned(),
        })
    }

    /// Writes one call; a failure is logged on stderr, never returned.
    pub fn record(&self, call: CallRecord<'_>) {
        let finished = Utc::now();
        let arguments = redacted(call.arguments);
        let mut counts = BTreeMap::new();
        if let Some(n) = call.records {
            counts.insert("records".to_owned(), n);
        }
        let mut run = RunRecord {
            id: 0,
            store: self.store_hash.clone(),
            sync: format!("mcp:{}", call.tool),
            started_at: call.started.to_rfc3339_opts(SecondsFormat::Millis, true),
            finished_at: finished.to_rfc3339_opts(SecondsFormat::Millis, true),
            dry_run: false,
            status: call.outcome.as_str().to_owned(),
            message: Some(format!("arguments {arguments}: {}", call.summary)),
            counts,
            duration_ms: u64::try_from((finished - call.started).num_milliseconds()).unwrap_or(0),
            ..RunRecord::default()
        };
        run.count_requests(&call.requests);
        run.request_log = call.requests;
        if let Err(e) = self.store.lock().save_run(&run) {
            tracing::warn!(
                "could not record the {} call in the run log: {e}",
                call.tool
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let args = json!({"data": {"email": "a@x", "authentication": {"new_password": "hunter2"}}, "api_key": "k"});
        let r = redacted(args.as_object().unwrap()).to_string();
        assert!(!r.contains("hunter2") && !r.contains("\"k\""), "{r}");
        assert!(r.contains("a@x"));
    }
}
