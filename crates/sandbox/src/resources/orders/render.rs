//! JSON shapes of orders and their sub-resources, written straight from the typed records
//! with hand-written `Serialize` views (no intermediate `serde_json::Value`): a 250-order
//! page with `include=consignments.line_items` is the hot path of every order sync
//! (docs/api-notes.md §6.2) and must render in about a millisecond.
//!
//! Field names and order follow the V2 orders spec examples. V2 money is 4-decimal strings
//! and dates RFC 2822 (docs/api-notes.md §6.5, §0.6); consignment costs are numbers, as the
//! consignment schema shows.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use super::model::{
    Address, Fee, Line, Order, OrderCoupon, Pickup, Refund, Shipment, ShippingAddress, Transaction,
};
use crate::query::Query;

/// How `consignments` is embedded when included (docs/api-notes.md §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsignmentStructure {
    /// The legacy default: a one-element array holding the same object as the `object`
    /// structure. docs/api-notes.md §6.2 only says "arrays"; BigCommerce's announcement of the
    /// change (developer.bigcommerce.com, "Update to v2 Orders API side-loadable consignment
    /// response", August 2025) shows exactly `[{pickups, shipping, downloads, email}]`.
    Array,
    /// `consignment_structure=object`: `{pickups, shipping, downloads, email}`.
    Object,
}

/// What a request asked to embed, and where links point.
#[derive(Debug, Clone)]
pub struct RenderCtx {
    /// `{scheme}://{host}/stores/{hash}/v2`: the prefix of every `url` link, so that a
    /// client following links stays on the sandbox.
    pub base: String,
    /// `include=consignments` or `consignments.line_items`.
    pub consignments: Option<ConsignmentStructure>,
    /// `include=consignments.line_items`: full lines inside consignments instead of links.
    pub line_items: bool,
    /// `include=fees`.
    pub fees: bool,
}

impl RenderCtx {
    pub fn new(q: &Query, base: String) -> Self {
        let includes = q.includes();
        let line_items = includes.iter().any(|i| i == "consignments.line_items");
        let consignments =
            (line_items || includes.iter().any(|i| i == "consignments")).then(|| {
                if q.get("consignment_structure") == Some("object") {
                    ConsignmentStructure::Object
                } else {
                    ConsignmentStructure::Array
                }
            });
        let fees = includes.iter().any(|i| i == "fees");
        RenderCtx {
            base,
            consignments,
            line_items,
            fees,
        }
    }
}

/// A resource path as `resource` links show it (relative to `/v2`).
#[derive(Debug, Clone, Copy)]
enum ResPath {
    /// `/orders/{id}/{sub}`.
    Sub(i64, &'static str),
    Line(i64, i64),
    AddressQuotes(i64, i64),
    ConsignmentQuotes(i64, i64),
}

impl fmt::Display for ResPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            // The spec examples spell the address links without underscores
            // (`/shippingaddresses`); the router accepts both spellings.
            ResPath::Sub(o, sub) => write!(f, "/orders/{o}/{sub}"),
            ResPath::Line(o, l) => write!(f, "/orders/{o}/products/{l}"),
            ResPath::AddressQuotes(o, a) => {
                write!(f, "/orders/{o}/shippingaddresses/{a}/shippingquotes")
            }
            ResPath::ConsignmentQuotes(o, c) => {
                write!(f, "/orders/{o}/consignments/shipping/{c}/shipping_quotes")
            }
        }
    }
}

/// `{url, resource}`.
struct Link<'a> {
    base: &'a str,
    path: ResPath,
}

impl Serialize for Link<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("url", &Concat(self.base, self.path))?;
        m.serialize_entry("resource", &Display(self.path))?;
        m.end()
    }
}

/// Serializes anything `Display` as a JSON string without allocating.
struct Display<T>(T);
impl<T: fmt::Display> Serialize for Display<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

struct Concat<'a>(&'a str, ResPath);
impl Serialize for Concat<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}{}", self.0, self.1))
    }
}

/// RFC 2822 in UTC (docs/api-notes.md §0.6), written by hand into a stack buffer: three dates per
/// order make `chrono`'s format-string interpreter a visible cost on 250-order pages. The
/// output is byte-for-byte [`crate::dates::rfc2822`] (checked by a test below).
struct Rfc2822(DateTime<Utc>);

