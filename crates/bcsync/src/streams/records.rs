//! The shape of every record bcsync extracts: each field the API returns, with its JSON
//! type, nested objects and arrays included. [`super::schema`] turns these into the Singer
//! SCHEMA and converts RECORDs to match.
//!
//! Source: our API reference (field lists of the store, customers, customer groups,
//! products and variants, channels, orders and order products, transactions, refunds,
//! coupons), with its type rules: V2 money and other decimals are 4-decimal strings
//! ([`DEC`], emitted as numbers), V3 money is numbers, V2 dates RFC 2822 and V3 ISO 8601
//! ([`D`]), V2 order ids integers and V3 transaction `order_id` a string. Fields the
//! reference names without a type, or does not name, take the type the V2/V3 spec
//! examples show; the sandbox's responses were used as a cross-check only. Where the
//! type is not settled, a permissive choice is marked UNCERTAIN: [`DEC`] (like every
//! numeric shape) accepts a number or a decimal string; [`ANY`] accepts every JSON type (PHP-backed V2 endpoints send `[]`
//! for an empty object).

use super::schema::{Prop, Shape};

const I: Shape = Shape::Integer;
const N: Shape = Shape::Number;
/// A decimal the API may send as a string (`"12.5000"`): declared and emitted as a number.
const DEC: Shape = Shape::Decimal;
const S: Shape = Shape::String;
const B: Shape = Shape::Boolean;
const D: Shape = Shape::DateTime;
const ANY: Shape = Shape::Any;
const INTS: Shape = Shape::Array(&I);
const STRINGS: Shape = Shape::Array(&S);

/// `{url, resource}`: a V2 link to a sub-resource that was not embedded.
static LINK: &[Prop] = &[("url", S), ("resource", S)];

// --- store (V2) ---------------------------------------------------------------------

pub static STORE: &[Prop] = &[
    ("id", S),
    ("store_id", I),
    ("account_uuid", S),
    ("domain", S),
    ("secure_url", S),
    ("control_panel_base_url", S),
    ("status", S),
    ("name", S),
    ("first_name", S),
    ("last_name", S),
    ("address", S),
    ("country", S),
    ("country_code", S),
    ("phone", S),
    ("admin_email", S),
    ("order_email", S),
    ("favicon_url", S),
    (
        "timezone",
        Shape::Object(&[
            ("name", S),
            ("raw_offset", I),
            ("dst_offset", I),
            ("dst_correction", B),
            (
                "date_format",
                Shape::Object(&[("display", S), ("export", S), ("extended_display", S)]),
            ),
        ]),
    ),
    ("language", S),
    ("currency", S),
    ("currency_symbol", S),
    ("decimal_separator", S),
    ("thousands_separator", S),
    ("decimal_places", I),
    ("currency_symbol_location", S),
    ("weight_units", S),
    ("dimension_units", S),
    // Not typed in the reference; the spec example and the sandbox send a string ("2").
    ("dimension_decimal_places", S),
    ("dimension_decimal_token", S),
    ("dimension_thousands_token", S),
    ("plan_name", S),
    ("plan_level", S),
    ("plan_is_trial", B),
    ("industry", S),
    // UNCERTAIN: an object with `url`, or `[]` when the store has no logo.
    ("logo", ANY),
    ("is_price_entered_with_tax", B),
    ("default_channel_id", I),
    ("default_site_id", I),
    ("active_comparison_modules", Shape::Array(&ANY)),
    (
        "features",
        Shape::Object(&[
            ("stencil_enabled", B),
            ("sitewidehttps_enabled", B),
            ("facebook_catalog_id", S),
            ("checkout_type", S),
            ("wishlists_enabled", B),
            ("graphql_storefront_api_enabled", B),
            ("shopper_consent_tracking_enabled", B),
            ("multi_storefront_enabled", B),
            (
                "storefront_limits",
                Shape::Object(&[("active", I), ("total_including_inactive", I)]),
            ),
        ]),
    ),
    ("infrastructure_region", S),
];

// --- channels (V3) ------------------------------------------------------------------

