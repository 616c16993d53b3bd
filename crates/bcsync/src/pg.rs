//! PostgreSQL connections: the one place that parses a `postgres://` URL, sets up TLS,
//! connects, and turns driver errors into messages that say what to do. The destination,
//! the push source and the state store all connect through [`PgTarget::connect`].
//!
//! URLs: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAMS]`, or `postgres` alone,
//! which reads `DATABASE_URL`. Besides the driver's own parameters we take `schema=NAME`
//! (where bcsync's tables go) and libpq's TLS parameters, with libpq's meaning:
//!
//! | `sslmode`          | encrypted            | certificate checked                    |
//! |--------------------|----------------------|----------------------------------------|
//! | `disable`          | no                   | -                                      |
//! | `allow`, `prefer` (default) | if the server offers it | no                      |
//! | `require`          | yes                  | no (chain only if `sslrootcert` is set, as libpq) |
//! | `verify-ca`        | yes                  | chain to a trusted root                |
//! | `verify-full`      | yes                  | chain and host name                    |
//!
//! `sslrootcert=FILE` (PEM) names the trusted roots; `sslrootcert=system`, or no
//! `sslrootcert` and no `~/.postgresql/root.crt`, means the operating system's roots (libpq
//! would refuse to verify without a root file; the system store is what a managed database's
//! public certificate chains to). Against the system roots the host name is always checked
//! (`verify-ca` acts as `verify-full`): a chain check alone would accept any publicly trusted
//! certificate. `sslcert=`/`sslkey=` (PEM) give a client certificate.
//! TLS is rustls with the aws-lc-rs provider, the same stack the API client uses.
//!
//! Passwords never appear in errors, logs or [`PgTarget::shown`].

use std::fmt::Write as _;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::Client;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Result};

/// Environment variable read when a PostgreSQL URL is asked for and `postgres` is given alone.
pub const ENV_DATABASE_URL: &str = "DATABASE_URL";

/// Returns the connection URL when `spec` names PostgreSQL: a `postgres://` or
/// `postgresql://` URL, or `postgres`/`postgresql` alone (then `DATABASE_URL`).
pub fn url_from_spec(spec: &str) -> Result<Option<String>> {
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        return Ok(Some(spec.to_owned()));
    }
    if spec == "postgres" || spec == "postgresql" {
        let url = std::env::var(ENV_DATABASE_URL)
            .ok()
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| Error::NoDatabaseUrl {
                spec: spec.to_owned(),
            })?;
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::DatabaseUrlNotPostgres);
        }
        return Ok(Some(url));
    }
    Ok(None)
}

/// The same URL with `schema=` set to `schema` (any earlier `schema=` dropped): how a
/// fleet worker hands a job its destination schema in the fleet's database.
pub fn url_with_schema(url: &str, schema: &str) -> Result<String> {
    let mut parsed = url::Url::parse(url).map_err(|e| Error::PostgresUrl { why: e.to_string() })?;
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != "schema")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    parsed
        .query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("schema", schema);
    Ok(parsed.to_string())
}

/// The URL parameters bcsync itself reads.
const OWN_PARAMETERS: &[&str] = &["schema", "sslmode", "sslrootcert", "sslcert", "sslkey"];

/// The URL parameters passed on to the driver (tokio-postgres's connection-string keys).
const DRIVER_PARAMETERS: &[&str] = &[
    "user",
    "password",
    "dbname",
    "options",
    "application_name",
    "sslnegotiation",
    "host",
    "hostaddr",
    "port",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
];

