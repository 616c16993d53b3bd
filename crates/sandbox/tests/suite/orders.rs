//! Orders over real HTTP: the V2 list (bare arrays, 204 on empty pages, 413 above 250,
//! filters, sorts, includes), count, single-order reads and writes, sub-resources, order
//! statuses, and the V3 transactions and refunds (docs/api-notes.md §6, §11, §12).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use bc_sandbox::SeedSpec;
use chrono::{DateTime, Utc};
use common::{Api, Resp, assert_v2_error, assert_v3_error, start_seeded};
use serde_json::{Value, json};

fn spec(orders: usize) -> SeedSpec {
    SeedSpec {
        seed: 7,
        customers: 20,
        addresses_per_customer: 1,
        products: 12,
        variants_per_product: 2,
        coupons: 6,
        orders,
        lines_per_order: 3,
        history_days: 60,
        ..SeedSpec::empty()
    }
}

fn rfc2822(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc2822(s)
        .unwrap_or_else(|e| panic!("{s:?} is not RFC 2822: {e}"))
        .with_timezone(&Utc)
}

fn is_money(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    let (int, frac) = s
        .trim_start_matches('-')
        .split_once('.')
        .unwrap_or(("", ""));
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.len() == 4
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// Every order of the default list, paging at `limit`.
async fn all_orders(api: &Api, query: &str, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for page in 1.. {
        let r = api
            .get(&format!("/v2/orders?{query}&limit={limit}&page={page}"))
            .await;
        if r.status == 204 {
            assert!(r.text.is_empty(), "204 must have no body: {:?}", r.text);
            break;
        }
        assert_eq!(r.status, 200, "{}", r.text);
        let items = r.json().as_array().unwrap().clone();
        let short = items.len() < limit;
        out.extend(items);
        if short {
            break;
        }
    }
    out
}

fn ids(orders: &[Value]) -> Vec<i64> {
    orders.iter().map(|o| o["id"].as_i64().unwrap()).collect()
}

const ORDER_MONEY: [&str; 17] = [
    "subtotal_ex_tax",
    "subtotal_inc_tax",
    "subtotal_tax",
    "base_shipping_cost",
    "shipping_cost_ex_tax",
    "shipping_cost_inc_tax",
    "base_handling_cost",
    "handling_cost_ex_tax",
    "base_wrapping_cost",
    "total_ex_tax",
    "total_inc_tax",
    "total_tax",
    "refunded_amount",
    "store_credit_amount",
    "gift_certificate_amount",
    "discount_amount",
    "coupon_discount",
];

#[tokio::test]
async fn list_is_a_bare_array_with_v2_types() {
    let api = start_seeded(spec(80)).await;
    let r = api.get("/v2/orders").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let orders = r.json().as_array().expect("a bare array");
    assert_eq!(orders.len(), 50, "default page size is 50");
    let listed = ids(orders);
    assert!(
        listed.windows(2).all(|w| w[0] < w[1]),
        "default sort is id ascending"
    );
    for o in orders {
        let id = o["id"].as_i64().unwrap();
        for f in ORDER_MONEY {
            assert!(
                is_money(&o[f]),
                "order {id} {f} = {} is not a 4-decimal string",
                o[f]
            );
        }
        let created = o["date_created"].as_str().unwrap();
        assert!(created.ends_with("+0000"), "{created}");
        let created = rfc2822(created);
        let modified = rfc2822(o["date_modified"].as_str().unwrap());
        assert!(modified >= created, "order {id}: modified before created");
        match o["date_shipped"].as_str().unwrap() {
            "" => {}
            s => assert!(rfc2822(s) >= created),
        }
        assert!(o["status_id"].is_i64() && o["customer_id"].is_i64() && o["items_total"].is_i64());
        let status = api
            .get(&format!("/v2/order_statuses/{}", o["status_id"]))
            .await;
        assert_eq!(o["status"], status.json()["name"]);
        assert_eq!(o["products"]["resource"], format!("/orders/{id}/products"));
        assert!(
            o["products"]["url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/v2/orders/{id}/products"))
        );
        assert!(
            o["shipping_addresses"]["resource"].is_string() && o["coupons"]["resource"].is_string()
        );
        assert_eq!(
            o["is_deleted"], false,
            "archived orders are not listed by default"
        );
        assert!(
            o["billing_address"]["email"]
                .as_str()
                .unwrap()
                .contains('@')
        );
        // Totals are consistent with their parts.
        let m = |f: &str| o[f].as_str().unwrap().parse::<f64>().unwrap();
        let total = m("subtotal_inc_tax")
            + m("shipping_cost_inc_tax")
            + m("handling_cost_inc_tax")
            + m("wrapping_cost_inc_tax")
            - m("discount_amount")
            - m("coupon_discount");
        assert!(
            (total - m("total_inc_tax")).abs() < 0.00005,
            "order {id}: {total} vs {}",
            m("total_inc_tax")
        );
    }
}

#[tokio::test]
async fn empty_pages_are_204_with_no_body() {
    let api = start_seeded(spec(30)).await;
    let past = api.get("/v2/orders?page=99").await;
    assert_eq!(past.status, 204);
    assert!(past.text.is_empty(), "{:?}", past.text);
    let none = api.get("/v2/orders?min_id=100000").await;
    assert_eq!(none.status, 204);
    assert!(none.text.is_empty());

    let empty = start_seeded(SeedSpec::empty()).await;
    let r = empty.get("/v2/orders").await;
    assert_eq!(r.status, 204);
    assert!(r.text.is_empty());
    assert_eq!(empty.get("/v2/orders/count").await.json()["count"], 0);
}

#[tokio::test]
async fn limit_above_250_is_413_in_v2_shape() {
    let api = start_seeded(spec(5)).await;
    assert_v2_error(&api.get("/v2/orders?limit=251").await, 413);
    assert_eq!(api.get("/v2/orders?limit=250").await.status, 200);
    assert_v2_error(&api.get("/v2/orders?limit=0").await, 400);
    assert_v2_error(&api.get("/v2/orders/1/products?limit=251").await, 413);
}

#[tokio::test]
async fn unknown_order_is_404_in_v2_shape() {
    let api = start_seeded(spec(3)).await;
    assert_v2_error(&api.get("/v2/orders/999999").await, 404);
    assert_v2_error(&api.get("/v2/orders/abc").await, 404);
    assert_v2_error(&api.get("/v2/orders/999999/products").await, 404);
}

