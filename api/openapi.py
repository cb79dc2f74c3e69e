"""The OpenAPI 3.1 document, generated from the operation registry (api.spec) and the pydantic models' JSON schemas,
served at /api/v1/openapi.json and rendered to plain HTML at /api/docs (no scripts, no external assets)."""
from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template_string
from pydantic import BaseModel

from api.schemas.common import Problem
from api.spec import OPERATIONS, Operation

logger = logging.getLogger(__name__)

bp = Blueprint("api_docs", __name__)

REF = "#/components/schemas/{model}"
ERROR_TEXT = {400: "the request cannot be read (a bad parameter or a body that is not JSON)",
              401: "no key, or an unknown or revoked one", 403: "the key lacks the scope, or is sponsor-scoped",
              404: "no such resource for this key", 409: "conflicts with the resource's state",
              422: "a field is invalid; `errors` names each one", 429: "over the rate limit; see Retry-After"}
RATE_HEADERS = {"RateLimit-Limit": "requests allowed in the window", "RateLimit-Remaining": "requests left",
                "RateLimit-Reset": "seconds until the window resets"}


class _Components:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str) -> dict:
        schema = model.model_json_schema(ref_template=REF, mode=mode)
        for name, definition in schema.pop("$defs", {}).items():
            self.schemas.setdefault(name, definition)
        self.schemas.setdefault(model.__name__, schema)
        return {"$ref": REF.format(model=model.__name__)}


def _parameters(op: Operation, components: _Components) -> list[dict]:
    params = [{"name": name, "in": "path", "required": True,
               "schema": op.path_schemas.get(name) or {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}
              for name in op.path_params]
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template=REF, mode="validation")
        for name, definition in schema.pop("$defs", {}).items():
            components.schemas.setdefault(name, definition)
        required = set(schema.get("required", ()))
        for name, prop in schema.get("properties", {}).items():
            prop = dict(prop)
            description = prop.pop("description", None)
            prop.pop("title", None)
            param = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if description:
                param["description"] = description
            params.append(param)
    return params


def _error_statuses(op: Operation) -> list[int]:
    statuses = {404, 429, *op.extra_errors}
    if op.scope is not None:
        statuses |= {401, 403}
    if op.query is not None or op.body is not None:
        statuses |= {400, 422}  # the model's checks, then the service's (e.g. `from` after `to`)
    return sorted(statuses)


def _operation(op: Operation, components: _Components) -> dict:
    problem_ref = components.ref(Problem, "serialization")
    responses: dict[str, Any] = {}
    for status, model in op.responses.items():
        if model is None:
            responses[str(status)] = ({"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}
                                      if op.csv else {"description": "done; no content"})
            continue
        content = {"application/json": {"schema": components.ref(model, "serialization")}}
        if op.csv:
            content["text/csv"] = {"schema": {"type": "string"}}
        responses[str(status)] = {"description": "OK" if status == 200 else "created", "content": content}
    for status in _error_statuses(op):
        responses[str(status)] = {"description": ERROR_TEXT.get(status, "error"),
                                  "content": {"application/problem+json": {"schema": problem_ref}}}
    responses["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer"},
                                                   "description": "seconds to wait"}}
    doc: dict[str, Any] = {"operationId": op.endpoint.replace(".", "_"), "summary": op.summary, "tags": list(op.tags),
                           "parameters": _parameters(op, components), "responses": responses}
    if op.description:
        doc["description"] = op.description
    if op.body is not None:
        doc["requestBody"] = {"required": True,
                              "content": {"application/json": {"schema": components.ref(op.body, "validation")}}}
    if op.scope is not None:
        doc["security"] = [{"apiKey": []}]
        doc["x-scope"] = op.scope
        doc["x-sponsor-keys"] = op.sponsor
        doc["description"] = (doc.get("description", "") + f"\n\nNeeds a key with the `{op.scope}` scope"
                              + ("; a sponsor-scoped key may call it and sees only its sponsor's rows."
                                 if op.sponsor else "; tenant keys only.")).strip()
    else:
        doc["security"] = []
    return doc


