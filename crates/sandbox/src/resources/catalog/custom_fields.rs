//! Product custom fields `/v3/catalog/products/{id}/custom-fields[/{id}]` (docs/api-notes.md §3.1):
//! `name` and `value` required, 250 characters each; each name-value pair unique within
//! its product (409); at most 200 per product. Writes bump the product's `date_modified`.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Map, Value};

use super::filters::path_id;
use super::input::Input;
use super::model::CustomField;
use super::products::{conflict, invalid, product_not_found};
use super::{CatalogData, next};
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::paging::{v3_offset, v3_single};
use crate::query::Query;
use crate::state::Shared;

const V3: ApiVersion = ApiVersion::V3;
const MAX_LIMIT: u32 = 250;
pub const MAX_PER_PRODUCT: usize = 200;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/v3/catalog/products/{id}/custom-fields",
            get(list).post(create),
        )
        .route(
            "/v3/catalog/products/{id}/custom-fields/{field_id}",
            get(get_one).put(update).delete(delete),
        )
}

fn field_not_found(id: i64) -> ApiError {
    ApiError::new(
        V3,
        StatusCode::NOT_FOUND,
        format!("Custom field {id} was not found."),
    )
    .with_errors(Map::new())
}

fn duplicate_pair() -> ApiError {
    conflict(Map::new()).with_error(
        "name",
        "The name-value pair is a duplicate for this product",
    )
}

/// Reads a new custom field (id allocated from `cat`).
pub fn read_new(input: &mut Input, cat: &mut CatalogData) -> Option<CustomField> {
    input.require(&["name", "value"]);
    let mut field = CustomField {
        id: 0,
        name: String::new(),
        value: String::new(),
    };
    input.text("name", 1, 250, &mut field.name);
    input.text("value", 1, 250, &mut field.value);
    if !input.ok() {
        return None;
    }
    field.id = next(&mut cat.ids.custom_field);
    Some(field)
}

async fn list(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let id = path_id(&id)?;
    let q = Query::parse(raw.as_deref(), V3);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let data = st.data.read();
    let p = data
        .catalog
        .products
        .get(&id)
        .ok_or_else(|| product_not_found(id))?;
    Ok(v3_offset(
        &p.custom_fields,
        page,
        limit,
        &q,
        CustomField::render,
    ))
}

async fn get_one(
    State(st): State<Shared>,
    Path((_, pid, fid)): Path<(String, String, String)>,
) -> ApiResult {
    let (pid, fid) = (path_id(&pid)?, path_id(&fid)?);
    let data = st.data.read();
    let p = data
        .catalog
        .products
        .get(&pid)
        .ok_or_else(|| product_not_found(pid))?;
    let field = p
        .custom_fields
        .iter()
        .find(|f| f.id == fid)
        .ok_or_else(|| field_not_found(fid))?;
    Ok(v3_single(field.render()))
}

async fn create(
    State(st): State<Shared>,
    Path((_, pid)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let pid = path_id(&pid)?;
    st.write(|tx| {
        let field = tx.data.catalog.transaction(|cat| {
            let p = cat
                .products
                .get(&pid)
                .ok_or_else(|| product_not_found(pid))?;
            if p.custom_fields.len() >= MAX_PER_PRODUCT {
                return Err(invalid(Map::new())
                    .with_error("name", "A product can have at most 200 custom fields"));
            }
            let existing: Vec<(String, String)> = p
                .custom_fields
                .iter()
                .map(|f| (f.name.clone(), f.value.clone()))
                .collect();
            let mut input = Input::new(&body, "");
            let field = read_new(&mut input, cat);
            let Some(field) = field.filter(|_| input.ok()) else {
                return Err(invalid(input.errors));
            };
            if existing
                .iter()
                .any(|(n, v)| *n == field.name && *v == field.value)
            {
                return Err(duplicate_pair());
            }
            Ok(field)
        })?;
        let rendered = field.render();
        let p = tx.product_for::<CustomField>(pid, || product_not_found(pid))?;
        p.custom_fields.push(field);
        Ok(v3_single(rendered))
    })
}

async fn update(
    State(st): State<Shared>,
    Path((_, pid, fid)): Path<(String, String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let (pid, fid) = (path_id(&pid)?, path_id(&fid)?);
    st.write(|tx| {
        let (p, pos) = tx.product_part::<CustomField>(
            pid,
            fid,
            || product_not_found(pid),
            || field_not_found(fid),
        )?;
        let mut field = p.custom_fields[pos].clone();
        let mut input = Input::new(&body, "");
        input.text("name", 1, 250, &mut field.name);
        input.text("value", 1, 250, &mut field.value);
        if !input.ok() {
            return Err(invalid(input.errors));
        }
        if p.custom_fields
            .iter()
            .any(|f| f.id != fid && f.name == field.name && f.value == field.value)
        {
            return Err(duplicate_pair());
        }
        let rendered: Value = field.render();
        p.custom_fields[pos] = field;
        Ok(v3_single(rendered))
    })
}

async fn delete(
    State(st): State<Shared>,
    Path((_, pid, fid)): Path<(String, String, String)>,
) -> ApiResult {
    let (pid, fid) = (path_id(&pid)?, path_id(&fid)?);
    st.write(|tx| {
        let (p, pos) = tx.product_part::<CustomField>(
            pid,
            fid,
            || product_not_found(pid),
            || field_not_found(fid),
        )?;
        p.custom_fields.remove(pos);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
