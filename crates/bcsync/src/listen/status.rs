//! `bcsync status`: what a listener's inbox and destination say about one store:
//! connected or not, last event, last successful sync, lag, inbox depth, counts per
//! table, and (when the store can be asked) hook health.

use std::time::Duration;

use serde::Serialize;

use super::{ListenTarget, inbox};
use crate::error::{Error, Result};
use crate::pg::quote_ident;

/// A listener that has not written its heartbeat for this long is not running.
const HEARTBEAT_STALE: Duration = Duration::from_secs(180);

/// Rows of one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableCount {
    pub table: String,
    pub rows: i64,
    pub deleted: i64,
}

/// Everything `status` shows for one store.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub store_hash: String,
    pub connected: bool,
    pub heartbeat_at: Option<String>,
    pub last_event_at: Option<String>,
    pub last_applied_at: Option<String>,
    pub last_sync_at: Option<String>,
    pub last_reconcile_at: Option<String>,
    pub lag_seconds: i64,
    pub inbox_pending: i64,
    pub inbox_total: i64,
    /// Events set aside because the store refused their read for good.
    pub inbox_parked: i64,
    pub parked_reason: Option<String>,
    pub tables: Vec<TableCount>,
    pub hooks_repaired_at: Option<String>,
    /// Per scope: active, deactivated, missing, other destination (filled by the caller
    /// when the store could be asked).
    pub hooks: Vec<(String, String)>,
    /// The Brevo sync, when `[brevo]` is configured (filled by the caller).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brevo: Option<crate::marketing::BrevoStatus>,
    /// The listener's last forward to Brevo: when, and what it sent or why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brevo_forward: Option<String>,
}

/// One line on the last forward to Brevo, from what the forwarder keeps in the inbox.
fn forward_text(at: Option<String>, last: Option<String>) -> Option<String> {
    let at = at?;
    let last: serde_json::Value = last
        .and_then(|l| serde_json::from_str(&l).ok())
        .unwrap_or_default();
    if let Some(error) = last.get("error").and_then(serde_json::Value::as_str) {
        return Some(format!("{at}: failed: {error}"));
    }
    let counts: Vec<String> = last
        .get("counts")
        .and_then(serde_json::Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !k.ends_with("unchanged"))
                .map(|(k, v)| format!("{k}={v}"))
                .collect()
        })
        .unwrap_or_default();
    Some(format!(
        "{at}: {}",
        if counts.is_empty() {
            "nothing to send".to_owned()
        } else {
            counts.join(" ")
        }
    ))
}

fn epoch_text(t: Option<i64>) -> Option<String> {
    t.and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Reads the status from the inbox and the destination tables (no API call).
pub async fn read(target: &ListenTarget, store_hash: &str) -> Result<Status> {
    if let ListenTarget::Sqlite { path } = target {
        let inbox_path = inbox::sqlite_path_for(path);
        if !inbox_path.exists() {
            return Err(Error::Config(format!(
                "{} does not exist: `bcsync listen` has not run for this destination (start it with `bcsync listen --to sqlite:{}`)",
                inbox_path.display(),
                path.display()
            )));
        }
    }
    let inbox = target.open_inbox().await?;
    let stats = inbox.stats().await?;
    let heartbeat = inbox.meta("heartbeat_at").await?;
    let connected = heartbeat
        .as_deref()
        .and_then(|h| chrono::DateTime::parse_from_rfc3339(h).ok())
        .is_some_and(|h| {
            (chrono::Utc::now() - h.with_timezone(&chrono::Utc))
                .to_std()
                .is_ok_and(|age| age < HEARTBEAT_STALE)
        });
    let lag = stats
        .oldest_pending_at
        .map(|t| (chrono::Utc::now().timestamp() - t).max(0))
        .unwrap_or(0);
    let tables = table_counts(target).await?;
    Ok(Status {
        store_hash: store_hash.to_owned(),
        connected,
        heartbeat_at: heartbeat,
        last_event_at: epoch_text(stats.last_event_at),
        last_applied_at: inbox.meta("last_applied_at").await?,
        last_sync_at: inbox.meta("last_sync_at").await?,
        last_reconcile_at: inbox.meta("last_reconcile_at").await?,
        lag_seconds: lag,
        inbox_pending: stats.pending,
        inbox_total: stats.total,
        inbox_parked: stats.parked,
        parked_reason: stats.parked_reason.clone(),
        tables,
        hooks_repaired_at: inbox.meta("hooks_repaired_at").await?,
        hooks: Vec::new(),
        brevo: None,
        brevo_forward: forward_text(
            inbox.meta(super::BREVO_FORWARDED_AT).await?,
            inbox.meta(super::BREVO_LAST_FORWARD).await?,
        ),
    })
}

fn table_names() -> Vec<&'static str> {
    let mut names = Vec::new();
    let streams = super::POLLED_STREAMS
        .iter()
        .filter_map(|n| super::apply::stream(n).ok())
        .chain(std::iter::once(&crate::streams::CARTS));
    for s in streams {
        names.push(s.name);
        names.extend(s.children.iter().map(|c| c.name));
    }
    names
}

