//! The MCP server: the tool table, what is listed (write tools only with
//! `--allow-writes`), and the one path every call takes: arguments parsed against the tool's
//! schema, the rate-limit check, the tool, the result shaped and capped, the run log.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Map, Value, json};

use super::confirm::ConfirmationBook;
use super::runlog::{CallRecord, CallRequests, Outcome, RunLog};
use super::tools;
use crate::tools as ops;

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct McpOptions {
    /// List and run the write tools (create, update, delete; raw POST/PUT/DELETE).
    pub allow_writes: bool,
    /// Cap on one result's JSON text.
    pub max_result_bytes: usize,
    /// The longest a call waits for the store's rate limit before it answers "retry after
    /// N s" instead.
    pub rate_limit_patience: Duration,
}

impl Default for McpOptions {
    fn default() -> Self {
        Self {
            allow_writes: false,
            max_result_bytes: super::shape::DEFAULT_MAX_RESULT_BYTES,
            rate_limit_patience: DEFAULT_RATE_LIMIT_PATIENCE,
        }
    }
}

/// A call waits this long at most for a rate limit before it reports the wait.
pub const DEFAULT_RATE_LIMIT_PATIENCE: Duration = Duration::from_secs(5);

/// What a tool may do to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    /// Listed only with `--allow-writes`.
    Write,
    /// Listed only with `--allow-writes`, and takes two calls (preview, then a token).
    Destructive,
}

/// One tool as listed.
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub access: Access,
    schema: fn() -> Arc<JsonObject>,
}

impl ToolSpec {
    fn tool(&self) -> Tool {
        let annotations = ToolAnnotations::default()
            .read_only(self.access == Access::Read && self.name != tools::RAW)
            .destructive(self.access == Access::Destructive || self.name == tools::RAW);
        Tool::new(self.name, self.description, (self.schema)()).with_annotations(annotations)
    }
}

/// Every tool, in the order listed.
pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: tools::LIST_ORDERS,
        description: "List orders (filters: status, customer_id, created/modified dates; \
                      newest_first for the most recent first). Returns compact records and a \
                      next_cursor when more exist.",
        access: Access::Read,
        schema: tools::schema::<ops::ListOrders, true, false>,
    },
    ToolSpec {
        name: tools::GET_ORDER,
        description: "One order with its lines, shipping addresses, shipments and coupons.",
        access: Access::Read,
        schema: tools::schema::<ops::GetOrder, true, false>,
    },
    ToolSpec {
        name: tools::UPDATE_ORDER,
        description: "Change an order's status and/or staff notes.",
        access: Access::Write,
        schema: tools::schema::<ops::UpdateOrder, true, false>,
    },
    ToolSpec {
        name: tools::LIST_PRODUCTS,
        description: "List products, one page per call (filters: category, brand, visible, \
                      availability, sku, name). Returns compact records and a next_cursor when \
                      more exist.",
        access: Access::Read,
        schema: tools::schema::<ops::ListProducts, true, false>,
    },
    ToolSpec {
        name: tools::GET_PRODUCT,
        description: "One product with its variants, images and custom fields, by id or by SKU \
                      (variant SKUs too).",
        access: Access::Read,
        schema: tools::schema::<ops::GetProduct, true, false>,
    },
    ToolSpec {
        name: tools::CREATE_PRODUCT,
        description: "Create a product from the API's product fields (name, type, weight, \
                      price required).",
        access: Access::Write,
        schema: tools::schema::<ops::CreateProduct, true, false>,
    },
    ToolSpec {
        name: tools::UPDATE_PRODUCT,
        description: "Change fields of a product; fields left out keep their values.",
        access: Access::Write,
        schema: tools::schema::<ops::UpdateProduct, true, false>,
    },
    ToolSpec {
        name: tools::DELETE_PRODUCT,
        description: "Delete a product (with its variants and images). Two calls: the first \
                      returns a preview and a confirmation_token; repeat it with the token to \
                      delete.",
        access: Access::Destructive,
        schema: tools::schema::<ops::DeleteProduct, false, true>,
    },
    ToolSpec {
        name: tools::LIST_CATEGORIES,
        description: "The category tree of a channel (default: the main storefront), nested \
                      through children.",
        access: Access::Read,
        schema: tools::schema::<ops::ListCategories, true, false>,
    },
    ToolSpec {
        name: tools::LIST_CUSTOMERS,
        description: "List customers, one page per call (filters: email, name, group, modified \
                      date). Returns compact records and a next_cursor when more exist.",
        access: Access::Read,
        schema: tools::schema::<ops::ListCustomers, true, false>,
    },
    ToolSpec {
        name: tools::GET_CUSTOMER,
        description: "One customer with their addresses.",
        access: Access::Read,
        schema: tools::schema::<ops::GetCustomer, true, false>,
    },
    ToolSpec {
        name: tools::CREATE_CUSTOMER,
        description: "Create a customer (first_name, last_name and email required).",
        access: Access::Write,
        schema: tools::schema::<ops::CreateCustomer, true, false>,
    },
    ToolSpec {
        name: tools::UPDATE_CUSTOMER,
        description: "Change fields of a customer; fields left out keep their values.",
        access: Access::Write,
        schema: tools::schema::<ops::UpdateCustomer, true, false>,
    },
    ToolSpec {
        name: tools::RAW,
        description: "Any other store API request (carts, checkouts, shipments, refunds...): \
                      a path under /v2/ or /v3/. GET only unless the server allows writes; a \
                      DELETE takes two calls (preview, then confirmation_token).",
        access: Access::Read,
        schema: tools::schema::<ops::RawRequest, true, true>,
    },
];

