//! The engine's error type. Every variant says what happened and what to do; none ever
//! carries an access token.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The BigCommerce API refused or failed (status and body kept by the client error).
    #[error(transparent)]
    Api(#[from] bigcommerce::Error),

    #[error(
        "SQLite error on {path}: {source}. Check that the file is writable and not opened by another bcsync run."
    )]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    /// PostgreSQL failed; `target` is the URL without its password, `message` says what to do.
    #[error("PostgreSQL {target}: {message}")]
    Postgres { target: String, message: String },

    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("configuration: {0}")]
    Config(String),

    #[error("unknown stream {name:?}; run `bcsync discover` to list the streams (known: {known})")]
    UnknownStream { name: String, known: String },

    #[error(
        "destination {0:?} not understood; use sqlite:PATH, postgres://USER@HOST:PORT/DB (or postgres with DATABASE_URL), singer, or jsonl:DIR"
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
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