pub static CHANNEL: &[Prop] = &[
    ("id", I),
    ("name", S),
    ("external_id", S),
    ("type", S),
    ("platform", S),
    ("status", S),
    ("is_listable_from_ui", B),
    ("is_visible", B),
    ("is_enabled", B),
    ("icon_url", S),
    ("date_created", D),
    ("date_modified", D),
];

// --- customers (V3) and customer groups (V2) ------------------------------------------

/// `{name, value}`: a form field; its value is text, a number or a list of choices.
pub static FORM_FIELD: &[Prop] = &[("name", S), ("value", ANY)];

pub static CUSTOMER_ADDRESS: &[Prop] = &[
    ("id", I),
    ("customer_id", I),
    ("first_name", S),
    ("last_name", S),
    ("company", S),
    ("address1", S),
    ("address2", S),
    ("city", S),
    ("state_or_province", S),
    ("postal_code", S),
    ("country", S),
    ("country_code", S),
    ("phone", S),
    ("address_type", S),
    ("form_fields", Shape::Array(&Shape::Object(FORM_FIELD))),
];

pub static CUSTOMER_ATTRIBUTE_VALUE: &[Prop] = &[
    ("id", I),
    ("customer_id", I),
    ("attribute_id", I),
    // Attribute values are written and read as strings, whatever the attribute's type.
    ("attribute_value", S),
    ("date_created", D),
    ("date_modified", D),
];

pub static CUSTOMER: &[Prop] = &[
    ("id", I),
    ("email", S),
    ("first_name", S),
    ("last_name", S),
    ("company", S),
    ("phone", S),
    ("registration_ip_address", S),
    ("notes", S),
    ("tax_exempt_category", S),
    ("customer_group_id", I),
    ("date_created", D),
    ("date_modified", D),
    ("address_count", I),
    ("attribute_count", I),
    (
        "authentication",
        Shape::Object(&[("force_password_reset", B)]),
    ),
    ("accepts_product_review_abandoned_cart_emails", B),
    (
        "store_credit_amounts",
        Shape::Array(&Shape::Object(&[("amount", N)])),
    ),
    ("origin_channel_id", I),
    ("channel_ids", INTS),
    ("addresses", Shape::Array(&Shape::Object(CUSTOMER_ADDRESS))),
    (
        "attributes",
        Shape::Array(&Shape::Object(CUSTOMER_ATTRIBUTE_VALUE)),
    ),
    ("form_fields", Shape::Array(&Shape::Object(FORM_FIELD))),
];

pub static CUSTOMER_GROUP: &[Prop] = &[
    ("id", I),
    ("name", S),
    ("is_default", B),
    (
        "category_access",
        Shape::Object(&[("type", S), ("categories", INTS)]),
    ),
    (
        "discount_rules",
        Shape::Array(&Shape::Object(&[
            ("type", S),
            ("method", S),
            ("amount", DEC),
            ("price_list_id", I),
            ("category_id", I),
            ("product_id", I),
        ])),
    ),
    ("is_group_for_guests", B),
    // UNCERTAIN: RFC 2822 like other V2 dates, or `2023-07-17 06:30:41` as a spec
    // example shows; both are read (as UTC) and written as ISO 8601.
    ("date_created", D),
    ("date_modified", D),
];

// --- catalog (V3) ---------------------------------------------------------------------

pub static OPTION_VALUE: &[Prop] = &[
    ("id", I),
    ("label", S),
    ("option_id", I),
    ("option_display_name", S),
];

pub static VARIANT: &[Prop] = &[
    ("id", I),
    ("product_id", I),
    ("sku", S),
    ("sku_id", I),
    // Null means the product's value applies.
    ("price", N),
    ("calculated_price", N),
    ("sale_price", N),
    ("retail_price", N),
    ("map_price", N),
    ("weight", N),
    ("calculated_weight", N),
    ("width", N),
    ("height", N),
    ("depth", N),
    ("is_free_shipping", B),
    ("fixed_cost_shipping_price", N),
    ("purchasing_disabled", B),
    ("purchasing_disabled_message", S),
    ("image_url", S),
    ("cost_price", N),
    ("upc", S),
    ("mpn", S),
    ("gtin", S),
    ("inventory_level", I),
    ("inventory_warning_level", I),
    ("bin_picking_number", S),
    ("option_values", Shape::Array(&Shape::Object(OPTION_VALUE))),
];

