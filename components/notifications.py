"""Builders for the notifications page and the events page: notification list, preference checklists, event and
email tables."""
from __future__ import annotations

from dash import dcc, html

from components.ids import Events, Notifications
from components.tables import simple_table


def _fmt(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "—"


def notification_item(n) -> html.Div:
    title = dcc.Link(n.title, href=n.link) if n.link else n.title
    action = (html.Button("Mark read", id={"type": Notifications.MARK_ONE, "index": n.id}, className="link-button")
              if n.unread else html.Span("read", className="muted"))
    return html.Div([
        html.Div(title, className="notification-title"),
        html.Div(n.body, className="notification-body") if n.body else None,
        html.Div([_fmt(n.created_at), " · ", action], className="notification-meta"),
    ], className="notification notification-unread" if n.unread else "notification")


def notification_list(rows: list) -> html.Div | html.P:
    if not rows:
        return html.P("No notifications yet.", className="muted")
    return html.Div([notification_item(n) for n in rows], className="notification-list")


def preference_checklists(kinds: dict[str, str]) -> list:
    """Two checklists, one per channel; each value is an event kind that reaches the user on that channel (the
    user's choices are loaded into them)."""
    options = [{"label": label, "value": kind} for kind, label in kinds.items()]
    return [html.H3("In the app"), dcc.Checklist(options, [], id=Notifications.IN_APP, className="stacked-radio"),
            html.H3("By email"), dcc.Checklist(options, [], id=Notifications.EMAIL, className="stacked-radio")]


def chosen_kinds(chosen: dict[tuple[str, str], bool], channel: str) -> list[str]:
    return [kind for (kind, ch), on in chosen.items() if ch == channel and on]


def _handlers(event) -> str:
    return ", ".join(f"{h.handler}: {h.status}" + (f" ×{h.attempts}" if h.attempts > 1 else "")
                     for h in event.handlings) or "—"


def events_table(rows: list):
    body = [[str(e.id), html.Code(e.type), _fmt(e.occurred_at), e.status, str(e.attempts), _handlers(e),
             html.Span(e.error or "", className="form-error") if e.error else "",
             html.Button("Replay", id={"type": Events.REPLAY, "index": e.id}, className="link-button")
             if e.status == "parked" else ""] for e in rows]
    return simple_table(["#", "Type", "Occurred", "Status", "Rounds", "Handlers", "Error", ""], body,
                        "No events match.")


def emails_table(rows: list):
    body = [[r.to, r.subject, r.status, str(r.attempts), r.error or "", _fmt(r.sent_at)] for r in rows]
    return simple_table(["To", "Subject", "Status", "Attempts", "Error", "Sent"], body, "No emails yet.")
