//! Sending one notice (an alert, its resolve, or a test) to one destination: the payload
//! each service expects, the secrets read from where the config says, and a bounded
//! retry.
//!
//! Retry rules ([`decide`], pure): a connection that failed or timed out, HTTP 408, 429
//! and 5xx, and an SMTP 4xx reply are tried again, after a doubling backoff (or the
//! server's `Retry-After`, capped), at most [`RetryPolicy::attempts`] times in all; any
//! other 4xx, an SMTP 5xx reply, or a setting that is wrong fails at once (repeating
//! cannot help).
//!
//! Secrets never leave through this module's words: a destination is named by its kind
//! and the variable or host that locates it ([`describe`]), reqwest's errors are taken
//! without their URL, and every text sent or reported passes [`Redactor::clean`].

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::config::{Destination, PAGERDUTY_EVENTS_URL, SmtpConfig};

/// What a notice says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    Trigger,
    Resolve,
    Test,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Trigger => "trigger",
            NoticeKind::Resolve => "resolve",
            NoticeKind::Test => "test",
        }
    }
}

/// One notice about one incident.
#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: NoticeKind,
    pub alert: String,
    pub condition: String,
    pub sync: String,
    pub store: String,
    pub run_id: i64,
    /// One line: what happened (already cleaned of secrets).
    pub summary: String,
    pub severity: &'static str,
}

impl Notice {
    /// The same key for an incident's trigger and resolve (PagerDuty's `dedup_key`).
    pub fn dedup_key(&self) -> String {
        format!(
            "bcsync/{}/{}/{}/{}",
            self.store, self.alert, self.condition, self.sync
        )
    }

    /// A short subject line with no free text (an e-mail's subject).
    pub fn subject(&self) -> String {
        match self.kind {
            NoticeKind::Trigger => format!(
                "[bcsync] {}: {} on sync {} (store {})",
                self.alert, self.condition, self.sync, self.store
            ),
            NoticeKind::Resolve => format!(
                "[bcsync] resolved {}: {} on sync {} (store {})",
                self.alert, self.condition, self.sync, self.store
            ),
            NoticeKind::Test => format!("[bcsync] test of alert {}", self.alert),
        }
    }

    /// The one-line text (Slack, PagerDuty's summary, the first line of an e-mail).
    pub fn text(&self) -> String {
        match self.kind {
            NoticeKind::Trigger => format!(
                "[bcsync] {}: {} on sync {} (store {}): {}",
                self.alert, self.condition, self.sync, self.store, self.summary
            ),
            NoticeKind::Resolve => format!(
                "[bcsync] resolved {}: {} on sync {} (store {}): {}",
                self.alert, self.condition, self.sync, self.store, self.summary
            ),
            NoticeKind::Test => format!("[bcsync] test of alert {}: {}", self.alert, self.summary),
        }
    }
}

/// Strings that must never leave: the destinations' secrets and the store's token.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Adds a secret (short values are ignored: they would blank ordinary words).
    pub fn add(&mut self, secret: &str) {
        let s = secret.trim();
        if s.len() >= 6 && !self.secrets.iter().any(|x| x == s) {
            self.secrets.push(s.to_owned());
        }
    }

    /// `text` with every secret replaced by `<redacted>`.
    pub fn clean(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "<redacted>");
            }
        }
        out
    }
}

/// Why a notice was not delivered; the words name the destination, never its secret.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The variable a secret is read from is unset.
    #[error("{destination}: the environment variable {variable} is not set; set it to the {what}")]
    MissingSecret {
        destination: String,
        variable: String,
        what: &'static str,
    },
    /// The service answered with a status that retrying cannot fix.
    #[error("{destination} refused the alert with HTTP {status}{}; {fix}", body_suffix(.body))]
    Refused {
        destination: String,
        status: u16,
        body: String,
        fix: &'static str,
    },
    /// Every attempt failed with a transient error.
    #[error(
        "{destination} did not take the alert after {attempts} attempts: {last}; check that it is reachable from here"
    )]
    GaveUp {
        destination: String,
        attempts: u32,
        last: String,
    },
    /// The URL cannot be used at all.
    #[error("{destination}: the URL cannot be used ({detail}); check the URL")]
    BadUrl { destination: String, detail: String },
    /// The mail server refused, or a setting does not fit it.
    #[error("{destination}: {detail}; {fix}")]
    Smtp {
        destination: String,
        detail: String,
        fix: String,
    },
}

