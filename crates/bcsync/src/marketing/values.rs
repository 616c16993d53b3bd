//! Mapped values made to fit their Brevo attribute before anything is sent. Brevo accepts a
//! write whose value does not fit the attribute's type and silently drops the value
//! (docs/brevo-api-notes.md §2.4), so a date that is not a date, a number that is text or a
//! phone without a country code is refused here, with the reason, instead.

use chrono::{DateTime, NaiveDate};
use serde_json::Value;

use brevo::{Attribute, AttributeType};

/// How one attribute takes values: its type, and for category and multiple-choice
/// attributes the options it knows.
#[derive(Debug, Clone, PartialEq)]
pub enum Slot {
    Text,
    Date,
    Float,
    Boolean,
    /// A category attribute: option label (lower-cased) and value.
    Category(Vec<(String, i64)>),
    MultipleChoice(Vec<String>),
    /// The SMS identifier attribute: a phone number with its country code.
    Phone,
}

impl Slot {
    /// The slot of an existing attribute; `None` for types a customer field cannot fill
    /// (id, user, calculated and global attributes).
    pub fn of(attribute: &Attribute) -> Option<Slot> {
        if attribute.name == "SMS" {
            return Some(Slot::Phone);
        }
        if !matches!(attribute.category.as_str(), "normal" | "category") {
            return None;
        }
        if !attribute.enumeration.is_empty() {
            return Some(Slot::Category(
                attribute
                    .enumeration
                    .iter()
                    .map(|o| (o.label.to_lowercase(), o.value))
                    .collect(),
            ));
        }
        Some(match attribute.attr_type {
            None | Some(AttributeType::Text) => Slot::Text,
            Some(AttributeType::Date) => Slot::Date,
            Some(AttributeType::Float) => Slot::Float,
            Some(AttributeType::Boolean) => Slot::Boolean,
            Some(AttributeType::MultipleChoice) => {
                Slot::MultipleChoice(attribute.multi_category_options.clone())
            }
            Some(AttributeType::Category) => Slot::Category(Vec::new()),
            Some(AttributeType::Id | AttributeType::User) => return None,
        })
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Slot::Text => "text",
            Slot::Date => "date",
            Slot::Float => "number",
            Slot::Boolean => "boolean",
            Slot::Category(_) => "category",
            Slot::MultipleChoice(_) => "multiple-choice",
            Slot::Phone => "phone number",
        }
    }
}