/// Why a URL parameter is refused: its name, the closest known one, and the known ones.
fn unknown_parameter(name: &str) -> String {
    let known = OWN_PARAMETERS.iter().chain(DRIVER_PARAMETERS);
    let closest = known
        .clone()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min();
    let hint = closest
        .map(|(_, k)| format!(" (did you mean {k}?)"))
        .unwrap_or_default();
    let list: Vec<&str> = known.copied().collect();
    format!(
        "unknown parameter `{name}`{hint}; the parameters understood are {}",
        list.join(", ")
    )
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `spec` fit for anything a user sees (messages, summaries, reports): a URL's password
/// and any `password=` parameter become `***`, whatever the scheme, even when the URL is
/// malformed. The one way bcsync shows a destination, source or state store spec.
pub fn redact(spec: &str) -> String {
    if let Ok(mut u) = url::Url::parse(spec)
        && u.has_host()
    {
        if u.password().is_some() {
            let _ = u.set_password(Some("***"));
        }
        if u.query_pairs().any(|(k, _)| is_secret_parameter(&k)) {
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| {
                    let v = if is_secret_parameter(&k) {
                        "***".to_owned()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            u.query_pairs_mut().clear().extend_pairs(pairs);
        }
        return u.to_string();
    }
    // Not a URL the parser accepts (a bad port, a stray character): mask by hand whatever
    // sits between `scheme://user:` and the last `@`, and every `password=` value.
    let mut out = spec.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let auth_start = scheme_end + 3;
        if let Some(at) = out[auth_start..].rfind('@').map(|i| auth_start + i)
            && let Some(colon) = out[auth_start..at].find(':').map(|i| auth_start + i)
        {
            out.replace_range(colon + 1..at, "***");
        }
    }
    for key in ["password=", "sslpassword="] {
        let mut from = 0;
        while let Some(i) = out[from..].find(key).map(|i| from + i + key.len()) {
            let end = out[i..].find('&').map_or(out.len(), |e| i + e);
            out.replace_range(i..end, "***");
            from = i + 3;
        }
    }
    out
}

/// `text` with every URL in it passed through [`redact`]: for messages that quote a line
/// of a config file or a value, where a URL may sit among other words.
pub fn redact_in(text: &str) -> String {
    if !text.contains("://") && !text.contains("password=") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.contains("://") || word.contains("password=") {
            out.push_str(&redact(word));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '(' | ')' | ',' | '<' | '>') {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn is_secret_parameter(key: &str) -> bool {
    key == "password" || key == "sslpassword"
}

/// Quotes an identifier (field names come from the API: never trust them).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The default schema of a store: `bc_` and the store hash, lowercased, restricted to
/// `[a-z0-9_]` so it never needs quoting by hand.
pub fn default_schema(store_hash: &str) -> String {
    let clean: String = store_hash
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    format!("bc_{clean}")
}

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verify {
    /// Encrypt only (libpq's `prefer` and `require`).
    Nothing,
    /// The chain must lead to a trusted root; any host name (`verify-ca`).
    Chain,
    /// Chain and host name (`verify-full`).
    Full,
}

/// Where trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Roots {
    System,
    File(PathBuf),
}

/// The TLS half of a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TlsSettings {
    verify: Verify,
    roots: Roots,
    client_cert: Option<(PathBuf, PathBuf)>,
}

/// The parsed target: connection settings, the schema, and a printable form without the
/// password.
#[derive(Clone)]
pub struct PgTarget {
    pub(crate) config: tokio_postgres::Config,
    /// `postgres://user@host:port/db`, never with the password.
    pub shown: String,
    pub schema: String,
    host_port: String,
    host: String,
    pub(crate) user: String,
    dbname: String,
    tls: TlsSettings,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("shown", &self.shown)
            .field("schema", &self.schema)
            .finish()
    }
}

/// The `application_name` of bcsync's connections when the URL sets none.
const APPLICATION_NAME: &str = "bcsync";

/// Whether the URL's driver parameters leave `key` to our default.
fn url_has_no(key: &str, given: &[(String, String)]) -> bool {
    !given.iter().any(|(k, _)| k == key)
}

/// `bcsync: <doing>`, cut to the 63 bytes PostgreSQL keeps. A reconnection is named as
/// the first connection was, so `pg_stat_activity` says what it is for, not its history.
fn application_name(doing: &str) -> String {
    let doing = match doing.strip_prefix("reconnecting to ") {
        Some(what) => format!("opening {what}"),
        None => doing.to_owned(),
    };
    let mut name = format!("{APPLICATION_NAME}: {doing}");
    let mut end = name.len().min(63);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name.truncate(end);
    name
}

impl PgTarget {
    /// Parses a URL; `schema=` and the TLS parameters are ours (the rest goes to the
    /// driver). Without `schema=`, `default_schema` is used; without either, the URL must
    /// name one.
    pub fn parse(url: &str, default_schema: Option<String>) -> Result<Self> {
        // The URL may carry a password: errors here never repeat it.
        let bad = |why: String| Error::PostgresUrl { why };
        let mut parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        let mut schema = None;
        let mut sslmode = None;
        let mut rootcert = None;
        let (mut cert, mut key) = (None, None);
        let mut rest: Vec<(String, String)> = Vec::new();
        for (k, v) in parsed.query_pairs() {
            match &*k {
                "schema" => schema = Some(v.into_owned()),
                "sslmode" => sslmode = Some(v.into_owned()),
                "sslrootcert" => rootcert = Some(v.into_owned()),
                "sslcert" => cert = Some(PathBuf::from(&*v)),
                "sslkey" => key = Some(PathBuf::from(&*v)),
                k if DRIVER_PARAMETERS.contains(&k) => rest.push((k.to_owned(), v.into_owned())),
                unknown => return Err(bad(unknown_parameter(unknown))),
            }
        }
        if rest.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(rest.iter());
        }
        let mut config: tokio_postgres::Config = parsed
            .as_str()
            .parse()
            .map_err(|e: tokio_postgres::Error| bad(e.to_string()))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        // A server that vanished without closing the connection (a failover, a cut
        // network) is noticed within about a minute rather than the kernel's two hours, so
        // the long-lived connections (a worker's registry and inboxes) reconnect.
        if url_has_no("keepalives_idle", &rest) {
            config.keepalives_idle(Duration::from_secs(30));
        }
        if url_has_no("keepalives_interval", &rest) {
            config.keepalives_interval(Duration::from_secs(10));
        }
        if url_has_no("keepalives_retries", &rest) {
            config.keepalives_retries(3);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(Duration::from_secs(60));
        }
        let roots = match rootcert.as_deref() {
            Some("system") => Roots::System,
            Some(file) => Roots::File(PathBuf::from(file)),
            // libpq's default root file, when there is one.
            None => std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".postgresql/root.crt"))
                .filter(|p| p.exists())
                .map_or(Roots::System, Roots::File),
        };
        let has_root_file = matches!(roots, Roots::File(_));
        let (mode, verify) = match sslmode.as_deref() {
            Some("disable") => (SslMode::Disable, Verify::Nothing),
            // libpq's `allow` tries plain first; trying TLS first is as compatible and safer.
            None | Some("allow") | Some("prefer") => (SslMode::Prefer, Verify::Nothing),
            // As libpq: `require` with a root file verifies the chain.
            Some("require") if has_root_file => (SslMode::Require, Verify::Chain),
            Some("require") if rootcert.is_some() => (SslMode::Require, Verify::Full),
            Some("require") => (SslMode::Require, Verify::Nothing),
            Some("verify-ca") => (SslMode::Require, Verify::Chain),
            Some("verify-full") => (SslMode::Require, Verify::Full),
            Some(other) => {
                return Err(bad(format!(
                    "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                )));
            }
        };
        // A chain check against the public roots without the host name would accept any
        // publicly trusted certificate (anyone's domain): libpq refuses it; we check the
        // host name too.
        let verify = if verify == Verify::Chain && roots == Roots::System {
            Verify::Full
        } else {
            verify
        };
        config.ssl_mode(mode);
        let client_cert = match (cert, key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => return Err(bad("sslcert and sslkey go together: give both".into())),
        };
        let schema = match (schema, default_schema) {
            (Some(s), _) | (None, Some(s)) => s,
            (None, None) => {
                return Err(bad(
                    "no ?schema=NAME and no store to name the schema after".into()
                ));
            }
        };
        if schema.is_empty() || schema.len() > 63 {
            return Err(bad(format!(
                "schema name {schema:?} must have 1 to 63 characters"
            )));
        }
        let user = config
            .get_user()
            .map(str::to_owned)
            .unwrap_or_else(|| "(default user)".into());
        let dbname = config
            .get_dbname()
            .map(str::to_owned)
            .unwrap_or_else(|| user.clone());
        let host = parsed.host_str().unwrap_or("localhost").to_owned();
        let port = parsed.port().unwrap_or(5432);
        let host_port = format!("{host}:{port}");
        let mut display = parsed.clone();
        let _ = display.set_password(None);
        display.set_query(None);
        let shown = display.to_string();
        Ok(Self {
            config,
            shown,
            schema,
            host_port,
            host,
            user,
            dbname,
            tls: TlsSettings {
                verify,
                roots,
                client_cert,
            },
        })
    }

    /// The same server and database with another schema.
    pub fn with_schema(&self, schema: &str) -> Self {
        Self {
            schema: schema.to_owned(),
            ..self.clone()
        }
    }

    pub(crate) fn err(&self, message: String) -> Error {
        Error::Postgres {
            target: self.shown.clone(),
            message,
        }
    }

    /// Connects (TLS as the URL asks) and drives the connection on the current runtime.
    pub async fn connect(&self, doing: &str) -> Result<Client> {
        let tls = self.tls_connector()?;
        // Named after what it is for (`bcsync: opening the webhook inbox`) unless the URL
        // names it, so pg_stat_activity tells which part of a fleet holds which connection.
        let mut config = self.config.clone();
        if config.get_application_name() == Some(APPLICATION_NAME) {
            config.application_name(application_name(doing));
        }
        let (client, connection) = config
            .connect(tls)
            .await
            .map_err(|e| self.explain(&e, &format!("{doing} (connecting as {})", self.user)))?;
        let shown = self.shown.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!("PostgreSQL connection to {shown} ended: {e}");
            }
        });
        Ok(client)
    }

    fn tls_connector(&self) -> Result<MakeRustlsConnect> {
        let tls_err = |why: String| self.err(format!("TLS setup: {why}"));
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_err(e.to_string()))?;
        let builder = if self.tls.verify == Verify::Nothing {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(EncryptOnly(
                    provider.signature_verification_algorithms,
                )))
        } else {
            let roots = Arc::new(self.root_store()?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| tls_err(e.to_string()))?;
            let verifier: Arc<dyn ServerCertVerifier> = if self.tls.verify == Verify::Chain {
                Arc::new(ChainOnly(webpki))
            } else {
                webpki
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(verifier)
        };
        let config = match &self.tls.client_cert {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let certs = CertificateDer::pem_file_iter(cert)
                    .and_then(|i| i.collect::<std::result::Result<Vec<_>, _>>())
                    .map_err(|e| {
                        tls_err(format!(
                            "cannot read sslcert {}: {e}; give a PEM certificate file",
                            cert.display()
                        ))
                    })?;
                let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    tls_err(format!(
                        "cannot read sslkey {}: {e}; give a PEM private key file",
                        key.display()
                    ))
                })?;
                builder
                    .with_client_auth_cert(certs, key_der)
                    .map_err(|e| tls_err(format!("client certificate refused: {e}")))?
            }
        };
        Ok(MakeRustlsConnect::new(config))
    }

    fn root_store(&self) -> Result<RootCertStore> {
        let mut store = RootCertStore::empty();
        match &self.tls.roots {
            Roots::File(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|i| i.collect::<std::result::Result<Vec<_>, _>>())
                    .map_err(|e| {
                        self.err(format!(
                            "cannot read sslrootcert {}: {e}; give a PEM file of the CA that signed the server's certificate",
                            path.display()
                        ))
                    })?;
                let (added, _) = store.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(self.err(format!(
                        "sslrootcert {} holds no usable certificate; give a PEM file of the CA",
                        path.display()
                    )));
                }
            }
            Roots::System => {
                let found = rustls_native_certs::load_native_certs();
                store.add_parsable_certificates(found.certs);
                if store.is_empty() {
                    return Err(self.err(
                        "no system root certificates found to verify the server; pass sslrootcert=/path/to/ca.pem on the URL".into(),
                    ));
                }
            }
        }
        Ok(store)
    }

    /// Turns a driver error into one that says what happened and what to do.
    pub(crate) fn explain(&self, e: &tokio_postgres::Error, doing: &str) -> Error {
        let (host_port, user, db, schema) =
            (&self.host_port, &self.user, &self.dbname, &self.schema);
        if let Some(dbe) = e.as_db_error() {
            let code = dbe.code();
            let msg = if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            {
                format!(
                    "authentication failed for user {user} ({}): check the user name and password in the URL, \
                     and that pg_hba.conf lets this user connect from here",
                    dbe.message()
                )
            } else if *code == SqlState::INVALID_CATALOG_NAME {
                format!(
                    "database {db} does not exist ({}): create it (createdb -h HOST -p PORT -U {user} {db}) \
                     or point the URL at an existing database",
                    dbe.message()
                )
            } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
                format!(
                    "permission denied while {doing} ({}): as an administrator run \
                     GRANT CREATE ON DATABASE \"{db}\" TO \"{user}\"; (or create schema \"{schema}\" for this user \
                     with GRANT USAGE, CREATE ON SCHEMA \"{schema}\" TO \"{user}\";), or pick a schema the user owns \
                     with ?schema=NAME on the URL",
                    dbe.message()
                )
            } else {
                let mut m = format!("{doing}: {} (SQLSTATE {})", dbe.message(), code.code());
                if let Some(d) = dbe.detail() {
                    let _ = write!(m, "; {d}");
                }
                if let Some(h) = dbe.hint() {
                    let _ = write!(m, "; hint: {h}");
                }
                m
            };
            return self.err(msg);
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                if let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                    return self.err(self.explain_tls(tls, doing));
                }
                let msg = if io.kind() == std::io::ErrorKind::ConnectionRefused {
                    format!(
                        "connection refused while {doing}: is PostgreSQL running at {host_port}? \
                         Start the server, or fix the host and port in the URL"
                    )
                } else {
                    format!(
                        "could not reach PostgreSQL at {host_port} while {doing} ({io}): check the host, port and network"
                    )
                };
                return self.err(msg);
            }
            if let Some(tls) = s.downcast_ref::<rustls::Error>() {
                return self.err(self.explain_tls(tls, doing));
            }
            source = s.source();
        }
        let text = e.to_string();
        if text.contains("server does not support TLS") {
            return self.err(format!(
                "{doing}: the server at {host_port} does not accept TLS connections, and the URL's sslmode requires TLS; \
                 enable ssl on the server, or use sslmode=prefer (or disable) on the URL"
            ));
        }
        if e.is_closed() {
            return self.err(format!(
                "the connection to {host_port} closed while {doing}: check the server log"
            ));
        }
        self.err(format!("{doing}: {text}"))
    }

    fn explain_tls(&self, e: &rustls::Error, doing: &str) -> String {
        let host = &self.host;
        match e {
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            ) => format!(
                "TLS while {doing}: the server's certificate is not issued for {host}; connect with the host name \
                 the certificate names, or use sslmode=verify-ca to check only the chain"
            ),
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => format!(
                "TLS while {doing}: the server's certificate is not signed by a trusted root; pass \
                 sslrootcert=/path/to/ca.pem (the CA that signed it) on the URL, or use sslmode=require to encrypt \
                 without verifying"
            ),
            rustls::Error::InvalidCertificate(c) => format!(
                "TLS while {doing}: the server's certificate was refused ({c:?}); check it, or pass the right sslrootcert"
            ),
            other => format!("TLS handshake failed while {doing}: {other}"),
        }
    }
}