async fn table_counts(target: &ListenTarget) -> Result<Vec<TableCount>> {
    let mut out = Vec::new();
    match target {
        ListenTarget::Sqlite { path } => {
            let path = path.clone();
            let names = table_names();
            let rows = tokio::task::spawn_blocking(move || -> Result<Vec<TableCount>> {
                let err = |source| Error::Sqlite {
                    path: path.clone(),
                    source,
                };
                let conn = rusqlite::Connection::open_with_flags(
                    &path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .map_err(err)?;
                let mut v = Vec::new();
                for t in names {
                    let sql = format!(
                        "SELECT count(*), count(\"_deleted_at\") FROM {}",
                        quote_ident(t)
                    );
                    // A table not created yet has no rows.
                    if let Ok((rows, deleted)) =
                        conn.query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?)))
                    {
                        v.push(TableCount {
                            table: t.to_owned(),
                            rows,
                            deleted,
                        });
                    }
                }
                Ok(v)
            })
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
            out = rows;
        }
        ListenTarget::Postgres { target, .. } => {
            let client = target.connect("reading table counts").await?;
            for t in table_names() {
                let sql = format!(
                    "SELECT count(*), count(\"_deleted_at\") FROM {}.{}",
                    quote_ident(&target.schema),
                    quote_ident(t)
                );
                if let Ok(r) = client.query_one(&sql, &[]).await {
                    out.push(TableCount {
                        table: t.to_owned(),
                        rows: r.get(0),
                        deleted: r.get(1),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The status as text, one fact per line.
pub fn render(s: &Status) -> String {
    let or_never = |v: &Option<String>| v.clone().unwrap_or_else(|| "never".into());
    let mut out = format!(
        "store            {}\nlistener         {}\nlast event       {}\nlast applied     {}\nlast sync        {}\nlast reconcile   {}\nlag              {} s\ninbox            {} pending of {} received\n",
        s.store_hash,
        if s.connected {
            "running".to_owned()
        } else {
            format!("not running (last heartbeat {})", or_never(&s.heartbeat_at))
        },
        or_never(&s.last_event_at),
        or_never(&s.last_applied_at),
        or_never(&s.last_sync_at),
        or_never(&s.last_reconcile_at),
        s.lag_seconds,
        s.inbox_pending,
        s.inbox_total,
    );
    if s.inbox_parked > 0 {
        out.push_str(&format!(
            "parked           {} event(s) the store refused to read ({}); fix the cause (e.g. grant the API account the missing scope): later events for these records are applied as usual\n",
            s.inbox_parked,
            s.parked_reason.as_deref().unwrap_or("no reason kept")
        ));
    }
    for (scope, state) in &s.hooks {
        out.push_str(&format!("hook             {scope:<20} {state}\n"));
    }
    if let Some(at) = &s.hooks_repaired_at {
        out.push_str(&format!(
            "gap              hooks were repaired at {at}: carts changed while they were down cannot be recovered (the API has no cart list); everything else was backfilled by polling\n"
        ));
    }
    for t in &s.tables {
        out.push_str(&format!(
            "table            {:<28} {:>9} rows {:>7} deleted\n",
            t.table, t.rows, t.deleted
        ));
    }
    if let Some(f) = &s.brevo_forward {
        out.push_str(&format!("brevo forward    {f}\n"));
    }
    if let Some(b) = &s.brevo {
        let counts: Vec<String> = b
            .counts
            .iter()
            .filter(|(k, _)| !k.ends_with("unchanged"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.push_str(&format!(
            "brevo            {}\nbrevo last sync  {} ({}): {}; {} refused value(s)\n",
            b.connection,
            b.last_run_at,
            b.last_run_status,
            if counts.is_empty() {
                "nothing to send".to_owned()
            } else {
                counts.join(" ")
            },
            b.refused
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_forward_reads_as_one_line() {
        assert_eq!(forward_text(None, None), None);
        let at = Some("2026-03-01T10:00:00Z".to_owned());
        assert_eq!(
            forward_text(
                at.clone(),
                Some(
                    r#"{"ok":true,"counts":{"carts.updated_events":2,"contacts.unchanged":9}}"#
                        .into()
                )
            )
            .as_deref(),
            Some("2026-03-01T10:00:00Z: carts.updated_events=2")
        );
        assert_eq!(
            forward_text(at.clone(), Some(r#"{"ok":true,"counts":{}}"#.into())).as_deref(),
            Some("2026-03-01T10:00:00Z: nothing to send")
        );
        assert_eq!(
            forward_text(at, Some(r#"{"ok":false,"error":"HTTP 500"}"#.into())).as_deref(),
            Some("2026-03-01T10:00:00Z: failed: HTTP 500")
        );
    }
}