fn body_suffix(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(" ({body})")
    }
}

/// How many times a notice is tried, and how long between tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
        }
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// An HTTP answer that is not a success, with its `Retry-After` when given.
    Http {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// No connection, a timeout or a connection lost: nothing was answered.
    Transport,
    /// An SMTP reply refusing a command.
    SmtpReply(u16),
    /// A setting that does not fit the server (no STARTTLS offered, a bad address...).
    Setting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Retry { after: Duration },
    Fail,
}

/// Whether an attempt that ended so may succeed when repeated.
pub fn transient(ended: Ended) -> bool {
    match ended {
        Ended::Http { status, .. } => {
            status == 408 || status == 429 || (500..600).contains(&status)
        }
        Ended::Transport => true,
        Ended::SmtpReply(code) => (400..500).contains(&code),
        Ended::Setting => false,
    }
}

/// Whether attempt number `attempt` (1 for the first) is followed by another.
pub fn decide(ended: Ended, attempt: u32, policy: &RetryPolicy) -> Decision {
    if !transient(ended) || attempt >= policy.attempts {
        return Decision::Fail;
    }
    let backoff = policy
        .base_delay
        .saturating_mul(1u32 << (attempt - 1).min(16))
        .min(policy.max_delay);
    let after = match ended {
        Ended::Http {
            retry_after: Some(wait),
            ..
        } => wait.min(policy.max_delay),
        _ => backoff,
    };
    Decision::Retry { after }
}

/// A destination as it may be shown: its kind and what locates it, never a secret.
pub fn describe(to: &Destination) -> String {
    match to {
        Destination::Slack(c) => match &c.webhook_url_env {
            Some(v) => format!("slack (webhook URL from {v})"),
            None => "slack (webhook_url in bcsync.toml)".into(),
        },
        Destination::PagerDuty(c) => format!(
            "pagerduty ({})",
            host_of(c.url.as_deref().unwrap_or(PAGERDUTY_EVENTS_URL))
        ),
        Destination::Smtp(c) => format!("smtp {}:{}", c.host, c.port),
        Destination::Webhook(c) => match (&c.url, &c.url_env) {
            (Some(u), _) => format!("webhook {}", host_of(u)),
            (None, Some(v)) => format!("webhook (URL from {v})"),
            (None, None) => "webhook".into(),
        },
    }
}

/// `scheme://host[:port]` of a URL: its path and query may hold a key.
fn host_of(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(p) => match (p.host_str(), p.port()) {
            (Some(h), Some(port)) => format!("{}://{h}:{port}", p.scheme()),
            (Some(h), None) => format!("{}://{h}", p.scheme()),
            _ => p.scheme().to_owned(),
        },
        Err(_) => "an unreadable URL".into(),
    }
}

/// A secret from its variable or the file.
fn secret(
    destination: &str,
    value: Option<&SecretString>,
    variable: Option<&str>,
    what: &'static str,
) -> Result<SecretString, DeliveryError> {
    if let Some(v) = value {
        return Ok(v.clone());
    }
    let variable = variable.unwrap_or_default();
    match std::env::var(variable) {
        Ok(v) if !v.trim().is_empty() => Ok(SecretString::from(v.trim().to_owned())),
        _ => Err(DeliveryError::MissingSecret {
            destination: destination.to_owned(),
            variable: variable.to_owned(),
            what,
        }),
    }
}