/// Encrypts without checking the certificate: libpq's `prefer`/`require` (no protection
/// against an active man in the middle; `verify-full` gives that). Signatures are still
/// checked, so the session key belongs to whoever holds the certificate's key.
#[derive(Debug)]
struct EncryptOnly(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// `verify-ca`: the full WebPKI check, except that a name mismatch is accepted.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// A connection for synchronous callers: the destination (on the writer thread), the push
/// source (on its reader thread) and the push state store (called from async code). It owns
/// a one-worker runtime that drives the connection. [`PgSession::run`] runs work on that
/// worker and waits without entering a runtime, so it is safe anywhere;
/// [`PgSession::block_on`] runs work on the calling thread (the destination renders COPY
/// data there while the worker sends the previous chunk) and is for threads outside any
/// runtime.
pub struct PgSession {
    rt: Option<tokio::runtime::Runtime>,
    client: Arc<Client>,
    pub target: PgTarget,
}

impl std::fmt::Debug for PgSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSession")
            .field("target", &self.target)
            .finish()
    }
}

impl PgSession {
    pub fn open(target: PgTarget, doing: &str) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bcsync-postgres")
            .enable_all()
            .build()
            .map_err(|e| target.err(format!("could not start the PostgreSQL runtime: {e}")))?;
        let t = target.clone();
        let doing = doing.to_owned();
        let client = match wait(&rt, async move { t.connect(&doing).await }, &target) {
            Ok(c) => c,
            Err(e) => {
                // Dropping a runtime inside an async context panics; this does not wait.
                rt.shutdown_background();
                return Err(e);
            }
        };
        Ok(Self {
            rt: Some(rt),
            client: Arc::new(client),
            target,
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs `fut` on the calling thread, the connection driven by the session's worker.
    /// Panics inside an async runtime (tokio's rule): only for the writer and reader threads.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        match &self.rt {
            Some(rt) => rt.block_on(fut),
            // `rt` is only taken by Drop.
            None => unreachable!("PgSession used after drop"),
        }
    }

