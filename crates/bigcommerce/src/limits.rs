//! BigCommerce's documented size limits for pages and write batches (docs/api-notes.md §0.4, §11.5,
//! §12.9). Going over any of them gets HTTP 413, so batching code sizes its chunks from
//! here and nowhere else.

/// Largest `limit` for paged GETs (V3 where stated, and the working V2 maximum).
pub const MAX_PAGE_SIZE: u32 = 250;

/// Customers per `POST`/`PUT /v3/customers`.
pub const CUSTOMERS_BATCH: usize = 10;
/// Customers per attribute-values `PUT`.
pub const CUSTOMER_ATTRIBUTE_VALUES_BATCH: usize = 10;
/// Products per `PUT /v3/catalog/products`.
pub const PRODUCTS_PUT_BATCH: usize = 10;
/// Products per `POST /v3/catalog/products` (one product per request).
pub const PRODUCTS_POST_BATCH: usize = 1;
/// Product ids per `DELETE /v3/catalog/products?id:in=`.
pub const PRODUCTS_DELETE_BATCH: usize = 250;
/// Variants per `PUT /v3/catalog/variants`.
pub const VARIANTS_PUT_BATCH: usize = 50;
/// Categories per `PUT /v3/catalog/trees/categories`.
pub const TREES_PUT_BATCH: usize = 50;
/// Promotions per `DELETE /v3/promotions`.
pub const PROMOTIONS_DELETE_BATCH: usize = 50;
/// Codes per promotion-codes `DELETE`.
pub const PROMOTION_CODES_DELETE_BATCH: usize = 250;
/// Items per inventory adjustment.
pub const INVENTORY_ADJUSTMENTS_BATCH: usize = 2000;

/// Concurrent `PUT /v3/customers` a store accepts before answering 429 (docs/api-notes.md §0.7).
pub const CUSTOMERS_PUT_CONCURRENCY: usize = 3;
/// Concurrent `GET /v3/catalog/trees/{id}/categories` a store accepts (docs/api-notes.md §0.7).
pub const TREE_CATEGORIES_GET_CONCURRENCY: usize = 1;
/// Customer address batches (`POST`/`PUT /v3/customers/addresses`). BigCommerce documents no number
/// (docs/api-notes.md §2.1); we use the customers batch size, which the sandbox enforces.
/// [UNCERTAIN]
pub const CUSTOMER_ADDRESSES_BATCH: usize = CUSTOMERS_BATCH;
/// Concurrent customer address updates (docs/api-notes.md §0.7).
pub const CUSTOMER_ADDRESSES_PUT_CONCURRENCY: usize = 3;
/// Concurrent customer address creates (docs/api-notes.md §0.7).
pub const CUSTOMER_ADDRESSES_POST_CONCURRENCY: usize = 10;

/// Every batch limit by name, for documentation and checks.
pub const BATCH_LIMITS: &[(&str, usize)] = &[
    ("customers", CUSTOMERS_BATCH),
    ("customer_attribute_values", CUSTOMER_ATTRIBUTE_VALUES_BATCH),
    ("products_put", PRODUCTS_PUT_BATCH),
    ("products_post", PRODUCTS_POST_BATCH),
    ("products_delete", PRODUCTS_DELETE_BATCH),
    ("variants_put", VARIANTS_PUT_BATCH),
    ("trees_put", TREES_PUT_BATCH),
    ("promotions_delete", PROMOTIONS_DELETE_BATCH),
    ("promotion_codes_delete", PROMOTION_CODES_DELETE_BATCH),
    ("inventory_adjustments", INVENTORY_ADJUSTMENTS_BATCH),
];
