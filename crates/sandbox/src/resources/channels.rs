//! Channels (V3 `/v3/channels`, docs/api-notes.md §10): the sales channels of a multi-storefront
//! store. Channel 1, the default storefront created with the store, always exists and is
//! always listed. `type` and `platform` are fixed at creation; a PUT that sends them is
//! answered 200 with them unchanged (ignored silently, as the real API does).

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::SmallRng;
use serde_json::{Map, Value, json};

use crate::body::JsonBody;
use crate::dates;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::mutation::Record;
use crate::paging;
use crate::query::Query;
use crate::resources::customers::check::{Check, DateRange};
use crate::seed::SeedSpec;
use crate::state::{Shared, StoreData};

const V3: ApiVersion = ApiVersion::V3;

/// docs/api-notes.md §13.3: no maximum is documented for channels; 250 is the cap elsewhere.
const MAX_LIMIT: u32 = 250;

/// The id of the default storefront.
pub const DEFAULT_CHANNEL_ID: i64 = 1;

/// Channel types and the platforms each accepts. `custom` is accepted for every type.
const PLATFORMS: &[(&str, &[&str])] = &[
    (
        "storefront",
        &[
            "bigcommerce",
            "wordpress",
            "drupal",
            "acquia",
            "bloomreach",
            "deity",
            "gatsby",
            "next",
            "vue",
            "custom",
        ],
    ),
    (
        "marketplace",
        &[
            "amazon",
            "ebay",
            "walmart",
            "wish",
            "google_shopping",
            "facebook",
            "custom",
        ],
    ),
    ("pos", &["square", "clover", "vend", "talech", "custom"]),
    (
        "marketing",
        &[
            "facebook",
            "google",
            "instagram",
            "pinterest",
            "tiktok",
            "snapchat",
            "custom",
        ],
    ),
];

/// Statuses a client may set; `deleted` and `terminated` are the platform's own.
const SETTABLE_STATUSES: &[&str] = &[
    "active",
    "prelaunch",
    "inactive",
    "connected",
    "disconnected",
    "archived",
];

/// Statuses for which `available=true` holds (the rest: disconnected, archived, deleted,
/// terminated).
const AVAILABLE_STATUSES: &[&str] = &["active", "prelaunch", "inactive", "connected"];

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: i64,
    pub name: String,
    pub external_id: String,
    /// `type` in the API.
    pub kind: String,
    pub platform: String,
    pub status: String,
    pub is_listable_from_ui: bool,
    pub is_visible: bool,
    pub icon_url: String,
    pub date_created: DateTime<Utc>,
    pub date_modified: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct ChannelsData {
    channels: BTreeMap<i64, Channel>,
    last_id: i64,
}

impl ChannelsData {
    pub fn counts(&self, m: &mut Map<String, Value>) {
        m.insert("channels".into(), json!(self.channels.len()));
    }

    pub fn exists(&self, id: i64) -> bool {
        self.channels.contains_key(&id)
    }

    pub fn get(&self, id: i64) -> Option<&Channel> {
        self.channels.get(&id)
    }

    /// Every channel in id order.
    pub fn all(&self) -> impl Iterator<Item = &Channel> {
        self.channels.values()
    }

    /// Stores a channel under a fresh id (the `id` field is overwritten).
    pub fn insert(&mut self, mut c: Channel) -> i64 {
        self.last_id += 1;
        c.id = self.last_id;
        self.channels.insert(c.id, c);
        self.last_id
    }

    /// (active, total including inactive) storefront channels, for `GET /v2/store`
    /// `features.storefront_limits`.
    pub fn storefront_counts(&self) -> (usize, usize) {
        let storefronts = self.channels.values().filter(|c| c.kind == "storefront");
        let (mut active, mut total) = (0, 0);
        for c in storefronts {
            total += 1;
            if c.status == "active" {
                active += 1;
            }
        }
        (active, total)
    }
}

