//! Webhook subscriptions (V3 `/v3/hooks`, docs/api-notes.md §9.1). Hooks belong to the API account
//! that created them: every call sees only the hooks of its own client id (the auth layer
//! puts a [`ClientId`] in the request). Delivery is not done here; [`HooksData::active_for`]
//! is the one place a delivery feature asks which hooks an event goes to.

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Router};
use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;
use serde_json::{Map, Value, json};

use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::paging;
use crate::query::Query;
use crate::resources::customers::check::Check;
use crate::seed::SeedSpec;
use crate::server::ClientId;
use crate::state::{Shared, StoreData};

const V3: ApiVersion = ApiVersion::V3;

/// docs/api-notes.md §13.3: no maximum page size is documented for hooks; 250 as elsewhere.
const MAX_LIMIT: u32 = 250;

/// At most this many hooks per (store, client id, scope) (docs/api-notes.md §9.1).
pub const MAX_HOOKS_PER_SCOPE: usize = 10;

#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    pub id: i64,
    pub client_id: String,
    pub scope: String,
    pub destination: String,
    pub is_active: bool,
    /// Custom headers sent with every delivery; `None` renders as `null`.
    pub headers: Option<BTreeMap<String, String>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct HooksData {
    hooks: BTreeMap<i64, Hook>,
    last_id: i64,
}

/// Whether a hook registered for `hook_scope` receives events of `event_scope`. A scope
/// ending in `/*` covers its whole family (`store/order/*` gets `store/order/created`).
pub fn scope_matches(hook_scope: &str, event_scope: &str) -> bool {
    match hook_scope.strip_suffix('*') {
        Some(prefix) => event_scope.starts_with(prefix),
        None => hook_scope == event_scope,
    }
}

impl HooksData {
    pub fn counts(&self, m: &mut Map<String, Value>) {
        m.insert("hooks".into(), json!(self.hooks.len()));
    }

    /// Active hooks (of every client) that should receive an event of `event_scope`, in
    /// id order: what a delivery feature iterates.
    pub fn active_for(&self, event_scope: &str) -> Vec<&Hook> {
        self.hooks
            .values()
            .filter(|h| h.is_active && scope_matches(&h.scope, event_scope))
            .collect()
    }

    pub fn get(&self, id: i64) -> Option<&Hook> {
        self.hooks.get(&id)
    }

    /// Switches a hook off (deliveries exhausted, docs/api-notes.md §9.4). Returns whether it
    /// existed.
    pub fn deactivate(&mut self, id: i64, now: DateTime<Utc>) -> bool {
        match self.hooks.get_mut(&id) {
            Some(h) => {
                h.is_active = false;
                h.updated_at = now;
                true
            }
            None => false,
        }
    }

    fn of_client<'a>(&'a self, client: &'a str) -> impl Iterator<Item = &'a Hook> + 'a {
        self.hooks.values().filter(move |h| h.client_id == client)
    }

    /// The (scope, destination) rules of docs/api-notes.md §9.1 for a hook `id` (0 for a new one)
    /// that would have `scope` and `destination`: one hook per destination (409), ten per scope.
    fn check_slot(
        &self,
        client: &str,
        id: i64,
        scope: &str,
        destination: &str,
    ) -> Result<(), ApiError> {
        let same_scope: Vec<&Hook> = self
            .of_client(client)
            .filter(|h| h.id != id && h.scope == scope)
            .collect();
        if same_scope.iter().any(|h| h.destination == destination) {
            return Err(ApiError::conflict(
                V3,
                format!(
                    "A webhook for scope {scope} and destination {destination} already exists."
                ),
            ));
        }
        if same_scope.len() >= MAX_HOOKS_PER_SCOPE {
            // docs/api-notes.md §9.1 states the limit but not the answer; 422 naming the field.
            return Err(ApiError::unprocessable(V3, "The webhook could not be saved.").with_error(
                "scope",
                format!("At most {MAX_HOOKS_PER_SCOPE} webhooks per scope are allowed for one API account."),
            ));
        }
        Ok(())
    }
}

fn render(h: &Hook, store_hash: &str) -> Value {
    json!({
        "id": h.id,
        "client_id": h.client_id,
        "store_hash": store_hash,
        "scope": h.scope,
        "destination": h.destination,
        "is_active": h.is_active,
        "headers": h.headers,
        "created_at": h.created_at.timestamp(),
        "updated_at": h.updated_at.timestamp(),
    })
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        V3,
        StatusCode::NOT_FOUND,
        format!("Webhook with id [{id}] not found"),
    )
}

