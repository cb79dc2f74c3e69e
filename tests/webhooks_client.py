"""Calls the webhooks page's callbacks over HTTP as the browser does, for the unit and integration tiers."""
from __future__ import annotations

import json

from tests.dash_client import call_callback

MANAGE_OUT = [("webhooks-table", "children"), ("webhooks-secret", "children"), ("webhooks-message", "children")]
LOG_OUT = [("webhooks-log-title", "children"), ("webhooks-log", "children"), ("webhooks-log-message", "children"),
           ("webhooks-selected", "data")]
ACTIONS = ("webhooks-enable", "webhooks-disable", "webhooks-rotate", "webhooks-test", "webhooks-delete")


def manage(client, click=None, url=None, events=(), index=None):
    """The endpoints callback, as a click on `click` (create, or an action kind with `index`) fires it."""
    create = 1 if click == "create" else None
    patterns = [[({"type": kind, "index": index}, "n_clicks", 1)] if click == kind else [] for kind in ACTIONS]
    changed = ["webhooks-create.n_clicks"] if click == "create" else \
        [json.dumps({"index": index, "type": click}, separators=(",", ":")) + ".n_clicks"] if click else []
    return call_callback(client, MANAGE_OUT, [("webhooks-create", "n_clicks", create), *patterns],
                         [("webhooks-url", "value", url), ("webhooks-description", "value", "page"),
                          ("webhooks-events", "value", list(events))], changed)


def show_log(client, endpoint_id, replay=None):
    show = [] if replay else [({"type": "webhooks-show", "index": endpoint_id}, "n_clicks", 1)]
    replays = [({"type": "webhooks-replay", "index": replay}, "n_clicks", 1)] if replay else []
    kind, index = ("webhooks-replay", replay) if replay else ("webhooks-show", endpoint_id)
    changed = [json.dumps({"index": index, "type": kind}, separators=(",", ":")) + ".n_clicks"]
    return call_callback(client, LOG_OUT, [show, replays, ("webhooks-refresh", "n_clicks", None)],
                         [("webhooks-selected", "data", endpoint_id)], changed)