impl Rfc2822 {
    fn write_to(&self, buf: &mut [u8; 31]) -> Option<usize> {
        use chrono::{Datelike, Timelike};
        const DAYS: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
        const MONTHS: [&[u8; 3]; 12] = [
            b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
            b"Dec",
        ];
        let d = self.0;
        let year = u32::try_from(d.year()).ok().filter(|y| *y <= 9999)?;
        let two = |v: u32| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
        buf[..3].copy_from_slice(DAYS[d.weekday().num_days_from_monday() as usize]);
        buf[3..5].copy_from_slice(b", ");
        buf[5..7].copy_from_slice(&two(d.day()));
        buf[7] = b' ';
        buf[8..11].copy_from_slice(MONTHS[d.month0() as usize]);
        buf[11] = b' ';
        buf[12..14].copy_from_slice(&two(year / 100));
        buf[14..16].copy_from_slice(&two(year % 100));
        buf[16] = b' ';
        buf[17..19].copy_from_slice(&two(d.hour()));
        buf[19] = b':';
        buf[20..22].copy_from_slice(&two(d.minute()));
        buf[22] = b':';
        buf[23..25].copy_from_slice(&two(d.second()));
        buf[25..31].copy_from_slice(b" +0000");
        Some(31)
    }
}

impl Serialize for Rfc2822 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 31];
        match self
            .write_to(&mut buf)
            .and_then(|n| std::str::from_utf8(&buf[..n]).ok())
        {
            Some(text) => s.serialize_str(text),
            None => s.serialize_str(&crate::dates::rfc2822(self.0)),
        }
    }
}

/// `date_shipped` is `""` until the order ships (docs/api-notes.md §0.6).
struct OptRfc2822(Option<DateTime<Utc>>);
impl Serialize for OptRfc2822 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(d) => Rfc2822(d).serialize(s),
            None => s.serialize_str(""),
        }
    }
}

/// The V2 order object.
pub struct OrderView<'a> {
    pub order: &'a Order,
    pub ctx: &'a RenderCtx,
}