/// What every call shares: the one client (and so one pacer), the options, the pending
/// confirmations and the run log. Sessions (HTTP) are clones of one server.
struct Shared {
    client: bigcommerce::Client,
    options: McpOptions,
    confirmations: ConfirmationBook,
    run_log: Option<Arc<RunLog>>,
}

/// The server handed to rmcp; cheap to clone.
#[derive(Clone)]
pub struct McpServer {
    shared: Arc<Shared>,
}

/// A failed call as the agent reads it: what failed, why, what to do.
#[derive(Debug, Clone)]
pub struct ToolError {
    pub outcome: Outcome,
    /// A short stable word: `invalid_arguments`, `not_found`, `rate_limited`...
    pub kind: &'static str,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl ToolError {
    pub fn refused(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Refused,
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn invalid(tool: &str, why: impl std::fmt::Display) -> Self {
        Self::refused(
            "invalid_arguments",
            format!(
                "invalid arguments for {tool}: {why}; fix the arguments (the tool's input \
                 schema lists them) and call again"
            ),
        )
    }
}

/// A successful call: the result object, and how many records it holds (for the log).
#[derive(Debug, Clone)]
pub struct ToolReply {
    pub outcome: Outcome,
    pub body: Value,
    pub records: Option<u64>,
}

impl ToolReply {
    pub fn ok(body: Value) -> Self {
        let records = body.get("count").and_then(Value::as_u64);
        Self {
            outcome: Outcome::Ok,
            body,
            records,
        }
    }
}

pub type ToolResult = Result<ToolReply, ToolError>;

/// The context a tool runs with.
pub struct Call<'a> {
    pub tool: &'static str,
    /// The call's client: the server's, with an observer counting this call's requests.
    pub client: bigcommerce::Client,
    pub options: &'a McpOptions,
    pub confirmations: &'a ConfirmationBook,
    pub arguments: &'a Map<String, Value>,
}

