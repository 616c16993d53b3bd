//! Order records as typed structs (never `serde_json` maps), so that seeding 100k orders
//! with their lines takes seconds and a 250-order page renders in about a millisecond.
//!
//! Money is fixed-point ([`Money`], ten-thousandths) because V2 shows 4-decimal strings
//! (docs/api-notes.md §6.5) and totals must add up exactly; floats would drift.

use std::borrow::Cow;
use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use serde_json::Value;

/// Text that is usually one of a few constants (countries, payment methods) and only
/// sometimes written by a client: borrowing the constants saves millions of allocations
/// when seeding large stores.
pub type Text = Cow<'static, str>;

/// An amount in ten-thousandths of the currency unit: `Money(540_000)` is `"54.0000"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(pub i64);

impl Money {
    pub const ZERO: Money = Money(0);
    const SCALE: i64 = 10_000;

    pub fn from_cents(cents: i64) -> Self {
        Money(cents.saturating_mul(100))
    }

    /// The value as a float, for V3 bodies where amounts are numbers (docs/api-notes.md §11.8),
    /// rounded to cents as payment amounts are.
    pub fn v3_number(self) -> f64 {
        self.round_cents().0 as f64 / Self::SCALE as f64
    }

    /// The value as a float with all 4 decimals (V2 fields that the spec shows as numbers).
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / Self::SCALE as f64
    }

    pub fn times(self, quantity: i64) -> Money {
        Money(self.0.saturating_mul(quantity))
    }

    /// `self * percent / 100`, rounded half away from zero to the 4th decimal.
    pub fn percent(self, percent: Money) -> Money {
        let num = i128::from(self.0) * i128::from(percent.0);
        let den = i128::from(Self::SCALE) * 100;
        let rounded = (num + num.signum() * den / 2) / den;
        Money(i64::try_from(rounded).unwrap_or(i64::MAX))
    }

    /// Rounded half away from zero to whole cents.
    pub fn round_cents(self) -> Money {
        let half = 50 * self.0.signum();
        Money((self.0 + half) / 100 * 100)
    }

    pub fn max_zero(self) -> Money {
        Money(self.0.max(0))
    }

    /// Parses a decimal string exactly (`"12.5"`, `"-3"`, `"54.0000"`); more than 4
    /// decimals are rounded. Falls back to float syntax (`"1e2"`) for odd but valid input.
    pub fn parse(s: &str) -> Option<Money> {
        let s = s.trim();
        let (neg, digits) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (int_part.is_empty() && frac_part.is_empty())
            || !all_digits(int_part)
            || !all_digits(frac_part)
        {
            return s
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Money::from_f64);
        }
        let int: i64 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().ok()?
        };
        let mut frac: i64 = 0;
        for (i, b) in frac_part.bytes().enumerate() {
            let d = i64::from(b - b'0');
            match i {
                0..=3 => frac = frac * 10 + d,
                // Round half up on the fifth decimal; later ones don't matter.
                4 if d >= 5 => frac += 1,
                _ => {}
            }
        }
        for _ in frac_part.len()..4 {
            frac *= 10;
        }
        let v = int.checked_mul(Self::SCALE)?.checked_add(frac)?;
        Some(Money(if neg { -v } else { v }))
    }

    pub fn from_f64(f: f64) -> Money {
        Money((f * Self::SCALE as f64).round() as i64)
    }

    /// A JSON number or numeric string ("Float, Float-As-String, Integer" in the spec).
    pub fn from_json(v: &Value) -> Option<Money> {
        match v {
            Value::Number(n) => match n.as_i64() {
                Some(i) => i.checked_mul(Self::SCALE).map(Money),
                None => n.as_f64().map(Money::from_f64),
            },
            Value::String(s) => Money::parse(s),
            _ => None,
        }
    }
}