    /// Runs `work` with the client on the session's runtime and waits for its result.
    pub fn run<T, F>(&self, work: impl FnOnce(Arc<Client>, PgTarget) -> F) -> Result<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T>> + Send + 'static,
    {
        let rt = self
            .rt
            .as_ref()
            .ok_or_else(|| self.target.err("the session is closed".into()))?;
        wait(
            rt,
            work(self.client.clone(), self.target.clone()),
            &self.target,
        )
    }
}

fn wait<T: Send + 'static>(
    rt: &tokio::runtime::Runtime,
    work: impl Future<Output = Result<T>> + Send + 'static,
    target: &PgTarget,
) -> Result<T> {
    futures::executor::block_on(rt.spawn(work))
        .map_err(|e| target.err(format!("the PostgreSQL task failed: {e}")))?
}

impl Drop for PgSession {
    fn drop(&mut self) {
        // Dropping a runtime inside an async context panics; this does not wait.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_named_after_their_purpose_within_postgres_limit() {
        assert_eq!(
            application_name("opening the webhook inbox"),
            "bcsync: opening the webhook inbox"
        );
        assert_eq!(
            application_name("reconnecting to the fleet registry"),
            "bcsync: opening the fleet registry"
        );
        let long = application_name(&"é".repeat(60));
        assert!(long.len() <= 63 && long.starts_with("bcsync: é"), "{long}");
    }