/// Every secret a destination uses that can be read now (for the [`Redactor`]).
pub fn known_secrets(to: &Destination) -> Vec<String> {
    let d = describe(to);
    let mut out = Vec::new();
    let mut take = |r: Result<SecretString, DeliveryError>| {
        if let Ok(s) = r {
            out.push(s.expose_secret().to_owned());
        }
    };
    match to {
        Destination::Slack(c) => take(secret(
            &d,
            c.webhook_url.as_ref(),
            c.webhook_url_env.as_deref(),
            "",
        )),
        Destination::PagerDuty(c) => take(secret(
            &d,
            c.routing_key.as_ref(),
            c.routing_key_env.as_deref(),
            "",
        )),
        Destination::Smtp(c) => {
            if c.password.is_some() || c.password_env.is_some() {
                take(secret(
                    &d,
                    c.password.as_ref(),
                    c.password_env.as_deref(),
                    "",
                ));
            }
        }
        Destination::Webhook(c) => {
            if let Some(v) = &c.url_env {
                take(secret(&d, None, Some(v), ""));
            }
            if let Some(v) = &c.header_env
                && let Ok(h) = secret(&d, None, Some(v), "")
            {
                let h = h.expose_secret().to_owned();
                // The header's value is the secret; its name is not.
                if let Some((_, value)) = h.split_once(':') {
                    out.push(value.trim().to_owned());
                }
                out.push(h);
            }
        }
    }
    out
}

/// One POST to an HTTP destination.
pub struct HttpRequest {
    /// May hold the destination's key (a Slack webhook URL): never shown.
    pub url: SecretString,
    pub body: Value,
    /// A header to send (name, secret value).
    pub header: Option<(String, SecretString)>,
}

/// The JSON body of a notice for an HTTP destination, and the URL it goes to.
pub fn http_request(
    to: &Destination,
    notice: &Notice,
    destination: &str,
) -> Result<HttpRequest, DeliveryError> {
    let plain = |url, body| HttpRequest {
        url,
        body,
        header: None,
    };
    match to {
        Destination::Slack(c) => {
            let url = secret(
                destination,
                c.webhook_url.as_ref(),
                c.webhook_url_env.as_deref(),
                "Slack incoming-webhook URL (https://hooks.slack.com/services/...)",
            )?;
            Ok(plain(url, json!({ "text": notice.text() })))
        }
        Destination::PagerDuty(c) => {
            let key = secret(
                destination,
                c.routing_key.as_ref(),
                c.routing_key_env.as_deref(),
                "integration key of a PagerDuty service (Events API v2)",
            )?;
            let url = SecretString::from(
                c.url
                    .clone()
                    .unwrap_or_else(|| PAGERDUTY_EVENTS_URL.to_owned()),
            );
            Ok(plain(url, pagerduty_body(notice, key.expose_secret())))
        }
        Destination::Webhook(c) => {
            let url = match (&c.url, &c.url_env) {
                (Some(u), _) => SecretString::from(u.clone()),
                (None, v) => secret(destination, None, v.as_deref(), "webhook URL")?,
            };
            let header = match &c.header_env {
                None => None,
                Some(v) => {
                    let h = secret(
                        destination,
                        None,
                        Some(v),
                        "header to send, as `Name: value` (e.g. `Authorization: Bearer ...`)",
                    )?;
                    let h = h.expose_secret();
                    Some(match h.split_once(':') {
                        Some((name, value)) => (
                            name.trim().to_owned(),
                            SecretString::from(value.trim().to_owned()),
                        ),
                        None => ("Authorization".to_owned(), SecretString::from(h.to_owned())),
                    })
                }
            };
            Ok(HttpRequest {
                url,
                body: webhook_body(notice),
                header,
            })
        }
        Destination::Smtp(_) => Err(DeliveryError::Smtp {
            destination: destination.to_owned(),
            detail: "not an HTTP destination".into(),
            fix: "this is a bug in bcsync; please report it".into(),
        }),
    }
}

/// PagerDuty Events API v2: a trigger carries the payload, a resolve only the key.
pub fn pagerduty_body(notice: &Notice, routing_key: &str) -> Value {
    let dedup_key = notice.dedup_key();
    match notice.kind {
        NoticeKind::Resolve => json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": dedup_key,
        }),
        NoticeKind::Trigger | NoticeKind::Test => {
            // PagerDuty truncates a summary at 1024 characters.
            let summary: String = notice.text().chars().take(1024).collect();
            json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": dedup_key,
                "payload": {
                    "summary": summary,
                    "source": format!("bcsync/{}", notice.store),
                    "severity": if notice.kind == NoticeKind::Test { "info" } else { notice.severity },
                    "component": notice.sync,
                    "group": notice.alert,
                    "class": notice.condition,
                    "custom_details": { "run_id": notice.run_id },
                },
            })
        }
    }
}

