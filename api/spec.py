"""The /api/v1 operation registry: one decorator per route authenticates the key, validates query and body with
pydantic models, and records the operation, so the OpenAPI document is generated from the very models that validate."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Callable

from flask import Blueprint, g, request
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from api.observability import bind_identity
from api.state import current_db
from services import api_keys
from services.errors import NotFound, PermissionDenied, ValidationError

logger = logging.getLogger(__name__)

# A path id beyond a signed 64-bit integer names no row; answer 404 instead of overflowing the database driver.
MAX_ID = 2**63 - 1


class BadParameter(ValidationError):
    """A query parameter that cannot be read, on operations that answer 400 for it."""

    status = 400


class BadBody(ValidationError):
    """A request body that is not JSON at all."""

    status = 400


@dataclass(frozen=True)
class Operation:
    method: str
    rule: str  # Flask's rule, e.g. /campaigns/<int:campaign_id>
    summary: str
    tags: tuple[str, ...]
    responses: dict[int, Any]  # status -> pydantic model, or None for an empty answer
    scope: str | None = "read"  # None: no key needed
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    sponsor: bool = False  # whether a sponsor-scoped key may call it
    csv: bool = False  # whether 200 may also be text/csv (format=csv)
    invalid_status: int = 422  # what a bad query parameter answers
    description: str = ""
    endpoint: str = ""
    prefix: str = ""
    extra_errors: tuple[int, ...] = field(default=())
    resource: Callable[..., Any] | None = None
    self_authenticated: bool = False  # the view authenticates (e.g. a session or a key); documented as a key
    path_schemas: dict[str, dict] = field(default_factory=dict)  # non-integer path parameters

    @property
    def path(self) -> str:
        """The OpenAPI path: /api/v1/campaigns/{campaign_id}."""
        out = self.prefix + self.rule
        for part in self.rule.split("<")[1:]:
            spec = part.split(">", 1)[0]
            out = out.replace(f"<{spec}>", "{" + spec.split(":")[-1] + "}")
        return out

    @property
    def path_params(self) -> list[str]:
        return [part.split(">", 1)[0].split(":")[-1] for part in self.rule.split("<")[1:]]


OPERATIONS: list[Operation] = []


def field_errors(exc: PydanticError) -> dict[str, str]:
    """pydantic's errors as {field: message}, the shape every problem document of this API uses."""
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        name = ".".join(str(part) for part in error["loc"]) or "body"
        errors.setdefault(name, error["msg"])
    return errors


def _first_values(args) -> dict[str, str]:
    return {key: args.get(key) for key in args.keys()}


def parse_query(model: type[BaseModel], status: int = 422) -> BaseModel:
    try:
        return model.model_validate(_first_values(request.args))
    except PydanticError as exc:
        errors = field_errors(exc)
        error_class = BadParameter if status == 400 else ValidationError
        raise error_class("bad query parameter(s): " + "; ".join(f"{k}: {v}" for k, v in errors.items()),
                          errors) from None


def parse_body(model: type[BaseModel]) -> tuple[BaseModel, dict]:
    raw = request.get_json(silent=True)
    if raw is None:
        raise BadBody("the request body is not JSON (Content-Type: application/json)", {"body": "not JSON"})
    if not isinstance(raw, dict):
        raise ValidationError("the request body must be a JSON object", {"body": "a JSON object"})
    try:
        return model.model_validate(raw), raw
    except PydanticError as exc:
        errors = field_errors(exc)
        raise ValidationError("bad request body: " + "; ".join(f"{k}: {v}" for k, v in errors.items()),
                              errors) from None


def authenticate(scope: str, sponsor_allowed: bool) -> None:
    """Authenticate `Authorization: Bearer <key>`; the context lands on g.api_context, the key on g.api_key."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    ctx, key = api_keys.authenticate_api_key(current_db(), token)
    if scope not in ctx.scopes:
        raise PermissionDenied(f"this key lacks the {scope!r} scope")
    if ctx.is_sponsor and not sponsor_allowed:
        raise PermissionDenied("a sponsor key reaches only its sponsor's campaigns, delivery and attribution")
    g.api_context, g.api_key = ctx, key
    bind_identity(ctx.tenant_id, None)


def operation(bp: Blueprint, method: str, rule: str, *, summary: str, tags: tuple[str, ...] | str,
              responses: dict[int, Any], scope: str | None = "read", query: type[BaseModel] | None = None,
              body: type[BaseModel] | None = None, sponsor: bool = False, csv: bool = False,
              invalid_status: int = 422, extra_errors: tuple[int, ...] = (),
              resource: Callable[..., Any] | None = None, self_authenticated: bool = False,
              path_schemas: dict[str, dict] | None = None) -> Callable:
    """Register `view` as `method rule` on `bp` and in the document. The view is called with the path's values,
    plus `query=` (the parsed query model) and `body=` (the raw JSON object, already valid for the body model).
    `resource(db, ctx, **path values)` raises NotFound for an id the key may not see; it runs before the query and
    body are checked, so another tenant's id is 404 whatever is sent with it."""
    tags = (tags,) if isinstance(tags, str) else tuple(tags)

    def decorator(view: Callable) -> Callable:
        op = Operation(method.upper(), rule, summary, tags, responses, scope, query, body, sponsor, csv, invalid_status,
                       (view.__doc__ or "").strip(), f"{bp.name}.{view.__name__}", bp.url_prefix or "", extra_errors,
                       resource, self_authenticated, path_schemas or {})
        OPERATIONS[:] = [o for o in OPERATIONS if (o.method, o.path) != (op.method, op.path)] + [op]

        @wraps(view)
        def wrapper(**kwargs):
            if any(isinstance(v, int) and v > MAX_ID for v in kwargs.values()):
                raise NotFound("no such resource")
            if scope is not None and not self_authenticated:
                authenticate(scope, sponsor)
                if resource is not None:
                    resource(current_db(), g.api_context, **kwargs)
            if query is not None:
                kwargs["query"] = parse_query(query, invalid_status)
            if body is not None:
                kwargs["body"] = parse_body(body)[1]
            return view(**kwargs)

        bp.add_url_rule(rule, view_func=wrapper, methods=[method.upper()])
        return wrapper

    return decorator