/// `destination` must be https on port 443 (docs/api-notes.md §9.1). The sandbox also
/// accepts `http://127.0.0.1:*` and `http://localhost:*`, and any scheme and port on the
/// hosts of `--allow-hook-host` (`allowed`), so tests can run receivers locally or in
/// another network namespace; every other destination gets the 422 a real store gives.
fn destination_problem(dest: &str, allowed: &[String]) -> Option<&'static str> {
    let Ok(uri) = dest.parse::<http::Uri>() else {
        return Some("The destination is not a valid URL.");
    };
    let Some(host) = uri.host().filter(|h| !h.is_empty()) else {
        return Some("The destination must name a host.");
    };
    let scheme = uri.scheme_str();
    if !matches!(scheme, Some("https" | "http")) {
        return Some("The destination must be an https URL.");
    }
    let local = scheme == Some("http") && matches!(host, "127.0.0.1" | "localhost");
    if local || allowed.iter().any(|a| a.eq_ignore_ascii_case(host)) {
        return None;
    }
    if scheme != Some("https") {
        return Some("The destination must be an https URL.");
    }
    if uri.port_u16().is_some_and(|p| p != 443) {
        return Some("The destination must use port 443; custom ports are not supported.");
    }
    None
}

/// The writable fields of a hook body. `creating` makes scope and destination required.
struct HookFields {
    scope: Option<String>,
    destination: Option<String>,
    is_active: Option<bool>,
    /// `Some(None)` clears the headers.
    headers: Option<Option<BTreeMap<String, String>>>,
}

fn read_fields(body: Value, creating: bool, allowed: &[String]) -> Result<HookFields, ApiError> {
    let Value::Object(obj) = body else {
        return Err(ApiError::unprocessable(
            V3,
            "The request body must be a JSON object.",
        ));
    };
    let mut errors = Map::new();
    let mut ck = Check::new(&obj, "", &mut errors);
    let scope = ck.string("scope", creating, 1, 255);
    if scope.as_ref().is_some_and(|s| !s.starts_with("store/")) {
        ck.fail(
            "scope",
            "The scope must be a webhook scope such as store/order/created.",
        );
    }
    let destination = ck.string("destination", creating, 1, 2048);
    if let Some(problem) = destination
        .as_deref()
        .and_then(|d| destination_problem(d, allowed))
    {
        ck.fail("destination", problem);
    }
    let is_active = ck.bool("is_active");
    let headers = match obj.get("headers") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::Object(m)) => {
            let parsed: Option<BTreeMap<String, String>> = m
                .iter()
                .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect();
            if parsed.is_none() {
                ck.fail("headers", "Header values must be strings.");
            }
            parsed.map(Some)
        }
        Some(_) => {
            ck.fail("headers", "headers must be an object of string values.");
            None
        }
    };
    if !creating && obj.is_empty() {
        ck.fail(
            "body",
            "Send at least one of scope, destination, is_active, headers.",
        );
    }
    if !errors.is_empty() {
        return Err(ApiError::unprocessable(V3, "The webhook is not valid.").with_errors(errors));
    }
    Ok(HookFields {
        scope,
        destination,
        is_active,
        headers,
    })
}

/// `POST /v3/hooks`: one hook, answered 200 wrapped in `data` (docs/api-notes.md §9.1, §13.7).
async fn create(
    State(st): State<Shared>,
    Extension(client): Extension<ClientId>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let f = read_fields(body, true, &st.config.allow_hook_hosts)?;
    let (scope, destination) = (
        f.scope.unwrap_or_default(),
        f.destination.unwrap_or_default(),
    );
    st.write(|tx| {
        let now = tx.now;
        let hooks = &mut tx.data.hooks;
        hooks.check_slot(&client.0, 0, &scope, &destination)?;
        hooks.last_id += 1;
        let hook = Hook {
            id: hooks.last_id,
            client_id: client.0,
            scope,
            destination,
            is_active: f.is_active.unwrap_or(true),
            headers: f.headers.unwrap_or(None),
            created_at: now,
            updated_at: now,
        };
        let out = render(&hook, &st.config.store_hash);
        hooks.hooks.insert(hook.id, hook);
        Ok(paging::v3_single(out))
    })
}

/// `GET /v3/hooks`: the caller's hooks only.
async fn list(
    State(st): State<Shared>,
    Extension(client): Extension<ClientId>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let is_active = q.bool("is_active")?;
    let scope = q.get("scope").filter(|s| !s.is_empty());
    let destination = q.get("destination").filter(|s| !s.is_empty());
    let data = st.data.read();
    let matches: Vec<&Hook> = data
        .hooks
        .of_client(&client.0)
        .filter(|h| is_active.is_none_or(|a| h.is_active == a))
        .filter(|h| scope.is_none_or(|s| h.scope == s))
        .filter(|h| destination.is_none_or(|d| h.destination == d))
        .collect();
    Ok(paging::v3_offset(&matches, page, limit, &q, |h| {
        render(h, &st.config.store_hash)
    }))
}

