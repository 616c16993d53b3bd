//! The engine's error type. Every variant is one cause, and its message is one sentence:
//! what happened and what to do; none ever carries an access token or a database password.
//!
//! Variants that wrap a lower-level error (`Io`, `Sqlite`, `SqliteSource`) put its words in
//! their own message and keep it as `source()` for callers that inspect it; the binary
//! prints a chain of causes only as far as a cause adds words of its own
//! (`main::error_text`), so no cause is printed twice.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The BigCommerce API refused or failed (status and body kept by the client error).
    #[error(transparent)]
    Api(#[from] bigcommerce::Error),

    /// The Brevo API refused or failed (status and body kept by the client error).
    #[error(transparent)]
    Brevo(#[from] brevo::Error),

    /// A SQLite file bcsync writes (a destination or a state store) failed.
    #[error("{}", sqlite_message(path, source))]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },

    /// The query of a SQLite source (`bcsync push`) failed.
    #[error("{}", sqlite_source_message(path, query, source))]
    SqliteSource {
        path: PathBuf,
        query: String,
        source: rusqlite::Error,
    },

    /// PostgreSQL failed; `target` is the URL without its password, `message` says what to do.
    #[error("PostgreSQL {target}: {message}")]
    Postgres { target: String, message: String },

    /// A `postgres://` URL that cannot be used; `why` never contains the password.
    #[error(
        "the PostgreSQL URL is not valid: {why}; expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME&sslmode=MODE]"
    )]
    PostgresUrl { why: String },

    /// `postgres` alone with no `DATABASE_URL`.
    #[error(
        "{spec:?} needs a connection URL: set DATABASE_URL=postgres://USER@HOST:PORT/DATABASE or give the URL itself (postgres://USER@HOST:PORT/DATABASE)"
    )]
    NoDatabaseUrl { spec: String },

    /// `DATABASE_URL` holds something else than a PostgreSQL URL.
    #[error(
        "DATABASE_URL does not hold a postgres:// URL; set it to postgres://USER@HOST:PORT/DATABASE"
    )]
    DatabaseUrlNotPostgres,

    /// A file could not be read or written.
    #[error("{}", io_message(path, source))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// The config file is not valid TOML or has a value of the wrong form.
    #[error("{path} {detail}")]
    ConfigFile { path: String, detail: String },

    /// No store hash anywhere.
    #[error(
        "no store hash: set BIGCOMMERCE_STORE_HASH, or store_hash in bcsync.toml, or pass --store-hash (it is the part after /stores/ in your API path)"
    )]
    NoStoreHash,

    /// No access token anywhere.
    #[error(
        "no access token: set BIGCOMMERCE_ACCESS_TOKEN or access_token in bcsync.toml (create a store-level API account in the control panel to get one)"
    )]
    NoAccessToken,

    /// A Singer state file (`--state`) that bcsync cannot read.
    #[error(
        "state file {path} {detail}; pass the value of the last STATE message a bcsync run printed"
    )]
    StateFile { path: String, detail: String },

    /// An argument of a tool operation (a flag of `bcsync orders|products|customers|
    /// categories|api`, or an MCP tool argument) that cannot be used; nothing was sent.
    /// `argument` is the field name of the argument struct (`created_since`; the command
    /// line shows it as `--created-since`), `message` says what is wrong and what to give;
    /// other arguments it names are in backticks (`` `staff_notes` ``) so each front end
    /// can spell them its own way.
    #[error("invalid {argument}: {message}")]
    InvalidArgument { argument: String, message: String },

    /// A record a tool operation looked up does not exist.
    #[error("{what} was not found; {fix}")]
    NotFound { what: String, fix: String },

    /// A setting that is wrong; the message names it and says what to write instead.
    #[error("{0}")]
    Config(String),

    #[error("unknown stream {name:?}; run `bcsync discover` to list the streams (known: {known})")]
    UnknownStream { name: String, known: String },

    #[error(
        "destination {:?} not understood; use sqlite:PATH, postgres://USER@HOST:PORT/DB (or postgres with DATABASE_URL), singer, or jsonl:DIR",
        crate::pg::redact(.0)
    )]
    BadDestination(String),

    #[error("the destination writer stopped unexpectedly: {0}")]
    WriterGone(String),

    #[error("stream {stream}: the API returned data bcsync cannot read: {detail}")]
    Data { stream: String, detail: String },

    /// `--to` names an SQLite file another program made: bcsync changes nothing in it.
    #[error(
        "{} is not a bcsync database (it has tables {tables}); choose a new file for --to",
        path.display()
    )]
    NotBcsyncDatabase { path: PathBuf, tables: String },

    /// Another extraction is writing into the same SQLite file.
    #[error(
        "{} is in use by another bcsync extraction ({holder}); wait for it to finish or stop it, then run again",
        path.display()
    )]
    DestinationBusy { path: PathBuf, holder: String },

    /// Every stream failed the same way (a wrong token or store hash, an unreachable
    /// URL): the first stream's error, reported once.
    #[error("{0}")]
    EveryStreamFailed(String),

    /// A `--state` spec that names neither a file nor a PostgreSQL URL.
    #[error(
        "state store {:?} not understood; use a file path (sqlite:FILE) or postgres://USER@HOST:PORT/DB",
        crate::pg::redact(.0)
    )]
    BadStateStore(String),

    /// Another push of the same sync and store holds the run lock.
    #[error(
        "sync {sync:?} for store {store} is already running against {target}; wait for it to finish, then run again"
    )]
    SyncAlreadyRunning {
        sync: String,
        store: String,
        /// The state store, and the lock file when there is one.
        target: String,
    },

    /// A saved push run record that bcsync cannot read back.
    #[error(
        "run {id} in {target} is not readable ({detail}); it was written by another bcsync version or changed by hand, so use a new state store (--state) to start over"
    )]
    UnreadableRun {
        id: i64,
        target: String,
        detail: String,
    },

    /// The saved extraction state of a stream in a destination cannot be read.
    #[error(
        "the saved state of stream {stream} in {target} is not readable ({detail}); run with --full-refresh to rebuild it"
    )]
    UnreadableStreamState {
        stream: String,
        target: String,
        detail: String,
    },

    /// The commit file of a JSON lines destination cannot be read.
    #[error(
        "{} is not readable ({detail}); delete it to start the JSON lines destination over",
        path.display()
    )]
    UnreadableJsonlState { path: PathBuf, detail: String },

    /// A CSV source whose header row holds bytes that are not UTF-8.
    #[error(
        "{}: the header row, column {column}, is not UTF-8; save the file as UTF-8",
        path.display()
    )]
    CsvHeaderNotUtf8 { path: PathBuf, column: usize },

    /// A CSV source the reader cannot parse at all (not a row-level problem).
    #[error(
        "{} is not a readable CSV file ({detail}); check the header row and the quoting",
        path.display()
    )]
    UnreadableCsv { path: PathBuf, detail: String },

    /// Two sync definitions share one name.
    #[error("two syncs are named {0:?}; rename one, names must be unique")]
    DuplicateSyncName(String),

    /// A push would delete (or clear) every tracked record because the source returned no rows.
    #[error(
        "refused: the source returned no rows, so {count} records would be {action}; check the source, or pass --force if the store really should be emptied"
    )]
    EmptySourceRefused { count: usize, action: &'static str },

    /// A push would remove more tracked records than `max_delete_percent` allows.
    #[error(
        "refused: {removed} of {tracked} tracked records ({percent:.1}%) left the source, above max_delete_percent = {limit}; check the source, raise the limit, or pass --force"
    )]
    TooManyRemovedRefused {
        removed: usize,
        tracked: usize,
        percent: f64,
        limit: f64,
    },

    /// bcsync could not serialize its own data: never expected.
    #[error(
        "bcsync could not encode {what} ({detail}); this is unexpected, please report it with the command you ran"
    )]
    Encode { what: &'static str, detail: String },

    /// An internal step ran out of order: never expected.
    #[error("{0}; this is a bug in bcsync, please report it with the command you ran")]
    Internal(String),

    /// Ctrl-C or SIGTERM: the run stopped before this stream finished.
    #[error("interrupted; rerun to resume")]
    Interrupted,

    /// The MCP session (stdio) or listener (HTTP) failed; the message says which and why.
    #[error("bcsync mcp: {0}")]
    Mcp(String),

    /// NATS or JetStream (the fleet's webhook transport) failed; `server` is the URL
    /// without credentials, `message` says what failed and what to do.
    #[error("NATS {server}: {message}")]
    Nats { server: String, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// SQLite's primary result code, when the error came from SQLite itself.
fn sqlite_code(e: &rusqlite::Error) -> Option<ErrorCode> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        rusqlite::Error::SqlInputError { error, .. } => Some(error.code),
        _ => None,
    }
}