impl Money {
    /// Writes the 4-decimal form (`"-12.3400"`) into `buf` without going through
    /// `core::fmt`: order pages carry ~80 money fields per order.
    pub fn write_to(self, buf: &mut [u8; 24]) -> &str {
        let mut n = self.0.unsigned_abs();
        let mut i = buf.len();
        for _ in 0..4 {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        i -= 1;
        buf[i] = b'.';
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if self.0 < 0 {
            i -= 1;
            buf[i] = b'-';
        }
        std::str::from_utf8(&buf[i..]).unwrap_or("0.0000")
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.write_to(&mut [0; 24]))
    }
}

/// V2 money is a 4-decimal string (docs/api-notes.md §6.5).
impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.write_to(&mut [0; 24]))
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0.saturating_add(rhs.0))
    }
}
impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0.saturating_sub(rhs.0))
    }
}
impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        *self = *self + rhs;
    }
}
impl SubAssign for Money {
    fn sub_assign(&mut self, rhs: Money) {
        *self = *self - rhs;
    }
}
impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

/// One of the 15 fixed order statuses (docs/api-notes.md §6.3).
#[derive(Debug, Clone, Copy)]
pub struct OrderStatus {
    pub id: u8,
    pub name: &'static str,
    pub description: &'static str,
    /// Position in the control panel's list (`order` / `sort_order`).
    pub sort_order: u8,
}

const fn st(id: u8, name: &'static str, description: &'static str, sort_order: u8) -> OrderStatus {
    OrderStatus {
        id,
        name,
        description,
        sort_order,
    }
}

/// Indexed by status id.
pub const STATUSES: [OrderStatus; 15] = [
    st(
        0,
        "Incomplete",
        "An incomplete order happens when a shopper reached the payment page, but did not complete the transaction.",
        0,
    ),
    st(
        1,
        "Pending",
        "Customer started the checkout process, but did not complete it.",
        1,
    ),
    st(
        2,
        "Shipped",
        "Order has been shipped, but receipt has not been confirmed; seller has used the Ship Items action.",
        8,
    ),
    st(
        3,
        "Partially Shipped",
        "Only some items in the order have been shipped, due to some products being pre-order only or other reasons.",
        6,
    ),
    st(4, "Refunded", "Seller has used the Refund action.", 11),
    st(
        5,
        "Cancelled",
        "Seller has cancelled an order, due to a stock inconsistency or other reasons.",
        9,
    ),
    st(
        6,
        "Declined",
        "Seller has marked the order as declined for lack of manual payment, or other reasons.",
        10,
    ),
    st(
        7,
        "Awaiting Payment",
        "Customer has completed checkout process, but payment has yet to be confirmed.",
        2,
    ),
    st(
        8,
        "Awaiting Pickup",
        "Order has been pulled, and is awaiting customer pickup from a seller-specified location.",
        5,
    ),
    st(
        9,
        "Awaiting Shipment",
        "Order has been pulled and packaged, and is awaiting collection from a shipping provider.",
        4,
    ),
    st(
        10,
        "Completed",
        "Client has paid for their digital product and their file(s) are available for download.",
        7,
    ),
    st(
        11,
        "Awaiting Fulfillment",
        "Customer has completed the checkout process and payment has been confirmed.",
        3,
    ),
    st(
        12,
        "Manual Verification Required",
        "Order is on hold while some aspect needs to be manually confirmed.",
        13,
    ),
    st(
        13,
        "Disputed",
        "Customer has initiated a dispute resolution process for the PayPal transaction that paid for the order.",
        12,
    ),
    st(
        14,
        "Partially Refunded",
        "Seller has partially refunded the order.",
        14,
    ),
];

pub const STATUS_SHIPPED: u8 = 2;
pub const STATUS_PARTIALLY_SHIPPED: u8 = 3;
pub const STATUS_REFUNDED: u8 = 4;
pub const STATUS_PARTIALLY_REFUNDED: u8 = 14;
/// What an order created without `status_id` gets (docs/api-notes.md §6.3).
pub const STATUS_PENDING: u8 = 1;

pub fn status(id: i64) -> Option<&'static OrderStatus> {
    usize::try_from(id).ok().and_then(|i| STATUSES.get(i))
}

