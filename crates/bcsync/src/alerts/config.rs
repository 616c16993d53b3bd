//! `[[alert]]` tables of `bcsync.toml`: a name, the conditions that fire it (`on`), the
//! syncs it watches (`syncs`, all by default) and one destination (`to`).
//!
//! Secrets (a Slack webhook URL, a PagerDuty routing key, an SMTP password, a webhook's
//! header) come from an environment variable named in the file (`*_env`) or from the file
//! itself; they are held as `SecretString` and read only when an alert is sent, so a
//! missing variable is reported by `bcsync alerts test` and as a warning after a run,
//! never as a failed run. Every other mistake is refused when the file is read, with the
//! alert and the key named.

use secrecy::SecretString;
use serde::Deserialize;

use crate::error::{Error, Result};

/// One `[[alert]]`.
#[derive(Debug, Clone)]
pub struct AlertDef {
    pub name: String,
    pub on: Vec<Condition>,
    /// Syncs (push sync names, `brevo`, `listen`) it watches; `None`: all.
    pub syncs: Option<Vec<String>>,
    pub to: Destination,
}

impl AlertDef {
    /// Whether runs of `sync` are watched by this alert.
    pub fn watches(&self, sync: &str) -> bool {
        self.syncs
            .as_ref()
            .is_none_or(|s| s.iter().any(|n| n == sync))
    }
}

/// What fires an alert.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// A run ended `failed`, or was refused by a guard rail.
    RunFailed,
    /// A run rejected more rows than the threshold.
    RejectedRows { threshold: Threshold },
    /// A run met answers 429 (its rate or quota limit was hit).
    QuotaExhausted,
    /// `listen` found one of its hooks deactivated by the store.
    HookDeactivated,
    /// `listen`'s oldest pending event waited longer than this.
    Lag { threshold_minutes: u64 },
}

impl Condition {
    /// The name written in `on` (and kept in the incident).
    pub fn name(&self) -> &'static str {
        match self {
            Condition::RunFailed => "run_failed",
            Condition::RejectedRows { .. } => "rejected_rows",
            Condition::QuotaExhausted => "quota_exhausted",
            Condition::HookDeactivated => "hook_deactivated",
            Condition::Lag { .. } => "lag",
        }
    }

    /// PagerDuty's severity for it.
    pub fn severity(&self) -> &'static str {
        match self {
            Condition::RunFailed | Condition::HookDeactivated => "error",
            _ => "warning",
        }
    }
}

/// `rejected_rows`' threshold: above a number of rows, or above a fraction of the rows
/// the source held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    Count(u64),
    Fraction(f64),
}

/// Where an alert goes.
#[derive(Debug, Clone)]
pub enum Destination {
    Slack(SlackConfig),
    PagerDuty(PagerDutyConfig),
    Smtp(SmtpConfig),
    Webhook(WebhookConfig),
}

/// `to = { slack = { webhook_url_env = "SLACK_WEBHOOK_URL" } }` (an incoming webhook).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    pub webhook_url_env: Option<String>,
    pub webhook_url: Option<SecretString>,
}

/// `to = { pagerduty = { routing_key_env = "PD_ROUTING_KEY" } }` (Events API v2).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyConfig {
    pub routing_key_env: Option<String>,
    pub routing_key: Option<SecretString>,
    /// The enqueue endpoint (default [`PAGERDUTY_EVENTS_URL`]; the EU service or a proxy).
    pub url: Option<String>,
}

/// PagerDuty's Events API v2 endpoint.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// `to = { smtp = { host, port, from, to = [...] } }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Default 587 (submission with STARTTLS).
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    pub from: String,
    pub to: Vec<String>,
    pub username_env: Option<String>,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub password: Option<SecretString>,
    /// Upgrade the connection with STARTTLS before sending (default true); `false` only
    /// on a trusted network (a local relay).
    #[serde(default = "default_true")]
    pub starttls: bool,
}

fn default_smtp_port() -> u16 {
    587
}

fn default_true() -> bool {
    true
}

/// `to = { webhook = { url = "https://...", header_env = "ALERT_WEBHOOK_HEADER" } }`: the
/// alert as JSON. The header variable holds `Name: value` (e.g. `Authorization: Bearer
/// ...`); the URL may come from `url_env` when it carries a key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: Option<String>,
    pub url_env: Option<String>,
    pub header_env: Option<String>,
}

/// Raw `[[alert]]` before its conditions are read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    name: String,
    on: Vec<toml::Value>,
    syncs: Option<Vec<String>>,
    to: RawDestination,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDestination {
    slack: Option<SlackConfig>,
    pagerduty: Option<PagerDutyConfig>,
    smtp: Option<SmtpConfig>,
    webhook: Option<WebhookConfig>,
}

