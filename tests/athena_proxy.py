"""Athena as the tests need it: moto_server behind an HTTP proxy on 127.0.0.1 that adds what
moto's Athena leaves out.

moto runs no SQL: a query goes QUEUED -> RUNNING -> SUCCEEDED as it is polled, scans 0 bytes
and returns the rows queued for it (`queue_results`, moto's own API). The proxy adds, over HTTP
like the service: pages of GetQueryResults (MaxResults, NextToken), and for the n-th query
started, a state, reason and bytes scanned its GetQueryExecution reports (`script`: a failure,
a scan that runs long) until rightsizer stops it, and rows for the queries whose text holds a
fragment (`answer_queries`). Every Athena request is kept (`requests`).
Not a test module itself.
"""

from __future__ import annotations

import http.client
import http.server
import json
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "content-length"}


@dataclass
class AthenaProxy:
    """A running proxy: point boto3 at `url`."""

    url: str
    upstream: str
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    scripts: dict[int, dict[str, Any]] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    stopped: set[str] = field(default_factory=set)
    texts: dict[str, str] = field(default_factory=dict)
    answers: list[tuple[str, list[list[str | None]]]] = field(default_factory=list)

    def script(self, nth: int, **status: Any) -> None:
        """The `nth` query started (1-based) reports `State`, `StateChangeReason` and/or
        `DataScannedInBytes` until it is stopped."""
        self.scripts[nth] = status

    def answer_queries(self, fragment: str, rows: list[list[str | None]]) -> None:
        """Rows (header first) for every query whose text holds `fragment`, in place of
        moto's queued or empty result."""
        self.answers.append((fragment, rows))

    def queue_results(self, *results: list[list[str | None]]) -> None:
        """Rows (the first is the header, as Athena sends) for the next queries started."""
        body = {
            "results": [
                {
                    "rows": [
                        {"Data": [{} if v is None else {"VarCharValue": v} for v in row]}
                        for row in rows
                    ],
                    "column_info": [],
                }
                for rows in results
            ]
        }
        request = urllib.request.Request(
            f"{self.upstream}/moto-api/static/athena/query-results",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=5).close()

    def calls(self, operation: str) -> list[dict[str, Any]]:
        """The request bodies of every call of `operation` (e.g. StartQueryExecution)."""
        return [body for name, body in self.requests if name == operation]

    def answer(self, operation: str, body: dict[str, Any], reply: dict[str, Any]) -> None:
        """Change moto's `reply` to what Athena would say; called in the proxy's thread."""
        self.requests.append((operation, body))
        if operation == "StartQueryExecution":
            self.started.append(reply["QueryExecutionId"])
            self.texts[reply["QueryExecutionId"]] = body["QueryString"]
        elif operation == "StopQueryExecution":
            self.stopped.add(body["QueryExecutionId"])
        elif operation == "GetQueryExecution":
            query_id = body["QueryExecutionId"]
            nth = self.started.index(query_id) + 1 if query_id in self.started else 0
            status = self.scripts.get(nth, {})
            execution = reply["QueryExecution"]
            if "DataScannedInBytes" in status:
                execution["Statistics"]["DataScannedInBytes"] = status["DataScannedInBytes"]
            if query_id not in self.stopped:
                for key in ("State", "StateChangeReason"):
                    if key in status:
                        execution["Status"][key] = status[key]
        elif operation == "GetQueryResults":
            text = self.texts.get(body["QueryExecutionId"], "")
            for fragment, answer in self.answers:
                if fragment in text:
                    reply["ResultSet"]["Rows"] = [
                        {"Data": [{} if v is None else {"VarCharValue": v} for v in row]}
                        for row in answer
                    ]
            rows = reply["ResultSet"]["Rows"]
            start = int(body.get("NextToken") or 0)
            end = start + int(body.get("MaxResults") or 1000)
            reply["ResultSet"]["Rows"] = rows[start:end]
            if end < len(rows):
                reply["NextToken"] = str(end)


def _handler(proxy: AthenaProxy) -> type[http.server.BaseHTTPRequestHandler]:
    target = urlsplit(proxy.upstream)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else b""
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                conn.request(self.command, self.path, body=data or None, headers=headers)
                response = conn.getresponse()
                reply = response.read()
                kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP]
            finally:
                conn.close()
            amz_target = self.headers.get("X-Amz-Target", "")
            if amz_target.startswith("AmazonAthena.") and response.status == 200:
                document = json.loads(reply or b"{}")
                proxy.answer(amz_target.split(".", 1)[1], json.loads(data or b"{}"), document)
                reply = json.dumps(document).encode()
            self.send_response(response.status)
            for key, value in kept:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _forward

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            return

    return Handler


@contextmanager
def athena_proxy(upstream: str) -> Iterator[AthenaProxy]:
    """Run the proxy in front of `upstream` (the moto_server URL) until the block ends."""
    proxy = AthenaProxy(url="", upstream=upstream)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
