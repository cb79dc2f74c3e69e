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


RANGE_FOR_DAYS = {7: "7d", 30: "30d", 90: "90d", 365: "12m"}


def control_inputs(prefix: str, range_: str = "30d", start=None, end=None, compare: str = "previous",
                   podcast=None, granularity: str = "day", podcast_id: str | None = None) -> list[tuple]:
    """A dashboard page's shared controls as callback inputs (components/ids.py _Dashboard names them)."""
    return [(f"{prefix}-range", "value", range_), (f"{prefix}-dates", "start_date", start),
            (f"{prefix}-dates", "end_date", end), (f"{prefix}-compare", "value", compare),
            (podcast_id or f"{prefix}-podcast", "data" if podcast_id else "value", podcast),
            (f"{prefix}-granularity", "value", granularity)]


def call_dashboard(client, outputs: list[tuple], prefix: str, before: list | None = None, after: list | None = None,
                   **controls):
    """A dashboard callback whose inputs are (before +) the shared controls (+ after), as a range change fires it."""
    inputs = (before or []) + control_inputs(prefix, **controls) + (after or [])
    return call_callback(client, outputs, inputs, changed=[f"{prefix}-range.value"])


def call_overview(client, days: int):
    """The overview's downloads chart for the last `days` days, as the period picker triggers it."""
    return call_dashboard(client, [("overview-downloads-chart", "figure")], "overview", range_=RANGE_FOR_DAYS[days])


def call_csv(client, prefix: str, chart: str, extra_state: list | None = None, **controls):
    """A page's "Download CSV" callback (pattern-matching ids) for one chart; returns (status, dcc.Download data)."""
    def spec(component_id, prop, value):
        return {"id": component_id, "property": prop, "value": value}

    pattern = {"chart": ["MATCH"], "page": prefix, "type": "csv-download"}
    button = {"type": "csv-button", "page": prefix, "chart": chart}
    body = {
        "output": f"{_id_str(pattern).replace(' ', '')}.data",
        "outputs": {"id": {"type": "csv-download", "page": prefix, "chart": chart}, "property": "data"},
        "inputs": [spec(button, "n_clicks", 1)],
        "state": [spec(*s) for s in control_inputs(prefix, **controls) + (extra_state or [])],
        "changedPropIds": [f"{_id_str(button)}.n_clicks"],
    }
    response = client.post("/_dash-update-component", json=body)
    if response.status_code != 200:
        return response.status_code, None
    return 200, next(iter(response.get_json()["response"].values()))["data"]
