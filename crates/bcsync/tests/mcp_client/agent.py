"""The agent scenario, scripted (no language model needed): "find this customer's most
recent order and mark it shipped with a staff note", done by tool calls only through the
official MCP Python SDK. Prints the calls made and the order it shipped as JSON; tests/mcp.rs
checks the sandbox afterwards.
"""

import asyncio
import json
import sys

from mcp_session import open_session, parse_args, result_json

STAFF_NOTE = "Shipped by the MCP agent scenario"


async def call(session, transcript, tool, args):
    answer = result_json(await session.call_tool(tool, args))
    transcript.append({"tool": tool, "args": args, "is_error": answer["is_error"]})
    if answer["is_error"]:
        raise RuntimeError(f"{tool} failed: {answer['text']}")
    return answer["structured"]


async def run(args):
    transcript = []
    async with open_session(args) as session:
        # 1. Who is the customer?
        found = await call(
            session,
            transcript,
            "list-customers",
            {"email": args.customer_email, "fields": ["id", "email"]},
        )
        if found["count"] != 1:
            raise RuntimeError(f"expected one customer with that email, got {found}")
        customer_id = found["records"][0]["id"]
        # 2. Their orders, newest first; page through in case the first page is capped.
        orders = []
        cursor = None
        while True:
            page_args = {
                "customer_id": customer_id,
                "newest_first": True,
                "fields": ["id", "date_created", "status"],
                "limit": 50,
            }
            if cursor:
                page_args["cursor"] = cursor
            page = await call(session, transcript, "list-orders", page_args)
            orders.extend(page["records"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
        if not orders:
            raise RuntimeError("the customer has no orders")
        # The most recent by creation date (RFC 2822 in V2 orders), ties broken by id.
        from email.utils import parsedate_to_datetime

        newest = max(orders, key=lambda o: (parsedate_to_datetime(o["date_created"]), o["id"]))
        # 3. Mark it shipped with a staff note.
        updated = await call(
            session,
            transcript,
            "update-order",
            {"id": newest["id"], "status": "Shipped", "staff_notes": STAFF_NOTE},
        )
        # 4. Read it back through the tools.
        check = await call(
            session,
            transcript,
            "get-order",
            {"id": newest["id"], "fields": ["id", "status", "staff_notes"]},
        )
    return {
        "customer_id": customer_id,
        "orders_seen": len(orders),
        "shipped_order_id": newest["id"],
        "update_answer_status": updated["record"].get("status"),
        "read_back": check["record"],
        "transcript": transcript,
    }


def main():
    args = parse_args(__doc__)
    try:
        out = asyncio.run(asyncio.wait_for(run(args), timeout=120))
    except Exception as e:  # noqa: BLE001 - the test prints it
        json.dump({"error": f"{type(e).__name__}: {e}"}, sys.stdout)
        return
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
