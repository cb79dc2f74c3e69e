"""A real webhook receiver for tests: a threaded HTTP server on 127.0.0.1 that verifies each request with the
`standardwebhooks` package, dedupes by webhook-id as a receiver should, and answers from a script (to fail on
purpose); it can go down and come back on the same port."""
from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a sender that gave up on a late reply is expected
            super().handle_error(request, client_address)


@dataclass
class Received:
    message_id: str
    verified: bool
    body: dict | None
    headers: dict


@dataclass
class Receiver:
    secret: str | None = None
    verify: bool = True  # False for frozen-clock tests, whose timestamps standardwebhooks would call too new
    script: deque = field(default_factory=deque)  # (status, headers, body) answers, used up in order; then 200
    requests: list[Received] = field(default_factory=list)
    processed: dict[str, dict] = field(default_factory=dict)  # webhook-id -> body, each handled once
    duplicates: int = 0
    stall_next: int = 0  # handle this many requests, then answer too late (the sender sees a timeout)
    stall_seconds: float = 1.5
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, reply = receiver.handle(body, {k: v for k, v in self.headers.items()})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_args):
                pass

        self._server = _QuietServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def handle(self, body: bytes, headers: dict) -> tuple[int, dict, bytes]:
        try:
            payload = Webhook(self.secret).verify(body, headers) if self.verify else json.loads(body)
            verified = True
        except WebhookVerificationError:
            payload, verified = None, False
        message_id = {k.lower(): v for k, v in headers.items()}.get("webhook-id", "")
        with self._lock:
            self.requests.append(Received(message_id, verified, payload, headers))
            if not verified:
                return 401, {}, b"bad signature"
            status, extra, reply = self.script.popleft() if self.script else (200, {}, b"ok")
            if 200 <= status < 300:
                if message_id in self.processed:
                    self.duplicates += 1
                else:
                    self.processed[message_id] = payload
            stall, self.stall_next = self.stall_next > 0, max(self.stall_next - 1, 0)
        if stall:
            time.sleep(self.stall_seconds)
        return status, extra, reply

    def fail_next(self, count: int, status: int = 503, headers: dict | None = None, body: bytes = b"down") -> None:
        self.script.extend([(status, headers or {}, body)] * count)

    def bodies(self) -> list[dict]:
        return list(self.processed.values())

    def dump(self) -> str:
        return json.dumps([(r.message_id, r.verified) for r in self.requests])