def build_document(operations: list[Operation] | None = None, server_url: str = "") -> dict:
    """The whole document, from the registry (every registered operation unless given)."""
    components = _Components()
    paths: dict[str, dict] = {}
    for op in sorted(operations if operations is not None else OPERATIONS, key=lambda o: (o.path, o.method)):
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, components)
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Podcast Analytics API", "version": "1.0.0",
                 "description": "Downloads, campaigns, delivery, attribution, insights and webhooks of one tenant "
                                "(or, with a sponsor-scoped key, of one sponsor). Authenticate with "
                                "`Authorization: Bearer pk_...`. Errors are application/problem+json (RFC 9457). "
                                "Lists page by id: pass the answer's `next` as `cursor`. Every answer carries "
                                "RateLimit-* headers."},
        "paths": paths,
        "components": {"schemas": dict(sorted(components.schemas.items())),
                       "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                                      "description": "an API key made on the API keys page"}}},
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


def _document() -> dict:
    cached = current_app.extensions.get("openapi_document")
    if cached is None:
        cached = current_app.extensions["openapi_document"] = build_document()
    return cached


@bp.get("/api/v1/openapi.json")
def openapi_json():
    return jsonify(_document())


def _example(schema: dict, components: dict) -> Any:
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    examples = schema.get("examples")
    return examples[0] if examples else None


@bp.get("/api/docs")
def docs_page():
    document = _document()
    schemas = document["components"]["schemas"]
    operations = []
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            responses = []
            for status, answer in op["responses"].items():
                content = answer.get("content", {})
                schema = next(iter(content.values()), {}).get("schema", {}) if content else {}
                name = schema.get("$ref", "").rsplit("/", 1)[-1]
                example = _example(schema, schemas) if schema else None
                responses.append({"status": status, "description": answer["description"], "types": list(content),
                                  "schema": name, "example": json.dumps(example, indent=2) if example else ""})
            body_name = body["$ref"].rsplit("/", 1)[-1] if body else ""
            body_example = _example(body, schemas) if body else None
            operations.append({"id": op["operationId"], "method": method.upper(), "path": path, "op": op,
                               "body": body_name, "body_example": json.dumps(body_example, indent=2)
                               if body_example else "", "responses": responses})
    return render_template_string(DOCS_PAGE, info=document["info"], operations=operations,
                                  schemas={k: json.dumps(v, indent=2) for k, v in schemas.items()})


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ info.title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#1d2330}
code,pre{font:13px ui-monospace,monospace;background:#f3f4f7;border-radius:4px}
pre{padding:.6em;overflow:auto} .op{border:1px solid #d8dbe2;border-radius:6px;margin:1em 0;padding:.6em 1em}
.m{display:inline-block;min-width:4.5em;font-weight:700} .GET{color:#1565c0} .POST{color:#2e7d32}
.PATCH{color:#ef6c00} .DELETE{color:#c62828} table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #e4e6eb;padding:.25em .5em;text-align:left;vertical-align:top}
</style></head><body>
<h1>{{ info.title }} <small>{{ info.version }}</small></h1>
<p>{{ info.description }}</p>
<p>The machine-readable document: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1).</p>
<h2>Operations</h2>
<ul>{% for o in operations %}<li><a href="#{{ o.id }}"><span class="m {{ o.method }}">{{ o.method }}</span>
<code>{{ o.path }}</code></a> {{ o.op.summary }}</li>{% endfor %}</ul>
{% for o in operations %}
<section class="op" id="{{ o.id }}"><h3><span class="m {{ o.method }}">{{ o.method }}</span>
<code>{{ o.path }}</code></h3><p>{{ o.op.summary }}</p>
{% if o.op.description %}<p>{{ o.op.description }}</p>{% endif %}
{% if o.op.parameters %}<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>schema</th>
<th>description</th></tr>{% for p in o.op.parameters %}<tr><td><code>{{ p.name }}</code></td><td>{{ p.in }}</td>
<td>{{ "yes" if p.required else "no" }}</td><td><code>{{ p.schema | tojson }}</code></td>
<td>{{ p.description or "" }}</td></tr>{% endfor %}</table>{% endif %}
{% if o.body %}<h4>Body</h4><p><a href="#schema-{{ o.body }}">{{ o.body }}</a></p>
{% if o.body_example %}<pre>{{ o.body_example }}</pre>{% endif %}{% endif %}
<h4>Responses</h4><table><tr><th>status</th><th>meaning</th><th>content</th></tr>
{% for r in o.responses %}<tr><td>{{ r.status }}</td><td>{{ r.description }}</td><td>{{ r.types | join(", ") }}
{% if r.schema %}: <a href="#schema-{{ r.schema }}">{{ r.schema }}</a>{% endif %}
{% if r.example %}<pre>{{ r.example }}</pre>{% endif %}</td></tr>{% endfor %}</table>
</section>{% endfor %}
<h2>Schemas</h2>
{% for name, text in schemas.items() %}<h3 id="schema-{{ name }}">{{ name }}</h3><pre>{{ text }}</pre>{% endfor %}
</body></html>"""