/// Makes `value` fit `slot`: `Ok(None)` for an absent value, `Err(reason)` when it cannot
/// fit. `country` is the customer's address country (ISO 3166 alpha-2), used to complete a
/// phone number written without its country code.
pub fn fit(slot: &Slot, value: &Value, country: Option<&str>) -> Result<Option<Value>, String> {
    if value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty()) {
        return Ok(None);
    }
    let shown = || {
        let s = value.to_string();
        if s.len() > 60 {
            format!("{}...", &s[..s.floor_char_boundary(57)])
        } else {
            s
        }
    };
    if value.is_object() || (value.is_array() && !matches!(slot, Slot::MultipleChoice(_))) {
        return Err(format!(
            "{} is a list or an object; map one of its fields instead (e.g. addresses[0].city)",
            shown()
        ));
    }
    match slot {
        Slot::Text => Ok(Some(Value::String(match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }))),
        Slot::Date => match value.as_str().and_then(date_of) {
            Some(d) => Ok(Some(Value::String(d.format("%Y-%m-%d").to_string()))),
            None => Err(format!(
                "{} is not a date (the attribute is a date)",
                shown()
            )),
        },
        Slot::Float => {
            let n = match value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
                _ => None,
            };
            match n.and_then(serde_json::Number::from_f64) {
                Some(n) => Ok(Some(Value::Number(n))),
                None => Err(format!(
                    "{} is not a number (the attribute is a number)",
                    shown()
                )),
            }
        }
        Slot::Boolean => {
            let b = match value {
                Value::Bool(b) => Some(*b),
                Value::Number(n) if n.as_i64() == Some(1) => Some(true),
                Value::Number(n) if n.as_i64() == Some(0) => Some(false),
                Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "yes" | "1" => Some(true),
                    "false" | "no" | "0" => Some(false),
                    _ => None,
                },
                _ => None,
            };
            b.map(|b| Some(Value::Bool(b))).ok_or_else(|| {
                format!(
                    "{} is not true or false (the attribute is a boolean)",
                    shown()
                )
            })
        }
        Slot::Category(options) => {
            let text = match value {
                Value::String(s) => s.trim().to_lowercase(),
                other => other.to_string(),
            };
            options
                .iter()
                .find(|(label, v)| *label == text || v.to_string() == text)
                .map(|(_, v)| Some(Value::from(*v)))
                .ok_or_else(|| {
                    let labels: Vec<&str> = options.iter().map(|(l, _)| l.as_str()).collect();
                    format!(
                        "{} is not one of the category's options ({}); add the option in Brevo or map another field",
                        shown(),
                        labels.join(", ")
                    )
                })
        }
        Slot::MultipleChoice(options) => {
            let items: Vec<String> = match value {
                Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| i.to_string())
                    })
                    .collect(),
                Value::String(s) => s.split(',').map(|p| p.trim().to_owned()).collect(),
                other => vec![other.to_string()],
            };
            if let Some(missing) = items.iter().find(|i| !options.contains(i)) {
                return Err(format!(
                    "`{missing}` is not an option of the multiple-choice attribute ({}); add it in Brevo or map another field",
                    options.join(", ")
                ));
            }
            Ok(Some(Value::from(items)))
        }
        Slot::Phone => {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            phone(&text, country).map(|p| Some(Value::String(p)))
        }
    }
}

/// A date from the forms BigCommerce writes: RFC 3339 (V3), RFC 2822 (V2), or a bare
/// `YYYY-MM-DD`.
fn date_of(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.naive_utc().date())
        .or_else(|_| DateTime::parse_from_rfc2822(s).map(|d| d.naive_utc().date()))
        .ok()
        .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
}

/// A phone number in the international form Brevo keeps (`+` country code and number,
/// docs/brevo-api-notes.md §2.5): `+44 20 7946 0958`, `0044...` and, when the customer's
/// address gives the country, a national number (`020 7946 0958` in GB).
pub fn phone(raw: &str, country: Option<&str>) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed
        .chars()
        .any(|c| c.is_alphabetic() && !matches!(c, 'x' | 'X'))
    {
        return Err(format!("`{trimmed}` is not a phone number"));
    }
    // An extension (`x123`) is not part of the number Brevo texts.
    let number = trimmed.split(['x', 'X']).next().unwrap_or(trimmed);
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let international = if number.trim_start().starts_with('+') {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_owned()
    } else {
        let Some(country) = country.map(|c| c.trim().to_ascii_uppercase()) else {
            return Err(format!(
                "`{trimmed}` has no country code and the customer has no address country to \
                 take it from; store the phone as +<country code> <number>"
            ));
        };
        let Some(code) = calling_code(&country) else {
            return Err(format!(
                "`{trimmed}` has no country code and bcsync does not know the calling code of \
                 {country}; store the phone as +<country code> <number>"
            ));
        };
        // The national trunk prefix (0 in most of Europe, 1 in the NANP) is dropped.
        let national = if code == "1" {
            digits.strip_prefix('1').unwrap_or(&digits)
        } else {
            digits.strip_prefix('0').unwrap_or(&digits)
        };
        format!("{code}{national}")
    };
    if !(8..=15).contains(&international.len()) {
        return Err(format!(
            "`{trimmed}` is not a valid international phone number ({} digits with the country \
             code, where 8 to 15 are possible)",
            international.len()
        ));
    }
    Ok(format!("+{international}"))
}

