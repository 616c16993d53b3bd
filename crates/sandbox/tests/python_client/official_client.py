"""Drives the sandbox with BigCommerce's official Python client (`bigcommerce` on PyPI).

Run by crates/sandbox/tests/python_client.rs with BC_API_ENDPOINT=127.0.0.1:PORT,
BC_STORE_HASH and BC_ACCESS_TOKEN set. The client is used unmodified but for the base
URL: it hard-codes `https://` in OAuthConnection.full_path, and the sandbox serves plain
HTTP on loopback, so the one patch below swaps the scheme (docs/SANDBOX.md). Prints one
JSON object with what the client saw; the Rust test checks it against the sandbox.
"""

import json
import os
import sys

import bigcommerce
from bigcommerce.api import BigcommerceApi

host = os.environ["BC_API_ENDPOINT"]
store_hash = os.environ["BC_STORE_HASH"]
token = os.environ["BC_ACCESS_TOKEN"]

api = BigcommerceApi(client_id="sandbox-client", store_hash=store_hash, access_token=token)
conn = api.connection
# The only change to the client: http instead of the hard-coded https.
conn.full_path = lambda url: "http://" + conn.host + conn.api_path.format(conn.store_hash, url)

out = {}

customers = list(api.Customers.iterall())
out["customers_listed"] = len(customers)
out["customers_count"] = api.Customers.count()
out["customer_first_page"] = len(api.Customers.all(limit=10))
first = customers[0]
out["first_customer_addresses"] = len(first.addresses() or [])

products = list(api.Products.iterall())
out["products_listed"] = len(products)
out["products_count"] = api.Products.count()

orders = list(api.Orders.iterall())
out["orders_listed"] = len(orders)
out["orders_count"] = api.Orders.count()
out["order_ids_sample"] = [o.id for o in orders[:5]]

created = api.Customers.create(
    first_name="Grace", last_name="Hopper", email="grace@example.com", company="Navy"
)
out["customer_created"] = {"id": created.id, "email": created.email, "company": created.company}
updated = created.update(company="Harvard", phone="555-0199")
out["customer_updated"] = {"id": updated.id, "company": updated.company, "phone": updated.phone}
again = api.Customers.get(created.id)
out["customer_fetched"] = {"company": again.company, "date_modified": again.date_modified}

category = next(p.categories[0] for p in products if p.categories)
product = api.Products.create(
    name="Sandbox Teapot",
    type="physical",
    price="19.99",
    weight="1.5",
    categories=[category],
    availability="available",
)
out["product_created"] = {"id": product.id, "name": product.name, "price": product.price}
changed = product.update(price="24.50", name="Sandbox Teapot XL")
out["product_updated"] = {"id": changed.id, "name": changed.name, "price": changed.price}
out["product_fetched"] = {"price": api.Products.get(product.id).price}

json.dump(out, sys.stdout)
print()
