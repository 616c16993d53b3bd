//! Confirmation tokens for destructive tool calls. A destructive call (delete-product, a raw
//! DELETE) without a token only previews what it would do and gets a token back; the same
//! call repeated with that token does it. A token is bound to the tool and to exactly the
//! arguments of the preview (a digest of their canonical JSON), works once, and expires
//! after [`TOKEN_LIFETIME`]: an agent cannot preview one record and delete another, nor
//! replay a confirmation later.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// How long a preview's token stays valid.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// The argument that carries the token; it is left out of the digest.
pub const TOKEN_ARGUMENT: &str = "confirmation_token";

/// Why a token was refused. Each message says what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "the confirmation token is unknown or was already used (a token works once); call the \
         tool again without confirmation_token to get a new preview and token"
    )]
    Unknown,
    #[error(
        "the confirmation token expired (tokens last {} minutes); call the tool again without \
         confirmation_token to get a new preview and token",
        TOKEN_LIFETIME.as_secs() / 60
    )]
    Expired,
    #[error(
        "the confirmation token was issued for other arguments or another tool, so it was \
         discarded; call the tool without confirmation_token with the arguments you mean, \
         then repeat exactly those arguments with the new token"
    )]
    OtherArguments,
}

struct Pending {
    digest: [u8; 32],
    expires: Instant,
}

/// Tokens issued and not yet used, shared by every session of the server.
#[derive(Default)]
pub struct ConfirmationBook {
    pending: Mutex<HashMap<String, Pending>>,
}

impl ConfirmationBook {
    /// Issues a token for `tool` called with `arguments` (the token argument itself, if
    /// present, is ignored).
    pub fn issue(&self, tool: &str, arguments: &Map<String, Value>) -> String {
        self.issue_at(tool, arguments, Instant::now())
    }

    fn issue_at(&self, tool: &str, arguments: &Map<String, Value>, now: Instant) -> String {
        let token = hex::encode(rand::random::<[u8; 16]>());
        let mut pending = self.pending.lock();
        pending.retain(|_, p| p.expires > now);
        pending.insert(
            token.clone(),
            Pending {
                digest: digest(tool, arguments),
                expires: now + TOKEN_LIFETIME,
            },
        );
        token
    }

    /// Takes `token` for `tool` with `arguments`: `Ok` once for a matching, live token. The
    /// token is gone afterwards whatever the answer.
    pub fn redeem(
        &self,
        token: &str,
        tool: &str,
        arguments: &Map<String, Value>,
    ) -> Result<(), Refusal> {
        self.redeem_at(token, tool, arguments, Instant::now())
    }

    fn redeem_at(
        &self,
        token: &str,
        tool: &str,
        arguments: &Map<String, Value>,
        now: Instant,
    ) -> Result<(), Refusal> {
        let Some(p) = self.pending.lock().remove(token) else {
            return Err(Refusal::Unknown);
        };
        if p.expires <= now {
            return Err(Refusal::Expired);
        }
        if p.digest != digest(tool, arguments) {
            return Err(Refusal::OtherArguments);
        }
        Ok(())
    }
}

/// SHA-256 of the tool name and the arguments' canonical JSON (keys sorted at every level,
/// the token argument left out), so the same arguments in another key order still match.
fn digest(tool: &str, arguments: &Map<String, Value>) -> [u8; 32] {
    let canonical: Map<String, Value> = arguments
        .iter()
        .filter(|(k, _)| k.as_str() != TOKEN_ARGUMENT)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut hasher = Sha256::new();
    hasher.update(tool.as_bytes());
    hasher.update([0]);
    hasher.update(canonical_json(&Value::Object(canonical)).as_bytes());
    hasher.finalize().into()
}

fn canonical_json(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        Value::String((*k).clone()),
                        canonical_json(&map[*k])
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", parts.join(","))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_token_works_once_for_exactly_its_arguments() {
        let book = ConfirmationBook::default();
        let a = args(json!({"id": 7, "opts": {"b": 1, "a": 2}}));
        let token = book.issue("delete-product", &a);
        // Same arguments in another key order, with the token among them: accepted once.
        let again = args(json!({"opts": {"a": 2, "b": 1}, "id": 7, "confirmation_token": token}));
        assert_eq!(book.redeem(&token, "delete-product", &again), Ok(()));
        assert_eq!(
            book.redeem(&token, "delete-product", &again),
            Err(Refusal::Unknown)
        );
    }

    #[test]
    fn other_arguments_or_tool_discard_the_token() {
        let book = ConfirmationBook::default();
        let token = book.issue("delete-product", &args(json!({"id": 7})));
        assert_eq!(
            book.redeem(&token, "delete-product", &args(json!({"id": 8}))),
            Err(Refusal::OtherArguments)
        );
        // Discarded: even the right arguments no longer work.
        assert_eq!(
            book.redeem(&token, "delete-product", &args(json!({"id": 7}))),
            Err(Refusal::Unknown)
        );
        let token = book.issue("delete-product", &args(json!({"id": 7})));
        assert_eq!(
            book.redeem(&token, "raw-api-request", &args(json!({"id": 7}))),
            Err(Refusal::OtherArguments)
        );
    }

    #[test]
    fn tokens_expire() {
        let book = ConfirmationBook::default();
        let start = Instant::now();
        let a = args(json!({"id": 1}));
        let token = book.issue_at("delete-product", &a, start);
        let late = start + TOKEN_LIFETIME + Duration::from_secs(1);
        assert_eq!(
            book.redeem_at(&token, "delete-product", &a, late),
            Err(Refusal::Expired)
        );
        assert_eq!(
            book.redeem(&book.issue("x", &a), "x", &a),
            Ok(()),
            "a fresh token is live"
        );
        assert!(book.redeem("made-up", "x", &a).is_err());
    }
}
