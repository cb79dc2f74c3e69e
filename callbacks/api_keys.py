"""API keys callbacks: one callback creates, revokes and lists, so the table is always current."""
from __future__ import annotations

from dash import ALL, Dash, Input, Output, State, ctx, html

from api.auth import current_context
from api.state import current_db
from components import kpi
from components.ids import ApiKeys
from components.tables import simple_table
from services import api_keys
from services.errors import ServiceError


def _fmt(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "—"


def _table(keys: list[api_keys.ApiKeyInfo]):
    rows = [[k.name or "(unnamed)", html.Code(k.prefix + "…"), ", ".join(k.scopes), _fmt(k.created_at),
             _fmt(k.last_used_at),
             "revoked " + _fmt(k.revoked_at) if k.revoked_at else
             html.Button("Revoke", id={"type": ApiKeys.REVOKE, "index": k.id}, className="link-button")]
            for k in keys]
    return simple_table(["Name", "Key", "Scopes", "Created", "Last used", ""], rows, "No API keys yet.")


def manage_api_keys(_create_clicks, _revoke_clicks, name, scopes):
    """Create or revoke (whichever was clicked), then list; returns (table, new key panel, message)."""
    db, new_key, message = current_db(), None, None
    try:
        tenant_ctx = current_context()
        trigger = ctx.triggered_id if ctx.triggered else None
        if trigger == ApiKeys.CREATE:
            info, plaintext = api_keys.create_api_key(db, tenant_ctx, name or "", tuple(scopes or ()))
            new_key = html.Div([html.Strong(f"New key “{info.name or 'unnamed'}” — copy it now, it is not shown again:"),
                                html.Pre(plaintext, className="secret")], className="message message-info")
        elif isinstance(trigger, dict) and trigger.get("type") == ApiKeys.REVOKE and any(_revoke_clicks or []):
            api_keys.revoke_api_key(db, tenant_ctx, int(trigger["index"]))
            message = kpi.message("Key revoked.", "info")
        keys = api_keys.list_api_keys(db, tenant_ctx)
    except ServiceError as exc:
        return None, new_key, kpi.message(exc.message)
    return _table(keys), new_key, message


def register(app: Dash) -> None:
    app.callback(Output(ApiKeys.TABLE, "children"), Output(ApiKeys.NEW_KEY, "children"),
                 Output(ApiKeys.MESSAGE, "children"),
                 Input(ApiKeys.CREATE, "n_clicks"), Input({"type": ApiKeys.REVOKE, "index": ALL}, "n_clicks"),
                 State(ApiKeys.NAME, "value"), State(ApiKeys.SCOPES, "value"))(manage_api_keys)
