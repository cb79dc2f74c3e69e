"""Calls the sponsor and campaign pages' callbacks over HTTP, as the browser does (see tests/dash_client.py)."""
from __future__ import annotations

import json

from components.campaigns import CAMPAIGN_FIELDS, PLACEMENT_FIELDS, SPONSOR_FIELDS
from components.forms import value_prop
from tests.dash_client import call_callback

SPONSOR_NAMES = [name for name, _, _ in SPONSOR_FIELDS]


def _changed(component_id, prop="n_clicks"):
    if isinstance(component_id, dict):
        component_id = json.dumps(component_id, sort_keys=True, separators=(",", ":"))
    return [f"{component_id}.{prop}"]


def nav(client):
    return call_callback(client, [("shell-tenant", "children"), ("shell-user", "children"), ("shell-nav", "children")],
                         [("shell-url", "pathname", "/campaigns"), ("shell-url", "search", "")],
                         changed=["shell-url.pathname"])


def sponsors_view(client, action=None, values=None, editing=None, row_id=None):
    """action: None (page load), 'save', 'cancel', 'edit' or 'archive' (the latter two on row_id)."""
    values = values or {}
    outputs = [("sponsors-table", "children"), ("sponsors-message", "children"), ("sponsors-editing", "data"),
               ("sponsors-form-box-title", "children")]
    outputs += [("sponsors-field-" + n, "value") for n in SPONSOR_NAMES]
    outputs += [("sponsors-error-" + n, "children") for n in SPONSOR_NAMES]
    outputs += [("sponsors-invite-sponsor", "options"), ("sponsors-form-box", "style"),
                ("sponsors-invite-box", "style")]
    edits = [({"type": "sponsors-edit", "index": row_id}, "n_clicks", 1)] if action == "edit" else []
    archives = [({"type": "sponsors-archive", "index": row_id}, "n_clicks", 1)] if action == "archive" else []
    inputs = [("sponsors-url", "pathname", "/sponsors"), ("sponsors-save", "n_clicks", 1 if action == "save" else None),
              ("sponsors-cancel", "n_clicks", 1 if action == "cancel" else None), edits, archives]
    state = [("sponsors-editing", "data", editing)] + [("sponsors-field-" + n, "value", values.get(n))
                                                       for n in SPONSOR_NAMES]
    changed = {None: ["sponsors-url.pathname"], "save": _changed("sponsors-save"),
               "cancel": _changed("sponsors-cancel"),
               "edit": _changed({"type": "sponsors-edit", "index": row_id}),
               "archive": _changed({"type": "sponsors-archive", "index": row_id})}[action]
    return call_callback(client, outputs, inputs, state, changed)


def invite(client, sponsor_id, email):
    return call_callback(client, [("sponsors-invite-result", "children"), ("sponsors-invite-error", "children"),
                                  ("sponsors-invite-error-sponsor", "children")],
                         [("sponsors-invite", "n_clicks", 1)],
                         [("sponsors-invite-sponsor", "value", sponsor_id), ("sponsors-invite-email", "value", email)],
                         _changed("sponsors-invite"))


def campaigns_view(client, create_values=None):
    outputs = [("campaigns-table", "children"), ("campaigns-form-box", "style"), ("campaigns-message", "children"),
               ("campaigns-field-sponsor_id", "options")]
    outputs += [("campaigns-error-" + n, "children") for n in CAMPAIGN_FIELDS]
    create = create_values is not None
    inputs = [("campaigns-url", "pathname", "/campaigns"), ("campaigns-create", "n_clicks", 1 if create else None)]
    state = [("campaigns-field-" + n, value_prop(n), (create_values or {}).get(n)) for n in CAMPAIGN_FIELDS]
    return call_callback(client, outputs, inputs, state,
                         _changed("campaigns-create") if create else ["campaigns-url.pathname"])


CAMPAIGN_OUTPUTS = [("campaign-header", "children"), ("campaign-status-buttons", "children"),
                    ("campaign-message", "children"), ("campaign-kpis", "children"), ("campaign-pacing", "children"),
                    ("campaign-delivery-chart", "figure"), ("campaign-by-show", "children"),
                    ("campaign-by-episode", "children"), ("campaign-reach", "children"),
                    ("campaign-history", "children"), ("campaign-placements", "children"),
                    ("campaign-placement-box", "style"), ("campaign-edit-box", "style")]
CAMPAIGN_OUTPUTS += [("campaign-placement-error-" + n, "children") for n in PLACEMENT_FIELDS]
CAMPAIGN_OUTPUTS += [("campaign-edit-error-" + n, "children") for n in CAMPAIGN_FIELDS]


def campaign_view(client, campaign_id, move=None, placement=None, edit=None, statuses=(), remove=None,
                  period=("all", None, None)):
    """Load the campaign page, or click 'Move to <move>', 'Add placement' (placement values), 'Save' (edit values)
    or a placement's 'Remove' (its id); `period` is the report's (preset, custom start, custom end)."""
    moves = [({"type": "campaign-move", "status": s}, "n_clicks", 1 if s == move else None)
             for s in set(statuses) | ({move} if move else set())]
    removes = [({"type": "campaign-remove-placement", "index": remove}, "n_clicks", 1)] if remove else []
    inputs = [("campaign-id", "data", campaign_id), moves, removes,
              ("campaign-add-placement", "n_clicks", 1 if placement is not None else None),
              ("campaign-save", "n_clicks", 1 if edit is not None else None),
              ("campaign-range", "value", period[0]), ("campaign-dates", "start_date", period[1]),
              ("campaign-dates", "end_date", period[2])]
    state = [("campaign-placement-field-" + n, value_prop(n), (placement or {}).get(n)) for n in PLACEMENT_FIELDS]
    state += [("campaign-edit-field-" + n, value_prop(n), (edit or {}).get(n)) for n in CAMPAIGN_FIELDS]
    if move:
        changed = _changed({"type": "campaign-move", "status": move})
    elif remove:
        changed = _changed({"type": "campaign-remove-placement", "index": remove})
    elif placement is not None:
        changed = _changed("campaign-add-placement")
    elif edit is not None:
        changed = _changed("campaign-save")
    else:
        changed = ["campaign-id.data"]
    return call_callback(client, CAMPAIGN_OUTPUTS, inputs, state, changed)


def load_forms(client, campaign_id):
    outputs = [("campaign-placement-field-podcast_id", "options"), ("campaign-edit-field-sponsor_id", "options")]
    outputs += [("campaign-edit-field-" + n, value_prop(n)) for n in CAMPAIGN_FIELDS]
    return call_callback(client, outputs, [("campaign-id", "data", campaign_id)], changed=["campaign-id.data"])


def download(client, campaign_id, view="day"):
    return call_callback(client, [("campaign-download", "data")],
                         [[({"type": "campaign-csv", "view": view}, "n_clicks", 1)]],
                         [("campaign-id", "data", campaign_id)], _changed({"type": "campaign-csv", "view": view}))


# The campaign page's period inputs (whole flight), after the Attribution section's own inputs.
WHOLE_FLIGHT = [("campaign-range", "value", "all"), ("campaign-dates", "start_date", None),
                ("campaign-dates", "end_date", None)]


def text_of(out) -> str:
    return json.dumps(out)