pub static PRODUCT_IMAGE: &[Prop] = &[
    ("id", I),
    ("product_id", I),
    ("is_thumbnail", B),
    ("sort_order", I),
    ("description", S),
    ("image_file", S),
    ("url_zoom", S),
    ("url_standard", S),
    ("url_thumbnail", S),
    ("url_tiny", S),
    ("date_modified", D),
];

pub static PRODUCT_CUSTOM_FIELD: &[Prop] = &[("id", I), ("name", S), ("value", S)];

static BULK_PRICING_RULE: &[Prop] = &[
    ("id", I),
    ("quantity_min", I),
    ("quantity_max", I),
    ("type", S),
    ("amount", N),
];

static CUSTOM_URL: &[Prop] = &[("url", S), ("is_customized", B)];

pub static PRODUCT: &[Prop] = &[
    ("id", I),
    ("name", S),
    ("type", S),
    ("sku", S),
    ("description", S),
    ("weight", N),
    ("width", N),
    ("depth", N),
    ("height", N),
    ("price", N),
    ("cost_price", N),
    ("retail_price", N),
    ("sale_price", N),
    ("map_price", N),
    ("tax_class_id", I),
    ("product_tax_code", S),
    ("calculated_price", N),
    ("categories", INTS),
    ("brand_id", I),
    ("option_set_id", I),
    ("option_set_display", S),
    ("inventory_level", I),
    ("inventory_warning_level", I),
    ("inventory_tracking", S),
    ("reviews_rating_sum", I),
    ("reviews_count", I),
    ("total_sold", I),
    ("fixed_cost_shipping_price", N),
    ("is_free_shipping", B),
    ("is_visible", B),
    ("is_featured", B),
    ("related_products", INTS),
    ("warranty", S),
    ("bin_picking_number", S),
    ("layout_file", S),
    ("upc", S),
    ("mpn", S),
    ("gtin", S),
    ("date_last_imported", D),
    ("search_keywords", S),
    ("availability", S),
    ("availability_description", S),
    ("gift_wrapping_options_type", S),
    ("gift_wrapping_options_list", INTS),
    ("sort_order", I),
    ("condition", S),
    ("is_condition_shown", B),
    ("order_quantity_minimum", I),
    ("order_quantity_maximum", I),
    ("page_title", S),
    ("meta_keywords", STRINGS),
    ("meta_description", S),
    ("date_created", D),
    ("date_modified", D),
    ("view_count", I),
    ("preorder_release_date", D),
    ("preorder_message", S),
    ("is_preorder_only", B),
    ("is_price_hidden", B),
    ("price_hidden_label", S),
    ("custom_url", Shape::Object(CUSTOM_URL)),
    ("base_variant_id", I),
    ("open_graph_type", S),
    ("open_graph_title", S),
    ("open_graph_description", S),
    ("open_graph_use_meta_description", B),
    ("open_graph_use_product_name", B),
    ("open_graph_use_image", B),
    ("variants", Shape::Array(&Shape::Object(VARIANT))),
    ("images", Shape::Array(&Shape::Object(PRODUCT_IMAGE))),
    (
        "custom_fields",
        Shape::Array(&Shape::Object(PRODUCT_CUSTOM_FIELD)),
    ),
    (
        "bulk_pricing_rules",
        Shape::Array(&Shape::Object(BULK_PRICING_RULE)),
    ),
];

pub static CATEGORY: &[Prop] = &[
    ("category_id", I),
    ("category_uuid", S),
    ("parent_id", I),
    ("tree_id", I),
    ("name", S),
    ("description", S),
    ("views", I),
    ("sort_order", I),
    ("page_title", S),
    ("search_keywords", S),
    ("meta_keywords", STRINGS),
    ("meta_description", S),
    ("layout_file", S),
    ("is_visible", B),
    ("default_product_sort", S),
    ("url", Shape::Object(&[("path", S), ("is_customized", B)])),
    ("image_url", S),
];

pub static CATEGORY_TREE: &[Prop] = &[("id", I), ("name", S), ("channels", INTS)];