impl McpServer {
    pub fn new(
        client: bigcommerce::Client,
        options: McpOptions,
        run_log: Option<Arc<RunLog>>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                client,
                options,
                confirmations: ConfirmationBook::default(),
                run_log,
            }),
        }
    }

    /// The tools this server lists: the read tools, and the write tools when allowed.
    pub fn listed(&self) -> impl Iterator<Item = &'static ToolSpec> + '_ {
        TOOLS
            .iter()
            .filter(|t| t.access == Access::Read || self.shared.options.allow_writes)
    }

    /// Runs one call and records it; never fails (a failure is a result the agent reads).
    pub async fn call(&self, name: &str, arguments: Option<Map<String, Value>>) -> CallToolResult {
        let started = chrono::Utc::now();
        let arguments = arguments.unwrap_or_default();
        let requests = Arc::new(CallRequests::default());
        let result = self.run(name, &arguments, Arc::clone(&requests)).await;
        let (result, outcome, summary, records) = match result {
            Ok(reply) => {
                let summary = reply
                    .body
                    .get("note")
                    .and_then(Value::as_str)
                    .unwrap_or("done")
                    .to_owned();
                let text = reply.body.to_string();
                let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
                r.structured_content = Some(reply.body);
                (r, reply.outcome, summary, reply.records)
            }
            Err(e) => {
                let mut body = json!({ "kind": e.kind, "message": e.message });
                if let Some(after) = e.retry_after {
                    body["retry_after_seconds"] = json!(after.as_secs_f64().ceil() as u64);
                }
                let error = json!({ "error": body });
                let mut r = CallToolResult::error(vec![ContentBlock::text(e.message.clone())]);
                r.structured_content = Some(error);
                (r, e.outcome, e.message, None)
            }
        };
        if let Some(log) = &self.shared.run_log {
            log.record(CallRecord {
                tool: name,
                arguments: &arguments,
                outcome,
                summary,
                records,
                started,
                requests: requests.since(0),
            });
        }
        result
    }

    async fn run(
        &self,
        name: &str,
        arguments: &Map<String, Value>,
        requests: Arc<CallRequests>,
    ) -> ToolResult {
        let Some(spec) = TOOLS.iter().find(|t| t.name == name) else {
            let names: Vec<&str> = self.listed().map(|t| t.name).collect();
            return Err(ToolError::refused(
                "unknown_tool",
                format!(
                    "there is no tool named {name:?}; the tools are: {}",
                    names.join(", ")
                ),
            ));
        };
        if spec.access != Access::Read && !self.shared.options.allow_writes {
            return Err(writes_not_allowed(spec.name));
        }
        if let Some(wait) = self.rate_limit_wait() {
            return Err(rate_limited(spec.name, wait));
        }
        let call = Call {
            tool: spec.name,
            client: self.shared.client.clone().with_observer(requests),
            options: &self.shared.options,
            confirmations: &self.shared.confirmations,
            arguments,
        };
        tools::run(&call).await
    }

    /// The wait before the store will take a request, when longer than the patience: a
    /// pause after a 429, or a spent quota until the window resets.
    fn rate_limit_wait(&self) -> Option<Duration> {
        let rl = self.shared.client.rate_limit();
        let wait = rl
            .paused_for
            .or_else(|| rl.budget.filter(|b| *b == 0).and(rl.reset))?;
        (wait > self.shared.options.rate_limit_patience).then_some(wait)
    }
}

/// The refusal of a write tool on a read-only server.
pub fn writes_not_allowed(tool: &str) -> ToolError {
    ToolError::refused(
        "writes_not_allowed",
        format!(
            "{tool} changes the store, and this server is read-only; ask the operator to \
             restart `bcsync mcp` with --allow-writes if changes are intended"
        ),
    )
}

/// A call refused by the store's rate limit, with the wait.
pub fn rate_limited(tool: &str, wait: Duration) -> ToolError {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    ToolError {
        outcome: Outcome::Failed,
        kind: "rate_limited",
        message: format!(
            "{tool} was not run: the store's API rate limit is spent (HTTP 429) and nothing \
             was changed; retry the same call after {secs} s"
        ),
        retry_after: Some(Duration::from_secs(secs)),
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        let mode = if self.shared.options.allow_writes {
            "Writes are allowed; deletes take two calls (a preview returns a confirmation_token \
             to repeat the call with)."
        } else {
            "This server is read-only."
        };
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("bcsync", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "Tools for one BigCommerce store: orders, products, categories, customers, and \
                 raw API requests. List tools return one page with a next_cursor; pass `fields` \
                 to keep results small. {mode}"
            ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(
            self.listed().map(ToolSpec::tool).collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        Ok(self.call(&request.name, request.arguments).await.into())
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.listed().find(|t| t.name == name).map(ToolSpec::tool)
    }
}