/// A postal address as orders carry it (billing address, shipping address, shipment copy).
#[derive(Debug, Clone, Default)]
pub struct Address {
    pub first_name: Text,
    pub last_name: Text,
    pub company: Text,
    pub street_1: Text,
    pub street_2: Text,
    pub city: Text,
    pub state: Text,
    pub zip: Text,
    pub country: Text,
    pub country_iso2: Text,
    pub phone: Text,
    pub email: Text,
    /// `{name, value}` objects; kept as given.
    pub form_fields: Vec<Value>,
}

/// An order shipping address (V2 `order_address`), which is also a shipping consignment.
#[derive(Debug, Clone, Default)]
pub struct ShippingAddress {
    pub id: i64,
    pub address: Address,
    pub shipping_method: Text,
    pub cost_ex_tax: Money,
    pub cost_inc_tax: Money,
    pub cost_tax_class_id: i64,
    pub handling_cost_ex_tax: Money,
    pub handling_cost_inc_tax: Money,
    pub handling_cost_tax_class_id: i64,
    pub shipping_zone_id: i64,
    pub shipping_zone_name: Text,
}

/// A chosen option on an order line (`product_options[]`).
#[derive(Debug, Clone)]
pub struct LineOption {
    pub id: i64,
    pub product_option_id: i64,
    pub display_name: Text,
    pub display_value: Text,
    pub value: Text,
    pub option_type: Text,
}

/// A discount applied to a line (`applied_discounts[]`).
#[derive(Debug, Clone)]
pub struct AppliedDiscount {
    pub id: Text,
    pub amount: Money,
    pub name: Text,
    pub code: Option<Text>,
    pub target: &'static str,
}

/// An order product line (V2 `/orders/{id}/products`).
#[derive(Debug, Clone)]
pub struct Line {
    pub id: i64,
    /// 0 for a custom product.
    pub product_id: i64,
    /// Absent for custom products (docs/api-notes.md §6.5).
    pub variant_id: Option<i64>,
    /// The shipping address (consignment) the line ships to; 0 for pickup lines.
    pub order_address_id: i64,
    pub name: Text,
    /// `None` while it equals `name` (the usual case; saves a copy per line).
    pub name_merchant: Option<Text>,
    pub sku: Text,
    pub upc: Text,
    pub kind: &'static str,
    pub base_price: Money,
    pub price_ex_tax: Money,
    pub price_inc_tax: Money,
    pub quantity: i64,
    pub weight: Money,
    pub base_cost_price: Money,
    pub quantity_shipped: i64,
    pub quantity_refunded: i64,
    pub brand: Text,
    pub product_options: Vec<LineOption>,
    pub applied_discounts: Vec<AppliedDiscount>,
}

impl Line {
    pub fn total_ex_tax(&self) -> Money {
        self.price_ex_tax.times(self.quantity)
    }
    pub fn total_inc_tax(&self) -> Money {
        self.price_inc_tax.times(self.quantity)
    }
    pub fn discount_total(&self) -> Money {
        self.applied_discounts.iter().map(|d| d.amount).sum()
    }
}

/// A coupon redeemed on an order (`/orders/{id}/coupons`).
#[derive(Debug, Clone)]
pub struct OrderCoupon {
    pub id: i64,
    pub coupon_id: i64,
    pub code: Text,
    pub amount: Money,
    /// 0 per_item_discount .. 5 promotion (docs/api-notes.md §6.1).
    pub coupon_type: u8,
    pub discount: Money,
}

#[derive(Debug, Clone)]
pub struct ShipmentItem {
    pub order_product_id: i64,
    pub product_id: i64,
    pub quantity: i64,
}

#[derive(Debug, Clone)]
pub struct Shipment {
    pub id: i64,
    pub order_address_id: i64,
    pub date_created: DateTime<Utc>,
    pub tracking_number: Text,
    pub merchant_shipping_cost: Money,
    pub shipping_method: Text,
    pub shipping_provider: Text,
    pub tracking_carrier: Text,
    pub tracking_link: Text,
    pub comments: Text,
    pub items: Vec<ShipmentItem>,
}

