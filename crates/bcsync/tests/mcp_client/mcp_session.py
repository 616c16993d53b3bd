"""Opens an MCP session to `bcsync mcp` with the official MCP Python SDK (the `mcp`
package), over stdio (the SDK starts the server process) or streamable HTTP (with a bearer
token). Shared by driver.py and agent.py, which tests/mcp.rs runs.

Usage of the scripts: `--http URL` (bearer token from the BCSYNC_MCP_TOKEN environment
variable, none when unset) or `-- COMMAND ARGS...` for stdio.
"""

import argparse
import contextlib
import os
import sys

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def parse_args(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--http", help="streamable HTTP endpoint, e.g. http://127.0.0.1:8765/mcp")
    parser.add_argument("--steps", help="JSON file of steps (driver.py)")
    parser.add_argument("--customer-email", help="agent.py: whose order to ship")
    parser.add_argument("command", nargs="*", help="stdio: the server command and its arguments")
    args = parser.parse_args()
    if not args.http and not args.command:
        parser.error("give --http URL or -- COMMAND ARGS...")
    return args


@contextlib.asynccontextmanager
async def open_session(args):
    """An initialized ClientSession to the server the arguments name."""
    async with contextlib.AsyncExitStack() as stack:
        if args.http:
            token = os.environ.get("BCSYNC_MCP_TOKEN")
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            http_client = await stack.enter_async_context(create_mcp_http_client(headers=headers))
            read, write = await stack.enter_async_context(
                streamable_http_client(args.http, http_client=http_client)
            )
        else:
            params = StdioServerParameters(
                command=args.command[0], args=args.command[1:], env=dict(os.environ)
            )
            read, write = await stack.enter_async_context(stdio_client(params, errlog=sys.stderr))
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        yield session


def result_json(result):
    """A CallToolResult as plain JSON: is_error, the text content, the structured content."""
    text = "".join(getattr(c, "text", "") for c in result.content)
    return {
        "is_error": bool(result.is_error),
        "text": text,
        "structured": result.structured_content,
    }
