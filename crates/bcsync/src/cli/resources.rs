//! The resource commands, the direct mode of `bcsync::tools`: `bcsync orders|products|
//! customers list|get|...` and `bcsync categories list`. Flags are the fields of the
//! operations' argument structs, so the command line and the MCP tools validate the same
//! way; this module adds the store connection, the output format and confirmations.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use bcsync::tools::{self, Listing};
use clap::{Args, Subcommand};
use serde_json::Value;

use super::output::{Format, write_list, write_one};
use super::{EXIT_USAGE, StoreArgs};

/// Flags every resource command takes.
#[derive(Debug, Clone, Args)]
pub struct Common {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Debug, Args)]
pub struct OrdersArgs {
    #[command(subcommand)]
    pub command: OrdersCommand,
}

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// List orders (by id, or newest first), filtered by status, dates and customer.
    List {
        #[command(flatten)]
        args: tools::ListOrders,
        #[command(flatten)]
        common: Common,
    },
    /// One order with its lines, shipping addresses, shipments and coupons.
    Get {
        #[command(flatten)]
        args: tools::GetOrder,
        #[command(flatten)]
        common: Common,
    },
    /// Change an order's status and/or staff notes.
    Update {
        #[command(flatten)]
        args: tools::UpdateOrder,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, Args)]
pub struct ProductsArgs {
    #[command(subcommand)]
    pub command: ProductsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ProductsCommand {
    /// List products, filtered by category, brand, visibility, availability, SKU or name.
    List {
        #[command(flatten)]
        args: tools::ListProducts,
        #[command(flatten)]
        common: Common,
    },
    /// One product with its variants, images and custom fields, by id or by --sku
    /// (product or variant SKU).
    Get {
        #[command(flatten)]
        args: tools::GetProduct,
        #[command(flatten)]
        common: Common,
    },
    /// Create a product from JSON (--data '{...}' or --data @product.json).
    Create {
        #[command(flatten)]
        args: tools::CreateProduct,
        #[command(flatten)]
        common: Common,
    },
    /// Change a product's fields from JSON (--data '{"price": 12.5}' or --data @file.json).
    Update {
        #[command(flatten)]
        args: tools::UpdateProduct,
        #[command(flatten)]
        common: Common,
    },
    /// Delete a product with its variants and images (asks on a terminal; --yes otherwise).
    Delete {
        #[command(flatten)]
        args: tools::DeleteProduct,
        /// Delete without asking (needed when there is no terminal to ask on).
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, Args)]
pub struct CategoriesArgs {
    #[command(subcommand)]
    pub command: CategoriesCommand,
}

#[derive(Debug, Subcommand)]
pub enum CategoriesCommand {
    /// The category tree of a channel: nested in json, one row per category (parents
    /// first, with depth and path) in table, jsonl and csv.
    List {
        #[command(flatten)]
        args: tools::ListCategories,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, Args)]
pub struct CustomersArgs {
    #[command(subcommand)]
    pub command: CustomersCommand,
}

#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// List customers, filtered by email, name, group or modification date.
    List {
        #[command(flatten)]
        args: tools::ListCustomers,
        #[command(flatten)]
        common: Common,
    },
    /// One customer with all its addresses.
    Get {
        #[command(flatten)]
        args: tools::GetCustomer,
        #[command(flatten)]
        common: Common,
    },
    /// Create a customer from JSON (--data '{"email": ..., "first_name": ..., "last_name": ...}').
    Create {
        #[command(flatten)]
        args: tools::CreateCustomer,
        #[command(flatten)]
        common: Common,
    },
    /// Change a customer's fields from JSON (--data '{"phone": "555-0100"}' or @file.json).
    Update {
        #[command(flatten)]
        args: tools::UpdateCustomer,
        #[command(flatten)]
        common: Common,
    },
}

const ORDER_COLUMNS: &[&str] = &[
    "id",
    "status",
    "date_created",
    "customer_id",
    "billing_address.email",
    "items_total",
    "total_inc_tax",
    "currency_code",
];
const PRODUCT_COLUMNS: &[&str] = &[
    "id",
    "sku",
    "name",
    "type",
    "price",
    "inventory_level",
    "is_visible",
    "availability",
];
const CUSTOMER_COLUMNS: &[&str] = &[
    "id",
    "email",
    "first_name",
    "last_name",
    "company",
    "customer_group_id",
    "date_modified",
];
const CATEGORY_COLUMNS: &[&str] = &["id", "parent_id", "path", "is_visible", "url"];

