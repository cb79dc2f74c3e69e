"""Embed link tokens: `<key id>.<embed id>.<signature>`, signed by the server with the newest key, verified with
the key it names, so keys rotate without breaking the links the older keys signed (until those keys are dropped).

The token carries only the embed id: what the embed shows, its expiry and its revocation live in the database.
A token is accepted only if it is exactly what signing its id gives again, so no variant of a valid token (base64
padding bits, case) is accepted either."""
from __future__ import annotations

from collections.abc import Sequence

from itsdangerous import BadSignature, URLSafeSerializer

from services.errors import NotFound

SALT = "podcast-analytics.embed"
INVALID = "This embed link is not valid."


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT)


def sign(embed_id: int, keys: Sequence[tuple[str, str]]) -> str:
    """The link token for `embed_id`, signed with the newest key (keys: (id, secret), newest first)."""
    kid, secret = keys[0]
    return f"{kid}.{_serializer(secret).dumps(int(embed_id))}"


def read(token: str, keys: Sequence[tuple[str, str]]) -> int:
    """The embed id a token names; NotFound for a malformed, tampered or unknown-key token."""
    kid, _, signed = (token or "").partition(".")
    secret = dict(keys).get(kid)
    if secret is None or not signed:
        raise NotFound(INVALID)
    try:
        embed_id = _serializer(secret).loads(signed)
    except BadSignature:
        raise NotFound(INVALID) from None
    if not isinstance(embed_id, int) or isinstance(embed_id, bool) or \
            f"{kid}.{_serializer(secret).dumps(embed_id)}" != token:
        raise NotFound(INVALID)
    return embed_id