/// The caller's hook `id`, or the hooks 404.
fn own_id(hooks: &HooksData, client: &str, id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| hooks.hooks.get(n).is_some_and(|h| h.client_id == client))
        .ok_or_else(|| not_found(id))
}

/// `GET /v3/hooks/{id}`.
async fn get_one(
    State(st): State<Shared>,
    Extension(client): Extension<ClientId>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult {
    let data = st.data.read();
    let n = own_id(&data.hooks, &client.0, &id)?;
    let h = data.hooks.hooks.get(&n).ok_or_else(|| not_found(&id))?;
    Ok(paging::v3_single(render(h, &st.config.store_hash)))
}

/// `PUT /v3/hooks/{id}`: partial update; also how a deactivated hook is switched back on.
async fn update(
    State(st): State<Shared>,
    Extension(client): Extension<ClientId>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    st.write(|tx| {
        let now = tx.now;
        let hooks = &mut tx.data.hooks;
        let n = own_id(hooks, &client.0, &id)?;
        let f = read_fields(body, false, &st.config.allow_hook_hosts)?;
        let current = hooks.hooks.get(&n).cloned().ok_or_else(|| not_found(&id))?;
        let scope = f.scope.unwrap_or(current.scope);
        let destination = f.destination.unwrap_or(current.destination);
        hooks.check_slot(&client.0, n, &scope, &destination)?;
        let h = hooks.hooks.get_mut(&n).ok_or_else(|| not_found(&id))?;
        h.scope = scope;
        h.destination = destination;
        if let Some(a) = f.is_active {
            h.is_active = a;
        }
        if let Some(hd) = f.headers {
            h.headers = hd;
        }
        h.updated_at = now;
        Ok(paging::v3_single(render(h, &st.config.store_hash)))
    })
}

/// `DELETE /v3/hooks/{id}`: 200 with the deleted hook, not 204 (docs/api-notes.md §9.1).
async fn delete(
    State(st): State<Shared>,
    Extension(client): Extension<ClientId>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult {
    st.write(|tx| {
        let hooks = &mut tx.data.hooks;
        let n = own_id(hooks, &client.0, &id)?;
        let h = hooks.hooks.remove(&n).ok_or_else(|| not_found(&id))?;
        Ok(paging::v3_single(render(&h, &st.config.store_hash)))
    })
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v3/hooks", get(list).post(create))
        .route("/v3/hooks/{id}", get(get_one).put(update).delete(delete))
}

/// Seeded stores have no hooks: subscriptions belong to API accounts, which tests create.
pub fn seed(_data: &mut StoreData, _spec: &SeedSpec, _rng: &mut SmallRng, _now: DateTime<Utc>) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_scopes_cover_their_family_only() {
        assert!(scope_matches("store/order/*", "store/order/created"));
        assert!(scope_matches(
            "store/order/*",
            "store/order/message/created"
        ));
        assert!(!scope_matches("store/order/*", "store/orders/created"));
        assert!(scope_matches("store/order/created", "store/order/created"));
        assert!(!scope_matches("store/order/created", "store/order/updated"));
    }

    #[test]
    fn destinations_must_be_https_on_443() {
        let none: &[String] = &[];
        assert_eq!(
            destination_problem("https://a.example.com/hook", none),
            None
        );
        assert_eq!(
            destination_problem("https://a.example.com:443/hook", none),
            None
        );
        assert!(destination_problem("http://a.example.com/hook", none).is_some());
        assert!(destination_problem("https://a.example.com:8443/hook", none).is_some());
        assert!(destination_problem("https:///nohost", none).is_some());
        assert!(destination_problem("no url", none).is_some());
        assert!(destination_problem("ftp://a.example.com/hook", none).is_some());
    }

    #[test]
    fn the_sandbox_also_takes_local_and_allowed_hosts() {
        let allowed = vec!["receiver.test".to_owned()];
        assert_eq!(
            destination_problem("http://127.0.0.1:9000/h", &allowed),
            None
        );
        assert_eq!(
            destination_problem("http://localhost:9000/h", &allowed),
            None
        );
        assert_eq!(
            destination_problem("http://receiver.test:8080/h", &allowed),
            None
        );
        assert_eq!(
            destination_problem("http://Receiver.TEST/h", &allowed),
            None
        );
        assert!(destination_problem("http://10.0.0.1:8080/h", &allowed).is_some());
        assert!(destination_problem("http://other.test/h", &allowed).is_some());
    }
}