pub static BRAND: &[Prop] = &[
    ("id", I),
    ("name", S),
    ("page_title", S),
    ("meta_keywords", STRINGS),
    ("meta_description", S),
    ("image_url", S),
    ("search_keywords", S),
    ("custom_url", Shape::Object(CUSTOM_URL)),
];

// --- coupons (V2) -----------------------------------------------------------------------

pub static COUPON: &[Prop] = &[
    ("id", I),
    ("name", S),
    ("type", S),
    ("amount", DEC),
    ("min_purchase", DEC),
    // RFC 2822, or "" when the coupon never expires (emitted as null).
    ("expires", D),
    ("enabled", B),
    ("code", S),
    ("applies_to", Shape::Object(&[("entity", S), ("ids", INTS)])),
    ("num_uses", I),
    ("max_uses", I),
    ("max_uses_per_customer", I),
    // UNCERTAIN: an object of restrictions, or `[]` when there are none.
    ("restricted_to", ANY),
    ("shipping_methods", STRINGS),
    ("date_created", D),
];

// --- orders (V2) ------------------------------------------------------------------------

static ORDER_ADDRESS_FIELDS: &[Prop] = &[
    ("first_name", S),
    ("last_name", S),
    ("company", S),
    ("street_1", S),
    ("street_2", S),
    ("city", S),
    ("state", S),
    ("zip", S),
    ("country", S),
    ("country_iso2", S),
    ("phone", S),
    ("email", S),
    ("form_fields", Shape::Array(&Shape::Object(FORM_FIELD))),
];

/// An order product (a line), as embedded by `include=consignments.line_items`.
pub static ORDER_LINE: &[Prop] = &[
    ("id", I),
    ("order_id", I),
    ("product_id", I),
    // Absent for custom products.
    ("variant_id", I),
    ("order_pickup_method_id", I),
    ("order_address_id", I),
    ("name", S),
    ("name_customer", S),
    ("name_merchant", S),
    ("sku", S),
    ("upc", S),
    ("type", S),
    ("base_price", DEC),
    ("price_ex_tax", DEC),
    ("price_inc_tax", DEC),
    ("price_tax", DEC),
    ("base_total", DEC),
    ("total_ex_tax", DEC),
    ("total_inc_tax", DEC),
    ("total_tax", DEC),
    ("weight", DEC),
    ("width", DEC),
    ("height", DEC),
    ("depth", DEC),
    ("quantity", I),
    ("base_cost_price", DEC),
    ("cost_price_inc_tax", DEC),
    ("cost_price_ex_tax", DEC),
    ("cost_price_tax", DEC),
    ("is_refunded", B),
    ("quantity_refunded", I),
    ("refund_amount", DEC),
    ("return_id", I),
    ("wrapping_id", I),
    ("wrapping_name", S),
    ("base_wrapping_cost", DEC),
    ("wrapping_cost_ex_tax", DEC),
    ("wrapping_cost_inc_tax", DEC),
    ("wrapping_cost_tax", DEC),
    ("wrapping_message", S),
    ("quantity_shipped", I),
    ("event_name", S),
    // Free text the shopper typed for an event product, not a timestamp.
    ("event_date", S),
    ("fixed_shipping_cost", DEC),
    ("ebay_item_id", S),
    ("ebay_transaction_id", S),
    ("option_set_id", I),
    ("parent_order_product_id", I),
    ("is_bundled_product", B),
    ("bin_picking_number", S),
    ("external_id", S),
    ("brand", S),
    (
        "applied_discounts",
        Shape::Array(&Shape::Object(&[
            // "coupon", "total-coupon" or a discount's id, always as a string.
            ("id", S),
            ("amount", DEC),
            ("name", S),
            ("code", S),
            ("target", S),
        ])),
    ),
    (
        "product_options",
        Shape::Array(&Shape::Object(&[
            ("id", I),
            ("option_id", I),
            ("order_product_id", I),
            ("product_option_id", I),
            ("display_name", S),
            ("display_value", S),
            ("value", S),
            ("type", S),
            ("name", S),
            ("display_style", S),
        ])),
    ),
    (
        "configurable_fields",
        Shape::Array(&Shape::Object(FORM_FIELD)),
    ),
    ("gift_certificate_id", I),
    ("discounted_total_inc_tax", DEC),
];