#[tokio::test]
async fn include_consignments_line_items_embeds_the_lines() {
    let api = start_seeded(spec(20)).await;
    let q = "limit=5&include=consignments.line_items&consignment_structure=object";
    let orders = api
        .get(&format!("/v2/orders?{q}"))
        .await
        .json()
        .as_array()
        .unwrap()
        .clone();
    for o in &orders {
        let id = o["id"].as_i64().unwrap();
        let products = api.get(&format!("/v2/orders/{id}/products")).await;
        let products = products.json().as_array().unwrap().clone();
        let c = &o["consignments"];
        assert!(c.is_object(), "object structure: {c}");
        assert_eq!(c["pickups"], json!([]));
        let shipping = c["shipping"].as_array().unwrap();
        assert_eq!(
            shipping.len(),
            1,
            "one shipping consignment per shipping address"
        );
        let embedded: Vec<Value> = shipping
            .iter()
            .flat_map(|s| s["line_items"].as_array().unwrap().clone())
            .collect();
        assert_eq!(
            embedded, products,
            "order {id}: embedded lines are the /products lines"
        );
        assert_eq!(embedded.len(), 3);
        for l in &embedded {
            assert!(
                is_money(&l["price_inc_tax"]) && l["quantity"].is_i64() && l["product_id"].is_i64()
            );
            assert_eq!(l["order_id"], id);
        }
        let addr = api
            .get(&format!("/v2/orders/{id}/shipping_addresses"))
            .await;
        assert_eq!(shipping[0]["id"], addr.json()[0]["id"]);
        assert_eq!(shipping[0]["street_1"], addr.json()[0]["street_1"]);
        assert!(
            shipping[0]["cost_inc_tax"].is_number(),
            "consignment costs are numbers"
        );
        assert!(
            o["fees"]["resource"].is_string(),
            "fees are a link without include=fees"
        );
    }

    // The legacy default is an array holding the same object.
    let legacy = api
        .get("/v2/orders?limit=5&include=consignments.line_items")
        .await;
    for (o, l) in orders.iter().zip(legacy.json().as_array().unwrap()) {
        assert_eq!(l["consignments"], json!([o["consignments"].clone()]));
    }

    // `include=consignments` alone links the lines.
    let linked = api
        .get("/v2/orders?limit=1&include=consignments&consignment_structure=object")
        .await;
    let o = &linked.json()[0];
    let id = o["id"].as_i64().unwrap();
    let items = o["consignments"]["shipping"][0]["line_items"]
        .as_array()
        .unwrap();
    let first_line = api.get(&format!("/v2/orders/{id}/products")).await.json()[0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        items[0]["resource"],
        format!("/orders/{id}/products/{first_line}")
    );
    let followed = api
        .get(
            &items[0]["resource"]
                .as_str()
                .map(|r| format!("/v2{r}"))
                .unwrap(),
        )
        .await;
    assert_eq!(followed.json()["id"], first_line);

    // Without include, consignments is a link; include=fees embeds the fees array.
    let plain = api.get("/v2/orders?limit=1&include=fees").await;
    assert_eq!(
        plain.json()[0]["consignments"]["resource"],
        format!("/orders/{}/consignments", plain.json()[0]["id"])
    );
    assert_eq!(plain.json()[0]["fees"], json!([]));
    // The single-order GET takes the same includes.
    let single = api
        .get(&format!(
            "/v2/orders/{id}?include=consignments.line_items&consignment_structure=object"
        ))
        .await;
    assert_eq!(
        single.json()["consignments"]["shipping"][0]["line_items"][0]["id"],
        first_line
    );
}

