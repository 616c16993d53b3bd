//! Configuration: `bcsync.toml` (or `--config FILE`), overridden by environment variables
//! (`BIGCOMMERCE_STORE_HASH`, `BIGCOMMERCE_ACCESS_TOKEN`, `BIGCOMMERCE_BASE_URL`), overridden
//! by command-line flags. The access token never needs the command line and is held as a
//! `SecretString`, so it cannot reach a log line through `Debug`.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

use crate::error::{Error, Result};

pub const ENV_STORE_HASH: &str = "BIGCOMMERCE_STORE_HASH";
pub const ENV_ACCESS_TOKEN: &str = "BIGCOMMERCE_ACCESS_TOKEN";
pub const ENV_BASE_URL: &str = "BIGCOMMERCE_BASE_URL";
pub const DEFAULT_CONFIG_FILE: &str = "bcsync.toml";

/// The `bcsync.toml` file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub store_hash: Option<String>,
    pub access_token: Option<SecretString>,
    pub base_url: Option<String>,
    /// Push state store (tracking and run records), as `bcsync push --state` takes it.
    pub state: Option<String>,
    /// Bearer token `bcsync mcp --http` requires (else `BCSYNC_MCP_TOKEN`, else generated).
    pub mcp_token: Option<SecretString>,
    /// Bearer token `bcsync ui` requires when bound beyond loopback (else
    /// `BCSYNC_UI_TOKEN`, else generated).
    pub ui_token: Option<SecretString>,
    #[serde(default)]
    pub extract: ExtractSection,
    /// `[models.inventory]` options (see `bcsync models list`).
    #[serde(default)]
    pub models: crate::models::ModelsConfig,
    /// `[[sync]]` tables for `bcsync push` (parsed by `push::config`).
    #[serde(default)]
    pub sync: Vec<toml::Value>,
    /// `[brevo]` for `bcsync brevo` (parsed by `marketing::config`).
    pub brevo: Option<toml::Value>,
    /// `[[alert]]` tables (parsed by `alerts::config`).
    #[serde(default)]
    pub alert: Vec<toml::Value>,
    /// `[debug]`: body capture for the dashboard's live debugger.
    #[serde(default)]
    pub debug: DebugSection,
}

/// `[debug]` in `bcsync.toml`: what the run stores keep of each request beyond its line
/// (method, path, status, latency) for the dashboard's live debugger. Off by default:
/// headers and bodies hold customers' personal data, so they are kept only when asked.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebugSection {
    /// Keep each request's headers and bodies (as `--capture-bodies`), redacted.
    #[serde(default)]
    pub capture_bodies: bool,
    /// Personal fields whose values are replaced by `<redacted>` in captured JSON bodies,
    /// matched by key name at any depth, case-insensitively (secret-looking keys such as
    /// `token` or `password` always are).
    #[serde(default)]
    pub redact_fields: Vec<String>,
    /// The longest body kept, in bytes (default 65536); a longer one is cut and marked.
    pub max_body_bytes: Option<usize>,
}

impl DebugSection {
    /// The client's capture options: `None` (nothing captured) unless `capture_bodies` is
    /// set here or `flag` (`--capture-bodies`) is given.
    pub fn capture(&self, flag: bool) -> Option<bigcommerce::CaptureOptions> {
        (flag || self.capture_bodies).then(|| bigcommerce::CaptureOptions {
            redact_fields: self.redact_fields.clone(),
            max_body_bytes: self
                .max_body_bytes
                .unwrap_or(bigcommerce::capture::DEFAULT_MAX_BODY_BYTES),
        })
    }
}

/// `[extract]` in `bcsync.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractSection {
    /// Destination, as `--to` takes it.
    pub to: Option<String>,
    /// Streams to extract (all when absent).
    pub streams: Option<Vec<String>>,
    /// Streams extracted at once.
    pub stream_concurrency: Option<usize>,
    /// Date windows of one incremental stream read at once, as `--window-concurrency`.
    pub window_concurrency: Option<usize>,
    /// Model sets refreshed after each extraction, as `--models` takes them.
    pub models: Option<Vec<String>>,
    /// Channels (storefronts) to extract, as `--channel` takes them (all when absent).
    pub channels: Option<Vec<i64>>,
}

/// What is needed to reach a store.
#[derive(Debug, Clone)]
pub struct StoreConnection {
    pub store_hash: String,
    pub access_token: SecretString,
    pub base_url: Option<String>,
}

