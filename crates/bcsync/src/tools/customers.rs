//! Customers (V3, docs/api-notes.md §2): list with filters, get one with its whole address
//! book, create and update.

use bigcommerce::{ApiRequest, ApiVersion, Client};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    Listing, Paging, check_id, check_limit, collect, collect_all, data_object, date_filter,
    invalid, json_kind, non_blank, pair, parse_date, update_fields,
};
use crate::error::{Error, Result};
use crate::tools::products::parse_data_arg;

/// Which customers to list.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ListCustomers {
    /// Only the customer with this email address (exact, case-insensitive).
    #[arg(long)]
    pub email: Option<String>,
    /// Only customers whose first and last name together contain this text.
    #[arg(long)]
    pub name: Option<String>,
    /// Only customers in this customer group id.
    #[arg(long)]
    pub group: Option<u64>,
    /// Only customers modified at or after this date (YYYY-MM-DD or ISO 8601).
    #[arg(long)]
    pub modified_since: Option<String>,
    /// Most records to return (default 50); pages are fetched as needed.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Resume after the records already returned: the next_cursor of a previous result.
    #[arg(long)]
    pub cursor: Option<String>,
}

impl ListCustomers {
    /// The V3 query for these filters (docs/api-notes.md §2.2), or the first invalid one.
    pub fn query(&self) -> Result<Vec<(String, String)>> {
        check_limit(self.limit)?;
        let mut q = Vec::new();
        if let Some(email) = &self.email {
            let email = non_blank("email", email)?;
            if !email.contains('@') || email.contains(',') {
                return Err(invalid(
                    "email",
                    format!(
                        "{email:?} is not an email address; give one address such as ann@example.com"
                    ),
                ));
            }
            q.push(pair("email:in", email));
        }
        if let Some(name) = &self.name {
            q.push(pair("name:like", non_blank("name", name)?));
        }
        if let Some(group) = self.group {
            q.push(pair("customer_group_id:in", group));
        }
        if let Some(v) = &self.modified_since {
            q.push(pair(
                "date_modified:min",
                date_filter(parse_date("modified_since", v)?),
            ));
        }
        Ok(q)
    }
}

/// Lists customers (`GET /v3/customers`), up to `limit`.
pub async fn list_customers(client: &Client, args: &ListCustomers) -> Result<Listing> {
    let query = args.query()?;
    collect(
        client,
        Paging::V3,
        "/customers",
        &query,
        Some(check_limit(args.limit)?),
        args.cursor.as_deref(),
    )
    .await
}

/// Which customer to get.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct GetCustomer {
    /// The customer id.
    #[arg(value_name = "ID")]
    pub id: u64,
}

/// One customer with all its `addresses`. V3 has no single-customer GET, so it is read
/// with `id:in=`; the addresses come from `/customers/addresses`, because the embedded
/// list may stop at 10 (docs/api-notes.md §2.2, §12.15).
pub async fn get_customer(client: &Client, args: &GetCustomer) -> Result<Value> {
    let id = check_id("id", args.id)?;
    let found = client
        .v3_page("/customers", &[pair("id:in", id)], 1, 1)
        .await?;
    let Some(mut customer) = found.items.into_iter().next() else {
        return Err(not_found(id));
    };
    let addresses = collect_all(
        client,
        Paging::V3,
        "/customers/addresses",
        &[pair("customer_id:in", id)],
    )
    .await?;
    customer["addresses"] = Value::Array(addresses);
    Ok(customer)
}

fn not_found(id: u64) -> Error {
    Error::NotFound {
        what: format!("customer {id}"),
        fix: "list customers (by email or name) to find the id".to_owned(),
    }
}

/// A customer to create.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    /// The customer as a JSON object: email, first_name and last_name are required;
    /// addresses may be given inline. On the command line: the JSON itself, or @FILE.
    #[arg(long, value_name = "JSON|@FILE", value_parser = parse_data_arg)]
    pub data: Value,
}

impl CreateCustomer {
    /// Checks the fields the API requires on create (docs/api-notes.md §2.3).
    pub fn check(&self) -> Result<()> {
        let map = data_object(&self.data)?;
        for (field, min, max) in [
            ("email", 3, 255),
            ("first_name", 1, 100),
            ("last_name", 1, 100),
        ] {
            match map.get(field) {
                Some(Value::String(s)) if (min..=max).contains(&s.trim().chars().count()) => {}
                Some(Value::String(_)) => {
                    return Err(invalid(
                        "data",
                        format!("{field} must be {min} to {max} characters"),
                    ));
                }
                Some(other) => {
                    return Err(invalid(
                        "data",
                        format!("{field} must be a string; got {}", json_kind(other)),
                    ));
                }
                None => {
                    return Err(invalid(
                        "data",
                        format!("{field} is required to create a customer"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Creates a customer (`POST /v3/customers` with a one-item array); returns it as saved.
pub async fn create_customer(client: &Client, args: &CreateCustomer) -> Result<Value> {
    args.check()?;
    let resp = client
        .send(ApiRequest::post(
            ApiVersion::V3,
            "/customers",
            json!([args.data]),
        ))
        .await?;
    first_of(resp.body).ok_or_else(|| {
        invalid(
            "data",
            "the API saved nothing (an exact duplicate is left out of the answer); check \
             whether the customer exists already",
        )
    })
}

/// Changes to a customer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomer {
    /// The customer id.
    #[arg(value_name = "ID")]
    pub id: u64,
    /// The fields to change as a JSON object, e.g. {"phone": "555-0100"}. Addresses and
    /// attributes cannot be changed this way. On the command line: the JSON itself, or
    /// @FILE.
    #[arg(long, value_name = "JSON|@FILE", value_parser = parse_data_arg)]
    pub data: Value,
}

/// Updates a customer (`PUT /v3/customers` with a one-item array); returns it as saved.
pub async fn update_customer(client: &Client, args: &UpdateCustomer) -> Result<Value> {
    let id = check_id("id", args.id)?;
    let mut body = update_fields(&args.data, id, "customer")?;
    for read_only in ["addresses", "attributes"] {
        if body.contains_key(read_only) {
            return Err(invalid(
                "data",
                format!(
                    "{read_only} cannot be changed with a customer update (the API ignores \
                     them); use the raw request on /v3/customers/{read_only}"
                ),
            ));
        }
    }
    body.insert("id".to_owned(), json!(id));
    let resp = client
        .send(ApiRequest::put(
            ApiVersion::V3,
            "/customers",
            json!([Value::Object(body)]),
        ))
        .await?;
    first_of(resp.body).ok_or_else(|| not_found(id))
}

/// The first record of a V3 batch answer's `data`.
fn first_of(body: Option<Value>) -> Option<Value> {
    match super::v3_data(body) {
        Value::Array(items) => items.into_iter().next(),
        _ => None,
    }
}
