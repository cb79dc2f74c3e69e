"""The generated OpenAPI document and docs page, problem documents everywhere under /api, and cursor pages."""
import re

import pytest

from api.openapi import build_document
from api.spec import OPERATIONS
from services.catalog import podcasts
from tests.api_world import tenant_key

PROBLEM = "application/problem+json"


@pytest.fixture
def read_key(db):
    return tenant_key(db, "demo", ("read",))


def test_every_api_route_is_a_documented_operation(app):
    routes = {(method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(op.method, op.path) for op in OPERATIONS}
    assert routes and routes <= documented, routes - documented
    paths = app.test_client().get("/api/v1/openapi.json").get_json()["paths"]
    assert {(m.upper(), p) for p, ops in paths.items() for m in ops} == documented


def test_document_is_built_from_the_models(app):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    campaigns = document["paths"]["/api/v1/campaigns"]
    assert campaigns["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CampaignIn"}
    schema = document["components"]["schemas"]["CampaignIn"]
    assert {"sponsor_id", "name", "start_date", "end_date"} <= set(schema["required"])
    assert schema["additionalProperties"] is False
    limit = next(p for p in campaigns["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 500 and limit["schema"]["default"] == 100
    assert set(campaigns["get"]["responses"]) >= {"200", "401", "403", "429"}
    assert campaigns["get"]["responses"]["401"]["content"][PROBLEM]["schema"]["$ref"].endswith("/Problem")
    downloads = document["paths"]["/api/v1/downloads"]["get"]
    assert set(downloads["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert "from" in {p["name"] for p in downloads["parameters"]}
    # the registry, not a file, is the source: a build of the same registry is the served document
    assert build_document() == document


def test_docs_page_renders_every_operation_without_external_assets(app):
    response = app.test_client().get("/api/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    for op in OPERATIONS:
        assert op.path in html and op.summary.split()[0] in html
    assert "CampaignIn" in html and "Spring sale" in html  # schemas and their examples
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?(https?:)?//", html)


def test_errors_under_api_are_problem_documents(client, read_key):
    for url, status in (("/api/v1/nothing-here", 404), ("/api/nothing", 404), ("/api/v1/campaigns/999999", 404)):
        response = client.get(url, headers=read_key)
        assert (response.status_code, response.content_type) == (status, PROBLEM), url
        assert response.get_json()["status"] == status
    response = client.put("/api/v1/campaigns", headers=read_key)
    assert (response.status_code, response.content_type) == (405, PROBLEM) and "GET" in response.headers["Allow"]
    response = client.get("/api/v1/podcasts")
    assert (response.status_code, response.content_type) == (401, PROBLEM)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    response = client.post("/api/v1/sponsors", json={"name": "X"}, headers=read_key)
    assert (response.status_code, response.content_type) == (403, PROBLEM)
    response = client.get("/api/v1/podcasts?limit=9999", headers=read_key)
    assert (response.status_code, response.content_type) == (422, PROBLEM)
    assert "limit" in response.get_json()["errors"]


def test_an_unexpected_exception_is_a_500_problem_without_a_trace(app, read_key, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("connection string postgresql://secret@db")

    monkeypatch.setattr(podcasts, "list_podcasts", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/api/v1/podcasts", headers=read_key)
    assert (response.status_code, response.content_type) == (500, PROBLEM)
    text = response.get_data(as_text=True)
    assert "secret" not in text and "Traceback" not in text and response.get_json()["title"] == "InternalServerError"


def test_pages_follow_the_cursor_in_id_order(client, read_key):
    everything = client.get("/api/v1/episodes?limit=500", headers=read_key).get_json()
    assert everything["next"] is None and len(everything["data"]) > 100
    assert client.get("/api/v1/episodes", headers=read_key).get_json()["next"]  # the default page is 100 rows
    seen, url = [], "/api/v1/episodes?limit=40"
    while url:
        page = client.get(url, headers=read_key).get_json()
        assert len(page["data"]) <= 40
        seen += [row["id"] for row in page["data"]]
        url = f"/api/v1/episodes?limit=40&cursor={page['next']}" if page["next"] else None
    assert seen == sorted(row["id"] for row in everything["data"])


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=ten", "cursor=not-ours", "cursor=eyJhZnRlciI6LTF9"])
def test_bad_page_parameters_are_named(client, read_key, query):
    response = client.get(f"/api/v1/sponsors?{query}", headers=read_key)
    assert response.status_code == 422 and query.split("=")[0] in response.get_json()["errors"]
