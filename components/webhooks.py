"""Builders for the webhooks page: the endpoints table with its actions, the delivery log, the one-time secret."""
from __future__ import annotations

from datetime import datetime

from dash import html

from components.ids import Webhooks
from components.tables import simple_table


def _fmt(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def _button(label: str, kind: str, index: int) -> html.Button:
    return html.Button(label, id={"type": kind, "index": index}, className="link-button")


def _state(endpoint) -> str:
    if endpoint.enabled:
        return "enabled" + (f", failing since {_fmt(endpoint.failing_since)}" if endpoint.failing_since else "")
    return f"disabled ({endpoint.disabled_reason})" if endpoint.disabled_reason else "disabled"


def endpoints_table(endpoints: list) -> html.Table | html.P:
    rows = [[html.Code(e.url), e.description, ", ".join(e.event_types) or "all events", _state(e),
             html.Span([_button("Disable", Webhooks.DISABLE, e.id) if e.enabled else
                        _button("Enable", Webhooks.ENABLE, e.id),
                        _button("Rotate secret", Webhooks.ROTATE, e.id),
                        _button("Send test event", Webhooks.TEST, e.id),
                        _button("Deliveries", Webhooks.SHOW, e.id), _button("Delete", Webhooks.DELETE, e.id)],
                       className="row-actions")]
            for e in endpoints]
    return simple_table(["URL", "Description", "Events", "State", ""], rows, "No webhook endpoints yet.")


def deliveries_table(deliveries: list) -> html.Table | html.P:
    rows = [[_fmt(d.created_at), d.event_type, html.Code(d.message_id), d.status, str(d.attempts),
             str(d.response_status or "—"), f"{d.latency_ms} ms" if d.latency_ms is not None else "—",
             html.Code((d.response_excerpt or d.error or "")[:200]), _fmt(d.next_attempt_at) if d.status == "pending"
             else "—", _button("Replay", Webhooks.REPLAY, d.id)]
            for d in deliveries]
    return simple_table(["Created", "Event", "webhook-id", "Status", "Attempts", "Reply", "Latency", "Response",
                         "Next attempt", ""], rows, "No deliveries yet.")


def secret_panel(heading: str, secret: str) -> html.Div:
    return html.Div([html.Strong(f"{heading} — copy it now, it is not shown again:"),
                     html.Pre(secret, className="secret")], className="message message-info")
