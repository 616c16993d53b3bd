//! Deterministic order history: `spec.orders` orders with `spec.lines_per_order` lines,
//! created over `spec.history_days` (ids follow creation time, as in a real store), across
//! all 15 statuses, with consistent totals, one shipping address each, coupons, payment
//! transactions for paid orders, refunds for refunded ones, shipments for shipped ones,
//! groups of orders sharing a `date_modified` second (to catch bookmark bugs), and a few
//! archived orders.
//!
//! Lines point at catalog products (with a variant when the product has variants) and
//! orders at customers, on the customer's origin channel (guest orders on channel 1); with an empty catalog lines are custom products, and with no
//! customers every order is a guest order.

use std::borrow::Cow;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::rngs::SmallRng;

use super::model::{
    Address, AppliedDiscount, Card, Line, Money, Order, OrderCoupon, Refund, RefundItem,
    RefundPayment, Shipment, ShipmentItem, ShippingAddress, Text, Transaction,
};
use crate::resources::catalog::ProductRef;
use crate::resources::coupons::Coupon;
use crate::resources::customers::CustomerRef;
use crate::seed::SeedSpec;
use crate::state::StoreData;

const FIRST_NAMES: [&str; 16] = [
    "Jane", "John", "Maria", "Wei", "Aisha", "Lucas", "Emma", "Noah", "Olivia", "Liam", "Sofia",
    "Mateo", "Chloe", "Arjun", "Hannah", "Diego",
];
const LAST_NAMES: [&str; 16] = [
    "Doe", "Smith", "Garcia", "Chen", "Khan", "Silva", "Brown", "Martin", "Nguyen", "Murphy",
    "Rossi", "Kowalski", "Dubois", "Patel", "Schmidt", "Lopez",
];
const STREETS: [&str; 8] = [
    "Main Street",
    "Sussex St",
    "Oak Avenue",
    "Maple Drive",
    "High Street",
    "Elm Road",
    "Congress Ave",
    "Queen Street",
];
/// (city, state, zip, country, iso2, tax rate in hundredths of a percent).
const PLACES: [(&str, &str, &str, &str, &str, i64); 8] = [
    ("Austin", "Texas", "78751", "United States", "US", 825),
    ("San Antonio", "Texas", "78251", "United States", "US", 825),
    ("Portland", "Oregon", "97201", "United States", "US", 0),
    ("New York", "New York", "10001", "United States", "US", 888),
    (
        "Seattle",
        "Washington",
        "98101",
        "United States",
        "US",
        1025,
    ),
    ("Sydney", "New South Wales", "2000", "Australia", "AU", 1000),
    (
        "London",
        "Greater London",
        "EC1A 1BB",
        "United Kingdom",
        "GB",
        2000,
    ),
    ("Toronto", "Ontario", "M5H 2N2", "Canada", "CA", 1300),
];
const CUSTOM_PRODUCTS: [(&str, &str, i64); 6] = [
    ("BigCommerce Poster", "POSTER-1", 1_000),
    ("BigCommerce Coffee Mug", "MUG-GRY", 4_500),
    ("Gift Wrap Service", "WRAP-1", 500),
    ("Engraved Journal", "JOUR-BLK", 4_157),
    ("Canvas Tote", "TOTE-NAT", 2_200),
    ("Ceramic Planter", "PLNT-WHT", 3_495),
];
const MESSAGES: [&str; 3] = [
    "Please leave at the back door.",
    "Gift - no invoice please.",
    "Call before delivery.",
];

/// How an order was paid: display name, gateway, transaction method, card or not.
struct PaymentKind {
    name: &'static str,
    gateway: &'static str,
    method: &'static str,
    card: bool,
}