/// Reads the `[[alert]]` tables; any mistake names the alert and the key, and says what
/// to write.
pub fn parse(tables: &[toml::Value]) -> Result<Vec<AlertDef>> {
    let mut out: Vec<AlertDef> = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        let label = match table.get("name").and_then(toml::Value::as_str) {
            Some(n) => format!("[[alert]] {n:?}"),
            None => format!("[[alert]] number {}", i + 1),
        };
        let raw: RawAlert = table.clone().try_into().map_err(|e: toml::de::Error| {
            bad(
                &label,
                &format!(
                    "{}; an alert has name, on, to and optionally syncs",
                    crate::error::plain_serde_message(e.message())
                ),
            )
        })?;
        if raw.name.trim().is_empty() {
            return Err(bad(&label, "name is empty; give the alert a name"));
        }
        if out.iter().any(|a| a.name == raw.name) {
            return Err(bad(
                &label,
                "name is used by another alert; each alert needs its own name (incidents are kept by it)",
            ));
        }
        if raw.on.is_empty() {
            return Err(bad(
                &label,
                "on is empty; list at least one of run_failed, rejected_rows, quota_exhausted, hook_deactivated, lag",
            ));
        }
        let mut on = Vec::new();
        for value in &raw.on {
            let c = condition(value).map_err(|why| bad(&label, &format!("on: {why}")))?;
            if on.iter().any(|o: &Condition| o.name() == c.name()) {
                return Err(bad(
                    &label,
                    &format!("on: {} is listed twice; keep one", c.name()),
                ));
            }
            on.push(c);
        }
        let to = destination(raw.to).map_err(|why| bad(&label, &format!("to: {why}")))?;
        out.push(AlertDef {
            name: raw.name,
            on,
            syncs: raw.syncs,
            to,
        });
    }
    Ok(out)
}

fn bad(label: &str, why: &str) -> Error {
    Error::Config(format!("bcsync.toml {label}: {why}"))
}

const CONDITIONS: &str = "run_failed, quota_exhausted, hook_deactivated, rejected_rows, { rejected_rows = { threshold = N or 0.05 } }, { lag = { threshold_minutes = N } }";

/// One entry of `on`: a name, or a one-key table with the condition's settings.
fn condition(value: &toml::Value) -> std::result::Result<Condition, String> {
    match value {
        toml::Value::String(name) => match name.as_str() {
            "run_failed" => Ok(Condition::RunFailed),
            "quota_exhausted" => Ok(Condition::QuotaExhausted),
            "hook_deactivated" => Ok(Condition::HookDeactivated),
            "rejected_rows" => Ok(Condition::RejectedRows {
                threshold: Threshold::Count(0),
            }),
            "lag" => Err(
                "lag needs its threshold: write { lag = { threshold_minutes = 15 } }".to_owned(),
            ),
            other => Err(format!("unknown condition {other:?}; use {CONDITIONS}")),
        },
        toml::Value::Table(t) if t.len() == 1 => {
            let (name, settings) = t.iter().next().ok_or("an empty table")?;
            if !matches!(name.as_str(), "rejected_rows" | "lag") {
                return Err(match name.as_str() {
                    "run_failed" | "quota_exhausted" | "hook_deactivated" => {
                        format!("{name} takes no settings; write it as the string \"{name}\"")
                    }
                    other => format!("unknown condition {other:?}; use {CONDITIONS}"),
                });
            }
            let settings = settings.as_table().ok_or_else(|| {
                format!(
                    "{name} takes a table of settings, e.g. {{ {name} = {{ threshold = 10 }} }}"
                )
            })?;
            let only = |allowed: &str| -> std::result::Result<(), String> {
                match settings.keys().find(|k| k.as_str() != allowed) {
                    Some(k) => Err(format!("{name} has no setting {k:?}; it takes {allowed}")),
                    None => Ok(()),
                }
            };
            match name.as_str() {
                "rejected_rows" => {
                    only("threshold")?;
                    let threshold = match settings.get("threshold") {
                        None => Threshold::Count(0),
                        Some(toml::Value::Integer(n)) if *n >= 0 => Threshold::Count(*n as u64),
                        Some(toml::Value::Float(f)) if (0.0..1.0).contains(f) => {
                            Threshold::Fraction(*f)
                        }
                        Some(other) => {
                            return Err(format!(
                                "rejected_rows threshold {other} is neither a row count (a whole number, 0 or more) nor a fraction of the source rows (0.05 means 5%)"
                            ));
                        }
                    };
                    Ok(Condition::RejectedRows { threshold })
                }
                "lag" => {
                    only("threshold_minutes")?;
                    match settings.get("threshold_minutes") {
                        Some(toml::Value::Integer(n)) if *n > 0 => Ok(Condition::Lag {
                            threshold_minutes: *n as u64,
                        }),
                        _ => Err(
                            "lag needs threshold_minutes, a whole number of minutes above 0"
                                .to_owned(),
                        ),
                    }
                }
                _ => Err(format!("unknown condition {name:?}; use {CONDITIONS}")),
            }
        }
        _ => Err(format!(
            "each entry is a condition name or a one-key table; use {CONDITIONS}"
        )),
    }
}