impl Serialize for OrderView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let o = self.order;
        let base = self.ctx.base.as_str();
        let st = o.status();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &o.id)?;
        m.serialize_entry("customer_id", &o.customer_id)?;
        m.serialize_entry("date_created", &Rfc2822(o.date_created))?;
        m.serialize_entry("date_modified", &Rfc2822(o.date_modified))?;
        m.serialize_entry("date_shipped", &OptRfc2822(o.date_shipped))?;
        m.serialize_entry("status_id", &o.status_id)?;
        m.serialize_entry("status", st.name)?;
        m.serialize_entry("subtotal_ex_tax", &o.subtotal_ex_tax)?;
        m.serialize_entry("subtotal_inc_tax", &o.subtotal_inc_tax)?;
        m.serialize_entry("subtotal_tax", &(o.subtotal_inc_tax - o.subtotal_ex_tax))?;
        m.serialize_entry("base_shipping_cost", &o.shipping_cost_inc_tax)?;
        m.serialize_entry("shipping_cost_ex_tax", &o.shipping_cost_ex_tax)?;
        m.serialize_entry("shipping_cost_inc_tax", &o.shipping_cost_inc_tax)?;
        m.serialize_entry(
            "shipping_cost_tax",
            &(o.shipping_cost_inc_tax - o.shipping_cost_ex_tax),
        )?;
        m.serialize_entry("shipping_cost_tax_class_id", &2)?;
        m.serialize_entry("base_handling_cost", &o.handling_cost_inc_tax)?;
        m.serialize_entry("handling_cost_ex_tax", &o.handling_cost_ex_tax)?;
        m.serialize_entry("handling_cost_inc_tax", &o.handling_cost_inc_tax)?;
        m.serialize_entry(
            "handling_cost_tax",
            &(o.handling_cost_inc_tax - o.handling_cost_ex_tax),
        )?;
        m.serialize_entry("handling_cost_tax_class_id", &2)?;
        m.serialize_entry("base_wrapping_cost", &o.wrapping_cost_inc_tax)?;
        m.serialize_entry("wrapping_cost_ex_tax", &o.wrapping_cost_ex_tax)?;
        m.serialize_entry("wrapping_cost_inc_tax", &o.wrapping_cost_inc_tax)?;
        m.serialize_entry(
            "wrapping_cost_tax",
            &(o.wrapping_cost_inc_tax - o.wrapping_cost_ex_tax),
        )?;
        m.serialize_entry("wrapping_cost_tax_class_id", &3)?;
        m.serialize_entry("total_ex_tax", &o.total_ex_tax)?;
        m.serialize_entry("total_inc_tax", &o.total_inc_tax)?;
        m.serialize_entry("total_tax", &(o.total_inc_tax - o.total_ex_tax))?;
        m.serialize_entry("is_tax_inclusive_pricing", &false)?;
        m.serialize_entry("items_total", &o.items_total())?;
        m.serialize_entry("items_shipped", &o.items_shipped())?;
        m.serialize_entry("payment_method", &o.payment_method)?;
        m.serialize_entry("payment_provider_id", &o.payment_provider_id)?;
        m.serialize_entry("payment_status", o.payment_status)?;
        m.serialize_entry("refunded_amount", &o.refunded_amount)?;
        m.serialize_entry("order_is_digital", &o.order_is_digital)?;
        m.serialize_entry("store_credit_amount", &o.store_credit_amount)?;
        m.serialize_entry("gift_certificate_amount", &o.gift_certificate_amount)?;
        m.serialize_entry("ip_address", &o.ip_address)?;
        m.serialize_entry("ip_address_v6", &o.ip_address_v6)?;
        m.serialize_entry("geoip_country", &o.geoip_country)?;
        m.serialize_entry("geoip_country_iso2", &o.geoip_country_iso2)?;
        m.serialize_entry("currency_id", &1)?;
        m.serialize_entry("currency_code", &o.currency_code)?;
        m.serialize_entry("currency_exchange_rate", "1.0000000000")?;
        m.serialize_entry("default_currency_id", &1)?;
        m.serialize_entry("default_currency_code", &o.currency_code)?;
        m.serialize_entry("staff_notes", &o.staff_notes)?;
        m.serialize_entry("customer_message", &o.customer_message)?;
        m.serialize_entry("discount_amount", &o.discount_amount)?;
        m.serialize_entry("coupon_discount", &o.coupon_discount)?;
        m.serialize_entry("shipping_address_count", &o.shipping_addresses.len())?;
        m.serialize_entry("is_deleted", &o.is_deleted)?;
        m.serialize_entry("ebay_order_id", &o.ebay_order_id)?;
        m.serialize_entry("cart_id", &o.cart_id)?;
        m.serialize_entry("billing_address", &BillingView(&o.billing_address))?;
        m.serialize_entry("is_email_opt_in", &o.is_email_opt_in)?;
        m.serialize_entry("credit_card_type", &Value::Null)?;
        m.serialize_entry("order_source", &o.order_source)?;
        m.serialize_entry("channel_id", &o.channel_id)?;
        m.serialize_entry("external_source", &o.external_source)?;
        m.serialize_entry(
            "products",
            &Link {
                base,
                path: ResPath::Sub(o.id, "products"),
            },
        )?;
        m.serialize_entry(
            "shipping_addresses",
            &Link {
                base,
                path: ResPath::Sub(o.id, "shippingaddresses"),
            },
        )?;
        m.serialize_entry(
            "coupons",
            &Link {
                base,
                path: ResPath::Sub(o.id, "coupons"),
            },
        )?;
        m.serialize_entry("external_id", &Value::Null)?;
        m.serialize_entry("external_merchant_id", &o.external_merchant_id)?;
        m.serialize_entry("tax_provider_id", "")?;
        m.serialize_entry("store_default_currency_code", &o.currency_code)?;
        m.serialize_entry(
            "store_default_to_transactional_exchange_rate",
            "1.0000000000",
        )?;
        m.serialize_entry("custom_status", st.name)?;
        m.serialize_entry("customer_locale", &o.customer_locale)?;
        m.serialize_entry("external_order_id", &o.external_order_id)?;
        match self.ctx.consignments {
            None => m.serialize_entry(
                "consignments",
                &Link {
                    base,
                    path: ResPath::Sub(o.id, "consignments"),
                },
            )?,
            Some(ConsignmentStructure::Object) => m.serialize_entry(
                "consignments",
                &ConsignmentsView {
                    order: o,
                    ctx: self.ctx,
                },
            )?,
            Some(ConsignmentStructure::Array) => m.serialize_entry(
                "consignments",
                &[ConsignmentsView {
                    order: o,
                    ctx: self.ctx,
                }],
            )?,
        }
        if self.ctx.fees {
            m.serialize_entry("fees", &FeesView(o))?;
        } else {
            m.serialize_entry(
                "fees",
                &Link {
                    base,
                    path: ResPath::Sub(o.id, "fees"),
                },
            )?;
        }
        m.end()
    }
}

