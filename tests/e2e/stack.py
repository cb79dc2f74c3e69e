"""The production stack for browser tests, as the image runs it (deploy/entrypoint.sh): the database migrated and the
demo seeded by the owner (`flask db upgrade`, `flask seed-demo`), the web under gunicorn (`app:create_app()`) with a
LOGIN that holds `podcast_app` only, as a production web login does, on a fresh PostgreSQL database with Redis; a real
RQ worker (`python -m jobs.worker`, with its scheduler) as the owner (a member of the worker role); a local SMTP
server (aiosmtpd) that keeps every message, and a local webhook receiver that keeps every request. Everything started
here is stopped, and the database and the web login dropped, when the block ends; every wait is bounded."""
from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import psycopg
import redis

from services.settings import PROJECT_ROOT
from tests.conftest import DEMO_PASSWORD
from tests.integration.conftest import PG_ADMIN, create_database, drop_database, with_timeouts

START_TIMEOUT = 90  # seconds for the web to answer /healthz
SETUP_TIMEOUT = 300  # seconds for the owner to migrate and seed the demo network
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
E2E_REDIS_URL = os.environ.get("TEST_E2E_REDIS_URL",
                               "redis://127.0.0.1:6379/7?socket_connect_timeout=5&socket_timeout=30")


@dataclass
class Mailbox:
    """Messages the local SMTP server accepted, parsed."""

    messages: list[email.message.EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def wait_for(self, predicate, timeout: float = 30) -> email.message.EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = next((m for m in self.messages if predicate(m)), None)
            if found is not None:
                return found
            time.sleep(0.2)
        with self.lock:
            subjects = [m["Subject"] for m in self.messages]
        raise AssertionError(f"no matching email within {timeout:g} s; received: {subjects}")


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A webhook receiver on 127.0.0.1: keeps every POST (headers, raw body) and answers `status` (settable)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.status = 200
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's hook name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                    status = receiver.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, event_type: str, timeout: float = 30) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = next((r for r in self.requests if _event_type(r.body) == event_type), None)
            if found is not None:
                return found
            time.sleep(0.2)
        with self._lock:
            seen = [_event_type(r.body) for r in self.requests]
        raise AssertionError(f"no {event_type} delivery within {timeout:g} s; received: {seen}")


def _event_type(body: bytes) -> str | None:
    try:
        return json.loads(body).get("type")
    except (ValueError, AttributeError):
        return None


@dataclass
class Stack:
    base: str
    database_url: str
    redis_url: str
    mailbox: Mailbox
    receiver: Receiver
    instance: Path
    env: dict[str, str]  # the processes' environment, for running the CLI against the same database and Redis


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _process(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    out = open(log, "w")  # noqa: SIM115 - closed with the process by _stop
    proc = subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    proc.log_file = out
    return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    proc.log_file.close()


def _wait_healthy(base: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the app did not start within {START_TIMEOUT} s: {log.read_text()[-3000:]}")


def _drop_role(login: str) -> None:
    with psycopg.connect(with_timeouts(PG_ADMIN), autocommit=True) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{login}"')


@contextmanager
def production_stack(instance: Path, **extra_env: str) -> Iterator[Stack]:
    """Start the whole stack on a fresh database; yields it; stops it all and drops the database afterwards."""
    from aiosmtpd.controller import Controller

    client = redis.Redis.from_url(E2E_REDIS_URL)
    client.flushdb()
    name, url = create_database()
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    port = _free_port()
    with ExitStack() as stack:
        stack.callback(drop_database, name)
        stack.callback(client.flushdb)
        smtp.start()
        stack.callback(smtp.stop)
        receiver = stack.enter_context(Receiver())
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": E2E_REDIS_URL, "INSTANCE_PATH": str(instance),
               "PORT": str(port), "DEMO_PASSWORD": DEMO_PASSWORD, "LOG_LEVEL": "WARNING",
               "SECRET_KEY": "e2e-production-stack-" + "k" * 16, "LOGIN_RATE_LIMIT_IP": "600/minute",
               "SMTP_URL": f"smtp://127.0.0.1:{smtp.port}", "MAIL_FROM": "Podcast Analytics <alerts@example.com>",
               "WEBHOOK_ALLOW_PRIVATE": "true", "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
               "PYTHONPATH": str(PROJECT_ROOT), **extra_env}
        for step in (["db", "upgrade"], ["seed-demo", "--password", DEMO_PASSWORD]):  # as the owner
            subprocess.run([sys.executable, "-m", "flask", "--app", "app", *step], cwd=PROJECT_ROOT, env=env,
                           check=True, timeout=SETUP_TIMEOUT, stdout=subprocess.DEVNULL)
        login = f"e2e_web_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(with_timeouts(PG_ADMIN), autocommit=True) as conn:
            conn.execute(f'CREATE ROLE "{login}" LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE podcast_app')
        stack.callback(_drop_role, login)
        web_env = {**env, "DATABASE_URL": url.replace("postgres@", f"{login}@", 1)}
        app = _process([GUNICORN, "--no-control-socket", "-c", "deploy/gunicorn.conf.py", "-w", "2", "--timeout", "120",
                        "-b", f"127.0.0.1:{port}", "app:create_app()"], web_env, instance / "app.log")
        stack.callback(_stop, app)
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, app, instance / "app.log")
        worker = _process([sys.executable, "-m", "jobs.worker"], env, instance / "worker.log")
        stack.callback(_stop, worker)
        yield Stack(base=base, database_url=url, redis_url=E2E_REDIS_URL, mailbox=mailbox, receiver=receiver,
                    instance=instance, env=env)
