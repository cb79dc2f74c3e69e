"""Standard Webhooks signing, checked by the `standardwebhooks` package's own verify."""
import base64
import json
import time
from datetime import datetime, timezone

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from services.notify.webhooks.signing import message_body, new_message_id, new_secret, sign, signed_headers


def test_secret_is_whsec_and_24_random_bytes():
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[len("whsec_"):])) == 24
    assert new_secret() != secret


def test_signature_is_the_reference_implementations():
    secret, moment = new_secret(), datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    body = message_body("campaign.created", moment, {"campaign_id": 7})
    expected = Webhook(secret).sign("msg_1", moment, body)
    assert sign(secret, "msg_1", int(moment.timestamp()), body) == expected


def test_headers_verify_with_standardwebhooks_and_body_has_type_timestamp_data():
    secret, message_id = new_secret(), new_message_id()
    body = message_body("campaign.created", datetime(2026, 12, 1, tzinfo=timezone.utc), {"campaign_id": 7})
    headers = signed_headers([secret], message_id, int(time.time()), body)
    payload = Webhook(secret).verify(body, headers)
    assert payload == {"type": "campaign.created", "timestamp": "2026-12-01T00:00:00Z", "data": {"campaign_id": 7}}
    assert headers["webhook-id"] == message_id and message_id.startswith("msg_")


def test_tampered_body_or_other_secret_fails_verification():
    secret = new_secret()
    body = json.dumps({"type": "a.b", "timestamp": "x", "data": {}})
    headers = signed_headers([secret], "msg_2", int(time.time()), body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("a.b", "a.c"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


def test_rotation_signs_with_both_secrets_space_separated():
    old, new = new_secret(), new_secret()
    body = message_body("a.b", datetime.now(timezone.utc), {})
    headers = signed_headers([new, old], "msg_3", int(time.time()), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert all(part.startswith("v1,") for part in headers["webhook-signature"].split(" "))
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)


def test_body_timestamp_is_utc_even_from_a_naive_time():
    body = json.loads(message_body("a.b", datetime(2026, 12, 1, 8, 30), {"n": 1}))
    assert body["timestamp"] == "2026-12-01T08:30:00Z"