const PAYMENTS: [PaymentKind; 6] = [
    PaymentKind {
        name: "Credit Card",
        gateway: "braintree",
        method: "credit_card",
        card: true,
    },
    PaymentKind {
        name: "Credit Card",
        gateway: "stripe",
        method: "credit_card",
        card: true,
    },
    PaymentKind {
        name: "PayPal",
        gateway: "paypalexpress",
        method: "offsite",
        card: false,
    },
    PaymentKind {
        name: "Bank Deposit",
        gateway: "bankdeposit",
        method: "offline",
        card: false,
    },
    PaymentKind {
        name: "Cash on Delivery",
        gateway: "cod",
        method: "offline",
        card: false,
    },
    PaymentKind {
        name: "Manual",
        gateway: "custom",
        method: "custom",
        card: false,
    },
];
const CARD_TYPES: [&str; 4] = ["visa", "master", "american_express", "discover"];
const CARRIERS: [&str; 3] = ["usps", "ups", "fedex"];

/// Status weights in percent after the first 15 orders (which take statuses 0..=14 so a
/// store of 15+ orders has every status).
const STATUS_WEIGHTS: [(u8, u32); 15] = [
    (10, 30),
    (2, 15),
    (11, 15),
    (9, 5),
    (7, 5),
    (1, 5),
    (0, 4),
    (5, 4),
    (4, 4),
    (14, 3),
    (3, 3),
    (8, 2),
    (6, 2),
    (12, 2),
    (13, 1),
];

fn pick_status(rng: &mut SmallRng) -> u8 {
    let mut roll = rng.random_range(0..100u32);
    for (status, weight) in STATUS_WEIGHTS {
        if roll < weight {
            return status;
        }
        roll -= weight;
    }
    10
}

/// Every `TIE_EVERY`-th order shares its predecessor's `date_modified` second.
const TIE_EVERY: usize = 10;
/// One order in `ARCHIVE_EVERY` is archived.
const ARCHIVE_EVERY: usize = 97;

pub(super) fn seed(data: &mut StoreData, spec: &SeedSpec, rng: &mut SmallRng, now: DateTime<Utc>) {
    if spec.orders == 0 {
        return;
    }
    let customers = data.customers.customer_refs();
    let products = data.catalog.product_refs();
    let coupons: Vec<Coupon> = data.coupons.all().to_vec();
    let history = spec.history_days.max(1) * 86_400;
    // Creation times first, oldest first, so that ids follow creation order.
    let mut ages: Vec<i64> = (0..spec.orders)
        .map(|_| rng.random_range(0..history))
        .collect();
    ages.sort_unstable_by(|a, b| b.cmp(a));

    let orders = &mut data.orders;
    orders.orders.reserve(spec.orders);
    let mut coupon_uses: Vec<i64> = Vec::new();
    for (i, age) in ages.into_iter().enumerate() {
        let date_created = now - Duration::seconds(age);
        let span = age.min(14 * 86_400);
        let mut date_modified = date_created + Duration::seconds(rng.random_range(0..=span));
        if i % TIE_EVERY == TIE_EVERY / 2
            && let Some(prev) = orders.orders.last_mut()
        {
            // Same second as the previous order; move that one forward if needed
            // (never past now, never before its own creation).
            if prev.date_modified < date_created {
                prev.date_modified = date_created;
            }
            date_modified = prev.date_modified;
        }
        let status_id = if i < 15 { i as u8 } else { pick_status(rng) };
        let customer = (!customers.is_empty() && !rng.random_bool(0.15))
            .then(|| &customers[rng.random_range(0..customers.len())]);
        let ctx = OrderSeed {
            lines: spec.lines_per_order.max(1),
            products: &products,
            coupons: &coupons,
            date_created,
            date_modified,
            status_id,
            customer,
        };
        let order = build_order(orders, rng, &ctx, i, &mut coupon_uses);
        orders.push(order);
    }
    for id in coupon_uses {
        data.coupons.record_use(id);
    }
}

struct OrderSeed<'a> {
    /// Lines per order (at least one: an order needs a product).
    lines: usize,
    products: &'a [ProductRef],
    coupons: &'a [Coupon],
    date_created: DateTime<Utc>,
    date_modified: DateTime<Utc>,
    status_id: u8,
    customer: Option<&'a CustomerRef>,
}

