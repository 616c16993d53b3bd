"""Runs a list of steps against `bcsync mcp` through the official MCP Python SDK and prints
what the client saw as one JSON document on stdout; tests/mcp.rs writes the steps and
checks the answers (and the sandbox) itself.

A step is {"op": "list_tools"} or {"op": "call", "tool": NAME, "args": {...}}. The string
"$TOKEN" anywhere in args is replaced by the confirmation_token of the latest result that
had one, so a preview can be followed by its confirmation.

If the session cannot be opened (a refused bearer token), prints {"connect_error": ...}.
"""

import asyncio
import json
import sys

from mcp_session import open_session, parse_args, result_json


def substitute(value, token):
    if value == "$TOKEN":
        return token
    if isinstance(value, dict):
        return {k: substitute(v, token) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, token) for v in value]
    return value


async def run(args, steps):
    results = []
    token = None
    async with open_session(args) as session:
        for step in steps:
            if step["op"] == "list_tools":
                listed = await session.list_tools()
                results.append(
                    {
                        "tools": [t.name for t in listed.tools],
                        "schemas": {t.name: t.input_schema for t in listed.tools},
                    }
                )
            elif step["op"] == "call":
                call_args = substitute(step.get("args", {}), token)
                answer = result_json(await session.call_tool(step["tool"], call_args))
                structured = answer["structured"]
                if isinstance(structured, dict) and isinstance(
                    structured.get("confirmation_token"), str
                ):
                    token = structured["confirmation_token"]
                results.append(answer)
            else:
                raise ValueError(f"unknown step op {step['op']!r}")
    return results


def main():
    args = parse_args(__doc__)
    with open(args.steps, encoding="utf-8") as f:
        steps = json.load(f)
    try:
        results = asyncio.run(asyncio.wait_for(run(args, steps), timeout=120))
    except Exception as e:  # noqa: BLE001 - reported to the test, which decides
        # anyio wraps transport failures in exception groups: report the innermost causes.
        causes = []
        stack = [e]
        while stack:
            x = stack.pop()
            inner = getattr(x, "exceptions", None)
            if inner:
                stack.extend(inner)
            else:
                causes.append(f"{type(x).__name__}: {x}")
        json.dump({"connect_error": "; ".join(causes)}, sys.stdout)
        return
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