#[tokio::test]
async fn date_filters_take_rfc2822_and_iso_inclusively() {
    let api = start_seeded(spec(120)).await;
    let all = all_orders(&api, "", 250).await;
    let pick = &all[40];
    let modified = rfc2822(pick["date_modified"].as_str().unwrap());
    let created = rfc2822(pick["date_created"].as_str().unwrap());
    let enc = |s: String| {
        s.replace('+', "%2B")
            .replace(' ', "%20")
            .replace(',', "%2C")
            .replace(':', "%3A")
    };
    for (field, at) in [("date_modified", modified), ("date_created", created)] {
        let rfc = enc(at.format("%a, %d %b %Y %H:%M:%S +0000").to_string());
        // The same instant in another zone and in ISO form.
        let iso = enc(
            (at.with_timezone(&chrono::FixedOffset::west_opt(4 * 3600).unwrap()))
                .format("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
        );
        let min_rfc = ids(&all_orders(&api, &format!("min_{field}={rfc}"), 250).await);
        let min_iso = ids(&all_orders(&api, &format!("min_{field}={iso}"), 250).await);
        assert_eq!(min_rfc, min_iso, "{field}: RFC 2822 and ISO filters agree");
        let want: Vec<i64> = all
            .iter()
            .filter(|o| rfc2822(o[field].as_str().unwrap()) >= at)
            .map(|o| o["id"].as_i64().unwrap())
            .collect();
        assert_eq!(min_rfc, want, "min_{field} is inclusive");
        assert!(min_rfc.contains(&pick["id"].as_i64().unwrap()));
        let exact =
            ids(&all_orders(&api, &format!("min_{field}={rfc}&max_{field}={iso}"), 250).await);
        assert!(
            exact.contains(&pick["id"].as_i64().unwrap()),
            "min = max = the order's own second"
        );
        assert!(exact.iter().all(|id| want.contains(id)));
    }
    assert_v2_error(
        &api.get("/v2/orders?min_date_modified=yesterday").await,
        400,
    );
}

#[tokio::test]
async fn sort_by_date_modified_with_ties_by_id() {
    let api = start_seeded(spec(150)).await;
    for dir in ["asc", "desc"] {
        let orders = all_orders(&api, &format!("sort=date_modified:{dir}"), 40).await;
        assert_eq!(orders.len(), all_orders(&api, "", 250).await.len());
        let keys: Vec<(DateTime<Utc>, i64)> = orders
            .iter()
            .map(|o| {
                (
                    rfc2822(o["date_modified"].as_str().unwrap()),
                    o["id"].as_i64().unwrap(),
                )
            })
            .collect();
        for w in keys.windows(2) {
            let ordered = if dir == "asc" {
                w[0].0 < w[1].0
            } else {
                w[0].0 > w[1].0
            };
            assert!(
                ordered || (w[0].0 == w[1].0 && w[0].1 < w[1].1),
                "{dir}: {w:?}"
            );
        }
        assert!(
            keys.windows(2).any(|w| w[0].0 == w[1].0),
            "the seed has orders sharing a date_modified second"
        );
    }
    let by_created = ids(&all_orders(&api, "sort=date_created:desc", 250).await);
    let mut by_id = ids(&all_orders(&api, "", 250).await);
    by_id.reverse();
    assert_eq!(by_created, by_id, "ids follow creation time");
    let by_status = all_orders(&api, "sort=status_id", 250).await;
    assert!(
        by_status
            .windows(2)
            .all(|w| w[0]["status_id"].as_i64() <= w[1]["status_id"].as_i64())
    );
    assert_v2_error(&api.get("/v2/orders?sort=total").await, 400);
}

/// Which orders a filter should keep.
type Keep = Box<dyn Fn(&Value) -> bool>;

#[tokio::test]
async fn filters_and_count_agree_with_the_list() {
    let api = start_seeded(spec(200)).await;
    let all = all_orders(&api, "", 250).await;
    let count = api.get("/v2/orders/count").await;
    assert_eq!(count.status, 200);
    let c = count.json();
    assert_eq!(c["count"], all.len());
    let statuses = c["statuses"].as_array().unwrap();
    assert_eq!(statuses.len(), 15);
    assert_eq!(
        statuses
            .iter()
            .map(|s| s["count"].as_u64().unwrap())
            .sum::<u64>(),
        all.len() as u64
    );
    for s in statuses {
        assert!(
            s["name"].is_string() && s["system_label"].is_string() && s["custom_label"].is_string()
        );
        assert!(s["system_description"].is_string() && s["sort_order"].is_i64());
        let n = all.iter().filter(|o| o["status_id"] == s["id"]).count() as u64;
        assert_eq!(s["count"], n, "status {}", s["id"]);
        assert!(n > 0, "every status is seeded (status {})", s["id"]);
    }

    let first = &all[10];
    let email = first["billing_address"]["email"]
        .as_str()
        .unwrap()
        .replace('+', "%2B")
        .replace('@', "%40");
    let cases: Vec<(String, Keep)> = vec![
        (
            "status_id=10".into(),
            Box::new(|o: &Value| o["status_id"] == 10),
        ),
        (
            "customer_id=0".into(),
            Box::new(|o: &Value| o["customer_id"] == 0),
        ),
        (
            format!("email={email}"),
            Box::new({
                let e = first["billing_address"]["email"].clone();
                move |o: &Value| o["billing_address"]["email"] == e
            }),
        ),
        (
            "min_id=20&max_id=60".into(),
            Box::new(|o: &Value| (20..=60).contains(&o["id"].as_i64().unwrap())),
        ),
        (
            "min_total=50&max_total=150.5".into(),
            Box::new(|o: &Value| {
                let t: f64 = o["total_inc_tax"].as_str().unwrap().parse().unwrap();
                (50.0..=150.5).contains(&t)
            }),
        ),
        (
            "payment_method=PayPal".into(),
            Box::new(|o: &Value| o["payment_method"] == "PayPal"),
        ),
        (
            "channel_id=1".into(),
            Box::new(|o: &Value| o["channel_id"] == 1),
        ),
        (
            format!("cart_id={}", first["cart_id"].as_str().unwrap()),
            Box::new({
                let c = first["cart_id"].clone();
                move |o: &Value| o["cart_id"] == c
            }),
        ),
    ];
    for (q, keep) in &cases {
        let listed = ids(&all_orders(&api, q, 250).await);
        let want: Vec<i64> = all
            .iter()
            .filter(|o| keep(o))
            .map(|o| o["id"].as_i64().unwrap())
            .collect();
        assert_eq!(listed, want, "filter {q}");
        assert!(
            !want.is_empty(),
            "filter {q} should match something in the seed"
        );
        assert_eq!(
            api.get(&format!("/v2/orders/count?{q}")).await.json()["count"],
            want.len(),
            "count {q}"
        );
    }
    let pos = all.iter().find(|o| o["external_order_id"] != "").unwrap();
    let ext = pos["external_order_id"].as_str().unwrap();
    assert_eq!(
        ids(&all_orders(&api, &format!("external_order_id={ext}"), 250).await),
        vec![pos["id"].as_i64().unwrap()]
    );
    assert_v2_error(&api.get("/v2/orders?min_total=lots").await, 400);
    assert_v2_error(&api.get("/v2/orders?status_id=x").await, 400);
}

#[tokio::test]
async fn archived_orders_are_hidden_and_delete_archives() {
    let api = start_seeded(spec(100)).await;
    let counts = api
        .admin(reqwest::Method::GET, "/_sandbox/counts", None)
        .await;
    let archived = counts.json()["orders_archived"].as_u64().unwrap_or(0);
    assert!(
        archived >= 1,
        "the seed archives a few orders: {}",
        counts.text
    );
    let listed = ids(&all_orders(&api, "", 250).await);
    assert_eq!(listed.len() as u64, 100 - archived);
    let hidden = (1..=100).find(|id| !listed.contains(id)).unwrap();
    let r = api.get(&format!("/v2/orders/{hidden}")).await;
    assert_eq!(r.status, 200, "an archived order can still be read by id");
    assert_eq!(r.json()["is_deleted"], true);

    let target = listed[3];
    let before = rfc2822(
        api.get(&format!("/v2/orders/{target}")).await.json()["date_modified"]
            .as_str()
            .unwrap(),
    );
    let d = api.delete(&format!("/v2/orders/{target}")).await;
    assert_eq!(d.status, 204);
    assert!(d.text.is_empty());
    let after = api.get(&format!("/v2/orders/{target}")).await;
    assert_eq!(
        after.json()["is_deleted"],
        true,
        "DELETE archives, it does not remove"
    );
    assert!(rfc2822(after.json()["date_modified"].as_str().unwrap()) >= before);
    assert!(!ids(&all_orders(&api, "", 250).await).contains(&target));
    assert_eq!(
        api.get("/v2/orders/count").await.json()["count"],
        listed.len() - 1
    );
    assert_v2_error(&api.delete("/v2/orders/999999").await, 404);

    // PUT is_deleted:false brings it back.
    let back = api
        .put(
            &format!("/v2/orders/{target}"),
            json!({ "is_deleted": false }),
        )
        .await;
    assert_eq!(back.json()["is_deleted"], false);
    assert!(ids(&all_orders(&api, "", 250).await).contains(&target));

    // DELETE /v2/orders archives everything.
    let all = api.delete("/v2/orders").await;
    assert_eq!(all.status, 204);
    assert_eq!(api.get("/v2/orders").await.status, 204);
    assert_eq!(api.get("/v2/orders/count").await.json()["count"], 0);
    assert_eq!(
        api.get(&format!("/v2/orders/{target}")).await.json()["is_deleted"],
        true
    );
    let counts = api
        .admin(reqwest::Method::GET, "/_sandbox/counts", None)
        .await;
    assert_eq!(counts.json()["orders"], 100, "archived orders are kept");
}

fn billing() -> Value {
    json!({
        "first_name": "Jane", "last_name": "Doe", "street_1": "123 Main Street", "city": "Austin",
        "state": "Texas", "zip": "78751", "country": "United States", "country_iso2": "US",
        "email": "janedoe@example.com"
    })
}

fn custom_order() -> Value {
    json!({
        "billing_address": billing(),
        "products": [
            { "name": "BigCommerce Poster", "quantity": 2, "price_inc_tax": 10.98, "price_ex_tax": 10 },
            { "name": "BigCommerce Coffee Mug", "quantity": 1, "price_inc_tax": "50", "price_ex_tax": "45.00" }
        ],
        "shipping_cost_ex_tax": 5, "shipping_cost_inc_tax": 5.5,
        "date_created": "Tue, 20 Nov 2012 00:00:00 +0000"
    })
}

#[tokio::test]
async fn post_creates_a_custom_product_order_with_computed_totals() {
    let api = start_seeded(spec(10)).await;
    let r = api
        .post(
            "/v2/orders?include=consignments.line_items&consignment_structure=object",
            custom_order(),
        )
        .await;
    assert_eq!(
        r.status, 200,
        "POST /v2/orders answers 200 as the spec lists: {}",
        r.text
    );
    let o = r.json();
    assert_eq!(o["id"], 11, "ids continue after the seed");
    assert_eq!(o["status_id"], 1);
    assert_eq!(o["status"], "Pending");
    assert_eq!(o["customer_id"], 0, "guest order");
    assert_eq!(o["subtotal_ex_tax"], "65.0000");
    assert_eq!(o["subtotal_inc_tax"], "71.9600");
    assert_eq!(o["subtotal_tax"], "6.9600");
    assert_eq!(o["shipping_cost_inc_tax"], "5.5000");
    assert_eq!(o["total_ex_tax"], "70.0000");
    assert_eq!(o["total_inc_tax"], "77.4600");
    assert_eq!(o["items_total"], 3);
    assert_eq!(
        o["date_created"], "Tue, 20 Nov 2012 00:00:00 +0000",
        "date_created may be set to migrate history"
    );
    assert_eq!(o["date_shipped"], "");
    assert_eq!(o["order_source"], "external");
    let lines = o["consignments"]["shipping"][0]["line_items"]
        .as_array()
        .unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["product_id"], 0);
    assert!(
        lines[0].get("variant_id").is_none(),
        "custom lines carry no variant_id"
    );
    assert_eq!(lines[0]["total_inc_tax"], "21.9600");
    // No shipping address given: the billing address is used.
    assert_eq!(
        o["consignments"]["shipping"][0]["street_1"],
        "123 Main Street"
    );
    let got = api.get("/v2/orders/11").await;
    assert_eq!(got.json()["total_inc_tax"], "77.4600");
    let listed = ids(&all_orders(&api, "", 250).await);
    assert!(listed.contains(&11));
}

