//! The hooks `listen` registers (docs/api-notes.md §9.1), and their upkeep: one hook per
//! scope family, pointing at the public URL, carrying our secret header.
//!
//! Our hooks are the ones whose secret header ([`SECRET_HEADER`]) carries *our* secret,
//! among the hooks of the API account (a token sees only its own account's hooks). A hook
//! with the header and another secret belongs to another listener (another destination or
//! machine on the same account): it is never rewritten or deleted. Reconciling is
//! idempotent: a restart finds its hooks and creates none; a hook whose destination
//! changed is updated in place; a deactivated hook (deliveries failed for about 48 hours,
//! docs/api-notes.md §9.4) is re-activated; a second hook of ours for one scope is
//! deleted. `--unregister` deletes ours and nothing else.

use std::collections::BTreeMap;

use bigcommerce::{ApiRequest, ApiVersion, Client};
use futures::TryStreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::delivery::SECRET_HEADER;
use crate::error::{Error, Result};

/// Scope families `listen` keeps current (wildcards cover every event of the family:
/// customer addresses, SKU and inventory changes, cart lines, order status changes).
pub const SCOPES: &[&str] = &[
    "store/customer/*",
    "store/product/*",
    "store/sku/*",
    "store/order/*",
    "store/cart/*",
];

/// At most this many hooks per (store, API account, scope) (docs/api-notes.md §9.1).
const HOOKS_PER_SCOPE: usize = 10;

/// A hook as the API describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct Hook {
    pub id: i64,
    pub scope: String,
    pub destination: String,
    #[serde(default)]
    pub is_active: bool,
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
}

impl Hook {
    /// Whether this hook carries our secret, i.e. is ours.
    pub fn is_ours(&self, secret: &SecretString) -> bool {
        self.headers.as_ref().is_some_and(|h| {
            h.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case(SECRET_HEADER)
                    && super::delivery::secrets_match(
                        v.as_bytes(),
                        secret.expose_secret().as_bytes(),
                    )
            })
        })
    }
}

/// A single hook from a response body. docs/api-notes.md §9.1: the reference wraps it in
/// `{"data": {...}}`, the narrative shows it bare; which one live stores send is not
/// settled, so both are accepted.
fn hook_from(body: Option<Value>) -> Result<Hook> {
    let body = body.unwrap_or(Value::Null);
    let obj = match body.get("data") {
        Some(d) if d.is_object() => d.clone(),
        _ => body,
    };
    serde_json::from_value(obj).map_err(|e| Error::Data {
        stream: "hooks".into(),
        detail: e.to_string(),
    })
}

/// Every hook of this API account.
pub async fn list(client: &Client) -> Result<Vec<Hook>> {
    let mut out = Vec::new();
    let mut pages = std::pin::pin!(client.v3_pages("/hooks", Vec::new(), 250));
    while let Some(page) = pages.try_next().await? {
        for item in page.items {
            out.push(serde_json::from_value(item).map_err(|e| Error::Data {
                stream: "hooks".into(),
                detail: e.to_string(),
            })?);
        }
    }
    Ok(out)
}

/// What reconciling did, scope by scope.
#[derive(Debug, Default, Clone)]
pub struct Reconciled {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    /// Hooks that were found deactivated (by the store) and switched back on.
    pub reactivated: Vec<String>,
    pub removed_duplicates: usize,
    pub unchanged: Vec<String>,
}

impl Reconciled {
    /// Whether a hook was missing or off: events may have been lost meanwhile.
    pub fn repaired(&self) -> bool {
        !self.created.is_empty() || !self.reactivated.is_empty()
    }
}

fn body_for(scope: &str, destination: &str, secret: &SecretString) -> Value {
    json!({
        "scope": scope,
        "destination": destination,
        "is_active": true,
        "headers": { SECRET_HEADER: secret.expose_secret() },
    })
}