/// The generic webhook's JSON.
pub fn webhook_body(notice: &Notice) -> Value {
    json!({
        "event": notice.kind.as_str(),
        "alert": notice.alert,
        "condition": notice.condition,
        "sync": notice.sync,
        "store": notice.store,
        "run_id": notice.run_id,
        "severity": notice.severity,
        "summary": notice.summary,
        "text": notice.text(),
        "dedup_key": notice.dedup_key(),
        "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// What to do about a status each service refuses for good.
fn refusal_fix(to: &Destination, status: u16) -> &'static str {
    match (to, status) {
        (Destination::Slack(_), 403 | 404 | 410) => {
            "the webhook URL was revoked or is wrong: create a new incoming webhook in Slack and set its URL"
        }
        (Destination::PagerDuty(_), 400) => {
            "check the routing key: it is the integration key of an Events API v2 integration"
        }
        (_, 401 | 403) => "check the credentials the destination expects",
        (_, 404) => "check the URL",
        _ => "check the destination's settings",
    }
}

/// Sends one notice over HTTP, with retries.
pub async fn send_http(
    http: &reqwest::Client,
    to: &Destination,
    notice: &Notice,
    policy: &RetryPolicy,
    redactor: &Redactor,
) -> Result<(), DeliveryError> {
    let destination = describe(to);
    let HttpRequest { url, body, header } = http_request(to, notice, &destination)?;
    with_retries(&destination, policy, || async {
        let mut req = http.post(url.expose_secret()).json(&body);
        if let Some((name, value)) = &header {
            req = req.header(name.as_str(), value.expose_secret());
        }
        match req.send().await {
            Ok(resp) if resp.status().is_success() => Ok(()),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let text = resp.text().await.unwrap_or_default();
                let excerpt: String = redactor.clean(text.trim()).chars().take(200).collect();
                let ended = Ended::Http {
                    status,
                    retry_after,
                };
                if !transient(ended) {
                    return Err(TryFailed::Final(DeliveryError::Refused {
                        destination: destination.clone(),
                        status,
                        body: excerpt,
                        fix: refusal_fix(to, status),
                    }));
                }
                Err(TryFailed::Again {
                    ended,
                    last: format!("HTTP {status}{}", body_suffix(&excerpt)),
                })
            }
            Err(e) => {
                // reqwest names the URL in its errors; the URL may be the secret.
                let e = e.without_url();
                let detail = redactor.clean(&error_chain(&e));
                if e.is_builder() {
                    return Err(TryFailed::Final(DeliveryError::BadUrl {
                        destination: destination.clone(),
                        detail,
                    }));
                }
                Err(TryFailed::Again {
                    ended: Ended::Transport,
                    last: detail,
                })
            }
        }
    })
    .await
}

/// How one try of a delivery failed.
enum TryFailed {
    /// It may succeed when repeated: how it ended, and what to report if no try does.
    Again { ended: Ended, last: String },
    /// Repeating it cannot help: the error to return as it is.
    Final(DeliveryError),
}

/// The one retry loop of every kind of destination (HTTP and SMTP): tries `try_once` until it succeeds,
/// fails for good, or [`decide`] says to stop.
async fn with_retries<F, Fut>(
    destination: &str,
    policy: &RetryPolicy,
    mut try_once: F,
) -> Result<(), DeliveryError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), TryFailed>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (ended, last) = match try_once().await {
            Ok(()) => return Ok(()),
            Err(TryFailed::Final(e)) => return Err(e),
            Err(TryFailed::Again { ended, last }) => (ended, last),
        };
        match decide(ended, attempt, policy) {
            Decision::Retry { after } => {
                tracing::debug!("{destination}: attempt {attempt} failed ({last}); retrying");
                tokio::time::sleep(after).await;
            }
            Decision::Fail => {
                return Err(DeliveryError::GaveUp {
                    destination: destination.to_owned(),
                    attempts: attempt,
                    last,
                });
            }
        }
    }
}

/// An error and its causes, each once.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    out
}