/// An order-level fee (`/orders/{id}/fees`).
#[derive(Debug, Clone)]
pub struct Fee {
    pub id: i64,
    pub display_name_customer: Text,
    pub display_name_merchant: Text,
    pub source: Text,
    pub cost_ex_tax: Money,
    pub cost_inc_tax: Money,
    pub tax_class_id: Option<i64>,
}

/// A pickup consignment (consignment-mode orders, docs/api-notes.md §6.4); its lines have
/// `order_address_id` 0.
#[derive(Debug, Clone)]
pub struct Pickup {
    pub id: i64,
    pub pickup_method_id: i64,
    pub display_name: Text,
    pub collection_instructions: Text,
    pub collection_time_description: Text,
    pub location: Value,
}

#[derive(Debug, Clone)]
pub struct Card {
    pub card_type: &'static str,
    pub iin: Text,
    pub last4: Text,
    pub expiry_month: u32,
    pub expiry_year: i32,
}

/// A V3 payment transaction (docs/api-notes.md §6.6).
#[derive(Debug, Clone)]
pub struct Transaction {
    pub id: i64,
    pub event: &'static str,
    pub method: &'static str,
    pub amount: Money,
    pub currency: Text,
    pub gateway: &'static str,
    pub gateway_transaction_id: Text,
    pub date_created: DateTime<Utc>,
    pub test: bool,
    pub status: &'static str,
    pub fraud_review: bool,
    pub reference_transaction_id: Option<i64>,
    pub card: Option<Card>,
}

#[derive(Debug, Clone)]
pub struct RefundItem {
    pub item_type: Text,
    pub item_id: i64,
    pub quantity: Option<i64>,
    pub requested_amount: Option<Money>,
    pub reason: Text,
}

#[derive(Debug, Clone)]
pub struct RefundPayment {
    pub id: i64,
    pub provider_id: Text,
    pub amount: Money,
    pub offline: bool,
}

/// A V3 refund (`/v3/orders/payment_actions/refunds`).
#[derive(Debug, Clone)]
pub struct Refund {
    pub id: i64,
    pub order_id: i64,
    pub created: DateTime<Utc>,
    pub reason: Text,
    pub total_amount: Money,
    pub total_tax: Money,
    pub uses_merchant_override_values: bool,
    pub items: Vec<RefundItem>,
    pub payments: Vec<RefundPayment>,
    /// The `refund` transaction recorded with it (the `transaction_id` filter).
    pub transaction_id: i64,
}

/// One V2 order with everything hanging off it.
#[derive(Debug, Clone)]
pub struct Order {
    pub id: i64,
    pub customer_id: i64,
    pub date_created: DateTime<Utc>,
    pub date_modified: DateTime<Utc>,
    pub date_shipped: Option<DateTime<Utc>>,
    pub status_id: u8,
    pub subtotal_ex_tax: Money,
    pub subtotal_inc_tax: Money,
    pub shipping_cost_ex_tax: Money,
    pub shipping_cost_inc_tax: Money,
    pub handling_cost_ex_tax: Money,
    pub handling_cost_inc_tax: Money,
    pub wrapping_cost_ex_tax: Money,
    pub wrapping_cost_inc_tax: Money,
    pub total_ex_tax: Money,
    pub total_inc_tax: Money,
    pub payment_method: Text,
    pub payment_provider_id: Text,
    pub payment_status: &'static str,
    pub refunded_amount: Money,
    pub order_is_digital: bool,
    pub store_credit_amount: Money,
    pub gift_certificate_amount: Money,
    pub ip_address: Text,
    pub ip_address_v6: Text,
    pub geoip_country: Text,
    pub geoip_country_iso2: Text,
    pub currency_code: Text,
    pub staff_notes: Text,
    pub customer_message: Text,
    pub discount_amount: Money,
    pub coupon_discount: Money,
    pub is_deleted: bool,
    pub ebay_order_id: Text,
    pub cart_id: Text,
    pub billing_address: Address,
    pub is_email_opt_in: bool,
    pub order_source: Text,
    pub channel_id: i64,
    pub external_source: Option<Text>,
    pub external_order_id: Text,
    pub external_merchant_id: Option<Text>,
    pub customer_locale: Text,
    pub lines: Vec<Line>,
    pub shipping_addresses: Vec<ShippingAddress>,
    /// Boxed: only pickup orders have one.
    pub pickup: Option<Box<Pickup>>,
    pub coupons: Vec<OrderCoupon>,
    pub shipments: Vec<Shipment>,
    pub fees: Vec<Fee>,
    pub transactions: Vec<Transaction>,
}