/// Reads the config file: the given path (which must exist), else `./bcsync.toml` when
/// present, else an empty config.
pub fn load(path: Option<&Path>) -> Result<FileConfig> {
    let path: PathBuf = match path {
        Some(p) => p.to_owned(),
        None => {
            let default = PathBuf::from(DEFAULT_CONFIG_FILE);
            if !default.exists() {
                return Ok(FileConfig::default());
            }
            default
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| config_file_error(&path, &text, &e))
}

/// A TOML or value error in the config file, told as the line that holds it and the form
/// the value must have (TOML's own text is a multi-line snippet naming Rust types).
pub fn config_file_error(path: &Path, text: &str, e: &toml::de::Error) -> Error {
    let message = crate::error::plain_serde_message(e.message());
    let detail = match e.span() {
        Some(span) => {
            let start = span.start.min(text.len());
            let line_no = text[..start].matches('\n').count() + 1;
            let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
            format!("line {line_no} (`{line}`): {message}; fix that line")
        }
        None => format!("is not a valid bcsync config: {message}; fix the file"),
    };
    Error::ConfigFile {
        path: path.display().to_string(),
        // The line may hold a database URL with its password.
        detail: crate::pg::redact_in(&detail),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl FileConfig {
    /// The store hash without the token (flag > environment > file), for commands that
    /// only need to name the store's PostgreSQL schema.
    pub fn store_hash(&self, flag: Option<&str>) -> Option<String> {
        flag.map(str::to_owned)
            .or_else(|| env(ENV_STORE_HASH))
            .or_else(|| self.store_hash.clone())
    }

    /// Resolves the store connection: flag > environment > file.
    pub fn connection(
        &self,
        store_hash_flag: Option<&str>,
        base_url_flag: Option<&str>,
    ) -> Result<StoreConnection> {
        let store_hash = self.store_hash(store_hash_flag).ok_or(Error::NoStoreHash)?;
        let access_token = env(ENV_ACCESS_TOKEN)
            .map(SecretString::from)
            .or_else(|| self.access_token.clone())
            .ok_or(Error::NoAccessToken)?;
        let base_url = base_url_flag
            .map(str::to_owned)
            .or_else(|| env(ENV_BASE_URL))
            .or_else(|| self.base_url.clone());
        Ok(StoreConnection {
            store_hash,
            access_token,
            base_url,
        })
    }
}

impl StoreConnection {
    /// A client for this store.
    pub fn client(&self) -> Result<bigcommerce::Client> {
        Ok(bigcommerce::Client::new(self.client_config())?)
    }

    /// The client configuration for this store with the default patience, for callers
    /// that tune it (`bcsync mcp` waits less for rate limits).
    pub fn client_config(&self) -> bigcommerce::ClientConfig {
        let cfg =
            bigcommerce::ClientConfig::new(self.store_hash.clone(), self.access_token.clone());
        match &self.base_url {
            Some(url) => cfg.with_base_url(url.clone()),
            None => cfg,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_and_keeps_token_out_of_debug() {
        let cfg: FileConfig = toml::from_str(
            "store_hash = \"abc\"\naccess_token = \"supersecrettoken123\"\n[extract]\nto = \"sqlite:x.db\"\nstreams = [\"orders\"]\n",
        )
        .unwrap();
        assert_eq!(cfg.store_hash.as_deref(), Some("abc"));
        assert!(!format!("{cfg:?}").contains("supersecrettoken123"));
        assert_eq!(cfg.extract.streams, Some(vec!["orders".to_owned()]));
    }

    #[test]
    fn capture_is_off_unless_the_file_or_the_flag_turns_it_on() {
        let off: FileConfig = toml::from_str("store_hash = \"abc\"\n").unwrap();
        assert_eq!(off.debug.capture(false), None);
        let flagged = off.debug.capture(true).unwrap();
        assert!(flagged.redact_fields.is_empty());
        assert_eq!(flagged.max_body_bytes, 64 * 1024);
        let on: FileConfig = toml::from_str(
            "[debug]\ncapture_bodies = true\nredact_fields = [\"email\", \"phone\"]\nmax_body_bytes = 1000\n",
        )
        .unwrap();
        let options = on.debug.capture(false).unwrap();
        assert_eq!(options.redact_fields, ["email", "phone"]);
        assert_eq!(options.max_body_bytes, 1000);
    }

    #[test]
    fn unknown_keys_are_refused_with_the_file_named() {
        let err = toml::from_str::<FileConfig>("stor_hash = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("stor_hash"), "{err}");
    }

    #[test]
    fn a_value_of_the_wrong_form_names_its_line_and_no_rust_type() {
        let text = "store_hash = \"abc\"\n[extract]\nstream_concurrency = \"six\"\n";
        let e = toml::from_str::<FileConfig>(text).unwrap_err();
        let msg = config_file_error(Path::new("bcsync.toml"), text, &e).to_string();
        assert!(
            msg.starts_with("bcsync.toml line 3 (`stream_concurrency = \"six\"`)"),
            "{msg}"
        );
        assert!(msg.contains("expected a whole number"), "{msg}");
        assert!(!msg.contains("usize") && !msg.contains('\n'), "{msg}");
    }
}