    #[test]
    fn url_parsing_keeps_the_password_out_and_takes_the_schema() {
        let t = PgTarget::parse(
            "postgres://bob:s3cretpw@db.example:6543/wh?schema=shop_one&sslmode=disable",
            Some(default_schema("abc")),
        )
        .unwrap();
        assert_eq!(t.schema, "shop_one");
        assert_eq!(t.shown, "postgres://bob@db.example:6543/wh");
        assert!(!format!("{t:?}").contains("s3cretpw"));
        let t = PgTarget::parse(
            "postgresql://bob@localhost/wh",
            Some(default_schema("Ab-C1")),
        )
        .unwrap();
        assert_eq!(t.schema, "bc_ab_c1");
        assert!(PgTarget::parse("postgres://bob@localhost/wh", None).is_err());
        let err = PgTarget::parse(
            "postgres://bob:s3cretpw@localhost/wh?bogus_option=1",
            Some("x".into()),
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("s3cretpw"), "{err}");
    }

    #[test]
    fn sslmodes_follow_libpq() {
        let p = |q: &str| PgTarget::parse(&format!("postgres://u@h/d?schema=s{q}"), None).unwrap();
        let t = p("");
        assert_eq!(
            (t.config.get_ssl_mode(), t.tls.verify),
            (SslMode::Prefer, Verify::Nothing)
        );
        let t = p("&sslmode=disable");
        assert_eq!(t.config.get_ssl_mode(), SslMode::Disable);
        let t = p("&sslmode=require");
        assert_eq!(
            (t.config.get_ssl_mode(), t.tls.verify),
            (SslMode::Require, Verify::Nothing)
        );
        let t = p("&sslmode=require&sslrootcert=/ca.pem");
        assert_eq!(t.tls.verify, Verify::Chain);
        assert_eq!(t.tls.roots, Roots::File("/ca.pem".into()));
        let t = p("&sslmode=verify-full&sslrootcert=system");
        assert_eq!((t.tls.verify, t.tls.roots), (Verify::Full, Roots::System));
        // Against the system roots the host name is always checked.
        let t = p("&sslmode=verify-ca");
        assert_eq!(t.tls.verify, Verify::Full);
        let t = p("&sslmode=verify-ca&sslrootcert=/ca.pem");
        assert_eq!(t.tls.verify, Verify::Chain);
        let t = p("&sslmode=require&sslrootcert=system");
        assert_eq!(t.tls.verify, Verify::Full);
        assert_eq!(
            redact("postgress://bob:s3cret@h/db"),
            "postgress://bob:***@h/db"
        );
        assert_eq!(redact("bcsync-push.db"), "bcsync-push.db");
        assert_eq!(redact("sqlite:out/x.db"), "sqlite:out/x.db");
        assert_eq!(
            redact_in("line 2 (`stat = \"postgres://bob:s3cret@h/db\"`): unknown field"),
            "line 2 (`stat = \"postgres://bob:***@h/db\"`): unknown field"
        );
        assert_eq!(
            redact("postgres://bob:s3cret@h:notaport/db"),
            "postgres://bob:***@h:notaport/db"
        );
        assert_eq!(
            redact("postgres://bob@h/db?password=s3cret&schema=x"),
            "postgres://bob@h/db?password=***&schema=x"
        );
        let err = PgTarget::parse("postgres://u:s3cret@h/d?shema=x", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown parameter `shema` (did you mean schema?)")
                && err.contains("sslmode")
                && !err.contains("s3cret"),
            "{err}"
        );
        let err = PgTarget::parse("postgres://u@h/d?schema=s&sslmode=strict", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("verify-full"), "{err}");
        let err = PgTarget::parse("postgres://u@h/d?schema=s&sslcert=/c.pem", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("sslkey"), "{err}");
    }

    #[test]
    fn bare_postgres_needs_database_url() {
        assert_eq!(url_from_spec("sqlite:x.db").unwrap(), None);
        assert_eq!(
            url_from_spec("postgres://a@b/c").unwrap().as_deref(),
            Some("postgres://a@b/c")
        );
    }
}