fn build_order(
    orders: &mut super::OrdersData,
    rng: &mut SmallRng,
    s: &OrderSeed<'_>,
    index: usize,
    coupon_uses: &mut Vec<i64>,
) -> Order {
    let ids = &mut orders.ids;
    let mut o = Order::new(ids.next_order(), s.date_created);
    o.date_modified = s.date_modified;
    o.status_id = s.status_id;
    o.is_deleted = index % ARCHIVE_EVERY == ARCHIVE_EVERY / 2;

    let place = PLACES[rng.random_range(0..PLACES.len())];
    let (city, state, zip, country, iso2, tax_rate) = place;
    let (first, last, email): (Text, Text, Text) = match s.customer {
        Some(c) => {
            o.customer_id = c.id;
            // A customer of another storefront orders there (multi-storefront stores).
            o.channel_id = c.origin_channel_id;
            (
                Cow::Owned(c.first_name.clone()),
                Cow::Owned(c.last_name.clone()),
                Cow::Owned(c.email.clone()),
            )
        }
        None => {
            let f = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
            let l = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
            let email = format!(
                "{}.{}{}@example.com",
                f.to_lowercase(),
                l.to_lowercase(),
                rng.random_range(1..1000)
            );
            (Cow::Borrowed(f), Cow::Borrowed(l), Cow::Owned(email))
        }
    };
    o.billing_address = Address {
        first_name: first,
        last_name: last,
        company: Cow::Borrowed(""),
        street_1: Cow::Owned(format!(
            "{} {}",
            rng.random_range(1..999),
            STREETS[rng.random_range(0..STREETS.len())]
        )),
        street_2: Cow::Borrowed(""),
        city: Cow::Borrowed(city),
        state: Cow::Borrowed(state),
        zip: Cow::Borrowed(zip),
        country: Cow::Borrowed(country),
        country_iso2: Cow::Borrowed(iso2),
        phone: Cow::Borrowed(""),
        email,
        form_fields: Vec::new(),
    };
    o.geoip_country = Cow::Borrowed(country);
    o.geoip_country_iso2 = Cow::Borrowed(iso2);
    o.currency_code = Cow::Borrowed(match iso2 {
        "AU" => "AUD",
        "GB" => "GBP",
        "CA" => "CAD",
        _ => "USD",
    });
    o.ip_address = Cow::Owned(format!(
        "{}.{}.{}.{}",
        rng.random_range(1..224),
        rng.random_range(0..256),
        rng.random_range(0..256),
        rng.random_range(1..255)
    ));
    let roll = rng.random_range(0..100);
    if roll < 90 {
        o.order_source = Cow::Borrowed("www");
        o.cart_id = Cow::Owned(uuid(rng));
    } else if roll < 96 {
        o.order_source = Cow::Borrowed("manual");
    } else {
        o.order_source = Cow::Borrowed("external");
        o.external_source = Some(Cow::Borrowed("POS"));
        o.external_order_id = Cow::Owned(format!("POS-{:08}", rng.random_range(0..100_000_000)));
    }
    if rng.random_bool(0.1) {
        o.customer_message = Cow::Borrowed(MESSAGES[rng.random_range(0..MESSAGES.len())]);
    }

    // One shipping address, a copy of the billing address.
    let address_id = ids.next_address();
    let shipping_ex = Money::from_cents([0, 500, 999, 1_500][rng.random_range(0..4)]);
    let shipping_inc = shipping_ex
        + shipping_ex
            .percent(Money::from_cents(tax_rate))
            .round_cents();
    o.shipping_cost_ex_tax = shipping_ex;
    o.shipping_cost_inc_tax = shipping_inc;
    // Exact-size vectors: a push into an empty Vec reserves four slots, which for 100k
    // orders wastes hundreds of megabytes.
    o.shipping_addresses = vec![ShippingAddress {
        id: address_id,
        address: o.billing_address.clone(),
        shipping_method: Cow::Borrowed(if shipping_ex == Money::ZERO {
            "Free Shipping"
        } else {
            "Flat Rate"
        }),
        cost_ex_tax: shipping_ex,
        cost_inc_tax: shipping_inc,
        cost_tax_class_id: 2,
        handling_cost_ex_tax: Money::ZERO,
        handling_cost_inc_tax: Money::ZERO,
        handling_cost_tax_class_id: 2,
        shipping_zone_id: 1,
        shipping_zone_name: Cow::Borrowed(country),
    }];

    o.lines.reserve_exact(s.lines);
    for _ in 0..s.lines {
        let line = seed_line(ids.next_line(), address_id, s.products, rng, tax_rate);
        o.lines.push(line);
    }
    // Partially shipped orders need something left to ship after the first unit.
    if s.status_id == super::model::STATUS_PARTIALLY_SHIPPED
        && o.lines.len() == 1
        && let Some(l) = o.lines.first_mut()
    {
        l.quantity = l.quantity.max(2);
    }

    // A coupon on some orders, spread over the lines as applied discounts.
    if !s.coupons.is_empty() && rng.random_bool(0.12) {
        let c = &s.coupons[rng.random_range(0..s.coupons.len())];
        let subtotal: Money = o.lines.iter().map(Line::total_inc_tax).sum();
        let discount = c.discount_on(subtotal, Money::ZERO, o.items_total());
        if discount > Money::ZERO {
            spread_discount(&mut o.lines, c, discount);
            o.coupons = vec![OrderCoupon {
                id: ids.next_order_coupon(),
                coupon_id: c.id,
                code: Cow::Owned(c.code.clone()),
                amount: c.amount,
                coupon_type: c.coupon_type.order_code(),
                discount,
            }];
            coupon_uses.push(c.id);
        }
    }
    o.recompute_totals();
    pay(&mut o, ids, rng);
    ship(&mut o, ids, rng);
    refund(&mut o, orders);
    o
}