/// The twelve address fields every V2 address view shares.
fn address_fields<M: SerializeMap>(m: &mut M, a: &Address) -> Result<(), M::Error> {
    m.serialize_entry("first_name", &a.first_name)?;
    m.serialize_entry("last_name", &a.last_name)?;
    m.serialize_entry("company", &a.company)?;
    m.serialize_entry("street_1", &a.street_1)?;
    m.serialize_entry("street_2", &a.street_2)?;
    m.serialize_entry("city", &a.city)?;
    m.serialize_entry("state", &a.state)?;
    m.serialize_entry("zip", &a.zip)?;
    m.serialize_entry("country", &a.country)?;
    m.serialize_entry("country_iso2", &a.country_iso2)?;
    m.serialize_entry("phone", &a.phone)?;
    m.serialize_entry("email", &a.email)
}

struct BillingView<'a>(&'a Address);

impl Serialize for BillingView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut m = s.serialize_map(Some(13))?;
        address_fields(&mut m, a)?;
        m.serialize_entry("form_fields", &a.form_fields)?;
        m.end()
    }
}

/// An address as shipments show it (no form fields).
struct PlainAddressView<'a>(&'a Address);

impl Serialize for PlainAddressView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut m = s.serialize_map(Some(12))?;
        address_fields(&mut m, a)?;
        m.end()
    }
}

/// One order product line (`/orders/{id}/products/{line}`).
pub struct LineView<'a> {
    pub order_id: i64,
    pub line: &'a Line,
}

impl Serialize for LineView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let l = self.line;
        let zero = super::model::Money::ZERO;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &l.id)?;
        m.serialize_entry("order_id", &self.order_id)?;
        m.serialize_entry("product_id", &l.product_id)?;
        if let Some(v) = l.variant_id {
            m.serialize_entry("variant_id", &v)?;
        }
        m.serialize_entry("order_pickup_method_id", &0)?;
        m.serialize_entry("order_address_id", &l.order_address_id)?;
        m.serialize_entry("name", &l.name)?;
        m.serialize_entry("name_customer", &l.name)?;
        m.serialize_entry("name_merchant", l.name_merchant.as_ref().unwrap_or(&l.name))?;
        m.serialize_entry("sku", &l.sku)?;
        m.serialize_entry("upc", &l.upc)?;
        m.serialize_entry("type", l.kind)?;
        m.serialize_entry("base_price", &l.base_price)?;
        m.serialize_entry("price_ex_tax", &l.price_ex_tax)?;
        m.serialize_entry("price_inc_tax", &l.price_inc_tax)?;
        m.serialize_entry("price_tax", &(l.price_inc_tax - l.price_ex_tax))?;
        m.serialize_entry("base_total", &l.base_price.times(l.quantity))?;
        m.serialize_entry("total_ex_tax", &l.total_ex_tax())?;
        m.serialize_entry("total_inc_tax", &l.total_inc_tax())?;
        m.serialize_entry("total_tax", &(l.total_inc_tax() - l.total_ex_tax()))?;
        m.serialize_entry("weight", &l.weight)?;
        m.serialize_entry("width", &zero)?;
        m.serialize_entry("height", &zero)?;
        m.serialize_entry("depth", &zero)?;
        m.serialize_entry("quantity", &l.quantity)?;
        m.serialize_entry("base_cost_price", &l.base_cost_price)?;
        m.serialize_entry("cost_price_inc_tax", &l.base_cost_price)?;
        m.serialize_entry("cost_price_ex_tax", &l.base_cost_price)?;
        m.serialize_entry("cost_price_tax", &zero)?;
        m.serialize_entry(
            "is_refunded",
            &(l.quantity_refunded > 0 && l.quantity_refunded >= l.quantity),
        )?;
        m.serialize_entry("quantity_refunded", &l.quantity_refunded)?;
        m.serialize_entry("refund_amount", &zero)?;
        m.serialize_entry("return_id", &0)?;
        m.serialize_entry("wrapping_id", &0)?;
        m.serialize_entry("wrapping_name", "")?;
        m.serialize_entry("base_wrapping_cost", &zero)?;
        m.serialize_entry("wrapping_cost_ex_tax", &zero)?;
        m.serialize_entry("wrapping_cost_inc_tax", &zero)?;
        m.serialize_entry("wrapping_cost_tax", &zero)?;
        m.serialize_entry("wrapping_message", "")?;
        m.serialize_entry("quantity_shipped", &l.quantity_shipped)?;
        m.serialize_entry("event_name", &Value::Null)?;
        m.serialize_entry("event_date", &Value::Null)?;
        m.serialize_entry("fixed_shipping_cost", &zero)?;
        m.serialize_entry("ebay_item_id", "")?;
        m.serialize_entry("ebay_transaction_id", "")?;
        m.serialize_entry("option_set_id", &Value::Null)?;
        m.serialize_entry("parent_order_product_id", &Value::Null)?;
        m.serialize_entry("is_bundled_product", &false)?;
        m.serialize_entry("bin_picking_number", "")?;
        m.serialize_entry("external_id", &Value::Null)?;
        m.serialize_entry("brand", &l.brand)?;
        m.serialize_entry("applied_discounts", &AppliedDiscountsView(l))?;
        m.serialize_entry("product_options", &OptionsView(l))?;
        m.serialize_entry("configurable_fields", &[(); 0])?;
        m.serialize_entry("gift_certificate_id", &Value::Null)?;
        m.serialize_entry(
            "discounted_total_inc_tax",
            &(l.total_inc_tax() - l.discount_total()).max_zero(),
        )?;
        m.end()
    }
}

