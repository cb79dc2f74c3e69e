"""REST API /api/v1: bearer API keys, problem documents (RFC 9457), the key, catalog and downloads operations."""
from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from flask import Blueprint, Response, g, jsonify, request

from services import downloads_report
from services.catalog import podcasts
from services.catalog.prefix import prefix_url
from services.errors import ServiceError
from services.tenancy import TenantContext
from api.schemas.catalog import DownloadsQuery, EpisodeList, EpisodeQuery, Me, PodcastList, Downloads
from api.schemas.common import PageQuery, paginate
from api.problems import problem, service_problem  # noqa: F401  (the sibling blueprints import problem from here)
from api.spec import authenticate, operation
from api.state import app_state, current_db

logger = logging.getLogger(__name__)

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")


def require_key(scope: str = "read") -> Callable:
    """Authenticate `Authorization: Bearer <key>` and require `scope` (tenant keys only) for a route outside the
    document; documented routes use api.spec.operation, which does the same."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            authenticate(scope, sponsor_allowed=False)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def api_context() -> TenantContext:
    return g.api_context


@bp.errorhandler(ServiceError)
def service_error_response(exc: ServiceError):
    return service_problem(exc)


@bp.errorhandler(404)
def not_found_response(_exc):
    return problem(404, "NotFound", "no such resource")


@bp.errorhandler(405)
def not_allowed_response(_exc):
    return problem(405, "MethodNotAllowed", f"{request.method} is not allowed here")


@operation(bp, "GET", "/me", summary="The key itself: its tenant, scopes and sponsor", tags="keys",
           responses={200: Me}, sponsor=True)
def me():
    ctx, key = api_context(), g.api_key
    return jsonify(tenant={"id": ctx.tenant_id, "slug": ctx.tenant_slug, "name": ctx.tenant_name},
                   scopes=list(ctx.scopes),
                   key={"id": key.id, "name": key.name, "prefix": key.prefix, "sponsor_id": key.sponsor_id})


def jsonable(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


@operation(bp, "GET", "/podcasts", summary="The tenant's shows", tags="catalog", query=PageQuery,
           responses={200: PodcastList})
def list_podcasts_route(query: PageQuery):
    base = app_state().settings.public_base_url
    rows = podcasts.list_podcasts(current_db(), api_context())
    return jsonify(paginate([{"id": p.id, "title": p.title, "feed_url": p.feed_url, "episodes": p.episodes,
                              "prefix_url": prefix_url(base, p.prefix_key)} for p in rows], query))


@operation(bp, "GET", "/episodes", summary="Episodes of the tenant, or of one show", tags="catalog",
           query=EpisodeQuery, responses={200: EpisodeList})
def list_episodes_route(query: EpisodeQuery):
    rows = podcasts.list_episodes(current_db(), api_context(), query.podcast)
    return jsonify(paginate([{key: jsonable(value) for key, value in row.items()} for row in rows], query))


@operation(bp, "GET", "/downloads", summary="Counted downloads and listeners grouped by day, hour, episode, app, "
           "device or country", tags="downloads", query=DownloadsQuery, responses={200: Downloads}, csv=True)
def downloads_route(query: DownloadsQuery):
    """Read from the rollups; `from`/`to` are inclusive UTC days."""
    first, last = downloads_report.parse_range(query.from_, query.to)
    frame = downloads_report.downloads_by(current_db(), api_context(), query.group_by, first, last, query.podcast,
                                          query.episode)
    if query.format == "csv":
        return Response(frame.to_csv(index=False), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename=downloads_{first}_{last}.csv"})
    records = [{key: jsonable(value) for key, value in row.items()} for row in frame.to_dict("records")]
    return jsonify(data=records, **{"from": first.isoformat(), "to": last.isoformat()})
