#!/usr/bin/env python3
"""A tiny HTTP/1.1 server for kengine's HTTP retry tests (tests/net/*_test.cpp).

Listens on 127.0.0.1 on a free port, prints "PORT <n>" on stdout, and exits by itself after
--lifetime seconds (default 120) so a crashed test never leaves it behind.

Routes (every request is counted per path; GET /hits/<path> reads the count):
  /flaky/<key>?fail=N&status=S[&retry_after=R]  status S (default 429) for the first N
                                                requests of <key>, then 200 "ok after N"
  /throttle/<key>?fail=N&format=xml|json        400 with an AWS throttling error body for the
                                                first N requests, then 200
  /error/<key>?code=C&status=S                  always status S (default 400) with error code C
  /status/<S>                                   always status S
  /echo                                         200 with a JSON of method, path, headers, body
  /hits/<path>                                  200 with the number of requests seen for <path>
"""
import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HITS = {}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def _send(self, status, body=b"", headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        items = headers.items() if isinstance(headers, dict) else (headers or [])
        for name, value in items:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        parts = [p for p in url.path.split("/") if p]
        if parts and parts[0] != "hits":
            with LOCK:
                HITS[url.path] = HITS.get(url.path, 0) + 1
                seen = HITS[url.path]
        else:
            seen = 0
        route = parts[0] if parts else ""

        if route == "flaky":
            fail = int(query.get("fail", "1"))
            if seen <= fail:
                headers = {}
                if "retry_after" in query:
                    headers["Retry-After"] = query["retry_after"]
                return self._send(int(query.get("status", "429")), "try again", headers)
            return self._send(200, "ok after %d" % fail, {"X-Attempts": str(seen)})
        if route == "throttle":
            fail = int(query.get("fail", "1"))
            if seen <= fail:
                if query.get("format") == "json":
                    return self._send(400, json.dumps({"__type": "com.amazonaws.autoscaling#ThrottlingException",
                                                       "message": "Rate exceeded"}),
                                      {"Content-Type": "application/x-amz-json-1.1"})
                return self._send(400, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
                                       "<Code>RequestLimitExceeded</Code><Message>Request limit exceeded."
                                       "</Message></Error></Errors><RequestID>x</RequestID></Response>",
                                  {"Content-Type": "text/xml"})
            return self._send(200, "<DescribeVpcsResponse/>", {"Content-Type": "text/xml"})
        if route == "error":
            code = query.get("code", "InvalidParameterValue")
            return self._send(int(query.get("status", "400")),
                              "<ErrorResponse><Error><Code>%s</Code></Error></ErrorResponse>" % code,
                              {"Content-Type": "text/xml"})
        if route == "status" and len(parts) > 1:
            return self._send(int(parts[1]), "status %s" % parts[1])
        if route == "echo":
            return self._send(200, json.dumps({
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
            }), [("Content-Type", "application/json"), ("X-Dup", "1"), ("X-Dup", "2")])
        if route == "hits":
            with LOCK:
                return self._send(200, str(HITS.get("/" + "/".join(parts[1:]), 0)))
        return self._send(404, "no route")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lifetime", type=float, default=120.0)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("PORT %d" % server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    time.sleep(args.lifetime)
    server.shutdown()


if __name__ == "__main__":
    main()
