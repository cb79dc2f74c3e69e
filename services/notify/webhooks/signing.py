"""Standard Webhooks v1 signing: `whsec_` secrets, the `webhook-*` headers and the message body."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from datetime import datetime, timezone

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24  # 192 bits; the spec asks for 24 to 64 bytes


def new_secret() -> str:
    """A fresh signing secret: `whsec_` + base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_message_id() -> str:
    """The `webhook-id` of a delivery, sent unchanged on every attempt (the receiver's idempotency key)."""
    return "msg_" + uuid.uuid4().hex


def message_body(event_type: str, occurred_at: datetime, data: dict) -> str:
    """The JSON body Standard Webhooks recommends: `{"type", "timestamp", "data"}` (a naive time is UTC)."""
    moment = occurred_at if occurred_at.tzinfo else occurred_at.replace(tzinfo=timezone.utc)
    stamp = moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return json.dumps({"type": event_type, "timestamp": stamp, "data": data}, separators=(",", ":"), default=str)


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with the base64-decoded part after `whsec_`."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secrets_in_use: list[str], message_id: str, timestamp: int, body: str) -> dict[str, str]:
    """The three `webhook-*` headers; during a rotation one signature per valid secret, space-separated."""
    signature = " ".join(sign(secret, message_id, timestamp, body) for secret in secrets_in_use)
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature,
            "content-type": "application/json"}