impl Order {
    /// An empty order with the defaults of one created through the API.
    pub fn new(id: i64, now: DateTime<Utc>) -> Self {
        Order {
            id,
            customer_id: 0,
            date_created: now,
            date_modified: now,
            date_shipped: None,
            status_id: STATUS_PENDING,
            subtotal_ex_tax: Money::ZERO,
            subtotal_inc_tax: Money::ZERO,
            shipping_cost_ex_tax: Money::ZERO,
            shipping_cost_inc_tax: Money::ZERO,
            handling_cost_ex_tax: Money::ZERO,
            handling_cost_inc_tax: Money::ZERO,
            wrapping_cost_ex_tax: Money::ZERO,
            wrapping_cost_inc_tax: Money::ZERO,
            total_ex_tax: Money::ZERO,
            total_inc_tax: Money::ZERO,
            payment_method: Cow::Borrowed("Manual"),
            payment_provider_id: Cow::Borrowed(""),
            payment_status: "",
            refunded_amount: Money::ZERO,
            order_is_digital: false,
            store_credit_amount: Money::ZERO,
            gift_certificate_amount: Money::ZERO,
            ip_address: Cow::Borrowed(""),
            ip_address_v6: Cow::Borrowed(""),
            geoip_country: Cow::Borrowed(""),
            geoip_country_iso2: Cow::Borrowed(""),
            currency_code: Cow::Borrowed("USD"),
            staff_notes: Cow::Borrowed(""),
            customer_message: Cow::Borrowed(""),
            discount_amount: Money::ZERO,
            coupon_discount: Money::ZERO,
            is_deleted: false,
            ebay_order_id: Cow::Borrowed("0"),
            cart_id: Cow::Borrowed(""),
            billing_address: Address::default(),
            is_email_opt_in: false,
            order_source: Cow::Borrowed("external"),
            channel_id: 1,
            external_source: None,
            external_order_id: Cow::Borrowed(""),
            external_merchant_id: None,
            customer_locale: Cow::Borrowed("en"),
            lines: Vec::new(),
            shipping_addresses: Vec::new(),
            pickup: None,
            coupons: Vec::new(),
            shipments: Vec::new(),
            fees: Vec::new(),
            transactions: Vec::new(),
        }
    }

