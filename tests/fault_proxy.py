"""An HTTP proxy on 127.0.0.1 that forwards to moto_server and injects S3 faults.

A `Fault` matches requests by method and a regular expression searched in the path and
query; the first `times` matching requests fail in the chosen way:

- "slowdown": a 503 SlowDown error, as S3 sends when throttling;
- "reset": the connection is reset (RST) before any response;
- "truncate": the real response's status and headers, then half its body, then a reset.

The proxy runs in its own process: the ingest forks decode workers, and a forked child would
keep the proxy's sockets open, turning a reset into a silent hang. `GET /__proxy__` on the
proxy answers with every request it saw and the ones each fault failed.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import re
import socket
import struct
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

Kind = Literal["slowdown", "reset", "truncate"]
SLOWDOWN_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message>"
    b"<RequestId>0000000000000000</RequestId></Error>"
)
STATE_PATH = "/__proxy__"
# Headers that describe one hop, not the message.
_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}
LIST_REQUEST = r"[?&]list-type=2"  # ListObjectsV2
LOG_FILE_REQUEST = r"\.json\.gz$"  # GetObject of a log file


@dataclass(frozen=True)
class Fault:
    """Fail the first `times` requests with this method whose path+query matches `pattern`."""

    kind: Kind
    pattern: str
    times: int
    method: str = "GET"


@dataclass
class Proxy:
    """A running proxy: its URL; `state()` reports what it saw and failed."""

    url: str

    def state(self) -> dict[str, Any]:
        """{"seen": ["GET /path?query", ...], "hits": [[path+query failed, ...] per fault]}."""
        with urllib.request.urlopen(self.url + STATE_PATH, timeout=5) as response:
            return dict(json.load(response))


@contextmanager
def fault_proxy(upstream: str, faults: list[Fault]) -> Iterator[Proxy]:
    """Run the proxy in front of `upstream` (the moto_server URL) until the block ends."""
    spec = json.dumps([asdict(f) for f in faults])
    proc = subprocess.Popen(
        [sys.executable, __file__, upstream, spec], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield Proxy(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- the proxy process ---------------------------------------------------------------------


class _Rules:
    def __init__(self, faults: list[Fault]) -> None:
        self.faults = [(f, re.compile(f.pattern)) for f in faults]
        self.hits: list[list[str]] = [[] for _ in faults]
        self.seen: list[str] = []
        self.lock = threading.Lock()

    def take(self, method: str, target: str) -> Fault | None:
        """The fault to inject into this request, counting it; None to forward it."""
        with self.lock:
            self.seen.append(f"{method} {target}")
            for (fault, pattern), hits in zip(self.faults, self.hits, strict=True):
                if fault.method == method and len(hits) < fault.times and pattern.search(target):
                    hits.append(target)
                    return fault
        return None

    def state(self) -> bytes:
        with self.lock:
            return json.dumps({"seen": self.seen, "hits": self.hits}).encode()


def _reset(sock: socket.socket) -> None:
    # SO_LINGER with a zero timeout makes close() send RST: a connection reset by peer.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _handler(rules: _Rules, upstream: str) -> type[http.server.BaseHTTPRequestHandler]:
    target = urlsplit(upstream)
    host = target.hostname or "127.0.0.1"

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if self.path == STATE_PATH:
                self._reply(200, [("Content-Type", "application/json")], rules.state())
                return
            fault = rules.take(self.command, self.path)
            if fault is not None and fault.kind == "reset":
                self._drop()
                return
            if fault is not None and fault.kind == "slowdown":
                self._reply(503, [("Content-Type", "application/xml")], SLOWDOWN_BODY)
                return
            conn = http.client.HTTPConnection(host, target.port, timeout=30)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP]
            finally:
                conn.close()
            if fault is not None:  # truncate: promise the whole body, send half, reset
                self._head(response.status, kept, len(data))
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self._drop()
                return
            self._reply(response.status, kept, data)

        def _head(self, status: int, headers: list[tuple[str, str]], length: int) -> None:
            self.send_response(status)
            for key, value in headers:
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(length))
            self.end_headers()

        def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
            self._head(status, headers, len(data))
            if self.command != "HEAD":
                self.wfile.write(data)

        def _drop(self) -> None:
            self.close_connection = True
            self.wfile.flush()
            _reset(self.connection)

        def finish(self) -> None:
            with contextlib.suppress(OSError):  # the socket was reset on purpose
                super().finish()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            return

    return Handler


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # errors on connections reset on purpose are expected


def _serve(upstream: str, spec: str) -> None:
    rules = _Rules([Fault(**item) for item in json.loads(spec)])
    server = _Server(("127.0.0.1", 0), _handler(rules, upstream))
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2])