/// `bcsync orders ...`.
pub async fn orders(config: Option<&Path>, args: OrdersArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        OrdersCommand::List { args, common } => {
            let client = connect(config, &common.store)?;
            let listing = tools::list_orders(&client, &args).await;
            print_listing(listing, &common, ORDER_COLUMNS)
        }
        OrdersCommand::Get { args, common } => {
            let client = connect(config, &common.store)?;
            print_record(tools::get_order(&client, &args).await, &common)
        }
        OrdersCommand::Update { args, common } => {
            let client = connect(config, &common.store)?;
            print_record(tools::update_order(&client, &args).await, &common)
        }
    }
}

/// `bcsync products ...`.
pub async fn products(config: Option<&Path>, args: ProductsArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ProductsCommand::List { args, common } => {
            let client = connect(config, &common.store)?;
            let listing = tools::list_products(&client, &args).await;
            print_listing(listing, &common, PRODUCT_COLUMNS)
        }
        ProductsCommand::Get { args, common } => {
            let client = connect(config, &common.store)?;
            print_record(tools::get_product(&client, &args).await, &common)
        }
        ProductsCommand::Create { args, common } => {
            let client = connect(config, &common.store)?;
            print_record(tools::create_product(&client, &args).await, &common)
        }
        ProductsCommand::Update { args, common } => {
            let client = connect(config, &common.store)?;
            print_record(tools::update_product(&client, &args).await, &common)
        }
        ProductsCommand::Delete { args, yes, common } => {
            let client = connect(config, &common.store)?;
            let what = format!("product {}", args.id);
            // Refuse before any request when nobody can be asked.
            let ask = match confirmation(yes, &what)? {
                Confirm::Given => false,
                Confirm::Ask => true,
            };
            if ask {
                let preview = match tools::preview_delete_product(&client, &args).await {
                    Ok(p) => p,
                    Err(e) => return fail(e),
                };
                let question = format!(
                    "Delete product {} {} (SKU {}, {} variants, {} images, {} custom fields)?",
                    preview["id"],
                    preview["name"],
                    preview["sku"],
                    preview["variants"],
                    preview["images"],
                    preview["custom_fields"]
                );
                if !ask_yes_no(&question)? {
                    eprintln!("cancelled; nothing was deleted");
                    return Ok(ExitCode::FAILURE);
                }
            }
            print_record(tools::delete_product(&client, &args).await, &common)
        }
    }
}

