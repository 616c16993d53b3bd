//! Product images `/v3/catalog/products/{id}/images[/{image_id}]` (docs/api-notes.md §3.1): the
//! list answers **204 when the product has no images** (docs/api-notes.md §0.4, §12.1); POST takes
//! one image by `image_url` (≤255 characters); at most 1000 images per product. Image writes bump
//! the product's `date_modified` so incremental syncs with `include=images` see them.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::Map;

use super::filters::path_id;
use super::input::{Input, MAX_INT32};
use super::model::{Image, slug};
use super::products::{invalid, product_not_found};
use super::{CatalogData, next};
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::paging::{v3_offset_or_204, v3_single};
use crate::query::Query;
use crate::state::Shared;

const V3: ApiVersion = ApiVersion::V3;
const MAX_LIMIT: u32 = 250;
const MAX_PER_PRODUCT: usize = 1000;
/// Image types BigCommerce accepts (docs/api-notes.md §3.1).
const IMAGE_TYPES: &[&str] = &["bmp", "gif", "jpeg", "jpg", "png", "wbmp", "xbm", "webp"];

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v3/catalog/products/{id}/images", get(list).post(create))
        .route(
            "/v3/catalog/products/{id}/images/{image_id}",
            get(get_one).put(update).delete(delete),
        )
}

fn image_not_found(id: i64) -> ApiError {
    ApiError::new(
        V3,
        StatusCode::NOT_FOUND,
        format!("Image {id} was not found."),
    )
    .with_errors(Map::new())
}

/// The stored file name for an image fetched from `url`: `{letter}/{nnn}/{stem}__{id}.{ext}`,
/// the layout of BigCommerce's own image files. `None` when the URL names a file of a
/// type BigCommerce refuses.
fn image_file(url: &str, id: i64) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let file = path.rsplit('/').next().unwrap_or("");
    let (stem, ext) = match file.rsplit_once('.') {
        Some((stem, ext)) => (stem, ext.to_ascii_lowercase()),
        // No extension in the URL: the type is only known from the download; assume JPEG.
        None => (file, "jpg".to_owned()),
    };
    if !IMAGE_TYPES.contains(&ext.as_str()) {
        return None;
    }
    let stem = slug(stem);
    let stem = if stem.is_empty() {
        "image".to_owned()
    } else {
        stem
    };
    let letter = stem.chars().next().unwrap_or('i');
    Some(format!("{letter}/{:03}/{stem}__{id}.{ext}", id % 1000))
}

/// Applies `image_url`, `is_thumbnail`, `sort_order`, `description` onto `img`.
fn apply_fields(input: &mut Input, img: &mut Image) {
    if let Some(v) = input.get("image_url") {
        match v.as_str() {
            Some(url)
                if url.len() <= 255
                    && (url.starts_with("http://") || url.starts_with("https://")) =>
            {
                match image_file(url, img.id) {
                    Some(file) => img.image_file = file,
                    None => input.fail(
                        "image_url",
                        "image_url must point to a BMP, GIF, JPEG, PNG, WBMP, XBM or WEBP file",
                    ),
                }
            }
            _ => input.fail(
                "image_url",
                "image_url must be an http(s) URL of at most 255 characters",
            ),
        }
    }
    input.flag("is_thumbnail", &mut img.is_thumbnail);
    input.int("sort_order", -MAX_INT32 - 1, MAX_INT32, &mut img.sort_order);
    input.text("description", 0, 65_535, &mut img.description);
}

/// Reads a new image (id allocated from `cat`); `image_url` is required because
/// multipart `image_file` uploads are not emulated.
pub fn read_new(
    input: &mut Input,
    cat: &mut CatalogData,
    product_id: i64,
    now: DateTime<Utc>,
) -> Option<Image> {
    let _ = product_id;
    input.require(&["image_url"]);
    let mut img = Image {
        id: next(&mut cat.ids.image),
        is_thumbnail: false,
        sort_order: 0,
        description: String::new(),
        image_file: String::new(),
        date_modified: now,
    };
    apply_fields(input, &mut img);
    input.ok().then_some(img)
}

/// Keeps exactly one thumbnail: `preferred` when given, else the first marked one, else
/// the first image.
pub fn settle_thumbnail(images: &mut [Image], preferred: Option<i64>) {
    let chosen = preferred
        .or_else(|| images.iter().find(|i| i.is_thumbnail).map(|i| i.id))
        .or_else(|| images.first().map(|i| i.id));
    for img in images.iter_mut() {
        img.is_thumbnail = Some(img.id) == chosen;
    }
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
    Ok(v3_offset_or_204(&p.images, page, limit, &q, |img| {
        img.render(id)
    }))
}