fn render(c: &Channel, currencies: Option<&str>) -> Value {
    let mut v = json!({
        "id": c.id,
        "name": c.name,
        "external_id": c.external_id,
        "type": c.kind,
        "platform": c.platform,
        "status": c.status,
        "is_listable_from_ui": c.is_listable_from_ui,
        "is_visible": c.is_visible,
        // Deprecated, kept in step with status for old clients.
        "is_enabled": c.status == "active",
        "icon_url": c.icon_url,
        "date_created": dates::iso(c.date_created),
        "date_modified": dates::iso(c.date_modified),
    });
    if let Some(cur) = currencies {
        v["currencies"] = json!({
            "channel_id": c.id,
            "enabled_currencies": [cur],
            "default_currency": cur,
        });
    }
    v
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        V3,
        StatusCode::NOT_FOUND,
        format!("Channel with id [{id}] not found"),
    )
}

/// `GET /v3/channels`.
async fn list(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let statuses = q.list("status:in");
    let types = q.list("type:in");
    let platforms = q.list("platform:in");
    let available = q.bool("available")?;
    let created = DateRange::parse(&q, "date_created")?;
    let modified = DateRange::parse(&q, "date_modified")?;
    let with_currencies = q.has_include("currencies");

    let data = st.data.read();
    let matches: Vec<&Channel> = data
        .channels
        .all()
        .filter(|c| statuses.as_ref().is_none_or(|s| s.contains(&c.status)))
        .filter(|c| types.as_ref().is_none_or(|t| t.contains(&c.kind)))
        .filter(|c| platforms.as_ref().is_none_or(|p| p.contains(&c.platform)))
        .filter(|c| available.is_none_or(|a| AVAILABLE_STATUSES.contains(&c.status.as_str()) == a))
        .filter(|c| created.contains(c.date_created) && modified.contains(c.date_modified))
        .collect();
    let currency = with_currencies.then(|| data.store.currency_code());
    Ok(paging::v3_offset(&matches, page, limit, &q, |c| {
        render(c, currency.as_deref())
    }))
}

/// `POST /v3/channels`: one channel per call; 200 with the channel (the spec lists 200
/// for this create; clients must accept 200 and 201 anyway, docs/api-notes.md §0.2).
async fn create(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let Value::Object(obj) = body else {
        return Err(ApiError::unprocessable(
            V3,
            "The request body must be a JSON object.",
        ));
    };
    let mut errors = Map::new();
    let mut ck = Check::new(&obj, "", &mut errors);
    let name = ck.string("name", true, 1, 255);
    let types: Vec<&str> = PLATFORMS.iter().map(|(t, _)| *t).collect();
    let kind = ck.one_of("type", true, &types);
    let platform = ck.string("platform", true, 1, 255);
    if let (Some(k), Some(p)) = (&kind, &platform) {
        let ok = PLATFORMS
            .iter()
            .any(|(t, ps)| t == k && ps.contains(&p.as_str()));
        if !ok {
            ck.fail(
                "platform",
                format!("The platform {p:?} is not valid for a channel of type {k:?}."),
            );
        }
    }
    let status = ck.one_of("status", false, SETTABLE_STATUSES);
    let external_id = ck.string("external_id", false, 0, 255);
    let listable = ck.bool("is_listable_from_ui");
    let visible = ck.bool("is_visible");
    let icon_url = ck.string("icon_url", false, 0, 2048);
    if !errors.is_empty() {
        return Err(
            ApiError::unprocessable(V3, "The channel could not be created.").with_errors(errors),
        );
    }
    let now = dates::now();
    let channel = Channel {
        id: 0,
        name: name.unwrap_or_default(),
        external_id: external_id.unwrap_or_default(),
        kind: kind.unwrap_or_default(),
        platform: platform.unwrap_or_default(),
        status: status.unwrap_or_else(|| "active".into()),
        is_listable_from_ui: listable.unwrap_or(true),
        is_visible: visible.unwrap_or(true),
        icon_url: icon_url.unwrap_or_default(),
        date_created: now,
        date_modified: now,
    };
    st.write(|tx| {
        let id = tx.data.channels.insert(channel);
        let rendered = tx
            .data
            .channels
            .get(id)
            .map(|c| render(c, None))
            .unwrap_or(Value::Null);
        tx.created(Record::Channel(id));
        Ok(paging::v3_single(rendered))
    })
}