struct AppliedDiscountsView<'a>(&'a Line);

impl Serialize for AppliedDiscountsView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.applied_discounts.len()))?;
        for d in &self.0.applied_discounts {
            seq.serialize_element(&json!({
                "id": d.id,
                "amount": d.amount,
                "name": d.name,
                "code": d.code,
                "target": d.target,
            }))?;
        }
        seq.end()
    }
}

struct OptionsView<'a>(&'a Line);

impl Serialize for OptionsView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let l = self.0;
        let mut seq = s.serialize_seq(Some(l.product_options.len()))?;
        for o in &l.product_options {
            seq.serialize_element(&json!({
                "id": o.id,
                "option_id": o.product_option_id,
                "order_product_id": l.id,
                "product_option_id": o.product_option_id,
                "display_name": o.display_name,
                "display_name_customer": o.display_name,
                "display_name_merchant": o.display_name,
                "display_value": o.display_value,
                "display_value_customer": o.display_value,
                "display_value_merchant": o.display_value,
                "value": o.value,
                "type": o.option_type,
                "name": o.display_name,
                "display_style": "",
            }))?;
        }
        seq.end()
    }
}

/// `/orders/{id}/shipping_addresses/{id}`.
pub struct ShippingAddressView<'a> {
    pub order: &'a Order,
    pub address: &'a ShippingAddress,
    pub base: &'a str,
}

impl Serialize for ShippingAddressView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (o, sa) = (self.order, self.address);
        let a = &sa.address;
        let (items_total, items_shipped) = address_items(o, sa.id);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &sa.id)?;
        m.serialize_entry("order_id", &o.id)?;
        address_fields(&mut m, a)?;
        m.serialize_entry("items_total", &items_total)?;
        m.serialize_entry("items_shipped", &items_shipped)?;
        m.serialize_entry("shipping_method", &sa.shipping_method)?;
        m.serialize_entry("base_cost", &sa.cost_inc_tax)?;
        m.serialize_entry("cost_ex_tax", &sa.cost_ex_tax)?;
        m.serialize_entry("cost_inc_tax", &sa.cost_inc_tax)?;
        m.serialize_entry("cost_tax", &(sa.cost_inc_tax - sa.cost_ex_tax))?;
        m.serialize_entry("cost_tax_class_id", &sa.cost_tax_class_id)?;
        m.serialize_entry("base_handling_cost", &sa.handling_cost_inc_tax)?;
        m.serialize_entry("handling_cost_ex_tax", &sa.handling_cost_ex_tax)?;
        m.serialize_entry("handling_cost_inc_tax", &sa.handling_cost_inc_tax)?;
        m.serialize_entry(
            "handling_cost_tax",
            &(sa.handling_cost_inc_tax - sa.handling_cost_ex_tax),
        )?;
        m.serialize_entry("handling_cost_tax_class_id", &sa.handling_cost_tax_class_id)?;
        m.serialize_entry("shipping_zone_id", &sa.shipping_zone_id)?;
        m.serialize_entry("shipping_zone_name", &sa.shipping_zone_name)?;
        m.serialize_entry(
            "shipping_quotes",
            &Link {
                base: self.base,
                path: ResPath::AddressQuotes(o.id, sa.id),
            },
        )?;
        m.serialize_entry("form_fields", &a.form_fields)?;
        m.end()
    }
}