/// SQLite's own words for the failure, without the SQL text rusqlite appends.
fn sqlite_words(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(f, Some(msg)) => {
            if msg.is_empty() {
                f.to_string()
            } else {
                msg.clone()
            }
        }
        rusqlite::Error::SqliteFailure(f, None) => f.to_string(),
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        other => other.to_string(),
    }
}

fn sqlite_message(path: &Path, cause: &rusqlite::Error) -> String {
    let p = path.display();
    let words = sqlite_words(cause);
    match sqlite_code(cause) {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => format!(
            "SQLite file {p} is locked ({words}); wait for the other bcsync run or program using it to finish, then rerun"
        ),
        Some(ErrorCode::ReadOnly) => format!(
            "SQLite file {p} cannot be written ({words}); check that the file and its directory are writable"
        ),
        Some(ErrorCode::CannotOpen) => format!(
            "SQLite file {p} cannot be opened ({words}); check that its directory exists and is writable"
        ),
        Some(ErrorCode::PermissionDenied) => format!(
            "SQLite file {p} cannot be accessed ({words}); check the permissions of the file and its directory"
        ),
        Some(ErrorCode::NotADatabase) => format!(
            "{p} is not a SQLite database ({words}); give the path of a SQLite file or of a new file"
        ),
        Some(ErrorCode::DiskFull) => {
            format!("the disk holding {p} is full ({words}); free some space and rerun")
        }
        Some(ErrorCode::DatabaseCorrupt) => {
            format!("SQLite file {p} is damaged ({words}); move it away and rerun to rebuild it")
        }
        _ => format!(
            "SQLite failed on {p} ({words}); this is unexpected, please report it with the command you ran"
        ),
    }
}