    pub fn status(&self) -> &'static OrderStatus {
        &STATUSES[usize::from(self.status_id).min(STATUSES.len() - 1)]
    }

    pub fn items_total(&self) -> i64 {
        self.lines.iter().map(|l| l.quantity).sum()
    }

    pub fn items_shipped(&self) -> i64 {
        self.lines.iter().map(|l| l.quantity_shipped).sum()
    }

    pub fn line(&self, id: i64) -> Option<&Line> {
        self.lines.iter().find(|l| l.id == id)
    }

    pub fn shipping_address(&self, id: i64) -> Option<&ShippingAddress> {
        self.shipping_addresses.iter().find(|a| a.id == id)
    }

    /// What a refund may still return to the shopper.
    pub fn refundable(&self) -> Money {
        (self.total_inc_tax - self.refunded_amount).max_zero()
    }

    /// Recomputes subtotals and totals from the lines, costs, fees and discounts: what the
    /// real API does when lines change (explicit overrides in the same request are applied
    /// afterwards by the caller).
    pub fn recompute_totals(&mut self) {
        self.subtotal_ex_tax = self.lines.iter().map(Line::total_ex_tax).sum();
        self.subtotal_inc_tax = self.lines.iter().map(Line::total_inc_tax).sum();
        self.coupon_discount = self
            .lines
            .iter()
            .flat_map(|l| l.applied_discounts.iter())
            .filter(|d| d.code.is_some())
            .map(|d| d.amount)
            .sum();
        self.recompute_grand_totals();
    }

    /// Totals from the (possibly overridden) subtotal and costs.
    pub fn recompute_grand_totals(&mut self) {
        let fees_ex: Money = self.fees.iter().map(|f| f.cost_ex_tax).sum();
        let fees_inc: Money = self.fees.iter().map(|f| f.cost_inc_tax).sum();
        let discounts = self.discount_amount + self.coupon_discount;
        self.total_ex_tax = (self.subtotal_ex_tax
            + self.shipping_cost_ex_tax
            + self.handling_cost_ex_tax
            + self.wrapping_cost_ex_tax
            + fees_ex
            - discounts)
            .max_zero();
        self.total_inc_tax = (self.subtotal_inc_tax
            + self.shipping_cost_inc_tax
            + self.handling_cost_inc_tax
            + self.wrapping_cost_inc_tax
            + fees_inc
            - discounts)
            .max_zero();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_formats_and_parses_exactly() {
        assert_eq!(
            Money::parse("54").map(|m| m.to_string()),
            Some("54.0000".into())
        );
        assert_eq!(
            Money::parse("12.5").map(|m| m.to_string()),
            Some("12.5000".into())
        );
        assert_eq!(
            Money::parse("-0.25").map(|m| m.to_string()),
            Some("-0.2500".into())
        );
        assert_eq!(
            Money::parse("1.23456").map(|m| m.to_string()),
            Some("1.2346".into())
        );
        assert_eq!(Money::parse(".5"), Some(Money(5000)));
        assert_eq!(Money::parse("1e2"), Some(Money(1_000_000)));
        assert_eq!(Money::parse("abc"), None);
        assert_eq!(Money::parse(""), None);
        assert_eq!(
            Money::from_json(&serde_json::json!(10.98)),
            Some(Money(109_800))
        );
        assert_eq!(
            Money::from_json(&serde_json::json!(45)),
            Some(Money(450_000))
        );
        assert_eq!(
            Money::from_json(&serde_json::json!("45.00")),
            Some(Money(450_000))
        );
    }

    #[test]
    fn money_writes_every_magnitude() {
        for (v, want) in [
            (0, "0.0000"),
            (5, "0.0005"),
            (-5, "-0.0005"),
            (540_000, "54.0000"),
            (-123_456_789, "-12345.6789"),
        ] {
            assert_eq!(Money(v).to_string(), want);
        }
        assert_eq!(Money(i64::MIN).to_string(), "-922337203685477.5808");
        assert_eq!(
            serde_json::to_string(&Money(10)).ok().as_deref(),
            Some("\"0.0010\"")
        );
    }

    #[test]
    fn money_rounding() {
        assert_eq!(Money(123_456).round_cents(), Money(123_500));
        assert_eq!(Money(-123_456).round_cents(), Money(-123_500));
        assert_eq!(
            Money::parse("90").map(|m| m.percent(Money(30_000))),
            Some(Money(27_000))
        );
        assert!((Money(698_400).v3_number() - 69.84).abs() < 1e-9);
    }

    #[test]
    fn statuses_are_indexed_by_id() {
        for (i, s) in STATUSES.iter().enumerate() {
            assert_eq!(usize::from(s.id), i);
        }
        assert_eq!(status(11).map(|s| s.name), Some("Awaiting Fulfillment"));
        assert!(status(15).is_none());
        assert!(status(-1).is_none());
    }
}