/// Makes the store's hooks what `listen` needs: one active hook of ours per scope in
/// [`SCOPES`], to `destination`, with `secret`.
pub async fn reconcile(
    client: &Client,
    destination: &str,
    secret: &SecretString,
) -> Result<Reconciled> {
    let hooks = list(client).await?;
    let mut done = Reconciled::default();
    for scope in SCOPES {
        let mut ours: Vec<&Hook> = hooks
            .iter()
            .filter(|h| h.scope == *scope && h.is_ours(secret))
            .collect();
        // Keep the one already pointing here, else any of ours (its destination is updated).
        ours.sort_by_key(|h| (h.destination != destination, !h.is_active, h.id));
        match ours.split_first() {
            Some((keep, extra)) => {
                let right = keep.destination == destination;
                if !keep.is_active {
                    done.reactivated.push((*scope).to_owned());
                }
                if right && keep.is_active {
                    done.unchanged.push((*scope).to_owned());
                } else {
                    let req = ApiRequest::put(
                        ApiVersion::V3,
                        format!("/hooks/{}", keep.id),
                        body_for(scope, destination, secret),
                    );
                    hook_from(client.send(req).await?.body)?;
                    if keep.is_active {
                        done.updated.push((*scope).to_owned());
                    }
                }
                for dup in extra {
                    client
                        .send(ApiRequest::delete(
                            ApiVersion::V3,
                            format!("/hooks/{}", dup.id),
                        ))
                        .await?;
                    done.removed_duplicates += 1;
                }
            }
            None => {
                let req = ApiRequest::post(
                    ApiVersion::V3,
                    "/hooks",
                    body_for(scope, destination, secret),
                );
                match client.send(req).await {
                    Ok(resp) => {
                        hook_from(resp.body)?;
                        done.created.push((*scope).to_owned());
                    }
                    Err(e) => {
                        let taken = hooks.iter().filter(|h| h.scope == *scope).count();
                        if matches!(e.status(), Some(403 | 422)) && taken >= HOOKS_PER_SCOPE {
                            return Err(Error::Config(format!(
                                "store {} already has {taken} webhooks for {scope} under this API account, and a store allows at most {HOOKS_PER_SCOPE} per scope and account; delete the ones you no longer use (GET/DELETE /v3/hooks), or give bcsync an API account of its own",
                                client.store_hash()
                            )));
                        }
                        return Err(e.into());
                    }
                }
            }
        }
    }
    Ok(done)
}

/// Deletes every hook of ours, the ones carrying `secret` (and no other). Returns how many.
pub async fn unregister(client: &Client, secret: &SecretString) -> Result<usize> {
    let hooks = list(client).await?;
    let mut n = 0;
    for h in hooks.iter().filter(|h| h.is_ours(secret)) {
        client
            .send(ApiRequest::delete(
                ApiVersion::V3,
                format!("/hooks/{}", h.id),
            ))
            .await?;
        n += 1;
    }
    Ok(n)
}

/// Hook health for `status`: per scope, whether an active hook of ours (carrying
/// `secret`) points at `destination`.
pub fn health(
    hooks: &[Hook],
    secret: &SecretString,
    destination: Option<&str>,
) -> Vec<(String, &'static str)> {
    SCOPES
        .iter()
        .map(|scope| {
            let ours: Vec<&Hook> = hooks
                .iter()
                .filter(|h| h.scope == *scope && h.is_ours(secret))
                .collect();
            let state = if ours.is_empty() {
                "missing"
            } else if !ours.iter().any(|h| h.is_active) {
                "deactivated"
            } else if destination.is_some_and(|d| !ours.iter().any(|h| h.destination == d)) {
                "other destination"
            } else {
                "active"
            };
            ((*scope).to_owned(), state)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_is_read_wrapped_or_bare() {
        let bare = json!({"id": 3, "scope": "store/order/*", "destination": "https://x/y", "is_active": true, "headers": null});
        let wrapped = json!({"data": bare.clone(), "meta": {}});
        assert_eq!(hook_from(Some(bare)).unwrap().id, 3);
        assert_eq!(hook_from(Some(wrapped)).unwrap().id, 3);
    }
}
