//! Reading V2 write bodies: typed field accessors that turn bad input into V2 errors
//! naming the field and saying what to send instead.
//!
//! Status codes: a body that is not an object, a field of the wrong type, a missing
//! required field or a read-only field is **400** (a malformed request); a well-formed
//! value the store cannot accept (unknown product, customer or line, a quantity below 1,
//! a too-short zip) is **422** (docs/api-notes.md §0.2: "missing or invalid data").

use serde_json::{Map, Value};

use super::model::{Address, Money, Text};
use crate::error::{ApiError, ApiVersion};

pub(super) type Obj = Map<String, Value>;

pub(super) fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(ApiVersion::V2, msg)
}

pub(super) fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(
        ApiVersion::V2,
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        msg,
    )
}

pub(super) fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Obj, ApiError> {
    v.as_object()
        .ok_or_else(|| bad(format!("{what} must be a JSON object.")))
}

/// The real API's wording for read-only fields (docs/api-notes.md §0.3).
pub(super) fn reject_read_only(map: &Obj, read_only: &[&str]) -> Result<(), ApiError> {
    match read_only.iter().find(|k| map.contains_key(**k)) {
        Some(k) => Err(bad(format!(
            "The field '{k}' cannot be written to. Please remove it from your request before trying again."
        ))),
        None => Ok(()),
    }
}

/// A string field; `null` counts as absent.
pub(super) fn text(map: &Obj, key: &str) -> Result<Option<Text>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(Text::Owned(s.clone()))),
        // Ids and zips are often sent as numbers; V2 takes them.
        Some(Value::Number(n)) => Ok(Some(Text::Owned(n.to_string()))),
        Some(_) => Err(bad(format!("The field '{key}' must be a string."))),
    }
}

/// An integer field, as a number or a numeric string.
pub(super) fn int(map: &Obj, key: &str) -> Result<Option<i64>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| bad(format!("The field '{key}' must be an integer."))),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| bad(format!("The field '{key}' must be an integer; got {s:?}."))),
        Some(_) => Err(bad(format!("The field '{key}' must be an integer."))),
    }
}

pub(super) fn required_int(map: &Obj, key: &str, what: &str) -> Result<i64, ApiError> {
    int(map, key)?.ok_or_else(|| bad(format!("The field '{key}' is required {what}.")))
}

/// A money field ("Float, Float-As-String, Integer"); the spec says these can't be negative.
pub(super) fn money(map: &Obj, key: &str) -> Result<Option<Money>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match Money::from_json(v) {
            Some(m) if m.0 < 0 => Err(invalid(format!("The field '{key}' can't be negative."))),
            Some(m) => Ok(Some(m)),
            None => Err(bad(format!(
                "The field '{key}' must be a number or a numeric string such as \"12.50\"."
            ))),
        },
    }
}

pub(super) fn boolean(map: &Obj, key: &str) -> Result<Option<bool>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(bad(format!("The field '{key}' must be true or false."))),
    }
}

pub(super) fn array<'a>(map: &'a Obj, key: &str) -> Result<Option<&'a Vec<Value>>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(_) => Err(bad(format!("The field '{key}' must be an array."))),
    }
}

/// Money overrides come in pairs (docs/api-notes.md §6.4): both or neither.
pub(super) fn money_pair(
    map: &Obj,
    ex_key: &str,
    inc_key: &str,
) -> Result<Option<(Money, Money)>, ApiError> {
    match (money(map, ex_key)?, money(map, inc_key)?) {
        (None, None) => Ok(None),
        (Some(ex), Some(inc)) => Ok(Some((ex, inc))),
        (Some(_), None) => Err(bad(format!(
            "The field '{inc_key}' is required when '{ex_key}' is given."
        ))),
        (None, Some(_)) => Err(bad(format!(
            "The field '{ex_key}' is required when '{inc_key}' is given."
        ))),
    }
}

/// Writes the given address fields over `a` (PATCH semantics: absent fields stay).
pub(super) fn apply_address(a: &mut Address, map: &Obj) -> Result<(), ApiError> {
    let fields: [(&str, &mut Text); 12] = [
        ("first_name", &mut a.first_name),
        ("last_name", &mut a.last_name),
        ("company", &mut a.company),
        ("street_1", &mut a.street_1),
        ("street_2", &mut a.street_2),
        ("city", &mut a.city),
        ("state", &mut a.state),
        ("zip", &mut a.zip),
        ("country", &mut a.country),
        ("country_iso2", &mut a.country_iso2),
        ("phone", &mut a.phone),
        ("email", &mut a.email),
    ];
    for (key, slot) in fields {
        if let Some(v) = text(map, key)? {
            *slot = v;
        }
    }
    if let Some(ff) = array(map, "form_fields")? {
        a.form_fields = ff.clone();
    }
    // Either country form is enough (docs/api-notes.md §6.4); fill the other for the common ones.
    if a.country.is_empty() && !a.country_iso2.is_empty() {
        a.country = Text::Borrowed(country_name(&a.country_iso2));
    } else if a.country_iso2.is_empty() && !a.country.is_empty() {
        a.country_iso2 = Text::Borrowed(country_iso2(&a.country));
    }
    Ok(())
}

const COUNTRIES: [(&str, &str); 8] = [
    ("US", "United States"),
    ("CA", "Canada"),
    ("GB", "United Kingdom"),
    ("AU", "Australia"),
    ("DE", "Germany"),
    ("FR", "France"),
    ("NZ", "New Zealand"),
    ("IE", "Ireland"),
];

fn country_name(iso2: &str) -> &'static str {
    COUNTRIES
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(iso2))
        .map_or("", |(_, n)| n)
}

fn country_iso2(name: &str) -> &'static str {
    COUNTRIES
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name))
        .map_or("", |(c, _)| c)
}

/// A billing address for a new order: an object with a zip of 2+ characters and a
/// country (docs/api-notes.md §6.4).
pub(super) fn billing_address(v: Option<&Value>) -> Result<Address, ApiError> {
    let v = v.filter(|v| !v.is_null()).ok_or_else(|| {
        bad("The field 'billing_address' is required. Send at least first_name, last_name, street_1, city, state, zip, country (or country_iso2) and email.")
    })?;
    let map = object(v, "The field 'billing_address'")?;
    let mut a = Address::default();
    apply_address(&mut a, map)?;
    check_billing(&a)?;
    Ok(a)
}

pub(super) fn check_billing(a: &Address) -> Result<(), ApiError> {
    if a.zip.trim().chars().count() < 2 {
        return Err(invalid(
            "The billing address zip must be at least 2 characters.",
        ));
    }
    if a.country.is_empty() && a.country_iso2.is_empty() {
        return Err(invalid(
            "The billing address needs a country or a country_iso2.",
        ));
    }
    Ok(())
}
