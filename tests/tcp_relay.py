"""A TCP relay for tests that take a real server away and bring it back: the app connects to the relay's port, the
relay forwards to the server. `stop()` closes the listener and every relayed connection (the server looks gone:
connections refused, open ones dropped); `start()` listens on the same port again."""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit


class TcpRelay:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1", timeout: float = 5.0):
        self.target = (target_host, target_port)
        self.host, self.timeout = host, timeout
        self.port = 0
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> TcpRelay:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="tcp-relay", daemon=True).start()
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by stop()
                return
            try:
                upstream = socket.create_connection(self.target, timeout=self.timeout)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile
                    client.close()
                    upstream.close()
                    return
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):  # the other direction's recv returns at once
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            with self._lock:
                self._open.difference_update((source, sink))
            source.close()


@contextmanager
def relayed(url: str) -> Iterator[tuple[TcpRelay, str]]:
    """A relay in front of the PostgreSQL server of SQLAlchemy `url`, and the same URL through the relay."""
    target = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    relay = TcpRelay(target.hostname, target.port or 5432).start()
    through = url.replace(f"@{target.hostname}:{target.port}", f"@127.0.0.1:{relay.port}", 1)
    assert through != url, "the URL names no host:port to relay"
    try:
        yield relay, through
    finally:
        relay.stop()


def close_app(server) -> None:
    """Stop what a Redis-mode app started: the journal's shipper, the live bus, the database pools."""
    server.extensions["tracking"].sink.close()
    server.extensions["live"].bus.close()
    server.extensions["podcast_platform"].db.dispose()