fn destination(raw: RawDestination) -> std::result::Result<Destination, String> {
    let mut found = Vec::new();
    if let Some(c) = raw.slack {
        if c.webhook_url.is_some() == c.webhook_url_env.is_some() {
            return Err(
                "slack needs one of webhook_url_env (the name of an environment variable holding the incoming-webhook URL) or webhook_url".into(),
            );
        }
        found.push(Destination::Slack(c));
    }
    if let Some(c) = raw.pagerduty {
        if c.routing_key.is_some() == c.routing_key_env.is_some() {
            return Err(
                "pagerduty needs one of routing_key_env (the name of an environment variable holding the integration's routing key) or routing_key".into(),
            );
        }
        if let Some(u) = &c.url {
            check_url("pagerduty url", u)?;
        }
        found.push(Destination::PagerDuty(c));
    }
    if let Some(c) = raw.smtp {
        if c.host.trim().is_empty() {
            return Err("smtp host is empty; give the mail server's name".into());
        }
        if c.to.is_empty() {
            return Err("smtp to is empty; list at least one recipient address".into());
        }
        for a in std::iter::once(&c.from).chain(&c.to) {
            if !plausible_address(a) {
                return Err(format!(
                    "smtp address {a:?} is not an e-mail address; write name@example.com"
                ));
            }
        }
        if c.username.is_some() && c.username_env.is_some() {
            return Err("smtp has both username and username_env; keep one".into());
        }
        if c.password.is_some() && c.password_env.is_some() {
            return Err("smtp has both password and password_env; keep one".into());
        }
        let has_user = c.username.is_some() || c.username_env.is_some();
        let has_password = c.password.is_some() || c.password_env.is_some();
        if has_user != has_password {
            return Err(
                "smtp needs both a user name (username or username_env) and a password (password or password_env), or neither".into(),
            );
        }
        if has_user && !c.starttls {
            return Err(
                "smtp would send its password unencrypted: set starttls = true, or drop the user name and password for an open relay".into(),
            );
        }
        found.push(Destination::Smtp(c));
    }
    if let Some(c) = raw.webhook {
        match (&c.url, &c.url_env) {
            (Some(u), None) => check_url("webhook url", u)?,
            (None, Some(_)) => {}
            _ => {
                return Err(
                    "webhook needs one of url or url_env (an environment variable holding the URL)"
                        .into(),
                );
            }
        }
        found.push(Destination::Webhook(c));
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(
            "no destination; write one of slack, pagerduty, smtp or webhook, e.g. to = { slack = { webhook_url_env = \"SLACK_WEBHOOK_URL\" } }".into(),
        ),
        _ => Err("more than one destination; an alert has one (write another [[alert]] for each further destination)".into()),
    }
}

fn check_url(what: &str, u: &str) -> std::result::Result<(), String> {
    match url::Url::parse(u) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(()),
        _ => Err(format!(
            "{what} is not an http(s) URL; write https://host/path"
        )),
    }
}