/// A shipping consignment's fields, its lines aside: `$lines` adds them for the
/// consignment embedded in the order; the `order_shipping_addresses` rows have none.
macro_rules! shipping_consignment {
    ($($lines:tt)*) => {
        &[
            ("id", I),
            ("first_name", S),
            ("last_name", S),
            ("company", S),
            ("street_1", S),
            ("street_2", S),
            ("city", S),
            ("state", S),
            ("zip", S),
            ("country", S),
            ("country_iso2", S),
            ("phone", S),
            ("email", S),
            ("form_fields", Shape::Array(&Shape::Object(FORM_FIELD))),
            ("shipping_method", S),
            ("items_total", I),
            ("items_shipped", I),
            // Consignment costs are numbers in the consignment schema; DEC takes both.
            ("base_cost", DEC),
            ("cost_ex_tax", DEC),
            ("cost_inc_tax", DEC),
            ("cost_tax", DEC),
            ("cost_tax_class_id", I),
            ("base_handling_cost", DEC),
            ("handling_cost_ex_tax", DEC),
            ("handling_cost_inc_tax", DEC),
            ("handling_cost_tax", DEC),
            ("handling_cost_tax_class_id", I),
            ("shipping_zone_id", I),
            ("shipping_zone_name", S),
            ("shipping_quotes", Shape::Object(LINK)),
            $($lines)*
        ]
    };
}

/// One `order_shipping_addresses` row: a shipping consignment without its lines.
pub static ORDER_SHIPPING_ADDRESS: &[Prop] = shipping_consignment!();

static SHIPPING_CONSIGNMENT: &[Prop] =
    shipping_consignment!(("line_items", Shape::Array(&Shape::Object(ORDER_LINE))),);

/// Pickup, download and gift-certificate consignments: their lines are what bcsync reads;
/// their other fields pass through undeclared.
static LINES_ONLY: &[Prop] = &[
    ("id", I),
    ("line_items", Shape::Array(&Shape::Object(ORDER_LINE))),
];

pub static ORDER: &[Prop] = &[
    ("id", I),
    ("customer_id", I),
    ("date_created", D),
    ("date_modified", D),
    // "" until shipped (emitted as null).
    ("date_shipped", D),
    ("status_id", I),
    ("status", S),
    ("subtotal_ex_tax", DEC),
    ("subtotal_inc_tax", DEC),
    ("subtotal_tax", DEC),
    ("base_shipping_cost", DEC),
    ("shipping_cost_ex_tax", DEC),
    ("shipping_cost_inc_tax", DEC),
    ("shipping_cost_tax", DEC),
    ("shipping_cost_tax_class_id", I),
    ("base_handling_cost", DEC),
    ("handling_cost_ex_tax", DEC),
    ("handling_cost_inc_tax", DEC),
    ("handling_cost_tax", DEC),
    ("handling_cost_tax_class_id", I),
    ("base_wrapping_cost", DEC),
    ("wrapping_cost_ex_tax", DEC),
    ("wrapping_cost_inc_tax", DEC),
    ("wrapping_cost_tax", DEC),
    ("wrapping_cost_tax_class_id", I),
    ("total_ex_tax", DEC),
    ("total_inc_tax", DEC),
    ("total_tax", DEC),
    ("is_tax_inclusive_pricing", B),
    ("items_total", I),
    ("items_shipped", I),
    ("payment_method", S),
    ("payment_provider_id", S),
    ("payment_status", S),
    ("refunded_amount", DEC),
    ("order_is_digital", B),
    ("store_credit_amount", DEC),
    ("gift_certificate_amount", DEC),
    ("ip_address", S),
    ("ip_address_v6", S),
    ("geoip_country", S),
    ("geoip_country_iso2", S),
    ("currency_id", I),
    ("currency_code", S),
    ("currency_exchange_rate", DEC),
    ("default_currency_id", I),
    ("default_currency_code", S),
    ("staff_notes", S),
    ("customer_message", S),
    ("discount_amount", DEC),
    ("coupon_discount", DEC),
    ("shipping_address_count", I),
    ("is_deleted", B),
    // A numeric id sent as a string ("0" when none).
    ("ebay_order_id", S),
    ("cart_id", S),
    ("billing_address", Shape::Object(ORDER_ADDRESS_FIELDS)),
    ("is_email_opt_in", B),
    ("credit_card_type", S),
    ("order_source", S),
    ("channel_id", I),
    ("external_source", S),
    // Links when the sub-resources are not embedded (lines come inside consignments).
    ("products", Shape::Object(LINK)),
    ("shipping_addresses", Shape::Object(LINK)),
    ("coupons", Shape::Object(LINK)),
    ("fees", Shape::Object(LINK)),
    ("external_id", S),
    // UNCERTAIN: a string id or an object, null on most orders.
    ("external_merchant_id", ANY),
    ("tax_provider_id", S),
    ("store_default_currency_code", S),
    ("store_default_to_transactional_exchange_rate", DEC),
    ("custom_status", S),
    ("customer_locale", S),
    ("external_order_id", S),
    (
        "consignments",
        Shape::Object(&[
            ("pickups", Shape::Array(&Shape::Object(LINES_ONLY))),
            (
                "shipping",
                Shape::Array(&Shape::Object(SHIPPING_CONSIGNMENT)),
            ),
            ("downloads", Shape::Array(&Shape::Object(LINES_ONLY))),
            (
                "email",
                Shape::Object(&[(
                    "gift_certificates",
                    Shape::Array(&Shape::Object(LINES_ONLY)),
                )]),
            ),
        ]),
    ),
];