fn address_items(o: &Order, address_id: i64) -> (i64, i64) {
    o.lines
        .iter()
        .filter(|l| l.order_address_id == address_id)
        .fold((0, 0), |(t, s), l| (t + l.quantity, s + l.quantity_shipped))
}

/// The lines of one consignment: links, or whole lines with `consignments.line_items`.
struct ConsignmentLines<'a> {
    order: &'a Order,
    ctx: &'a RenderCtx,
    /// `Some(address id)` for a shipping consignment, `None` for the pickup.
    address_id: Option<i64>,
}

impl Serialize for ConsignmentLines<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let o = self.order;
        let want = self.address_id.unwrap_or(0);
        let mut seq = s.serialize_seq(None)?;
        for l in o.lines.iter().filter(|l| l.order_address_id == want) {
            if self.ctx.line_items {
                seq.serialize_element(&LineView {
                    order_id: o.id,
                    line: l,
                })?;
            } else {
                seq.serialize_element(&Link {
                    base: &self.ctx.base,
                    path: ResPath::Line(o.id, l.id),
                })?;
            }
        }
        seq.end()
    }
}

/// A shipping consignment: the shipping address with its lines embedded.
struct ShippingConsignmentView<'a> {
    order: &'a Order,
    address: &'a ShippingAddress,
    ctx: &'a RenderCtx,
}

impl Serialize for ShippingConsignmentView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (o, sa) = (self.order, self.address);
        let a = &sa.address;
        let (items_total, items_shipped) = address_items(o, sa.id);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &sa.id)?;
        address_fields(&mut m, a)?;
        m.serialize_entry("form_fields", &a.form_fields)?;
        m.serialize_entry("shipping_method", &sa.shipping_method)?;
        m.serialize_entry(
            "line_items",
            &ConsignmentLines {
                order: o,
                ctx: self.ctx,
                address_id: Some(sa.id),
            },
        )?;
        m.serialize_entry("items_total", &items_total)?;
        m.serialize_entry("items_shipped", &items_shipped)?;
        m.serialize_entry("base_cost", &sa.cost_inc_tax.as_f64())?;
        m.serialize_entry("cost_ex_tax", &sa.cost_ex_tax.as_f64())?;
        m.serialize_entry("cost_inc_tax", &sa.cost_inc_tax.as_f64())?;
        m.serialize_entry("cost_tax", &(sa.cost_inc_tax - sa.cost_ex_tax).as_f64())?;
        m.serialize_entry("cost_tax_class_id", &sa.cost_tax_class_id)?;
        m.serialize_entry("base_handling_cost", &sa.handling_cost_inc_tax.as_f64())?;
        m.serialize_entry("handling_cost_ex_tax", &sa.handling_cost_ex_tax.as_f64())?;
        m.serialize_entry("handling_cost_inc_tax", &sa.handling_cost_inc_tax.as_f64())?;
        m.serialize_entry(
            "handling_cost_tax",
            &(sa.handling_cost_inc_tax - sa.handling_cost_ex_tax).as_f64(),
        )?;
        m.serialize_entry("handling_cost_tax_class_id", &sa.handling_cost_tax_class_id)?;
        m.serialize_entry("shipping_zone_id", &sa.shipping_zone_id)?;
        m.serialize_entry("shipping_zone_name", &sa.shipping_zone_name)?;
        m.serialize_entry(
            "shipping_quotes",
            &Link {
                base: &self.ctx.base,
                path: ResPath::ConsignmentQuotes(o.id, sa.id),
            },
        )?;
        m.end()
    }
}

