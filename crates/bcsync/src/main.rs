//! The `bcsync` binary: parses the command line and runs a command. All logic lives in
//! the library and in `cli/`; this file only sets up logging and the exit code.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let filter = match args.verbose {
        0 => "bcsync=info,bigcommerce=warn,bc_sandbox=warn",
        1 => "bcsync=debug,bigcommerce=info,bc_sandbox=info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| filter.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each cause only when it adds words: our messages already
/// quote the cause they wrap (a missing file, SQLite's reason), and printing it again
/// after them reads as a second failure.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let words = cause.to_string();
        if !words.is_empty() && !text.contains(&words) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&words);
        }
        // Our own errors are whole sentences that already say what their cause was.
        if cause.is::<bcsync::Error>() || cause.is::<bigcommerce::Error>() {
            break;
        }
    }
    // Last guards: a message quoting a config line or a value may hold a database URL, and
    // one relaying a TOML or JSON error may name a Rust type (`expected u64`).
    bcsync::error::plain_serde_message(&bcsync::pg::redact_in(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_quoted_is_not_repeated() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let inner = anyhow::Error::new(io).context(format!(
            "cannot read x.toml ({})",
            std::io::Error::from(std::io::ErrorKind::NotFound)
        ));
        let text = error_text(&inner.context("loading the config"));
        assert_eq!(text.matches("entity not found").count(), 1, "{text}");
        assert!(
            text.starts_with("loading the config: cannot read x.toml"),
            "{text}"
        );
    }

    #[test]
    fn our_errors_end_the_chain() {
        let e = bcsync::Error::Io {
            path: "x.toml".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let text = error_text(&anyhow::Error::new(e).context("reading the config"));
        assert_eq!(
            text,
            "reading the config: x.toml does not exist; check the path"
        );
    }
}
