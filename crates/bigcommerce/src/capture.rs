//! Body capture for debugging: when a caller turns it on ([`crate::Client::with_capture`]),
//! the observer's events carry the request's headers and body and the response's body,
//! so a debugger can show what was sent and what came back.
//!
//! Rules, all applied here so nothing unredacted ever leaves the client:
//! - the access token never appears: secret headers read `<redacted>`, and any text that
//!   still holds the token's value has it replaced;
//! - in JSON bodies, the values of secret-looking keys ([`SECRET_KEYS`]) and of the
//!   personal fields the user lists are replaced by `<redacted>`, matched by key name at
//!   any depth, case-insensitively;
//! - a body that is not JSON cannot be read for fields and is kept as text (lossy UTF-8);
//! - bodies are cut to [`CaptureOptions::max_body_bytes`] (after redaction, so a cut never
//!   leaves half a personal value unredacted) and marked as cut.

use serde_json::Value;

/// What replaces a redacted value.
pub const REDACTED: &str = "<redacted>";

/// The longest body kept by default: 64 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Keys whose values are always redacted, whatever the user lists: a key is secret when
/// its lowercased name contains one of these.
pub const SECRET_KEYS: &[&str] = &[
    "token",
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "authorization",
    "client_id",
    "credential",
];

/// How the client captures bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureOptions {
    /// Personal fields to redact in JSON bodies, by key name (case-insensitive).
    pub redact_fields: Vec<String>,
    /// The longest body kept, in bytes.
    pub max_body_bytes: usize,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        Self {
            redact_fields: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// A captured body, redacted and bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedBody {
    /// The body as text: compact JSON when it was JSON, else the bytes as UTF-8.
    pub text: String,
    /// The body as sent or received was longer than `text` holds.
    pub truncated: bool,
    /// The body's size on the wire, in bytes.
    pub bytes: usize,
}

/// What an event carries when capture is on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The request's headers, names lowercased, secrets redacted.
    pub request_headers: Vec<(String, String)>,
    pub request_body: Option<CapturedBody>,
    /// `None` when no response arrived or it had no body.
    pub response_body: Option<CapturedBody>,
}

/// Whether `key`'s value is redacted: a secret-looking key, or a listed field named by the
/// key itself, by its last `.`-separated part (BigCommerce's 422 errors name fields as
/// `0.email`, and quote the value sent), or by its last `_`-separated part
/// (`billing_email` for `email`). Case and `-`/`_` do not matter.
fn is_listed(key: &str, fields: &[String]) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    if SECRET_KEYS.iter().any(|s| key.contains(s)) {
        return true;
    }
    let last = key.rsplit('.').next().unwrap_or(&key);
    let suffix = last.rsplit('_').next().unwrap_or(last);
    fields.iter().any(|f| {
        let f = f.trim().to_ascii_lowercase().replace('-', "_");
        !f.is_empty() && (f == key || f == last || f == suffix)
    })
}