struct PickupView<'a> {
    order: &'a Order,
    pickup: &'a Pickup,
    ctx: &'a RenderCtx,
}

impl Serialize for PickupView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.pickup;
        let mut m = s.serialize_map(Some(7))?;
        m.serialize_entry("id", &p.id)?;
        m.serialize_entry("pickup_method_id", &p.pickup_method_id)?;
        m.serialize_entry("pickup_method_display_name", &p.display_name)?;
        m.serialize_entry("collection_instructions", &p.collection_instructions)?;
        m.serialize_entry(
            "collection_time_description",
            &p.collection_time_description,
        )?;
        m.serialize_entry("location", &p.location)?;
        m.serialize_entry(
            "line_items",
            &ConsignmentLines {
                order: self.order,
                ctx: self.ctx,
                address_id: None,
            },
        )?;
        m.end()
    }
}

/// `{pickups, shipping, downloads, email}` (the `object` structure, and the body of
/// `/orders/{id}/consignments`).
pub struct ConsignmentsView<'a> {
    pub order: &'a Order,
    pub ctx: &'a RenderCtx,
}

impl Serialize for ConsignmentsView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let o = self.order;
        let pickups: Vec<PickupView<'_>> = o
            .pickup
            .iter()
            .map(|p| PickupView {
                order: o,
                pickup: p,
                ctx: self.ctx,
            })
            .collect();
        let shipping: Vec<ShippingConsignmentView<'_>> = o
            .shipping_addresses
            .iter()
            .map(|a| ShippingConsignmentView {
                order: o,
                address: a,
                ctx: self.ctx,
            })
            .collect();
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("pickups", &pickups)?;
        m.serialize_entry("shipping", &shipping)?;
        m.serialize_entry("downloads", &[(); 0])?;
        m.serialize_entry("email", &json!({ "gift_certificates": [] }))?;
        m.end()
    }
}

/// The `fees` array.
pub struct FeesView<'a>(pub &'a Order);

impl Serialize for FeesView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.fees.iter().map(FeeView))
    }
}

struct FeeView<'a>(&'a Fee);

impl Serialize for FeeView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self.0;
        let mut m = s.serialize_map(Some(10))?;
        m.serialize_entry("id", &f.id)?;
        m.serialize_entry("type", "custom_fee")?;
        m.serialize_entry("display_name_customer", &f.display_name_customer)?;
        m.serialize_entry("display_name_merchant", &f.display_name_merchant)?;
        m.serialize_entry("source", &f.source)?;
        m.serialize_entry("base_cost", &f.cost_ex_tax)?;
        m.serialize_entry("cost_ex_tax", &f.cost_ex_tax)?;
        m.serialize_entry("cost_inc_tax", &f.cost_inc_tax)?;
        m.serialize_entry("cost_tax", &(f.cost_inc_tax - f.cost_ex_tax))?;
        m.serialize_entry("tax_class_id", &f.tax_class_id)?;
        m.end()
    }
}

/// `/orders/{id}/coupons` entry: `amount` and `discount` are numbers, `type` an integer
/// (docs/api-notes.md §6.1).
pub fn order_coupon(order_id: i64, c: &OrderCoupon) -> Value {
    json!({
        "id": c.id,
        "coupon_id": c.coupon_id,
        "order_id": order_id,
        "code": c.code,
        "amount": c.amount.as_f64(),
        "type": c.coupon_type,
        "discount": c.discount.as_f64(),
    })
}

