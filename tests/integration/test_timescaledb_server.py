"""The PGlite TimescaleDB server's wire handling (tools/timescaledb/server.mjs), byte by byte.

A protocol message split across TCP reads once reached the WASM backend in halves and the client waited forever
(CI hung in the TimescaleDB tier). These tests send messages split where they choose and check that every message
gets an answer or an error, never silence."""
from __future__ import annotations

import threading
import time

import pytest

from tests.integration import pglite

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def server():
    running = pglite.Server()
    yield running
    assert running.stop() == 0, running.drain_output()[-2000:]


def test_a_query_split_across_reads_is_answered(server):
    client = pglite.WireClient(server.port)
    try:
        literal = "x" * 300_000  # larger than one TCP read, and than libpq's 8 KB writes
        message = client.query_message(f"SELECT length('{literal}')")
        for cut in (3, len(message) // 2):  # inside the 5-byte header, then inside the body
            client.send(message[:cut])
            time.sleep(0.3)  # the server reads the first part alone
            client.send(message[cut:])
            assert pglite.data_values(client.until_ready()) == [str(len(literal))]
    finally:
        client.close()


def test_several_messages_in_one_write_are_each_answered(server):
    client = pglite.WireClient(server.port)
    try:
        client.send(client.query_message("SELECT 1") + client.query_message("SELECT 2")[:7])
        time.sleep(0.2)
        client.send(client.query_message("SELECT 2")[7:])
        assert pglite.data_values(client.until_ready()) == ["1"]
        assert pglite.data_values(client.until_ready()) == ["2"]
    finally:
        client.close()


def test_an_unfinished_message_gets_an_error_not_silence(server):
    client = pglite.WireClient(server.port)
    try:
        message = client.query_message("SELECT 1" + " " * 1000)
        client.send(message[:20])  # and never the rest
        started = time.monotonic()
        with pytest.raises(pglite.WireError) as error:
            client.until_ready()
        waited = time.monotonic() - started
    finally:
        client.close()
    assert error.value.fields["C"] == "08006"
    assert f"received 20 of {len(message)} bytes of a 'Q' message" in error.value.fields["M"]
    assert pglite.PARTIAL_TIMEOUT_MS / 1000 - 0.5 <= waited < pglite.PARTIAL_TIMEOUT_MS / 1000 + 10


def test_a_client_that_leaves_inside_a_transaction_leaves_nothing_open(server):
    first = pglite.WireClient(server.port)
    first.send(first.query_message("BEGIN; CREATE TABLE left_open (a int)"))
    first.until_ready()
    first.close()  # no COMMIT, no Terminate
    second = pglite.WireClient(server.port)
    try:
        second.send(second.query_message("SELECT coalesce(to_regclass('left_open')::text, 'none')"))
        assert pglite.data_values(second.until_ready()) == ["none"]
    finally:
        second.close()


def test_a_second_client_waits_for_the_first_then_is_served(server):
    result = {}

    def second_client():
        try:
            client = pglite.WireClient(server.port)
            client.send(client.query_message("SELECT 'second'"))
            result["values"] = pglite.data_values(client.until_ready())
            client.close()
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            result["error"] = exc

    first = pglite.WireClient(server.port)
    try:
        thread = threading.Thread(target=second_client, daemon=True)
        thread.start()
        time.sleep(0.5)
        assert result == {}  # queued behind the first client
        first.send(first.query_message("SELECT 'first'"))
        assert pglite.data_values(first.until_ready()) == ["first"]
    finally:
        first.close()  # the second is served once the first leaves
    thread.join(timeout=30)
    assert result == {"values": ["second"]}


def test_a_backend_failure_is_reported_and_the_server_stops():
    """COPY FROM STDIN kills this WASM build's backend: the client hears why, and later clients are refused at once
    instead of waiting on a dead instance."""
    server = pglite.Server()
    try:
        client = pglite.WireClient(server.port)
        client.send(client.query_message("CREATE TABLE copied (a int); COPY copied FROM STDIN"))
        with pytest.raises(pglite.WireError) as error:
            client.until_ready()
        client.close()
        assert error.value.fields["C"] == "XX000"
        assert "PGlite backend failed" in error.value.fields["M"]
        assert server.proc.wait(timeout=30) == 70
        with pytest.raises(ConnectionRefusedError):
            pglite.WireClient(server.port, timeout=5)
        assert "backend failed" in server.drain_output()
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
        server.proc.wait(timeout=10)
