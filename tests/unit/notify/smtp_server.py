"""A real SMTP server for the email tests (aiosmtpd on a free local port): it keeps what arrives, or refuses every
recipient with 550."""
from __future__ import annotations

import socket
from contextlib import contextmanager

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """aiosmtpd handler: accepts and keeps each message's (recipients, raw bytes)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"


class Refusing(Inbox):
    """aiosmtpd handler: refuses every recipient, as a server does for an unknown mailbox."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        return "550 5.1.1 No such user here"


@contextmanager
def smtp_server(handler: Inbox):
    """Yields the smtp:// URL of a running server; stopped afterwards."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()