/// `/orders/{id}/shipments/{id}`.
pub fn shipment(o: &Order, sh: &Shipment) -> Value {
    let shipping_address = o.shipping_address(sh.order_address_id).map(|a| &a.address);
    let provider_name = match sh.shipping_provider.as_ref() {
        "usps" => "USPS",
        "ups" | "upsready" | "upsonline" => "UPS",
        "fedex" => "FedEx",
        "auspost" => "Australia Post",
        "canadapost" => "Canada Post",
        "royalmail" => "Royal Mail",
        "" => "",
        other => other,
    };
    let generated = if sh.tracking_number.is_empty() || !sh.tracking_link.is_empty() {
        String::new()
    } else {
        format!("https://track.aftership.com/{}", sh.tracking_number)
    };
    json!({
        "id": sh.id,
        "order_id": o.id,
        "customer_id": o.customer_id,
        "order_address_id": sh.order_address_id,
        "date_created": crate::dates::rfc2822(sh.date_created),
        "tracking_number": sh.tracking_number,
        "merchant_shipping_cost": sh.merchant_shipping_cost,
        "shipping_method": sh.shipping_method,
        "comments": sh.comments,
        "shipping_provider": sh.shipping_provider,
        "tracking_carrier": sh.tracking_carrier,
        "tracking_link": sh.tracking_link,
        "billing_address": PlainAddressView(&o.billing_address),
        "shipping_address": shipping_address.map(PlainAddressView),
        "items": sh.items.iter().map(|i| json!({
            "order_product_id": i.order_product_id,
            "product_id": i.product_id,
            "quantity": i.quantity,
        })).collect::<Vec<_>>(),
        "shipping_provider_display_name": provider_name,
        "generated_tracking_link": generated,
    })
}

/// A V3 transaction: `order_id` is a **string** and `amount` a number (docs/api-notes.md §6.6).
pub fn transaction(order_id: i64, t: &Transaction) -> Value {
    let credit_card = t.card.as_ref().map(|c| {
        json!({
            "card_type": c.card_type,
            "card_iin": c.iin,
            "card_last4": c.last4,
            "card_expiry_month": c.expiry_month,
            "card_expiry_year": c.expiry_year,
        })
    });
    let (avs, cvv) = if t.card.is_some() {
        (
            json!({ "code": "Y", "message": "Street address and 5-digit postal code match.", "street_match": "Y", "postal_match": "Y" }),
            json!({ "code": "M", "message": "CVV matches" }),
        )
    } else {
        (Value::Null, Value::Null)
    };
    let offline = (t.method == "offline").then(|| json!({ "display_name": "Bank Deposit" }));
    let custom = (t.method == "custom").then(|| json!({ "payment_method": "Manual" }));
    json!({
        "id": t.id,
        "order_id": order_id.to_string(),
        "event": t.event,
        "method": t.method,
        "amount": t.amount.v3_number(),
        "currency": t.currency,
        "gateway": t.gateway,
        "gateway_transaction_id": t.gateway_transaction_id,
        "date_created": crate::dates::iso(t.date_created),
        "test": t.test,
        "status": t.status,
        "fraud_review": t.fraud_review,
        "reference_transaction_id": t.reference_transaction_id,
        "offline": offline,
        "custom": custom,
        "payment_method_id": t.gateway,
        "payment_instrument_token": Value::Null,
        "avs_result": avs,
        "cvv_result": cvv,
        "credit_card": credit_card,
        "gift_certificate": Value::Null,
        "store_credit": Value::Null,
    })
}

/// A V3 refund (amounts are numbers; `order_id` an integer here, as the spec shows).
pub fn refund(r: &Refund) -> Value {
    json!({
        "id": r.id,
        "order_id": r.order_id,
        "user_id": 0,
        "created": crate::dates::iso(r.created),
        "reason": r.reason,
        "total_amount": r.total_amount.v3_number(),
        "total_tax": r.total_tax.v3_number(),
        "uses_merchant_override_values": r.uses_merchant_override_values,
        "items": r.items.iter().map(|i| json!({
            "item_type": i.item_type,
            "item_id": i.item_id,
            "quantity": i.quantity,
            "requested_amount": i.requested_amount.map(|a| format!("{:.2}", a.v3_number())),
            "reason": i.reason,
        })).collect::<Vec<_>>(),
        "payments": r.payments.iter().map(|p| json!({
            "id": p.id,
            "provider_id": p.provider_id,
            "amount": p.amount.v3_number(),
            "offline": p.offline,
            "is_declined": false,
            "declined_message": "",
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn fast_rfc2822_matches_the_shared_formatter() {
        let start = Utc
            .with_ymd_and_hms(1999, 12, 31, 23, 59, 59)
            .single()
            .unwrap_or_default();
        for step in 0..5_000i64 {
            let d = start + chrono::Duration::seconds(step * 7_919 * 61);
            let got = serde_json::to_value(Rfc2822(d)).unwrap_or_default();
            assert_eq!(got, Value::String(crate::dates::rfc2822(d)), "{d}");
        }
    }
}
