//! Mapping targets are checked when the syncs are loaded, before any row is read: an
//! unknown field is an error naming the sync, the mapping entry and the closest known
//! name; a read-only field is refused with its reason; the named and dotted forms stay
//! valid. Rejections state the rule itself, never a reference to our API notes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::push_support;

use std::path::Path;

use bcsync::push::config::parse_syncs;
use bcsync::push::mapping::map_row;
use bcsync::sources::Row;
use push_support::*;
use serde_json::json;

fn sync_text(object: &str, key: &str, mapping: &str) -> String {
    format!(
        "[[sync]]\nname = \"crm\"\nobject = \"{object}\"\nmode = \"upsert\"\nmatch_key = \"{key}\"\n\
         source = {{ type = \"csv\", path = \"people.csv\" }}\n[sync.mapping]\n{mapping}"
    )
}

fn load_error(object: &str, key: &str, mapping: &str) -> String {
    parse_syncs(
        &sync_text(object, key, mapping),
        Path::new("bcsync.toml"),
        Path::new("."),
    )
    .unwrap_err()
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelt_field_stops_the_push_before_any_row_with_a_suggestion() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let h = Harness::new(&sb);
    h.write("people.csv", "mail,nick,last\na@x.io,Ann,Lee\n");
    h.write(
        "bcsync.toml",
        &sync_text(
            "customers",
            "email",
            "mail = \"email\"\nnick = \"frist_name\"\nlast = \"last_name\"\n",
        ),
    );
    let out = common::bcsync_in(&sb, h.dir.path(), &["push"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", common::output_text(&out));
    for part in [
        "sync \"crm\"",
        "nick = \"frist_name\"",
        "did you mean first_name?",
    ] {
        assert!(stderr.contains(part), "{part:?} missing from: {stderr}");
    }
    assert_eq!(writes(&sb) + reads(&sb), 0, "no request before the error");
    assert!(
        !h.path("bcsync-push.db").exists(),
        "nothing is created before the error"
    );
}

#[test]
fn unknown_and_read_only_targets_are_refused_known_forms_pass() {
    let e = load_error(
        "customers",
        "email",
        "mail = \"email\"\nnick = \"frist_name\"\n",
    );
    assert!(
        e.contains("customers have no field \"frist_name\"; did you mean first_name?"),
        "{e}"
    );
    let e = load_error(
        "customers",
        "email",
        "mail = \"email\"\ntown = \"addresses.0.ctiy\"\n",
    );
    assert!(e.contains("did you mean addresses.0.city?"), "{e}");
    let e = load_error(
        "products",
        "sku",
        "sku = \"sku\"\nchanged = \"date_modified\"\n",
    );
    assert!(e.contains("date_modified is set by BigCommerce"), "{e}");
    let e = load_error("orders", "id", "id = \"id\"\nref = \"external_id\"\n");
    assert!(e.contains("external_order_id"), "{e}");
    let e = load_error(
        "customers",
        "email",
        "mail = \"email\"\ntown = \"addresses.city\"\n",
    );
    assert!(e.contains("give the item's position"), "{e}");

    for (object, key, mapping) in [
        (
            "customers",
            "email",
            "mail = \"email\"\ntier = \"attributes.tier\"\ntown = \"addresses.0.city\"\nreset = \"authentication.force_password_reset\"\n",
        ),
        (
            "products",
            "sku",
            "sku = \"sku\"\ncolour = \"custom_fields.colour\"\nv = \"variants.0.option_values.0.label\"\nd = \"description\"\n",
        ),
        (
            "orders",
            "id",
            "id = \"id\"\nzip = \"billing_address.zip\"\nq = \"products.0.quantity\"\nref = \"external_order_id\"\n",
        ),
    ] {
        parse_syncs(
            &sync_text(object, key, mapping),
            Path::new("bcsync.toml"),
            Path::new("."),
        )
        .unwrap_or_else(|e| panic!("{object}: {e}"));
    }
}

#[test]
fn create_rules_are_stated_not_cited() {
    let cases = [
        (
            "customers",
            "email",
            "mail = \"email\"\ngiven = \"first_name\"\nfamily = \"last_name\"\n",
            json!({"mail": "a@x.io", "given": "Ann", "family": null}),
            "email, first_name and last_name must all have a value",
        ),
        (
            "customers",
            "email",
            "mail = \"email\"\ngiven = \"first_name\"\nfamily = \"last_name\"\ntown = \"addresses.0.city\"\n",
            json!({"mail": "a@x.io", "given": "Ann", "family": "Lee", "town": "Oslo"}),
            "first_name, last_name, address1, city and country_code must all have a value",
        ),
        (
            "products",
            "sku",
            "sku = \"sku\"\ntitle = \"name\"\n",
            json!({"sku": "A-1", "title": null}),
            "name, type, weight and price must all have a value",
        ),
        (
            "orders",
            "id",
            "id = \"id\"\nzip = \"billing_address.zip\"\n",
            json!({"id": "5", "zip": "1"}),
            "must be at least 2 characters",
        ),
    ];
    for (object, key, mapping, values, rule) in cases {
        let def = parse_syncs(
            &sync_text(object, key, mapping),
            Path::new("bcsync.toml"),
            Path::new("."),
        )
        .unwrap()
        .remove(0);
        let fields = def.fields().unwrap();
        let row = Row::new(1, values.as_object().unwrap().clone());
        let reason = map_row(&def, &fields, &row).unwrap_err().reason;
        assert!(reason.contains(rule), "{object}: {reason}");
        assert!(!reason.contains("FACTS"), "{object}: {reason}");
    }
}
