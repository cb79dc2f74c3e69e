"""REST API /api/v1 for insights: the written summary of a scope and period, and the anomalies stored for a range.
A sibling of api.v1's blueprint, with its key authentication and problem documents; bad parameters answer 400."""
from __future__ import annotations

import logging
from datetime import date, timedelta

from flask import Blueprint, jsonify

from api.schemas.insights import Anomalies, AnomalyQuery, PeriodQuery, Summary, SummaryQuery
from api.spec import BadParameter, operation
from api.v1 import api_context, not_allowed_response, not_found_response, service_error_response
from api.state import current_db
from services.errors import ServiceError, ValidationError
from services.insights import anomaly_store, summaries

logger = logging.getLogger(__name__)

bp = Blueprint("api_v1_insights", __name__, url_prefix="/api/v1")
bp.register_error_handler(ServiceError, service_error_response)
bp.register_error_handler(404, not_found_response)
bp.register_error_handler(405, not_allowed_response)


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadParameter(f"{name}: {value!r} is not a date (YYYY-MM-DD)", {name: "a date as YYYY-MM-DD"}) from None


def _period(query: PeriodQuery, default_days: int) -> tuple[date, date]:
    """from/to, both inclusive; both or neither (then the last `default_days` complete days)."""
    first, last = _day(query.from_, "from"), _day(query.to, "to")
    if (first is None) != (last is None):
        missing = "to" if last is None else "from"
        raise BadParameter(f"{missing} is required when {'from' if missing == 'to' else 'to'} is given",
                           {missing: "required"})
    if first is None:
        _, last = summaries.this_week()
        first = last - timedelta(days=default_days - 1)
    if first > last:
        raise BadParameter("from is after to", {"from": "on or before to"})
    if (last - first).days >= summaries.MAX_DAYS:
        raise BadParameter(f"the period is longer than {summaries.MAX_DAYS} days", {"from": "period too long"})
    return first, last


def _as_bad_parameter(exc: ValidationError) -> BadParameter:
    return BadParameter(exc.message, exc.fields)


@operation(bp, "GET", "/insights/summary", summary="A written summary of the network, a show or a campaign for a "
           "period", tags="insights", query=SummaryQuery, responses={200: Summary}, invalid_status=400,
           sponsor=True)
def summary_route(query: SummaryQuery):
    scope, scope_id = query.scope, query.id
    first, last = _period(query, summaries.WEEK_DAYS)
    try:
        summaries.check_request(scope, scope_id, first, last)
    except ValidationError as exc:
        raise _as_bad_parameter(exc) from None
    summary = summaries.get_summary(current_db(), api_context(), scope, scope_id, first, last)
    return jsonify(summary.as_dict())


@operation(bp, "GET", "/anomalies", summary="Anomalies flagged in a period (default: the last 30 days)",
           tags="insights", query=AnomalyQuery, responses={200: Anomalies}, invalid_status=400)
def anomalies_route(query: AnomalyQuery):
    first, last = _period(query, 30)
    frame = anomaly_store.list_anomalies(current_db(), api_context(), first, last, query.podcast)
    return jsonify(data=[anomaly_record(row) for row in frame.to_dict("records")],
                   **{"from": first.isoformat(), "to": last.isoformat()})


def anomaly_record(row: dict) -> dict:
    record = {"day": row["day"].isoformat(), "podcast_id": int(row["podcast_id"]) or None,
              "podcast": row["podcast"], "dimension": row["dimension"], "value": row["value"],
              "expected": row["expected"], "kind": row["kind"]}
    if row["cause"]:
        record["cause"] = row["cause"]
    return record