/// `local@domain` with no spaces or angle brackets: enough to catch a typo before the
/// server does.
fn plausible_address(a: &str) -> bool {
    let mut parts = a.split('@');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(l), Some(d), None) if !l.is_empty() && !d.is_empty()
    ) && !a.contains(|c: char| c.is_whitespace() || c == '<' || c == '>')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Vec<AlertDef>> {
        #[derive(Deserialize)]
        struct F {
            alert: Vec<toml::Value>,
        }
        let f: F = toml::from_str(text).unwrap();
        parse(&f.alert)
    }

    #[test]
    fn reads_every_condition_and_destination() {
        let alerts = parse_text(
            r#"
[[alert]]
name = "ops"
on = ["run_failed", "quota_exhausted", { rejected_rows = { threshold = 0.05 } }, { lag = { threshold_minutes = 30 } }, "hook_deactivated"]
syncs = ["crm"]
to = { slack = { webhook_url_env = "SLACK_WEBHOOK_URL" } }

[[alert]]
name = "pager"
on = [{ rejected_rows = { threshold = 10 } }]
to.pagerduty = { routing_key_env = "PD_ROUTING_KEY", url = "http://127.0.0.1:9/v2/enqueue" }

[[alert]]
name = "mail"
on = ["rejected_rows"]
to.smtp = { host = "mail.example.com", from = "bcsync@example.com", to = ["ops@example.com"], username_env = "U", password_env = "P" }

[[alert]]
name = "hook"
on = ["run_failed"]
to.webhook = { url = "https://example.com/hook", header_env = "H" }
"#,
        )
        .unwrap();
        assert_eq!(alerts.len(), 4);
        assert_eq!(
            alerts[0].on[2],
            Condition::RejectedRows {
                threshold: Threshold::Fraction(0.05)
            }
        );
        assert_eq!(
            alerts[0].on[3],
            Condition::Lag {
                threshold_minutes: 30
            }
        );
        assert!(alerts[0].watches("crm") && !alerts[0].watches("brevo"));
        assert!(alerts[1].watches("brevo"));
        assert_eq!(
            alerts[1].on[0],
            Condition::RejectedRows {
                threshold: Threshold::Count(10)
            }
        );
        assert_eq!(
            alerts[2].on[0],
            Condition::RejectedRows {
                threshold: Threshold::Count(0)
            }
        );
        match &alerts[2].to {
            Destination::Smtp(s) => assert!(s.port == 587 && s.starttls),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mistakes_name_the_alert_the_key_and_the_fix() {
        let cases = [
            (
                "name = \"a\"\non = [\"run_faild\"]\nto.slack = { webhook_url_env = \"S\" }",
                "[[alert]] \"a\": on: unknown condition \"run_faild\"",
            ),
            (
                "name = \"a\"\non = [\"lag\"]\nto.slack = { webhook_url_env = \"S\" }",
                "threshold_minutes = 15",
            ),
            (
                "name = \"a\"\non = [{ rejected_rows = { threshold = 1.5 } }]\nto.slack = { webhook_url_env = \"S\" }",
                "0.05 means 5%",
            ),
            (
                "name = \"a\"\non = [\"run_failed\"]\nto.slack = {}",
                "slack needs one of webhook_url_env",
            ),
            (
                "name = \"a\"\non = [\"run_failed\"]\nto = {}",
                "no destination",
            ),
            (
                "name = \"a\"\non = [\"run_failed\"]\nto.slack = { webhook_url_env = \"S\" }\nto.webhook = { url = \"https://x.io\" }",
                "more than one destination",
            ),
            (
                "name = \"a\"\non = [\"run_failed\"]\nto.smtp = { host = \"h\", from = \"a@b.c\", to = [\"x\"] }",
                "\"x\" is not an e-mail address",
            ),
            (
                "name = \"a\"\non = [\"run_failed\"]\nto.smtp = { host = \"h\", from = \"a@b.c\", to = [\"x@y.z\"], username = \"u\", password_env = \"P\", starttls = false }",
                "unencrypted",
            ),
            (
                "name = \"a\"\non = [\"run_failed\"]\nto.webhook = { url = \"ftp://x\" }",
                "webhook url is not an http(s) URL",
            ),
            (
                "name = \"a\"\non = [\"run_failed\"]\nwhen = 3\nto.slack = { webhook_url_env = \"S\" }",
                "unknown field `when`",
            ),
            (
                "name = \"a\"\non = []\nto.slack = { webhook_url_env = \"S\" }",
                "on is empty",
            ),
        ];
        for (body, expected) in cases {
            let err = parse_text(&format!("[[alert]]\n{body}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{body}\n→ {err}");
            assert!(err.starts_with("bcsync.toml [[alert]]"), "{err}");
        }
        let twice = "[[alert]]\nname = \"a\"\non = [\"run_failed\"]\nto.slack = { webhook_url_env = \"S\" }\n";
        let err = parse_text(&format!("{twice}{twice}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("used by another alert"), "{err}");
    }

    #[test]
    fn a_secret_in_the_file_stays_out_of_debug_output() {
        let alerts = parse_text(
            "[[alert]]\nname = \"a\"\non = [\"run_failed\"]\nto.slack = { webhook_url = \"https://hooks.example.com/T000/B000/sekrit123\" }\n",
        )
        .unwrap();
        assert!(!format!("{alerts:?}").contains("sekrit123"));
    }
}