fn sqlite_source_message(path: &Path, query: &str, cause: &rusqlite::Error) -> String {
    let p = path.display();
    let words = sqlite_words(cause);
    let query = query.trim();
    match sqlite_code(cause) {
        Some(ErrorCode::ReadOnly) => format!(
            "the query of SQLite source {p} tries to write ({words}): `{query}`; sources are opened read-only, so the query must be a SELECT"
        ),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => format!(
            "SQLite source {p} is locked by another program ({words}); wait for it to finish, then rerun"
        ),
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => format!(
            "SQLite source {p} cannot be opened ({words}); check `path` in the sync definition and the file's permissions"
        ),
        Some(ErrorCode::NotADatabase) => format!(
            "SQLite source {p} is not a SQLite database ({words}); check `path` in the sync definition"
        ),
        _ if matches!(cause, rusqlite::Error::SqlInputError { .. })
            || words.contains("syntax error")
            || words.starts_with("no such") =>
        {
            format!(
                "the query of SQLite source {p} is not valid ({words}): `{query}`; fix `query` (or `table`) in the sync definition"
            )
        }
        _ => format!(
            "SQLite source {p} failed while running `{query}` ({words}); check the query and the file"
        ),
    }
}

fn io_message(path: &Path, cause: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let p = path.display();
    match cause.kind() {
        ErrorKind::NotFound => format!("{p} does not exist; check the path"),
        ErrorKind::PermissionDenied => {
            format!("no permission to use {p}; check the permissions of the file and its directory")
        }
        ErrorKind::IsADirectory => format!("{p} is a directory; give the path of a file"),
        ErrorKind::StorageFull => {
            format!("the disk holding {p} is full; free some space and rerun")
        }
        _ => {
            let mut m = format!("cannot use {p} (");
            let _ = write!(m, "{}", cause);
            m.push_str("); check the path, its permissions and the free disk space");
            m
        }
    }
}

/// A serde or TOML error message in a user's words: Rust type names (`usize`, `struct
/// StreamState`, `a sequence`) become the form of the value that is expected.
pub fn plain_serde_message(message: &str) -> String {
    const TYPES: &[(&str, &str)] = &[
        ("expected usize", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected u16", "expected a whole number"),
        ("expected u8", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("expected a sequence", "expected a list"),
        ("expected a map", "expected a table of keys and values"),
        ("expected a boolean", "expected true or false"),
        ("invalid type: sequence", "invalid type: a list"),
        ("invalid type: map", "invalid type: a table"),
        ("integer `", "the number `"),
    ];
    let mut out = message.trim().to_owned();
    for (rust, plain) in TYPES {
        out = out.replace(rust, plain);
    }
    // `expected struct StreamState` and the like: the name is ours, not the user's.
    while let Some(at) = out.find("expected struct ") {
        let rest = &out[at + "expected struct ".len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let tail = rest[end..].to_owned();
        out = format!("{}expected an object{tail}", &out[..at]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_type_names_become_forms_of_value() {
        assert_eq!(
            plain_serde_message("invalid type: string \"x\", expected usize"),
            "invalid type: string \"x\", expected a whole number"
        );
        assert_eq!(
            plain_serde_message("invalid type: integer `3`, expected struct StreamState at line 1"),
            "invalid type: the number `3`, expected an object at line 1"
        );
    }

    #[test]
    fn io_errors_say_what_to_do() {
        let e = Error::Io {
            path: PathBuf::from("/nope/x.json"),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert_eq!(e.to_string(), "/nope/x.json does not exist; check the path");
    }

    fn sqlite_failure(code: i32, msg: &str) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(msg.to_owned()))
    }

    #[test]
    fn the_writable_hint_is_given_only_where_it_fits() {
        let locked = Error::Sqlite {
            path: "a.db".into(),
            source: sqlite_failure(rusqlite::ffi::SQLITE_BUSY, "database is locked"),
        }
        .to_string();
        assert!(
            locked.contains("is locked") && locked.contains("wait for"),
            "{locked}"
        );
        let syntax = Error::SqliteSource {
            path: "w.db".into(),
            query: "SELEC * FROM t".into(),
            source: sqlite_failure(rusqlite::ffi::SQLITE_ERROR, "near \"SELEC\": syntax error"),
        }
        .to_string();
        assert!(
            syntax.contains("`SELEC * FROM t`") && syntax.contains("fix `query`"),
            "{syntax}"
        );
        assert!(!syntax.contains("writable"), "{syntax}");
        let write = Error::SqliteSource {
            path: "w.db".into(),
            query: "DELETE FROM t".into(),
            source: sqlite_failure(
                rusqlite::ffi::SQLITE_READONLY,
                "attempt to write a readonly database",
            ),
        }
        .to_string();
        assert!(write.contains("must be a SELECT"), "{write}");
    }
}