/// `bcsync categories list`.
pub async fn categories(config: Option<&Path>, args: CategoriesArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        CategoriesCommand::List { args, common } => {
            let client = connect(config, &common.store)?;
            let tree = match tools::list_categories(&client, &args).await {
                Ok(t) => t,
                Err(e) => return fail(e),
            };
            let mut out = io::stdout().lock();
            match Format::resolve(common.format) {
                Format::Json => write_one(&mut out, Format::Json, &serde_json::to_value(&tree)?)?,
                format => write_list(
                    &mut out,
                    format,
                    &tools::flatten_categories(&tree),
                    CATEGORY_COLUMNS,
                )?,
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `bcsync customers ...`.
pub async fn customers(config: Option<&Path>, args: CustomersArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        CustomersCommand::List { args, common } => {
            let client = connect(config, &common.store)?;
            let listing = tools::list_customers(&client, &args).await;
            print_listing(listing, &common, CUSTOMER_COLUMNS)
        }
        CustomersCommand::Get { args, common } => {
            let client = connect(config, &common.store)?;
            print_record(tools::get_customer(&client, &args).await, &common)
        }
        CustomersCommand::Create { args, common } => {
            let client = connect(config, &common.store)?;
            print_record(tools::create_customer(&client, &args).await, &common)
        }
        CustomersCommand::Update { args, common } => {
            let client = connect(config, &common.store)?;
            print_record(tools::update_customer(&client, &args).await, &common)
        }
    }
}

/// The client for the store the flags, environment or config file name.
pub fn connect(config: Option<&Path>, store: &StoreArgs) -> anyhow::Result<bigcommerce::Client> {
    let file = bcsync::config::load(config)?;
    let conn = file.connection(store.store_hash.as_deref(), store.base_url.as_deref())?;
    Ok(conn.client()?)
}

/// Prints a listing, with a note on stderr when more records match than were shown.
fn print_listing(
    listing: bcsync::Result<Listing>,
    common: &Common,
    columns: &[&str],
) -> anyhow::Result<ExitCode> {
    let listing = match listing {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let format = Format::resolve(common.format);
    let mut out = io::stdout().lock();
    write_list(&mut out, format, &listing.items, columns)?;
    out.flush()?;
    if let Some(cursor) = &listing.next_cursor {
        let of = listing
            .total
            .map(|t| format!(" of {t}"))
            .unwrap_or_default();
        eprintln!(
            "note: showing {}{of} records; raise --limit for more, or pass --cursor {cursor} for the next ones",
            listing.items.len()
        );
    } else if listing.items.is_empty() && format == Format::Table {
        eprintln!("no records match");
    }
    Ok(ExitCode::SUCCESS)
}

fn print_record(record: bcsync::Result<Value>, common: &Common) -> anyhow::Result<ExitCode> {
    let record = match record {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let mut out = io::stdout().lock();
    write_one(&mut out, Format::resolve(common.format), &record)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// An invalid argument is a usage error (exit 2) named as a flag; anything else is
/// returned for `main` to print.
pub fn fail(e: bcsync::Error) -> anyhow::Result<ExitCode> {
    match e {
        bcsync::Error::InvalidArgument { argument, message } => {
            eprintln!(
                "error: invalid {}: {}",
                flag_name(&argument),
                flags_in(&message)
            );
            Ok(ExitCode::from(EXIT_USAGE))
        }
        other => Err(other.into()),
    }
}

/// How the command line spells an argument: `created_since` is `--created-since`; the
/// positional ones are upper case.
fn flag_name(argument: &str) -> String {
    match argument {
        "id" | "method" | "path" => argument.to_ascii_uppercase(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

/// Argument names quoted in a message (`` `staff_notes` ``) as flags (`--staff-notes`).
fn flags_in(message: &str) -> String {
    let mut out = String::new();
    for (i, part) in message.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(&flag_name(part));
        } else {
            out.push_str(part);
        }
    }
    out
}

/// Whether a dangerous command may go ahead.
pub enum Confirm {
    /// `--yes` was given.
    Given,
    /// Ask on the terminal.
    Ask,
}

/// `--yes`, else a terminal to ask on, else a refusal naming `--yes`.
pub fn confirmation(yes: bool, what: &str) -> anyhow::Result<Confirm> {
    if yes {
        return Ok(Confirm::Given);
    }
    if io::stdin().is_terminal() && io::stderr().is_terminal() {
        return Ok(Confirm::Ask);
    }
    anyhow::bail!(
        "refused: {what} needs confirmation and there is no terminal to ask on; pass --yes to go ahead"
    )
}

/// Asks on stderr and reads the answer from stdin: only `y` or `yes` goes ahead.
pub fn ask_yes_no(question: &str) -> anyhow::Result<bool> {
    answer_is_yes(question, &mut io::stdin().lock(), &mut io::stderr())
}

fn answer_is_yes(
    question: &str,
    input: &mut impl BufRead,
    prompt: &mut impl Write,
) -> anyhow::Result<bool> {
    write!(prompt, "{question} [y/N] ")?;
    prompt.flush()?;
    let mut line = String::new();
    input.read_line(&mut line)?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_named_as_flags() {
        assert_eq!(flag_name("created_since"), "--created-since");
        assert_eq!(flag_name("id"), "ID");
        assert_eq!(
            flags_in("nothing to change: give `status`, `staff_notes` or both"),
            "nothing to change: give --status, --staff-notes or both"
        );
    }

    #[test]
    fn only_yes_goes_ahead() {
        for (typed, go) in [
            ("y\n", true),
            ("YES\n", true),
            ("\n", false),
            ("n\n", false),
            ("", false),
        ] {
            let mut prompt = Vec::new();
            let ok = answer_is_yes("Delete?", &mut typed.as_bytes(), &mut prompt).unwrap();
            assert_eq!(ok, go, "{typed:?}");
            assert_eq!(String::from_utf8(prompt).unwrap(), "Delete? [y/N] ");
        }
    }
}