/// Replaces, in place, the values of secret keys and of `fields` at any depth; and the
/// `value` of a name/value pair whose `name` or `key` is such a field (custom form fields
/// and attribute values: `{"name": "Phone", "value": "..."}`).
pub fn redact_json(value: &mut Value, fields: &[String]) {
    match value {
        Value::Object(map) => {
            let named = ["name", "key"].iter().any(|k| {
                map.get(*k)
                    .and_then(Value::as_str)
                    .is_some_and(|n| is_listed(n, fields))
            });
            for (key, v) in map.iter_mut() {
                if is_listed(key, fields) || (named && key == "value") {
                    *v = Value::String(REDACTED.to_owned());
                } else {
                    redact_json(v, fields);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_json(v, fields)),
        _ => {}
    }
}

/// The body as it may be shown: JSON redacted of secrets and `options.redact_fields`,
/// every occurrence of `token` replaced, then cut to `options.max_body_bytes` on a
/// character boundary. `None` for an empty body.
pub fn capture_body(body: &[u8], options: &CaptureOptions, token: &str) -> Option<CapturedBody> {
    if body.is_empty() {
        return None;
    }
    let mut text = match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            redact_json(&mut value, &options.redact_fields);
            value.to_string()
        }
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let token = token.trim();
    if !token.is_empty() && text.contains(token) {
        text = text.replace(token, REDACTED);
    }
    let truncated = text.len() > options.max_body_bytes;
    if truncated {
        let mut end = options.max_body_bytes;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    Some(CapturedBody {
        text,
        truncated,
        bytes: body.len(),
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn listed_fields_match_suffixes_error_keys_and_name_value_pairs() {
        let fields = vec!["email".to_owned(), "Phone".to_owned()];
        let mut v = serde_json::json!({
            "billing_email": "a@example.com",
            "errors": {"0.email": "a@example.com is taken"},
            "form_fields": [{"name": "phone", "value": "555-0100"}, {"name": "color", "value": "red"}],
            "x-api-key": "k",
            "emailed": "kept",
        });
        redact_json(&mut v, &fields);
        assert_eq!(v["billing_email"], REDACTED);
        assert_eq!(v["errors"]["0.email"], REDACTED);
        assert_eq!(v["form_fields"][0]["value"], REDACTED);
        assert_eq!(v["form_fields"][1]["value"], "red");
        assert_eq!(v["x-api-key"], REDACTED);
        assert_eq!(v["emailed"], "kept");
    }

    use super::*;
    use serde_json::json;

    fn opts(fields: &[&str]) -> CaptureOptions {
        CaptureOptions {
            redact_fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            ..CaptureOptions::default()
        }
    }

    fn captured(body: &Value, fields: &[&str]) -> Value {
        let c = capture_body(body.to_string().as_bytes(), &opts(fields), "t0k3n-xyz").unwrap();
        assert!(!c.truncated);
        serde_json::from_str(&c.text).unwrap()
    }

    #[test]
    fn listed_fields_are_redacted_at_any_depth_whatever_their_case() {
        let body = json!({
            "data": [
                {"id": 1, "Email": "ann@example.com", "addresses": [{"phone": "555", "city": "Oslo"}]},
                {"id": 2, "email": null, "notes": {"PHONE": ["1", "2"]}}
            ],
            "meta": {"total": 2}
        });
        let out = captured(&body, &["email", "Phone"]);
        assert_eq!(
            out,
            json!({
                "data": [
                    {"id": 1, "Email": REDACTED, "addresses": [{"phone": REDACTED, "city": "Oslo"}]},
                    {"id": 2, "email": REDACTED, "notes": {"PHONE": REDACTED}}
                ],
                "meta": {"total": 2}
            })
        );
    }

    #[test]
    fn secret_keys_are_redacted_even_when_nothing_is_listed() {
        let body = json!([{"access_token": "a", "Password": "b", "client_secret": "c",
                           "api_key": "d", "name": "keep"}]);
        let out = captured(&body, &[]);
        assert_eq!(
            out,
            json!([{"access_token": REDACTED, "Password": REDACTED, "client_secret": REDACTED,
                    "api_key": REDACTED, "name": "keep"}])
        );
    }

    #[test]
    fn a_body_that_is_not_json_is_kept_as_text_without_the_token() {
        let body = b"<html>bad gateway, token s3cr3t</html>";
        let c = capture_body(body, &opts(&["email"]), "s3cr3t").unwrap();
        assert_eq!(c.text, "<html>bad gateway, token <redacted></html>");
        assert!(!c.truncated);
        assert_eq!(c.bytes, body.len());
    }

    #[test]
    fn the_token_is_replaced_wherever_it_appears_in_json_values() {
        let c = capture_body(br#"{"note":"was s3cr3t"}"#, &opts(&[]), "s3cr3t").unwrap();
        assert_eq!(c.text, r#"{"note":"was <redacted>"}"#);
    }

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary_after_redaction() {
        // Keys serialize in order: the redacted email, then the text cut mid-character.
        let body = json!({"email": "x".repeat(100), "text": "é".repeat(100)});
        let options = CaptureOptions {
            redact_fields: vec!["email".into()],
            max_body_bytes: 41,
        };
        let c = capture_body(body.to_string().as_bytes(), &options, "tok").unwrap();
        assert!(c.truncated);
        assert_eq!(
            c.text,
            format!(r#"{{"email":"{REDACTED}","text":"{}"#, "é".repeat(5))
        );
        assert!(!c.text.contains("xxx"));
        assert_eq!(c.bytes, body.to_string().len());
    }

    #[test]
    fn an_empty_body_is_none() {
        assert_eq!(capture_body(b"", &opts(&[]), "tok"), None);
    }
}
