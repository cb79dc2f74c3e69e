"""REST API /api/v1: bearer API keys, JSON errors in RFC 7807 style."""
from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from flask import Blueprint, Response, g, jsonify, request

from services import api_keys, downloads_report
from services.catalog import podcasts
from services.catalog.prefix import prefix_url
from services.errors import AuthenticationFailed, PermissionDenied, ServiceError, ValidationError
from services.tenancy import TenantContext
from api.observability import bind_identity
from api.state import app_state, current_db

logger = logging.getLogger(__name__)

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")


def problem(status: int, title: str, detail: str, **extra):
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response = jsonify(body)
    response.status_code = status
    response.content_type = "application/problem+json"
    return response


def require_key(scope: str = "read") -> Callable:
    """Authenticate `Authorization: Bearer <key>` and require `scope`; the context lands on g.api_context."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            token = header[7:].strip() if header.lower().startswith("bearer ") else ""
            ctx, key = api_keys.authenticate_api_key(current_db(), token)
            if scope not in ctx.scopes:
                raise PermissionDenied(f"this key lacks the {scope!r} scope")
            g.api_context, g.api_key = ctx, key
            bind_identity(ctx.tenant_id, None)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def api_context() -> TenantContext:
    return g.api_context


@bp.errorhandler(ServiceError)
def service_error_response(exc: ServiceError):
    extra = {"errors": exc.fields} if isinstance(exc, ValidationError) else {}
    response = problem(exc.status, type(exc).__name__, exc.message, **extra)
    if isinstance(exc, AuthenticationFailed):
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@bp.errorhandler(404)
def not_found_response(_exc):
    return problem(404, "NotFound", "no such resource")


@bp.errorhandler(405)
def not_allowed_response(_exc):
    return problem(405, "MethodNotAllowed", f"{request.method} is not allowed here")


@bp.get("/me")
@require_key("read")
def me():
    ctx, key = api_context(), g.api_key
    return jsonify(tenant={"id": ctx.tenant_id, "slug": ctx.tenant_slug, "name": ctx.tenant_name},
                   scopes=list(ctx.scopes), key={"id": key.id, "name": key.name, "prefix": key.prefix})


def _int_arg(name: str) -> int | None:
    value = request.args.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationError(f"{name}: {value!r} is not an id", {name: "not an integer"}) from None


def jsonable(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


@bp.get("/podcasts")
@require_key("read")
def list_podcasts_route():
    base = app_state().settings.public_base_url
    rows = podcasts.list_podcasts(current_db(), api_context())
    return jsonify(data=[{"id": p.id, "title": p.title, "feed_url": p.feed_url, "episodes": p.episodes,
                          "prefix_url": prefix_url(base, p.prefix_key)} for p in rows])


@bp.get("/episodes")
@require_key("read")
def list_episodes_route():
    rows = podcasts.list_episodes(current_db(), api_context(), _int_arg("podcast"))
    return jsonify(data=[{key: jsonable(value) for key, value in row.items()} for row in rows])


@bp.get("/downloads")
@require_key("read")
def downloads_route():
    first, last = downloads_report.parse_range(request.args.get("from"), request.args.get("to"))
    frame = downloads_report.downloads_by(current_db(), api_context(), request.args.get("group_by", "day"), first,
                                          last, _int_arg("podcast"), _int_arg("episode"))
    fmt = request.args.get("format", "json")
    if fmt == "csv":
        return Response(frame.to_csv(index=False), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename=downloads_{first}_{last}.csv"})
    if fmt != "json":
        raise ValidationError("format must be json or csv", {"format": "unknown format"})
    records = [{key: jsonable(value) for key, value in row.items()} for row in frame.to_dict("records")]
    return jsonify(data=records, **{"from": first.isoformat(), "to": last.isoformat()})
