"""The public API on PostgreSQL (+ Redis for the rate limits): every operation of the generated OpenAPI document,
fuzzed by schemathesis with a read key and a write key, answers no server error and nothing the document does not
allow; another tenant's key gets 404 for this tenant's ids on every id-taking route; sponsor keys stay in their
sponsor. Deterministic (derandomized) and bounded (a few examples per operation)."""
from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)
from sqlalchemy import select

from app import create_app
from services import accounts
from services.models import Campaign
from tests.api_world import demo_ids, fill, id_operations, sponsor_key, tenant_key
from tests.conftest import make_settings
from tests.integration.conftest import create_database, drop_database

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 4}


@pytest.fixture(scope="module")
def world(seeded_pg_template, redis_url, tmp_path_factory):
    name, url = create_database(seeded_pg_template[0])  # the demo tenant already seeded
    server = create_app(make_settings(tmp_path_factory.mktemp("api"), DATABASE_URL=url, REDIS_URL=redis_url,
                                      API_RATE_LIMIT="100000/minute", API_ANON_RATE_LIMIT="100000/minute"))
    server.config["TESTING"] = True
    server.config["PROPAGATE_EXCEPTIONS"] = False  # an unexpected error must come back as the 500 problem
    db = server.extensions["podcast_platform"].db
    accounts.create_tenant(db, "acme", "Acme")
    ids = demo_ids(db)
    world = {"app": server, "db": db, "ids": ids, "read": tenant_key(db, "demo", ("read",)),
             "write": tenant_key(db, "demo", ("read", "write")), "acme": tenant_key(db, "acme", ("read", "write"))}
    yield world
    db.dispose()
    drop_database(name)


@pytest.mark.timeout(120)
def test_another_tenants_key_gets_404_for_every_id_route(world):
    client, ops = world["app"].test_client(), id_operations()
    assert len(ops) >= 12
    for op in ops:
        url = fill(op.path, world["ids"]).replace("{name}", "episodes")
        if "{name}" in op.path:
            continue  # exports take a name, not an id: their rows are scoped by the key (checked below)
        response = client.open(url, method=op.method, json={}, headers=world["acme"])
        assert response.status_code == 404, (op.method, url, response.get_json())
        assert response.content_type == "application/problem+json"
    assert client.get("/api/v1/campaigns", headers=world["acme"]).get_json()["data"] == []


@pytest.mark.timeout(120)
def test_sponsor_keys_see_only_their_sponsor_on_postgres(world):
    db, client = world["db"], world["app"].test_client()
    tenant = accounts.get_tenant_by_slug(db, "demo")
    with db.session(tenant.id) as s:
        rows = s.execute(select(Campaign.id, Campaign.sponsor_id).where(Campaign.tenant_id == tenant.id)).all()
    mine = rows[0].sponsor_id
    own = {r.id for r in rows if r.sponsor_id == mine}
    others = {r.id for r in rows if r.sponsor_id != mine}
    assert own and others
    key = sponsor_key(db, "demo", mine)
    listed = client.get("/api/v1/campaigns", headers=key).get_json()["data"]
    assert {c["id"] for c in listed} == own
    assert [s["id"] for s in client.get("/api/v1/sponsors", headers=key).get_json()["data"]] == [mine]
    for campaign_id in own:
        assert client.get(f"/api/v1/campaigns/{campaign_id}/delivery", headers=key).status_code == 200
    for campaign_id in others:
        for suffix in ("", "/delivery", "/attribution"):
            assert client.get(f"/api/v1/campaigns/{campaign_id}{suffix}", headers=key).status_code == 404
    for url in ("/api/v1/podcasts", "/api/v1/episodes", "/api/v1/downloads", "/api/v1/webhooks", "/api/v1/anomalies",
                f"/api/v1/podcasts/{world['ids']['podcast_id']}/forecast", "/api/v1/exports/episodes.csv"):
        assert client.get(url, headers=key).status_code == 403, url


@pytest.mark.timeout(240)
def test_every_operation_conforms_to_the_document(world):
    """Positive cases (valid by the document, some on the tenant's real ids) and negative ones (invalid by it)."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", world["app"])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 26
    failures, calls, answered = [], {"n": 0}, set()
    for operation in operations:
        strategies = [(mode, operation.as_strategy(generation_mode=mode)) for mode in EXAMPLES]
        pinned = {name: world["ids"][name] for name in re.findall(r"{(\w+)}", operation.path) if name in world["ids"]}
        if pinned:
            strategies.append((GenerationMode.POSITIVE, operation.as_strategy(path_parameters=pinned)))
        for mode, strategy in strategies:
            @settings(max_examples=EXAMPLES[mode], derandomize=True, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def run(case):
                for key in ("read", "write"):
                    calls["n"] += 1
                    try:
                        response = case.call_and_validate(headers=world[key], checks=CHECKS)
                        if response.status_code < 300:
                            answered.add(operation.label)
                    except Exception as exc:  # noqa: BLE001  (collect every operation's failures, then fail once)
                        failures.append(f"{operation.label} [{mode}, {key} key]: {exc}"[:1500])
                        raise

            try:
                run()
            except Exception:  # noqa: BLE001
                pass
    print(f"schemathesis: {len(operations)} operations, {calls['n']} calls, {len(answered)} operations answered "
          f"2xx at least once, {len(failures)} failures")
    assert not failures, "\n\n".join(failures[:10])
    assert len(answered) >= len(operations) // 2, sorted(answered)  # the fuzzing reached the operations themselves