// --- payments (V3) ----------------------------------------------------------------------

pub static TRANSACTION: &[Prop] = &[
    ("id", I),
    // A string here, while V2 order ids are integers.
    ("order_id", S),
    ("event", S),
    ("method", S),
    ("amount", N),
    ("currency", S),
    ("gateway", S),
    ("gateway_transaction_id", S),
    ("date_created", D),
    ("test", B),
    ("status", S),
    ("fraud_review", B),
    ("reference_transaction_id", I),
    ("payment_method_id", S),
    ("payment_instrument_token", S),
    ("offline", Shape::Object(&[("display_name", S)])),
    ("custom", Shape::Object(&[("payment_method", S)])),
    (
        "avs_result",
        Shape::Object(&[
            ("code", S),
            ("message", S),
            ("street_match", S),
            ("postal_match", S),
        ]),
    ),
    ("cvv_result", Shape::Object(&[("code", S), ("message", S)])),
    (
        "credit_card",
        Shape::Object(&[
            ("card_type", S),
            ("card_iin", S),
            ("card_last4", S),
            ("card_expiry_month", I),
            ("card_expiry_year", I),
        ]),
    ),
    (
        "gift_certificate",
        Shape::Object(&[
            ("code", S),
            ("original_balance", N),
            ("starting_balance", N),
            ("remaining_balance", N),
            ("status", S),
        ]),
    ),
    ("store_credit", Shape::Object(&[("remaining_balance", N)])),
];

pub static REFUND: &[Prop] = &[
    ("id", I),
    ("order_id", I),
    ("user_id", I),
    ("created", D),
    ("reason", S),
    ("total_amount", N),
    ("total_tax", N),
    ("uses_merchant_override_values", B),
    (
        "items",
        Shape::Array(&Shape::Object(&[
            ("item_type", S),
            ("item_id", I),
            ("quantity", I),
            // UNCERTAIN: the spec's examples show a decimal string ("1230.47").
            ("requested_amount", DEC),
            ("reason", S),
        ])),
    ),
    (
        "payments",
        Shape::Array(&Shape::Object(&[
            ("id", I),
            ("provider_id", S),
            ("amount", N),
            ("offline", B),
            ("is_declined", B),
            ("declined_message", S),
        ])),
    ),
];

// --- carts (V3, webhooks only) -------------------------------------------------------

/// A cart as `GET /v3/carts/{id}` returns it (docs/api-notes.md §8), plus the state
/// `bcsync listen` adds from the cart webhooks.
pub static CART: &[Prop] = &[
    ("id", S),
    ("customer_id", I),
    ("channel_id", I),
    ("email", S),
    ("currency", ANY),
    ("base_amount", N),
    ("discount_amount", N),
    ("cart_amount", N),
    ("tax_included", B),
    ("line_items", ANY),
    ("created_time", D),
    ("updated_time", D),
    ("version", I),
    ("state", S),
    ("abandoned_at", D),
    ("converted_at", D),
    ("order_id", I),
];

