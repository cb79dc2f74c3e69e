"""Builders for the episodes grid and the episode page."""
from __future__ import annotations

import pandas as pd

GRID_HEADERS = {
    "episode": "Episode", "podcast": "Podcast", "released": "Released", "downloads_1d": "1 day",
    "downloads_3d": "3 days", "downloads_7d": "7 days", "downloads_30d": "30 days",
    "downloads_all_time": "All time", "listeners_all_time": "Listeners", "downloads_in_range": "In range",
    "top_app": "Top app (first 7 days)",
}
NUMBER = {"type": "numericColumn", "filter": "agNumberColumnFilter",
          "valueFormatter": {"function": "params.value == null ? '—' : d3.format(',')(params.value)"}}


DEFAULT_SORT = (("released", "desc"),)  # newest first, until the URL says otherwise
COLUMNS = tuple(GRID_HEADERS)  # the columns a URL may sort and filter on


def grid_columns(sort: tuple[tuple[str, str], ...] = DEFAULT_SORT) -> list[dict]:
    """The grid's columns, sorted as `sort` says ((column, asc|desc), first sorts first)."""
    cols = [{"field": "episode", "headerName": GRID_HEADERS["episode"], "minWidth": 220, "flex": 2,
             "cellClass": "grid-link"},
            {"field": "podcast", "headerName": GRID_HEADERS["podcast"], "minWidth": 140},
            {"field": "released", "headerName": GRID_HEADERS["released"], "filter": "agDateColumnFilter",
             "minWidth": 110}]
    cols += [{"field": f, "headerName": GRID_HEADERS[f], "minWidth": 90, **NUMBER}
             for f in ("downloads_1d", "downloads_3d", "downloads_7d", "downloads_30d", "downloads_all_time",
                       "listeners_all_time", "downloads_in_range")]
    cols.append({"field": "top_app", "headerName": GRID_HEADERS["top_app"], "minWidth": 130})
    cols.append({"field": "episode_id", "hide": True})
    order = {column: (index, direction) for index, (column, direction) in enumerate(sort or DEFAULT_SORT)}
    for col in cols:
        if col["field"] in order:
            col["sortIndex"], col["sort"] = order[col["field"]]
    return cols


def grid_rows(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready rows: dates as ISO strings, missing milestones as null."""
    out = frame.astype(object).where(frame.notna(), None)
    out["released"] = [d.isoformat() if d is not None else None for d in frame["released"]]
    out["row_id"] = frame["episode_id"].astype(str)  # AG Grid row ids are strings
    return out.to_dict("records")