fn uuid(rng: &mut SmallRng) -> String {
    let a: u64 = rng.random();
    let b: u64 = rng.random();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

fn seed_line(
    id: i64,
    address_id: i64,
    products: &[ProductRef],
    rng: &mut SmallRng,
    tax_rate: i64,
) -> Line {
    let quantity = rng.random_range(1..=3);
    let (product_id, variant_id, name, sku, price) = if products.is_empty() {
        let (name, sku, cents) = CUSTOM_PRODUCTS[rng.random_range(0..CUSTOM_PRODUCTS.len())];
        (
            0,
            None,
            Cow::Borrowed(name),
            Cow::Borrowed(sku),
            Money::from_cents(cents),
        )
    } else {
        let p = &products[rng.random_range(0..products.len())];
        let variant = (!p.variant_ids.is_empty())
            .then(|| p.variant_ids[rng.random_range(0..p.variant_ids.len())]);
        let price = Money::from_f64(p.price).round_cents();
        let price = if price > Money::ZERO {
            price
        } else {
            Money::from_cents(1_000)
        };
        (
            p.id,
            variant,
            Cow::Owned(p.name.clone()),
            Cow::Owned(p.sku.clone()),
            price,
        )
    };
    let price_inc = price + price.percent(Money::from_cents(tax_rate)).round_cents();
    Line {
        id,
        product_id,
        variant_id,
        order_address_id: address_id,
        name_merchant: None,
        name,
        sku,
        upc: Cow::Borrowed(""),
        kind: "physical",
        base_price: price,
        price_ex_tax: price,
        price_inc_tax: price_inc,
        quantity,
        weight: Money::from_cents(100),
        base_cost_price: Money(price.0 / 2).round_cents(),
        quantity_shipped: 0,
        quantity_refunded: 0,
        brand: Cow::Borrowed(""),
        product_options: Vec::new(),
        applied_discounts: Vec::new(),
    }
}

/// Splits `discount` over the lines in proportion to their totals; the last line takes the
/// rounding remainder so the parts add up exactly.
fn spread_discount(lines: &mut [Line], c: &Coupon, discount: Money) {
    let total: Money = lines.iter().map(Line::total_inc_tax).sum();
    if total <= Money::ZERO {
        return;
    }
    let mut left = discount;
    let n = lines.len();
    for (i, line) in lines.iter_mut().enumerate() {
        let part = if i + 1 == n {
            left
        } else {
            let share =
                i128::from(discount.0) * i128::from(line.total_inc_tax().0) / i128::from(total.0);
            Money(i64::try_from(share).unwrap_or(0))
                .round_cents()
                .min(left)
        };
        left -= part;
        if part > Money::ZERO {
            line.applied_discounts.push(AppliedDiscount {
                id: Cow::Owned(c.id.to_string()),
                amount: part,
                name: Cow::Owned(c.name.clone()),
                code: Some(Cow::Owned(c.code.clone())),
                target: "order",
            });
        }
    }
}

/// Payment status and transactions by order status.
fn pay(o: &mut Order, ids: &mut super::IdCounters, rng: &mut SmallRng) {
    let kind = match rng.random_range(0..100) {
        0..=34 => &PAYMENTS[0],
        35..=59 => &PAYMENTS[1],
        60..=79 => &PAYMENTS[2],
        80..=87 => &PAYMENTS[3],
        88..=93 => &PAYMENTS[4],
        _ => &PAYMENTS[5],
    };
    let status = o.status_id;
    if status == 0 {
        o.payment_method = Cow::Borrowed("");
        return;
    }
    o.payment_method = Cow::Borrowed(kind.name);
    // Room for this status's transactions plus a refund.
    o.transactions
        .reserve_exact(if status == 5 { 2 } else { 1 } + usize::from(matches!(status, 4 | 14)));
    let mut tx = |event: &'static str,
                  ok: bool,
                  fraud: bool,
                  reference: Option<i64>,
                  o: &mut Order,
                  rng: &mut SmallRng| {
        let id = ids.next_transaction();
        let card = kind.card.then(|| Card {
            card_type: CARD_TYPES[rng.random_range(0..CARD_TYPES.len())],
            iin: Cow::Borrowed("411111"),
            last4: Cow::Owned(format!("{:04}", rng.random_range(0..10_000))),
            expiry_month: rng.random_range(1..=12),
            expiry_year: 2027 + rng.random_range(0..5),
        });
        o.transactions.push(Transaction {
            id,
            event,
            method: kind.method,
            amount: o.total_inc_tax,
            currency: o.currency_code.clone(),
            gateway: kind.gateway,
            gateway_transaction_id: Cow::Owned(format!("{}_{id:010}", &kind.gateway[..2])),
            date_created: o.date_created,
            test: false,
            status: if ok { "ok" } else { "error" },
            fraud_review: fraud,
            reference_transaction_id: reference,
            card,
        });
        id
    };
    match status {
        1 => o.payment_status = "pending",
        7 => {
            o.payment_status = "pending";
            tx("pending", true, false, None, o, rng);
        }
        6 => {
            o.payment_status = "declined";
            tx("purchase", false, false, None, o, rng);
        }
        5 => {
            o.payment_status = "void";
            let auth = tx("authorization", true, false, None, o, rng);
            tx("void", true, false, Some(auth), o, rng);
        }
        12 => {
            o.payment_status = "held for review";
            tx("authorization", true, true, None, o, rng);
        }
        _ => {
            o.payment_status = if kind.method == "offline" || kind.method == "custom" {
                "paid"
            } else {
                "captured"
            };
            let id = tx("purchase", true, false, None, o, rng);
            if kind.card {
                o.payment_provider_id = Cow::Owned(format!("ch_{id:012}"));
            }
        }
    }
}

/// Shipments: everything for Shipped, Completed and Disputed orders; one unit of the
/// first line for Partially Shipped ones.
fn ship(o: &mut Order, ids: &mut super::IdCounters, rng: &mut SmallRng) {
    let partial = match o.status_id {
        2 | 10 | 13 => false,
        3 => true,
        _ => return,
    };
    let Some(address_id) = o.shipping_addresses.first().map(|a| a.id) else {
        return;
    };
    let span = (o.date_modified - o.date_created).num_seconds().max(0);
    let date = o.date_created + Duration::seconds(rng.random_range(0..=span));
    let items: Vec<ShipmentItem> = if partial {
        o.lines
            .first()
            .map(|l| ShipmentItem {
                order_product_id: l.id,
                product_id: l.product_id,
                quantity: 1,
            })
            .into_iter()
            .collect()
    } else {
        o.lines
            .iter()
            .map(|l| ShipmentItem {
                order_product_id: l.id,
                product_id: l.product_id,
                quantity: l.quantity,
            })
            .collect()
    };
    for item in &items {
        if let Some(l) = o.lines.iter_mut().find(|l| l.id == item.order_product_id) {
            l.quantity_shipped += item.quantity;
        }
    }
    if !partial {
        o.date_shipped = Some(date);
    }
    let carrier = CARRIERS[rng.random_range(0..CARRIERS.len())];
    o.shipments = vec![Shipment {
        id: ids.next_shipment(),
        order_address_id: address_id,
        date_created: date,
        tracking_number: Cow::Owned(format!(
            "1Z{:016}",
            rng.random_range(0..10_000_000_000_000_000u64)
        )),
        merchant_shipping_cost: Money::ZERO,
        shipping_method: Cow::Borrowed("Flat Rate"),
        shipping_provider: Cow::Borrowed(carrier),
        tracking_carrier: Cow::Borrowed(""),
        tracking_link: Cow::Borrowed(""),
        comments: Cow::Borrowed(""),
        items,
    }];
}

/// Refunds for Refunded (everything) and Partially Refunded (the first line) orders.
fn refund(o: &mut Order, orders: &mut super::OrdersData) {
    let full = match o.status_id {
        4 => true,
        14 => false,
        _ => return,
    };
    let total = o.total_inc_tax;
    if total <= Money::ZERO {
        return;
    }
    let (amount, item) = if full {
        (
            total,
            RefundItem {
                item_type: Cow::Borrowed("ORDER"),
                item_id: o.id,
                quantity: None,
                requested_amount: Some(total),
                reason: Cow::Borrowed("Customer returned the order."),
            },
        )
    } else {
        let Some(first) = o.lines.first() else {
            return;
        };
        // Less than the whole order, or it would be a full refund.
        let line_amount = first
            .price_inc_tax
            .times(first.quantity)
            .min(Money(total.0 / 2))
            .round_cents();
        let line_amount = if line_amount > Money::ZERO {
            line_amount
        } else {
            Money::from_cents(1)
        };
        (
            line_amount,
            RefundItem {
                item_type: Cow::Borrowed("PRODUCT"),
                item_id: first.id,
                quantity: None,
                requested_amount: Some(line_amount),
                reason: Cow::Borrowed("Item arrived damaged."),
            },
        )
    };
    if full {
        for l in &mut o.lines {
            l.quantity_refunded = l.quantity;
        }
    }
    let gateway = o
        .transactions
        .iter()
        .find(|t| t.event == "purchase")
        .map_or("custom", |t| t.gateway);
    let reference = o
        .transactions
        .iter()
        .find(|t| t.event == "purchase")
        .map(|t| t.id);
    let created = o.date_modified;
    let transaction_id = orders.ids.next_transaction();
    o.transactions.push(Transaction {
        id: transaction_id,
        event: "refund",
        method: if gateway == "custom" {
            "custom"
        } else {
            "credit_card"
        },
        amount,
        currency: o.currency_code.clone(),
        gateway,
        gateway_transaction_id: Cow::Owned(format!("rf_{transaction_id:08}")),
        date_created: created,
        test: false,
        status: "ok",
        fraud_review: false,
        reference_transaction_id: reference,
        card: None,
    });
    o.refunded_amount = amount;
    o.payment_status = if full {
        "refunded"
    } else {
        "partially refunded"
    };
    let refund_id = orders.ids.next_refund();
    let payment_id = orders.ids.next_refund_payment();
    orders.refunds.push(Refund {
        id: refund_id,
        order_id: o.id,
        created,
        reason: Cow::Borrowed(""),
        total_amount: amount,
        total_tax: Money::ZERO,
        uses_merchant_override_values: false,
        items: vec![item],
        payments: vec![RefundPayment {
            id: payment_id,
            provider_id: Cow::Borrowed(gateway),
            amount,
            offline: false,
        }],
        transaction_id,
    });
}