#[tokio::test]
async fn post_validates_the_body() {
    let api = start_seeded(spec(3)).await;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = custom_order();
        f(&mut b);
        b
    };
    let cases: Vec<(u16, Value, &str)> = vec![
        (
            400,
            with(&|b| {
                b.as_object_mut().unwrap().remove("billing_address");
            }),
            "billing_address",
        ),
        (
            422,
            with(&|b| b["billing_address"]["zip"] = json!("7")),
            "zip",
        ),
        (
            400,
            with(&|b| {
                b.as_object_mut().unwrap().remove("products");
            }),
            "products",
        ),
        (400, with(&|b| b["products"] = json!([])), "products"),
        (
            400,
            with(&|b| b["consignments"] = json!({ "pickups": [] })),
            "not both",
        ),
        (
            400,
            with(&|b| {
                b["products"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("price_ex_tax");
            }),
            "price_ex_tax",
        ),
        (
            400,
            with(&|b| {
                b["products"][0].as_object_mut().unwrap().remove("name");
            }),
            "name",
        ),
        (
            400,
            with(&|b| {
                b["products"][0].as_object_mut().unwrap().remove("quantity");
            }),
            "quantity",
        ),
        (
            422,
            with(&|b| b["products"][0]["quantity"] = json!(0)),
            "quantity",
        ),
        (
            400,
            with(&|b| b["products"][0]["quantity"] = json!("many")),
            "quantity",
        ),
        (
            422,
            with(&|b| b["products"] = json!([{ "product_id": 987654, "quantity": 1 }])),
            "987654",
        ),
        (422, with(&|b| b["customer_id"] = json!(987654)), "987654"),
        (
            400,
            with(&|b| b["coupon_discount"] = json!(5)),
            "cannot be written",
        ),
        (
            400,
            with(&|b| b["item_total"] = json!(5)),
            "cannot be written",
        ),
        (
            400,
            with(&|b| b["subtotal_ex_tax"] = json!(5)),
            "subtotal_inc_tax",
        ),
        (
            400,
            with(&|b| {
                b.as_object_mut().unwrap().remove("shipping_cost_inc_tax");
            }),
            "shipping_cost_inc_tax",
        ),
        (422, with(&|b| b["status_id"] = json!(15)), "status_id"),
        (
            400,
            with(&|b| b["date_created"] = json!("last tuesday")),
            "date_created",
        ),
        (422, with(&|b| b["discount_amount"] = json!(-1)), "negative"),
        (400, json!([1, 2]), "object"),
        (422, with(&|b| b["channel_id"] = json!(999)), "channel"),
    ];
    for (status, body, needle) in cases {
        let r = api.post("/v2/orders", body.clone()).await;
        assert_v2_error(&r, status);
        let msg = r.json()[0]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{body} -> {msg}");
    }
    assert_eq!(
        api.get("/v2/orders/count").await.json()["count"],
        3,
        "nothing was created"
    );
    // Refused requests take no ids: the next order and its lines follow on directly.
    let seeded_lines = api.sandbox.state.data.read().counts()["order_lines"]
        .as_i64()
        .unwrap();
    let ok = api.post("/v2/orders", custom_order()).await;
    assert_eq!(ok.json()["id"], 4);
    let lines = api.get("/v2/orders/4/products").await;
    assert_eq!(lines.json()[0]["id"], seeded_lines + 1);

    // Bad media type and syntax are refused before validation.
    let raw = api
        .http
        .post(format!("{}/v2/orders", api.sandbox.store_url()))
        .header("X-Auth-Token", &api.token)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
}