/// Country calling codes of the countries most stores sell in (ITU-T E.164 assignments).
fn calling_code(iso2: &str) -> Option<&'static str> {
    Some(match iso2 {
        "US" | "CA" | "PR" => "1",
        "GB" | "UK" => "44",
        "IE" => "353",
        "FR" => "33",
        "DE" => "49",
        "ES" => "34",
        "IT" => "39",
        "PT" => "351",
        "NL" => "31",
        "BE" => "32",
        "LU" => "352",
        "CH" => "41",
        "AT" => "43",
        "DK" => "45",
        "SE" => "46",
        "NO" => "47",
        "FI" => "358",
        "PL" => "48",
        "CZ" => "420",
        "GR" => "30",
        "RO" => "40",
        "HU" => "36",
        "AU" => "61",
        "NZ" => "64",
        "JP" => "81",
        "KR" => "82",
        "CN" => "86",
        "HK" => "852",
        "SG" => "65",
        "IN" => "91",
        "MX" => "52",
        "BR" => "55",
        "AR" => "54",
        "CL" => "56",
        "CO" => "57",
        "ZA" => "27",
        "AE" => "971",
        "IL" => "972",
        "TR" => "90",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn phones_become_international_or_are_refused_with_the_reason() {
        assert_eq!(phone("+44 20 7946 0958", None).unwrap(), "+442079460958");
        assert_eq!(phone("0044 20 7946 0958", None).unwrap(), "+442079460958");
        assert_eq!(phone("020 7946 0958", Some("GB")).unwrap(), "+442079460958");
        assert_eq!(phone("(555) 010-4477", Some("us")).unwrap(), "+15550104477");
        assert_eq!(
            phone("1-555-010-4477 x12", Some("US")).unwrap(),
            "+15550104477"
        );
        assert!(
            phone("555 0104", None)
                .unwrap_err()
                .contains("no country code")
        );
        assert!(
            phone("call me", Some("US"))
                .unwrap_err()
                .contains("not a phone number")
        );
        assert!(phone("+1 23", None).unwrap_err().contains("8 to 15"));
        assert!(
            phone("0612345678", Some("ZZ"))
                .unwrap_err()
                .contains("calling code of ZZ")
        );
    }

    #[test]
    fn values_fit_their_attribute_type_or_say_why_not() {
        assert_eq!(
            fit(&Slot::Date, &json!("2024-03-05T10:00:00+00:00"), None).unwrap(),
            Some(json!("2024-03-05"))
        );
        assert_eq!(
            fit(&Slot::Date, &json!("Tue, 05 Mar 2024 10:00:00 +0000"), None).unwrap(),
            Some(json!("2024-03-05"))
        );
        assert!(
            fit(&Slot::Date, &json!("soon"), None)
                .unwrap_err()
                .contains("not a date")
        );
        assert_eq!(
            fit(&Slot::Float, &json!("12.50"), None).unwrap(),
            Some(json!(12.5))
        );
        assert!(fit(&Slot::Float, &json!("twelve"), None).is_err());
        assert_eq!(
            fit(&Slot::Boolean, &json!(1), None).unwrap(),
            Some(json!(true))
        );
        assert_eq!(
            fit(&Slot::Text, &json!(42), None).unwrap(),
            Some(json!("42"))
        );
        assert_eq!(fit(&Slot::Text, &json!(null), None).unwrap(), None);
        assert!(
            fit(&Slot::Text, &json!({"a": 1}), None)
                .unwrap_err()
                .contains("map one of its fields")
        );
        let cat = Slot::Category(vec![("gold".into(), 1), ("silver".into(), 2)]);
        assert_eq!(fit(&cat, &json!("Gold"), None).unwrap(), Some(json!(1)));
        assert!(
            fit(&cat, &json!("bronze"), None)
                .unwrap_err()
                .contains("gold, silver")
        );
        let multi = Slot::MultipleChoice(vec!["a".into(), "b".into()]);
        assert_eq!(
            fit(&multi, &json!("a, b"), None).unwrap(),
            Some(json!(["a", "b"]))
        );
        assert!(fit(&multi, &json!(["c"]), None).is_err());
    }
}