async fn get_one(
    State(st): State<Shared>,
    Path((_, pid, iid)): Path<(String, String, String)>,
) -> ApiResult {
    let (pid, iid) = (path_id(&pid)?, path_id(&iid)?);
    let data = st.data.read();
    let p = data
        .catalog
        .products
        .get(&pid)
        .ok_or_else(|| product_not_found(pid))?;
    let img = p
        .images
        .iter()
        .find(|i| i.id == iid)
        .ok_or_else(|| image_not_found(iid))?;
    Ok(v3_single(img.render(pid)))
}

async fn create(
    State(st): State<Shared>,
    Path((_, pid)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let pid = path_id(&pid)?;
    st.write(|tx| {
        let now = tx.now;
        let image = tx.data.catalog.transaction(|cat| {
            let count = cat
                .products
                .get(&pid)
                .ok_or_else(|| product_not_found(pid))?
                .images
                .len();
            if body.is_array() {
                return Err(invalid(Map::new()).with_error("body", "POST takes one image per call"));
            }
            let mut input = Input::new(&body, "");
            let img = read_new(&mut input, cat, pid, now);
            let Some(img) = img.filter(|_| input.ok()) else {
                return Err(invalid(input.errors));
            };
            if count >= MAX_PER_PRODUCT {
                return Err(invalid(Map::new())
                    .with_error("image_url", "A product can have at most 1000 images"));
            }
            Ok(img)
        })?;
        let iid = image.id;
        let preferred = image.is_thumbnail.then_some(iid);
        let p = tx.product_for::<Image>(pid, || product_not_found(pid))?;
        p.images.push(image);
        settle_thumbnail(&mut p.images, preferred);
        let img = p
            .images
            .iter()
            .find(|i| i.id == iid)
            .ok_or_else(|| image_not_found(iid))?;
        Ok(v3_single(img.render(pid)))
    })
}

async fn update(
    State(st): State<Shared>,
    Path((_, pid, iid)): Path<(String, String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let (pid, iid) = (path_id(&pid)?, path_id(&iid)?);
    st.write(|tx| {
        let now = tx.now;
        let (p, pos) =
            tx.product_part::<Image>(pid, iid, || product_not_found(pid), || image_not_found(iid))?;
        let mut img = p.images[pos].clone();
        let mut input = Input::new(&body, "");
        apply_fields(&mut input, &mut img);
        if !input.ok() {
            return Err(invalid(input.errors));
        }
        img.date_modified = now;
        // Unmarking the only thumbnail leaves the first image as the thumbnail.
        let preferred = img.is_thumbnail.then_some(iid);
        p.images[pos] = img;
        settle_thumbnail(&mut p.images, preferred);
        Ok(v3_single(p.images[pos].render(pid)))
    })
}

async fn delete(
    State(st): State<Shared>,
    Path((_, pid, iid)): Path<(String, String, String)>,
) -> ApiResult {
    let (pid, iid) = (path_id(&pid)?, path_id(&iid)?);
    st.write(|tx| {
        let (p, pos) =
            tx.product_part::<Image>(pid, iid, || product_not_found(pid), || image_not_found(iid))?;
        p.images.remove(pos);
        settle_thumbnail(&mut p.images, None);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_the_url() {
        assert_eq!(
            image_file("https://x.test/a/Blue Mug.PNG?v=2", 1234).as_deref(),
            Some("b/234/blue-mug__1234.png")
        );
        assert_eq!(
            image_file("https://x.test/photo", 7).as_deref(),
            Some("p/007/photo__7.jpg")
        );
        assert_eq!(image_file("https://x.test/doc.pdf", 7), None);
    }

    #[test]
    fn exactly_one_thumbnail() {
        let img = |id, thumb| Image {
            id,
            is_thumbnail: thumb,
            sort_order: 0,
            description: String::new(),
            image_file: String::new(),
            date_modified: crate::dates::now(),
        };
        let mut images = vec![img(1, false), img(2, true), img(3, true)];
        settle_thumbnail(&mut images, None);
        assert_eq!(
            images
                .iter()
                .filter(|i| i.is_thumbnail)
                .map(|i| i.id)
                .collect::<Vec<_>>(),
            [2]
        );
        settle_thumbnail(&mut images, Some(3));
        assert_eq!(
            images
                .iter()
                .filter(|i| i.is_thumbnail)
                .map(|i| i.id)
                .collect::<Vec<_>>(),
            [3]
        );
    }
}