/// Sends one notice by e-mail, with retries.
pub async fn send_smtp(
    c: &SmtpConfig,
    notice: &Notice,
    policy: &RetryPolicy,
) -> Result<(), DeliveryError> {
    let destination = describe(&Destination::Smtp(c.clone()));
    let credentials = match (&c.username, &c.username_env) {
        (None, None) => None,
        (user, user_env) => {
            let user = match user {
                Some(u) => u.clone(),
                None => secret(&destination, None, user_env.as_deref(), "SMTP user name")?
                    .expose_secret()
                    .to_owned(),
            };
            let password = secret(
                &destination,
                c.password.as_ref(),
                c.password_env.as_deref(),
                "SMTP password",
            )?;
            Some((user, password))
        }
    };
    let message = super::smtp::Message {
        from: c.from.clone(),
        to: c.to.clone(),
        subject: notice.subject(),
        body: format!(
            "{}\n\nalert: {}\ncondition: {}\nsync: {}\nstore: {}\nrun: {}\nevent: {}\n",
            notice.text(),
            notice.alert,
            notice.condition,
            notice.sync,
            notice.store,
            notice.run_id,
            notice.kind.as_str()
        ),
    };
    with_retries(&destination, policy, || async {
        let err = match super::smtp::send(c, credentials.as_ref(), &message).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let ended = err.ended();
        if transient(ended) {
            Err(TryFailed::Again {
                ended,
                last: err.to_string(),
            })
        } else {
            Err(TryFailed::Final(DeliveryError::Smtp {
                destination: destination.clone(),
                detail: err.to_string(),
                fix: err.fix(),
            }))
        }
    })
    .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn retry_decisions_as_a_table() {
        let p = RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        let http = |status| Ended::Http {
            status,
            retry_after: None,
        };
        let ms = |n| Decision::Retry {
            after: Duration::from_millis(n),
        };
        let cases = [
            (http(500), 1, ms(100)),
            (http(503), 2, ms(200)),
            (http(500), 3, Decision::Fail),
            (http(408), 1, ms(100)),
            (http(429), 1, ms(100)),
            (
                Ended::Http {
                    status: 429,
                    retry_after: Some(Duration::from_secs(60)),
                },
                1,
                ms(300),
            ),
            (http(400), 1, Decision::Fail),
            (http(403), 1, Decision::Fail),
            (http(404), 1, Decision::Fail),
            (Ended::Transport, 1, ms(100)),
            (Ended::Transport, 2, ms(200)),
            (Ended::SmtpReply(421), 1, ms(100)),
            (Ended::SmtpReply(550), 1, Decision::Fail),
            (Ended::Setting, 1, Decision::Fail),
        ];
        for (ended, attempt, expected) in cases {
            assert_eq!(
                decide(ended, attempt, &p),
                expected,
                "{ended:?} attempt {attempt}"
            );
        }
    }

    fn notice(kind: NoticeKind) -> Notice {
        Notice {
            kind,
            alert: "ops".into(),
            condition: "run_failed".into(),
            sync: "crm".into(),
            store: "abc123".into(),
            run_id: 4,
            summary: "run 4 failed: boom".into(),
            severity: "error",
        }
    }

    #[test]
    fn pagerduty_trigger_and_resolve_share_their_dedup_key() {
        let t = pagerduty_body(&notice(NoticeKind::Trigger), "rk");
        let r = pagerduty_body(&notice(NoticeKind::Resolve), "rk");
        assert_eq!(t["event_action"], "trigger");
        assert_eq!(r["event_action"], "resolve");
        assert_eq!(t["dedup_key"], r["dedup_key"]);
        assert_eq!(t["dedup_key"], "bcsync/abc123/ops/run_failed/crm");
        assert_eq!(t["payload"]["severity"], "error");
        assert_eq!(t["payload"]["source"], "bcsync/abc123");
        assert!(t["payload"]["summary"].as_str().unwrap().contains("boom"));
        assert!(r.get("payload").is_none());
    }

    #[test]
    fn destinations_are_described_without_their_secrets() {
        let to = Destination::Webhook(super::super::config::WebhookConfig {
            url: Some("https://hooks.example.com:8443/in/sekrit123?key=sekrit456".into()),
            url_env: None,
            header_env: None,
        });
        let d = describe(&to);
        assert_eq!(d, "webhook https://hooks.example.com:8443");
        let mut r = Redactor::default();
        r.add("sekrit123");
        r.add("abc"); // too short to redact
        assert_eq!(r.clean("x sekrit123 abc"), "x <redacted> abc");
    }
}
