"""Calls a Dash callback over HTTP the way the browser's renderer does, for tests."""
from __future__ import annotations

import json


def _id_str(component_id) -> str:
    return json.dumps(component_id, sort_keys=True, separators=(",", ":")) if isinstance(component_id, dict) else component_id


def call_callback(client, outputs: list[tuple], inputs: list, state: list | None = None, changed: list[str] | None = None):
    """outputs: [(id, prop)]; inputs/state: [(id, prop, value)] or a list of those for an ALL pattern.

    Returns (status code, {output id: {prop: value}})."""

    def spec(item):
        if isinstance(item, list):
            return [spec(i) for i in item]
        component_id, prop, value = item
        return {"id": component_id, "property": prop, "value": value}

    output_str = "...".join(f"{_id_str(i)}.{p}" for i, p in outputs)
    body = {
        "output": f"..{output_str}.." if len(outputs) > 1 else output_str,
        "outputs": [{"id": i, "property": p} for i, p in outputs] if len(outputs) > 1 else
        {"id": outputs[0][0], "property": outputs[0][1]},
        "inputs": [spec(i) for i in inputs],
        "state": [spec(s) for s in state or []],
        "changedPropIds": changed or [],
    }
    response = client.post("/_dash-update-component", json=body)
    if response.status_code != 200:
        return response.status_code, None
    return 200, {_id_str(k): v for k, v in response.get_json()["response"].items()}


OVERVIEW_OUTPUTS = [("overview-kpis", "children"), ("overview-downloads-chart", "figure"),
                    ("overview-message", "children")]


def call_overview(client, days: int):
    """The overview callback for a period of `days`, as the period picker triggers it."""
    return call_callback(client, OVERVIEW_OUTPUTS, [("overview-period", "value", days)], changed=["overview-period.value"])
