"""Embed link tokens: signed with the newest key, verified with the key they name; any change to a token, an
unknown key or a dropped key makes the link invalid. EMBED_SIGNING_KEYS parsing."""
from __future__ import annotations

import string

import pytest

from services.sharing import tokens
from services.errors import ConfigError, NotFound
from tests.conftest import make_settings

KEYS = (("k2", "second-secret-0123456789"), ("k1", "first-secret-0123456789"))


def test_round_trip_carries_only_the_id_and_key_id():
    token = tokens.sign(42, KEYS)
    assert token.startswith("k2.")
    assert tokens.read(token, KEYS) == 42
    assert "second-secret" not in token


def test_every_one_character_change_is_refused():
    token = tokens.sign(7, KEYS)
    alphabet = string.ascii_letters + string.digits + "-_."
    for position, char in enumerate(token):
        other = next(c for c in alphabet if c != char)
        with pytest.raises(NotFound, match="not valid"):
            tokens.read(token[:position] + other + token[position + 1:], KEYS)


@pytest.mark.parametrize("token", ["", "k2", "k2.", "nokey.MQ.abc", "k2.MQ", "k2.MQ.abc.def", "k2.InN0cmluZyI.x"])
def test_malformed_tokens_are_refused(token):
    with pytest.raises(NotFound):
        tokens.read(token, KEYS)


def test_another_ids_signature_does_not_fit():
    one, two = tokens.sign(1, KEYS), tokens.sign(2, KEYS)
    forged = one.rsplit(".", 1)[0] + "." + two.rsplit(".", 1)[1]
    with pytest.raises(NotFound):
        tokens.read(forged, KEYS)


def test_rotation_keeps_old_links_until_their_key_is_dropped():
    old = tokens.sign(5, KEYS[1:])  # signed before k2 existed
    assert tokens.read(old, KEYS) == 5  # k2 added in front: k1's links still open
    assert tokens.sign(5, KEYS).startswith("k2.")  # new links use k2
    with pytest.raises(NotFound):
        tokens.read(old, KEYS[:1])  # k1 dropped: its links stop


def test_a_key_id_with_another_keys_secret_is_refused():
    token = tokens.sign(5, (("k1", "attacker-secret-0123456"),))
    with pytest.raises(NotFound):
        tokens.read(token, KEYS)


def test_settings_default_key_derives_from_secret_key(tmp_path):
    settings = make_settings(tmp_path)
    (kid, secret), = settings.embed_keys
    assert kid == "s0" and settings.secret_key not in secret and len(secret) == 64
    other = make_settings(tmp_path, SECRET_KEY="another-secret-key-0123456789")
    assert other.embed_keys[0][1] != secret


def test_settings_parse_embed_signing_keys_newest_first(tmp_path):
    settings = make_settings(tmp_path, EMBED_SIGNING_KEYS="k2:second-secret-0123456789, k1:first-secret-0123456789")
    assert settings.embed_keys == KEYS
    assert "second-secret" not in repr(settings)


@pytest.mark.parametrize("value, message", [
    ("k1", "item 1 is not id:secret"), ("k1:short", "at least 16"), ("bad key!:0123456789abcdefgh", "key id"),
    ("k1:0123456789abcdefgh,k1:0123456789abcdefgx", "appears twice"),
])
def test_settings_reject_bad_embed_signing_keys(tmp_path, value, message):
    with pytest.raises(ConfigError, match=message) as caught:
        make_settings(tmp_path, EMBED_SIGNING_KEYS=value)
    assert caught.value.variable == "EMBED_SIGNING_KEYS"