#[tokio::test]
async fn post_with_catalog_products_and_customers() {
    let api = start_seeded(spec(3)).await;
    let (products, customers) = {
        let data = api.sandbox.state.data.read();
        (data.catalog.product_refs(), data.customers.customer_refs())
    };
    let mut body = custom_order();
    if let Some(c) = customers.first() {
        body["customer_id"] = json!(c.id);
    }
    match products.iter().find(|p| !p.variant_ids.is_empty()) {
        Some(p) => {
            body["products"] = json!([{ "product_id": p.id, "quantity": 2 }]);
            let r = api.post("/v2/orders", body.clone()).await;
            assert_v2_error(&r, 422);
            assert!(r.json()[0]["message"].as_str().unwrap().contains("variant"));
            body["products"] = json!([{ "product_id": p.id, "variant_id": -5, "quantity": 2 }]);
            assert_v2_error(&api.post("/v2/orders", body.clone()).await, 422);
            let v = p.variant_ids[0];
            body["products"] = json!([{ "product_id": p.id, "variant_id": v, "quantity": 2 }]);
            let r = api.post("/v2/orders", body.clone()).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let line = api
                .get(&format!("/v2/orders/{}/products", r.json()["id"]))
                .await
                .json()[0]
                .clone();
            assert_eq!(line["product_id"], p.id);
            assert_eq!(line["variant_id"], v);
            assert_eq!(line["name"], p.name.as_str(), "catalog name by default");
            assert_eq!(r.json()["items_total"], 2);
            if let Some(c) = customers.first() {
                assert_eq!(r.json()["customer_id"], c.id);
            }
        }
        None => {
            // An empty catalog has no products to order.
            body["products"] = json!([{ "product_id": 1, "quantity": 1 }]);
            assert_v2_error(&api.post("/v2/orders", body).await, 422);
        }
    }
    // Pickup (consignment mode) orders.
    let pickup = json!({
        "billing_address": billing(),
        "consignments": { "pickups": [{
            "pickup_method_id": 1, "pickup_method_display_name": "Pick Up",
            "location": { "name": "Location 1", "city": "Austin" },
            "line_items": [{ "name": "Poster", "quantity": 1, "price_inc_tax": 5, "price_ex_tax": 5 }]
        }]}
    });
    let r = api
        .post(
            "/v2/orders?include=consignments&consignment_structure=object",
            pickup,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = &r.json()["consignments"];
    assert_eq!(c["shipping"], json!([]));
    assert_eq!(c["pickups"][0]["pickup_method_id"], 1);
    assert_eq!(c["pickups"][0]["line_items"].as_array().unwrap().len(), 1);
    assert_eq!(r.json()["total_inc_tax"], "5.0000");
}

#[tokio::test]
async fn put_changes_status_lines_and_date_modified() {
    let api = start_seeded(spec(30)).await;
    let id = 20;
    let before = api.get(&format!("/v2/orders/{id}")).await.json().clone();
    let old_modified = rfc2822(before["date_modified"].as_str().unwrap());
    let target = if before["status_id"] == 2 { 11 } else { 2 };
    let r = api
        .put(
            &format!("/v2/orders/{id}"),
            json!({ "status_id": target, "staff_notes": "checked" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let o = r.json();
    assert_eq!(o["status_id"], target);
    let name = api
        .get(&format!("/v2/order_statuses/{target}"))
        .await
        .json()["name"]
        .clone();
    assert_eq!(o["status"], name, "the status name follows status_id");
    assert_eq!(o["staff_notes"], "checked");
    let new_modified = rfc2822(o["date_modified"].as_str().unwrap());
    assert!(
        new_modified > old_modified,
        "seeded orders were modified in the past; a PUT moves date_modified to now"
    );
    assert!((Utc::now() - new_modified).num_seconds().abs() <= 5);
    assert_eq!(o["date_created"], before["date_created"]);

    // Lines: update one by id, remove one with quantity 0, add a custom one.
    let lines = api
        .get(&format!("/v2/orders/{id}/products"))
        .await
        .json()
        .as_array()
        .unwrap()
        .clone();
    let (keep, drop) = (
        lines[0]["id"].as_i64().unwrap(),
        lines[1]["id"].as_i64().unwrap(),
    );
    let r = api
        .put(
            &format!("/v2/orders/{id}"),
            json!({ "products": [
                { "id": keep, "quantity": 4, "price_ex_tax": 10, "price_inc_tax": 11 },
                { "id": drop, "quantity": 0 },
                { "name": "Added", "quantity": 1, "price_ex_tax": 3, "price_inc_tax": 3 }
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let after = api
        .get(&format!("/v2/orders/{id}/products"))
        .await
        .json()
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(after.len(), 3);
    assert!(after.iter().all(|l| l["id"] != drop));
    let kept = after.iter().find(|l| l["id"] == keep).unwrap();
    assert_eq!(kept["quantity"], 4);
    assert_eq!(kept["total_inc_tax"], "44.0000");
    assert_eq!(
        kept["applied_discounts"],
        json!([]),
        "a PUT clears discounts on the changed lines"
    );
    assert!(
        after
            .iter()
            .any(|l| l["name"] == "Added" && l["product_id"] == 0)
    );
    let subtotal: f64 = after
        .iter()
        .map(|l| l["total_inc_tax"].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    let o = api.get(&format!("/v2/orders/{id}")).await;
    let got: f64 = o.json()["subtotal_inc_tax"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (got - subtotal).abs() < 0.00005,
        "subtotal follows the lines: {got} vs {subtotal}"
    );

    // Billing address patch and read-only fields.
    let r = api
        .put(
            &format!("/v2/orders/{id}"),
            json!({ "billing_address": { "city": "Dallas" } }),
        )
        .await;
    assert_eq!(r.json()["billing_address"]["city"], "Dallas");
    assert_eq!(
        r.json()["billing_address"]["first_name"],
        before["billing_address"]["first_name"]
    );
    for field in [
        "item_total",
        "coupon_discount",
        "date_modified",
        "status",
        "payment_status",
    ] {
        let r = api
            .put(&format!("/v2/orders/{id}"), json!({ field: "1" }))
            .await;
        assert_v2_error(&r, 400);
        assert_eq!(
            r.json()[0]["message"],
            format!(
                "The field '{field}' cannot be written to. Please remove it from your request before trying again."
            )
        );
    }
    assert_v2_error(
        &api.put(&format!("/v2/orders/{id}"), json!({ "status_id": 42 }))
            .await,
        422,
    );
    assert_v2_error(
        &api.put(
            &format!("/v2/orders/{id}"),
            json!({ "products": [{ "id": 999999, "quantity": 1 }] }),
        )
        .await,
        422,
    );
    assert_v2_error(
        &api.put("/v2/orders/999999", json!({ "status_id": 1 }))
            .await,
        404,
    );
    // A failed PUT changes nothing.
    let bad = api
        .put(
            &format!("/v2/orders/{id}"),
            json!({ "staff_notes": "lost", "status_id": 99 }),
        )
        .await;
    assert_v2_error(&bad, 422);
    assert_eq!(
        api.get(&format!("/v2/orders/{id}")).await.json()["staff_notes"],
        "checked"
    );

    // Money overrides come in pairs and win over the computed values.
    let r = api
        .put(
            &format!("/v2/orders/{id}"),
            json!({ "total_ex_tax": "100", "total_inc_tax": "108.25" }),
        )
        .await;
    assert_eq!(r.json()["total_inc_tax"], "108.2500");
    assert_v2_error(
        &api.put(
            &format!("/v2/orders/{id}"),
            json!({ "total_ex_tax": "100" }),
        )
        .await,
        400,
    );
}

/// The first listed order matching `keep`.
async fn find_order(api: &Api, keep: impl Fn(&Value) -> bool) -> Value {
    all_orders(api, "", 250)
        .await
        .into_iter()
        .find(|o| keep(o))
        .expect("the seed has such an order")
}

#[tokio::test]
async fn order_sub_resources() {
    let api = start_seeded(spec(60)).await;
    let o = find_order(&api, |o| o["status_id"] == 11).await;
    let id = o["id"].as_i64().unwrap();

    // Products: paged like any V2 list.
    let all = api
        .get(&format!("/v2/orders/{id}/products"))
        .await
        .json()
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(all.len(), 3);
    let p2 = api
        .get(&format!("/v2/orders/{id}/products?limit=2&page=2"))
        .await;
    assert_eq!(p2.json().as_array().unwrap(), &all[2..]);
    let past = api
        .get(&format!("/v2/orders/{id}/products?limit=2&page=3"))
        .await;
    assert_eq!(past.status, 204);
    assert!(past.text.is_empty());
    let one = api
        .get(&format!("/v2/orders/{id}/products/{}", all[1]["id"]))
        .await;
    assert_eq!(one.json(), &all[1]);
    for f in [
        "base_price",
        "price_ex_tax",
        "price_inc_tax",
        "price_tax",
        "total_ex_tax",
        "total_inc_tax",
        "total_tax",
    ] {
        assert!(is_money(&all[0][f]), "{f}");
    }
    let other = find_order(&api, |x| x["id"] != id).await;
    let foreign = api
        .get(&format!("/v2/orders/{}/products", other["id"]))
        .await
        .json()[0]["id"]
        .clone();
    assert_v2_error(
        &api.get(&format!("/v2/orders/{id}/products/{foreign}"))
            .await,
        404,
    );

    // Shipping addresses (both spellings), update without recalculation, quotes 204.
    let addrs = api
        .get(&format!("/v2/orders/{id}/shipping_addresses"))
        .await;
    assert_eq!(addrs.status, 200);
    let addr = addrs.json()[0].clone();
    assert_eq!(
        api.get(&format!("/v2/orders/{id}/shippingaddresses"))
            .await
            .json()[0],
        addr
    );
    let aid = addr["id"].as_i64().unwrap();
    assert_eq!(addr["order_id"], id);
    assert_eq!(addr["items_total"], o["items_total"]);
    assert_eq!(
        addr["shipping_quotes"]["resource"],
        format!("/orders/{id}/shippingaddresses/{aid}/shippingquotes")
    );
    let r = api
        .put(
            &format!("/v2/orders/{id}/shipping_addresses/{aid}"),
            json!({ "first_name": "Trish", "shipping_method": "Express" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["first_name"], "Trish");
    assert_eq!(r.json()["shipping_method"], "Express");
    assert_eq!(
        r.json()["cost_inc_tax"],
        addr["cost_inc_tax"],
        "no shipping recalculation"
    );
    assert_eq!(
        api.get(&format!("/v2/orders/{id}/shipping_addresses/{aid}"))
            .await
            .json()["first_name"],
        "Trish"
    );
    let ro = api
        .put(
            &format!("/v2/orders/{id}/shipping_addresses/{aid}"),
            json!({ "item_total": 3 }),
        )
        .await;
    assert_v2_error(&ro, 400);
    assert!(
        ro.json()[0]["message"]
            .as_str()
            .unwrap()
            .contains("'item_total' cannot be written to")
    );
    let q = api
        .get(&format!(
            "/v2/orders/{id}/shipping_addresses/{aid}/shipping_quotes"
        ))
        .await;
    assert_eq!(q.status, 204);
    assert!(q.text.is_empty());
    assert_eq!(
        api.get(&format!(
            "/v2/orders/{id}/consignments/shipping/{aid}/shipping_quotes"
        ))
        .await
        .status,
        204
    );
    assert_v2_error(
        &api.get(&format!("/v2/orders/{id}/shipping_addresses/999999"))
            .await,
        404,
    );

    // Consignments endpoint: the object structure.
    let c = api
        .get(&format!(
            "/v2/orders/{id}/consignments?include=consignments.line_items"
        ))
        .await;
    assert_eq!(
        c.json()["shipping"][0]["line_items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(c.json()["downloads"], json!([]));
    assert_eq!(c.json()["email"], json!({ "gift_certificates": [] }));

    // Fees.
    assert_eq!(
        api.get(&format!("/v2/orders/{id}/fees")).await.json(),
        &json!({ "fees": [] })
    );
    let r = api
        .put(&format!("/v2/orders/{id}"), json!({ "fees": [{ "type": "custom_fee", "display_name_customer": "Care", "cost_ex_tax": "2.00", "cost_inc_tax": "2.20" }] }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let fees = api.get(&format!("/v2/orders/{id}/fees")).await;
    assert_eq!(fees.json()["fees"][0]["cost_inc_tax"], "2.2000");
    let total_with_fee: f64 = r.json()["total_inc_tax"].as_str().unwrap().parse().unwrap();
    let before: f64 = o["total_inc_tax"].as_str().unwrap().parse().unwrap();
    assert!(
        (total_with_fee - before - 2.2).abs() < 0.00005,
        "fees add to the total"
    );
}

#[tokio::test]
async fn order_coupons_use_integer_types() {
    let api = start_seeded(spec(300)).await;
    let mut seen = 0;
    for o in all_orders(&api, "", 250)
        .await
        .iter()
        .filter(|o| o["coupon_discount"] != "0.0000")
        .take(5)
    {
        let r = api.get(&format!("/v2/orders/{}/coupons", o["id"])).await;
        assert_eq!(r.status, 200);
        let c = &r.json()[0];
        assert!((0..=5).contains(&c["type"].as_i64().unwrap()), "{c}");
        assert!(c["amount"].is_number() && c["discount"].is_number());
        let coupon = api.get(&format!("/v2/coupons/{}", c["coupon_id"])).await;
        assert_eq!(
            coupon.json()["code"],
            c["code"],
            "order coupons point at seeded coupons"
        );
        let discount: f64 = o["coupon_discount"].as_str().unwrap().parse().unwrap();
        assert!((c["discount"].as_f64().unwrap() - discount).abs() < 0.00005);
        seen += 1;
    }
    assert!(seen > 0, "some seeded orders carry a coupon");
    let plain = find_order(&api, |o| o["coupon_discount"] == "0.0000").await;
    let r = api
        .get(&format!("/v2/orders/{}/coupons", plain["id"]))
        .await;
    assert_eq!(r.status, 204);
}

#[tokio::test]
async fn shipments_ship_lines_and_move_the_status() {
    let api = start_seeded(spec(40)).await;
    let o = find_order(&api, |o| o["status_id"] == 11).await;
    let id = o["id"].as_i64().unwrap();
    let none = api.get(&format!("/v2/orders/{id}/shipments")).await;
    assert_eq!(none.status, 204, "no shipments: 204");
    assert!(none.text.is_empty());
    assert_eq!(
        api.get(&format!("/v2/orders/{id}/shipments/count"))
            .await
            .json()["count"],
        0
    );
    let lines = api
        .get(&format!("/v2/orders/{id}/products"))
        .await
        .json()
        .as_array()
        .unwrap()
        .clone();
    let aid = lines[0]["order_address_id"].as_i64().unwrap();

    assert_v2_error(
        &api.post(
            &format!("/v2/orders/{id}/shipments"),
            json!({ "items": [] }),
        )
        .await,
        400,
    );
    assert_v2_error(
        &api.post(
            &format!("/v2/orders/{id}/shipments"),
            json!({ "order_address_id": aid }),
        )
        .await,
        400,
    );
    let too_many = json!({ "order_address_id": aid, "items": [{ "order_product_id": lines[0]["id"], "quantity": 99 }] });
    assert_v2_error(
        &api.post(&format!("/v2/orders/{id}/shipments"), too_many)
            .await,
        422,
    );
    let wrong_address = json!({ "order_address_id": 999999, "items": [{ "order_product_id": lines[0]["id"], "quantity": 1 }] });
    assert_v2_error(
        &api.post(&format!("/v2/orders/{id}/shipments"), wrong_address)
            .await,
        422,
    );

    let first = json!({
        "order_address_id": aid, "tracking_number": "EJ958083578US", "shipping_provider": "usps",
        "items": [{ "order_product_id": lines[0]["id"], "quantity": lines[0]["quantity"] }]
    });
    let r = api.post(&format!("/v2/orders/{id}/shipments"), first).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["items"][0]["product_id"], lines[0]["product_id"]);
    assert_eq!(r.json()["shipping_provider_display_name"], "USPS");
    rfc2822(r.json()["date_created"].as_str().unwrap());
    let after = api.get(&format!("/v2/orders/{id}")).await;
    assert_eq!(
        after.json()["status_id"],
        3,
        "some lines shipped: Partially Shipped"
    );
    assert_eq!(after.json()["items_shipped"], lines[0]["quantity"]);
    assert_eq!(after.json()["date_shipped"], "");

    let rest: Vec<Value> = lines[1..]
        .iter()
        .map(|l| json!({ "order_product_id": l["id"], "quantity": l["quantity"] }))
        .collect();
    let r = api
        .post(
            &format!("/v2/orders/{id}/shipments"),
            json!({ "order_address_id": aid, "items": rest }),
        )
        .await;
    assert_eq!(r.status, 201);
    let sid = r.json()["id"].as_i64().unwrap();
    let after = api.get(&format!("/v2/orders/{id}")).await;
    assert_eq!(after.json()["status_id"], 2);
    assert_eq!(after.json()["status"], "Shipped");
    rfc2822(after.json()["date_shipped"].as_str().unwrap());
    assert_eq!(
        api.get(&format!("/v2/orders/{id}/shipments"))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        api.get(&format!("/v2/orders/{id}/shipments/count"))
            .await
            .json()["count"],
        2
    );

    let put = api
        .put(
            &format!("/v2/orders/{id}/shipments/{sid}"),
            json!({ "tracking_number": "1Z999" }),
        )
        .await;
    assert_eq!(put.json()["tracking_number"], "1Z999");
    assert_eq!(
        api.get(&format!("/v2/orders/{id}/shipments/{sid}"))
            .await
            .json()["tracking_number"],
        "1Z999"
    );
    assert_eq!(
        api.delete(&format!("/v2/orders/{id}/shipments/{sid}"))
            .await
            .status,
        204
    );
    assert_eq!(
        api.get(&format!("/v2/orders/{id}")).await.json()["date_shipped"],
        ""
    );
    assert_eq!(
        api.delete(&format!("/v2/orders/{id}/shipments"))
            .await
            .status,
        204
    );
    assert_eq!(
        api.get(&format!("/v2/orders/{id}/shipments")).await.status,
        204
    );
    assert_eq!(
        api.get(&format!("/v2/orders/{id}")).await.json()["items_shipped"],
        0
    );
}

#[tokio::test]
async fn order_statuses_are_the_fifteen_of_the_spec() {
    let api = start_seeded(SeedSpec::empty()).await;
    let r = api.get("/v2/order_statuses").await;
    let all = r.json().as_array().unwrap();
    assert_eq!(all.len(), 15);
    for (i, s) in all.iter().enumerate() {
        assert_eq!(s["id"], i);
        for f in ["name", "system_label", "custom_label", "system_description"] {
            assert!(s[f].as_str().is_some_and(|v| !v.is_empty()), "{f}");
        }
        assert!(s["order"].is_i64());
    }
    assert_eq!(all[11]["name"], "Awaiting Fulfillment");
    assert_eq!(all[14]["name"], "Partially Refunded");
    assert_eq!(
        api.get("/v2/order_statuses/7").await.json()["name"],
        "Awaiting Payment"
    );
    assert_v2_error(&api.get("/v2/order_statuses/15").await, 404);
}

#[tokio::test]
async fn transactions_are_v3_with_string_order_ids() {
    let api = start_seeded(spec(60)).await;
    let paid = find_order(&api, |o| o["status_id"] == 10).await;
    let id = paid["id"].as_i64().unwrap();
    let r = api.get(&format!("/v3/orders/{id}/transactions")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t = &r.json()["data"][0];
    assert_eq!(
        t["order_id"],
        id.to_string(),
        "V3 transaction order_id is a string"
    );
    assert_eq!(t["event"], "purchase");
    assert_eq!(t["status"], "ok");
    let amount = t["amount"].as_f64().expect("amount is a number");
    let total: f64 = paid["total_inc_tax"].as_str().unwrap().parse().unwrap();
    assert!((amount - total).abs() < 0.005);
    DateTime::parse_from_rfc3339(t["date_created"].as_str().unwrap()).unwrap();
    assert!(r.json()["meta"]["pagination"]["total"].is_u64());

    let pending = find_order(&api, |o| o["status_id"] == 1).await;
    let none = api
        .get(&format!("/v3/orders/{}/transactions", pending["id"]))
        .await;
    assert_eq!(none.status, 204, "no transactions: 204");
    assert!(none.text.is_empty());
    assert_v3_error(&api.get("/v3/orders/999999/transactions").await, 404);
}

#[tokio::test]
async fn seeded_refunds_and_their_filters() {
    let api = start_seeded(spec(300)).await;
    let r = api
        .get("/v3/orders/payment_actions/refunds?limit=250")
        .await;
    assert_eq!(r.status, 200);
    let refunds = r.json()["data"].as_array().unwrap().clone();
    assert!(refunds.len() >= 2, "refunded orders carry refunds");
    assert!(
        refunds
            .windows(2)
            .all(|w| w[0]["id"].as_i64() < w[1]["id"].as_i64()),
        "by id ascending"
    );
    for rf in &refunds {
        let o = api.get(&format!("/v2/orders/{}", rf["order_id"])).await;
        assert!([4, 14].contains(&o.json()["status_id"].as_i64().unwrap()));
        let refunded: f64 = o.json()["refunded_amount"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((rf["total_amount"].as_f64().unwrap() - refunded).abs() < 0.005);
        DateTime::parse_from_rfc3339(rf["created"].as_str().unwrap()).unwrap();
    }
    let first = &refunds[0];
    let oid = first["order_id"].as_i64().unwrap();
    let by_order = api
        .get(&format!(
            "/v3/orders/payment_actions/refunds?order_id:in={oid},999999"
        ))
        .await;
    assert!(
        by_order.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["order_id"] == oid)
    );
    assert_eq!(
        api.get(&format!("/v3/orders/{oid}/payment_actions/refunds"))
            .await
            .json()["data"][0],
        *first
    );
    let by_id = api
        .get(&format!(
            "/v3/orders/payment_actions/refunds?id:in={}",
            first["id"]
        ))
        .await;
    assert_eq!(by_id.json()["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        api.get(&format!(
            "/v3/orders/payment_actions/refunds/{}",
            first["id"]
        ))
        .await
        .json()["data"],
        *first
    );
    assert_v3_error(
        &api.get("/v3/orders/payment_actions/refunds/999999").await,
        404,
    );
    assert_v3_error(
        &api.get("/v3/orders/999999/payment_actions/refunds").await,
        404,
    );

    // created:min / created:max are inclusive, in RFC 3339 (url-encoded).
    let created = first["created"]
        .as_str()
        .unwrap()
        .replace('+', "%2B")
        .replace(':', "%3A");
    let from = api
        .get(&format!(
            "/v3/orders/payment_actions/refunds?limit=250&created:min={created}"
        ))
        .await;
    let until = api
        .get(&format!(
            "/v3/orders/payment_actions/refunds?limit=250&created:max={created}"
        ))
        .await;
    let n = |r: &Resp| r.json()["data"].as_array().unwrap().len();
    assert!(n(&from) >= 1 && n(&until) >= 1);
    assert!(
        n(&from) + n(&until) > refunds.len(),
        "the boundary refund is in both"
    );
    assert_eq!(
        n(&from) + n(&until) - refunds.len(),
        refunds
            .iter()
            .filter(|r| r["created"] == first["created"])
            .count()
    );

    // transaction_id: the refund transaction recorded with it.
    let txs = api.get(&format!("/v3/orders/{oid}/transactions")).await;
    let refund_tx = txs.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["event"] == "refund")
        .unwrap()
        .clone();
    let by_tx = api
        .get(&format!(
            "/v3/orders/payment_actions/refunds?transaction_id={}",
            refund_tx["id"]
        ))
        .await;
    assert_eq!(ids_of(&by_tx), vec![first["id"].as_i64().unwrap()]);
    assert_eq!(
        api.get("/v3/orders/payment_actions/refunds?transaction_id=999999")
            .await
            .json()["data"],
        json!([])
    );
    assert_eq!(
        api.get("/v3/orders/payment_actions/refunds?limit=251")
            .await
            .status,
        413
    );
}

fn ids_of(r: &Resp) -> Vec<i64> {
    r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn refund_quotes_and_refunds_update_the_order() {
    let api = start_seeded(spec(60)).await;
    let o = find_order(&api, |o| o["status_id"] == 11).await;
    let id = o["id"].as_i64().unwrap();
    let lines = api
        .get(&format!("/v2/orders/{id}/products"))
        .await
        .json()
        .as_array()
        .unwrap()
        .clone();
    let line = &lines[0];
    let price: f64 = line["price_inc_tax"].as_str().unwrap().parse().unwrap();
    let items = json!([{ "item_type": "PRODUCT", "item_id": line["id"], "quantity": 1 }]);

    let quote = api
        .post(
            &format!("/v3/orders/{id}/payment_actions/refund_quotes"),
            json!({ "items": items }),
        )
        .await;
    assert_eq!(quote.status, 201, "{}", quote.text);
    let amount = quote.json()["data"]["total_refund_amount"]
        .as_f64()
        .unwrap();
    assert!((amount - price).abs() < 0.005);
    let method = &quote.json()["data"]["refund_methods"][0][0];
    assert!(method["provider_id"].is_string() && method["amount"].is_number());
    assert_v3_error(
        &api.post(
            &format!("/v3/orders/{id}/payment_actions/refund_quotes"),
            json!({ "items": [] }),
        )
        .await,
        422,
    );
    let bad_line =
        json!({ "items": [{ "item_type": "PRODUCT", "item_id": 999999, "quantity": 1 }] });
    assert_v3_error(
        &api.post(
            &format!("/v3/orders/{id}/payment_actions/refund_quotes"),
            bad_line,
        )
        .await,
        422,
    );
    let too_much =
        json!({ "items": [{ "item_type": "ORDER", "item_id": id, "amount": 1_000_000 }] });
    assert_v3_error(
        &api.post(
            &format!("/v3/orders/{id}/payment_actions/refund_quotes"),
            too_much,
        )
        .await,
        422,
    );
    assert_v3_error(
        &api.post(
            "/v3/orders/999999/payment_actions/refund_quotes",
            json!({ "items": items }),
        )
        .await,
        404,
    );

    // The payments must add up to the quoted amount.
    let provider = method["provider_id"].clone();
    let wrong = json!({ "items": items, "payments": [{ "provider_id": provider, "amount": amount + 1.0, "offline": false }] });
    assert_v3_error(
        &api.post(&format!("/v3/orders/{id}/payment_actions/refunds"), wrong)
            .await,
        422,
    );
    assert_eq!(
        api.get(&format!("/v3/orders/{id}/payment_actions/refunds"))
            .await
            .json()["data"],
        json!([])
    );

    let before = rfc2822(o["date_modified"].as_str().unwrap());
    let ok = json!({ "items": items, "payments": [{ "provider_id": provider, "amount": amount, "offline": false }] });
    let r = api
        .post(&format!("/v3/orders/{id}/payment_actions/refunds"), ok)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let refund = r.json()["data"].clone();
    assert_eq!(refund["order_id"], id);
    assert!((refund["total_amount"].as_f64().unwrap() - amount).abs() < 0.005);
    let after = api.get(&format!("/v2/orders/{id}")).await.json().clone();
    assert_eq!(after["status_id"], 14);
    assert_eq!(after["status"], "Partially Refunded");
    assert_eq!(after["payment_status"], "partially refunded");
    let refunded: f64 = after["refunded_amount"].as_str().unwrap().parse().unwrap();
    assert!((refunded - amount).abs() < 0.005);
    assert!(rfc2822(after["date_modified"].as_str().unwrap()) > before);
    let refunded_line = api
        .get(&format!("/v2/orders/{id}/products/{}", line["id"]))
        .await;
    assert_eq!(refunded_line.json()["quantity_refunded"], 1);
    assert_eq!(
        api.get(&format!("/v3/orders/{id}/payment_actions/refunds"))
            .await
            .json()["data"][0],
        refund
    );
    let txs = api.get(&format!("/v3/orders/{id}/transactions")).await;
    assert!(
        txs.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["event"] == "refund")
    );

    // Refund the rest of the order: Refunded.
    let total: f64 = after["total_inc_tax"].as_str().unwrap().parse().unwrap();
    let rest = ((total - refunded) * 100.0).round() / 100.0;
    let all = json!({
        "items": [{ "item_type": "ORDER", "item_id": id, "amount": rest }],
        "payments": [{ "provider_id": provider, "amount": rest, "offline": false }]
    });
    let r = api
        .post(
            &format!("/v3/orders/{id}/payment_actions/refunds"),
            all.clone(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let done = api.get(&format!("/v2/orders/{id}")).await;
    assert_eq!(done.json()["status_id"], 4);
    assert_eq!(done.json()["refunded_amount"], done.json()["total_inc_tax"]);
    assert_v3_error(
        &api.post(&format!("/v3/orders/{id}/payment_actions/refunds"), all)
            .await,
        422,
    );
}

#[tokio::test]
async fn seeds_20k_orders_and_serves_full_pages() {
    let api = start_seeded(SeedSpec {
        orders: 20_000,
        ..spec(0)
    })
    .await;
    let counts = api
        .admin(reqwest::Method::GET, "/_sandbox/counts", None)
        .await;
    let c = counts.json();
    assert_eq!(c["orders"], 20_000);
    assert_eq!(c["order_lines"], 60_000);
    assert_eq!(c["order_shipping_addresses"], 20_000);
    assert!(
        c["transactions"].as_u64().unwrap() > 10_000,
        "paid orders carry transactions"
    );
    assert!(
        c["refunds"].as_u64().unwrap() > 500,
        "refunded orders carry refunds"
    );
    assert!(c["orders_archived"].as_u64().unwrap() > 100);
    let r = api.get("/v2/orders?limit=250&page=40&include=consignments.line_items&consignment_structure=object").await;
    assert_eq!(r.status, 200);
    let page = r.json().as_array().unwrap();
    assert_eq!(page.len(), 250);
    assert!(page.iter().all(|o| {
        o["consignments"]["shipping"][0]["line_items"]
            .as_array()
            .unwrap()
            .len()
            == 3
    }));
    let count = api.get("/v2/orders/count").await;
    assert_eq!(
        count.json()["count"],
        20_000 - c["orders_archived"].as_u64().unwrap()
    );
}

#[test]
fn generates_100k_orders_with_lines() {
    let mut data = bc_sandbox::state::StoreData::default();
    let spec = SeedSpec {
        orders: 100_000,
        lines_per_order: 3,
        coupons: 10,
        customers: 50,
        ..SeedSpec::empty()
    };
    bc_sandbox::seed::generate(&mut data, &spec, Utc::now());
    let counts = data.counts();
    assert_eq!(counts["orders"], 100_000);
    assert_eq!(counts["order_lines"], 300_000);
    assert_eq!(data.orders.get(100_000).map(|o| o.lines.len()), Some(3));
}

#[test]
fn seeding_is_deterministic_and_references_seeded_records() {
    let spec = SeedSpec {
        orders: 500,
        ..spec(0)
    };
    let now = Utc::now();
    let (mut a, mut b) = (
        bc_sandbox::state::StoreData::default(),
        bc_sandbox::state::StoreData::default(),
    );
    bc_sandbox::seed::generate(&mut a, &spec, now);
    bc_sandbox::seed::generate(&mut b, &spec, now);
    assert_eq!(a.counts(), b.counts());
    let customers: std::collections::HashSet<i64> =
        a.customers.customer_refs().iter().map(|c| c.id).collect();
    let products = a.catalog.product_refs();
    let mut guests = 0;
    for id in 1..=500 {
        let (x, y) = (a.orders.get(id).unwrap(), b.orders.get(id).unwrap());
        assert_eq!(
            (
                x.customer_id,
                x.status_id,
                x.total_inc_tax,
                x.date_created,
                x.date_modified,
                x.lines.len()
            ),
            (
                y.customer_id,
                y.status_id,
                y.total_inc_tax,
                y.date_created,
                y.date_modified,
                y.lines.len()
            )
        );
        assert!(x.date_modified >= x.date_created && x.date_modified <= now);
        if x.customer_id == 0 {
            guests += 1;
        } else {
            assert!(
                customers.contains(&x.customer_id),
                "order {id} points at customer {}",
                x.customer_id
            );
        }
        for l in &x.lines {
            if products.is_empty() {
                assert_eq!(l.product_id, 0, "custom lines when the catalog is empty");
            } else {
                let p = products
                    .iter()
                    .find(|p| p.id == l.product_id)
                    .expect("line points at a seeded product");
                match l.variant_id {
                    Some(v) => assert!(p.variant_ids.contains(&v)),
                    None => assert!(p.variant_ids.is_empty()),
                }
            }
        }
    }
    assert!(
        guests > 0 && (customers.is_empty() || guests < 500),
        "some guests, mostly customers"
    );
    let uses: i64 = a.coupons.all().iter().map(|c| c.num_uses).sum();
    let applied: usize = (1..=500)
        .map(|id| a.orders.get(id).unwrap().coupons.len())
        .sum();
    assert_eq!(
        uses, applied as i64,
        "coupon num_uses counts the orders that applied it"
    );
}

/// A write done between two page fetches.
#[derive(Debug, Clone)]
enum Between {
    Create,
    ChangeStatus(u16),
    Touch(u16),
}

fn between() -> impl proptest::strategy::Strategy<Value = Between> {
    use proptest::prelude::*;
    prop_oneof![
        Just(Between::Create),
        any::<u16>().prop_map(Between::ChangeStatus),
        any::<u16>().prop_map(Between::Touch)
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]

    /// Paging by id (the default sort) returns every order that existed at the start
    /// exactly once, in id order, while orders are created and modified between pages.
    #[test]
    fn id_paging_sees_each_order_once_under_writes(
        n in 10usize..120,
        limit in 1usize..40,
        writes in proptest::collection::vec(between(), 1..12),
    ) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let api = start_seeded(SeedSpec { orders: n, ..spec(0) }).await;
            let before: Vec<i64> = ids(&all_orders(&api, "", 250).await);
            let mut seen: Vec<i64> = Vec::new();
            for page in 1.. {
                let r = api.get(&format!("/v2/orders?limit={limit}&page={page}")).await;
                if r.status == 204 {
                    assert!(r.text.is_empty());
                    break;
                }
                assert_eq!(r.status, 200);
                let got = ids(r.json().as_array().unwrap());
                seen.extend(&got);
                // One write after each of the first pages only: a create after every page
                // of one order would keep the last page full forever.
                match writes.get(page - 1) {
                    Some(Between::Create) => {
                        assert_eq!(api.post("/v2/orders", custom_order()).await.status, 200);
                    }
                    Some(Between::ChangeStatus(k)) => {
                        let id = before[usize::from(*k) % before.len()];
                        let status = i64::from(*k % 15);
                        assert_eq!(api.put(&format!("/v2/orders/{id}"), json!({ "status_id": status })).await.status, 200);
                    }
                    Some(Between::Touch(k)) => {
                        let id = before[usize::from(*k) % before.len()];
                        assert_eq!(api.put(&format!("/v2/orders/{id}"), json!({ "staff_notes": format!("n{k}") })).await.status, 200);
                    }
                    None => {}
                }
                if got.len() < limit {
                    break;
                }
            }
            assert!(seen.windows(2).all(|w| w[0] < w[1]), "each order once, in id order: {seen:?}");
            for id in &before {
                assert!(seen.contains(id), "order {id} was skipped");
            }
        });
    }
}