/// One line of a cart: a physical, digital, custom or gift-certificate item
/// (`item_type` says which).
pub static CART_ITEM: &[Prop] = &[
    ("id", S),
    ("item_type", S),
    ("product_id", I),
    ("variant_id", I),
    ("sku", S),
    ("name", S),
    ("quantity", I),
    ("list_price", N),
    ("sale_price", N),
    ("extended_list_price", N),
    ("extended_sale_price", N),
];

// --- newsletter subscribers (V3, docs/api-notes.md §2.4) ----------------------------

pub static SUBSCRIBER: &[Prop] = &[
    ("id", I),
    ("email", S),
    ("first_name", S),
    ("last_name", S),
    ("source", S),
    ("order_id", I),
    ("channel_id", I),
    ("consents", STRINGS),
    ("date_created", D),
    ("date_modified", D),
];

// --- promotions (V3, docs/api-notes.md §7.2) ----------------------------------------

pub static PROMOTION: &[Prop] = &[
    ("id", I),
    ("name", S),
    ("display_name", S),
    ("redemption_type", S),
    ("channels", Shape::Array(&Shape::Object(&[("id", I)]))),
    (
        "customer",
        Shape::Object(&[
            ("group_ids", INTS),
            ("minimum_order_count", I),
            ("excluded_group_ids", INTS),
            ("segments", ANY),
        ]),
    ),
    // A rule's condition, and the other kinds of action, are trees of many forms: kept
    // as JSON.
    (
        "rules",
        Shape::Array(&Shape::Object(&[
            (
                "action",
                Shape::Object(&[
                    (
                        "cart_value",
                        Shape::Object(&[(
                            "discount",
                            Shape::Object(&[("percentage_amount", S), ("fixed_amount", S)]),
                        )]),
                    ),
                    ("cart_items", ANY),
                    ("shipping", ANY),
                    ("gift_item", ANY),
                    ("fixed_price_set", ANY),
                ]),
            ),
            ("condition", ANY),
            ("apply_once", B),
            ("stop", B),
        ])),
    ),
    ("notifications", Shape::Array(&ANY)),
    ("current_uses", I),
    ("max_uses", I),
    ("status", S),
    ("start_date", D),
    ("end_date", D),
    ("stop", B),
    ("can_be_used_with_other_promotions", B),
    ("currency_code", S),
    ("priority", I),
    ("created_from", S),
];

// --- content pages (V3, docs/api-notes.md §14) --------------------------------------

pub static PAGE: &[Prop] = &[
    ("id", I),
    ("channel_id", I),
    ("name", S),
    ("is_visible", B),
    ("parent_id", I),
    ("sort_order", I),
    ("type", S),
    ("is_homepage", B),
    ("is_customers_only", B),
    ("meta_title", S),
    ("meta_keywords", S),
    ("meta_description", S),
    ("search_keywords", S),
    ("url", S),
    ("body", S),
    ("email", S),
    ("contact_fields", S),
    ("link", S),
    ("feed", S),
];

// --- inventory items (V3, docs/api-notes.md §5), one row per item and location --------

pub static INVENTORY_ITEM_LOCATION: &[Prop] = &[
    ("id", S),
    ("product_id", I),
    ("variant_id", I),
    ("sku", S),
    ("sku_id", I),
    ("location_id", I),
    ("location_code", S),
    ("location_name", S),
    ("available_to_sell", I),
    ("total_inventory_onhand", I),
    ("location_enabled", B),
    (
        "settings",
        Shape::Object(&[
            ("safety_stock", I),
            ("is_in_stock", B),
            ("warning_level", I),
            ("bin_picking_number", S),
        ]),
    ),
];

// --- metafields (V3, docs/api-notes.md §15) -----------------------------------------

pub static METAFIELD: &[Prop] = &[
    ("id", I),
    ("key", S),
    ("value", S),
    ("namespace", S),
    ("permission_set", S),
    ("resource_type", S),
    ("resource_id", I),
    ("description", S),
    ("owner_client_id", S),
    ("date_created", D),
    ("date_modified", D),
];
