#!/usr/bin/env python3
"""The mock API of the manifest benchmark: one stream, `GET /items?page=N`, N records a page.

    manifest_api.py [--records 100000] [--page-size 1000]

Pages are rendered once at start (so the server is not what is measured) and served as
`{"data": [...], "next_page": N+1 | null}` behind an `Authorization: Bearer bench-token`
check. Records look like the bench kit's (ten fields: ids, text, numbers, a timestamp, a
nested object, a list). Prints `READY <port>` once it listens on 127.0.0.1.
"""
import argparse
import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def record(i):
    return {
        "id": i,
        "uuid": f"00000000-0000-4000-8000-{i:012d}",
        "name": f"user {i}",
        "email": f"user{i}@example.com",
        "age": 18 + i % 60,
        "score": round((i * 7919 % 10000) / 100.0, 2),
        "active": i % 3 != 0,
        "updated_at": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00+00:00",
        "address": {"city": f"City {i % 97}", "zip": f"{10000 + i % 89999}"},
        "tags": [f"t{i % 5}", f"t{i % 7}"],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--page-size", type=int, default=1000)
    args = ap.parse_args()
    pages = {}
    n_pages = (args.records + args.page_size - 1) // args.page_size
    for p in range(1, n_pages + 1):
        lo = (p - 1) * args.page_size
        data = [record(i) for i in range(lo, min(lo + args.page_size, args.records))]
        body = {"data": data, "next_page": p + 1 if p < n_pages else None}
        pages[p] = json.dumps(body).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            if self.headers.get("Authorization") != "Bearer bench-token":
                status, body = 401, b'{"error": "bad token"}'
            elif url.path != "/items":
                status, body = 404, b'{"error": "not found"}'
            else:
                page = int(query.get("page", ["1"])[0])
                status, body = (200, pages[page]) if page in pages else (200, b'{"data": [], "next_page": null}')
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