/// `GET /v3/channels/{id}`.
async fn get_one(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let data = st.data.read();
    let c = id
        .parse::<i64>()
        .ok()
        .and_then(|n| data.channels.get(n))
        .ok_or_else(|| not_found(&id))?;
    let currency = q
        .has_include("currencies")
        .then(|| data.store.currency_code());
    Ok(paging::v3_single(render(c, currency.as_deref())))
}

/// `PUT /v3/channels/{id}`: partial update; `type` and `platform` are ignored.
async fn update(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let Value::Object(obj) = body else {
        return Err(ApiError::unprocessable(
            V3,
            "The request body must be a JSON object.",
        ));
    };
    let mut errors = Map::new();
    let mut ck = Check::new(&obj, "", &mut errors);
    let name = ck.string("name", false, 1, 255);
    let status = ck.one_of("status", false, SETTABLE_STATUSES);
    let external_id = ck.string("external_id", false, 0, 255);
    let listable = ck.bool("is_listable_from_ui");
    let visible = ck.bool("is_visible");
    let icon_url = ck.string("icon_url", false, 0, 2048);
    st.write(|tx| {
        let n = id
            .parse::<i64>()
            .ok()
            .filter(|n| tx.data.channels.get(*n).is_some())
            .ok_or_else(|| not_found(&id))?;
        if !errors.is_empty() {
            return Err(
                ApiError::unprocessable(V3, "The channel could not be updated.")
                    .with_errors(errors),
            );
        }
        tx.updated(Record::Channel(n));
        let now = tx.now;
        let c = tx
            .data
            .channels
            .channels
            .get_mut(&n)
            .ok_or_else(|| not_found(&id))?;
        if let Some(v) = name {
            c.name = v;
        }
        if let Some(v) = status {
            c.status = v;
        }
        if let Some(v) = external_id {
            c.external_id = v;
        }
        if let Some(v) = listable {
            c.is_listable_from_ui = v;
        }
        if let Some(v) = visible {
            c.is_visible = v;
        }
        if let Some(v) = icon_url {
            c.icon_url = v;
        }
        c.date_modified = now;
        Ok(paging::v3_single(render(c, None)))
    })
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v3/channels", get(list).post(create))
        .route("/v3/channels/{id}", get(get_one).put(update))
}

/// Channel 1 (the default storefront, named after the store) always; a second storefront
/// when the store has customers, so multi-channel rules (email uniqueness per channel,
/// `origin_channel_id`) have something to bite on.
pub fn seed(data: &mut StoreData, spec: &SeedSpec, _rng: &mut SmallRng, now: DateTime<Utc>) {
    let opened = now - Duration::days(spec.history_days.max(1));
    let storefront = |name: String, platform: &str, created: DateTime<Utc>| Channel {
        id: 0,
        name,
        external_id: String::new(),
        kind: "storefront".into(),
        platform: platform.into(),
        status: "active".into(),
        is_listable_from_ui: true,
        is_visible: true,
        icon_url: String::new(),
        date_created: created,
        date_modified: created,
    };
    let name = data.store.name.clone();
    data.channels
        .insert(storefront(name, "bigcommerce", opened));
    if spec.customers > 0 {
        let created = opened + Duration::days(spec.history_days.max(1) / 2);
        data.channels
            .insert(storefront("Wholesale storefront".into(), "next", created));
    }
}
