//! `bcsync api METHOD PATH [--data JSON|@FILE] [--paginate]`: a raw request to any V2/V3
//! path of the store through the one client (`bcsync::tools::raw_request`). Checks come
//! first (host, path, body, the whole-collection DELETE rule), then writes are confirmed
//! on a terminal or need `--yes`, and only then is anything sent.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use bcsync::tools::{self, RawRequest};
use clap::Args;

use super::StoreArgs;
use super::output::{Format, write_list, write_one};
use super::resources::{Confirm, ask_yes_no, confirmation, connect, fail};

#[derive(Debug, Args)]
pub struct ApiArgs {
    #[command(flatten)]
    pub request: RawRequest,
    /// Send a write (POST, PUT, DELETE) without asking (needed when there is no terminal
    /// to ask on).
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Output format [default: json]; jsonl and csv write a list one record per line.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

pub async fn run(config: Option<&Path>, args: ApiArgs) -> anyhow::Result<ExitCode> {
    let client = connect(config, &args.store)?;
    let request = args.request;
    if let Err(e) = request.check(&client) {
        return fail(e);
    }
    if request.is_write() {
        let what = format!(
            "{} {}",
            request.method.trim().to_ascii_uppercase(),
            request.path.trim()
        );
        if let Confirm::Ask = confirmation(args.yes, &what)? {
            let question = format!("Send {what} to store {}?", client.store_hash());
            if !ask_yes_no(&question)? {
                eprintln!("cancelled; nothing was sent");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    let response = match tools::raw_request(&client, &request).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let format = args.format.unwrap_or(Format::Json);
    let mut out = io::stdout().lock();
    match &response.body {
        serde_json::Value::Null => eprintln!("HTTP {}: no content", response.status),
        serde_json::Value::Array(items) => write_list(&mut out, format, items, &[])?,
        body => write_one(&mut out, format, body)?,
    }
    out.flush()?;
    if let Some(cursor) = &response.next_cursor {
        eprintln!(
            "note: more records follow; raise --limit, or pass --cursor {cursor} for the next ones"
        );
    }
    Ok(ExitCode::SUCCESS)
}
