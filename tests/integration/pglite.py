"""The PGlite TimescaleDB server (tools/timescaledb/server.mjs) for the integration tier: start and stop it, connect
with timeouts that hold on it, and speak its wire protocol directly for the server's own tests.

This build ignores `statement_timeout`, so a lost reply is bounded on the client: `read_timeout` gives every wait
of an engine's connections a deadline, and the server itself answers an unfinished message with an error."""
from __future__ import annotations

import hashlib
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]
SERVER_DIR = ROOT / "tools" / "timescaledb"
PACKAGE = SERVER_DIR / "node_modules" / "@electric-sql" / "pglite" / "dist" / "timescaledb"
START_TIMEOUT = 120  # seconds: the WASM build takes ~10 s to boot
PARTIAL_TIMEOUT_MS = 5000  # the server's deadline for a message begun and not finished
READ_TIMEOUT = 120  # seconds any one wait for the server's answer may take
USER = PASSWORD = "postgres"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def missing() -> str | None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node/npm not installed (needed for the PGlite TimescaleDB server)"
    if not PACKAGE.is_dir():
        return f"PGlite TimescaleDB build not installed: run `npm ci --prefix {SERVER_DIR} --legacy-peer-deps`"
    return None


class Server:
    """A running server.mjs on a free port; `output` keeps what it printed."""

    def __init__(self):
        problem = missing()
        require_service(problem is None, problem or "")
        self.port = _free_port()
        env = {**os.environ, "PGLITE_PARTIAL_TIMEOUT_MS": str(PARTIAL_TIMEOUT_MS)}
        self.proc = subprocess.Popen(["node", "server.mjs", str(self.port)], cwd=SERVER_DIR, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.output = b""
        if not self._wait_ready():
            self.proc.kill()
            self.proc.wait(timeout=10)
            require_service(False, f"PGlite TimescaleDB server did not start within {START_TIMEOUT} s: "
                                   f"{self.output.decode(errors='replace')[-2000:]}")

    def _wait_ready(self) -> bool:
        """Read the server's output until READY, never blocking past the deadline."""
        deadline = time.monotonic() + START_TIMEOUT
        os.set_blocking(self.proc.stdout.fileno(), False)
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while b"READY" not in self.output:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return False
                if sel.select(timeout=min(left, 1.0)):
                    self.output += self.proc.stdout.read() or b""
        return True

    def drain_output(self) -> str:
        """What the server printed since start (it logs failures to stderr, merged here)."""
        try:
            self.output += self.proc.stdout.read() or b""
        except (BlockingIOError, ValueError):
            pass
        return self.output.decode(errors="replace")

    def url(self) -> str:
        return f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:{self.port}/postgres?sslmode=disable&connect_timeout=10"

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc.stdout.close()


class ReadTimeoutConnection(psycopg.Connection):
    """A psycopg connection whose every wait for the server ends after READ_TIMEOUT seconds with an error."""

    def wait(self, gen, interval=0.1, timeout=None):
        return super().wait(gen, interval=interval, timeout=READ_TIMEOUT if timeout is None else timeout)


def read_timeout(engine: Engine) -> Engine:
    """Make `engine` open ReadTimeoutConnections."""

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        return ReadTimeoutConnection.connect(*cargs, **cparams)

    return engine


class WireClient:
    """A bare protocol-3 client over one socket: sends bytes exactly as told, so a test decides where TCP splits."""

    def __init__(self, port: int, timeout: float = 30.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        params = f"user\0{USER}\0database\0postgres\0\0".encode()
        self.sock.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
        head = self._read_message()
        if head[0] == ord("R") and struct.unpack("!i", head[5:9])[0] == 5:  # MD5 password request
            inner = hashlib.md5(f"{PASSWORD}{USER}".encode()).hexdigest().encode()
            answer = b"md5" + hashlib.md5(inner + head[9:13]).hexdigest().encode() + b"\0"
            self.sock.sendall(b"p" + struct.pack("!i", 4 + len(answer)) + answer)
        self.until_ready()

    def _recv_exact(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError(f"server closed the connection after {len(data)} of {size} bytes")
            data += chunk
        return data

    def _read_message(self) -> bytes:
        head = self._recv_exact(5)
        return head + self._recv_exact(struct.unpack("!i", head[1:5])[0] - 4)

    def until_ready(self) -> list[bytes]:
        """Messages up to and including ReadyForQuery; raises on an ErrorResponse."""
        messages = []
        while True:
            message = self._read_message()
            messages.append(message)
            if message[:1] == b"E":
                raise WireError(error_fields(message))
            if message[:1] == b"Z":
                return messages

    @staticmethod
    def query_message(sql: str) -> bytes:
        body = sql.encode() + b"\0"
        return b"Q" + struct.pack("!i", 4 + len(body)) + body

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()


class WireError(Exception):
    def __init__(self, fields: dict[str, str]):
        super().__init__(f"{fields.get('C')}: {fields.get('M')}")
        self.fields = fields


def error_fields(message: bytes) -> dict[str, str]:
    fields = {}
    for part in message[5:].split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode(errors="replace")
    return fields


def data_values(messages: list[bytes]) -> list[str]:
    """The first column of each DataRow ('D') among `messages`, as text."""
    values = []
    for message in messages:
        if message[:1] == b"D":
            size = struct.unpack("!i", message[7:11])[0]
            values.append(message[11:11 + size].decode())
    return values
